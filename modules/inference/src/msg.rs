//! Inference messages: for each, a stateless check (the SDK's `ValidateBasic`) producing a
//! validated value, its signer, its amino JSON form (`openledger/<MsgName>`), and its execution.

use openledger_core::address::VALOPER_PREFIX;
use openledger_core::block::BlockInfo;
use openledger_core::{Address, StateWrite};
use openledger_proto::openledger::inference::v1::{
    MsgRegisterExecutor, MsgRegisterExecutorResponse, MsgRequestInference, MsgRequestInferenceResponse,
};
use serde_json::{json, Map, Value};

use crate::error::InferenceError;
use crate::keeper::{
    check_hardware_class, check_prompt_or_messages, InferenceKeeper, PromptInput, ABSOLUTE_MAX_MODELS, ABSOLUTE_MAX_PROMPT_BYTES,
    ABSOLUTE_MAX_TOKENS,
};

/// Type URL of `MsgRequestInference`.
pub const MSG_REQUEST_INFERENCE: &str = "/openledger.inference.v1.MsgRequestInference";
/// Type URL of `MsgRegisterExecutor`.
pub const MSG_REGISTER_EXECUTOR: &str = "/openledger.inference.v1.MsgRegisterExecutor";
/// Type URL of `MsgUpdateParams`.
pub const MSG_UPDATE_PARAMS: &str = "/openledger.inference.v1.MsgUpdateParams";

fn address(field: &'static str, text: &str) -> Result<Address, InferenceError> {
    Address::from_bech32(text).map_err(|e| InferenceError::InvalidAddress { field, reason: e.to_string() })
}

/// Amino object with the SDK's rules: zero values omitted ("" strings, "0" ids, null, empty
/// lists), 64-bit integers as strings.
fn amino(name: &str, fields: Vec<(&str, Value)>) -> Value {
    let mut map = Map::new();
    for (k, v) in fields {
        // "" is empty; "0" only for ids (64-bit integers are strings), never for free text.
        let empty = matches!(&v, Value::String(s) if s.is_empty() || (s == "0" && k.ends_with("_id"))) || v.is_null() || v == json!([]);
        if !empty {
            map.insert(k.to_string(), v);
        }
    }
    json!({"type": name, "value": Value::Object(map)})
}

/// A validated MsgRequestInference.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestInference {
    /// Signer.
    pub requester: Address,
    /// Fee in uopen.
    pub fee: u128,
    /// The message as signed.
    pub msg: MsgRequestInference,
}

impl RequestInference {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgRequestInference) -> Result<Self, InferenceError> {
        let requester = address("requester", &msg.requester)?;
        if msg.base_model_id == 0 {
            return Err(InferenceError::ModelNotServable("base_model_id must be set".into()));
        }
        check_prompt_or_messages(&msg.prompt, &msg.messages, ABSOLUTE_MAX_PROMPT_BYTES)?;
        if msg.max_tokens == 0 || msg.max_tokens > ABSOLUTE_MAX_TOKENS {
            return Err(InferenceError::InvalidMaxTokens(format!("must be 1..={ABSOLUTE_MAX_TOKENS}, got {}", msg.max_tokens)));
        }
        let coin = msg.fee.as_ref().ok_or_else(|| InferenceError::InvalidCoins("fee is required".into()))?;
        if coin.denom != openledger_core::coin::BASE_DENOM {
            return Err(InferenceError::InvalidCoins(format!("fee denom must be uopen, got {:?}", coin.denom)));
        }
        let fee = openledger_core::coin::parse_amount(&coin.amount).map_err(|e| InferenceError::InvalidCoins(e.to_string()))?;
        Ok(Self { requester, fee, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.requester.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let fee = self.msg.fee.as_ref().map(|c| json!({"amount": c.amount, "denom": c.denom})).unwrap_or(Value::Null);
        amino(
            "openledger/MsgRequestInference",
            vec![
                ("adapter_id", json!(self.msg.adapter_id.to_string())),
                ("base_model_id", json!(self.msg.base_model_id.to_string())),
                ("fee", fee),
                ("max_tokens", if self.msg.max_tokens == 0 { Value::Null } else { json!(self.msg.max_tokens) }),
                (
                    "messages",
                    Value::Array(
                        self.msg
                            .messages
                            .iter()
                            // Free text: only an empty string is omitted (not "0", unlike ids).
                            .map(|m| {
                                let mut turn = Map::new();
                                for (k, v) in [("content", &m.content), ("role", &m.role)] {
                                    if !v.is_empty() {
                                        turn.insert(k.to_string(), json!(v));
                                    }
                                }
                                Value::Object(turn)
                            })
                            .collect(),
                    ),
                ),
                ("prompt", json!(self.msg.prompt)),
                ("requester", json!(self.msg.requester)),
            ],
        )
    }

    /// Escrows the fee and stores the request.
    pub fn execute(
        &self,
        keeper: &InferenceKeeper,
        state: &mut dyn StateWrite,
        info: BlockInfo,
    ) -> Result<MsgRequestInferenceResponse, InferenceError> {
        let request_id = keeper.request_inference(
            state,
            info,
            &self.requester,
            self.msg.base_model_id,
            self.msg.adapter_id,
            PromptInput { prompt: &self.msg.prompt, messages: &self.msg.messages },
            self.msg.max_tokens,
            self.fee,
        )?;
        Ok(MsgRequestInferenceResponse { request_id })
    }
}

/// A validated MsgRegisterExecutor.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterExecutor {
    /// The operator's account (signer): same bytes as the operator address.
    pub signer: Address,
    /// Models, sorted and unique.
    pub base_model_ids: Vec<u64>,
    /// The message as signed.
    pub msg: MsgRegisterExecutor,
}

impl RegisterExecutor {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgRegisterExecutor) -> Result<Self, InferenceError> {
        let operator = Address::from_bech32_prefixed(&msg.validator, VALOPER_PREFIX)
            .map_err(|e| InferenceError::InvalidAddress { field: "validator", reason: e.to_string() })?;
        if msg.base_model_ids.len() > ABSOLUTE_MAX_MODELS as usize {
            return Err(InferenceError::InvalidRegistration(format!("at most {ABSOLUTE_MAX_MODELS} models")));
        }
        let mut ids = msg.base_model_ids.clone();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != msg.base_model_ids.len() || ids.contains(&0) {
            return Err(InferenceError::InvalidRegistration("base model ids must be unique and non-zero".into()));
        }
        check_hardware_class(&msg.hardware_class)?;
        Ok(Self { signer: operator, base_model_ids: ids, msg: msg.clone() })
    }

    /// The signer (the operator's own account).
    pub fn signers(&self) -> Vec<Address> {
        vec![self.signer.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let ids: Vec<Value> = self.msg.base_model_ids.iter().map(|i| json!(i.to_string())).collect();
        // Free text: omitted when empty (as the SDK's amino JSON does), so an old client's sign
        // bytes are unchanged.
        amino(
            "openledger/MsgRegisterExecutor",
            vec![
                ("base_model_ids", Value::Array(ids)),
                ("hardware_class", json!(self.msg.hardware_class)),
                ("validator", json!(self.msg.validator)),
            ],
        )
    }

    /// Stores the registration.
    pub fn execute(
        &self,
        keeper: &InferenceKeeper,
        state: &mut dyn StateWrite,
        info: BlockInfo,
    ) -> Result<MsgRegisterExecutorResponse, InferenceError> {
        keeper.register_executor(state, info, &self.msg.validator, &self.base_model_ids, &self.msg.hardware_class)?;
        Ok(MsgRegisterExecutorResponse {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openledger_proto::openledger::executor::v1::ChatMessage;

    /// The amino JSON an amino-only wallet signs for a conversation: sorted keys, zero values
    /// omitted, ids as strings; a turn whose text is "0" keeps it (only ids drop "0").
    #[test]
    fn amino_json_of_a_conversation() {
        let requester = Address::from_bytes(&[7; 20]).unwrap().to_bech32();
        let msg = MsgRequestInference {
            requester: requester.clone(),
            base_model_id: 1,
            adapter_id: 0,
            prompt: String::new(),
            max_tokens: 32,
            fee: Some(openledger_core::coin::Coin::new("uopen", 1000).to_proto()),
            messages: vec![
                ChatMessage { role: "system".into(), content: "Be brief.".into() },
                ChatMessage { role: "user".into(), content: "0".into() },
            ],
        };
        let checked = RequestInference::check_stateless(&msg).unwrap();
        assert_eq!(
            checked.amino_json(),
            json!({"type": "openledger/MsgRequestInference", "value": {
                "base_model_id": "1",
                "fee": {"amount": "1000", "denom": "uopen"},
                "max_tokens": 32,
                "messages": [{"content": "Be brief.", "role": "system"}, {"content": "0", "role": "user"}],
                "requester": requester,
            }})
        );
        let raw = MsgRequestInference { prompt: "0".into(), messages: vec![], ..msg };
        assert_eq!(RequestInference::check_stateless(&raw).unwrap().amino_json()["value"]["prompt"], "0");
    }

    fn registration(hardware_class: &str) -> MsgRegisterExecutor {
        MsgRegisterExecutor {
            validator: Address::from_bytes(&[9; 20]).unwrap().to_bech32_prefixed(VALOPER_PREFIX),
            base_model_ids: vec![2, 1],
            hardware_class: hardware_class.into(),
        }
    }

    /// The hardware class is bounded statelessly: at most 64 bytes of printable ASCII, with the
    /// frozen code (inference, 16); empty (an old client) and exactly 64 bytes pass.
    #[test]
    fn hardware_class_is_bounded_printable_ascii() {
        use openledger_core::error::ErrorCode;
        for ok in ["", "cpu-portable-v1", "machine-specific: candle cpu x86_64 avx2 fma", &"~".repeat(64), " "] {
            let checked = RegisterExecutor::check_stateless(&registration(ok)).unwrap_or_else(|e| panic!("{ok:?} refused: {e}"));
            assert_eq!(checked.msg.hardware_class, ok);
            assert_eq!(checked.base_model_ids, vec![1, 2]);
        }
        for bad in [&"a".repeat(65), "cpu\nportable", "tab\there", "caf\u{e9}", "nul\0", "del\u{7f}"] {
            let err = RegisterExecutor::check_stateless(&registration(bad)).expect_err(bad);
            assert!(matches!(err, InferenceError::InvalidHardwareClass(_)), "{bad:?}: {err}");
            assert_eq!((err.codespace(), err.code()), ("inference", 16), "{bad:?}");
        }
    }

    /// Amino JSON omits an empty hardware class (an old client's sign bytes are unchanged) and
    /// carries a declared one.
    #[test]
    fn amino_json_of_a_registration() {
        let old = RegisterExecutor::check_stateless(&registration("")).unwrap().amino_json();
        let validator = registration("").validator;
        assert_eq!(old, json!({"type": "openledger/MsgRegisterExecutor", "value": {"base_model_ids": ["2", "1"], "validator": validator}}));
        let new = RegisterExecutor::check_stateless(&registration("cpu-portable-v1")).unwrap().amino_json();
        assert_eq!(new["value"]["hardware_class"], "cpu-portable-v1");
        assert_eq!(RegisterExecutor::check_stateless(&registration("0")).unwrap().amino_json()["value"]["hardware_class"], "0");
    }
}
