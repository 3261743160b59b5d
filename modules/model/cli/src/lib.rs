//! The model registry's command line: `tx model register-base|register-adapter|set-price|
//! fine-tune` and `query model models|adapters|lineage|params|jobs|job …`. Txs go through
//! [`openledger_cli::broadcast`].

use std::path::Path;

use anyhow::bail;
use clap::Subcommand;
use openledger_core::coin::Coin;
use openledger_model::genesis::{AdapterJson, BaseModelJson, PinnedVersionJson};
use openledger_model::msg as mmsg;
use openledger_proto::openledger::model::v1 as mpb;
use prost::Message;
use serde_json::{json, Value};

use openledger_cli::{
    broadcast, broadcast_included, pack_any as any, page_json, query_proto, CommandGroup, ModuleCli, PageFlags, QueryFlags, TxFlags,
};

/// `tx model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelTx {
    /// Register base weights owned by --from.
    RegisterBase {
        /// Name.
        #[arg(long)]
        name: String,
        /// Architecture (llama, mistral, …).
        #[arg(long)]
        architecture: String,
        /// Hex SHA-256 of the weights.
        #[arg(long)]
        weights_hash: String,
        /// Hex SHA-256 of the tokenizer.
        #[arg(long)]
        tokenizer_hash: String,
        /// Hex SHA-256 of the model's chat template (what `open-executor list` reports as
        /// chat_template_hash); chat requests to the model are rendered with exactly that template.
        #[arg(long, default_value = "")]
        chat_template_hash: String,
        /// License.
        #[arg(long, default_value = "")]
        license: String,
        /// Inference price, e.g. 100uopen.
        #[arg(long)]
        price: Option<String>,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Register an adapter of a base model, pinning the datanet versions it was trained on.
    RegisterAdapter {
        /// Base model id.
        #[arg(long)]
        base_model: u64,
        /// Hex SHA-256 of the adapter weights.
        #[arg(long)]
        adapter_hash: String,
        /// Hex SHA-256 of the training configuration.
        #[arg(long)]
        training_config_hash: String,
        /// A pinned version as DATANET:VERSION (repeat).
        #[arg(long = "datanet-version", required = true)]
        datanet_versions: Vec<String>,
        /// Inference price, e.g. 100uopen.
        #[arg(long)]
        price: Option<String>,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Set the inference price of a base model or adapter you own.
    SetPrice {
        /// Price, e.g. 250uopen.
        price: String,
        /// Base model id.
        #[arg(long, conflicts_with = "adapter")]
        base_model: Option<u64>,
        /// Adapter id.
        #[arg(long)]
        adapter: Option<u64>,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
    /// Create a ModelFactory fine-tune job (LoRA) of a base model on a published datanet
    /// version; prints the job id. Unset training flags take the chain's defaults.
    FineTune {
        /// Base model id.
        #[arg(long)]
        base_model: u64,
        /// Datanet id.
        #[arg(long)]
        datanet: u64,
        /// Published version of the datanet.
        #[arg(long)]
        version: u64,
        /// LoRA rank (default 8).
        #[arg(long)]
        rank: Option<u32>,
        /// lora_alpha (default 2 x rank).
        #[arg(long)]
        alpha: Option<u32>,
        /// Projections to adapt, comma separated (default q_proj,v_proj).
        #[arg(long, value_delimiter = ',')]
        target_modules: Vec<String>,
        /// Learning rate as a decimal, e.g. 0.001 or 1e-3 (default 0.001; stored x 10^6).
        #[arg(long)]
        learning_rate: Option<String>,
        /// Epochs (default 1).
        #[arg(long)]
        epochs: Option<u32>,
        /// Optimizer steps at most (default: the epochs decide).
        #[arg(long)]
        max_steps: Option<u32>,
        /// Rows per step (default 4).
        #[arg(long)]
        batch_size: Option<u32>,
        /// Seed (default: derived from chain data).
        #[arg(long)]
        seed: Option<u64>,
        /// Held-out share of rows for the eval loss, a fraction (default 0.1).
        #[arg(long)]
        eval_split: Option<String>,
        /// Tokens per row at most (default 128).
        #[arg(long)]
        max_seq_len: Option<u32>,
        /// Fee escrowed for the job, e.g. 1000uopen (at least the params' min_fee).
        #[arg(long)]
        fee: String,
        /// Seconds to follow the job until it is decided (0: print the id and return).
        #[arg(long, default_value_t = 0)]
        wait_seconds: u64,
        /// Signing key name.
        #[arg(long)]
        from: String,
        /// Tx flags.
        #[command(flatten)]
        flags: TxFlags,
    },
}

/// `query model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelQueryCmd {
    /// Base models (one with --id).
    Models {
        /// Base model id.
        #[arg(long)]
        id: Option<u64>,
        /// Paging.
        #[command(flatten)]
        page: PageFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Adapters: one (--id), of a base model (--model), an owner (--owner), a datanet (--datanet
    /// [--version]), or all.
    Adapters {
        /// Adapter id.
        #[arg(long)]
        id: Option<u64>,
        /// Base model id.
        #[arg(long)]
        model: Option<u64>,
        /// Owner address.
        #[arg(long)]
        owner: Option<String>,
        /// Datanet id.
        #[arg(long)]
        datanet: Option<u64>,
        /// Datanet version (with --datanet; 0 = any).
        #[arg(long, default_value_t = 0)]
        version: u64,
        /// Paging.
        #[command(flatten)]
        page: PageFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// An adapter's lineage: base weights and the datanet versions it was trained on.
    Lineage {
        /// Adapter id.
        adapter_id: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// The fine-tuning params.
    Params {
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// One fine-tune job.
    Job {
        /// Job id.
        job_id: u64,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
    /// Fine-tune jobs, optionally one status (queued, running, attested, failed, expired) and/or
    /// one creator's.
    Jobs {
        /// Status.
        #[arg(long)]
        status: Option<String>,
        /// Creator address.
        #[arg(long)]
        creator: Option<String>,
        /// Paging.
        #[command(flatten)]
        page: PageFlags,
        /// Query flags.
        #[command(flatten)]
        flags: QueryFlags,
    },
}

/// A decimal (`0.001`, `1e-3`) times `10^digits`, as an exact integer (no floats): the CLI's
/// conversion of learning rates (digits 6) and eval splits (digits 4) into the chain's integer
/// fields.
pub fn scaled(text: &str, digits: u32, what: &str) -> anyhow::Result<u32> {
    let bad = || anyhow::anyhow!("{what} must be a non-negative decimal such as 0.001 or 1e-3, got {text:?}");
    let t = text.trim();
    let (mantissa, exponent) = match t.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| bad())?),
        None => (t, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() || !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let digits_all = format!("{whole}{fraction}");
    let mut n: u128 = digits_all.trim_start_matches('0').parse().unwrap_or(0);
    let fraction_len = i32::try_from(fraction.len()).map_err(|_| bad())?;
    let shift = i32::try_from(digits).map_err(|_| bad())? + exponent - fraction_len;
    if shift >= 0 {
        for _ in 0..shift {
            n = n.checked_mul(10).ok_or_else(|| anyhow::anyhow!("{what} {text} is out of range"))?;
        }
    } else {
        for _ in 0..(-shift) {
            if !n.is_multiple_of(10) {
                bail!("{what} {text} has more precision than 1e-{digits}");
            }
            n /= 10;
        }
    }
    u32::try_from(n).map_err(|_| anyhow::anyhow!("{what} {text} is out of range"))
}

/// A job status by name.
pub fn job_status(name: &str) -> anyhow::Result<mpb::JobStatus> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "queued" => mpb::JobStatus::Queued,
        "running" => mpb::JobStatus::Running,
        "attested" => mpb::JobStatus::Attested,
        "failed" => mpb::JobStatus::Failed,
        "expired" => mpb::JobStatus::Expired,
        other => bail!("unknown job status {other:?} (queued, running, attested, failed, expired)"),
    })
}

fn job_json(job: &mpb::FineTuneJob) -> anyhow::Result<Value> {
    let mut v = openledger_proto::json::to_json("openledger.model.v1.FineTuneJob", job).map_err(|e| anyhow::anyhow!(e))?;
    v["config_hash_hex"] = json!(hex::encode(&job.config_hash));
    v["merkle_root_hex"] = json!(hex::encode(&job.merkle_root));
    if !job.training_log_hash.is_empty() {
        v["training_log_hash_hex"] = json!(hex::encode(&job.training_log_hash));
        v["eval_loss"] = json!(f32::from_bits(job.eval_loss_bits));
    }
    Ok(v)
}

fn query<Req: Message, Resp: Message + Default>(flags: &QueryFlags, method: &str, req: &Req) -> anyhow::Result<Resp> {
    query_proto(flags, &format!("/openledger.model.v1.Query/{method}"), req)
}

use openledger_cli::print_json as print;

fn price(text: Option<&str>) -> anyhow::Result<Option<cosmos_sdk_proto::cosmos::base::v1beta1::Coin>> {
    text.map(|t| Coin::parse(t).map(|c| c.to_proto()).map_err(Into::into)).transpose()
}

/// Runs `tx model …`.
pub fn model_tx(home: &Path, cmd: ModelTx) -> anyhow::Result<()> {
    match cmd {
        ModelTx::RegisterBase { name, architecture, weights_hash, tokenizer_hash, chat_template_hash, license, price: p, from, flags } => {
            let key = flags.signer(home, &from)?;
            let msg = mpb::MsgRegisterBaseModel {
                owner: key.address().to_bech32(),
                name,
                architecture,
                weights_hash,
                tokenizer_hash,
                license,
                inference_price: price(p.as_deref())?,
                chat_template_hash,
            };
            broadcast(&key, vec![any(mmsg::MSG_REGISTER_BASE_MODEL, msg)], &flags)
        }
        ModelTx::RegisterAdapter { base_model, adapter_hash, training_config_hash, datanet_versions, price: p, from, flags } => {
            let key = flags.signer(home, &from)?;
            let pins = datanet_versions
                .iter()
                .map(|s| {
                    let (d, v) = s.split_once(':').ok_or_else(|| anyhow::anyhow!("--datanet-version must be DATANET:VERSION, got {s}"))?;
                    Ok(mpb::DatanetVersionRef { datanet_id: d.parse()?, version: v.parse()? })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let msg = mpb::MsgRegisterAdapter {
                owner: key.address().to_bech32(),
                base_model_id: base_model,
                adapter_hash,
                datanet_versions: pins,
                training_config_hash,
                inference_price: price(p.as_deref())?,
            };
            broadcast(&key, vec![any(mmsg::MSG_REGISTER_ADAPTER, msg)], &flags)
        }
        ModelTx::SetPrice { price: p, base_model, adapter, from, flags } => {
            let key = flags.signer(home, &from)?;
            let msg = mpb::MsgSetInferencePrice {
                owner: key.address().to_bech32(),
                base_model_id: base_model.unwrap_or(0),
                adapter_id: adapter.unwrap_or(0),
                inference_price: price(Some(&p))?,
            };
            broadcast(&key, vec![any(mmsg::MSG_SET_INFERENCE_PRICE, msg)], &flags)
        }
        ModelTx::FineTune {
            base_model,
            datanet,
            version,
            rank,
            alpha,
            target_modules,
            learning_rate,
            epochs,
            max_steps,
            batch_size,
            seed,
            eval_split,
            max_seq_len,
            fee,
            wait_seconds,
            from,
            flags,
        } => {
            let key = flags.signer(home, &from)?;
            let any_setting = rank.is_some()
                || alpha.is_some()
                || !target_modules.is_empty()
                || learning_rate.is_some()
                || epochs.is_some()
                || max_steps.is_some()
                || batch_size.is_some()
                || seed.is_some()
                || eval_split.is_some()
                || max_seq_len.is_some();
            let config = if any_setting {
                Some(openledger_proto::openledger::executor::v1::TrainConfig {
                    rank: rank.unwrap_or(openledger_model::finetune::DEFAULT_RANK),
                    alpha: alpha.unwrap_or(0),
                    target_modules,
                    learning_rate_micro: learning_rate.map(|t| scaled(&t, 6, "--learning-rate")).transpose()?.unwrap_or(0),
                    epochs: epochs.unwrap_or(0),
                    max_steps: max_steps.unwrap_or(0),
                    batch_size: batch_size.unwrap_or(0),
                    seed: seed.unwrap_or(0),
                    eval_split_bps: eval_split.map(|t| scaled(&t, 4, "--eval-split")).transpose()?.unwrap_or(0),
                    max_seq_len: max_seq_len.unwrap_or(0),
                })
            } else {
                None
            };
            let msg = mpb::MsgCreateFineTuneJob {
                creator: key.address().to_bech32(),
                base_model_id: base_model,
                datanet_id: datanet,
                datanet_version: version,
                config,
                fee: Some(Coin::parse(&fee)?.to_proto()),
            };
            let Some(included) = broadcast_included(&key, vec![any(mmsg::MSG_CREATE_FINE_TUNE_JOB, msg)], &flags)? else { return Ok(()) };
            let job_id: u64 = included
                .events
                .iter()
                .filter(|(kind, _)| kind == "fine_tune_job_created")
                .flat_map(|(_, attrs)| attrs.iter())
                .find(|(k, _)| k == "job_id")
                .ok_or_else(|| anyhow::anyhow!("the tx has no fine_tune_job_created event"))?
                .1
                .parse()?;
            println!("{}", serde_json::to_string_pretty(&json!({"job_id": job_id.to_string(), "height": included.height}))?);
            if wait_seconds == 0 {
                return Ok(());
            }
            follow_job(&flags.node, job_id, wait_seconds)
        }
    }
}

/// Prints a job's status changes until it is decided or `wait_seconds` pass.
fn follow_job(node: &str, job_id: u64, wait_seconds: u64) -> anyhow::Result<()> {
    let flags = QueryFlags { node: node.to_string(), height: 0 };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait_seconds);
    let mut last = -1;
    loop {
        let r: mpb::QueryFineTuneJobResponse = query(&flags, "FineTuneJob", &mpb::QueryFineTuneJobRequest { job_id })?;
        let job = r.job.unwrap_or_default();
        if job.status != last {
            last = job.status;
            let name = mpb::JobStatus::try_from(job.status).map(|s| s.as_str_name()).unwrap_or("?");
            eprintln!("job {job_id}: {name}");
        }
        let decided = job.status != mpb::JobStatus::Queued as i32 && job.status != mpb::JobStatus::Running as i32;
        if decided {
            print(&job_json(&job)?)?;
            if job.status != mpb::JobStatus::Attested as i32 {
                bail!("job {job_id} was not attested: {}", job.failure_reason);
            }
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!("job {job_id} still undecided after {wait_seconds}s (deadline height {})", job.deadline_height);
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

fn to_json<T: serde::Serialize>(v: T) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(v)?)
}

/// Runs `query model …`.
pub fn model_query(cmd: ModelQueryCmd) -> anyhow::Result<()> {
    let adapters_json = |list: &[mpb::Adapter]| list.iter().map(|a| to_json(AdapterJson::from(a))).collect::<anyhow::Result<Vec<_>>>();
    match cmd {
        ModelQueryCmd::Models { id: Some(id), flags, .. } => {
            let r: mpb::QueryBaseModelResponse = query(&flags, "BaseModel", &mpb::QueryBaseModelRequest { base_model_id: id })?;
            print(&json!({"base_model": to_json(r.base_model.as_ref().map(BaseModelJson::from))?}))
        }
        ModelQueryCmd::Models { id: None, page, flags } => {
            let r: mpb::QueryBaseModelsResponse = query(&flags, "BaseModels", &mpb::QueryBaseModelsRequest { pagination: page.request() })?;
            let list = r.base_models.iter().map(|m| to_json(BaseModelJson::from(m))).collect::<anyhow::Result<Vec<_>>>()?;
            print(&json!({"base_models": list, "pagination": page_json(r.pagination.as_ref())}))
        }
        ModelQueryCmd::Adapters { id: Some(id), flags, .. } => {
            let r: mpb::QueryAdapterResponse = query(&flags, "Adapter", &mpb::QueryAdapterRequest { adapter_id: id })?;
            print(&json!({"adapter": to_json(r.adapter.as_ref().map(AdapterJson::from))?}))
        }
        ModelQueryCmd::Adapters { id: None, model, owner, datanet, version, page, flags } => {
            let r: mpb::QueryAdaptersResponse = match (model, owner, datanet) {
                (Some(base_model_id), None, None) => {
                    query(&flags, "AdaptersByModel", &mpb::QueryAdaptersByModelRequest { base_model_id, pagination: page.request() })?
                }
                (None, Some(owner), None) => {
                    query(&flags, "AdaptersByOwner", &mpb::QueryAdaptersByOwnerRequest { owner, pagination: page.request() })?
                }
                (None, None, Some(datanet_id)) => query(
                    &flags,
                    "AdaptersByDatanet",
                    &mpb::QueryAdaptersByDatanetRequest { datanet_id, version, pagination: page.request() },
                )?,
                (None, None, None) => query(&flags, "Adapters", &mpb::QueryAdaptersRequest { pagination: page.request() })?,
                _ => bail!("pass at most one of --model, --owner, --datanet"),
            };
            print(&json!({"adapters": adapters_json(&r.adapters)?, "pagination": page_json(r.pagination.as_ref())}))
        }
        ModelQueryCmd::Lineage { adapter_id, flags } => {
            let r: mpb::QueryLineageResponse = query(&flags, "Lineage", &mpb::QueryLineageRequest { adapter_id })?;
            let l = r.lineage.unwrap_or_default();
            let versions: Vec<Value> = l
                .datanet_versions
                .iter()
                .map(|p| {
                    let mut j = to_json(PinnedVersionJson::from(p))?;
                    j["merkle_root_hex"] = json!(hex::encode(&p.merkle_root));
                    Ok(j)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            print(&json!({
                "adapter": to_json(l.adapter.as_ref().map(AdapterJson::from))?,
                "base_model": to_json(l.base_model.as_ref().map(BaseModelJson::from))?,
                "datanet_versions": versions,
            }))
        }
        ModelQueryCmd::Params { flags } => {
            let r: mpb::QueryParamsResponse = query(&flags, "Params", &mpb::QueryParamsRequest {})?;
            let p = r.params.unwrap_or_default();
            print(&openledger_proto::json::to_json("openledger.model.v1.FineTuneParams", &p).map_err(|e| anyhow::anyhow!(e))?)
        }
        ModelQueryCmd::Job { job_id, flags } => {
            let r: mpb::QueryFineTuneJobResponse = query(&flags, "FineTuneJob", &mpb::QueryFineTuneJobRequest { job_id })?;
            print(&json!({"job": r.job.as_ref().map(job_json).transpose()?}))
        }
        ModelQueryCmd::Jobs { status, creator, page, flags } => {
            let status = status.as_deref().map(job_status).transpose()?.map(|s| s as i32).unwrap_or(0);
            let req = mpb::QueryFineTuneJobsRequest { pagination: page.request(), status, creator: creator.unwrap_or_default() };
            let r: mpb::QueryFineTuneJobsResponse = query(&flags, "FineTuneJobs", &req)?;
            let jobs = r.jobs.iter().map(job_json).collect::<anyhow::Result<Vec<_>>>()?;
            print(&json!({"jobs": jobs, "pagination": page_json(r.pagination.as_ref())}))
        }
    }
}

/// The model registry's `tx` and `query` groups.
pub struct ModelCli;

impl ModuleCli for ModelCli {
    fn tx(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("model", "Model registry transactions.", model_tx)]
    }
    fn query(&self) -> Vec<CommandGroup> {
        vec![CommandGroup::new("model", "Model registry queries.", |_, cmd| model_query(cmd))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_scale_exactly() {
        assert_eq!(scaled("0.001", 6, "lr").unwrap(), 1_000);
        assert_eq!(scaled("1e-3", 6, "lr").unwrap(), 1_000);
        assert_eq!(scaled("2E-4", 6, "lr").unwrap(), 200);
        assert_eq!(scaled("0.0002", 6, "lr").unwrap(), 200);
        assert_eq!(scaled(".5", 6, "lr").unwrap(), 500_000);
        assert_eq!(scaled("1", 6, "lr").unwrap(), 1_000_000);
        assert_eq!(scaled("0.1", 4, "split").unwrap(), 1_000);
        assert_eq!(scaled("0.10000", 4, "split").unwrap(), 1_000);
        assert!(scaled("0.0000001", 6, "lr").is_err());
        assert!(scaled("-1", 4, "split").is_err());
        assert!(scaled("x", 4, "split").is_err());
        assert!(scaled(".", 4, "split").is_err());
        assert!(scaled("1e30", 4, "split").is_err());
        assert_eq!(job_status("Attested").unwrap(), mpb::JobStatus::Attested);
        assert!(job_status("done").is_err());
    }
}
