//! Errors of the IBC modules with their frozen `(codespace, code)` pairs: `ibc` for core IBC
//! (clients, connections, channels, packets), `transfer` for ICS-20, as ibc-go's codespaces.

use openledger_core::error::{sdk_codes, ErrorCode, SDK_CODESPACE};
use openledger_core::StateError;

/// Codespace of core IBC errors.
pub const IBC_CODESPACE: &str = "ibc";
/// Codespace of ICS-20 errors.
pub const TRANSFER_CODESPACE: &str = "transfer";

/// IBC errors.
#[derive(Debug, thiserror::Error)]
pub enum IbcError {
    /// State access failed or ran out of gas (it outranks the IBC error it caused).
    #[error(transparent)]
    State(#[from] StateError),
    /// The message does not decode into an IBC message.
    #[error("invalid IBC message {type_url}: {reason}")]
    InvalidMessage {
        /// Its type URL.
        type_url: String,
        /// What is wrong.
        reason: String,
    },
    /// A signer field is not an account address.
    #[error("invalid signer address {0:?}: invalid address")]
    InvalidSigner(String),
    /// ibc-rs refused a core message (client, connection, channel or packet handler).
    #[error("{0}")]
    Handler(String),
    /// ICS-20 refused a transfer.
    #[error("{0}")]
    Transfer(String),
    /// A `ibc/HASH` denom without a stored trace.
    #[error("denomination trace not found for {0}")]
    UnknownDenom(String),
    /// The chain id has no revision number ibc-rs accepts.
    #[error("chain id {0:?} is not a valid IBC chain id")]
    ChainId(String),
}

impl ErrorCode for IbcError {
    fn codespace(&self) -> &'static str {
        match self {
            Self::State(e) => e.codespace(),
            Self::InvalidSigner(_) => SDK_CODESPACE,
            Self::Transfer(_) | Self::UnknownDenom(_) => TRANSFER_CODESPACE,
            Self::InvalidMessage { .. } | Self::Handler(_) | Self::ChainId(_) => IBC_CODESPACE,
        }
    }
    fn code(&self) -> u32 {
        match self {
            Self::State(e) => e.code(),
            Self::InvalidSigner(_) => sdk_codes::INVALID_ADDRESS,
            Self::InvalidMessage { .. } => 2,
            Self::Handler(_) => 3,
            Self::ChainId(_) => 4,
            Self::Transfer(_) => 2,
            Self::UnknownDenom(_) => 3,
        }
    }
}
