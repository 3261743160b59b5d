//! OpenLoRA serving: one base model in memory and a worker thread that runs requests for any mix
//! of adapters in one batch (continuous batching: a request is prefilled alone, then joins the
//! batch's decode steps; finished sequences leave it).
//!
//! The model's kernels are batch-invariant (see [`crate::llama`]), so a sequence's tokens do not
//! depend on what else is in the batch or when it joined. A request under a SEQUENTIAL profile
//! waits for the batch to drain and then runs alone.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::{ExecutorError, Result};
use crate::llama::{LlamaModel, Segment, SeqCache};
use crate::lora::LoraAdapter;
use crate::sampling::TokenSelector;

/// One generation request for the OpenLoRA engine.
pub struct GenerationRequest {
    /// Prompt token ids (non-empty).
    pub prompt: Vec<u32>,
    /// Tokens to generate at most.
    pub max_tokens: usize,
    /// Token choice for this sequence.
    pub selector: TokenSelector,
    /// Adapter applied unmerged; None for the base model.
    pub adapter: Option<Arc<LoraAdapter>>,
    /// Run alone (SEQUENTIAL profile).
    pub sequential: bool,
    /// End-of-sequence ids: generation stops after choosing one.
    pub eos: Vec<u32>,
}

/// Chosen token ids (the last one may be an end-of-sequence id).
pub type Generation = Vec<u32>;

type Reply = tokio::sync::oneshot::Sender<Result<Generation>>;

struct Job {
    req: GenerationRequest,
    reply: Reply,
}

struct Active {
    reply: Reply,
    selector: TokenSelector,
    adapter: Option<Arc<LoraAdapter>>,
    cache: SeqCache,
    tokens: Vec<u32>,
    max_tokens: usize,
    eos: Vec<u32>,
    sequential: bool,
}

impl Active {
    fn done(&self) -> bool {
        self.tokens.len() >= self.max_tokens || self.tokens.last().is_some_and(|t| self.eos.contains(t))
    }
}

/// The OpenLoRA engine: a worker thread owning the batch.
pub struct OpenLoraEngine {
    model: Arc<LlamaModel>,
    tx: Option<SyncSender<Job>>,
    worker: Option<JoinHandle<()>>,
}

impl OpenLoraEngine {
    /// Starts the worker with at most `max_batch` sequences at once and `queue_depth` waiting.
    pub fn start(model: Arc<LlamaModel>, max_batch: usize, queue_depth: usize) -> Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel(queue_depth.max(1));
        let m = model.clone();
        let worker = std::thread::Builder::new()
            .name("openlora".into())
            .spawn(move || worker_loop(&m, rx, max_batch.max(1)))
            .map_err(|e| ExecutorError::EngineStopped(format!("cannot start the OpenLoRA worker: {e}")))?;
        Ok(Self { model, tx: Some(tx), worker: Some(worker) })
    }

    /// The base model.
    pub fn model(&self) -> &Arc<LlamaModel> {
        &self.model
    }

    fn submit(&self, req: GenerationRequest) -> Result<tokio::sync::oneshot::Receiver<Result<Generation>>> {
        if req.prompt.is_empty() || req.max_tokens == 0 {
            return Err(ExecutorError::InvalidRequest("empty prompt or max_tokens 0".into()));
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        let tx = self.tx.as_ref().ok_or_else(|| ExecutorError::EngineStopped("OpenLoRA engine shut down".into()))?;
        match tx.try_send(Job { req, reply }) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(ExecutorError::ResourceExhausted("OpenLoRA queue is full".into())),
            Err(TrySendError::Disconnected(_)) => Err(ExecutorError::EngineStopped("OpenLoRA worker stopped".into())),
        }
    }

    /// Runs a request to completion.
    pub async fn generate(&self, req: GenerationRequest) -> Result<Generation> {
        let rx = self.submit(req)?;
        rx.await.map_err(|_| ExecutorError::EngineStopped("OpenLoRA worker dropped the request".into()))?
    }

    /// Runs a request to completion, blocking the calling (non-async) thread.
    pub fn generate_blocking(&self, req: GenerationRequest) -> Result<Generation> {
        let rx = self.submit(req)?;
        rx.blocking_recv().map_err(|_| ExecutorError::EngineStopped("OpenLoRA worker dropped the request".into()))?
    }

    /// Submits many requests at once and waits for all (they share batches).
    pub fn generate_many_blocking(&self, reqs: Vec<GenerationRequest>) -> Vec<Result<Generation>> {
        let rxs: Vec<_> = reqs.into_iter().map(|r| self.submit(r)).collect();
        rxs.into_iter()
            .map(|rx| {
                rx.and_then(|rx| {
                    rx.blocking_recv().map_err(|_| ExecutorError::EngineStopped("OpenLoRA worker dropped the request".into()))?
                })
            })
            .collect()
    }
}

impl Drop for OpenLoraEngine {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(w) = self.worker.take() {
            if w.join().is_err() {
                tracing::error!("OpenLoRA worker panicked");
            }
        }
    }
}

fn prefill(model: &LlamaModel, job: Job) -> Option<Active> {
    let Job { req, reply } = job;
    let mut cache = model.new_cache(req.prompt.len() + req.max_tokens);
    let seg = Segment { row: 0, len: req.prompt.len(), pos: 0, adapter: req.adapter.as_deref() };
    let mut selector = req.selector;
    let logits = model.forward(&req.prompt, &[seg], &mut [&mut cache]).and_then(|l| Ok(l.get(0)?.to_vec1::<f32>()?));
    match logits {
        Ok(row) => {
            let first = selector.select(&row);
            let a = Active {
                reply,
                selector,
                adapter: req.adapter,
                cache,
                tokens: vec![first],
                max_tokens: req.max_tokens,
                eos: req.eos,
                sequential: req.sequential,
            };
            Some(a)
        }
        Err(e) => {
            let _ = reply.send(Err(e));
            None
        }
    }
}

fn worker_loop(model: &LlamaModel, rx: Receiver<Job>, max_batch: usize) {
    let mut pending: VecDeque<Job> = VecDeque::new();
    let mut active: Vec<Active> = Vec::new();
    loop {
        if active.is_empty() && pending.is_empty() {
            match rx.recv() {
                Ok(j) => pending.push_back(j),
                Err(_) => return,
            }
        }
        while let Ok(j) = rx.try_recv() {
            pending.push_back(j);
        }
        // Admit: prefill new sequences alone, then they join the decode batch.
        while active.len() < max_batch && !active.iter().any(|a| a.sequential) {
            let Some(front) = pending.front() else { break };
            if front.req.sequential && !active.is_empty() {
                break;
            }
            let Some(job) = pending.pop_front() else { break };
            if let Some(a) = prefill(model, job) {
                if a.done() {
                    let _ = a.reply.send(Ok(a.tokens));
                } else {
                    active.push(a);
                }
            }
        }
        if active.is_empty() {
            continue;
        }
        // One decode step for the whole batch.
        let tokens: Vec<u32> = active.iter().map(|a| *a.tokens.last().unwrap_or(&0)).collect();
        let positions: Vec<usize> = active.iter().map(|a| a.cache.pos()).collect();
        // Adapters through their own Arcs, so the caches can be borrowed mutably beside them.
        let adapters: Vec<Option<Arc<LoraAdapter>>> = active.iter().map(|a| a.adapter.clone()).collect();
        let segs: Vec<Segment<'_>> = adapters
            .iter()
            .zip(&positions)
            .enumerate()
            .map(|(i, (a, &pos))| Segment { row: i, len: 1, pos, adapter: a.as_deref() })
            .collect();
        let mut caches: Vec<&mut SeqCache> = active.iter_mut().map(|a| &mut a.cache).collect();
        let step = model.forward(&tokens, &segs, &mut caches).and_then(|l| Ok(l.to_vec2::<f32>()?));
        drop(caches);
        match step {
            Ok(rows) => {
                for (a, row) in active.iter_mut().zip(rows) {
                    let t = a.selector.select(&row);
                    a.tokens.push(t);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for a in active.drain(..) {
                    let _ = a.reply.send(Err(ExecutorError::EngineStopped(format!("OpenLoRA step failed: {msg}"))));
                }
                continue;
            }
        }
        let (done, running): (Vec<Active>, Vec<Active>) = active.into_iter().partition(Active::done);
        active = running;
        for a in done {
            let _ = a.reply.send(Ok(a.tokens));
        }
    }
}
