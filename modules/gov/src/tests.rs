//! Unit tests: tally math (inheritance, override, weighted), quorum / threshold / veto outcomes,
//! deposit activation, refund and burn, passed-proposal execution, and bad-input codes.

use std::sync::Arc;

use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::gov::v1::{MsgSubmitProposal, Params, ProposalStatus, WeightedVoteOption};
use cosmos_sdk_proto::Any;
use openledger_core::block::{set_block_info, BlockInfo};
use openledger_core::delta::{EmptyState, StateDelta};
use openledger_core::{AbciError, Address, Coin, Dec, ErrorCode, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
use tendermint_proto::google::protobuf::Duration;

use crate::keeper::{gov_authority, single_option, BankKeeper, GovKeeper, ProposalExecutor};
use crate::params;
use crate::tally::{DelegationShares, StakeReader, ValidatorPower};

const SEC: u64 = 1_000_000_000;

/// Balances kept in the test state as u64 values.
struct TestBank;

fn bal_key(a: &Address, denom: &str) -> Vec<u8> {
    format!("test/bal/{}/{denom}", a.to_bech32()).into_bytes()
}

fn balance(state: &dyn StateRead, a: &Address, denom: &str) -> u64 {
    state.get_proto::<u64>(&bal_key(a, denom)).unwrap().unwrap_or(0)
}

fn fund(state: &mut dyn StateWrite, a: &Address, amount: u64) {
    state.put_proto(bal_key(a, "uopen"), &amount).unwrap();
}

impl BankKeeper for TestBank {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), AbciError> {
        for c in coins {
            let amount = u64::try_from(c.amount).unwrap();
            let have = balance(state, from, &c.denom);
            if have < amount {
                return Err(AbciError::sdk(5, "insufficient funds"));
            }
            state.put_proto(bal_key(from, &c.denom), &(have - amount)).unwrap();
            let to_have = balance(state, to, &c.denom);
            state.put_proto(bal_key(to, &c.denom), &(to_have + amount)).unwrap();
        }
        Ok(())
    }
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[Coin]) -> Result<(), AbciError> {
        for c in coins {
            let have = balance(state, from, &c.denom);
            state.put_proto(bal_key(from, &c.denom), &(have - u64::try_from(c.amount).unwrap())).unwrap();
        }
        Ok(())
    }
}

/// Fixed stake: validators (account, tokens) with shares == tokens, and delegations.
#[derive(Default)]
struct TestStake {
    validators: Vec<(Address, u128)>,
    delegations: Vec<(Address, Address, u128)>,
}

impl StakeReader for TestStake {
    fn bonded_validators(&self, _: &dyn StateRead) -> Result<Vec<ValidatorPower>, StateError> {
        Ok(self
            .validators
            .iter()
            .map(|(a, t)| ValidatorPower { operator: a.clone(), tokens: *t, shares: Dec::from_int(*t).unwrap() })
            .collect())
    }
    fn delegations(&self, _: &dyn StateRead, delegator: &Address) -> Result<Vec<DelegationShares>, StateError> {
        Ok(self
            .delegations
            .iter()
            .filter(|(d, _, _)| d == delegator)
            .map(|(_, v, s)| DelegationShares { validator: v.clone(), shares: Dec::from_int(*s).unwrap() })
            .collect())
    }
}

/// Executes `/test.SetFlag` (signed by the gov account) by writing a flag; `/test.Fail` fails;
/// `/test.UserSigned` is signed by a user.
struct TestExec;

impl ProposalExecutor for TestExec {
    fn signers(&self, msg: &Any) -> Result<Vec<Address>, AbciError> {
        match msg.type_url.as_str() {
            "/test.SetFlag" | "/test.Fail" => Ok(vec![gov_authority()]),
            "/test.UserSigned" => Ok(vec![addr(99)]),
            _ => Err(AbciError::sdk(2, "unknown message")),
        }
    }
    fn execute(&self, state: &mut dyn StateWrite, msg: &Any) -> Result<(), AbciError> {
        state.put_raw(b"test/flag".to_vec(), msg.value.clone()).map_err(|e| AbciError::from_code(&e))?;
        if msg.type_url == "/test.Fail" {
            return Err(AbciError::sdk(18, "boom"));
        }
        Ok(())
    }
}

fn addr(n: u8) -> Address {
    Address::from_bytes(&[n; 20]).unwrap()
}

fn uopen(n: u128) -> Vec<ProtoCoin> {
    vec![ProtoCoin { denom: "uopen".into(), amount: n.to_string() }]
}

fn short_params() -> Params {
    let mut p = params::default_params();
    p.min_deposit = uopen(1000);
    p.max_deposit_period = Some(Duration { seconds: 10, nanos: 0 });
    p.voting_period = Some(Duration { seconds: 10, nanos: 0 });
    p
}

/// Validators 1 (600) and 2 (400); delegators 11 → v1 (100 of its 600), 12 → v2 (100 of 400).
fn setup() -> (StateDelta<EmptyState>, GovKeeper) {
    let stake = TestStake {
        validators: vec![(addr(1), 600), (addr(2), 400)],
        delegations: vec![(addr(1), addr(1), 500), (addr(11), addr(1), 100), (addr(2), addr(2), 300), (addr(12), addr(2), 100)],
    };
    let keeper = GovKeeper::new(Arc::new(TestBank), Arc::new(stake));
    let mut s = StateDelta::new(EmptyState);
    set_block_info(&mut s, BlockInfo { height: 1, time_ns: 100 * SEC }).unwrap();
    params::set_params(&mut s, &short_params()).unwrap();
    for n in [1u8, 2, 11, 12, 20] {
        fund(&mut s, &addr(n), 10_000);
    }
    (s, keeper)
}

fn submit(s: &mut StateDelta<EmptyState>, k: &GovKeeper, type_url: &str, deposit: u128) -> Result<u64, crate::GovError> {
    let msg = MsgSubmitProposal {
        messages: vec![Any { type_url: type_url.into(), value: b"on".to_vec() }],
        initial_deposit: uopen(deposit),
        proposer: addr(20).to_bech32(),
        metadata: String::new(),
        title: "t".into(),
        summary: "s".into(),
        expedited: false,
    };
    k.submit_proposal(s, &TestExec, &msg)
}

fn vote(s: &mut StateDelta<EmptyState>, k: &GovKeeper, id: u64, who: u8, option: i32) {
    k.vote(s, id, &addr(who).to_bech32(), &single_option(option), "").unwrap();
}

fn end_at(s: &mut StateDelta<EmptyState>, k: &GovKeeper, secs: u64) {
    let info = BlockInfo { height: 2, time_ns: secs * SEC };
    set_block_info(s, info).unwrap();
    k.end_block(s, info, &TestExec).unwrap();
}

fn status(s: &StateDelta<EmptyState>, k: &GovKeeper, id: u64) -> i32 {
    k.proposal(s, id).unwrap().unwrap().status
}

#[test]
fn delegators_inherit_their_validators_vote_unless_they_vote() {
    let (mut s, k) = setup();
    let id = submit(&mut s, &k, "/test.SetFlag", 1000).unwrap();
    assert_eq!(status(&s, &k, id), ProposalStatus::VotingPeriod as i32);
    vote(&mut s, &k, id, 1, 1); // v1 yes: 600 minus delegator 11's override
    vote(&mut s, &k, id, 11, 3); // delegator 11 no: 100
    vote(&mut s, &k, id, 2, 3); // v2 no: 400 (delegator 12 inherits)
    let t = k.tally(&s, id).unwrap();
    assert_eq!(t.result.yes_count, "500");
    assert_eq!(t.result.no_count, "500");
    assert!(!t.passes, "50 % yes is not above the 0.5 threshold");
    vote(&mut s, &k, id, 12, 1); // delegator 12 overrides v2: yes
    let t = k.tally(&s, id).unwrap();
    assert_eq!((t.result.yes_count.as_str(), t.result.no_count.as_str()), ("600", "400"));
    assert!(t.passes);
}

#[test]
fn weighted_votes_split_power() {
    let (mut s, k) = setup();
    let id = submit(&mut s, &k, "/test.SetFlag", 1000).unwrap();
    let opts = vec![
        WeightedVoteOption { option: 1, weight: "0.25".into() },
        WeightedVoteOption { option: 3, weight: "0.750000000000000000".into() },
    ];
    k.vote(&mut s, id, &addr(1).to_bech32(), &opts, "").unwrap();
    let t = k.tally(&s, id).unwrap();
    assert_eq!((t.result.yes_count.as_str(), t.result.no_count.as_str()), ("150", "450"));
    let bad = vec![WeightedVoteOption { option: 1, weight: "0.5".into() }];
    let err = k.vote(&mut s, id, &addr(1).to_bech32(), &bad, "").unwrap_err();
    assert_eq!((err.codespace(), err.code()), ("gov", 7));
    let err = k.vote(&mut s, id, &addr(1).to_bech32(), &single_option(9), "").unwrap_err();
    assert_eq!((err.codespace(), err.code()), ("gov", 7));
}

#[test]
fn passed_proposal_executes_and_refunds_deposits() {
    let (mut s, k) = setup();
    let id = submit(&mut s, &k, "/test.SetFlag", 600).unwrap();
    assert_eq!(status(&s, &k, id), ProposalStatus::DepositPeriod as i32);
    assert!(k.deposit(&mut s, id, &addr(11).to_bech32(), &uopen(400)).unwrap());
    assert_eq!(balance(&s, &gov_authority(), "uopen"), 1000);
    vote(&mut s, &k, id, 1, 1);
    vote(&mut s, &k, id, 2, 1);
    end_at(&mut s, &k, 105);
    assert_eq!(status(&s, &k, id), ProposalStatus::VotingPeriod as i32, "not yet ended");
    end_at(&mut s, &k, 110);
    assert_eq!(status(&s, &k, id), ProposalStatus::Passed as i32);
    assert_eq!(s.get_raw(b"test/flag").unwrap(), Some(b"on".to_vec()));
    assert_eq!(balance(&s, &addr(20), "uopen"), 10_000);
    assert_eq!(balance(&s, &addr(11), "uopen"), 10_000);
    assert_eq!(balance(&s, &gov_authority(), "uopen"), 0);
    assert!(s.events().iter().any(|e| e.kind == "active_proposal" && e.get("proposal_result") == Some("proposal_passed")));
}

#[test]
fn failing_message_marks_failed_and_changes_nothing() {
    let (mut s, k) = setup();
    let id = submit(&mut s, &k, "/test.Fail", 1000).unwrap();
    vote(&mut s, &k, id, 1, 1);
    end_at(&mut s, &k, 110);
    let p = k.proposal(&s, id).unwrap().unwrap();
    assert_eq!(p.status, ProposalStatus::Failed as i32);
    assert!(p.failed_reason.contains("boom"));
    assert_eq!(s.get_raw(b"test/flag").unwrap(), None);
}

#[test]
fn veto_burns_and_quorum_miss_refunds() {
    let (mut s, k) = setup();
    let vetoed = submit(&mut s, &k, "/test.SetFlag", 1000).unwrap();
    let quiet = submit(&mut s, &k, "/test.SetFlag", 1000).unwrap();
    vote(&mut s, &k, vetoed, 1, 1);
    vote(&mut s, &k, vetoed, 2, 4); // 400 / 1000 > 0.334 veto
    vote(&mut s, &k, quiet, 11, 1); // 100 / 1000 < 0.334 quorum
    end_at(&mut s, &k, 110);
    assert_eq!(status(&s, &k, vetoed), ProposalStatus::Rejected as i32);
    assert_eq!(status(&s, &k, quiet), ProposalStatus::Rejected as i32);
    // The proposer deposited 2000: 1000 burnt (veto), 1000 refunded (quorum).
    assert_eq!(balance(&s, &addr(20), "uopen"), 9_000);
    assert_eq!(balance(&s, &gov_authority(), "uopen"), 0);
}

#[test]
fn expired_deposit_period_refunds_and_deletes() {
    let (mut s, k) = setup();
    let id = submit(&mut s, &k, "/test.SetFlag", 10).unwrap();
    assert_eq!(balance(&s, &addr(20), "uopen"), 9_990);
    end_at(&mut s, &k, 110);
    assert!(k.proposal(&s, id).unwrap().is_none());
    assert_eq!(balance(&s, &addr(20), "uopen"), 10_000);
}

#[test]
fn bad_input_is_rejected_with_gov_codes() {
    let (mut s, k) = setup();
    let code = |e: crate::GovError| (e.codespace(), e.code());
    assert_eq!(code(submit(&mut s, &k, "/test.UserSigned", 1000).unwrap_err()), ("gov", 13));
    let err = k.deposit(&mut s, 1, &addr(11).to_bech32(), &uopen(5)).unwrap_err();
    assert_eq!(code(err), ("gov", 2));
    let id = submit(&mut s, &k, "/test.SetFlag", 10).unwrap();
    let wrong = vec![ProtoCoin { denom: "uatom".into(), amount: "5".into() }];
    assert_eq!(code(k.deposit(&mut s, id, &addr(11).to_bech32(), &wrong).unwrap_err()), ("gov", 23));
    // Voting during the deposit period is a vote on an inactive proposal.
    assert_eq!(code(k.vote(&mut s, id, &addr(1).to_bech32(), &single_option(1), "").unwrap_err()), ("gov", 3));
    assert_eq!(code(k.vote(&mut s, 77, &addr(1).to_bech32(), &single_option(1), "").unwrap_err()), ("gov", 2));
    let mut no_msgs = MsgSubmitProposal { proposer: addr(20).to_bech32(), title: "t".into(), summary: "s".into(), ..Default::default() };
    assert_eq!(code(k.submit_proposal(&mut s, &TestExec, &no_msgs).unwrap_err()), ("gov", 11));
    no_msgs.messages = vec![Any { type_url: "/test.SetFlag".into(), value: vec![] }];
    no_msgs.metadata = "x".repeat(300);
    assert_eq!(code(k.submit_proposal(&mut s, &TestExec, &no_msgs).unwrap_err()), ("gov", 15));
    assert_eq!(crate::keeper::check_authority(&addr(1).to_bech32()).map_err(code), Err(("gov", 13)));
    assert!(crate::keeper::check_authority(&gov_authority().to_bech32()).is_ok());
}

#[test]
fn params_validate_and_round_trip() {
    let mut s = StateDelta::new(EmptyState);
    assert_eq!(params::params(&s).unwrap(), params::default_params());
    let mut p = short_params();
    params::set_params(&mut s, &p).unwrap();
    assert_eq!(params::params(&s).unwrap(), p);
    p.threshold = "1.5".into();
    assert!(params::set_params(&mut s, &p).is_err());
    let (q, t, v) = params::tally_fractions(&params::default_params()).unwrap();
    assert_eq!((q, t, v), (Dec::parse("0.334").unwrap(), Dec::parse("0.5").unwrap(), Dec::parse("0.334").unwrap()));
}

/// The cosmos.gov.v1beta1.Query methods CosmJS's gov extension calls (votes, deposits, params by
/// type) answer in the v1beta1 shapes; an unknown params type is an InvalidArgument.
#[test]
fn v1beta1_queries_answer_votes_deposits_and_params() {
    use cosmos_sdk_proto::cosmos::gov::v1beta1 as v1b1;
    use openledger_core::query::QueryService;
    use prost::Message;

    use crate::query::{GovQuery, GOV_V1BETA1_SERVICE};

    let (mut s, k) = setup();
    let id = submit(&mut s, &k, "/test.SetFlag", 1000).unwrap();
    vote(&mut s, &k, id, 1, 1);
    let split = [WeightedVoteOption { option: 1, weight: "0.7".into() }, WeightedVoteOption { option: 3, weight: "0.3".into() }];
    k.vote(&mut s, id, &addr(11).to_bech32(), &split, "").unwrap();
    let q = GovQuery(k.clone());
    let ask = |method: &str, req: Vec<u8>| q.query(&s, GOV_V1BETA1_SERVICE, method, &req);

    let votes = v1b1::QueryVotesResponse::decode(
        ask("Votes", v1b1::QueryVotesRequest { proposal_id: id, pagination: None }.encode_to_vec()).unwrap().as_slice(),
    )
    .unwrap();
    assert_eq!(votes.votes.len(), 2);
    #[allow(deprecated)]
    let single = votes.votes.iter().find(|v| v.voter == addr(1).to_bech32()).unwrap();
    #[allow(deprecated)]
    let single_option = single.option;
    assert_eq!(single_option, 1);
    assert_eq!(single.options, vec![v1b1::WeightedVoteOption { option: 1, weight: "1000000000000000000".into() }]);
    let weighted = votes.votes.iter().find(|v| v.voter == addr(11).to_bech32()).unwrap();
    assert_eq!(weighted.options.iter().map(|o| o.weight.as_str()).collect::<Vec<_>>(), ["700000000000000000", "300000000000000000"]);

    let deposits = v1b1::QueryDepositsResponse::decode(
        ask("Deposits", v1b1::QueryDepositsRequest { proposal_id: id, pagination: None }.encode_to_vec()).unwrap().as_slice(),
    )
    .unwrap();
    assert_eq!(deposits.deposits, vec![v1b1::Deposit { proposal_id: id, depositor: addr(20).to_bech32(), amount: uopen(1000) }]);
    let one = v1b1::QueryDepositResponse::decode(
        ask("Deposit", v1b1::QueryDepositRequest { proposal_id: id, depositor: addr(20).to_bech32() }.encode_to_vec()).unwrap().as_slice(),
    )
    .unwrap();
    assert_eq!(one.deposit.unwrap().amount, uopen(1000));
    let missing = ask("Deposit", v1b1::QueryDepositRequest { proposal_id: id, depositor: addr(1).to_bech32() }.encode_to_vec());
    assert!(matches!(missing, Err(openledger_core::QueryError::NotFound(_))), "{missing:?}");

    let params_of = |t: &str| {
        ask("Params", v1b1::QueryParamsRequest { params_type: t.into() }.encode_to_vec())
            .map(|b| v1b1::QueryParamsResponse::decode(b.as_slice()).unwrap())
    };
    let deposit = params_of("deposit").unwrap();
    assert_eq!(deposit.deposit_params.unwrap().min_deposit, uopen(1000));
    assert!(deposit.voting_params.is_none() && deposit.tally_params.is_none());
    assert_eq!(params_of("voting").unwrap().voting_params.unwrap().voting_period, Some(Duration { seconds: 10, nanos: 0 }));
    let tally = params_of("tallying").unwrap().tally_params.unwrap();
    assert_eq!(tally.threshold, b"500000000000000000".to_vec());
    assert!(matches!(params_of("bogus"), Err(openledger_core::QueryError::InvalidArgument(_))));
}

#[test]
fn genesis_carries_in_flight_proposals_deposits_and_votes() {
    use crate::genesis::{export_genesis, init_genesis};
    let (mut s, k) = setup();
    let voting = submit(&mut s, &k, "/test.SetFlag", 1000).unwrap();
    vote(&mut s, &k, voting, 1, 1);
    vote(&mut s, &k, voting, 2, 1);
    let depositing = submit(&mut s, &k, "/test.SetFlag", 300).unwrap();
    let exported = export_genesis(&s).unwrap();
    assert_eq!((exported.proposals_hex.len(), exported.deposits_hex.len(), exported.votes_hex.len()), (2, 2, 2));

    // A fresh chain from that genesis (the gov account's coins come with the bank section).
    let (mut fresh, k2) = setup();
    fund(&mut fresh, &gov_authority(), 1300);
    init_genesis(&k2, &mut fresh, &exported).unwrap();
    assert_eq!(export_genesis(&fresh).unwrap(), exported, "round trip");
    // The queues were rebuilt: the voting proposal passes at its end time, the other is dropped
    // at the end of its deposit period with its deposit refunded.
    end_at(&mut fresh, &k2, 110);
    assert_eq!(status(&fresh, &k2, voting), ProposalStatus::Passed as i32);
    assert_eq!(fresh.get_raw(b"test/flag").unwrap(), Some(b"on".to_vec()));
    assert!(k2.proposal(&fresh, depositing).unwrap().is_none(), "dropped after its deposit period");
    assert_eq!(balance(&fresh, &gov_authority(), "uopen"), 0, "every deposit settled");
    let next = submit(&mut fresh, &k2, "/test.SetFlag", 1000).unwrap();
    assert_eq!(next, depositing + 1, "ids continue after the exported ones");

    // Bad sections are refused whole: a vote on a proposal not in its voting period, an id at or
    // above the starting id, garbage bytes.
    let mut bad = exported.clone();
    bad.votes_hex.push(hex::encode(prost::Message::encode_to_vec(&cosmos_sdk_proto::cosmos::gov::v1::Vote {
        proposal_id: depositing,
        voter: addr(1).to_bech32(),
        ..Default::default()
    })));
    let (mut s3, k3) = setup();
    assert_eq!(init_genesis(&k3, &mut s3, &bad).unwrap_err().code(), 8);
    let mut bad = exported.clone();
    bad.starting_proposal_id = depositing;
    assert!(init_genesis(&k3, &mut s3, &bad).is_err());
    let mut bad = exported;
    bad.proposals_hex.push("zz".into());
    assert!(init_genesis(&k3, &mut s3, &bad).is_err());
    assert!(k3.proposal(&s3, voting).unwrap().is_none(), "nothing was written");
}
