//! The determinism probe: 50 fixed prompts, each decoded greedily for a few tokens, with every
//! logit's bits and every chosen token hashed; and a short ModelFactory training run on the same
//! prompts, with every step's loss and every trained matrix hashed. Two executors that give the
//! same digests computed the same bits. The integration tests compare every kernel path and thread count of one build;
//! `open-executor probe` prints the digests so that `make determinism` can compare builds for
//! different CPUs (`-C target-cpu=x86-64`, `x86-64-v3`, `native`) and machines.

use sha2::{Digest, Sha256};

use crate::error::{ExecutorError, Result};
use crate::hashing::Digest32;
use crate::kernels::Isa;
use crate::llama::{Kernels, LlamaModel, Segment};
use crate::lora::Proj;
use crate::train::{self, TrainLimits, TrainSettings};

/// Prompts in the probe.
pub const PROMPTS: u32 = 50;

/// The probe's prompts: 3 to 13 token ids each, spread over the vocabulary.
pub fn prompts(vocab: u32) -> Vec<Vec<u32>> {
    let vocab = vocab.max(1);
    (0..PROMPTS).map(|i| (0..(3 + i % 11)).map(|j| (i * 7919 + j * 104_729 + 17) % vocab).collect()).collect()
}

/// One digest per prompt: `steps` greedy tokens on `kernels`, on a pool of `threads` threads.
pub fn digests(model: &LlamaModel, kernels: Kernels, threads: usize, steps: usize) -> Result<Vec<Digest32>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| ExecutorError::Kernel(e.to_string()))?;
    let vocab = u32::try_from(model.config().vocab).unwrap_or(u32::MAX);
    pool.install(|| {
        prompts(vocab)
            .iter()
            .map(|prompt| {
                let mut h = Sha256::new();
                let mut cache = model.new_cache(prompt.len() + steps);
                let mut input = prompt.clone();
                for _ in 0..steps {
                    let seg = Segment { row: 0, len: input.len(), pos: cache.pos(), adapter: None };
                    let logits = model.forward_with(kernels, &input, &[seg], &mut [&mut cache])?.get(0)?.to_vec1::<f32>()?;
                    let next = crate::sampling::argmax(&logits);
                    for l in &logits {
                        h.update(l.to_bits().to_le_bytes());
                    }
                    h.update(next.to_le_bytes());
                    input = vec![next];
                }
                Ok(h.finalize().into())
            })
            .collect()
    })
}

/// One digest over all the prompts' digests.
pub fn combined(digests: &[Digest32]) -> Digest32 {
    let mut h = Sha256::new();
    for d in digests {
        h.update(d);
    }
    h.finalize().into()
}

/// Prompt rows per training step of the probe.
pub const TRAIN_BATCH: usize = 4;

/// The training probe: `steps` steps (rank 4 on every projection, learning rate 0.01, seed
/// 2026) over the probe's prompts, [`TRAIN_BATCH`] rows per step, on `isa` with `threads`
/// threads; [`train::probe_digest`] of the run.
pub fn training_digest(model: &LlamaModel, isa: Isa, threads: usize, steps: usize) -> Result<Digest32> {
    let config = crate::pb::TrainConfig {
        rank: 4,
        target_modules: Proj::ALL.iter().map(|p| p.peft_name().to_string()).collect(),
        learning_rate_micro: 10_000,
        seed: 2026,
        ..Default::default()
    };
    let settings = TrainSettings::from_proto(Some(&config), &TrainLimits::default())?;
    let rows = prompts(u32::try_from(model.config().vocab).unwrap_or(u32::MAX));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| ExecutorError::Kernel(e.to_string()))?;
    pool.install(|| train::probe_digest(model, isa, &settings, &rows, TRAIN_BATCH, steps))
}
