//! Verifiable inference end to end on a 4-validator localnet (real CometBFT v0.38 nodes, one
//! openledgerd and one `open-executor` serving a generated tiny Llama per validator; validator 3
//! runs with `--inference-byzantine`, so it reports perturbed outputs).
//!
//! One network carries every scenario, in order: a validator killed mid-run does not stop the
//! chain and rejoins; a request that no executor can answer is refunded at its deadline; a paid
//! request on an adapter trained on a datanet version is answered with ≥ 2/3 of the executors'
//! power agreeing, its fee split adds up exactly (contributors whose row appears in the output,
//! the adapter owner, the agreeing executors, the community pool), and the byzantine validator
//! is slashed and jailed while the chain keeps finalizing.

use std::process::Command;
use std::time::{Duration, Instant};

use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use openledger_app::client::{fetch_account, sign_tx, SignModeChoice, TxSpec};
use openledger_app::keys::AccountKey;
use openledger_core::{Address, Coin};
use openledger_inference::msg as imsg;
use openledger_proto::openledger::attribution::v1 as apb;
use openledger_proto::openledger::executor::v1 as epb;
use openledger_proto::openledger::inference::v1 as ipb;
use openledger_tests::{open_executor_bin, Localnet, LocalnetOptions, Node};
use serde_json::Value;

use crate::app_level::min_fee;
use crate::datanet::{abci, add_key, any, cli, cli_text, contribution_to, uopen, words};

const PROMPT: &str = "Tell me about open data";
const MAX_TOKENS: u32 = 24;
const FEE: u128 = 1_000_003;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Signs and delivers `msgs` from `key` on `node`; panics unless the tx succeeds.
pub(crate) fn deliver_ok(net: &Localnet, node: &Node, key: &AccountKey, msgs: Vec<cosmos_sdk_proto::Any>, gas: u64) {
    let account = fetch_account(&node.rpc(), &key.address()).expect("account query").expect("account exists");
    let tx = sign_tx(&TxSpec {
        key,
        chain_id: &net.info.chain_id,
        account_number: account.account_number,
        sequence: account.sequence,
        msgs,
        fee: vec![Coin::new("uopen", min_fee(gas)).to_proto()],
        gas_limit: gas,
        memo: String::new(),
        mode: SignModeChoice::Direct,
    })
    .expect("sign");
    let rpc = node.rpc();
    let res = rpc.broadcast_tx_sync(&tx).expect("broadcast");
    assert_eq!(res.code, 0, "CheckTx rejected: {} {} {}", res.codespace, res.code, res.log);
    let included = rpc.wait_for_tx(&res.hash, Duration::from_secs(30)).expect("tx_search").expect("tx included");
    assert_eq!(included.code, 0, "tx failed: {} {}", included.codespace, included.log);
}

fn request(node: &Node, id: u64) -> ipb::QueryRequestResponse {
    abci(node, "/openledger.inference.v1.Query/Request", ipb::QueryRequestRequest { id })
}

/// Waits until request `id` is no longer pending.
pub(crate) fn wait_done(net: &Localnet, id: u64, timeout: Duration) -> ipb::QueryRequestResponse {
    let deadline = Instant::now() + timeout;
    loop {
        let r = request(net.node(0), id);
        if r.request.as_ref().is_some_and(|q| q.status != ipb::RequestStatus::Pending as i32) {
            return r;
        }
        assert!(Instant::now() < deadline, "request {id} still pending\n{}\n{}", net.logs(0), net.logs(1));
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(crate) fn validator(node: &Node, operator: &str) -> spb::Validator {
    let r: spb::QueryValidatorResponse =
        abci(node, "/cosmos.staking.v1beta1.Query/Validator", spb::QueryValidatorRequest { validator_addr: operator.to_string() });
    r.validator.expect("validator")
}

pub(crate) fn community_pool(node: &Node) -> u128 {
    let r: cosmos_sdk_proto::cosmos::distribution::v1beta1::QueryCommunityPoolResponse = abci(
        node,
        "/cosmos.distribution.v1beta1.Query/CommunityPool",
        cosmos_sdk_proto::cosmos::distribution::v1beta1::QueryCommunityPoolRequest {},
    );
    openledger_stake::distribution::from_dec_coins(&r.pool).truncate()
}

fn hex_hash(path: &std::path::Path) -> String {
    let out = Command::new(open_executor_bin()).arg("hash").arg(path).output().expect("open-executor hash");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Node 0 registered with `--executor`: the registration records the hardware class its
/// executor's Health reports, and the CLI, gRPC and REST queries of the executors show it; the
/// validators registered at genesis (before their executors ran) show none.
fn assert_hardware_class_recorded(net: &Localnet, executor: &str) {
    let health = runtime().block_on(async {
        let mut client = epb::executor_client::ExecutorClient::connect(executor.to_string()).await.expect("executor connect");
        client.health(epb::HealthRequest {}).await.expect("Health").into_inner()
    });
    let class = health.hardware_class;
    assert!(!class.is_empty(), "the executor reports no hardware class: {}", health.version);
    let operator0 = net.nodes[0].info.operator_address.as_str();
    let node = net.node(0);
    let listed = cli(node, &["query", "inference", "executors"]);
    let grpc: ipb::QueryExecutorsResponse = abci(node, "/openledger.inference.v1.Query/Executors", ipb::QueryExecutorsRequest {});
    let rest = crate::crashloop::rest_json(&node.rest_url(), "/openledger/inference/v1/executors").expect("REST executors");
    for shown in [&listed, &rest] {
        let all = shown["executors"].as_array().unwrap_or_else(|| panic!("no executors: {shown}"));
        assert_eq!(all.len(), 4, "{shown}");
        for e in all {
            let expected = if e["validator"] == operator0 { class.as_str() } else { "" };
            // proto3 JSON leaves an empty string out; the CLI prints "".
            assert_eq!(e["hardware_class"].as_str().unwrap_or_default(), expected, "{shown}");
        }
    }
    let mine = grpc.executors.iter().find(|e| e.validator == operator0).expect("node 0 registered");
    assert_eq!((mine.hardware_class.as_str(), mine.base_model_ids.as_slice()), (class.as_str(), &[1, 2][..]));
    assert!(grpc.executors.iter().filter(|e| e.validator != operator0).all(|e| e.hardware_class.is_empty()));
}

#[test]
fn verifiable_inference_on_a_four_validator_localnet() {
    // The generated tiny Llama has random weights: its answers are a few canonical tokens long
    // (e.g. "\t8\u{7f}tUUUU…"), so spans of 2 tokens earn attribution on this network.
    let opts = LocalnetOptions {
        tiny_model: true,
        app_args: vec![(3, vec!["--inference-byzantine".to_string()])],
        testnet_args: vec!["--attribution-min-span-tokens".to_string(), "2".to_string()],
        ..LocalnetOptions::default()
    };
    let mut net = Localnet::start(4, &opts);
    let model_dir = net.model_dir.clone().expect("tiny model");
    let weights_hash = net.info.models[0].weights_hash.clone();

    // 1. Validator 2 is killed mid-run: 3 of 4 equal powers (75 %) keep finalizing; it rejoins.
    let h = net.height(0);
    net.kill_node(2);
    net.wait_for_height(0, h + 4, Duration::from_secs(60));
    net.restart_node(2);
    let target = net.height(0) + 2;
    net.wait_for_height(2, target, Duration::from_secs(90));

    // Accounts: a requester, two contributors and an adapter owner, funded by node 0's dev.
    let node = net.node(0);
    let dave = add_key(node, "dave");
    let alice = add_key(node, "alice");
    let bob = add_key(node, "bob");
    let carol = add_key(node, "carol");
    for k in [&dave, &alice, &bob, &carol] {
        cli(node, &["tx", "bank", "send", "dev", &k.address().to_bech32(), "50000000uopen", "--chain-id", &net.info.chain_id]);
    }

    // 2. Nobody can answer: base model 2 is registered and node 0 claims to serve it, but no
    //    executor has its weights. The fee is escrowed, then refunded at the deadline.
    let fake = "ee".repeat(32);
    let mut register = words("tx model register-base --from dev --name missing --architecture llama --license MIT --price 10uopen");
    register.extend(["--weights-hash", &fake, "--tokenizer-hash", &fake, "--chain-id", &net.info.chain_id]);
    cli(node, &register);
    let executor0 = format!("http://127.0.0.1:{}", net.nodes[0].info.executor_port);
    let register = ["tx", "inference", "register-executor", "--models", "1,2", "--executor", &executor0, "--from", "dev"];
    cli(node, &[&register[..], &["--chain-id", &net.info.chain_id]].concat());
    assert_hardware_class_recorded(&net, &executor0);
    let dave0 = uopen(node, &dave.address());
    let unanswered = ipb::MsgRequestInference {
        requester: dave.address().to_bech32(),
        base_model_id: 2,
        adapter_id: 0,
        prompt: "nobody runs this".into(),
        max_tokens: 8,
        fee: Some(Coin::new("uopen", 5_000).to_proto()),
        messages: vec![],
    };
    deliver_ok(&net, node, &dave, vec![any(imsg::MSG_REQUEST_INFERENCE, unanswered)], 300_000);
    let escrowed = uopen(node, &dave.address());
    assert_eq!(dave0 - escrowed, 5_000 + min_fee(300_000), "fee escrowed and tx fee paid");
    let expired = wait_done(&net, 1, Duration::from_secs(90));
    assert_eq!(expired.request.expect("request").status, ipb::RequestStatus::Expired as i32);
    assert!(expired.result.is_none());
    assert_eq!(uopen(node, &dave.address()), escrowed + 5_000, "refunded at the deadline");

    // 3. An adapter fine-tuned on a datanet: every executor loads the same generated adapter.
    let adapter_dir = net.dir().join("adapters/a1");
    let out = Command::new(open_executor_bin())
        .args(["fixture", "adapter", "--model"])
        .arg(&model_dir)
        .arg("--out")
        .arg(&adapter_dir)
        .output()
        .expect("fixture adapter");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let adapter_hash = hex_hash(&adapter_dir);
    let expected = runtime().block_on(async {
        let mut expected = None;
        for i in 0..4 {
            let url = format!("http://127.0.0.1:{}", net.nodes[i].info.executor_port);
            let mut client = epb::executor_client::ExecutorClient::connect(url).await.expect("executor connect");
            let loaded = client
                .load_adapter(epb::LoadAdapterRequest { model: weights_hash.clone(), path: adapter_dir.display().to_string() })
                .await
                .expect("LoadAdapter")
                .into_inner();
            assert_eq!(loaded.adapter, adapter_hash);
            if i == 0 {
                // What the chain's greedy profile will produce (the seed does not matter).
                let params: ipb::QueryParamsResponse = abci(node, "/openledger.inference.v1.Query/Params", ipb::QueryParamsRequest {});
                let r = client
                    .execute(epb::ExecuteRequest {
                        model: weights_hash.clone(),
                        adapter: adapter_hash.clone(),
                        prompt: PROMPT.into(),
                        max_tokens: MAX_TOKENS,
                        seed: 0,
                        profile: params.params.and_then(|p| p.profile),
                        ..Default::default()
                    })
                    .await
                    .expect("Execute")
                    .into_inner();
                expected = Some(r);
            }
        }
        expected.expect("output")
    });
    assert!(!expected.text.is_empty());

    // Alice's row contains the output verbatim; Bob's rows share nothing with it.
    let alice_row = format!("a row that quotes the model: {} and more", expected.text);
    let mut create =
        words("tx datanet create --from dev --name quotes --license CC0 --schema text --curation owner --bond 0uopen --max-row-bytes 4096");
    create.extend(["--chain-id", &net.info.chain_id]);
    cli(node, &create);
    deliver_ok(&net, node, &alice, vec![contribution_to(1, &alice, &[&alice_row], 0)], 400_000);
    deliver_ok(&net, node, &bob, vec![contribution_to(1, &bob, &["completely unrelated text about rivers", "and mountains"], 0)], 400_000);
    for c in ["1", "2"] {
        cli(node, &["tx", "datanet", "review", "1", c, "--accept", "--reason", "ok", "--from", "dev", "--chain-id", &net.info.chain_id]);
    }
    cli(node, &["tx", "datanet", "publish", "1", "--from", "dev", "--chain-id", &net.info.chain_id]);
    let config = "ab".repeat(32);
    let mut register = words("tx model register-adapter --from carol --base-model 1 --datanet-version 1:1 --price 1000uopen");
    register.extend(["--adapter-hash", &adapter_hash, "--training-config-hash", &config, "--chain-id", &net.info.chain_id]);
    cli(node, &register);

    // 4. Dave pays for an inference on the adapter.
    let before: Vec<u128> = (0..4).map(|i| uopen(node, &Address::from_bech32(net.account(i)).expect("addr"))).collect();
    let (alice0, bob0, carol0, pool0) =
        (uopen(node, &alice.address()), uopen(node, &bob.address()), uopen(node, &carol.address()), community_pool(node));
    //    Through the CLI, as a user would: it waits for the agreed answer and prints it.
    let (max_tokens, fee, url) = (MAX_TOKENS.to_string(), format!("{FEE}uopen"), net.rpc_url(0));
    let printed = cli_text(
        node,
        &[
            "tx",
            "inference",
            "request",
            "--model",
            "1",
            "--adapter",
            "1",
            "--prompt",
            PROMPT,
            "--max-tokens",
            &max_tokens,
            "--fee",
            &fee,
            "--from",
            "dave",
            "--chain-id",
            &net.info.chain_id,
            "--node",
            &url,
            "--wait-seconds",
            "90",
        ],
    );
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&printed).into_iter().collect::<Result<_, _>>().expect("CLI JSON");
    let answer = docs.last().expect("the CLI printed the answer");
    assert_eq!((answer["id"].as_str(), answer["status"].as_str()), (Some("2"), Some("completed")), "{printed}");
    assert_eq!(answer["result"]["text"], expected.text.as_str());
    let done = wait_done(&net, 2, Duration::from_secs(60));
    let req = done.request.expect("request");
    let result = done.result.expect("result stored with its votes");
    assert_eq!(req.status, ipb::RequestStatus::Completed as i32);
    assert_eq!(req.datanet_versions.len(), 1, "the adapter's lineage is pinned");
    assert_eq!(result.text, expected.text, "the agreed text is what the executor produces");
    assert_eq!(result.tokens, expected.tokens);
    assert!(result.agreeing_power * 3 >= result.eligible_power * 2, "{} of {}", result.agreeing_power, result.eligible_power);
    let operator3 = net.operator(3).to_string();
    let dissent: Vec<&ipb::ResultVote> = result.votes.iter().filter(|v| !v.agreed).collect();
    assert!(dissent.iter().all(|v| v.validator == operator3), "only the byzantine validator disagrees: {:?}", result.votes);

    // The fee split adds up exactly and reaches the right accounts.
    let paid = |s: &str| s.parse::<u128>().expect("amount");
    let (to_contrib, to_owner, to_exec, to_pool) =
        (paid(&result.paid_contributors), paid(&result.paid_owner), paid(&result.paid_executors), paid(&result.paid_community));
    assert_eq!(to_contrib + to_owner + to_exec + to_pool, FEE, "{result:?}");
    let record: apb::QueryRecordResponse =
        abci(node, "/openledger.attribution.v1.Query/Record", apb::QueryRecordRequest { inference_id: 2 });
    let record = record.record.expect("attribution record");
    assert!(to_contrib > 0, "Alice's row appears in the output, so contributors are paid: {:?}\n{record:?}", expected.text);
    assert_eq!(uopen(node, &alice.address()) - alice0, to_contrib, "Alice gets the whole contributors' payout");
    assert_eq!(uopen(node, &bob.address()), bob0, "Bob's rows are not in the output");
    // Anyone can read why: the attribution record names Alice's row and the spans matched.
    assert_eq!(record.payouts.len(), 1, "{record:?}");
    assert_eq!(record.payouts[0].contributor, alice.address().to_bech32());
    assert_eq!(record.payouts[0].amount, to_contrib.to_string());
    assert!(!record.spans.is_empty() && record.rows.iter().all(|r| r.contributor == alice.address().to_bech32()), "{record:?}");
    assert_eq!(uopen(node, &carol.address()) - carol0, to_owner);
    let agreed: Vec<&ipb::ResultVote> = result.votes.iter().filter(|v| v.agreed).collect();
    let mut exec_total = 0;
    for (i, balance_before) in before.iter().enumerate().take(3).skip(1) {
        let account = Address::from_bech32(net.account(i)).expect("addr");
        let gained = uopen(node, &account) - balance_before;
        assert!(agreed.iter().any(|v| v.validator == net.operator(i)), "honest validator {i} agreed");
        assert!(gained > 0, "executor {i} was paid");
        exec_total += gained;
    }
    assert!(exec_total <= to_exec);
    assert_eq!(uopen(node, &Address::from_bech32(net.account(3)).expect("addr")), before[3], "the dissenter earns nothing");
    assert!(community_pool(node) >= pool0 + to_pool, "the community pool received its share");

    // 5. The byzantine validator is slashed and jailed; the chain keeps finalizing without it.
    assert_eq!(result.slashed, vec![operator3.clone()]);
    let v3 = validator(node, &operator3);
    assert!(v3.jailed, "jailed for a wrong result");
    let v1 = validator(node, net.operator(1));
    assert!(v3.tokens.parse::<u128>().expect("tokens") < v1.tokens.parse::<u128>().expect("tokens"), "slashed");
    let h = net.height(0);
    net.wait_for_height(0, h + 3, Duration::from_secs(60));
    let shown: Value = cli(node, &["query", "inference", "request", "2"]);
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["result"]["text"], expected.text);
}
