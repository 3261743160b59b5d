//! The model registry as a module of the registry: base models, adapters with their lineage,
//! inference prices and the governance-only delistings; genesis and the query service.

use std::sync::Arc;

use openledger_core::block::BlockInfo;
use openledger_core::module::{export_section, import_section, route, Module, MsgHandler, ValidatorUpdate};
use openledger_core::query::QueryService;
use openledger_core::{inherent_msgs, AbciError, StateRead, StateWrite};
use openledger_proto::openledger::model::v1 as pb;
use serde_json::Value;

use crate::error::ModelError;
use crate::genesis::ModelGenesis;
use crate::keeper::ModelKeeper;
use crate::msg::{
    DelistAdapter, DelistBaseModel, RegisterAdapter, RegisterBaseModel, SetInferencePrice, MSG_DELIST_ADAPTER, MSG_DELIST_BASE_MODEL,
    MSG_REGISTER_ADAPTER, MSG_REGISTER_BASE_MODEL, MSG_SET_INFERENCE_PRICE,
};
use crate::query::ModelQuery;

/// The model registry module.
pub struct ModelModule(pub ModelKeeper);

inherent_msgs! {
    keeper ModelKeeper, error ModelError, module "model";
    RegisterBaseModel: pb::MsgRegisterBaseModel = MSG_REGISTER_BASE_MODEL;
    RegisterAdapter: pb::MsgRegisterAdapter = MSG_REGISTER_ADAPTER;
    SetInferencePrice: pb::MsgSetInferencePrice = MSG_SET_INFERENCE_PRICE;
    DelistBaseModel: pb::MsgDelistBaseModel = MSG_DELIST_BASE_MODEL;
    DelistAdapter: pb::MsgDelistAdapter = MSG_DELIST_ADAPTER;
}

impl Module for ModelModule {
    fn name(&self) -> &'static str {
        "model"
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        let k = Arc::new(self.0.clone());
        vec![
            route::<RegisterBaseModel>(k.clone()),
            route::<RegisterAdapter>(k.clone()),
            route::<SetInferencePrice>(k.clone()),
            route::<DelistBaseModel>(k.clone()),
            route::<DelistAdapter>(k),
        ]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(ModelQuery(self.0.clone())))
    }
    fn init_genesis(&self, state: &mut dyn StateWrite, _: BlockInfo, genesis: Option<&Value>) -> Result<Vec<ValidatorUpdate>, AbciError> {
        import_section(self.name(), genesis, |s: &ModelGenesis| crate::genesis::init_genesis(&self.0, state, s))
    }
    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        export_section(self.name(), crate::genesis::export_genesis(state))
    }
}
