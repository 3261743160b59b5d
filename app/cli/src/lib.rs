//! What every module's command line shares, so that a module's CLI lives in its own folder
//! (`modules/<name>/cli`) and `openledgerd` lists each module once:
//!
//! - [`TxFlags`] / [`QueryFlags`], [`broadcast`] (sign, simulate for gas "auto", broadcast through
//!   CometBFT's RPC, wait for the block, print the result as JSON) and [`query`] (ABCI query on a
//!   gRPC method path);
//! - [`client`] (sign docs for SIGN_MODE_DIRECT and LEGACY_AMINO_JSON) and [`keys`] (the keyring);
//! - [`ModuleCli`] and [`CommandGroup`]: a module hands `openledgerd` its `tx …`, `query …` and
//!   top-level subcommands as clap derive enums.

pub mod client;
pub mod keys;
pub mod prove;

use std::path::Path;
use std::time::Duration;

use clap::{ArgMatches, Args, Subcommand};
use cosmos_sdk_proto::Any;
use openledger_core::coin::{parse_coins, Coin};
use openledger_server::rpc_client::{CometRpc, IndexedTx};
use serde_json::json;

use crate::client::{fetch_account, sign_tx, simulate_gas, SignModeChoice, TxSpec};
use crate::keys::AccountKey;

/// One group of subcommands a module adds (`tx staking …`, `query datanet …`, or a top-level
/// tool such as `datanet export-version`), built from a clap derive enum.
pub struct CommandGroup {
    name: &'static str,
    about: &'static str,
    augment: fn(clap::Command) -> clap::Command,
    run: Box<GroupRunner>,
    /// A single command with arguments (`query tx HASH`) rather than a group of subcommands.
    leaf: bool,
}

/// Runs a group's subcommand: the node home and the group's matches.
type GroupRunner = dyn Fn(&Path, &ArgMatches) -> anyhow::Result<()>;

impl CommandGroup {
    /// The group `name` whose subcommands are `S`'s variants; `run` gets the node home and the
    /// parsed subcommand.
    pub fn new<S: Subcommand + 'static>(name: &'static str, about: &'static str, run: fn(&Path, S) -> anyhow::Result<()>) -> Self {
        Self {
            name,
            about,
            augment: S::augment_subcommands,
            run: Box::new(move |home, matches| run(home, S::from_arg_matches(matches)?)),
            leaf: false,
        }
    }

    /// A single command `name` whose arguments are `A`'s fields (no subcommands).
    pub fn leaf<A: clap::Args + clap::FromArgMatches + 'static>(
        name: &'static str,
        about: &'static str,
        run: fn(&Path, A) -> anyhow::Result<()>,
    ) -> Self {
        Self {
            name,
            about,
            augment: A::augment_args,
            run: Box::new(move |home, matches| run(home, A::from_arg_matches(matches)?)),
            leaf: true,
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The clap command (`name` with its subcommands).
    pub fn command(&self) -> clap::Command {
        let command = (self.augment)(clap::Command::new(self.name)).about(self.about.trim_end_matches('.'));
        if self.leaf {
            return command;
        }
        command.subcommand_required(true).arg_required_else_help(true)
    }

    /// Runs the subcommand `matches` picked.
    pub fn run(&self, home: &Path, matches: &ArgMatches) -> anyhow::Result<()> {
        (self.run)(home, matches)
    }
}

/// A module's command line: the groups it adds under `tx`, under `query`, and at the top level.
pub trait ModuleCli {
    /// Groups under `openledgerd tx`.
    fn tx(&self) -> Vec<CommandGroup> {
        Vec::new()
    }
    /// Groups under `openledgerd query`.
    fn query(&self) -> Vec<CommandGroup> {
        Vec::new()
    }
    /// Top-level groups (`openledgerd datanet …`).
    fn tools(&self) -> Vec<CommandGroup> {
        Vec::new()
    }
}

/// Prints `value` as pretty JSON (what every command prints).
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
    /// Which keyring holds `--from`.
    #[command(flatten)]
    pub keyring: crate::keys::KeyringFlags,
}

impl TxFlags {
    /// The signing key `name` from the keyring these flags name (`--keyring-backend`).
    pub fn signer(&self, home: &std::path::Path, name: &str) -> anyhow::Result<AccountKey> {
        self.keyring.open(home).signer(name)
    }
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

fn parse_adjustment(text: &str) -> anyhow::Result<(u64, u64)> {
    // A decimal with up to 3 fractional digits, as (numerator, 1000).
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        anyhow::bail!("invalid --gas-adjustment {text}");
    }
    let padded = format!("{frac:0<3}");
    Ok((int.parse::<u64>()?.checked_mul(1000).ok_or_else(|| anyhow::anyhow!("overflow"))?.saturating_add(padded.parse::<u64>()?), 1000))
}

/// Signs, (optionally) simulates, broadcasts and waits for a tx; prints the result as JSON.
pub fn broadcast(key: &AccountKey, msgs: Vec<Any>, flags: &TxFlags) -> anyhow::Result<()> {
    broadcast_included(key, msgs, flags).map(|_| ())
}

/// The ids a tx's module events name (`datanet_id`, `contribution_id`, `adapter_id`,
/// `request_id`, `job_id`, `version`, …), first value of each: what a tx that creates something
/// created. The SDK's own events (message, tx, transfer, coins) are skipped.
pub fn ids_of(events: &[(String, Vec<(String, String)>)]) -> serde_json::Map<String, serde_json::Value> {
    const SDK_EVENTS: [&str; 7] = ["message", "tx", "transfer", "coin_spent", "coin_received", "coinbase", "burn"];
    let mut ids = serde_json::Map::new();
    for (_, attrs) in events.iter().filter(|(kind, _)| !SDK_EVENTS.contains(&kind.as_str())) {
        for (key, value) in attrs {
            if (key.ends_with("_id") || key == "version") && !ids.contains_key(key) {
                ids.insert(key.clone(), serde_json::Value::String(value.clone()));
            }
        }
    }
    ids
}

/// Like [`broadcast`], and returns the tx as included in a block (`None` with `--no-wait`).
pub fn broadcast_included(key: &AccountKey, msgs: Vec<Any>, flags: &TxFlags) -> anyhow::Result<Option<IndexedTx>> {
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
    let mut printed = json!({
        "txhash": included.hash, "height": included.height.to_string(), "code": included.code,
        "codespace": included.codespace, "raw_log": included.log,
        "gas_wanted": included.gas_wanted.to_string(), "gas_used": included.gas_used.to_string(),
    });
    let ids = ids_of(&included.events);
    if !ids.is_empty() {
        printed["ids"] = serde_json::Value::Object(ids);
    }
    println!("{}", serde_json::to_string_pretty(&printed)?);
    if included.code != 0 {
        anyhow::bail!("tx failed in block (codespace {}, code {}): {}", included.codespace, included.code, included.log);
    }
    Ok(Some(included))
}

/// ABCI query at `flags`' node and height: the answer's bytes, or its code and log as an error.
pub fn query(flags: &QueryFlags, path: &str, data: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let rpc = CometRpc::new(&flags.node);
    let res = rpc.abci_query(path, &data, flags.height, false)?;
    if res.code != 0 {
        anyhow::bail!("query failed (codespace {}, code {}): {}", res.codespace, res.code, res.log);
    }
    Ok(res.value)
}

/// A node-local ABCI query (`/openledger/node/...`: what this node's executor did or holds,
/// never consensus state), answered as JSON.
pub fn query_node_local(node: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let bytes = query(&QueryFlags { node: node.to_string(), height: 0 }, path, Vec::new())?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// Paging flags of list queries.
#[derive(Debug, Args)]
pub struct PageFlags {
    /// Page size.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// Offset.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
}

impl PageFlags {
    /// The request's `pagination` (with the total counted).
    pub fn request(&self) -> Option<cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest> {
        Some(cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest {
            limit: self.limit,
            offset: self.offset,
            count_total: true,
            ..Default::default()
        })
    }
}

/// A response's `pagination` as the SDK's JSON (`next_key` base64 or null, `total` a string).
pub fn page_json(p: Option<&cosmos_sdk_proto::cosmos::base::query::v1beta1::PageResponse>) -> serde_json::Value {
    use base64::Engine;
    let p = p.cloned().unwrap_or_default();
    let next_key =
        if p.next_key.is_empty() { serde_json::Value::Null } else { json!(base64::engine::general_purpose::STANDARD.encode(&p.next_key)) };
    json!({"next_key": next_key, "total": p.total.to_string()})
}

/// `msg` packed under `type_url`.
pub fn pack_any(type_url: &str, msg: impl prost::Message) -> Any {
    Any { type_url: type_url.into(), value: msg.encode_to_vec() }
}

/// `msg` packed under its proto name (`/cosmos.staking.v1beta1.MsgDelegate`).
pub fn pack_named<M: prost::Name>(msg: &M) -> Any {
    Any { type_url: format!("/{}", M::full_name()), value: msg.encode_to_vec() }
}

/// A typed ABCI query on a gRPC method path at `flags`' node and height.
pub fn query_proto<Req: prost::Message, Resp: prost::Message + Default>(flags: &QueryFlags, path: &str, req: &Req) -> anyhow::Result<Resp> {
    Ok(Resp::decode(query(flags, path, req.encode_to_vec())?.as_slice())?)
}
