//! The `openledgerd` command line: node setup (`init`, `start`, `export`), keys, txs and
//! queries. Tx and query commands talk to a node through CometBFT's RPC (`--node`), like the
//! SDK's CLI.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use cosmos_sdk_proto::cosmos::bank::v1beta1::{
    MsgSend, QueryAllBalancesRequest, QueryAllBalancesResponse, QueryBalanceRequest, QueryBalanceResponse,
};
use cosmos_sdk_proto::Any;
use openledger_auth::keeper::Account;
use openledger_core::coin::{parse_coins, Coin};
use openledger_core::Address;
use prost::Message;
use serde_json::json;

use crate::app::App;
use crate::client::{fetch_account, sign_tx, simulate_gas, SignModeChoice, TxSpec};
use crate::home::{init_home, resolve_home, AppToml, NodeConfig, DEFAULT_CHAIN_ID};
use crate::keys::{AccountKey, Keyring};
use crate::rpc_client::CometRpc;

/// openledgerd: the OpenLedger chain daemon and CLI.
#[derive(Debug, Parser)]
#[command(name = "openledgerd", version, about = "OpenLedger: the AI blockchain (Cosmos-compatible ABCI app for CometBFT v0.38)")]
pub struct Cli {
    /// Node home (default: $OPEN_HOME, else ~/.openledger).
    #[arg(long, global = true)]
    pub home: Option<PathBuf>,
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
    /// Manage keys in the file keyring.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign and broadcast transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Query the chain.
    #[command(subcommand)]
    Query(QueryCommand),
    /// CometBFT helpers.
    #[command(subcommand)]
    Comet(CometCommand),
    /// Edit config/genesis.json before the chain starts.
    #[command(subcommand)]
    Genesis(GenesisCommand),
    /// Datanet tools (export a version as JSONL and check its Merkle root).
    #[command(subcommand)]
    Datanet(crate::cli_datanet::DatanetCommand),
    /// Write the homes of an N-validator loopback network sharing one genesis (see localnet/).
    Testnet(crate::testnet::TestnetArgs),
    /// Print the chain-registry chain.json (default), assetlist.json, or Keplr's chain info.
    ChainInfo(ChainInfoArgs),
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
    /// Upgrade plan names this binary applies when their height is reached (repeatable).
    #[arg(long)]
    pub apply_upgrade: Vec<String>,
    /// Override `executor_addr` of app.toml (the local open-executor, loopback URL).
    #[arg(long)]
    pub executor_addr: Option<String>,
    /// Tests only: perturb every output this validator reports (it gets slashed and jailed).
    #[arg(long, hide = true)]
    pub inference_byzantine: bool,
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
    },
    /// List keys.
    List,
    /// Show a key's address.
    Show {
        /// Key name.
        name: String,
    },
}

/// Flags shared by every tx.
#[derive(Debug, Args)]
pub struct TxFlags {
    /// CometBFT RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:26657")]
    pub node: String,
    /// Chain id (default: from the node's /status).
    #[arg(long)]
    pub chain_id: Option<String>,
    /// Fee, e.g. 5000uopen (default: gas × 0.025uopen).
    #[arg(long)]
    pub fees: Option<String>,
    /// Gas limit, or "auto" to simulate.
    #[arg(long, default_value = "auto")]
    pub gas: String,
    /// Multiplier applied to the simulated gas.
    #[arg(long, default_value = "1.4")]
    pub gas_adjustment: String,
    /// Memo.
    #[arg(long, default_value = "")]
    pub memo: String,
    /// direct or amino-json.
    #[arg(long, default_value = "direct")]
    pub sign_mode: String,
    /// Return after CheckTx instead of waiting for the block.
    #[arg(long)]
    pub no_wait: bool,
}

/// `tx` subcommands.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Bank transactions.
    #[command(subcommand)]
    Bank(BankTx),
    /// Staking transactions.
    #[command(subcommand)]
    Staking(crate::cli_stake::StakingTx),
    /// Distribution transactions.
    #[command(subcommand)]
    Distribution(crate::cli_stake::DistributionTx),
    /// Slashing transactions.
    #[command(subcommand)]
    Slashing(crate::cli_stake::SlashingTx),
    /// Inference transactions (request, register-executor).
    #[command(subcommand)]
    Inference(crate::cli_inference::InferenceTx),
    /// Datanet transactions.
    #[command(subcommand)]
    Datanet(Box<crate::cli_datanet::DatanetTx>),
    /// Model registry transactions.
    #[command(subcommand)]
    Model(Box<crate::cli_datanet::ModelTx>),
    /// Governance transactions.
    #[command(subcommand)]
    Gov(crate::cli_gov::GovTx),
}

/// `tx bank` subcommands.
#[derive(Debug, Subcommand)]
pub enum BankTx {
    /// Send coins: FROM is a key name, TO an address, AMOUNT like 1000000uopen.
    Send {
        /// Sender key name.
        from: String,
        /// Recipient address.
        to: String,
        /// Coins.
        amount: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// Flags shared by queries.
#[derive(Debug, Args)]
pub struct QueryFlags {
    /// CometBFT RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:26657")]
    pub node: String,
    /// Height (0 = latest).
    #[arg(long, default_value_t = 0)]
    pub height: i64,
}

/// `query` subcommands.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Bank queries.
    #[command(subcommand)]
    Bank(BankQueryCmd),
    /// Auth queries.
    #[command(subcommand)]
    Auth(AuthQueryCmd),
    /// Staking queries.
    #[command(subcommand)]
    Staking(crate::cli_stake::StakingQuery),
    /// Distribution queries.
    #[command(subcommand)]
    Distribution(crate::cli_stake::DistributionQuery),
    /// Slashing queries.
    #[command(subcommand)]
    Slashing(crate::cli_stake::SlashingQuery),
    /// Inference queries.
    #[command(subcommand)]
    Inference(crate::cli_inference::InferenceQueryCmd),
    /// Proof of Attribution queries (records, indexes, dry-run scores).
    #[command(subcommand)]
    Attribution(crate::cli_attribution::AttributionQueryCmd),
    /// Datanet queries.
    #[command(subcommand)]
    Datanet(crate::cli_datanet::DatanetQueryCmd),
    /// Model registry queries.
    #[command(subcommand)]
    Model(crate::cli_datanet::ModelQueryCmd),
    /// Governance queries.
    #[command(subcommand)]
    Gov(crate::cli_gov::GovQueryCmd),
}

/// `query bank` subcommands.
#[derive(Debug, Subcommand)]
pub enum BankQueryCmd {
    /// Balances of an address (one denom with --denom).
    Balances {
        /// Address.
        address: String,
        /// Only this denom.
        #[arg(long)]
        denom: Option<String>,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

/// `query auth` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuthQueryCmd {
    /// An account (number, sequence, public key).
    Account {
        /// Address.
        address: String,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

/// Runs the CLI.
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
        Command::Tx(TxCommand::Bank(BankTx::Send { from, to, amount, flags })) => cmd_send(&home, &from, &to, &amount, &flags),
        Command::Tx(TxCommand::Staking(cmd)) => crate::cli_stake::staking_tx(&home, cmd),
        Command::Tx(TxCommand::Gov(cmd)) => crate::cli_gov::gov_tx(&home, cmd),
        Command::Query(QueryCommand::Gov(cmd)) => crate::cli_gov::gov_query(cmd),
        Command::Tx(TxCommand::Distribution(cmd)) => crate::cli_stake::distribution_tx(&home, cmd),
        Command::Tx(TxCommand::Slashing(cmd)) => crate::cli_stake::slashing_tx(&home, cmd),
        Command::Query(QueryCommand::Staking(cmd)) => crate::cli_stake::staking_query(cmd),
        Command::Query(QueryCommand::Distribution(cmd)) => crate::cli_stake::distribution_query(cmd),
        Command::Query(QueryCommand::Slashing(cmd)) => crate::cli_stake::slashing_query(cmd),
        Command::Comet(CometCommand::ShowValidator) => crate::cli_stake::show_validator(&home),
        Command::Genesis(cmd) => cmd_genesis(&home, cmd),
        Command::Tx(TxCommand::Inference(cmd)) => crate::cli_inference::inference_tx(&home, cmd),
        Command::Query(QueryCommand::Inference(cmd)) => crate::cli_inference::inference_query(cmd),
        Command::Query(QueryCommand::Attribution(cmd)) => crate::cli_attribution::attribution_query(cmd),
        Command::Tx(TxCommand::Datanet(cmd)) => crate::cli_datanet::datanet_tx(&home, *cmd),
        Command::Tx(TxCommand::Model(cmd)) => crate::cli_datanet::model_tx(&home, *cmd),
        Command::Query(QueryCommand::Datanet(cmd)) => crate::cli_datanet::datanet_query(cmd),
        Command::Query(QueryCommand::Model(cmd)) => crate::cli_datanet::model_query(cmd),
        Command::Datanet(cmd) => crate::cli_datanet::datanet_command(cmd),
        Command::Testnet(args) => crate::testnet::cmd_testnet(&args),
        Command::ChainInfo(args) => cmd_chain_info(&home, &args),
        Command::Query(QueryCommand::Bank(BankQueryCmd::Balances { address, denom, flags })) => {
            cmd_balances(&address, denom.as_deref(), &flags)
        }
        Command::Query(QueryCommand::Auth(AuthQueryCmd::Account { address, flags })) => cmd_account(&address, &flags),
    }
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
        timeout_commit: args.timeout_commit,
        unbonding_seconds: args.unbonding_seconds,
        signed_blocks_window: args.signed_blocks_window,
        downtime_jail_seconds: args.downtime_jail_seconds,
        voting_period_seconds: args.voting_period_seconds,
        max_deposit_period_seconds: args.max_deposit_period_seconds,
        ..NodeConfig::default()
    };
    let out = init_home(home, &cfg, mnemonic, args.overwrite)?;
    println!("Initialized node home {} for chain {}", out.home.display(), cfg.chain_id);
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
    let app = Arc::new(App::open(&home.join("data/application.db"))?);
    let executor_addr = args.executor_addr.clone().unwrap_or(settings.executor_addr.clone());
    if !executor_addr.is_empty() {
        check_loopback_url(&executor_addr)?;
        app.set_inference(crate::inference::InferenceRuntime::start(&executor_addr, args.inference_byzantine)?);
        tracing::info!(
            "inference: executing requests on {executor_addr}{}",
            if args.inference_byzantine { " (BYZANTINE test mode)" } else { "" }
        );
    }
    let (height, hash) = app.storage().last_committed();
    tracing::info!("openledgerd starting at height {height}, app hash {}", hex::encode_upper(hash));
    let abci_app = app.clone();
    let abci_thread = std::thread::Builder::new().name("abci".into()).spawn(move || crate::abci::serve(abci_app, &abci_addr))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let rest = tokio::spawn(crate::rest::serve(app.clone(), settings.comet_rpc.clone(), api_addr, chain_info.documents()));
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

fn cmd_keys(home: &std::path::Path, cmd: KeysCommand) -> anyhow::Result<()> {
    let ring = Keyring::new(home);
    match cmd {
        KeysCommand::Add { name, recover } => {
            let mnemonic = if recover {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s.trim().to_string()
            } else {
                AccountKey::generate_mnemonic()
            };
            let stored = ring.add(&name, &mnemonic)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"name": stored.name, "address": stored.address, "pubkey_type": "secp256k1"}))?
            );
            if !recover {
                println!("\n**Write this mnemonic phrase down; it is the only way to recover the key.**\n\n{mnemonic}");
            }
        }
        KeysCommand::List => {
            let keys: Vec<_> = ring.list()?.into_iter().map(|k| json!({"name": k.name, "address": k.address})).collect();
            println!("{}", serde_json::to_string_pretty(&keys)?);
        }
        KeysCommand::Show { name } => {
            let k = ring.get(&name)?;
            let operator = openledger_stake::keeper::operator_of(&Address::from_bech32(&k.address)?);
            println!("{}", serde_json::to_string_pretty(&json!({"name": k.name, "address": k.address, "validator_operator": operator}))?);
        }
    }
    Ok(())
}

fn parse_adjustment(text: &str) -> anyhow::Result<(u64, u64)> {
    // A decimal with up to 3 fractional digits, as (numerator, 1000).
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        anyhow::bail!("invalid --gas-adjustment {text}");
    }
    let padded = format!("{frac:0<3}");
    Ok((int.parse::<u64>()?.checked_mul(1000).ok_or_else(|| anyhow::anyhow!("overflow"))?.saturating_add(padded.parse::<u64>()?), 1000))
}

fn cmd_send(home: &std::path::Path, from: &str, to: &str, amount: &str, flags: &TxFlags) -> anyhow::Result<()> {
    let key = Keyring::new(home).signer(from)?;
    let to = Address::from_bech32(to)?;
    let coins = parse_coins(amount)?;
    let msg =
        MsgSend { from_address: key.address().to_bech32(), to_address: to.to_bech32(), amount: coins.iter().map(Coin::to_proto).collect() };
    let any = Any { type_url: "/cosmos.bank.v1beta1.MsgSend".into(), value: msg.encode_to_vec() };
    broadcast(&key, vec![any], flags)
}

/// Signs, (optionally) simulates, broadcasts and waits for a tx; prints the result as JSON.
pub fn broadcast(key: &AccountKey, msgs: Vec<Any>, flags: &TxFlags) -> anyhow::Result<()> {
    broadcast_included(key, msgs, flags).map(|_| ())
}

/// Like [`broadcast`], and returns the tx as included in a block (`None` with `--no-wait`).
pub fn broadcast_included(key: &AccountKey, msgs: Vec<Any>, flags: &TxFlags) -> anyhow::Result<Option<crate::rpc_client::IndexedTx>> {
    let rpc = CometRpc::new(&flags.node);
    let chain_id = match &flags.chain_id {
        Some(c) => c.clone(),
        None => rpc.status()?["node_info"]["network"].as_str().unwrap_or_default().to_string(),
    };
    let account = fetch_account(&rpc, &key.address())?
        .ok_or_else(|| anyhow::anyhow!("account {} does not exist on chain yet (fund it first)", key.address()))?;
    let mode = match flags.sign_mode.as_str() {
        "direct" => SignModeChoice::Direct,
        "amino-json" => SignModeChoice::AminoJson,
        other => anyhow::bail!("unknown --sign-mode {other} (direct or amino-json)"),
    };
    let gas_limit = if flags.gas == "auto" {
        let probe = TxSpec {
            key,
            chain_id: &chain_id,
            account_number: account.account_number,
            sequence: account.sequence,
            msgs: msgs.clone(),
            fee: vec![],
            gas_limit: 0,
            memo: flags.memo.clone(),
            mode,
        };
        let used = simulate_gas(&rpc, &sign_tx(&probe)?)?;
        let (num, den) = parse_adjustment(&flags.gas_adjustment)?;
        used.saturating_mul(num).div_ceil(den)
    } else {
        flags.gas.parse::<u64>().map_err(|_| anyhow::anyhow!("--gas must be a number or auto"))?
    };
    let fee = match &flags.fees {
        Some(f) => parse_coins(f)?.iter().map(Coin::to_proto).collect(),
        None => {
            let amount =
                openledger_auth::params::min_fee(gas_limit, &openledger_auth::params::default_fee_params().min_gas_price).unwrap_or(0);
            vec![Coin::new("uopen", amount).to_proto()]
        }
    };
    let spec = TxSpec {
        key,
        chain_id: &chain_id,
        account_number: account.account_number,
        sequence: account.sequence,
        msgs,
        fee,
        gas_limit,
        memo: flags.memo.clone(),
        mode,
    };
    let bytes = sign_tx(&spec)?;
    let res = rpc.broadcast_tx_sync(&bytes)?;
    if res.code != 0 {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"txhash": res.hash, "code": res.code, "codespace": res.codespace, "raw_log": res.log}))?
        );
        anyhow::bail!("tx rejected by CheckTx (codespace {}, code {}): {}", res.codespace, res.code, res.log);
    }
    if flags.no_wait {
        println!("{}", serde_json::to_string_pretty(&json!({"txhash": res.hash, "code": 0}))?);
        return Ok(None);
    }
    let included =
        rpc.wait_for_tx(&res.hash, Duration::from_secs(60))?.ok_or_else(|| anyhow::anyhow!("tx {} not included within 60s", res.hash))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "txhash": included.hash, "height": included.height.to_string(), "code": included.code,
            "codespace": included.codespace, "raw_log": included.log,
            "gas_wanted": included.gas_wanted.to_string(), "gas_used": included.gas_used.to_string(),
        }))?
    );
    if included.code != 0 {
        anyhow::bail!("tx failed in block (codespace {}, code {}): {}", included.codespace, included.code, included.log);
    }
    Ok(Some(included))
}

/// ABCI query at `flags`' node and height: the answer's bytes, or its code and log as an error.
pub(crate) fn query(flags: &QueryFlags, path: &str, data: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let rpc = CometRpc::new(&flags.node);
    let res = rpc.abci_query(path, &data, flags.height, false)?;
    if res.code != 0 {
        anyhow::bail!("query failed (codespace {}, code {}): {}", res.codespace, res.code, res.log);
    }
    Ok(res.value)
}

fn coin_json(c: &cosmos_sdk_proto::cosmos::base::v1beta1::Coin) -> serde_json::Value {
    json!({"denom": c.denom, "amount": c.amount})
}

fn cmd_balances(address: &str, denom: Option<&str>, flags: &QueryFlags) -> anyhow::Result<()> {
    Address::from_bech32(address)?;
    let out = match denom {
        Some(d) => {
            let bytes = query(
                flags,
                "/cosmos.bank.v1beta1.Query/Balance",
                QueryBalanceRequest { address: address.into(), denom: d.into() }.encode_to_vec(),
            )?;
            let resp = QueryBalanceResponse::decode(bytes.as_slice())?;
            json!({"balance": resp.balance.as_ref().map(coin_json)})
        }
        None => {
            let bytes = query(
                flags,
                "/cosmos.bank.v1beta1.Query/AllBalances",
                QueryAllBalancesRequest { address: address.into(), pagination: None, resolve_denom: false }.encode_to_vec(),
            )?;
            let resp = QueryAllBalancesResponse::decode(bytes.as_slice())?;
            json!({"balances": resp.balances.iter().map(coin_json).collect::<Vec<_>>(), "pagination": {"next_key": null, "total": "0"}})
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn cmd_account(address: &str, flags: &QueryFlags) -> anyhow::Result<()> {
    Address::from_bech32(address)?;
    let bytes = query(
        flags,
        "/cosmos.auth.v1beta1.Query/Account",
        cosmos_sdk_proto::cosmos::auth::v1beta1::QueryAccountRequest { address: address.into() }.encode_to_vec(),
    )?;
    let resp = cosmos_sdk_proto::cosmos::auth::v1beta1::QueryAccountResponse::decode(bytes.as_slice())?;
    let any = resp.account.ok_or_else(|| anyhow::anyhow!("empty response"))?;
    let account = Account::from_any(&any).map_err(|e| anyhow::anyhow!(e))?;
    let base = account.base();
    let pub_key = account.secp256k1_pubkey().map(|k| {
        use base64::Engine;
        json!({"@type": "/cosmos.crypto.secp256k1.PubKey", "key": base64::engine::general_purpose::STANDARD.encode(k)})
    });
    let mut out = json!({"@type": any.type_url, "address": base.address, "pub_key": pub_key, "account_number": base.account_number.to_string(), "sequence": base.sequence.to_string()});
    if let Account::Module(m) = &account {
        out["name"] = json!(m.name);
        out["permissions"] = json!(m.permissions);
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
