//! Typed bank events, with the SDK's kinds and attribute names (`coin_spent`, `coin_received`,
//! `transfer`, `coinbase`, `burn`, and `message` with its `sender`), which explorers and
//! `tx_search` queries rely on.

use openledger_core::typed_events;

typed_events! {
    /// A bank message was executed by `sender` (kind `message`), so that
    /// `tx_search "message.sender='open1…'"` finds the account's sends.
    MessageSender = "message" {
        /// Signer address.
        sender: String,
    }

    /// Coins left an account.
    CoinSpent = "coin_spent" {
        /// Spender address.
        spender: String,
        /// Coins (`100uopen`).
        amount: String,
    }

    /// Coins arrived at an account.
    CoinReceived = "coin_received" {
        /// Receiver address.
        receiver: String,
        /// Coins.
        amount: String,
    }

    /// A transfer between two accounts.
    Transfer = "transfer" {
        /// Recipient address.
        recipient: String,
        /// Sender address.
        sender: String,
        /// Coins.
        amount: String,
    }

    /// New coins minted.
    Coinbase = "coinbase" {
        /// Minter.
        minter: String,
        /// Coins.
        amount: String,
    }

    /// Coins burned.
    Burn = "burn" {
        /// Burner.
        burner: String,
        /// Coins.
        amount: String,
    }
}
