//! `open-executor`: serve the executor over loopback gRPC, or run one request from the shell.
//!
//! ```text
//! open-executor serve --model ~/.cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf
//! open-executor run --model DIR_OR_GGUF --prompt "Hello" [--adapter DIR] [--max-tokens 32]
//! open-executor hash PATH
//! open-executor merge --model DIR --adapter DIR --out DIR
//! open-executor fixture llama --out DIR | fixture adapter --model DIR --out DIR
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use open_executor::executor::{BaseEngine, ExecuteParams, Executor, ExecutorConfig, Limits};
use open_executor::profile::{ComputeDType, DeterminismProfile, SamplingMode};
use open_executor::{fixtures, hashing, lora, service, source, ExecutorError, Result};

#[derive(Parser)]
#[command(name = "open-executor", version, about = "OpenLedger inference executor (mistral.rs + OpenLoRA)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the gRPC service on loopback.
    Serve(ServeArgs),
    /// Run one request and print the result.
    Run(RunArgs),
    /// Print the content hash of a model (GGUF file or directory) or adapter directory.
    Hash {
        /// Path.
        path: PathBuf,
    },
    /// Merge an adapter into a copy of a safetensors model.
    Merge {
        /// Base model directory.
        #[arg(long)]
        model: PathBuf,
        /// PEFT adapter directory.
        #[arg(long)]
        adapter: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a small random model or adapter (smoke tests without downloads).
    #[command(subcommand)]
    Fixture(FixtureCmd),
}

#[derive(Subcommand)]
enum FixtureCmd {
    /// A tiny random Llama (Hugging Face layout).
    Llama {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// A random PEFT adapter for a model directory.
    Adapter {
        /// Model directory.
        #[arg(long)]
        model: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Rank.
        #[arg(long, default_value_t = 8)]
        rank: usize,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum EngineArg {
    Mistralrs,
    Openlora,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum SamplingArg {
    Greedy,
    Seeded,
}

#[derive(Args, Clone)]
struct Common {
    /// CPU threads for the kernels, fixed for the process (0: RAYON_NUM_THREADS or all cores);
    /// outputs do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Compute dtype.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Engine for requests without an adapter.
    #[arg(long, value_enum, default_value = "mistralrs")]
    base_engine: EngineArg,
    /// Largest max_tokens accepted.
    #[arg(long, default_value_t = Limits::default().max_tokens)]
    max_tokens_limit: u32,
    /// Largest prompt in bytes.
    #[arg(long, default_value_t = Limits::default().max_prompt_bytes)]
    max_prompt_bytes: usize,
    /// Adapter cache budget in MiB.
    #[arg(long, default_value_t = 2048)]
    adapter_cache_mb: u64,
    /// Largest adapter file in MiB.
    #[arg(long, default_value_t = 256)]
    max_adapter_mb: u64,
    /// Sequences batched together by OpenLoRA.
    #[arg(long, default_value_t = Limits::default().max_batch)]
    max_batch: usize,
}

#[derive(Args)]
struct ServeArgs {
    /// Model file (GGUF) or directory (repeatable).
    #[arg(long, required = true)]
    model: Vec<PathBuf>,
    /// Directory of adapter directories, registered for the first model (repeatable).
    #[arg(long)]
    adapters: Vec<PathBuf>,
    /// Listen address (loopback only).
    #[arg(long, default_value = service::DEFAULT_LISTEN)]
    listen: SocketAddr,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct RunArgs {
    /// Model file (GGUF) or directory.
    #[arg(long)]
    model: PathBuf,
    /// Prompt text.
    #[arg(long)]
    prompt: String,
    /// PEFT adapter directory (served by OpenLoRA).
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// Tokens to generate at most.
    #[arg(long, default_value_t = 32)]
    max_tokens: u32,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Token choice.
    #[arg(long, value_enum, default_value = "greedy")]
    sampling: SamplingArg,
    /// Temperature for seeded sampling (rounded to 1/1000).
    #[arg(long, default_value_t = 0.7)]
    temperature: f64,
    /// top-k for seeded sampling (0: all).
    #[arg(long, default_value_t = 0)]
    top_k: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    common: Common,
}

fn config(models: Vec<PathBuf>, adapters: Vec<PathBuf>, c: &Common, openlora: bool) -> Result<ExecutorConfig> {
    let limits = Limits {
        max_tokens: c.max_tokens_limit,
        max_prompt_bytes: c.max_prompt_bytes,
        adapter_cache_bytes: c.adapter_cache_mb << 20,
        max_batch: c.max_batch,
        adapter: lora::AdapterLimits { max_file_bytes: c.max_adapter_mb << 20, ..Default::default() },
        ..Limits::default()
    };
    let base_engine = match c.base_engine {
        EngineArg::Mistralrs => BaseEngine::Mistral,
        EngineArg::Openlora => BaseEngine::OpenLora,
    };
    Ok(ExecutorConfig { models, adapter_dirs: adapters, dtype: ComputeDType::parse(&c.dtype)?, base_engine, openlora, limits })
}

async fn serve(args: ServeArgs) -> Result<()> {
    let listener = service::bind_loopback(args.listen).await?;
    let exec = Arc::new(Executor::start(config(args.model, args.adapters, &args.common, true)?).await?);
    for h in exec.model_hashes() {
        println!("model {h}");
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    service::serve(exec, listener, shutdown).await
}

async fn run(args: RunArgs) -> Result<()> {
    let openlora = args.adapter.is_some() || matches!(args.common.base_engine, EngineArg::Openlora);
    let exec = Executor::start(config(vec![args.model.clone()], Vec::new(), &args.common, openlora)?).await?;
    let model = exec.model_hashes().first().cloned().ok_or_else(|| ExecutorError::Config("no model".into()))?;
    let adapter = match &args.adapter {
        Some(dir) => exec.load_adapter(&model, dir).await?.hash,
        None => String::new(),
    };
    let sampling = match args.sampling {
        SamplingArg::Greedy => SamplingMode::Greedy,
        SamplingArg::Seeded => {
            SamplingMode::Seeded { temperature_milli: (args.temperature * 1000.0).round().clamp(1.0, 10_000.0) as u32, top_k: args.top_k }
        }
    };
    let profile = DeterminismProfile { dtype: ComputeDType::parse(&args.common.dtype)?, sampling, ..DeterminismProfile::default() };
    let params = ExecuteParams {
        model: model.clone(),
        adapter: adapter.clone(),
        prompt: args.prompt,
        max_tokens: args.max_tokens,
        seed: args.seed,
        profile: Some(profile.to_proto()),
    };
    let (out, secs) = exec.execute_timed(params).await?;
    let tps = if secs > 0.0 { out.tokens.len() as f64 / secs } else { 0.0 };
    if args.json {
        let v = serde_json::json!({
            "model": model,
            "adapter": adapter,
            "engine": out.engine,
            "tokens": out.tokens,
            "text": out.text,
            "output_hash": hashing::to_hex(&out.output_hash),
            "profile_hash": hashing::to_hex(&out.profile_hash),
            "prompt_tokens": out.prompt_tokens,
            "finish_reason": out.finish_reason,
            "seconds": secs,
            "tokens_per_second": tps,
        });
        println!("{v}");
    } else {
        println!("{}", out.text);
        eprintln!(
            "[{} | {} tokens, {} | {:.1} tok/s | output_hash {}]",
            out.engine,
            out.tokens.len(),
            out.finish_reason,
            tps,
            hashing::to_hex(&out.output_hash)
        );
    }
    Ok(())
}

fn hash(path: PathBuf) -> Result<()> {
    if path.join("adapter_config.json").is_file() {
        println!("{}", lora::adapter_hash(&path, &lora::AdapterLimits::default())?);
    } else {
        println!("{}", source::ModelSource::open(&path)?.hash);
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.cmd {
        Cmd::Serve(a) => a.common.threads,
        Cmd::Run(a) => a.common.threads,
        _ => 0,
    };
    // Before any thread pool exists: candle and rayon read it once / per kernel.
    open_executor::set_cpu_threads(threads);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("open_executor=info,warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.cmd {
            Cmd::Serve(a) => serve(a).await,
            Cmd::Run(a) => run(a).await,
            Cmd::Hash { path } => hash(path),
            Cmd::Merge { model, adapter, out } => lora::merge_into_dir(&model, &adapter, &out, &lora::AdapterLimits::default()),
            Cmd::Fixture(FixtureCmd::Llama { out, seed }) => {
                fixtures::write_tiny_llama(&out, fixtures::TinyLlamaSpec::default(), seed).map(|_| ())
            }
            Cmd::Fixture(FixtureCmd::Adapter { model, out, seed, rank }) => {
                let cfg = open_executor::llama::LlamaConfig::from_hf_dir(&model)?;
                fixtures::write_random_adapter(&out, &cfg, &fixtures::AdapterSpec { rank, ..Default::default() }, seed)
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
