//! Datanets and the model registry end to end.
//!
//! On a real single-validator chain (CometBFT v0.38 + openledgerd), driven through the
//! `openledgerd` CLI as a user would: create a datanet, two accounts contribute (one signing
//! with amino JSON), the owner accepts one and rejects the other (bond returned / partly burned,
//! visible in balances and the supply), publish a version, register a base model and an adapter
//! pinning that version, query the lineage (CLI and gRPC), export the version as JSONL and check
//! that its rows hash to the chain's Merkle root, and prove a row.
//!
//! Bad input on the real chain: oversized rows, wrong schema, a bond that differs from the
//! policy, a review by someone who is not the curator, a delisting by a user, an adapter pinning
//! a version that does not exist, and a tx whose second contribution is bad — each fails with its
//! code and changes nothing but the fee. In process: a contribution to a datanet delisted by
//! governance, and the governance-only handlers executed with the gov authority.

use std::process::Command;
use std::time::Duration;

use cosmos_sdk_proto::cosmos::bank::v1beta1::{QueryBalanceRequest, QueryBalanceResponse, QuerySupplyOfRequest, QuerySupplyOfResponse};
use cosmos_sdk_proto::Any;
use openledger_app::client::{fetch_account, sign_tx, SignModeChoice, TxSpec};
use openledger_app::keys::AccountKey;
use openledger_app::rpc_client::IndexedTx;
use openledger_core::state::LatestSnapshot;
use openledger_core::MsgRouter;
use openledger_core::{Address, Coin, StateDelta};
use openledger_datanet::genesis::{DatanetJson, PolicyJson, SchemaJson};
use openledger_datanet::keeper::{bonds_address, gov_authority};
use openledger_datanet::merkle;
use openledger_datanet::msg as dmsg;
use openledger_model::msg as mmsg;
use openledger_proto::openledger::attribution::v1 as apb;
use openledger_proto::openledger::datanet::v1 as dpb;
use openledger_proto::openledger::model::v1 as mpb;
use openledger_tests::{openledgerd_bin, Node};
use prost::Message;
use serde_json::Value;

use crate::app_level::{balance, genesis_with, key, min_fee, new_app, run_block, sign_with};

const CHAIN_ID: &str = "openledger-local-1";
const BOND: u128 = 1_000_000;
const BURN_BPS: u128 = 2_500;
const FUNDS: u128 = 50_000_000;

/// Runs `openledgerd ARGS --home <node home>` and returns stdout; panics with stderr on failure.
pub(crate) fn cli_text(node: &Node, args: &[&str]) -> String {
    let out = Command::new(openledgerd_bin()).args(args).arg("--home").arg(node.home()).output().expect("run openledgerd");
    assert!(
        out.status.success(),
        "openledgerd {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a CLI command against the node's RPC and parses its JSON output.
pub(crate) fn cli(node: &Node, args: &[&str]) -> Value {
    let url = node.rpc_url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--node", url.as_str()]);
    let text = cli_text(node, &all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("openledgerd {args:?} printed no JSON ({e}):\n{text}"))
}

/// Splits a command line on whitespace (for arguments without spaces).
pub(crate) fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// `keys add NAME` through the CLI; returns the key (from the printed mnemonic).
pub(crate) fn add_key(node: &Node, name: &str) -> AccountKey {
    let text = cli_text(node, &["keys", "add", name]);
    let mnemonic = text.lines().rev().find(|l| !l.trim().is_empty()).expect("mnemonic line");
    let key = AccountKey::from_mnemonic(mnemonic.trim()).expect("mnemonic");
    assert!(text.contains(&key.address().to_bech32()), "keys add printed the address of the mnemonic");
    key
}

/// The fee the CLI paid for a tx it printed (`ceil(gas_wanted × 0.025)`).
pub(crate) fn fee_of(out: &Value) -> u128 {
    let gas: u64 = out["gas_wanted"].as_str().expect("gas_wanted").parse().expect("number");
    min_fee(gas)
}

pub(crate) fn abci<Resp: Message + Default>(node: &Node, path: &str, req: impl Message) -> Resp {
    let res = node.rpc().abci_query(path, &req.encode_to_vec(), 0, false).expect("abci_query");
    assert_eq!(res.code, 0, "{path}: {}", res.log);
    Resp::decode(res.value.as_slice()).expect("decode")
}

pub(crate) fn uopen(node: &Node, address: &Address) -> u128 {
    let r: QueryBalanceResponse =
        abci(node, "/cosmos.bank.v1beta1.Query/Balance", QueryBalanceRequest { address: address.to_bech32(), denom: "uopen".into() });
    r.balance.expect("coin").amount.parse().expect("amount")
}

fn supply(node: &Node) -> u128 {
    let r: QuerySupplyOfResponse = abci(node, "/cosmos.bank.v1beta1.Query/SupplyOf", QuerySupplyOfRequest { denom: "uopen".into() });
    r.amount.expect("coin").amount.parse().expect("amount")
}

fn datanet(node: &Node, id: u64) -> dpb::Datanet {
    let r: dpb::QueryDatanetResponse = abci(node, "/openledger.datanet.v1.Query/Datanet", dpb::QueryDatanetRequest { datanet_id: id });
    r.datanet.expect("datanet")
}

fn hash_of(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

#[test]
fn datanet_contributions_version_adapter_lineage_and_export_on_a_real_chain() {
    let node = Node::start();
    let tmp = tempfile::tempdir().expect("tempdir");
    let alice = add_key(&node, "alice");
    let bob = add_key(&node, "bob");
    for k in [&alice, &bob] {
        cli(&node, &["tx", "bank", "send", "dev", &k.address().to_bech32(), &format!("{FUNDS}uopen")]);
    }

    // 1. The owner (dev) creates a JSON datanet under owner review with a 1 OPEN bond, 25 % burn.
    let mut create = words(
        "tx datanet create --from dev --name arithmetic-qa --license CC-BY-4.0 --schema json --required-fields prompt,completion \
         --curation owner --bond 1000000uopen --reject-burn-bps 2500 --max-row-bytes 256",
    );
    create.extend(["--description", "grade-school arithmetic Q&A"]);
    let out = cli(&node, &create);
    assert_eq!(out["code"], 0);
    let shown = cli(&node, &["query", "datanet", "datanet", "1"]);
    assert_eq!(shown["datanet"]["schema"]["kind"], "SCHEMA_KIND_JSON");
    assert_eq!(shown["datanet"]["policy"]["contribution_bond"]["amount"], "1000000");
    assert_eq!(shown["datanet"]["owner"], node.dev_address);

    // 2. Alice contributes 3 rows (direct signing), Bob 2 rows (amino JSON signing).
    let alice_rows = [
        r#"{"prompt":"2+2","completion":"4"}"#,
        r#"{"prompt":"7*6","completion":"42"}"#,
        r#"{"prompt":"10-3","completion":"7","source":"textbook"}"#,
    ];
    let bob_rows = [r#"{"prompt":"1+1","completion":"3"}"#, r#"{"prompt":"2*2","completion":"5"}"#];
    let alice_file = tmp.path().join("alice.jsonl");
    std::fs::write(&alice_file, alice_rows.join("\n")).expect("write rows");
    let bob_file = tmp.path().join("bob.jsonl");
    std::fs::write(&bob_file, bob_rows.join("\n")).expect("write rows");
    let (alice0, bob0) = (uopen(&node, &alice.address()), uopen(&node, &bob.address()));
    let out = cli(&node, &["tx", "datanet", "contribute", "1", "--rows-file", alice_file.to_str().expect("path"), "--from", "alice"]);
    let alice_fee = fee_of(&out);
    assert_eq!(uopen(&node, &alice.address()), alice0 - BOND - alice_fee, "the bond is escrowed");
    let mut contribute = words("tx datanet contribute 1 --from bob --sign-mode amino-json --rows-file");
    contribute.push(bob_file.to_str().expect("path"));
    let out = cli(&node, &contribute);
    let bob_fee = fee_of(&out);
    assert_eq!(uopen(&node, &bob.address()), bob0 - BOND - bob_fee);
    assert_eq!(uopen(&node, &bonds_address()), 2 * BOND, "both bonds sit in the datanet_bonds module account");
    let pending = cli(&node, &["query", "datanet", "contributions", "--datanet", "1"]);
    assert_eq!(pending["contributions"].as_array().expect("list").len(), 2);
    assert_eq!(pending["contributions"][0]["status"], "CONTRIBUTION_STATUS_PENDING");

    // 3. The owner accepts Alice's and rejects Bob's: Alice gets her bond back, Bob 75 % of his,
    //    25 % is burned (the supply shrinks by exactly that).
    let supply0 = supply(&node);
    cli(&node, &["tx", "datanet", "review", "1", "1", "--accept", "--reason", "correct", "--from", "dev"]);
    cli(&node, &["tx", "datanet", "review", "1", "2", "--reject", "--reason", "wrong answers", "--from", "dev"]);
    let burned = BOND * BURN_BPS / 10_000;
    assert_eq!(uopen(&node, &alice.address()), alice0 - alice_fee, "accepted: bond returned in full");
    assert_eq!(uopen(&node, &bob.address()), bob0 - bob_fee - burned, "rejected: 25 % burned, 75 % returned");
    assert_eq!(uopen(&node, &bonds_address()), 0);
    assert_eq!(supply0 - supply(&node), burned, "the burned share left the supply");
    let stats = cli(&node, &["query", "datanet", "contributor-stats", &alice.address().to_bech32()]);
    assert_eq!(stats["total"]["accepted_rows"], "3", "accepted rows are credited to their contributor");
    let stats = cli(&node, &["query", "datanet", "contributor-stats", &bob.address().to_bech32(), "--datanet", "1"]);
    assert_eq!((stats["total"]["rejected_contributions"].as_str(), stats["total"]["bond_burned"].as_str()), (Some("1"), Some("250000")));
    let mine = cli(&node, &["query", "datanet", "contributions", "--contributor", &bob.address().to_bech32()]);
    assert_eq!(mine["contributions"][0]["reason"], "wrong answers");

    // 4. Publish version 1: exactly Alice's rows, under the Merkle root of their leaves.
    cli(&node, &["tx", "datanet", "publish", "1", "--from", "dev"]);
    let expected_root = merkle::root(
        &alice_rows
            .iter()
            .enumerate()
            .map(|(i, r)| merkle::leaf_hash(u64::try_from(i).expect("small") + 1, alice.address().as_bytes(), r.as_bytes()))
            .collect::<Vec<_>>(),
    )
    .expect("root");
    let version = runtime().block_on(async {
        let mut client = dpb::query_client::QueryClient::connect(node.grpc_url()).await.expect("grpc connect");
        client
            .version(dpb::QueryVersionRequest { datanet_id: 1, version: 1 })
            .await
            .expect("Version over gRPC")
            .into_inner()
            .version
            .expect("v")
    });
    assert_eq!((version.row_count, version.merkle_root.as_slice()), (3, expected_root.as_slice()));
    let versions = cli(&node, &["query", "datanet", "versions", "1"]);
    assert_eq!(versions["versions"][0]["merkle_root_hex"], hex::encode(expected_root));
    let rows = cli(&node, &["query", "datanet", "rows", "1", "1", "--limit", "2"]);
    assert_eq!(rows["rows"].as_array().expect("rows").len(), 2);
    assert_eq!(rows["pagination"]["total"], "3");
    assert_eq!(rows["rows"][1]["data"], alice_rows[1]);

    // The version was indexed for Proof of Attribution at the end of its block, and an output
    // quoting Alice's third row is attributed to her alone.
    let info: apb::QueryIndexInfoResponse =
        abci(&node, "/openledger.attribution.v1.Query/IndexInfo", apb::QueryIndexInfoRequest { datanet_id: 1, version: 1 });
    let meta = info.meta.expect("index meta");
    assert_eq!((meta.status, meta.row_count), (apb::IndexStatus::Ready as i32, 3), "{meta:?}");
    assert!(meta.token_count > 0 && meta.chunk_count > 0);
    let scored: apb::QueryScoreResponse = abci(
        &node,
        "/openledger.attribution.v1.Query/Score",
        apb::QueryScoreRequest {
            versions: vec![apb::VersionRef { datanet_id: 1, version: 1 }],
            text: r#"the answer: "completion":"7","source":"textbook" indeed"#.into(),
            amount: "1000".into(),
        },
    );
    let record = scored.record.expect("record");
    assert_eq!(record.payouts.len(), 1, "{record:?}");
    assert_eq!((record.payouts[0].contributor.as_str(), record.payouts[0].amount.as_str()), (alice.address().to_bech32().as_str(), "1000"));
    assert_eq!(record.rows.iter().map(|r| r.row_id).collect::<Vec<_>>(), vec![3]);
    let shown = cli(&node, &["query", "attribution", "index", "1", "1"]);
    assert_eq!(shown["meta"]["status"], "INDEX_STATUS_READY", "{shown}");
    assert_eq!(shown["meta"]["token_count"], meta.token_count.to_string());
    let shown = cli(
        &node,
        &["query", "attribution", "score", "--version", "1:1", "--text", "nothing like any row at all, really", "--amount", "10"],
    );
    assert_eq!(shown["record"]["community_pool"], "10", "no span: everything to the pool: {shown}");

    // 5. A base model and an adapter trained on exactly that version.
    let weights = hash_of("open-llama-3b weights");
    let tokenizer = hash_of("tokenizer");
    let mut register =
        words("tx model register-base --from dev --name open-llama-3b --architecture llama --license Apache-2.0 --price 100uopen");
    register.extend(["--weights-hash", &weights, "--tokenizer-hash", &tokenizer]);
    cli(&node, &register);
    let adapter_hash = hash_of("arithmetic lora");
    let config = hash_of("lr=2e-4 r=16");
    let mut register = words("tx model register-adapter --from alice --base-model 1 --datanet-version 1:1 --price 50uopen");
    register.extend(["--adapter-hash", &adapter_hash, "--training-config-hash", &config]);
    cli(&node, &register);
    cli(&node, &["tx", "model", "set-price", "75uopen", "--adapter", "1", "--from", "alice"]);
    let lineage = cli(&node, &["query", "model", "lineage", "1"]);
    assert_eq!(lineage["adapter"]["adapter_hash"], adapter_hash);
    assert_eq!(lineage["adapter"]["inference_price"]["amount"], "75");
    assert_eq!(lineage["base_model"]["weights_hash"], weights);
    assert_eq!(lineage["datanet_versions"][0]["merkle_root_hex"], hex::encode(expected_root));
    assert_eq!(lineage["datanet_versions"][0]["row_count"], "3");
    let by_datanet = cli(&node, &["query", "model", "adapters", "--datanet", "1", "--version", "1"]);
    assert_eq!(by_datanet["adapters"][0]["owner"], alice.address().to_bech32());
    let grpc_lineage = runtime().block_on(async {
        let mut client = mpb::query_client::QueryClient::connect(node.grpc_url()).await.expect("grpc connect");
        client.lineage(mpb::QueryLineageRequest { adapter_id: 1 }).await.expect("Lineage over gRPC").into_inner().lineage.expect("lineage")
    });
    assert_eq!(grpc_lineage.datanet_versions[0].merkle_root, version.merkle_root);

    // 6. Export the version as JSONL: the CLI recomputes the root and says it matches; the file's
    //    rows, hashed independently here, give the chain's root too.
    let export = tmp.path().join("v1.jsonl");
    let summary = cli(&node, &["datanet", "export-version", "--datanet", "1", "--version", "1", "--out", export.to_str().expect("path")]);
    assert_eq!(summary["matches"], true, "{summary}");
    assert_eq!(summary["chain_merkle_root"], hex::encode(&version.merkle_root));
    let text = std::fs::read_to_string(&export).expect("export file");
    let leaves: Vec<merkle::Hash> = text
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("JSON line");
            let contributor = Address::from_bech32(v["contributor"].as_str().expect("contributor")).expect("address");
            let row_id: u64 = v["row_id"].as_str().expect("row_id").parse().expect("number");
            merkle::leaf_hash(row_id, contributor.as_bytes(), v["data"].as_str().expect("text row").as_bytes())
        })
        .collect();
    assert_eq!(leaves.len(), 3);
    assert_eq!(merkle::root(&leaves).expect("root").as_slice(), version.merkle_root.as_slice());

    // 7. Any row proves against the root, checked by the CLI and here.
    let proof = cli(&node, &["query", "datanet", "row-proof", "1", "1", "2"]);
    assert_eq!(proof["verified"], true);
    let siblings: Vec<Vec<u8>> =
        proof["siblings"].as_array().expect("siblings").iter().map(|s| hex::decode(s.as_str().expect("hex")).expect("hex")).collect();
    assert!(merkle::verify_row_proof(&version.merkle_root, 3, alice.address().as_bytes(), alice_rows[2].as_bytes(), 2, 3, &siblings));
    assert!(!merkle::verify_row_proof(&version.merkle_root, 3, bob.address().as_bytes(), alice_rows[2].as_bytes(), 2, 3, &siblings));
    assert!(!node.app_log().contains("panicked"));
}

/// Signs `msgs` for `key` with `gas` and the minimum fee, at the account's current sequence.
pub(crate) fn signed(node: &Node, key: &AccountKey, msgs: Vec<Any>, gas: u64) -> Vec<u8> {
    let account = fetch_account(&node.rpc(), &key.address()).expect("account query").expect("account exists");
    sign_tx(&TxSpec {
        key,
        chain_id: CHAIN_ID,
        account_number: account.account_number,
        sequence: account.sequence,
        msgs,
        fee: vec![Coin::new("uopen", min_fee(gas)).to_proto()],
        gas_limit: gas,
        memo: String::new(),
        mode: SignModeChoice::Direct,
    })
    .expect("sign")
}

/// Broadcasts a tx that passes CheckTx and waits for its result in a block.
pub(crate) fn deliver(node: &Node, tx: &[u8]) -> IndexedTx {
    let rpc = node.rpc();
    let res = rpc.broadcast_tx_sync(tx).expect("broadcast");
    assert_eq!(res.code, 0, "CheckTx rejected: {} {} {}", res.codespace, res.code, res.log);
    rpc.wait_for_tx(&res.hash, Duration::from_secs(30)).expect("tx_search").expect("tx included")
}

pub(crate) fn any(type_url: &str, msg: impl Message) -> Any {
    Any { type_url: type_url.into(), value: msg.encode_to_vec() }
}

fn contribution(who: &AccountKey, rows: &[&str], bond: u128) -> Any {
    contribution_to(1, who, rows, bond)
}

pub(crate) fn contribution_to(datanet_id: u64, who: &AccountKey, rows: &[&str], bond: u128) -> Any {
    any(
        dmsg::MSG_SUBMIT_CONTRIBUTION,
        dpb::MsgSubmitContribution {
            contributor: who.address().to_bech32(),
            datanet_id,
            rows: rows.iter().map(|r| r.as_bytes().to_vec()).collect(),
            bond: Some(Coin::new("uopen", bond).to_proto()),
        },
    )
}

/// What a bad tx must leave unchanged (besides the signer's fee and sequence).
#[derive(Debug, PartialEq)]
struct Observed {
    datanets: Vec<dpb::Datanet>,
    bonds: u128,
    contributions: Vec<Vec<dpb::Contribution>>,
    adapters: usize,
}

fn observe(node: &Node) -> Observed {
    let contributions = |datanet_id: u64| {
        let c: dpb::QueryContributionsResponse =
            abci(node, "/openledger.datanet.v1.Query/Contributions", dpb::QueryContributionsRequest { datanet_id, pagination: None });
        c.contributions
    };
    let a: mpb::QueryAdaptersResponse = abci(node, "/openledger.model.v1.Query/Adapters", mpb::QueryAdaptersRequest { pagination: None });
    Observed {
        datanets: vec![datanet(node, 1), datanet(node, 2)],
        bonds: uopen(node, &bonds_address()),
        contributions: vec![contributions(1), contributions(2)],
        adapters: a.adapters.len(),
    }
}

#[test]
fn bad_datanet_and_model_input_fails_with_clear_codes_and_changes_nothing() {
    const GAS: u64 = 2_000_000;
    let node = Node::start();
    let dev = AccountKey::from_mnemonic(&node.dev_mnemonic).expect("dev key");
    let alice = AccountKey::from_secret(&[0x51; 32]).expect("key");
    let send = cosmos_sdk_proto::cosmos::bank::v1beta1::MsgSend {
        from_address: dev.address().to_bech32(),
        to_address: alice.address().to_bech32(),
        amount: vec![Coin::new("uopen", FUNDS).to_proto()],
    };
    assert_eq!(deliver(&node, &signed(&node, &dev, vec![any("/cosmos.bank.v1beta1.MsgSend", send)], GAS)).code, 0);
    let create = dpb::MsgCreateDatanet {
        owner: dev.address().to_bech32(),
        name: "qa".into(),
        description: String::new(),
        license: "CC0-1.0".into(),
        schema: Some(dpb::RowSchema { kind: dpb::SchemaKind::Json as i32, required_fields: vec!["prompt".into(), "completion".into()] }),
        policy: Some(dpb::CurationPolicy {
            mode: dpb::CurationMode::OwnerReview as i32,
            curators: vec![],
            contribution_bond: Some(Coin::new("uopen", BOND).to_proto()),
            reject_burn_bps: 1000,
            max_row_bytes: 128,
        }),
    };
    assert_eq!(deliver(&node, &signed(&node, &dev, vec![any(dmsg::MSG_CREATE_DATANET, create)], GAS)).code, 0);
    // Datanet 2: a curator vote with dev as the only curator.
    let curated = dpb::MsgCreateDatanet {
        owner: dev.address().to_bech32(),
        name: "curated".into(),
        description: String::new(),
        license: String::new(),
        schema: Some(dpb::RowSchema { kind: dpb::SchemaKind::Text as i32, required_fields: vec![] }),
        policy: Some(dpb::CurationPolicy {
            mode: dpb::CurationMode::CuratorVote as i32,
            curators: vec![dpb::Curator { address: dev.address().to_bech32(), weight: 3 }],
            contribution_bond: None,
            reject_burn_bps: 0,
            max_row_bytes: 1000,
        }),
    };
    assert_eq!(deliver(&node, &signed(&node, &dev, vec![any(dmsg::MSG_CREATE_DATANET, curated)], GAS)).code, 0);
    let ok_row = r#"{"prompt":"hi","completion":"hello"}"#;
    let r =
        deliver(&node, &signed(&node, &alice, vec![contribution(&alice, &[ok_row], BOND), contribution_to(2, &alice, &["text"], 0)], GAS));
    assert_eq!(r.code, 0, "{}", r.log);
    let base = mpb::MsgRegisterBaseModel {
        owner: dev.address().to_bech32(),
        name: "base".into(),
        architecture: "llama".into(),
        weights_hash: hash_of("w"),
        tokenizer_hash: hash_of("t"),
        license: String::new(),
        inference_price: None,
        chat_template_hash: String::new(),
    };
    assert_eq!(deliver(&node, &signed(&node, &dev, vec![any(mmsg::MSG_REGISTER_BASE_MODEL, base)], GAS)).code, 0);

    let oversized = format!(r#"{{"prompt":"{}","completion":"x"}}"#, "a".repeat(200));
    let adapter_on_missing_version = mpb::MsgRegisterAdapter {
        owner: alice.address().to_bech32(),
        base_model_id: 1,
        adapter_hash: hash_of("a"),
        datanet_versions: vec![mpb::DatanetVersionRef { datanet_id: 1, version: 5 }],
        training_config_hash: hash_of("c"),
        inference_price: None,
    };
    let cases: Vec<(&str, Vec<Any>, &str, u32, &str)> = vec![
        ("oversized row", vec![contribution(&alice, &[ok_row, &oversized], BOND)], "datanet", 9, "rows must be 1..=128 bytes"),
        (
            "missing field",
            vec![contribution(&alice, &[r#"{"prompt":"2+2"}"#], BOND)],
            "datanet",
            10,
            "missing required field \"completion\"",
        ),
        ("not JSON", vec![contribution(&alice, &["just text"], BOND)], "datanet", 10, "not JSON"),
        ("bond below policy", vec![contribution(&alice, &[ok_row], BOND - 1)], "datanet", 11, "does not match"),
        (
            // The first contribution is fine; the second is not: neither is stored.
            "half a tx",
            vec![contribution(&alice, &[ok_row], BOND), contribution(&alice, &[r#"{"completion":"x"}"#], BOND)],
            "datanet",
            10,
            "message index: 1",
        ),
        (
            "review by a non-curator",
            vec![any(
                dmsg::MSG_REVIEW_CONTRIBUTION,
                dpb::MsgReviewContribution {
                    reviewer: alice.address().to_bech32(),
                    datanet_id: 2,
                    contribution_id: 1,
                    accept: true,
                    reason: String::new(),
                },
            )],
            "sdk",
            4,
            "is not a curator of datanet 2",
        ),
        (
            "review by someone not the owner",
            vec![any(
                dmsg::MSG_REVIEW_CONTRIBUTION,
                dpb::MsgReviewContribution {
                    reviewer: alice.address().to_bech32(),
                    datanet_id: 1,
                    contribution_id: 1,
                    accept: true,
                    reason: String::new(),
                },
            )],
            "sdk",
            4,
            "only the owner reviews",
        ),
        (
            "delisting by a user",
            vec![any(
                dmsg::MSG_DELIST_DATANET,
                dpb::MsgDelistDatanet { authority: alice.address().to_bech32(), datanet_id: 1, reason: "mine".into() },
            )],
            "sdk",
            4,
            "governance",
        ),
        (
            "adapter pinning a missing version",
            vec![any(mmsg::MSG_REGISTER_ADAPTER, adapter_on_missing_version)],
            "model",
            8,
            "no published version 5",
        ),
    ];
    for (what, msgs, codespace, code, log) in cases {
        let before = observe(&node);
        let balance_before = uopen(&node, &alice.address());
        let result = deliver(&node, &signed(&node, &alice, msgs, GAS));
        assert_eq!((result.codespace.as_str(), result.code), (codespace, code), "{what}: {}", result.log);
        assert!(result.log.contains(log), "{what}: log {:?} lacks {log:?}", result.log);
        assert_eq!(observe(&node), before, "{what} changed the datanet, the bonds or the registry");
        assert_eq!(uopen(&node, &alice.address()), balance_before - min_fee(GAS), "{what}: only the fee was paid");
    }

    // Stateless problems never reach a block: CheckTx refuses them and nothing changes at all.
    let before = (observe(&node), uopen(&node, &alice.address()));
    let empty_row = dpb::MsgSubmitContribution { contributor: alice.address().to_bech32(), datanet_id: 1, rows: vec![vec![]], bond: None };
    let res =
        node.rpc().broadcast_tx_sync(&signed(&node, &alice, vec![any(dmsg::MSG_SUBMIT_CONTRIBUTION, empty_row)], GAS)).expect("broadcast");
    assert_eq!((res.codespace.as_str(), res.code), ("datanet", 9), "{}", res.log);
    let bad_hash = mpb::MsgRegisterBaseModel { weights_hash: "not-a-hash".into(), ..Default::default() };
    let res =
        node.rpc().broadcast_tx_sync(&signed(&node, &alice, vec![any(mmsg::MSG_REGISTER_BASE_MODEL, bad_hash)], GAS)).expect("broadcast");
    assert_eq!((res.codespace.as_str(), res.code), ("sdk", 7), "{}", res.log);
    let h = node.height();
    node.wait_for_height(h + 2, Duration::from_secs(30));
    assert_eq!((observe(&node), uopen(&node, &alice.address())), before);
    assert!(!node.app_log().contains("panicked"));
}

#[test]
fn governance_only_delisting_and_contributions_to_a_delisted_datanet_in_process() {
    let alice = key(0x61);
    let mut genesis = genesis_with(&[(alice.address(), FUNDS)]);
    let datanet = |id: u64, delisted: bool| DatanetJson {
        id,
        owner: alice.address().to_bech32(),
        name: format!("set {id}"),
        description: String::new(),
        license: String::new(),
        schema: SchemaJson { kind: "SCHEMA_KIND_TEXT".into(), required_fields: vec![] },
        policy: PolicyJson {
            mode: "CURATION_MODE_OWNER_REVIEW".into(),
            curators: vec![],
            contribution_bond: None,
            reject_burn_bps: 0,
            max_row_bytes: 100,
        },
        delisted,
        delist_reason: if delisted { "court order".into() } else { String::new() },
        next_row_id: 1,
        next_contribution_id: 1,
        latest_version: 0,
        accepted_rows: 0,
        pending_contributions: 0,
        curation_epoch: 1,
    };
    genesis.datanet.datanets = vec![datanet(1, false), datanet(2, true)];
    let app = new_app(&genesis);
    run_block(&app, &[]);
    assert!(app.modules().bank.is_blocked(&bonds_address()), "users cannot send into the bond escrow");

    // A contribution to the delisted datanet: datanet code 6, only the fee paid.
    let gas = 1_000_000;
    let msg = |datanet_id: u64| {
        any(
            dmsg::MSG_SUBMIT_CONTRIBUTION,
            dpb::MsgSubmitContribution {
                contributor: alice.address().to_bech32(),
                datanet_id,
                rows: vec![b"some text".to_vec()],
                bond: None,
            },
        )
    };
    let before = balance(&app, &alice.address());
    let tx = sign_with(&app, &alice, vec![msg(2)], gas, min_fee(gas), None, SignModeChoice::Direct, "");
    let result = &run_block(&app, &[tx]).tx_results[0];
    assert_eq!((result.codespace.as_str(), result.code), ("datanet", 6), "{}", result.log);
    assert_eq!(balance(&app, &alice.address()), before - min_fee(gas));
    let tx = sign_with(&app, &alice, vec![msg(1)], gas, min_fee(gas), None, SignModeChoice::Direct, "");
    assert_eq!(run_block(&app, &[tx]).tx_results[0].code, 0, "the listed datanet still takes rows");

    // The delisting handlers through the app's router: the gov authority succeeds, a user is
    // unauthorized (no account can sign as gov, so these run only once governance exists).
    let delist_row = |authority: &Address| {
        app.modules()
            .registry
            .decode(&any(
                dmsg::MSG_DELIST_ROW,
                dpb::MsgDelistRow { authority: authority.to_bech32(), datanet_id: 1, row_id: 1, reason: "personal data".into() },
            ))
            .expect("valid message")
    };
    let mut delta = StateDelta::new(LatestSnapshot(app.storage().clone()));
    let err = delist_row(&alice.address()).execute(app.modules().registry.as_ref(), &mut delta).expect_err("a user cannot delist");
    assert_eq!((err.codespace, err.code), ("sdk", 4));
    assert!(delta.changes().is_empty());
    delist_row(&gov_authority()).execute(app.modules().registry.as_ref(), &mut delta).expect("governance delists");
    let row = app.modules().datanet.row(&delta, 1, 1).expect("state").expect("row kept");
    assert!(row.delisted, "delisted rows stay (for attribution) but are flagged");
    let delist = app
        .modules()
        .registry
        .decode(&any(
            dmsg::MSG_DELIST_DATANET,
            dpb::MsgDelistDatanet { authority: gov_authority().to_bech32(), datanet_id: 1, reason: "takedown".into() },
        ))
        .expect("valid");
    delist.execute(app.modules().registry.as_ref(), &mut delta).expect("governance delists the datanet");
    let mut child = StateDelta::new(&delta);
    let err =
        app.modules().registry.decode(&msg(1)).expect("valid").execute(app.modules().registry.as_ref(), &mut child).expect_err("delisted");
    assert_eq!((err.codespace, err.code), ("datanet", 6));
}

/// A flood of publishes costs the flooder, not the chain's blocks: each publish pays index gas in
/// proportion to the version's bytes, the versions one block may queue are bounded (the rest
/// fail with (attribution, 13) and pay only their fee), and end blocks index one version each
/// whatever was queued. In process, with a small per-block budget set at genesis.
#[test]
fn a_flood_of_publishes_pays_by_size_and_is_bounded_per_block() {
    const ROW: usize = 900;
    let owners: Vec<AccountKey> = (0..5).map(|i| key(0x70 + i)).collect();
    let mut genesis = genesis_with(&owners.iter().map(|k| (k.address(), FUNDS)).collect::<Vec<_>>());
    genesis.attribution.params.index_gas_per_byte = 20;
    // Room for two versions of 4 rows in one block.
    genesis.attribution.params.max_index_bytes_per_block = 2 * 4 * ROW as u64 + 100;
    let app = new_app(&genesis);
    run_block(&app, &[]);
    let gas = 5_000_000;
    let tx = |k: &AccountKey, msgs: Vec<Any>| sign_with(&app, k, msgs, gas, min_fee(gas), None, SignModeChoice::Direct, "");
    // Each owner: a datanet with `rows` accepted rows of ROW bytes.
    let mut datanet_ids = Vec::new();
    for (i, k) in owners.iter().enumerate() {
        let create = dpb::MsgCreateDatanet {
            owner: k.address().to_bech32(),
            name: format!("flood {i}"),
            description: String::new(),
            license: String::new(),
            schema: Some(dpb::RowSchema { kind: dpb::SchemaKind::Text as i32, required_fields: vec![] }),
            policy: Some(dpb::CurationPolicy {
                mode: dpb::CurationMode::OwnerReview as i32,
                curators: vec![],
                contribution_bond: None,
                reject_burn_bps: 0,
                max_row_bytes: 4096,
            }),
        };
        assert_eq!(run_block(&app, &[tx(k, vec![any(dmsg::MSG_CREATE_DATANET, create)])]).tx_results[0].code, 0);
        let id = u64::try_from(i + 1).expect("small");
        // Owner 0 has 1 row, the others 4 (so publishing costs grow with size).
        let rows = if i == 0 { 1 } else { 4 };
        let contribute = dpb::MsgSubmitContribution {
            contributor: k.address().to_bech32(),
            datanet_id: id,
            rows: (0..rows).map(|r| format!("{i}-{r} {}", "x".repeat(ROW - 8)).into_bytes()).collect(),
            bond: None,
        };
        let review = dpb::MsgReviewContribution {
            reviewer: k.address().to_bech32(),
            datanet_id: id,
            contribution_id: 1,
            accept: true,
            reason: String::new(),
        };
        let res = run_block(&app, &[tx(k, vec![any(dmsg::MSG_SUBMIT_CONTRIBUTION, contribute)])]);
        assert_eq!(res.tx_results[0].code, 0, "{}", res.tx_results[0].log);
        let res = run_block(&app, &[tx(k, vec![any(dmsg::MSG_REVIEW_CONTRIBUTION, review)])]);
        assert_eq!(res.tx_results[0].code, 0, "{}", res.tx_results[0].log);
        datanet_ids.push(id);
    }
    let publish = |k: &AccountKey, id: u64| {
        tx(k, vec![any(dmsg::MSG_PUBLISH_VERSION, dpb::MsgPublishVersion { owner: k.address().to_bech32(), datanet_id: id })])
    };

    // One block, five publishes: the budget takes the 1-row and the first 4-row version; the
    // other three are refused and pay only their fee.
    let txs: Vec<Vec<u8>> = owners.iter().zip(&datanet_ids).map(|(k, id)| publish(k, *id)).collect();
    let before: Vec<u128> = owners.iter().map(|k| balance(&app, &k.address())).collect();
    let res = run_block(&app, &txs);
    let codes: Vec<(String, u32)> = res.tx_results.iter().map(|r| (r.codespace.clone(), r.code)).collect();
    assert_eq!(codes[0], (String::new(), 0));
    assert_eq!(codes[1], (String::new(), 0));
    assert!(codes[2..].iter().all(|c| *c == ("attribution".to_string(), 13)), "over the block's budget: {codes:?}");
    let gas_used: Vec<u64> = res.tx_results.iter().map(|r| u64::try_from(r.gas_used).expect("gas")).collect();
    // Index gas: 20 per byte, so the 4-row version pays about 3 × 900 × 20 more than the 1-row one.
    let extra = gas_used[1].saturating_sub(gas_used[0]);
    assert!(extra >= 20 * 3 * ROW as u64, "gas {gas_used:?}");
    for (k, b) in owners.iter().zip(&before) {
        assert_eq!(balance(&app, &k.address()), b - min_fee(gas), "every publisher paid its fee, refused or not");
    }
    // The refused ones publish in a later block (a fresh budget); end blocks index one version
    // each, so the queue drains one per block however many were accepted.
    let pending = |app: &openledger_app::app::App| {
        app.modules().attribution.pending(&LatestSnapshot(app.storage().clone()), 100).expect("pending").len()
    };
    let queued = pending(&app);
    assert!(queued <= 2, "at most what one block accepted is waiting: {queued}");
    let res = run_block(&app, &[publish(&owners[2], datanet_ids[2]), publish(&owners[3], datanet_ids[3])]);
    assert!(res.tx_results.iter().all(|r| r.code == 0), "{:?}", res.tx_results.iter().map(|r| &r.log).collect::<Vec<_>>());
    let mut last = pending(&app);
    while last > 0 {
        run_block(&app, &[]);
        let now = pending(&app);
        assert_eq!(now + 1, last, "one version indexed per block");
        last = now;
    }
}
