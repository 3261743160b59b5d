//! `open-executor`: serve the executor over loopback gRPC, or run one request from the shell.
//!
//! ```text
//! open-executor serve --model ~/.cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf
//! open-executor run --model DIR_OR_GGUF --prompt "Hello" [--adapter DIR] [--max-tokens 32]
//! open-executor train --model DIR_OR_GGUF --data ROWS.jsonl --out STORE [--rank 8 --max-steps 100 ...]
//! open-executor train --executor http://127.0.0.1:50051 --model-hash HASH --data ROWS.jsonl
//! open-executor fetch --executor http://127.0.0.1:50051 --hash ADAPTER_HASH --out DIR
//! open-executor hash PATH
//! open-executor merge --model DIR --adapter DIR --out DIR
//! open-executor fixture llama --out DIR | fixture adapter --model DIR_OR_GGUF --out DIR
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use open_executor::executor::{BaseEngine, ExecuteParams, Executor, ExecutorConfig, Limits};
use open_executor::kernels::Isa;
use open_executor::llama::Kernels;
use open_executor::profile::{ComputeDType, DeterminismProfile, SamplingMode};
use open_executor::train::StepReport;
use open_executor::{fixtures, hashing, lora, pb, service, source, ExecutorError, Result};

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
    /// Fine-tune a LoRA adapter on rows (one per line of a file), here or on a serving executor.
    Train(TrainArgs),
    /// Download an adapter by content hash from a serving executor into DIR/<hash> (checked).
    Fetch {
        /// The executor's address (http://127.0.0.1:PORT).
        #[arg(long)]
        executor: String,
        /// Adapter content hash.
        #[arg(long)]
        hash: String,
        /// Directory the adapter directory is written into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// The determinism probe: 50 prompts decoded greedily, and a few LoRA training steps on them,
    /// on every portable kernel path this CPU has at each thread count; prints one JSON line per
    /// run and a summary, and fails when any two disagree. Compare the summary's digests across
    /// machines and builds.
    Probe {
        /// Model (GGUF file or Hugging Face directory).
        #[arg(long)]
        model: PathBuf,
        /// Tokens decoded per prompt.
        #[arg(long, default_value_t = 2)]
        steps: usize,
        /// Thread counts to run, comma-separated.
        #[arg(long, default_value = "1,2,4")]
        thread_counts: String,
        /// ModelFactory training steps of the training probe per run (0: inference only).
        #[arg(long, default_value_t = 2)]
        train_steps: usize,
    },
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
    /// A random PEFT adapter for a model (GGUF file or Hugging Face directory).
    Adapter {
        /// Model: a GGUF file or a Hugging Face directory.
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
    /// Engine for requests without an adapter: OpenLoRA's model on the portable kernels (the same
    /// bits on every machine), or mistral.rs (machine-specific: needs --allow-machine-specific).
    #[arg(long, value_enum, default_value = "openlora")]
    base_engine: EngineArg,
    /// Kernel path of the portable kernels: auto (this CPU's fastest), scalar, sse2, avx2 — all
    /// give the same bits — or candle (candle's own CPU kernels: machine-specific).
    #[arg(long, default_value = "auto")]
    kernels: String,
    /// Serve in a configuration whose outputs depend on the machine (mistral.rs, candle's
    /// kernels, a GPU, a dtype other than f32). Only executors on identical machines then agree,
    /// and a validator whose executor disagrees with two thirds of the stake is slashed.
    #[arg(long)]
    allow_machine_specific: bool,
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
    #[arg(long, required_unless_present = "fetch_model")]
    model: Vec<PathBuf>,
    /// Directory of adapter directories, registered for the first model (repeatable).
    #[arg(long)]
    adapters: Vec<PathBuf>,
    /// Listen address (loopback only).
    #[arg(long, default_value = service::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Where trained adapters are written, one directory per content hash
    /// (default: ~/.cache/openledger/executor/adapters).
    #[arg(long)]
    adapter_store: Option<PathBuf>,
    /// A peer executor (http://127.0.0.1:PORT) asked for adapters this one lacks (repeatable).
    #[arg(long)]
    peer: Vec<String>,
    /// A base model (content hash) to take from the adapter store or fetch from the peers
    /// (repeatable); checked against the hash before it is loaded.
    #[arg(long)]
    fetch_model: Vec<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct TrainArgs {
    /// Model file (GGUF) or directory, trained here (or --executor to train on a serving one).
    #[arg(long, required_unless_present = "executor")]
    model: Option<PathBuf>,
    /// A serving executor's address (http://127.0.0.1:PORT): it trains, this shows its progress.
    #[arg(long, requires = "model_hash")]
    executor: Option<String>,
    /// With --executor: the content hash of the base model it holds.
    #[arg(long)]
    model_hash: Option<String>,
    /// Pin this chat template (its hash) so prompt/completion rows are trained as a user and an
    /// assistant turn rendered with it (it must be the model's; see `--chat`).
    #[arg(long, default_value = "")]
    chat_template_hash: String,
    /// Here only: pin the model's own chat template (as the chain does for a chat model).
    #[arg(long, conflicts_with = "executor")]
    chat: bool,
    /// Training rows, one per line (JSON objects with "text" or "prompt"/"completion", or
    /// plain text); blank lines are skipped.
    #[arg(long)]
    data: PathBuf,
    /// Adapter store the adapter is written to (here only).
    #[arg(long, default_value = "adapters")]
    out: PathBuf,
    /// LoRA rank (0: 8).
    #[arg(long, default_value_t = 0)]
    rank: u32,
    /// lora_alpha (0: 2 × rank).
    #[arg(long, default_value_t = 0)]
    alpha: u32,
    /// Target modules, comma separated (default q_proj,v_proj).
    #[arg(long, value_delimiter = ',')]
    target_modules: Vec<String>,
    /// Learning rate (rounded to 1e-6; 0: 1e-3).
    #[arg(long, default_value_t = 0.0)]
    learning_rate: f64,
    /// Epochs (0: 1).
    #[arg(long, default_value_t = 0)]
    epochs: u32,
    /// Step cap (0: none).
    #[arg(long, default_value_t = 0)]
    max_steps: u32,
    /// Rows per step (0: 4).
    #[arg(long, default_value_t = 0)]
    batch_size: u32,
    /// Seed of split, order and init.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Held-out share (0.1 = 10 %; 0: the default 10 %).
    #[arg(long, default_value_t = 0.0)]
    eval_split: f64,
    /// Tokens per row at most (0: 128).
    #[arg(long, default_value_t = 0)]
    max_seq_len: u32,
    /// Job id recorded in the training log.
    #[arg(long, default_value_t = 0)]
    job_id: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
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
    /// Send the prompt as a user turn through the model's own chat template (instruct models).
    #[arg(long)]
    chat: bool,
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

fn config(
    models: Vec<PathBuf>,
    adapters: Vec<PathBuf>,
    c: &Common,
    openlora: bool,
    store: Option<PathBuf>,
    peers: Vec<String>,
) -> Result<ExecutorConfig> {
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
    Ok(ExecutorConfig {
        models,
        adapter_dirs: adapters,
        dtype: ComputeDType::parse(&c.dtype)?,
        base_engine,
        openlora,
        limits,
        adapter_store: store,
        peers,
        kernels: match c.kernels.trim() {
            "candle" => Kernels::Candle,
            other => Kernels::Portable(Isa::parse(other).map_err(ExecutorError::Config)?),
        },
        allow_machine_specific: c.allow_machine_specific,
        ..ExecutorConfig::default()
    })
}

async fn serve(args: ServeArgs) -> Result<()> {
    let listener = service::bind_loopback(args.listen).await?;
    let store =
        args.adapter_store.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/openledger/executor/adapters")));
    let mut cfg = config(args.model, args.adapters, &args.common, true, store, args.peer)?;
    cfg.fetch_models = args.fetch_model;
    let exec = Arc::new(Executor::start(cfg).await?);
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
    let exec = Executor::start(config(vec![args.model.clone()], Vec::new(), &args.common, openlora, None, Vec::new())?).await?;
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
    let (prompt, messages, chat_template_hash) = if args.chat {
        let hash = exec
            .tokenizer(&model)
            .and_then(|t| t.chat_template())
            .map(|t| t.hash().to_string())
            .ok_or_else(|| ExecutorError::NoChatTemplate(args.model.display().to_string()))?;
        (String::new(), vec![pb::ChatMessage { role: "user".into(), content: args.prompt }], hash)
    } else {
        (args.prompt, Vec::new(), String::new())
    };
    let params = ExecuteParams {
        model: model.clone(),
        adapter: adapter.clone(),
        prompt,
        max_tokens: args.max_tokens,
        seed: args.seed,
        profile: Some(profile.to_proto()),
        messages,
        chat_template_hash,
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

/// Shows training progress: a bar with the loss on a terminal, a log line every 10 % otherwise.
struct TrainBar {
    bar: Option<indicatif::ProgressBar>,
    last_decile: u32,
}

impl TrainBar {
    fn new() -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template("training [{bar:40}] {pos}/{len} steps {msg}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar, last_decile: 0 }
    }

    fn step(&mut self, s: &StepReport) {
        let line = format!("loss {:.4} | {:.0} tok/s | ETA {:.0}s", s.loss, s.tokens_per_second, s.eta_seconds);
        if let Some(bar) = &self.bar {
            bar.set_length(u64::from(s.total_steps));
            bar.set_position(u64::from(s.step));
            bar.set_message(line);
            return;
        }
        let decile = s.step.saturating_mul(10) / s.total_steps.max(1);
        if decile > self.last_decile || s.step == 1 {
            self.last_decile = decile;
            eprintln!("training: step {}/{} ({}%) {line}", s.step, s.total_steps, s.step.saturating_mul(100) / s.total_steps.max(1));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn train_request(args: &TrainArgs, model: String) -> Result<pb::TrainRequest> {
    let text = std::fs::read_to_string(&args.data).map_err(|e| ExecutorError::io(&args.data, e))?;
    let rows: Vec<Vec<u8>> = text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.as_bytes().to_vec()).collect();
    let micro = |x: f64| (x * 1e6).round().clamp(0.0, f64::from(u32::MAX)) as u32;
    let bps = |x: f64| (x * 10_000.0).round().clamp(0.0, 10_000.0) as u32;
    Ok(pb::TrainRequest {
        job_id: args.job_id,
        model,
        rows,
        data_root: Vec::new(),
        chat_template_hash: args.chat_template_hash.clone(),
        config: Some(pb::TrainConfig {
            rank: args.rank,
            alpha: args.alpha,
            target_modules: args.target_modules.clone(),
            learning_rate_micro: micro(args.learning_rate),
            epochs: args.epochs,
            max_steps: args.max_steps,
            batch_size: args.batch_size,
            seed: args.seed,
            eval_split_bps: bps(args.eval_split),
            max_seq_len: args.max_seq_len,
        }),
    })
}

fn print_train_result(r: &pb::TrainResult, json: bool) {
    let eval_loss = f32::from_bits(r.eval_loss_bits);
    if json {
        let v = serde_json::json!({
            "adapter_hash": r.adapter_hash,
            "adapter_path": r.adapter_path,
            "eval_loss": eval_loss,
            "eval_loss_bits": r.eval_loss_bits,
            "training_log_hash": hex::encode(&r.training_log_hash),
            "config_hash": hex::encode(&r.config_hash),
            "steps": r.steps,
            "tokens": r.tokens,
            "train_rows": r.train_rows,
            "eval_rows": r.eval_rows,
        });
        println!("{v}");
    } else {
        println!("adapter {} in {}", r.adapter_hash, r.adapter_path);
        println!(
            "{} steps, {} tokens, {} train / {} eval rows, eval loss {eval_loss:.4}, training log {}",
            r.steps,
            r.tokens,
            r.train_rows,
            r.eval_rows,
            hex::encode(&r.training_log_hash)
        );
    }
}

async fn train(args: TrainArgs) -> Result<()> {
    let mut bar = TrainBar::new();
    let result = if let Some(addr) = &args.executor {
        let model = args.model_hash.clone().ok_or_else(|| ExecutorError::Config("--executor needs --model-hash".into()))?;
        let request = train_request(&args, model)?;
        let mut client = pb::executor_client::ExecutorClient::connect(addr.clone())
            .await
            .map_err(|e| ExecutorError::Transport(format!("{addr}: {e}")))?
            .max_encoding_message_size(usize::MAX);
        let mut stream = client.train(request).await.map_err(|s| ExecutorError::Transport(s.message().to_string()))?.into_inner();
        let mut result = None;
        while let Some(msg) = stream.message().await.map_err(|s| ExecutorError::Transport(s.message().to_string()))? {
            match msg.event {
                Some(pb::train_progress::Event::Step(s)) => bar.step(&StepReport {
                    step: s.step,
                    total_steps: s.total_steps,
                    loss: s.loss,
                    tokens: s.tokens,
                    tokens_per_second: s.tokens_per_second,
                    eta_seconds: s.eta_seconds,
                }),
                Some(pb::train_progress::Event::Result(r)) => result = Some(r),
                None => {}
            }
        }
        result.ok_or_else(|| ExecutorError::Transport("the stream ended without a result".into()))?
    } else {
        let path = args.model.clone().ok_or_else(|| ExecutorError::Config("--model is required".into()))?;
        let mut common = args.common.clone();
        common.base_engine = EngineArg::Openlora;
        let exec = Executor::start(config(vec![path.clone()], Vec::new(), &common, true, Some(args.out.clone()), Vec::new())?).await?;
        let model = exec.model_hashes().first().cloned().ok_or_else(|| ExecutorError::Config("no model".into()))?;
        let mut request = train_request(&args, model.clone())?;
        if args.chat {
            request.chat_template_hash = exec
                .tokenizer(&model)
                .and_then(|t| t.chat_template())
                .map(|t| t.hash().to_string())
                .ok_or_else(|| ExecutorError::NoChatTemplate(path.display().to_string()))?;
        }
        let prepared = exec.prepare_train(request)?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let run = exec.train(prepared, move |s| {
            let _ = tx.send(s.clone());
        });
        tokio::pin!(run);
        loop {
            tokio::select! {
                Some(s) = rx.recv() => bar.step(&s),
                r = &mut run => {
                    while let Ok(s) = rx.try_recv() {
                        bar.step(&s);
                    }
                    break pb::TrainResult::from(&r?);
                }
            }
        }
    };
    bar.finish();
    print_train_result(&result, args.json);
    Ok(())
}

/// `open-executor probe`.
fn probe(model: &std::path::Path, steps: usize, thread_counts: &str, train_steps: usize) -> Result<()> {
    use open_executor::probe;
    let counts = thread_counts
        .split(',')
        .map(|t| t.trim().parse::<usize>().ok().filter(|&n| (1..=256).contains(&n)))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| ExecutorError::Config(format!("bad --thread-counts {thread_counts:?}")))?;
    let dev = candle_core::Device::Cpu;
    let llama = if model.is_dir() {
        open_executor::llama::LlamaModel::load_hf_dir(model, candle_core::DType::F32, &dev)?
    } else {
        open_executor::llama::LlamaModel::load_gguf(model, candle_core::DType::F32, &dev)?
    };
    let mut first: Option<(String, String)> = None;
    let mut agree = true;
    for isa in Isa::available() {
        for &threads in &counts {
            let digest = hashing::to_hex(&probe::combined(&probe::digests(&llama, Kernels::Portable(isa), threads, steps)?));
            let train_digest =
                if train_steps == 0 { String::new() } else { hashing::to_hex(&probe::training_digest(&llama, isa, threads, train_steps)?) };
            println!(
                "{}",
                serde_json::json!({"model": model.display().to_string(), "path": isa.as_str(), "threads": threads, "digest": digest, "train_digest": train_digest})
            );
            let run = (digest, train_digest);
            agree &= first.get_or_insert_with(|| run.clone()) == &run;
        }
    }
    let (digest, train_digest) = first.unwrap_or_default();
    let summary = serde_json::json!({
        "model": model.display().to_string(),
        "class": open_executor::kernels::PORTABLE_CLASS,
        "prompts": probe::PROMPTS,
        "steps": steps,
        "paths": Isa::available().iter().map(|i| i.as_str()).collect::<Vec<_>>(),
        "thread_counts": counts,
        "target_features": open_executor::kernels::compiled_target_features(),
        "digest": digest,
        "train_steps": train_steps,
        "train_digest": train_digest,
        "agree": agree,
    });
    println!("{summary}");
    if agree {
        Ok(())
    } else {
        Err(ExecutorError::Kernel("paths or thread counts disagree: this build must not serve".into()))
    }
}

/// The Llama shape an adapter fixture is made for: from a GGUF file's metadata or a Hugging Face
/// directory's config.json.
fn fixture_model_config(model: &std::path::Path) -> Result<open_executor::llama::LlamaConfig> {
    if model.is_file() {
        let mut f = std::fs::File::open(model).map_err(|e| ExecutorError::io(model, e))?;
        let content = candle_core::quantized::gguf_file::Content::read(&mut f).map_err(|e| {
            ExecutorError::Config(format!(
                "--model {} is a file but not a GGUF model ({e}); give a .gguf file or a model directory",
                model.display()
            ))
        })?;
        return open_executor::llama::LlamaConfig::from_gguf(model, &content);
    }
    if model.join("config.json").is_file() {
        return open_executor::llama::LlamaConfig::from_hf_dir(model);
    }
    Err(ExecutorError::Config(format!(
        "--model {} is neither a GGUF file nor a Hugging Face model directory with config.json",
        model.display()
    )))
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
        Cmd::Train(a) => a.common.threads,
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
            Cmd::Train(a) => train(a).await,
            Cmd::Hash { path } => hash(path),
            Cmd::Probe { model, steps, thread_counts, train_steps } => probe(&model, steps, &thread_counts, train_steps),
            Cmd::Fetch { executor, hash, out } => {
                let hash = hashing::parse_hash(&hash)?;
                let (dir, model) = open_executor::artifact::fetch_adapter(&executor, &hash, &out, &lora::AdapterLimits::default()).await?;
                println!("adapter {hash} (base model {model}) in {}", dir.display());
                Ok(())
            }
            Cmd::Merge { model, adapter, out } => lora::merge_into_dir(&model, &adapter, &out, &lora::AdapterLimits::default()),
            Cmd::Fixture(FixtureCmd::Llama { out, seed }) => {
                fixtures::write_tiny_llama(&out, fixtures::TinyLlamaSpec::default(), seed).map(|_| ())
            }
            Cmd::Fixture(FixtureCmd::Adapter { model, out, seed, rank }) => {
                let cfg = fixture_model_config(&model)?;
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
