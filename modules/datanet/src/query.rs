//! The datanet query service (`openledger.datanet.v1.Query`), answered from any state view:
//! datanets, contributions (by datanet and by contributor), contributor stats, rows, versions,
//! a version's rows page by page, and a row with its Merkle proof.

use cosmos_sdk_proto::cosmos::base::query::v1beta1::{PageRequest, PageResponse};
use openledger_core::pagination::{paginate, DEFAULT_LIMIT, MAX_LIMIT};
use openledger_core::query::{parse_address, unary, QueryService};
use openledger_core::{Address, QueryError, StateRead, StateReadExt};
use openledger_proto::openledger::datanet::v1 as pb;
use prost::Message;

use crate::error::DatanetError;
use crate::keeper::{add_amount, amount, inc, DatanetKeeper, SCAN_PAGE};
use crate::merkle;
use crate::state_key;

/// gRPC service name.
pub const DATANET_SERVICE: &str = "openledger.datanet.v1.Query";

/// The datanet module's query service.
#[derive(Debug, Clone)]
pub struct DatanetQuery(pub DatanetKeeper);

fn internal(e: DatanetError) -> QueryError {
    match e {
        DatanetError::DatanetNotFound(_)
        | DatanetError::VersionNotFound { .. }
        | DatanetError::ContributionNotFound { .. }
        | DatanetError::RowNotFound { .. } => QueryError::NotFound(e.to_string()),
        other => QueryError::Internal(other.to_string()),
    }
}

fn decode_all<M: Message + Default>(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Vec<M>, QueryError> {
    entries.into_iter().map(|(_, v)| M::decode(v.as_slice()).map_err(|e| QueryError::Internal(e.to_string()))).collect()
}

fn require_datanet(keeper: &DatanetKeeper, state: &dyn StateRead, id: u64) -> Result<pb::Datanet, QueryError> {
    keeper.datanet(state, id)?.ok_or_else(|| QueryError::NotFound(format!("datanet {id}")))
}

/// `(start index, limit)` of an index-paged request: `key` is an 8-byte big-endian index.
fn index_page(page: Option<&PageRequest>) -> Result<(u64, u64), QueryError> {
    let default = PageRequest::default();
    let page = page.unwrap_or(&default);
    if page.reverse {
        return Err(QueryError::InvalidArgument("reverse pagination is not supported".into()));
    }
    if !page.key.is_empty() && page.offset > 0 {
        return Err(QueryError::InvalidArgument("paginate: invalid request, either offset or key is expected, got both".into()));
    }
    if page.limit > MAX_LIMIT {
        return Err(QueryError::InvalidArgument(format!("pagination limit {} exceeds the maximum {MAX_LIMIT}", page.limit)));
    }
    let start = if page.key.is_empty() {
        page.offset
    } else {
        let bytes: [u8; 8] =
            page.key.as_slice().try_into().map_err(|_| QueryError::InvalidArgument("pagination key must be an 8-byte index".into()))?;
        u64::from_be_bytes(bytes)
    };
    Ok((start, if page.limit == 0 { DEFAULT_LIMIT } else { page.limit }))
}

fn version_row(
    keeper: &DatanetKeeper,
    state: &dyn StateRead,
    datanet_id: u64,
    index: u64,
    row_id: u64,
    contribution_id: u64,
    contributors: &mut Option<(u64, String)>,
) -> Result<pb::VersionRow, QueryError> {
    let row = keeper
        .row(state, datanet_id, row_id)?
        .ok_or_else(|| QueryError::Internal(format!("row {row_id} of datanet {datanet_id} is in a version but not stored")))?;
    let contributor = match contributors {
        Some((id, who)) if *id == contribution_id => who.clone(),
        _ => {
            let c = keeper.require_contribution(state, datanet_id, contribution_id).map_err(internal)?;
            *contributors = Some((contribution_id, c.contributor.clone()));
            c.contributor
        }
    };
    Ok(pb::VersionRow { index, row_id, contributor, data: row.data, delisted: row.delisted })
}

impl DatanetQuery {
    fn contributor_stats(
        &self,
        state: &dyn StateRead,
        req: pb::QueryContributorStatsRequest,
    ) -> Result<pb::QueryContributorStatsResponse, QueryError> {
        let who = parse_address("contributor", &req.contributor)?.to_bech32();
        let stats: Vec<pb::ContributorStats> = if req.datanet_id != 0 {
            match state.get_proto::<pb::ContributorStats>(&state_key::stats(&who, req.datanet_id))? {
                Some(s) => vec![s],
                None => vec![],
            }
        } else {
            let mut all = Vec::new();
            let prefix = state_key::stats_of(&who);
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page = state.scan_proto::<pb::ContributorStats>(&prefix, after.as_deref(), SCAN_PAGE)?;
                let Some(last) = page.last() else { break };
                after = Some(last.0.clone());
                all.extend(page.into_iter().map(|(_, s)| s));
                if all.len() >= 10_000 {
                    break;
                }
            }
            all
        };
        let mut total = pb::ContributorStats { contributor: who, datanet_id: 0, ..Default::default() };
        let sum = |a: u64, b: u64| inc(a, b, "stats").map_err(|e| QueryError::Internal(e.to_string()));
        let add = |a: &str, b: &str| amount(b).and_then(|b| add_amount(a, b)).map_err(|e| QueryError::Internal(e.to_string()));
        for s in &stats {
            total.contributions = sum(total.contributions, s.contributions)?;
            total.pending_contributions = sum(total.pending_contributions, s.pending_contributions)?;
            total.accepted_contributions = sum(total.accepted_contributions, s.accepted_contributions)?;
            total.rejected_contributions = sum(total.rejected_contributions, s.rejected_contributions)?;
            total.accepted_rows = sum(total.accepted_rows, s.accepted_rows)?;
            total.delisted_rows = sum(total.delisted_rows, s.delisted_rows)?;
            total.bond_escrowed = add(&total.bond_escrowed, &s.bond_escrowed)?;
            total.bond_returned = add(&total.bond_returned, &s.bond_returned)?;
            total.bond_burned = add(&total.bond_burned, &s.bond_burned)?;
        }
        Ok(pb::QueryContributorStatsResponse { stats, total: Some(total) })
    }

    fn rows_by_version(
        &self,
        state: &dyn StateRead,
        req: pb::QueryRowsByVersionRequest,
    ) -> Result<pb::QueryRowsByVersionResponse, QueryError> {
        let keeper = &self.0;
        let version = keeper.require_version(state, req.datanet_id, req.version).map_err(internal)?;
        let segments = keeper.segments(state, req.datanet_id, version.version)?;
        let (start, limit) = index_page(req.pagination.as_ref())?;
        let end = start.saturating_add(limit).min(version.row_count);
        let mut rows = Vec::new();
        let mut contributor = None;
        for index in start..end {
            let (row_id, cid) = DatanetKeeper::row_at(&segments, index)
                .ok_or_else(|| QueryError::Internal(format!("index {index} outside the runs of version {}", version.version)))?;
            rows.push(version_row(keeper, state, req.datanet_id, index, row_id, cid, &mut contributor)?);
        }
        let next_key = if end < version.row_count { end.to_be_bytes().to_vec() } else { Vec::new() };
        let total = if req.pagination.as_ref().is_some_and(|p| p.count_total) { version.row_count } else { 0 };
        Ok(pb::QueryRowsByVersionResponse { rows, pagination: Some(PageResponse { next_key, total }), merkle_root: version.merkle_root })
    }

    fn row_with_proof(
        &self,
        state: &dyn StateRead,
        req: pb::QueryRowWithProofRequest,
    ) -> Result<pb::QueryRowWithProofResponse, QueryError> {
        let keeper = &self.0;
        let version = keeper.require_version(state, req.datanet_id, req.version).map_err(internal)?;
        if req.index >= version.row_count {
            return Err(QueryError::InvalidArgument(format!(
                "index {} is outside version {} ({} rows)",
                req.index, version.version, version.row_count
            )));
        }
        let segments = keeper.segments(state, req.datanet_id, version.version)?;
        let (row_id, cid) = DatanetKeeper::row_at(&segments, req.index)
            .ok_or_else(|| QueryError::Internal(format!("index {} outside the runs of version {}", req.index, version.version)))?;
        let row = version_row(keeper, state, req.datanet_id, req.index, row_id, cid, &mut None)?;
        let leaves = keeper.segment_leaves(state, req.datanet_id, &segments).map_err(internal)?;
        let index = usize::try_from(req.index).map_err(|_| QueryError::InvalidArgument("index too large".into()))?;
        let siblings = merkle::proof(&leaves, index).ok_or_else(|| QueryError::Internal("proof index".into()))?;
        Ok(pb::QueryRowWithProofResponse {
            row: Some(row),
            siblings: siblings.iter().map(|h| h.to_vec()).collect(),
            merkle_root: version.merkle_root,
            row_count: version.row_count,
        })
    }
}

impl QueryService for DatanetQuery {
    fn services(&self) -> &'static [&'static str] {
        &[DATANET_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        let keeper = &self.0;
        match method {
            "Params" => unary(data, |_: pb::QueryParamsRequest| Ok(pb::QueryParamsResponse { params: Some(keeper.params(state)?) })),
            "Datanet" => unary(data, |req: pb::QueryDatanetRequest| {
                Ok(pb::QueryDatanetResponse { datanet: Some(require_datanet(keeper, state, req.datanet_id)?) })
            }),
            "Datanets" => unary(data, |req: pb::QueryDatanetsRequest| {
                let (entries, pagination) = paginate(state, state_key::DATANET_PREFIX, req.pagination.as_ref())?;
                Ok(pb::QueryDatanetsResponse { datanets: decode_all(entries)?, pagination })
            }),
            "Contribution" => unary(data, |req: pb::QueryContributionRequest| {
                let c = keeper.require_contribution(state, req.datanet_id, req.contribution_id).map_err(internal)?;
                Ok(pb::QueryContributionResponse { contribution: Some(c) })
            }),
            "Contributions" => unary(data, |req: pb::QueryContributionsRequest| {
                require_datanet(keeper, state, req.datanet_id)?;
                let (entries, pagination) = paginate(state, &state_key::contributions(req.datanet_id), req.pagination.as_ref())?;
                Ok(pb::QueryContributionsResponse { contributions: decode_all(entries)?, pagination })
            }),
            "ContributionsByContributor" => unary(data, |req: pb::QueryContributionsByContributorRequest| {
                let who: Address = parse_address("contributor", &req.contributor)?;
                let prefix = state_key::by_contributor_prefix(&who.to_bech32());
                let (entries, pagination) = paginate(state, &prefix, req.pagination.as_ref())?;
                let mut contributions = Vec::with_capacity(entries.len());
                for (key, _) in entries {
                    let rest = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                    let (d, c) = rest.split_once('/').ok_or_else(|| QueryError::Internal(format!("bad index key {rest}")))?;
                    let (d, c) = (d.parse::<u64>(), c.parse::<u64>());
                    let (Ok(d), Ok(c)) = (d, c) else { return Err(QueryError::Internal(format!("bad index key {rest}"))) };
                    contributions.push(keeper.require_contribution(state, d, c).map_err(internal)?);
                }
                Ok(pb::QueryContributionsByContributorResponse { contributions, pagination })
            }),
            "ContributorStats" => unary(data, |req: pb::QueryContributorStatsRequest| self.contributor_stats(state, req)),
            "Row" => unary(data, |req: pb::QueryRowRequest| {
                let row = keeper
                    .row(state, req.datanet_id, req.row_id)?
                    .ok_or_else(|| QueryError::NotFound(format!("row {} of datanet {}", req.row_id, req.datanet_id)))?;
                let c = keeper.require_contribution(state, req.datanet_id, row.contribution_id).map_err(internal)?;
                Ok(pb::QueryRowResponse { row: Some(row), row_id: req.row_id, contributor: c.contributor, status: c.status })
            }),
            "Version" => unary(data, |req: pb::QueryVersionRequest| {
                let version = keeper.require_version(state, req.datanet_id, req.version).map_err(internal)?;
                Ok(pb::QueryVersionResponse { version: Some(version) })
            }),
            "Versions" => unary(data, |req: pb::QueryVersionsRequest| {
                require_datanet(keeper, state, req.datanet_id)?;
                let (entries, pagination) = paginate(state, &state_key::versions(req.datanet_id), req.pagination.as_ref())?;
                Ok(pb::QueryVersionsResponse { versions: decode_all(entries)?, pagination })
            }),
            "RowsByVersion" => unary(data, |req: pb::QueryRowsByVersionRequest| self.rows_by_version(state, req)),
            "RowWithProof" => unary(data, |req: pb::QueryRowWithProofRequest| self.row_with_proof(state, req)),
            _ => Err(QueryError::UnknownPath(format!("unknown method {method} of {service}"))),
        }
    }
}
