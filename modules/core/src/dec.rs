//! Fixed-point decimals with 18 fractional digits on `u128` — the SDK's `LegacyDec` for
//! non-negative values (shares, rates, reward ratios) — with checked arithmetic and a 256-bit
//! intermediate for `a × b / c`, so no float ever touches consensus state.

use std::fmt;

/// 10^18, the scale of a [`Dec`].
pub const DEC_SCALE: u128 = 1_000_000_000_000_000_000;

/// A non-negative decimal `value / 10^18`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dec(pub u128);

/// Arithmetic overflow or a malformed decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecError {
    /// Result does not fit.
    #[error("decimal overflow")]
    Overflow,
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// Text is not a non-negative decimal with at most 18 fractional digits.
    #[error("invalid decimal {0:?}")]
    Invalid(String),
}

/// `a × b / c` with a 256-bit intermediate (floor).
pub fn mul_div(a: u128, b: u128, c: u128) -> Result<u128, DecError> {
    if c == 0 {
        return Err(DecError::DivisionByZero);
    }
    let (hi, lo) = mul_wide(a, b);
    if hi == 0 {
        return Ok(lo / c);
    }
    if hi >= c {
        return Err(DecError::Overflow);
    }
    // Long division of (hi, lo) by c, one bit at a time; hi < c keeps the quotient in u128.
    let mut rem = hi;
    let mut quotient: u128 = 0;
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        quotient <<= 1;
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            quotient |= 1;
        }
    }
    Ok(quotient)
}

/// Full 256-bit product as (high, low).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a_hi, a_lo) = (a >> 64, a & MASK);
    let (b_hi, b_lo) = (b >> 64, b & MASK);
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 64) + (lh & MASK) + (hl & MASK);
    let lo = (ll & MASK) | (mid << 64);
    let hi = hh + (lh >> 64) + (hl >> 64) + (mid >> 64);
    (hi, lo)
}

impl Dec {
    /// Zero.
    pub const ZERO: Dec = Dec(0);
    /// One.
    pub const ONE: Dec = Dec(DEC_SCALE);

    /// An integer as a decimal.
    pub fn from_int(n: u128) -> Result<Self, DecError> {
        n.checked_mul(DEC_SCALE).map(Dec).ok_or(DecError::Overflow)
    }

    /// `numerator / denominator`.
    pub fn from_ratio(numerator: u128, denominator: u128) -> Result<Self, DecError> {
        mul_div(numerator, DEC_SCALE, denominator).map(Dec)
    }

    /// Whether zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Sum.
    pub fn checked_add(self, other: Dec) -> Result<Dec, DecError> {
        self.0.checked_add(other.0).map(Dec).ok_or(DecError::Overflow)
    }

    /// Difference (fails below zero).
    pub fn checked_sub(self, other: Dec) -> Result<Dec, DecError> {
        self.0.checked_sub(other.0).map(Dec).ok_or(DecError::Overflow)
    }

    /// Product (truncated).
    pub fn checked_mul(self, other: Dec) -> Result<Dec, DecError> {
        mul_div(self.0, other.0, DEC_SCALE).map(Dec)
    }

    /// Product with an integer.
    pub fn mul_int(self, n: u128) -> Result<Dec, DecError> {
        self.0.checked_mul(n).map(Dec).ok_or(DecError::Overflow)
    }

    /// Quotient (truncated).
    pub fn quo(self, other: Dec) -> Result<Dec, DecError> {
        mul_div(self.0, DEC_SCALE, other.0).map(Dec)
    }

    /// `self × numerator / denominator` (truncated).
    pub fn mul_ratio(self, numerator: u128, denominator: u128) -> Result<Dec, DecError> {
        mul_div(self.0, numerator, denominator).map(Dec)
    }

    /// Integer part (floor).
    pub fn truncate(self) -> u128 {
        self.0 / DEC_SCALE
    }

    /// Parses `"0.05"`, `"1"`, `"1.000000000000000000"`.
    pub fn parse(text: &str) -> Result<Self, DecError> {
        let invalid = || DecError::Invalid(text.to_string());
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if int.is_empty() || frac.len() > 18 || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        if text.ends_with('.') {
            return Err(invalid());
        }
        let int_part = int.parse::<u128>().map_err(|_| invalid())?.checked_mul(DEC_SCALE).ok_or(DecError::Overflow)?;
        let frac_part = if frac.is_empty() {
            0
        } else {
            let pad = 18 - frac.len();
            frac.parse::<u128>()
                .map_err(|_| invalid())?
                .checked_mul(10u128.pow(u32::try_from(pad).map_err(|_| invalid())?))
                .ok_or(DecError::Overflow)?
        };
        int_part.checked_add(frac_part).map(Dec).ok_or(DecError::Overflow)
    }
}

impl fmt::Display for Dec {
    /// The SDK's form: always 18 fractional digits (`"1.000000000000000000"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:018}", self.0 / DEC_SCALE, self.0 % DEC_SCALE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_format_and_arithmetic() {
        let d = Dec::parse("0.05").unwrap();
        assert_eq!(d.to_string(), "0.050000000000000000");
        assert_eq!(Dec::parse("1").unwrap(), Dec::ONE);
        assert!(Dec::parse("-1").is_err());
        assert!(Dec::parse("1.").is_err());
        assert!(Dec::parse("0.0000000000000000001").is_err());
        assert_eq!(Dec::from_int(3).unwrap().checked_mul(d).unwrap(), Dec::parse("0.15").unwrap());
        assert_eq!(Dec::from_ratio(1, 3).unwrap().to_string(), "0.333333333333333333");
        assert_eq!(Dec::from_int(10).unwrap().quo(Dec::from_int(4).unwrap()).unwrap(), Dec::parse("2.5").unwrap());
        assert!(Dec::ONE.checked_sub(Dec::from_int(2).unwrap()).is_err());
    }

    #[test]
    fn mul_div_uses_a_wide_intermediate() {
        let big = u128::MAX / 3;
        assert_eq!(mul_div(big, 6, 3).unwrap(), big * 2);
        assert_eq!(mul_div(u128::MAX, u128::MAX, u128::MAX).unwrap(), u128::MAX);
        assert_eq!(mul_div(1 << 100, 1 << 100, 1 << 90).unwrap(), 1 << 110);
        assert!(mul_div(u128::MAX, 2, 1).is_err());
        assert!(mul_div(1, 1, 0).is_err());
        assert_eq!(mul_div(7, 3, 2).unwrap(), 10);
    }
}
