//! The portable CPU kernels: the arithmetic of the executor's cross-machine determinism profile.
//!
//! A validator is slashed when its output hash disagrees with two thirds of the stake, so the
//! same request must give the same bits on an AVX-512 server, an AVX2 laptop, a baseline SSE2
//! box or an ARM machine, at any thread count. Generic BLAS-style kernels do not: they choose
//! blockings, fused multiply-adds and reduction orders by the instruction set they find. Here
//! every result is *defined* independently of the machine, and each instruction set only
//! computes that definition faster:
//!
//! * **Quantized matmuls** (GGUF Q4_0, Q4_1, Q8_0 weights): each activation row is quantized to
//!   i8 per 32-element block (scale = max|x| / 127, round half to even — scalar code, the same
//!   everywhere). Within a block the weight·activation dot product is an *integer* sum, exact in
//!   any order, so SSE2, AVX2 and scalar code agree by construction. Blocks are then combined in
//!   f32 in a fixed order: block b's term goes to accumulator b mod 4, and the four are summed
//!   as (a0 + a2) + (a1 + a3).
//! * **Dense f32 dot products** (safetensors weights, attention scores, RMSNorm, LoRA): element
//!   j is multiplied and added into lane j mod 16 (multiply and add rounded separately, never
//!   fused), and the 16 lanes are reduced in one fixed tree. A vector unit of any width holds
//!   some of those lanes; the scalar code holds all 16 in an array.
//! * **Everything else** (softmax, SiLU, RoPE, residuals, attention's weighted sum) is
//!   element-wise or summed in sequence order by plain scalar code, with `exp`, `sin` and `cos`
//!   from [`math`] (basic IEEE operations only, no libm).
//! * **Threads** split a matmul by output rows; every output element is computed by one thread
//!   with the same code, so the thread count cannot change it.
//!
//! The paths this build can take are listed by [`Isa::available`]; `open-executor` checks at
//! start-up that the chosen one reproduces the scalar definition bit for bit and refuses to serve
//! otherwise.

pub mod math;
mod simd;

use rayon::prelude::*;

/// Which instruction set computes the kernels (the results are the same for all of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust, the reference definition (any CPU).
    Scalar,
    /// x86-64 baseline vectors.
    Sse2,
    /// x86-64-v3 vectors (detected at run time).
    Avx2,
}

impl Isa {
    /// Every path this CPU can run, slowest first.
    pub fn available() -> Vec<Isa> {
        let mut v = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            v.push(Isa::Sse2);
            if std::is_x86_feature_detected!("avx2") {
                v.push(Isa::Avx2);
            }
        }
        v
    }

    /// The fastest path this CPU has.
    pub fn best() -> Isa {
        Self::available().into_iter().max().unwrap_or(Isa::Scalar)
    }

    /// Parses "scalar", "sse2", "avx2" or "auto" (the best available); refuses a path this CPU
    /// lacks.
    pub fn parse(s: &str) -> Result<Isa, String> {
        let isa = match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => return Ok(Self::best()),
            "scalar" => Isa::Scalar,
            "sse2" => Isa::Sse2,
            "avx2" => Isa::Avx2,
            other => return Err(format!("unknown kernel path {other:?} (scalar, sse2, avx2 or auto)")),
        };
        if Self::available().contains(&isa) {
            Ok(isa)
        } else {
            Err(format!("this CPU has no {} path (available: {:?})", isa.as_str(), Self::available()))
        }
    }

    /// Canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Sse2 => "sse2",
            Isa::Avx2 => "avx2",
        }
    }
}

/// The vector features this binary was compiled to assume (`-C target-cpu`); they change the
/// compiler's code, never the results.
pub fn compiled_target_features() -> Vec<&'static str> {
    let mut f = Vec::new();
    if cfg!(target_feature = "sse4.2") {
        f.push("sse4.2");
    }
    if cfg!(target_feature = "avx") {
        f.push("avx");
    }
    if cfg!(target_feature = "avx2") {
        f.push("avx2");
    }
    if cfg!(target_feature = "fma") {
        f.push("fma");
    }
    if cfg!(target_feature = "avx512f") {
        f.push("avx512f");
    }
    if cfg!(target_feature = "neon") {
        f.push("neon");
    }
    f
}

/// Name and version of the arithmetic defined here; executors whose class is equal produce the
/// same bits. Bump it whenever any definition above changes.
pub const PORTABLE_CLASS: &str = "cpu-portable-v1";

/// Lanes of the dense dot product.
const LANES: usize = 16;

/// The dense dot product a·b, as defined in the module doc.
pub fn dot_f32(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = [0f32; LANES];
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2 => simd::dot_lanes_sse2(a, b, &mut acc),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => simd::dot_lanes_avx2(a, b, &mut acc),
        _ => dot_lanes_scalar(&a[..n / LANES * LANES], &b[..n / LANES * LANES], &mut acc),
    }
    for j in n / LANES * LANES..n {
        acc[j % LANES] += a[j] * b[j];
    }
    reduce_lanes(&acc)
}

/// `[rows[k] · x for k in 0..4]`, each exactly [`dot_f32`]`(isa, rows[k], x)`; the AVX2 path
/// computes the four together (one load of `x` for four rows, independent accumulators).
pub fn dot4_f32(isa: Isa, rows: [&[f32]; 4], x: &[f32]) -> [f32; 4] {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            let mut acc = [[0f32; LANES]; 4];
            simd::dot4_lanes_avx2(rows, x, &mut acc);
            let mut out = [0f32; 4];
            for k in 0..4 {
                let n = rows[k].len().min(x.len());
                for j in n / LANES * LANES..n {
                    acc[k][j % LANES] += rows[k][j] * x[j];
                }
                out[k] = reduce_lanes(&acc[k]);
            }
            out
        }
        _ => rows.map(|r| dot_f32(isa, r, x)),
    }
}

fn dot_lanes_scalar(a: &[f32], b: &[f32], acc: &mut [f32; LANES]) {
    for (ca, cb) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += ca[l] * cb[l];
        }
    }
}

/// The fixed reduction tree of the 16 lanes: halves added lane-wise down to one.
fn reduce_lanes(acc: &[f32; LANES]) -> f32 {
    let mut v = *acc;
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            v[l] += v[l + width];
        }
    }
    v[0]
}

/// GGML block formats the portable matmul runs on directly (others are dequantized at load).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantKind {
    /// d: f16, 32 × 4-bit q; w = d·(q − 8).
    Q4_0,
    /// d: f16, m: f16, 32 × 4-bit q; w = d·q + m.
    Q4_1,
    /// d: f16, 32 × i8 q; w = d·q.
    Q8_0,
}

impl QuantKind {
    /// Bytes of one 32-element block.
    pub fn block_bytes(self) -> usize {
        match self {
            QuantKind::Q4_0 => 18,
            QuantKind::Q4_1 => 20,
            QuantKind::Q8_0 => 34,
        }
    }

    fn qs_offset(self) -> usize {
        match self {
            QuantKind::Q4_0 | QuantKind::Q8_0 => 2,
            QuantKind::Q4_1 => 4,
        }
    }
}

/// Elements per quantization block.
pub const QBLOCK: usize = 32;

/// A weight matrix `[rows, cols]` (rows = outputs), borrowed.
#[derive(Clone, Copy)]
pub enum WeightView<'a> {
    /// Dense f32, row-major.
    F32 {
        /// `rows · cols` floats.
        data: &'a [f32],
        /// Output size.
        rows: usize,
        /// Input size.
        cols: usize,
    },
    /// GGML blocks, rows of `cols / 32` blocks.
    Quant {
        /// Block format.
        kind: QuantKind,
        /// `rows · cols / 32` blocks.
        data: &'a [u8],
        /// Output size.
        rows: usize,
        /// Input size (a multiple of 32).
        cols: usize,
    },
}

impl WeightView<'_> {
    /// (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        match *self {
            WeightView::F32 { rows, cols, .. } | WeightView::Quant { rows, cols, .. } => (rows, cols),
        }
    }

    /// Checks the buffer holds the whole matrix.
    pub fn validate(&self) -> Result<(), String> {
        let ok = match *self {
            WeightView::F32 { data, rows, cols } => rows.checked_mul(cols) == Some(data.len()),
            WeightView::Quant { kind, data, rows, cols } => {
                cols.is_multiple_of(QBLOCK) && rows.checked_mul(cols / QBLOCK * kind.block_bytes()) == Some(data.len())
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("weight buffer does not match its shape {:?}", self.shape()))
        }
    }
}

/// One activation row quantized to i8 blocks.
struct QuantRow {
    q: Vec<i8>,
    /// Block scales.
    d: Vec<f32>,
    /// d · Σq per block (Q4_1's offset term).
    ds: Vec<f32>,
    /// Σq per block.
    sum: Vec<i32>,
}

fn quantize_row(x: &[f32]) -> QuantRow {
    let blocks = x.len() / QBLOCK;
    let mut r = QuantRow {
        q: Vec::with_capacity(x.len()),
        d: Vec::with_capacity(blocks),
        ds: Vec::with_capacity(blocks),
        sum: Vec::with_capacity(blocks),
    };
    for blk in x.chunks_exact(QBLOCK) {
        let amax = blk.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        let mut s = 0i32;
        for v in blk {
            // Finite inputs give |v·id| <= 127 (+ rounding); NaN casts to 0.
            let q = (v * id).round_ties_even().clamp(-127.0, 127.0) as i8;
            s += i32::from(q);
            r.q.push(q);
        }
        r.d.push(d);
        r.ds.push(d * s as f32);
        r.sum.push(s);
    }
    r
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    half::f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

fn q4_sums_scalar(row: &[u8], stride: usize, offset: usize, xq: &[i8], out: &mut [i32]) {
    for (b, o) in out.iter_mut().enumerate() {
        let qs = &row[b * stride + offset..b * stride + offset + 16];
        let x = &xq[b * QBLOCK..b * QBLOCK + QBLOCK];
        let mut s = 0i32;
        for j in 0..16 {
            s += i32::from(qs[j] & 0x0f) * i32::from(x[j]) + i32::from(qs[j] >> 4) * i32::from(x[j + 16]);
        }
        *o = s;
    }
}

fn q8_sums_scalar(row: &[u8], stride: usize, offset: usize, xq: &[i8], out: &mut [i32]) {
    for (b, o) in out.iter_mut().enumerate() {
        let qs = &row[b * stride + offset..b * stride + offset + QBLOCK];
        let x = &xq[b * QBLOCK..b * QBLOCK + QBLOCK];
        *o = qs.iter().zip(x).map(|(&w, &x)| i32::from(w as i8) * i32::from(x)).sum();
    }
}

/// The block integer sums of one weight row against a quantized activation row.
fn block_sums(isa: Isa, kind: QuantKind, row: &[u8], xq: &[i8], out: &mut [i32]) {
    let (stride, off) = (kind.block_bytes(), kind.qs_offset());
    match (isa, kind) {
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2, QuantKind::Q8_0) => simd::q8_sums_avx2(row, stride, off, xq, out),
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2, _) => simd::q4_sums_avx2(row, stride, off, xq, out),
        #[cfg(target_arch = "x86_64")]
        (Isa::Sse2, QuantKind::Q8_0) => simd::q8_sums_sse2(row, stride, off, xq, out),
        #[cfg(target_arch = "x86_64")]
        (Isa::Sse2, _) => simd::q4_sums_sse2(row, stride, off, xq, out),
        (_, QuantKind::Q8_0) => q8_sums_scalar(row, stride, off, xq, out),
        _ => q4_sums_scalar(row, stride, off, xq, out),
    }
}

/// One weight row · one quantized activation row, combined across blocks as the module doc
/// defines. `sums` is scratch of one i32 per block.
fn quant_row_dot(isa: Isa, kind: QuantKind, row: &[u8], x: &QuantRow, sums: &mut [i32]) -> f32 {
    block_sums(isa, kind, row, &x.q, sums);
    let stride = kind.block_bytes();
    let mut acc = [0f32; 4];
    for (b, &isum) in sums.iter().enumerate() {
        let at = b * stride;
        let dd = f16_at(row, at) * x.d[b];
        let term = match kind {
            QuantKind::Q4_0 => dd * (isum - 8 * x.sum[b]) as f32,
            QuantKind::Q4_1 => dd * isum as f32 + f16_at(row, at + 2) * x.ds[b],
            QuantKind::Q8_0 => dd * isum as f32,
        };
        acc[b % 4] += term;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3])
}

/// Output rows computed per parallel task.
const ROWS_PER_TASK: usize = 16;

/// `out[i][r] = W[r] · x[i]` for the `m` rows of `x` (`[m, cols]`), `out` being `[m, rows]`.
/// Parallel over W's rows on the current rayon pool; the result does not depend on its size.
pub fn matmul(isa: Isa, w: &WeightView<'_>, x: &[f32], m: usize, out: &mut [f32]) -> Result<(), String> {
    w.validate()?;
    let (rows, cols) = w.shape();
    if x.len() != m * cols || out.len() != m * rows {
        return Err(format!("matmul: x is {} floats, out {}, for m = {m} and weight {rows}x{cols}", x.len(), out.len()));
    }
    // Computed as `[rows, m]` (each task owns whole weight rows), transposed after when m > 1.
    let mut t = if m == 1 { Vec::new() } else { vec![0f32; rows * m] };
    let dst: &mut [f32] = if m == 1 { out } else { &mut t };
    match *w {
        WeightView::F32 { data, .. } => {
            dst.par_chunks_mut(ROWS_PER_TASK * m).enumerate().for_each(|(task, chunk)| {
                let first = task * ROWS_PER_TASK;
                let here = chunk.len() / m;
                let w = |r: usize| &data[(first + r) * cols..(first + r + 1) * cols];
                // Four weight rows at a time against each x row, then the leftover rows.
                for r in (0..here / 4 * 4).step_by(4) {
                    for i in 0..m {
                        let d = dot4_f32(isa, [w(r), w(r + 1), w(r + 2), w(r + 3)], &x[i * cols..(i + 1) * cols]);
                        for (k, v) in d.into_iter().enumerate() {
                            chunk[(r + k) * m + i] = v;
                        }
                    }
                }
                for r in here / 4 * 4..here {
                    for i in 0..m {
                        chunk[r * m + i] = dot_f32(isa, w(r), &x[i * cols..(i + 1) * cols]);
                    }
                }
            });
        }
        WeightView::Quant { kind, data, .. } => {
            let qx: Vec<QuantRow> = x.chunks_exact(cols).map(quantize_row).collect();
            let row_bytes = cols / QBLOCK * kind.block_bytes();
            dst.par_chunks_mut(ROWS_PER_TASK * m).enumerate().for_each(|(task, chunk)| {
                let mut sums = vec![0i32; cols / QBLOCK];
                for (k, o) in chunk.iter_mut().enumerate() {
                    let r = task * ROWS_PER_TASK + k / m;
                    *o = quant_row_dot(isa, kind, &data[r * row_bytes..(r + 1) * row_bytes], &qx[k % m], &mut sums);
                }
            });
        }
    }
    if m > 1 {
        for r in 0..rows {
            for i in 0..m {
                out[i * rows + r] = t[r * m + i];
            }
        }
    }
    Ok(())
}

/// RMSNorm of each `w.len()`-wide row of `x` in place: x·w / √(mean(x²) + eps).
pub fn rms_norm(isa: Isa, x: &mut [f32], w: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(w.len()) {
        let r = inv_rms(isa, row, eps);
        for (v, g) in row.iter_mut().zip(w) {
            *v = (*v * r) * g;
        }
    }
}

/// 1 / √(mean(row²) + eps), the factor [`rms_norm`] scales a row by.
pub fn inv_rms(isa: Isa, row: &[f32], eps: f32) -> f32 {
    let mean = dot_f32(isa, row, row) / row.len().max(1) as f32;
    1.0 / (mean + eps).sqrt()
}

/// The dense f32 values of GGML blocks (`cols` a multiple of 32): d·(q − 8), d·q + m or d·q,
/// each one IEEE operation per step, so the same on every machine.
pub fn dequantize(kind: QuantKind, data: &[u8], rows: usize, cols: usize) -> Result<Vec<f32>, String> {
    WeightView::Quant { kind, data, rows, cols }.validate()?;
    let mut out = Vec::with_capacity(rows * cols);
    for blk in data.chunks_exact(kind.block_bytes()) {
        let d = f16_at(blk, 0);
        let qs = &blk[kind.qs_offset()..];
        match kind {
            QuantKind::Q8_0 => out.extend(qs[..QBLOCK].iter().map(|&q| d * f32::from(q as i8))),
            QuantKind::Q4_0 | QuantKind::Q4_1 => {
                let m = if kind == QuantKind::Q4_1 { f16_at(blk, 2) } else { 0.0 };
                let value = |q: u8| match kind {
                    QuantKind::Q4_0 => d * f32::from(i16::from(q) - 8),
                    _ => d * f32::from(q) + m,
                };
                // Low nibbles are elements 0..16, high nibbles 16..32.
                out.extend(qs[..16].iter().map(|&q| value(q & 0x0f)));
                out.extend(qs[..16].iter().map(|&q| value(q >> 4)));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};

    fn floats(rng: &mut ChaCha20Rng, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| ((rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * scale).collect()
    }

    /// A quantized matrix with random scales, nibbles and bytes (any bytes are a valid block).
    fn quant(rng: &mut ChaCha20Rng, kind: QuantKind, rows: usize, cols: usize) -> Vec<u8> {
        let mut data = vec![0u8; rows * cols / QBLOCK * kind.block_bytes()];
        rng.fill_bytes(&mut data);
        for blk in data.chunks_exact_mut(kind.block_bytes()) {
            let d = half::f16::from_f32(floats(rng, 1, 0.02)[0]).to_le_bytes();
            blk[..2].copy_from_slice(&d);
            if kind == QuantKind::Q4_1 {
                blk[2..4].copy_from_slice(&half::f16::from_f32(floats(rng, 1, 0.1)[0]).to_le_bytes());
            }
        }
        data
    }

    #[test]
    fn every_path_gives_the_scalar_bits() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for &(rows, cols, m) in &[(37, 64, 1), (50, 96, 3), (16, 576, 2), (3, 32, 5)] {
            let x = floats(&mut rng, m * cols, 8.0);
            let dense = floats(&mut rng, rows * cols, 1.0);
            let q40 = quant(&mut rng, QuantKind::Q4_0, rows, cols);
            let q41 = quant(&mut rng, QuantKind::Q4_1, rows, cols);
            let q80 = quant(&mut rng, QuantKind::Q8_0, rows, cols);
            let views = [
                WeightView::F32 { data: &dense, rows, cols },
                WeightView::Quant { kind: QuantKind::Q4_0, data: &q40, rows, cols },
                WeightView::Quant { kind: QuantKind::Q4_1, data: &q41, rows, cols },
                WeightView::Quant { kind: QuantKind::Q8_0, data: &q80, rows, cols },
            ];
            for w in &views {
                let mut reference = vec![0f32; m * rows];
                matmul(Isa::Scalar, w, &x, m, &mut reference).unwrap();
                for isa in Isa::available() {
                    for threads in [1, 2, 3] {
                        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                        let mut out = vec![0f32; m * rows];
                        pool.install(|| matmul(isa, w, &x, m, &mut out)).unwrap();
                        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&out), bits(&reference), "{isa:?}, {threads} threads, {:?}", w.shape());
                    }
                }
            }
        }
        // Odd lengths exercise the dense dot product's tail, alone and four rows at a time.
        for n in [1, 15, 17, 33, 100] {
            let a = floats(&mut rng, n, 3.0);
            let b = floats(&mut rng, n, 3.0);
            let r = dot_f32(Isa::Scalar, &a, &b).to_bits();
            let rows: Vec<Vec<f32>> = (0..4).map(|_| floats(&mut rng, n, 2.0)).collect();
            let want: Vec<u32> = rows.iter().map(|w| dot_f32(Isa::Scalar, w, &b).to_bits()).collect();
            for isa in Isa::available() {
                assert_eq!(dot_f32(isa, &a, &b).to_bits(), r, "{isa:?} n={n}");
                let got = dot4_f32(isa, [&rows[0], &rows[1], &rows[2], &rows[3]], &b).map(f32::to_bits);
                assert_eq!(got.as_slice(), want.as_slice(), "{isa:?} n={n}, four rows");
            }
        }
        // Dense matmuls with row counts around the four-row blocks and a lane tail.
        for &(rows, cols, m) in &[(21, 45, 6), (8, 17, 2), (35, 130, 9)] {
            let x = floats(&mut rng, m * cols, 5.0);
            let dense = floats(&mut rng, rows * cols, 1.0);
            let w = WeightView::F32 { data: &dense, rows, cols };
            let mut reference = vec![0f32; m * rows];
            matmul(Isa::Scalar, &w, &x, m, &mut reference).unwrap();
            for (i, row) in reference.chunks(rows).enumerate() {
                for (r, v) in row.iter().enumerate() {
                    assert_eq!(v.to_bits(), dot_f32(Isa::Scalar, &dense[r * cols..(r + 1) * cols], &x[i * cols..(i + 1) * cols]).to_bits());
                }
            }
            for isa in Isa::available() {
                let mut out = vec![0f32; m * rows];
                matmul(isa, &w, &x, m, &mut out).unwrap();
                assert!(out.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()), "{isa:?} {rows}x{cols}, m = {m}");
            }
        }
    }

    #[test]
    fn quantized_matmul_matches_the_dequantized_weights() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let (rows, cols) = (24, 128);
        let x = floats(&mut rng, cols, 4.0);
        for kind in [QuantKind::Q4_0, QuantKind::Q4_1, QuantKind::Q8_0] {
            let data = quant(&mut rng, kind, rows, cols);
            let mut out = vec![0f32; rows];
            matmul(Isa::best(), &WeightView::Quant { kind, data: &data, rows, cols }, &x, 1, &mut out).unwrap();
            let dense = dequantize(kind, &data, rows, cols).unwrap();
            assert_eq!(dense.len(), rows * cols);
            for r in 0..rows {
                let mut exact = 0f64;
                let mut scale = 0f64;
                for b in 0..cols / QBLOCK {
                    let blk = &data[(r * cols / QBLOCK + b) * kind.block_bytes()..][..kind.block_bytes()];
                    let d = f64::from(f16_at(blk, 0));
                    for j in 0..QBLOCK {
                        let w = match kind {
                            QuantKind::Q4_0 => d * (f64::from(if j < 16 { blk[2 + j] & 15 } else { blk[2 + j - 16] >> 4 }) - 8.0),
                            QuantKind::Q4_1 => {
                                d * f64::from(if j < 16 { blk[4 + j] & 15 } else { blk[4 + j - 16] >> 4 }) + f64::from(f16_at(blk, 2))
                            }
                            QuantKind::Q8_0 => d * f64::from(blk[2 + j] as i8),
                        };
                        let got = f64::from(dense[r * cols + b * QBLOCK + j]);
                        assert!((got - w).abs() <= 1e-6 * w.abs() + 1e-9, "{kind:?} dequantized ({r}, {b}, {j}): {got} vs {w}");
                        exact += w * f64::from(x[b * QBLOCK + j]);
                        scale += (w * f64::from(x[b * QBLOCK + j])).abs();
                    }
                }
                // Activations are quantized to 8 bits: the error is a small part of Σ|w·x|.
                assert!((f64::from(out[r]) - exact).abs() <= 0.02 * scale + 1e-6, "{kind:?} row {r}: {} vs {exact}", out[r]);
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let w = [0f32; 6];
        let mut out = [0f32; 2];
        assert!(matmul(Isa::Scalar, &WeightView::F32 { data: &w, rows: 2, cols: 4 }, &[0.0; 4], 1, &mut out).is_err());
        assert!(matmul(Isa::Scalar, &WeightView::F32 { data: &w, rows: 2, cols: 3 }, &[0.0; 4], 1, &mut out).is_err());
        let q = [0u8; 20];
        let v = WeightView::Quant { kind: QuantKind::Q4_1, data: &q, rows: 1, cols: 30 };
        assert!(v.validate().is_err());
        assert!(Isa::parse("avx9").is_err());
        assert_eq!(Isa::parse("scalar").unwrap(), Isa::Scalar);
    }
}
