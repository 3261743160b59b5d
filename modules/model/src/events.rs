//! Typed model registry events (every attribute indexed).

use openledger_core::{Event, TypedEvent};

/// A base model was registered.
pub struct BaseModelRegistered {
    /// New id.
    pub base_model_id: u64,
    /// Owner.
    pub owner: String,
    /// Weights hash.
    pub weights_hash: String,
}

/// An adapter was registered.
pub struct AdapterRegistered {
    /// New id.
    pub adapter_id: u64,
    /// Its base model.
    pub base_model_id: u64,
    /// Owner.
    pub owner: String,
    /// Adapter hash.
    pub adapter_hash: String,
    /// Pinned versions as `datanet:version`, comma separated.
    pub datanet_versions: String,
}

/// An inference price changed.
pub struct InferencePriceSet {
    /// `base_model` or `adapter`.
    pub kind: &'static str,
    /// Its id.
    pub id: u64,
    /// New price (`100uopen`).
    pub price: String,
}

impl TypedEvent for BaseModelRegistered {
    fn into_event(self) -> Event {
        Event::new("base_model_registered")
            .attr("base_model_id", self.base_model_id.to_string())
            .attr("owner", self.owner)
            .attr("weights_hash", self.weights_hash)
    }
}

impl TypedEvent for AdapterRegistered {
    fn into_event(self) -> Event {
        Event::new("adapter_registered")
            .attr("adapter_id", self.adapter_id.to_string())
            .attr("base_model_id", self.base_model_id.to_string())
            .attr("owner", self.owner)
            .attr("adapter_hash", self.adapter_hash)
            .attr("datanet_versions", self.datanet_versions)
    }
}

impl TypedEvent for InferencePriceSet {
    fn into_event(self) -> Event {
        Event::new("inference_price_set").attr("kind", self.kind).attr("id", self.id.to_string()).attr("price", self.price)
    }
}

/// Governance delisted a base model or an adapter.
pub struct ModelDelisted {
    /// `base_model` or `adapter`.
    pub kind: &'static str,
    /// Its id.
    pub id: u64,
    /// Why.
    pub reason: String,
}

impl TypedEvent for ModelDelisted {
    fn into_event(self) -> Event {
        Event::new("model_delisted").attr("kind", self.kind).attr("id", self.id.to_string()).attr("reason", self.reason)
    }
}
