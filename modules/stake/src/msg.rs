//! Stake messages — staking (create/edit validator, delegate, undelegate, redelegate, cancel
//! unbonding), distribution (withdraw rewards/commission, set withdraw address, fund community
//! pool) and slashing (unjail) — each with a stateless check and an execution.

use cosmos_sdk_proto::cosmos::distribution::v1beta1 as dpb;
use cosmos_sdk_proto::cosmos::slashing::v1beta1::MsgUnjail;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use openledger_core::address::VALOPER_PREFIX;
use openledger_core::block::{block_info, ns_timestamp, timestamp_ns};
use openledger_core::coin::{coins_from_proto, BASE_DENOM};
use openledger_core::{Address, Coin, Dec, StateWrite, StateWriteExt};

use crate::distribution;
use crate::error::StakeError;
use crate::events::{Delegated, Redelegated, Unbonded, UnbondingCancelled, ValidatorCreated, ValidatorEdited};
use crate::keeper::{
    consensus_key, ed25519_any, operator_account, operator_of, tokens, StakeKeeper, DISTRIBUTION_ACCOUNT, ED25519_PUBKEY_TYPE_URL,
};
use crate::params::{self, dec_from_proto, dec_to_proto};
use crate::slashing;

fn account(field: &'static str, text: &str) -> Result<Address, StakeError> {
    Address::from_bech32(text).map_err(|e| StakeError::InvalidAddress { field, value: text.to_string(), reason: e.to_string() })
}

fn valoper(field: &'static str, text: &str) -> Result<String, StakeError> {
    Address::from_bech32_prefixed(text, VALOPER_PREFIX).map_err(|e| StakeError::InvalidAddress {
        field,
        value: text.to_string(),
        reason: e.to_string(),
    })?;
    Ok(text.to_string())
}

fn bond_amount(coin: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>) -> Result<u128, StakeError> {
    let coin = coin.ok_or_else(|| StakeError::InvalidCoins("missing amount".into()))?;
    let parsed = Coin::from_proto(coin).map_err(|e| StakeError::InvalidCoins(e.to_string()))?;
    if parsed.denom != BASE_DENOM {
        return Err(StakeError::InvalidCoins(format!("invalid coin denomination: got {}, expected {BASE_DENOM}", parsed.denom)));
    }
    if parsed.amount == 0 {
        return Err(StakeError::InvalidCoins("invalid delegation amount: must be positive".into()));
    }
    Ok(parsed.amount)
}

fn rate(text: &str, what: &str) -> Result<Dec, StakeError> {
    dec_from_proto(text).ok_or_else(|| StakeError::InvalidRequest(format!("invalid {what} {text:?}")))
}

/// Bounds of a validator description (SDK limits).
fn check_description(d: Option<&spb::Description>) -> Result<(), StakeError> {
    let Some(d) = d else { return Ok(()) };
    let limits = [
        (&d.moniker, 70, "moniker"),
        (&d.identity, 3000, "identity"),
        (&d.website, 140, "website"),
        (&d.security_contact, 140, "security contact"),
        (&d.details, 280, "details"),
    ];
    for (value, max, name) in limits {
        if value.len() > max {
            return Err(StakeError::InvalidRequest(format!("invalid {name} length; got: {}, max: {max}", value.len())));
        }
    }
    Ok(())
}

/// Validated `MsgCreateValidator`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateValidator {
    /// Operator account (the signer).
    pub operator: Address,
    /// The message.
    pub msg: spb::MsgCreateValidator,
    /// Ed25519 consensus key.
    pub consensus_key: Vec<u8>,
    /// Self-bond.
    pub amount: u128,
    /// Commission (rate, max, max change).
    pub rates: (Dec, Dec, Dec),
    /// Minimum self-delegation.
    pub min_self_delegation: u128,
}

impl CreateValidator {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &spb::MsgCreateValidator) -> Result<Self, StakeError> {
        let operator = operator_account(&valoper("validator", &msg.validator_address)?)?;
        #[allow(deprecated)]
        let delegator_field = &msg.delegator_address;
        if !delegator_field.is_empty() && account("delegator", delegator_field)? != operator {
            return Err(StakeError::InvalidRequest("delegator address must be the validator's account".into()));
        }
        let any = msg.pubkey.as_ref().ok_or_else(|| StakeError::InvalidRequest("empty validator public key".into()))?;
        if any.type_url != ED25519_PUBKEY_TYPE_URL {
            return Err(StakeError::PubKeyTypeNotSupported(any.type_url.clone()));
        }
        let probe = spb::Validator { consensus_pubkey: Some(any.clone()), ..Default::default() };
        let consensus_key = consensus_key(&probe).ok_or_else(|| StakeError::PubKeyTypeNotSupported("malformed ed25519 key".into()))?;
        let amount = bond_amount(msg.value.as_ref())?;
        let c = msg.commission.as_ref().ok_or_else(|| StakeError::InvalidRequest("empty commission".into()))?;
        let rates = (rate(&c.rate, "commission rate")?, rate(&c.max_rate, "max rate")?, rate(&c.max_change_rate, "max change rate")?);
        if rates.1 > Dec::ONE {
            return Err(StakeError::CommissionHuge);
        }
        if rates.0 > rates.1 {
            return Err(StakeError::CommissionGtMaxRate);
        }
        if rates.2 > rates.1 {
            return Err(StakeError::CommissionChangeRateGtMaxRate);
        }
        let min_self_delegation: u128 = msg
            .min_self_delegation
            .parse()
            .map_err(|_| StakeError::InvalidRequest("minimum self delegation must be a positive integer".into()))?;
        if min_self_delegation == 0 {
            return Err(StakeError::InvalidRequest("minimum self delegation must be a positive integer".into()));
        }
        if amount < min_self_delegation {
            return Err(StakeError::SelfDelegationBelowMinimum);
        }
        check_description(msg.description.as_ref())?;
        Ok(Self { operator, msg: msg.clone(), consensus_key, amount, rates, min_self_delegation })
    }

    /// Creates the validator and its self-delegation.
    pub fn create(&self, keeper: &StakeKeeper, state: &mut dyn StateWrite) -> Result<(), StakeError> {
        let info = block_info(state)?;
        let operator = operator_of(&self.operator);
        if keeper.validator(state, &operator)?.is_some() {
            return Err(StakeError::ValidatorOwnerExists);
        }
        if keeper.consensus_key_taken(state, &self.consensus_key)? {
            return Err(StakeError::ValidatorPubKeyExists);
        }
        let min_rate = dec_from_proto(&params::staking(state)?.min_commission_rate).unwrap_or(Dec::ZERO);
        if self.rates.0 < min_rate {
            return Err(StakeError::CommissionLtMinRate);
        }
        let validator = spb::Validator {
            operator_address: operator.clone(),
            consensus_pubkey: Some(ed25519_any(&self.consensus_key)),
            jailed: false,
            status: spb::BondStatus::Unbonded as i32,
            tokens: "0".into(),
            delegator_shares: dec_to_proto(Dec::ZERO),
            description: self.msg.description.clone(),
            unbonding_height: 0,
            unbonding_time: Some(ns_timestamp(0)),
            commission: Some(spb::Commission {
                commission_rates: Some(spb::CommissionRates {
                    rate: dec_to_proto(self.rates.0),
                    max_rate: dec_to_proto(self.rates.1),
                    max_change_rate: dec_to_proto(self.rates.2),
                }),
                update_time: Some(ns_timestamp(info.time_ns)),
            }),
            min_self_delegation: self.min_self_delegation.to_string(),
            unbonding_on_hold_ref_count: 0,
            unbonding_ids: vec![],
        };
        keeper.register_validator(state, &validator, info)?;
        keeper.delegate(state, info, &self.operator, &operator, self.amount, &self.operator)?;
        state.emit_typed(ValidatorCreated { validator: operator, amount: self.amount });
        Ok(())
    }
}

/// Executes `MsgEditValidator`.
pub fn edit_validator(keeper: &StakeKeeper, state: &mut dyn StateWrite, msg: &spb::MsgEditValidator) -> Result<(), StakeError> {
    let operator = valoper("validator", &msg.validator_address)?;
    check_description(msg.description.as_ref())?;
    let info = block_info(state)?;
    let mut v = keeper.must_validator(state, &operator)?;
    if let Some(d) = &msg.description {
        // "[do-not-modify]" keeps a field, as in the SDK.
        let keep = "[do-not-modify]";
        let mut cur = v.description.clone().unwrap_or_default();
        for (new, old) in [
            (&d.moniker, &mut cur.moniker),
            (&d.identity, &mut cur.identity),
            (&d.website, &mut cur.website),
            (&d.security_contact, &mut cur.security_contact),
            (&d.details, &mut cur.details),
        ] {
            if new != keep {
                *old = new.clone();
            }
        }
        v.description = Some(cur);
    }
    if !msg.commission_rate.is_empty() {
        let new_rate = rate(&msg.commission_rate, "commission rate")?;
        let mut commission = v.commission.clone().unwrap_or_default();
        let rates = commission.commission_rates.clone().unwrap_or_default();
        let (old, max, max_change) =
            (rate(&rates.rate, "rate")?, rate(&rates.max_rate, "max rate")?, rate(&rates.max_change_rate, "max change rate")?);
        let last = commission.update_time.as_ref().map(timestamp_ns).unwrap_or(0);
        if info.time_ns.saturating_sub(last) < 24 * 3600 * 1_000_000_000 {
            return Err(StakeError::CommissionUpdateTime);
        }
        if new_rate > max {
            return Err(StakeError::CommissionGtMaxRate);
        }
        let change = if new_rate > old { new_rate.checked_sub(old)? } else { old.checked_sub(new_rate)? };
        if change > max_change {
            return Err(StakeError::CommissionGtMaxChangeRate);
        }
        if new_rate < dec_from_proto(&params::staking(state)?.min_commission_rate).unwrap_or(Dec::ZERO) {
            return Err(StakeError::CommissionLtMinRate);
        }
        // Close the reward period at the old rate first.
        distribution::increment_period(state, &v)?;
        commission.commission_rates = Some(spb::CommissionRates { rate: dec_to_proto(new_rate), ..rates });
        commission.update_time = Some(ns_timestamp(info.time_ns));
        v.commission = Some(commission);
    }
    if !msg.min_self_delegation.is_empty() {
        let new_min: u128 =
            msg.min_self_delegation.parse().map_err(|_| StakeError::InvalidRequest("invalid min self delegation".into()))?;
        if new_min <= v.min_self_delegation.parse().unwrap_or(0) {
            return Err(StakeError::MinSelfDelegationDecreased);
        }
        if new_min > tokens(&v) {
            return Err(StakeError::SelfDelegationBelowMinimum);
        }
        v.min_self_delegation = new_min.to_string();
    }
    // Tokens unchanged: the power index entry stays valid.
    keeper.store_validator(state, &v)?;
    state.emit_typed(ValidatorEdited { validator: operator });
    Ok(())
}

/// Signer of a staking message given its delegator field.
pub fn delegator_of(text: &str) -> Result<Address, StakeError> {
    account("delegator", text)
}

/// Executes `MsgDelegate`.
pub fn delegate(keeper: &StakeKeeper, state: &mut dyn StateWrite, msg: &spb::MsgDelegate) -> Result<(), StakeError> {
    let delegator = delegator_of(&msg.delegator_address)?;
    let operator = valoper("validator", &msg.validator_address)?;
    let amount = bond_amount(msg.amount.as_ref())?;
    let info = block_info(state)?;
    let new_shares = keeper.delegate(state, info, &delegator, &operator, amount, &delegator)?;
    state.emit_typed(Delegated { validator: operator, delegator: delegator.to_bech32(), amount, new_shares });
    Ok(())
}

/// Executes `MsgUndelegate`; returns (completion time ns, tokens).
pub fn undelegate(keeper: &StakeKeeper, state: &mut dyn StateWrite, msg: &spb::MsgUndelegate) -> Result<(u64, u128), StakeError> {
    let delegator = delegator_of(&msg.delegator_address)?;
    let operator = valoper("validator", &msg.validator_address)?;
    let amount = bond_amount(msg.amount.as_ref())?;
    let info = block_info(state)?;
    let (completion, returned) = keeper.undelegate(state, info, &delegator, &operator, amount)?;
    state.emit_typed(Unbonded { validator: operator, delegator: delegator.to_bech32(), amount: returned, completion_time: completion });
    Ok((completion, returned))
}

/// Executes `MsgBeginRedelegate`; returns the completion time (ns).
pub fn redelegate(keeper: &StakeKeeper, state: &mut dyn StateWrite, msg: &spb::MsgBeginRedelegate) -> Result<u64, StakeError> {
    let delegator = delegator_of(&msg.delegator_address)?;
    let src = valoper("source validator", &msg.validator_src_address)?;
    let dst = valoper("destination validator", &msg.validator_dst_address)?;
    let amount = bond_amount(msg.amount.as_ref())?;
    let info = block_info(state)?;
    let completion = keeper.redelegate(state, info, &delegator, &src, &dst, amount)?;
    state.emit_typed(Redelegated { source_validator: src, destination_validator: dst, amount, completion_time: completion });
    Ok(completion)
}

/// Executes `MsgCancelUnbondingDelegation`.
pub fn cancel_unbonding(
    keeper: &StakeKeeper,
    state: &mut dyn StateWrite,
    msg: &spb::MsgCancelUnbondingDelegation,
) -> Result<(), StakeError> {
    let delegator = delegator_of(&msg.delegator_address)?;
    let operator = valoper("validator", &msg.validator_address)?;
    let amount = bond_amount(msg.amount.as_ref())?;
    if msg.creation_height <= 0 {
        return Err(StakeError::InvalidRequest("invalid height".into()));
    }
    let info = block_info(state)?;
    keeper.cancel_unbonding(state, info, &delegator, &operator, amount, msg.creation_height)?;
    state.emit_typed(UnbondingCancelled {
        validator: operator,
        delegator: delegator.to_bech32(),
        amount,
        creation_height: msg.creation_height,
    });
    Ok(())
}

/// Executes `MsgWithdrawDelegatorReward`; returns the uopen paid.
pub fn withdraw_rewards(
    keeper: &StakeKeeper,
    state: &mut dyn StateWrite,
    msg: &dpb::MsgWithdrawDelegatorReward,
) -> Result<u128, StakeError> {
    let delegator = delegator_of(&msg.delegator_address)?;
    let operator = valoper("validator", &msg.validator_address)?;
    let info = block_info(state)?;
    let v = keeper.validator(state, &operator)?.ok_or(StakeError::DistributionNoValidator)?;
    let d = keeper.delegation(state, &delegator.to_bech32(), &operator)?.ok_or(StakeError::DistributionNoDelegation)?;
    let paid = distribution::withdraw_delegation_rewards(keeper, state, info, &operator, &delegator.to_bech32())?;
    let v = keeper.validator(state, &operator)?.unwrap_or(v);
    distribution::initialize_delegation(state, info, &v, &d)?;
    Ok(paid)
}

/// Executes `MsgWithdrawValidatorCommission`; returns the uopen paid.
pub fn withdraw_commission(
    keeper: &StakeKeeper,
    state: &mut dyn StateWrite,
    msg: &dpb::MsgWithdrawValidatorCommission,
) -> Result<u128, StakeError> {
    let operator = valoper("validator", &msg.validator_address)?;
    distribution::withdraw_commission(keeper, state, &operator)
}

/// Executes `MsgSetWithdrawAddress`.
pub fn set_withdraw_address(state: &mut dyn StateWrite, msg: &dpb::MsgSetWithdrawAddress) -> Result<(), StakeError> {
    let delegator = delegator_of(&msg.delegator_address)?;
    let to = account("withdraw", &msg.withdraw_address)?;
    if to == Address::module(DISTRIBUTION_ACCOUNT) {
        return Err(StakeError::Unauthorized("cannot withdraw to a module account".into()));
    }
    distribution::set_withdraw_address(state, &delegator, &to)
}

/// Executes `MsgFundCommunityPool`.
pub fn fund_community_pool(keeper: &StakeKeeper, state: &mut dyn StateWrite, msg: &dpb::MsgFundCommunityPool) -> Result<(), StakeError> {
    let depositor = account("depositor", &msg.depositor)?;
    let coins = coins_from_proto(&msg.amount).map_err(|e| StakeError::InvalidCoins(e.to_string()))?;
    let amount = match coins.as_slice() {
        [c] if c.denom == BASE_DENOM => c.amount,
        _ => return Err(StakeError::InvalidCoins(format!("only {BASE_DENOM} can fund the community pool"))),
    };
    keeper.fund_community_pool(state, &depositor, amount)
}

/// Executes `MsgCommunityPoolSpend` (gov only: the app checks the authority): pays uopen out of
/// the community pool held by the distribution module account.
pub fn community_pool_spend(keeper: &StakeKeeper, state: &mut dyn StateWrite, msg: &dpb::MsgCommunityPoolSpend) -> Result<(), StakeError> {
    let recipient = account("recipient", &msg.recipient)?;
    let coins = coins_from_proto(&msg.amount).map_err(|e| StakeError::InvalidCoins(e.to_string()))?;
    let amount = match coins.as_slice() {
        [c] if c.denom == BASE_DENOM => c.amount,
        _ => return Err(StakeError::InvalidCoins(format!("only {BASE_DENOM} can be spent from the community pool"))),
    };
    let pool = distribution::community_pool(state)?;
    let Ok(remaining) = pool.checked_sub(Dec::from_int(amount)?) else {
        return Err(StakeError::Bank(openledger_core::AbciError {
            codespace: crate::error::DISTRIBUTION,
            code: 9,
            log: "community pool does not have sufficient coins to distribute: invalid distribution".into(),
        }));
    };
    openledger_core::StateWriteExt::put_proto(
        state,
        crate::state_key::FEE_POOL.to_vec(),
        &dpb::FeePool { community_pool: distribution::dec_coins(remaining) },
    )?;
    keeper.send(state, &Address::module(DISTRIBUTION_ACCOUNT), &recipient, amount)
}

/// Executes `MsgUnjail`.
pub fn unjail(keeper: &StakeKeeper, state: &mut dyn StateWrite, msg: &MsgUnjail) -> Result<(), StakeError> {
    let operator = valoper("validator", &msg.validator_addr)?;
    let info = block_info(state)?;
    slashing::unjail(keeper, state, info, &operator)
}
