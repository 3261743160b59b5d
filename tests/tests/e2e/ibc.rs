//! IBC between two OpenLedger chains relayed by Hermes (the real relayer, `make hermes`): Hermes
//! creates the clients, connection and ICS-20 channel; OPEN goes from chain A to chain B as an
//! `ibc/HASH` denom and partly comes back; a transfer to a receiver that is no address gets an
//! error acknowledgement and is refunded; one that times out (the relayer was stopped) is
//! refunded through `MsgTimeout`; and Hermes's own health check passes against both chains.
//! Escrow, balances and supply add up at every step.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use openledger_tests::{hermes_bin, json, tail, wait_until, Node, NodeOptions};
use sha2::{Digest, Sha256};

/// Fee of every tx the test sends (explicit, so that balances can be checked to the unit).
const FEE: u128 = 10_000;
const GAS: &str = "400000";
const WAIT: Duration = Duration::from_secs(180);

/// One chain of the pair, with a funded `user` key.
struct Chain {
    node: Node,
    id: String,
    user: String,
}

impl Chain {
    fn start(id: &str) -> Self {
        let node = Node::start_with(&NodeOptions { chain_id: Some(id.into()), ..NodeOptions::default() });
        let out = node.cli(&["keys", "add", "user"]);
        let (doc, _) = out.split_once("\n\n").expect("key JSON, then the mnemonic");
        let user = json(doc)["address"].as_str().expect("address").to_string();
        let chain = Self { node, id: id.into(), user };
        chain.tx(&["bank", "send", "dev", &chain.user.clone(), "100000000uopen"]);
        chain
    }

    /// Sends a tx with the fixed fee and waits for its block; panics unless it succeeded.
    fn tx(&self, args: &[&str]) -> serde_json::Value {
        let rpc = self.node.rpc_url();
        let fees = format!("{FEE}uopen");
        let all = [&["tx"], args, &["--node", &rpc, "--gas", GAS, "--fees", &fees]].concat();
        let result = json(&self.node.cli(&all));
        assert_eq!(result["code"].as_u64(), Some(0), "{args:?}: {result}");
        result
    }

    fn query(&self, args: &[&str]) -> serde_json::Value {
        let rpc = self.node.rpc_url();
        json(&self.node.cli(&[&["query"], args, &["--node", &rpc]].concat()))
    }

    fn balance(&self, address: &str, denom: &str) -> u128 {
        let b = self.query(&["bank", "balances", address, "--denom", denom]);
        b["balance"]["amount"].as_str().unwrap_or("0").parse().expect("amount")
    }

    fn escrow(&self) -> String {
        let rpc = self.node.rpc_url();
        self.node.cli(&["query", "ibc-transfer", "escrow-address", "transfer", "channel-0", "--node", &rpc]).trim().to_string()
    }

    fn supply(&self, denom: &str) -> u128 {
        let rest = format!("{}/cosmos/bank/v1beta1/supply/by_denom?denom={denom}", self.node.rest_url());
        let body = ureq::get(&rest).call().expect("supply query").into_string().expect("body");
        json(&body)["amount"]["amount"].as_str().unwrap_or("0").parse().expect("amount")
    }
}

/// Hermes with its own home (config and keys) in a temporary directory.
struct Hermes {
    dir: tempfile::TempDir,
    running: Option<Child>,
}

impl Hermes {
    fn new(chains: [&Chain; 2]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let specs = chains[0].node.cli(&["query", "ibc", "proof-specs"]);
        let mut config = String::from(
            "[global]\nlog_level = 'info'\n\
             [mode.clients]\nenabled = true\nrefresh = true\nmisbehaviour = false\n\
             [mode.connections]\nenabled = false\n[mode.channels]\nenabled = false\n\
             [mode.packets]\nenabled = true\nclear_interval = 20\nclear_on_start = true\ntx_confirmation = true\n",
        );
        for chain in chains {
            config.push_str(&format!(
                "\n[[chains]]\nid = '{id}'\ntype = 'CosmosSdk'\nrpc_addr = '{rpc}'\ngrpc_addr = 'http://127.0.0.1:{grpc}'\n\
                 event_source = {{ mode = 'pull', interval = '500ms' }}\nrpc_timeout = '10s'\naccount_prefix = 'open'\n\
                 key_name = 'relayer'\nstore_prefix = 'ibc'\ndefault_gas = 400000\nmax_gas = 4000000\n\
                 gas_price = {{ price = 0.025, denom = 'uopen' }}\ngas_multiplier = 1.5\nclock_drift = '5s'\n\
                 max_block_time = '30s'\ntrusting_period = '14days'\ntrust_threshold = {{ numerator = '1', denominator = '3' }}\n\
                 compat_mode = '0.38'\nproof_specs = '''{specs}'''\n",
                id = chain.id,
                rpc = chain.node.rpc_url(),
                grpc = chain.node.ports.grpc,
                specs = specs.trim(),
            ));
        }
        std::fs::write(dir.path().join("config.toml"), config).expect("write hermes config");
        let hermes = Self { dir, running: None };
        for chain in chains {
            // The relayer signs with each chain's funded dev account (the test's own txs use
            // `user`, so their sequences never race).
            let mnemonic = dir_file(hermes.dir.path(), &format!("{}.mnemonic", chain.id), &chain.node.dev_mnemonic);
            hermes.run(&["keys", "add", "--chain", &chain.id, "--mnemonic-file", mnemonic.to_str().expect("utf-8 path")]);
        }
        hermes
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(hermes_bin());
        cmd.env("HOME", self.dir.path()).arg("--config").arg(self.dir.path().join("config.toml")).args(args);
        cmd
    }

    /// Runs one Hermes command to completion; panics with its output unless it succeeded.
    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run hermes");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "hermes {args:?} failed:\n{}", tail(&text, 60));
        text
    }

    /// Starts `hermes start` (packet relaying) in the background.
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("start.log")).expect("log");
        let child = self.command(&["start"]).stdout(Stdio::from(log.try_clone().expect("log"))).stderr(Stdio::from(log)).spawn();
        self.running = Some(child.expect("spawn hermes start"));
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.running.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("start.log")).unwrap_or_default()
    }
}

impl Drop for Hermes {
    fn drop(&mut self) {
        self.stop();
    }
}

fn dir_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

/// `ibc/HASH` of OPEN after one hop over `channel-0`.
fn voucher_denom() -> String {
    format!("ibc/{}", hex::encode_upper(Sha256::digest(b"transfer/channel-0/uopen")))
}

#[test]
fn hermes_relays_open_to_another_chain_and_back_and_refunds_failed_and_timed_out_transfers() {
    let a = Chain::start("ibc-a-1");
    let b = Chain::start("ibc-b-1");
    let mut hermes = Hermes::new([&a, &b]);

    // Clients, connection and channel, all created by Hermes through the normal tx pipeline.
    hermes.run(&[
        "create",
        "channel",
        "--a-chain",
        "ibc-a-1",
        "--b-chain",
        "ibc-b-1",
        "--a-port",
        "transfer",
        "--b-port",
        "transfer",
        "--new-client-connection",
        "--yes",
    ]);
    for chain in [&a, &b] {
        let channels = chain.query(&["ibc", "channels"]);
        let channel = &channels["channels"][0];
        assert_eq!(channel["state"], "STATE_OPEN", "{}: {channels}", chain.id);
        assert_eq!(channel["channel_id"], "channel-0");
        assert_eq!(channel["version"], "ics20-1");
    }
    let health = hermes.run(&["health-check"]);
    for chain in [&a, &b] {
        assert!(
            health.contains(&format!("health_check{{chain={}}}: chain is healthy", chain.id)),
            "health check of {}:\n{}",
            chain.id,
            tail(&health, 40)
        );
    }
    hermes.start();

    let voucher = voucher_denom();
    let escrow = a.escrow();
    let a_start = a.balance(&a.user, "uopen");

    // A → B: 1000 uopen become 1000 vouchers on B, held in A's escrow.
    a.tx(&["ibc-transfer", "transfer", "user", "transfer", "channel-0", &b.user, "1000uopen"]);
    let arrived = || b.balance(&b.user, &voucher) == 1000;
    wait_until_or_log("1000 vouchers on chain B", &hermes, arrived);
    assert_eq!(a.balance(&escrow, "uopen"), 1000);
    assert_eq!(a.balance(&a.user, "uopen"), a_start - 1000 - FEE);
    assert_eq!(b.supply(&voucher), 1000);
    let traces = b.query(&["ibc-transfer", "denom-traces"]);
    assert_eq!(traces["denom_traces"][0]["path"], "transfer/channel-0", "{traces}");
    assert_eq!(traces["denom_traces"][0]["base_denom"], "uopen");

    // B → A: 400 vouchers are burned on B and released from A's escrow.
    b.tx(&["ibc-transfer", "transfer", "user", "transfer", "channel-0", &a.user, &format!("400{voucher}")]);
    wait_until_or_log("400 uopen back on chain A", &hermes, || a.balance(&escrow, "uopen") == 600);
    assert_eq!(a.balance(&a.user, "uopen"), a_start - 1000 - FEE + 400);
    assert_eq!(b.balance(&b.user, &voucher), 600);
    assert_eq!(b.supply(&voucher), 600);

    // A receiver that is no address: B acknowledges with an error and A refunds.
    let before = a.balance(&a.user, "uopen");
    a.tx(&["ibc-transfer", "transfer", "user", "transfer", "channel-0", "not-an-address", "70uopen"]);
    assert_eq!(a.balance(&escrow, "uopen"), 670, "escrowed until the acknowledgement");
    wait_until_or_log("the failed transfer refunded", &hermes, || a.balance(&escrow, "uopen") == 600);
    assert_eq!(a.balance(&a.user, "uopen"), before - FEE);
    assert_eq!(b.supply(&voucher), 600);

    // A packet that times out while no relayer runs: refunded through MsgTimeout.
    hermes.stop();
    let before = a.balance(&a.user, "uopen");
    let deadline = b.node.height() + 3;
    a.tx(&[
        "ibc-transfer",
        "transfer",
        "user",
        "transfer",
        "channel-0",
        &b.user,
        "50uopen",
        "--packet-timeout-height",
        &format!("1-{deadline}"),
        "--packet-timeout-seconds",
        "0",
    ]);
    assert_eq!(a.balance(&escrow, "uopen"), 650);
    b.node.wait_for_height(deadline + 1, WAIT);
    hermes.start();
    wait_until_or_log("the timed-out transfer refunded", &hermes, || a.balance(&escrow, "uopen") == 600);
    assert_eq!(a.balance(&a.user, "uopen"), before - FEE);
    assert_eq!(b.balance(&b.user, &voucher), 600, "nothing arrived on B");
    let total = a.query(&["bank", "balances", &escrow]);
    assert_eq!(total["balances"].as_array().map(Vec::len), Some(1), "{total}");
}

fn wait_until_or_log(what: &str, hermes: &Hermes, mut f: impl FnMut() -> bool) {
    let mut done = false;
    let mut check = || {
        done = f();
        done
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_until(what, WAIT, &mut check)));
    if result.is_err() || !done {
        panic!("{what} did not happen; hermes log:\n{}", tail(&hermes.log(), 80));
    }
}
