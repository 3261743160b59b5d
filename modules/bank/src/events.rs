//! Typed bank events, with the SDK's kinds and attribute names (`coin_spent`, `coin_received`,
//! `transfer`, `coinbase`, `burn`, and `message` with its `sender`), which explorers and
//! `tx_search` queries rely on.

use openledger_core::{Event, TypedEvent};

/// A bank message was executed by `sender` (kind `message`), so that
/// `tx_search "message.sender='open1…'"` finds the account's sends.
pub struct MessageSender {
    /// Signer address.
    pub sender: String,
}

/// Coins left an account.
pub struct CoinSpent {
    /// Spender address.
    pub spender: String,
    /// Coins (`100uopen`).
    pub amount: String,
}

/// Coins arrived at an account.
pub struct CoinReceived {
    /// Receiver address.
    pub receiver: String,
    /// Coins.
    pub amount: String,
}

/// A transfer between two accounts.
pub struct Transfer {
    /// Recipient address.
    pub recipient: String,
    /// Sender address.
    pub sender: String,
    /// Coins.
    pub amount: String,
}

/// New coins minted.
pub struct Coinbase {
    /// Minter.
    pub minter: String,
    /// Coins.
    pub amount: String,
}

/// Coins burned.
pub struct Burn {
    /// Burner.
    pub burner: String,
    /// Coins.
    pub amount: String,
}

impl TypedEvent for MessageSender {
    fn into_event(self) -> Event {
        Event::new("message").attr("sender", self.sender)
    }
}

impl TypedEvent for CoinSpent {
    fn into_event(self) -> Event {
        Event::new("coin_spent").attr("spender", self.spender).attr("amount", self.amount)
    }
}

impl TypedEvent for CoinReceived {
    fn into_event(self) -> Event {
        Event::new("coin_received").attr("receiver", self.receiver).attr("amount", self.amount)
    }
}

impl TypedEvent for Transfer {
    fn into_event(self) -> Event {
        Event::new("transfer").attr("recipient", self.recipient).attr("sender", self.sender).attr("amount", self.amount)
    }
}

impl TypedEvent for Coinbase {
    fn into_event(self) -> Event {
        Event::new("coinbase").attr("minter", self.minter).attr("amount", self.amount)
    }
}

impl TypedEvent for Burn {
    fn into_event(self) -> Event {
        Event::new("burn").attr("burner", self.burner).attr("amount", self.amount)
    }
}
