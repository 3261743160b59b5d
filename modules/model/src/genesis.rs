//! Model registry genesis: the `openledger.model.v1.GenesisState` proto and its JSON form in
//! genesis.json (proto3 JSON with the original field names, 64-bit integers as strings, bytes
//! as base64). Import checks hashes, uniqueness and references (pinned versions must exist with
//! the recorded root) and rebuilds the indexes.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use openledger_core::{serde_str, Address, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::model::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::keeper::{normalize_hash, normalize_price, ModelKeeper};
use crate::state_key;

fn bad(msg: impl Into<String>) -> ModelError {
    ModelError::InvalidGenesis(msg.into())
}

/// A coin in JSON (the one genesis coin form of every module).
pub use openledger_core::coin::CoinJson;

/// `BaseModel` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseModelJson {
    /// Id.
    #[serde(with = "serde_str")]
    pub id: u64,
    /// Owner.
    pub owner: String,
    /// Name.
    pub name: String,
    /// Architecture.
    pub architecture: String,
    /// Weights hash.
    pub weights_hash: String,
    /// Tokenizer hash.
    pub tokenizer_hash: String,
    /// License.
    #[serde(default)]
    pub license: String,
    /// Price.
    #[serde(default)]
    pub inference_price: Option<CoinJson>,
    /// Delisted by governance.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delisted: bool,
    /// Why it was delisted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delist_reason: String,
    /// Hex sha256 of its chat template ("" when it has none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chat_template_hash: String,
}

/// `PinnedVersion` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedVersionJson {
    /// Datanet.
    #[serde(with = "serde_str")]
    pub datanet_id: u64,
    /// Version.
    #[serde(with = "serde_str")]
    pub version: u64,
    /// Root, base64.
    pub merkle_root: String,
    /// Rows.
    #[serde(with = "serde_str")]
    pub row_count: u64,
}

/// `Adapter` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterJson {
    /// Id.
    #[serde(with = "serde_str")]
    pub id: u64,
    /// Owner.
    pub owner: String,
    /// Base model.
    #[serde(with = "serde_str")]
    pub base_model_id: u64,
    /// Adapter hash.
    pub adapter_hash: String,
    /// Pinned versions.
    pub datanet_versions: Vec<PinnedVersionJson>,
    /// Training config hash.
    pub training_config_hash: String,
    /// Price.
    #[serde(default)]
    pub inference_price: Option<CoinJson>,
    /// Delisted by governance.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delisted: bool,
    /// Why it was delisted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delist_reason: String,
    /// The fine-tune job it came from (0: registered by hand).
    #[serde(with = "serde_str", default, skip_serializing_if = "is_zero")]
    pub fine_tune_job_id: u64,
    /// Training-log hash, base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub training_log_hash: String,
    /// Eval loss bits.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub eval_loss_bits: u32,
    /// Base weights hash it was trained from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_weights_hash: String,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// The model section of the genesis `app_state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ModelGenesis {
    /// Base models.
    #[serde(default)]
    pub base_models: Vec<BaseModelJson>,
    /// Adapters.
    #[serde(default)]
    pub adapters: Vec<AdapterJson>,
    /// Next base model id (0: one past the largest).
    #[serde(with = "serde_str", default)]
    pub next_base_model_id: u64,
    /// Next adapter id (0: one past the largest).
    #[serde(with = "serde_str", default)]
    pub next_adapter_id: u64,
    /// Fine-tuning params (`openledger.model.v1.FineTuneParams` in the proto JSON mapping;
    /// absent: the defaults, nothing written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// Fine-tune jobs (`openledger.model.v1.FineTuneJob` in the proto JSON mapping).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fine_tune_jobs: Vec<serde_json::Value>,
    /// Next job id (0: one past the largest).
    #[serde(with = "serde_str", default, skip_serializing_if = "is_zero")]
    pub next_job_id: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

const PARAMS: &str = "openledger.model.v1.FineTuneParams";
const JOB: &str = "openledger.model.v1.FineTuneJob";

fn from_json<M: prost::Message + Default>(name: &str, v: &serde_json::Value) -> Result<M, ModelError> {
    openledger_proto::json::from_json(name, v).map_err(|e| bad(format!("{name}: {e}")))
}

fn to_json<M: prost::Message>(name: &str, m: &M) -> Result<serde_json::Value, ModelError> {
    openledger_proto::json::to_json(name, m).map_err(|e| bad(format!("{name}: {e}")))
}

impl ModelGenesis {
    /// The proto form.
    pub fn to_proto(&self) -> Result<pb::GenesisState, ModelError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(pb::GenesisState {
            base_models: self
                .base_models
                .iter()
                .map(|m| pb::BaseModel {
                    id: m.id,
                    owner: m.owner.clone(),
                    name: m.name.clone(),
                    architecture: m.architecture.clone(),
                    weights_hash: m.weights_hash.clone(),
                    tokenizer_hash: m.tokenizer_hash.clone(),
                    license: m.license.clone(),
                    inference_price: m.inference_price.as_ref().map(CoinJson::to_proto),
                    delisted: m.delisted,
                    delist_reason: m.delist_reason.clone(),
                    chat_template_hash: m.chat_template_hash.clone(),
                })
                .collect(),
            adapters: self
                .adapters
                .iter()
                .map(|a| {
                    Ok(pb::Adapter {
                        id: a.id,
                        owner: a.owner.clone(),
                        base_model_id: a.base_model_id,
                        adapter_hash: a.adapter_hash.clone(),
                        datanet_versions: a
                            .datanet_versions
                            .iter()
                            .map(|p| {
                                Ok(pb::PinnedVersion {
                                    datanet_id: p.datanet_id,
                                    version: p.version,
                                    merkle_root: b64.decode(&p.merkle_root).map_err(|e| bad(format!("adapter {} root: {e}", a.id)))?,
                                    row_count: p.row_count,
                                })
                            })
                            .collect::<Result<Vec<_>, ModelError>>()?,
                        training_config_hash: a.training_config_hash.clone(),
                        inference_price: a.inference_price.as_ref().map(CoinJson::to_proto),
                        delisted: a.delisted,
                        delist_reason: a.delist_reason.clone(),
                        fine_tune_job_id: a.fine_tune_job_id,
                        training_log_hash: b64
                            .decode(&a.training_log_hash)
                            .map_err(|e| bad(format!("adapter {} training_log_hash: {e}", a.id)))?,
                        eval_loss_bits: a.eval_loss_bits,
                        base_weights_hash: a.base_weights_hash.clone(),
                    })
                })
                .collect::<Result<Vec<_>, ModelError>>()?,
            next_base_model_id: self.next_base_model_id,
            next_adapter_id: self.next_adapter_id,
            params: self.params.as_ref().map(|v| from_json(PARAMS, v)).transpose()?,
            fine_tune_jobs: self.fine_tune_jobs.iter().map(|v| from_json(JOB, v)).collect::<Result<_, _>>()?,
            next_job_id: self.next_job_id,
        })
    }

    /// The JSON form.
    pub fn from_proto(g: &pb::GenesisState) -> Result<Self, ModelError> {
        Ok(Self {
            base_models: g.base_models.iter().map(BaseModelJson::from).collect(),
            adapters: g.adapters.iter().map(AdapterJson::from).collect(),
            next_base_model_id: g.next_base_model_id,
            next_adapter_id: g.next_adapter_id,
            params: g.params.as_ref().map(|p| to_json(PARAMS, p)).transpose()?,
            fine_tune_jobs: g.fine_tune_jobs.iter().map(|j| to_json(JOB, j)).collect::<Result<_, _>>()?,
            next_job_id: g.next_job_id,
        })
    }
}

impl From<&pb::BaseModel> for BaseModelJson {
    fn from(m: &pb::BaseModel) -> Self {
        Self {
            id: m.id,
            owner: m.owner.clone(),
            name: m.name.clone(),
            architecture: m.architecture.clone(),
            weights_hash: m.weights_hash.clone(),
            tokenizer_hash: m.tokenizer_hash.clone(),
            license: m.license.clone(),
            inference_price: m.inference_price.as_ref().map(CoinJson::from_proto),
            delisted: m.delisted,
            delist_reason: m.delist_reason.clone(),
            chat_template_hash: m.chat_template_hash.clone(),
        }
    }
}

impl From<&pb::PinnedVersion> for PinnedVersionJson {
    fn from(p: &pb::PinnedVersion) -> Self {
        Self {
            datanet_id: p.datanet_id,
            version: p.version,
            merkle_root: base64::engine::general_purpose::STANDARD.encode(&p.merkle_root),
            row_count: p.row_count,
        }
    }
}

impl From<&pb::Adapter> for AdapterJson {
    fn from(a: &pb::Adapter) -> Self {
        Self {
            id: a.id,
            owner: a.owner.clone(),
            base_model_id: a.base_model_id,
            adapter_hash: a.adapter_hash.clone(),
            datanet_versions: a.datanet_versions.iter().map(PinnedVersionJson::from).collect(),
            training_config_hash: a.training_config_hash.clone(),
            inference_price: a.inference_price.as_ref().map(CoinJson::from_proto),
            delisted: a.delisted,
            delist_reason: a.delist_reason.clone(),
            fine_tune_job_id: a.fine_tune_job_id,
            training_log_hash: base64::engine::general_purpose::STANDARD.encode(&a.training_log_hash),
            eval_loss_bits: a.eval_loss_bits,
            base_weights_hash: a.base_weights_hash.clone(),
        }
    }
}

fn canonical(field: &str, text: &str) -> Result<String, ModelError> {
    Address::from_bech32(text).map(|a| a.to_bech32()).map_err(|e| bad(format!("{field} {text:?}: {e}")))
}

/// Writes the model genesis (JSON form). Datanet genesis must be imported first.
pub fn init_genesis(keeper: &ModelKeeper, state: &mut dyn StateWrite, genesis: &ModelGenesis) -> Result<(), ModelError> {
    init_genesis_proto(keeper, state, &genesis.to_proto()?)
}

/// Writes the model genesis after checking it.
pub fn init_genesis_proto(keeper: &ModelKeeper, state: &mut dyn StateWrite, g: &pb::GenesisState) -> Result<(), ModelError> {
    let mut models = BTreeSet::new();
    let mut weights = BTreeMap::new();
    for m in &g.base_models {
        let check = || -> Result<(), ModelError> {
            canonical("owner", &m.owner)?;
            if normalize_hash("weights_hash", &m.weights_hash)? != m.weights_hash
                || normalize_hash("tokenizer_hash", &m.tokenizer_hash)? != m.tokenizer_hash
                || (!m.chat_template_hash.is_empty()
                    && normalize_hash("chat_template_hash", &m.chat_template_hash)? != m.chat_template_hash)
            {
                return Err(bad("hashes must be lower-case hex"));
            }
            normalize_price(m.inference_price.as_ref())?;
            Ok(())
        };
        check().map_err(|e| bad(format!("base model {}: {e}", m.id)))?;
        if m.id == 0 || !models.insert(m.id) || weights.insert(m.weights_hash.clone(), m.id).is_some() {
            return Err(bad(format!("base model {} has a zero or repeated id or weights hash", m.id)));
        }
        keeper.set_base_model(state, m)?;
    }
    let mut adapters = BTreeSet::new();
    let mut hashes = BTreeSet::new();
    for a in &g.adapters {
        let check = || -> Result<(), ModelError> {
            canonical("owner", &a.owner)?;
            if normalize_hash("adapter_hash", &a.adapter_hash)? != a.adapter_hash
                || normalize_hash("training_config_hash", &a.training_config_hash)? != a.training_config_hash
            {
                return Err(bad("hashes must be lower-case hex"));
            }
            normalize_price(a.inference_price.as_ref())?;
            if !models.contains(&a.base_model_id) {
                return Err(ModelError::BaseModelNotFound(a.base_model_id));
            }
            if a.datanet_versions.is_empty() {
                return Err(bad("no pinned versions"));
            }
            for p in &a.datanet_versions {
                let info = keeper
                    .datanets()
                    .version(state, p.datanet_id, p.version)?
                    .ok_or(ModelError::VersionNotFound { datanet_id: p.datanet_id, version: p.version })?;
                if info.merkle_root != p.merkle_root || info.row_count != p.row_count {
                    return Err(bad(format!("pinned datanet {} version {} differs from the published one", p.datanet_id, p.version)));
                }
            }
            Ok(())
        };
        check().map_err(|e| bad(format!("adapter {}: {e}", a.id)))?;
        if a.id == 0 || !adapters.insert(a.id) || !hashes.insert(a.adapter_hash.clone()) {
            return Err(bad(format!("adapter {} has a zero or repeated id or hash", a.id)));
        }
        keeper.set_adapter(state, a)?;
    }
    let next = |given: u64, ids: &BTreeSet<u64>, what: &str| -> Result<u64, ModelError> {
        let min = ids.last().map_or(Some(1), |m| m.checked_add(1)).ok_or_else(|| bad("id overflow"))?;
        if given == 0 {
            Ok(min)
        } else if given < min {
            Err(bad(format!("{what} {given} is not past the largest id")))
        } else {
            Ok(given)
        }
    };
    state.put_proto(state_key::NEXT_BASE_MODEL_ID.to_vec(), &next(g.next_base_model_id, &models, "next_base_model_id")?)?;
    state.put_proto(state_key::NEXT_ADAPTER_ID.to_vec(), &next(g.next_adapter_id, &adapters, "next_adapter_id")?)?;
    // Fine-tuning: written only when the section carries it, so genesis files from before
    // ModelFactory import to exactly the same state.
    if let Some(params) = &g.params {
        keeper.set_fine_tune_params(state, params).map_err(|e| bad(format!("params: {e}")))?;
    }
    let mut jobs = BTreeSet::new();
    for job in &g.fine_tune_jobs {
        canonical("creator", &job.creator).map_err(|e| bad(format!("job {}: {e}", job.id)))?;
        if !models.contains(&job.base_model_id) {
            return Err(bad(format!("job {}: base model {} not found", job.id, job.base_model_id)));
        }
        if job.status == pb::JobStatus::Unspecified as i32 || pb::JobStatus::try_from(job.status).is_err() {
            return Err(bad(format!("job {} has no valid status", job.id)));
        }
        if job.id == 0 || !jobs.insert(job.id) {
            return Err(bad(format!("job {} has a zero or repeated id", job.id)));
        }
        keeper.set_job(state, job, None)?;
    }
    if g.next_job_id != 0 || !jobs.is_empty() {
        state.put_proto(state_key::NEXT_JOB_ID.to_vec(), &next(g.next_job_id, &jobs, "next_job_id")?)?;
    }
    Ok(())
}

/// Reads the registry back out of the state (proto form).
pub fn export_genesis_proto(state: &dyn StateRead) -> Result<pb::GenesisState, ModelError> {
    Ok(pb::GenesisState {
        base_models: state.scan_all_proto(state_key::BASE_MODEL_PREFIX)?.into_iter().map(|(_, m)| m).collect(),
        adapters: state.scan_all_proto(state_key::ADAPTER_PREFIX)?.into_iter().map(|(_, a)| a).collect(),
        next_base_model_id: state.get_proto::<u64>(state_key::NEXT_BASE_MODEL_ID)?.unwrap_or(1),
        next_adapter_id: state.get_proto::<u64>(state_key::NEXT_ADAPTER_ID)?.unwrap_or(1),
        params: state.get_proto(state_key::PARAMS)?,
        fine_tune_jobs: state.scan_all_proto(state_key::JOB_PREFIX)?.into_iter().map(|(_, j)| j).collect(),
        next_job_id: state.get_proto::<u64>(state_key::NEXT_JOB_ID)?.unwrap_or(0),
    })
}

/// Reads the registry back out of the state (JSON form).
pub fn export_genesis(state: &dyn StateRead) -> Result<ModelGenesis, ModelError> {
    ModelGenesis::from_proto(&export_genesis_proto(state)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::tests::keeper;
    use crate::msg::tests::{adapter, base};
    use crate::msg::{RegisterAdapter, RegisterBaseModel};
    use openledger_core::delta::{EmptyState, StateDelta};
    use openledger_core::error::ErrorCode;

    #[test]
    fn genesis_round_trips_and_refuses_bad_references() {
        let k = keeper();
        let mut s = StateDelta::new(EmptyState);
        let m = RegisterBaseModel::check_stateless(&base(1, 1)).unwrap().execute(&k, &mut s).unwrap().base_model_id;
        RegisterAdapter::check_stateless(&adapter(2, m, 10, &[(1, 1), (2, 1)])).unwrap().execute(&k, &mut s).unwrap();
        let exported = export_genesis(&s).unwrap();
        let text = serde_json::to_string(&exported).unwrap();
        let parsed: ModelGenesis = serde_json::from_str(&text).unwrap();
        let mut fresh = StateDelta::new(EmptyState);
        init_genesis(&k, &mut fresh, &parsed).unwrap();
        assert_eq!(export_genesis(&fresh).unwrap(), exported);
        assert_eq!(fresh.changes(), s.changes(), "indexes and counters rebuilt exactly");
        init_genesis(&k, &mut StateDelta::new(EmptyState), &ModelGenesis::default()).unwrap();

        let refuse = |f: &dyn Fn(&mut ModelGenesis)| {
            let mut g = exported.clone();
            f(&mut g);
            let err = init_genesis(&k, &mut StateDelta::new(EmptyState), &g).unwrap_err();
            assert_eq!((err.codespace(), err.code()), ("model", 12), "{err}");
        };
        refuse(&|g| g.adapters[0].datanet_versions[0].version = 7);
        refuse(&|g| g.adapters[0].datanet_versions[0].merkle_root = "AAAA".into());
        refuse(&|g| g.adapters[0].base_model_id = 5);
        refuse(&|g| g.base_models.push(g.base_models[0].clone()));
        refuse(&|g| g.base_models[0].weights_hash = "AB".repeat(32));
        refuse(&|g| g.next_adapter_id = 1);
    }
}
