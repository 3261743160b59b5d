//! Content hashes: of weights (so a request pins exact weights) and of outputs (what validators
//! compare in their vote extensions).
//!
//! * A single weight file (GGUF): `sha256(file bytes)`.
//! * A directory: `sha256(Σ name_len u32 LE ‖ name ‖ sha256(file))` over the files that define the
//!   weights, sorted by name. For a model directory these are `config.json`, `tokenizer.json` and
//!   `*.safetensors`; for a PEFT adapter `adapter_config.json` and `adapter_model.safetensors`.
//! * An output: `sha256(token ids as u32 LE, in order ‖ text as UTF-8)`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{ExecutorError, Result};
use crate::progress::Progress;

/// A sha256 digest.
pub type Digest32 = [u8; 32];

/// Output hash: sha256 over the token ids (u32 little endian) followed by the text bytes.
pub fn output_hash(tokens: &[u32], text: &str) -> Digest32 {
    let mut h = Sha256::new();
    for t in tokens {
        h.update(t.to_le_bytes());
    }
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Lowercase hex of a digest.
pub fn to_hex(d: &Digest32) -> String {
    hex::encode(d)
}

/// Parses and normalizes a content hash given by a client: 64 hex characters.
pub fn parse_hash(s: &str) -> Result<String> {
    let s = s.trim();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ExecutorError::InvalidRequest(format!("not a content hash (64 hex characters): {s:?}")));
    }
    Ok(s.to_ascii_lowercase())
}

/// sha256 of a file's bytes, streamed, with progress for large files.
pub fn hash_file(path: &Path, progress: Option<&Progress>) -> Result<Digest32> {
    let mut f = File::open(path).map_err(|e| ExecutorError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| ExecutorError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if let Some(p) = progress {
            p.inc(n as u64);
        }
    }
    Ok(h.finalize().into())
}

/// Hash of a set of named files (see the module doc). `files` are (name, path) pairs; they are
/// sorted by name here.
pub fn hash_named_files(files: &[(String, PathBuf)], progress: Option<&Progress>) -> Result<Digest32> {
    let mut sorted: Vec<&(String, PathBuf)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (name, path) in sorted {
        let len = u32::try_from(name.len()).map_err(|_| ExecutorError::Config(format!("file name too long: {name}")))?;
        h.update(len.to_le_bytes());
        h.update(name.as_bytes());
        h.update(hash_file(path, progress)?);
    }
    Ok(h.finalize().into())
}

/// Hash of in-memory named blobs with the same scheme as [`hash_named_files`] (used when an
/// adapter's bytes are already read, so the hash covers exactly the bytes that get parsed).
pub fn hash_named_blobs(blobs: &[(&str, &[u8])]) -> Digest32 {
    let mut sorted: Vec<&(&str, &[u8])> = blobs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (name, bytes) in sorted {
        // Names here are fixed short constants.
        h.update((name.len() as u32).to_le_bytes());
        h.update(name.as_bytes());
        h.update(Sha256::digest(bytes));
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_hash_covers_tokens_and_text() {
        let a = output_hash(&[1, 2, 3], "abc");
        assert_ne!(a, output_hash(&[1, 2, 4], "abc"));
        assert_ne!(a, output_hash(&[1, 2, 3], "abd"));
        // Tokens are length-delimited by their fixed width: moving bytes between them changes it.
        assert_ne!(output_hash(&[0x0100], ""), output_hash(&[0x01, 0x00], ""));
        // Known vector: sha256 of 01000000 02000000 'h' 'i'.
        let mut bytes = vec![1u8, 0, 0, 0, 2, 0, 0, 0];
        bytes.extend_from_slice(b"hi");
        let want: Digest32 = Sha256::digest(&bytes).into();
        assert_eq!(output_hash(&[1, 2], "hi"), want);
    }

    #[test]
    fn parse_hash_validates() {
        let h = "AB".repeat(32);
        assert_eq!(parse_hash(&h).unwrap(), "ab".repeat(32));
        assert!(parse_hash("abc").is_err());
        assert!(parse_hash(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn named_files_and_blobs_agree_and_ignore_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("b.bin"), b"\x00\x01").unwrap();
        let files = vec![("b.bin".to_string(), dir.path().join("b.bin")), ("a.json".to_string(), dir.path().join("a.json"))];
        let h1 = hash_named_files(&files, None).unwrap();
        let rev: Vec<_> = files.iter().rev().cloned().collect();
        assert_eq!(h1, hash_named_files(&rev, None).unwrap());
        assert_eq!(h1, hash_named_blobs(&[("a.json", b"{}"), ("b.bin", b"\x00\x01")]));
        assert_ne!(h1, hash_named_blobs(&[("a.json", b"{}"), ("b.bin", b"\x00\x02")]));
    }
}
