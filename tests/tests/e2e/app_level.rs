//! Bad input against the in-process app: every malformed, unauthorized or unaffordable tx gets
//! the Cosmos SDK's exact `(codespace, code)` from CheckTx and from FinalizeBlock, with a clear
//! log, and changes no balance and no sequence beyond what the SDK itself changes (a tx whose
//! ante passed pays its fee and bumps its sequence even when its messages fail). Also Simulate
//! with a CosmJS-style unsigned tx (fee "auto") and the query surface (NotFound, heights, zero
//! balances, ICS23 proofs against the app hash).
//!
//! The helpers at the top (`pub(crate)`) are shared with `determinism.rs`.

use cosmos_sdk_proto::cosmos::auth::v1beta1::{BaseAccount, QueryAccountRequest, QueryAccountResponse};
use cosmos_sdk_proto::cosmos::bank::v1beta1::{
    MsgSend, QueryAllBalancesRequest, QueryAllBalancesResponse, QueryBalanceRequest, QueryBalanceResponse,
};
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    mode_info, AuthInfo, Fee, ModeInfo, SignDoc, SignerInfo, SimulateRequest, SimulateResponse, TxBody, TxRaw,
};
use cosmos_sdk_proto::Any;
use openledger_app::app::App;
use openledger_app::client::{sign_tx, SignModeChoice, TxSpec};
use openledger_app::home::local_app_genesis;
use openledger_app::keys::AccountKey;
use openledger_app::modules::{AppGenesis, FEE_COLLECTOR};
use openledger_auth::genesis::AccountJson;
use openledger_auth::keeper::{secp256k1_pubkey_any, Account};
use openledger_bank::genesis::{BalanceJson, CoinJson};
use openledger_core::storage::{verify_proof, Storage};
use openledger_core::Address;
use prost::Message;
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;

/// Chain id of every in-process test chain.
pub(crate) const CHAIN_ID: &str = "openledger-test-1";
/// The fee and staking denom.
pub(crate) const DENOM: &str = "uopen";
/// What the dev account of [`local_app_genesis`] holds.
pub(crate) const DEV_FUNDS: u128 = 483_000_000_000_000;
/// Gas limit of an ordinary test tx.
pub(crate) const GAS: u64 = 200_000;

/// A deterministic secp256k1 key (`seed` must be non-zero).
pub(crate) fn key(seed: u8) -> AccountKey {
    AccountKey::from_secret(&[seed; 32]).expect("valid secret")
}

/// The dev key (funded by [`local_app_genesis`], account number 0).
pub(crate) fn dev() -> AccountKey {
    key(1)
}

/// `ceil(gas × 0.025)` uopen: the minimum fee at the genesis gas price.
pub(crate) fn min_fee(gas: u64) -> u128 {
    (u128::from(gas) * 25).div_ceil(1000)
}

/// `amount` uopen as a proto coin list.
pub(crate) fn coins(amount: u128) -> Vec<ProtoCoin> {
    vec![ProtoCoin { denom: DENOM.into(), amount: amount.to_string() }]
}

/// The local genesis (dev account funded) plus `extra` accounts with the given uopen balances,
/// numbered 1, 2, … in order; the supply is adjusted so that genesis validates.
pub(crate) fn genesis_with(extra: &[(Address, u128)]) -> AppGenesis {
    let mut genesis = local_app_genesis(&dev().address());
    for (i, (address, amount)) in extra.iter().enumerate() {
        genesis.auth.accounts.push(AccountJson {
            address: address.to_bech32(),
            account_number: u64::try_from(i).expect("small") + 1,
            sequence: 0,
            module_name: None,
            permissions: vec![],
        });
        genesis
            .bank
            .balances
            .push(BalanceJson { address: address.to_bech32(), coins: vec![CoinJson { denom: DENOM.into(), amount: *amount }] });
        genesis.bank.supply[0].amount += amount;
    }
    genesis
}

/// Runs InitChain with `genesis` on `app` and returns the genesis app hash.
pub(crate) fn init_app(app: &App, genesis: &AppGenesis) -> Vec<u8> {
    let req = pb::RequestInitChain {
        time: Some(Timestamp { seconds: 1_700_000_000, nanos: 0 }),
        chain_id: CHAIN_ID.into(),
        app_state_bytes: serde_json::to_vec(genesis).expect("genesis serializes").into(),
        initial_height: 1,
        ..Default::default()
    };
    app.init_chain(&req).expect("init_chain").app_hash.to_vec()
}

/// A fresh app on a temporary store, initialised with `genesis`.
pub(crate) fn new_app(genesis: &AppGenesis) -> App {
    let app = App::with_storage(Storage::temporary().expect("temporary store"));
    init_app(&app, genesis);
    app
}

/// The next height to finalize.
pub(crate) fn next_height(app: &App) -> i64 {
    i64::try_from(app.storage().last_committed().0).expect("height fits") + 1
}

/// FinalizeBlock (at the next height, with a deterministic block time) without Commit.
pub(crate) fn finalize(app: &App, txs: &[Vec<u8>]) -> pb::ResponseFinalizeBlock {
    let height = next_height(app);
    let req = pb::RequestFinalizeBlock {
        txs: txs.iter().map(|t| t.clone().into()).collect(),
        height,
        time: Some(Timestamp { seconds: 1_700_000_000 + height, nanos: 0 }),
        ..Default::default()
    };
    app.finalize_block(&req).expect("finalize_block")
}

/// FinalizeBlock + Commit of one block; checks that the committed app hash is the one
/// FinalizeBlock announced.
pub(crate) fn run_block(app: &App, txs: &[Vec<u8>]) -> pb::ResponseFinalizeBlock {
    let resp = finalize(app, txs);
    assert_eq!(resp.tx_results.len(), txs.len());
    app.commit().expect("commit");
    let (_, committed) = app.storage().last_committed();
    assert_eq!(resp.app_hash.to_vec(), committed.to_vec(), "committed app hash differs from FinalizeBlock's");
    resp
}

/// ABCI Query at the latest height.
pub(crate) fn query(app: &App, path: &str, data: Vec<u8>) -> pb::ResponseQuery {
    app.query(&pb::RequestQuery { data: data.into(), path: path.into(), height: 0, prove: false })
}

/// The uopen (or `denom`) balance through `/cosmos.bank.v1beta1.Query/Balance`.
pub(crate) fn balance_of(app: &App, address: &Address, denom: &str) -> u128 {
    let res = query(
        app,
        "/cosmos.bank.v1beta1.Query/Balance",
        QueryBalanceRequest { address: address.to_bech32(), denom: denom.into() }.encode_to_vec(),
    );
    assert_eq!(res.code, 0, "balance query failed: {}", res.log);
    assert!(res.height > 0);
    let coin = QueryBalanceResponse::decode(res.value.as_ref()).expect("balance response").balance.expect("balance set");
    assert_eq!(coin.denom, denom);
    coin.amount.parse().expect("integer amount")
}

/// uopen balance.
pub(crate) fn balance(app: &App, address: &Address) -> u128 {
    balance_of(app, address, DENOM)
}

/// The account through `/cosmos.auth.v1beta1.Query/Account`; `None` on NotFound.
pub(crate) fn account(app: &App, address: &Address) -> Option<BaseAccount> {
    let res = query(app, "/cosmos.auth.v1beta1.Query/Account", QueryAccountRequest { address: address.to_bech32() }.encode_to_vec());
    if res.code == 22 {
        return None;
    }
    assert_eq!(res.code, 0, "account query failed: {}", res.log);
    let any = QueryAccountResponse::decode(res.value.as_ref()).expect("account response").account.expect("account set");
    Some(Account::from_any(&any).expect("known account type").base().clone())
}

/// Sequence of an existing account.
pub(crate) fn sequence(app: &App, address: &Address) -> u64 {
    account(app, address).expect("account exists").sequence
}

/// A `MsgSend` of `amount` uopen.
pub(crate) fn send_msg(from: &Address, to: &Address, amount: u128) -> Any {
    Any::from_msg(&MsgSend { from_address: from.to_bech32(), to_address: to.to_bech32(), amount: coins(amount) }).expect("encodes")
}

/// Signs `msgs` for `key` with an explicit gas limit and fee, reading the account number and
/// sequence from the app unless `sequence` overrides it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sign_with(
    app: &App,
    key: &AccountKey,
    msgs: Vec<Any>,
    gas: u64,
    fee: u128,
    sequence: Option<u64>,
    mode: SignModeChoice,
    memo: &str,
) -> Vec<u8> {
    let acc = account(app, &key.address()).expect("signer exists");
    sign_tx(&TxSpec {
        key,
        chain_id: CHAIN_ID,
        account_number: acc.account_number,
        sequence: sequence.unwrap_or(acc.sequence),
        msgs,
        fee: coins(fee),
        gas_limit: gas,
        memo: memo.into(),
        mode,
    })
    .expect("sign")
}

/// A signed `MsgSend` paying the minimum fee for [`GAS`].
pub(crate) fn signed_send(app: &App, key: &AccountKey, to: &Address, amount: u128) -> Vec<u8> {
    sign_with(app, key, vec![send_msg(&key.address(), to, amount)], GAS, min_fee(GAS), None, SignModeChoice::Direct, "")
}

/// Balances and sequences of the given accounts and the fee collector's balance.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    balances: Vec<u128>,
    sequences: Vec<Option<u64>>,
    fee_collector: u128,
}

/// Takes a [`Snapshot`].
pub(crate) fn snapshot(app: &App, addresses: &[Address]) -> Snapshot {
    Snapshot {
        balances: addresses.iter().map(|a| balance(app, a)).collect(),
        sequences: addresses.iter().map(|a| account(app, a).map(|acc| acc.sequence)).collect(),
        fee_collector: balance(app, &Address::module(FEE_COLLECTOR)),
    }
}

// ---------------------------------------------------------------------------------------------

/// A funded test account (`alice`, account number 1) and a recipient (`bob`, number 2).
struct Fixture {
    app: App,
    alice: AccountKey,
    bob: AccountKey,
}

const ALICE_FUNDS: u128 = 10_000_000;
const BOB_FUNDS: u128 = 1_000;

fn fixture() -> Fixture {
    let alice = key(2);
    let bob = key(3);
    let app = new_app(&genesis_with(&[(alice.address(), ALICE_FUNDS), (bob.address(), BOB_FUNDS)]));
    // Block 1 commits genesis, so queries and CheckTx see it.
    run_block(&app, &[]);
    Fixture { app, alice, bob }
}

impl Fixture {
    fn parties(&self) -> Vec<Address> {
        vec![self.alice.address(), self.bob.address(), dev().address()]
    }
}

/// Asserts the tx is rejected by CheckTx and by FinalizeBlock with `(codespace, code)` and a log
/// containing `log`, and that nothing changed at all.
fn assert_rejected_without_effect(f: &Fixture, tx: &[u8], codespace: &str, code: u32, log: &str) {
    let before = snapshot(&f.app, &f.parties());
    let check = f.app.check_tx(&pb::RequestCheckTx { tx: tx.to_vec().into(), r#type: 0 });
    assert_eq!((check.codespace.as_str(), check.code), (codespace, code), "CheckTx log: {}", check.log);
    assert!(check.log.contains(log), "CheckTx log {:?} lacks {log:?}", check.log);
    let resp = run_block(&f.app, &[tx.to_vec()]);
    let result = &resp.tx_results[0];
    assert_eq!((result.codespace.as_str(), result.code), (codespace, code), "FinalizeBlock log: {}", result.log);
    assert!(result.log.contains(log), "FinalizeBlock log {:?} lacks {log:?}", result.log);
    assert_eq!(snapshot(&f.app, &f.parties()), before, "a rejected tx changed state");
}

/// Asserts CheckTx accepts the tx (the SDK runs only the ante there) and FinalizeBlock fails it
/// with `(codespace, code)`: the fee is charged and the sequence bumped, nothing else changes.
fn assert_fails_paying_fee(
    f: &Fixture,
    signer: &AccountKey,
    tx: &[u8],
    fee: u128,
    codespace: &str,
    code: u32,
    log: &str,
) -> pb::ExecTxResult {
    let parties = f.parties();
    let before = snapshot(&f.app, &parties);
    let check = f.app.check_tx(&pb::RequestCheckTx { tx: tx.to_vec().into(), r#type: 0 });
    assert_eq!(check.code, 0, "CheckTx should pass the ante: {}", check.log);
    let resp = run_block(&f.app, &[tx.to_vec()]);
    let result = resp.tx_results[0].clone();
    assert_eq!((result.codespace.as_str(), result.code), (codespace, code), "FinalizeBlock log: {}", result.log);
    assert!(result.log.contains(log), "FinalizeBlock log {:?} lacks {log:?}", result.log);
    let after = snapshot(&f.app, &parties);
    let idx = parties.iter().position(|a| *a == signer.address()).expect("signer is a party");
    let mut expected = before;
    expected.balances[idx] -= fee;
    expected.sequences[idx] = expected.sequences[idx].map(|s| s + 1);
    expected.fee_collector += fee;
    assert_eq!(after, expected, "only the fee and the sequence may change");
    result
}

#[test]
fn a_valid_send_moves_funds_pays_the_fee_and_bumps_the_sequence() {
    let f = fixture();
    let fee = min_fee(GAS);
    let tx = signed_send(&f.app, &f.alice, &f.bob.address(), 1234);
    let check = f.app.check_tx(&pb::RequestCheckTx { tx: tx.clone().into(), r#type: 0 });
    assert_eq!(check.code, 0, "{}", check.log);
    let resp = run_block(&f.app, &[tx]);
    assert_eq!(resp.tx_results[0].code, 0, "{}", resp.tx_results[0].log);
    assert!(resp.tx_results[0].gas_used > 0 && resp.tx_results[0].gas_used <= resp.tx_results[0].gas_wanted);
    assert_eq!(balance(&f.app, &f.alice.address()), ALICE_FUNDS - 1234 - fee);
    assert_eq!(balance(&f.app, &f.bob.address()), BOB_FUNDS + 1234);
    assert_eq!(balance(&f.app, &Address::module(FEE_COLLECTOR)), fee);
    assert_eq!(sequence(&f.app, &f.alice.address()), 1);
}

#[test]
fn malformed_bytes_are_a_decode_error() {
    let f = fixture();
    assert_rejected_without_effect(&f, b"\xff\xff\xff\x01not a tx", "sdk", 2, "tx parse error");
    // A TxRaw whose body bytes are not a TxBody.
    let raw = TxRaw { body_bytes: vec![0xff, 0xff, 0xff], auth_info_bytes: vec![], signatures: vec![vec![0; 64]] }.encode_to_vec();
    assert_rejected_without_effect(&f, &raw, "sdk", 2, "tx parse error");
}

#[test]
fn a_bad_signature_is_unauthorized() {
    let f = fixture();
    let tx = signed_send(&f.app, &f.alice, &f.bob.address(), 1);
    let mut raw = TxRaw::decode(tx.as_slice()).unwrap();
    raw.signatures[0][10] ^= 0x01;
    assert_rejected_without_effect(&f, &raw.encode_to_vec(), "sdk", 4, "signature verification failed");
    // A signature by another key over the right bytes.
    let acc = account(&f.app, &f.alice.address()).unwrap();
    let mut raw = TxRaw::decode(tx.as_slice()).unwrap();
    let doc = SignDoc {
        body_bytes: raw.body_bytes.clone(),
        auth_info_bytes: raw.auth_info_bytes.clone(),
        chain_id: CHAIN_ID.into(),
        account_number: acc.account_number,
    };
    raw.signatures[0] = f.bob.sign(&doc.encode_to_vec());
    assert_rejected_without_effect(&f, &raw.encode_to_vec(), "sdk", 4, "signature verification failed");
}

#[test]
fn signatures_verified_ahead_of_the_block_give_what_the_sequential_pass_gives() {
    let f = fixture();
    // Amounts no other test sends: the verify cache is the process's, shared by the tests that
    // run in parallel, and a tx another test admitted byte for byte would not be prepared here.
    let first = signed_send(&f.app, &f.alice, &f.bob.address(), 9_101);
    // Alice's next sends, signed ahead at the sequences they will have in the block.
    let next = sequence(&f.app, &f.alice.address());
    let send_at = |offset: u64, amount: u128| {
        let msgs = vec![send_msg(&f.alice.address(), &f.bob.address(), amount)];
        sign_with(&f.app, &f.alice, msgs, GAS, min_fee(GAS), Some(next + offset), SignModeChoice::Direct, "")
    };
    let second = send_at(1, 9_102);
    let third = send_at(2, 9_104);
    let mut forged = TxRaw::decode(third.as_slice()).unwrap();
    forged.signatures[0][10] ^= 0x01;
    let forged = forged.encode_to_vec();
    let block = vec![first, second, forged, b"not a tx".to_vec()];
    // Ahead of the block: three signatures to check (the garbage has none).
    let state = openledger_core::StateDelta::new(openledger_core::state::LatestSnapshot(f.app.storage().clone()));
    let ahead = openledger_app::ante::BlockSignatures::prepare(f.app.modules(), &state, CHAIN_ID, &block);
    assert_eq!(ahead.len(), 3);
    drop(ahead);
    // FinalizeBlock checks them on its helper threads (one per extra core) while it runs the
    // txs: the valid ones pass, the forged one is refused as the sequential check refuses it.
    let before = balance(&f.app, &f.bob.address());
    let resp = run_block(&f.app, &block);
    let codes: Vec<u32> = resp.tx_results.iter().map(|r| r.code).collect();
    assert_eq!(codes, vec![0, 0, 4, 2], "logs: {:?}", resp.tx_results.iter().map(|r| &r.log).collect::<Vec<_>>());
    assert_eq!(balance(&f.app, &f.bob.address()), before + 9_101 + 9_102);
    assert_eq!(sequence(&f.app, &f.alice.address()), 2);
}

#[test]
fn a_wrong_chain_id_in_the_sign_doc_is_unauthorized() {
    let f = fixture();
    let acc = account(&f.app, &f.alice.address()).unwrap();
    for mode in [SignModeChoice::Direct, SignModeChoice::AminoJson] {
        let tx = sign_tx(&TxSpec {
            key: &f.alice,
            chain_id: "some-other-chain",
            account_number: acc.account_number,
            sequence: acc.sequence,
            msgs: vec![send_msg(&f.alice.address(), &f.bob.address(), 5)],
            fee: coins(min_fee(GAS)),
            gas_limit: GAS,
            memo: String::new(),
            mode,
        })
        .unwrap();
        assert_rejected_without_effect(&f, &tx, "sdk", 4, &format!("chain-id ({CHAIN_ID})"));
    }
}

#[test]
fn a_wrong_sequence_is_rejected() {
    let f = fixture();
    let tx = sign_with(
        &f.app,
        &f.alice,
        vec![send_msg(&f.alice.address(), &f.bob.address(), 5)],
        GAS,
        min_fee(GAS),
        Some(5),
        SignModeChoice::Direct,
        "",
    );
    assert_rejected_without_effect(&f, &tx, "sdk", 32, "account sequence mismatch, expected 0, got 5");
}

#[test]
fn insufficient_funds_for_the_send_charges_the_fee_and_bumps_the_sequence() {
    let f = fixture();
    let fee = min_fee(GAS);
    let tx = signed_send(&f.app, &f.alice, &f.bob.address(), ALICE_FUNDS);
    assert_fails_paying_fee(&f, &f.alice, &tx, fee, "sdk", 5, "failed to execute message; message index: 0");
    assert_eq!(balance(&f.app, &f.alice.address()), ALICE_FUNDS - fee);
}

#[test]
fn insufficient_funds_for_the_fee_changes_nothing() {
    let f = fixture();
    // Bob holds 1,000 uopen but the fee for 200,000 gas is 5,000.
    let tx = signed_send(&f.app, &f.bob, &f.alice.address(), 1);
    assert_rejected_without_effect(&f, &tx, "sdk", 5, "insufficient funds to pay fees");
}

#[test]
fn a_fee_below_the_minimum_gas_price_is_rejected() {
    let f = fixture();
    let tx = sign_with(
        &f.app,
        &f.alice,
        vec![send_msg(&f.alice.address(), &f.bob.address(), 5)],
        GAS,
        min_fee(GAS) - 1,
        None,
        SignModeChoice::Direct,
        "",
    );
    assert_rejected_without_effect(&f, &tx, "sdk", 13, "insufficient fees; got: 4999uopen required: 5000uopen");
    // No fee at all.
    let acc = account(&f.app, &f.alice.address()).unwrap();
    let tx = sign_tx(&TxSpec {
        key: &f.alice,
        chain_id: CHAIN_ID,
        account_number: acc.account_number,
        sequence: acc.sequence,
        msgs: vec![send_msg(&f.alice.address(), &f.bob.address(), 5)],
        fee: vec![],
        gas_limit: GAS,
        memo: String::new(),
        mode: SignModeChoice::Direct,
    })
    .unwrap();
    assert_rejected_without_effect(&f, &tx, "sdk", 13, "insufficient fee");
}

#[test]
fn out_of_gas_in_the_messages_pays_the_fee_and_skips_the_send() {
    let f = fixture();
    // Gas of the whole tx, from Simulate; then a limit the ante fits in but the send does not.
    let probe = signed_send(&f.app, &f.alice, &f.bob.address(), 77);
    let full = simulate(&f.app, &probe).gas_info.unwrap().gas_used;
    let limit = full - 5_000;
    let fee = min_fee(limit);
    let tx =
        sign_with(&f.app, &f.alice, vec![send_msg(&f.alice.address(), &f.bob.address(), 77)], limit, fee, None, SignModeChoice::Direct, "");
    let result = assert_fails_paying_fee(&f, &f.alice, &tx, fee, "sdk", 11, "out of gas");
    assert_eq!(result.gas_wanted, i64::try_from(limit).unwrap());
}

#[test]
fn out_of_gas_in_the_ante_changes_nothing() {
    let f = fixture();
    let tx = sign_with(
        &f.app,
        &f.alice,
        vec![send_msg(&f.alice.address(), &f.bob.address(), 5)],
        1_000,
        min_fee(1_000),
        None,
        SignModeChoice::Direct,
        "",
    );
    assert_rejected_without_effect(&f, &tx, "sdk", 11, "out of gas");
}

#[test]
fn an_unknown_message_type_is_a_decode_error() {
    let f = fixture();
    let msg = Any { type_url: "/cosmos.gov.v1beta1.MsgNotAThing".into(), value: vec![1, 2, 3] };
    let acc = account(&f.app, &f.alice.address()).unwrap();
    // SIGN_MODE_DIRECT signs bytes, so the client signs a message type it does not know.
    let tx = sign_tx(&TxSpec {
        key: &f.alice,
        chain_id: CHAIN_ID,
        account_number: acc.account_number,
        sequence: acc.sequence,
        msgs: vec![msg],
        fee: coins(min_fee(GAS)),
        gas_limit: GAS,
        memo: String::new(),
        mode: SignModeChoice::Direct,
    })
    .unwrap();
    assert_rejected_without_effect(&f, &tx, "sdk", 2, "unable to resolve type URL /cosmos.gov.v1beta1.MsgNotAThing");
}

#[test]
fn an_oversized_memo_is_rejected() {
    let f = fixture();
    let ok_memo = "m".repeat(256);
    let tx = sign_with(
        &f.app,
        &f.alice,
        vec![send_msg(&f.alice.address(), &f.bob.address(), 5)],
        GAS,
        min_fee(GAS),
        None,
        SignModeChoice::Direct,
        &"m".repeat(257),
    );
    assert_rejected_without_effect(&f, &tx, "sdk", 12, "maximum number of characters is 256 but received 257 characters");
    // Exactly at the limit is fine.
    let tx = sign_with(
        &f.app,
        &f.alice,
        vec![send_msg(&f.alice.address(), &f.bob.address(), 5)],
        GAS,
        min_fee(GAS),
        None,
        SignModeChoice::Direct,
        &ok_memo,
    );
    assert_eq!(run_block(&f.app, &[tx]).tx_results[0].code, 0);
}

#[test]
fn a_tx_over_max_tx_bytes_is_rejected() {
    let f = fixture();
    let mut raw = TxRaw::decode(signed_send(&f.app, &f.alice, &f.bob.address(), 5).as_slice()).unwrap();
    // A huge signature pushes the tx over max_tx_bytes (1 MiB); the size check comes first.
    raw.signatures[0] = vec![7; 1024 * 1024];
    let tx = raw.encode_to_vec();
    assert!(tx.len() > 1024 * 1024);
    assert_rejected_without_effect(&f, &tx, "sdk", 21, "tx too large");
}

#[test]
fn a_tx_without_signatures_is_rejected() {
    let f = fixture();
    let mut raw = TxRaw::decode(signed_send(&f.app, &f.alice, &f.bob.address(), 5).as_slice()).unwrap();
    raw.signatures.clear();
    assert_rejected_without_effect(&f, &raw.encode_to_vec(), "sdk", 15, "no signatures supplied");
}

#[test]
fn high_s_and_truncated_signatures_are_unauthorized() {
    let f = fixture();
    let tx = signed_send(&f.app, &f.alice, &f.bob.address(), 5);
    let raw = TxRaw::decode(tx.as_slice()).unwrap();
    let low = k256::ecdsa::Signature::from_slice(&raw.signatures[0]).unwrap();
    assert!(low.normalize_s().is_none(), "the client signs low-S");
    let (r, s) = low.split_scalars();
    let high = k256::ecdsa::Signature::from_scalars(r, -s).unwrap();
    // The malleated twin of a valid signature: normalizing it gives the original back.
    assert_eq!(high.normalize_s(), Some(low));
    let mut malleated = raw.clone();
    malleated.signatures[0] = high.to_bytes().to_vec();
    assert_rejected_without_effect(&f, &malleated.encode_to_vec(), "sdk", 4, "signature verification failed");
    let mut truncated = raw.clone();
    truncated.signatures[0].truncate(63);
    assert_rejected_without_effect(&f, &truncated.encode_to_vec(), "sdk", 4, "signature verification failed");
    // The untouched tx still goes through: the rejections above were about the signatures.
    assert_eq!(run_block(&f.app, &[tx]).tx_results[0].code, 0);
}

#[test]
fn a_sender_that_does_not_exist_is_an_unknown_address() {
    let f = fixture();
    let ghost = key(99);
    assert!(account(&f.app, &ghost.address()).is_none());
    let tx = sign_tx(&TxSpec {
        key: &ghost,
        chain_id: CHAIN_ID,
        account_number: 0,
        sequence: 0,
        msgs: vec![send_msg(&ghost.address(), &f.bob.address(), 5)],
        fee: coins(min_fee(GAS)),
        gas_limit: GAS,
        memo: String::new(),
        mode: SignModeChoice::Direct,
    })
    .unwrap();
    assert_rejected_without_effect(&f, &tx, "sdk", 9, "does not exist");
    assert!(account(&f.app, &ghost.address()).is_none());
}

#[test]
fn a_failing_second_message_undoes_the_first() {
    let f = fixture();
    let carol = key(4).address();
    let fee = min_fee(GAS);
    let msgs = vec![send_msg(&f.alice.address(), &carol, 100), send_msg(&f.alice.address(), &f.bob.address(), ALICE_FUNDS)];
    let tx = sign_with(&f.app, &f.alice, msgs, GAS, fee, None, SignModeChoice::AminoJson, "");
    assert_fails_paying_fee(&f, &f.alice, &tx, fee, "sdk", 5, "message index: 1");
    assert_eq!(balance(&f.app, &carol), 0);
    assert!(account(&f.app, &carol).is_none(), "the first message's account creation leaked");
}

/// Runs Simulate through ABCI Query and returns the decoded response (asserting success).
pub(crate) fn simulate(app: &App, tx: &[u8]) -> SimulateResponse {
    #[allow(deprecated)]
    let req = SimulateRequest { tx: None, tx_bytes: tx.to_vec() };
    let res = query(app, "/cosmos.tx.v1beta1.Service/Simulate", req.encode_to_vec());
    assert_eq!(res.code, 0, "simulate failed: {} {}", res.codespace, res.log);
    assert!(res.height > 0);
    SimulateResponse::decode(res.value.as_ref()).expect("simulate response")
}

#[test]
fn simulate_accepts_a_cosmjs_style_unsigned_tx_and_its_estimate_is_enough() {
    let f = fixture();
    let acc = account(&f.app, &f.alice.address()).unwrap();
    let msgs = vec![send_msg(&f.alice.address(), &f.bob.address(), 4321)];
    // What CosmJS sends for fee "auto": empty fee, gas 0, SIGN_MODE_UNSPECIFIED, one empty signature.
    let body = TxBody { messages: msgs.clone(), memo: "auto".into(), ..Default::default() };
    let auth_info = AuthInfo {
        signer_infos: vec![SignerInfo {
            public_key: Some(secp256k1_pubkey_any(&f.alice.public_key())),
            mode_info: Some(ModeInfo { sum: Some(mode_info::Sum::Single(mode_info::Single { mode: SignMode::Unspecified as i32 })) }),
            sequence: acc.sequence,
        }],
        fee: Some(Fee { amount: vec![], gas_limit: 0, payer: String::new(), granter: String::new() }),
        #[allow(deprecated)]
        tip: None,
    };
    let unsigned =
        TxRaw { body_bytes: body.encode_to_vec(), auth_info_bytes: auth_info.encode_to_vec(), signatures: vec![vec![]] }.encode_to_vec();
    // Signed for a future (or past) sequence: Simulate refuses it as the SDK does (code 32).
    for wrong in [acc.sequence + 1, acc.sequence.wrapping_sub(1)] {
        let mut bad = auth_info.clone();
        bad.signer_infos[0].sequence = wrong;
        let tx = TxRaw { body_bytes: body.encode_to_vec(), auth_info_bytes: bad.encode_to_vec(), signatures: vec![vec![]] }.encode_to_vec();
        #[allow(deprecated)]
        let req = SimulateRequest { tx: None, tx_bytes: tx };
        let res = query(&f.app, "/cosmos.tx.v1beta1.Service/Simulate", req.encode_to_vec());
        assert_eq!((res.codespace.as_str(), res.code), ("sdk", 32), "{}", res.log);
        assert!(res.log.contains("account sequence mismatch"), "{}", res.log);
    }
    let hash_before = f.app.storage().last_committed();
    let before = snapshot(&f.app, &f.parties());
    let sim = simulate(&f.app, &unsigned);
    // BaseApp's `app/simulate` (raw tx bytes in, the SDK's SimulationResponse out) agrees.
    let raw = query(&f.app, "app/simulate", unsigned.clone());
    assert_eq!(raw.code, 0, "{}", raw.log);
    assert_eq!(SimulateResponse::decode(raw.value.as_ref()).expect("SimulationResponse").gas_info, sim.gas_info);
    let gas_used = sim.gas_info.unwrap().gas_used;
    assert!(gas_used > 0);
    assert!(sim.result.is_some());
    assert_eq!(snapshot(&f.app, &f.parties()), before, "simulate changed state");
    assert_eq!(f.app.storage().last_committed(), hash_before);
    // The mempool state is untouched too: a tx at the same sequence still passes CheckTx.
    let gas = (gas_used * 14).div_ceil(10);
    let fee = min_fee(gas);
    let tx = sign_with(&f.app, &f.alice, msgs, gas, fee, None, SignModeChoice::Direct, "auto");
    let check = f.app.check_tx(&pb::RequestCheckTx { tx: tx.clone().into(), r#type: 0 });
    assert_eq!(check.code, 0, "{}", check.log);
    let resp = run_block(&f.app, &[tx]);
    let result = &resp.tx_results[0];
    assert_eq!(result.code, 0, "{}", result.log);
    assert!(u64::try_from(result.gas_used).unwrap() <= gas);
    assert_eq!(balance(&f.app, &f.alice.address()), ALICE_FUNDS - 4321 - fee);
    assert_eq!(balance(&f.app, &f.bob.address()), BOB_FUNDS + 4321);
}

#[test]
fn simulate_of_a_first_tx_without_pubkey_or_signature_estimates_enough_gas() {
    let f = fixture();
    // Alice has never sent a tx: no public key on record. The simulation carries neither key
    // nor signature (what an SDK client without the key at hand sends).
    assert!(account(&f.app, &f.alice.address()).unwrap().pub_key.is_none());
    let msgs = vec![send_msg(&f.alice.address(), &f.bob.address(), 777)];
    let body = TxBody { messages: msgs.clone(), ..Default::default() };
    let auth_info = AuthInfo {
        signer_infos: vec![SignerInfo {
            public_key: None,
            mode_info: Some(ModeInfo { sum: Some(mode_info::Sum::Single(mode_info::Single { mode: SignMode::Unspecified as i32 })) }),
            sequence: 0,
        }],
        fee: Some(Fee { amount: vec![], gas_limit: 0, payer: String::new(), granter: String::new() }),
        #[allow(deprecated)]
        tip: None,
    };
    let unsigned =
        TxRaw { body_bytes: body.encode_to_vec(), auth_info_bytes: auth_info.encode_to_vec(), signatures: vec![] }.encode_to_vec();
    let before = snapshot(&f.app, &f.parties());
    let gas_used = simulate(&f.app, &unsigned).gas_info.unwrap().gas_used;
    assert_eq!(snapshot(&f.app, &f.parties()), before, "simulate changed state");
    assert!(account(&f.app, &f.alice.address()).unwrap().pub_key.is_none(), "the placeholder key was not stored");
    // The real first tx stores Alice's key: the estimate (× 1.4, as CosmJS) covers it.
    let gas = (gas_used * 14).div_ceil(10);
    let tx = sign_with(&f.app, &f.alice, msgs, gas, min_fee(gas), None, SignModeChoice::Direct, "");
    let resp = run_block(&f.app, &[tx]);
    assert_eq!(resp.tx_results[0].code, 0, "{}", resp.tx_results[0].log);
    assert!(u64::try_from(resp.tx_results[0].gas_used).unwrap() <= gas);
    // Without Simulate, a tx with no signature is still refused.
    let check = f.app.check_tx(&pb::RequestCheckTx { tx: unsigned.into(), r#type: 0 });
    assert_ne!(check.code, 0);
}

#[test]
fn queries_report_not_found_heights_zero_balances_and_proofs() {
    let f = fixture();
    run_block(&f.app, &[signed_send(&f.app, &f.alice, &f.bob.address(), 10)]);
    let latest = i64::try_from(f.app.storage().last_committed().0).unwrap();
    assert_eq!(latest, 2);

    // Missing account: the SDK's NotFound as CosmJS parses it.
    let ghost = key(42).address();
    let res = query(&f.app, "/cosmos.auth.v1beta1.Query/Account", QueryAccountRequest { address: ghost.to_bech32() }.encode_to_vec());
    assert_eq!((res.codespace.as_str(), res.code), ("sdk", 22));
    assert!(res.log.starts_with("rpc error: code = NotFound desc = ") && res.log.ends_with(": key not found"), "{}", res.log);
    assert!(res.value.is_empty());

    // Unknown denom: zero, with the denom echoed.
    let res = query(
        &f.app,
        "/cosmos.bank.v1beta1.Query/Balance",
        QueryBalanceRequest { address: f.alice.address().to_bech32(), denom: "unothing".into() }.encode_to_vec(),
    );
    assert_eq!(res.code, 0, "{}", res.log);
    let coin = QueryBalanceResponse::decode(res.value.as_ref()).unwrap().balance.unwrap();
    assert_eq!((coin.denom.as_str(), coin.amount.as_str()), ("unothing", "0"));

    // Every successful query reports the height it read.
    let successes = [
        ("/cosmos.bank.v1beta1.Query/Balance", QueryBalanceRequest { address: ghost.to_bech32(), denom: DENOM.into() }.encode_to_vec()),
        (
            "/cosmos.bank.v1beta1.Query/AllBalances",
            QueryAllBalancesRequest { address: f.bob.address().to_bech32(), ..Default::default() }.encode_to_vec(),
        ),
        ("/cosmos.auth.v1beta1.Query/Account", QueryAccountRequest { address: f.alice.address().to_bech32() }.encode_to_vec()),
        ("/cosmos.auth.v1beta1.Query/Params", vec![]),
        ("/cosmos.bank.v1beta1.Query/TotalSupply", vec![]),
    ];
    for (path, data) in successes {
        let res = query(&f.app, path, data);
        assert_eq!(res.code, 0, "{path}: {}", res.log);
        assert_eq!(res.height, latest, "{path} reported height {}", res.height);
    }
    let all = QueryAllBalancesResponse::decode(
        query(
            &f.app,
            "/cosmos.bank.v1beta1.Query/AllBalances",
            QueryAllBalancesRequest { address: f.bob.address().to_bech32(), ..Default::default() }.encode_to_vec(),
        )
        .value
        .as_ref(),
    )
    .unwrap();
    assert_eq!(all.balances, coins(BOB_FUNDS + 10));

    // A raw key with an ICS23 proof against the app hash of the height it was read at.
    let key_bytes = openledger_bank::state_key::balance(&f.alice.address().to_bech32(), DENOM);
    let res = f.app.query(&pb::RequestQuery { data: key_bytes.clone().into(), path: "/store/bank/key".into(), height: 0, prove: true });
    assert_eq!(res.code, 0, "{}", res.log);
    assert_eq!(res.height, latest);
    let value = res.value.to_vec();
    let stored = ProtoCoin::decode(value.as_slice()).unwrap();
    assert_eq!(stored.amount, (ALICE_FUNDS - 10 - min_fee(GAS)).to_string());
    let ops = res.proof_ops.expect("proof requested");
    assert_eq!(ops.ops.len(), 1);
    let proof = ics23::CommitmentProof::decode(ops.ops[0].data.as_ref()).unwrap();
    let root = f.app.storage().app_hash_at(u64::try_from(res.height).unwrap()).unwrap().unwrap();
    assert_eq!(root, f.app.storage().last_committed().1);
    assert!(verify_proof(&root, &key_bytes, Some(&value), &proof));
    let mut forged = value.clone();
    *forged.last_mut().unwrap() ^= 1;
    assert!(!verify_proof(&root, &key_bytes, Some(&forged), &proof), "a proof must not verify a different value");
    let older = f.app.storage().app_hash_at(1).unwrap().unwrap();
    assert!(!verify_proof(&older, &key_bytes, Some(&value), &proof), "a proof must not verify against another root");

    // Absence is provable too.
    let missing = openledger_bank::state_key::balance(&ghost.to_bech32(), DENOM);
    let res = f.app.query(&pb::RequestQuery { data: missing.clone().into(), path: "/store/bank/key".into(), height: 0, prove: true });
    assert_eq!(res.code, 0, "{}", res.log);
    assert!(res.value.is_empty());
    let proof = ics23::CommitmentProof::decode(res.proof_ops.unwrap().ops[0].data.as_ref()).unwrap();
    assert!(verify_proof(&root, &missing, None, &proof));
    assert!(!verify_proof(&root, &key_bytes, None, &proof));

    // A past height is served from its own version.
    let res = f.app.query(&pb::RequestQuery {
        data: QueryBalanceRequest { address: f.bob.address().to_bech32(), denom: DENOM.into() }.encode_to_vec().into(),
        path: "/cosmos.bank.v1beta1.Query/Balance".into(),
        height: 1,
        prove: false,
    });
    assert_eq!(res.code, 0, "{}", res.log);
    assert_eq!(res.height, 1);
    assert_eq!(QueryBalanceResponse::decode(res.value.as_ref()).unwrap().balance.unwrap().amount, BOB_FUNDS.to_string());
}

#[test]
fn the_dev_genesis_funds_the_dev_account() {
    let app = new_app(&genesis_with(&[]));
    run_block(&app, &[]);
    assert_eq!(balance(&app, &dev().address()), DEV_FUNDS);
    let acc = account(&app, &dev().address()).unwrap();
    assert_eq!((acc.account_number, acc.sequence), (0, 0));
}

#[test]
fn check_tx_advances_the_mempool_sequence_and_blocks_reject_replays() {
    let f = fixture();
    let check = |tx: &[u8]| f.app.check_tx(&pb::RequestCheckTx { tx: tx.to_vec().into(), r#type: 0 });
    let before = snapshot(&f.app, &f.parties());
    let first = signed_send(&f.app, &f.alice, &f.bob.address(), 1);
    let second = sign_with(
        &f.app,
        &f.alice,
        vec![send_msg(&f.alice.address(), &f.bob.address(), 2)],
        GAS,
        min_fee(GAS),
        Some(1),
        SignModeChoice::Direct,
        "",
    );
    assert_eq!(check(&first).code, 0);
    // The mempool state moved to sequence 1: the same tx again is a replay, the next one fits.
    let again = check(&first);
    assert_eq!((again.codespace.as_str(), again.code), ("sdk", 32), "{}", again.log);
    assert_eq!(check(&second).code, 0);
    // CheckTx never touches the committed state.
    assert_eq!(snapshot(&f.app, &f.parties()), before);
    // A block carrying the first tx twice: the copy fails on its sequence and changes nothing.
    let resp = run_block(&f.app, &[first.clone(), first, second.clone()]);
    let outcome: Vec<_> = resp.tx_results.iter().map(|r| (r.codespace.as_str(), r.code)).collect();
    assert_eq!(outcome, [("", 0), ("sdk", 32), ("", 0)]);
    assert_eq!(sequence(&f.app, &f.alice.address()), 2);
    assert_eq!(balance(&f.app, &f.bob.address()), BOB_FUNDS + 3);
    assert_eq!(balance(&f.app, &f.alice.address()), ALICE_FUNDS - 3 - 2 * min_fee(GAS));
    // Commit resets the mempool state to the committed one: the second tx is now stale.
    assert_eq!(check(&second).code, 32);
}

/// CometBFT rechecks the mempool's txs after every Commit (`RequestCheckTx.type` = Recheck). A
/// recheck answers a signature this node already verified from its cache instead of verifying it
/// again (as the SDK skips verification on ReCheckTx), but must report exactly what a new
/// CheckTx reports on the same state, and must still reject a tx whose sequence a block used.
#[test]
fn a_recheck_reports_what_a_new_check_tx_reports_and_still_checks_sequences() {
    const RECHECK: i32 = pb::CheckTxType::Recheck as i32;
    let check = |app: &App, tx: &[u8], r#type: i32| app.check_tx(&pb::RequestCheckTx { tx: tx.to_vec().into(), r#type });
    let f = fixture();
    let alice_send = |sequence: u64, amount: u128| {
        sign_with(
            &f.app,
            &f.alice,
            vec![send_msg(&f.alice.address(), &f.bob.address(), amount)],
            GAS,
            min_fee(GAS),
            Some(sequence),
            SignModeChoice::Direct,
            "",
        )
    };
    let (first, second, third) = (alice_send(0, 1), alice_send(1, 2), alice_send(2, 3));
    for tx in [&first, &second, &third] {
        assert_eq!(check(&f.app, tx, 0).code, 0);
    }
    // The block takes the first tx; the other two are rechecked on the new committed state.
    run_block(&f.app, std::slice::from_ref(&first));
    let rechecked = check(&f.app, &second, RECHECK);
    assert_eq!(rechecked.code, 0, "{}", rechecked.log);
    // The same history on another app, where the second tx comes as a new CheckTx (verified for
    // real): code, gas and events are identical.
    let other = fixture();
    run_block(&other.app, &[first]);
    assert_eq!(check(&other.app, &second, 0), rechecked);
    assert!(rechecked.gas_used > 0);

    // A block carrying another tx at the third tx's sequence (from another node's mempool):
    // the third tx's signature is cached, yet its recheck fails on the sequence, and nothing of
    // it reaches the mempool state (the next sequence still fits).
    let conflicting = alice_send(2, 7);
    run_block(&f.app, &[second, conflicting]);
    let stale = check(&f.app, &third, RECHECK);
    assert_eq!((stale.codespace.as_str(), stale.code), ("sdk", 32), "{}", stale.log);
    assert!(stale.log.contains("expected 3, got 2"), "{}", stale.log);
    assert_eq!(check(&f.app, &alice_send(3, 4), 0).code, 0);
}
