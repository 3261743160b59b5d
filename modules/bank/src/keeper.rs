//! Balances and supply: reads, sends (with the SDK's events), mint and burn for other modules.
//! Other modules reach the bank only through [`BankKeeper`]'s public methods.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use cosmos_sdk_proto::cosmos::bank::v1beta1::Params;
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use openledger_core::coin::format_coins;
use openledger_core::{Address, Coin, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};

use crate::error::BankError;
use crate::events::{Burn, CoinReceived, CoinSpent, Coinbase, Transfer};
use crate::state_key;

/// What the bank needs from the auth module: creating the account of a first-time recipient.
pub trait AccountKeeper: Send + Sync {
    /// Creates the account at `address` if it does not exist.
    fn ensure_account(&self, state: &mut dyn StateWrite, address: &Address) -> Result<(), StateError>;
}

/// The bank keeper.
#[derive(Clone)]
pub struct BankKeeper {
    accounts: Arc<dyn AccountKeeper>,
    /// Shared by every clone, so module accounts registered after wiring are blocked everywhere.
    blocked: Arc<RwLock<BTreeSet<Address>>>,
}

impl std::fmt::Debug for BankKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankKeeper").field("blocked", &self.blocked).finish()
    }
}

/// The SDK's default bank params (sends enabled).
#[allow(deprecated)]
pub fn default_params() -> Params {
    Params { send_enabled: Vec::new(), default_send_enabled: true }
}

fn stored_amount(coin: Option<ProtoCoin>) -> Result<u128, StateError> {
    match coin {
        None => Ok(0),
        Some(c) => c.amount.parse::<u128>().map_err(|e| StateError::Decode { key: c.denom, error: e.to_string() }),
    }
}

impl BankKeeper {
    /// A keeper; `blocked` addresses (module accounts) cannot receive user sends.
    pub fn new(accounts: Arc<dyn AccountKeeper>, blocked: BTreeSet<Address>) -> Self {
        Self { accounts, blocked: Arc::new(RwLock::new(blocked)) }
    }

    /// Blocks more addresses (the module accounts of the registry, known once it is built).
    pub fn block(&self, addresses: impl IntoIterator<Item = Address>) {
        if let Ok(mut blocked) = self.blocked.write() {
            blocked.extend(addresses);
        }
    }

    /// Whether `address` may not receive sends from users.
    pub fn is_blocked(&self, address: &Address) -> bool {
        self.blocked.read().map(|b| b.contains(address)).unwrap_or(true)
    }

    /// Balance of one denom (0 if none).
    pub fn balance(&self, state: &dyn StateRead, address: &Address, denom: &str) -> Result<u128, StateError> {
        stored_amount(state.get_proto::<ProtoCoin>(&state_key::balance(&address.to_bech32(), denom))?)
    }

    /// All non-zero balances of an address, ordered by denom (bounded to 1000 denoms).
    pub fn all_balances(&self, state: &dyn StateRead, address: &Address) -> Result<Vec<Coin>, StateError> {
        let entries = state.scan_proto::<ProtoCoin>(&state_key::balances_of(&address.to_bech32()), None, 1000)?;
        entries.into_iter().map(|(_, c)| Ok(Coin::new(c.denom.clone(), stored_amount(Some(c))?))).collect()
    }

    fn set_balance(&self, state: &mut dyn StateWrite, address: &Address, denom: &str, amount: u128) -> Result<(), StateError> {
        let key = state_key::balance(&address.to_bech32(), denom);
        if amount == 0 {
            state.delete(&key)
        } else {
            state.put_proto(key, &ProtoCoin { denom: denom.to_string(), amount: amount.to_string() })
        }
    }

    /// Total supply of a denom.
    pub fn supply(&self, state: &dyn StateRead, denom: &str) -> Result<u128, StateError> {
        stored_amount(state.get_proto::<ProtoCoin>(&state_key::supply(denom))?)
    }

    fn set_supply(&self, state: &mut dyn StateWrite, denom: &str, amount: u128) -> Result<(), StateError> {
        state.put_proto(state_key::supply(denom), &ProtoCoin { denom: denom.to_string(), amount: amount.to_string() })
    }

    /// Bank params (defaults if unset).
    pub fn params(&self, state: &dyn StateRead) -> Result<Params, StateError> {
        Ok(state.get_proto(state_key::PARAMS)?.unwrap_or_else(default_params))
    }

    /// Whether sends of `denom` are enabled.
    pub fn send_enabled(&self, state: &dyn StateRead, denom: &str) -> Result<bool, StateError> {
        let params = self.params(state)?;
        #[allow(deprecated)]
        Ok(params.send_enabled.iter().find(|s| s.denom == denom).map_or(params.default_send_enabled, |s| s.enabled))
    }

    /// Takes `coins` from `address` (no events).
    fn subtract(&self, state: &mut dyn StateWrite, address: &Address, coins: &[Coin]) -> Result<(), BankError> {
        for coin in coins {
            let have = self.balance(state, address, &coin.denom)?;
            let left = have.checked_sub(coin.amount).ok_or_else(|| BankError::InsufficientFunds {
                available: Coin::new(coin.denom.clone(), have).to_string(),
                wanted: coin.to_string(),
            })?;
            self.set_balance(state, address, &coin.denom, left)?;
        }
        Ok(())
    }

    /// Gives `coins` to `address`, creating its account if needed (no events).
    fn add(&self, state: &mut dyn StateWrite, address: &Address, coins: &[Coin]) -> Result<(), BankError> {
        for coin in coins {
            let have = self.balance(state, address, &coin.denom)?;
            let total = have.checked_add(coin.amount).ok_or_else(|| BankError::Overflow(coin.to_string()))?;
            self.set_balance(state, address, &coin.denom, total)?;
        }
        self.accounts.ensure_account(state, address)?;
        Ok(())
    }

    /// Moves `coins` from `from` to `to` with `coin_spent`, `coin_received` and `transfer` events.
    /// Used by user sends and by other modules (fees, escrow, rewards).
    pub fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), BankError> {
        if coins.is_empty() {
            return Ok(());
        }
        self.subtract(state, from, coins)?;
        self.add(state, to, coins)?;
        let amount = format_coins(coins);
        state.emit_typed(CoinSpent { spender: from.to_bech32(), amount: amount.clone() });
        state.emit_typed(CoinReceived { receiver: to.to_bech32(), amount: amount.clone() });
        state.emit_typed(Transfer { recipient: to.to_bech32(), sender: from.to_bech32(), amount });
        Ok(())
    }

    /// Creates `coins` in `to` (supply grows).
    pub fn mint(&self, state: &mut dyn StateWrite, minter: &Address, to: &Address, coins: &[Coin]) -> Result<(), BankError> {
        for coin in coins {
            let supply = self.supply(state, &coin.denom)?;
            let grown = supply.checked_add(coin.amount).ok_or_else(|| BankError::Overflow(coin.to_string()))?;
            self.set_supply(state, &coin.denom, grown)?;
        }
        self.add(state, to, coins)?;
        let amount = format_coins(coins);
        state.emit_typed(Coinbase { minter: minter.to_bech32(), amount: amount.clone() });
        state.emit_typed(CoinReceived { receiver: to.to_bech32(), amount });
        Ok(())
    }

    /// Destroys `coins` held by `from` (supply shrinks).
    pub fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[Coin]) -> Result<(), BankError> {
        self.subtract(state, from, coins)?;
        for coin in coins {
            let supply = self.supply(state, &coin.denom)?;
            let shrunk = supply.checked_sub(coin.amount).ok_or_else(|| BankError::Overflow(coin.to_string()))?;
            self.set_supply(state, &coin.denom, shrunk)?;
        }
        let amount = format_coins(coins);
        state.emit_typed(CoinSpent { spender: from.to_bech32(), amount: amount.clone() });
        state.emit_typed(Burn { burner: from.to_bech32(), amount });
        Ok(())
    }

    /// Writes a balance and its supply directly (genesis import only).
    pub(crate) fn genesis_credit(&self, state: &mut dyn StateWrite, address: &Address, coin: &Coin) -> Result<(), BankError> {
        self.add(state, address, std::slice::from_ref(coin))?;
        let supply = self.supply(state, &coin.denom)?;
        let grown = supply.checked_add(coin.amount).ok_or_else(|| BankError::Overflow(coin.to_string()))?;
        self.set_supply(state, &coin.denom, grown)?;
        Ok(())
    }

    /// Writes the params (genesis and governance).
    pub fn set_params(&self, state: &mut dyn StateWrite, params: &Params) -> Result<(), StateError> {
        state.put_proto(state_key::PARAMS.to_vec(), params)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openledger_core::delta::{EmptyState, StateDelta};
    use std::sync::Mutex;

    /// Records which accounts the bank asked to create.
    #[derive(Default)]
    pub struct RecordingAccounts(pub Mutex<Vec<Address>>);

    impl AccountKeeper for RecordingAccounts {
        fn ensure_account(&self, _state: &mut dyn StateWrite, address: &Address) -> Result<(), StateError> {
            self.0.lock().map_err(|e| StateError::Store(e.to_string()))?.push(address.clone());
            Ok(())
        }
    }

    pub fn keeper() -> (BankKeeper, Arc<RecordingAccounts>) {
        let accounts = Arc::new(RecordingAccounts::default());
        (BankKeeper::new(accounts.clone(), BTreeSet::new()), accounts)
    }

    pub fn addr(n: u8) -> Address {
        Address::from_bytes(&[n; 20]).unwrap()
    }

    #[test]
    fn send_moves_funds_emits_events_and_keeps_supply() {
        let (bank, accounts) = keeper();
        let mut state = StateDelta::new(EmptyState);
        bank.mint(&mut state, &addr(0), &addr(1), &[Coin::new("uopen", 100)]).unwrap();
        state.take_events();
        bank.send(&mut state, &addr(1), &addr(2), &[Coin::new("uopen", 40)]).unwrap();
        assert_eq!(bank.balance(&state, &addr(1), "uopen").unwrap(), 60);
        assert_eq!(bank.balance(&state, &addr(2), "uopen").unwrap(), 40);
        assert_eq!(bank.supply(&state, "uopen").unwrap(), 100);
        let kinds: Vec<_> = state.events().iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["coin_spent", "coin_received", "transfer"]);
        assert_eq!(state.events()[2].get("amount"), Some("40uopen"));
        assert!(accounts.0.lock().unwrap().contains(&addr(2)));
    }

    #[test]
    fn overspend_fails_and_spending_everything_deletes_the_entry() {
        let (bank, _) = keeper();
        let mut state = StateDelta::new(EmptyState);
        bank.mint(&mut state, &addr(0), &addr(1), &[Coin::new("uopen", 10)]).unwrap();
        let err = bank.send(&mut state, &addr(1), &addr(2), &[Coin::new("uopen", 11)]).unwrap_err();
        assert!(matches!(err, BankError::InsufficientFunds { .. }));
        bank.send(&mut state, &addr(1), &addr(2), &[Coin::new("uopen", 10)]).unwrap();
        assert!(bank.all_balances(&state, &addr(1)).unwrap().is_empty());
        bank.burn(&mut state, &addr(2), &[Coin::new("uopen", 4)]).unwrap();
        assert_eq!(bank.supply(&state, "uopen").unwrap(), 6);
    }
}
