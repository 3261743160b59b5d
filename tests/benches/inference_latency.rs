//! End-to-end latency of verifiable inference on a 4-validator localnet (real CometBFT v0.38
//! nodes, release `openledgerd`, one `open-executor` per validator serving a generated tiny
//! Llama), against the executor's raw generation time measured in the same run, and the chain's
//! block time with and without inference load.
//!
//! - raw: `Execute` straight on validator 0's executor (gRPC), median of `RAW_RUNS`.
//! - end to end: a signed `MsgRequestInference` broadcast to the time the chain reports the
//!   request completed (result stored, fee split), sequential requests, median; also in blocks
//!   (result height − request height).
//! - block time: mean interval of `BLOCKS` consecutive blocks idle, then while every block
//!   carries `LOAD_PER_BLOCK` new requests.
//!
//! `OPENLEDGER_BENCH_REQUESTS` overrides the number of end-to-end requests.

// Seconds and ratios for the report only.
#![allow(clippy::float_arithmetic)]

use std::time::{Duration, Instant};

use cosmos_sdk_proto::Any;
use openledger_app::client::{fetch_account, sign_tx, SignModeChoice, TxSpec};
use openledger_app::keys::AccountKey;
use openledger_core::Coin;
use openledger_inference::msg::MSG_REQUEST_INFERENCE;
use openledger_proto::openledger::executor::v1 as epb;
use openledger_proto::openledger::inference::v1 as ipb;
use openledger_tests::{rfc3339_nanos, Localnet, LocalnetOptions, Node, NodeOptions};
use prost::Message;

const PROMPT: &str = "Summarise the benefits of open data for science";
const MAX_TOKENS: u32 = 32;
const RAW_RUNS: usize = 10;
const BLOCKS: i64 = 15;
const LOAD_PER_BLOCK: usize = 4;
const GAS: u64 = 300_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn query<Resp: Message + Default>(node: &Node, path: &str, req: impl Message) -> Resp {
    let res = node.rpc().abci_query(path, &req.encode_to_vec(), 0, false).expect("abci_query");
    assert_eq!(res.code, 0, "{path}: {}", res.log);
    Resp::decode(res.value.as_slice()).expect("decode")
}

fn request_tx(net: &Localnet, key: &AccountKey, sequence: u64, account_number: u64) -> Vec<u8> {
    let msg = ipb::MsgRequestInference {
        requester: key.address().to_bech32(),
        base_model_id: 1,
        adapter_id: 0,
        prompt: PROMPT.into(),
        max_tokens: MAX_TOKENS,
        fee: Some(Coin::new("uopen", 10_000).to_proto()),
        messages: vec![],
    };
    sign_tx(&TxSpec {
        key,
        chain_id: &net.info.chain_id,
        account_number,
        sequence,
        msgs: vec![Any { type_url: MSG_REQUEST_INFERENCE.into(), value: msg.encode_to_vec() }],
        fee: vec![Coin::new("uopen", 7_500).to_proto()],
        gas_limit: GAS,
        memo: String::new(),
        mode: SignModeChoice::Direct,
    })
    .expect("sign")
}

/// Mean block interval over `blocks` blocks from the node's block times.
fn block_time(node: &Node, from: i64, blocks: i64) -> Duration {
    let rpc = node.rpc();
    let time_of = |h: i64| -> i128 { rfc3339_nanos(&rpc.block_time(h).expect("block time")) };
    let span = time_of(from + blocks) - time_of(from);
    Duration::from_nanos(u64::try_from(span / i128::from(blocks)).unwrap_or(0))
}

fn wait_completed(node: &Node, id: u64, timeout: Duration) -> ipb::QueryRequestResponse {
    let deadline = Instant::now() + timeout;
    loop {
        // NotFound until the request tx is in a block.
        let res = node
            .rpc()
            .abci_query("/openledger.inference.v1.Query/Request", &ipb::QueryRequestRequest { id }.encode_to_vec(), 0, false)
            .expect("abci_query");
        if res.code == 0 {
            let r = ipb::QueryRequestResponse::decode(res.value.as_slice()).expect("decode");
            if r.request.as_ref().is_some_and(|q| q.status == ipb::RequestStatus::Completed as i32) {
                return r;
            }
        }
        assert!(Instant::now() < deadline, "request {id} not completed in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let requests: usize = std::env::var("OPENLEDGER_BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let opts = LocalnetOptions {
        chain: NodeOptions { timeout_commit: "1s".into(), ..NodeOptions::default() },
        tiny_model: true,
        ..LocalnetOptions::default()
    };
    let net = Localnet::start(4, &opts);
    let node = net.node(0);
    let weights = net.info.models[0].weights_hash.clone();
    let params: ipb::QueryParamsResponse = query(node, "/openledger.inference.v1.Query/Params", ipb::QueryParamsRequest {});
    let profile = params.params.and_then(|p| p.profile);

    // Raw generation on one executor.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let raw = runtime.block_on(async {
        let url = format!("http://127.0.0.1:{}", net.nodes[0].info.executor_port);
        let mut client = epb::executor_client::ExecutorClient::connect(url).await.expect("executor");
        let mut times = Vec::new();
        for _ in 0..RAW_RUNS {
            let start = Instant::now();
            let r = client
                .execute(epb::ExecuteRequest {
                    model: weights.clone(),
                    adapter: String::new(),
                    prompt: PROMPT.into(),
                    max_tokens: MAX_TOKENS,
                    seed: 1,
                    profile: profile.clone(),
                    ..Default::default()
                })
                .await
                .expect("execute");
            times.push(start.elapsed());
            assert!(!r.into_inner().tokens.is_empty());
        }
        median(times)
    });

    // Idle block time.
    let h0 = net.height(0);
    net.wait_for_height(0, h0 + BLOCKS + 1, Duration::from_secs(120));
    let idle = block_time(node, h0 + 1, BLOCKS);

    // End-to-end latency, one request at a time.
    let key = AccountKey::from_mnemonic(&node.dev_mnemonic).expect("dev key");
    let rpc = node.rpc();
    let mut e2e = Vec::new();
    let mut blocks = Vec::new();
    let mut next_id = 1u64;
    for _ in 0..requests {
        let account = fetch_account(&rpc, &key.address()).expect("account").expect("exists");
        let tx = request_tx(&net, &key, account.sequence, account.account_number);
        let start = Instant::now();
        let res = rpc.broadcast_tx_sync(&tx).expect("broadcast");
        assert_eq!(res.code, 0, "{}", res.log);
        let done = wait_completed(node, next_id, Duration::from_secs(60));
        e2e.push(start.elapsed());
        let (req, result) = (done.request.expect("request"), done.result.expect("result"));
        blocks.push(result.height - req.height);
        next_id += 1;
        // Let the sequence settle in the mempool's state before the next request.
        net.wait_for_height(0, net.height(0) + 1, Duration::from_secs(30));
    }

    // Block time under load: LOAD_PER_BLOCK new requests every block.
    let account = fetch_account(&rpc, &key.address()).expect("account").expect("exists");
    let mut sequence = account.sequence;
    let start_height = net.height(0);
    let mut last = start_height;
    while net.height(0) < start_height + BLOCKS + 1 {
        let h = net.height(0);
        if h > last {
            last = h;
            for _ in 0..LOAD_PER_BLOCK {
                let res = rpc.broadcast_tx_sync(&request_tx(&net, &key, sequence, account.account_number)).expect("broadcast");
                assert_eq!(res.code, 0, "{}", res.log);
                sequence += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let loaded = block_time(node, start_height + 1, BLOCKS);
    let completed = (1..next_id + u64::try_from(LOAD_PER_BLOCK).unwrap_or(0))
        .filter(|id| {
            let r: ipb::QueryRequestResponse = query(node, "/openledger.inference.v1.Query/Request", ipb::QueryRequestRequest { id: *id });
            r.request.is_some_and(|q| q.status == ipb::RequestStatus::Completed as i32)
        })
        .count();

    let e2e_median = median(e2e);
    let mut sorted_blocks = blocks.clone();
    sorted_blocks.sort_unstable();
    println!("inference latency on a 4-validator localnet (tiny Llama, {MAX_TOKENS} tokens max, timeout_commit 1s)");
    println!("  raw executor generation (median of {RAW_RUNS}):   {:>9.1} ms", raw.as_secs_f64() * 1e3);
    println!(
        "  request tx → final result (median of {requests}): {:>9.1} ms = {:.0}× raw; blocks {:?} (median {})",
        e2e_median.as_secs_f64() * 1e3,
        e2e_median.as_secs_f64() / raw.as_secs_f64().max(1e-9),
        blocks,
        sorted_blocks[sorted_blocks.len() / 2]
    );
    println!("  block time idle:                         {:>9.1} ms", idle.as_secs_f64() * 1e3);
    println!(
        "  block time with {LOAD_PER_BLOCK} requests/block:         {:>9.1} ms = {:.3}× idle ({completed} early requests completed)",
        loaded.as_secs_f64() * 1e3,
        loaded.as_secs_f64() / idle.as_secs_f64().max(1e-9)
    );
}
