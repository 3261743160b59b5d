//! What wallets need to add the chain: a cosmos/chain-registry `chain.json` + `assetlist.json`
//! pair and the object Keplr's `window.keplr.experimentalSuggestChain` takes. Built from the
//! node's genesis (chain id, minimum gas price) and its `app.toml` (endpoints); served by the
//! REST server under `/openledger/chain-registry/` and `/openledger/keplr/`, and printed by
//! `openledgerd chain-info`.

use std::path::Path;

use openledger_core::address::{ACCOUNT_PREFIX, VALCONS_PREFIX, VALOPER_PREFIX};
use openledger_core::coin::BASE_DENOM;
use serde_json::{json, Number, Value};

use crate::home::AppToml;
use crate::rest::StaticDocuments;

/// REST path of `chain.json`.
pub const CHAIN_JSON_PATH: &str = "/openledger/chain-registry/chain.json";
/// REST path of `assetlist.json`.
pub const ASSETLIST_PATH: &str = "/openledger/chain-registry/assetlist.json";
/// REST path of Keplr's chain info.
pub const KEPLR_PATH: &str = "/openledger/keplr/chain-info.json";
/// BIP-44 coin type (Cosmos Hub's).
pub const COIN_TYPE: u32 = 118;
/// Display denom and its decimals.
pub const DISPLAY_DENOM: &str = "open";
/// Ticker.
pub const SYMBOL: &str = "OPEN";
/// Decimals between `uopen` and `OPEN`.
pub const DECIMALS: u32 = 6;
/// Minimum gas price used when the genesis has none.
pub const DEFAULT_MIN_GAS_PRICE: &str = "0.025";

/// What the documents are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInfoInput {
    /// Chain id.
    pub chain_id: String,
    /// Minimum gas price in uopen (decimal string, a chain parameter).
    pub min_gas_price: String,
    /// CometBFT RPC URL.
    pub rpc: String,
    /// REST URL.
    pub rest: String,
    /// gRPC address (`host:port`).
    pub grpc: String,
}

impl ChainInfoInput {
    /// Reads `config/genesis.json` and `config/app.toml` of a node home.
    pub fn from_home(home: &Path) -> anyhow::Result<Self> {
        let settings = AppToml::load(home)?;
        let path = home.join("config/genesis.json");
        let genesis: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?)?;
        let chain_id = genesis["chain_id"].as_str().unwrap_or_default().to_string();
        anyhow::ensure!(!chain_id.is_empty(), "{} has no chain_id", path.display());
        let min_gas_price =
            genesis["app_state"]["auth"]["fee_params"]["min_gas_price"].as_str().unwrap_or(DEFAULT_MIN_GAS_PRICE).to_string();
        Ok(Self {
            chain_id,
            min_gas_price,
            rpc: settings.comet_rpc.clone(),
            rest: format!("http://{}", settings.api_addr),
            grpc: settings.grpc_addr.clone(),
        })
    }

    /// The three documents at their REST paths.
    pub fn documents(&self) -> StaticDocuments {
        StaticDocuments {
            documents: vec![
                (CHAIN_JSON_PATH.into(), chain_json(self)),
                (ASSETLIST_PATH.into(), assetlist_json(self)),
                (KEPLR_PATH.into(), keplr_chain_info(self)),
            ],
            ..StaticDocuments::default()
        }
    }
}

/// Low, average and high gas prices as decimal strings: the minimum, ×1.2 and ×1.6
/// (0.025 / 0.03 / 0.04 uopen with the default minimum).
pub fn gas_price_steps(min_gas_price: &str) -> (String, String, String) {
    let atomics = openledger_auth::params::parse_price(min_gas_price)
        .or_else(|| openledger_auth::params::parse_price(DEFAULT_MIN_GAS_PRICE))
        .unwrap_or(0);
    let scaled = |num: u128, den: u128| decimal(atomics.saturating_mul(num) / den);
    (decimal(atomics), scaled(6, 5), scaled(8, 5))
}

/// 18-decimal atomics → the shortest decimal string (`25000000000000000` → `0.025`).
fn decimal(atomics: u128) -> String {
    let scale = 10u128.pow(openledger_auth::params::PRICE_DECIMALS);
    let int = atomics / scale;
    let frac = format!("{:018}", atomics % scale);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

/// A decimal string as a JSON number (chain-registry and Keplr want numbers).
fn number(text: &str) -> Value {
    text.parse::<Number>().map(Value::Number).unwrap_or(Value::Null)
}

/// chain-registry's `chain_name`: lower-case letters and digits.
fn chain_name(chain_id: &str) -> String {
    if chain_id.starts_with("openledger") {
        return "openledger".into();
    }
    chain_id.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

fn network_type(chain_id: &str) -> &'static str {
    if chain_id.contains("local") || chain_id.contains("dev") {
        "devnet"
    } else if chain_id.contains("test") {
        "testnet"
    } else {
        "mainnet"
    }
}

/// The chain-registry `chain.json`.
pub fn chain_json(input: &ChainInfoInput) -> Value {
    let (low, average, high) = gas_price_steps(&input.min_gas_price);
    json!({
        "$schema": "../chain.schema.json",
        "chain_name": chain_name(&input.chain_id),
        "chain_type": "cosmos",
        "status": "live",
        "network_type": network_type(&input.chain_id),
        "pretty_name": "OpenLedger",
        "chain_id": input.chain_id,
        "bech32_prefix": ACCOUNT_PREFIX,
        "daemon_name": "openledgerd",
        "node_home": "$HOME/.openledger",
        "key_algos": ["secp256k1"],
        "slip44": COIN_TYPE,
        "fees": {
            "fee_tokens": [{
                "denom": BASE_DENOM,
                "fixed_min_gas_price": number(&low),
                "low_gas_price": number(&low),
                "average_gas_price": number(&average),
                "high_gas_price": number(&high),
            }]
        },
        "staking": {"staking_tokens": [{"denom": BASE_DENOM}]},
        "codebase": {
            "consensus": {"type": "cometbft", "version": "v0.38.19"},
            "sdk": {"type": "cosmos", "version": "v0.50 wire-compatible"},
        },
        "apis": {
            "rpc": [{"address": input.rpc, "provider": "this node"}],
            "rest": [{"address": input.rest, "provider": "this node"}],
            "grpc": [{"address": input.grpc, "provider": "this node"}],
        },
    })
}

/// The chain-registry `assetlist.json`.
pub fn assetlist_json(input: &ChainInfoInput) -> Value {
    json!({
        "$schema": "../assetlist.schema.json",
        "chain_name": chain_name(&input.chain_id),
        "assets": [{
            "description": "OPEN, the native token of OpenLedger: gas, staking, governance and contributor rewards.",
            "denom_units": [
                {"denom": BASE_DENOM, "exponent": 0},
                {"denom": DISPLAY_DENOM, "exponent": DECIMALS},
            ],
            "base": BASE_DENOM,
            "name": "OpenLedger",
            "display": DISPLAY_DENOM,
            "symbol": SYMBOL,
            "type_asset": "sdk.coin",
        }],
    })
}

/// The object for Keplr's `experimentalSuggestChain`.
pub fn keplr_chain_info(input: &ChainInfoInput) -> Value {
    let (low, average, high) = gas_price_steps(&input.min_gas_price);
    let currency = json!({"coinDenom": SYMBOL, "coinMinimalDenom": BASE_DENOM, "coinDecimals": DECIMALS});
    let mut fee_currency = currency.clone();
    fee_currency["gasPriceStep"] = json!({"low": number(&low), "average": number(&average), "high": number(&high)});
    json!({
        "chainId": input.chain_id,
        "chainName": if network_type(&input.chain_id) == "mainnet" { "OpenLedger".to_string() } else { format!("OpenLedger ({})", input.chain_id) },
        "rpc": input.rpc,
        "rest": input.rest,
        "bip44": {"coinType": COIN_TYPE},
        "bech32Config": {
            "bech32PrefixAccAddr": ACCOUNT_PREFIX,
            "bech32PrefixAccPub": format!("{ACCOUNT_PREFIX}pub"),
            "bech32PrefixValAddr": VALOPER_PREFIX,
            "bech32PrefixValPub": format!("{VALOPER_PREFIX}pub"),
            "bech32PrefixConsAddr": VALCONS_PREFIX,
            "bech32PrefixConsPub": format!("{VALCONS_PREFIX}pub"),
        },
        "currencies": [currency.clone()],
        "feeCurrencies": [fee_currency],
        "stakeCurrency": currency,
        "features": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ChainInfoInput {
        ChainInfoInput {
            chain_id: "openledger-local-1".into(),
            min_gas_price: "0.025".into(),
            rpc: "http://127.0.0.1:26657".into(),
            rest: "http://127.0.0.1:1317".into(),
            grpc: "127.0.0.1:9090".into(),
        }
    }

    #[test]
    fn gas_steps_scale_the_minimum_price() {
        assert_eq!(gas_price_steps("0.025"), ("0.025".into(), "0.03".into(), "0.04".into()));
        assert_eq!(gas_price_steps("1"), ("1".into(), "1.2".into(), "1.6".into()));
        assert_eq!(gas_price_steps("garbage"), ("0.025".into(), "0.03".into(), "0.04".into()));
    }

    #[test]
    fn documents_follow_the_registry_and_keplr_schemas() {
        let chain = chain_json(&input());
        assert_eq!(chain["chain_name"], "openledger");
        assert_eq!(chain["bech32_prefix"], "open");
        assert_eq!(chain["slip44"], 118);
        assert_eq!(chain["fees"]["fee_tokens"][0]["denom"], "uopen");
        assert_eq!(chain["fees"]["fee_tokens"][0]["low_gas_price"], json!(0.025));
        assert_eq!(chain["fees"]["fee_tokens"][0]["high_gas_price"], json!(0.04));
        assert_eq!(chain["staking"]["staking_tokens"][0]["denom"], "uopen");
        assert_eq!(chain["apis"]["rest"][0]["address"], "http://127.0.0.1:1317");
        let assets = assetlist_json(&input());
        let asset = &assets["assets"][0];
        assert_eq!(asset["base"], "uopen");
        assert_eq!(asset["display"], "open");
        assert_eq!(asset["symbol"], "OPEN");
        assert_eq!(asset["denom_units"][1], json!({"denom": "open", "exponent": 6}));
        let keplr = keplr_chain_info(&input());
        assert_eq!(keplr["chainId"], "openledger-local-1");
        assert_eq!(keplr["bip44"]["coinType"], 118);
        assert_eq!(keplr["bech32Config"]["bech32PrefixValAddr"], "openvaloper");
        assert_eq!(keplr["bech32Config"]["bech32PrefixConsPub"], "openvalconspub");
        assert_eq!(keplr["feeCurrencies"][0]["gasPriceStep"], json!({"low": 0.025, "average": 0.03, "high": 0.04}));
        assert_eq!(keplr["stakeCurrency"]["coinMinimalDenom"], "uopen");
        assert_eq!(keplr["currencies"][0]["coinDecimals"], 6);
    }
}
