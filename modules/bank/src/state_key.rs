//! Every state key of the bank module, in one place.

/// `bank/balance/{addr}/{denom}` → `Coin`.
pub fn balance(address: &str, denom: &str) -> Vec<u8> {
    format!("bank/balance/{address}/{denom}").into_bytes()
}

/// `bank/balance/{addr}/` — all balances of one address, ordered by denom.
pub fn balances_of(address: &str) -> Vec<u8> {
    format!("bank/balance/{address}/").into_bytes()
}

/// Prefix of every balance.
pub const BALANCE_PREFIX: &[u8] = b"bank/balance/";

/// `bank/supply/{denom}` → `Coin`.
pub fn supply(denom: &str) -> Vec<u8> {
    format!("bank/supply/{denom}").into_bytes()
}

/// Prefix of all supplies.
pub const SUPPLY_PREFIX: &[u8] = b"bank/supply/";

/// `bank/denom_metadata/{base}` → `Metadata`.
pub fn denom_metadata(base: &str) -> Vec<u8> {
    format!("bank/denom_metadata/{base}").into_bytes()
}

/// Prefix of all denom metadata.
pub const DENOM_METADATA_PREFIX: &[u8] = b"bank/denom_metadata/";

/// `cosmos.bank.v1beta1.Params`.
pub const PARAMS: &[u8] = b"bank/params";
