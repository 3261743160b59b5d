//! The Llama forward pass on the portable kernels ([`crate::kernels`]): the same arithmetic, bit
//! for bit, on every CPU, instruction-set path and thread count. It reads the weights in place
//! from the model's candle tensors (dense f32 or GGML blocks; nothing is copied) and keeps its
//! own key/value rows. Every operation is row-wise, so a sequence's result does not depend on the
//! other sequences of a batch either.

use candle_core::quantized::GgmlDType;
use candle_core::{CpuStorage, Storage, Tensor};
use rayon::prelude::*;

use super::{LlamaModel, Proj, Segment, SeqCache, Weight, WeightFormat};
use crate::error::{ExecutorError, Result};
use crate::kernels::{self, math, Isa, QuantKind, WeightView};

/// One layer's cached key and value rows, `[position][kv_heads · head_dim]`.
#[derive(Default)]
pub(crate) struct FlatKv {
    k: Vec<f32>,
    v: Vec<f32>,
}

impl FlatKv {
    /// Positions cached.
    pub(crate) fn rows(&self, kvd: usize) -> usize {
        self.k.len() / kvd.max(1)
    }
}

fn kernel_err(e: impl Into<String>) -> ExecutorError {
    ExecutorError::Kernel(e.into())
}

/// The GGML formats the portable matmul runs on.
pub(crate) fn quant_kind(t: GgmlDType) -> Option<QuantKind> {
    match t {
        GgmlDType::Q4_0 => Some(QuantKind::Q4_0),
        GgmlDType::Q4_1 => Some(QuantKind::Q4_1),
        GgmlDType::Q8_0 => Some(QuantKind::Q8_0),
        _ => None,
    }
}

/// Runs `f` on the contiguous f32 data of a CPU tensor.
pub(crate) fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(CpuStorage::F32(v)) = &*storage else {
        return Err(kernel_err(format!("expected an f32 CPU tensor, found {:?} on {:?}", t.dtype(), t.device().location())));
    };
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| kernel_err("tensor is not contiguous"))?;
    f(&v[start..end])
}

/// RMSNorm of `x`'s rows in place, with a norm-weight tensor.
fn rms_norm_with(isa: Isa, x: &mut [f32], weight: &Tensor, eps: f32) -> Result<()> {
    with_f32(weight, |w| {
        kernels::rms_norm(isa, x, w, eps);
        Ok(())
    })
}

/// Runs `f` on a weight matrix, borrowed.
fn with_weight<R>(w: &Weight, f: impl FnOnce(WeightView<'_>) -> Result<R>) -> Result<R> {
    match w {
        Weight::Dense(t) => {
            let (rows, cols) = t.dims2()?;
            with_f32(t, |data| f(WeightView::F32 { data, rows, cols }))
        }
        Weight::Quant(q) => {
            let kind = quant_kind(q.dtype()).ok_or_else(|| kernel_err(format!("no portable kernel for {:?} weights", q.dtype())))?;
            let (rows, cols) = q.shape().dims2()?;
            let data = q.data()?;
            f(WeightView::Quant { kind, data: &data, rows, cols })
        }
    }
}

/// A dense f32 copy of a weight matrix `[rows, cols]`, row-major (GGML blocks dequantized by
/// [`kernels::dequantize`], the same bits on every machine), and its shape.
pub(crate) fn dense_f32(w: &Weight) -> Result<(Vec<f32>, usize, usize)> {
    with_weight(w, |v| match v {
        WeightView::F32 { data, rows, cols } => Ok((data.to_vec(), rows, cols)),
        WeightView::Quant { kind, data, rows, cols } => Ok((kernels::dequantize(kind, data, rows, cols).map_err(kernel_err)?, rows, cols)),
    })
}

/// One layer's query, key and value rows (RoPE is applied to q and k in place).
struct Qkv<'a> {
    q: &'a mut [f32],
    k: &'a mut [f32],
    v: &'a [f32],
}

fn add_into(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Rotates the `heads` heads of one row at position `pos`: GGUF pairs neighbours (2j, 2j+1),
/// Hugging Face pairs halves (j, j + head_dim/2).
pub(crate) fn rope(row: &mut [f32], heads: usize, hd: usize, cos: &[f32], sin: &[f32], interleaved: bool) {
    let half = hd / 2;
    for h in 0..heads {
        let x = &mut row[h * hd..(h + 1) * hd];
        for j in 0..half {
            let (a, b) = if interleaved { (2 * j, 2 * j + 1) } else { (j, j + half) };
            let (x0, x1) = (x[a], x[b]);
            x[a] = x0 * cos[j] - x1 * sin[j];
            x[b] = x0 * sin[j] + x1 * cos[j];
        }
    }
}

impl LlamaModel {
    /// `x·Wᵀ` for every row, plus each segment's adapter `s·B(Ax)` on its own rows.
    fn portable_linear(&self, isa: Isa, layer: usize, proj: Proj, x: &[f32], rows: usize, segs: &[Segment<'_>]) -> Result<Vec<f32>> {
        let w = &self.layers[layer].proj[proj as usize];
        let mut y = Vec::new();
        let (out_dim, in_dim) = with_weight(w, |v| {
            let (o, i) = v.shape();
            y = vec![0f32; rows * o];
            kernels::matmul(isa, &v, x, rows, &mut y).map_err(kernel_err)?;
            Ok((o, i))
        })?;
        for s in segs {
            let Some((adapter, pair)) = s.adapter.and_then(|a| a.pair(layer, proj).map(|p| (a, p))) else { continue };
            let rank = pair.a_rows.len() / in_dim.max(1);
            if pair.a_rows.len() != rank * in_dim || pair.b_rows.len() != out_dim * rank {
                return Err(kernel_err("adapter shapes do not match the layer"));
            }
            let scale = adapter.scale as f32;
            let mut down = vec![0f32; rank];
            for i in s.row..s.row + s.len {
                let xi = &x[i * in_dim..(i + 1) * in_dim];
                for (j, d) in down.iter_mut().enumerate() {
                    *d = kernels::dot_f32(isa, xi, &pair.a_rows[j * in_dim..(j + 1) * in_dim]);
                }
                for (o, yo) in y[i * out_dim..(i + 1) * out_dim].iter_mut().enumerate() {
                    *yo += kernels::dot_f32(isa, &down, &pair.b_rows[o * rank..(o + 1) * rank]) * scale;
                }
            }
        }
        Ok(y)
    }

    /// Causal attention of each segment over its cache (which gains this pass's keys/values).
    fn portable_attention(
        &self,
        isa: Isa,
        layer: usize,
        qkv: Qkv<'_>,
        segs: &[Segment<'_>],
        caches: &mut [&mut SeqCache],
    ) -> Result<Vec<f32>> {
        let Qkv { q, k, v } = qkv;
        let (nh, nkv, hd) = (self.cfg.heads, self.cfg.kv_heads, self.cfg.head_dim);
        let (qd, kvd, half) = (nh * hd, nkv * hd, hd / 2);
        let rep = nh / nkv;
        let interleaved = self.format == WeightFormat::Gguf;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut out = vec![0f32; q.len()];
        for (s, cache) in segs.iter().zip(caches.iter_mut()) {
            for i in 0..s.len {
                let (row, pos) = (s.row + i, s.pos + i);
                let (cos, sin) = (&self.rope_cos[pos * half..(pos + 1) * half], &self.rope_sin[pos * half..(pos + 1) * half]);
                rope(&mut q[row * qd..(row + 1) * qd], nh, hd, cos, sin, interleaved);
                rope(&mut k[row * kvd..(row + 1) * kvd], nkv, hd, cos, sin, interleaved);
            }
            let kv = &mut cache.flat[layer];
            kv.k.extend_from_slice(&k[s.row * kvd..(s.row + s.len) * kvd]);
            kv.v.extend_from_slice(&v[s.row * kvd..(s.row + s.len) * kvd]);
            let (keys, values) = (&kv.k, &kv.v);
            let q = &*q;
            // One task per (row, head): each owns one head_dim slice of the output.
            out[s.row * qd..(s.row + s.len) * qd].par_chunks_mut(hd).enumerate().for_each(|(task, o)| {
                let (i, h) = (task / nh, task % nh);
                let g = h / rep;
                let qh = &q[(s.row + i) * qd + h * hd..][..hd];
                let visible = s.pos + i + 1;
                let scores: Vec<f32> = (0..visible).map(|t| kernels::dot_f32(isa, qh, &keys[t * kvd + g * hd..][..hd]) * scale).collect();
                let max = scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                let exps: Vec<f32> = scores.iter().map(|&x| math::exp_f32(x - max)).collect();
                let sum = exps.iter().fold(0f32, |a, &e| a + e);
                for (t, e) in exps.iter().enumerate() {
                    let p = e / sum;
                    for (od, vd) in o.iter_mut().zip(&values[t * kvd + g * hd..][..hd]) {
                        *od += p * vd;
                    }
                }
            });
        }
        Ok(out)
    }

    /// The embedding rows of `tokens`, `[tokens · hidden]` (an id outside the vocabulary is an
    /// invalid request).
    pub(crate) fn embed_rows(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        let hidden = self.cfg.hidden;
        let mut x = vec![0f32; tokens.len() * hidden];
        with_f32(&self.embed, |e| {
            for (i, &t) in tokens.iter().enumerate() {
                let t = t as usize;
                let row = e
                    .get(t * hidden..(t + 1) * hidden)
                    .ok_or_else(|| ExecutorError::InvalidRequest(format!("token id {t} is outside the vocabulary")))?;
                x[i * hidden..(i + 1) * hidden].copy_from_slice(row);
            }
            Ok(())
        })?;
        Ok(x)
    }

    /// The forward pass of [`LlamaModel::forward`] on the portable kernels; returns the f32 logits
    /// of each segment's last row, `[segments · vocab]`.
    pub(crate) fn portable_forward(
        &self,
        isa: Isa,
        tokens: &[u32],
        segs: &[Segment<'_>],
        caches: &mut [&mut SeqCache],
    ) -> Result<Vec<f32>> {
        let (hidden, n) = (self.cfg.hidden, tokens.len());
        let eps = self.cfg.rms_eps as f32;
        let mut x = self.embed_rows(tokens)?;
        for cache in caches.iter_mut() {
            if cache.flat.len() != self.layers.len() {
                cache.flat = (0..self.layers.len()).map(|_| FlatKv::default()).collect();
            }
        }
        for l in 0..self.layers.len() {
            let mut h = x.clone();
            rms_norm_with(isa, &mut h, &self.layers[l].attn_norm, eps)?;
            let mut q = self.portable_linear(isa, l, Proj::Q, &h, n, segs)?;
            let mut k = self.portable_linear(isa, l, Proj::K, &h, n, segs)?;
            let v = self.portable_linear(isa, l, Proj::V, &h, n, segs)?;
            let att = self.portable_attention(isa, l, Qkv { q: &mut q, k: &mut k, v: &v }, segs, caches)?;
            add_into(&mut x, &self.portable_linear(isa, l, Proj::O, &att, n, segs)?);
            let mut h = x.clone();
            rms_norm_with(isa, &mut h, &self.layers[l].ffn_norm, eps)?;
            let mut act = self.portable_linear(isa, l, Proj::Gate, &h, n, segs)?;
            let up = self.portable_linear(isa, l, Proj::Up, &h, n, segs)?;
            for (a, u) in act.iter_mut().zip(&up) {
                *a = math::silu(*a) * u;
            }
            add_into(&mut x, &self.portable_linear(isa, l, Proj::Down, &act, n, segs)?);
        }
        let mut last: Vec<f32> =
            segs.iter().flat_map(|s| x[(s.row + s.len - 1) * hidden..(s.row + s.len) * hidden].iter().copied()).collect();
        rms_norm_with(isa, &mut last, &self.norm, eps)?;
        let mut logits = Vec::new();
        with_weight(&self.lm_head, |w| {
            logits = vec![0f32; segs.len() * w.shape().0];
            kernels::matmul(isa, &w, &last, segs.len(), &mut logits).map_err(kernel_err)
        })?;
        Ok(logits)
    }
}
