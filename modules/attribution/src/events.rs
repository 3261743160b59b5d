//! Typed attribution events. Every attribute is indexed, so `tx_search` / block search finds,
//! say, every payout to a contributor (`attribution_payout.contributor='open1…'`).

use openledger_core::typed_events;

typed_events! {
    /// A contributor was paid for an inference.
    AttributionPayout = "attribution_payout" {
        /// Inference.
        inference_id: u64,
        /// Contributor.
        contributor: String,
        /// Paid (uopen).
        amount: u128 => format!("{}uopen", amount),
        /// Eligible matched tokens.
        matched_tokens: u64,
    }

    /// An inference was attributed.
    InferenceAttributed = "inference_attributed" {
        /// Inference.
        inference_id: u64,
        /// Amount split (uopen).
        amount: u128 => format!("{}uopen", amount),
        /// Sent to the community pool (uopen).
        community_pool: u128 => format!("{}uopen", community_pool),
        /// Rows matched.
        rows: u64,
        /// Output tokens scored.
        scored_tokens: u64,
    }

    /// A version was indexed (or found too large).
    VersionIndexed = "version_indexed" {
        /// Datanet.
        datanet_id: u64,
        /// Version.
        version: u64,
        /// `INDEX_STATUS_READY` / `INDEX_STATUS_TOO_LARGE`.
        status: String,
        /// Tokens.
        tokens: u64,
        /// Index bytes.
        bytes: u64,
    }
}
