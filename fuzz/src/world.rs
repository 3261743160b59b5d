//! The chains the targets run against, built in-process from real data: the replay chain
//! (`tests/fixtures/replay-chain.json`: its genesis and all its recorded blocks, so the state has
//! validators, delegations, proposals, datanets, models and attribution), and the inference chain
//! (a genesis validator with a known ed25519 key executing base model 1, with one open request),
//! on which real signed vote extensions and injected results verify.

use std::sync::OnceLock;

use base64::Engine;
use cosmos_sdk_proto::cosmos::auth::v1beta1::{QueryAccountRequest, QueryAccountResponse};
use cosmos_sdk_proto::Any;
use ed25519_consensus::SigningKey;
use openledger_app::app::App;
use openledger_app::client::{sign_tx, SignModeChoice, TxSpec};
use openledger_app::home::{add_genesis_validator, local_app_genesis};
use openledger_app::keys::AccountKey;
use openledger_auth::keeper::Account;
use openledger_core::storage::Storage;
use openledger_core::{Address, Coin};
use openledger_inference::keeper::output_hash;
use openledger_inference::votes;
use openledger_proto::openledger::inference::v1 as ipb;
use prost::Message;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;
use tendermint_proto::v0_38::types::BlockIdFlag;

/// Chain id of both chains (the replay fixture's).
pub const CHAIN_ID: &str = "openledger-test-1";
/// The recorded chain.
pub const REPLAY_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/replay-chain.json");
/// Seeds of the secp256k1 keys that sign the replay chain's txs (`[seed; 32]` secrets).
pub const ACCOUNT_SEEDS: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 99];

/// The secp256k1 key with secret `[seed; 32]`.
pub fn account_key(seed: u8) -> AccountKey {
    AccountKey::from_secret(&[seed; 32]).expect("a non-zero secret is valid")
}

/// The replay fixture, parsed once.
pub fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let text = std::fs::read_to_string(REPLAY_FIXTURE).expect("the replay fixture is readable");
        serde_json::from_str(&text).expect("the replay fixture is JSON")
    })
}

fn int(v: &Value, name: &str) -> i64 {
    v.get(name).and_then(Value::as_i64).unwrap_or_else(|| panic!("fixture: {name} is not an integer"))
}

fn unhex(v: &Value, name: &str) -> Vec<u8> {
    hex::decode(v.get(name).and_then(Value::as_str).unwrap_or_default()).expect("fixture: hex field")
}

/// Every tx of the replay chain, in block order.
pub fn fixture_txs() -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    fixture()["blocks"]
        .as_array()
        .expect("fixture: blocks")
        .iter()
        .flat_map(|b| b["txs"].as_array().cloned().unwrap_or_default())
        .map(|t| b64.decode(t.as_str().expect("fixture: tx string")).expect("fixture: base64 tx"))
        .collect()
}

/// The replay fixture's InitChain request.
pub fn replay_init_request(app_state: Vec<u8>) -> pb::RequestInitChain {
    let f = fixture();
    pb::RequestInitChain {
        time: Some(Timestamp { seconds: int(f, "genesis_time_seconds"), nanos: 0 }),
        chain_id: CHAIN_ID.into(),
        app_state_bytes: app_state.into(),
        initial_height: int(f, "initial_height"),
        ..Default::default()
    }
}

/// The fixture's genesis `app_state` as bytes.
pub fn replay_app_state() -> Vec<u8> {
    serde_json::to_vec(&fixture()["app_state"]).expect("app_state serializes")
}

fn replay_finalize_request(block: &Value) -> pb::RequestFinalizeBlock {
    let b64 = base64::engine::general_purpose::STANDARD;
    let txs = block["txs"].as_array().cloned().unwrap_or_default();
    let commit = &block["decided_last_commit"];
    let votes = commit["votes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| pb::VoteInfo {
            validator: Some(pb::Validator { address: unhex(v, "address").into(), power: int(v, "power") }),
            block_id_flag: i32::try_from(int(v, "block_id_flag")).expect("flag fits"),
        })
        .collect();
    let misbehavior = block["misbehavior"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| pb::Misbehavior {
            r#type: i32::try_from(int(m, "type")).expect("type fits"),
            validator: Some(pb::Validator { address: unhex(m, "address").into(), power: int(m, "power") }),
            height: int(m, "height"),
            time: Some(Timestamp { seconds: int(m, "time_seconds"), nanos: 0 }),
            total_voting_power: int(m, "total_voting_power"),
        })
        .collect();
    pb::RequestFinalizeBlock {
        txs: txs.iter().map(|t| b64.decode(t.as_str().expect("tx string")).expect("base64 tx").into()).collect(),
        decided_last_commit: Some(pb::CommitInfo { round: i32::try_from(int(commit, "round")).expect("round fits"), votes }),
        misbehavior,
        hash: unhex(block, "hash").into(),
        height: int(block, "height"),
        time: Some(Timestamp { seconds: int(block, "time_seconds"), nanos: 0 }),
        ..Default::default()
    }
}

/// A fresh app with the whole replay chain applied (every block finalized and committed, app
/// hashes checked against the fixture).
pub fn replay_app() -> App {
    let app = App::with_storage(Storage::temporary().expect("temporary store"));
    app.init_chain(&replay_init_request(replay_app_state())).expect("fixture genesis imports");
    for block in fixture()["blocks"].as_array().expect("fixture: blocks") {
        let resp = app.finalize_block(&replay_finalize_request(block)).expect("fixture block finalizes");
        assert_eq!(hex::encode(&resp.app_hash), block["app_hash"].as_str().unwrap_or_default(), "replay diverged");
        app.commit().expect("commit");
    }
    app
}

/// The next height to finalize on `app`.
pub fn next_height(app: &App) -> i64 {
    i64::try_from(app.storage().last_committed().0).unwrap_or(i64::MAX - 1) + 1
}

/// A FinalizeBlock request at the next height with a deterministic block time.
pub fn block_request(app: &App, txs: Vec<Vec<u8>>) -> pb::RequestFinalizeBlock {
    let height = next_height(app);
    pb::RequestFinalizeBlock {
        txs: txs.into_iter().map(Into::into).collect(),
        height,
        time: Some(Timestamp { seconds: 1_700_000_000 + height, nanos: 0 }),
        ..Default::default()
    }
}

/// `(account number, sequence)` of `address` through the ABCI query, `None` if unknown.
pub fn account(app: &App, address: &Address) -> Option<(u64, u64)> {
    let res = app.query(&pb::RequestQuery {
        data: QueryAccountRequest { address: address.to_bech32() }.encode_to_vec().into(),
        path: "/cosmos.auth.v1beta1.Query/Account".into(),
        height: 0,
        prove: false,
    });
    if res.code != 0 {
        return None;
    }
    let any = QueryAccountResponse::decode(res.value.as_ref()).ok()?.account?;
    let base = Account::from_any(&any).ok()?.base().clone();
    Some((base.account_number, base.sequence))
}

/// Signs `msgs` for `key` in SIGN_MODE_DIRECT at its current sequence on `app`.
pub fn sign(app: &App, key: &AccountKey, msgs: Vec<Any>, gas: u64) -> Vec<u8> {
    let (account_number, sequence) = account(app, &key.address()).expect("signer exists");
    let fee = u128::from(gas).saturating_mul(25).div_ceil(1000);
    sign_tx(&TxSpec {
        key,
        chain_id: CHAIN_ID,
        account_number,
        sequence,
        msgs,
        fee: vec![cosmos_sdk_proto::cosmos::base::v1beta1::Coin { denom: "uopen".into(), amount: fee.to_string() }],
        gas_limit: gas,
        memo: String::new(),
        mode: SignModeChoice::Direct,
    })
    .expect("sign")
}

/// The inference chain: a validator with a known consensus key serving base model 1 and one
/// pending request, at the height after the request's block.
pub struct InferenceChain {
    /// The app.
    pub app: App,
    /// The validator's ed25519 consensus key.
    pub consensus_key: SigningKey,
    /// Its consensus address.
    pub cons_address: Vec<u8>,
    /// Its CometBFT power.
    pub power: i64,
    /// The pending request.
    pub request_id: u64,
}

/// Self-bond of the inference chain's validator.
const SELF_BOND: u128 = 1_000_000_000_000;
/// Tokens and text of the output the validator reports.
pub const OUTPUT_TOKENS: [u32; 4] = [11, 12, 13, 14];
/// Text of that output.
pub const OUTPUT_TEXT: &str = " open data helps";

impl InferenceChain {
    /// Builds the chain (genesis, one empty block, the request's block).
    pub fn new() -> Self {
        let dev = account_key(1);
        let consensus_key = SigningKey::from([7u8; 32]);
        let pubkey = consensus_key.verification_key().to_bytes();
        let mut genesis = local_app_genesis(&dev.address());
        let b64 = base64::engine::general_purpose::STANDARD.encode(pubkey);
        add_genesis_validator(&mut genesis, &dev.address(), &b64, "v0", SELF_BOND);
        genesis.model.base_models.push(openledger_model::genesis::BaseModelJson {
            id: 1,
            owner: dev.address().to_bech32(),
            name: "tiny".into(),
            architecture: "llama".into(),
            weights_hash: "ab".repeat(32),
            tokenizer_hash: "cd".repeat(32),
            license: String::new(),
            inference_price: Some(openledger_model::genesis::CoinJson { denom: "uopen".into(), amount: "100".into() }),
            delisted: false,
            delist_reason: String::new(),
            chat_template_hash: String::new(),
        });
        genesis.inference.executors.push(openledger_inference::genesis::GenesisExecutor {
            validator: openledger_stake::keeper::operator_of(&dev.address()),
            base_model_ids: vec![1],
            hardware_class: String::new(),
        });
        let app = App::with_storage(Storage::temporary().expect("temporary store"));
        let init = pb::RequestInitChain {
            time: Some(Timestamp { seconds: 1_700_000_000, nanos: 0 }),
            chain_id: CHAIN_ID.into(),
            app_state_bytes: serde_json::to_vec(&genesis).expect("genesis serializes").into(),
            initial_height: 1,
            ..Default::default()
        };
        app.init_chain(&init).expect("genesis imports");
        app.finalize_block(&block_request(&app, vec![])).expect("block 1");
        app.commit().expect("commit 1");
        let request = ipb::MsgRequestInference {
            requester: dev.address().to_bech32(),
            base_model_id: 1,
            adapter_id: 0,
            prompt: "What is open data?".into(),
            max_tokens: 8,
            fee: Some(Coin::new("uopen", 10_000).to_proto()),
            messages: vec![],
        };
        let any = Any { type_url: openledger_inference::msg::MSG_REQUEST_INFERENCE.into(), value: request.encode_to_vec() };
        let tx = sign(&app, &dev, vec![any], 300_000);
        let resp = app.finalize_block(&block_request(&app, vec![tx])).expect("block 2");
        assert_eq!(resp.tx_results[0].code, 0, "{}", resp.tx_results[0].log);
        app.commit().expect("commit 2");
        let power = i64::try_from(SELF_BOND / 1_000_000).expect("power fits");
        Self { app, consensus_key, cons_address: Sha256::digest(pubkey)[..20].to_vec(), power, request_id: 1 }
    }

    /// The next height.
    pub fn height(&self) -> i64 {
        next_height(&self.app)
    }

    /// The validator's real extension reporting the agreed output of the request.
    pub fn extension(&self) -> Vec<u8> {
        let bound = votes::report_binding(CHAIN_ID, self.request_id, &self.cons_address, &output_hash(&OUTPUT_TOKENS, OUTPUT_TEXT));
        votes::encode_extension(vec![ipb::ReportedOutput { request_id: self.request_id, output_hash: bound.to_vec(), token_count: 4 }])
    }

    /// The honest injected results of the previous height (the extension signed by the
    /// validator) and the block's commit record.
    pub fn injected(&self) -> (ipb::InjectedResults, pb::CommitInfo) {
        let extension_height = self.height() - 1;
        let extension = self.extension();
        let signature = self.consensus_key.sign(&votes::extension_sign_bytes(&extension, extension_height, 0, CHAIN_ID));
        let vote = ipb::InjectedVote {
            address: self.cons_address.clone(),
            power: self.power,
            block_id_flag: BlockIdFlag::Commit as i32,
            vote_extension: extension,
            extension_signature: signature.to_bytes().to_vec(),
        };
        let output = ipb::AgreedOutput { request_id: self.request_id, tokens: OUTPUT_TOKENS.to_vec(), text: OUTPUT_TEXT.into() };
        let injected = ipb::InjectedResults {
            height: extension_height,
            round: 0,
            votes: vec![vote],
            outputs: vec![output],
            revealed_training: vec![],
        };
        (injected, self.commit())
    }

    /// The block's record of the previous commit (the one validator, signed).
    pub fn commit(&self) -> pb::CommitInfo {
        pb::CommitInfo {
            round: 0,
            votes: vec![pb::VoteInfo {
                validator: Some(pb::Validator { address: self.cons_address.clone().into(), power: self.power }),
                block_id_flag: BlockIdFlag::Commit as i32,
            }],
        }
    }
}

impl Default for InferenceChain {
    fn default() -> Self {
        Self::new()
    }
}
