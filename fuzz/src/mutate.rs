//! Mutations: plain byte edits, protobuf-aware edits (the input is parsed as protobuf wire
//! fields, nested messages included, and one field is replaced, duplicated, dropped or added)
//! and JSON-aware edits (one node of the document is replaced by an edge value). The structured
//! mutators keep inputs decodable, so they reach the checks behind the decoders; the byte
//! mutator keeps testing the decoders themselves.

use serde_json::Value as Json;

use crate::rng::Rng;

/// How a target's inputs are shaped (what the structured mutator parses them as).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Protobuf messages (txs, ABCI requests, vote extensions).
    Proto,
    /// JSON documents (genesis, REST requests, sign docs).
    Json,
}

/// Varints at the edges of every integer type the chain decodes.
const EDGE_VARINTS: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 1,
];

/// Strings at the edges of the chain's parsers (amounts, decimals, addresses, denoms, paths).
const EDGE_STRINGS: &[&str] = &[
    "",
    "0",
    "-1",
    "1",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "115792089237316195423570985008687907853269984665640564039457584007913129639936",
    "1e309",
    "0.000000000000000001",
    "0.0000000000000000001",
    "999999999999999999999999999999.999999999999999999",
    "NaN",
    "uopen",
    "ibc/27394FB092D2ECCD56123C74F36E4C1F926001CEADA9CA97EA622B25F41E5EB2",
    "open1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
    "openvaloper1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
    "open10xcqpzrky6eff2g52qdye53xkk9jxkvrktgyu5",
    "\u{0}",
    "<&>",
    "é",
    "🦀",
    "/",
    "..",
    "%",
    "%zz",
    "a/b/../../c",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "-9223372036854775808",
    "9223372036854775807",
];

/// One protobuf wire field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wire {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(Vec<u8>),
    Fixed32([u8; 4]),
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Parses `bytes` as protobuf fields; `None` unless every byte is consumed.
fn parse_fields(bytes: &[u8]) -> Option<Vec<(u32, Wire)>> {
    let mut pos = 0;
    let mut fields = Vec::new();
    while pos < bytes.len() {
        let key = read_varint(bytes, &mut pos)?;
        let number = u32::try_from(key >> 3).ok().filter(|n| *n > 0)?;
        let wire = match key & 7 {
            0 => Wire::Varint(read_varint(bytes, &mut pos)?),
            1 => Wire::Fixed64(bytes.get(pos..pos.checked_add(8)?)?.try_into().ok()?),
            2 => {
                let len = usize::try_from(read_varint(bytes, &mut pos)?).ok()?;
                Wire::Bytes(bytes.get(pos..pos.checked_add(len)?)?.to_vec())
            }
            5 => Wire::Fixed32(bytes.get(pos..pos.checked_add(4)?)?.try_into().ok()?),
            _ => return None,
        };
        pos += match &wire {
            Wire::Varint(_) | Wire::Bytes(_) => 0,
            Wire::Fixed64(_) => 8,
            Wire::Fixed32(_) => 4,
        };
        if let Wire::Bytes(b) = &wire {
            pos += b.len();
        }
        fields.push((number, wire));
    }
    Some(fields)
}

fn encode_fields(fields: &[(u32, Wire)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (number, wire) in fields {
        let kind = match wire {
            Wire::Varint(_) => 0,
            Wire::Fixed64(_) => 1,
            Wire::Bytes(_) => 2,
            Wire::Fixed32(_) => 5,
        };
        write_varint(&mut out, (u64::from(*number) << 3) | kind);
        match wire {
            Wire::Varint(v) => write_varint(&mut out, *v),
            Wire::Fixed64(b) => out.extend_from_slice(b),
            Wire::Fixed32(b) => out.extend_from_slice(b),
            Wire::Bytes(b) => {
                write_varint(&mut out, b.len() as u64);
                out.extend_from_slice(b);
            }
        }
    }
    out
}

/// Mutates `input` once; `others` are the rest of the corpus (for splicing).
pub fn mutate(rng: &mut Rng, shape: Shape, input: &[u8], others: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let mut out = match (shape, rng.below(4)) {
        (_, 0) => bytes(rng, input, others),
        (Shape::Proto, _) => proto(rng, input, 0).unwrap_or_else(|| bytes(rng, input, others)),
        (Shape::Json, _) => json(rng, input).unwrap_or_else(|| bytes(rng, input, others)),
    };
    // Stacked mutations find what one edit cannot.
    while rng.one_in(3) {
        out = match shape {
            Shape::Proto => proto(rng, &out, 0).unwrap_or_else(|| bytes(rng, &out, others)),
            Shape::Json => json(rng, &out).unwrap_or_else(|| bytes(rng, &out, others)),
        };
    }
    out.truncate(max_len);
    out
}

/// One byte-level edit.
pub fn bytes(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    let len = out.len();
    match rng.below(9) {
        0 if len > 0 => {
            let i = rng.below(len);
            out[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            out[i] = *rng.pick(&[0u8, 1, 0x7f, 0x80, 0xff, b'0', b'"', b'{', b'/']);
        }
        2 => {
            let i = rng.below(len + 1);
            let n = 1 + rng.below(8);
            let extra: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            out.splice(i..i, extra);
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(16));
            out.drain(i..i + n);
        }
        4 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            let copy = out[i..i + n].to_vec();
            let at = rng.below(len + 1);
            out.splice(at..at, copy);
        }
        5 if len > 0 => out.truncate(rng.below(len)),
        6 if !others.is_empty() => {
            let other = rng.pick(others);
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            out.truncate(cut);
            out.extend_from_slice(&other[from..]);
        }
        7 => {
            let i = rng.below(len + 1);
            let mut v = Vec::new();
            write_varint(&mut v, *rng.pick(EDGE_VARINTS));
            out.splice(i..i, v);
        }
        _ => {
            let i = rng.below(len + 1);
            out.splice(i..i, rng.pick(EDGE_STRINGS).bytes());
        }
    }
    out
}

/// One protobuf-aware edit, `None` if `input` is not protobuf.
fn proto(rng: &mut Rng, input: &[u8], depth: usize) -> Option<Vec<u8>> {
    let mut fields = parse_fields(input)?;
    if fields.is_empty() || rng.one_in(8) {
        // A new field: small numbers are the declared ones of most messages.
        let number = 1 + u32::try_from(rng.below(16)).unwrap_or(0);
        let wire = match rng.below(3) {
            0 => Wire::Varint(*rng.pick(EDGE_VARINTS)),
            1 => Wire::Bytes(rng.pick(EDGE_STRINGS).as_bytes().to_vec()),
            _ => Wire::Bytes(Vec::new()),
        };
        let at = rng.below(fields.len() + 1);
        fields.insert(at, (number, wire));
        return Some(encode_fields(&fields));
    }
    let i = rng.below(fields.len());
    match rng.below(10) {
        0 => {
            fields.remove(i);
        }
        1 => {
            let copy = fields[i].clone();
            fields.insert(i, copy);
        }
        2 if fields.len() > 1 => {
            let j = rng.below(fields.len());
            fields.swap(i, j);
        }
        _ => {
            let wire = &mut fields[i].1;
            match wire {
                Wire::Varint(v) => {
                    *v = match rng.below(3) {
                        0 => *rng.pick(EDGE_VARINTS),
                        1 => v.wrapping_add(1),
                        _ => v.wrapping_sub(1),
                    }
                }
                Wire::Fixed64(b) => b.copy_from_slice(&rng.pick(EDGE_VARINTS).to_le_bytes()),
                Wire::Fixed32(b) => b[rng.below(4)] = rng.byte(),
                Wire::Bytes(b) => {
                    let nested = if depth < 8 && !b.is_empty() && !rng.one_in(4) { proto(rng, b, depth + 1) } else { None };
                    *b = match nested {
                        Some(n) => n,
                        None if rng.one_in(3) => rng.pick(EDGE_STRINGS).as_bytes().to_vec(),
                        None => bytes(rng, b, &[]),
                    };
                }
            }
        }
    }
    Some(encode_fields(&fields))
}

/// One JSON-aware edit, `None` if `input` is not JSON.
fn json(rng: &mut Rng, input: &[u8]) -> Option<Vec<u8>> {
    let mut doc: Json = serde_json::from_slice(input).ok()?;
    let count = count_nodes(&doc);
    let mut target = rng.below(count);
    mutate_node(rng, &mut doc, &mut target);
    serde_json::to_vec(&doc).ok()
}

fn count_nodes(v: &Json) -> usize {
    1 + match v {
        Json::Array(a) => a.iter().map(count_nodes).sum(),
        Json::Object(m) => m.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Mutates the `target`-th node in pre-order; returns true once done.
fn mutate_node(rng: &mut Rng, v: &mut Json, target: &mut usize) -> bool {
    if *target == 0 {
        edit_node(rng, v);
        return true;
    }
    *target -= 1;
    match v {
        Json::Array(a) => a.iter_mut().any(|c| mutate_node(rng, c, target)),
        Json::Object(m) => m.values_mut().any(|c| mutate_node(rng, c, target)),
        _ => false,
    }
}

fn edge_json(rng: &mut Rng) -> Json {
    match rng.below(8) {
        0 => Json::Null,
        1 => Json::Bool(rng.one_in(2)),
        2 => serde_json::json!(*rng.pick(&[0i64, -1, 1, i64::MAX, i64::MIN])),
        3 => serde_json::json!(u64::MAX),
        4 => serde_json::json!(1.5e300),
        5 => Json::Array(Vec::new()),
        6 => Json::Object(serde_json::Map::new()),
        _ => Json::String(rng.pick(EDGE_STRINGS).to_string()),
    }
}

fn edit_node(rng: &mut Rng, v: &mut Json) {
    match v {
        Json::Array(a) if !a.is_empty() && rng.one_in(2) => {
            let i = rng.below(a.len());
            if rng.one_in(2) {
                a.remove(i);
            } else {
                let copy = a[i].clone();
                a.insert(i, copy);
            }
        }
        Json::Object(m) if !m.is_empty() && rng.one_in(2) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            if rng.one_in(2) {
                m.remove(&key);
            } else {
                let value = edge_json(rng);
                m.insert(format!("{key}_"), value);
            }
        }
        Json::String(s) if rng.one_in(2) => {
            let edited = bytes(rng, s.as_bytes(), &[]);
            *s = String::from_utf8_lossy(&edited).into_owned();
        }
        Json::Number(n) if rng.one_in(2) => {
            let k = n.as_i64().unwrap_or(0);
            *v = serde_json::json!(k.wrapping_add(*rng.pick(&[1i64, -1, 1 << 32])));
        }
        _ => *v = edge_json(rng),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_fields_round_trip_and_mutations_stay_decodable() {
        let msg = cosmos_sdk_proto::cosmos::bank::v1beta1::MsgSend {
            from_address: "a".into(),
            to_address: "b".into(),
            amount: vec![cosmos_sdk_proto::cosmos::base::v1beta1::Coin { denom: "uopen".into(), amount: "5".into() }],
        };
        let bytes = prost::Message::encode_to_vec(&msg);
        let fields = parse_fields(&bytes).expect("parses");
        assert_eq!(encode_fields(&fields), bytes);
        let mut rng = Rng::new(3);
        let mut changed = 0;
        for _ in 0..200 {
            let m = proto(&mut rng, &bytes, 0).expect("protobuf input");
            assert!(parse_fields(&m).is_some(), "a structured edit keeps the wire format");
            changed += usize::from(m != bytes);
        }
        assert!(changed > 150, "only {changed} of 200 edits changed the input");
    }

    #[test]
    fn json_mutations_stay_json_and_are_deterministic() {
        let doc = br#"{"a":[1,2,{"b":"x"}],"c":"7"}"#;
        let (mut r1, mut r2) = (Rng::new(9), Rng::new(9));
        for _ in 0..100 {
            let (m1, m2) = (mutate(&mut r1, Shape::Json, doc, &[], 1 << 16), mutate(&mut r2, Shape::Json, doc, &[], 1 << 16));
            assert_eq!(m1, m2);
        }
        let mut rng = Rng::new(1);
        assert!((0..50).filter_map(|_| json(&mut rng, doc)).all(|m| serde_json::from_slice::<Json>(&m).is_ok()));
    }
}
