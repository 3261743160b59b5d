//! Benchmark: FinalizeBlock cost of the stake module with 100 validators, with 10,000
//! delegations versus a baseline of 100 delegations in the same run. Every block allocates
//! rewards to 100 signers, tracks liveness for 100 validators and recomputes the validator set;
//! with F1 lazy rewards none of that touches delegations, so the ratio should stay near 1.0.
//! The baseline funds the same 10,000 accounts (only 100 of them delegate), so both stores hold
//! a similar number of keys and the Merkle tree's depth does not bias the comparison.
//!
//! Run: `cargo bench -p openledger-app --bench stake_block`

// Ratios and milliseconds for the printout only; nothing here feeds consensus.
#![allow(clippy::float_arithmetic)]

use std::time::{Duration, Instant};

use base64::Engine;
use openledger_app::app::App;
use openledger_app::home::{add_genesis_validator, local_app_genesis};
use openledger_app::keys::AccountKey;
use openledger_app::modules::AppGenesis;
use openledger_auth::genesis::AccountJson;
use openledger_bank::genesis::{BalanceJson, CoinJson};
use openledger_core::storage::Storage;
use openledger_core::Address;
use openledger_stake::genesis::GenesisDelegation;
use openledger_stake::keeper::{consensus_address, operator_of};
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;

const VALIDATORS: usize = 100;
const BLOCKS: usize = 30;
const DELEGATORS: usize = 10_000;

fn address(kind: u8, n: usize) -> Address {
    let mut bytes = [kind; 20];
    bytes[..8].copy_from_slice(&(n as u64).to_be_bytes());
    Address::from_bytes(&bytes).expect("address")
}

fn cons_key(n: usize) -> [u8; 32] {
    let mut k = [7u8; 32];
    k[..8].copy_from_slice(&(n as u64).to_be_bytes());
    k
}

fn fund(genesis: &mut AppGenesis, address: &Address, amount: u128) {
    let number = genesis.auth.accounts.len() as u64;
    genesis.auth.accounts.push(AccountJson {
        address: address.to_bech32(),
        account_number: number,
        sequence: 0,
        module_name: None,
        permissions: vec![],
    });
    genesis.bank.balances.push(BalanceJson { address: address.to_bech32(), coins: vec![CoinJson { denom: "uopen".into(), amount }] });
    genesis.bank.supply[0].amount += amount;
}

fn genesis(delegations: usize) -> AppGenesis {
    let dev = AccountKey::from_secret(&[1; 32]).expect("key").address();
    let mut g = local_app_genesis(&dev);
    let b64 = base64::engine::general_purpose::STANDARD;
    for v in 0..VALIDATORS {
        let op = address(0xA0, v);
        fund(&mut g, &op, 2_000_000_000);
        add_genesis_validator(&mut g, &op, &b64.encode(cons_key(v)), &format!("v{v}"), 1_000_000_000 + (v as u128) * 1_000_000);
    }
    for d in 0..DELEGATORS {
        let del = address(0xD0, d);
        fund(&mut g, &del, 10_000_000);
        if d >= delegations {
            // Filler state for the baseline: the keys a delegation would have added.
            fund(&mut g, &address(0xF0, d), 1);
            continue;
        }
        g.stake.delegations.push(GenesisDelegation {
            delegator_address: del.to_bech32(),
            validator_address: operator_of(&address(0xA0, d % VALIDATORS)),
            amount: 5_000_000,
        });
    }
    g
}

struct Measured {
    finalize: Vec<Duration>,
    commit: Vec<Duration>,
}

fn run(delegations: usize) -> Measured {
    let app = App::with_storage(Storage::temporary().expect("store"));
    let g = genesis(delegations);
    let setup = Instant::now();
    app.init_chain(&pb::RequestInitChain {
        time: Some(Timestamp { seconds: 1_700_000_000, nanos: 0 }),
        chain_id: "bench".into(),
        app_state_bytes: serde_json::to_vec(&g).expect("json").into(),
        initial_height: 1,
        ..Default::default()
    })
    .expect("init");
    eprintln!("  genesis with {delegations} delegations: {:?}", setup.elapsed());
    let votes: Vec<pb::VoteInfo> = (0..VALIDATORS)
        .map(|v| pb::VoteInfo {
            validator: Some(pb::Validator {
                address: consensus_address(&cons_key(v)).into(),
                power: 1000 + v as i64 + 5 * (delegations / VALIDATORS) as i64,
            }),
            // A few validators miss each block so liveness bookkeeping does real work.
            block_id_flag: if v % 10 == 0 { 1 } else { 2 },
        })
        .collect();
    let mut m = Measured { finalize: vec![], commit: vec![] };
    for h in 1..=BLOCKS as i64 {
        let req = pb::RequestFinalizeBlock {
            height: h,
            time: Some(Timestamp { seconds: 1_700_000_000 + h, nanos: 0 }),
            decided_last_commit: Some(pb::CommitInfo { round: 0, votes: votes.clone() }),
            ..Default::default()
        };
        let t = Instant::now();
        app.finalize_block(&req).expect("finalize");
        m.finalize.push(t.elapsed());
        let t = Instant::now();
        app.commit().expect("commit");
        m.commit.push(t.elapsed());
    }
    m
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    println!("stake FinalizeBlock benchmark: {VALIDATORS} validators, {BLOCKS} blocks each, all with a 100-vote commit");
    let baseline = run(VALIDATORS);
    let heavy = run(DELEGATORS);
    // Skip block 1 (no reward allocation) when taking medians.
    let (b_fin, b_com) = (median(baseline.finalize[1..].to_vec()), median(baseline.commit[1..].to_vec()));
    let (h_fin, h_com) = (median(heavy.finalize[1..].to_vec()), median(heavy.commit[1..].to_vec()));
    println!(
        "baseline  (100 delegations, 10,000 funded accounts):    FinalizeBlock median {:>8.3} ms, Commit median {:>8.3} ms",
        b_fin.as_secs_f64() * 1e3,
        b_com.as_secs_f64() * 1e3
    );
    println!(
        "measured (10,000 delegations, 10,000 accounts):   FinalizeBlock median {:>8.3} ms, Commit median {:>8.3} ms",
        h_fin.as_secs_f64() * 1e3,
        h_com.as_secs_f64() * 1e3
    );
    let ratio = h_fin.as_secs_f64() / b_fin.as_secs_f64();
    println!(
        "ratio FinalizeBlock 10,000 / 100 delegations: {ratio:.2} (1.0 = independent of delegations; O(delegations) work would be ~100x)"
    );
    println!(
        "verdict: {}",
        if ratio < 2.0 { "PASS: no O(delegations) work per block" } else { "FAIL: per-block cost grows with delegations" }
    );
}
