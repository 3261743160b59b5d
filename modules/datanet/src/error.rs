//! Errors of the datanet module with their frozen `(codespace, code)` pairs: codespace
//! `datanet` from code 2, and the SDK's root codes where the SDK would use them (unauthorized 4,
//! insufficient funds 5 via the bank, invalid address 7, invalid coins 10).

use openledger_core::error::{sdk_codes, ErrorCode, SDK_CODESPACE};
use openledger_core::{AbciError, StateError};

/// Codespace of datanet-specific errors.
pub const DATANET_CODESPACE: &str = "datanet";

/// Datanet errors. The codes are frozen: never renumber, only append.
#[derive(Debug, thiserror::Error)]
pub enum DatanetError {
    /// State access failed or ran out of gas.
    #[error(transparent)]
    State(#[from] StateError),
    /// A bank operation failed (its own codespace and code, e.g. sdk 5 insufficient funds).
    #[error("{}", .0.log)]
    Bank(AbciError),
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
    /// Malformed bond or price coin.
    #[error("{0}: invalid coins")]
    InvalidCoins(String),
    /// Name, description or license out of bounds.
    #[error("invalid datanet metadata: {0}")]
    InvalidMetadata(String),
    /// Malformed row schema.
    #[error("invalid row schema: {0}")]
    InvalidSchema(String),
    /// Malformed curation policy.
    #[error("invalid curation policy: {0}")]
    InvalidPolicy(String),
    /// No datanet with this id.
    #[error("datanet {0} not found")]
    DatanetNotFound(u64),
    /// The datanet was delisted by governance.
    #[error("datanet {0} is delisted")]
    DatanetDelisted(u64),
    /// A contribution without rows.
    #[error("a contribution needs at least one row")]
    NoRows,
    /// More rows than allowed in one contribution.
    #[error("{count} rows exceed the maximum of {max} per contribution")]
    TooManyRows {
        /// Rows sent.
        count: u64,
        /// Limit.
        max: u64,
    },
    /// A row over the datanet's size limit (or empty).
    #[error("row {index} is {size} bytes; rows must be 1..={max} bytes")]
    RowSize {
        /// Index of the row in the message.
        index: u64,
        /// Its size.
        size: u64,
        /// Limit.
        max: u64,
    },
    /// A row that does not match the datanet's schema.
    #[error("row {index} does not match the datanet schema: {reason}")]
    SchemaMismatch {
        /// Index of the row in the message.
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The bond in the message differs from the datanet's policy.
    #[error("bond {got} does not match the datanet's contribution bond {expected}")]
    BondMismatch {
        /// Policy bond.
        expected: String,
        /// Bond in the message.
        got: String,
    },
    /// No such contribution.
    #[error("contribution {contribution_id} of datanet {datanet_id} not found")]
    ContributionNotFound {
        /// Datanet.
        datanet_id: u64,
        /// Contribution.
        contribution_id: u64,
    },
    /// The contribution was already accepted or rejected.
    #[error("contribution {contribution_id} of datanet {datanet_id} is already {status}")]
    AlreadyDecided {
        /// Datanet.
        datanet_id: u64,
        /// Contribution.
        contribution_id: u64,
        /// Its status.
        status: String,
    },
    /// The curator already voted on this contribution.
    #[error("curator {0} already voted on this contribution")]
    AlreadyVoted(String),
    /// Review without a reason, or a reason too long.
    #[error("invalid review: {0}")]
    InvalidReview(String),
    /// Nothing (new) to publish.
    #[error("nothing to publish: {0}")]
    NothingToPublish(String),
    /// No such version.
    #[error("version {version} of datanet {datanet_id} not found")]
    VersionNotFound {
        /// Datanet.
        datanet_id: u64,
        /// Version.
        version: u64,
    },
    /// No such row (never stored, or deleted with its rejected contribution).
    #[error("row {row_id} of datanet {datanet_id} not found")]
    RowNotFound {
        /// Datanet.
        datanet_id: u64,
        /// Row.
        row_id: u64,
    },
    /// Delisting something already delisted.
    #[error("{0} is already delisted")]
    AlreadyDelisted(String),
    /// Invalid genesis.
    #[error("invalid datanet genesis: {0}")]
    InvalidGenesis(String),
    /// A counter or amount overflowed.
    #[error("overflow: {0}")]
    Overflow(String),
    /// Invalid module params.
    #[error("invalid datanet params: {0}")]
    InvalidParams(String),
    /// Stored data inconsistent with itself (never expected).
    #[error("corrupt datanet state: {0}")]
    Corrupt(String),
}

impl ErrorCode for DatanetError {
    fn codespace(&self) -> &'static str {
        match self {
            Self::State(e) => e.codespace(),
            Self::Bank(e) => e.codespace,
            Self::InvalidAddress { .. } | Self::Unauthorized(_) | Self::InvalidCoins(_) => SDK_CODESPACE,
            _ => DATANET_CODESPACE,
        }
    }

    fn code(&self) -> u32 {
        match self {
            Self::State(e) => e.code(),
            Self::Bank(e) => e.code,
            Self::InvalidAddress { .. } => sdk_codes::INVALID_ADDRESS,
            Self::Unauthorized(_) => sdk_codes::UNAUTHORIZED,
            Self::InvalidCoins(_) => sdk_codes::INVALID_COINS,
            Self::InvalidMetadata(_) => 2,
            Self::InvalidSchema(_) => 3,
            Self::InvalidPolicy(_) => 4,
            Self::DatanetNotFound(_) => 5,
            Self::DatanetDelisted(_) => 6,
            Self::NoRows => 7,
            Self::TooManyRows { .. } => 8,
            Self::RowSize { .. } => 9,
            Self::SchemaMismatch { .. } => 10,
            Self::BondMismatch { .. } => 11,
            Self::ContributionNotFound { .. } => 12,
            Self::AlreadyDecided { .. } => 13,
            Self::AlreadyVoted(_) => 14,
            Self::InvalidReview(_) => 15,
            Self::NothingToPublish(_) => 16,
            Self::VersionNotFound { .. } => 17,
            Self::RowNotFound { .. } => 18,
            Self::AlreadyDelisted(_) => 19,
            Self::InvalidGenesis(_) => 20,
            Self::Overflow(_) => 21,
            Self::InvalidParams(_) => 22,
            Self::Corrupt(_) => 23,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_frozen() {
        let cases: Vec<(DatanetError, &str, u32)> = vec![
            (DatanetError::Unauthorized("x".into()), "sdk", 4),
            (DatanetError::InvalidAddress { field: "owner", reason: "bad".into() }, "sdk", 7),
            (DatanetError::InvalidCoins("x".into()), "sdk", 10),
            (DatanetError::Bank(AbciError::sdk(5, "insufficient funds")), "sdk", 5),
            (DatanetError::InvalidMetadata("x".into()), "datanet", 2),
            (DatanetError::DatanetNotFound(1), "datanet", 5),
            (DatanetError::DatanetDelisted(1), "datanet", 6),
            (DatanetError::RowSize { index: 0, size: 9, max: 8 }, "datanet", 9),
            (DatanetError::SchemaMismatch { index: 0, reason: "x".into() }, "datanet", 10),
            (DatanetError::VersionNotFound { datanet_id: 1, version: 2 }, "datanet", 17),
            (DatanetError::Corrupt("x".into()), "datanet", 23),
        ];
        for (err, space, code) in cases {
            assert_eq!((err.codespace(), err.code()), (space, code), "{err}");
        }
    }
}
