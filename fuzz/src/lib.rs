//! Fuzzing of the chain on stable Rust: a deterministic, structure-aware mutational fuzzer
//! ([`driver`], [`mutate`]) over a committed seed corpus ([`seeds`]) and targets that drive the
//! in-process app through every decoder and ABCI entry point ([`targets`], on the chains of
//! [`world`]). No compiler instrumentation: the feedback is the set of outcome classes (code and
//! log shape) each target reports. See RELIABILITY.md.

pub mod driver;
pub mod mutate;
pub mod rng;
pub mod seeds;
pub mod targets;
pub mod world;
