//! Where a model's weights are and what they hash to. A model is a GGUF file or a Hugging Face
//! directory (config.json, tokenizer.json, *.safetensors); its identity is the content hash of
//! exactly those files (see [`crate::hashing`]).

use std::path::{Path, PathBuf};

use crate::error::{ExecutorError, Result};
use crate::hashing::{hash_file, hash_named_files, to_hex};
use crate::progress::Progress;

/// Weight file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    /// One GGUF file (quantized weights, tokenizer in metadata).
    Gguf,
    /// A Hugging Face directory with safetensors.
    Safetensors,
}

impl ModelFormat {
    /// Name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gguf => "gguf",
            Self::Safetensors => "safetensors",
        }
    }
}

/// A located, hashed model.
#[derive(Clone, Debug)]
pub struct ModelSource {
    /// File or directory.
    pub path: PathBuf,
    /// Format.
    pub format: ModelFormat,
    /// Content hash (hex).
    pub hash: String,
    /// File or directory name.
    pub name: String,
}

/// The files of a model directory that define it: config.json, tokenizer.json, *.safetensors.
pub fn model_dir_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| ExecutorError::io(dir, e))? {
        let path = entry.map_err(|e| ExecutorError::io(dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if path.is_file() && (name == "config.json" || name == "tokenizer.json" || name.ends_with(".safetensors")) {
            files.push((name, path));
        }
    }
    for required in ["config.json", "tokenizer.json"] {
        if !files.iter().any(|(n, _)| n == required) {
            return Err(ExecutorError::InvalidModel { path: dir.to_path_buf(), reason: format!("no {required}") });
        }
    }
    if !files.iter().any(|(n, _)| n.ends_with(".safetensors")) {
        return Err(ExecutorError::InvalidModel { path: dir.to_path_buf(), reason: "no *.safetensors".into() });
    }
    Ok(files)
}

impl ModelSource {
    /// Locates and hashes the model at `path`, showing progress.
    pub fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| ExecutorError::io(path, e))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        if meta.is_file() {
            if path.extension().is_none_or(|e| !e.eq_ignore_ascii_case("gguf")) {
                return Err(ExecutorError::InvalidModel { path: path.to_path_buf(), reason: "a model file must be .gguf".into() });
            }
            let progress = Progress::new(format!("hashing {name}"), meta.len(), true);
            let hash = to_hex(&hash_file(path, Some(&progress))?);
            progress.finish();
            return Ok(Self { path: path.to_path_buf(), format: ModelFormat::Gguf, hash, name });
        }
        let files = model_dir_files(path)?;
        let total = files.iter().map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();
        let progress = Progress::new(format!("hashing {name}"), total, true);
        let hash = to_hex(&hash_named_files(&files, Some(&progress))?);
        progress.finish();
        Ok(Self { path: path.to_path_buf(), format: ModelFormat::Safetensors, hash, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_changes_with_any_weight_byte_and_ignores_other_files() {
        let dir = tempfile::tempdir().unwrap();
        crate::fixtures::write_tiny_llama(dir.path(), crate::fixtures::TinyLlamaSpec::default(), 1).unwrap();
        let a = ModelSource::open(dir.path()).unwrap();
        assert_eq!(a.format, ModelFormat::Safetensors);
        std::fs::write(dir.path().join("README.md"), "notes").unwrap();
        assert_eq!(ModelSource::open(dir.path()).unwrap().hash, a.hash);
        let st = dir.path().join("model.safetensors");
        let mut bytes = std::fs::read(&st).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&st, bytes).unwrap();
        assert_ne!(ModelSource::open(dir.path()).unwrap().hash, a.hash);
        std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
        assert!(ModelSource::open(dir.path()).is_err());
    }
}
