//! `--prove` against a real node: `query inference request ID --prove` reads the request and its
//! (absent) result with ICS23 proofs and verifies them against a header the light client verified
//! from the chain's first header; a wrong trusted hash and a missing request are refused; and
//! through a lying RPC proxy (a tampered value, proof or header app hash) nothing is accepted.
//! Also `query tx HASH` on the same node.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

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
    let registered: Value = cli(&node, &["tx", "inference", "register-executor", "--models", "1", "--from", "dev"]);

    // `query tx HASH` shows the committed tx: height, code, gas, its message and events.
    let hash = registered["txhash"].as_str().expect("txhash").to_string();
    let shown: Value = cli(&node, &["query", "tx", &hash]);
    assert_eq!(shown["txhash"], hash);
    assert_eq!(shown["height"], registered["height"]);
    assert_eq!(shown["code"], 0);
    assert_eq!(shown["tx"]["messages"][0], "/openledger.inference.v1.MsgRegisterExecutor", "{shown}");
    assert!(shown["events"].as_array().is_some_and(|e| !e.is_empty()), "{shown}");
    let out = node.cli_raw(&["query", "tx", &"0".repeat(64), "--node", &rpc]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not found"));
    let out = node.cli_raw(&["query", "tx", "xyz", "--node", &rpc]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not a tx hash"));
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
    // Absence is proven unless the absent key's neighbour in the tree stores an empty value,
    // which ICS23 cannot express; the CLI then says so instead of claiming a proof.
    let how = result["proof"].as_str().unwrap();
    assert!(how.contains("non-membership") || how.contains("absence NOT proven: the neighbouring key"), "{how}");
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
    assert!(err.contains("proven absent") || err.contains("its absence cannot be proven: the neighbouring key"), "{err}");

    // A node that lies: every answer passes through a proxy that alters one thing.
    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "value",
            Arc::new(|method: &str, result: &mut Value| {
                if method == "abci_query" {
                    if let Some(v) = result["response"]["value"].as_str() {
                        let mut bytes = B64.decode(v).unwrap();
                        if let Some(i) = bytes.windows(7).position(|w| w == b"proveme") {
                            bytes[i] = b'P';
                        }
                        result["response"]["value"] = Value::String(B64.encode(bytes));
                    }
                }
            }),
            "does not verify against the app hash",
        ),
        (
            "proof",
            Arc::new(|method: &str, result: &mut Value| {
                if method == "abci_query" {
                    if let Some(d) = result["response"]["proofOps"]["ops"][0]["data"].as_str() {
                        let mut bytes = B64.decode(d).unwrap();
                        let n = bytes.len();
                        bytes[n - 3] ^= 0x01;
                        result["response"]["proofOps"]["ops"][0]["data"] = Value::String(B64.encode(bytes));
                    }
                }
            }),
            "proof",
        ),
        (
            "header app hash",
            Arc::new(|method: &str, result: &mut Value| {
                if method == "commit" {
                    result["signed_header"]["header"]["app_hash"] = Value::String("AB".repeat(32));
                }
            }),
            "light-client verification",
        ),
    ];
    for (what, tamper, needle) in cases {
        let proxy = lying_proxy(node.ports.rpc, tamper);
        let out = node.cli_raw(&["query", "inference", "request", "1", "--prove", "--node", &proxy]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a tampered {what} was accepted:\n{}", String::from_utf8_lossy(&out.stdout));
        assert!(err.contains(needle), "tampered {what}: {err}");
    }
}

/// Alters the `result` of one JSON-RPC answer, given the method.
type Tamper = Arc<dyn Fn(&str, &mut Value) + Send + Sync>;

/// A JSON-RPC proxy on a free loopback port in front of the node's RPC that applies `tamper` to
/// every answer; returns its URL.
fn lying_proxy(rpc_port: u16, tamper: Tamper) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tamper = tamper.clone();
            std::thread::spawn(move || {
                let _ = serve_one(stream, rpc_port, &*tamper);
            });
        }
    });
    url
}

fn serve_one(stream: TcpStream, rpc_port: u16, tamper: &(dyn Fn(&str, &mut Value) + Send + Sync)) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let method = request["method"].as_str().unwrap_or_default().to_string();
    let mut answer: Value = match ureq::post(&format!("http://127.0.0.1:{rpc_port}")).send_json(request) {
        Ok(r) => r.into_json().unwrap_or(Value::Null),
        Err(ureq::Error::Status(_, r)) => r.into_json().unwrap_or(Value::Null),
        Err(e) => serde_json::json!({"jsonrpc": "2.0", "id": 1, "error": {"message": e.to_string()}}),
    };
    if let Some(result) = answer.get_mut("result") {
        tamper(&method, result);
    }
    let out = serde_json::to_vec(&answer).unwrap_or_default();
    let mut stream = stream;
    write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", out.len())?;
    stream.write_all(&out)?;
    stream.flush()
}
