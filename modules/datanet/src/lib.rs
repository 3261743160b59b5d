//! The datanet module: community-curated datasets.
//!
//! A datanet has a row schema (TEXT or JSON with required fields) and a curation policy (owner
//! review, or a weighted vote of curators). Contributors submit rows with a bond in OPEN that
//! the `datanet_bonds` module account escrows; a review accepts them (bond returned, rows
//! credited to the contributor) or rejects them (part of the bond burned, the rest returned, the
//! rows deleted). The owner publishes immutable versions: all accepted, not delisted rows in
//! row-id order under a SHA-256 Merkle root ([`merkle`]), so a model can pin exactly the data it
//! was trained on and anyone can prove a row against that root. Governance (and only
//! governance) can delist a datanet or a row.
//!
//! Funds move only through the narrow [`BankKeeper`] trait this crate defines; the app wires it
//! to the bank module.

pub mod error;
pub mod events;
pub mod genesis;
pub mod keeper;
pub mod merkle;
pub mod module;
pub mod msg;
pub mod query;
pub mod schema;
pub mod state_key;

pub use error::DatanetError;
pub use keeper::{BankKeeper, DatanetKeeper, DatanetRead, PublishHook, BONDS_ACCOUNT, GOV_MODULE};
pub use merkle::verify_row_proof;
pub use module::DatanetModule;
