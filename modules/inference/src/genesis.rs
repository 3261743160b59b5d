//! Genesis import/export of the inference module. Params and executor registrations are plain
//! JSON (64-bit integers as strings); in-flight requests and stored results travel in the proto JSON mapping
//! protobuf (`openledger.inference.v1.Request` / `Result`), so an export re-imports exactly.

use openledger_core::block::BlockInfo;
use openledger_core::{StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::executor::v1::DeterminismProfile;
use openledger_proto::openledger::inference::v1::{Executor, FeeSplit, Params, Request, RequestStatus, Result as InferenceResult};
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::error::InferenceError;
use crate::keeper::{default_params, validate_params, InferenceKeeper};
use crate::state_key;

/// Params in genesis JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsJson {
    /// Refund after this many blocks.
    #[serde(with = "openledger_core::serde_str")]
    pub deadline_blocks: u64,
    /// Largest prompt.
    pub max_prompt_bytes: u32,
    /// Largest max_tokens.
    pub max_tokens_cap: u32,
    /// Profile: dtype.
    pub dtype: String,
    /// Profile: `greedy` or `seeded`.
    pub sampling: String,
    /// Profile: temperature in 1/1000 (seeded only).
    pub temperature_milli: u32,
    /// Profile: top-k (seeded only, 0 = all).
    pub top_k: u32,
    /// Fee split, basis points.
    pub contributors_bps: u32,
    /// Owner share.
    pub owner_bps: u32,
    /// Executors share.
    pub executors_bps: u32,
    /// Community pool share.
    pub community_bps: u32,
    /// Slash fraction for a wrong result.
    pub wrong_result_slash_fraction: String,
    /// Requests per block.
    pub max_requests_per_block: u32,
    /// Models per executor.
    pub max_models_per_executor: u32,
}

impl ParamsJson {
    /// From params.
    pub fn from_params(p: &Params) -> Self {
        let profile = p.profile.clone().unwrap_or_default();
        let split = p.fee_split.unwrap_or_default();
        let seeded = profile.sampling == openledger_proto::openledger::executor::v1::Sampling::Seeded as i32;
        Self {
            deadline_blocks: p.deadline_blocks,
            max_prompt_bytes: p.max_prompt_bytes,
            max_tokens_cap: p.max_tokens_cap,
            dtype: profile.dtype,
            sampling: if seeded { "seeded".into() } else { "greedy".into() },
            temperature_milli: profile.temperature_milli,
            top_k: profile.top_k,
            contributors_bps: split.contributors_bps,
            owner_bps: split.owner_bps,
            executors_bps: split.executors_bps,
            community_bps: split.community_bps,
            wrong_result_slash_fraction: p.wrong_result_slash_fraction.clone(),
            max_requests_per_block: p.max_requests_per_block,
            max_models_per_executor: p.max_models_per_executor,
        }
    }

    /// To params (validated on import).
    pub fn to_params(&self) -> Result<Params, InferenceError> {
        use openledger_proto::openledger::executor::v1::{Batching, Sampling};
        let sampling = match self.sampling.as_str() {
            "greedy" => Sampling::Greedy,
            "seeded" => Sampling::Seeded,
            other => return Err(InferenceError::InvalidParams(format!("sampling must be greedy or seeded, got {other:?}"))),
        };
        let params = Params {
            deadline_blocks: self.deadline_blocks,
            max_prompt_bytes: self.max_prompt_bytes,
            max_tokens_cap: self.max_tokens_cap,
            profile: Some(DeterminismProfile {
                dtype: self.dtype.clone(),
                sampling: sampling as i32,
                temperature_milli: self.temperature_milli,
                top_k: self.top_k,
                max_tokens: self.max_tokens_cap,
                prefix_cache: false,
                batching: Batching::BatchInvariant as i32,
            }),
            fee_split: Some(FeeSplit {
                contributors_bps: self.contributors_bps,
                owner_bps: self.owner_bps,
                executors_bps: self.executors_bps,
                community_bps: self.community_bps,
            }),
            wrong_result_slash_fraction: self.wrong_result_slash_fraction.clone(),
            max_requests_per_block: self.max_requests_per_block,
            max_models_per_executor: self.max_models_per_executor,
        };
        validate_params(&params)?;
        Ok(params)
    }
}

impl Default for ParamsJson {
    fn default() -> Self {
        Self::from_params(&default_params())
    }
}

/// A validator's executor registration in genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisExecutor {
    /// Operator address (openvaloper…).
    pub validator: String,
    /// Base model ids served.
    #[serde(with = "ids")]
    pub base_model_ids: Vec<u64>,
    /// Declared hardware class of the executor (empty or absent: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hardware_class: String,
}

mod ids {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ids: &[u64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ids.iter().map(u64::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts.iter().map(|t| t.parse().map_err(serde::de::Error::custom)).collect()
    }
}

/// The module's genesis state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferenceGenesis {
    /// Params (defaults when absent).
    #[serde(default)]
    pub params: Option<ParamsJson>,
    /// Executor registrations.
    #[serde(default)]
    pub executors: Vec<GenesisExecutor>,
    /// Stored requests (`openledger.inference.v1.Request` in the proto JSON mapping).
    #[serde(default)]
    pub requests: Vec<serde_json::Value>,
    /// Stored results (`openledger.inference.v1.Result` in the proto JSON mapping).
    #[serde(default)]
    pub results: Vec<serde_json::Value>,
    /// Next request id (0 = start at 1).
    #[serde(default, with = "openledger_core::serde_str")]
    pub next_request_id: u64,
}

fn from_json<M: Message + Default>(what: &str, full_name: &str, value: &serde_json::Value) -> Result<M, InferenceError> {
    openledger_proto::json::from_json(full_name, value).map_err(|e| InferenceError::InvalidParams(format!("genesis {what}: {e}")))
}

fn to_json<M: Message + Default>(full_name: &str, bytes: &[u8]) -> Result<serde_json::Value, InferenceError> {
    let message = M::decode(bytes).map_err(|e| InferenceError::InvalidParams(format!("stored {full_name}: {e}")))?;
    openledger_proto::json::to_json(full_name, &message).map_err(InferenceError::InvalidParams)
}

const REQUEST: &str = "openledger.inference.v1.Request";
const RESULT: &str = "openledger.inference.v1.Result";

/// Imports genesis (registrations are checked against the validators and models already imported).
pub fn init_genesis(
    keeper: &InferenceKeeper,
    state: &mut dyn StateWrite,
    genesis: &InferenceGenesis,
    info: BlockInfo,
) -> Result<(), InferenceError> {
    let params = genesis.params.clone().unwrap_or_default().to_params()?;
    keeper.set_params(state, &params)?;
    for e in &genesis.executors {
        let mut ids = e.base_model_ids.clone();
        ids.sort_unstable();
        ids.dedup();
        keeper.register_executor(state, info, &e.validator, &ids, &e.hardware_class)?;
    }
    for value in &genesis.requests {
        let r: Request = from_json("request", REQUEST, value)?;
        state.put_proto(state_key::request(r.id), &r)?;
        if r.status == RequestStatus::Pending as i32 {
            state.put_raw(state_key::pending(r.id), Vec::new())?;
            state.put_raw(state_key::deadline(r.deadline, r.id), Vec::new())?;
        }
    }
    for value in &genesis.results {
        let r: InferenceResult = from_json("result", RESULT, value)?;
        state.put_proto(state_key::result(r.request_id), &r)?;
    }
    if genesis.next_request_id > 0 {
        state.put_proto(state_key::NEXT_REQUEST_ID.to_vec(), &genesis.next_request_id)?;
    }
    // Genesis events are not part of any block.
    Ok(())
}

/// Exports the whole module state.
pub fn export_genesis(keeper: &InferenceKeeper, state: &dyn openledger_core::StateRead) -> Result<InferenceGenesis, InferenceError> {
    let params = keeper.params(state)?;
    let executors = keeper
        .executors(state)?
        .into_iter()
        .map(|e: Executor| GenesisExecutor { validator: e.validator, base_model_ids: e.base_model_ids, hardware_class: e.hardware_class })
        .collect();
    let mut requests = Vec::new();
    let mut results = Vec::new();
    for (prefix, is_request, out) in [(state_key::REQUEST_PREFIX, true, &mut requests), (state_key::RESULT_PREFIX, false, &mut results)] {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = state.scan_raw(prefix, after.as_deref(), 256)?;
            let done = page.len() < 256;
            for (key, value) in page {
                out.push(if is_request { to_json::<Request>(REQUEST, &value)? } else { to_json::<InferenceResult>(RESULT, &value)? });
                after = Some(key);
            }
            if done {
                break;
            }
        }
    }
    let next_request_id = state.get_proto::<u64>(state_key::NEXT_REQUEST_ID)?.unwrap_or(0);
    Ok(InferenceGenesis { params: Some(ParamsJson::from_params(&params)), executors, requests, results, next_request_id })
}
