//! Staking end to end on two real CometBFT nodes: a funded account on the second node creates a
//! validator with that node's consensus key and enters CometBFT's validator set, receives a
//! delegation, earns rewards that are withdrawn, is undelegated from (tokens arrive after the
//! unbonding period), then stops signing: it is jailed and slashed, restarts, and unjails.

use std::time::Duration;

use openledger_tests::{json, wait_until, Node, NodeOptions};
use serde_json::Value;

fn balance(node: &Node, address: &str) -> u128 {
    let out = json(&node.cli(&["query", "bank", "balances", address, "--denom", "uopen", "--node", &node.rpc_url()]));
    out["balance"]["amount"].as_str().unwrap_or("0").parse().expect("amount")
}

fn comet_validators(node: &Node) -> Vec<(String, i64)> {
    let r = node.rpc().call("validators", serde_json::json!({})).expect("validators");
    r["validators"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| {
            (v["pub_key"]["value"].as_str().unwrap_or_default().to_string(), v["voting_power"].as_str().unwrap_or("0").parse().unwrap_or(0))
        })
        .collect()
}

fn validator(node: &Node, operator: &str) -> Value {
    json(&node.cli(&["query", "staking", "validator", operator, "--node", &node.rpc_url()]))
}

/// Sum of a tx's event attribute (e.g. `withdraw_rewards.amount`) as uopen.
fn event_amount(node: &Node, hash: &str, kind: &str) -> u128 {
    let tx = node.rpc().tx_by_hash(hash).expect("tx_search").expect("tx");
    tx.events
        .iter()
        .filter(|(k, _)| k == kind)
        .flat_map(|(_, attrs)| {
            attrs.iter().filter(|(k, _)| k == "amount").map(|(_, v)| v.trim_end_matches("uopen").parse::<u128>().unwrap_or(0))
        })
        .sum()
}

fn fee_of(node: &Node, hash: &str) -> u128 {
    let tx = node.rpc().tx_by_hash(hash).expect("tx_search").expect("tx");
    tx.events
        .iter()
        .filter(|(k, _)| k == "tx")
        .flat_map(|(_, attrs)| {
            attrs.iter().filter(|(k, _)| k == "fee").map(|(_, v)| v.trim_end_matches("uopen").parse::<u128>().unwrap_or(0))
        })
        .sum()
}

#[test]
fn second_validator_lifecycle_rewards_unbonding_downtime_jail_and_unjail() {
    // One-second blocks: on a busy 2-core machine a second node must keep up with the first.
    let opts = NodeOptions {
        unbonding_seconds: 6,
        signed_blocks_window: 10,
        downtime_jail_seconds: 3,
        timeout_commit: "1s".into(),
        ..Default::default()
    };
    let a = Node::start_with(&opts);
    let mut b = Node::join(&a, &opts);
    let a_rpc = a.rpc_url();
    let b_rpc = b.rpc_url();
    assert_eq!(comet_validators(&a).len(), 1, "genesis validator only");

    // Fund node B's operator account and create its validator with B's consensus key.
    a.cli(&["tx", "bank", "send", "dev", &b.dev_address, "200000000000uopen", "--node", &a_rpc]);
    b.wait_for_height(a.height(), Duration::from_secs(30));
    b.cli(&[
        "tx",
        "staking",
        "create-validator",
        "--amount",
        "100000000000uopen",
        "--moniker",
        "node-b",
        "--from",
        "dev",
        "--node",
        &b_rpc,
    ]);
    let b_operator = json(&b.cli(&["keys", "show", "dev"]))["validator_operator"].as_str().expect("operator").to_string();
    let b_pubkey = json(&b.cli(&["comet", "show-validator"]))["key"].as_str().expect("key").to_string();
    wait_until("node B in CometBFT's validator set", Duration::from_secs(30), || {
        comet_validators(&a).iter().any(|(k, p)| *k == b_pubkey && *p == 100_000)
    });
    assert_eq!(validator(&a, &b_operator)["status"], "BOND_STATUS_BONDED");

    // Delegate to it from node A's dev account; the power CometBFT sees grows.
    a.cli(&["tx", "staking", "delegate", &b_operator, "50000000000uopen", "--from", "dev", "--node", &a_rpc]);
    wait_until("delegation reflected in voting power", Duration::from_secs(30), || {
        comet_validators(&a).iter().any(|(k, p)| *k == b_pubkey && *p == 150_000)
    });
    let delegation = json(&a.cli(&["query", "staking", "delegation", &a.dev_address, &b_operator, "--node", &a_rpc]));
    assert_eq!(delegation["balance"]["amount"], "50000000000");

    // Rewards accrue (B signs blocks), and a withdrawal pays exactly what the event says.
    let start = a.height();
    a.wait_for_height(start + 5, Duration::from_secs(30));
    let rewards = json(&a.cli(&["query", "distribution", "rewards", &a.dev_address, &b_operator, "--node", &a_rpc]));
    let pending: f64 = rewards["rewards"][0]["amount"].as_str().unwrap_or("0").parse().unwrap_or(0.0);
    assert!(pending > 0.0, "rewards accrue to the delegator: {rewards}");
    let before = balance(&a, &a.dev_address);
    let out = json(&a.cli(&["tx", "distribution", "withdraw-rewards", &b_operator, "--from", "dev", "--node", &a_rpc]));
    let hash = out["txhash"].as_str().expect("hash").to_string();
    let paid = event_amount(&a, &hash, "withdraw_rewards");
    assert!(paid > 0, "a positive withdrawal");
    assert_eq!(balance(&a, &a.dev_address), before + paid - fee_of(&a, &hash), "balance moves by reward − fee");

    // Undelegate: power drops now, tokens arrive after the 6 s unbonding period.
    let before = balance(&a, &a.dev_address);
    let out = json(&a.cli(&["tx", "staking", "unbond", &b_operator, "50000000000uopen", "--from", "dev", "--node", &a_rpc]));
    let fee = fee_of(&a, out["txhash"].as_str().expect("hash"));
    let paid_rewards = event_amount(&a, out["txhash"].as_str().expect("hash"), "withdraw_rewards");
    wait_until("power back to 100000", Duration::from_secs(30), || {
        comet_validators(&a).iter().any(|(k, p)| *k == b_pubkey && *p == 100_000)
    });
    assert!(balance(&a, &a.dev_address) < before + 50_000_000_000 - fee, "tokens are locked during unbonding");
    wait_until("unbonded tokens arrive", Duration::from_secs(40), || {
        balance(&a, &a.dev_address) == before + 50_000_000_000 + paid_rewards - fee
    });

    // Downtime: node B stops; it misses > 50 % of a 10-block window, is jailed and slashed 1 %.
    b.kill_comet();
    b.kill_app();
    wait_until("node B jailed", Duration::from_secs(60), || validator(&a, &b_operator)["jailed"] == true);
    wait_until("node B out of CometBFT's set", Duration::from_secs(30), || comet_validators(&a).len() == 1);
    assert_eq!(validator(&a, &b_operator)["tokens"], "99000000000", "1 % of 100,000 OPEN slashed");
    let chain_height = a.height();
    a.wait_for_height(chain_height + 3, Duration::from_secs(30));

    // Node B restarts, catches up, waits out its jail and unjails itself.
    b.start_app();
    b.start_comet();
    b.wait_for_height(a.height(), Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(3));
    b.cli(&["tx", "slashing", "unjail", "--from", "dev", "--node", &b_rpc]);
    wait_until("node B back in the set", Duration::from_secs(30), || {
        comet_validators(&a).iter().any(|(k, p)| *k == b_pubkey && *p == 99_000)
    });
    assert_eq!(validator(&a, &b_operator)["jailed"], false);
    // Supply: 1,000,000,000 OPEN minus the 1,000 OPEN burned by the slash.
    let supply = a
        .rpc()
        .abci_query(
            "/cosmos.bank.v1beta1.Query/SupplyOf",
            &prost::Message::encode_to_vec(&cosmos_sdk_proto::cosmos::bank::v1beta1::QuerySupplyOfRequest { denom: "uopen".into() }),
            0,
            false,
        )
        .expect("supply");
    let supply = <cosmos_sdk_proto::cosmos::bank::v1beta1::QuerySupplyOfResponse as prost::Message>::decode(supply.value.as_slice())
        .expect("decode")
        .amount
        .expect("coin");
    assert_eq!(supply.amount, (1_000_000_000u128 * 1_000_000 - 1_000_000_000).to_string());
}

/// Double-sign evidence fed into FinalizeBlock (as CometBFT would pass it): the offender is
/// slashed 5 %, jailed, removed from the set in the same block's updates, and tombstoned.
#[test]
fn double_sign_misbehavior_in_finalize_block_slashes_jails_and_tombstones() {
    use super::app_level::{dev, genesis_with, key, new_app, next_height, query};
    use base64::Engine;
    use cosmos_sdk_proto::cosmos::slashing::v1beta1 as slpb;
    use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
    use prost::Message;
    use tendermint_proto::v0_38::abci as pb;

    let offender = key(42).address();
    let mut genesis = genesis_with(&[(offender.clone(), 20_000_000_000)]);
    let b64 = |k: &[u8]| base64::engine::general_purpose::STANDARD.encode(k);
    openledger_app::home::add_genesis_validator(&mut genesis, &dev().address(), &b64(&[1; 32]), "honest", 1_000_000_000_000);
    openledger_app::home::add_genesis_validator(&mut genesis, &offender, &b64(&[2; 32]), "offender", 10_000_000_000);
    let app = new_app(&genesis);
    let operator = openledger_stake::keeper::operator_of(&offender);
    let cons = openledger_stake::keeper::consensus_address(&[2; 32]);
    let vote =
        |addr: Vec<u8>, power: i64| pb::VoteInfo { validator: Some(pb::Validator { address: addr.into(), power }), block_id_flag: 2 };
    let honest_cons = openledger_stake::keeper::consensus_address(&[1; 32]);
    let run = |misbehavior: Vec<pb::Misbehavior>| {
        let height = next_height(&app);
        let req = pb::RequestFinalizeBlock {
            height,
            time: Some(tendermint_proto::google::protobuf::Timestamp { seconds: 1_700_000_000 + height, nanos: 0 }),
            decided_last_commit: Some(pb::CommitInfo {
                round: 0,
                votes: vec![vote(honest_cons.clone(), 1_000_000), vote(cons.clone(), 10_000)],
            }),
            misbehavior,
            ..Default::default()
        };
        let resp = app.finalize_block(&req).expect("finalize");
        app.commit().expect("commit");
        resp
    };
    run(vec![]);
    run(vec![]);
    let evidence = pb::Misbehavior {
        r#type: pb::MisbehaviorType::DuplicateVote as i32,
        validator: Some(pb::Validator { address: cons.clone().into(), power: 10_000 }),
        height: 2,
        time: None,
        total_voting_power: 1_010_000,
    };
    let resp = run(vec![evidence.clone()]);
    let removed = resp.validator_updates.iter().any(|u| u.power == 0);
    assert!(removed, "the offender leaves CometBFT's set in the same block: {:?}", resp.validator_updates);
    assert!(resp.events.iter().any(|e| e.r#type == "slash"), "a slash event is emitted");
    let v = spb::QueryValidatorResponse::decode(
        query(
            &app,
            "/cosmos.staking.v1beta1.Query/Validator",
            spb::QueryValidatorRequest { validator_addr: operator.clone() }.encode_to_vec(),
        )
        .value
        .as_ref(),
    )
    .expect("decode")
    .validator
    .expect("validator");
    assert!(v.jailed);
    assert_eq!(v.tokens, "9500000000", "5 % of 10,000 OPEN slashed");
    let valcons = openledger_core::Address::from_bytes(&cons).expect("addr").to_bech32_prefixed(openledger_core::address::VALCONS_PREFIX);
    let info = slpb::QuerySigningInfoResponse::decode(
        query(&app, "/cosmos.slashing.v1beta1.Query/SigningInfo", slpb::QuerySigningInfoRequest { cons_address: valcons }.encode_to_vec())
            .value
            .as_ref(),
    )
    .expect("decode")
    .val_signing_info
    .expect("info");
    assert!(info.tombstoned);
    // The same evidence again changes nothing (tombstoned validators are not slashed twice).
    run(vec![evidence]);
    let again = spb::QueryValidatorResponse::decode(
        query(&app, "/cosmos.staking.v1beta1.Query/Validator", spb::QueryValidatorRequest { validator_addr: operator }.encode_to_vec())
            .value
            .as_ref(),
    )
    .expect("decode")
    .validator
    .expect("validator");
    assert_eq!(again.tokens, "9500000000");
}
