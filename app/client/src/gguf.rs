//! Reads one string from a GGUF file's metadata (the model's chat template) without loading the
//! model: the header's key/value section is walked, every value that is not wanted is skipped by
//! its size, and every length is bounded so a malformed file fails cleanly.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Longest metadata string read (a chat template is a few KiB; some vocabularies' are larger).
const MAX_STRING_BYTES: u64 = 16 * 1024 * 1024;
/// Most metadata entries walked.
const MAX_ENTRIES: u64 = 1 << 20;

/// The string value of metadata `key` in the GGUF file at `path` (None when absent).
pub fn metadata_string(path: &Path, key: &str) -> anyhow::Result<Option<String>> {
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut r = BufReader::new(file);
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic)?;
    if &magic != b"GGUF" {
        anyhow::bail!("{}: not a GGUF file", path.display());
    }
    let version = read_u32(&mut r)?;
    if !(2..=3).contains(&version) {
        anyhow::bail!("{}: GGUF version {version} is not supported (2 and 3 are)", path.display());
    }
    let _tensors = read_u64(&mut r)?;
    let entries = read_u64(&mut r)?;
    if entries > MAX_ENTRIES {
        anyhow::bail!("{}: {entries} metadata entries", path.display());
    }
    for _ in 0..entries {
        let name = read_string(&mut r)?;
        let ty = read_u32(&mut r)?;
        if name == key {
            if ty != STRING {
                anyhow::bail!("{}: metadata {key} is not a string (type {ty})", path.display());
            }
            return Ok(Some(read_string(&mut r)?));
        }
        skip_value(&mut r, ty)?;
    }
    Ok(None)
}

const STRING: u32 = 8;
const ARRAY: u32 = 9;

fn read_u32(r: &mut impl Read) -> anyhow::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> anyhow::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_string(r: &mut impl Read) -> anyhow::Result<String> {
    let len = read_u64(r)?;
    if len > MAX_STRING_BYTES {
        anyhow::bail!("GGUF string of {len} bytes");
    }
    let mut buf = vec![0u8; usize::try_from(len)?];
    r.read_exact(&mut buf)?;
    Ok(String::from_utf8(buf)?)
}

/// Bytes of a fixed-size value type (None for strings and arrays).
fn fixed_size(ty: u32) -> anyhow::Result<Option<i64>> {
    Ok(match ty {
        0 | 1 | 7 => Some(1), // u8, i8, bool
        2 | 3 => Some(2),     // u16, i16
        4..=6 => Some(4),     // u32, i32, f32
        10..=12 => Some(8),   // u64, i64, f64
        STRING | ARRAY => None,
        _ => anyhow::bail!("unknown GGUF value type {ty}"),
    })
}

fn skip_value<R: Read + Seek>(r: &mut R, ty: u32) -> anyhow::Result<()> {
    if let Some(n) = fixed_size(ty)? {
        r.seek(SeekFrom::Current(n))?;
        return Ok(());
    }
    if ty == STRING {
        let len = read_u64(r)?;
        r.seek(SeekFrom::Current(i64::try_from(len)?))?;
        return Ok(());
    }
    let elem = read_u32(r)?;
    let count = read_u64(r)?;
    if let Some(n) = fixed_size(elem)? {
        let bytes = i64::try_from(count)?.checked_mul(n).ok_or_else(|| anyhow::anyhow!("GGUF array of {count} elements"))?;
        r.seek(SeekFrom::Current(bytes))?;
        return Ok(());
    }
    for _ in 0..count {
        skip_value(r, elem)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    /// A GGUF v3 header with a u32, a string array, a f32 array and the chat template.
    fn sample() -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&4u64.to_le_bytes());
        string(&mut b, "llama.context_length");
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&2048u32.to_le_bytes());
        string(&mut b, "tokenizer.ggml.tokens");
        b.extend_from_slice(&ARRAY.to_le_bytes());
        b.extend_from_slice(&STRING.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        string(&mut b, "<|im_start|>");
        string(&mut b, "hello");
        string(&mut b, "tokenizer.ggml.scores");
        b.extend_from_slice(&ARRAY.to_le_bytes());
        b.extend_from_slice(&6u32.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&[0u8; 8]);
        string(&mut b, "tokenizer.chat_template");
        b.extend_from_slice(&STRING.to_le_bytes());
        string(&mut b, "{{ messages }}");
        b
    }

    #[test]
    fn finds_a_string_after_skipping_other_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, sample()).unwrap();
        assert_eq!(metadata_string(&path, "tokenizer.chat_template").unwrap().as_deref(), Some("{{ messages }}"));
        assert_eq!(metadata_string(&path, "general.name").unwrap(), None);
        assert!(metadata_string(&path, "llama.context_length").is_err(), "not a string");
    }

    #[test]
    fn refuses_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.gguf");
        std::fs::write(&path, b"NOPE").unwrap();
        assert!(metadata_string(&path, "x").is_err());
        // Truncated in the middle of the entries.
        let mut b = sample();
        b.truncate(60);
        std::fs::write(&path, &b).unwrap();
        assert!(metadata_string(&path, "tokenizer.chat_template").is_err());
        // An absurd string length is refused before allocating.
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&path, &b).unwrap();
        assert!(metadata_string(&path, "x").is_err());
    }
}
