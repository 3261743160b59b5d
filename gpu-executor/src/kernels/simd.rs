//! The instruction-set-specific inner loops, x86-64 only: SSE2 (every x86-64 CPU) and AVX2. Each
//! computes exactly what its scalar twin in `mod.rs` computes — integer block sums, which are
//! exact in any order, or f32 products summed into 16 fixed lanes — so switching paths cannot
//! change a bit of any result. Calls come only through `Isa`, whose AVX2 variant exists only
//! after run-time detection found the feature.
// SIMD intrinsics are `unsafe` (raw pointer loads, target features); this module is the only
// place the executor uses them, and every load stays inside the bounds its caller checked.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// 16-lane f32 accumulation of a·b over whole 16-element chunks (SSE2: four 4-lane registers).
#[cfg(target_arch = "x86_64")]
pub(super) fn dot_lanes_sse2(a: &[f32], b: &[f32], acc: &mut [f32; 16]) {
    let chunks = a.len().min(b.len()) / 16;
    // SAFETY: SSE2 is part of the x86-64 baseline; every load reads 16 floats inside
    // `chunks * 16 <= len` of both slices, and the stores write `acc`'s 16 floats.
    unsafe {
        let mut r = [
            _mm_loadu_ps(acc.as_ptr()),
            _mm_loadu_ps(acc.as_ptr().add(4)),
            _mm_loadu_ps(acc.as_ptr().add(8)),
            _mm_loadu_ps(acc.as_ptr().add(12)),
        ];
        for c in 0..chunks {
            let pa = a.as_ptr().add(c * 16);
            let pb = b.as_ptr().add(c * 16);
            for (i, lane) in r.iter_mut().enumerate() {
                *lane = _mm_add_ps(*lane, _mm_mul_ps(_mm_loadu_ps(pa.add(4 * i)), _mm_loadu_ps(pb.add(4 * i))));
            }
        }
        for (i, lane) in r.iter().enumerate() {
            _mm_storeu_ps(acc.as_mut_ptr().add(4 * i), *lane);
        }
    }
}

/// 16-lane f32 accumulation (AVX2: two 8-lane registers, multiply then add — never fused).
#[cfg(target_arch = "x86_64")]
pub(super) fn dot_lanes_avx2(a: &[f32], b: &[f32], acc: &mut [f32; 16]) {
    // SAFETY: `Isa::Avx2` is only constructed after `is_x86_feature_detected!("avx2")`.
    unsafe { dot_lanes_avx2_impl(a, b, acc) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_lanes_avx2_impl(a: &[f32], b: &[f32], acc: &mut [f32; 16]) {
    let chunks = a.len().min(b.len()) / 16;
    let mut lo = _mm256_loadu_ps(acc.as_ptr());
    let mut hi = _mm256_loadu_ps(acc.as_ptr().add(8));
    for c in 0..chunks {
        let pa = a.as_ptr().add(c * 16);
        let pb = b.as_ptr().add(c * 16);
        lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_loadu_ps(pa), _mm256_loadu_ps(pb)));
        hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_loadu_ps(pa.add(8)), _mm256_loadu_ps(pb.add(8))));
    }
    _mm256_storeu_ps(acc.as_mut_ptr(), lo);
    _mm256_storeu_ps(acc.as_mut_ptr().add(8), hi);
}

/// Horizontal sum of four i32 lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn hsum_epi32_128(v: __m128i) -> i32 {
    let v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0b01_00_11_10));
    let v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0b10_11_00_01));
    _mm_cvtsi128_si32(v)
}

/// Sign-extends the 16 i8 of `v` into two i16x8 halves (SSE2 has no `cvtepi8`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn i8_to_i16_sse2(v: __m128i) -> (__m128i, __m128i) {
    let z = _mm_setzero_si128();
    (_mm_srai_epi16(_mm_unpacklo_epi8(z, v), 8), _mm_srai_epi16(_mm_unpackhi_epi8(z, v), 8))
}

/// Σ w·x over each 32-element block, for 4-bit weights (`qs`: 16 bytes per block at `stride`
/// bytes apart starting at `offset`; low nibbles are elements 0–15, high nibbles 16–31) and i8
/// activations. Writes one exact i32 per block.
#[cfg(target_arch = "x86_64")]
pub(super) fn q4_sums_sse2(row: &[u8], stride: usize, offset: usize, xq: &[i8], out: &mut [i32]) {
    let blocks = out.len();
    assert!(row.len() >= blocks * stride && offset + 16 <= stride && xq.len() >= blocks * 32);
    // SAFETY: the assert bounds every 16-byte load: block b's nibbles at b*stride+offset..+16
    // inside `row`, its activations at b*32..b*32+32 inside `xq`.
    unsafe {
        let mask = _mm_set1_epi8(0x0f);
        let z = _mm_setzero_si128();
        for (b, o) in out.iter_mut().enumerate() {
            let qs = _mm_loadu_si128(row.as_ptr().add(b * stride + offset) as *const __m128i);
            let lo = _mm_and_si128(qs, mask);
            let hi = _mm_and_si128(_mm_srli_epi16(qs, 4), mask);
            let x0 = _mm_loadu_si128(xq.as_ptr().add(b * 32) as *const __m128i);
            let x1 = _mm_loadu_si128(xq.as_ptr().add(b * 32 + 16) as *const __m128i);
            let (x0a, x0b) = i8_to_i16_sse2(x0);
            let (x1a, x1b) = i8_to_i16_sse2(x1);
            let s = _mm_add_epi32(
                _mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(lo, z), x0a), _mm_madd_epi16(_mm_unpackhi_epi8(lo, z), x0b)),
                _mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(hi, z), x1a), _mm_madd_epi16(_mm_unpackhi_epi8(hi, z), x1b)),
            );
            *o = hsum_epi32_128(s);
        }
    }
}

/// Σ w·x per block for 8-bit weights (`qs`: 32 i8 per block).
#[cfg(target_arch = "x86_64")]
pub(super) fn q8_sums_sse2(row: &[u8], stride: usize, offset: usize, xq: &[i8], out: &mut [i32]) {
    let blocks = out.len();
    assert!(row.len() >= blocks * stride && offset + 32 <= stride && xq.len() >= blocks * 32);
    // SAFETY: bounded by the assert, as in `q4_sums_sse2`.
    unsafe {
        for (b, o) in out.iter_mut().enumerate() {
            let mut s = _mm_setzero_si128();
            for h in 0..2 {
                let w = _mm_loadu_si128(row.as_ptr().add(b * stride + offset + 16 * h) as *const __m128i);
                let x = _mm_loadu_si128(xq.as_ptr().add(b * 32 + 16 * h) as *const __m128i);
                let (wa, wb) = i8_to_i16_sse2(w);
                let (xa, xb) = i8_to_i16_sse2(x);
                s = _mm_add_epi32(s, _mm_add_epi32(_mm_madd_epi16(wa, xa), _mm_madd_epi16(wb, xb)));
            }
            *o = hsum_epi32_128(s);
        }
    }
}

/// AVX2 version of [`q4_sums_sse2`].
#[cfg(target_arch = "x86_64")]
pub(super) fn q4_sums_avx2(row: &[u8], stride: usize, offset: usize, xq: &[i8], out: &mut [i32]) {
    assert!(row.len() >= out.len() * stride && offset + 16 <= stride && xq.len() >= out.len() * 32);
    // SAFETY: AVX2 was detected (see `dot_lanes_avx2`); loads bounded by the assert.
    unsafe { q4_sums_avx2_impl(row, stride, offset, xq, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn q4_sums_avx2_impl(row: &[u8], stride: usize, offset: usize, xq: &[i8], out: &mut [i32]) {
    let mask = _mm256_set1_epi8(0x0f);
    let ones = _mm256_set1_epi16(1);
    for (b, o) in out.iter_mut().enumerate() {
        let qs = _mm_loadu_si128(row.as_ptr().add(b * stride + offset) as *const __m128i);
        // Low nibbles (elements 0–15) in the low half, high nibbles (16–31) in the high half.
        let w = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs), mask);
        let x = _mm256_loadu_si256(xq.as_ptr().add(b * 32) as *const __m256i);
        // u8 × i8 pairs into i16: |pair| <= 2·15·128 < 2^15, so no saturation.
        let s = _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), ones);
        *o = hsum_epi32_128(_mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
    }
}

/// AVX2 version of [`q8_sums_sse2`].
#[cfg(target_arch = "x86_64")]
pub(super) fn q8_sums_avx2(row: &[u8], stride: usize, offset: usize, xq: &[i8], out: &mut [i32]) {
    assert!(row.len() >= out.len() * stride && offset + 32 <= stride && xq.len() >= out.len() * 32);
    // SAFETY: AVX2 was detected; loads bounded by the assert.
    unsafe { q8_sums_avx2_impl(row, stride, offset, xq, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn q8_sums_avx2_impl(row: &[u8], stride: usize, offset: usize, xq: &[i8], out: &mut [i32]) {
    for (b, o) in out.iter_mut().enumerate() {
        let w = _mm256_loadu_si256(row.as_ptr().add(b * stride + offset) as *const __m256i);
        let x = _mm256_loadu_si256(xq.as_ptr().add(b * 32) as *const __m256i);
        // Sign-extend to i16 and multiply-add pairs: exact for any i8 (including -128).
        let (w0, w1) = (_mm256_cvtepi8_epi16(_mm256_castsi256_si128(w)), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(w, 1)));
        let (x0, x1) = (_mm256_cvtepi8_epi16(_mm256_castsi256_si128(x)), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(x, 1)));
        let s = _mm256_add_epi32(_mm256_madd_epi16(w0, x0), _mm256_madd_epi16(w1, x1));
        *o = hsum_epi32_128(_mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
    }
}

/// Four 16-lane accumulations at once, `rows[k]·x` into `acc[k]`: each is exactly
/// [`dot_lanes_avx2`]'s (same lanes, same order, multiply then add), but `x` is loaded once for
/// the four rows and the eight accumulators are independent, so the adds overlap.
#[cfg(target_arch = "x86_64")]
pub(super) fn dot4_lanes_avx2(rows: [&[f32]; 4], x: &[f32], acc: &mut [[f32; 16]; 4]) {
    // SAFETY: `Isa::Avx2` is only constructed after `is_x86_feature_detected!("avx2")`.
    unsafe { dot4_lanes_avx2_impl(rows, x, acc) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot4_lanes_avx2_impl(rows: [&[f32]; 4], x: &[f32], acc: &mut [[f32; 16]; 4]) {
    let len = rows.iter().fold(x.len(), |m, r| m.min(r.len()));
    let chunks = len / 16;
    let mut lo = [_mm256_setzero_ps(); 4];
    let mut hi = [_mm256_setzero_ps(); 4];
    for k in 0..4 {
        lo[k] = _mm256_loadu_ps(acc[k].as_ptr());
        hi[k] = _mm256_loadu_ps(acc[k].as_ptr().add(8));
    }
    let p = [rows[0].as_ptr(), rows[1].as_ptr(), rows[2].as_ptr(), rows[3].as_ptr()];
    for c in 0..chunks {
        let px = x.as_ptr().add(c * 16);
        let (xl, xh) = (_mm256_loadu_ps(px), _mm256_loadu_ps(px.add(8)));
        for k in 0..4 {
            let pr = p[k].add(c * 16);
            lo[k] = _mm256_add_ps(lo[k], _mm256_mul_ps(_mm256_loadu_ps(pr), xl));
            hi[k] = _mm256_add_ps(hi[k], _mm256_mul_ps(_mm256_loadu_ps(pr.add(8)), xh));
        }
    }
    for k in 0..4 {
        _mm256_storeu_ps(acc[k].as_mut_ptr(), lo[k]);
        _mm256_storeu_ps(acc[k].as_mut_ptr().add(8), hi[k]);
    }
}
