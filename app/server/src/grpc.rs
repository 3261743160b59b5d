//! The gRPC server (port 9090, loopback by default). Every query service is served by one
//! generic handler that passes the request bytes to the same router ABCI Query uses, so gRPC and
//! `abci_query` can never disagree. `cosmos.tx.v1beta1.Service` adds Simulate (in-process),
//! BroadcastTx and GetTx/GetTxsEvent (through CometBFT's RPC); the node-level services are
//! `cosmos.consensus.v1.Query`, `cosmos.base.node.v1beta1.Service` and
//! `cosmos.base.tendermint.v1beta1.Service` ([`crate::cmt_service`]). Heights: the request header
//! `x-cosmos-block-height` selects a past version; every answer carries the height it read.

// tonic's `Status` is the error type of every gRPC handler; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut};
use cosmos_sdk_proto::cosmos::tx::v1beta1 as txpb;
use openledger_core::QueryError;
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Request, Response, Status};

use crate::rpc_client::{CometRpc, IndexedTx};
use openledger_node::app::{tx_response, App};

/// Header carrying the query height, as in the SDK.
pub const HEIGHT_HEADER: &str = "x-cosmos-block-height";
/// The tx service.
pub const TX_SERVICE: &str = "cosmos.tx.v1beta1.Service";

/// Every gRPC service name served: the registry's query services, the tx service and the
/// node-level services.
pub fn service_names(app: &App) -> Vec<&'static str> {
    let mut names = app.query_service_names();
    names.extend([TX_SERVICE, CONSENSUS_SERVICE, NODE_SERVICE, TENDERMINT_SERVICE]);
    names
}

/// `cosmos.consensus.v1.Query`: the consensus params (clients read the block gas limit from it).
pub const CONSENSUS_SERVICE: &str = "cosmos.consensus.v1.Query";
/// `cosmos.base.node.v1beta1.Service`: the node's config (minimum gas price) and status.
pub const NODE_SERVICE: &str = "cosmos.base.node.v1beta1.Service";
/// `cosmos.base.tendermint.v1beta1.Service`: node info, syncing, blocks and validator sets from
/// CometBFT, ABCIQuery from the app ([`crate::cmt_service`]).
pub const TENDERMINT_SERVICE: &str = "cosmos.base.tendermint.v1beta1.Service";

/// `cosmos.consensus.v1.Query/Params`, from CometBFT's `/consensus_params` (the params CometBFT
/// enforces; `version` is left out, as the SDK leaves it to x/upgrade).
fn consensus_params(shared: &GrpcShared) -> Result<Response<Vec<u8>>, Status> {
    use tendermint_proto::types as tm;
    let v = shared.comet.call("consensus_params", serde_json::json!({})).map_err(unavailable)?;
    let p = &v["consensus_params"];
    let int = |x: &serde_json::Value| -> i64 { x.as_str().and_then(|s| s.parse().ok()).or_else(|| x.as_i64()).unwrap_or(0) };
    let age_ns = int(&p["evidence"]["max_age_duration"]);
    let params = tm::ConsensusParams {
        block: Some(tm::BlockParams { max_bytes: int(&p["block"]["max_bytes"]), max_gas: int(&p["block"]["max_gas"]) }),
        evidence: Some(tm::EvidenceParams {
            max_age_num_blocks: int(&p["evidence"]["max_age_num_blocks"]),
            max_age_duration: Some(tendermint_proto::google::protobuf::Duration {
                seconds: age_ns / 1_000_000_000,
                nanos: i32::try_from(age_ns % 1_000_000_000).unwrap_or(0),
            }),
            max_bytes: int(&p["evidence"]["max_bytes"]),
        }),
        validator: Some(tm::ValidatorParams {
            pub_key_types: p["validator"]["pub_key_types"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        }),
        version: None,
        abci: Some(tm::AbciParams { vote_extensions_enable_height: int(&p["abci"]["vote_extensions_enable_height"]) }),
    };
    let height = u64::try_from(int(&v["block_height"])).unwrap_or(0);
    Ok(with_height(ConsensusParamsResponse { params: Some(params) }.encode_to_vec(), height))
}

/// `cosmos.consensus.v1.QueryParamsResponse` (cosmos-sdk-proto 0.27 does not export the
/// consensus module's types; this is the same wire shape).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConsensusParamsResponse {
    /// The consensus params CometBFT enforces.
    #[prost(message, optional, tag = "1")]
    pub params: Option<tendermint_proto::types::ConsensusParams>,
}

/// `cosmos.base.node.v1beta1.Service/{Config,Status}` from the app's committed state.
fn node_service(shared: &GrpcShared, method: &str) -> Result<Response<Vec<u8>>, Status> {
    use cosmos_sdk_proto::cosmos::base::node::v1beta1 as node;
    use openledger_core::StateReadExt;
    let storage = shared.app.storage();
    let (height, app_hash) = storage.last_committed();
    let state = openledger_core::state::LatestSnapshot(storage.clone());
    let bytes = match method {
        "Config" => {
            let fees = openledger_auth::params::fee_params(&state).map_err(|e| Status::internal(e.to_string()))?;
            // Nothing is pruned and no halt height is set: the store keeps every version.
            node::ConfigResponse {
                minimum_gas_price: format!("{}{}", fees.min_gas_price, openledger_core::coin::BASE_DENOM),
                pruning_keep_recent: "0".into(),
                pruning_interval: "0".into(),
                halt_height: 0,
            }
            .encode_to_vec()
        }
        "Status" => {
            let timestamp = state
                .get_proto::<tendermint_proto::google::protobuf::Timestamp>(openledger_node::state_key::LAST_BLOCK_TIME)
                .map_err(|e| Status::internal(e.to_string()))?;
            node::StatusResponse {
                earliest_store_height: u64::from(height > 0),
                height,
                timestamp,
                app_hash: app_hash.to_vec(),
                validator_hash: Vec::new(),
            }
            .encode_to_vec()
        }
        other => return Err(Status::unimplemented(format!("unknown method {other} of {NODE_SERVICE}"))),
    };
    Ok(with_height(bytes, height))
}

/// Passes message bytes through untouched (the router decodes them).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

/// Encoder half of [`RawCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

/// Decoder half of [`RawCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// What every service handle shares.
pub struct GrpcShared {
    /// The app.
    pub app: Arc<App>,
    /// CometBFT RPC for broadcasts, tx lookups, blocks and validator sets.
    pub comet: CometRpc,
    /// The services answered ([`service_names`]).
    pub services: Vec<&'static str>,
}

impl GrpcShared {
    /// What the gRPC and REST servers share.
    pub fn new(app: Arc<App>, comet_rpc_url: &str) -> Self {
        let services = service_names(&app);
        Self { app, comet: CometRpc::new(comet_rpc_url), services }
    }
}

/// Every gRPC service answered by the shared router: tonic routes reflection by name and sends
/// every other path here. A service the app does not serve answers UNIMPLEMENTED naming it, as
/// grpc-go does.
#[derive(Clone)]
pub struct GrpcService(Arc<GrpcShared>);

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<B> tower::Service<http::Request<B>> for GrpcService
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let shared = self.0.clone();
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let service = path.trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
            if !shared.services.iter().any(|s| *s == service) {
                return Ok(Status::unimplemented(format!("unknown service {service}")).into_http());
            }
            let req = req.map(tonic::body::Body::new);
            let mut grpc = tonic::server::Grpc::new(RawCodec).max_decoding_message_size(MAX_REQUEST_BYTES);
            Ok(grpc.unary(Unary { shared, path }, req).await)
        })
    }
}

struct Unary {
    shared: Arc<GrpcShared>,
    path: String,
}

fn status_of(err: &QueryError) -> Status {
    match err {
        QueryError::NotFound(m) => Status::not_found(m.clone()),
        QueryError::InvalidArgument(m) | QueryError::InvalidHeight(m) => Status::invalid_argument(m.clone()),
        QueryError::UnknownPath(m) => Status::unimplemented(m.clone()),
        QueryError::Internal(m) => Status::internal(m.clone()),
    }
}

fn with_height(bytes: Vec<u8>, height: u64) -> Response<Vec<u8>> {
    let mut resp = Response::new(bytes);
    if let Ok(v) = height.to_string().parse() {
        resp.metadata_mut().insert(HEIGHT_HEADER, v);
    }
    resp
}

impl tonic::server::UnaryService<Vec<u8>> for Unary {
    type Response = Vec<u8>;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Status>>;

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        let shared = self.shared.clone();
        let path = self.path.clone();
        Box::pin(async move {
            let height: i64 = match request.metadata().get(HEIGHT_HEADER) {
                Some(v) => v
                    .to_str()
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Status::invalid_argument("invalid x-cosmos-block-height header"))?,
                None => 0,
            };
            let data = request.into_inner();
            tokio::task::spawn_blocking(move || handle(&shared, &path, &data, height))
                .await
                .map_err(|e| Status::internal(format!("query task failed: {e}")))?
        })
    }
}

/// Answers one gRPC method call (`/<service>/<method>` with protobuf request bytes); the REST
/// gateway calls it too, so both surfaces share one router. Blocking (CometBFT RPC, storage).
pub fn handle(shared: &GrpcShared, path: &str, data: &[u8], height: i64) -> Result<Response<Vec<u8>>, Status> {
    let tx_prefix = format!("/{TX_SERVICE}/");
    if let Some(method) = path.strip_prefix(&tx_prefix) {
        return tx_service(shared, method, data);
    }
    if path == format!("/{CONSENSUS_SERVICE}/Params") {
        return consensus_params(shared);
    }
    if let Some(method) = path.strip_prefix(&format!("/{NODE_SERVICE}/")) {
        return node_service(shared, method);
    }
    if let Some(method) = path.strip_prefix(&format!("/{TENDERMINT_SERVICE}/")) {
        // As the SDK's: the answer carries the height of the app's committed state.
        let height = shared.app.storage().last_committed().0;
        return crate::cmt_service::answer(shared, method, data).map(|bytes| with_height(bytes, height));
    }
    match shared.app.grpc_query(path, data, height) {
        Ok((bytes, h)) => Ok(with_height(bytes, h)),
        Err((err, _)) => Err(status_of(&err)),
    }
}

/// The node-level services (consensus params, node config and status, CometBFT's service) over
/// ABCI Query, as the SDK serves them there too.
struct NodeQueryBridge(Arc<GrpcShared>);

impl openledger_node::app::NodeQueries for NodeQueryBridge {
    fn answer(&self, path: &str, data: &[u8]) -> Option<Result<(Vec<u8>, u64), QueryError>> {
        let service = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        if ![CONSENSUS_SERVICE, NODE_SERVICE, TENDERMINT_SERVICE].contains(&service) {
            return None;
        }
        Some(match handle(&self.0, path, data, 0) {
            Ok(response) => {
                let height = response.metadata().get(HEIGHT_HEADER).and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0);
                Ok((response.into_inner(), height))
            }
            Err(status) => Err(match status.code() {
                tonic::Code::NotFound => QueryError::NotFound(status.message().into()),
                tonic::Code::InvalidArgument => QueryError::InvalidArgument(status.message().into()),
                tonic::Code::Unimplemented => QueryError::UnknownPath(status.message().into()),
                _ => QueryError::Internal(status.message().into()),
            }),
        })
    }
}

/// Decodes a request message (INVALID_ARGUMENT when it does not decode).
pub(crate) fn decode<M: Message + Default>(data: &[u8]) -> Result<M, Status> {
    M::decode(data).map_err(|e| Status::invalid_argument(format!("invalid request: {e}")))
}

fn unavailable(e: impl std::fmt::Display) -> Status {
    Status::unavailable(e.to_string())
}

/// Converts an indexed tx into the SDK's (Tx, TxResponse) pair.
fn indexed_to_sdk(comet: &CometRpc, indexed: &IndexedTx) -> (Option<txpb::Tx>, cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxResponse) {
    let raw = txpb::TxRaw::decode(indexed.tx.as_slice()).ok();
    let tx = raw.as_ref().map(|r| txpb::Tx {
        body: txpb::TxBody::decode(r.body_bytes.as_slice()).ok(),
        auth_info: txpb::AuthInfo::decode(r.auth_info_bytes.as_slice()).ok(),
        signatures: r.signatures.clone(),
    });
    let result = tendermint_proto::v0_38::abci::ExecTxResult {
        code: indexed.code,
        data: indexed.data.clone().into(),
        log: indexed.log.clone(),
        info: String::new(),
        gas_wanted: indexed.gas_wanted,
        gas_used: indexed.gas_used,
        events: indexed
            .events
            .iter()
            .map(|(kind, attrs)| tendermint_proto::v0_38::abci::Event {
                r#type: kind.clone(),
                attributes: attrs
                    .iter()
                    .map(|(k, v)| tendermint_proto::v0_38::abci::EventAttribute { key: k.clone(), value: v.clone(), index: true })
                    .collect(),
            })
            .collect(),
        codespace: indexed.codespace.clone(),
    };
    let any = tx.as_ref().map(|t| cosmos_sdk_proto::Any { type_url: "/cosmos.tx.v1beta1.Tx".into(), value: t.encode_to_vec() });
    let timestamp = comet.block_time(indexed.height).unwrap_or_default();
    (tx, tx_response(indexed.height, &indexed.hash, &result, any, timestamp))
}

fn tx_service(shared: &GrpcShared, method: &str, data: &[u8]) -> Result<Response<Vec<u8>>, Status> {
    let height = shared.app.storage().last_committed().0;
    match method {
        "Simulate" => {
            let req: txpb::SimulateRequest = decode(data)?;
            let resp = shared
                .app
                .simulate(&req)
                .map_err(|e| Status::invalid_argument(format!("{} (codespace {}, code {})", e.log, e.codespace, e.code)))?;
            Ok(with_height(resp.encode_to_vec(), height))
        }
        "BroadcastTx" => {
            let req: txpb::BroadcastTxRequest = decode(data)?;
            if req.tx_bytes.is_empty() {
                return Err(Status::invalid_argument("invalid empty tx"));
            }
            let r = shared.comet.broadcast_tx_sync(&req.tx_bytes).map_err(unavailable)?;
            #[allow(deprecated)]
            let tx_response = cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxResponse {
                txhash: r.hash,
                code: r.code,
                codespace: r.codespace,
                raw_log: r.log,
                ..Default::default()
            };
            Ok(with_height(txpb::BroadcastTxResponse { tx_response: Some(tx_response) }.encode_to_vec(), height))
        }
        "GetTx" => {
            let req: txpb::GetTxRequest = decode(data)?;
            if req.hash.len() != 64 || !req.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Status::invalid_argument("tx hash must be 64 hex characters"));
            }
            let found = shared.comet.tx_by_hash(&req.hash).map_err(unavailable)?;
            let indexed = found.ok_or_else(|| Status::not_found(format!("tx not found: {}", req.hash)))?;
            let (tx, tx_response) = indexed_to_sdk(&shared.comet, &indexed);
            Ok(with_height(txpb::GetTxResponse { tx, tx_response: Some(tx_response) }.encode_to_vec(), height))
        }
        "GetTxsEvent" => {
            let req: txpb::GetTxsEventRequest = decode(data)?;
            #[allow(deprecated)]
            let query = if !req.query.is_empty() { req.query.clone() } else { req.events.join(" AND ") };
            if query.is_empty() || query.len() > 1024 {
                return Err(Status::invalid_argument("query must be non-empty and at most 1024 bytes"));
            }
            let limit = if req.limit == 0 { 100 } else { req.limit.min(100) };
            let page = req.page.clamp(1, 10_000);
            let (found, total) = shared
                .comet
                .tx_search(
                    &query,
                    u32::try_from(page).unwrap_or(1),
                    u32::try_from(limit).unwrap_or(100),
                    req.order_by == txpb::OrderBy::Desc as i32,
                )
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            let mut txs = Vec::new();
            let mut tx_responses = Vec::new();
            for indexed in &found {
                let (tx, resp) = indexed_to_sdk(&shared.comet, indexed);
                txs.push(tx.unwrap_or_default());
                tx_responses.push(resp);
            }
            #[allow(deprecated)]
            let resp = txpb::GetTxsEventResponse { txs, tx_responses, pagination: None, total };
            Ok(with_height(resp.encode_to_vec(), height))
        }
        other => Err(Status::unimplemented(format!("method {other} of {TX_SERVICE} is not served"))),
    }
}

/// Keeps only the services in `served` in a descriptor set (imports such as
/// `tendermint/abci/types.proto` also declare services that must not be advertised).
pub fn served_descriptors(encoded: &[u8], served: &[&str]) -> anyhow::Result<Vec<u8>> {
    let mut set = prost_types::FileDescriptorSet::decode(encoded)?;
    for file in &mut set.file {
        let package = file.package.clone().unwrap_or_default();
        file.service.retain(|svc| {
            let full = format!("{package}.{}", svc.name.as_deref().unwrap_or_default());
            served.contains(&full.as_str())
        });
    }
    Ok(set.encode_to_vec())
}

/// Serves gRPC (with server reflection) on `addr` until the process ends.
pub async fn serve(app: Arc<App>, comet_rpc_url: String, addr: SocketAddr) -> anyhow::Result<()> {
    let shared = Arc::new(GrpcShared::new(app, &comet_rpc_url));
    shared.app.set_node_queries(Arc::new(NodeQueryBridge(shared.clone())));
    let mut sets = vec![openledger_proto::FILE_DESCRIPTOR_SET, openledger_proto::COSMOS_FILE_DESCRIPTOR_SET];
    sets.extend(shared.app.modules().registry.descriptor_sets());
    let served: Vec<Vec<u8>> = sets.into_iter().map(|set| served_descriptors(set, &shared.services)).collect::<anyhow::Result<_>>()?;
    // Reflection in both versions, as the SDK serves it: grpcurl and newer clients speak v1,
    // older ones (grpc-java before 1.57, some Python and Go tools) only v1alpha.
    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure();
        for set in &served {
            builder = builder.register_encoded_file_descriptor_set(set);
        }
        builder
    };
    let routes = tonic::service::Routes::new(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .into_axum_router()
        .fallback_service(GrpcService(shared));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("gRPC server listening on {addr} (at most {MAX_CONNECTIONS} connections, {MAX_STREAMS_PER_CONNECTION} calls each)");
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(MAX_STREAMS_PER_CONNECTION)
        .max_concurrent_streams(Some(u32::try_from(MAX_STREAMS_PER_CONNECTION).unwrap_or(u32::MAX)))
        .timeout(CALL_TIMEOUT)
        .http2_max_header_list_size(Some(MAX_HEADER_BYTES))
        .tcp_keepalive(Some(std::time::Duration::from_secs(60)))
        .add_routes(tonic::service::Routes::from(routes))
        .serve_with_incoming(limited_connections(listener))
        .await?;
    Ok(())
}

/// Connections served at once (as the REST server's bound); more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 256;
/// Calls in flight on one connection.
pub const MAX_STREAMS_PER_CONNECTION: usize = 32;
/// Longest a call may run before it is cancelled (DEADLINE_EXCEEDED-like `cancelled` status).
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Largest request message (the decoder refuses bigger ones with OUT_OF_RANGE).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
/// Largest header list of a call.
pub const MAX_HEADER_BYTES: u32 = 16 * 1024;

/// The accepted connections, each holding one of [`MAX_CONNECTIONS`] permits until it closes.
fn limited_connections(listener: tokio::net::TcpListener) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<LimitedConn>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        while let Ok((stream, permit)) = crate::http::accept(&listener, &permits, "gRPC").await {
            let _ = stream.set_nodelay(true);
            if tx.send(Ok(LimitedConn { stream, _permit: permit })).await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A TCP connection that returns its permit when it closes.
pub struct LimitedConn {
    stream: tokio::net::TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl tonic::transport::server::Connected for LimitedConn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl tokio::io::AsyncRead for LimitedConn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for LimitedConn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_service_is_routed_and_reflection_lists_only_served_services() {
        let app = App::with_storage(openledger_core::storage::Storage::temporary().expect("store"));
        let served = service_names(&app);
        assert!(served.contains(&"cosmos.bank.v1beta1.Query") && served.contains(&TX_SERVICE), "{served:?}");
        let filtered = served_descriptors(openledger_proto::COSMOS_FILE_DESCRIPTOR_SET, &served).expect("descriptors");
        let set = prost_types::FileDescriptorSet::decode(filtered.as_slice()).expect("decode");
        let services: Vec<String> =
            set.file.iter().flat_map(|f| f.service.iter().map(move |s| format!("{}.{}", f.package(), s.name()))).collect();
        assert!(services.contains(&"cosmos.bank.v1beta1.Query".to_string()));
        assert!(services.contains(&TX_SERVICE.to_string()));
        assert!(!services.iter().any(|s| s.starts_with("tendermint.")), "{services:?}");
        // Our own protos also hold the gpu-executor's service, which this server does not serve.
        let ours = served_descriptors(openledger_proto::FILE_DESCRIPTOR_SET, &served).expect("descriptors");
        let set = prost_types::FileDescriptorSet::decode(ours.as_slice()).expect("decode");
        let services: Vec<String> =
            set.file.iter().flat_map(|f| f.service.iter().map(move |s| format!("{}.{}", f.package(), s.name()))).collect();
        assert!(services.contains(&"openledger.inference.v1.Query".to_string()), "{services:?}");
        assert!(services.contains(&"openledger.attribution.v1.Query".to_string()), "{services:?}");
        assert!(!services.iter().any(|s| s.starts_with("openledger.executor.")), "{services:?}");
        for s in &services {
            assert!(served.contains(&s.as_str()), "{s} is advertised but not served");
        }
        // And every served service is advertised (the node-level ones from the SDK's protos).
        let mut sets = vec![openledger_proto::FILE_DESCRIPTOR_SET, openledger_proto::COSMOS_FILE_DESCRIPTOR_SET];
        sets.extend(app.modules().registry.descriptor_sets());
        let mut advertised = Vec::new();
        for set in sets {
            let set =
                prost_types::FileDescriptorSet::decode(served_descriptors(set, &served).expect("descriptors").as_slice()).expect("decode");
            advertised.extend(set.file.iter().flat_map(|f| f.service.iter().map(move |s| format!("{}.{}", f.package(), s.name()))));
        }
        for s in &served {
            assert!(advertised.iter().any(|a| a == s), "{s} is served but reflection does not list it");
        }
        assert!(served.contains(&TENDERMINT_SERVICE));
    }
}
