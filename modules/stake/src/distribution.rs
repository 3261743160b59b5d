//! Fee and reward distribution with the SDK's F1 lazy accounting: each block's fees plus the
//! scheduled block reward are split by voting power among the validators that signed, less the
//! community tax and each validator's commission; a delegator's rewards are computed only when
//! its delegation changes or it withdraws, as `stake × (ratio_end − ratio_start)` over the
//! validator's reward periods, adjusted by slash events. Rewards are uopen-only `Dec`s.

use cosmos_sdk_proto::cosmos::base::v1beta1::DecCoin;
use cosmos_sdk_proto::cosmos::distribution::v1beta1::{
    DelegatorStartingInfo, FeePool, ValidatorAccumulatedCommission, ValidatorCurrentRewards, ValidatorHistoricalRewards,
    ValidatorOutstandingRewards, ValidatorSlashEvent,
};
use cosmos_sdk_proto::cosmos::staking::v1beta1::{Delegation, Validator};
use openledger_core::block::BlockInfo;
use openledger_core::coin::BASE_DENOM;
use openledger_core::{Address, Dec, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};

use crate::error::StakeError;
use crate::events::{CommissionWithdrawn, RewardsAllocated, RewardsWithdrawn, WithdrawAddressSet};
use crate::keeper::{mul_tokens, operator_account, shares, tokens, StakeKeeper, COMMUNITY_INCENTIVES, DISTRIBUTION_ACCOUNT, FEE_COLLECTOR};
use crate::params::{self, dec_from_proto, dec_to_proto};
use crate::state_key;

/// A single-denom DecCoins list.
pub fn dec_coins(d: Dec) -> Vec<DecCoin> {
    if d.is_zero() {
        Vec::new()
    } else {
        vec![DecCoin { denom: BASE_DENOM.into(), amount: dec_to_proto(d) }]
    }
}

/// The uopen amount of a DecCoins list.
pub fn from_dec_coins(coins: &[DecCoin]) -> Dec {
    coins
        .iter()
        .filter(|c| c.denom == BASE_DENOM)
        .filter_map(|c| dec_from_proto(&c.amount))
        .fold(Dec::ZERO, |a, b| Dec(a.0.saturating_add(b.0)))
}

fn get_dec<M: prost::Message + Default>(state: &dyn StateRead, key: &[u8], f: impl Fn(&M) -> &Vec<DecCoin>) -> Result<Dec, StakeError> {
    Ok(state.get_proto::<M>(key)?.map(|m| from_dec_coins(f(&m))).unwrap_or(Dec::ZERO))
}

/// The community pool.
pub fn community_pool(state: &dyn StateRead) -> Result<Dec, StakeError> {
    get_dec::<FeePool>(state, state_key::FEE_POOL, |m| &m.community_pool)
}

fn add_community_pool(state: &mut dyn StateWrite, amount: Dec) -> Result<(), StakeError> {
    if amount.is_zero() {
        return Ok(());
    }
    let pool = community_pool(state)?.checked_add(amount)?;
    state.put_proto(state_key::FEE_POOL.to_vec(), &FeePool { community_pool: dec_coins(pool) })?;
    Ok(())
}

/// Outstanding (allocated, not withdrawn) rewards of a validator, commission included.
pub fn outstanding(state: &dyn StateRead, operator: &str) -> Result<Dec, StakeError> {
    get_dec::<ValidatorOutstandingRewards>(state, &state_key::outstanding(operator), |m| &m.rewards)
}

fn set_outstanding(state: &mut dyn StateWrite, operator: &str, d: Dec) -> Result<(), StakeError> {
    state.put_proto(state_key::outstanding(operator), &ValidatorOutstandingRewards { rewards: dec_coins(d) })?;
    Ok(())
}

/// Accumulated commission of a validator.
pub fn commission(state: &dyn StateRead, operator: &str) -> Result<Dec, StakeError> {
    get_dec::<ValidatorAccumulatedCommission>(state, &state_key::commission(operator), |m| &m.commission)
}

fn current(state: &dyn StateRead, operator: &str) -> Result<ValidatorCurrentRewards, StakeError> {
    Ok(state.get_proto(&state_key::current_rewards(operator))?.unwrap_or(ValidatorCurrentRewards { rewards: vec![], period: 1 }))
}

fn historical(state: &dyn StateRead, operator: &str, period: u64) -> Result<ValidatorHistoricalRewards, StakeError> {
    state.get_proto(&state_key::historical_rewards(operator, period))?.ok_or(StakeError::Overflow("missing historical rewards"))
}

fn change_reference(state: &mut dyn StateWrite, operator: &str, period: u64, up: bool) -> Result<(), StakeError> {
    let mut h = historical(state, operator, period)?;
    if up {
        h.reference_count = h.reference_count.saturating_add(1);
    } else {
        h.reference_count = h.reference_count.saturating_sub(1);
    }
    if h.reference_count == 0 {
        state.delete(&state_key::historical_rewards(operator, period))?;
    } else {
        state.put_proto(state_key::historical_rewards(operator, period), &h)?;
    }
    Ok(())
}

fn add_u128(state: &mut dyn StateWrite, key: &[u8], amount: u128) -> Result<(), StakeError> {
    let now: u128 = state.get_proto::<String>(key)?.and_then(|s| s.parse().ok()).unwrap_or(0);
    state.put_proto(key.to_vec(), &now.saturating_add(amount).to_string())?;
    Ok(())
}

/// Totals for the invariant `paid ≤ allocated`: (allocated to validators, paid out), in uopen.
pub fn totals(state: &dyn StateRead) -> Result<(u128, u128), StakeError> {
    let read = |k: &[u8]| -> Result<u128, StateError> { Ok(state.get_proto::<String>(k)?.and_then(|s| s.parse().ok()).unwrap_or(0)) };
    Ok((read(state_key::TOTAL_ALLOCATED)?, read(state_key::TOTAL_PAID)?))
}

/// Creates a new validator's reward records (period 0 with a zero ratio).
pub fn init_validator(state: &mut dyn StateWrite, operator: &str) -> Result<(), StakeError> {
    state.put_proto(
        state_key::historical_rewards(operator, 0),
        &ValidatorHistoricalRewards { cumulative_reward_ratio: vec![], reference_count: 1 },
    )?;
    state.put_proto(state_key::current_rewards(operator), &ValidatorCurrentRewards { rewards: vec![], period: 1 })?;
    set_outstanding(state, operator, Dec::ZERO)?;
    state.put_proto(state_key::commission(operator), &ValidatorAccumulatedCommission { commission: vec![] })?;
    Ok(())
}

/// Closes the validator's current period: its rewards per token are added to the cumulative
/// ratio. Returns the period that was closed.
pub fn increment_period(state: &mut dyn StateWrite, v: &Validator) -> Result<u64, StakeError> {
    let operator = &v.operator_address;
    let cur = current(state, operator)?;
    let rewards = from_dec_coins(&cur.rewards);
    let validator_tokens = tokens(v);
    let per_token = match rewards.0.checked_div(validator_tokens) {
        Some(ratio) => Dec(ratio),
        None => {
            // No tokens to pay: the period's rewards go to the community pool, and leave the
            // validator's outstanding rewards (as in the SDK); otherwise they were counted twice.
            if !rewards.is_zero() {
                add_community_pool(state, rewards)?;
                let left = outstanding(state, operator)?.checked_sub(rewards)?;
                set_outstanding(state, operator, left)?;
            }
            Dec::ZERO
        }
    };
    let previous = historical(state, operator, cur.period.saturating_sub(1))?;
    let ratio = from_dec_coins(&previous.cumulative_reward_ratio).checked_add(per_token)?;
    change_reference(state, operator, cur.period.saturating_sub(1), false)?;
    state.put_proto(
        state_key::historical_rewards(operator, cur.period),
        &ValidatorHistoricalRewards { cumulative_reward_ratio: dec_coins(ratio), reference_count: 1 },
    )?;
    state.put_proto(
        state_key::current_rewards(operator),
        &ValidatorCurrentRewards { rewards: vec![], period: cur.period.saturating_add(1) },
    )?;
    Ok(cur.period)
}

/// Records a delegation's starting point after it changed.
pub fn initialize_delegation(state: &mut dyn StateWrite, info: BlockInfo, v: &Validator, d: &Delegation) -> Result<(), StakeError> {
    let operator = &v.operator_address;
    let previous_period = current(state, operator)?.period.saturating_sub(1);
    change_reference(state, operator, previous_period, true)?;
    let stake_tokens = mul_tokens(dec_from_proto(&d.shares).unwrap_or(Dec::ZERO), tokens(v), shares(v))?;
    let info_proto = DelegatorStartingInfo { previous_period, stake: dec_to_proto(Dec::from_int(stake_tokens)?), height: info.height };
    state.put_proto(state_key::starting_info(operator, &d.delegator_address), &info_proto)?;
    Ok(())
}

fn ratio_at(state: &dyn StateRead, operator: &str, period: u64) -> Result<Dec, StakeError> {
    Ok(from_dec_coins(&historical(state, operator, period)?.cumulative_reward_ratio))
}

/// Rewards a delegation earned between its start and `ending_period` (as a Dec of uopen).
pub fn calculate_rewards(state: &dyn StateRead, operator: &str, delegator: &str, ending_period: u64) -> Result<Dec, StakeError> {
    let Some(start) = state.get_proto::<DelegatorStartingInfo>(&state_key::starting_info(operator, delegator))? else {
        return Ok(Dec::ZERO);
    };
    let mut stake = dec_from_proto(&start.stake).unwrap_or(Dec::ZERO);
    let mut start_period = start.previous_period;
    let mut rewards = Dec::ZERO;
    let earn = |from: u64, to: u64, stake: Dec| -> Result<Dec, StakeError> {
        let end_ratio = ratio_at(state, operator, to)?;
        let start_ratio = ratio_at(state, operator, from)?;
        let diff = end_ratio.checked_sub(start_ratio).unwrap_or(Dec::ZERO);
        // ratio is uopen per token (scaled); stake is a whole-token Dec.
        Ok(Dec(openledger_core::dec::mul_div(diff.0, stake.truncate(), 1)?))
    };
    // Slash events after the delegation started reduce the stake from their period on.
    let prefix = state_key::slash_events_of(operator);
    for (_, event) in state.scan_proto::<ValidatorSlashEvent>(&prefix, None, 10_000)? {
        if event.validator_period <= start_period || event.validator_period > ending_period {
            continue;
        }
        rewards = rewards.checked_add(earn(start_period, event.validator_period, stake)?)?;
        let fraction = dec_from_proto(&event.fraction).unwrap_or(Dec::ZERO);
        stake = stake.checked_mul(Dec::ONE.checked_sub(fraction).unwrap_or(Dec::ZERO))?;
        start_period = event.validator_period;
    }
    rewards.checked_add(earn(start_period, ending_period, stake)?).map_err(Into::into)
}

fn withdraw_address(state: &dyn StateRead, delegator: &str) -> Result<Address, StakeError> {
    let text = state.get_proto::<String>(&state_key::withdraw_address(delegator))?.unwrap_or_else(|| delegator.to_string());
    Address::from_bech32(&text).map_err(|e| StakeError::InvalidAddress { field: "withdraw", value: text, reason: e.to_string() })
}

/// Sets where a delegator's rewards go.
pub fn set_withdraw_address(state: &mut dyn StateWrite, delegator: &Address, to: &Address) -> Result<(), StakeError> {
    if !params::distribution(state)?.withdraw_addr_enabled {
        return Err(StakeError::InvalidRequest("set withdraw address disabled".into()));
    }
    state.put_proto(state_key::withdraw_address(&delegator.to_bech32()), &to.to_bech32())?;
    state.emit_typed(WithdrawAddressSet { withdraw_address: to.to_bech32() });
    Ok(())
}

/// Pays a delegation's rewards to its withdraw address and restarts its record (the caller
/// re-initializes it if the delegation remains). Returns the uopen paid.
pub fn withdraw_delegation_rewards(
    keeper: &StakeKeeper,
    state: &mut dyn StateWrite,
    _info: BlockInfo,
    operator: &str,
    delegator: &str,
) -> Result<u128, StakeError> {
    let v = keeper.must_validator(state, operator)?;
    if !state.has(&state_key::starting_info(operator, delegator))? {
        return Err(StakeError::DistributionNoDelegation);
    }
    let ending = increment_period(state, &v)?;
    let mut rewards = calculate_rewards(state, operator, delegator, ending)?;
    let out = outstanding(state, operator)?;
    if rewards > out {
        rewards = out; // rounding guard: never pay more than was allocated
    }
    set_outstanding(state, operator, out.checked_sub(rewards)?)?;
    let paid = rewards.truncate();
    add_community_pool(state, rewards.checked_sub(Dec::from_int(paid)?)?)?;
    let start = state
        .get_proto::<DelegatorStartingInfo>(&state_key::starting_info(operator, delegator))?
        .ok_or(StakeError::DistributionNoDelegation)?;
    change_reference(state, operator, start.previous_period, false)?;
    state.delete(&state_key::starting_info(operator, delegator))?;
    if paid > 0 {
        let to = withdraw_address(state, delegator)?;
        keeper.send(state, &Address::module(DISTRIBUTION_ACCOUNT), &to, paid)?;
        add_u128(state, state_key::TOTAL_PAID, paid)?;
    }
    state.emit_typed(RewardsWithdrawn { amount: paid, validator: operator.to_string(), delegator: delegator.to_string() });
    Ok(paid)
}

/// Pays a validator's accumulated commission to its operator's withdraw address.
pub fn withdraw_commission(keeper: &StakeKeeper, state: &mut dyn StateWrite, operator: &str) -> Result<u128, StakeError> {
    keeper.must_validator(state, operator).map_err(|_| StakeError::DistributionNoValidator)?;
    let acc = commission(state, operator)?;
    let paid = acc.truncate();
    if paid == 0 {
        return Err(StakeError::NoValidatorCommission);
    }
    let paid_dec = Dec::from_int(paid)?;
    state.put_proto(
        state_key::commission(operator),
        &ValidatorAccumulatedCommission { commission: dec_coins(acc.checked_sub(paid_dec)?) },
    )?;
    let out = outstanding(state, operator)?;
    set_outstanding(state, operator, out.checked_sub(paid_dec).unwrap_or(Dec::ZERO))?;
    let account = operator_account(operator)?;
    let to = withdraw_address(state, &account.to_bech32())?;
    keeper.send(state, &Address::module(DISTRIBUTION_ACCOUNT), &to, paid)?;
    add_u128(state, state_key::TOTAL_PAID, paid)?;
    state.emit_typed(CommissionWithdrawn { amount: paid });
    Ok(paid)
}

/// Before a slash: closes the period and records the slash event so that delegations that
/// span it are computed on the reduced stake.
pub fn before_slash(state: &mut dyn StateWrite, info: BlockInfo, v: &Validator, fraction: Dec) -> Result<(), StakeError> {
    let period = increment_period(state, v)?;
    // The new period references the slash event's period.
    change_reference(state, &v.operator_address, period, true)?;
    let event = ValidatorSlashEvent { validator_period: period, fraction: dec_to_proto(fraction) };
    state.put_proto(state_key::slash_event(&v.operator_address, info.height, period), &event)?;
    Ok(())
}

/// One signer of the previous block, as CometBFT reports it.
#[derive(Debug, Clone)]
pub struct Vote {
    /// 20-byte consensus address.
    pub address: Vec<u8>,
    /// Voting power.
    pub power: u64,
    /// Whether it signed the block.
    pub signed: bool,
}

/// Begin-block allocation: moves the collected fees and the scheduled block reward into the
/// distribution account, takes the community tax, and splits the rest by power among signers;
/// the share of absent validators goes to the community pool.
pub fn allocate(keeper: &StakeKeeper, state: &mut dyn StateWrite, info: BlockInfo, votes: &[Vote]) -> Result<(), StakeError> {
    let dist = Address::module(DISTRIBUTION_ACCOUNT);
    let fees = keeper.bank.balance(state, &Address::module(FEE_COLLECTOR), BASE_DENOM)?;
    keeper.send(state, &Address::module(FEE_COLLECTOR), &dist, fees)?;
    let schedule = params::reward_schedule(state)?;
    let available = keeper.bank.balance(state, &Address::module(COMMUNITY_INCENTIVES), BASE_DENOM)?;
    let reward = params::block_reward_at(&schedule, info.height).min(available);
    keeper.send(state, &Address::module(COMMUNITY_INCENTIVES), &dist, reward)?;
    let total = Dec::from_int(fees.saturating_add(reward))?;
    if total.is_zero() {
        return Ok(());
    }
    let total_power: u128 = votes.iter().map(|v| u128::from(v.power)).sum();
    if total_power == 0 {
        return add_community_pool(state, total);
    }
    let tax = params::dec_from_proto(&params::distribution(state)?.community_tax).unwrap_or(Dec::ZERO);
    let to_validators = total.checked_sub(total.checked_mul(tax)?)?;
    let mut allocated = Dec::ZERO;
    for vote in votes.iter().filter(|v| v.signed) {
        let Some(v) = keeper.validator_by_cons(state, &vote.address)? else { continue };
        let share = to_validators.mul_ratio(u128::from(vote.power), total_power)?;
        allocate_to_validator(state, &v, share)?;
        allocated = allocated.checked_add(share)?;
    }
    add_community_pool(state, total.checked_sub(allocated)?)?;
    add_u128(state, state_key::TOTAL_ALLOCATED, allocated.truncate())?;
    Ok(())
}

/// Credits `reward` to a validator: commission to the operator, the rest to its delegators.
pub fn allocate_to_validator(state: &mut dyn StateWrite, v: &Validator, reward: Dec) -> Result<(), StakeError> {
    let operator = &v.operator_address;
    let rate = v.commission.as_ref().and_then(|c| c.commission_rates.as_ref()).and_then(|r| dec_from_proto(&r.rate)).unwrap_or(Dec::ZERO);
    let cut = reward.checked_mul(rate)?;
    let shared = reward.checked_sub(cut)?;
    let acc = commission(state, operator)?.checked_add(cut)?;
    state.put_proto(state_key::commission(operator), &ValidatorAccumulatedCommission { commission: dec_coins(acc) })?;
    let mut cur = current(state, operator)?;
    cur.rewards = dec_coins(from_dec_coins(&cur.rewards).checked_add(shared)?);
    state.put_proto(state_key::current_rewards(operator), &cur)?;
    let new_outstanding = outstanding(state, operator)?.checked_add(reward)?;
    set_outstanding(state, operator, new_outstanding)?;
    state.emit_typed(RewardsAllocated { amount: reward, validator: operator.clone() });
    Ok(())
}

/// Rewards a delegation has earned so far (query; nothing is written).
pub fn pending_rewards(state: &dyn StateRead, v: &Validator, delegator: &str) -> Result<Dec, StakeError> {
    let operator = &v.operator_address;
    if !state.has(&state_key::starting_info(operator, delegator))? {
        return Ok(Dec::ZERO);
    }
    // Simulate closing the current period on a scratch layer.
    let mut scratch = openledger_core::StateDelta::new(state);
    let ending = increment_period(&mut scratch, v)?;
    calculate_rewards(&scratch, operator, delegator, ending)
}

/// Adds deposited uopen (already moved to the distribution account) to the community pool.
pub fn fund_community_pool(state: &mut dyn StateWrite, amount: u128) -> Result<(), StakeError> {
    add_community_pool(state, Dec::from_int(amount)?)
}
