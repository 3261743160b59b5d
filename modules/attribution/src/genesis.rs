//! Attribution genesis: the `openledger.attribution.v1.GenesisState` proto, and its JSON form in
//! genesis.json (proto3 JSON with the original field names: 64-bit integers as strings). Indexes
//! are derived data, so import rebuilds the index of every listed version from the datanet state
//! (the app imports the datanet genesis first); export lists the indexed and pending versions,
//! the params and the records.

use std::collections::BTreeSet;

use openledger_core::{serde_str, StateRead, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::attribution::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::error::AttributionError;
use crate::keeper::{default_params, validate_params, AttributionKeeper};
use crate::state_key;

fn bad(msg: impl Into<String>) -> AttributionError {
    AttributionError::InvalidGenesis(msg.into())
}

/// `Params` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsJson {
    /// Shortest span.
    pub min_span_tokens: u32,
    /// Most output tokens scored.
    pub max_output_tokens: u32,
    /// Most tokens per indexed version.
    #[serde(with = "serde_str")]
    pub max_index_tokens: u64,
    /// Gas per published byte (absent: 0, as on chains from before the param).
    #[serde(default, with = "serde_str", skip_serializing_if = "is_zero")]
    pub index_gas_per_byte: u64,
    /// Bytes one block may queue for indexing (absent: 0, no bound).
    #[serde(default, with = "serde_str", skip_serializing_if = "is_zero")]
    pub max_index_bytes_per_block: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Default for ParamsJson {
    fn default() -> Self {
        Self::from(&default_params())
    }
}

impl From<&pb::Params> for ParamsJson {
    fn from(p: &pb::Params) -> Self {
        Self {
            min_span_tokens: p.min_span_tokens,
            max_output_tokens: p.max_output_tokens,
            max_index_tokens: p.max_index_tokens,
            index_gas_per_byte: p.index_gas_per_byte,
            max_index_bytes_per_block: p.max_index_bytes_per_block,
        }
    }
}

/// `VersionRef` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionJson {
    /// Datanet.
    #[serde(with = "serde_str")]
    pub datanet_id: u64,
    /// Version.
    #[serde(with = "serde_str")]
    pub version: u64,
}

/// Proto name of a stored record (`records` are in its proto JSON mapping).
const RECORD: &str = "openledger.attribution.v1.AttributionRecord";

/// The attribution section of the genesis `app_state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AttributionGenesis {
    /// Params.
    #[serde(default)]
    pub params: ParamsJson,
    /// Indexed versions.
    #[serde(default)]
    pub indexed: Vec<VersionJson>,
    /// Versions waiting to be indexed.
    #[serde(default)]
    pub pending: Vec<VersionJson>,
    /// Records (`openledger.attribution.v1.AttributionRecord` in the proto JSON mapping).
    #[serde(default)]
    pub records: Vec<serde_json::Value>,
}

fn refs(v: &[VersionJson]) -> Vec<pb::VersionRef> {
    v.iter().map(|v| pb::VersionRef { datanet_id: v.datanet_id, version: v.version }).collect()
}

fn jsons(v: &[pb::VersionRef]) -> Vec<VersionJson> {
    v.iter().map(|v| VersionJson { datanet_id: v.datanet_id, version: v.version }).collect()
}

impl AttributionGenesis {
    /// The proto form.
    pub fn to_proto(&self) -> Result<pb::GenesisState, AttributionError> {
        let p = &self.params;
        let mut records = Vec::with_capacity(self.records.len());
        for r in &self.records {
            records.push(openledger_proto::json::from_json::<pb::AttributionRecord>(RECORD, r).map_err(|e| bad(format!("record: {e}")))?);
        }
        Ok(pb::GenesisState {
            params: Some(pb::Params {
                min_span_tokens: p.min_span_tokens,
                max_output_tokens: p.max_output_tokens,
                max_index_tokens: p.max_index_tokens,
                index_gas_per_byte: p.index_gas_per_byte,
                max_index_bytes_per_block: p.max_index_bytes_per_block,
            }),
            indexed: refs(&self.indexed),
            pending: refs(&self.pending),
            records,
        })
    }

    /// The JSON form.
    pub fn from_proto(g: &pb::GenesisState) -> Result<Self, AttributionError> {
        Ok(Self {
            params: g.params.as_ref().map(ParamsJson::from).unwrap_or_default(),
            indexed: jsons(&g.indexed),
            pending: jsons(&g.pending),
            records: g
                .records
                .iter()
                .map(|r| openledger_proto::json::to_json(RECORD, r).map_err(|e| bad(format!("record {}: {e}", r.inference_id))))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Writes the attribution genesis (JSON form).
pub fn init_genesis(keeper: &AttributionKeeper, state: &mut dyn StateWrite, genesis: &AttributionGenesis) -> Result<(), AttributionError> {
    init_genesis_proto(keeper, state, &genesis.to_proto()?)
}

/// Writes the attribution genesis: params, rebuilt indexes, the pending queue and the records.
pub fn init_genesis_proto(keeper: &AttributionKeeper, state: &mut dyn StateWrite, g: &pb::GenesisState) -> Result<(), AttributionError> {
    let params = g.params.unwrap_or_else(default_params);
    validate_params(&params).map_err(|e| bad(e.to_string()))?;
    let mut seen = BTreeSet::new();
    for v in g.indexed.iter().chain(g.pending.iter()) {
        if !seen.insert((v.datanet_id, v.version)) {
            return Err(bad(format!("version {} of datanet {} listed twice", v.version, v.datanet_id)));
        }
        if keeper.datanet().published_version(state, v.datanet_id, v.version)?.is_none() {
            return Err(bad(format!("version {} of datanet {} does not exist", v.version, v.datanet_id)));
        }
    }
    let mut ids = BTreeSet::new();
    for r in &g.records {
        if !ids.insert(r.inference_id) {
            return Err(bad(format!("record of inference {} listed twice", r.inference_id)));
        }
    }
    // Everything checked: write.
    keeper.set_params(state, &params)?;
    for v in &g.indexed {
        keeper.index_version(state, v.datanet_id, v.version)?;
    }
    for v in &g.pending {
        keeper.on_version_published(state, v.datanet_id, v.version)?;
    }
    for r in &g.records {
        state.put_proto(state_key::record(r.inference_id), r)?;
    }
    Ok(())
}

/// Reads the attribution genesis back out of the state (proto form).
pub fn export_genesis_proto(keeper: &AttributionKeeper, state: &dyn StateRead) -> Result<pb::GenesisState, AttributionError> {
    let indexed = state
        .scan_all_proto::<pb::IndexMeta>(state_key::META_PREFIX)?
        .into_iter()
        .map(|(_, m)| pb::VersionRef { datanet_id: m.datanet_id, version: m.version })
        .collect();
    let pending = state.scan_all_proto::<pb::VersionRef>(state_key::PENDING_PREFIX)?.into_iter().map(|(_, v)| v).collect();
    let records = state.scan_all_proto::<pb::AttributionRecord>(state_key::RECORD_PREFIX)?.into_iter().map(|(_, r)| r).collect();
    Ok(pb::GenesisState { params: Some(keeper.params(state)?), indexed, pending, records })
}

/// Reads the attribution genesis back out of the state (JSON form).
pub fn export_genesis(keeper: &AttributionKeeper, state: &dyn StateRead) -> Result<AttributionGenesis, AttributionError> {
    AttributionGenesis::from_proto(&export_genesis_proto(keeper, state)?)
}
