//! Query services: cosmos.staking.v1beta1.Query, cosmos.distribution.v1beta1.Query,
//! cosmos.slashing.v1beta1.Query and openledger.stake.v1.Query, answered from any state view.

use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::distribution::v1beta1 as dpb;
use cosmos_sdk_proto::cosmos::slashing::v1beta1 as slpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use openledger_core::address::{VALCONS_PREFIX, VALOPER_PREFIX};
use openledger_core::coin::BASE_DENOM;
use openledger_core::pagination::paginate;
use openledger_core::query::{parse_address, unary, QueryService};
use openledger_core::{Address, Dec, ErrorCode, QueryError, StateRead, StateReadExt};
use openledger_proto::openledger::stake::v1 as olpb;
use prost::Message;

use crate::distribution::{self, dec_coins};
use crate::error::StakeError;
use crate::keeper::{mul_tokens, shares, tokens, StakeKeeper, BONDED_POOL, NOT_BONDED_POOL};
use crate::params::{self, dec_from_proto};
use crate::state_key;

/// Staking service name.
pub const STAKING_SERVICE: &str = "cosmos.staking.v1beta1.Query";
/// Distribution service name.
pub const DISTRIBUTION_SERVICE: &str = "cosmos.distribution.v1beta1.Query";
/// Slashing service name.
pub const SLASHING_SERVICE: &str = "cosmos.slashing.v1beta1.Query";
/// OpenLedger stake service name.
pub const OPENLEDGER_STAKE_SERVICE: &str = "openledger.stake.v1.Query";

/// The stake module's query services.
#[derive(Debug, Clone)]
pub struct StakeQuery(pub StakeKeeper);

fn internal(e: StakeError) -> QueryError {
    if e.code() == 3 && e.codespace() == crate::error::STAKING {
        QueryError::NotFound(e.to_string())
    } else {
        QueryError::Internal(e.to_string())
    }
}

fn valoper(field: &str, text: &str) -> Result<String, QueryError> {
    if text.is_empty() {
        return Err(QueryError::InvalidArgument(format!("{field} cannot be empty")));
    }
    Address::from_bech32_prefixed(text, VALOPER_PREFIX).map_err(|e| QueryError::InvalidArgument(format!("invalid {field}: {e}")))?;
    Ok(text.to_string())
}

fn validator(k: &StakeKeeper, state: &dyn StateRead, operator: &str) -> Result<spb::Validator, QueryError> {
    k.validator(state, operator).map_err(internal)?.ok_or_else(|| QueryError::NotFound(format!("validator {operator} not found")))
}

fn delegation_response(k: &StakeKeeper, state: &dyn StateRead, d: spb::Delegation) -> Result<spb::DelegationResponse, QueryError> {
    let v = validator(k, state, &d.validator_address)?;
    let amount = mul_tokens(dec_from_proto(&d.shares).unwrap_or(Dec::ZERO), tokens(&v), shares(&v)).map_err(internal)?;
    Ok(spb::DelegationResponse { delegation: Some(d), balance: Some(ProtoCoin { denom: BASE_DENOM.into(), amount: amount.to_string() }) })
}

fn decode_all<M: Message + Default>(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Vec<M>, QueryError> {
    entries.into_iter().map(|(_, v)| M::decode(v.as_slice()).map_err(|e| QueryError::Internal(e.to_string()))).collect()
}

fn status_matches(v: &spb::Validator, status: &str) -> bool {
    status.is_empty() || spb::BondStatus::from_str_name(status).is_some_and(|s| s as i32 == v.status)
}

fn redelegation_response(r: spb::Redelegation) -> spb::RedelegationResponse {
    let entries = r
        .entries
        .iter()
        .map(|e| spb::RedelegationEntryResponse { redelegation_entry: Some(e.clone()), balance: e.initial_balance.clone() })
        .collect();
    spb::RedelegationResponse { redelegation: Some(r), entries }
}

impl StakeQuery {
    fn staking(&self, state: &dyn StateRead, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        let k = &self.0;
        match method {
            "Validators" => unary(data, |req: spb::QueryValidatorsRequest| {
                if !req.status.is_empty() && spb::BondStatus::from_str_name(&req.status).is_none() {
                    return Err(QueryError::InvalidArgument(format!("invalid validator status {}", req.status)));
                }
                // Filtered before paging, as the SDK's FilteredPaginate: pages and totals count
                // only validators of the asked status.
                let keep = |_: &[u8], bytes: &[u8]| {
                    req.status.is_empty() || spb::Validator::decode(bytes).is_ok_and(|v| status_matches(&v, &req.status))
                };
                let (entries, pagination) =
                    openledger_core::pagination::paginate_filtered(state, state_key::VALIDATOR_PREFIX, req.pagination.as_ref(), &keep)?;
                let validators = decode_all::<spb::Validator>(entries)?;
                Ok(spb::QueryValidatorsResponse { validators, pagination })
            }),
            "Validator" => unary(data, |req: spb::QueryValidatorRequest| {
                let op = valoper("validator address", &req.validator_addr)?;
                Ok(spb::QueryValidatorResponse { validator: Some(validator(k, state, &op)?) })
            }),
            "ValidatorDelegations" => unary(data, |req: spb::QueryValidatorDelegationsRequest| {
                let op = valoper("validator address", &req.validator_addr)?;
                let (entries, pagination) = paginate(state, &state_key::delegations_to(&op), req.pagination.as_ref())?;
                let prefix_len = state_key::delegations_to(&op).len();
                let mut delegation_responses = Vec::new();
                for (key, _) in entries {
                    let delegator = String::from_utf8_lossy(&key[prefix_len..]).into_owned();
                    if let Some(d) = k.delegation(state, &delegator, &op).map_err(internal)? {
                        delegation_responses.push(delegation_response(k, state, d)?);
                    }
                }
                Ok(spb::QueryValidatorDelegationsResponse { delegation_responses, pagination })
            }),
            "ValidatorUnbondingDelegations" => unary(data, |req: spb::QueryValidatorUnbondingDelegationsRequest| {
                let op = valoper("validator address", &req.validator_addr)?;
                let prefix = state_key::unbondings_from(&op);
                let (entries, pagination) = paginate(state, &prefix, req.pagination.as_ref())?;
                let mut unbonding_responses = Vec::new();
                for (key, _) in entries {
                    let delegator = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                    if let Some(u) = state.get_proto::<spb::UnbondingDelegation>(&state_key::unbonding(&delegator, &op))? {
                        unbonding_responses.push(u);
                    }
                }
                Ok(spb::QueryValidatorUnbondingDelegationsResponse { unbonding_responses, pagination })
            }),
            "Delegation" => unary(data, |req: spb::QueryDelegationRequest| {
                let del = parse_address("delegator address", &req.delegator_addr)?;
                let op = valoper("validator address", &req.validator_addr)?;
                let d = k.delegation(state, &del.to_bech32(), &op).map_err(internal)?.ok_or_else(|| {
                    QueryError::NotFound(format!("delegation with delegator {} not found for validator {op}", req.delegator_addr))
                })?;
                Ok(spb::QueryDelegationResponse { delegation_response: Some(delegation_response(k, state, d)?) })
            }),
            "UnbondingDelegation" => unary(data, |req: spb::QueryUnbondingDelegationRequest| {
                let del = parse_address("delegator address", &req.delegator_addr)?;
                let op = valoper("validator address", &req.validator_addr)?;
                let u = state.get_proto::<spb::UnbondingDelegation>(&state_key::unbonding(&del.to_bech32(), &op))?.ok_or_else(|| {
                    QueryError::NotFound(format!("unbonding delegation with delegator {} not found for validator {op}", req.delegator_addr))
                })?;
                Ok(spb::QueryUnbondingDelegationResponse { unbond: Some(u) })
            }),
            "DelegatorDelegations" => unary(data, |req: spb::QueryDelegatorDelegationsRequest| {
                let del = parse_address("delegator address", &req.delegator_addr)?;
                let (entries, pagination) = paginate(state, &state_key::delegations_of(&del.to_bech32()), req.pagination.as_ref())?;
                let delegation_responses = decode_all::<spb::Delegation>(entries)?
                    .into_iter()
                    .map(|d| delegation_response(k, state, d))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(spb::QueryDelegatorDelegationsResponse { delegation_responses, pagination })
            }),
            "DelegatorUnbondingDelegations" => unary(data, |req: spb::QueryDelegatorUnbondingDelegationsRequest| {
                let del = parse_address("delegator address", &req.delegator_addr)?;
                let (entries, pagination) = paginate(state, &state_key::unbondings_of(&del.to_bech32()), req.pagination.as_ref())?;
                Ok(spb::QueryDelegatorUnbondingDelegationsResponse { unbonding_responses: decode_all(entries)?, pagination })
            }),
            "Redelegations" => unary(data, |req: spb::QueryRedelegationsRequest| {
                let del = parse_address("delegator address", &req.delegator_addr)?;
                if !req.src_validator_addr.is_empty() && !req.dst_validator_addr.is_empty() {
                    let src = valoper("source validator", &req.src_validator_addr)?;
                    let dst = valoper("destination validator", &req.dst_validator_addr)?;
                    let r =
                        state.get_proto::<spb::Redelegation>(&state_key::redelegation(&del.to_bech32(), &src, &dst))?.ok_or_else(|| {
                            QueryError::NotFound(format!("redelegation not found for delegator address {}", req.delegator_addr))
                        })?;
                    return Ok(spb::QueryRedelegationsResponse {
                        redelegation_responses: vec![redelegation_response(r)],
                        pagination: None,
                    });
                }
                let (entries, pagination) = paginate(state, &state_key::redelegations_of(&del.to_bech32()), req.pagination.as_ref())?;
                let redelegation_responses = decode_all::<spb::Redelegation>(entries)?
                    .into_iter()
                    .filter(|r| req.src_validator_addr.is_empty() || r.validator_src_address == req.src_validator_addr)
                    .map(redelegation_response)
                    .collect();
                Ok(spb::QueryRedelegationsResponse { redelegation_responses, pagination })
            }),
            "DelegatorValidators" => unary(data, |req: spb::QueryDelegatorValidatorsRequest| {
                let del = parse_address("delegator address", &req.delegator_addr)?;
                let (entries, pagination) = paginate(state, &state_key::delegations_of(&del.to_bech32()), req.pagination.as_ref())?;
                let validators = decode_all::<spb::Delegation>(entries)?
                    .iter()
                    .map(|d| validator(k, state, &d.validator_address))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(spb::QueryDelegatorValidatorsResponse { validators, pagination })
            }),
            "DelegatorValidator" => unary(data, |req: spb::QueryDelegatorValidatorRequest| {
                let del = parse_address("delegator address", &req.delegator_addr)?;
                let op = valoper("validator address", &req.validator_addr)?;
                k.delegation(state, &del.to_bech32(), &op)
                    .map_err(internal)?
                    .ok_or_else(|| QueryError::NotFound("no delegation for (address, validator) tuple".into()))?;
                Ok(spb::QueryDelegatorValidatorResponse { validator: Some(validator(k, state, &op)?) })
            }),
            "Pool" => unary(data, |_: spb::QueryPoolRequest| {
                let bonded = k.bank.balance(state, &Address::module(BONDED_POOL), BASE_DENOM)?;
                let not_bonded = k.bank.balance(state, &Address::module(NOT_BONDED_POOL), BASE_DENOM)?;
                Ok(spb::QueryPoolResponse {
                    pool: Some(spb::Pool { not_bonded_tokens: not_bonded.to_string(), bonded_tokens: bonded.to_string() }),
                })
            }),
            "Params" => unary(data, |_: spb::QueryParamsRequest| Ok(spb::QueryParamsResponse { params: Some(params::staking(state)?) })),
            "HistoricalInfo" => Err(QueryError::NotFound(
                "historical headers are not kept; the last historical_entries blocks are kept as IBC host consensus states".into(),
            )),
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {STAKING_SERVICE}"))),
        }
    }

    fn distribution(&self, state: &dyn StateRead, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        let k = &self.0;
        let rewards_of = |del: &str, op: &str| -> Result<Dec, QueryError> {
            let v = validator(k, state, op)?;
            if k.delegation(state, del, op).map_err(internal)?.is_none() {
                return Err(QueryError::NotFound(format!("delegation for {del} to {op} does not exist")));
            }
            distribution::pending_rewards(state, &v, del).map_err(internal)
        };
        match method {
            "Params" => {
                unary(data, |_: dpb::QueryParamsRequest| Ok(dpb::QueryParamsResponse { params: Some(params::distribution(state)?) }))
            }
            "ValidatorOutstandingRewards" => unary(data, |req: dpb::QueryValidatorOutstandingRewardsRequest| {
                let op = valoper("validator address", &req.validator_address)?;
                validator(k, state, &op)?;
                let rewards = distribution::outstanding(state, &op).map_err(internal)?;
                Ok(dpb::QueryValidatorOutstandingRewardsResponse {
                    rewards: Some(dpb::ValidatorOutstandingRewards { rewards: dec_coins(rewards) }),
                })
            }),
            "ValidatorCommission" => unary(data, |req: dpb::QueryValidatorCommissionRequest| {
                let op = valoper("validator address", &req.validator_address)?;
                validator(k, state, &op)?;
                let c = distribution::commission(state, &op).map_err(internal)?;
                Ok(dpb::QueryValidatorCommissionResponse {
                    commission: Some(dpb::ValidatorAccumulatedCommission { commission: dec_coins(c) }),
                })
            }),
            "ValidatorSlashes" => unary(data, |req: dpb::QueryValidatorSlashesRequest| {
                let op = valoper("validator address", &req.validator_address)?;
                let (entries, pagination) = paginate(state, &state_key::slash_events_of(&op), req.pagination.as_ref())?;
                Ok(dpb::QueryValidatorSlashesResponse { slashes: decode_all(entries)?, pagination })
            }),
            "DelegationRewards" => unary(data, |req: dpb::QueryDelegationRewardsRequest| {
                let del = parse_address("delegator address", &req.delegator_address)?;
                let op = valoper("validator address", &req.validator_address)?;
                Ok(dpb::QueryDelegationRewardsResponse { rewards: dec_coins(rewards_of(&del.to_bech32(), &op)?) })
            }),
            "DelegationTotalRewards" => unary(data, |req: dpb::QueryDelegationTotalRewardsRequest| {
                let del = parse_address("delegator address", &req.delegator_address)?.to_bech32();
                let mut rewards = Vec::new();
                let mut total = Dec::ZERO;
                for (_, d) in state.scan_proto::<spb::Delegation>(&state_key::delegations_of(&del), None, 1000)? {
                    let r = rewards_of(&del, &d.validator_address)?;
                    total = total.checked_add(r).map_err(|e| QueryError::Internal(e.to_string()))?;
                    rewards.push(dpb::DelegationDelegatorReward { validator_address: d.validator_address, reward: dec_coins(r) });
                }
                Ok(dpb::QueryDelegationTotalRewardsResponse { rewards, total: dec_coins(total) })
            }),
            "DelegatorValidators" => unary(data, |req: dpb::QueryDelegatorValidatorsRequest| {
                let del = parse_address("delegator address", &req.delegator_address)?.to_bech32();
                let validators = state
                    .scan_proto::<spb::Delegation>(&state_key::delegations_of(&del), None, 1000)?
                    .into_iter()
                    .map(|(_, d)| d.validator_address)
                    .collect();
                Ok(dpb::QueryDelegatorValidatorsResponse { validators })
            }),
            "DelegatorWithdrawAddress" => unary(data, |req: dpb::QueryDelegatorWithdrawAddressRequest| {
                let del = parse_address("delegator address", &req.delegator_address)?.to_bech32();
                let withdraw_address = state.get_proto::<String>(&state_key::withdraw_address(&del))?.unwrap_or(del);
                Ok(dpb::QueryDelegatorWithdrawAddressResponse { withdraw_address })
            }),
            "CommunityPool" => unary(data, |_: dpb::QueryCommunityPoolRequest| {
                Ok(dpb::QueryCommunityPoolResponse { pool: dec_coins(distribution::community_pool(state).map_err(internal)?) })
            }),
            "ValidatorDistributionInfo" => unary(data, |req: dpb::QueryValidatorDistributionInfoRequest| {
                let op = valoper("validator address", &req.validator_address)?;
                let v = validator(k, state, &op)?;
                let account = crate::keeper::operator_account(&op).map_err(internal)?.to_bech32();
                let self_bond_rewards = if k.delegation(state, &account, &op).map_err(internal)?.is_some() {
                    distribution::pending_rewards(state, &v, &account).map_err(internal)?
                } else {
                    Dec::ZERO
                };
                Ok(dpb::QueryValidatorDistributionInfoResponse {
                    operator_address: account,
                    self_bond_rewards: dec_coins(self_bond_rewards),
                    commission: dec_coins(distribution::commission(state, &op).map_err(internal)?),
                })
            }),
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {DISTRIBUTION_SERVICE}"))),
        }
    }

    fn slashing(&self, state: &dyn StateRead, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        match method {
            "Params" => unary(data, |_: slpb::QueryParamsRequest| Ok(slpb::QueryParamsResponse { params: Some(params::slashing(state)?) })),
            "SigningInfo" => unary(data, |req: slpb::QuerySigningInfoRequest| {
                let cons = Address::from_bech32_prefixed(&req.cons_address, VALCONS_PREFIX)
                    .map_err(|e| QueryError::InvalidArgument(format!("invalid consensus address: {e}")))?;
                let info = crate::slashing::signing_info(state, cons.as_bytes())
                    .map_err(internal)?
                    .ok_or_else(|| QueryError::NotFound(format!("SigningInfo not found for validator {}", req.cons_address)))?;
                Ok(slpb::QuerySigningInfoResponse { val_signing_info: Some(info) })
            }),
            "SigningInfos" => unary(data, |req: slpb::QuerySigningInfosRequest| {
                let (entries, pagination) = paginate(state, state_key::SIGNING_INFO_PREFIX, req.pagination.as_ref())?;
                Ok(slpb::QuerySigningInfosResponse { info: decode_all(entries)?, pagination })
            }),
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {SLASHING_SERVICE}"))),
        }
    }
}

impl QueryService for StakeQuery {
    fn services(&self) -> &'static [&'static str] {
        &[STAKING_SERVICE, DISTRIBUTION_SERVICE, SLASHING_SERVICE, OPENLEDGER_STAKE_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        match service {
            STAKING_SERVICE => self.staking(state, method, data),
            DISTRIBUTION_SERVICE => self.distribution(state, method, data),
            SLASHING_SERVICE => self.slashing(state, method, data),
            OPENLEDGER_STAKE_SERVICE => match method {
                "RewardSchedule" => unary(data, |_: olpb::QueryRewardScheduleRequest| {
                    let schedule = params::reward_schedule(state)?;
                    let height = openledger_core::block::block_info(state)?.height.saturating_add(1);
                    let current = params::block_reward_at(&schedule, height);
                    Ok(olpb::QueryRewardScheduleResponse { schedule: Some(schedule), current_block_reward: current.to_string() })
                }),
                _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
            },
            _ => Err(QueryError::UnknownPath(format!("unknown service {service}"))),
        }
    }
}
