//! The `openledgerd` command line: node setup (`init`, `start`, `export`, `genesis`, `testnet`,
//! `chain-info`), keys, and the `tx` / `query` commands that each module brings from its own CLI
//! crate ([`module_clis`]). Tx and query commands talk to a node through CometBFT's RPC
//! (`--node`), like the SDK's CLI.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use openledger_cli::{CommandGroup, ModuleCli};
use openledger_core::coin::Coin;
use openledger_core::Address;
use serde_json::json;

use crate::app::App;
use crate::home::{init_home, resolve_home, AppToml, NodeConfig, DEFAULT_CHAIN_ID};
use crate::keys::{AccountKey, KeyringFlags, Passphrase, EXPORT_PASSPHRASE_ENV};

/// openledgerd: the OpenLedger chain daemon and CLI.
#[derive(Debug, Parser)]
#[command(name = "openledgerd", version, about = "OpenLedger: the AI blockchain (Cosmos-compatible ABCI app for CometBFT v0.38)")]
pub struct Cli {
    /// Node home (default: $OPEN_HOME, else ~/.openledger).
    #[arg(long, global = true)]
    pub home: Option<PathBuf>,
    /// Log level, or a tracing filter such as `info,openledger::block=warn` (default: $OPEN_LOG,
    /// else info).
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// Log format: plain (colours only on a terminal) or json (one object per line).
    #[arg(long, global = true, default_value = "plain", value_parser = ["plain", "json"])]
    pub log_format: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node home: CometBFT config and keys, genesis, a funded dev account.
    Init(InitArgs),
    /// Run the app (ABCI server for CometBFT + gRPC server).
    Start(StartArgs),
    /// Print the current state as genesis `app_state` JSON.
    Export,
    /// Manage account keys (`--keyring-backend test` for local chains, `file`: encrypted, for mainnet).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// CometBFT helpers.
    #[command(subcommand)]
    Comet(CometCommand),
    /// Edit config/genesis.json before the chain starts.
    #[command(subcommand)]
    Genesis(GenesisCommand),
    /// Write the homes of an N-validator loopback network sharing one genesis (see localnet/).
    Testnet(crate::testnet::TestnetArgs),
    /// Print the chain-registry chain.json (default), assetlist.json, or Keplr's chain info.
    ChainInfo(ChainInfoArgs),
    /// Seed a local chain with a demo datanet (two contributors) and an adapter fine-tuned on it
    /// (what `make run` does once; see localnet/demo/).
    Demo(crate::demo::DemoArgs),
}

/// `genesis` subcommands (edit `config/genesis.json` before the first start).
#[derive(Debug, Subcommand)]
pub enum GenesisCommand {
    /// Fund an account at genesis (the amount is added to the supply).
    AddAccount {
        /// Bech32 address.
        address: String,
        /// Amount, e.g. 1000000000uopen.
        amount: String,
    },
    /// Add a gentx-style genesis validator: its operator account (funded with add-account) self-bonds.
    AddValidator {
        /// Operator account address (open1…).
        #[arg(long)]
        operator: String,
        /// Base64 ed25519 consensus key (`openledgerd comet show-validator` of that node).
        #[arg(long)]
        pubkey: String,
        /// Self-bond in uopen.
        #[arg(long)]
        self_delegation: u128,
        /// Moniker.
        #[arg(long, default_value = "validator")]
        moniker: String,
    },
    /// Check config/genesis.json: every `app_state` section belongs to a registered module and
    /// the whole state imports (InitChain on a scratch store).
    Validate,
}

/// `comet` subcommands.
#[derive(Debug, Subcommand)]
pub enum CometCommand {
    /// Print this node's consensus public key.
    ShowValidator,
}

/// `init` flags.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Chain id.
    #[arg(long, default_value = DEFAULT_CHAIN_ID)]
    pub chain_id: String,
    /// Node moniker.
    #[arg(long, default_value = "openledger-node")]
    pub moniker: String,
    /// CometBFT RPC listen address.
    #[arg(long, default_value = "tcp://127.0.0.1:26657")]
    pub rpc_laddr: String,
    /// CometBFT P2P listen address.
    #[arg(long, default_value = "tcp://127.0.0.1:26656")]
    pub p2p_laddr: String,
    /// ABCI listen address of openledgerd.
    #[arg(long, default_value = "127.0.0.1:26658")]
    pub abci_addr: String,
    /// gRPC listen address.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub grpc_addr: String,
    /// REST (LCD) listen address.
    #[arg(long, default_value = crate::home::DEFAULT_API_ADDR)]
    pub api_addr: String,
    /// openledgerd's Prometheus endpoint (`/metrics`; "" turns it off).
    #[arg(long, default_value = crate::home::DEFAULT_METRICS_ADDR)]
    pub metrics_addr: String,
    /// CometBFT's Prometheus endpoint, written to config.toml ("" turns it off).
    #[arg(long, default_value = crate::home::DEFAULT_COMET_METRICS_ADDR)]
    pub comet_metrics_addr: String,
    /// Block time (CometBFT timeout_commit).
    #[arg(long, default_value = "1s")]
    pub timeout_commit: String,
    /// Staking unbonding period in seconds (default 21 days).
    #[arg(long, default_value_t = 21 * 24 * 3600)]
    pub unbonding_seconds: u64,
    /// Slashing liveness window in blocks.
    #[arg(long, default_value_t = 100)]
    pub signed_blocks_window: i64,
    /// Jail time after downtime, seconds.
    #[arg(long, default_value_t = 600)]
    pub downtime_jail_seconds: u64,
    /// Gov voting period in seconds (default 2 days).
    #[arg(long, default_value_t = 2 * 24 * 3600)]
    pub voting_period_seconds: u64,
    /// Gov deposit period in seconds (default 2 days).
    #[arg(long, default_value_t = 2 * 24 * 3600)]
    pub max_deposit_period_seconds: u64,
    /// Read the dev account mnemonic from stdin instead of generating one.
    #[arg(long)]
    pub dev_mnemonic_stdin: bool,
    /// Register this model (a .gguf file, a model directory or a 64-hex weights hash) as a base
    /// model at genesis, served by this validator's executor (repeatable; ids 1, 2, …). Its chat
    /// template, when it ships one, is pinned with it.
    #[arg(long)]
    pub model: Vec<String>,
    /// Price of one inference on the registered models.
    #[arg(long, default_value = "1000uopen")]
    pub model_price: String,
    /// This validator's open-executor (loopback URL), written to app.toml; needed with --model.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub executor_addr: String,
    /// Replace an existing home.
    #[arg(long)]
    pub overwrite: bool,
}

/// `chain-info` flags.
#[derive(Debug, Args)]
pub struct ChainInfoArgs {
    /// Print the object for Keplr's `experimentalSuggestChain` instead.
    #[arg(long, conflicts_with = "assetlist")]
    pub keplr: bool,
    /// Print the chain-registry assetlist.json instead.
    #[arg(long)]
    pub assetlist: bool,
}

/// `start` flags.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Override the ABCI address of app.toml.
    #[arg(long)]
    pub abci_addr: Option<String>,
    /// Override the gRPC address of app.toml.
    #[arg(long)]
    pub grpc_addr: Option<String>,
    /// Override the REST (LCD) address of app.toml.
    #[arg(long)]
    pub api_addr: Option<String>,
    /// Override the Prometheus address of app.toml ("" turns it off).
    #[arg(long)]
    pub metrics_addr: Option<String>,
    /// Override `snapshot_interval` of app.toml: a state sync snapshot every N blocks (0: none).
    #[arg(long)]
    pub snapshot_interval: Option<u64>,
    /// Override `pruning` of app.toml (default, nothing, everything, custom).
    #[arg(long)]
    pub pruning: Option<String>,
    /// Override `pruning_keep_recent` of app.toml (with `custom`).
    #[arg(long)]
    pub pruning_keep_recent: Option<u64>,
    /// Override `pruning_interval` of app.toml (with `custom`).
    #[arg(long)]
    pub pruning_interval: Option<u64>,
    /// Upgrade plan names this binary applies when their height is reached (repeatable).
    #[arg(long)]
    pub apply_upgrade: Vec<String>,
    /// Override `executor_addr` of app.toml (the local open-executor, loopback URL).
    #[arg(long)]
    pub executor_addr: Option<String>,
    /// Tests only: perturb every output this validator reports (it gets slashed and jailed).
    #[arg(long, hide = true)]
    pub inference_byzantine: bool,
    /// Tests only: run no executor and copy the other validators vote extensions (a free rider;
    /// the chain must neither count nor pay it).
    #[arg(long, hide = true)]
    pub inference_copy_extensions: bool,
    /// Serve the built web app (`make web` → web/dist) at /app on the REST port (overrides
    /// `web_dir` of app.toml).
    #[arg(long)]
    pub web_dir: Option<PathBuf>,
    /// Local chains only: serve this home's dev account (address and mnemonic) at
    /// /openledger/dev/account for the web app's "local dev account" wallet. Refused unless the
    /// REST server binds a loopback address.
    #[arg(long)]
    pub serve_dev_account: bool,
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key (or recover one: mnemonic on stdin with --recover).
    Add {
        /// Key name.
        name: String,
        /// Read the mnemonic from stdin.
        #[arg(long)]
        recover: bool,
        /// Keyring backend and passphrase.
        #[command(flatten)]
        keyring: KeyringFlags,
    },
    /// List keys.
    List {
        /// Keyring backend.
        #[command(flatten)]
        keyring: KeyringFlags,
    },
    /// Show a key's address.
    Show {
        /// Key name.
        name: String,
        /// Keyring backend.
        #[command(flatten)]
        keyring: KeyringFlags,
    },
    /// Print a key as an armored block encrypted with an export passphrase (scrypt + ChaCha20-Poly1305).
    Export {
        /// Key name.
        name: String,
        /// File whose first line is the export passphrase (default: $OPEN_EXPORT_PASSPHRASE, else a prompt).
        #[arg(long)]
        export_passphrase_file: Option<PathBuf>,
        /// Keyring backend and passphrase.
        #[command(flatten)]
        keyring: KeyringFlags,
    },
    /// Store the key of an armored export (`keys export`) under NAME.
    Import {
        /// Key name.
        name: String,
        /// The armored export.
        file: PathBuf,
        /// File whose first line is the export passphrase (default: $OPEN_EXPORT_PASSPHRASE, else a prompt).
        #[arg(long)]
        export_passphrase_file: Option<PathBuf>,
        /// Keyring backend and passphrase.
        #[command(flatten)]
        keyring: KeyringFlags,
    },
    /// Delete a key (asks for confirmation unless --yes).
    Delete {
        /// Key name.
        name: String,
        /// Skip the confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Keyring backend.
        #[command(flatten)]
        keyring: KeyringFlags,
    },
}

/// Every module's command line, each once: their groups become `openledgerd tx …`,
/// `openledgerd query …` and top-level commands.
pub fn module_clis() -> Vec<Box<dyn ModuleCli>> {
    vec![
        Box::new(openledger_auth_cli::AuthCli),
        Box::new(openledger_bank_cli::BankCli),
        Box::new(openledger_stake_cli::StakeCli),
        Box::new(openledger_datanet_cli::DatanetCli),
        Box::new(openledger_model_cli::ModelCli),
        Box::new(openledger_gov_cli::GovCli),
        Box::new(openledger_inference_cli::InferenceCli),
        Box::new(openledger_attribution_cli::AttributionCli),
        Box::new(openledger_ibc_cli::IbcCli),
        Box::new(crate::tx_query::TxQueryCli),
    ]
}

/// The modules' groups of one kind.
struct Groups {
    tx: Vec<CommandGroup>,
    query: Vec<CommandGroup>,
    tools: Vec<CommandGroup>,
}

impl Groups {
    fn collect() -> Self {
        let clis = module_clis();
        Self {
            tx: clis.iter().flat_map(|c| c.tx()).collect(),
            query: clis.iter().flat_map(|c| c.query()).collect(),
            tools: clis.iter().flat_map(|c| c.tools()).collect(),
        }
    }
}

fn group_parent(name: &'static str, about: &'static str, groups: &[CommandGroup]) -> clap::Command {
    clap::Command::new(name)
        .about(about)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommands(groups.iter().map(CommandGroup::command))
}

/// The whole command line: [`Cli`]'s commands plus the modules' `tx`, `query` and tools.
pub fn command() -> clap::Command {
    let groups = Groups::collect();
    Cli::command()
        .subcommand(group_parent("tx", "Sign and broadcast transactions", &groups.tx))
        .subcommand(group_parent("query", "Query the chain", &groups.query))
        .subcommands(groups.tools.iter().map(CommandGroup::command))
}

/// Sets up logging to stderr: `level` (a level or tracing filter; else `$OPEN_LOG`, else info),
/// plain text with colours only when stderr is a terminal (so log files hold no escape codes),
/// or one JSON object per line.
pub fn init_logging(level: Option<&str>, format: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::try_new(l).map_err(|e| anyhow::anyhow!("--log-level {l:?}: {e}"))?,
        None => tracing_subscriber::EnvFilter::try_from_env("OPEN_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = if format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
    // Already installed (tests calling the entry point twice): keep the first.
    drop(installed);
    Ok(())
}

/// Parses the process arguments and runs the command.
pub fn main_entry() -> anyhow::Result<()> {
    let matches = command().get_matches();
    init_logging(
        matches.get_one::<String>("log_level").map(String::as_str),
        matches.get_one::<String>("log_format").map(String::as_str).unwrap_or("plain"),
    )?;
    let groups = Groups::collect();
    let home = resolve_home(matches.get_one::<PathBuf>("home").cloned());
    let run_in = |list: &[CommandGroup], m: &clap::ArgMatches| -> Option<anyhow::Result<()>> {
        let (name, sub) = m.subcommand()?;
        list.iter().find(|g| g.name() == name).map(|g| g.run(&home, sub))
    };
    match matches.subcommand() {
        Some(("tx", m)) => run_in(&groups.tx, m).unwrap_or_else(|| anyhow::bail!("unknown tx command")),
        Some(("query", m)) => run_in(&groups.query, m).unwrap_or_else(|| anyhow::bail!("unknown query command")),
        _ => match run_in(&groups.tools, &matches) {
            Some(result) => result,
            None => run(Cli::from_arg_matches(&matches)?),
        },
    }
}

/// Runs one of [`Cli`]'s own commands.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let home = resolve_home(cli.home.clone());
    match cli.command {
        Command::Init(args) => cmd_init(&home, args),
        Command::Start(args) => cmd_start(&home, args),
        Command::Export => {
            let app = App::open(&home.join("data/application.db"))?;
            println!("{}", serde_json::to_string_pretty(&app.export_genesis().map_err(|e| anyhow::anyhow!(e.log))?)?);
            Ok(())
        }
        Command::Keys(cmd) => cmd_keys(&home, cmd),
        Command::Comet(CometCommand::ShowValidator) => openledger_stake_cli::show_validator(&home),
        Command::Genesis(cmd) => cmd_genesis(&home, cmd),
        Command::Testnet(args) => crate::testnet::cmd_testnet(&args),
        Command::ChainInfo(args) => cmd_chain_info(&home, &args),
        Command::Demo(args) => crate::demo::cmd_demo(&home, &args),
    }
}

/// Registers `models` in a freshly initialized single-validator home: base models owned by the
/// dev account and served by this validator, whose executor address goes into app.toml.
fn register_models_in_home(
    home: &std::path::Path,
    owner: &str,
    models: &[crate::testnet::ModelIdentity],
    price: &openledger_core::coin::Coin,
    executor_addr: &str,
) -> anyhow::Result<Vec<crate::testnet::LocalnetModel>> {
    let path = home.join("config/genesis.json");
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let mut app_state: crate::modules::AppGenesis = serde_json::from_value(doc["app_state"].take())?;
    let owner = openledger_core::Address::from_bech32(owner)?;
    let operator = openledger_stake::keeper::operator_of(&owner);
    let registered = crate::testnet::register_genesis_models(&mut app_state, &owner, models, price, &[operator]);
    doc["app_state"] = serde_json::to_value(&app_state)?;
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    let mut app_toml = crate::home::AppToml::load(home)?;
    app_toml.executor_addr = executor_addr.to_string();
    std::fs::write(home.join("config/app.toml"), app_toml.render())?;
    Ok(registered)
}

fn cmd_init(home: &std::path::Path, args: InitArgs) -> anyhow::Result<()> {
    let mnemonic = if args.dev_mnemonic_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Some(s.trim().to_string())
    } else {
        None
    };
    let cfg = NodeConfig {
        chain_id: args.chain_id,
        moniker: args.moniker,
        rpc_laddr: args.rpc_laddr,
        p2p_laddr: args.p2p_laddr,
        abci_addr: args.abci_addr,
        grpc_addr: args.grpc_addr,
        api_addr: args.api_addr,
        metrics_addr: args.metrics_addr,
        comet_metrics_addr: args.comet_metrics_addr,
        timeout_commit: args.timeout_commit,
        unbonding_seconds: args.unbonding_seconds,
        signed_blocks_window: args.signed_blocks_window,
        downtime_jail_seconds: args.downtime_jail_seconds,
        voting_period_seconds: args.voting_period_seconds,
        max_deposit_period_seconds: args.max_deposit_period_seconds,
        ..NodeConfig::default()
    };
    let models = args.model.iter().map(|m| crate::testnet::model_identity(m)).collect::<anyhow::Result<Vec<_>>>()?;
    let price = openledger_core::coin::Coin::parse(&args.model_price)?;
    if !models.is_empty() {
        check_loopback_url(&args.executor_addr)?;
    }
    let out = init_home(home, &cfg, mnemonic, args.overwrite)?;
    println!("Initialized node home {} for chain {}", out.home.display(), cfg.chain_id);
    if !models.is_empty() {
        let registered = register_models_in_home(home, &out.dev_address, &models, &price, &args.executor_addr)?;
        for m in registered {
            println!("Base model {}: {} ({}), served by this validator's executor at {}", m.id, m.name, m.weights_hash, args.executor_addr);
        }
    }
    println!();
    println!("Funded dev account (483,000,000 OPEN), saved to {}:", out.home.join("dev-account.json").display());
    println!("  address:  {}", out.dev_address);
    println!("  mnemonic: {}", out.dev_mnemonic);
    println!();
    println!("Import the mnemonic into a wallet (coin type 118, prefix open) to use it. Keep it secret on real networks.");
    Ok(())
}

fn cmd_chain_info(home: &std::path::Path, args: &ChainInfoArgs) -> anyhow::Result<()> {
    let input = crate::chain_info::ChainInfoInput::from_home(home)?;
    let doc = if args.keplr {
        crate::chain_info::keplr_chain_info(&input)
    } else if args.assetlist {
        crate::chain_info::assetlist_json(&input)
    } else {
        crate::chain_info::chain_json(&input)
    };
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// The executor is reached over loopback only (DESIGN: executor gRPC is loopback only).
fn check_loopback_url(url: &str) -> anyhow::Result<()> {
    let host = url.trim_start_matches("http://").split(':').next().unwrap_or_default();
    if host == "127.0.0.1" || host == "localhost" || host == "[::1]" {
        Ok(())
    } else {
        anyhow::bail!("executor_addr {url} is not a loopback http:// address")
    }
}

fn cmd_start(home: &std::path::Path, args: StartArgs) -> anyhow::Result<()> {
    let settings = AppToml::load(home)?;
    // Crash-safety tests only (`OPENLEDGER_CRASH_AT`, see openledger_core::crash).
    if let Some((point, hit)) = openledger_core::crash::arm_from_env().map_err(anyhow::Error::msg)? {
        tracing::warn!("crash test: this process aborts at crash point {point}, hit {hit}");
    }
    let abci_addr = args.abci_addr.unwrap_or(settings.abci_addr);
    let grpc_addr: std::net::SocketAddr = args.grpc_addr.unwrap_or(settings.grpc_addr.clone()).parse()?;
    let mut chain_info = crate::chain_info::ChainInfoInput::from_home(home)?;
    if let Some(api) = &args.api_addr {
        chain_info.rest = format!("http://{api}");
    }
    let api_addr: std::net::SocketAddr = args.api_addr.unwrap_or(settings.api_addr.clone()).parse()?;
    for name in &args.apply_upgrade {
        crate::upgrade::register_handler(name);
    }
    let mut documents = chain_info.documents();
    let web_dir = args.web_dir.clone().or_else(|| (!settings.web_dir.is_empty()).then(|| PathBuf::from(&settings.web_dir)));
    if let Some(dir) = web_dir {
        // A relative app.toml entry is relative to the home.
        let dir = if dir.is_relative() && args.web_dir.is_none() { home.join(dir) } else { dir };
        documents.web = Some(crate::web::WebRoot::open(&dir)?);
    }
    if args.serve_dev_account {
        anyhow::ensure!(
            api_addr.ip().is_loopback(),
            "--serve-dev-account needs a loopback REST address (api_addr is {api_addr}): the dev mnemonic never leaves this machine"
        );
        documents.dev_account = Some(crate::web::DevAccount::load(&home.join("dev-account.json"))?);
        tracing::warn!("serving the dev account's mnemonic at http://{api_addr}{} (local chains only)", crate::web::DEV_ACCOUNT_PATH);
    }
    let app = Arc::new(App::open(&home.join("data/application.db"))?);
    let executor_addr = args.executor_addr.clone().unwrap_or(settings.executor_addr.clone());
    let consensus_address = own_consensus_address(home);
    if args.inference_copy_extensions {
        app.set_inference(crate::inference::InferenceRuntime::copier(consensus_address.clone()));
        tracing::warn!("inference: COPYING other validators' vote extensions (free-rider test mode)");
    } else if !executor_addr.is_empty() {
        check_loopback_url(&executor_addr)?;
        app.set_inference(crate::inference::InferenceRuntime::start(&executor_addr, args.inference_byzantine, consensus_address)?);
        tracing::info!(
            "inference: executing requests on {executor_addr}{}",
            if args.inference_byzantine { " (BYZANTINE test mode)" } else { "" }
        );
    }
    let snapshot_interval = args.snapshot_interval.unwrap_or(settings.snapshot_interval);
    app.snapshots().configure(Some(openledger_node::snapshots::SnapshotConfig {
        interval: snapshot_interval,
        keep_recent: usize::try_from(settings.snapshot_keep_recent).unwrap_or(usize::MAX),
        dir: home.join("data/snapshots"),
    }));
    let pruning = openledger_node::app::Pruning::from_strategy(
        args.pruning.as_deref().unwrap_or(&settings.pruning),
        args.pruning_keep_recent.unwrap_or(settings.pruning_keep_recent),
        args.pruning_interval.unwrap_or(settings.pruning_interval),
    )?;
    app.set_pruning(pruning);
    let (height, hash) = app.storage().last_committed();
    tracing::info!("openledgerd starting at height {height}, app hash {}", hex::encode_upper(hash));
    match pruning {
        Some(p) => tracing::info!("pruning: keeping the newest {} heights, pruned every {} blocks", p.keep_recent, p.interval),
        None => tracing::info!("pruning: nothing (archive node)"),
    }
    if snapshot_interval > 0 {
        tracing::info!("state sync: a snapshot every {snapshot_interval} blocks in {}", home.join("data/snapshots").display());
    }
    let abci_app = app.clone();
    let abci_thread = std::thread::Builder::new().name("abci".into()).spawn(move || crate::abci::serve(abci_app, &abci_addr))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let metrics_addr = args.metrics_addr.clone().unwrap_or(settings.metrics_addr.clone());
        if !metrics_addr.is_empty() {
            match metrics_addr.parse::<std::net::SocketAddr>() {
                // A metrics endpoint that cannot bind is reported, never fatal to the node.
                Ok(addr) => drop(tokio::spawn(async move {
                    if let Err(e) = openledger_server::metrics::serve(addr).await {
                        tracing::warn!("metrics server on {addr}: {e}");
                    }
                })),
                Err(e) => tracing::warn!("metrics_addr {metrics_addr:?}: {e}; metrics are not served"),
            }
        }
        let rest = tokio::spawn(crate::rest::serve(app.clone(), settings.comet_rpc.clone(), api_addr, documents));
        let grpc = tokio::spawn(crate::grpc::serve(app, settings.comet_rpc.clone(), grpc_addr));
        tokio::select! {
            r = grpc => match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(anyhow::anyhow!("gRPC task failed: {e}")),
            },
            r = rest => match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(anyhow::anyhow!("REST server on {api_addr}: {e}")),
                Err(e) => Err(anyhow::anyhow!("REST task failed: {e}")),
            },
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("interrupted; stopping");
                Ok(())
            }
        }
    })?;
    if abci_thread.is_finished() {
        if let Ok(Err(e)) = abci_thread.join() {
            return Err(e);
        }
    }
    Ok(())
}

fn cmd_genesis(home: &std::path::Path, cmd: GenesisCommand) -> anyhow::Result<()> {
    let path = home.join("config/genesis.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)?;
    let mut app: crate::modules::AppGenesis = serde_json::from_value(doc["app_state"].clone())?;
    match cmd {
        GenesisCommand::Validate => return validate_genesis(&doc),
        GenesisCommand::AddAccount { address, amount } => {
            let address = Address::from_bech32(&address)?;
            let coin = Coin::parse(&amount)?;
            if app.auth.accounts.iter().any(|a| a.address == address.to_bech32()) {
                anyhow::bail!("account {address} is already in genesis");
            }
            let number = app.auth.accounts.iter().map(|a| a.account_number + 1).max().unwrap_or(0);
            app.auth.accounts.push(openledger_auth::genesis::AccountJson {
                address: address.to_bech32(),
                account_number: number,
                sequence: 0,
                module_name: None,
                permissions: vec![],
            });
            app.bank.balances.push(openledger_bank::genesis::BalanceJson {
                address: address.to_bech32(),
                coins: vec![openledger_bank::genesis::CoinJson { denom: coin.denom.clone(), amount: coin.amount }],
            });
            match app.bank.supply.iter_mut().find(|s| s.denom == coin.denom) {
                Some(s) => s.amount = s.amount.checked_add(coin.amount).ok_or_else(|| anyhow::anyhow!("supply overflow"))?,
                None => app.bank.supply.push(openledger_bank::genesis::CoinJson { denom: coin.denom, amount: coin.amount }),
            }
        }
        GenesisCommand::AddValidator { operator, pubkey, self_delegation, moniker } => {
            let operator = Address::from_bech32(&operator)?;
            if !app.auth.accounts.iter().any(|a| a.address == operator.to_bech32()) {
                anyhow::bail!("operator {operator} has no genesis account; run `genesis add-account` first");
            }
            crate::home::add_genesis_validator(&mut app, &operator, &pubkey, &moniker, self_delegation);
        }
    }
    doc["app_state"] = serde_json::to_value(&app)?;
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    println!("updated {}", path.display());
    Ok(())
}

/// `genesis validate`: the registry's section check, then a full import on a scratch store.
fn validate_genesis(doc: &serde_json::Value) -> anyhow::Result<()> {
    let app_state = doc["app_state"].as_object().ok_or_else(|| anyhow::anyhow!("genesis has no app_state object"))?;
    let modules = crate::modules::Modules::new();
    modules.registry.validate_genesis(app_state).map_err(|e| anyhow::anyhow!(e.log))?;
    let app = App::with_modules(openledger_core::storage::Storage::temporary()?, modules);
    let req = tendermint_proto::v0_38::abci::RequestInitChain {
        chain_id: doc["chain_id"].as_str().unwrap_or_default().to_string(),
        app_state_bytes: serde_json::to_vec(app_state)?.into(),
        initial_height: doc["initial_height"].as_str().and_then(|h| h.parse().ok()).unwrap_or(1),
        ..Default::default()
    };
    let resp = app.init_chain(&req).map_err(|e| anyhow::anyhow!("genesis does not import: {}", e.log))?;
    println!(
        "{}",
        json!({"valid": true, "app_hash": hex::encode_upper(&resp.app_hash), "validators": resp.validators.len(), "modules": app_state.keys().collect::<Vec<_>>()})
    );
    Ok(())
}

fn cmd_keys(home: &std::path::Path, cmd: KeysCommand) -> anyhow::Result<()> {
    let export_passphrase = |file: Option<PathBuf>| Passphrase::Sources { file, env: EXPORT_PASSPHRASE_ENV };
    match cmd {
        KeysCommand::Add { name, recover, keyring } => {
            let mnemonic = if recover {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s.trim().to_string()
            } else {
                AccountKey::generate_mnemonic()
            };
            let stored = keyring.open(home).add(&name, &mnemonic)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"name": stored.name, "address": stored.address, "pubkey_type": "secp256k1"}))?
            );
            if !recover {
                println!("\n**Write this mnemonic phrase down; it is the only way to recover the key.**\n\n{mnemonic}");
            }
        }
        KeysCommand::List { keyring } => {
            let keys: Vec<_> = keyring.open(home).list()?.into_iter().map(|k| json!({"name": k.name, "address": k.address})).collect();
            println!("{}", serde_json::to_string_pretty(&keys)?);
        }
        KeysCommand::Show { name, keyring } => {
            let k = keyring.open(home).info(&name)?;
            let operator = openledger_stake::keeper::operator_of(&Address::from_bech32(&k.address)?);
            println!("{}", serde_json::to_string_pretty(&json!({"name": k.name, "address": k.address, "validator_operator": operator}))?);
        }
        KeysCommand::Export { name, export_passphrase_file, keyring } => {
            print!("{}", keyring.open(home).export_armor(&name, &export_passphrase(export_passphrase_file))?);
        }
        KeysCommand::Import { name, file, export_passphrase_file, keyring } => {
            let armor = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let stored = keyring.open(home).import_armor(&name, &armor, &export_passphrase(export_passphrase_file))?;
            println!("{}", serde_json::to_string_pretty(&json!({"name": stored.name, "address": stored.address}))?);
        }
        KeysCommand::Delete { name, yes, keyring } => {
            let ring = keyring.open(home);
            let info = ring.info(&name)?;
            if !yes {
                eprint!("Key {name} ({}) will be deleted. Continue? [y/N]: ", info.address);
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    anyhow::bail!("aborted: key {name} kept");
                }
            }
            ring.delete(&name)?;
            eprintln!("Key {name} deleted");
        }
    }
    Ok(())
}

/// This node's validator consensus address (CometBFT's `priv_validator_key.json` in the home;
/// empty for a node that is not a validator or keeps its key elsewhere).
fn own_consensus_address(home: &std::path::Path) -> Vec<u8> {
    let path = home.join("config/priv_validator_key.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Vec::new() };
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    value.get("address").and_then(|a| a.as_str()).and_then(|a| hex::decode(a).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> serde_json::Value {
        let dev = crate::keys::AccountKey::from_secret(&[1; 32]).expect("key").address();
        json!({"chain_id": "openledger-test-1", "initial_height": "1", "app_state": crate::home::local_app_genesis(&dev)})
    }

    #[test]
    fn genesis_validate_imports_the_whole_state_and_refuses_unknown_sections_and_bad_supply() {
        validate_genesis(&doc()).expect("the generated genesis is valid");
        let mut unknown = doc();
        unknown["app_state"]["nothing"] = json!({});
        let err = validate_genesis(&unknown).expect_err("unknown section").to_string();
        assert!(err.contains("unknown module nothing"), "{err}");
        let mut bad_supply = doc();
        bad_supply["app_state"]["bank"]["supply"][0]["amount"] = json!("1");
        let err = validate_genesis(&bad_supply).expect_err("supply does not add up").to_string();
        assert!(err.contains("bank genesis"), "{err}");
    }
}
