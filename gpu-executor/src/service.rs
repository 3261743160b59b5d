//! The gRPC service (`openledger.executor.v1.Executor`) on loopback only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::error::{ExecutorError, Result};
use crate::executor::{ExecuteParams, Executor};
use crate::pb;
use crate::pb::executor_server::{Executor as ExecutorRpc, ExecutorServer};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

/// Largest request message accepted, in bytes: the larger of an Execute request (the prompt
/// limit plus room for the other fields) and a Train request (its rows' byte limit plus each
/// row's field header, and room for the other fields).
pub fn max_message_bytes(exec: &Executor) -> usize {
    let t = exec.limits().train;
    let train = t.max_total_bytes.saturating_add(t.max_rows.saturating_mul(6)).saturating_add(4096);
    (exec.limits().max_prompt_bytes + 4096).max(train)
}

/// The GetArtifact RPC's response stream.
pub type ArtifactStream = Pin<Box<dyn Stream<Item = Result<pb::ArtifactChunk, Status>> + Send>>;

/// The Train RPC's response stream.
pub type TrainStream = Pin<Box<dyn Stream<Item = Result<pb::TrainProgress, Status>> + Send>>;

/// The service implementation.
pub struct ExecutorService {
    exec: Arc<Executor>,
}

impl ExecutorService {
    /// Wraps an executor.
    pub fn new(exec: Arc<Executor>) -> Self {
        Self { exec }
    }
}

#[tonic::async_trait]
impl ExecutorRpc for ExecutorService {
    async fn execute(&self, request: Request<pb::ExecuteRequest>) -> Result<Response<pb::ExecuteResponse>, Status> {
        let r = request.into_inner();
        let params = ExecuteParams {
            model: r.model,
            adapter: r.adapter,
            prompt: r.prompt,
            max_tokens: r.max_tokens,
            seed: r.seed,
            profile: r.profile,
            messages: r.messages,
            chat_template_hash: r.chat_template_hash,
        };
        match self.exec.execute(params).await {
            Ok(out) => Ok(Response::new(out.into())),
            Err(e) => {
                tracing::info!("Execute refused: {e}");
                Err(e.into())
            }
        }
    }

    async fn load_adapter(&self, request: Request<pb::LoadAdapterRequest>) -> Result<Response<pb::LoadAdapterResponse>, Status> {
        let r = request.into_inner();
        let s = self.exec.load_adapter(&r.model, &PathBuf::from(r.path)).await?;
        Ok(Response::new(pb::LoadAdapterResponse { adapter: s.hash, bytes: s.bytes, rank: s.rank, target_modules: s.targets }))
    }

    async fn list_models(&self, _request: Request<pb::ListModelsRequest>) -> Result<Response<pb::ListModelsResponse>, Status> {
        Ok(Response::new(self.exec.list()?))
    }

    async fn health(&self, _request: Request<pb::HealthRequest>) -> Result<Response<pb::HealthResponse>, Status> {
        Ok(Response::new(self.exec.health()?))
    }

    type TrainStream = TrainStream;
    type GetArtifactStream = ArtifactStream;

    async fn get_artifact(&self, request: Request<pb::GetArtifactRequest>) -> Result<Response<ArtifactStream>, Status> {
        let hash = request.into_inner().hash;
        let crate::executor::Artifact { model, files, adapter_dir } = self.exec.artifact(&hash)?;
        // Never serve adapter files that no longer match their hash (the receiver checks too;
        // base models are checked by the receiver, hashing gigabytes per request is not worth it).
        if let Some(dir) = adapter_dir {
            let limits = self.exec.limits().adapter;
            let on_disk = tokio::task::spawn_blocking(move || crate::lora::adapter_hash(&dir, &limits))
                .await
                .map_err(|e| Status::internal(e.to_string()))??;
            if on_disk != hash.trim().to_ascii_lowercase() {
                return Err(ExecutorError::HashMismatch { what: "adapter on disk".into(), expected: hash, found: on_disk }.into());
            }
        }
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            if let Err(e) = crate::artifact::send_chunks(&files, &model, &tx).await {
                let _ = tx.send(Err(Status::from(e))).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn train(&self, request: Request<pb::TrainRequest>) -> Result<Response<TrainStream>, Status> {
        let prepared = self.exec.prepare_train(request.into_inner()).inspect_err(|e| tracing::info!("Train refused: {e}"))?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let exec = self.exec.clone();
        tokio::spawn(async move {
            let steps = tx.clone();
            // Progress is best effort (a slow reader misses steps); the result is always sent.
            let on_step = move |s: &crate::train::StepReport| {
                let _ = steps.try_send(Ok(pb::TrainProgress { event: Some(pb::train_progress::Event::Step(s.into())) }));
            };
            let last = match exec.train(prepared, on_step).await {
                Ok(o) => Ok(pb::TrainProgress { event: Some(pb::train_progress::Event::Result((&o).into())) }),
                Err(e) => {
                    tracing::warn!("training failed: {e}");
                    Err(Status::from(e))
                }
            };
            let _ = tx.send(last).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Binds `addr`, refusing anything but a loopback address.
pub async fn bind_loopback(addr: SocketAddr) -> Result<TcpListener> {
    if !addr.ip().is_loopback() {
        return Err(ExecutorError::Config(format!("refusing to listen on {addr}: the executor serves loopback only (127.0.0.1 or ::1)")));
    }
    TcpListener::bind(addr).await.map_err(|e| ExecutorError::Transport(format!("bind {addr}: {e}")))
}

/// Serves `exec` on `listener` until `shutdown` resolves.
pub async fn serve(exec: Arc<Executor>, listener: TcpListener, shutdown: impl std::future::Future<Output = ()> + Send) -> Result<()> {
    let local = listener.local_addr().map_err(|e| ExecutorError::Transport(e.to_string()))?;
    if !local.ip().is_loopback() {
        return Err(ExecutorError::Config(format!("refusing to serve on non-loopback {local}")));
    }
    let limit = max_message_bytes(&exec);
    let svc = ExecutorServer::new(ExecutorService::new(exec)).max_decoding_message_size(limit);
    tracing::info!("open-executor serving on {local}");
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(64)
        .add_service(svc)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
        .map_err(|e| ExecutorError::Transport(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_non_loopback_binds() {
        let e = bind_loopback("0.0.0.0:0".parse().unwrap()).await.err().unwrap();
        assert!(e.to_string().contains("loopback"), "{e}");
        let e = bind_loopback("192.0.2.1:50051".parse().unwrap()).await.err().unwrap();
        assert!(e.to_string().contains("loopback"), "{e}");
        assert!(bind_loopback("127.0.0.1:0".parse().unwrap()).await.is_ok());
    }
}
