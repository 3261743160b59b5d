//! mistral.rs itself: loading a model and generating with the executor's token choice (see the
//! parent module for why each setting is what it is).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Tensor};
use mistralrs::core::{RequestMessage, TokenSource};
use mistralrs::{
    Constraint, CustomLogitsProcessor, GgufModelBuilder, ModelDType, NormalRequest, Request, Response, SamplingParams, TextModelBuilder,
};

use super::MistralSettings;
use crate::error::{ExecutorError, Result};
use crate::sampling::TokenSelector;

/// A model loaded in mistral.rs.
pub struct MistralEngine {
    model: mistralrs::Model,
}

fn mistral_err(e: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::Mistral(e.to_string())
}

/// The executor's token choice, run inside mistral.rs's sampler.
struct Chooser {
    state: Mutex<(TokenSelector, Vec<u32>)>,
}

impl CustomLogitsProcessor for Chooser {
    fn apply(&self, logits: &Tensor, _context: &[u32]) -> candle_core::Result<Tensor> {
        let values = logits.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let mut state = self.state.lock().map_err(|_| candle_core::Error::Msg("token chooser poisoned".into()))?;
        let token = state.0.select(&values);
        state.1.push(token);
        let mut mask = vec![f32::NEG_INFINITY; values.len()];
        if let Some(m) = mask.get_mut(token as usize) {
            *m = 0.0;
        }
        Tensor::from_vec(mask, logits.shape(), logits.device())?.to_dtype(logits.dtype())
    }
}

/// Counts sampling steps without touching the logits (the baseline's token counter).
struct Counter(AtomicUsize);

impl CustomLogitsProcessor for Counter {
    fn apply(&self, logits: &Tensor, _context: &[u32]) -> candle_core::Result<Tensor> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(logits.clone())
    }
}

impl MistralEngine {
    /// Loads a GGUF file or a Hugging Face directory, from local files only.
    pub async fn load(path: &Path, gguf: bool, settings: MistralSettings) -> Result<Self> {
        tracing::info!(
            "loading {} with mistral.rs (max_num_seqs {}, prefix cache {:?})",
            path.display(),
            settings.max_num_seqs,
            settings.prefix_cache_n
        );
        let model = if gguf {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let file = path
                .file_name()
                .and_then(|f| f.to_str())
                .ok_or_else(|| ExecutorError::Config(format!("bad GGUF path {}", path.display())))?;
            let mut b = GgufModelBuilder::new(dir.to_string_lossy(), vec![file])
                .with_token_source(TokenSource::None)
                .with_max_num_seqs(settings.max_num_seqs)
                .with_prefix_cache_n(settings.prefix_cache_n);
            if cfg!(not(feature = "cuda")) {
                b = b.with_force_cpu();
            }
            b.build().await.map_err(mistral_err)?
        } else {
            let dtype = match settings.dtype {
                DType::F16 => ModelDType::F16,
                DType::BF16 => ModelDType::BF16,
                _ => ModelDType::F32,
            };
            let mut b = TextModelBuilder::new(path.to_string_lossy())
                .with_token_source(TokenSource::None)
                .with_dtype(dtype)
                .with_max_num_seqs(settings.max_num_seqs)
                .with_prefix_cache_n(settings.prefix_cache_n);
            if cfg!(not(feature = "cuda")) {
                b = b.with_force_cpu();
            }
            b.build().await.map_err(mistral_err)?
        };
        tracing::info!("mistral.rs: {} loaded", path.display());
        Ok(Self { model })
    }

    /// Generates up to `max_tokens` tokens after `prompt`, choosing each with `selector`.
    /// Returns the chosen ids (generation stops early at mistral.rs's end-of-sequence tokens).
    pub async fn generate(&self, prompt: Vec<u32>, max_tokens: usize, selector: TokenSelector) -> Result<Vec<u32>> {
        let chooser = Arc::new(Chooser { state: Mutex::new((selector, Vec::with_capacity(max_tokens))) });
        self.send(prompt, max_tokens, Some(chooser.clone() as Arc<dyn CustomLogitsProcessor>)).await?;
        let state = chooser.state.lock().map_err(|_| ExecutorError::Mistral("token chooser poisoned".into()))?;
        Ok(state.1.clone())
    }

    /// Plain mistral.rs greedy completion (its own sampler, no executor logic): the benchmark
    /// baseline. Returns the number of generated tokens, counted by a pass-through logits
    /// processor (one call per sampled token; it leaves the logits untouched).
    pub async fn generate_plain(&self, prompt: Vec<u32>, max_tokens: usize) -> Result<usize> {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        self.send(prompt, max_tokens, Some(counter.clone())).await?;
        Ok(counter.0.load(Ordering::Relaxed))
    }

    async fn send(&self, prompt: Vec<u32>, max_tokens: usize, processor: Option<Arc<dyn CustomLogitsProcessor>>) -> Result<()> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        // top_k = 1: mistral.rs's arg-max. (A request without temperature is *not* greedy in
        // mistral.rs: it samples at temperature 1.0 from the engine-global RNG.) With the
        // executor's chooser every logit but one is −∞, so this picks the chooser's token.
        let sampling_params = SamplingParams { max_len: Some(max_tokens), ..SamplingParams::deterministic() };
        let logits_processors = processor.map(|c| vec![c]);
        let request = Request::Normal(Box::new(NormalRequest {
            messages: RequestMessage::CompletionTokens(prompt),
            sampling_params,
            response: tx,
            return_logprobs: false,
            is_streaming: false,
            id: 0,
            constraint: Constraint::None,
            suffix: None,
            tools: None,
            tool_choice: None,
            logits_processors,
            return_raw_logits: false,
            web_search_options: None,
            model_id: None,
            truncate_sequence: false,
        }));
        let sender = self.model.inner().get_sender(None).map_err(mistral_err)?;
        sender.send(request).await.map_err(|_| ExecutorError::EngineStopped("mistral.rs request channel closed".into()))?;
        match rx.recv().await {
            Some(Response::CompletionDone(_)) => Ok(()),
            Some(Response::CompletionModelError(msg, _)) => Err(ExecutorError::Mistral(msg)),
            Some(Response::InternalError(e)) => Err(ExecutorError::Mistral(e.to_string())),
            Some(Response::ValidationError(e)) => Err(ExecutorError::InvalidRequest(e.to_string())),
            Some(_) => Err(ExecutorError::Mistral("unexpected response kind".into())),
            None => Err(ExecutorError::EngineStopped("mistral.rs dropped the request".into())),
        }
    }

    /// Context length mistral.rs reports for the model.
    pub fn max_sequence_length(&self) -> Option<usize> {
        self.model.max_sequence_length().ok().flatten()
    }
}
