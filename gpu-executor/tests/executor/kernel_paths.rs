//! The cross-machine determinism profile, proved on one machine: every instruction-set path
//! this CPU has (scalar, SSE2, AVX2) at 1 and 2 threads gives the same output hashes over 50
//! prompts, and the same ModelFactory training (losses and adapter bits), for the tiny random
//! Llama (safetensors and GGUF) and SmolLM2-135M (Q4_1/Q8_0 GGUF);
//! a configuration that cannot guarantee that (a path whose bits differ, mistral.rs, candle's
//! kernels) is refused at start-up. `make determinism` repeats the comparison across separate
//! builds (`-C target-cpu=x86-64`, `x86-64-v3`, `native`).

use candle_core::{DType, Device};
use open_executor::executor::{BaseEngine, Executor, ExecutorConfig};
use open_executor::hashing::to_hex;
use open_executor::kernels::{Isa, PORTABLE_CLASS};
use open_executor::llama::{Kernels, LlamaModel};
use open_executor::{probe, ExecutorError};

use crate::common::{fixture, params, smollm2};

/// Every path × {1, 2} threads against the scalar definition on one thread.
fn every_path_agrees(model: &LlamaModel, steps: usize, what: &str) {
    let run = |k, threads| probe::digests(model, k, threads, steps).unwrap();
    let reference = run(Kernels::Portable(Isa::Scalar), 1);
    let mut seen = Vec::new();
    for isa in Isa::available() {
        for threads in [1, 2] {
            let got = run(Kernels::Portable(isa), threads);
            let differing: Vec<usize> = (0..got.len()).filter(|&i| got[i] != reference[i]).collect();
            assert!(differing.is_empty(), "{what}: {} at {threads} threads differs from scalar on prompts {differing:?}", isa.as_str());
            seen.push(format!("{}x{threads}", isa.as_str()));
        }
    }
    eprintln!("{what}: 50 prompts x {steps} tokens, identical on {seen:?}: {}", to_hex(&probe::combined(&reference)));
}

#[test]
fn tiny_llama_is_identical_on_every_path_and_thread_count() {
    let f = fixture();
    let st = LlamaModel::load_hf_dir(&f.model, DType::F32, &Device::Cpu).unwrap();
    every_path_agrees(&st, 6, "tiny Llama (safetensors, f32)");
    let gguf = f.root.join("tiny-llama-paths.gguf");
    open_executor::fixtures::write_gguf_copy(&f.model, &gguf).unwrap();
    let gg = LlamaModel::load_gguf(&gguf, DType::F32, &Device::Cpu).unwrap();
    every_path_agrees(&gg, 6, "tiny Llama (GGUF)");
}

#[test]
fn smollm2_is_identical_on_every_path_and_thread_count() {
    let Some(gguf) = smollm2() else { return };
    let model = LlamaModel::load_gguf(&gguf, DType::F32, &Device::Cpu).unwrap();
    every_path_agrees(&model, 2, "SmolLM2-135M (Q4_1 + Q8_0 GGUF)");
}

/// The training probe on every path × {1, 2} threads against the scalar definition on one
/// thread.
fn training_agrees_on_every_path(model: &LlamaModel, steps: usize, what: &str) {
    let started = std::time::Instant::now();
    let reference = probe::training_digest(model, Isa::Scalar, 1, steps).unwrap();
    let mut seen = Vec::new();
    for isa in Isa::available() {
        for threads in [1, 2] {
            if (isa, threads) == (Isa::Scalar, 1) {
                continue;
            }
            let got = probe::training_digest(model, isa, threads, steps).unwrap();
            assert_eq!(to_hex(&got), to_hex(&reference), "{what}: training on {} at {threads} threads differs from scalar", isa.as_str());
            seen.push(format!("{}x{threads}", isa.as_str()));
        }
    }
    eprintln!(
        "{what}: {steps} training steps identical on scalarx1 and {seen:?}: {} ({:.1} s)",
        to_hex(&reference),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn tiny_llama_training_is_identical_on_every_path_and_thread_count() {
    let f = fixture();
    let st = LlamaModel::load_hf_dir(&f.model, DType::F32, &Device::Cpu).unwrap();
    training_agrees_on_every_path(&st, 6, "tiny Llama (safetensors, f32)");
    let gguf = f.root.join("tiny-llama-train-paths.gguf");
    open_executor::fixtures::write_gguf_copy(&f.model, &gguf).unwrap();
    let gg = LlamaModel::load_gguf(&gguf, DType::F32, &Device::Cpu).unwrap();
    training_agrees_on_every_path(&gg, 6, "tiny Llama (GGUF)");
}

#[test]
fn smollm2_training_is_identical_on_every_path_and_thread_count() {
    let Some(gguf) = smollm2() else { return };
    let model = LlamaModel::load_gguf(&gguf, DType::F32, &Device::Cpu).unwrap();
    training_agrees_on_every_path(&model, 2, "SmolLM2-135M (Q4_1 + Q8_0 GGUF, dequantized)");
}

#[test]
fn the_self_check_refuses_kernels_that_differ_from_the_definition() {
    let f = fixture();
    let model = LlamaModel::load_hf_dir(&f.model, DType::F32, &Device::Cpu).unwrap();
    model.self_check().unwrap();
    // candle's CPU kernels sum in another order: the check sees the difference and refuses.
    let e = model.self_check_between(Kernels::Candle, Kernels::Portable(Isa::Scalar)).unwrap_err();
    assert!(matches!(e, ExecutorError::Kernel(_)), "{e}");
    assert!(e.to_string().contains("refusing to serve"), "{e}");
}

async fn start(config: ExecutorConfig) -> Result<Executor, ExecutorError> {
    Executor::start(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_specific_configurations_are_refused_unless_allowed() {
    let f = fixture();
    let models = vec![f.model.clone()];
    for config in [
        ExecutorConfig { models: models.clone(), base_engine: BaseEngine::Mistral, ..Default::default() },
        ExecutorConfig { models: models.clone(), kernels: Kernels::Candle, ..Default::default() },
    ] {
        let e = start(config).await.err().expect("refused");
        assert!(matches!(e, ExecutorError::Kernel(_)) && e.to_string().contains("--allow-machine-specific"), "{e}");
    }
    let allowed =
        start(ExecutorConfig { models: models.clone(), kernels: Kernels::Candle, allow_machine_specific: true, ..Default::default() })
            .await
            .unwrap();
    assert!(allowed.health().unwrap().hardware_class.starts_with("machine-specific: candle's CPU kernels"));

    // Executors on different paths serve the same output hashes, and say which class they are.
    let mut hashes: Vec<Vec<String>> = Vec::new();
    for isa in Isa::available() {
        let exec = start(ExecutorConfig { models: models.clone(), kernels: Kernels::Portable(isa), ..Default::default() }).await.unwrap();
        let h = exec.health().unwrap();
        assert_eq!((h.hardware_class.as_str(), h.kernel_path.as_str()), (PORTABLE_CLASS, isa.as_str()));
        let model = exec.model_hashes()[0].clone();
        let mut out = Vec::new();
        for i in 0..10 {
            out.push(to_hex(&exec.execute(params(&model, "", &format!("prompt {i}: validators agree"), 12)).await.unwrap().output_hash));
        }
        hashes.push(out);
    }
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
}
