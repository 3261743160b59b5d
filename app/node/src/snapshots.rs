//! State sync snapshots: the ABCI snapshot connection (ListSnapshots, LoadSnapshotChunk to serve
//! them; OfferSnapshot, ApplySnapshotChunk to restore one), so that a new node joins from a
//! recent snapshot with CometBFT's state sync instead of replaying every block.
//!
//! A snapshot of height `H` (format [`SNAPSHOT_FORMAT`]) is every key/value of the committed
//! state at `H`, in key order, cut into chunks of about [`CHUNK_TARGET_BYTES`]. A chunk is a run
//! of records `key length (u32 BE) ‖ key ‖ value length (u32 BE) ‖ value`. The snapshot's
//! metadata is the sha256 of each chunk, concatenated; its hash is the sha256 of the metadata.
//! A restoring node checks each chunk against the metadata (a bad chunk is fetched again from
//! another peer), refuses keys out of order, and at the last chunk computes the Merkle root of
//! what it received: it commits the state only when that root is the app hash CometBFT's light
//! client verified for `H`.
//!
//! On disk (node-local, never consensus data): `DIR/<height>/metadata` and
//! `DIR/<height>/chunk-<index>`; a snapshot is written under a temporary name and renamed once
//! complete, by a background thread after Commit, every `interval` blocks; the newest
//! `keep_recent` are kept.

use std::path::{Path, PathBuf};

use openledger_core::storage::{ChangeSet, Storage};
use sha2::{Digest, Sha256};
use tendermint_proto::v0_38::abci as pb;

/// The only snapshot format this node writes and restores.
pub const SNAPSHOT_FORMAT: u32 = 1;
/// A chunk is cut once it holds this many bytes.
pub const CHUNK_TARGET_BYTES: usize = 1 << 20;
/// Largest chunk accepted from a peer (a record never spans chunks, so one large value can make
/// a chunk larger than the target).
pub const MAX_CHUNK_BYTES: usize = 16 << 20;
/// Most chunks a snapshot offered by a peer may have.
pub const MAX_CHUNKS: u32 = 100_000;
/// Keys and values read from the store per page while writing a snapshot.
const EXPORT_PAGE: usize = 4096;

/// When and where this node writes snapshots (`snapshot_interval` / `snapshot_keep_recent` in
/// app.toml).
#[derive(Debug, Clone)]
pub struct SnapshotConfig {
    /// A snapshot every this many blocks (0: none).
    pub interval: u64,
    /// Snapshots kept (the newest); at least 1.
    pub keep_recent: usize,
    /// Where they live (`data/snapshots` of the node home).
    pub dir: PathBuf,
}

/// A snapshot being restored.
struct Restore {
    height: u64,
    app_hash: [u8; 32],
    chunk_hashes: Vec<[u8; 32]>,
    next: u32,
    changes: ChangeSet,
}

/// Snapshot service of one node.
#[derive(Default)]
pub struct Snapshots {
    config: parking_lot::RwLock<Option<SnapshotConfig>>,
    restore: parking_lot::Mutex<Option<Restore>>,
    writing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Height of the snapshot being written (0: none): pruning keeps it readable.
    writing_height: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn chunk_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("chunk-{index:06}"))
}

/// Appends one record to `chunk`.
fn push_record(chunk: &mut Vec<u8>, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
    for part in [key, value] {
        let len = u32::try_from(part.len()).map_err(|_| anyhow::anyhow!("a {} byte entry does not fit a snapshot record", part.len()))?;
        chunk.extend_from_slice(&len.to_be_bytes());
        chunk.extend_from_slice(part);
    }
    Ok(())
}

/// The records of a chunk, in order; `None` if it is not a sequence of whole records.
fn parse_chunk(chunk: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    fn take<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if tail.len() < len {
            return None;
        }
        let (part, tail) = tail.split_at(len);
        *rest = tail;
        Some(part)
    }
    let mut rest = chunk;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let key = take(&mut rest)?.to_vec();
        let value = take(&mut rest)?.to_vec();
        out.push((key, value));
    }
    Some(out)
}

/// Writes the snapshot of `height` into `config.dir` and drops the oldest beyond `keep_recent`.
pub fn write_snapshot(storage: &Storage, height: u64, config: &SnapshotConfig) -> anyhow::Result<(u32, u64)> {
    let final_dir = config.dir.join(height.to_string());
    if final_dir.exists() {
        return Ok((0, 0));
    }
    let tmp = config.dir.join(format!(".tmp-{height}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    let mut metadata = Vec::new();
    let mut chunk = Vec::with_capacity(CHUNK_TARGET_BYTES + 4096);
    let mut chunks = 0u32;
    let mut bytes = 0u64;
    let mut flush = |chunk: &mut Vec<u8>, metadata: &mut Vec<u8>| -> anyhow::Result<()> {
        std::fs::write(chunk_path(&tmp, chunks), &*chunk)?;
        metadata.extend_from_slice(&Sha256::digest(&*chunk));
        bytes = bytes.saturating_add(chunk.len() as u64);
        chunks = chunks.checked_add(1).ok_or_else(|| anyhow::anyhow!("too many chunks"))?;
        chunk.clear();
        openledger_core::crash::crash_point(openledger_core::crash::SNAPSHOT_MID_WRITE);
        Ok(())
    };
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = storage.scan_at(b"", after.as_deref(), EXPORT_PAGE, height)?;
        for (key, value) in &page {
            push_record(&mut chunk, key, value)?;
            if chunk.len() >= CHUNK_TARGET_BYTES {
                flush(&mut chunk, &mut metadata)?;
            }
        }
        match page.last() {
            Some((key, _)) if page.len() == EXPORT_PAGE => after = Some(key.clone()),
            _ => break,
        }
    }
    // The last (or only, possibly empty) chunk: a snapshot has at least one.
    if !chunk.is_empty() || metadata.is_empty() {
        flush(&mut chunk, &mut metadata)?;
    }
    std::fs::write(tmp.join("metadata"), &metadata)?;
    std::fs::rename(&tmp, &final_dir)?;
    prune(&config.dir, config.keep_recent.max(1))?;
    Ok((chunks, bytes))
}

/// Heights of the complete snapshots in `dir`, newest first.
fn heights(dir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out
}

fn prune(dir: &Path, keep: usize) -> anyhow::Result<()> {
    for height in heights(dir).into_iter().skip(keep) {
        std::fs::remove_dir_all(dir.join(height.to_string()))?;
    }
    Ok(())
}

fn offer(result: pb::response_offer_snapshot::Result) -> pb::ResponseOfferSnapshot {
    pb::ResponseOfferSnapshot { result: result as i32 }
}

fn apply(result: pb::response_apply_snapshot_chunk::Result) -> pb::ResponseApplySnapshotChunk {
    pb::ResponseApplySnapshotChunk { result: result as i32, ..Default::default() }
}

impl Snapshots {
    /// Turns snapshot writing on (`interval` > 0) or off.
    pub fn configure(&self, config: Option<SnapshotConfig>) {
        *self.config.write() = config.filter(|c| c.interval > 0);
    }

    /// After Commit of `height`: starts writing its snapshot in the background when `height`
    /// is a multiple of the interval and no snapshot is being written.
    pub fn after_commit(&self, storage: &Storage, height: u64) {
        use std::sync::atomic::Ordering;
        let Some(config) = self.config.read().clone() else { return };
        if height == 0 || !height.is_multiple_of(config.interval) || self.writing.swap(true, Ordering::AcqRel) {
            return;
        }
        let storage = storage.clone();
        let writing = self.writing.clone();
        let writing_height = self.writing_height.clone();
        writing_height.store(height, Ordering::Release);
        let spawned = std::thread::Builder::new().name("snapshot".into()).spawn(move || {
            let started = std::time::Instant::now();
            match write_snapshot(&storage, height, &config) {
                Ok((0, _)) => {}
                Ok((chunks, bytes)) => tracing::info!(
                    height,
                    chunks,
                    bytes,
                    millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "wrote state sync snapshot"
                ),
                Err(e) => tracing::warn!("state sync snapshot at height {height} failed: {e}"),
            }
            writing_height.store(0, Ordering::Release);
            writing.store(false, Ordering::Release);
        });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the snapshot writer: {e}");
            self.writing_height.store(0, Ordering::Release);
            self.writing.store(false, Ordering::Release);
        }
    }

    /// Height of the snapshot being written, if one is.
    pub fn writing_height(&self) -> Option<u64> {
        Some(self.writing_height.load(std::sync::atomic::Ordering::Acquire)).filter(|h| *h > 0)
    }

    /// ABCI ListSnapshots: the snapshots on disk.
    pub fn list(&self) -> pb::ResponseListSnapshots {
        let Some(config) = self.config.read().clone() else { return pb::ResponseListSnapshots::default() };
        let snapshots = heights(&config.dir)
            .into_iter()
            .filter_map(|height| {
                let metadata = std::fs::read(config.dir.join(height.to_string()).join("metadata")).ok()?;
                let chunks = u32::try_from(metadata.len() / 32).ok()?;
                Some(pb::Snapshot {
                    height,
                    format: SNAPSHOT_FORMAT,
                    chunks,
                    hash: Sha256::digest(&metadata).to_vec().into(),
                    metadata: metadata.into(),
                })
            })
            .collect();
        pb::ResponseListSnapshots { snapshots }
    }

    /// ABCI LoadSnapshotChunk: one chunk of a snapshot on disk (empty if there is none).
    pub fn load_chunk(&self, req: &pb::RequestLoadSnapshotChunk) -> pb::ResponseLoadSnapshotChunk {
        let Some(config) = self.config.read().clone() else { return pb::ResponseLoadSnapshotChunk::default() };
        if req.format != SNAPSHOT_FORMAT {
            return pb::ResponseLoadSnapshotChunk::default();
        }
        let chunk = std::fs::read(chunk_path(&config.dir.join(req.height.to_string()), req.chunk)).unwrap_or_default();
        pb::ResponseLoadSnapshotChunk { chunk: chunk.into() }
    }

    /// ABCI OfferSnapshot: accepts a well-formed snapshot of our format for an empty store;
    /// `app_hash` is what CometBFT's light client verified for its height.
    pub fn offer(&self, storage: &Storage, req: &pb::RequestOfferSnapshot) -> pb::ResponseOfferSnapshot {
        use pb::response_offer_snapshot::Result as R;
        let Some(snapshot) = &req.snapshot else { return offer(R::Reject) };
        if storage.last_committed().0 != 0 {
            tracing::warn!("state sync offered a snapshot, but this node already has state: not restoring");
            return offer(R::Abort);
        }
        if snapshot.format != SNAPSHOT_FORMAT {
            return offer(R::RejectFormat);
        }
        let Ok(app_hash) = <[u8; 32]>::try_from(req.app_hash.as_ref()) else { return offer(R::Reject) };
        let expected_len = usize::try_from(snapshot.chunks).ok().and_then(|c| c.checked_mul(32));
        if snapshot.height == 0
            || snapshot.chunks == 0
            || snapshot.chunks > MAX_CHUNKS
            || expected_len != Some(snapshot.metadata.len())
            || Sha256::digest(&snapshot.metadata)[..] != snapshot.hash[..]
        {
            tracing::warn!(height = snapshot.height, chunks = snapshot.chunks, "state sync: malformed snapshot offered; rejected");
            return offer(R::Reject);
        }
        let chunk_hashes = snapshot.metadata.chunks_exact(32).filter_map(|h| <[u8; 32]>::try_from(h).ok()).collect();
        tracing::info!(height = snapshot.height, chunks = snapshot.chunks, "state sync: restoring snapshot");
        *self.restore.lock() = Some(Restore { height: snapshot.height, app_hash, chunk_hashes, next: 0, changes: ChangeSet::new() });
        offer(R::Accept)
    }

    /// ABCI ApplySnapshotChunk: checks a chunk against the offered metadata and adds its
    /// records; after the last one commits the state if its root is the verified app hash.
    /// Returns the response and, once restored, the restored height.
    pub fn apply_chunk(&self, storage: &Storage, req: &pb::RequestApplySnapshotChunk) -> (pb::ResponseApplySnapshotChunk, Option<u64>) {
        use pb::response_apply_snapshot_chunk::Result as R;
        let mut guard = self.restore.lock();
        let Some(restore) = guard.as_mut() else { return (apply(R::Abort), None) };
        if req.index != restore.next {
            // Chunks are applied in order; ask for the one we need.
            let mut resp = apply(R::Retry);
            resp.refetch_chunks = vec![restore.next];
            return (resp, None);
        }
        let expected = usize::try_from(req.index).ok().and_then(|i| restore.chunk_hashes.get(i));
        if req.chunk.len() > MAX_CHUNK_BYTES || expected.is_none_or(|h| h[..] != Sha256::digest(&req.chunk)[..]) {
            tracing::warn!(index = req.index, sender = %req.sender, "state sync: chunk does not match the snapshot's metadata; fetching it again");
            let mut resp = apply(R::Retry);
            resp.refetch_chunks = vec![req.index];
            resp.reject_senders = vec![req.sender.clone()];
            return (resp, None);
        }
        // The chunk is the one the metadata names: if it is malformed, so is the snapshot.
        let Some(records) = parse_chunk(&req.chunk) else {
            tracing::warn!(index = req.index, "state sync: chunk is not a sequence of records; snapshot rejected");
            *guard = None;
            return (apply(R::RejectSnapshot), None);
        };
        for (key, value) in records {
            let in_order = restore.changes.last_key_value().is_none_or(|(last, _)| *last < key);
            if key.is_empty() || !in_order {
                tracing::warn!(index = req.index, "state sync: keys out of order; snapshot rejected");
                *guard = None;
                return (apply(R::RejectSnapshot), None);
            }
            restore.changes.insert(key, Some(value));
        }
        restore.next = restore.next.saturating_add(1);
        if usize::try_from(restore.next).ok() != Some(restore.chunk_hashes.len()) {
            return (apply(R::Accept), None);
        }
        let Some(done) = guard.take() else { return (apply(R::Abort), None) };
        let keys = done.changes.len();
        match storage.preview_root(done.height, &done.changes) {
            Ok(root) if root == done.app_hash => {}
            Ok(root) => {
                tracing::warn!(
                    height = done.height,
                    root = %hex::encode_upper(root),
                    expected = %hex::encode_upper(done.app_hash),
                    "state sync: restored state does not hash to the verified app hash; snapshot rejected"
                );
                return (apply(R::RejectSnapshot), None);
            }
            Err(e) => {
                tracing::error!("state sync: cannot hash the restored state: {e}");
                return (apply(R::Abort), None);
            }
        }
        if let Err(e) = storage.commit(done.height, done.changes) {
            tracing::error!("state sync: cannot write the restored state: {e}");
            return (apply(R::Abort), None);
        }
        tracing::info!(height = done.height, keys, app_hash = %hex::encode_upper(done.app_hash), "state sync: snapshot restored and verified");
        (apply(R::Accept), Some(done.height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::response_apply_snapshot_chunk::Result as A;
    use pb::response_offer_snapshot::Result as O;

    /// Changes of one block, as a test writes them.
    type Block = (u64, Vec<(Vec<u8>, Option<Vec<u8>>)>);

    fn store_with(height_keys: &[Block]) -> Storage {
        let storage = Storage::temporary().expect("store");
        for (height, changes) in height_keys {
            storage.commit(*height, changes.iter().cloned().collect()).expect("commit");
        }
        storage
    }

    fn served(dir: &Path, interval: u64) -> Snapshots {
        let s = Snapshots::default();
        s.configure(Some(SnapshotConfig { interval, keep_recent: 2, dir: dir.to_path_buf() }));
        s
    }

    /// Restores the newest snapshot `from` lists into `to`, chunk by chunk.
    fn restore(from: &Snapshots, to: &Storage, to_service: &Snapshots, app_hash: [u8; 32]) -> Vec<i32> {
        let snapshot = from.list().snapshots.into_iter().next().expect("a snapshot");
        let offered =
            to_service.offer(to, &pb::RequestOfferSnapshot { snapshot: Some(snapshot.clone()), app_hash: app_hash.to_vec().into() });
        let mut results = vec![offered.result];
        for index in 0..snapshot.chunks {
            let chunk =
                from.load_chunk(&pb::RequestLoadSnapshotChunk { height: snapshot.height, format: SNAPSHOT_FORMAT, chunk: index }).chunk;
            let (resp, _) = to_service.apply_chunk(to, &pb::RequestApplySnapshotChunk { index, chunk, sender: "peer".into() });
            results.push(resp.result);
        }
        results
    }

    #[test]
    fn a_snapshot_restores_the_same_root_in_many_chunks_and_only_that_root() {
        // Values large enough for several chunks; one key deleted and one changed after height 1.
        let big = vec![7u8; 300_000];
        let h1: Vec<_> = (0..10u8).map(|i| (vec![b'k', i], Some(big.clone()))).collect();
        let h2 = vec![(vec![b'k', 3], None), (vec![b'k', 4], Some(b"small".to_vec())), (b"z".to_vec(), Some(Vec::new()))];
        let source = store_with(&[(1, h1), (2, h2)]);
        let dir = tempfile::tempdir().unwrap();
        write_snapshot(&source, 2, &SnapshotConfig { interval: 2, keep_recent: 2, dir: dir.path().to_path_buf() }).unwrap();
        let service = served(dir.path(), 2);
        let listed = service.list().snapshots;
        assert_eq!(listed.len(), 1);
        assert!(listed[0].chunks >= 2, "chunks: {}", listed[0].chunks);
        let root = source.app_hash_at(2).unwrap().unwrap();

        let target = Storage::temporary().unwrap();
        let results = restore(&service, &target, &Snapshots::default(), root);
        assert!(results.iter().all(|r| *r == 1), "results {results:?}");
        assert_eq!(target.last_committed(), (2, root));
        assert_eq!(target.get_latest(&[b'k', 3]).unwrap(), None);
        assert_eq!(target.get_latest(&[b'k', 4]).unwrap(), Some(b"small".to_vec()));
        assert_eq!(target.get_latest(b"z").unwrap(), Some(Vec::new()));

        // Another app hash: everything is received, nothing is written.
        let other = Storage::temporary().unwrap();
        let mut wrong = root;
        wrong[0] ^= 1;
        let results = restore(&service, &other, &Snapshots::default(), wrong);
        assert_eq!(results.last(), Some(&(A::RejectSnapshot as i32)));
        assert_eq!(other.last_committed().0, 0);
    }

    #[test]
    fn bad_offers_and_chunks_are_refused_without_writing() {
        let source = store_with(&[(1, vec![(b"a".to_vec(), Some(b"1".to_vec())), (b"b".to_vec(), Some(b"2".to_vec()))])]);
        let dir = tempfile::tempdir().unwrap();
        let service = served(dir.path(), 1);
        service.after_commit(&source, 1);
        // The background writer finishes; wait for the snapshot it announces.
        while service.list().snapshots.is_empty() {
            std::thread::yield_now();
        }
        let snapshot = service.list().snapshots.remove(0);
        let root = source.app_hash_at(1).unwrap().unwrap();
        let target = Storage::temporary().unwrap();
        let restoring = Snapshots::default();
        let offer_with = |s: pb::Snapshot, hash: &[u8]| {
            restoring.offer(&target, &pb::RequestOfferSnapshot { snapshot: Some(s), app_hash: hash.to_vec().into() }).result
        };

        let mut wrong_format = snapshot.clone();
        wrong_format.format = 2;
        assert_eq!(offer_with(wrong_format, &root), O::RejectFormat as i32);
        let mut wrong_hash = snapshot.clone();
        wrong_hash.hash = vec![0; 32].into();
        assert_eq!(offer_with(wrong_hash, &root), O::Reject as i32);
        let mut too_many = snapshot.clone();
        too_many.chunks = MAX_CHUNKS + 1;
        assert_eq!(offer_with(too_many, &root), O::Reject as i32);
        assert_eq!(offer_with(snapshot.clone(), b"short"), O::Reject as i32);
        // A chunk before any accepted offer aborts.
        let none = Snapshots::default();
        let (resp, _) = none.apply_chunk(&target, &pb::RequestApplySnapshotChunk { index: 0, chunk: vec![].into(), sender: "x".into() });
        assert_eq!(resp.result, A::Abort as i32);

        assert_eq!(offer_with(snapshot.clone(), &root), O::Accept as i32);
        // A tampered chunk is refetched from someone else.
        let good = service.load_chunk(&pb::RequestLoadSnapshotChunk { height: 1, format: SNAPSHOT_FORMAT, chunk: 0 }).chunk;
        let mut bad = good.to_vec();
        bad[5] ^= 1;
        let (resp, restored) =
            restoring.apply_chunk(&target, &pb::RequestApplySnapshotChunk { index: 0, chunk: bad.into(), sender: "liar".into() });
        assert_eq!(
            (resp.result, resp.refetch_chunks, resp.reject_senders, restored),
            (A::Retry as i32, vec![0], vec!["liar".to_string()], None)
        );
        assert_eq!(target.last_committed().0, 0);
        // The right one completes the restore.
        let (resp, restored) =
            restoring.apply_chunk(&target, &pb::RequestApplySnapshotChunk { index: 0, chunk: good, sender: "honest".into() });
        assert_eq!((resp.result, restored), (A::Accept as i32, Some(1)));
        assert_eq!(target.last_committed(), (1, root));
        // A store with state refuses further offers.
        assert_eq!(offer_with(snapshot, &root), O::Abort as i32);
    }

    #[test]
    fn chunks_parse_whole_records_only_and_old_snapshots_are_pruned() {
        let mut chunk = Vec::new();
        push_record(&mut chunk, b"key", b"value").unwrap();
        push_record(&mut chunk, b"k2", b"").unwrap();
        assert_eq!(parse_chunk(&chunk), Some(vec![(b"key".to_vec(), b"value".to_vec()), (b"k2".to_vec(), Vec::new())]));
        assert_eq!(parse_chunk(&chunk[..chunk.len() - 1]), None);
        assert_eq!(parse_chunk(&[0, 0, 0, 9, 1]), None);
        assert_eq!(parse_chunk(&[]), Some(Vec::new()));

        let source = store_with(&[(1, vec![(b"a".to_vec(), Some(b"1".to_vec()))]), (2, vec![]), (3, vec![])]);
        let dir = tempfile::tempdir().unwrap();
        let config = SnapshotConfig { interval: 1, keep_recent: 2, dir: dir.path().to_path_buf() };
        for h in 1..=3 {
            write_snapshot(&source, h, &config).unwrap();
        }
        assert_eq!(heights(dir.path()), vec![3, 2]);
    }
}
