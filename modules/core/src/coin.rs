//! Coins: a denom and an integer amount, validated like the SDK's `sdk.Coin`. Amounts are `u128`
//! with checked arithmetic; the wire form is the SDK's `cosmos.base.v1beta1.Coin` with the amount
//! as a decimal string.

use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;

/// The staking and fee denom.
pub const BASE_DENOM: &str = "uopen";
/// The display denom (10^6 base units).
pub const DISPLAY_DENOM: &str = "OPEN";
/// Decimals between `uopen` and `OPEN`.
pub const DISPLAY_EXPONENT: u32 = 6;

/// A validated coin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Coin {
    /// Denomination.
    pub denom: String,
    /// Amount in base units.
    pub amount: u128,
}

/// Why a coin or coin list is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoinError {
    /// Bad denom.
    #[error("invalid denom: {0}")]
    Denom(String),
    /// Bad amount string.
    #[error("invalid coin amount: {0}")]
    Amount(String),
    /// Coins not sorted or duplicated.
    #[error("coins are not sorted by denom or contain duplicates: {0}")]
    NotSorted(String),
    /// Zero amount where a positive one is required.
    #[error("coin amount must be positive: {0}")]
    NotPositive(String),
}

/// Checks a denom like the SDK: `[a-zA-Z][a-zA-Z0-9/:._-]{2,127}`.
pub fn validate_denom(denom: &str) -> Result<(), CoinError> {
    let bytes = denom.as_bytes();
    let ok = (3..=128).contains(&bytes.len())
        && bytes[0].is_ascii_alphabetic()
        && bytes[1..].iter().all(|b| b.is_ascii_alphanumeric() || b"/:._-".contains(b));
    if ok {
        Ok(())
    } else {
        Err(CoinError::Denom(denom.to_string()))
    }
}

/// Parses a non-negative decimal integer amount (no sign, no leading `+`).
pub fn parse_amount(text: &str) -> Result<u128, CoinError> {
    if text.is_empty() || text.len() > 39 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CoinError::Amount(text.to_string()));
    }
    text.parse::<u128>().map_err(|_| CoinError::Amount(text.to_string()))
}

/// A coin as a genesis document writes it (`{"denom", "amount"}`, the amount a decimal
/// string as in the proto's JSON mapping), kept exactly as given.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CoinJson {
    /// Denom.
    pub denom: String,
    /// Amount (decimal string).
    pub amount: String,
}

impl CoinJson {
    /// From the proto coin.
    pub fn from_proto(c: &ProtoCoin) -> Self {
        Self { denom: c.denom.clone(), amount: c.amount.clone() }
    }

    /// To the proto coin.
    pub fn to_proto(&self) -> ProtoCoin {
        ProtoCoin { denom: self.denom.clone(), amount: self.amount.clone() }
    }
}

impl Coin {
    /// A coin (denom not validated; use [`Coin::from_proto`] for untrusted input).
    pub fn new(denom: impl Into<String>, amount: u128) -> Self {
        Self { denom: denom.into(), amount }
    }

    /// Validates and converts the wire form.
    pub fn from_proto(coin: &ProtoCoin) -> Result<Self, CoinError> {
        validate_denom(&coin.denom)?;
        Ok(Self { denom: coin.denom.clone(), amount: parse_amount(&coin.amount)? })
    }

    /// The wire form.
    pub fn to_proto(&self) -> ProtoCoin {
        ProtoCoin { denom: self.denom.clone(), amount: self.amount.to_string() }
    }

    /// Parses `100uopen`.
    pub fn parse(text: &str) -> Result<Self, CoinError> {
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| CoinError::Denom(text.to_string()))?;
        let (amount, denom) = text.split_at(split);
        validate_denom(denom)?;
        Ok(Self { denom: denom.to_string(), amount: parse_amount(amount)? })
    }
}

impl std::fmt::Display for Coin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.amount, self.denom)
    }
}

/// Validates a coin list the way `sdk.Coins.Validate` does: each denom valid, amounts positive,
/// sorted by denom, no duplicates. An empty list is valid.
pub fn coins_from_proto(coins: &[ProtoCoin]) -> Result<Vec<Coin>, CoinError> {
    let parsed = coins.iter().map(Coin::from_proto).collect::<Result<Vec<_>, _>>()?;
    for coin in &parsed {
        if coin.amount == 0 {
            return Err(CoinError::NotPositive(coin.to_string()));
        }
    }
    if parsed.windows(2).any(|w| w[0].denom >= w[1].denom) {
        return Err(CoinError::NotSorted(format_coins(&parsed)));
    }
    Ok(parsed)
}

/// `1uatom,2uopen` — the SDK's `Coins.String()`.
pub fn format_coins(coins: &[Coin]) -> String {
    coins.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
}

/// Parses `1uatom,2uopen` into a validated, sorted list.
pub fn parse_coins(text: &str) -> Result<Vec<Coin>, CoinError> {
    let mut coins = text.split(',').filter(|s| !s.trim().is_empty()).map(|s| Coin::parse(s.trim())).collect::<Result<Vec<_>, _>>()?;
    coins.sort_by(|a, b| a.denom.cmp(&b.denom));
    let protos: Vec<ProtoCoin> = coins.iter().map(Coin::to_proto).collect();
    coins_from_proto(&protos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates_like_the_sdk() {
        assert_eq!(Coin::parse("100uopen").unwrap(), Coin::new("uopen", 100));
        assert!(Coin::parse("uopen").is_err());
        assert!(Coin::parse("100").is_err());
        assert!(Coin::parse("-1uopen").is_err());
        assert!(validate_denom("ab").is_err());
        assert!(validate_denom("1abc").is_err());
        assert!(validate_denom("ibc/ABC").is_ok());
        assert!(parse_amount("340282366920938463463374607431768211456").is_err());
        let coins = parse_coins("2uopen,1uatom").unwrap();
        assert_eq!(format_coins(&coins), "1uatom,2uopen");
        assert!(parse_coins("1uopen,2uopen").is_err());
        assert!(coins_from_proto(&[Coin::new("uopen", 0).to_proto()]).is_err());
    }
}
