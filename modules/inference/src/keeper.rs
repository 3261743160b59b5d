//! The inference keeper: params, executor registrations, requests with their escrow, deadline
//! refunds, and applying agreed results (fee split, attribution payout, slashing of validators
//! that reported a different output).
//!
//! Everything outside this module (bank, model registry, stake, attribution, community pool) is
//! reached through the narrow [`InferenceHost`] trait the app implements.

use std::collections::BTreeMap;
use std::sync::Arc;

use openledger_core::block::BlockInfo;
use openledger_core::{AbciError, Address, Dec, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::executor::v1::{Batching, ChatMessage, DeterminismProfile, Sampling};
use openledger_proto::openledger::inference::v1::{
    DatanetVersionPin, Executor, FeeSplit, Params, Request, RequestStatus, Result as InferenceResult, ResultVote, TrainingReport,
};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::error::InferenceError;
use crate::events::{ExecutorRegistered, RequestExpired, ResultApplied, TrainingValidatorSlashed, ValidatorSlashed};
use crate::state_key;
use crate::votes::{Agreement, TrainingAgreement};

/// Module account that escrows request fees.
pub const INFERENCE_ACCOUNT: &str = "inference";
/// Module account of governance (authority of MsgUpdateParams).
pub const GOV_MODULE: &str = "gov";
/// Basis points in a whole.
pub const BPS: u32 = 10_000;
/// Hard upper bounds of the params (attacker-sized values stay bounded even if gov errs).
pub const ABSOLUTE_MAX_PROMPT_BYTES: u32 = 64 * 1024;
/// Hard cap of max_tokens.
pub const ABSOLUTE_MAX_TOKENS: u32 = 4096;
/// Hard cap of requests per block.
pub const ABSOLUTE_MAX_REQUESTS_PER_BLOCK: u32 = 1024;
/// Hard cap of models per executor.
pub const ABSOLUTE_MAX_MODELS: u32 = 256;
/// Longest result text stored, in bytes (tokens × a generous bytes-per-token bound).
pub const MAX_TEXT_BYTES_PER_TOKEN: usize = 64;

/// The module params at genesis.
pub fn default_params() -> Params {
    Params {
        deadline_blocks: 20,
        max_prompt_bytes: 4096,
        max_tokens_cap: 256,
        profile: Some(DeterminismProfile {
            dtype: "f32".into(),
            sampling: Sampling::Greedy as i32,
            temperature_milli: 0,
            top_k: 0,
            max_tokens: 256,
            prefix_cache: false,
            batching: Batching::BatchInvariant as i32,
        }),
        fee_split: Some(FeeSplit { contributors_bps: 5000, owner_bps: 2000, executors_bps: 2000, community_bps: 1000 }),
        wrong_result_slash_fraction: "0.010000000000000000".into(),
        max_requests_per_block: 64,
        max_models_per_executor: 16,
    }
}

/// Checks params against their bounds.
pub fn validate_params(p: &Params) -> Result<(), InferenceError> {
    let bad = |m: String| Err(InferenceError::InvalidParams(m));
    if p.deadline_blocks == 0 || p.deadline_blocks > 10_000 {
        return bad(format!("deadline_blocks must be 1..=10000, got {}", p.deadline_blocks));
    }
    if p.max_prompt_bytes == 0 || p.max_prompt_bytes > ABSOLUTE_MAX_PROMPT_BYTES {
        return bad(format!("max_prompt_bytes must be 1..={ABSOLUTE_MAX_PROMPT_BYTES}"));
    }
    if p.max_tokens_cap == 0 || p.max_tokens_cap > ABSOLUTE_MAX_TOKENS {
        return bad(format!("max_tokens_cap must be 1..={ABSOLUTE_MAX_TOKENS}"));
    }
    let Some(profile) = &p.profile else { return bad("profile is required".into()) };
    if profile.prefix_cache {
        return bad("the determinism profile must disable the prefix cache".into());
    }
    if profile.sampling != Sampling::Greedy as i32 && profile.sampling != Sampling::Seeded as i32 {
        return bad("profile sampling must be greedy or seeded".into());
    }
    if profile.dtype.is_empty() || profile.dtype.len() > 16 {
        return bad("profile dtype must be 1..=16 bytes".into());
    }
    let Some(split) = &p.fee_split else { return bad("fee_split is required".into()) };
    let sum =
        u64::from(split.contributors_bps) + u64::from(split.owner_bps) + u64::from(split.executors_bps) + u64::from(split.community_bps);
    if sum != u64::from(BPS) {
        return bad(format!("fee_split must add up to {BPS} basis points, got {sum}"));
    }
    match Dec::parse(&p.wrong_result_slash_fraction) {
        Ok(d) if d <= Dec::ONE => {}
        _ => return bad("wrong_result_slash_fraction must be a decimal within [0, 1]".into()),
    }
    if p.max_requests_per_block == 0 || p.max_requests_per_block > ABSOLUTE_MAX_REQUESTS_PER_BLOCK {
        return bad(format!("max_requests_per_block must be 1..={ABSOLUTE_MAX_REQUESTS_PER_BLOCK}"));
    }
    if p.max_models_per_executor == 0 || p.max_models_per_executor > ABSOLUTE_MAX_MODELS {
        return bad(format!("max_models_per_executor must be 1..={ABSOLUTE_MAX_MODELS}"));
    }
    Ok(())
}

/// sha256 of a profile's protobuf encoding (pinned into each request; the executor checks it).
pub fn profile_hash(profile: &DeterminismProfile) -> Vec<u8> {
    Sha256::digest(profile.encode_to_vec()).to_vec()
}

/// The executor's output hash: sha256(token ids as u32 little-endian ‖ text).
pub fn output_hash(tokens: &[u32], text: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for t in tokens {
        h.update(t.to_le_bytes());
    }
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Request seed: the first 8 bytes (big-endian) of sha256(block hash ‖ request id as u64 BE).
pub fn request_seed(block_hash: &[u8], request_id: u64) -> u64 {
    let digest = Sha256::new().chain_update(block_hash).chain_update(request_id.to_be_bytes()).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// What a request runs: the pinned lineage of a base model and optional adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTarget {
    /// Base weights hash.
    pub weights_hash: String,
    /// Adapter hash ("" without adapter).
    pub adapter_hash: String,
    /// Adapter owner, else base model owner.
    pub owner: Address,
    /// Price of one inference (uopen).
    pub price: u128,
    /// Datanet versions the adapter was trained on.
    pub datanet_versions: Vec<DatanetVersionPin>,
    /// False when governance delisted the model or adapter.
    pub servable: bool,
    /// The base model's chat template hash ("" when it has none).
    pub chat_template_hash: String,
}

/// What a request asks the model: a raw prompt or a conversation (exactly one of them).
#[derive(Debug, Clone, Copy)]
pub struct PromptInput<'a> {
    /// Raw prompt ("" for a conversation).
    pub prompt: &'a str,
    /// Conversation turns (empty for a raw prompt).
    pub messages: &'a [ChatMessage],
}

impl<'a> PromptInput<'a> {
    /// A raw prompt.
    pub fn text(prompt: &'a str) -> Self {
        Self { prompt, messages: &[] }
    }
}

/// Most turns in one conversation.
pub const MAX_CHAT_MESSAGES: usize = 64;

/// Checks that exactly one of `prompt` and `messages` is set, that every turn has a known role
/// and some content, and that the prompt or the turns' contents together take 1..=`max_bytes`.
pub fn check_prompt_or_messages(prompt: &str, messages: &[ChatMessage], max_bytes: u32) -> Result<(), InferenceError> {
    let bad = |m: String| Err(InferenceError::InvalidPrompt(m));
    if messages.is_empty() {
        if prompt.is_empty() || prompt.len() > max_bytes as usize {
            return bad(format!("prompt must be 1..={max_bytes} bytes, got {}", prompt.len()));
        }
        return Ok(());
    }
    if !prompt.is_empty() {
        return bad("set either prompt or messages, not both".into());
    }
    if messages.len() > MAX_CHAT_MESSAGES {
        return bad(format!("{} messages; at most {MAX_CHAT_MESSAGES}", messages.len()));
    }
    let mut total = 0usize;
    for (i, m) in messages.iter().enumerate() {
        if !matches!(m.role.as_str(), "system" | "user" | "assistant") {
            return bad(format!("message {i}: role must be system, user or assistant, got {:?}", m.role));
        }
        if m.content.is_empty() {
            return bad(format!("message {i}: empty content"));
        }
        total = total.saturating_add(m.content.len());
    }
    if total > max_bytes as usize {
        return bad(format!("messages of {total} bytes exceed {max_bytes}"));
    }
    Ok(())
}

/// Longest hardware class an executor registration may declare, in bytes.
pub const MAX_HARDWARE_CLASS_BYTES: usize = 64;

/// Checks a registration's hardware class (the executor's Health `hardware_class`): at most
/// [`MAX_HARDWARE_CLASS_BYTES`] bytes of printable ASCII (space to `~`). Empty is allowed: clients
/// that predate the field send none.
pub fn check_hardware_class(class: &str) -> Result<(), InferenceError> {
    if class.len() > MAX_HARDWARE_CLASS_BYTES {
        return Err(InferenceError::InvalidHardwareClass(format!("{} bytes; at most {MAX_HARDWARE_CLASS_BYTES}", class.len())));
    }
    if let Some(bad) = class.bytes().find(|b| !(b' '..=b'~').contains(b)) {
        return Err(InferenceError::InvalidHardwareClass(format!("byte 0x{bad:02x} is not printable ASCII")));
    }
    Ok(())
}

/// A validator as the inference module needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorInfo {
    /// Operator address (openvaloper…).
    pub operator: String,
    /// The operator's account (receives the executors' share).
    pub account: Address,
    /// Raw ed25519 consensus key (32 bytes).
    pub consensus_key: Vec<u8>,
    /// Jailed validators are not slashed twice for results.
    pub jailed: bool,
}

/// Where a ModelFactory fine-tune job stands, as the vote-extension protocol needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingJobStatus {
    /// Waiting for an executor.
    Queued,
    /// An executor reported training it.
    Running,
    /// Attested, failed or expired.
    Done,
}

/// A fine-tune job seen from the inference module (the model registry owns it).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingJobInfo {
    /// Base model trained (its registered executors are the eligible reporters).
    pub base_model_id: u64,
    /// Status.
    pub status: TrainingJobStatus,
    /// The attested report of an ATTESTED job (a later different signed report is slashed).
    pub attested: Option<TrainingReport>,
}

/// One eligible executor's training report in the deciding commit.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingVoteRecord {
    /// Operator.
    pub operator: String,
    /// Power in that commit.
    pub power: i64,
    /// Its report (None: no-show).
    pub report: Option<TrainingReport>,
    /// Whether it is the agreed report.
    pub agreed: bool,
}

/// A fine-tune job decided by two thirds of its base model's executors' power.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingDecision {
    /// Job.
    pub job_id: u64,
    /// The agreed report (`failed`: training failed; refund).
    pub report: TrainingReport,
    /// Height of the commit.
    pub extension_height: u64,
    /// Power that agreed.
    pub agreeing_power: i64,
    /// Power of every eligible executor in that commit.
    pub eligible_power: i64,
    /// Every eligible executor's vote (operator order).
    pub votes: Vec<TrainingVoteRecord>,
    /// Accounts and powers of the agreeing executors (they share the executors' part).
    pub agreeing_executors: Vec<(Address, i64)>,
    /// Validators slashed and jailed now for a different report.
    pub slashed: Vec<String>,
}

/// Everything the inference module needs from other modules; the app implements it.
pub trait InferenceHost: Send + Sync {
    /// Moves uopen between accounts.
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, amount: u128) -> Result<(), AbciError>;
    /// The pinned lineage of `base_model_id` with `adapter_id` (0 = none); not-found errors in
    /// the model module's codes.
    fn model_target(&self, state: &dyn StateRead, base_model_id: u64, adapter_id: u64) -> Result<ModelTarget, AbciError>;
    /// Whether a base model is registered.
    fn base_model_exists(&self, state: &dyn StateRead, base_model_id: u64) -> Result<bool, AbciError>;
    /// A validator by operator address.
    fn validator(&self, state: &dyn StateRead, operator: &str) -> Result<Option<ValidatorInfo>, AbciError>;
    /// A validator by CometBFT consensus address (20 bytes).
    fn validator_by_cons(&self, state: &dyn StateRead, cons_address: &[u8]) -> Result<Option<ValidatorInfo>, AbciError>;
    /// Slashes `fraction` of the validator's stake and jails it.
    fn slash_and_jail(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        operator: &str,
        fraction: Dec,
        reason: &str,
    ) -> Result<(), AbciError>;
    /// Pays `amount` (held by `from`) to the data contributors of `versions` whose rows the
    /// output draws on (Proof of Attribution); what is not paid goes to the community pool.
    /// Returns the amount paid to contributors.
    fn attribute(
        &self,
        state: &mut dyn StateWrite,
        request_id: u64,
        from: &Address,
        amount: u128,
        versions: &[(u64, u64)],
        text: &str,
    ) -> Result<u128, AbciError>;
    /// Moves `amount` from `from` into the community pool.
    fn fund_community_pool(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), AbciError>;

    /// A ModelFactory fine-tune job (none by default: a host without the model registry's jobs
    /// reports no training).
    fn training_job(&self, state: &dyn StateRead, job_id: u64) -> Result<Option<TrainingJobInfo>, AbciError> {
        let _ = (state, job_id);
        Ok(None)
    }
    /// A queued job was reported running by an eligible validator.
    fn training_started(&self, state: &mut dyn StateWrite, info: BlockInfo, job_id: u64) -> Result<(), AbciError> {
        let _ = (state, info, job_id);
        Ok(())
    }
    /// A validator was slashed for a report that contradicts the job's attested result after
    /// the job was decided (recorded with the job).
    fn training_slashed(&self, state: &mut dyn StateWrite, job_id: u64, operator: &str) -> Result<(), AbciError> {
        let _ = (state, job_id, operator);
        Ok(())
    }
    /// A job was decided: register the adapter and split the fee, or refund a failure.
    fn training_decided(&self, state: &mut dyn StateWrite, info: BlockInfo, decision: &TrainingDecision) -> Result<(), AbciError> {
        let _ = (state, info);
        Err(AbciError::sdk(openledger_core::error::sdk_codes::INTERNAL, format!("no fine-tune jobs to decide job {}", decision.job_id)))
    }
}

/// The inference keeper.
#[derive(Clone)]
pub struct InferenceKeeper {
    host: Arc<dyn InferenceHost>,
}

impl std::fmt::Debug for InferenceKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InferenceKeeper")
    }
}

/// `a * bps / 10000`, floored.
fn bps_of(amount: u128, bps: u32) -> Result<u128, InferenceError> {
    amount.checked_mul(u128::from(bps)).map(|x| x / u128::from(BPS)).ok_or(InferenceError::Overflow("fee split"))
}

/// Parses a uopen amount of a stored coin.
fn coin_amount(c: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>) -> u128 {
    c.and_then(|c| c.amount.parse().ok()).unwrap_or(0)
}

impl InferenceKeeper {
    /// A keeper over its host.
    pub fn new(host: Arc<dyn InferenceHost>) -> Self {
        Self { host }
    }

    /// The host (for the app's wiring and tests).
    pub fn host(&self) -> &dyn InferenceHost {
        self.host.as_ref()
    }

    /// Escrow account.
    pub fn escrow_address() -> Address {
        Address::module(INFERENCE_ACCOUNT)
    }

    /// Current params (defaults before genesis wrote them).
    pub fn params(&self, state: &dyn StateRead) -> Result<Params, InferenceError> {
        Ok(state.get_proto(state_key::PARAMS)?.unwrap_or_else(default_params))
    }

    /// Stores validated params.
    pub fn set_params(&self, state: &mut dyn StateWrite, params: &Params) -> Result<(), InferenceError> {
        validate_params(params)?;
        state.put_proto(state_key::PARAMS.to_vec(), params)?;
        Ok(())
    }

    /// A request.
    pub fn request(&self, state: &dyn StateRead, id: u64) -> Result<Option<Request>, InferenceError> {
        Ok(state.get_proto(&state_key::request(id))?)
    }

    /// A result.
    pub fn result(&self, state: &dyn StateRead, id: u64) -> Result<Option<InferenceResult>, InferenceError> {
        Ok(state.get_proto(&state_key::result(id))?)
    }

    /// A validator's registration.
    pub fn executor(&self, state: &dyn StateRead, operator: &str) -> Result<Option<Executor>, InferenceError> {
        Ok(state.get_proto(&state_key::executor(operator))?)
    }

    /// Every registration, by operator address.
    pub fn executors(&self, state: &dyn StateRead) -> Result<Vec<Executor>, InferenceError> {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = state.scan_raw(state_key::EXECUTOR_PREFIX, after.as_deref(), 256)?;
            let done = page.len() < 256;
            for (key, value) in page {
                out.push(Executor::decode(value.as_slice()).map_err(|e| InferenceError::InvalidRegistration(e.to_string()))?);
                after = Some(key);
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// Pending request ids in id order, at most `limit`.
    pub fn pending_ids(&self, state: &dyn StateRead, limit: usize) -> Result<Vec<u64>, InferenceError> {
        Ok(state.scan_raw(state_key::PENDING_PREFIX, None, limit)?.iter().filter_map(|(k, _)| state_key::id_from_key(k)).collect())
    }

    /// Operators registered to serve `base_model_id`.
    pub fn serving(&self, state: &dyn StateRead, base_model_id: u64) -> Result<Vec<String>, InferenceError> {
        Ok(self.executors(state)?.into_iter().filter(|e| e.base_model_ids.contains(&base_model_id)).map(|e| e.validator).collect())
    }

    /// Records the hash of the block being finalized (request seeds derive from it).
    pub fn begin_block(&self, state: &mut dyn StateWrite, block_hash: &[u8]) -> Result<(), InferenceError> {
        state.put_raw(state_key::BLOCK_HASH.to_vec(), block_hash.to_vec())?;
        Ok(())
    }

    /// MsgRegisterExecutor: `operator` (already checked to be the signer's validator) serves
    /// `base_model_ids` (sorted, unique) on an executor of `hardware_class` (empty: not
    /// declared); an empty list removes the registration.
    pub fn register_executor(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        operator: &str,
        base_model_ids: &[u64],
        hardware_class: &str,
    ) -> Result<(), InferenceError> {
        check_hardware_class(hardware_class)?;
        let params = self.params(state)?;
        if base_model_ids.len() > params.max_models_per_executor as usize {
            return Err(InferenceError::InvalidRegistration(format!(
                "{} models exceed the maximum of {} per executor",
                base_model_ids.len(),
                params.max_models_per_executor
            )));
        }
        if self.host.validator(state, operator)?.is_none() {
            return Err(InferenceError::ValidatorNotFound(operator.to_string()));
        }
        for id in base_model_ids {
            if !self.host.base_model_exists(state, *id)? {
                return Err(InferenceError::InvalidRegistration(format!("base model {id} not found")));
            }
        }
        if base_model_ids.is_empty() {
            state.delete(&state_key::executor(operator))?;
        } else {
            // proto3 leaves an empty hardware_class out, so a registration without one stores the
            // same bytes (and costs the same gas) as before the field existed.
            let entry = Executor {
                validator: operator.to_string(),
                base_model_ids: base_model_ids.to_vec(),
                registered_height: info.height,
                hardware_class: hardware_class.to_string(),
            };
            state.put_proto(state_key::executor(operator), &entry)?;
        }
        state.emit_typed(ExecutorRegistered {
            validator: operator.to_string(),
            base_model_ids: base_model_ids.to_vec(),
            hardware_class: hardware_class.to_string(),
        });
        Ok(())
    }

    /// MsgRequestInference: checks, escrows the fee and stores the pinned request. Returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn request_inference(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        requester: &Address,
        base_model_id: u64,
        adapter_id: u64,
        input: PromptInput<'_>,
        max_tokens: u32,
        fee: u128,
    ) -> Result<u64, InferenceError> {
        let params = self.params(state)?;
        check_prompt_or_messages(input.prompt, input.messages, params.max_prompt_bytes)?;
        if max_tokens == 0 || max_tokens > params.max_tokens_cap {
            return Err(InferenceError::InvalidMaxTokens(format!("must be 1..={}, got {max_tokens}", params.max_tokens_cap)));
        }
        let target = self.host.model_target(state, base_model_id, adapter_id)?;
        if !target.servable {
            return Err(InferenceError::ModelNotServable(format!("base model {base_model_id} / adapter {adapter_id} is delisted")));
        }
        let chat_template_hash = if input.messages.is_empty() {
            String::new()
        } else if target.chat_template_hash.is_empty() {
            return Err(InferenceError::NotAChatModel(base_model_id));
        } else {
            target.chat_template_hash.clone()
        };
        if fee < target.price {
            return Err(InferenceError::FeeTooLow { fee, price: target.price });
        }
        if self.serving(state, base_model_id)?.is_empty() {
            return Err(InferenceError::NoExecutor(base_model_id));
        }
        // Per-block request limit (bounds the executors' work).
        let count = match state.get_raw(state_key::BLOCK_REQUESTS)? {
            Some(v) if v.len() == 16 && v[..8] == info.height.to_be_bytes() => u64::from_be_bytes(v[8..16].try_into().unwrap_or([0; 8])),
            _ => 0,
        };
        if count >= u64::from(params.max_requests_per_block) {
            return Err(InferenceError::BlockFull(params.max_requests_per_block));
        }
        let mut counter = info.height.to_be_bytes().to_vec();
        counter.extend_from_slice(&(count + 1).to_be_bytes());
        state.put_raw(state_key::BLOCK_REQUESTS.to_vec(), counter)?;

        self.host.send(state, requester, &Self::escrow_address(), fee)?;
        let id = state.get_proto::<u64>(state_key::NEXT_REQUEST_ID)?.unwrap_or(1);
        state.put_proto(state_key::NEXT_REQUEST_ID.to_vec(), &id.checked_add(1).ok_or(InferenceError::Overflow("request id"))?)?;
        let block_hash = state.get_raw(state_key::BLOCK_HASH)?.unwrap_or_default();
        let profile = params.profile.clone().unwrap_or_default();
        let deadline = info.height.checked_add(params.deadline_blocks).ok_or(InferenceError::Overflow("deadline"))?;
        let request = Request {
            id,
            requester: requester.to_bech32(),
            base_model_id,
            adapter_id,
            prompt: input.prompt.to_string(),
            messages: input.messages.to_vec(),
            chat_template_hash,
            max_tokens,
            fee: Some(cosmos_sdk_proto::cosmos::base::v1beta1::Coin { denom: "uopen".into(), amount: fee.to_string() }),
            weights_hash: target.weights_hash,
            adapter_hash: target.adapter_hash,
            datanet_versions: target.datanet_versions,
            profile_hash: profile_hash(&profile),
            profile: Some(profile),
            seed: request_seed(&block_hash, id),
            height: info.height,
            deadline,
            status: RequestStatus::Pending as i32,
        };
        state.put_proto(state_key::request(id), &request)?;
        state.put_raw(state_key::pending(id), Vec::new())?;
        state.put_raw(state_key::deadline(deadline, id), Vec::new())?;
        state.emit_typed(crate::events::RequestCreated {
            request_id: id,
            requester: request.requester.clone(),
            base_model_id,
            adapter_id,
            fee,
            deadline,
        });
        Ok(id)
    }

    /// End block: refunds every pending request whose deadline is this height or earlier.
    pub fn end_block(&self, state: &mut dyn StateWrite, info: BlockInfo) -> Result<(), InferenceError> {
        loop {
            let due: Vec<(u64, u64)> = state
                .scan_raw(state_key::DEADLINE_PREFIX, None, 256)?
                .iter()
                .filter_map(|(k, _)| Some((state_key::deadline_height(k)?, state_key::id_from_key(k)?)))
                .take_while(|(h, _)| *h <= info.height)
                .collect();
            if due.is_empty() {
                return Ok(());
            }
            for (height, id) in due {
                state.delete(&state_key::deadline(height, id))?;
                let Some(mut request) = self.request(state, id)? else { continue };
                if request.status != RequestStatus::Pending as i32 {
                    continue;
                }
                let fee = coin_amount(request.fee.as_ref());
                let requester = Address::from_bech32(&request.requester)
                    .map_err(|e| InferenceError::InvalidAddress { field: "requester", reason: e.to_string() })?;
                self.host.send(state, &Self::escrow_address(), &requester, fee)?;
                request.status = RequestStatus::Expired as i32;
                state.put_proto(state_key::request(id), &request)?;
                state.delete(&state_key::pending(id))?;
                state.emit_typed(RequestExpired { request_id: id, requester: request.requester.clone(), refunded: fee });
            }
        }
    }

    /// Applies one agreed output: stores the result, splits the fee, slashes and jails the
    /// validators whose signed extension reported a different output. `slashed` collects the
    /// operators already slashed in this block (one slash per validator per block).
    pub fn apply_result(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        agreement: &Agreement,
        tokens: &[u32],
        text: &str,
        slashed: &mut std::collections::BTreeSet<String>,
    ) -> Result<InferenceResult, InferenceError> {
        let params = self.params(state)?;
        let Some(mut request) = self.request(state, agreement.request_id)? else {
            return Err(InferenceError::RequestNotFound(agreement.request_id));
        };
        let split = params.fee_split.unwrap_or_default();
        let fee = coin_amount(request.fee.as_ref());
        let escrow = Self::escrow_address();

        // Contributors (Proof of Attribution over the pinned datanet versions).
        let contributors_share = bps_of(fee, split.contributors_bps)?;
        let versions: Vec<(u64, u64)> = request.datanet_versions.iter().map(|v| (v.datanet_id, v.version)).collect();
        let paid_contributors =
            if contributors_share > 0 { self.host.attribute(state, request.id, &escrow, contributors_share, &versions, text)? } else { 0 };
        let to_pool_from_attribution = contributors_share.checked_sub(paid_contributors).ok_or(InferenceError::Overflow("attribution"))?;

        // Owner of the adapter (or base model).
        let owner_share = bps_of(fee, split.owner_bps)?;
        let target = self.host.model_target(state, request.base_model_id, request.adapter_id)?;
        self.host.send(state, &escrow, &target.owner, owner_share)?;

        // Executors that agreed, pro rata to power.
        let executors_share = bps_of(fee, split.executors_bps)?;
        let mut paid_executors = 0u128;
        let agree_power = u128::try_from(agreement.agreeing_power).unwrap_or(0);
        let mut votes = Vec::with_capacity(agreement.votes.len());
        let fraction = Dec::parse(&params.wrong_result_slash_fraction).unwrap_or(Dec::ZERO);
        let mut slashed_now = Vec::new();
        for vote in &agreement.votes {
            // The hash covers the tokens, so a matching hash with another token count is a
            // report of something else: it neither earns nor escapes the slash.
            let agreed = vote.agreed;
            if agreed && agree_power > 0 {
                let power = u128::try_from(vote.power).unwrap_or(0);
                let share = executors_share.checked_mul(power).ok_or(InferenceError::Overflow("executor share"))? / agree_power;
                if share > 0 {
                    let v = self.host.validator(state, &vote.operator)?;
                    if let Some(v) = v {
                        self.host.send(state, &escrow, &v.account, share)?;
                        paid_executors = paid_executors.checked_add(share).ok_or(InferenceError::Overflow("executor share"))?;
                    }
                }
            }
            if vote.output_hash.is_some() && !agreed && !slashed.contains(&vote.operator) {
                let jailed = self.host.validator(state, &vote.operator)?.map(|v| v.jailed).unwrap_or(true);
                if !jailed {
                    let reason = format!("wrong inference result for request {}", request.id);
                    self.host.slash_and_jail(state, info, &vote.operator, fraction, &reason)?;
                    state.emit_typed(ValidatorSlashed {
                        validator: vote.operator.clone(),
                        request_id: request.id,
                        fraction: fraction.to_string(),
                    });
                    slashed_now.push(vote.operator.clone());
                }
                slashed.insert(vote.operator.clone());
            }
            votes.push(ResultVote {
                validator: vote.operator.clone(),
                power: vote.power,
                output_hash: vote.output_hash.map(|h| h.to_vec()).unwrap_or_default(),
                token_count: vote.token_count,
                agreed,
            });
        }

        // Community pool: its share plus every remainder.
        let spent = contributors_share
            .checked_add(owner_share)
            .and_then(|x| x.checked_add(paid_executors))
            .ok_or(InferenceError::Overflow("fee split"))?;
        let community_direct = fee.checked_sub(spent).ok_or(InferenceError::Overflow("fee split"))?;
        self.host.fund_community_pool(state, &escrow, community_direct)?;
        let paid_community = community_direct.checked_add(to_pool_from_attribution).ok_or(InferenceError::Overflow("fee split"))?;

        let result = InferenceResult {
            request_id: request.id,
            text: text.to_string(),
            tokens: tokens.to_vec(),
            output_hash: agreement.output_hash.to_vec(),
            height: info.height,
            extension_height: agreement.extension_height,
            agreeing_power: agreement.agreeing_power,
            eligible_power: agreement.eligible_power,
            votes,
            paid_contributors: paid_contributors.to_string(),
            paid_owner: owner_share.to_string(),
            paid_executors: paid_executors.to_string(),
            paid_community: paid_community.to_string(),
            slashed: slashed_now,
        };
        state.put_proto(state_key::result(request.id), &result)?;
        request.status = RequestStatus::Completed as i32;
        state.put_proto(state_key::request(request.id), &request)?;
        state.delete(&state_key::pending(request.id))?;
        state.delete(&state_key::deadline(request.deadline, request.id))?;
        state.emit_typed(ResultApplied {
            request_id: request.id,
            output_hash: hex::encode(agreement.output_hash),
            token_count: u32::try_from(tokens.len()).unwrap_or(u32::MAX),
            agreeing_power: agreement.agreeing_power,
            eligible_power: agreement.eligible_power,
            paid_contributors,
            paid_owner: owner_share,
            paid_executors,
            paid_community,
        });
        Ok(result)
    }

    /// Applies one training agreement: validators whose signed report is a *successful* result
    /// different from the agreed successful result are slashed (the inference params'
    /// `wrong_result_slash_fraction`) and jailed exactly as for a wrong inference result; a
    /// `failed` report, and any report when the agreement is a failure, is never slashed (an
    /// executor that could not train earns nothing, as a no-show). Then the model registry
    /// registers the adapter and splits the fee, or refunds a failure. `slashed` collects the
    /// operators already slashed in this block (one slash per validator per block).
    pub fn apply_training(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        agreement: &TrainingAgreement,
        slashed: &mut std::collections::BTreeSet<String>,
    ) -> Result<TrainingDecision, InferenceError> {
        let params = self.params(state)?;
        let fraction = Dec::parse(&params.wrong_result_slash_fraction).unwrap_or(Dec::ZERO);
        let mut votes = Vec::with_capacity(agreement.votes.len());
        let mut agreeing_executors = Vec::new();
        let mut slashed_now = Vec::new();
        for vote in &agreement.votes {
            let agreed = vote.report.as_ref() == Some(&agreement.report);
            if agreed {
                if let Some(v) = self.host.validator(state, &vote.operator)? {
                    agreeing_executors.push((v.account, vote.power));
                }
            }
            let dissent = !agreement.report.failed && vote.report.as_ref().is_some_and(|r| !r.failed && !agreed);
            if dissent && !slashed.contains(&vote.operator) {
                let jailed = self.host.validator(state, &vote.operator)?.map(|v| v.jailed).unwrap_or(true);
                if !jailed {
                    let reason = format!("wrong training report for fine-tune job {}", agreement.job_id);
                    self.host.slash_and_jail(state, info, &vote.operator, fraction, &reason)?;
                    state.emit_typed(TrainingValidatorSlashed {
                        validator: vote.operator.clone(),
                        job_id: agreement.job_id,
                        fraction: fraction.to_string(),
                    });
                    slashed_now.push(vote.operator.clone());
                }
                slashed.insert(vote.operator.clone());
            }
            votes.push(TrainingVoteRecord { operator: vote.operator.clone(), power: vote.power, report: vote.report.clone(), agreed });
        }
        let decision = TrainingDecision {
            job_id: agreement.job_id,
            report: agreement.report.clone(),
            extension_height: agreement.extension_height,
            agreeing_power: agreement.agreeing_power,
            eligible_power: agreement.eligible_power,
            votes,
            agreeing_executors,
            slashed: slashed_now,
        };
        self.host.training_decided(state, info, &decision)?;
        Ok(decision)
    }

    /// Slashes and jails a validator that signed, after the job was attested, a successful
    /// report different from the attested one (a trainer slower than the two thirds that
    /// decided it is judged all the same). Already slashed in this block or jailed: nothing.
    pub fn apply_late_dissent(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        job_id: u64,
        operator: &str,
        slashed: &mut std::collections::BTreeSet<String>,
    ) -> Result<bool, InferenceError> {
        if slashed.contains(operator) {
            return Ok(false);
        }
        let jailed = self.host.validator(state, operator)?.map(|v| v.jailed).unwrap_or(true);
        if jailed {
            return Ok(false);
        }
        let params = self.params(state)?;
        let fraction = Dec::parse(&params.wrong_result_slash_fraction).unwrap_or(Dec::ZERO);
        let reason = format!("wrong training report for fine-tune job {job_id}");
        self.host.slash_and_jail(state, info, operator, fraction, &reason)?;
        state.emit_typed(TrainingValidatorSlashed { validator: operator.to_string(), job_id, fraction: fraction.to_string() });
        self.host.training_slashed(state, job_id, operator)?;
        slashed.insert(operator.to_string());
        Ok(true)
    }

    /// Marks RUNNING the queued jobs an eligible validator reported running.
    pub fn apply_running(&self, state: &mut dyn StateWrite, info: BlockInfo, job_ids: &[u64]) -> Result<(), InferenceError> {
        for id in job_ids {
            self.host.training_started(state, info, *id)?;
        }
        Ok(())
    }

    /// Powers of executors by operator for one model, used when tallying.
    pub fn eligible_operators(&self, state: &dyn StateRead) -> Result<BTreeMap<String, Vec<u64>>, InferenceError> {
        Ok(self.executors(state)?.into_iter().map(|e| (e.validator, e.base_model_ids)).collect())
    }
}
