//! Gov as a module of the registry: `MsgSubmitProposal`, `MsgDeposit` and the three vote forms
//! (v1 and v1beta1, as Keplr signs the latter), `MsgUpdateParams`, genesis, the end block that
//! tallies and runs passed proposals through the app's message router, and the query services.

use std::sync::Arc;

use cosmos_sdk_proto::cosmos::gov::v1 as govpb;
use cosmos_sdk_proto::cosmos::gov::v1beta1 as gov1b1;
use cosmos_sdk_proto::Any;
use openledger_core::amino::{base64_std, duration_amino, proto_coins_amino, AminoObject};
use openledger_core::block::BlockInfo;
use openledger_core::error::sdk_codes;
use openledger_core::module::{
    account_field, export_section, import_section, pack_response, required_params, route, update_params_amino, BlockContext, Module,
    ModuleAccount, MsgHandler, MsgRouter, ValidatorUpdate,
};
use openledger_core::query::QueryService;
use openledger_core::{proto_msg, AbciError, Address, StateRead, StateWrite};
use serde_json::{json, Value};

use crate::error::GovError;
use crate::genesis::GovGenesis;
use crate::keeper::{check_authority, parse_options, single_option, GovKeeper, ProposalExecutor, GOV_MODULE};
use crate::query::GovQuery;

/// Type URL of `cosmos.gov.v1.MsgSubmitProposal`.
pub const MSG_SUBMIT_PROPOSAL: &str = "/cosmos.gov.v1.MsgSubmitProposal";

/// The gov module.
pub struct GovModule(pub GovKeeper);

fn gov_err(e: GovError) -> AbciError {
    AbciError::from_code(&e)
}

/// The app's message router as gov runs proposal messages.
struct RouterExecutor<'a>(&'a dyn MsgRouter);

impl ProposalExecutor for RouterExecutor<'_> {
    fn signers(&self, msg: &Any) -> Result<Vec<Address>, AbciError> {
        Ok(self.0.decode(msg)?.signers())
    }
    fn execute(&self, state: &mut dyn StateWrite, msg: &Any) -> Result<(), AbciError> {
        self.0.decode(msg)?.execute(self.0, state).map(|_| ())
    }
}

proto_msg! {
    /// `cosmos.gov.v1.MsgSubmitProposal`. A proposal cannot carry another proposal: nesting
    /// would make decoding and amino signing recurse as deep as the tx is long.
    SubmitProposal(govpb::MsgSubmitProposal), url "/cosmos.gov.v1.MsgSubmitProposal", module "gov", keeper GovKeeper;
    check(m) {
        account_field("proposer", &m.proposer)?;
        if m.messages.is_empty() {
            return Err(gov_err(GovError::NoProposalMsgs));
        }
        if m.messages.iter().any(|a| a.type_url == MSG_SUBMIT_PROPOSAL) {
            return Err(AbciError::sdk(sdk_codes::INVALID_REQUEST, "a proposal cannot contain a MsgSubmitProposal: invalid request"));
        }
    }
    signers(m) account_field("proposer", &m.proposer).into_iter().collect();
    amino(m, router) {
        // Each proposal message in its own amino form; one this chain cannot decode as raw bytes.
        let messages: Vec<Value> = m
            .messages
            .iter()
            .map(|a| match router.decode(a) {
                Ok(inner) => inner.amino_json(router),
                Err(_) => json!({"type_url": a.type_url, "value": base64_std(&a.value)}),
            })
            .collect();
        json!({"type": "cosmos-sdk/v1/MsgSubmitProposal", "value": AminoObject::default()
            .list("messages", messages)
            .value("initial_deposit", proto_coins_amino(&m.initial_deposit))
            .str("proposer", &m.proposer)
            .str("metadata", &m.metadata)
            .str("title", &m.title)
            .str("summary", &m.summary)
            .bool("expedited", m.expedited)
            .build()})
    };
    execute(m, keeper, state, router) {
        let proposal_id = keeper.submit_proposal(state, &RouterExecutor(router), m).map_err(gov_err)?;
        Ok(pack_response(Self::TYPE_URL, &govpb::MsgSubmitProposalResponse { proposal_id }))
    }
}

fn check_deposit(depositor: &str, amount: &[cosmos_sdk_proto::cosmos::base::v1beta1::Coin]) -> Result<(), AbciError> {
    account_field("depositor", depositor)?;
    openledger_core::coin::coins_from_proto(amount).map_err(|e| AbciError::sdk(sdk_codes::INVALID_COINS, format!("{e}: invalid coins")))?;
    Ok(())
}

fn deposit_amino(name: &str, proposal_id: u64, depositor: &str, amount: &[cosmos_sdk_proto::cosmos::base::v1beta1::Coin]) -> Value {
    json!({"type": name, "value": {"amount": proto_coins_amino(amount), "depositor": depositor, "proposal_id": proposal_id.to_string()}})
}

proto_msg! {
    /// `cosmos.gov.v1.MsgDeposit`
    Deposit(govpb::MsgDeposit), url "/cosmos.gov.v1.MsgDeposit", module "gov", keeper GovKeeper;
    check(m) { check_deposit(&m.depositor, &m.amount)?; }
    signers(m) account_field("depositor", &m.depositor).into_iter().collect();
    amino(m) deposit_amino("cosmos-sdk/v1/MsgDeposit", m.proposal_id, &m.depositor, &m.amount);
    execute(m, keeper, state) {
        keeper.deposit(state, m.proposal_id, &m.depositor, &m.amount).map_err(gov_err)?;
        Ok(pack_response(Self::TYPE_URL, &govpb::MsgDepositResponse {}))
    }
}

proto_msg! {
    /// `cosmos.gov.v1beta1.MsgDeposit`
    DepositV1beta1(gov1b1::MsgDeposit), url "/cosmos.gov.v1beta1.MsgDeposit", module "gov", keeper GovKeeper;
    check(m) { check_deposit(&m.depositor, &m.amount)?; }
    signers(m) account_field("depositor", &m.depositor).into_iter().collect();
    amino(m) deposit_amino("cosmos-sdk/MsgDeposit", m.proposal_id, &m.depositor, &m.amount);
    execute(m, keeper, state) {
        keeper.deposit(state, m.proposal_id, &m.depositor, &m.amount).map_err(gov_err)?;
        Ok(pack_response(Self::TYPE_URL, &gov1b1::MsgDepositResponse {}))
    }
}

fn check_vote(proposal_id: u64, voter: &str, options: &[govpb::WeightedVoteOption]) -> Result<(), AbciError> {
    account_field("voter", voter)?;
    if proposal_id == 0 {
        return Err(gov_err(GovError::UnknownProposal(0)));
    }
    parse_options(options).map_err(gov_err)?;
    Ok(())
}

proto_msg! {
    /// `cosmos.gov.v1.MsgVote`
    Vote(govpb::MsgVote), url "/cosmos.gov.v1.MsgVote", module "gov", keeper GovKeeper;
    check(m) { check_vote(m.proposal_id, &m.voter, &single_option(m.option))?; }
    signers(m) account_field("voter", &m.voter).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/v1/MsgVote", "value": AminoObject::default()
        .u64("proposal_id", m.proposal_id).str("voter", &m.voter).num("option", m.option.into()).str("metadata", &m.metadata).build()});
    execute(m, keeper, state) {
        keeper.vote(state, m.proposal_id, &m.voter, &single_option(m.option), &m.metadata).map_err(gov_err)?;
        Ok(pack_response(Self::TYPE_URL, &govpb::MsgVoteResponse {}))
    }
}

proto_msg! {
    /// `cosmos.gov.v1.MsgVoteWeighted`
    VoteWeighted(govpb::MsgVoteWeighted), url "/cosmos.gov.v1.MsgVoteWeighted", module "gov", keeper GovKeeper;
    check(m) { check_vote(m.proposal_id, &m.voter, &m.options)?; }
    signers(m) account_field("voter", &m.voter).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/v1/MsgVoteWeighted", "value": {
        "metadata": m.metadata,
        "options": m.options.iter().map(|o| json!({"option": o.option, "weight": o.weight})).collect::<Vec<_>>(),
        "proposal_id": m.proposal_id.to_string(), "voter": m.voter}});
    execute(m, keeper, state) {
        keeper.vote(state, m.proposal_id, &m.voter, &m.options, &m.metadata).map_err(gov_err)?;
        Ok(pack_response(Self::TYPE_URL, &govpb::MsgVoteWeightedResponse {}))
    }
}

proto_msg! {
    /// `cosmos.gov.v1beta1.MsgVote` (what Keplr signs)
    VoteV1beta1(gov1b1::MsgVote), url "/cosmos.gov.v1beta1.MsgVote", module "gov", keeper GovKeeper;
    check(m) { check_vote(m.proposal_id, &m.voter, &single_option(m.option))?; }
    signers(m) account_field("voter", &m.voter).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgVote", "value": {"option": m.option, "proposal_id": m.proposal_id.to_string(), "voter": m.voter}});
    execute(m, keeper, state) {
        keeper.vote(state, m.proposal_id, &m.voter, &single_option(m.option), "").map_err(gov_err)?;
        Ok(pack_response(Self::TYPE_URL, &gov1b1::MsgVoteResponse {}))
    }
}

proto_msg! {
    /// `cosmos.gov.v1.MsgUpdateParams` (the gov authority only)
    UpdateParams(govpb::MsgUpdateParams), url "/cosmos.gov.v1.MsgUpdateParams", module "gov", keeper GovKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        crate::params::validate(required_params(m.params.as_ref())?).map_err(gov_err)?;
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.params.clone().unwrap_or_default();
        let opt_duration = |d: Option<&tendermint_proto::google::protobuf::Duration>| d.map_or(Value::Null, |d| duration_amino(Some(d)));
        let params = AminoObject::default()
            .value("min_deposit", proto_coins_amino(&p.min_deposit))
            .value("max_deposit_period", opt_duration(p.max_deposit_period.as_ref()))
            .value("voting_period", opt_duration(p.voting_period.as_ref()))
            .str("quorum", &p.quorum)
            .str("threshold", &p.threshold)
            .str("veto_threshold", &p.veto_threshold)
            .str("min_initial_deposit_ratio", &p.min_initial_deposit_ratio)
            .str("proposal_cancel_ratio", &p.proposal_cancel_ratio)
            .str("proposal_cancel_dest", &p.proposal_cancel_dest)
            .value("expedited_voting_period", opt_duration(p.expedited_voting_period.as_ref()))
            .str("expedited_threshold", &p.expedited_threshold)
            .value("expedited_min_deposit", proto_coins_amino(&p.expedited_min_deposit))
            .bool("burn_vote_quorum", p.burn_vote_quorum)
            .bool("burn_proposal_deposit_prevote", p.burn_proposal_deposit_prevote)
            .bool("burn_vote_veto", p.burn_vote_veto)
            .str("min_deposit_ratio", &p.min_deposit_ratio)
            .build();
        update_params_amino("cosmos-sdk/x/gov/v1/MsgUpdateParams", &m.authority, params)
    };
    execute(m, _keeper, state) {
        check_authority(&m.authority).map_err(gov_err)?;
        crate::params::set_params(state, &m.params.clone().unwrap_or_default()).map_err(gov_err)?;
        Ok(pack_response(Self::TYPE_URL, &govpb::MsgUpdateParamsResponse {}))
    }
}

impl Module for GovModule {
    fn name(&self) -> &'static str {
        "gov"
    }
    fn module_accounts(&self) -> Vec<ModuleAccount> {
        vec![(GOV_MODULE, &["burner"])]
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        let k = Arc::new(self.0.clone());
        vec![
            route::<SubmitProposal>(k.clone()),
            route::<Deposit>(k.clone()),
            route::<DepositV1beta1>(k.clone()),
            route::<Vote>(k.clone()),
            route::<VoteWeighted>(k.clone()),
            route::<VoteV1beta1>(k.clone()),
            route::<UpdateParams>(k),
        ]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(GovQuery(self.0.clone())))
    }
    fn init_genesis(&self, state: &mut dyn StateWrite, _: BlockInfo, genesis: Option<&Value>) -> Result<Vec<ValidatorUpdate>, AbciError> {
        import_section(self.name(), genesis, |s: &GovGenesis| crate::genesis::init_genesis(&self.0, state, s))
    }
    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        export_section(self.name(), crate::genesis::export_genesis(state))
    }
    /// Tallies proposals whose voting ended and runs the messages of those that passed.
    fn end_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<Vec<ValidatorUpdate>, AbciError> {
        self.0.end_block(state, ctx.info, &RouterExecutor(ctx.router)).map_err(gov_err)?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openledger_core::module::MsgHandler;
    use prost::Message;

    fn submit(messages: Vec<Any>) -> Any {
        let proposer = Address::from_bytes(&[7; 20]).expect("address").to_bech32();
        let msg = govpb::MsgSubmitProposal { messages, proposer, title: "t".into(), summary: "s".into(), ..Default::default() };
        Any { type_url: MSG_SUBMIT_PROPOSAL.into(), value: msg.encode_to_vec() }
    }

    fn handler() -> Box<dyn MsgHandler> {
        struct NoBank;
        impl crate::BankKeeper for NoBank {
            fn send(&self, _: &mut dyn StateWrite, _: &Address, _: &Address, _: &[openledger_core::Coin]) -> Result<(), AbciError> {
                Ok(())
            }
            fn burn(&self, _: &mut dyn StateWrite, _: &Address, _: &[openledger_core::Coin]) -> Result<(), AbciError> {
                Ok(())
            }
        }
        struct NoStake;
        impl crate::StakeReader for NoStake {
            fn bonded_validators(&self, _: &dyn StateRead) -> Result<Vec<crate::keeper::ValidatorPower>, openledger_core::StateError> {
                Ok(Vec::new())
            }
            fn delegations(
                &self,
                _: &dyn StateRead,
                _: &Address,
            ) -> Result<Vec<crate::keeper::DelegationShares>, openledger_core::StateError> {
                Ok(Vec::new())
            }
        }
        route::<SubmitProposal>(Arc::new(GovKeeper::new(Arc::new(NoBank), Arc::new(NoStake))))
    }

    #[test]
    fn a_proposal_cannot_nest_a_proposal_and_needs_messages() {
        let inner = Any { type_url: "/cosmos.bank.v1beta1.MsgSend".into(), value: Vec::new() };
        assert!(handler().decode(&submit(vec![inner.clone()])).is_ok());
        let nested = handler().decode(&submit(vec![inner, submit(vec![])])).expect_err("nested proposal");
        assert_eq!((nested.codespace, nested.code), ("sdk", 18), "{}", nested.log);
        let empty = handler().decode(&submit(vec![])).expect_err("no messages");
        assert_eq!(empty.codespace, "gov", "{}", empty.log);
    }
}
