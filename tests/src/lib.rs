//! Test harness: starts a real single-validator chain — `openledgerd` (ABCI + gRPC) and the real
//! CometBFT v0.38 binary — on free loopback ports with a temporary home, and tears it down.
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

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
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
}

/// A running single-validator chain.
pub struct Node {
    home: tempfile::TempDir,
    /// Ports in use.
    pub ports: Ports,
    app: Option<Child>,
    comet: Option<Child>,
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
        .args(["--timeout-commit", &opts.timeout_commit])
        .args(["--unbonding-seconds", &opts.unbonding_seconds.to_string()])
        .args(["--signed-blocks-window", &opts.signed_blocks_window.to_string()])
        .args(["--downtime-jail-seconds", &opts.downtime_jail_seconds.to_string()])
        .args(["--voting-period-seconds", &opts.voting_period_seconds.to_string()])
        .args(["--max-deposit-period-seconds", &opts.max_deposit_period_seconds.to_string()])
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
        let ports = Ports { rpc: free_port(), p2p: free_port(), abci: free_port(), grpc: free_port() };
        init_home(home.path(), ports, opts);
        let dev: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(home.path().join("dev-account.json")).expect("dev-account.json")).expect("json");
        let mut node = Self {
            home,
            ports,
            app: None,
            comet: None,
            dev_mnemonic: dev["mnemonic"].as_str().unwrap_or_default().to_string(),
            dev_address: dev["address"].as_str().unwrap_or_default().to_string(),
        };
        node.start_app();
        node.start_comet();
        node.wait_for_height(2, Duration::from_secs(60));
        node
    }

    /// A second node of the same chain: its own keys and ports, `first`'s genesis, `first` as
    /// persistent peer. It follows the chain as a full node until it becomes a validator.
    pub fn join(first: &Node, opts: &NodeOptions) -> Self {
        let home = tempfile::tempdir().expect("tempdir");
        let ports = Ports { rpc: free_port(), p2p: free_port(), abci: free_port(), grpc: free_port() };
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
        let mut node = Self {
            home,
            ports,
            app: None,
            comet: None,
            dev_mnemonic: dev["mnemonic"].as_str().unwrap_or_default().to_string(),
            dev_address: dev["address"].as_str().unwrap_or_default().to_string(),
        };
        node.start_app();
        node.start_comet();
        node.wait_for_height(first.height(), Duration::from_secs(60));
        node
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

    /// A CometBFT RPC client.
    pub fn rpc(&self) -> CometRpc {
        CometRpc::new(&self.rpc_url())
    }

    /// Starts openledgerd and waits until its ABCI port accepts connections.
    pub fn start_app(&mut self) {
        self.start_app_with(&[]);
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
        let child = Command::new(openledgerd_bin())
            .args(["start", "--home"])
            .arg(self.home.path())
            .args(extra)
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

    /// Starts CometBFT.
    pub fn start_comet(&mut self) {
        let child = Command::new(cometbft_bin())
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

    /// Latest height, 0 when the RPC is not up.
    pub fn height(&self) -> i64 {
        self.rpc().latest_height().unwrap_or(0)
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
