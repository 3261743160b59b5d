//! Benchmark: storing datanet contributions of 1,000 rows per tx through the real tx pipeline.
//!
//! `cargo bench -p openledger-app --bench datanet_contribute`
//!
//! Genesis holds one JSON datanet (required fields `prompt`, `completion`, 1 OPEN bond) and
//! `BLOCKS × TXS_PER_BLOCK` funded contributors. Each block carries `TXS_PER_BLOCK` signed
//! `MsgSubmitContribution`s of `ROWS_PER_TX` JSON rows of ~`ROW_BYTES` bytes (pre-signed, outside
//! the timed region) and is timed through `App::finalize_block` + `App::commit` on a sled store in
//! a temporary directory. Reported: rows/s stored; state growth per row, both as the key+value
//! bytes the block writes (from its delta) and as the growth of the sled directory (JMT nodes,
//! history, latest values and sled's own overhead); gas per row.
//!
//! The box is shared (other builds may run on its 2 cores), so FinalizeBlock and Commit are
//! timed both in wall-clock time and in on-CPU time of the bench thread
//! (`/proc/thread-self/schedstat`), which does not count time spent waiting for a core. Rates use
//! on-CPU time; Commit, whose flush waits on I/O and sled's threads, is shown in both.
//!
//! Baseline, measured in the same run: blocks of `SENDERS` signed bank `MsgSend`s (distinct
//! senders). Rows and sends are different units, so both are converted to per-write throughput
//! (state entries written per second of FinalizeBlock) and the ratio of the two is printed.

#![allow(clippy::float_arithmetic)] // rates and percentages are floating point by nature

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use cosmos_sdk_proto::cosmos::bank::v1beta1::MsgSend;
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::Any;
use openledger_app::ante::Mode;
use openledger_app::app::App;
use openledger_app::client::{sign_tx, SignModeChoice, TxSpec};
use openledger_app::home::local_app_genesis;
use openledger_app::keys::AccountKey;
use openledger_app::tx::run_tx;
use openledger_auth::genesis::AccountJson;
use openledger_bank::genesis::{BalanceJson, CoinJson};
use openledger_core::state::LatestSnapshot;
use openledger_core::storage::Storage;
use openledger_core::StateDelta;
use openledger_datanet::genesis::{CoinJson as BondJson, DatanetJson, PolicyJson, SchemaJson};
use openledger_datanet::msg::MSG_SUBMIT_CONTRIBUTION;
use openledger_proto::openledger::datanet::v1::MsgSubmitContribution;
use prost::Message;
use sha2::{Digest, Sha256};
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;

/// Rows per contribution (the module's default maximum).
const ROWS_PER_TX: usize = 1_000;
/// Target row size in bytes.
const ROW_BYTES: usize = 200;
/// Contributions per block.
const TXS_PER_BLOCK: usize = 4;
/// Timed contribution blocks.
const BLOCKS: usize = 5;
/// Bank-send baseline: txs per block (distinct senders) and blocks.
const SENDERS: usize = 1_000;
const SEND_BLOCKS: usize = 3;
/// Gas limits.
const CONTRIBUTION_GAS: u64 = 40_000_000;
const SEND_GAS: u64 = 100_000;
const CHAIN_ID: &str = "openledger-bench-1";
const DENOM: &str = "uopen";
const FUNDS: u128 = 10_000_000_000;
const BOND: u128 = 1_000_000;

fn key(tag: &str, i: usize) -> anyhow::Result<AccountKey> {
    let secret: [u8; 32] = Sha256::digest(format!("openledger-bench-{tag}-{i}").as_bytes()).into();
    AccountKey::from_secret(&secret)
}

/// A deterministic ~200-byte JSON row.
fn row(contributor: usize, i: usize) -> Vec<u8> {
    let head = format!(r#"{{"prompt":"contributor {contributor} question {i}: what is {i} plus {contributor}?","completion":""#);
    let tail = format!(r#"","id":{i}}}"#);
    let answer = format!("{} ", i + contributor);
    let pad = ROW_BYTES.saturating_sub(head.len() + tail.len());
    let body: String = answer.repeat(pad / answer.len() + 1).chars().take(pad).collect();
    format!("{head}{body}{tail}").into_bytes()
}

fn fee(gas: u64) -> Vec<ProtoCoin> {
    vec![ProtoCoin { denom: DENOM.into(), amount: (u128::from(gas) * 25).div_ceil(1000).to_string() }]
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Wall-clock and on-CPU time of one timed region.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
}

/// On-CPU time of the calling thread (`None` where `/proc/thread-self/schedstat` is missing).
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(text.split_whitespace().next()?.parse::<u64>().ok()?))
}

/// Times `f` in wall and on-CPU time (CPU falls back to wall without schedstat).
fn timed<T>(f: impl FnOnce() -> T) -> (T, Sample) {
    let (cpu0, wall0) = (thread_cpu(), Instant::now());
    let out = f();
    let wall = wall0.elapsed();
    let cpu = match (cpu0, thread_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => wall,
    };
    (out, Sample { wall, cpu })
}

/// Timings and sizes of one block.
struct Block {
    finalize: Sample,
    commit: Sample,
    entries: usize,
    kv_bytes: usize,
    gas_used: i64,
}

fn main() -> anyhow::Result<()> {
    let contributors = (0..TXS_PER_BLOCK * BLOCKS).map(|i| key("contributor", i)).collect::<anyhow::Result<Vec<_>>>()?;
    let senders = (0..SENDERS).map(|i| key("sender", i)).collect::<anyhow::Result<Vec<_>>>()?;
    let owner = key("owner", 0)?;
    println!(
        "datanet_contribute: {BLOCKS} blocks × {TXS_PER_BLOCK} MsgSubmitContribution × {ROWS_PER_TX} JSON rows of ~{ROW_BYTES} B; \
         baseline {SEND_BLOCKS} blocks × {SENDERS} MsgSend"
    );

    // Genesis: the owner as dev account, every contributor and sender funded, one datanet.
    let mut genesis = local_app_genesis(&owner.address());
    for (i, k) in contributors.iter().chain(senders.iter()).enumerate() {
        let address = k.address().to_bech32();
        genesis.auth.accounts.push(AccountJson {
            address: address.clone(),
            account_number: u64::try_from(i)? + 1,
            sequence: 0,
            module_name: None,
            permissions: vec![],
        });
        genesis.bank.balances.push(BalanceJson { address, coins: vec![CoinJson { denom: DENOM.into(), amount: FUNDS }] });
        genesis.bank.supply[0].amount += FUNDS;
    }
    genesis.datanet.datanets.push(DatanetJson {
        id: 1,
        owner: owner.address().to_bech32(),
        name: "bench".into(),
        description: String::new(),
        license: "CC0-1.0".into(),
        schema: SchemaJson { kind: "SCHEMA_KIND_JSON".into(), required_fields: vec!["prompt".into(), "completion".into()] },
        policy: PolicyJson {
            mode: "CURATION_MODE_OWNER_REVIEW".into(),
            curators: vec![],
            contribution_bond: Some(BondJson { denom: DENOM.into(), amount: BOND.to_string() }),
            reject_burn_bps: 1000,
            max_row_bytes: 1024,
        },
        delisted: false,
        delist_reason: String::new(),
        next_row_id: 1,
        next_contribution_id: 1,
        latest_version: 0,
        accepted_rows: 0,
        pending_contributions: 0,
        curation_epoch: 1,
    });
    let dir = tempfile::tempdir()?;
    let app = App::with_storage(Storage::open(&dir.path().join("application.db"))?);
    app.init_chain(&pb::RequestInitChain {
        chain_id: CHAIN_ID.into(),
        app_state_bytes: serde_json::to_vec(&genesis)?.into(),
        initial_height: 1,
        ..Default::default()
    })
    .map_err(|e| anyhow::anyhow!("init_chain: {}", e.log))?;
    let mut height = 1u64;
    run_block(&app, height, Vec::new())?;

    // Pre-sign everything.
    let sign_start = Instant::now();
    let mut contribution_blocks = Vec::with_capacity(BLOCKS);
    for b in 0..BLOCKS {
        let mut txs = Vec::with_capacity(TXS_PER_BLOCK);
        for t in 0..TXS_PER_BLOCK {
            let c = b * TXS_PER_BLOCK + t;
            let msg = MsgSubmitContribution {
                contributor: contributors[c].address().to_bech32(),
                datanet_id: 1,
                rows: (0..ROWS_PER_TX).map(|i| row(c, i)).collect(),
                bond: Some(ProtoCoin { denom: DENOM.into(), amount: BOND.to_string() }),
            };
            txs.push(sign_tx(&TxSpec {
                key: &contributors[c],
                chain_id: CHAIN_ID,
                account_number: u64::try_from(c)? + 1,
                sequence: 0,
                msgs: vec![Any { type_url: MSG_SUBMIT_CONTRIBUTION.into(), value: msg.encode_to_vec() }],
                fee: fee(CONTRIBUTION_GAS),
                gas_limit: CONTRIBUTION_GAS,
                memo: String::new(),
                mode: SignModeChoice::Direct,
            })?);
        }
        contribution_blocks.push(txs);
    }
    let mut send_blocks = Vec::with_capacity(SEND_BLOCKS);
    for b in 0..SEND_BLOCKS {
        let mut txs = Vec::with_capacity(SENDERS);
        for (i, k) in senders.iter().enumerate() {
            let msg = MsgSend {
                from_address: k.address().to_bech32(),
                to_address: senders[(i + 1) % SENDERS].address().to_bech32(),
                amount: vec![ProtoCoin { denom: DENOM.into(), amount: "1".into() }],
            };
            txs.push(sign_tx(&TxSpec {
                key: k,
                chain_id: CHAIN_ID,
                account_number: u64::try_from(contributors.len() + i)? + 1,
                sequence: u64::try_from(b)?,
                msgs: vec![Any { type_url: "/cosmos.bank.v1beta1.MsgSend".into(), value: msg.encode_to_vec() }],
                fee: fee(SEND_GAS),
                gas_limit: SEND_GAS,
                memo: String::new(),
                mode: SignModeChoice::Direct,
            })?);
        }
        send_blocks.push(txs);
    }
    let tx_bytes = contribution_blocks.first().and_then(|b| b.first()).map_or(0, Vec::len);
    println!("signed in {:.1} s; one contribution tx is {tx_bytes} B", sign_start.elapsed().as_secs_f64());

    // Interleave: a bank block, then contribution blocks, so both see a similar store size.
    let mut sends = Vec::new();
    let mut contributions = Vec::new();
    let disk_before = dir_size(dir.path());
    let mut disk_growth_contributions = 0u64;
    let mut send_iter = send_blocks.into_iter();
    for (b, txs) in contribution_blocks.into_iter().enumerate() {
        if b % 2 == 0 {
            if let Some(send_txs) = send_iter.next() {
                height += 1;
                sends.push(measured_block(&app, height, send_txs)?);
            }
        }
        height += 1;
        let before = dir_size(dir.path());
        contributions.push(measured_block(&app, height, txs)?);
        disk_growth_contributions += dir_size(dir.path()).saturating_sub(before);
    }
    let disk_after = dir_size(dir.path());
    report(&contributions, &sends, disk_growth_contributions, disk_after.saturating_sub(disk_before));
    Ok(())
}

/// Measures the block's writes on a scratch delta, then runs FinalizeBlock + Commit for real.
fn measured_block(app: &App, height: u64, txs: Vec<Vec<u8>>) -> anyhow::Result<Block> {
    let mut delta = StateDelta::new(LatestSnapshot(app.storage().clone()));
    for tx in &txs {
        let outcome = run_tx(app.modules(), &mut delta, tx, CHAIN_ID, height, Mode::Deliver);
        if !outcome.is_ok() {
            bail!("tx failed in the measuring run: {} {} {}", outcome.codespace, outcome.code, outcome.log);
        }
    }
    let entries = delta.changes().len();
    let kv_bytes = delta.changes().iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len)).sum();
    drop(delta);
    let (finalize, commit, gas_used) = run_block(app, height, txs)?;
    Ok(Block { finalize, commit, entries, kv_bytes, gas_used })
}

/// FinalizeBlock + Commit of one block; fails unless every tx passed.
fn run_block(app: &App, height: u64, txs: Vec<Vec<u8>>) -> anyhow::Result<(Sample, Sample, i64)> {
    let req = pb::RequestFinalizeBlock {
        txs: txs.into_iter().map(Into::into).collect(),
        height: i64::try_from(height)?,
        time: Some(Timestamp { seconds: 1_700_000_000 + i64::try_from(height)?, nanos: 0 }),
        ..Default::default()
    };
    let (resp, finalize) = timed(|| app.finalize_block(&req));
    let resp = resp.map_err(|e| anyhow::anyhow!("finalize_block: {}", e.log))?;
    if let Some(bad) = resp.tx_results.iter().find(|r| r.code != 0) {
        bail!("tx failed at height {height}: {} {} {}", bad.codespace, bad.code, bad.log);
    }
    let (committed, commit) = timed(|| app.commit());
    committed.map_err(|e| anyhow::anyhow!("commit: {}", e.log))?;
    if app.storage().last_committed().1.as_slice() != resp.app_hash.as_ref() {
        bail!("committed app hash differs from FinalizeBlock's at height {height}");
    }
    Ok((finalize, commit, resp.tx_results.iter().map(|r| r.gas_used).sum()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn report(contributions: &[Block], sends: &[Block], disk_contributions: u64, disk_total: u64) {
    let rows_per_block = (ROWS_PER_TX * TXS_PER_BLOCK) as f64;
    let total_rows = rows_per_block * contributions.len() as f64;
    let cpu = |s: Sample| s.cpu.as_secs_f64();
    let wall = |s: Sample| s.wall.as_secs_f64();

    let fin = median(contributions.iter().map(|b| cpu(b.finalize)).collect());
    let fin_wall = median(contributions.iter().map(|b| wall(b.finalize)).collect());
    let com = median(contributions.iter().map(|b| wall(b.commit)).collect());
    let com_cpu = median(contributions.iter().map(|b| cpu(b.commit)).collect());
    let entries = median(contributions.iter().map(|b| b.entries as f64).collect());
    let kv = median(contributions.iter().map(|b| b.kv_bytes as f64).collect());
    let gas = median(contributions.iter().map(|b| b.gas_used as f64).collect());
    let rows_s = rows_per_block / fin;
    let rows_s_commit = rows_per_block / (fin + com);
    let entries_s = entries / fin;

    let s_fin = median(sends.iter().map(|b| cpu(b.finalize)).collect());
    let s_fin_wall = median(sends.iter().map(|b| wall(b.finalize)).collect());
    let s_com = median(sends.iter().map(|b| wall(b.commit)).collect());
    let s_entries = median(sends.iter().map(|b| b.entries as f64).collect());
    let s_entries_s = s_entries / s_fin;
    let sends_s = SENDERS as f64 / s_fin;

    println!();
    println!("contribution blocks ({} × {} rows), medians:", contributions.len(), rows_per_block);
    println!(
        "  FinalizeBlock {:8.1} ms on-CPU ({:.1} ms wall)   Commit {:8.1} ms wall ({:.1} ms on-CPU)   state entries written {entries:.0}",
        fin * 1e3,
        fin_wall * 1e3,
        com * 1e3,
        com_cpu * 1e3
    );
    println!("  rows stored: {rows_s:.0} rows/s in FinalizeBlock (on-CPU), {rows_s_commit:.0} rows/s with Commit (wall)");
    println!("  state entries/s in FinalizeBlock: {entries_s:.0}");
    println!("  gas: {:.0} per row ({:.1} M per 1,000-row tx)", gas / rows_per_block, gas / TXS_PER_BLOCK as f64 / 1e6);
    println!(
        "  state growth per row: {:.0} B of keys+values written; {:.0} B of sled directory growth (JMT nodes, history, indexes; {} blocks, {:.1} MiB)",
        kv / rows_per_block,
        disk_contributions as f64 / total_rows,
        contributions.len(),
        disk_contributions as f64 / (1024.0 * 1024.0)
    );
    println!("  (whole run: sled directory grew {:.1} MiB)", disk_total as f64 / (1024.0 * 1024.0));
    println!();
    println!("baseline: bank-send blocks ({} × {SENDERS} MsgSend), medians:", sends.len());
    println!(
        "  FinalizeBlock {:8.1} ms on-CPU ({:.1} ms wall)   Commit {:8.1} ms wall   state entries written {s_entries:.0}",
        s_fin * 1e3,
        s_fin_wall * 1e3,
        s_com * 1e3
    );
    println!("  {sends_s:.0} sends/s = {s_entries_s:.0} state entries/s in FinalizeBlock");
    println!();
    println!(
        "datanet_contribute: {rows_s:.0} rows/s ({:.2}× the bank baseline's per-write throughput: {entries_s:.0} vs {s_entries_s:.0} state entries/s), {:.0} B/row written",
        entries_s / s_entries_s,
        kv / rows_per_block
    );
}
