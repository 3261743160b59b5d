//! Benchmark: disk bytes per block of a node's state store under steady load, with each pruning
//! strategy, over the same chain.
//!
//! `cargo bench -p openledger-app --bench pruning_disk` (`OPENLEDGER_BENCH_BLOCKS`, default
//! 10,000 blocks of `SENDERS` signed sends; every tx is signed before the timed run).
//!
//! The same pre-signed blocks run through `App::finalize_block` + `App::commit` on a fresh sled
//! directory per strategy: `nothing` (an archive node, the baseline), `default` (keep 362,880
//! heights: over a run shorter than that it keeps everything, plus pruning's own index),
//! `custom` (keep 100, every 10 blocks) and `everything` (keep 2, every 10). It prints the
//! directory's size on disk (`du`-style, allocated blocks) and sled's own `size_on_disk`, per
//! block, and each as a ratio of the archive's. Every strategy must end on the same app hash.

#![allow(clippy::float_arithmetic)] // ratios are floating point by nature

use std::path::Path;
use std::time::Instant;

use anyhow::bail;
use cosmos_sdk_proto::cosmos::bank::v1beta1::MsgSend;
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::Any;
use openledger_app::app::{App, Pruning};
use openledger_app::client::{sign_tx, SignModeChoice, TxSpec};
use openledger_app::home::local_app_genesis;
use openledger_app::keys::AccountKey;
use openledger_auth::genesis::AccountJson;
use openledger_bank::genesis::{BalanceJson, CoinJson};
use openledger_core::storage::Storage;
use sha2::{Digest, Sha256};
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;

/// Funded accounts; each block has one send from each.
const SENDERS: usize = 20;
const GAS: u64 = 100_000;
const CHAIN_ID: &str = "openledger-bench-1";
const DENOM: &str = "uopen";
const FUNDS: u128 = 1_000_000_000_000;

/// Bytes allocated on disk under `dir` (what `du` counts).
fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

fn main() -> anyhow::Result<()> {
    let blocks: usize = std::env::var("OPENLEDGER_BENCH_BLOCKS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    println!("pruning_disk: {blocks} blocks of {SENDERS} signed MsgSend txs, one run per pruning strategy");
    let keys: Vec<AccountKey> = (0..SENDERS)
        .map(|i| AccountKey::from_secret(&Sha256::digest(format!("openledger-bench-sender-{i}").as_bytes()).into()))
        .collect::<anyhow::Result<_>>()?;
    let addresses: Vec<_> = keys.iter().map(AccountKey::address).collect();
    let mut genesis = local_app_genesis(&addresses[0]);
    for (i, address) in addresses.iter().enumerate().skip(1) {
        genesis.auth.accounts.push(AccountJson {
            address: address.to_bech32(),
            account_number: u64::try_from(i)?,
            sequence: 0,
            module_name: None,
            permissions: vec![],
        });
        genesis
            .bank
            .balances
            .push(BalanceJson { address: address.to_bech32(), coins: vec![CoinJson { denom: DENOM.into(), amount: FUNDS }] });
        genesis.bank.supply[0].amount += FUNDS;
    }
    let fee = vec![ProtoCoin { denom: DENOM.into(), amount: (u128::from(GAS) * 25).div_ceil(1000).to_string() }];
    let signing = Instant::now();
    let mut signed: Vec<Vec<Vec<u8>>> = Vec::with_capacity(blocks);
    for b in 0..blocks {
        let mut txs = Vec::with_capacity(SENDERS);
        for (i, key) in keys.iter().enumerate() {
            let msg = Any::from_msg(&MsgSend {
                from_address: addresses[i].to_bech32(),
                to_address: addresses[(i + 1) % SENDERS].to_bech32(),
                amount: vec![ProtoCoin { denom: DENOM.into(), amount: "1".into() }],
            })?;
            txs.push(sign_tx(&TxSpec {
                key,
                chain_id: CHAIN_ID,
                account_number: u64::try_from(i)?,
                sequence: u64::try_from(b)?,
                msgs: vec![msg],
                fee: fee.clone(),
                gas_limit: GAS,
                memo: String::new(),
                mode: SignModeChoice::Direct,
            })?);
        }
        signed.push(txs);
    }
    println!("signed {} txs in {:.1} s", blocks * SENDERS, signing.elapsed().as_secs_f64());

    let strategies: [(&str, Option<Pruning>); 4] = [
        ("nothing (archive)", None),
        ("default (keep 362880, every 10)", Pruning::from_strategy("default", 0, 0)?),
        ("custom (keep 100, every 10)", Pruning::from_strategy("custom", 100, 10)?),
        ("everything (keep 2, every 10)", Pruning::from_strategy("everything", 0, 0)?),
    ];
    let mut results = Vec::new();
    for (name, pruning) in strategies {
        let dir = tempfile::tempdir()?;
        let app = App::with_storage(Storage::open(dir.path())?);
        app.set_pruning(pruning);
        app.init_chain(&pb::RequestInitChain {
            chain_id: CHAIN_ID.into(),
            app_state_bytes: serde_json::to_vec(&genesis)?.into(),
            initial_height: 1,
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("init_chain: {}", e.log))?;
        let started = Instant::now();
        let mut app_hash = Vec::new();
        for (b, txs) in std::iter::once(Vec::new()).chain(signed.iter().cloned()).enumerate() {
            let height = i64::try_from(b)? + 1;
            let resp = app
                .finalize_block(&pb::RequestFinalizeBlock {
                    txs: txs.into_iter().map(Into::into).collect(),
                    height,
                    time: Some(Timestamp { seconds: 1_700_000_000 + height, nanos: 0 }),
                    ..Default::default()
                })
                .map_err(|e| anyhow::anyhow!("finalize_block: {}", e.log))?;
            if let Some(bad) = resp.tx_results.iter().find(|r| r.code != 0) {
                bail!("tx failed at height {height}: {}", bad.log);
            }
            app.commit().map_err(|e| anyhow::anyhow!("commit: {}", e.log))?;
            app_hash = resp.app_hash.to_vec();
            if height % 2_000 == 0 {
                println!("  {name}: {height}/{blocks} blocks ({}%)", height * 100 / i64::try_from(blocks)?.max(1));
            }
        }
        let sled_bytes = app.storage().size_on_disk()?;
        drop(app);
        let disk = allocated_bytes(dir.path());
        println!(
            "{name}: {disk} bytes on disk ({:.0} per block), sled size_on_disk {sled_bytes}, {:.1} s",
            disk as f64 / blocks as f64,
            started.elapsed().as_secs_f64()
        );
        results.push((name, disk, sled_bytes, app_hash));
    }
    let (_, base_disk, base_sled, base_hash) = results[0].clone();
    println!();
    println!("| strategy | bytes on disk per block | vs archive | sled size_on_disk per block | vs archive |");
    println!("|---|---|---|---|---|");
    for (name, disk, sled, hash) in &results {
        if *hash != base_hash {
            bail!("{name} ended on another app hash than the archive");
        }
        println!(
            "| {name} | {:.0} | {:.2}x | {:.0} | {:.2}x |",
            *disk as f64 / blocks as f64,
            *disk as f64 / base_disk as f64,
            *sled as f64 / blocks as f64,
            *sled as f64 / base_sled as f64
        );
    }
    Ok(())
}
