//! Small real models made on the spot, for tests, benchmarks and operators' smoke checks (`open-executor
//! fixture ...`): a tiny random Llama in the Hugging Face layout (config.json, a byte-level BPE
//! tokenizer.json, model.safetensors) and random PEFT LoRA adapters for it. Everything is drawn
//! from a ChaCha20 generator seeded by the caller, so a fixture is the same bytes every time.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

use crate::error::{ExecutorError, Result};
use crate::llama::LlamaConfig;

/// End-of-sequence token of the fixture tokenizer.
pub const EOS_TOKEN: &str = "<|endoftext|>";
/// Beginning-of-sequence token of the fixture tokenizer.
pub const BOS_TOKEN: &str = "<|bos|>";

/// Shape of a tiny Llama.
#[derive(Clone, Copy, Debug)]
pub struct TinyLlamaSpec {
    /// Hidden size.
    pub hidden: usize,
    /// MLP size.
    pub intermediate: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Key/value heads (GQA).
    pub kv_heads: usize,
    /// Context length.
    pub max_positions: usize,
}

impl Default for TinyLlamaSpec {
    fn default() -> Self {
        Self { hidden: 64, intermediate: 128, layers: 2, heads: 4, kv_heads: 2, max_positions: 256 }
    }
}

/// The GPT-2 byte-to-character table (printable bytes map to themselves, the rest to U+0100+).
fn bytes_char() -> Vec<char> {
    let mut bs: Vec<u32> = (u32::from(b'!')..=u32::from(b'~')).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    let mut table = vec!['\0'; 256];
    for (b, c) in bs.iter().zip(cs) {
        table[*b as usize] = char::from_u32(c).unwrap_or('?');
    }
    table
}

/// Writes a byte-level BPE `tokenizer.json` (256 byte tokens, ids 0..=255, then the end (256) and
/// beginning (257) of sequence tokens) into `dir`.
pub fn write_tokenizer(dir: &Path) -> Result<()> {
    let vocab: tokenizers::models::bpe::Vocab = bytes_char().into_iter().enumerate().map(|(i, c)| (c.to_string(), i as u32)).collect();
    let bpe = BPE::builder().vocab_and_merges(vocab, Vec::new()).build().map_err(|e| ExecutorError::Tokenizer(e.to_string()))?;
    let mut tok = Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tok.with_decoder(Some(ByteLevelDecoder::default()));
    tok.add_special_tokens(&[AddedToken::from(EOS_TOKEN, true), AddedToken::from(BOS_TOKEN, true)]);
    tok.save(dir.join("tokenizer.json"), false).map_err(|e| ExecutorError::Tokenizer(e.to_string()))?;
    Ok(())
}

fn uniform(rng: &mut ChaCha20Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
            (u * 2.0 - 1.0) * bound
        })
        .collect()
}

fn rand_tensor(rng: &mut ChaCha20Rng, shape: (usize, usize), bound: f32) -> Result<Tensor> {
    Ok(Tensor::from_vec(uniform(rng, shape.0 * shape.1, bound), shape, &Device::Cpu)?)
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| ExecutorError::Config(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| ExecutorError::io(path, e))
}

/// Writes a random tiny Llama (f32) into `dir`: config.json, tokenizer.json,
/// tokenizer_config.json, model.safetensors. Weights are scaled so logits have clear margins,
/// which keeps greedy decoding well away from ties.
pub fn write_tiny_llama(dir: &Path, spec: TinyLlamaSpec, seed: u64) -> Result<LlamaConfig> {
    std::fs::create_dir_all(dir).map_err(|e| ExecutorError::io(dir, e))?;
    write_tokenizer(dir)?;
    let vocab = 258usize;
    let head_dim = spec.hidden / spec.heads;
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": spec.hidden,
        "intermediate_size": spec.intermediate,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.kv_heads,
        "vocab_size": vocab,
        "max_position_embeddings": spec.max_positions,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": false,
        "bos_token_id": 257,
        "eos_token_id": 256,
        "torch_dtype": "float32",
    });
    write_json(&dir.join("config.json"), &config)?;
    let tok_config = serde_json::json!({
        "bos_token": BOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "add_bos_token": false,
        "model_max_length": spec.max_positions,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}",
    });
    write_json(&dir.join("tokenizer_config.json"), &tok_config)?;

    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut t: HashMap<String, Tensor> = HashMap::new();
    let proj = |rng: &mut ChaCha20Rng, out: usize, inp: usize| rand_tensor(rng, (out, inp), (3.0 / inp as f32).sqrt());
    t.insert("model.embed_tokens.weight".into(), rand_tensor(&mut rng, (vocab, spec.hidden), 1.0)?);
    for l in 0..spec.layers {
        let p = format!("model.layers.{l}");
        t.insert(format!("{p}.self_attn.q_proj.weight"), proj(&mut rng, spec.heads * head_dim, spec.hidden)?);
        t.insert(format!("{p}.self_attn.k_proj.weight"), proj(&mut rng, spec.kv_heads * head_dim, spec.hidden)?);
        t.insert(format!("{p}.self_attn.v_proj.weight"), proj(&mut rng, spec.kv_heads * head_dim, spec.hidden)?);
        t.insert(format!("{p}.self_attn.o_proj.weight"), proj(&mut rng, spec.hidden, spec.heads * head_dim)?);
        t.insert(format!("{p}.mlp.gate_proj.weight"), proj(&mut rng, spec.intermediate, spec.hidden)?);
        t.insert(format!("{p}.mlp.up_proj.weight"), proj(&mut rng, spec.intermediate, spec.hidden)?);
        t.insert(format!("{p}.mlp.down_proj.weight"), proj(&mut rng, spec.hidden, spec.intermediate)?);
        t.insert(format!("{p}.input_layernorm.weight"), Tensor::ones(spec.hidden, DType::F32, &Device::Cpu)?);
        t.insert(format!("{p}.post_attention_layernorm.weight"), Tensor::ones(spec.hidden, DType::F32, &Device::Cpu)?);
    }
    t.insert("model.norm.weight".into(), Tensor::ones(spec.hidden, DType::F32, &Device::Cpu)?);
    t.insert("lm_head.weight".into(), rand_tensor(&mut rng, (vocab, spec.hidden), 0.6)?);
    candle_core::safetensors::save(&t, dir.join("model.safetensors"))?;
    LlamaConfig::from_hf_dir(dir)
}

/// Shape of a random PEFT adapter.
#[derive(Clone, Debug)]
pub struct AdapterSpec {
    /// LoRA rank.
    pub rank: usize,
    /// lora_alpha (scale = alpha / rank).
    pub alpha: f64,
    /// Projections adapted: any of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.
    pub targets: Vec<String>,
    /// Storage dtype of the safetensors file (F32, F16 or BF16).
    pub dtype: DType,
    /// Bound of lora_B's uniform entries relative to the default (1.0: as large as the base
    /// projection, which changes outputs strongly; real adapters are smaller).
    pub strength: f32,
}

impl Default for AdapterSpec {
    fn default() -> Self {
        Self { rank: 8, alpha: 16.0, targets: vec!["q_proj".into(), "v_proj".into()], dtype: DType::F32, strength: 1.0 }
    }
}

/// Writes a random PEFT adapter (adapter_config.json + adapter_model.safetensors) for a model of
/// configuration `cfg` into `dir`.
pub fn write_random_adapter(dir: &Path, cfg: &LlamaConfig, spec: &AdapterSpec, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| ExecutorError::io(dir, e))?;
    let config = serde_json::json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": spec.rank,
        "lora_alpha": spec.alpha,
        "target_modules": spec.targets,
        "lora_dropout": 0.0,
        "bias": "none",
        "fan_in_fan_out": false,
        "use_rslora": false,
        "base_model_name_or_path": "openledger/fixture",
    });
    write_json(&dir.join("adapter_config.json"), &config)?;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut t: HashMap<String, Tensor> = HashMap::new();
    for l in 0..cfg.layers {
        for target in &spec.targets {
            let (out, inp) = cfg.projection_shape(target).ok_or_else(|| ExecutorError::Config(format!("unknown LoRA target {target}")))?;
            let group = if matches!(target.as_str(), "q_proj" | "k_proj" | "v_proj" | "o_proj") { "self_attn" } else { "mlp" };
            let p = format!("base_model.model.model.layers.{l}.{group}.{target}");
            let a = rand_tensor(&mut rng, (spec.rank, inp), (3.0 / inp as f32).sqrt())?;
            let b = rand_tensor(
                &mut rng,
                (out, spec.rank),
                spec.strength * (3.0 / spec.rank as f32).sqrt() / (spec.alpha as f32 / spec.rank as f32),
            )?;
            t.insert(format!("{p}.lora_A.weight"), a.to_dtype(spec.dtype)?);
            t.insert(format!("{p}.lora_B.weight"), b.to_dtype(spec.dtype)?);
        }
    }
    candle_core::safetensors::save(&t, dir.join("adapter_model.safetensors"))?;
    Ok(())
}

/// Writes the Hugging Face Llama in `dir` as an f32 GGUF file the way llama.cpp converts it
/// (tensor names `blk.N.*`, Q/K rows permuted for interleaved RoPE), without tokenizer metadata:
/// enough for OpenLoRA's GGUF loader, so tests can check that GGUF and safetensors agree.
pub fn write_gguf_copy(dir: &Path, out: &Path) -> Result<()> {
    use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
    let cfg = LlamaConfig::from_hf_dir(dir)?;
    let mut t = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)?;
    let mut take = |n: &str| t.remove(n).ok_or_else(|| ExecutorError::Config(format!("missing {n}")));
    let permute = |w: Tensor, heads: usize| -> Result<Tensor> {
        let (o, i) = w.dims2()?;
        Ok(w.reshape((heads, 2, o / heads / 2, i))?.transpose(1, 2)?.contiguous()?.reshape((o, i))?)
    };
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut push = |name: String, w: Tensor| -> Result<()> {
        tensors.push((name, QTensor::quantize(&w, GgmlDType::F32)?));
        Ok(())
    };
    push("token_embd.weight".into(), take("model.embed_tokens.weight")?)?;
    push("output_norm.weight".into(), take("model.norm.weight")?)?;
    push("output.weight".into(), take("lm_head.weight")?)?;
    for l in 0..cfg.layers {
        let p = format!("model.layers.{l}");
        push(format!("blk.{l}.attn_q.weight"), permute(take(&format!("{p}.self_attn.q_proj.weight"))?, cfg.heads)?)?;
        push(format!("blk.{l}.attn_k.weight"), permute(take(&format!("{p}.self_attn.k_proj.weight"))?, cfg.kv_heads)?)?;
        for (hf, gg) in [
            ("self_attn.v_proj", "attn_v"),
            ("self_attn.o_proj", "attn_output"),
            ("mlp.gate_proj", "ffn_gate"),
            ("mlp.up_proj", "ffn_up"),
            ("mlp.down_proj", "ffn_down"),
            ("input_layernorm", "attn_norm"),
            ("post_attention_layernorm", "ffn_norm"),
        ] {
            push(format!("blk.{l}.{gg}.weight"), take(&format!("{p}.{hf}.weight"))?)?;
        }
    }
    let u = |x: usize| gguf_file::Value::U32(x as u32);
    let metadata = [
        ("general.architecture", gguf_file::Value::String("llama".into())),
        ("llama.embedding_length", u(cfg.hidden)),
        ("llama.feed_forward_length", u(cfg.intermediate)),
        ("llama.block_count", u(cfg.layers)),
        ("llama.attention.head_count", u(cfg.heads)),
        ("llama.attention.head_count_kv", u(cfg.kv_heads)),
        ("llama.context_length", u(cfg.max_positions)),
        ("llama.attention.layer_norm_rms_epsilon", gguf_file::Value::F32(cfg.rms_eps as f32)),
        ("llama.rope.freq_base", gguf_file::Value::F32(cfg.rope_theta as f32)),
    ];
    let md: Vec<(&str, &gguf_file::Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut f = std::fs::File::create(out).map_err(|e| ExecutorError::io(out, e))?;
    gguf_file::write(&mut f, &md, &ts)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_a_bijection() {
        let t = bytes_char();
        let mut s: Vec<char> = t.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 256);
        assert_eq!(t[b'A' as usize], 'A');
        assert_eq!(t[b' ' as usize], 'Ġ');
    }

    #[test]
    fn fixtures_are_reproducible() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let cfg = write_tiny_llama(a.path(), TinyLlamaSpec::default(), 1).unwrap();
        write_tiny_llama(b.path(), TinyLlamaSpec::default(), 1).unwrap();
        let ra = std::fs::read(a.path().join("model.safetensors")).unwrap();
        assert_eq!(ra, std::fs::read(b.path().join("model.safetensors")).unwrap());
        write_random_adapter(&a.path().join("ad"), &cfg, &AdapterSpec::default(), 5).unwrap();
        write_random_adapter(&b.path().join("ad"), &cfg, &AdapterSpec::default(), 6).unwrap();
        assert_ne!(
            std::fs::read(a.path().join("ad/adapter_model.safetensors")).unwrap(),
            std::fs::read(b.path().join("ad/adapter_model.safetensors")).unwrap()
        );
    }
}
