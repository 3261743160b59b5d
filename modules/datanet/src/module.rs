//! Datanets as a module of the registry: the datanet messages (create, update, contribute,
//! review, publish, and the governance-only delistings and `MsgUpdateParams`), the contribution
//! bonds account, genesis and the query service.

use std::sync::Arc;

use cosmos_sdk_proto::Any;
use openledger_core::amino::{coin_amino, AminoObject};
use openledger_core::block::BlockInfo;
use openledger_core::module::{
    account_field, export_section, import_section, pack_response, require_gov_authority, required_params, route, update_params_amino,
    Module, ModuleAccount, ModuleMsg, MsgHandler, MsgRouter, ValidatorUpdate,
};
use openledger_core::query::QueryService;
use openledger_core::{inherent_msgs, proto_msg, AbciError, Address, StateRead, StateWrite};
use openledger_proto::openledger::datanet::v1 as pb;
use serde_json::Value;

use crate::error::DatanetError;
use crate::genesis::DatanetGenesis;
use crate::keeper::{validate_params, DatanetKeeper, BONDS_ACCOUNT};
use crate::msg::{
    CreateDatanet, DelistDatanet, DelistRow, PublishVersion, ReviewContribution, SubmitContribution, UpdateDatanet, MSG_CREATE_DATANET,
    MSG_DELIST_DATANET, MSG_DELIST_ROW, MSG_PUBLISH_VERSION, MSG_REVIEW_CONTRIBUTION, MSG_SUBMIT_CONTRIBUTION, MSG_UPDATE_DATANET,
};
use crate::query::DatanetQuery;

/// Type URL of the datanet module's `MsgUpdateParams`.
pub const MSG_UPDATE_PARAMS: &str = "/openledger.datanet.v1.MsgUpdateParams";

/// The datanet module.
pub struct DatanetModule(pub DatanetKeeper);

inherent_msgs! {
    keeper DatanetKeeper, error DatanetError, module "datanet";
    CreateDatanet: pb::MsgCreateDatanet = MSG_CREATE_DATANET;
    UpdateDatanet: pb::MsgUpdateDatanet = MSG_UPDATE_DATANET;
    SubmitContribution: pb::MsgSubmitContribution = MSG_SUBMIT_CONTRIBUTION;
    ReviewContribution: pb::MsgReviewContribution = MSG_REVIEW_CONTRIBUTION;
    DelistDatanet: pb::MsgDelistDatanet = MSG_DELIST_DATANET;
    DelistRow: pb::MsgDelistRow = MSG_DELIST_ROW;
}

impl ModuleMsg for PublishVersion {
    type Proto = pb::MsgPublishVersion;
    type Keeper = DatanetKeeper;
    type Error = AbciError;
    const TYPE_URL: &'static str = MSG_PUBLISH_VERSION;
    const MODULE: &'static str = "datanet";
    fn check(proto: pb::MsgPublishVersion) -> Result<Self, AbciError> {
        PublishVersion::check_stateless(&proto).map_err(|e| AbciError::from_code(&e))
    }
    fn signers(&self) -> Vec<Address> {
        PublishVersion::signers(self)
    }
    fn amino_json(&self, _: &dyn MsgRouter) -> Value {
        PublishVersion::amino_json(self)
    }
    /// Publishes, then tells the publish listener in the same message layer: a failed tx
    /// queues nothing, and the index is built at this block's end.
    fn execute(&self, keeper: &DatanetKeeper, _: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        let published = PublishVersion::execute(self, keeper, state).map_err(|e| AbciError::from_code(&e))?;
        keeper.version_published(state, self.msg.datanet_id, published.version)?;
        Ok(pack_response(Self::TYPE_URL, &published))
    }
}

proto_msg! {
    /// `openledger.datanet.v1.MsgUpdateParams`: the curation standards (the gov authority only)
    UpdateParams(pb::MsgUpdateParams), url "/openledger.datanet.v1.MsgUpdateParams", module "datanet", keeper DatanetKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        validate_params(required_params(m.params.as_ref())?).map_err(|e| AbciError::from_code(&e))?;
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.params.clone().unwrap_or_default();
        let params = AminoObject::default()
            .u64("max_rows_per_contribution", p.max_rows_per_contribution)
            .u64("max_row_bytes_cap", p.max_row_bytes_cap)
            .num("max_curators", p.max_curators.into())
            .value("min_contribution_bond", coin_amino(p.min_contribution_bond.as_ref()))
            .build();
        update_params_amino("openledger/x/datanet/MsgUpdateParams", &m.authority, params)
    };
    execute(m, keeper, state) {
        require_gov_authority(&m.authority)?;
        keeper.set_params(state, &m.params.clone().unwrap_or_default()).map_err(|e| AbciError::from_code(&e))?;
        Ok(pack_response(Self::TYPE_URL, &pb::MsgUpdateParamsResponse {}))
    }
}

impl Module for DatanetModule {
    fn name(&self) -> &'static str {
        "datanet"
    }
    fn module_accounts(&self) -> Vec<ModuleAccount> {
        vec![(BONDS_ACCOUNT, &["burner"])]
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        let k = Arc::new(self.0.clone());
        vec![
            route::<CreateDatanet>(k.clone()),
            route::<UpdateDatanet>(k.clone()),
            route::<SubmitContribution>(k.clone()),
            route::<ReviewContribution>(k.clone()),
            route::<PublishVersion>(k.clone()),
            route::<DelistDatanet>(k.clone()),
            route::<DelistRow>(k.clone()),
            route::<UpdateParams>(k),
        ]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(DatanetQuery(self.0.clone())))
    }
    fn init_genesis(&self, state: &mut dyn StateWrite, _: BlockInfo, genesis: Option<&Value>) -> Result<Vec<ValidatorUpdate>, AbciError> {
        import_section(self.name(), genesis, |s: &DatanetGenesis| crate::genesis::init_genesis(&self.0, state, s))
    }
    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        export_section(self.name(), crate::genesis::export_genesis(&self.0, state))
    }
}
