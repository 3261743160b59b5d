//! OpenLoRA: an adapter applied unmerged gives the tokens of the same adapter merged into the
//! weights (on mistral.rs and on OpenLoRA's own model); different adapters give different outputs;
//! a mixed-adapter batch gives each request what it gets alone; the cache evicts and reloads.

use std::sync::Arc;

use candle_core::{DType, Device};
use open_executor::executor::{BaseEngine, Executor, ExecutorConfig, Limits};
use open_executor::fixtures::{write_random_adapter, AdapterSpec};
use open_executor::llama::LlamaModel;
use open_executor::lora::{AdapterLimits, LoraAdapter};
use open_executor::openlora::{GenerationRequest, OpenLoraEngine};
use open_executor::profile::SamplingMode;
use open_executor::sampling::TokenSelector;

use crate::common::{executor, fixture, params};

const PROMPT: &str = "Data contributors are paid when";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmerged_adapter_gives_the_merged_models_tokens() {
    let f = fixture();
    // Base + adapter a0 unmerged, and the merged copy as an ordinary model (both on the portable
    // kernels; the engine-level check below compares OpenLoRA's batching too).
    let exec = executor(vec![f.model.clone(), f.merged.clone()], true, Limits::default()).await;
    let (base, merged) = (exec.model_hashes()[0].clone(), exec.model_hashes()[1].clone());
    assert_ne!(base, merged);
    let a0 = exec.load_adapter(&base, &f.adapter(0)).await.unwrap().hash;
    for prompt in [PROMPT, "OPEN", "the model factory trains adapters on datanets"] {
        let unmerged = exec.execute(params(&base, &a0, prompt, 40)).await.unwrap();
        let merged_out = exec.execute(params(&merged, "", prompt, 40)).await.unwrap();
        assert_eq!(unmerged.engine, "openlora");
        assert_eq!(merged_out.engine, "openlora");
        assert!(unmerged.tokens.len() >= 8, "{unmerged:?}");
        assert_eq!(unmerged.tokens, merged_out.tokens, "prompt {prompt:?}: unmerged vs merged");
        assert_eq!(unmerged.output_hash, merged_out.output_hash);
        // And the base alone answers differently: the adapter matters.
        let plain = exec.execute(params(&base, "", prompt, 40)).await.unwrap();
        assert_ne!(plain.tokens, unmerged.tokens);
    }
    // The same check inside OpenLoRA alone (merged weights through the same kernels).
    let model = Arc::new(LlamaModel::load_hf_dir(&f.model, DType::F32, &Device::Cpu).unwrap());
    let merged_model = Arc::new(LlamaModel::load_hf_dir(&f.merged, DType::F32, &Device::Cpu).unwrap());
    let adapter = Arc::new(LoraAdapter::load(&f.adapter(0), &model, &AdapterLimits::default()).unwrap());
    let prompt: Vec<u32> = PROMPT.bytes().map(u32::from).collect();
    let req = |adapter: Option<Arc<LoraAdapter>>| GenerationRequest {
        prompt: prompt.clone(),
        max_tokens: 40,
        selector: TokenSelector::new(SamplingMode::Greedy, 0),
        adapter,
        sequential: false,
        eos: vec![256],
    };
    let e1 = OpenLoraEngine::start(model, 4, 8).unwrap();
    let e2 = OpenLoraEngine::start(merged_model, 4, 8).unwrap();
    assert_eq!(e1.generate(req(Some(adapter))).await.unwrap(), e2.generate(req(None)).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_on_a_gguf_base_matches_the_same_adapter_on_safetensors() {
    // GGUF stores Q/K rows permuted for interleaved RoPE; a PEFT adapter's B rows must follow.
    let f = fixture();
    let gguf = f.root.join("tiny-llama.gguf");
    open_executor::fixtures::write_gguf_copy(&f.model, &gguf).unwrap();
    let st = Arc::new(LlamaModel::load_hf_dir(&f.model, DType::F32, &Device::Cpu).unwrap());
    let gg = Arc::new(LlamaModel::load_gguf(&gguf, DType::F32, &Device::Cpu).unwrap());
    // GGUF keeps rms_eps as f32, which is also the precision the norm uses.
    assert_eq!(&open_executor::llama::LlamaConfig { rms_eps: f64::from(st.config().rms_eps as f32), ..st.config().clone() }, gg.config());
    let lim = AdapterLimits::default();
    let req = |adapter: Option<Arc<LoraAdapter>>| GenerationRequest {
        prompt: PROMPT.bytes().map(u32::from).collect(),
        max_tokens: 40,
        selector: TokenSelector::new(SamplingMode::Greedy, 0),
        adapter,
        sequential: false,
        eos: vec![256],
    };
    // An adapter on q_proj and k_proj (both permuted in GGUF) and v_proj.
    let dir = f.root.join("adapter-qkv");
    let spec = AdapterSpec { targets: vec!["q_proj".into(), "k_proj".into(), "v_proj".into()], ..AdapterSpec::default() };
    write_random_adapter(&dir, st.config(), &spec, 77).unwrap();
    let (a_st, a_gg) = (LoraAdapter::load(&dir, &st, &lim).unwrap(), LoraAdapter::load(&dir, &gg, &lim).unwrap());
    let e_st = OpenLoraEngine::start(st, 2, 4).unwrap();
    let e_gg = OpenLoraEngine::start(gg, 2, 4).unwrap();
    let base = e_st.generate(req(None)).await.unwrap();
    assert_eq!(base, e_gg.generate(req(None)).await.unwrap(), "base model: GGUF vs safetensors");
    let with_st = e_st.generate(req(Some(Arc::new(a_st)))).await.unwrap();
    assert_ne!(with_st, base);
    assert_eq!(with_st, e_gg.generate(req(Some(Arc::new(a_gg)))).await.unwrap(), "adapter: GGUF vs safetensors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_adapters_give_different_outputs() {
    let f = fixture();
    let exec = executor(vec![f.model.clone()], true, Limits::default()).await;
    let model = exec.model_hashes()[0].clone();
    let list = exec.list().unwrap();
    assert_eq!(list.adapters.len(), 3);
    let mut outs = Vec::new();
    for a in &list.adapters {
        outs.push(exec.execute(params(&model, &a.hash, PROMPT, 24)).await.unwrap());
    }
    outs.push(exec.execute(params(&model, "", PROMPT, 24)).await.unwrap());
    for i in 0..outs.len() {
        for j in i + 1..outs.len() {
            assert_ne!(outs[i].output_hash, outs[j].output_hash, "outputs {i} and {j} are equal");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_adapter_batch_matches_requests_run_alone() {
    let f = fixture();
    let model = Arc::new(LlamaModel::load_hf_dir(&f.model, DType::F32, &Device::Cpu).unwrap());
    let adapters: Vec<Arc<LoraAdapter>> =
        (0..3).map(|i| Arc::new(LoraAdapter::load(&f.adapter(i), &model, &AdapterLimits::default()).unwrap())).collect();
    let prompts = ["a", "batched requests", "for different adapters", "run together", "OpenLoRA", "zz top"];
    let make = |i: usize| GenerationRequest {
        prompt: prompts[i].bytes().map(u32::from).collect(),
        max_tokens: 12 + 5 * i,
        selector: TokenSelector::new(
            if i.is_multiple_of(2) { SamplingMode::Greedy } else { SamplingMode::Seeded { temperature_milli: 800, top_k: 20 } },
            i as u64,
        ),
        adapter: if i % 4 == 3 { None } else { Some(adapters[i % 3].clone()) },
        sequential: false,
        eos: vec![256],
    };
    let engine = OpenLoraEngine::start(model, 8, 16).unwrap();
    let mut alone: Vec<Vec<u32>> = Vec::new();
    for i in 0..prompts.len() {
        alone.push(engine.generate(make(i)).await.unwrap());
    }
    let reqs: Vec<GenerationRequest> = (0..prompts.len()).map(make).collect();
    let batched = tokio::task::spawn_blocking(move || {
        let out = engine.generate_many_blocking(reqs);
        drop(engine);
        out
    })
    .await
    .unwrap();
    for (i, (a, b)) in alone.iter().zip(batched).enumerate() {
        assert_eq!(a, &b.unwrap(), "request {i}: batched output differs from running alone");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_cache_evicts_within_budget_and_reloads_on_demand() {
    let f = fixture();
    let model = LlamaModel::load_hf_dir(&f.model, DType::F32, &Device::Cpu).unwrap();
    let one = LoraAdapter::load(&f.adapter(0), &model, &AdapterLimits::default()).unwrap().bytes();
    let limits = Limits { adapter_cache_bytes: one * 2, ..Limits::default() };
    let exec = Executor::start(ExecutorConfig {
        models: vec![f.model.clone()],
        adapter_dirs: vec![f.adapters.clone()],
        base_engine: BaseEngine::OpenLora,
        limits,
        ..Default::default()
    })
    .await
    .unwrap();
    let model = exec.model_hashes()[0].clone();
    let hashes: Vec<String> = exec.list().unwrap().adapters.into_iter().map(|a| a.hash).collect();
    let mut first = Vec::new();
    for h in &hashes {
        first.push(exec.execute(params(&model, h, PROMPT, 10)).await.unwrap());
        let health = exec.health().unwrap();
        assert!(health.adapter_cache_bytes <= health.adapter_cache_budget_bytes);
        assert!(health.adapters_cached <= 2);
    }
    // Round two: evicted adapters come back from disk and answer the same.
    for (h, out) in hashes.iter().zip(&first) {
        assert_eq!(&exec.execute(params(&model, h, PROMPT, 10)).await.unwrap(), out);
    }
    assert_eq!(exec.health().unwrap().adapters_registered, 3);
}
