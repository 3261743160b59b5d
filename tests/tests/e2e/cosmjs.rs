//! CosmJS (the library under Keplr and most dApps), pinned in `tests/cosmjs/package-lock.json`,
//! against a real node started here: `node --test tests/cosmjs/wallet.test.mjs` reads accounts and
//! balances, sends with direct and amino signing and fee "auto", delegates, submits and votes on a
//! proposal (v1beta1 `MsgVote`, as Keplr sends it), searches its txs and checks CheckTx
//! rejections. Needs Node ≥ 20 and `make cosmjs-deps` (`npm ci`, part of `make test`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use openledger_core::Address;
use openledger_tests::{Node, NodeOptions};

const LIMIT: Duration = Duration::from_secs(300);

fn cosmjs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cosmjs")
}

#[test]
fn cosmjs_wallet_flows_against_a_real_node() {
    let dir = cosmjs_dir();
    assert!(
        dir.join("node_modules/@cosmjs/stargate/package.json").exists(),
        "{}/node_modules is missing: run `make cosmjs-deps` (npm ci of the pinned CosmJS; `make test` does it)",
        dir.display()
    );
    let version = Command::new("node").arg("--version").output();
    let version = match version {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        other => panic!("`node` (Node.js >= 20) is required for the CosmJS test: {other:?}"),
    };
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 20, "Node.js >= 20 is required for the CosmJS test (node:test), found {version}");

    // Short voting period: the test waits for the proposal to pass.
    let node = Node::start_with(&NodeOptions { voting_period_seconds: 12, max_deposit_period_seconds: 12, ..NodeOptions::default() });
    let genesis: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(node.home().join("config/genesis.json")).expect("genesis.json"))
            .expect("genesis json");
    let chain_id = genesis["chain_id"].as_str().expect("chain_id").to_string();
    let dev = Address::from_bech32(&node.dev_address).expect("dev address");
    let validator = openledger_stake::keeper::operator_of(&dev);

    let started = Instant::now();
    let mut child = Command::new("node")
        .args(["--test", "--test-reporter=spec", "wallet.test.mjs"])
        .current_dir(&dir)
        .env("OPENLEDGER_RPC", node.rpc_url())
        .env("OPENLEDGER_CHAIN_ID", &chain_id)
        .env("OPENLEDGER_MNEMONIC", &node.dev_mnemonic)
        .env("OPENLEDGER_VALIDATOR", &validator)
        .env("OPENLEDGER_GOV_AUTHORITY", openledger_gov::gov_authority().to_bech32())
        .spawn()
        .expect("spawn node");
    // stdout/stderr are inherited: the spec reporter's lines stream as the steps run.
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the CosmJS test ran past {LIMIT:?}; app log tail:\n{}", openledger_tests::tail(&node.app_log(), 40));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.success(),
        "CosmJS wallet test failed ({status}); see its output above. App log tail:\n{}",
        openledger_tests::tail(&node.app_log(), 40)
    );
}
