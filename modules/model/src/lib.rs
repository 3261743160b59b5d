//! The model registry: base models (weights and tokenizer content hashes, architecture,
//! license) and adapters (fine-tunes of a base model) with an auditable lineage from the adapter
//! weights back to the exact datanet versions, by Merkle root, they were trained on. Owners set
//! an inference price per model and adapter.
//!
//! ModelFactory ([`finetune`]): fine-tune jobs on a published datanet version, trained by the
//! validators' executors off the consensus path and attested through vote extensions (the
//! inference module's tally), after which the adapter is registered with its full lineage and
//! the fee is split between the agreeing executors, the version's contributors and the pool.
//!
//! The registry reads datanet versions only through the narrow [`DatanetReader`] trait it
//! defines; the app wires it to the datanet module.

pub mod error;
pub mod events;
pub mod finetune;
pub mod genesis;
pub mod keeper;
pub mod module;
pub mod msg;
pub mod query;
pub mod state_key;

pub use error::ModelError;
pub use finetune::{JobAttestation, ModelFunds, MODEL_ACCOUNT};
pub use keeper::{DatanetReader, ModelKeeper, VersionInfo};
pub use module::ModelModule;
