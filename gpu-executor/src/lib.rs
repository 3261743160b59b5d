//! `open-executor`: the process a validator runs beside `openledgerd` to execute inference.
//!
//! * Base models run on mistral.rs 0.8 ([`mistral_engine`]); LoRA adapters run unmerged on the
//!   executor's own candle Llama ([`llama`], [`openlora`]), many adapters over one base in one
//!   batch, loaded on demand into an LRU cache with a byte budget ([`adapter_cache`]).
//! * Every output is deterministic under a [`profile::DeterminismProfile`] and identified by
//!   `sha256(token ids u32 LE ‖ text)` ([`hashing`]); weights are identified by content hash and a
//!   request naming weights the executor does not hold is refused.
//! * A tonic gRPC service on loopback ([`service`]) and a CLI (`src/main.rs`).

pub mod adapter_cache;
pub mod artifact;
pub mod chat;
pub mod error;
pub mod executor;
pub mod fixtures;
pub mod hashing;
pub mod kernels;
pub mod llama;
pub mod lora;
pub mod mistral_engine;
pub mod openlora;
pub mod probe;
pub mod profile;
pub mod progress;
pub mod sampling;
pub mod service;
pub mod source;
pub mod tokenizer;
pub mod train;

/// Generated protobuf types and tonic service of `openledger.executor.v1`.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("openledger.executor.v1");
}

pub use error::{ExecutorError, Result};
pub use executor::{ExecuteOutput, ExecuteParams, Executor, ExecutorConfig, Limits};

/// Sets the CPU thread count used by candle's kernels and rayon (`RAYON_NUM_THREADS`). Call it
/// before any computation or thread pool exists (first thing in `main`); 0 keeps the default.
pub fn set_cpu_threads(n: usize) {
    if n > 0 {
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
}
