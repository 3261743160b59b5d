//! The OpenLedger node: the ABCI 2.0 application CometBFT v0.38 drives.
//!
//! [`app::App`] holds the state and implements each ABCI call ([`abci`] adapts it to the ABCI
//! server); [`tx`] and [`ante`] are the tx pipeline; [`modules`] wires the keepers through the
//! narrow traits modules see each other by and lists the modules once in the registry that routes
//! every message and query and runs the block hooks; [`genesis`] is the typed genesis document the
//! chain's tools write; [`inference`] drives the local executor for the vote-extension protocol
//! and [`training`] runs ModelFactory fine-tune jobs on it.

pub mod abci;
pub mod amino;
pub mod ante;
pub mod app;
pub mod genesis;
pub mod inference;
pub mod metrics;
pub mod modules;
pub mod snapshots;
pub mod state_key;
pub mod training;
pub mod tx;
