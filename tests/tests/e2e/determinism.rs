//! Determinism of the in-process app: two fresh stores fed the same genesis and the same blocks
//! (real signed bank sends in SIGN_MODE_DIRECT and LEGACY_AMINO_JSON, valid and failing) agree
//! on the app hash at every height and on every tx result; one different tx gives a different
//! app hash; and an app re-opened from disk reports the same Info and continues with the same
//! hashes as a twin that never stopped (also after a crash between FinalizeBlock and Commit).

use cosmos_sdk_proto::cosmos::tx::v1beta1::TxRaw;
use cosmos_sdk_proto::Any;
use openledger_app::app::App;
use openledger_app::client::{sign_tx, SignModeChoice, TxSpec};
use openledger_app::keys::AccountKey;
use openledger_app::modules::AppGenesis;
use openledger_core::storage::Storage;
use openledger_core::Address;
use prost::Message;
use tendermint_proto::v0_38::abci as pb;

use super::app_level::{
    account, balance, coins, dev, finalize, genesis_with, init_app, key, min_fee, new_app, run_block, send_msg, CHAIN_ID, GAS,
};

/// Gas limit that covers the ante of a dev send but not its message (checked by the test: the
/// tx fails with out of gas *and* pays its fee).
const OOG_GAS: u64 = 35_000;

struct Keys {
    alice: AccountKey,
    bob: AccountKey,
    poor: AccountKey,
    carol: AccountKey,
}

fn keys() -> Keys {
    Keys { alice: key(2), bob: key(3), poor: key(4), carol: key(5) }
}

fn genesis() -> AppGenesis {
    let k = keys();
    // poor can pay one fee (5,000) but not a 1,000,000 send.
    genesis_with(&[(k.alice.address(), 50_000_000), (k.bob.address(), 20_000_000), (k.poor.address(), 6_000)])
}

/// Account numbers: dev 0, alice 1, bob 2, poor 3 (genesis), then the module accounts, then carol
/// (created by the first send to her).
fn carol_number() -> u64 {
    4 + openledger_app::modules::chain_registry().module_accounts().len() as u64
}

fn tx(signer: &AccountKey, number: u64, sequence: u64, msgs: Vec<Any>, gas: u64, fee: u128, mode: SignModeChoice) -> Vec<u8> {
    sign_tx(&TxSpec {
        key: signer,
        chain_id: CHAIN_ID,
        account_number: number,
        sequence,
        msgs,
        fee: coins(fee),
        gas_limit: gas,
        memo: String::new(),
        mode,
    })
    .expect("sign")
}

fn send(signer: &AccountKey, number: u64, sequence: u64, to: &Address, amount: u128, mode: SignModeChoice) -> Vec<u8> {
    tx(signer, number, sequence, vec![send_msg(&signer.address(), to, amount)], GAS, min_fee(GAS), mode)
}

/// Five blocks; `variant` changes the amount of one valid send in block 3.
fn blocks(variant: u128) -> Vec<Vec<Vec<u8>>> {
    use SignModeChoice::{AminoJson, Direct};
    let k = keys();
    let dev = dev();
    let (a, b, p, c) = (k.alice.address(), k.bob.address(), k.poor.address(), k.carol.address());

    let mut bad_sig = TxRaw::decode(send(&k.alice, 1, 2, &b, 9, Direct).as_slice()).expect("decodes");
    bad_sig.signatures[0][5] ^= 0x40;

    vec![
        vec![
            send(&k.alice, 1, 0, &b, 1_000, Direct),
            send(&dev, 0, 0, &a, 5_000, AminoJson),
            send(&k.alice, 1, 5, &b, 1, Direct),        // wrong sequence
            send(&k.poor, 3, 0, &b, 1_000_000, Direct), // insufficient funds: fee paid
        ],
        vec![
            send(&k.alice, 1, 1, &c, 10_000, AminoJson), // creates carol
            send(&k.bob, 2, 0, &a, 300, Direct),
            tx(&dev, 0, 1, vec![send_msg(&dev.address(), &p, 1)], OOG_GAS, min_fee(OOG_GAS), Direct), // out of gas: fee paid
            bad_sig.encode_to_vec(),
        ],
        vec![
            // Second message fails: the first (to carol) must not apply.
            tx(&k.bob, 2, 1, vec![send_msg(&b, &c, 10), send_msg(&b, &a, 1_000_000_000)], GAS, min_fee(GAS), AminoJson),
            send(&k.alice, 1, 2, &b, variant, Direct),
            b"\x0a\x03not a tx".to_vec(),
        ],
        vec![],
        vec![
            send(&dev, 0, 2, &c, 1, Direct),
            send(&k.carol, carol_number(), 0, &a, 100, AminoJson),
            tx(&k.poor, 3, 1, vec![send_msg(&p, &a, 1)], GAS, min_fee(GAS) - 1, Direct), // fee too low
        ],
    ]
}

/// `(codespace, code)` of every tx, block by block.
fn expected_codes() -> Vec<Vec<(&'static str, u32)>> {
    vec![
        vec![("", 0), ("", 0), ("sdk", 32), ("sdk", 5)],
        vec![("", 0), ("", 0), ("sdk", 11), ("sdk", 4)],
        vec![("sdk", 5), ("", 0), ("sdk", 2)],
        vec![],
        vec![("", 0), ("", 0), ("sdk", 13)],
    ]
}

/// Runs every block, returning the app hash and tx results of each height.
fn run_all(app: &App, blocks: &[Vec<Vec<u8>>]) -> Vec<(Vec<u8>, Vec<pb::ExecTxResult>)> {
    blocks
        .iter()
        .map(|txs| {
            let resp = run_block(app, txs);
            (resp.app_hash.to_vec(), resp.tx_results)
        })
        .collect()
}

fn codes(results: &[pb::ExecTxResult]) -> Vec<(&str, u32)> {
    results.iter().map(|r| (r.codespace.as_str(), r.code)).collect()
}

#[test]
fn two_fresh_stores_fed_the_same_blocks_agree_at_every_height() {
    let genesis = genesis();
    let (one, two) = (App::with_storage(Storage::temporary().unwrap()), App::with_storage(Storage::temporary().unwrap()));
    assert_eq!(init_app(&one, &genesis), init_app(&two, &genesis), "genesis app hashes differ");
    let blocks = blocks(1);
    let first = run_all(&one, &blocks);
    let second = run_all(&two, &blocks);
    for (height, ((hash_a, results_a), (hash_b, results_b))) in first.iter().zip(&second).enumerate() {
        let height = height + 1;
        assert_eq!(hash_a, hash_b, "app hash differs at height {height}");
        assert_eq!(hash_a.len(), 32);
        assert_eq!(results_a, results_b, "tx results differ at height {height}");
        assert_eq!(codes(results_a), expected_codes()[height - 1], "unexpected tx outcomes at height {height}: {results_a:#?}");
        for r in results_a {
            if r.code == 0 {
                assert!(r.gas_used > 0 && !r.events.is_empty());
            }
        }
    }
    // Every block changes the state (at least the block height), so no two heights share a hash.
    let mut hashes: Vec<_> = first.iter().map(|(h, _)| h.clone()).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), blocks.len());
    for height in 1..=5u64 {
        assert_eq!(one.storage().app_hash_at(height).unwrap(), two.storage().app_hash_at(height).unwrap());
    }
    assert_eq!(one.info(&pb::RequestInfo::default()), two.info(&pb::RequestInfo::default()));
    assert_eq!(one.export_genesis().unwrap(), two.export_genesis().unwrap());

    // The outcomes did what they say: failed txs paid fees and bumped sequences exactly once.
    let k = keys();
    let fee = min_fee(GAS);
    assert_eq!(account(&one, &k.poor.address()).unwrap().sequence, 1, "insufficient-funds tx bumps; low-fee tx does not");
    assert_eq!(balance(&one, &k.poor.address()), 6_000 - fee);
    assert_eq!(account(&one, &dev().address()).unwrap().sequence, 3, "the out-of-gas tx bumped the dev sequence");
    assert_eq!(account(&one, &k.alice.address()).unwrap().sequence, 3);
    assert_eq!(account(&one, &k.bob.address()).unwrap().sequence, 2, "the failed multi-send bumped bob's sequence");
    assert_eq!(account(&one, &k.carol.address()).unwrap().account_number, carol_number());
    // carol: +10,000 (block 2) +1 (block 5) -100 -fee; the failed multi-send's 10 never arrived.
    assert_eq!(balance(&one, &k.carol.address()), 10_000 + 1 - 100 - fee);
    assert_eq!(balance(&one, &k.poor.address()), balance(&two, &k.poor.address()));
}

#[test]
fn one_different_tx_gives_a_different_app_hash() {
    let genesis = genesis();
    let reference = run_all(&new_app(&genesis), &blocks(1));
    let changed = run_all(&new_app(&genesis), &blocks(2));
    for height in 0..2 {
        assert_eq!(reference[height].0, changed[height].0, "heights before the change must agree");
    }
    // Same outcome codes, different state.
    assert_eq!(codes(&reference[2].1), codes(&changed[2].1));
    for (height, ((a, _), (b, _))) in reference.iter().zip(&changed).enumerate().skip(2) {
        assert_ne!(a, b, "a different tx in block 3 must change the app hash at height {}", height + 1);
    }
}

#[test]
fn a_reopened_store_continues_with_the_same_hashes() {
    let genesis = genesis();
    let blocks = blocks(1);
    let reference = run_all(&new_app(&genesis), &blocks);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let info_before = {
        let app = App::open(&path).unwrap();
        assert_eq!(app.info(&pb::RequestInfo::default()).last_block_height, 0);
        init_app(&app, &genesis);
        for (i, txs) in blocks[..3].iter().enumerate() {
            assert_eq!(run_block(&app, txs).app_hash.to_vec(), reference[i].0);
        }
        // A crash after FinalizeBlock of height 4 but before its Commit.
        assert_eq!(finalize(&app, &blocks[3]).app_hash.to_vec(), reference[3].0);
        app.info(&pb::RequestInfo::default())
    };
    assert_eq!(info_before.last_block_height, 3);
    assert_eq!(info_before.last_block_app_hash.to_vec(), reference[2].0);

    let app = App::open(&path).unwrap();
    let info = app.info(&pb::RequestInfo::default());
    assert_eq!(info, info_before, "Info after restart differs");
    assert_eq!(app.chain_id(), CHAIN_ID, "chain id not restored from the store");
    // The mempool works on the restored state: alice is at sequence 3 (after block 3).
    let k = keys();
    let next = send(&k.alice, 1, 3, &k.bob.address(), 1, SignModeChoice::Direct);
    assert_eq!(app.check_tx(&pb::RequestCheckTx { tx: next.into(), r#type: 0 }).code, 0);
    let stale = send(&k.alice, 1, 2, &k.bob.address(), 1, SignModeChoice::Direct);
    assert_eq!(app.check_tx(&pb::RequestCheckTx { tx: stale.into(), r#type: 0 }).code, 32);
    // CometBFT replays height 4, then 5: same hashes and results as the twin that never stopped.
    for (i, txs) in blocks.iter().enumerate().skip(3) {
        let resp = run_block(&app, txs);
        assert_eq!(resp.app_hash.to_vec(), reference[i].0, "app hash differs at height {} after restart", i + 1);
        assert_eq!(resp.tx_results, reference[i].1);
    }
    assert_eq!(app.info(&pb::RequestInfo::default()).last_block_height, 5);
}
