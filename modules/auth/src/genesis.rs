//! Auth genesis: parameters, accounts with their numbers, and module accounts; imported at
//! InitChain and exported by `openledgerd export`.

use cosmos_sdk_proto::cosmos::auth::v1beta1::Params;
use openledger_core::{serde_str, Address, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::auth::v1::FeeParams;
use serde::{Deserialize, Serialize};

use crate::error::AuthError;
use crate::keeper::{Account, AuthKeeper};
use crate::params;
use crate::state_key;

/// Auth parameters in genesis JSON (integers as strings, as the SDK writes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsJson {
    /// Longest memo in characters.
    #[serde(with = "serde_str")]
    pub max_memo_characters: u64,
    /// Most signatures per tx.
    #[serde(with = "serde_str")]
    pub tx_sig_limit: u64,
    /// Gas per tx byte.
    #[serde(with = "serde_str")]
    pub tx_size_cost_per_byte: u64,
    /// Gas per ed25519 signature.
    #[serde(with = "serde_str")]
    pub sig_verify_cost_ed25519: u64,
    /// Gas per secp256k1 signature.
    #[serde(with = "serde_str")]
    pub sig_verify_cost_secp256k1: u64,
}

/// Fee parameters in genesis JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeParamsJson {
    /// Minimum gas price in uopen (decimal string).
    pub min_gas_price: String,
    /// Largest tx in bytes.
    #[serde(with = "serde_str")]
    pub max_tx_bytes: u64,
    /// Largest gas limit per tx.
    #[serde(with = "serde_str")]
    pub max_tx_gas: u64,
}

/// A genesis account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountJson {
    /// Bech32 address.
    pub address: String,
    /// Account number.
    #[serde(with = "serde_str")]
    pub account_number: u64,
    /// Sequence.
    #[serde(with = "serde_str", default)]
    pub sequence: u64,
    /// Module name for module accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_name: Option<String>,
    /// Module permissions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
}

/// The auth section of the genesis `app_state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthGenesis {
    /// SDK auth params.
    pub params: ParamsJson,
    /// OpenLedger fee params.
    pub fee_params: FeeParamsJson,
    /// Accounts.
    pub accounts: Vec<AccountJson>,
}

impl Default for AuthGenesis {
    fn default() -> Self {
        let p = params::default_params();
        let f = params::default_fee_params();
        Self { params: params_to_json(&p), fee_params: fee_params_to_json(&f), accounts: Vec::new() }
    }
}

fn params_to_json(p: &Params) -> ParamsJson {
    ParamsJson {
        max_memo_characters: p.max_memo_characters,
        tx_sig_limit: p.tx_sig_limit,
        tx_size_cost_per_byte: p.tx_size_cost_per_byte,
        sig_verify_cost_ed25519: p.sig_verify_cost_ed25519,
        sig_verify_cost_secp256k1: p.sig_verify_cost_secp256k1,
    }
}

fn fee_params_to_json(f: &FeeParams) -> FeeParamsJson {
    FeeParamsJson { min_gas_price: f.min_gas_price.clone(), max_tx_bytes: f.max_tx_bytes, max_tx_gas: f.max_tx_gas }
}

/// Writes the auth genesis into `state`.
pub fn init_genesis(state: &mut dyn StateWrite, genesis: &AuthGenesis) -> Result<(), AuthError> {
    let p = &genesis.params;
    if p.tx_sig_limit == 0 || p.max_memo_characters == 0 {
        return Err(AuthError::InvalidGenesis("tx_sig_limit and max_memo_characters must be positive".into()));
    }
    params::set_params(
        state,
        &Params {
            max_memo_characters: p.max_memo_characters,
            tx_sig_limit: p.tx_sig_limit,
            tx_size_cost_per_byte: p.tx_size_cost_per_byte,
            sig_verify_cost_ed25519: p.sig_verify_cost_ed25519,
            sig_verify_cost_secp256k1: p.sig_verify_cost_secp256k1,
        },
    )?;
    if params::parse_price(&genesis.fee_params.min_gas_price).is_none() {
        return Err(AuthError::InvalidGenesis(format!("bad min_gas_price {:?}", genesis.fee_params.min_gas_price)));
    }
    params::set_fee_params(
        state,
        &FeeParams {
            min_gas_price: genesis.fee_params.min_gas_price.clone(),
            max_tx_bytes: genesis.fee_params.max_tx_bytes,
            max_tx_gas: genesis.fee_params.max_tx_gas,
        },
    )?;
    let keeper = AuthKeeper;
    let mut next_number = 0u64;
    let mut seen_numbers = std::collections::BTreeSet::new();
    for acc in &genesis.accounts {
        let address = Address::from_bech32(&acc.address).map_err(|e| AuthError::InvalidGenesis(format!("{}: {e}", acc.address)))?;
        if !seen_numbers.insert(acc.account_number) {
            return Err(AuthError::InvalidGenesis(format!("duplicate account number {}", acc.account_number)));
        }
        if keeper.account(state, &address)?.is_some() {
            return Err(AuthError::InvalidGenesis(format!("duplicate account {}", acc.address)));
        }
        let base = cosmos_sdk_proto::cosmos::auth::v1beta1::BaseAccount {
            address: address.to_bech32(),
            pub_key: None,
            account_number: acc.account_number,
            sequence: acc.sequence,
        };
        let account = match &acc.module_name {
            Some(name) => {
                if Address::module(name) != address {
                    return Err(AuthError::InvalidGenesis(format!("module account {name} has address {}", acc.address)));
                }
                state.put_raw(state_key::module_account(name), address.as_bytes().to_vec())?;
                Account::Module(cosmos_sdk_proto::cosmos::auth::v1beta1::ModuleAccount {
                    base_account: Some(base),
                    name: name.clone(),
                    permissions: acc.permissions.clone(),
                })
            }
            None => Account::Base(base),
        };
        keeper.set_account(state, &account)?;
        state.put_raw(state_key::account_by_number(acc.account_number), address.as_bytes().to_vec())?;
        next_number = next_number.max(acc.account_number.saturating_add(1));
    }
    state.put_proto(state_key::NEXT_ACCOUNT_NUMBER.to_vec(), &next_number)?;
    Ok(())
}

/// Reads the auth genesis back out of `state` (accounts ordered by address).
pub fn export_genesis(state: &dyn StateRead) -> Result<AuthGenesis, AuthError> {
    let mut accounts = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = state.scan_proto::<cosmos_sdk_proto::Any>(state_key::ACCOUNT_PREFIX, after.as_deref(), 1000)?;
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        for (key, any) in page {
            let account = Account::from_any(&any).map_err(|e| AuthError::Corrupt(String::from_utf8_lossy(&key).into_owned(), e))?;
            let base = account.base();
            let (module_name, permissions) = match &account {
                Account::Module(m) => (Some(m.name.clone()), m.permissions.clone()),
                Account::Base(_) => (None, Vec::new()),
            };
            accounts.push(AccountJson {
                address: base.address.clone(),
                account_number: base.account_number,
                sequence: base.sequence,
                module_name,
                permissions,
            });
        }
    }
    Ok(AuthGenesis {
        params: params_to_json(&params::params(state)?),
        fee_params: fee_params_to_json(&params::fee_params(state)?),
        accounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openledger_core::delta::{EmptyState, StateDelta};

    #[test]
    fn genesis_round_trips_and_rejects_duplicates() {
        let mut genesis = AuthGenesis::default();
        genesis.accounts.push(AccountJson {
            address: Address::from_bytes(&[9; 20]).unwrap().to_bech32(),
            account_number: 0,
            sequence: 3,
            module_name: None,
            permissions: vec![],
        });
        genesis.accounts.push(AccountJson {
            address: Address::module("fee_collector").to_bech32(),
            account_number: 1,
            sequence: 0,
            module_name: Some("fee_collector".into()),
            permissions: vec![],
        });
        let mut state = StateDelta::new(EmptyState);
        init_genesis(&mut state, &genesis).unwrap();
        let mut exported = export_genesis(&state).unwrap();
        exported.accounts.sort_by_key(|a| a.account_number);
        assert_eq!(exported, genesis);
        let json = serde_json::to_string(&exported).unwrap();
        assert!(json.contains("\"account_number\":\"1\""));
        let back: AuthGenesis = serde_json::from_str(&json).unwrap();
        assert_eq!(back.accounts.len(), 2);
        // a fresh account after genesis gets the next free number
        let acc = AuthKeeper.create_account(&mut state, &Address::from_bytes(&[5; 20]).unwrap()).unwrap();
        assert_eq!(acc.base().account_number, 2);

        let mut dup = genesis.clone();
        dup.accounts[1].account_number = 0;
        assert!(init_genesis(&mut StateDelta::new(EmptyState), &dup).is_err());
        let mut bad_module = genesis;
        bad_module.accounts[1].module_name = Some("other".into());
        assert!(init_genesis(&mut StateDelta::new(EmptyState), &bad_module).is_err());
    }
}
