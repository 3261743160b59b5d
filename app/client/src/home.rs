//! The node home (`$OPEN_HOME`, default `~/.openledger`): CometBFT's config, keys and genesis
//! under `config/`, its data and our sled store under `data/`, our own `config/app.toml`, the
//! file keyring, and `dev-account.json`. `openledgerd init` writes all of it without needing
//! the cometbft binary.

use std::path::{Path, PathBuf};

use base64::Engine;
use openledger_auth::genesis::AccountJson;
use openledger_bank::genesis::{BalanceJson, CoinJson};
use openledger_core::coin::BASE_DENOM;
use openledger_core::Address;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::keys::{write_private_file, AccountKey, Keyring};
use crate::modules::{AppGenesis, COMMUNITY_INCENTIVES};
use openledger_stake::genesis::GenesisValidator;

/// Default REST (LCD) listen address.
pub const DEFAULT_API_ADDR: &str = "127.0.0.1:1317";
/// Default chain id of a local chain.
pub const DEFAULT_CHAIN_ID: &str = "openledger-local-1";
/// Total supply: 1,000,000,000 OPEN in uopen.
pub const TOTAL_SUPPLY_UOPEN: u128 = 1_000_000_000 * 1_000_000;
/// Community incentives share of the supply, in tenths of a percent (51.7 %).
pub const COMMUNITY_SHARE_PER_MILLE: u128 = 517;

/// Resolves the home: `--home`, else `$OPEN_HOME`, else `~/.openledger`.
pub fn resolve_home(flag: Option<PathBuf>) -> PathBuf {
    if let Some(h) = flag {
        return h;
    }
    if let Ok(h) = std::env::var("OPEN_HOME") {
        if !h.is_empty() {
            return PathBuf::from(h);
        }
    }
    let base = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    PathBuf::from(base).join(".openledger")
}

/// Addresses and ports of one node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Chain id.
    pub chain_id: String,
    /// Moniker.
    pub moniker: String,
    /// CometBFT RPC listen address (`tcp://127.0.0.1:26657`).
    pub rpc_laddr: String,
    /// CometBFT P2P listen address.
    pub p2p_laddr: String,
    /// ABCI address openledgerd listens on (`127.0.0.1:26658`).
    pub abci_addr: String,
    /// gRPC address.
    pub grpc_addr: String,
    /// REST (LCD) address.
    pub api_addr: String,
    /// CometBFT `timeout_commit` (block time), e.g. `1s`.
    pub timeout_commit: String,
    /// Staking unbonding period in seconds.
    pub unbonding_seconds: u64,
    /// Slashing liveness window in blocks.
    pub signed_blocks_window: i64,
    /// Jail time after downtime, seconds.
    pub downtime_jail_seconds: u64,
    /// Gov voting period, seconds.
    pub voting_period_seconds: u64,
    /// Gov deposit period, seconds.
    pub max_deposit_period_seconds: u64,
    /// CometBFT `persistent_peers` (`id@host:port,…`; empty for a single node).
    pub persistent_peers: String,
    /// URL of this validator's `open-executor` (`http://127.0.0.1:50051`); empty: none.
    pub executor_addr: String,
    /// openledgerd's Prometheus endpoint (`127.0.0.1:26661`, path /metrics); empty: off.
    pub metrics_addr: String,
    /// CometBFT's Prometheus endpoint (`127.0.0.1:26660`); empty: off.
    pub comet_metrics_addr: String,
}

/// Default address of openledgerd's Prometheus endpoint.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:26661";
/// Default address of CometBFT's Prometheus endpoint.
pub const DEFAULT_COMET_METRICS_ADDR: &str = "127.0.0.1:26660";

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            chain_id: DEFAULT_CHAIN_ID.into(),
            moniker: "openledger-node".into(),
            rpc_laddr: "tcp://127.0.0.1:26657".into(),
            p2p_laddr: "tcp://127.0.0.1:26656".into(),
            abci_addr: "127.0.0.1:26658".into(),
            grpc_addr: "127.0.0.1:9090".into(),
            api_addr: DEFAULT_API_ADDR.into(),
            timeout_commit: "1s".into(),
            unbonding_seconds: 21 * 24 * 3600,
            signed_blocks_window: 100,
            downtime_jail_seconds: 600,
            voting_period_seconds: openledger_gov::params::DEFAULT_PERIOD_SECONDS.unsigned_abs(),
            max_deposit_period_seconds: openledger_gov::params::DEFAULT_PERIOD_SECONDS.unsigned_abs(),
            persistent_peers: String::new(),
            executor_addr: String::new(),
            metrics_addr: DEFAULT_METRICS_ADDR.into(),
            comet_metrics_addr: DEFAULT_COMET_METRICS_ADDR.into(),
        }
    }
}

/// Our own settings, from `config/app.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppToml {
    /// ABCI listen address.
    pub abci_addr: String,
    /// gRPC listen address.
    pub grpc_addr: String,
    /// CometBFT RPC URL (for broadcast and tx lookups).
    pub comet_rpc: String,
    /// URL of this validator's `open-executor` (`http://127.0.0.1:PORT`); empty: this
    /// validator runs no executor.
    pub executor_addr: String,
    /// REST (LCD) listen address (homes written before it existed get the default).
    pub api_addr: String,
    /// Directory of the built web app (`web/dist`) the REST server serves at `/app`; empty:
    /// none (the default; `openledgerd start --web-dir` overrides it).
    pub web_dir: String,
    /// Prometheus endpoint (`/metrics`); empty: off (homes written before it existed).
    pub metrics_addr: String,
    /// A state sync snapshot every this many blocks (0: none, as the SDK's default).
    pub snapshot_interval: u64,
    /// State sync snapshots kept on disk (the newest).
    pub snapshot_keep_recent: u64,
    /// Pruning strategy of old heights' state: `default`, `nothing`, `everything` or `custom`.
    pub pruning: String,
    /// With `custom`: the newest heights kept.
    pub pruning_keep_recent: u64,
    /// With `custom`: prune every this many blocks.
    pub pruning_interval: u64,
}

/// Snapshots a node keeps by default (the SDK's `snapshot-keep-recent`).
pub const DEFAULT_SNAPSHOT_KEEP_RECENT: u64 = 2;

impl AppToml {
    /// Renders the file.
    pub fn render(&self) -> String {
        format!(
            "# openledgerd settings (CometBFT's own are in config.toml)\nabci_addr = \"{}\"\ngrpc_addr = \"{}\"\ncomet_rpc = \"{}\"\n\
             # open-executor of this validator (empty: none)\nexecutor_addr = \"{}\"\n\
             # REST (LCD) server\napi_addr = \"{}\"\n\
             # built web app served by the REST server at /app (empty: none)\nweb_dir = \"{}\"\n\
             # Prometheus metrics at http://ADDR/metrics (empty: off)\nmetrics_addr = \"{}\"\n\
             # state sync: a snapshot every N blocks (0: none), the newest K kept on disk\n\
             snapshot_interval = {}\nsnapshot_keep_recent = {}\n\
             # old heights' state: default (keep 362880 heights), nothing (archive), everything (keep 2),\n\
             # custom (pruning_keep_recent heights, pruned every pruning_interval blocks)\n\
             pruning = \"{}\"\npruning_keep_recent = {}\npruning_interval = {}\n",
            self.abci_addr,
            self.grpc_addr,
            self.comet_rpc,
            self.executor_addr,
            self.api_addr,
            self.web_dir,
            self.metrics_addr,
            self.snapshot_interval,
            self.snapshot_keep_recent,
            self.pruning,
            self.pruning_keep_recent,
            self.pruning_interval
        )
    }

    /// Parses `key = "value"` lines.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let get = |key: &str| -> anyhow::Result<String> {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
                .ok_or_else(|| anyhow::anyhow!("app.toml misses {key}"))
        };
        Ok(Self {
            abci_addr: get("abci_addr")?,
            grpc_addr: get("grpc_addr")?,
            comet_rpc: get("comet_rpc")?,
            // Optional: homes written before executors existed have no such line.
            executor_addr: get("executor_addr").unwrap_or_default(),
            api_addr: get("api_addr").unwrap_or_else(|_| DEFAULT_API_ADDR.into()),
            web_dir: get("web_dir").unwrap_or_default(),
            metrics_addr: get("metrics_addr").unwrap_or_default(),
            snapshot_interval: match get("snapshot_interval") {
                Ok(v) => v.parse().map_err(|e| anyhow::anyhow!("app.toml snapshot_interval {v:?}: {e}"))?,
                Err(_) => 0,
            },
            snapshot_keep_recent: match get("snapshot_keep_recent") {
                Ok(v) => v.parse().map_err(|e| anyhow::anyhow!("app.toml snapshot_keep_recent {v:?}: {e}"))?,
                Err(_) => DEFAULT_SNAPSHOT_KEEP_RECENT,
            },
            pruning: get("pruning").unwrap_or_else(|_| "default".into()),
            pruning_keep_recent: get("pruning_keep_recent").ok().and_then(|v| v.parse().ok()).unwrap_or(0),
            pruning_interval: get("pruning_interval").ok().and_then(|v| v.parse().ok()).unwrap_or(0),
        })
    }

    /// Reads `home/config/app.toml`.
    pub fn load(home: &Path) -> anyhow::Result<Self> {
        let path = home.join("config/app.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e} (run `openledgerd init` first)", path.display()))?;
        Self::parse(&text)
    }
}

fn http_url(laddr: &str) -> String {
    format!("http://{}", laddr.trim_start_matches("tcp://"))
}

fn cometbft_config(cfg: &NodeConfig) -> String {
    format!(
        r#"# CometBFT configuration written by `openledgerd init`; unspecified keys take CometBFT's defaults.
proxy_app = "tcp://{abci}"
moniker = "{moniker}"
db_backend = "goleveldb"
db_dir = "data"
log_level = "info"
genesis_file = "config/genesis.json"
priv_validator_key_file = "config/priv_validator_key.json"
priv_validator_state_file = "data/priv_validator_state.json"
node_key_file = "config/node_key.json"
abci = "socket"

[rpc]
laddr = "{rpc}"
cors_allowed_origins = []
max_body_bytes = 5000000

[p2p]
laddr = "{p2p}"
external_address = ""
seeds = ""
persistent_peers = "{peers}"
addr_book_strict = false
allow_duplicate_ip = true

[mempool]
size = 5000
max_tx_bytes = 1048576

[consensus]
timeout_propose = "1s"
timeout_prevote = "500ms"
timeout_precommit = "500ms"
timeout_commit = "{commit}"
create_empty_blocks = true

[tx_index]
indexer = "kv"

[instrumentation]
prometheus = {prometheus}
prometheus_listen_addr = "{prometheus_addr}"
namespace = "cometbft"
"#,
        abci = cfg.abci_addr,
        moniker = cfg.moniker,
        rpc = cfg.rpc_laddr,
        p2p = cfg.p2p_laddr,
        commit = cfg.timeout_commit,
        peers = cfg.persistent_peers,
        prometheus = !cfg.comet_metrics_addr.is_empty(),
        prometheus_addr = cfg.comet_metrics_addr,
    )
}

/// An ed25519 key in CometBFT's JSON form.
struct Ed25519Json {
    address_hex: String,
    pub_b64: String,
    priv_b64: String,
}

fn new_ed25519() -> Ed25519Json {
    let sk = ed25519_consensus::SigningKey::new(rand_core::OsRng);
    let pk = sk.verification_key().to_bytes();
    let mut full = sk.to_bytes().to_vec();
    full.extend_from_slice(&pk);
    let address = Sha256::digest(pk);
    let b64 = base64::engine::general_purpose::STANDARD;
    Ed25519Json { address_hex: hex::encode_upper(&address[..20]), pub_b64: b64.encode(pk), priv_b64: b64.encode(full) }
}

/// The dev account's self-bond to the local validator: 1,000,000 OPEN (1,000,000 power).
pub const LOCAL_SELF_BOND_UOPEN: u128 = 1_000_000 * 1_000_000;

/// Adds a gentx-style genesis validator operated by `operator` with consensus key `pubkey_b64`.
pub fn add_genesis_validator(genesis: &mut AppGenesis, operator: &Address, pubkey_b64: &str, moniker: &str, self_bond: u128) {
    genesis.stake.validators.push(GenesisValidator {
        operator_address: openledger_stake::keeper::operator_of(operator),
        consensus_pubkey: pubkey_b64.to_string(),
        moniker: moniker.to_string(),
        commission_rate: "0.05".into(),
        commission_max_rate: "0.2".into(),
        commission_max_change_rate: "0.01".into(),
        min_self_delegation: 1_000_000,
        self_delegation: self_bond,
    });
}

/// The genesis allocation of a local chain: 51.7 % to community incentives, the rest to the dev
/// account.
pub fn local_app_genesis(dev: &Address) -> AppGenesis {
    local_app_genesis_with(dev, &[])
}

/// Like [`local_app_genesis`], with `others` (address, uopen) funded out of the dev account's
/// share, so the supply stays 1,000,000,000 OPEN. Account numbers follow the order given (dev 0).
pub fn local_app_genesis_with(dev: &Address, others: &[(Address, u128)]) -> AppGenesis {
    let community = TOTAL_SUPPLY_UOPEN * COMMUNITY_SHARE_PER_MILLE / 1000;
    let others_total: u128 = others.iter().map(|(_, a)| a).sum();
    let dev_amount = (TOTAL_SUPPLY_UOPEN - community).saturating_sub(others_total);
    let mut genesis = AppGenesis::default();
    let funded = std::iter::once((dev, dev_amount)).chain(others.iter().map(|(a, n)| (a, *n)));
    for (number, (address, amount)) in (0u64..).zip(funded) {
        genesis.auth.accounts.push(AccountJson {
            address: address.to_bech32(),
            account_number: number,
            sequence: 0,
            module_name: None,
            permissions: vec![],
        });
        genesis
            .bank
            .balances
            .push(BalanceJson { address: address.to_bech32(), coins: vec![CoinJson { denom: BASE_DENOM.into(), amount }] });
    }
    genesis.bank.balances.push(BalanceJson {
        address: Address::module(COMMUNITY_INCENTIVES).to_bech32(),
        coins: vec![CoinJson { denom: BASE_DENOM.into(), amount: community }],
    });
    genesis.bank.supply = vec![CoinJson { denom: BASE_DENOM.into(), amount: TOTAL_SUPPLY_UOPEN }];
    genesis
}

/// What `init` created.
#[derive(Debug, Clone)]
pub struct InitOutput {
    /// Home.
    pub home: PathBuf,
    /// Dev account address.
    pub dev_address: String,
    /// Dev account mnemonic.
    pub dev_mnemonic: String,
}

/// A node's consensus and P2P identity, as written into its home by [`write_node_keys`].
#[derive(Debug, Clone)]
pub struct NodeKeys {
    /// Base64 ed25519 consensus public key (the validator's key).
    pub consensus_pubkey_b64: String,
    /// CometBFT node id: lower-case hex of sha256(node ed25519 public key)[..20].
    pub node_id: String,
}

/// Creates `home/config` and `home/data`; refuses an initialized home unless `overwrite`, in
/// which case the previous config, data, keyring and dev account are deleted.
pub fn prepare_home(home: &Path, overwrite: bool) -> anyhow::Result<()> {
    let genesis_path = home.join("config/genesis.json");
    if genesis_path.exists() && !overwrite {
        anyhow::bail!("{} already exists; use --overwrite to replace the node home", genesis_path.display());
    }
    if overwrite {
        for sub in ["config", "data", "keyring-test"] {
            let p = home.join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p)?;
            }
        }
        let dev = home.join("dev-account.json");
        if dev.exists() {
            std::fs::remove_file(dev)?;
        }
    }
    std::fs::create_dir_all(home.join("config"))?;
    std::fs::create_dir_all(home.join("data"))?;
    Ok(())
}

/// Generates and writes (mode 0600) the consensus key, its sign state and the P2P node key.
pub fn write_node_keys(home: &Path) -> anyhow::Result<NodeKeys> {
    let validator = new_ed25519();
    let pv_key = json!({
        "address": validator.address_hex,
        "pub_key": {"type": "tendermint/PubKeyEd25519", "value": validator.pub_b64},
        "priv_key": {"type": "tendermint/PrivKeyEd25519", "value": validator.priv_b64},
    });
    write_private_file(&home.join("config/priv_validator_key.json"), serde_json::to_string_pretty(&pv_key)?.as_bytes())?;
    write_private_file(&home.join("data/priv_validator_state.json"), br#"{"height": "0", "round": 0, "step": 0}"#)?;
    let node = new_ed25519();
    let node_key = json!({"priv_key": {"type": "tendermint/PrivKeyEd25519", "value": node.priv_b64}});
    write_private_file(&home.join("config/node_key.json"), serde_json::to_string_pretty(&node_key)?.as_bytes())?;
    Ok(NodeKeys { consensus_pubkey_b64: validator.pub_b64, node_id: node.address_hex.to_ascii_lowercase() })
}

/// Saves `mnemonic` as key `dev` in the home's keyring and in `dev-account.json` (mode 0600);
/// returns its address.
pub fn write_dev_account(home: &Path, mnemonic: &str) -> anyhow::Result<Address> {
    let address = AccountKey::from_mnemonic(mnemonic)?.address();
    Keyring::new(home).add("dev", mnemonic)?;
    let dev_json = json!({"name": "dev", "address": address.to_bech32(), "mnemonic": mnemonic});
    write_private_file(&home.join("dev-account.json"), serde_json::to_string_pretty(&dev_json)?.as_bytes())?;
    Ok(address)
}

/// Sets the chain parameters a [`NodeConfig`] carries (unbonding, slashing, gov periods).
pub fn apply_chain_params(app_state: &mut AppGenesis, cfg: &NodeConfig) {
    app_state.stake.params.unbonding_time_seconds = cfg.unbonding_seconds;
    app_state.stake.slashing.signed_blocks_window = cfg.signed_blocks_window;
    app_state.stake.slashing.downtime_jail_duration_seconds = cfg.downtime_jail_seconds;
    let mut gov_params = openledger_gov::genesis::GovParamsJson::from_params(&openledger_gov::params::default_params());
    gov_params.voting_period_seconds = cfg.voting_period_seconds;
    gov_params.max_deposit_period_seconds = cfg.max_deposit_period_seconds;
    app_state.gov.params = Some(gov_params);
}

/// The CometBFT genesis document around an `app_state` (the validator set comes from the app's
/// stake genesis at InitChain).
pub fn genesis_document(chain_id: &str, app_state: serde_json::Value) -> serde_json::Value {
    json!({
        "genesis_time": current_time_rfc3339(),
        "chain_id": chain_id,
        "initial_height": "1",
        "consensus_params": {
            "block": {"max_bytes": "4194304", "max_gas": "-1"},
            "evidence": {"max_age_num_blocks": "100000", "max_age_duration": "172800000000000", "max_bytes": "1048576"},
            "validator": {"pub_key_types": ["ed25519"]},
            "version": {"app": "1"},
            "abci": {"vote_extensions_enable_height": "1"}
        },
        "validators": [],
        "app_hash": "",
        "app_state": app_state,
    })
}

/// Writes `config/config.toml` (CometBFT) and `config/app.toml` (ours) for `cfg`.
pub fn write_node_config(home: &Path, cfg: &NodeConfig) -> anyhow::Result<()> {
    std::fs::write(home.join("config/config.toml"), cometbft_config(cfg))?;
    let app_toml = AppToml {
        abci_addr: cfg.abci_addr.clone(),
        grpc_addr: cfg.grpc_addr.clone(),
        comet_rpc: http_url(&cfg.rpc_laddr),
        executor_addr: cfg.executor_addr.clone(),
        api_addr: cfg.api_addr.clone(),
        web_dir: String::new(),
        metrics_addr: cfg.metrics_addr.clone(),
        snapshot_interval: 0,
        snapshot_keep_recent: DEFAULT_SNAPSHOT_KEEP_RECENT,
        pruning: "default".into(),
        pruning_keep_recent: 0,
        pruning_interval: 0,
    };
    std::fs::write(home.join("config/app.toml"), app_toml.render())?;
    Ok(())
}

/// Writes a complete single-validator node home. Refuses to touch an initialized home unless
/// `overwrite` is set.
pub fn init_home(home: &Path, cfg: &NodeConfig, dev_mnemonic: Option<String>, overwrite: bool) -> anyhow::Result<InitOutput> {
    prepare_home(home, overwrite)?;
    let keys = write_node_keys(home)?;
    let mnemonic = dev_mnemonic.unwrap_or_else(AccountKey::generate_mnemonic);
    let dev_address = write_dev_account(home, &mnemonic)?;

    // Genesis: the dev account self-bonds to this node's validator key.
    let mut app_state = local_app_genesis(&dev_address);
    add_genesis_validator(&mut app_state, &dev_address, &keys.consensus_pubkey_b64, &cfg.moniker, LOCAL_SELF_BOND_UOPEN);
    apply_chain_params(&mut app_state, cfg);
    let genesis = genesis_document(&cfg.chain_id, serde_json::to_value(&app_state)?);
    std::fs::write(home.join("config/genesis.json"), serde_json::to_string_pretty(&genesis)?)?;
    write_node_config(home, cfg)?;
    Ok(InitOutput { home: home.to_path_buf(), dev_address: dev_address.to_bech32(), dev_mnemonic: mnemonic })
}

/// Wall-clock time as RFC 3339 (only for the genesis file's `genesis_time`, never in consensus).
fn current_time_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    crate::rest_json::rfc3339(i64::try_from(secs).unwrap_or(0), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_complete_home_with_private_keys() {
        let dir = tempfile::tempdir().unwrap();
        let out = init_home(dir.path(), &NodeConfig::default(), None, false).unwrap();
        assert!(out.dev_address.starts_with("open1"));
        for f in [
            "config/genesis.json",
            "config/config.toml",
            "config/app.toml",
            "config/priv_validator_key.json",
            "config/node_key.json",
            "data/priv_validator_state.json",
        ] {
            assert!(dir.path().join(f).exists(), "{f} missing");
        }
        let genesis: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config/genesis.json")).unwrap()).unwrap();
        let app: AppGenesis = serde_json::from_value(genesis["app_state"].clone()).unwrap();
        let total: u128 = app.bank.balances.iter().flat_map(|b| b.coins.iter()).map(|c| c.amount).sum();
        assert_eq!(total, TOTAL_SUPPLY_UOPEN);
        let community = app.bank.balances.iter().find(|b| b.address == Address::module(COMMUNITY_INCENTIVES).to_bech32()).unwrap();
        assert_eq!(community.coins[0].amount, 517_000_000_000_000);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in ["dev-account.json", "config/priv_validator_key.json"] {
                let mode = std::fs::metadata(dir.path().join(f)).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
        assert!(init_home(dir.path(), &NodeConfig::default(), None, false).is_err());
        assert_eq!(AppToml::load(dir.path()).unwrap().comet_rpc, "http://127.0.0.1:26657");
        assert_eq!(AppToml::load(dir.path()).unwrap().api_addr, DEFAULT_API_ADDR);
        let old = "abci_addr = \"a\"\ngrpc_addr = \"g\"\ncomet_rpc = \"c\"\n";
        assert_eq!(AppToml::parse(old).unwrap().api_addr, DEFAULT_API_ADDR, "homes without api_addr get the default");
    }
}
