//! Token choice, owned by the executor on both engines: greedy arg-max, or seeded sampling driven
//! by a ChaCha20 generator seeded from the request's seed alone (never a process-global RNG), so
//! the choice depends only on the logits, the profile and the seed.
//!
//! Seeded sampling, exactly: sort candidates by (logit descending, id ascending); keep the first
//! `top_k` (all if 0); weights `w_i = exp((l_i - l_max) · 1000 / temperature_milli)` in f64, summed
//! in that order; draw `u = (next_u64 >> 11) · 2⁻⁵³ · Σw` and take the first candidate whose running
//! sum exceeds `u` (the last one if rounding leaves none). NaN logits never win.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::profile::SamplingMode;

/// Chooses tokens for one sequence.
#[derive(Clone, Debug)]
pub struct TokenSelector {
    mode: SamplingMode,
    rng: ChaCha20Rng,
}

impl TokenSelector {
    /// A selector for `mode`, with its own generator seeded from `seed`.
    pub fn new(mode: SamplingMode, seed: u64) -> Self {
        Self { mode, rng: ChaCha20Rng::seed_from_u64(seed) }
    }

    /// Picks the next token from a row of logits.
    pub fn select(&mut self, logits: &[f32]) -> u32 {
        match self.mode {
            SamplingMode::Greedy => argmax(logits),
            SamplingMode::Seeded { temperature_milli, top_k } => self.sample(logits, temperature_milli, top_k),
        }
    }

    fn sample(&mut self, logits: &[f32], temperature_milli: u32, top_k: u32) -> u32 {
        let mut order: Vec<u32> = (0..logits.len() as u32).filter(|&i| !logits[i as usize].is_nan()).collect();
        if order.is_empty() {
            return 0;
        }
        order.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]).then(a.cmp(&b)));
        if top_k > 0 {
            order.truncate(top_k as usize);
        }
        let max = f64::from(logits[order[0] as usize]);
        let inv_t = 1000.0 / f64::from(temperature_milli.max(1));
        // The kernels' exp, not libm's: the same bits on every machine.
        let weights: Vec<f64> =
            order.iter().map(|&i| crate::kernels::math::exp_f64((f64::from(logits[i as usize]) - max) * inv_t)).collect();
        let total: f64 = weights.iter().sum();
        let u = ((self.rng.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) * total;
        let mut acc = 0.0;
        for (i, w) in order.iter().zip(&weights) {
            acc += w;
            if acc > u {
                return *i;
            }
        }
        order[order.len() - 1]
    }
}

/// Index of the largest logit; ties (and NaNs, which never win) go to the lowest index.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    let mut found = false;
    for (i, &v) in logits.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        if !found || v > best_v {
            best = i;
            best_v = v;
            found = true;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_ties_and_nans() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NAN, -1.0, f32::NAN]), 1);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
    }

    #[test]
    fn seeded_is_reproducible_and_seed_dependent() {
        let logits: Vec<f32> = (0..50).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let mode = SamplingMode::Seeded { temperature_milli: 1500, top_k: 0 };
        let run = |seed| {
            let mut s = TokenSelector::new(mode, seed);
            (0..64).map(|_| s.select(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        // Sampling spreads over several tokens at this temperature.
        let mut distinct = run(7);
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 3, "{distinct:?}");
    }

    #[test]
    fn top_k_one_is_greedy_and_top_k_bounds_choices() {
        let logits = vec![0.1, 0.9, 0.5, 0.9, -2.0];
        let mut s = TokenSelector::new(SamplingMode::Seeded { temperature_milli: 5000, top_k: 1 }, 3);
        for _ in 0..20 {
            assert_eq!(s.select(&logits), 1);
        }
        let mut s = TokenSelector::new(SamplingMode::Seeded { temperature_milli: 5000, top_k: 2 }, 3);
        for _ in 0..50 {
            let t = s.select(&logits);
            assert!(t == 1 || t == 3, "{t}");
        }
    }

    #[test]
    fn low_temperature_concentrates_on_the_max() {
        let logits = vec![0.0, 1.0, 0.5];
        let mut s = TokenSelector::new(SamplingMode::Seeded { temperature_milli: 1, top_k: 0 }, 99);
        for _ in 0..20 {
            assert_eq!(s.select(&logits), 1);
        }
    }
}
