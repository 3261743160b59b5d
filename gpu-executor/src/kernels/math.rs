//! Elementary functions built from IEEE-754 basic operations only (add, subtract, multiply,
//! divide, square root, round-to-nearest-even), so they give the same bits on every instruction
//! set, compiler target and C library. The platform's `exp`, `sin` and `powf` come from libm or
//! compiler intrinsics whose last bit may differ between glibc versions, musl and vector builds;
//! nothing on the portable path calls them.
//!
//! Rust never contracts `a * b + c` into a fused multiply-add, so each expression below rounds
//! exactly as written, whatever `-C target-cpu` the executor is built for.

// fdlibm's constants, written with all their digits (clippy would round the text, not the value).
#![allow(clippy::excessive_precision)]

/// ln 2 split so that `k * LN2_HI` is exact for |k| < 2^11 (fdlibm's constants).
const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
const INV_LN2: f64 = std::f64::consts::LOG2_E;
/// π/2 in three 33-bit pieces: `k * PIO2_n` is exact for |k| < 2^20 (fdlibm's `rem_pio2`).
const PIO2_1: f64 = 1.570_796_326_734_125_614_17;
const PIO2_2: f64 = 6.077_100_506_303_965_976_60e-11;
const PIO2_3: f64 = 2.022_266_248_711_166_455_80e-21;
const INV_PIO2: f64 = std::f64::consts::FRAC_2_PI;

/// 2^k as an f64, for any k (two steps where 2^k alone is not a normal number).
fn pow2(k: i32) -> f64 {
    let normal = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    if k > 1023 {
        f64::INFINITY
    } else if k >= -1022 {
        normal(k)
    } else if k >= -1074 - 60 {
        normal(k + 60) * normal(-60)
    } else {
        0.0
    }
}

/// e^x in f64 (relative error below 1e-15).
pub fn exp_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.78 {
        return f64::INFINITY;
    }
    if x < -745.2 {
        return 0.0;
    }
    let k = (x * INV_LN2).round_ties_even();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Taylor series of e^r for |r| <= 0.35, Horner form, to r^13.
    let mut p = 1.0 / 6_227_020_800.0;
    for d in [479_001_600.0, 39_916_800.0, 3_628_800.0, 362_880.0, 40_320.0, 5_040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0] {
        p = p * r + 1.0 / d;
    }
    p * pow2(k as i32)
}

/// e^x in f32, through [`exp_f64`] (exact to the last f32 bit but for rare double roundings,
/// which are the same on every machine).
pub fn exp_f32(x: f32) -> f32 {
    exp_f64(f64::from(x)) as f32
}

/// Natural logarithm of a positive, finite, normal f64 (NaN otherwise).
pub fn ln_f64(x: f64) -> f64 {
    if !(x.is_finite() && x >= f64::MIN_POSITIVE) {
        return f64::NAN;
    }
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln m = 2·atanh(s), s = (m-1)/(m+1), |s| <= 0.1716: series to s^23.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 1.0 / 23.0;
    for d in [21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
        p = p * s2 + 1.0 / d;
    }
    let ln_m = 2.0 * s * p;
    let e = f64::from(e);
    e * LN2_HI + (e * LN2_LO + ln_m)
}

/// base^y for a positive base.
pub fn powf_f64(base: f64, y: f64) -> f64 {
    exp_f64(y * ln_f64(base))
}

/// (sin x, cos x) for |x| < 2^20·π/2 (RoPE angles are far below that).
pub fn sin_cos_f64(x: f64) -> (f64, f64) {
    if !x.is_finite() || x.abs() >= 1.5e6 {
        return (f64::NAN, f64::NAN);
    }
    let k = (x * INV_PIO2).round_ties_even();
    let r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
    let r2 = r * r;
    // Taylor series on |r| <= π/4: sin to r^19, cos to r^20.
    let mut s = -1.0 / 121_645_100_408_832_000.0;
    for d in [355_687_428_096_000.0, -1_307_674_368_000.0, 6_227_020_800.0, -39_916_800.0, 362_880.0, -5_040.0, 120.0, -6.0] {
        s = s * r2 + 1.0 / d;
    }
    let sin_r = r + r * r2 * s;
    let mut c = 1.0 / 2_432_902_008_176_640_000.0;
    for d in [-6_402_373_705_728_000.0, 20_922_789_888_000.0, -87_178_291_200.0, 479_001_600.0, -3_628_800.0, 40_320.0, -720.0, 24.0, -2.0]
    {
        c = c * r2 + 1.0 / d;
    }
    let cos_r = 1.0 + r2 * c;
    match (k as i64).rem_euclid(4) {
        0 => (sin_r, cos_r),
        1 => (cos_r, -sin_r),
        2 => (-sin_r, -cos_r),
        _ => (-cos_r, sin_r),
    }
}

/// RoPE tables `[positions][head_dim / 2]`: cos and sin of `pos · theta^(-2i/head_dim)`.
pub fn rope_tables(theta: f64, head_dim: usize, positions: usize) -> (Vec<f32>, Vec<f32>) {
    let half = head_dim / 2;
    let ln_theta = ln_f64(theta);
    let inv: Vec<f64> = (0..half).map(|i| exp_f64(-((2 * i) as f64 / head_dim as f64) * ln_theta)).collect();
    let mut cos = Vec::with_capacity(positions * half);
    let mut sin = Vec::with_capacity(positions * half);
    for p in 0..positions {
        for f in &inv {
            let (s, c) = sin_cos_f64(p as f64 * f);
            cos.push(c as f32);
            sin.push(s as f32);
        }
    }
    (cos, sin)
}

/// SiLU, x·σ(x) = x / (1 + e^-x).
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp_f32(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn exp_matches_the_platform_to_a_few_ulps() {
        for i in -7000..7000 {
            let x = f64::from(i) * 0.1013;
            assert!(close(exp_f64(x), x.exp(), 4e-15), "{x}: {} vs {}", exp_f64(x), x.exp());
        }
        assert_eq!(exp_f64(0.0), 1.0);
        assert_eq!(exp_f64(-1000.0), 0.0);
        assert_eq!(exp_f64(1000.0), f64::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f64(f64::NAN).is_nan());
        // Subnormal results scale in two steps.
        assert!(close(exp_f64(-740.0), (-740.0f64).exp(), 1e-6));
    }

    #[test]
    fn ln_pow_sin_cos_match_the_platform() {
        for x in [1e-300, 0.3, 0.7, 1.0, 1.5, 2.0, 10.0, 10_000.0, 100_000.0, 5e5, 1e300] {
            assert!(close(ln_f64(x), x.ln(), 4e-15) || (x == 1.0 && ln_f64(x) == 0.0), "{x}");
        }
        assert!(ln_f64(0.0).is_nan() && ln_f64(-1.0).is_nan());
        assert!(close(powf_f64(10_000.0, -0.25), 10_000f64.powf(-0.25), 1e-14));
        for i in 0..20_000 {
            let x = f64::from(i) * 0.4099 - 100.0;
            let (s, c) = sin_cos_f64(x);
            assert!((s - x.sin()).abs() < 1e-14 && (c - x.cos()).abs() < 1e-14, "{x}");
        }
    }

    #[test]
    fn rope_tables_are_unit_rotations() {
        let (cos, sin) = rope_tables(100_000.0, 64, 300);
        assert_eq!(cos.len(), 300 * 32);
        assert_eq!((cos[0], sin[0]), (1.0, 0.0));
        for (c, s) in cos.iter().zip(&sin) {
            assert!((c * c + s * s - 1.0).abs() < 1e-6);
        }
    }
}
