//! openledgerd's Prometheus endpoint: `GET /metrics` answers the node's metrics
//! (`openledger_node::metrics`) in the text exposition format; anything else is 404. Its own
//! port (`metrics_addr` in app.toml, 127.0.0.1:26661 by default), a handful of connections at
//! once, short timeouts: a scraper, not a public API.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};

/// Connections served at once.
const MAX_CONNECTIONS: usize = 16;
/// Time a client has to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The answer to one request.
pub fn respond(method: &Method, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (method, path) {
        (&Method::GET, "/metrics") => {
            (StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", openledger_node::metrics::global().render())
        }
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "only GET /metrics is served here\n".to_string()),
    };
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Serves `/metrics` on `addr` until the process ends.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        tracing::warn!("metrics on {addr} are reachable from other machines; bind 127.0.0.1 unless a scraper needs it");
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("Prometheus metrics on http://{addr}/metrics");
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = permits.clone().acquire_owned().await?;
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("metrics accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(
                    |req: Request<Incoming>| async move { Ok::<_, Infallible>(respond(req.method(), req.uri().path())) },
                );
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!("metrics connection ended: {e}");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_metrics_is_served() {
        let ok = respond(&Method::GET, "/metrics");
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(ok.headers()[http::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        assert_eq!(respond(&Method::POST, "/metrics").status(), StatusCode::NOT_FOUND);
        assert_eq!(respond(&Method::GET, "/").status(), StatusCode::NOT_FOUND);
    }
}
