//! Stake-weighted tally, as the SDK's `x/gov` keeper does it: a delegator's vote counts with the
//! tokens behind its delegation shares to bonded validators; a validator's vote counts with the
//! shares of its delegators who did not vote themselves (they inherit it). Decimal math only.

use std::collections::BTreeMap;

use cosmos_sdk_proto::cosmos::gov::v1::{TallyResult, VoteOption};
use openledger_core::{Address, Dec, StateError, StateRead};

use crate::error::GovError;

/// A bonded validator as gov sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorPower {
    /// The operator's account address (same bytes as its valoper address).
    pub operator: Address,
    /// Bonded tokens.
    pub tokens: u128,
    /// Total delegator shares.
    pub shares: Dec,
}

/// One delegation of a voter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationShares {
    /// The validator's operator account address.
    pub validator: Address,
    /// Shares held.
    pub shares: Dec,
}

/// What gov needs from staking to tally.
pub trait StakeReader: Send + Sync {
    /// Bonded validators with tokens and shares.
    fn bonded_validators(&self, state: &dyn StateRead) -> Result<Vec<ValidatorPower>, StateError>;
    /// Delegations of `delegator`.
    fn delegations(&self, state: &dyn StateRead, delegator: &Address) -> Result<Vec<DelegationShares>, StateError>;
}

/// A parsed vote: voter and `(option, weight)` pairs whose weights sum to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedVote {
    /// Voter.
    pub voter: Address,
    /// `(VoteOption as i32, weight)`.
    pub options: Vec<(i32, Dec)>,
}

/// The tally's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct TallyOutcome {
    /// Whether the proposal passes.
    pub passes: bool,
    /// Whether the deposits are burnt (veto, or quorum missed with `burn_vote_quorum`).
    pub burn_deposits: bool,
    /// Counts (integer tokens) as the SDK reports them.
    pub result: TallyResult,
}

/// Tally thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyRules {
    /// Minimum share of bonded tokens that must vote.
    pub quorum: Dec,
    /// Yes share (of non-abstaining power) needed to pass.
    pub threshold: Dec,
    /// NoWithVeto share (of all voting power) that vetoes.
    pub veto: Dec,
    /// Burn deposits when quorum is missed.
    pub burn_vote_quorum: bool,
    /// Burn deposits on veto.
    pub burn_vote_veto: bool,
}

struct ValState {
    tokens: u128,
    shares: Dec,
    deductions: Dec,
    vote: Option<Vec<(i32, Dec)>>,
}

fn slot(option: i32) -> usize {
    match VoteOption::try_from(option) {
        Ok(VoteOption::Yes) => 0,
        Ok(VoteOption::Abstain) => 1,
        Ok(VoteOption::No) => 2,
        _ => 3,
    }
}

/// Voting power of `shares` out of a validator's `total_shares` backing `tokens`.
fn power(tokens: u128, shares: Dec, total_shares: Dec) -> Result<Dec, GovError> {
    if total_shares.is_zero() {
        return Ok(Dec::ZERO);
    }
    Ok(Dec::from_int(tokens)?.mul_ratio(shares.0, total_shares.0)?)
}

fn add_weighted(results: &mut [Dec; 4], options: &[(i32, Dec)], power: Dec) -> Result<(), GovError> {
    for (option, weight) in options {
        let i = slot(*option);
        results[i] = results[i].checked_add(power.checked_mul(*weight)?)?;
    }
    Ok(())
}

/// Tallies `votes` over the bonded set.
pub fn tally(state: &dyn StateRead, stake: &dyn StakeReader, votes: &[ParsedVote], rules: TallyRules) -> Result<TallyOutcome, GovError> {
    let mut validators: BTreeMap<Vec<u8>, ValState> = BTreeMap::new();
    let mut total_bonded: u128 = 0;
    for v in stake.bonded_validators(state)? {
        total_bonded = total_bonded.checked_add(v.tokens).ok_or(GovError::Overflow("bonded tokens"))?;
        validators
            .insert(v.operator.as_bytes().to_vec(), ValState { tokens: v.tokens, shares: v.shares, deductions: Dec::ZERO, vote: None });
    }
    let mut results = [Dec::ZERO; 4];
    let mut total_power = Dec::ZERO;
    for vote in votes {
        if let Some(v) = validators.get_mut(vote.voter.as_bytes()) {
            v.vote = Some(vote.options.clone());
        }
        for d in stake.delegations(state, &vote.voter)? {
            if let Some(v) = validators.get_mut(d.validator.as_bytes()) {
                v.deductions = v.deductions.checked_add(d.shares)?;
                let p = power(v.tokens, d.shares, v.shares)?;
                add_weighted(&mut results, &vote.options, p)?;
                total_power = total_power.checked_add(p)?;
            }
        }
    }
    for v in validators.values() {
        let Some(options) = &v.vote else { continue };
        let remaining = Dec(v.shares.0.saturating_sub(v.deductions.0));
        let p = power(v.tokens, remaining, v.shares)?;
        add_weighted(&mut results, options, p)?;
        total_power = total_power.checked_add(p)?;
    }
    let result = TallyResult {
        yes_count: results[0].truncate().to_string(),
        abstain_count: results[1].truncate().to_string(),
        no_count: results[2].truncate().to_string(),
        no_with_veto_count: results[3].truncate().to_string(),
    };
    let outcome = |passes, burn_deposits| Ok(TallyOutcome { passes, burn_deposits, result: result.clone() });
    if total_bonded == 0 {
        return outcome(false, false);
    }
    if total_power.quo(Dec::from_int(total_bonded)?)? < rules.quorum {
        return outcome(false, rules.burn_vote_quorum);
    }
    let non_abstain = Dec(total_power.0.saturating_sub(results[1].0));
    if non_abstain.is_zero() {
        return outcome(false, false);
    }
    if results[3].quo(total_power)? > rules.veto {
        return outcome(false, rules.burn_vote_veto);
    }
    if results[0].quo(non_abstain)? > rules.threshold {
        return outcome(true, false);
    }
    outcome(false, false)
}
