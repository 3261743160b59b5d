//! The attribution keeper: params, building and storing each datanet version's index (chunks of
//! at most 64 KiB in consensus state, so a restart never rebuilds them and every node holds the
//! same), loading them through a small LRU cache keyed by the stored content hash, matching
//! outputs, and paying contributors through the narrow [`BankKeeper`] and [`CommunityPool`]
//! traits this crate defines.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use openledger_core::coin::BASE_DENOM;
use openledger_core::{AbciError, Address, Coin, StateDelta, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_datanet::DatanetRead;
use openledger_proto::openledger::attribution::v1::{
    AttributionRecord, ContributorPayout, IndexChunk, IndexMeta, IndexSegment, IndexStatus, Params, RowAttribution, SpanMatch, VersionRef,
};
use prost::Message as _;

use crate::error::AttributionError;
use crate::events::{AttributionPayout, InferenceAttributed, VersionIndexed};
use crate::index::{Index, IndexBuildError};
use crate::state_key;
use crate::tokenize::tokenize;

/// Name of the gov module account.
pub use openledger_core::module::GOV_MODULE_NAME as GOV_MODULE;
/// Largest output text `distribute` accepts, in bytes.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Largest text the Score query accepts, in bytes.
pub const MAX_QUERY_TEXT_BYTES: usize = 64 * 1024;
/// Most versions one output can be attributed over.
pub const MAX_VERSIONS: usize = 32;
/// Largest index chunk, in bytes.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Most pending versions indexed by one end block (the rest wait for the next blocks). Building
/// costs about 0.9 µs per token on one core (BENCHMARKS.md), so one version of at most
/// `max_index_tokens` bounds the time an end block spends indexing.
pub const MAX_INDEX_PER_BLOCK: usize = 1;
/// Indexes kept loaded.
pub const CACHE_ENTRIES: usize = 8;
/// Hard cap on `min_span_tokens`.
pub const ABSOLUTE_MAX_MIN_SPAN: u32 = 1024;
/// Hard cap on `max_output_tokens`.
pub const ABSOLUTE_MAX_OUTPUT_TOKENS: u32 = 65_536;
/// Hard cap on `max_index_tokens` (positions are 32-bit in memory).
pub const ABSOLUTE_MAX_INDEX_TOKENS: u64 = 50_000_000;

/// The governance authority address (the gov module account).
pub use openledger_core::module::gov_authority;

/// The default params: spans of 8 tokens, 4,096 output tokens scored, 4 M tokens per indexed
/// version (about 25 MB of text, a ~4 s index build in the block that publishes it; governance
/// raises it when blocks can afford more).
pub fn default_params() -> Params {
    Params {
        min_span_tokens: 8,
        max_output_tokens: 4096,
        max_index_tokens: 4_000_000,
        index_gas_per_byte: DEFAULT_INDEX_GAS_PER_BYTE,
        max_index_bytes_per_block: DEFAULT_MAX_INDEX_BYTES_PER_BLOCK,
    }
}

/// Default gas per byte of a published version (a 1 MB version costs its publisher 20 M gas,
/// 0.5 OPEN at the minimum gas price).
pub const DEFAULT_INDEX_GAS_PER_BYTE: u64 = 20;
/// Default bound on the bytes one block's publishes may queue for indexing (32 MiB).
pub const DEFAULT_MAX_INDEX_BYTES_PER_BLOCK: u64 = 32 * 1024 * 1024;
/// Hard cap on `index_gas_per_byte`.
pub const ABSOLUTE_MAX_INDEX_GAS_PER_BYTE: u64 = 1_000_000;

/// Checks params against the hard caps.
pub fn validate_params(p: &Params) -> Result<(), AttributionError> {
    if p.min_span_tokens == 0 || p.min_span_tokens > ABSOLUTE_MAX_MIN_SPAN {
        return Err(AttributionError::InvalidParams(format!("min_span_tokens must be 1..={ABSOLUTE_MAX_MIN_SPAN}")));
    }
    if p.max_output_tokens == 0 || p.max_output_tokens > ABSOLUTE_MAX_OUTPUT_TOKENS {
        return Err(AttributionError::InvalidParams(format!("max_output_tokens must be 1..={ABSOLUTE_MAX_OUTPUT_TOKENS}")));
    }
    if p.max_index_tokens == 0 || p.max_index_tokens > ABSOLUTE_MAX_INDEX_TOKENS {
        return Err(AttributionError::InvalidParams(format!("max_index_tokens must be 1..={ABSOLUTE_MAX_INDEX_TOKENS}")));
    }
    if p.index_gas_per_byte > ABSOLUTE_MAX_INDEX_GAS_PER_BYTE {
        return Err(AttributionError::InvalidParams(format!("index_gas_per_byte must be 0..={ABSOLUTE_MAX_INDEX_GAS_PER_BYTE}")));
    }
    Ok(())
}

/// What the attribution module needs from the bank: paying contributors out of the pool.
pub trait BankKeeper: Send + Sync {
    /// Moves `coins` from `from` to `to` (fails with the bank's code, e.g. sdk 5, if short).
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), AbciError>;
}

/// Where remainders go: the app implements it with the distribution community pool.
pub trait CommunityPool: Send + Sync {
    /// Moves `amount` uopen from `from` into the community pool.
    fn fund(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), AbciError>;
}

/// What indexing a version did (or found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStats {
    /// Datanet.
    pub datanet_id: u64,
    /// Version.
    pub version: u64,
    /// Ready or too large.
    pub status: IndexStatus,
    /// Rows.
    pub row_count: u64,
    /// Tokens (for TOO_LARGE: how many were counted before giving up).
    pub token_count: u64,
    /// Distinct tokens.
    pub vocab_size: u64,
    /// Index bytes stored (all sections, vocabulary included).
    pub total_bytes: u64,
    /// Chunks stored.
    pub chunk_count: u64,
    /// Built by this call (false: it was already indexed).
    pub built: bool,
}

impl IndexStats {
    fn from_meta(m: &IndexMeta, built: bool) -> Self {
        Self {
            datanet_id: m.datanet_id,
            version: m.version,
            status: IndexStatus::try_from(m.status).unwrap_or(IndexStatus::Unspecified),
            row_count: m.row_count,
            token_count: m.token_count,
            vocab_size: m.vocab_size,
            total_bytes: m.total_bytes,
            chunk_count: m.chunk_count,
            built,
        }
    }

    /// Index bytes per token, times 1000 (0 without tokens).
    pub fn bytes_per_token_milli(&self) -> u64 {
        bytes_per_token_milli(self.total_bytes, self.token_count)
    }
}

/// `bytes * 1000 / tokens` (0 without tokens).
pub fn bytes_per_token_milli(bytes: u64, tokens: u64) -> u64 {
    if tokens == 0 {
        return 0;
    }
    u64::try_from(u128::from(bytes) * 1000 / u128::from(tokens)).unwrap_or(u64::MAX)
}

/// `floor(amount × part / total)` without overflow (`part <= total`, `total > 0`).
pub fn mul_div_floor(amount: u128, part: u64, total: u64) -> u128 {
    if total == 0 {
        return 0;
    }
    let (t, w) = (u128::from(total), u128::from(part));
    // (a/t)·w ≤ a since w ≤ t; (a mod t)·w < t² < 2^128.
    (amount / t) * w + (amount % t) * w / t
}

/// A loaded version index, or why there is none.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// Indexed.
    Ready(Arc<Index>, IndexMeta),
    /// Over the token limit when indexed: earns nothing.
    TooLarge(IndexMeta),
    /// Not indexed yet.
    NotIndexed,
}

type CacheKey = (u64, u64, Vec<u8>);
/// Most recently used first.
type IndexCache = VecDeque<(CacheKey, Arc<Index>)>;

/// The attribution keeper.
#[derive(Clone)]
pub struct AttributionKeeper {
    datanet: Arc<dyn DatanetRead>,
    bank: Arc<dyn BankKeeper>,
    pool: Arc<dyn CommunityPool>,
    cache: Arc<Mutex<IndexCache>>,
}

impl std::fmt::Debug for AttributionKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttributionKeeper").finish_non_exhaustive()
    }
}

fn segment_rows(segments: &[IndexSegment]) -> impl Iterator<Item = (u64, u64)> + '_ {
    segments.iter().flat_map(|s| (0..s.row_count).map(move |i| (s.first_row_id.saturating_add(i), s.contribution_id)))
}

/// `(row id, contribution id)` of the row at `index` of a version's runs.
pub fn row_at(segments: &[IndexSegment], index: u64) -> Option<(u64, u64)> {
    let mut skipped = 0u64;
    for seg in segments {
        let end = skipped.checked_add(seg.row_count)?;
        if index < end {
            return Some((seg.first_row_id.checked_add(index - skipped)?, seg.contribution_id));
        }
        skipped = end;
    }
    None
}

/// Sorted, distinct versions; refuses version 0 and too many.
pub fn normalize_versions(versions: &[(u64, u64)]) -> Result<Vec<(u64, u64)>, AttributionError> {
    if versions.len() > MAX_VERSIONS {
        return Err(AttributionError::InvalidVersions(format!("{} versions; at most {MAX_VERSIONS}", versions.len())));
    }
    if let Some((d, _)) = versions.iter().find(|(_, v)| *v == 0) {
        return Err(AttributionError::InvalidVersions(format!("datanet {d}: version 0 is not a published version")));
    }
    let mut out = versions.to_vec();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Copies a child layer's writes and events into `state`.
fn apply(
    state: &mut dyn StateWrite,
    writes: openledger_core::storage::ChangeSet,
    events: Vec<openledger_core::Event>,
) -> Result<(), StateError> {
    for (key, value) in writes {
        match value {
            Some(v) => state.put_raw(key, v)?,
            None => state.delete(&key)?,
        }
    }
    for e in events {
        state.emit(e);
    }
    Ok(())
}

impl AttributionKeeper {
    /// A keeper reading datanets through `datanet`, paying through `bank` and `pool`.
    pub fn new(datanet: Arc<dyn DatanetRead>, bank: Arc<dyn BankKeeper>, pool: Arc<dyn CommunityPool>) -> Self {
        Self { datanet, bank, pool, cache: Arc::new(Mutex::new(VecDeque::new())) }
    }

    /// The datanets it reads through.
    pub fn datanet(&self) -> &dyn DatanetRead {
        self.datanet.as_ref()
    }

    /// Params (defaults if unset).
    pub fn params(&self, state: &dyn StateRead) -> Result<Params, StateError> {
        Ok(state.get_proto(state_key::PARAMS)?.unwrap_or_else(default_params))
    }

    /// Writes checked params (genesis and governance).
    pub fn set_params(&self, state: &mut dyn StateWrite, params: &Params) -> Result<(), AttributionError> {
        validate_params(params)?;
        Ok(state.put_proto(state_key::PARAMS.to_vec(), params)?)
    }

    /// A version's index meta, if indexed (or found too large).
    pub fn index_meta(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Option<IndexMeta>, StateError> {
        state.get_proto(&state_key::meta(datanet_id, version))
    }

    /// An attribution record.
    pub fn record(&self, state: &dyn StateRead, inference_id: u64) -> Result<Option<AttributionRecord>, StateError> {
        state.get_proto(&state_key::record(inference_id))
    }

    /// Queues a freshly published version for indexing at the next [`Self::end_block`]. The app
    /// calls it right after `MsgPublishVersion` succeeds (in the same message layer, so a failed
    /// tx queues nothing).
    pub fn on_version_published(&self, state: &mut dyn StateWrite, datanet_id: u64, version: u64) -> Result<(), AttributionError> {
        if self.index_meta(state, datanet_id, version)?.is_some() {
            return Ok(());
        }
        self.charge_for_index(state, datanet_id, version)?;
        Ok(state.put_proto(state_key::pending(datanet_id, version), &VersionRef { datanet_id, version })?)
    }

    /// What the index of a newly published version costs its publisher: `index_gas_per_byte`
    /// gas per byte of its rows (every validator builds that index in an end block), within the
    /// block's `max_index_bytes_per_block` budget shared by every publish of the block. So a
    /// flood of republishing pays for each index it makes the chain build, and cannot queue more
    /// than the budget in one block.
    fn charge_for_index(&self, state: &mut dyn StateWrite, datanet_id: u64, version: u64) -> Result<(), AttributionError> {
        // Read free: on chains from before these params (both 0) a publish costs the gas it
        // always did, so recorded chains replay unchanged.
        let params = match state.get_raw_unmetered(state_key::PARAMS)? {
            Some(bytes) => Params::decode(bytes.as_slice()).map_err(|e| AttributionError::Corrupt(format!("params: {e}")))?,
            None => default_params(),
        };
        if params.index_gas_per_byte == 0 && params.max_index_bytes_per_block == 0 {
            return Ok(());
        }
        // A version that vanished costs nothing (end block drops it from the queue).
        let Some((v, _)) = self.datanet.published_version(state, datanet_id, version)? else { return Ok(()) };
        let gas = v.total_bytes.checked_mul(params.index_gas_per_byte).ok_or_else(|| AttributionError::Overflow("index gas".into()))?;
        state.charge_gas(gas)?;
        if params.max_index_bytes_per_block > 0 {
            let height = openledger_core::block::block_info(state).map(|b| b.height).unwrap_or(0);
            let used = match state.get_raw(state_key::BLOCK_INDEX_BYTES)? {
                Some(b) if b.len() == 16 && b[..8] == height.to_be_bytes() => u64::from_be_bytes(b[8..].try_into().unwrap_or([0; 8])),
                _ => 0,
            };
            let total = used.checked_add(v.total_bytes).ok_or_else(|| AttributionError::Overflow("index bytes".into()))?;
            if total > params.max_index_bytes_per_block {
                return Err(AttributionError::BlockIndexBudget { bytes: v.total_bytes, used, max: params.max_index_bytes_per_block });
            }
            let mut record = height.to_be_bytes().to_vec();
            record.extend_from_slice(&total.to_be_bytes());
            state.put_raw(state_key::BLOCK_INDEX_BYTES.to_vec(), record)?;
        }
        Ok(())
    }

    /// Versions waiting to be indexed, in (datanet, version) order.
    pub fn pending(&self, state: &dyn StateRead, limit: usize) -> Result<Vec<(u64, u64)>, StateError> {
        Ok(state
            .scan_proto::<VersionRef>(state_key::PENDING_PREFIX, None, limit)?
            .into_iter()
            .map(|(_, r)| (r.datanet_id, r.version))
            .collect())
    }

    /// End block: indexes up to [`MAX_INDEX_PER_BLOCK`] queued versions (O(new versions); a
    /// version that vanished is dropped from the queue).
    pub fn end_block(&self, state: &mut dyn StateWrite) -> Result<Vec<IndexStats>, AttributionError> {
        let mut done = Vec::new();
        for (datanet_id, version) in self.pending(state, MAX_INDEX_PER_BLOCK)? {
            match self.index_version(state, datanet_id, version) {
                Ok(stats) => done.push(stats),
                Err(AttributionError::VersionNotFound { .. }) => state.delete(&state_key::pending(datanet_id, version))?,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Builds and stores the index of a published version (idempotent: a no-op returning the
    /// stored stats if it is already indexed). A version over `max_index_tokens` is recorded as
    /// TOO_LARGE (no chunks) and earns nothing.
    pub fn index_version(&self, state: &mut dyn StateWrite, datanet_id: u64, version: u64) -> Result<IndexStats, AttributionError> {
        if let Some(meta) = self.index_meta(state, datanet_id, version)? {
            let pending = state_key::pending(datanet_id, version);
            if state.has(&pending)? {
                state.delete(&pending)?;
            }
            return Ok(IndexStats::from_meta(&meta, false));
        }
        let not_found = AttributionError::VersionNotFound { datanet_id, version };
        if version == 0 {
            return Err(not_found);
        }
        let Some((v, _)) = self.datanet.published_version(state, datanet_id, version)? else { return Err(not_found) };
        let segments: Vec<IndexSegment> = self
            .datanet
            .segments(state, datanet_id, version)?
            .into_iter()
            .map(|s| IndexSegment { first_row_id: s.first_row_id, row_count: s.row_count, contribution_id: s.contribution_id })
            .collect();
        let listed = segments.iter().try_fold(0u64, |a, s| a.checked_add(s.row_count));
        if listed != Some(v.row_count) {
            return Err(AttributionError::Corrupt(format!("version {version} of datanet {datanet_id}: runs do not add up to its rows")));
        }
        let params = self.params(state)?;
        let mut rows: Vec<Vec<u8>> = Vec::with_capacity(usize::try_from(v.row_count).unwrap_or(0).min(1 << 20));
        for (row_id, _) in segment_rows(&segments) {
            let row = self.datanet.row(state, datanet_id, row_id)?.ok_or_else(|| {
                AttributionError::Corrupt(format!("row {row_id} of datanet {datanet_id} is in version {version} but not stored"))
            })?;
            rows.push(row.data);
        }
        let mut meta = IndexMeta { datanet_id, version, row_count: v.row_count, segments, ..Default::default() };
        match Index::build(rows.iter().map(Vec::as_slice), params.max_index_tokens) {
            Err(IndexBuildError::TooLarge { tokens }) => {
                meta.status = IndexStatus::TooLarge as i32;
                meta.token_count = tokens;
            }
            Err(IndexBuildError::Corrupt(m)) => return Err(AttributionError::Corrupt(m)),
            Ok(index) => {
                let layout = index.layout();
                let bytes = index.encode();
                let hash = Index::content_hash(&bytes);
                let mut count = 0u64;
                for (i, piece) in bytes.chunks(CHUNK_BYTES).enumerate() {
                    state.put_proto(state_key::chunk(datanet_id, version, i as u64), &IndexChunk { data: piece.to_vec() })?;
                    openledger_core::crash::crash_point(openledger_core::crash::ATTRIBUTION_INDEX_BUILD);
                    count += 1;
                }
                meta.status = IndexStatus::Ready as i32;
                meta.token_count = index.token_count();
                meta.stream_len = index.stream.len() as u64;
                meta.vocab_size = index.vocab.len() as u64;
                meta.vocab_bytes = layout.vocab_bytes;
                meta.token_width = layout.token_width;
                meta.pos_width = layout.pos_width;
                meta.total_bytes = layout.total_bytes;
                meta.chunk_count = count;
                meta.content_hash = hash.clone();
                // The hash names the bytes, so caching the built index under it is safe even if
                // this layer is later dropped.
                self.cache_put((datanet_id, version, hash), Arc::new(index));
            }
        }
        state.put_proto(state_key::meta(datanet_id, version), &meta)?;
        let pending = state_key::pending(datanet_id, version);
        if state.has(&pending)? {
            state.delete(&pending)?;
        }
        state.emit_typed(VersionIndexed {
            datanet_id,
            version,
            status: IndexStatus::try_from(meta.status).map(|s| s.as_str_name().to_string()).unwrap_or_default(),
            tokens: meta.token_count,
            bytes: meta.total_bytes,
        });
        Ok(IndexStats::from_meta(&meta, true))
    }

    fn cache_get(&self, key: &CacheKey) -> Option<Arc<Index>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let at = cache.iter().position(|(k, _)| k == key)?;
        let entry = cache.remove(at)?;
        let index = entry.1.clone();
        cache.push_front(entry);
        Some(index)
    }

    fn cache_put(&self, key: CacheKey, index: Arc<Index>) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(k, _)| *k != key);
        cache.push_front((key, index));
        cache.truncate(CACHE_ENTRIES);
    }

    /// Loads a version's index: from the cache when the stored meta's content hash matches an
    /// entry, else from the chunks (checked against the hash).
    pub fn load(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Loaded, AttributionError> {
        let Some(meta) = self.index_meta(state, datanet_id, version)? else { return Ok(Loaded::NotIndexed) };
        if meta.status != IndexStatus::Ready as i32 {
            return Ok(Loaded::TooLarge(meta));
        }
        let key = (datanet_id, version, meta.content_hash.clone());
        if let Some(index) = self.cache_get(&key) {
            return Ok(Loaded::Ready(index, meta));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.total_bytes).unwrap_or(0).min(1 << 30));
        for i in 0..meta.chunk_count {
            let chunk: IndexChunk = state
                .get_proto(&state_key::chunk(datanet_id, version, i))?
                .ok_or_else(|| AttributionError::Corrupt(format!("chunk {i} of the index of {datanet_id}/{version} missing")))?;
            bytes.extend_from_slice(&chunk.data);
        }
        if Index::content_hash(&bytes) != meta.content_hash {
            return Err(AttributionError::Corrupt(format!("index of {datanet_id}/{version} does not match its hash")));
        }
        let index = Index::decode(&bytes, meta.vocab_size, meta.stream_len, meta.token_count, meta.row_count)
            .map_err(|e| AttributionError::Corrupt(format!("index of {datanet_id}/{version}: {e:?}")))?;
        let index = Arc::new(index);
        self.cache_put(key, index.clone());
        Ok(Loaded::Ready(index, meta))
    }

    /// Matches `text` against indexed `versions` (normalized) and splits `amount`: the record
    /// `distribute` would store (inference id 0). Reads only; every version must be indexed.
    pub fn score(
        &self,
        state: &dyn StateRead,
        versions: &[(u64, u64)],
        text: &str,
        amount: u128,
    ) -> Result<AttributionRecord, AttributionError> {
        let params = self.params(state)?;
        let tokens = tokenize(text);
        let scored = tokens.len().min(params.max_output_tokens as usize);
        let mut record = AttributionRecord {
            versions: versions.iter().map(|&(datanet_id, version)| VersionRef { datanet_id, version }).collect(),
            amount: amount.to_string(),
            output_tokens: tokens.len() as u64,
            scored_tokens: scored as u64,
            min_span_tokens: params.min_span_tokens,
            ..Default::default()
        };
        // (datanet, row) → (matched tokens, contribution).
        let mut rows: BTreeMap<(u64, u64), (u64, u64)> = BTreeMap::new();
        for &(datanet_id, version) in versions {
            let (index, meta) = match self.load(state, datanet_id, version)? {
                Loaded::Ready(index, meta) => (index, meta),
                Loaded::TooLarge(_) => {
                    record.skipped_versions.push(VersionRef { datanet_id, version });
                    continue;
                }
                Loaded::NotIndexed => return Err(AttributionError::NotIndexed { datanet_id, version }),
            };
            let ids = index.ids(&tokens[..scored]);
            let mut this_version: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
            for span in index.maximal_spans(&ids, params.min_span_tokens) {
                let (row_id, cid) = row_at(&meta.segments, u64::from(span.row_index))
                    .ok_or_else(|| AttributionError::Corrupt(format!("row index {} outside version {version}", span.row_index)))?;
                let e = this_version.entry(row_id).or_insert((0, cid));
                e.0 = e.0.checked_add(u64::from(span.len)).ok_or_else(|| AttributionError::Overflow("row score".into()))?;
                record.spans.push(SpanMatch {
                    datanet_id,
                    version,
                    output_start: span.start,
                    length: span.len,
                    row_id,
                    occurrences: span.occurrences,
                });
            }
            for (row_id, (s, cid)) in this_version {
                let e = rows.entry((datanet_id, row_id)).or_insert((0, cid));
                e.0 = e.0.max(s);
            }
        }
        // Eligibility and contributors.
        let mut datanet_delisted: BTreeMap<u64, bool> = BTreeMap::new();
        let mut contributors: BTreeMap<(u64, u64), String> = BTreeMap::new();
        // contributor → (eligible tokens, first (datanet, row)).
        let mut weights: BTreeMap<String, (u64, (u64, u64))> = BTreeMap::new();
        for (&(datanet_id, row_id), &(matched, cid)) in &rows {
            let dl = match datanet_delisted.get(&datanet_id) {
                Some(&d) => d,
                None => {
                    let d = self.datanet.datanet(state, datanet_id)?.is_none_or(|d| d.delisted);
                    datanet_delisted.insert(datanet_id, d);
                    d
                }
            };
            let row_delisted = self.datanet.row(state, datanet_id, row_id)?.is_none_or(|r| r.delisted);
            let contributor = match contributors.get(&(datanet_id, cid)) {
                Some(c) => c.clone(),
                None => {
                    let c = self
                        .datanet
                        .contribution(state, datanet_id, cid)?
                        .map(|c| c.contributor)
                        .ok_or_else(|| AttributionError::Corrupt(format!("contribution {cid} of datanet {datanet_id} missing")))?;
                    contributors.insert((datanet_id, cid), c.clone());
                    c
                }
            };
            let delisted = dl || row_delisted;
            if !delisted && matched > 0 {
                let w = weights.entry(contributor.clone()).or_insert((0, (datanet_id, row_id)));
                w.0 = w.0.checked_add(matched).ok_or_else(|| AttributionError::Overflow("contributor score".into()))?;
            }
            record.rows.push(RowAttribution { datanet_id, row_id, contributor, matched_tokens: matched, delisted });
        }
        let total =
            weights.values().try_fold(0u64, |a, (w, _)| a.checked_add(*w)).ok_or_else(|| AttributionError::Overflow("total".into()))?;
        let mut ordered: Vec<(String, u64, (u64, u64))> = weights.into_iter().map(|(c, (w, first))| (c, w, first)).collect();
        ordered.sort_by_key(|(_, _, first)| *first);
        let mut paid = 0u128;
        for (contributor, w, _) in ordered {
            let share = mul_div_floor(amount, w, total);
            paid = paid.checked_add(share).ok_or_else(|| AttributionError::Overflow("payout sum".into()))?;
            record.payouts.push(ContributorPayout { contributor, matched_tokens: w, amount: share.to_string() });
        }
        let remainder = amount.checked_sub(paid).ok_or_else(|| AttributionError::Corrupt("payouts exceed the amount".into()))?;
        record.community_pool = remainder.to_string();
        Ok(record)
    }

    /// Attributes an inference output and pays for it: splits `amount` uopen held by `pool_from`
    /// over the contributors of the rows the output's spans came from (see attribution.proto),
    /// the remainder to the community pool, and stores the record at
    /// `attribution/record/{inference_id}`. Versions not yet indexed are indexed first. All or
    /// nothing: on any error nothing is written.
    pub fn distribute(
        &self,
        state: &mut dyn StateWrite,
        inference_id: u64,
        pool_from: &Address,
        amount: u128,
        versions: &[(u64, u64)],
        output_text: &str,
    ) -> Result<AttributionRecord, AttributionError> {
        if output_text.len() > MAX_TEXT_BYTES {
            return Err(AttributionError::TextTooLarge { size: output_text.len() as u64, max: MAX_TEXT_BYTES as u64 });
        }
        let versions = normalize_versions(versions)?;
        if self.record(state, inference_id)?.is_some() {
            return Err(AttributionError::AlreadyAttributed(inference_id));
        }
        for &(datanet_id, version) in &versions {
            if self.datanet.published_version(state, datanet_id, version)?.is_none() {
                return Err(AttributionError::VersionNotFound { datanet_id, version });
            }
        }
        let (writes, events, record) = {
            let mut child = StateDelta::new(&*state);
            for &(datanet_id, version) in &versions {
                self.index_version(&mut child, datanet_id, version)?;
            }
            let mut record = self.score(&child, &versions, output_text, amount)?;
            record.inference_id = inference_id;
            for p in &record.payouts {
                let share: u128 = p.amount.parse().map_err(|_| AttributionError::Corrupt("payout amount".into()))?;
                if share == 0 {
                    continue;
                }
                let to = Address::from_bech32(&p.contributor)
                    .map_err(|e| AttributionError::Corrupt(format!("contributor {}: {e}", p.contributor)))?;
                self.bank.send(&mut child, pool_from, &to, &[Coin::new(BASE_DENOM, share)]).map_err(AttributionError::Bank)?;
                child.emit_typed(AttributionPayout {
                    inference_id,
                    contributor: p.contributor.clone(),
                    amount: share,
                    matched_tokens: p.matched_tokens,
                });
            }
            let remainder: u128 = record.community_pool.parse().map_err(|_| AttributionError::Corrupt("remainder".into()))?;
            if remainder > 0 {
                self.pool.fund(&mut child, pool_from, remainder).map_err(AttributionError::Bank)?;
            }
            child.put_proto(state_key::record(inference_id), &record)?;
            child.emit_typed(InferenceAttributed {
                inference_id,
                amount,
                community_pool: remainder,
                rows: record.rows.len() as u64,
                scored_tokens: record.scored_tokens,
            });
            let (w, e) = child.into_parts();
            (w, e, record)
        };
        apply(state, writes, events)?;
        Ok(record)
    }
}
