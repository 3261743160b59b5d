//! Copy-on-write state layers. A block runs on one `StateDelta` over the committed state; each
//! tx runs on child deltas over the block's (ante layer, then message layer). A child's writes
//! and events reach its parent only through [`StateDelta::into_parts`] + [`StateDelta::absorb`],
//! so dropping a failed layer leaves the parent untouched.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use crate::events::Event;
use crate::gas::{GasMeter, KV_GAS_COSTS};
use crate::state::{KvPair, StateError, StateRead, StateWrite};
use crate::storage::ChangeSet;

/// A buffered layer of writes and events over a parent state `P`.
pub struct StateDelta<P: StateRead> {
    parent: P,
    writes: ChangeSet,
    events: Vec<Event>,
    gas: Option<Arc<GasMeter>>,
}

impl<P: StateRead> StateDelta<P> {
    /// A layer with no gas metering (block level).
    pub fn new(parent: P) -> Self {
        Self { parent, writes: BTreeMap::new(), events: Vec::new(), gas: None }
    }

    /// A layer whose reads and writes charge `gas` (tx level).
    pub fn metered(parent: P, gas: Arc<GasMeter>) -> Self {
        Self { parent, writes: BTreeMap::new(), events: Vec::new(), gas: Some(gas) }
    }

    /// The buffered changes.
    pub fn changes(&self) -> &ChangeSet {
        &self.writes
    }

    /// The buffered events.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Takes the events out (keeps the writes).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Consumes the layer, returning its writes and events for the parent to absorb.
    pub fn into_parts(self) -> (ChangeSet, Vec<Event>) {
        (self.writes, self.events)
    }

    /// Applies a child layer's writes and events to this one (no gas charged: the child paid).
    pub fn absorb(&mut self, writes: ChangeSet, events: Vec<Event>) {
        self.writes.extend(writes);
        self.events.extend(events);
    }

    fn charge(&self, flat: u64, per_byte: u64, bytes: usize) -> Result<(), StateError> {
        match &self.gas {
            Some(meter) => Ok(meter.charge_scaled(flat, per_byte, bytes)?),
            None => Ok(()),
        }
    }

    fn local_range<'a>(
        &'a self,
        prefix: &'a [u8],
        start_after: Option<&[u8]>,
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)> + 'a {
        let lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after.to_vec()),
            _ => Bound::Included(prefix.to_vec()),
        };
        self.writes.range::<Vec<u8>, _>((lower, Bound::Unbounded)).take_while(move |(k, _)| k.starts_with(prefix))
    }
}

impl<P: StateRead> StateRead for StateDelta<P> {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let value = match self.writes.get(key) {
            Some(local) => local.clone(),
            None => self.parent.get_raw(key)?,
        };
        let len = key.len().saturating_add(value.as_ref().map_or(0, Vec::len));
        self.charge(KV_GAS_COSTS.read_flat, KV_GAS_COSTS.read_per_byte, len)?;
        Ok(value)
    }

    fn scan_raw(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>, StateError> {
        // Each local write can hide at most one parent entry, so asking the parent for
        // `limit + local` entries is enough to fill `limit` after merging.
        let local: Vec<_> = self.local_range(prefix, start_after).collect();
        let parent_limit = limit.saturating_add(local.len());
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = self.parent.scan_raw(prefix, start_after, parent_limit)?.into_iter().collect();
        for (key, value) in local {
            match value {
                Some(v) => merged.insert(key.clone(), v.clone()),
                None => merged.remove(key),
            };
        }
        let out: Vec<KvPair> = merged.into_iter().take(limit).collect();
        self.charge(KV_GAS_COSTS.read_flat, 0, 0)?;
        for (k, v) in &out {
            self.charge(KV_GAS_COSTS.iter_next_flat, KV_GAS_COSTS.read_per_byte, k.len().saturating_add(v.len()))?;
        }
        Ok(out)
    }

    fn charge_gas(&self, amount: u64) -> Result<(), StateError> {
        match &self.gas {
            Some(meter) => Ok(meter.charge(amount)?),
            None => self.parent.charge_gas(amount),
        }
    }

    fn get_raw_unmetered(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.writes.get(key) {
            Some(local) => Ok(local.clone()),
            None => self.parent.get_raw_unmetered(key),
        }
    }
}

impl<P: StateRead> StateWrite for StateDelta<P> {
    fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        self.charge(KV_GAS_COSTS.write_flat, KV_GAS_COSTS.write_per_byte, key.len().saturating_add(value.len()))?;
        self.writes.insert(key, Some(value));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        self.charge(KV_GAS_COSTS.delete, 0, 0)?;
        self.writes.insert(key.to_vec(), None);
        Ok(())
    }

    fn emit(&mut self, event: Event) {
        self.events.push(event);
    }
}

/// An empty state (genesis of a fresh chain, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyState;

impl StateRead for EmptyState {
    fn get_raw(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(None)
    }
    fn scan_raw(&self, _prefix: &[u8], _start_after: Option<&[u8]>, _limit: usize) -> Result<Vec<KvPair>, StateError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(d: &mut impl StateWrite, k: &str, v: &str) {
        d.put_raw(k.as_bytes().to_vec(), v.as_bytes().to_vec()).unwrap();
    }

    #[test]
    fn child_layer_reaches_parent_only_when_absorbed() {
        let mut block = StateDelta::new(EmptyState);
        put(&mut block, "a", "1");
        {
            let mut child = StateDelta::new(&block);
            put(&mut child, "b", "2");
            child.emit(Event::new("x"));
            assert_eq!(child.get_raw(b"a").unwrap(), Some(b"1".to_vec()));
            // dropped: nothing leaks
        }
        assert_eq!(block.get_raw(b"b").unwrap(), None);
        assert!(block.events().is_empty());
        let mut child = StateDelta::new(&block);
        child.delete(b"a").unwrap();
        put(&mut child, "c", "3");
        let (w, e) = child.into_parts();
        block.absorb(w, e);
        assert_eq!(block.get_raw(b"a").unwrap(), None);
        assert_eq!(block.get_raw(b"c").unwrap(), Some(b"3".to_vec()));
    }

    #[test]
    fn scan_merges_parent_and_local_writes_in_order() {
        let mut parent = StateDelta::new(EmptyState);
        for k in ["p/1", "p/2", "p/3", "p/4", "q/1"] {
            put(&mut parent, k, k);
        }
        let mut child = StateDelta::new(&parent);
        child.delete(b"p/1").unwrap();
        child.delete(b"p/2").unwrap();
        put(&mut child, "p/25", "new");
        let all = child.scan_raw(b"p/", None, 10).unwrap();
        let keys: Vec<_> = all.iter().map(|(k, _)| String::from_utf8(k.clone()).unwrap()).collect();
        assert_eq!(keys, ["p/25", "p/3", "p/4"]);
        let page = child.scan_raw(b"p/", None, 2).unwrap();
        assert_eq!(page.len(), 2);
        let after = child.scan_raw(b"p/", Some(b"p/25"), 10).unwrap();
        assert_eq!(after.len(), 2);
        assert_eq!(after[0].0, b"p/3".to_vec());
    }

    #[test]
    fn metered_layer_charges_and_runs_out_of_gas() {
        let meter = Arc::new(GasMeter::new(5000));
        let mut d = StateDelta::metered(EmptyState, meter.clone());
        put(&mut d, "k", "v");
        assert_eq!(meter.consumed(), 2000 + 30 * 2);
        d.get_raw(b"k").unwrap();
        assert_eq!(meter.consumed(), 2060 + 1000 + 3 * 2);
        let err = d.put_raw(b"k2".to_vec(), vec![0; 100]).unwrap_err();
        assert!(matches!(err, StateError::OutOfGas(_)));
    }
}
