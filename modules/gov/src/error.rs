//! Errors of the gov module with the Cosmos SDK's frozen `gov` codespace codes
//! (x/gov/types/errors.go), plus the `sdk` codes for the common cases.

use openledger_core::error::{sdk_codes, ErrorCode, SDK_CODESPACE, UNDEFINED_CODESPACE};
use openledger_core::{AbciError, StateError};

/// The gov codespace.
pub const GOV: &str = "gov";

/// Gov errors.
#[derive(Debug, thiserror::Error)]
pub enum GovError {
    /// State access failed or ran out of gas.
    #[error(transparent)]
    State(#[from] StateError),
    /// A bank operation failed (keeps the bank's code).
    #[error("{}", .0.log)]
    Bank(AbciError),
    /// A proposal message was rejected by its module (keeps that module's code).
    #[error("{}", .0.log)]
    Message(AbciError),
    /// Malformed address.
    #[error("invalid {field} address {value:?}: {reason}: invalid address")]
    InvalidAddress {
        /// Field.
        field: &'static str,
        /// Given value.
        value: String,
        /// Parser message.
        reason: String,
    },
    /// Malformed coins.
    #[error("{0}: invalid coins")]
    InvalidCoins(String),
    /// Malformed request.
    #[error("{0}: invalid request")]
    InvalidRequest(String),
    /// The signer is not the gov authority.
    #[error("invalid authority; expected {expected}, got {got}: expected gov account as only signer for proposal message")]
    InvalidAuthority {
        /// Gov module account.
        expected: String,
        /// Given.
        got: String,
    },
    /// Decimal overflow.
    #[error("arithmetic overflow in {0}")]
    Overflow(&'static str),
    /// gov 2
    #[error("proposal {0} doesn't exist: unknown proposal")]
    UnknownProposal(u64),
    /// gov 3
    #[error("{0}: inactive proposal")]
    InactiveProposal(u64),
    /// gov 7
    #[error("{0}: invalid vote option")]
    InvalidVote(String),
    /// gov 8
    #[error("{0}: invalid genesis state")]
    InvalidGenesis(String),
    /// gov 11
    #[error("no messages proposed")]
    NoProposalMsgs,
    /// gov 12
    #[error("{0}: invalid proposal message")]
    InvalidProposalMsg(String),
    /// gov 13
    #[error("expected {expected}, got {got}: expected gov account as only signer for proposal message")]
    InvalidSigner {
        /// Gov module account.
        expected: String,
        /// The offending signer.
        got: String,
    },
    /// gov 15
    #[error("metadata too long")]
    MetadataTooLong,
    /// gov 18
    #[error("{0}: invalid proposer")]
    InvalidProposer(String),
    /// gov 21
    #[error("{0}: invalid proposal")]
    InvalidProposal(String),
    /// gov 22
    #[error("summary too long")]
    SummaryTooLong,
    /// gov 23
    #[error("deposited {got}, but gov accepts only the following denom(s): {allowed}: invalid deposit denom")]
    InvalidDepositDenom {
        /// The offending denom.
        got: String,
        /// Accepted denoms.
        allowed: String,
    },
}

impl GovError {
    fn code_pair(&self) -> (&'static str, u32) {
        match self {
            Self::State(e) => (e.codespace(), e.code()),
            Self::Bank(e) | Self::Message(e) => (e.codespace, e.code),
            Self::InvalidAddress { .. } => (SDK_CODESPACE, sdk_codes::INVALID_ADDRESS),
            Self::InvalidCoins(_) => (SDK_CODESPACE, sdk_codes::INVALID_COINS),
            Self::InvalidRequest(_) => (SDK_CODESPACE, sdk_codes::INVALID_REQUEST),
            Self::InvalidAuthority { .. } => (GOV, 13),
            Self::Overflow(_) => (UNDEFINED_CODESPACE, sdk_codes::INTERNAL),
            Self::UnknownProposal(_) => (GOV, 2),
            Self::InactiveProposal(_) => (GOV, 3),
            Self::InvalidVote(_) => (GOV, 7),
            Self::InvalidGenesis(_) => (GOV, 8),
            Self::NoProposalMsgs => (GOV, 11),
            Self::InvalidProposalMsg(_) => (GOV, 12),
            Self::InvalidSigner { .. } => (GOV, 13),
            Self::MetadataTooLong => (GOV, 15),
            Self::InvalidProposer(_) => (GOV, 18),
            Self::InvalidProposal(_) => (GOV, 21),
            Self::SummaryTooLong => (GOV, 22),
            Self::InvalidDepositDenom { .. } => (GOV, 23),
        }
    }
}

impl ErrorCode for GovError {
    fn codespace(&self) -> &'static str {
        self.code_pair().0
    }
    fn code(&self) -> u32 {
        self.code_pair().1
    }
}

impl From<openledger_core::dec::DecError> for GovError {
    fn from(_: openledger_core::dec::DecError) -> Self {
        Self::Overflow("decimal arithmetic")
    }
}
