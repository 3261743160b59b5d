//! Free-riding on others' vote extensions does not pay: on a 4-validator localnet, validators
//! 0–2 run executors and validator 3 runs none but declares it serves the model and copies the
//! other validators' extensions (`--inference-copy-extensions`, a test flag: in ExtendVote it
//! repeats what most of the others reported in the latest extensions it verified). Reports are
//! bound to their reporter, so a copy matches no revealed output. The honest three finalize
//! and are paid; the copier is never counted toward the two thirds nor paid. (A same-height
//! copy, which CometBFT's single consensus thread makes hard to stage here, is the unit test
//! `a_copied_extension_is_never_counted_or_paid` in modules/inference.)

use std::time::Duration;

use openledger_proto::openledger::inference::v1 as ipb;
use openledger_tests::{Localnet, LocalnetOptions};
use serde_json::Value;

use crate::datanet::{cli, cli_text};
use crate::inference::wait_done;

#[test]
fn a_validator_copying_extensions_is_never_counted_or_paid() {
    let opts = LocalnetOptions {
        tiny_model: true,
        executors: Some(vec![0, 1, 2]),
        app_args: vec![(3, vec!["--inference-copy-extensions".to_string()])],
        ..LocalnetOptions::default()
    };
    let net = Localnet::start(4, &opts);
    let chain = net.info.chain_id.clone();
    // The copier claims to serve base model 1, so its reports would count if they matched.
    cli(net.node(3), &["tx", "inference", "register-executor", "--models", "1", "--from", "dev", "--chain-id", &chain]);
    let node = net.node(0);
    let url = node.rpc_url();
    let printed = cli_text(
        node,
        &[
            "tx",
            "inference",
            "request",
            "--model",
            "1",
            "--prompt",
            "free riders",
            "--max-tokens",
            "8",
            "--fee",
            "5000uopen",
            "--from",
            "dev",
            "--chain-id",
            &chain,
            "--node",
            &url,
            "--wait-seconds",
            "120",
        ],
    );
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&printed).into_iter().collect::<Result<_, _>>().expect("CLI JSON");
    let id: u64 = docs.last().expect("answer")["id"].as_str().expect("id").parse().expect("number");
    let done = wait_done(&net, id, Duration::from_secs(90));
    assert_eq!(done.request.expect("request").status, ipb::RequestStatus::Completed as i32, "the honest three finalize");
    let result = done.result.expect("result");
    let copier = net.nodes[3].info.operator_address.clone();
    let vote = result.votes.iter().find(|v| v.validator == copier).expect("the copier is an eligible executor");
    assert!(!vote.agreed, "a copied report counted as agreement: {vote:?}");
    // The copier did copy (a report of someone else's binding reached its extension).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let app_log = std::fs::read_to_string(net.node(3).home().join("app.log")).unwrap_or_default();
        if app_log.contains("copied outputs") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the copier never copied:\n{}", openledger_tests::tail(&app_log, 40));
        std::thread::sleep(Duration::from_millis(100));
    }
    let honest: i64 = result.votes.iter().filter(|v| v.validator != copier).map(|v| v.power).sum();
    assert_eq!(result.agreeing_power, honest, "only the three executors' power agreed");
    assert_eq!(result.eligible_power, honest + vote.power);
    assert!(result.votes.iter().filter(|v| v.validator != copier).all(|v| v.agreed));
    // Not paid: the executor share went to the agreeing power only.
    assert!(result.votes.iter().filter(|v| v.agreed).all(|v| v.validator != copier));
}
