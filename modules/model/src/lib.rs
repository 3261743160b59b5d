//! The model registry: base models (weights and tokenizer content hashes, architecture,
//! license) and adapters (fine-tunes of a base model) with an auditable lineage from the adapter
//! weights back to the exact datanet versions, by Merkle root, they were trained on. Owners set
//! an inference price per model and adapter.
//!
//! The registry reads datanet versions only through the narrow [`DatanetReader`] trait it
//! defines; the app wires it to the datanet module.

pub mod error;
pub mod events;
pub mod genesis;
pub mod keeper;
pub mod module;
pub mod msg;
pub mod query;
pub mod state_key;

pub use error::ModelError;
pub use keeper::{DatanetReader, ModelKeeper, VersionInfo};
pub use module::ModelModule;
