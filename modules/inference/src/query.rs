//! The inference query service (`openledger.inference.v1.Query`): params, a request with its
//! result, pending requests page by page, executor registrations.

use openledger_core::pagination::paginate;
use openledger_core::query::{unary, QueryService};
use openledger_core::{QueryError, StateRead};
use openledger_proto::openledger::inference::v1 as pb;
use prost::Message;

use crate::error::InferenceError;
use crate::keeper::InferenceKeeper;
use crate::state_key;

/// gRPC service name.
pub const INFERENCE_SERVICE: &str = "openledger.inference.v1.Query";

/// The inference module's query service.
#[derive(Debug, Clone)]
pub struct InferenceQuery(pub InferenceKeeper);

fn internal(e: InferenceError) -> QueryError {
    match e {
        InferenceError::RequestNotFound(_) => QueryError::NotFound(e.to_string()),
        other => QueryError::Internal(other.to_string()),
    }
}

impl QueryService for InferenceQuery {
    fn services(&self) -> &'static [&'static str] {
        &[INFERENCE_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, _service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        let k = &self.0;
        match method {
            "Params" => {
                unary(data, |_: pb::QueryParamsRequest| Ok(pb::QueryParamsResponse { params: Some(k.params(state).map_err(internal)?) }))
            }
            "Request" => unary(data, |r: pb::QueryRequestRequest| {
                let request =
                    k.request(state, r.id).map_err(internal)?.ok_or_else(|| QueryError::NotFound(format!("inference request {}", r.id)))?;
                let result = k.result(state, r.id).map_err(internal)?;
                Ok(pb::QueryRequestResponse { request: Some(request), result })
            }),
            "PendingRequests" => unary(data, |r: pb::QueryPendingRequestsRequest| {
                let (entries, pagination) = paginate(state, state_key::PENDING_PREFIX, r.pagination.as_ref())?;
                let mut requests = Vec::with_capacity(entries.len());
                for (key, _) in entries {
                    let id = state_key::id_from_key(&key).ok_or_else(|| QueryError::Internal("bad pending key".into()))?;
                    if let Some(req) = k.request(state, id).map_err(internal)? {
                        requests.push(req);
                    }
                }
                Ok(pb::QueryPendingRequestsResponse { requests, pagination })
            }),
            "Executors" => unary(data, |_: pb::QueryExecutorsRequest| {
                Ok(pb::QueryExecutorsResponse { executors: k.executors(state).map_err(internal)? })
            }),
            other => Err(QueryError::UnknownPath(format!("unknown method {other} of {INFERENCE_SERVICE}"))),
        }
    }
}

/// Decodes a stored message (for tests and tools).
pub fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, QueryError> {
    M::decode(bytes).map_err(|e| QueryError::Internal(e.to_string()))
}
