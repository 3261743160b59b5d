//! Errors of the bank module with their frozen `(codespace, code)` pairs (the SDK's `bank`
//! codespace, and the SDK root codes for funds, addresses and coins).

use openledger_core::error::{sdk_codes, ErrorCode, SDK_CODESPACE};
use openledger_core::StateError;

/// Codespace of bank-specific errors.
pub const BANK_CODESPACE: &str = "bank";

/// Bank errors.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
    /// State access failed or ran out of gas.
    #[error(transparent)]
    State(#[from] StateError),
    /// Balance too low.
    #[error("spendable balance {available} is smaller than {wanted}: insufficient funds")]
    InsufficientFunds {
        /// What the account holds of the denom.
        available: String,
        /// What was asked for.
        wanted: String,
    },
    /// Malformed address.
    #[error("invalid {field} address: {reason}: invalid address")]
    InvalidAddress {
        /// Which field.
        field: &'static str,
        /// Parser message.
        reason: String,
    },
    /// Malformed or empty coins.
    #[error("{0}: invalid coins")]
    InvalidCoins(String),
    /// A multi-send without inputs.
    #[error("no inputs to send transaction")]
    NoInputs,
    /// A multi-send without outputs.
    #[error("no outputs to send transaction")]
    NoOutputs,
    /// Multi-send sums differ.
    #[error("sum inputs != sum outputs")]
    InputOutputMismatch,
    /// Multi-send with more than one input.
    #[error("multiple senders not allowed")]
    MultipleSenders,
    /// Sends of this denom disabled.
    #[error("{0} transfers are currently disabled: send transactions are disabled")]
    SendDisabled(String),
    /// Recipient is a blocked (module) address.
    #[error("{0} is not allowed to receive funds: unauthorized")]
    BlockedRecipient(String),
    /// Amount arithmetic overflowed.
    #[error("amount overflow for {0}")]
    Overflow(String),
    /// Invalid genesis.
    #[error("invalid bank genesis: {0}")]
    InvalidGenesis(String),
}

impl ErrorCode for BankError {
    fn codespace(&self) -> &'static str {
        match self {
            Self::State(e) => e.codespace(),
            Self::InsufficientFunds { .. }
            | Self::InvalidAddress { .. }
            | Self::InvalidCoins(_)
            | Self::BlockedRecipient(_)
            | Self::Overflow(_) => SDK_CODESPACE,
            _ => BANK_CODESPACE,
        }
    }
    fn code(&self) -> u32 {
        match self {
            Self::State(e) => e.code(),
            Self::InsufficientFunds { .. } => sdk_codes::INSUFFICIENT_FUNDS,
            Self::InvalidAddress { .. } => sdk_codes::INVALID_ADDRESS,
            Self::InvalidCoins(_) => sdk_codes::INVALID_COINS,
            Self::BlockedRecipient(_) => sdk_codes::UNAUTHORIZED,
            Self::Overflow(_) => sdk_codes::INVALID_COINS,
            Self::NoInputs => 2,
            Self::NoOutputs => 3,
            Self::InputOutputMismatch => 4,
            Self::SendDisabled(_) => 5,
            Self::MultipleSenders => 9,
            Self::InvalidGenesis(_) => 10,
        }
    }
}
