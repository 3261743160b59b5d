//! Slashing: liveness tracking from CometBFT's commit info (a sliding window of missed blocks
//! per validator; too many misses → slash + jail), double-sign evidence from FinalizeBlock's
//! misbehavior list (slash + permanent jail + tombstone), and unjailing.

use cosmos_sdk_proto::cosmos::slashing::v1beta1::ValidatorSigningInfo;
use openledger_core::address::VALCONS_PREFIX;
use openledger_core::block::{ns_timestamp, timestamp_ns, BlockInfo};
use openledger_core::{Address, Dec, StateReadExt, StateWrite, StateWriteExt};

use crate::distribution::Vote;
use crate::error::StakeError;
use crate::events::{Liveness, Tombstoned, Unjailed};
use crate::keeper::{consensus_address, consensus_key, operator_of, tokens, StakeKeeper};
use crate::params::{self, dec_from_bytes, dec_from_proto, duration_ns};
use crate::state_key;

/// Evidence older than this many blocks is ignored.
pub const MAX_EVIDENCE_AGE_BLOCKS: u64 = 100_000;

fn cons_hex(address: &[u8]) -> String {
    hex::encode_upper(address)
}

/// Signing info of a consensus address.
pub fn signing_info(state: &dyn openledger_core::StateRead, address: &[u8]) -> Result<Option<ValidatorSigningInfo>, StakeError> {
    Ok(state.get_proto(&state_key::signing_info(&cons_hex(address)))?)
}

/// Starts liveness tracking when a validator is first bonded.
pub fn on_validator_bonded(state: &mut dyn StateWrite, info: BlockInfo, address: &[u8]) -> Result<(), StakeError> {
    let key = state_key::signing_info(&cons_hex(address));
    if state.has(&key)? {
        return Ok(());
    }
    let bech = Address::from_bytes(address).map(|a| a.to_bech32_prefixed(VALCONS_PREFIX)).unwrap_or_default();
    let si = ValidatorSigningInfo {
        address: bech,
        start_height: i64::try_from(info.height).unwrap_or(i64::MAX),
        index_offset: 0,
        jailed_until: Some(ns_timestamp(0)),
        tombstoned: false,
        missed_blocks_counter: 0,
    };
    state.put_proto(key, &si)?;
    Ok(())
}

/// Records who signed the previous block; jails and slashes validators below the minimum.
pub fn handle_votes(keeper: &StakeKeeper, state: &mut dyn StateWrite, info: BlockInfo, votes: &[Vote]) -> Result<(), StakeError> {
    let p = params::slashing(state)?;
    let window = u64::try_from(p.signed_blocks_window).unwrap_or(0);
    if window == 0 {
        return Ok(());
    }
    let min_signed = Dec::from_int(u128::from(window))?.checked_mul(dec_from_bytes(&p.min_signed_per_window))?.truncate();
    let max_missed = u128::from(window).saturating_sub(min_signed);
    for vote in votes {
        let hexaddr = cons_hex(&vote.address);
        let Some(mut si) = signing_info(state, &vote.address)? else { continue };
        let offset = u64::try_from(si.index_offset).unwrap_or(0);
        let index = offset % window;
        si.index_offset = i64::try_from(offset.saturating_add(1)).unwrap_or(i64::MAX);
        let bit = state_key::missed_block(&hexaddr, index);
        let was_missed = state.has(&bit)?;
        let missed = !vote.signed;
        if missed && !was_missed {
            state.put_raw(bit, Vec::new())?;
            si.missed_blocks_counter = si.missed_blocks_counter.saturating_add(1);
        } else if !missed && was_missed {
            state.delete(&bit)?;
            si.missed_blocks_counter = si.missed_blocks_counter.saturating_sub(1);
        }
        if missed {
            state.emit_typed(Liveness { address: si.address.clone(), missed_blocks: si.missed_blocks_counter, height: info.height });
        }
        let min_height = u64::try_from(si.start_height).unwrap_or(0).saturating_add(window);
        let missed_count = u128::try_from(si.missed_blocks_counter).unwrap_or(0);
        if info.height > min_height && missed_count > max_missed {
            if let Some(v) = keeper.validator_by_cons(state, &vote.address)? {
                if !v.jailed {
                    // Infraction at the height whose validator set signed (two blocks back).
                    let infraction = info.height.saturating_sub(2);
                    let fraction = dec_from_bytes(&p.slash_fraction_downtime);
                    keeper.slash_at(state, info, &v.operator_address, infraction, vote.power, fraction, "missing_signature")?;
                    keeper.jail(state, &v.operator_address, "missing_signature")?;
                    let until = info.time_ns.saturating_add(duration_ns(p.downtime_jail_duration.as_ref()));
                    si.jailed_until = Some(ns_timestamp(until));
                    si.missed_blocks_counter = 0;
                    si.index_offset = 0;
                    for (key, _) in
                        state.scan_raw(&state_key::missed_blocks_of(&hexaddr), None, usize::try_from(window).unwrap_or(usize::MAX))?
                    {
                        state.delete(&key)?;
                    }
                }
            }
        }
        state.put_proto(state_key::signing_info(&hexaddr), &si)?;
    }
    Ok(())
}

/// One piece of double-sign evidence from CometBFT.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// 20-byte consensus address of the offender.
    pub address: Vec<u8>,
    /// Its power at the infraction.
    pub power: u64,
    /// Height of the infraction.
    pub height: u64,
}

/// Slashes, jails forever and tombstones double signers.
pub fn handle_evidence(keeper: &StakeKeeper, state: &mut dyn StateWrite, info: BlockInfo, evidence: &[Evidence]) -> Result<(), StakeError> {
    let p = params::slashing(state)?;
    for ev in evidence {
        if info.height.saturating_sub(ev.height) > MAX_EVIDENCE_AGE_BLOCKS {
            continue;
        }
        let Some(v) = keeper.validator_by_cons(state, &ev.address)? else { continue };
        let hexaddr = cons_hex(&ev.address);
        let mut si = match signing_info(state, &ev.address)? {
            Some(si) => si,
            None => continue,
        };
        if si.tombstoned {
            continue;
        }
        let fraction = dec_from_bytes(&p.slash_fraction_double_sign);
        keeper.slash_at(state, info, &v.operator_address, ev.height.saturating_sub(1), ev.power, fraction, "double_sign")?;
        keeper.jail(state, &v.operator_address, "double_sign")?;
        si.jailed_until = Some(ns_timestamp(u64::MAX / 2));
        si.tombstoned = true;
        state.put_proto(state_key::signing_info(&hexaddr), &si)?;
        state.emit_typed(Tombstoned { address: si.address.clone() });
    }
    Ok(())
}

/// `MsgUnjail`: a jailed, non-tombstoned validator whose jail time passed and whose operator
/// still self-delegates at least its minimum returns to the candidates.
pub fn unjail(keeper: &StakeKeeper, state: &mut dyn StateWrite, info: BlockInfo, operator: &str) -> Result<(), StakeError> {
    let v = keeper.validator(state, operator)?.ok_or(StakeError::NoValidatorForAddress)?;
    let account = crate::keeper::operator_account(operator)?;
    let delegation = keeper.delegation(state, &account.to_bech32(), operator)?.ok_or(StakeError::MissingSelfDelegation)?;
    let self_tokens =
        crate::keeper::mul_tokens(dec_from_proto(&delegation.shares).unwrap_or(Dec::ZERO), tokens(&v), crate::keeper::shares(&v))?;
    let min_self: u128 = v.min_self_delegation.parse().unwrap_or(0);
    if self_tokens < min_self {
        return Err(StakeError::SelfDelegationTooLowToUnjail);
    }
    if !v.jailed {
        return Err(StakeError::NotJailed);
    }
    let key = consensus_key(&v).ok_or(StakeError::NoSigningInfo)?;
    let address = consensus_address(&key);
    if let Some(si) = signing_info(state, &address)? {
        if si.tombstoned {
            return Err(StakeError::Tombstoned);
        }
        if info.time_ns < si.jailed_until.as_ref().map(timestamp_ns).unwrap_or(0) {
            return Err(StakeError::StillJailed);
        }
    }
    keeper.unjail_validator(state, operator)?;
    state.emit_typed(Unjailed { validator: operator.to_string(), sender: operator_of(&account) });
    Ok(())
}
