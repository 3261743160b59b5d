//! `make bench-peers`: openledgerd side by side with a minimal Cosmos SDK v0.50 chain
//! (bench/peers/sdkchain), CometBFT's built-in kvstore app and the same kvstore app as its own
//! process over the ABCI socket (`abci-cli kvstore`, the ceiling of any out-of-process app under
//! CometBFT v0.38), each started in turn as a single
//! validator on loopback under the same CometBFT v0.38 settings (openledgerd's generated
//! config.toml and genesis consensus params are copied to the other two), then driven by this one
//! load generator.
//!
//! Every tx is signed before timing starts, each from a distinct funded account (sequence 0):
//! bank `MsgSend`s (SIGN_MODE_DIRECT, same fee and gas limit) for openledgerd and the SDK chain,
//! `key=value` txs of the same size for kvstore. They go to CometBFT's RPC `broadcast_tx_sync`
//! from `--threads` keep-alive HTTP clients, first at a fixed offered rate, then all at once
//! (saturation: 20,000 txs, four mempools' worth, so that the phase spans many blocks of every
//! chain; a tx refused because the mempool is full is offered again until it is taken, so the
//! committed rate is the sustained one, not the packing of one burst into one or two blocks). A poller follows the committed blocks over RPC and matches tx hashes, so the
//! inclusion time is broadcast → the poller seeing the block committed. Printed per chain and
//! phase: committed tx/s, p50/p99 inclusion, CPU seconds and peak RSS of the app process
//! (/proc), disk bytes per committed tx (the whole home: CometBFT's data and the app's), then
//! balance queries/s over gRPC (openledgerd and the SDK chain, same tonic client), and the
//! ratios against the goals.

#![allow(clippy::float_arithmetic)] // rates, percentiles and ratios for the report only

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use clap::Parser;
use cosmos_sdk_proto::cosmos::bank::v1beta1::query_client::QueryClient as BankClient;
use cosmos_sdk_proto::cosmos::bank::v1beta1::{MsgSend, QueryBalanceRequest};
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::Any;
use openledger_cli::client::{sign_tx, SignModeChoice, TxSpec};
use openledger_cli::keys::AccountKey;
use sha2::{Digest, Sha256};

/// Denom of the funds, fees and stake on both bank chains.
const DENOM: &str = "uopen";
/// Gas limit of every send (openledgerd's minimum gas price 0.025 sets the fee).
const GAS: u64 = 200_000;
/// Funds of every bench account.
const FUNDS: u64 = 1_000_000_000;

#[derive(Parser, Debug)]
#[command(about = "openledgerd vs a Cosmos SDK v0.50 chain vs CometBFT kvstore, one load generator")]
struct Args {
    /// CometBFT v0.38 binary.
    #[arg(long, env = "COMETBFT_BIN")]
    cometbft: PathBuf,
    /// Release openledgerd.
    #[arg(long, env = "OPENLEDGERD_BIN")]
    openledgerd: PathBuf,
    /// The SDK chain (bench/peers/sdkchain); without it that chain is skipped.
    #[arg(long, env = "SDKCHAIN_BIN")]
    sdkchain: Option<PathBuf>,
    /// CometBFT's `abci-cli` (v0.38, `go install github.com/cometbft/cometbft/abci/cmd/abci-cli`),
    /// which serves the kvstore app over the ABCI socket; without it that chain is skipped.
    #[arg(long, env = "ABCI_CLI_BIN")]
    abci_cli: Option<PathBuf>,
    /// Which chains, comma separated: sdk, kvstore, kvstore-socket, openledger.
    #[arg(long, default_value = "sdk,kvstore,kvstore-socket,openledger")]
    only: String,
    /// Offered rate of the fixed-rate phase, tx/s.
    #[arg(long, default_value_t = 150)]
    rate: u64,
    /// Txs of the fixed-rate phase.
    #[arg(long, default_value_t = 1500)]
    rate_txs: usize,
    /// Txs of the saturation phase (all offered at once; refused ones offered again while the
    /// mempool is full).
    #[arg(long, default_value_t = 20_000)]
    saturation_txs: usize,
    /// Concurrent broadcasting clients.
    #[arg(long, default_value_t = 16)]
    threads: usize,
    /// Seconds of balance queries over gRPC per chain.
    #[arg(long, default_value_t = 5)]
    query_seconds: u64,
    /// Concurrent gRPC query clients.
    #[arg(long, default_value_t = 4)]
    query_clients: usize,
    /// Keep the chain homes (under this directory) instead of temporary ones.
    #[arg(long)]
    keep_dir: Option<PathBuf>,
    /// Write a Go CPU profile of each chain's CometBFT process during the saturation phase here
    /// (`<chain>-cometbft.pprof`, read with `go tool pprof -top`; kvstore's app runs inside it).
    /// Turns on CometBFT's `pprof_laddr`.
    #[arg(long)]
    profile_dir: Option<PathBuf>,
    /// Seconds of each CometBFT CPU profile (it starts one second into the saturation phase).
    #[arg(long, default_value_t = 8)]
    profile_seconds: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Sdk,
    Kvstore,
    /// The kvstore app in its own process, over the ABCI socket as openledgerd and the SDK chain.
    KvstoreSocket,
    Openledger,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Sdk => "Cosmos SDK v0.50",
            Target::Kvstore => "CometBFT kvstore",
            Target::KvstoreSocket => "kvstore over ABCI socket",
            Target::Openledger => "openledgerd",
        }
    }
}

/// Loopback ports of one chain.
#[derive(Clone, Copy)]
struct Ports {
    rpc: u16,
    p2p: u16,
    abci: u16,
    grpc: u16,
    rest: u16,
    /// openledgerd's Prometheus metrics (the time breakdown); unused by the other chains.
    metrics: u16,
    /// CometBFT's pprof server (only with `--profile-dir`).
    pprof: u16,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Ports {
    fn fresh() -> anyhow::Result<Self> {
        Ok(Self {
            rpc: free_port()?,
            p2p: free_port()?,
            abci: free_port()?,
            grpc: free_port()?,
            rest: free_port()?,
            metrics: free_port()?,
            pprof: free_port()?,
        })
    }
}

/// Started processes, killed (last first) on drop, also when a start fails half way.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A started chain: its processes are killed on drop.
struct Running {
    target: Target,
    home: PathBuf,
    ports: Ports,
    chain_id: String,
    /// The app process (for kvstore, CometBFT itself: the app runs inside it).
    app_pid: u32,
    children: Processes,
    /// Account number of bench account 0 (the rest follow in order).
    first_account_number: u64,
}

/// The key of bench account `i`, the same derivation as sdkchain's `benchKey`.
fn bench_key(i: u64) -> anyhow::Result<AccountKey> {
    let mut hasher = Sha256::new();
    hasher.update(b"bench-peers-account-");
    hasher.update(i.to_be_bytes());
    let secret: [u8; 32] = hasher.finalize().into();
    AccountKey::from_secret(&secret)
}

fn run_ok(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("run {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn log_file(home: &Path, name: &str) -> anyhow::Result<std::fs::File> {
    Ok(std::fs::OpenOptions::new().create(true).append(true).open(home.join(name))?)
}

/// `openledgerd init` with these ports: its config.toml and consensus params are the settings
/// every chain of the run uses.
fn openledgerd_init(args: &Args, home: &Path, ports: Ports, chain_id: &str) -> anyhow::Result<()> {
    run_ok(
        Command::new(&args.openledgerd)
            .args(["init", "--home"])
            .arg(home)
            .args(["--chain-id", chain_id])
            .args(["--rpc-laddr", &format!("tcp://127.0.0.1:{}", ports.rpc)])
            .args(["--p2p-laddr", &format!("tcp://127.0.0.1:{}", ports.p2p)])
            .args(["--abci-addr", &format!("127.0.0.1:{}", ports.abci)])
            .args(["--grpc-addr", &format!("127.0.0.1:{}", ports.grpc)])
            .args(["--api-addr", &format!("127.0.0.1:{}", ports.rest)])
            .args(["--metrics-addr", &format!("127.0.0.1:{}", ports.metrics), "--comet-metrics-addr", ""]),
    )?;
    Ok(())
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?)?)
}

fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    Ok(std::fs::write(path, serde_json::to_vec_pretty(value)?)?)
}

/// Starts `target` with `accounts` funded bench accounts; returns once block 2 is committed.
fn start(args: &Args, target: Target, root: &Path, accounts: u64) -> anyhow::Result<Running> {
    let ports = Ports::fresh()?;
    let home = root.join(match target {
        Target::Sdk => "sdk",
        Target::Kvstore => "kvstore",
        Target::KvstoreSocket => "kvstore-socket",
        Target::Openledger => "openledger",
    });
    // The reference settings: openledgerd's config.toml and consensus params for these ports.
    let reference = root.join(format!("reference-{}", home.file_name().and_then(|n| n.to_str()).unwrap_or("x")));
    let chain_id = match target {
        Target::Sdk => "sdk-bench-peers-1",
        Target::Kvstore => "kvstore-bench-peers-1",
        Target::KvstoreSocket => "kvstore-socket-bench-peers-1",
        Target::Openledger => "openledger-bench-peers-1",
    }
    .to_string();
    openledgerd_init(args, &reference, ports, &chain_id)?;
    if args.profile_dir.is_some() {
        let path = reference.join("config/config.toml");
        let config = std::fs::read_to_string(&path)?;
        let patched = config.replacen("[rpc]\n", &format!("[rpc]\npprof_laddr = \"127.0.0.1:{}\"\n", ports.pprof), 1);
        std::fs::write(&path, patched)?;
    }
    let reference_config = std::fs::read_to_string(reference.join("config/config.toml"))?;
    let reference_genesis = read_json(&reference.join("config/genesis.json"))?;
    let mut children = Processes(Vec::new());
    let mut first_account_number = 0;

    if target == Target::Openledger {
        std::fs::rename(&reference, &home)?;
        let path = home.join("config/genesis.json");
        let mut genesis = read_json(&path)?;
        let app_state = genesis.get_mut("app_state").context("app_state")?;
        let next = app_state["auth"]["accounts"]
            .as_array()
            .context("auth accounts")?
            .iter()
            .filter_map(|a| a["account_number"].as_str().and_then(|n| n.parse::<u64>().ok()))
            .max()
            .unwrap_or(0)
            + 1;
        first_account_number = next;
        let mut added: u128 = 0;
        for i in 0..accounts {
            let address = bench_key(i)?.address().to_bech32();
            app_state["auth"]["accounts"].as_array_mut().context("accounts")?.push(serde_json::json!({
                "address": address, "account_number": (next + i).to_string(), "sequence": "0"
            }));
            app_state["bank"]["balances"].as_array_mut().context("balances")?.push(serde_json::json!({
                "address": address, "coins": [{"denom": DENOM, "amount": FUNDS.to_string()}]
            }));
            added += u128::from(FUNDS);
        }
        let supply = &mut app_state["bank"]["supply"][0]["amount"];
        let total: u128 = supply.as_str().context("supply")?.parse::<u128>()? + added;
        *supply = serde_json::Value::String(total.to_string());
        write_json(&path, &genesis)?;
        let mut app = Command::new(&args.openledgerd);
        app.args(["start", "--home"]).arg(&home).args(["--log-level", "warn"]);
        spawn_app(&mut app, &home, ports, &mut children)?;
    } else {
        run_ok(Command::new(&args.cometbft).args(["init", "--home"]).arg(&home))?;
        std::fs::write(home.join("config/config.toml"), &reference_config)?;
        let path = home.join("config/genesis.json");
        let mut genesis = read_json(&path)?;
        genesis["chain_id"] = serde_json::Value::String(chain_id.clone());
        genesis["consensus_params"] = reference_genesis["consensus_params"].clone();
        write_json(&path, &genesis)?;
        if target == Target::Sdk {
            let sdkchain = args.sdkchain.as_ref().context("--sdkchain")?;
            run_ok(
                Command::new(sdkchain)
                    .args(["init", "--home"])
                    .arg(&home)
                    .args(["--chain-id", &chain_id, "--accounts", &accounts.to_string(), "--denom", DENOM])
                    .args(["--funds", &FUNDS.to_string()]),
            )?;
            let mut app = Command::new(sdkchain);
            app.args(["start", "--home"])
                .arg(&home)
                .args(["--chain-id", &chain_id])
                .args(["--abci", &format!("tcp://127.0.0.1:{}", ports.abci)])
                .args(["--grpc", &format!("127.0.0.1:{}", ports.grpc)]);
            spawn_app(&mut app, &home, ports, &mut children)?;
        }
        if target == Target::KvstoreSocket {
            let abci_cli = args.abci_cli.as_ref().context("--abci-cli")?;
            let mut app = Command::new(abci_cli);
            app.args(["kvstore", "--address", &format!("tcp://127.0.0.1:{}", ports.abci), "--log_level", "error"]);
            spawn_app(&mut app, &home, ports, &mut children)?;
        }
    }
    let mut comet = Command::new(&args.cometbft);
    comet.args(["start", "--home"]).arg(&home);
    if target == Target::Kvstore {
        comet.arg("--proxy_app=kvstore");
    }
    let comet =
        comet.stdout(log_file(&home, "cometbft.log")?).stderr(log_file(&home, "cometbft.log")?).spawn().context("spawn cometbft")?;
    let comet_pid = comet.id();
    children.0.push(comet);
    let app_pid = if target == Target::Kvstore { comet_pid } else { children.0[0].id() };
    let running = Running { target, home, ports, chain_id, app_pid, children, first_account_number };
    let deadline = Instant::now() + Duration::from_secs(120);
    while latest_height(running.ports.rpc).unwrap_or(0) < 2 {
        if Instant::now() > deadline {
            bail!("{} did not reach height 2; see the logs in {}", target.name(), running.home.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(running)
}

/// Spawns an out-of-process ABCI app (logging to `home/app.log`) and waits for its ABCI port.
fn spawn_app(app: &mut Command, home: &Path, ports: Ports, children: &mut Processes) -> anyhow::Result<()> {
    let child =
        app.stdout(log_file(home, "app.log")?).stderr(log_file(home, "app.log")?).spawn().with_context(|| format!("spawn {app:?}"))?;
    children.0.push(child);
    wait_port(ports.abci, Duration::from_secs(60))
}

fn wait_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on port {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn rpc_get(agent: &ureq::Agent, port: u16, path: &str) -> anyhow::Result<serde_json::Value> {
    let value: serde_json::Value = agent.get(&format!("http://127.0.0.1:{port}/{path}")).call()?.into_json()?;
    Ok(value)
}

fn latest_height(port: u16) -> anyhow::Result<u64> {
    let status = rpc_get(&ureq::agent(), port, "status")?;
    Ok(status["result"]["sync_info"]["latest_block_height"].as_str().context("height")?.parse()?)
}

/// Pre-signed txs of one phase, for accounts `from..from + count`.
fn presign(running: &Running, from: u64, count: usize, tx_size: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let prefix = if running.target == Target::Sdk { "cosmos" } else { "open" };
    let fee = vec![ProtoCoin { denom: DENOM.into(), amount: (u128::from(GAS) * 25).div_ceil(1000).to_string() }];
    (from..from + count as u64)
        .map(|i| {
            if matches!(running.target, Target::Kvstore | Target::KvstoreSocket) {
                // kvstore: `key=value`, padded to the bank send's size.
                let key = format!("bench-peers-{i:012}=");
                let pad = tx_size.saturating_sub(key.len()).max(1);
                return Ok([key.into_bytes(), vec![b'v'; pad]].concat());
            }
            let key = bench_key(i)?;
            let to = bench_key(i + 1_000_000)?.address();
            let msg = Any::from_msg(&MsgSend {
                from_address: key.address().to_bech32_prefixed(prefix),
                to_address: to.to_bech32_prefixed(prefix),
                amount: vec![ProtoCoin { denom: DENOM.into(), amount: "1".into() }],
            })?;
            sign_tx(&TxSpec {
                key: &key,
                chain_id: &running.chain_id,
                account_number: running.first_account_number + i,
                sequence: 0,
                msgs: vec![msg],
                fee: fee.clone(),
                gas_limit: GAS,
                memo: String::new(),
                mode: SignModeChoice::Direct,
            })
        })
        .collect()
}

/// What one load phase measured.
struct Phase {
    offered: usize,
    accepted: usize,
    rejected: usize,
    first_reject: Option<String>,
    committed: usize,
    /// First broadcast → last inclusion.
    span: Duration,
    inclusion: Vec<Duration>,
    blocks: u64,
    cpu_seconds: f64,
    comet_cpu_seconds: f64,
    peak_rss_kib: u64,
    disk_bytes: u64,
    /// openledgerd's own account of the phase (its metrics after minus before).
    app_time: Option<AppTime>,
}

/// Where openledgerd's time went during a phase, from its Prometheus metrics (docs/OPERATING.md).
#[derive(Clone, Copy, Default)]
struct AppTime {
    check_tx: (f64, f64),
    recheck: (f64, f64),
    finalize: (f64, f64),
    commit: (f64, f64),
    signatures_verified: f64,
    block_txs: f64,
}

impl AppTime {
    /// Scrapes openledgerd's metrics endpoint.
    fn scrape(port: u16) -> anyhow::Result<Self> {
        let text = ureq::get(&format!("http://127.0.0.1:{port}/metrics")).call()?.into_string()?;
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse::<f64>().ok()))
                .unwrap_or(0.0)
        };
        let histogram = |name: &str| (value(&format!("{name}_count")), value(&format!("{name}_sum")));
        Ok(Self {
            check_tx: histogram("openledger_checktx_seconds"),
            recheck: histogram("openledger_recheck_tx_seconds"),
            finalize: histogram("openledger_finalize_block_seconds"),
            commit: histogram("openledger_commit_seconds"),
            signatures_verified: value("openledger_signature_verifications_total"),
            block_txs: value("openledger_txs_total"),
        })
    }

    /// `self - before`.
    fn since(self, before: Self) -> Self {
        let d = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0, a.1 - b.1);
        Self {
            check_tx: d(self.check_tx, before.check_tx),
            recheck: d(self.recheck, before.recheck),
            finalize: d(self.finalize, before.finalize),
            commit: d(self.commit, before.commit),
            signatures_verified: self.signatures_verified - before.signatures_verified,
            block_txs: self.block_txs - before.block_txs,
        }
    }
}

impl Phase {
    fn rate(&self) -> f64 {
        self.committed as f64 / self.span.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, p: usize) -> Duration {
        let mut sorted = self.inclusion.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len().saturating_sub(1) * p / 100).copied().unwrap_or_default()
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// utime + stime of `pid`, seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// VmHWM (peak resident set) of `pid`, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn disk_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn tx_hash(tx: &[u8]) -> [u8; 32] {
    Sha256::digest(tx).into()
}

/// Follows the chain from `start_height`, recording when each tx of `ours` is first seen in a
/// committed block, until `accepted` (set once broadcasting is over) of them were seen or 60 s
/// pass without one. Returns the seen times and the last height read.
fn follow_blocks(
    port: u16,
    start_height: u64,
    ours: &HashSet<[u8; 32]>,
    accepted: &AtomicUsize,
) -> anyhow::Result<(HashMap<[u8; 32], Instant>, u64)> {
    let engine = &base64::engine::general_purpose::STANDARD;
    let agent = ureq::agent();
    let mut seen: HashMap<[u8; 32], Instant> = HashMap::new();
    let mut height = start_height;
    let mut last_progress = Instant::now();
    // Once every broadcast is answered and nothing new lands for 3 s, the mempool is asked: when
    // it is empty, the blocks up to the latest height hold everything that will ever be
    // committed (CometBFT can answer broadcast_tx_sync with the app's code 0 and still drop the
    // tx when the mempool filled up while CheckTx ran), so one last pass over them ends the phase.
    let mut last_pass = false;
    loop {
        let target = accepted.load(Ordering::Acquire);
        if seen.len() >= target || (target != usize::MAX && last_progress.elapsed() > Duration::from_secs(60)) {
            return Ok((seen, height));
        }
        if target != usize::MAX && !last_pass && last_progress.elapsed() > Duration::from_secs(3) {
            let pending = rpc_get(&agent, port, "num_unconfirmed_txs")?;
            last_pass = pending["result"]["total"].as_str() == Some("0");
        }
        let latest = latest_height(port)?;
        if latest <= height {
            if last_pass {
                return Ok((seen, height));
            }
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let now = Instant::now();
        for h in height + 1..=latest {
            let block = rpc_get(&agent, port, &format!("block?height={h}"))?;
            for tx in block["result"]["block"]["data"]["txs"].as_array().into_iter().flatten() {
                let hash = tx_hash(&engine.decode(tx.as_str().unwrap_or_default())?);
                if ours.contains(&hash) {
                    seen.entry(hash).or_insert(now);
                    last_progress = now;
                }
            }
        }
        height = latest;
        if last_pass {
            return Ok((seen, height));
        }
    }
}

/// Takes a `seconds`-long Go CPU profile of `running`'s CometBFT (its pprof server) into `out`.
fn profile_cometbft(running: &Running, seconds: u64, out: &Path) -> anyhow::Result<()> {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(seconds + 60)).build();
    let url = format!("http://127.0.0.1:{}/debug/pprof/profile?seconds={seconds}", running.ports.pprof);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut agent.get(&url).call()?.into_reader(), &mut bytes)?;
    std::fs::write(out, bytes)?;
    eprintln!("   CometBFT CPU profile ({seconds} s): {}", out.display());
    Ok(())
}

/// Broadcasts `txs` (at `rate` tx/s, or all at once) while a poller follows the committed
/// blocks, until every accepted tx is committed (or 60 s pass without a new one). With
/// `profile` (seconds, file), CometBFT's CPU is profiled from one second into the phase.
fn load(running: &Running, txs: &[Vec<u8>], rate: Option<u64>, threads: usize, profile: Option<(u64, PathBuf)>) -> anyhow::Result<Phase> {
    let port = running.ports.rpc;
    let start_height = latest_height(port)?;
    let cpu_before = cpu_seconds(running.app_pid);
    let comet_pid = running.children.0.last().map(Child::id).unwrap_or(running.app_pid);
    let comet_cpu_before = cpu_seconds(comet_pid);
    let disk_before = disk_bytes(&running.home);
    let app_time_before = if running.target == Target::Openledger { Some(AppTime::scrape(running.ports.metrics)?) } else { None };
    let ours: HashSet<[u8; 32]> = txs.iter().map(|t| tx_hash(t)).collect();
    let sent_at: Mutex<HashMap<[u8; 32], Instant>> = Mutex::new(HashMap::new());
    let rejects: Mutex<(usize, Option<String>)> = Mutex::new((0, None));
    let accepted_total = AtomicUsize::new(usize::MAX);
    let next = AtomicUsize::new(0);
    let engine = &base64::engine::general_purpose::STANDARD;
    let start = Instant::now();
    let (seen, end_height) = std::thread::scope(|scope| {
        let poller = scope.spawn(|| follow_blocks(port, start_height, &ours, &accepted_total));
        let profiler = profile.map(|(seconds, out)| {
            scope.spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                profile_cometbft(running, seconds, &out)
            })
        });
        let senders: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
                    let url = format!("http://127.0.0.1:{port}");
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(tx) = txs.get(i) else { break };
                        if let Some(rate) = rate {
                            let due = start + Duration::from_micros(i as u64 * 1_000_000 / rate.max(1));
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                        }
                        let body = serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "broadcast_tx_sync", "params": {"tx": engine.encode(tx)}});
                        // A full mempool is back-pressure, not a rejection: offer the tx again
                        // (for at most two minutes) once blocks have made room.
                        let deadline = Instant::now() + Duration::from_secs(120);
                        let (sent, error) = loop {
                            let sent = Instant::now();
                            let outcome = agent
                                .post(&url)
                                .send_json(body.clone())
                                .map_err(|e| e.to_string())
                                .and_then(|r| r.into_json::<serde_json::Value>().map_err(|e| e.to_string()));
                            let error = match outcome {
                                Ok(v) if v["result"]["code"].as_u64() == Some(0) => None,
                                Ok(v) if !v["error"].is_null() => Some(v["error"].to_string()),
                                Ok(v) => Some(format!("code {} {}", v["result"]["code"], v["result"]["log"])),
                                Err(e) => Some(e),
                            };
                            match error {
                                Some(e) if e.contains("mempool is full") && Instant::now() < deadline => {
                                    std::thread::sleep(Duration::from_millis(50));
                                }
                                other => break (sent, other),
                            }
                        };
                        match error {
                            None => {
                                sent_at.lock().expect("lock").insert(tx_hash(tx), sent);
                            }
                            Some(e) => {
                                let mut r = rejects.lock().expect("lock");
                                r.0 += 1;
                                r.1.get_or_insert(e);
                            }
                        }
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.join().map_err(|_| anyhow::anyhow!("a sender panicked"))?;
        }
        accepted_total.store(sent_at.lock().expect("lock").len(), Ordering::Release);
        if let Some(profiler) = profiler {
            profiler.join().map_err(|_| anyhow::anyhow!("the profiler panicked"))??;
        }
        poller.join().map_err(|_| anyhow::anyhow!("the poller panicked"))?
    })?;
    let sent_at = sent_at.into_inner().expect("lock");
    let (rejected, first_reject) = rejects.into_inner().expect("lock");
    let mut inclusion = Vec::with_capacity(sent_at.len());
    let mut last_inclusion = start;
    for (hash, sent) in &sent_at {
        if let Some(at) = seen.get(hash) {
            inclusion.push(at.saturating_duration_since(*sent));
            last_inclusion = last_inclusion.max(*at);
        }
    }
    let committed = inclusion.len();
    let disk_after = disk_bytes(&running.home);
    let app_time = match app_time_before {
        Some(before) => Some(AppTime::scrape(running.ports.metrics)?.since(before)),
        None => None,
    };
    Ok(Phase {
        offered: txs.len(),
        accepted: sent_at.len(),
        rejected,
        first_reject,
        committed,
        span: last_inclusion.saturating_duration_since(start),
        inclusion,
        blocks: end_height - start_height,
        cpu_seconds: cpu_seconds(running.app_pid) - cpu_before,
        comet_cpu_seconds: if comet_pid == running.app_pid { 0.0 } else { cpu_seconds(comet_pid) - comet_cpu_before },
        peak_rss_kib: peak_rss_kib(running.app_pid),
        disk_bytes: disk_after.saturating_sub(disk_before),
        app_time,
    })
}

/// Balance queries/s over gRPC: `clients` tonic clients, one query after another.
fn grpc_queries(running: &Running, clients: usize, seconds: u64) -> anyhow::Result<(f64, Duration)> {
    let prefix = if running.target == Target::Sdk { "cosmos" } else { "open" };
    let address = bench_key(0)?.address().to_bech32_prefixed(prefix);
    let url = format!("http://127.0.0.1:{}", running.ports.grpc);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let start = Instant::now();
        let run_for = Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (url, address) = (url.clone(), address.clone());
            tasks.push(tokio::spawn(async move {
                let mut client = BankClient::connect(url).await?;
                let mut latencies = Vec::new();
                while start.elapsed() < run_for {
                    let sent = Instant::now();
                    let resp = client.balance(QueryBalanceRequest { address: address.clone(), denom: DENOM.into() }).await?;
                    latencies.push(sent.elapsed());
                    if resp.into_inner().balance.is_none() {
                        anyhow::bail!("no balance in the answer");
                    }
                }
                Ok::<_, anyhow::Error>(latencies)
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await??);
        }
        let elapsed = start.elapsed();
        latencies.sort_unstable();
        let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or_default();
        Ok((latencies.len() as f64 / elapsed.as_secs_f64(), p50))
    })
}

/// Mean time between the next `blocks` commits of an idle chain, as the poller sees them.
fn empty_block_time(port: u16, blocks: u32) -> anyhow::Result<Duration> {
    let wait_past = |height: u64| -> anyhow::Result<u64> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let latest = latest_height(port)?;
            if latest > height {
                return Ok(latest);
            }
            if Instant::now() > deadline {
                bail!("no block after height {height}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let mut height = wait_past(latest_height(port)?)?;
    let start = Instant::now();
    for _ in 0..blocks {
        height = wait_past(height)?;
    }
    Ok(start.elapsed() / blocks)
}

/// One chain's results.
struct Report {
    target: Target,
    tx_bytes: f64,
    fixed: Phase,
    saturation: Phase,
    grpc: Option<(f64, Duration)>,
    block_time: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print_phase(name: &str, rate: &str, p: &Phase) {
    println!(
        "| {name} | {rate} | {} / {} / {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.0} | {:.0} |",
        p.offered,
        p.accepted,
        p.committed,
        p.rate(),
        ms(p.percentile(50)),
        ms(p.percentile(99)),
        p.cpu_seconds,
        p.comet_cpu_seconds,
        p.peak_rss_kib as f64 / 1024.0,
        p.disk_bytes as f64 / p.committed.max(1) as f64,
    );
}

/// One line: where openledgerd's time went during a phase (seconds of each ABCI call kind,
/// summed over calls; they overlap, CheckTx running beside the block on its own connection).
fn print_app_time(load: &str, p: &Phase, t: AppTime) {
    let per_tx = |seconds: f64| seconds * 1e6 / p.committed.max(1) as f64;
    println!(
        "openledgerd at {load}: CheckTx {:.0} × {:.0} µs = {:.2} s; rechecks {:.0} ({:.1} per committed tx) × {:.0} µs = {:.2} s; \
         FinalizeBlock {:.2} s over {:.0} blocks ({:.0} µs per block tx); Commit {:.2} s ({:.0} µs per block tx); \
         signatures verified {:.0} ({:.2} per committed tx); app CPU {:.0} µs per committed tx",
        t.check_tx.0,
        t.check_tx.1 * 1e6 / t.check_tx.0.max(1.0),
        t.check_tx.1,
        t.recheck.0,
        t.recheck.0 / p.committed.max(1) as f64,
        t.recheck.1 * 1e6 / t.recheck.0.max(1.0),
        t.recheck.1,
        t.finalize.1,
        t.finalize.0,
        t.finalize.1 * 1e6 / t.block_txs.max(1.0),
        t.commit.1,
        t.commit.1 * 1e6 / t.block_txs.max(1.0),
        t.signatures_verified,
        t.signatures_verified / p.committed.max(1) as f64,
        per_tx(p.cpu_seconds),
    );
}

fn bench_one(args: &Args, target: Target, root: &Path) -> anyhow::Result<Report> {
    let accounts = (args.rate_txs + args.saturation_txs) as u64;
    eprintln!("== {}: starting (genesis with {accounts} funded accounts)", target.name());
    let running = start(args, target, root, accounts)?;
    // Tx size class: the bank send's (same on both bank chains up to the address prefix).
    let reference_size = {
        let probe = Running {
            target: Target::Openledger,
            home: running.home.clone(),
            ports: running.ports,
            chain_id: "openledger-bench-peers-1".into(),
            app_pid: running.app_pid,
            children: Processes(Vec::new()),
            first_account_number: 1,
        };
        presign(&probe, 0, 1, 0)?.first().map_or(0, Vec::len)
    };
    let signing = Instant::now();
    let fixed_txs = presign(&running, 0, args.rate_txs, reference_size)?;
    let saturation_txs = presign(&running, args.rate_txs as u64, args.saturation_txs, reference_size)?;
    let all = fixed_txs.len() + saturation_txs.len();
    let tx_bytes = fixed_txs.iter().chain(&saturation_txs).map(Vec::len).sum::<usize>() as f64 / all.max(1) as f64;
    eprintln!("   pre-signed {all} txs in {:.1} s ({tx_bytes:.0} B/tx)", signing.elapsed().as_secs_f64());
    let block_time = empty_block_time(running.ports.rpc, 4)?;
    eprintln!("   fixed rate: {} tx at {} tx/s", args.rate_txs, args.rate);
    let fixed = load(&running, &fixed_txs, Some(args.rate), args.threads, None)?;
    eprintln!("   saturation: {} tx at once (offered again while the mempool is full)", args.saturation_txs);
    let profile = args.profile_dir.as_ref().map(|dir| {
        let chain = running.home.file_name().and_then(|n| n.to_str()).unwrap_or("chain").to_string();
        (args.profile_seconds, dir.join(format!("{chain}-cometbft.pprof")))
    });
    let saturation = load(&running, &saturation_txs, None, args.threads, profile)?;
    let grpc = if matches!(target, Target::Kvstore | Target::KvstoreSocket) {
        None
    } else {
        Some(grpc_queries(&running, args.query_clients, args.query_seconds)?)
    };
    for p in [&fixed, &saturation] {
        if let Some(e) = &p.first_reject {
            eprintln!("   {} of {} rejected at broadcast, first: {e}", p.rejected, p.offered);
        }
        if p.accepted > p.committed {
            eprintln!(
                "   {} of {} accepted by broadcast_tx_sync (code 0) were never committed: CometBFT dropped them (mempool full after CheckTx)",
                p.accepted - p.committed,
                p.accepted
            );
        }
    }
    Ok(Report { target, tx_bytes, fixed, saturation, grpc, block_time })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let root = args.keep_dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&root)?;
    if let Some(dir) = &args.profile_dir {
        std::fs::create_dir_all(dir)?;
    }
    let mut reports = Vec::new();
    for name in args.only.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let target = match name {
            "sdk" => Target::Sdk,
            "kvstore" => Target::Kvstore,
            "kvstore-socket" => Target::KvstoreSocket,
            "openledger" => Target::Openledger,
            other => bail!("unknown chain {other:?} (sdk, kvstore, kvstore-socket, openledger)"),
        };
        if target == Target::Sdk && args.sdkchain.is_none() {
            eprintln!("== Cosmos SDK v0.50: skipped (no --sdkchain / SDKCHAIN_BIN)");
            continue;
        }
        if target == Target::KvstoreSocket && args.abci_cli.is_none() {
            eprintln!("== kvstore over ABCI socket: skipped (no --abci-cli / ABCI_CLI_BIN)");
            continue;
        }
        match bench_one(&args, target, &root) {
            Ok(report) => reports.push(report),
            Err(e) => eprintln!("== {}: FAILED: {e:#}", target.name()),
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "\nbench-peers: single validator each, same CometBFT v0.38 config.toml and consensus params (openledgerd's), \
         {} broadcasting clients; fixed rate {} tx/s × {} tx, then saturation {} tx at once (re-offered while the mempool is full); inclusion = broadcast_tx_sync sent → block seen committed over RPC\n",
        args.threads, args.rate, args.rate_txs, args.saturation_txs
    )?;
    drop(out);
    println!("| chain | load | offered / accepted / committed | committed tx/s | p50 incl. ms | p99 incl. ms | app CPU s | CometBFT CPU s | app peak RSS MiB | disk B / committed tx |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &reports {
        print_phase(r.target.name(), &format!("{} tx/s", args.rate), &r.fixed);
        print_phase(r.target.name(), "saturation", &r.saturation);
    }
    println!();
    for r in &reports {
        let grpc = r.grpc.map_or("—".to_string(), |(qps, p50)| format!("{qps:.0} queries/s (p50 {:.2} ms)", ms(p50)));
        println!(
            "{}: tx {:.0} B, empty-load block time {:.0} ms, blocks during saturation {}, balance over gRPC: {grpc}",
            r.target.name(),
            r.tx_bytes,
            ms(r.block_time),
            r.saturation.blocks
        );
    }
    for r in &reports {
        for (load, p) in [(format!("{} tx/s", args.rate), &r.fixed), ("saturation".to_string(), &r.saturation)] {
            if let Some(t) = p.app_time {
                print_app_time(&load, p, t);
            }
        }
    }
    let find = |t: Target| reports.iter().find(|r| r.target == t);
    if let Some(ours) = find(Target::Openledger) {
        println!();
        if let Some(sdk) = find(Target::Sdk) {
            let ratio = ours.saturation.rate() / sdk.saturation.rate().max(1e-9);
            println!(
                "openledgerd / SDK, committed tx/s at saturation: {ratio:.2}× (goal ≥ 2×: {})",
                if ratio >= 2.0 { "met" } else { "NOT met" }
            );
            if let (Some((a, _)), Some((b, _))) = (ours.grpc, sdk.grpc) {
                println!("openledgerd / SDK, balance queries/s over gRPC: {:.2}×", a / b.max(1e-9));
            }
        }
        if let Some(kv) = find(Target::Kvstore) {
            let ratio = ours.saturation.rate() / kv.saturation.rate().max(1e-9);
            println!(
                "openledgerd / kvstore, committed tx/s at saturation: {:.0} % (goal ≥ 80 %: {})",
                ratio * 100.0,
                if ratio >= 0.8 { "met" } else { "NOT met" }
            );
        }
        if let Some(kv) = find(Target::KvstoreSocket) {
            println!(
                "openledgerd / kvstore over ABCI socket (the out-of-process ceiling), committed tx/s at saturation: {:.0} %",
                ours.saturation.rate() / kv.saturation.rate().max(1e-9) * 100.0
            );
        }
        let p99_blocks = ms(ours.fixed.percentile(99)) / ms(ours.block_time).max(1e-9);
        println!(
            "openledgerd p99 inclusion below saturation: {:.0} ms = {p99_blocks:.1} blocks (goal ≤ 2 blocks: {})",
            ms(ours.fixed.percentile(99)),
            if p99_blocks <= 2.0 { "met" } else { "NOT met" }
        );
    }
    Ok(())
}
