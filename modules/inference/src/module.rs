//! Verifiable inference as a module of the registry: `MsgRequestInference`,
//! `MsgRegisterExecutor` and its `MsgUpdateParams`, the escrow account, genesis, the begin block
//! that records the block hash (request seeds) and the end block that refunds expired requests.
//! The vote-extension half of the protocol (ExtendVote, injected results) is driven by the app.

use std::sync::Arc;

use cosmos_sdk_proto::Any;
use openledger_core::amino::AminoObject;
use openledger_core::block::{block_info, BlockInfo};
use openledger_core::module::{
    account_field, export_section, import_section, pack_response, require_gov_authority, required_params, route, update_params_amino,
    BlockContext, Hook, Module, ModuleAccount, ModuleMsg, MsgHandler, MsgRouter, ValidatorUpdate,
};
use openledger_core::query::QueryService;
use openledger_core::{proto_msg, AbciError, Address, StateRead, StateWrite};
use openledger_proto::openledger::inference::v1 as pb;
use serde_json::Value;

use crate::genesis::InferenceGenesis;
use crate::keeper::{validate_params, InferenceKeeper, INFERENCE_ACCOUNT};
use crate::msg::{RegisterExecutor, RequestInference, MSG_REGISTER_EXECUTOR, MSG_REQUEST_INFERENCE};
use crate::query::InferenceQuery;

/// The inference module.
pub struct InferenceModule(pub InferenceKeeper);

fn code<E: openledger_core::ErrorCode>(e: E) -> AbciError {
    AbciError::from_code(&e)
}

impl ModuleMsg for RequestInference {
    type Proto = pb::MsgRequestInference;
    type Keeper = InferenceKeeper;
    type Error = AbciError;
    const TYPE_URL: &'static str = MSG_REQUEST_INFERENCE;
    const MODULE: &'static str = "inference";
    fn check(proto: pb::MsgRequestInference) -> Result<Self, AbciError> {
        RequestInference::check_stateless(&proto).map_err(code)
    }
    fn signers(&self) -> Vec<Address> {
        RequestInference::signers(self)
    }
    fn amino_json(&self, _: &dyn MsgRouter) -> Value {
        RequestInference::amino_json(self)
    }
    fn execute(&self, keeper: &InferenceKeeper, _: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        let info = block_info(state).map_err(code)?;
        let response = RequestInference::execute(self, keeper, state, info).map_err(code)?;
        Ok(pack_response(Self::TYPE_URL, &response))
    }
}

impl ModuleMsg for RegisterExecutor {
    type Proto = pb::MsgRegisterExecutor;
    type Keeper = InferenceKeeper;
    type Error = AbciError;
    const TYPE_URL: &'static str = MSG_REGISTER_EXECUTOR;
    const MODULE: &'static str = "inference";
    fn check(proto: pb::MsgRegisterExecutor) -> Result<Self, AbciError> {
        RegisterExecutor::check_stateless(&proto).map_err(code)
    }
    fn signers(&self) -> Vec<Address> {
        RegisterExecutor::signers(self)
    }
    fn amino_json(&self, _: &dyn MsgRouter) -> Value {
        RegisterExecutor::amino_json(self)
    }
    fn execute(&self, keeper: &InferenceKeeper, _: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        let info = block_info(state).map_err(code)?;
        let response = RegisterExecutor::execute(self, keeper, state, info).map_err(code)?;
        Ok(pack_response(Self::TYPE_URL, &response))
    }
}

proto_msg! {
    /// `openledger.inference.v1.MsgUpdateParams`: fee split, deadlines, determinism profile
    /// (the gov authority only)
    UpdateParams(pb::MsgUpdateParams), url "/openledger.inference.v1.MsgUpdateParams", module "inference", keeper InferenceKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        validate_params(required_params(m.params.as_ref())?).map_err(code)?;
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.params.clone().unwrap_or_default();
        let profile = p.profile.unwrap_or_default();
        let split = p.fee_split.unwrap_or_default();
        let params = AminoObject::default()
            .u64("deadline_blocks", p.deadline_blocks)
            .num("max_prompt_bytes", p.max_prompt_bytes.into())
            .num("max_tokens_cap", p.max_tokens_cap.into())
            .value(
                "profile",
                AminoObject::default()
                    .str("dtype", &profile.dtype)
                    .num("sampling", profile.sampling.into())
                    .num("temperature_milli", profile.temperature_milli.into())
                    .num("top_k", profile.top_k.into())
                    .num("max_tokens", profile.max_tokens.into())
                    .bool("prefix_cache", profile.prefix_cache)
                    .num("batching", profile.batching.into())
                    .build(),
            )
            .value(
                "fee_split",
                AminoObject::default()
                    .num("contributors_bps", split.contributors_bps.into())
                    .num("owner_bps", split.owner_bps.into())
                    .num("executors_bps", split.executors_bps.into())
                    .num("community_bps", split.community_bps.into())
                    .build(),
            )
            .str("wrong_result_slash_fraction", &p.wrong_result_slash_fraction)
            .num("max_requests_per_block", p.max_requests_per_block.into())
            .num("max_models_per_executor", p.max_models_per_executor.into())
            .build();
        update_params_amino("openledger/x/inference/MsgUpdateParams", &m.authority, params)
    };
    execute(m, keeper, state) {
        require_gov_authority(&m.authority)?;
        keeper.set_params(state, &m.params.clone().unwrap_or_default()).map_err(code)?;
        Ok(pack_response(Self::TYPE_URL, &pb::MsgUpdateParamsResponse {}))
    }
}

impl Module for InferenceModule {
    fn name(&self) -> &'static str {
        "inference"
    }
    fn module_accounts(&self) -> Vec<ModuleAccount> {
        vec![(INFERENCE_ACCOUNT, &[])]
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        let k = Arc::new(self.0.clone());
        vec![route::<RequestInference>(k.clone()), route::<RegisterExecutor>(k.clone()), route::<UpdateParams>(k)]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(InferenceQuery(self.0.clone())))
    }
    /// Genesis after stake and model (registrations name validators and base models); begin
    /// block after the upgrade check; end block after gov (new params apply first).
    fn runs_after(&self, hook: Hook) -> &'static [&'static str] {
        match hook {
            Hook::InitGenesis => &["stake", "model"],
            Hook::BeginBlock => &["upgrade"],
            Hook::EndBlock => &["gov"],
        }
    }
    fn init_genesis(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        genesis: Option<&Value>,
    ) -> Result<Vec<ValidatorUpdate>, AbciError> {
        import_section(self.name(), genesis, |s: &InferenceGenesis| crate::genesis::init_genesis(&self.0, state, s, info))
    }
    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        export_section(self.name(), crate::genesis::export_genesis(&self.0, state))
    }
    /// Records the block hash: the seed of every request of this block.
    fn begin_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<(), AbciError> {
        self.0.begin_block(state, &ctx.request.hash).map_err(code)
    }
    /// Refunds the requests whose deadline passed unanswered.
    fn end_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<Vec<ValidatorUpdate>, AbciError> {
        self.0.end_block(state, ctx.info).map_err(code)?;
        Ok(Vec::new())
    }
}
