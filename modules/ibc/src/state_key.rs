//! Every state key of the IBC modules, in one place.
//!
//! IBC core state lives at `ibc/<ICS-24 path>`: the store keeps every key under `ibc/` in its
//! IBC substore, whose root is committed under the main tree's key `ibc` (the commitment prefix),
//! so each of these keys is provable to a counterparty light client. Values are encoded as
//! ibc-go encodes them (protobuf, `Any` for client and consensus states, big-endian u64
//! sequences), because the counterparty verifies the bytes. ICS-20's own state (denom traces,
//! escrow totals, params) is not part of any proof and lives in the main tree under `transfer/`.

use ibc::core::host::types::path::Path;

/// The commitment prefix: the main-tree key holding the substore root.
pub const COMMITMENT_PREFIX: &[u8] = openledger_core::storage::SUBSTORE_ROOT_KEY;

/// `ibc/<path>`: the store key of an ICS-24 path.
pub fn ics24(path: impl Into<Path>) -> Vec<u8> {
    let path: Path = path.into();
    format!("ibc/{path}").into_bytes()
}

/// `ibc/<text>` for a path prefix (scans).
pub fn ics24_prefix(text: &str) -> Vec<u8> {
    format!("ibc/{text}").into_bytes()
}

/// `{kind}/ports/{port}/channels/{channel}`: the ICS-24 path of one channel's `kind` of state
/// (`channelEnds`, `nextSequenceSend`, `nextSequenceRecv`), from a query's unvalidated ids.
pub fn channel_path(kind: &str, port: &str, channel: &str) -> String {
    format!("{kind}/ports/{port}/channels/{channel}")
}

/// `{kind}/ports/{port}/channels/{channel}/sequences/{sequence}`: the ICS-24 path of a packet's
/// `kind` of state (`commitments`, `receipts`, `acks`); an empty `sequence` gives the prefix of
/// all of them.
pub fn packet_path(kind: &str, port: &str, channel: &str, sequence: impl std::fmt::Display) -> String {
    format!("{}/sequences/{sequence}", channel_path(kind, port, channel))
}

/// `ibc/host/consensusStates/{height:020}`: this chain's own consensus state at a height (the
/// SDK's historical info), checked by the connection handshake.
pub fn host_consensus_state(height: u64) -> Vec<u8> {
    format!("ibc/host/consensusStates/{height:020}").into_bytes()
}

/// `ibc/params` → [`crate::genesis::IbcParams`] (JSON). Absent on chains started without an
/// IBC genesis section: no host history is then recorded.
pub const IBC_PARAMS: &[u8] = b"ibc/params";

/// `transfer/params` → [`crate::genesis::TransferParams`] (JSON).
pub const TRANSFER_PARAMS: &[u8] = b"transfer/params";

/// `transfer/denomTrace/{HASH}` → `ibc.applications.transfer.v1.DenomTrace`.
pub fn denom_trace(hash: &str) -> Vec<u8> {
    format!("transfer/denomTrace/{hash}").into_bytes()
}

/// Prefix of every denom trace.
pub const DENOM_TRACE_PREFIX: &[u8] = b"transfer/denomTrace/";

/// `transfer/totalEscrow/{denom}` → amount (decimal string) held in all escrow accounts.
pub fn total_escrow(denom: &str) -> Vec<u8> {
    format!("transfer/totalEscrow/{denom}").into_bytes()
}
