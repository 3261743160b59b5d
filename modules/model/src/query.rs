//! The model registry query service (`openledger.model.v1.Query`): base models, adapters (all,
//! by base model, by owner, by datanet or datanet version), an adapter's lineage, and
//! ModelFactory's params and fine-tune jobs (one, or a page filtered by status and/or creator).

use openledger_core::pagination::{paginate, paginate_filtered};
use openledger_core::query::{parse_address, unary, QueryService};
use openledger_core::{QueryError, StateRead};
use openledger_proto::openledger::model::v1 as pb;
use prost::Message;

use crate::error::ModelError;
use crate::keeper::ModelKeeper;
use crate::state_key;

/// gRPC service name.
pub const MODEL_SERVICE: &str = "openledger.model.v1.Query";

/// The model registry's query service.
#[derive(Debug, Clone)]
pub struct ModelQuery(pub ModelKeeper);

fn not_found(e: ModelError) -> QueryError {
    match e {
        ModelError::BaseModelNotFound(_) | ModelError::AdapterNotFound(_) | ModelError::JobNotFound(_) => {
            QueryError::NotFound(e.to_string())
        }
        other => QueryError::Internal(other.to_string()),
    }
}

fn decode_all<M: Message + Default>(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Vec<M>, QueryError> {
    entries.into_iter().map(|(_, v)| M::decode(v.as_slice()).map_err(|e| QueryError::Internal(e.to_string()))).collect()
}

impl ModelQuery {
    /// One page of an index whose values are adapter ids.
    fn adapters_by_index(
        &self,
        state: &dyn StateRead,
        prefix: &[u8],
        page: Option<&cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest>,
    ) -> Result<pb::QueryAdaptersResponse, QueryError> {
        let (entries, pagination) = paginate(state, prefix, page)?;
        let mut adapters = Vec::with_capacity(entries.len());
        for (_, value) in entries {
            let id = u64::decode(value.as_slice()).map_err(|e| QueryError::Internal(e.to_string()))?;
            adapters.push(self.0.require_adapter(state, id).map_err(not_found)?);
        }
        Ok(pb::QueryAdaptersResponse { adapters, pagination })
    }

    /// One page of fine-tune jobs: by status index, by creator index (status filtered), or all.
    fn jobs(&self, state: &dyn StateRead, req: &pb::QueryFineTuneJobsRequest) -> Result<pb::QueryFineTuneJobsResponse, QueryError> {
        let status = req.status;
        if status != 0 && pb::JobStatus::try_from(status).is_err() {
            return Err(QueryError::InvalidArgument(format!("unknown job status {status}")));
        }
        let page = req.pagination.as_ref();
        let (entries, pagination) = if !req.creator.is_empty() {
            let creator = parse_address("creator", &req.creator)?;
            let keep = |_: &[u8], v: &[u8]| -> bool {
                status == 0 || u64::decode(v).ok().and_then(|id| self.0.job(state, id).ok().flatten()).is_some_and(|j| j.status == status)
            };
            paginate_filtered(state, &state_key::jobs_by_creator(&creator.to_bech32()), page, &keep)?
        } else if status != 0 {
            paginate(state, &state_key::jobs_by_status(status), page)?
        } else {
            let (entries, pagination) = paginate(state, state_key::JOB_PREFIX, page)?;
            return Ok(pb::QueryFineTuneJobsResponse { jobs: decode_all(entries)?, pagination });
        };
        let mut jobs = Vec::with_capacity(entries.len());
        for (_, value) in entries {
            let id = u64::decode(value.as_slice()).map_err(|e| QueryError::Internal(e.to_string()))?;
            jobs.push(self.0.require_job(state, id).map_err(not_found)?);
        }
        Ok(pb::QueryFineTuneJobsResponse { jobs, pagination })
    }
}

impl QueryService for ModelQuery {
    fn services(&self) -> &'static [&'static str] {
        &[MODEL_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        let keeper = &self.0;
        match method {
            "BaseModel" => unary(data, |req: pb::QueryBaseModelRequest| {
                Ok(pb::QueryBaseModelResponse { base_model: Some(keeper.require_base_model(state, req.base_model_id).map_err(not_found)?) })
            }),
            "BaseModels" => unary(data, |req: pb::QueryBaseModelsRequest| {
                let (entries, pagination) = paginate(state, state_key::BASE_MODEL_PREFIX, req.pagination.as_ref())?;
                Ok(pb::QueryBaseModelsResponse { base_models: decode_all(entries)?, pagination })
            }),
            "Adapter" => unary(data, |req: pb::QueryAdapterRequest| {
                Ok(pb::QueryAdapterResponse { adapter: Some(keeper.require_adapter(state, req.adapter_id).map_err(not_found)?) })
            }),
            "Adapters" => unary(data, |req: pb::QueryAdaptersRequest| {
                let (entries, pagination) = paginate(state, state_key::ADAPTER_PREFIX, req.pagination.as_ref())?;
                Ok(pb::QueryAdaptersResponse { adapters: decode_all(entries)?, pagination })
            }),
            "AdaptersByModel" => unary(data, |req: pb::QueryAdaptersByModelRequest| {
                keeper.require_base_model(state, req.base_model_id).map_err(not_found)?;
                self.adapters_by_index(state, &state_key::adapters_by_model(req.base_model_id), req.pagination.as_ref())
            }),
            "AdaptersByOwner" => unary(data, |req: pb::QueryAdaptersByOwnerRequest| {
                let owner = parse_address("owner", &req.owner)?;
                self.adapters_by_index(state, &state_key::adapters_by_owner(&owner.to_bech32()), req.pagination.as_ref())
            }),
            "AdaptersByDatanet" => unary(data, |req: pb::QueryAdaptersByDatanetRequest| {
                let prefix = if req.version == 0 {
                    state_key::adapters_by_datanet(req.datanet_id)
                } else {
                    state_key::adapters_by_version(req.datanet_id, req.version)
                };
                self.adapters_by_index(state, &prefix, req.pagination.as_ref())
            }),
            "Lineage" => unary(data, |req: pb::QueryLineageRequest| {
                let adapter = keeper.require_adapter(state, req.adapter_id).map_err(not_found)?;
                let base_model = keeper.require_base_model(state, adapter.base_model_id).map_err(not_found)?;
                let datanet_versions = adapter.datanet_versions.clone();
                Ok(pb::QueryLineageResponse {
                    lineage: Some(pb::Lineage { adapter: Some(adapter), base_model: Some(base_model), datanet_versions }),
                })
            }),
            "Params" => unary(data, |_: pb::QueryParamsRequest| {
                Ok(pb::QueryParamsResponse { params: Some(keeper.fine_tune_params(state).map_err(not_found)?) })
            }),
            "FineTuneJob" => unary(data, |req: pb::QueryFineTuneJobRequest| {
                Ok(pb::QueryFineTuneJobResponse { job: Some(keeper.require_job(state, req.job_id).map_err(not_found)?) })
            }),
            "FineTuneJobs" => unary(data, |req: pb::QueryFineTuneJobsRequest| self.jobs(state, &req)),
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::tests::keeper;
    use crate::msg::tests::{adapter, addr, base};
    use crate::msg::{RegisterAdapter, RegisterBaseModel};
    use openledger_core::delta::{EmptyState, StateDelta};

    fn ask<Resp: Message + Default>(q: &ModelQuery, s: &dyn StateRead, method: &str, req: impl Message) -> Result<Resp, QueryError> {
        q.query(s, MODEL_SERVICE, method, &req.encode_to_vec()).map(|b| Resp::decode(b.as_slice()).unwrap())
    }

    #[test]
    fn adapters_by_model_owner_datanet_and_lineage() {
        let k = keeper();
        let mut s = StateDelta::new(EmptyState);
        let m1 = RegisterBaseModel::check_stateless(&base(1, 1)).unwrap().execute(&k, &mut s).unwrap().base_model_id;
        let m2 = RegisterBaseModel::check_stateless(&base(1, 2)).unwrap().execute(&k, &mut s).unwrap().base_model_id;
        for (owner, model, h, pins) in [(2u8, m1, 10u8, vec![(1u64, 1u64)]), (3, m1, 11, vec![(1, 2), (2, 1)]), (2, m2, 12, vec![(2, 1)])] {
            RegisterAdapter::check_stateless(&adapter(owner, model, h, &pins)).unwrap().execute(&k, &mut s).unwrap();
        }
        let q = ModelQuery(k);
        let ids = |r: pb::QueryAdaptersResponse| r.adapters.iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(
            ids(ask(&q, &s, "AdaptersByModel", pb::QueryAdaptersByModelRequest { base_model_id: m1, pagination: None }).unwrap()),
            [1, 2]
        );
        assert_eq!(
            ids(ask(&q, &s, "AdaptersByOwner", pb::QueryAdaptersByOwnerRequest { owner: addr(2).to_bech32(), pagination: None }).unwrap()),
            [1, 3]
        );
        assert_eq!(
            ids(ask(&q, &s, "AdaptersByDatanet", pb::QueryAdaptersByDatanetRequest { datanet_id: 1, version: 0, pagination: None })
                .unwrap()),
            [1, 2]
        );
        assert_eq!(
            ids(ask(&q, &s, "AdaptersByDatanet", pb::QueryAdaptersByDatanetRequest { datanet_id: 2, version: 1, pagination: None })
                .unwrap()),
            [2, 3]
        );
        assert_eq!(ids(ask(&q, &s, "Adapters", pb::QueryAdaptersRequest { pagination: None }).unwrap()), [1, 2, 3]);
        let models: pb::QueryBaseModelsResponse = ask(&q, &s, "BaseModels", pb::QueryBaseModelsRequest { pagination: None }).unwrap();
        assert_eq!(models.base_models.len(), 2);
        let lineage =
            ask::<pb::QueryLineageResponse>(&q, &s, "Lineage", pb::QueryLineageRequest { adapter_id: 2 }).unwrap().lineage.unwrap();
        assert_eq!(lineage.base_model.unwrap().weights_hash, hex::encode([1u8; 32]));
        assert_eq!(
            lineage.datanet_versions.iter().map(|p| (p.datanet_id, p.version, p.merkle_root[0])).collect::<Vec<_>>(),
            [(1, 2, 0xbb), (2, 1, 0xcc)]
        );
        let missing = ask::<pb::QueryLineageResponse>(&q, &s, "Lineage", pb::QueryLineageRequest { adapter_id: 9 }).unwrap_err();
        assert!(matches!(missing, QueryError::NotFound(_)));
        let bad = ask::<pb::QueryAdaptersResponse>(
            &q,
            &s,
            "AdaptersByOwner",
            pb::QueryAdaptersByOwnerRequest { owner: "x".into(), pagination: None },
        );
        assert!(matches!(bad, Err(QueryError::InvalidArgument(_))));
    }
}
