//! Crash safety: a single-validator node under a steady load of signed sends (and, from a second
//! account, datanet versions published one after another, so end blocks build attribution
//! indexes) dies once per cycle, openledgerd and CometBFT together as a power cut, is restarted,
//! and must each time come back with the app hash CometBFT expects (CometBFT refuses to go on
//! otherwise), keep every tx it had committed, and go on finalizing. At the end the app's state
//! and CometBFT's block store agree exactly: the recipient holds one uopen per committed send.
//!
//! Each cycle's crash is, by the seed, either a SIGKILL after a pseudo-random 0-300 ms (anywhere
//! in FinalizeBlock, Commit, the mempool), or a named crash point of the write path
//! (`openledger_core::crash`: inside Commit between the JMT write and sled's flush, after the
//! flush, before Commit's response, between pruning's writes, during an attribution index build,
//! while a snapshot is written): openledgerd runs that cycle with `OPENLEDGER_CRASH_AT=<point>:<n>`
//! and aborts itself at the point's n-th hit. A point the cycle does not reach within a bounded
//! number of blocks falls back to a SIGKILL. The node prunes and writes snapshots every few blocks
//! so that those points are on its path.
//!
//! `OPENLEDGER_CRASH_CYCLES` (default 10; `make crashloop CYCLES=100`) sets the cycles; the
//! crashes come from a fixed seed (`OPENLEDGER_CRASH_SEED`, printed) so a failure replays.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cosmos_sdk_proto::cosmos::bank::v1beta1::MsgSend;
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin;
use cosmos_sdk_proto::Any;
use openledger_app::client::{sign_tx, SignModeChoice, TxSpec};
use openledger_app::keys::AccountKey;
use openledger_core::crash;
use openledger_datanet::msg as dmsg;
use openledger_proto::openledger::datanet::v1 as dpb;
use openledger_tests::{Node, NodeOptions};
use prost::Message;

/// A fresh recipient: its balance counts the committed sends.
const RECIPIENT_SECRET: [u8; 32] = [42; 32];
/// The datanet publisher's account (funded by the dev account at the start).
const PUBLISHER_SECRET: [u8; 32] = [43; 32];
/// `openledgerd start` flags: prune every 5 blocks and write a snapshot every 5, so that the
/// pruning and snapshot crash points are reached.
const APP_ARGS: &[&str] = &["--pruning", "custom", "--pruning-keep-recent", "10", "--pruning-interval", "5", "--snapshot-interval", "5"];
/// Blocks a named-point cycle waits for its point before it falls back to a SIGKILL.
const POINT_BLOCKS: i64 = 20;

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

fn send(from: &str, to: &str, amount: u128) -> Any {
    let msg = MsgSend {
        from_address: from.to_string(),
        to_address: to.to_string(),
        amount: vec![Coin { denom: "uopen".into(), amount: amount.to_string() }],
    };
    Any::from_msg(&msg).expect("encode")
}

/// A direct-mode tx from `key` at `(account number, sequence)`, paying the minimum fee for `gas`.
fn sign(key: &AccountKey, chain_id: &str, (account_number, sequence): (u64, u64), msgs: Vec<Any>, gas: u64) -> Vec<u8> {
    sign_tx(&TxSpec {
        key,
        chain_id,
        account_number,
        sequence,
        msgs,
        fee: vec![Coin { denom: "uopen".into(), amount: (gas / 40).to_string() }],
        gas_limit: gas,
        memo: String::new(),
        mode: SignModeChoice::Direct,
    })
    .expect("sign")
}

fn any(type_url: &str, msg: impl Message) -> Any {
    Any { type_url: type_url.into(), value: msg.encode_to_vec() }
}

/// Datanets the app has committed (their ids run from 1).
fn datanet_count(rest: &str) -> Option<u64> {
    let v = rest_json(rest, "/openledger/datanet/v1/datanets?pagination.limit=1&pagination.count_total=true")?;
    v["pagination"]["total"].as_str().and_then(|t| t.parse().ok()).or_else(|| v["pagination"]["total"].as_u64())
}

/// Publishes datanet versions from `key` while `running`, one tx at a time: each creates a fresh
/// datanet, contributes a row, accepts it and publishes the version, so the block's end builds
/// its attribution index. The new datanet's id is predicted from the committed count; a wrong
/// guess (a crash between two reads) fails the tx whole, which is harmless. Counts the txs the
/// mempool accepted.
fn publish_versions(node: NodeUrls, key: AccountKey, chain_id: String, running: Arc<AtomicBool>, accepted: Arc<AtomicU64>) {
    let owner = key.address().to_bech32();
    while running.load(Ordering::Acquire) {
        let (Some(account_seq), Some(count)) = (account(&node.rest, &owner), datanet_count(&node.rest)) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let id = count + 1;
        let msgs = vec![
            any(
                dmsg::MSG_CREATE_DATANET,
                dpb::MsgCreateDatanet {
                    owner: owner.clone(),
                    name: format!("crash loop {id}"),
                    description: String::new(),
                    license: String::new(),
                    schema: Some(dpb::RowSchema { kind: dpb::SchemaKind::Text as i32, required_fields: vec![] }),
                    policy: Some(dpb::CurationPolicy {
                        mode: dpb::CurationMode::OwnerReview as i32,
                        curators: vec![],
                        contribution_bond: None,
                        reject_burn_bps: 0,
                        max_row_bytes: 4096,
                    }),
                },
            ),
            any(
                dmsg::MSG_SUBMIT_CONTRIBUTION,
                dpb::MsgSubmitContribution {
                    contributor: owner.clone(),
                    datanet_id: id,
                    rows: vec![format!("row of datanet {id}: the quick brown fox jumps over the lazy dog").into_bytes()],
                    bond: None,
                },
            ),
            any(
                dmsg::MSG_REVIEW_CONTRIBUTION,
                dpb::MsgReviewContribution {
                    reviewer: owner.clone(),
                    datanet_id: id,
                    contribution_id: 1,
                    accept: true,
                    reason: String::new(),
                },
            ),
            any(dmsg::MSG_PUBLISH_VERSION, dpb::MsgPublishVersion { owner: owner.clone(), datanet_id: id }),
        ];
        let tx = sign(&key, &chain_id, account_seq, msgs, 2_000_000);
        if !matches!(node.rpc().broadcast_tx_sync(&tx), Ok(r) if r.code == 0) {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        accepted.fetch_add(1, Ordering::Relaxed);
        // One at a time: wait (briefly; a crash may have dropped it) until it is committed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while running.load(Ordering::Acquire)
            && Instant::now() < deadline
            && account(&node.rest, &owner).is_none_or(|(_, sequence)| sequence <= account_seq.1)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
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
        let tx = sign(&key, &chain_id, (number, sequence), vec![send(&from, &to, 1)], 200_000);
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

/// How one cycle's crash comes.
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// SIGKILL after this many milliseconds.
    Timed(u64),
    /// openledgerd aborts itself at this crash point's n-th hit.
    At(&'static str, u64),
}

impl Crash {
    /// Half the cycles timed kills, half a crash point (each equally likely) at its 1st to 3rd hit.
    fn pick(rng: &mut u64) -> Self {
        if splitmix(rng).is_multiple_of(2) {
            Crash::Timed(splitmix(rng) % 300)
        } else {
            let point = crash::POINTS[usize::try_from(splitmix(rng) % crash::POINTS.len() as u64).expect("index")];
            Crash::At(point, 1 + splitmix(rng) % 3)
        }
    }
}

/// Power cut and restart: SIGKILLs openledgerd and CometBFT, then starts them again, openledgerd
/// armed to abort at `armed` (`(point, hit)`) if given.
fn power_cycle(node: &mut Node, armed: Option<(&str, u64)>) {
    node.kill_app();
    node.kill_comet();
    match armed {
        Some((point, hit)) => node.start_app_with_env(APP_ARGS, &[(crash::ENV, &format!("{point}:{hit}"))]),
        None => node.start_app_with(APP_ARGS),
    }
    start_comet_past_a_stale_lock(node);
}

/// Starts CometBFT and waits until its RPC answers or it exits. Once in about a hundred
/// restarts here, a CometBFT started right after its SIGKILLed (and reaped) predecessor exited
/// at once with "failed to initialize database: resource temporarily unavailable" (goleveldb's
/// lock on its block store); it is then started again. Any other exit is left to the caller
/// (an armed openledgerd may die during CometBFT's handshake).
fn start_comet_past_a_stale_lock(node: &mut Node) {
    for attempt in 1..=5u64 {
        node.start_comet();
        let deadline = Instant::now() + Duration::from_secs(60);
        while node.comet_alive() {
            if node.rpc().status().is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "CometBFT neither served RPC nor exited");
            std::thread::sleep(Duration::from_millis(50));
        }
        if !openledger_tests::tail(&node.comet_log(), 3).contains("resource temporarily unavailable") {
            return;
        }
        println!("[crashloop] CometBFT found its database locked at start (attempt {attempt}); starting it again");
        std::thread::sleep(Duration::from_millis(200 * attempt));
    }
    panic!("CometBFT found its database locked five times:\n{}", openledger_tests::tail(&node.comet_log(), 20));
}

/// Counts the successful sends of 1 uopen to `recipient` in block `height`'s results, and the
/// attribution indexes its end built.
fn block_counts(node: &Node, height: i64, recipient: &str) -> (u64, u64) {
    let r = node.rpc().call("block_results", serde_json::json!({"height": height.to_string()})).expect("block_results");
    let pays_recipient = |events: &serde_json::Value| {
        events.as_array().is_some_and(|events| {
            events.iter().any(|e| {
                let attr = |k: &str| e["attributes"].as_array().and_then(|a| a.iter().find(|x| x["key"] == k)).map(|x| x["value"].clone());
                e["type"] == "transfer"
                    && attr("recipient").is_some_and(|v| v == recipient)
                    && attr("amount").is_some_and(|v| v == "1uopen")
            })
        })
    };
    let sends = r["txs_results"]
        .as_array()
        .map_or(0, |txs| txs.iter().filter(|t| t["code"].as_u64().unwrap_or(0) == 0 && pays_recipient(&t["events"])).count());
    let indexed =
        r["finalize_block_events"].as_array().map_or(0, |events| events.iter().filter(|e| e["type"] == "version_indexed").count());
    (sends as u64, indexed as u64)
}

#[test]
fn sigkill_under_load_loses_no_committed_tx_and_never_forks() {
    let cycles: usize = std::env::var("OPENLEDGER_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let seed: u64 = std::env::var("OPENLEDGER_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x0C0F_FEE5);
    println!("[crashloop] {cycles} cycles, seed {seed} (OPENLEDGER_CRASH_SEED to replay)");
    let mut node = Node::start_with(&NodeOptions {
        timeout_commit: "200ms".into(),
        app_args: APP_ARGS.iter().map(|a| a.to_string()).collect(),
        ..NodeOptions::default()
    });
    let chain_id = node.rpc().status().expect("status")["node_info"]["network"].as_str().expect("chain id").to_string();
    let key = AccountKey::from_mnemonic(&node.dev_mnemonic).expect("dev key");
    let recipient = AccountKey::from_secret(&RECIPIENT_SECRET).expect("key").address().to_bech32();
    let publisher = AccountKey::from_secret(&PUBLISHER_SECRET).expect("key");

    // Fund the publisher before the load takes over the dev account's sequence.
    let dev = key.address().to_bech32();
    let funding = sign(
        &key,
        &chain_id,
        account(&node.rest_url(), &dev).expect("dev account"),
        vec![send(&dev, &publisher.address().to_bech32(), 10_000_000_000)],
        200_000,
    );
    assert_eq!(node.rpc().broadcast_tx_sync(&funding).expect("broadcast").code, 0);
    openledger_tests::wait_until("the publisher's funds", Duration::from_secs(60), || {
        account(&node.rest_url(), &publisher.address().to_bech32()).is_some()
    });

    let running = Arc::new(AtomicBool::new(true));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let publishes = Arc::new(AtomicU64::new(0));
    let urls = || NodeUrls { rpc: node.rpc_url(), rest: node.rest_url() };
    let loader = {
        let (urls, running, sent, recipient, chain_id) = (urls(), running.clone(), sent.clone(), recipient.clone(), chain_id.clone());
        std::thread::spawn(move || load(urls, key, chain_id, recipient, running, sent))
    };
    let publisher_thread = {
        let (urls, running, publishes, chain_id) = (urls(), running.clone(), publishes.clone(), chain_id.clone());
        std::thread::spawn(move || publish_versions(urls, publisher, chain_id, running, publishes))
    };

    let mut rng = seed;
    // A set: after a crash the load may broadcast again a tx the lost mempool held (same bytes,
    // same hash), which is then committed once.
    let mut must_survive: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    // What CometBFT already reports committed must survive the crash.
    let record_committed = |node: &Node, must_survive: &mut std::collections::BTreeSet<String>| {
        let hashes: Vec<String> = sent.lock().expect("lock").clone();
        let newly: Vec<String> = hashes.into_iter().filter(|h| !must_survive.contains(h) && committed_ok(node, h)).collect();
        must_survive.extend(newly);
    };
    // Per crash point: (cycles that died there, cycles that fell back to a SIGKILL).
    let mut points: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    // The height last seen committed (and checked after a restart).
    let mut verified = node.height();
    for cycle in 0..cycles {
        let (before, how) = match Crash::pick(&mut rng) {
            Crash::Timed(ms) => {
                // Let the load run into the block pipeline, then cut the power at a pseudo-random
                // point (0-1.5 blocks' worth of time: FinalizeBlock, Commit, the flush or between).
                node.wait_for_height(verified + 2, Duration::from_secs(60));
                std::thread::sleep(Duration::from_millis(ms));
                record_committed(&node, &mut must_survive);
                let before = node.height();
                power_cycle(&mut node, None);
                (before, format!("SIGKILL after {ms} ms"))
            }
            Crash::At(point, hit) => {
                // Restarted armed (a power cut at an arbitrary moment first), it dies at the
                // point, or, if it does not reach it within POINT_BLOCKS blocks, is killed then.
                record_committed(&node, &mut must_survive);
                power_cycle(&mut node, Some((point, hit)));
                let deadline = Instant::now() + Duration::from_secs(120);
                let (mut seen, mut first) = (verified, None);
                while node.app_alive() {
                    let h = node.height();
                    if h > seen {
                        seen = h;
                        record_committed(&node, &mut must_survive);
                    }
                    if h > 0 && seen >= *first.get_or_insert(h) + POINT_BLOCKS {
                        break;
                    }
                    assert!(Instant::now() < deadline, "cycle {cycle}: neither died at {point} nor finalized {POINT_BLOCKS} blocks");
                    std::thread::sleep(Duration::from_millis(20));
                }
                let died = !node.app_alive();
                let entry = points.entry(point).or_default();
                let how = if died {
                    let log = node.app_log();
                    assert!(
                        log.contains(&format!("crash point {point} reached (hit {hit})")),
                        "cycle {cycle}: openledgerd died elsewhere than at {point}:\n{}",
                        openledger_tests::tail(&log, 30)
                    );
                    entry.0 += 1;
                    format!("died at crash point {point}, hit {hit}")
                } else {
                    entry.1 += 1;
                    format!("{point} not reached in {POINT_BLOCKS} blocks: SIGKILL")
                };
                power_cycle(&mut node, None);
                (seen, how)
            }
        };
        // Back, with the app hash CometBFT expects (it halts on a mismatch), and finalizing.
        node.wait_for_height(before + 2, Duration::from_secs(90));
        verified = node.height();
        let lost: Vec<&String> = must_survive.iter().filter(|h| !committed_ok(&node, h)).collect();
        assert!(lost.is_empty(), "cycle {cycle} (seed {seed}): committed txs lost after the crash: {lost:?}");
        println!(
            "[crashloop] cycle {}/{cycles}: {how} at height {before}; back and finalizing; {} committed sends kept",
            cycle + 1,
            must_survive.len()
        );
    }
    running.store(false, Ordering::Release);
    loader.join().expect("load thread");
    publisher_thread.join().expect("publisher thread");

    // The app's state and CometBFT's blocks agree: one uopen per committed send, none twice.
    let height = node.height();
    node.wait_for_height(height + 2, Duration::from_secs(90));
    // Every block's results as CometBFT stored them (the tx index may miss the last blocks
    // before a crash; the block results do not).
    let last = node.height();
    let (mut total, mut indexed_versions) = (0u64, 0u64);
    for h in 1..=last {
        let (sends, indexed) = block_counts(&node, h, &recipient);
        total += sends;
        indexed_versions += indexed;
    }
    let held = balance(&node, &recipient).unwrap_or(0);
    let indexed = node.rpc().tx_search(&format!("transfer.recipient='{recipient}'"), 1, 1, false).map(|(_, n)| n).unwrap_or(0);
    println!("[crashloop] height {last}: {total} sends in the block results, {indexed} in the tx index, {} seen committed before a crash, the recipient holds {held}", must_survive.len());
    println!("[crashloop] {} publish txs accepted, {indexed_versions} attribution indexes built", publishes.load(Ordering::Relaxed));
    for (point, (died, fell_back)) in &points {
        println!("[crashloop] crash point {point}: died there {died}x, not reached {fell_back}x");
    }
    assert_eq!(held, u128::from(total), "recipient holds {held} uopen but the blocks committed {total} sends to it");
    assert!(total as usize >= must_survive.len() && !must_survive.is_empty(), "no load was committed: {total}");
    assert!(indexed_versions > 0, "no datanet version was indexed: the index-build crash point was never on the path");
    assert!(!node.comet_log().contains("wrong Block.Header.AppHash"), "app hash mismatch in the CometBFT log");
    println!("[crashloop] {cycles} cycles survived; {total} sends committed, the recipient holds {held} uopen");
}
