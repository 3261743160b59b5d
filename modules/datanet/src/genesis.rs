//! Datanet genesis: the `openledger.datanet.v1.GenesisState` proto, and its JSON form in
//! genesis.json (proto3 JSON with the original field names: 64-bit integers as strings, bytes
//! as base64, enums by name). Import checks every reference, derives leaf hashes and indexes,
//! and recomputes every version's Merkle root; export reads the whole module state back.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use openledger_core::{serde_str, Address, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::datanet::v1 as pb;
use pb::{ContributionStatus, CurationMode, SchemaKind};
use serde::{Deserialize, Serialize};

use crate::error::DatanetError;
use crate::keeper::{default_params, inc, uopen_amount, validate_params, DatanetKeeper};
use crate::merkle;
use crate::msg::check_policy;
use crate::schema::Schema;
use crate::state_key;

fn bad(msg: impl Into<String>) -> DatanetError {
    DatanetError::InvalidGenesis(msg.into())
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// `Params` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsJson {
    /// Most rows per contribution.
    #[serde(with = "serde_str")]
    pub max_rows_per_contribution: u64,
    /// Cap of any datanet's max row size.
    #[serde(with = "serde_str")]
    pub max_row_bytes_cap: u64,
    /// Most curators.
    pub max_curators: u32,
    /// Governance floor of every contribution bond (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_contribution_bond: Option<CoinJson>,
}

impl ParamsJson {
    /// The JSON form of params.
    pub fn from_params(p: &pb::Params) -> Self {
        Self {
            max_rows_per_contribution: p.max_rows_per_contribution,
            max_row_bytes_cap: p.max_row_bytes_cap,
            max_curators: p.max_curators,
            min_contribution_bond: p.min_contribution_bond.as_ref().map(CoinJson::from_proto),
        }
    }

    /// The proto form (not validated).
    pub fn to_params(&self) -> pb::Params {
        pb::Params {
            max_rows_per_contribution: self.max_rows_per_contribution,
            max_row_bytes_cap: self.max_row_bytes_cap,
            max_curators: self.max_curators,
            min_contribution_bond: self
                .min_contribution_bond
                .as_ref()
                .map(|c| cosmos_sdk_proto::cosmos::base::v1beta1::Coin { denom: c.denom.clone(), amount: c.amount.clone() }),
        }
    }
}

impl Default for ParamsJson {
    fn default() -> Self {
        Self::from_params(&default_params())
    }
}

/// A coin in JSON (the one genesis coin form of every module).
pub use openledger_core::coin::CoinJson;

/// `RowSchema` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SchemaJson {
    /// `SCHEMA_KIND_TEXT` or `SCHEMA_KIND_JSON`.
    pub kind: String,
    /// Required top-level keys (JSON).
    #[serde(default)]
    pub required_fields: Vec<String>,
}

/// `Curator` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CuratorJson {
    /// Address.
    pub address: String,
    /// Weight.
    #[serde(with = "serde_str")]
    pub weight: u64,
}

/// `CurationPolicy` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PolicyJson {
    /// `CURATION_MODE_OWNER_REVIEW` or `CURATION_MODE_CURATOR_VOTE`.
    pub mode: String,
    /// Curators.
    #[serde(default)]
    pub curators: Vec<CuratorJson>,
    /// Bond per contribution.
    #[serde(default)]
    pub contribution_bond: Option<CoinJson>,
    /// Burn share on rejection, basis points.
    #[serde(default)]
    pub reject_burn_bps: u32,
    /// Largest row.
    #[serde(with = "serde_str")]
    pub max_row_bytes: u64,
}

/// `Datanet` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatanetJson {
    /// Id.
    #[serde(with = "serde_str")]
    pub id: u64,
    /// Owner.
    pub owner: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// License.
    #[serde(default)]
    pub license: String,
    /// Schema.
    pub schema: SchemaJson,
    /// Policy.
    pub policy: PolicyJson,
    /// Delisted by governance.
    #[serde(default)]
    pub delisted: bool,
    /// Why.
    #[serde(default)]
    pub delist_reason: String,
    /// Next row id.
    #[serde(with = "serde_str")]
    pub next_row_id: u64,
    /// Next contribution id.
    #[serde(with = "serde_str")]
    pub next_contribution_id: u64,
    /// Latest version.
    #[serde(with = "serde_str", default)]
    pub latest_version: u64,
    /// Accepted rows.
    #[serde(with = "serde_str", default)]
    pub accepted_rows: u64,
    /// Pending contributions.
    #[serde(with = "serde_str", default)]
    pub pending_contributions: u64,
    /// Curation epoch.
    #[serde(with = "serde_str")]
    pub curation_epoch: u64,
}

/// `Contribution` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionJson {
    /// Datanet.
    #[serde(with = "serde_str")]
    pub datanet_id: u64,
    /// Id.
    #[serde(with = "serde_str")]
    pub id: u64,
    /// Contributor.
    pub contributor: String,
    /// First row id.
    #[serde(with = "serde_str")]
    pub first_row_id: u64,
    /// Rows.
    #[serde(with = "serde_str")]
    pub row_count: u64,
    /// Bytes.
    #[serde(with = "serde_str")]
    pub total_bytes: u64,
    /// Bond.
    #[serde(default)]
    pub bond: Option<CoinJson>,
    /// Burn share on rejection.
    #[serde(default)]
    pub reject_burn_bps: u32,
    /// `CONTRIBUTION_STATUS_*`.
    pub status: String,
    /// Deciding reason.
    #[serde(default)]
    pub reason: String,
    /// Accepting weight.
    #[serde(with = "serde_str", default)]
    pub accept_weight: u64,
    /// Rejecting weight.
    #[serde(with = "serde_str", default)]
    pub reject_weight: u64,
    /// Tally epoch.
    #[serde(with = "serde_str", default)]
    pub tally_epoch: u64,
    /// Burned (uopen).
    #[serde(default)]
    pub bond_burned: String,
    /// Returned (uopen).
    #[serde(default)]
    pub bond_returned: String,
}

/// `Row` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowBodyJson {
    /// Contribution.
    #[serde(with = "serde_str")]
    pub contribution_id: u64,
    /// Bytes, base64.
    pub data: String,
    /// Delisted.
    #[serde(default)]
    pub delisted: bool,
}

/// `GenesisRow` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowJson {
    /// Datanet.
    #[serde(with = "serde_str")]
    pub datanet_id: u64,
    /// Row id.
    #[serde(with = "serde_str")]
    pub row_id: u64,
    /// The row.
    pub row: RowBodyJson,
    /// Delisting reason.
    #[serde(default)]
    pub delist_reason: String,
}

/// `Segment` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentJson {
    /// First row id.
    #[serde(with = "serde_str")]
    pub first_row_id: u64,
    /// Rows.
    #[serde(with = "serde_str")]
    pub row_count: u64,
    /// Contribution.
    #[serde(with = "serde_str")]
    pub contribution_id: u64,
}

/// `Version` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionBodyJson {
    /// Datanet.
    #[serde(with = "serde_str")]
    pub datanet_id: u64,
    /// Number.
    #[serde(with = "serde_str")]
    pub version: u64,
    /// Root, base64.
    pub merkle_root: String,
    /// Rows.
    #[serde(with = "serde_str")]
    pub row_count: u64,
    /// Bytes.
    #[serde(with = "serde_str", default)]
    pub total_bytes: u64,
    /// Contributions.
    #[serde(with = "serde_str", default)]
    pub contribution_count: u64,
}

/// `GenesisVersion` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionJson {
    /// The version.
    pub version: VersionBodyJson,
    /// Its row runs.
    pub segments: Vec<SegmentJson>,
}

/// `CuratorVote` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteBodyJson {
    /// Curator.
    pub curator: String,
    /// Accept.
    #[serde(default)]
    pub accept: bool,
    /// Reason.
    #[serde(default)]
    pub reason: String,
    /// Weight.
    #[serde(with = "serde_str")]
    pub weight: u64,
}

/// `GenesisVote` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteJson {
    /// Datanet.
    #[serde(with = "serde_str")]
    pub datanet_id: u64,
    /// Contribution.
    #[serde(with = "serde_str")]
    pub contribution_id: u64,
    /// Tally epoch.
    #[serde(with = "serde_str")]
    pub epoch: u64,
    /// The vote.
    pub vote: VoteBodyJson,
}

/// `ContributorStats` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsJson {
    /// Contributor.
    pub contributor: String,
    /// Datanet.
    #[serde(with = "serde_str")]
    pub datanet_id: u64,
    /// Contributions.
    #[serde(with = "serde_str", default)]
    pub contributions: u64,
    /// Pending.
    #[serde(with = "serde_str", default)]
    pub pending_contributions: u64,
    /// Accepted.
    #[serde(with = "serde_str", default)]
    pub accepted_contributions: u64,
    /// Rejected.
    #[serde(with = "serde_str", default)]
    pub rejected_contributions: u64,
    /// Rows credited.
    #[serde(with = "serde_str", default)]
    pub accepted_rows: u64,
    /// Credited rows delisted.
    #[serde(with = "serde_str", default)]
    pub delisted_rows: u64,
    /// Bond in escrow (uopen).
    #[serde(default)]
    pub bond_escrowed: String,
    /// Bond returned (uopen).
    #[serde(default)]
    pub bond_returned: String,
    /// Bond burned (uopen).
    #[serde(default)]
    pub bond_burned: String,
}

/// The datanet section of the genesis `app_state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DatanetGenesis {
    /// Params.
    #[serde(default)]
    pub params: ParamsJson,
    /// Datanets.
    #[serde(default)]
    pub datanets: Vec<DatanetJson>,
    /// Contributions.
    #[serde(default)]
    pub contributions: Vec<ContributionJson>,
    /// Rows.
    #[serde(default)]
    pub rows: Vec<RowJson>,
    /// Versions.
    #[serde(default)]
    pub versions: Vec<VersionJson>,
    /// Curator votes.
    #[serde(default)]
    pub votes: Vec<VoteJson>,
    /// Contributor stats.
    #[serde(default)]
    pub contributor_stats: Vec<StatsJson>,
}

fn enum_value<E: Into<i32> + Copy>(name: &str, parse: fn(&str) -> Option<E>, what: &str) -> Result<i32, DatanetError> {
    parse(name).map(Into::into).ok_or_else(|| bad(format!("unknown {what} {name:?}")))
}

fn mode_name(v: i32) -> String {
    CurationMode::try_from(v).map(|m| m.as_str_name().to_string()).unwrap_or_else(|_| v.to_string())
}

impl DatanetGenesis {
    /// The proto form (enum names and base64 checked).
    pub fn to_proto(&self) -> Result<pb::GenesisState, DatanetError> {
        let p = &self.params;
        let datanets = self
            .datanets
            .iter()
            .map(|d| {
                Ok(pb::Datanet {
                    id: d.id,
                    owner: d.owner.clone(),
                    name: d.name.clone(),
                    description: d.description.clone(),
                    license: d.license.clone(),
                    schema: Some(pb::RowSchema {
                        kind: enum_value(&d.schema.kind, SchemaKind::from_str_name, "schema kind")?,
                        required_fields: d.schema.required_fields.clone(),
                    }),
                    policy: Some(pb::CurationPolicy {
                        mode: enum_value(&d.policy.mode, CurationMode::from_str_name, "curation mode")?,
                        curators: d.policy.curators.iter().map(|c| pb::Curator { address: c.address.clone(), weight: c.weight }).collect(),
                        contribution_bond: d.policy.contribution_bond.as_ref().map(CoinJson::to_proto),
                        reject_burn_bps: d.policy.reject_burn_bps,
                        max_row_bytes: d.policy.max_row_bytes,
                    }),
                    delisted: d.delisted,
                    delist_reason: d.delist_reason.clone(),
                    next_row_id: d.next_row_id,
                    next_contribution_id: d.next_contribution_id,
                    latest_version: d.latest_version,
                    accepted_rows: d.accepted_rows,
                    pending_contributions: d.pending_contributions,
                    curation_epoch: d.curation_epoch,
                })
            })
            .collect::<Result<Vec<_>, DatanetError>>()?;
        let contributions = self
            .contributions
            .iter()
            .map(|c| {
                Ok(pb::Contribution {
                    datanet_id: c.datanet_id,
                    id: c.id,
                    contributor: c.contributor.clone(),
                    first_row_id: c.first_row_id,
                    row_count: c.row_count,
                    total_bytes: c.total_bytes,
                    bond: c.bond.as_ref().map(CoinJson::to_proto),
                    reject_burn_bps: c.reject_burn_bps,
                    status: enum_value(&c.status, ContributionStatus::from_str_name, "contribution status")?,
                    reason: c.reason.clone(),
                    accept_weight: c.accept_weight,
                    reject_weight: c.reject_weight,
                    tally_epoch: c.tally_epoch,
                    bond_burned: c.bond_burned.clone(),
                    bond_returned: c.bond_returned.clone(),
                })
            })
            .collect::<Result<Vec<_>, DatanetError>>()?;
        let rows = self
            .rows
            .iter()
            .map(|r| {
                Ok(pb::GenesisRow {
                    datanet_id: r.datanet_id,
                    row_id: r.row_id,
                    row: Some(pb::Row {
                        contribution_id: r.row.contribution_id,
                        data: b64().decode(&r.row.data).map_err(|e| bad(format!("row {} data: {e}", r.row_id)))?,
                        delisted: r.row.delisted,
                    }),
                    delist_reason: r.delist_reason.clone(),
                })
            })
            .collect::<Result<Vec<_>, DatanetError>>()?;
        let versions = self
            .versions
            .iter()
            .map(|v| {
                let b = &v.version;
                Ok(pb::GenesisVersion {
                    version: Some(pb::Version {
                        datanet_id: b.datanet_id,
                        version: b.version,
                        merkle_root: b64().decode(&b.merkle_root).map_err(|e| bad(format!("version {} root: {e}", b.version)))?,
                        row_count: b.row_count,
                        total_bytes: b.total_bytes,
                        contribution_count: b.contribution_count,
                    }),
                    segments: v
                        .segments
                        .iter()
                        .map(|s| pb::Segment { first_row_id: s.first_row_id, row_count: s.row_count, contribution_id: s.contribution_id })
                        .collect(),
                })
            })
            .collect::<Result<Vec<_>, DatanetError>>()?;
        let votes = self
            .votes
            .iter()
            .map(|v| pb::GenesisVote {
                datanet_id: v.datanet_id,
                contribution_id: v.contribution_id,
                epoch: v.epoch,
                vote: Some(pb::CuratorVote {
                    curator: v.vote.curator.clone(),
                    accept: v.vote.accept,
                    reason: v.vote.reason.clone(),
                    weight: v.vote.weight,
                }),
            })
            .collect();
        let contributor_stats = self
            .contributor_stats
            .iter()
            .map(|s| pb::ContributorStats {
                contributor: s.contributor.clone(),
                datanet_id: s.datanet_id,
                contributions: s.contributions,
                pending_contributions: s.pending_contributions,
                accepted_contributions: s.accepted_contributions,
                rejected_contributions: s.rejected_contributions,
                accepted_rows: s.accepted_rows,
                delisted_rows: s.delisted_rows,
                bond_escrowed: s.bond_escrowed.clone(),
                bond_returned: s.bond_returned.clone(),
                bond_burned: s.bond_burned.clone(),
            })
            .collect();
        Ok(pb::GenesisState { params: Some(p.to_params()), datanets, contributions, rows, versions, votes, contributor_stats })
    }

    /// The JSON form of a proto genesis.
    pub fn from_proto(g: &pb::GenesisState) -> Self {
        let p = g.params.clone().unwrap_or_else(default_params);
        Self {
            params: ParamsJson::from_params(&p),
            datanets: g.datanets.iter().map(DatanetJson::from).collect(),
            contributions: g.contributions.iter().map(ContributionJson::from).collect(),
            rows: g
                .rows
                .iter()
                .map(|r| {
                    let row = r.row.clone().unwrap_or_default();
                    RowJson {
                        datanet_id: r.datanet_id,
                        row_id: r.row_id,
                        row: RowBodyJson { contribution_id: row.contribution_id, data: b64().encode(&row.data), delisted: row.delisted },
                        delist_reason: r.delist_reason.clone(),
                    }
                })
                .collect(),
            versions: g
                .versions
                .iter()
                .map(|v| VersionJson {
                    version: VersionBodyJson::from(&v.version.clone().unwrap_or_default()),
                    segments: v
                        .segments
                        .iter()
                        .map(|s| SegmentJson { first_row_id: s.first_row_id, row_count: s.row_count, contribution_id: s.contribution_id })
                        .collect(),
                })
                .collect(),
            votes: g
                .votes
                .iter()
                .map(|v| {
                    let vote = v.vote.clone().unwrap_or_default();
                    VoteJson {
                        datanet_id: v.datanet_id,
                        contribution_id: v.contribution_id,
                        epoch: v.epoch,
                        vote: VoteBodyJson { curator: vote.curator, accept: vote.accept, reason: vote.reason, weight: vote.weight },
                    }
                })
                .collect(),
            contributor_stats: g.contributor_stats.iter().map(StatsJson::from).collect(),
        }
    }
}

impl From<&pb::Datanet> for DatanetJson {
    fn from(d: &pb::Datanet) -> Self {
        let schema = d.schema.clone().unwrap_or_default();
        let policy = d.policy.clone().unwrap_or_default();
        Self {
            id: d.id,
            owner: d.owner.clone(),
            name: d.name.clone(),
            description: d.description.clone(),
            license: d.license.clone(),
            schema: SchemaJson {
                kind: SchemaKind::try_from(schema.kind).map(|k| k.as_str_name().to_string()).unwrap_or_default(),
                required_fields: schema.required_fields,
            },
            policy: PolicyJson {
                mode: mode_name(policy.mode),
                curators: policy.curators.iter().map(|c| CuratorJson { address: c.address.clone(), weight: c.weight }).collect(),
                contribution_bond: policy.contribution_bond.as_ref().map(CoinJson::from_proto),
                reject_burn_bps: policy.reject_burn_bps,
                max_row_bytes: policy.max_row_bytes,
            },
            delisted: d.delisted,
            delist_reason: d.delist_reason.clone(),
            next_row_id: d.next_row_id,
            next_contribution_id: d.next_contribution_id,
            latest_version: d.latest_version,
            accepted_rows: d.accepted_rows,
            pending_contributions: d.pending_contributions,
            curation_epoch: d.curation_epoch,
        }
    }
}

impl From<&pb::Contribution> for ContributionJson {
    fn from(c: &pb::Contribution) -> Self {
        Self {
            datanet_id: c.datanet_id,
            id: c.id,
            contributor: c.contributor.clone(),
            first_row_id: c.first_row_id,
            row_count: c.row_count,
            total_bytes: c.total_bytes,
            bond: c.bond.as_ref().map(CoinJson::from_proto),
            reject_burn_bps: c.reject_burn_bps,
            status: ContributionStatus::try_from(c.status).map(|s| s.as_str_name().to_string()).unwrap_or_default(),
            reason: c.reason.clone(),
            accept_weight: c.accept_weight,
            reject_weight: c.reject_weight,
            tally_epoch: c.tally_epoch,
            bond_burned: c.bond_burned.clone(),
            bond_returned: c.bond_returned.clone(),
        }
    }
}

impl From<&pb::Version> for VersionBodyJson {
    fn from(b: &pb::Version) -> Self {
        Self {
            datanet_id: b.datanet_id,
            version: b.version,
            merkle_root: b64().encode(&b.merkle_root),
            row_count: b.row_count,
            total_bytes: b.total_bytes,
            contribution_count: b.contribution_count,
        }
    }
}

impl From<&pb::ContributorStats> for StatsJson {
    fn from(s: &pb::ContributorStats) -> Self {
        Self {
            contributor: s.contributor.clone(),
            datanet_id: s.datanet_id,
            contributions: s.contributions,
            pending_contributions: s.pending_contributions,
            accepted_contributions: s.accepted_contributions,
            rejected_contributions: s.rejected_contributions,
            accepted_rows: s.accepted_rows,
            delisted_rows: s.delisted_rows,
            bond_escrowed: s.bond_escrowed.clone(),
            bond_returned: s.bond_returned.clone(),
            bond_burned: s.bond_burned.clone(),
        }
    }
}

fn canonical_address(field: &str, text: &str) -> Result<String, DatanetError> {
    Address::from_bech32(text).map(|a| a.to_bech32()).map_err(|e| bad(format!("{field} {text:?}: {e}")))
}

/// Writes the datanet genesis (JSON form).
pub fn init_genesis(keeper: &DatanetKeeper, state: &mut dyn StateWrite, genesis: &DatanetGenesis) -> Result<(), DatanetError> {
    init_genesis_proto(keeper, state, &genesis.to_proto()?)
}

/// Writes the datanet genesis after checking it is consistent.
pub fn init_genesis_proto(keeper: &DatanetKeeper, state: &mut dyn StateWrite, g: &pb::GenesisState) -> Result<(), DatanetError> {
    let params = g.params.clone().unwrap_or_else(default_params);
    validate_params(&params).map_err(|e| bad(e.to_string()))?;
    keeper.set_params(state, &params)?;

    let mut datanets: BTreeMap<u64, pb::Datanet> = BTreeMap::new();
    for d in &g.datanets {
        if d.id == 0 || datanets.contains_key(&d.id) {
            return Err(bad(format!("datanet id {} is zero or repeated", d.id)));
        }
        canonical_address("owner", &d.owner)?;
        if d.name.is_empty() || d.name.len() > crate::msg::MAX_NAME_BYTES {
            return Err(bad(format!("datanet {} name", d.id)));
        }
        Schema::from_proto(d.schema.as_ref()).map_err(|e| bad(format!("datanet {}: {e}", d.id)))?;
        check_policy(d.policy.as_ref()).map_err(|e| bad(format!("datanet {}: {e}", d.id)))?;
        if d.next_row_id == 0 || d.next_contribution_id == 0 || d.curation_epoch == 0 {
            return Err(bad(format!("datanet {}: counters start at 1", d.id)));
        }
        datanets.insert(d.id, d.clone());
    }

    let mut contributions: BTreeMap<(u64, u64), pb::Contribution> = BTreeMap::new();
    let mut pending: BTreeMap<u64, u64> = BTreeMap::new();
    let mut accepted_rows: BTreeMap<u64, u64> = BTreeMap::new();
    for c in &g.contributions {
        let d = datanets.get(&c.datanet_id).ok_or_else(|| bad(format!("contribution {} of unknown datanet {}", c.id, c.datanet_id)))?;
        let end = c.first_row_id.checked_add(c.row_count).ok_or_else(|| bad("row range overflows"))?;
        if c.id == 0 || c.id >= d.next_contribution_id || c.first_row_id == 0 || c.row_count == 0 || end > d.next_row_id {
            return Err(bad(format!("contribution {} of datanet {} is out of the datanet's ranges", c.id, c.datanet_id)));
        }
        if contributions.contains_key(&(c.datanet_id, c.id)) {
            return Err(bad(format!("contribution {} of datanet {} repeated", c.id, c.datanet_id)));
        }
        let contributor = canonical_address("contributor", &c.contributor)?;
        uopen_amount(c.bond.as_ref()).map_err(|e| bad(e.to_string()))?;
        if c.reject_burn_bps > 10_000 {
            return Err(bad(format!("contribution {}: reject_burn_bps", c.id)));
        }
        match ContributionStatus::try_from(c.status) {
            Ok(ContributionStatus::Pending) => *pending.entry(c.datanet_id).or_insert(0) += 1,
            Ok(ContributionStatus::Accepted) => {
                let e = accepted_rows.entry(c.datanet_id).or_insert(0);
                *e = inc(*e, c.row_count, "accepted rows")?;
                state.put_proto(state_key::accepted(c.datanet_id, c.id), &c.id)?;
            }
            Ok(ContributionStatus::Rejected) => {}
            _ => return Err(bad(format!("contribution {}: status", c.id))),
        }
        keeper.set_contribution(state, c)?;
        state.put_proto(state_key::by_contributor(&contributor, c.datanet_id, c.id), &c.id)?;
        contributions.insert((c.datanet_id, c.id), c.clone());
    }
    // Contribution ranges must not overlap.
    let mut last_end: BTreeMap<u64, u64> = BTreeMap::new();
    for c in contributions.values() {
        let end = last_end.entry(c.datanet_id).or_insert(0);
        if c.first_row_id < *end {
            return Err(bad(format!("contribution {} of datanet {} overlaps another", c.id, c.datanet_id)));
        }
        *end = c.first_row_id + c.row_count;
    }
    for d in datanets.values() {
        let (p, a) = (pending.get(&d.id).copied().unwrap_or(0), accepted_rows.get(&d.id).copied().unwrap_or(0));
        if d.pending_contributions != p || d.accepted_rows != a {
            return Err(bad(format!("datanet {} counters disagree with its contributions", d.id)));
        }
        keeper.set_datanet(state, d)?;
    }
    let next_id = datanets.keys().next_back().map_or(Ok(1), |max| inc(*max, 1, "datanet id"))?;
    state.put_proto(state_key::NEXT_DATANET_ID.to_vec(), &next_id)?;

    let mut rows: BTreeMap<(u64, u64), &pb::GenesisRow> = BTreeMap::new();
    for r in &g.rows {
        let row = r.row.as_ref().ok_or_else(|| bad(format!("row {} has no body", r.row_id)))?;
        let c = contributions
            .get(&(r.datanet_id, row.contribution_id))
            .ok_or_else(|| bad(format!("row {} of unknown contribution {}", r.row_id, row.contribution_id)))?;
        if r.row_id < c.first_row_id || r.row_id >= c.first_row_id + c.row_count || c.status == ContributionStatus::Rejected as i32 {
            return Err(bad(format!("row {} does not belong to a kept contribution {}", r.row_id, c.id)));
        }
        if row.data.is_empty() || rows.insert((r.datanet_id, r.row_id), r).is_some() {
            return Err(bad(format!("row {} of datanet {} is empty or repeated", r.row_id, r.datanet_id)));
        }
        state.put_proto(state_key::row(r.datanet_id, r.row_id), row)?;
        if row.delisted {
            state.put_proto(state_key::delisted_row(r.datanet_id, r.row_id), &pb::Delisting { reason: r.delist_reason.clone() })?;
        }
    }
    for c in contributions.values().filter(|c| c.status != ContributionStatus::Rejected as i32) {
        let contributor = Address::from_bech32(&c.contributor).map_err(|e| bad(e.to_string()))?;
        let mut hashes = Vec::with_capacity(usize::try_from(c.row_count).unwrap_or(0).saturating_mul(32));
        let mut total: u64 = 0;
        for row_id in c.first_row_id..c.first_row_id + c.row_count {
            let r = rows.get(&(c.datanet_id, row_id)).ok_or_else(|| bad(format!("row {row_id} of contribution {} is missing", c.id)))?;
            let data = r.row.as_ref().map(|r| r.data.as_slice()).unwrap_or_default();
            hashes.extend_from_slice(&merkle::leaf_hash(row_id, contributor.as_bytes(), data));
            total = inc(total, u64::try_from(data.len()).unwrap_or(u64::MAX), "contribution size")?;
        }
        if total != c.total_bytes {
            return Err(bad(format!("contribution {} of datanet {}: total_bytes disagrees with its rows", c.id, c.datanet_id)));
        }
        state.put_proto(state_key::leaves(c.datanet_id, c.id), &pb::RowLeaves { hashes })?;
    }

    let mut versions: BTreeSet<(u64, u64)> = BTreeSet::new();
    for v in &g.versions {
        let version = v.version.as_ref().ok_or_else(|| bad("version without body"))?;
        let d = datanets.get(&version.datanet_id).ok_or_else(|| bad(format!("version of unknown datanet {}", version.datanet_id)))?;
        if version.version == 0 || version.version > d.latest_version || !versions.insert((d.id, version.version)) {
            return Err(bad(format!("version {} of datanet {} out of range or repeated", version.version, d.id)));
        }
        let mut prev_end = 0u64;
        for s in &v.segments {
            let c = contributions.get(&(d.id, s.contribution_id)).filter(|c| c.status == ContributionStatus::Accepted as i32).ok_or_else(
                || bad(format!("version {} refers to contribution {} that is not accepted", version.version, s.contribution_id)),
            )?;
            let end = s.first_row_id.checked_add(s.row_count).ok_or_else(|| bad("segment overflows"))?;
            if s.row_count == 0 || s.first_row_id < prev_end || s.first_row_id < c.first_row_id || end > c.first_row_id + c.row_count {
                return Err(bad(format!("version {} of datanet {}: segments out of order or range", version.version, d.id)));
            }
            prev_end = end;
        }
        let leaves = keeper.segment_leaves(state, d.id, &v.segments)?;
        let root = merkle::root(&leaves).ok_or_else(|| bad(format!("version {} of datanet {} is empty", version.version, d.id)))?;
        if root.as_slice() != version.merkle_root.as_slice() || u64::try_from(leaves.len()).ok() != Some(version.row_count) {
            return Err(bad(format!("version {} of datanet {}: Merkle root or row count does not match its rows", version.version, d.id)));
        }
        state.put_proto(state_key::version(d.id, version.version), version)?;
        state.put_proto(state_key::segments(d.id, version.version), &pb::VersionSegments { segments: v.segments.clone() })?;
    }
    for d in datanets.values() {
        if (1..=d.latest_version).any(|n| !versions.contains(&(d.id, n))) {
            return Err(bad(format!("datanet {} is missing some of its versions 1..={}", d.id, d.latest_version)));
        }
    }

    for v in &g.votes {
        let vote = v.vote.as_ref().ok_or_else(|| bad("vote without body"))?;
        if !contributions.contains_key(&(v.datanet_id, v.contribution_id)) {
            return Err(bad(format!("vote on unknown contribution {}", v.contribution_id)));
        }
        let curator = canonical_address("curator", &vote.curator)?;
        state.put_proto(state_key::vote(v.datanet_id, v.contribution_id, v.epoch, &curator), vote)?;
    }
    for s in &g.contributor_stats {
        let who = canonical_address("contributor", &s.contributor)?;
        if !datanets.contains_key(&s.datanet_id) {
            return Err(bad(format!("stats of unknown datanet {}", s.datanet_id)));
        }
        state.put_proto(state_key::stats(&who, s.datanet_id), s)?;
    }
    Ok(())
}

/// Reads the datanet genesis back out of the state (proto form).
pub fn export_genesis_proto(keeper: &DatanetKeeper, state: &dyn StateRead) -> Result<pb::GenesisState, DatanetError> {
    let mut g = pb::GenesisState { params: Some(keeper.params(state)?), ..Default::default() };
    for (_, d) in state.scan_all_proto::<pb::Datanet>(state_key::DATANET_PREFIX)? {
        let id = d.id;
        g.contributions.extend(state.scan_all_proto::<pb::Contribution>(&state_key::contributions(id))?.into_iter().map(|(_, c)| c));
        for (key, row) in state.scan_all_proto::<pb::Row>(&state_key::rows(id))? {
            let row_id = state_key::trailing_id(&key).ok_or_else(|| DatanetError::Corrupt("row key".into()))?;
            let delist_reason = if row.delisted {
                state.get_proto::<pb::Delisting>(&state_key::delisted_row(id, row_id))?.map(|d| d.reason).unwrap_or_default()
            } else {
                String::new()
            };
            g.rows.push(pb::GenesisRow { datanet_id: id, row_id, row: Some(row), delist_reason });
        }
        for (_, v) in state.scan_all_proto::<pb::Version>(&state_key::versions(id))? {
            let segments = keeper.segments(state, id, v.version)?;
            g.versions.push(pb::GenesisVersion { version: Some(v), segments });
        }
        let vote_prefix = state_key::all_votes(id);
        for (key, vote) in state.scan_all_proto::<pb::CuratorVote>(&vote_prefix)? {
            let rest = String::from_utf8_lossy(&key[vote_prefix.len()..]).into_owned();
            let mut parts = rest.splitn(3, '/');
            let (Some(c), Some(e)) = (parts.next().and_then(|s| s.parse().ok()), parts.next().and_then(|s| s.parse().ok())) else {
                return Err(DatanetError::Corrupt(format!("vote key {rest}")));
            };
            g.votes.push(pb::GenesisVote { datanet_id: id, contribution_id: c, epoch: e, vote: Some(vote) });
        }
        g.datanets.push(d);
    }
    g.contributor_stats = state.scan_all_proto::<pb::ContributorStats>(state_key::STATS_PREFIX)?.into_iter().map(|(_, s)| s).collect();
    Ok(g)
}

/// Reads the datanet genesis back out of the state (JSON form).
pub fn export_genesis(keeper: &DatanetKeeper, state: &dyn StateRead) -> Result<DatanetGenesis, DatanetError> {
    Ok(DatanetGenesis::from_proto(&export_genesis_proto(keeper, state)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::gov_authority;
    use crate::keeper::tests::{addr, keeper};
    use crate::msg::tests::{create, json_schema, owner_policy, publish, review, submit};
    use crate::msg::{DelistRow, ReviewContribution};
    use openledger_core::delta::{EmptyState, StateDelta};
    use openledger_core::error::ErrorCode;
    use openledger_proto::openledger::datanet::v1::{CurationPolicy, Curator, MsgDelistRow, MsgReviewContribution};

    fn populated() -> (DatanetKeeper, StateDelta<EmptyState>) {
        let (k, bank) = keeper();
        let mut s = StateDelta::new(EmptyState);
        for who in 2..=4 {
            bank.fund(&addr(who), 10_000);
        }
        let id = create(&k, &mut s, 1, json_schema(&["q"]), owner_policy(100, 5000, 200));
        submit(&k, &mut s, 2, id, &[r#"{"q":1}"#, r#"{"q":2}"#, r#"{"q":3}"#], 100).unwrap();
        submit(&k, &mut s, 3, id, &[r#"{"q":4}"#], 100).unwrap();
        submit(&k, &mut s, 4, id, &[r#"{"q":5}"#], 100).unwrap();
        review(&k, &mut s, 1, id, 1, true).unwrap();
        review(&k, &mut s, 1, id, 2, false).unwrap();
        publish(&k, &mut s, 1, id).unwrap();
        DelistRow::check_stateless(&MsgDelistRow {
            authority: gov_authority().to_bech32(),
            datanet_id: id,
            row_id: 2,
            reason: "pii".into(),
        })
        .unwrap()
        .execute(&k, &mut s)
        .unwrap();
        publish(&k, &mut s, 1, id).unwrap();
        let policy = CurationPolicy {
            mode: pb::CurationMode::CuratorVote as i32,
            curators: vec![Curator { address: addr(8).to_bech32(), weight: 1 }, Curator { address: addr(9).to_bech32(), weight: 2 }],
            ..owner_policy(0, 0, 100)
        };
        let id2 = create(&k, &mut s, 1, pb::RowSchema { kind: SchemaKind::Text as i32, required_fields: vec![] }, policy);
        submit(&k, &mut s, 2, id2, &["free text"], 0).unwrap();
        ReviewContribution::check_stateless(&MsgReviewContribution {
            reviewer: addr(8).to_bech32(),
            datanet_id: id2,
            contribution_id: 1,
            accept: true,
            reason: String::new(),
        })
        .unwrap()
        .execute(&k, &mut s)
        .unwrap();
        (k, s)
    }

    #[test]
    fn genesis_round_trips_through_json() {
        let (k, s) = populated();
        let exported = export_genesis(&k, &s).unwrap();
        assert_eq!(exported.datanets.len(), 2);
        assert_eq!(exported.versions.len(), 2);
        assert_eq!(exported.votes.len(), 1);
        assert_eq!(exported.rows.len(), 5, "3 accepted + 1 pending + 1 pending in the second datanet; the rejected row is gone");
        assert!(exported.rows.iter().any(|r| r.row.delisted && r.delist_reason == "pii"));
        let text = serde_json::to_string(&exported).unwrap();
        assert!(text.contains("\"SCHEMA_KIND_JSON\"") && text.contains("\"CONTRIBUTION_STATUS_REJECTED\""));
        let parsed: DatanetGenesis = serde_json::from_str(&text).unwrap();
        let mut fresh = StateDelta::new(EmptyState);
        init_genesis(&k, &mut fresh, &parsed).unwrap();
        assert_eq!(export_genesis(&k, &fresh).unwrap(), exported);
        // Derived state is identical too (leaves, indexes, next id); import also writes the params.
        let live = |d: &StateDelta<EmptyState>| -> Vec<(Vec<u8>, Vec<u8>)> {
            d.changes().iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).filter(|(k, _)| k != state_key::PARAMS).collect()
        };
        let (a, b) = (live(&s), live(&fresh));
        let keys = |v: &[(Vec<u8>, Vec<u8>)]| v.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>();
        assert_eq!(keys(&a), keys(&b));
        assert!(a == b, "same keys, different values");
        // An empty genesis is valid.
        init_genesis(&k, &mut StateDelta::new(EmptyState), &DatanetGenesis::default()).unwrap();
    }

    #[test]
    fn inconsistent_genesis_is_refused() {
        let (k, s) = populated();
        let good = export_genesis(&k, &s).unwrap();
        let refuse = |f: &dyn Fn(&mut DatanetGenesis)| {
            let mut g = good.clone();
            f(&mut g);
            let err = init_genesis(&k, &mut StateDelta::new(EmptyState), &g).unwrap_err();
            assert_eq!((err.codespace(), err.code()), ("datanet", 20), "{err}");
        };
        refuse(&|g| g.versions[0].version.merkle_root = b64().encode([0u8; 32]));
        refuse(&|g| g.rows[0].row.data = b64().encode(b"{\"q\":9}"));
        refuse(&|g| g.rows.pop().map(|_| ()).unwrap_or_default());
        refuse(&|g| g.versions.remove(0).version.version.to_string().clear());
        refuse(&|g| g.datanets[0].pending_contributions += 1);
        refuse(&|g| g.contributions[0].datanet_id = 77);
        refuse(&|g| g.datanets[1].id = g.datanets[0].id);
        refuse(&|g| g.datanets[0].schema.kind = "SCHEMA_KIND_XML".into());
        refuse(&|g| g.params.max_rows_per_contribution = 0);
        refuse(&|g| g.contributor_stats[0].contributor = "nope".into());
    }
}
