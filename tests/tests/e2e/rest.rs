//! The REST (LCD) server against a real node: the JSON of balances, accounts, validators and
//! tx responses compared structurally with golden files written from the Cosmos SDK's documented
//! examples (`tests/golden/rest/*.json`; variable values are placeholders such as `<uint>`), a tx
//! broadcast over REST, the chain-info documents and node_info, and bad input over REST and
//! gRPC (malformed address, unknown path, huge pagination limit, invalid tx bytes, unknown
//! account, a tx simulated with another sequence) answered with the SDK's error bodies and
//! status codes. `cosmos.base.tendermint.v1beta1.Service` over gRPC and REST, checked against
//! CometBFT's own RPC answers and the bank's state.

use std::time::Duration;

use base64::Engine;
use cosmos_sdk_proto::cosmos::auth::v1beta1::{query_client::QueryClient as AuthClient, BaseAccount, QueryAccountRequest};
use cosmos_sdk_proto::cosmos::bank::v1beta1::{query_client::QueryClient as BankClient, QueryAllBalancesRequest, QueryBalanceRequest};
use cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{service_client::ServiceClient as TxClient, SimulateRequest};
use cosmrs::bip32::{Language, Mnemonic};
use cosmrs::crypto::secp256k1::SigningKey;
use cosmrs::tx::{Body, Fee, Msg, SignDoc, SignerInfo};
use cosmrs::{AccountId, Coin};
use openledger_tests::Node;
use prost::Message;
use serde_json::{json, Value};

/// An HTTP answer: status and JSON body.
struct Answer {
    status: u16,
    body: Value,
    /// `Access-Control-Allow-Origin`, if sent.
    cors: Option<String>,
}

fn http(method: &str, url: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    let mut request = ureq::request(method, url).timeout(Duration::from_secs(30));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Some(b) => request.set("content-type", "application/json").send_string(b),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let cors = response.header("access-control-allow-origin").map(str::to_string);
    let text = response.into_string().expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {text}"));
    Answer { status, body, cors }
}

fn get(node: &Node, path: &str) -> Answer {
    http("GET", &format!("{}{path}", node.rest_url()), None, &[])
}

fn post(node: &Node, path: &str, body: &Value) -> Answer {
    http("POST", &format!("{}{path}", node.rest_url()), Some(&body.to_string()), &[])
}

fn golden(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/rest").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("golden JSON")
}

fn is_uint(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_time(s: &str) -> bool {
    // 2006-01-02T15:04:05[.fraction]Z
    let b = s.as_bytes();
    b.len() >= 20
        && s.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && s[..4].bytes().chain(s[5..7].bytes()).chain(s[8..10].bytes()).all(|c| c.is_ascii_digit())
}

/// Whether a string satisfies a golden placeholder (`<uint>`, `<address>`, …).
fn placeholder_matches(placeholder: &str, actual: &str) -> Result<(), String> {
    let ok = match placeholder {
        "<string>" => true,
        "<uint>" => is_uint(actual),
        "<int>" => is_uint(actual.strip_prefix('-').unwrap_or(actual)),
        "<dec>" => actual.split_once('.').is_some_and(|(i, f)| is_uint(i.trim_start_matches('-')) && f.len() == 18 && is_uint(f)),
        "<address>" => actual.starts_with("open1") && actual.len() > 30,
        "<valoper>" => actual.starts_with("openvaloper1"),
        "<hex64>" => actual.len() == 64 && actual.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "<base64>" => base64::engine::general_purpose::STANDARD.decode(actual).is_ok() && !actual.is_empty(),
        "<time>" => is_time(actual),
        other => return Err(format!("unknown placeholder {other}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{actual:?} is not {placeholder}"))
    }
}

/// Compares `actual` with a golden template: the same keys at every level (none missing, none
/// extra), the same JSON types, literal values equal, placeholders satisfied. A one-element
/// array in the template is the shape of every element; `"<any>"` accepts anything.
fn shape_matches(template: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (template, actual) {
        (Value::String(t), _) if t == "<any>" => Ok(()),
        (Value::String(t), Value::String(a)) if t.starts_with('<') && t.ends_with('>') => {
            placeholder_matches(t, a).map_err(|e| format!("{at}: {e}"))
        }
        (Value::Object(t), Value::Object(a)) => {
            let t_keys: Vec<&String> = t.keys().collect();
            let a_keys: Vec<&String> = a.keys().collect();
            if t_keys != a_keys {
                return Err(format!("{at}: keys {a_keys:?}, expected {t_keys:?}"));
            }
            for (k, tv) in t {
                shape_matches(tv, &a[k], &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(t), Value::Array(a)) => {
            if let Some(element) = t.first() {
                if a.is_empty() {
                    return Err(format!("{at}: empty array, expected elements like {element}"));
                }
                for (i, av) in a.iter().enumerate() {
                    shape_matches(element, av, &format!("{at}[{i}]"))?;
                }
            }
            Ok(())
        }
        (t, a) if t == a => Ok(()),
        (t, a) => Err(format!("{at}: {a}, expected {t}")),
    }
}

fn assert_shape(name: &str, actual: &Value) {
    if let Err(e) = shape_matches(&golden(name), actual, "$") {
        panic!("REST JSON differs from tests/golden/rest/{name}: {e}\nactual: {actual:#}");
    }
}

#[test]
fn golden_shape_comparison_catches_renamed_keys_and_unquoted_numbers() {
    let template = golden("balances.json");
    let good = json!({"balances": [{"denom": "uopen", "amount": "5"}], "pagination": {"next_key": null, "total": "1"}});
    assert!(shape_matches(&template, &good, "$").is_ok());
    let number = json!({"balances": [{"denom": "uopen", "amount": 5}], "pagination": {"next_key": null, "total": "1"}});
    assert!(shape_matches(&template, &number, "$").is_err(), "an int64 must be a string");
    let camel = json!({"balances": [{"denom": "uopen", "amount": "5"}], "pagination": {"nextKey": null, "total": "1"}});
    assert!(shape_matches(&template, &camel, "$").is_err(), "renamed key");
    let missing = json!({"balances": [{"denom": "uopen", "amount": "5"}]});
    assert!(shape_matches(&template, &missing, "$").is_err(), "missing key");
    let account = golden("account.json");
    let untyped = json!({"account": {"address": "open1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", "pub_key": null, "account_number": "0", "sequence": "0"}});
    assert!(shape_matches(&account, &untyped, "$").is_err(), "Any without @type");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn dev_key(node: &Node) -> SigningKey {
    let mnemonic = Mnemonic::new(&node.dev_mnemonic, Language::English).expect("mnemonic");
    SigningKey::derive_from_path(mnemonic.to_seed(""), &"m/44'/118'/0'/0/0".parse().expect("path")).expect("derive")
}

fn fresh_address(seed: &[u8]) -> AccountId {
    use sha2::Digest;
    SigningKey::from_slice(&sha2::Sha256::digest(seed)).expect("key").public_key().account_id("open").expect("account id")
}

/// The dev account as the chain has it.
fn dev_account(node: &Node) -> BaseAccount {
    let from = dev_key(node).public_key().account_id("open").expect("account id");
    runtime().block_on(async {
        let mut client = AuthClient::connect(node.grpc_url()).await.expect("grpc connect");
        let any =
            client.account(QueryAccountRequest { address: from.to_string() }).await.expect("account").into_inner().account.expect("any");
        BaseAccount::decode(any.value.as_slice()).expect("base account")
    })
}

/// A signed MsgSend from the dev account (SIGN_MODE_DIRECT) at its current sequence.
fn signed_send(node: &Node, to: &AccountId, amount: u128) -> Vec<u8> {
    signed_send_at(node, to, amount, dev_account(node).sequence)
}

/// A signed MsgSend from the dev account (SIGN_MODE_DIRECT) for the given sequence.
fn signed_send_at(node: &Node, to: &AccountId, amount: u128, sequence: u64) -> Vec<u8> {
    let key = dev_key(node);
    let from = key.public_key().account_id("open").expect("account id");
    let account = dev_account(node);
    let msg = cosmrs::bank::MsgSend {
        from_address: from,
        to_address: to.clone(),
        amount: vec![Coin { denom: "uopen".parse().expect("denom"), amount }],
    };
    let body = Body::new(vec![msg.to_any().expect("any")], "rest e2e", 0u32);
    let fee = Fee::from_amount_and_gas(Coin { denom: "uopen".parse().expect("denom"), amount: 10_000 }, 200_000u64);
    let auth_info = SignerInfo::single_direct(Some(key.public_key()), sequence).auth_info(fee);
    let doc = SignDoc::new(&body, &auth_info, &"openledger-local-1".parse().expect("chain id"), account.account_number).expect("doc");
    doc.sign(&key).expect("sign").to_bytes().expect("bytes")
}

fn assert_error(answer: &Answer, status: u16, code: i64, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
    assert_eq!(answer.body["code"], code, "{what}: {}", answer.body);
    assert!(answer.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {}", answer.body);
    assert_eq!(answer.body["details"], json!([]), "{what}");
    let keys: Vec<&String> = answer.body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["code", "message", "details"], "{what}: the gateway's error body");
}

#[test]
fn rest_answers_match_the_sdk_shapes_and_bad_input_gets_sdk_errors() {
    let node = Node::start();
    let dev = node.dev_address.clone();

    // A send broadcast over REST, then looked up over REST.
    let recipient = fresh_address(b"rest e2e recipient");
    let tx = signed_send(&node, &recipient, 1_234_567);
    let tx_b64 = base64::engine::general_purpose::STANDARD.encode(&tx);
    let broadcast = post(&node, "/cosmos/tx/v1beta1/txs", &json!({"tx_bytes": tx_b64, "mode": "BROADCAST_MODE_SYNC"}));
    assert_eq!(broadcast.status, 200, "{}", broadcast.body);
    assert_eq!(broadcast.body["tx_response"]["code"], 0, "{}", broadcast.body);
    let hash = broadcast.body["tx_response"]["txhash"].as_str().expect("txhash").to_string();
    let included = node.rpc().wait_for_tx(&hash, Duration::from_secs(30)).expect("tx_search").expect("tx included");
    assert_eq!(included.code, 0, "{}", included.log);

    let tx_answer = get(&node, &format!("/cosmos/tx/v1beta1/txs/{hash}"));
    assert_eq!(tx_answer.status, 200, "{}", tx_answer.body);
    assert_shape("tx.json", &tx_answer.body);
    let timestamp = tx_answer.body["tx_response"]["timestamp"].as_str().unwrap_or_default();
    assert!(timestamp.len() == 20 && timestamp.ends_with('Z'), "RFC 3339 in whole seconds, as the SDK writes it: {timestamp}");
    assert_eq!(tx_answer.body["tx_response"]["txhash"], hash.as_str());
    assert_eq!(tx_answer.body["tx"]["body"]["messages"][0]["to_address"], recipient.to_string().as_str());

    let balances = get(&node, &format!("/cosmos/bank/v1beta1/balances/{recipient}"));
    assert_eq!(balances.status, 200, "{}", balances.body);
    assert_shape("balances.json", &balances.body);
    assert_eq!(balances.body["balances"][0], json!({"denom": "uopen", "amount": "1234567"}));
    let by_denom = get(&node, &format!("/cosmos/bank/v1beta1/balances/{recipient}/by_denom?denom=uopen"));
    assert_eq!(by_denom.body, json!({"balance": {"denom": "uopen", "amount": "1234567"}}));

    let account = get(&node, &format!("/cosmos/auth/v1beta1/accounts/{dev}"));
    assert_eq!(account.status, 200, "{}", account.body);
    assert_shape("account.json", &account.body);
    assert_eq!(account.body["account"]["address"], dev.as_str());

    let validators = get(&node, "/cosmos/staking/v1beta1/validators");
    assert_eq!(validators.status, 200, "{}", validators.body);
    assert_shape("validators.json", &validators.body);
    assert_eq!(validators.body["pagination"]["total"], "1", "no limit: the total is counted, as in the SDK");

    // A height header selects the state read (the balance before the send), as in the SDK.
    let before = (included.height - 1).to_string();
    let url = format!("{}/cosmos/bank/v1beta1/balances/{recipient}/by_denom?denom=uopen", node.rest_url());
    let past = http("GET", &url, None, &[("x-cosmos-block-height", before.as_str())]);
    assert_eq!(past.body, json!({"balance": {"denom": "uopen", "amount": "0"}}));
    assert_error(&http("GET", &url, None, &[("x-cosmos-block-height", "soon")]), 400, 3, "bad height header");

    // Our own modules, through annotations added to their protos.
    let fee_params = get(&node, "/openledger/auth/v1/fee_params");
    assert_eq!(fee_params.status, 200, "{}", fee_params.body);
    assert_eq!(fee_params.body["params"]["min_gas_price"], "0.025");
    assert!(fee_params.body["params"]["max_tx_bytes"].is_string(), "uint64 as string: {}", fee_params.body);

    // Wallet documents and explorer endpoints.
    let keplr = get(&node, "/openledger/keplr/chain-info.json");
    assert_eq!(keplr.body["chainId"], "openledger-local-1");
    assert_eq!(keplr.body["rest"], node.rest_url().as_str());
    assert_eq!(keplr.body["bip44"]["coinType"], 118);
    assert_eq!(keplr.cors.as_deref(), Some("*"), "a web page can fetch the Keplr chain info");
    assert_eq!(fee_params.cors, None, "queries get no CORS header");
    let chain = get(&node, "/openledger/chain-registry/chain.json");
    assert_eq!(chain.body["bech32_prefix"], "open");
    let assets = get(&node, "/openledger/chain-registry/assetlist.json");
    assert_eq!(assets.body["assets"][0]["symbol"], "OPEN");
    let info = get(&node, "/cosmos/base/tendermint/v1beta1/node_info");
    assert_eq!(info.body["default_node_info"]["network"], "openledger-local-1");
    assert!(info.body["default_node_info"]["version"].as_str().is_some_and(|v| v.starts_with("0.38.")), "{}", info.body);
    let block = get(&node, "/cosmos/base/tendermint/v1beta1/blocks/latest");
    assert!(block.body["block"]["header"]["height"].as_str().is_some_and(is_uint), "{}", block.body);
    assert!(block.body["sdk_block"]["header"]["proposer_address"].as_str().is_some_and(|a| a.starts_with("openvalcons1")));

    // Bad input over REST.
    assert_error(&get(&node, "/cosmos/bank/v1beta1/balances/not-an-address"), 400, 3, "malformed address");
    assert_error(&get(&node, "/cosmos/auth/v1beta1/accounts/open1zzzz"), 400, 3, "malformed account address");
    let unknown = get(&node, "/cosmos/nothing/v1/here");
    assert_error(&unknown, 501, 12, "unknown path");
    assert_eq!(unknown.body["message"], "Not Implemented");
    let stranger = fresh_address(b"never funded");
    let missing = get(&node, &format!("/cosmos/auth/v1beta1/accounts/{stranger}"));
    assert_error(&missing, 404, 5, "unknown account");
    assert!(missing.body["message"].as_str().unwrap_or_default().contains("key not found"), "{}", missing.body);
    let huge = get(&node, &format!("/cosmos/bank/v1beta1/balances/{dev}?pagination.limit=999999999"));
    assert_error(&huge, 400, 3, "huge pagination limit");
    assert_error(&get(&node, &format!("/cosmos/bank/v1beta1/balances/{dev}?pagination.limit=abc")), 400, 3, "non-numeric limit");
    let bad_b64 = post(&node, "/cosmos/tx/v1beta1/txs", &json!({"tx_bytes": "***", "mode": "BROADCAST_MODE_SYNC"}));
    assert_error(&bad_b64, 400, 3, "tx_bytes not base64");
    let garbage = base64::engine::general_purpose::STANDARD.encode([0xffu8, 0x01, 0x02]);
    let bad_tx = post(&node, "/cosmos/tx/v1beta1/txs", &json!({"tx_bytes": garbage, "mode": "BROADCAST_MODE_SYNC"}));
    // As in the SDK: the broadcast itself succeeds and CheckTx's rejection is in tx_response.
    assert_eq!(bad_tx.status, 200, "{}", bad_tx.body);
    assert_eq!(bad_tx.body["tx_response"]["code"], 2, "tx decode error: {}", bad_tx.body);
    assert_eq!(bad_tx.body["tx_response"]["codespace"], "sdk");
    assert_error(&post(&node, "/cosmos/tx/v1beta1/simulate", &json!({"tx_bytes": garbage})), 400, 3, "simulate garbage");
    let broken = http("POST", &format!("{}/cosmos/tx/v1beta1/txs", node.rest_url()), Some(r#"{"tx_bytes": "AA==", "mode": ["#), &[]);
    assert_error(&broken, 400, 3, "bad JSON");
    assert_error(&get(&node, "/cosmos/tx/v1beta1/txs/XYZ"), 400, 3, "malformed tx hash");
    let big = "a".repeat(openledger_app::rest::MAX_BODY_BYTES + 10);
    assert_error(&post(&node, "/cosmos/tx/v1beta1/simulate", &json!({"tx_bytes": big})), 400, 3, "oversized body");

    // Simulate runs the ante's sequence check as the SDK does: a tx signed for another sequence
    // (ahead or behind) fails with code 32, the account's own sequence simulates.
    let sequence = dev_account(&node).sequence;
    assert!(sequence >= 1, "the send above used sequence 0");
    let wrong: Vec<(u64, Vec<u8>)> =
        [sequence + 1, sequence - 1].into_iter().map(|s| (s, signed_send_at(&node, &recipient, 1, s))).collect();
    let right = signed_send_at(&node, &recipient, 1, sequence);

    // The same bad input over gRPC.
    runtime().block_on(async {
        let mut bank = BankClient::connect(node.grpc_url()).await.expect("connect");
        let err =
            bank.balance(QueryBalanceRequest { address: "not-an-address".into(), denom: "uopen".into() }).await.expect_err("bad address");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
        let page = PageRequest { limit: 999_999_999, ..Default::default() };
        let err = bank
            .all_balances(QueryAllBalancesRequest { address: dev.clone(), pagination: Some(page), resolve_denom: false })
            .await
            .expect_err("huge limit");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
        let mut auth = AuthClient::connect(node.grpc_url()).await.expect("connect");
        let err = auth.account(QueryAccountRequest { address: stranger.to_string() }).await.expect_err("unknown account");
        assert_eq!(err.code(), tonic::Code::NotFound, "{err}");
        let mut txs = TxClient::connect(node.grpc_url()).await.expect("connect");
        #[allow(deprecated)]
        let err = txs.simulate(SimulateRequest { tx: None, tx_bytes: vec![0xff, 0x01, 0x02] }).await.expect_err("garbage tx");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
        for (got, tx) in wrong {
            #[allow(deprecated)]
            let err = txs.simulate(SimulateRequest { tx: None, tx_bytes: tx }).await.expect_err("wrong sequence");
            let expected = format!("account sequence mismatch, expected {sequence}, got {got}: incorrect account sequence");
            assert!(err.message().contains(&expected) && err.message().contains("code 32"), "{err}");
        }
        #[allow(deprecated)]
        let simulated = txs.simulate(SimulateRequest { tx: None, tx_bytes: right }).await.expect("the account's sequence simulates");
        assert!(simulated.into_inner().gas_info.is_some_and(|g| g.gas_used > 0));
        let err = txs
            .get_block_with_txs(cosmos_sdk_proto::cosmos::tx::v1beta1::GetBlockWithTxsRequest { height: 1, pagination: None })
            .await
            .expect_err("unserved method");
        assert_eq!(err.code(), tonic::Code::Unimplemented, "{err}");
    });

    // Still serving after all of that.
    assert_eq!(get(&node, &format!("/cosmos/bank/v1beta1/balances/{recipient}")).status, 200);
}

/// A consensus address (`openvalcons1…`) from CometBFT's hex address.
fn valcons(hex_address: &str) -> String {
    let bytes = hex::decode(hex_address).expect("hex address");
    openledger_core::address::Address::from_bytes(&bytes).expect("address").to_bech32_prefixed(openledger_core::address::VALCONS_PREFIX)
}

#[test]
fn tendermint_service_answers_from_cometbft_and_the_app_over_grpc_and_rest() {
    use cosmos_sdk_proto::cosmos::base::tendermint::v1beta1 as cmt;
    use cosmos_sdk_proto::cosmos::base::tendermint::v1beta1::service_client::ServiceClient as TendermintClient;
    const SERVICE: &str = "cosmos.base.tendermint.v1beta1.Service";

    let node = Node::start();
    node.wait_for_height(3, Duration::from_secs(60));
    let rpc = node.rpc();
    let comet = |method: &str, params: Value| rpc.call(method, params).expect("CometBFT RPC");
    let status = comet("status", json!({}));
    let rt = runtime();
    let mut client = rt.block_on(TendermintClient::connect(node.grpc_url())).expect("connect");

    // Node info and syncing: CometBFT's, as the SDK passes them on.
    let info = rt.block_on(client.get_node_info(cmt::GetNodeInfoRequest {})).expect("GetNodeInfo").into_inner();
    let node_info = info.default_node_info.expect("default_node_info");
    assert_eq!(node_info.default_node_id, status["node_info"]["id"].as_str().expect("id"));
    assert_eq!(node_info.network, "openledger-local-1");
    assert!(node_info.version.starts_with("0.38."), "{}", node_info.version);
    assert_eq!(hex::encode(&node_info.channels), status["node_info"]["channels"].as_str().expect("channels").to_lowercase());
    assert_eq!(node_info.protocol_version.map(|p| p.block), Some(11));
    let app_version = info.application_version.expect("application_version");
    assert_eq!((app_version.app_name.as_str(), app_version.cosmos_sdk_version.as_str()), ("openledgerd", "v0.50.15"));
    // BaseApp's own query path, as CometBFT's abci_query reaches it (with and without the slash).
    for path in ["/app/version", "app/version"] {
        let answer = comet("abci_query", json!({"path": path, "data": ""}));
        let value = answer["response"]["value"].as_str().expect("value");
        let value = base64::engine::general_purpose::STANDARD.decode(value).expect("base64");
        assert_eq!((answer["response"]["code"].as_u64(), value.as_slice()), (Some(0), app_version.version.as_bytes()), "{path}");
    }
    let syncing = rt.block_on(client.get_syncing(cmt::GetSyncingRequest {})).expect("GetSyncing").into_inner();
    assert!(!syncing.syncing, "a lone validator is caught up");

    // The latest block: CometBFT's block at that height, in both forms; the height advances.
    let latest = rt.block_on(client.get_latest_block(cmt::GetLatestBlockRequest {})).expect("GetLatestBlock").into_inner();
    let block = latest.block.expect("block");
    let header = block.header.clone().expect("header");
    let sdk_header = latest.sdk_block.as_ref().and_then(|b| b.header.clone()).expect("sdk_block header");
    assert!(header.height >= 3, "{}", header.height);
    let from_comet = comet("block", json!({"height": header.height.to_string()}));
    assert_eq!(hex::encode_upper(&latest.block_id.expect("block_id").hash), from_comet["block_id"]["hash"].as_str().expect("hash"));
    assert_eq!(hex::encode_upper(&header.app_hash), from_comet["block"]["header"]["app_hash"].as_str().expect("app_hash"));
    assert_eq!(sdk_header.proposer_address, valcons(from_comet["block"]["header"]["proposer_address"].as_str().expect("proposer")));
    assert!(sdk_header.proposer_address.starts_with("openvalcons1"));
    assert_eq!((sdk_header.height, &sdk_header.app_hash, &sdk_header.time), (header.height, &header.app_hash, &header.time));
    let sdk_block = latest.sdk_block.expect("sdk_block");
    assert_eq!((&sdk_block.last_commit, &sdk_block.data), (&block.last_commit, &block.data));
    let commit = block.last_commit.expect("last_commit");
    assert_eq!(commit.height, header.height - 1);
    assert_eq!(commit.signatures.len(), 1);
    assert_eq!(commit.signatures[0].block_id_flag, tendermint_proto::types::BlockIdFlag::Commit as i32);
    let first_seen = header.height;
    openledger_tests::wait_until("GetLatestBlock to advance", Duration::from_secs(60), || {
        let next = rt.block_on(client.get_latest_block(cmt::GetLatestBlockRequest {})).expect("GetLatestBlock").into_inner();
        next.block.and_then(|b| b.header).is_some_and(|h| h.height > first_seen)
    });

    // A past block by height: that block's hash, and the next block's last_block_id points at it.
    let past = rt.block_on(client.get_block_by_height(cmt::GetBlockByHeightRequest { height: 2 })).expect("GetBlockByHeight").into_inner();
    let past_hash = past.block_id.expect("block_id").hash;
    assert_eq!(hex::encode_upper(&past_hash), comet("block", json!({"height": "2"}))["block_id"]["hash"].as_str().expect("hash"));
    assert_eq!(past.block.and_then(|b| b.header).map(|h| h.height), Some(2));
    assert_eq!(past.sdk_block.and_then(|b| b.header).map(|h| h.height), Some(2));
    let third = rt.block_on(client.get_block_by_height(cmt::GetBlockByHeightRequest { height: 3 })).expect("block 3").into_inner();
    assert_eq!(third.block.and_then(|b| b.header).and_then(|h| h.last_block_id).map(|id| id.hash), Some(past_hash.clone()));
    let err = rt.block_on(client.get_block_by_height(cmt::GetBlockByHeightRequest { height: 1_000_000 })).expect_err("future block");
    assert_eq!((err.code(), err.message()), (tonic::Code::InvalidArgument, "requested block height is bigger then the chain length"));

    // Validator sets: CometBFT's, with bech32 consensus addresses and SDK key types.
    let set =
        rt.block_on(client.get_latest_validator_set(cmt::GetLatestValidatorSetRequest { pagination: None })).expect("set").into_inner();
    let comet_set = comet("validators", json!({}));
    let comet_validator = &comet_set["validators"][0];
    assert_eq!(set.validators.len(), 1, "{set:?}");
    assert_eq!(set.pagination.as_ref().map(|p| p.total), Some(1));
    let validator = &set.validators[0];
    assert_eq!(validator.address, valcons(comet_validator["address"].as_str().expect("address")));
    assert_eq!(validator.voting_power.to_string(), comet_validator["voting_power"].as_str().expect("power"));
    let key = validator.pub_key.as_ref().expect("pub_key");
    assert_eq!(key.type_url, "/cosmos.crypto.ed25519.PubKey");
    let key = cosmos_sdk_proto::cosmos::crypto::ed25519::PubKey::decode(key.value.as_slice()).expect("ed25519 key").key;
    assert_eq!(base64::engine::general_purpose::STANDARD.encode(key), comet_validator["pub_key"]["value"].as_str().expect("key"));
    let page = |offset, limit| Some(PageRequest { offset, limit, ..Default::default() });
    let at_two = rt
        .block_on(client.get_validator_set_by_height(cmt::GetValidatorSetByHeightRequest { height: 2, pagination: page(0, 1) }))
        .expect("set at 2")
        .into_inner();
    assert_eq!((at_two.block_height, at_two.validators.len()), (2, 1));
    assert_eq!(at_two.validators[0].address, validator.address);
    // Offset 1 of a one-validator set is CometBFT's page 2 of 1: its error, passed on.
    let err = rt
        .block_on(client.get_validator_set_by_height(cmt::GetValidatorSetByHeightRequest { height: 2, pagination: page(1, 1) }))
        .expect_err("page past the end");
    assert!(err.message().contains("page should be within [1, 1] range, given 2"), "{err}");
    let err = rt
        .block_on(client.get_validator_set_by_height(cmt::GetValidatorSetByHeightRequest { height: 1_000_000, pagination: None }))
        .expect_err("future set");
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");

    // ABCIQuery through the app's router: the dev balance's store key, with a proof, agrees with
    // the bank query at the same height; gRPC method paths are refused as in the SDK.
    let key = openledger_bank::state_key::balance(&node.dev_address, "uopen");
    let query = cmt::AbciQueryRequest { data: key.clone(), path: "/store/bank/key".into(), height: 0, prove: true };
    let answer = rt.block_on(client.abci_query(query)).expect("ABCIQuery").into_inner();
    assert_eq!(answer.code, 0, "{}", answer.log);
    assert_eq!(answer.key, key);
    assert_eq!(answer.proof_ops.map(|p| p.ops.iter().map(|op| op.r#type.clone()).collect::<Vec<_>>()), Some(vec!["ics23:jmt".to_string()]));
    let stored = cosmos_sdk_proto::cosmos::base::v1beta1::Coin::decode(answer.value.as_slice()).expect("coin");
    let mut bank_request = tonic::Request::new(QueryBalanceRequest { address: node.dev_address.clone(), denom: "uopen".into() });
    bank_request.metadata_mut().insert("x-cosmos-block-height", answer.height.to_string().parse().expect("header"));
    let mut bank = rt.block_on(BankClient::connect(node.grpc_url())).expect("connect");
    let balance = rt.block_on(bank.balance(bank_request)).expect("balance").into_inner().balance.expect("balance");
    assert_eq!((stored.denom.as_str(), stored.amount.as_str()), ("uopen", balance.amount.as_str()));
    assert!(stored.amount.parse::<u128>().expect("amount") > 0);
    let grpc_path = cmt::AbciQueryRequest { path: "/cosmos.bank.v1beta1.Query/Balance".into(), ..Default::default() };
    let err = rt.block_on(client.abci_query(grpc_path)).expect_err("gRPC path");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(err.message(), "unsupported ABCI query path: /cosmos.bank.v1beta1.Query/Balance");

    // An unknown method of the service answers UNIMPLEMENTED naming it.
    let err = rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(node.grpc_url()).expect("endpoint").connect().await.expect("connect");
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        let path = http::uri::PathAndQuery::from_static("/cosmos.base.tendermint.v1beta1.Service/GetBlockResults");
        let codec = tonic::codec::ProstCodec::<cmt::GetLatestBlockRequest, cmt::GetLatestBlockResponse>::default();
        grpc.unary(tonic::Request::new(cmt::GetLatestBlockRequest {}), path, codec).await.expect_err("unknown method")
    });
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    assert!(err.message().contains("GetBlockResults") && err.message().contains(SERVICE), "{err}");

    // Server reflection lists it (and the other node-level services) in both versions.
    let channel = rt.block_on(tonic::transport::Endpoint::from_shared(node.grpc_url()).expect("endpoint").connect()).expect("connect");
    let (v1, v1alpha) = rt.block_on(openledger_tests::reflection_services(channel));
    for listed in [&v1, &v1alpha] {
        for service in [SERVICE, "cosmos.base.node.v1beta1.Service", "cosmos.consensus.v1.Query", "cosmos.tx.v1beta1.Service"] {
            assert!(listed.iter().any(|s| s == service), "{service} not listed: {listed:?}");
        }
    }

    // REST renders the same answers in the SDK's JSON.
    let rest_block = get(&node, "/cosmos/base/tendermint/v1beta1/blocks/2");
    assert_eq!(rest_block.status, 200, "{}", rest_block.body);
    assert_eq!(rest_block.body["block_id"]["hash"], base64::engine::general_purpose::STANDARD.encode(&past_hash).as_str());
    assert_eq!(rest_block.body["block"]["header"]["height"], "2");
    assert!(rest_block.body["block"]["header"]["time"].as_str().is_some_and(is_time), "{}", rest_block.body);
    assert_eq!(rest_block.body["sdk_block"]["header"]["proposer_address"], validator.address.as_str());
    assert_eq!(rest_block.body["block"]["evidence"], json!({"evidence": []}));
    assert_eq!(rest_block.body["block"]["last_commit"]["signatures"][0]["block_id_flag"], "BLOCK_ID_FLAG_COMMIT");
    let rest_set = get(&node, "/cosmos/base/tendermint/v1beta1/validatorsets/latest");
    assert_eq!(rest_set.body["validators"][0]["address"], validator.address.as_str(), "{}", rest_set.body);
    assert_eq!(rest_set.body["validators"][0]["pub_key"]["@type"], "/cosmos.crypto.ed25519.PubKey");
    assert_eq!(rest_set.body["pagination"]["total"], "1");
    let data = base64::engine::general_purpose::URL_SAFE.encode(&key);
    let rest_query = get(&node, &format!("/cosmos/base/tendermint/v1beta1/abci_query?path=/store/bank/key&data={data}"));
    assert_eq!(rest_query.body["code"], 0, "{}", rest_query.body);
    let value = base64::engine::general_purpose::STANDARD.decode(rest_query.body["value"].as_str().expect("value")).expect("base64");
    assert_eq!(cosmos_sdk_proto::cosmos::base::v1beta1::Coin::decode(value.as_slice()).expect("coin").denom, "uopen");
    assert_eq!(get(&node, "/cosmos/base/tendermint/v1beta1/syncing").body, json!({"syncing": false}));
    assert_error(&get(&node, "/cosmos/base/tendermint/v1beta1/blocks/abc"), 400, 3, "non-numeric height");
}
