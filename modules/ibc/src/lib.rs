//! OpenLedger's IBC: ibc-rs core (ICS-02 clients with the ICS-07 Tendermint light client, ICS-03
//! connections, ICS-04 channels and packets) and ICS-20 fungible token transfer, over the
//! store's IBC substore (keys under `ibc/`, provable in two ICS23 layers against the app hash).
//!
//! Two registry modules: [`module::IbcModule`] (`ibc`: core messages, the `ibc.core.*` query
//! services, the host history the connection handshake checks) and [`module::TransferModule`]
//! (`transfer`: `MsgTransfer`, its genesis params and query service). `docs/IBC.md` explains the
//! proof specs a relayer must be configured with.

pub mod error;
pub mod events;
pub mod genesis;
pub mod host;
pub mod module;
pub mod msg;
pub mod query;
pub mod state_key;
pub mod transfer;

pub use error::IbcError;
pub use module::{HostHistory, IbcModule, TransferModule};
pub use msg::IbcKeeper;
pub use transfer::TransferBank;

use ibc::core::commitment_types::specs::ProofSpecs;

/// The ICS23 proof specs of this chain's proofs, substore first: both trees are Jellyfish Merkle
/// trees (SHA-256, keys and values pre-hashed). A counterparty's client of this chain must carry
/// exactly these.
pub fn proof_specs() -> ProofSpecs {
    let spec = jmt::ics23_spec();
    ProofSpecs::try_from(vec![spec.clone(), spec]).expect("two non-empty JMT specs convert")
}
