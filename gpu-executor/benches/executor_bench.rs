//! Executor benchmarks, each against a baseline measured in the same run (results go to
//! BENCHMARKS.md; run with `make bench-executor`):
//!
//! 1. tokens/s of the executor (tokenize → mistral.rs with the executor's token choice → decode →
//!    hash) vs plain mistral.rs greedy on the same loaded model;
//! 2. the determinism profile (one sequence at a time, no prefix cache) vs mistral.rs defaults
//!    (32 sequences, prefix cache 16) under 4 concurrent requests;
//! 3. OpenLoRA with 100 adapters: memory vs 100 merged copies, and mixed-adapter batch
//!    throughput vs base-only batches on the same engine.
//!
//! The model is the SmolLM2-135M GGUF from `make executor-model` when present, else a tiny
//! random Llama. `OPEN_EXECUTOR_BENCH_QUICK=1` shrinks every workload (smoke run).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use candle_core::DType;
use open_executor::executor::{ExecuteParams, Executor, ExecutorConfig, Limits};
use open_executor::fixtures::{write_random_adapter, write_tiny_llama, AdapterSpec, TinyLlamaSpec};
use open_executor::lora::{AdapterLimits, LoraAdapter};
use open_executor::mistral_engine::{MistralEngine, MistralSettings};
use open_executor::openlora::GenerationRequest;
use open_executor::profile::SamplingMode;
use open_executor::sampling::TokenSelector;

/// Resident set size of this process.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// CPU seconds this process has used (user + system, all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Wall and CPU seconds of one measured region.
#[derive(Default, Clone, Copy)]
struct Time {
    wall: f64,
    cpu: f64,
}

impl Time {
    fn start() -> (Instant, f64) {
        (Instant::now(), cpu_seconds())
    }

    fn add(&mut self, (t, c): (Instant, f64)) {
        self.wall += t.elapsed().as_secs_f64();
        self.cpu += cpu_seconds() - c;
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

const PROMPTS: [&str; 4] = [
    "The history of the printing press begins",
    "Write a short note about honey bees:",
    "In distributed systems, consensus means",
    "A good recipe for tomato soup needs",
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::var_os("OPEN_EXECUTOR_BENCH_QUICK").is_some();
    let tmp = std::env::temp_dir().join(format!("open-executor-bench-{}", std::process::id()));
    let smol = std::env::var_os("OPEN_EXECUTOR_SMOLLM2_GGUF").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    });
    let (model_path, model_name) = if smol.is_file() {
        (smol.clone(), "SmolLM2-135M-Instruct Q4_1 (GGUF)".to_string())
    } else {
        let dir = tmp.join("tiny-llama");
        write_tiny_llama(&dir, TinyLlamaSpec::default(), 1).unwrap();
        (dir, "tiny random Llama (f32, 2 layers; SmolLM2 GGUF not found)".to_string())
    };
    let gguf = model_path.extension().is_some_and(|e| e == "gguf");
    let (n_tokens, rounds) = if quick { (16usize, 2usize) } else { (64, 5) };
    println!("## open-executor benchmarks\n");
    println!(
        "model: {model_name}; threads: {}; tokens per request: {n_tokens}; load average at start: {}\n",
        candle_core::utils::get_num_threads(),
        loadavg()
    );

    // 1. Executor vs plain mistral.rs, same loaded model, alternating runs.
    let exec = Executor::start(ExecutorConfig {
        models: vec![model_path.clone()],
        openlora: true,
        limits: Limits::default(),
        ..Default::default()
    })
    .await
    .unwrap();
    let model = exec.model_hashes()[0].clone();
    let engine = exec.mistral_engine(&model).unwrap();
    let tok = exec.tokenizer(&model).unwrap().clone();
    let prompt_ids = tok.encode(PROMPTS[0]).unwrap();
    let params = ExecuteParams { model: model.clone(), prompt: PROMPTS[0].into(), max_tokens: n_tokens as u32, ..Default::default() };
    // Warm-up.
    exec.execute(params.clone()).await.unwrap();
    engine.generate_plain(prompt_ids.clone(), n_tokens).await.unwrap();
    let (mut ex_tok, mut ex_t, mut pl_tok, mut pl_t) = (0usize, Time::default(), 0usize, Time::default());
    for round in 0..rounds {
        // Alternate which goes first, so drifting load on a shared box hits both alike.
        for which in [round % 2, 1 - round % 2] {
            let t = Time::start();
            if which == 0 {
                let out = exec.execute(params.clone()).await.unwrap();
                ex_t.add(t);
                ex_tok += out.tokens.len() + usize::from(out.finish_reason == "stop");
            } else {
                pl_tok += engine.generate_plain(prompt_ids.clone(), n_tokens).await.unwrap();
                pl_t.add(t);
            }
        }
    }
    println!("### 1. Executor vs plain mistral.rs (same model instance, sequential requests, {rounds} rounds alternating)\n");
    table_header();
    row("plain mistral.rs (its own greedy sampler)", pl_tok, pl_t);
    row("executor (tokenize, executor token choice, decode, hash)", ex_tok, ex_t);
    ratio_line("executor throughput vs plain mistral.rs", ex_tok, ex_t, pl_tok, pl_t, "goal: overhead ≤ 5 %, i.e. ≥ 95 %");

    // 2. Determinism profile vs mistral.rs defaults under 4 concurrent requests.
    let defaults = MistralEngine::load(&model_path, gguf, MistralSettings::mistral_defaults(DType::F32)).await.unwrap();
    let ids: Vec<Vec<u32>> = PROMPTS.iter().map(|p| tok.encode(p).unwrap()).collect();
    defaults.generate_plain(ids[0].clone(), 4).await.unwrap();
    let (mut prof_tok, mut prof_t, mut def_tok, mut def_t) = (0usize, Time::default(), 0usize, Time::default());
    for round in 0..rounds.div_ceil(2) {
        for which in [round % 2, 1 - round % 2] {
            let t = Time::start();
            if which == 0 {
                let outs = futures_join(PROMPTS.iter().map(|p| {
                    let exec = &exec;
                    let model = model.clone();
                    async move {
                        exec.execute(ExecuteParams { model, prompt: (*p).into(), max_tokens: n_tokens as u32, ..Default::default() })
                            .await
                            .unwrap()
                    }
                }))
                .await;
                prof_t.add(t);
                prof_tok += outs.iter().map(|o| o.tokens.len() + usize::from(o.finish_reason == "stop")).sum::<usize>();
            } else {
                let counts = futures_join(ids.iter().map(|i| {
                    let d = &defaults;
                    let i = i.clone();
                    async move { d.generate_plain(i, n_tokens).await.unwrap() }
                }))
                .await;
                def_t.add(t);
                def_tok += counts.iter().sum::<usize>();
            }
        }
    }
    println!("### 2. Determinism profile vs mistral.rs defaults (4 concurrent requests, distinct prompts)\n");
    table_header();
    row("mistral.rs defaults (max_num_seqs 32, prefix cache 16, its sampler)", def_tok, def_t);
    row("executor determinism profile (max_num_seqs 1, no prefix cache, executor sampler)", prof_tok, prof_t);
    ratio_line("profile throughput vs mistral.rs defaults", prof_tok, prof_t, def_tok, def_t, "cost of the profile = 100 % minus this");
    drop(defaults);

    // 3. OpenLoRA with 100 adapters.
    let ol = exec.openlora_engine(&model).unwrap();
    let base = ol.model().clone();
    let n_adapters = if quick { 10 } else { 100 };
    let mut sets = Vec::new();
    for (label, dtype) in [("f16", DType::F16), ("f32", DType::F32)] {
        let spec = AdapterSpec { rank: 8, alpha: 16.0, targets: vec!["q_proj".into(), "v_proj".into()], dtype, strength: 0.3 };
        let mut adapters = Vec::new();
        for i in 0..n_adapters {
            let dir = tmp.join(format!("adapters-{label}/a{i:03}"));
            write_random_adapter(&dir, base.config(), &spec, i as u64).unwrap();
            adapters.push(Arc::new(LoraAdapter::load(&dir, &base, &AdapterLimits::default()).unwrap()));
        }
        let bytes: u64 = adapters.iter().map(|a| a.bytes()).sum();
        sets.push((label, adapters, bytes));
    }
    let base_bytes = base.weight_bytes();
    let file_bytes = if gguf {
        std::fs::metadata(&model_path).unwrap().len()
    } else {
        std::fs::read_dir(&model_path)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "safetensors"))
            .map(|e| e.metadata().unwrap().len())
            .sum()
    };
    println!("### 3. OpenLoRA: {n_adapters} LoRA adapters (rank 8, q_proj + v_proj, the PEFT default) over one base\n");
    println!(
        "base weights in memory: {:.1} MiB (matmul weights quantized, embedding table dequantized for lookup); weight file: {:.1} MiB; process RSS now: {:.0} MiB\n",
        mib(base_bytes),
        mib(file_bytes),
        mib(rss_bytes())
    );
    println!("| adapter storage | {n} adapters | base + {n} adapters | {n} merged copies (in memory) | ratio | {n} merged copies at file size | ratio |", n = n_adapters);
    println!("|---|---|---|---|---|---|---|");
    for (label, _, bytes) in &sets {
        let ours = base_bytes + bytes;
        let merged = base_bytes * n_adapters as u64;
        let ours_file = file_bytes + bytes;
        let merged_file = file_bytes * n_adapters as u64;
        println!(
            "| {label} | {:.1} MiB | {:.1} MiB | {:.1} MiB | **{:.1}×** smaller | {:.1} MiB | {:.1}× smaller |",
            mib(*bytes),
            mib(ours),
            mib(merged),
            merged as f64 / ours as f64,
            mib(merged_file),
            merged_file as f64 / ours_file as f64
        );
    }
    let adapters = sets[0].1.clone();
    drop(sets);
    println!(
        "(merged copies at file size: each copy kept as compactly as the shipped weights, base + adapters likewise counted at file size)"
    );
    let batch = 8usize;
    let req = |i: usize, adapter: Option<Arc<LoraAdapter>>| GenerationRequest {
        prompt: ids[i % ids.len()].clone(),
        max_tokens: n_tokens / 2,
        selector: TokenSelector::new(SamplingMode::Greedy, 0),
        adapter,
        sequential: false,
        eos: Vec::new(),
    };
    let ol_rounds = if quick { 1 } else { 2 };
    let (mut mix_tok, mut mix_t, mut base_tok, mut base_t) = (0usize, Time::default(), 0usize, Time::default());
    let ol_ref: &'static open_executor::openlora::OpenLoraEngine = leak_for_blocking_threads(exec);
    // Warm-up: one small mixed batch.
    let warm: Vec<_> = (0..2).map(|i| GenerationRequest { max_tokens: 2, ..req(i, Some(adapters[i].clone())) }).collect();
    tokio::task::spawn_blocking(move || ol_ref.generate_many_blocking(warm)).await.unwrap();
    for r in 0..ol_rounds {
        for which in [r % 2, 1 - r % 2] {
            let reqs: Vec<_> = (0..batch)
                .map(|i| req(i, if which == 0 { None } else { Some(adapters[(r * batch + i) % adapters.len()].clone()) }))
                .collect();
            let t = Time::start();
            let outs = tokio::task::spawn_blocking(move || ol_ref.generate_many_blocking(reqs)).await.unwrap();
            let n = outs.into_iter().map(|o| o.unwrap().len()).sum::<usize>();
            if which == 0 {
                base_t.add(t);
                base_tok += n;
            } else {
                mix_t.add(t);
                mix_tok += n;
            }
        }
    }
    println!(
        "\nOpenLoRA throughput, batches of {batch} concurrent requests ({} tokens each), {ol_rounds} rounds alternating:\n",
        n_tokens / 2
    );
    table_header();
    row("base only", base_tok, base_t);
    row(&format!("{batch} different adapters (f16, unmerged)"), mix_tok, mix_t);
    ratio_line("mixed-adapter throughput vs base-only", mix_tok, mix_t, base_tok, base_t, "goal ≥ 70 %");
    println!("\nload average at the end: {}", loadavg());
    let _ = std::fs::remove_dir_all(&tmp);
}

fn table_header() {
    println!("| path | tokens | wall s | tokens/s (wall) | CPU s | tokens per CPU-s |\n|---|---|---|---|---|---|");
}

fn row(label: &str, tokens: usize, t: Time) {
    println!("| {label} | {tokens} | {:.2} | {:.1} | {:.2} | {:.1} |", t.wall, tokens as f64 / t.wall, t.cpu, tokens as f64 / t.cpu);
}

fn ratio_line(what: &str, a_tok: usize, a: Time, b_tok: usize, b: Time, goal: &str) {
    let wall = (a_tok as f64 / a.wall) / (b_tok as f64 / b.wall) * 100.0;
    let cpu = (a_tok as f64 / a.cpu) / (b_tok as f64 / b.cpu) * 100.0;
    println!("\n{what}: **{wall:.1} %** by wall time, {cpu:.1} % by CPU time ({goal})\n");
}

/// Leaks the executor so its OpenLoRA engine can be used from blocking threads for the rest of
/// the (short-lived) benchmark process.
fn leak_for_blocking_threads(exec: Executor) -> &'static open_executor::openlora::OpenLoraEngine {
    let exec: &'static Executor = Box::leak(Box::new(exec));
    let model = exec.model_hashes()[0].clone();
    exec.openlora_engine(&model).unwrap()
}

/// Runs futures concurrently on the current task and collects their outputs in order.
async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futs: Vec<_> = futs.map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    let mut futs: Vec<Option<_>> = futs.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, out) in futs.iter_mut().zip(outs.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outs.into_iter().map(|o| o.expect("every future finished")).collect()
}
