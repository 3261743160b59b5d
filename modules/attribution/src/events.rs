//! Typed attribution events. Every attribute is indexed, so `tx_search` / block search finds,
//! say, every payout to a contributor (`attribution_payout.contributor='open1…'`).

use openledger_core::{Event, TypedEvent};

/// A contributor was paid for an inference.
pub struct AttributionPayout {
    /// Inference.
    pub inference_id: u64,
    /// Contributor.
    pub contributor: String,
    /// Paid (uopen).
    pub amount: u128,
    /// Eligible matched tokens.
    pub matched_tokens: u64,
}

/// An inference was attributed.
pub struct InferenceAttributed {
    /// Inference.
    pub inference_id: u64,
    /// Amount split (uopen).
    pub amount: u128,
    /// Sent to the community pool (uopen).
    pub community_pool: u128,
    /// Rows matched.
    pub rows: u64,
    /// Output tokens scored.
    pub scored_tokens: u64,
}

/// A version was indexed (or found too large).
pub struct VersionIndexed {
    /// Datanet.
    pub datanet_id: u64,
    /// Version.
    pub version: u64,
    /// `INDEX_STATUS_READY` / `INDEX_STATUS_TOO_LARGE`.
    pub status: String,
    /// Tokens.
    pub tokens: u64,
    /// Index bytes.
    pub bytes: u64,
}

impl TypedEvent for AttributionPayout {
    fn into_event(self) -> Event {
        Event::new("attribution_payout")
            .attr("inference_id", self.inference_id.to_string())
            .attr("contributor", self.contributor)
            .attr("amount", format!("{}uopen", self.amount))
            .attr("matched_tokens", self.matched_tokens.to_string())
    }
}

impl TypedEvent for InferenceAttributed {
    fn into_event(self) -> Event {
        Event::new("inference_attributed")
            .attr("inference_id", self.inference_id.to_string())
            .attr("amount", format!("{}uopen", self.amount))
            .attr("community_pool", format!("{}uopen", self.community_pool))
            .attr("rows", self.rows.to_string())
            .attr("scored_tokens", self.scored_tokens.to_string())
    }
}

impl TypedEvent for VersionIndexed {
    fn into_event(self) -> Event {
        Event::new("version_indexed")
            .attr("datanet_id", self.datanet_id.to_string())
            .attr("version", self.version.to_string())
            .attr("status", self.status)
            .attr("tokens", self.tokens.to_string())
            .attr("bytes", self.bytes.to_string())
    }
}
