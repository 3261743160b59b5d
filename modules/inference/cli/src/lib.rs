//! CLI of the inference module: `tx inference request` (submits a paid request and waits until
//! the network agreed on the answer, then prints it), `tx inference register-executor` (with the
//! executor's hardware class, given or asked from its Health), and
//! `query inference params|request|pending|executors`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Subcommand;
use cosmos_sdk_proto::Any;
use openledger_core::coin::Coin;
use openledger_inference::msg as imsg;
use openledger_inference::state_key;
use openledger_proto::openledger::executor::v1 as epb;
use openledger_proto::openledger::inference::v1 as ipb;
use openledger_proto::openledger::model::v1 as mpb;
use prost::Message;
use serde_json::{json, Value};

use openledger_cli::{broadcast, broadcast_included, CommandGroup, ModuleCli, QueryFlags, TxFlags};

/// `tx inference` subcommands.
#[derive(Debug, Subcommand)]
pub enum InferenceTx {
    /// Pay for an inference and wait for the agreed answer.
    Request {
        /// Base model id.
        #[arg(long)]
        model: u64,
        /// Adapter id (0 = base model only).
        #[arg(long, default_value_t = 0)]
        adapter: u64,
        /// Prompt: the user's turn for a chat model (one with a chat template), else the raw text.
        #[arg(long)]
        prompt: String,
        /// System turn before the prompt (chat models only).
        #[arg(long)]
        system: Option<String>,
        /// Send the prompt as raw text even to a chat model (no chat template).
        #[arg(long)]
        raw: bool,
        /// Tokens to generate at most.
        #[arg(long, default_value_t = 32)]
        max_tokens: u32,
        /// Fee escrowed for the inference, e.g. 1000uopen (at least the model's price).
        #[arg(long)]
        fee: String,
        /// Seconds to wait for the result (0: do not wait).
        #[arg(long, default_value_t = 120)]
        wait_seconds: u64,
        /// Key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Declare the base models this validator's executor serves (empty list: none) and its
    /// hardware class (executors of one class give the same output bits).
    RegisterExecutor {
        /// Base model ids, comma separated.
        #[arg(long, default_value = "")]
        models: String,
        /// Hardware class to record (what the executor's Health reports, e.g. cpu-portable-v1; at
        /// most 64 bytes of printable ASCII). Without it and without --executor none is recorded.
        #[arg(long, conflicts_with = "executor")]
        hardware_class: Option<String>,
        /// URL of this validator's executor (e.g. http://127.0.0.1:50051): ask its Health for the
        /// hardware class and record that.
        #[arg(long)]
        executor: Option<String>,
        /// Key name of the validator operator.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `query inference` subcommands.
#[derive(Debug, Subcommand)]
pub enum InferenceQueryCmd {
    /// Module params (fee split, deadline, determinism profile).
    Params {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// A request and, when answered, its result with every executor's vote.
    Request {
        /// Request id.
        id: u64,
        /// Read the request and its result with ICS23 proofs and verify them against a header a
        /// light client verified (prints what was verified).
        #[arg(long)]
        prove: bool,
        /// Light-client trust anchor (with --prove).
        #[command(flatten)]
        trust: openledger_cli::prove::TrustFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Requests waiting for a result.
    Pending {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Executor registrations.
    Executors {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

fn query<Req: Message, Resp: Message + Default>(node: &str, height: i64, method: &str, req: &Req) -> anyhow::Result<Resp> {
    openledger_cli::query_proto(&QueryFlags { node: node.to_string(), height }, &format!("/openledger.inference.v1.Query/{method}"), req)
}

fn status_name(status: i32) -> &'static str {
    match ipb::RequestStatus::try_from(status) {
        Ok(ipb::RequestStatus::Pending) => "pending",
        Ok(ipb::RequestStatus::Completed) => "completed",
        Ok(ipb::RequestStatus::Expired) => "expired",
        _ => "unspecified",
    }
}

/// JSON of a request and its result.
pub fn request_json(request: &ipb::Request, result: Option<&ipb::Result>) -> Value {
    let mut out = json!({
        "id": request.id.to_string(),
        "status": status_name(request.status),
        "requester": request.requester,
        "base_model_id": request.base_model_id.to_string(),
        "adapter_id": request.adapter_id.to_string(),
        "prompt": request.prompt,
        "messages": request.messages.iter().map(|m| json!({"role": m.role, "content": m.content})).collect::<Vec<_>>(),
        "chat_template_hash": request.chat_template_hash,
        "max_tokens": request.max_tokens,
        "fee": request.fee.as_ref().map(|c| format!("{}{}", c.amount, c.denom)),
        "weights_hash": request.weights_hash,
        "adapter_hash": request.adapter_hash,
        "datanet_versions": request.datanet_versions.iter().map(|v| json!({"datanet_id": v.datanet_id.to_string(), "version": v.version.to_string()})).collect::<Vec<_>>(),
        "seed": request.seed.to_string(),
        "height": request.height.to_string(),
        "deadline": request.deadline.to_string(),
    });
    if let Some(r) = result {
        out["result"] = json!({
            "text": r.text,
            "token_count": r.tokens.len(),
            "output_hash": hex::encode(&r.output_hash),
            "height": r.height.to_string(),
            "extension_height": r.extension_height.to_string(),
            "agreeing_power": r.agreeing_power.to_string(),
            "eligible_power": r.eligible_power.to_string(),
            "paid_contributors": r.paid_contributors,
            "paid_owner": r.paid_owner,
            "paid_executors": r.paid_executors,
            "paid_community": r.paid_community,
            "slashed": r.slashed,
            // A validator that reported nothing in time is "absent", not a disagreement.
            "votes": r.votes.iter().map(|v| if v.output_hash.is_empty() {
                json!({"validator": v.validator, "power": v.power.to_string(), "vote": "absent"})
            } else {
                json!({
                    "validator": v.validator, "power": v.power.to_string(),
                    "vote": if v.agreed { "agreed" } else { "disagreed" }, "agreed": v.agreed,
                    "output_hash": hex::encode(&v.output_hash), "token_count": v.token_count,
                })
            }).collect::<Vec<_>>(),
        });
    }
    out
}

/// This node's own account of a request (node-local: what its executor did), for an expiry.
fn why_unanswered(node: &QueryFlags, id: u64) -> String {
    let local = openledger_cli::query_node_local(&node.node, &format!("/openledger/node/inference/{id}")).unwrap_or(Value::Null);
    match local["state"].as_str() {
        Some("failed") => format!("This node's executor could not run it: {}", local["error"].as_str().unwrap_or("unknown error")),
        Some("answered") => {
            "This node's executor answered it, but two thirds of the executors' power did not report the same output in time.".into()
        }
        Some("no_executor") => {
            "This node runs no executor; ask a node that does (query inference request ID --node …) for its reason.".into()
        }
        _ => "This node's executor never ran it (was it running?).".into(),
    }
}

/// Warns (stderr) when the adapter's files are not on this node's executor: executors fetch a
/// missing adapter from their peers when the request arrives, and if none holds it the request
/// expires and the fee is refunded.
fn warn_if_adapter_unavailable(node: &QueryFlags, adapter_id: u64) {
    let adapter: Option<mpb::Adapter> = openledger_cli::query_proto::<_, mpb::QueryAdapterResponse>(
        node,
        "/openledger.model.v1.Query/Adapter",
        &mpb::QueryAdapterRequest { adapter_id },
    )
    .ok()
    .and_then(|r| r.adapter);
    let Some(adapter) = adapter else { return };
    let local =
        openledger_cli::query_node_local(&node.node, &format!("/openledger/node/adapter/{}", adapter.adapter_hash)).unwrap_or(Value::Null);
    if local["held"] == Value::Bool(false) {
        eprintln!(
            "warning: this node's executor does not hold adapter {adapter_id} ({}). Executors fetch it from their peers when the \
             request arrives; if no executor holds it, the request expires and the fee is refunded.",
            adapter.adapter_hash
        );
    }
}

/// Request id from the included tx's `inference_request` event.
fn request_id_of(tx: &openledger_server::rpc_client::IndexedTx) -> anyhow::Result<u64> {
    tx.events
        .iter()
        .filter(|(kind, _)| kind == "inference_request")
        .flat_map(|(_, attrs)| attrs.iter())
        .find(|(k, _)| k == "request_id")
        .context("the tx has no inference_request event")?
        .1
        .parse()
        .context("request_id")
}

/// The hardware class the executor at `url` reports in its Health (said on stderr; empty, with a
/// warning, for an executor that predates the field).
fn executor_hardware_class(url: &str) -> anyhow::Result<String> {
    let health = openledger_node::inference::executor_health(url)?;
    if health.hardware_class.is_empty() {
        eprintln!("warning: the executor at {url} (version {}) reports no hardware class; registering without one", health.version);
    } else {
        eprintln!(
            "executor at {url} (version {}): hardware class {:?}, kernel path {:?}",
            health.version, health.hardware_class, health.kernel_path
        );
    }
    Ok(health.hardware_class)
}

/// Runs an inference tx command.
pub fn inference_tx(home: &Path, cmd: InferenceTx) -> anyhow::Result<()> {
    match cmd {
        InferenceTx::Request { model, adapter, prompt, system, raw, max_tokens, fee, wait_seconds, from, flags } => {
            let key = flags.signer(home, &from)?;
            let fee = Coin::parse(&fee)?;
            let node = QueryFlags { node: flags.node.clone(), height: 0 };
            let base: mpb::QueryBaseModelResponse = openledger_cli::query_proto(
                &node,
                "/openledger.model.v1.Query/BaseModel",
                &mpb::QueryBaseModelRequest { base_model_id: model },
            )?;
            let base = base.base_model.with_context(|| format!("base model {model} not found"))?;
            let chat = !raw && !base.chat_template_hash.is_empty();
            if system.is_some() && !chat {
                bail!("--system needs a chat model; base model {model} has no chat template (or --raw was given)");
            }
            if adapter != 0 {
                warn_if_adapter_unavailable(&node, adapter);
            }
            let messages = if chat {
                let mut turns: Vec<_> = system.into_iter().map(|c| epb::ChatMessage { role: "system".into(), content: c }).collect();
                turns.push(epb::ChatMessage { role: "user".into(), content: prompt.clone() });
                turns
            } else {
                Vec::new()
            };
            let msg = ipb::MsgRequestInference {
                requester: key.address().to_bech32(),
                base_model_id: model,
                adapter_id: adapter,
                prompt: if chat { String::new() } else { prompt },
                max_tokens,
                fee: Some(fee.to_proto()),
                messages,
            };
            let any = Any { type_url: imsg::MSG_REQUEST_INFERENCE.into(), value: msg.encode_to_vec() };
            let Some(included) = broadcast_included(&key, vec![any], &flags)? else { return Ok(()) };
            // The tx JSON printed above names the new request (`ids.request_id`).
            if wait_seconds == 0 {
                return Ok(());
            }
            let id = request_id_of(&included)?;
            eprintln!(
                "request {id} accepted at height {}{}; waiting for two thirds of the executors to agree…",
                included.height,
                if chat { " (chat, through the model's template)" } else { "" }
            );
            let deadline = Instant::now() + Duration::from_secs(wait_seconds);
            loop {
                let resp: ipb::QueryRequestResponse = query(&flags.node, 0, "Request", &ipb::QueryRequestRequest { id })?;
                let request = resp.request.context("missing request")?;
                if request.status != ipb::RequestStatus::Pending as i32 {
                    println!("{}", serde_json::to_string_pretty(&request_json(&request, resp.result.as_ref()))?);
                    if request.status == ipb::RequestStatus::Expired as i32 {
                        bail!(
                            "request {id} expired unanswered at height {}; its fee was refunded. {}",
                            request.deadline,
                            why_unanswered(&node, id)
                        );
                    }
                    return Ok(());
                }
                if Instant::now() > deadline {
                    bail!("request {id} still pending after {wait_seconds}s (deadline height {})", request.deadline);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        InferenceTx::RegisterExecutor { models, hardware_class, executor, from, flags } => {
            let key = flags.signer(home, &from)?;
            let ids = models
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<u64>().with_context(|| format!("bad model id {s:?}")))
                .collect::<anyhow::Result<Vec<u64>>>()?;
            let hardware_class = match (hardware_class, executor) {
                (Some(class), _) => class,
                (None, Some(url)) => executor_hardware_class(&url)?,
                (None, None) => String::new(),
            };
            let msg = ipb::MsgRegisterExecutor {
                validator: key.address().to_bech32_prefixed(openledger_core::address::VALOPER_PREFIX),
                base_model_ids: ids,
                hardware_class,
            };
            // The chain's own stateless check, so a bad class fails here with its reason.
            imsg::RegisterExecutor::check_stateless(&msg)?;
            broadcast(&key, vec![Any { type_url: imsg::MSG_REGISTER_EXECUTOR.into(), value: msg.encode_to_vec() }], &flags)
        }
    }
}

/// Runs an inference query command.
pub fn inference_query(cmd: InferenceQueryCmd) -> anyhow::Result<()> {
    let value = match cmd {
        InferenceQueryCmd::Params { flags } => {
            let r: ipb::QueryParamsResponse = query(&flags.node, flags.height, "Params", &ipb::QueryParamsRequest {})?;
            let p = r.params.unwrap_or_default();
            serde_json::to_value(openledger_inference::genesis::ParamsJson::from_params(&p))?
        }
        InferenceQueryCmd::Request { id, prove: true, trust, flags } => {
            let request = openledger_cli::prove::query_proven(&flags, &trust, "inference", &state_key::request(id))?;
            let bytes = match (request.value, &request.absence_unproven) {
                (Some(b), _) => b,
                (None, None) => bail!("request {id} does not exist (proven absent at height {})", request.height),
                (None, Some(why)) => bail!("request {id} does not exist at height {}; its absence cannot be proven: {why}", request.height),
            };
            let req = ipb::Request::decode(bytes.as_slice())?;
            // The result at the same height as the request.
            let at = QueryFlags { node: flags.node.clone(), height: i64::try_from(request.height)? };
            let result = openledger_cli::prove::query_proven(&at, &trust, "inference", &state_key::result(id))?;
            let res = result.value.as_deref().map(ipb::Result::decode).transpose()?;
            let mut value = request_json(&req, res.as_ref());
            value["verified"] = json!([request.report, result.report]);
            value
        }
        InferenceQueryCmd::Request { id, prove: false, flags, .. } => {
            let r: ipb::QueryRequestResponse = query(&flags.node, flags.height, "Request", &ipb::QueryRequestRequest { id })?;
            request_json(&r.request.unwrap_or_default(), r.result.as_ref())
        }
        InferenceQueryCmd::Pending { flags } => {
            let r: ipb::QueryPendingRequestsResponse =
                query(&flags.node, flags.height, "PendingRequests", &ipb::QueryPendingRequestsRequest { pagination: None })?;
            json!({"requests": r.requests.iter().map(|q| request_json(q, None)).collect::<Vec<_>>()})
        }
        InferenceQueryCmd::Executors { flags } => {
            let r: ipb::QueryExecutorsResponse = query(&flags.node, flags.height, "Executors", &ipb::QueryExecutorsRequest {})?;
            json!({"executors": r.executors.iter().map(|e| json!({
                "validator": e.validator,
                "base_model_ids": e.base_model_ids.iter().map(u64::to_string).collect::<Vec<_>>(),
                "registered_height": e.registered_height.to_string(),
                // "" when the registration declared none.
                "hardware_class": e.hardware_class,
            })).collect::<Vec<_>>()})
        }
    };
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// Inference's `tx` and `query` groups.
pub struct InferenceCli;

impl ModuleCli for InferenceCli {
    fn tx(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("inference", "Inference transactions (request, register-executor).", inference_tx)]
    }
    fn query(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("inference", "Inference queries.", |_, cmd| inference_query(cmd))]
    }
}
