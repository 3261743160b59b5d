//! Errors of the inference module with their frozen `(codespace, code)` pairs: codespace
//! `inference` from code 2, and the SDK's root codes where the SDK would use them (unauthorized
//! 4, invalid address 7, invalid coins 10).

use openledger_core::error::{sdk_codes, ErrorCode, SDK_CODESPACE};
use openledger_core::{AbciError, StateError};

/// Codespace of inference-specific errors.
pub const INFERENCE_CODESPACE: &str = "inference";

/// Inference errors. The codes are frozen: never renumber, only append.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// State access failed or ran out of gas.
    #[error(transparent)]
    State(#[from] StateError),
    /// Another module (bank, model, stake, attribution) failed with its own code.
    #[error("{}", .0.log)]
    Host(AbciError),
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
    /// Malformed fee.
    #[error("{0}: invalid coins")]
    InvalidCoins(String),
    /// Empty or oversized prompt.
    #[error("invalid prompt: {0}")]
    InvalidPrompt(String),
    /// max_tokens is 0 or above the cap.
    #[error("invalid max_tokens: {0}")]
    InvalidMaxTokens(String),
    /// The model or adapter cannot be served (unknown or delisted).
    #[error("model not servable: {0}")]
    ModelNotServable(String),
    /// The fee is below the model's price.
    #[error("fee {fee}uopen is below the price {price}uopen")]
    FeeTooLow {
        /// Offered.
        fee: u128,
        /// Required.
        price: u128,
    },
    /// No registered executor serves the model, so the request could never be answered.
    #[error("no executor serves base model {0}")]
    NoExecutor(u64),
    /// The block already holds the most requests allowed.
    #[error("block request limit of {0} reached; retry in a later block")]
    BlockFull(u32),
    /// Unknown request id.
    #[error("inference request {0} not found")]
    RequestNotFound(u64),
    /// Unknown or not bonded validator.
    #[error("validator {0} not found")]
    ValidatorNotFound(String),
    /// Malformed executor registration.
    #[error("invalid executor registration: {0}")]
    InvalidRegistration(String),
    /// Params out of range.
    #[error("invalid inference params: {0}")]
    InvalidParams(String),
    /// Malformed vote extension or injected results.
    #[error("invalid vote extension: {0}")]
    InvalidExtension(String),
    /// The proposer's injected results do not verify.
    #[error("invalid injected results: {0}")]
    InvalidInjected(String),
    /// Integer overflow in fee arithmetic.
    #[error("arithmetic overflow in {0}")]
    Overflow(&'static str),
    /// A conversation sent to a base model that registered no chat template.
    #[error("base model {0} has no chat template: send a plain prompt instead of messages")]
    NotAChatModel(u64),
    /// An executor registration's hardware class is too long or not printable ASCII.
    #[error("invalid hardware class: {0}")]
    InvalidHardwareClass(String),
}

impl ErrorCode for InferenceError {
    fn codespace(&self) -> &'static str {
        match self {
            Self::State(e) => e.codespace(),
            Self::Host(e) => e.codespace,
            Self::InvalidAddress { .. } | Self::Unauthorized(_) | Self::InvalidCoins(_) => SDK_CODESPACE,
            _ => INFERENCE_CODESPACE,
        }
    }

    fn code(&self) -> u32 {
        match self {
            Self::State(e) => e.code(),
            Self::Host(e) => e.code,
            Self::InvalidAddress { .. } => sdk_codes::INVALID_ADDRESS,
            Self::Unauthorized(_) => sdk_codes::UNAUTHORIZED,
            Self::InvalidCoins(_) => sdk_codes::INVALID_COINS,
            Self::InvalidPrompt(_) => 2,
            Self::InvalidMaxTokens(_) => 3,
            Self::ModelNotServable(_) => 4,
            Self::FeeTooLow { .. } => 5,
            Self::NoExecutor(_) => 6,
            Self::BlockFull(_) => 7,
            Self::RequestNotFound(_) => 8,
            Self::ValidatorNotFound(_) => 9,
            Self::InvalidRegistration(_) => 10,
            Self::InvalidParams(_) => 11,
            Self::InvalidExtension(_) => 12,
            Self::InvalidInjected(_) => 13,
            Self::Overflow(_) => 14,
            Self::NotAChatModel(_) => 15,
            Self::InvalidHardwareClass(_) => 16,
        }
    }
}

impl From<AbciError> for InferenceError {
    fn from(e: AbciError) -> Self {
        Self::Host(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_frozen_and_unique() {
        let all = [
            InferenceError::InvalidPrompt(String::new()),
            InferenceError::InvalidMaxTokens(String::new()),
            InferenceError::ModelNotServable(String::new()),
            InferenceError::FeeTooLow { fee: 0, price: 1 },
            InferenceError::NoExecutor(1),
            InferenceError::BlockFull(1),
            InferenceError::RequestNotFound(1),
            InferenceError::ValidatorNotFound(String::new()),
            InferenceError::InvalidRegistration(String::new()),
            InferenceError::InvalidParams(String::new()),
            InferenceError::InvalidExtension(String::new()),
            InferenceError::InvalidInjected(String::new()),
            InferenceError::Overflow("x"),
            InferenceError::NotAChatModel(1),
            InferenceError::InvalidHardwareClass(String::new()),
        ];
        let codes: Vec<u32> = all.iter().map(ErrorCode::code).collect();
        assert_eq!(codes, (2..=16).collect::<Vec<u32>>());
        assert!(all.iter().all(|e| e.codespace() == INFERENCE_CODESPACE));
        assert_eq!(InferenceError::Unauthorized("x".into()).code(), 4);
    }
}
