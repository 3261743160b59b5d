//! ModelFactory benchmarks, each against a baseline measured in the same run (`make
//! bench-executor`; results go to BENCHMARKS.md):
//!
//! 1. training tokens/s of the executor's LoRA trainer (the portable kernels: the same adapter
//!    bits on every machine; seeded batches, training log, eval) vs a plain candle autograd loop
//!    over the same model, LoRA, loss and AdamW (rows in file order, machine-specific
//!    arithmetic), alternating rounds on the same rows;
//! 2. artifact fetch throughput between two executors over loopback gRPC (GetArtifact, hash
//!    checked) vs copying the same files on the local disk.
//!
//! The model is the SmolLM2-135M GGUF from `make executor-model` when present, else the tiny
//! random Llama. `OPEN_EXECUTOR_BENCH_QUICK=1` shrinks the workload.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use open_executor::executor::{BaseEngine, Executor, ExecutorConfig, Limits};
use open_executor::fixtures::{write_random_adapter, write_tiny_llama, AdapterSpec, TinyLlamaSpec};
use open_executor::lora::AdapterLimits;
use open_executor::pb;
use open_executor::train::{self, TrainJob, TrainLimits, TrainSettings};

fn rows(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"prompt": "Summarise contribution {i} of the weather datanet.", "completion": "Contribution {i} adds hourly rainfall readings from station {} with calibrated sensors."}}"#,
                i * 7 % 31
            )
            .into_bytes()
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let quick = std::env::var_os("OPEN_EXECUTOR_BENCH_QUICK").is_some();
    let tmp = std::env::temp_dir().join(format!("open-executor-train-bench-{}", std::process::id()));
    let smol = std::env::var_os("OPEN_EXECUTOR_SMOLLM2_GGUF").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    });
    let (model_path, model_name) = if smol.is_file() {
        (smol.clone(), "SmolLM2-135M-Instruct Q4_1 (GGUF, dequantized to f32 for training)".to_string())
    } else {
        let dir = tmp.join("tiny-llama");
        write_tiny_llama(&dir, TinyLlamaSpec::default(), 1).unwrap();
        (dir, "tiny random Llama (f32, 2 layers; SmolLM2 GGUF not found)".to_string())
    };
    let exec = Arc::new(
        Executor::start(ExecutorConfig {
            models: vec![model_path],
            base_engine: BaseEngine::OpenLora,
            adapter_store: Some(tmp.join("store-a")),
            limits: Limits::default(),
            ..Default::default()
        })
        .await
        .unwrap(),
    );
    let model_hash = exec.model_hashes()[0].clone();
    let model = exec.openlora_model(&model_hash).unwrap().clone();
    let tokenizer = exec.tokenizer(&model_hash).unwrap().clone();
    let steps: u32 = if quick { 2 } else { 6 };
    let rounds = if quick { 1 } else { 2 };
    let config =
        pb::TrainConfig { rank: 8, batch_size: 4, max_seq_len: 64, max_steps: steps, eval_split_bps: 1, seed: 1, ..Default::default() };
    let settings = TrainSettings::from_proto(Some(&config), &TrainLimits::default()).unwrap();
    println!("## ModelFactory benchmarks\n");
    println!(
        "model: {model_name}; threads: {}; LoRA rank 8 on q_proj+v_proj, batch 4 rows of ≤ 64 tokens, {steps} steps per run, {rounds} rounds alternating\n",
        candle_core::utils::get_num_threads()
    );

    // 1. Deterministic trainer vs the batched baseline.
    let (mut ours_tok, mut ours_s, mut base_tok, mut base_s) = (0u64, 0f64, 0u64, 0f64);
    for round in 0..rounds {
        for which in [round % 2, 1 - round % 2] {
            let job = TrainJob {
                job_id: round as u64,
                model_hash: model_hash.clone(),
                rows: rows(4 * steps as usize + 1),
                data_root: Vec::new(),
                settings: settings.clone(),
                chat_template_hash: String::new(),
            };
            let (m, t) = (model.clone(), tokenizer.clone());
            let store = tmp.join(format!("train-{round}"));
            let (tok, secs) = tokio::task::spawn_blocking(move || {
                if which == 0 {
                    let mut last = (0u64, 0f64);
                    let started = Instant::now();
                    let mut on_step = |s: &train::StepReport| last = (s.tokens, started.elapsed().as_secs_f64());
                    train::train(&m, &t, &job, &store, &TrainLimits::default(), &mut on_step).unwrap();
                    // The loop only (the last step's report), like the baseline's figure.
                    last
                } else {
                    train::baseline::run(&m, &t, &job, job.settings.max_steps).unwrap()
                }
            })
            .await
            .unwrap();
            if which == 0 {
                ours_tok += tok;
                ours_s += secs;
            } else {
                base_tok += tok;
                base_s += secs;
            }
        }
    }
    println!("| trainer | tokens | seconds | tokens/s |\n|---|---|---|---|");
    println!(
        "| executor (portable kernels, same bits on every machine; seeded batches, log, eval) | {ours_tok} | {ours_s:.2} | {:.1} |",
        ours_tok as f64 / ours_s
    );
    println!(
        "| plain candle autograd loop (padded batch, machine-specific) | {base_tok} | {base_s:.2} | {:.1} |",
        base_tok as f64 / base_s
    );
    let ratio = (ours_tok as f64 / ours_s) / (base_tok as f64 / base_s) * 100.0;
    println!("\ntraining throughput vs the plain loop: **{ratio:.1} %** (goal ≥ 80 %)\n");

    // 2. Artifact fetch between two executors vs a local copy.
    let adapter_src = tmp.join("big-adapter");
    let cfg = model.config().clone();
    let spec = AdapterSpec {
        rank: if quick { 16 } else { 64 },
        targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"].map(String::from).to_vec(),
        ..AdapterSpec::default()
    };
    write_random_adapter(&adapter_src, &cfg, &spec, 3).unwrap();
    let hash = exec.register_adapter(&model_hash, &adapter_src).unwrap();
    let bytes: u64 =
        ["adapter_config.json", "adapter_model.safetensors"].iter().map(|f| std::fs::metadata(adapter_src.join(f)).unwrap().len()).sum();
    let listener = open_executor::service::bind_loopback("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let serving = exec.clone();
    tokio::spawn(async move { open_executor::service::serve(serving, listener, std::future::pending()).await.unwrap() });
    let fetch_rounds = if quick { 1 } else { 3 };
    let (mut fetch_s, mut copy_s) = (0f64, 0f64);
    for r in 0..fetch_rounds {
        let store = tmp.join(format!("fetched-{r}"));
        let t = Instant::now();
        open_executor::artifact::fetch_adapter(&addr, &hash, &store, &AdapterLimits::default()).await.unwrap();
        fetch_s += t.elapsed().as_secs_f64();
        let dest = tmp.join(format!("copied-{r}"));
        std::fs::create_dir_all(&dest).unwrap();
        let t = Instant::now();
        for f in ["adapter_config.json", "adapter_model.safetensors"] {
            std::fs::copy(adapter_src.join(f), dest.join(f)).unwrap();
        }
        copy_s += t.elapsed().as_secs_f64();
    }
    let mb = bytes as f64 * fetch_rounds as f64 / (1 << 20) as f64;
    println!("| transfer of a {:.1} MiB adapter | MiB/s |\n|---|---|", bytes as f64 / (1 << 20) as f64);
    println!("| GetArtifact fetch between two executors (loopback gRPC, hash checked) | {:.1} |", mb / fetch_s);
    println!("| local file copy | {:.1} |", mb / copy_s);
    println!("\nfetch throughput vs a local copy: **{:.1} %**\n", (mb / fetch_s) / (mb / copy_s) * 100.0);
    let _ = std::fs::remove_dir_all(&tmp);
}
