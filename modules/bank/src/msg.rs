//! Bank messages: `MsgSend` and `MsgMultiSend`, each with a stateless check (the SDK's
//! `ValidateBasic`) and an execution against a state delta.

use cosmos_sdk_proto::cosmos::bank::v1beta1::{MsgMultiSend, MsgSend};
use openledger_core::coin::coins_from_proto;
use openledger_core::{Address, Coin, StateWrite, StateWriteExt};

use crate::error::BankError;
use crate::events::MessageSender;
use crate::keeper::BankKeeper;

/// A validated `MsgSend`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// Sender (the signer).
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Coins, validated and sorted.
    pub amount: Vec<Coin>,
}

/// A validated `MsgMultiSend` (one input, as the SDK requires since v0.46).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiSend {
    /// The single input.
    pub input: (Address, Vec<Coin>),
    /// Outputs.
    pub outputs: Vec<(Address, Vec<Coin>)>,
}

fn address(field: &'static str, text: &str) -> Result<Address, BankError> {
    Address::from_bech32(text).map_err(|e| BankError::InvalidAddress { field, reason: e.to_string() })
}

fn positive_coins(coins: &[cosmos_sdk_proto::cosmos::base::v1beta1::Coin]) -> Result<Vec<Coin>, BankError> {
    let parsed = coins_from_proto(coins).map_err(|e| BankError::InvalidCoins(e.to_string()))?;
    if parsed.is_empty() {
        return Err(BankError::InvalidCoins("empty coins".into()));
    }
    Ok(parsed)
}

/// Largest number of outputs in one multi-send.
pub const MAX_MULTI_SEND_OUTPUTS: usize = 1000;

impl Send {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgSend) -> Result<Self, BankError> {
        Ok(Self {
            from: address("sender", &msg.from_address)?,
            to: address("recipient", &msg.to_address)?,
            amount: positive_coins(&msg.amount)?,
        })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.from.clone()]
    }

    /// Executes the send.
    pub fn send(&self, bank: &BankKeeper, state: &mut dyn StateWrite) -> Result<(), BankError> {
        for coin in &self.amount {
            if !bank.send_enabled(state, &coin.denom)? {
                return Err(BankError::SendDisabled(coin.denom.clone()));
            }
        }
        if bank.is_blocked(&self.to) {
            return Err(BankError::BlockedRecipient(self.to.to_bech32()));
        }
        bank.send(state, &self.from, &self.to, &self.amount)?;
        state.emit_typed(MessageSender { sender: self.from.to_bech32() });
        Ok(())
    }
}

fn sum_into(total: &mut std::collections::BTreeMap<String, u128>, coins: &[Coin]) -> Result<(), BankError> {
    for c in coins {
        let entry = total.entry(c.denom.clone()).or_insert(0);
        *entry = entry.checked_add(c.amount).ok_or_else(|| BankError::Overflow(c.to_string()))?;
    }
    Ok(())
}

impl MultiSend {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgMultiSend) -> Result<Self, BankError> {
        let input = match msg.inputs.as_slice() {
            [] => return Err(BankError::NoInputs),
            [one] => (address("input", &one.address)?, positive_coins(&one.coins)?),
            _ => return Err(BankError::MultipleSenders),
        };
        if msg.outputs.is_empty() {
            return Err(BankError::NoOutputs);
        }
        if msg.outputs.len() > MAX_MULTI_SEND_OUTPUTS {
            return Err(BankError::InvalidCoins(format!("too many outputs: {} > {MAX_MULTI_SEND_OUTPUTS}", msg.outputs.len())));
        }
        let outputs = msg
            .outputs
            .iter()
            .map(|o| Ok((address("output", &o.address)?, positive_coins(&o.coins)?)))
            .collect::<Result<Vec<_>, BankError>>()?;
        let mut total_in = std::collections::BTreeMap::new();
        sum_into(&mut total_in, &input.1)?;
        let mut total_out = std::collections::BTreeMap::new();
        for (_, coins) in &outputs {
            sum_into(&mut total_out, coins)?;
        }
        if total_in != total_out {
            return Err(BankError::InputOutputMismatch);
        }
        Ok(Self { input, outputs })
    }

    /// The signer (the input's address).
    pub fn signers(&self) -> Vec<Address> {
        vec![self.input.0.clone()]
    }

    /// Executes: takes the input once, pays every output.
    pub fn send(&self, bank: &BankKeeper, state: &mut dyn StateWrite) -> Result<(), BankError> {
        for coin in &self.input.1 {
            if !bank.send_enabled(state, &coin.denom)? {
                return Err(BankError::SendDisabled(coin.denom.clone()));
            }
        }
        for (to, coins) in &self.outputs {
            if bank.is_blocked(to) {
                return Err(BankError::BlockedRecipient(to.to_bech32()));
            }
            bank.send(state, &self.input.0, to, coins)?;
        }
        state.emit_typed(MessageSender { sender: self.input.0.to_bech32() });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::tests::{addr, keeper};
    use cosmos_sdk_proto::cosmos::bank::v1beta1::{Input, Output};
    use openledger_core::delta::{EmptyState, StateDelta};

    fn coin(n: u128) -> Vec<cosmos_sdk_proto::cosmos::base::v1beta1::Coin> {
        vec![Coin::new("uopen", n).to_proto()]
    }

    #[test]
    fn validate_basic_rejects_bad_input() {
        let ok = MsgSend { from_address: addr(1).to_bech32(), to_address: addr(2).to_bech32(), amount: coin(5) };
        assert!(Send::check_stateless(&ok).is_ok());
        let mut bad = ok.clone();
        bad.to_address = "open1bad".into();
        assert!(matches!(Send::check_stateless(&bad), Err(BankError::InvalidAddress { .. })));
        let mut zero = ok.clone();
        zero.amount = coin(0);
        assert!(matches!(Send::check_stateless(&zero), Err(BankError::InvalidCoins(_))));
        let mut empty = ok;
        empty.amount.clear();
        assert!(matches!(Send::check_stateless(&empty), Err(BankError::InvalidCoins(_))));
    }

    #[test]
    fn multi_send_checks_sums_and_pays_every_output() {
        let (bank, _) = keeper();
        let mut state = StateDelta::new(EmptyState);
        bank.mint(&mut state, &addr(0), &addr(1), &[Coin::new("uopen", 100)]).unwrap();
        let msg = MsgMultiSend {
            inputs: vec![Input { address: addr(1).to_bech32(), coins: coin(30) }],
            outputs: vec![
                Output { address: addr(2).to_bech32(), coins: coin(10) },
                Output { address: addr(3).to_bech32(), coins: coin(20) },
            ],
        };
        let ms = MultiSend::check_stateless(&msg).unwrap();
        ms.send(&bank, &mut state).unwrap();
        assert_eq!(bank.balance(&state, &addr(1), "uopen").unwrap(), 70);
        assert_eq!(bank.balance(&state, &addr(3), "uopen").unwrap(), 20);
        let mut mismatch = msg.clone();
        mismatch.outputs[0].coins = coin(11);
        assert!(matches!(MultiSend::check_stateless(&mismatch), Err(BankError::InputOutputMismatch)));
        let mut none = msg;
        none.inputs.clear();
        assert!(matches!(MultiSend::check_stateless(&none), Err(BankError::NoInputs)));
    }
}
