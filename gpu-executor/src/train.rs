//! ModelFactory training: LoRA fine-tuning of a Llama-family base model on the rows of a datanet
//! version, deterministic to the byte so that every validator's executor reports the same adapter.
//!
//! * Everything random comes from the job's seed: the eval split (a hash per row), the data order
//!   of every epoch (ChaCha20 seeded from the seed and the epoch) and the adapter's initial A
//!   matrices (ChaCha20 per layer and projection; B starts at zero, as PEFT does).
//! * The base weights are frozen dense f32 copies; only the LoRA A/B matrices are candle `Var`s.
//!   The forward pass is the OpenLoRA Llama written with differentiable candle ops (RMSNorm, RoPE
//!   in the model's own layout, causal attention, SiLU MLP) over each step's rows right-padded
//!   into one batch (padding masked out of the loss). The seed fixes which rows form a step, so
//!   every executor runs the same shapes; a step's loss is the batch's summed token loss divided
//!   by its token count. Gradients come from candle's autograd and the optimizer is AdamW, both
//!   element-wise or fixed-order reductions.
//! * The result is a PEFT adapter (`adapter_config.json` + `adapter_model.safetensors`, f32), so
//!   OpenLoRA and any PEFT tool load it unchanged; for a GGUF base, whose Q/K rows are stored
//!   permuted for interleaved RoPE, B's rows are written back in the Hugging Face order.
//! * The training log (config, data root, every step's loss bits, the eval loss bits and the
//!   adapter hash) is hashed, so validators can agree on how the adapter was made, not only on it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Tensor, Var, D};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use prost::Message;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::error::{ExecutorError, Result};
use crate::hashing::Digest32;
use crate::llama::{rope_tables, Kernels, LlamaModel, WeightFormat};
use crate::lora::{adapter_hash, AdapterLimits, Proj};
use crate::pb;
use crate::tokenizer::TextTokenizer;

mod portable;

/// Domain of the config hash: `sha256(CONFIG_DOMAIN ‖ protobuf of the normalized TrainConfig)`.
pub const CONFIG_DOMAIN: &[u8] = b"openledger.modelfactory.v1.config";
/// Domain of the training-log hash.
pub const LOG_DOMAIN: &[u8] = b"openledger.modelfactory.v1.log";

/// Default LoRA rank.
pub const DEFAULT_RANK: u32 = 8;
/// Default learning rate × 10⁶.
pub const DEFAULT_LEARNING_RATE_MICRO: u32 = 1000;
/// Default rows per step.
pub const DEFAULT_BATCH_SIZE: u32 = 4;
/// Default held-out share, in basis points.
pub const DEFAULT_EVAL_SPLIT_BPS: u32 = 1000;
/// Default tokens per row.
pub const DEFAULT_MAX_SEQ_LEN: u32 = 128;

/// Bounds on what a training request may ask for (every one is attacker-controlled).
#[derive(Clone, Copy, Debug)]
pub struct TrainLimits {
    /// Largest rank.
    pub max_rank: u32,
    /// Rows per job at most.
    pub max_rows: usize,
    /// Largest row in bytes.
    pub max_row_bytes: usize,
    /// All rows together, in bytes.
    pub max_total_bytes: usize,
    /// Optimizer steps per job at most.
    pub max_steps: u32,
    /// Epochs at most.
    pub max_epochs: u32,
    /// Rows per step at most.
    pub max_batch: u32,
    /// Tokens per row at most.
    pub max_seq_len: u32,
}

impl Default for TrainLimits {
    fn default() -> Self {
        Self {
            max_rank: 64,
            max_rows: 100_000,
            max_row_bytes: 64 << 10,
            max_total_bytes: 64 << 20,
            max_steps: 100_000,
            max_epochs: 100,
            max_batch: 64,
            max_seq_len: 2048,
        }
    }
}

/// A normalized training configuration (defaults filled in, targets in projection order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainSettings {
    /// LoRA rank.
    pub rank: u32,
    /// lora_alpha.
    pub alpha: u32,
    /// Adapted projections, in [`Proj::ALL`] order.
    pub targets: Vec<Proj>,
    /// Learning rate × 10⁶.
    pub learning_rate_micro: u32,
    /// Passes over the training split.
    pub epochs: u32,
    /// Step cap (0: none).
    pub max_steps: u32,
    /// Rows per step.
    pub batch_size: u32,
    /// Seed of split, order and init.
    pub seed: u64,
    /// Held-out share in basis points.
    pub eval_split_bps: u32,
    /// Tokens per row at most.
    pub max_seq_len: u32,
}

fn invalid(msg: impl Into<String>) -> ExecutorError {
    ExecutorError::InvalidRequest(msg.into())
}

impl TrainSettings {
    /// Normalizes and checks a wire config (None or zero fields: defaults).
    pub fn from_proto(c: Option<&pb::TrainConfig>, limits: &TrainLimits) -> Result<Self> {
        let d = pb::TrainConfig::default();
        let c = c.unwrap_or(&d);
        let or = |v: u32, default: u32| if v == 0 { default } else { v };
        let rank = or(c.rank, DEFAULT_RANK);
        if rank > limits.max_rank {
            return Err(invalid(format!("rank {rank} out of range 1..={}", limits.max_rank)));
        }
        let alpha = if c.alpha == 0 { rank.saturating_mul(2) } else { c.alpha };
        if alpha > 1_000_000 {
            return Err(invalid(format!("alpha {alpha} above 1000000")));
        }
        let mut targets = Vec::new();
        for name in &c.target_modules {
            let p = Proj::from_peft(name.trim()).ok_or_else(|| invalid(format!("unknown target module {name:?}")))?;
            if !targets.contains(&p) {
                targets.push(p);
            }
        }
        if targets.is_empty() {
            targets = vec![Proj::Q, Proj::V];
        }
        targets.sort_by_key(|p| *p as usize);
        let learning_rate_micro = or(c.learning_rate_micro, DEFAULT_LEARNING_RATE_MICRO);
        if learning_rate_micro > 1_000_000 {
            return Err(invalid(format!("learning rate {learning_rate_micro}e-6 above 1.0")));
        }
        let epochs = or(c.epochs, 1);
        if epochs > limits.max_epochs {
            return Err(invalid(format!("epochs {epochs} above {}", limits.max_epochs)));
        }
        if c.max_steps > limits.max_steps {
            return Err(invalid(format!("max_steps {} above {}", c.max_steps, limits.max_steps)));
        }
        let batch_size = or(c.batch_size, DEFAULT_BATCH_SIZE);
        if batch_size > limits.max_batch {
            return Err(invalid(format!("batch size {batch_size} above {}", limits.max_batch)));
        }
        let eval_split_bps = or(c.eval_split_bps, DEFAULT_EVAL_SPLIT_BPS);
        if eval_split_bps > 5000 {
            return Err(invalid(format!("eval split {eval_split_bps} bps above 5000")));
        }
        let max_seq_len = or(c.max_seq_len, DEFAULT_MAX_SEQ_LEN);
        if !(2..=limits.max_seq_len).contains(&max_seq_len) {
            return Err(invalid(format!("max_seq_len {max_seq_len} out of range 2..={}", limits.max_seq_len)));
        }
        Ok(Self {
            rank,
            alpha,
            targets,
            learning_rate_micro,
            epochs,
            max_steps: c.max_steps,
            batch_size,
            seed: c.seed,
            eval_split_bps,
            max_seq_len,
        })
    }

    /// The normalized wire form (what the config hash covers).
    pub fn to_proto(&self) -> pb::TrainConfig {
        pb::TrainConfig {
            rank: self.rank,
            alpha: self.alpha,
            target_modules: self.targets.iter().map(|p| p.peft_name().to_string()).collect(),
            learning_rate_micro: self.learning_rate_micro,
            epochs: self.epochs,
            max_steps: self.max_steps,
            batch_size: self.batch_size,
            seed: self.seed,
            eval_split_bps: self.eval_split_bps,
            max_seq_len: self.max_seq_len,
        }
    }

    /// `sha256(CONFIG_DOMAIN ‖ protobuf encoding of the normalized config)`; the chain computes
    /// the same over the config it stores in the job.
    pub fn config_hash(&self) -> Digest32 {
        let mut h = Sha256::new();
        h.update(CONFIG_DOMAIN);
        h.update(self.to_proto().encode_to_vec());
        h.finalize().into()
    }

    /// LoRA scale alpha / r.
    pub fn scale(&self) -> f64 {
        f64::from(self.alpha) / f64::from(self.rank)
    }
}

/// One training job.
#[derive(Clone, Debug)]
pub struct TrainJob {
    /// The chain's job id.
    pub job_id: u64,
    /// Base model content hash.
    pub model_hash: String,
    /// Rows in datanet-version order.
    pub rows: Vec<Vec<u8>>,
    /// Merkle root of the version.
    pub data_root: Vec<u8>,
    /// Normalized config.
    pub settings: TrainSettings,
    /// The chat template hash the job pins ("" for none): conversation rows are rendered with
    /// the model's template (see [`tokenize_rows`]).
    pub chat_template_hash: String,
}

/// One optimizer step, for progress reports.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// 1-based step.
    pub step: u32,
    /// Steps in the job.
    pub total_steps: u32,
    /// Mean token loss of the step.
    pub loss: f32,
    /// Tokens trained on so far.
    pub tokens: u64,
    /// Tokens per second so far (wall clock; progress only).
    pub tokens_per_second: f32,
    /// Seconds left at that rate.
    pub eta_seconds: f32,
}

impl From<&StepReport> for pb::TrainStep {
    fn from(s: &StepReport) -> Self {
        Self {
            step: s.step,
            total_steps: s.total_steps,
            loss: s.loss,
            tokens: s.tokens,
            tokens_per_second: s.tokens_per_second,
            eta_seconds: s.eta_seconds,
        }
    }
}

/// A finished job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainOutcome {
    /// Content hash of the adapter.
    pub adapter_hash: String,
    /// Where the adapter directory is.
    pub adapter_dir: PathBuf,
    /// Bits of the f32 eval loss.
    pub eval_loss_bits: u32,
    /// Hash of the training log.
    pub training_log_hash: Digest32,
    /// Hash of the normalized config.
    pub config_hash: Digest32,
    /// Steps run.
    pub steps: u32,
    /// Tokens trained on.
    pub tokens: u64,
    /// Rows in the training split.
    pub train_rows: u32,
    /// Rows in the eval split.
    pub eval_rows: u32,
}

impl From<&TrainOutcome> for pb::TrainResult {
    fn from(o: &TrainOutcome) -> Self {
        Self {
            adapter_hash: o.adapter_hash.clone(),
            eval_loss_bits: o.eval_loss_bits,
            training_log_hash: o.training_log_hash.to_vec(),
            steps: o.steps,
            tokens: o.tokens,
            train_rows: o.train_rows,
            eval_rows: o.eval_rows,
            adapter_path: o.adapter_dir.display().to_string(),
            config_hash: o.config_hash.to_vec(),
        }
    }
}

/// Checks the request's sizes before anything is tokenized.
pub fn check_rows(rows: &[Vec<u8>], limits: &TrainLimits) -> Result<()> {
    if rows.is_empty() {
        return Err(invalid("no rows to train on"));
    }
    if rows.len() > limits.max_rows {
        return Err(invalid(format!("{} rows exceed the limit of {}", rows.len(), limits.max_rows)));
    }
    let mut total = 0usize;
    for (i, r) in rows.iter().enumerate() {
        if r.len() > limits.max_row_bytes {
            return Err(invalid(format!("row {i} has {} bytes, above {}", r.len(), limits.max_row_bytes)));
        }
        total = total.saturating_add(r.len());
    }
    if total > limits.max_total_bytes {
        return Err(invalid(format!("rows total {total} bytes, above {}", limits.max_total_bytes)));
    }
    Ok(())
}

/// The text a row is trained on: a JSON object's `text`, or its prompt/completion-style pair
/// joined by a newline; any other UTF-8 row as it is. Rows that are not UTF-8 are skipped.
pub fn row_text(row: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(row).ok()?;
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(s) {
        let get = |k: &str| m.get(k).and_then(|v| v.as_str());
        if let Some(t) = get("text") {
            return Some(t.to_string());
        }
        for (a, b) in [("prompt", "completion"), ("instruction", "response"), ("question", "answer"), ("input", "output")] {
            if let (Some(a), Some(b)) = (get(a), get(b)) {
                return Some(format!("{a}\n{b}"));
            }
        }
    }
    Some(s.to_string())
}

fn seeded_u64(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let d: Digest32 = h.finalize().into();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

fn rng(parts: &[&[u8]]) -> ChaCha20Rng {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// Row indices of the (train, eval) splits: row i is held out when
/// `sha256("split" ‖ seed LE ‖ i LE)`'s first 8 bytes (LE) mod 10000 < eval_split_bps. With a
/// non-zero split and at least two rows, eval gets at least the row of the smallest key; with a
/// zero split the eval loss is measured on the training rows.
pub fn split_rows(n: usize, seed: u64, eval_split_bps: u32) -> (Vec<usize>, Vec<usize>) {
    let keys: Vec<u64> = (0..n).map(|i| seeded_u64(&[b"split".as_slice(), &seed.to_le_bytes(), &(i as u64).to_le_bytes()])).collect();
    let (mut train, mut eval): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| keys[i] % 10_000 >= u64::from(eval_split_bps));
    if eval_split_bps > 0 && eval.is_empty() && n >= 2 {
        if let Some(pos) = (0..train.len()).min_by_key(|&j| (keys[train[j]], train[j])) {
            eval.push(train.remove(pos));
        }
    }
    if eval_split_bps > 0 && train.is_empty() && eval.len() >= 2 {
        train.push(eval.remove(0));
    }
    (train, eval)
}

/// Epoch `epoch`'s order of `train` (Fisher–Yates driven by ChaCha20 seeded from the seed and
/// the epoch).
pub fn epoch_order(train: &[usize], seed: u64, epoch: u32) -> Vec<usize> {
    let mut order = train.to_vec();
    let mut r = rng(&[b"order".as_slice(), &seed.to_le_bytes(), &epoch.to_le_bytes()]);
    for i in (1..order.len()).rev() {
        let j = (r.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Frozen dense f32 copy of the base weights, matmul weights transposed to `[in, out]`.
struct DenseBase {
    embed: Tensor,
    layers: Vec<DenseLayer>,
    norm: Tensor,
    lm_head_t: Tensor,
    cos: Tensor,
    sin: Tensor,
}

struct DenseLayer {
    attn_norm: Tensor,
    ffn_norm: Tensor,
    proj_t: Vec<Tensor>,
}

impl DenseBase {
    fn new(model: &LlamaModel) -> Result<Self> {
        let f32c = |t: &Tensor| -> Result<Tensor> { Ok(t.to_dtype(DType::F32)?.contiguous()?) };
        let mut layers = Vec::with_capacity(model.layers.len());
        for l in &model.layers {
            let mut proj_t = Vec::with_capacity(7);
            for w in &l.proj {
                proj_t.push(w.to_dense_f32()?.t()?.contiguous()?);
            }
            layers.push(DenseLayer { attn_norm: f32c(&l.attn_norm)?, ffn_norm: f32c(&l.ffn_norm)?, proj_t });
        }
        let (cos, sin) = rope_tables(model.config(), model.device(), DType::F32)?;
        Ok(Self {
            embed: f32c(&model.embed)?,
            layers,
            norm: f32c(&model.norm)?,
            lm_head_t: model.lm_head.to_dense_f32()?.t()?.contiguous()?,
            cos,
            sin,
        })
    }
}

/// The initial A of (layer, projection), `[rank, in]`: U(−1/√in, 1/√in) (PEFT's
/// kaiming-uniform with a = √5) from ChaCha20 seeded by the job's seed, the layer and the
/// projection.
fn initial_a(s: &TrainSettings, layer: usize, p: Proj, inp: usize) -> Vec<f32> {
    let bound = (1.0 / (inp as f64).sqrt()) as f32;
    let mut r = rng(&[b"init".as_slice(), &s.seed.to_le_bytes(), &(layer as u64).to_le_bytes(), &[p as u8]]);
    (0..s.rank as usize * inp).map(|_| (((r.next_u32() >> 8) as f32 / 16_777_216.0) * 2.0 - 1.0) * bound).collect()
}

/// The trainable LoRA matrices in PEFT shapes: A `[r, in]`, B `[out, r]` (B's rows in the
/// model's own order).
struct LoraVars {
    pairs: Vec<[Option<(Var, Var)>; 7]>,
    scale: f64,
}

impl LoraVars {
    /// A from [`initial_a`]; B = 0.
    fn init(model: &LlamaModel, s: &TrainSettings) -> Result<Self> {
        let cfg = model.config();
        let rank = s.rank as usize;
        let mut pairs: Vec<[Option<(Var, Var)>; 7]> = (0..cfg.layers).map(|_| Default::default()).collect();
        for (layer, slots) in pairs.iter_mut().enumerate() {
            for &p in &s.targets {
                let (out, inp) = cfg.projection_shape(p.peft_name()).ok_or_else(|| invalid("unknown projection"))?;
                let a = initial_a(s, layer, p, inp);
                let a = Var::from_tensor(&Tensor::from_vec(a, (rank, inp), model.device())?)?;
                let b = Var::from_tensor(&Tensor::zeros((out, rank), DType::F32, model.device())?)?;
                slots[p as usize] = Some((a, b));
            }
        }
        Ok(Self { pairs, scale: s.scale() })
    }

    fn vars(&self) -> Vec<Var> {
        self.pairs.iter().flat_map(|l| l.iter().flatten().flat_map(|(a, b)| [a.clone(), b.clone()])).collect()
    }
}

fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    let r = (x.sqr()?.mean_keepdim(D::Minus1)? + eps)?.sqrt()?.recip()?;
    Ok(x.broadcast_mul(&r)?.broadcast_mul(w)?)
}

/// RoPE on `[..., n, hd]`: halves (Hugging Face layout) or interleaved pairs (GGUF layout).
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor, format: WeightFormat) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let hd = dims[dims.len() - 1];
    let half = hd / 2;
    Ok(match format {
        WeightFormat::Safetensors => {
            let x1 = x.narrow(D::Minus1, 0, half)?;
            let x2 = x.narrow(D::Minus1, half, half)?;
            let a = (x1.broadcast_mul(cos)? - x2.broadcast_mul(sin)?)?;
            let b = (x1.broadcast_mul(sin)? + x2.broadcast_mul(cos)?)?;
            Tensor::cat(&[a, b], D::Minus1)?
        }
        WeightFormat::Gguf => {
            let mut pairs = dims.clone();
            pairs.pop();
            pairs.extend([half, 2]);
            let x = x.reshape(pairs)?;
            let e = x.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?;
            let o = x.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?;
            let a = (e.broadcast_mul(cos)? - o.broadcast_mul(sin)?)?;
            let b = (e.broadcast_mul(sin)? + o.broadcast_mul(cos)?)?;
            Tensor::stack(&[a, b], D::Minus1)?.reshape(dims)?
        }
    })
}

struct Trainer<'a> {
    model: &'a LlamaModel,
    base: DenseBase,
    lora: LoraVars,
}

impl Trainer<'_> {
    fn linear(&self, layer: usize, p: Proj, x: &Tensor) -> Result<Tensor> {
        let y = x.matmul(&self.base.layers[layer].proj_t[p as usize])?;
        match &self.lora.pairs[layer][p as usize] {
            Some((a, b)) => {
                let down = x.matmul(&a.as_tensor().t()?)?;
                let up = down.matmul(&b.as_tensor().t()?)?;
                Ok((y + (up * self.lora.scale)?)?)
            }
            None => Ok(y),
        }
    }

    /// One row's causal attention (the per-row reference the batched loss is tested against).
    #[cfg(test)]
    fn attention(&self, q: &Tensor, k: &Tensor, v: &Tensor, n: usize) -> Result<Tensor> {
        let cfg = self.model.config();
        let (nh, nkv, hd) = (cfg.heads, cfg.kv_heads, cfg.head_dim);
        let heads = |t: &Tensor, h: usize| -> Result<Tensor> { Ok(t.reshape((n, h, hd))?.transpose(0, 1)?.contiguous()?) };
        let (q, k, v) = (heads(q, nh)?, heads(k, nkv)?, heads(v, nkv)?);
        let cos = self.base.cos.narrow(0, 0, n)?;
        let sin = self.base.sin.narrow(0, 0, n)?;
        let q = rope(&q, &cos, &sin, self.model.format())?;
        let k = rope(&k, &cos, &sin, self.model.format())?;
        let rep = nh / nkv;
        let expand = |t: Tensor| -> Result<Tensor> {
            if rep == 1 {
                return Ok(t);
            }
            Ok(t.unsqueeze(1)?.expand((nkv, rep, n, hd))?.reshape((nh, n, hd))?)
        };
        let (k, v) = (expand(k)?, expand(v)?);
        let scale = 1.0 / (hd as f64).sqrt();
        let att = (q.matmul(&k.t()?.contiguous()?)? * scale)?;
        let mask: Vec<f32> = (0..n).flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
        let mask = Tensor::from_vec(mask, (n, n), self.model.device())?;
        let att = candle_nn::ops::softmax(&att.broadcast_add(&mask)?, D::Minus1)?;
        Ok(att.matmul(&v.contiguous()?)?.transpose(0, 1)?.reshape((n, nh * hd))?)
    }

    /// Summed next-token loss of a step's rows, right-padded into one `[rows, len]` batch (the
    /// padding masked out of the loss), and the real token count. The batch is the same on every
    /// executor (the seed fixes it), so its shapes and every reduction are too.
    fn batch_loss(&self, rows: &[&[u32]]) -> Result<(Tensor, usize)> {
        let cfg = self.model.config();
        let dev = self.model.device();
        let (b, t) = (rows.len(), rows.iter().map(|r| r.len() - 1).max().unwrap_or(1));
        let (mut ids, mut targets, mut weights) = (vec![0u32; b * t], vec![0u32; b * t], vec![0f32; b * t]);
        for (i, r) in rows.iter().enumerate() {
            for j in 0..r.len() - 1 {
                ids[i * t + j] = r[j];
                targets[i * t + j] = r[j + 1];
                weights[i * t + j] = 1.0;
            }
        }
        let count = weights.iter().filter(|w| **w > 0.0).count();
        let ids = Tensor::from_vec(ids, b * t, dev)?;
        let targets = Tensor::from_vec(targets, (b * t, 1), dev)?;
        let weights = Tensor::from_vec(weights, (b * t, 1), dev)?;
        let (nh, nkv, hd) = (cfg.heads, cfg.kv_heads, cfg.head_dim);
        let cos = self.base.cos.narrow(0, 0, t)?;
        let sin = self.base.sin.narrow(0, 0, t)?;
        let mask: Vec<f32> = (0..t).flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
        let mask = Tensor::from_vec(mask, (t, t), dev)?;
        let mut x = self.base.embed.index_select(&ids, 0)?;
        for (l, layer) in self.base.layers.iter().enumerate() {
            let h = rms_norm(&x, &layer.attn_norm, cfg.rms_eps)?;
            let heads = |y: Tensor, n: usize| -> Result<Tensor> { Ok(y.reshape((b, t, n, hd))?.transpose(1, 2)?.contiguous()?) };
            let q = rope(&heads(self.linear(l, Proj::Q, &h)?, nh)?, &cos, &sin, self.model.format())?;
            let k = rope(&heads(self.linear(l, Proj::K, &h)?, nkv)?, &cos, &sin, self.model.format())?;
            let v = heads(self.linear(l, Proj::V, &h)?, nkv)?;
            let rep = nh / nkv;
            let expand = |y: Tensor| -> Result<Tensor> {
                if rep == 1 {
                    return Ok(y);
                }
                Ok(y.unsqueeze(2)?.expand((b, nkv, rep, t, hd))?.reshape((b, nh, t, hd))?)
            };
            let (k, v) = (expand(k)?, expand(v)?);
            let att = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (hd as f64).sqrt()))?;
            let att = candle_nn::ops::softmax(&att.broadcast_add(&mask)?, D::Minus1)?;
            let out = att.matmul(&v.contiguous()?)?.transpose(1, 2)?.reshape((b * t, nh * hd))?;
            x = (x + self.linear(l, Proj::O, &out)?)?;
            let h = rms_norm(&x, &layer.ffn_norm, cfg.rms_eps)?;
            let act = (self.linear(l, Proj::Gate, &h)?.silu()? * self.linear(l, Proj::Up, &h)?)?;
            x = (x + self.linear(l, Proj::Down, &act)?)?;
        }
        let x = rms_norm(&x, &self.base.norm, cfg.rms_eps)?;
        let log_probs = candle_nn::ops::log_softmax(&x.matmul(&self.base.lm_head_t)?, D::Minus1)?;
        Ok(((log_probs.gather(&targets, 1)? * weights)?.sum_all()?.neg()?, count))
    }

    /// Summed next-token loss of one row and its token count (the batched loss's reference).
    #[cfg(test)]
    fn row_loss(&self, tokens: &[u32]) -> Result<(Tensor, usize)> {
        let n = tokens.len() - 1;
        let dev = self.model.device();
        let ids = Tensor::from_slice(&tokens[..n], n, dev)?;
        let targets = Tensor::from_slice(&tokens[1..], (n, 1), dev)?;
        let eps = self.model.config().rms_eps;
        let mut x = self.base.embed.index_select(&ids, 0)?;
        for (l, layer) in self.base.layers.iter().enumerate() {
            let h = rms_norm(&x, &layer.attn_norm, eps)?;
            let q = self.linear(l, Proj::Q, &h)?;
            let k = self.linear(l, Proj::K, &h)?;
            let v = self.linear(l, Proj::V, &h)?;
            let att = self.attention(&q, &k, &v, n)?;
            x = (x + self.linear(l, Proj::O, &att)?)?;
            let h = rms_norm(&x, &layer.ffn_norm, eps)?;
            let act = (self.linear(l, Proj::Gate, &h)?.silu()? * self.linear(l, Proj::Up, &h)?)?;
            x = (x + self.linear(l, Proj::Down, &act)?)?;
        }
        let x = rms_norm(&x, &self.base.norm, eps)?;
        let logits = x.matmul(&self.base.lm_head_t)?;
        let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        Ok((log_probs.gather(&targets, 1)?.sum_all()?.neg()?, n))
    }

    /// Mean token loss over `rows`, in batches of `batch` (batch sums added in order).
    fn mean_loss(&self, rows: &[&[u32]], batch: usize) -> Result<f32> {
        let (mut sum, mut count) = (0f32, 0usize);
        for chunk in rows.chunks(batch.max(1)) {
            let (l, n) = self.batch_loss(chunk)?;
            sum += l.to_scalar::<f32>()?;
            count += n;
        }
        Ok(if count == 0 { 0.0 } else { sum / count as f32 })
    }
}

/// The prompt/completion pair of a JSON row (also instruction/response, question/answer,
/// input/output), when it has one and no "text".
pub fn row_pair(row: &[u8]) -> Option<(String, String)> {
    let s = std::str::from_utf8(row).ok()?;
    let serde_json::Value::Object(m) = serde_json::from_str::<serde_json::Value>(s).ok()? else { return None };
    let get = |k: &str| m.get(k).and_then(|v| v.as_str());
    if get("text").is_some() {
        return None;
    }
    CONVERSATION_KEYS.iter().find_map(|(a, b)| Some((get(a)?.to_string(), get(b)?.to_string())))
}

/// Keys of a JSON row's question and answer.
const CONVERSATION_KEYS: [(&str, &str); 4] =
    [("prompt", "completion"), ("instruction", "response"), ("question", "answer"), ("input", "output")];

/// Tokenizes the rows: the row's text, then the first end-of-sequence id, cut to `max_seq_len`.
/// With a pinned chat template (`chat_template_hash`, which the model's template must match) a
/// row with a question/answer pair is a user turn and an assistant turn rendered with it, so a
/// chat model learns in the format it is asked in. Rows with fewer than two tokens teach
/// nothing and are left out (their index is kept out of both splits).
fn tokenize_rows(
    rows: &[Vec<u8>],
    tokenizer: &TextTokenizer,
    max_seq_len: usize,
    context: usize,
    chat_template_hash: &str,
) -> Result<Vec<Vec<u32>>> {
    let cap = max_seq_len.min(context);
    let template = if chat_template_hash.is_empty() {
        None
    } else {
        let t = tokenizer.chat_template().ok_or_else(|| invalid("the job pins a chat template but this model has none"))?;
        if !t.hash().eq_ignore_ascii_case(chat_template_hash) {
            return Err(invalid(format!("the job pins chat template {chat_template_hash}, this model's is {}", t.hash())));
        }
        Some(t)
    };
    rows.iter()
        .map(|r| {
            let conversation = template.zip(row_pair(r));
            let text = match conversation {
                Some((t, (question, answer))) => t.render_turns(&[("user", question.as_str()), ("assistant", answer.as_str())], false)?,
                None => match row_text(r) {
                    Some(text) => text,
                    None => return Ok(Vec::new()),
                },
            };
            let mut ids = tokenizer.encode(&text)?;
            if let Some(&eos) = tokenizer.eos_ids().first() {
                ids.push(eos);
            }
            ids.truncate(cap);
            Ok(if ids.len() < 2 { Vec::new() } else { ids })
        })
        .collect()
}

/// The trained (A, B) of every adapted projection, `[layer][projection]`.
type Matrices = Vec<[Option<(Tensor, Tensor)>; 7]>;

/// The arithmetic a job trains with, chosen by the model's kernels.
enum Engine<'a> {
    /// The portable kernels (the default): the same bits on every machine.
    Portable(portable::PortableTrainer<'a>),
    /// candle's autograd and AdamW (GPUs, other dtypes): machine-specific.
    Candle(Trainer<'a>, AdamW),
}

impl<'a> Engine<'a> {
    fn new(model: &'a LlamaModel, s: &TrainSettings) -> Result<Self> {
        Ok(match model.kernels() {
            Kernels::Portable(isa) => Engine::Portable(portable::PortableTrainer::new(model, isa, s)?),
            Kernels::Candle => {
                let trainer = Trainer { model, base: DenseBase::new(model)?, lora: LoraVars::init(model, s)? };
                let params =
                    ParamsAdamW { lr: f64::from(s.learning_rate_micro) / 1e6, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 };
                let opt = AdamW::new(trainer.lora.vars(), params)?;
                Engine::Candle(trainer, opt)
            }
        })
    }

    /// One optimizer step: the step's mean token loss and its token count.
    fn step(&mut self, rows: &[&[u32]]) -> Result<(f32, usize)> {
        match self {
            Engine::Portable(t) => t.step(rows),
            Engine::Candle(t, opt) => {
                let (sum, count) = t.batch_loss(rows)?;
                let loss = (sum / count as f64)?;
                opt.backward_step(&loss)?;
                Ok((loss.to_scalar::<f32>()?, count))
            }
        }
    }

    fn mean_loss(&self, rows: &[&[u32]], batch: usize) -> Result<f32> {
        match self {
            Engine::Portable(t) => t.mean_loss(rows, batch),
            Engine::Candle(t, _) => t.mean_loss(rows, batch),
        }
    }

    /// The trained (A, B) of every adapted projection, B's rows in the model's own order.
    fn matrices(&self) -> Result<Matrices> {
        match self {
            Engine::Portable(t) => t
                .lora
                .iter()
                .map(|slots| {
                    let mut out: [Option<(Tensor, Tensor)>; 7] = Default::default();
                    for (o, pair) in out.iter_mut().zip(slots) {
                        if let Some(pair) = pair {
                            let (r, inp, outd) = (pair.rank, pair.a.len() / pair.rank.max(1), pair.b.len() / pair.rank.max(1));
                            let a = Tensor::from_vec(pair.a.clone(), (r, inp), &candle_core::Device::Cpu)?;
                            let b = Tensor::from_vec(pair.b.clone(), (outd, r), &candle_core::Device::Cpu)?;
                            *o = Some((a, b));
                        }
                    }
                    Ok(out)
                })
                .collect(),
            Engine::Candle(t, _) => Ok(t
                .lora
                .pairs
                .iter()
                .map(|slots| slots.clone().map(|pair| pair.map(|(a, b)| (a.as_tensor().clone(), b.as_tensor().clone()))))
                .collect()),
        }
    }
}

/// Runs `job` on `model` and writes the adapter under `store/<adapter hash>`. `on_step` sees
/// every optimizer step.
pub fn train(
    model: &LlamaModel,
    tokenizer: &TextTokenizer,
    job: &TrainJob,
    store: &Path,
    limits: &TrainLimits,
    on_step: &mut dyn FnMut(&StepReport),
) -> Result<TrainOutcome> {
    check_rows(&job.rows, limits)?;
    let s = &job.settings;
    if s.rank > limits.max_rank {
        return Err(invalid(format!("rank {} above {}", s.rank, limits.max_rank)));
    }
    let cfg = model.config();
    let vocab = cfg.vocab;
    let tokens = tokenize_rows(&job.rows, tokenizer, s.max_seq_len as usize, cfg.max_positions, &job.chat_template_hash)?;
    if tokens.iter().flatten().any(|&t| t as usize >= vocab) {
        return Err(invalid("the tokenizer produced ids outside the model's vocabulary"));
    }
    let usable: Vec<usize> = (0..tokens.len()).filter(|&i| !tokens[i].is_empty()).collect();
    if usable.is_empty() {
        return Err(invalid("no row has at least two tokens"));
    }
    let (train_idx, eval_idx) = split_rows(usable.len(), s.seed, s.eval_split_bps);
    let train_rows: Vec<usize> = train_idx.iter().map(|&i| usable[i]).collect();
    let eval_rows: Vec<usize> = if eval_idx.is_empty() { train_rows.clone() } else { eval_idx.iter().map(|&i| usable[i]).collect() };
    if train_rows.is_empty() {
        return Err(invalid("no row is left for training after the eval split"));
    }
    let batch = s.batch_size as usize;
    let steps_per_epoch = train_rows.len().div_ceil(batch);
    let mut total_steps = u32::try_from(steps_per_epoch.saturating_mul(s.epochs as usize)).unwrap_or(u32::MAX);
    if s.max_steps > 0 {
        total_steps = total_steps.min(s.max_steps);
    }
    total_steps = total_steps.min(limits.max_steps);

    let mut engine = Engine::new(model, s)?;
    if let Engine::Portable(t) = &mut engine {
        let checking = Instant::now();
        let first: Vec<&[u32]> = train_rows.iter().take(2).map(|&i| tokens[i].as_slice()).collect();
        t.self_check(&first)?;
        tracing::info!("training self-check passed in {:.1} s ({})", checking.elapsed().as_secs_f64(), model.kernels().describe());
    }

    let config_hash = s.config_hash();
    let mut log = Sha256::new();
    log.update(LOG_DOMAIN);
    log.update(job.job_id.to_le_bytes());
    for part in [job.model_hash.as_bytes(), job.data_root.as_slice(), job.chat_template_hash.as_bytes()] {
        log.update((part.len() as u32).to_le_bytes());
        log.update(part);
    }
    log.update(config_hash);
    log.update((train_rows.len() as u32).to_le_bytes());
    log.update((eval_rows.len() as u32).to_le_bytes());

    let started = Instant::now();
    let mut step = 0u32;
    let mut trained_tokens = 0u64;
    'epochs: for epoch in 0..s.epochs {
        let order = epoch_order(&train_rows, s.seed, epoch);
        for chunk in order.chunks(batch) {
            if step >= total_steps {
                break 'epochs;
            }
            let rows: Vec<&[u32]> = chunk.iter().map(|&i| tokens[i].as_slice()).collect();
            let (loss_value, count) = engine.step(&rows)?;
            step += 1;
            trained_tokens += count as u64;
            if !loss_value.is_finite() {
                return Err(ExecutorError::Training(format!("loss became {loss_value} at step {step}; lower the learning rate")));
            }
            log.update(step.to_le_bytes());
            log.update((count as u32).to_le_bytes());
            log.update(loss_value.to_bits().to_le_bytes());
            let secs = started.elapsed().as_secs_f32().max(1e-6);
            let tps = trained_tokens as f32 / secs;
            let eta = secs / step as f32 * (total_steps - step) as f32;
            on_step(&StepReport { step, total_steps, loss: loss_value, tokens: trained_tokens, tokens_per_second: tps, eta_seconds: eta });
        }
    }
    let eval: Vec<&[u32]> = eval_rows.iter().map(|&i| tokens[i].as_slice()).collect();
    let eval_loss = engine.mean_loss(&eval, batch)?;
    let adapter_dir = write_adapter(store, job, model, &engine.matrices()?)?;
    let adapter_hash = adapter_hash(&adapter_dir, &AdapterLimits::default())?;
    log.update(b"eval");
    log.update(eval_loss.to_bits().to_le_bytes());
    log.update(adapter_hash.as_bytes());
    Ok(TrainOutcome {
        adapter_hash,
        adapter_dir,
        eval_loss_bits: eval_loss.to_bits(),
        training_log_hash: log.finalize().into(),
        config_hash,
        steps: step,
        tokens: trained_tokens,
        train_rows: train_rows.len() as u32,
        eval_rows: eval_rows.len() as u32,
    })
}

/// The training half of the determinism probe (`open-executor probe`, `make determinism`):
/// `steps` AdamW steps of `settings`' LoRA on the portable kernels (`isa`, current thread pool)
/// over `rows` of token ids, `batch` rows per step (rows of fewer than two tokens are skipped).
/// The digest covers every step's loss bits and then every trained matrix's bits.
pub fn probe_digest(
    model: &LlamaModel,
    isa: crate::kernels::Isa,
    settings: &TrainSettings,
    rows: &[Vec<u32>],
    batch: usize,
    steps: usize,
) -> Result<Digest32> {
    let mut trainer = portable::PortableTrainer::new(model, isa, settings)?;
    let rows: Vec<&[u32]> = rows.iter().filter(|r| r.len() >= 2).map(|r| r.as_slice()).collect();
    if rows.is_empty() {
        return Err(invalid("no row has at least two tokens"));
    }
    let mut h = Sha256::new();
    h.update(b"openledger.modelfactory.probe.v1");
    for chunk in rows.chunks(batch.max(1)).cycle().take(steps) {
        let (loss, tokens) = trainer.step(chunk)?;
        h.update(loss.to_bits().to_le_bytes());
        h.update((tokens as u64).to_le_bytes());
    }
    for pair in trainer.lora.iter().flatten().flatten() {
        for v in pair.a.iter().chain(&pair.b) {
            h.update(v.to_bits().to_le_bytes());
        }
    }
    Ok(h.finalize().into())
}

/// The inverse of the GGUF Q/K row permutation: rows of each head from [hd/2, 2] back to [2, hd/2].
fn unpermute_rows_from_gguf(b: &Tensor, heads: usize) -> Result<Tensor> {
    let (out, r) = b.dims2()?;
    let hd = out / heads;
    Ok(b.reshape((heads, hd / 2, 2, r))?.transpose(1, 2)?.contiguous()?.reshape((out, r))?)
}

/// The PEFT files of the trained adapter, byte for byte.
#[derive(serde::Serialize)]
struct PeftConfigOut<'a> {
    base_model_name_or_path: &'a str,
    peft_type: &'static str,
    task_type: &'static str,
    r: u32,
    lora_alpha: u32,
    lora_dropout: f64,
    target_modules: Vec<&'static str>,
    bias: &'static str,
    fan_in_fan_out: bool,
    use_rslora: bool,
    use_dora: bool,
    inference_mode: bool,
}

fn write_adapter(store: &Path, job: &TrainJob, model: &LlamaModel, matrices: &Matrices) -> Result<PathBuf> {
    let cfg = model.config();
    let s = &job.settings;
    let config = PeftConfigOut {
        base_model_name_or_path: &job.model_hash,
        peft_type: "LORA",
        task_type: "CAUSAL_LM",
        r: s.rank,
        lora_alpha: s.alpha,
        lora_dropout: 0.0,
        target_modules: s.targets.iter().map(|p| p.peft_name()).collect(),
        bias: "none",
        fan_in_fan_out: false,
        use_rslora: false,
        use_dora: false,
        inference_mode: true,
    };
    let config_bytes = serde_json::to_vec_pretty(&config).map_err(|e| ExecutorError::Training(e.to_string()))?;
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (layer, slots) in matrices.iter().enumerate() {
        for p in Proj::ALL {
            let Some((a, b)) = &slots[p as usize] else { continue };
            let b = if model.format() == WeightFormat::Gguf && p.rope_permuted() {
                unpermute_rows_from_gguf(b, if p == Proj::Q { cfg.heads } else { cfg.kv_heads })?
            } else {
                b.clone()
            };
            let prefix = format!("base_model.model.model.layers.{layer}.{}.{}", p.group(), p.peft_name());
            for (suffix, t) in [("lora_A.weight", a.clone()), ("lora_B.weight", b)] {
                let shape = t.dims().to_vec();
                let bytes: Vec<u8> = t.flatten_all()?.to_vec1::<f32>()?.iter().flat_map(|x| x.to_le_bytes()).collect();
                tensors.push((format!("{prefix}.{suffix}"), shape, bytes));
            }
        }
    }
    tensors.sort_by(|x, y| x.0.cmp(&y.0));
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| ExecutorError::Training(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let weights = safetensors::tensor::serialize(views, None).map_err(|e| ExecutorError::Training(e.to_string()))?;

    std::fs::create_dir_all(store).map_err(|e| ExecutorError::io(store, e))?;
    let tmp = store.join(format!(".train-{}-{}", job.job_id, std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| ExecutorError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| ExecutorError::io(&tmp, e))?;
    for (name, bytes) in [("adapter_config.json", &config_bytes), ("adapter_model.safetensors", &weights)] {
        let path = tmp.join(name);
        std::fs::write(&path, bytes).map_err(|e| ExecutorError::io(&path, e))?;
    }
    let hash = adapter_hash(&tmp, &AdapterLimits::default())?;
    let dir = store.join(&hash);
    if dir.join("adapter_model.safetensors").is_file() {
        std::fs::remove_dir_all(&tmp).map_err(|e| ExecutorError::io(&tmp, e))?;
    } else {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| ExecutorError::io(&dir, e))?;
        }
        std::fs::rename(&tmp, &dir).map_err(|e| ExecutorError::io(&dir, e))?;
    }
    Ok(dir)
}

/// The reference the benchmark compares [`train`] against: a plain candle LoRA loop over the same
/// model, LoRA, loss and AdamW (rows in file order, padded batches) without the job's
/// determinism bookkeeping (seeded split and order, training log, eval, adapter files). It
/// trains nothing to keep; it measures.
pub mod baseline {
    use super::*;

    /// Trains `steps` steps of `job` the batched way; returns (tokens, seconds) of the loop.
    pub fn run(model: &LlamaModel, tokenizer: &TextTokenizer, job: &TrainJob, steps: u32) -> Result<(u64, f64)> {
        let s = &job.settings;
        let tokens = tokenize_rows(&job.rows, tokenizer, s.max_seq_len as usize, model.config().max_positions, &job.chat_template_hash)?;
        let rows: Vec<&[u32]> = tokens.iter().filter(|t| !t.is_empty()).map(|t| t.as_slice()).collect();
        if rows.is_empty() {
            return Err(invalid("no row has at least two tokens"));
        }
        let trainer = Trainer { model, base: DenseBase::new(model)?, lora: LoraVars::init(model, s)? };
        let params = ParamsAdamW { lr: f64::from(s.learning_rate_micro) / 1e6, weight_decay: 0.0, ..ParamsAdamW::default() };
        let mut opt = AdamW::new(trainer.lora.vars(), params)?;
        let started = Instant::now();
        let mut trained = 0u64;
        for (step, batch) in rows.chunks(s.batch_size as usize).cycle().enumerate() {
            if step as u32 >= steps {
                break;
            }
            let (sum, count) = trainer.batch_loss(batch)?;
            opt.backward_step(&(sum / count as f64)?)?;
            trained += count as u64;
        }
        Ok((trained, started.elapsed().as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{write_tiny_llama, TinyLlamaSpec};
    use crate::kernels::Isa;
    use crate::llama::Segment;
    use crate::lora::{permute_rows_for_gguf, LoraAdapter};
    use candle_core::Device;

    fn rows() -> Vec<Vec<u8>> {
        let mut rows: Vec<Vec<u8>> = (0..24)
            .map(|i| format!(r#"{{"prompt": "What colour is item {i}?", "completion": "Item {i} is bright green."}}"#).into_bytes())
            .collect();
        rows.push(b"plain text rows are trained on as they are".to_vec());
        rows
    }

    fn job(seed: u64) -> TrainJob {
        let c = pb::TrainConfig { rank: 4, seed, max_steps: 12, learning_rate_micro: 20_000, batch_size: 2, ..Default::default() };
        TrainJob {
            job_id: 7,
            model_hash: "ab".repeat(32),
            rows: rows(),
            data_root: vec![9; 32],
            settings: TrainSettings::from_proto(Some(&c), &TrainLimits::default()).unwrap(),
            chat_template_hash: String::new(),
        }
    }

    /// The tiny test Llama as a safetensors directory or as its f32 GGUF copy (Q/K rows
    /// permuted, interleaved RoPE).
    fn tiny(format: WeightFormat) -> (tempfile::TempDir, LlamaModel, TextTokenizer) {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m");
        write_tiny_llama(&m, TinyLlamaSpec::default(), 5).unwrap();
        let model = match format {
            WeightFormat::Safetensors => LlamaModel::load_hf_dir(&m, DType::F32, &Device::Cpu).unwrap(),
            WeightFormat::Gguf => {
                crate::fixtures::write_gguf_copy(&m, &dir.path().join("m.gguf")).unwrap();
                LlamaModel::load_gguf(&dir.path().join("m.gguf"), DType::F32, &Device::Cpu).unwrap()
            }
        };
        let tok = TextTokenizer::from_dir(&m).unwrap();
        (dir, model, tok)
    }

    #[test]
    fn defaults_fill_zero_fields_and_hash_canonically() {
        let s = TrainSettings::from_proto(None, &TrainLimits::default()).unwrap();
        assert_eq!((s.rank, s.alpha, s.batch_size, s.max_seq_len, s.eval_split_bps), (8, 16, 4, 128, 1000));
        assert_eq!(s.targets, vec![Proj::Q, Proj::V]);
        let explicit =
            pb::TrainConfig { target_modules: vec!["v_proj".into(), "q_proj".into(), "q_proj".into()], rank: 8, ..Default::default() };
        assert_eq!(TrainSettings::from_proto(Some(&explicit), &TrainLimits::default()).unwrap().config_hash(), s.config_hash());
        let other = pb::TrainConfig { seed: 1, ..Default::default() };
        assert_ne!(TrainSettings::from_proto(Some(&other), &TrainLimits::default()).unwrap().config_hash(), s.config_hash());
        for bad in [
            pb::TrainConfig { rank: 65, ..Default::default() },
            pb::TrainConfig { target_modules: vec!["lm_head".into()], ..Default::default() },
            pb::TrainConfig { eval_split_bps: 6000, ..Default::default() },
            pb::TrainConfig { max_seq_len: 1, ..Default::default() },
            pb::TrainConfig { learning_rate_micro: 2_000_000, ..Default::default() },
        ] {
            assert!(TrainSettings::from_proto(Some(&bad), &TrainLimits::default()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn row_text_reads_json_pairs_and_plain_text() {
        assert_eq!(row_text(br#"{"text": "a b"}"#).as_deref(), Some("a b"));
        assert_eq!(row_text(br#"{"instruction": "q", "response": "r"}"#).as_deref(), Some("q\nr"));
        assert_eq!(row_text(b"just words").as_deref(), Some("just words"));
        assert_eq!(row_text(&[0xff, 0xfe]), None);
    }

    #[test]
    fn split_and_order_follow_the_seed() {
        let (train, eval) = split_rows(100, 3, 1000);
        assert_eq!(train.len() + eval.len(), 100);
        assert!(!eval.is_empty() && eval.len() < 30, "{}", eval.len());
        assert_eq!(split_rows(100, 3, 1000), (train.clone(), eval.clone()));
        assert_ne!(split_rows(100, 4, 1000).1, eval);
        // Tiny sets still hold one row out.
        let (t, e) = split_rows(3, 1, 1000);
        assert_eq!((t.len(), e.len()), (2, 1));
        let o = epoch_order(&train, 3, 0);
        assert_eq!(o, epoch_order(&train, 3, 0));
        assert_ne!(o, epoch_order(&train, 3, 1));
        let mut sorted = o.clone();
        sorted.sort();
        assert_eq!(sorted, train);
    }

    #[test]
    fn oversized_requests_are_refused_before_work() {
        let lim = TrainLimits { max_rows: 2, ..TrainLimits::default() };
        assert!(check_rows(&[vec![1], vec![2], vec![3]], &lim).is_err());
        assert!(check_rows(&[], &lim).is_err());
        let lim = TrainLimits { max_row_bytes: 4, ..TrainLimits::default() };
        assert!(check_rows(&[vec![0; 5]], &lim).is_err());
    }

    #[test]
    fn training_is_reproducible_lowers_the_loss_and_serves_through_openlora() {
        check_training(WeightFormat::Safetensors);
    }

    #[test]
    fn training_on_a_gguf_base_writes_hugging_face_row_order() {
        check_training(WeightFormat::Gguf);
    }

    #[test]
    fn training_on_candle_kernels_still_works() {
        check_training_on(WeightFormat::Safetensors, Kernels::Candle);
    }

    fn check_training(format: WeightFormat) {
        check_training_on(format, Kernels::Portable(Isa::best()));
    }

    fn check_training_on(format: WeightFormat, kernels: Kernels) {
        let (dir, mut model, tok) = tiny(format);
        model.set_kernels(kernels).unwrap();
        let store = dir.path().join("store");
        let mut losses = Vec::new();
        let a = train(&model, &tok, &job(1), &store, &TrainLimits::default(), &mut |s| losses.push(s.loss)).unwrap();
        assert_eq!(a.steps, 12);
        assert_eq!(losses.len(), 12);
        let first = losses[..3].iter().sum::<f32>();
        let last = losses[9..].iter().sum::<f32>();
        assert!(last < first, "loss did not fall: {losses:?}");
        // Same job again (fresh store): the same bytes, log and eval loss.
        let b = train(&model, &tok, &job(1), &dir.path().join("store2"), &TrainLimits::default(), &mut |_| {}).unwrap();
        assert_eq!((&a.adapter_hash, a.training_log_hash, a.eval_loss_bits), (&b.adapter_hash, b.training_log_hash, b.eval_loss_bits));
        assert_eq!(
            std::fs::read(a.adapter_dir.join("adapter_model.safetensors")).unwrap(),
            std::fs::read(b.adapter_dir.join("adapter_model.safetensors")).unwrap()
        );
        // Another seed: another adapter.
        let c = train(&model, &tok, &job(2), &store, &TrainLimits::default(), &mut |_| {}).unwrap();
        assert_ne!(c.adapter_hash, a.adapter_hash);
        assert_ne!(c.training_log_hash, a.training_log_hash);

        // OpenLoRA loads the PEFT output and its logits are the training forward's.
        let adapter = LoraAdapter::load(&a.adapter_dir, &model, &AdapterLimits::default()).unwrap();
        assert_eq!(adapter.hash, a.adapter_hash);
        let ids = tok.encode("What colour is item 3?").unwrap();
        let mut cache = model.new_cache(ids.len());
        let served = model
            .forward(&ids, &[Segment { row: 0, len: ids.len(), pos: 0, adapter: Some(&adapter) }], &mut [&mut cache])
            .unwrap()
            .get(0)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let mut cache = model.new_cache(ids.len());
        let plain = model
            .forward(&ids, &[Segment { row: 0, len: ids.len(), pos: 0, adapter: None }], &mut [&mut cache])
            .unwrap()
            .get(0)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let mut with_next = ids.clone();
        with_next.push(0);
        let s = &job(1).settings;
        let trainer = Trainer { model: &model, base: DenseBase::new(&model).unwrap(), lora: reload_vars(&a.adapter_dir, &model, s) };
        let trained = last_logits(&trainer, &with_next);
        let diff = served.iter().zip(&trained).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff < 1e-3, "served and trained logits differ by {diff}");
        let moved = served.iter().zip(&plain).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(moved > 1e-3, "the adapter changes nothing ({moved})");
    }

    #[test]
    fn the_batched_baseline_computes_the_same_loss() {
        let (_dir, model, tok) = tiny(WeightFormat::Gguf);
        let j = job(1);
        let tokens = tokenize_rows(&j.rows, &tok, 128, 256, "").unwrap();
        let mut lora = LoraVars::init(&model, &j.settings).unwrap();
        // Non-zero B so the adapter takes part.
        for slots in &mut lora.pairs {
            for (_, b) in slots.iter_mut().flatten() {
                b.set(&(b.ones_like().unwrap() * 0.01).unwrap()).unwrap();
            }
        }
        let t = Trainer { model: &model, base: DenseBase::new(&model).unwrap(), lora };
        let rows: Vec<&[u32]> = tokens[..3].iter().map(|r| r.as_slice()).collect();
        let (batched, n) = t.batch_loss(&rows).unwrap();
        let mut per_row = 0f32;
        let mut m = 0;
        for r in &rows {
            let (l, k) = t.row_loss(r).unwrap();
            per_row += l.to_scalar::<f32>().unwrap();
            m += k;
        }
        assert_eq!(n, m);
        let b = batched.to_scalar::<f32>().unwrap();
        assert!((b - per_row).abs() < 1e-3 * per_row.abs(), "{b} vs {per_row}");
    }

    /// Every projection adapted, B non-zero so that A's gradients are too.
    fn all_targets_job() -> TrainJob {
        let mut j = job(3);
        let c = pb::TrainConfig {
            rank: 4,
            seed: 3,
            target_modules: Proj::ALL.iter().map(|p| p.peft_name().to_string()).collect(),
            ..Default::default()
        };
        j.settings = TrainSettings::from_proto(Some(&c), &TrainLimits::default()).unwrap();
        j
    }

    fn nonzero_b(len: usize, salt: usize) -> Vec<f32> {
        (0..len).map(|i| (((i * 7919 + salt * 104_729) % 201) as f32 - 100.0) / 4000.0).collect()
    }

    #[test]
    fn portable_gradients_match_candle_autograd() {
        for format in [WeightFormat::Safetensors, WeightFormat::Gguf] {
            let (_dir, model, tok) = tiny(format);
            let j = all_targets_job();
            let s = &j.settings;
            let tokens = tokenize_rows(&j.rows, &tok, 128, 256, "").unwrap();
            let rows: Vec<&[u32]> = tokens[..3].iter().map(|r| r.as_slice()).collect();

            let mut portable = portable::PortableTrainer::new(&model, Isa::best(), s).unwrap();
            let lora = LoraVars::init(&model, s).unwrap();
            for (l, (slots, pslots)) in lora.pairs.iter().zip(portable.lora.iter_mut()).enumerate() {
                for (p, (pair, pp)) in slots.iter().zip(pslots.iter_mut()).enumerate() {
                    let (Some((a, b)), Some(pp)) = (pair, pp) else { continue };
                    assert_eq!(a.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap(), pp.a, "same initial A");
                    pp.b = nonzero_b(pp.b.len(), l * 7 + p);
                    b.set(&Tensor::from_vec(pp.b.clone(), b.dims(), &Device::Cpu).unwrap()).unwrap();
                }
            }
            let candle = Trainer { model: &model, base: DenseBase::new(&model).unwrap(), lora };
            let (sum, count) = candle.batch_loss(&rows).unwrap();
            let loss = (sum.clone() / count as f64).unwrap();
            let reference = loss.backward().unwrap();
            let packed = portable::Packed::new(&rows);
            assert_eq!(packed.tokens(), count);
            let (psum, grads) = portable.loss_and_grads(&packed).unwrap();
            let csum = f64::from(sum.to_scalar::<f32>().unwrap());
            assert!((psum - csum).abs() <= 1e-4 * csum.abs(), "{format:?}: loss {psum} vs candle {csum}");
            let mut compared = 0;
            for (l, slots) in candle.lora.pairs.iter().enumerate() {
                for (p, pair) in slots.iter().enumerate() {
                    let Some((a, b)) = pair else { continue };
                    let (ga, gb) = grads[l][p].as_ref().expect("a gradient for every adapted projection");
                    for (name, var, got) in [("A", a, ga), ("B", b, gb)] {
                        let want = reference.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
                        let peak = want.iter().fold(0f32, |m, v| m.max(v.abs()));
                        let err = want.iter().zip(got).fold(0f32, |m, (w, g)| m.max((w - g).abs()));
                        assert!(peak > 0.0, "{format:?} layer {l} proj {p} d{name} is zero");
                        assert!(err <= 1e-4 * peak, "{format:?} layer {l} proj {p} d{name}: error {err} of peak {peak}");
                        compared += 1;
                    }
                }
            }
            assert_eq!(compared, model.config().layers * 7 * 2);
        }
    }

    #[test]
    fn portable_training_gives_the_same_bits_on_every_path_and_thread_count() {
        for format in [WeightFormat::Safetensors, WeightFormat::Gguf] {
            let (dir, mut model, tok) = tiny(format);
            let j = all_targets_job();
            let mut seen = Vec::new();
            for isa in Isa::available() {
                model.set_kernels(Kernels::Portable(isa)).unwrap();
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let store = dir.path().join(format!("store-{}-{threads}", isa.as_str()));
                    let o = pool.install(|| train(&model, &tok, &j, &store, &TrainLimits::default(), &mut |_| {})).unwrap();
                    seen.push((isa, threads, o.adapter_hash, o.training_log_hash, o.eval_loss_bits));
                }
            }
            for s in &seen[1..] {
                assert_eq!(
                    (&s.2, s.3, s.4),
                    (&seen[0].2, seen[0].3, seen[0].4),
                    "{format:?}: {:?}/{} threads vs {:?}/1",
                    s.0,
                    s.1,
                    seen[0].0
                );
            }
        }
    }

    /// The logits of the last input row under the training forward (inputs = tokens[..n-1]).
    fn last_logits(t: &Trainer<'_>, tokens: &[u32]) -> Vec<f32> {
        let n = tokens.len() - 1;
        let ids = Tensor::from_slice(&tokens[..n], n, &Device::Cpu).unwrap();
        let eps = t.model.config().rms_eps;
        let mut x = t.base.embed.index_select(&ids, 0).unwrap();
        for (l, layer) in t.base.layers.iter().enumerate() {
            let h = rms_norm(&x, &layer.attn_norm, eps).unwrap();
            let q = t.linear(l, Proj::Q, &h).unwrap();
            let k = t.linear(l, Proj::K, &h).unwrap();
            let v = t.linear(l, Proj::V, &h).unwrap();
            let att = t.attention(&q, &k, &v, n).unwrap();
            x = (x + t.linear(l, Proj::O, &att).unwrap()).unwrap();
            let h = rms_norm(&x, &layer.ffn_norm, eps).unwrap();
            let act = (t.linear(l, Proj::Gate, &h).unwrap().silu().unwrap() * t.linear(l, Proj::Up, &h).unwrap()).unwrap();
            x = (x + t.linear(l, Proj::Down, &act).unwrap()).unwrap();
        }
        let x = rms_norm(&x.narrow(0, n - 1, 1).unwrap(), &t.base.norm, eps).unwrap();
        x.matmul(&t.base.lm_head_t).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap()
    }

    /// The trained matrices read back from the written safetensors (B's rows put back in the
    /// model's own order, as the loader does).
    fn reload_vars(dir: &Path, model: &LlamaModel, s: &TrainSettings) -> LoraVars {
        let tensors = candle_core::safetensors::load(dir.join("adapter_model.safetensors"), &Device::Cpu).unwrap();
        let mut pairs: Vec<[Option<(Var, Var)>; 7]> = (0..model.config().layers).map(|_| Default::default()).collect();
        for (layer, slots) in pairs.iter_mut().enumerate() {
            for &p in &s.targets {
                let key = |ab: &str| format!("base_model.model.model.layers.{layer}.{}.{}.lora_{ab}.weight", p.group(), p.peft_name());
                let a = Var::from_tensor(&tensors[&key("A")]).unwrap();
                let mut b = tensors[&key("B")].clone();
                if model.format() == WeightFormat::Gguf && p.rope_permuted() {
                    let heads = if p == Proj::Q { model.config().heads } else { model.config().kv_heads };
                    b = permute_rows_for_gguf(&b, heads).unwrap();
                }
                let b = Var::from_tensor(&b).unwrap();
                slots[p as usize] = Some((a, b));
            }
        }
        LoraVars { pairs, scale: s.scale() }
    }
}
