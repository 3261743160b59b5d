//! Queries/s of a balance query over gRPC and over REST against a real node (CometBFT v0.38 +
//! release `openledgerd`, started by the bench on loopback ports), under a bounded local load:
//! `CLIENTS` concurrent clients, each on its own keep-alive connection, sending one request
//! after another for `SECONDS` seconds (gRPC: tonic clients; REST: HTTP/1.1 clients). Every
//! answer is checked (the dev account's balance). Baseline, same run and load: the same query
//! through CometBFT's RPC `abci_query` (HTTP JSON-RPC, what CosmJS uses), which crosses
//! CometBFT and the ABCI socket but none of our gRPC/REST code. Prints queries/s, latency
//! percentiles and each surface's ratio to the baseline. `OPENLEDGER_BENCH_SECONDS` /
//! `OPENLEDGER_BENCH_CLIENTS` override the load.

// Rates and milliseconds for the report only.
#![allow(clippy::float_arithmetic)]

use std::time::{Duration, Instant};

use base64::Engine;
use cosmos_sdk_proto::cosmos::bank::v1beta1::{query_client::QueryClient as BankClient, QueryBalanceRequest, QueryBalanceResponse};
use openledger_tests::Node;
use prost::Message;

/// What one load run measured.
struct Measured {
    queries: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.queries as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&mut self, p: usize) -> Duration {
        self.latencies.sort_unstable();
        let index = (self.latencies.len().saturating_sub(1) * p) / 100;
        self.latencies.get(index).copied().unwrap_or_default()
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn grpc_load(node: &Node, clients: u64, run_for: Duration, expected: &str) -> Measured {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let url = node.grpc_url();
            let address = node.dev_address.clone();
            let expected = expected.to_string();
            tasks.push(tokio::spawn(async move {
                let mut client = BankClient::connect(url).await.expect("grpc connect");
                let mut latencies = Vec::new();
                let deadline = Instant::now() + run_for;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let resp = client
                        .balance(QueryBalanceRequest { address: address.clone(), denom: "uopen".into() })
                        .await
                        .expect("balance over gRPC");
                    latencies.push(sent.elapsed());
                    let amount = resp.into_inner().balance.map(|c| c.amount).unwrap_or_default();
                    assert_eq!(amount, expected, "gRPC balance");
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.expect("client task"));
        }
        Measured { queries: latencies.len() as u64, elapsed: start.elapsed(), latencies }
    })
}

/// `clients` threads, each with one keep-alive HTTP connection, GETting `url` until `run_for`
/// is over; `check` validates every answer.
fn http_load(url: &str, clients: u64, run_for: Duration, check: fn(&serde_json::Value, &str), expected: &str) -> Measured {
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let url = url.to_string();
            let expected = expected.to_string();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().max_idle_connections_per_host(1).build();
                let mut latencies = Vec::new();
                let deadline = Instant::now() + run_for;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let body: serde_json::Value = agent.get(&url).call().expect("HTTP query").into_json().expect("JSON");
                    latencies.push(sent.elapsed());
                    check(&body, &expected);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for thread in threads {
        latencies.extend(thread.join().expect("client thread"));
    }
    Measured { queries: latencies.len() as u64, elapsed: start.elapsed(), latencies }
}

fn check_rest(body: &serde_json::Value, expected: &str) {
    assert_eq!(body["balance"]["amount"], expected, "REST balance");
}

fn check_abci(body: &serde_json::Value, expected: &str) {
    let response = &body["result"]["response"];
    assert_eq!(response["code"], 0, "abci_query: {body}");
    let value = base64::engine::general_purpose::STANDARD.decode(response["value"].as_str().unwrap_or_default()).expect("base64");
    let amount = QueryBalanceResponse::decode(value.as_slice()).expect("protobuf").balance.map(|c| c.amount).unwrap_or_default();
    assert_eq!(amount, expected, "abci_query balance");
}

/// Baseline: the balance through CometBFT's `abci_query` (GET form, hex-encoded request).
fn abci_load(node: &Node, clients: u64, run_for: Duration, expected: &str) -> Measured {
    let data = hex::encode(QueryBalanceRequest { address: node.dev_address.clone(), denom: "uopen".into() }.encode_to_vec());
    let url = format!("{}/abci_query?path=%22/cosmos.bank.v1beta1.Query/Balance%22&data=0x{data}", node.rpc_url());
    http_load(&url, clients, run_for, check_abci, expected)
}

fn rest_load(node: &Node, clients: u64, run_for: Duration, expected: &str) -> Measured {
    let url = format!("{}/cosmos/bank/v1beta1/balances/{}/by_denom?denom=uopen", node.rest_url(), node.dev_address);
    http_load(&url, clients, run_for, check_rest, expected)
}

fn report(name: &str, m: &mut Measured) {
    let (p50, p99) = (m.percentile(50), m.percentile(99));
    println!(
        "{name:<30} {:>8.0} queries/s  ({} queries in {:.2} s; latency p50 {:.2} ms, p99 {:.2} ms)",
        m.per_second(),
        m.queries,
        m.elapsed.as_secs_f64(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let clients = env_or("OPENLEDGER_BENCH_CLIENTS", 4);
    let run_for = Duration::from_secs(env_or("OPENLEDGER_BENCH_SECONDS", 5));
    let node = Node::start();
    let expected = {
        let body: serde_json::Value =
            ureq::get(&format!("{}/cosmos/bank/v1beta1/balances/{}/by_denom?denom=uopen", node.rest_url(), node.dev_address))
                .call()
                .expect("first REST query")
                .into_json()
                .expect("JSON");
        body["balance"]["amount"].as_str().expect("amount").to_string()
    };
    println!("balance query of one account ({clients} concurrent clients, {} s each, keep-alive connections)", run_for.as_secs());
    // Warm-up (connections, caches), not counted.
    abci_load(&node, 1, Duration::from_millis(500), &expected);
    grpc_load(&node, 1, Duration::from_millis(500), &expected);
    rest_load(&node, 1, Duration::from_millis(500), &expected);
    let mut abci = abci_load(&node, clients, run_for, &expected);
    let mut grpc = grpc_load(&node, clients, run_for, &expected);
    let mut rest = rest_load(&node, clients, run_for, &expected);
    report("baseline: CometBFT abci_query", &mut abci);
    report("gRPC", &mut grpc);
    report("REST", &mut rest);
    println!(
        "ratio to the abci_query baseline: gRPC {:.2}x, REST {:.2}x (REST/gRPC {:.2})",
        grpc.per_second() / abci.per_second(),
        rest.per_second() / abci.per_second(),
        rest.per_second() / grpc.per_second()
    );
}
