//! Committed state store: one sled database holding a Jellyfish Merkle tree (JMT) plus
//! plain indexes for fast reads.
//!
//! Everything lives in sled's default tree, partitioned by a one-byte key prefix, so that a
//! whole block is written with a single atomic [`sled::Batch`] followed by one `flush`:
//!
//! | prefix | key                                       | value                               |
//! |--------|-------------------------------------------|-------------------------------------|
//! | `N`    | version (u64 BE) ‖ borsh(nibble path)     | borsh(`jmt::storage::Node`)         |
//! | `P`    | key hash (32)                             | raw key (preimage, for ICS23)       |
//! | `L`    | raw key                                   | latest value                        |
//! | `H`    | escaped raw key ‖ `00 00` ‖ version (BE)  | tag ‖ value (history, tombstones)   |
//!
//! Values are stored twice: latest (`L`) and versioned (`H`). The JMT's versioned value lookup
//! (`get_value_option(max_version, key_hash)`) goes key hash → preimage (`P`) → history (`H`).
//! | `R`    | height (u64 BE)                           | app hash (JMT root) at that height  |
//! | `M`    | `last`                                    | height (u64 BE) ‖ app hash          |
//! | `S`    | stale since (u64 BE)                      | the `N`/`I` keys of the nodes that became stale then (pruning) |
//! | `X`    | height (u64 BE)                           | the raw keys changed at that height (pruning) |
//! | `I`    | version (u64 BE) ‖ borsh(nibble path)     | IBC substore JMT node               |
//! | `Q`    | substore key hash (32)                    | ICS-24 path (the key without `ibc/`)|
//! | `J`    | height (u64 BE)                           | IBC substore root at that height    |
//!
//! ## The IBC substore
//!
//! IBC light clients verify a proof as a chain of two ICS23 proofs over the path
//! `[commitment prefix, ICS-24 path]`, as ibc-go's IAVL store inside the SDK's multistore gives
//! them. Keys starting with [`SUBSTORE_PREFIX`] (`ibc/`) therefore live in a second JMT whose keys
//! are the ICS-24 paths (the key without `ibc/`); its root is the value of the main tree's key
//! [`SUBSTORE_ROOT_KEY`] (`ibc`, the commitment prefix). [`Storage::get_with_substore_proof`]
//! returns both proofs, substore first (the order of ibc-go's proof ops). Latest values, history
//! and scans treat substore keys like any other key.
//!
//! The substore exists from the first commit that writes a substore key; from then on it is
//! committed at every height (a block without substore changes copies its root, as the main
//! tree does), and the root key is written whenever the substore root changes. A chain that never
//! writes a substore key keeps exactly the app hashes it had before the substore existed.
//!
//! Both pruning records are one entry per height, each a list of `u32 BE length ‖ bytes` items
//! (one sled write per block instead of one per changed key and per stale node; stores written
//! before kept one entry per item, `S ‖ height ‖ node key` and `X ‖ height ‖ raw key`, which
//! [`Storage::prune`] still reads).
//!
//! Pruning ([`Storage::set_pruning`], [`Storage::prune`]) keeps the state of every height from a
//! retain height on: a JMT node that became stale at or before it (jmt reports them in each
//! update, recorded under `S`) is deleted, and so is every history entry superseded at or before
//! it (each commit records the keys it changed under `X`), and the roots below it. Reads below
//! the retain height then fail with [`StoreError::Pruned`]. Only what was committed while pruning
//! was on is indexed for it.
//!
//! The tag byte is [`TAG_DELETED`] or [`TAG_VALUE`]. In the history index raw keys are escaped
//! (`00` → `00 FF`) and terminated with `00 00`, which keeps raw-key order, makes prefix scans
//! exact and lets every key's versions form one contiguous group.
//!
//! The JMT version is the block height. The first commit may happen at any height `h >= 1`; the
//! tree is then started from a virtual empty root at version `h - 1`. A block without changes
//! copies the previous root to the new version (jmt does this itself), so every committed height
//! has a root node and an app hash.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use jmt::storage::{HasPreimage, LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, Version};
use sha2::Sha256;

/// Changes of one block: key -> Some(value) to set, None to delete. Ordered, deterministic.
pub type ChangeSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Key/value pairs returned by the scans, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// App hash of an empty tree (jmt's `SPARSE_MERKLE_PLACEHOLDER_HASH`); also what
/// [`Storage::last_committed`] reports before anything was committed.
pub const EMPTY_APP_HASH: [u8; 32] = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";

/// Tag byte of a stored deletion (tombstone).
const TAG_DELETED: u8 = 0;
/// Tag byte of a stored value; the value bytes follow.
const TAG_VALUE: u8 = 1;

const P_NODE: u8 = b'N';
const P_PREIMAGE: u8 = b'P';
const P_LATEST: u8 = b'L';
const P_HISTORY: u8 = b'H';
const P_ROOT: u8 = b'R';
const P_STALE: u8 = b'S';
const P_CHANGED: u8 = b'X';
const P_SUB_NODE: u8 = b'I';
const P_SUB_PREIMAGE: u8 = b'Q';
const P_SUB_ROOT: u8 = b'J';
const META_LAST: &[u8] = b"Mlast";

/// Keys starting with this prefix live in the IBC substore (see the module docs).
pub const SUBSTORE_PREFIX: &[u8] = b"ibc/";
/// The main-tree key whose value is the substore root: the IBC commitment prefix.
pub const SUBSTORE_ROOT_KEY: &[u8] = b"ibc";
/// Present once the store was pruned (reads below the first height are then "pruned").
const META_PRUNED: &[u8] = b"Mpruned";

/// Most entries a scan pre-allocates room for.
const SCAN_PREALLOC: usize = 1024;

type Jmt<'a, R> = JellyfishMerkleTree<'a, R, Sha256>;

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The sled database failed.
    #[error("state db: {0}")]
    Sled(#[from] sled::Error),
    /// The Jellyfish Merkle tree reported an error.
    #[error("merkle tree: {0:#}")]
    Jmt(anyhow::Error),
    /// Stored data could not be decoded or is inconsistent.
    #[error("corrupt state store: {0}")]
    Corrupt(String),
    /// The height is in the future, before the first committed height, or was never committed.
    #[error("height {0} not available")]
    HeightNotAvailable(u64),
    /// The height's state was pruned.
    #[error("height {height} is pruned: the earliest height this node keeps is {earliest}")]
    Pruned {
        /// The requested height.
        height: u64,
        /// The earliest height still kept.
        earliest: u64,
    },
    /// A substore proof was asked for at a height before the IBC substore existed.
    #[error("height {0} has no IBC state")]
    NoSubstore(u64),
    /// A commit (or preview) at a height other than the next one.
    #[error("invalid commit height {height}: last committed height is {last}")]
    InvalidCommitHeight {
        /// The requested height.
        height: u64,
        /// The last committed height (0 when nothing was committed).
        last: u64,
    },
}

/// In-memory copy of the commit metadata.
#[derive(Clone, Copy, Debug)]
struct Meta {
    /// First committed height, `None` before the first commit.
    first: Option<u64>,
    /// Last committed height, 0 before the first commit.
    last: u64,
    /// App hash at `last`.
    root: [u8; 32],
    /// First height the IBC substore was committed at, `None` while it does not exist.
    sub_first: Option<u64>,
}

/// A JMT update computed by [`Storage::preview_root`], kept so that the following
/// [`Storage::commit`] with the same input does not compute it again.
struct Preview {
    height: u64,
    base: u64,
    changes: ChangeSet,
    update: Update,
}

/// Both trees' updates for one block.
struct Update {
    /// The new app hash.
    root: [u8; 32],
    /// Main-tree nodes.
    batch: TreeUpdateBatch,
    /// The substore's new root and nodes, once the substore exists.
    sub: Option<([u8; 32], TreeUpdateBatch)>,
    /// The substore root to write under [`SUBSTORE_ROOT_KEY`], when it changed.
    sub_root_write: Option<[u8; 32]>,
}

/// The committed state store. Cheap to clone: all clones share the same database.
#[derive(Clone)]
pub struct Storage {
    db: sled::Db,
    meta: Arc<RwLock<Meta>>,
    commit_lock: Arc<Mutex<()>>,
    preview: Arc<Mutex<Option<Preview>>>,
    /// Whether commits record what pruning needs (`S` and `X` entries).
    pruning: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let meta = self.meta();
        f.debug_struct("Storage")
            .field("first_height", &meta.first)
            .field("last_height", &meta.last)
            .field("app_hash", &hex::encode(meta.root))
            .finish()
    }
}

impl Storage {
    /// Opens (or creates) the store at `path`.
    ///
    /// sled's background flusher releases the directory lock a moment after the previous
    /// `Db` (of this process, or of one that is still exiting) is dropped, so a lock conflict
    /// is retried for a few seconds before it is reported.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            // sled's high-throughput mode rewrites less to defragment: +7 % committed sends/s in
            // `make bench-peers` (BENCHMARKS.md), about the same bytes on disk per tx.
            match sled::Config::new().path(path).mode(sled::Mode::HighThroughput).open() {
                Ok(db) => return Self::from_db(db),
                Err(sled::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("acquire lock") => {
                    if std::time::Instant::now() >= deadline {
                        return Err(sled::Error::Io(e).into());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A throw-away store (sled temporary) for tests and benchmarks.
    pub fn temporary() -> Result<Self, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::from_db(db)
    }

    fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        let meta = load_meta(&db)?;
        Ok(Self {
            db,
            meta: Arc::new(RwLock::new(meta)),
            commit_lock: Arc::new(Mutex::new(())),
            preview: Arc::new(Mutex::new(None)),
            pruning: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    fn meta(&self) -> Meta {
        *self.meta.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Last committed `(height, app_hash)`; `(0, EMPTY_APP_HASH)` when nothing was committed.
    pub fn last_committed(&self) -> (u64, [u8; 32]) {
        let meta = self.meta();
        (meta.last, meta.root)
    }

    /// App hash (root) committed at `height`, if that height was committed.
    pub fn app_hash_at(&self, height: u64) -> Result<Option<[u8; 32]>, StoreError> {
        match self.db.get(key_with(P_ROOT, &height.to_be_bytes()))? {
            None => Ok(None),
            Some(raw) => Ok(Some(to_hash(&raw, "root")?)),
        }
    }

    /// Latest committed value.
    pub fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key_with(P_LATEST, key))?.map(|v| v.to_vec()))
    }

    /// Latest committed entries whose key starts with `prefix`, in key order, strictly after
    /// `start_after` if given, at most `limit`.
    pub fn scan_latest(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: usize) -> Result<Entries, StoreError> {
        let mut out = Vec::with_capacity(limit.min(SCAN_PREALLOC));
        if limit == 0 {
            return Ok(out);
        }
        let full_prefix = key_with(P_LATEST, prefix);
        let lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(key_with(P_LATEST, after)),
            _ => Bound::Included(full_prefix.clone()),
        };
        for item in self.db.range::<Vec<u8>, _>((lower, Bound::Unbounded)) {
            let (k, v) = item?;
            if !k.starts_with(&full_prefix) {
                break;
            }
            out.push((k[1..].to_vec(), v.to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Fails unless `height` is between the first and the last committed height.
    fn check_readable(&self, height: u64) -> Result<(), StoreError> {
        let meta = self.meta();
        match meta.first {
            Some(first) if height >= first && height <= meta.last => Ok(()),
            Some(first) if height < first && self.db.contains_key(META_PRUNED).unwrap_or(false) => {
                Err(StoreError::Pruned { height, earliest: first })
            }
            _ => Err(StoreError::HeightNotAvailable(height)),
        }
    }

    /// Value as of committed height `height` (must be between the first committed height and
    /// the last committed height, else [`StoreError::HeightNotAvailable`]).
    pub fn get_at(&self, key: &[u8], height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_readable(height)?;
        let group = history_group(key);
        newest_in_group(&self.db, &group, height)
    }

    /// Same as [`Storage::scan_latest`] but as of committed `height`: keys deleted at or before
    /// that height and keys created after it are excluded.
    pub fn scan_at(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: usize, height: u64) -> Result<Entries, StoreError> {
        self.check_readable(height)?;
        let mut out = Vec::with_capacity(limit.min(SCAN_PREALLOC));
        if limit == 0 {
            return Ok(out);
        }
        let mut full_prefix = Vec::with_capacity(prefix.len().saturating_add(8));
        full_prefix.push(P_HISTORY);
        escape_into(prefix, &mut full_prefix);
        let mut lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(group_end(&history_group(after))),
            _ => Bound::Included(full_prefix.clone()),
        };
        loop {
            let next = self.db.range::<Vec<u8>, _>((lower.clone(), Bound::Unbounded)).next();
            let Some(item) = next else { break };
            let (k, _) = item?;
            if !k.starts_with(&full_prefix) {
                break;
            }
            let group_len = k.len().checked_sub(8).ok_or_else(|| StoreError::Corrupt("short history key".into()))?;
            let group = &k[..group_len];
            if let Some(value) = newest_in_group(&self.db, group, height)? {
                out.push((decode_history_group(group)?, value));
                if out.len() >= limit {
                    break;
                }
            }
            lower = Bound::Excluded(group_end(group));
        }
        Ok(out)
    }

    /// Value and ICS23 proof (existence or non-existence) for `key` at committed `height`,
    /// against [`Storage::app_hash_at`]`(height)`.
    ///
    /// For an empty tree (root [`EMPTY_APP_HASH`]) the proof is a non-existence proof without
    /// neighbours, which [`verify_proof`] accepts against the empty root only.
    pub fn get_with_proof(&self, key: &[u8], height: u64) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof), StoreError> {
        self.check_readable(height)?;
        let root = self.app_hash_at(height)?.ok_or(StoreError::HeightNotAvailable(height))?;
        if root == EMPTY_APP_HASH {
            let proof = ics23::CommitmentProof {
                proof: Some(ics23::commitment_proof::Proof::Nonexist(ics23::NonExistenceProof {
                    key: key.to_vec(),
                    left: None,
                    right: None,
                })),
            };
            return Ok((None, proof));
        }
        let reader = SledReader::main(&self.db, None);
        guarded("proof generation", || Jmt::new(&reader).get_with_ics23_proof(key.to_vec(), height))
    }

    /// Value of the substore key `ibc/<path>` at committed `height` with the two ICS23 proofs an
    /// IBC light client checks, substore first: `path` (= value or absent) against the substore
    /// root, then [`SUBSTORE_ROOT_KEY`] = substore root against the app hash.
    pub fn get_with_substore_proof(&self, path: &[u8], height: u64) -> Result<(Option<Vec<u8>>, [ics23::CommitmentProof; 2]), StoreError> {
        self.check_readable(height)?;
        match self.meta().sub_first {
            Some(first) if first <= height => {}
            _ => return Err(StoreError::NoSubstore(height)),
        }
        let reader = SledReader::substore(&self.db, None);
        let (value, sub_proof) = guarded("proof generation", || Jmt::new(&reader).get_with_ics23_proof(path.to_vec(), height))?;
        let (_, main_proof) = self.get_with_proof(SUBSTORE_ROOT_KEY, height)?;
        Ok((value, [sub_proof, main_proof]))
    }

    /// The IBC substore root at committed `height` (`None` before the substore existed).
    pub fn substore_root_at(&self, height: u64) -> Result<Option<[u8; 32]>, StoreError> {
        match self.db.get(key_with(P_SUB_ROOT, &height.to_be_bytes()))? {
            None => Ok(None),
            Some(raw) => Ok(Some(to_hash(&raw, "substore root")?)),
        }
    }

    /// Root that committing `changes` at `height` would produce, without writing anything.
    /// Equals what [`Storage::commit`] returns for the same input.
    pub fn preview_root(&self, height: u64, changes: &ChangeSet) -> Result<[u8; 32], StoreError> {
        let _guard = lock(&self.commit_lock);
        let meta = self.meta();
        check_commit_height(meta, height)?;
        let update = compute_update(&self.db, meta, height, changes)?;
        let root = update.root;
        *lock(&self.preview) = Some(Preview { height, base: meta.last, changes: changes.clone(), update });
        Ok(root)
    }

    /// Writes `changes` as version `height` in one atomic batch, flushes it to disk and returns
    /// the new app hash.
    ///
    /// `height` must be the last committed height + 1; the very first commit may be at any
    /// height >= 1. On error nothing is written. A [`SUBSTORE_ROOT_KEY`] entry in `changes` is
    /// ignored: the store writes that key itself.
    pub fn commit(&self, height: u64, changes: ChangeSet) -> Result<[u8; 32], StoreError> {
        let _guard = lock(&self.commit_lock);
        let meta = self.meta();
        check_commit_height(meta, height)?;

        let cached = lock(&self.preview).take().filter(|p| p.height == height && p.base == meta.last && p.changes == changes);
        let Update { root, batch: main_nodes, sub, sub_root_write } = match cached {
            Some(p) => p.update,
            None => compute_update(&self.db, meta, height, &changes)?,
        };

        let mut batch = sled::Batch::default();
        let height_be = height.to_be_bytes();
        let pruning = self.pruning.load(std::sync::atomic::Ordering::Acquire);
        // Pruning records of this block: stale nodes by the height they became stale at, and
        // the changed keys; one entry each per height.
        let mut stale: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut changed: Vec<u8> = Vec::new();
        write_nodes(&mut batch, &main_nodes, P_NODE, pruning.then_some(&mut stale))?;
        if let Some((sub_root, sub_nodes)) = &sub {
            write_nodes(&mut batch, sub_nodes, P_SUB_NODE, pruning.then_some(&mut stale))?;
            batch.insert(key_with(P_SUB_ROOT, &height_be), &sub_root[..]);
        }
        let root_write = sub_root_write.map(|r| (SUBSTORE_ROOT_KEY.to_vec(), Some(r.to_vec())));
        let writes = changes.iter().filter(|(k, _)| k.as_slice() != SUBSTORE_ROOT_KEY).chain(root_write.iter().map(|(k, v)| (k, v)));
        for (key, value) in writes {
            let mut hkey = history_group(key);
            hkey.extend_from_slice(&height_be);
            batch.insert(hkey, tagged(value.as_deref()));
            if pruning {
                push_item(&mut changed, key)?;
            }
            match value {
                Some(v) => {
                    let latest_key = key_with(P_LATEST, key);
                    // A key present in the latest index already has its preimage stored.
                    if !self.db.contains_key(&latest_key)? {
                        match key.strip_prefix(SUBSTORE_PREFIX) {
                            Some(path) => batch.insert(key_with(P_SUB_PREIMAGE, &KeyHash::with::<Sha256>(path).0), path),
                            None => batch.insert(key_with(P_PREIMAGE, &KeyHash::with::<Sha256>(key).0), key.as_slice()),
                        }
                    }
                    batch.insert(latest_key, v.as_slice());
                }
                None => batch.remove(key_with(P_LATEST, key)),
            }
        }
        for (since, nodes) in stale {
            batch.insert(key_with(P_STALE, &since.to_be_bytes()), nodes);
        }
        if !changed.is_empty() {
            batch.insert(key_with(P_CHANGED, &height_be), changed);
        }
        batch.insert(key_with(P_ROOT, &height_be), &root[..]);
        let mut last = Vec::with_capacity(40);
        last.extend_from_slice(&height_be);
        last.extend_from_slice(&root);
        batch.insert(META_LAST, last);

        self.db.apply_batch(batch)?;
        crate::crash::crash_point(crate::crash::COMMIT_AFTER_JMT_WRITE);
        // The batch is visible to readers from here on: publish the new metadata before the
        // flush so that `last_committed` always agrees with what reads return.
        {
            let mut m = self.meta.write().unwrap_or_else(PoisonError::into_inner);
            m.first = Some(m.first.unwrap_or(height));
            m.last = height;
            m.root = root;
            if sub.is_some() {
                m.sub_first = Some(m.sub_first.unwrap_or(height));
            }
        }
        self.db.flush()?;
        crate::crash::crash_point(crate::crash::COMMIT_AFTER_FLUSH);
        tracing::debug!(height, app_hash = %hex::encode(root), keys = changes.len(), "committed state");
        Ok(root)
    }

    /// Makes commits record what [`Storage::prune`] needs (off by default: an archive node
    /// stores nothing more).
    pub fn set_pruning(&self, on: bool) {
        self.pruning.store(on, std::sync::atomic::Ordering::Release);
    }

    /// Bytes sled reports for its files.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    /// The earliest height whose state can be read (`None` before the first commit).
    pub fn earliest_height(&self) -> Option<u64> {
        self.meta().first
    }

    /// Deletes what only heights below `retain` need: stale JMT nodes, superseded history
    /// entries and roots. Reads at `retain` and above answer as before; below it they fail
    /// with [`StoreError::Pruned`]. `retain` is capped at the last committed height. Returns the
    /// number of entries deleted.
    pub fn prune(&self, retain: u64) -> Result<u64, StoreError> {
        let _guard = lock(&self.commit_lock);
        let meta = self.meta();
        let Some(first) = meta.first else { return Ok(0) };
        let retain = retain.min(meta.last);
        if retain <= first {
            return Ok(0);
        }
        // Readers see the new bound before anything they could read disappears.
        self.db.insert(META_PRUNED, &[][..])?;
        {
            let mut m = self.meta.write().unwrap_or_else(PoisonError::into_inner);
            m.first = Some(retain);
            m.sub_first = m.sub_first.map(|f| f.max(retain));
        }
        crate::crash::crash_point(crate::crash::PRUNE_BETWEEN_WRITES);
        let mut batch = sled::Batch::default();
        let mut deleted = 0u64;
        // Stale nodes: not part of any tree at `retain` or later (jmt's own rule).
        let through_retain = retain.saturating_add(1);
        for item in self.db.range(below_height(P_STALE, through_retain)) {
            let (k, v) = item?;
            // `S ‖ stale since` → a list of node keys; before lists, `S ‖ stale since ‖ node key`.
            let nodes = match k.get(9..) {
                Some([]) | None => list_items(&v)?,
                Some(node) => vec![node.to_vec()],
            };
            for node in nodes {
                batch.remove(node);
                deleted = deleted.saturating_add(1);
            }
            batch.remove(k);
            deleted = deleted.saturating_add(1);
        }
        // History: a key changed at `h <= retain` needs none of its entries older than `h`.
        for item in self.db.range(below_height(P_CHANGED, through_retain)) {
            let (k, v) = item?;
            let height = read_u64(k.get(1..9).ok_or_else(|| StoreError::Corrupt("short changed-key entry".into()))?)?;
            // `X ‖ height` → a list of raw keys; before lists, `X ‖ height ‖ raw key` (raw keys
            // are never empty).
            let keys = match k.get(9..) {
                Some([]) | None => list_items(&v)?,
                Some(key) => vec![key.to_vec()],
            };
            for key in keys {
                let group = history_group(&key);
                let mut lo = group.clone();
                lo.extend_from_slice(&0u64.to_be_bytes());
                let mut hi = group;
                hi.extend_from_slice(&height.to_be_bytes());
                for old in self.db.range(lo..hi) {
                    batch.remove(old?.0);
                    deleted = deleted.saturating_add(1);
                }
            }
            batch.remove(k);
            deleted = deleted.saturating_add(1);
        }
        // Roots below `retain`, of both trees.
        for prefix in [P_ROOT, P_SUB_ROOT] {
            for item in self.db.range(below_height(prefix, retain)) {
                batch.remove(item?.0);
                deleted = deleted.saturating_add(1);
            }
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        tracing::debug!(retain, deleted, "pruned state");
        Ok(deleted)
    }
}

/// Verifies an ICS23 proof produced by [`Storage::get_with_proof`] against `root`: membership of
/// `key = value` if `value` is `Some`, non-membership of `key` otherwise.
pub fn verify_proof(root: &[u8; 32], key: &[u8], value: Option<&[u8]>, proof: &ics23::CommitmentProof) -> bool {
    let spec = jmt::ics23_spec();
    let root_vec = root.to_vec();
    match value {
        Some(v) => ics23::verify_membership::<ics23::HostFunctionsManager>(proof, &spec, &root_vec, key, v),
        None => {
            if *root == EMPTY_APP_HASH {
                // Nothing exists in an empty tree; accept only the neighbour-less proof we produce.
                return matches!(
                    &proof.proof,
                    Some(ics23::commitment_proof::Proof::Nonexist(ne))
                        if ne.key == key && ne.left.is_none() && ne.right.is_none()
                );
            }
            ics23::verify_non_membership::<ics23::HostFunctionsManager>(proof, &spec, &root_vec, key)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs a jmt operation, turning its errors and any panic (jmt asserts on malformed trees)
/// into a [`StoreError`].
fn guarded<T>(what: &str, f: impl FnOnce() -> anyhow::Result<T>) -> Result<T, StoreError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(StoreError::Jmt(e)),
        Err(_) => Err(StoreError::Corrupt(format!("merkle tree panicked during {what}"))),
    }
}

fn check_commit_height(meta: Meta, height: u64) -> Result<(), StoreError> {
    let ok = if meta.first.is_none() { height >= 1 } else { meta.last.checked_add(1) == Some(height) };
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidCommitHeight { height, last: meta.last })
    }
}

/// Runs the JMT updates for `changes` at version `height` on top of the committed trees (the
/// substore's first, when it exists or `changes` creates it; its root then goes into the main
/// tree), without writing anything.
fn compute_update(db: &sled::Db, meta: Meta, height: u64, changes: &ChangeSet) -> Result<Update, StoreError> {
    // Before a tree's first commit there is no root at `height - 1`: serve a virtual empty one.
    let empty_base = || height.checked_sub(1).ok_or(StoreError::InvalidCommitHeight { height, last: 0 });
    let sub_values: Vec<(KeyHash, Option<OwnedValue>)> = changes
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(SUBSTORE_PREFIX).map(|path| (KeyHash::with::<Sha256>(path), v.clone())))
        .collect();
    let (sub, sub_root_write) = if meta.sub_first.is_some() || !sub_values.is_empty() {
        let reader = SledReader::substore(db, if meta.sub_first.is_none() { Some(empty_base()?) } else { None });
        let (sub_root, sub_batch) = guarded("substore update", || Jmt::new(&reader).put_value_set(sub_values, height))?;
        check_has_root(&sub_batch, height)?;
        let previous = match meta.sub_first {
            Some(_) => db.get(key_with(P_SUB_ROOT, &meta.last.to_be_bytes()))?.map(|r| to_hash(&r, "substore root")).transpose()?,
            None => None,
        };
        let write = (previous != Some(sub_root.0)).then_some(sub_root.0);
        (Some((sub_root.0, sub_batch)), write)
    } else {
        (None, None)
    };
    let reader = SledReader::main(db, if meta.first.is_none() { Some(empty_base()?) } else { None });
    let root_write = sub_root_write.map(|r| (KeyHash::with::<Sha256>(SUBSTORE_ROOT_KEY), Some(r.to_vec())));
    let value_set: Vec<(KeyHash, Option<OwnedValue>)> = changes
        .iter()
        .filter(|(k, _)| k.as_slice() != SUBSTORE_ROOT_KEY && !k.starts_with(SUBSTORE_PREFIX))
        .map(|(k, v)| (KeyHash::with::<Sha256>(k), v.clone()))
        .chain(root_write)
        .collect();
    let (root, batch) = guarded("update", || Jmt::new(&reader).put_value_set(value_set, height))?;
    check_has_root(&batch, height)?;
    Ok(Update { root: root.0, batch, sub, sub_root_write })
}

fn check_has_root(batch: &TreeUpdateBatch, height: u64) -> Result<(), StoreError> {
    if batch.node_batch.nodes().keys().any(|k| k.version() == height && k.nibble_path().is_empty()) {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!("merkle tree update produced no root node for version {height}")))
    }
}

/// Adds a tree's new nodes to `batch` and, when pruning, its stale nodes' keys to `stale` (by
/// the height they became stale at).
fn write_nodes(
    batch: &mut sled::Batch,
    update: &TreeUpdateBatch,
    prefix: u8,
    stale: Option<&mut BTreeMap<u64, Vec<u8>>>,
) -> Result<(), StoreError> {
    for (node_key, node) in update.node_batch.nodes() {
        let encoded = borsh::to_vec(node).map_err(|e| StoreError::Corrupt(format!("cannot encode node: {e}")))?;
        batch.insert(node_db_key(prefix, node_key)?, encoded);
    }
    if let Some(stale) = stale {
        for entry in update.stale_node_index_batch.iter() {
            push_item(stale.entry(entry.stale_since_version).or_default(), &node_db_key(prefix, &entry.node_key)?)?;
        }
    }
    Ok(())
}

/// Appends `u32 BE length ‖ item` to a pruning record.
fn push_item(list: &mut Vec<u8>, item: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(item.len()).map_err(|_| StoreError::Corrupt("pruning record item over 4 GiB".into()))?;
    list.extend_from_slice(&len.to_be_bytes());
    list.extend_from_slice(item);
    Ok(())
}

/// The items of a pruning record written by [`push_item`].
fn list_items(mut list: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let bad = || StoreError::Corrupt("bad pruning record".into());
    let mut out = Vec::new();
    while !list.is_empty() {
        let (len, rest) = list.split_first_chunk::<4>().ok_or_else(bad)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| bad())?;
        let item = rest.get(..len).ok_or_else(bad)?;
        out.push(item.to_vec());
        list = &rest[len..];
    }
    Ok(out)
}

fn load_meta(db: &sled::Db) -> Result<Meta, StoreError> {
    let Some(raw) = db.get(META_LAST)? else {
        return Ok(Meta { first: None, last: 0, root: EMPTY_APP_HASH, sub_first: None });
    };
    if raw.len() != 40 {
        return Err(StoreError::Corrupt("bad last-commit record".into()));
    }
    let last = read_u64(&raw[..8])?;
    let root = to_hash(&raw[8..], "last root")?;
    let first = match db.scan_prefix([P_ROOT]).next() {
        Some(item) => read_u64(&item?.0[1..])?,
        None => return Err(StoreError::Corrupt("no committed roots".into())),
    };
    let stored =
        db.get(key_with(P_ROOT, &last.to_be_bytes()))?.ok_or_else(|| StoreError::Corrupt(format!("missing root for height {last}")))?;
    if to_hash(&stored, "root")? != root || first > last {
        return Err(StoreError::Corrupt("last-commit record disagrees with roots".into()));
    }
    let sub_first = match db.scan_prefix([P_SUB_ROOT]).next() {
        Some(item) => Some(read_u64(&item?.0[1..])?),
        None => None,
    };
    Ok(Meta { first: Some(first), last, root, sub_first })
}

/// Keys `prefix ‖ h (u64 BE) ‖ …` with `h < height`, for the height-keyed indexes.
fn below_height(prefix: u8, height: u64) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    (Bound::Included(vec![prefix]), Bound::Excluded(key_with(prefix, &height.to_be_bytes())))
}

fn key_with(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(rest.len().saturating_add(1));
    k.push(prefix);
    k.extend_from_slice(rest);
    k
}

fn read_u64(b: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = b.try_into().map_err(|_| StoreError::Corrupt("bad u64 encoding".into()))?;
    Ok(u64::from_be_bytes(arr))
}

fn to_hash(b: &[u8], what: &str) -> Result<[u8; 32], StoreError> {
    b.try_into().map_err(|_| StoreError::Corrupt(format!("bad {what} hash length {}", b.len())))
}

fn tagged(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        None => vec![TAG_DELETED],
        Some(v) => {
            let mut out = Vec::with_capacity(v.len().saturating_add(1));
            out.push(TAG_VALUE);
            out.extend_from_slice(v);
            out
        }
    }
}

fn untag(raw: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    match raw.split_first() {
        Some((&TAG_DELETED, [])) => Ok(None),
        Some((&TAG_VALUE, v)) => Ok(Some(v.to_vec())),
        _ => Err(StoreError::Corrupt("bad value tag".into())),
    }
}

fn node_db_key(prefix: u8, node_key: &NodeKey) -> Result<Vec<u8>, StoreError> {
    let path = borsh::to_vec(node_key.nibble_path()).map_err(|e| StoreError::Corrupt(format!("cannot encode nibble path: {e}")))?;
    let mut k = Vec::with_capacity(path.len().saturating_add(9));
    k.push(prefix);
    k.extend_from_slice(&node_key.version().to_be_bytes());
    k.extend_from_slice(&path);
    Ok(k)
}

/// Appends `raw` with `00` escaped as `00 FF` (order preserving, prefix preserving).
fn escape_into(raw: &[u8], out: &mut Vec<u8>) {
    for &b in raw {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

/// `H ‖ escape(key) ‖ 00 00`: the common prefix of all history entries of `key`.
fn history_group(key: &[u8]) -> Vec<u8> {
    let mut g = Vec::with_capacity(key.len().saturating_add(11));
    g.push(P_HISTORY);
    escape_into(key, &mut g);
    g.extend_from_slice(&[0, 0]);
    g
}

/// Largest possible history key of a group (its entries are `group ‖ u64 BE`).
fn group_end(group: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(group.len().saturating_add(8));
    e.extend_from_slice(group);
    e.extend_from_slice(&[0xFF; 8]);
    e
}

/// Recovers the raw key from a history group prefix.
fn decode_history_group(group: &[u8]) -> Result<Vec<u8>, StoreError> {
    let bad = || StoreError::Corrupt("bad history key encoding".into());
    let body = group.strip_prefix(&[P_HISTORY]).and_then(|g| g.strip_suffix(&[0, 0])).ok_or_else(bad)?;
    let mut out = Vec::with_capacity(body.len());
    let mut it = body.iter();
    while let Some(&b) = it.next() {
        if b == 0 && it.next() != Some(&0xFF) {
            return Err(bad());
        }
        out.push(b);
    }
    Ok(out)
}

/// Newest history entry of a group at or below `height`, tombstones as `None`.
fn newest_in_group(db: &sled::Db, group: &[u8], height: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let mut lo = Vec::with_capacity(group.len().saturating_add(8));
    lo.extend_from_slice(group);
    let mut hi = lo.clone();
    lo.extend_from_slice(&0u64.to_be_bytes());
    hi.extend_from_slice(&height.to_be_bytes());
    match db.range(lo..=hi).next_back() {
        None => Ok(None),
        Some(item) => untag(&item?.1),
    }
}

/// [`TreeReader`] over the sled database, for the main tree or the IBC substore.
///
/// Nodes are immutable once written, so the reader memoizes decoded nodes for its (short)
/// lifetime: one block update reads the upper levels of the tree once instead of once per key.
struct SledReader<'a> {
    db: &'a sled::Db,
    /// A version whose root is served as an empty (null) node: the base of the first commit.
    virtual_empty_root: Option<Version>,
    nodes: RefCell<HashMap<NodeKey, Node>>,
    /// Prefix of the tree's nodes (`N` or `I`).
    node_prefix: u8,
    /// Prefix of the tree's key preimages (`P` or `Q`).
    preimage_prefix: u8,
}

impl<'a> SledReader<'a> {
    fn main(db: &'a sled::Db, virtual_empty_root: Option<Version>) -> Self {
        Self { db, virtual_empty_root, nodes: RefCell::new(HashMap::new()), node_prefix: P_NODE, preimage_prefix: P_PREIMAGE }
    }

    fn substore(db: &'a sled::Db, virtual_empty_root: Option<Version>) -> Self {
        Self { db, virtual_empty_root, nodes: RefCell::new(HashMap::new()), node_prefix: P_SUB_NODE, preimage_prefix: P_SUB_PREIMAGE }
    }
}

impl TreeReader for SledReader<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        if Some(node_key.version()) == self.virtual_empty_root && node_key.nibble_path().is_empty() {
            return Ok(Some(Node::Null));
        }
        if let Some(node) = self.nodes.borrow().get(node_key) {
            return Ok(Some(node.clone()));
        }
        match self.db.get(node_db_key(self.node_prefix, node_key)?)? {
            None => Ok(None),
            Some(raw) => {
                let node = borsh::from_slice::<Node>(&raw)?;
                self.nodes.borrow_mut().insert(node_key.clone(), node.clone());
                Ok(Some(node))
            }
        }
    }

    fn get_value_option(&self, max_version: Version, key_hash: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        // Values are kept once, in the history index; the preimage leads there.
        match self.preimage(key_hash)? {
            None => Ok(None),
            // Substore preimages are ICS-24 paths; their values sit under `ibc/<path>`.
            Some(key) if self.preimage_prefix == P_SUB_PREIMAGE => {
                Ok(newest_in_group(self.db, &history_group(&[SUBSTORE_PREFIX, &key].concat()), max_version)?)
            }
            Some(key) => Ok(newest_in_group(self.db, &history_group(&key), max_version)?),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only used by jmt's state-sync restore and the `migration` feature, neither of which
        // this store uses.
        anyhow::bail!("get_rightmost_leaf is not supported by this store")
    }
}

impl HasPreimage for SledReader<'_> {
    fn preimage(&self, key_hash: KeyHash) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.db.get(key_with(self.preimage_prefix, &key_hash.0))?.map(|v| v.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(items: &[(&str, Option<&str>)]) -> ChangeSet {
        items.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))).collect()
    }

    fn kv(items: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        items.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
    }

    /// Entries of the database under `prefix`.
    fn count(s: &Storage, prefix: u8) -> usize {
        s.db.scan_prefix([prefix]).count()
    }

    /// Checks the two-layer proof of `ibc/<path>` at `height` the way an IBC light client does:
    /// the path against the substore root, the substore root under `ibc` against the app hash.
    fn substore_proof_holds(s: &Storage, path: &str, height: u64) -> Option<Vec<u8>> {
        let (value, [sub, main]) = s.get_with_substore_proof(path.as_bytes(), height).unwrap();
        let sub_root = s.substore_root_at(height).unwrap().unwrap();
        assert!(verify_proof(&sub_root, path.as_bytes(), value.as_deref(), &sub), "{path} at {height} against the substore root");
        let app_hash = s.app_hash_at(height).unwrap().unwrap();
        assert!(verify_proof(&app_hash, SUBSTORE_ROOT_KEY, Some(&sub_root), &main), "substore root at {height}");
        assert!(!verify_proof(&app_hash, SUBSTORE_ROOT_KEY, Some(&[7u8; 32]), &main));
        value
    }

    #[test]
    fn the_ibc_substore_proves_in_two_layers_and_leaves_chains_without_it_unchanged() {
        let plain = Storage::temporary().unwrap();
        let with_ibc = Storage::temporary().unwrap();
        // Until a substore key is written, both stores agree on every app hash.
        for h in 1..=3 {
            let c = cs(&[("bank/a", Some(&h.to_string()))]);
            assert_eq!(plain.commit(h, c.clone()).unwrap(), with_ibc.commit(h, c).unwrap());
        }
        assert!(matches!(with_ibc.get_with_substore_proof(b"clients/x", 3), Err(StoreError::NoSubstore(3))));
        let h4 = cs(&[
            ("bank/a", Some("4")),
            ("ibc/clients/07-tendermint-0/clientState", Some("cs0")),
            ("ibc/nextClientSequence", Some("1")),
            ("ibc", Some("ignored")),
        ]);
        let root4 = with_ibc.preview_root(4, &h4).unwrap();
        assert_eq!(with_ibc.commit(4, h4).unwrap(), root4);
        assert_ne!(root4, plain.commit(4, cs(&[("bank/a", Some("4"))])).unwrap());
        let sub4 = with_ibc.substore_root_at(4).unwrap().unwrap();
        // The store writes the root key itself (the caller's `ibc` entry is ignored).
        assert_eq!(with_ibc.get_latest(SUBSTORE_ROOT_KEY).unwrap(), Some(sub4.to_vec()));
        assert_eq!(with_ibc.get_latest(b"ibc/clients/07-tendermint-0/clientState").unwrap(), Some(b"cs0".to_vec()));
        assert_eq!(substore_proof_holds(&with_ibc, "clients/07-tendermint-0/clientState", 4), Some(b"cs0".to_vec()));
        assert_eq!(substore_proof_holds(&with_ibc, "clients/07-tendermint-1/clientState", 4), None);
        // A block without substore changes keeps the substore root and still proves.
        with_ibc.commit(5, cs(&[("bank/a", Some("5"))])).unwrap();
        assert_eq!(with_ibc.substore_root_at(5).unwrap(), Some(sub4));
        assert_eq!(substore_proof_holds(&with_ibc, "clients/07-tendermint-0/clientState", 5), Some(b"cs0".to_vec()));
        // A change and a deletion move the root; older heights still prove their own values.
        with_ibc.commit(6, cs(&[("ibc/clients/07-tendermint-0/clientState", Some("cs1")), ("ibc/receipts/1", Some("\x01"))])).unwrap();
        with_ibc.commit(7, cs(&[("ibc/receipts/1", None)])).unwrap();
        assert_eq!(substore_proof_holds(&with_ibc, "clients/07-tendermint-0/clientState", 6), Some(b"cs1".to_vec()));
        assert_eq!(substore_proof_holds(&with_ibc, "receipts/1", 6), Some(b"\x01".to_vec()));
        assert_eq!(substore_proof_holds(&with_ibc, "receipts/1", 7), None);
        assert_eq!(substore_proof_holds(&with_ibc, "clients/07-tendermint-0/clientState", 4), Some(b"cs0".to_vec()));
        // Reopened, the store still knows the substore.
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Storage::open(dir.path()).unwrap();
            s.commit(1, cs(&[("ibc/a", Some("1"))])).unwrap();
        }
        let s = Storage::open(dir.path()).unwrap();
        s.commit(2, cs(&[("x", Some("2"))])).unwrap();
        assert_eq!(substore_proof_holds(&s, "a", 2), Some(b"1".to_vec()));
        // The same content committed in one go (a state-sync restore) gives the same app hash.
        let restored = Storage::temporary().unwrap();
        let all: ChangeSet = with_ibc.scan_latest(b"", None, 1000).unwrap().into_iter().map(|(k, v)| (k, Some(v))).collect();
        assert_eq!(restored.commit(7, all).unwrap(), with_ibc.app_hash_at(7).unwrap().unwrap());
    }

    #[test]
    fn pruning_still_reads_the_one_entry_per_item_records_of_older_stores() {
        let s = Storage::temporary().unwrap();
        for h in 1..=3 {
            s.commit(h, cs(&[("a", Some(&h.to_string()))])).unwrap();
        }
        // What a store written before the per-height lists holds: `X ‖ height ‖ raw key` and
        // `S ‖ stale since ‖ node key` entries.
        for h in 2u64..=3 {
            let mut x = key_with(P_CHANGED, &h.to_be_bytes());
            x.extend_from_slice(b"a");
            s.db.insert(x, &[][..]).unwrap();
        }
        let legacy_node = key_with(P_NODE, b"\xff\xff\xff\xff\xff\xff\xff\xfflegacy");
        s.db.insert(&legacy_node, &b"node"[..]).unwrap();
        let mut stale = key_with(P_STALE, &1u64.to_be_bytes());
        stale.extend_from_slice(&legacy_node);
        s.db.insert(stale, &[][..]).unwrap();

        assert!(s.prune(3).unwrap() > 0);
        assert_eq!(s.get_at(b"a", 3).unwrap(), Some(b"3".to_vec()));
        assert!(matches!(s.get_at(b"a", 2), Err(StoreError::Pruned { .. })));
        assert_eq!(s.db.scan_prefix(history_group(b"a")).count(), 1, "older versions of a are gone");
        assert!(!s.db.contains_key(&legacy_node).unwrap(), "the legacy stale node is gone");
        assert_eq!(count(&s, P_STALE) + count(&s, P_CHANGED), 0);
    }

    #[test]
    fn pruning_keeps_every_retained_height_exact_and_frees_the_rest() {
        // Twin stores get the same 30 blocks; one prunes to 20 along the way.
        let pruned = Storage::temporary().unwrap();
        let archive = Storage::temporary().unwrap();
        pruned.set_pruning(true);
        let block = |h: u64| -> ChangeSet {
            let mut c = ChangeSet::new();
            c.insert(b"counter".to_vec(), Some(h.to_string().into_bytes()));
            c.insert(
                format!("k/{}", h % 7).into_bytes(),
                if h.is_multiple_of(5) { None } else { Some(vec![u8::try_from(h).unwrap(); 40]) },
            );
            c.insert(format!("once/{h}").into_bytes(), Some(b"v".to_vec()));
            c
        };
        for h in 1..=30 {
            assert_eq!(pruned.commit(h, block(h)).unwrap(), archive.commit(h, block(h)).unwrap());
            if h == 25 {
                assert!(pruned.prune(20).unwrap() > 0);
            }
        }
        let (nodes, history) = (count(&pruned, P_NODE), count(&pruned, P_HISTORY));
        assert!(nodes < count(&archive, P_NODE), "nodes {nodes} vs {}", count(&archive, P_NODE));
        assert!(history < count(&archive, P_HISTORY));
        // Every retained height reads, scans and proves exactly as the archive does.
        for h in 20..=30 {
            for key in ["counter", "k/0", "k/3", "k/5", "once/3", "once/22", "missing"] {
                assert_eq!(pruned.get_at(key.as_bytes(), h).unwrap(), archive.get_at(key.as_bytes(), h).unwrap(), "{key} at {h}");
                let (v, proof) = pruned.get_with_proof(key.as_bytes(), h).unwrap();
                let root = archive.app_hash_at(h).unwrap().unwrap();
                assert!(verify_proof(&root, key.as_bytes(), v.as_deref(), &proof), "{key} at {h}");
            }
            assert_eq!(pruned.scan_at(b"", None, 1000, h).unwrap(), archive.scan_at(b"", None, 1000, h).unwrap(), "scan at {h}");
        }
        // Below: a clear error, on reads and proofs alike.
        assert!(matches!(pruned.get_at(b"counter", 19), Err(StoreError::Pruned { height: 19, earliest: 20 })));
        assert!(matches!(pruned.get_with_proof(b"counter", 3), Err(StoreError::Pruned { .. })));
        assert_eq!(pruned.earliest_height(), Some(20));
        // A reopened store keeps the bound.
        let dir = tempfile::tempdir().unwrap();
        {
            let on_disk = Storage::open(dir.path()).unwrap();
            on_disk.set_pruning(true);
            for h in 1..=10 {
                on_disk.commit(h, block(h)).unwrap();
            }
            on_disk.prune(8).unwrap();
        }
        let reopened = Storage::open(dir.path()).unwrap();
        assert_eq!(reopened.earliest_height(), Some(8));
        assert!(matches!(reopened.get_at(b"counter", 7), Err(StoreError::Pruned { .. })));
        assert_eq!(reopened.get_at(b"counter", 8).unwrap(), Some(b"8".to_vec()));
    }

    #[test]
    fn empty_store() {
        let s = Storage::temporary().unwrap();
        assert_eq!(s.last_committed(), (0, EMPTY_APP_HASH));
        assert_eq!(s.get_latest(b"a").unwrap(), None);
        assert!(matches!(s.get_at(b"a", 1), Err(StoreError::HeightNotAvailable(1))));
        assert_eq!(s.app_hash_at(1).unwrap(), None);
    }

    #[test]
    fn commit_and_read_latest() {
        let s = Storage::temporary().unwrap();
        let root = s.commit(1, cs(&[("bank/a", Some("1")), ("bank/b", Some("2"))])).unwrap();
        assert_ne!(root, EMPTY_APP_HASH);
        assert_eq!(s.last_committed(), (1, root));
        assert_eq!(s.app_hash_at(1).unwrap(), Some(root));
        assert_eq!(s.get_latest(b"bank/a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get_latest(b"bank/c").unwrap(), None);
        s.commit(2, cs(&[("bank/a", None), ("bank/b", Some("3"))])).unwrap();
        assert_eq!(s.get_latest(b"bank/a").unwrap(), None);
        assert_eq!(s.get_latest(b"bank/b").unwrap(), Some(b"3".to_vec()));
    }

    #[test]
    fn scans_in_order_with_start_after_and_limit() {
        let s = Storage::temporary().unwrap();
        s.commit(
            1,
            cs(&[
                ("p/c", Some("3")),
                ("p/a", Some("1")),
                ("p/b", Some("2")),
                ("p/b\0x", Some("2x")),
                ("p", Some("root")),
                ("q/a", Some("x")),
                ("o/z", Some("y")),
            ]),
        )
        .unwrap();
        let all = s.scan_latest(b"p/", None, 100).unwrap();
        assert_eq!(all, kv(&[("p/a", "1"), ("p/b", "2"), ("p/b\0x", "2x"), ("p/c", "3")]));
        assert_eq!(s.scan_latest(b"p/", None, 2).unwrap(), kv(&[("p/a", "1"), ("p/b", "2")]));
        assert_eq!(s.scan_latest(b"p/", Some(b"p/b"), 2).unwrap(), kv(&[("p/b\0x", "2x"), ("p/c", "3")]));
        assert_eq!(s.scan_latest(b"p/", Some(b"a"), 1).unwrap(), kv(&[("p/a", "1")]));
        assert!(s.scan_latest(b"p/", Some(b"p/c"), 10).unwrap().is_empty());
        assert!(s.scan_latest(b"p/", None, 0).unwrap().is_empty());
        assert_eq!(s.scan_latest(b"", None, 100).unwrap().len(), 7);

        // Historical scans agree at the latest height.
        assert_eq!(s.scan_at(b"p/", None, 100, 1).unwrap(), all);
        assert_eq!(s.scan_at(b"p/", Some(b"p/b"), 2, 1).unwrap(), kv(&[("p/b\0x", "2x"), ("p/c", "3")]));
        assert_eq!(s.scan_at(b"p/", None, 2, 1).unwrap(), kv(&[("p/a", "1"), ("p/b", "2")]));
        assert_eq!(s.scan_at(b"", None, 100, 1).unwrap().len(), 7);
    }

    #[test]
    fn history_across_heights() {
        let s = Storage::temporary().unwrap();
        s.commit(5, cs(&[("k/a", Some("a1")), ("k/b", Some("b1"))])).unwrap();
        s.commit(6, cs(&[("k/a", Some("a2")), ("k/c", Some("c2"))])).unwrap();
        s.commit(7, cs(&[("k/b", None), ("k/a", Some("a3"))])).unwrap();

        assert_eq!(s.get_at(b"k/a", 5).unwrap(), Some(b"a1".to_vec()));
        assert_eq!(s.get_at(b"k/a", 6).unwrap(), Some(b"a2".to_vec()));
        assert_eq!(s.get_at(b"k/a", 7).unwrap(), Some(b"a3".to_vec()));
        assert_eq!(s.get_at(b"k/b", 6).unwrap(), Some(b"b1".to_vec()));
        assert_eq!(s.get_at(b"k/b", 7).unwrap(), None);
        assert_eq!(s.get_at(b"k/c", 5).unwrap(), None);
        assert_eq!(s.get_at(b"k/c", 6).unwrap(), Some(b"c2".to_vec()));
        assert!(matches!(s.get_at(b"k/a", 4), Err(StoreError::HeightNotAvailable(4))));
        assert!(matches!(s.get_at(b"k/a", 8), Err(StoreError::HeightNotAvailable(8))));

        assert_eq!(s.scan_at(b"k/", None, 10, 5).unwrap(), kv(&[("k/a", "a1"), ("k/b", "b1")]));
        assert_eq!(s.scan_at(b"k/", None, 10, 6).unwrap(), kv(&[("k/a", "a2"), ("k/b", "b1"), ("k/c", "c2")]));
        assert_eq!(s.scan_at(b"k/", None, 10, 7).unwrap(), kv(&[("k/a", "a3"), ("k/c", "c2")]));
        assert_eq!(s.scan_at(b"k/", Some(b"k/a"), 1, 7).unwrap(), kv(&[("k/c", "c2")]));
        assert_eq!(s.scan_at(b"k/", None, 10, 7).unwrap(), s.scan_latest(b"k/", None, 10).unwrap());
        assert!(s.scan_at(b"k/", None, 10, 8).is_err());
        assert_eq!(s.app_hash_at(4).unwrap(), None);
        for h in 5..=7 {
            assert!(s.app_hash_at(h).unwrap().is_some());
        }
    }

    #[test]
    fn empty_blocks_get_roots() {
        let s = Storage::temporary().unwrap();
        // First block empty, at an initial height > 1.
        let r3 = s.commit(3, ChangeSet::new()).unwrap();
        assert_eq!(r3, EMPTY_APP_HASH);
        assert_eq!(s.app_hash_at(3).unwrap(), Some(EMPTY_APP_HASH));
        let r4 = s.commit(4, cs(&[("a", Some("1"))])).unwrap();
        let r5 = s.commit(5, ChangeSet::new()).unwrap();
        assert_eq!(r4, r5);
        assert_eq!(s.app_hash_at(5).unwrap(), Some(r4));
        // Deleting a key that does not exist changes nothing either.
        let r6 = s.commit(6, cs(&[("zzz", None)])).unwrap();
        assert_eq!(r6, r4);
        // Deleting everything gives the empty root again.
        let r7 = s.commit(7, cs(&[("a", None)])).unwrap();
        assert_eq!(r7, EMPTY_APP_HASH);
        let r8 = s.commit(8, ChangeSet::new()).unwrap();
        assert_eq!(r8, EMPTY_APP_HASH);
        let r9 = s.commit(9, cs(&[("b", Some("2"))])).unwrap();
        assert_ne!(r9, EMPTY_APP_HASH);
        assert_eq!(s.get_at(b"a", 6).unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get_at(b"a", 8).unwrap(), None);
        let (v, proof) = s.get_with_proof(b"a", 5).unwrap();
        assert_eq!(v.as_deref(), Some(&b"1"[..]));
        assert!(verify_proof(&r5, b"a", Some(b"1"), &proof));
        let (v, proof) = s.get_with_proof(b"a", 8).unwrap();
        assert_eq!(v, None);
        assert!(verify_proof(&r8, b"a", None, &proof));
        assert!(!verify_proof(&r9, b"a", None, &proof));
    }

    #[test]
    fn preview_matches_commit_and_writes_nothing() {
        let s = Storage::temporary().unwrap();
        let c1 = cs(&[("x", Some("1")), ("y", Some("2"))]);
        let p1 = s.preview_root(1, &c1).unwrap();
        assert_eq!(s.last_committed(), (0, EMPTY_APP_HASH));
        assert_eq!(s.get_latest(b"x").unwrap(), None);
        assert_eq!(s.commit(1, c1).unwrap(), p1);

        let c2 = cs(&[("x", None), ("z", Some("3"))]);
        let p2 = s.preview_root(2, &c2).unwrap();
        // A preview of different changes replaces the cached one; commit must recompute.
        let other = cs(&[("w", Some("9"))]);
        let p_other = s.preview_root(2, &other).unwrap();
        assert_ne!(p2, p_other);
        assert_eq!(s.commit(2, c2).unwrap(), p2);
        assert!(s.preview_root(2, &ChangeSet::new()).is_err());

        // A fresh store with no preview gives the same roots.
        let t = Storage::temporary().unwrap();
        assert_eq!(t.commit(1, cs(&[("x", Some("1")), ("y", Some("2"))])).unwrap(), p1);
        assert_eq!(t.commit(2, cs(&[("x", None), ("z", Some("3"))])).unwrap(), p2);
    }

    #[test]
    fn determinism() {
        let blocks = [cs(&[("a", Some("1")), ("b", Some("2")), ("c", Some("3"))]), cs(&[("b", None), ("d", Some("4"))]), ChangeSet::new()];
        let s1 = Storage::temporary().unwrap();
        let s2 = Storage::temporary().unwrap();
        for (i, b) in blocks.iter().enumerate() {
            let h = i as u64 + 1;
            assert_eq!(s1.commit(h, b.clone()).unwrap(), s2.commit(h, b.clone()).unwrap());
        }
        let s3 = Storage::temporary().unwrap();
        let r3 = s3.commit(1, cs(&[("a", Some("1")), ("b", Some("2")), ("c", Some("4"))])).unwrap();
        assert_ne!(r3, s1.app_hash_at(1).unwrap().unwrap());
        let s4 = Storage::temporary().unwrap();
        let r4 = s4.commit(1, cs(&[("a", Some("1")), ("b", Some("2"))])).unwrap();
        assert_ne!(r4, s1.app_hash_at(1).unwrap().unwrap());
    }

    #[test]
    fn proofs_verify() {
        let s = Storage::temporary().unwrap();
        let mut c = ChangeSet::new();
        for i in 0..50u32 {
            c.insert(format!("acc/{i:03}").into_bytes(), Some(format!("v{i}").into_bytes()));
        }
        let r1 = s.commit(1, c).unwrap();
        let r2 = s.commit(2, cs(&[("acc/007", Some("new")), ("acc/010", None)])).unwrap();

        let (v, p) = s.get_with_proof(b"acc/007", 1).unwrap();
        assert_eq!(v.as_deref(), Some(&b"v7"[..]));
        assert!(verify_proof(&r1, b"acc/007", Some(b"v7"), &p));
        assert!(!verify_proof(&r1, b"acc/007", Some(b"v8"), &p));
        assert!(!verify_proof(&r2, b"acc/007", Some(b"v7"), &p));
        assert!(!verify_proof(&r1, b"acc/007", None, &p));

        let (v, p) = s.get_with_proof(b"acc/007", 2).unwrap();
        assert_eq!(v.as_deref(), Some(&b"new"[..]));
        assert!(verify_proof(&r2, b"acc/007", Some(b"new"), &p));

        for key in [&b"acc/010"[..], b"missing", b"", b"zzzz"] {
            let (v, p) = s.get_with_proof(key, 2).unwrap();
            assert_eq!(v, None);
            assert!(verify_proof(&r2, key, None, &p), "non-membership of {key:?}");
            assert!(!verify_proof(&r2, key, Some(b"v10"), &p));
        }
        // Non-membership proof for one key does not prove another key absent.
        let (_, p) = s.get_with_proof(b"missing", 2).unwrap();
        assert!(!verify_proof(&r2, b"acc/001", None, &p));
        assert!(s.get_with_proof(b"acc/001", 3).is_err());
    }

    #[test]
    fn reopen_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (r1, r2) = {
            let s = Storage::open(dir.path()).unwrap();
            let r1 = s.commit(10, cs(&[("a", Some("1")), ("b", Some("2"))])).unwrap();
            let r2 = s.commit(11, cs(&[("a", None), ("c", Some("3"))])).unwrap();
            (r1, r2)
        };
        let s = Storage::open(dir.path()).unwrap();
        assert_eq!(s.last_committed(), (11, r2));
        assert_eq!(s.app_hash_at(10).unwrap(), Some(r1));
        assert_eq!(s.get_latest(b"c").unwrap(), Some(b"3".to_vec()));
        assert_eq!(s.get_latest(b"a").unwrap(), None);
        assert_eq!(s.get_at(b"a", 10).unwrap(), Some(b"1".to_vec()));
        assert!(s.get_at(b"a", 9).is_err());
        let (v, p) = s.get_with_proof(b"b", 11).unwrap();
        assert!(verify_proof(&r2, b"b", v.as_deref(), &p));
        let r3 = s.commit(12, cs(&[("d", Some("4"))])).unwrap();
        assert_eq!(s.app_hash_at(12).unwrap(), Some(r3));
        assert!(s.commit(14, ChangeSet::new()).is_err());
    }

    #[test]
    fn wrong_height_is_rejected_without_changes() {
        let s = Storage::temporary().unwrap();
        assert!(matches!(s.commit(0, cs(&[("a", Some("1"))])), Err(StoreError::InvalidCommitHeight { height: 0, last: 0 })));
        assert_eq!(s.last_committed(), (0, EMPTY_APP_HASH));
        let r1 = s.commit(1, cs(&[("a", Some("1"))])).unwrap();
        for h in [1, 3, 0, u64::MAX] {
            assert!(matches!(s.commit(h, cs(&[("a", Some("2")), ("b", Some("x"))])), Err(StoreError::InvalidCommitHeight { .. })));
            assert!(s.preview_root(h, &ChangeSet::new()).is_err());
        }
        assert_eq!(s.last_committed(), (1, r1));
        assert_eq!(s.get_latest(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get_latest(b"b").unwrap(), None);
        assert_eq!(s.app_hash_at(3).unwrap(), None);
        assert_eq!(s.scan_latest(b"", None, 10).unwrap(), kv(&[("a", "1")]));
        assert_eq!(s.commit(2, ChangeSet::new()).unwrap(), r1);
    }

    #[test]
    fn history_key_encoding_roundtrip() {
        for key in [&b""[..], b"a", b"\0", b"a\0b", b"\0\0\xff", b"\xff\xff"] {
            assert_eq!(decode_history_group(&history_group(key)).unwrap(), key);
        }
        // Order is preserved.
        let mut keys: Vec<&[u8]> = vec![b"", b"\0", b"\0\0", b"\0\x01", b"\x01", b"a", b"a\0", b"ab"];
        keys.sort();
        let enc: Vec<Vec<u8>> = keys.iter().map(|k| history_group(k)).collect();
        let mut sorted = enc.clone();
        sorted.sort();
        assert_eq!(enc, sorted);
    }
}
