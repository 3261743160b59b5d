//! Error-code plumbing: every module error maps to a frozen `(codespace, code)` pair, as in the
//! Cosmos SDK, so clients (CosmJS, Keplr) see the codes they expect.

/// The SDK's root codespace, used for the common cases (decode, auth, fees, gas, sequence).
pub const SDK_CODESPACE: &str = "sdk";
/// Codespace for internal errors that should never happen (SDK's `undefined`, code 1).
pub const UNDEFINED_CODESPACE: &str = "undefined";

/// The SDK's root error codes (cosmos-sdk `types/errors`), frozen.
pub mod sdk_codes {
    /// Internal error.
    pub const INTERNAL: u32 = 1;
    /// Tx could not be decoded.
    pub const TX_DECODE: u32 = 2;
    /// Invalid sequence.
    pub const INVALID_SEQUENCE: u32 = 3;
    /// Signature verification failed.
    pub const UNAUTHORIZED: u32 = 4;
    /// Not enough funds.
    pub const INSUFFICIENT_FUNDS: u32 = 5;
    /// Unknown request (e.g. unknown query path).
    pub const UNKNOWN_REQUEST: u32 = 6;
    /// Malformed address.
    pub const INVALID_ADDRESS: u32 = 7;
    /// Malformed or mismatched public key.
    pub const INVALID_PUBKEY: u32 = 8;
    /// Address unknown to the chain.
    pub const UNKNOWN_ADDRESS: u32 = 9;
    /// Malformed coins.
    pub const INVALID_COINS: u32 = 10;
    /// Out of gas.
    pub const OUT_OF_GAS: u32 = 11;
    /// Memo too large.
    pub const MEMO_TOO_LARGE: u32 = 12;
    /// Fee below the minimum.
    pub const INSUFFICIENT_FEE: u32 = 13;
    /// Too many signatures.
    pub const TOO_MANY_SIGNATURES: u32 = 14;
    /// No signatures.
    pub const NO_SIGNATURES: u32 = 15;
    /// Invalid request.
    pub const INVALID_REQUEST: u32 = 18;
    /// Tx too large.
    pub const TX_TOO_LARGE: u32 = 21;
    /// Key not found.
    pub const KEY_NOT_FOUND: u32 = 22;
    /// Invalid height.
    pub const INVALID_HEIGHT: u32 = 26;
    /// Invalid chain id.
    pub const INVALID_CHAIN_ID: u32 = 28;
    /// Tx timeout height passed.
    pub const TX_TIMEOUT_HEIGHT: u32 = 30;
    /// Unknown extension options.
    pub const UNKNOWN_EXTENSION_OPTIONS: u32 = 31;
    /// Wrong sequence.
    pub const WRONG_SEQUENCE: u32 = 32;
    /// Not supported.
    pub const NOT_SUPPORTED: u32 = 37;
    /// Invalid gas limit.
    pub const INVALID_GAS_LIMIT: u32 = 41;
}

/// Implemented by every module error: its frozen ABCI `(codespace, code)`.
pub trait ErrorCode: std::fmt::Display {
    /// Codespace (module name or `sdk`).
    fn codespace(&self) -> &'static str;
    /// Non-zero code, frozen once released.
    fn code(&self) -> u32;
}

/// An error ready to be returned over ABCI: codespace, code and log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{log}")]
pub struct AbciError {
    /// Codespace.
    pub codespace: &'static str,
    /// Non-zero code.
    pub code: u32,
    /// Human-readable log, as the SDK writes it (`<detail>: <error kind>`).
    pub log: String,
}

impl AbciError {
    /// An error in the SDK codespace.
    pub fn sdk(code: u32, log: impl Into<String>) -> Self {
        Self { codespace: SDK_CODESPACE, code, log: log.into() }
    }

    /// Converts any module error.
    pub fn from_code<E: ErrorCode + ?Sized>(err: &E) -> Self {
        Self { codespace: err.codespace(), code: err.code(), log: err.to_string() }
    }
}

impl ErrorCode for AbciError {
    fn codespace(&self) -> &'static str {
        self.codespace
    }
    fn code(&self) -> u32 {
        self.code
    }
}

/// Errors of read-only queries (gRPC and ABCI Query), mapped to gRPC status codes and to the
/// SDK's ABCI codes and logs (`rpc error: code = NotFound desc = …`) that CosmJS parses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Nothing stored under the key (SDK code 22, gRPC NotFound).
    #[error("{0}")]
    NotFound(String),
    /// Malformed request (SDK code 18, gRPC InvalidArgument).
    #[error("{0}")]
    InvalidArgument(String),
    /// Unknown query path (SDK code 6, gRPC Unimplemented).
    #[error("{0}")]
    UnknownPath(String),
    /// Height outside what is stored (SDK code 26, gRPC InvalidArgument).
    #[error("{0}")]
    InvalidHeight(String),
    /// Store failure (SDK code 1, gRPC Internal).
    #[error("{0}")]
    Internal(String),
}

impl QueryError {
    /// The gRPC status code name, as the Go gRPC library prints it.
    pub fn grpc_code_name(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NotFound",
            Self::InvalidArgument(_) | Self::InvalidHeight(_) => "InvalidArgument",
            Self::UnknownPath(_) => "Unimplemented",
            Self::Internal(_) => "Internal",
        }
    }

    /// The ABCI log line, as the SDK's gRPC-over-ABCI router writes it.
    pub fn abci_log(&self) -> String {
        match self {
            Self::NotFound(msg) => format!("rpc error: code = NotFound desc = {msg}: key not found"),
            other => format!("rpc error: code = {} desc = {}", other.grpc_code_name(), other),
        }
    }
}

impl ErrorCode for QueryError {
    fn codespace(&self) -> &'static str {
        match self {
            Self::Internal(_) => UNDEFINED_CODESPACE,
            _ => SDK_CODESPACE,
        }
    }
    fn code(&self) -> u32 {
        match self {
            Self::NotFound(_) => sdk_codes::KEY_NOT_FOUND,
            Self::InvalidArgument(_) => sdk_codes::INVALID_REQUEST,
            Self::UnknownPath(_) => sdk_codes::UNKNOWN_REQUEST,
            Self::InvalidHeight(_) => sdk_codes::INVALID_HEIGHT,
            Self::Internal(_) => sdk_codes::INTERNAL,
        }
    }
}

impl From<crate::state::StateError> for QueryError {
    fn from(value: crate::state::StateError) -> Self {
        Self::Internal(value.to_string())
    }
}
