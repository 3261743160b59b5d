//! ModelFactory end to end on a 4-validator localnet (real CometBFT v0.38 nodes, one openledgerd
//! and one `open-executor` serving a generated tiny Llama per validator; validator 3 runs with
//! `--inference-byzantine`, which also flips the adapter hash of its training reports).
//!
//! A datanet version is published (Alice 3 rows, Bob 2), Carol creates a fine-tune job through
//! the CLI; every validator's executor trains it off the consensus path; the job becomes
//! ATTESTED once two thirds of the executors' power signed the same report (waited for by
//! polling the job, never a fixed sleep). The adapter is registered with its lineage and owned
//! by Carol; the fee is split exactly (executors pro rata to power, contributors pro rata to
//! their rows, the rest to the community pool); the byzantine trainer is slashed and jailed;
//! then validator 1's executor is restarted without the adapter and fetches it from a peer
//! (hash-checked) when an inference on the new adapter comes; that inference is answered with a
//! two-thirds agreement including validator 1, and differs from the base model's answer.

use std::time::{Duration, Instant};

use openledger_core::Address;
use openledger_proto::openledger::datanet::v1 as dpb;
use openledger_proto::openledger::inference::v1 as ipb;
use openledger_proto::openledger::model::v1 as mpb;
use openledger_tests::{Localnet, LocalnetOptions, Node};
use serde_json::Value;

use crate::datanet::{abci, add_key, cli, cli_text, contribution_to, uopen, words};
use crate::inference::{community_pool, deliver_ok, validator, wait_done};

const FEE: u128 = 1_000_007;

fn job(net: &Localnet, id: u64) -> mpb::FineTuneJob {
    let r: mpb::QueryFineTuneJobResponse =
        abci(net.node(0), "/openledger.model.v1.Query/FineTuneJob", mpb::QueryFineTuneJobRequest { job_id: id });
    r.job.expect("job")
}

/// Waits until job `id` is decided (attested, failed or expired).
fn wait_decided(net: &Localnet, id: u64, timeout: Duration) -> mpb::FineTuneJob {
    let deadline = Instant::now() + timeout;
    loop {
        let j = job(net, id);
        // (A job this small may train between two blocks: it can go from QUEUED straight to
        // ATTESTED without a RUNNING report ever reaching a block.)
        if j.status != mpb::JobStatus::Queued as i32 && j.status != mpb::JobStatus::Running as i32 {
            return j;
        }
        assert!(Instant::now() < deadline, "job {id} undecided: {j:?}\n{}\n{}", net.logs(0), net.logs(1));
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn fine_tune_job_is_trained_attested_paid_and_served_on_a_four_validator_localnet() {
    let opts =
        LocalnetOptions { tiny_model: true, app_args: vec![(3, vec!["--inference-byzantine".to_string()])], ..LocalnetOptions::default() };
    let mut net = Localnet::start(4, &opts);
    let weights_hash = net.info.models[0].weights_hash.clone();
    let chain = net.info.chain_id.clone();
    let node = net.node(0);

    // Accounts: two contributors and the job's creator, funded by node 0's dev account.
    let alice = add_key(node, "alice");
    let bob = add_key(node, "bob");
    let carol = add_key(node, "carol");
    for k in [&alice, &bob, &carol] {
        cli(node, &["tx", "bank", "send", "dev", &k.address().to_bech32(), "50000000uopen", "--chain-id", &chain]);
    }

    // A published datanet version: Alice 3 rows, Bob 2.
    let mut create = words(
        "tx datanet create --from dev --name recipes --license CC0 --schema text --curation owner --bond 0uopen --max-row-bytes 4096",
    );
    create.extend(["--chain-id", &chain]);
    cli(node, &create);
    let alice_rows = ["open data is shared by everyone", "a datanet pays its contributors", "models learn from open rows"];
    let bob_rows = ["validators attest the training", "the adapter is owned by its creator"];
    deliver_ok(&net, node, &alice, vec![contribution_to(1, &alice, &alice_rows, 0)], 400_000);
    deliver_ok(&net, node, &bob, vec![contribution_to(1, &bob, &bob_rows, 0)], 400_000);
    for c in ["1", "2"] {
        cli(node, &["tx", "datanet", "review", "1", c, "--accept", "--reason", "ok", "--from", "dev", "--chain-id", &chain]);
    }
    cli(node, &["tx", "datanet", "publish", "1", "--from", "dev", "--chain-id", &chain]);
    let version: dpb::QueryVersionResponse =
        abci(node, "/openledger.datanet.v1.Query/Version", dpb::QueryVersionRequest { datanet_id: 1, version: 1 });
    let version = version.version.expect("version 1");
    assert_eq!(version.row_count, 5);

    // Balances before the job (validator accounts earn only through explicit payouts).
    let accounts: Vec<Address> = (0..4).map(|i| Address::from_bech32(net.account(i)).expect("addr")).collect();
    let before: Vec<u128> = accounts.iter().map(|a| uopen(node, a)).collect();
    let (alice0, bob0, pool0) = (uopen(node, &alice.address()), uopen(node, &bob.address()), community_pool(node));

    // Carol creates the job through the CLI, which prints its id.
    let fee = format!("{FEE}uopen");
    let url = net.rpc_url(0);
    let job_sent = Instant::now();
    let printed = cli_text(
        node,
        &[
            "tx",
            "model",
            "fine-tune",
            "--base-model",
            "1",
            "--datanet",
            "1",
            "--version",
            "1",
            "--rank",
            "4",
            "--max-steps",
            "40",
            "--batch-size",
            "2",
            "--max-seq-len",
            "32",
            "--eval-split",
            "0.2",
            "--learning-rate",
            "0.05",
            "--fee",
            &fee,
            "--from",
            "carol",
            "--chain-id",
            &chain,
            "--node",
            &url,
        ],
    );
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&printed).into_iter().collect::<Result<_, _>>().expect("CLI JSON");
    let job_id: u64 = docs.last().and_then(|d| d["job_id"].as_str()).expect("job id printed").parse().expect("number");
    assert_eq!(job_id, 1);
    let queued = job(&net, job_id);
    assert_eq!(queued.creator, carol.address().to_bech32());
    let config = queued.config.clone().expect("normalized config");
    assert_eq!((config.rank, config.alpha, config.max_steps, config.batch_size, config.eval_split_bps), (4, 8, 40, 2, 2000));
    assert_eq!(config.target_modules, ["q_proj", "v_proj"]);
    assert_ne!(config.seed, 0, "seed derived from chain data");
    assert_eq!(queued.merkle_root, version.merkle_root);

    // Trained off the consensus path and attested through the vote extensions.
    let done = wait_decided(&net, job_id, Duration::from_secs(600));
    eprintln!(
        "fine-tune job 1: tx sent to attested adapter in {:.1} s ({} blocks)",
        job_sent.elapsed().as_secs_f64(),
        done.attested_height.saturating_sub(done.created_height)
    );
    assert_eq!(done.status, mpb::JobStatus::Attested as i32, "{done:?}\n{}", net.logs(0));
    assert!(done.agreeing_power * 3 >= done.eligible_power * 2, "{} of {}", done.agreeing_power, done.eligible_power);

    // The adapter: registered with its full lineage, owned by the creator.
    let adapter: mpb::QueryAdapterResponse =
        abci(node, "/openledger.model.v1.Query/Adapter", mpb::QueryAdapterRequest { adapter_id: done.adapter_id });
    let adapter = adapter.adapter.expect("adapter");
    assert_eq!(adapter.owner, carol.address().to_bech32());
    assert_eq!(adapter.adapter_hash, done.adapter_hash);
    assert_eq!(adapter.fine_tune_job_id, job_id);
    assert_eq!(adapter.base_weights_hash, weights_hash);
    assert_eq!(adapter.training_config_hash, hex::encode(&done.config_hash));
    assert_eq!(adapter.training_log_hash, done.training_log_hash);
    assert_eq!(adapter.training_log_hash.len(), 32);
    assert_eq!(adapter.eval_loss_bits, done.eval_loss_bits);
    assert_eq!(adapter.datanet_versions.len(), 1);
    assert_eq!((adapter.datanet_versions[0].datanet_id, adapter.datanet_versions[0].version), (1, 1));
    assert_eq!(adapter.datanet_versions[0].merkle_root, version.merkle_root);

    // The byzantine trainer signed another adapter hash: slashed and jailed.
    let operator3 = net.operator(3).to_string();
    let dissent: Vec<&mpb::JobVote> = done.votes.iter().filter(|v| v.reported && !v.agreed).collect();
    assert!(dissent.iter().all(|v| v.validator == operator3), "only the byzantine validator disagrees: {:?}", done.votes);
    assert_eq!(done.slashed, vec![operator3.clone()], "{:?}", done.votes);
    assert!(validator(node, &operator3).jailed, "jailed for a wrong training report");

    // The fee split, exact: 50 % executors pro rata to power, 40 % contributors pro rata to rows,
    // the rest (10 % and every remainder) to the community pool.
    let paid = |s: &str| s.parse::<u128>().expect("amount");
    let (to_exec, to_contrib, to_pool) = (paid(&done.paid_executors), paid(&done.paid_contributors), paid(&done.paid_community));
    assert_eq!(to_exec + to_contrib + to_pool, FEE);
    let exec_share = FEE * 5_000 / 10_000;
    let contrib_share = FEE * 4_000 / 10_000;
    let agreeing_power: i64 = done.votes.iter().filter(|v| v.agreed).map(|v| v.power).sum();
    assert_eq!(agreeing_power, done.agreeing_power);
    let mut expected_exec = 0;
    for (i, account) in accounts.iter().enumerate() {
        let vote = done.votes.iter().find(|v| v.validator == net.operator(i));
        let expected = match vote {
            Some(v) if v.agreed => exec_share * v.power as u128 / agreeing_power as u128,
            _ => 0,
        };
        expected_exec += expected;
        assert_eq!(uopen(node, account) - before[i], expected, "executor {i}: {vote:?}");
    }
    assert_eq!(expected_exec, to_exec);
    let (alice_pay, bob_pay) = (contrib_share * 3 / 5, contrib_share * 2 / 5);
    assert_eq!(uopen(node, &alice.address()) - alice0, alice_pay);
    assert_eq!(uopen(node, &bob.address()) - bob0, bob_pay);
    assert_eq!(to_contrib, alice_pay + bob_pay);
    assert_eq!(to_pool, FEE - to_exec - to_contrib);
    assert!(community_pool(node) >= pool0 + to_pool, "the community pool received its share");
    let shown: Value = cli(node, &["query", "model", "job", &job_id.to_string()]);
    assert_eq!(shown["job"]["status"], "JOB_STATUS_ATTESTED", "{shown}");
    let listed: Value = cli(node, &["query", "model", "jobs", "--status", "attested", "--creator", &carol.address().to_bech32()]);
    assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(1), "{listed}");

    // Validator 1's executor forgets the adapter (restarted with an empty store): it must fetch
    // it from a peer, checked against its hash, when the inference below names it.
    net.nodes[1].restart_executor_without_adapters();
    let node = net.node(0);

    // The new adapter serves inference, agreed by two thirds of the executors.
    let request_id = request_inference(node, &chain, &url, Some(done.adapter_id));
    let r = wait_done(&net, request_id, Duration::from_secs(60));
    let req = r.request.expect("request");
    assert_eq!(req.status, ipb::RequestStatus::Completed as i32);
    assert_eq!(req.adapter_hash, done.adapter_hash, "the request pinned the trained adapter");
    assert_eq!(req.datanet_versions.len(), 1);
    let result = r.result.expect("result");
    let log = net.nodes[1].executor_log();
    assert!(log.contains(&format!("adapter {} fetched from", done.adapter_hash)), "validator 1 did not fetch the adapter:\n{log}");
    let operator1 = net.nodes[1].info.operator_address.clone();
    let vote1 = result.votes.iter().find(|v| v.validator == operator1).expect("validator 1's vote");
    assert!(vote1.agreed, "validator 1 answered with the fetched adapter and agreed: {vote1:?}");

    // The same prompt on the base model alone answers differently: the adapter changed the model.
    let base_id = request_inference(node, &chain, &url, None);
    let base = wait_done(&net, base_id, Duration::from_secs(60)).result.expect("base result");
    assert_ne!(base.output_hash, result.output_hash, "the fine-tuned adapter answers like the base model");
}

/// Carol asks base model 1 (with `adapter`, if any) to complete "open data is" through the CLI,
/// which waits for the agreed answer; returns the request id.
fn request_inference(node: &Node, chain: &str, url: &str, adapter: Option<u64>) -> u64 {
    let adapter = adapter.map(|a| a.to_string());
    let mut args =
        vec!["tx", "inference", "request", "--model", "1", "--prompt", "open data is", "--max-tokens", "8", "--fee", "5000uopen"];
    if let Some(a) = &adapter {
        args.extend(["--adapter", a.as_str()]);
    }
    args.extend(["--from", "carol", "--chain-id", chain, "--node", url, "--wait-seconds", "120"]);
    let printed = cli_text(node, &args);
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&printed).into_iter().collect::<Result<_, _>>().expect("CLI JSON");
    let answer = docs.last().expect("the CLI printed the answer");
    assert_eq!(answer["status"].as_str(), Some("completed"), "{printed}");
    answer["id"].as_str().expect("id").parse().expect("number")
}
