//! The tx pipeline: decode `TxRaw` → body + auth info + typed messages, run the ante handler on
//! a metered ante layer, then the messages on a metered message layer. A failed ante changes
//! nothing; failed messages keep only the ante layer (fee paid, sequence bumped), as in the SDK.

use std::sync::Arc;

use cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxMsgData;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{AuthInfo, TxBody, TxRaw};
use cosmos_sdk_proto::Any;
use openledger_auth::params::fee_params;
use openledger_core::error::sdk_codes;
use openledger_core::{AbciError, Address, Event, GasMeter, Msg, MsgRouter, StateDelta, StateRead, StateWrite};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::ante::{run_ante, AnteContext, Mode};
use crate::modules::Modules;

/// A decoded, statelessly valid tx.
#[derive(Debug)]
pub struct DecodedTx {
    /// Encoded length.
    pub len: usize,
    /// sha256 of the bytes (the tx hash CometBFT indexes).
    pub hash: [u8; 32],
    /// Raw envelope (body and auth-info bytes exactly as signed, signatures).
    pub raw: TxRaw,
    /// Decoded body.
    pub body: TxBody,
    /// Decoded auth info.
    pub auth_info: AuthInfo,
    /// Typed, validated messages.
    pub msgs: Vec<Box<dyn Msg>>,
}

impl DecodedTx {
    /// Unique signers in the order the messages name them.
    pub fn signers(&self) -> Vec<Address> {
        let mut out: Vec<Address> = Vec::new();
        for msg in &self.msgs {
            for s in msg.signers() {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }
}

/// Hard cap on a tx before any parameter is read (the node never decodes more).
pub const ABSOLUTE_MAX_TX_BYTES: usize = 4 * 1024 * 1024;
/// Most messages in one tx.
pub const MAX_MSGS_PER_TX: usize = 256;

fn decode_error(what: &str, e: impl std::fmt::Display) -> AbciError {
    AbciError::sdk(sdk_codes::TX_DECODE, format!("{what}: {e}: tx parse error"))
}

/// Decodes and statelessly validates a tx (`max_tx_bytes` from the fee params); `router` decodes
/// its messages.
pub fn decode_tx(bytes: &[u8], max_tx_bytes: u64, router: &dyn MsgRouter) -> Result<DecodedTx, AbciError> {
    let max = usize::try_from(max_tx_bytes).unwrap_or(usize::MAX).min(ABSOLUTE_MAX_TX_BYTES);
    if bytes.len() > max {
        return Err(AbciError::sdk(
            sdk_codes::TX_TOO_LARGE,
            format!("tx size {} bytes exceeds the maximum {max}: tx too large", bytes.len()),
        ));
    }
    if bytes.is_empty() {
        return Err(decode_error("empty tx", "no bytes"));
    }
    let raw = TxRaw::decode(bytes).map_err(|e| decode_error("failed to decode TxRaw", e))?;
    let body = TxBody::decode(raw.body_bytes.as_slice()).map_err(|e| decode_error("failed to decode TxBody", e))?;
    let auth_info = AuthInfo::decode(raw.auth_info_bytes.as_slice()).map_err(|e| decode_error("failed to decode AuthInfo", e))?;
    if body.messages.len() > MAX_MSGS_PER_TX {
        return Err(AbciError::sdk(
            sdk_codes::TX_TOO_LARGE,
            format!("{} messages exceed the maximum {MAX_MSGS_PER_TX}: tx too large", body.messages.len()),
        ));
    }
    let msgs = body.messages.iter().map(|any| router.decode(any)).collect::<Result<Vec<_>, _>>()?;
    let hash: [u8; 32] = Sha256::digest(bytes).into();
    Ok(DecodedTx { len: bytes.len(), hash, raw, body, auth_info, msgs })
}

/// What running a tx produced.
#[derive(Debug, Clone, Default)]
pub struct TxOutcome {
    /// 0 on success.
    pub code: u32,
    /// Error codespace.
    pub codespace: &'static str,
    /// Error log (empty on success).
    pub log: String,
    /// Gas limit of the tx.
    pub gas_wanted: u64,
    /// Gas consumed.
    pub gas_used: u64,
    /// Events (ante events even when the messages failed).
    pub events: Vec<Event>,
    /// Encoded `TxMsgData` on success.
    pub data: Vec<u8>,
    /// Message responses on success.
    pub msg_responses: Vec<Any>,
}

impl TxOutcome {
    fn failed(err: AbciError, gas_wanted: u64, gas_used: u64, events: Vec<Event>) -> Self {
        Self { code: err.code, codespace: err.codespace, log: err.log, gas_wanted, gas_used, events, ..Default::default() }
    }

    /// Whether the tx succeeded.
    pub fn is_ok(&self) -> bool {
        self.code == 0
    }
}

/// Runs a tx on top of `parent` (the block's delta, the mempool's check state, or a
/// throw-away simulation delta). Ante writes are absorbed into `parent` when the ante passes;
/// message writes only when every message succeeds.
pub fn run_tx<P: StateRead>(
    modules: &Modules,
    parent: &mut StateDelta<P>,
    bytes: &[u8],
    chain_id: &str,
    height: u64,
    mode: Mode,
) -> TxOutcome {
    let max_tx_bytes = match fee_params(parent) {
        Ok(p) => p.max_tx_bytes,
        Err(e) => return TxOutcome::failed(AbciError::from_code(&e), 0, 0, Vec::new()),
    };
    let router = modules.registry.as_ref();
    let tx = match decode_tx(bytes, max_tx_bytes, router) {
        Ok(tx) => tx,
        Err(e) => return TxOutcome::failed(e, 0, 0, Vec::new()),
    };
    let gas_wanted = tx.auth_info.fee.as_ref().map_or(0, |f| f.gas_limit);
    let meter = Arc::new(if mode == Mode::Simulate { GasMeter::infinite() } else { GasMeter::new(gas_wanted) });
    let ctx = AnteContext { modules, chain_id, height, mode };

    // Ante layer.
    let ante = {
        let mut layer = StateDelta::metered(&*parent, meter.clone());
        run_ante(&ctx, &mut layer, &tx, &meter).map(|()| layer.into_parts())
    };
    let mut events = match ante {
        Ok((writes, events)) => {
            parent.absorb(writes, Vec::new());
            events
        }
        Err(e) => return TxOutcome::failed(e, gas_wanted, meter.consumed(), Vec::new()),
    };
    if mode.is_mempool() {
        return TxOutcome { gas_wanted, gas_used: meter.consumed(), events, ..Default::default() };
    }

    // Message layer.
    let signer = tx.signers().first().map(|a| a.to_bech32()).unwrap_or_default();
    let result = {
        let mut layer = StateDelta::metered(&*parent, meter.clone());
        let mut responses = Vec::with_capacity(tx.msgs.len());
        let mut failure = None;
        for (index, msg) in tx.msgs.iter().enumerate() {
            layer.emit(
                Event::new("message")
                    .attr("action", msg.type_url())
                    .attr("sender", signer.clone())
                    .attr("module", msg.module())
                    .attr("msg_index", index.to_string()),
            );
            let before = layer.events().len();
            match msg.execute(router, &mut layer) {
                Ok(resp) => responses.push(resp),
                Err(e) => {
                    failure = Some(AbciError { log: format!("failed to execute message; message index: {index}: {}", e.log), ..e });
                    break;
                }
            }
            // Tag the message's own events with its index, as the SDK does.
            let mut all = layer.take_events();
            for ev in all.iter_mut().skip(before) {
                ev.attributes.push(("msg_index".into(), index.to_string()));
            }
            for ev in all {
                layer.emit(ev);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok((layer.into_parts(), responses)),
        }
    };
    match result {
        Ok(((writes, msg_events), msg_responses)) => {
            parent.absorb(writes, Vec::new());
            events.extend(msg_events);
            #[allow(deprecated)]
            let data = TxMsgData { data: Vec::new(), msg_responses: msg_responses.clone() }.encode_to_vec();
            TxOutcome { gas_wanted, gas_used: meter.consumed(), events, data, msg_responses, ..Default::default() }
        }
        Err(e) => TxOutcome::failed(e, gas_wanted, meter.consumed(), events),
    }
}
