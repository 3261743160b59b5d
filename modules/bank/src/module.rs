//! The bank as a module of the registry: its messages (`MsgSend`, `MsgMultiSend`, its
//! `MsgUpdateParams`) with their amino JSON forms, its genesis section and its query service.

use std::sync::Arc;

use cosmos_sdk_proto::cosmos::bank::v1beta1::{
    MsgMultiSend, MsgMultiSendResponse, MsgSend, MsgSendResponse, MsgUpdateParams, MsgUpdateParamsResponse,
};
use cosmos_sdk_proto::Any;
use openledger_core::amino::{coins_amino, AminoObject};
use openledger_core::block::BlockInfo;
use openledger_core::module::{
    account_field, export_section, import_section, pack_response, require_gov_authority, required_params, route, update_params_amino,
    Module, ModuleMsg, MsgHandler, MsgRouter, ValidatorUpdate,
};
use openledger_core::query::QueryService;
use openledger_core::{proto_msg, AbciError, Address, StateRead, StateWrite};
use serde_json::{json, Value};

use crate::error::BankError;
use crate::genesis::BankGenesis;
use crate::keeper::BankKeeper;
use crate::msg::{MultiSend, Send};
use crate::query::BankQuery;

/// The bank module.
pub struct BankModule(pub BankKeeper);

impl ModuleMsg for Send {
    type Proto = MsgSend;
    type Keeper = BankKeeper;
    type Error = BankError;
    const TYPE_URL: &'static str = "/cosmos.bank.v1beta1.MsgSend";
    const MODULE: &'static str = "bank";
    fn check(proto: MsgSend) -> Result<Self, BankError> {
        Send::check_stateless(&proto)
    }
    fn signers(&self) -> Vec<Address> {
        vec![self.from.clone()]
    }
    fn amino_json(&self, _: &dyn MsgRouter) -> Value {
        json!({"type": "cosmos-sdk/MsgSend", "value": {
            "amount": coins_amino(&self.amount), "from_address": self.from.to_bech32(), "to_address": self.to.to_bech32()}})
    }
    fn execute(&self, bank: &BankKeeper, _: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, BankError> {
        self.send(bank, state)?;
        Ok(pack_response(Self::TYPE_URL, &MsgSendResponse {}))
    }
}

impl ModuleMsg for MultiSend {
    type Proto = MsgMultiSend;
    type Keeper = BankKeeper;
    type Error = BankError;
    const TYPE_URL: &'static str = "/cosmos.bank.v1beta1.MsgMultiSend";
    const MODULE: &'static str = "bank";
    fn check(proto: MsgMultiSend) -> Result<Self, BankError> {
        MultiSend::check_stateless(&proto)
    }
    fn signers(&self) -> Vec<Address> {
        vec![self.input.0.clone()]
    }
    fn amino_json(&self, _: &dyn MsgRouter) -> Value {
        json!({"type": "cosmos-sdk/MsgMultiSend", "value": {
            "inputs": [{"address": self.input.0.to_bech32(), "coins": coins_amino(&self.input.1)}],
            "outputs": self.outputs.iter().map(|(a, c)| json!({"address": a.to_bech32(), "coins": coins_amino(c)})).collect::<Vec<_>>(),
        }})
    }
    fn execute(&self, bank: &BankKeeper, _: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, BankError> {
        self.send(bank, state)?;
        Ok(pack_response(Self::TYPE_URL, &MsgMultiSendResponse {}))
    }
}

proto_msg! {
    /// `cosmos.bank.v1beta1.MsgUpdateParams` (the gov authority only)
    UpdateParams(MsgUpdateParams), url "/cosmos.bank.v1beta1.MsgUpdateParams", module "bank", keeper BankKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        required_params(m.params.as_ref())?;
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.params.clone().unwrap_or_default();
        #[allow(deprecated)] // `send_enabled` is signed too
        let send_enabled: Vec<Value> =
            p.send_enabled.iter().map(|e| AminoObject::default().str("denom", &e.denom).bool("enabled", e.enabled).build()).collect();
        let params = AminoObject::default().list("send_enabled", send_enabled).bool("default_send_enabled", p.default_send_enabled).build();
        update_params_amino("cosmos-sdk/x/bank/MsgUpdateParams", &m.authority, params)
    };
    execute(m, bank, state) {
        require_gov_authority(&m.authority)?;
        bank.set_params(state, &m.params.clone().unwrap_or_default()).map_err(|e| AbciError::from_code(&e))?;
        Ok(pack_response(Self::TYPE_URL, &MsgUpdateParamsResponse {}))
    }
}

impl Module for BankModule {
    fn name(&self) -> &'static str {
        "bank"
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        let keeper = Arc::new(self.0.clone());
        vec![route::<Send>(keeper.clone()), route::<MultiSend>(keeper.clone()), route::<UpdateParams>(keeper)]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(BankQuery(self.0.clone())))
    }
    fn init_genesis(&self, state: &mut dyn StateWrite, _: BlockInfo, genesis: Option<&Value>) -> Result<Vec<ValidatorUpdate>, AbciError> {
        import_section(self.name(), genesis, |s: &BankGenesis| crate::genesis::init_genesis(&self.0, state, s))
    }
    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        export_section(self.name(), crate::genesis::export_genesis(&self.0, state))
    }
}
