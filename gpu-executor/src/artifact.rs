//! Artifacts between executors: an executor serves the adapters and base models it holds by
//! content hash (`GetArtifact`, streamed in chunks) and fetches the ones it lacks from its peers,
//! checking every name and size while receiving and the content hash before anything is used.
//! A fetched adapter lands in the store as `<store>/<hash>/`, like a trained one; a fetched base
//! model as `<store>/models/<hash>/` (its GGUF file, or its Hugging Face weight files).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::error::{ExecutorError, Result};
use crate::lora::{adapter_hash, AdapterLimits};
use crate::pb;

/// Bytes per streamed chunk.
pub const CHUNK_BYTES: usize = 1 << 20;
/// The files of an adapter artifact, in the order they are sent.
pub const ADAPTER_FILES: [&str; 2] = ["adapter_config.json", "adapter_model.safetensors"];
/// Largest adapter_config.json accepted from a peer.
const MAX_CONFIG_BYTES: u64 = 64 << 10;
/// Longest a whole fetch from one peer may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(600);

/// Sends `files` (name, path) as chunks on `tx` (the GetArtifact stream); stops early when the
/// receiver is gone.
pub async fn send_chunks(
    files: &[(String, PathBuf)],
    model: &str,
    tx: &tokio::sync::mpsc::Sender<std::result::Result<pb::ArtifactChunk, tonic::Status>>,
) -> Result<()> {
    for (name, path) in files {
        let mut f = tokio::fs::File::open(&path).await.map_err(|e| ExecutorError::io(path, e))?;
        let size = f.metadata().await.map_err(|e| ExecutorError::io(path, e))?.len();
        let mut offset = 0u64;
        loop {
            let mut buf = vec![0u8; CHUNK_BYTES];
            let n = f.read(&mut buf).await.map_err(|e| ExecutorError::io(path, e))?;
            // An empty file still sends one (empty) chunk, so the receiver sees it.
            if n == 0 && offset > 0 {
                break;
            }
            buf.truncate(n);
            let chunk = pb::ArtifactChunk { file: name.clone(), file_size: size, offset, data: buf, model: model.to_string() };
            if tx.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
            offset += n as u64;
            if n == 0 {
                break;
            }
        }
    }
    Ok(())
}

/// What a receiver accepts.
#[derive(Clone, Copy, Debug)]
pub struct ReceivePolicy {
    /// The only file names accepted (None: any plain file name).
    pub names: Option<&'static [&'static str]>,
    /// Largest file.
    pub max_file_bytes: u64,
    /// Largest total.
    pub max_total_bytes: u64,
    /// Most files.
    pub max_files: usize,
}

impl ReceivePolicy {
    /// An adapter: its two files, the config small, the weights within the adapter limit.
    pub fn adapter(limits: &AdapterLimits) -> Self {
        Self {
            names: Some(&ADAPTER_FILES),
            max_file_bytes: limits.max_file_bytes.max(MAX_CONFIG_BYTES),
            max_total_bytes: limits.max_file_bytes.saturating_add(MAX_CONFIG_BYTES),
            max_files: 2,
        }
    }

    /// A base model: a GGUF file or a Hugging Face directory's weight files, within `max_bytes`.
    pub fn model(max_bytes: u64) -> Self {
        Self { names: None, max_file_bytes: max_bytes, max_total_bytes: max_bytes, max_files: 256 }
    }
}

/// A file name a peer may send: one plain path component, not hidden, short.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// Receives chunks into `tmp` under `policy`: allowed names, each file within its limit and in
/// order without gaps, a file never resumed after the next began. Returns the base model hash the
/// sender named and the files received.
pub async fn receive_chunks(
    stream: &mut tonic::Streaming<pb::ArtifactChunk>,
    tmp: &Path,
    policy: &ReceivePolicy,
) -> Result<(String, Vec<String>)> {
    let bad = |m: String| ExecutorError::InvalidRequest(format!("artifact stream: {m}"));
    let mut model: Option<String> = None;
    let mut done: Vec<String> = Vec::new();
    let mut current: Option<(String, tokio::fs::File, u64, u64)> = None;
    let mut total = 0u64;
    while let Some(chunk) = stream.message().await.map_err(|s| ExecutorError::Transport(s.message().to_string()))? {
        let allowed = policy.names.map_or(plain_name(&chunk.file), |names| names.contains(&chunk.file.as_str()));
        if !allowed {
            return Err(bad(format!("unexpected file {:?}", chunk.file)));
        }
        match &model {
            Some(m) if *m != chunk.model => return Err(bad("the base model changed mid-stream".into())),
            Some(_) => {}
            None => model = Some(chunk.model.clone()),
        }
        let switching = current.as_ref().is_none_or(|(name, ..)| *name != chunk.file);
        if switching {
            if let Some((name, mut f, written, size)) = current.take() {
                if written != size {
                    return Err(bad(format!("{name} ended at {written} of {size} bytes")));
                }
                tokio::io::AsyncWriteExt::flush(&mut f).await.map_err(|e| ExecutorError::io(tmp, e))?;
                done.push(name);
            }
            if done.contains(&chunk.file) {
                return Err(bad(format!("{} sent twice", chunk.file)));
            }
            if done.len() >= policy.max_files {
                return Err(bad(format!("more than {} files", policy.max_files)));
            }
            if chunk.file_size > policy.max_file_bytes {
                return Err(bad(format!("{} of {} bytes is over the limit of {}", chunk.file, chunk.file_size, policy.max_file_bytes)));
            }
            let path = tmp.join(&chunk.file);
            let f = tokio::fs::File::create(&path).await.map_err(|e| ExecutorError::io(&path, e))?;
            current = Some((chunk.file.clone(), f, 0, chunk.file_size));
        }
        let Some((name, f, written, size)) = current.as_mut() else { return Err(bad("no file".into())) };
        if chunk.file_size != *size {
            return Err(bad(format!("{name} changed size mid-stream")));
        }
        if chunk.offset != *written {
            return Err(bad(format!("{name} chunk at {} where {written} was expected", chunk.offset)));
        }
        let end = written.saturating_add(chunk.data.len() as u64);
        if end > *size {
            return Err(bad(format!("{name} is longer than its announced {size} bytes")));
        }
        total = total.saturating_add(chunk.data.len() as u64);
        if total > policy.max_total_bytes {
            return Err(bad(format!("more than {} bytes in all", policy.max_total_bytes)));
        }
        tokio::io::AsyncWriteExt::write_all(f, &chunk.data).await.map_err(|e| ExecutorError::io(tmp, e))?;
        *written = end;
    }
    if let Some((name, mut f, written, size)) = current.take() {
        if written != size {
            return Err(bad(format!("{name} ended at {written} of {size} bytes")));
        }
        tokio::io::AsyncWriteExt::flush(&mut f).await.map_err(|e| ExecutorError::io(tmp, e))?;
        done.push(name);
    }
    if let Some(names) = policy.names {
        if let Some(missing) = names.iter().find(|n| !done.iter().any(|d| d == *n)) {
            return Err(bad(format!("{missing} missing")));
        }
    }
    Ok((model.ok_or_else(|| bad("empty stream".into()))?, done))
}

/// Opens a stream of artifact `hash` from `peer`.
async fn open_stream(peer: &str, hash: &str) -> Result<tonic::Streaming<pb::ArtifactChunk>> {
    let endpoint = tonic::transport::Endpoint::from_shared(peer.to_string())
        .map_err(|e| ExecutorError::Transport(format!("{peer}: {e}")))?
        .connect_timeout(Duration::from_secs(5));
    let channel = endpoint.connect().await.map_err(|e| ExecutorError::Transport(format!("{peer}: {e}")))?;
    let mut client = pb::executor_client::ExecutorClient::new(channel).max_decoding_message_size(CHUNK_BYTES + 4096);
    Ok(client
        .get_artifact(pb::GetArtifactRequest { hash: hash.to_string() })
        .await
        .map_err(|s| ExecutorError::Transport(format!("{peer}: {}", s.message())))?
        .into_inner())
}

/// Receives artifact `hash` from `peer` into a fresh temporary directory in `store`, then runs
/// `check` on it (which returns the hash the files really have); the directory is renamed to
/// `dest` only when that hash is `hash`. Returns the sender's base model hash and the files.
async fn fetch_checked(
    peer: &str,
    hash: &str,
    store: &Path,
    dest: &Path,
    policy: &ReceivePolicy,
    check: impl FnOnce(&Path, &[String]) -> Result<String>,
) -> Result<(String, Vec<String>)> {
    let tmp = store.join(format!(".fetch-{hash}-{}", std::process::id()));
    tokio::fs::create_dir_all(store).await.map_err(|e| ExecutorError::io(store, e))?;
    if tokio::fs::metadata(&tmp).await.is_ok() {
        tokio::fs::remove_dir_all(&tmp).await.map_err(|e| ExecutorError::io(&tmp, e))?;
    }
    tokio::fs::create_dir_all(&tmp).await.map_err(|e| ExecutorError::io(&tmp, e))?;
    let received = tokio::time::timeout(FETCH_TIMEOUT, async {
        let mut stream = open_stream(peer, hash).await?;
        receive_chunks(&mut stream, &tmp, policy).await
    })
    .await
    .map_err(|_| ExecutorError::Transport(format!("{peer}: fetch timed out")))
    .and_then(|r| r)
    .and_then(|(model, files)| {
        let found = check(&tmp, &files)?;
        if found != hash {
            return Err(ExecutorError::HashMismatch { what: format!("artifact fetched from {peer}"), expected: hash.to_string(), found });
        }
        Ok((model, files))
    });
    let (model, files) = match received {
        Ok(r) => r,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            return Err(e);
        }
    };
    if tokio::fs::metadata(dest).await.is_ok() {
        tokio::fs::remove_dir_all(dest).await.map_err(|e| ExecutorError::io(dest, e))?;
    }
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| ExecutorError::io(parent, e))?;
    }
    tokio::fs::rename(&tmp, dest).await.map_err(|e| ExecutorError::io(dest, e))?;
    Ok((model, files))
}

/// Where a model fetched into `dir` is loaded from: its GGUF file, or the directory.
pub fn model_path_in(dir: &Path, files: &[String]) -> PathBuf {
    match files {
        [one] if one.to_ascii_lowercase().ends_with(".gguf") => dir.join(one),
        _ => dir.to_path_buf(),
    }
}

/// Fetches base model `hash` from the executor at `peer` into `store/models/<hash>`, checked
/// against the hash; returns the path to load it from.
pub async fn fetch_model(peer: &str, hash: &str, store: &Path, max_bytes: u64) -> Result<PathBuf> {
    let dest = store.join("models").join(hash);
    let (_, files) = fetch_checked(peer, hash, store, &dest, &ReceivePolicy::model(max_bytes), |dir, files| {
        Ok(crate::source::ModelSource::open(&model_path_in(dir, files))?.hash)
    })
    .await?;
    Ok(model_path_in(&dest, &files))
}

/// Fetches adapter `hash` from the executor at `peer` into `store/<hash>`; the bytes are checked
/// against the hash before the directory gets its final name. Returns the directory and the base
/// model hash the peer registered it for.
pub async fn fetch_adapter(peer: &str, hash: &str, store: &Path, limits: &AdapterLimits) -> Result<(PathBuf, String)> {
    let dir = store.join(hash);
    let (model, _) = fetch_checked(peer, hash, store, &dir, &ReceivePolicy::adapter(limits), |tmp, _| adapter_hash(tmp, limits)).await?;
    Ok((dir, model))
}
