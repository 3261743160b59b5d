//! The IBC messages: every core message of ibc-go v8 (clients, connections, channels, packets)
//! and ICS-20's `MsgTransfer`, decoded by type URL and run through ibc-rs's handlers against the
//! tx's state layer.

use std::sync::Arc;

use cosmos_sdk_proto::Any;
use ibc::apps::transfer::handler::send_transfer;
use ibc::apps::transfer::types::msgs::transfer::MsgTransfer;
use ibc::core::entrypoint::dispatch;
use ibc::core::handler::types::msgs::MsgEnvelope;
use ibc::core::host::types::identifiers::{ChainId, PortId};
use ibc::core::host::types::path::SeqSendPath;
use ibc::core::host::ValidationContext;
use ibc::core::router::module::Module as IbcAppModule;
use ibc::core::router::router::Router;
use ibc::core::router::types::module::ModuleId;
use ibc_proto::ibc::applications::transfer::v1::{MsgTransfer as RawMsgTransfer, MsgTransferResponse};
use openledger_core::amino::AminoObject;
use openledger_core::block::{block_info, chain_id};
use openledger_core::module::{pack_response, Msg, MsgHandler, MsgRouter};
use openledger_core::{AbciError, Address, StateWrite};
use prost::Message;
use serde_json::{json, Value};

use crate::error::IbcError;
use crate::host::{Host, Shared};
use crate::transfer::{full_denom_path, TransferApp, TransferBank};

/// The `module` attribute of IBC messages' `message` events.
pub const IBC_MODULE: &str = "ibc";
/// The `module` attribute of `MsgTransfer`'s `message` event.
pub const TRANSFER_MODULE: &str = "transfer";
/// `MsgTransfer`'s type URL.
pub const MSG_TRANSFER: &str = "/ibc.applications.transfer.v1.MsgTransfer";

/// What IBC messages run against.
pub struct IbcKeeper {
    /// The bank, for ICS-20.
    pub bank: Arc<dyn TransferBank>,
}

impl std::fmt::Debug for IbcKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IbcKeeper")
    }
}

/// The core message types: type URL and how to read its signer.
macro_rules! core_messages {
    ($($url:literal => $raw:ty,)*) => {
        /// Type URLs of the core IBC messages.
        pub const CORE_MESSAGES: &[&str] = &[$($url,)*];

        /// The `signer` field of a core message.
        fn core_signer(any: &Any) -> Result<String, IbcError> {
            let invalid = |reason: String| IbcError::InvalidMessage { type_url: any.type_url.clone(), reason };
            match any.type_url.as_str() {
                $($url => <$raw>::decode(any.value.as_slice()).map(|m| m.signer).map_err(|e| invalid(e.to_string())),)*
                other => Err(invalid(format!("{other} is not a core IBC message"))),
            }
        }
    };
}

core_messages! {
    "/ibc.core.client.v1.MsgCreateClient" => ibc_proto::ibc::core::client::v1::MsgCreateClient,
    "/ibc.core.client.v1.MsgUpdateClient" => ibc_proto::ibc::core::client::v1::MsgUpdateClient,
    "/ibc.core.client.v1.MsgUpgradeClient" => ibc_proto::ibc::core::client::v1::MsgUpgradeClient,
    "/ibc.core.client.v1.MsgSubmitMisbehaviour" => ibc_proto::ibc::core::client::v1::MsgSubmitMisbehaviour,
    "/ibc.core.connection.v1.MsgConnectionOpenInit" => ibc_proto::ibc::core::connection::v1::MsgConnectionOpenInit,
    "/ibc.core.connection.v1.MsgConnectionOpenTry" => ibc_proto::ibc::core::connection::v1::MsgConnectionOpenTry,
    "/ibc.core.connection.v1.MsgConnectionOpenAck" => ibc_proto::ibc::core::connection::v1::MsgConnectionOpenAck,
    "/ibc.core.connection.v1.MsgConnectionOpenConfirm" => ibc_proto::ibc::core::connection::v1::MsgConnectionOpenConfirm,
    "/ibc.core.channel.v1.MsgChannelOpenInit" => ibc_proto::ibc::core::channel::v1::MsgChannelOpenInit,
    "/ibc.core.channel.v1.MsgChannelOpenTry" => ibc_proto::ibc::core::channel::v1::MsgChannelOpenTry,
    "/ibc.core.channel.v1.MsgChannelOpenAck" => ibc_proto::ibc::core::channel::v1::MsgChannelOpenAck,
    "/ibc.core.channel.v1.MsgChannelOpenConfirm" => ibc_proto::ibc::core::channel::v1::MsgChannelOpenConfirm,
    "/ibc.core.channel.v1.MsgChannelCloseInit" => ibc_proto::ibc::core::channel::v1::MsgChannelCloseInit,
    "/ibc.core.channel.v1.MsgChannelCloseConfirm" => ibc_proto::ibc::core::channel::v1::MsgChannelCloseConfirm,
    "/ibc.core.channel.v1.MsgRecvPacket" => ibc_proto::ibc::core::channel::v1::MsgRecvPacket,
    "/ibc.core.channel.v1.MsgAcknowledgement" => ibc_proto::ibc::core::channel::v1::MsgAcknowledgement,
    "/ibc.core.channel.v1.MsgTimeout" => ibc_proto::ibc::core::channel::v1::MsgTimeout,
    "/ibc.core.channel.v1.MsgTimeoutOnClose" => ibc_proto::ibc::core::channel::v1::MsgTimeoutOnClose,
}

fn ibc_any(any: &Any) -> ibc::primitives::proto::Any {
    ibc::primitives::proto::Any { type_url: any.type_url.clone(), value: any.value.clone() }
}

fn signer_address(text: &str) -> Result<Address, IbcError> {
    Address::from_bech32(text).map_err(|_| IbcError::InvalidSigner(text.to_string()))
}

/// The chain id as ibc-rs needs it (`name-N`: revision N).
fn ibc_chain_id(state: &dyn StateWrite) -> Result<ChainId, AbciError> {
    let id = chain_id(state).map_err(|e| AbciError::from_code(&e))?;
    ChainId::new(&id).map_err(|_| AbciError::from_code(&IbcError::ChainId(id)))
}

/// Runs an ibc-rs handler so that a panic in it (a bug there, reachable by input) fails the
/// message instead of the node: every node panics alike on the same input, so the error is as
/// deterministic as the panic, and the message's writes are dropped with its layer.
fn contained(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic.downcast_ref::<&str>().map(|s| (*s).to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
        Err(format!("IBC handler failed: {}", what.unwrap_or_else(|| "panic".into())))
    })
}

/// ibc-rs's router: the one app, ICS-20 on port `transfer`.
struct AppRouter<'r, 's, 'a> {
    transfer: &'r mut TransferApp<'s, 'a>,
}

impl Router for AppRouter<'_, '_, '_> {
    fn get_route(&self, module_id: &ModuleId) -> Option<&dyn IbcAppModule> {
        (module_id.to_string() == ibc::apps::transfer::types::MODULE_ID_STR).then_some(&*self.transfer as &dyn IbcAppModule)
    }

    fn get_route_mut(&mut self, module_id: &ModuleId) -> Option<&mut dyn IbcAppModule> {
        if module_id.to_string() == ibc::apps::transfer::types::MODULE_ID_STR {
            Some(&mut *self.transfer as &mut dyn IbcAppModule)
        } else {
            None
        }
    }

    fn lookup_module(&self, port_id: &PortId) -> Option<ModuleId> {
        (*port_id == PortId::transfer()).then(|| ModuleId::new(ibc::apps::transfer::types::MODULE_ID_STR.to_string()))
    }
}

/// Gas per commit signature of a Tendermint header a client update or misbehaviour carries: the
/// SDK's default ed25519 verification cost (590), twice, because the light client may check the
/// commit against the trusted validator set and the new one. Store gas does not cover this CPU,
/// and without it a header with thousands of signatures would cost every validator far more
/// than its sender pays.
pub const GAS_PER_HEADER_SIGNATURE: u64 = 2 * 590;

/// Commit signatures in the Tendermint headers of a client message (`Header` or `Misbehaviour`).
fn header_signatures(client_message: Option<&ibc_proto::google::protobuf::Any>) -> u64 {
    use ibc_proto::ibc::lightclients::tendermint::v1 as tm;
    let count = |h: &tm::Header| {
        h.signed_header.as_ref().and_then(|s| s.commit.as_ref()).map_or(0, |c| u64::try_from(c.signatures.len()).unwrap_or(u64::MAX))
    };
    let Some(any) = client_message else { return 0 };
    match any.type_url.as_str() {
        "/ibc.lightclients.tendermint.v1.Header" => tm::Header::decode(any.value.as_slice()).map_or(0, |h| count(&h)),
        "/ibc.lightclients.tendermint.v1.Misbehaviour" => tm::Misbehaviour::decode(any.value.as_slice())
            .map_or(0, |m| m.header_1.as_ref().map_or(0, count).saturating_add(m.header_2.as_ref().map_or(0, count))),
        _ => 0,
    }
}

/// Signature verifications a core message makes the light client do.
fn signature_checks(any: &Any) -> u64 {
    use ibc_proto::ibc::core::client::v1 as cl;
    match any.type_url.as_str() {
        "/ibc.core.client.v1.MsgUpdateClient" => {
            cl::MsgUpdateClient::decode(any.value.as_slice()).map_or(0, |m| header_signatures(m.client_message.as_ref()))
        }
        "/ibc.core.client.v1.MsgSubmitMisbehaviour" => {
            cl::MsgSubmitMisbehaviour::decode(any.value.as_slice()).map_or(0, |m| header_signatures(m.misbehaviour.as_ref()))
        }
        _ => 0,
    }
}

/// A decoded core IBC message.
#[derive(Debug)]
pub struct CoreMsg {
    type_url: &'static str,
    envelope: MsgEnvelope,
    signer: Address,
    /// Header signatures its light client checks (charged before it runs).
    signatures: u64,
    keeper: Arc<IbcKeeper>,
}

impl Msg for CoreMsg {
    fn type_url(&self) -> &'static str {
        self.type_url
    }
    fn module(&self) -> &'static str {
        IBC_MODULE
    }
    fn signers(&self) -> Vec<Address> {
        vec![self.signer.clone()]
    }
    /// ibc-go registers no amino names for core messages; this form names the type and signer.
    fn amino_json(&self, _: &dyn MsgRouter) -> Value {
        json!({"type": self.type_url, "value": {"signer": self.signer.to_bech32()}})
    }
    fn execute(&self, _: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        state.charge_gas(self.signatures.saturating_mul(GAS_PER_HEADER_SIGNATURE)).map_err(|e| AbciError::from_code(&e))?;
        let chain = ibc_chain_id(state)?;
        let block = block_info(state).map_err(|e| AbciError::from_code(&e))?;
        let shared = Shared::new(state);
        let mut host = Host::new(&shared, chain, block);
        let mut transfer = TransferApp::new(&shared, self.keeper.bank.as_ref());
        let mut router = AppRouter { transfer: &mut transfer };
        let result = contained(|| dispatch(&mut host, &mut router, self.envelope.clone()).map_err(|e| e.to_string()));
        if let Some(failure) = shared.take_failure() {
            return Err(failure);
        }
        result.map_err(|e| AbciError::from_code(&IbcError::Handler(e)))?;
        Ok(Any { type_url: format!("{}Response", self.type_url), value: Vec::new() })
    }
}

/// Decodes one core message type.
struct CoreHandler {
    type_url: &'static str,
    keeper: Arc<IbcKeeper>,
}

impl MsgHandler for CoreHandler {
    fn type_url(&self) -> &'static str {
        self.type_url
    }
    fn decode(&self, any: &Any) -> Result<Box<dyn Msg>, AbciError> {
        let run = || -> Result<CoreMsg, IbcError> {
            let signer = signer_address(&core_signer(any)?)?;
            let envelope = MsgEnvelope::try_from(ibc_any(any))
                .map_err(|e| IbcError::InvalidMessage { type_url: any.type_url.clone(), reason: e.to_string() })?;
            Ok(CoreMsg { type_url: self.type_url, envelope, signer, signatures: signature_checks(any), keeper: self.keeper.clone() })
        };
        run().map(|m| Box::new(m) as Box<dyn Msg>).map_err(|e| AbciError::from_code(&e))
    }
}

/// The handlers of every core message.
pub fn core_handlers(keeper: &Arc<IbcKeeper>) -> Vec<Box<dyn MsgHandler>> {
    CORE_MESSAGES.iter().map(|url| Box::new(CoreHandler { type_url: url, keeper: keeper.clone() }) as Box<dyn MsgHandler>).collect()
}

/// A decoded `MsgTransfer` (the raw form: an `ibc/HASH` token is resolved to its trace when it
/// runs, which needs state).
#[derive(Debug)]
pub struct TransferMsg {
    raw: RawMsgTransfer,
    sender: Address,
    keeper: Arc<IbcKeeper>,
}

impl Msg for TransferMsg {
    fn type_url(&self) -> &'static str {
        MSG_TRANSFER
    }
    fn module(&self) -> &'static str {
        TRANSFER_MODULE
    }
    fn signers(&self) -> Vec<Address> {
        vec![self.sender.clone()]
    }
    /// ibc-go's amino form (`cosmos-sdk/MsgTransfer`), which Keplr signs.
    fn amino_json(&self, _: &dyn MsgRouter) -> Value {
        let m = &self.raw;
        let height = m.timeout_height.as_ref().map_or_else(
            || json!({}),
            |h| AminoObject::default().u64("revision_height", h.revision_height).u64("revision_number", h.revision_number).build(),
        );
        let token = m.token.as_ref().map_or_else(|| json!({}), |c| json!({"amount": c.amount, "denom": c.denom}));
        AminoObject::default()
            .str("memo", &m.memo)
            .str("receiver", &m.receiver)
            .str("sender", &m.sender)
            .str("source_channel", &m.source_channel)
            .str("source_port", &m.source_port)
            .value("timeout_height", height)
            .u64("timeout_timestamp", m.timeout_timestamp)
            .value("token", token)
            .typed("cosmos-sdk/MsgTransfer")
    }
    fn execute(&self, _: &dyn MsgRouter, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        let mut raw = self.raw.clone();
        if let Some(token) = raw.token.as_mut() {
            let path = full_denom_path(state, &token.denom).map_err(|e| AbciError::from_code(&e))?;
            token.denom = path.ok_or_else(|| AbciError::from_code(&IbcError::UnknownDenom(token.denom.clone())))?;
        }
        let msg = MsgTransfer::try_from(raw)
            .map_err(|e| AbciError::from_code(&IbcError::InvalidMessage { type_url: MSG_TRANSFER.into(), reason: e.to_string() }))?;
        let chain = ibc_chain_id(state)?;
        let block = block_info(state).map_err(|e| AbciError::from_code(&e))?;
        let shared = Shared::new(state);
        let mut host = Host::new(&shared, chain, block);
        let sequence = host.get_next_sequence_send(&SeqSendPath::new(&msg.port_id_on_a, &msg.chan_id_on_a));
        let mut transfer = TransferApp::new(&shared, self.keeper.bank.as_ref());
        let result = contained(|| send_transfer(&mut host, &mut transfer, msg).map_err(|e| e.to_string()));
        if let Some(failure) = shared.take_failure() {
            return Err(failure);
        }
        result.map_err(|e| AbciError::from_code(&IbcError::Transfer(e)))?;
        let sequence = sequence.map(u64::from).unwrap_or_default();
        Ok(pack_response(MSG_TRANSFER, &MsgTransferResponse { sequence }))
    }
}

/// Decodes `MsgTransfer`.
struct TransferHandler {
    keeper: Arc<IbcKeeper>,
}

impl MsgHandler for TransferHandler {
    fn type_url(&self) -> &'static str {
        MSG_TRANSFER
    }
    fn decode(&self, any: &Any) -> Result<Box<dyn Msg>, AbciError> {
        let invalid = |reason: String| AbciError::from_code(&IbcError::InvalidMessage { type_url: MSG_TRANSFER.into(), reason });
        let raw = RawMsgTransfer::decode(any.value.as_slice()).map_err(|e| invalid(e.to_string()))?;
        let sender = signer_address(&raw.sender).map_err(|e| AbciError::from_code(&e))?;
        // The stateless checks ibc-rs makes (identifiers, amount, timeouts), on a copy whose
        // `ibc/HASH` denom is replaced by a placeholder trace: the real one needs state.
        let mut probe = raw.clone();
        if let Some(token) = probe.token.as_mut() {
            if token.denom.starts_with("ibc/") {
                token.denom = "transfer/channel-0/placeholder".into();
            }
        }
        MsgTransfer::try_from(probe).map_err(|e| invalid(e.to_string()))?;
        Ok(Box::new(TransferMsg { raw, sender, keeper: self.keeper.clone() }))
    }
}

/// The handler of `MsgTransfer`.
pub fn transfer_handler(keeper: &Arc<IbcKeeper>) -> Box<dyn MsgHandler> {
    Box::new(TransferHandler { keeper: keeper.clone() })
}

#[cfg(test)]
mod tests {
    use ibc_proto::google::protobuf::Any as IbcAny;
    use ibc_proto::ibc::core::client::v1 as cl;
    use ibc_proto::ibc::lightclients::tendermint::v1 as tm;

    use super::*;

    fn header(signatures: usize) -> tm::Header {
        let commit = tendermint_proto::types::Commit { signatures: vec![Default::default(); signatures], ..Default::default() };
        tm::Header {
            signed_header: Some(tendermint_proto::types::SignedHeader { header: None, commit: Some(commit) }),
            ..Default::default()
        }
    }

    #[test]
    fn client_updates_pay_for_every_header_signature() {
        let update = |client_message: IbcAny| Any {
            type_url: "/ibc.core.client.v1.MsgUpdateClient".into(),
            value: cl::MsgUpdateClient { client_id: "07-tendermint-0".into(), client_message: Some(client_message), signer: "x".into() }
                .encode_to_vec(),
        };
        let header_any = IbcAny { type_url: "/ibc.lightclients.tendermint.v1.Header".into(), value: header(150).encode_to_vec() };
        assert_eq!(signature_checks(&update(header_any)), 150);
        let misbehaviour = tm::Misbehaviour { header_1: Some(header(3)), header_2: Some(header(4)), ..Default::default() };
        let misbehaviour_any =
            IbcAny { type_url: "/ibc.lightclients.tendermint.v1.Misbehaviour".into(), value: misbehaviour.encode_to_vec() };
        let submit = Any {
            type_url: "/ibc.core.client.v1.MsgSubmitMisbehaviour".into(),
            value: cl::MsgSubmitMisbehaviour { misbehaviour: Some(misbehaviour_any), ..Default::default() }.encode_to_vec(),
        };
        assert_eq!(signature_checks(&submit), 7);
        assert_eq!(signature_checks(&Any { type_url: "/ibc.core.channel.v1.MsgRecvPacket".into(), value: vec![] }), 0);
    }
}
