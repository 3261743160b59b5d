//! A small blocking client for CometBFT's JSON-RPC (`status`, `abci_query`, `broadcast_tx_sync`,
//! `tx_search`, `validators`), used by the CLI, the gRPC tx service and the tests. Requests go to
//! a loopback URL by default; responses are bounded by ureq's reader limits.

use base64::Engine;
use serde_json::{json, Value};

/// Errors talking to CometBFT.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Transport failure (node down, refused).
    #[error("cannot reach CometBFT RPC at {url}: {reason}")]
    Transport {
        /// URL.
        url: String,
        /// Reason.
        reason: String,
    },
    /// The node answered with a JSON-RPC error.
    #[error("CometBFT RPC error: {0}")]
    Rpc(String),
    /// Unexpected response shape.
    #[error("unexpected CometBFT RPC response: {0}")]
    Malformed(String),
}

/// Result of `abci_query`.
#[derive(Debug, Clone, Default)]
pub struct AbciQueryResult {
    /// Code (0 ok).
    pub code: u32,
    /// Codespace.
    pub codespace: String,
    /// Log.
    pub log: String,
    /// Value bytes.
    pub value: Vec<u8>,
    /// Height the answer was read at.
    pub height: i64,
    /// Raw `proofOps` JSON (if proved).
    pub proof_ops: Option<Value>,
}

/// Result of `broadcast_tx_sync` (CheckTx).
#[derive(Debug, Clone, Default)]
pub struct BroadcastResult {
    /// CheckTx code.
    pub code: u32,
    /// Codespace.
    pub codespace: String,
    /// Log.
    pub log: String,
    /// Tx hash, upper-case hex.
    pub hash: String,
}

/// An indexed tx from `tx_search`.
#[derive(Debug, Clone, Default)]
pub struct IndexedTx {
    /// Hash (upper-case hex).
    pub hash: String,
    /// Block height.
    pub height: i64,
    /// Raw tx bytes.
    pub tx: Vec<u8>,
    /// Result code.
    pub code: u32,
    /// Codespace.
    pub codespace: String,
    /// Log.
    pub log: String,
    /// Gas wanted.
    pub gas_wanted: i64,
    /// Gas used.
    pub gas_used: i64,
    /// Data bytes.
    pub data: Vec<u8>,
    /// Events as `(type, [(key, value)])`.
    pub events: Vec<(String, Vec<(String, String)>)>,
}

/// The client.
#[derive(Debug, Clone)]
pub struct CometRpc {
    url: String,
    agent: ureq::Agent,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>, RpcError> {
    base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| RpcError::Malformed(format!("bad base64: {e}")))
}

fn num(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

impl CometRpc {
    /// A client for `url` (`http://127.0.0.1:26657`).
    pub fn new(url: &str) -> Self {
        let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(30)).build();
        Self { url: url.trim_end_matches('/').to_string(), agent }
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls a JSON-RPC method and returns its `result`.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self.agent.post(&self.url).send_json(body);
        let value: Value = match response {
            Ok(r) => r.into_json().map_err(|e| RpcError::Malformed(e.to_string()))?,
            Err(ureq::Error::Status(_, r)) => r.into_json().map_err(|e| RpcError::Malformed(e.to_string()))?,
            Err(e) => return Err(RpcError::Transport { url: self.url.clone(), reason: e.to_string() }),
        };
        if let Some(err) = value.get("error") {
            let msg = format!("{} {}", text(&err["message"]), text(&err["data"]));
            return Err(RpcError::Rpc(msg.trim().to_string()));
        }
        value.get("result").cloned().ok_or_else(|| RpcError::Malformed(value.to_string()))
    }

    /// `/status`.
    pub fn status(&self) -> Result<Value, RpcError> {
        self.call("status", json!({}))
    }

    /// Latest block height from `/status`.
    pub fn latest_height(&self) -> Result<i64, RpcError> {
        Ok(num(&self.status()?["sync_info"]["latest_block_height"]))
    }

    /// The height the app has committed (`/abci_info`'s `last_block_height`). CometBFT saves a
    /// block before the app commits it, so `/status` can be ahead of the state queries read: wait
    /// on this to wait for state.
    pub fn app_height(&self) -> Result<i64, RpcError> {
        Ok(num(&self.call("abci_info", json!({}))?["response"]["last_block_height"]))
    }

    /// `/abci_query`.
    pub fn abci_query(&self, path: &str, data: &[u8], height: i64, prove: bool) -> Result<AbciQueryResult, RpcError> {
        let result =
            self.call("abci_query", json!({"path": path, "data": hex::encode(data), "height": height.to_string(), "prove": prove}))?;
        let r = &result["response"];
        Ok(AbciQueryResult {
            code: u32::try_from(num(&r["code"])).unwrap_or(u32::MAX),
            codespace: text(&r["codespace"]),
            log: text(&r["log"]),
            value: match r["value"].as_str() {
                Some(v) => unb64(v)?,
                None => Vec::new(),
            },
            height: num(&r["height"]),
            proof_ops: r.get("proofOps").filter(|p| !p.is_null()).cloned(),
        })
    }

    /// `/broadcast_tx_sync`: the CheckTx result.
    pub fn broadcast_tx_sync(&self, tx: &[u8]) -> Result<BroadcastResult, RpcError> {
        let r = self.call("broadcast_tx_sync", json!({"tx": b64(tx)}))?;
        Ok(BroadcastResult {
            code: u32::try_from(num(&r["code"])).unwrap_or(u32::MAX),
            codespace: text(&r["codespace"]),
            log: text(&r["log"]),
            hash: text(&r["hash"]).to_uppercase(),
        })
    }

    /// `/tx_search`, one page, oldest first (`descending`: newest first).
    pub fn tx_search(&self, query: &str, page: u32, per_page: u32, descending: bool) -> Result<(Vec<IndexedTx>, u64), RpcError> {
        let order = if descending { "desc" } else { "asc" };
        let r = self.call(
            "tx_search",
            json!({"query": query, "prove": false, "page": page.to_string(), "per_page": per_page.to_string(), "order_by": order}),
        )?;
        let total = u64::try_from(num(&r["total_count"])).unwrap_or(0);
        let mut out = Vec::new();
        for item in r["txs"].as_array().cloned().unwrap_or_default() {
            let res = &item["tx_result"];
            let events = res["events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    let attrs = e["attributes"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|a| (text(&a["key"]), text(&a["value"])))
                        .collect();
                    (text(&e["type"]), attrs)
                })
                .collect();
            out.push(IndexedTx {
                hash: text(&item["hash"]).to_uppercase(),
                height: num(&item["height"]),
                tx: unb64(item["tx"].as_str().unwrap_or_default())?,
                code: u32::try_from(num(&res["code"])).unwrap_or(u32::MAX),
                codespace: text(&res["codespace"]),
                log: text(&res["log"]),
                gas_wanted: num(&res["gas_wanted"]),
                gas_used: num(&res["gas_used"]),
                data: match res["data"].as_str() {
                    Some(d) => unb64(d)?,
                    None => Vec::new(),
                },
                events,
            });
        }
        Ok((out, total))
    }

    /// Looks a tx up by hash via `tx_search tx.hash='…'` (what CosmJS does).
    pub fn tx_by_hash(&self, hash_hex: &str) -> Result<Option<IndexedTx>, RpcError> {
        let (mut txs, _) = self.tx_search(&format!("tx.hash='{}'", hash_hex.to_uppercase()), 1, 1, false)?;
        Ok(txs.pop())
    }

    /// Waits (polling) until the tx is in a block, up to `timeout`.
    pub fn wait_for_tx(&self, hash_hex: &str, timeout: std::time::Duration) -> Result<Option<IndexedTx>, RpcError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(tx) = self.tx_by_hash(hash_hex)? {
                return Ok(Some(tx));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Block time (RFC 3339) of `height`.
    pub fn block_time(&self, height: i64) -> Result<String, RpcError> {
        let r = self.call("block", json!({"height": height.to_string()}))?;
        Ok(text(&r["block"]["header"]["time"]))
    }
}
