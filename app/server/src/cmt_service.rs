//! `cosmos.base.tendermint.v1beta1.Service` as an SDK v0.50 node answers it (the SDK's
//! `client/grpc/cmtservice`): node info, syncing, blocks and validator sets from CometBFT's RPC,
//! `ABCIQuery` from the app's own query router. The gRPC server answers it through
//! [`crate::grpc::handle`], and the REST gateway renders the same answers at
//! `/cosmos/base/tendermint/v1beta1/...` (routes from the service's `google.api.http` options).

// tonic's `Status` is the error type of every gRPC handler; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use base64::Engine;
use cosmos_sdk_proto::cosmos::base::query::v1beta1::{PageRequest, PageResponse};
use cosmos_sdk_proto::cosmos::base::tendermint::v1beta1 as cmt;
use openledger_core::address::{Address, VALCONS_PREFIX};
use openledger_node::app::App;
use prost::Message;
use serde_json::{json, Value};
use tendermint_proto::types as tm;
use tonic::Status;

use crate::grpc::{decode, GrpcShared, TENDERMINT_SERVICE};
use crate::rpc_client::{CometRpc, RpcError};

/// The SDK's default page size (`query.DefaultLimit`).
const DEFAULT_LIMIT: i64 = 100;

/// Answers one method of the service with the response's protobuf bytes.
pub fn answer(shared: &GrpcShared, method: &str, data: &[u8]) -> Result<Vec<u8>, Status> {
    let comet = &shared.comet;
    Ok(match method {
        "GetNodeInfo" => node_info(&comet.status().map_err(rpc_error)?).encode_to_vec(),
        "GetSyncing" => {
            let status = comet.status().map_err(rpc_error)?;
            cmt::GetSyncingResponse { syncing: status["sync_info"]["catching_up"].as_bool().unwrap_or(false) }.encode_to_vec()
        }
        "GetLatestBlock" => {
            let (block_id, block) = block(comet, None)?;
            cmt::GetLatestBlockResponse { block_id: Some(block_id), sdk_block: Some(sdk_block(&block)), block: Some(block) }.encode_to_vec()
        }
        "GetBlockByHeight" => {
            let req: cmt::GetBlockByHeightRequest = decode(data)?;
            if req.height > comet.latest_height().map_err(rpc_error)? {
                return Err(Status::invalid_argument("requested block height is bigger then the chain length"));
            }
            let (block_id, block) = block(comet, Some(req.height))?;
            cmt::GetBlockByHeightResponse { block_id: Some(block_id), sdk_block: Some(sdk_block(&block)), block: Some(block) }
                .encode_to_vec()
        }
        "GetLatestValidatorSet" => {
            let req: cmt::GetLatestValidatorSetRequest = decode(data)?;
            let (page, limit) = parse_pagination(req.pagination.as_ref())?;
            validator_set(comet, None, page, limit)?.encode_to_vec()
        }
        "GetValidatorSetByHeight" => {
            let req: cmt::GetValidatorSetByHeightRequest = decode(data)?;
            let (page, limit) = parse_pagination(req.pagination.as_ref())?;
            let latest = comet.latest_height().map_err(|_| Status::internal("failed to parse chain height"))?;
            if req.height > latest {
                return Err(Status::invalid_argument("requested block height is bigger then the chain length"));
            }
            let set = validator_set(comet, Some(req.height), page, limit)?;
            cmt::GetValidatorSetByHeightResponse { block_height: set.block_height, validators: set.validators, pagination: set.pagination }
                .encode_to_vec()
        }
        "ABCIQuery" => abci_query(&shared.app, &decode(data)?)?.encode_to_vec(),
        other => return Err(Status::unimplemented(format!("unknown method {other} of {TENDERMINT_SERVICE}"))),
    })
}

/// The SDK passes CometBFT's errors through (gRPC code Unknown); a node it cannot reach is
/// UNAVAILABLE here.
fn rpc_error(err: RpcError) -> Status {
    match err {
        RpcError::Rpc(message) => Status::unknown(message),
        RpcError::Transport { .. } => Status::unavailable(err.to_string()),
        RpcError::Malformed(_) => Status::internal(err.to_string()),
    }
}

fn malformed(what: &str, err: impl std::fmt::Display) -> Status {
    Status::internal(format!("unexpected CometBFT RPC response ({what}): {err}"))
}

/// CometBFT's JSON numbers come as strings.
fn number<T: std::str::FromStr + Default>(v: &Value) -> T {
    v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_u64().and_then(|n| n.to_string().parse().ok())).unwrap_or_default()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// `GetNodeInfo` from CometBFT's `/status`: its node info as protobuf (what the SDK's
/// `NodeInfo.ToProto()` gives) and this binary's version.
fn node_info(status: &Value) -> cmt::GetNodeInfoResponse {
    let info = &status["node_info"];
    let protocol = &info["protocol_version"];
    let default_node_info = tendermint_proto::p2p::DefaultNodeInfo {
        protocol_version: Some(tendermint_proto::p2p::ProtocolVersion {
            p2p: number(&protocol["p2p"]),
            block: number(&protocol["block"]),
            app: number(&protocol["app"]),
        }),
        default_node_id: text(&info["id"]),
        listen_addr: text(&info["listen_addr"]),
        network: text(&info["network"]),
        version: text(&info["version"]),
        channels: hex::decode(text(&info["channels"])).unwrap_or_default(),
        moniker: text(&info["moniker"]),
        other: Some(tendermint_proto::p2p::DefaultNodeInfoOther {
            tx_index: text(&info["other"]["tx_index"]),
            rpc_address: text(&info["other"]["rpc_address"]),
        }),
    };
    cmt::GetNodeInfoResponse {
        default_node_info: Some(default_node_info),
        application_version: Some(cmt::VersionInfo {
            name: openledger_node::app::APP_NAME.into(),
            app_name: "openledgerd".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            cosmos_sdk_version: openledger_node::app::COSMOS_SDK_API_VERSION.into(),
            build_deps: openledger_node::app::API_BUILD_DEPS
                .iter()
                .map(|(path, version)| cmt::Module { path: (*path).into(), version: (*version).into(), sum: String::new() })
                .collect(),
            ..Default::default()
        }),
    }
}

/// CometBFT's `/block` (latest when `height` is `None`) as protobuf.
fn block(comet: &CometRpc, height: Option<i64>) -> Result<(tm::BlockId, tm::Block), Status> {
    let params = match height {
        Some(h) => json!({"height": h.to_string()}),
        None => json!({}),
    };
    let result = comet.call("block", params).map_err(rpc_error)?;
    let block_id = serde_json::from_value(result["block_id"].clone()).map_err(|e| malformed("block_id", e))?;
    let block = serde_json::from_value(result["block"].clone()).map_err(|e| malformed("block", e))?;
    Ok((block_id, block))
}

/// The SDK's `convertBlock`: the same block with the proposer as a bech32 consensus address.
pub fn sdk_block(block: &tm::Block) -> cmt::Block {
    let h = block.header.clone().unwrap_or_default();
    cmt::Block {
        header: Some(cmt::Header {
            version: h.version,
            chain_id: h.chain_id,
            height: h.height,
            time: h.time,
            last_block_id: h.last_block_id,
            last_commit_hash: h.last_commit_hash,
            data_hash: h.data_hash,
            validators_hash: h.validators_hash,
            next_validators_hash: h.next_validators_hash,
            consensus_hash: h.consensus_hash,
            app_hash: h.app_hash,
            last_results_hash: h.last_results_hash,
            evidence_hash: h.evidence_hash,
            proposer_address: Address::from_bytes(&h.proposer_address).map(|a| a.to_bech32_prefixed(VALCONS_PREFIX)).unwrap_or_default(),
        }),
        data: block.data.clone(),
        evidence: block.evidence.clone(),
        last_commit: block.last_commit.clone(),
    }
}

/// The SDK's `query.ParsePagination`: offset and limit become CometBFT's page and per_page
/// (CometBFT caps per_page at 100 and refuses a page past the end).
pub fn parse_pagination(page: Option<&PageRequest>) -> Result<(i64, i64), Status> {
    // Go converts the uint64s to int: past i64::MAX they turn negative.
    let (offset, limit) = match page {
        Some(p) => (i64::try_from(p.offset), i64::try_from(p.limit)),
        None => (Ok(0), Ok(DEFAULT_LIMIT)),
    };
    let offset = offset.map_err(|_| Status::invalid_argument("offset must greater than 0"))?;
    let limit = match limit {
        Err(_) => return Err(Status::invalid_argument("limit must greater than 0")),
        Ok(0) => DEFAULT_LIMIT,
        Ok(l) => l,
    };
    Ok((offset / limit + 1, limit))
}

/// CometBFT's `/validators` page as the SDK's validator set (consensus addresses in bech32,
/// public keys as `Any`s of the SDK's key types).
fn validator_set(comet: &CometRpc, height: Option<i64>, page: i64, limit: i64) -> Result<cmt::GetLatestValidatorSetResponse, Status> {
    let mut params = json!({"page": page.to_string(), "per_page": limit.to_string()});
    if let Some(h) = height {
        params["height"] = Value::String(h.to_string());
    }
    let result = comet.call("validators", params).map_err(rpc_error)?;
    let mut validators = Vec::new();
    for v in result["validators"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let address = hex::decode(text(&v["address"])).map_err(|e| malformed("validator address", e))?;
        let key =
            base64::engine::general_purpose::STANDARD.decode(text(&v["pub_key"]["value"])).map_err(|e| malformed("validator key", e))?;
        let pub_key = match v["pub_key"]["type"].as_str() {
            Some("tendermint/PubKeyEd25519") => cosmos_sdk_proto::Any {
                type_url: "/cosmos.crypto.ed25519.PubKey".into(),
                value: cosmos_sdk_proto::cosmos::crypto::ed25519::PubKey { key }.encode_to_vec(),
            },
            Some("tendermint/PubKeySecp256k1") => cosmos_sdk_proto::Any {
                type_url: "/cosmos.crypto.secp256k1.PubKey".into(),
                value: cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey { key }.encode_to_vec(),
            },
            other => return Err(Status::unknown(format!("cryptoproto.PublicKey: unsupported key type {other:?}"))),
        };
        validators.push(cmt::Validator {
            address: Address::from_bytes(&address).map(|a| a.to_bech32_prefixed(VALCONS_PREFIX)).unwrap_or_default(),
            pub_key: Some(pub_key),
            voting_power: number(&v["voting_power"]),
            proposer_priority: number(&v["proposer_priority"]),
        });
    }
    Ok(cmt::GetLatestValidatorSetResponse {
        block_height: number(&result["block_height"]),
        validators,
        pagination: Some(PageResponse { next_key: Vec::new(), total: number(&result["total"]) }),
    })
}

/// `ABCIQuery` through the app's query router, for the paths the SDK lets through (`app`,
/// `store`, `p2p`, `custom`: gRPC methods have their own services).
fn abci_query(app: &App, req: &cmt::AbciQueryRequest) -> Result<cmt::AbciQueryResponse, Status> {
    if req.path.is_empty() {
        return Err(Status::invalid_argument("empty query path"));
    }
    // The SDK's SplitABCIQueryPath: split on '/', a leading empty element dropped.
    let mut parts = req.path.split('/');
    let first = match parts.next() {
        Some("") => parts.next().unwrap_or_default(),
        other => other.unwrap_or_default(),
    };
    if !matches!(first, "app" | "store" | "p2p" | "custom") {
        return Err(Status::invalid_argument(format!("unsupported ABCI query path: {}", req.path)));
    }
    let res = app.query(&tendermint_proto::v0_38::abci::RequestQuery {
        data: req.data.clone().into(),
        path: req.path.clone(),
        height: req.height,
        prove: req.prove,
    });
    Ok(cmt::AbciQueryResponse {
        code: res.code,
        log: res.log,
        info: res.info,
        index: res.index,
        key: res.key.to_vec(),
        value: res.value.to_vec(),
        proof_ops: res.proof_ops.map(|ops| cmt::ProofOps {
            ops: ops.ops.into_iter().map(|op| cmt::ProofOp { r#type: op.r#type, key: op.key, data: op.data }).collect(),
        }),
        height: res.height,
        codespace: res.codespace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_becomes_cometbft_pages_as_in_the_sdk() {
        assert_eq!(parse_pagination(None).unwrap(), (1, 100));
        let page = |offset, limit| PageRequest { offset, limit, ..Default::default() };
        assert_eq!(parse_pagination(Some(&page(0, 0))).unwrap(), (1, 100));
        assert_eq!(parse_pagination(Some(&page(5, 2))).unwrap(), (3, 2));
        assert_eq!(parse_pagination(Some(&page(150, 200))).unwrap(), (1, 200));
        assert_eq!(parse_pagination(Some(&page(u64::MAX, 1))).unwrap_err().code(), tonic::Code::InvalidArgument);
        assert_eq!(parse_pagination(Some(&page(0, u64::MAX))).unwrap_err().message(), "limit must greater than 0");
    }

    #[test]
    fn cometbft_block_json_converts_to_both_block_forms() {
        // A block as CometBFT v0.38's `/block` writes it (from a local node).
        let result: Value = serde_json::from_str(BLOCK_JSON).expect("fixture");
        let block: tm::Block = serde_json::from_value(result["block"].clone()).expect("block");
        let block_id: tm::BlockId = serde_json::from_value(result["block_id"].clone()).expect("block id");
        assert_eq!(hex::encode_upper(&block_id.hash), "8F4C2B1A6B0A9F0E4A5D5A3E8B3C1D2E3F405162738495A6B7C8D9EAFB0C1D2E");
        assert_eq!(block_id.part_set_header.as_ref().map(|p| p.total), Some(1));
        let header = block.header.clone().expect("header");
        assert_eq!((header.height, header.chain_id.as_str()), (7, "openledger-local-1"));
        assert_eq!(header.version.map(|v| v.block), Some(11));
        assert_eq!(header.time.map(|t| (t.seconds, t.nanos)), Some((1_764_978_000, 123_456_789)));
        assert_eq!(block.data.as_ref().map(|d| d.txs.clone()), Some(vec![b"tx".to_vec()]));
        let commit = block.last_commit.clone().expect("commit");
        assert_eq!(commit.signatures[0].block_id_flag, tm::BlockIdFlag::Commit as i32);
        assert_eq!(commit.signatures[0].signature, vec![1, 2, 3]);
        let sdk = sdk_block(&block);
        let sdk_header = sdk.header.expect("header");
        assert_eq!(sdk_header.proposer_address, Address::from_bytes(&header.proposer_address).unwrap().to_bech32_prefixed(VALCONS_PREFIX));
        assert!(sdk_header.proposer_address.starts_with("openvalcons1"));
        assert_eq!((sdk_header.height, sdk_header.app_hash), (header.height, header.app_hash));
        assert_eq!(sdk.last_commit, block.last_commit);
    }

    const BLOCK_JSON: &str = r#"{
      "block_id": {"hash": "8F4C2B1A6B0A9F0E4A5D5A3E8B3C1D2E3F405162738495A6B7C8D9EAFB0C1D2E",
                   "parts": {"total": 1, "hash": "0A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20212223242526272829"}},
      "block": {
        "header": {
          "version": {"block": "11", "app": "0"},
          "chain_id": "openledger-local-1",
          "height": "7",
          "time": "2025-12-05T23:40:00.123456789Z",
          "last_block_id": {"hash": "0102030405060708091011121314151617181920212223242526272829303132",
                            "parts": {"total": 1, "hash": "3132333435363738394041424344454647484950515253545556575859606162"}},
          "last_commit_hash": "AA", "data_hash": "BB", "validators_hash": "CC", "next_validators_hash": "CC",
          "consensus_hash": "DD", "app_hash": "EE", "last_results_hash": "", "evidence_hash": "",
          "proposer_address": "5A0F2C1B3D4E5F60718293A4B5C6D7E8F9001122"
        },
        "data": {"txs": ["dHg="]},
        "evidence": {"evidence": []},
        "last_commit": {
          "height": "6", "round": 0,
          "block_id": {"hash": "0102030405060708091011121314151617181920212223242526272829303132",
                       "parts": {"total": 1, "hash": "3132333435363738394041424344454647484950515253545556575859606162"}},
          "signatures": [{"block_id_flag": 2, "validator_address": "5A0F2C1B3D4E5F60718293A4B5C6D7E8F9001122",
                          "timestamp": "2025-12-05T23:39:59.5Z", "signature": "AQID"}]
        }
      }
    }"#;
}
