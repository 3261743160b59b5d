//! Benchmark: the cost of tallying a proposal with 10,000 voters.
//!
//! `cargo bench -p openledger-app --bench gov_tally`
//!
//! A committed sled store (temporary directory) holds 10 bonded validators, one delegator per
//! voter (each delegating to one validator) and one `cosmos.gov.v1.Vote` per voter on proposal 1,
//! written straight into the module's keys and committed at height 1. The timed region is
//! `GovKeeper::tally` as end-block runs it — scanning the votes, reading each voter's delegations
//! through the app's `StakeReader` over the stake module's state, and the decimal tally — read
//! from the committed state (`LatestSnapshot`). Half the voters vote yes, a quarter no, a quarter
//! abstain, and the validators vote yes so every delegator who did not vote inherits it.
//!
//! Baseline, measured in the same run: the same tally with 100 voters. The ratio of per-voter
//! costs shows whether the tally stays linear in the number of voters.

#![allow(clippy::float_arithmetic)] // rates are floating point by nature

use std::time::{Duration, Instant};

use cosmos_sdk_proto::cosmos::gov::v1::{Proposal, ProposalStatus, Vote, WeightedVoteOption};
use cosmos_sdk_proto::cosmos::staking::v1beta1::{BondStatus, Delegation, Validator};
use openledger_app::modules::Modules;
use openledger_core::state::LatestSnapshot;
use openledger_core::storage::Storage;
use openledger_core::{Address, Dec, StateDelta, StateWriteExt};
use openledger_stake::keeper::operator_of;
use openledger_stake::params::dec_to_proto;

const VALIDATORS: u32 = 10;
const TOKENS_PER_DELEGATOR: u128 = 1_000_000;
const RUNS: usize = 7;

fn address(tag: u8, n: u32) -> Address {
    let mut bytes = [tag; 20];
    bytes[16..].copy_from_slice(&n.to_be_bytes());
    Address::from_bytes(&bytes).unwrap_or_else(|_| Address::module("bench"))
}

/// A committed store with `voters` voting delegators; returns it and its modules.
fn setup(voters: u32) -> (Storage, Modules) {
    let storage = Storage::temporary().expect("temporary store");
    let mut d = StateDelta::new(LatestSnapshot(storage.clone()));
    let per_validator = u128::from(voters.div_ceil(VALIDATORS)) * TOKENS_PER_DELEGATOR + TOKENS_PER_DELEGATOR;
    for v in 0..VALIDATORS {
        let operator = operator_of(&address(1, v));
        let val = Validator {
            operator_address: operator.clone(),
            status: BondStatus::Bonded as i32,
            tokens: per_validator.to_string(),
            delegator_shares: dec_to_proto(Dec::from_int(per_validator).expect("fits")),
            ..Default::default()
        };
        d.put_proto(openledger_stake::state_key::validator(&operator), &val).expect("write");
    }
    for i in 0..voters {
        let voter = address(2, i).to_bech32();
        let operator = operator_of(&address(1, i % VALIDATORS));
        let del = Delegation {
            delegator_address: voter.clone(),
            validator_address: operator.clone(),
            shares: dec_to_proto(Dec::from_int(TOKENS_PER_DELEGATOR).expect("fits")),
        };
        d.put_proto(openledger_stake::state_key::delegation(&voter, &operator), &del).expect("write");
        let option = match i % 4 {
            0 | 1 => 1,
            2 => 3,
            _ => 2,
        };
        let vote = Vote {
            proposal_id: 1,
            voter: voter.clone(),
            options: vec![WeightedVoteOption { option, weight: Dec::ONE.to_string() }],
            metadata: String::new(),
        };
        d.put_proto(openledger_gov::state_key::vote(1, &voter), &vote).expect("write");
    }
    for v in 0..VALIDATORS {
        let voter = address(1, v).to_bech32();
        let vote = Vote {
            proposal_id: 1,
            voter: voter.clone(),
            options: vec![WeightedVoteOption { option: 1, weight: Dec::ONE.to_string() }],
            metadata: String::new(),
        };
        d.put_proto(openledger_gov::state_key::vote(1, &voter), &vote).expect("write");
    }
    let proposal = Proposal { id: 1, status: ProposalStatus::VotingPeriod as i32, ..Default::default() };
    d.put_proto(openledger_gov::state_key::proposal(1), &proposal).expect("write");
    let (changes, _) = d.into_parts();
    storage.commit(1, changes).expect("commit");
    (storage, Modules::new())
}

/// Median wall time of `RUNS` tallies.
fn time_tally(voters: u32) -> (Duration, String) {
    let (storage, modules) = setup(voters);
    let state = LatestSnapshot(storage);
    let mut times = Vec::with_capacity(RUNS);
    let mut summary = String::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let outcome = modules.gov.tally(&state, 1).expect("tally");
        times.push(start.elapsed());
        summary = format!(
            "passes={} yes={} no={} abstain={}",
            outcome.passes, outcome.result.yes_count, outcome.result.no_count, outcome.result.abstain_count
        );
    }
    times.sort();
    (times[RUNS / 2], summary)
}

fn main() {
    println!("gov_tally: {VALIDATORS} bonded validators (all vote yes), one delegation per voter, median of {RUNS} tallies");
    let (base, base_summary) = time_tally(100);
    let (big, big_summary) = time_tally(10_000);
    let per_base = base.as_secs_f64() * 1e6 / 110.0;
    let per_big = big.as_secs_f64() * 1e6 / 10_010.0;
    println!("baseline:   100 voters  tally {:>9.3} ms  ({per_base:.2} µs per vote)  {base_summary}", base.as_secs_f64() * 1e3);
    println!("measured: 10000 voters  tally {:>9.3} ms  ({per_big:.2} µs per vote)  {big_summary}", big.as_secs_f64() * 1e3);
    println!(
        "gov_tally: 10,000 voters in {:.1} ms = {:.1}× the 100-voter tally; per-vote cost {:.2}× the baseline's",
        big.as_secs_f64() * 1e3,
        big.as_secs_f64() / base.as_secs_f64(),
        per_big / per_base
    );
}
