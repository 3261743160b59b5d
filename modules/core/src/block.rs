//! The block being executed, as seen by modules: height and time (from the block header, never
//! the wall clock), written by the app at the start of FinalizeBlock.

use crate::state::{StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};

/// Height of the block being executed (u64).
pub const BLOCK_HEIGHT: &[u8] = b"core/block/height";
/// Time of the block being executed, nanoseconds since the Unix epoch (u64).
pub const BLOCK_TIME_NS: &[u8] = b"core/block/time_ns";

/// Chain id, written by the app at InitChain (`String`).
pub const CHAIN_ID: &[u8] = b"app/chain_id";

/// The chain id recorded at InitChain (empty before).
pub fn chain_id(state: &dyn StateRead) -> Result<String, StateError> {
    Ok(state.get_proto::<String>(CHAIN_ID)?.unwrap_or_default())
}

/// Height and header time of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockInfo {
    /// Height.
    pub height: u64,
    /// Header time in ns since the epoch.
    pub time_ns: u64,
}

/// Records the block about to run.
pub fn set_block_info(state: &mut dyn StateWrite, info: BlockInfo) -> Result<(), StateError> {
    state.put_proto(BLOCK_HEIGHT.to_vec(), &info.height)?;
    state.put_proto(BLOCK_TIME_NS.to_vec(), &info.time_ns)
}

/// The block being executed (in CheckTx: the last committed one).
pub fn block_info(state: &dyn StateRead) -> Result<BlockInfo, StateError> {
    Ok(BlockInfo {
        height: state.get_proto::<u64>(BLOCK_HEIGHT)?.unwrap_or(0),
        time_ns: state.get_proto::<u64>(BLOCK_TIME_NS)?.unwrap_or(0),
    })
}

/// Converts a protobuf timestamp to ns since the epoch (times before 1970 clamp to 0).
pub fn timestamp_ns(ts: &tendermint_proto::google::protobuf::Timestamp) -> u64 {
    let secs = u64::try_from(ts.seconds).unwrap_or(0);
    let nanos = u64::try_from(ts.nanos).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Converts ns since the epoch to a protobuf timestamp.
pub fn ns_timestamp(ns: u64) -> tendermint_proto::google::protobuf::Timestamp {
    tendermint_proto::google::protobuf::Timestamp {
        seconds: i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
        nanos: i32::try_from(ns % 1_000_000_000).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::{EmptyState, StateDelta};

    #[test]
    fn round_trips_block_info_and_timestamps() {
        let mut s = StateDelta::new(EmptyState);
        assert_eq!(block_info(&s).unwrap(), BlockInfo::default());
        set_block_info(&mut s, BlockInfo { height: 7, time_ns: 1_500_000_000 }).unwrap();
        assert_eq!(block_info(&s).unwrap(), BlockInfo { height: 7, time_ns: 1_500_000_000 });
        let ts = ns_timestamp(1_500_000_001);
        assert_eq!((ts.seconds, ts.nanos), (1, 500_000_001));
        assert_eq!(timestamp_ns(&ts), 1_500_000_001);
    }
}
