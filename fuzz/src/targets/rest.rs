//! The REST gateway without a socket: `RestState::route` (the same function the HTTP server
//! calls once it has the request line, body and height header) on the replay chain, with a
//! request described as JSON `{"method", "path", "query", "body", "height"}`. Every answer must
//! be JSON (errors as `{"code", "message", "details"}` with a message) and the same twice.

use std::sync::Arc;

use http::Method;
use http_body_util::BodyExt;
use openledger_app::rest::{RestState, StaticDocuments};
use serde_json::Value;

use super::{require_same, Target};
use crate::mutate::Shape;
use crate::world::replay_app;

/// An address nothing listens on: the gateway's CometBFT RPC calls fail at once.
const NO_COMET: &str = "http://127.0.0.1:9";

/// The REST router over the replay chain.
pub struct Rest {
    state: Arc<RestState>,
    runtime: tokio::runtime::Runtime,
}

impl Rest {
    /// Replays the fixture chain and builds the route table.
    pub fn new() -> Self {
        let app = Arc::new(replay_app());
        let state = Arc::new(RestState::new(app, NO_COMET, StaticDocuments::default()).expect("REST routes"));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        Self { state, runtime }
    }

    fn call(&self, method: &Method, path: &str, query: &str, body: &[u8], height: i64) -> (u16, Vec<u8>) {
        let state = self.state.clone();
        self.runtime.block_on(async move {
            let resp = state.route(method, path, query, body, height).await;
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.map(|c| c.to_bytes().to_vec()).unwrap_or_default();
            (status, bytes)
        })
    }
}

impl Default for Rest {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for Rest {
    fn shape(&self) -> Shape {
        Shape::Json
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let request: Value = serde_json::from_slice(input).unwrap_or_else(|_| {
            // Anything else is a GET of those bytes as the path.
            serde_json::json!({"method": "GET", "path": String::from_utf8_lossy(input)})
        });
        let text = |name: &str| request.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        let method = Method::from_bytes(text("method").as_bytes()).unwrap_or(Method::GET);
        let body = match request.get("body") {
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(other) => other.to_string().into_bytes(),
            None => Vec::new(),
        };
        let height = request.get("height").and_then(Value::as_i64).unwrap_or(0).max(0);
        let (path, query) = (text("path"), text("query"));
        let (status, bytes) = self.call(&method, &path, &query, &body, height);
        let second = self.call(&method, &path, &query, &body, height);
        require_same("REST answer", &(status, bytes.clone()), &second)?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{method} {path}?{query}: status {status} with a body that is not JSON ({e})"))?;
        if status >= 400 && value.get("message").and_then(Value::as_str).is_none_or(|m| m.trim().is_empty()) {
            return Err(format!("{method} {path}?{query}: status {status} without a message: {value}"));
        }
        // Answered routes are classes of their own; errors are classed by their message.
        if status == 200 {
            return Ok(format!("200 {}", path.split('/').take(4).collect::<Vec<_>>().join("/")));
        }
        let message = value.get("message").and_then(Value::as_str).unwrap_or_default();
        Ok(format!("{status} {}", message.chars().filter(|c| c.is_ascii_alphabetic() || *c == ' ').take(40).collect::<String>()))
    }
}
