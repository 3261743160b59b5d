//! Errors of the model module with their frozen `(codespace, code)` pairs: codespace `model`
//! from code 2 (fine-tune jobs from 17), and the SDK's root codes where the SDK would use them (unauthorized 4, invalid
//! address 7, invalid coins 10).

use openledger_core::error::{sdk_codes, ErrorCode, SDK_CODESPACE};
use openledger_core::StateError;

/// Codespace of model-specific errors.
pub const MODEL_CODESPACE: &str = "model";

/// Model registry errors. The codes are frozen: never renumber, only append.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// State access failed or ran out of gas.
    #[error(transparent)]
    State(#[from] StateError),
    /// Malformed address.
    #[error("invalid {field} address: {reason}: invalid address")]
    InvalidAddress {
        /// Which field.
        field: &'static str,
        /// Parser message.
        reason: String,
    },
    /// The signer may not do this.
    #[error("{0}: unauthorized")]
    Unauthorized(String),
    /// Malformed price.
    #[error("{0}: invalid coins")]
    InvalidCoins(String),
    /// Name, architecture or license out of bounds.
    #[error("invalid model metadata: {0}")]
    InvalidMetadata(String),
    /// A content hash that is not 64 hex characters.
    #[error("invalid {field}: {value:?} is not a hex SHA-256 (64 hex characters)")]
    InvalidHash {
        /// Which field.
        field: &'static str,
        /// What was sent.
        value: String,
    },
    /// No such base model.
    #[error("base model {0} not found")]
    BaseModelNotFound(u64),
    /// No such adapter.
    #[error("adapter {0} not found")]
    AdapterNotFound(u64),
    /// These weights are registered already.
    #[error("weights {hash} are already registered as base model {id}")]
    DuplicateWeights {
        /// Weights hash.
        hash: String,
        /// Existing model.
        id: u64,
    },
    /// This adapter is registered already.
    #[error("adapter weights {hash} are already registered as adapter {id}")]
    DuplicateAdapter {
        /// Adapter hash.
        hash: String,
        /// Existing adapter.
        id: u64,
    },
    /// A pinned datanet version that does not exist.
    #[error("datanet {datanet_id} has no published version {version}")]
    VersionNotFound {
        /// Datanet.
        datanet_id: u64,
        /// Version.
        version: u64,
    },
    /// A pinned datanet that governance delisted.
    #[error("datanet {0} is delisted and cannot be pinned")]
    DatanetDelisted(u64),
    /// Empty, too many or repeated pinned versions.
    #[error("invalid datanet versions: {0}")]
    InvalidPins(String),
    /// `MsgSetInferencePrice` must name exactly one model or adapter.
    #[error("invalid price target: {0}")]
    InvalidTarget(String),
    /// Invalid genesis.
    #[error("invalid model genesis: {0}")]
    InvalidGenesis(String),
    /// A counter overflowed.
    #[error("overflow: {0}")]
    Overflow(String),
    /// The base model was delisted by governance.
    #[error("base model {0} is delisted")]
    BaseModelDelisted(u64),
    /// The adapter was delisted by governance.
    #[error("adapter {0} is delisted")]
    AdapterDelisted(u64),
    /// Delisting something already delisted.
    #[error("{0} is already delisted")]
    AlreadyDelisted(String),
    /// A fine-tune configuration out of bounds (rank 0 or above max_rank, unknown target
    /// module, epochs, steps, batch size, learning rate, eval split or sequence length).
    #[error("invalid fine-tune config: {0}")]
    InvalidTrainingConfig(String),
    /// A fine-tune fee below the governed minimum.
    #[error("fee {fee} is below the minimum fine-tune fee {min}: insufficient fee")]
    FeeTooLow {
        /// Offered.
        fee: String,
        /// Required.
        min: String,
    },
    /// A datanet version without rows.
    #[error("datanet {datanet_id} version {version} has no rows to train on")]
    EmptyDatanetVersion {
        /// Datanet.
        datanet_id: u64,
        /// Version.
        version: u64,
    },
    /// No such fine-tune job.
    #[error("fine-tune job {0} not found")]
    JobNotFound(u64),
    /// A governed limit of fine-tuning reached (active jobs, rows per job).
    #[error("fine-tune limit: {0}")]
    JobLimit(String),
    /// Fine-tuning params out of bounds.
    #[error("invalid fine-tune params: {0}")]
    InvalidParams(String),
    /// Moving funds failed (the bank's or staking's own code: insufficient funds, ...).
    #[error("{}", .0.log)]
    Funds(openledger_core::AbciError),
    /// The job is no longer queued or running.
    #[error("fine-tune job {0} is not queued or running")]
    JobNotActive(u64),
}

impl ErrorCode for ModelError {
    fn codespace(&self) -> &'static str {
        match self {
            Self::State(e) => e.codespace(),
            Self::Funds(e) => e.codespace,
            Self::InvalidAddress { .. } | Self::Unauthorized(_) | Self::InvalidCoins(_) => SDK_CODESPACE,
            _ => MODEL_CODESPACE,
        }
    }

    fn code(&self) -> u32 {
        match self {
            Self::State(e) => e.code(),
            Self::Funds(e) => e.code,
            Self::InvalidAddress { .. } => sdk_codes::INVALID_ADDRESS,
            Self::Unauthorized(_) => sdk_codes::UNAUTHORIZED,
            Self::InvalidCoins(_) => sdk_codes::INVALID_COINS,
            Self::InvalidMetadata(_) => 2,
            Self::InvalidHash { .. } => 3,
            Self::BaseModelNotFound(_) => 4,
            Self::AdapterNotFound(_) => 5,
            Self::DuplicateWeights { .. } => 6,
            Self::DuplicateAdapter { .. } => 7,
            Self::VersionNotFound { .. } => 8,
            Self::DatanetDelisted(_) => 9,
            Self::InvalidPins(_) => 10,
            Self::InvalidTarget(_) => 11,
            Self::InvalidGenesis(_) => 12,
            Self::Overflow(_) => 13,
            Self::BaseModelDelisted(_) => 14,
            Self::AdapterDelisted(_) => 15,
            Self::AlreadyDelisted(_) => 16,
            Self::InvalidTrainingConfig(_) => 17,
            Self::FeeTooLow { .. } => 18,
            Self::EmptyDatanetVersion { .. } => 19,
            Self::JobNotFound(_) => 20,
            Self::JobLimit(_) => 21,
            Self::InvalidParams(_) => 22,
            Self::JobNotActive(_) => 23,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_frozen() {
        let cases: Vec<(ModelError, &str, u32)> = vec![
            (ModelError::Unauthorized("x".into()), "sdk", 4),
            (ModelError::InvalidAddress { field: "owner", reason: "bad".into() }, "sdk", 7),
            (ModelError::InvalidCoins("x".into()), "sdk", 10),
            (ModelError::InvalidHash { field: "weights_hash", value: "x".into() }, "model", 3),
            (ModelError::DuplicateWeights { hash: "h".into(), id: 1 }, "model", 6),
            (ModelError::VersionNotFound { datanet_id: 1, version: 9 }, "model", 8),
            (ModelError::Overflow("x".into()), "model", 13),
            (ModelError::BaseModelDelisted(1), "model", 14),
            (ModelError::AdapterDelisted(1), "model", 15),
            (ModelError::AlreadyDelisted("x".into()), "model", 16),
            (ModelError::InvalidTrainingConfig("x".into()), "model", 17),
            (ModelError::FeeTooLow { fee: "1uopen".into(), min: "2uopen".into() }, "model", 18),
            (ModelError::EmptyDatanetVersion { datanet_id: 1, version: 1 }, "model", 19),
            (ModelError::JobNotFound(1), "model", 20),
            (ModelError::JobLimit("x".into()), "model", 21),
            (ModelError::InvalidParams("x".into()), "model", 22),
            (ModelError::JobNotActive(1), "model", 23),
        ];
        for (err, space, code) in cases {
            assert_eq!((err.codespace(), err.code()), (space, code), "{err}");
        }
    }
}
