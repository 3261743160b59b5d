//! The one exhaustive message router: `Any.type_url` → typed [`Msg`], and for each variant its
//! stateless check, signers, amino JSON form and execution. Adding a module means adding
//! variants here; the compiler then points at every place that must handle them.

use cosmos_sdk_proto::cosmos::bank::v1beta1::{MsgMultiSend, MsgMultiSendResponse, MsgSend, MsgSendResponse};
use cosmos_sdk_proto::Any;
use openledger_bank::msg::{MultiSend, Send};
use openledger_core::error::sdk_codes;
use openledger_core::{AbciError, Address, ErrorCode, StateWrite};
use prost::{Message, Name};
use serde_json::{json, Value};

use crate::amino::coins_json;
use crate::modules::Modules;

/// Every message the chain accepts, already validated (`ValidateBasic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// `cosmos.bank.v1beta1.MsgSend`
    BankSend(Send),
    /// `cosmos.bank.v1beta1.MsgMultiSend`
    BankMultiSend(MultiSend),
}

fn decode<M: Message + Default>(any: &Any) -> Result<M, AbciError> {
    M::decode(any.value.as_slice())
        .map_err(|e| AbciError::sdk(sdk_codes::TX_DECODE, format!("failed to decode {}: {e}: tx parse error", any.type_url)))
}

fn type_url<M: Name>() -> String {
    format!("/{}", M::full_name())
}

fn coin_pairs(coins: &[openledger_core::Coin]) -> Vec<(String, String)> {
    coins.iter().map(|c| (c.denom.clone(), c.amount.to_string())).collect()
}

impl Msg {
    /// Decodes and validates one message. Unknown type URLs are the SDK's tx-decode error.
    pub fn from_any(any: &Any) -> Result<Self, AbciError> {
        let checked = |r: Result<Self, openledger_bank::BankError>| r.map_err(|e| AbciError::from_code(&e));
        match any.type_url.as_str() {
            "/cosmos.bank.v1beta1.MsgSend" => checked(Send::check_stateless(&decode::<MsgSend>(any)?).map(Self::BankSend)),
            "/cosmos.bank.v1beta1.MsgMultiSend" => {
                checked(MultiSend::check_stateless(&decode::<MsgMultiSend>(any)?).map(Self::BankMultiSend))
            }
            other => Err(AbciError::sdk(sdk_codes::TX_DECODE, format!("unable to resolve type URL {other}: tx parse error"))),
        }
    }

    /// The type URL (the `action` of the `message` event).
    pub fn type_url(&self) -> String {
        match self {
            Self::BankSend(_) => type_url::<MsgSend>(),
            Self::BankMultiSend(_) => type_url::<MsgMultiSend>(),
        }
    }

    /// The module that handles it (the `module` of the `message` event).
    pub fn module(&self) -> &'static str {
        match self {
            Self::BankSend(_) | Self::BankMultiSend(_) => "bank",
        }
    }

    /// Addresses that must sign.
    pub fn signers(&self) -> Vec<Address> {
        match self {
            Self::BankSend(m) => m.signers(),
            Self::BankMultiSend(m) => m.signers(),
        }
    }

    /// The amino JSON form used by `SIGN_MODE_LEGACY_AMINO_JSON` (`{"type","value"}`).
    pub fn amino_json(&self) -> Value {
        match self {
            Self::BankSend(m) => json!({
                "type": "cosmos-sdk/MsgSend",
                "value": {
                    "amount": coins_json(&coin_pairs(&m.amount)),
                    "from_address": m.from.to_bech32(),
                    "to_address": m.to.to_bech32(),
                }
            }),
            Self::BankMultiSend(m) => json!({
                "type": "cosmos-sdk/MsgMultiSend",
                "value": {
                    "inputs": [{"address": m.input.0.to_bech32(), "coins": coins_json(&coin_pairs(&m.input.1))}],
                    "outputs": m.outputs.iter().map(|(a, c)| json!({"address": a.to_bech32(), "coins": coins_json(&coin_pairs(c))})).collect::<Vec<_>>(),
                }
            }),
        }
    }

    /// Executes against the message layer of a tx; returns the `Any`-packed response.
    pub fn execute(&self, modules: &Modules, state: &mut dyn StateWrite) -> Result<Any, AbciError> {
        let err = |e: &dyn ErrorCode| AbciError { codespace: e.codespace(), code: e.code(), log: e.to_string() };
        match self {
            Self::BankSend(m) => {
                m.execute(&modules.bank, state).map_err(|e| err(&e))?;
                Ok(Any { type_url: type_url::<MsgSendResponse>(), value: MsgSendResponse {}.encode_to_vec() })
            }
            Self::BankMultiSend(m) => {
                m.execute(&modules.bank, state).map_err(|e| err(&e))?;
                Ok(Any { type_url: type_url::<MsgMultiSendResponse>(), value: MsgMultiSendResponse {}.encode_to_vec() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openledger_core::Coin;

    #[test]
    fn unknown_type_url_is_tx_decode_error_and_bad_msg_keeps_module_code() {
        let err = Msg::from_any(&Any { type_url: "/foo.Bar".into(), value: vec![] }).unwrap_err();
        assert_eq!((err.codespace, err.code), ("sdk", 2));
        let bad = MsgSend { from_address: "x".into(), to_address: "y".into(), amount: vec![] };
        let err = Msg::from_any(&Any { type_url: "/cosmos.bank.v1beta1.MsgSend".into(), value: bad.encode_to_vec() }).unwrap_err();
        assert_eq!((err.codespace, err.code), ("sdk", 7));
        let garbage = Msg::from_any(&Any { type_url: "/cosmos.bank.v1beta1.MsgSend".into(), value: vec![0xff, 0xff] }).unwrap_err();
        assert_eq!(garbage.code, 2);
    }

    #[test]
    fn amino_form_matches_sdk_names() {
        let a = Address::from_bytes(&[1; 20]).unwrap();
        let msg = Msg::BankSend(Send { from: a.clone(), to: a, amount: vec![Coin::new("uopen", 5)] });
        let v = msg.amino_json();
        assert_eq!(v["type"], "cosmos-sdk/MsgSend");
        assert_eq!(v["value"]["amount"][0]["amount"], "5");
        assert_eq!(msg.type_url(), "/cosmos.bank.v1beta1.MsgSend");
    }
}
