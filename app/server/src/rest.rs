//! The REST (LCD) server (port 1317, loopback by default): the Cosmos SDK's gRPC-gateway
//! transcoding, driven by descriptors. Every method of every served gRPC service that carries a
//! `google.api.http` option becomes a route; the request message is built from the path
//! variables and the query string (or the JSON body for POST), encoded to protobuf, answered by
//! the same handler the gRPC server uses ([`crate::grpc::handle`]) and written back as the SDK's
//! JSON ([`crate::rest_json`]). Errors are `{"code", "message", "details"}` with the gateway's
//! HTTP status. Also served: the chain-registry / Keplr chain info.
//!
//! Bounds: request bodies 1 MiB, the header section 16 KiB, 64 query parameters, 256 open
//! connections, 10 s to send the headers and 30 s for the body.

// tonic's `Status` is what the shared gRPC handler returns; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value as PValue};
use serde_json::{json, Value};
use tonic::Code;

use crate::grpc::{GrpcShared, HEIGHT_HEADER};
use crate::rest_json::SdkJson;
use openledger_node::app::App;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest header section (request line + headers) accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most query-string parameters read from one request.
pub const MAX_QUERY_PARAMS: usize = 64;
/// Most connections served at once; further ones wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 256;
/// Time a client has to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send its request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Static documents served as JSON at fixed paths (chain-registry and Keplr chain info), the
/// web app's files ([`crate::web`], at `/app`) and the local dev account.
#[derive(Debug, Clone, Default)]
pub struct StaticDocuments {
    /// `(path, document)` pairs.
    pub documents: Vec<(String, Value)>,
    /// The web app's directory, served at [`crate::web::MOUNT`]; `None`: not served.
    pub web: Option<crate::web::WebRoot>,
    /// The dev account served at [`crate::web::DEV_ACCOUNT_PATH`]; `None`: not served. [`serve`]
    /// drops it unless it binds a loopback address.
    pub dev_account: Option<crate::web::DevAccount>,
}

/// One segment of a `google.api.http` path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A fixed segment.
    Literal(String),
    /// `{field}` or `{field=*}`: one segment into a (possibly nested) field.
    Variable(String),
    /// `{field=**}`: the rest of the path, slashes included.
    Rest(String),
}

/// A parsed path template such as `/cosmos/bank/v1beta1/balances/{address}/by_denom`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    /// Its segments.
    pub segments: Vec<Segment>,
}

impl PathTemplate {
    /// Parses a template; `None` for forms the SDK does not use (verbs, nested patterns).
    pub fn parse(template: &str) -> Option<Self> {
        let body = template.strip_prefix('/')?;
        let mut segments = Vec::new();
        for part in body.split('/') {
            if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                if field.is_empty() || !field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
                    return None;
                }
                segments.push(match pattern {
                    "*" => Segment::Variable(field.to_string()),
                    "**" => Segment::Rest(field.to_string()),
                    _ => return None,
                });
            } else if part.is_empty() || part.contains(['{', '}', ':', '*']) {
                return None;
            } else {
                segments.push(Segment::Literal(part.to_string()));
            }
        }
        // `**` only at the end.
        if segments.iter().rev().skip(1).any(|s| matches!(s, Segment::Rest(_))) {
            return None;
        }
        Some(Self { segments })
    }

    /// Literal segments (more literals = more specific route).
    pub fn literal_count(&self) -> usize {
        self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count()
    }

    /// Matches percent-decoded path segments; returns the `(field path, value)` bindings.
    pub fn matches(&self, path: &[String]) -> Option<Vec<(String, String)>> {
        let mut bindings = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(lit) => {
                    if path.get(i) != Some(lit) {
                        return None;
                    }
                }
                Segment::Variable(field) => {
                    let value = path.get(i)?;
                    if value.is_empty() {
                        return None;
                    }
                    bindings.push((field.clone(), value.clone()));
                }
                Segment::Rest(field) => {
                    let rest = path.get(i..)?;
                    if rest.is_empty() {
                        return None;
                    }
                    bindings.push((field.clone(), rest.join("/")));
                    return Some(bindings);
                }
            }
        }
        (path.len() == self.segments.len()).then_some(bindings)
    }
}

/// Decodes `%XX` escapes (and `+` as a space in query strings); `None` for bad escapes or UTF-8.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(value);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Splits a query string into decoded `(key, value)` pairs (at most [`MAX_QUERY_PARAMS`]).
pub fn parse_query_string(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        if pairs.len() == MAX_QUERY_PARAMS {
            return Err(format!("more than {MAX_QUERY_PARAMS} query parameters"));
        }
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(key, true).ok_or_else(|| format!("invalid escape in query parameter {key:?}"))?;
        let value = percent_decode(value, true).ok_or_else(|| format!("invalid escape in query parameter {key}"))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    // `+` arrives as a space when a client did not escape it.
    let text = text.replace(' ', "+");
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(&text).ok())
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Parses one query/path value for a field of scalar (or enum) kind.
fn parse_scalar(kind: &Kind, text: &str) -> Result<PValue, String> {
    let bad = || format!("cannot parse {text:?} as {kind:?}");
    Ok(match kind {
        Kind::Bool => PValue::Bool(parse_bool(text).ok_or_else(bad)?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => PValue::I32(text.parse().map_err(|_| bad())?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => PValue::I64(text.parse().map_err(|_| bad())?),
        Kind::Uint32 | Kind::Fixed32 => PValue::U32(text.parse().map_err(|_| bad())?),
        Kind::Uint64 | Kind::Fixed64 => PValue::U64(text.parse().map_err(|_| bad())?),
        Kind::Float => PValue::F32(text.parse().map_err(|_| bad())?),
        Kind::Double => PValue::F64(text.parse().map_err(|_| bad())?),
        Kind::String => PValue::String(text.to_string()),
        Kind::Bytes => PValue::Bytes(Bytes::from(decode_base64(text).ok_or_else(bad)?)),
        Kind::Enum(e) => match e.get_value_by_name(text) {
            Some(v) => PValue::EnumNumber(v.number()),
            None => PValue::EnumNumber(text.parse().map_err(|_| bad())?),
        },
        Kind::Message(m) => return Err(format!("field of message type {} cannot be set from a query parameter", m.full_name())),
    })
}

/// Sets the field at dotted `path` (`pagination.limit`) from text, as the gateway does: nested
/// messages are created, repeated fields collect every occurrence, unknown fields are ignored.
pub fn set_field_path(message: &mut DynamicMessage, path: &str, text: &str) -> Result<(), String> {
    let (head, tail) = match path.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (path, None),
    };
    let desc = message.descriptor();
    let Some(field) = find_field(&desc, head) else {
        return Ok(());
    };
    match tail {
        Some(rest) => {
            if field.is_list() || field.is_map() || !matches!(field.kind(), Kind::Message(_)) {
                return Ok(());
            }
            match message.get_field_mut(&field) {
                PValue::Message(inner) => set_field_path(inner, rest, text),
                _ => Ok(()),
            }
        }
        None => {
            if field.is_map() {
                return Err(format!("map field {head} cannot be set from a query parameter"));
            }
            let value = parse_scalar(&field.kind(), text).map_err(|e| format!("type mismatch, parameter: {path}, error: {e}"))?;
            if field.is_list() {
                if let PValue::List(items) = message.get_field_mut(&field) {
                    items.push(value);
                }
            } else {
                message.set_field(&field, value);
            }
            Ok(())
        }
    }
}

fn find_field(desc: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    desc.get_field_by_name(name).or_else(|| desc.get_field_by_json_name(name))
}

/// One REST route: an HTTP verb and template bound to a gRPC method.
#[derive(Debug, Clone)]
pub struct Route {
    /// HTTP method.
    pub verb: Method,
    /// Path template.
    pub template: PathTemplate,
    /// gRPC method path (`/cosmos.bank.v1beta1.Query/Balance`).
    pub grpc_path: String,
    /// Request message type.
    pub input: MessageDescriptor,
    /// Response message type.
    pub output: MessageDescriptor,
    /// The HttpRule's `body` (`*`, a field name, or empty).
    pub body: String,
}

/// Builds the descriptor pool: the SDK's descriptors plus ours.
pub fn descriptor_pool() -> anyhow::Result<DescriptorPool> {
    openledger_proto::json::descriptor_pool().map_err(anyhow::Error::msg)
}

/// The chain's descriptors plus those its modules bring ([`openledger_core::Module::descriptor_set`]).
pub fn app_descriptor_pool(app: &App) -> anyhow::Result<DescriptorPool> {
    let mut pool = descriptor_pool()?;
    for set in app.modules().registry.descriptor_sets() {
        add_files(&mut pool, set)?;
    }
    Ok(pool)
}

/// Adds the files of an encoded descriptor set (a module's own protos) to the pool.
pub fn add_files(pool: &mut DescriptorPool, encoded: &[u8]) -> anyhow::Result<()> {
    openledger_proto::json::add_files(pool, encoded).map_err(anyhow::Error::msg)
}

fn rule_routes(rule: &DynamicMessage, method: &prost_reflect::MethodDescriptor, out: &mut Vec<Route>) {
    let text = |name: &str| rule.get_field_by_name(name).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let verbs = [("get", Method::GET), ("post", Method::POST), ("put", Method::PUT), ("delete", Method::DELETE), ("patch", Method::PATCH)];
    for (name, verb) in verbs {
        let pattern = text(name);
        if pattern.is_empty() {
            continue;
        }
        match PathTemplate::parse(&pattern) {
            Some(template) => out.push(Route {
                verb,
                template,
                grpc_path: format!("/{}/{}", method.parent_service().full_name(), method.name()),
                input: method.input(),
                output: method.output(),
                body: text("body"),
            }),
            None => tracing::warn!("REST: unsupported path template {pattern} of {}", method.full_name()),
        }
    }
    if let Some(PValue::List(extra)) = rule.get_field_by_name("additional_bindings").as_deref() {
        for binding in extra {
            if let Some(m) = binding.as_message() {
                rule_routes(m, method, out);
            }
        }
    }
}

/// Every route of the served services, most specific (most literal segments) first.
pub fn routes(pool: &DescriptorPool, services: &[&str]) -> Vec<Route> {
    let mut out = Vec::new();
    let Some(http) = pool.get_extension_by_name("google.api.http") else {
        return out;
    };
    for name in services {
        let Some(service) = pool.get_service_by_name(name) else {
            continue;
        };
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&http) {
                continue;
            }
            if let Some(rule) = options.get_extension(&http).as_message() {
                rule_routes(rule, &method, &mut out);
            }
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.template.literal_count()));
    out
}

/// The gateway's HTTP status for a gRPC code (grpc-gateway `HTTPStatusFromCode`).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Go's name of a gRPC code (`NotFound`), as in `rpc error: code = NotFound desc = …`.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

type HttpResponse = Response<Full<Bytes>>;

fn json_response(status: StatusCode, body: &Value, height: Option<u64>) -> HttpResponse {
    let mut builder = Response::builder().status(status).header(http::header::CONTENT_TYPE, "application/json");
    if let Some(h) = height {
        builder = builder.header("grpc-metadata-x-cosmos-block-height", h.to_string()).header(HEIGHT_HEADER, h.to_string());
    }
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    builder.body(Full::new(Bytes::from(bytes))).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// The gateway's error body: `{"code": <gRPC code>, "message": …, "details": []}`.
pub fn error_response(code: Code, message: &str) -> HttpResponse {
    json_response(http_status(code), &json!({"code": code as i32, "message": message, "details": []}), None)
}

/// The message of a query error as the SDK's gateway reports it (it reaches the gateway through
/// ABCI, so it reads like the ABCI log: `rpc error: code = NotFound desc = …: key not found`).
fn status_message(status: &tonic::Status) -> String {
    let mut desc = status.message().to_string();
    if status.code() == Code::NotFound && !desc.ends_with("key not found") {
        desc.push_str(": key not found");
    }
    format!("rpc error: code = {} desc = {desc}", code_name(status.code()))
}

/// Shared state of the REST server.
pub struct RestState {
    grpc: Arc<GrpcShared>,
    json: SdkJson,
    routes: Vec<Route>,
    documents: StaticDocuments,
}

impl RestState {
    /// Builds the route table from the descriptors of the services the app serves.
    pub fn new(app: Arc<App>, comet_rpc_url: &str, documents: StaticDocuments) -> anyhow::Result<Self> {
        let pool = app_descriptor_pool(&app)?;
        let grpc = Arc::new(GrpcShared::new(app, comet_rpc_url));
        let routes = routes(&pool, &grpc.services);
        Ok(Self { grpc, json: SdkJson::new(pool), routes, documents })
    }

    /// The routes served.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Answers one request.
    pub async fn respond(self: Arc<Self>, req: Request<Incoming>) -> HttpResponse {
        let (parts, body) = req.into_parts();
        if let Some(below) = crate::web::app_path(parts.uri.path()) {
            let Some(web) = self.documents.web.clone() else {
                return crate::web::not_served("this node serves no web app (start it with --web-dir DIR, built by `make web`)");
            };
            let (method, below) = (parts.method.clone(), below.to_string());
            return tokio::task::spawn_blocking(move || web.respond(&method, &below))
                .await
                .unwrap_or_else(|e| error_response(Code::Internal, &format!("file task failed: {e}")));
        }
        if parts.method == Method::GET && parts.uri.path() == crate::web::DEV_ACCOUNT_PATH {
            return crate::web::dev_account_response(self.documents.dev_account.as_ref(), &parts.headers);
        }
        if parts.method == Method::GET && parts.uri.path() == "/" && self.documents.web.is_some() {
            return crate::web::redirect_to_app();
        }
        let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => return error_response(Code::InvalidArgument, &format!("request body larger than {MAX_BODY_BYTES} bytes")),
            Err(_) => return error_response(Code::DeadlineExceeded, "request body not received in time"),
        };
        let height = match parts.headers.get(HEIGHT_HEADER) {
            None => 0,
            Some(v) => match v.to_str().ok().and_then(|s| s.parse::<i64>().ok()) {
                Some(h) if h >= 0 => h,
                _ => return error_response(Code::InvalidArgument, "invalid x-cosmos-block-height header"),
            },
        };
        self.route(&parts.method, parts.uri.path(), parts.uri.query().unwrap_or_default(), &body, height).await
    }

    /// Routes a decoded request (also used by tests without a socket).
    pub async fn route(self: Arc<Self>, method: &Method, path: &str, query: &str, body: &[u8], height: i64) -> HttpResponse {
        if *method == Method::GET {
            if let Some((_, doc)) = self.documents.documents.iter().find(|(p, _)| p == path) {
                // Public, read-only chain descriptions: any web page may fetch them (a dApp
                // hands the Keplr one to `experimentalSuggestChain`). Nothing else gets CORS.
                let mut resp = json_response(StatusCode::OK, doc, None);
                resp.headers_mut().insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, http::HeaderValue::from_static("*"));
                return resp;
            }
            if let Some(resp) = self.clone().node_local(path).await {
                return resp;
            }
        }
        let Some(segments) = path.strip_prefix('/').map(|p| p.split('/').map(|s| percent_decode(s, false)).collect::<Option<Vec<_>>>())
        else {
            return error_response(Code::InvalidArgument, "Bad Request");
        };
        let Some(segments) = segments else {
            return error_response(Code::InvalidArgument, "invalid escape in path");
        };
        let found = self.routes.iter().find_map(|r| (r.verb == *method).then(|| r.template.matches(&segments)).flatten().map(|b| (r, b)));
        let Some((route, bindings)) = found else {
            return error_response(Code::Unimplemented, "Not Implemented");
        };
        let request = match build_request(route, &bindings, query, body) {
            Ok(m) => m,
            Err(e) => return error_response(Code::InvalidArgument, &e),
        };
        let grpc = self.grpc.clone();
        let grpc_path = route.grpc_path.clone();
        let data = request.encode_to_vec();
        let answer = tokio::task::spawn_blocking(move || crate::grpc::handle(&grpc, &grpc_path, &data, height)).await;
        let response = match answer {
            Ok(Ok(resp)) => resp,
            Ok(Err(status)) => return error_response(status.code(), &status_message(&status)),
            Err(e) => return error_response(Code::Internal, &format!("query task failed: {e}")),
        };
        let height = response.metadata().get(HEIGHT_HEADER).and_then(|v| v.to_str().ok()).and_then(|s| s.parse().ok());
        let bytes = response.into_inner();
        let rendered = DynamicMessage::decode(route.output.clone(), bytes.as_slice())
            .map_err(|e| e.to_string())
            .and_then(|m| self.json.render(&m).map_err(|e| e.to_string()));
        match rendered {
            Ok(value) => json_response(StatusCode::OK, &value, height),
            Err(e) => error_response(Code::Internal, &format!("cannot render the response: {e}")),
        }
    }

    /// This node's own view, not consensus state (see docs/WEBAPP.md): what its executor did with
    /// a request (`/openledger/node/v1/inference/{id}`), the steps it streamed while training a
    /// fine-tune job (`/openledger/node/v1/training/{job_id}`), and whether it holds an adapter
    /// (`/openledger/node/v1/adapters/{hash}`).
    async fn node_local(self: Arc<Self>, path: &str) -> Option<HttpResponse> {
        let rest = path.strip_prefix("/openledger/node/v1/")?;
        let (kind, arg) = rest.split_once('/')?;
        let app = self.grpc.app.clone();
        let id = || arg.parse::<u64>().map_err(|_| error_response(Code::InvalidArgument, &format!("bad id {arg:?}")));
        let value = match kind {
            "inference" => match id() {
                Ok(id) => app.inference().local_status(id),
                Err(resp) => return Some(resp),
            },
            "training" => match id() {
                Ok(id) => match app.inference().training() {
                    Some(t) => t.progress_json(id),
                    None => serde_json::json!({"job_id": id.to_string(), "state": "none", "trains": false, "steps": []}),
                },
                Err(resp) => return Some(resp),
            },
            "adapters" => {
                if arg.len() != 64 || !arg.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Some(error_response(Code::InvalidArgument, "adapter hash must be 64 hex characters"));
                }
                let hash = arg.to_ascii_lowercase();
                match tokio::task::spawn_blocking(move || app.inference().local_adapter_status(&hash)).await {
                    Ok(v) => v,
                    Err(e) => return Some(error_response(Code::Internal, &format!("query task failed: {e}"))),
                }
            }
            _ => return None,
        };
        Some(json_response(StatusCode::OK, &value, None))
    }
}

fn build_request(route: &Route, bindings: &[(String, String)], query: &str, body: &[u8]) -> Result<DynamicMessage, String> {
    let mut message = DynamicMessage::new(route.input.clone());
    if route.body == "*" {
        message = json_message(route.input.clone(), body)?;
    } else if !route.body.is_empty() {
        let field = find_field(&route.input, &route.body).ok_or_else(|| format!("unknown body field {}", route.body))?;
        if let Kind::Message(inner) = field.kind() {
            message.set_field(&field, PValue::Message(json_message(inner, body)?));
        }
    }
    for (field, value) in bindings {
        set_field_path(&mut message, field, value)?;
    }
    if route.body.is_empty() {
        let bound: Vec<&str> = bindings.iter().map(|(f, _)| f.as_str()).collect();
        for (key, value) in parse_query_string(query)? {
            // Path variables win over the query string, as in the gateway.
            if !bound.contains(&key.as_str()) {
                set_field_path(&mut message, &key, &value)?;
            }
        }
    }
    Ok(message)
}

fn json_message(desc: MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DynamicMessage::new(desc));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let options = prost_reflect::DeserializeOptions::new().deny_unknown_fields(false);
    let message = DynamicMessage::deserialize_with_options(desc, &mut de, &options).map_err(|e| format!("invalid JSON body: {e}"))?;
    de.end().map_err(|e| format!("invalid JSON body: {e}"))?;
    Ok(message)
}

/// Serves REST on `addr` until the process ends.
pub async fn serve(app: Arc<App>, comet_rpc_url: String, addr: SocketAddr, mut documents: StaticDocuments) -> anyhow::Result<()> {
    if documents.dev_account.is_some() && !addr.ip().is_loopback() {
        tracing::warn!("REST on {addr} is not loopback: the dev account is not served");
        documents.dev_account = None;
    }
    if let Some(web) = &documents.web {
        tracing::info!("web app: http://{addr}{}/ from {}", crate::web::MOUNT, web.root().display());
    }
    let state = Arc::new(RestState::new(app, &comet_rpc_url, documents)?);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("REST server listening on {addr} ({} gateway routes)", state.routes.len());
    let limits = crate::http::Limits { max_connections: MAX_CONNECTIONS, header_timeout: HEADER_TIMEOUT, max_buf_bytes: MAX_HEADER_BYTES };
    crate::http::serve(listener, "REST", limits, move |req| {
        let state = state.clone();
        async move { state.respond(req).await }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<String> {
        path.trim_start_matches('/').split('/').map(str::to_string).collect()
    }

    #[test]
    fn path_templates_bind_variables_and_reject_mismatches() {
        let t = PathTemplate::parse("/cosmos/bank/v1beta1/balances/{address}/by_denom").expect("parse");
        assert_eq!(t.literal_count(), 5);
        assert_eq!(
            t.matches(&segments("/cosmos/bank/v1beta1/balances/open1xyz/by_denom")),
            Some(vec![("address".into(), "open1xyz".into())])
        );
        assert_eq!(t.matches(&segments("/cosmos/bank/v1beta1/balances/open1xyz")), None);
        assert_eq!(t.matches(&segments("/cosmos/bank/v1beta1/balances/open1xyz/by_denom/extra")), None);
        assert_eq!(t.matches(&segments("/cosmos/bank/v1beta1/balances//by_denom")), None);
        let rest = PathTemplate::parse("/cosmos/bank/v1beta1/denoms_metadata/{denom=**}").expect("parse");
        assert_eq!(rest.matches(&segments("/cosmos/bank/v1beta1/denoms_metadata/ibc/ABC")), Some(vec![("denom".into(), "ibc/ABC".into())]));
        assert_eq!(rest.matches(&segments("/cosmos/bank/v1beta1/denoms_metadata")), None);
        let nested = PathTemplate::parse("/a/{pagination.key}").expect("parse");
        assert_eq!(nested.segments[1], Segment::Variable("pagination.key".into()));
        for bad in ["no/slash", "/a/{x=foo/*}", "/a/{**=x}", "/a/b:verb", "/a/{x=**}/b", "/a//b", "/a/{}"] {
            assert_eq!(PathTemplate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn query_strings_decode_and_are_bounded() {
        let pairs = parse_query_string("pagination.limit=10&pagination.key=ab%2Bc%3D&denom=u+open&flag").expect("parse");
        assert_eq!(
            pairs,
            vec![
                ("pagination.limit".into(), "10".into()),
                ("pagination.key".into(), "ab+c=".into()),
                ("denom".into(), "u open".into()),
                ("flag".into(), String::new()),
            ]
        );
        assert!(parse_query_string("a=%zz").is_err());
        assert!(parse_query_string("a=%e2%82").is_err(), "truncated UTF-8");
        let many: Vec<String> = (0..=MAX_QUERY_PARAMS).map(|i| format!("k{i}=v")).collect();
        assert!(parse_query_string(&many.join("&")).is_err());
    }

    #[test]
    #[allow(deprecated)] // GetTxsEventRequest.events/pagination: still what REST clients send.
    fn query_parameters_fill_nested_repeated_enum_and_bytes_fields() {
        let pool = descriptor_pool().expect("pool");
        let desc = pool.get_message_by_name("cosmos.tx.v1beta1.GetTxsEventRequest").expect("message");
        let mut msg = DynamicMessage::new(desc);
        set_field_path(&mut msg, "events", "message.sender='open1a'").unwrap();
        set_field_path(&mut msg, "events", "transfer.recipient='open1b'").unwrap();
        set_field_path(&mut msg, "order_by", "ORDER_BY_DESC").unwrap();
        set_field_path(&mut msg, "pagination.limit", "5").unwrap();
        set_field_path(&mut msg, "pagination.count_total", "true").unwrap();
        set_field_path(&mut msg, "pagination.key", "AQI=").unwrap();
        set_field_path(&mut msg, "no_such_field", "ignored").unwrap();
        assert!(set_field_path(&mut msg, "pagination.limit", "-1").is_err());
        assert!(set_field_path(&mut msg, "order_by", "SIDEWAYS").is_err());
        assert!(set_field_path(&mut msg, "pagination.key", "***").is_err());
        let typed = cosmos_sdk_proto::cosmos::tx::v1beta1::GetTxsEventRequest::decode(msg.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(typed.events, vec!["message.sender='open1a'".to_string(), "transfer.recipient='open1b'".to_string()]);
        assert_eq!(typed.order_by, 2);
        let page = typed.pagination.expect("pagination");
        assert_eq!((page.limit, page.count_total, page.key), (5, true, vec![1, 2]));
        set_field_path(&mut msg, "order_by", "1").unwrap();
        let typed = cosmos_sdk_proto::cosmos::tx::v1beta1::GetTxsEventRequest::decode(msg.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(typed.order_by, 1);
    }

    #[test]
    fn routes_cover_served_services_and_prefer_literals() {
        let app = App::with_storage(openledger_core::storage::Storage::temporary().expect("store"));
        let pool = app_descriptor_pool(&app).expect("pool");
        let served = crate::grpc::service_names(&app);
        let table = routes(&pool, &served);
        let find = |verb: Method, path: &str| {
            let segs = segments(path);
            table.iter().find(|r| r.verb == verb && r.template.matches(&segs).is_some()).map(|r| r.grpc_path.clone())
        };
        assert_eq!(find(Method::GET, "/cosmos/bank/v1beta1/balances/open1x").as_deref(), Some("/cosmos.bank.v1beta1.Query/AllBalances"));
        assert_eq!(
            find(Method::GET, "/cosmos/bank/v1beta1/balances/open1x/by_denom").as_deref(),
            Some("/cosmos.bank.v1beta1.Query/Balance")
        );
        assert_eq!(find(Method::GET, "/cosmos/auth/v1beta1/accounts/open1x").as_deref(), Some("/cosmos.auth.v1beta1.Query/Account"));
        assert_eq!(find(Method::POST, "/cosmos/tx/v1beta1/txs").as_deref(), Some("/cosmos.tx.v1beta1.Service/BroadcastTx"));
        assert_eq!(find(Method::GET, "/cosmos/tx/v1beta1/txs/ABCD").as_deref(), Some("/cosmos.tx.v1beta1.Service/GetTx"));
        assert_eq!(find(Method::GET, "/cosmos/staking/v1beta1/validators").as_deref(), Some("/cosmos.staking.v1beta1.Query/Validators"));
        assert_eq!(find(Method::GET, "/cosmos/gov/v1/proposals/1").as_deref(), Some("/cosmos.gov.v1.Query/Proposal"));
        assert_eq!(find(Method::GET, "/openledger/datanet/v1/datanets/7").as_deref(), Some("/openledger.datanet.v1.Query/Datanet"));
        assert_eq!(find(Method::GET, "/openledger/auth/v1/fee_params").as_deref(), Some("/openledger.auth.v1.Query/FeeParams"));
        assert_eq!(find(Method::GET, "/cosmos/nothing/here"), None);
        let tendermint = |method: &str| Some(format!("/{}/{method}", crate::grpc::TENDERMINT_SERVICE));
        assert_eq!(find(Method::GET, "/cosmos/base/tendermint/v1beta1/blocks/latest"), tendermint("GetLatestBlock"));
        assert_eq!(find(Method::GET, "/cosmos/base/tendermint/v1beta1/blocks/12"), tendermint("GetBlockByHeight"));
        assert_eq!(find(Method::GET, "/cosmos/base/tendermint/v1beta1/validatorsets/latest"), tendermint("GetLatestValidatorSet"));
        assert_eq!(find(Method::GET, "/cosmos/base/tendermint/v1beta1/validatorsets/12"), tendermint("GetValidatorSetByHeight"));
        assert_eq!(find(Method::GET, "/cosmos/base/tendermint/v1beta1/abci_query"), tendermint("ABCIQuery"));
        assert_eq!(find(Method::GET, "/cosmos/base/tendermint/v1beta1/node_info"), tendermint("GetNodeInfo"));
        // Every served service has at least one route.
        for service in served {
            assert!(
                table.iter().any(|r| r.grpc_path.starts_with(&format!("/{service}/"))),
                "{service} has no REST route: give its methods google.api.http options"
            );
        }
    }

    #[test]
    fn sdk_json_matches_the_gateway_for_accounts_and_pages() {
        let pool = descriptor_pool().expect("pool");
        let json = SdkJson::new(pool.clone());
        let account = cosmos_sdk_proto::cosmos::auth::v1beta1::BaseAccount {
            address: "open1abc".into(),
            pub_key: None,
            account_number: 7,
            sequence: 0,
        };
        let resp = cosmos_sdk_proto::cosmos::auth::v1beta1::QueryAccountResponse {
            account: Some(cosmos_sdk_proto::Any { type_url: "/cosmos.auth.v1beta1.BaseAccount".into(), value: account.encode_to_vec() }),
        };
        let desc = pool.get_message_by_name("cosmos.auth.v1beta1.QueryAccountResponse").expect("desc");
        let msg = DynamicMessage::decode(desc, resp.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(
            json.render(&msg).expect("render"),
            json!({"account": {"@type": "/cosmos.auth.v1beta1.BaseAccount", "address": "open1abc", "pub_key": null, "account_number": "7", "sequence": "0"}})
        );
        let balances = cosmos_sdk_proto::cosmos::bank::v1beta1::QueryAllBalancesResponse {
            balances: vec![],
            pagination: Some(cosmos_sdk_proto::cosmos::base::query::v1beta1::PageResponse { next_key: vec![], total: 0 }),
        };
        let desc = pool.get_message_by_name("cosmos.bank.v1beta1.QueryAllBalancesResponse").expect("desc");
        let msg = DynamicMessage::decode(desc, balances.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(json.render(&msg).expect("render"), json!({"balances": [], "pagination": {"next_key": null, "total": "0"}}));
        // Dec custom types: atomics on the wire, decimal in JSON; non-nullable messages present.
        let validator =
            cosmos_sdk_proto::cosmos::staking::v1beta1::Validator { delegator_shares: "1000000000000000000".into(), ..Default::default() };
        let desc = pool.get_message_by_name("cosmos.staking.v1beta1.Validator").expect("desc");
        let msg = DynamicMessage::decode(desc, validator.encode_to_vec().as_slice()).expect("decode");
        let v = json.render(&msg).expect("render");
        assert_eq!(v["delegator_shares"], "1.000000000000000000");
        assert_eq!(v["status"], "BOND_STATUS_UNSPECIFIED");
        assert_eq!(v["consensus_pubkey"], Value::Null);
        assert_eq!(v["description"]["moniker"], "");
        assert_eq!(v["commission"]["commission_rates"]["rate"], "0.000000000000000000", "an unset Dec is zero, as in Go");
        assert_eq!(v["unbonding_time"], "0001-01-01T00:00:00Z");
    }
}
