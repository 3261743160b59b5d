//! State sync: validators of a 4-node localnet write snapshots every 5 blocks; a new node joins
//! with CometBFT's state sync (light-client verified against two validators' RPC), restores the
//! newest snapshot through the ABCI snapshot connection instead of replaying the chain, then
//! follows the chain with the same app hashes (CometBFT halts a node whose app hash differs) and
//! answers queries about state written before it joined. A second new node joins the same chain
//! by block sync, for the time comparison printed at the end (recorded in BENCHMARKS.md).
//! `OPENLEDGER_STATESYNC_JOIN_AT=N` lets the chain grow to height N before anyone joins (the
//! long-chain comparison; `make test` joins as soon as the snapshots exist).

use std::time::{Duration, Instant};

use openledger_tests::{json, wait_until, Localnet, LocalnetOptions, Node};

/// Heights of the complete snapshots in a node home.
fn snapshot_heights(node: &Node) -> Vec<u64> {
    std::fs::read_dir(node.home().join("data/snapshots"))
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

fn balance(node: &Node, address: &str) -> u128 {
    let out = json(&node.cli(&["query", "bank", "balances", address, "--denom", "uopen", "--node", &node.rpc_url()]));
    out["balance"]["amount"].as_str().unwrap_or("0").parse().expect("amount")
}

/// Starts `node` and returns how long it took to reach `height`.
fn time_to_height(node: &mut Node, height: i64) -> Duration {
    let started = Instant::now();
    node.start_app();
    node.start_comet();
    node.wait_for_height(height, Duration::from_secs(180));
    started.elapsed()
}

#[test]
fn a_new_node_joins_a_running_localnet_by_state_sync_and_follows_it() {
    let opts = LocalnetOptions {
        app_args: (0..4).map(|i| (i, vec!["--snapshot-interval".to_string(), "5".to_string()])).collect(),
        ..LocalnetOptions::default()
    };
    let net = Localnet::start(4, &opts);

    // State written before anyone joins: a send to a fresh address.
    let recipient = net.account(3).to_string();
    let recipient = recipient.as_str();
    let before = balance(net.node(0), recipient);
    let sent = json(&net.cli(0, &["tx", "bank", "send", "dev", recipient, "777uopen", "--node", &net.rpc_url(0)]));
    assert_eq!(sent["code"], 0, "{sent}");
    wait_until("the send to be committed", Duration::from_secs(60), || balance(net.node(0), recipient) == before + 777);
    let sent_at = net.height(0);

    // Snapshots after the send on the two validators the new node will ask.
    wait_until("snapshots after the send on validators 0 and 1", Duration::from_secs(120), || {
        [0, 1].iter().all(|&i| snapshot_heights(net.node(i)).iter().any(|h| i64::try_from(*h).unwrap_or(0) > sent_at))
    });
    if let Some(join_at) = std::env::var("OPENLEDGER_STATESYNC_JOIN_AT").ok().and_then(|v| v.parse::<i64>().ok()) {
        // 500 ms blocks: allow a second per block and a minute more.
        let timeout = Duration::from_secs(u64::try_from(join_at).unwrap_or(0).saturating_add(60));
        net.wait_for_height(0, join_at, timeout);
        wait_until("a snapshot at the join height", Duration::from_secs(60), || {
            snapshot_heights(net.node(1)).iter().any(|h| i64::try_from(*h).unwrap_or(0) >= join_at)
        });
    }
    let snapshot = snapshot_heights(net.node(0)).into_iter().max().expect("a snapshot");

    // Trust the block at height 2, as an operator would take a recent hash from a trusted RPC.
    let block = net.node(0).rpc().call("block", serde_json::json!({"height": "2"})).expect("block 2");
    let trust_hash = block["block_id"]["hash"].as_str().expect("block hash").to_string();
    let mut joiner = Node::prepare_join(net.node(0), &opts.chain);
    joiner.enable_state_sync(&[net.rpc_url(0), net.rpc_url(1)], 2, &trust_hash);
    let target = net.height(0) + 3;
    let state_sync_time = time_to_height(&mut joiner, target);

    // It restored a snapshot (verified against the light client's app hash) and never ran the
    // blocks before it: its block store starts after height 1 and its app log says so.
    let app_log = std::fs::read_to_string(joiner.home().join("app.log")).unwrap_or_default();
    assert!(app_log.contains("state sync: snapshot restored and verified"), "app log:\n{app_log}");
    let status = joiner.rpc().status().expect("status");
    let earliest: i64 = status["sync_info"]["earliest_block_height"].as_str().unwrap_or("0").parse().unwrap_or(0);
    assert!(earliest > 1, "the joiner's block store starts at {earliest}: it block-synced from genesis");
    // Its state starts from a snapshot taken after the send.
    assert!(earliest > sent_at, "the joiner's block store starts at {earliest}, before the send at {sent_at}");

    // It follows the chain: blocks after the snapshot execute to the network's app hashes
    // (CometBFT stops a node whose app hash differs), and the state from before it joined is
    // there.
    joiner.wait_for_height(target + 3, Duration::from_secs(60));
    assert_eq!(balance(&joiner, recipient), before + 777);
    let h = target + 2;
    let header = |node: &Node| {
        node.rpc().call("block", serde_json::json!({"height": h.to_string()})).expect("block")["block"]["header"]["app_hash"].clone()
    };
    assert_eq!(header(&joiner), header(net.node(0)));
    let info = joiner.rpc().call("abci_info", serde_json::json!({})).expect("abci_info");
    assert!(info["response"]["last_block_height"].as_str().unwrap_or("0").parse::<i64>().unwrap_or(0) >= target + 3);

    // For comparison: a node joining the same chain by block sync (replaying every block).
    let mut replayer = Node::prepare_join(net.node(0), &opts.chain);
    let block_sync_time = time_to_height(&mut replayer, target);
    let replay_log = std::fs::read_to_string(replayer.home().join("app.log")).unwrap_or_default();
    assert!(!replay_log.contains("snapshot restored"), "the block-sync node restored a snapshot");
    println!(
        "[statesync] joined at height {target} (block store from {earliest}; newest snapshot when it started: {snapshot}): state sync {:.1} s, block sync {:.1} s ({:.2}x)",
        state_sync_time.as_secs_f64(),
        block_sync_time.as_secs_f64(),
        block_sync_time.as_secs_f64() / state_sync_time.as_secs_f64().max(f64::EPSILON)
    );
}
