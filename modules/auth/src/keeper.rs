//! Account storage: base and module accounts stored as `Any` (as the SDK does), account numbers
//! handed out in order, sequences and public keys updated by the ante handler.

use cosmos_sdk_proto::cosmos::auth::v1beta1::{BaseAccount, ModuleAccount};
use cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey as Secp256k1PubKey;
use cosmos_sdk_proto::Any;
use openledger_core::{Address, StateRead, StateReadExt, StateWrite, StateWriteExt};
use prost::{Message, Name};

use crate::error::AuthError;
use crate::state_key;

/// Type URL of a base account.
pub const BASE_ACCOUNT_TYPE_URL: &str = "/cosmos.auth.v1beta1.BaseAccount";
/// Type URL of a module account.
pub const MODULE_ACCOUNT_TYPE_URL: &str = "/cosmos.auth.v1beta1.ModuleAccount";
/// Type URL of a secp256k1 public key.
pub const SECP256K1_PUBKEY_TYPE_URL: &str = "/cosmos.crypto.secp256k1.PubKey";

/// An account: a plain (user) account or a module account.
#[derive(Debug, Clone, PartialEq)]
pub enum Account {
    /// A user account.
    Base(BaseAccount),
    /// A module account (fees, community incentives, …).
    Module(ModuleAccount),
}

impl Account {
    /// The base-account part.
    pub fn base(&self) -> &BaseAccount {
        match self {
            Self::Base(b) => b,
            Self::Module(m) => m.base_account.as_ref().unwrap_or_else(|| empty_base()),
        }
    }

    /// Mutable base-account part.
    pub fn base_mut(&mut self) -> &mut BaseAccount {
        match self {
            Self::Base(b) => b,
            Self::Module(m) => m.base_account.get_or_insert_with(BaseAccount::default),
        }
    }

    /// Packs as `Any`, the SDK's account encoding.
    pub fn to_any(&self) -> Any {
        match self {
            Self::Base(b) => Any { type_url: BASE_ACCOUNT_TYPE_URL.into(), value: b.encode_to_vec() },
            Self::Module(m) => Any { type_url: MODULE_ACCOUNT_TYPE_URL.into(), value: m.encode_to_vec() },
        }
    }

    /// Unpacks an `Any`.
    pub fn from_any(any: &Any) -> Result<Self, String> {
        match any.type_url.as_str() {
            BASE_ACCOUNT_TYPE_URL => BaseAccount::decode(any.value.as_slice()).map(Self::Base).map_err(|e| e.to_string()),
            MODULE_ACCOUNT_TYPE_URL => ModuleAccount::decode(any.value.as_slice()).map(Self::Module).map_err(|e| e.to_string()),
            other => Err(format!("unknown account type {other}")),
        }
    }

    /// The compressed secp256k1 key recorded for the account, if any.
    pub fn secp256k1_pubkey(&self) -> Option<Vec<u8>> {
        let any = self.base().pub_key.as_ref()?;
        if any.type_url != SECP256K1_PUBKEY_TYPE_URL {
            return None;
        }
        Secp256k1PubKey::decode(any.value.as_slice()).ok().map(|k| k.key)
    }
}

fn empty_base() -> &'static BaseAccount {
    static EMPTY: std::sync::OnceLock<BaseAccount> = std::sync::OnceLock::new();
    EMPTY.get_or_init(BaseAccount::default)
}

/// Packs a compressed secp256k1 key as the SDK's `Any` public key.
pub fn secp256k1_pubkey_any(compressed: &[u8]) -> Any {
    Any { type_url: SECP256K1_PUBKEY_TYPE_URL.into(), value: Secp256k1PubKey { key: compressed.to_vec() }.encode_to_vec() }
}

/// The auth keeper: stateless, every method takes the state it works on.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthKeeper;

impl AuthKeeper {
    /// The account at `address`, if any.
    pub fn account(&self, state: &dyn StateRead, address: &Address) -> Result<Option<Account>, AuthError> {
        let key = state_key::account(&address.to_bech32());
        match state.get_proto::<Any>(&key)? {
            None => Ok(None),
            Some(any) => Account::from_any(&any).map(Some).map_err(|e| AuthError::Corrupt(address.to_bech32(), e)),
        }
    }

    /// Stores an account (its `address` field names where).
    pub fn set_account(&self, state: &mut dyn StateWrite, account: &Account) -> Result<(), AuthError> {
        let address = account.base().address.clone();
        state.put_proto(state_key::account(&address), &account.to_any())?;
        Ok(())
    }

    /// Hands out the next account number.
    pub fn next_account_number(&self, state: &mut dyn StateWrite) -> Result<u64, AuthError> {
        let next: u64 = state.get_proto::<u64>(state_key::NEXT_ACCOUNT_NUMBER)?.unwrap_or(0);
        let after = next.checked_add(1).ok_or_else(|| AuthError::InvalidGenesis("account numbers exhausted".into()))?;
        state.put_proto(state_key::NEXT_ACCOUNT_NUMBER.to_vec(), &after)?;
        Ok(next)
    }

    /// Creates a base account at `address` with a fresh number (must not exist).
    pub fn create_account(&self, state: &mut dyn StateWrite, address: &Address) -> Result<Account, AuthError> {
        let number = self.next_account_number(state)?;
        let account = Account::Base(BaseAccount { address: address.to_bech32(), pub_key: None, account_number: number, sequence: 0 });
        self.set_account(state, &account)?;
        state.put_raw(state_key::account_by_number(number), address.as_bytes().to_vec())?;
        Ok(account)
    }

    /// The account at `address`, created if missing (what a transfer to a new address does).
    pub fn ensure_account(&self, state: &mut dyn StateWrite, address: &Address) -> Result<Account, AuthError> {
        match self.account(state, address)? {
            Some(account) => Ok(account),
            None => self.create_account(state, address),
        }
    }

    /// Creates (or returns) the module account `name` with `permissions`.
    pub fn ensure_module_account(&self, state: &mut dyn StateWrite, name: &str, permissions: &[&str]) -> Result<Account, AuthError> {
        let address = Address::module(name);
        if let Some(existing) = self.account(state, &address)? {
            return Ok(existing);
        }
        let number = self.next_account_number(state)?;
        let account = Account::Module(ModuleAccount {
            base_account: Some(BaseAccount { address: address.to_bech32(), pub_key: None, account_number: number, sequence: 0 }),
            name: name.to_string(),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
        });
        self.set_account(state, &account)?;
        state.put_raw(state_key::account_by_number(number), address.as_bytes().to_vec())?;
        state.put_raw(state_key::module_account(name), address.as_bytes().to_vec())?;
        Ok(account)
    }

    /// Address of the account with `number`.
    pub fn address_by_number(&self, state: &dyn StateRead, number: u64) -> Result<Option<Address>, AuthError> {
        match state.get_raw(&state_key::account_by_number(number))? {
            Some(bytes) => Address::from_bytes(&bytes).map(Some).map_err(|e| AuthError::Corrupt(number.to_string(), e.to_string())),
            None => Ok(None),
        }
    }
}

/// Type name helper for messages (`/cosmos.bank.v1beta1.MsgSend`).
pub fn type_url<M: Name>() -> String {
    format!("/{}", M::full_name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openledger_core::delta::{EmptyState, StateDelta};

    #[test]
    fn accounts_get_sequential_numbers_and_round_trip_as_any() {
        let keeper = AuthKeeper;
        let mut state = StateDelta::new(EmptyState);
        let a = Address::from_bytes(&[1; 20]).unwrap();
        let b = Address::from_bytes(&[2; 20]).unwrap();
        assert!(keeper.account(&state, &a).unwrap().is_none());
        let acc_a = keeper.ensure_account(&mut state, &a).unwrap();
        let acc_b = keeper.ensure_account(&mut state, &b).unwrap();
        assert_eq!(acc_a.base().account_number, 0);
        assert_eq!(acc_b.base().account_number, 1);
        // ensure is idempotent
        assert_eq!(keeper.ensure_account(&mut state, &a).unwrap(), acc_a);
        let module = keeper.ensure_module_account(&mut state, "fee_collector", &[]).unwrap();
        assert_eq!(module.base().account_number, 2);
        assert!(matches!(keeper.account(&state, &Address::module("fee_collector")).unwrap(), Some(Account::Module(_))));
        assert_eq!(keeper.address_by_number(&state, 1).unwrap(), Some(b));
        let any = acc_a.to_any();
        assert_eq!(any.type_url, BASE_ACCOUNT_TYPE_URL);
        assert_eq!(Account::from_any(&any).unwrap(), acc_a);
        assert!(Account::from_any(&Any { type_url: "/x".into(), value: vec![] }).is_err());
    }
}
