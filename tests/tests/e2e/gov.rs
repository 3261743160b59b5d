//! Governance on the in-process app, block by block through FinalizeBlock/Commit: a staking
//! parameter change is submitted, deposited, voted by the validator and a delegator (who overrides
//! the validator's vote with its own stake), passes, and is in effect in the next block; a vetoed
//! proposal burns its deposit; one below quorum is rejected and refunds it; bad input (vote
//! outside the voting period, unknown proposal, a message whose signer is not the gov authority,
//! a deposit in a wrong denom, a direct `MsgUpdateParams`) is rejected with the SDK's codes and
//! changes nothing.

use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::gov::v1 as govpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use cosmos_sdk_proto::Any;
use openledger_app::app::App;
use openledger_app::client::SignModeChoice;
use openledger_app::home::add_genesis_validator;
use openledger_app::modules::AppGenesis;
use openledger_core::Address;
use openledger_core::MsgRouter;
use openledger_gov::genesis::{GovGenesis, GovParamsJson};
use openledger_gov::gov_authority;
use prost::{Message, Name};

use crate::app_level::{balance, coins, dev, genesis_with, key, min_fee, new_app, query, run_block, sign_with};

const GAS: u64 = 400_000;
const DEPOSIT: u128 = 1_000_000;
const SELF_BOND: u128 = 1_000_000_000_000;

fn pack<M: Message + Name>(m: &M) -> Any {
    Any { type_url: format!("/{}", M::full_name()), value: m.encode_to_vec() }
}

/// Dev runs the only validator (1,000,000 OPEN); alice and bob hold funds; voting lasts 3 blocks.
fn gov_app() -> App {
    let mut genesis: AppGenesis = genesis_with(&[(key(2).address(), 10_000_000_000_000), (key(3).address(), 10_000_000_000)]);
    add_genesis_validator(&mut genesis, &dev().address(), "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", "v0", SELF_BOND);
    genesis.gov = GovGenesis {
        starting_proposal_id: 1,
        params: Some(GovParamsJson {
            min_deposit: format!("{DEPOSIT}uopen"),
            max_deposit_period_seconds: 3,
            voting_period_seconds: 3,
            quorum: "0.334".into(),
            threshold: "0.5".into(),
            veto_threshold: "0.334".into(),
            burn_vote_quorum: false,
            burn_proposal_deposit_prevote: false,
            burn_vote_veto: true,
        }),
        ..GovGenesis::default()
    };
    let app = new_app(&genesis);
    run_block(&app, &[]);
    app
}

fn tx(app: &App, signer: &openledger_app::keys::AccountKey, msgs: Vec<Any>) -> Vec<u8> {
    sign_with(app, signer, msgs, GAS, min_fee(GAS), None, SignModeChoice::Direct, "")
}

/// Runs one block with `txs`; returns each tx's `(codespace, code, log)`.
fn block(app: &App, txs: Vec<Vec<u8>>) -> Vec<(String, u32, String)> {
    run_block(app, &txs).tx_results.into_iter().map(|r| (r.codespace, r.code, r.log)).collect()
}

fn staking_params(app: &App) -> spb::Params {
    let res = query(app, "/cosmos.staking.v1beta1.Query/Params", spb::QueryParamsRequest {}.encode_to_vec());
    assert_eq!(res.code, 0, "{}", res.log);
    spb::QueryParamsResponse::decode(res.value.as_ref()).expect("params").params.expect("set")
}

fn proposal(app: &App, id: u64) -> govpb::Proposal {
    let res = query(app, "/cosmos.gov.v1.Query/Proposal", govpb::QueryProposalRequest { proposal_id: id }.encode_to_vec());
    assert_eq!(res.code, 0, "{}", res.log);
    govpb::QueryProposalResponse::decode(res.value.as_ref()).expect("proposal").proposal.expect("set")
}

fn update_max_validators(authority: &Address, max_validators: u32, app: &App) -> Any {
    let mut params = staking_params(app);
    params.max_validators = max_validators;
    pack(&spb::MsgUpdateParams { authority: authority.to_bech32(), params: Some(params) })
}

fn submit(proposer: &Address, messages: Vec<Any>, deposit: Vec<ProtoCoin>) -> Any {
    pack(&govpb::MsgSubmitProposal {
        messages,
        initial_deposit: deposit,
        proposer: proposer.to_bech32(),
        metadata: String::new(),
        title: "raise max validators".into(),
        summary: "more validators".into(),
        expedited: false,
    })
}

fn vote(voter: &Address, id: u64, option: govpb::VoteOption) -> Any {
    pack(&govpb::MsgVote { proposal_id: id, voter: voter.to_bech32(), option: option as i32, metadata: String::new() })
}

fn delegate(delegator: &Address, amount: u128) -> Any {
    pack(&spb::MsgDelegate {
        delegator_address: delegator.to_bech32(),
        validator_address: openledger_stake::keeper::operator_of(&dev().address()),
        amount: Some(ProtoCoin { denom: "uopen".into(), amount: amount.to_string() }),
    })
}

fn ok(results: &[(String, u32, String)]) {
    for r in results {
        assert_eq!(r.1, 0, "tx failed: {r:?}");
    }
}

#[test]
fn param_change_passes_with_validator_and_delegator_votes_and_is_in_effect_next_block() {
    let app = gov_app();
    let (dev, alice) = (dev(), key(2));
    // Alice delegates 400,000 OPEN: 2/7 of the bonded stake.
    ok(&block(&app, vec![tx(&app, &alice, vec![delegate(&alice.address(), 400_000_000_000)])]));
    let msg = update_max_validators(&gov_authority(), 42, &app);
    let before = balance(&app, &dev.address());
    ok(&block(&app, vec![tx(&app, &dev, vec![submit(&dev.address(), vec![msg], coins(DEPOSIT / 2))])]));
    assert_eq!(proposal(&app, 1).status, govpb::ProposalStatus::DepositPeriod as i32);
    // Bob tops the deposit up: voting starts.
    let bob = key(3);
    let deposit = pack(&govpb::MsgDeposit { proposal_id: 1, depositor: bob.address().to_bech32(), amount: coins(DEPOSIT / 2) });
    ok(&block(&app, vec![tx(&app, &bob, vec![deposit])]));
    assert_eq!(proposal(&app, 1).status, govpb::ProposalStatus::VotingPeriod as i32);
    // The validator votes yes, the delegator overrides with no.
    ok(&block(
        &app,
        vec![
            tx(&app, &dev, vec![vote(&dev.address(), 1, govpb::VoteOption::Yes)]),
            tx(&app, &alice, vec![vote(&alice.address(), 1, govpb::VoteOption::No)]),
        ],
    ));
    assert_eq!(staking_params(&app).max_validators, 100, "not before the voting period ends");
    for _ in 0..3 {
        block(&app, vec![]);
    }
    let p = proposal(&app, 1);
    assert_eq!(p.status, govpb::ProposalStatus::Passed as i32, "{p:?}");
    let tally = p.final_tally_result.expect("tally");
    assert_eq!(tally.yes_count, SELF_BOND.to_string());
    assert_eq!(tally.no_count, "400000000000");
    assert_eq!(staking_params(&app).max_validators, 42);
    // Deposits refunded: dev paid only fees (submit + vote).
    assert_eq!(balance(&app, &dev.address()), before - 2 * min_fee(GAS));
    assert_eq!(balance(&app, &gov_authority()), 0);
}

#[test]
fn vetoed_proposal_burns_and_below_quorum_refunds() {
    let app = gov_app();
    let (dev, alice) = (dev(), key(2));
    ok(&block(&app, vec![tx(&app, &alice, vec![delegate(&alice.address(), 100_000_000_000)])]));
    let m1 = update_max_validators(&gov_authority(), 7, &app);
    let m2 = update_max_validators(&gov_authority(), 8, &app);
    let alice_before = balance(&app, &alice.address());
    ok(&block(
        &app,
        vec![
            tx(&app, &alice, vec![submit(&alice.address(), vec![m1], coins(DEPOSIT))]),
            tx(&app, &dev, vec![submit(&dev.address(), vec![m2], coins(DEPOSIT))]),
        ],
    ));
    // Proposal 1: the validator vetoes. Proposal 2: only alice (1/11 of the stake) votes.
    ok(&block(
        &app,
        vec![
            tx(&app, &dev, vec![vote(&dev.address(), 1, govpb::VoteOption::NoWithVeto)]),
            tx(&app, &alice, vec![vote(&alice.address(), 2, govpb::VoteOption::Yes)]),
        ],
    ));
    let dev_mid = balance(&app, &dev.address());
    for _ in 0..3 {
        block(&app, vec![]);
    }
    assert_eq!(proposal(&app, 1).status, govpb::ProposalStatus::Rejected as i32);
    assert_eq!(proposal(&app, 2).status, govpb::ProposalStatus::Rejected as i32);
    assert_eq!(staking_params(&app).max_validators, 100);
    // Alice's deposit on the vetoed proposal is burnt; dev's (quorum missed) comes back.
    assert_eq!(balance(&app, &alice.address()), alice_before - DEPOSIT - 2 * min_fee(GAS));
    assert_eq!(balance(&app, &dev.address()), dev_mid + DEPOSIT);
    assert_eq!(balance(&app, &gov_authority()), 0);
}

#[test]
fn bad_gov_input_is_rejected_with_codes_and_changes_nothing() {
    let app = gov_app();
    let (dev, alice) = (dev(), key(2));
    let gov_msg = update_max_validators(&gov_authority(), 9, &app);
    ok(&block(&app, vec![tx(&app, &dev, vec![submit(&dev.address(), vec![gov_msg], coins(DEPOSIT / 2))])]));
    let user_msg = update_max_validators(&alice.address(), 9, &app);
    let wrong_denom = vec![ProtoCoin { denom: "uatom".into(), amount: "5".into() }];
    let results = block(
        &app,
        vec![
            // Voting while the proposal still collects deposits.
            tx(&app, &alice, vec![vote(&alice.address(), 1, govpb::VoteOption::Yes)]),
            // Unknown proposal.
            tx(&app, &dev, vec![vote(&dev.address(), 99, govpb::VoteOption::Yes)]),
            // A proposal message signed by someone other than the gov account.
            tx(&app, &key(3), vec![submit(&key(3).address(), vec![user_msg.clone()], coins(DEPOSIT))]),
        ],
    );
    let codes: Vec<(&str, u32)> = results.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(codes, vec![("gov", 3), ("gov", 2), ("gov", 13)], "{results:?}");
    let results = block(
        &app,
        vec![
            // A deposit in a denom gov does not take.
            tx(
                &app,
                &key(3),
                vec![pack(&govpb::MsgDeposit { proposal_id: 1, depositor: key(3).address().to_bech32(), amount: wrong_denom })],
            ),
            // MsgUpdateParams sent directly: the signer is not the gov authority.
            tx(&app, &alice, vec![user_msg]),
        ],
    );
    let codes: Vec<(&str, u32)> = results.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(codes, vec![("gov", 23), ("gov", 13)], "{results:?}");
    assert_eq!(staking_params(&app).max_validators, 100);
    assert_eq!(balance(&app, &gov_authority()), DEPOSIT / 2);
    let res = query(&app, "/cosmos.gov.v1.Query/Proposal", govpb::QueryProposalRequest { proposal_id: 99 }.encode_to_vec());
    assert_eq!(res.code, 22, "{}", res.log);
    // The deposit period ends without the minimum: the proposal is dropped and refunded.
    for _ in 0..4 {
        block(&app, vec![]);
    }
    let res = query(&app, "/cosmos.gov.v1.Query/Proposal", govpb::QueryProposalRequest { proposal_id: 1 }.encode_to_vec());
    assert_eq!(res.code, 22, "{}", res.log);
    assert_eq!(balance(&app, &gov_authority()), 0);
}

#[test]
fn keplr_style_amino_v1beta1_vote_and_community_pool_spend_proposal() {
    use cosmos_sdk_proto::cosmos::distribution::v1beta1 as dpb;
    use cosmos_sdk_proto::cosmos::gov::v1beta1 as gov1b1;
    let app = gov_app();
    let (dev, alice, bob) = (dev(), key(2), key(3));
    let fund = pack(&dpb::MsgFundCommunityPool { amount: coins(5_000_000), depositor: alice.address().to_bech32() });
    ok(&block(&app, vec![tx(&app, &alice, vec![fund])]));
    let spend = pack(&dpb::MsgCommunityPoolSpend {
        authority: gov_authority().to_bech32(),
        recipient: bob.address().to_bech32(),
        amount: coins(3_000_000),
    });
    ok(&block(&app, vec![tx(&app, &dev, vec![submit(&dev.address(), vec![spend], coins(DEPOSIT))])]));
    // The validator votes as Keplr does: v1beta1 MsgVote signed in SIGN_MODE_LEGACY_AMINO_JSON.
    let v = pack(&gov1b1::MsgVote { proposal_id: 1, voter: dev.address().to_bech32(), option: govpb::VoteOption::Yes as i32 });
    let amino = sign_with(&app, &dev, vec![v.clone()], GAS, min_fee(GAS), None, SignModeChoice::AminoJson, "");
    ok(&block(&app, vec![amino]));
    let registry = openledger_app::modules::chain_registry();
    let routed = registry.decode(&v).expect("routes");
    assert_eq!(routed.amino_json(registry)["type"], "cosmos-sdk/MsgVote");
    let bob_before = balance(&app, &bob.address());
    for _ in 0..3 {
        block(&app, vec![]);
    }
    assert_eq!(proposal(&app, 1).status, govpb::ProposalStatus::Passed as i32, "{:?}", proposal(&app, 1));
    assert_eq!(balance(&app, &bob.address()), bob_before + 3_000_000);
    // Amino names of the other gov messages.
    let names = [
        (
            pack(&govpb::MsgVote { proposal_id: 1, voter: dev.address().to_bech32(), option: 1, metadata: String::new() }),
            "cosmos-sdk/v1/MsgVote",
        ),
        (
            pack(&govpb::MsgVoteWeighted {
                proposal_id: 1,
                voter: dev.address().to_bech32(),
                options: vec![govpb::WeightedVoteOption { option: 1, weight: "1.0".into() }],
                metadata: String::new(),
            }),
            "cosmos-sdk/v1/MsgVoteWeighted",
        ),
        (pack(&govpb::MsgDeposit { proposal_id: 1, depositor: dev.address().to_bech32(), amount: coins(1) }), "cosmos-sdk/v1/MsgDeposit"),
        (pack(&gov1b1::MsgDeposit { proposal_id: 1, depositor: dev.address().to_bech32(), amount: coins(1) }), "cosmos-sdk/MsgDeposit"),
    ];
    for (any, name) in names {
        assert_eq!(registry.decode(&any).expect("routes").amino_json(registry)["type"], name);
    }
}

#[test]
fn one_proposal_changes_bank_and_gov_params_together() {
    use cosmos_sdk_proto::cosmos::bank::v1beta1 as bpb;
    let app = gov_app();
    let dev = dev();
    let bank = pack(&bpb::MsgUpdateParams {
        authority: gov_authority().to_bech32(),
        params: Some(bpb::Params { default_send_enabled: true, ..Default::default() }),
    });
    let mut gov_params = openledger_gov::genesis::GovParamsJson::from_params(&openledger_gov::params::default_params());
    gov_params.voting_period_seconds = 5;
    gov_params.max_deposit_period_seconds = 5;
    gov_params.min_deposit = "2000000uopen".into();
    let gov =
        pack(&govpb::MsgUpdateParams { authority: gov_authority().to_bech32(), params: Some(gov_params.to_params().expect("valid")) });
    // An invalid inner message is rejected at submit with its own module's code.
    let mut bad_staking = staking_params(&app);
    bad_staking.bond_denom = "uatom".into();
    let bad = pack(&spb::MsgUpdateParams { authority: gov_authority().to_bech32(), params: Some(bad_staking) });
    let results = block(&app, vec![tx(&app, &dev, vec![submit(&dev.address(), vec![bad], coins(DEPOSIT))])]);
    assert_eq!((results[0].0.as_str(), results[0].1), ("sdk", 18), "{results:?}");
    ok(&block(&app, vec![tx(&app, &dev, vec![submit(&dev.address(), vec![bank, gov], coins(DEPOSIT))])]));
    ok(&block(&app, vec![tx(&app, &dev, vec![vote(&dev.address(), 1, govpb::VoteOption::Yes)])]));
    for _ in 0..3 {
        block(&app, vec![]);
    }
    assert_eq!(proposal(&app, 1).status, govpb::ProposalStatus::Passed as i32);
    let res = query(&app, "/cosmos.gov.v1.Query/Params", govpb::QueryParamsRequest::default().encode_to_vec());
    let params = govpb::QueryParamsResponse::decode(res.value.as_ref()).expect("params").params.expect("set");
    assert_eq!(params.min_deposit, coins(2_000_000));
    assert_eq!(params.voting_period.expect("set").seconds, 5);
}

/// The data and model standards of Proof of Attribution: one proposal sets the inference fee
/// split and the attribution minimum span; a split that does not add up to 100 % is refused at
/// submit with the inference module's code, and a user cannot send either message directly.
#[test]
fn attribution_and_fee_split_standards_change_only_through_gov() {
    use openledger_proto::openledger::attribution::v1 as apb;
    use openledger_proto::openledger::inference::v1 as ipb;
    let app = gov_app();
    let dev = dev();
    let params_of = |app: &App| -> (ipb::Params, apb::Params) {
        let i = query(app, "/openledger.inference.v1.Query/Params", ipb::QueryParamsRequest {}.encode_to_vec());
        let a = query(app, "/openledger.attribution.v1.Query/Params", apb::QueryParamsRequest {}.encode_to_vec());
        (
            ipb::QueryParamsResponse::decode(i.value.as_ref()).expect("inference params").params.expect("set"),
            apb::QueryParamsResponse::decode(a.value.as_ref()).expect("attribution params").params.expect("set"),
        )
    };
    let (mut inference, mut attribution) = params_of(&app);
    assert_eq!(attribution.min_span_tokens, 8);
    inference.fee_split = Some(ipb::FeeSplit { contributors_bps: 7000, owner_bps: 1000, executors_bps: 1500, community_bps: 500 });
    attribution.min_span_tokens = 12;
    let authority = gov_authority().to_bech32();
    let set_split = Any {
        type_url: "/openledger.inference.v1.MsgUpdateParams".into(),
        value: ipb::MsgUpdateParams { authority: authority.clone(), params: Some(inference.clone()) }.encode_to_vec(),
    };
    let set_span = Any {
        type_url: "/openledger.attribution.v1.MsgUpdateParams".into(),
        value: apb::MsgUpdateParams { authority: authority.clone(), params: Some(attribution) }.encode_to_vec(),
    };

    // A split of 110 % is refused at submit; a direct update by a user is unauthorized.
    let mut bad = inference.clone();
    bad.fee_split = Some(ipb::FeeSplit { contributors_bps: 8000, owner_bps: 1000, executors_bps: 1500, community_bps: 500 });
    let bad = Any {
        type_url: "/openledger.inference.v1.MsgUpdateParams".into(),
        value: ipb::MsgUpdateParams { authority: authority.clone(), params: Some(bad) }.encode_to_vec(),
    };
    let results = block(&app, vec![tx(&app, &dev, vec![submit(&dev.address(), vec![bad], coins(DEPOSIT))])]);
    assert_eq!(results[0].0, "inference", "{results:?}");
    assert_ne!(results[0].1, 0);
    let direct = Any {
        type_url: "/openledger.attribution.v1.MsgUpdateParams".into(),
        value: apb::MsgUpdateParams {
            authority: dev.address().to_bech32(),
            params: Some(apb::Params { min_span_tokens: 1, ..attribution }),
        }
        .encode_to_vec(),
    };
    let results = block(&app, vec![tx(&app, &dev, vec![direct])]);
    assert_ne!(results[0].1, 0, "a user cannot change the attribution params: {results:?}");
    assert_eq!(params_of(&app).1.min_span_tokens, 8);

    ok(&block(&app, vec![tx(&app, &dev, vec![submit(&dev.address(), vec![set_split, set_span], coins(DEPOSIT))])]));
    ok(&block(&app, vec![tx(&app, &dev, vec![vote(&dev.address(), 1, govpb::VoteOption::Yes)])]));
    for _ in 0..3 {
        block(&app, vec![]);
    }
    assert_eq!(proposal(&app, 1).status, govpb::ProposalStatus::Passed as i32);
    let (inference_now, attribution_now) = params_of(&app);
    assert_eq!(inference_now.fee_split, inference.fee_split);
    assert_eq!(attribution_now.min_span_tokens, 12);
}

#[test]
fn software_upgrade_halts_at_its_height_and_continues_with_the_handler() {
    use cosmos_sdk_proto::cosmos::upgrade::v1beta1 as upb;
    let app = gov_app();
    let dev = dev();
    let height = crate::app_level::next_height(&app) + 8;
    let plan = upb::Plan { name: "v2-gov-test".into(), height, info: "binaries at https://example.invalid".into(), ..Default::default() };
    let msg = pack(&upb::MsgSoftwareUpgrade { authority: gov_authority().to_bech32(), plan: Some(plan) });
    ok(&block(&app, vec![tx(&app, &dev, vec![submit(&dev.address(), vec![msg], coins(DEPOSIT))])]));
    ok(&block(&app, vec![tx(&app, &dev, vec![vote(&dev.address(), 1, govpb::VoteOption::Yes)])]));
    while crate::app_level::next_height(&app) < height {
        block(&app, vec![]);
    }
    assert_eq!(proposal(&app, 1).status, govpb::ProposalStatus::Passed as i32);
    // Operators (and their upgrade tooling) see the plan through cosmos.upgrade.v1beta1.Query.
    let res = query(&app, "/cosmos.upgrade.v1beta1.Query/CurrentPlan", upb::QueryCurrentPlanRequest {}.encode_to_vec());
    let current = upb::QueryCurrentPlanResponse::decode(res.value.as_ref()).expect("plan").plan.expect("scheduled");
    assert_eq!((current.name.as_str(), current.height), ("v2-gov-test", height));
    let applied = |app: &App| {
        let req = upb::QueryAppliedPlanRequest { name: "v2-gov-test".into() };
        upb::QueryAppliedPlanResponse::decode(query(app, "/cosmos.upgrade.v1beta1.Query/AppliedPlan", req.encode_to_vec()).value.as_ref())
            .expect("applied")
            .height
    };
    assert_eq!(applied(&app), 0);
    let req = tendermint_proto::v0_38::abci::RequestFinalizeBlock {
        height,
        time: Some(tendermint_proto::google::protobuf::Timestamp { seconds: 1_700_000_000 + height, nanos: 0 }),
        ..Default::default()
    };
    let err = app.finalize_block(&req).expect_err("an unknown upgrade halts the chain");
    assert_eq!((err.codespace, err.code), ("upgrade", 1));
    assert!(err.log.starts_with("UPGRADE \"v2-gov-test\" NEEDED at height"), "{}", err.log);
    assert_eq!(app.storage().last_committed().0, u64::try_from(height - 1).expect("positive"), "nothing committed");
    // The upgraded binary knows the plan: the same height now runs and the chain continues.
    openledger_app::upgrade::register_handler("v2-gov-test");
    block(&app, vec![]);
    block(&app, vec![]);
    let state = openledger_core::state::LatestSnapshot(app.storage().clone());
    assert_eq!(openledger_app::upgrade::applied_height(&state, "v2-gov-test").expect("read"), Some(height));
    assert_eq!(applied(&app), height, "AppliedPlan answers the height");
    let res = query(&app, "/cosmos.upgrade.v1beta1.Query/CurrentPlan", upb::QueryCurrentPlanRequest {}.encode_to_vec());
    assert!(upb::QueryCurrentPlanResponse::decode(res.value.as_ref()).expect("plan").plan.is_none(), "no plan once applied");
    let res = query(
        &app,
        "/cosmos.upgrade.v1beta1.Query/ModuleVersions",
        upb::QueryModuleVersionsRequest { module_name: "nope".into() }.encode_to_vec(),
    );
    assert_eq!(res.code, 22, "{}", res.log);
    assert!(openledger_app::upgrade::plan(&state).expect("read").is_none());
}

mod real_node {
    //! The same flow on a real CometBFT node through the CLI.

    use std::time::{Duration, Instant};

    use openledger_tests::{Node, NodeOptions};
    use serde_json::Value;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    #[test]
    fn staking_param_proposal_passes_on_cometbft_and_is_in_effect() {
        // Long enough for three CLI txs to land on a busy machine (the wait below polls state).
        let opts = NodeOptions { voting_period_seconds: 20, max_deposit_period_seconds: 20, ..Default::default() };
        let node = Node::start_with(&opts);
        let rpc = node.rpc_url();
        // A delegator with its own stake.
        node.cli(&["keys", "add", "alice"]);
        let alice = json(&node.cli(&["keys", "show", "alice"]))["address"].as_str().expect("address").to_string();
        node.cli(&["tx", "bank", "send", "dev", &alice, "300000000000uopen", "--node", &rpc]);
        let operator = json(&node.cli(&["keys", "show", "dev"]))["validator_operator"].as_str().expect("operator").to_string();
        node.cli(&["tx", "staking", "delegate", &operator, "200000000000uopen", "--from", "alice", "--node", &rpc]);
        let file = node.home().join("proposal.json");
        std::fs::write(
            &file,
            r#"{"messages": [{"@type": "/cosmos.staking.v1beta1.MsgUpdateParams", "params": {"max_validators": 42}}],
                "deposit": "10000000000uopen", "title": "More validators", "summary": "Raise max_validators to 42"}"#,
        )
        .expect("write proposal");
        node.cli(&["tx", "gov", "submit-proposal", file.to_str().expect("utf8"), "--from", "dev", "--node", &rpc]);
        let proposal = json(&node.cli(&["query", "gov", "proposal", "1", "--node", &rpc]));
        assert_eq!(proposal["status"], "PROPOSAL_STATUS_VOTING_PERIOD", "{proposal}");
        node.cli(&["tx", "gov", "vote", "1", "yes", "--from", "dev", "--node", &rpc]);
        node.cli(&["tx", "gov", "vote", "1", "no", "--from", "alice", "--node", &rpc]);
        // A vote on an unknown proposal fails in its block with gov code 2.
        let out = node.cli_raw(&["tx", "gov", "vote", "9", "yes", "--from", "dev", "--node", &rpc, "--gas", "300000"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("code 2"), "{}", String::from_utf8_lossy(&out.stderr));
        wait_until("the proposal to pass", Duration::from_secs(120), || {
            json(&node.cli(&["query", "gov", "proposal", "1", "--node", &rpc]))["status"] == "PROPOSAL_STATUS_PASSED"
        });
        let tally = json(&node.cli(&["query", "gov", "tally", "1", "--node", &rpc]));
        assert_eq!(tally["yes_count"], "1000000000000", "{tally}");
        assert_eq!(tally["no_count"], "200000000000", "{tally}");
        let params = node.rpc().abci_query("/cosmos.staking.v1beta1.Query/Params", &[], 0, false).expect("query");
        let params = <cosmos_sdk_proto::cosmos::staking::v1beta1::QueryParamsResponse as prost::Message>::decode(params.value.as_slice())
            .expect("decode")
            .params
            .expect("params");
        assert_eq!(params.max_validators, 42);
    }

    #[test]
    fn software_upgrade_halts_the_node_cleanly_and_a_restart_with_the_upgrade_continues() {
        use base64::Engine;
        use cosmos_sdk_proto::cosmos::upgrade::v1beta1 as upb;
        use prost::Message;

        let opts = NodeOptions { voting_period_seconds: 3, max_deposit_period_seconds: 3, ..Default::default() };
        let mut node = Node::start_with(&opts);
        let rpc = node.rpc_url();
        let height = node.height() + 40;
        let msg = upb::MsgSoftwareUpgrade {
            authority: openledger_gov::gov_authority().to_bech32(),
            plan: Some(upb::Plan { name: "v2".into(), height, info: "upgrade to v2".into(), ..Default::default() }),
        };
        let value = base64::engine::general_purpose::STANDARD.encode(msg.encode_to_vec());
        let file = node.home().join("upgrade.json");
        let doc = serde_json::json!({"messages": [{"@type": "/cosmos.upgrade.v1beta1.MsgSoftwareUpgrade", "value": value}],
            "deposit": "10000000000uopen", "title": "v2", "summary": "upgrade to v2"});
        std::fs::write(&file, doc.to_string()).expect("write proposal");
        node.cli(&["tx", "gov", "submit-proposal", file.to_str().expect("utf8"), "--from", "dev", "--node", &rpc]);
        node.cli(&["tx", "gov", "vote", "1", "yes", "--from", "dev", "--node", &rpc]);
        wait_until("the node to stop at the upgrade height", Duration::from_secs(90), || !node.app_alive());
        assert_eq!(node.app_exit_code(), Some(0), "a clean exit; log:\n{}", node.app_log());
        let needed = format!("UPGRADE \"v2\" NEEDED at height: {height}: upgrade to v2");
        assert!(node.app_log().contains(&needed), "log lacks {needed:?}:\n{}", node.app_log());
        // The cosmovisor contract: the plan in $HOME/data/upgrade-info.json, as the SDK writes it.
        let info_path = node.home().join("data/upgrade-info.json");
        let info = std::fs::read_to_string(&info_path).expect("upgrade-info.json written at the halt");
        assert_eq!(info, format!(r#"{{"name":"v2","time":"0001-01-01T00:00:00Z","height":{height},"info":"upgrade to v2"}}"#));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&info_path).expect("stat").permissions().mode() & 0o777, 0o600);
        }
        let proposal = {
            node.kill_comet();
            node.start_app_with(&["--apply-upgrade", "v2"]);
            node.start_comet();
            node.wait_for_height(height + 2, Duration::from_secs(60));
            json(&node.cli(&["query", "gov", "proposal", "1", "--node", &rpc]))
        };
        assert_eq!(proposal["status"], "PROPOSAL_STATUS_PASSED");
        assert!(node.app_log().contains("applying upgrade \"v2\""), "{}", node.app_log());
    }
}
