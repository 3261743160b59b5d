//! The inference module: verifiable inference paid in OPEN.
//!
//! A request (`MsgRequestInference`) escrows its fee and pins the exact lineage (base weights
//! hash, adapter hash, datanet versions) and the determinism profile; its seed derives from the
//! block hash. Validators that registered an executor for the model (`MsgRegisterExecutor`) run
//! it after commit and report `(request id, output hash, token count)` in their CometBFT vote
//! extensions ([`votes`]). The next proposer injects the signed extended commit plus the texts
//! that two thirds of the executors' power agreed on; ProcessProposal and FinalizeBlock verify
//! every signature, power sum and text hash; FinalizeBlock applies the result: the fee is split
//! between data contributors (Proof of Attribution), the model owner, the agreeing executors
//! and the community pool, and validators that signed a different output are slashed and
//! jailed. Unanswered requests are refunded at their deadline.
//!
//! ModelFactory fine-tune jobs (owned by the model registry, seen here through
//! [`InferenceHost`]) ride the same path: extensions also carry training reports (adapter hash,
//! eval-loss bits, training-log hash, or a failure) and the jobs being trained; from the same
//! verified commit FinalizeBlock marks reported jobs RUNNING and decides every job with a
//! two-thirds agreement of its base model's executors, slashing dissenters as for inference.

pub mod error;
pub mod events;
pub mod genesis;
pub mod keeper;
pub mod module;
pub mod msg;
pub mod query;
pub mod state_key;
pub mod votes;

#[cfg(test)]
mod tests;

pub use error::InferenceError;
pub use keeper::{
    InferenceHost, InferenceKeeper, ModelTarget, TrainingDecision, TrainingJobInfo, TrainingJobStatus, TrainingVoteRecord, ValidatorInfo,
    INFERENCE_ACCOUNT,
};
pub use module::InferenceModule;
