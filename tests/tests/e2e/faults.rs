//! Faults on a 4-validator localnet whose P2P links run through cuttable loopback proxies:
//! one validator partitioned from the other three (they hold 75 % of the power and keep
//! finalizing; it stalls), then healed (it catches up and signs again); then one validator
//! killed and restarted from an empty data directory, which block-syncs the chain from the
//! others to the same app hashes and signs again. (The byzantine executor fault is
//! `inference::verifiable_inference_on_a_four_validator_localnet`.)

use std::time::{Duration, Instant};

use openledger_tests::{Localnet, LocalnetOptions};

/// Waits until `validator` signs a commit at or above `from`, as node 0 sees it.
fn wait_for_signature(net: &Localnet, validator: &str, from: i64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut h = from;
    loop {
        let top = net.height(0);
        while h < top {
            if net.signed_commit(0, h, validator) {
                return;
            }
            h += 1;
        }
        assert!(Instant::now() < deadline, "{what}: no signature from {validator} since height {from}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_partitioned_validator_stalls_and_rejoins_and_a_wiped_one_block_syncs_back() {
    let mut net = Localnet::start(4, &LocalnetOptions { via_proxies: true, ..LocalnetOptions::default() });
    for i in 0..4 {
        net.wait_for_height(i, 3, Duration::from_secs(90));
    }
    let third = net.comet_address(3);

    // Partition validator 3: the other three keep finalizing; it cannot.
    net.partition(3, true);
    let at_cut = net.max_height();
    for i in 0..3 {
        net.wait_for_height(i, at_cut + 5, Duration::from_secs(90));
    }
    let isolated = net.height(3);
    assert!(isolated <= at_cut + 1, "the partitioned validator went on alone: {isolated} (cut at {at_cut})");
    // Blocks made without it lack its signature.
    let during = net.height(0);
    assert!(!net.signed_commit(0, during - 1, &third), "a commit during the partition carries the isolated validator's signature");

    // Heal: it catches up and signs again.
    net.partition(3, false);
    let healed = net.height(0);
    net.wait_for_height(3, healed, Duration::from_secs(90));
    wait_for_signature(&net, &third, healed, "after healing");

    // Validator 2 loses its whole data directory: restarted, it block-syncs from genesis to the
    // others' height (CometBFT checks every app hash as it replays) and signs again.
    let second = net.comet_address(2);
    net.wipe_node_data(2);
    let at_wipe = net.height(0);
    net.restart_node(2);
    net.wait_for_height(2, at_wipe + 2, Duration::from_secs(120));
    let status = net.node(2).rpc().status().expect("status");
    assert_eq!(status["sync_info"]["earliest_block_height"], "1", "it replayed the chain from its first block");
    let h = at_wipe + 1;
    let hash_at = |i: usize| {
        net.node(i).rpc().call("block", serde_json::json!({"height": h.to_string()})).expect("block")["block"]["header"]["app_hash"].clone()
    };
    assert_eq!(hash_at(2), hash_at(0));
    wait_for_signature(&net, &second, at_wipe + 2, "after the wipe");
}
