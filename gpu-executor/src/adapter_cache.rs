//! The adapter cache: loaded adapters kept in memory up to a byte budget and an entry count,
//! least recently used evicted first. Requests hold an `Arc`, so an adapter evicted while in use
//! stays alive until those requests finish (the budget bounds what the cache itself keeps).

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ExecutorError, Result};
use crate::lora::LoraAdapter;

/// An LRU cache of adapters keyed by content hash.
pub struct AdapterCache {
    budget_bytes: u64,
    max_entries: usize,
    bytes: u64,
    clock: u64,
    entries: HashMap<String, (Arc<LoraAdapter>, u64)>,
    evictions: u64,
}

impl AdapterCache {
    /// A cache holding at most `budget_bytes` of adapter weights in at most `max_entries` adapters.
    pub fn new(budget_bytes: u64, max_entries: usize) -> Self {
        Self { budget_bytes, max_entries: max_entries.max(1), bytes: 0, clock: 0, entries: HashMap::new(), evictions: 0 }
    }

    /// The adapter with this hash, marked as just used.
    pub fn get(&mut self, hash: &str) -> Option<Arc<LoraAdapter>> {
        self.clock += 1;
        let now = self.clock;
        self.entries.get_mut(hash).map(|(a, used)| {
            *used = now;
            a.clone()
        })
    }

    /// Whether the adapter is cached (does not touch its recency).
    pub fn contains(&self, hash: &str) -> bool {
        self.entries.contains_key(hash)
    }

    /// Inserts an adapter, evicting least recently used ones until it fits. An adapter larger than
    /// the whole budget is refused.
    pub fn insert(&mut self, adapter: Arc<LoraAdapter>) -> Result<Arc<LoraAdapter>> {
        let size = adapter.bytes();
        if size > self.budget_bytes {
            return Err(ExecutorError::ResourceExhausted(format!(
                "adapter {} takes {size} bytes, more than the adapter cache budget of {} bytes",
                adapter.hash, self.budget_bytes
            )));
        }
        if let Some(existing) = self.get(&adapter.hash) {
            return Ok(existing);
        }
        while self.bytes + size > self.budget_bytes || self.entries.len() >= self.max_entries {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone()) else { break };
            if let Some((a, _)) = self.entries.remove(&oldest) {
                self.bytes -= a.bytes();
                self.evictions += 1;
                tracing::debug!("adapter cache: evicted {oldest}");
            }
        }
        self.clock += 1;
        self.bytes += size;
        self.entries.insert(adapter.hash.clone(), (adapter.clone(), self.clock));
        Ok(adapter)
    }

    /// Bytes of cached adapter weights.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The byte budget.
    pub fn budget_bytes(&self) -> u64 {
        self.budget_bytes
    }

    /// Cached adapters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Evictions so far.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{write_random_adapter, write_tiny_llama, AdapterSpec, TinyLlamaSpec};
    use crate::lora::AdapterLimits;
    use candle_core::{DType, Device};

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write_tiny_llama(&dir.path().join("m"), TinyLlamaSpec::default(), 1).unwrap();
        let model = crate::llama::LlamaModel::load_hf_dir(&dir.path().join("m"), DType::F32, &Device::Cpu).unwrap();
        let adapters: Vec<Arc<LoraAdapter>> = (0..4)
            .map(|i| {
                let p = dir.path().join(format!("a{i}"));
                write_random_adapter(&p, &cfg, &AdapterSpec::default(), i).unwrap();
                Arc::new(LoraAdapter::load(&p, &model, &AdapterLimits::default()).unwrap())
            })
            .collect();
        let one = adapters[0].bytes();
        let mut cache = AdapterCache::new(one * 3, 100);
        for a in &adapters[..3] {
            cache.insert(a.clone()).unwrap();
        }
        assert_eq!(cache.len(), 3);
        // Touch a0 so a1 is the least recently used.
        assert!(cache.get(&adapters[0].hash).is_some());
        cache.insert(adapters[3].clone()).unwrap();
        assert!(cache.contains(&adapters[0].hash));
        assert!(!cache.contains(&adapters[1].hash));
        assert!(cache.bytes() <= cache.budget_bytes());
        assert_eq!(cache.evictions(), 1);
        // Entry-count bound.
        let mut small = AdapterCache::new(u64::MAX, 2);
        for a in &adapters {
            small.insert(a.clone()).unwrap();
        }
        assert_eq!(small.len(), 2);
        // Larger than the budget: refused.
        let mut tiny = AdapterCache::new(one - 1, 10);
        assert!(matches!(tiny.insert(adapters[0].clone()), Err(ExecutorError::ResourceExhausted(_))));
    }
}
