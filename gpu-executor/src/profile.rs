//! The determinism profile: everything besides the request that can change an output, pinned so
//! that the same request gives the same tokens bit for bit across runs, threads and restarts.
//!
//! What the executor does for each field:
//! * `dtype` — the compute dtype the model is loaded with (a request under another dtype is
//!   refused, never silently served in a different precision).
//! * `sampling` — greedy (arg-max, ties to the lowest id) or seeded (ChaCha20 from the request's
//!   seed alone; see [`crate::sampling`]). Token choice is always the executor's own code, also on
//!   the mistral.rs path, so no engine-global RNG is involved.
//! * `max_tokens` — bound for the request's max_tokens.
//! * `prefix_cache` — must be off (mistral.rs is built with its prefix cache disabled).
//! * `batching` — mistral.rs runs one sequence at a time (`max_num_seqs = 1`); OpenLoRA batches
//!   only through row-wise kernels, so a row's result does not depend on the batch.
//! * CPU threads — fixed per process (`--threads`, `RAYON_NUM_THREADS`); the CPU kernels used do
//!   not split reductions across threads, so the output does not depend on the count (tested).

use sha2::{Digest, Sha256};

use crate::error::{ExecutorError, Result};
use crate::hashing::Digest32;
use crate::pb;

/// Compute dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComputeDType {
    /// 32-bit float (the CPU default).
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
}

impl ComputeDType {
    /// Parses "f32", "f16", "bf16" (empty: f32).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "bf16" => Ok(Self::BF16),
            other => Err(ExecutorError::UnsupportedProfile(format!("dtype {other:?} (expected f32, f16 or bf16)"))),
        }
    }

    /// Canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::BF16 => "bf16",
        }
    }

    /// The candle dtype.
    pub fn candle(self) -> candle_core::DType {
        match self {
            Self::F32 => candle_core::DType::F32,
            Self::F16 => candle_core::DType::F16,
            Self::BF16 => candle_core::DType::BF16,
        }
    }
}

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SamplingMode {
    /// Arg-max; ties go to the lowest token id.
    Greedy,
    /// Seeded sampling from softmax(logits / temperature) over the top-k tokens.
    Seeded {
        /// Temperature × 1000, 1..=10000.
        temperature_milli: u32,
        /// Keep the k most likely tokens; 0 keeps all.
        top_k: u32,
    },
}

/// Batching policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchingMode {
    /// One sequence at a time.
    Sequential,
    /// Batched through batch-invariant kernels.
    BatchInvariant,
}

/// A normalized determinism profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeterminismProfile {
    /// Compute dtype.
    pub dtype: ComputeDType,
    /// Token choice.
    pub sampling: SamplingMode,
    /// Bound for a request's max_tokens (0: the executor's limit).
    pub max_tokens: u32,
    /// Batching policy.
    pub batching: BatchingMode,
}

impl Default for DeterminismProfile {
    fn default() -> Self {
        Self { dtype: ComputeDType::F32, sampling: SamplingMode::Greedy, max_tokens: 0, batching: BatchingMode::BatchInvariant }
    }
}

/// Largest temperature a seeded profile may use (×1000).
pub const MAX_TEMPERATURE_MILLI: u32 = 10_000;

impl DeterminismProfile {
    /// Validates and normalizes a profile from the wire; `None` gives the default.
    pub fn from_proto(p: Option<&pb::DeterminismProfile>) -> Result<Self> {
        let Some(p) = p else { return Ok(Self::default()) };
        if p.prefix_cache {
            return Err(ExecutorError::UnsupportedProfile(
                "prefix_cache must be false: it makes outputs depend on earlier requests".into(),
            ));
        }
        let dtype = ComputeDType::parse(&p.dtype)?;
        let sampling = match pb::Sampling::try_from(p.sampling) {
            Ok(pb::Sampling::Unspecified | pb::Sampling::Greedy) => {
                if p.temperature_milli != 0 || p.top_k != 0 {
                    return Err(ExecutorError::UnsupportedProfile("temperature_milli and top_k are for SEEDED sampling only".into()));
                }
                SamplingMode::Greedy
            }
            Ok(pb::Sampling::Seeded) => {
                if p.temperature_milli == 0 || p.temperature_milli > MAX_TEMPERATURE_MILLI {
                    return Err(ExecutorError::UnsupportedProfile(format!(
                        "temperature_milli {} out of range 1..={MAX_TEMPERATURE_MILLI}",
                        p.temperature_milli
                    )));
                }
                SamplingMode::Seeded { temperature_milli: p.temperature_milli, top_k: p.top_k }
            }
            Err(_) => return Err(ExecutorError::UnsupportedProfile(format!("sampling value {}", p.sampling))),
        };
        let batching = match pb::Batching::try_from(p.batching) {
            Ok(pb::Batching::Unspecified | pb::Batching::BatchInvariant) => BatchingMode::BatchInvariant,
            Ok(pb::Batching::Sequential) => BatchingMode::Sequential,
            Err(_) => return Err(ExecutorError::UnsupportedProfile(format!("batching value {}", p.batching))),
        };
        Ok(Self { dtype, sampling, max_tokens: p.max_tokens, batching })
    }

    /// The wire form of this (normalized) profile.
    pub fn to_proto(&self) -> pb::DeterminismProfile {
        let (sampling, temperature_milli, top_k) = match self.sampling {
            SamplingMode::Greedy => (pb::Sampling::Greedy, 0, 0),
            SamplingMode::Seeded { temperature_milli, top_k } => (pb::Sampling::Seeded, temperature_milli, top_k),
        };
        pb::DeterminismProfile {
            dtype: self.dtype.as_str().to_string(),
            sampling: sampling as i32,
            temperature_milli,
            top_k,
            max_tokens: self.max_tokens,
            prefix_cache: false,
            batching: match self.batching {
                BatchingMode::Sequential => pb::Batching::Sequential as i32,
                BatchingMode::BatchInvariant => pb::Batching::BatchInvariant as i32,
            },
        }
    }

    /// The profile hash documented in executor.proto.
    pub fn hash(&self) -> Digest32 {
        let p = self.to_proto();
        let mut h = Sha256::new();
        h.update(b"openledger.executor.v1.profile");
        h.update((p.dtype.len() as u32).to_le_bytes());
        h.update(p.dtype.as_bytes());
        h.update((p.sampling as u32).to_le_bytes());
        h.update(p.temperature_milli.to_le_bytes());
        h.update(p.top_k.to_le_bytes());
        h.update(p.max_tokens.to_le_bytes());
        h.update([u8::from(p.prefix_cache)]);
        h.update((p.batching as u32).to_le_bytes());
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_unspecified_normalize_alike() {
        let unspecified = pb::DeterminismProfile::default();
        let p = DeterminismProfile::from_proto(Some(&unspecified)).unwrap();
        assert_eq!(p, DeterminismProfile::default());
        assert_eq!(p.hash(), DeterminismProfile::from_proto(None).unwrap().hash());
        assert_eq!(DeterminismProfile::from_proto(Some(&p.to_proto())).unwrap(), p);
    }

    #[test]
    fn rejects_prefix_cache_bad_temperature_and_dtype() {
        let mut p = pb::DeterminismProfile { prefix_cache: true, ..Default::default() };
        assert!(DeterminismProfile::from_proto(Some(&p)).is_err());
        p.prefix_cache = false;
        p.sampling = pb::Sampling::Seeded as i32;
        assert!(DeterminismProfile::from_proto(Some(&p)).is_err());
        p.temperature_milli = 700;
        assert!(DeterminismProfile::from_proto(Some(&p)).is_ok());
        p.temperature_milli = MAX_TEMPERATURE_MILLI + 1;
        assert!(DeterminismProfile::from_proto(Some(&p)).is_err());
        let p = pb::DeterminismProfile { dtype: "f8".into(), ..Default::default() };
        assert!(DeterminismProfile::from_proto(Some(&p)).is_err());
        let p = pb::DeterminismProfile { sampling: 9, ..Default::default() };
        assert!(DeterminismProfile::from_proto(Some(&p)).is_err());
    }

    #[test]
    fn hash_separates_fields() {
        let base = DeterminismProfile::default();
        let mut hashes = vec![base.hash()];
        hashes.push(DeterminismProfile { dtype: ComputeDType::BF16, ..base }.hash());
        hashes.push(DeterminismProfile { sampling: SamplingMode::Seeded { temperature_milli: 700, top_k: 0 }, ..base }.hash());
        hashes.push(DeterminismProfile { sampling: SamplingMode::Seeded { temperature_milli: 700, top_k: 40 }, ..base }.hash());
        hashes.push(DeterminismProfile { max_tokens: 64, ..base }.hash());
        hashes.push(DeterminismProfile { batching: BatchingMode::Sequential, ..base }.hash());
        let mut dedup = hashes.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), hashes.len());
    }
}
