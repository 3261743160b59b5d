//! Crash safety: a single-validator node under a steady load of signed sends is SIGKILLed
//! (openledgerd and CometBFT together, as a power cut) at pseudo-random points of its block
//! pipeline (FinalizeBlock, Commit and its sled flush, the mempool), restarted, and must each time
//! come back with the app hash CometBFT expects (CometBFT refuses to go on otherwise), keep every
//! tx it had committed, and go on finalizing. At the end the app's state and CometBFT's block
//! store agree exactly: the recipient holds one uopen per committed send.
//!
//! `OPENLEDGER_CRASH_CYCLES` (default 10; `make crashloop CYCLES=100`) sets the cycles; the
//! kill points come from a fixed seed (`OPENLEDGER_CRASH_SEED`, printed) so a failure replays.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cosmos_sdk_proto::cosmos::bank::v1beta1::MsgSend;
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin;
use cosmos_sdk_proto::Any;
use openledger_app::client::{sign_tx, SignModeChoice, TxSpec};
use openledger_app::keys::AccountKey;
use openledger_tests::{Node, NodeOptions};

/// A fresh recipient: its balance counts the committed sends.
const RECIPIENT_SECRET: [u8; 32] = [42; 32];

pub(crate) fn rest_json(rest: &str, path: &str) -> Option<serde_json::Value> {
    let resp = ureq::get(&format!("{rest}{path}")).timeout(Duration::from_secs(5)).call().ok()?;
    resp.into_json().ok()
}

/// (account number, sequence) of `address` as the app has committed it.
fn account(rest: &str, address: &str) -> Option<(u64, u64)> {
    let v = rest_json(rest, &format!("/cosmos/auth/v1beta1/accounts/{address}"))?;
    let num = |k: &str| v["account"][k].as_str().and_then(|s| s.parse().ok());
    Some((num("account_number")?, num("sequence").unwrap_or(0)))
}

fn balance(node: &Node, address: &str) -> Option<u128> {
    let v = rest_json(&node.rest_url(), &format!("/cosmos/bank/v1beta1/balances/{address}/by_denom?denom=uopen"))?;
    v["balance"]["amount"].as_str()?.parse().ok()
}

/// Whether CometBFT holds `hash` as a committed tx with code 0.
fn committed_ok(node: &Node, hash: &str) -> bool {
    // JSON-RPC takes the hash as base64 bytes.
    let Ok(bytes) = hex::decode(hash) else { return false };
    let hash = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    node.rpc().call("tx", serde_json::json!({"hash": hash, "prove": false})).is_ok_and(|r| r["tx_result"]["code"].as_u64() == Some(0))
}

/// Signs and broadcasts sends of 1 uopen from `key` while `running`; records the hash of each tx
/// the mempool accepted. Down nodes and dropped mempools are expected: it re-reads its sequence.
fn load(node: NodeUrls, key: AccountKey, chain_id: String, to: String, running: Arc<AtomicBool>, sent: Arc<Mutex<Vec<String>>>) {
    let from = key.address().to_bech32();
    let mut next: Option<(u64, u64)> = None;
    while running.load(Ordering::Acquire) {
        let Some((number, sequence)) = next.or_else(|| account(&node.rest, &from)) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let msg = MsgSend {
            from_address: from.clone(),
            to_address: to.clone(),
            amount: vec![Coin { denom: "uopen".into(), amount: "1".into() }],
        };
        let tx = sign_tx(&TxSpec {
            key: &key,
            chain_id: &chain_id,
            account_number: number,
            sequence,
            msgs: vec![Any::from_msg(&msg).expect("encode")],
            fee: vec![Coin { denom: "uopen".into(), amount: "5000".into() }],
            gas_limit: 200_000,
            memo: String::new(),
            mode: SignModeChoice::Direct,
        })
        .expect("sign");
        match node.rpc().broadcast_tx_sync(&tx) {
            Ok(r) if r.code == 0 => {
                sent.lock().expect("lock").push(r.hash);
                next = Some((number, sequence + 1));
            }
            // Wrong sequence after a crash emptied the mempool, or the node is down: start over
            // from what the app committed.
            _ => {
                next = None;
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// The load thread's view of the node: URLs only (the test thread owns the processes).
struct NodeUrls {
    rpc: String,
    rest: String,
}

impl NodeUrls {
    fn rpc(&self) -> openledger_app::rpc_client::CometRpc {
        openledger_app::rpc_client::CometRpc::new(&self.rpc)
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn sigkill_under_load_loses_no_committed_tx_and_never_forks() {
    let cycles: usize = std::env::var("OPENLEDGER_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let seed: u64 = std::env::var("OPENLEDGER_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x0C0F_FEE5);
    println!("[crashloop] {cycles} cycles, seed {seed} (OPENLEDGER_CRASH_SEED to replay)");
    let mut node = Node::start_with(&NodeOptions { timeout_commit: "200ms".into(), ..NodeOptions::default() });
    let chain_id = node.rpc().status().expect("status")["node_info"]["network"].as_str().expect("chain id").to_string();
    let key = AccountKey::from_mnemonic(&node.dev_mnemonic).expect("dev key");
    let recipient = AccountKey::from_secret(&RECIPIENT_SECRET).expect("key").address().to_bech32();
    let running = Arc::new(AtomicBool::new(true));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let loader = {
        let urls = NodeUrls { rpc: node.rpc_url(), rest: node.rest_url() };
        let (running, sent, recipient, chain_id) = (running.clone(), sent.clone(), recipient.clone(), chain_id.clone());
        std::thread::spawn(move || load(urls, key, chain_id, recipient, running, sent))
    };

    let mut rng = seed;
    // A set: after a crash the load may broadcast again a tx the lost mempool held (same bytes,
    // same hash), which is then committed once.
    let mut must_survive: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for cycle in 0..cycles {
        // Let the load run into the block pipeline, then cut the power at a pseudo-random point
        // of it (0-1.5 blocks' worth of time: FinalizeBlock, Commit, the flush or in between).
        let start = node.height();
        node.wait_for_height(start + 2, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(splitmix(&mut rng) % 300));
        // What CometBFT already reports committed must survive the crash.
        let hashes: Vec<String> = sent.lock().expect("lock").clone();
        let newly: Vec<String> = hashes.into_iter().filter(|h| !must_survive.contains(h) && committed_ok(&node, h)).collect();
        must_survive.extend(newly);
        let before = node.height();
        node.kill_app();
        node.kill_comet();
        node.start_app();
        node.start_comet();
        // Back, with the app hash CometBFT expects (it halts on a mismatch), and finalizing.
        node.wait_for_height(before + 2, Duration::from_secs(90));
        let lost: Vec<&String> = must_survive.iter().filter(|h| !committed_ok(&node, h)).collect();
        assert!(lost.is_empty(), "cycle {cycle} (seed {seed}): committed txs lost after the crash: {lost:?}");
        println!(
            "[crashloop] cycle {}/{cycles}: killed at height {before}, back and finalizing; {} committed sends kept",
            cycle + 1,
            must_survive.len()
        );
    }
    running.store(false, Ordering::Release);
    loader.join().expect("load thread");

    // The app's state and CometBFT's blocks agree: one uopen per committed send, none twice.
    let height = node.height();
    node.wait_for_height(height + 2, Duration::from_secs(60));
    // Every block's results as CometBFT stored them (the tx index may miss the last blocks
    // before a crash; the block results do not): the load's sends are the only txs.
    let last = node.height();
    let mut total = 0u64;
    for h in 1..=last {
        let r = node.rpc().call("block_results", serde_json::json!({"height": h.to_string()})).expect("block_results");
        total += r["txs_results"].as_array().map_or(0, |txs| txs.iter().filter(|t| t["code"].as_u64().unwrap_or(0) == 0).count() as u64);
    }
    let held = balance(&node, &recipient).unwrap_or(0);
    let indexed = node.rpc().tx_search(&format!("transfer.recipient='{recipient}'"), 1, 1, false).map(|(_, n)| n).unwrap_or(0);
    println!("[crashloop] height {last}: {total} sends in the block results, {indexed} in the tx index, {} seen committed before a crash, the recipient holds {held}", must_survive.len());
    assert_eq!(held, u128::from(total), "recipient holds {held} uopen but the blocks committed {total} sends to it");
    assert!(total as usize >= must_survive.len() && !must_survive.is_empty(), "no load was committed: {total}");
    assert!(!node.comet_log().contains("wrong Block.Header.AppHash"), "app hash mismatch in the CometBFT log");
    println!("[crashloop] {cycles} cycles survived; {total} sends committed, the recipient holds {held} uopen");
}
