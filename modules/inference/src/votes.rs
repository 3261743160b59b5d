//! The vote-extension protocol of verifiable inference (DESIGN "Verifiable inference"):
//! the extension format, what `VerifyVoteExtension` may check, the CometBFT sign bytes of an
//! extension, the proposer's injected results tx, and the verification that ProcessProposal and
//! FinalizeBlock both run on it, for inference outputs and for ModelFactory training reports
//! (both bound to their reporter and checked against what the proposer reveals). Everything
//! here is a pure function of the block, the previous
//! commit and committed state, so every honest node reaches the same answer.

use std::collections::{BTreeMap, BTreeSet};

use openledger_core::StateRead;
use openledger_proto::openledger::inference::v1::{
    AgreedOutput, InjectedResults, InjectedVote, ReportedOutput, RequestStatus, TrainingReport, VoteExtension,
};
use prost::Message;
use sha2::{Digest, Sha256};
use tendermint_proto::v0_38::types::{BlockIdFlag, CanonicalVoteExtension};

use crate::error::InferenceError;
use crate::keeper::{output_hash, InferenceKeeper, TrainingJobStatus, ValidatorInfo, MAX_TEXT_BYTES_PER_TOKEN};

/// Magic prefix of the proposer-injected results tx (never a valid `TxRaw`: 'O' is field 9 with
/// the invalid wire type 7, so CheckTx rejects it and it can never come from the mempool).
pub const INJECTED_MAGIC: &[u8; 8] = b"OLINFER1";
/// Largest vote extension accepted, in bytes.
pub const MAX_EXTENSION_BYTES: usize = 16 * 1024;
/// Most outputs one extension may report.
pub const MAX_OUTPUTS_PER_EXTENSION: usize = 256;
/// Most training reports one extension may carry.
pub const MAX_TRAINING_REPORTS_PER_EXTENSION: usize = 64;
/// Most running jobs one extension may list.
pub const MAX_RUNNING_JOBS_PER_EXTENSION: usize = 64;
/// Largest injected results tx, in bytes.
pub const MAX_INJECTED_BYTES: usize = 2 * 1024 * 1024;

/// Whether a block tx is the injected results tx.
pub fn is_injected(tx: &[u8]) -> bool {
    tx.starts_with(INJECTED_MAGIC)
}

/// Encodes an extension with inference outputs only (sorted by request id).
pub fn encode_extension(outputs: Vec<ReportedOutput>) -> Vec<u8> {
    encode_full_extension(outputs, Vec::new(), Vec::new())
}

/// Encodes an extension: outputs, training reports and running jobs, each sorted by id,
/// deduplicated and truncated to its bound. Nothing to report is the empty extension.
pub fn encode_full_extension(
    mut outputs: Vec<ReportedOutput>,
    mut training_reports: Vec<TrainingReport>,
    mut running_jobs: Vec<u64>,
) -> Vec<u8> {
    outputs.sort_by_key(|o| o.request_id);
    outputs.dedup_by_key(|o| o.request_id);
    outputs.truncate(MAX_OUTPUTS_PER_EXTENSION);
    training_reports.retain(|r| r.job_id != 0);
    training_reports.sort_by_key(|r| r.job_id);
    training_reports.dedup_by_key(|r| r.job_id);
    training_reports.truncate(MAX_TRAINING_REPORTS_PER_EXTENSION);
    running_jobs.retain(|id| *id != 0);
    running_jobs.sort_unstable();
    running_jobs.dedup();
    running_jobs.truncate(MAX_RUNNING_JOBS_PER_EXTENSION);
    if outputs.is_empty() && training_reports.is_empty() && running_jobs.is_empty() {
        return Vec::new();
    }
    VoteExtension { outputs, training_reports, running_jobs }.encode_to_vec()
}

/// Decodes an extension and checks its shape: size, count, 32-byte hashes, strictly ascending
/// request ids. An empty extension reports nothing.
pub fn decode_extension(bytes: &[u8]) -> Result<VoteExtension, InferenceError> {
    if bytes.len() > MAX_EXTENSION_BYTES {
        return Err(InferenceError::InvalidExtension(format!("{} bytes exceed {MAX_EXTENSION_BYTES}", bytes.len())));
    }
    let ext = VoteExtension::decode(bytes).map_err(|e| InferenceError::InvalidExtension(e.to_string()))?;
    if ext.outputs.len() > MAX_OUTPUTS_PER_EXTENSION {
        return Err(InferenceError::InvalidExtension(format!("{} outputs exceed {MAX_OUTPUTS_PER_EXTENSION}", ext.outputs.len())));
    }
    let mut last = 0u64;
    for o in &ext.outputs {
        if o.request_id <= last {
            return Err(InferenceError::InvalidExtension("request ids must be strictly ascending and non-zero".into()));
        }
        last = o.request_id;
        if o.output_hash.len() != 32 {
            return Err(InferenceError::InvalidExtension(format!("output hash of request {} is not 32 bytes", o.request_id)));
        }
    }
    if ext.training_reports.len() > MAX_TRAINING_REPORTS_PER_EXTENSION {
        return Err(InferenceError::InvalidExtension(format!(
            "{} training reports exceed {MAX_TRAINING_REPORTS_PER_EXTENSION}",
            ext.training_reports.len()
        )));
    }
    let mut last = 0u64;
    for r in &ext.training_reports {
        if r.job_id <= last {
            return Err(InferenceError::InvalidExtension("training job ids must be strictly ascending and non-zero".into()));
        }
        last = r.job_id;
        let plain_empty = r.adapter_hash.is_empty() && r.training_log_hash.is_empty() && r.eval_loss_bits == 0;
        let shaped = if r.failed { plain_empty && r.binding.is_empty() } else { plain_empty && r.binding.len() == 32 };
        if !shaped {
            return Err(InferenceError::InvalidExtension(format!(
                "training report of job {} must carry only a 32-byte binding, or only `failed`",
                r.job_id
            )));
        }
    }
    if ext.running_jobs.len() > MAX_RUNNING_JOBS_PER_EXTENSION {
        return Err(InferenceError::InvalidExtension(format!(
            "{} running jobs exceed {MAX_RUNNING_JOBS_PER_EXTENSION}",
            ext.running_jobs.len()
        )));
    }
    let mut last = 0u64;
    for id in &ext.running_jobs {
        if *id <= last {
            return Err(InferenceError::InvalidExtension("running job ids must be strictly ascending and non-zero".into()));
        }
        last = *id;
    }
    Ok(ext)
}

/// VerifyVoteExtension: only what every honest node sees alike — the shape, that each
/// request exists in committed state with a token count within its max_tokens, and that each
/// reported fine-tune job exists (jobs are never deleted). Never the local executor's state.
pub fn verify_extension(keeper: &InferenceKeeper, state: &dyn StateRead, bytes: &[u8]) -> Result<(), InferenceError> {
    let ext = decode_extension(bytes)?;
    for o in &ext.outputs {
        let request = keeper.request(state, o.request_id)?.ok_or(InferenceError::RequestNotFound(o.request_id))?;
        if o.token_count > request.max_tokens {
            return Err(InferenceError::InvalidExtension(format!(
                "request {} reports {} tokens, above its max_tokens {}",
                o.request_id, o.token_count, request.max_tokens
            )));
        }
    }
    let host = keeper.host();
    for id in ext.training_reports.iter().map(|r| r.job_id).chain(ext.running_jobs.iter().copied()) {
        if host.training_job(state, id)?.is_none() {
            return Err(InferenceError::InvalidExtension(format!("fine-tune job {id} does not exist")));
        }
    }
    Ok(())
}

/// The bytes a validator signs for its extension: CometBFT's `CanonicalVoteExtension`,
/// length-delimited (as `protoio.MarshalDelimited` writes it).
pub fn extension_sign_bytes(extension: &[u8], height: i64, round: i64, chain_id: &str) -> Vec<u8> {
    CanonicalVoteExtension { extension: extension.to_vec(), height, round, chain_id: chain_id.to_string() }.encode_length_delimited_to_vec()
}

/// One entry of the commit the block carries (`decided_last_commit` / `proposed_last_commit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitEntry {
    /// Consensus address.
    pub address: Vec<u8>,
    /// Power at that height.
    pub power: i64,
    /// BlockIDFlag.
    pub block_id_flag: i32,
}

/// One executor's report for one request, as tallied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyVote {
    /// Operator address.
    pub operator: String,
    /// Power in that commit.
    pub power: i64,
    /// The output this report is proven to commit to: the candidate's hash when its binding
    /// matches, else the reported binding itself (None: no report).
    pub output_hash: Option<[u8; 32]>,
    /// Reported token count.
    pub token_count: u32,
    /// Whether the report's binding is this validator's binding of the agreed candidate.
    pub agreed: bool,
}

/// A request whose output two thirds of its executors' power reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// Request.
    pub request_id: u64,
    /// The agreed hash.
    pub output_hash: [u8; 32],
    /// Its token count.
    pub token_count: u32,
    /// Power that reported it.
    pub agreeing_power: i64,
    /// Power of every executor of the model in the commit's validator set.
    pub eligible_power: i64,
    /// Height of the commit.
    pub extension_height: u64,
    /// Every eligible executor's report (operator order).
    pub votes: Vec<TallyVote>,
}

/// A verified commit entry: who, with what power, and the decoded extension (empty if none).
#[derive(Debug, Clone)]
pub struct VerifiedVote {
    /// The validator.
    pub validator: ValidatorInfo,
    /// Its consensus address (what its reports are bound to).
    pub address: Vec<u8>,
    /// Power at that height.
    pub power: i64,
    /// Reported outputs.
    pub outputs: Vec<ReportedOutput>,
    /// Reported finished fine-tune jobs.
    pub training_reports: Vec<TrainingReport>,
    /// Reported jobs being trained.
    pub running_jobs: Vec<u64>,
}

/// Checks the injected votes against the block's own commit (same validators, powers and flags,
/// in order) and every extension signature (ed25519 over [`extension_sign_bytes`]).
pub fn verify_commit(
    keeper: &InferenceKeeper,
    state: &dyn StateRead,
    chain_id: &str,
    height: i64,
    round: i32,
    votes: &[InjectedVote],
    commit: &[CommitEntry],
) -> Result<Vec<VerifiedVote>, InferenceError> {
    let bad = |m: String| Err(InferenceError::InvalidInjected(m));
    if votes.len() != commit.len() {
        return bad(format!("{} injected votes for a commit of {}", votes.len(), commit.len()));
    }
    let mut out = Vec::with_capacity(votes.len());
    let mut seen = BTreeSet::new();
    for (vote, entry) in votes.iter().zip(commit) {
        if vote.address != entry.address || vote.power != entry.power || vote.block_id_flag != entry.block_id_flag {
            return bad(format!("injected vote of {} does not match the block's commit", hex::encode_upper(&vote.address)));
        }
        if !seen.insert(vote.address.clone()) {
            return bad(format!("validator {} appears twice", hex::encode_upper(&vote.address)));
        }
        let Some(validator) = keeper.host().validator_by_cons(state, &vote.address)? else {
            return bad(format!("unknown validator {}", hex::encode_upper(&vote.address)));
        };
        let has_extension = vote.block_id_flag == BlockIdFlag::Commit as i32;
        if !has_extension {
            if !vote.vote_extension.is_empty() || !vote.extension_signature.is_empty() {
                return bad(format!("validator {} did not commit but carries an extension", validator.operator));
            }
            out.push(VerifiedVote {
                validator,
                address: vote.address.clone(),
                power: vote.power,
                outputs: Vec::new(),
                training_reports: Vec::new(),
                running_jobs: Vec::new(),
            });
            continue;
        }
        let key = ed25519_consensus::VerificationKey::try_from(validator.consensus_key.as_slice())
            .map_err(|e| InferenceError::InvalidInjected(format!("consensus key of {}: {e}", validator.operator)))?;
        let signature = ed25519_consensus::Signature::try_from(vote.extension_signature.as_slice())
            .map_err(|e| InferenceError::InvalidInjected(format!("extension signature of {}: {e}", validator.operator)))?;
        let sign_bytes = extension_sign_bytes(&vote.vote_extension, height, i64::from(round), chain_id);
        if key.verify(&signature, &sign_bytes).is_err() {
            return bad(format!("forged vote extension of {}", validator.operator));
        }
        // A malformed extension cannot be in a commit unless a third of the power is faulty;
        // it then simply reports nothing.
        let ext = decode_extension(&vote.vote_extension).unwrap_or_default();
        out.push(VerifiedVote {
            validator,
            address: vote.address.clone(),
            power: vote.power,
            outputs: ext.outputs,
            training_reports: ext.training_reports,
            running_jobs: ext.running_jobs,
        });
    }
    Ok(out)
}

/// Domain of a report binding (see [`report_binding`]).
pub const REPORT_DOMAIN: &[u8] = b"openledger.inference.v1.report";

/// What a validator reports for a request instead of the plain output hash:
/// `sha256(REPORT_DOMAIN ‖ len(chain_id) u32 LE ‖ chain_id ‖ request_id u64 LE ‖ consensus
/// address ‖ output hash)`. Only its reporter could have made it, and it proves nothing about
/// the output until the text is revealed (by the proposer's injected tx), so a validator that
/// copies another's extension reports a binding that matches no output: it is neither counted
/// toward the two thirds nor paid, and is slashed as a wrong report.
pub fn report_binding(chain_id: &str, request_id: u64, address: &[u8], output_hash: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(REPORT_DOMAIN);
    h.update((chain_id.len() as u32).to_le_bytes());
    h.update(chain_id.as_bytes());
    h.update(request_id.to_le_bytes());
    h.update(address);
    h.update(output_hash);
    h.finalize().into()
}

/// Domain of a training report binding (see [`training_binding`]).
pub const TRAINING_DOMAIN: &[u8] = b"openledger.inference.v1.training";

/// What a validator reports for a successfully trained job instead of the plain result:
/// `sha256(TRAINING_DOMAIN ‖ len(chain_id) u32 LE ‖ chain_id ‖ job_id u64 LE ‖ consensus address
/// ‖ adapter hash ‖ eval-loss bits u32 LE ‖ training-log hash)` over the plain `result`. Like
/// [`report_binding`], only its reporter could have made it, and a copy matches nothing.
pub fn training_binding(chain_id: &str, address: &[u8], result: &TrainingReport) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(TRAINING_DOMAIN);
    h.update((chain_id.len() as u32).to_le_bytes());
    h.update(chain_id.as_bytes());
    h.update(result.job_id.to_le_bytes());
    h.update(address);
    h.update(&result.adapter_hash);
    h.update(result.eval_loss_bits.to_le_bytes());
    h.update(&result.training_log_hash);
    h.finalize().into()
}

/// The form a plain training result takes in this validator's extension: `failed` as is, a
/// successful result as its [`training_binding`] alone.
pub fn bind_training_report(chain_id: &str, address: &[u8], result: &TrainingReport) -> TrainingReport {
    if result.failed {
        return TrainingReport { job_id: result.job_id, failed: true, ..Default::default() };
    }
    TrainingReport { job_id: result.job_id, binding: training_binding(chain_id, address, result).to_vec(), ..Default::default() }
}

/// Whether a plain training result is well formed: 32-byte adapter and log hashes, not failed,
/// no binding.
fn is_plain_result(r: &TrainingReport) -> bool {
    !r.failed && r.adapter_hash.len() == 32 && r.training_log_hash.len() == 32 && r.binding.is_empty()
}

/// A revealed output offered for a request: its hash and token count.
pub type Candidate = ([u8; 32], u32);

/// Tallies verified votes against revealed candidates: for every pending request with a
/// candidate that someone reported, whether two thirds of the power of its model's executors
/// (in this validator set) reported their own binding of that candidate (same token count).
pub fn tally(
    keeper: &InferenceKeeper,
    state: &dyn StateRead,
    chain_id: &str,
    votes: &[VerifiedVote],
    extension_height: u64,
    candidates: &BTreeMap<u64, Candidate>,
) -> Result<Vec<Agreement>, InferenceError> {
    let registrations = keeper.eligible_operators(state)?;
    let mut request_ids = BTreeSet::new();
    for v in votes {
        request_ids.extend(v.outputs.iter().map(|o| o.request_id).filter(|id| candidates.contains_key(id)));
    }
    let mut agreements = Vec::new();
    for id in request_ids {
        let Some(&(candidate, candidate_tokens)) = candidates.get(&id) else { continue };
        let Some(request) = keeper.request(state, id)? else { continue };
        if request.status != RequestStatus::Pending as i32 {
            continue;
        }
        let mut eligible_power = 0i64;
        let mut agreeing_power = 0i64;
        let mut tally_votes = Vec::new();
        for v in votes {
            let serves = registrations.get(&v.validator.operator).is_some_and(|models| models.contains(&request.base_model_id));
            if !serves {
                continue;
            }
            eligible_power = eligible_power.checked_add(v.power).ok_or(InferenceError::Overflow("power"))?;
            let report = v.outputs.iter().find(|o| o.request_id == id);
            let reported = report.and_then(|o| <[u8; 32]>::try_from(o.output_hash.as_slice()).ok());
            let token_count = report.map(|o| o.token_count).unwrap_or(0);
            let agreed = reported == Some(report_binding(chain_id, id, &v.address, &candidate)) && token_count == candidate_tokens;
            if agreed {
                agreeing_power = agreeing_power.checked_add(v.power).ok_or(InferenceError::Overflow("power"))?;
            }
            let output_hash = if agreed { Some(candidate) } else { reported };
            tally_votes.push(TallyVote { operator: v.validator.operator.clone(), power: v.power, output_hash, token_count, agreed });
        }
        if eligible_power <= 0 {
            continue;
        }
        if i128::from(agreeing_power) * 3 >= i128::from(eligible_power) * 2 {
            agreements.push(Agreement {
                request_id: id,
                output_hash: candidate,
                token_count: candidate_tokens,
                agreeing_power,
                eligible_power,
                extension_height,
                votes: tally_votes,
            });
        }
    }
    Ok(agreements)
}

/// One eligible executor's training report for one job, as tallied.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingTallyVote {
    /// Operator address.
    pub operator: String,
    /// Power in that commit.
    pub power: i64,
    /// Its report (None: no report).
    pub report: Option<TrainingReport>,
}

/// A fine-tune job whose result two thirds of its base model's executors' power reported.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingAgreement {
    /// Job.
    pub job_id: u64,
    /// The agreed report (same adapter hash, eval-loss bits and training-log hash, or failed).
    pub report: TrainingReport,
    /// Power that reported it.
    pub agreeing_power: i64,
    /// Power of every executor of the base model in the commit's validator set.
    pub eligible_power: i64,
    /// Height of the commit.
    pub extension_height: u64,
    /// Every eligible executor's report (commit order).
    pub votes: Vec<TrainingTallyVote>,
}

/// Tallies training reports as [`tally`] tallies outputs: for every queued or running job
/// someone reported, whether two thirds of the power of the validators registered as executors
/// of the job's base model (in this commit) reported `failed`, or bound the revealed plain
/// result in `candidates` (each with its own [`training_binding`]). In an agreement's votes, a
/// report that bound the candidate is replaced by the candidate itself (what its reporter
/// trained); any other report stays as signed. In job-id order.
pub fn tally_training(
    keeper: &InferenceKeeper,
    state: &dyn StateRead,
    chain_id: &str,
    votes: &[VerifiedVote],
    extension_height: u64,
    candidates: &BTreeMap<u64, TrainingReport>,
) -> Result<Vec<TrainingAgreement>, InferenceError> {
    let registrations = keeper.eligible_operators(state)?;
    let mut job_ids = BTreeSet::new();
    for v in votes {
        job_ids.extend(v.training_reports.iter().map(|r| r.job_id));
    }
    let mut agreements = Vec::new();
    for id in job_ids {
        let Some(job) = keeper.host().training_job(state, id)? else { continue };
        if job.status == TrainingJobStatus::Done {
            continue;
        }
        let candidate = candidates.get(&id).filter(|c| is_plain_result(c));
        let mut eligible_power = 0i64;
        let (mut failed_power, mut bound_power) = (0i64, 0i64);
        let mut tally_votes = Vec::new();
        for v in votes {
            let serves = registrations.get(&v.validator.operator).is_some_and(|models| models.contains(&job.base_model_id));
            if !serves {
                continue;
            }
            eligible_power = eligible_power.checked_add(v.power).ok_or(InferenceError::Overflow("power"))?;
            let mut report = v.training_reports.iter().find(|r| r.job_id == id).cloned();
            if let Some(r) = &report {
                if r.failed {
                    failed_power = failed_power.checked_add(v.power).ok_or(InferenceError::Overflow("power"))?;
                } else if let Some(c) = candidate.filter(|c| r.binding.as_slice() == training_binding(chain_id, &v.address, c)) {
                    bound_power = bound_power.checked_add(v.power).ok_or(InferenceError::Overflow("power"))?;
                    report = Some(c.clone());
                }
            }
            tally_votes.push(TrainingTallyVote { operator: v.validator.operator.clone(), power: v.power, report });
        }
        if eligible_power <= 0 {
            continue;
        }
        let two_thirds = |p: i64| i128::from(p) * 3 >= i128::from(eligible_power) * 2;
        let decided = if two_thirds(failed_power) {
            Some((failed_power, TrainingReport { job_id: id, failed: true, ..Default::default() }))
        } else {
            candidate.filter(|_| two_thirds(bound_power)).map(|c| (bound_power, c.clone()))
        };
        if let Some((power, report)) = decided {
            agreements.push(TrainingAgreement {
                job_id: id,
                report,
                agreeing_power: power,
                eligible_power,
                extension_height,
                votes: tally_votes,
            });
        }
    }
    Ok(agreements)
}

/// The queued jobs that at least one eligible validator (a registered executor of the job's
/// base model) reported running, in job-id order.
pub fn newly_running(keeper: &InferenceKeeper, state: &dyn StateRead, votes: &[VerifiedVote]) -> Result<Vec<u64>, InferenceError> {
    let registrations = keeper.eligible_operators(state)?;
    let mut reported: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for v in votes {
        for id in &v.running_jobs {
            reported.entry(*id).or_default().push(v.validator.operator.as_str());
        }
    }
    let mut out = Vec::new();
    for (id, operators) in reported {
        let Some(job) = keeper.host().training_job(state, id)? else { continue };
        if job.status != TrainingJobStatus::Queued {
            continue;
        }
        let eligible = operators.iter().any(|op| registrations.get(*op).is_some_and(|m| m.contains(&job.base_model_id)));
        if eligible {
            out.push(id);
        }
    }
    Ok(out)
}

/// `(job, operator)` for every eligible, unjailed validator whose signed report for an
/// ATTESTED job is a successful result different from the attested one (job-id order).
pub fn late_dissent(
    keeper: &InferenceKeeper,
    state: &dyn StateRead,
    chain_id: &str,
    votes: &[VerifiedVote],
) -> Result<Vec<(u64, String)>, InferenceError> {
    let registrations = keeper.eligible_operators(state)?;
    let mut out = BTreeSet::new();
    let mut jobs = BTreeMap::new();
    for v in votes {
        if v.validator.jailed {
            continue;
        }
        for r in v.training_reports.iter().filter(|r| !r.failed) {
            if let std::collections::btree_map::Entry::Vacant(slot) = jobs.entry(r.job_id) {
                slot.insert(keeper.host().training_job(state, r.job_id)?);
            }
            let Some(Some(job)) = jobs.get(&r.job_id) else { continue };
            let Some(attested) = &job.attested else { continue };
            let serves = registrations.get(&v.validator.operator).is_some_and(|m| m.contains(&job.base_model_id));
            // The attested result is public by now: a report is judged by whether it is this
            // validator's binding of it.
            if serves && r.binding.as_slice() != training_binding(chain_id, &v.address, attested) {
                out.insert((r.job_id, v.validator.operator.clone()));
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Everything a verified injected tx applies.
#[derive(Debug, Clone, Default)]
pub struct VerifiedInjected {
    /// Agreed inference outputs with their texts, in request-id order.
    pub outputs: Vec<(Agreement, AgreedOutput)>,
    /// Fine-tune jobs decided, in job-id order.
    pub training: Vec<TrainingAgreement>,
    /// Queued jobs reported running, in job-id order.
    pub running: Vec<u64>,
    /// Validators that signed a different report for an already attested job.
    pub late_dissent: Vec<(u64, String)>,
}

/// Encodes the injected results tx.
pub fn encode_injected(injected: &InjectedResults) -> Vec<u8> {
    let mut bytes = INJECTED_MAGIC.to_vec();
    bytes.extend_from_slice(&injected.encode_to_vec());
    bytes
}

/// Decodes an injected results tx (with its magic prefix).
pub fn decode_injected(tx: &[u8]) -> Result<InjectedResults, InferenceError> {
    if tx.len() > MAX_INJECTED_BYTES {
        return Err(InferenceError::InvalidInjected(format!("{} bytes exceed {MAX_INJECTED_BYTES}", tx.len())));
    }
    let body = tx.strip_prefix(INJECTED_MAGIC).ok_or_else(|| InferenceError::InvalidInjected("missing magic prefix".into()))?;
    InjectedResults::decode(body).map_err(|e| InferenceError::InvalidInjected(e.to_string()))
}

/// Verifies an injected results tx of the block at `block_height` against the block's commit
/// (`commit_round`, `commit`): signatures, power sums, and that every text hashes to an agreed
/// output. Returns each agreement with its output, in request-id order (the training half is
/// in [`verify_injected_all`]).
#[allow(clippy::too_many_arguments)]
pub fn verify_injected(
    keeper: &InferenceKeeper,
    state: &dyn StateRead,
    chain_id: &str,
    block_height: i64,
    commit_round: i32,
    commit: &[CommitEntry],
    injected: &InjectedResults,
) -> Result<Vec<(Agreement, AgreedOutput)>, InferenceError> {
    verify_injected_all(keeper, state, chain_id, block_height, commit_round, commit, injected).map(|v| v.outputs)
}

/// [`verify_injected`], plus the fine-tune jobs the same verified commit decides and the
/// queued jobs it reports running. The tx must apply something: at least one output, one
/// training agreement or one newly running job.
#[allow(clippy::too_many_arguments)]
pub fn verify_injected_all(
    keeper: &InferenceKeeper,
    state: &dyn StateRead,
    chain_id: &str,
    block_height: i64,
    commit_round: i32,
    commit: &[CommitEntry],
    injected: &InjectedResults,
) -> Result<VerifiedInjected, InferenceError> {
    let bad = |m: String| Err(InferenceError::InvalidInjected(m));
    if injected.height != block_height - 1 || injected.height < 1 {
        return bad(format!("results of height {} injected at height {block_height}", injected.height));
    }
    if injected.round != commit_round {
        return bad(format!("round {} does not match the commit's round {commit_round}", injected.round));
    }
    let verified = verify_commit(keeper, state, chain_id, injected.height, injected.round, &injected.votes, commit)?;
    let extension_height = u64::try_from(injected.height).unwrap_or(0);
    // The revealed training results are the candidates the bound training reports are checked
    // against; each must be decided by this commit.
    let mut training_candidates = BTreeMap::new();
    let mut last = 0u64;
    for r in &injected.revealed_training {
        if r.job_id <= last {
            return bad("revealed training results must be in strictly ascending job order".into());
        }
        last = r.job_id;
        if !is_plain_result(r) {
            return bad(format!("revealed result of job {} must be a successful result with 32-byte hashes", r.job_id));
        }
        training_candidates.insert(r.job_id, r.clone());
    }
    let training = tally_training(keeper, state, chain_id, &verified, extension_height, &training_candidates)?;
    for id in training_candidates.keys() {
        if !training.iter().any(|a| a.job_id == *id && !a.report.failed) {
            return bad(format!("job {id} has no two-thirds agreement on the revealed result"));
        }
    }
    let running = newly_running(keeper, state, &verified)?;
    let late = late_dissent(keeper, state, chain_id, &verified)?;
    if injected.outputs.is_empty() && training.is_empty() && running.is_empty() && late.is_empty() {
        return bad("no outputs, training agreements, running jobs or dissent".into());
    }
    // The revealed texts are the candidates the bound reports are checked against.
    let mut candidates: BTreeMap<u64, Candidate> = BTreeMap::new();
    let mut last = 0u64;
    for output in &injected.outputs {
        if output.request_id <= last {
            return bad("outputs must be in strictly ascending request order".into());
        }
        last = output.request_id;
        let max_text = output.tokens.len().saturating_mul(MAX_TEXT_BYTES_PER_TOKEN);
        if output.text.len() > max_text {
            return bad(format!("text of request {} is longer than its tokens allow", output.request_id));
        }
        let Ok(tokens) = u32::try_from(output.tokens.len()) else {
            return bad(format!("request {} has too many tokens", output.request_id));
        };
        candidates.insert(output.request_id, (output_hash(&output.tokens, &output.text), tokens));
    }
    let agreements: BTreeMap<u64, Agreement> =
        tally(keeper, state, chain_id, &verified, extension_height, &candidates)?.into_iter().map(|a| (a.request_id, a)).collect();
    let mut out = Vec::with_capacity(injected.outputs.len());
    for output in &injected.outputs {
        let Some(agreement) = agreements.get(&output.request_id) else {
            return bad(format!("request {} has no two-thirds agreement on the revealed text", output.request_id));
        };
        out.push((agreement.clone(), output.clone()));
    }
    Ok(VerifiedInjected { outputs: out, training, running, late_dissent: late })
}
