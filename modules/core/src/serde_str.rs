//! Serde helpers that write 64/128-bit integers as JSON strings, the SDK's genesis and REST
//! convention (JavaScript clients cannot hold them as numbers).

/// `#[serde(with = "openledger_core::serde_str")]` for any integer that parses from a string.
pub fn serialize<T: std::fmt::Display, S: serde::Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Accepts a string (SDK form) or a bare JSON number.
pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Number(u64),
    }
    let text = match Either::deserialize(deserializer)? {
        Either::Text(t) => t,
        Either::Number(n) => n.to_string(),
    };
    text.parse::<T>().map_err(serde::de::Error::custom)
}
