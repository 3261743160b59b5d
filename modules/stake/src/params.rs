//! Parameters of staking, distribution and slashing (the SDK's protos, Dec fields as 18-digit
//! atomics strings as the SDK encodes them on the wire) plus OpenLedger's block reward schedule.

use cosmos_sdk_proto::cosmos::distribution::v1beta1::Params as DistributionParams;
use cosmos_sdk_proto::cosmos::slashing::v1beta1::Params as SlashingParams;
use cosmos_sdk_proto::cosmos::staking::v1beta1::Params as StakingParams;
use openledger_core::coin::BASE_DENOM;
use openledger_core::{Dec, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::stake::v1::RewardSchedule;
use tendermint_proto::google::protobuf::Duration;

use crate::state_key;

/// Tokens per unit of consensus power (1 OPEN = 1 power).
pub const POWER_REDUCTION: u128 = 1_000_000;

/// A Dec as the SDK writes it inside protobuf: the integer atomics (`"50000000000000000"` = 0.05).
pub fn dec_to_proto(d: Dec) -> String {
    d.0.to_string()
}

/// Reads a protobuf Dec (atomics); also accepts the dotted JSON form.
pub fn dec_from_proto(text: &str) -> Option<Dec> {
    if text.is_empty() {
        return Some(Dec::ZERO);
    }
    if text.contains('.') {
        return Dec::parse(text).ok();
    }
    text.parse::<u128>().ok().map(Dec)
}

fn dec(text: &str) -> Dec {
    Dec::parse(text).unwrap_or(Dec::ZERO)
}

/// Default staking params (unbonding 21 days, 100 validators, 10,000 blocks of host history for
/// IBC as in the SDK).
pub fn default_staking() -> StakingParams {
    StakingParams {
        unbonding_time: Some(Duration { seconds: 21 * 24 * 3600, nanos: 0 }),
        max_validators: 100,
        max_entries: 7,
        historical_entries: 10_000,
        bond_denom: BASE_DENOM.into(),
        min_commission_rate: dec_to_proto(Dec::ZERO),
    }
}

/// Default distribution params (2 % community tax).
pub fn default_distribution() -> DistributionParams {
    #[allow(deprecated)]
    DistributionParams {
        community_tax: dec_to_proto(dec("0.02")),
        base_proposer_reward: dec_to_proto(Dec::ZERO),
        bonus_proposer_reward: dec_to_proto(Dec::ZERO),
        withdraw_addr_enabled: true,
    }
}

/// Default slashing params (window 100, 50 % signed, 10 min jail, 5 % / 1 % slashes).
pub fn default_slashing() -> SlashingParams {
    SlashingParams {
        signed_blocks_window: 100,
        min_signed_per_window: dec_to_proto(dec("0.5")).into_bytes(),
        downtime_jail_duration: Some(Duration { seconds: 600, nanos: 0 }),
        slash_fraction_double_sign: dec_to_proto(dec("0.05")).into_bytes(),
        slash_fraction_downtime: dec_to_proto(dec("0.01")).into_bytes(),
    }
}

/// Default reward schedule: 10 OPEN per block, halving every 6,307,200 blocks (~1 year of 5 s).
pub fn default_reward_schedule() -> RewardSchedule {
    RewardSchedule { block_reward: "10000000".into(), halving_interval_blocks: 6_307_200 }
}

/// Staking params.
pub fn staking(state: &dyn StateRead) -> Result<StakingParams, StateError> {
    Ok(state.get_proto(state_key::STAKING_PARAMS)?.unwrap_or_else(default_staking))
}
/// Distribution params.
pub fn distribution(state: &dyn StateRead) -> Result<DistributionParams, StateError> {
    Ok(state.get_proto(state_key::DISTRIBUTION_PARAMS)?.unwrap_or_else(default_distribution))
}
/// Slashing params.
pub fn slashing(state: &dyn StateRead) -> Result<SlashingParams, StateError> {
    Ok(state.get_proto(state_key::SLASHING_PARAMS)?.unwrap_or_else(default_slashing))
}
/// Reward schedule.
pub fn reward_schedule(state: &dyn StateRead) -> Result<RewardSchedule, StateError> {
    Ok(state.get_proto(state_key::REWARD_SCHEDULE)?.unwrap_or_else(default_reward_schedule))
}

/// Writes all four parameter sets.
pub fn set_all(
    state: &mut dyn StateWrite,
    staking: &StakingParams,
    distribution: &DistributionParams,
    slashing: &SlashingParams,
    schedule: &RewardSchedule,
) -> Result<(), StateError> {
    state.put_proto(state_key::STAKING_PARAMS.to_vec(), staking)?;
    state.put_proto(state_key::DISTRIBUTION_PARAMS.to_vec(), distribution)?;
    state.put_proto(state_key::SLASHING_PARAMS.to_vec(), slashing)?;
    state.put_proto(state_key::REWARD_SCHEDULE.to_vec(), schedule)
}

/// Duration in nanoseconds (negative clamps to 0).
pub fn duration_ns(d: Option<&Duration>) -> u64 {
    match d {
        None => 0,
        Some(d) => {
            let secs = u64::try_from(d.seconds).unwrap_or(0);
            let nanos = u64::try_from(d.nanos).unwrap_or(0);
            secs.saturating_mul(1_000_000_000).saturating_add(nanos)
        }
    }
}

/// Per-block reward at `height` under `schedule`.
pub fn block_reward_at(schedule: &RewardSchedule, height: u64) -> u128 {
    let base = schedule.block_reward.parse::<u128>().unwrap_or(0);
    if schedule.halving_interval_blocks == 0 {
        return base;
    }
    let halvings = height / schedule.halving_interval_blocks;
    if halvings >= 128 {
        0
    } else {
        base >> halvings
    }
}

/// Slashing fraction bytes → Dec.
pub fn dec_from_bytes(bytes: &[u8]) -> Dec {
    std::str::from_utf8(bytes).ok().and_then(dec_from_proto).unwrap_or(Dec::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dec_wire_form_is_atomics_and_schedule_halves() {
        assert_eq!(dec_to_proto(dec("0.05")), "50000000000000000");
        assert_eq!(dec_from_proto("50000000000000000"), Some(dec("0.05")));
        assert_eq!(dec_from_proto("0.05"), Some(dec("0.05")));
        assert_eq!(dec_from_bytes(&default_slashing().slash_fraction_downtime), dec("0.01"));
        let s = RewardSchedule { block_reward: "1000".into(), halving_interval_blocks: 10 };
        assert_eq!(block_reward_at(&s, 9), 1000);
        assert_eq!(block_reward_at(&s, 10), 500);
        assert_eq!(block_reward_at(&s, 25), 250);
        assert_eq!(block_reward_at(&s, 10 * 200), 0);
    }
}
