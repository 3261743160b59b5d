//! Bank genesis: params, balances, the supply they add up to, and denom metadata (uopen/OPEN).

use cosmos_sdk_proto::cosmos::bank::v1beta1::{DenomUnit, Metadata};
use openledger_core::coin::{BASE_DENOM, DISPLAY_DENOM, DISPLAY_EXPONENT};
use openledger_core::{serde_str, Address, Coin, StateRead, StateReadExt, StateWrite, StateWriteExt};
use serde::{Deserialize, Serialize};

use crate::error::BankError;
use crate::keeper::BankKeeper;
use crate::state_key;

/// A coin in genesis JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoinJson {
    /// Denom.
    pub denom: String,
    /// Amount (string).
    #[serde(with = "serde_str")]
    pub amount: u128,
}

/// One account's balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceJson {
    /// Bech32 address.
    pub address: String,
    /// Coins.
    pub coins: Vec<CoinJson>,
}

/// A denom unit of metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenomUnitJson {
    /// Unit denom.
    pub denom: String,
    /// 10^exponent base units.
    pub exponent: u32,
    /// Aliases.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Denom metadata, as in the SDK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataJson {
    /// Description.
    pub description: String,
    /// Units.
    pub denom_units: Vec<DenomUnitJson>,
    /// Base denom.
    pub base: String,
    /// Display denom.
    pub display: String,
    /// Name.
    pub name: String,
    /// Ticker symbol.
    pub symbol: String,
}

/// Bank params in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsJson {
    /// Whether sends are enabled for denoms not listed otherwise.
    pub default_send_enabled: bool,
}

/// The bank section of the genesis `app_state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankGenesis {
    /// Params.
    pub params: ParamsJson,
    /// Balances.
    pub balances: Vec<BalanceJson>,
    /// Total supply (checked against the balances when non-empty).
    #[serde(default)]
    pub supply: Vec<CoinJson>,
    /// Denom metadata.
    #[serde(default)]
    pub denom_metadata: Vec<MetadataJson>,
}

impl Default for BankGenesis {
    fn default() -> Self {
        Self {
            params: ParamsJson { default_send_enabled: true },
            balances: Vec::new(),
            supply: Vec::new(),
            denom_metadata: vec![open_metadata()],
        }
    }
}

/// The metadata of OPEN: base `uopen`, display `OPEN` with 6 decimals.
pub fn open_metadata() -> MetadataJson {
    MetadataJson {
        description: "OPEN, the native token of OpenLedger: gas, governance, rewards and staking".into(),
        denom_units: vec![
            DenomUnitJson { denom: BASE_DENOM.into(), exponent: 0, aliases: vec!["microopen".into()] },
            DenomUnitJson { denom: DISPLAY_DENOM.into(), exponent: DISPLAY_EXPONENT, aliases: vec![] },
        ],
        base: BASE_DENOM.into(),
        display: DISPLAY_DENOM.into(),
        name: "OpenLedger".into(),
        symbol: DISPLAY_DENOM.into(),
    }
}

impl MetadataJson {
    /// Protobuf form.
    pub fn to_proto(&self) -> Metadata {
        Metadata {
            description: self.description.clone(),
            denom_units: self
                .denom_units
                .iter()
                .map(|u| DenomUnit { denom: u.denom.clone(), exponent: u.exponent, aliases: u.aliases.clone() })
                .collect(),
            base: self.base.clone(),
            display: self.display.clone(),
            name: self.name.clone(),
            symbol: self.symbol.clone(),
            uri: String::new(),
            uri_hash: String::new(),
        }
    }

    fn from_proto(m: &Metadata) -> Self {
        Self {
            description: m.description.clone(),
            denom_units: m
                .denom_units
                .iter()
                .map(|u| DenomUnitJson { denom: u.denom.clone(), exponent: u.exponent, aliases: u.aliases.clone() })
                .collect(),
            base: m.base.clone(),
            display: m.display.clone(),
            name: m.name.clone(),
            symbol: m.symbol.clone(),
        }
    }
}

/// Writes the bank genesis.
pub fn init_genesis(bank: &BankKeeper, state: &mut dyn StateWrite, genesis: &BankGenesis) -> Result<(), BankError> {
    #[allow(deprecated)]
    bank.set_params(
        state,
        &cosmos_sdk_proto::cosmos::bank::v1beta1::Params {
            send_enabled: vec![],
            default_send_enabled: genesis.params.default_send_enabled,
        },
    )?;
    for balance in &genesis.balances {
        let address = Address::from_bech32(&balance.address).map_err(|e| BankError::InvalidGenesis(format!("{}: {e}", balance.address)))?;
        for coin in &balance.coins {
            openledger_core::coin::validate_denom(&coin.denom).map_err(|e| BankError::InvalidGenesis(e.to_string()))?;
            if coin.amount == 0 {
                continue;
            }
            bank.genesis_credit(state, &address, &Coin::new(coin.denom.clone(), coin.amount))?;
        }
    }
    for expected in &genesis.supply {
        let actual = bank.supply(state, &expected.denom)?;
        if actual != expected.amount {
            return Err(BankError::InvalidGenesis(format!(
                "supply of {} is {} but balances add up to {actual}",
                expected.denom, expected.amount
            )));
        }
    }
    for meta in &genesis.denom_metadata {
        state.put_proto(state_key::denom_metadata(&meta.base), &meta.to_proto())?;
    }
    Ok(())
}

/// Reads the bank genesis back out of the state.
pub fn export_genesis(bank: &BankKeeper, state: &dyn StateRead) -> Result<BankGenesis, BankError> {
    let mut balances: Vec<BalanceJson> = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = state.scan_proto::<cosmos_sdk_proto::cosmos::base::v1beta1::Coin>(state_key::BALANCE_PREFIX, after.as_deref(), 1000)?;
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        for (key, coin) in page {
            let rest = &key[state_key::BALANCE_PREFIX.len()..];
            let text = String::from_utf8_lossy(rest);
            let address = text.split('/').next().unwrap_or_default().to_string();
            let amount = coin.amount.parse::<u128>().map_err(|e| BankError::InvalidGenesis(e.to_string()))?;
            let entry = CoinJson { denom: coin.denom, amount };
            match balances.last_mut() {
                Some(b) if b.address == address => b.coins.push(entry),
                _ => balances.push(BalanceJson { address, coins: vec![entry] }),
            }
        }
    }
    let supply = state
        .scan_proto::<cosmos_sdk_proto::cosmos::base::v1beta1::Coin>(state_key::SUPPLY_PREFIX, None, 10_000)?
        .into_iter()
        .map(|(_, c)| {
            Ok(CoinJson { amount: c.amount.parse::<u128>().map_err(|e| BankError::InvalidGenesis(e.to_string()))?, denom: c.denom })
        })
        .collect::<Result<Vec<_>, BankError>>()?;
    let denom_metadata = state
        .scan_proto::<Metadata>(state_key::DENOM_METADATA_PREFIX, None, 10_000)?
        .into_iter()
        .map(|(_, m)| MetadataJson::from_proto(&m))
        .collect();
    let params = bank.params(state)?;
    Ok(BankGenesis { params: ParamsJson { default_send_enabled: params.default_send_enabled }, balances, supply, denom_metadata })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::tests::{addr, keeper};
    use openledger_core::delta::{EmptyState, StateDelta};

    #[test]
    fn genesis_round_trip_and_supply_check() {
        let (bank, _) = keeper();
        let genesis = BankGenesis {
            params: ParamsJson { default_send_enabled: true },
            balances: vec![
                BalanceJson { address: addr(1).to_bech32(), coins: vec![CoinJson { denom: "uopen".into(), amount: 70 }] },
                BalanceJson { address: addr(2).to_bech32(), coins: vec![CoinJson { denom: "uopen".into(), amount: 30 }] },
            ],
            supply: vec![CoinJson { denom: "uopen".into(), amount: 100 }],
            denom_metadata: vec![open_metadata()],
        };
        let mut state = StateDelta::new(EmptyState);
        init_genesis(&bank, &mut state, &genesis).unwrap();
        let mut exported = export_genesis(&bank, &state).unwrap();
        exported.balances.sort_by(|a, b| a.address.cmp(&b.address));
        let mut expected = genesis.clone();
        expected.balances.sort_by(|a, b| a.address.cmp(&b.address));
        assert_eq!(exported, expected);
        let mut wrong = genesis;
        wrong.supply[0].amount = 99;
        assert!(init_genesis(&bank, &mut StateDelta::new(EmptyState), &wrong).is_err());
    }
}
