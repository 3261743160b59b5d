//! Typed model registry events (every attribute indexed).

use openledger_core::typed_events;

typed_events! {
    /// A base model was registered.
    BaseModelRegistered = "base_model_registered" {
        /// New id.
        base_model_id: u64,
        /// Owner.
        owner: String,
        /// Weights hash.
        weights_hash: String,
    }

    /// An adapter was registered.
    AdapterRegistered = "adapter_registered" {
        /// New id.
        adapter_id: u64,
        /// Its base model.
        base_model_id: u64,
        /// Owner.
        owner: String,
        /// Adapter hash.
        adapter_hash: String,
        /// Pinned versions as `datanet:version`, comma separated.
        datanet_versions: String,
    }

    /// An inference price changed.
    InferencePriceSet = "inference_price_set" {
        /// `base_model` or `adapter`.
        kind: &'static str,
        /// Its id.
        id: u64,
        /// New price (`100uopen`).
        price: String,
    }
}

typed_events! {
    /// Governance delisted a base model or an adapter.
    ModelDelisted = "model_delisted" {
        /// `base_model` or `adapter`.
        kind: &'static str,
        /// Its id.
        id: u64,
        /// Why.
        reason: String,
    }
}
