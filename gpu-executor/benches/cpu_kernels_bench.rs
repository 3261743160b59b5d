//! CPU inference speed of the determinism profiles, each against baselines measured in the same
//! run (`make bench-cpu`; results in BENCHMARKS.md):
//!
//! * the portable kernels (the cross-machine profile) on each instruction-set path this CPU has,
//!   vs candle's CPU kernels (the machine-specific profile they replace), on the same loaded model;
//! * vs llama.cpp (`llama-cpp-python`, built from source by the Makefile into
//!   `$HOME/.cache/openledger/llama-cpp-venv`) on the same SmolLM2 GGUF, same threads, greedy.
//!
//! For each: time to first token (prefill of the prompt + its first token), decode tokens/s
//! (the tokens after the first) and, for llama.cpp, its process's peak memory. 1 and 2 threads.
//! `OPEN_EXECUTOR_BENCH_QUICK=1` shortens the generation (smoke run).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device};
use open_executor::kernels::Isa;
use open_executor::llama::{Kernels, LlamaModel, Segment};
use open_executor::sampling::argmax;
use open_executor::tokenizer::TextTokenizer;

const PROMPT: &str = "The history of open data begins with";

/// Peak resident memory of this process (VmHWM).
fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

struct Run {
    ttft_ms: f64,
    decode_tps: f64,
    tokens: Vec<u32>,
}

/// Greedy generation of `n` tokens on one kernel set, timed.
fn generate(model: &LlamaModel, kernels: Kernels, prompt: &[u32], n: usize) -> Run {
    let mut cache = model.new_cache(prompt.len() + n + 1);
    let t0 = Instant::now();
    let seg = Segment { row: 0, len: prompt.len(), pos: 0, adapter: None };
    let logits = model.forward_with(kernels, prompt, &[seg], &mut [&mut cache]).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap();
    let mut tokens = vec![argmax(&logits)];
    let ttft = t0.elapsed();
    let t1 = Instant::now();
    for i in 1..n {
        let seg = Segment { row: 0, len: 1, pos: prompt.len() + i - 1, adapter: None };
        let l =
            model.forward_with(kernels, &tokens[i - 1..i], &[seg], &mut [&mut cache]).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap();
        tokens.push(argmax(&l));
    }
    Run { ttft_ms: ttft.as_secs_f64() * 1e3, decode_tps: (n - 1) as f64 / t1.elapsed().as_secs_f64(), tokens }
}

/// llama.cpp on the same file: {"ttft_ms", "decode_tps", "peak_mib", "tokens"} from the helper
/// script, or None when llama-cpp-python is not installed.
fn llama_cpp(gguf: &Path, threads: usize, n: usize) -> Option<serde_json::Value> {
    let home = std::env::var("HOME").ok()?;
    let py = PathBuf::from(home).join(".cache/openledger/llama-cpp-venv/bin/python");
    if !py.exists() {
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/llama_cpp_generate.py");
    let out = Command::new(py).args([script, &gguf.display().to_string(), &threads.to_string(), &n.to_string(), PROMPT]).output().ok()?;
    if !out.status.success() {
        eprintln!("llama.cpp run failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_slice(out.stdout.trim_ascii()).ok()
}

fn main() {
    let quick = std::env::var("OPEN_EXECUTOR_BENCH_QUICK").is_ok_and(|v| v == "1");
    let n = if quick { 8 } else { 64 };
    let gguf = std::env::var("OPEN_EXECUTOR_SMOLLM2")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    if !gguf.exists() {
        eprintln!("no SmolLM2 GGUF at {} (make executor-model)", gguf.display());
        std::process::exit(1);
    }
    let mut file = std::fs::File::open(&gguf).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let tok = TextTokenizer::from_gguf(&content).unwrap();
    let prompt = tok.encode(PROMPT).unwrap();
    let model = LlamaModel::load_gguf(&gguf, DType::F32, &Device::Cpu).unwrap();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    println!("SmolLM2-135M-Instruct Q4_1 GGUF; prompt {} tokens; {n} tokens generated greedily; CPU: {cpu}", prompt.len());
    println!("paths this CPU has: {:?}\n", Isa::available());
    println!("{:<34} {:>7} {:>10} {:>12}", "kernels", "threads", "TTFT ms", "decode tok/s");
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut kernels: Vec<Kernels> = Isa::available().into_iter().rev().map(Kernels::Portable).collect();
        kernels.push(Kernels::Candle);
        let mut portable_best: Option<Run> = None;
        let mut candle: Option<Run> = None;
        for k in kernels {
            // One warm-up token, then the timed run.
            pool.install(|| generate(&model, k, &prompt, 2));
            let r = pool.install(|| generate(&model, k, &prompt, n));
            println!("{:<34} {:>7} {:>10.1} {:>12.2}", k.describe(), threads, r.ttft_ms, r.decode_tps);
            match k {
                Kernels::Portable(_) if portable_best.is_none() => portable_best = Some(r),
                Kernels::Portable(_) => assert_eq!(Some(&r.tokens), portable_best.as_ref().map(|p| &p.tokens), "paths disagree"),
                Kernels::Candle => candle = Some(r),
            }
        }
        let (p, c) = (portable_best.unwrap(), candle.unwrap());
        println!(
            "  portable ({}) / candle: decode {:.2}x, TTFT {:.2}x (same tokens: {})",
            Isa::best().as_str(),
            p.decode_tps / c.decode_tps,
            c.ttft_ms / p.ttft_ms,
            p.tokens == c.tokens
        );
        match llama_cpp(&gguf, threads, n) {
            Some(v) => {
                let (lt, ltt) = (v["decode_tps"].as_f64().unwrap_or(0.0), v["ttft_ms"].as_f64().unwrap_or(0.0));
                println!(
                    "{:<34} {:>7} {:>10.1} {:>12.2}   peak {:.0} MiB",
                    "llama.cpp (llama-cpp-python)",
                    threads,
                    ltt,
                    lt,
                    v["peak_mib"].as_f64().unwrap_or(0.0)
                );
                println!("  portable / llama.cpp: decode {:.2}x (goal >= 0.5), TTFT {:.2}x", p.decode_tps / lt, ltt / p.ttft_ms);
            }
            None => println!("  llama.cpp: not installed (make llama-cpp) — no ratio"),
        }
        println!();
    }
    println!("peak memory of this process (model loaded once, all runs): {:.0} MiB", peak_rss_mib());
}
