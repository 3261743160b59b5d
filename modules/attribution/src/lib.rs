//! The attribution module: Proof of Attribution.
//!
//! Every published datanet version gets an infini-gram-style suffix-array index over its rows in
//! the chain's canonical tokenization ([`tokenize`]: NFC, lower-case, word and punctuation
//! tokens), stored in consensus state in chunks of at most 64 KiB ([`index`], [`state_key`]).
//! An inference output is matched against the indexes of its pinned versions: every maximal span
//! of at least `min_span_tokens` tokens is attributed to the lowest row containing it, a row's
//! score is the total length of its spans, and the payment is split pro rata over the rows'
//! contributors with integer arithmetic, the remainder going to the community pool. Everything is
//! specified normatively in `proto/openledger/attribution/v1/attribution.proto`, so anyone can
//! re-run an attribution from the chain's data.
//!
//! # Wiring (what the app does)
//!
//! - Build the keeper once: [`AttributionKeeper::new`]`(datanet_keeper.clone(), bank, pool)`
//!   where `bank` implements [`BankKeeper`] (the bank module's send) and `pool` implements
//!   [`CommunityPool`] (the distribution module's community pool funding).
//! - Right after `MsgPublishVersion` succeeds, in the same message layer:
//!   [`AttributionKeeper::on_version_published`]`(state, datanet_id, response.version)`.
//! - In end block (every block, fixed place in the hook order):
//!   [`AttributionKeeper::end_block`]`(state)`; it indexes up to
//!   [`keeper::MAX_INDEX_PER_BLOCK`] queued versions.
//! - When an inference result is final: [`AttributionKeeper::distribute`]`(state, inference_id,
//!   &escrow_address, contributors_share, &pinned_versions, &output_text)`, on a child layer
//!   that is dropped if it fails (it writes nothing on error anyway). Versions not yet indexed
//!   are indexed on demand.
//! - Messages: `/openledger.attribution.v1.MsgUpdateParams` → [`msg::UpdateParams`]
//!   (`check_stateless`, `signers`, `amino_json`, `execute`).
//! - Queries: register [`query::AttributionQuery`]`(keeper.clone())` ([`QueryService`]).
//! - Genesis: [`genesis::init_genesis`] after the datanet genesis; [`genesis::export_genesis`].
//!
//! [`QueryService`]: openledger_core::query::QueryService

pub mod error;
pub mod events;
#[doc(hidden)]
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod genesis;
pub mod index;
pub mod keeper;
pub mod module;
pub mod msg;
pub mod query;
pub mod sa;
pub mod state_key;
pub mod tokenize;

#[cfg(test)]
mod tests;

pub use error::AttributionError;
pub use keeper::{AttributionKeeper, BankKeeper, CommunityPool, IndexStats, Loaded, GOV_MODULE};
pub use module::AttributionModule;
pub use tokenize::tokenize;
