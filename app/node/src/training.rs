//! The node side of ModelFactory: the local executor's training worker.
//!
//! After each Commit the app hands the queued and running fine-tune jobs it has not trained yet
//! to a background thread (never the consensus path), which reads the job's datanet version
//! rows from committed state, in version order, and runs `Train` on the loopback
//! `open-executor`, one job at a time, logging the progress it streams (step/total, loss,
//! tokens/s). While a job trains its id is reported in `running_jobs`; once finished, its
//! result (adapter hash, eval-loss bits, training-log hash, or `failed` when the executor
//! refuses the job as untrainable) is reported in every vote extension until the chain decides
//! the job. All of it is local, non-consensus data: what a block must satisfy is in
//! `openledger_inference::votes`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openledger_core::state::LatestSnapshot;
use openledger_core::storage::Storage;
use openledger_core::StateRead;
use openledger_datanet::DatanetKeeper;
use openledger_model::ModelKeeper;
use openledger_proto::openledger::executor::v1::executor_client::ExecutorClient;
use openledger_proto::openledger::executor::v1::{train_progress, TrainRequest};
use openledger_proto::openledger::inference::v1::TrainingReport;
use openledger_proto::openledger::model::v1::{FineTuneJob, JobStatus};
use parking_lot::Mutex;

/// Longest time one Train call may take before it is given up (and retried at a later commit).
const TRAIN_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
/// Failed attempts per job before this node gives up on it (it then just does not report).
const MAX_ATTEMPTS: u32 = 3;
/// Active jobs looked at per commit.
const MAX_ACTIVE_SCAN: usize = 256;
/// Blocks after its attestation during which a job's result is still reported (a trainer
/// slower than the deciding two thirds is judged, and slashed if it differs, all the same).
const LATE_REPORT_BLOCKS: u64 = 20;
/// Longest gap between two progress log lines of one job.
const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Shared {
    /// Handed to the worker, not finished.
    queued: BTreeSet<u64>,
    /// Being trained by the executor now.
    running: BTreeSet<u64>,
    /// Finished: the report to sign.
    results: BTreeMap<u64, TrainingReport>,
    attempts: BTreeMap<u64, u32>,
    /// Every step the executor streamed, per job (newest [`MAX_PROGRESS_JOBS`] jobs): what the
    /// web app draws as the loss curve. Node-local.
    progress: BTreeMap<u64, JobProgress>,
}

/// Jobs whose progress is kept.
const MAX_PROGRESS_JOBS: usize = 32;
/// Steps kept per job (later steps replace the newest point).
const MAX_PROGRESS_STEPS: usize = 4096;

/// The steps of one job as this node's executor trained it.
#[derive(Default, Clone, serde::Serialize)]
pub struct JobProgress {
    /// "training", "trained", "failed" (the executor's error in `error`).
    pub state: &'static str,
    /// Steps so far.
    pub steps: Vec<StepPoint>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Eval loss of the trained adapter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_loss: Option<f32>,
}

/// One optimizer step.
#[derive(Clone, serde::Serialize)]
pub struct StepPoint {
    /// Step number (1-based) and the job's total.
    pub step: u32,
    /// Total steps.
    pub total_steps: u32,
    /// Mean training loss of the step.
    pub loss: f32,
    /// Tokens trained on so far.
    pub tokens: u64,
    /// Throughput so far.
    pub tokens_per_second: f32,
    /// Estimated seconds left.
    pub eta_seconds: f32,
}

fn progress_entry(shared: &mut Shared, id: u64) -> &mut JobProgress {
    if !shared.progress.contains_key(&id) {
        while shared.progress.len() >= MAX_PROGRESS_JOBS {
            shared.progress.pop_first();
        }
    }
    shared.progress.entry(id).or_default()
}

/// The local training worker and the results it produced.
pub struct TrainingRuntime {
    shared: Arc<Mutex<Shared>>,
    jobs: Option<mpsc::Sender<FineTuneJob>>,
    byzantine: bool,
}

impl Default for TrainingRuntime {
    fn default() -> Self {
        Self::disabled()
    }
}

impl TrainingRuntime {
    /// A node without an executor: it reports nothing.
    pub fn disabled() -> Self {
        Self { shared: Arc::default(), jobs: None, byzantine: false }
    }

    /// Starts the worker thread on `executor_addr`, reading rows from `storage` through
    /// `datanets`. `byzantine` flips the first byte of every adapter hash it reports (tests of
    /// slashing only).
    pub fn start(executor_addr: &str, storage: Storage, datanets: DatanetKeeper, byzantine: bool) -> anyhow::Result<Self> {
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let (tx, rx) = mpsc::channel::<FineTuneJob>();
        let addr = executor_addr.to_string();
        let worker_shared = shared.clone();
        std::thread::Builder::new()
            .name("training-worker".into())
            .spawn(move || worker(addr, rx, worker_shared, storage, datanets, byzantine))?;
        Ok(Self { shared, jobs: Some(tx), byzantine })
    }

    /// Whether this node trains.
    pub fn enabled(&self) -> bool {
        self.jobs.is_some()
    }

    /// Ids of the jobs whose results are still reported: active, or attested in the last
    /// [`LATE_REPORT_BLOCKS`] blocks.
    fn reportable(model: &ModelKeeper, state: &dyn StateRead, ids: impl Iterator<Item = u64>) -> BTreeSet<u64> {
        let height = openledger_core::block::block_info(state).map(|b| b.height).unwrap_or(0);
        ids.filter(|id| match model.job(state, *id) {
            Ok(Some(j)) if j.status == JobStatus::Queued as i32 || j.status == JobStatus::Running as i32 => true,
            Ok(Some(j)) if j.status == JobStatus::Attested as i32 => j.attested_height.saturating_add(LATE_REPORT_BLOCKS) >= height,
            _ => false,
        })
        .collect()
    }

    /// After Commit: hand active jobs not trained yet to the worker; forget decided ones.
    pub fn after_commit(&self, model: &ModelKeeper, state: &dyn StateRead) {
        let Some(jobs) = &self.jobs else { return };
        let active = match model.active_jobs(state, MAX_ACTIVE_SCAN) {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!("training: cannot list fine-tune jobs: {e}");
                return;
            }
        };
        let ids: BTreeSet<u64> = active.iter().map(|j| j.id).collect();
        let mut shared = self.shared.lock();
        let keep = Self::reportable(model, state, shared.results.keys().copied());
        shared.results.retain(|id, _| keep.contains(id));
        shared.attempts.retain(|id, _| ids.contains(id));
        for job in active {
            let id = job.id;
            if shared.results.contains_key(&id) || shared.queued.contains(&id) {
                continue;
            }
            if shared.attempts.get(&id).copied().unwrap_or(0) >= MAX_ATTEMPTS {
                continue;
            }
            if jobs.send(job).is_ok() {
                shared.queued.insert(id);
                *shared.attempts.entry(id).or_insert(0) += 1;
            }
        }
    }

    /// ExtendVote: the finished reports (jobs still active or just attested) and the running
    /// jobs.
    pub fn reports(&self, model: &ModelKeeper, state: &dyn StateRead) -> (Vec<TrainingReport>, Vec<u64>) {
        if !self.enabled() {
            return (Vec::new(), Vec::new());
        }
        let active: BTreeSet<u64> =
            model.active_jobs(state, MAX_ACTIVE_SCAN).map(|jobs| jobs.into_iter().map(|j| j.id).collect()).unwrap_or_default();
        let shared = self.shared.lock();
        let reportable = Self::reportable(model, state, shared.results.keys().copied());
        let reports = shared.results.iter().filter(|(id, _)| reportable.contains(id)).map(|(_, r)| self.as_reported(r)).collect();
        let running = shared.running.iter().filter(|id| active.contains(id) && !shared.results.contains_key(id)).copied().collect();
        (reports, running)
    }

    /// Every finished result this node holds, plain (as [`Self::reports`] would sign it before
    /// binding): what it can reveal as a proposer.
    pub fn results(&self) -> BTreeMap<u64, TrainingReport> {
        let shared = self.shared.lock();
        shared.results.iter().filter(|(_, r)| !r.failed).map(|(id, r)| (*id, self.as_reported(r))).collect()
    }

    /// A result as this node reports it: as trained, or, in the byzantine test mode, with the
    /// first byte of a successful adapter hash flipped.
    fn as_reported(&self, result: &TrainingReport) -> TrainingReport {
        let mut r = result.clone();
        if self.byzantine && !r.failed {
            if let Some(b) = r.adapter_hash.first_mut() {
                *b ^= 0xff;
            }
        }
        r
    }

    /// Records a finished report (the worker, and tests).
    pub fn insert_result(&self, report: TrainingReport) {
        let mut shared = self.shared.lock();
        shared.running.remove(&report.job_id);
        shared.queued.remove(&report.job_id);
        shared.results.insert(report.job_id, report);
    }

    /// What this node's executor streamed for job `id` (node-local, as JSON): its state and
    /// every step's loss, tokens and throughput. `state` is "none" when this node has not
    /// trained it (no executor, not started yet, or another node's job history).
    pub fn progress_json(&self, id: u64) -> serde_json::Value {
        let shared = self.shared.lock();
        let mut v = match shared.progress.get(&id) {
            Some(p) => serde_json::to_value(p).unwrap_or_default(),
            None => serde_json::json!({"state": if shared.queued.contains(&id) { "queued" } else { "none" }, "steps": []}),
        };
        v["job_id"] = serde_json::json!(id.to_string());
        v["trains"] = serde_json::json!(self.enabled());
        v
    }

    /// Marks a job running (the worker, and tests).
    pub fn set_running(&self, job_id: u64) {
        self.shared.lock().running.insert(job_id);
    }
}

/// The rows of a job's datanet version, in version order.
fn version_rows(storage: &Storage, datanets: &DatanetKeeper, job: &FineTuneJob) -> anyhow::Result<Vec<Vec<u8>>> {
    let state = LatestSnapshot(storage.clone());
    let segments = datanets.segments(&state, job.datanet_id, job.datanet_version)?;
    let mut rows = Vec::new();
    for seg in segments {
        for i in 0..seg.row_count {
            let row_id = seg.first_row_id.checked_add(i).ok_or_else(|| anyhow::anyhow!("row id overflow"))?;
            let row = datanets
                .row(&state, job.datanet_id, row_id)?
                .ok_or_else(|| anyhow::anyhow!("row {row_id} of datanet {} is missing", job.datanet_id))?;
            rows.push(row.data);
        }
    }
    if u64::try_from(rows.len()).ok() != Some(job.row_count) {
        anyhow::bail!(
            "datanet {} version {} has {} rows, the job pinned {}",
            job.datanet_id,
            job.datanet_version,
            rows.len(),
            job.row_count
        );
    }
    Ok(rows)
}

/// What one Train call ended with.
enum Outcome {
    Trained(TrainingReport),
    /// The executor refused the job as untrainable (INVALID_ARGUMENT): report `failed`.
    Untrainable(String),
    /// The executor does not hold the base model: this node does not report.
    NotServed,
}

/// Trains jobs on the executor one at a time.
fn worker(
    addr: String,
    jobs: mpsc::Receiver<FineTuneJob>,
    shared: Arc<Mutex<Shared>>,
    storage: Storage,
    datanets: DatanetKeeper,
    byzantine: bool,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("training worker: cannot start a runtime: {e}");
            return;
        }
    };
    if byzantine {
        tracing::warn!("training: byzantine test mode, every reported adapter hash is perturbed");
    }
    while let Ok(job) = jobs.recv() {
        let id = job.id;
        let outcome = runtime.block_on(async {
            let rows = version_rows(&storage, &datanets, &job)?;
            let endpoint = tonic::transport::Endpoint::from_shared(addr.clone())?.connect_timeout(Duration::from_secs(5));
            let mut client = ExecutorClient::new(endpoint.connect().await?).max_decoding_message_size(16 * 1024 * 1024);
            tracing::info!(
                "training: job {id} on base model {} ({} rows of datanet {} v{})",
                job.base_model_id,
                rows.len(),
                job.datanet_id,
                job.datanet_version
            );
            let request = TrainRequest {
                job_id: id,
                model: job.base_weights_hash.clone(),
                rows,
                data_root: job.merkle_root.clone(),
                config: job.config.clone(),
                chat_template_hash: job.chat_template_hash.clone(),
            };
            let mut stream = match client.train(request).await {
                Ok(s) => s.into_inner(),
                Err(status) if status.code() == tonic::Code::InvalidArgument => {
                    return Ok(Outcome::Untrainable(status.message().to_string()))
                }
                Err(status) if status.code() == tonic::Code::NotFound => return Ok(Outcome::NotServed),
                Err(status) => anyhow::bail!("Train: {status}"),
            };
            {
                let mut guard = shared.lock();
                guard.running.insert(id);
                *progress_entry(&mut guard, id) = JobProgress { state: "training", ..Default::default() };
            }
            let deadline = Instant::now() + TRAIN_TIMEOUT;
            let mut last_log = Instant::now() - LOG_EVERY;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let message = match tokio::time::timeout(left, stream.message()).await {
                    Err(_) => anyhow::bail!("timed out"),
                    Ok(Err(status)) if status.code() == tonic::Code::InvalidArgument => {
                        return Ok(Outcome::Untrainable(status.message().to_string()))
                    }
                    Ok(Err(status)) => anyhow::bail!("Train stream: {status}"),
                    Ok(Ok(None)) => anyhow::bail!("the Train stream ended without a result"),
                    Ok(Ok(Some(m))) => m,
                };
                if let Some(train_progress::Event::Step(step)) = &message.event {
                    let mut guard = shared.lock();
                    let steps = &mut progress_entry(&mut guard, id).steps;
                    if steps.len() >= MAX_PROGRESS_STEPS {
                        steps.pop();
                    }
                    steps.push(StepPoint {
                        step: step.step,
                        total_steps: step.total_steps,
                        loss: step.loss,
                        tokens: step.tokens,
                        tokens_per_second: step.tokens_per_second,
                        eta_seconds: step.eta_seconds,
                    });
                }
                match message.event {
                    Some(train_progress::Event::Step(step)) if last_log.elapsed() >= LOG_EVERY || step.step == step.total_steps => {
                        last_log = Instant::now();
                        tracing::info!(
                            "training: job {id} step {}/{} loss {:.4} ({:.0} tokens/s, eta {:.0}s)",
                            step.step,
                            step.total_steps,
                            step.loss,
                            step.tokens_per_second,
                            step.eta_seconds
                        );
                    }
                    Some(train_progress::Event::Step(_)) => {}
                    Some(train_progress::Event::Result(result)) => {
                        if result.config_hash != job.config_hash {
                            anyhow::bail!(
                                "the executor hashed the config to {}, the chain to {}: not reporting",
                                hex::encode(&result.config_hash),
                                hex::encode(&job.config_hash)
                            );
                        }
                        let adapter_hash = hex::decode(&result.adapter_hash)?;
                        if adapter_hash.len() != 32 || result.training_log_hash.len() != 32 {
                            anyhow::bail!("malformed result hashes");
                        }
                        tracing::info!(
                            "training: job {id} done in {} steps: adapter {} eval loss {:.4} ({} train / {} eval rows)",
                            result.steps,
                            result.adapter_hash,
                            f32::from_bits(result.eval_loss_bits),
                            result.train_rows,
                            result.eval_rows
                        );
                        return Ok(Outcome::Trained(TrainingReport {
                            job_id: id,
                            adapter_hash,
                            eval_loss_bits: result.eval_loss_bits,
                            training_log_hash: result.training_log_hash,
                            failed: false,
                            binding: Vec::new(),
                        }));
                    }
                    None => {}
                }
            }
        });
        let mut guard = shared.lock();
        guard.queued.remove(&id);
        guard.running.remove(&id);
        let (state, error, eval_loss) = match &outcome {
            Ok(Outcome::Trained(r)) => ("trained", None, Some(f32::from_bits(r.eval_loss_bits))),
            Ok(Outcome::Untrainable(why)) => ("failed", Some(why.clone()), None),
            Ok(Outcome::NotServed) => ("failed", Some(format!("the executor does not hold base model {}", job.base_model_id)), None),
            Err(e) => ("failed", Some(e.to_string()), None),
        };
        let entry = progress_entry(&mut guard, id);
        entry.state = state;
        entry.error = error;
        entry.eval_loss = eval_loss;
        match outcome {
            Ok(Outcome::Trained(report)) => {
                guard.results.insert(id, report);
            }
            Ok(Outcome::Untrainable(why)) => {
                tracing::warn!("training: job {id} cannot be trained ({why}); reporting it failed");
                guard.results.insert(id, TrainingReport { job_id: id, failed: true, ..Default::default() });
            }
            Ok(Outcome::NotServed) => {
                tracing::info!("training: the executor at {addr} does not hold base model {}; not reporting job {id}", job.base_model_id);
                guard.attempts.insert(id, MAX_ATTEMPTS);
            }
            Err(e) => tracing::warn!("training: job {id} failed on the executor at {addr}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openledger_core::delta::EmptyState;
    use openledger_core::{Address, StateDelta};

    fn runtime(byzantine: bool) -> (TrainingRuntime, mpsc::Receiver<FineTuneJob>) {
        let (tx, rx) = mpsc::channel();
        (TrainingRuntime { shared: Arc::default(), jobs: Some(tx), byzantine }, rx)
    }

    #[test]
    fn reports_cover_active_jobs_only_and_byzantine_flips_adapter_hashes() {
        let modules = crate::modules::Modules::new();
        let mut state = StateDelta::new(EmptyState);
        openledger_core::block::set_block_info(&mut state, openledger_core::block::BlockInfo { height: 100, time_ns: 0 }).unwrap();
        let creator = Address::from_bytes(&[5; 20]).unwrap().to_bech32();
        for (id, status) in [(1, JobStatus::Queued), (2, JobStatus::Running), (3, JobStatus::Attested)] {
            let job = FineTuneJob { id, creator: creator.clone(), status: status as i32, deadline_height: 100, ..Default::default() };
            modules.model.set_job(&mut state, &job, None).unwrap();
        }
        assert!(!TrainingRuntime::disabled().enabled());
        assert_eq!(TrainingRuntime::disabled().reports(&modules.model, &state), (vec![], vec![]));

        let report = |id| TrainingReport {
            job_id: id,
            adapter_hash: vec![0x11; 32],
            training_log_hash: vec![2; 32],
            eval_loss_bits: 3,
            failed: false,
            binding: Vec::new(),
        };
        let (honest, rx) = runtime(false);
        // After commit: the two active jobs go to the worker, once.
        honest.after_commit(&modules.model, &state);
        honest.after_commit(&modules.model, &state);
        assert_eq!(rx.try_iter().map(|j| j.id).collect::<Vec<_>>(), vec![1, 2]);
        honest.set_running(1);
        honest.insert_result(report(2));
        honest.insert_result(report(3));
        let (reports, running) = honest.reports(&modules.model, &state);
        assert_eq!(reports, vec![report(2)], "job 3, attested long ago (height 0 + 20 < now), is not reported");
        assert_eq!(running, vec![1]);

        let (byzantine, _rx) = runtime(true);
        byzantine.insert_result(report(2));
        byzantine.insert_result(TrainingReport { job_id: 1, failed: true, ..Default::default() });
        let (reports, _) = byzantine.reports(&modules.model, &state);
        assert_eq!(reports[0], TrainingReport { job_id: 1, failed: true, ..Default::default() });
        assert_eq!(reports[1].adapter_hash[0], 0xee, "the byzantine test flag perturbs the adapter hash");
        assert_eq!(reports[1].adapter_hash[1..], [0x11; 31]);
    }
}
