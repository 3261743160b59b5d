//! Row schemas: checking a schema definition, and checking rows against it. TEXT rows are
//! non-empty UTF-8; JSON rows are JSON objects (serde_json's RFC 8259 parser, recursion-limited)
//! containing every required field as a top-level key. Rows are stored exactly as submitted, so
//! validation never changes what is hashed. Deterministic: no floats are compared, only parsed.

use openledger_proto::openledger::datanet::v1::{RowSchema, SchemaKind};

use crate::error::DatanetError;

/// Most required fields of a JSON schema.
pub const MAX_REQUIRED_FIELDS: usize = 64;
/// Longest required field name, in bytes.
pub const MAX_FIELD_NAME_BYTES: usize = 128;

/// A checked schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schema {
    /// Non-empty UTF-8.
    Text,
    /// A JSON object with these top-level keys.
    Json {
        /// Required keys.
        required_fields: Vec<String>,
    },
}

impl Schema {
    /// Checks a schema definition.
    pub fn from_proto(schema: Option<&RowSchema>) -> Result<Self, DatanetError> {
        let schema = schema.ok_or_else(|| DatanetError::InvalidSchema("schema is required".into()))?;
        match SchemaKind::try_from(schema.kind) {
            Ok(SchemaKind::Text) => {
                if !schema.required_fields.is_empty() {
                    return Err(DatanetError::InvalidSchema("a TEXT schema has no required fields".into()));
                }
                Ok(Self::Text)
            }
            Ok(SchemaKind::Json) => {
                if schema.required_fields.len() > MAX_REQUIRED_FIELDS {
                    return Err(DatanetError::InvalidSchema(format!(
                        "{} required fields exceed the maximum {MAX_REQUIRED_FIELDS}",
                        schema.required_fields.len()
                    )));
                }
                let mut seen = std::collections::BTreeSet::new();
                for field in &schema.required_fields {
                    if field.is_empty() || field.len() > MAX_FIELD_NAME_BYTES {
                        return Err(DatanetError::InvalidSchema(format!(
                            "required field names must be 1..={MAX_FIELD_NAME_BYTES} bytes, got {:?}",
                            field
                        )));
                    }
                    if !seen.insert(field.as_str()) {
                        return Err(DatanetError::InvalidSchema(format!("required field {field:?} is listed twice")));
                    }
                }
                Ok(Self::Json { required_fields: schema.required_fields.clone() })
            }
            Ok(SchemaKind::Unspecified) | Err(_) => {
                Err(DatanetError::InvalidSchema(format!("schema kind must be SCHEMA_KIND_TEXT or SCHEMA_KIND_JSON, got {}", schema.kind)))
            }
        }
    }

    /// Checks one row; the error says what is wrong.
    pub fn check_row(&self, row: &[u8]) -> Result<(), String> {
        match self {
            Self::Text => std::str::from_utf8(row).map(|_| ()).map_err(|e| format!("not UTF-8 text: {e}")),
            Self::Json { required_fields } => {
                let value: serde_json::Value = serde_json::from_slice(row).map_err(|e| format!("not JSON: {e}"))?;
                let object = value.as_object().ok_or_else(|| "not a JSON object".to_string())?;
                match required_fields.iter().find(|f| !object.contains_key(f.as_str())) {
                    Some(missing) => Err(format!("missing required field {missing:?}")),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(fields: &[&str]) -> RowSchema {
        RowSchema { kind: SchemaKind::Json as i32, required_fields: fields.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn schema_definitions_are_checked() {
        assert_eq!(Schema::from_proto(Some(&RowSchema { kind: SchemaKind::Text as i32, required_fields: vec![] })).unwrap(), Schema::Text);
        assert!(Schema::from_proto(None).is_err());
        assert!(Schema::from_proto(Some(&RowSchema { kind: 0, required_fields: vec![] })).is_err());
        assert!(Schema::from_proto(Some(&RowSchema { kind: 99, required_fields: vec![] })).is_err());
        assert!(Schema::from_proto(Some(&RowSchema { kind: SchemaKind::Text as i32, required_fields: vec!["a".into()] })).is_err());
        assert!(Schema::from_proto(Some(&json(&["a", "a"]))).is_err());
        assert!(Schema::from_proto(Some(&json(&[""]))).is_err());
        let many: Vec<String> = (0..=MAX_REQUIRED_FIELDS).map(|i| format!("f{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(Schema::from_proto(Some(&json(&refs))).is_err());
        assert!(Schema::from_proto(Some(&json(&["prompt", "completion"]))).is_ok());
    }

    #[test]
    fn rows_are_checked_against_the_schema() {
        let text = Schema::Text;
        assert!(text.check_row("héllo".as_bytes()).is_ok());
        assert!(text.check_row(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
        let schema = Schema::from_proto(Some(&json(&["prompt", "completion"]))).unwrap();
        assert!(schema.check_row(br#"{"prompt":"2+2","completion":"4","extra":1.5}"#).is_ok());
        assert!(schema.check_row(br#"{"prompt":"2+2"}"#).unwrap_err().contains("completion"));
        assert!(schema.check_row(br#"["prompt","completion"]"#).unwrap_err().contains("object"));
        assert!(schema.check_row(b"{not json").unwrap_err().contains("not JSON"));
        // Deeply nested input is refused by the parser's recursion limit, never a crash.
        let deep = format!("{{\"prompt\":1,\"completion\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(schema.check_row(deep.as_bytes()).is_err());
    }
}
