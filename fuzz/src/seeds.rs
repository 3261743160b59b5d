//! The seed corpus generator (`openledger-fuzz seeds`): real inputs for every target, built from
//! the replay chain's signed txs, the inference chain's signed extension and injected results,
//! every REST route of the gateway and the chain's genesis documents. The output is committed
//! under `fuzz/corpus/<target>/`, one file per input named by its hash.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use cosmos_sdk_proto::cosmos::bank::v1beta1::QueryBalanceRequest;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{SimulateRequest, TxBody, TxRaw};
use cosmos_sdk_proto::Any;
use openledger_app::amino::{canonical_json, StdSignDoc};
use openledger_app::home::local_app_genesis;
use openledger_app::modules::chain_registry;
use openledger_app::rest::{RestState, Segment, StaticDocuments};
use openledger_core::MsgRouter;
use openledger_inference::votes;
use openledger_proto::openledger::inference::v1 as ipb;
use prost::Message;
use sha2::{Digest, Sha256};
use tendermint_proto::v0_38::abci as pb;

use crate::world::{account_key, fixture_txs, replay_app, replay_app_state, InferenceChain, ACCOUNT_SEEDS, CHAIN_ID};

/// Well-formed IBC messages (a transfer, a client creation with a Tendermint client state of this
/// chain's proof specs, a packet receipt), so that mutations reach ibc-rs's decoders.
fn ibc_messages() -> Vec<Any> {
    use ibc_proto::google::protobuf::{Any as IbcAny, Duration};
    use ibc_proto::ibc::core::channel::v1 as ch;
    use ibc_proto::ibc::core::client::v1 as cl;
    use ibc_proto::ibc::lightclients::tendermint::v1 as tm;
    let signer = account_key(ACCOUNT_SEEDS[0]).address().to_bech32();
    let height = Some(cl::Height { revision_number: 1, revision_height: 5 });
    let client_state = tm::ClientState {
        chain_id: "ibc-b-1".into(),
        trust_level: Some(tm::Fraction { numerator: 1, denominator: 3 }),
        trusting_period: Some(Duration { seconds: 1_209_600, nanos: 0 }),
        unbonding_period: Some(Duration { seconds: 1_814_400, nanos: 0 }),
        max_clock_drift: Some(Duration { seconds: 20, nanos: 0 }),
        frozen_height: None,
        latest_height: height,
        proof_specs: openledger_ibc::proof_specs().into(),
        upgrade_path: vec!["upgrade".into(), "upgradedIBCState".into()],
        ..Default::default()
    };
    let consensus_state = tm::ConsensusState {
        timestamp: Some(ibc_proto::google::protobuf::Timestamp { seconds: 1_700_000_000, nanos: 0 }),
        root: Some(ibc_proto::ibc::core::commitment::v1::MerkleRoot { hash: vec![7; 32] }),
        next_validators_hash: vec![9; 32],
    };
    let any = |type_url: &str, value: Vec<u8>| Any { type_url: type_url.into(), value };
    let packet = ch::Packet {
        sequence: 1,
        source_port: "transfer".into(),
        source_channel: "channel-0".into(),
        destination_port: "transfer".into(),
        destination_channel: "channel-0".into(),
        data: br#"{"amount":"1000","denom":"uopen","receiver":"open1x","sender":"open1y"}"#.to_vec(),
        timeout_height: height,
        timeout_timestamp: 0,
    };
    vec![
        any(
            "/ibc.applications.transfer.v1.MsgTransfer",
            ibc_proto::ibc::applications::transfer::v1::MsgTransfer {
                source_port: "transfer".into(),
                source_channel: "channel-0".into(),
                token: Some(ibc_proto::cosmos::base::v1beta1::Coin { denom: "uopen".into(), amount: "1000".into() }),
                sender: signer.clone(),
                receiver: "open1receiver".into(),
                timeout_height: height,
                timeout_timestamp: 1_700_000_000_000_000_000,
                memo: String::new(),
            }
            .encode_to_vec(),
        ),
        any(
            "/ibc.core.client.v1.MsgCreateClient",
            cl::MsgCreateClient {
                client_state: Some(IbcAny {
                    type_url: "/ibc.lightclients.tendermint.v1.ClientState".into(),
                    value: client_state.encode_to_vec(),
                }),
                consensus_state: Some(IbcAny {
                    type_url: "/ibc.lightclients.tendermint.v1.ConsensusState".into(),
                    value: consensus_state.encode_to_vec(),
                }),
                signer: signer.clone(),
            }
            .encode_to_vec(),
        ),
        any(
            "/ibc.core.channel.v1.MsgRecvPacket",
            ch::MsgRecvPacket { packet: Some(packet), proof_commitment: vec![1; 64], proof_height: height, signer }.encode_to_vec(),
        ),
    ]
}

/// The seeds of every target, by target name.
pub fn generate() -> BTreeMap<&'static str, Vec<Vec<u8>>> {
    let mut out: BTreeMap<&'static str, Vec<Vec<u8>>> = BTreeMap::new();
    let txs = fixture_txs();
    out.insert("tx_decode", txs.clone());
    out.insert("check_tx", txs.clone());

    // Every message of the fixture (up to 3 per type), and an empty one of every other type.
    let mut msgs: BTreeMap<String, Vec<Any>> = BTreeMap::new();
    for tx in &txs {
        let Ok(raw) = TxRaw::decode(tx.as_slice()) else { continue };
        let Ok(body) = TxBody::decode(raw.body_bytes.as_slice()) else { continue };
        for any in body.messages {
            let list = msgs.entry(any.type_url.clone()).or_default();
            if list.len() < 3 && !list.contains(&any) {
                list.push(any);
            }
        }
    }
    for any in ibc_messages() {
        msgs.entry(any.type_url.clone()).or_default().push(any);
    }
    let registry = chain_registry();
    for url in registry.msg_type_urls() {
        msgs.entry(url.to_string()).or_insert_with(|| vec![Any { type_url: url.into(), value: Vec::new() }]);
    }
    out.insert("msgs", msgs.values().flatten().map(|a| a.encode_to_vec()).collect());

    // Real amino sign docs of those messages.
    let amino = msgs
        .values()
        .flatten()
        .filter_map(|any| registry.decode(any).ok())
        .map(|msg| {
            let doc = StdSignDoc {
                account_number: 3,
                chain_id: CHAIN_ID,
                fee_amount: vec![("uopen".into(), "5000".into())],
                gas: 200_000,
                fee_payer: "",
                fee_granter: "",
                memo: "fuzz <&>",
                msgs: vec![msg.amino_json(registry)],
                sequence: 7,
                timeout_height: 0,
            };
            doc.sign_bytes()
        })
        .collect();
    out.insert("amino_json", amino);

    let chain = InferenceChain::new();
    let extension = chain.extension();
    let training = votes::encode_full_extension(
        vec![],
        vec![
            ipb::TrainingReport { job_id: 1, failed: true, ..Default::default() },
            ipb::TrainingReport { job_id: 2, binding: vec![9; 32], ..Default::default() },
        ],
        vec![3, 4],
    );
    out.insert("vote_extension", vec![extension, training, Vec::new()]);

    let (injected, commit) = chain.injected();
    let injected_tx = votes::encode_injected(&injected);
    let proposal = |txs: Vec<Vec<u8>>, commit: Option<pb::CommitInfo>| {
        pb::RequestProcessProposal {
            txs: txs.into_iter().map(Into::into).collect(),
            proposed_last_commit: commit,
            height: chain.height(),
            ..Default::default()
        }
        .encode_to_vec()
    };
    out.insert(
        "process_proposal",
        vec![
            proposal(vec![injected_tx.clone()], Some(commit.clone())),
            proposal(vec![injected_tx.clone(), txs[0].clone()], Some(commit.clone())),
            proposal(vec![txs[0].clone(), injected_tx.clone()], Some(commit.clone())),
            proposal(vec![], Some(commit)),
        ],
    );
    let prepare = |max: i64, mempool: Vec<Vec<u8>>| {
        pb::RequestPrepareProposal { max_tx_bytes: max, txs: mempool.into_iter().map(Into::into).collect(), ..Default::default() }
            .encode_to_vec()
    };
    out.insert(
        "prepare_proposal",
        vec![
            prepare(1024 * 1024, txs.iter().take(8).cloned().collect()),
            prepare(600, vec![txs[0].clone(), injected_tx.clone(), txs[1].clone()]),
        ],
    );

    // Blocks: the fixture's txs in groups of five, plus one with garbage between them.
    let mut blocks: Vec<Vec<u8>> = txs
        .chunks(5)
        .step_by(3)
        .map(|group| {
            pb::RequestFinalizeBlock { txs: group.iter().cloned().map(Into::into).collect(), ..Default::default() }.encode_to_vec()
        })
        .collect();
    blocks.push(
        pb::RequestFinalizeBlock { txs: vec![vec![0xff; 8].into(), txs[1].clone().into(), Vec::new().into()], ..Default::default() }
            .encode_to_vec(),
    );
    out.insert("finalize_block", blocks);

    // Queries and REST requests for every route of the gateway, variables filled with real values.
    let app = std::sync::Arc::new(replay_app());
    let alice = account_key(2).address().to_bech32();
    let state = RestState::new(app, "http://127.0.0.1:9", StaticDocuments::default()).expect("routes");
    let mut queries = vec![
        pb::RequestQuery {
            path: "/cosmos.bank.v1beta1.Query/Balance".into(),
            data: QueryBalanceRequest { address: alice.clone(), denom: "uopen".into() }.encode_to_vec().into(),
            ..Default::default()
        },
        pb::RequestQuery {
            path: "/cosmos.tx.v1beta1.Service/Simulate".into(),
            #[allow(deprecated)]
            data: SimulateRequest { tx_bytes: txs[0].clone(), ..Default::default() }.encode_to_vec().into(),
            ..Default::default()
        },
        pb::RequestQuery { path: "/store/bank/key".into(), data: b"\x02balance".to_vec().into(), prove: true, height: 5 },
    ];
    let mut rest = Vec::new();
    for route in state.routes() {
        let path: String = route
            .template
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => format!("/{l}"),
                Segment::Variable(v) | Segment::Rest(v) if v.contains("addr") || v.contains("delegator") => format!("/{alice}"),
                Segment::Variable(_) | Segment::Rest(_) => "/1".to_string(),
            })
            .collect();
        queries.push(pb::RequestQuery { path: route.grpc_path.clone(), ..Default::default() });
        let tx_b64 = base64::engine::general_purpose::STANDARD.encode(&txs[0]);
        let body = if route.verb == http::Method::POST {
            serde_json::json!({"tx_bytes": tx_b64, "mode": "BROADCAST_MODE_SYNC"})
        } else {
            serde_json::Value::Null
        };
        let request = serde_json::json!({"method": route.verb.as_str(), "path": path, "query": "pagination.limit=2", "body": body.to_string(), "height": 0});
        rest.push(serde_json::to_vec(&request).expect("json"));
    }
    for path in ["/cosmos/base/tendermint/v1beta1/node_info", "/cosmos/consensus/v1/params", "/cosmos/base/node/v1beta1/status", "/"] {
        rest.push(serde_json::to_vec(&serde_json::json!({"method": "GET", "path": path})).expect("json"));
    }
    out.insert("query", queries.iter().map(Message::encode_to_vec).collect());
    out.insert("rest", rest);

    let local = serde_json::to_vec(&local_app_genesis(&account_key(1).address())).expect("genesis serializes");
    out.insert("genesis", vec![replay_app_state(), local, b"{}".to_vec()]);
    // Keep the amino seeds canonical (they are what wallets sign).
    if let Some(docs) = out.get_mut("amino_json") {
        for d in docs.iter_mut() {
            *d = canonical_json(&serde_json::from_slice(d).expect("sign bytes are JSON")).into_bytes();
        }
    }
    out
}

/// Writes the seeds under `dir/<target>/<sha256 prefix>`, replacing what was there.
pub fn write(dir: &Path) -> std::io::Result<usize> {
    let mut count = 0;
    for (target, seeds) in generate() {
        let sub = dir.join(target);
        if sub.exists() {
            std::fs::remove_dir_all(&sub)?;
        }
        std::fs::create_dir_all(&sub)?;
        for seed in seeds {
            let name = hex::encode(&Sha256::digest(&seed)[..8]);
            std::fs::write(sub.join(name), &seed)?;
            count += 1;
        }
    }
    Ok(count)
}
