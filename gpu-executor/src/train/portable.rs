//! ModelFactory training on the portable kernels: the LoRA forward pass, its backward pass and
//! AdamW written out on [`crate::kernels`], so that a job gives the same adapter, loss and log
//! bits on every CPU, instruction-set path and thread count. candle's autograd cannot promise
//! that (its matmuls choose blockings and fused multiply-adds by the CPU they find), and a
//! validator whose adapter hash disagrees with two thirds of the stake is slashed.
//!
//! * Every reduction is a [`kernels::dot_f32`] (16 fixed lanes, one fixed tree) or a sequential
//!   sum in a fixed order; threads only ever split work by output element.
//! * The frozen base weights are dense f32 copies (GGML blocks dequantized by
//!   [`kernels::dequantize`]) kept in both orientations, so the forward and the backward
//!   products are both row dot products.
//! * A step's rows are concatenated without padding and attention runs within each row. The
//!   attention probabilities are recomputed in the backward pass instead of kept, so memory
//!   grows with the step's tokens, not with their square.
//! * The loss is the step's mean next-token cross-entropy; logits are made, differentiated and
//!   dropped [`LOGIT_ROWS`] tokens at a time.
//! * The forward arithmetic is the inference path's (`llama/portable.rs`) on dense weights: the
//!   same RMSNorm, RoPE, softmax, SiLU and LoRA products.

use rayon::prelude::*;

use crate::error::{ExecutorError, Result};
use crate::kernels::{self, math, Isa, WeightView};
use crate::llama::portable::{dense_f32, rope, with_f32};
use crate::llama::{LlamaModel, WeightFormat};
use crate::lora::Proj;

use super::{initial_a, TrainSettings};

/// Tokens whose logits are held at once in the loss.
const LOGIT_ROWS: usize = 64;

/// Tokens the training self-check runs on.
const SELF_CHECK_TOKENS: usize = 16;

/// AdamW's β₁, β₂ and ε (weight decay 0), as ModelFactory has always trained.
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const ADAM_EPS: f32 = 1e-8;

fn kernel_err(e: impl Into<String>) -> ExecutorError {
    ExecutorError::Kernel(e.into())
}

/// `x·Wᵀ` for the `n` rows of `x`, with `w` a dense row-major `[rows, cols]`.
fn mul(isa: Isa, w: &[f32], rows: usize, cols: usize, x: &[f32], n: usize) -> Result<Vec<f32>> {
    let mut y = vec![0f32; n * rows];
    kernels::matmul(isa, &WeightView::F32 { data: w, rows, cols }, x, n, &mut y).map_err(kernel_err)?;
    Ok(y)
}

/// The transpose of a row-major `[rows, cols]` matrix.
fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = x[r * cols + c];
        }
    }
    t
}

fn add_into(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// The self-check's verdict on the bits of `isa` on the current pool against the scalar ones.
fn same_bits(isa: Isa, got: &[u64], want: &[u64]) -> Result<()> {
    if got == want {
        return Ok(());
    }
    let differing = got.iter().zip(want).filter(|(a, b)| a != b).count() + got.len().abs_diff(want.len());
    Err(kernel_err(format!(
        "training self-check failed: the {} path at {} threads gives other bits than scalar on one thread ({differing} of {} values differ); refusing to train",
        isa.as_str(),
        rayon::current_num_threads(),
        want.len()
    )))
}

/// A frozen base matrix `[out, in]` and its transpose.
struct Frozen {
    w: Vec<f32>,
    wt: Vec<f32>,
    out: usize,
    inp: usize,
}

impl Frozen {
    fn new((w, out, inp): (Vec<f32>, usize, usize)) -> Self {
        let wt = transpose(&w, out, inp);
        Self { w, wt, out, inp }
    }
}

struct BaseLayer {
    attn_norm: Vec<f32>,
    ffn_norm: Vec<f32>,
    proj: Vec<Frozen>,
}

/// One adapted projection: A `[rank, in]`, B `[out, rank]` (B's rows in the model's own order)
/// and their AdamW moments.
pub(crate) struct LoraPair {
    pub(crate) a: Vec<f32>,
    pub(crate) b: Vec<f32>,
    pub(crate) rank: usize,
    m: [Vec<f32>; 2],
    v: [Vec<f32>; 2],
}

/// The gradients of one step, `[layer][projection] = (dA, dB)`.
pub(crate) type LoraGrads = Vec<[Option<(Vec<f32>, Vec<f32>)>; 7]>;

/// What the backward pass needs of one layer's forward pass.
struct LayerTape {
    x_in: Vec<f32>,
    r1: Vec<f32>,
    h1: Vec<f32>,
    /// q and k after RoPE.
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att: Vec<f32>,
    x_mid: Vec<f32>,
    r2: Vec<f32>,
    h2: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    act: Vec<f32>,
    /// x·Aᵀ of each adapted projection.
    down: [Option<Vec<f32>>; 7],
}

/// A step's rows concatenated: token ids, next-token targets and each row's (start, length).
pub(crate) struct Packed {
    ids: Vec<u32>,
    targets: Vec<u32>,
    rows: Vec<(usize, usize)>,
}

impl Packed {
    /// Packs the rows (inputs `r[..n-1]`, targets `r[1..]`); a row of fewer than two tokens
    /// has nothing to predict and is left out.
    pub(crate) fn new(rows: &[&[u32]]) -> Self {
        let mut p = Packed { ids: Vec::new(), targets: Vec::new(), rows: Vec::with_capacity(rows.len()) };
        for r in rows.iter().filter(|r| r.len() >= 2) {
            let n = r.len() - 1;
            p.rows.push((p.ids.len(), n));
            p.ids.extend_from_slice(&r[..n]);
            p.targets.extend_from_slice(&r[1..=n]);
        }
        p
    }

    /// Tokens the loss is taken over.
    pub(crate) fn tokens(&self) -> usize {
        self.ids.len()
    }
}

/// The LoRA trainer on the portable kernels.
pub(crate) struct PortableTrainer<'a> {
    model: &'a LlamaModel,
    isa: Isa,
    layers: Vec<BaseLayer>,
    norm: Vec<f32>,
    lm_head: Frozen,
    /// −sin of the RoPE table: rotating by it undoes (and differentiates) RoPE.
    neg_sin: Vec<f32>,
    pub(crate) lora: Vec<[Option<LoraPair>; 7]>,
    scale: f32,
    learning_rate: f32,
    /// β₁ᵗ and β₂ᵗ after the steps so far, kept as running f64 products.
    beta_pow: [f64; 2],
}

impl<'a> PortableTrainer<'a> {
    /// Copies the frozen weights and sets up `settings`' adapter: A from [`initial_a`], B = 0.
    pub(crate) fn new(model: &'a LlamaModel, isa: Isa, settings: &TrainSettings) -> Result<Self> {
        let cfg = model.config();
        let rank = settings.rank as usize;
        if model.rope_rows().0.is_empty() {
            return Err(kernel_err("portable training needs a CPU model in f32"));
        }
        if cfg.kv_heads == 0 || !cfg.heads.is_multiple_of(cfg.kv_heads) {
            return Err(kernel_err(format!("{} heads are not a multiple of {} key/value heads", cfg.heads, cfg.kv_heads)));
        }
        let copy = |t: &candle_core::Tensor| with_f32(t, |v| Ok(v.to_vec()));
        let mut layers = Vec::with_capacity(model.layers.len());
        for l in &model.layers {
            let proj = l.proj.iter().map(|w| dense_f32(w).map(Frozen::new)).collect::<Result<Vec<_>>>()?;
            layers.push(BaseLayer { attn_norm: copy(&l.attn_norm)?, ffn_norm: copy(&l.ffn_norm)?, proj });
        }
        let mut lora: Vec<[Option<LoraPair>; 7]> = (0..layers.len()).map(|_| Default::default()).collect();
        for (layer, slots) in lora.iter_mut().enumerate() {
            for &p in &settings.targets {
                let f = &layers[layer].proj[p as usize];
                let a = initial_a(settings, layer, p, f.inp);
                if a.len() != rank * f.inp {
                    return Err(kernel_err("initial A has the wrong shape"));
                }
                let zeros = |n: usize| vec![0f32; n];
                let (na, nb) = (rank * f.inp, f.out * rank);
                slots[p as usize] = Some(LoraPair { a, b: zeros(nb), rank, m: [zeros(na), zeros(nb)], v: [zeros(na), zeros(nb)] });
            }
        }
        Ok(Self {
            model,
            isa,
            layers,
            norm: copy(&model.norm)?,
            lm_head: Frozen::new(dense_f32(&model.lm_head)?),
            neg_sin: model.rope_rows().1.iter().map(|s| -s).collect(),
            lora,
            scale: settings.scale() as f32,
            learning_rate: (f64::from(settings.learning_rate_micro) / 1e6) as f32,
            beta_pow: [1.0, 1.0],
        })
    }

    /// One optimizer step on `rows`: returns the mean token loss and the token count.
    pub(crate) fn step(&mut self, rows: &[&[u32]]) -> Result<(f32, usize)> {
        let packed = Packed::new(rows);
        let (sum, grads) = self.loss_and_grads(&packed)?;
        self.adam(&grads);
        Ok(((sum / packed.tokens().max(1) as f64) as f32, packed.tokens()))
    }

    /// The training self-check, run before every job: one forward and backward pass over the
    /// first rows of the job (at most [`SELF_CHECK_TOKENS`] tokens) on this path and thread pool
    /// must give exactly the loss and gradient bits of the scalar definition on one thread. A
    /// path that does not would train an adapter the network disagrees with, and be slashed for
    /// it, so the job is refused instead.
    pub(crate) fn self_check(&mut self, rows: &[&[u32]]) -> Result<()> {
        let mut budget = SELF_CHECK_TOKENS;
        let sample: Vec<&[u32]> = rows
            .iter()
            .map_while(|r| {
                let take = r.len().min(budget + 1);
                budget = budget.saturating_sub(take.saturating_sub(1));
                (take >= 2).then(|| &r[..take])
            })
            .collect();
        let packed = Packed::new(&sample);
        let bits = |(loss, grads): (f64, LoraGrads)| -> Vec<u64> {
            let mut v = vec![loss.to_bits()];
            for (a, b) in grads.iter().flatten().flatten() {
                v.extend(a.iter().chain(b).map(|x| u64::from(x.to_bits())));
            }
            v
        };
        let got = bits(self.loss_and_grads(&packed)?);
        let isa = std::mem::replace(&mut self.isa, Isa::Scalar);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| kernel_err(e.to_string()));
        let want = one.and_then(|pool| pool.install(|| self.loss_and_grads(&packed)));
        self.isa = isa;
        same_bits(isa, &got, &bits(want?))
    }

    /// Mean token loss over `rows`, `batch` rows per forward pass (sums added in order).
    pub(crate) fn mean_loss(&self, rows: &[&[u32]], batch: usize) -> Result<f32> {
        let (mut sum, mut count) = (0f64, 0usize);
        for chunk in rows.chunks(batch.max(1)) {
            let packed = Packed::new(chunk);
            let (_, x) = self.forward(&packed)?;
            sum += self.head(&x, &packed.targets, None)?.0;
            count += packed.tokens();
        }
        Ok(if count == 0 { 0.0 } else { (sum / count as f64) as f32 })
    }

    /// The summed token loss of `packed` and the gradients of its mean.
    pub(crate) fn loss_and_grads(&self, packed: &Packed) -> Result<(f64, LoraGrads)> {
        let (tapes, x) = self.forward(packed)?;
        let inv_count = 1.0 / packed.tokens().max(1) as f32;
        let (sum, mut dx) = self.head(&x, &packed.targets, Some(inv_count))?;
        let mut grads: LoraGrads = (0..self.layers.len()).map(|_| Default::default()).collect();
        for (l, tape) in tapes.iter().enumerate().rev() {
            dx = self.layer_backward(l, tape, packed, dx, &mut grads[l])?;
        }
        Ok((sum, grads))
    }

    /// RMSNorm of each row and the factor each row was scaled by.
    fn norm(&self, x: &[f32], w: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let eps = self.model.config().rms_eps as f32;
        let mut h = x.to_vec();
        let r = h.chunks_exact_mut(w.len()).map(|row| {
            let r = kernels::inv_rms(self.isa, row, eps);
            for (v, g) in row.iter_mut().zip(w) {
                *v = (*v * r) * g;
            }
            r
        });
        let r = r.collect();
        (h, r)
    }

    /// The input gradient of [`Self::norm`]: r·(dy⊙w) − x·(r³/n)·Σ(dy⊙w⊙x) per row.
    fn norm_backward(&self, x: &[f32], r: &[f32], w: &[f32], dy: &[f32]) -> Vec<f32> {
        let n = w.len();
        let mut dx = vec![0f32; x.len()];
        for (i, ((dxi, xi), dyi)) in dx.chunks_exact_mut(n).zip(x.chunks_exact(n)).zip(dy.chunks_exact(n)).enumerate() {
            let gw: Vec<f32> = dyi.iter().zip(w).map(|(d, g)| d * g).collect();
            let ri = r[i];
            let coef = (ri * ri * ri / n as f32) * kernels::dot_f32(self.isa, &gw, xi);
            for ((o, g), xv) in dxi.iter_mut().zip(&gw).zip(xi) {
                *o = g * ri - xv * coef;
            }
        }
        dx
    }

    /// `x·Wᵀ + s·(x·Aᵀ)·Bᵀ` and, for an adapted projection, `x·Aᵀ`.
    fn linear(&self, l: usize, p: Proj, x: &[f32], n: usize) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        let f = &self.layers[l].proj[p as usize];
        let mut y = mul(self.isa, &f.w, f.out, f.inp, x, n)?;
        let Some(pair) = &self.lora[l][p as usize] else { return Ok((y, None)) };
        let down = mul(self.isa, &pair.a, pair.rank, f.inp, x, n)?;
        let up = mul(self.isa, &pair.b, f.out, pair.rank, &down, n)?;
        for (yo, e) in y.iter_mut().zip(&up) {
            *yo += e * self.scale;
        }
        Ok((y, Some(down)))
    }

    /// The input gradient of [`Self::linear`]; the adapter's (dA, dB) go to `grads`.
    fn linear_backward(
        &self,
        l: usize,
        p: Proj,
        x: &[f32],
        down: Option<&Vec<f32>>,
        dy: &[f32],
        grads: &mut [Option<(Vec<f32>, Vec<f32>)>; 7],
    ) -> Result<Vec<f32>> {
        let f = &self.layers[l].proj[p as usize];
        let n = dy.len() / f.out.max(1);
        let mut dx = mul(self.isa, &f.wt, f.inp, f.out, dy, n)?;
        let (Some(pair), Some(down)) = (&self.lora[l][p as usize], down) else { return Ok(dx) };
        let (r, inp, out) = (pair.rank, f.inp, f.out);
        let dys: Vec<f32> = dy.iter().map(|d| d * self.scale).collect();
        // d(down) = dys·B, dB = dysᵀ·down, dA = d(down)ᵀ·x, dx += d(down)·A.
        let ddown = mul(self.isa, &transpose(&pair.b, out, r), r, out, &dys, n)?;
        let db = mul(self.isa, &transpose(down, n, r), r, n, &transpose(&dys, n, out), out)?;
        let ddown_t = transpose(&ddown, n, r);
        let da = mul(self.isa, &transpose(x, n, inp), inp, n, &ddown_t, r)?;
        add_into(&mut dx, &mul(self.isa, &transpose(&pair.a, r, inp), inp, r, &ddown, n)?);
        grads[p as usize] = Some((da, db));
        Ok(dx)
    }

    /// Rotates every row of `x` (`heads` heads) at its position within its row of the step.
    fn rotate(&self, x: &mut [f32], heads: usize, packed: &Packed, sin: &[f32]) {
        let cfg = self.model.config();
        let (hd, half) = (cfg.head_dim, cfg.head_dim / 2);
        let width = heads * hd;
        let cos = self.model.rope_rows().0;
        let interleaved = self.model.format() == WeightFormat::Gguf;
        for &(start, len) in &packed.rows {
            for pos in 0..len {
                let row = &mut x[(start + pos) * width..(start + pos + 1) * width];
                rope(row, heads, hd, &cos[pos * half..(pos + 1) * half], &sin[pos * half..(pos + 1) * half], interleaved);
            }
        }
    }

    /// Each row's causal attention, computed as the inference path does.
    fn attention(&self, q: &[f32], k: &[f32], v: &[f32], packed: &Packed) -> Vec<f32> {
        let cfg = self.model.config();
        let (nh, nkv, hd) = (cfg.heads, cfg.kv_heads, cfg.head_dim);
        let (qd, kvd, rep) = (nh * hd, nkv * hd, nh / nkv);
        let scale = 1.0 / (hd as f32).sqrt();
        let mut start_of = vec![0usize; packed.tokens()];
        for &(start, len) in &packed.rows {
            start_of[start..start + len].fill(start);
        }
        let mut out = vec![0f32; q.len()];
        out.par_chunks_mut(hd).enumerate().for_each(|(task, o)| {
            let (row, h) = (task / nh, task % nh);
            let (start, g) = (start_of[row], h / rep);
            let qh = &q[row * qd + h * hd..][..hd];
            let scores: Vec<f32> = (start..=row).map(|t| kernels::dot_f32(self.isa, qh, &k[t * kvd + g * hd..][..hd]) * scale).collect();
            let max = scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let exps: Vec<f32> = scores.iter().map(|&x| math::exp_f32(x - max)).collect();
            let sum = exps.iter().fold(0f32, |a, &e| a + e);
            for (t, e) in exps.iter().enumerate() {
                let p = e / sum;
                for (od, vd) in o.iter_mut().zip(&v[(start + t) * kvd + g * hd..][..hd]) {
                    *od += p * vd;
                }
            }
        });
        out
    }

    /// The gradients of [`Self::attention`] with respect to q, k and v (after RoPE). One task
    /// per (row, key/value head) owns that head's keys and values and sums over its query heads
    /// and positions in a fixed order.
    fn attention_backward(&self, t: &LayerTape, datt: &[f32], packed: &Packed) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let cfg = self.model.config();
        let (nh, nkv, hd) = (cfg.heads, cfg.kv_heads, cfg.head_dim);
        let (qd, kvd, rep) = (nh * hd, nkv * hd, nh / nkv);
        let scale = 1.0 / (hd as f32).sqrt();
        let tasks: Vec<(usize, usize, usize)> =
            packed.rows.iter().flat_map(|&(start, len)| (0..nkv).map(move |g| (start, len, g))).collect();
        let parts: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = tasks
            .par_iter()
            .map(|&(start, len, g)| {
                let (mut dq, mut dk, mut dv) = (vec![0f32; rep * len * hd], vec![0f32; len * hd], vec![0f32; len * hd]);
                let (mut p, mut dp) = (vec![0f32; len], vec![0f32; len]);
                let key = |j: usize| &t.k[(start + j) * kvd + g * hd..][..hd];
                let value = |j: usize| &t.v[(start + j) * kvd + g * hd..][..hd];
                for r in 0..rep {
                    let h = g * rep + r;
                    for i in 0..len {
                        let qi = &t.q[(start + i) * qd + h * hd..][..hd];
                        let doi = &datt[(start + i) * qd + h * hd..][..hd];
                        for (j, pj) in p[..=i].iter_mut().enumerate() {
                            *pj = kernels::dot_f32(self.isa, qi, key(j)) * scale;
                        }
                        let max = p[..=i].iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                        for e in &mut p[..=i] {
                            *e = math::exp_f32(*e - max);
                        }
                        let sum = p[..=i].iter().fold(0f32, |a, &e| a + e);
                        let mut weighted = 0f32;
                        for j in 0..=i {
                            p[j] /= sum;
                            dp[j] = kernels::dot_f32(self.isa, doi, value(j));
                            weighted += p[j] * dp[j];
                        }
                        let dqi = &mut dq[(r * len + i) * hd..][..hd];
                        for j in 0..=i {
                            let ds = p[j] * (dp[j] - weighted) * scale;
                            let (kj, dkj, dvj) = (key(j), &mut dk[j * hd..(j + 1) * hd], &mut dv[j * hd..(j + 1) * hd]);
                            for d in 0..hd {
                                dqi[d] += ds * kj[d];
                                dkj[d] += ds * qi[d];
                                dvj[d] += p[j] * doi[d];
                            }
                        }
                    }
                }
                (dq, dk, dv)
            })
            .collect();
        let n = packed.tokens();
        let (mut dq, mut dk, mut dv) = (vec![0f32; n * qd], vec![0f32; n * kvd], vec![0f32; n * kvd]);
        for (&(start, len, g), (pq, pk, pv)) in tasks.iter().zip(&parts) {
            for i in 0..len {
                let row = start + i;
                dk[row * kvd + g * hd..][..hd].copy_from_slice(&pk[i * hd..(i + 1) * hd]);
                dv[row * kvd + g * hd..][..hd].copy_from_slice(&pv[i * hd..(i + 1) * hd]);
                for r in 0..rep {
                    dq[row * qd + (g * rep + r) * hd..][..hd].copy_from_slice(&pq[(r * len + i) * hd..][..hd]);
                }
            }
        }
        (dq, dk, dv)
    }

    /// The forward pass over `packed`, keeping what the backward pass needs; returns the tapes
    /// and the last hidden rows (before the final norm).
    fn forward(&self, packed: &Packed) -> Result<(Vec<LayerTape>, Vec<f32>)> {
        let cfg = self.model.config();
        let n = packed.tokens();
        let mut x = self.model.embed_rows(&packed.ids)?;
        let sin = self.model.rope_rows().1;
        let mut tapes = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let mut down: [Option<Vec<f32>>; 7] = Default::default();
            let mut lin = |p: Proj, input: &[f32]| -> Result<Vec<f32>> {
                let (y, d) = self.linear(l, p, input, n)?;
                down[p as usize] = d;
                Ok(y)
            };
            let (h1, r1) = self.norm(&x, &layer.attn_norm);
            let mut q = lin(Proj::Q, &h1)?;
            let mut k = lin(Proj::K, &h1)?;
            let v = lin(Proj::V, &h1)?;
            self.rotate(&mut q, cfg.heads, packed, sin);
            self.rotate(&mut k, cfg.kv_heads, packed, sin);
            let att = self.attention(&q, &k, &v, packed);
            let mut x_mid = x.clone();
            add_into(&mut x_mid, &lin(Proj::O, &att)?);
            let (h2, r2) = self.norm(&x_mid, &layer.ffn_norm);
            let gate = lin(Proj::Gate, &h2)?;
            let up = lin(Proj::Up, &h2)?;
            let act: Vec<f32> = gate.iter().zip(&up).map(|(g, u)| math::silu(*g) * u).collect();
            let mut x_out = x_mid.clone();
            add_into(&mut x_out, &lin(Proj::Down, &act)?);
            tapes.push(LayerTape { x_in: x, r1, h1, q, k, v, att, x_mid, r2, h2, gate, up, act, down });
            x = x_out;
        }
        Ok((tapes, x))
    }

    /// The summed token loss of the last hidden rows `x` against `targets`; with
    /// `Some(1/count)` also the gradient of the mean loss with respect to `x`.
    fn head(&self, x: &[f32], targets: &[u32], inv_count: Option<f32>) -> Result<(f64, Vec<f32>)> {
        let (hidden, vocab) = (self.lm_head.inp, self.lm_head.out);
        let n = targets.len();
        let (hf, r) = self.norm(x, &self.norm);
        let mut dhf = if inv_count.is_some() { vec![0f32; n * hidden] } else { Vec::new() };
        let mut sum = 0f64;
        for c in (0..n).step_by(LOGIT_ROWS) {
            let m = LOGIT_ROWS.min(n - c);
            let mut logits = mul(self.isa, &self.lm_head.w, vocab, hidden, &hf[c * hidden..(c + m) * hidden], m)?;
            let losses: Vec<f64> = logits
                .par_chunks_mut(vocab)
                .zip(&targets[c..c + m])
                .map(|(row, &t)| {
                    let max = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                    let target_logit = row[t as usize];
                    // The row becomes e^(l − max), then (with a gradient) the softmax gradient.
                    let mut total = 0f64;
                    for l in row.iter_mut() {
                        *l = math::exp_f32(*l - max);
                        total += f64::from(*l);
                    }
                    let loss = f64::from(max) + math::ln_f64(total) - f64::from(target_logit);
                    if let Some(inv) = inv_count {
                        for (v, e) in row.iter_mut().enumerate() {
                            let p = (f64::from(*e) / total) as f32;
                            *e = (if v == t as usize { p - 1.0 } else { p }) * inv;
                        }
                    }
                    loss
                })
                .collect();
            sum = losses.iter().fold(sum, |s, l| s + l);
            if inv_count.is_some() {
                let d = mul(self.isa, &self.lm_head.wt, hidden, vocab, &logits, m)?;
                dhf[c * hidden..(c + m) * hidden].copy_from_slice(&d);
            }
        }
        let dx = if inv_count.is_some() { self.norm_backward(x, &r, &self.norm, &dhf) } else { Vec::new() };
        Ok((sum, dx))
    }

    /// One layer's backward pass: from the gradient of its output to that of its input.
    fn layer_backward(
        &self,
        l: usize,
        t: &LayerTape,
        packed: &Packed,
        dx_out: Vec<f32>,
        grads: &mut [Option<(Vec<f32>, Vec<f32>)>; 7],
    ) -> Result<Vec<f32>> {
        let cfg = self.model.config();
        let layer = &self.layers[l];
        let down = |p: Proj| t.down[p as usize].as_ref();
        let dact = self.linear_backward(l, Proj::Down, &t.act, down(Proj::Down), &dx_out, grads)?;
        let (mut dgate, mut dup) = (vec![0f32; dact.len()], vec![0f32; dact.len()]);
        for i in 0..dact.len() {
            let (g, u, d) = (t.gate[i], t.up[i], dact[i]);
            let sig = 1.0 / (1.0 + math::exp_f32(-g));
            dup[i] = d * math::silu(g);
            dgate[i] = (d * u) * (sig * (1.0 + g * (1.0 - sig)));
        }
        let mut dh2 = self.linear_backward(l, Proj::Gate, &t.h2, down(Proj::Gate), &dgate, grads)?;
        add_into(&mut dh2, &self.linear_backward(l, Proj::Up, &t.h2, down(Proj::Up), &dup, grads)?);
        let mut dx_mid = dx_out;
        add_into(&mut dx_mid, &self.norm_backward(&t.x_mid, &t.r2, &layer.ffn_norm, &dh2));
        let datt = self.linear_backward(l, Proj::O, &t.att, down(Proj::O), &dx_mid, grads)?;
        let (mut dq, mut dk, dv) = self.attention_backward(t, &datt, packed);
        self.rotate(&mut dq, cfg.heads, packed, &self.neg_sin);
        self.rotate(&mut dk, cfg.kv_heads, packed, &self.neg_sin);
        let mut dh1 = self.linear_backward(l, Proj::Q, &t.h1, down(Proj::Q), &dq, grads)?;
        add_into(&mut dh1, &self.linear_backward(l, Proj::K, &t.h1, down(Proj::K), &dk, grads)?);
        add_into(&mut dh1, &self.linear_backward(l, Proj::V, &t.h1, down(Proj::V), &dv, grads)?);
        let mut dx_in = dx_mid;
        add_into(&mut dx_in, &self.norm_backward(&t.x_in, &t.r1, &layer.attn_norm, &dh1));
        Ok(dx_in)
    }

    /// AdamW (weight decay 0) on every adapted matrix, element by element.
    fn adam(&mut self, grads: &LoraGrads) {
        self.beta_pow[0] *= f64::from(BETA1);
        self.beta_pow[1] *= f64::from(BETA2);
        let bias1 = (1.0 - self.beta_pow[0]) as f32;
        let bias2 = (1.0 - self.beta_pow[1]) as f32;
        let (lr, b1, b2) = (self.learning_rate, BETA1, BETA2);
        for (slots, layer_grads) in self.lora.iter_mut().zip(grads) {
            for (pair, g) in slots.iter_mut().zip(layer_grads) {
                let (Some(pair), Some((ga, gb))) = (pair, g) else { continue };
                for (which, (param, grad)) in [(&mut pair.a, ga), (&mut pair.b, gb)].into_iter().enumerate() {
                    let (m, v) = (&mut pair.m[which], &mut pair.v[which]);
                    for i in 0..param.len() {
                        let gi = grad[i];
                        m[i] = b1 * m[i] + (1.0 - b1) * gi;
                        v[i] = b2 * v[i] + (1.0 - b2) * (gi * gi);
                        let m_hat = m[i] / bias1;
                        let v_hat = v[i] / bias2;
                        param[i] -= lr * (m_hat / (v_hat.sqrt() + ADAM_EPS));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_self_check_verdict_refuses_any_differing_bit() {
        assert!(same_bits(Isa::Avx2, &[1, 2, 3], &[1, 2, 3]).is_ok());
        let e = same_bits(Isa::Avx2, &[1, 2, 3], &[1, 2, 4]).unwrap_err().to_string();
        assert!(e.contains("avx2") && e.contains("1 of 3 values differ") && e.contains("refusing to train"), "{e}");
        assert!(same_bits(Isa::Sse2, &[1, 2], &[1, 2, 3]).is_err());
    }

    #[test]
    fn packing_concatenates_inputs_and_next_token_targets() {
        let p = Packed::new(&[&[1, 2, 3], &[], &[5], &[7, 8]]);
        assert_eq!((p.ids.as_slice(), p.targets.as_slice(), p.rows.as_slice()), (&[1, 2, 7][..], &[2, 3, 8][..], &[(0, 2), (2, 1)][..]));
        assert_eq!(p.tokens(), 3);
    }
}
