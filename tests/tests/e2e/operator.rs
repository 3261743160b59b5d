//! What a validator operator reads and scrapes, against a real node: the log file holds plain
//! text (no ANSI escape codes: stderr is not a terminal) with one line per committed block, and
//! both Prometheus endpoints — openledgerd's and CometBFT's, as `openledgerd init` configures
//! them — answer with the node's figures, which follow the chain (blocks, txs, results by code).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use openledger_tests::{Node, NodeOptions};

fn scrape(port: u16) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics endpoint");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
}

fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[test]
fn logs_are_plain_with_a_line_per_block_and_both_metrics_endpoints_answer() {
    let node = Node::start_with(&NodeOptions { metrics: true, ..NodeOptions::default() });
    node.wait_for_height(3, Duration::from_secs(60));

    // A tx, so txs and results by code are counted.
    let dev = node.cli(&["keys", "show", "dev"]);
    let dev: serde_json::Value = serde_json::from_str(&dev).expect("keys show JSON");
    let address = dev["address"].as_str().expect("address").to_string();
    node.cli(&["tx", "bank", "send", "dev", &address, "1uopen", "--node", &node.rpc_url()]);

    // openledgerd: the counters follow the chain (wait for the state, not a timer).
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = scrape(node.ports.metrics);
        if value(&text, "openledger_txs_total") >= 1 && value(&text, "openledger_blocks_total") >= 3 {
            break text;
        }
        assert!(Instant::now() < deadline, "metrics do not follow the chain:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(value(&text, "openledger_block_height") >= 3, "{text}");
    assert!(text.contains("openledger_tx_results_total{codespace=\"\",code=\"0\"}"), "{text}");
    assert!(value(&text, "openledger_finalize_block_seconds_count") >= 3, "{text}");
    assert!(value(&text, "openledger_checktx_accepted_total") >= 1, "{text}");
    assert!(text.contains("# TYPE openledger_commit_seconds histogram"), "{text}");

    // CometBFT's own endpoint, enabled by init.
    let comet = scrape(node.ports.comet_metrics);
    assert!(comet.contains("cometbft_consensus_height"), "{}", &comet[..comet.len().min(2000)]);

    // gRPC services client libraries read from every SDK node: the consensus params (block gas
    // limit), the node's config (minimum gas price) and status.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        use cosmos_sdk_proto::cosmos::base::node::v1beta1::service_client::ServiceClient as NodeClient;
        use cosmos_sdk_proto::cosmos::base::node::v1beta1::{ConfigRequest, StatusRequest};
        use openledger_app::grpc::ConsensusParamsResponse;
        let channel = tonic::transport::Endpoint::from_shared(node.grpc_url()).expect("endpoint").connect().await.expect("connect");
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        let path = http::uri::PathAndQuery::from_static("/cosmos.consensus.v1.Query/Params");
        let codec = tonic::codec::ProstCodec::<(), ConsensusParamsResponse>::default();
        let params = grpc.unary(tonic::Request::new(()), path, codec).await.expect("consensus params");
        let params = params.into_inner().params.expect("consensus params");
        let block = params.block.expect("block params");
        assert_eq!((block.max_bytes, block.max_gas), (4_194_304, -1), "as init's genesis sets them");
        assert_eq!(params.validator.expect("validator params").pub_key_types, vec!["ed25519".to_string()]);
        assert_eq!(params.abci.expect("abci params").vote_extensions_enable_height, 1);
        let mut client = NodeClient::connect(node.grpc_url()).await.expect("connect");
        let config = client.config(ConfigRequest {}).await.expect("config").into_inner();
        assert_eq!(config.minimum_gas_price, "0.025uopen");
        let status = client.status(StatusRequest {}).await.expect("status").into_inner();
        assert!(status.height >= 3 && status.app_hash.len() == 32 && status.timestamp.is_some(), "{status:?}");
    });

    // The same over REST, in the SDK's JSON.
    let get = |path: &str| -> serde_json::Value {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", node.ports.rest)).expect("connect REST");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {answer}"))
    };
    let params = get("/cosmos/consensus/v1/params");
    assert_eq!(params["params"]["block"]["max_gas"], "-1", "{params}");
    assert_eq!(params["params"]["evidence"]["max_age_duration"], "172800s", "{params}");
    assert_eq!(get("/cosmos/base/node/v1beta1/config")["minimum_gas_price"], "0.025uopen");
    let status = get("/cosmos/base/node/v1beta1/status");
    assert!(status["height"].as_str().and_then(|h| h.parse::<u64>().ok()).is_some_and(|h| h >= 3), "{status}");

    // The log file: plain text, one line per committed block with its figures.
    let log = node.app_log();
    assert!(!log.contains('\u{1b}'), "ANSI escape codes in the log file");
    let block_lines: Vec<&str> = log.lines().filter(|l| l.contains("committed block")).collect();
    assert!(block_lines.len() >= 3, "{log}");
    let line = block_lines.last().expect("a block line");
    for field in ["height=", "txs=", "failed=", "gas_used=", "app_hash=", "finalize_ms=", "commit_ms="] {
        assert!(line.contains(field), "{field} missing in {line:?}");
    }
}
