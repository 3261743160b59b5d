//! The attribution query service (`openledger.attribution.v1.Query`), answered from any state
//! view: params, attribution records, index info, and a dry-run Score of a text.

use openledger_core::query::{unary, QueryService};
use openledger_core::{QueryError, StateRead};
use openledger_proto::openledger::attribution::v1 as pb;

use crate::error::AttributionError;
use crate::keeper::{bytes_per_token_milli, normalize_versions, AttributionKeeper, MAX_QUERY_TEXT_BYTES};

/// gRPC service name.
pub const ATTRIBUTION_SERVICE: &str = "openledger.attribution.v1.Query";

/// The attribution module's query service.
#[derive(Debug, Clone)]
pub struct AttributionQuery(pub AttributionKeeper);

fn internal(e: AttributionError) -> QueryError {
    match e {
        AttributionError::VersionNotFound { .. } | AttributionError::RecordNotFound(_) => QueryError::NotFound(e.to_string()),
        AttributionError::NotIndexed { .. } | AttributionError::TextTooLarge { .. } | AttributionError::InvalidVersions(_) => {
            QueryError::InvalidArgument(e.to_string())
        }
        AttributionError::State(s) => QueryError::from(s),
        other => QueryError::Internal(other.to_string()),
    }
}

impl AttributionQuery {
    fn score(&self, state: &dyn StateRead, req: pb::QueryScoreRequest) -> Result<pb::QueryScoreResponse, QueryError> {
        if req.text.len() > MAX_QUERY_TEXT_BYTES {
            return Err(internal(AttributionError::TextTooLarge { size: req.text.len() as u64, max: MAX_QUERY_TEXT_BYTES as u64 }));
        }
        let amount: u128 = if req.amount.is_empty() {
            0
        } else {
            req.amount.parse().map_err(|_| QueryError::InvalidArgument(format!("invalid amount {:?}", req.amount)))?
        };
        let pairs: Vec<(u64, u64)> = req.versions.iter().map(|v| (v.datanet_id, v.version)).collect();
        let versions = normalize_versions(&pairs).map_err(internal)?;
        let record = self.0.score(state, &versions, &req.text, amount).map_err(internal)?;
        Ok(pb::QueryScoreResponse { record: Some(record) })
    }
}

impl QueryService for AttributionQuery {
    fn services(&self) -> &'static [&'static str] {
        &[ATTRIBUTION_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        let keeper = &self.0;
        match method {
            "Params" => unary(data, |_: pb::QueryParamsRequest| Ok(pb::QueryParamsResponse { params: Some(keeper.params(state)?) })),
            "Record" => unary(data, |req: pb::QueryRecordRequest| {
                let record =
                    keeper.record(state, req.inference_id)?.ok_or_else(|| internal(AttributionError::RecordNotFound(req.inference_id)))?;
                Ok(pb::QueryRecordResponse { record: Some(record) })
            }),
            "IndexInfo" => unary(data, |req: pb::QueryIndexInfoRequest| {
                let mut meta = keeper
                    .index_meta(state, req.datanet_id, req.version)?
                    .ok_or_else(|| QueryError::NotFound(format!("index of version {} of datanet {}", req.version, req.datanet_id)))?;
                meta.segments.clear();
                let milli = bytes_per_token_milli(meta.total_bytes, meta.token_count);
                Ok(pb::QueryIndexInfoResponse { meta: Some(meta), bytes_per_token_milli: milli })
            }),
            "Score" => unary(data, |req: pb::QueryScoreRequest| self.score(state, req)),
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
        }
    }
}
