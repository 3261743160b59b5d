//! The state traits every module is written against. Modules never see sled or the Merkle tree:
//! they read and write byte keys (built in their `state_key.rs`) holding protobuf values, through
//! [`StateRead`] / [`StateWrite`], usually a per-tx [`crate::delta::StateDelta`].

use crate::error::{sdk_codes, ErrorCode, SDK_CODESPACE, UNDEFINED_CODESPACE};
use crate::events::{Event, TypedEvent};
use crate::gas::OutOfGas;
use crate::storage::Storage;

/// Errors from state access.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The tx ran out of gas.
    #[error("out of gas; gasWanted: {}, gasUsed: {}: out of gas", .0.limit, .0.wanted)]
    OutOfGas(OutOfGas),
    /// The underlying store failed (I/O, corruption).
    #[error("state store error: {0}")]
    Store(String),
    /// A stored value did not decode as the expected protobuf message.
    #[error("corrupt state value at {key}: {error}")]
    Decode {
        /// The key (lossy UTF-8).
        key: String,
        /// Decoder message.
        error: String,
    },
}

impl ErrorCode for StateError {
    fn codespace(&self) -> &'static str {
        match self {
            Self::OutOfGas(_) => SDK_CODESPACE,
            Self::Store(_) | Self::Decode { .. } => UNDEFINED_CODESPACE,
        }
    }
    fn code(&self) -> u32 {
        match self {
            Self::OutOfGas(_) => sdk_codes::OUT_OF_GAS,
            Self::Store(_) | Self::Decode { .. } => sdk_codes::INTERNAL,
        }
    }
}

impl From<OutOfGas> for StateError {
    fn from(value: OutOfGas) -> Self {
        Self::OutOfGas(value)
    }
}

impl From<crate::storage::StoreError> for StateError {
    fn from(value: crate::storage::StoreError) -> Self {
        Self::Store(value.to_string())
    }
}

/// A `(key, value)` pair from a prefix scan.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// Read access to a state (committed, historical, or a delta over one).
pub trait StateRead {
    /// The value at `key`.
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Entries with keys starting with `prefix`, ordered, strictly after `start_after`, at most
    /// `limit` of them.
    fn scan_raw(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>, StateError>;
    /// The value at `key`, read without charging gas. Only for a module's params on a path whose
    /// gas must not change when a param is added (so a chain recorded before the param replays
    /// with the same gas); everything else reads through [`StateRead::get_raw`].
    fn get_raw_unmetered(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.get_raw(key)
    }
    /// Charges `amount` gas for work a message causes beyond its own reads and writes (say, an
    /// index the chain must build from it) to the nearest metered layer; out of gas fails the
    /// tx like any read or write. No-op on unmetered state (block level, queries).
    fn charge_gas(&self, amount: u64) -> Result<(), StateError> {
        let _ = amount;
        Ok(())
    }
}

/// Write access: buffered writes and events, dropped whole if the layer is dropped.
pub trait StateWrite: StateRead {
    /// Sets `key` to `value`.
    fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError>;
    /// Deletes `key`.
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError>;
    /// Records an event (dropped with the layer if it fails).
    fn emit(&mut self, event: Event);
}

impl<T: StateRead + ?Sized> StateRead for &T {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get_raw(key)
    }
    fn scan_raw(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>, StateError> {
        (**self).scan_raw(prefix, start_after, limit)
    }
    fn charge_gas(&self, amount: u64) -> Result<(), StateError> {
        (**self).charge_gas(amount)
    }
    fn get_raw_unmetered(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get_raw_unmetered(key)
    }
}

impl<T: StateRead + ?Sized> StateRead for &mut T {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get_raw(key)
    }
    fn scan_raw(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>, StateError> {
        (**self).scan_raw(prefix, start_after, limit)
    }
    fn charge_gas(&self, amount: u64) -> Result<(), StateError> {
        (**self).charge_gas(amount)
    }
    fn get_raw_unmetered(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get_raw_unmetered(key)
    }
}

impl<T: StateWrite + ?Sized> StateWrite for &mut T {
    fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        (**self).put_raw(key, value)
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StateError> {
        (**self).delete(key)
    }
    fn emit(&mut self, event: Event) {
        (**self).emit(event)
    }
}

fn decode_proto<M: prost::Message + Default>(key: &[u8], bytes: &[u8]) -> Result<M, StateError> {
    M::decode(bytes).map_err(|e| StateError::Decode { key: String::from_utf8_lossy(key).into_owned(), error: e.to_string() })
}

/// Protobuf helpers over [`StateRead`], usable on `dyn StateRead`.
pub trait StateReadExt: StateRead {
    /// Reads and decodes a protobuf value.
    fn get_proto<M: prost::Message + Default>(&self, key: &[u8]) -> Result<Option<M>, StateError> {
        match self.get_raw(key)? {
            Some(bytes) => decode_proto(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Scans a prefix and decodes every value.
    fn scan_proto<M: prost::Message + Default>(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, M)>, StateError> {
        self.scan_raw(prefix, start_after, limit)?.into_iter().map(|(k, v)| decode_proto(&k, &v).map(|m| (k, m))).collect()
    }

    /// Every entry under `prefix`, decoded, in key order (paged scans of 1,024). For genesis
    /// export and other whole-module walks, never for a tx or a query.
    fn scan_all_proto<M: prost::Message + Default>(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, M)>, StateError> {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.scan_proto::<M>(prefix, after.as_deref(), 1024)?;
            let Some(last) = page.last() else { break };
            after = Some(last.0.clone());
            out.extend(page);
        }
        Ok(out)
    }

    /// Whether `key` is set.
    fn has(&self, key: &[u8]) -> Result<bool, StateError> {
        Ok(self.get_raw(key)?.is_some())
    }
}

impl<T: StateRead + ?Sized> StateReadExt for T {}

/// Protobuf and typed-event helpers over [`StateWrite`].
pub trait StateWriteExt: StateWrite {
    /// Encodes and writes a protobuf value.
    fn put_proto<M: prost::Message>(&mut self, key: Vec<u8>, value: &M) -> Result<(), StateError> {
        self.put_raw(key, value.encode_to_vec())
    }

    /// Records a typed event.
    fn emit_typed<E: TypedEvent>(&mut self, event: E) {
        self.emit(event.into_event())
    }
}

impl<T: StateWrite + ?Sized> StateWriteExt for T {}

/// The latest committed state.
#[derive(Clone)]
pub struct LatestSnapshot(pub Storage);

impl StateRead for LatestSnapshot {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.0.get_latest(key)?)
    }
    fn scan_raw(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>, StateError> {
        Ok(self.0.scan_latest(prefix, start_after, limit)?)
    }
}

/// The state as committed at one height (served from the Merkle tree's versions).
#[derive(Clone)]
pub struct HeightSnapshot {
    /// The store.
    pub storage: Storage,
    /// The committed height read from.
    pub height: u64,
}

impl StateRead for HeightSnapshot {
    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.storage.get_at(key, self.height)?)
    }
    fn scan_raw(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>, StateError> {
        Ok(self.storage.scan_at(prefix, start_after, limit, self.height)?)
    }
}
