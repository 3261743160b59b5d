//! Unit tests of the inference module over an in-memory state: requests and escrow, deadline
//! refunds, the fee split, and the vote-extension protocol on crafted commits and proposals
//! (real ed25519 signatures over CometBFT's sign bytes).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use ed25519_consensus::SigningKey;
use openledger_core::block::BlockInfo;
use openledger_core::delta::EmptyState;
use openledger_core::{AbciError, Address, Dec, StateDelta, StateRead, StateWrite};
use openledger_proto::openledger::inference::v1::{
    AgreedOutput, DatanetVersionPin, InjectedResults, InjectedVote, ReportedOutput, RequestStatus, TrainingReport,
};
use sha2::{Digest, Sha256};
use tendermint_proto::v0_38::types::BlockIdFlag;

use openledger_proto::openledger::executor::v1::ChatMessage;

use crate::keeper::{
    output_hash, InferenceHost, InferenceKeeper, ModelTarget, PromptInput, TrainingDecision, TrainingJobInfo, TrainingJobStatus,
    ValidatorInfo,
};
use crate::votes::{self, CommitEntry};
use crate::InferenceError;
use openledger_core::error::ErrorCode;

const CHAIN: &str = "openledger-test-1";

/// Host whose balances live in the state (so dropped deltas drop them too).
#[derive(Default)]
struct TestHost {
    validators: Vec<(ValidatorInfo, [u8; 20])>,
    slashed: Mutex<Vec<String>>,
    /// Share of the contributors' amount the attribution pays (per mille).
    attribution_per_mille: u128,
    /// Fine-tune jobs by id.
    jobs: Mutex<BTreeMap<u64, TrainingJobInfo>>,
    /// Decisions handed to the model registry.
    decided: Mutex<Vec<TrainingDecision>>,
}

fn bal_key(a: &Address) -> Vec<u8> {
    format!("test/bal/{}", a.to_bech32()).into_bytes()
}

fn balance(state: &dyn StateRead, a: &Address) -> u128 {
    state.get_raw(&bal_key(a)).unwrap().map(|v| String::from_utf8(v).unwrap().parse().unwrap()).unwrap_or(0)
}

fn set_balance(state: &mut dyn StateWrite, a: &Address, v: u128) {
    state.put_raw(bal_key(a), v.to_string().into_bytes()).unwrap();
}

fn pool() -> Address {
    Address::module("community_pool_test")
}

fn contributors() -> Address {
    Address::module("contributors_test")
}

fn owner() -> Address {
    Address::module("owner_test")
}

impl InferenceHost for TestHost {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, amount: u128) -> Result<(), AbciError> {
        let have = balance(state, from);
        if have < amount {
            return Err(AbciError::sdk(5, format!("{have}uopen is smaller than {amount}uopen: insufficient funds")));
        }
        set_balance(state, from, have - amount);
        let to_have = balance(state, to);
        set_balance(state, to, to_have + amount);
        Ok(())
    }
    fn model_target(&self, _state: &dyn StateRead, base: u64, adapter: u64) -> Result<ModelTarget, AbciError> {
        // Base model 1 is a chat model; 3 is one without a chat template.
        if base != 1 && base != 3 {
            return Err(AbciError { codespace: "model", code: 3, log: format!("base model {base} not found") });
        }
        Ok(ModelTarget {
            weights_hash: "ab".repeat(32),
            adapter_hash: if adapter == 0 { String::new() } else { "cd".repeat(32) },
            owner: owner(),
            price: 1_000,
            datanet_versions: vec![DatanetVersionPin { datanet_id: 1, version: 1, merkle_root: vec![7; 32] }],
            servable: adapter != 99,
            chat_template_hash: if base == 1 { "ee".repeat(32) } else { String::new() },
        })
    }
    fn base_model_exists(&self, _state: &dyn StateRead, id: u64) -> Result<bool, AbciError> {
        Ok(id == 1)
    }
    fn validator(&self, _state: &dyn StateRead, operator: &str) -> Result<Option<ValidatorInfo>, AbciError> {
        Ok(self.validators.iter().find(|(v, _)| v.operator == operator).map(|(v, _)| v.clone()))
    }
    fn validator_by_cons(&self, _state: &dyn StateRead, cons: &[u8]) -> Result<Option<ValidatorInfo>, AbciError> {
        Ok(self.validators.iter().find(|(_, a)| a[..] == *cons).map(|(v, _)| v.clone()))
    }
    fn slash_and_jail(&self, _state: &mut dyn StateWrite, _info: BlockInfo, operator: &str, _f: Dec, _r: &str) -> Result<(), AbciError> {
        self.slashed.lock().unwrap().push(operator.to_string());
        Ok(())
    }
    fn attribute(
        &self,
        state: &mut dyn StateWrite,
        _id: u64,
        from: &Address,
        amount: u128,
        _v: &[(u64, u64)],
        _t: &str,
    ) -> Result<u128, AbciError> {
        let paid = amount * self.attribution_per_mille / 1000;
        self.send(state, from, &contributors(), paid)?;
        self.send(state, from, &pool(), amount - paid)?;
        Ok(paid)
    }
    fn fund_community_pool(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), AbciError> {
        self.send(state, from, &pool(), amount)
    }
    fn training_job(&self, _state: &dyn StateRead, job_id: u64) -> Result<Option<TrainingJobInfo>, AbciError> {
        Ok(self.jobs.lock().unwrap().get(&job_id).cloned())
    }
    fn training_started(&self, _state: &mut dyn StateWrite, _info: BlockInfo, job_id: u64) -> Result<(), AbciError> {
        if let Some(j) = self.jobs.lock().unwrap().get_mut(&job_id) {
            j.status = TrainingJobStatus::Running;
        }
        Ok(())
    }
    fn training_decided(&self, _state: &mut dyn StateWrite, _info: BlockInfo, decision: &TrainingDecision) -> Result<(), AbciError> {
        if let Some(j) = self.jobs.lock().unwrap().get_mut(&decision.job_id) {
            j.status = TrainingJobStatus::Done;
            j.attested = (!decision.report.failed).then(|| decision.report.clone());
        }
        self.decided.lock().unwrap().push(decision.clone());
        Ok(())
    }
}

struct Net {
    keeper: InferenceKeeper,
    host: Arc<TestHost>,
    keys: Vec<SigningKey>,
    cons: Vec<[u8; 20]>,
    operators: Vec<String>,
}

fn operator(i: usize) -> String {
    Address::from_bytes(&[i as u8 + 1; 20]).unwrap().to_bech32_prefixed("openvaloper")
}

fn net(n: usize) -> Net {
    let mut host = TestHost { attribution_per_mille: 600, ..Default::default() };
    let mut keys = Vec::new();
    let mut cons = Vec::new();
    let mut operators = Vec::new();
    for i in 0..n {
        let key = SigningKey::from([i as u8 + 1; 32]);
        let pubkey = key.verification_key().to_bytes();
        let digest = Sha256::digest(pubkey);
        let mut addr = [0u8; 20];
        addr.copy_from_slice(&digest[..20]);
        let op = operator(i);
        host.validators.push((
            ValidatorInfo {
                operator: op.clone(),
                account: Address::from_bytes(&[i as u8 + 1; 20]).unwrap(),
                consensus_key: pubkey.to_vec(),
                jailed: false,
            },
            addr,
        ));
        keys.push(key);
        cons.push(addr);
        operators.push(op);
    }
    let host = Arc::new(host);
    Net { keeper: InferenceKeeper::new(host.clone()), host, keys, cons, operators }
}

fn requester() -> Address {
    Address::from_bytes(&[0xAA; 20]).unwrap()
}

fn info(height: u64) -> BlockInfo {
    BlockInfo { height, time_ns: height * 1_000_000_000 }
}

/// Registers every validator for model 1 and creates one request of `fee` at height 10.
fn setup(n: usize, fee: u128) -> (Net, StateDelta<EmptyState>, u64) {
    let net = net(n);
    let mut state = StateDelta::new(EmptyState);
    set_balance(&mut state, &requester(), 1_000_000);
    net.keeper.begin_block(&mut state, &[9; 32]).unwrap();
    for op in &net.operators {
        net.keeper.register_executor(&mut state, info(1), op, &[1], "").unwrap();
    }
    let id = net.keeper.request_inference(&mut state, info(10), &requester(), 1, 0, PromptInput::text("Hello"), 16, fee).unwrap();
    (net, state, id)
}

fn report(id: u64, tokens: &[u32], text: &str) -> ReportedOutput {
    ReportedOutput { request_id: id, output_hash: output_hash(tokens, text).to_vec(), token_count: tokens.len() as u32 }
}

/// Signed injected votes of height `h`, round 0: validator i reports `reports[i]` (None: absent).
fn signed_votes(net: &Net, h: i64, reports: &[Option<Vec<ReportedOutput>>]) -> (Vec<InjectedVote>, Vec<CommitEntry>) {
    let mut votes = Vec::new();
    let mut commit = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let (flag, ext, sig) = match r {
            Some(outputs) => {
                // Each validator reports its own binding of the output it computed.
                let bound = outputs
                    .iter()
                    .map(|o| {
                        let hash: [u8; 32] = o.output_hash.as_slice().try_into().unwrap_or([0; 32]);
                        ReportedOutput {
                            output_hash: votes::report_binding(CHAIN, o.request_id, &net.cons[i], &hash).to_vec(),
                            ..o.clone()
                        }
                    })
                    .collect();
                let ext = votes::encode_extension(bound);
                let sig = net.keys[i].sign(&votes::extension_sign_bytes(&ext, h, 0, CHAIN));
                (BlockIdFlag::Commit as i32, ext, sig.to_bytes().to_vec())
            }
            None => (BlockIdFlag::Absent as i32, Vec::new(), Vec::new()),
        };
        votes.push(InjectedVote {
            address: net.cons[i].to_vec(),
            power: 10,
            block_id_flag: flag,
            vote_extension: ext,
            extension_signature: sig,
        });
        commit.push(CommitEntry { address: net.cons[i].to_vec(), power: 10, block_id_flag: flag });
    }
    (votes, commit)
}

fn injected(h: i64, votes: Vec<InjectedVote>, outputs: Vec<AgreedOutput>) -> InjectedResults {
    InjectedResults { height: h, round: 0, votes, outputs, revealed_training: vec![] }
}

/// An injected tx revealing the plain training results `revealed` (no outputs).
fn revealing(h: i64, votes: Vec<InjectedVote>, revealed: Vec<TrainingReport>) -> InjectedResults {
    InjectedResults { height: h, round: 0, votes, outputs: vec![], revealed_training: revealed }
}

const TOKENS: [u32; 3] = [5, 6, 7];
const TEXT: &str = " Paris is nice";

fn good_output(id: u64) -> AgreedOutput {
    AgreedOutput { request_id: id, tokens: TOKENS.to_vec(), text: TEXT.into() }
}

#[test]
fn request_escrows_fee_and_pins_lineage_and_seed() {
    let (net, state, id) = setup(4, 5_000);
    let r = net.keeper.request(&state, id).unwrap().unwrap();
    assert_eq!(r.status, RequestStatus::Pending as i32);
    assert_eq!(r.weights_hash, "ab".repeat(32));
    assert_eq!(r.datanet_versions.len(), 1);
    assert_eq!(r.deadline, 30);
    assert_eq!(r.seed, crate::keeper::request_seed(&[9; 32], id));
    assert_eq!(balance(&state, &InferenceKeeper::escrow_address()), 5_000);
    assert_eq!(balance(&state, &requester()), 995_000);
    assert_eq!(net.keeper.pending_ids(&state, 10).unwrap(), vec![id]);
}

#[test]
fn bad_requests_fail_with_codes() {
    let (net, mut state, _) = setup(4, 5_000);
    let k = &net.keeper;
    let e = k.request_inference(&mut state, info(10), &requester(), 1, 0, PromptInput::text(""), 16, 5_000).unwrap_err();
    assert_eq!((e.codespace(), e.code()), ("inference", 2));
    let e = k.request_inference(&mut state, info(10), &requester(), 1, 0, PromptInput::text("hi"), 100_000, 5_000).unwrap_err();
    assert_eq!(e.code(), 3);
    let e = k.request_inference(&mut state, info(10), &requester(), 1, 99, PromptInput::text("hi"), 16, 5_000).unwrap_err();
    assert_eq!(e.code(), 4);
    let e = k.request_inference(&mut state, info(10), &requester(), 1, 0, PromptInput::text("hi"), 16, 999).unwrap_err();
    assert_eq!(e.code(), 5);
    let e = k.request_inference(&mut state, info(10), &requester(), 2, 0, PromptInput::text("hi"), 16, 5_000).unwrap_err();
    assert_eq!((e.codespace(), e.code()), ("model", 3));
    let e = k.request_inference(&mut state, info(10), &requester(), 1, 0, PromptInput::text("hi"), 16, 10_000_000).unwrap_err();
    assert_eq!((e.codespace(), e.code()), ("sdk", 5));
    // Nobody serves model 1 any more.
    for op in &net.operators {
        k.register_executor(&mut state, info(11), op, &[], "").unwrap();
    }
    let e = k.request_inference(&mut state, info(11), &requester(), 1, 0, PromptInput::text("hi"), 16, 5_000).unwrap_err();
    assert_eq!(e.code(), 6);
}

fn turn(role: &str, content: &str) -> ChatMessage {
    ChatMessage { role: role.into(), content: content.into() }
}

#[test]
fn a_conversation_pins_the_base_models_chat_template() {
    let (net, mut state, _) = setup(4, 5_000);
    let k = &net.keeper;
    let turns = [
        turn("system", "Be brief."),
        turn("user", "What is open data?"),
        turn("assistant", "Data anyone may use."),
        turn("user", "Who pays?"),
    ];
    let chat = PromptInput { prompt: "", messages: &turns };
    let id = k.request_inference(&mut state, info(10), &requester(), 1, 0, chat, 16, 5_000).unwrap();
    let request = k.request(&state, id).unwrap().unwrap();
    assert_eq!(request.messages, turns.to_vec());
    assert_eq!(request.chat_template_hash, "ee".repeat(32));
    assert!(request.prompt.is_empty());
    // A raw prompt pins no template.
    let raw = k.request_inference(&mut state, info(10), &requester(), 1, 0, PromptInput::text("hi"), 16, 5_000).unwrap();
    assert_eq!(k.request(&state, raw).unwrap().unwrap().chat_template_hash, "");

    // A conversation for a model without a chat template is refused.
    let e = k.request_inference(&mut state, info(10), &requester(), 3, 0, chat, 16, 5_000).unwrap_err();
    assert_eq!((e.codespace(), e.code()), ("inference", 15), "{e}");
    // Prompt and messages together, unknown roles, empty turns, too many turns or bytes: (inference, 2).
    let both = PromptInput { prompt: "hi", messages: &turns };
    let bad_role = [turn("tool", "x")];
    let empty = [turn("user", "")];
    let many: Vec<ChatMessage> = (0..65).map(|_| turn("user", "x")).collect();
    let huge = [turn("user", &"x".repeat(64 * 1024 + 1))];
    for (what, input) in [
        ("both", both),
        ("role", PromptInput { prompt: "", messages: &bad_role }),
        ("empty", PromptInput { prompt: "", messages: &empty }),
        ("many", PromptInput { prompt: "", messages: &many }),
        ("huge", PromptInput { prompt: "", messages: &huge }),
    ] {
        let e = k.request_inference(&mut state, info(10), &requester(), 1, 0, input, 16, 5_000).unwrap_err();
        assert_eq!((e.codespace(), e.code()), ("inference", 2), "{what}: {e}");
    }
}

#[test]
fn unanswered_request_is_refunded_at_its_deadline() {
    let (net, mut state, id) = setup(4, 5_000);
    net.keeper.end_block(&mut state, info(29)).unwrap();
    assert_eq!(net.keeper.request(&state, id).unwrap().unwrap().status, RequestStatus::Pending as i32);
    net.keeper.end_block(&mut state, info(30)).unwrap();
    assert_eq!(net.keeper.request(&state, id).unwrap().unwrap().status, RequestStatus::Expired as i32);
    assert_eq!(balance(&state, &requester()), 1_000_000);
    assert_eq!(balance(&state, &InferenceKeeper::escrow_address()), 0);
    assert!(net.keeper.pending_ids(&state, 10).unwrap().is_empty());
}

#[test]
fn agreed_result_splits_the_fee_exactly_and_slashes_the_dissenter() {
    let (net, mut state, id) = setup(4, 10_001);
    let good = report(id, &TOKENS, TEXT);
    let bad = report(id, &TOKENS, " Paris is nice!");
    let (votes, commit) = signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good.clone()]), Some(vec![good]), Some(vec![bad])]);
    let inj = injected(11, votes, vec![good_output(id)]);
    let verified = votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &inj).unwrap();
    assert_eq!(verified.len(), 1);
    let (agreement, output) = &verified[0];
    assert_eq!((agreement.agreeing_power, agreement.eligible_power), (30, 40));
    let mut slashed = BTreeSet::new();
    let result = net.keeper.apply_result(&mut state, info(12), agreement, &output.tokens, &output.text, &mut slashed).unwrap();
    assert_eq!(result.slashed, vec![net.operators[3].clone()]);
    assert_eq!(*net.host.slashed.lock().unwrap(), vec![net.operators[3].clone()]);
    // 10_001 uopen: contributors 5000 (60 % paid = 3000, rest to pool), owner 2000, executors
    // 2000 over three equal agreeing validators = 666 each (1998), pool gets the rest.
    let paid: u128 = ["paid_contributors", "paid_owner", "paid_executors", "paid_community"]
        .iter()
        .map(|f| match *f {
            "paid_contributors" => result.paid_contributors.parse::<u128>().unwrap(),
            "paid_owner" => result.paid_owner.parse().unwrap(),
            "paid_executors" => result.paid_executors.parse().unwrap(),
            _ => result.paid_community.parse().unwrap(),
        })
        .sum();
    assert_eq!(paid, 10_001);
    assert_eq!(balance(&state, &contributors()), 3_000);
    assert_eq!(balance(&state, &owner()), 2_000);
    for i in 0..3 {
        assert_eq!(balance(&state, &Address::from_bytes(&[i as u8 + 1; 20]).unwrap()), 666);
    }
    assert_eq!(balance(&state, &Address::from_bytes(&[4; 20]).unwrap()), 0);
    assert_eq!(balance(&state, &pool()), 10_001 - 3_000 - 2_000 - 1_998);
    assert_eq!(balance(&state, &InferenceKeeper::escrow_address()), 0);
    let stored = net.keeper.request(&state, id).unwrap().unwrap();
    assert_eq!(stored.status, RequestStatus::Completed as i32);
    // Refund at the old deadline must not touch a completed request.
    net.keeper.end_block(&mut state, info(30)).unwrap();
    assert_eq!(balance(&state, &requester()), 1_000_000 - 10_001);
}

#[test]
fn no_show_loses_only_its_share() {
    let (net, mut state, id) = setup(4, 9_000);
    let good = report(id, &TOKENS, TEXT);
    let (votes, commit) = signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good.clone()]), Some(vec![good]), Some(vec![])]);
    let inj = injected(11, votes, vec![good_output(id)]);
    let verified = votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &inj).unwrap();
    let mut slashed = BTreeSet::new();
    let result = net.keeper.apply_result(&mut state, info(12), &verified[0].0, &TOKENS, TEXT, &mut slashed).unwrap();
    assert!(result.slashed.is_empty());
    assert!(net.host.slashed.lock().unwrap().is_empty());
    assert_eq!(balance(&state, &Address::from_bytes(&[4; 20]).unwrap()), 0);
    assert_eq!(balance(&state, &Address::from_bytes(&[1; 20]).unwrap()), 600);
}

#[test]
fn right_hash_with_a_wrong_token_count_is_slashed_and_unpaid() {
    let (net, mut state, id) = setup(4, 9_000);
    let good = report(id, &TOKENS, TEXT);
    let mut liar = good.clone();
    liar.token_count = 2;
    let (votes, commit) = signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good.clone()]), Some(vec![good]), Some(vec![liar])]);
    let inj = injected(11, votes, vec![good_output(id)]);
    let verified = votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &inj).unwrap();
    assert_eq!(verified[0].0.agreeing_power, 30);
    let mut slashed = BTreeSet::new();
    let result = net.keeper.apply_result(&mut state, info(12), &verified[0].0, &TOKENS, TEXT, &mut slashed).unwrap();
    assert_eq!(result.slashed, vec![net.operators[3].clone()]);
    assert!(!result.votes[3].agreed);
    assert_eq!(balance(&state, &Address::from_bytes(&[4; 20]).unwrap()), 0, "the liar earns nothing");
    // 1800 for executors over the 30 agreeing power: 600 each, and never more than the share.
    assert_eq!(result.paid_executors, "1800");
    assert_eq!(balance(&state, &InferenceKeeper::escrow_address()), 0);
}

#[test]
fn process_proposal_rejects_forged_extension() {
    let (net, state, id) = setup(4, 5_000);
    let good = report(id, &TOKENS, TEXT);
    let (mut votes, commit) = signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good.clone()]), Some(vec![good.clone()]), None]);
    // Validator 2's extension is replaced by one it never signed.
    votes[2].vote_extension = votes::encode_extension(vec![report(id, &TOKENS, "forged")]);
    let err = votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes, vec![good_output(id)])).unwrap_err();
    assert!(err.to_string().contains("forged vote extension"), "{err}");
    // A signature by another validator's key.
    let (mut votes, commit) = signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good.clone()]), Some(vec![good]), None]);
    votes[1].extension_signature = votes[0].extension_signature.clone();
    assert!(votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes, vec![good_output(id)])).is_err());
}

#[test]
fn process_proposal_rejects_wrong_text_and_wrong_commit() {
    let (net, state, id) = setup(4, 5_000);
    let good = report(id, &TOKENS, TEXT);
    let (votes, commit) = signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good.clone()]), Some(vec![good]), None]);
    let wrong = AgreedOutput { request_id: id, tokens: TOKENS.to_vec(), text: " Paris is bad".into() };
    let err = votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes.clone(), vec![wrong])).unwrap_err();
    assert!(err.to_string().contains("no two-thirds agreement on the revealed text"), "{err}");
    // Powers that differ from the block's commit.
    let mut tampered = votes.clone();
    tampered[3].power = 100;
    assert!(votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, tampered, vec![good_output(id)])).is_err());
    // A dropped vote (hiding a dissenter).
    let mut dropped = votes.clone();
    dropped.pop();
    assert!(votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, dropped, vec![good_output(id)])).is_err());
    // Wrong height and wrong chain id (signatures are bound to both).
    assert!(
        votes::verify_injected(&net.keeper, &state, CHAIN, 13, 0, &commit, &injected(11, votes.clone(), vec![good_output(id)])).is_err()
    );
    assert!(votes::verify_injected(
        &net.keeper,
        &state,
        "other-chain",
        12,
        0,
        &commit,
        &injected(11, votes.clone(), vec![good_output(id)])
    )
    .is_err());
    // The honest one passes.
    assert!(votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes, vec![good_output(id)])).is_ok());
}

#[test]
fn process_proposal_rejects_power_below_two_thirds() {
    let (net, state, id) = setup(4, 5_000);
    let good = report(id, &TOKENS, TEXT);
    let other = report(id, &[1], "x");
    // 2 of 4 equal powers agree: 50 % < 2/3.
    let (votes, commit) = signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good]), Some(vec![other]), None]);
    let err = votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes, vec![good_output(id)])).unwrap_err();
    assert!(err.to_string().contains("no two-thirds agreement"), "{err}");
}

#[test]
fn only_registered_executors_count_towards_two_thirds() {
    let (net, mut state, id) = setup(4, 5_000);
    // Validators 2 and 3 stop serving the model: two of the two remaining executors agree.
    net.keeper.register_executor(&mut state, info(10), &net.operators[2], &[], "").unwrap();
    net.keeper.register_executor(&mut state, info(10), &net.operators[3], &[], "").unwrap();
    let good = report(id, &TOKENS, TEXT);
    let (votes, commit) = signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good]), Some(vec![]), None]);
    let verified = votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes, vec![good_output(id)])).unwrap();
    assert_eq!((verified[0].0.agreeing_power, verified[0].0.eligible_power), (20, 20));
}

#[test]
fn vote_extension_checks_are_deterministic_shape_checks() {
    let (net, state, id) = setup(4, 5_000);
    assert!(votes::verify_extension(&net.keeper, &state, &[]).is_ok());
    let ok = votes::encode_extension(vec![report(id, &TOKENS, TEXT)]);
    assert!(votes::verify_extension(&net.keeper, &state, &ok).is_ok());
    // Unknown request, too many tokens, garbage, oversized.
    let unknown = votes::encode_extension(vec![report(id + 1, &TOKENS, TEXT)]);
    assert!(votes::verify_extension(&net.keeper, &state, &unknown).is_err());
    let many = votes::encode_extension(vec![ReportedOutput { request_id: id, output_hash: vec![0; 32], token_count: 17 }]);
    assert!(votes::verify_extension(&net.keeper, &state, &many).is_err());
    assert!(votes::verify_extension(&net.keeper, &state, &[0xff, 0xff, 0xff]).is_err());
    assert!(votes::verify_extension(&net.keeper, &state, &vec![0u8; votes::MAX_EXTENSION_BYTES + 1]).is_err());
    let short_hash = openledger_proto::openledger::inference::v1::VoteExtension {
        outputs: vec![ReportedOutput { request_id: id, output_hash: vec![0; 31], token_count: 1 }],
        ..Default::default()
    };
    assert!(votes::verify_extension(&net.keeper, &state, &prost::Message::encode_to_vec(&short_hash)).is_err());
}

#[test]
fn injected_tx_is_never_a_valid_cosmos_tx() {
    let bytes = votes::encode_injected(&injected(1, vec![], vec![]));
    assert!(votes::is_injected(&bytes));
    assert!(<cosmos_sdk_proto::cosmos::tx::v1beta1::TxRaw as prost::Message>::decode(bytes.as_slice()).is_err());
    assert_eq!(votes::decode_injected(&bytes).unwrap().height, 1);
}

#[test]
fn params_validate_and_genesis_round_trips() {
    let (net, mut state, _) = setup(4, 5_000);
    let mut p = crate::keeper::default_params();
    p.fee_split.as_mut().unwrap().owner_bps += 1;
    let e = net.keeper.set_params(&mut state, &p).unwrap_err();
    assert!(matches!(e, InferenceError::InvalidParams(_)));
    net.keeper.register_executor(&mut state, info(2), &net.operators[0], &[1], "cpu-portable-v1").unwrap();
    let exported = crate::genesis::export_genesis(&net.keeper, &state).unwrap();
    let mut fresh = StateDelta::new(EmptyState);
    crate::genesis::init_genesis(&net.keeper, &mut fresh, &exported, info(1)).unwrap();
    let again = crate::genesis::export_genesis(&net.keeper, &fresh).unwrap();
    assert_eq!(exported, again);
    assert_eq!(again.requests.len(), 1);
    assert_eq!(net.keeper.pending_ids(&fresh, 10).unwrap().len(), 1);
    let map: BTreeMap<_, _> = again.executors.iter().map(|e| (e.validator.clone(), e.base_model_ids.clone())).collect();
    assert_eq!(map.len(), 4);
    // The hardware class travels; an executor without one has no such key in the JSON.
    let classes: BTreeMap<_, _> = again.executors.iter().map(|e| (e.validator.clone(), e.hardware_class.clone())).collect();
    assert_eq!(classes[&net.operators[0]], "cpu-portable-v1");
    assert_eq!(classes[&net.operators[1]], "");
    let json = serde_json::to_value(&again.executors).unwrap();
    let declared = json.as_array().unwrap().iter().filter(|e| e.get("hardware_class").is_some()).count();
    assert_eq!(declared, 1, "{json}");
    // Genesis is held to the same bound as the message.
    let mut bad = again.clone();
    bad.executors[0].hardware_class = "x".repeat(65);
    let e = crate::genesis::init_genesis(&net.keeper, &mut StateDelta::new(EmptyState), &bad, info(1)).unwrap_err();
    assert!(matches!(e, InferenceError::InvalidHardwareClass(_)), "{e}");
}

/// A registration stores its hardware class; one without the field stores the same bytes as an
/// `Executor` that never had it (proto3 leaves the empty string out), and replaces a declared one.
#[test]
fn registration_records_the_hardware_class() {
    let (net, mut state, _) = setup(4, 5_000);
    let op = &net.operators[1];
    net.keeper.register_executor(&mut state, info(3), op, &[1], "machine-specific: candle cpu x86_64 avx2 fma").unwrap();
    let stored = net.keeper.executor(&state, op).unwrap().unwrap();
    assert_eq!(stored.hardware_class, "machine-specific: candle cpu x86_64 avx2 fma");
    assert_eq!(stored.registered_height, 3);
    net.keeper.register_executor(&mut state, info(4), op, &[1], "").unwrap();
    let raw = state.get_raw(&crate::state_key::executor(op)).unwrap().unwrap();
    // Fields 1..=3 only: validator, the packed ids, registered_height.
    let mut old = Vec::new();
    prost::encoding::string::encode(1, op, &mut old);
    prost::encoding::uint64::encode_packed(2, &[1], &mut old);
    prost::encoding::uint64::encode(3, &4, &mut old);
    assert_eq!(raw, old);
    assert_eq!(net.keeper.executor(&state, op).unwrap().unwrap().hardware_class, "");
    let e = net.keeper.register_executor(&mut state, info(5), op, &[1], "bad\u{7f}").unwrap_err();
    assert!(matches!(e, InferenceError::InvalidHardwareClass(_)), "{e}");
}

/// Signed votes of height `h` carrying training results (each as its validator's binding, as a
/// node signs them) and running jobs (no outputs).
fn signed_training_votes(net: &Net, h: i64, reports: &[Option<(Vec<TrainingReport>, Vec<u64>)>]) -> (Vec<InjectedVote>, Vec<CommitEntry>) {
    let mut votes = Vec::new();
    let mut commit = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let (flag, ext, sig) = match r {
            Some((training, running)) => {
                let bound = training.iter().map(|r| votes::bind_training_report(CHAIN, &net.cons[i], r)).collect();
                let ext = votes::encode_full_extension(Vec::new(), bound, running.clone());
                let sig = net.keys[i].sign(&votes::extension_sign_bytes(&ext, h, 0, CHAIN));
                (BlockIdFlag::Commit as i32, ext, sig.to_bytes().to_vec())
            }
            None => (BlockIdFlag::Absent as i32, Vec::new(), Vec::new()),
        };
        votes.push(InjectedVote {
            address: net.cons[i].to_vec(),
            power: 10,
            block_id_flag: flag,
            vote_extension: ext,
            extension_signature: sig,
        });
        commit.push(CommitEntry { address: net.cons[i].to_vec(), power: 10, block_id_flag: flag });
    }
    (votes, commit)
}

fn trained(job_id: u64, adapter: u8) -> TrainingReport {
    TrainingReport {
        job_id,
        adapter_hash: vec![adapter; 32],
        eval_loss_bits: 0x3f80_0000,
        training_log_hash: vec![0x77; 32],
        failed: false,
        binding: vec![],
    }
}

fn failed(job_id: u64) -> TrainingReport {
    TrainingReport { job_id, failed: true, ..Default::default() }
}

/// Four validators serving model 1, no inference request, fine-tune job 7 (queued) on model 1.
fn training_setup() -> (Net, StateDelta<EmptyState>) {
    let net = net(4);
    let mut state = StateDelta::new(EmptyState);
    for op in &net.operators {
        net.keeper.register_executor(&mut state, info(1), op, &[1], "").unwrap();
    }
    net.host.jobs.lock().unwrap().insert(7, TrainingJobInfo { base_model_id: 1, status: TrainingJobStatus::Queued, attested: None });
    (net, state)
}

#[test]
fn training_agreement_without_outputs_attests_and_slashes_the_dissenting_trainer() {
    let (net, mut state) = training_setup();
    let good = trained(7, 0xaa);
    let byzantine = trained(7, 0xab);
    let (votes, commit) = signed_training_votes(
        &net,
        11,
        &[
            Some((vec![good.clone()], vec![])),
            Some((vec![good.clone()], vec![])),
            Some((vec![good.clone()], vec![])),
            Some((vec![byzantine], vec![])),
        ],
    );
    // Nothing revealed: the bound reports decide nothing.
    let err = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes.clone(), vec![])).unwrap_err();
    assert!(err.to_string().contains("no outputs"), "{err}");
    // The byzantine result revealed: only one validator bound it.
    let err = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &revealing(11, votes.clone(), vec![trained(7, 0xab)]))
        .unwrap_err();
    assert!(err.to_string().contains("no two-thirds agreement on the revealed result"), "{err}");
    // Only training agreements, with the result revealed: the injected tx is proposable and verifies.
    let v = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &revealing(11, votes, vec![good.clone()])).unwrap();
    assert!(v.outputs.is_empty() && v.running.is_empty());
    assert_eq!(v.training.len(), 1);
    let a = &v.training[0];
    assert_eq!((a.job_id, a.agreeing_power, a.eligible_power, a.extension_height), (7, 30, 40, 11));
    assert_eq!(a.report, good);
    let mut slashed = BTreeSet::new();
    let decision = net.keeper.apply_training(&mut state, info(12), a, &mut slashed).unwrap();
    assert_eq!(decision.slashed, vec![net.operators[3].clone()]);
    assert_eq!(*net.host.slashed.lock().unwrap(), vec![net.operators[3].clone()]);
    assert_eq!(decision.agreeing_executors.len(), 3);
    assert!(decision.votes.iter().take(3).all(|v| v.agreed) && !decision.votes[3].agreed);
    assert_eq!(net.host.decided.lock().unwrap().len(), 1);
    // Decided: the same commit decides nothing more and the tx has nothing left to apply.
    let (votes, commit) =
        signed_training_votes(&net, 11, &[Some((vec![good.clone()], vec![])), Some((vec![good.clone()], vec![])), None, None]);
    let err = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &revealing(11, votes, vec![good])).unwrap_err();
    assert!(err.to_string().contains("no two-thirds agreement"), "{err}");
}

#[test]
fn failed_reports_are_never_slashed_and_two_thirds_failed_fails_the_job() {
    let (net, mut state) = training_setup();
    let good = trained(7, 0xaa);
    let (votes, commit) = signed_training_votes(
        &net,
        11,
        &[
            Some((vec![good.clone()], vec![])),
            Some((vec![good.clone()], vec![])),
            Some((vec![good.clone()], vec![])),
            Some((vec![failed(7)], vec![])),
        ],
    );
    let v = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &revealing(11, votes, vec![good])).unwrap();
    let decision = net.keeper.apply_training(&mut state, info(12), &v.training[0], &mut BTreeSet::new()).unwrap();
    assert!(decision.slashed.is_empty(), "an executor that could not train is not slashed");
    assert!(net.host.slashed.lock().unwrap().is_empty());

    let (net, mut state) = training_setup();
    let (votes, commit) = signed_training_votes(
        &net,
        11,
        &[
            Some((vec![failed(7)], vec![])),
            Some((vec![failed(7)], vec![])),
            Some((vec![failed(7)], vec![])),
            Some((vec![trained(7, 1)], vec![])),
        ],
    );
    // Revealing a result next to a two-thirds `failed` is refused; without it the job fails.
    assert!(
        votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &revealing(11, votes.clone(), vec![trained(7, 1)])).is_err()
    );
    let v = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes, vec![])).unwrap();
    assert!(v.training[0].report.failed);
    let decision = net.keeper.apply_training(&mut state, info(12), &v.training[0], &mut BTreeSet::new()).unwrap();
    assert!(decision.slashed.is_empty());
    assert!(decision.report.failed);
}

#[test]
fn training_below_two_thirds_or_from_non_executors_decides_nothing() {
    let (net, mut state) = training_setup();
    // Validators 2 and 3 do not serve model 1: their reports do not count.
    net.keeper.register_executor(&mut state, info(2), &net.operators[2], &[], "").unwrap();
    net.keeper.register_executor(&mut state, info(2), &net.operators[3], &[], "").unwrap();
    let (votes, commit) = signed_training_votes(
        &net,
        11,
        &[
            Some((vec![trained(7, 1)], vec![])),
            Some((vec![trained(7, 2)], vec![])),
            Some((vec![trained(7, 1)], vec![7])),
            Some((vec![trained(7, 1)], vec![7])),
        ],
    );
    // 1 of 2 eligible (50 %) agree; non-executors reported running: nothing to apply.
    let err = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes.clone(), vec![])).unwrap_err();
    assert!(err.to_string().contains("no outputs"), "{err}");
    let err =
        votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &revealing(11, votes, vec![trained(7, 1)])).unwrap_err();
    assert!(err.to_string().contains("no two-thirds agreement"), "{err}");
}

#[test]
fn a_running_report_makes_a_queued_job_running() {
    let (net, mut state) = training_setup();
    let (votes, commit) = signed_training_votes(&net, 11, &[Some((vec![], vec![7])), Some((vec![], vec![])), None, None]);
    let v = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes.clone(), vec![])).unwrap();
    assert_eq!(v.running, vec![7]);
    net.keeper.apply_running(&mut state, info(12), &v.running).unwrap();
    assert_eq!(net.host.jobs.lock().unwrap()[&7].status, TrainingJobStatus::Running);
    // Running already: nothing left to apply.
    assert!(votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes, vec![])).is_err());
}

#[test]
fn training_extension_shapes_are_checked() {
    let (net, state) = training_setup();
    let bound = |r: &TrainingReport| votes::bind_training_report(CHAIN, &net.cons[0], r);
    let ok = votes::encode_full_extension(vec![], vec![bound(&trained(7, 1))], vec![7]);
    assert!(votes::verify_extension(&net.keeper, &state, &ok).is_ok());
    assert!(votes::verify_extension(&net.keeper, &state, &votes::encode_full_extension(vec![], vec![failed(7)], vec![])).is_ok());
    let raw = |ext: openledger_proto::openledger::inference::v1::VoteExtension| prost::Message::encode_to_vec(&ext);
    let ext = |training: Vec<TrainingReport>, running: Vec<u64>| {
        raw(openledger_proto::openledger::inference::v1::VoteExtension {
            outputs: vec![],
            training_reports: training,
            running_jobs: running,
        })
    };
    // A plain result in an extension (anyone could copy it) is refused; so is a short binding,
    // a binding next to plain hashes, and `failed` with anything else.
    assert!(votes::verify_extension(&net.keeper, &state, &ext(vec![trained(7, 1)], vec![])).is_err(), "plain result");
    let mut short = bound(&trained(7, 1));
    short.binding.pop();
    assert!(votes::verify_extension(&net.keeper, &state, &ext(vec![short], vec![])).is_err());
    let mut both = bound(&trained(7, 1));
    both.adapter_hash = vec![1; 32];
    assert!(votes::verify_extension(&net.keeper, &state, &ext(vec![both], vec![])).is_err());
    let mut failed_with_hash = failed(7);
    failed_with_hash.adapter_hash = vec![1; 32];
    assert!(votes::verify_extension(&net.keeper, &state, &ext(vec![failed_with_hash], vec![])).is_err());
    let mut failed_with_binding = failed(7);
    failed_with_binding.binding = vec![1; 32];
    assert!(votes::verify_extension(&net.keeper, &state, &ext(vec![failed_with_binding], vec![])).is_err());
    assert!(
        votes::verify_extension(&net.keeper, &state, &ext(vec![bound(&trained(7, 1)), bound(&trained(7, 2))], vec![])).is_err(),
        "repeated job"
    );
    assert!(votes::verify_extension(&net.keeper, &state, &ext(vec![], vec![7, 7])).is_err());
    assert!(votes::verify_extension(&net.keeper, &state, &ext(vec![], vec![0])).is_err());
    assert!(votes::verify_extension(&net.keeper, &state, &ext(vec![bound(&trained(8, 1))], vec![])).is_err(), "unknown job");
    assert!(votes::verify_extension(&net.keeper, &state, &ext(vec![], vec![8])).is_err(), "unknown job");
    let many: Vec<u64> = (1..=65).collect();
    assert!(votes::decode_extension(&ext(vec![], many)).is_err());
    // The encoder keeps within the bounds and drops nothing it may keep.
    let encoded = votes::encode_full_extension(vec![], vec![bound(&trained(7, 1)), bound(&trained(7, 2))], (1..=100).collect());
    let decoded = votes::decode_extension(&encoded).unwrap();
    assert_eq!((decoded.training_reports.len(), decoded.running_jobs.len()), (1, votes::MAX_RUNNING_JOBS_PER_EXTENSION));
}

/// Validator 3 copies validator 0's training report (a free rider on ModelFactory): the copy
/// is validator 0's binding, not its own, so it neither counts toward the two thirds nor is
/// paid, and it is slashed as a different report.
#[test]
fn a_copied_training_report_is_never_counted_or_paid() {
    let (net, mut state) = training_setup();
    let good = trained(7, 0xaa);
    let (mut votes, commit) = signed_training_votes(
        &net,
        11,
        &[
            Some((vec![good.clone()], vec![])),
            Some((vec![good.clone()], vec![])),
            Some((vec![good.clone()], vec![])),
            Some((vec![], vec![])),
        ],
    );
    let copy = votes[0].vote_extension.clone();
    votes[3].extension_signature = net.keys[3].sign(&votes::extension_sign_bytes(&copy, 11, 0, CHAIN)).to_bytes().to_vec();
    votes[3].vote_extension = copy;
    let v = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &revealing(11, votes, vec![good.clone()])).unwrap();
    let a = &v.training[0];
    assert_eq!((a.agreeing_power, a.eligible_power), (30, 40));
    let decision = net.keeper.apply_training(&mut state, info(12), a, &mut BTreeSet::new()).unwrap();
    assert_eq!(decision.agreeing_executors.len(), 3, "the copier is not paid");
    assert!(!decision.votes[3].agreed);
    assert_eq!(decision.slashed, vec![net.operators[3].clone()]);

    // With two honest trainers the copier cannot lift them to two thirds.
    let (net, state) = training_setup();
    let (mut votes, commit) = signed_training_votes(
        &net,
        11,
        &[Some((vec![good.clone()], vec![])), Some((vec![good.clone()], vec![])), None, Some((vec![], vec![]))],
    );
    let copy = votes[0].vote_extension.clone();
    votes[3].extension_signature = net.keys[3].sign(&votes::extension_sign_bytes(&copy, 11, 0, CHAIN)).to_bytes().to_vec();
    votes[3].vote_extension = copy;
    let err = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &revealing(11, votes, vec![good])).unwrap_err();
    assert!(err.to_string().contains("no two-thirds agreement"), "{err}");
}

#[test]
fn a_late_different_report_for_an_attested_job_is_slashed() {
    let (net, mut state) = training_setup();
    let good = trained(7, 0xaa);
    // Validator 3 has not finished when the three others decide the job.
    let (votes, commit) = signed_training_votes(
        &net,
        11,
        &[
            Some((vec![good.clone()], vec![])),
            Some((vec![good.clone()], vec![])),
            Some((vec![good.clone()], vec![])),
            Some((vec![], vec![7])),
        ],
    );
    let v = votes::verify_injected_all(&net.keeper, &state, CHAIN, 12, 0, &commit, &revealing(11, votes, vec![good.clone()])).unwrap();
    assert!(v.late_dissent.is_empty());
    let decision = net.keeper.apply_training(&mut state, info(12), &v.training[0], &mut BTreeSet::new()).unwrap();
    assert!(decision.slashed.is_empty());
    // Its report arrives later, different: slashed then; the agreeing ones are not.
    let (votes, commit) =
        signed_training_votes(&net, 12, &[Some((vec![good.clone()], vec![])), None, None, Some((vec![trained(7, 0xab)], vec![]))]);
    let v = votes::verify_injected_all(&net.keeper, &state, CHAIN, 13, 0, &commit, &injected(12, votes, vec![])).unwrap();
    assert!(v.training.is_empty());
    assert_eq!(v.late_dissent, vec![(7, net.operators[3].clone())]);
    let mut slashed = BTreeSet::new();
    assert!(net.keeper.apply_late_dissent(&mut state, info(13), 7, &net.operators[3], &mut slashed).unwrap());
    assert!(!net.keeper.apply_late_dissent(&mut state, info(13), 7, &net.operators[3], &mut slashed).unwrap(), "once per block");
    assert_eq!(*net.host.slashed.lock().unwrap(), vec![net.operators[3].clone()]);
    // An agreeing late report alone applies nothing.
    let (votes, commit) = signed_training_votes(&net, 12, &[Some((vec![good], vec![])), None, None, None]);
    assert!(votes::verify_injected_all(&net.keeper, &state, CHAIN, 13, 0, &commit, &injected(12, votes, vec![])).is_err());
}

/// Validator 3 copies validator 0's extension (a free rider): its copy carries validator 0's
/// binding, which is not its own, so it is neither counted nor paid.
#[test]
fn a_copied_extension_is_never_counted_or_paid() {
    let (net, state, id) = setup(4, 5_000);
    let good = report(id, &TOKENS, TEXT);
    let (mut votes, commit) =
        signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good.clone()]), Some(vec![good.clone()]), Some(Vec::new())]);
    let copy = votes[0].vote_extension.clone();
    votes[3].extension_signature = net.keys[3].sign(&votes::extension_sign_bytes(&copy, 11, 0, CHAIN)).to_bytes().to_vec();
    votes[3].vote_extension = copy;
    let verified = votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes, vec![good_output(id)])).unwrap();
    let (agreement, _) = &verified[0];
    assert_eq!((agreement.agreeing_power, agreement.eligible_power), (30, 40));
    let copier = agreement.votes.iter().find(|v| v.operator == net.operators[3]).unwrap();
    assert!(!copier.agreed);
    assert_ne!(copier.output_hash, Some(agreement.output_hash));

    // With only two honest executors the copier cannot lift them to two thirds.
    let (mut votes, commit) = signed_votes(&net, 11, &[Some(vec![good.clone()]), Some(vec![good]), None, Some(Vec::new())]);
    let copy = votes[0].vote_extension.clone();
    votes[3].extension_signature = net.keys[3].sign(&votes::extension_sign_bytes(&copy, 11, 0, CHAIN)).to_bytes().to_vec();
    votes[3].vote_extension = copy;
    let err = votes::verify_injected(&net.keeper, &state, CHAIN, 12, 0, &commit, &injected(11, votes, vec![good_output(id)])).unwrap_err();
    assert!(err.to_string().contains("no two-thirds agreement"), "{err}");
}
