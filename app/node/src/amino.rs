//! The SDK's legacy amino JSON sign document (`SIGN_MODE_LEGACY_AMINO_JSON`): keys sorted, no
//! spaces, integers as strings, memo always present, and `<`, `&`, `>` escaped as Go's
//! `encoding/json` does. Ledger devices and Keplr's amino signing produce signatures over exactly
//! these bytes, so any difference makes their signatures fail.

use serde_json::{Map, Value};

/// Serializes a JSON value canonically: object keys sorted recursively, compact, HTML-escaped.
pub fn canonical_json(value: &Value) -> String {
    let sorted = sort_keys(value);
    let text = sorted.to_string();
    escape_html(&text)
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sort_keys(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// Go's `json.Marshal` escapes these three characters inside strings; outside strings they
/// cannot occur in compact JSON, so a plain replace is exact.
fn escape_html(text: &str) -> String {
    text.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// Inputs of a `StdSignDoc`.
pub struct StdSignDoc<'a> {
    /// Account number of the signer.
    pub account_number: u64,
    /// Chain id.
    pub chain_id: &'a str,
    /// Fee coins as `(denom, amount)`.
    pub fee_amount: Vec<(String, String)>,
    /// Gas limit.
    pub gas: u64,
    /// Fee payer, if set.
    pub fee_payer: &'a str,
    /// Fee granter, if set.
    pub fee_granter: &'a str,
    /// Memo.
    pub memo: &'a str,
    /// Messages in amino JSON form (`{"type": …, "value": …}`).
    pub msgs: Vec<Value>,
    /// Sequence of the signer.
    pub sequence: u64,
    /// Timeout height (omitted when 0).
    pub timeout_height: u64,
}

/// Amino JSON of a coin list (`[{"amount":"1","denom":"uopen"}]`).
pub fn coins_json(coins: &[(String, String)]) -> Value {
    Value::Array(
        coins
            .iter()
            .map(|(denom, amount)| {
                let mut m = Map::new();
                m.insert("amount".into(), Value::String(amount.clone()));
                m.insert("denom".into(), Value::String(denom.clone()));
                Value::Object(m)
            })
            .collect(),
    )
}

impl StdSignDoc<'_> {
    /// The exact bytes that are signed.
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut fee = Map::new();
        fee.insert("amount".into(), coins_json(&self.fee_amount));
        fee.insert("gas".into(), Value::String(self.gas.to_string()));
        if !self.fee_payer.is_empty() {
            fee.insert("payer".into(), Value::String(self.fee_payer.to_string()));
        }
        if !self.fee_granter.is_empty() {
            fee.insert("granter".into(), Value::String(self.fee_granter.to_string()));
        }
        let mut doc = Map::new();
        doc.insert("account_number".into(), Value::String(self.account_number.to_string()));
        doc.insert("chain_id".into(), Value::String(self.chain_id.to_string()));
        doc.insert("fee".into(), Value::Object(fee));
        doc.insert("memo".into(), Value::String(self.memo.to_string()));
        doc.insert("msgs".into(), Value::Array(self.msgs.clone()));
        doc.insert("sequence".into(), Value::String(self.sequence.to_string()));
        if self.timeout_height != 0 {
            doc.insert("timeout_height".into(), Value::String(self.timeout_height.to_string()));
        }
        canonical_json(&Value::Object(doc)).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_escapes_html_and_keeps_memo() {
        let doc = StdSignDoc {
            account_number: 7,
            chain_id: "openledger-local-1",
            fee_amount: vec![("uopen".into(), "5000".into())],
            gas: 200000,
            fee_payer: "",
            fee_granter: "",
            memo: "",
            msgs: vec![
                json!({"type": "cosmos-sdk/MsgSend", "value": {"to_address": "b", "from_address": "a", "amount": [{"denom": "uopen", "amount": "1"}]}}),
            ],
            sequence: 3,
            timeout_height: 0,
        };
        let text = String::from_utf8(doc.sign_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{"account_number":"7","chain_id":"openledger-local-1","fee":{"amount":[{"amount":"5000","denom":"uopen"}],"gas":"200000"},"memo":"","msgs":[{"type":"cosmos-sdk/MsgSend","value":{"amount":[{"amount":"1","denom":"uopen"}],"from_address":"a","to_address":"b"}}],"sequence":"3"}"#
        );
        let escaped = canonical_json(&json!({"memo": "<a&b>"}));
        assert_eq!(escaped, r#"{"memo":"\u003ca\u0026b\u003e"}"#);
    }
}
