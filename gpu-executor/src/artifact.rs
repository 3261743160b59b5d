//! Artifacts between executors: an executor serves the adapters it holds by content hash
//! (`GetArtifact`, streamed in chunks) and fetches the ones it lacks from its peers, checking every
//! size against the adapter limits while receiving and the content hash before anything is used.
//! A fetched adapter lands in the adapter store as `<store>/<hash>/`, like a trained one.

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

/// Sends the files of the artifact in `dir` as chunks on `tx` (the GetArtifact stream); stops
/// early when the receiver is gone.
pub async fn send_chunks(
    dir: &Path,
    model: &str,
    tx: &tokio::sync::mpsc::Sender<std::result::Result<pb::ArtifactChunk, tonic::Status>>,
) -> Result<()> {
    for name in ADAPTER_FILES {
        let path = dir.join(name);
        let mut f = tokio::fs::File::open(&path).await.map_err(|e| ExecutorError::io(&path, e))?;
        let size = f.metadata().await.map_err(|e| ExecutorError::io(&path, e))?.len();
        let mut offset = 0u64;
        loop {
            let mut buf = vec![0u8; CHUNK_BYTES];
            let n = f.read(&mut buf).await.map_err(|e| ExecutorError::io(&path, e))?;
            // An empty file still sends one (empty) chunk, so the receiver sees it.
            if n == 0 && offset > 0 {
                break;
            }
            buf.truncate(n);
            let chunk = pb::ArtifactChunk { file: name.to_string(), file_size: size, offset, data: buf, model: model.to_string() };
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

/// Receives chunks into `tmp`, bounded: only the adapter's two files, each within its limit,
/// chunks in order without gaps. Returns the base model hash the sender named.
pub async fn receive_chunks(stream: &mut tonic::Streaming<pb::ArtifactChunk>, tmp: &Path, limits: &AdapterLimits) -> Result<String> {
    let bad = |m: String| ExecutorError::InvalidRequest(format!("artifact stream: {m}"));
    let mut model: Option<String> = None;
    let mut written = [0u64; 2];
    let mut sizes = [None::<u64>; 2];
    let mut files: [Option<tokio::fs::File>; 2] = [None, None];
    while let Some(chunk) = stream.message().await.map_err(|s| ExecutorError::Transport(s.message().to_string()))? {
        let idx = ADAPTER_FILES.iter().position(|f| *f == chunk.file).ok_or_else(|| bad(format!("unexpected file {:?}", chunk.file)))?;
        let max = if idx == 0 { MAX_CONFIG_BYTES } else { limits.max_file_bytes };
        if chunk.file_size > max {
            return Err(bad(format!("{} of {} bytes is over the limit of {max}", chunk.file, chunk.file_size)));
        }
        if *sizes[idx].get_or_insert(chunk.file_size) != chunk.file_size {
            return Err(bad(format!("{} changed size mid-stream", chunk.file)));
        }
        if chunk.offset != written[idx] {
            return Err(bad(format!("{} chunk at {} where {} was expected", chunk.file, chunk.offset, written[idx])));
        }
        let end = written[idx].saturating_add(chunk.data.len() as u64);
        if end > chunk.file_size {
            return Err(bad(format!("{} is longer than its announced {} bytes", chunk.file, chunk.file_size)));
        }
        match &model {
            Some(m) if *m != chunk.model => return Err(bad("the base model changed mid-stream".into())),
            Some(_) => {}
            None => model = Some(chunk.model.clone()),
        }
        if files[idx].is_none() {
            let path = tmp.join(ADAPTER_FILES[idx]);
            files[idx] = Some(tokio::fs::File::create(&path).await.map_err(|e| ExecutorError::io(&path, e))?);
        }
        if let Some(f) = files[idx].as_mut() {
            tokio::io::AsyncWriteExt::write_all(f, &chunk.data).await.map_err(|e| ExecutorError::io(tmp, e))?;
        }
        written[idx] = end;
    }
    for (i, f) in files.iter_mut().enumerate() {
        let Some(f) = f else { return Err(bad(format!("{} missing", ADAPTER_FILES[i]))) };
        tokio::io::AsyncWriteExt::flush(f).await.map_err(|e| ExecutorError::io(tmp, e))?;
        if Some(written[i]) != sizes[i] {
            return Err(bad(format!("{} ended at {} of {:?} bytes", ADAPTER_FILES[i], written[i], sizes[i])));
        }
    }
    model.ok_or_else(|| bad("empty stream".into()))
}

/// Fetches adapter `hash` from the executor at `peer` into `store/<hash>`; the bytes are checked
/// against the hash before the directory gets its final name. Returns the directory and the base
/// model hash the peer registered it for.
pub async fn fetch_adapter(peer: &str, hash: &str, store: &Path, limits: &AdapterLimits) -> Result<(PathBuf, String)> {
    let dir = store.join(hash);
    let tmp = store.join(format!(".fetch-{hash}-{}", std::process::id()));
    tokio::fs::create_dir_all(store).await.map_err(|e| ExecutorError::io(store, e))?;
    if tokio::fs::metadata(&tmp).await.is_ok() {
        tokio::fs::remove_dir_all(&tmp).await.map_err(|e| ExecutorError::io(&tmp, e))?;
    }
    tokio::fs::create_dir_all(&tmp).await.map_err(|e| ExecutorError::io(&tmp, e))?;
    let result = tokio::time::timeout(FETCH_TIMEOUT, async {
        let endpoint = tonic::transport::Endpoint::from_shared(peer.to_string())
            .map_err(|e| ExecutorError::Transport(format!("{peer}: {e}")))?
            .connect_timeout(Duration::from_secs(5));
        let channel = endpoint.connect().await.map_err(|e| ExecutorError::Transport(format!("{peer}: {e}")))?;
        let mut client = pb::executor_client::ExecutorClient::new(channel).max_decoding_message_size(CHUNK_BYTES + 4096);
        let mut stream = client
            .get_artifact(pb::GetArtifactRequest { hash: hash.to_string() })
            .await
            .map_err(|s| ExecutorError::Transport(format!("{peer}: {}", s.message())))?
            .into_inner();
        receive_chunks(&mut stream, &tmp, limits).await
    })
    .await
    .map_err(|_| ExecutorError::Transport(format!("{peer}: fetch timed out")))
    .and_then(|r| r);
    let checked = result.and_then(|model| {
        let found = adapter_hash(&tmp, limits)?;
        if found != hash {
            return Err(ExecutorError::HashMismatch { what: format!("adapter fetched from {peer}"), expected: hash.to_string(), found });
        }
        Ok(model)
    });
    let model = match checked {
        Ok(m) => m,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            return Err(e);
        }
    };
    if dir.join(ADAPTER_FILES[1]).is_file() {
        let _ = tokio::fs::remove_dir_all(&tmp).await;
    } else {
        if tokio::fs::metadata(&dir).await.is_ok() {
            tokio::fs::remove_dir_all(&dir).await.map_err(|e| ExecutorError::io(&dir, e))?;
        }
        tokio::fs::rename(&tmp, &dir).await.map_err(|e| ExecutorError::io(&dir, e))?;
    }
    Ok((dir, model))
}
