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

impl Node {
    /// Inits a home and starts openledgerd and CometBFT; returns once block 2 is committed.
    pub fn start() -> Self {
        let home = tempfile::tempdir().expect("tempdir");
        let ports = Ports { rpc: free_port(), p2p: free_port(), abci: free_port(), grpc: free_port() };
        let out = Command::new(openledgerd_bin())
            .args(["init", "--home"])
            .arg(home.path())
            .args(["--rpc-laddr", &format!("tcp://127.0.0.1:{}", ports.rpc)])
            .args(["--p2p-laddr", &format!("tcp://127.0.0.1:{}", ports.p2p)])
            .args(["--abci-addr", &format!("127.0.0.1:{}", ports.abci)])
            .args(["--grpc-addr", &format!("127.0.0.1:{}", ports.grpc)])
            .args(["--timeout-commit", "300ms"])
            .output()
            .expect("run openledgerd init");
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
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
        let child = Command::new(openledgerd_bin())
            .args(["start", "--home"])
            .arg(self.home.path())
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
