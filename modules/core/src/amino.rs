//! Amino JSON objects as the SDK's legacy amino codec writes them for
//! `SIGN_MODE_LEGACY_AMINO_JSON`: zero values omitted, 64-bit integers as strings, 32-bit
//! integers and enums as numbers. One builder for every module's message and params forms.

use serde_json::{json, Map, Value};

/// An amino JSON object built field by field with the SDK's omit-empty rules.
#[derive(Debug, Default)]
pub struct AminoObject(Map<String, Value>);

impl AminoObject {
    /// A string field (omitted when empty).
    pub fn str(mut self, key: &str, v: &str) -> Self {
        if !v.is_empty() {
            self.0.insert(key.into(), Value::String(v.into()));
        }
        self
    }
    /// An unsigned 64-bit integer field (a string; omitted when 0).
    pub fn u64(mut self, key: &str, v: u64) -> Self {
        if v != 0 {
            self.0.insert(key.into(), Value::String(v.to_string()));
        }
        self
    }
    /// A signed 64-bit integer field (a string; omitted when 0).
    pub fn i64(mut self, key: &str, v: i64) -> Self {
        if v != 0 {
            self.0.insert(key.into(), Value::String(v.to_string()));
        }
        self
    }
    /// A 32-bit integer or enum field (a number; omitted when 0).
    pub fn num(mut self, key: &str, v: i64) -> Self {
        if v != 0 {
            self.0.insert(key.into(), json!(v));
        }
        self
    }
    /// A bool field (omitted when false).
    pub fn bool(mut self, key: &str, v: bool) -> Self {
        if v {
            self.0.insert(key.into(), Value::Bool(true));
        }
        self
    }
    /// A repeated field (omitted when empty).
    pub fn list(mut self, key: &str, v: Vec<Value>) -> Self {
        if !v.is_empty() {
            self.0.insert(key.into(), Value::Array(v));
        }
        self
    }
    /// Any JSON value, written unless null (`dont_omitempty` fields, nested messages).
    pub fn value(mut self, key: &str, v: Value) -> Self {
        if !v.is_null() {
            self.0.insert(key.into(), v);
        }
        self
    }
    /// `{"type": name, "value": object}` (an interface value: a message).
    pub fn typed(self, name: &str) -> Value {
        json!({"type": name, "value": Value::Object(self.0)})
    }
    /// The object.
    pub fn build(self) -> Value {
        Value::Object(self.0)
    }
}

/// Amino JSON of an optional coin (`null`, so omitted by [`AminoObject::value`], when absent).
pub fn coin_amino(coin: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>) -> Value {
    match coin {
        None => Value::Null,
        Some(c) => AminoObject::default().str("amount", &c.amount).str("denom", &c.denom).build(),
    }
}

/// Amino JSON of a proto coin list (`[{"amount","denom"}]`, `[]` when empty).
pub fn proto_coins_amino(coins: &[cosmos_sdk_proto::cosmos::base::v1beta1::Coin]) -> Value {
    Value::Array(coins.iter().map(|c| json!({"amount": c.amount, "denom": c.denom})).collect())
}

/// Amino JSON of validated coins (`[{"amount","denom"}]`, `[]` when empty).
pub fn coins_amino(coins: &[crate::Coin]) -> Value {
    Value::Array(coins.iter().map(|c| json!({"amount": c.amount.to_string(), "denom": c.denom})).collect())
}

/// Amino JSON of a required coin (an absent one is written as the empty coin, as Go's zero
/// value is).
pub fn required_coin_amino(coin: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>) -> Value {
    let c = coin.cloned().unwrap_or_default();
    json!({"amount": c.amount, "denom": c.denom})
}

/// Amino JSON of a duration: its nanoseconds as a string.
pub fn duration_amino(d: Option<&tendermint_proto::google::protobuf::Duration>) -> Value {
    let (seconds, nanos) = d.map_or((0, 0), |d| (d.seconds, d.nanos));
    let total = i128::from(seconds).saturating_mul(1_000_000_000).saturating_add(i128::from(nanos));
    Value::String(total.to_string())
}

/// Standard base64 (what amino JSON uses for bytes).
pub fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_values_are_omitted_and_64_bit_integers_are_strings() {
        let v = AminoObject::default()
            .str("empty", "")
            .str("name", "x")
            .u64("zero", 0)
            .u64("id", 7)
            .i64("height", -3)
            .num("kind", 2)
            .num("none", 0)
            .bool("off", false)
            .bool("on", true)
            .list("nothing", vec![])
            .value("null", Value::Null)
            .value("coin", coin_amino(None))
            .typed("t/Msg");
        assert_eq!(v, json!({"type": "t/Msg", "value": {"name": "x", "id": "7", "height": "-3", "kind": 2, "on": true}}));
        let coin = cosmos_sdk_proto::cosmos::base::v1beta1::Coin { denom: "uopen".into(), amount: "5".into() };
        assert_eq!(coin_amino(Some(&coin)), json!({"amount": "5", "denom": "uopen"}));
    }
}
