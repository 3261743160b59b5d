//! `openledgerd query tx HASH`: a committed tx by hash from CometBFT's tx index — its height,
//! result code and log, gas, events, and what it carried (message types, memo, fee) — the way
//! `simd query tx` shows one.

use std::path::Path;

use base64::Engine;
use clap::Args;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{AuthInfo, TxBody, TxRaw};
use openledger_cli::{CommandGroup, ModuleCli, QueryFlags};
use openledger_server::rpc_client::CometRpc;
use prost::Message;
use serde_json::{json, Value};

/// `query tx` arguments.
#[derive(Debug, Args)]
pub struct TxQuery {
    /// Tx hash (hex, as printed by `tx …` commands).
    hash: String,
    /// Query flags.
    #[command(flatten)]
    flags: QueryFlags,
}

/// What a tx's bytes carried, when they decode as a `TxRaw`.
fn decoded(bytes: &[u8]) -> Value {
    let Ok(raw) = TxRaw::decode(bytes) else { return json!(null) };
    let body = TxBody::decode(raw.body_bytes.as_slice()).unwrap_or_default();
    let auth = AuthInfo::decode(raw.auth_info_bytes.as_slice()).unwrap_or_default();
    json!({
        "messages": body.messages.iter().map(|m| m.type_url.clone()).collect::<Vec<_>>(),
        "memo": body.memo,
        "fee": auth.fee.as_ref().map(|f| f.amount.iter().map(|c| format!("{}{}", c.amount, c.denom)).collect::<Vec<_>>().join(",")),
        "gas_limit": auth.fee.as_ref().map(|f| f.gas_limit.to_string()),
        "signatures": raw.signatures.len(),
    })
}

fn run(_home: &Path, q: TxQuery) -> anyhow::Result<()> {
    let hash = q.hash.trim().trim_start_matches("0x");
    anyhow::ensure!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{:?} is not a tx hash (64 hex characters)", q.hash);
    let rpc = CometRpc::new(&q.flags.node);
    let tx = rpc
        .tx_by_hash(hash)?
        .ok_or_else(|| anyhow::anyhow!("tx {} not found (not committed yet, or the node does not index txs)", hash.to_uppercase()))?;
    let events: Vec<Value> = tx
        .events
        .iter()
        .map(|(kind, attrs)| json!({"type": kind, "attributes": attrs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()}))
        .collect();
    let out = json!({
        "txhash": tx.hash,
        "height": tx.height.to_string(),
        "code": tx.code,
        "codespace": tx.codespace,
        "raw_log": tx.log,
        "gas_wanted": tx.gas_wanted.to_string(),
        "gas_used": tx.gas_used.to_string(),
        "data": hex::encode_upper(&tx.data),
        "tx": decoded(&tx.tx),
        "tx_bytes": base64::engine::general_purpose::STANDARD.encode(&tx.tx),
        "events": events,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// The `query tx` command.
pub struct TxQueryCli;

impl ModuleCli for TxQueryCli {
    fn query(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::leaf("tx", "A committed tx by hash: result, gas, events, messages.", run)]
    }
}
