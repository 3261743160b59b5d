//! Account addresses: bech32 with the `open` prefix over 20 (or 32) raw bytes, exactly as the
//! Cosmos SDK derives them (`ripemd160(sha256(compressed secp256k1 pubkey))`; module accounts
//! `sha256(name)[:20]`).

use bech32::{Bech32, Hrp};
use sha2::{Digest, Sha256};

/// The chain's bech32 account prefix.
pub const ACCOUNT_PREFIX: &str = "open";
/// Bech32 prefix of validator operator addresses.
pub const VALOPER_PREFIX: &str = "openvaloper";
/// Bech32 prefix of validator consensus addresses.
pub const VALCONS_PREFIX: &str = "openvalcons";
/// Longest address the SDK accepts, in bytes.
pub const MAX_ADDRESS_LEN: usize = 255;

/// Raw account address bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(Vec<u8>);

/// Why a string is not a valid account address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Empty string.
    #[error("empty address string is not allowed")]
    Empty,
    /// Not bech32.
    #[error("decoding bech32 failed: {0}")]
    Bech32(String),
    /// Wrong human-readable prefix.
    #[error("invalid Bech32 prefix; expected {expected}, got {got}")]
    WrongPrefix {
        /// Expected prefix.
        expected: &'static str,
        /// Prefix found.
        got: String,
    },
    /// Too short or too long.
    #[error("address length {0} is invalid")]
    BadLength(usize),
}

impl Address {
    /// Wraps raw bytes (length checked).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AddressError> {
        if bytes.is_empty() || bytes.len() > MAX_ADDRESS_LEN {
            return Err(AddressError::BadLength(bytes.len()));
        }
        Ok(Self(bytes.to_vec()))
    }

    /// Parses a bech32 `open1…` address.
    pub fn from_bech32(text: &str) -> Result<Self, AddressError> {
        Self::from_bech32_prefixed(text, ACCOUNT_PREFIX)
    }

    /// Parses a bech32 address with the given prefix (`openvaloper`, `openvalcons`).
    pub fn from_bech32_prefixed(text: &str, prefix: &'static str) -> Result<Self, AddressError> {
        if text.trim().is_empty() {
            return Err(AddressError::Empty);
        }
        let (hrp, data) = bech32::decode(text).map_err(|e| AddressError::Bech32(e.to_string()))?;
        if hrp.as_str() != prefix {
            return Err(AddressError::WrongPrefix { expected: prefix, got: hrp.to_string() });
        }
        Self::from_bytes(&data)
    }

    /// Bech32 form with another prefix (the same bytes as a validator operator address, say).
    pub fn to_bech32_prefixed(&self, prefix: &str) -> String {
        let hrp = Hrp::parse_unchecked(prefix);
        bech32::encode::<Bech32>(hrp, &self.0).unwrap_or_default()
    }

    /// The address of a module account (`sha256(name)[:20]`, as the SDK's `NewModuleAddress`).
    pub fn module(name: &str) -> Self {
        let digest = Sha256::digest(name.as_bytes());
        Self(digest[..20].to_vec())
    }

    /// Address of a compressed secp256k1 public key: `ripemd160(sha256(pubkey))`.
    pub fn from_secp256k1_pubkey(compressed: &[u8]) -> Self {
        use ripemd::Ripemd160;
        let sha = Sha256::digest(compressed);
        Self(Ripemd160::digest(sha).to_vec())
    }

    /// Raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Bech32 form with the `open` prefix.
    pub fn to_bech32(&self) -> String {
        let hrp = Hrp::parse_unchecked(ACCOUNT_PREFIX);
        // Encoding can only fail for over-long data, which `from_bytes` rules out.
        bech32::encode::<Bech32>(hrp, &self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_bech32())
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_bech32(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bech32_round_trip_and_prefix_check() {
        let addr = Address::from_bytes(&[7u8; 20]).unwrap();
        let text = addr.to_bech32();
        assert!(text.starts_with("open1"));
        assert_eq!(Address::from_bech32(&text).unwrap(), addr);
        let cosmos = bech32::encode::<Bech32>(Hrp::parse_unchecked("cosmos"), &[7u8; 20]).unwrap();
        assert!(matches!(Address::from_bech32(&cosmos), Err(AddressError::WrongPrefix { .. })));
        assert!(Address::from_bech32("open1notvalid").is_err());
        assert_eq!(Address::from_bech32(""), Err(AddressError::Empty));
    }

    #[test]
    fn module_address_matches_sdk_derivation() {
        // cosmos-sdk: authtypes.NewModuleAddress("fee_collector") = sha256("fee_collector")[:20],
        // which is cosmos17xpfvakm2amg962yls6f84z3kell8c5lserqta on the cosmos prefix.
        let addr = Address::module("fee_collector");
        let cosmos = bech32::encode::<Bech32>(Hrp::parse_unchecked("cosmos"), addr.as_bytes()).unwrap();
        assert_eq!(cosmos, "cosmos17xpfvakm2amg962yls6f84z3kell8c5lserqta");
    }
}
