//! What `make run` gives a newcomer, end to end: `localnet/run-single.sh` (the script `make run`
//! runs) on a fresh home, with the release `open-executor` and the bundled SmolLM2-135M-Instruct
//! GGUF, on free loopback ports. It must initialize the chain with SmolLM2 as base model 1 served
//! by this validator (its chat template pinned), start the executor, seed the demo (two funded
//! contributors, a published datanet, a fine-tune of SmolLM2 on it trained and attested by the
//! validator), and then answer `openledgerd tx inference request` on the demo adapter through
//! the model's chat template, paying the demo contributors through Proof of Attribution. The
//! demo also re-registers the validator's executor with the hardware class its Health reports.
//! Everything is waited for by polling state (demo.json, the request's status), never a timer.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openledger_tests::{cometbft_bin, free_port_block, open_executor_bin, openledgerd_bin, tail};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn smollm2() -> PathBuf {
    let path = std::env::var("OPEN_EXECUTOR_SMOLLM2_GGUF").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    });
    assert!(path.exists(), "{} is missing: `make executor-model` fetches it (`make test` does)", path.display());
    path
}

/// The running script; its whole process group is stopped on drop (as Ctrl-C would).
struct Run {
    child: Child,
    home: PathBuf,
    out: PathBuf,
}

impl Run {
    fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- run-single.sh\n{}\n--- openledgerd.log\n{}\n--- executor.log\n{}\n--- demo.log\n{}",
            tail(&read(&self.out), 40),
            tail(&read(&self.home.join("openledgerd.log")), 40),
            tail(&read(&self.home.join("executor.log")), 20),
            tail(&read(&self.home.join("demo.log")), 20)
        )
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Every JSON document the CLI printed on stdout, in order.
fn json_documents(stdout: &[u8]) -> Vec<Value> {
    serde_json::Deserializer::from_slice(stdout).into_iter::<Value>().filter_map(Result::ok).collect()
}

fn cli(home: &Path, args: &[&str]) -> (Vec<Value>, String) {
    let out = Command::new(openledgerd_bin()).arg("--home").arg(home).args(args).output().expect("run openledgerd");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "openledgerd {args:?} failed:\n{stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    (json_documents(&out.stdout), stderr)
}

fn rest(port: u16, path: &str) -> Value {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect REST");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    std::io::Write::write_all(&mut stream, format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes())
        .expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    serde_json::from_slice(&answer[split + 4..]).unwrap_or(Value::Null)
}

fn balance(port: u16, address: &str) -> u128 {
    let v = rest(port, &format!("/cosmos/bank/v1beta1/balances/{address}/by_denom?denom=uopen"));
    v["balance"]["amount"].as_str().and_then(|a| a.parse().ok()).unwrap_or(0)
}

#[test]
fn make_run_serves_smollm2_a_demo_datanet_and_a_fine_tuned_adapter() {
    let root = repo();
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    let out = dir.path().join("run.out");
    let base = free_port_block(8);
    let (rpc, p2p, abci, grpc, api, executor) = (base, base + 1, base + 2, base + 3, base + 4, base + 5);
    let init_args = format!(
        "--rpc-laddr tcp://127.0.0.1:{rpc} --p2p-laddr tcp://127.0.0.1:{p2p} --abci-addr 127.0.0.1:{abci} \
         --grpc-addr 127.0.0.1:{grpc} --api-addr 127.0.0.1:{api} --metrics-addr 127.0.0.1:{} \
         --comet-metrics-addr 127.0.0.1:{} --timeout-commit 500ms",
        base + 6,
        base + 7
    );
    let log = std::fs::File::create(&out).expect("log file");
    let mut command = Command::new("bash");
    command
        .arg(root.join("localnet/run-single.sh"))
        .current_dir(&root)
        .env("OPEN_HOME", &home)
        .env("OPENLEDGERD", openledgerd_bin())
        .env("COMETBFT", cometbft_bin())
        .env("OPEN_EXECUTOR", open_executor_bin())
        .env("EXECUTOR_MODEL", smollm2())
        .env("EXECUTOR_PORT", executor.to_string())
        .env("OPEN_INIT_ARGS", init_args)
        .env("WEB_DIR", root.join("web/dist"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let started = Instant::now();
    let mut run = Run { child: command.spawn().expect("start run-single.sh"), home: home.clone(), out };

    // The demo is seeded once the executor answers and the fine-tune is attested.
    let deadline = Instant::now() + Duration::from_secs(1500);
    let demo: Value = loop {
        if let Ok(text) = std::fs::read_to_string(home.join("demo.json")) {
            break serde_json::from_str(&text).expect("demo.json");
        }
        if let Ok(Some(status)) = run.child.try_wait() {
            panic!("run-single.sh exited ({status}) before the demo was ready\n{}", run.logs());
        }
        assert!(Instant::now() < deadline, "demo not ready in time\n{}", run.logs());
        std::thread::sleep(Duration::from_millis(500));
    };
    let demo_ready = started.elapsed();
    let printed = std::fs::read_to_string(&run.out).unwrap_or_default();
    assert!(printed.contains(&format!("Web app: http://127.0.0.1:{api}/app/")), "the URL is printed:\n{printed}");
    assert!(printed.contains("open-executor started"), "{printed}");

    // SmolLM2 is base model 1 with its GGUF chat template pinned; this validator serves it.
    let model = rest(api, "/openledger/model/v1/base_models/1");
    let template_hash = model["base_model"]["chat_template_hash"].as_str().unwrap_or_default().to_string();
    assert_eq!(template_hash.len(), 64, "{model}");
    let adapter_id = demo["adapter_id"].as_str().expect("the demo made an adapter").to_string();
    let lineage = rest(api, &format!("/openledger/model/v1/adapters/{adapter_id}"));
    assert_eq!(lineage["adapter"]["datanet_versions"][0]["datanet_id"], demo["datanet_id"], "{lineage}");
    let contributors: Vec<String> = demo["contributors"]
        .as_array()
        .expect("contributors")
        .iter()
        .map(|c| c["address"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(contributors.len(), 2);
    let before: Vec<u128> = contributors.iter().map(|a| balance(api, a)).collect();

    // Genesis registered the executor before it ran; the demo recorded its hardware class.
    let health = openledger_app::inference::executor_health(&format!("http://127.0.0.1:{executor}")).expect("executor Health");
    assert!(!health.hardware_class.is_empty(), "the executor reports no hardware class");
    let executors = rest(api, "/openledger/inference/v1/executors");
    assert_eq!(executors["executors"][0]["hardware_class"], health.hardware_class.as_str(), "{executors}\n{}", run.logs());

    // A newcomer's question, on the demo adapter: rendered with the chat template, answered.
    let node = format!("http://127.0.0.1:{rpc}");
    let question = "What is open data?";
    let (docs, stderr) = cli(
        &home,
        &[
            "tx",
            "inference",
            "request",
            "--model",
            "1",
            "--adapter",
            &adapter_id,
            "--prompt",
            question,
            "--max-tokens",
            "64",
            "--fee",
            "100000uopen",
            "--from",
            "dev",
            "--node",
            &node,
            "--wait-seconds",
            "300",
        ],
    );
    assert!(stderr.contains("(chat, through the model's template)"), "{stderr}");
    let answered = docs.last().expect("request JSON").clone();
    assert_eq!(answered["status"], "completed", "{answered}\n{}", run.logs());
    assert_eq!(answered["messages"], serde_json::json!([{"role": "user", "content": question}]), "{answered}");
    assert_eq!(answered["chat_template_hash"], template_hash.as_str());
    assert_eq!(answered["prompt"], "");
    let text = answered["result"]["text"].as_str().unwrap_or_default().to_string();
    eprintln!("demo adapter answers {question:?}: {text:?}");
    eprintln!(
        "timing: demo seeded and its adapter attested {:.1} s after the script started; the answer took {:.1} s more",
        demo_ready.as_secs_f64(),
        (started.elapsed() - demo_ready).as_secs_f64()
    );
    assert!(text.split_whitespace().count() >= 5, "a real answer, not a fragment: {text:?}");
    assert!(!text.trim_start().starts_with("The answer is"), "{text:?}");
    assert!(answered["result"]["votes"].as_array().is_some_and(|v| v.iter().all(|v| v["vote"] == "agreed")), "{answered}");

    // Proof of Attribution paid the demo contributors from the fee.
    let request_id = answered["id"].as_str().expect("id").to_string();
    let (record, _) = cli(&home, &["query", "attribution", "record", &request_id, "--node", &node]);
    let paid: u128 = answered["result"]["paid_contributors"].as_str().and_then(|p| p.parse().ok()).unwrap_or(0);
    assert!(paid > 0, "the answer matched no row of the demo datanet: {text:?}\n{}", record.last().cloned().unwrap_or_default());
    let after: Vec<u128> = contributors.iter().map(|a| balance(api, a)).collect();
    let gained: u128 = after.iter().zip(&before).map(|(a, b)| a.saturating_sub(*b)).sum();
    assert_eq!(gained, paid, "the contributors received exactly what the result says they were paid");

    // The script stops everything it started on Ctrl-C / TERM (checked by Drop's process-group kill).
    drop(run);
}
