//! Auth parameters: the SDK's `Params` and OpenLedger's `FeeParams`, with their defaults and
//! the integer arithmetic of the minimum fee.

use cosmos_sdk_proto::cosmos::auth::v1beta1::Params;
use openledger_core::{StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::auth::v1::FeeParams;

use crate::state_key;

/// Fractional digits of a decimal gas price.
pub const PRICE_DECIMALS: u32 = 18;

/// The SDK's default auth params.
pub fn default_params() -> Params {
    Params {
        max_memo_characters: 256,
        tx_sig_limit: 7,
        tx_size_cost_per_byte: 10,
        sig_verify_cost_ed25519: 590,
        sig_verify_cost_secp256k1: 1000,
    }
}

/// OpenLedger's default fee params: 0.025 uopen per gas, 1 MiB txs, 100M gas per tx.
pub fn default_fee_params() -> FeeParams {
    FeeParams { min_gas_price: "0.025".to_string(), max_tx_bytes: 1024 * 1024, max_tx_gas: 100_000_000 }
}

/// Reads the auth params (defaults if never set).
pub fn params(state: &dyn StateRead) -> Result<Params, StateError> {
    Ok(state.get_proto(state_key::PARAMS)?.unwrap_or_else(default_params))
}

/// Writes the auth params.
pub fn set_params(state: &mut dyn StateWrite, params: &Params) -> Result<(), StateError> {
    state.put_proto(state_key::PARAMS.to_vec(), params)
}

/// Reads the fee params (defaults if never set).
pub fn fee_params(state: &dyn StateRead) -> Result<FeeParams, StateError> {
    Ok(state.get_proto(state_key::FEE_PARAMS)?.unwrap_or_else(default_fee_params))
}

/// Writes the fee params.
pub fn set_fee_params(state: &mut dyn StateWrite, params: &FeeParams) -> Result<(), StateError> {
    state.put_proto(state_key::FEE_PARAMS.to_vec(), params)
}

/// Parses a decimal price like `0.025` into an integer scaled by 10^18.
pub fn parse_price(text: &str) -> Option<u128> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits_ok(int) || !digits_ok(frac) || frac.len() > PRICE_DECIMALS as usize {
        return None;
    }
    let scale = 10u128.checked_pow(PRICE_DECIMALS)?;
    let int_part = int.parse::<u128>().ok()?.checked_mul(scale)?;
    let frac_part = if frac.is_empty() {
        0
    } else {
        let pad = PRICE_DECIMALS.checked_sub(u32::try_from(frac.len()).ok()?)?;
        frac.parse::<u128>().ok()?.checked_mul(10u128.checked_pow(pad)?)?
    };
    int_part.checked_add(frac_part)
}

/// `ceil(gas_limit × price)` in uopen, `None` on overflow or a malformed price.
pub fn min_fee(gas_limit: u64, min_gas_price: &str) -> Option<u128> {
    let price = parse_price(min_gas_price)?;
    let scale = 10u128.checked_pow(PRICE_DECIMALS)?;
    let product = u128::from(gas_limit).checked_mul(price)?;
    Some(product.div_ceil(scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_fee_rounds_up_with_integer_math() {
        assert_eq!(min_fee(200_000, "0.025"), Some(5_000));
        assert_eq!(min_fee(1, "0.025"), Some(1));
        assert_eq!(min_fee(0, "0.025"), Some(0));
        assert_eq!(min_fee(3, "1.5"), Some(5));
        assert_eq!(min_fee(10, "0"), Some(0));
        assert_eq!(parse_price("abc"), None);
        assert_eq!(parse_price("0.0000000000000000001"), None);
        assert_eq!(parse_price(".5"), None);
    }
}
