//! Every state key of the stake module (staking, distribution, slashing), in one place.
//! Numbers are zero-padded so prefix scans come out ordered.

/// `cosmos.staking.v1beta1.Params`.
pub const STAKING_PARAMS: &[u8] = b"stake/params";
/// `cosmos.distribution.v1beta1.Params`.
pub const DISTRIBUTION_PARAMS: &[u8] = b"stake/dist/params";
/// `cosmos.slashing.v1beta1.Params`.
pub const SLASHING_PARAMS: &[u8] = b"stake/slashing/params";
/// Block reward schedule (`RewardSchedule` as two u64 in a `Coin`-free proto: see `params.rs`).
pub const REWARD_SCHEDULE: &[u8] = b"stake/dist/reward_schedule";

/// `stake/validator/{valoper}` → `Validator`.
pub fn validator(operator: &str) -> Vec<u8> {
    format!("stake/validator/{operator}").into_bytes()
}
/// Prefix of all validators.
pub const VALIDATOR_PREFIX: &[u8] = b"stake/validator/";

/// `stake/validator_by_cons/{consaddr hex}` → operator bech32 (String).
pub fn validator_by_cons(cons_hex: &str) -> Vec<u8> {
    format!("stake/validator_by_cons/{cons_hex}").into_bytes()
}

/// Power index: `stake/power/{u64::MAX - power:020}/{valoper}` → empty; highest power first.
pub fn power_index(power: u64, operator: &str) -> Vec<u8> {
    format!("stake/power/{:020}/{operator}", u64::MAX - power).into_bytes()
}
/// Prefix of the power index.
pub const POWER_PREFIX: &[u8] = b"stake/power/";

/// `stake/last_power/{valoper}` → power (u64) CometBFT currently has.
pub fn last_power(operator: &str) -> Vec<u8> {
    format!("stake/last_power/{operator}").into_bytes()
}
/// Prefix of the last-power set.
pub const LAST_POWER_PREFIX: &[u8] = b"stake/last_power/";

/// `stake/delegation/{delegator}/{valoper}` → `Delegation`.
pub fn delegation(delegator: &str, operator: &str) -> Vec<u8> {
    format!("stake/delegation/{delegator}/{operator}").into_bytes()
}
/// Delegations of one delegator.
pub fn delegations_of(delegator: &str) -> Vec<u8> {
    format!("stake/delegation/{delegator}/").into_bytes()
}
/// Prefix of all delegations.
pub const DELEGATION_PREFIX: &[u8] = b"stake/delegation/";

/// Index `stake/delegation_by_val/{valoper}/{delegator}` → empty.
pub fn delegation_by_validator(operator: &str, delegator: &str) -> Vec<u8> {
    format!("stake/delegation_by_val/{operator}/{delegator}").into_bytes()
}
/// Delegators of one validator.
pub fn delegations_to(operator: &str) -> Vec<u8> {
    format!("stake/delegation_by_val/{operator}/").into_bytes()
}

/// `stake/unbonding/{delegator}/{valoper}` → `UnbondingDelegation`.
pub fn unbonding(delegator: &str, operator: &str) -> Vec<u8> {
    format!("stake/unbonding/{delegator}/{operator}").into_bytes()
}
/// Unbondings of one delegator.
pub fn unbondings_of(delegator: &str) -> Vec<u8> {
    format!("stake/unbonding/{delegator}/").into_bytes()
}
/// Index `stake/unbonding_by_val/{valoper}/{delegator}` → empty.
pub fn unbonding_by_validator(operator: &str, delegator: &str) -> Vec<u8> {
    format!("stake/unbonding_by_val/{operator}/{delegator}").into_bytes()
}
/// Unbondings from one validator.
pub fn unbondings_from(operator: &str) -> Vec<u8> {
    format!("stake/unbonding_by_val/{operator}/").into_bytes()
}
/// Queue `stake/unbonding_queue/{completion_ns:020}/{delegator}/{valoper}` → empty.
pub fn unbonding_queue(completion_ns: u64, delegator: &str, operator: &str) -> Vec<u8> {
    format!("stake/unbonding_queue/{completion_ns:020}/{delegator}/{operator}").into_bytes()
}
/// Prefix of the unbonding queue.
pub const UNBONDING_QUEUE_PREFIX: &[u8] = b"stake/unbonding_queue/";

/// `stake/redelegation/{delegator}/{src}/{dst}` → `Redelegation`.
pub fn redelegation(delegator: &str, src: &str, dst: &str) -> Vec<u8> {
    format!("stake/redelegation/{delegator}/{src}/{dst}").into_bytes()
}
/// Redelegations of one delegator.
pub fn redelegations_of(delegator: &str) -> Vec<u8> {
    format!("stake/redelegation/{delegator}/").into_bytes()
}
/// Index `stake/redelegation_by_src/{src}/{delegator}/{dst}` → empty.
pub fn redelegation_by_src(src: &str, delegator: &str, dst: &str) -> Vec<u8> {
    format!("stake/redelegation_by_src/{src}/{delegator}/{dst}").into_bytes()
}
/// Redelegations out of one validator.
pub fn redelegations_from(src: &str) -> Vec<u8> {
    format!("stake/redelegation_by_src/{src}/").into_bytes()
}
/// Index `stake/redelegation_by_dst/{dst}/{delegator}/{src}` → empty (transitive-redelegation check).
pub fn redelegation_by_dst(dst: &str, delegator: &str, src: &str) -> Vec<u8> {
    format!("stake/redelegation_by_dst/{dst}/{delegator}/{src}").into_bytes()
}
/// Redelegations of a delegator into one validator.
pub fn redelegations_into(dst: &str, delegator: &str) -> Vec<u8> {
    format!("stake/redelegation_by_dst/{dst}/{delegator}/").into_bytes()
}
/// Queue `stake/redelegation_queue/{completion_ns:020}/{delegator}/{src}/{dst}` → empty.
pub fn redelegation_queue(completion_ns: u64, delegator: &str, src: &str, dst: &str) -> Vec<u8> {
    format!("stake/redelegation_queue/{completion_ns:020}/{delegator}/{src}/{dst}").into_bytes()
}
/// Prefix of the redelegation queue.
pub const REDELEGATION_QUEUE_PREFIX: &[u8] = b"stake/redelegation_queue/";

/// Queue `stake/validator_queue/{completion_ns:020}/{valoper}` → empty (unbonding validators).
pub fn validator_queue(completion_ns: u64, operator: &str) -> Vec<u8> {
    format!("stake/validator_queue/{completion_ns:020}/{operator}").into_bytes()
}
/// Prefix of the validator unbonding queue.
pub const VALIDATOR_QUEUE_PREFIX: &[u8] = b"stake/validator_queue/";

/// Next unbonding id (u64).
pub const NEXT_UNBONDING_ID: &[u8] = b"stake/next_unbonding_id";

// Distribution (F1).

/// `FeePool` (community pool, as DecCoins).
pub const FEE_POOL: &[u8] = b"stake/dist/fee_pool";
/// `stake/dist/outstanding/{valoper}` → `ValidatorOutstandingRewards`.
pub fn outstanding(operator: &str) -> Vec<u8> {
    format!("stake/dist/outstanding/{operator}").into_bytes()
}
/// `stake/dist/commission/{valoper}` → `ValidatorAccumulatedCommission`.
pub fn commission(operator: &str) -> Vec<u8> {
    format!("stake/dist/commission/{operator}").into_bytes()
}
/// `stake/dist/current/{valoper}` → `ValidatorCurrentRewards`.
pub fn current_rewards(operator: &str) -> Vec<u8> {
    format!("stake/dist/current/{operator}").into_bytes()
}
/// `stake/dist/historical/{valoper}/{period:020}` → `ValidatorHistoricalRewards`.
pub fn historical_rewards(operator: &str, period: u64) -> Vec<u8> {
    format!("stake/dist/historical/{operator}/{period:020}").into_bytes()
}
/// `stake/dist/starting/{valoper}/{delegator}` → `DelegatorStartingInfo`.
pub fn starting_info(operator: &str, delegator: &str) -> Vec<u8> {
    format!("stake/dist/starting/{operator}/{delegator}").into_bytes()
}
/// `stake/dist/slash/{valoper}/{height:020}/{period:020}` → `ValidatorSlashEvent`.
pub fn slash_event(operator: &str, height: u64, period: u64) -> Vec<u8> {
    format!("stake/dist/slash/{operator}/{height:020}/{period:020}").into_bytes()
}
/// Slash events of one validator (ordered by height).
pub fn slash_events_of(operator: &str) -> Vec<u8> {
    format!("stake/dist/slash/{operator}/").into_bytes()
}
/// `stake/dist/withdraw_addr/{delegator}` → address (String).
pub fn withdraw_address(delegator: &str) -> Vec<u8> {
    format!("stake/dist/withdraw_addr/{delegator}").into_bytes()
}
/// Total rewards ever allocated to validators (u128 as string) — for the paid ≤ accrued invariant.
pub const TOTAL_ALLOCATED: &[u8] = b"stake/dist/total_allocated";
/// Total rewards ever paid out to delegators and as commission (string).
pub const TOTAL_PAID: &[u8] = b"stake/dist/total_paid";

// Slashing.

/// `stake/slashing/info/{consaddr hex}` → `ValidatorSigningInfo`.
pub fn signing_info(cons_hex: &str) -> Vec<u8> {
    format!("stake/slashing/info/{cons_hex}").into_bytes()
}
/// Prefix of signing infos.
pub const SIGNING_INFO_PREFIX: &[u8] = b"stake/slashing/info/";
/// `stake/slashing/missed/{consaddr hex}/{index:020}` → empty when that block was missed.
pub fn missed_block(cons_hex: &str, index: u64) -> Vec<u8> {
    format!("stake/slashing/missed/{cons_hex}/{index:020}").into_bytes()
}
/// Missed-block bits of one validator.
pub fn missed_blocks_of(cons_hex: &str) -> Vec<u8> {
    format!("stake/slashing/missed/{cons_hex}/").into_bytes()
}
