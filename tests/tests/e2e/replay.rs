//! Wire-level replay: `tests/fixtures/replay-chain.json` holds a chain recorded with an earlier
//! build of the app (its genesis `app_state`, and for every block the exact tx bytes, the
//! consensus inputs, the app hash, the sha256 of the prost-encoded `ResponseFinalizeBlock` and
//! each tx's `(code, codespace, gas_used)`). The test replays it through InitChain, FinalizeBlock
//! and Commit of a fresh in-process app and asserts that every block gives byte-identical
//! results: a refactor that changes nothing on the wire passes, anything else names the first
//! height (and tx) that differs.
//!
//! The replay uses only the app's ABCI methods and the fixture, so it keeps working whatever
//! happens to the message builders. With `OPENLEDGER_WRITE_REPLAY_FIXTURE=1` the same test first
//! rebuilds the chain with the current code (real signed txs in SIGN_MODE_DIRECT and
//! LEGACY_AMINO_JSON through every module: bank, staking, distribution, slashing, gov, datanet,
//! model registry, attribution, inference) and rewrites the fixture; see [`generate`].

use std::path::Path;

use base64::Engine;
use openledger_app::app::App;
use openledger_core::storage::Storage;
use prost::Message;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;

/// The recorded chain, relative to the `openledger-tests` package.
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/replay-chain.json");
/// Set to `1` to rebuild the chain with the current code and rewrite [`FIXTURE`].
const WRITE_ENV: &str = "OPENLEDGER_WRITE_REPLAY_FIXTURE";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 of the prost encoding of the whole response: what the fixture pins per block.
fn response_sha256(resp: &pb::ResponseFinalizeBlock) -> String {
    sha256_hex(&resp.encode_to_vec())
}

/// sha256 of the block-level events alone (begin/end block), to tell them apart from the txs'.
fn events_sha256(resp: &pb::ResponseFinalizeBlock) -> String {
    sha256_hex(&pb::ResponseFinalizeBlock { events: resp.events.clone(), ..Default::default() }.encode_to_vec())
}

/// sha256 of the validator updates alone.
fn updates_sha256(resp: &pb::ResponseFinalizeBlock) -> String {
    sha256_hex(&pb::ResponseFinalizeBlock { validator_updates: resp.validator_updates.clone(), ..Default::default() }.encode_to_vec())
}

fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.get(name).unwrap_or_else(|| panic!("fixture: missing field {name:?} in {}", abbreviate(v)))
}

fn int(v: &Value, name: &str) -> i64 {
    field(v, name).as_i64().unwrap_or_else(|| panic!("fixture: {name:?} is not an integer"))
}

fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    field(v, name).as_str().unwrap_or_else(|| panic!("fixture: {name:?} is not a string"))
}

fn list<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    field(v, name).as_array().map(Vec::as_slice).unwrap_or_else(|| panic!("fixture: {name:?} is not an array"))
}

fn unhex(v: &Value, name: &str) -> Vec<u8> {
    hex::decode(text(v, name)).unwrap_or_else(|e| panic!("fixture: {name:?} is not hex: {e}"))
}

fn abbreviate(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        format!("{}…", &s[..s.char_indices().nth(200).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

/// The InitChain request of a fixture: the stored `app_state` serialized back with
/// `serde_json::to_vec` (the workspace's `preserve_order` keeps its key order).
fn init_request(fixture: &Value) -> pb::RequestInitChain {
    pb::RequestInitChain {
        time: Some(Timestamp { seconds: int(fixture, "genesis_time_seconds"), nanos: 0 }),
        chain_id: text(fixture, "chain_id").to_string(),
        app_state_bytes: serde_json::to_vec(field(fixture, "app_state")).expect("app_state serializes").into(),
        initial_height: int(fixture, "initial_height"),
        ..Default::default()
    }
}

/// The FinalizeBlock request of a stored block: its txs, height, time, block hash, the previous
/// commit's votes and any misbehavior; every other field default.
fn finalize_request(block: &Value) -> pb::RequestFinalizeBlock {
    let height = int(block, "height");
    let txs = list(block, "txs")
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let s = t.as_str().unwrap_or_else(|| panic!("fixture: height {height} tx {i} is not a string"));
            b64().decode(s).unwrap_or_else(|e| panic!("fixture: height {height} tx {i} is not base64: {e}")).into()
        })
        .collect();
    let commit = field(block, "decided_last_commit");
    let votes = list(commit, "votes")
        .iter()
        .map(|v| pb::VoteInfo {
            validator: Some(pb::Validator { address: unhex(v, "address").into(), power: int(v, "power") }),
            block_id_flag: i32::try_from(int(v, "block_id_flag")).expect("flag fits"),
        })
        .collect();
    let misbehavior = block
        .get("misbehavior")
        .and_then(Value::as_array)
        .map(|all| {
            all.iter()
                .map(|m| pb::Misbehavior {
                    r#type: i32::try_from(int(m, "type")).expect("type fits"),
                    validator: Some(pb::Validator { address: unhex(m, "address").into(), power: int(m, "power") }),
                    height: int(m, "height"),
                    time: Some(Timestamp { seconds: int(m, "time_seconds"), nanos: 0 }),
                    total_voting_power: int(m, "total_voting_power"),
                })
                .collect()
        })
        .unwrap_or_default();
    pb::RequestFinalizeBlock {
        txs,
        decided_last_commit: Some(pb::CommitInfo { round: i32::try_from(int(commit, "round")).expect("round fits"), votes }),
        misbehavior,
        hash: unhex(block, "hash").into(),
        height,
        time: Some(Timestamp { seconds: int(block, "time_seconds"), nanos: 0 }),
        ..Default::default()
    }
}

/// What the fixture stores of one tx result.
fn result_json(r: &pb::ExecTxResult) -> Value {
    let mut v = json!({
        "code": r.code,
        "codespace": r.codespace,
        "gas_used": r.gas_used,
        "sha256": sha256_hex(&r.encode_to_vec()),
    });
    if r.code != 0 {
        v["log"] = json!(r.log);
    }
    v
}

/// Every tx result of a response, one per line, for failure messages.
fn describe_results(resp: &pb::ResponseFinalizeBlock, expected: &[Value]) -> String {
    let mut out = String::new();
    for (i, r) in resp.tx_results.iter().enumerate() {
        let recorded = expected.get(i);
        let same = recorded.is_some_and(|e| e.get("sha256").and_then(Value::as_str) == Some(&sha256_hex(&r.encode_to_vec())));
        out.push_str(&format!(
            "  tx {i}{}: code {} codespace {:?} gas {}/{} events {} log {:?}\n",
            if same { "" } else { " (DIFFERS from the recording)" },
            r.code,
            r.codespace,
            r.gas_used,
            r.gas_wanted,
            r.events.len(),
            r.log
        ));
        if let Some(e) = recorded.filter(|_| !same) {
            out.push_str(&format!(
                "      recorded: code {} codespace {:?} gas {} log {:?}\n",
                e.get("code").unwrap_or(&Value::Null),
                e.get("codespace").and_then(Value::as_str).unwrap_or(""),
                e.get("gas_used").unwrap_or(&Value::Null),
                e.get("log").and_then(Value::as_str).unwrap_or("")
            ));
        }
    }
    out
}

/// Replays `fixture` on a fresh in-process app, asserting every block; returns the number of
/// blocks and txs replayed.
fn replay(fixture: &Value) -> (usize, usize) {
    let app = App::with_storage(Storage::temporary().expect("temporary store"));
    let init = app.init_chain(&init_request(fixture)).expect("init_chain");
    assert_eq!(hex::encode(&init.app_hash), text(fixture, "genesis_app_hash"), "the genesis app hash differs");
    let blocks = list(fixture, "blocks");
    let mut txs = 0;
    for block in blocks {
        let height = int(block, "height");
        let req = finalize_request(block);
        txs += req.txs.len();
        let resp = app.finalize_block(&req).unwrap_or_else(|e| panic!("height {height}: FinalizeBlock failed: {e:?}"));
        let expected = list(block, "results");
        assert_eq!(resp.tx_results.len(), expected.len(), "height {height}: number of tx results differs");
        for (i, (got, want)) in resp.tx_results.iter().zip(expected).enumerate() {
            let got_triple = (got.code, got.codespace.as_str(), got.gas_used);
            let want_triple = (u32::try_from(int(want, "code")).expect("code fits"), text(want, "codespace"), int(want, "gas_used"));
            assert_eq!(
                got_triple,
                want_triple,
                "height {height}, tx {i}: (code, codespace, gas_used) differs; log now {:?}, recorded log {:?}\nall tx results now:\n{}",
                got.log,
                want.get("log").and_then(Value::as_str).unwrap_or(""),
                describe_results(&resp, expected)
            );
        }
        let got_sha = response_sha256(&resp);
        if got_sha != text(block, "response_sha256") {
            let diverging: Vec<usize> = resp
                .tx_results
                .iter()
                .zip(expected)
                .enumerate()
                .filter(|(_, (r, e))| e.get("sha256").and_then(Value::as_str) != Some(&sha256_hex(&r.encode_to_vec())))
                .map(|(i, _)| i)
                .collect();
            let events_same = block.get("events_sha256").and_then(Value::as_str) == Some(&events_sha256(&resp));
            let updates_same = block.get("validator_updates_sha256").and_then(Value::as_str) == Some(&updates_sha256(&resp));
            panic!(
                "height {height}: the encoded ResponseFinalizeBlock differs (sha256 {got_sha}, recorded {}).\n\
                 txs whose ExecTxResult differs (events, data, log, gas): {diverging:?}; block events {}; validator updates {}; \
                 app hash {}\ntx results now:\n{}block events now: {:?}\nvalidator updates now: {:?}",
                text(block, "response_sha256"),
                if events_same { "identical" } else { "DIFFER" },
                if updates_same { "identical" } else { "DIFFER" },
                if hex::encode(&resp.app_hash) == text(block, "app_hash") { "identical" } else { "DIFFERS" },
                describe_results(&resp, expected),
                resp.events.iter().map(|e| e.r#type.as_str()).collect::<Vec<_>>(),
                resp.validator_updates,
            );
        }
        assert_eq!(hex::encode(&resp.app_hash), text(block, "app_hash"), "height {height}: app hash differs");
        app.commit().unwrap_or_else(|e| panic!("height {height}: Commit failed: {e:?}"));
    }
    (blocks.len(), txs)
}

fn read_fixture(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

#[test]
fn replay_fixture_reproduces_every_block() {
    let path = Path::new(FIXTURE);
    if std::env::var(WRITE_ENV).is_ok_and(|v| v == "1") {
        let fixture = generate::chain();
        let mut text = serde_json::to_string_pretty(&fixture).expect("fixture serializes");
        text.push('\n');
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create fixtures dir");
        std::fs::write(path, text).expect("write fixture");
        println!("wrote {} ({} bytes)", path.display(), std::fs::metadata(path).expect("written").len());
    }
    let fixture = read_fixture(path);
    let started = std::time::Instant::now();
    let (blocks, txs) = replay(&fixture);
    assert!(blocks >= 200, "the fixture should hold at least 200 blocks, it has {blocks}");
    println!("replayed {blocks} blocks and {txs} txs identically in {:?}", started.elapsed());
}

/// Builds the recorded chain with the current code. Only run with `OPENLEDGER_WRITE_REPLAY_FIXTURE=1`.
mod generate {
    use std::collections::{BTreeMap, HashMap};

    use cosmos_sdk_proto::cosmos::bank::v1beta1 as bankpb;
    use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
    use cosmos_sdk_proto::cosmos::distribution::v1beta1 as distpb;
    use cosmos_sdk_proto::cosmos::gov::v1 as govpb;
    use cosmos_sdk_proto::cosmos::gov::v1beta1 as gov1b1;
    use cosmos_sdk_proto::cosmos::slashing::v1beta1 as slashpb;
    use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
    use cosmos_sdk_proto::cosmos::tx::v1beta1::{TxBody, TxRaw};
    use cosmos_sdk_proto::Any;
    use openledger_app::app::App;
    use openledger_app::client::{sign_tx, SignModeChoice, TxSpec};
    use openledger_app::home::add_genesis_validator;
    use openledger_app::keys::AccountKey;
    use openledger_core::storage::Storage;
    use openledger_core::Address;
    use openledger_gov::genesis::{GovGenesis, GovParamsJson};
    use openledger_proto::openledger::attribution::v1 as apb;
    use openledger_proto::openledger::datanet::v1 as dpb;
    use openledger_proto::openledger::inference::v1 as ipb;
    use openledger_proto::openledger::model::v1 as mpb;
    use prost::Message;
    use serde_json::{json, Value};
    use sha2::{Digest, Sha256};
    use tendermint_proto::v0_38::abci as pb;

    use super::{b64, events_sha256, finalize_request, init_request, response_sha256, result_json, updates_sha256};
    use crate::app_level::{account, coins, dev, genesis_with, key, min_fee, query, CHAIN_ID, DENOM};

    use base64::Engine;
    use SignModeChoice::{AminoJson, Direct};

    const GENESIS_TIME: i64 = 1_700_000_000;
    /// Blocks in the recorded chain.
    const BLOCKS: i64 = 240;
    /// Gas of an ordinary tx; datanet and model txs get [`BIG_GAS`].
    const GAS: u64 = 500_000;
    const BIG_GAS: u64 = 2_000_000;
    const SELF_BOND: u128 = 1_000_000_000_000;
    const VAL2_BOND: u128 = 10_000_000_000;
    const VAL3_BOND: u128 = 5_000_000_000;
    const BOND: u128 = 1_000_000;
    /// Consensus public keys (ed25519, any 32 bytes will do for the app) of the validators.
    const V0_PK: [u8; 32] = [0x11; 32];
    const V2_PK: [u8; 32] = [0x22; 32];
    const V3_PK: [u8; 32] = [0x33; 32];
    /// val2 misses these blocks (enough to be jailed for downtime).
    const VAL2_ABSENT: std::ops::RangeInclusive<i64> = 100..=115;
    /// val3 double-signs: the evidence arrives in this block.
    const EVIDENCE_HEIGHT: i64 = 90;

    /// How a planned tx must come out.
    #[derive(Debug, Clone, Copy)]
    enum Expect {
        /// Code 0.
        Ok,
        /// Fails in its messages: fee paid, sequence bumped (`None`: any non-zero code).
        MsgFail(Option<(&'static str, u32)>),
        /// Fails in the ante: nothing changes, the sequence is not bumped.
        AnteFail(Option<(&'static str, u32)>),
    }

    struct Planned {
        tx: Vec<u8>,
        expect: Expect,
        what: String,
    }

    fn any(type_url: &str, m: impl Message) -> Any {
        Any { type_url: type_url.into(), value: m.encode_to_vec() }
    }

    fn coin(amount: u128) -> Option<ProtoCoin> {
        Some(ProtoCoin { denom: DENOM.into(), amount: amount.to_string() })
    }

    fn op(k: &AccountKey) -> String {
        openledger_stake::keeper::operator_of(&k.address())
    }

    fn bech(k: &AccountKey) -> String {
        k.address().to_bech32()
    }

    fn send(from: &AccountKey, to: &Address, amount: u128) -> Any {
        any("/cosmos.bank.v1beta1.MsgSend", bankpb::MsgSend { from_address: bech(from), to_address: to.to_bech32(), amount: coins(amount) })
    }

    fn hash_of(s: &str) -> String {
        hex::encode(Sha256::digest(s.as_bytes()))
    }

    fn cons(pk: &[u8]) -> Vec<u8> {
        Sha256::digest(pk)[..20].to_vec()
    }

    /// The signers of the chain.
    struct Keys {
        dev: AccountKey,
        alice: AccountKey,
        bob: AccountKey,
        carol: AccountKey,
        val2: AccountKey,
        val3: AccountKey,
        dave: AccountKey,
        erin: AccountKey,
        frank: AccountKey,
        gina: AccountKey,
        hank: AccountKey,
        ivan: AccountKey,
        ghost: AccountKey,
    }

    fn keys() -> Keys {
        Keys {
            dev: dev(),
            alice: key(2),
            bob: key(3),
            carol: key(4),
            val2: key(5),
            val3: key(6),
            dave: key(7),
            erin: key(8),
            frank: key(9),
            gina: key(10),
            hank: key(11),
            ivan: key(12),
            ghost: key(99),
        }
    }

    /// Dev runs the big validator; val2 and val3 small ones. Unbonding takes 20 s (20 blocks),
    /// the liveness window is 10 blocks with a 10 s jail, gov periods are 10 s.
    fn genesis_value(k: &Keys) -> Value {
        let mut genesis = genesis_with(&[
            (k.alice.address(), 10_000_000_000_000),
            (k.bob.address(), 100_000_000_000),
            (k.carol.address(), 10_000_000_000),
            (k.val2.address(), 20_000_000_000),
            (k.val3.address(), 10_000_000_000),
        ]);
        add_genesis_validator(&mut genesis, &k.dev.address(), &b64().encode(V0_PK), "v0", SELF_BOND);
        add_genesis_validator(&mut genesis, &k.val2.address(), &b64().encode(V2_PK), "v2", VAL2_BOND);
        add_genesis_validator(&mut genesis, &k.val3.address(), &b64().encode(V3_PK), "v3", VAL3_BOND);
        genesis.stake.params.unbonding_time_seconds = 20;
        genesis.stake.slashing.signed_blocks_window = 10;
        genesis.stake.slashing.downtime_jail_duration_seconds = 10;
        genesis.gov = GovGenesis {
            starting_proposal_id: 1,
            params: Some(GovParamsJson {
                min_deposit: "1000000uopen".into(),
                max_deposit_period_seconds: 10,
                voting_period_seconds: 10,
                quorum: "0.334".into(),
                threshold: "0.5".into(),
                veto_threshold: "0.334".into(),
                burn_vote_quorum: false,
                burn_proposal_deposit_prevote: false,
                burn_vote_veto: true,
            }),
            ..GovGenesis::default()
        };
        serde_json::to_value(&genesis).expect("genesis serializes")
    }

    /// The chain being built: the app, the block being planned, and the recorded blocks.
    struct Gen {
        app: App,
        height: i64,
        block: Vec<Planned>,
        /// Seq-bumping txs of the block being planned, per signer.
        pending: HashMap<String, u64>,
        /// CometBFT's validator set (consensus pubkey → power) by height.
        sets: BTreeMap<i64, BTreeMap<Vec<u8>, i64>>,
        misbehavior: Vec<Value>,
        blocks: Vec<Value>,
        succeeded: BTreeMap<String, usize>,
        failed: Vec<String>,
        /// Heights at which each block-level (begin/end block) event type was emitted.
        block_events: BTreeMap<String, Vec<i64>>,
    }

    impl Gen {
        /// Signs `msgs` for `signer` at its committed sequence plus this block's earlier txs.
        fn sign(&self, signer: &AccountKey, msgs: Vec<Any>, gas: u64, fee: u128, sequence_offset: u64, mode: SignModeChoice) -> Vec<u8> {
            let acc = account(&self.app, &signer.address()).expect("the signer exists");
            let sequence = acc.sequence + self.pending.get(&bech(signer)).copied().unwrap_or(0) + sequence_offset;
            sign_tx(&TxSpec {
                key: signer,
                chain_id: CHAIN_ID,
                account_number: acc.account_number,
                sequence,
                msgs,
                fee: coins(fee),
                gas_limit: gas,
                memo: String::new(),
                mode,
            })
            .expect("sign")
        }

        fn push(&mut self, signer: Option<&AccountKey>, tx: Vec<u8>, expect: Expect, what: &str) {
            if let (Some(s), Expect::Ok | Expect::MsgFail(_)) = (signer, expect) {
                *self.pending.entry(bech(s)).or_default() += 1;
            }
            self.block.push(Planned { tx, expect, what: what.to_string() });
        }

        /// A tx at the minimum fee for `gas`.
        fn tx_gas(&mut self, signer: &AccountKey, msgs: Vec<Any>, gas: u64, mode: SignModeChoice, expect: Expect, what: &str) {
            let tx = self.sign(signer, msgs, gas, min_fee(gas), 0, mode);
            self.push(Some(signer), tx, expect, what);
        }

        fn ok(&mut self, signer: &AccountKey, msgs: Vec<Any>, mode: SignModeChoice, what: &str) {
            self.tx_gas(signer, msgs, GAS, mode, Expect::Ok, what);
        }

        fn ok_big(&mut self, signer: &AccountKey, msgs: Vec<Any>, mode: SignModeChoice, what: &str) {
            self.tx_gas(signer, msgs, BIG_GAS, mode, Expect::Ok, what);
        }

        fn fails(&mut self, signer: &AccountKey, msgs: Vec<Any>, code: Option<(&'static str, u32)>, what: &str) {
            self.tx_gas(signer, msgs, BIG_GAS, Direct, Expect::MsgFail(code), what);
        }

        /// Votes of the previous block's commit: the validator set of height − 1, by power.
        fn votes(&self, height: i64) -> Vec<Value> {
            if height <= 1 {
                return Vec::new();
            }
            let set = &self.sets[&(height - 1)];
            let mut votes: Vec<(i64, Vec<u8>, i32)> = set
                .iter()
                .map(|(pk, power)| {
                    let absent = pk.as_slice() == V2_PK.as_slice() && VAL2_ABSENT.contains(&height);
                    (*power, cons(pk), if absent { 1 } else { 2 })
                })
                .collect();
            votes.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            votes
                .into_iter()
                .map(|(power, address, flag)| json!({"address": hex::encode(address), "power": power, "block_id_flag": flag}))
                .collect()
        }

        /// Finalizes and commits the planned block, records it and checks every outcome.
        fn finish(&mut self) {
            let height = self.height;
            let planned = std::mem::take(&mut self.block);
            let hash = hex::encode(Sha256::digest(format!("replay-chain block {height}").as_bytes()));
            let mut block = json!({
                "height": height,
                "time_seconds": GENESIS_TIME + height,
                "hash": hash,
                "decided_last_commit": {"round": 0, "votes": self.votes(height)},
                "txs": planned.iter().map(|p| b64().encode(&p.tx)).collect::<Vec<_>>(),
            });
            if !self.misbehavior.is_empty() {
                block["misbehavior"] = Value::Array(std::mem::take(&mut self.misbehavior));
            }
            let req = finalize_request(&block);
            let resp = self.app.finalize_block(&req).unwrap_or_else(|e| panic!("height {height}: FinalizeBlock failed: {e:?}"));
            self.app.commit().expect("commit");
            assert_eq!(resp.tx_results.len(), planned.len());
            for (i, (p, r)) in planned.iter().zip(&resp.tx_results).enumerate() {
                if r.code != 0 {
                    println!("height {height} tx {i} ({}): code {} codespace {:?} log {:?}", p.what, r.code, r.codespace, r.log);
                }
                match p.expect {
                    Expect::Ok => {
                        assert_eq!(r.code, 0, "height {height} tx {i} ({}) should succeed: {} {}", p.what, r.codespace, r.log);
                        for url in msg_types(&p.tx) {
                            *self.succeeded.entry(url).or_default() += 1;
                        }
                    }
                    Expect::MsgFail(code) | Expect::AnteFail(code) => {
                        assert_ne!(r.code, 0, "height {height} tx {i} ({}) should fail", p.what);
                        if let Some((codespace, code)) = code {
                            assert_eq!((r.codespace.as_str(), r.code), (codespace, code), "height {height} tx {i} ({}): {}", p.what, r.log);
                        }
                        self.failed.push(format!("h{height} tx{i} {}: {}/{}", p.what, r.codespace, r.code));
                    }
                }
            }
            for e in &resp.events {
                let heights = self.block_events.entry(e.r#type.clone()).or_default();
                if heights.last() != Some(&height) {
                    heights.push(height);
                }
            }
            // CometBFT applies the updates of block H from height H + 2 on.
            let mut next = self.sets[&(height + 1)].clone();
            for u in &resp.validator_updates {
                let pk = match u.pub_key.as_ref().and_then(|k| k.sum.as_ref()) {
                    Some(tendermint_proto::v0_38::crypto::public_key::Sum::Ed25519(pk)) => pk.clone(),
                    other => panic!("unexpected validator key {other:?}"),
                };
                if u.power == 0 {
                    next.remove(&pk);
                } else {
                    next.insert(pk, u.power);
                }
            }
            self.sets.insert(height + 2, next);
            block["app_hash"] = json!(hex::encode(&resp.app_hash));
            block["response_sha256"] = json!(response_sha256(&resp));
            block["events_sha256"] = json!(events_sha256(&resp));
            block["validator_updates_sha256"] = json!(updates_sha256(&resp));
            block["results"] = Value::Array(resp.tx_results.iter().map(result_json).collect());
            self.blocks.push(block);
            self.pending.clear();
            self.height += 1;
        }

        fn query<R: Message + Default>(&self, path: &str, req: impl Message) -> R {
            let res = query(&self.app, path, req.encode_to_vec());
            assert_eq!(res.code, 0, "{path}: {}", res.log);
            R::decode(res.value.as_ref()).expect("decode")
        }

        fn staking_params(&self) -> spb::Params {
            self.query::<spb::QueryParamsResponse>("/cosmos.staking.v1beta1.Query/Params", spb::QueryParamsRequest {})
                .params
                .expect("staking params")
        }
    }

    /// Type URLs of a tx's messages.
    fn msg_types(tx: &[u8]) -> Vec<String> {
        let raw = TxRaw::decode(tx).expect("a signed tx");
        TxBody::decode(raw.body_bytes.as_slice()).expect("body").messages.into_iter().map(|m| m.type_url).collect()
    }

    fn submit(proposer: &AccountKey, messages: Vec<Any>, deposit: u128, title: &str) -> Any {
        any(
            "/cosmos.gov.v1.MsgSubmitProposal",
            govpb::MsgSubmitProposal {
                messages,
                initial_deposit: coins(deposit),
                proposer: bech(proposer),
                metadata: String::new(),
                title: title.into(),
                summary: format!("{title} (replay fixture)"),
                expedited: false,
            },
        )
    }

    fn vote(voter: &AccountKey, id: u64, option: govpb::VoteOption) -> Any {
        any(
            "/cosmos.gov.v1.MsgVote",
            govpb::MsgVote { proposal_id: id, voter: bech(voter), option: option as i32, metadata: String::new() },
        )
    }

    fn vote_v1beta1(voter: &AccountKey, id: u64, option: govpb::VoteOption) -> Any {
        any("/cosmos.gov.v1beta1.MsgVote", gov1b1::MsgVote { proposal_id: id, voter: bech(voter), option: option as i32 })
    }

    fn vote_weighted(voter: &AccountKey, id: u64, options: &[(govpb::VoteOption, &str)]) -> Any {
        any(
            "/cosmos.gov.v1.MsgVoteWeighted",
            govpb::MsgVoteWeighted {
                proposal_id: id,
                voter: bech(voter),
                options: options.iter().map(|(o, w)| govpb::WeightedVoteOption { option: *o as i32, weight: (*w).into() }).collect(),
                metadata: String::new(),
            },
        )
    }

    fn deposit(depositor: &AccountKey, id: u64, amount: u128) -> Any {
        any("/cosmos.gov.v1.MsgDeposit", govpb::MsgDeposit { proposal_id: id, depositor: bech(depositor), amount: coins(amount) })
    }

    fn deposit_v1beta1(depositor: &AccountKey, id: u64, amount: u128) -> Any {
        any("/cosmos.gov.v1beta1.MsgDeposit", gov1b1::MsgDeposit { proposal_id: id, depositor: bech(depositor), amount: coins(amount) })
    }

    fn delegate(delegator: &AccountKey, validator: &AccountKey, amount: u128) -> Any {
        any(
            "/cosmos.staking.v1beta1.MsgDelegate",
            spb::MsgDelegate { delegator_address: bech(delegator), validator_address: op(validator), amount: coin(amount) },
        )
    }

    fn undelegate(delegator: &AccountKey, validator: &AccountKey, amount: u128) -> Any {
        any(
            "/cosmos.staking.v1beta1.MsgUndelegate",
            spb::MsgUndelegate { delegator_address: bech(delegator), validator_address: op(validator), amount: coin(amount) },
        )
    }

    fn withdraw_reward(delegator: &AccountKey, validator: &AccountKey) -> Any {
        any(
            "/cosmos.distribution.v1beta1.MsgWithdrawDelegatorReward",
            distpb::MsgWithdrawDelegatorReward { delegator_address: bech(delegator), validator_address: op(validator) },
        )
    }

    fn withdraw_commission(validator: &AccountKey) -> Any {
        any(
            "/cosmos.distribution.v1beta1.MsgWithdrawValidatorCommission",
            distpb::MsgWithdrawValidatorCommission { validator_address: op(validator) },
        )
    }

    fn contribute(who: &AccountKey, datanet_id: u64, rows: &[&str], bond: u128) -> Any {
        any(
            "/openledger.datanet.v1.MsgSubmitContribution",
            dpb::MsgSubmitContribution {
                contributor: bech(who),
                datanet_id,
                rows: rows.iter().map(|r| r.as_bytes().to_vec()).collect(),
                bond: if bond > 0 { coin(bond) } else { None },
            },
        )
    }

    fn review(reviewer: &AccountKey, datanet_id: u64, contribution_id: u64, accept: bool, reason: &str) -> Any {
        any(
            "/openledger.datanet.v1.MsgReviewContribution",
            dpb::MsgReviewContribution { reviewer: bech(reviewer), datanet_id, contribution_id, accept, reason: reason.into() },
        )
    }

    fn publish(owner: &AccountKey, datanet_id: u64) -> Any {
        any("/openledger.datanet.v1.MsgPublishVersion", dpb::MsgPublishVersion { owner: bech(owner), datanet_id })
    }

    fn request(requester: &AccountKey, base_model_id: u64, adapter_id: u64, prompt: &str, fee: u128) -> Any {
        any(
            "/openledger.inference.v1.MsgRequestInference",
            ipb::MsgRequestInference {
                requester: bech(requester),
                base_model_id,
                adapter_id,
                prompt: prompt.into(),
                max_tokens: 16,
                fee: coin(fee),
                messages: vec![],
            },
        )
    }

    fn set_price(owner: &AccountKey, base_model_id: u64, adapter_id: u64, price: u128) -> Any {
        any(
            "/openledger.model.v1.MsgSetInferencePrice",
            mpb::MsgSetInferencePrice { owner: bech(owner), base_model_id, adapter_id, inference_price: coin(price) },
        )
    }

    /// Builds the chain and returns the fixture.
    pub(super) fn chain() -> Value {
        let k = keys();
        let app_state = genesis_value(&k);
        let mut fixture = json!({
            "chain_id": CHAIN_ID,
            "genesis_time_seconds": GENESIS_TIME,
            "initial_height": 1,
            "app_state": app_state,
        });
        let app = App::with_storage(Storage::temporary().expect("temporary store"));
        let init = app.init_chain(&init_request(&fixture)).expect("init_chain");
        fixture["genesis_app_hash"] = json!(hex::encode(&init.app_hash));
        let genesis_set: BTreeMap<Vec<u8>, i64> = init
            .validators
            .iter()
            .map(|u| match u.pub_key.as_ref().and_then(|k| k.sum.as_ref()) {
                Some(tendermint_proto::v0_38::crypto::public_key::Sum::Ed25519(pk)) => (pk.clone(), u.power),
                other => panic!("unexpected validator key {other:?}"),
            })
            .collect();
        assert_eq!(genesis_set.len(), 3, "three genesis validators");
        let mut g = Gen {
            app,
            height: 1,
            block: Vec::new(),
            pending: HashMap::new(),
            sets: BTreeMap::from([(1, genesis_set.clone()), (2, genesis_set)]),
            misbehavior: Vec::new(),
            blocks: Vec::new(),
            succeeded: BTreeMap::new(),
            failed: Vec::new(),
            block_events: BTreeMap::new(),
        };
        while g.height <= BLOCKS {
            plan(&mut g, &k);
            g.finish();
        }
        println!("successful messages by type:");
        for (url, n) in &g.succeeded {
            println!("  {n:3} × {url}");
        }
        println!("intended failures:");
        for f in &g.failed {
            println!("  {f}");
        }
        println!("block-level events (first heights):");
        for (kind, heights) in &g.block_events {
            println!("  {kind}: {} blocks, from {:?}", heights.len(), &heights[..heights.len().min(6)]);
        }
        check_end_state(&g);
        fixture["blocks"] = Value::Array(g.blocks);
        // What InitChain received is exactly what the replay will send.
        let reparsed: Value = serde_json::from_str(&serde_json::to_string_pretty(&fixture).expect("serializes")).expect("parses");
        assert_eq!(
            init_request(&reparsed).app_state_bytes,
            init_request(&fixture).app_state_bytes,
            "app_state bytes change through the file"
        );
        fixture
    }

    /// The begin/end-block hooks really ran and the chain ended where the plan says.
    fn check_end_state(g: &Gen) {
        for kind in [
            "rewards",
            "liveness",
            "slash",
            "jail",
            "tombstone",
            "complete_unbonding",
            "complete_redelegation",
            "active_proposal",
            "inactive_proposal",
            "version_indexed",
            "inference_expired",
        ] {
            assert!(g.block_events.contains_key(kind), "no block emitted a {kind:?} event: {:?}", g.block_events.keys());
        }
        let status = |id: u64| {
            let res = query(&g.app, "/cosmos.gov.v1.Query/Proposal", govpb::QueryProposalRequest { proposal_id: id }.encode_to_vec());
            if res.code != 0 {
                return None;
            }
            govpb::QueryProposalResponse::decode(res.value.as_ref()).expect("proposal").proposal.map(|p| p.status)
        };
        let passed = Some(govpb::ProposalStatus::Passed as i32);
        let rejected = Some(govpb::ProposalStatus::Rejected as i32);
        assert_eq!(
            (1..=6).map(status).collect::<Vec<_>>(),
            vec![passed, passed, rejected, None, passed, passed],
            "proposals 1, 2, 5, 6 pass; 3 is vetoed; 4 is dropped at the end of its deposit period"
        );
        assert_eq!(g.staking_params().max_validators, 100, "proposal 6 executed");
        let inference = g
            .query::<ipb::QueryParamsResponse>("/openledger.inference.v1.Query/Params", ipb::QueryParamsRequest {})
            .params
            .expect("inference params");
        assert_eq!(inference.deadline_blocks, 8, "proposal 5 executed");
        for id in 1..=6 {
            let r = g.query::<ipb::QueryRequestResponse>("/openledger.inference.v1.Query/Request", ipb::QueryRequestRequest { id });
            assert_eq!(r.request.expect("request").status, ipb::RequestStatus::Expired as i32, "request {id} expired");
        }
        for (datanet_id, version) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
            let info = g.query::<apb::QueryIndexInfoResponse>(
                "/openledger.attribution.v1.Query/IndexInfo",
                apb::QueryIndexInfoRequest { datanet_id, version },
            );
            let meta = info.meta.expect("index meta");
            assert_eq!(meta.status, apb::IndexStatus::Ready as i32, "datanet {datanet_id} v{version} indexed: {meta:?}");
        }
    }

    /// The txs (and consensus inputs) of block `g.height`.
    #[allow(clippy::too_many_lines)]
    fn plan(g: &mut Gen, k: &Keys) {
        use govpb::VoteOption::{Abstain, No, NoWithVeto, Yes};
        let h = g.height;
        match h {
            // Bank: plain sends (one creates dave), a multi-send creating erin, failures.
            2 => {
                g.ok(&k.alice, vec![send(&k.alice, &k.bob.address(), 1_000)], Direct, "send");
                g.ok(&k.alice, vec![send(&k.alice, &k.dave.address(), 50_000_000)], AminoJson, "send creating dave");
                let multi = bankpb::MsgMultiSend {
                    inputs: vec![bankpb::Input { address: bech(&k.bob), coins: coins(3_000_000) }],
                    outputs: vec![
                        bankpb::Output { address: bech(&k.carol), coins: coins(1_000_000) },
                        bankpb::Output { address: bech(&k.erin), coins: coins(2_000_000) },
                    ],
                };
                g.ok(&k.bob, vec![any("/cosmos.bank.v1beta1.MsgMultiSend", multi)], Direct, "multi-send creating erin");
                let tx = g.sign(&k.carol, vec![send(&k.carol, &k.bob.address(), 1_000_000_000_000)], GAS, min_fee(GAS), 0, Direct);
                g.push(Some(&k.carol), tx, Expect::MsgFail(Some(("sdk", 5))), "send beyond the balance");
                let tx = g.sign(&k.bob, vec![send(&k.bob, &k.alice.address(), 1)], GAS, min_fee(GAS), 3, Direct);
                g.push(Some(&k.bob), tx, Expect::AnteFail(Some(("sdk", 32))), "wrong sequence");
            }
            3 => {
                g.ok(&k.dave, vec![send(&k.dave, &k.alice.address(), 100)], AminoJson, "first tx of a new account");
                g.ok(&k.erin, vec![send(&k.erin, &k.dave.address(), 1_000)], Direct, "send");
                let tx = g.sign(&k.carol, vec![send(&k.carol, &k.bob.address(), 1)], GAS, min_fee(GAS) - 1, 0, Direct);
                g.push(Some(&k.carol), tx, Expect::AnteFail(Some(("sdk", 13))), "fee below the minimum");
                let mut raw =
                    TxRaw::decode(g.sign(&k.alice, vec![send(&k.alice, &k.bob.address(), 9)], GAS, min_fee(GAS), 0, Direct).as_slice())
                        .expect("decodes");
                raw.signatures[0][7] ^= 0x20;
                g.push(Some(&k.alice), raw.encode_to_vec(), Expect::AnteFail(Some(("sdk", 4))), "bad signature");
                g.push(None, b"\x0a\x05not a tx at all".to_vec(), Expect::AnteFail(Some(("sdk", 2))), "undecodable bytes");
                let ghost = sign_tx(&TxSpec {
                    key: &k.ghost,
                    chain_id: CHAIN_ID,
                    account_number: 0,
                    sequence: 0,
                    msgs: vec![send(&k.ghost, &k.bob.address(), 5)],
                    fee: coins(min_fee(GAS)),
                    gas_limit: GAS,
                    memo: String::new(),
                    mode: Direct,
                })
                .expect("sign");
                g.push(None, ghost, Expect::AnteFail(Some(("sdk", 9))), "unknown sender");
                let oog = 35_000;
                let tx = g.sign(&k.alice, vec![send(&k.alice, &k.bob.address(), 3)], oog, min_fee(oog), 0, Direct);
                g.push(Some(&k.alice), tx, Expect::MsgFail(Some(("sdk", 11))), "out of gas");
                let two = vec![send(&k.bob, &k.carol.address(), 10), send(&k.bob, &k.alice.address(), 1_000_000_000_000_000)];
                let tx = g.sign(&k.bob, two, GAS, min_fee(GAS), 0, AminoJson);
                g.push(Some(&k.bob), tx, Expect::MsgFail(Some(("sdk", 5))), "second message fails");
            }
            // Staking and distribution.
            4 => {
                g.ok(&k.alice, vec![delegate(&k.alice, &k.dev, 200_000_000_000)], Direct, "delegate");
                g.ok(&k.bob, vec![delegate(&k.bob, &k.val2, 1_000_000_000)], AminoJson, "delegate to val2");
                let set = distpb::MsgSetWithdrawAddress { delegator_address: bech(&k.carol), withdraw_address: bech(&k.dave) };
                g.ok(&k.carol, vec![any("/cosmos.distribution.v1beta1.MsgSetWithdrawAddress", set)], AminoJson, "set withdraw address");
                let edit = spb::MsgEditValidator {
                    description: Some(spb::Description {
                        moniker: "v0-edited".into(),
                        identity: "[do-not-modify]".into(),
                        website: "https://example.invalid".into(),
                        security_contact: "[do-not-modify]".into(),
                        details: "edited in the replay fixture".into(),
                    }),
                    validator_address: op(&k.dev),
                    commission_rate: String::new(),
                    min_self_delegation: String::new(),
                };
                g.ok(&k.dev, vec![any("/cosmos.staking.v1beta1.MsgEditValidator", edit)], Direct, "edit validator");
                let commission = spb::MsgEditValidator {
                    description: None,
                    validator_address: op(&k.val2),
                    commission_rate: "0.060000000000000000".into(),
                    min_self_delegation: String::new(),
                };
                g.fails(
                    &k.val2,
                    vec![any("/cosmos.staking.v1beta1.MsgEditValidator", commission)],
                    Some(("staking", 12)),
                    "commission change within 24 h",
                );
            }
            5 => {
                let fund = distpb::MsgFundCommunityPool { amount: coins(5_000_000), depositor: bech(&k.dev) };
                g.ok(&k.dev, vec![any("/cosmos.distribution.v1beta1.MsgFundCommunityPool", fund)], AminoJson, "fund community pool");
                g.ok(&k.carol, vec![delegate(&k.carol, &k.dev, 500_000_000)], Direct, "delegate");
                g.fails(
                    &k.erin,
                    vec![delegate(&k.erin, &k.ghost, 1_000)],
                    Some(("staking", 3)),
                    "delegate to a validator that does not exist",
                );
            }
            10 => {
                g.ok(&k.alice, vec![withdraw_reward(&k.alice, &k.dev)], Direct, "withdraw rewards");
                g.ok(&k.dev, vec![withdraw_commission(&k.dev)], Direct, "withdraw commission");
                g.ok(&k.val2, vec![withdraw_commission(&k.val2)], AminoJson, "withdraw commission");
            }
            12 => {
                g.ok(&k.carol, vec![withdraw_reward(&k.carol, &k.dev)], AminoJson, "withdraw rewards to dave");
                g.ok(&k.bob, vec![withdraw_reward(&k.bob, &k.val2)], Direct, "withdraw rewards");
            }
            14 => g.ok(&k.alice, vec![undelegate(&k.alice, &k.dev, 50_000_000_000)], Direct, "undelegate"),
            15 => {
                let redelegate = spb::MsgBeginRedelegate {
                    delegator_address: bech(&k.alice),
                    validator_src_address: op(&k.dev),
                    validator_dst_address: op(&k.val2),
                    amount: coin(50_000_000_000),
                };
                g.ok(&k.alice, vec![any("/cosmos.staking.v1beta1.MsgBeginRedelegate", redelegate)], AminoJson, "redelegate");
                g.ok(&k.bob, vec![undelegate(&k.bob, &k.val2, 200_000_000)], Direct, "undelegate");
            }
            16 => {
                let cancel = spb::MsgCancelUnbondingDelegation {
                    delegator_address: bech(&k.bob),
                    validator_address: op(&k.val2),
                    amount: coin(100_000_000),
                    creation_height: 15,
                };
                g.ok(&k.bob, vec![any("/cosmos.staking.v1beta1.MsgCancelUnbondingDelegation", cancel)], Direct, "cancel unbonding");
                g.fails(
                    &k.alice,
                    vec![undelegate(&k.alice, &k.dev, 1_000_000_000_000_000)],
                    Some(("staking", 22)),
                    "undelegate more than delegated",
                );
            }
            17 => g.ok(&k.alice, vec![undelegate(&k.alice, &k.dev, 10_000_000_000)], AminoJson, "undelegate"),
            // Gov: proposal 1 (staking params) passes with v1, v1beta1 and weighted votes.
            20 => {
                let mut params = g.staking_params();
                params.max_validators = 50;
                let update = any(
                    "/cosmos.staking.v1beta1.MsgUpdateParams",
                    spb::MsgUpdateParams { authority: openledger_gov::gov_authority().to_bech32(), params: Some(params) },
                );
                g.ok(&k.dev, vec![submit(&k.dev, vec![update], 500_000, "max validators 50")], Direct, "submit proposal 1");
            }
            21 => g.ok(&k.bob, vec![deposit(&k.bob, 1, 500_000)], Direct, "deposit: voting starts"),
            22 => {
                g.ok(&k.dev, vec![vote(&k.dev, 1, Yes)], Direct, "v1 vote");
                g.ok(&k.alice, vec![vote_v1beta1(&k.alice, 1, No)], AminoJson, "v1beta1 vote");
                g.ok(&k.carol, vec![vote_weighted(&k.carol, 1, &[(Yes, "0.6"), (Abstain, "0.4")])], AminoJson, "weighted vote");
            }
            23 => {
                g.fails(&k.dev, vec![vote(&k.dev, 99, Yes)], Some(("gov", 2)), "vote on an unknown proposal");
                g.ok(&k.erin, vec![vote(&k.erin, 1, Yes)], Direct, "vote without stake");
            }
            // Proposal 2: a community pool spend, deposited through v1beta1, passes.
            24 => {
                let spend = any(
                    "/cosmos.distribution.v1beta1.MsgCommunityPoolSpend",
                    distpb::MsgCommunityPoolSpend {
                        authority: openledger_gov::gov_authority().to_bech32(),
                        recipient: bech(&k.erin),
                        amount: coins(1_000_000),
                    },
                );
                g.ok(&k.bob, vec![submit(&k.bob, vec![spend], 300_000, "pay erin")], AminoJson, "submit proposal 2");
            }
            25 => g.ok(&k.carol, vec![deposit_v1beta1(&k.carol, 2, 700_000)], AminoJson, "v1beta1 deposit"),
            26 => g.ok(&k.dev, vec![vote_v1beta1(&k.dev, 2, Yes)], AminoJson, "v1beta1 vote"),
            // Proposal 3 is vetoed (deposit burned); proposal 4 never reaches the minimum deposit.
            27 => {
                let mut params = g.staking_params();
                params.max_validators = 7;
                let update = any(
                    "/cosmos.staking.v1beta1.MsgUpdateParams",
                    spb::MsgUpdateParams { authority: openledger_gov::gov_authority().to_bech32(), params: Some(params) },
                );
                g.ok(&k.carol, vec![submit(&k.carol, vec![update], 1_000_000, "max validators 7")], Direct, "submit proposal 3");
            }
            28 => g.ok(&k.dev, vec![vote_v1beta1(&k.dev, 3, NoWithVeto)], AminoJson, "veto"),
            29 => {
                let bank = any(
                    "/cosmos.bank.v1beta1.MsgUpdateParams",
                    bankpb::MsgUpdateParams {
                        authority: openledger_gov::gov_authority().to_bech32(),
                        params: Some(bankpb::Params { default_send_enabled: true, ..Default::default() }),
                    },
                );
                g.ok(&k.erin, vec![submit(&k.erin, vec![bank], 100_000, "bank params")], Direct, "submit proposal 4 (deposit too small)");
            }
            30 => {
                let mut params = g.staking_params();
                params.max_validators = 9;
                let by_alice = any(
                    "/cosmos.staking.v1beta1.MsgUpdateParams",
                    spb::MsgUpdateParams { authority: bech(&k.alice), params: Some(params) },
                );
                g.fails(
                    &k.alice,
                    vec![submit(&k.alice, vec![by_alice.clone()], 1_000_000, "bad")],
                    Some(("gov", 13)),
                    "proposal message not signed by gov",
                );
                g.fails(&k.alice, vec![by_alice], Some(("gov", 13)), "direct params update");
            }
            // Datanets: create, contribute, review, publish (indexed for attribution at end block).
            40 => {
                let d1 = dpb::MsgCreateDatanet {
                    owner: bech(&k.dev),
                    name: "arithmetic-qa".into(),
                    description: "grade-school arithmetic".into(),
                    license: "CC-BY-4.0".into(),
                    schema: Some(dpb::RowSchema {
                        kind: dpb::SchemaKind::Json as i32,
                        required_fields: vec!["prompt".into(), "completion".into()],
                    }),
                    policy: Some(dpb::CurationPolicy {
                        mode: dpb::CurationMode::OwnerReview as i32,
                        curators: vec![],
                        contribution_bond: coin(BOND),
                        reject_burn_bps: 2500,
                        max_row_bytes: 256,
                    }),
                };
                g.ok_big(&k.dev, vec![any("/openledger.datanet.v1.MsgCreateDatanet", d1)], Direct, "create datanet 1");
                let d2 = dpb::MsgCreateDatanet {
                    owner: bech(&k.alice),
                    name: "curated-text".into(),
                    description: String::new(),
                    license: "CC0-1.0".into(),
                    schema: Some(dpb::RowSchema { kind: dpb::SchemaKind::Text as i32, required_fields: vec![] }),
                    policy: Some(dpb::CurationPolicy {
                        mode: dpb::CurationMode::CuratorVote as i32,
                        curators: vec![
                            dpb::Curator { address: bech(&k.dev), weight: 2 },
                            dpb::Curator { address: bech(&k.bob), weight: 1 },
                        ],
                        contribution_bond: None,
                        reject_burn_bps: 0,
                        max_row_bytes: 1000,
                    }),
                };
                g.ok_big(&k.alice, vec![any("/openledger.datanet.v1.MsgCreateDatanet", d2)], AminoJson, "create datanet 2");
            }
            41 => {
                let rows = [
                    r#"{"prompt":"2+2","completion":"4"}"#,
                    r#"{"prompt":"7*6","completion":"42"}"#,
                    r#"{"prompt":"10-3","completion":"7","source":"textbook"}"#,
                ];
                g.ok_big(&k.alice, vec![contribute(&k.alice, 1, &rows, BOND)], Direct, "contribute");
                let wrong = [r#"{"prompt":"1+1","completion":"3"}"#, r#"{"prompt":"2*2","completion":"5"}"#];
                g.ok_big(&k.bob, vec![contribute(&k.bob, 1, &wrong, BOND)], AminoJson, "contribute");
                g.fails(&k.carol, vec![contribute(&k.carol, 1, &["not json"], BOND)], Some(("datanet", 10)), "row not JSON");
                let text = ["open data is data anyone can use", "attribution pays the people whose data is used"];
                g.ok_big(&k.dave, vec![contribute(&k.dave, 2, &text, 0)], AminoJson, "contribute");
            }
            42 => {
                g.fails(&k.bob, vec![review(&k.bob, 1, 1, true, "")], Some(("sdk", 4)), "review by someone not the owner");
                g.ok_big(&k.dev, vec![review(&k.dev, 1, 1, true, "correct")], Direct, "accept");
                g.ok_big(&k.dev, vec![review(&k.dev, 1, 2, false, "wrong answers")], AminoJson, "reject (bond partly burned)");
            }
            43 => {
                g.ok_big(&k.bob, vec![review(&k.bob, 2, 1, true, "fine")], Direct, "curator vote (1 of 3)");
                g.ok_big(&k.dev, vec![review(&k.dev, 2, 1, true, "good")], AminoJson, "curator vote (decides)");
            }
            44 => {
                g.ok_big(&k.dev, vec![publish(&k.dev, 1)], Direct, "publish datanet 1 v1");
                let update = dpb::MsgUpdateDatanet {
                    owner: bech(&k.dev),
                    datanet_id: 1,
                    name: String::new(),
                    description: "grade-school arithmetic, checked".into(),
                    license: String::new(),
                    policy: None,
                    new_owner: String::new(),
                };
                g.ok_big(&k.dev, vec![any("/openledger.datanet.v1.MsgUpdateDatanet", update)], AminoJson, "update datanet");
                g.ok_big(&k.alice, vec![publish(&k.alice, 2)], AminoJson, "publish datanet 2 v1");
            }
            45 => {
                g.fails(&k.bob, vec![publish(&k.bob, 1)], Some(("sdk", 4)), "publish by someone not the owner");
                g.fails(&k.dev, vec![publish(&k.dev, 1)], None, "publish with nothing new");
            }
            46 => g.ok_big(&k.dave, vec![contribute(&k.dave, 1, &[r#"{"prompt":"3*3","completion":"9"}"#], BOND)], Direct, "contribute"),
            47 => g.ok_big(&k.dev, vec![review(&k.dev, 1, 3, true, "ok")], Direct, "accept"),
            48 => g.ok_big(&k.dev, vec![publish(&k.dev, 1)], AminoJson, "publish datanet 1 v2"),
            // Model registry.
            50 => {
                let base = |name: &str, price: u128| mpb::MsgRegisterBaseModel {
                    owner: bech(&k.dev),
                    name: name.into(),
                    architecture: "llama".into(),
                    weights_hash: hash_of(&format!("{name} weights")),
                    tokenizer_hash: hash_of("tokenizer"),
                    license: "Apache-2.0".into(),
                    inference_price: coin(price),
                    chat_template_hash: String::new(),
                };
                g.ok_big(
                    &k.dev,
                    vec![any("/openledger.model.v1.MsgRegisterBaseModel", base("open-llama-3b", 100))],
                    Direct,
                    "register base model 1",
                );
                g.ok_big(
                    &k.dev,
                    vec![any("/openledger.model.v1.MsgRegisterBaseModel", base("unserved", 10))],
                    AminoJson,
                    "register base model 2",
                );
            }
            51 => {
                let adapter = |owner: &AccountKey, name: &str, versions: &[(u64, u64)], price: u128| mpb::MsgRegisterAdapter {
                    owner: bech(owner),
                    base_model_id: 1,
                    adapter_hash: hash_of(name),
                    datanet_versions: versions.iter().map(|(d, v)| mpb::DatanetVersionRef { datanet_id: *d, version: *v }).collect(),
                    training_config_hash: hash_of("lr=2e-4 r=16"),
                    inference_price: coin(price),
                };
                g.ok_big(
                    &k.alice,
                    vec![any("/openledger.model.v1.MsgRegisterAdapter", adapter(&k.alice, "arith lora", &[(1, 1)], 50))],
                    AminoJson,
                    "register adapter 1",
                );
                g.fails(
                    &k.carol,
                    vec![any("/openledger.model.v1.MsgRegisterAdapter", adapter(&k.carol, "ghost lora", &[(1, 9)], 50))],
                    Some(("model", 8)),
                    "adapter pinning a missing version",
                );
                g.ok_big(
                    &k.bob,
                    vec![any("/openledger.model.v1.MsgRegisterAdapter", adapter(&k.bob, "mixed lora", &[(1, 2), (2, 1)], 30))],
                    Direct,
                    "register adapter 2",
                );
            }
            52 => {
                g.ok_big(&k.alice, vec![set_price(&k.alice, 0, 1, 75)], Direct, "set adapter price");
                g.ok_big(&k.dev, vec![set_price(&k.dev, 1, 0, 120)], AminoJson, "set base model price");
                g.fails(&k.bob, vec![set_price(&k.bob, 0, 1, 1)], None, "set the price of someone else's adapter");
            }
            // Inference: executors registered, requests that nobody answers expire and are refunded.
            55 => {
                let reg =
                    |v: &AccountKey| ipb::MsgRegisterExecutor { validator: op(v), base_model_ids: vec![1], hardware_class: String::new() };
                g.ok(&k.dev, vec![any("/openledger.inference.v1.MsgRegisterExecutor", reg(&k.dev))], Direct, "register executor");
                g.ok(&k.val2, vec![any("/openledger.inference.v1.MsgRegisterExecutor", reg(&k.val2))], AminoJson, "register executor");
            }
            56 => {
                g.ok(&k.bob, vec![request(&k.bob, 1, 0, "What is open data?", 10_000)], Direct, "request inference");
                g.ok(&k.dave, vec![request(&k.dave, 1, 1, "2+2?", 5_000)], AminoJson, "request inference on adapter 1");
            }
            57 => {
                g.fails(&k.carol, vec![request(&k.carol, 1, 0, "cheap", 10)], None, "fee below the price");
                g.fails(&k.carol, vec![request(&k.carol, 2, 0, "nobody serves this", 1_000)], Some(("inference", 6)), "no executor");
                g.ok(&k.alice, vec![request(&k.alice, 1, 2, "mixed", 1_000)], Direct, "request inference on adapter 2");
            }
            // Proposal 5: inference deadline and attribution span change mid-stream.
            60 => {
                let authority = openledger_gov::gov_authority().to_bech32();
                let mut inference = g
                    .query::<ipb::QueryParamsResponse>("/openledger.inference.v1.Query/Params", ipb::QueryParamsRequest {})
                    .params
                    .expect("inference params");
                inference.deadline_blocks = 8;
                let mut attribution = g
                    .query::<apb::QueryParamsResponse>("/openledger.attribution.v1.Query/Params", apb::QueryParamsRequest {})
                    .params
                    .expect("attribution params");
                attribution.min_span_tokens = 12;
                let msgs = vec![
                    any(
                        "/openledger.inference.v1.MsgUpdateParams",
                        ipb::MsgUpdateParams { authority: authority.clone(), params: Some(inference) },
                    ),
                    any("/openledger.attribution.v1.MsgUpdateParams", apb::MsgUpdateParams { authority, params: Some(attribution) }),
                ];
                g.ok(&k.dev, vec![submit(&k.dev, msgs, 1_000_000, "shorter deadlines")], Direct, "submit proposal 5");
            }
            61 => {
                g.ok(&k.dev, vec![vote(&k.dev, 5, Yes)], AminoJson, "v1 vote");
                g.ok(&k.alice, vec![vote_weighted(&k.alice, 5, &[(Yes, "0.5"), (No, "0.5")])], Direct, "weighted vote");
            }
            65 => g.ok(&k.erin, vec![request(&k.erin, 1, 0, "before the change", 20_000)], Direct, "request inference"),
            75 => g.ok(&k.bob, vec![request(&k.bob, 1, 1, "after the change", 5_000)], AminoJson, "request inference"),
            // Slashing: val3 double-signs; val2 goes offline, is jailed, and unjails.
            h if h == EVIDENCE_HEIGHT => {
                let power = g.sets[&(h - 1)][V3_PK.as_slice()];
                let total: i64 = g.sets[&(h - 1)].values().sum();
                g.misbehavior.push(json!({
                    "type": pb::MisbehaviorType::DuplicateVote as i32,
                    "address": hex::encode(cons(&V3_PK)),
                    "power": power,
                    "height": h - 2,
                    "time_seconds": GENESIS_TIME + h - 2,
                    "total_voting_power": total,
                }));
                g.ok(&k.carol, vec![send(&k.carol, &k.val3.address(), 1)], Direct, "send");
            }
            112 => {
                let unjail = slashpb::MsgUnjail { validator_addr: op(&k.val2) };
                g.fails(&k.val2, vec![any("/cosmos.slashing.v1beta1.MsgUnjail", unjail)], None, "unjail while still jailed");
            }
            125 => {
                let unjail = slashpb::MsgUnjail { validator_addr: op(&k.val2) };
                g.ok(&k.val2, vec![any("/cosmos.slashing.v1beta1.MsgUnjail", unjail)], AminoJson, "unjail");
            }
            130 => g.ok(&k.bob, vec![delegate(&k.bob, &k.val2, 2_000_000_000)], AminoJson, "delegate after the unjail"),
            // Account creation order: several new accounts in one block.
            150 => {
                let multi = bankpb::MsgMultiSend {
                    inputs: vec![bankpb::Input { address: bech(&k.dev), coins: coins(30_000_000) }],
                    outputs: vec![
                        bankpb::Output { address: bech(&k.gina), coins: coins(10_000_000) },
                        bankpb::Output { address: bech(&k.frank), coins: coins(10_000_000) },
                        bankpb::Output { address: bech(&k.hank), coins: coins(10_000_000) },
                    ],
                };
                g.ok(&k.dev, vec![any("/cosmos.bank.v1beta1.MsgMultiSend", multi)], AminoJson, "multi-send creating three accounts");
                g.ok(&k.alice, vec![send(&k.alice, &k.ivan.address(), 7_000_000)], Direct, "send creating ivan");
            }
            151 => {
                g.ok(&k.frank, vec![send(&k.frank, &k.gina.address(), 1_000)], AminoJson, "send");
                g.ok(&k.ivan, vec![delegate(&k.ivan, &k.val2, 1_000_000)], Direct, "delegate");
            }
            // Proposal 6 passes late in the chain: max_validators back to 100.
            160 => {
                let mut params = g.staking_params();
                params.max_validators = 100;
                let update = any(
                    "/cosmos.staking.v1beta1.MsgUpdateParams",
                    spb::MsgUpdateParams { authority: openledger_gov::gov_authority().to_bech32(), params: Some(params) },
                );
                g.ok(&k.alice, vec![submit(&k.alice, vec![update], 1_000_000, "max validators 100")], AminoJson, "submit proposal 6");
            }
            161 => {
                g.ok(&k.dev, vec![vote_v1beta1(&k.dev, 6, Yes)], Direct, "v1beta1 vote");
                g.ok(&k.ivan, vec![vote(&k.ivan, 6, Abstain)], AminoJson, "v1 vote");
            }
            170 => {
                g.ok_big(&k.gina, vec![contribute(&k.gina, 2, &["late row from gina"], 0)], AminoJson, "contribute");
                g.ok(&k.hank, vec![request(&k.hank, 1, 0, "late request", 2_000)], Direct, "request inference");
            }
            171 => g.ok_big(&k.bob, vec![review(&k.bob, 2, 2, true, "ok")], AminoJson, "curator vote (1 of 3)"),
            172 => g.ok_big(&k.dev, vec![review(&k.dev, 2, 2, true, "late but fine")], Direct, "curator vote (decides)"),
            173 => g.ok_big(&k.alice, vec![publish(&k.alice, 2)], Direct, "publish datanet 2 v2"),
            200 => {
                g.ok(
                    &k.alice,
                    vec![withdraw_reward(&k.alice, &k.dev), withdraw_reward(&k.alice, &k.val2)],
                    AminoJson,
                    "withdraw from two validators",
                );
                g.ok(&k.dev, vec![withdraw_commission(&k.dev)], AminoJson, "withdraw commission");
                g.ok(&k.carol, vec![withdraw_reward(&k.carol, &k.dev)], Direct, "withdraw rewards to dave");
            }
            210 => g.ok(&k.bob, vec![undelegate(&k.bob, &k.val2, 500_000_000)], AminoJson, "undelegate (completes at 230)"),
            // Background traffic: a send every seven blocks, rotating senders and modes.
            h if h > 60 && h % 7 == 0 => {
                let senders = [&k.alice, &k.bob, &k.carol, &k.dave, &k.erin];
                let i = usize::try_from(h / 7).expect("positive") % senders.len();
                let to = senders[(i + 1) % senders.len()].address();
                let mode = if h % 2 == 0 { Direct } else { AminoJson };
                g.ok(senders[i], vec![send(senders[i], &to, u128::try_from(h).expect("positive"))], mode, "background send");
            }
            _ => {}
        }
    }
}
