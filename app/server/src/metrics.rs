//! openledgerd's Prometheus endpoint: `GET /metrics` answers the node's metrics
//! (`openledger_node::metrics`) in the text exposition format; anything else is 404. Its own
//! port (`metrics_addr` in app.toml, 127.0.0.1:26661 by default), a handful of connections at
//! once, short timeouts: a scraper, not a public API.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;

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
    let limits = crate::http::Limits { max_connections: MAX_CONNECTIONS, header_timeout: HEADER_TIMEOUT, max_buf_bytes: 16 * 1024 };
    crate::http::serve(listener, "metrics", limits, |req: Request<Incoming>| async move { respond(req.method(), req.uri().path()) }).await
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
