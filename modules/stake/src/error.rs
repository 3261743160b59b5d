//! Errors of the stake module. The module spans three SDK codespaces — `staking`,
//! `distribution` and `slashing` — and keeps each error's SDK code there (frozen), so clients
//! that match on `(codespace, code)` behave as on any Cosmos chain.

use openledger_core::error::{sdk_codes, ErrorCode, SDK_CODESPACE, UNDEFINED_CODESPACE};
use openledger_core::{AbciError, StateError};

/// Staking codespace.
pub const STAKING: &str = "staking";
/// Distribution codespace.
pub const DISTRIBUTION: &str = "distribution";
/// Slashing codespace.
pub const SLASHING: &str = "slashing";

/// Stake errors.
#[derive(Debug, thiserror::Error)]
pub enum StakeError {
    /// State access failed or ran out of gas.
    #[error(transparent)]
    State(#[from] StateError),
    /// A bank operation failed (keeps the bank's code, e.g. insufficient funds).
    #[error("{}", .0.log)]
    Bank(AbciError),
    /// Malformed address.
    #[error("invalid {field} address {value:?}: {reason}: invalid address")]
    InvalidAddress {
        /// Field name.
        field: &'static str,
        /// Given value.
        value: String,
        /// Parser message.
        reason: String,
    },
    /// Malformed amount or coin.
    #[error("{0}: invalid coins")]
    InvalidCoins(String),
    /// Malformed request field.
    #[error("{0}: invalid request")]
    InvalidRequest(String),
    /// Signer does not own the object.
    #[error("{0}: unauthorized")]
    Unauthorized(String),
    /// Decimal overflow.
    #[error("arithmetic overflow in {0}")]
    Overflow(&'static str),
    /// staking 3
    #[error("validator {0} does not exist")]
    NoValidatorFound(String),
    /// staking 4
    #[error("validator already exist for this operator address; must use new validator operator address")]
    ValidatorOwnerExists,
    /// staking 5
    #[error("validator already exist for this pubkey; must use new validator pubkey")]
    ValidatorPubKeyExists,
    /// staking 6
    #[error("validator pubkey type {0} is not supported")]
    PubKeyTypeNotSupported(String),
    /// staking 7
    #[error("validator for this address is currently jailed")]
    ValidatorJailed,
    /// staking 10
    #[error("commission cannot be more than 100%")]
    CommissionHuge,
    /// staking 11
    #[error("commission cannot be more than the max rate")]
    CommissionGtMaxRate,
    /// staking 12
    #[error("commission cannot be changed more than once in 24h")]
    CommissionUpdateTime,
    /// staking 14
    #[error("commission change rate cannot be more than the max rate")]
    CommissionChangeRateGtMaxRate,
    /// staking 15
    #[error("commission cannot be changed more than max change rate")]
    CommissionGtMaxChangeRate,
    /// staking 16
    #[error("validator's self delegation must be greater than their minimum self delegation")]
    SelfDelegationBelowMinimum,
    /// staking 17
    #[error("minimum self delegation cannot be decrease")]
    MinSelfDelegationDecreased,
    /// staking 19
    #[error("no delegation for (address, validator) tuple")]
    NoDelegation,
    /// staking 22
    #[error("insufficient delegation shares")]
    InsufficientShares,
    /// staking 24
    #[error("invalid shares amount: not enough delegation shares")]
    NotEnoughDelegationShares,
    /// staking 26
    #[error("no unbonding delegation found")]
    NoUnbondingDelegation,
    /// staking 27
    #[error("too many unbonding delegation entries for (delegator, validator) tuple")]
    MaxUnbondingEntries,
    /// staking 29
    #[error("cannot redelegate to the same validator")]
    SelfRedelegation,
    /// staking 30
    #[error("too few tokens to redelegate (truncates to zero tokens)")]
    TinyRedelegationAmount,
    /// staking 32
    #[error(
        "redelegation to this validator already in progress; first redelegation to this validator must complete before next redelegation"
    )]
    TransitiveRedelegation,
    /// staking 33
    #[error("too many redelegation entries for (delegator, src-validator, dst-validator) tuple")]
    MaxRedelegationEntries,
    /// staking 34
    #[error("cannot delegate to validators with invalid (zero) ex-rate")]
    DelegatorShareExRateInvalid,
    /// staking 40
    #[error("commission cannot be less than min rate")]
    CommissionLtMinRate,
    /// staking 41
    #[error("unbonding delegation entry at height {0} not found")]
    UnbondingNotFound(i64),
    /// distribution 7
    #[error("no validator commission to withdraw")]
    NoValidatorCommission,
    /// distribution 12
    #[error("validator does not exist")]
    DistributionNoValidator,
    /// distribution 13
    #[error("delegation does not exist")]
    DistributionNoDelegation,
    /// slashing 2
    #[error("address is not associated with any known validator")]
    NoValidatorForAddress,
    /// slashing 4
    #[error("validator still jailed; cannot be unjailed")]
    StillJailed,
    /// slashing 5
    #[error("validator not jailed; cannot be unjailed")]
    NotJailed,
    /// slashing 6
    #[error("validator has no self-delegation; cannot be unjailed")]
    MissingSelfDelegation,
    /// slashing 7
    #[error("validator's self delegation less than minimum; cannot be unjailed")]
    SelfDelegationTooLowToUnjail,
    /// slashing 8
    #[error("no validator signing info found")]
    NoSigningInfo,
    /// slashing 9
    #[error("validator still jailed; cannot be unjailed: validator is tombstoned")]
    Tombstoned,
    /// Invalid genesis.
    #[error("invalid stake genesis: {0}")]
    InvalidGenesis(String),
}

impl StakeError {
    fn code_pair(&self) -> (&'static str, u32) {
        match self {
            Self::State(e) => (e.codespace(), e.code()),
            Self::Bank(e) => (e.codespace, e.code),
            Self::InvalidAddress { .. } => (SDK_CODESPACE, sdk_codes::INVALID_ADDRESS),
            Self::InvalidCoins(_) => (SDK_CODESPACE, sdk_codes::INVALID_COINS),
            Self::InvalidRequest(_) => (SDK_CODESPACE, sdk_codes::INVALID_REQUEST),
            Self::Unauthorized(_) => (SDK_CODESPACE, sdk_codes::UNAUTHORIZED),
            Self::Overflow(_) => (UNDEFINED_CODESPACE, sdk_codes::INTERNAL),
            Self::NoValidatorFound(_) => (STAKING, 3),
            Self::ValidatorOwnerExists => (STAKING, 4),
            Self::ValidatorPubKeyExists => (STAKING, 5),
            Self::PubKeyTypeNotSupported(_) => (STAKING, 6),
            Self::ValidatorJailed => (STAKING, 7),
            Self::CommissionHuge => (STAKING, 10),
            Self::CommissionGtMaxRate => (STAKING, 11),
            Self::CommissionUpdateTime => (STAKING, 12),
            Self::CommissionChangeRateGtMaxRate => (STAKING, 14),
            Self::CommissionGtMaxChangeRate => (STAKING, 15),
            Self::SelfDelegationBelowMinimum => (STAKING, 16),
            Self::MinSelfDelegationDecreased => (STAKING, 17),
            Self::NoDelegation => (STAKING, 19),
            Self::InsufficientShares => (STAKING, 22),
            Self::NotEnoughDelegationShares => (STAKING, 24),
            Self::NoUnbondingDelegation => (STAKING, 26),
            Self::MaxUnbondingEntries => (STAKING, 27),
            Self::SelfRedelegation => (STAKING, 29),
            Self::TinyRedelegationAmount => (STAKING, 30),
            Self::TransitiveRedelegation => (STAKING, 32),
            Self::MaxRedelegationEntries => (STAKING, 33),
            Self::DelegatorShareExRateInvalid => (STAKING, 34),
            Self::CommissionLtMinRate => (STAKING, 40),
            Self::UnbondingNotFound(_) => (STAKING, 41),
            Self::NoValidatorCommission => (DISTRIBUTION, 7),
            Self::DistributionNoValidator => (DISTRIBUTION, 12),
            Self::DistributionNoDelegation => (DISTRIBUTION, 13),
            Self::NoValidatorForAddress => (SLASHING, 2),
            Self::StillJailed => (SLASHING, 4),
            Self::NotJailed => (SLASHING, 5),
            Self::MissingSelfDelegation => (SLASHING, 6),
            Self::SelfDelegationTooLowToUnjail => (SLASHING, 7),
            Self::NoSigningInfo => (SLASHING, 8),
            Self::Tombstoned => (SLASHING, 9),
            Self::InvalidGenesis(_) => (STAKING, 37),
        }
    }
}

impl ErrorCode for StakeError {
    fn codespace(&self) -> &'static str {
        self.code_pair().0
    }
    fn code(&self) -> u32 {
        self.code_pair().1
    }
}

impl From<openledger_core::dec::DecError> for StakeError {
    fn from(_: openledger_core::dec::DecError) -> Self {
        Self::Overflow("decimal arithmetic")
    }
}
