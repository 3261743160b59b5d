//! LoRA adapters in the PEFT layout (`adapter_config.json` + `adapter_model.safetensors`), loaded
//! and validated against a base model, kept unmerged for per-request application, or merged into a
//! copy of the base for operators (and for the merged = unmerged check).
//!
//! Every size an adapter can claim is bounded before memory is committed: the files' byte sizes,
//! the safetensors header (parsed by `safetensors`, which checks offsets), the rank, and each
//! tensor's shape against the base model.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::error::{ExecutorError, Result};
use crate::hashing::{hash_named_blobs, to_hex};
use crate::llama::{LlamaConfig, LlamaModel, WeightFormat};

/// The seven Llama projections an adapter can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proj {
    /// Attention query.
    Q = 0,
    /// Attention key.
    K = 1,
    /// Attention value.
    V = 2,
    /// Attention output.
    O = 3,
    /// MLP gate.
    Gate = 4,
    /// MLP up.
    Up = 5,
    /// MLP down.
    Down = 6,
}

impl Proj {
    /// All projections, in index order.
    pub const ALL: [Proj; 7] = [Proj::Q, Proj::K, Proj::V, Proj::O, Proj::Gate, Proj::Up, Proj::Down];

    /// PEFT module name.
    pub fn peft_name(self) -> &'static str {
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"][self as usize]
    }

    /// Parses a PEFT module name.
    pub fn from_peft(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.peft_name() == name)
    }

    /// The PEFT module group (`self_attn` or `mlp`).
    pub fn group(self) -> &'static str {
        if (self as usize) < 4 {
            "self_attn"
        } else {
            "mlp"
        }
    }
}

/// One adapted projection, stored transposed for `x·Aᵀ·Bᵀ`, in the file's dtype.
pub struct LoraPair {
    /// Aᵀ, `[in, r]`.
    pub a_t: Tensor,
    /// Bᵀ, `[r, out]` (rows permuted like the base for GGUF Q/K).
    pub b_t: Tensor,
    /// A in f32, row-major `[r, in]`, for the portable kernels.
    pub a_rows: Vec<f32>,
    /// B in f32, row-major `[out, r]`, for the portable kernels.
    pub b_rows: Vec<f32>,
}

/// Bounds applied when loading an adapter.
#[derive(Clone, Copy, Debug)]
pub struct AdapterLimits {
    /// Largest adapter_model.safetensors accepted, in bytes.
    pub max_file_bytes: u64,
    /// Largest rank accepted.
    pub max_rank: usize,
}

impl Default for AdapterLimits {
    fn default() -> Self {
        Self { max_file_bytes: 256 << 20, max_rank: 256 }
    }
}

/// A loaded adapter.
pub struct LoraAdapter {
    /// Content hash (hex).
    pub hash: String,
    /// Rank.
    pub rank: usize,
    /// Scale s in y = Wx + s·B(Ax): lora_alpha / r (or / √r with rsLoRA).
    pub scale: f64,
    /// Target module names.
    pub targets: Vec<String>,
    layers: Vec<[Option<LoraPair>; 7]>,
    bytes: u64,
}

const MAX_CONFIG_BYTES: u64 = 64 << 10;

fn corrupt(dir: &Path, reason: impl Into<String>) -> ExecutorError {
    ExecutorError::CorruptAdapter { path: dir.to_path_buf(), reason: reason.into() }
}

/// Reads a file of at most `max` bytes (checked before reading).
fn read_bounded(dir: &Path, name: &str, max: u64) -> Result<Vec<u8>> {
    let path = dir.join(name);
    let meta = std::fs::metadata(&path).map_err(|e| corrupt(dir, format!("{name}: {e}")))?;
    if !meta.is_file() {
        return Err(corrupt(dir, format!("{name} is not a regular file")));
    }
    if meta.len() > max {
        return Err(corrupt(dir, format!("{name} is {} bytes, over the limit of {max}", meta.len())));
    }
    std::fs::read(&path).map_err(|e| ExecutorError::io(&path, e))
}

/// The adapter's content hash without loading its tensors (bounded reads).
pub fn adapter_hash(dir: &Path, limits: &AdapterLimits) -> Result<String> {
    let config = read_bounded(dir, "adapter_config.json", MAX_CONFIG_BYTES)?;
    let weights = read_bounded(dir, "adapter_model.safetensors", limits.max_file_bytes)?;
    Ok(to_hex(&hash_named_blobs(&[("adapter_config.json", &config), ("adapter_model.safetensors", &weights)])))
}

/// Parsed adapter_config.json fields that matter.
struct PeftConfig {
    rank: usize,
    scale: f64,
    targets: Vec<Proj>,
}

fn parse_config(dir: &Path, bytes: &[u8], limits: &AdapterLimits) -> Result<PeftConfig> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| corrupt(dir, format!("adapter_config.json: {e}")))?;
    if let Some(t) = v.get("peft_type").and_then(|x| x.as_str()) {
        if t != "LORA" {
            return Err(corrupt(dir, format!("peft_type {t:?} is not LORA")));
        }
    }
    let rank = v.get("r").and_then(|x| x.as_u64()).ok_or_else(|| corrupt(dir, "adapter_config.json lacks r"))? as usize;
    if rank == 0 || rank > limits.max_rank {
        return Err(corrupt(dir, format!("rank {rank} out of range 1..={}", limits.max_rank)));
    }
    let alpha = v.get("lora_alpha").and_then(|x| x.as_f64()).unwrap_or(rank as f64);
    if !alpha.is_finite() || alpha <= 0.0 || alpha > 1e6 {
        return Err(corrupt(dir, format!("lora_alpha {alpha} out of range")));
    }
    if v.get("fan_in_fan_out").and_then(|x| x.as_bool()).unwrap_or(false) {
        return Err(corrupt(dir, "fan_in_fan_out adapters are not supported"));
    }
    if let Some(b) = v.get("bias").and_then(|x| x.as_str()) {
        if b != "none" {
            return Err(corrupt(dir, format!("bias {b:?} is not supported (none is)")));
        }
    }
    if v.get("use_dora").and_then(|x| x.as_bool()).unwrap_or(false) {
        return Err(corrupt(dir, "DoRA adapters are not supported"));
    }
    let rslora = v.get("use_rslora").and_then(|x| x.as_bool()).unwrap_or(false);
    let scale = if rslora { alpha / (rank as f64).sqrt() } else { alpha / rank as f64 };
    let names: Vec<String> = match v.get("target_modules") {
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        _ => return Err(corrupt(dir, "adapter_config.json lacks target_modules")),
    };
    let mut targets = Vec::new();
    for n in &names {
        let p = Proj::from_peft(n).ok_or_else(|| corrupt(dir, format!("unsupported target module {n:?}")))?;
        if !targets.contains(&p) {
            targets.push(p);
        }
    }
    if targets.is_empty() {
        return Err(corrupt(dir, "no target modules"));
    }
    Ok(PeftConfig { rank, scale, targets })
}

/// Parses `base_model.model.model.layers.{i}.{group}.{proj}.lora_{A|B}.weight`.
fn parse_key(key: &str) -> Option<(usize, Proj, bool)> {
    let rest = key.strip_prefix("base_model.model.model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (group, rest) = rest.split_once('.')?;
    let (proj, rest) = rest.split_once('.')?;
    let proj = Proj::from_peft(proj)?;
    if group != proj.group() {
        return None;
    }
    match rest {
        "lora_A.weight" => Some((layer, proj, true)),
        "lora_B.weight" => Some((layer, proj, false)),
        _ => None,
    }
}

/// GGUF's Q/K row order: rows of each head regrouped from [2, hd/2] to [hd/2, 2].
pub(crate) fn permute_rows_for_gguf(b: &Tensor, heads: usize) -> Result<Tensor> {
    let (out, r) = b.dims2()?;
    let hd = out / heads;
    Ok(b.reshape((heads, 2, hd / 2, r))?.transpose(1, 2)?.contiguous()?.reshape((out, r))?)
}

impl LoraAdapter {
    /// Loads and validates the adapter in `dir` for `model`; tensors stay in the file's dtype
    /// (F32, F16 or BF16) and are upcast when applied.
    pub fn load(dir: &Path, model: &LlamaModel, limits: &AdapterLimits) -> Result<Self> {
        Self::load_expecting(dir, model, limits, None)
    }

    /// Like [`LoraAdapter::load`], but refuses files whose content hash is not `expected` before
    /// parsing any of their bytes.
    pub fn load_expecting(dir: &Path, model: &LlamaModel, limits: &AdapterLimits, expected: Option<&str>) -> Result<Self> {
        let config_bytes = read_bounded(dir, "adapter_config.json", MAX_CONFIG_BYTES)?;
        let weight_bytes = read_bounded(dir, "adapter_model.safetensors", limits.max_file_bytes)?;
        let hash = to_hex(&hash_named_blobs(&[("adapter_config.json", &config_bytes), ("adapter_model.safetensors", &weight_bytes)]));
        if let Some(expected) = expected {
            if hash != expected {
                return Err(ExecutorError::HashMismatch {
                    what: format!("adapter {}", dir.display()),
                    expected: expected.to_string(),
                    found: hash,
                });
            }
        }
        let cfg = parse_config(dir, &config_bytes, limits)?;
        let st =
            safetensors::SafeTensors::deserialize(&weight_bytes).map_err(|e| corrupt(dir, format!("adapter_model.safetensors: {e}")))?;
        let mc: &LlamaConfig = model.config();
        let device = model.device();
        let mut raw: HashMap<(usize, Proj), (Option<Tensor>, Option<Tensor>)> = HashMap::new();
        for (name, view) in st.tensors() {
            let (layer, proj, is_a) = parse_key(&name).ok_or_else(|| corrupt(dir, format!("unexpected tensor {name:?}")))?;
            if layer >= mc.layers {
                return Err(corrupt(dir, format!("{name}: layer {layer} but the model has {}", mc.layers)));
            }
            if !cfg.targets.contains(&proj) {
                return Err(corrupt(dir, format!("{name}: {} is not in target_modules", proj.peft_name())));
            }
            let dtype = match view.dtype() {
                safetensors::Dtype::F32 => DType::F32,
                safetensors::Dtype::F16 => DType::F16,
                safetensors::Dtype::BF16 => DType::BF16,
                other => return Err(corrupt(dir, format!("{name}: dtype {other:?} (F32, F16 or BF16 expected)"))),
            };
            let (out, inp) = mc.projection_shape(proj.peft_name()).unwrap_or((0, 0));
            let want = if is_a { vec![cfg.rank, inp] } else { vec![out, cfg.rank] };
            if view.shape() != want.as_slice() {
                return Err(corrupt(dir, format!("{name}: shape {:?}, expected {want:?}", view.shape())));
            }
            let t = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), &Device::Cpu)?;
            let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            if values.iter().any(|x| !x.is_finite()) {
                return Err(corrupt(dir, format!("{name}: non-finite values")));
            }
            let entry = raw.entry((layer, proj)).or_default();
            let slot = if is_a { &mut entry.0 } else { &mut entry.1 };
            if slot.replace(t).is_some() {
                return Err(corrupt(dir, format!("{name}: duplicate")));
            }
        }
        if raw.is_empty() {
            return Err(corrupt(dir, "no LoRA tensors"));
        }
        let mut layers: Vec<[Option<LoraPair>; 7]> = (0..mc.layers).map(|_| Default::default()).collect();
        let mut bytes = 0u64;
        for ((layer, proj), pair) in raw {
            let (Some(a), Some(b)) = pair else {
                return Err(corrupt(dir, format!("layer {layer} {}: lora_A and lora_B must both be present", proj.peft_name())));
            };
            let b = if model.format() == WeightFormat::Gguf && proj.rope_permuted() {
                permute_rows_for_gguf(&b, if proj == Proj::Q { mc.heads } else { mc.kv_heads })?
            } else {
                b
            };
            let a_rows = a.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            let b_rows = b.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            let a_t = a.t()?.contiguous()?.to_device(device)?;
            let b_t = b.t()?.contiguous()?.to_device(device)?;
            bytes += ((a_t.elem_count() + b_t.elem_count()) * a_t.dtype().size_in_bytes() + (a_rows.len() + b_rows.len()) * 4) as u64;
            layers[layer][proj as usize] = Some(LoraPair { a_t, b_t, a_rows, b_rows });
        }
        let targets = cfg.targets.iter().map(|p| p.peft_name().to_string()).collect();
        Ok(Self { hash, rank: cfg.rank, scale: cfg.scale, targets, layers, bytes })
    }

    /// The pair adapting `proj` in `layer`, if any.
    pub fn pair(&self, layer: usize, proj: Proj) -> Option<&LoraPair> {
        self.layers.get(layer).and_then(|l| l[proj as usize].as_ref())
    }

    /// Bytes the adapter's tensors take.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The merged f32 weight `W + s·B·A` of one projection of `model` (None if not adapted).
    pub fn merged_weight(&self, model: &LlamaModel, layer: usize, proj: Proj) -> Result<Option<Tensor>> {
        let Some(pair) = self.pair(layer, proj) else { return Ok(None) };
        let w = model.projection_f32(layer, proj)?;
        let ba = pair.a_t.to_dtype(DType::F32)?.matmul(&pair.b_t.to_dtype(DType::F32)?)?.t()?;
        Ok(Some((w + (ba * self.scale)?)?))
    }
}

/// Writes a copy of the Hugging Face model in `base_dir` with the adapter in `adapter_dir` merged
/// into its weights (W' = W + s·B·A, in f32) to `out_dir`: an ordinary model any engine can load.
pub fn merge_into_dir(base_dir: &Path, adapter_dir: &Path, out_dir: &Path, limits: &AdapterLimits) -> Result<()> {
    let model = LlamaModel::load_hf_dir(base_dir, DType::F32, &Device::Cpu)?;
    let adapter = LoraAdapter::load(adapter_dir, &model, limits)?;
    std::fs::create_dir_all(out_dir).map_err(|e| ExecutorError::io(out_dir, e))?;
    for entry in std::fs::read_dir(base_dir).map_err(|e| ExecutorError::io(base_dir, e))? {
        let path = entry.map_err(|e| ExecutorError::io(base_dir, e))?.path();
        let Some(name) = path.file_name() else { continue };
        if path.is_file() && path.extension().is_none_or(|x| x != "safetensors") {
            std::fs::copy(&path, out_dir.join(name)).map_err(|e| ExecutorError::io(&path, e))?;
        }
    }
    let mut tensors = HashMap::new();
    let mut files: Vec<_> = std::fs::read_dir(base_dir)
        .map_err(|e| ExecutorError::io(base_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    for f in &files {
        tensors.extend(candle_core::safetensors::load(f, &Device::Cpu)?);
    }
    for layer in 0..model.config().layers {
        for proj in Proj::ALL {
            if let Some(w) = adapter.merged_weight(&model, layer, proj)? {
                let key = format!("model.layers.{layer}.{}.{}.weight", proj.group(), proj.peft_name());
                let dtype = tensors.get(&key).map(|t| t.dtype()).unwrap_or(DType::F32);
                tensors.insert(key, w.to_dtype(dtype)?);
            }
        }
    }
    candle_core::safetensors::save(&tensors, out_dir.join("model.safetensors"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{write_random_adapter, write_tiny_llama, AdapterSpec, TinyLlamaSpec};

    #[test]
    fn parses_peft_keys() {
        assert_eq!(parse_key("base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight"), Some((3, Proj::V, false)));
        assert_eq!(parse_key("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"), Some((0, Proj::Down, true)));
        assert_eq!(parse_key("base_model.model.model.layers.0.mlp.q_proj.lora_A.weight"), None);
        assert_eq!(parse_key("base_model.model.lm_head.weight"), None);
    }

    #[test]
    fn loads_valid_and_rejects_broken_adapters() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write_tiny_llama(&dir.path().join("m"), TinyLlamaSpec::default(), 1).unwrap();
        let model = LlamaModel::load_hf_dir(&dir.path().join("m"), DType::F32, &Device::Cpu).unwrap();
        let ad = dir.path().join("a");
        write_random_adapter(&ad, &cfg, &AdapterSpec::default(), 2).unwrap();
        let lim = AdapterLimits::default();
        let a = LoraAdapter::load(&ad, &model, &lim).unwrap();
        assert_eq!(a.rank, 8);
        assert!((a.scale - 2.0).abs() < 1e-12);
        assert_eq!(a.hash, adapter_hash(&ad, &lim).unwrap());
        assert!(a.pair(0, Proj::Q).is_some() && a.pair(1, Proj::V).is_some() && a.pair(0, Proj::K).is_none());
        // File over the size limit.
        let small = AdapterLimits { max_file_bytes: 100, ..lim };
        assert!(matches!(LoraAdapter::load(&ad, &model, &small), Err(ExecutorError::CorruptAdapter { .. })));
        // Truncated safetensors.
        let st = ad.join("adapter_model.safetensors");
        let bytes = std::fs::read(&st).unwrap();
        std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(LoraAdapter::load(&ad, &model, &lim), Err(ExecutorError::CorruptAdapter { .. })));
        // Adapter made for a bigger model: shapes do not fit.
        let big = TinyLlamaSpec { hidden: 128, ..TinyLlamaSpec::default() };
        let big_cfg = write_tiny_llama(&dir.path().join("big"), big, 1).unwrap();
        write_random_adapter(&ad, &big_cfg, &AdapterSpec::default(), 2).unwrap();
        let e = LoraAdapter::load(&ad, &model, &lim).err().unwrap().to_string();
        assert!(e.contains("shape"), "{e}");
        // Bad config.
        write_random_adapter(&ad, &cfg, &AdapterSpec::default(), 2).unwrap();
        std::fs::write(ad.join("adapter_config.json"), br#"{"r": 0, "target_modules": ["q_proj"]}"#).unwrap();
        assert!(LoraAdapter::load(&ad, &model, &lim).is_err());
    }

    #[test]
    fn gguf_permutation_regroups_head_rows() {
        // 2 heads of dim 4: rows [h0: a0 a1 | b0 b1][h1: ...] -> [a0 b0 a1 b1] per head.
        let b = Tensor::arange(0f32, 8., &Device::Cpu).unwrap().reshape((8, 1)).unwrap();
        let p = permute_rows_for_gguf(&b, 2).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(p, vec![0., 2., 1., 3., 4., 6., 5., 7.]);
    }
}
