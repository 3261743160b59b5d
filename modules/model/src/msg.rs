//! Model registry messages: for each, a stateless check producing a validated value, its
//! signer, its amino JSON form (`openledger/<MsgName>`) and its execution. Every check runs
//! before anything is written.

use std::collections::BTreeSet;

use openledger_core::amino::{coin_amino, AminoObject};
use openledger_core::{Address, Coin, StateWrite, StateWriteExt};
use openledger_proto::openledger::model::v1::{
    Adapter, BaseModel, DatanetVersionRef, MsgCreateFineTuneJob, MsgCreateFineTuneJobResponse, MsgDelistAdapter, MsgDelistAdapterResponse,
    MsgDelistBaseModel, MsgDelistBaseModelResponse, MsgRegisterAdapter, MsgRegisterAdapterResponse, MsgRegisterBaseModel,
    MsgRegisterBaseModelResponse, MsgSetInferencePrice, MsgSetInferencePriceResponse, PinnedVersion,
};
use serde_json::Value;

use crate::error::ModelError;
use crate::events::{AdapterRegistered, BaseModelRegistered, InferencePriceSet, ModelDelisted};
use crate::finetune::{check_config_shape, NewJob};
use crate::keeper::{gov_authority, normalize_hash, normalize_price, ModelKeeper};

/// Longest model name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest architecture, in bytes.
pub const MAX_ARCHITECTURE_BYTES: usize = 64;
/// Longest license, in bytes.
pub const MAX_LICENSE_BYTES: usize = 128;
/// Most datanet versions one adapter pins.
pub const MAX_PINNED_VERSIONS: usize = 32;

/// Type URL of `MsgRegisterBaseModel`.
pub const MSG_REGISTER_BASE_MODEL: &str = "/openledger.model.v1.MsgRegisterBaseModel";
/// Type URL of `MsgRegisterAdapter`.
pub const MSG_REGISTER_ADAPTER: &str = "/openledger.model.v1.MsgRegisterAdapter";
/// Type URL of `MsgSetInferencePrice`.
pub const MSG_SET_INFERENCE_PRICE: &str = "/openledger.model.v1.MsgSetInferencePrice";
/// Type URL of `MsgDelistBaseModel`.
pub const MSG_DELIST_BASE_MODEL: &str = "/openledger.model.v1.MsgDelistBaseModel";
/// Type URL of `MsgDelistAdapter`.
pub const MSG_DELIST_ADAPTER: &str = "/openledger.model.v1.MsgDelistAdapter";

/// Type URL of a message's response (`…Msg<X>` → `…Msg<X>Response`).
pub fn response_type_url(msg_type_url: &str) -> String {
    format!("{msg_type_url}Response")
}

fn address(field: &'static str, text: &str) -> Result<Address, ModelError> {
    Address::from_bech32(text).map_err(|e| ModelError::InvalidAddress { field, reason: e.to_string() })
}

fn bounded(what: &str, text: &str, min: usize, max: usize) -> Result<(), ModelError> {
    if text.len() < min || text.len() > max {
        return Err(ModelError::InvalidMetadata(format!("{what} must be {min}..={max} bytes, got {}", text.len())));
    }
    Ok(())
}

/// A validated `MsgRegisterBaseModel`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterBaseModel {
    /// Owner (signer).
    pub owner: Address,
    /// Weights hash, lower case.
    pub weights_hash: String,
    /// Tokenizer hash, lower case.
    pub tokenizer_hash: String,
    /// Chat template hash, lower case ("" without a template).
    pub chat_template_hash: String,
    /// Price.
    pub price: Coin,
    /// The message as signed.
    pub msg: MsgRegisterBaseModel,
}

impl Eq for RegisterBaseModel {}

impl RegisterBaseModel {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgRegisterBaseModel) -> Result<Self, ModelError> {
        let owner = address("owner", &msg.owner)?;
        bounded("name", &msg.name, 1, MAX_NAME_BYTES)?;
        bounded("architecture", &msg.architecture, 1, MAX_ARCHITECTURE_BYTES)?;
        bounded("license", &msg.license, 0, MAX_LICENSE_BYTES)?;
        Ok(Self {
            owner,
            weights_hash: normalize_hash("weights_hash", &msg.weights_hash)?,
            tokenizer_hash: normalize_hash("tokenizer_hash", &msg.tokenizer_hash)?,
            chat_template_hash: if msg.chat_template_hash.is_empty() {
                String::new()
            } else {
                normalize_hash("chat_template_hash", &msg.chat_template_hash)?
            },
            price: normalize_price(msg.inference_price.as_ref())?,
            msg: msg.clone(),
        })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.owner.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        AminoObject::default()
            .str("owner", &m.owner)
            .str("name", &m.name)
            .str("architecture", &m.architecture)
            .str("weights_hash", &m.weights_hash)
            .str("tokenizer_hash", &m.tokenizer_hash)
            .str("license", &m.license)
            .value("inference_price", coin_amino(m.inference_price.as_ref()))
            .str("chat_template_hash", &m.chat_template_hash)
            .typed("openledger/MsgRegisterBaseModel")
    }

    /// Registers the model (its weights must be new).
    pub fn execute(&self, keeper: &ModelKeeper, state: &mut dyn StateWrite) -> Result<MsgRegisterBaseModelResponse, ModelError> {
        if let Some(id) = keeper.by_weights_hash(state, &self.weights_hash)? {
            return Err(ModelError::DuplicateWeights { hash: self.weights_hash.clone(), id });
        }
        let id = keeper.next_base_model_id(state)?;
        let model = BaseModel {
            id,
            owner: self.owner.to_bech32(),
            name: self.msg.name.clone(),
            architecture: self.msg.architecture.clone(),
            weights_hash: self.weights_hash.clone(),
            tokenizer_hash: self.tokenizer_hash.clone(),
            license: self.msg.license.clone(),
            inference_price: Some(self.price.to_proto()),
            delisted: false,
            delist_reason: String::new(),
            chat_template_hash: self.chat_template_hash.clone(),
        };
        keeper.set_base_model(state, &model)?;
        state.emit_typed(BaseModelRegistered { base_model_id: id, owner: model.owner.clone(), weights_hash: model.weights_hash.clone() });
        Ok(MsgRegisterBaseModelResponse { base_model_id: id })
    }
}

/// A validated `MsgRegisterAdapter`.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterAdapter {
    /// Owner (signer).
    pub owner: Address,
    /// Adapter hash, lower case.
    pub adapter_hash: String,
    /// Training config hash, lower case.
    pub training_config_hash: String,
    /// Price.
    pub price: Coin,
    /// The message as signed.
    pub msg: MsgRegisterAdapter,
}

impl Eq for RegisterAdapter {}

impl RegisterAdapter {
    /// `ValidateBasic`: hashes, and 1..=32 distinct pinned versions.
    pub fn check_stateless(msg: &MsgRegisterAdapter) -> Result<Self, ModelError> {
        let owner = address("owner", &msg.owner)?;
        if msg.datanet_versions.is_empty() {
            return Err(ModelError::InvalidPins("an adapter pins at least one datanet version".into()));
        }
        if msg.datanet_versions.len() > MAX_PINNED_VERSIONS {
            return Err(ModelError::InvalidPins(format!("at most {MAX_PINNED_VERSIONS} datanet versions")));
        }
        let mut seen = BTreeSet::new();
        for pin in &msg.datanet_versions {
            if pin.datanet_id == 0 || pin.version == 0 {
                return Err(ModelError::InvalidPins("datanet ids and versions start at 1".into()));
            }
            if !seen.insert((pin.datanet_id, pin.version)) {
                return Err(ModelError::InvalidPins(format!("datanet {} version {} is pinned twice", pin.datanet_id, pin.version)));
            }
        }
        Ok(Self {
            owner,
            adapter_hash: normalize_hash("adapter_hash", &msg.adapter_hash)?,
            training_config_hash: normalize_hash("training_config_hash", &msg.training_config_hash)?,
            price: normalize_price(msg.inference_price.as_ref())?,
            msg: msg.clone(),
        })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.owner.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        let pins: Vec<Value> = m
            .datanet_versions
            .iter()
            .map(|p| AminoObject::default().u64("datanet_id", p.datanet_id).u64("version", p.version).build())
            .collect();
        AminoObject::default()
            .str("owner", &m.owner)
            .u64("base_model_id", m.base_model_id)
            .str("adapter_hash", &m.adapter_hash)
            .value("datanet_versions", Value::Array(pins))
            .str("training_config_hash", &m.training_config_hash)
            .value("inference_price", coin_amino(m.inference_price.as_ref()))
            .typed("openledger/MsgRegisterAdapter")
    }

    /// Registers the adapter, snapshotting each pinned version's Merkle root.
    pub fn execute(&self, keeper: &ModelKeeper, state: &mut dyn StateWrite) -> Result<MsgRegisterAdapterResponse, ModelError> {
        if keeper.require_base_model(state, self.msg.base_model_id)?.delisted {
            return Err(ModelError::BaseModelDelisted(self.msg.base_model_id));
        }
        if let Some(id) = keeper.by_adapter_hash(state, &self.adapter_hash)? {
            return Err(ModelError::DuplicateAdapter { hash: self.adapter_hash.clone(), id });
        }
        let mut pinned = Vec::with_capacity(self.msg.datanet_versions.len());
        for DatanetVersionRef { datanet_id, version } in &self.msg.datanet_versions {
            let info = keeper
                .datanets()
                .version(state, *datanet_id, *version)?
                .ok_or(ModelError::VersionNotFound { datanet_id: *datanet_id, version: *version })?;
            if info.datanet_delisted {
                return Err(ModelError::DatanetDelisted(*datanet_id));
            }
            pinned.push(PinnedVersion {
                datanet_id: *datanet_id,
                version: *version,
                merkle_root: info.merkle_root,
                row_count: info.row_count,
            });
        }
        let id = keeper.next_adapter_id(state)?;
        let adapter = Adapter {
            id,
            owner: self.owner.to_bech32(),
            base_model_id: self.msg.base_model_id,
            adapter_hash: self.adapter_hash.clone(),
            datanet_versions: pinned,
            training_config_hash: self.training_config_hash.clone(),
            inference_price: Some(self.price.to_proto()),
            delisted: false,
            delist_reason: String::new(),
            ..Default::default()
        };
        keeper.set_adapter(state, &adapter)?;
        state.emit_typed(AdapterRegistered {
            adapter_id: id,
            base_model_id: adapter.base_model_id,
            owner: adapter.owner.clone(),
            adapter_hash: adapter.adapter_hash.clone(),
            datanet_versions: adapter
                .datanet_versions
                .iter()
                .map(|p| format!("{}:{}", p.datanet_id, p.version))
                .collect::<Vec<_>>()
                .join(","),
        });
        Ok(MsgRegisterAdapterResponse { adapter_id: id })
    }
}

/// A validated `MsgSetInferencePrice`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetInferencePrice {
    /// Owner (signer).
    pub owner: Address,
    /// New price.
    pub price: Coin,
    /// The message as signed.
    pub msg: MsgSetInferencePrice,
}

impl Eq for SetInferencePrice {}

impl SetInferencePrice {
    /// `ValidateBasic`: exactly one of the two ids.
    pub fn check_stateless(msg: &MsgSetInferencePrice) -> Result<Self, ModelError> {
        let owner = address("owner", &msg.owner)?;
        if (msg.base_model_id == 0) == (msg.adapter_id == 0) {
            return Err(ModelError::InvalidTarget("set exactly one of base_model_id and adapter_id".into()));
        }
        Ok(Self { owner, price: normalize_price(msg.inference_price.as_ref())?, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.owner.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        AminoObject::default()
            .str("owner", &m.owner)
            .u64("base_model_id", m.base_model_id)
            .u64("adapter_id", m.adapter_id)
            .value("inference_price", coin_amino(m.inference_price.as_ref()))
            .typed("openledger/MsgSetInferencePrice")
    }

    /// Sets the price (owner only).
    pub fn execute(&self, keeper: &ModelKeeper, state: &mut dyn StateWrite) -> Result<MsgSetInferencePriceResponse, ModelError> {
        let signer = self.owner.to_bech32();
        let price = Some(self.price.to_proto());
        let (kind, id) = if self.msg.base_model_id != 0 {
            let mut m = keeper.require_base_model(state, self.msg.base_model_id)?;
            if m.owner != signer {
                return Err(ModelError::Unauthorized(format!("{signer} is not the owner of base model {}", m.id)));
            }
            m.inference_price = price;
            keeper.set_base_model(state, &m)?;
            ("base_model", m.id)
        } else {
            let mut a = keeper.require_adapter(state, self.msg.adapter_id)?;
            if a.owner != signer {
                return Err(ModelError::Unauthorized(format!("{signer} is not the owner of adapter {}", a.id)));
            }
            a.inference_price = price;
            keeper.set_adapter(state, &a)?;
            ("adapter", a.id)
        };
        state.emit_typed(InferencePriceSet { kind, id, price: self.price.to_string() });
        Ok(MsgSetInferencePriceResponse {})
    }
}

/// Longest delisting reason, in bytes.
pub const MAX_REASON_BYTES: usize = 512;

fn require_gov(authority: &Address) -> Result<(), ModelError> {
    let gov = gov_authority();
    if *authority != gov {
        return Err(ModelError::Unauthorized(format!("invalid authority; expected {gov} (governance), got {authority}")));
    }
    Ok(())
}

/// A validated `MsgDelistBaseModel`.
#[derive(Debug, Clone, PartialEq)]
pub struct DelistBaseModel {
    /// Authority (signer; must be the gov module account).
    pub authority: Address,
    /// The message.
    pub msg: MsgDelistBaseModel,
}

impl Eq for DelistBaseModel {}

impl DelistBaseModel {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgDelistBaseModel) -> Result<Self, ModelError> {
        let authority = address("authority", &msg.authority)?;
        if msg.base_model_id == 0 {
            return Err(ModelError::BaseModelNotFound(0));
        }
        bounded("reason", &msg.reason, 0, MAX_REASON_BYTES)?;
        Ok(Self { authority, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.authority.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        AminoObject::default()
            .str("authority", &m.authority)
            .u64("base_model_id", m.base_model_id)
            .str("reason", &m.reason)
            .typed("openledger/MsgDelistBaseModel")
    }

    /// Delists the base model (governance only). Its adapters stay registered but are not
    /// servable while their base is delisted, and no new adapter can be registered on it.
    pub fn execute(&self, keeper: &ModelKeeper, state: &mut dyn StateWrite) -> Result<MsgDelistBaseModelResponse, ModelError> {
        require_gov(&self.authority)?;
        let mut m = keeper.require_base_model(state, self.msg.base_model_id)?;
        if m.delisted {
            return Err(ModelError::AlreadyDelisted(format!("base model {}", m.id)));
        }
        m.delisted = true;
        m.delist_reason = self.msg.reason.clone();
        keeper.set_base_model(state, &m)?;
        state.emit_typed(ModelDelisted { kind: "base_model", id: m.id, reason: self.msg.reason.clone() });
        Ok(MsgDelistBaseModelResponse {})
    }
}

/// A validated `MsgDelistAdapter`.
#[derive(Debug, Clone, PartialEq)]
pub struct DelistAdapter {
    /// Authority (signer; must be the gov module account).
    pub authority: Address,
    /// The message.
    pub msg: MsgDelistAdapter,
}

impl Eq for DelistAdapter {}

impl DelistAdapter {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgDelistAdapter) -> Result<Self, ModelError> {
        let authority = address("authority", &msg.authority)?;
        if msg.adapter_id == 0 {
            return Err(ModelError::AdapterNotFound(0));
        }
        bounded("reason", &msg.reason, 0, MAX_REASON_BYTES)?;
        Ok(Self { authority, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.authority.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        AminoObject::default()
            .str("authority", &m.authority)
            .u64("adapter_id", m.adapter_id)
            .str("reason", &m.reason)
            .typed("openledger/MsgDelistAdapter")
    }

    /// Delists the adapter (governance only).
    pub fn execute(&self, keeper: &ModelKeeper, state: &mut dyn StateWrite) -> Result<MsgDelistAdapterResponse, ModelError> {
        require_gov(&self.authority)?;
        let mut a = keeper.require_adapter(state, self.msg.adapter_id)?;
        if a.delisted {
            return Err(ModelError::AlreadyDelisted(format!("adapter {}", a.id)));
        }
        a.delisted = true;
        a.delist_reason = self.msg.reason.clone();
        keeper.set_adapter(state, &a)?;
        state.emit_typed(ModelDelisted { kind: "adapter", id: a.id, reason: self.msg.reason.clone() });
        Ok(MsgDelistAdapterResponse {})
    }
}

/// Type URL of `MsgCreateFineTuneJob`.
pub const MSG_CREATE_FINE_TUNE_JOB: &str = "/openledger.model.v1.MsgCreateFineTuneJob";

/// A validated `MsgCreateFineTuneJob`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateFineTuneJob {
    /// The job as checked without state.
    pub job: NewJob,
    /// The message as signed.
    pub msg: MsgCreateFineTuneJob,
}

impl CreateFineTuneJob {
    /// `ValidateBasic`: creator, non-zero ids, a parseable fee, known target modules and a
    /// non-zero rank in a config that is present.
    pub fn check_stateless(msg: &MsgCreateFineTuneJob) -> Result<Self, ModelError> {
        let creator = address("creator", &msg.creator)?;
        if msg.base_model_id == 0 {
            return Err(ModelError::BaseModelNotFound(0));
        }
        if msg.datanet_id == 0 || msg.datanet_version == 0 {
            return Err(ModelError::VersionNotFound { datanet_id: msg.datanet_id, version: msg.datanet_version });
        }
        let fee = match &msg.fee {
            None => return Err(ModelError::InvalidCoins("a fine-tune job needs a fee".into())),
            Some(c) => Coin::from_proto(c).map_err(|e| ModelError::InvalidCoins(e.to_string()))?,
        };
        check_config_shape(msg.config.as_ref())?;
        Ok(Self {
            job: NewJob {
                creator,
                base_model_id: msg.base_model_id,
                datanet_id: msg.datanet_id,
                datanet_version: msg.datanet_version,
                config: msg.config.clone(),
                fee,
            },
            msg: msg.clone(),
        })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.job.creator.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        let config = m.config.as_ref().map(|c| {
            AminoObject::default()
                .num("rank", c.rank.into())
                .num("alpha", c.alpha.into())
                .list("target_modules", c.target_modules.iter().map(|t| Value::String(t.clone())).collect())
                .num("learning_rate_micro", c.learning_rate_micro.into())
                .num("epochs", c.epochs.into())
                .num("max_steps", c.max_steps.into())
                .num("batch_size", c.batch_size.into())
                .u64("seed", c.seed)
                .num("eval_split_bps", c.eval_split_bps.into())
                .num("max_seq_len", c.max_seq_len.into())
                .build()
        });
        let mut o = AminoObject::default()
            .str("creator", &m.creator)
            .u64("base_model_id", m.base_model_id)
            .u64("datanet_id", m.datanet_id)
            .u64("datanet_version", m.datanet_version);
        if let Some(c) = config {
            o = o.value("config", c);
        }
        o.value("fee", coin_amino(m.fee.as_ref())).typed("openledger/MsgCreateFineTuneJob")
    }

    /// Creates the job (see [`ModelKeeper::create_job`]).
    pub fn execute(&self, keeper: &ModelKeeper, state: &mut dyn StateWrite) -> Result<MsgCreateFineTuneJobResponse, ModelError> {
        let info = openledger_core::block::block_info(state)?;
        let job_id = keeper.create_job(state, info, &self.job)?;
        Ok(MsgCreateFineTuneJobResponse { job_id })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::keeper::tests::keeper;
    use openledger_core::delta::{EmptyState, StateDelta};
    use openledger_core::error::ErrorCode;

    pub fn addr(n: u8) -> Address {
        Address::from_bytes(&[n; 20]).unwrap()
    }

    pub fn hash(n: u8) -> String {
        hex::encode([n; 32])
    }

    pub fn base(owner: u8, weights: u8) -> MsgRegisterBaseModel {
        MsgRegisterBaseModel {
            owner: addr(owner).to_bech32(),
            name: "open-llama-3b".into(),
            architecture: "llama".into(),
            weights_hash: hash(weights),
            tokenizer_hash: hash(200),
            license: "Apache-2.0".into(),
            inference_price: Some(Coin::new("uopen", 10).to_proto()),
            chat_template_hash: String::new(),
        }
    }

    pub fn adapter(owner: u8, base_model_id: u64, h: u8, pins: &[(u64, u64)]) -> MsgRegisterAdapter {
        MsgRegisterAdapter {
            owner: addr(owner).to_bech32(),
            base_model_id,
            adapter_hash: hash(h),
            datanet_versions: pins.iter().map(|(d, v)| DatanetVersionRef { datanet_id: *d, version: *v }).collect(),
            training_config_hash: hash(201),
            inference_price: None,
        }
    }

    fn code(e: &ModelError) -> (&'static str, u32) {
        (e.codespace(), e.code())
    }

    fn fails_cleanly<T: std::fmt::Debug>(
        parent: &StateDelta<EmptyState>,
        f: impl FnOnce(&mut StateDelta<&StateDelta<EmptyState>>) -> Result<T, ModelError>,
    ) -> (&'static str, u32) {
        let mut child = StateDelta::new(parent);
        let err = f(&mut child).unwrap_err();
        assert!(child.changes().is_empty(), "a failed message wrote something");
        code(&err)
    }

    #[test]
    fn register_models_and_adapters_with_pinned_roots() {
        let k = keeper();
        let mut s = StateDelta::new(EmptyState);
        let m = RegisterBaseModel::check_stateless(&base(1, 1)).unwrap().execute(&k, &mut s).unwrap().base_model_id;
        assert_eq!(m, 1);
        let a = RegisterAdapter::check_stateless(&adapter(2, m, 50, &[(1, 2), (2, 1)])).unwrap().execute(&k, &mut s).unwrap().adapter_id;
        let stored = k.require_adapter(&s, a).unwrap();
        assert_eq!(stored.datanet_versions[0].merkle_root, vec![0xbb; 32]);
        assert_eq!(stored.datanet_versions[1].row_count, 3);
        assert_eq!(stored.inference_price.unwrap().amount, "0");

        // Duplicates, unknown base model, missing or delisted versions: clear codes, no writes.
        assert_eq!(fails_cleanly(&s, |c| RegisterBaseModel::check_stateless(&base(3, 1)).unwrap().execute(&k, c)), ("model", 6));
        assert_eq!(
            fails_cleanly(&s, |c| RegisterAdapter::check_stateless(&adapter(2, m, 50, &[(1, 1)])).unwrap().execute(&k, c)),
            ("model", 7)
        );
        assert_eq!(
            fails_cleanly(&s, |c| RegisterAdapter::check_stateless(&adapter(2, 9, 51, &[(1, 1)])).unwrap().execute(&k, c)),
            ("model", 4)
        );
        assert_eq!(
            fails_cleanly(&s, |c| RegisterAdapter::check_stateless(&adapter(2, m, 51, &[(1, 1), (1, 3)])).unwrap().execute(&k, c)),
            ("model", 8)
        );
        assert_eq!(
            fails_cleanly(&s, |c| RegisterAdapter::check_stateless(&adapter(2, m, 51, &[(3, 1)])).unwrap().execute(&k, c)),
            ("model", 9)
        );

        // Prices: owner only, exactly one target.
        let price = |owner: u8, base_model_id: u64, adapter_id: u64| {
            SetInferencePrice::check_stateless(&MsgSetInferencePrice {
                owner: addr(owner).to_bech32(),
                base_model_id,
                adapter_id,
                inference_price: Some(Coin::new("uopen", 99).to_proto()),
            })
        };
        assert_eq!(code(&price(2, 0, 0).unwrap_err()), ("model", 11));
        assert_eq!(code(&price(2, 1, 1).unwrap_err()), ("model", 11));
        assert_eq!(fails_cleanly(&s, |c| price(1, 0, a).unwrap().execute(&k, c)), ("sdk", 4));
        assert_eq!(fails_cleanly(&s, |c| price(2, 0, 77).unwrap().execute(&k, c)), ("model", 5));
        price(2, 0, a).unwrap().execute(&k, &mut s).unwrap();
        price(1, m, 0).unwrap().execute(&k, &mut s).unwrap();
        assert_eq!(k.require_adapter(&s, a).unwrap().inference_price.unwrap().amount, "99");
        assert_eq!(k.require_base_model(&s, m).unwrap().inference_price.unwrap().amount, "99");
    }

    #[test]
    fn governance_delists_models_and_adapters_and_nobody_else_can() {
        let k = keeper();
        let mut s = StateDelta::new(EmptyState);
        let m = RegisterBaseModel::check_stateless(&base(1, 1)).unwrap().execute(&k, &mut s).unwrap().base_model_id;
        let other = RegisterBaseModel::check_stateless(&base(1, 2)).unwrap().execute(&k, &mut s).unwrap().base_model_id;
        let a = RegisterAdapter::check_stateless(&adapter(2, m, 50, &[(1, 1)])).unwrap().execute(&k, &mut s).unwrap().adapter_id;
        let b = RegisterAdapter::check_stateless(&adapter(2, m, 51, &[(1, 2)])).unwrap().execute(&k, &mut s).unwrap().adapter_id;
        assert!(k.is_servable(&s, m, None).unwrap());
        assert!(k.is_servable(&s, m, Some(a)).unwrap());
        // Unknown ids and an adapter of another base model are errors, not "unservable".
        assert_eq!(code(&k.is_servable(&s, 9, None).unwrap_err()), ("model", 4));
        assert_eq!(code(&k.is_servable(&s, m, Some(9)).unwrap_err()), ("model", 5));
        assert_eq!(code(&k.is_servable(&s, other, Some(a)).unwrap_err()), ("model", 11));

        let gov = gov_authority().to_bech32();
        let delist_adapter = |authority: &str, adapter_id: u64| {
            DelistAdapter::check_stateless(&MsgDelistAdapter { authority: authority.into(), adapter_id, reason: "memorised PII".into() })
        };
        let delist_base = |authority: &str, base_model_id: u64| {
            DelistBaseModel::check_stateless(&MsgDelistBaseModel { authority: authority.into(), base_model_id, reason: "unsafe".into() })
        };
        // Only the gov module account may delist; unknown ids are not found; nothing is written.
        let owner = addr(2).to_bech32();
        assert_eq!(fails_cleanly(&s, |c| delist_adapter(&owner, a).unwrap().execute(&k, c)), ("sdk", 4));
        assert_eq!(fails_cleanly(&s, |c| delist_base(&addr(1).to_bech32(), m).unwrap().execute(&k, c)), ("sdk", 4));
        assert_eq!(fails_cleanly(&s, |c| delist_adapter(&gov, 77).unwrap().execute(&k, c)), ("model", 5));
        assert_eq!(fails_cleanly(&s, |c| delist_base(&gov, 77).unwrap().execute(&k, c)), ("model", 4));
        assert_eq!(code(&delist_base(&gov, 0).unwrap_err()), ("model", 4));
        assert_eq!(code(&delist_base("bad", m).unwrap_err()), ("sdk", 7));
        let long = MsgDelistAdapter { authority: gov.clone(), adapter_id: a, reason: "x".repeat(MAX_REASON_BYTES + 1) };
        assert_eq!(code(&DelistAdapter::check_stateless(&long).unwrap_err()), ("model", 2));

        // Delisting an adapter: it is reported delisted and not servable; its base and siblings are.
        delist_adapter(&gov, a).unwrap().execute(&k, &mut s).unwrap();
        let stored = k.require_adapter(&s, a).unwrap();
        assert!(stored.delisted);
        assert_eq!(stored.delist_reason, "memorised PII");
        assert!(!k.is_servable(&s, m, Some(a)).unwrap());
        assert_eq!(code(&k.check_servable(&s, m, Some(a)).unwrap_err()), ("model", 15));
        assert!(k.is_servable(&s, m, Some(b)).unwrap());
        assert!(k.is_servable(&s, m, None).unwrap());
        assert_eq!(fails_cleanly(&s, |c| delist_adapter(&gov, a).unwrap().execute(&k, c)), ("model", 16));

        // Delisting the base model: neither it nor any adapter on it is servable, and no new
        // adapter can be registered on it.
        delist_base(&gov, m).unwrap().execute(&k, &mut s).unwrap();
        assert!(k.require_base_model(&s, m).unwrap().delisted);
        assert!(!k.is_servable(&s, m, None).unwrap());
        assert!(!k.is_servable(&s, m, Some(b)).unwrap());
        assert_eq!(code(&k.check_servable(&s, m, Some(b)).unwrap_err()), ("model", 14));
        assert!(k.is_servable(&s, other, None).unwrap());
        assert_eq!(
            fails_cleanly(&s, |c| RegisterAdapter::check_stateless(&adapter(2, m, 52, &[(1, 1)])).unwrap().execute(&k, c)),
            ("model", 14)
        );
        assert_eq!(fails_cleanly(&s, |c| delist_base(&gov, m).unwrap().execute(&k, c)), ("model", 16));

        // Queries report it, and the genesis export round-trips the flags.
        let g = crate::genesis::export_genesis(&s).unwrap();
        assert!(g.base_models.iter().any(|bm| bm.id == m && bm.delisted && bm.delist_reason == "unsafe"));
        assert!(g.adapters.iter().any(|ad| ad.id == a && ad.delisted));
        let amino = delist_base(&gov, m).unwrap().amino_json();
        assert_eq!(amino["type"], "openledger/MsgDelistBaseModel");
        assert_eq!(amino["value"]["base_model_id"], "1");
    }

    #[test]
    fn stateless_checks_name_the_problem() {
        let with = |f: &dyn Fn(&mut MsgRegisterBaseModel)| {
            let mut m = base(1, 1);
            f(&mut m);
            RegisterBaseModel::check_stateless(&m).map(|_| ()).map_err(|e| code(&e))
        };
        assert_eq!(with(&|_| ()), Ok(()));
        assert_eq!(with(&|m| m.weights_hash = "sha256:abc".into()), Err(("model", 3)));
        assert_eq!(with(&|m| m.tokenizer_hash.clear()), Err(("model", 3)));
        assert_eq!(with(&|m| m.chat_template_hash = "not a hash".into()), Err(("model", 3)));
        let chat = base(1, 1);
        let chat = MsgRegisterBaseModel { chat_template_hash: "AB".repeat(32), ..chat };
        let checked = RegisterBaseModel::check_stateless(&chat).unwrap();
        assert_eq!(checked.chat_template_hash, "ab".repeat(32), "stored lower-case");
        assert_eq!(checked.amino_json()["value"]["chat_template_hash"], "AB".repeat(32), "signed as sent");
        assert_eq!(with(&|m| m.name.clear()), Err(("model", 2)));
        assert_eq!(with(&|m| m.architecture = "x".repeat(65)), Err(("model", 2)));
        assert_eq!(with(&|m| m.owner = "bad".into()), Err(("sdk", 7)));
        assert_eq!(with(&|m| m.inference_price = Some(Coin::new("uatom", 1).to_proto())), Err(("sdk", 10)));
        let pins = |p: &[(u64, u64)]| RegisterAdapter::check_stateless(&adapter(1, 1, 9, p)).map(|_| ()).map_err(|e| code(&e));
        assert_eq!(pins(&[]), Err(("model", 10)));
        assert_eq!(pins(&[(1, 1), (1, 1)]), Err(("model", 10)));
        assert_eq!(pins(&[(1, 0)]), Err(("model", 10)));
        let many: Vec<(u64, u64)> = (1..=33).map(|v| (1, v)).collect();
        assert_eq!(pins(&many), Err(("model", 10)));
        // Upper-case hashes are the same weights.
        let k = keeper();
        let mut s = StateDelta::new(EmptyState);
        RegisterBaseModel::check_stateless(&base(1, 0xab)).unwrap().execute(&k, &mut s).unwrap();
        let mut upper = base(1, 0xab);
        upper.weights_hash = upper.weights_hash.to_uppercase();
        assert_eq!(fails_cleanly(&s, |c| RegisterBaseModel::check_stateless(&upper).unwrap().execute(&k, c)), ("model", 6));
        let amino = RegisterAdapter::check_stateless(&adapter(1, 1, 9, &[(1, 2)])).unwrap().amino_json();
        assert_eq!(amino["type"], "openledger/MsgRegisterAdapter");
        assert_eq!(amino["value"]["datanet_versions"][0]["version"], "2");
    }
}
