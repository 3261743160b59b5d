//! Against a real single-validator chain (CometBFT v0.38 + openledgerd on loopback): what a
//! wallet does — sign with cosmrs (SIGN_MODE_DIRECT) and with amino JSON, broadcast through
//! CometBFT RPC, wait with `tx_search`, read balances and accounts over gRPC and `abci_query` —
//! plus mempool rejections and crash recovery.

#![allow(clippy::too_many_arguments, clippy::result_large_err)]

use std::time::Duration;

use cosmos_sdk_proto::cosmos::auth::v1beta1::{query_client::QueryClient as AuthClient, BaseAccount, QueryAccountRequest};
use cosmos_sdk_proto::cosmos::bank::v1beta1::{
    query_client::QueryClient as BankClient, MsgSend as ProtoMsgSend, QueryBalanceRequest, QueryBalanceResponse,
};
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    mode_info, service_client::ServiceClient as TxClient, AuthInfo, Fee, GetTxRequest, ModeInfo, SignerInfo, SimulateRequest, TxBody, TxRaw,
};
use cosmrs::bip32::{Language, Mnemonic};
use cosmrs::crypto::secp256k1::SigningKey;
use cosmrs::tx::{Body, Fee as CosmrsFee, Msg, SignDoc, SignerInfo as CosmrsSignerInfo};
use cosmrs::{AccountId, Coin, Denom};
use openledger_tests::Node;
use prost::Message;

const CHAIN_ID: &str = "openledger-local-1";

fn dev_key(node: &Node) -> SigningKey {
    let mnemonic = Mnemonic::new(&node.dev_mnemonic, Language::English).expect("24-word mnemonic");
    let seed = mnemonic.to_seed("");
    SigningKey::derive_from_path(seed, &"m/44'/118'/0'/0/0".parse().expect("path")).expect("derive")
}

fn account_id(key: &SigningKey) -> AccountId {
    key.public_key().account_id("open").expect("account id")
}

/// A key from a fixed seed (the recipient never signs; tests stay reproducible).
fn fixed_key(seed: &[u8]) -> SigningKey {
    use sha2::Digest;
    SigningKey::from_slice(&sha2::Sha256::digest(seed)).expect("key")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn grpc_balance(node: &Node, address: &str) -> u128 {
    runtime().block_on(async {
        let mut client = BankClient::connect(node.grpc_url()).await.expect("grpc connect");
        let resp = client.balance(QueryBalanceRequest { address: address.into(), denom: "uopen".into() }).await.expect("balance");
        assert!(resp.metadata().get("x-cosmos-block-height").is_some(), "gRPC answers carry their height");
        resp.into_inner().balance.expect("coin").amount.parse().expect("amount")
    })
}

fn abci_balance(node: &Node, address: &str) -> (u128, i64) {
    let req = QueryBalanceRequest { address: address.into(), denom: "uopen".into() }.encode_to_vec();
    let res = node.rpc().abci_query("/cosmos.bank.v1beta1.Query/Balance", &req, 0, false).expect("abci_query");
    assert_eq!(res.code, 0, "{}", res.log);
    let coin = QueryBalanceResponse::decode(res.value.as_slice()).expect("decode").balance.expect("coin");
    (coin.amount.parse().expect("amount"), res.height)
}

fn grpc_account(node: &Node, address: &str) -> Result<BaseAccount, tonic::Status> {
    runtime().block_on(async {
        let mut client = AuthClient::connect(node.grpc_url()).await.expect("grpc connect");
        let any = client.account(QueryAccountRequest { address: address.into() }).await?.into_inner().account.expect("any");
        assert_eq!(any.type_url, "/cosmos.auth.v1beta1.BaseAccount");
        Ok(BaseAccount::decode(any.value.as_slice()).expect("base account"))
    })
}

fn direct_send(
    key: &SigningKey,
    to: &AccountId,
    amount: u128,
    fee: u128,
    gas: u64,
    account_number: u64,
    sequence: u64,
    chain_id: &str,
) -> Vec<u8> {
    let msg = cosmrs::bank::MsgSend {
        from_address: account_id(key),
        to_address: to.clone(),
        amount: vec![Coin { denom: "uopen".parse::<Denom>().expect("denom"), amount }],
    };
    let body = Body::new(vec![msg.to_any().expect("any")], "cosmrs direct", 0u32);
    let fee = CosmrsFee::from_amount_and_gas(Coin { denom: "uopen".parse().expect("denom"), amount: fee }, gas);
    let auth_info = CosmrsSignerInfo::single_direct(Some(key.public_key()), sequence).auth_info(fee);
    let doc = SignDoc::new(&body, &auth_info, &chain_id.parse().expect("chain id"), account_number).expect("sign doc");
    doc.sign(key).expect("sign").to_bytes().expect("bytes")
}

/// Amino JSON signing done by hand, independent of the app's encoder: keys sorted, integers
/// as strings, `<`/`>` escaped.
fn amino_send(
    key: &SigningKey,
    to: &str,
    amount: u128,
    fee: u128,
    gas: u64,
    account_number: u64,
    sequence: u64,
    memo_raw: &str,
    memo_json: &str,
) -> Vec<u8> {
    let from = account_id(key).to_string();
    let sign_doc = format!(
        r#"{{"account_number":"{account_number}","chain_id":"{CHAIN_ID}","fee":{{"amount":[{{"amount":"{fee}","denom":"uopen"}}],"gas":"{gas}"}},"memo":"{memo_json}","msgs":[{{"type":"cosmos-sdk/MsgSend","value":{{"amount":[{{"amount":"{amount}","denom":"uopen"}}],"from_address":"{from}","to_address":"{to}"}}}}],"sequence":"{sequence}"}}"#
    );
    let signature = key.sign(sign_doc.as_bytes()).expect("sign").to_vec();
    let msg = ProtoMsgSend {
        from_address: from,
        to_address: to.into(),
        amount: vec![ProtoCoin { denom: "uopen".into(), amount: amount.to_string() }],
    };
    let body = TxBody {
        messages: vec![cosmos_sdk_proto::Any { type_url: "/cosmos.bank.v1beta1.MsgSend".into(), value: msg.encode_to_vec() }],
        memo: memo_raw.into(),
        ..Default::default()
    };
    let pubkey = cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey { key: key.public_key().to_bytes() };
    #[allow(deprecated)]
    let auth_info = AuthInfo {
        signer_infos: vec![SignerInfo {
            public_key: Some(cosmos_sdk_proto::Any { type_url: "/cosmos.crypto.secp256k1.PubKey".into(), value: pubkey.encode_to_vec() }),
            mode_info: Some(ModeInfo { sum: Some(mode_info::Sum::Single(mode_info::Single { mode: SignMode::LegacyAminoJson as i32 })) }),
            sequence,
        }],
        fee: Some(Fee {
            amount: vec![ProtoCoin { denom: "uopen".into(), amount: fee.to_string() }],
            gas_limit: gas,
            payer: String::new(),
            granter: String::new(),
        }),
        tip: None,
    };
    TxRaw { body_bytes: body.encode_to_vec(), auth_info_bytes: auth_info.encode_to_vec(), signatures: vec![signature] }.encode_to_vec()
}

fn broadcast_and_wait(node: &Node, tx: &[u8]) -> openledger_app::rpc_client::IndexedTx {
    let rpc = node.rpc();
    let res = rpc.broadcast_tx_sync(tx).expect("broadcast");
    assert_eq!(res.code, 0, "CheckTx rejected: {} {}", res.codespace, res.log);
    let included = rpc.wait_for_tx(&res.hash, Duration::from_secs(30)).expect("tx_search").expect("tx included");
    assert_eq!(included.code, 0, "tx failed: {}", included.log);
    included
}

#[test]
fn wallet_flow_direct_and_amino_sends_with_fees_sequences_and_queries() {
    let node = Node::start();
    let dev = dev_key(&node);
    let dev_addr = account_id(&dev);
    assert_eq!(dev_addr.to_string(), node.dev_address, "cosmrs derives the same address as openledgerd");
    let recipient = account_id(&fixed_key(b"wallet-flow-recipient"));

    let status = node.rpc().status().expect("status");
    assert!(status["node_info"]["version"].as_str().unwrap_or_default().starts_with("0.38."), "CosmJS needs a 0.38 version");

    // Missing account: gRPC NotFound and ABCI code 22 with the SDK's log.
    let err = grpc_account(&node, recipient.as_ref()).expect_err("not found");
    assert_eq!(err.code(), tonic::Code::NotFound);
    let q = node
        .rpc()
        .abci_query("/cosmos.auth.v1beta1.Query/Account", &QueryAccountRequest { address: recipient.to_string() }.encode_to_vec(), 0, false)
        .expect("query");
    assert_eq!((q.code, q.codespace.as_str()), (22, "sdk"));
    assert!(q.log.starts_with("rpc error: code = NotFound desc = ") && q.log.ends_with("key not found"), "{}", q.log);
    assert!(q.height > 0, "queries always carry a height");

    let before = grpc_balance(&node, &node.dev_address);
    let account = grpc_account(&node, &node.dev_address).expect("dev account");
    assert_eq!(account.sequence, 0);

    // Simulate over gRPC with a CosmJS-style tx (no fee, no signature) gives a gas estimate.
    let mut probe_raw =
        TxRaw::decode(direct_send(&dev, &recipient, 1_000_000, 0, 0, account.account_number, 0, CHAIN_ID).as_slice()).expect("raw");
    probe_raw.signatures = vec![Vec::new()];
    let sim = runtime().block_on(async {
        let mut client = TxClient::connect(node.grpc_url()).await.expect("connect");
        #[allow(deprecated)]
        client.simulate(SimulateRequest { tx: None, tx_bytes: probe_raw.encode_to_vec() }).await.expect("simulate").into_inner()
    });
    let gas_used = sim.gas_info.expect("gas info").gas_used;
    assert!(gas_used > 10_000, "a send costs real gas, got {gas_used}");
    let gas = gas_used * 14 / 10 + 1;
    let fee = (u128::from(gas) * 25).div_ceil(1000);

    // 1. SIGN_MODE_DIRECT through cosmrs.
    let tx = direct_send(&dev, &recipient, 1_000_000, fee, gas, account.account_number, 0, CHAIN_ID);
    let included = broadcast_and_wait(&node, &tx);
    assert!(included.gas_used > 0 && included.gas_used <= i64::try_from(gas).expect("gas"));
    assert_eq!(grpc_balance(&node, recipient.as_ref()), 1_000_000);
    let (after_abci, height) = abci_balance(&node, &node.dev_address);
    assert!(height >= included.height);
    assert_eq!(after_abci, before - 1_000_000 - fee, "exactly amount + fee left the sender");
    assert_eq!(grpc_balance(&node, &node.dev_address), after_abci, "gRPC and abci_query agree");
    let account = grpc_account(&node, &node.dev_address).expect("dev account");
    assert_eq!(account.sequence, 1);
    assert!(account.pub_key.is_some(), "the public key is recorded by the first tx");

    // GetTx over gRPC finds it, with the SDK's TxResponse fields.
    let got = runtime().block_on(async {
        let mut client = TxClient::connect(node.grpc_url()).await.expect("connect");
        client.get_tx(GetTxRequest { hash: included.hash.clone() }).await.expect("get tx").into_inner()
    });
    let resp = got.tx_response.expect("tx response");
    assert_eq!(resp.txhash, included.hash);
    assert_eq!(resp.height, included.height);
    assert!(resp.events.iter().any(|e| e.r#type == "transfer"));

    // 2. LEGACY_AMINO_JSON with a memo that needs HTML escaping.
    let tx = amino_send(&dev, recipient.as_ref(), 5, 5000, 200_000, account.account_number, 1, "<a&b>", r"\u003ca\u0026b\u003e");
    broadcast_and_wait(&node, &tx);
    assert_eq!(grpc_balance(&node, recipient.as_ref()), 1_000_005);
    assert_eq!(grpc_balance(&node, &node.dev_address), after_abci - 5 - 5000);
    assert_eq!(grpc_account(&node, &node.dev_address).expect("dev").sequence, 2);

    // tx_search by message.sender finds both (the event CosmJS's searchTx uses).
    let (found, total) = node.rpc().tx_search(&format!("message.sender='{}'", node.dev_address), 1, 30, false).expect("search");
    assert_eq!(total, 2);
    assert_eq!(found.len(), 2);
    // GetTxsEvent with ORDER_BY_DESC (what explorers ask for): newest first.
    let newest_first = runtime().block_on(async {
        let mut client =
            cosmos_sdk_proto::cosmos::tx::v1beta1::service_client::ServiceClient::connect(node.grpc_url()).await.expect("grpc connect");
        #[allow(deprecated)]
        let req = cosmos_sdk_proto::cosmos::tx::v1beta1::GetTxsEventRequest {
            query: format!("message.sender='{}'", node.dev_address),
            order_by: cosmos_sdk_proto::cosmos::tx::v1beta1::OrderBy::Desc as i32,
            ..Default::default()
        };
        client.get_txs_event(req).await.expect("GetTxsEvent").into_inner().tx_responses
    });
    let hashes: Vec<&str> = newest_first.iter().map(|r| r.txhash.as_str()).collect();
    assert_eq!(hashes, found.iter().rev().map(|t| t.hash.as_str()).collect::<Vec<_>>(), "descending order");
    // (CometBFT >= 0.37's kv indexer matches AND-ed conditions only within one event, so
    // each event kind is searched on its own, as on every SDK chain.)
    let (by_transfer, _) = node.rpc().tx_search(&format!("transfer.recipient='{recipient}'"), 1, 30, false).expect("search");
    assert_eq!(by_transfer.len(), 2);
    let (by_spent, _) = node
        .rpc()
        .tx_search(&format!("coin_spent.spender='{}' AND coin_spent.amount='5uopen'", node.dev_address), 1, 30, false)
        .expect("search");
    assert_eq!(by_spent.len(), 1, "conditions on one event combine");

    // 3. Mempool rejections: never reach a block, change nothing.
    let rpc = node.rpc();
    let balance = grpc_balance(&node, &node.dev_address);
    let wrong_seq = direct_send(&dev, &recipient, 7, 5000, 200_000, account.account_number, 0, CHAIN_ID);
    let r = rpc.broadcast_tx_sync(&wrong_seq).expect("broadcast");
    assert_eq!((r.code, r.codespace.as_str()), (32, "sdk"), "{}", r.log);
    assert!(r.log.contains("account sequence mismatch, expected 2, got 0"), "{}", r.log);
    let wrong_chain = direct_send(&dev, &recipient, 7, 5000, 200_000, account.account_number, 2, "other-chain");
    let r = rpc.broadcast_tx_sync(&wrong_chain).expect("broadcast");
    assert_eq!((r.code, r.codespace.as_str()), (4, "sdk"), "{}", r.log);
    let mut bad_sig =
        TxRaw::decode(direct_send(&dev, &recipient, 7, 5000, 200_000, account.account_number, 2, CHAIN_ID).as_slice()).expect("raw");
    bad_sig.signatures[0][10] ^= 0xff;
    let r = rpc.broadcast_tx_sync(&bad_sig.encode_to_vec()).expect("broadcast");
    assert_eq!((r.code, r.codespace.as_str()), (4, "sdk"), "{}", r.log);
    let low_fee = direct_send(&dev, &recipient, 7, 1, 200_000, account.account_number, 2, CHAIN_ID);
    let r = rpc.broadcast_tx_sync(&low_fee).expect("broadcast");
    assert_eq!((r.code, r.codespace.as_str()), (13, "sdk"), "{}", r.log);
    let r = rpc.broadcast_tx_sync(b"\xff\x00garbage").expect("broadcast");
    assert_eq!((r.code, r.codespace.as_str()), (2, "sdk"), "{}", r.log);
    let start = node.height();
    node.wait_for_height(start + 2, Duration::from_secs(30));
    assert_eq!(grpc_balance(&node, &node.dev_address), balance, "rejected txs changed nothing");
    assert_eq!(grpc_account(&node, &node.dev_address).expect("dev").sequence, 2);
    assert!(!node.app_log().contains("panicked"), "the node never panics on input");
}

#[test]
fn crash_with_sigkill_restarts_without_app_hash_mismatch_or_lost_txs() {
    let mut node = Node::start();
    let dev = dev_key(&node);
    let recipient = account_id(&fixed_key(b"crash-recipient"));
    let account = grpc_account(&node, &node.dev_address).expect("dev");
    let mut sequence = account.sequence;
    let mut expected = 0u128;
    for round in 0..3u64 {
        // A committed tx before each crash.
        let tx = direct_send(&dev, &recipient, 1000 + u128::from(round), 5000, 200_000, account.account_number, sequence, CHAIN_ID);
        broadcast_and_wait(&node, &tx);
        sequence += 1;
        expected += 1000 + u128::from(round);
        // Kill the app while blocks are being made (at a varying point of the block cycle).
        std::thread::sleep(Duration::from_millis(70 * round + 30));
        let height_at_kill = node.height();
        node.kill_app();
        // CometBFT loses its ABCI connection; stop it the same way an operator's supervisor would.
        std::thread::sleep(Duration::from_millis(300));
        node.kill_comet();
        node.start_app();
        node.start_comet();
        node.wait_for_height(height_at_kill + 3, Duration::from_secs(60));
        assert_eq!(grpc_balance(&node, recipient.as_ref()), expected, "committed txs survive the crash");
        assert_eq!(grpc_account(&node, &node.dev_address).expect("dev").sequence, sequence);
    }
    let log = node.comet_log();
    assert!(!log.contains("wrong Block.Header.AppHash"), "no app hash mismatch after restarts");
    assert!(!log.contains("state.AppHash does not match"), "no app hash mismatch after restarts");
}
