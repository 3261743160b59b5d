//! `openledgerd demo`: seeds a local chain with the product's whole loop, so a newcomer's
//! `make run` answers in the Playground at once. Through ordinary signed txs (nothing is written
//! into state behind the chain's back) it:
//!
//! 1. creates two contributor keys (`demo-ada`, `demo-lin`) in the node's keyring and funds them
//!    from the dev account;
//! 2. creates the JSON datanet "Open data basics" (prompt/completion rows), has both
//!    contributors submit their rows (`localnet/demo/open-data.txt`, compiled in), accepts them
//!    as the owner and publishes version 1 (the chain indexes it for Proof of Attribution);
//! 3. waits until this validator's executor answers (on a first `make run` it may still be
//!    compiling), re-registers it with the hardware class its Health reports (genesis registered
//!    it before it ran, without one), then starts a ModelFactory fine-tune of base model 1 on that version, which the
//!    validators train and attest; the adapter it registers is pinned to the datanet version, so
//!    inferences on it pay the contributors.
//!
//! What it made is saved in `$OPEN_HOME/demo.json`; a second run finds it and does nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use cosmos_sdk_proto::cosmos::bank::v1beta1::MsgSend;
use cosmos_sdk_proto::Any;
use openledger_cli::keys::{AccountKey, Keyring};
use openledger_cli::{broadcast_included, QueryFlags, TxFlags};
use openledger_core::coin::{Coin, BASE_DENOM};
use openledger_proto::openledger::datanet::v1 as dpb;
use openledger_proto::openledger::executor::v1 as epb;
use openledger_proto::openledger::inference::v1 as ipb;
use openledger_proto::openledger::model::v1 as mpb;
use openledger_server::rpc_client::{CometRpc, IndexedTx};
use prost::Message;
use serde_json::{json, Value};

/// The demo datanet's rows (JSON prompt/completion pairs): `@name` lines switch the
/// contributor, `# ` lines are comments.
const ROWS: &str = include_str!("../../../localnet/demo/open-data.txt");
/// What each demo contributor is funded with (100 OPEN).
const CONTRIBUTOR_FUNDS_UOPEN: u128 = 100_000_000;
/// Name of the demo datanet.
pub const DEMO_DATANET: &str = "Open data basics";

/// `demo` flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// CometBFT RPC of the node.
    #[arg(long, default_value = "http://127.0.0.1:26657")]
    pub node: String,
    /// Key that owns the datanet and pays for the fine-tune (the dev account of `init`).
    #[arg(long, default_value = "dev")]
    pub from: String,
    /// Base model to fine-tune.
    #[arg(long, default_value_t = 1)]
    pub base_model: u64,
    /// How long to wait for this validator's executor (it may still be building), seconds.
    #[arg(long, default_value_t = 3600)]
    pub executor_wait_seconds: u64,
    /// How long to wait for the fine-tune to be attested, seconds.
    #[arg(long, default_value_t = 1800)]
    pub train_wait_seconds: u64,
    /// Optimizer steps of the demo fine-tune.
    #[arg(long, default_value_t = 30)]
    pub train_steps: u32,
    /// Skip the fine-tune (datanet only).
    #[arg(long)]
    pub no_fine_tune: bool,
}

/// Contributors and their rows, in file order.
pub fn demo_rows() -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in ROWS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix('@') {
            out.push((format!("demo-{name}"), Vec::new()));
        } else if let Some((_, rows)) = out.last_mut() {
            rows.push(line.to_string());
        }
    }
    out
}

fn say(msg: impl AsRef<str>) {
    eprintln!("demo: {}", msg.as_ref());
}

fn flags(node: &str) -> TxFlags {
    TxFlags {
        node: node.to_string(),
        chain_id: None,
        fees: None,
        gas: "auto".into(),
        gas_adjustment: "1.5".into(),
        memo: String::new(),
        sign_mode: "direct".into(),
        no_wait: false,
        keyring: Default::default(),
    }
}

fn any(type_url: &str, msg: impl Message) -> Any {
    Any { type_url: type_url.to_string(), value: msg.encode_to_vec() }
}

/// Sends `msgs` signed by `key` and waits for its block (the tx JSON goes to stdout, the demo's own lines to stderr).
fn send(key: &AccountKey, node: &str, msgs: Vec<Any>) -> anyhow::Result<IndexedTx> {
    let included = broadcast_included(key, msgs, &flags(node))?;
    included.context("tx not included")
}

fn id_of(tx: &IndexedTx, key: &str) -> anyhow::Result<u64> {
    openledger_cli::ids_of(&tx.events)
        .get(key)
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("the tx has no {key} event attribute"))
}

fn query<Req: Message, Resp: Message + Default>(node: &str, path: &str, req: &Req) -> anyhow::Result<Resp> {
    openledger_cli::query_proto(&QueryFlags { node: node.to_string(), height: 0 }, path, req)
}

fn wait_for_blocks(rpc: &CometRpc) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let height =
            rpc.status().ok().and_then(|s| s["sync_info"]["latest_block_height"].as_str().and_then(|h| h.parse::<u64>().ok())).unwrap_or(0);
        if height >= 1 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the chain made no block within 120 s");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Whether this validator's executor answers (asked through the node's local adapter probe).
fn executor_state(node: &str) -> anyhow::Result<Value> {
    openledger_cli::query_node_local(node, &format!("/openledger/node/adapter/{}", "0".repeat(64)))
}

/// `openledgerd demo`.
pub fn cmd_demo(home: &Path, args: &DemoArgs) -> anyhow::Result<()> {
    let marker = home.join("demo.json");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        say(format!("already seeded ({}): {}", marker.display(), text.trim()));
        return Ok(());
    }
    let rpc = CometRpc::new(&args.node);
    wait_for_blocks(&rpc)?;
    let ring = Keyring::new(home);
    let owner = ring.signer(&args.from).with_context(|| format!("key {:?} (the dev account of `openledgerd init`)", args.from))?;

    // 1. Contributors.
    let groups = demo_rows();
    let mut contributors = Vec::new();
    for (name, _) in &groups {
        if ring.get(name).is_err() {
            ring.add(name, &AccountKey::generate_mnemonic())?;
        }
        contributors.push(ring.signer(name)?);
    }
    let funding = contributors
        .iter()
        .map(|c| {
            any(
                "/cosmos.bank.v1beta1.MsgSend",
                MsgSend {
                    from_address: owner.address().to_bech32(),
                    to_address: c.address().to_bech32(),
                    amount: vec![Coin::new(BASE_DENOM, CONTRIBUTOR_FUNDS_UOPEN).to_proto()],
                },
            )
        })
        .collect();
    send(&owner, &args.node, funding)?;
    say(format!("funded {} contributors: {}", contributors.len(), groups.iter().map(|g| g.0.as_str()).collect::<Vec<_>>().join(", ")));

    // 2. The datanet, its contributions, their review and version 1.
    let created = send(
        &owner,
        &args.node,
        vec![any(
            openledger_datanet::msg::MSG_CREATE_DATANET,
            dpb::MsgCreateDatanet {
                owner: owner.address().to_bech32(),
                name: DEMO_DATANET.into(),
                description:
                    "Short, plain statements about open data and about how OpenLedger pays data contributors. Seeded by `openledgerd demo`."
                        .into(),
                license: "CC-BY-4.0".into(),
                schema: Some(dpb::RowSchema {
                    kind: dpb::SchemaKind::Json as i32,
                    required_fields: vec!["prompt".into(), "completion".into()],
                }),
                policy: Some(dpb::CurationPolicy {
                    mode: dpb::CurationMode::OwnerReview as i32,
                    curators: vec![],
                    contribution_bond: Some(Coin::new(BASE_DENOM, 0).to_proto()),
                    reject_burn_bps: 0,
                    max_row_bytes: 4096,
                }),
            },
        )],
    )?;
    let datanet_id = id_of(&created, "datanet_id")?;
    say(format!("created datanet {datanet_id} \"{DEMO_DATANET}\""));
    for ((name, rows), key) in groups.iter().zip(&contributors) {
        let submitted = send(
            key,
            &args.node,
            vec![any(
                openledger_datanet::msg::MSG_SUBMIT_CONTRIBUTION,
                dpb::MsgSubmitContribution {
                    contributor: key.address().to_bech32(),
                    datanet_id,
                    rows: rows.iter().map(|r| r.as_bytes().to_vec()).collect(),
                    bond: Some(Coin::new(BASE_DENOM, 0).to_proto()),
                },
            )],
        )?;
        let contribution_id = id_of(&submitted, "contribution_id")?;
        send(
            &owner,
            &args.node,
            vec![any(
                openledger_datanet::msg::MSG_REVIEW_CONTRIBUTION,
                dpb::MsgReviewContribution {
                    reviewer: owner.address().to_bech32(),
                    datanet_id,
                    contribution_id,
                    accept: true,
                    reason: String::new(),
                },
            )],
        )?;
        say(format!("{name} contributed {} rows (contribution {contribution_id}, accepted)", rows.len()));
    }
    let published = send(
        &owner,
        &args.node,
        vec![any(openledger_datanet::msg::MSG_PUBLISH_VERSION, dpb::MsgPublishVersion { owner: owner.address().to_bech32(), datanet_id })],
    )?;
    let version = id_of(&published, "version")?;
    say(format!("published datanet {datanet_id} version {version}"));
    let mut seeded = json!({
        "datanet_id": datanet_id.to_string(),
        "version": version.to_string(),
        "contributors": groups.iter().zip(&contributors).map(|((n, _), k)| json!({"key": n, "address": k.address().to_bech32()})).collect::<Vec<_>>(),
    });

    // 3. The fine-tune, once the executor answers.
    if !args.no_fine_tune {
        let executor = wait_for_executor(args)?;
        // Informational: a failure here does not stop the demo.
        if let Err(e) = record_hardware_class(&args.node, &owner, &executor) {
            say(format!("could not record the executor's hardware class: {e:#}"));
        }
        let adapter_id = fine_tune(args, &owner, datanet_id, version)?;
        seeded["adapter_id"] = json!(adapter_id.to_string());
        seeded["base_model_id"] = json!(args.base_model.to_string());
    }
    openledger_cli::keys::write_private_file(&marker, serde_json::to_string_pretty(&seeded)?.as_bytes())?;
    say(format!("ready: {seeded}"));
    Ok(())
}

/// Waits until this validator's executor answers; returns its URL.
fn wait_for_executor(args: &DemoArgs) -> anyhow::Result<String> {
    let started = Instant::now();
    let mut said_waiting = false;
    loop {
        let state = executor_state(&args.node)?;
        let Some(url) = state["executor"].as_str() else {
            bail!("this node runs no executor (executor_addr is empty in app.toml): nothing can train the demo adapter");
        };
        if state["held"].is_boolean() {
            return Ok(url.to_string());
        }
        if !said_waiting {
            say(format!(
                "waiting for this validator's executor at {} (a first `make run` is still building it) before the fine-tune…",
                state["executor"].as_str().unwrap_or("?")
            ));
            said_waiting = true;
        }
        if started.elapsed() > Duration::from_secs(args.executor_wait_seconds) {
            bail!("the executor did not answer within {} s: {}", args.executor_wait_seconds, state["error"]);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Re-registers `owner`'s validator (the dev account is the operator) for the models it serves,
/// now with the hardware class its executor at `executor` reports, so operators see what runs.
/// Nothing to do when it is not registered or already records that class.
fn record_hardware_class(node: &str, owner: &AccountKey, executor: &str) -> anyhow::Result<()> {
    let class = openledger_node::inference::executor_health(executor)?.hardware_class;
    let operator = owner.address().to_bech32_prefixed(openledger_core::address::VALOPER_PREFIX);
    let registered: ipb::QueryExecutorsResponse = query(node, "/openledger.inference.v1.Query/Executors", &ipb::QueryExecutorsRequest {})?;
    let Some(mine) = registered.executors.into_iter().find(|e| e.validator == operator) else {
        say(format!("{operator} is not registered as an executor; hardware class {class:?} not recorded"));
        return Ok(());
    };
    if class.is_empty() || mine.hardware_class == class {
        return Ok(());
    }
    let msg = ipb::MsgRegisterExecutor { validator: operator, base_model_ids: mine.base_model_ids, hardware_class: class.clone() };
    send(owner, node, vec![any(openledger_inference::msg::MSG_REGISTER_EXECUTOR, msg)])?;
    say(format!("executor registered with hardware class {class:?}"));
    Ok(())
}

/// Creates the fine-tune job and waits for its attested adapter.
fn fine_tune(args: &DemoArgs, owner: &AccountKey, datanet_id: u64, version: u64) -> anyhow::Result<u64> {
    let params: mpb::QueryParamsResponse = query(&args.node, "/openledger.model.v1.Query/Params", &mpb::QueryParamsRequest {})?;
    let fee = params.params.and_then(|p| p.min_fee).context("fine-tune params lack min_fee")?;
    // Enough passes over twelve short answers for SmolLM2-135M to learn them word for word
    // (about a minute on 2 CPU cores), so the adapter's answers match the rows and Proof of
    // Attribution pays their contributors.
    let config = epb::TrainConfig {
        rank: 8,
        learning_rate_micro: 5_000,
        epochs: 10,
        max_steps: args.train_steps,
        batch_size: 4,
        max_seq_len: 64,
        eval_split_bps: 500,
        ..Default::default()
    };
    let created = send(
        owner,
        &args.node,
        vec![any(
            openledger_model::msg::MSG_CREATE_FINE_TUNE_JOB,
            mpb::MsgCreateFineTuneJob {
                creator: owner.address().to_bech32(),
                base_model_id: args.base_model,
                datanet_id,
                datanet_version: version,
                config: Some(config),
                fee: Some(fee.clone()),
            },
        )],
    )?;
    let job_id = id_of(&created, "job_id")?;
    say(format!(
        "fine-tune job {job_id} created (base model {}, datanet {datanet_id} v{version}, {} steps, fee {}{}); the validators train it now…",
        args.base_model, args.train_steps, fee.amount, fee.denom
    ));
    let deadline = Instant::now() + Duration::from_secs(args.train_wait_seconds);
    let mut last_status = -1;
    loop {
        let r: mpb::QueryFineTuneJobResponse =
            query(&args.node, "/openledger.model.v1.Query/FineTuneJob", &mpb::QueryFineTuneJobRequest { job_id })?;
        let job = r.job.context("job vanished")?;
        if job.status != last_status {
            last_status = job.status;
            let name = mpb::JobStatus::try_from(job.status).map(|s| s.as_str_name()).unwrap_or("?");
            say(format!("job {job_id}: {name}"));
        }
        match mpb::JobStatus::try_from(job.status) {
            Ok(mpb::JobStatus::Attested) => {
                say(format!("adapter {} registered (pinned to datanet {datanet_id} v{version})", job.adapter_id));
                return Ok(job.adapter_id);
            }
            Ok(mpb::JobStatus::Failed) | Ok(mpb::JobStatus::Expired) => bail!("fine-tune job {job_id} ended {:?}", job),
            _ => {}
        }
        if Instant::now() > deadline {
            bail!("fine-tune job {job_id} not attested within {} s", args.train_wait_seconds);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_rows_have_two_contributors_and_fit_a_row() {
        let groups = demo_rows();
        assert_eq!(groups.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(), ["demo-ada", "demo-lin"]);
        for (_, rows) in &groups {
            assert!(rows.len() >= 5);
            for row in rows {
                let v: serde_json::Value = serde_json::from_str(row).expect("a JSON row");
                assert!(v["prompt"].is_string() && v["completion"].is_string(), "{row}");
                assert!(row.len() <= 4096);
            }
        }
    }
}
