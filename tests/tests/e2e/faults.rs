//! Faults on a 4-validator localnet whose P2P links run through cuttable loopback proxies:
//! one validator partitioned from the other three (they hold 75 % of the power and keep
//! finalizing; it stalls), then healed (it catches up and signs again); then one validator
//! killed and restarted from an empty data directory, which block-syncs the chain from the
//! others to the same app hashes and signs again. A second localnet runs one validator's
//! CometBFT with its wall clock 5 minutes ahead, then 30 seconds behind (the `cometbft-skew`
//! binary, `make cometbft-skew`): BFT time (the weighted median of the precommit timestamps) keeps
//! every block time among the honest validators' timestamps, and the skewed validator keeps
//! signing. (The byzantine executor fault is
//! `inference::verifiable_inference_on_a_four_validator_localnet`.)

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openledger_tests::{rfc3339_nanos, wait_until, Localnet, LocalnetOptions};

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

const SECOND_NS: i128 = 1_000_000_000;

/// A block's header time and the timestamps of the precommits its last commit carries (for the
/// previous block; signed ones only), by validator address, in nanoseconds since the epoch.
struct BlockTimes {
    time: i128,
    precommits: Vec<(String, i128)>,
}

fn block_times(net: &Localnet, height: i64) -> BlockTimes {
    let r = net.node(0).rpc().call("block", serde_json::json!({"height": height.to_string()})).expect("block");
    let block = &r["block"];
    let precommits = block["last_commit"]["signatures"]
        .as_array()
        .expect("last commit signatures")
        .iter()
        .filter(|s| s["block_id_flag"] == 2)
        .map(|s| {
            (s["validator_address"].as_str().unwrap_or_default().to_string(), rfc3339_nanos(s["timestamp"].as_str().expect("vote time")))
        })
        .collect();
    BlockTimes { time: rfc3339_nanos(block["header"]["time"].as_str().expect("block time")), precommits }
}

fn wall_clock_nanos() -> i128 {
    i128::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos()).expect("nanos")
}

/// Follows node 0's blocks after `from`, as they are made, until validator `skewed` (its clock
/// `skew_s` seconds off) has signed 5 of their commits. Every block's time must be later than
/// the previous one, lie between the earliest and latest honest precommit timestamp it was
/// computed from (the skewed vote never becomes the median), and be near the test's wall clock
/// (the honest validators' clock): at most 1 s ahead of it, at most 120 s behind (a block
/// made after a long stall on a busy machine still carries the older commit's time). The skewed
/// validator's own precommits show the skew: `skew_s` ahead of the honest ones, or, behind,
/// exactly the block's time + 1 ms (CometBFT's minimum vote time).
fn follow_blocks_with_a_skewed_voter(net: &Localnet, skewed: &str, skew_s: i128, from: i64) {
    const SIGNED: usize = 5;
    net.wait_for_height(0, from, Duration::from_secs(60));
    let mut previous = block_times(net, from);
    let mut height = from + 1;
    let mut signed = 0;
    wait_until(&format!("{SIGNED} commits signed by the validator {skew_s:+} s off"), Duration::from_secs(180), || {
        while height <= net.height(0) {
            let block = block_times(net, height);
            let now = wall_clock_nanos();
            assert!(block.time > previous.time, "block {height}'s time is not after block {}'s", height - 1);
            let honest: Vec<i128> = block.precommits.iter().filter(|(a, _)| a != skewed).map(|(_, t)| *t).collect();
            let (earliest, latest) = (*honest.iter().min().expect("honest precommits"), *honest.iter().max().expect("honest precommits"));
            assert!(
                (earliest..=latest).contains(&block.time),
                "block {height}'s time is {} ms from its honest precommits' range: the skewed vote moved it",
                if block.time < earliest { block.time - earliest } else { block.time - latest } / 1_000_000
            );
            assert!(
                block.time <= now + SECOND_NS && block.time >= now - 120 * SECOND_NS,
                "block {height}'s time is {} s off the wall clock",
                (block.time - now) / SECOND_NS
            );
            if let Some((_, vote)) = block.precommits.iter().find(|(a, _)| a == skewed) {
                if skew_s > 0 {
                    let ahead = vote - latest;
                    assert!(
                        (ahead - skew_s * SECOND_NS).abs() < 30 * SECOND_NS,
                        "its precommit is {} s ahead, not ~{skew_s} s",
                        ahead / SECOND_NS
                    );
                } else {
                    assert_eq!(*vote, previous.time + 1_000_000, "a validator whose clock is behind votes at the block's time + 1 ms");
                }
                signed += 1;
            }
            previous = block;
            height += 1;
        }
        signed >= SIGNED
    });
}

#[test]
fn a_validator_with_a_skewed_clock_keeps_signing_and_cannot_move_block_time() {
    let mut net = Localnet::start(4, &LocalnetOptions { clock_skew: vec![(3, "+5m".into())], ..LocalnetOptions::default() });
    let skewed = net.comet_address(3);

    // Five minutes ahead: its precommits say so, the block times do not.
    follow_blocks_with_a_skewed_voter(&net, &skewed, 300, net.height(0));
    net.wait_for_height(3, net.height(0), Duration::from_secs(60));

    // The same validator restarted 30 s behind. (A CometBFT whose clock reads a time before the
    // genesis time sleeps until its clock reaches it, so the chain must be older than the skew.)
    let genesis = block_times(&net, 1).time;
    wait_until("the chain to be 40 s old", Duration::from_secs(60), || wall_clock_nanos() - genesis > 40 * SECOND_NS);
    net.nodes[3].node.set_clock_skew(Some("-30s"));
    net.restart_node(3);
    let restarted = net.height(0);
    net.wait_for_height(3, restarted, Duration::from_secs(90));
    // Commits up to `restarted + 1` may still carry a precommit it signed before the restart.
    follow_blocks_with_a_skewed_voter(&net, &skewed, -30, restarted + 2);
    net.wait_for_height(3, net.height(0), Duration::from_secs(60));
}
