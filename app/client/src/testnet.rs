//! `openledgerd testnet`: the homes of an N-validator network on loopback, sharing one genesis.
//!
//! `DIR/node0 … DIR/node{N-1}` each get their own consensus key, node key and operator account
//! (key `dev` in the node's keyring and `dev-account.json`, mode 0600), a self-bond of equal
//! power, CometBFT ports derived from `--base-port` (node `i` uses `P + 10·i + offset`: RPC +0,
//! P2P +1, ABCI +2, gRPC +3, executor +4, REST +5; +6…+9 are reserved), every other node as persistent
//! peer, and `executor_addr` in app.toml pointing at the node's executor port. `--model`
//! registers base models (owner node0) with every validator that runs an executor as their
//! executor. `DIR/localnet.json` describes the network for scripts and tests.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::home::{
    add_genesis_validator, apply_chain_params, genesis_document, local_app_genesis_with, prepare_home, write_dev_account,
    write_node_config, write_node_keys, NodeConfig, DEFAULT_CHAIN_ID, LOCAL_SELF_BOND_UOPEN,
};
use crate::keys::AccountKey;
use crate::modules::AppGenesis;
use openledger_core::Address;

/// What every validator but node0 holds at genesis (before its self-bond): 10,000,000 OPEN.
pub const VALIDATOR_ACCOUNT_UOPEN: u128 = 10_000_000 * 1_000_000;
/// Port offsets inside a node's block of ten.
pub const RPC_OFFSET: u16 = 0;
/// P2P port offset.
pub const P2P_OFFSET: u16 = 1;
/// ABCI port offset.
pub const ABCI_OFFSET: u16 = 2;
/// gRPC port offset.
pub const GRPC_OFFSET: u16 = 3;
/// open-executor port offset.
pub const EXECUTOR_OFFSET: u16 = 4;
/// Port offset of the REST (LCD) server.
pub const API_OFFSET: u16 = 5;
/// Port offset of openledgerd's Prometheus endpoint.
pub const METRICS_OFFSET: u16 = 6;
/// Port offset of CometBFT's Prometheus endpoint.
pub const COMET_METRICS_OFFSET: u16 = 7;
/// Ports per node.
pub const PORTS_PER_NODE: u16 = 10;

/// `testnet` flags.
#[derive(Debug, Args)]
pub struct TestnetArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Output directory (node homes `node0`… and `localnet.json`).
    #[arg(long)]
    pub output: PathBuf,
    /// Chain id.
    #[arg(long, default_value = DEFAULT_CHAIN_ID)]
    pub chain_id: String,
    /// First port; node i uses BASE + 10·i + {0 rpc, 1 p2p, 2 abci, 3 grpc, 4 executor, 5 rest}.
    #[arg(long, default_value_t = 27000)]
    pub base_port: u16,
    /// Base model to register at genesis: a weights hash (64 hex), a GGUF file or a model
    /// directory (hashed like `open-executor hash`). Repeatable; ids 1, 2, … in order.
    #[arg(long)]
    pub model: Vec<String>,
    /// Inference price of the registered models.
    #[arg(long, default_value = "1000uopen")]
    pub model_price: String,
    /// Node index that runs no executor (empty executor_addr, not registered). Repeatable.
    #[arg(long)]
    pub without_executor: Vec<usize>,
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
    /// Proof of Attribution: shortest output span (in canonical tokens) that earns a row
    /// anything (default: the module's 8).
    #[arg(long)]
    pub attribution_min_span_tokens: Option<u32>,
    /// Replace node homes already in the output directory.
    #[arg(long)]
    pub overwrite: bool,
}

/// One node of `localnet.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalnetNode {
    /// Index (0-based).
    pub index: usize,
    /// Moniker (`nodeI`).
    pub moniker: String,
    /// Node home.
    pub home: PathBuf,
    /// CometBFT node id.
    pub node_id: String,
    /// CometBFT RPC port.
    pub rpc_port: u16,
    /// CometBFT P2P port.
    pub p2p_port: u16,
    /// ABCI port.
    pub abci_port: u16,
    /// gRPC port.
    pub grpc_port: u16,
    /// open-executor port (reserved even when the node runs none).
    pub executor_port: u16,
    /// REST (LCD) port.
    pub api_port: u16,
    /// `http://127.0.0.1:RPC`.
    pub rpc_url: String,
    /// `http://127.0.0.1:GRPC`.
    pub grpc_url: String,
    /// `http://127.0.0.1:API` (REST).
    pub api_url: String,
    /// app.toml `executor_addr` (empty: this node runs no executor).
    pub executor_addr: String,
    /// Validator operator (`openvaloper1…`).
    pub operator_address: String,
    /// Operator account (`open1…`, key `dev` in the node's keyring).
    pub account_address: String,
    /// Base64 ed25519 consensus key.
    pub consensus_pubkey: String,
}

/// A base model registered at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalnetModel {
    /// Base model id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Weights hash (lower-case hex).
    pub weights_hash: String,
    /// The file or directory it was hashed from (absent when given as a hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// `localnet.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalnetInfo {
    /// Chain id.
    pub chain_id: String,
    /// Nodes.
    pub nodes: Vec<LocalnetNode>,
    /// Models registered at genesis.
    pub models: Vec<LocalnetModel>,
}

impl LocalnetInfo {
    /// Reads `dir/localnet.json`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("localnet.json");
        let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// A model argument resolved to its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    /// Weights hash (what `open-executor hash` prints).
    pub weights_hash: String,
    /// Tokenizer hash (sha256 of tokenizer.json; a GGUF embeds its tokenizer: its weights hash).
    pub tokenizer_hash: String,
    /// Display name.
    pub name: String,
    /// Architecture (`model_type` of config.json, else `llama`).
    pub architecture: String,
    /// Path hashed, if any.
    pub path: Option<PathBuf>,
    /// Hex sha256 of its chat template ("" without one, or for a bare hash).
    pub chat_template_hash: String,
}

/// Hex sha256 of a chat template's text (the executor's scheme).
fn template_hash(template: Option<String>) -> String {
    template.map(|t| hex::encode(Sha256::digest(t.as_bytes()))).unwrap_or_default()
}

/// The `chat_template` of a model directory's tokenizer_config.json (a string, or the "default"
/// entry of a list of named templates).
fn dir_chat_template(dir: &Path) -> anyhow::Result<Option<String>> {
    let path = dir.join("tokenizer_config.json");
    if !path.exists() {
        return Ok(None);
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    Ok(match v.get("chat_template") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
            .and_then(|t| t.get("template")?.as_str().map(str::to_string)),
        _ => None,
    })
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn sha256_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut f = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().into())
}

/// Resolves `--model`: a 64-hex weights hash as is; a `.gguf` file → sha256 of the file; a
/// model directory → sha256 over `name_len u32 LE ‖ name ‖ sha256(file)` of `config.json`,
/// `tokenizer.json` and `*.safetensors`, sorted by name (the executor's `hashing.rs` scheme).
pub fn model_identity(spec: &str) -> anyhow::Result<ModelIdentity> {
    if is_hash(spec) && !Path::new(spec).exists() {
        let hash = spec.to_ascii_lowercase();
        return Ok(ModelIdentity {
            name: format!("model-{}", &hash[..8]),
            tokenizer_hash: hash.clone(),
            weights_hash: hash,
            architecture: "llama".into(),
            path: None,
            chat_template_hash: String::new(),
        });
    }
    let path = std::fs::canonicalize(spec).map_err(|e| anyhow::anyhow!("--model {spec}: neither a 64-hex hash nor a path ({e})"))?;
    let name = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| spec.to_string());
    if path.is_file() {
        if path.extension().is_none_or(|e| !e.eq_ignore_ascii_case("gguf")) {
            anyhow::bail!("--model {spec}: a model file must be .gguf");
        }
        let hash = hex::encode(sha256_file(&path)?);
        let chat_template_hash = template_hash(crate::gguf::metadata_string(&path, "tokenizer.chat_template")?);
        return Ok(ModelIdentity {
            tokenizer_hash: hash.clone(),
            weights_hash: hash,
            name,
            architecture: "llama".into(),
            path: Some(path),
            chat_template_hash,
        });
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&path)? {
        let p = entry?.path();
        let Some(file) = p.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if p.is_file() && (file == "config.json" || file == "tokenizer.json" || file.ends_with(".safetensors")) {
            files.push((file, p));
        }
    }
    for required in ["config.json", "tokenizer.json"] {
        if !files.iter().any(|(n, _)| n == required) {
            anyhow::bail!("--model {spec}: no {required}");
        }
    }
    if !files.iter().any(|(n, _)| n.ends_with(".safetensors")) {
        anyhow::bail!("--model {spec}: no *.safetensors");
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    let mut tokenizer_hash = String::new();
    for (file, p) in &files {
        let digest = sha256_file(p)?;
        if file == "tokenizer.json" {
            tokenizer_hash = hex::encode(digest);
        }
        h.update(u32::try_from(file.len())?.to_le_bytes());
        h.update(file.as_bytes());
        h.update(digest);
    }
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path.join("config.json"))?).unwrap_or_default();
    let architecture = config["model_type"].as_str().unwrap_or("llama").to_string();
    let chat_template_hash = template_hash(dir_chat_template(&path)?);
    Ok(ModelIdentity { weights_hash: hex::encode(h.finalize()), tokenizer_hash, name, architecture, path: Some(path), chat_template_hash })
}

/// Registers `models` as base models 1, 2, … owned by `owner` at `price`, each served by every
/// validator in `executors` (operator addresses).
pub fn register_genesis_models(
    app_state: &mut AppGenesis,
    owner: &Address,
    models: &[ModelIdentity],
    price: &openledger_core::coin::Coin,
    executors: &[String],
) -> Vec<LocalnetModel> {
    let mut registered = Vec::new();
    for (id, m) in (1u64..).zip(models) {
        app_state.model.base_models.push(openledger_model::genesis::BaseModelJson {
            id,
            owner: owner.to_bech32(),
            name: m.name.clone(),
            architecture: m.architecture.clone(),
            weights_hash: m.weights_hash.clone(),
            tokenizer_hash: m.tokenizer_hash.clone(),
            license: String::new(),
            inference_price: Some(openledger_model::genesis::CoinJson { denom: price.denom.clone(), amount: price.amount.to_string() }),
            delisted: false,
            delist_reason: String::new(),
            chat_template_hash: m.chat_template_hash.clone(),
        });
        registered.push(LocalnetModel { id, name: m.name.clone(), weights_hash: m.weights_hash.clone(), path: m.path.clone() });
    }
    if !registered.is_empty() {
        let ids: Vec<u64> = registered.iter().map(|m| m.id).collect();
        for validator in executors {
            // The hardware class is unknown until the executor runs: `localnet/start.sh`
            // re-registers each executor with the class its Health reports.
            app_state.inference.executors.push(openledger_inference::genesis::GenesisExecutor {
                validator: validator.clone(),
                base_model_ids: ids.clone(),
                hardware_class: String::new(),
            });
        }
    }
    registered
}

/// Writes the network; returns its description (also saved as `DIR/localnet.json`).
pub fn write_testnet(args: &TestnetArgs) -> anyhow::Result<LocalnetInfo> {
    let n = args.validators;
    if n == 0 {
        anyhow::bail!("--validators must be at least 1");
    }
    if let Some(bad) = args.without_executor.iter().find(|i| **i >= n) {
        anyhow::bail!("--without-executor {bad}: there are only {n} validators");
    }
    let last_port = u32::from(args.base_port) + u32::from(PORTS_PER_NODE) * u32::try_from(n)?;
    if last_port > u32::from(u16::MAX) {
        anyhow::bail!("--base-port {} leaves no room for {n} nodes × {PORTS_PER_NODE} ports", args.base_port);
    }
    let price = openledger_core::coin::Coin::parse(&args.model_price)?;
    let models = args.model.iter().map(|m| model_identity(m)).collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(n) = args.attribution_min_span_tokens {
        let params = openledger_proto::openledger::attribution::v1::Params {
            min_span_tokens: n,
            ..openledger_attribution::keeper::default_params()
        };
        openledger_attribution::keeper::validate_params(&params).map_err(|e| anyhow::anyhow!("--attribution-min-span-tokens: {e}"))?;
    }
    std::fs::create_dir_all(&args.output)?;
    let out = std::fs::canonicalize(&args.output)?;
    if out.join("localnet.json").exists() && !args.overwrite {
        anyhow::bail!("{} already exists; use --overwrite to replace the network", out.join("localnet.json").display());
    }

    // Keys and accounts of every node first: the peers and the genesis need all of them.
    let port = |i: usize, offset: u16| -> u16 {
        // In range: checked against u16::MAX above.
        args.base_port + PORTS_PER_NODE * u16::try_from(i).unwrap_or(0) + offset
    };
    let mut nodes = Vec::with_capacity(n);
    let mut accounts = Vec::with_capacity(n);
    for i in 0..n {
        let home = out.join(format!("node{i}"));
        prepare_home(&home, args.overwrite)?;
        let keys = write_node_keys(&home)?;
        let account = write_dev_account(&home, &AccountKey::generate_mnemonic())?;
        let executor_addr =
            if args.without_executor.contains(&i) { String::new() } else { format!("http://127.0.0.1:{}", port(i, EXECUTOR_OFFSET)) };
        nodes.push(LocalnetNode {
            index: i,
            moniker: format!("node{i}"),
            home,
            node_id: keys.node_id,
            rpc_port: port(i, RPC_OFFSET),
            p2p_port: port(i, P2P_OFFSET),
            abci_port: port(i, ABCI_OFFSET),
            grpc_port: port(i, GRPC_OFFSET),
            executor_port: port(i, EXECUTOR_OFFSET),
            api_port: port(i, API_OFFSET),
            rpc_url: format!("http://127.0.0.1:{}", port(i, RPC_OFFSET)),
            grpc_url: format!("http://127.0.0.1:{}", port(i, GRPC_OFFSET)),
            api_url: format!("http://127.0.0.1:{}", port(i, API_OFFSET)),
            executor_addr,
            operator_address: openledger_stake::keeper::operator_of(&account),
            account_address: account.to_bech32(),
            consensus_pubkey: keys.consensus_pubkey_b64,
        });
        accounts.push(account);
    }

    // One genesis: node0's account holds the dev balance, the others a validator's balance;
    // every operator self-bonds the same amount (equal voting powers).
    let others: Vec<(Address, u128)> = accounts.iter().skip(1).map(|a| (a.clone(), VALIDATOR_ACCOUNT_UOPEN)).collect();
    let mut app_state = local_app_genesis_with(&accounts[0], &others);
    for (node, account) in nodes.iter().zip(&accounts) {
        add_genesis_validator(&mut app_state, account, &node.consensus_pubkey, &node.moniker, LOCAL_SELF_BOND_UOPEN);
    }
    let base_cfg = NodeConfig {
        chain_id: args.chain_id.clone(),
        timeout_commit: args.timeout_commit.clone(),
        unbonding_seconds: args.unbonding_seconds,
        signed_blocks_window: args.signed_blocks_window,
        downtime_jail_seconds: args.downtime_jail_seconds,
        voting_period_seconds: args.voting_period_seconds,
        max_deposit_period_seconds: args.max_deposit_period_seconds,
        ..NodeConfig::default()
    };
    apply_chain_params(&mut app_state, &base_cfg);
    if let Some(n) = args.attribution_min_span_tokens {
        app_state.attribution.params.min_span_tokens = n;
    }
    let executors: Vec<String> =
        nodes.iter().filter(|node| !node.executor_addr.is_empty()).map(|node| node.operator_address.clone()).collect();
    let registered = register_genesis_models(&mut app_state, &accounts[0], &models, &price, &executors);
    let genesis = serde_json::to_string_pretty(&genesis_document(&args.chain_id, serde_json::to_value(&app_state)?))?;

    for node in &nodes {
        let peers: Vec<String> =
            nodes.iter().filter(|o| o.index != node.index).map(|o| format!("{}@127.0.0.1:{}", o.node_id, o.p2p_port)).collect();
        let cfg = NodeConfig {
            moniker: node.moniker.clone(),
            rpc_laddr: format!("tcp://127.0.0.1:{}", node.rpc_port),
            p2p_laddr: format!("tcp://127.0.0.1:{}", node.p2p_port),
            abci_addr: format!("127.0.0.1:{}", node.abci_port),
            grpc_addr: format!("127.0.0.1:{}", node.grpc_port),
            api_addr: format!("127.0.0.1:{}", node.api_port),
            metrics_addr: format!("127.0.0.1:{}", node.api_port - API_OFFSET + METRICS_OFFSET),
            comet_metrics_addr: format!("127.0.0.1:{}", node.api_port - API_OFFSET + COMET_METRICS_OFFSET),
            persistent_peers: peers.join(","),
            executor_addr: node.executor_addr.clone(),
            ..base_cfg.clone()
        };
        std::fs::write(node.home.join("config/genesis.json"), &genesis)?;
        write_node_config(&node.home, &cfg)?;
    }
    let info = LocalnetInfo { chain_id: args.chain_id.clone(), nodes, models: registered };
    std::fs::write(out.join("localnet.json"), serde_json::to_string_pretty(&info)?)?;
    Ok(info)
}

/// `openledgerd testnet`.
pub fn cmd_testnet(args: &TestnetArgs) -> anyhow::Result<()> {
    let info = write_testnet(args)?;
    let out = std::fs::canonicalize(&args.output)?;
    println!("Wrote {} validator homes of chain {} under {}", info.nodes.len(), info.chain_id, out.display());
    for node in &info.nodes {
        println!(
            "  {}: rpc {} grpc {} p2p {} abci {} executor {} operator {}",
            node.moniker,
            node.rpc_url,
            node.grpc_url,
            node.p2p_port,
            node.abci_port,
            if node.executor_addr.is_empty() { "-" } else { &node.executor_addr },
            node.operator_address
        );
    }
    for m in &info.models {
        println!("  base model {}: {} ({})", m.id, m.name, m.weights_hash);
    }
    println!("Description: {}", out.join("localnet.json").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path) -> TestnetArgs {
        TestnetArgs {
            validators: 3,
            output: dir.to_path_buf(),
            chain_id: "testnet-1".into(),
            base_port: 30000,
            model: vec![],
            model_price: "1000uopen".into(),
            without_executor: vec![],
            timeout_commit: "500ms".into(),
            unbonding_seconds: 60,
            signed_blocks_window: 100,
            downtime_jail_seconds: 600,
            voting_period_seconds: 30,
            max_deposit_period_seconds: 30,
            attribution_min_span_tokens: None,
            overwrite: false,
        }
    }

    #[test]
    fn testnet_writes_homes_sharing_one_genesis_with_equal_validators() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path());
        a.model = vec!["AB".repeat(32)];
        a.without_executor = vec![2];
        a.attribution_min_span_tokens = Some(3);
        let info = write_testnet(&a).unwrap();
        assert_eq!(info.nodes.len(), 3);
        assert_eq!(info, LocalnetInfo::load(dir.path()).unwrap());
        let genesis0 = std::fs::read(dir.path().join("node0/config/genesis.json")).unwrap();
        for i in 1..3 {
            assert_eq!(std::fs::read(dir.path().join(format!("node{i}/config/genesis.json"))).unwrap(), genesis0);
        }
        let doc: serde_json::Value = serde_json::from_slice(&genesis0).unwrap();
        assert_eq!(doc["chain_id"], "testnet-1");
        let app: AppGenesis = serde_json::from_value(doc["app_state"].clone()).unwrap();
        let total: u128 = app.bank.balances.iter().flat_map(|b| b.coins.iter()).map(|c| c.amount).sum();
        assert_eq!(total, crate::home::TOTAL_SUPPLY_UOPEN);
        assert_eq!(app.stake.validators.len(), 3);
        assert!(app.stake.validators.iter().all(|v| v.self_delegation == LOCAL_SELF_BOND_UOPEN));
        assert_eq!(app.model.base_models[0].weights_hash, "ab".repeat(32));
        assert_eq!(app.model.base_models[0].owner, info.nodes[0].account_address);
        assert_eq!(app.attribution.params.min_span_tokens, 3);
        // Node 2 runs no executor: not registered, empty executor_addr.
        let executors = &app.inference.executors;
        assert_eq!(executors.len(), 2);
        assert_eq!(executors[1].validator, info.nodes[1].operator_address);
        assert_eq!(executors[1].base_model_ids, vec![1]);
        assert_eq!(crate::home::AppToml::load(&info.nodes[2].home).unwrap().executor_addr, "");
        assert_eq!(crate::home::AppToml::load(&info.nodes[1].home).unwrap().executor_addr, "http://127.0.0.1:30014");

        // Distinct ports, peers to every other node, node ids derived from the node keys.
        let mut ports: Vec<u16> =
            info.nodes.iter().flat_map(|n| [n.rpc_port, n.p2p_port, n.abci_port, n.grpc_port, n.executor_port, n.api_port]).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 18);
        let config = std::fs::read_to_string(info.nodes[0].home.join("config/config.toml")).unwrap();
        let peers = format!("persistent_peers = \"{}@127.0.0.1:30011,{}@127.0.0.1:30021\"", info.nodes[1].node_id, info.nodes[2].node_id);
        assert!(config.contains(&peers), "{config}");
        assert!(config.contains("laddr = \"tcp://127.0.0.1:30000\""));
        let key: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(info.nodes[1].home.join("config/node_key.json")).unwrap()).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let full = base64::Engine::decode(&b64, key["priv_key"]["value"].as_str().unwrap()).unwrap();
        assert_eq!(info.nodes[1].node_id, hex::encode(&Sha256::digest(&full[32..])[..20]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(info.nodes[1].home.join("dev-account.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second run refuses to overwrite; a span length the module refuses is refused here.
        assert!(write_testnet(&args(dir.path())).is_err());
        let other = tempfile::tempdir().unwrap();
        let mut bad = args(other.path());
        bad.attribution_min_span_tokens = Some(0);
        assert!(write_testnet(&bad).is_err());
    }

    #[test]
    fn model_directories_hash_like_the_executor() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), br#"{"model_type":"llama"}"#).unwrap();
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("model.safetensors"), b"weights").unwrap();
        std::fs::write(dir.path().join("README.md"), b"ignored").unwrap();
        let id = model_identity(dir.path().to_str().unwrap()).unwrap();
        let mut h = Sha256::new();
        for (name, bytes) in
            [("config.json", &br#"{"model_type":"llama"}"#[..]), ("model.safetensors", b"weights"), ("tokenizer.json", b"{}")]
        {
            h.update(u32::try_from(name.len()).unwrap().to_le_bytes());
            h.update(name.as_bytes());
            h.update(Sha256::digest(bytes));
        }
        assert_eq!(id.weights_hash, hex::encode(h.finalize()));
        assert_eq!(id.tokenizer_hash, hex::encode(Sha256::digest(b"{}")));
        std::fs::write(dir.path().join("README.md"), b"changed").unwrap();
        assert_eq!(model_identity(dir.path().to_str().unwrap()).unwrap().weights_hash, id.weights_hash);
        assert_eq!(id.chat_template_hash, "", "no tokenizer_config.json: no chat template");
        std::fs::write(dir.path().join("tokenizer_config.json"), br#"{"chat_template":"{{ messages }}"}"#).unwrap();
        let with_template = model_identity(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(with_template.chat_template_hash, hex::encode(Sha256::digest(b"{{ messages }}")));
        assert_eq!(with_template.weights_hash, id.weights_hash, "the template is pinned on its own, not in the weights hash");

        // A GGUF (v3, no tensors) whose only metadata is its chat template.
        let mut bytes = b"GGUF".to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        for (i, s) in ["tokenizer.chat_template", "{{ messages }}"].iter().enumerate() {
            bytes.extend_from_slice(&(s.len() as u64).to_le_bytes());
            bytes.extend_from_slice(s.as_bytes());
            if i == 0 {
                bytes.extend_from_slice(&8u32.to_le_bytes());
            }
        }
        let gguf = dir.path().join("m.gguf");
        std::fs::write(&gguf, &bytes).unwrap();
        let g = model_identity(gguf.to_str().unwrap()).unwrap();
        assert_eq!(g.weights_hash, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(g.chat_template_hash, hex::encode(Sha256::digest(b"{{ messages }}")));
        std::fs::write(&gguf, b"GGUF").unwrap();
        assert!(model_identity(gguf.to_str().unwrap()).is_err(), "a GGUF whose metadata cannot be read is refused");
        assert!(model_identity(dir.path().join("README.md").to_str().unwrap()).is_err());
    }
}
