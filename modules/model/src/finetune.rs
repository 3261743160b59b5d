//! ModelFactory fine-tune jobs: the governed params, the training config's normalization and
//! hash, and the job lifecycle on the keeper — creation (fee escrowed in the `model` module
//! account), QUEUED → RUNNING when a validator's executor reports it training, ATTESTED (adapter
//! registered with its lineage, fee split) or FAILED (refund) when two thirds of the base
//! model's executors' power agree, EXPIRED (refund) at the deadline.
//!
//! The attestation itself (vote extensions, signatures, the two-thirds tally, slashing of
//! dissenters) is the inference module's; the app hands its outcome to
//! [`ModelKeeper::attest_job`] / [`ModelKeeper::fail_job`] as a [`JobAttestation`]. Everything
//! here is integer arithmetic on committed state: every integer-division remainder of the fee
//! split goes to the community pool.

use std::collections::BTreeMap;

use openledger_core::block::BlockInfo;
use openledger_core::coin::BASE_DENOM;
use openledger_core::{AbciError, Address, Coin, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::executor::v1::TrainConfig;
use openledger_proto::openledger::model::v1::{
    Adapter, ContributorPayout, FineTuneFeeSplit, FineTuneJob, FineTuneParams, JobStatus, JobVote, PinnedVersion,
};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::error::ModelError;
use crate::events::{
    AdapterRegistered, FineTuneJobAttested, FineTuneJobCreated, FineTuneJobExpired, FineTuneJobFailed, FineTuneJobRunning,
};
use crate::keeper::ModelKeeper;
use crate::state_key;

/// Module account that escrows fine-tune fees (created on the first job, so chains without
/// jobs keep their genesis state and account numbers).
pub const MODEL_ACCOUNT: &str = "model";
/// Domain prefix of [`config_hash`].
pub const CONFIG_HASH_DOMAIN: &[u8] = b"openledger.modelfactory.v1.config";
/// The LoRA target modules, in their canonical order.
pub const TARGET_MODULES: [&str; 7] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
/// Default target modules.
pub const DEFAULT_TARGET_MODULES: [&str; 2] = ["q_proj", "v_proj"];
/// Most target module entries a message may list (before deduplication).
pub const MAX_TARGET_MODULE_ENTRIES: usize = 16;
/// Basis points in a whole.
pub const BPS: u32 = 10_000;
/// Default LoRA rank.
pub const DEFAULT_RANK: u32 = 8;
/// Default learning rate × 10⁶ (1e-3).
pub const DEFAULT_LEARNING_RATE_MICRO: u32 = 1_000;
/// Default epochs.
pub const DEFAULT_EPOCHS: u32 = 1;
/// Default batch size.
pub const DEFAULT_BATCH_SIZE: u32 = 4;
/// Default eval split (10 %).
pub const DEFAULT_EVAL_SPLIT_BPS: u32 = 1_000;
/// Default tokens per row.
pub const DEFAULT_MAX_SEQ_LEN: u32 = 128;
/// Largest learning rate × 10⁶ (1.0).
pub const MAX_LEARNING_RATE_MICRO: u32 = 1_000_000;
/// Largest eval split (half the rows).
pub const MAX_EVAL_SPLIT_BPS: u32 = 5_000;
/// Largest lora_alpha.
pub const MAX_ALPHA: u32 = 65_536;

/// Hard bounds of the params (attacker-sized values stay bounded even if governance errs).
pub mod caps {
    /// Rank.
    pub const RANK: u32 = 256;
    /// Epochs.
    pub const EPOCHS: u32 = 100;
    /// Steps.
    pub const STEPS: u32 = 1_000_000;
    /// Batch size.
    pub const BATCH_SIZE: u32 = 1_024;
    /// Tokens per row.
    pub const SEQ_LEN: u32 = 32_768;
    /// Deadline blocks.
    pub const DEADLINE_BLOCKS: u64 = 1_000_000;
    /// Jobs queued or running.
    pub const ACTIVE_JOBS: u32 = 1_024;
    /// Rows per job.
    pub const ROWS: u64 = 10_000_000;
}

/// The fine-tuning params in force when none are stored.
pub fn default_params() -> FineTuneParams {
    FineTuneParams {
        min_fee: Some(Coin::new(BASE_DENOM, 1_000).to_proto()),
        max_rank: 64,
        max_epochs: 10,
        max_steps: 10_000,
        max_batch_size: 64,
        max_seq_len: 2_048,
        job_deadline_blocks: 1_200,
        fee_split: Some(FineTuneFeeSplit { executors_bps: 5_000, contributors_bps: 4_000, community_bps: 1_000 }),
        max_active_jobs: 16,
        max_rows_per_job: 100_000,
    }
}

/// The minimum fee of params (uopen).
pub fn min_fee(p: &FineTuneParams) -> Result<u128, ModelError> {
    match &p.min_fee {
        None => Ok(0),
        Some(c) => {
            let coin = Coin::from_proto(c).map_err(|e| ModelError::InvalidParams(format!("min_fee: {e}")))?;
            if coin.denom != BASE_DENOM {
                return Err(ModelError::InvalidParams(format!("min_fee must be in {BASE_DENOM}")));
            }
            Ok(coin.amount)
        }
    }
}

/// Checks params against their bounds.
pub fn validate_params(p: &FineTuneParams) -> Result<(), ModelError> {
    let bad = |m: String| Err(ModelError::InvalidParams(m));
    min_fee(p)?;
    let within = |name: &str, v: u64, max: u64| -> Result<(), ModelError> {
        if v == 0 || v > max {
            return Err(ModelError::InvalidParams(format!("{name} must be 1..={max}, got {v}")));
        }
        Ok(())
    };
    within("max_rank", p.max_rank.into(), caps::RANK.into())?;
    within("max_epochs", p.max_epochs.into(), caps::EPOCHS.into())?;
    within("max_steps", p.max_steps.into(), caps::STEPS.into())?;
    within("max_batch_size", p.max_batch_size.into(), caps::BATCH_SIZE.into())?;
    within("max_seq_len", p.max_seq_len.into(), caps::SEQ_LEN.into())?;
    within("job_deadline_blocks", p.job_deadline_blocks, caps::DEADLINE_BLOCKS)?;
    within("max_active_jobs", p.max_active_jobs.into(), caps::ACTIVE_JOBS.into())?;
    within("max_rows_per_job", p.max_rows_per_job, caps::ROWS)?;
    if p.max_rank < DEFAULT_RANK || p.max_seq_len < DEFAULT_MAX_SEQ_LEN || p.max_batch_size < DEFAULT_BATCH_SIZE {
        return bad(format!(
            "max_rank, max_seq_len and max_batch_size must admit the defaults ({DEFAULT_RANK}, {DEFAULT_MAX_SEQ_LEN}, {DEFAULT_BATCH_SIZE})"
        ));
    }
    let Some(split) = &p.fee_split else { return bad("fee_split is required".into()) };
    let sum = u64::from(split.executors_bps) + u64::from(split.contributors_bps) + u64::from(split.community_bps);
    if sum != u64::from(BPS) {
        return bad(format!("fee_split must add up to {BPS} basis points, got {sum}"));
    }
    Ok(())
}

/// The stateless half of a config check: known target modules, a bounded list, and rank ≥ 1
/// in a config that is present (rank is the one field without a zero default: the issue asks
/// that rank 0 be refused; an absent config takes every default).
pub fn check_config_shape(config: Option<&TrainConfig>) -> Result<(), ModelError> {
    let Some(c) = config else { return Ok(()) };
    let bad = |m: String| Err(ModelError::InvalidTrainingConfig(m));
    if c.rank == 0 {
        return bad("rank must be at least 1 (omit the config for every default)".into());
    }
    if c.target_modules.len() > MAX_TARGET_MODULE_ENTRIES {
        return bad(format!("at most {MAX_TARGET_MODULE_ENTRIES} target modules"));
    }
    for m in &c.target_modules {
        if !TARGET_MODULES.contains(&m.as_str()) {
            return bad(format!(
                "unknown target module {:?} (expected one of {})",
                m.chars().take(32).collect::<String>(),
                TARGET_MODULES.join(", ")
            ));
        }
    }
    Ok(())
}

/// Fills the defaults, deduplicates and orders the target modules, and checks every value
/// against `params`. The seed is left as given (0 is derived at creation: [`derive_seed`]).
pub fn normalize_config(config: Option<&TrainConfig>, params: &FineTuneParams) -> Result<TrainConfig, ModelError> {
    check_config_shape(config)?;
    let c = config.cloned().unwrap_or_default();
    let bad = |m: String| Err(ModelError::InvalidTrainingConfig(m));
    let or = |v: u32, d: u32| if v == 0 { d } else { v };
    let rank = or(c.rank, DEFAULT_RANK);
    if rank > params.max_rank {
        return bad(format!("rank {rank} is above the maximum {}", params.max_rank));
    }
    let alpha = if c.alpha == 0 { rank.saturating_mul(2) } else { c.alpha };
    if alpha > MAX_ALPHA {
        return bad(format!("alpha {alpha} is above {MAX_ALPHA}"));
    }
    let target_modules: Vec<String> = if c.target_modules.is_empty() {
        DEFAULT_TARGET_MODULES.iter().map(|s| s.to_string()).collect()
    } else {
        TARGET_MODULES.iter().filter(|m| c.target_modules.iter().any(|t| t == *m)).map(|s| s.to_string()).collect()
    };
    let learning_rate_micro = or(c.learning_rate_micro, DEFAULT_LEARNING_RATE_MICRO);
    if learning_rate_micro > MAX_LEARNING_RATE_MICRO {
        return bad(format!("learning rate {learning_rate_micro}e-6 is above 1.0"));
    }
    let epochs = or(c.epochs, DEFAULT_EPOCHS);
    if epochs > params.max_epochs {
        return bad(format!("epochs {epochs} is above the maximum {}", params.max_epochs));
    }
    if c.max_steps > params.max_steps {
        return bad(format!("max_steps {} is above the maximum {}", c.max_steps, params.max_steps));
    }
    let batch_size = or(c.batch_size, DEFAULT_BATCH_SIZE);
    if batch_size > params.max_batch_size {
        return bad(format!("batch size {batch_size} is above the maximum {}", params.max_batch_size));
    }
    let eval_split_bps = or(c.eval_split_bps, DEFAULT_EVAL_SPLIT_BPS);
    if eval_split_bps > MAX_EVAL_SPLIT_BPS {
        return bad(format!("eval split {eval_split_bps} bps is above {MAX_EVAL_SPLIT_BPS}"));
    }
    let max_seq_len = or(c.max_seq_len, DEFAULT_MAX_SEQ_LEN);
    if max_seq_len > params.max_seq_len {
        return bad(format!("max_seq_len {max_seq_len} is above the maximum {}", params.max_seq_len));
    }
    Ok(TrainConfig {
        rank,
        alpha,
        target_modules,
        learning_rate_micro,
        epochs,
        max_steps: c.max_steps,
        batch_size,
        seed: c.seed,
        eval_split_bps,
        max_seq_len,
    })
}

/// `sha256("openledger.modelfactory.v1.config" ‖ protobuf encoding of the normalized config)`:
/// the job's `config_hash`, the adapter's `training_config_hash` (hex) and what the executor
/// reports as `TrainResult.config_hash`.
pub fn config_hash(normalized: &TrainConfig) -> [u8; 32] {
    Sha256::new().chain_update(CONFIG_HASH_DOMAIN).chain_update(normalized.encode_to_vec()).finalize().into()
}

/// The seed of a job that asked for seed 0: the first 8 bytes, little endian, of
/// sha256(creation height as u64 big-endian ‖ job id as u64 big-endian).
pub fn derive_seed(height: u64, job_id: u64) -> u64 {
    let digest = Sha256::new().chain_update(height.to_be_bytes()).chain_update(job_id.to_be_bytes()).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// Moving funds for fine-tune jobs; the app implements it over the bank and staking.
pub trait ModelFunds: Send + Sync {
    /// Moves `amount` uopen (never called with 0).
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, amount: u128) -> Result<(), AbciError>;
    /// Moves `amount` uopen from `from` into the community pool (never called with 0).
    fn fund_community_pool(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), AbciError>;
    /// Creates the module account `name` if it does not exist yet.
    fn ensure_module_account(&self, state: &mut dyn StateWrite, name: &str) -> Result<(), AbciError>;
}

/// A decided job, as the inference module's tally hands it over through the app.
#[derive(Debug, Clone, PartialEq)]
pub struct JobAttestation {
    /// Job.
    pub job_id: u64,
    /// Agreed adapter hash, lower-case hex (empty for a failure).
    pub adapter_hash: String,
    /// Agreed eval loss bits.
    pub eval_loss_bits: u32,
    /// Agreed training-log hash.
    pub training_log_hash: Vec<u8>,
    /// Height of the commit whose extensions decided it.
    pub extension_height: u64,
    /// Power that agreed.
    pub agreeing_power: i64,
    /// Power of every executor of the base model in that commit.
    pub eligible_power: i64,
    /// Every eligible executor's vote (operator order).
    pub votes: Vec<JobVote>,
    /// Accounts and powers of the agreeing executors (they share the executors' part).
    pub agreeing_executors: Vec<(Address, i64)>,
    /// Validators slashed and jailed for a different report.
    pub slashed: Vec<String>,
}

/// `amount * bps / 10000`, floored.
fn bps_of(amount: u128, bps: u32) -> Result<u128, ModelError> {
    amount.checked_mul(u128::from(bps)).map(|x| x / u128::from(BPS)).ok_or_else(|| ModelError::Overflow("fee split".into()))
}

/// `amount * part / whole`, floored (0 when whole is 0).
fn pro_rata(amount: u128, part: u128, whole: u128) -> Result<u128, ModelError> {
    if whole == 0 {
        return Ok(0);
    }
    amount.checked_mul(part).map(|x| x / whole).ok_or_else(|| ModelError::Overflow("pro rata share".into()))
}

fn add(a: u128, b: u128, what: &str) -> Result<u128, ModelError> {
    a.checked_add(b).ok_or_else(|| ModelError::Overflow(what.into()))
}

fn abci(e: AbciError) -> ModelError {
    ModelError::Funds(e)
}

/// The creation request of a job, validated statelessly.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Creator.
    pub creator: Address,
    /// Base model.
    pub base_model_id: u64,
    /// Datanet.
    pub datanet_id: u64,
    /// Version.
    pub datanet_version: u64,
    /// Config as sent.
    pub config: Option<TrainConfig>,
    /// Fee.
    pub fee: Coin,
}

impl ModelKeeper {
    /// Escrow account of fine-tune fees.
    pub fn escrow_address() -> Address {
        Address::module(MODEL_ACCOUNT)
    }

    /// Fine-tuning params (the defaults when none are stored).
    pub fn fine_tune_params(&self, state: &dyn StateRead) -> Result<FineTuneParams, ModelError> {
        Ok(state.get_proto(state_key::PARAMS)?.unwrap_or_else(default_params))
    }

    /// Stores validated params.
    pub fn set_fine_tune_params(&self, state: &mut dyn StateWrite, params: &FineTuneParams) -> Result<(), ModelError> {
        validate_params(params)?;
        state.put_proto(state_key::PARAMS.to_vec(), params)?;
        Ok(())
    }

    /// A job.
    pub fn job(&self, state: &dyn StateRead, id: u64) -> Result<Option<FineTuneJob>, ModelError> {
        Ok(state.get_proto(&state_key::job(id))?)
    }

    /// A job, or [`ModelError::JobNotFound`].
    pub fn require_job(&self, state: &dyn StateRead, id: u64) -> Result<FineTuneJob, ModelError> {
        self.job(state, id)?.ok_or(ModelError::JobNotFound(id))
    }

    /// Ids of the jobs in `status`, ascending, at most `limit`.
    pub fn job_ids_with_status(&self, state: &dyn StateRead, status: JobStatus, limit: usize) -> Result<Vec<u64>, ModelError> {
        Ok(state
            .scan_raw(&state_key::jobs_by_status(status as i32), None, limit)?
            .iter()
            .filter_map(|(k, _)| state_key::id_from_key(k))
            .collect())
    }

    /// Queued and running jobs, by id, at most `limit` of each.
    pub fn active_jobs(&self, state: &dyn StateRead, limit: usize) -> Result<Vec<FineTuneJob>, ModelError> {
        let mut ids = self.job_ids_with_status(state, JobStatus::Queued, limit)?;
        ids.extend(self.job_ids_with_status(state, JobStatus::Running, limit)?);
        ids.sort_unstable();
        ids.into_iter().map(|id| self.require_job(state, id)).collect()
    }

    fn active_count(state: &dyn StateRead) -> Result<u64, ModelError> {
        Ok(state.get_proto::<u64>(state_key::ACTIVE_JOB_COUNT)?.unwrap_or(0))
    }

    /// Writes a job and its indexes (`previous`: its status before, to move the status index).
    pub fn set_job(&self, state: &mut dyn StateWrite, job: &FineTuneJob, previous: Option<i32>) -> Result<(), ModelError> {
        if let Some(old) = previous.filter(|old| *old != job.status) {
            state.delete(&state_key::job_by_status(old, job.id))?;
        }
        state.put_proto(state_key::job_by_status(job.status, job.id), &job.id)?;
        state.put_proto(state_key::job_by_creator(&job.creator, job.id), &job.id)?;
        let active = job.status == JobStatus::Queued as i32 || job.status == JobStatus::Running as i32;
        if active {
            state.put_proto(state_key::job_deadline(job.deadline_height, job.id), &job.id)?;
        } else {
            state.delete(&state_key::job_deadline(job.deadline_height, job.id))?;
        }
        let was_active = previous.is_some_and(|old| old == JobStatus::Queued as i32 || old == JobStatus::Running as i32);
        if active != was_active {
            let count = Self::active_count(state)?;
            let next = if active { count.checked_add(1) } else { count.checked_sub(1) };
            state.put_proto(state_key::ACTIVE_JOB_COUNT.to_vec(), &next.ok_or_else(|| ModelError::Overflow("active jobs".into()))?)?;
        }
        state.put_proto(state_key::job(job.id), job)?;
        Ok(())
    }

    fn next_job_id(state: &mut dyn StateWrite) -> Result<u64, ModelError> {
        let id = state.get_proto::<u64>(state_key::NEXT_JOB_ID)?.unwrap_or(1).max(1);
        let next = id.checked_add(1).ok_or_else(|| ModelError::Overflow("job id".into()))?;
        state.put_proto(state_key::NEXT_JOB_ID.to_vec(), &next)?;
        Ok(id)
    }

    /// MsgCreateFineTuneJob: checks everything against state and params, then escrows the fee
    /// and stores the QUEUED job with its normalized config. Returns the job id.
    pub fn create_job(&self, state: &mut dyn StateWrite, info: BlockInfo, new: &NewJob) -> Result<u64, ModelError> {
        let params = self.fine_tune_params(state)?;
        if new.fee.denom != BASE_DENOM {
            return Err(ModelError::InvalidCoins(format!("fine-tune fees are in {BASE_DENOM}, got {}", new.fee.denom)));
        }
        let min = min_fee(&params)?;
        if new.fee.amount < min {
            return Err(ModelError::FeeTooLow { fee: new.fee.to_string(), min: Coin::new(BASE_DENOM, min).to_string() });
        }
        let base = self.require_base_model(state, new.base_model_id)?;
        if base.delisted {
            return Err(ModelError::BaseModelDelisted(base.id));
        }
        let version = self
            .datanets()
            .version(state, new.datanet_id, new.datanet_version)?
            .ok_or(ModelError::VersionNotFound { datanet_id: new.datanet_id, version: new.datanet_version })?;
        if version.datanet_delisted {
            return Err(ModelError::DatanetDelisted(new.datanet_id));
        }
        if version.row_count == 0 {
            return Err(ModelError::EmptyDatanetVersion { datanet_id: new.datanet_id, version: new.datanet_version });
        }
        if version.row_count > params.max_rows_per_job {
            return Err(ModelError::JobLimit(format!(
                "datanet {} version {} has {} rows, above max_rows_per_job {}",
                new.datanet_id, new.datanet_version, version.row_count, params.max_rows_per_job
            )));
        }
        let mut config = normalize_config(new.config.as_ref(), &params)?;
        if Self::active_count(state)? >= u64::from(params.max_active_jobs) {
            return Err(ModelError::JobLimit(format!("{} jobs are queued or running already", params.max_active_jobs)));
        }
        let deadline_height = info.height.checked_add(params.job_deadline_blocks).ok_or_else(|| ModelError::Overflow("deadline".into()))?;

        // Writes from here on (the message layer drops them all if anything below fails).
        let funds = self.funds()?;
        funds.ensure_module_account(state, MODEL_ACCOUNT).map_err(abci)?;
        if new.fee.amount > 0 {
            funds.send(state, &new.creator, &Self::escrow_address(), new.fee.amount).map_err(abci)?;
        }
        let id = Self::next_job_id(state)?;
        if config.seed == 0 {
            config.seed = derive_seed(info.height, id);
        }
        let hash = config_hash(&config);
        let job = FineTuneJob {
            id,
            creator: new.creator.to_bech32(),
            base_model_id: base.id,
            base_weights_hash: base.weights_hash.clone(),
            datanet_id: new.datanet_id,
            datanet_version: new.datanet_version,
            merkle_root: version.merkle_root,
            row_count: version.row_count,
            config: Some(config),
            config_hash: hash.to_vec(),
            fee: Some(new.fee.to_proto()),
            status: JobStatus::Queued as i32,
            created_height: info.height,
            deadline_height,
            chat_template_hash: base.chat_template_hash.clone(),
            ..Default::default()
        };
        self.set_job(state, &job, None)?;
        state.emit_typed(FineTuneJobCreated {
            job_id: id,
            creator: job.creator.clone(),
            base_model_id: job.base_model_id,
            datanet_id: job.datanet_id,
            datanet_version: job.datanet_version,
            config_hash: hex::encode(hash),
            fee: new.fee.to_string(),
            deadline_height,
        });
        Ok(id)
    }

    /// A QUEUED job becomes RUNNING (an eligible validator reported its executor training
    /// it). Anything else is left alone. Returns whether it changed.
    pub fn mark_running(&self, state: &mut dyn StateWrite, info: BlockInfo, job_id: u64) -> Result<bool, ModelError> {
        let Some(mut job) = self.job(state, job_id)? else { return Ok(false) };
        if job.status != JobStatus::Queued as i32 {
            return Ok(false);
        }
        let previous = job.status;
        job.status = JobStatus::Running as i32;
        job.running_height = info.height;
        self.set_job(state, &job, Some(previous))?;
        state.emit_typed(FineTuneJobRunning { job_id });
        Ok(true)
    }

    fn require_active(&self, state: &dyn StateRead, job_id: u64) -> Result<FineTuneJob, ModelError> {
        let job = self.require_job(state, job_id)?;
        if job.status != JobStatus::Queued as i32 && job.status != JobStatus::Running as i32 {
            return Err(ModelError::JobNotActive(job_id));
        }
        Ok(job)
    }

    /// Rows per contributor of the job's datanet version (contributor order).
    fn contributor_rows(&self, state: &dyn StateRead, job: &FineTuneJob) -> Result<BTreeMap<String, u64>, ModelError> {
        let mut rows = BTreeMap::new();
        for (contributor, n) in self.datanets().version_contributors(state, job.datanet_id, job.datanet_version)? {
            let slot = rows.entry(contributor).or_insert(0u64);
            *slot = slot.checked_add(n).ok_or_else(|| ModelError::Overflow("contributor rows".into()))?;
        }
        Ok(rows)
    }

    /// Two thirds of the executors' power agreed on the job's result: registers the adapter
    /// (owned by the creator, with the job's lineage) and splits the fee by the current
    /// params' `fee_split`:
    ///
    /// - executors: `fee × executors_bps / 10000`, shared by the agreeing executors pro rata
    ///   to their power (each share floored);
    /// - contributors: `fee × contributors_bps / 10000`, shared pro rata to each contributor's
    ///   rows in the version (each share floored);
    /// - community pool: everything else — its own share plus every floor remainder of the two
    ///   splits above (and a share whose recipient address does not parse).
    ///
    /// If the adapter hash is registered already (the same job trained twice with an explicit
    /// seed), the job points at that adapter instead of registering it again.
    pub fn attest_job(&self, state: &mut dyn StateWrite, info: BlockInfo, a: &JobAttestation) -> Result<FineTuneJob, ModelError> {
        let mut job = self.require_active(state, a.job_id)?;
        let adapter_hash = crate::keeper::normalize_hash("adapter_hash", &a.adapter_hash)?;
        let params = self.fine_tune_params(state)?;
        let split = params.fee_split.unwrap_or_default();
        let fee = job.fee.as_ref().and_then(|c| c.amount.parse::<u128>().ok()).unwrap_or(0);
        let escrow = Self::escrow_address();
        let funds = self.funds()?;

        // The adapter.
        let adapter_id = match self.by_adapter_hash(state, &adapter_hash)? {
            Some(existing) => existing,
            None => {
                let id = self.next_adapter_id(state)?;
                let adapter = Adapter {
                    id,
                    owner: job.creator.clone(),
                    base_model_id: job.base_model_id,
                    adapter_hash: adapter_hash.clone(),
                    datanet_versions: vec![PinnedVersion {
                        datanet_id: job.datanet_id,
                        version: job.datanet_version,
                        merkle_root: job.merkle_root.clone(),
                        row_count: job.row_count,
                    }],
                    training_config_hash: hex::encode(&job.config_hash),
                    inference_price: Some(Coin::new(BASE_DENOM, 0).to_proto()),
                    delisted: false,
                    delist_reason: String::new(),
                    fine_tune_job_id: job.id,
                    training_log_hash: a.training_log_hash.clone(),
                    eval_loss_bits: a.eval_loss_bits,
                    base_weights_hash: job.base_weights_hash.clone(),
                };
                self.set_adapter(state, &adapter)?;
                state.emit_typed(AdapterRegistered {
                    adapter_id: id,
                    base_model_id: adapter.base_model_id,
                    owner: adapter.owner.clone(),
                    adapter_hash: adapter.adapter_hash.clone(),
                    datanet_versions: format!("{}:{}", job.datanet_id, job.datanet_version),
                });
                id
            }
        };

        // Executors, pro rata to power.
        let executors_share = bps_of(fee, split.executors_bps)?;
        let agreeing_power: u128 = a.agreeing_executors.iter().map(|(_, p)| u128::try_from(*p).unwrap_or(0)).sum();
        let mut paid_executors = 0u128;
        for (account, power) in &a.agreeing_executors {
            let share = pro_rata(executors_share, u128::try_from(*power).unwrap_or(0), agreeing_power)?;
            if share > 0 {
                funds.send(state, &escrow, account, share).map_err(abci)?;
                paid_executors = add(paid_executors, share, "executor shares")?;
            }
        }

        // Contributors, pro rata to their rows in the version.
        let contributors_share = bps_of(fee, split.contributors_bps)?;
        let rows = self.contributor_rows(state, &job)?;
        let total_rows: u128 = rows.values().map(|n| u128::from(*n)).sum();
        let mut paid_contributors = 0u128;
        let mut payouts = Vec::with_capacity(rows.len());
        for (contributor, n) in &rows {
            let share = pro_rata(contributors_share, u128::from(*n), total_rows)?;
            let paid = match Address::from_bech32(contributor) {
                Ok(to) if share > 0 => {
                    funds.send(state, &escrow, &to, share).map_err(abci)?;
                    share
                }
                _ => 0,
            };
            paid_contributors = add(paid_contributors, paid, "contributor shares")?;
            payouts.push(ContributorPayout { contributor: contributor.clone(), rows: *n, amount: paid.to_string() });
        }

        // Community pool: its share and every remainder.
        let paid_community = fee
            .checked_sub(paid_executors)
            .and_then(|x| x.checked_sub(paid_contributors))
            .ok_or_else(|| ModelError::Overflow("fee split".into()))?;
        if paid_community > 0 {
            funds.fund_community_pool(state, &escrow, paid_community).map_err(abci)?;
        }

        let previous = job.status;
        job.status = JobStatus::Attested as i32;
        job.adapter_id = adapter_id;
        job.adapter_hash = adapter_hash.clone();
        job.eval_loss_bits = a.eval_loss_bits;
        job.training_log_hash = a.training_log_hash.clone();
        job.attested_height = info.height;
        job.extension_height = a.extension_height;
        job.agreeing_power = a.agreeing_power;
        job.eligible_power = a.eligible_power;
        job.votes = a.votes.clone();
        job.paid_executors = paid_executors.to_string();
        job.paid_contributors = paid_contributors.to_string();
        job.paid_community = paid_community.to_string();
        job.contributor_payouts = payouts;
        job.slashed = a.slashed.clone();
        self.set_job(state, &job, Some(previous))?;
        state.emit_typed(FineTuneJobAttested {
            job_id: job.id,
            adapter_id,
            adapter_hash,
            agreeing_power: a.agreeing_power,
            eligible_power: a.eligible_power,
            paid_executors,
            paid_contributors,
            paid_community,
        });
        Ok(job)
    }

    /// Records a validator slashed for a report contradicting the job's attested result after
    /// the job was decided.
    pub fn record_slash(&self, state: &mut dyn StateWrite, job_id: u64, operator: &str) -> Result<(), ModelError> {
        let mut job = self.require_job(state, job_id)?;
        if !job.slashed.iter().any(|s| s == operator) {
            job.slashed.push(operator.to_string());
            let status = job.status;
            self.set_job(state, &job, Some(status))?;
        }
        Ok(())
    }

    fn refund(&self, state: &mut dyn StateWrite, job: &FineTuneJob) -> Result<u128, ModelError> {
        let fee = job.fee.as_ref().and_then(|c| c.amount.parse::<u128>().ok()).unwrap_or(0);
        if fee > 0 {
            let creator =
                Address::from_bech32(&job.creator).map_err(|e| ModelError::InvalidAddress { field: "creator", reason: e.to_string() })?;
            self.funds()?.send(state, &Self::escrow_address(), &creator, fee).map_err(abci)?;
        }
        Ok(fee)
    }

    /// Two thirds of the executors' power reported that the job cannot be trained: FAILED,
    /// fee refunded to the creator.
    pub fn fail_job(&self, state: &mut dyn StateWrite, info: BlockInfo, a: &JobAttestation) -> Result<FineTuneJob, ModelError> {
        let mut job = self.require_active(state, a.job_id)?;
        let refunded = self.refund(state, &job)?;
        let previous = job.status;
        job.status = JobStatus::Failed as i32;
        job.attested_height = info.height;
        job.extension_height = a.extension_height;
        job.agreeing_power = a.agreeing_power;
        job.eligible_power = a.eligible_power;
        job.votes = a.votes.clone();
        job.refunded = refunded.to_string();
        job.slashed = a.slashed.clone();
        job.failure_reason = "two thirds of the executors' power reported that training failed".into();
        self.set_job(state, &job, Some(previous))?;
        state.emit_typed(FineTuneJobFailed { job_id: job.id, refunded });
        Ok(job)
    }

    /// End block: every queued or running job whose deadline is this height or earlier
    /// becomes EXPIRED and its fee goes back to the creator. Writes nothing when none is due.
    pub fn expire_jobs(&self, state: &mut dyn StateWrite, info: BlockInfo) -> Result<(), ModelError> {
        loop {
            let due: Vec<(u64, u64)> = state
                .scan_raw(state_key::JOB_DEADLINE_PREFIX, None, 64)?
                .iter()
                .filter_map(|(k, _)| Some((state_key::deadline_from_key(k)?, state_key::id_from_key(k)?)))
                .take_while(|(height, _)| *height <= info.height)
                .collect();
            if due.is_empty() {
                return Ok(());
            }
            for (height, id) in due {
                let Some(mut job) = self.job(state, id)? else {
                    state.delete(&state_key::job_deadline(height, id))?;
                    continue;
                };
                if job.status != JobStatus::Queued as i32 && job.status != JobStatus::Running as i32 {
                    state.delete(&state_key::job_deadline(height, id))?;
                    continue;
                }
                let refunded = self.refund(state, &job)?;
                let previous = job.status;
                job.status = JobStatus::Expired as i32;
                job.refunded = refunded.to_string();
                job.failure_reason = format!("not attested by height {}", job.deadline_height);
                self.set_job(state, &job, Some(previous))?;
                state.delete(&state_key::job_deadline(height, id))?;
                state.emit_typed(FineTuneJobExpired { job_id: id, creator: job.creator.clone(), refunded });
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::keeper::tests::mem_datanets;
    use crate::msg::tests::{addr, base};
    use crate::msg::{CreateFineTuneJob, RegisterBaseModel};
    use openledger_core::delta::{EmptyState, StateDelta};
    use openledger_core::error::ErrorCode;
    use openledger_proto::openledger::model::v1::MsgCreateFineTuneJob;
    use std::sync::Arc;

    /// Balances in the state (so dropped layers drop them too); the pool is an address.
    pub struct MemFunds;

    fn bal_key(a: &Address) -> Vec<u8> {
        format!("test/bal/{}", a.to_bech32()).into_bytes()
    }

    pub fn balance(state: &dyn StateRead, a: &Address) -> u128 {
        state.get_raw(&bal_key(a)).unwrap().map(|v| String::from_utf8(v).unwrap().parse().unwrap()).unwrap_or(0)
    }

    pub fn set_balance(state: &mut dyn StateWrite, a: &Address, v: u128) {
        state.put_raw(bal_key(a), v.to_string().into_bytes()).unwrap();
    }

    pub fn pool() -> Address {
        Address::module("pool_test")
    }

    impl ModelFunds for MemFunds {
        fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, amount: u128) -> Result<(), AbciError> {
            assert!(amount > 0, "zero sends are never made");
            let have = balance(state, from);
            if have < amount {
                return Err(AbciError::sdk(5, format!("{have}uopen is smaller than {amount}uopen: insufficient funds")));
            }
            set_balance(state, from, have - amount);
            let to_have = balance(state, to);
            set_balance(state, to, to_have + amount);
            Ok(())
        }
        fn fund_community_pool(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), AbciError> {
            self.send(state, from, &pool(), amount)
        }
        fn ensure_module_account(&self, state: &mut dyn StateWrite, name: &str) -> Result<(), AbciError> {
            state.put_raw(format!("test/module_account/{name}").into_bytes(), Vec::new()).map_err(|e| AbciError::sdk(1, e.to_string()))
        }
    }

    pub fn ft_keeper() -> ModelKeeper {
        ModelKeeper::new(Arc::new(mem_datanets())).with_funds(Arc::new(MemFunds))
    }

    fn info(height: u64) -> BlockInfo {
        BlockInfo { height, time_ns: height }
    }

    pub fn create_msg(
        creator: u8,
        base_model_id: u64,
        datanet: (u64, u64),
        config: Option<TrainConfig>,
        fee: u128,
    ) -> MsgCreateFineTuneJob {
        MsgCreateFineTuneJob {
            creator: addr(creator).to_bech32(),
            base_model_id,
            datanet_id: datanet.0,
            datanet_version: datanet.1,
            config,
            fee: Some(Coin::new(BASE_DENOM, fee).to_proto()),
        }
    }

    /// A state with base model 1 (and a delisted base model 2), creator 5 funded.
    fn setup() -> (ModelKeeper, StateDelta<EmptyState>) {
        let k = ft_keeper();
        let mut s = StateDelta::new(EmptyState);
        RegisterBaseModel::check_stateless(&base(1, 1)).unwrap().execute(&k, &mut s).unwrap();
        RegisterBaseModel::check_stateless(&base(1, 2)).unwrap().execute(&k, &mut s).unwrap();
        let mut m2 = k.require_base_model(&s, 2).unwrap();
        m2.delisted = true;
        k.set_base_model(&mut s, &m2).unwrap();
        set_balance(&mut s, &addr(5), 1_000_000);
        (k, s)
    }

    fn create(k: &ModelKeeper, s: &mut dyn StateWrite, height: u64, msg: &MsgCreateFineTuneJob) -> Result<u64, ModelError> {
        openledger_core::block::set_block_info(s, info(height)).unwrap();
        CreateFineTuneJob::check_stateless(msg)?.execute(k, s).map(|r| r.job_id)
    }

    fn code(e: &ModelError) -> (&'static str, u32) {
        (e.codespace(), e.code())
    }

    #[test]
    fn defaults_fill_in_and_the_config_hash_is_pinned() {
        let p = default_params();
        validate_params(&p).unwrap();
        let n = normalize_config(None, &p).unwrap();
        assert_eq!(
            n,
            TrainConfig {
                rank: 8,
                alpha: 16,
                target_modules: vec!["q_proj".into(), "v_proj".into()],
                learning_rate_micro: 1000,
                epochs: 1,
                max_steps: 0,
                batch_size: 4,
                seed: 0,
                eval_split_bps: 1000,
                max_seq_len: 128,
            }
        );
        // Deduplicated and in canonical order; alpha follows the rank.
        let asked = TrainConfig {
            rank: 4,
            target_modules: vec!["down_proj".into(), "q_proj".into(), "down_proj".into(), "k_proj".into()],
            ..Default::default()
        };
        let n2 = normalize_config(Some(&asked), &p).unwrap();
        assert_eq!(n2.target_modules, ["q_proj", "k_proj", "down_proj"]);
        assert_eq!((n2.rank, n2.alpha), (4, 8));
        // The hash is sha256(domain ‖ prost bytes) of the normalized config.
        let mut with_seed = n.clone();
        with_seed.seed = 42;
        let expected: [u8; 32] =
            Sha256::new().chain_update(b"openledger.modelfactory.v1.config").chain_update(with_seed.encode_to_vec()).finalize().into();
        assert_eq!(config_hash(&with_seed), expected);
        assert_ne!(config_hash(&with_seed), config_hash(&n));
        // Seeds: first 8 bytes LE of sha256(height BE ‖ id BE), distinct per job.
        let d: [u8; 32] = Sha256::new().chain_update(7u64.to_be_bytes()).chain_update(3u64.to_be_bytes()).finalize().into();
        assert_eq!(derive_seed(7, 3), u64::from_le_bytes(d[..8].try_into().unwrap()));
        assert_ne!(derive_seed(7, 3), derive_seed(7, 4));
    }

    #[test]
    fn params_are_bounded() {
        let bad = |f: &dyn Fn(&mut FineTuneParams)| {
            let mut p = default_params();
            f(&mut p);
            validate_params(&p).map_err(|e| code(&e))
        };
        assert_eq!(bad(&|_| ()), Ok(()));
        assert_eq!(bad(&|p| p.fee_split.as_mut().unwrap().community_bps += 1), Err(("model", 22)));
        assert_eq!(bad(&|p| p.max_rank = 0), Err(("model", 22)));
        assert_eq!(bad(&|p| p.max_rank = 4), Err(("model", 22)));
        assert_eq!(bad(&|p| p.job_deadline_blocks = 0), Err(("model", 22)));
        assert_eq!(bad(&|p| p.min_fee = Some(Coin::new("uatom", 1).to_proto())), Err(("model", 22)));
        assert_eq!(bad(&|p| p.fee_split = None), Err(("model", 22)));
    }

    #[test]
    fn bad_jobs_are_refused_with_codes_and_change_nothing() {
        let (k, s) = setup();
        let try_create = |msg: MsgCreateFineTuneJob| {
            let mut child = StateDelta::new(&s);
            let err = create(&k, &mut child, 10, &msg).unwrap_err();
            // set_block_info is the test's own write. The escrow account is created after every
            // check of the job passed, right before the bank's own funds check (whose failure
            // drops the whole message layer in a tx); nothing else may be written.
            let writes: Vec<_> = child
                .changes()
                .keys()
                .filter(|key| !key.starts_with(b"core/block/") && !key.starts_with(b"test/module_account/"))
                .cloned()
                .collect();
            assert!(writes.is_empty(), "a refused job wrote {writes:?}");
            code(&err)
        };
        let rank = |r: u32| Some(TrainConfig { rank: r, ..Default::default() });
        assert_eq!(try_create(create_msg(5, 9, (1, 1), None, 5_000)), ("model", 4), "unknown base model");
        assert_eq!(try_create(create_msg(5, 0, (1, 1), None, 5_000)), ("model", 4));
        assert_eq!(try_create(create_msg(5, 2, (1, 1), None, 5_000)), ("model", 14), "delisted base model");
        assert_eq!(try_create(create_msg(5, 1, (1, 7), None, 5_000)), ("model", 8), "unknown version");
        assert_eq!(try_create(create_msg(5, 1, (9, 1), None, 5_000)), ("model", 8), "unknown datanet");
        assert_eq!(try_create(create_msg(5, 1, (1, 0), None, 5_000)), ("model", 8));
        assert_eq!(try_create(create_msg(5, 1, (3, 1), None, 5_000)), ("model", 9), "delisted datanet");
        assert_eq!(try_create(create_msg(5, 1, (4, 1), None, 5_000)), ("model", 19), "empty version");
        assert_eq!(try_create(create_msg(5, 1, (1, 1), rank(0), 5_000)), ("model", 17), "rank 0");
        assert_eq!(try_create(create_msg(5, 1, (1, 1), rank(65), 5_000)), ("model", 17), "rank above max_rank");
        let bad_module = TrainConfig { rank: 8, target_modules: vec!["lm_head".into()], ..Default::default() };
        assert_eq!(try_create(create_msg(5, 1, (1, 1), Some(bad_module), 5_000)), ("model", 17));
        let epochs = TrainConfig { rank: 8, epochs: 11, ..Default::default() };
        assert_eq!(try_create(create_msg(5, 1, (1, 1), Some(epochs), 5_000)), ("model", 17));
        let batch = TrainConfig { rank: 8, batch_size: 65, ..Default::default() };
        assert_eq!(try_create(create_msg(5, 1, (1, 1), Some(batch), 5_000)), ("model", 17));
        assert_eq!(try_create(create_msg(5, 1, (1, 1), None, 999)), ("model", 18), "fee below min_fee");
        let mut atom = create_msg(5, 1, (1, 1), None, 5_000);
        atom.fee = Some(Coin::new("uatom", 5_000).to_proto());
        assert_eq!(try_create(atom), ("sdk", 10), "wrong denom");
        assert_eq!(try_create(create_msg(6, 1, (1, 1), None, 5_000)), ("sdk", 5), "unfunded creator");
        assert_eq!(try_create(create_msg(5, 1, (1, 1), None, 5_000_000)), ("sdk", 5));
        // A governed limit: one active job at most.
        let mut s2 = StateDelta::new(&s);
        let mut p = default_params();
        p.max_active_jobs = 1;
        p.max_rows_per_job = 10;
        k.set_fine_tune_params(&mut s2, &p).unwrap();
        create(&k, &mut s2, 10, &create_msg(5, 1, (1, 1), None, 5_000)).unwrap();
        assert_eq!(code(&create(&k, &mut s2, 10, &create_msg(5, 1, (1, 1), None, 5_000)).unwrap_err()), ("model", 21));
        assert_eq!(code(&create(&k, &mut s2, 10, &create_msg(5, 1, (1, 2), None, 5_000)).unwrap_err()), ("model", 21), "12 rows > 10");
    }

    #[test]
    fn job_escrows_its_fee_and_expires_with_a_refund() {
        let (k, mut s) = setup();
        let id = create(&k, &mut s, 10, &create_msg(5, 1, (1, 1), None, 5_000)).unwrap();
        assert_eq!(id, 1);
        let job = k.require_job(&s, id).unwrap();
        assert_eq!(job.status, JobStatus::Queued as i32);
        assert_eq!((job.created_height, job.deadline_height), (10, 10 + 1_200));
        assert_eq!((job.merkle_root.clone(), job.row_count), (vec![0xaa; 32], 10));
        assert_eq!(job.base_weights_hash, hex::encode([1u8; 32]));
        let config = job.config.clone().unwrap();
        assert_eq!(config.seed, derive_seed(10, 1));
        assert_eq!(job.config_hash, config_hash(&config).to_vec());
        assert_eq!(balance(&s, &ModelKeeper::escrow_address()), 5_000);
        assert_eq!(balance(&s, &addr(5)), 995_000);
        assert_eq!(k.active_jobs(&s, 10).unwrap().len(), 1);

        // Running, then nothing before the deadline, then expiry with a full refund.
        assert!(k.mark_running(&mut s, info(11), id).unwrap());
        assert!(!k.mark_running(&mut s, info(12), id).unwrap());
        assert_eq!(k.require_job(&s, id).unwrap().running_height, 11);
        let mut quiet = StateDelta::new(&s);
        k.expire_jobs(&mut quiet, info(1_209)).unwrap();
        assert!(quiet.changes().is_empty(), "no job due: nothing written");
        k.expire_jobs(&mut s, info(1_210)).unwrap();
        let job = k.require_job(&s, id).unwrap();
        assert_eq!(job.status, JobStatus::Expired as i32);
        assert_eq!(job.refunded, "5000");
        assert_eq!(balance(&s, &addr(5)), 1_000_000);
        assert_eq!(balance(&s, &ModelKeeper::escrow_address()), 0);
        assert!(k.active_jobs(&s, 10).unwrap().is_empty());
        assert_eq!(k.job_ids_with_status(&s, JobStatus::Expired, 10).unwrap(), vec![id]);
        let mut again = StateDelta::new(&s);
        k.expire_jobs(&mut again, info(5_000)).unwrap();
        assert!(again.changes().is_empty());
        assert!(!k.mark_running(&mut s, info(1_300), id).unwrap(), "an expired job does not start running");
    }

    fn attestation(job_id: u64, executors: &[(u8, i64)]) -> JobAttestation {
        JobAttestation {
            job_id,
            adapter_hash: hex::encode([0x5a; 32]),
            eval_loss_bits: 0x4000_0000,
            training_log_hash: vec![0x10; 32],
            extension_height: 20,
            agreeing_power: executors.iter().map(|(_, p)| *p).sum(),
            eligible_power: 100,
            votes: Vec::new(),
            agreeing_executors: executors.iter().map(|(n, p)| (addr(*n), *p)).collect(),
            slashed: vec!["openvaloper1slashed".into()],
        }
    }

    #[test]
    fn attestation_registers_the_adapter_and_splits_the_fee_exactly() {
        let (k, mut s) = setup();
        let id = create(&k, &mut s, 10, &create_msg(5, 1, (1, 1), None, 10_007)).unwrap();
        // Executors 30 + 30 + 10 power; contributors 7 (6 rows) and 8 (4 rows).
        let a = attestation(id, &[(21, 30), (22, 30), (23, 10)]);
        let job = k.attest_job(&mut s, info(21), &a).unwrap();
        // 10_007: executors 5003 (50 %): 5003*30/70 = 2144 twice, 5003*10/70 = 714 → 5002.
        // contributors 4002 (40 %): 4002*6/10 = 2401, 4002*4/10 = 1600 → 4001.
        // pool: 10_007 - 5002 - 4001 = 1004 (its 1002 + the executors' and contributors' floor
        // remainders, 1 each).
        assert_eq!(balance(&s, &addr(21)), 2_144);
        assert_eq!(balance(&s, &addr(22)), 2_144);
        assert_eq!(balance(&s, &addr(23)), 714);
        assert_eq!(balance(&s, &addr(7)), 2_401);
        assert_eq!(balance(&s, &addr(8)), 1_600);
        assert_eq!(balance(&s, &pool()), 1_004);
        assert_eq!(balance(&s, &ModelKeeper::escrow_address()), 0);
        assert_eq!((job.paid_executors.as_str(), job.paid_contributors.as_str(), job.paid_community.as_str()), ("5002", "4001", "1004"));
        // In contributor address order.
        let mut payouts: Vec<_> = job.contributor_payouts.iter().map(|p| (p.contributor.clone(), p.rows, p.amount.clone())).collect();
        payouts.sort();
        let mut expected = vec![(addr(7).to_bech32(), 6, "2401".to_string()), (addr(8).to_bech32(), 4, "1600".to_string())];
        expected.sort();
        assert_eq!(payouts, expected);
        assert_eq!(job.status, JobStatus::Attested as i32);
        assert_eq!(job.slashed, ["openvaloper1slashed"]);
        // The adapter: owned by the creator, with the full lineage.
        let adapter = k.require_adapter(&s, job.adapter_id).unwrap();
        assert_eq!(adapter.owner, addr(5).to_bech32());
        assert_eq!(adapter.adapter_hash, hex::encode([0x5a; 32]));
        assert_eq!(adapter.fine_tune_job_id, id);
        assert_eq!(adapter.training_config_hash, hex::encode(&job.config_hash));
        assert_eq!(adapter.training_log_hash, vec![0x10; 32]);
        assert_eq!(adapter.eval_loss_bits, 0x4000_0000);
        assert_eq!(adapter.base_weights_hash, hex::encode([1u8; 32]));
        assert_eq!(adapter.datanet_versions[0].merkle_root, vec![0xaa; 32]);
        assert!(k.is_servable(&s, 1, Some(adapter.id)).unwrap());
        // Decided jobs are not decided again.
        assert_eq!(code(&k.attest_job(&mut StateDelta::new(&s), info(22), &a).unwrap_err()), ("model", 23));
        assert_eq!(code(&k.fail_job(&mut StateDelta::new(&s), info(22), &a).unwrap_err()), ("model", 23));
        let mut later = StateDelta::new(&s);
        k.expire_jobs(&mut later, info(5_000)).unwrap();
        assert!(later.changes().is_empty(), "an attested job never expires");
    }

    #[test]
    fn failure_refunds_and_a_known_adapter_is_reused() {
        let (k, mut s) = setup();
        let id = create(&k, &mut s, 10, &create_msg(5, 1, (1, 1), None, 3_000)).unwrap();
        let job = k.fail_job(&mut s, info(12), &attestation(id, &[])).unwrap();
        assert_eq!(job.status, JobStatus::Failed as i32);
        assert_eq!(balance(&s, &addr(5)), 1_000_000);
        // Two jobs with one explicit seed train the same adapter: the second points at it.
        let cfg = Some(TrainConfig { rank: 8, seed: 7, ..Default::default() });
        let a = create(&k, &mut s, 13, &create_msg(5, 1, (1, 1), cfg.clone(), 1_000)).unwrap();
        let b = create(&k, &mut s, 13, &create_msg(5, 1, (1, 1), cfg, 1_000)).unwrap();
        assert_eq!(k.require_job(&s, a).unwrap().config_hash, k.require_job(&s, b).unwrap().config_hash);
        let first = k.attest_job(&mut s, info(14), &attestation(a, &[(21, 1)])).unwrap();
        let second = k.attest_job(&mut s, info(14), &attestation(b, &[(21, 1)])).unwrap();
        assert_eq!(first.adapter_id, second.adapter_id);
        assert_eq!(balance(&s, &ModelKeeper::escrow_address()), 0);
    }

    #[test]
    fn genesis_round_trips_jobs_and_params() {
        let (k, mut s) = setup();
        let mut p = default_params();
        p.min_fee = Some(Coin::new(BASE_DENOM, 5).to_proto());
        k.set_fine_tune_params(&mut s, &p).unwrap();
        let a = create(&k, &mut s, 10, &create_msg(5, 1, (1, 1), None, 3_000)).unwrap();
        create(&k, &mut s, 10, &create_msg(5, 1, (1, 2), None, 3_000)).unwrap();
        k.attest_job(&mut s, info(12), &attestation(a, &[(21, 1)])).unwrap();
        let exported = crate::genesis::export_genesis(&s).unwrap();
        let text = serde_json::to_string(&exported).unwrap();
        let parsed: crate::genesis::ModelGenesis = serde_json::from_str(&text).unwrap();
        let mut fresh = StateDelta::new(EmptyState);
        crate::genesis::init_genesis(&k, &mut fresh, &parsed).unwrap();
        let again = crate::genesis::export_genesis(&fresh).unwrap();
        assert_eq!(again, exported);
        assert_eq!(k.fine_tune_params(&fresh).unwrap(), p);
        assert_eq!(k.active_jobs(&fresh, 10).unwrap().len(), 1);
        assert_eq!(k.require_adapter(&fresh, 1).unwrap().fine_tune_job_id, a);
        // A section without fine-tuning writes nothing of it.
        let mut plain = StateDelta::new(EmptyState);
        crate::genesis::init_genesis(&k, &mut plain, &crate::genesis::ModelGenesis::default()).unwrap();
        assert!(plain.changes().keys().all(|key| !key.starts_with(b"model/params") && !key.starts_with(b"model/next_job")));
        let json = serde_json::to_value(crate::genesis::export_genesis(&plain).unwrap()).unwrap();
        assert!(json.get("params").is_none() && json.get("fine_tune_jobs").is_none() && json.get("next_job_id").is_none());
    }
}
