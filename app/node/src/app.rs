//! The application proper: committed storage, the block in progress, the mempool's check state,
//! and what each ABCI call does with them. `abci.rs` only adapts this to the ABCI server.
//!
//! Genesis state from InitChain is kept in memory and committed with block 1 (so a crash before
//! block 1 simply replays InitChain); FinalizeBlock computes the app hash of the block's changes
//! without writing; Commit writes them atomically and resets the check state.

use std::path::Path;

use cosmos_sdk_proto::cosmos::base::abci::v1beta1::{GasInfo, Result as SdkResult, TxResponse};
use cosmos_sdk_proto::cosmos::tx::v1beta1::{SimulateRequest, SimulateResponse};
use openledger_core::error::sdk_codes;
use openledger_core::state::{HeightSnapshot, LatestSnapshot};
use openledger_core::storage::{verify_proof, Storage};
use openledger_core::{AbciError, ErrorCode, Event, QueryError, StateDelta, StateRead, StateReadExt, StateWriteExt};
use parking_lot::{Mutex, RwLock};
use prost::Message;
use tendermint_proto::v0_38::abci as pb;
use tendermint_proto::v0_38::crypto::{ProofOp, ProofOps};

use openledger_core::block::{set_block_info, timestamp_ns, BlockInfo};
use openledger_core::module::BlockContext;

use crate::ante::Mode;
use crate::inference::InferenceRuntime;
use crate::modules::Modules;
use crate::state_key;
use crate::tx::{run_tx, TxOutcome};
use openledger_inference::votes;
use openledger_inference::InferenceError;

/// Name reported by Info.
pub const APP_NAME: &str = "openledger";

/// The Cosmos SDK release whose client-facing APIs (gRPC services, REST routes, tx encoding,
/// ABCI query paths) this node serves, reported as `cosmos_sdk_version` by `GetNodeInfo` so
/// that clients and relayers which check it see the API level they talk to. The node is not
/// built from the SDK.
pub const COSMOS_SDK_API_VERSION: &str = "v0.50.15";

/// The Go modules whose APIs this node serves, as `GetNodeInfo` lists an SDK node's build
/// dependencies: relayers (Hermes's health check) read the SDK and ibc-go versions from them
/// to know which queries and messages a chain speaks. These are API levels, not code: the chain
/// is Rust; IBC is ibc-rs 0.57, which speaks ibc-go v8's protocol.
pub const API_BUILD_DEPS: &[(&str, &str)] = &[
    ("github.com/cosmos/cosmos-sdk", COSMOS_SDK_API_VERSION),
    ("github.com/cosmos/ibc-go/v8", "v8.7.0"),
    ("github.com/cometbft/cometbft", "v0.38.19"),
];
/// Protocol version of the app (bumped by upgrades).
pub const APP_VERSION: u64 = 1;

/// A block that was finalized and awaits Commit.
struct Finalized {
    height: u64,
    delta: StateDelta<LatestSnapshot>,
    /// What the block line of the log and the metrics report once it is committed.
    stats: BlockStats,
}

/// A finalized block's figures (local observations: the wall-clock durations are never
/// consensus data).
#[derive(Default)]
struct BlockStats {
    txs: usize,
    failed: usize,
    gas_used: u64,
    results: Vec<(String, u32)>,
    events: crate::metrics::EventCounts,
    app_hash: Vec<u8>,
    finalize: std::time::Duration,
}

#[derive(Default)]
struct ConsensusState {
    /// Genesis writes from InitChain, committed with the first block.
    genesis: Option<StateDelta<LatestSnapshot>>,
    finalized: Option<Finalized>,
}

/// The OpenLedger application.
pub struct App {
    storage: Storage,
    modules: Modules,
    chain_id: RwLock<String>,
    consensus: Mutex<ConsensusState>,
    check: Mutex<StateDelta<LatestSnapshot>>,
    /// Held for writing while a block is committed, for reading by queries, so a query's
    /// reported height always matches the state it read.
    commit_lock: RwLock<()>,
    /// The local executor and its outputs (verifiable inference; local, not consensus data).
    inference: RwLock<std::sync::Arc<InferenceRuntime>>,
    /// State sync snapshots (node-local files).
    snapshots: crate::snapshots::Snapshots,
    /// Which old heights' state the store drops (`None`: keeps all, an archive node).
    pruning: RwLock<Option<Pruning>>,
    /// The node's data directory (`$HOME/data`, where the database lives), for
    /// `upgrade-info.json`; `None` for an app over a temporary store.
    data_dir: Option<std::path::PathBuf>,
    /// Node-level query services that need CometBFT (installed by the server, see
    /// [`App::set_node_queries`]).
    node_queries: std::sync::OnceLock<std::sync::Arc<dyn NodeQueries>>,
}

/// The node-level query services (`cosmos.base.tendermint.v1beta1.Service`,
/// `cosmos.base.node.v1beta1.Service`, `cosmos.consensus.v1.Query`), which need CometBFT's RPC and
/// live in the server; the SDK routes them through ABCI Query too, and relayers (Hermes's health
/// check) ask them there.
pub trait NodeQueries: Send + Sync {
    /// The answer to `path` (`/<service>/<method>`), or `None` when `path` is not one of these
    /// services.
    fn answer(&self, path: &str, data: &[u8]) -> Option<Result<(Vec<u8>, u64), QueryError>>;
}

/// How many recent heights a node keeps, as the SDK's `pruning` settings say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruning {
    /// The newest heights kept (at least 2).
    pub keep_recent: u64,
    /// Prune every this many blocks (at least 1).
    pub interval: u64,
}

impl Pruning {
    /// The SDK's strategies: `default` (keep 362,880 heights, prune every 10 blocks), `nothing`
    /// (an archive node: `None`), `everything` (keep 2, every 10), `custom` (the given values).
    pub fn from_strategy(strategy: &str, keep_recent: u64, interval: u64) -> anyhow::Result<Option<Self>> {
        match strategy {
            "default" | "" => Ok(Some(Self { keep_recent: 362_880, interval: 10 })),
            "nothing" => Ok(None),
            "everything" => Ok(Some(Self { keep_recent: 2, interval: 10 })),
            "custom" => {
                anyhow::ensure!(keep_recent >= 2, "pruning = \"custom\" needs pruning_keep_recent >= 2 (got {keep_recent})");
                anyhow::ensure!(interval >= 1, "pruning = \"custom\" needs pruning_interval >= 1");
                Ok(Some(Self { keep_recent, interval }))
            }
            other => anyhow::bail!("unknown pruning strategy {other:?}: use default, nothing, everything or custom"),
        }
    }
}

/// A duration as decimal milliseconds (`4.125`), in integers.
fn millis(d: std::time::Duration) -> String {
    let us = crate::metrics::micros(d);
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// After Commit: one log line per block (what an operator reads) and the block's metrics.
fn report_block(height: u64, stats: &BlockStats, commit: std::time::Duration) {
    use std::sync::atomic::Ordering::Relaxed;
    let m = crate::metrics::global();
    m.blocks.fetch_add(1, Relaxed);
    m.height.store(height, Relaxed);
    m.txs.fetch_add(u64::try_from(stats.txs).unwrap_or(u64::MAX), Relaxed);
    m.gas_used.fetch_add(stats.gas_used, Relaxed);
    m.finalize.observe(stats.finalize);
    m.commit.observe(commit);
    for (codespace, code) in &stats.results {
        m.tx_result(codespace, *code);
    }
    m.block_events(&stats.events);
    tracing::info!(
        target: "openledger::block",
        height,
        txs = stats.txs,
        failed = stats.failed,
        gas_used = stats.gas_used,
        app_hash = %hex::encode_upper(&stats.app_hash),
        finalize_ms = %millis(stats.finalize),
        commit_ms = %millis(commit),
        "committed block"
    );
}

/// Converts typed events to ABCI events.
pub fn abci_events(events: &[Event]) -> Vec<pb::Event> {
    events.iter().map(Event::to_abci).collect()
}

fn query_error(err: &QueryError, height: u64) -> pb::ResponseQuery {
    pb::ResponseQuery {
        code: err.code(),
        codespace: err.codespace().to_string(),
        log: err.abci_log(),
        height: i64::try_from(height).unwrap_or(i64::MAX),
        ..Default::default()
    }
}

impl App {
    /// Opens (or creates) the app's database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut app = Self::with_storage(Storage::open(path)?);
        app.data_dir = path.parent().map(Path::to_path_buf);
        Ok(app)
    }

    /// An app over an existing store (tests and benchmarks use `Storage::temporary`).
    pub fn with_storage(storage: Storage) -> Self {
        Self::with_modules(storage, Modules::new())
    }

    /// An app over an existing store with the given modules (the chain's, plus any a test adds).
    pub fn with_modules(storage: Storage, modules: Modules) -> Self {
        let chain_id = LatestSnapshot(storage.clone()).get_proto::<String>(state_key::CHAIN_ID).ok().flatten().unwrap_or_default();
        let check = Mutex::new(StateDelta::new(LatestSnapshot(storage.clone())));
        Self {
            storage,
            modules,
            chain_id: RwLock::new(chain_id),
            consensus: Mutex::new(ConsensusState::default()),
            check,
            commit_lock: RwLock::new(()),
            inference: RwLock::new(std::sync::Arc::new(InferenceRuntime::disabled())),
            snapshots: crate::snapshots::Snapshots::default(),
            pruning: RwLock::new(None),
            data_dir: None,
            node_queries: std::sync::OnceLock::new(),
        }
    }

    /// Routes ABCI queries of the node-level services to `queries` (once; later calls are
    /// ignored).
    pub fn set_node_queries(&self, queries: std::sync::Arc<dyn NodeQueries>) {
        let _ = self.node_queries.set(queries);
    }

    /// Writes the scheduled plan to `upgrade-info.json` in the data directory (mode 0600), as
    /// the SDK's x/upgrade does before it halts for an upgrade this binary cannot apply;
    /// cosmovisor reads it to switch binaries. Returns the file written, if any.
    pub fn write_upgrade_info(&self) -> anyhow::Result<Option<std::path::PathBuf>> {
        let Some(dir) = &self.data_dir else { return Ok(None) };
        let Some(plan) = openledger_upgrade::plan(&LatestSnapshot(self.storage.clone()))? else { return Ok(None) };
        std::fs::create_dir_all(dir)?;
        let path = dir.join(openledger_upgrade::UPGRADE_INFO_FILE);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        std::io::Write::write_all(&mut opts.open(&path)?, openledger_upgrade::upgrade_info_json(&plan).as_bytes())?;
        Ok(Some(path))
    }

    /// Sets the local executor runtime (`start` with an `executor_addr`).
    pub fn set_inference(&self, runtime: InferenceRuntime) {
        *self.inference.write() = std::sync::Arc::new(runtime);
    }

    /// The local executor runtime.
    pub fn inference(&self) -> std::sync::Arc<InferenceRuntime> {
        self.inference.read().clone()
    }

    /// Sets the pruning of old heights (`None`: keep everything). Heights committed before it
    /// was turned on are never pruned.
    pub fn set_pruning(&self, pruning: Option<Pruning>) {
        self.storage.set_pruning(pruning.is_some());
        *self.pruning.write() = pruning;
    }

    /// After Commit of `height`: every `interval` blocks, drops the state only heights older
    /// than the newest `keep_recent` need (never a snapshot's height while it is written).
    fn prune_after_commit(&self, height: u64) {
        let Some(p) = *self.pruning.read() else { return };
        if !height.is_multiple_of(p.interval.max(1)) {
            return;
        }
        let mut retain = height.saturating_sub(p.keep_recent.saturating_sub(1));
        if let Some(writing) = self.snapshots.writing_height() {
            retain = retain.min(writing);
        }
        match self.storage.prune(retain) {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(height, retain, deleted, "pruned old state"),
            Err(e) => tracing::warn!("pruning below height {retain} failed: {e}"),
        }
    }

    /// State sync snapshots: configure with [`crate::snapshots::Snapshots::configure`].
    pub fn snapshots(&self) -> &crate::snapshots::Snapshots {
        &self.snapshots
    }

    /// ABCI OfferSnapshot.
    pub fn offer_snapshot(&self, req: &pb::RequestOfferSnapshot) -> pb::ResponseOfferSnapshot {
        self.snapshots.offer(&self.storage, req)
    }

    /// ABCI ApplySnapshotChunk; once the state is restored, the app reads its chain id from it
    /// and the mempool starts from it.
    pub fn apply_snapshot_chunk(&self, req: &pb::RequestApplySnapshotChunk) -> pb::ResponseApplySnapshotChunk {
        let (resp, restored) = self.snapshots.apply_chunk(&self.storage, req);
        if restored.is_some() {
            let snapshot = LatestSnapshot(self.storage.clone());
            *self.chain_id.write() = snapshot.get_proto::<String>(state_key::CHAIN_ID).ok().flatten().unwrap_or_default();
            *self.check.lock() = StateDelta::new(snapshot);
        }
        resp
    }

    /// The keepers.
    pub fn modules(&self) -> &Modules {
        &self.modules
    }

    /// The committed store.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The chain id (empty before InitChain).
    pub fn chain_id(&self) -> String {
        self.chain_id.read().clone()
    }

    /// ABCI Info: the persisted height and app hash, so CometBFT replays what is missing.
    pub fn info(&self, _req: &pb::RequestInfo) -> pb::ResponseInfo {
        let (height, hash) = self.storage.last_committed();
        pb::ResponseInfo {
            data: APP_NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            app_version: APP_VERSION,
            last_block_height: i64::try_from(height).unwrap_or(i64::MAX),
            last_block_app_hash: if height == 0 { Vec::new().into() } else { hash.to_vec().into() },
        }
    }

    /// ABCI InitChain: imports the genesis `app_state` and returns the genesis app hash.
    pub fn init_chain(&self, req: &pb::RequestInitChain) -> Result<pb::ResponseInitChain, AbciError> {
        let app_state: serde_json::Map<String, serde_json::Value> = if req.app_state_bytes.is_empty() {
            serde_json::Map::new()
        } else {
            serde_json::from_slice(&req.app_state_bytes)
                .map_err(|e| AbciError::sdk(sdk_codes::INVALID_REQUEST, format!("invalid app_state in genesis: {e}")))?
        };
        let mut delta = StateDelta::new(LatestSnapshot(self.storage.clone()));
        delta.put_proto(state_key::CHAIN_ID.to_vec(), &req.chain_id).map_err(|e| AbciError::from_code(&e))?;
        let initial_height = u64::try_from(req.initial_height.max(1)).unwrap_or(1);
        let info = BlockInfo { height: initial_height.saturating_sub(1), time_ns: req.time.as_ref().map(timestamp_ns).unwrap_or(0) };
        set_block_info(&mut delta, info).map_err(|e| AbciError::from_code(&e))?;
        let validators = self.modules.init_genesis(&mut delta, &app_state, info)?;
        // Genesis events (validator creation, delegations) are not part of any block.
        delta.take_events();
        let app_hash =
            self.storage.preview_root(initial_height, delta.changes()).map_err(|e| AbciError::sdk(sdk_codes::INTERNAL, e.to_string()))?;
        *self.chain_id.write() = req.chain_id.clone();
        let mut consensus = self.consensus.lock();
        consensus.genesis = Some(delta);
        consensus.finalized = None;
        Ok(pb::ResponseInitChain { consensus_params: None, validators, app_hash: app_hash.to_vec().into() })
    }

    /// ABCI PrepareProposal: first the injected inference results (the previous height's signed
    /// extended commit and the agreed texts this node holds), then the mempool's txs in order,
    /// up to the byte limit.
    pub fn prepare_proposal(&self, req: pb::RequestPrepareProposal) -> pb::ResponsePrepareProposal {
        let max = usize::try_from(req.max_tx_bytes).unwrap_or(0);
        let mut total = 0usize;
        let mut txs = Vec::new();
        if let Some(commit) = &req.local_last_commit {
            let state = LatestSnapshot(self.storage.clone());
            let injected = self.inference().injected_tx(&self.modules.inference, &state, &self.chain_id(), req.height, commit, max);
            if let Some(tx) = injected {
                total = tx.len();
                txs.push(tx.into());
            }
        }
        for tx in req.txs {
            if votes::is_injected(&tx) {
                continue;
            }
            total = total.saturating_add(tx.len());
            if total > max {
                break;
            }
            txs.push(tx);
        }
        pb::ResponsePrepareProposal { txs }
    }

    /// ABCI ProcessProposal: an injected results tx may only come first, and must verify
    /// (every extension signature, the power sums, every text against its agreed hash).
    pub fn process_proposal(&self, req: &pb::RequestProcessProposal) -> pb::ResponseProcessProposal {
        use pb::response_process_proposal::ProposalStatus;
        let verdict = self.check_proposal(&req.txs, req.height, req.proposed_last_commit.as_ref());
        let status = match verdict {
            Ok(()) => ProposalStatus::Accept,
            Err(e) => {
                tracing::warn!("rejecting proposal at height {}: {e}", req.height);
                ProposalStatus::Reject
            }
        };
        pb::ResponseProcessProposal { status: status as i32 }
    }

    fn check_proposal(&self, txs: &[bytes::Bytes], height: i64, commit: Option<&pb::CommitInfo>) -> Result<(), InferenceError> {
        if txs.iter().skip(1).any(|tx| votes::is_injected(tx)) {
            return Err(InferenceError::InvalidInjected("injected results must be the first tx".into()));
        }
        let Some(first) = txs.first().filter(|tx| votes::is_injected(tx)) else { return Ok(()) };
        let injected = votes::decode_injected(first)?;
        let commit = commit.ok_or_else(|| InferenceError::InvalidInjected("no previous commit".into()))?;
        let state = LatestSnapshot(self.storage.clone());
        let entries = crate::inference::commit_entries(commit);
        votes::verify_injected(&self.modules.inference, &state, &self.chain_id(), height, commit.round, &entries, &injected).map(|_| ())
    }

    /// ABCI ExtendVote: the outputs of pending requests the local executor finished, its
    /// finished fine-tune training reports and the jobs it is training.
    pub fn extend_vote(&self, req: &pb::RequestExtendVote) -> pb::ResponseExtendVote {
        let state = LatestSnapshot(self.storage.clone());
        let extension = self.inference().extend_vote_all(&self.modules, &state, &self.chain_id(), req.height);
        pb::ResponseExtendVote { vote_extension: extension.into() }
    }

    /// ABCI VerifyVoteExtension: only deterministic checks (shape, known requests).
    pub fn verify_vote_extension(&self, req: &pb::RequestVerifyVoteExtension) -> pb::ResponseVerifyVoteExtension {
        use pb::response_verify_vote_extension::VerifyStatus;
        let state = LatestSnapshot(self.storage.clone());
        let status = match votes::verify_extension(&self.modules.inference, &state, &req.vote_extension) {
            Ok(()) => {
                self.inference().observe_extension(req.height, &req.validator_address, &req.vote_extension);
                VerifyStatus::Accept
            }
            Err(e) => {
                tracing::warn!("rejecting vote extension of {} at height {}: {e}", hex::encode_upper(&req.validator_address), req.height);
                VerifyStatus::Reject
            }
        };
        pb::ResponseVerifyVoteExtension { status: status as i32 }
    }

    /// Applies the injected results tx of a block (verified again: nodes that sync blocks never
    /// ran ProcessProposal). A tx that does not verify changes nothing and fails with a code.
    fn apply_injected(
        &self,
        delta: &mut StateDelta<LatestSnapshot>,
        tx: &[u8],
        req: &pb::RequestFinalizeBlock,
        info: BlockInfo,
    ) -> pb::ExecTxResult {
        let outcome = (|| -> Result<Vec<Event>, InferenceError> {
            let injected = votes::decode_injected(tx)?;
            let commit = req.decided_last_commit.as_ref().ok_or_else(|| InferenceError::InvalidInjected("no previous commit".into()))?;
            let entries = crate::inference::commit_entries(commit);
            let keeper = &self.modules.inference;
            // Verified on committed state, exactly as ProcessProposal did.
            let committed = LatestSnapshot(self.storage.clone());
            let verified = votes::verify_injected_all(keeper, &committed, &self.chain_id(), req.height, commit.round, &entries, &injected)?;
            let mut layer = StateDelta::new(&*delta);
            let mut slashed = std::collections::BTreeSet::new();
            for (agreement, output) in &verified.outputs {
                keeper.apply_result(&mut layer, info, agreement, &output.tokens, &output.text, &mut slashed)?;
            }
            // Fine-tune jobs, each on its own layer: a job the registry cannot apply (which no
            // honest majority produces) is skipped deterministically, stays pending and expires
            // with a refund, without costing the block its inference results.
            for agreement in &verified.training {
                let mut job_slashed = slashed.clone();
                let mut job_layer = StateDelta::new(&layer);
                match keeper.apply_training(&mut job_layer, info, agreement, &mut job_slashed) {
                    Ok(_) => {
                        let (writes, events) = job_layer.into_parts();
                        layer.absorb(writes, events);
                        slashed = job_slashed;
                    }
                    Err(e) => tracing::warn!("fine-tune job {} could not be decided at height {}: {e}", agreement.job_id, req.height),
                }
            }
            for (job_id, operator) in &verified.late_dissent {
                keeper.apply_late_dissent(&mut layer, info, *job_id, operator, &mut slashed)?;
            }
            keeper.apply_running(&mut layer, info, &verified.running)?;
            let (writes, events) = layer.into_parts();
            delta.absorb(writes, Vec::new());
            Ok(events)
        })();
        match outcome {
            Ok(events) => pb::ExecTxResult { code: 0, events: abci_events(&events), ..Default::default() },
            Err(e) => {
                tracing::warn!("injected inference results at height {} rejected: {e}", req.height);
                pb::ExecTxResult { code: e.code(), codespace: e.codespace().to_string(), log: e.to_string(), ..Default::default() }
            }
        }
    }

    /// ABCI FinalizeBlock: runs every tx on the block's delta and returns the would-be app hash.
    pub fn finalize_block(&self, req: &pb::RequestFinalizeBlock) -> Result<pb::ResponseFinalizeBlock, AbciError> {
        let started = std::time::Instant::now();
        let height = u64::try_from(req.height).map_err(|_| AbciError::sdk(sdk_codes::INVALID_HEIGHT, "negative height"))?;
        let chain_id = self.chain_id();
        let mut consensus = self.consensus.lock();
        let mut delta = consensus.genesis.take().unwrap_or_else(|| StateDelta::new(LatestSnapshot(self.storage.clone())));
        let info = BlockInfo { height, time_ns: req.time.as_ref().map(timestamp_ns).unwrap_or(0) };
        set_block_info(&mut delta, info).map_err(|e| AbciError::from_code(&e))?;
        let registry = self.modules.registry.clone();
        let (last_height, last_root) = self.storage.last_committed();
        let last_app_hash = (last_height > 0 && last_height.checked_add(1) == Some(height)).then_some(last_root);
        let ctx = BlockContext { info, request: req, router: registry.as_ref(), last_app_hash };
        registry.begin_block(&ctx, &mut delta)?;
        let mut block_events = delta.take_events();
        let mut tx_results = Vec::with_capacity(req.txs.len());
        // Signatures are verified on the other cores while the txs run in order on this one.
        let signatures = if crate::ante::BlockSignatures::helpers() > 0 {
            crate::ante::BlockSignatures::prepare(&self.modules, &delta, &chain_id, &req.txs)
        } else {
            crate::ante::BlockSignatures::default()
        };
        signatures.run_ahead(|| {
            for (index, tx) in req.txs.iter().enumerate() {
                if index == 0 && votes::is_injected(tx) {
                    tx_results.push(self.apply_injected(&mut delta, tx, req, info));
                    continue;
                }
                let outcome = run_tx(&self.modules, &mut delta, tx, &chain_id, height, Mode::Deliver);
                tx_results.push(exec_result(outcome));
            }
        });
        let validator_updates = registry.end_block(&ctx, &mut delta)?;
        block_events.extend(delta.take_events());
        delta.put_proto(state_key::LAST_BLOCK_HEIGHT.to_vec(), &height).map_err(|e| AbciError::from_code(&e))?;
        if let Some(time) = &req.time {
            delta.put_proto(state_key::LAST_BLOCK_TIME.to_vec(), time).map_err(|e| AbciError::from_code(&e))?;
        }
        let app_hash =
            self.storage.preview_root(height, delta.changes()).map_err(|e| AbciError::sdk(sdk_codes::INTERNAL, e.to_string()))?;
        let stats = BlockStats {
            txs: tx_results.len(),
            failed: tx_results.iter().filter(|r| r.code != 0).count(),
            gas_used: tx_results.iter().map(|r| u64::try_from(r.gas_used).unwrap_or(0)).fold(0u64, u64::saturating_add),
            results: tx_results.iter().map(|r| (r.codespace.clone(), r.code)).collect(),
            events: crate::metrics::EventCounts::count(
                block_events
                    .iter()
                    .map(|e| e.kind.as_str())
                    .chain(tx_results.iter().flat_map(|r| r.events.iter().map(|e| e.r#type.as_str()))),
            ),
            app_hash: app_hash.to_vec(),
            finalize: started.elapsed(),
        };
        consensus.finalized = Some(Finalized { height, delta, stats });
        Ok(pb::ResponseFinalizeBlock {
            events: abci_events(&block_events),
            tx_results,
            validator_updates,
            consensus_param_updates: None,
            app_hash: app_hash.to_vec().into(),
        })
    }

    /// ABCI Commit: writes the finalized block atomically and resets the mempool's state.
    pub fn commit(&self) -> Result<pb::ResponseCommit, AbciError> {
        let started = std::time::Instant::now();
        let finalized = self
            .consensus
            .lock()
            .finalized
            .take()
            .ok_or_else(|| AbciError::sdk(sdk_codes::INTERNAL, "commit without a finalized block"))?;
        let mut check = self.check.lock();
        {
            let _write = self.commit_lock.write();
            let (changes, _) = finalized.delta.into_parts();
            self.storage.commit(finalized.height, changes).map_err(|e| AbciError::sdk(sdk_codes::INTERNAL, e.to_string()))?;
        }
        *check = StateDelta::new(LatestSnapshot(self.storage.clone()));
        drop(check);
        self.inference().after_commit_all(&self.modules, &self.storage);
        self.snapshots.after_commit(&self.storage, finalized.height);
        self.prune_after_commit(finalized.height);
        report_block(finalized.height, &finalized.stats, started.elapsed());
        openledger_core::crash::crash_point(openledger_core::crash::COMMIT_BEFORE_RESPONSE);
        Ok(pb::ResponseCommit { retain_height: 0 })
    }

    /// ABCI CheckTx: the ante handler on the mempool's state (sequences advance per accepted tx).
    /// A recheck (CometBFT re-running the mempool's txs after a Commit) checks everything again
    /// but answers a signature this node already verified from the cache ([`Mode::Recheck`]).
    pub fn check_tx(&self, req: &pb::RequestCheckTx) -> pb::ResponseCheckTx {
        let started = std::time::Instant::now();
        let chain_id = self.chain_id();
        let height = self.storage.last_committed().0.saturating_add(1);
        let recheck = req.r#type == pb::CheckTxType::Recheck as i32;
        let mode = if recheck { Mode::Recheck } else { Mode::Check };
        let mut check = self.check.lock();
        let outcome = run_tx(&self.modules, &mut check, &req.tx, &chain_id, height, mode);
        drop(check);
        let m = crate::metrics::global();
        if recheck { &m.recheck_tx } else { &m.check_tx }.observe(started.elapsed());
        let counter = if outcome.code == 0 { &m.check_tx_ok } else { &m.check_tx_rejected };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        pb::ResponseCheckTx {
            code: outcome.code,
            data: Vec::new().into(),
            log: outcome.log,
            info: String::new(),
            gas_wanted: i64::try_from(outcome.gas_wanted).unwrap_or(i64::MAX),
            gas_used: i64::try_from(outcome.gas_used).unwrap_or(i64::MAX),
            events: abci_events(&outcome.events),
            codespace: outcome.codespace.to_string(),
        }
    }

    /// The writes CheckTx has made to the mempool state since the last Commit, in key order
    /// (the fuzz targets check that a rejected tx adds none).
    pub fn check_state_changes(&self) -> openledger_core::storage::ChangeSet {
        self.check.lock().changes().clone()
    }

    /// Runs a tx on a throw-away copy of the latest state without signature checks (fee "auto").
    pub fn simulate(&self, req: &SimulateRequest) -> Result<SimulateResponse, AbciError> {
        #[allow(deprecated)]
        let bytes = if !req.tx_bytes.is_empty() {
            req.tx_bytes.clone()
        } else if let Some(tx) = &req.tx {
            cosmos_sdk_proto::cosmos::tx::v1beta1::TxRaw {
                body_bytes: tx.body.as_ref().map(|b| b.encode_to_vec()).unwrap_or_default(),
                auth_info_bytes: tx.auth_info.as_ref().map(|a| a.encode_to_vec()).unwrap_or_default(),
                signatures: tx.signatures.clone(),
            }
            .encode_to_vec()
        } else {
            return Err(AbciError::sdk(sdk_codes::INVALID_REQUEST, "empty txBytes is not allowed: invalid request"));
        };
        let chain_id = self.chain_id();
        let _read = self.commit_lock.read();
        let height = self.storage.last_committed().0.saturating_add(1);
        let mut scratch = StateDelta::new(LatestSnapshot(self.storage.clone()));
        let outcome = run_tx(&self.modules, &mut scratch, &bytes, &chain_id, height, Mode::Simulate);
        if !outcome.is_ok() {
            return Err(AbciError { codespace: outcome.codespace, code: outcome.code, log: outcome.log });
        }
        #[allow(deprecated)]
        let result = SdkResult {
            data: outcome.data.clone(),
            log: String::new(),
            events: abci_events(&outcome.events),
            msg_responses: outcome.msg_responses.clone(),
        };
        Ok(SimulateResponse {
            gas_info: Some(GasInfo { gas_wanted: outcome.gas_wanted, gas_used: outcome.gas_used }),
            result: Some(result),
        })
    }

    /// Picks the state a query reads: the latest committed one (height 0) or a past version.
    fn with_query_state<T>(
        &self,
        height: i64,
        f: impl FnOnce(&dyn StateRead, u64) -> Result<T, QueryError>,
    ) -> Result<(T, u64), (QueryError, u64)> {
        let _read = self.commit_lock.read();
        let (latest, _) = self.storage.last_committed();
        if latest == 0 {
            return Err((QueryError::InvalidHeight("no block has been committed yet".into()), 0));
        }
        let wanted = if height <= 0 { latest } else { u64::try_from(height).unwrap_or(u64::MAX) };
        if wanted > latest {
            return Err((
                QueryError::InvalidHeight(format!(
                    "cannot query with height in the future ({wanted} > {latest}); please provide a valid height"
                )),
                latest,
            ));
        }
        if let Some(earliest) = self.storage.earliest_height().filter(|e| wanted < *e) {
            return Err((
                QueryError::InvalidHeight(format!(
                    "height {wanted} is not kept by this node: its earliest height is {earliest} (older state was pruned, see pruning in app.toml, or the node started from a state sync snapshot)"
                )),
                latest,
            ));
        }
        let result = if wanted == latest {
            f(&LatestSnapshot(self.storage.clone()), wanted)
        } else {
            f(&HeightSnapshot { storage: self.storage.clone(), height: wanted }, wanted)
        };
        result.map(|v| (v, wanted)).map_err(|e| (e, wanted))
    }

    /// Answers `/<service>/<method>` for gRPC and ABCI alike; returns the response bytes and the
    /// height they were read at.
    pub fn grpc_query(&self, path: &str, data: &[u8], height: i64) -> Result<(Vec<u8>, u64), (QueryError, u64)> {
        let trimmed = path.trim_start_matches('/');
        let (service, method) =
            trimmed.split_once('/').ok_or_else(|| (QueryError::UnknownPath(format!("unknown query path {path}")), 0))?;
        let handler = self
            .modules
            .registry
            .query_service(service)
            .ok_or_else(|| (QueryError::UnknownPath(format!("unknown query path {path}")), 0))?;
        self.with_query_state(height, |state, _| handler.query(state, service, method, data))
    }

    /// Every gRPC service name the query router serves (for reflection and routing).
    pub fn query_service_names(&self) -> Vec<&'static str> {
        self.modules.query_service_names()
    }

    /// ABCI Query: gRPC method paths, `/cosmos.tx.v1beta1.Service/Simulate`, BaseApp's
    /// `/app/version` and `/app/simulate` (raw tx bytes), and raw keys (`/store/<module>/key`,
    /// with an ICS23 proof when `prove` is set).
    pub fn query(&self, req: &pb::RequestQuery) -> pb::ResponseQuery {
        // BaseApp's own paths, with or without the leading slash, as the SDK splits them.
        match req.path.trim_start_matches('/') {
            "app/version" => {
                let value = env!("CARGO_PKG_VERSION").as_bytes().to_vec().into();
                return pb::ResponseQuery { code: 0, value, height: self.query_height(), ..Default::default() };
            }
            "app/simulate" => {
                let sim = SimulateRequest { tx_bytes: req.data.to_vec(), ..Default::default() };
                return self.simulate_query(&sim);
            }
            _ => {}
        }
        if req.path == "/cosmos.tx.v1beta1.Service/Simulate" {
            return match SimulateRequest::decode(req.data.as_ref()) {
                Err(e) => query_error(&QueryError::InvalidArgument(format!("invalid request: {e}")), self.storage.last_committed().0),
                Ok(sim) => self.simulate_query(&sim),
            };
        }
        let store_path = req.path.trim_start_matches('/');
        if store_path == "store/ibc/key" {
            return self.ibc_key_query(req);
        }
        if store_path.starts_with("store/") && store_path.ends_with("/key") {
            return self.raw_key_query(req);
        }
        if let Some(hash) = req.path.strip_prefix(crate::inference::LOCAL_ADAPTER_PATH) {
            let height = self.query_height();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return query_error(&QueryError::InvalidArgument(format!("bad adapter hash {hash:?}")), self.storage.last_committed().0);
            }
            let value = self.inference().local_adapter_status(hash).to_string();
            return pb::ResponseQuery { code: 0, value: value.into_bytes().into(), height, ..Default::default() };
        }
        if let Some(id) = req.path.strip_prefix(crate::inference::LOCAL_STATUS_PATH) {
            let committed = self.storage.last_committed().0;
            let height = i64::try_from(committed).unwrap_or(i64::MAX);
            return match id.parse::<u64>() {
                Ok(id) => pb::ResponseQuery {
                    code: 0,
                    value: self.inference().local_status(id).to_string().into_bytes().into(),
                    height,
                    ..Default::default()
                },
                Err(_) => query_error(&QueryError::InvalidArgument(format!("bad request id {id:?}")), committed),
            };
        }
        if let Some(answer) = self.node_queries.get().and_then(|q| q.answer(&req.path, &req.data)) {
            return match answer {
                Ok((value, height)) => pb::ResponseQuery {
                    code: 0,
                    value: value.into(),
                    height: i64::try_from(height).unwrap_or(i64::MAX),
                    ..Default::default()
                },
                Err(err) => query_error(&err, self.storage.last_committed().0),
            };
        }
        match self.grpc_query(&req.path, &req.data, req.height) {
            Ok((value, height)) => {
                pb::ResponseQuery { code: 0, value: value.into(), height: i64::try_from(height).unwrap_or(i64::MAX), ..Default::default() }
            }
            Err((err, height)) => query_error(&err, height),
        }
    }

    /// The height an ABCI Query answer reports: the last committed one.
    fn query_height(&self) -> i64 {
        i64::try_from(self.storage.last_committed().0).unwrap_or(i64::MAX)
    }

    /// A simulation answered over ABCI Query: the `SimulateResponse` (whose encoding is also
    /// that of the SDK's `SimulationResponse`, which `app/simulate` returns) or the tx's error.
    fn simulate_query(&self, sim: &SimulateRequest) -> pb::ResponseQuery {
        let height = self.query_height();
        match self.simulate(sim) {
            Ok(resp) => pb::ResponseQuery { code: 0, value: resp.encode_to_vec().into(), height, ..Default::default() },
            Err(e) => pb::ResponseQuery { code: e.code, codespace: e.codespace.to_string(), log: e.log, height, ..Default::default() },
        }
    }

    /// `store/ibc/key`, as relayers ask it: `data` is an ICS-24 path of the IBC substore; with
    /// `prove`, two ICS23 proofs follow, the path against the substore root and the substore root
    /// (key `ibc`) against the app hash, the order of ibc-go's proof ops.
    fn ibc_key_query(&self, req: &pb::RequestQuery) -> pb::ResponseQuery {
        let path = req.data.to_vec();
        let key = [openledger_core::storage::SUBSTORE_PREFIX, path.as_slice()].concat();
        let result = self.with_query_state(req.height, |state, height| {
            if !req.prove {
                return Ok((state.get_raw(&key)?, None));
            }
            let (value, [sub, main]) =
                self.storage.get_with_substore_proof(&path, height).map_err(|e| QueryError::Internal(e.to_string()))?;
            let root_key = openledger_core::storage::SUBSTORE_ROOT_KEY.to_vec();
            Ok((value, Some(ProofOps { ops: vec![jmt_op(path.clone(), &sub), jmt_op(root_key, &main)] })))
        });
        key_answer(path.clone(), result)
    }

    /// `store/<module>/key`: `data` is the raw key; with `prove`, one ICS23 proof against the app
    /// hash.
    fn raw_key_query(&self, req: &pb::RequestQuery) -> pb::ResponseQuery {
        let key = req.data.to_vec();
        let result = self.with_query_state(req.height, |state, height| {
            if !req.prove {
                return Ok((state.get_raw(&key)?, None));
            }
            let (value, proof) = self.storage.get_with_proof(&key, height).map_err(|e| QueryError::Internal(e.to_string()))?;
            Ok((value, Some(ProofOps { ops: vec![jmt_op(key.clone(), &proof)] })))
        });
        key_answer(key, result)
    }

    /// Exports the latest committed state as genesis `app_state` (a section per module).
    pub fn export_genesis(&self) -> Result<serde_json::Map<String, serde_json::Value>, AbciError> {
        self.modules.export_genesis(&LatestSnapshot(self.storage.clone()))
    }

    /// Verifies a raw-key proof returned by [`App::query`] against the app hash at `height`.
    pub fn verify_key_proof(&self, height: u64, key: &[u8], value: Option<&[u8]>, proof: &ics23::CommitmentProof) -> bool {
        match self.storage.app_hash_at(height) {
            Ok(Some(root)) => verify_proof(&root, key, value, proof),
            _ => false,
        }
    }
}

/// One JMT proof op (`ics23:jmt`) of `key`.
fn jmt_op(key: Vec<u8>, proof: &ics23::CommitmentProof) -> ProofOp {
    ProofOp { r#type: "ics23:jmt".into(), key, data: proof.encode_to_vec() }
}

/// The answer of a raw-key query: the value (empty when absent) and the proof ops, if asked.
type KeyRead = Result<((Option<Vec<u8>>, Option<ProofOps>), u64), (QueryError, u64)>;

fn key_answer(key: Vec<u8>, result: KeyRead) -> pb::ResponseQuery {
    match result {
        Ok(((value, proof_ops), height)) => pb::ResponseQuery {
            code: 0,
            key: key.into(),
            value: value.unwrap_or_default().into(),
            proof_ops,
            height: i64::try_from(height).unwrap_or(i64::MAX),
            ..Default::default()
        },
        Err((err, height)) => query_error(&err, height),
    }
}

/// Converts a tx outcome into the ABCI result of FinalizeBlock.
pub fn exec_result(outcome: TxOutcome) -> pb::ExecTxResult {
    pb::ExecTxResult {
        code: outcome.code,
        data: outcome.data.into(),
        log: outcome.log,
        info: String::new(),
        gas_wanted: i64::try_from(outcome.gas_wanted).unwrap_or(i64::MAX),
        gas_used: i64::try_from(outcome.gas_used).unwrap_or(i64::MAX),
        events: abci_events(&outcome.events),
        codespace: outcome.codespace.to_string(),
    }
}

/// Builds the SDK's `TxResponse` from CometBFT's tx result (used by GetTx and broadcast).
#[allow(clippy::too_many_arguments)]
pub fn tx_response(
    height: i64,
    hash_hex: &str,
    result: &pb::ExecTxResult,
    tx: Option<cosmos_sdk_proto::Any>,
    timestamp: String,
) -> TxResponse {
    #[allow(deprecated)]
    TxResponse {
        height,
        txhash: hash_hex.to_uppercase(),
        codespace: result.codespace.clone(),
        code: result.code,
        data: hex::encode_upper(&result.data),
        raw_log: result.log.clone(),
        logs: Vec::new(),
        info: result.info.clone(),
        gas_wanted: result.gas_wanted,
        gas_used: result.gas_used,
        tx,
        timestamp: rfc3339_seconds(&timestamp),
        events: result.events.clone(),
    }
}

/// A CometBFT block time (`2006-01-02T15:04:05.999999999Z`) as the SDK writes a tx's timestamp:
/// Go's `time.RFC3339`, whole seconds (`2006-01-02T15:04:05Z`).
pub fn rfc3339_seconds(time: &str) -> String {
    match time.split_once('.') {
        Some((seconds, fraction)) if fraction.ends_with('Z') => format!("{seconds}Z"),
        _ => time.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339_seconds;

    #[test]
    fn tx_timestamps_are_whole_seconds_like_the_sdk() {
        assert_eq!(rfc3339_seconds("2026-12-01T22:50:41.123456789Z"), "2026-12-01T22:50:41Z");
        assert_eq!(rfc3339_seconds("2026-12-01T22:50:41Z"), "2026-12-01T22:50:41Z");
        assert_eq!(rfc3339_seconds(""), "");
    }
}
