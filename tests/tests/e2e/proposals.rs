//! ProcessProposal and FinalizeBlock of the in-process app on crafted proposals carrying the
//! injected inference results (`OLINFER1` + `InjectedResults`): a genesis validator with a known
//! ed25519 key serves base model 1, a real request is on chain, and its signed vote extension
//! reports an output. The app accepts exactly the honest proposal and rejects one whose results
//! tx is not first, one without a previous commit, a forged extension signature, a text that does
//! not hash to the agreed output, a vote list that is not the block's commit, and garbage after
//! the magic prefix; FinalizeBlock of the honest block completes the request.

use base64::Engine;
use ed25519_consensus::SigningKey;
use openledger_app::app::App;
use openledger_app::client::SignModeChoice;
use openledger_app::home::add_genesis_validator;
use openledger_app::modules::AppGenesis;
use openledger_core::Coin;
use openledger_inference::keeper::output_hash;
use openledger_inference::votes;
use openledger_proto::openledger::inference::v1 as ipb;
use prost::Message;
use sha2::{Digest, Sha256};
use tendermint_proto::v0_38::abci as pb;
use tendermint_proto::v0_38::types::BlockIdFlag;

use crate::app_level::{dev, genesis_with, min_fee, new_app, query, run_block, sign_with, CHAIN_ID};
use crate::datanet::any;

const SELF_BOND: u128 = 1_000_000_000_000;
const TOKENS: [u32; 4] = [11, 12, 13, 14];
const TEXT: &str = " open data helps";

/// The app, the validator's consensus key and address, its power, and the request id.
struct Chain {
    app: App,
    key: SigningKey,
    cons_address: Vec<u8>,
    power: i64,
    request_id: u64,
}

fn chain() -> Chain {
    let key = SigningKey::from([7u8; 32]);
    let pubkey = key.verification_key().to_bytes();
    let mut genesis: AppGenesis = genesis_with(&[]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(pubkey);
    add_genesis_validator(&mut genesis, &dev().address(), &b64, "v0", SELF_BOND);
    genesis.model.base_models.push(openledger_model::genesis::BaseModelJson {
        id: 1,
        owner: dev().address().to_bech32(),
        name: "tiny".into(),
        architecture: "llama".into(),
        weights_hash: "ab".repeat(32),
        tokenizer_hash: "cd".repeat(32),
        license: String::new(),
        inference_price: Some(openledger_model::genesis::CoinJson { denom: "uopen".into(), amount: "100".into() }),
        delisted: false,
        delist_reason: String::new(),
        chat_template_hash: String::new(),
    });
    genesis.inference.executors.push(openledger_inference::genesis::GenesisExecutor {
        validator: openledger_stake::keeper::operator_of(&dev().address()),
        base_model_ids: vec![1],
        hardware_class: String::new(),
    });
    let app = new_app(&genesis);
    run_block(&app, &[]);
    let request = ipb::MsgRequestInference {
        requester: dev().address().to_bech32(),
        base_model_id: 1,
        adapter_id: 0,
        prompt: "What is open data?".into(),
        max_tokens: 8,
        fee: Some(Coin::new("uopen", 10_000).to_proto()),
        messages: vec![],
    };
    let tx = sign_with(
        &app,
        &dev(),
        vec![any(openledger_inference::msg::MSG_REQUEST_INFERENCE, request)],
        300_000,
        min_fee(300_000),
        None,
        SignModeChoice::Direct,
        "",
    );
    let resp = run_block(&app, &[tx]);
    assert_eq!(resp.tx_results[0].code, 0, "{}", resp.tx_results[0].log);
    // CometBFT's power of the self-bond (tokens / 10^6).
    let power = i64::try_from(SELF_BOND / 1_000_000).expect("power");
    Chain { app, key, cons_address: Sha256::digest(pubkey)[..20].to_vec(), power, request_id: 1 }
}

impl Chain {
    fn height(&self) -> i64 {
        i64::try_from(self.app.storage().last_committed().0).expect("height") + 1
    }

    /// The signed extension of the previous height reporting `tokens`/`text` for the request.
    fn injected(&self, text: &str, sign_with: &SigningKey) -> (ipb::InjectedResults, pb::CommitInfo) {
        let extension_height = self.height() - 1;
        let bound = votes::report_binding(CHAIN_ID, self.request_id, &self.cons_address, &output_hash(&TOKENS, TEXT));
        let report = ipb::ReportedOutput { request_id: self.request_id, output_hash: bound.to_vec(), token_count: 4 };
        let extension = votes::encode_extension(vec![report]);
        let signature = sign_with.sign(&votes::extension_sign_bytes(&extension, extension_height, 0, CHAIN_ID));
        let vote = ipb::InjectedVote {
            address: self.cons_address.clone(),
            power: self.power,
            block_id_flag: BlockIdFlag::Commit as i32,
            vote_extension: extension,
            extension_signature: signature.to_bytes().to_vec(),
        };
        let output = ipb::AgreedOutput { request_id: self.request_id, tokens: TOKENS.to_vec(), text: text.into() };
        let injected = ipb::InjectedResults {
            height: extension_height,
            round: 0,
            votes: vec![vote],
            outputs: vec![output],
            revealed_training: vec![],
        };
        (injected, self.commit())
    }

    /// The block's own record of the previous commit (one validator, signed).
    fn commit(&self) -> pb::CommitInfo {
        pb::CommitInfo {
            round: 0,
            votes: vec![pb::VoteInfo {
                validator: Some(pb::Validator { address: self.cons_address.clone().into(), power: self.power }),
                block_id_flag: BlockIdFlag::Commit as i32,
            }],
        }
    }

    fn process(&self, txs: Vec<Vec<u8>>, commit: Option<pb::CommitInfo>) -> bool {
        let req = pb::RequestProcessProposal {
            txs: txs.into_iter().map(Into::into).collect(),
            proposed_last_commit: commit,
            height: self.height(),
            ..Default::default()
        };
        self.app.process_proposal(&req).status == pb::response_process_proposal::ProposalStatus::Accept as i32
    }
}

fn request(app: &App, id: u64) -> ipb::QueryRequestResponse {
    let res = query(app, "/openledger.inference.v1.Query/Request", ipb::QueryRequestRequest { id }.encode_to_vec());
    assert_eq!(res.code, 0, "{}", res.log);
    ipb::QueryRequestResponse::decode(res.value.as_ref()).expect("decode")
}

#[test]
fn process_proposal_accepts_only_the_honest_injected_results_and_finalize_applies_them() {
    let c = chain();
    let (honest, commit) = c.injected(TEXT, &c.key);
    let tx = votes::encode_injected(&honest);
    assert!(c.process(vec![], Some(commit.clone())), "a block without results is fine");
    assert!(c.process(vec![tx.clone()], Some(commit.clone())), "the honest proposal");

    let other_tx = sign_with(
        &c.app,
        &dev(),
        vec![crate::app_level::send_msg(&dev().address(), &crate::app_level::key(9).address(), 1)],
        200_000,
        min_fee(200_000),
        None,
        SignModeChoice::Direct,
        "",
    );
    assert!(!c.process(vec![other_tx.clone(), tx.clone()], Some(commit.clone())), "results must be the first tx");
    assert!(!c.process(vec![tx.clone()], None), "results without a previous commit");
    let (forged, _) = c.injected(TEXT, &SigningKey::from([8u8; 32]));
    assert!(!c.process(vec![votes::encode_injected(&forged)], Some(commit.clone())), "extension signed by another key");
    let (wrong_text, _) = c.injected(" open data hurts", &c.key);
    assert!(!c.process(vec![votes::encode_injected(&wrong_text)], Some(commit.clone())), "text not hashing to the agreed output");
    let mut absent = commit.clone();
    absent.votes[0].block_id_flag = BlockIdFlag::Absent as i32;
    assert!(!c.process(vec![tx.clone()], Some(absent)), "votes that are not the block's commit");
    let mut garbage = votes::INJECTED_MAGIC.to_vec();
    garbage.extend_from_slice(&[0xff, 0xff, 0xff]);
    assert!(!c.process(vec![garbage], Some(commit.clone())), "undecodable results");

    // FinalizeBlock of the honest block stores the result with its vote and pays the split.
    let height = c.height();
    let req = pb::RequestFinalizeBlock {
        txs: vec![tx.into()],
        decided_last_commit: Some(commit),
        height,
        time: Some(tendermint_proto::google::protobuf::Timestamp { seconds: 1_700_000_000 + height, nanos: 0 }),
        ..Default::default()
    };
    let resp = c.app.finalize_block(&req).expect("finalize");
    assert_eq!(resp.tx_results[0].code, 0, "{}", resp.tx_results[0].log);
    c.app.commit().expect("commit");
    let done = request(&c.app, c.request_id);
    assert_eq!(done.request.expect("request").status, ipb::RequestStatus::Completed as i32);
    let result = done.result.expect("result");
    assert_eq!((result.text.as_str(), result.tokens.as_slice()), (TEXT, TOKENS.as_slice()));
    assert_eq!((result.agreeing_power, result.eligible_power), (c.power, c.power));
    let paid: u128 = [&result.paid_contributors, &result.paid_owner, &result.paid_executors, &result.paid_community]
        .iter()
        .map(|s| s.parse::<u128>().expect("amount"))
        .sum();
    assert_eq!(paid, 10_000, "{result:?}");
}
