//! Staking: validators, delegations and their shares, the bonded / not-bonded pools, unbonding
//! and redelegation queues, the validator set handed to CometBFT at the end of each block, and
//! `slash` / `jail`. Per-block work is O(validators + matured queue entries), never
//! O(delegations): rewards are lazy (F1, `distribution.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use cosmos_sdk_proto::cosmos::crypto::ed25519::PubKey as Ed25519PubKey;
use cosmos_sdk_proto::cosmos::staking::v1beta1::{
    BondStatus, Delegation, Redelegation, RedelegationEntry, UnbondingDelegation, UnbondingDelegationEntry, Validator,
};
use cosmos_sdk_proto::Any;
use openledger_core::block::{ns_timestamp, BlockInfo};
use openledger_core::coin::BASE_DENOM;
use openledger_core::{AbciError, Address, Coin, Dec, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
use prost::Message;
use sha2::{Digest, Sha256};
use tendermint_proto::v0_38::abci::ValidatorUpdate;
use tendermint_proto::v0_38::crypto::{public_key, PublicKey};

use crate::error::StakeError;
use crate::events::{
    RedelegationCompleted, UnbondingCompleted, ValidatorBonded, ValidatorJailed, ValidatorRegistered, ValidatorSlashed, ValidatorUnbonding,
};
use crate::params::{self, dec_from_proto, dec_to_proto, duration_ns, POWER_REDUCTION};
use crate::{distribution, slashing, state_key};

/// Module account holding bonded tokens.
pub const BONDED_POOL: &str = "bonded_tokens_pool";
/// Module account holding unbonding and unbonded tokens.
pub const NOT_BONDED_POOL: &str = "not_bonded_tokens_pool";
/// Module account holding rewards not yet withdrawn and the community pool.
pub const DISTRIBUTION_ACCOUNT: &str = "distribution";
/// Module account that collects tx fees (owned by the app).
pub const FEE_COLLECTOR: &str = "fee_collector";
/// Module account that funds the block reward schedule.
pub const COMMUNITY_INCENTIVES: &str = "community_incentives";
/// Type URL of an ed25519 consensus key.
pub const ED25519_PUBKEY_TYPE_URL: &str = "/cosmos.crypto.ed25519.PubKey";

/// What staking needs from the bank.
pub trait BankKeeper: Send + Sync {
    /// Moves coins between accounts (with the bank's events).
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), AbciError>;
    /// Destroys coins held by `from`.
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[Coin]) -> Result<(), AbciError>;
    /// Balance of one denom.
    fn balance(&self, state: &dyn StateRead, address: &Address, denom: &str) -> Result<u128, StateError>;
}

/// The stake keeper (staking + distribution + slashing).
#[derive(Clone)]
pub struct StakeKeeper {
    pub(crate) bank: Arc<dyn BankKeeper>,
}

impl std::fmt::Debug for StakeKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StakeKeeper")
    }
}

/// Tokens of a validator.
pub fn tokens(v: &Validator) -> u128 {
    v.tokens.parse().unwrap_or(0)
}

/// Delegator shares of a validator.
pub fn shares(v: &Validator) -> Dec {
    dec_from_proto(&v.delegator_shares).unwrap_or(Dec::ZERO)
}

/// Consensus power of a token amount.
pub fn power_of(tokens: u128) -> u64 {
    u64::try_from(tokens / POWER_REDUCTION).unwrap_or(u64::MAX)
}

/// Whether a validator is bonded.
pub fn is_bonded(v: &Validator) -> bool {
    v.status == BondStatus::Bonded as i32
}

/// The raw ed25519 consensus key of a validator.
pub fn consensus_key(v: &Validator) -> Option<Vec<u8>> {
    let any = v.consensus_pubkey.as_ref()?;
    if any.type_url != ED25519_PUBKEY_TYPE_URL {
        return None;
    }
    Ed25519PubKey::decode(any.value.as_slice()).ok().map(|k| k.key).filter(|k| k.len() == 32)
}

/// CometBFT address of an ed25519 key: `sha256(pubkey)[:20]`.
pub fn consensus_address(pubkey: &[u8]) -> Vec<u8> {
    Sha256::digest(pubkey)[..20].to_vec()
}

/// Packs an ed25519 key as the SDK's `Any`.
pub fn ed25519_any(key: &[u8]) -> Any {
    Any { type_url: ED25519_PUBKEY_TYPE_URL.into(), value: Ed25519PubKey { key: key.to_vec() }.encode_to_vec() }
}

/// Operator (valoper) string → account address.
pub fn operator_account(operator: &str) -> Result<Address, StakeError> {
    Address::from_bech32_prefixed(operator, openledger_core::address::VALOPER_PREFIX).map_err(|e| StakeError::InvalidAddress {
        field: "validator",
        value: operator.to_string(),
        reason: e.to_string(),
    })
}

/// Account address → operator string.
pub fn operator_of(account: &Address) -> String {
    account.to_bech32_prefixed(openledger_core::address::VALOPER_PREFIX)
}

fn uopen(amount: u128) -> Vec<Coin> {
    if amount == 0 {
        Vec::new()
    } else {
        vec![Coin::new(BASE_DENOM, amount)]
    }
}

/// Pool that holds a validator's tokens given its status.
fn pool_for(v: &Validator) -> Address {
    Address::module(if is_bonded(v) { BONDED_POOL } else { NOT_BONDED_POOL })
}

impl StakeKeeper {
    /// Every bonded validator as `(operator account, tokens, shares)`, in operator order (what
    /// gov's tally reads).
    pub fn bonded_validators(&self, state: &dyn StateRead) -> Result<Vec<(Address, u128, Dec)>, StakeError> {
        let mut out = Vec::new();
        for (_, v) in state.scan_proto::<Validator>(state_key::VALIDATOR_PREFIX, None, usize::MAX)? {
            if is_bonded(&v) {
                out.push((operator_account(&v.operator_address)?, tokens(&v), shares(&v)));
            }
        }
        Ok(out)
    }

    /// Every delegation of `delegator` as `(validator's operator account, shares)`, in validator
    /// order.
    pub fn delegations_of(&self, state: &dyn StateRead, delegator: &Address) -> Result<Vec<(Address, Dec)>, StakeError> {
        let prefix = state_key::delegations_of(&delegator.to_bech32());
        let mut out = Vec::new();
        for (_, d) in state.scan_proto::<cosmos_sdk_proto::cosmos::staking::v1beta1::Delegation>(&prefix, None, usize::MAX)? {
            let validator = operator_account(&d.validator_address)?;
            out.push((validator, crate::params::dec_from_proto(&d.shares).unwrap_or_default()));
        }
        Ok(out)
    }

    /// A keeper over a bank.
    pub fn new(bank: Arc<dyn BankKeeper>) -> Self {
        Self { bank }
    }

    pub(crate) fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, amount: u128) -> Result<(), StakeError> {
        if amount == 0 || from == to {
            return Ok(());
        }
        self.bank.send(state, from, to, &uopen(amount)).map_err(StakeError::Bank)
    }

    /// Moves `amount` uopen from `from` into the community pool (the distribution module
    /// account, and the pool's record of it): `MsgFundCommunityPool`, and the fee shares other
    /// modules send there.
    pub fn fund_community_pool(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), StakeError> {
        if amount == 0 {
            return Ok(());
        }
        self.send(state, from, &Address::module(DISTRIBUTION_ACCOUNT), amount)?;
        distribution::fund_community_pool(state, amount)
    }

    pub(crate) fn burn(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), StakeError> {
        if amount == 0 {
            return Ok(());
        }
        self.bank.burn(state, from, &uopen(amount)).map_err(StakeError::Bank)
    }

    /// A validator by operator address.
    pub fn validator(&self, state: &dyn StateRead, operator: &str) -> Result<Option<Validator>, StakeError> {
        Ok(state.get_proto(&state_key::validator(operator))?)
    }

    /// A validator that must exist.
    pub fn must_validator(&self, state: &dyn StateRead, operator: &str) -> Result<Validator, StakeError> {
        self.validator(state, operator)?.ok_or_else(|| StakeError::NoValidatorFound(operator.to_string()))
    }

    /// The validator with a consensus address (20 bytes).
    pub fn validator_by_cons(&self, state: &dyn StateRead, cons_address: &[u8]) -> Result<Option<Validator>, StakeError> {
        match state.get_proto::<String>(&state_key::validator_by_cons(&hex::encode_upper(cons_address)))? {
            Some(operator) => self.validator(state, &operator),
            None => Ok(None),
        }
    }

    fn remove_power_index(&self, state: &mut dyn StateWrite, v: &Validator) -> Result<(), StakeError> {
        state.delete(&state_key::power_index(power_of(tokens(v)), &v.operator_address))?;
        Ok(())
    }

    fn add_power_index(&self, state: &mut dyn StateWrite, v: &Validator) -> Result<(), StakeError> {
        let power = power_of(tokens(v));
        if !v.jailed && power > 0 {
            state.put_raw(state_key::power_index(power, &v.operator_address), Vec::new())?;
        }
        Ok(())
    }

    /// Stores a validator; the power index must have been removed for its old tokens first.
    pub(crate) fn store_validator(&self, state: &mut dyn StateWrite, v: &Validator) -> Result<(), StakeError> {
        state.put_proto(state_key::validator(&v.operator_address), v)?;
        self.add_power_index(state, v)
    }

    /// Registers a new validator (no tokens yet).
    pub(crate) fn register_validator(&self, state: &mut dyn StateWrite, v: &Validator, info: BlockInfo) -> Result<(), StakeError> {
        let key = consensus_key(v).ok_or_else(|| StakeError::PubKeyTypeNotSupported("non-ed25519".into()))?;
        let cons_hex = hex::encode_upper(consensus_address(&key));
        state.put_proto(state_key::validator_by_cons(&cons_hex), &v.operator_address)?;
        state.put_proto(state_key::validator(&v.operator_address), v)?;
        distribution::init_validator(state, &v.operator_address)?;
        state.emit_typed(ValidatorRegistered { validator: v.operator_address.clone(), height: info.height });
        Ok(())
    }

    /// Whether a consensus key is already in use.
    pub fn consensus_key_taken(&self, state: &dyn StateRead, key: &[u8]) -> Result<bool, StakeError> {
        Ok(state.has(&state_key::validator_by_cons(&hex::encode_upper(consensus_address(key))))?)
    }

    /// A delegation.
    pub fn delegation(&self, state: &dyn StateRead, delegator: &str, operator: &str) -> Result<Option<Delegation>, StakeError> {
        Ok(state.get_proto(&state_key::delegation(delegator, operator))?)
    }

    /// Tokens a share amount is worth at a validator (floor).
    pub fn tokens_from_shares(v: &Validator, s: Dec) -> Result<u128, StakeError> {
        mul_tokens(s, tokens(v), shares(v))
    }

    /// Shares worth `amount` tokens at a validator (floor).
    pub fn shares_from_tokens(v: &Validator, amount: u128) -> Result<Dec, StakeError> {
        let total_tokens = tokens(v);
        if total_tokens == 0 {
            return Ok(Dec::from_int(amount)?);
        }
        Ok(shares(v).mul_ratio(amount, total_tokens)?)
    }

    /// Adds `amount` tokens to a validator for `delegator`: moves the coins from `source` (the
    /// delegator's account, or a pool when redelegating / cancelling an unbonding) into the
    /// validator's pool, issues shares, and re-initializes the delegation's reward record.
    pub(crate) fn delegate(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        delegator: &Address,
        operator: &str,
        amount: u128,
        source: &Address,
    ) -> Result<Dec, StakeError> {
        let mut v = self.must_validator(state, operator)?;
        if tokens(&v) == 0 && !shares(&v).is_zero() {
            return Err(StakeError::DelegatorShareExRateInvalid);
        }
        let delegator_str = delegator.to_bech32();
        let existing = self.delegation(state, &delegator_str, operator)?;
        if existing.is_some() {
            distribution::withdraw_delegation_rewards(self, state, info, operator, &delegator_str)?;
        } else {
            distribution::increment_period(state, &v)?;
        }
        self.send(state, source, &pool_for(&v), amount)?;
        let new_shares = Self::shares_from_tokens(&v, amount)?;
        self.remove_power_index(state, &v)?;
        v.tokens = tokens(&v).checked_add(amount).ok_or(StakeError::Overflow("validator tokens"))?.to_string();
        v.delegator_shares = dec_to_proto(shares(&v).checked_add(new_shares)?);
        self.store_validator(state, &v)?;
        let old_shares = existing.as_ref().and_then(|d| dec_from_proto(&d.shares)).unwrap_or(Dec::ZERO);
        let delegation = Delegation {
            delegator_address: delegator_str.clone(),
            validator_address: operator.to_string(),
            shares: dec_to_proto(old_shares.checked_add(new_shares)?),
        };
        state.put_proto(state_key::delegation(&delegator_str, operator), &delegation)?;
        state.put_raw(state_key::delegation_by_validator(operator, &delegator_str), Vec::new())?;
        distribution::initialize_delegation(state, info, &v, &delegation)?;
        Ok(new_shares)
    }

    /// Removes `remove` shares of `delegator` from a validator; returns the tokens they were
    /// worth (still in the validator's pool). Jails an operator whose self-delegation falls
    /// below its minimum.
    pub(crate) fn unbond(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        delegator: &Address,
        operator: &str,
        remove: Dec,
    ) -> Result<u128, StakeError> {
        let delegator_str = delegator.to_bech32();
        let delegation = self.delegation(state, &delegator_str, operator)?.ok_or(StakeError::NoDelegation)?;
        let held = dec_from_proto(&delegation.shares).unwrap_or(Dec::ZERO);
        if remove.is_zero() || remove > held {
            return Err(StakeError::NotEnoughDelegationShares);
        }
        distribution::withdraw_delegation_rewards(self, state, info, operator, &delegator_str)?;
        let mut v = self.must_validator(state, operator)?;
        let total_shares = shares(&v);
        let amount = if remove == total_shares { tokens(&v) } else { mul_tokens(remove, tokens(&v), total_shares)? };
        let left = held.checked_sub(remove)?;
        if left.is_zero() {
            state.delete(&state_key::delegation(&delegator_str, operator))?;
            state.delete(&state_key::delegation_by_validator(operator, &delegator_str))?;
        } else {
            let updated = Delegation { shares: dec_to_proto(left), ..delegation };
            state.put_proto(state_key::delegation(&delegator_str, operator), &updated)?;
        }
        self.remove_power_index(state, &v)?;
        v.tokens = tokens(&v).checked_sub(amount).ok_or(StakeError::Overflow("validator tokens"))?.to_string();
        v.delegator_shares = dec_to_proto(total_shares.checked_sub(remove)?);
        // An operator whose self-bond drops below its minimum is jailed (as in the SDK).
        if operator_of(delegator) == operator && !v.jailed {
            let self_tokens = if left.is_zero() { 0 } else { mul_tokens(left, tokens(&v), shares(&v))? };
            let min_self: u128 = v.min_self_delegation.parse().unwrap_or(0);
            if self_tokens < min_self {
                v.jailed = true;
                state.emit_typed(ValidatorJailed { validator: operator.to_string(), reason: "self_delegation_below_minimum".to_string() });
            }
        }
        self.store_validator(state, &v)?;
        if !left.is_zero() {
            let d = self.delegation(state, &delegator_str, operator)?.ok_or(StakeError::NoDelegation)?;
            distribution::initialize_delegation(state, info, &v, &d)?;
        }
        Ok(amount)
    }

    fn next_unbonding_id(&self, state: &mut dyn StateWrite) -> Result<u64, StakeError> {
        let id = state.get_proto::<u64>(state_key::NEXT_UNBONDING_ID)?.unwrap_or(1);
        state.put_proto(state_key::NEXT_UNBONDING_ID.to_vec(), &id.saturating_add(1))?;
        Ok(id)
    }

    /// Undelegates `amount` tokens: unbonds the matching shares and starts the unbonding
    /// period (immediate for an unbonded validator). Returns the completion time (ns).
    pub(crate) fn undelegate(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        delegator: &Address,
        operator: &str,
        amount: u128,
    ) -> Result<(u64, u128), StakeError> {
        let v = self.must_validator(state, operator)?;
        let delegator_str = delegator.to_bech32();
        let delegation = self.delegation(state, &delegator_str, operator)?.ok_or(StakeError::NoDelegation)?;
        let mut remove = Self::shares_from_tokens(&v, amount)?;
        let held = dec_from_proto(&delegation.shares).unwrap_or(Dec::ZERO);
        if remove > held {
            // Rounding: asking for everything one holds must not fail by a hair.
            if mul_tokens(held, tokens(&v), shares(&v))? >= amount {
                remove = held;
            } else {
                return Err(StakeError::InsufficientShares);
            }
        }
        let params = params::staking(state)?;
        let existing = state.get_proto::<UnbondingDelegation>(&state_key::unbonding(&delegator_str, operator))?;
        if existing.as_ref().is_some_and(|u| u.entries.len() >= params.max_entries as usize) {
            return Err(StakeError::MaxUnbondingEntries);
        }
        let was_bonded = is_bonded(&v);
        let was_unbonded = v.status == BondStatus::Unbonded as i32;
        let returned = self.unbond(state, info, delegator, operator, remove)?;
        if was_bonded {
            self.send(state, &Address::module(BONDED_POOL), &Address::module(NOT_BONDED_POOL), returned)?;
        }
        if was_unbonded {
            self.send(state, &Address::module(NOT_BONDED_POOL), delegator, returned)?;
            return Ok((info.time_ns, returned));
        }
        let completion = info.time_ns.saturating_add(duration_ns(params.unbonding_time.as_ref()));
        let id = self.next_unbonding_id(state)?;
        let mut ubd = existing.unwrap_or(UnbondingDelegation {
            delegator_address: delegator_str.clone(),
            validator_address: operator.to_string(),
            entries: vec![],
        });
        ubd.entries.push(UnbondingDelegationEntry {
            creation_height: i64::try_from(info.height).unwrap_or(i64::MAX),
            completion_time: Some(ns_timestamp(completion)),
            initial_balance: returned.to_string(),
            balance: returned.to_string(),
            unbonding_id: id,
            unbonding_on_hold_ref_count: 0,
        });
        state.put_proto(state_key::unbonding(&delegator_str, operator), &ubd)?;
        state.put_raw(state_key::unbonding_by_validator(operator, &delegator_str), Vec::new())?;
        state.put_raw(state_key::unbonding_queue(completion, &delegator_str, operator), Vec::new())?;
        Ok((completion, returned))
    }

    /// Moves `amount` tokens of delegation from `src` to `dst`. Returns the completion time.
    pub(crate) fn redelegate(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        delegator: &Address,
        src: &str,
        dst: &str,
        amount: u128,
    ) -> Result<u64, StakeError> {
        if src == dst {
            return Err(StakeError::SelfRedelegation);
        }
        let src_v = self.must_validator(state, src)?;
        // The destination must exist before anything is unbonded from the source.
        self.must_validator(state, dst)?;
        let delegator_str = delegator.to_bech32();
        // No transitive redelegation: tokens that arrived at `src` by an immature redelegation
        // cannot move on until it completes.
        if !state.scan_raw(&state_key::redelegations_into(src, &delegator_str), None, 1)?.is_empty() {
            return Err(StakeError::TransitiveRedelegation);
        }
        let params = params::staking(state)?;
        let existing = state.get_proto::<Redelegation>(&state_key::redelegation(&delegator_str, src, dst))?;
        if existing.as_ref().is_some_and(|r| r.entries.len() >= params.max_entries as usize) {
            return Err(StakeError::MaxRedelegationEntries);
        }
        let delegation = self.delegation(state, &delegator_str, src)?.ok_or(StakeError::NoDelegation)?;
        let held = dec_from_proto(&delegation.shares).unwrap_or(Dec::ZERO);
        let mut remove = Self::shares_from_tokens(&src_v, amount)?;
        if remove > held {
            if mul_tokens(held, tokens(&src_v), shares(&src_v))? >= amount {
                remove = held;
            } else {
                return Err(StakeError::InsufficientShares);
            }
        }
        let src_pool = pool_for(&src_v);
        let moved = self.unbond(state, info, delegator, src, remove)?;
        if moved == 0 {
            return Err(StakeError::TinyRedelegationAmount);
        }
        let dst_shares = self.delegate(state, info, delegator, dst, moved, &src_pool)?;
        let completion = if src_v.status == BondStatus::Unbonded as i32 {
            info.time_ns
        } else {
            info.time_ns.saturating_add(duration_ns(params.unbonding_time.as_ref()))
        };
        if src_v.status != BondStatus::Unbonded as i32 {
            let id = self.next_unbonding_id(state)?;
            let mut red = existing.unwrap_or(Redelegation {
                delegator_address: delegator_str.clone(),
                validator_src_address: src.to_string(),
                validator_dst_address: dst.to_string(),
                entries: vec![],
            });
            red.entries.push(RedelegationEntry {
                creation_height: i64::try_from(info.height).unwrap_or(i64::MAX),
                completion_time: Some(ns_timestamp(completion)),
                initial_balance: moved.to_string(),
                shares_dst: dec_to_proto(dst_shares),
                unbonding_id: id,
                unbonding_on_hold_ref_count: 0,
            });
            state.put_proto(state_key::redelegation(&delegator_str, src, dst), &red)?;
            state.put_raw(state_key::redelegation_by_src(src, &delegator_str, dst), Vec::new())?;
            state.put_raw(state_key::redelegation_by_dst(dst, &delegator_str, src), Vec::new())?;
            state.put_raw(state_key::redelegation_queue(completion, &delegator_str, src, dst), Vec::new())?;
        }
        Ok(completion)
    }

    /// Cancels part of an unbonding entry created at `creation_height`: the tokens are
    /// delegated back to the validator.
    pub(crate) fn cancel_unbonding(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        delegator: &Address,
        operator: &str,
        amount: u128,
        creation_height: i64,
    ) -> Result<(), StakeError> {
        let v = self.must_validator(state, operator)?;
        if v.jailed {
            return Err(StakeError::ValidatorJailed);
        }
        let delegator_str = delegator.to_bech32();
        let mut ubd = state
            .get_proto::<UnbondingDelegation>(&state_key::unbonding(&delegator_str, operator))?
            .ok_or(StakeError::NoUnbondingDelegation)?;
        let index =
            ubd.entries.iter().position(|e| e.creation_height == creation_height).ok_or(StakeError::UnbondingNotFound(creation_height))?;
        let entry = &mut ubd.entries[index];
        let balance: u128 = entry.balance.parse().unwrap_or(0);
        if amount == 0 || amount > balance {
            return Err(StakeError::InvalidRequest(format!("amount {amount} is not in (0, {balance}]")));
        }
        let completion = entry.completion_time.as_ref().map(openledger_core::block::timestamp_ns).unwrap_or(0);
        let left = balance - amount;
        if left == 0 {
            ubd.entries.remove(index);
        } else {
            entry.balance = left.to_string();
            let initial: u128 = entry.initial_balance.parse().unwrap_or(0);
            entry.initial_balance = initial.saturating_sub(amount).to_string();
        }
        if ubd.entries.is_empty() {
            state.delete(&state_key::unbonding(&delegator_str, operator))?;
            state.delete(&state_key::unbonding_by_validator(operator, &delegator_str))?;
        } else {
            state.put_proto(state_key::unbonding(&delegator_str, operator), &ubd)?;
        }
        if left == 0 && !ubd_has_completion(&ubd, completion) {
            state.delete(&state_key::unbonding_queue(completion, &delegator_str, operator))?;
        }
        self.delegate(state, info, delegator, operator, amount, &Address::module(NOT_BONDED_POOL))?;
        Ok(())
    }

    /// Jails a validator: it leaves the power index now and the active set at the end of the block.
    pub fn jail(&self, state: &mut dyn StateWrite, operator: &str, reason: &str) -> Result<(), StakeError> {
        let mut v = self.must_validator(state, operator)?;
        if v.jailed {
            return Ok(());
        }
        self.remove_power_index(state, &v)?;
        v.jailed = true;
        self.store_validator(state, &v)?;
        state.emit_typed(ValidatorJailed { validator: operator.to_string(), reason: reason.to_string() });
        Ok(())
    }

    /// Lifts a jail (checks are the caller's).
    pub(crate) fn unjail_validator(&self, state: &mut dyn StateWrite, operator: &str) -> Result<(), StakeError> {
        let mut v = self.must_validator(state, operator)?;
        v.jailed = false;
        self.store_validator(state, &v)
    }

    /// Slashes `fraction` of the stake a validator had at `infraction_height` (power
    /// `power_at_infraction`): unbonding delegations and redelegations that started at or after
    /// the infraction pay their share, the rest is burned from the validator's tokens. Returns
    /// the total burned.
    #[allow(clippy::too_many_arguments)]
    pub fn slash_at(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        operator: &str,
        infraction_height: u64,
        power_at_infraction: u64,
        fraction: Dec,
        reason: &str,
    ) -> Result<u128, StakeError> {
        let v = self.must_validator(state, operator)?;
        let slash_amount =
            Dec::from_int(u128::from(power_at_infraction).saturating_mul(POWER_REDUCTION))?.checked_mul(fraction)?.truncate();
        distribution::before_slash(state, info, &v, fraction)?;
        let mut remaining = slash_amount;
        if infraction_height < info.height {
            remaining = remaining.saturating_sub(self.slash_unbondings(state, operator, infraction_height, fraction)?);
            remaining = remaining.saturating_sub(self.slash_redelegations(state, info, operator, infraction_height, fraction)?);
        }
        let mut v = self.must_validator(state, operator)?;
        let burn = remaining.min(tokens(&v));
        self.remove_power_index(state, &v)?;
        let pool = pool_for(&v);
        v.tokens = (tokens(&v) - burn).to_string();
        self.store_validator(state, &v)?;
        self.burn(state, &pool, burn)?;
        let total = slash_amount - remaining + burn;
        state.emit_typed(ValidatorSlashed {
            address: operator.to_string(),
            power: power_at_infraction,
            reason: reason.to_string(),
            burned: total,
        });
        Ok(total)
    }

    /// Slashes a validator for a fault at the current height (used by the inference module for
    /// wrong results), at its current power.
    pub fn slash(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        operator: &str,
        fraction: Dec,
        reason: &str,
    ) -> Result<u128, StakeError> {
        let v = self.must_validator(state, operator)?;
        self.slash_at(state, info, operator, info.height, power_of(tokens(&v)), fraction, reason)
    }

    fn slash_unbondings(
        &self,
        state: &mut dyn StateWrite,
        operator: &str,
        infraction_height: u64,
        fraction: Dec,
    ) -> Result<u128, StakeError> {
        let mut total = 0u128;
        let keys = state.scan_raw(&state_key::unbondings_from(operator), None, 10_000)?;
        for (key, _) in keys {
            let delegator = String::from_utf8_lossy(&key[state_key::unbondings_from(operator).len()..]).into_owned();
            let Some(mut ubd) = state.get_proto::<UnbondingDelegation>(&state_key::unbonding(&delegator, operator))? else { continue };
            let mut burned = 0u128;
            for entry in &mut ubd.entries {
                if u64::try_from(entry.creation_height).unwrap_or(0) < infraction_height {
                    continue;
                }
                let initial: u128 = entry.initial_balance.parse().unwrap_or(0);
                let balance: u128 = entry.balance.parse().unwrap_or(0);
                let cut = Dec::from_int(initial)?.checked_mul(fraction)?.truncate().min(balance);
                entry.balance = (balance - cut).to_string();
                burned = burned.saturating_add(cut);
            }
            if burned > 0 {
                state.put_proto(state_key::unbonding(&delegator, operator), &ubd)?;
                self.burn(state, &Address::module(NOT_BONDED_POOL), burned)?;
                total = total.saturating_add(burned);
            }
        }
        Ok(total)
    }

    fn slash_redelegations(
        &self,
        state: &mut dyn StateWrite,
        info: BlockInfo,
        src: &str,
        infraction_height: u64,
        fraction: Dec,
    ) -> Result<u128, StakeError> {
        let mut total = 0u128;
        let prefix = state_key::redelegations_from(src);
        let keys = state.scan_raw(&prefix, None, 10_000)?;
        for (key, _) in keys {
            let rest = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            let Some((delegator, dst)) = rest.split_once('/') else { continue };
            let Some(red) = state.get_proto::<Redelegation>(&state_key::redelegation(delegator, src, dst))? else { continue };
            let delegator_addr = Address::from_bech32(delegator).map_err(|e| StakeError::InvalidGenesis(e.to_string()))?;
            for entry in &red.entries {
                if u64::try_from(entry.creation_height).unwrap_or(0) < infraction_height {
                    continue;
                }
                let initial: u128 = entry.initial_balance.parse().unwrap_or(0);
                let cut_tokens = Dec::from_int(initial)?.checked_mul(fraction)?.truncate();
                if cut_tokens == 0 {
                    continue;
                }
                let dst_v = self.must_validator(state, dst)?;
                let Some(d) = self.delegation(state, delegator, dst)? else { continue };
                let held = dec_from_proto(&d.shares).unwrap_or(Dec::ZERO);
                let want = Self::shares_from_tokens(&dst_v, cut_tokens)?.min(held);
                if want.is_zero() {
                    continue;
                }
                let pool = pool_for(&dst_v);
                let removed = self.unbond(state, info, &delegator_addr, dst, want)?;
                self.burn(state, &pool, removed)?;
                total = total.saturating_add(removed);
            }
        }
        Ok(total)
    }

    /// End of block: applies the validator set (top `max_validators` by power among unjailed
    /// validators), moves tokens between pools for status changes, and completes matured
    /// unbondings, redelegations and unbonding validators. Returns CometBFT's updates.
    pub fn end_block(&self, state: &mut dyn StateWrite, info: BlockInfo) -> Result<Vec<ValidatorUpdate>, StakeError> {
        let updates = self.apply_validator_set(state, info)?;
        self.complete_unbonding_validators(state, info)?;
        self.complete_unbondings(state, info)?;
        self.complete_redelegations(state, info)?;
        Ok(updates)
    }

    /// Computes the new active set and the updates against the last one.
    pub fn apply_validator_set(&self, state: &mut dyn StateWrite, info: BlockInfo) -> Result<Vec<ValidatorUpdate>, StakeError> {
        let params = params::staking(state)?;
        let mut last: BTreeMap<String, u64> = BTreeMap::new();
        for (key, value) in state.scan_raw(state_key::LAST_POWER_PREFIX, None, 100_000)? {
            let operator = String::from_utf8_lossy(&key[state_key::LAST_POWER_PREFIX.len()..]).into_owned();
            last.insert(
                operator,
                u64::decode(value.as_slice()).map_err(|e| StateError::Decode { key: "last_power".into(), error: e.to_string() })?,
            );
        }
        let max = usize::try_from(params.max_validators).unwrap_or(usize::MAX);
        let top = state.scan_raw(state_key::POWER_PREFIX, None, max)?;
        let mut updates = Vec::new();
        for (key, _) in top {
            let rest = &key[state_key::POWER_PREFIX.len()..];
            let operator = String::from_utf8_lossy(rest.get(21..).unwrap_or_default()).into_owned();
            let mut v = self.must_validator(state, &operator)?;
            let power = power_of(tokens(&v));
            if power == 0 || v.jailed {
                continue;
            }
            if !is_bonded(&v) {
                self.send(state, &Address::module(NOT_BONDED_POOL), &Address::module(BONDED_POOL), tokens(&v))?;
                if v.status == BondStatus::Unbonding as i32 {
                    let at = v.unbonding_time.as_ref().map(openledger_core::block::timestamp_ns).unwrap_or(0);
                    state.delete(&state_key::validator_queue(at, &operator))?;
                }
                v.status = BondStatus::Bonded as i32;
                state.put_proto(state_key::validator(&operator), &v)?;
                if let Some(key) = consensus_key(&v) {
                    slashing::on_validator_bonded(state, info, &consensus_address(&key))?;
                }
                state.emit_typed(ValidatorBonded { validator: operator.clone(), power });
            }
            if last.remove(&operator) != Some(power) {
                updates.push(validator_update(&v, power)?);
                state.put_proto(state_key::last_power(&operator), &power)?;
            }
        }
        for (operator, _) in last {
            let mut v = self.must_validator(state, &operator)?;
            if is_bonded(&v) {
                self.send(state, &Address::module(BONDED_POOL), &Address::module(NOT_BONDED_POOL), tokens(&v))?;
                let params = params::staking(state)?;
                let at = info.time_ns.saturating_add(duration_ns(params.unbonding_time.as_ref()));
                v.status = BondStatus::Unbonding as i32;
                v.unbonding_height = i64::try_from(info.height).unwrap_or(i64::MAX);
                v.unbonding_time = Some(ns_timestamp(at));
                state.put_proto(state_key::validator(&operator), &v)?;
                state.put_raw(state_key::validator_queue(at, &operator), Vec::new())?;
                state.emit_typed(ValidatorUnbonding { validator: operator.clone() });
            }
            updates.push(validator_update(&v, 0)?);
            state.delete(&state_key::last_power(&operator))?;
        }
        Ok(updates)
    }

    fn matured(&self, state: &dyn StateRead, prefix: &[u8], now_ns: u64) -> Result<Vec<(Vec<u8>, String)>, StakeError> {
        let mut out = Vec::new();
        for (key, _) in state.scan_raw(prefix, None, 1000)? {
            let rest = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            let Some((time, tail)) = rest.split_once('/') else { continue };
            if time.parse::<u64>().unwrap_or(u64::MAX) > now_ns {
                break;
            }
            out.push((key.clone(), tail.to_string()));
        }
        Ok(out)
    }

    fn complete_unbonding_validators(&self, state: &mut dyn StateWrite, info: BlockInfo) -> Result<(), StakeError> {
        for (key, operator) in self.matured(state, state_key::VALIDATOR_QUEUE_PREFIX, info.time_ns)? {
            state.delete(&key)?;
            if let Some(mut v) = self.validator(state, &operator)? {
                if v.status == BondStatus::Unbonding as i32 {
                    v.status = BondStatus::Unbonded as i32;
                    state.put_proto(state_key::validator(&operator), &v)?;
                }
            }
        }
        Ok(())
    }

    fn complete_unbondings(&self, state: &mut dyn StateWrite, info: BlockInfo) -> Result<(), StakeError> {
        for (key, tail) in self.matured(state, state_key::UNBONDING_QUEUE_PREFIX, info.time_ns)? {
            state.delete(&key)?;
            let Some((delegator, operator)) = tail.split_once('/') else { continue };
            let Some(mut ubd) = state.get_proto::<UnbondingDelegation>(&state_key::unbonding(delegator, operator))? else { continue };
            let delegator_addr = Address::from_bech32(delegator).map_err(|e| StakeError::InvalidGenesis(e.to_string()))?;
            let mut paid = 0u128;
            ubd.entries.retain(|e| {
                let done = e.completion_time.as_ref().map(openledger_core::block::timestamp_ns).unwrap_or(0) <= info.time_ns;
                if done {
                    paid = paid.saturating_add(e.balance.parse().unwrap_or(0));
                }
                !done
            });
            self.send(state, &Address::module(NOT_BONDED_POOL), &delegator_addr, paid)?;
            if ubd.entries.is_empty() {
                state.delete(&state_key::unbonding(delegator, operator))?;
                state.delete(&state_key::unbonding_by_validator(operator, delegator))?;
            } else {
                state.put_proto(state_key::unbonding(delegator, operator), &ubd)?;
            }
            state.emit_typed(UnbondingCompleted { amount: paid, validator: operator.to_string(), delegator: delegator.to_string() });
        }
        Ok(())
    }

    fn complete_redelegations(&self, state: &mut dyn StateWrite, info: BlockInfo) -> Result<(), StakeError> {
        for (key, tail) in self.matured(state, state_key::REDELEGATION_QUEUE_PREFIX, info.time_ns)? {
            state.delete(&key)?;
            let parts: Vec<&str> = tail.splitn(3, '/').collect();
            let [delegator, src, dst] = parts.as_slice() else { continue };
            let Some(mut red) = state.get_proto::<Redelegation>(&state_key::redelegation(delegator, src, dst))? else { continue };
            red.entries.retain(|e| e.completion_time.as_ref().map(openledger_core::block::timestamp_ns).unwrap_or(0) > info.time_ns);
            if red.entries.is_empty() {
                state.delete(&state_key::redelegation(delegator, src, dst))?;
                state.delete(&state_key::redelegation_by_src(src, delegator, dst))?;
                state.delete(&state_key::redelegation_by_dst(dst, delegator, src))?;
            } else {
                state.put_proto(state_key::redelegation(delegator, src, dst), &red)?;
            }
            state.emit_typed(RedelegationCompleted {
                delegator: delegator.to_string(),
                source_validator: src.to_string(),
                destination_validator: dst.to_string(),
            });
        }
        Ok(())
    }
}

fn ubd_has_completion(ubd: &UnbondingDelegation, completion: u64) -> bool {
    ubd.entries.iter().any(|e| e.completion_time.as_ref().map(openledger_core::block::timestamp_ns) == Some(completion))
}

/// `shares × tokens / total_shares` in whole tokens (floor).
pub fn mul_tokens(s: Dec, total_tokens: u128, total_shares: Dec) -> Result<u128, StakeError> {
    if total_shares.is_zero() {
        return Ok(0);
    }
    Ok(openledger_core::dec::mul_div(s.0, total_tokens, total_shares.0)?)
}

/// A CometBFT validator update for `v` at `power`.
pub fn validator_update(v: &Validator, power: u64) -> Result<ValidatorUpdate, StakeError> {
    let key = consensus_key(v).ok_or_else(|| StakeError::PubKeyTypeNotSupported("non-ed25519".into()))?;
    Ok(ValidatorUpdate {
        pub_key: Some(PublicKey { sum: Some(public_key::Sum::Ed25519(key)) }),
        power: i64::try_from(power).unwrap_or(i64::MAX),
    })
}
