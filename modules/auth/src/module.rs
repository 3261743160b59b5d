//! Auth as a module of the registry: its `MsgUpdateParams`, its genesis section (imported first:
//! the module accounts are created right after it), the fee collector and community incentive
//! accounts, and its query service.

use std::sync::Arc;

use cosmos_sdk_proto::cosmos::auth::v1beta1::{MsgUpdateParams, MsgUpdateParamsResponse};
use openledger_core::amino::AminoObject;
use openledger_core::block::BlockInfo;
use openledger_core::module::{
    account_field, export_section, import_section, internal, invalid_request, pack_response, require_gov_authority, required_params, route,
    update_params_amino, Module, ModuleAccount, MsgHandler, ValidatorUpdate,
};
use openledger_core::query::QueryService;
use openledger_core::{proto_msg, AbciError, StateRead, StateWrite};
use serde_json::Value;

use crate::genesis::AuthGenesis;
use crate::keeper::AuthKeeper;
use crate::query::AuthQuery;

/// Module account that collects tx fees.
pub const FEE_COLLECTOR: &str = "fee_collector";
/// Module account holding the community incentives (51.7 % of genesis supply).
pub const COMMUNITY_INCENTIVES: &str = "community_incentives";

/// The auth module.
pub struct AuthModule;

proto_msg! {
    /// `cosmos.auth.v1beta1.MsgUpdateParams` (the gov authority only)
    UpdateParams(MsgUpdateParams), url "/cosmos.auth.v1beta1.MsgUpdateParams", module "auth", keeper AuthKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        let p = required_params(m.params.as_ref())?;
        if p.max_memo_characters == 0 || p.tx_sig_limit == 0 || p.tx_size_cost_per_byte == 0 {
            return Err(invalid_request("auth params must be positive"));
        }
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.params.clone().unwrap_or_default();
        let params = AminoObject::default()
            .u64("max_memo_characters", p.max_memo_characters)
            .u64("tx_sig_limit", p.tx_sig_limit)
            .u64("tx_size_cost_per_byte", p.tx_size_cost_per_byte)
            .u64("sig_verify_cost_ed25519", p.sig_verify_cost_ed25519)
            .u64("sig_verify_cost_secp256k1", p.sig_verify_cost_secp256k1)
            .build();
        update_params_amino("cosmos-sdk/x/auth/MsgUpdateParams", &m.authority, params)
    };
    execute(m, _keeper, state) {
        require_gov_authority(&m.authority)?;
        crate::params::set_params(state, &m.params.clone().unwrap_or_default()).map_err(|e| AbciError::from_code(&e))?;
        Ok(pack_response(Self::TYPE_URL, &MsgUpdateParamsResponse {}))
    }
}

impl Module for AuthModule {
    fn name(&self) -> &'static str {
        "auth"
    }
    fn module_accounts(&self) -> Vec<ModuleAccount> {
        vec![(FEE_COLLECTOR, &[]), (COMMUNITY_INCENTIVES, &[])]
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        vec![route::<UpdateParams>(Arc::new(AuthKeeper))]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(AuthQuery))
    }
    fn init_genesis(&self, state: &mut dyn StateWrite, _: BlockInfo, genesis: Option<&Value>) -> Result<Vec<ValidatorUpdate>, AbciError> {
        import_section(self.name(), genesis, |s: &AuthGenesis| crate::genesis::init_genesis(state, s))
    }
    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        export_section(self.name(), crate::genesis::export_genesis(state))
    }
}

/// Creates a module account at genesis (the registry calls this for every module's accounts).
pub fn create_module_account(state: &mut dyn StateWrite, account: &ModuleAccount) -> Result<(), AbciError> {
    let (name, permissions) = account;
    AuthKeeper.ensure_module_account(state, name, permissions).map(|_| ()).map_err(|e| internal(&format!("module account {name}"), e))
}
