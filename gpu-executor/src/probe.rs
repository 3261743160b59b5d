//! The determinism probe: 50 fixed prompts, each decoded greedily for a few tokens, with every
//! logit's bits and every chosen token hashed. Two executors that give the same digest computed
//! the same bits. The integration tests compare every kernel path and thread count of one build;
//! `open-executor probe` prints the digests so that `make determinism` can compare builds for
//! different CPUs (`-C target-cpu=x86-64`, `x86-64-v3`, `native`) and machines.

use sha2::{Digest, Sha256};

use crate::error::{ExecutorError, Result};
use crate::hashing::Digest32;
use crate::llama::{Kernels, LlamaModel, Segment};

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
