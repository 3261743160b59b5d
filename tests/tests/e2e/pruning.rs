//! Pruning on a real node: with `--pruning custom --pruning-keep-recent 5 --pruning-interval 2`
//! a node keeps only its newest heights; REST queries at a pruned height answer a clear error,
//! queries at kept heights still answer from their state, and the chain goes on.

use std::time::Duration;

use openledger_tests::{Node, NodeOptions};

fn get(url: &str, height: Option<i64>) -> (u16, serde_json::Value) {
    let mut request = ureq::get(url).timeout(Duration::from_secs(30));
    if let Some(h) = height {
        request = request.set("x-cosmos-block-height", &h.to_string());
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    (response.status(), response.into_json().unwrap_or(serde_json::Value::Null))
}

#[test]
fn a_pruning_node_keeps_its_newest_heights_and_says_which_are_gone() {
    let args = ["--pruning", "custom", "--pruning-keep-recent", "5", "--pruning-interval", "2"];
    let node = Node::start_with(&NodeOptions { app_args: args.iter().map(ToString::to_string).collect(), ..NodeOptions::default() });
    node.wait_for_height(14, Duration::from_secs(90));
    let url = format!("{}/cosmos/bank/v1beta1/balances/{}/by_denom?denom=uopen", node.rest_url(), node.dev_address);

    let (status, body) = get(&url, Some(2));
    assert_ne!(status, 200, "height 2 should be pruned: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("height 2 is not kept by this node"), "{body}");

    // The newest heights answer (the last two are always within the five kept).
    let latest = node.height();
    let (status, body) = get(&url, Some(latest - 1));
    assert_eq!(status, 200, "{body}");
    assert!(body["balance"]["amount"].as_str().is_some_and(|a| a != "0"), "{body}");
    let log = node.app_log();
    assert!(log.contains("pruning: keeping the newest 5 heights, pruned every 2 blocks"), "{log}");
    node.wait_for_height(latest + 3, Duration::from_secs(60));
}
