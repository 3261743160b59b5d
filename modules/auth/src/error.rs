//! Errors of the auth module with their frozen `(codespace, code)` pairs.

use openledger_core::error::{sdk_codes, ErrorCode, SDK_CODESPACE};
use openledger_core::StateError;

/// Auth errors. Codes are the SDK's root codes, which is what clients match on.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// State access failed or ran out of gas.
    #[error(transparent)]
    State(#[from] StateError),
    /// No account at the address.
    #[error("account {0} does not exist: unknown address")]
    UnknownAddress(String),
    /// Public key missing or not matching the address.
    #[error("{0}: invalid pubkey")]
    InvalidPubKey(String),
    /// Stored account did not decode.
    #[error("corrupt account {0}: {1}")]
    Corrupt(String, String),
    /// Invalid genesis or parameters.
    #[error("invalid auth genesis: {0}")]
    InvalidGenesis(String),
}

impl ErrorCode for AuthError {
    fn codespace(&self) -> &'static str {
        match self {
            Self::State(e) => e.codespace(),
            _ => SDK_CODESPACE,
        }
    }
    fn code(&self) -> u32 {
        match self {
            Self::State(e) => e.code(),
            Self::UnknownAddress(_) => sdk_codes::UNKNOWN_ADDRESS,
            Self::InvalidPubKey(_) => sdk_codes::INVALID_PUBKEY,
            Self::Corrupt(..) => sdk_codes::INTERNAL,
            Self::InvalidGenesis(_) => sdk_codes::INVALID_REQUEST,
        }
    }
}
