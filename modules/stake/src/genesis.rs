//! Stake genesis: parameters of staking, distribution and slashing, the reward schedule, and
//! gentx-style validator entries (operator, consensus key, commission, self-bond) plus extra
//! delegations. InitChain replays them as `MsgCreateValidator` / `MsgDelegate` would, so the
//! genesis validator set comes from the app, not from CometBFT's genesis file.

use base64::Engine;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use openledger_core::block::BlockInfo;
use openledger_core::coin::BASE_DENOM;
use openledger_core::{serde_str, Address, Dec, StateRead, StateWrite};
use openledger_proto::openledger::stake::v1::RewardSchedule;
use serde::{Deserialize, Serialize};
use tendermint_proto::google::protobuf::Duration;
use tendermint_proto::v0_38::abci::ValidatorUpdate;

use crate::error::StakeError;
use crate::keeper::{consensus_key, ed25519_any, mul_tokens, operator_account, shares, tokens, StakeKeeper};
use crate::msg::CreateValidator;
use crate::params::{self, dec_from_bytes, dec_from_proto, dec_to_proto, duration_ns};
use crate::state_key;

/// Staking params in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakingParamsJson {
    /// Unbonding period in seconds.
    #[serde(with = "serde_str")]
    pub unbonding_time_seconds: u64,
    /// Size of the active set.
    pub max_validators: u32,
    /// Most unbonding/redelegation entries per pair.
    pub max_entries: u32,
    /// Minimum commission rate (decimal).
    pub min_commission_rate: String,
    /// Blocks of host history kept for IBC (the SDK's `historical_entries`; absent: 0, none).
    #[serde(default)]
    pub historical_entries: u32,
}

/// Slashing params in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashingParamsJson {
    /// Liveness window in blocks.
    #[serde(with = "serde_str")]
    pub signed_blocks_window: i64,
    /// Fraction of the window that must be signed.
    pub min_signed_per_window: String,
    /// Jail time after downtime, seconds.
    #[serde(with = "serde_str")]
    pub downtime_jail_duration_seconds: u64,
    /// Slash for double signing.
    pub slash_fraction_double_sign: String,
    /// Slash for downtime.
    pub slash_fraction_downtime: String,
}

/// Distribution params in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionParamsJson {
    /// Community tax (decimal).
    pub community_tax: String,
    /// Whether delegators may set a withdraw address.
    pub withdraw_addr_enabled: bool,
}

/// Reward schedule in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardScheduleJson {
    /// uopen per block.
    pub block_reward: String,
    /// Blocks between halvings.
    #[serde(with = "serde_str")]
    pub halving_interval_blocks: u64,
}

/// A gentx-style genesis validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// `openvaloper1…` (its account self-bonds and must be funded by the bank genesis).
    pub operator_address: String,
    /// Base64 ed25519 consensus public key (`priv_validator_key.json`'s `pub_key.value`).
    pub consensus_pubkey: String,
    /// Moniker.
    pub moniker: String,
    /// Commission rate (decimal).
    pub commission_rate: String,
    /// Max commission rate.
    pub commission_max_rate: String,
    /// Max daily change.
    pub commission_max_change_rate: String,
    /// Minimum self-delegation (uopen).
    #[serde(with = "serde_str")]
    pub min_self_delegation: u128,
    /// Self-bond (uopen).
    #[serde(with = "serde_str")]
    pub self_delegation: u128,
}

/// An extra genesis delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisDelegation {
    /// Delegator account.
    pub delegator_address: String,
    /// Validator operator.
    pub validator_address: String,
    /// uopen.
    #[serde(with = "serde_str")]
    pub amount: u128,
}

/// The stake section of `app_state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakeGenesis {
    /// Staking params.
    pub params: StakingParamsJson,
    /// Slashing params.
    pub slashing: SlashingParamsJson,
    /// Distribution params.
    pub distribution: DistributionParamsJson,
    /// Block reward schedule.
    pub reward_schedule: RewardScheduleJson,
    /// Validators.
    #[serde(default)]
    pub validators: Vec<GenesisValidator>,
    /// Extra delegations.
    #[serde(default)]
    pub delegations: Vec<GenesisDelegation>,
}

fn dotted(d: Dec) -> String {
    let text = d.to_string();
    let trimmed = text.trim_end_matches('0');
    trimmed.strip_suffix('.').map(|s| s.to_string()).unwrap_or_else(|| trimmed.to_string())
}

/// The JSON form of the four parameter sets (validators and delegations empty).
fn from_params(
    s: &spb::Params,
    sl: &cosmos_sdk_proto::cosmos::slashing::v1beta1::Params,
    d: &cosmos_sdk_proto::cosmos::distribution::v1beta1::Params,
    r: &RewardSchedule,
) -> StakeGenesis {
    StakeGenesis {
        params: StakingParamsJson {
            unbonding_time_seconds: duration_ns(s.unbonding_time.as_ref()) / 1_000_000_000,
            max_validators: s.max_validators,
            max_entries: s.max_entries,
            min_commission_rate: dotted(dec_from_proto(&s.min_commission_rate).unwrap_or(Dec::ZERO)),
            historical_entries: s.historical_entries,
        },
        slashing: SlashingParamsJson {
            signed_blocks_window: sl.signed_blocks_window,
            min_signed_per_window: dotted(dec_from_bytes(&sl.min_signed_per_window)),
            downtime_jail_duration_seconds: duration_ns(sl.downtime_jail_duration.as_ref()) / 1_000_000_000,
            slash_fraction_double_sign: dotted(dec_from_bytes(&sl.slash_fraction_double_sign)),
            slash_fraction_downtime: dotted(dec_from_bytes(&sl.slash_fraction_downtime)),
        },
        distribution: DistributionParamsJson {
            community_tax: dotted(dec_from_proto(&d.community_tax).unwrap_or(Dec::ZERO)),
            withdraw_addr_enabled: d.withdraw_addr_enabled,
        },
        reward_schedule: RewardScheduleJson { block_reward: r.block_reward.clone(), halving_interval_blocks: r.halving_interval_blocks },
        validators: Vec::new(),
        delegations: Vec::new(),
    }
}

impl Default for StakeGenesis {
    fn default() -> Self {
        from_params(
            &params::default_staking(),
            &params::default_slashing(),
            &params::default_distribution(),
            &params::default_reward_schedule(),
        )
    }
}

fn parse_dec(field: &str, text: &str) -> Result<Dec, StakeError> {
    Dec::parse(text).map_err(|e| StakeError::InvalidGenesis(format!("{field}: {e}")))
}

fn seconds(s: u64) -> Duration {
    Duration { seconds: i64::try_from(s).unwrap_or(i64::MAX), nanos: 0 }
}

/// Imports the stake genesis; returns the initial validator set for CometBFT.
pub fn init_genesis(
    keeper: &StakeKeeper,
    state: &mut dyn StateWrite,
    genesis: &StakeGenesis,
    info: BlockInfo,
) -> Result<Vec<ValidatorUpdate>, StakeError> {
    let p = &genesis.params;
    if p.max_validators == 0 || p.max_entries == 0 {
        return Err(StakeError::InvalidGenesis("max_validators and max_entries must be positive".into()));
    }
    let staking = spb::Params {
        unbonding_time: Some(seconds(p.unbonding_time_seconds)),
        max_validators: p.max_validators,
        max_entries: p.max_entries,
        historical_entries: p.historical_entries,
        bond_denom: BASE_DENOM.into(),
        min_commission_rate: dec_to_proto(parse_dec("min_commission_rate", &p.min_commission_rate)?),
    };
    let sl = &genesis.slashing;
    if sl.signed_blocks_window <= 0 {
        return Err(StakeError::InvalidGenesis("signed_blocks_window must be positive".into()));
    }
    let slashing = cosmos_sdk_proto::cosmos::slashing::v1beta1::Params {
        signed_blocks_window: sl.signed_blocks_window,
        min_signed_per_window: dec_to_proto(parse_dec("min_signed_per_window", &sl.min_signed_per_window)?).into_bytes(),
        downtime_jail_duration: Some(seconds(sl.downtime_jail_duration_seconds)),
        slash_fraction_double_sign: dec_to_proto(parse_dec("slash_fraction_double_sign", &sl.slash_fraction_double_sign)?).into_bytes(),
        slash_fraction_downtime: dec_to_proto(parse_dec("slash_fraction_downtime", &sl.slash_fraction_downtime)?).into_bytes(),
    };
    let tax = parse_dec("community_tax", &genesis.distribution.community_tax)?;
    if tax > Dec::ONE {
        return Err(StakeError::InvalidGenesis("community_tax above 1".into()));
    }
    #[allow(deprecated)]
    let distribution = cosmos_sdk_proto::cosmos::distribution::v1beta1::Params {
        community_tax: dec_to_proto(tax),
        base_proposer_reward: dec_to_proto(Dec::ZERO),
        bonus_proposer_reward: dec_to_proto(Dec::ZERO),
        withdraw_addr_enabled: genesis.distribution.withdraw_addr_enabled,
    };
    genesis.reward_schedule.block_reward.parse::<u128>().map_err(|e| StakeError::InvalidGenesis(format!("block_reward: {e}")))?;
    let schedule = RewardSchedule {
        block_reward: genesis.reward_schedule.block_reward.clone(),
        halving_interval_blocks: genesis.reward_schedule.halving_interval_blocks,
    };
    params::set_all(state, &staking, &distribution, &slashing, &schedule)?;

    for gv in &genesis.validators {
        let key = base64::engine::general_purpose::STANDARD
            .decode(&gv.consensus_pubkey)
            .map_err(|e| StakeError::InvalidGenesis(format!("consensus_pubkey of {}: {e}", gv.operator_address)))?;
        #[allow(deprecated)]
        let msg = spb::MsgCreateValidator {
            description: Some(spb::Description { moniker: gv.moniker.clone(), ..Default::default() }),
            commission: Some(spb::CommissionRates {
                rate: dec_to_proto(parse_dec("commission_rate", &gv.commission_rate)?),
                max_rate: dec_to_proto(parse_dec("commission_max_rate", &gv.commission_max_rate)?),
                max_change_rate: dec_to_proto(parse_dec("commission_max_change_rate", &gv.commission_max_change_rate)?),
            }),
            min_self_delegation: gv.min_self_delegation.to_string(),
            delegator_address: String::new(),
            validator_address: gv.operator_address.clone(),
            pubkey: Some(ed25519_any(&key)),
            value: Some(openledger_core::Coin::new(BASE_DENOM, gv.self_delegation).to_proto()),
        };
        let create = CreateValidator::check_stateless(&msg)
            .map_err(|e| StakeError::InvalidGenesis(format!("validator {}: {e}", gv.operator_address)))?;
        create.create(keeper, state).map_err(|e| StakeError::InvalidGenesis(format!("validator {}: {e}", gv.operator_address)))?;
    }
    for d in &genesis.delegations {
        let delegator =
            Address::from_bech32(&d.delegator_address).map_err(|e| StakeError::InvalidGenesis(format!("{}: {e}", d.delegator_address)))?;
        keeper
            .delegate(state, info, &delegator, &d.validator_address, d.amount, &delegator)
            .map_err(|e| StakeError::InvalidGenesis(format!("delegation to {}: {e}", d.validator_address)))?;
    }
    keeper.apply_validator_set(state, info)
}

/// Exports params, validators (with their current self-bond) and other delegations. Pending
/// rewards, unbondings and redelegations are not part of the export (a fresh-genesis snapshot),
/// nor validators whose operator's bond is below its minimum, nor delegations worth nothing.
pub fn export_genesis(keeper: &StakeKeeper, state: &dyn StateRead) -> Result<StakeGenesis, StakeError> {
    let s = params::staking(state)?;
    let sl = params::slashing(state)?;
    let d = params::distribution(state)?;
    let r = params::reward_schedule(state)?;
    let mut genesis = from_params(&s, &sl, &d, &r);
    use openledger_core::StateReadExt;
    for (_, v) in state.scan_proto::<spb::Validator>(state_key::VALIDATOR_PREFIX, None, 100_000)? {
        let account = operator_account(&v.operator_address)?;
        let self_del = keeper.delegation(state, &account.to_bech32(), &v.operator_address)?;
        let self_tokens = match &self_del {
            Some(del) => mul_tokens(dec_from_proto(&del.shares).unwrap_or(Dec::ZERO), tokens(&v), shares(&v))?,
            None => 0,
        };
        // A validator whose operator's bond is below its minimum (it left, or was slashed
        // under it) cannot be a gentx: it is left out with its delegations, whose tokens the
        // export returns to the delegators (`openledger_node::genesis::settle_for_export`).
        let min_self_delegation: u128 = v.min_self_delegation.parse().unwrap_or(0);
        if self_tokens == 0 || self_tokens < min_self_delegation {
            continue;
        }
        let rates = v.commission.as_ref().and_then(|c| c.commission_rates.clone()).unwrap_or_default();
        let key = consensus_key(&v).unwrap_or_default();
        genesis.validators.push(GenesisValidator {
            operator_address: v.operator_address.clone(),
            consensus_pubkey: base64::engine::general_purpose::STANDARD.encode(key),
            moniker: v.description.as_ref().map(|d| d.moniker.clone()).unwrap_or_default(),
            commission_rate: dotted(dec_from_proto(&rates.rate).unwrap_or(Dec::ZERO)),
            commission_max_rate: dotted(dec_from_proto(&rates.max_rate).unwrap_or(Dec::ZERO)),
            commission_max_change_rate: dotted(dec_from_proto(&rates.max_change_rate).unwrap_or(Dec::ZERO)),
            min_self_delegation,
            self_delegation: self_tokens,
        });
        for (key, _) in state.scan_raw(&state_key::delegations_to(&v.operator_address), None, 1_000_000)? {
            let delegator = String::from_utf8_lossy(&key[state_key::delegations_to(&v.operator_address).len()..]).into_owned();
            if delegator == account.to_bech32() {
                continue;
            }
            if let Some(del) = keeper.delegation(state, &delegator, &v.operator_address)? {
                let amount = mul_tokens(dec_from_proto(&del.shares).unwrap_or(Dec::ZERO), tokens(&v), shares(&v))?;
                // Worth nothing after slashes: nothing to re-bond.
                if amount == 0 {
                    continue;
                }
                genesis.delegations.push(GenesisDelegation {
                    delegator_address: delegator,
                    validator_address: v.operator_address.clone(),
                    amount,
                });
            }
        }
    }
    Ok(genesis)
}
