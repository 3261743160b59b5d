//! Tx targets: `tx_decode` (the decoder and every message's stateless checks behind it),
//! `check_tx` (the whole CheckTx path on the replay chain's state, raw and re-signed, with the
//! node's libsecp256k1 signature verifier compared to the former k256 one on every signer), `msgs`
//! (each message type's decoding and `ValidateBasic`, its signers and amino JSON) and
//! `amino_json` (the canonical JSON of legacy amino sign docs).

use cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey;
use cosmos_sdk_proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{mode_info, AuthInfo, SignDoc, TxBody, TxRaw};
use cosmos_sdk_proto::Any;
use openledger_app::amino::{canonical_json, StdSignDoc};
use openledger_app::app::App;
use openledger_app::keys::AccountKey;
use openledger_app::modules::chain_registry;
use openledger_app::tx::decode_tx;
use openledger_core::{Address, ErrorCode, MsgRouter};
use openledger_node::ante::{verify_secp256k1, verify_secp256k1_k256};
use prost::Message;
use serde_json::Value;
use tendermint_proto::v0_38::abci as pb;

use super::{outcome, require_log, require_same, Target};
use crate::mutate::Shape;
use crate::world::{account, account_key, block_request, replay_app, ACCOUNT_SEEDS, CHAIN_ID};

/// The decoder's size limit in these targets (the chain's default `max_tx_bytes`).
const MAX_TX_BYTES: u64 = 1024 * 1024;

/// `decode_tx` alone: cheap, so it gets the most inputs.
pub struct TxDecode;

impl TxDecode {
    /// The target.
    pub fn new() -> Self {
        Self
    }
}

impl Default for TxDecode {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for TxDecode {
    fn shape(&self) -> Shape {
        Shape::Proto
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let registry = chain_registry();
        let first = decode_tx(input, MAX_TX_BYTES, registry);
        let second = decode_tx(input, MAX_TX_BYTES, registry);
        require_same("decode_tx", &format!("{first:?}"), &format!("{second:?}"))?;
        match first {
            Ok(tx) => {
                // No messages is the ante handler's refusal (code 18), not the decoder's.
                if !tx.msgs.is_empty() && tx.signers().is_empty() {
                    return Err("decode_tx accepted a tx without signers".into());
                }
                for msg in &tx.msgs {
                    let amino = msg.amino_json(registry);
                    require_same("amino_json", &canonical_json(&amino), &canonical_json(&msg.amino_json(registry)))?;
                }
                Ok(format!("ok {} msgs", tx.msgs.len()))
            }
            Err(e) => {
                require_log("decode_tx", e.code(), &e.to_string())?;
                Ok(outcome(e.code(), e.codespace(), &e.to_string()))
            }
        }
    }
}

/// CheckTx on two replay-chain apps kept in lockstep. Each input runs as is, and, when it is a
/// tx signed by one of the chain's keys (direct or legacy amino JSON), once more re-signed at the signer's
/// current account number and sequence, so mutated bodies get past the signature check to the
/// fee, the messages' stateless checks and their execution. Both versions also run every signer's
/// key and signature through both secp256k1 verifiers (libsecp256k1, which the node uses, and
/// the former k256 one), which must agree.
pub struct CheckTx {
    apps: [App; 2],
    keys: Vec<AccountKey>,
}

impl CheckTx {
    /// Replays the fixture chain twice.
    pub fn new() -> Self {
        Self { apps: [replay_app(), replay_app()], keys: ACCOUNT_SEEDS.iter().map(|s| account_key(*s)).collect() }
    }

    /// Runs `tx` on both apps and checks the invariants; returns the outcome class.
    fn check(&mut self, tx: &[u8]) -> Result<String, String> {
        let before = self.apps[0].check_state_changes();
        let req = pb::RequestCheckTx { tx: tx.to_vec().into(), r#type: 0 };
        let a = self.apps[0].check_tx(&req);
        let b = self.apps[1].check_tx(&req);
        require_same("CheckTx response", &a.encode_to_vec(), &b.encode_to_vec())?;
        require_same("CheckTx state", &self.apps[0].check_state_changes(), &self.apps[1].check_state_changes())?;
        require_log("CheckTx", a.code, &a.log)?;
        if a.code != 0 {
            if self.apps[0].check_state_changes() != before {
                return Err(format!("a rejected tx (code {}: {}) changed the mempool state", a.code, a.log));
            }
        } else {
            // Back to the committed state, so every input sees the same chain.
            for app in &self.apps {
                app.finalize_block(&block_request(app, vec![])).map_err(|e| format!("empty block: {e}"))?;
                app.commit().map_err(|e| format!("commit: {e}"))?;
            }
        }
        Ok(outcome(a.code, &a.codespace, &a.log))
    }

    /// Fails unless [`verify_secp256k1`] and [`verify_secp256k1_k256`] give the same answer for
    /// every signer info of `tx` that carries a key (its bytes as they are: any type URL, any
    /// length) with the signature at its index, over the SIGN_MODE_DIRECT sign bytes at the
    /// key's account number (0 for a key without an account). Returns how many verified.
    fn compare_verifiers(&self, tx: &[u8]) -> Result<usize, String> {
        let Ok(raw) = TxRaw::decode(tx) else { return Ok(0) };
        let Ok(auth_info) = AuthInfo::decode(raw.auth_info_bytes.as_slice()) else { return Ok(0) };
        let mut verified = 0;
        for (info, signature) in auth_info.signer_infos.iter().zip(&raw.signatures) {
            let Some(Ok(pubkey)) = info.public_key.as_ref().map(|any| PubKey::decode(any.value.as_slice())) else { continue };
            let account_number = account(&self.apps[0], &Address::from_secp256k1_pubkey(&pubkey.key)).map_or(0, |(number, _)| number);
            let sign_bytes = SignDoc {
                body_bytes: raw.body_bytes.clone(),
                auth_info_bytes: raw.auth_info_bytes.clone(),
                chain_id: CHAIN_ID.into(),
                account_number,
            }
            .encode_to_vec();
            let libsecp = verify_secp256k1(&pubkey.key, &sign_bytes, signature);
            let k256 = verify_secp256k1_k256(&pubkey.key, &sign_bytes, signature);
            if libsecp != k256 {
                return Err(format!(
                    "secp256k1 verifiers disagree (libsecp256k1 {libsecp}, k256 {k256}): key {} signature {} sign bytes {}",
                    hex::encode(&pubkey.key),
                    hex::encode(signature),
                    hex::encode(&sign_bytes)
                ));
            }
            verified += usize::from(libsecp);
        }
        Ok(verified)
    }

    /// `tx` re-signed by the chain key its first signer info names, if any.
    fn resign(&self, tx: &[u8]) -> Option<Vec<u8>> {
        let raw = TxRaw::decode(tx).ok()?;
        let mut auth_info = AuthInfo::decode(raw.auth_info_bytes.as_slice()).ok()?;
        let signer = auth_info.signer_infos.first_mut()?;
        let pubkey = PubKey::decode(signer.public_key.as_ref()?.value.as_slice()).ok()?;
        let mode = match signer.mode_info.as_ref().and_then(|m| m.sum.as_ref()) {
            Some(mode_info::Sum::Single(s)) => s.mode,
            _ => return None,
        };
        let key = self.keys.iter().find(|k| k.public_key() == pubkey.key)?;
        let (account_number, sequence) = account(&self.apps[0], &key.address())?;
        signer.sequence = sequence;
        let auth_info_bytes = auth_info.encode_to_vec();
        let sign_bytes = if mode == SignMode::Direct as i32 {
            SignDoc {
                body_bytes: raw.body_bytes.clone(),
                auth_info_bytes: auth_info_bytes.clone(),
                chain_id: CHAIN_ID.into(),
                account_number,
            }
            .encode_to_vec()
        } else if mode == SignMode::LegacyAminoJson as i32 {
            // The amino JSON sign doc, built from the decoded messages as the ante handler does.
            let body = TxBody::decode(raw.body_bytes.as_slice()).ok()?;
            let registry = chain_registry();
            let msgs =
                body.messages.iter().map(|m| registry.decode(m).map(|m| m.amino_json(registry))).collect::<Result<Vec<_>, _>>().ok()?;
            let fee = auth_info.fee.clone().unwrap_or_default();
            StdSignDoc {
                account_number,
                chain_id: CHAIN_ID,
                fee_amount: fee.amount.iter().map(|c| (c.denom.clone(), c.amount.clone())).collect(),
                gas: fee.gas_limit,
                fee_payer: &fee.payer,
                fee_granter: &fee.granter,
                memo: &body.memo,
                msgs,
                sequence,
                timeout_height: body.timeout_height,
            }
            .sign_bytes()
        } else {
            return None;
        };
        let mut signatures = raw.signatures.clone();
        let signature = key.sign(&sign_bytes);
        match signatures.first_mut() {
            Some(first) => *first = signature,
            None => signatures.push(signature),
        }
        Some(TxRaw { body_bytes: raw.body_bytes, auth_info_bytes, signatures }.encode_to_vec())
    }
}

impl Default for CheckTx {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for CheckTx {
    fn shape(&self) -> Shape {
        Shape::Proto
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        self.compare_verifiers(input)?;
        let raw = self.check(input)?;
        match self.resign(input) {
            Some(signed) => {
                self.compare_verifiers(&signed)?;
                Ok(format!("{raw} | signed {}", self.check(&signed)?))
            }
            None => Ok(raw),
        }
    }
}

/// One message (an `Any`) through the registry: decoding and `ValidateBasic`, then its signers
/// and amino JSON.
pub struct Msgs;

impl Msgs {
    /// The target.
    pub fn new() -> Self {
        Self
    }
}

impl Default for Msgs {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for Msgs {
    fn shape(&self) -> Shape {
        Shape::Proto
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let Ok(any) = Any::decode(input) else { return Ok("not an Any".into()) };
        let registry = chain_registry();
        let first = registry.decode(&any);
        require_same("message decode", &format!("{first:?}"), &format!("{:?}", registry.decode(&any)))?;
        match first {
            Ok(msg) => {
                if msg.signers().is_empty() {
                    return Err(format!("{} passed its checks without a signer", any.type_url));
                }
                let amino = msg.amino_json(registry);
                let kind = amino.get("type").and_then(Value::as_str).unwrap_or_default();
                if kind.is_empty() || amino.get("value").is_none() {
                    return Err(format!("{}: amino JSON without type/value: {amino}", any.type_url));
                }
                let text = canonical_json(&amino);
                if serde_json::from_str::<Value>(&text).is_err() {
                    return Err(format!("{}: canonical amino JSON does not parse: {text}", any.type_url));
                }
                Ok(format!("ok {}", any.type_url))
            }
            Err(e) => {
                require_log(&any.type_url, e.code(), &e.to_string())?;
                // Mutated type URLs are one class: unknown.
                let url = registry.msg_type_urls().into_iter().find(|u| *u == any.type_url).unwrap_or("unknown");
                Ok(format!("{url} {}", outcome(e.code(), e.codespace(), &e.to_string())))
            }
        }
    }
}

/// Canonical JSON (sorted keys, compact, HTML-escaped as Go does) of any JSON document, and the
/// `StdSignDoc` built from its fields.
pub struct AminoJson;

fn keys_sorted(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.keys().zip(m.keys().skip(1)).all(|(a, b)| a < b) && m.values().all(keys_sorted),
        Value::Array(a) => a.iter().all(keys_sorted),
        _ => true,
    }
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Object(m) => m.values().any(has_float),
        Value::Array(a) => a.iter().any(has_float),
        _ => false,
    }
}

impl Target for AminoJson {
    fn shape(&self) -> Shape {
        Shape::Json
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let Ok(value) = serde_json::from_slice::<Value>(input) else { return Ok("not JSON".into()) };
        let text = canonical_json(&value);
        require_same("canonical JSON", &text, &canonical_json(&value))?;
        if has_float(&value) {
            // Amino JSON carries amounts and integers as strings or integers, never floats, and
            // serde_json's default float parsing is best-effort (a float does not always read
            // back as the same f64: found by this target, see RELIABILITY.md), so documents
            // with floats are only checked for panics and determinism.
            return Ok("float".into());
        }
        if text.contains(['<', '>', '&']) {
            return Err(format!("canonical JSON keeps an unescaped <, > or &: {text}"));
        }
        let back: Value = serde_json::from_str(&text).map_err(|e| format!("canonical JSON does not parse ({e}): {text}"))?;
        require_same("canonical JSON round trip", &back, &value)?;
        if !keys_sorted(&serde_json::from_str::<Value>(&text).unwrap_or_default()) {
            return Err(format!("canonical JSON keys are not sorted: {text}"));
        }
        require_same("canonical JSON", &canonical_json(&back), &text)?;
        let field = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        let number = |name: &str| value.get(name).and_then(Value::as_u64).unwrap_or_default();
        let msgs = value.get("msgs").and_then(Value::as_array).cloned().unwrap_or_default();
        let (chain_id, memo, payer, granter) = (field("chain_id"), field("memo"), field("fee_payer"), field("fee_granter"));
        let doc = StdSignDoc {
            account_number: number("account_number"),
            chain_id: &chain_id,
            fee_amount: vec![(field("denom"), field("amount"))],
            gas: number("gas"),
            fee_payer: &payer,
            fee_granter: &granter,
            memo: &memo,
            msgs,
            sequence: number("sequence"),
            timeout_height: number("timeout_height"),
        };
        let bytes = doc.sign_bytes();
        require_same("sign bytes", &bytes, &doc.sign_bytes())?;
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| format!("sign bytes are not JSON ({e})"))?;
        if parsed.get("memo").and_then(Value::as_str) != Some(memo.as_str()) {
            return Err(format!("sign bytes lost the memo {memo:?}"));
        }
        Ok(match value {
            Value::Object(_) => "object",
            Value::Array(_) => "array",
            _ => "scalar",
        }
        .into())
    }
}
