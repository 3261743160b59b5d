//! State keys owned by the app itself (not by a module).

/// Chain id, written at InitChain (`String`; the key is core's, so modules read it too).
pub use openledger_core::block::CHAIN_ID;
/// Height and time of the last finalized block (`LastBlock`-like pair, encoded as
/// `google.protobuf.Timestamp` under `app/last_block_time` and `u64` under `app/last_block_height`).
pub const LAST_BLOCK_HEIGHT: &[u8] = b"app/last_block_height";
/// Time of the last finalized block (`google.protobuf.Timestamp`).
pub const LAST_BLOCK_TIME: &[u8] = b"app/last_block_time";
