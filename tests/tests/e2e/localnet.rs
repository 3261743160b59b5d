//! A 4-validator network on loopback (`openledgerd testnet` + the `Localnet` harness): every
//! node finalizes blocks with four equal validators, a bank send from node0's dev account is
//! seen by every node, the chain keeps finalizing with one validator killed (3 of 4 = 75 % of
//! the power), and the killed validator catches up and signs again after a restart.

use std::time::Duration;

use openledger_tests::{json, wait_until, Localnet, LocalnetOptions};

fn balance(net: &Localnet, i: usize, address: &str) -> u128 {
    let out = json(&net.cli(i, &["query", "bank", "balances", address, "--denom", "uopen", "--node", &net.rpc_url(i)]));
    out["balance"]["amount"].as_str().unwrap_or("0").parse().expect("amount")
}

#[test]
fn four_validators_finalize_transfer_survive_a_crash_and_rejoin() {
    let mut net = Localnet::start(4, &LocalnetOptions::default());
    for i in 0..4 {
        net.wait_for_height(i, 5, Duration::from_secs(90));
    }

    // Four validators of equal power, the keys of the four homes, on every node.
    let mut expected: Vec<String> = net.nodes.iter().map(|n| n.info.consensus_pubkey.clone()).collect();
    expected.sort();
    for i in 0..4 {
        let r = net.node(i).rpc().call("validators", serde_json::json!({})).expect("validators");
        let vals = r["validators"].as_array().cloned().unwrap_or_default();
        let mut keys: Vec<String> = vals.iter().map(|v| v["pub_key"]["value"].as_str().unwrap_or_default().to_string()).collect();
        keys.sort();
        assert_eq!(keys, expected, "node {i} validator set");
        let powers: Vec<i64> = vals.iter().map(|v| v["voting_power"].as_str().unwrap_or("0").parse().unwrap_or(0)).collect();
        assert!(powers[0] > 0 && powers.iter().all(|p| *p == powers[0]), "unequal powers on node {i}: {powers:?}");
        let staking = json(&net.cli(i, &["query", "staking", "validators", "--node", &net.rpc_url(i)]));
        assert_eq!(staking["validators"].as_array().map(Vec::len), Some(4), "staking validators on node {i}: {staking}");
    }

    // A send from node0's dev account is final on every node.
    let to = net.account(3).to_string();
    let before = balance(&net, 0, &to);
    let sent = json(&net.cli(0, &["tx", "bank", "send", "dev", &to, "1234567uopen", "--node", &net.rpc_url(0)]));
    assert_eq!(sent["code"], 0, "{sent}");
    for i in 0..4 {
        wait_until(&format!("node {i} to see the transfer"), Duration::from_secs(30), || balance(&net, i, &to) == before + 1_234_567);
    }

    // Kill validator 3: the others (75 % of the power) keep finalizing.
    net.kill_node(3);
    assert_eq!(net.height(3), 0, "node 3's RPC still answers after the kill");
    let at_kill = net.height(0);
    for i in 0..3 {
        net.wait_for_height(i, at_kill + 4, Duration::from_secs(60));
    }
    let node3 = net.comet_address(3);
    let missing = (at_kill + 2..=at_kill + 4).all(|h| !net.signed_commit(0, h, &node3));
    assert!(missing, "node 3 signed a commit while it was down");

    // Restart it: it catches up to the others and signs commits again.
    net.restart_node(3);
    let target = net.height(0);
    net.wait_for_height(3, target, Duration::from_secs(90));
    let rejoined = net.height(0);
    wait_until("node 3 to sign a commit again", Duration::from_secs(60), || {
        let h = net.height(0);
        (rejoined..h).any(|height| net.signed_commit(0, height, &node3))
    });
    assert!(balance(&net, 3, &to) == before + 1_234_567, "node 3 lost the transfer after its restart");
}
