//! The accept loop the node's HTTP/1.1 servers share (REST, metrics; gRPC uses [`accept`]): a
//! bounded number of connections at once, a deadline for request headers, a bound on buffered
//! bytes, and a back-off when accepting fails (out of file descriptors) instead of a busy loop.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};

/// Limits of one server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once (more wait in the kernel's backlog).
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Largest buffer for a request's head.
    pub max_buf_bytes: usize,
}

/// Serves `handler` on every connection `listener` accepts, within `limits`, until the process
/// ends. `what` names the server in logs.
pub async fn serve<H, Fut>(listener: tokio::net::TcpListener, what: &'static str, limits: Limits, handler: H) -> anyhow::Result<()>
where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    loop {
        let (stream, permit) = accept(&listener, &permits, what).await?;
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = handler(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(limits.max_buf_bytes)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!("{what} connection ended: {e}");
            }
            drop(permit);
        });
    }
}

/// The next connection, once one of `permits` is free; the permit goes with the connection and is
/// released when it is dropped. Accept errors (out of file descriptors and the like) are logged
/// and retried after a pause instead of spinning.
pub async fn accept(
    listener: &tokio::net::TcpListener,
    permits: &Arc<tokio::sync::Semaphore>,
    what: &str,
) -> anyhow::Result<(tokio::net::TcpStream, tokio::sync::OwnedSemaphorePermit)> {
    let permit = permits.clone().acquire_owned().await?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return Ok((stream, permit)),
            Err(e) => {
                tracing::warn!("{what} accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
