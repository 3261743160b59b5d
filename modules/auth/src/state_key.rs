//! Every state key of the auth module, in one place.

/// `auth/account/{bech32}` → `Any` (BaseAccount or ModuleAccount).
pub fn account(address: &str) -> Vec<u8> {
    format!("auth/account/{address}").into_bytes()
}

/// Prefix of all accounts.
pub const ACCOUNT_PREFIX: &[u8] = b"auth/account/";

/// `auth/account_number/{n:020}` → account address bytes (for lookups by number).
pub fn account_by_number(number: u64) -> Vec<u8> {
    format!("auth/account_number/{number:020}").into_bytes()
}

/// Next account number to hand out (`UInt64Value`).
pub const NEXT_ACCOUNT_NUMBER: &[u8] = b"auth/next_account_number";

/// `cosmos.auth.v1beta1.Params`.
pub const PARAMS: &[u8] = b"auth/params";

/// `openledger.auth.v1.FeeParams`.
pub const FEE_PARAMS: &[u8] = b"auth/fee_params";

/// `auth/module/{name}` → module account address bytes.
pub fn module_account(name: &str) -> Vec<u8> {
    format!("auth/module/{name}").into_bytes()
}

/// Prefix of module-account names.
pub const MODULE_PREFIX: &[u8] = b"auth/module/";
