//! Test harness: starts a real single-validator chain — `openledgerd` (ABCI + gRPC) and the real
//! CometBFT v0.38 binary — on free loopback ports with a temporary home, and tears it down;
//! [`Localnet`] does the same for an N-validator network (`openledgerd testnet`), optionally with
//! one `open-executor` per validator.
//! Binaries are found through `OPENLEDGERD_BIN` / `COMETBFT_BIN`, else next to the test binary
//! (`target/<profile>/openledgerd`) and in `./bin` or `~/.cache/openledger/bin`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openledger_app::rpc_client::CometRpc;

/// Finds the `openledgerd` binary built by cargo.
pub fn openledgerd_bin() -> PathBuf {
    if let Ok(p) = std::env::var("OPENLEDGERD_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/e2e-<hash> → target/<profile>/openledgerd
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let candidate = profile_dir.join("openledgerd");
    assert!(
        candidate.exists(),
        "{} not found: build it first (`cargo build -p openledger-app --bin openledgerd`, done by `make test`)",
        candidate.display()
    );
    candidate
}

/// Finds the CometBFT v0.38 binary installed by `make install-deps`.
pub fn cometbft_bin() -> PathBuf {
    if let Ok(p) = std::env::var("COMETBFT_BIN") {
        return PathBuf::from(p);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let home = std::env::var("HOME").unwrap_or_default();
    for c in [repo.join("bin/cometbft"), PathBuf::from(home).join(".cache/openledger/bin/cometbft")] {
        if c.exists() {
            return c;
        }
    }
    PathBuf::from("cometbft")
}

/// A tool a make target installs into `./bin`: `$env_var`, else `./bin/<name>`, else `<name>`
/// next to [`cometbft_bin`]; panics naming the make target when none exists.
fn installed_tool(env_var: &str, name: &str, target: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env_var) {
        return PathBuf::from(p);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let beside = cometbft_bin().with_file_name(name);
    let found = [repo.join("bin").join(name), beside].into_iter().find(|c| c.exists());
    found.unwrap_or_else(|| panic!("{name} not found: install it with `make {target}` (done by `make test`) or set {env_var}"))
}

/// Finds the fault-injection CometBFT built by `make cometbft-skew` (the pinned version with
/// `cmttime.Now()` offset by `CMT_CLOCK_SKEW`): `COMETBFT_SKEW_BIN`, else `./bin/cometbft-skew`,
/// else `cometbft-skew` next to [`cometbft_bin`].
pub fn cometbft_skew_bin() -> PathBuf {
    installed_tool("COMETBFT_SKEW_BIN", "cometbft-skew", "cometbft-skew")
}

/// Finds the Hermes IBC relayer installed by `make hermes` (done by `make test`): `HERMES_BIN`,
/// else `./bin/hermes`, else `hermes` next to [`cometbft_bin`].
pub fn hermes_bin() -> PathBuf {
    installed_tool("HERMES_BIN", "hermes", "hermes")
}

/// Nanoseconds since the epoch of a CometBFT RFC 3339 timestamp (UTC, `Z`, as its RPC prints
/// block and vote times).
pub fn rfc3339_nanos(t: &str) -> i128 {
    let (date, rest) = t.split_once('T').expect("T");
    let mut d = date.split('-').map(|x| x.parse::<i64>().expect("date"));
    let (y, m, day) = (d.next().expect("y"), d.next().expect("m"), d.next().expect("d"));
    let rest = rest.trim_end_matches('Z');
    let (hms, frac) = rest.split_once('.').unwrap_or((rest, "0"));
    let mut p = hms.split(':').map(|x| x.parse::<i64>().expect("time"));
    let (hh, mm, ss) = (p.next().expect("h"), p.next().expect("m"), p.next().expect("s"));
    let frac_ns: i64 = format!("{frac:0<9}")[..9].parse().expect("frac");
    // Days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    i128::from(((days * 24 + hh) * 60 + mm) * 60 + ss) * 1_000_000_000 + i128::from(frac_ns)
}

/// Parses `text` as JSON, panicking with the text when it is not (CLI output in tests).
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Polls `f` until it holds; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The services gRPC server reflection lists on `channel`, asked in v1 and in v1alpha (the
/// SDK serves both: grpcurl and newer clients speak v1, older ones only v1alpha).
pub async fn reflection_services(channel: tonic::transport::Channel) -> (Vec<String>, Vec<String>) {
    use tonic_reflection::pb::{v1, v1alpha};
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let ask = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut answers = client.server_reflection_info(tokio_stream::once(ask)).await.expect("v1 reflection").into_inner();
    let v1_listed = match answers.message().await.expect("v1 answer").and_then(|r| r.message_response) {
        Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(l)) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("v1 reflection answered {other:?}"),
    };
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let ask = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut answers = client.server_reflection_info(tokio_stream::once(ask)).await.expect("v1alpha reflection").into_inner();
    let v1alpha_listed = match answers.message().await.expect("v1alpha answer").and_then(|r| r.message_response) {
        Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("v1alpha reflection answered {other:?}"),
    };
    (v1_listed, v1alpha_listed)
}

/// A free loopback port (bound then released), from [`free_port_block`].
pub fn free_port() -> u16 {
    free_port_block(1)
}

/// Ports of one node.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// CometBFT RPC.
    pub rpc: u16,
    /// CometBFT P2P.
    pub p2p: u16,
    /// ABCI.
    pub abci: u16,
    /// gRPC.
    pub grpc: u16,
    /// REST (LCD).
    pub rest: u16,
    /// openledgerd's Prometheus endpoint.
    pub metrics: u16,
    /// CometBFT's Prometheus endpoint.
    pub comet_metrics: u16,
}

impl Ports {
    /// Free loopback ports for one node (the metrics ports only when `opts` asks for metrics).
    fn fresh(opts: &NodeOptions) -> Self {
        let base = free_port_block(7);
        let metrics = |offset: u16| if opts.metrics { base + offset } else { 0 };
        Ports { rpc: base, p2p: base + 1, abci: base + 2, grpc: base + 3, rest: base + 4, metrics: metrics(5), comet_metrics: metrics(6) }
    }
}

/// Where a node's home lives: its own temporary directory, or a directory owned by someone
/// else (a [`Localnet`]'s node homes share one temporary directory).
enum HomeDir {
    Temp(tempfile::TempDir),
    Path(PathBuf),
}

impl HomeDir {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(t) => t.path(),
            Self::Path(p) => p,
        }
    }
}

/// A running single-validator chain (or one node of a [`Localnet`]).
pub struct Node {
    home: HomeDir,
    /// Ports in use.
    pub ports: Ports,
    app: Option<Child>,
    comet: Option<Child>,
    /// `CMT_CLOCK_SKEW` of its CometBFT: set, it runs [`cometbft_skew_bin`] with that offset.
    clock_skew: Option<String>,
    /// Dev account mnemonic (funded at genesis).
    pub dev_mnemonic: String,
    /// Dev account address.
    pub dev_address: String,
}

fn log_file(home: &Path, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new().create(true).append(true).open(home.join(name)).expect("log file")
}

/// Chain parameters a test may shorten (written into the genesis by `openledgerd init`).
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Unbonding period, seconds.
    pub unbonding_seconds: u64,
    /// Liveness window, blocks.
    pub signed_blocks_window: i64,
    /// Jail time after downtime, seconds.
    pub downtime_jail_seconds: u64,
    /// Block time (CometBFT timeout_commit).
    pub timeout_commit: String,
    /// Gov voting period, seconds.
    pub voting_period_seconds: u64,
    /// Gov deposit period, seconds.
    pub max_deposit_period_seconds: u64,
    /// Extra `openledgerd start` flags (`--web-dir DIR`, `--serve-dev-account`).
    pub app_args: Vec<String>,
    /// Serve both Prometheus endpoints (on `ports.metrics` / `ports.comet_metrics`). Off by
    /// default: two more free ports per node, and CometBFT refuses to start when its metrics
    /// port was taken meanwhile.
    pub metrics: bool,
    /// Chain id (default: `openledgerd init`'s).
    pub chain_id: Option<String>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            unbonding_seconds: 21 * 24 * 3600,
            signed_blocks_window: 100,
            downtime_jail_seconds: 600,
            timeout_commit: "300ms".into(),
            voting_period_seconds: 2 * 24 * 3600,
            max_deposit_period_seconds: 2 * 24 * 3600,
            app_args: Vec::new(),
            metrics: false,
            chain_id: None,
        }
    }
}

fn init_home(home: &Path, ports: Ports, opts: &NodeOptions) {
    let out = Command::new(openledgerd_bin())
        .args(["init", "--home"])
        .arg(home)
        .args(["--rpc-laddr", &format!("tcp://127.0.0.1:{}", ports.rpc)])
        .args(["--p2p-laddr", &format!("tcp://127.0.0.1:{}", ports.p2p)])
        .args(["--abci-addr", &format!("127.0.0.1:{}", ports.abci)])
        .args(["--grpc-addr", &format!("127.0.0.1:{}", ports.grpc)])
        .args(["--api-addr", &format!("127.0.0.1:{}", ports.rest)])
        .args(["--metrics-addr", &if opts.metrics { format!("127.0.0.1:{}", ports.metrics) } else { String::new() }])
        .args(["--comet-metrics-addr", &if opts.metrics { format!("127.0.0.1:{}", ports.comet_metrics) } else { String::new() }])
        .args(["--timeout-commit", &opts.timeout_commit])
        .args(["--unbonding-seconds", &opts.unbonding_seconds.to_string()])
        .args(["--signed-blocks-window", &opts.signed_blocks_window.to_string()])
        .args(["--downtime-jail-seconds", &opts.downtime_jail_seconds.to_string()])
        .args(["--voting-period-seconds", &opts.voting_period_seconds.to_string()])
        .args(["--max-deposit-period-seconds", &opts.max_deposit_period_seconds.to_string()])
        .args(opts.chain_id.iter().flat_map(|id| ["--chain-id", id.as_str()]))
        .output()
        .expect("run openledgerd init");
    assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
}

impl Node {
    /// Inits a home and starts openledgerd and CometBFT; returns once block 2 is committed.
    pub fn start() -> Self {
        Self::start_with(&NodeOptions::default())
    }

    /// Like [`Node::start`] with chain parameters.
    pub fn start_with(opts: &NodeOptions) -> Self {
        let home = tempfile::tempdir().expect("tempdir");
        let ports = Ports::fresh(opts);
        init_home(home.path(), ports, opts);
        let dev: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(home.path().join("dev-account.json")).expect("dev-account.json")).expect("json");
        let mut node = Self {
            home: HomeDir::Temp(home),
            ports,
            app: None,
            comet: None,
            clock_skew: None,
            dev_mnemonic: dev["mnemonic"].as_str().unwrap_or_default().to_string(),
            dev_address: dev["address"].as_str().unwrap_or_default().to_string(),
        };
        let extra: Vec<&str> = opts.app_args.iter().map(String::as_str).collect();
        node.start_app_with(&extra);
        node.start_comet();
        node.wait_for_height(2, Duration::from_secs(60));
        node
    }

    /// A second node of the same chain: its own keys and ports, `first`'s genesis, `first` as
    /// persistent peer. It follows the chain as a full node until it becomes a validator.
    pub fn join(first: &Node, opts: &NodeOptions) -> Self {
        let mut node = Self::prepare_join(first, opts);
        node.start_app();
        node.start_comet();
        node.wait_for_height(first.height(), Duration::from_secs(60));
        node
    }

    /// The home of a node that would [`Node::join`] `first`, with nothing started.
    pub fn prepare_join(first: &Node, opts: &NodeOptions) -> Self {
        let home = tempfile::tempdir().expect("tempdir");
        let ports = Ports::fresh(opts);
        init_home(home.path(), ports, opts);
        std::fs::copy(first.home().join("config/genesis.json"), home.path().join("config/genesis.json")).expect("copy genesis");
        let status = first.rpc().status().expect("status of the first node");
        let peer_id = status["node_info"]["id"].as_str().unwrap_or_default().to_string();
        let config = home.path().join("config/config.toml");
        let text = std::fs::read_to_string(&config).expect("config.toml");
        let text = text.replace("persistent_peers = \"\"", &format!("persistent_peers = \"{peer_id}@127.0.0.1:{}\"", first.ports.p2p));
        std::fs::write(&config, text).expect("write config.toml");
        let dev: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(home.path().join("dev-account.json")).expect("dev-account.json")).expect("json");
        Self {
            home: HomeDir::Temp(home),
            ports,
            app: None,
            comet: None,
            clock_skew: None,
            dev_mnemonic: dev["mnemonic"].as_str().unwrap_or_default().to_string(),
            dev_address: dev["address"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// Turns on CometBFT's state sync in this (not yet started) node's config: it fetches a
    /// snapshot from its peers and verifies it with a light client against `rpc_servers`,
    /// trusting the block `trust_hash` at `trust_height`.
    pub fn enable_state_sync(&self, rpc_servers: &[String], trust_height: i64, trust_hash: &str) {
        let config = self.home().join("config/config.toml");
        let mut text = std::fs::read_to_string(&config).expect("config.toml");
        text.push_str(&format!(
            "\n[statesync]\nenable = true\nrpc_servers = \"{}\"\ntrust_height = {trust_height}\ntrust_hash = \"{trust_hash}\"\n\
             trust_period = \"168h0m0s\"\ndiscovery_time = \"5s\"\nchunk_request_timeout = \"10s\"\n",
            rpc_servers.join(",")
        ));
        std::fs::write(&config, text).expect("write config.toml");
    }

    /// Runs `openledgerd ARGS --home <home>` (CLI txs get `--node <rpc>` and a fast gas setting
    /// added by the caller) and returns stdout; panics with stderr on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.cli_raw(args);
        assert!(
            out.status.success(),
            "openledgerd {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Like [`Node::cli`] without the success check.
    pub fn cli_raw(&self, args: &[&str]) -> std::process::Output {
        Command::new(openledgerd_bin()).args(args).arg("--home").arg(self.home.path()).output().expect("run openledgerd")
    }

    /// The node home.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// CometBFT RPC URL.
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.rpc)
    }

    /// gRPC URL.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.grpc)
    }

    /// REST (LCD) URL.
    pub fn rest_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.rest)
    }

    /// A CometBFT RPC client.
    pub fn rpc(&self) -> CometRpc {
        CometRpc::new(&self.rpc_url())
    }

    /// Starts openledgerd and waits until its ABCI port accepts connections.
    pub fn start_app(&mut self) {
        self.start_app_with(&[]);
    }

    /// Process id of openledgerd while it runs.
    pub fn app_pid(&self) -> Option<u32> {
        self.app.as_ref().map(Child::id)
    }

    /// Whether openledgerd is still running.
    pub fn app_alive(&mut self) -> bool {
        matches!(self.app.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Exit code of openledgerd once it has stopped on its own (`None` while it runs).
    pub fn app_exit_code(&mut self) -> Option<i32> {
        match self.app.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(status))) => status.code(),
            _ => None,
        }
    }

    /// Like [`Node::start_app`] with extra `openledgerd start` flags (`--apply-upgrade NAME`).
    pub fn start_app_with(&mut self, extra: &[&str]) {
        self.start_app_with_env(extra, &[]);
    }

    /// Like [`Node::start_app_with`] with extra environment variables for openledgerd (e.g.
    /// `OPENLEDGER_CRASH_AT`).
    pub fn start_app_with_env(&mut self, extra: &[&str], env: &[(&str, &str)]) {
        let child = Command::new(openledgerd_bin())
            .args(["start", "--home"])
            .arg(self.home.path())
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::from(log_file(self.home.path(), "app.log")))
            .stderr(Stdio::from(log_file(self.home.path(), "app.log")))
            .spawn()
            .expect("spawn openledgerd");
        self.app = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.ports.abci)).is_err() {
            assert!(Instant::now() < deadline, "openledgerd did not open its ABCI port; log:\n{}", self.app_log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Skews the wall clock of this node's CometBFT from its next [`Node::start_comet`] on:
    /// `Some("+30s")` runs [`cometbft_skew_bin`] with `CMT_CLOCK_SKEW=+30s` (its vote and proposal
    /// timestamps and round timing read that clock), `None` the ordinary binary.
    pub fn set_clock_skew(&mut self, skew: Option<&str>) {
        self.clock_skew = skew.map(str::to_string);
    }

    /// Starts CometBFT (with its clock skewed when [`Node::set_clock_skew`] asked for it).
    pub fn start_comet(&mut self) {
        let mut command = match &self.clock_skew {
            Some(skew) => {
                let mut c = Command::new(cometbft_skew_bin());
                c.env("CMT_CLOCK_SKEW", skew);
                c
            }
            None => Command::new(cometbft_bin()),
        };
        let child = command
            .args(["start", "--home"])
            .arg(self.home.path())
            .stdout(Stdio::from(log_file(self.home.path(), "cometbft.log")))
            .stderr(Stdio::from(log_file(self.home.path(), "cometbft.log")))
            .spawn()
            .expect("spawn cometbft (run `make install-deps`)");
        self.comet = Some(child);
    }

    /// SIGKILLs openledgerd.
    pub fn kill_app(&mut self) {
        if let Some(mut c) = self.app.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILLs CometBFT.
    pub fn kill_comet(&mut self) {
        if let Some(mut c) = self.comet.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether CometBFT is still running.
    pub fn comet_alive(&mut self) -> bool {
        matches!(self.comet.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The app's log so far.
    pub fn app_log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("app.log")).unwrap_or_default()
    }

    /// CometBFT's log so far.
    pub fn comet_log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("cometbft.log")).unwrap_or_default()
    }

    /// The height the app has committed, 0 when the RPC is not up.
    pub fn height(&self) -> i64 {
        // The app's committed height, not `/status`'s: CometBFT stores a block before the app
        // commits it, and a test waiting for a height waits for the state at that height.
        self.rpc().app_height().unwrap_or(0)
    }

    /// Blocks until the chain reaches `height`.
    pub fn wait_for_height(&self, height: i64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.height() >= height {
                return;
            }
            assert!(Instant::now() < deadline, "chain did not reach height {height}; cometbft log tail:\n{}", tail(&self.comet_log(), 40));
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Last `n` lines of a log.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_comet();
        self.kill_app();
    }
}

/// Finds the `open-executor` binary: `OPEN_EXECUTOR`, else `./bin/open-executor`, else the
/// executor workspace's release build (`~/.cache/openledger/target-executor/release`, made by
/// `make test-executor` / `make localnet`), else `open-executor` on the PATH.
pub fn open_executor_bin() -> PathBuf {
    if let Ok(p) = std::env::var("OPEN_EXECUTOR") {
        return PathBuf::from(p);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let home = std::env::var("HOME").unwrap_or_default();
    for c in [repo.join("bin/open-executor"), PathBuf::from(home).join(".cache/openledger/target-executor/release/open-executor")] {
        if c.exists() {
            return c;
        }
    }
    PathBuf::from("open-executor")
}

/// A block of `count` consecutive free loopback ports (each bound then released).
///
/// Blocks come from below the kernel's ephemeral range (32768 and up), so the outgoing
/// connections of parallel tests cannot take a port between its check and its use, and from one
/// process-wide cursor, so two tests of this process never get the same port. The cursor
/// starts at an offset derived from the process id so concurrent test binaries start apart.
pub fn free_port_block(count: u16) -> u16 {
    const LOW: u16 = 20_000;
    const HIGH: u16 = 32_000;
    static CURSOR: std::sync::Mutex<u16> = std::sync::Mutex::new(0);
    let mut cursor = CURSOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if *cursor == 0 {
        let span = u32::from(HIGH - LOW);
        *cursor = LOW + u16::try_from(std::process::id().wrapping_mul(2_654_435_761) % span).unwrap_or(0) / 10 * 10;
    }
    for _ in 0..2_000 {
        if *cursor + count >= HIGH {
            *cursor = LOW;
        }
        let base = *cursor;
        *cursor += count;
        let held: Vec<TcpListener> = (0..count).map_while(|k| TcpListener::bind(("127.0.0.1", base + k)).ok()).collect();
        if held.len() == usize::from(count) {
            return base;
        }
    }
    panic!("no block of {count} free loopback ports found")
}

/// How a [`Localnet`] is set up.
#[derive(Debug, Clone)]
pub struct LocalnetOptions {
    /// Chain parameters (block time, unbonding, slashing window, gov periods).
    pub chain: NodeOptions,
    /// Generate a tiny random Llama with `open-executor fixture llama` and register it at genesis
    /// as base model 1, served by the validators in `executors`.
    pub tiny_model: bool,
    /// Validators that run an `open-executor` (and are registered as executors of the model);
    /// `None`: all of them. Ignored without `tiny_model`.
    pub executors: Option<Vec<usize>>,
    /// Extra `openledgerd start` flags per validator, e.g. `(1, vec!["--inference-byzantine"])`.
    pub app_args: Vec<(usize, Vec<String>)>,
    /// Extra `openledgerd testnet` flags.
    pub testnet_args: Vec<String>,
    /// Connect the validators' P2P through loopback TCP proxies (one per ordered pair, peer
    /// exchange off), so a test can partition a validator ([`Localnet::partition`]).
    pub via_proxies: bool,
    /// Validators whose CometBFT runs with a skewed wall clock, e.g. `(3, "+5m")` (see
    /// [`Node::set_clock_skew`]).
    pub clock_skew: Vec<(usize, String)>,
}

impl Default for LocalnetOptions {
    fn default() -> Self {
        Self {
            chain: NodeOptions { timeout_commit: "500ms".into(), ..NodeOptions::default() },
            tiny_model: false,
            executors: None,
            app_args: Vec::new(),
            testnet_args: Vec::new(),
            via_proxies: false,
            clock_skew: Vec::new(),
        }
    }
}

/// A loopback TCP proxy that can be cut: while cut it closes every connection it carries and
/// every new one, as a network partition does to CometBFT's P2P.
pub struct P2pProxy {
    /// The validator the proxy's clients are.
    pub from: usize,
    /// The validator it forwards to.
    pub to: usize,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    live: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl P2pProxy {
    /// Listens on `listen` and forwards each connection to `target` (both loopback ports).
    fn start(from: usize, to: usize, listen: u16, target: u16) -> Self {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind(("127.0.0.1", listen)).expect("bind a P2P proxy");
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let live: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>> = std::sync::Arc::default();
        let (cut2, live2) = (cut.clone(), live.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if cut2.load(Ordering::Acquire) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else { continue };
                let mut tracked = live2.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                for s in [&client, &server] {
                    if let Ok(c) = s.try_clone() {
                        tracked.push(c);
                    }
                }
                drop(tracked);
                for (mut a, mut b) in [(client.try_clone(), server.try_clone()), (server.try_clone(), client.try_clone())]
                    .into_iter()
                    .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut a, &mut b);
                        let _ = b.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self { from, to, cut, live }
    }

    /// Cuts (or heals) the link: cutting closes the connections it carries.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::Release);
        if cut {
            for s in self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// One validator of a [`Localnet`]: its openledgerd and CometBFT (a [`Node`]) and, optionally,
/// its `open-executor`.
pub struct LocalnetNode {
    /// The node (home, ports, CLI, processes).
    pub node: Node,
    /// Its entry in `localnet.json` (ports, node id, operator and account addresses).
    pub info: openledger_app::testnet::LocalnetNode,
    /// Extra `openledgerd start` flags.
    pub app_args: Vec<String>,
    executor: Option<Child>,
    /// The model directory its executor serves (`None`: runs no executor).
    executor_model: Option<PathBuf>,
    /// The other validators' executor ports: its executor fetches adapters it lacks from them.
    executor_peers: Vec<u16>,
}

impl LocalnetNode {
    fn start_executor(&mut self) {
        let Some(model) = self.executor_model.clone() else { return };
        let port = self.info.executor_port;
        let child = Command::new(open_executor_bin())
            .arg("serve")
            .arg("--model")
            .arg(&model)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--threads", "1"])
            // Its own adapter store: adapters it did not train or get reach it only from peers.
            .arg("--adapter-store")
            .arg(self.node.home().join("executor-adapters"))
            .args(self.executor_peers.iter().flat_map(|p| ["--peer".to_string(), format!("http://127.0.0.1:{p}")]))
            .stdout(Stdio::from(log_file(self.node.home(), "executor.log")))
            .stderr(Stdio::from(log_file(self.node.home(), "executor.log")))
            .spawn()
            .expect("spawn open-executor (run `make test-executor` or set OPEN_EXECUTOR)");
        self.executor = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = matches!(self.executor.as_mut().map(|c| c.try_wait()), Some(Ok(Some(_))));
            assert!(!exited && Instant::now() < deadline, "open-executor did not open port {port}; log:\n{}", self.executor_log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill_executor(&mut self) {
        if let Some(mut c) = self.executor.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restarts its executor with an empty adapter store: it then holds no adapter it trained or
    /// fetched, and must fetch any it is asked for from its peers.
    pub fn restart_executor_without_adapters(&mut self) {
        self.kill_executor();
        let store = self.node.home().join("executor-adapters");
        if store.exists() {
            std::fs::remove_dir_all(&store).expect("wipe the executor's adapter store");
        }
        self.start_executor();
    }

    /// The executor's log so far (empty when it runs none).
    pub fn executor_log(&self) -> String {
        std::fs::read_to_string(self.node.home().join("executor.log")).unwrap_or_default()
    }

    /// Whether this validator runs an executor.
    pub fn has_executor(&self) -> bool {
        self.executor_model.is_some()
    }
}

impl Drop for LocalnetNode {
    fn drop(&mut self) {
        self.kill_executor();
    }
}

/// An N-validator network on loopback: `openledgerd testnet` homes in a temporary directory,
/// one openledgerd + CometBFT (+ open-executor) per validator. Drop kills everything.
pub struct Localnet {
    /// The validators, in index order.
    pub nodes: Vec<LocalnetNode>,
    /// `localnet.json`.
    pub info: openledger_app::testnet::LocalnetInfo,
    /// The tiny model's directory, when `tiny_model` was set.
    pub model_dir: Option<PathBuf>,
    /// The P2P proxies, with `via_proxies`.
    pub proxies: Vec<P2pProxy>,
    // Last: removed after every process above was killed.
    dir: tempfile::TempDir,
}

impl Localnet {
    /// Writes the network with `openledgerd testnet`, starts executors, apps and CometBFT nodes,
    /// and returns once every node has committed block 2.
    pub fn start(n: usize, opts: &LocalnetOptions) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = free_port_block(openledger_app::testnet::PORTS_PER_NODE * u16::try_from(n).expect("node count"));
        let mut args: Vec<String> = vec![
            "testnet".into(),
            "--validators".into(),
            n.to_string(),
            "--output".into(),
            dir.path().join("net").display().to_string(),
            "--chain-id".into(),
            "openledger-localnet-1".into(),
            "--base-port".into(),
            base.to_string(),
            "--timeout-commit".into(),
            opts.chain.timeout_commit.clone(),
            "--unbonding-seconds".into(),
            opts.chain.unbonding_seconds.to_string(),
            "--signed-blocks-window".into(),
            opts.chain.signed_blocks_window.to_string(),
            "--downtime-jail-seconds".into(),
            opts.chain.downtime_jail_seconds.to_string(),
            "--voting-period-seconds".into(),
            opts.chain.voting_period_seconds.to_string(),
            "--max-deposit-period-seconds".into(),
            opts.chain.max_deposit_period_seconds.to_string(),
        ];
        let executors: Vec<usize> = if opts.tiny_model { opts.executors.clone().unwrap_or_else(|| (0..n).collect()) } else { Vec::new() };
        let model_dir = opts.tiny_model.then(|| {
            let model = dir.path().join("tiny-llama");
            let out = Command::new(open_executor_bin())
                .args(["fixture", "llama", "--out"])
                .arg(&model)
                .args(["--seed", "7"])
                .output()
                .expect("run open-executor fixture llama (run `make test-executor` or set OPEN_EXECUTOR)");
            assert!(out.status.success(), "open-executor fixture llama failed: {}", String::from_utf8_lossy(&out.stderr));
            model
        });
        if let Some(model) = &model_dir {
            args.push("--model".into());
            args.push(model.display().to_string());
        }
        for i in (0..n).filter(|i| !executors.contains(i)) {
            args.push("--without-executor".into());
            args.push(i.to_string());
        }
        args.extend(opts.testnet_args.iter().cloned());
        let out = Command::new(openledgerd_bin()).args(&args).output().expect("run openledgerd testnet");
        assert!(out.status.success(), "openledgerd testnet failed: {}", String::from_utf8_lossy(&out.stderr));
        let info = openledger_app::testnet::LocalnetInfo::load(&dir.path().join("net")).expect("localnet.json");
        if let (Some(model), Some(registered)) = (&model_dir, info.models.first()) {
            // The chain registered what the executor will report as the weights hash.
            let out = Command::new(open_executor_bin()).arg("hash").arg(model).output().expect("run open-executor hash");
            let printed = String::from_utf8_lossy(&out.stdout);
            assert_eq!(printed.trim(), registered.weights_hash, "open-executor hash disagrees with the genesis weights hash");
        }

        let mut nodes: Vec<LocalnetNode> = info
            .nodes
            .iter()
            .map(|ni| {
                let ports = Ports {
                    rpc: ni.rpc_port,
                    p2p: ni.p2p_port,
                    abci: ni.abci_port,
                    grpc: ni.grpc_port,
                    rest: ni.api_port,
                    // As `openledgerd testnet` lays them out.
                    metrics: ni.api_port - 5 + 6,
                    comet_metrics: ni.api_port - 5 + 7,
                };
                let dev: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(ni.home.join("dev-account.json")).expect("dev-account.json"))
                        .expect("json");
                let mut node = Node {
                    home: HomeDir::Path(ni.home.clone()),
                    ports,
                    app: None,
                    comet: None,
                    clock_skew: None,
                    dev_mnemonic: dev["mnemonic"].as_str().unwrap_or_default().to_string(),
                    dev_address: dev["address"].as_str().unwrap_or_default().to_string(),
                };
                node.set_clock_skew(opts.clock_skew.iter().find(|(i, _)| *i == ni.index).map(|(_, skew)| skew.as_str()));
                let app_args = opts.app_args.iter().filter(|(i, _)| *i == ni.index).flat_map(|(_, a)| a.iter().cloned()).collect();
                let executor_model = if executors.contains(&ni.index) { model_dir.clone() } else { None };
                let executor_peers =
                    info.nodes.iter().filter(|o| o.index != ni.index && executors.contains(&o.index)).map(|o| o.executor_port).collect();
                LocalnetNode { node, info: ni.clone(), app_args, executor: None, executor_model, executor_peers }
            })
            .collect();
        let proxies = if opts.via_proxies { Self::route_through_proxies(&nodes) } else { Vec::new() };
        for node in &mut nodes {
            node.start_executor();
        }
        for node in &mut nodes {
            let extra: Vec<&str> = node.app_args.iter().map(String::as_str).collect();
            node.node.start_app_with(&extra);
        }
        for node in &mut nodes {
            node.node.start_comet();
        }
        let net = Self { nodes, info, model_dir, proxies, dir };
        net.wait_all(2, Duration::from_secs(120));
        net
    }

    /// Starts a proxy for every ordered pair of validators and points each one's
    /// `persistent_peers` at its proxies (peer exchange off, so they learn no direct address).
    fn route_through_proxies(nodes: &[LocalnetNode]) -> Vec<P2pProxy> {
        let n = nodes.len();
        let base = free_port_block(u16::try_from(n * n).expect("proxy ports"));
        let port = |from: usize, to: usize| base + u16::try_from(from * n + to).expect("port");
        let mut proxies = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let peers: Vec<String> = nodes
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(j, o)| format!("{}@127.0.0.1:{}", o.info.node_id, port(i, j)))
                .collect();
            let config = node.node.home().join("config/config.toml");
            let text = std::fs::read_to_string(&config).expect("config.toml");
            let mut out = String::new();
            for line in text.lines() {
                if line.starts_with("persistent_peers") {
                    out.push_str(&format!("persistent_peers = \"{}\"\npex = false\n", peers.join(",")));
                } else {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            std::fs::write(&config, out).expect("write config.toml");
            for (j, other) in nodes.iter().enumerate().filter(|(j, _)| *j != i) {
                proxies.push(P2pProxy::start(i, j, port(i, j), other.info.p2p_port));
            }
        }
        proxies
    }

    /// Cuts (`true`) or heals every P2P link of validator `i` (needs `via_proxies`).
    pub fn partition(&self, i: usize, cut: bool) {
        assert!(!self.proxies.is_empty(), "partition needs LocalnetOptions::via_proxies");
        for proxy in self.proxies.iter().filter(|p| p.from == i || p.to == i) {
            proxy.set_cut(cut);
        }
    }

    /// Kills validator `i` and deletes its chain data (block store, state, app database,
    /// snapshots), keeping its keys and config: restarted, it block-syncs from the others.
    pub fn wipe_node_data(&mut self, i: usize) {
        self.kill_node(i);
        let data = self.nodes[i].node.home().join("data");
        std::fs::remove_dir_all(&data).expect("remove data");
        std::fs::create_dir_all(&data).expect("create data");
        // A fresh signing state: it has signed nothing it remembers (it only signs heights it
        // has not reached yet once caught up).
        std::fs::write(data.join("priv_validator_state.json"), "{\n  \"height\": \"0\",\n  \"round\": 0,\n  \"step\": 0\n}\n")
            .expect("write priv_validator_state.json");
    }

    /// CometBFT's address of validator `i` (upper-case hex of sha256(ed25519 key)[..20]).
    pub fn comet_address(&self, i: usize) -> String {
        use base64::Engine;
        use sha2::Digest;
        let key = base64::engine::general_purpose::STANDARD.decode(&self.nodes[i].info.consensus_pubkey).expect("base64 key");
        hex::encode_upper(&sha2::Sha256::digest(key)[..20])
    }

    /// Whether the validator with CometBFT address `validator` signed the commit of `height`,
    /// as node `i` stores it.
    pub fn signed_commit(&self, i: usize, height: i64, validator: &str) -> bool {
        let Ok(commit) = self.node(i).rpc().call("commit", serde_json::json!({"height": height.to_string()})) else { return false };
        commit["signed_header"]["commit"]["signatures"]
            .as_array()
            .is_some_and(|sigs| sigs.iter().any(|s| s["validator_address"] == validator && s["block_id_flag"] == 2))
    }

    /// The directory holding `node0…` and `localnet.json`.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("net")
    }

    /// Validator `i`'s node.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i].node
    }

    /// Validator `i`'s CometBFT RPC URL.
    pub fn rpc_url(&self, i: usize) -> String {
        self.node(i).rpc_url()
    }

    /// Validator `i`'s gRPC URL.
    pub fn grpc_url(&self, i: usize) -> String {
        self.node(i).grpc_url()
    }

    /// Validator `i`'s operator address (`openvaloper1…`).
    pub fn operator(&self, i: usize) -> &str {
        &self.nodes[i].info.operator_address
    }

    /// Validator `i`'s operator account (`open1…`; key `dev` in its home). Node 0's is the
    /// chain's big dev account.
    pub fn account(&self, i: usize) -> &str {
        &self.nodes[i].info.account_address
    }

    /// `openledgerd ARGS --home <home of i>`; stdout, panics on failure. Add `--node
    /// net.rpc_url(i)` to txs and queries yourself.
    pub fn cli(&self, i: usize, args: &[&str]) -> String {
        self.node(i).cli(args)
    }

    /// Kills validator `i`'s CometBFT, openledgerd and executor (SIGKILL).
    pub fn kill_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.node.kill_comet();
        node.node.kill_app();
        node.kill_executor();
    }

    /// Starts validator `i` again (executor, openledgerd with its extra flags, CometBFT); does not
    /// wait for it to catch up (see [`Localnet::wait_for_height`]).
    pub fn restart_node(&mut self, i: usize) {
        self.kill_node(i);
        let node = &mut self.nodes[i];
        node.start_executor();
        let extra: Vec<&str> = node.app_args.iter().map(String::as_str).collect();
        node.node.start_app_with(&extra);
        node.node.start_comet();
    }

    /// Validator `i`'s executor URL (`http://127.0.0.1:PORT`; empty when it runs none).
    pub fn executor_url(&self, i: usize) -> &str {
        &self.nodes[i].info.executor_addr
    }

    /// Blocks until every node reports `height` (all must be running).
    pub fn wait_all(&self, height: i64, timeout: Duration) {
        for i in 0..self.nodes.len() {
            self.wait_for_height(i, height, timeout);
        }
    }

    /// Validator `i`'s latest height (0 when its RPC is down).
    pub fn height(&self, i: usize) -> i64 {
        self.node(i).height()
    }

    /// Highest height any node reports.
    pub fn max_height(&self) -> i64 {
        (0..self.nodes.len()).map(|i| self.height(i)).max().unwrap_or(0)
    }

    /// Blocks until validator `i` reports `height`; panics with its logs after `timeout`.
    pub fn wait_for_height(&self, i: usize, height: i64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.height(i) < height {
            assert!(Instant::now() < deadline, "node {i} did not reach height {height} (at {}):\n{}", self.height(i), self.logs(i));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The tails of validator `i`'s CometBFT, openledgerd and executor logs.
    pub fn logs(&self, i: usize) -> String {
        let n = &self.nodes[i];
        format!(
            "--- node{i} cometbft.log ---\n{}\n--- node{i} app.log ---\n{}\n--- node{i} executor.log ---\n{}",
            tail(&n.node.comet_log(), 30),
            tail(&n.node.app_log(), 30),
            tail(&n.executor_log(), 10)
        )
    }
}
