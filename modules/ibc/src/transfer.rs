//! ICS-20 fungible token transfer: ibc-rs's transfer app bound to the chain's bank.
//!
//! Tokens native to this chain are escrowed in the channel's escrow account (ADR-028 address of
//! `transfer/channel-N`, as ibc-go derives it) when sent and released when they come back; tokens
//! that arrive from another chain are minted as `ibc/HASH`, HASH being the upper-case hex SHA-256
//! of their full trace (`transfer/channel-N/uopen`), whose trace is kept so the tokens can be sent
//! on or back (then they are burned). Every amount moves through the bank keeper, so supply and
//! balances stay exact.

use std::fmt;

use ibc::apps::transfer::context::{TokenTransferExecutionContext, TokenTransferValidationContext};
use ibc::apps::transfer::module as app;
use ibc::apps::transfer::types::error::TokenTransferError;
use ibc::apps::transfer::types::{Memo, PrefixedCoin, PrefixedDenom, VERSION};
use ibc::core::channel::types::acknowledgement::Acknowledgement;
use ibc::core::channel::types::channel::{Counterparty, Order};
use ibc::core::channel::types::error::ChannelError;
use ibc::core::channel::types::packet::Packet;
use ibc::core::channel::types::Version as ChannelVersion;
use ibc::core::host::types::error::HostError;
use ibc::core::host::types::identifiers::{ChannelId, ConnectionId, PortId};
use ibc::core::router::module::Module as IbcAppModule;
use ibc::core::router::types::module::ModuleExtras;
use ibc::cosmos_host::utils::cosmos_adr028_escrow_address;
use ibc::primitives::Signer;
use ibc_proto::ibc::applications::transfer::v1::DenomTrace;
use openledger_core::{AbciError, Address, Coin, StateError, StateRead, StateWrite};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::genesis::TransferParams;
use crate::host::Shared;
use crate::state_key;

/// Name of the transfer module's address (the minter of received tokens).
pub const TRANSFER_MODULE_ACCOUNT: &str = "transfer";

/// The bank as ICS-20 needs it.
pub trait TransferBank: Send + Sync {
    /// Moves coins between accounts.
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), AbciError>;
    /// Creates coins in `to` (the transfer module's address mints).
    fn mint(&self, state: &mut dyn StateWrite, to: &Address, coins: &[Coin]) -> Result<(), AbciError>;
    /// Destroys coins held by `from`.
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[Coin]) -> Result<(), AbciError>;
    /// Balance of one denom.
    fn balance(&self, state: &dyn StateRead, address: &Address, denom: &str) -> Result<u128, StateError>;
}

/// `ibc/HASH` of a traced denom (upper-case hex SHA-256 of `port/channel/…/base`).
pub fn ibc_denom_hash(full_path: &str) -> String {
    hex::encode_upper(Sha256::digest(full_path.as_bytes()))
}

/// The bank denom of an ICS-20 denom: the base denom for tokens native here, `ibc/HASH` for
/// traced ones.
pub fn bank_denom(denom: &PrefixedDenom) -> String {
    if denom.trace_path.is_empty() {
        denom.base_denom.to_string()
    } else {
        format!("ibc/{}", ibc_denom_hash(&denom.to_string()))
    }
}

/// The escrow account of a channel end.
pub fn escrow_address(port_id: &PortId, channel_id: &ChannelId) -> Address {
    Address::from_bytes(&cosmos_adr028_escrow_address(port_id, channel_id)).unwrap_or_else(|_| Address::module("transfer-escrow"))
}

/// The full trace (`transfer/channel-0/uopen`) of a bank denom `ibc/HASH`, from the stored
/// traces; any other denom is its own trace.
pub fn full_denom_path(state: &dyn StateRead, denom: &str) -> Result<Option<String>, StateError> {
    let Some(hash) = denom.strip_prefix("ibc/") else { return Ok(Some(denom.to_string())) };
    let Some(bytes) = state.get_raw(&state_key::denom_trace(&hash.to_ascii_uppercase()))? else { return Ok(None) };
    let trace = DenomTrace::decode(bytes.as_slice()).map_err(|e| StateError::Store(format!("denom trace: {e}")))?;
    Ok(Some(if trace.path.is_empty() { trace.base_denom } else { format!("{}/{}", trace.path, trace.base_denom) }))
}

/// The transfer params (send/receive enabled; both on when never set).
pub fn params(state: &dyn StateRead) -> Result<TransferParams, StateError> {
    match state.get_raw(state_key::TRANSFER_PARAMS)? {
        None => Ok(TransferParams::default()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| StateError::Store(format!("transfer params: {e}"))),
    }
}

/// ibc-rs's ICS-20 app over the shared state and the bank.
pub struct TransferApp<'s, 'a> {
    shared: &'s Shared<'a>,
    bank: &'s dyn TransferBank,
}

impl fmt::Debug for TransferApp<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TransferApp")
    }
}

impl<'s, 'a> TransferApp<'s, 'a> {
    /// The app for one message.
    pub fn new(shared: &'s Shared<'a>, bank: &'s dyn TransferBank) -> Self {
        Self { shared, bank }
    }

    fn coins(coin: &PrefixedCoin) -> Result<Vec<Coin>, HostError> {
        let amount: u128 =
            coin.amount.to_string().parse().map_err(|_| HostError::invalid_state(format!("amount {} is too large", coin.amount)))?;
        Ok(vec![Coin::new(bank_denom(&coin.denom), amount)])
    }

    fn bank_call(&self, f: impl FnOnce(&mut dyn StateWrite) -> Result<(), AbciError>) -> Result<(), HostError> {
        self.shared.with_state(f).map_err(|e| self.shared.fail(e))
    }

    fn require_balance(&self, address: &Address, coin: &PrefixedCoin) -> Result<(), HostError> {
        let coins = Self::coins(coin)?;
        let wanted = &coins[0];
        let have = self
            .shared
            .with_state(|s| self.bank.balance(s, address, &wanted.denom))
            .map_err(|e| self.shared.fail(AbciError::from_code(&e)))?;
        if have < wanted.amount {
            return Err(HostError::invalid_state(format!("insufficient funds: {address} holds {have}{}, needs {wanted}", wanted.denom)));
        }
        Ok(())
    }

    /// Moves `coin` from `account` into the channel's escrow (`into_escrow`) or out of it to
    /// `account`, and keeps the denom's escrow total in step.
    fn move_through_escrow(
        &self,
        account: &Address,
        port_id: &PortId,
        channel_id: &ChannelId,
        coin: &PrefixedCoin,
        into_escrow: bool,
    ) -> Result<(), HostError> {
        let coins = Self::coins(coin)?;
        let escrow = escrow_address(port_id, channel_id);
        let (from, to) = if into_escrow { (account, &escrow) } else { (&escrow, account) };
        self.bank_call(|s| self.bank.send(s, from, to, &coins))?;
        self.adjust_escrow_total(&coins[0], into_escrow)
    }

    fn adjust_escrow_total(&self, coin: &Coin, add: bool) -> Result<(), HostError> {
        let key = state_key::total_escrow(&coin.denom);
        let current: u128 = match self.shared.get(&key)? {
            Some(b) => String::from_utf8_lossy(&b).parse().map_err(|_| HostError::invalid_state("escrow total"))?,
            None => 0,
        };
        let next = if add { current.checked_add(coin.amount) } else { current.checked_sub(coin.amount) };
        let next = next.ok_or_else(|| HostError::invalid_state("escrow total out of range"))?;
        if next == 0 {
            self.shared.delete(&key)
        } else {
            self.shared.put(key, next.to_string().into_bytes())
        }
    }

    fn enabled(&self, which: fn(&TransferParams) -> bool, what: &str) -> Result<(), HostError> {
        let p = self.shared.with_state(|s| params(s)).map_err(|e| self.shared.fail(AbciError::from_code(&e)))?;
        if which(&p) {
            Ok(())
        } else {
            Err(HostError::invalid_state(format!("{what} are disabled")))
        }
    }
}

fn app_error(e: TokenTransferError) -> ChannelError {
    ChannelError::AppSpecific { description: e.to_string() }
}

impl TokenTransferValidationContext for TransferApp<'_, '_> {
    type AccountId = Address;

    fn sender_account(&self, sender: &Signer) -> Result<Address, HostError> {
        Address::from_bech32(sender.as_ref()).map_err(|e| HostError::invalid_state(format!("sender {sender}: {e}")))
    }

    fn receiver_account(&self, receiver: &Signer) -> Result<Address, HostError> {
        Address::from_bech32(receiver.as_ref()).map_err(|e| HostError::invalid_state(format!("receiver {receiver}: {e}")))
    }

    fn get_port(&self) -> Result<PortId, HostError> {
        Ok(PortId::transfer())
    }

    fn can_send_coins(&self) -> Result<(), HostError> {
        self.enabled(|p| p.send_enabled, "ICS-20 sends")
    }

    fn can_receive_coins(&self) -> Result<(), HostError> {
        self.enabled(|p| p.receive_enabled, "ICS-20 receives")
    }

    fn escrow_coins_validate(&self, from: &Address, _: &PortId, _: &ChannelId, coin: &PrefixedCoin, _: &Memo) -> Result<(), HostError> {
        self.require_balance(from, coin)
    }

    fn unescrow_coins_validate(&self, _: &Address, port_id: &PortId, channel_id: &ChannelId, coin: &PrefixedCoin) -> Result<(), HostError> {
        self.require_balance(&escrow_address(port_id, channel_id), coin)
    }

    fn mint_coins_validate(&self, _: &Address, coin: &PrefixedCoin) -> Result<(), HostError> {
        Self::coins(coin).map(|_| ())
    }

    fn burn_coins_validate(&self, from: &Address, coin: &PrefixedCoin, _: &Memo) -> Result<(), HostError> {
        self.require_balance(from, coin)
    }

    fn denom_hash_string(&self, denom: &PrefixedDenom) -> Option<String> {
        (!denom.trace_path.is_empty()).then(|| ibc_denom_hash(&denom.to_string()))
    }
}

impl TokenTransferExecutionContext for TransferApp<'_, '_> {
    fn escrow_coins_execute(
        &mut self,
        from: &Address,
        port_id: &PortId,
        channel_id: &ChannelId,
        coin: &PrefixedCoin,
        _: &Memo,
    ) -> Result<(), HostError> {
        self.move_through_escrow(from, port_id, channel_id, coin, true)
    }

    fn unescrow_coins_execute(
        &mut self,
        to: &Address,
        port_id: &PortId,
        channel_id: &ChannelId,
        coin: &PrefixedCoin,
    ) -> Result<(), HostError> {
        self.move_through_escrow(to, port_id, channel_id, coin, false)
    }

    fn mint_coins_execute(&mut self, to: &Address, coin: &PrefixedCoin) -> Result<(), HostError> {
        let coins = Self::coins(coin)?;
        if !coin.denom.trace_path.is_empty() {
            let hash = ibc_denom_hash(&coin.denom.to_string());
            let trace = DenomTrace { path: coin.denom.trace_path.to_string(), base_denom: coin.denom.base_denom.to_string() };
            self.shared.put(state_key::denom_trace(&hash), trace.encode_to_vec())?;
        }
        self.bank_call(|s| self.bank.mint(s, to, &coins))
    }

    fn burn_coins_execute(&mut self, from: &Address, coin: &PrefixedCoin, _: &Memo) -> Result<(), HostError> {
        let coins = Self::coins(coin)?;
        self.bank_call(|s| self.bank.burn(s, from, &coins))
    }
}

impl IbcAppModule for TransferApp<'_, '_> {
    fn on_chan_open_init_validate(
        &self,
        order: Order,
        connection_hops: &[ConnectionId],
        port_id: &PortId,
        channel_id: &ChannelId,
        counterparty: &Counterparty,
        version: &ChannelVersion,
    ) -> Result<ChannelVersion, ChannelError> {
        app::on_chan_open_init_validate(self, order, connection_hops, port_id, channel_id, counterparty, version).map_err(app_error)?;
        Ok(ChannelVersion::new(VERSION.to_string()))
    }

    fn on_chan_open_init_execute(
        &mut self,
        order: Order,
        connection_hops: &[ConnectionId],
        port_id: &PortId,
        channel_id: &ChannelId,
        counterparty: &Counterparty,
        version: &ChannelVersion,
    ) -> Result<(ModuleExtras, ChannelVersion), ChannelError> {
        app::on_chan_open_init_execute(self, order, connection_hops, port_id, channel_id, counterparty, version).map_err(app_error)
    }

    fn on_chan_open_try_validate(
        &self,
        order: Order,
        connection_hops: &[ConnectionId],
        port_id: &PortId,
        channel_id: &ChannelId,
        counterparty: &Counterparty,
        counterparty_version: &ChannelVersion,
    ) -> Result<ChannelVersion, ChannelError> {
        app::on_chan_open_try_validate(self, order, connection_hops, port_id, channel_id, counterparty, counterparty_version)
            .map_err(app_error)?;
        Ok(ChannelVersion::new(VERSION.to_string()))
    }

    fn on_chan_open_try_execute(
        &mut self,
        order: Order,
        connection_hops: &[ConnectionId],
        port_id: &PortId,
        channel_id: &ChannelId,
        counterparty: &Counterparty,
        counterparty_version: &ChannelVersion,
    ) -> Result<(ModuleExtras, ChannelVersion), ChannelError> {
        app::on_chan_open_try_execute(self, order, connection_hops, port_id, channel_id, counterparty, counterparty_version)
            .map_err(app_error)
    }

    fn on_chan_open_ack_validate(
        &self,
        port_id: &PortId,
        channel_id: &ChannelId,
        counterparty_version: &ChannelVersion,
    ) -> Result<(), ChannelError> {
        app::on_chan_open_ack_validate(self, port_id, channel_id, counterparty_version).map_err(app_error)
    }

    fn on_chan_open_ack_execute(&mut self, _: &PortId, _: &ChannelId, _: &ChannelVersion) -> Result<ModuleExtras, ChannelError> {
        Ok(ModuleExtras::empty())
    }

    fn on_chan_open_confirm_validate(&self, port_id: &PortId, channel_id: &ChannelId) -> Result<(), ChannelError> {
        app::on_chan_open_confirm_validate(self, port_id, channel_id).map_err(app_error)
    }

    fn on_chan_open_confirm_execute(&mut self, _: &PortId, _: &ChannelId) -> Result<ModuleExtras, ChannelError> {
        Ok(ModuleExtras::empty())
    }

    /// ICS-20 channels cannot be closed by users (as in ibc-go).
    fn on_chan_close_init_validate(&self, _: &PortId, _: &ChannelId) -> Result<(), ChannelError> {
        Err(ChannelError::AppSpecific { description: "ICS-20 channels cannot be closed".into() })
    }

    fn on_chan_close_init_execute(&mut self, _: &PortId, _: &ChannelId) -> Result<ModuleExtras, ChannelError> {
        Err(ChannelError::AppSpecific { description: "ICS-20 channels cannot be closed".into() })
    }

    fn on_chan_close_confirm_validate(&self, _: &PortId, _: &ChannelId) -> Result<(), ChannelError> {
        Ok(())
    }

    fn on_chan_close_confirm_execute(&mut self, _: &PortId, _: &ChannelId) -> Result<ModuleExtras, ChannelError> {
        Ok(ModuleExtras::empty())
    }

    fn on_recv_packet_execute(&mut self, packet: &Packet, _relayer: &Signer) -> (ModuleExtras, Option<Acknowledgement>) {
        let (extras, ack) = app::on_recv_packet_execute(self, packet);
        (extras, Some(ack))
    }

    fn on_acknowledgement_packet_validate(&self, packet: &Packet, ack: &Acknowledgement, relayer: &Signer) -> Result<(), ChannelError> {
        app::on_acknowledgement_packet_validate(self, packet, ack, relayer).map_err(app_error)
    }

    fn on_acknowledgement_packet_execute(
        &mut self,
        packet: &Packet,
        ack: &Acknowledgement,
        relayer: &Signer,
    ) -> (ModuleExtras, Result<(), ChannelError>) {
        let (extras, result) = app::on_acknowledgement_packet_execute(self, packet, ack, relayer);
        (extras, result.map_err(app_error))
    }

    fn on_timeout_packet_validate(&self, packet: &Packet, relayer: &Signer) -> Result<(), ChannelError> {
        app::on_timeout_packet_validate(self, packet, relayer).map_err(app_error)
    }

    fn on_timeout_packet_execute(&mut self, packet: &Packet, relayer: &Signer) -> (ModuleExtras, Result<(), ChannelError>) {
        let (extras, result) = app::on_timeout_packet_execute(self, packet, relayer);
        (extras, result.map_err(app_error))
    }
}
