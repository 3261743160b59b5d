//! The model registry as a module of the registry: base models, adapters with their lineage,
//! inference prices and the governance-only delistings; ModelFactory fine-tune jobs and their
//! governed params (`MsgUpdateParams`), the end block that expires unattested jobs; genesis and
//! the query service.

use std::sync::Arc;

use openledger_core::amino::{coin_amino, AminoObject};
use openledger_core::block::BlockInfo;
use openledger_core::module::{
    account_field, export_section, import_section, pack_response, require_gov_authority, required_params, route, update_params_amino,
    BlockContext, Module, MsgHandler, ValidatorUpdate,
};
use openledger_core::query::QueryService;
use openledger_core::{inherent_msgs, proto_msg, AbciError, StateRead, StateWrite};
use openledger_proto::openledger::model::v1 as pb;
use serde_json::Value;

use crate::error::ModelError;
use crate::finetune::validate_params;
use crate::genesis::ModelGenesis;
use crate::keeper::ModelKeeper;
use crate::msg::{
    CreateFineTuneJob, DelistAdapter, DelistBaseModel, RegisterAdapter, RegisterBaseModel, SetInferencePrice, MSG_CREATE_FINE_TUNE_JOB,
    MSG_DELIST_ADAPTER, MSG_DELIST_BASE_MODEL, MSG_REGISTER_ADAPTER, MSG_REGISTER_BASE_MODEL, MSG_SET_INFERENCE_PRICE,
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
    CreateFineTuneJob: pb::MsgCreateFineTuneJob = MSG_CREATE_FINE_TUNE_JOB;
}

fn code(e: crate::error::ModelError) -> AbciError {
    AbciError::from_code(&e)
}

proto_msg! {
    /// `openledger.model.v1.MsgUpdateParams`: the fine-tuning params (the gov authority only)
    UpdateParams(pb::MsgUpdateParams), url "/openledger.model.v1.MsgUpdateParams", module "model", keeper ModelKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        validate_params(required_params(m.params.as_ref())?).map_err(code)?;
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.params.clone().unwrap_or_default();
        let split = p.fee_split.unwrap_or_default();
        let params = AminoObject::default()
            .value("min_fee", coin_amino(p.min_fee.as_ref()))
            .num("max_rank", p.max_rank.into())
            .num("max_epochs", p.max_epochs.into())
            .num("max_steps", p.max_steps.into())
            .num("max_batch_size", p.max_batch_size.into())
            .num("max_seq_len", p.max_seq_len.into())
            .u64("job_deadline_blocks", p.job_deadline_blocks)
            .value(
                "fee_split",
                AminoObject::default()
                    .num("executors_bps", split.executors_bps.into())
                    .num("contributors_bps", split.contributors_bps.into())
                    .num("community_bps", split.community_bps.into())
                    .build(),
            )
            .num("max_active_jobs", p.max_active_jobs.into())
            .u64("max_rows_per_job", p.max_rows_per_job)
            .build();
        update_params_amino("openledger/x/model/MsgUpdateParams", &m.authority, params)
    };
    execute(m, keeper, state) {
        require_gov_authority(&m.authority)?;
        keeper.set_fine_tune_params(state, &m.params.clone().unwrap_or_default()).map_err(code)?;
        Ok(pack_response(Self::TYPE_URL, &pb::MsgUpdateParamsResponse {}))
    }
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
            route::<DelistAdapter>(k.clone()),
            route::<CreateFineTuneJob>(k.clone()),
            route::<UpdateParams>(k),
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
    /// Expires the fine-tune jobs whose deadline passed unattested (refunds their fees).
    fn end_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<Vec<ValidatorUpdate>, AbciError> {
        self.0.expire_jobs(state, ctx.info).map_err(code)?;
        Ok(Vec::new())
    }
}
