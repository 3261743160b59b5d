//! Errors of the attribution module with their frozen `(codespace, code)` pairs: codespace
//! `attribution` from code 2, and the SDK's root codes where the SDK would use them
//! (unauthorized 4, invalid address 7); bank and community-pool failures keep their own codes.

use openledger_core::error::{sdk_codes, ErrorCode, SDK_CODESPACE};
use openledger_core::{AbciError, StateError};

/// Codespace of attribution-specific errors.
pub const ATTRIBUTION_CODESPACE: &str = "attribution";

/// Attribution errors. The codes are frozen: never renumber, only append.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    /// State access failed or ran out of gas.
    #[error(transparent)]
    State(#[from] StateError),
    /// A bank or community-pool operation failed (its own codespace and code).
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
    /// Invalid module params.
    #[error("invalid attribution params: {0}")]
    InvalidParams(String),
    /// No such datanet version.
    #[error("version {version} of datanet {datanet_id} not found")]
    VersionNotFound {
        /// Datanet.
        datanet_id: u64,
        /// Version.
        version: u64,
    },
    /// The version has no index yet (queries cannot build one).
    #[error("version {version} of datanet {datanet_id} is not indexed yet")]
    NotIndexed {
        /// Datanet.
        datanet_id: u64,
        /// Version.
        version: u64,
    },
    /// An output text over the size limit.
    #[error("text is {size} bytes; at most {max} bytes can be attributed")]
    TextTooLarge {
        /// Its size.
        size: u64,
        /// Limit.
        max: u64,
    },
    /// Too many (or no) versions pinned.
    #[error("invalid versions: {0}")]
    InvalidVersions(String),
    /// The inference was already attributed.
    #[error("inference {0} already has an attribution record")]
    AlreadyAttributed(u64),
    /// No record for this inference.
    #[error("no attribution record for inference {0}")]
    RecordNotFound(u64),
    /// Invalid genesis.
    #[error("invalid attribution genesis: {0}")]
    InvalidGenesis(String),
    /// A counter or amount overflowed.
    #[error("overflow: {0}")]
    Overflow(String),
    /// Stored data inconsistent with itself (never expected).
    #[error("corrupt attribution state: {0}")]
    Corrupt(String),
    /// A datanet read failed.
    #[error("datanet: {0}")]
    Datanet(String),
    /// The block's indexing budget cannot take this version.
    #[error(
        "this block already queued {used} of its {max} bytes to index; a version of {bytes} bytes does not fit: retry in a later block"
    )]
    BlockIndexBudget {
        /// The version's bytes.
        bytes: u64,
        /// Already queued in this block.
        used: u64,
        /// The budget.
        max: u64,
    },
}

impl ErrorCode for AttributionError {
    fn codespace(&self) -> &'static str {
        match self {
            Self::State(e) => e.codespace(),
            Self::Bank(e) => e.codespace,
            Self::InvalidAddress { .. } | Self::Unauthorized(_) => SDK_CODESPACE,
            _ => ATTRIBUTION_CODESPACE,
        }
    }

    fn code(&self) -> u32 {
        match self {
            Self::State(e) => e.code(),
            Self::Bank(e) => e.code,
            Self::InvalidAddress { .. } => sdk_codes::INVALID_ADDRESS,
            Self::Unauthorized(_) => sdk_codes::UNAUTHORIZED,
            Self::InvalidParams(_) => 2,
            Self::VersionNotFound { .. } => 3,
            Self::NotIndexed { .. } => 4,
            Self::TextTooLarge { .. } => 5,
            Self::InvalidVersions(_) => 6,
            Self::AlreadyAttributed(_) => 7,
            Self::RecordNotFound(_) => 8,
            Self::InvalidGenesis(_) => 9,
            Self::Overflow(_) => 10,
            Self::Corrupt(_) => 11,
            Self::Datanet(_) => 12,
            Self::BlockIndexBudget { .. } => 13,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_frozen() {
        let cases: Vec<(AttributionError, &str, u32)> = vec![
            (AttributionError::Unauthorized("x".into()), "sdk", 4),
            (AttributionError::InvalidAddress { field: "authority", reason: "bad".into() }, "sdk", 7),
            (AttributionError::Bank(AbciError::sdk(5, "insufficient funds")), "sdk", 5),
            (AttributionError::InvalidParams("x".into()), "attribution", 2),
            (AttributionError::VersionNotFound { datanet_id: 1, version: 2 }, "attribution", 3),
            (AttributionError::NotIndexed { datanet_id: 1, version: 2 }, "attribution", 4),
            (AttributionError::TextTooLarge { size: 9, max: 8 }, "attribution", 5),
            (AttributionError::InvalidVersions("x".into()), "attribution", 6),
            (AttributionError::AlreadyAttributed(1), "attribution", 7),
            (AttributionError::RecordNotFound(1), "attribution", 8),
            (AttributionError::InvalidGenesis("x".into()), "attribution", 9),
            (AttributionError::Overflow("x".into()), "attribution", 10),
            (AttributionError::Corrupt("x".into()), "attribution", 11),
            (AttributionError::Datanet("x".into()), "attribution", 12),
        ];
        for (err, space, code) in cases {
            assert_eq!((err.codespace(), err.code()), (space, code), "{err}");
        }
    }
}
