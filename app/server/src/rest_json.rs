//! Protobuf → JSON exactly as the Cosmos SDK's gRPC-gateway writes it (gogoproto `jsonpb` with
//! `OrigName` and `EmitDefaults`): snake_case proto field names, every field present, 64-bit
//! integers as strings, bytes as base64 (empty bytes and unset nullable messages as `null`),
//! enums by name, `Any` as `{"@type": url, ...fields}`, Timestamps in RFC 3339 and Durations as
//! `"<seconds>s"`. Two gogoproto options change the output and are read from the descriptors:
//! `(gogoproto.nullable) = false` (an unset message is written as its empty value, not `null`)
//! and `(gogoproto.customtype)` `Dec` on strings (the wire carries the 18-decimal atomics, JSON
//! shows the decimal: `"50000000000000000"` → `"0.050000000000000000"`).

use std::collections::HashMap;

use base64::Engine;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value as PValue};
use serde_json::{Map, Number, Value};

/// Deepest message nesting rendered (Any values nest; the data may come from a user's tx).
pub const MAX_DEPTH: usize = 64;

/// Why a message could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Nesting beyond [`MAX_DEPTH`].
    #[error("message nesting deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// How the SDK's gogoproto options render one field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FieldStyle {
    /// `(gogoproto.nullable) = false`: an unset message renders as its empty value.
    non_nullable: bool,
    /// `(gogoproto.customtype)` is a `Dec`: the wire string holds 18-decimal atomics.
    legacy_dec: bool,
}

/// Renders dynamic messages as the SDK's gateway does. Built once (reads every field's options).
pub struct SdkJson {
    pool: DescriptorPool,
    styles: HashMap<String, FieldStyle>,
}

impl SdkJson {
    /// Reads the gogoproto options of every field in `pool`.
    pub fn new(pool: DescriptorPool) -> Self {
        let nullable = pool.get_extension_by_name("gogoproto.nullable");
        let customtype = pool.get_extension_by_name("gogoproto.customtype");
        let mut styles = HashMap::new();
        for message in pool.all_messages() {
            for field in message.fields() {
                // Options are only decoded for fields that carry any (cheap check on the raw proto).
                if field.field_descriptor_proto().options.is_none() {
                    continue;
                }
                let options = field.options();
                let mut style = FieldStyle::default();
                if let Some(ext) = &nullable {
                    if options.has_extension(ext) {
                        style.non_nullable = options.get_extension(ext).as_bool() == Some(false);
                    }
                }
                if let Some(ext) = &customtype {
                    if options.has_extension(ext) {
                        let name = options.get_extension(ext).as_str().unwrap_or_default().to_string();
                        style.legacy_dec = field.kind() == Kind::String && name.ends_with("Dec");
                    }
                }
                if style != FieldStyle::default() {
                    styles.insert(field.full_name().to_string(), style);
                }
            }
        }
        Self { pool, styles }
    }

    /// The descriptor pool.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// Renders `message`.
    pub fn render(&self, message: &DynamicMessage) -> Result<Value, RenderError> {
        self.message(message, 0)
    }

    fn style(&self, field: &FieldDescriptor) -> FieldStyle {
        self.styles.get(field.full_name()).copied().unwrap_or_default()
    }

    fn message(&self, message: &DynamicMessage, depth: usize) -> Result<Value, RenderError> {
        if depth > MAX_DEPTH {
            return Err(RenderError::TooDeep);
        }
        let desc = message.descriptor();
        if let Some(v) = self.well_known(&desc, message, depth)? {
            return Ok(v);
        }
        let mut out = Map::new();
        for field in desc.fields() {
            let in_real_oneof = field.containing_oneof().is_some() && !field.field_descriptor_proto().proto3_optional();
            let set = message.has_field(&field);
            if in_real_oneof && !set {
                continue;
            }
            let style = self.style(&field);
            let value = if field.is_list() || field.is_map() {
                self.value(&field, style, &message.get_field(&field), depth)?
            } else if let Kind::Message(inner) = field.kind() {
                if set {
                    self.value(&field, style, &message.get_field(&field), depth)?
                } else if style.non_nullable {
                    self.unset_non_nullable(&inner, depth)?
                } else {
                    Value::Null
                }
            } else {
                self.value(&field, style, &message.get_field(&field), depth)?
            };
            out.insert(field.name().to_string(), value);
        }
        Ok(Value::Object(out))
    }

    /// What gogoproto writes for an embedded (non-pointer) struct that was absent on the wire.
    fn unset_non_nullable(&self, desc: &MessageDescriptor, depth: usize) -> Result<Value, RenderError> {
        match desc.full_name() {
            // Go's zero `time.Time` / `time.Duration`.
            "google.protobuf.Timestamp" => Ok(Value::String("0001-01-01T00:00:00Z".into())),
            "google.protobuf.Duration" => Ok(Value::String("0s".into())),
            _ => self.message(&DynamicMessage::new(desc.clone()), depth.saturating_add(1)),
        }
    }

    fn value(&self, field: &FieldDescriptor, style: FieldStyle, value: &PValue, depth: usize) -> Result<Value, RenderError> {
        match value {
            PValue::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.scalar(field, style, item, depth)?);
                }
                Ok(Value::Array(out))
            }
            PValue::Map(entries) => {
                let value_field = match field.kind() {
                    Kind::Message(entry) => entry.map_entry_value_field(),
                    _ => field.clone(),
                };
                let mut keys: Vec<&MapKey> = entries.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    let rendered_key = match key {
                        MapKey::Bool(b) => b.to_string(),
                        MapKey::I32(n) => n.to_string(),
                        MapKey::I64(n) => n.to_string(),
                        MapKey::U32(n) => n.to_string(),
                        MapKey::U64(n) => n.to_string(),
                        MapKey::String(s) => s.clone(),
                    };
                    if let Some(v) = entries.get(key) {
                        out.insert(rendered_key, self.scalar(&value_field, FieldStyle::default(), v, depth)?);
                    }
                }
                Ok(Value::Object(out))
            }
            single => self.scalar(field, style, single, depth),
        }
    }

    fn scalar(&self, field: &FieldDescriptor, style: FieldStyle, value: &PValue, depth: usize) -> Result<Value, RenderError> {
        Ok(match value {
            PValue::Bool(b) => Value::Bool(*b),
            PValue::I32(n) => Value::from(*n),
            PValue::U32(n) => Value::from(*n),
            PValue::I64(n) => Value::String(n.to_string()),
            PValue::U64(n) => Value::String(n.to_string()),
            PValue::F32(f) => float(f64::from(*f)),
            PValue::F64(f) => float(*f),
            // An unset Dec is Go's zero `LegacyDec`, which marshals as 0 with 18 decimals.
            PValue::String(s) if style.legacy_dec && s.is_empty() => Value::String("0.000000000000000000".into()),
            PValue::String(s) if style.legacy_dec => Value::String(dec_from_atomics(s).unwrap_or_else(|| s.clone())),
            PValue::String(s) => Value::String(s.clone()),
            PValue::Bytes(b) if b.is_empty() => Value::Null,
            PValue::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
            PValue::EnumNumber(n) => match field.kind() {
                Kind::Enum(e) => match e.get_value(*n) {
                    Some(v) => Value::String(v.name().to_string()),
                    None => Value::from(*n),
                },
                _ => Value::from(*n),
            },
            PValue::Message(m) => self.message(m, depth.saturating_add(1))?,
            // Nested lists/maps cannot occur inside a list or a map value.
            PValue::List(_) | PValue::Map(_) => Value::Null,
        })
    }

    /// Well-known types with their own JSON form; `None` for ordinary messages.
    fn well_known(&self, desc: &MessageDescriptor, message: &DynamicMessage, depth: usize) -> Result<Option<Value>, RenderError> {
        let int = |name: &str| message.get_field_by_name(name).and_then(|v| v.as_i64().or(v.as_i32().map(i64::from))).unwrap_or(0);
        Ok(Some(match desc.full_name() {
            "google.protobuf.Timestamp" => Value::String(rfc3339(int("seconds"), i32::try_from(int("nanos")).unwrap_or(0))),
            "google.protobuf.Duration" => Value::String(duration(int("seconds"), i32::try_from(int("nanos")).unwrap_or(0))),
            "google.protobuf.Any" => self.any(message, depth)?,
            "google.protobuf.BoolValue"
            | "google.protobuf.Int32Value"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.FloatValue"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue" => match desc.get_field_by_name("value") {
                Some(field) => self.scalar(&field, FieldStyle::default(), &message.get_field(&field), depth)?,
                None => Value::Null,
            },
            _ => return Ok(None),
        }))
    }

    fn any(&self, message: &DynamicMessage, depth: usize) -> Result<Value, RenderError> {
        let type_url = message.get_field_by_name("type_url").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let bytes = message.get_field_by_name("value").and_then(|v| v.as_bytes().cloned()).unwrap_or_default();
        let name = type_url.rsplit('/').next().unwrap_or_default();
        let mut out = Map::new();
        out.insert("@type".into(), Value::String(type_url.clone()));
        let decoded = self.pool.get_message_by_name(name).and_then(|d| DynamicMessage::decode(d, bytes.as_ref()).ok());
        match decoded {
            Some(inner) => match self.message(&inner, depth.saturating_add(1))? {
                Value::Object(fields) if self.well_known_name(name).is_none() => out.extend(fields),
                other => {
                    out.insert("value".into(), other);
                }
            },
            // A type this node has no descriptor for: keep its bytes.
            None => {
                out.insert("value".into(), Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)));
            }
        }
        Ok(Value::Object(out))
    }

    fn well_known_name<'a>(&self, name: &'a str) -> Option<&'a str> {
        name.starts_with("google.protobuf.").then_some(name)
    }
}

fn float(f: f64) -> Value {
    if f.is_nan() {
        Value::String("NaN".into())
    } else if f.is_infinite() {
        Value::String(if f.is_sign_positive() { "Infinity" } else { "-Infinity" }.into())
    } else {
        Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    }
}

/// `"50000000000000000"` (atomics, 18 decimals) → `"0.050000000000000000"`; `None` when the
/// text is not an integer (already a decimal, or empty).
pub fn dec_from_atomics(atomics: &str) -> Option<String> {
    let (negative, digits) = match atomics.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, atomics),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{digits:0>19}");
    let (int, frac) = padded.split_at(padded.len() - 18);
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Some(format!("{}{int}.{frac}", if negative { "-" } else { "" }))
}

/// Go's `jsonpb` fraction: 0, 3, 6 or 9 digits.
fn fraction(nanos: u32) -> String {
    let mut text = format!(".{nanos:09}");
    for _ in 0..2 {
        if text.ends_with("000") {
            text.truncate(text.len() - 3);
        }
    }
    if text == ".000" {
        text.clear();
    }
    text
}

/// A Timestamp as Go's `jsonpb` writes it (`2006-01-02T15:04:05.999Z`).
pub fn rfc3339(seconds: i64, nanos: i32) -> String {
    let days = seconds.div_euclid(86_400);
    let rem = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        fraction(u32::try_from(nanos).unwrap_or(0))
    )
}

/// A Duration as Go's `jsonpb` writes it (`"1814400s"`, `"1.500s"`).
pub fn duration(seconds: i64, nanos: i32) -> String {
    let negative = seconds < 0 || nanos < 0;
    format!("{}{}{}s", if negative { "-" } else { "" }, seconds.unsigned_abs(), fraction(nanos.unsigned_abs()))
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_timestamps_and_durations_match_go_jsonpb() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_417), (2025, 11, 25));
        assert_eq!(rfc3339(20_417 * 86_400 + 3_723, 0), "2025-11-25T01:02:03Z", "whole seconds: no fraction, as genesis times");
        assert_eq!(dec_from_atomics("50000000000000000").as_deref(), Some("0.050000000000000000"));
        assert_eq!(dec_from_atomics("1000000000000000000000").as_deref(), Some("1000.000000000000000000"));
        assert_eq!(dec_from_atomics("0").as_deref(), Some("0.000000000000000000"));
        assert_eq!(dec_from_atomics("-5").as_deref(), Some("-0.000000000000000005"));
        assert_eq!(dec_from_atomics("0.5"), None);
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_000_000, 500_000_000), "2025-11-24T16:00:00.500Z");
        assert_eq!(rfc3339(1_764_000_000, 123_456_789), "2025-11-24T16:00:00.123456789Z");
        assert_eq!(duration(1_814_400, 0), "1814400s");
        assert_eq!(duration(1, 500_000_000), "1.500s");
    }
}
