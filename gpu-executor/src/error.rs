//! The crate's one error type, and how each error maps to a gRPC status code.

use std::path::PathBuf;

/// Everything that can go wrong in the executor.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// A request named a base-model hash this executor does not hold. It is never served by
    /// another model.
    #[error("unknown model {0}: this executor does not hold weights with that hash")]
    UnknownModel(String),
    /// A request named an adapter hash that is not registered (for that model).
    #[error("unknown adapter {0}: this executor does not hold an adapter with that hash")]
    UnknownAdapter(String),
    /// A malformed or out-of-bounds request field.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The prompt plus the tokens to generate do not fit the model's context.
    #[error("prompt of {prompt_tokens} tokens plus max_tokens {max_tokens} exceeds the context length {context_length}")]
    ContextOverflow {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// Tokens asked for.
        max_tokens: usize,
        /// Model context length.
        context_length: usize,
    },
    /// A profile the executor cannot honour.
    #[error("unsupported determinism profile: {0}")]
    UnsupportedProfile(String),
    /// An adapter whose files are missing, malformed or do not fit the base model.
    #[error("corrupt adapter {path}: {reason}")]
    CorruptAdapter {
        /// Adapter directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An adapter registered for another base model.
    #[error("adapter {adapter} is for base model {registered_for}, not {requested}")]
    AdapterModelMismatch {
        /// Adapter hash.
        adapter: String,
        /// The model it was registered for.
        registered_for: String,
        /// The model the request named.
        requested: String,
    },
    /// Files changed on disk after they were registered: their hash no longer matches.
    #[error("{what} changed on disk: registered as {expected}, now hashes to {found}")]
    HashMismatch {
        /// Which files.
        what: String,
        /// Hash at registration.
        expected: String,
        /// Hash now.
        found: String,
    },
    /// A model directory or file the executor cannot load.
    #[error("cannot load model {path}: {reason}")]
    InvalidModel {
        /// Model path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A size bound (adapter cache, queue, registry) would be exceeded.
    #[error("resource exhausted: {0}")]
    ResourceExhausted(String),
    /// File-system error.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Tensor computation error.
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Tokenizer error.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
    /// Error from the mistral.rs engine.
    #[error("mistral.rs: {0}")]
    Mistral(String),
    /// An engine worker stopped.
    #[error("engine stopped: {0}")]
    EngineStopped(String),
    /// Bad executor configuration (flags, bind address).
    #[error("configuration: {0}")]
    Config(String),
    /// The portable kernels cannot run (a weight in a format they lack) or, at start-up, the
    /// chosen instruction-set path did not reproduce the reference bits: the executor refuses to
    /// serve rather than risk a slash.
    #[error("portable kernels: {0}")]
    Kernel(String),
    /// Serving transport error.
    #[error("transport: {0}")]
    Transport(String),
    /// A training job failed while running (diverged, could not write its adapter).
    #[error("training failed: {0}")]
    Training(String),
    /// A chat request pinned a template other than the model's: rendering with ours could
    /// build other tokens than the rest of the network.
    #[error("chat template mismatch: the request pins {pinned} but this model's template hashes to {held}")]
    ChatTemplateMismatch {
        /// Hash the request pinned.
        pinned: String,
        /// Hash of the model's template.
        held: String,
    },
    /// A chat request to a model that ships no chat template.
    #[error("model {0} has no chat template: send a plain prompt")]
    NoChatTemplate(String),
}

/// Result with [`ExecutorError`].
pub type Result<T, E = ExecutorError> = std::result::Result<T, E>;

impl ExecutorError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// The gRPC status code a client sees for this error.
    pub fn grpc_code(&self) -> tonic::Code {
        use tonic::Code;
        match self {
            Self::UnknownModel(_) | Self::UnknownAdapter(_) => Code::NotFound,
            Self::InvalidRequest(_) | Self::ContextOverflow { .. } | Self::UnsupportedProfile(_) => Code::InvalidArgument,
            Self::CorruptAdapter { .. }
            | Self::AdapterModelMismatch { .. }
            | Self::HashMismatch { .. }
            | Self::ChatTemplateMismatch { .. }
            | Self::NoChatTemplate(_) => Code::FailedPrecondition,
            Self::ResourceExhausted(_) => Code::ResourceExhausted,
            Self::EngineStopped(_) => Code::Unavailable,
            Self::Training(_) => Code::Aborted,
            Self::InvalidModel { .. }
            | Self::Io { .. }
            | Self::Tensor(_)
            | Self::Tokenizer(_)
            | Self::Mistral(_)
            | Self::Config(_)
            | Self::Kernel(_)
            | Self::Transport(_) => Code::Internal,
        }
    }
}

impl From<ExecutorError> for tonic::Status {
    fn from(e: ExecutorError) -> Self {
        tonic::Status::new(e.grpc_code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_map_to_client_codes() {
        assert_eq!(ExecutorError::UnknownModel("ab".into()).grpc_code(), tonic::Code::NotFound);
        assert_eq!(ExecutorError::InvalidRequest("x".into()).grpc_code(), tonic::Code::InvalidArgument);
        let e = ExecutorError::ContextOverflow { prompt_tokens: 10, max_tokens: 5, context_length: 12 };
        assert_eq!(e.grpc_code(), tonic::Code::InvalidArgument);
        assert!(e.to_string().contains("context length 12"));
        let e = ExecutorError::CorruptAdapter { path: "/a".into(), reason: "bad".into() };
        assert_eq!(tonic::Status::from(e).code(), tonic::Code::FailedPrecondition);
    }
}
