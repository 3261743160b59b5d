//! The base-model engine: mistral.rs 0.8 runs the forward passes; the executor picks every token.
//!
//! Determinism on this path: the model is built with one running sequence (`max_num_seqs = 1`)
//! and no prefix cache; the prompt goes in as token ids from the executor's tokenizer; and token
//! choice is a custom logits processor that applies the request's [`TokenSelector`] and masks all
//! other logits to −∞, so mistral.rs's own arg-max takes exactly that token and its engine-global
//! RNG (seeded once per engine, shared by all requests) is never used. The processor records the
//! chosen ids, which are the output tokens.
//!
//! Why this matters: mistral.rs treats a request without a temperature as temperature 1.0 and
//! samples from that shared RNG, so the same request gives different outputs depending on what
//! ran before it (measured: 6 identical SmolLM2 requests gave 6 different texts, none the greedy one).
//! Greedy in mistral.rs needs top_k = 1, which the plain baseline of the benchmark uses.

//!
//! mistral.rs is an optional dependency (feature `mistralrs`, on by default). A build without it
//! (`make determinism` builds the executor three times for different CPUs, and mistral.rs would
//! triple a half-hour compile) has no [`MistralEngine`] value at all, and asking for the
//! mistral.rs engine fails with a configuration error.

use candle_core::DType;

#[cfg(feature = "mistralrs")]
mod engine;
#[cfg(not(feature = "mistralrs"))]
pub use absent::MistralEngine;
#[cfg(feature = "mistralrs")]
pub use engine::MistralEngine;

/// How mistral.rs is configured.
#[derive(Clone, Copy, Debug)]
pub struct MistralSettings {
    /// Sequences mistral.rs may run at once (1 under a determinism profile).
    pub max_num_seqs: usize,
    /// Prefix cache size (None under a determinism profile).
    pub prefix_cache_n: Option<usize>,
    /// Activation dtype for safetensors models (GGUF models pick their own).
    pub dtype: DType,
}

impl MistralSettings {
    /// The determinism profile's settings.
    pub fn deterministic(dtype: DType) -> Self {
        Self { max_num_seqs: 1, prefix_cache_n: None, dtype }
    }

    /// mistral.rs's own defaults (32 sequences, prefix cache of 16): the benchmark baseline.
    pub fn mistral_defaults(dtype: DType) -> Self {
        Self { max_num_seqs: 32, prefix_cache_n: Some(16), dtype }
    }
}

#[cfg(not(feature = "mistralrs"))]
mod absent {
    use std::path::Path;

    use super::MistralSettings;
    use crate::error::{ExecutorError, Result};
    use crate::sampling::TokenSelector;

    /// No value of this type exists in a build without mistral.rs.
    pub enum MistralEngine {}

    impl MistralEngine {
        /// Refuses: this build has no mistral.rs.
        pub async fn load(_path: &Path, _gguf: bool, _settings: MistralSettings) -> Result<Self> {
            Err(ExecutorError::Config("this open-executor was built without mistral.rs (feature `mistralrs`)".into()))
        }

        /// Unreachable (no engine exists).
        pub async fn generate(&self, _prompt: Vec<u32>, _max_tokens: usize, _selector: TokenSelector) -> Result<Vec<u32>> {
            match *self {}
        }

        /// Unreachable (no engine exists).
        pub fn max_sequence_length(&self) -> Option<usize> {
            match *self {}
        }
    }
}
