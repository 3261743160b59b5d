//! `--prove` against a real node: `query inference request ID --prove` reads the request and its
//! (absent) result with ICS23 proofs and verifies them against a header the light client verified
//! from the chain's first header; a wrong trusted hash and a missing request are refused.

use std::time::Duration;

use openledger_tests::Node;
use serde_json::Value;

use crate::datanet::{cli, words};

#[test]
fn inference_request_is_proven_against_a_light_client_verified_header() {
    let node = Node::start();
    let rpc = node.rpc_url();
    // A request nobody can answer yet (no executor holds these weights): it stays pending, so its
    // state has a request and no result — one membership and one non-membership proof.
    let fake = "ee".repeat(32);
    let mut register = words("tx model register-base --from dev --name provable --architecture llama --license MIT --price 10uopen");
    register.extend(["--weights-hash", &fake, "--tokenizer-hash", &fake]);
    cli(&node, &register);
    cli(&node, &["tx", "inference", "register-executor", "--models", "1", "--from", "dev"]);
    cli(&node, &words("tx inference request --model 1 --prompt proveme --max-tokens 4 --fee 5000uopen --wait-seconds 0 --from dev"));
    node.wait_for_height(node.height() + 1, Duration::from_secs(30));

    let shown: Value = cli(&node, &["query", "inference", "request", "1", "--prove"]);
    assert_eq!(shown["prompt"], "proveme", "{shown}");
    let verified = shown["verified"].as_array().expect("verified reports");
    assert_eq!(verified.len(), 2);
    let (request, result) = (&verified[0], &verified[1]);
    assert_eq!(request["value_present"], true);
    assert!(request["proof"].as_str().unwrap().contains("membership"));
    assert_eq!(result["value_present"], false);
    assert!(result["proof"].as_str().unwrap().contains("non-membership"));
    let height: u64 = request["height"].as_str().unwrap().parse().unwrap();
    assert_eq!(request["header"]["height"].as_str().unwrap().parse::<u64>().unwrap(), height + 1, "app hash comes from header H+1");
    assert_eq!(request["trusted_header"]["height"], "1");
    assert_eq!(request["app_hash"].as_str().unwrap().len(), 64);

    // Pinning the real first header works; a wrong hash is refused before anything is trusted.
    let first_hash = request["trusted_header"]["hash"].as_str().unwrap().to_string();
    let pinned: Value = cli(&node, &["query", "inference", "request", "1", "--prove", "--trust-height", "1", "--trust-hash", &first_hash]);
    assert!(pinned["verified"][0]["trusted_header"]["how"].as_str().unwrap().contains("--trust-hash"));
    let wrong = "AB".repeat(32);
    let out =
        node.cli_raw(&["query", "inference", "request", "1", "--prove", "--trust-height", "1", "--trust-hash", &wrong, "--node", &rpc]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not the trusted"), "{err}");

    // A request that does not exist is proven absent, and said so.
    let out = node.cli_raw(&["query", "inference", "request", "999", "--prove", "--node", &rpc]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("proven absent"), "{err}");
}
