//! Proof of Attribution as a module of the registry: its `MsgUpdateParams`, genesis (indexes
//! rebuilt from the datanet state, so it imports after datanet), the end block that indexes the
//! versions published in the block, the listener datanet tells of each publish, and the query
//! service.

use std::sync::Arc;

use cosmos_sdk_proto::Any;
use openledger_core::block::BlockInfo;
use openledger_core::module::{
    account_field, export_section, import_section, pack_response, require_gov_authority, route, update_params_amino, BlockContext, Hook,
    Module, ModuleMsg, MsgHandler, MsgRouter, ValidatorUpdate,
};
use openledger_core::query::QueryService;
use openledger_core::{AbciError, Address, StateRead, StateWrite};
use openledger_proto::openledger::attribution::v1 as pb;
use serde_json::Value;

use crate::genesis::AttributionGenesis;
use crate::keeper::AttributionKeeper;
use crate::msg::{params_amino, UpdateParams, AMINO_UPDATE_PARAMS, MSG_UPDATE_PARAMS};
use crate::query::AttributionQuery;

/// The attribution module.
pub struct AttributionModule(pub AttributionKeeper);

fn code<E: openledger_core::ErrorCode>(e: E) -> AbciError {
    AbciError::from_code(&e)
}

/// `openledger.attribution.v1.MsgUpdateParams` as signed (the gov authority only).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateParamsMsg {
    /// The message as signed.
    pub msg: pb::MsgUpdateParams,
    /// Its validated form.
    pub update: UpdateParams,
}

impl ModuleMsg for UpdateParamsMsg {
    type Proto = pb::MsgUpdateParams;
    type Keeper = AttributionKeeper;
    type Error = AbciError;
    const TYPE_URL: &'static str = MSG_UPDATE_PARAMS;
    const MODULE: &'static str = "attribution";
    fn check(msg: pb::MsgUpdateParams) -> Result<Self, AbciError> {
        account_field("authority", &msg.authority)?;
        let update = UpdateParams::check_stateless(&msg).map_err(code)?;
        Ok(Self { msg, update })
    }
    fn signers(&self) -> Vec<Address> {
        vec![self.update.authority.clone()]
    }
    fn amino_json(&self, _: &dyn MsgRouter) -> Value {
        update_params_amino(AMINO_UPDATE_PARAMS, &self.msg.authority, params_amino(&self.update.params))
    }
    fn execute(&self, keeper: &AttributionKeeper, _: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        require_gov_authority(&self.msg.authority)?;
        let response = self.update.execute(keeper, state).map_err(code)?;
        Ok(pack_response(Self::TYPE_URL, &response))
    }
}

impl openledger_datanet::PublishHook for AttributionKeeper {
    /// Queues the version for indexing at this block's end.
    fn version_published(&self, state: &mut dyn StateWrite, datanet_id: u64, version: u64) -> Result<(), AbciError> {
        self.on_version_published(state, datanet_id, version).map_err(code)
    }
}

impl Module for AttributionModule {
    fn name(&self) -> &'static str {
        "attribution"
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        vec![route::<UpdateParamsMsg>(Arc::new(self.0.clone()))]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(AttributionQuery(self.0.clone())))
    }
    /// Genesis after datanet (indexes are rebuilt from its rows); end block after gov (new
    /// params apply to this block's indexing).
    fn runs_after(&self, hook: Hook) -> &'static [&'static str] {
        match hook {
            Hook::InitGenesis => &["datanet"],
            Hook::BeginBlock => &[],
            Hook::EndBlock => &["gov"],
        }
    }
    fn init_genesis(&self, state: &mut dyn StateWrite, _: BlockInfo, genesis: Option<&Value>) -> Result<Vec<ValidatorUpdate>, AbciError> {
        import_section(self.name(), genesis, |s: &AttributionGenesis| crate::genesis::init_genesis(&self.0, state, s))
    }
    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        export_section(self.name(), crate::genesis::export_genesis(&self.0, state))
    }
    /// Indexes the versions published in this block (a few per block; the rest wait).
    fn end_block(&self, _: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<Vec<ValidatorUpdate>, AbciError> {
        self.0.end_block(state).map_err(code)?;
        Ok(Vec::new())
    }
}
