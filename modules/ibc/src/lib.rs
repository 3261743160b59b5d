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

/// [`proof_specs`] as the JSON array a relayer's config takes (Hermes's `proof_specs`: ics23's
/// JSON form, camelCase fields, enums as numbers, bytes in base64).
pub fn proof_specs_json() -> serde_json::Value {
    use openledger_core::amino::base64_std;
    let spec = jmt::ics23_spec();
    let leaf = spec.leaf_spec.clone().unwrap_or_default();
    let inner = spec.inner_spec.clone().unwrap_or_default();
    let one = serde_json::json!({
        "leafSpec": {
            "hash": leaf.hash, "prehashKey": leaf.prehash_key, "prehashValue": leaf.prehash_value,
            "length": leaf.length, "prefix": base64_std(&leaf.prefix),
        },
        "innerSpec": {
            "childOrder": inner.child_order, "childSize": inner.child_size,
            "minPrefixLength": inner.min_prefix_length, "maxPrefixLength": inner.max_prefix_length,
            "emptyChild": base64_std(&inner.empty_child), "hash": inner.hash,
        },
        "maxDepth": spec.max_depth, "minDepth": spec.min_depth,
        "prehashKeyBeforeComparison": spec.prehash_key_before_comparison,
    });
    serde_json::json!([one.clone(), one])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relayer_json_is_exactly_the_stores_spec_twice() {
        let parsed: Vec<ics23::ProofSpec> = serde_json::from_value(proof_specs_json()).expect("ics23's JSON form");
        assert_eq!(parsed, vec![jmt::ics23_spec(), jmt::ics23_spec()]);
        assert!(parsed[0].prehash_key_before_comparison, "JMT keys are compared hashed");
        assert_eq!(ProofSpecs::try_from(parsed).expect("valid for ibc-rs"), proof_specs());
    }
}
