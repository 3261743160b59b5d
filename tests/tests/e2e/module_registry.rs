//! A module is one folder plus one registry line: this file defines a whole module (a counter:
//! its message, its query service with a REST route, its genesis section, a typed event, its
//! proto compiled by `tests/build.rs`) and registers it with one line, `Modules::with_extra`.
//! A tx of its message then runs through CheckTx and FinalizeBlock, its query answers over ABCI,
//! gRPC (with reflection) and REST, and its genesis exports, with nothing else changed in the app.

use std::net::SocketAddr;
use std::sync::Arc;

use cosmos_sdk_proto::Any;
use openledger_app::app::App;
use openledger_app::client::SignModeChoice;
use openledger_app::modules::Modules;
use openledger_core::module::{
    account_field, genesis_section, invalid_request, pack_response, route, to_genesis_section, Module, MsgHandler, ValidatorUpdate,
};
use openledger_core::query::{unary, QueryService};
use openledger_core::storage::Storage;
use openledger_core::{proto_msg, AbciError, Event, QueryError, StateRead, StateReadExt, StateWrite, StateWriteExt, TypedEvent};
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tendermint_proto::v0_38::abci as pb;

use super::app_level::{dev, genesis_with, min_fee, next_height, query, run_block, sign_with, CHAIN_ID, GAS};

/// The counter's generated proto types.
#[allow(missing_docs, dead_code, clippy::all)]
mod counter_pb {
    include!(concat!(env!("OUT_DIR"), "/openledger.counter.v1.rs"));
}

/// The counter's descriptor set (gRPC reflection and REST routes read it).
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/counter_descriptor.bin"));

const COUNT_KEY: &[u8] = b"counter/count";
const QUERY_SERVICE: &str = "openledger.counter.v1.Query";

/// The counter's keeper: it keeps nothing but reads and writes its one key.
#[derive(Debug, Clone, Copy)]
pub struct CounterKeeper;

impl CounterKeeper {
    fn count(self, state: &dyn StateRead) -> Result<u64, openledger_core::StateError> {
        Ok(state.get_proto::<u64>(COUNT_KEY)?.unwrap_or(0))
    }
}

/// The counter's typed event.
struct Incremented {
    by: String,
    count: u64,
}

impl TypedEvent for Incremented {
    fn into_event(self) -> Event {
        Event::new("counter_incremented").attr("by", self.by).attr("count", self.count.to_string())
    }
}

proto_msg! {
    /// `openledger.counter.v1.MsgIncrement`
    Increment(counter_pb::MsgIncrement), url "/openledger.counter.v1.MsgIncrement", module "counter", keeper CounterKeeper;
    check(m) {
        account_field("sender", &m.sender)?;
        if m.amount == 0 {
            return Err(invalid_request("amount must be positive"));
        }
    }
    signers(m) account_field("sender", &m.sender).into_iter().collect();
    amino(m) json!({"type": "openledger/MsgIncrement", "value": {"amount": m.amount.to_string(), "sender": m.sender}});
    execute(m, keeper, state) {
        let st = |e: openledger_core::StateError| AbciError::from_code(&e);
        let count = keeper.count(state).map_err(st)?.checked_add(m.amount).ok_or_else(|| invalid_request("counter overflow"))?;
        state.put_proto(COUNT_KEY.to_vec(), &count).map_err(st)?;
        state.emit_typed(Incremented { by: m.sender.clone(), count });
        Ok(pack_response(Self::TYPE_URL, &counter_pb::MsgIncrementResponse { count }))
    }
}

struct CounterQuery;

impl QueryService for CounterQuery {
    fn services(&self) -> &'static [&'static str] {
        &[QUERY_SERVICE]
    }
    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        match method {
            "Count" => {
                unary(data, |_: counter_pb::QueryCountRequest| Ok(counter_pb::QueryCountResponse { count: CounterKeeper.count(state)? }))
            }
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
        }
    }
}

/// The genesis section, in the proto's JSON mapping (64-bit integers as strings).
#[derive(Debug, Default, Serialize, Deserialize)]
struct CounterGenesis {
    #[serde(with = "openledger_core::serde_str")]
    count: u64,
}

struct CounterModule;

impl Module for CounterModule {
    fn name(&self) -> &'static str {
        "counter"
    }
    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        vec![route::<Increment>(Arc::new(CounterKeeper))]
    }
    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(CounterQuery))
    }
    fn descriptor_set(&self) -> Option<&'static [u8]> {
        Some(DESCRIPTORS)
    }
    fn init_genesis(
        &self,
        state: &mut dyn StateWrite,
        _: openledger_core::block::BlockInfo,
        genesis: Option<&serde_json::Value>,
    ) -> Result<Vec<ValidatorUpdate>, AbciError> {
        let section: CounterGenesis = genesis_section(self.name(), genesis)?;
        state.put_proto(COUNT_KEY.to_vec(), &section.count).map_err(|e| AbciError::from_code(&e))?;
        Ok(Vec::new())
    }
    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<serde_json::Value>, AbciError> {
        let count = CounterKeeper.count(state).map_err(|e| AbciError::from_code(&e))?;
        to_genesis_section(self.name(), &CounterGenesis { count })
    }
}

fn increment(amount: u64) -> Any {
    let msg = counter_pb::MsgIncrement { sender: dev().address().to_bech32(), amount };
    Any { type_url: "/openledger.counter.v1.MsgIncrement".into(), value: msg.encode_to_vec() }
}

fn count_over_abci(app: &App) -> u64 {
    let res = query(app, "/openledger.counter.v1.Query/Count", Vec::new());
    assert_eq!(res.code, 0, "{}", res.log);
    counter_pb::QueryCountResponse::decode(res.value.as_ref()).expect("decode").count
}

/// The app with the counter registered (the one line) and a genesis that sets it to 5.
fn counter_app() -> App {
    let app = App::with_modules(Storage::temporary().expect("store"), Modules::with_extra(vec![Box::new(CounterModule)]));
    let mut app_state = serde_json::to_value(genesis_with(&[])).expect("genesis");
    app_state["counter"] = json!({"count": "5"});
    let req = pb::RequestInitChain {
        time: Some(tendermint_proto::google::protobuf::Timestamp { seconds: 1_700_000_000, nanos: 0 }),
        chain_id: CHAIN_ID.into(),
        app_state_bytes: serde_json::to_vec(&app_state).expect("serializes").into(),
        initial_height: 1,
        ..Default::default()
    };
    app.init_chain(&req).expect("init_chain");
    run_block(&app, &[]);
    app
}

#[test]
fn a_module_registered_with_one_line_runs_txs_answers_queries_and_exports_genesis() {
    let app = counter_app();
    assert_eq!(count_over_abci(&app), 5, "genesis section imported");

    // CheckTx, then FinalizeBlock: the message is routed, its event and the SDK's `message`
    // event carry the module's name.
    let dev = dev();
    let tx = sign_with(&app, &dev, vec![increment(3)], GAS, min_fee(GAS), None, SignModeChoice::Direct, "");
    let check = app.check_tx(&pb::RequestCheckTx { tx: tx.clone().into(), r#type: 0 });
    assert_eq!(check.code, 0, "{}", check.log);
    let result = run_block(&app, &[tx]).tx_results.remove(0);
    assert_eq!(result.code, 0, "{}", result.log);
    let event = |kind: &str| result.events.iter().find(|e| e.r#type == kind).cloned().unwrap_or_else(|| panic!("no {kind} event"));
    let message = event("message");
    assert!(message.attributes.iter().any(|a| a.key == "module" && a.value == "counter"), "{message:?}");
    let incremented = event("counter_incremented");
    assert!(incremented.attributes.iter().any(|a| a.key == "count" && a.value == "8"), "{incremented:?}");
    assert_eq!(count_over_abci(&app), 8);

    // Its stateless check gives the SDK's code before any state is touched.
    let zero = sign_with(&app, &dev, vec![increment(0)], GAS, min_fee(GAS), None, SignModeChoice::Direct, "");
    let check = app.check_tx(&pb::RequestCheckTx { tx: zero.into(), r#type: 0 });
    assert_eq!((check.codespace.as_str(), check.code), ("sdk", 18), "{}", check.log);

    // Genesis export has its section, and a fresh app imports the export to the same count.
    let exported = app.export_genesis().expect("export");
    assert_eq!(exported["counter"], json!({"count": "8"}));
    assert!(exported.contains_key("bank") && exported.contains_key("stake"));
    assert_eq!(next_height(&app), 3);
    let fresh = App::with_modules(Storage::temporary().expect("store"), Modules::with_extra(vec![Box::new(CounterModule)]));
    fresh
        .init_chain(&pb::RequestInitChain {
            chain_id: CHAIN_ID.into(),
            app_state_bytes: serde_json::to_vec(&exported).expect("serializes").into(),
            initial_height: 1,
            ..Default::default()
        })
        .expect("the export imports");
    run_block(&fresh, &[]);
    assert_eq!(count_over_abci(&fresh), 8);

    // gRPC (the generic router and reflection) and REST (a route from the module's
    // google.api.http option) on loopback.
    let app = Arc::new(app);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let grpc_addr: SocketAddr = format!("127.0.0.1:{}", openledger_tests::free_port()).parse().expect("addr");
    let rest_addr: SocketAddr = format!("127.0.0.1:{}", openledger_tests::free_port()).parse().expect("addr");
    // No CometBFT runs here: only the tx service would call it.
    let comet = "http://127.0.0.1:1".to_string();
    runtime.spawn(openledger_app::grpc::serve(app.clone(), comet.clone(), grpc_addr));
    runtime.spawn(openledger_app::rest::serve(app.clone(), comet, rest_addr, Default::default()));

    let count_over_grpc = runtime.block_on(async {
        let channel = connect(grpc_addr).await;
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.expect("ready");
        let path = http::uri::PathAndQuery::from_static("/openledger.counter.v1.Query/Count");
        let codec = tonic::codec::ProstCodec::<counter_pb::QueryCountRequest, counter_pb::QueryCountResponse>::default();
        let resp = grpc.unary(tonic::Request::new(counter_pb::QueryCountRequest {}), path, codec).await.expect("Count over gRPC");
        // A service nobody registered answers UNIMPLEMENTED and names itself.
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        let path = http::uri::PathAndQuery::from_static("/openledger.nothing.v1.Query/Count");
        let codec = tonic::codec::ProstCodec::<counter_pb::QueryCountRequest, counter_pb::QueryCountResponse>::default();
        let err = grpc.unary(tonic::Request::new(counter_pb::QueryCountRequest {}), path, codec).await.expect_err("unknown");
        assert_eq!(err.code(), tonic::Code::Unimplemented);
        assert_eq!(err.message(), "unknown service openledger.nothing.v1.Query");
        // A request over the server's message bound is refused before it is decoded.
        let mut grpc = tonic::client::Grpc::new(connect(grpc_addr).await);
        grpc.ready().await.expect("ready");
        let path = http::uri::PathAndQuery::from_static("/cosmos.bank.v1beta1.Query/Balance");
        let codec = tonic::codec::ProstCodec::<
            cosmos_sdk_proto::cosmos::bank::v1beta1::QueryBalanceRequest,
            cosmos_sdk_proto::cosmos::bank::v1beta1::QueryBalanceResponse,
        >::default();
        let huge = cosmos_sdk_proto::cosmos::bank::v1beta1::QueryBalanceRequest {
            address: "x".repeat(openledger_app::grpc::MAX_REQUEST_BYTES + 1),
            denom: "uopen".into(),
        };
        let err = grpc.unary(tonic::Request::new(huge), path, codec).await.expect_err("oversized request");
        assert_eq!(err.code(), tonic::Code::OutOfRange, "{err:?}");
        // Server reflection lists the module's service in both versions clients speak.
        let (v1, v1alpha) = openledger_tests::reflection_services(connect(grpc_addr).await).await;
        assert!(v1.iter().any(|s| s == "openledger.counter.v1.Query"), "{v1:?}");
        assert!(v1alpha.iter().any(|s| s == "openledger.counter.v1.Query"), "{v1alpha:?}");
        assert!(v1alpha.iter().any(|s| s == "cosmos.bank.v1beta1.Query"), "{v1alpha:?}");
        resp.into_inner().count
    });
    assert_eq!(count_over_grpc, 8);

    let url = format!("http://{rest_addr}/openledger/counter/v1/count");
    let body = wait_for_rest(&url);
    assert_eq!(body, json!({"count": "8"}), "the SDK's JSON: uint64 as a string");
    drop(runtime);
}

/// Connects once the server accepts (it was spawned just before).
async fn connect(addr: SocketAddr) -> tonic::transport::Channel {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("endpoint");
    for _ in 0..500 {
        if let Ok(channel) = endpoint.connect().await {
            return channel;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("gRPC server at {addr} never accepted")
}

/// GETs `url` once the REST server accepts.
fn wait_for_rest(url: &str) -> serde_json::Value {
    for _ in 0..500 {
        match ureq::get(url).call() {
            Ok(resp) => return resp.into_json().expect("json"),
            Err(ureq::Error::Transport(_)) => std::thread::sleep(std::time::Duration::from_millis(10)),
            Err(e) => panic!("{url}: {e}"),
        }
    }
    panic!("REST server never answered {url}")
}
