//! OpenLoRA's model: a Llama decoder on candle that applies LoRA adapters unmerged, per sequence
//! (y = Wx + s·B(Ax)), so one copy of the base weights serves any mix of adapters in one batch.
//!
//! Batch invariance: every operation whose result could depend on the other rows is run per
//! sequence with shapes that depend only on that sequence (dense matmuls, LoRA matmuls, attention);
//! the only whole-batch matmul is candle's CPU quantized matmul, which computes each output element
//! as one row-by-column dot product (`k_quants::matmul`), so a row's result is the same alone or
//! in any batch. Norms, RoPE, softmax and SiLU are row-wise.
//!
//! On the CPU in f32 the forward pass runs on the portable kernels (`portable.rs`,
//! [`crate::kernels`]): the same bits on every instruction set and thread count, which is what
//! validators on different machines need to agree. [`Kernels::Candle`] keeps candle's own CPU
//! kernels (fast on some machines, but their results follow the instruction set) for comparison,
//! and candle serves other devices and dtypes.
//!
//! Weights come from a Hugging Face directory (safetensors, dense) or a GGUF file (quantized;
//! GGUF stores Q/K rows permuted for interleaved RoPE, so RoPE and adapters' B rows follow suit).

use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use candle_nn::kv_cache::KvCache;

use crate::error::{ExecutorError, Result};
use crate::kernels::Isa;
use crate::lora::{LoraAdapter, Proj};

pub(crate) mod portable;
use crate::progress::Progress;

/// Llama hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Hidden size.
    pub hidden: usize,
    /// MLP size.
    pub intermediate: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Size of one head.
    pub head_dim: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// RMSNorm epsilon.
    pub rms_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Context length.
    pub max_positions: usize,
    /// Whether the output projection is the embedding matrix.
    pub tie_embeddings: bool,
}

fn cfg_err(path: &Path, reason: impl Into<String>) -> ExecutorError {
    ExecutorError::InvalidModel { path: path.to_path_buf(), reason: reason.into() }
}

impl LlamaConfig {
    /// Reads a Hugging Face `config.json` of a Llama-architecture model.
    pub fn from_hf_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| ExecutorError::io(&path, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| cfg_err(&path, e.to_string()))?;
        let model_type = v.get("model_type").and_then(|x| x.as_str()).unwrap_or("llama");
        if !matches!(model_type, "llama" | "mistral") {
            return Err(cfg_err(&path, format!("model_type {model_type:?} is not a Llama-architecture model")));
        }
        let u = |k: &str| -> Result<usize> {
            v.get(k).and_then(|x| x.as_u64()).map(|x| x as usize).ok_or_else(|| cfg_err(&path, format!("config.json lacks {k}")))
        };
        let hidden = u("hidden_size")?;
        let heads = u("num_attention_heads")?;
        let kv_heads = v.get("num_key_value_heads").and_then(|x| x.as_u64()).map(|x| x as usize).unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || !hidden.is_multiple_of(heads) || !heads.is_multiple_of(kv_heads) {
            return Err(cfg_err(&path, "inconsistent head counts"));
        }
        let head_dim = v.get("head_dim").and_then(|x| x.as_u64()).map(|x| x as usize).unwrap_or(hidden / heads);
        if !head_dim.is_multiple_of(2) {
            return Err(cfg_err(&path, "odd head_dim"));
        }
        Ok(Self {
            hidden,
            intermediate: u("intermediate_size")?,
            layers: u("num_hidden_layers")?,
            heads,
            kv_heads,
            head_dim,
            vocab: u("vocab_size")?,
            rms_eps: v.get("rms_norm_eps").and_then(|x| x.as_f64()).unwrap_or(1e-5),
            rope_theta: v.get("rope_theta").and_then(|x| x.as_f64()).unwrap_or(10000.0),
            max_positions: u("max_position_embeddings")?,
            tie_embeddings: v.get("tie_word_embeddings").and_then(|x| x.as_bool()).unwrap_or(false),
        })
    }

    /// Reads the `llama.*` metadata of a GGUF file.
    pub fn from_gguf(path: &Path, content: &gguf_file::Content) -> Result<Self> {
        let md = &content.metadata;
        let arch = md.get("general.architecture").and_then(|v| v.to_string().ok()).cloned().unwrap_or_default();
        if arch != "llama" {
            return Err(cfg_err(path, format!("GGUF architecture {arch:?} is not supported by OpenLoRA (llama is)")));
        }
        let u = |k: &str| -> Result<usize> {
            md.get(&format!("llama.{k}"))
                .and_then(|v| v.to_u64().ok())
                .map(|x| x as usize)
                .ok_or_else(|| cfg_err(path, format!("GGUF lacks llama.{k}")))
        };
        let hidden = u("embedding_length")?;
        let heads = u("attention.head_count")?;
        let kv_heads = u("attention.head_count_kv").unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || !hidden.is_multiple_of(heads) || !heads.is_multiple_of(kv_heads) {
            return Err(cfg_err(path, "inconsistent head counts"));
        }
        let vocab =
            content.tensor_infos.get("token_embd.weight").map(|t| t.shape.dims()[0]).ok_or_else(|| cfg_err(path, "no token_embd"))?;
        let f = |k: &str, d: f64| md.get(&format!("llama.{k}")).and_then(|v| v.to_f32().ok()).map(f64::from).unwrap_or(d);
        Ok(Self {
            hidden,
            intermediate: u("feed_forward_length")?,
            layers: u("block_count")?,
            heads,
            kv_heads,
            head_dim: hidden / heads,
            vocab,
            rms_eps: f("attention.layer_norm_rms_epsilon", 1e-5),
            rope_theta: f("rope.freq_base", 10000.0),
            max_positions: u("context_length")?,
            tie_embeddings: !content.tensor_infos.contains_key("output.weight"),
        })
    }

    /// (out, in) of a projection by its PEFT name.
    pub fn projection_shape(&self, name: &str) -> Option<(usize, usize)> {
        let q = self.heads * self.head_dim;
        let kv = self.kv_heads * self.head_dim;
        Some(match name {
            "q_proj" => (q, self.hidden),
            "k_proj" | "v_proj" => (kv, self.hidden),
            "o_proj" => (self.hidden, q),
            "gate_proj" | "up_proj" => (self.intermediate, self.hidden),
            "down_proj" => (self.hidden, self.intermediate),
            _ => return None,
        })
    }
}

/// A base weight matrix `[out, in]`.
pub enum Weight {
    /// Dense, in the compute dtype.
    Dense(Tensor),
    /// GGML-quantized (CPU: row-wise dot products).
    Quant(Arc<QTensor>),
}

impl Weight {
    fn bytes(&self) -> u64 {
        match self {
            Self::Dense(t) => (t.elem_count() * t.dtype().size_in_bytes()) as u64,
            Self::Quant(q) => q.storage_size_in_bytes() as u64,
        }
    }

    /// Dense f32 copy `[out, in]` (for merging adapters).
    pub fn to_dense_f32(&self) -> Result<Tensor> {
        Ok(match self {
            Self::Dense(t) => t.to_dtype(DType::F32)?,
            Self::Quant(q) => q.dequantize(&q.device())?,
        })
    }

    fn forward(&self, x: &Tensor, segs: &[Segment<'_>]) -> Result<Tensor> {
        match self {
            Self::Quant(q) if x.device().is_cpu() => {
                let y = x.to_dtype(DType::F32)?.contiguous()?.apply_op1_no_bwd(q.as_ref())?;
                Ok(y.to_dtype(x.dtype())?)
            }
            _ => {
                let mut parts = Vec::with_capacity(segs.len());
                for s in segs {
                    let xs = x.narrow(0, s.row, s.len)?;
                    parts.push(match self {
                        Self::Dense(w) => xs.matmul(&w.t()?)?,
                        Self::Quant(q) => xs.to_dtype(DType::F32)?.contiguous()?.apply_op1_no_bwd(q.as_ref())?.to_dtype(x.dtype())?,
                    });
                }
                Ok(Tensor::cat(&parts, 0)?)
            }
        }
    }
}

pub(crate) struct Layer {
    pub(crate) attn_norm: Tensor,
    pub(crate) ffn_norm: Tensor,
    pub(crate) proj: [Weight; 7],
}

/// One sequence's rows in a forward pass.
#[derive(Clone, Copy)]
pub struct Segment<'a> {
    /// First row of the sequence in the batch.
    pub row: usize,
    /// Rows (tokens) of this sequence in this pass.
    pub len: usize,
    /// Position of the first row.
    pub pos: usize,
    /// Adapter applied to this sequence.
    pub adapter: Option<&'a LoraAdapter>,
}

/// Per-sequence key/value cache.
pub struct SeqCache {
    layers: Vec<KvCache>,
    flat: Vec<portable::FlatKv>,
    pos: usize,
}

impl SeqCache {
    /// Tokens cached so far.
    pub fn pos(&self) -> usize {
        self.pos
    }
}

/// Where the model's weights come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    /// Hugging Face directory with safetensors.
    Safetensors,
    /// GGUF file.
    Gguf,
}

/// Which kernels a forward pass runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    /// The portable kernels on this instruction-set path (CPU, f32): the same bits everywhere.
    Portable(Isa),
    /// candle's kernels (GPU, other dtypes; on the CPU their results depend on the machine).
    Candle,
}

impl Kernels {
    /// "cpu-portable-v1 (avx2)" or "candle".
    pub fn describe(self) -> String {
        match self {
            Kernels::Portable(isa) => format!("{} ({})", crate::kernels::PORTABLE_CLASS, isa.as_str()),
            Kernels::Candle => "candle".into(),
        }
    }
}

/// The OpenLoRA Llama.
pub struct LlamaModel {
    cfg: LlamaConfig,
    format: WeightFormat,
    device: Device,
    dtype: DType,
    pub(crate) embed: Tensor,
    pub(crate) layers: Vec<Layer>,
    pub(crate) norm: Tensor,
    pub(crate) lm_head: Weight,
    cos: Tensor,
    sin: Tensor,
    /// RoPE tables of the portable path, `[position][head_dim / 2]`.
    rope_cos: Vec<f32>,
    rope_sin: Vec<f32>,
    kernels: Kernels,
    bytes: u64,
}

const PROJ_HF: [&str; 7] =
    ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
const PROJ_GGUF: [&str; 7] = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

pub(crate) fn rope_tables(cfg: &LlamaConfig, device: &Device, dtype: DType) -> Result<(Tensor, Tensor)> {
    let half = cfg.head_dim / 2;
    let inv: Vec<f32> = (0..half).map(|i| 1.0 / cfg.rope_theta.powf((2 * i) as f64 / cfg.head_dim as f64) as f32).collect();
    let inv = Tensor::from_vec(inv, (1, half), device)?;
    let t = Tensor::arange(0u32, cfg.max_positions as u32, device)?.to_dtype(DType::F32)?.reshape((cfg.max_positions, 1))?;
    let freqs = t.broadcast_mul(&inv)?;
    Ok((freqs.cos()?.to_dtype(dtype)?, freqs.sin()?.to_dtype(dtype)?))
}

impl LlamaModel {
    /// Loads a Hugging Face Llama directory (all `*.safetensors` files) in `dtype`.
    pub fn load_hf_dir(dir: &Path, dtype: DType, device: &Device) -> Result<Self> {
        let cfg = LlamaConfig::from_hf_dir(dir)?;
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| ExecutorError::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(cfg_err(dir, "no *.safetensors file"));
        }
        let progress = Progress::new(format!("loading {} (OpenLoRA)", dir.display()), files.len() as u64, false);
        let mut tensors = std::collections::HashMap::new();
        for f in &files {
            tensors.extend(candle_core::safetensors::load(f, device)?);
            progress.inc(1);
        }
        progress.finish();
        let mut take = |name: &str| -> Result<Tensor> {
            let t = tensors.remove(name).ok_or_else(|| cfg_err(dir, format!("missing tensor {name}")))?;
            Ok(t.to_dtype(dtype)?)
        };
        let embed = take("model.embed_tokens.weight")?;
        let mut layers = Vec::with_capacity(cfg.layers);
        for l in 0..cfg.layers {
            let p = format!("model.layers.{l}");
            let mut proj = Vec::with_capacity(7);
            for (i, name) in PROJ_HF.iter().enumerate() {
                let w = take(&format!("{p}.{name}.weight"))?;
                let want = cfg.projection_shape(Proj::ALL[i].peft_name()).unwrap_or((0, 0));
                if w.dims2()? != want {
                    return Err(cfg_err(dir, format!("{p}.{name} has shape {:?}, config says {want:?}", w.dims())));
                }
                proj.push(Weight::Dense(w));
            }
            let proj: [Weight; 7] = proj.try_into().map_err(|_| cfg_err(dir, "projection count"))?;
            layers.push(Layer {
                attn_norm: take(&format!("{p}.input_layernorm.weight"))?,
                ffn_norm: take(&format!("{p}.post_attention_layernorm.weight"))?,
                proj,
            });
        }
        let norm = take("model.norm.weight")?;
        let lm_head = if cfg.tie_embeddings { Weight::Dense(embed.clone()) } else { Weight::Dense(take("lm_head.weight")?) };
        Self::assemble(cfg, WeightFormat::Safetensors, device, dtype, embed, layers, norm, lm_head)
    }

    /// Loads a GGUF Llama; matmul weights stay quantized, the rest is dequantized to `dtype`.
    pub fn load_gguf(path: &Path, dtype: DType, device: &Device) -> Result<Self> {
        let mut file = std::fs::File::open(path).map_err(|e| ExecutorError::io(path, e))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| cfg_err(path, e.to_string()))?;
        let cfg = LlamaConfig::from_gguf(path, &content)?;
        let progress = Progress::new(format!("loading {} (OpenLoRA)", path.display()), content.tensor_infos.len() as u64, false);
        let mut qt = |name: &str| -> Result<QTensor> {
            let t = content.tensor(&mut file, name, device).map_err(|e| cfg_err(path, format!("{name}: {e}")))?;
            progress.inc(1);
            Ok(t)
        };
        let dense = |q: QTensor| -> Result<Tensor> { Ok(q.dequantize(device)?.to_dtype(dtype)?) };
        // On the CPU, block formats the portable kernels lack (the k-quants) are dequantized once.
        let weight = |q: QTensor| -> Result<Weight> {
            Ok(match q.dtype() {
                GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => Weight::Dense(q.dequantize(device)?.to_dtype(dtype)?),
                t if device.is_cpu() && portable::quant_kind(t).is_none() => Weight::Dense(q.dequantize(device)?.to_dtype(dtype)?),
                _ => Weight::Quant(Arc::new(q)),
            })
        };
        let embed_q = qt("token_embd.weight")?;
        let embed = embed_q.dequantize(device)?.to_dtype(dtype)?;
        let lm_head = if cfg.tie_embeddings { weight(embed_q)? } else { weight(qt("output.weight")?)? };
        let mut layers = Vec::with_capacity(cfg.layers);
        for l in 0..cfg.layers {
            let mut proj = Vec::with_capacity(7);
            for name in PROJ_GGUF {
                proj.push(weight(qt(&format!("blk.{l}.{name}.weight"))?)?);
            }
            let proj: [Weight; 7] = proj.try_into().map_err(|_| cfg_err(path, "projection count"))?;
            layers.push(Layer {
                attn_norm: dense(qt(&format!("blk.{l}.attn_norm.weight"))?)?,
                ffn_norm: dense(qt(&format!("blk.{l}.ffn_norm.weight"))?)?,
                proj,
            });
        }
        let norm = dense(qt("output_norm.weight")?)?;
        progress.finish();
        Self::assemble(cfg, WeightFormat::Gguf, device, dtype, embed, layers, norm, lm_head)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        cfg: LlamaConfig,
        format: WeightFormat,
        device: &Device,
        dtype: DType,
        embed: Tensor,
        layers: Vec<Layer>,
        norm: Tensor,
        lm_head: Weight,
    ) -> Result<Self> {
        let (cos, sin) = rope_tables(&cfg, device, dtype)?;
        let t_bytes = |t: &Tensor| (t.elem_count() * t.dtype().size_in_bytes()) as u64;
        let mut bytes = t_bytes(&embed) + t_bytes(&norm);
        if !(cfg.tie_embeddings && format == WeightFormat::Safetensors) {
            bytes += lm_head.bytes();
        }
        for l in &layers {
            bytes += t_bytes(&l.attn_norm) + t_bytes(&l.ffn_norm) + l.proj.iter().map(Weight::bytes).sum::<u64>();
        }
        let portable = device.is_cpu() && dtype == DType::F32;
        let (rope_cos, rope_sin) =
            if portable { crate::kernels::math::rope_tables(cfg.rope_theta, cfg.head_dim, cfg.max_positions) } else { Default::default() };
        let kernels = if portable { Kernels::Portable(Isa::best()) } else { Kernels::Candle };
        Ok(Self { cfg, format, device: device.clone(), dtype, embed, layers, norm, lm_head, cos, sin, rope_cos, rope_sin, kernels, bytes })
    }

    /// The start-up self-check of the portable kernels: a probe (a prefill, then one decoded
    /// token) on the chosen path and the current thread pool must give exactly the bits of the
    /// scalar definition on one thread. A path that does not (a miscompiled build, a CPU bug)
    /// would disagree with the network and get this validator slashed, so the executor refuses to
    /// serve instead. No-op for candle's kernels.
    pub fn self_check(&self) -> Result<()> {
        match self.kernels {
            Kernels::Portable(_) => self.self_check_between(self.kernels, Kernels::Portable(Isa::Scalar)),
            Kernels::Candle => Ok(()),
        }
    }

    /// Compares the probe's logits on `kernels` (current pool) with `reference` (one thread).
    pub fn self_check_between(&self, kernels: Kernels, reference: Kernels) -> Result<()> {
        let vocab = u32::try_from(self.cfg.vocab).unwrap_or(u32::MAX).max(1);
        let probe: Vec<u32> = (0..6u32).map(|i| (i * 7919 + 1) % vocab).collect();
        let run = |k: Kernels| -> Result<Vec<u32>> {
            let mut cache = self.new_cache(probe.len() + 1);
            let seg = Segment { row: 0, len: probe.len(), pos: 0, adapter: None };
            let mut bits: Vec<u32> = self
                .forward_with(k, &probe, &[seg], &mut [&mut cache])?
                .flatten_all()?
                .to_vec1::<f32>()?
                .iter()
                .map(|f| f.to_bits())
                .collect();
            let seg = Segment { row: 0, len: 1, pos: probe.len(), adapter: None };
            let step = self.forward_with(k, &probe[..1], &[seg], &mut [&mut cache])?.flatten_all()?.to_vec1::<f32>()?;
            bits.extend(step.iter().map(|f| f.to_bits()));
            Ok(bits)
        };
        let got = run(kernels)?;
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| ExecutorError::Kernel(e.to_string()))?;
        let want = one.install(|| run(reference))?;
        if got != want {
            let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
            return Err(ExecutorError::Kernel(format!(
                "start-up self-check failed: {} at {} threads gives other bits than {} on one thread ({differing} of {} logits differ); refusing to serve",
                kernels.describe(),
                rayon::current_num_threads(),
                reference.describe(),
                want.len()
            )));
        }
        Ok(())
    }

    /// The kernels [`LlamaModel::forward`] runs on.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Chooses the kernels; the portable ones need a CPU model in f32.
    pub fn set_kernels(&mut self, kernels: Kernels) -> Result<()> {
        if matches!(kernels, Kernels::Portable(_)) && self.rope_cos.is_empty() {
            return Err(ExecutorError::Kernel(format!(
                "the portable kernels need a CPU model in f32 (this one is {:?} on {:?})",
                self.dtype,
                self.device.location()
            )));
        }
        self.kernels = kernels;
        Ok(())
    }

    /// Hyper-parameters.
    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// The portable path's RoPE tables, `[position][head_dim / 2]` (empty off that path).
    pub(crate) fn rope_rows(&self) -> (&[f32], &[f32]) {
        (&self.rope_cos, &self.rope_sin)
    }

    /// Weight format (decides the RoPE layout adapters must follow).
    pub fn format(&self) -> WeightFormat {
        self.format
    }

    /// Compute dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Bytes the weights take in memory.
    pub fn weight_bytes(&self) -> u64 {
        self.bytes
    }

    /// Dense f32 weight of a projection (for merging adapters into a copy of the base).
    pub fn projection_f32(&self, layer: usize, proj: Proj) -> Result<Tensor> {
        self.layers.get(layer).ok_or_else(|| ExecutorError::Config(format!("no layer {layer}")))?.proj[proj as usize].to_dense_f32()
    }

    /// A fresh cache for a sequence of at most `capacity` tokens.
    pub fn new_cache(&self, capacity: usize) -> SeqCache {
        SeqCache { layers: (0..self.cfg.layers).map(|_| KvCache::new(2, capacity.max(1))).collect(), flat: Vec::new(), pos: 0 }
    }

    fn linear(&self, layer: usize, proj: Proj, x: &Tensor, segs: &[Segment<'_>]) -> Result<Tensor> {
        let base = self.layers[layer].proj[proj as usize].forward(x, segs)?;
        if !segs.iter().any(|s| s.adapter.is_some_and(|a| a.pair(layer, proj).is_some())) {
            return Ok(base);
        }
        let mut parts = Vec::with_capacity(segs.len());
        for s in segs {
            let rows = base.narrow(0, s.row, s.len)?;
            parts.push(match s.adapter.and_then(|a| a.pair(layer, proj).map(|p| (a, p))) {
                Some((a, pair)) => {
                    let xs = x.narrow(0, s.row, s.len)?;
                    let down = xs.matmul(&pair.a_t.to_dtype(self.dtype)?)?;
                    let up = down.matmul(&pair.b_t.to_dtype(self.dtype)?)?;
                    (rows + (up * a.scale)?)?
                }
                None => rows,
            });
        }
        Ok(Tensor::cat(&parts, 0)?)
    }

    fn attention(
        &self,
        layer: usize,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        segs: &[Segment<'_>],
        caches: &mut [&mut SeqCache],
    ) -> Result<Tensor> {
        let (nh, nkv, hd) = (self.cfg.heads, self.cfg.kv_heads, self.cfg.head_dim);
        let mut parts = Vec::with_capacity(segs.len());
        for (s, cache) in segs.iter().zip(caches.iter_mut()) {
            let shape = |t: &Tensor, heads: usize| -> Result<Tensor> {
                Ok(t.narrow(0, s.row, s.len)?.reshape((1, s.len, heads, hd))?.transpose(1, 2)?.contiguous()?)
            };
            let (qs, ks, vs) = (shape(q, nh)?, shape(k, nkv)?, shape(v, nkv)?);
            let cos = self.cos.narrow(0, s.pos, s.len)?;
            let sin = self.sin.narrow(0, s.pos, s.len)?;
            let (qs, ks) = match self.format {
                WeightFormat::Gguf => (candle_nn::rotary_emb::rope_i(&qs, &cos, &sin)?, candle_nn::rotary_emb::rope_i(&ks, &cos, &sin)?),
                WeightFormat::Safetensors => (candle_nn::rotary_emb::rope(&qs, &cos, &sin)?, candle_nn::rotary_emb::rope(&ks, &cos, &sin)?),
            };
            let (ka, va) = cache.layers[layer].append(&ks, &vs)?;
            let total = ka.dim(2)?;
            let rep = nh / nkv;
            let expand = |t: Tensor| -> Result<Tensor> {
                if rep == 1 {
                    return Ok(t.contiguous()?);
                }
                Ok(t.unsqueeze(2)?.expand((1, nkv, rep, total, hd))?.reshape((1, nh, total, hd))?)
            };
            let (ka, va) = (expand(ka)?, expand(va)?);
            let scale = 1.0 / (hd as f64).sqrt();
            let mut att = (qs.matmul(&ka.t()?.contiguous()?)? * scale)?;
            if s.len > 1 {
                let mask: Vec<f32> =
                    (0..s.len).flat_map(|i| (0..total).map(move |j| if j > s.pos + i { f32::NEG_INFINITY } else { 0.0 })).collect();
                let mask = Tensor::from_vec(mask, (s.len, total), &self.device)?.to_dtype(att.dtype())?;
                att = att.broadcast_add(&mask)?;
            }
            let att = candle_nn::ops::softmax_last_dim(&att)?;
            let out = att.matmul(&va)?.transpose(1, 2)?.reshape((s.len, nh * hd))?;
            parts.push(out);
        }
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// Runs `tokens` (the rows of all segments, in order) through the model, appends to each
    /// segment's cache, and returns the f32 logits of each segment's last row, `[segments, vocab]`.
    pub fn forward(&self, tokens: &[u32], segs: &[Segment<'_>], caches: &mut [&mut SeqCache]) -> Result<Tensor> {
        self.forward_with(self.kernels, tokens, segs, caches)
    }

    /// [`LlamaModel::forward`] on the given kernels (tests compare every path of one model). A
    /// cache must stay with the kernels that filled it.
    pub fn forward_with(&self, kernels: Kernels, tokens: &[u32], segs: &[Segment<'_>], caches: &mut [&mut SeqCache]) -> Result<Tensor> {
        if segs.len() != caches.len() || segs.iter().map(|s| s.len).sum::<usize>() != tokens.len() {
            return Err(ExecutorError::Config("forward: segments do not match tokens/caches".into()));
        }
        for (s, c) in segs.iter().zip(caches.iter()) {
            if s.pos != c.pos || s.pos + s.len > self.cfg.max_positions {
                return Err(ExecutorError::Config("forward: segment position out of range".into()));
            }
        }
        if segs.iter().any(|s| s.len == 0) {
            return Err(ExecutorError::Config("forward: empty segment".into()));
        }
        if let Kernels::Portable(isa) = kernels {
            if self.rope_cos.is_empty() {
                return Err(ExecutorError::Kernel("the portable kernels need a CPU model in f32".into()));
            }
            let kvd = self.cfg.kv_heads * self.cfg.head_dim;
            if caches.iter().any(|c| c.pos > 0 && c.flat.first().is_none_or(|kv| kv.rows(kvd) != c.pos)) {
                return Err(ExecutorError::Config("forward: this cache was filled by other kernels".into()));
            }
            let logits = self.portable_forward(isa, tokens, segs, caches)?;
            for (s, c) in segs.iter().zip(caches.iter_mut()) {
                c.pos = s.pos + s.len;
            }
            let vocab = logits.len() / segs.len();
            return Ok(Tensor::from_vec(logits, (segs.len(), vocab), &self.device)?);
        }
        let ids = Tensor::from_slice(tokens, tokens.len(), &self.device)?;
        let mut x = self.embed.index_select(&ids, 0)?;
        let eps = self.cfg.rms_eps as f32;
        for l in 0..self.layers.len() {
            let h = candle_nn::ops::rms_norm(&x, &self.layers[l].attn_norm, eps)?;
            let q = self.linear(l, Proj::Q, &h, segs)?;
            let k = self.linear(l, Proj::K, &h, segs)?;
            let v = self.linear(l, Proj::V, &h, segs)?;
            let att = self.attention(l, &q, &k, &v, segs, caches)?;
            x = (x + self.linear(l, Proj::O, &att, segs)?)?;
            let h = candle_nn::ops::rms_norm(&x, &self.layers[l].ffn_norm, eps)?;
            let gate = self.linear(l, Proj::Gate, &h, segs)?;
            let up = self.linear(l, Proj::Up, &h, segs)?;
            let act = (candle_nn::ops::silu(&gate)? * up)?;
            x = (x + self.linear(l, Proj::Down, &act, segs)?)?;
        }
        for (s, c) in segs.iter().zip(caches.iter_mut()) {
            c.pos = s.pos + s.len;
        }
        let last: Vec<Tensor> = segs.iter().map(|s| x.narrow(0, s.row + s.len - 1, 1)).collect::<candle_core::Result<_>>()?;
        let last = candle_nn::ops::rms_norm(&Tensor::cat(&last, 0)?, &self.norm, eps)?;
        let rows: Vec<Segment<'_>> = (0..segs.len()).map(|i| Segment { row: i, len: 1, pos: 0, adapter: None }).collect();
        Ok(self.lm_head.forward(&last, &rows)?.to_dtype(DType::F32)?)
    }
}

impl Proj {
    /// The GGUF RoPE permutation applies to this projection's output rows.
    pub fn rope_permuted(self) -> bool {
        matches!(self, Proj::Q | Proj::K)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{write_tiny_llama, TinyLlamaSpec};

    fn greedy(model: &LlamaModel, prompt: &[u32], n: usize) -> Vec<u32> {
        let mut cache = model.new_cache(prompt.len() + n);
        let mut out = Vec::new();
        let mut logits = model.forward(prompt, &[Segment { row: 0, len: prompt.len(), pos: 0, adapter: None }], &mut [&mut cache]).unwrap();
        for _ in 0..n {
            let t = crate::sampling::argmax(&logits.get(0).unwrap().to_vec1::<f32>().unwrap());
            out.push(t);
            let pos = cache.pos();
            logits = model.forward(&[t], &[Segment { row: 0, len: 1, pos, adapter: None }], &mut [&mut cache]).unwrap();
        }
        out
    }

    #[test]
    fn incremental_decoding_matches_full_prefill() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_llama(dir.path(), TinyLlamaSpec::default(), 3).unwrap();
        let model = LlamaModel::load_hf_dir(dir.path(), DType::F32, &Device::Cpu).unwrap();
        let prompt: Vec<u32> = b"the quick brown fox".iter().map(|&b| u32::from(b)).collect();
        let gen = greedy(&model, &prompt, 6);
        // Re-running the whole sequence at once predicts the same last token.
        let mut full = prompt.clone();
        full.extend_from_slice(&gen[..5]);
        let mut cache = model.new_cache(full.len());
        let logits = model.forward(&full, &[Segment { row: 0, len: full.len(), pos: 0, adapter: None }], &mut [&mut cache]).unwrap();
        assert_eq!(crate::sampling::argmax(&logits.get(0).unwrap().to_vec1::<f32>().unwrap()), gen[5]);
    }

    #[test]
    fn batched_rows_equal_single_rows_bitwise() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_llama(dir.path(), TinyLlamaSpec::default(), 4).unwrap();
        let model = LlamaModel::load_hf_dir(dir.path(), DType::F32, &Device::Cpu).unwrap();
        let a: Vec<u32> = b"alpha".iter().map(|&b| u32::from(b)).collect();
        let b: Vec<u32> = b"be".iter().map(|&b| u32::from(b)).collect();
        let mut ca = model.new_cache(16);
        let mut cb = model.new_cache(16);
        let la = model.forward(&a, &[Segment { row: 0, len: a.len(), pos: 0, adapter: None }], &mut [&mut ca]).unwrap();
        let lb = model.forward(&b, &[Segment { row: 0, len: b.len(), pos: 0, adapter: None }], &mut [&mut cb]).unwrap();
        // One decode step alone...
        let (mut ca1, mut cb1) = (model.new_cache(16), model.new_cache(16));
        model.forward(&a, &[Segment { row: 0, len: a.len(), pos: 0, adapter: None }], &mut [&mut ca1]).unwrap();
        model.forward(&b, &[Segment { row: 0, len: b.len(), pos: 0, adapter: None }], &mut [&mut cb1]).unwrap();
        let alone = model.forward(&[7], &[Segment { row: 0, len: 1, pos: a.len(), adapter: None }], &mut [&mut ca1]).unwrap();
        // ...and the same step batched with another sequence.
        let segs = [Segment { row: 0, len: 1, pos: a.len(), adapter: None }, Segment { row: 1, len: 1, pos: b.len(), adapter: None }];
        let both = model.forward(&[7, 9], &segs, &mut [&mut ca, &mut cb]).unwrap();
        assert_eq!(alone.get(0).unwrap().to_vec1::<f32>().unwrap(), both.get(0).unwrap().to_vec1::<f32>().unwrap());
        assert_ne!(la.to_vec2::<f32>().unwrap(), lb.to_vec2::<f32>().unwrap());
    }
}
