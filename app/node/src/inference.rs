//! The node side of verifiable inference: the local executor worker and the ABCI 2.0 steps.
//!
//! After each Commit the app hands the pending requests it has not run yet to its local
//! `open-executor` over loopback gRPC (a background thread, so consensus never waits on the
//! model). Finished outputs are kept in memory; `ExtendVote` reports them (hashes only),
//! `PrepareProposal` injects the previous height's signed extended commit plus the texts it
//! holds for requests with a two-thirds agreement. The outputs are local, non-consensus data:
//! every check a block must pass is in `openledger_inference::votes`.
//!
//! The same runtime owns the ModelFactory training worker ([`crate::training`], started with
//! the executor on the first commit): its running jobs and finished training reports go into the
//! same extension, and the proposer injects the commit when it decides a fine-tune job or marks
//! one running even without any inference output.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use openledger_core::state::LatestSnapshot;
use openledger_core::storage::Storage;
use openledger_core::StateRead;
use openledger_inference::keeper::{output_hash, MAX_TEXT_BYTES_PER_TOKEN};
use openledger_inference::votes::{self, CommitEntry};
use openledger_inference::InferenceKeeper;
use openledger_proto::openledger::executor::v1::executor_client::ExecutorClient;
use openledger_proto::openledger::executor::v1::ExecuteRequest;
use openledger_proto::openledger::inference::v1::{AgreedOutput, InjectedResults, InjectedVote, ReportedOutput, Request};
use parking_lot::Mutex;
use prost::Message;
use tendermint_proto::v0_38::abci as pb;

use crate::modules::Modules;
use crate::training::TrainingRuntime;

/// Longest time one Execute call may take before it is retried at a later commit.
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(600);
/// Failed attempts per request before this node gives up on it (it then just does not vote).
const MAX_ATTEMPTS: u32 = 3;
/// Pending requests looked at per commit.
const MAX_PENDING_SCAN: usize = 1024;

/// One output produced by the local executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalOutput {
    /// Token ids.
    pub tokens: Vec<u32>,
    /// Text.
    pub text: String,
    /// sha256(tokens LE ‖ text).
    pub hash: [u8; 32],
}

#[derive(Default)]
struct Shared {
    outputs: BTreeMap<u64, LocalOutput>,
    in_flight: BTreeSet<u64>,
    attempts: BTreeMap<u64, u32>,
    /// Why the local executor could not answer a request (its last error), newest
    /// [`MAX_FAILURES_KEPT`] requests; kept after the request ends so an expiry can be explained.
    failures: BTreeMap<u64, String>,
}

/// Executor failures remembered (node-local diagnostics, not consensus data).
const MAX_FAILURES_KEPT: usize = 1024;

/// ABCI query path of [`InferenceRuntime::local_status`]: `/openledger/node/inference/<id>`.
pub const LOCAL_STATUS_PATH: &str = "/openledger/node/inference/";
/// ABCI query path of [`InferenceRuntime::local_adapter_status`]: `/openledger/node/adapter/<hash>`.
pub const LOCAL_ADAPTER_PATH: &str = "/openledger/node/adapter/";

/// The local executor connection and the outputs it produced.
pub struct InferenceRuntime {
    shared: Arc<Mutex<Shared>>,
    jobs: Option<mpsc::Sender<Request>>,
    byzantine: bool,
    executor_addr: Option<String>,
    /// Started on the first commit (it reads rows from the app's storage).
    training: std::sync::OnceLock<TrainingRuntime>,
    /// This validator's consensus address: its reports are bound to it.
    address: Vec<u8>,
    /// Test mode of a free rider: no executor; it copies the other validators' extensions.
    copier: Option<Copier>,
}

/// The reported outputs of each other validator (by consensus address) at one height.
type SeenAtHeight = BTreeMap<Vec<u8>, Vec<ReportedOutput>>;

/// What a free-riding validator saw (test flag): the other validators' reported outputs per
/// height, from VerifyVoteExtension.
#[derive(Default)]
struct Copier {
    seen: Mutex<BTreeMap<i64, SeenAtHeight>>,
}

impl Default for InferenceRuntime {
    fn default() -> Self {
        Self::disabled()
    }
}

impl InferenceRuntime {
    /// A validator without an executor: it reports nothing and injects nothing of its own.
    pub fn disabled() -> Self {
        Self {
            shared: Arc::default(),
            jobs: None,
            byzantine: false,
            executor_addr: None,
            training: std::sync::OnceLock::new(),
            address: Vec::new(),
            copier: None,
        }
    }

    /// A validator that runs no executor and copies the other validators' extensions (a test of
    /// free-riding: its copies carry the others' bindings, which are not its own).
    pub fn copier(address: Vec<u8>) -> Self {
        Self { address, copier: Some(Copier::default()), ..Self::disabled() }
    }

    /// Records another validator's extension (VerifyVoteExtension) when copying.
    pub fn observe_extension(&self, height: i64, validator: &[u8], extension: &[u8]) {
        let Some(c) = &self.copier else { return };
        if validator == self.address.as_slice() {
            return;
        }
        let outputs = votes::decode_extension(extension).map(|e| e.outputs).unwrap_or_default();
        let mut seen = c.seen.lock();
        seen.retain(|h, _| *h + 4 >= height);
        seen.entry(height).or_default().insert(validator.to_vec(), outputs);
    }

    /// The copier's extension at `height`: for each pending request, what most of the other
    /// validators reported in the latest extensions it has seen, byte for byte. (CometBFT runs
    /// ExtendVote on the same thread that verifies incoming votes, so the freshest extensions a
    /// copier can see are those of the previous height, or of this one if they arrived first.)
    fn copied_extension(&self, c: &Copier, keeper: &InferenceKeeper, state: &dyn StateRead, height: i64) -> Vec<u8> {
        let pending: BTreeSet<u64> = keeper.pending_ids(state, MAX_PENDING_SCAN).unwrap_or_default().into_iter().collect();
        if pending.is_empty() {
            return Vec::new();
        }
        let seen = c.seen.lock();
        let latest = seen.range(..=height).rev().find(|(_, m)| m.values().any(|o| !o.is_empty())).map(|(_, m)| m);
        let mut counts: BTreeMap<u64, BTreeMap<(Vec<u8>, u32), usize>> = BTreeMap::new();
        for outputs in latest.map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
            for o in outputs.iter().filter(|o| pending.contains(&o.request_id)) {
                *counts.entry(o.request_id).or_default().entry((o.output_hash.clone(), o.token_count)).or_insert(0) += 1;
            }
        }
        let copied: Vec<ReportedOutput> = counts
            .into_iter()
            .filter_map(|(id, by)| {
                let ((hash, tokens), _) = by.into_iter().max_by_key(|(_, n)| *n)?;
                Some(ReportedOutput { request_id: id, output_hash: hash, token_count: tokens })
            })
            .collect();
        if !copied.is_empty() {
            tracing::info!("inference: copier at height {height} reports {} copied outputs", copied.len());
        }
        votes::encode_extension(copied)
    }

    /// Connects to `executor_addr` (an `http://127.0.0.1:port` URL) from a worker thread.
    /// `byzantine` perturbs every output and every training report (tests of slashing only).
    /// `address` is this validator's consensus address (its reports are bound to it).
    pub fn start(executor_addr: &str, byzantine: bool, address: Vec<u8>) -> anyhow::Result<Self> {
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let (tx, rx) = mpsc::channel::<Request>();
        let addr = executor_addr.to_string();
        let worker_shared = shared.clone();
        std::thread::Builder::new().name("inference-worker".into()).spawn(move || worker(addr, rx, worker_shared, byzantine))?;
        Ok(Self {
            shared,
            jobs: Some(tx),
            byzantine,
            executor_addr: Some(executor_addr.to_string()),
            training: std::sync::OnceLock::new(),
            address,
            copier: None,
        })
    }

    /// Whether this node runs an executor.
    pub fn enabled(&self) -> bool {
        self.jobs.is_some()
    }

    /// Whether outputs are perturbed (test flag).
    pub fn byzantine(&self) -> bool {
        self.byzantine
    }

    /// The training worker (disabled without an executor or before the first commit).
    pub fn training(&self) -> Option<&TrainingRuntime> {
        self.training.get()
    }

    /// Sets the training runtime (tests; the node starts it on its first commit).
    pub fn set_training(&self, training: TrainingRuntime) -> bool {
        self.training.set(training).is_ok()
    }

    /// After Commit: queue pending requests not run yet and forget outputs of finished ones;
    /// hand fine-tune jobs to the training worker.
    pub fn after_commit_all(&self, modules: &Modules, storage: &Storage) {
        let state = LatestSnapshot(storage.clone());
        self.after_commit(&modules.inference, &state);
        let Some(addr) = &self.executor_addr else { return };
        let training = self.training.get_or_init(|| {
            TrainingRuntime::start(addr, storage.clone(), modules.datanet.clone(), self.byzantine).unwrap_or_else(|e| {
                tracing::error!("training: cannot start the worker: {e}");
                TrainingRuntime::disabled()
            })
        });
        training.after_commit(&modules.model, &state);
    }

    /// After Commit: queue pending requests not run yet; forget outputs of finished ones.
    pub fn after_commit(&self, keeper: &InferenceKeeper, state: &dyn StateRead) {
        let Some(jobs) = &self.jobs else { return };
        let pending = match keeper.pending_ids(state, MAX_PENDING_SCAN) {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("inference: cannot list pending requests: {e}");
                return;
            }
        };
        let pending_set: BTreeSet<u64> = pending.iter().copied().collect();
        let mut shared = self.shared.lock();
        shared.outputs.retain(|id, _| pending_set.contains(id));
        shared.attempts.retain(|id, _| pending_set.contains(id));
        for id in pending {
            if shared.outputs.contains_key(&id) || shared.in_flight.contains(&id) {
                continue;
            }
            if shared.attempts.get(&id).copied().unwrap_or(0) >= MAX_ATTEMPTS {
                continue;
            }
            let Ok(Some(request)) = keeper.request(state, id) else { continue };
            if jobs.send(request).is_ok() {
                shared.in_flight.insert(id);
                *shared.attempts.entry(id).or_insert(0) += 1;
            }
        }
    }

    /// What this node's executor did with request `id` (node-local, as JSON): whether this node
    /// runs an executor, and whether it answered the request, is running it, or failed (with the
    /// executor's own message, e.g. an adapter it does not hold and could not fetch). Clients show
    /// it to explain a request that expired.
    pub fn local_status(&self, id: u64) -> serde_json::Value {
        let Some(addr) = &self.executor_addr else {
            return serde_json::json!({"request_id": id.to_string(), "executor": null, "state": "no_executor"});
        };
        let shared = self.shared.lock();
        let (state, error) = if let Some(e) = shared.failures.get(&id) {
            ("failed", Some(e.clone()))
        } else if shared.outputs.contains_key(&id) {
            ("answered", None)
        } else if shared.in_flight.contains(&id) {
            ("running", None)
        } else {
            ("unknown", None)
        };
        serde_json::json!({"request_id": id.to_string(), "executor": addr, "state": state, "error": error})
    }

    /// Whether this node's executor holds the adapter `hash` (node-local, as JSON; asks the
    /// executor's ListModels, waiting at most a few seconds). Clients warn before paying for a
    /// request no executor may be able to serve.
    pub fn local_adapter_status(&self, hash: &str) -> serde_json::Value {
        let Some(addr) = self.executor_addr.clone() else {
            return serde_json::json!({"adapter": hash, "executor": null, "held": null});
        };
        let asked = ask_executor(&addr, |mut client| async move {
            client.list_models(openledger_proto::openledger::executor::v1::ListModelsRequest {}).await
        })
        .map(|list| list.adapters.iter().any(|a| a.hash.eq_ignore_ascii_case(hash)));
        match asked {
            Ok(held) => serde_json::json!({"adapter": hash, "executor": addr, "held": held}),
            Err(e) => serde_json::json!({"adapter": hash, "executor": addr, "held": null, "error": e.to_string()}),
        }
    }

    /// A local output.
    pub fn output(&self, id: u64) -> Option<LocalOutput> {
        self.shared.lock().outputs.get(&id).cloned()
    }

    /// Records an output (the worker, and tests).
    pub fn insert_output(&self, id: u64, output: LocalOutput) {
        self.shared.lock().outputs.insert(id, output);
    }

    /// ExtendVote at `height`: the outputs of pending requests this node has (each as its
    /// binding, see [`votes::report_binding`]), its finished training reports and the jobs it is
    /// training.
    pub fn extend_vote_all(&self, modules: &Modules, state: &dyn StateRead, chain_id: &str, height: i64) -> Vec<u8> {
        if let Some(c) = &self.copier {
            return self.copied_extension(c, &modules.inference, state, height);
        }
        if !self.enabled() {
            return Vec::new();
        }
        let (reports, running) = self.training().map(|t| t.reports(&modules.model, state)).unwrap_or_default();
        // Successful results go out as this validator's bindings; the proposer reveals them.
        let bound = reports.iter().map(|r| votes::bind_training_report(chain_id, &self.address, r)).collect();
        votes::encode_full_extension(self.outputs_to_report(&modules.inference, state, chain_id), bound, running)
    }

    /// ExtendVote without training: the outputs of pending requests this node has.
    pub fn extend_vote(&self, keeper: &InferenceKeeper, state: &dyn StateRead, chain_id: &str) -> Vec<u8> {
        if !self.enabled() {
            return Vec::new();
        }
        votes::encode_extension(self.outputs_to_report(keeper, state, chain_id))
    }

    fn outputs_to_report(&self, keeper: &InferenceKeeper, state: &dyn StateRead, chain_id: &str) -> Vec<ReportedOutput> {
        let pending = keeper.pending_ids(state, MAX_PENDING_SCAN).unwrap_or_default();
        let shared = self.shared.lock();
        pending
            .into_iter()
            .filter_map(|id| {
                let o = shared.outputs.get(&id)?;
                Some(ReportedOutput {
                    request_id: id,
                    output_hash: votes::report_binding(chain_id, id, &self.address, &o.hash).to_vec(),
                    token_count: u32::try_from(o.tokens.len()).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// PrepareProposal: the injected results tx for the previous height's extended commit, if
    /// this node holds the text of at least one request with a two-thirds agreement, or the
    /// commit decides a fine-tune job or reports a queued one running (those need no text, so
    /// any proposer injects them).
    pub fn injected_tx(
        &self,
        keeper: &InferenceKeeper,
        state: &dyn StateRead,
        chain_id: &str,
        height: i64,
        commit: &pb::ExtendedCommitInfo,
        max_bytes: usize,
    ) -> Option<Vec<u8>> {
        if height < 2 || commit.votes.is_empty() {
            return None;
        }
        let injected_votes: Vec<InjectedVote> = commit
            .votes
            .iter()
            .map(|v| InjectedVote {
                address: v.validator.as_ref().map(|x| x.address.to_vec()).unwrap_or_default(),
                power: v.validator.as_ref().map(|x| x.power).unwrap_or(0),
                block_id_flag: v.block_id_flag,
                vote_extension: v.vote_extension.to_vec(),
                extension_signature: v.extension_signature.to_vec(),
            })
            .collect();
        let entries = commit_entries_extended(commit);
        let verified = match votes::verify_commit(keeper, state, chain_id, height - 1, commit.round, &injected_votes, &entries) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("inference: own extended commit does not verify: {e}");
                return None;
            }
        };
        let extension_height = u64::try_from(height - 1).unwrap_or(0);
        // The texts this node holds are the candidates the others' bound reports are checked
        // against.
        let candidates: BTreeMap<u64, votes::Candidate> = {
            let shared = self.shared.lock();
            shared.outputs.iter().map(|(id, o)| (*id, (o.hash, u32::try_from(o.tokens.len()).unwrap_or(u32::MAX)))).collect()
        };
        let agreements = votes::tally(keeper, state, chain_id, &verified, extension_height, &candidates).ok()?;
        // This node's own training results are the candidates it can reveal.
        let training_candidates = self.training().map(TrainingRuntime::results).unwrap_or_default();
        let training = votes::tally_training(keeper, state, chain_id, &verified, extension_height, &training_candidates).ok()?;
        let revealed_training: Vec<_> = training.iter().filter(|a| !a.report.failed).map(|a| a.report.clone()).collect();
        let running = votes::newly_running(keeper, state, &verified).ok()?;
        let late = votes::late_dissent(keeper, state, chain_id, &verified).ok()?;
        let shared = self.shared.lock();
        let outputs: Vec<AgreedOutput> = agreements
            .iter()
            .filter_map(|a| {
                let o = shared.outputs.get(&a.request_id)?;
                // ProcessProposal rejects texts longer than their tokens allow: never propose one.
                let fits = o.text.len() <= o.tokens.len().saturating_mul(MAX_TEXT_BYTES_PER_TOKEN);
                (o.hash == a.output_hash && fits).then(|| AgreedOutput {
                    request_id: a.request_id,
                    tokens: o.tokens.clone(),
                    text: o.text.clone(),
                })
            })
            .collect();
        // Every node rejects an injected tx over MAX_INJECTED_BYTES, and the block has its own
        // limit: take outputs in request order while they fit. The ones left out stay pending,
        // are reported again in the next extensions and injected at a later height.
        let limit = max_bytes.min(votes::MAX_INJECTED_BYTES);
        let mut injected =
            InjectedResults { height: height - 1, round: commit.round, votes: injected_votes, outputs: Vec::new(), revealed_training };
        let mut size = votes::INJECTED_MAGIC.len() + injected.encoded_len();
        for output in outputs {
            let len = output.encoded_len();
            // Field tag (1 byte) + length prefix + the message.
            let added = 1 + prost::length_delimiter_len(len) + len;
            if size + added > limit {
                break;
            }
            size += added;
            injected.outputs.push(output);
        }
        if injected.outputs.is_empty() && training.is_empty() && running.is_empty() && late.is_empty() {
            return None;
        }
        if size > limit {
            return None;
        }
        let tx = votes::encode_injected(&injected);
        debug_assert_eq!(tx.len(), size);
        Some(tx)
    }
}

/// The commit entries of a block's `CommitInfo`.
pub fn commit_entries(commit: &pb::CommitInfo) -> Vec<CommitEntry> {
    commit
        .votes
        .iter()
        .map(|v| CommitEntry {
            address: v.validator.as_ref().map(|x| x.address.to_vec()).unwrap_or_default(),
            power: v.validator.as_ref().map(|x| x.power).unwrap_or(0),
            block_id_flag: v.block_id_flag,
        })
        .collect()
}

fn commit_entries_extended(commit: &pb::ExtendedCommitInfo) -> Vec<CommitEntry> {
    commit
        .votes
        .iter()
        .map(|v| CommitEntry {
            address: v.validator.as_ref().map(|x| x.address.to_vec()).unwrap_or_default(),
            power: v.validator.as_ref().map(|x| x.power).unwrap_or(0),
            block_id_flag: v.block_id_flag,
        })
        .collect()
}

/// One unary call to the executor at `addr` (`http://HOST:PORT`) on a runtime of its own, for
/// callers outside any runtime (node-local probes, the CLI): connects within 2 s, answers within 3 s.
fn ask_executor<T, F, Fut>(addr: &str, call: F) -> anyhow::Result<T>
where
    F: FnOnce(ExecutorClient<tonic::transport::Channel>) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let endpoint = tonic::transport::Endpoint::from_shared(addr.to_string())?.connect_timeout(Duration::from_secs(2));
        let client = ExecutorClient::new(endpoint.connect().await?).max_decoding_message_size(16 * 1024 * 1024);
        let response = tokio::time::timeout(Duration::from_secs(3), call(client)).await.map_err(|_| anyhow::anyhow!("timed out"))??;
        Ok(response.into_inner())
    })
}

/// The Health of the executor at `addr` (`http://HOST:PORT`): its status, version and hardware
/// class (what `tx inference register-executor --executor` records on chain).
pub fn executor_health(addr: &str) -> anyhow::Result<openledger_proto::openledger::executor::v1::HealthResponse> {
    ask_executor(addr, |mut client| async move { client.health(openledger_proto::openledger::executor::v1::HealthRequest {}).await })
        .map_err(|e| anyhow::anyhow!("executor {addr}: Health: {e}"))
}

/// Runs requests on the executor one at a time (the executor batches internally).
fn worker(addr: String, jobs: mpsc::Receiver<Request>, shared: Arc<Mutex<Shared>>, byzantine: bool) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("inference worker: cannot start a runtime: {e}");
            return;
        }
    };
    let mut client: Option<ExecutorClient<tonic::transport::Channel>> = None;
    while let Ok(request) = jobs.recv() {
        let id = request.id;
        let started = std::time::Instant::now();
        let result = runtime.block_on(async {
            if client.is_none() {
                let endpoint = tonic::transport::Endpoint::from_shared(addr.clone())?.connect_timeout(Duration::from_secs(5));
                client = Some(ExecutorClient::new(endpoint.connect().await?).max_decoding_message_size(16 * 1024 * 1024));
            }
            let Some(c) = client.as_mut() else { anyhow::bail!("no executor client") };
            let call = c.execute(ExecuteRequest {
                model: request.weights_hash.clone(),
                adapter: request.adapter_hash.clone(),
                prompt: request.prompt.clone(),
                max_tokens: request.max_tokens,
                seed: request.seed,
                profile: request.profile.clone(),
                messages: request.messages.clone(),
                chat_template_hash: request.chat_template_hash.clone(),
            });
            let response = tokio::time::timeout(EXECUTE_TIMEOUT, call).await.map_err(|_| anyhow::anyhow!("timed out"))??.into_inner();
            Ok::<_, anyhow::Error>(response)
        });
        let metrics = crate::metrics::global();
        metrics.executor.observe(started.elapsed());
        if result.is_err() {
            metrics.executor_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let mut guard = shared.lock();
        guard.in_flight.remove(&id);
        match result {
            Ok(response) => {
                guard.failures.remove(&id);
                let mut text = response.text;
                if byzantine {
                    text.push_str(" [perturbed]");
                }
                let hash = output_hash(&response.tokens, &text);
                if !byzantine && response.output_hash.as_slice() != hash {
                    tracing::warn!("inference: executor hash of request {id} does not match its tokens and text; not reporting it");
                    continue;
                }
                tracing::info!("inference: request {id} executed ({} tokens)", response.tokens.len());
                guard.outputs.insert(id, LocalOutput { tokens: response.tokens, text, hash });
            }
            Err(e) => {
                // The executor's own words for a refusal, else the transport error.
                let reason = match e.downcast_ref::<tonic::Status>() {
                    Some(status) => format!("{:?}: {}", status.code(), status.message()),
                    None => e.to_string(),
                };
                tracing::warn!("inference: request {id} failed on the executor at {addr}: {reason}");
                guard.failures.insert(id, reason);
                while guard.failures.len() > MAX_FAILURES_KEPT {
                    guard.failures.pop_first();
                }
                client = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_runtime_reports_nothing() {
        let rt = InferenceRuntime::disabled();
        assert!(!rt.enabled());
        rt.insert_output(1, LocalOutput { tokens: vec![1], text: "a".into(), hash: output_hash(&[1], "a") });
        assert_eq!(rt.output(1).map(|o| o.text), Some("a".to_string()));
    }
}
