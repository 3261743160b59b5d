//! Stake as a module of the registry: the staking, distribution and slashing messages (each a
//! [`ModuleMsg`] with the SDK's checks, amino name and response), the three `MsgUpdateParams`,
//! `MsgCommunityPoolSpend`, genesis, begin block (evidence, rewards, liveness) and end block
//! (unbonding, the validator set handed to CometBFT), and the query service.

use std::sync::Arc;

use cosmos_sdk_proto::cosmos::distribution::v1beta1 as dpb;
use cosmos_sdk_proto::cosmos::slashing::v1beta1 as slpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use cosmos_sdk_proto::Any;
use openledger_core::amino::{base64_std, duration_amino, proto_coins_amino, required_coin_amino, AminoObject};
use openledger_core::block::{ns_timestamp, BlockInfo};
use openledger_core::coin::{coins_from_proto, BASE_DENOM};
use openledger_core::error::sdk_codes;
use openledger_core::module::{
    account_field, export_section, genesis_section, internal, invalid_request, operator_field, pack_response, require_gov_authority,
    required_params, route, update_params_amino, BlockContext, Hook, Module, ModuleAccount, ModuleMsg, MsgHandler, MsgRouter,
    ValidatorUpdate,
};
use openledger_core::query::QueryService;
use openledger_core::{proto_msg, AbciError, Address, Coin, Dec, StateRead, StateWrite};
use serde_json::{json, Value};
use tendermint_proto::v0_38::abci::MisbehaviorType;
use tendermint_proto::v0_38::types::BlockIdFlag;

use crate::distribution::Vote;
use crate::error::StakeError;
use crate::genesis::StakeGenesis;
use crate::keeper::{consensus_key, StakeKeeper, BONDED_POOL, DISTRIBUTION_ACCOUNT, NOT_BONDED_POOL};
use crate::msg::{self as stake_msg, CreateValidator};
use crate::params::{dec_from_bytes, dec_from_proto};
use crate::query::StakeQuery;
use crate::slashing::Evidence;

/// The stake module (staking, distribution, slashing).
pub struct StakeModule(pub StakeKeeper);

fn st(e: StakeError) -> AbciError {
    AbciError::from_code(&e)
}

fn positive_coin(coin: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>) -> Result<(), AbciError> {
    let c = coin.ok_or_else(|| AbciError::sdk(sdk_codes::INVALID_COINS, "missing amount: invalid coins"))?;
    match Coin::from_proto(c) {
        Ok(c) if c.amount > 0 => Ok(()),
        Ok(_) => Err(AbciError::sdk(sdk_codes::INVALID_COINS, "amount must be positive: invalid coins")),
        Err(e) => Err(AbciError::sdk(sdk_codes::INVALID_COINS, format!("{e}: invalid coins"))),
    }
}

fn uopen_coins(amount: u128) -> Vec<cosmos_sdk_proto::cosmos::base::v1beta1::Coin> {
    if amount == 0 {
        Vec::new()
    } else {
        vec![Coin::new(BASE_DENOM, amount).to_proto()]
    }
}

fn description_amino(d: Option<&spb::Description>) -> Value {
    let d = d.cloned().unwrap_or_default();
    json!({"details": d.details, "identity": d.identity, "moniker": d.moniker, "security_contact": d.security_contact, "website": d.website})
}

impl ModuleMsg for CreateValidator {
    type Proto = spb::MsgCreateValidator;
    type Keeper = StakeKeeper;
    type Error = StakeError;
    const TYPE_URL: &'static str = "/cosmos.staking.v1beta1.MsgCreateValidator";
    const MODULE: &'static str = "staking";
    fn check(proto: spb::MsgCreateValidator) -> Result<Self, StakeError> {
        CreateValidator::check_stateless(&proto)
    }
    fn signers(&self) -> Vec<Address> {
        vec![self.operator.clone()]
    }
    fn amino_json(&self, _: &dyn MsgRouter) -> Value {
        let m = &self.msg;
        let pubkey = consensus_key(&spb::Validator { consensus_pubkey: m.pubkey.clone(), ..Default::default() }).unwrap_or_default();
        json!({"type": "cosmos-sdk/MsgCreateValidator", "value": {
            "commission": {"max_change_rate": self.rates.2.to_string(), "max_rate": self.rates.1.to_string(), "rate": self.rates.0.to_string()},
            "delegator_address": self.operator.to_bech32(),
            "description": description_amino(m.description.as_ref()),
            "min_self_delegation": m.min_self_delegation,
            "pubkey": {"type": "tendermint/PubKeyEd25519", "value": base64_std(&pubkey)},
            "validator_address": m.validator_address,
            "value": required_coin_amino(m.value.as_ref()),
        }})
    }
    fn execute(&self, keeper: &StakeKeeper, _: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, StakeError> {
        self.create(keeper, state)?;
        Ok(pack_response(Self::TYPE_URL, &spb::MsgCreateValidatorResponse {}))
    }
}

proto_msg! {
    /// `cosmos.staking.v1beta1.MsgEditValidator`
    EditValidator(spb::MsgEditValidator), url "/cosmos.staking.v1beta1.MsgEditValidator", module "staking", keeper StakeKeeper;
    check(m) { operator_field("validator", &m.validator_address)?; }
    signers(m) operator_field("validator", &m.validator_address).into_iter().collect();
    amino(m) {
        let mut value = json!({"description": description_amino(m.description.as_ref()), "validator_address": m.validator_address});
        if !m.commission_rate.is_empty() {
            value["commission_rate"] = json!(dec_from_proto(&m.commission_rate).unwrap_or_default().to_string());
        }
        if !m.min_self_delegation.is_empty() {
            value["min_self_delegation"] = json!(m.min_self_delegation);
        }
        json!({"type": "cosmos-sdk/MsgEditValidator", "value": value})
    };
    execute(m, keeper, state) {
        stake_msg::edit_validator(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &spb::MsgEditValidatorResponse {}))
    }
}

proto_msg! {
    /// `cosmos.staking.v1beta1.MsgDelegate`
    Delegate(spb::MsgDelegate), url "/cosmos.staking.v1beta1.MsgDelegate", module "staking", keeper StakeKeeper;
    check(m) {
        account_field("delegator", &m.delegator_address)?;
        operator_field("validator", &m.validator_address)?;
        positive_coin(m.amount.as_ref())?;
    }
    signers(m) account_field("delegator", &m.delegator_address).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgDelegate", "value": {"amount": required_coin_amino(m.amount.as_ref()),
        "delegator_address": m.delegator_address, "validator_address": m.validator_address}});
    execute(m, keeper, state) {
        stake_msg::delegate(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &spb::MsgDelegateResponse {}))
    }
}

proto_msg! {
    /// `cosmos.staking.v1beta1.MsgUndelegate`
    Undelegate(spb::MsgUndelegate), url "/cosmos.staking.v1beta1.MsgUndelegate", module "staking", keeper StakeKeeper;
    check(m) {
        account_field("delegator", &m.delegator_address)?;
        operator_field("validator", &m.validator_address)?;
        positive_coin(m.amount.as_ref())?;
    }
    signers(m) account_field("delegator", &m.delegator_address).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgUndelegate", "value": {"amount": required_coin_amino(m.amount.as_ref()),
        "delegator_address": m.delegator_address, "validator_address": m.validator_address}});
    execute(m, keeper, state) {
        let (completion, amount) = stake_msg::undelegate(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &spb::MsgUndelegateResponse {
            completion_time: Some(ns_timestamp(completion)),
            amount: Some(Coin::new(BASE_DENOM, amount).to_proto()),
        }))
    }
}

proto_msg! {
    /// `cosmos.staking.v1beta1.MsgBeginRedelegate`
    Redelegate(spb::MsgBeginRedelegate), url "/cosmos.staking.v1beta1.MsgBeginRedelegate", module "staking", keeper StakeKeeper;
    check(m) {
        account_field("delegator", &m.delegator_address)?;
        operator_field("source validator", &m.validator_src_address)?;
        operator_field("destination validator", &m.validator_dst_address)?;
        positive_coin(m.amount.as_ref())?;
    }
    signers(m) account_field("delegator", &m.delegator_address).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgBeginRedelegate", "value": {
        "amount": required_coin_amino(m.amount.as_ref()), "delegator_address": m.delegator_address,
        "validator_dst_address": m.validator_dst_address, "validator_src_address": m.validator_src_address}});
    execute(m, keeper, state) {
        let completion = stake_msg::redelegate(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &spb::MsgBeginRedelegateResponse { completion_time: Some(ns_timestamp(completion)) }))
    }
}

proto_msg! {
    /// `cosmos.staking.v1beta1.MsgCancelUnbondingDelegation`
    CancelUnbonding(spb::MsgCancelUnbondingDelegation), url "/cosmos.staking.v1beta1.MsgCancelUnbondingDelegation", module "staking",
        keeper StakeKeeper;
    check(m) {
        account_field("delegator", &m.delegator_address)?;
        operator_field("validator", &m.validator_address)?;
        positive_coin(m.amount.as_ref())?;
    }
    signers(m) account_field("delegator", &m.delegator_address).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgCancelUnbondingDelegation", "value": {
        "amount": required_coin_amino(m.amount.as_ref()), "creation_height": m.creation_height.to_string(),
        "delegator_address": m.delegator_address, "validator_address": m.validator_address}});
    execute(m, keeper, state) {
        stake_msg::cancel_unbonding(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &spb::MsgCancelUnbondingDelegationResponse {}))
    }
}

proto_msg! {
    /// `cosmos.distribution.v1beta1.MsgWithdrawDelegatorReward`
    WithdrawReward(dpb::MsgWithdrawDelegatorReward), url "/cosmos.distribution.v1beta1.MsgWithdrawDelegatorReward",
        module "distribution", keeper StakeKeeper;
    check(m) {
        account_field("delegator", &m.delegator_address)?;
        operator_field("validator", &m.validator_address)?;
    }
    signers(m) account_field("delegator", &m.delegator_address).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgWithdrawDelegationReward", "value": {
        "delegator_address": m.delegator_address, "validator_address": m.validator_address}});
    execute(m, keeper, state) {
        let paid = stake_msg::withdraw_rewards(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &dpb::MsgWithdrawDelegatorRewardResponse { amount: uopen_coins(paid) }))
    }
}

proto_msg! {
    /// `cosmos.distribution.v1beta1.MsgWithdrawValidatorCommission`
    WithdrawCommission(dpb::MsgWithdrawValidatorCommission), url "/cosmos.distribution.v1beta1.MsgWithdrawValidatorCommission",
        module "distribution", keeper StakeKeeper;
    check(m) { operator_field("validator", &m.validator_address)?; }
    signers(m) operator_field("validator", &m.validator_address).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgWithdrawValCommission", "value": {"validator_address": m.validator_address}});
    execute(m, keeper, state) {
        let paid = stake_msg::withdraw_commission(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &dpb::MsgWithdrawValidatorCommissionResponse { amount: uopen_coins(paid) }))
    }
}

proto_msg! {
    /// `cosmos.distribution.v1beta1.MsgSetWithdrawAddress`
    SetWithdrawAddress(dpb::MsgSetWithdrawAddress), url "/cosmos.distribution.v1beta1.MsgSetWithdrawAddress", module "distribution",
        keeper StakeKeeper;
    check(m) {
        account_field("delegator", &m.delegator_address)?;
        account_field("withdraw", &m.withdraw_address)?;
    }
    signers(m) account_field("delegator", &m.delegator_address).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgModifyWithdrawAddress", "value": {
        "delegator_address": m.delegator_address, "withdraw_address": m.withdraw_address}});
    execute(m, _keeper, state) {
        stake_msg::set_withdraw_address(state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &dpb::MsgSetWithdrawAddressResponse {}))
    }
}

proto_msg! {
    /// `cosmos.distribution.v1beta1.MsgFundCommunityPool`
    FundCommunityPool(dpb::MsgFundCommunityPool), url "/cosmos.distribution.v1beta1.MsgFundCommunityPool", module "distribution",
        keeper StakeKeeper;
    check(m) { account_field("depositor", &m.depositor)?; }
    signers(m) account_field("depositor", &m.depositor).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgFundCommunityPool", "value": {"amount": proto_coins_amino(&m.amount), "depositor": m.depositor}});
    execute(m, keeper, state) {
        stake_msg::fund_community_pool(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &dpb::MsgFundCommunityPoolResponse {}))
    }
}

proto_msg! {
    /// `cosmos.distribution.v1beta1.MsgCommunityPoolSpend` (the gov authority only)
    CommunityPoolSpend(dpb::MsgCommunityPoolSpend), url "/cosmos.distribution.v1beta1.MsgCommunityPoolSpend", module "distribution",
        keeper StakeKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        account_field("recipient", &m.recipient)?;
        coins_from_proto(&m.amount).map_err(|e| AbciError::sdk(sdk_codes::INVALID_COINS, format!("{e}: invalid coins")))?;
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/distr/MsgCommunityPoolSpend", "value": {
        "amount": proto_coins_amino(&m.amount), "authority": m.authority, "recipient": m.recipient}});
    execute(m, keeper, state) {
        require_gov_authority(&m.authority)?;
        stake_msg::community_pool_spend(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &dpb::MsgCommunityPoolSpendResponse {}))
    }
}

proto_msg! {
    /// `cosmos.slashing.v1beta1.MsgUnjail`
    Unjail(slpb::MsgUnjail), url "/cosmos.slashing.v1beta1.MsgUnjail", module "slashing", keeper StakeKeeper;
    check(m) { operator_field("validator", &m.validator_addr)?; }
    signers(m) operator_field("validator", &m.validator_addr).into_iter().collect();
    amino(m) json!({"type": "cosmos-sdk/MsgUnjail", "value": {"address": m.validator_addr}});
    execute(m, keeper, state) {
        stake_msg::unjail(keeper, state, m).map_err(st)?;
        Ok(pack_response(Self::TYPE_URL, &slpb::MsgUnjailResponse {}))
    }
}

/// Replaces one of the three stake params groups, keeping the others (and the reward schedule).
fn set_stake_params(
    state: &mut dyn StateWrite,
    update: impl FnOnce(&mut spb::Params, &mut dpb::Params, &mut slpb::Params),
) -> Result<(), AbciError> {
    let s = |e: openledger_core::StateError| AbciError::from_code(&e);
    let mut staking = crate::params::staking(state).map_err(s)?;
    let mut distribution = crate::params::distribution(state).map_err(s)?;
    let mut slashing = crate::params::slashing(state).map_err(s)?;
    let schedule = crate::params::reward_schedule(state).map_err(s)?;
    update(&mut staking, &mut distribution, &mut slashing);
    crate::params::set_all(state, &staking, &distribution, &slashing, &schedule).map_err(s)
}

proto_msg! {
    /// `cosmos.staking.v1beta1.MsgUpdateParams` (the gov authority only)
    UpdateStakingParams(spb::MsgUpdateParams), url "/cosmos.staking.v1beta1.MsgUpdateParams", module "staking", keeper StakeKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        let p = required_params(m.params.as_ref())?;
        if p.bond_denom != BASE_DENOM {
            return Err(invalid_request(format!("bond denom must stay {BASE_DENOM}")));
        }
        if p.max_validators == 0 || p.max_entries == 0 {
            return Err(invalid_request("max validators and max entries must be positive"));
        }
        if crate::params::duration_ns(p.unbonding_time.as_ref()) == 0 {
            return Err(invalid_request("unbonding time must be positive"));
        }
        match dec_from_proto(&p.min_commission_rate) {
            Some(d) if d <= Dec::ONE => {}
            _ => return Err(invalid_request("min commission rate must be within [0, 1]")),
        }
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.params.clone().unwrap_or_default();
        let params = AminoObject::default()
            .value("unbonding_time", duration_amino(p.unbonding_time.as_ref()))
            .num("max_validators", p.max_validators.into())
            .num("max_entries", p.max_entries.into())
            .num("historical_entries", p.historical_entries.into())
            .str("bond_denom", &p.bond_denom)
            .value("min_commission_rate", dec_amino(&p.min_commission_rate))
            .build();
        update_params_amino("cosmos-sdk/x/staking/MsgUpdateParams", &m.authority, params)
    };
    execute(m, _keeper, state) {
        require_gov_authority(&m.authority)?;
        let p = m.params.clone().unwrap_or_default();
        set_stake_params(state, |staking, _, _| *staking = p)?;
        Ok(pack_response(Self::TYPE_URL, &spb::MsgUpdateParamsResponse {}))
    }
}

proto_msg! {
    /// `cosmos.distribution.v1beta1.MsgUpdateParams` (the gov authority only)
    UpdateDistributionParams(dpb::MsgUpdateParams), url "/cosmos.distribution.v1beta1.MsgUpdateParams", module "distribution",
        keeper StakeKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        let p = required_params(m.params.as_ref())?;
        match dec_from_proto(&p.community_tax) {
            Some(d) if d <= Dec::ONE => {}
            _ => return Err(invalid_request("community tax must be within [0, 1]")),
        }
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.params.clone().unwrap_or_default();
        #[allow(deprecated)] // the proposer rewards are signed too
        let params = AminoObject::default()
            .value("community_tax", dec_amino(&p.community_tax))
            .value("base_proposer_reward", dec_amino(&p.base_proposer_reward))
            .value("bonus_proposer_reward", dec_amino(&p.bonus_proposer_reward))
            .bool("withdraw_addr_enabled", p.withdraw_addr_enabled)
            .build();
        update_params_amino("cosmos-sdk/distribution/MsgUpdateParams", &m.authority, params)
    };
    execute(m, _keeper, state) {
        require_gov_authority(&m.authority)?;
        let p = m.params.clone().unwrap_or_default();
        set_stake_params(state, |_, distribution, _| *distribution = p)?;
        Ok(pack_response(Self::TYPE_URL, &dpb::MsgUpdateParamsResponse {}))
    }
}

proto_msg! {
    /// `cosmos.slashing.v1beta1.MsgUpdateParams` (the gov authority only)
    UpdateSlashingParams(slpb::MsgUpdateParams), url "/cosmos.slashing.v1beta1.MsgUpdateParams", module "slashing",
        keeper StakeKeeper;
    check(m) {
        account_field("authority", &m.authority)?;
        let p = required_params(m.params.as_ref())?;
        if p.signed_blocks_window <= 0 {
            return Err(invalid_request("signed blocks window must be positive"));
        }
        for f in [&p.min_signed_per_window, &p.slash_fraction_double_sign, &p.slash_fraction_downtime] {
            if dec_from_bytes(f) > Dec::ONE {
                return Err(invalid_request("slashing fractions must be within [0, 1]"));
            }
        }
    }
    signers(m) account_field("authority", &m.authority).into_iter().collect();
    amino(m) {
        let p = m.params.clone().unwrap_or_default();
        let dec_bytes = |b: &[u8]| Value::String(dec_from_bytes(b).to_string());
        let params = AminoObject::default()
            .i64("signed_blocks_window", p.signed_blocks_window)
            .value("min_signed_per_window", dec_bytes(&p.min_signed_per_window))
            .value("downtime_jail_duration", duration_amino(p.downtime_jail_duration.as_ref()))
            .value("slash_fraction_double_sign", dec_bytes(&p.slash_fraction_double_sign))
            .value("slash_fraction_downtime", dec_bytes(&p.slash_fraction_downtime))
            .build();
        update_params_amino("cosmos-sdk/x/slashing/MsgUpdateParams", &m.authority, params)
    };
    execute(m, _keeper, state) {
        require_gov_authority(&m.authority)?;
        let p = m.params.clone().unwrap_or_default();
        set_stake_params(state, |_, _, slashing| *slashing = p)?;
        Ok(pack_response(Self::TYPE_URL, &slpb::MsgUpdateParamsResponse {}))
    }
}

/// A `LegacyDec` param in amino JSON: 18 decimals.
fn dec_amino(text: &str) -> Value {
    Value::String(dec_from_proto(text).unwrap_or_default().to_string())
}

/// Double-sign evidence and the previous block's votes, from CometBFT's request.
fn evidence_and_votes(ctx: &BlockContext<'_>) -> (Vec<Evidence>, Vec<Vote>) {
    let evidence = ctx
        .request
        .misbehavior
        .iter()
        .filter(|m| m.r#type == MisbehaviorType::DuplicateVote as i32)
        .filter_map(|m| {
            let v = m.validator.as_ref()?;
            Some(Evidence { address: v.address.to_vec(), power: u64::try_from(v.power).ok()?, height: u64::try_from(m.height).ok()? })
        })
        .collect();
    let votes = ctx
        .request
        .decided_last_commit
        .as_ref()
        .map(|c| {
            c.votes
                .iter()
                .filter_map(|v| {
                    let val = v.validator.as_ref()?;
                    Some(Vote {
                        address: val.address.to_vec(),
                        power: u64::try_from(val.power).ok()?,
                        signed: v.block_id_flag != BlockIdFlag::Absent as i32,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    (evidence, votes)
}

impl Module for StakeModule {
    fn name(&self) -> &'static str {
        "stake"
    }
    fn module_versions(&self) -> Vec<(&'static str, u64)> {
        vec![("distribution", 1), ("slashing", 1), ("staking", 1)]
    }
    fn module_accounts(&self) -> Vec<ModuleAccount> {
        vec![(BONDED_POOL, &["burner", "staking"]), (NOT_BONDED_POOL, &["burner", "staking"]), (DISTRIBUTION_ACCOUNT, &[])]
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        let k = Arc::new(self.0.clone());
        vec![
            route::<CreateValidator>(k.clone()),
            route::<EditValidator>(k.clone()),
            route::<Delegate>(k.clone()),
            route::<Undelegate>(k.clone()),
            route::<Redelegate>(k.clone()),
            route::<CancelUnbonding>(k.clone()),
            route::<WithdrawReward>(k.clone()),
            route::<WithdrawCommission>(k.clone()),
            route::<SetWithdrawAddress>(k.clone()),
            route::<FundCommunityPool>(k.clone()),
            route::<CommunityPoolSpend>(k.clone()),
            route::<Unjail>(k.clone()),
            route::<UpdateStakingParams>(k.clone()),
            route::<UpdateDistributionParams>(k.clone()),
            route::<UpdateSlashingParams>(k),
        ]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(StakeQuery(self.0.clone())))
    }
    /// Begin block after the upgrade check; end block last, as the SDK's staking end blocker:
    /// after gov (a passed proposal's params apply, and the tally read the set this block
    /// started with) and after every module that may slash or pay in its end block, so the
    /// validator updates handed to CometBFT include everything of this block.
    fn runs_after(&self, hook: Hook) -> &'static [&'static str] {
        match hook {
            Hook::BeginBlock => &["upgrade", "inference"],
            Hook::EndBlock => &["gov", "attribution", "inference"],
            Hook::InitGenesis => &["bank"],
        }
    }
    fn init_genesis(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        genesis: Option<&Value>,
    ) -> Result<Vec<ValidatorUpdate>, AbciError> {
        let section: StakeGenesis = genesis_section(self.name(), genesis)?;
        crate::genesis::init_genesis(&self.0, state, &section, info).map_err(|e| internal("stake genesis", e))
    }
    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        export_section(self.name(), crate::genesis::export_genesis(&self.0, state))
    }
    /// Double-sign evidence, then the reward allocation for the previous block's signers, then
    /// liveness tracking.
    fn begin_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<(), AbciError> {
        let (evidence, votes) = evidence_and_votes(ctx);
        crate::slashing::handle_evidence(&self.0, state, ctx.info, &evidence).map_err(st)?;
        if ctx.info.height > 1 {
            crate::distribution::allocate(&self.0, state, ctx.info, &votes).map_err(st)?;
        }
        crate::slashing::handle_votes(&self.0, state, ctx.info, &votes).map_err(st)
    }
    fn end_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<Vec<ValidatorUpdate>, AbciError> {
        self.0.end_block(state, ctx.info).map_err(st)
    }
}
