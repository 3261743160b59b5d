//! Governance end to end on one real CometBFT node, driven through the `openledgerd` CLI (proposal
//! files in the SDK's shape) and signed txs over CometBFT RPC:
//!
//! - a proposal changing staking and bank parameters and the datanet curation standards
//!   (minimum contribution bond), and delisting a datanet, a base model and an adapter, is
//!   submitted, topped up by a second depositor, voted yes by the validator and no by a delegator
//!   (who votes with its own stake), passes, and is in effect from the next block: the params at
//!   the height that executed it differ from the height before, the datanet takes no
//!   contributions, the base model takes no adapters, datanets below the bond floor are refused;
//! - a vetoed proposal burns its deposit (the supply drops by exactly the deposit, the depositor
//!   gets nothing back);
//! - a proposal below quorum is rejected and its deposit refunded;
//! - bad input (a vote after the voting period, an unknown proposal, a proposal message whose
//!   signer is not the gov authority, a deposit in a wrong denom, a delisting sent directly by a
//!   user) fails with the expected codespace/code and changes nothing but the fee.

use std::time::Duration;

use cosmos_sdk_proto::cosmos::bank::v1beta1 as bpb;
use cosmos_sdk_proto::cosmos::gov::v1 as govpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use openledger_app::keys::AccountKey;
use openledger_core::Address;
use openledger_gov::gov_authority;
use openledger_proto::openledger::{datanet::v1 as dnpb, model::v1 as mdpb};
use openledger_tests::{wait_until, Node, NodeOptions};
use prost::Message;
use serde_json::{json, Value};

use crate::app_level::min_fee;
use crate::datanet::{abci, add_key, any, cli, contribution_to, deliver, fee_of, signed, uopen, words};

/// The default minimum deposit: 10,000 OPEN.
const DEPOSIT: u128 = 10_000_000_000;
/// Gas of the hand-signed txs that must fail in their block.
const BAD_GAS: u64 = 400_000;

fn abci_at<Resp: Message + Default>(node: &Node, path: &str, req: impl Message, height: i64) -> Resp {
    let res = node.rpc().abci_query(path, &req.encode_to_vec(), height, false).expect("abci_query");
    assert_eq!(res.code, 0, "{path} at {height}: {}", res.log);
    Resp::decode(res.value.as_slice()).expect("decode")
}

fn supply(node: &Node) -> u128 {
    let r: bpb::QuerySupplyOfResponse =
        abci(node, "/cosmos.bank.v1beta1.Query/SupplyOf", bpb::QuerySupplyOfRequest { denom: "uopen".into() });
    r.amount.expect("coin").amount.parse().expect("amount")
}

fn proposal_at(node: &Node, id: u64, height: i64) -> govpb::Proposal {
    let r: govpb::QueryProposalResponse =
        abci_at(node, "/cosmos.gov.v1.Query/Proposal", govpb::QueryProposalRequest { proposal_id: id }, height);
    r.proposal.expect("proposal")
}

fn staking_params_at(node: &Node, height: i64) -> spb::Params {
    let r: spb::QueryParamsResponse = abci_at(node, "/cosmos.staking.v1beta1.Query/Params", spb::QueryParamsRequest {}, height);
    r.params.expect("params")
}

fn datanet_params_at(node: &Node, height: i64) -> dnpb::Params {
    let r: dnpb::QueryParamsResponse = abci_at(node, "/openledger.datanet.v1.Query/Params", dnpb::QueryParamsRequest {}, height);
    r.params.expect("params")
}

fn status(node: &Node, id: u64) -> i32 {
    proposal_at(node, id, 0).status
}

/// `tx gov submit-proposal FILE --from FROM` with an SDK-style proposal file.
fn submit(node: &Node, from: &str, messages: Vec<Value>, deposit: u128, title: &str) -> Value {
    let file = node.home().join(format!("proposal-{}.json", title.replace(' ', "-")));
    let doc = json!({"messages": messages, "deposit": format!("{deposit}uopen"), "title": title, "summary": format!("{title} (e2e)")});
    std::fs::write(&file, doc.to_string()).expect("write proposal");
    cli(node, &["tx", "gov", "submit-proposal", file.to_str().expect("utf8"), "--from", from])
}

/// Delivers a hand-signed tx that must fail in its block with `(codespace, code)`; returns its fee.
fn fails(node: &Node, key: &AccountKey, msg: cosmos_sdk_proto::Any, expected: (&str, u32)) -> u128 {
    let res = deliver(node, &signed(node, key, vec![msg], BAD_GAS));
    assert_eq!((res.codespace.as_str(), res.code), expected, "{}", res.log);
    min_fee(BAD_GAS)
}

fn vote_msg(voter: &Address, id: u64, option: govpb::VoteOption) -> cosmos_sdk_proto::Any {
    any(
        "/cosmos.gov.v1.MsgVote",
        govpb::MsgVote { proposal_id: id, voter: voter.to_bech32(), option: option as i32, metadata: String::new() },
    )
}

fn hash_of(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[test]
fn params_standards_veto_quorum_and_bad_input_through_gov_on_cometbft() {
    let opts = NodeOptions { voting_period_seconds: 20, max_deposit_period_seconds: 40, ..Default::default() };
    let node = Node::start_with(&opts);
    let dev = Address::from_bech32(&node.dev_address).expect("dev address");
    let gov = gov_authority();
    // Alice delegates 200,000 OPEN to the only validator (dev, 1,000,000 OPEN); Bob deposits.
    let alice = add_key(&node, "alice");
    let bob = add_key(&node, "bob");
    cli(&node, &["tx", "bank", "send", "dev", &alice.address().to_bech32(), "300000000000uopen"]);
    cli(&node, &["tx", "bank", "send", "dev", &bob.address().to_bech32(), "50000000000uopen"]);
    let operator = serde_json::from_str::<Value>(&node.cli(&["keys", "show", "dev"])).expect("json")["validator_operator"]
        .as_str()
        .expect("operator")
        .to_string();
    cli(&node, &["tx", "staking", "delegate", &operator, "200000000000uopen", "--from", "alice"]);

    // Something to delist: a datanet with a published version, a base model, an adapter on it.
    cli(&node, &words("tx datanet create --from dev --name qa --schema text --curation owner --bond 1000uopen --max-row-bytes 256"));
    cli(&node, &["tx", "datanet", "contribute", "1", "--row", "the sky is blue", "--from", "alice"]);
    cli(&node, &["tx", "datanet", "review", "1", "1", "--accept", "--reason", "ok", "--from", "dev"]);
    cli(&node, &["tx", "datanet", "publish", "1", "--from", "dev"]);
    let mut register = words("tx model register-base --from dev --name m --architecture llama --license MIT");
    let (weights, tokenizer) = (hash_of("weights"), hash_of("tokenizer"));
    register.extend(["--weights-hash", &weights, "--tokenizer-hash", &tokenizer]);
    cli(&node, &register);
    let mut register = words("tx model register-adapter --from alice --base-model 1 --datanet-version 1:1");
    let (adapter_hash, config) = (hash_of("lora"), hash_of("config"));
    register.extend(["--adapter-hash", &adapter_hash, "--training-config-hash", &config]);
    cli(&node, &register);
    let old_staking = staking_params_at(&node, 0);
    assert_ne!(old_staking.max_entries, 9);

    // Proposal 1: params and standards. Dev deposits half, Bob the rest: voting starts.
    let standards = vec![
        json!({"@type": "/cosmos.staking.v1beta1.MsgUpdateParams", "params": {"max_entries": 9}}),
        json!({"@type": "/cosmos.bank.v1beta1.MsgUpdateParams", "params": {"send_enabled": [{"denom": "ufoo", "enabled": false}]}}),
        json!({"@type": "/openledger.datanet.v1.MsgUpdateParams", "params": {"min_contribution_bond": "5000uopen"}}),
        json!({"@type": "/openledger.datanet.v1.MsgDelistDatanet", "datanet_id": "1", "reason": "scraped without consent"}),
        json!({"@type": "/openledger.model.v1.MsgDelistBaseModel", "base_model_id": 1, "reason": "unsafe outputs"}),
        json!({"@type": "/openledger.model.v1.MsgDelistAdapter", "adapter_id": 1, "reason": "trained on delisted data"}),
    ];
    submit(&node, "dev", standards, DEPOSIT / 2, "standards");
    assert_eq!(status(&node, 1), govpb::ProposalStatus::DepositPeriod as i32);
    let bob0 = uopen(&node, &bob.address());
    let mut bob_fees = fee_of(&cli(&node, &["tx", "gov", "deposit", "1", &format!("{}uopen", DEPOSIT / 2), "--from", "bob"]));
    assert_eq!(status(&node, 1), govpb::ProposalStatus::VotingPeriod as i32);
    // Validator yes (1,000,000 OPEN), delegator no with its own 200,000 OPEN.
    cli(&node, &["tx", "gov", "vote", "1", "yes", "--from", "dev"]);
    cli(&node, &["tx", "gov", "vote", "1", "no", "--from", "alice"]);

    // Proposal 2, Bob's, vetoed by the validator (Alice inherits the veto).
    let supply0 = supply(&node);
    let msg = json!({"@type": "/cosmos.staking.v1beta1.MsgUpdateParams", "params": {"max_validators": 7}});
    bob_fees += fee_of(&submit(&node, "bob", vec![msg], DEPOSIT, "vetoed"));
    cli(&node, &["tx", "gov", "vote", "2", "no_with_veto", "--from", "dev"]);

    // Proposal 3, Alice's: only her 1/6 of the stake votes: no quorum.
    let alice0 = uopen(&node, &alice.address());
    let msg = json!({"@type": "/cosmos.staking.v1beta1.MsgUpdateParams", "params": {"max_validators": 8}});
    let mut alice_fees = fee_of(&submit(&node, "alice", vec![msg], DEPOSIT, "no quorum"));
    alice_fees += fee_of(&cli(&node, &["tx", "gov", "vote", "3", "yes", "--from", "alice"]));
    assert_eq!(uopen(&node, &alice.address()), alice0 - DEPOSIT - alice_fees);

    // Bad input while they run: each fails in its block, costs its fee and changes nothing.
    let gov_held = uopen(&node, &gov);
    assert_eq!(gov_held, 3 * DEPOSIT);
    alice_fees += fails(&node, &alice, vote_msg(&alice.address(), 99, govpb::VoteOption::Yes), ("gov", 2));
    let wrong_denom = govpb::MsgDeposit {
        proposal_id: 1,
        depositor: bob.address().to_bech32(),
        amount: vec![cosmos_sdk_proto::cosmos::base::v1beta1::Coin { denom: "uatom".into(), amount: "5".into() }],
    };
    bob_fees += fails(&node, &bob, any("/cosmos.gov.v1.MsgDeposit", wrong_denom), ("gov", 23));
    let not_gov = dnpb::MsgDelistDatanet { authority: bob.address().to_bech32(), datanet_id: 1, reason: "mine".into() };
    let bad_proposal = govpb::MsgSubmitProposal {
        messages: vec![any("/openledger.datanet.v1.MsgDelistDatanet", not_gov.clone())],
        initial_deposit: vec![cosmos_sdk_proto::cosmos::base::v1beta1::Coin { denom: "uopen".into(), amount: DEPOSIT.to_string() }],
        proposer: bob.address().to_bech32(),
        metadata: String::new(),
        title: "signed by bob".into(),
        summary: "not the gov authority".into(),
        expedited: false,
    };
    bob_fees += fails(&node, &bob, any("/cosmos.gov.v1.MsgSubmitProposal", bad_proposal), ("gov", 13));
    // The same delisting sent directly by a user: unauthorized.
    bob_fees += fails(&node, &bob, any("/openledger.datanet.v1.MsgDelistDatanet", not_gov), ("sdk", 4));
    let direct = mdpb::MsgDelistBaseModel { authority: bob.address().to_bech32(), base_model_id: 1, reason: String::new() };
    bob_fees += fails(&node, &bob, any("/openledger.model.v1.MsgDelistBaseModel", direct), ("sdk", 4));
    assert_eq!(uopen(&node, &gov), gov_held, "no deposit moved");
    let total: Vec<_> = proposal_at(&node, 1, 0).total_deposit;
    assert_eq!(total.len(), 1, "only uopen was deposited: {total:?}");
    let listed: govpb::QueryProposalsResponse = abci(&node, "/cosmos.gov.v1.Query/Proposals", govpb::QueryProposalsRequest::default());
    assert_eq!(listed.proposals.len(), 3, "the proposal signed for by bob was not stored");

    // Everything ends: 1 passes, 2 is vetoed, 3 misses quorum.
    wait_until("all three voting periods to end", Duration::from_secs(60), || (1..=3).all(|id| status(&node, id) > 2));
    let results: Vec<i32> = (1..=3).map(|id| status(&node, id)).collect();
    let (passed, rejected) = (govpb::ProposalStatus::Passed as i32, govpb::ProposalStatus::Rejected as i32);
    assert_eq!(results, vec![passed, rejected, rejected], "{:?}", proposal_at(&node, 1, 0));
    let tally = proposal_at(&node, 1, 0).final_tally_result.expect("tally");
    assert_eq!((tally.yes_count.as_str(), tally.no_count.as_str()), ("1000000000000", "200000000000"));
    let veto = proposal_at(&node, 2, 0).final_tally_result.expect("tally");
    assert_eq!(veto.no_with_veto_count, "1200000000000", "the delegator inherits the validator's veto");

    // (a) In effect from the block after the one that executed it.
    let mut executed = node.height();
    while proposal_at(&node, 1, executed - 1).status == passed {
        executed -= 1;
    }
    assert_eq!(staking_params_at(&node, executed - 1).max_entries, old_staking.max_entries);
    assert_eq!(staking_params_at(&node, executed).max_entries, 9);
    assert_eq!(datanet_params_at(&node, executed - 1).min_contribution_bond, None);
    assert_eq!(datanet_params_at(&node, executed).min_contribution_bond.expect("floor").amount, "5000");
    let bank: bpb::QueryParamsResponse = abci(&node, "/cosmos.bank.v1beta1.Query/Params", bpb::QueryParamsRequest {});
    #[allow(deprecated)]
    let send_enabled = bank.params.expect("params").send_enabled;
    assert_eq!(send_enabled.len(), 1);
    assert_eq!((send_enabled[0].denom.as_str(), send_enabled[0].enabled), ("ufoo", false));
    assert_eq!(staking_params_at(&node, 0).max_validators, old_staking.max_validators, "rejected proposals changed nothing");

    // (b) The veto burnt Bob's deposit: the supply dropped by exactly that, nothing came back.
    assert_eq!(supply0 - supply(&node), DEPOSIT);
    // Bob's half deposit on the passed proposal came back; the vetoed one did not.
    assert_eq!(uopen(&node, &bob.address()), bob0 - DEPOSIT - bob_fees);
    // (c) Alice's deposit on the proposal without quorum came back.
    assert_eq!(uopen(&node, &alice.address()), alice0 - alice_fees);
    assert_eq!(uopen(&node, &gov), 0, "the gov account holds no deposits any more");

    // (d) Voting after the voting period: inactive proposal.
    let dev_key = AccountKey::from_mnemonic(&node.dev_mnemonic).expect("dev key");
    let dev0 = uopen(&node, &dev);
    let fee = fails(&node, &dev_key, vote_msg(&dev, 1, govpb::VoteOption::No), ("gov", 3));
    assert_eq!(uopen(&node, &dev), dev0 - fee);
    assert_eq!(proposal_at(&node, 1, 0).status, passed);

    // (e) The standards are in force: the delisted datanet, model and adapter say so and refuse
    //     new work; new datanets must meet the bond floor.
    let shown = cli(&node, &["query", "datanet", "datanet", "1"]);
    assert_eq!(shown["datanet"]["delisted"], true, "{shown}");
    let contribution = contribution_to(1, &alice, &["more rows"], 1000);
    fails(&node, &alice, contribution, ("datanet", 6));
    let model = cli(&node, &["query", "model", "models", "--id", "1"]);
    assert_eq!(
        (model["base_model"]["delisted"].clone(), model["base_model"]["delist_reason"].clone()),
        (json!(true), json!("unsafe outputs"))
    );
    let adapter: mdpb::QueryAdapterResponse =
        abci(&node, "/openledger.model.v1.Query/Adapter", mdpb::QueryAdapterRequest { adapter_id: 1 });
    assert!(adapter.adapter.expect("adapter").delisted);
    let new_adapter = mdpb::MsgRegisterAdapter {
        owner: alice.address().to_bech32(),
        base_model_id: 1,
        adapter_hash: hash_of("another lora"),
        datanet_versions: vec![mdpb::DatanetVersionRef { datanet_id: 1, version: 1 }],
        training_config_hash: config.clone(),
        inference_price: None,
    };
    fails(&node, &alice, any("/openledger.model.v1.MsgRegisterAdapter", new_adapter), ("model", 14));
    let below = node.cli_raw(&[
        "tx",
        "datanet",
        "create",
        "--from",
        "dev",
        "--name",
        "cheap",
        "--schema",
        "text",
        "--curation",
        "owner",
        "--bond",
        "1000uopen",
        "--node",
        &node.rpc_url(),
        "--gas",
        "400000",
    ]);
    assert!(!below.status.success());
    let out: Value = serde_json::from_slice(&below.stdout).expect("json result");
    assert_eq!((out["codespace"].as_str(), out["code"].as_u64()), (Some("datanet"), Some(4)), "{out}");
    cli(&node, &words("tx datanet create --from dev --name fair --schema text --curation owner --bond 5000uopen"));
    assert!(!node.app_log().contains("panicked"));
}
