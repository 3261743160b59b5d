//! Integration tests of the executor (one test binary): determinism across runs, threads and
//! restarts; OpenLoRA's unmerged = merged equivalence and batching; the gRPC service's error
//! handling; and the real SmolLM2-135M GGUF when it is present (`make executor-model`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod determinism;
mod grpc;
mod kernel_paths;
mod openlora;
mod smollm;
mod training;
