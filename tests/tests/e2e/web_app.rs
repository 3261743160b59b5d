//! The web app (`web/`, built into `web/dist` by `make web`) served by a real node at `/app` and
//! driven in Debian's Chromium: the node starts with `--web-dir web/dist --serve-dev-account`, a
//! governance proposal is put in its voting period with the CLI, the serving rules are checked
//! over HTTP (content types, SPA fallback, traversal refused, the dev account only to loopback
//! host names), then `node --test tests/web/app.test.mjs` (playwright-core) runs the flows twice:
//! with the "local dev account" and with a scripted `window.keplr` over CosmJS. Needs `make web`,
//! `make web-test-deps` (npm ci + Debian's chromium), Node >= 20; `make test` does all of it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use openledger_core::Address;
use openledger_tests::{Node, NodeOptions};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(420);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// One raw HTTP/1.1 GET with a chosen Host header: (status, headers, body).
fn raw_get(port: u16, path: &str, host: &str) -> (u16, String, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect REST");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, head.to_ascii_lowercase(), answer[split + 4..].to_vec())
}

#[test]
fn web_app_in_chromium_against_a_real_node() {
    let root = repo();
    let dist = root.join("web/dist");
    let tests_dir = root.join("tests/web");
    assert!(dist.join("index.html").exists(), "{} is missing: run `make web` (`make test` does)", dist.display());
    assert!(
        tests_dir.join("node_modules/playwright-core/package.json").exists(),
        "{}/node_modules is missing: run `make web-test-deps` (`make test` does)",
        tests_dir.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(std::path::Path::new(&chromium).exists(), "{chromium} is missing: `make web-test-deps` installs Debian's chromium");

    let opts = NodeOptions {
        voting_period_seconds: 3600,
        max_deposit_period_seconds: 3600,
        app_args: vec!["--web-dir".into(), dist.display().to_string(), "--serve-dev-account".into()],
        ..NodeOptions::default()
    };
    let node = Node::start_with(&opts);
    let port = node.ports.rest;

    // Serving: the app, its routes, its assets, and what it refuses.
    let (status, head, body) = raw_get(port, "/app/", "127.0.0.1");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html; charset=utf-8"), "{head}");
    assert!(head.contains("content-security-policy:"), "{head}");
    let index = String::from_utf8_lossy(&body).to_string();
    let (status, _, route_body) = raw_get(port, "/app/datanets/7", "127.0.0.1");
    assert_eq!((status, String::from_utf8_lossy(&route_body).to_string()), (200, index.clone()), "SPA fallback");
    let script = index.split("src=\"").nth(1).and_then(|s| s.split('"').next()).expect("script tag").to_string();
    let (status, head, _) = raw_get(port, &script, "127.0.0.1");
    assert_eq!(status, 200, "{script}");
    assert!(head.contains("content-type: text/javascript") && head.contains("immutable"), "{head}");
    assert_eq!(raw_get(port, "/app/assets/missing.js", "127.0.0.1").0, 404);
    for bad in ["/app/../Cargo.toml", "/app/%2e%2e/%2e%2e/Cargo.toml", "/app/..%2f..%2fCargo.toml", "/app/.vite/manifest.json"] {
        let (status, _, body) = raw_get(port, bad, "127.0.0.1");
        assert!(status == 400 || status == 404, "{bad}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("[workspace]"), "{bad} leaked a file");
    }
    assert_eq!(raw_get(port, "/", "127.0.0.1").0, 302, "/ redirects to the app");
    let (status, _, dev) = raw_get(port, "/openledger/dev/account", &format!("127.0.0.1:{port}"));
    assert_eq!(status, 200);
    let dev: serde_json::Value = serde_json::from_slice(&dev).expect("dev account json");
    assert_eq!(dev["address"], node.dev_address.as_str());
    assert_eq!(raw_get(port, "/openledger/dev/account", &format!("rebound.example:{port}")).0, 403, "DNS rebinding");
    // The dev account is never served off loopback: `start` refuses the flag on another bind.
    let refused = node.cli_raw(&["start", "--api-addr", "0.0.0.0:1", "--serve-dev-account"]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("--serve-dev-account needs a loopback REST address"), "{why}");

    // A proposal in its voting period for the vote flow.
    let proposal = node.home().join("web-proposal.json");
    let doc = json!({
        "messages": [{"@type": "/cosmos.staking.v1beta1.MsgUpdateParams", "params": {"max_validators": 50}}],
        "deposit": "10000000000uopen", "title": "More validators", "summary": "max_validators 50 (web app test)"
    });
    std::fs::write(&proposal, doc.to_string()).expect("write proposal");
    crate::datanet::cli(&node, &["tx", "gov", "submit-proposal", proposal.to_str().expect("utf8"), "--from", "dev"]);
    // A base model for the Models, Playground and ModelFactory pages (no executor serves it here).
    let hash = |s: &str| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(s.as_bytes()))
    };
    crate::datanet::cli(
        &node,
        &[
            "tx",
            "model",
            "register-base",
            "--name",
            "SmolLM2-135M-Instruct",
            "--architecture",
            "llama",
            "--weights-hash",
            &hash("web test weights"),
            "--tokenizer-hash",
            &hash("web test tokenizer"),
            "--price",
            "1000uopen",
            "--from",
            "dev",
        ],
    );
    let dev_addr = Address::from_bech32(&node.dev_address).expect("dev address");
    let validator = openledger_stake::keeper::operator_of(&dev_addr);

    let artifacts = std::env::var("OPENLEDGER_WEB_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-artifacts"));
    let started = Instant::now();
    let mut child = Command::new("node")
        .args(["--test", "--test-reporter=spec", "--test-concurrency=1", "app.test.mjs"])
        .current_dir(&tests_dir)
        .env("OPENLEDGER_REST", node.rest_url())
        .env("OPENLEDGER_VALIDATOR", &validator)
        .env("OPENLEDGER_PROPOSAL", "1")
        .env("OPENLEDGER_WEB_ARTIFACTS", &artifacts)
        .env("CHROMIUM", &chromium)
        .env("OPENLEDGER_APP_PID", node.app_pid().expect("openledgerd runs").to_string())
        .spawn()
        .expect("spawn node (Node.js >= 20)");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser test ran past {LIMIT:?}; app log tail:\n{}", openledger_tests::tail(&node.app_log(), 40));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("web app test: {:.1} s, screenshots and metrics.json in {}", started.elapsed().as_secs_f64(), artifacts.display());
    assert!(
        status.success(),
        "browser test failed ({status}); see its output above. App log tail:\n{}",
        openledger_tests::tail(&node.app_log(), 40)
    );
}

/// Runs `node --test SCRIPT` in tests/web with `envs`, streaming its output; panics on failure.
fn run_browser_script(script: &str, envs: &[(&str, String)], app_log: impl Fn() -> String) {
    let started = Instant::now();
    let mut child = Command::new("node")
        .args(["--test", "--test-reporter=spec", "--test-concurrency=1", script])
        .current_dir(repo().join("tests/web"))
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .spawn()
        .expect("spawn node (Node.js >= 20)");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} ran past {LIMIT:?}; app log tail:\n{}", openledger_tests::tail(&app_log(), 40));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("{script}: {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        status.success(),
        "{script} failed ({status}); see its output above. App log tail:\n{}",
        openledger_tests::tail(&app_log(), 40)
    );
}

/// The Playground against a one-validator localnet with an `open-executor` (generated tiny
/// Llama) and an adapter pinned to a datanet version whose row quotes the model's answer; then
/// ModelFactory trains an adapter on that version until the job is attested.
#[test]
fn web_playground_pays_and_attributes_in_chromium() {
    use openledger_proto::openledger::executor::v1 as epb;
    use openledger_proto::openledger::inference::v1 as ipb;
    use openledger_tests::{open_executor_bin, Localnet, LocalnetOptions};

    const PROMPT: &str = "Tell me about open data";
    const MAX_TOKENS: u32 = 24;
    let dist = repo().join("web/dist");
    assert!(dist.join("index.html").exists(), "{} is missing: run `make web` (`make test` does)", dist.display());
    let opts = LocalnetOptions {
        tiny_model: true,
        app_args: vec![(0, vec!["--web-dir".into(), dist.display().to_string(), "--serve-dev-account".into()])],
        testnet_args: vec!["--attribution-min-span-tokens".to_string(), "2".to_string()],
        ..LocalnetOptions::default()
    };
    let net = Localnet::start(1, &opts);
    let node = net.node(0);
    let chain_id = net.info.chain_id.clone();
    let model_dir = net.model_dir.clone().expect("tiny model");
    let weights_hash = net.info.models[0].weights_hash.clone();

    // The adapter every executor (here: one) serves, and the answer it gives to PROMPT.
    let adapter_dir = net.dir().join("adapters/web");
    let out = Command::new(open_executor_bin())
        .args(["fixture", "adapter", "--model"])
        .arg(&model_dir)
        .arg("--out")
        .arg(&adapter_dir)
        .output()
        .expect("open-executor fixture adapter");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(open_executor_bin()).arg("hash").arg(&adapter_dir).output().expect("open-executor hash");
    assert!(out.status.success());
    let adapter_hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let expected = rt.block_on(async {
        let url = format!("http://127.0.0.1:{}", net.nodes[0].info.executor_port);
        let mut client = epb::executor_client::ExecutorClient::connect(url).await.expect("executor connect");
        client
            .load_adapter(epb::LoadAdapterRequest { model: weights_hash.clone(), path: adapter_dir.display().to_string() })
            .await
            .expect("LoadAdapter");
        let params: ipb::QueryParamsResponse =
            crate::datanet::abci(node, "/openledger.inference.v1.Query/Params", ipb::QueryParamsRequest {});
        client
            .execute(epb::ExecuteRequest {
                model: weights_hash.clone(),
                adapter: adapter_hash.clone(),
                prompt: PROMPT.into(),
                max_tokens: MAX_TOKENS,
                seed: 0,
                profile: params.params.and_then(|p| p.profile),
                ..Default::default()
            })
            .await
            .expect("Execute")
            .into_inner()
    });
    assert!(!expected.text.is_empty());

    // A datanet whose row quotes the answer, published; the adapter pinned to it.
    let row = format!("a row that quotes the model: {} and more", expected.text);
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--chain-id", chain_id.as_str()]);
        crate::datanet::cli(node, &all)
    };
    cli(&crate::datanet::words(
        "tx datanet create --from dev --name quotes --license CC0 --schema text --curation owner --bond 0uopen --max-row-bytes 4096",
    ));
    let dev = Address::from_bech32(net.account(0)).expect("dev address");
    let mut contribute = vec!["tx", "datanet", "contribute", "1", "--row", row.as_str(), "--from", "dev"];
    // More rows for the fine-tune the page starts on this version (training and eval splits).
    for extra in [
        "rivers carry water to the sea",
        "mountains rise above the clouds",
        "open data is data anyone can use",
        "a ledger records who gave what",
    ] {
        contribute.extend(["--row", extra]);
    }
    cli(&contribute);
    cli(&["tx", "datanet", "review", "1", "1", "--accept", "--reason", "ok", "--from", "dev"]);
    cli(&["tx", "datanet", "publish", "1", "--from", "dev"]);
    let config = "ab".repeat(32);
    let mut register = crate::datanet::words("tx model register-adapter --from dev --base-model 1 --datanet-version 1:1 --price 1000uopen");
    register.extend(["--adapter-hash", &adapter_hash, "--training-config-hash", &config]);
    cli(&register);

    let artifacts = std::env::var("OPENLEDGER_WEB_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-artifacts"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    run_browser_script(
        "playground.test.mjs",
        &[
            ("OPENLEDGER_REST", node.rest_url()),
            ("OPENLEDGER_WEB_ARTIFACTS", artifacts.display().to_string()),
            ("CHROMIUM", chromium),
            ("OPENLEDGER_PROMPT", PROMPT.to_string()),
            ("OPENLEDGER_MAX_TOKENS", MAX_TOKENS.to_string()),
            ("OPENLEDGER_EXPECTED", expected.text.clone()),
            ("OPENLEDGER_ADAPTER", "1".into()),
            ("OPENLEDGER_DATANET", "1".into()),
            ("OPENLEDGER_CONTRIBUTOR", dev.to_bech32()),
        ],
        || net.logs(0),
    );
}
