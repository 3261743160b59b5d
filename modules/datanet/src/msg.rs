//! Datanet messages: for each, a stateless check (the SDK's `ValidateBasic`) producing a
//! validated value, its signer, its amino JSON form (`openledger/<MsgName>`), and its execution
//! against a state delta. Execution checks everything before it writes anything, and the app
//! drops the message layer whole if it fails, so a contribution is stored completely or not at
//! all.

use std::collections::BTreeSet;

use base64::Engine;
use openledger_core::coin::{format_coins, BASE_DENOM};
use openledger_core::{Address, Coin, StateReadExt, StateWrite, StateWriteExt};
use openledger_proto::openledger::datanet::v1::{
    ContributionStatus, CurationMode, CurationPolicy, Curator, CuratorVote, Datanet, Delisting, MsgCreateDatanet, MsgCreateDatanetResponse,
    MsgDelistDatanet, MsgDelistDatanetResponse, MsgDelistRow, MsgDelistRowResponse, MsgPublishVersion, MsgPublishVersionResponse,
    MsgReviewContribution, MsgReviewContributionResponse, MsgSubmitContribution, MsgSubmitContributionResponse, MsgUpdateDatanet,
    MsgUpdateDatanetResponse, Params, Row, RowLeaves, Segment, Version, VersionSegments,
};
use serde_json::{json, Value};

use crate::error::DatanetError;
use crate::events::{
    ContributionDecided, ContributionReviewed, ContributionSubmitted, DatanetCreated, DatanetDelisted, DatanetUpdated, RowDelisted,
    VersionPublished,
};
use crate::keeper::{
    add_amount, dec, gov_authority, inc, min_contribution_bond, split_bond, sub_amount, uopen, uopen_amount, DatanetKeeper,
    ABSOLUTE_MAX_CURATORS, ABSOLUTE_MAX_ROWS, ABSOLUTE_MAX_ROW_BYTES, SCAN_PAGE,
};
use crate::merkle::{self, Hash};
use crate::schema::Schema;
use crate::state_key;

/// Longest datanet name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;
/// Longest license, in bytes.
pub const MAX_LICENSE_BYTES: usize = 128;
/// Longest review or delisting reason, in bytes.
pub const MAX_REASON_BYTES: usize = 512;

/// Type URL of `MsgCreateDatanet`.
pub const MSG_CREATE_DATANET: &str = "/openledger.datanet.v1.MsgCreateDatanet";
/// Type URL of `MsgUpdateDatanet`.
pub const MSG_UPDATE_DATANET: &str = "/openledger.datanet.v1.MsgUpdateDatanet";
/// Type URL of `MsgSubmitContribution`.
pub const MSG_SUBMIT_CONTRIBUTION: &str = "/openledger.datanet.v1.MsgSubmitContribution";
/// Type URL of `MsgReviewContribution`.
pub const MSG_REVIEW_CONTRIBUTION: &str = "/openledger.datanet.v1.MsgReviewContribution";
/// Type URL of `MsgPublishVersion`.
pub const MSG_PUBLISH_VERSION: &str = "/openledger.datanet.v1.MsgPublishVersion";
/// Type URL of `MsgDelistDatanet`.
pub const MSG_DELIST_DATANET: &str = "/openledger.datanet.v1.MsgDelistDatanet";
/// Type URL of `MsgDelistRow`.
pub const MSG_DELIST_ROW: &str = "/openledger.datanet.v1.MsgDelistRow";

/// Type URL of a message's response (`…Msg<X>` → `…Msg<X>Response`).
pub fn response_type_url(msg_type_url: &str) -> String {
    format!("{msg_type_url}Response")
}

fn address(field: &'static str, text: &str) -> Result<Address, DatanetError> {
    Address::from_bech32(text).map_err(|e| DatanetError::InvalidAddress { field, reason: e.to_string() })
}

fn bounded(what: &str, text: &str, min: usize, max: usize) -> Result<(), DatanetError> {
    if text.len() < min || text.len() > max {
        return Err(DatanetError::InvalidMetadata(format!("{what} must be {min}..={max} bytes, got {}", text.len())));
    }
    Ok(())
}

fn reason_ok(reason: &str) -> Result<(), DatanetError> {
    if reason.len() > MAX_REASON_BYTES {
        return Err(DatanetError::InvalidReview(format!("reason is {} bytes, at most {MAX_REASON_BYTES}", reason.len())));
    }
    Ok(())
}

/// Checks a curation policy without state and returns it normalised (bond as a `uopen` coin,
/// curator addresses in canonical bech32).
pub fn check_policy(policy: Option<&CurationPolicy>) -> Result<CurationPolicy, DatanetError> {
    let policy = policy.ok_or_else(|| DatanetError::InvalidPolicy("policy is required".into()))?;
    let mode = CurationMode::try_from(policy.mode).unwrap_or(CurationMode::Unspecified);
    let mut curators = Vec::with_capacity(policy.curators.len());
    match mode {
        CurationMode::OwnerReview => {
            if !policy.curators.is_empty() {
                return Err(DatanetError::InvalidPolicy("OWNER_REVIEW takes no curators".into()));
            }
        }
        CurationMode::CuratorVote => {
            if policy.curators.is_empty() {
                return Err(DatanetError::InvalidPolicy("CURATOR_VOTE needs at least one curator".into()));
            }
            if policy.curators.len() > ABSOLUTE_MAX_CURATORS as usize {
                return Err(DatanetError::InvalidPolicy(format!("at most {ABSOLUTE_MAX_CURATORS} curators")));
            }
            let mut seen = BTreeSet::new();
            let mut total: u64 = 0;
            for c in &policy.curators {
                let a = address("curator", &c.address)?;
                if !seen.insert(a.clone()) {
                    return Err(DatanetError::InvalidPolicy(format!("curator {a} is listed twice")));
                }
                if c.weight == 0 {
                    return Err(DatanetError::InvalidPolicy(format!("curator {a} has weight 0")));
                }
                total = total.checked_add(c.weight).ok_or_else(|| DatanetError::InvalidPolicy("curator weights overflow".into()))?;
                curators.push(Curator { address: a.to_bech32(), weight: c.weight });
            }
        }
        CurationMode::Unspecified => {
            return Err(DatanetError::InvalidPolicy(format!(
                "mode must be CURATION_MODE_OWNER_REVIEW or CURATION_MODE_CURATOR_VOTE, got {}",
                policy.mode
            )))
        }
    }
    let bond = uopen_amount(policy.contribution_bond.as_ref())?;
    if policy.reject_burn_bps > 10_000 {
        return Err(DatanetError::InvalidPolicy(format!("reject_burn_bps {} exceeds 10000", policy.reject_burn_bps)));
    }
    if policy.max_row_bytes == 0 || policy.max_row_bytes > ABSOLUTE_MAX_ROW_BYTES {
        return Err(DatanetError::InvalidPolicy(format!("max_row_bytes must be 1..={ABSOLUTE_MAX_ROW_BYTES}")));
    }
    Ok(CurationPolicy {
        mode: policy.mode,
        curators,
        contribution_bond: Some(uopen(bond)),
        reject_burn_bps: policy.reject_burn_bps,
        max_row_bytes: policy.max_row_bytes,
    })
}

/// Checks a (normalised) policy against the module params.
pub fn check_policy_params(policy: &CurationPolicy, params: &Params) -> Result<(), DatanetError> {
    if policy.max_row_bytes > params.max_row_bytes_cap {
        return Err(DatanetError::InvalidPolicy(format!(
            "max_row_bytes {} exceeds the module cap {}",
            policy.max_row_bytes, params.max_row_bytes_cap
        )));
    }
    if policy.curators.len() > params.max_curators as usize {
        return Err(DatanetError::InvalidPolicy(format!("{} curators exceed the maximum {}", policy.curators.len(), params.max_curators)));
    }
    let floor = min_contribution_bond(params)?;
    let bond = uopen_amount(policy.contribution_bond.as_ref())?;
    if bond < floor {
        return Err(DatanetError::InvalidPolicy(format!(
            "contribution bond {bond}{BASE_DENOM} is below the governance minimum {floor}{BASE_DENOM}"
        )));
    }
    Ok(())
}

fn status_name(status: i32) -> String {
    ContributionStatus::try_from(status).map(|s| s.as_str_name().to_string()).unwrap_or_else(|_| status.to_string())
}

pub use openledger_core::amino::{coin_amino, AminoObject};

fn policy_amino(policy: Option<&CurationPolicy>) -> Value {
    match policy {
        None => Value::Null,
        Some(p) => {
            let curators: Vec<Value> =
                p.curators.iter().map(|c| AminoObject::default().str("address", &c.address).u64("weight", c.weight).build()).collect();
            AminoObject::default()
                .num("mode", i64::from(p.mode))
                .value("curators", if curators.is_empty() { Value::Null } else { Value::Array(curators) })
                .value("contribution_bond", coin_amino(p.contribution_bond.as_ref()))
                .num("reject_burn_bps", i64::from(p.reject_burn_bps))
                .u64("max_row_bytes", p.max_row_bytes)
                .build()
        }
    }
}

/// A validated `MsgCreateDatanet`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateDatanet {
    /// Owner (signer).
    pub owner: Address,
    /// Normalised policy.
    pub policy: CurationPolicy,
    /// The message as signed.
    pub msg: MsgCreateDatanet,
}

impl Eq for CreateDatanet {}

impl CreateDatanet {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgCreateDatanet) -> Result<Self, DatanetError> {
        let owner = address("owner", &msg.owner)?;
        bounded("name", &msg.name, 1, MAX_NAME_BYTES)?;
        bounded("description", &msg.description, 0, MAX_DESCRIPTION_BYTES)?;
        bounded("license", &msg.license, 0, MAX_LICENSE_BYTES)?;
        Schema::from_proto(msg.schema.as_ref())?;
        let policy = check_policy(msg.policy.as_ref())?;
        Ok(Self { owner, policy, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.owner.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        let schema = m.schema.as_ref().map_or(Value::Null, |s| {
            AminoObject::default()
                .num("kind", i64::from(s.kind))
                .value("required_fields", if s.required_fields.is_empty() { Value::Null } else { json!(s.required_fields) })
                .build()
        });
        AminoObject::default()
            .str("owner", &m.owner)
            .str("name", &m.name)
            .str("description", &m.description)
            .str("license", &m.license)
            .value("schema", schema)
            .value("policy", policy_amino(m.policy.as_ref()))
            .typed("openledger/MsgCreateDatanet")
    }

    /// Creates the datanet.
    pub fn execute(&self, keeper: &DatanetKeeper, state: &mut dyn StateWrite) -> Result<MsgCreateDatanetResponse, DatanetError> {
        let params = keeper.params(state)?;
        check_policy_params(&self.policy, &params)?;
        let id = keeper.next_datanet_id(state)?;
        let datanet = Datanet {
            id,
            owner: self.owner.to_bech32(),
            name: self.msg.name.clone(),
            description: self.msg.description.clone(),
            license: self.msg.license.clone(),
            schema: self.msg.schema.clone(),
            policy: Some(self.policy.clone()),
            delisted: false,
            delist_reason: String::new(),
            next_row_id: 1,
            next_contribution_id: 1,
            latest_version: 0,
            accepted_rows: 0,
            pending_contributions: 0,
            curation_epoch: 1,
        };
        keeper.set_datanet(state, &datanet)?;
        state.emit_typed(DatanetCreated { datanet_id: id, owner: datanet.owner.clone(), name: datanet.name.clone() });
        Ok(MsgCreateDatanetResponse { datanet_id: id })
    }
}

/// A validated `MsgUpdateDatanet`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateDatanet {
    /// Current owner (signer).
    pub owner: Address,
    /// New owner, if any.
    pub new_owner: Option<Address>,
    /// New normalised policy, if any.
    pub policy: Option<CurationPolicy>,
    /// The message as signed.
    pub msg: MsgUpdateDatanet,
}

impl Eq for UpdateDatanet {}

impl UpdateDatanet {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgUpdateDatanet) -> Result<Self, DatanetError> {
        let owner = address("owner", &msg.owner)?;
        bounded("name", &msg.name, 0, MAX_NAME_BYTES)?;
        bounded("description", &msg.description, 0, MAX_DESCRIPTION_BYTES)?;
        bounded("license", &msg.license, 0, MAX_LICENSE_BYTES)?;
        let new_owner = if msg.new_owner.is_empty() { None } else { Some(address("new_owner", &msg.new_owner)?) };
        let policy = msg.policy.as_ref().map(|p| check_policy(Some(p))).transpose()?;
        if msg.name.is_empty() && msg.description.is_empty() && msg.license.is_empty() && policy.is_none() && new_owner.is_none() {
            return Err(DatanetError::InvalidMetadata("nothing to update".into()));
        }
        Ok(Self { owner, new_owner, policy, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.owner.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        AminoObject::default()
            .str("owner", &m.owner)
            .u64("datanet_id", m.datanet_id)
            .str("name", &m.name)
            .str("description", &m.description)
            .str("license", &m.license)
            .value("policy", policy_amino(m.policy.as_ref()))
            .str("new_owner", &m.new_owner)
            .typed("openledger/MsgUpdateDatanet")
    }

    /// Applies the update (owner only, not on a delisted datanet).
    pub fn execute(&self, keeper: &DatanetKeeper, state: &mut dyn StateWrite) -> Result<MsgUpdateDatanetResponse, DatanetError> {
        let mut datanet = keeper.require_datanet(state, self.msg.datanet_id)?;
        let signer = self.owner.to_bech32();
        if datanet.owner != signer {
            return Err(DatanetError::Unauthorized(format!("{signer} is not the owner of datanet {}", datanet.id)));
        }
        if datanet.delisted {
            return Err(DatanetError::DatanetDelisted(datanet.id));
        }
        if let Some(policy) = &self.policy {
            check_policy_params(policy, &keeper.params(state)?)?;
            let old = datanet.policy.clone().unwrap_or_default();
            if old.mode != policy.mode || old.curators != policy.curators {
                datanet.curation_epoch = inc(datanet.curation_epoch, 1, "curation epoch")?;
            }
            datanet.policy = Some(policy.clone());
        }
        if !self.msg.name.is_empty() {
            datanet.name = self.msg.name.clone();
        }
        if !self.msg.description.is_empty() {
            datanet.description = self.msg.description.clone();
        }
        if !self.msg.license.is_empty() {
            datanet.license = self.msg.license.clone();
        }
        if let Some(new_owner) = &self.new_owner {
            datanet.owner = new_owner.to_bech32();
        }
        keeper.set_datanet(state, &datanet)?;
        state.emit_typed(DatanetUpdated { datanet_id: datanet.id, owner: datanet.owner.clone(), curation_epoch: datanet.curation_epoch });
        Ok(MsgUpdateDatanetResponse {})
    }
}

/// A validated `MsgSubmitContribution`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitContribution {
    /// Contributor (signer).
    pub contributor: Address,
    /// Bond in the message (uopen).
    pub bond: u128,
    /// The message as signed.
    pub msg: MsgSubmitContribution,
}

impl Eq for SubmitContribution {}

impl SubmitContribution {
    /// `ValidateBasic`: signer, row count and sizes within the hard caps, bond well formed.
    pub fn check_stateless(msg: &MsgSubmitContribution) -> Result<Self, DatanetError> {
        let contributor = address("contributor", &msg.contributor)?;
        if msg.rows.is_empty() {
            return Err(DatanetError::NoRows);
        }
        let count = u64::try_from(msg.rows.len()).unwrap_or(u64::MAX);
        if count > ABSOLUTE_MAX_ROWS {
            return Err(DatanetError::TooManyRows { count, max: ABSOLUTE_MAX_ROWS });
        }
        for (i, row) in msg.rows.iter().enumerate() {
            let size = u64::try_from(row.len()).unwrap_or(u64::MAX);
            if size == 0 || size > ABSOLUTE_MAX_ROW_BYTES {
                return Err(DatanetError::RowSize { index: u64::try_from(i).unwrap_or(u64::MAX), size, max: ABSOLUTE_MAX_ROW_BYTES });
            }
        }
        let bond = uopen_amount(msg.bond.as_ref())?;
        Ok(Self { contributor, bond, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.contributor.clone()]
    }

    /// Amino JSON (rows as base64).
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        let b64 = base64::engine::general_purpose::STANDARD;
        let rows: Vec<Value> = m.rows.iter().map(|r| Value::String(b64.encode(r))).collect();
        AminoObject::default()
            .str("contributor", &m.contributor)
            .u64("datanet_id", m.datanet_id)
            .value("rows", Value::Array(rows))
            .value("bond", coin_amino(m.bond.as_ref()))
            .typed("openledger/MsgSubmitContribution")
    }

    /// Validates every row against the datanet, escrows the bond, then stores the rows, their
    /// leaf hashes and the pending contribution.
    pub fn execute(&self, keeper: &DatanetKeeper, state: &mut dyn StateWrite) -> Result<MsgSubmitContributionResponse, DatanetError> {
        let datanet_id = self.msg.datanet_id;
        let mut datanet = keeper.require_datanet(state, datanet_id)?;
        if datanet.delisted {
            return Err(DatanetError::DatanetDelisted(datanet_id));
        }
        let params = keeper.params(state)?;
        let count = u64::try_from(self.msg.rows.len()).unwrap_or(u64::MAX);
        if count > params.max_rows_per_contribution {
            return Err(DatanetError::TooManyRows { count, max: params.max_rows_per_contribution });
        }
        let policy = datanet.policy.clone().unwrap_or_default();
        let max_row = policy.max_row_bytes.min(params.max_row_bytes_cap);
        let schema = Schema::from_proto(datanet.schema.as_ref())?;
        let mut total_bytes: u64 = 0;
        for (i, row) in self.msg.rows.iter().enumerate() {
            let index = u64::try_from(i).unwrap_or(u64::MAX);
            let size = u64::try_from(row.len()).unwrap_or(u64::MAX);
            if size == 0 || size > max_row {
                return Err(DatanetError::RowSize { index, size, max: max_row });
            }
            schema.check_row(row).map_err(|reason| DatanetError::SchemaMismatch { index, reason })?;
            total_bytes = inc(total_bytes, size, "contribution size")?;
        }
        // The governance floor applies to datanets whose policy predates a raise.
        let expected = uopen_amount(policy.contribution_bond.as_ref())?.max(min_contribution_bond(&params)?);
        if self.bond != expected {
            return Err(DatanetError::BondMismatch {
                expected: format!("{expected}{}", openledger_core::coin::BASE_DENOM),
                got: format!("{}{}", self.bond, openledger_core::coin::BASE_DENOM),
            });
        }
        keeper.escrow(state, &self.contributor, self.bond)?;

        let contribution_id = datanet.next_contribution_id.max(1);
        let first_row_id = datanet.next_row_id.max(1);
        datanet.next_contribution_id = inc(contribution_id, 1, "contribution id")?;
        datanet.next_row_id = inc(first_row_id, count, "row id")?;
        datanet.pending_contributions = inc(datanet.pending_contributions, 1, "pending contributions")?;
        let contributor = self.contributor.to_bech32();
        let mut leaves = Vec::with_capacity(self.msg.rows.len().saturating_mul(32));
        for (i, data) in self.msg.rows.iter().enumerate() {
            let row_id =
                first_row_id.checked_add(u64::try_from(i).unwrap_or(u64::MAX)).ok_or_else(|| DatanetError::Overflow("row id".into()))?;
            leaves.extend_from_slice(&merkle::leaf_hash(row_id, self.contributor.as_bytes(), data));
            state.put_proto(state_key::row(datanet_id, row_id), &Row { contribution_id, data: data.clone(), delisted: false })?;
        }
        state.put_proto(state_key::leaves(datanet_id, contribution_id), &RowLeaves { hashes: leaves })?;
        let contribution = openledger_proto::openledger::datanet::v1::Contribution {
            datanet_id,
            id: contribution_id,
            contributor: contributor.clone(),
            first_row_id,
            row_count: count,
            total_bytes,
            bond: Some(uopen(self.bond)),
            reject_burn_bps: policy.reject_burn_bps,
            status: ContributionStatus::Pending as i32,
            reason: String::new(),
            accept_weight: 0,
            reject_weight: 0,
            tally_epoch: datanet.curation_epoch,
            bond_burned: "0".into(),
            bond_returned: "0".into(),
        };
        keeper.set_contribution(state, &contribution)?;
        state.put_proto(state_key::by_contributor(&contributor, datanet_id, contribution_id), &contribution_id)?;
        let mut stats = keeper.stats(state, &contributor, datanet_id)?;
        stats.contributions = inc(stats.contributions, 1, "contributions")?;
        stats.pending_contributions = inc(stats.pending_contributions, 1, "pending contributions")?;
        stats.bond_escrowed = add_amount(&stats.bond_escrowed, self.bond)?;
        keeper.set_stats(state, &stats)?;
        keeper.set_datanet(state, &datanet)?;
        state.emit_typed(ContributionSubmitted {
            datanet_id,
            contribution_id,
            contributor,
            first_row_id,
            row_count: count,
            bond: format_coins(&[Coin::new(openledger_core::coin::BASE_DENOM, self.bond)]),
        });
        Ok(MsgSubmitContributionResponse { contribution_id, first_row_id, row_count: count })
    }
}

/// A validated `MsgReviewContribution`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewContribution {
    /// Reviewer (signer).
    pub reviewer: Address,
    /// The message as signed.
    pub msg: MsgReviewContribution,
}

impl Eq for ReviewContribution {}

/// The reason recorded when curators voted without a two-thirds side.
pub const NO_AGREEMENT_REASON: &str = "no two-thirds agreement among curators";

impl ReviewContribution {
    /// `ValidateBasic`: a rejection needs a reason.
    pub fn check_stateless(msg: &MsgReviewContribution) -> Result<Self, DatanetError> {
        let reviewer = address("reviewer", &msg.reviewer)?;
        reason_ok(&msg.reason)?;
        if !msg.accept && msg.reason.trim().is_empty() {
            return Err(DatanetError::InvalidReview("a rejection needs a reason".into()));
        }
        Ok(Self { reviewer, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.reviewer.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        AminoObject::default()
            .str("reviewer", &m.reviewer)
            .u64("datanet_id", m.datanet_id)
            .u64("contribution_id", m.contribution_id)
            .bool("accept", m.accept)
            .str("reason", &m.reason)
            .typed("openledger/MsgReviewContribution")
    }

    /// Decides (owner review) or records a curator's vote and decides once two thirds agree.
    pub fn execute(&self, keeper: &DatanetKeeper, state: &mut dyn StateWrite) -> Result<MsgReviewContributionResponse, DatanetError> {
        let m = &self.msg;
        let mut datanet = keeper.require_datanet(state, m.datanet_id)?;
        let mut c = keeper.require_contribution(state, m.datanet_id, m.contribution_id)?;
        if c.status != ContributionStatus::Pending as i32 {
            return Err(DatanetError::AlreadyDecided {
                datanet_id: m.datanet_id,
                contribution_id: m.contribution_id,
                status: status_name(c.status),
            });
        }
        let reviewer = self.reviewer.to_bech32();
        let policy = datanet.policy.clone().unwrap_or_default();
        state.emit_typed(ContributionReviewed {
            datanet_id: m.datanet_id,
            contribution_id: m.contribution_id,
            reviewer: reviewer.clone(),
            accept: m.accept,
            reason: m.reason.clone(),
        });
        let decision = match CurationMode::try_from(policy.mode) {
            Ok(CurationMode::OwnerReview) => {
                if reviewer != datanet.owner {
                    return Err(DatanetError::Unauthorized(format!(
                        "{reviewer} is not the owner of datanet {}; only the owner reviews its contributions",
                        datanet.id
                    )));
                }
                Some((m.accept, m.reason.clone(), None))
            }
            Ok(CurationMode::CuratorVote) => {
                let curator = policy
                    .curators
                    .iter()
                    .find(|cur| cur.address == reviewer)
                    .ok_or_else(|| DatanetError::Unauthorized(format!("{reviewer} is not a curator of datanet {}", datanet.id)))?;
                if c.tally_epoch != datanet.curation_epoch {
                    c.tally_epoch = datanet.curation_epoch;
                    c.accept_weight = 0;
                    c.reject_weight = 0;
                }
                let key = state_key::vote(datanet.id, c.id, c.tally_epoch, &reviewer);
                if state.has(&key)? {
                    return Err(DatanetError::AlreadyVoted(reviewer));
                }
                state.put_proto(
                    key,
                    &CuratorVote { curator: reviewer.clone(), accept: m.accept, reason: m.reason.clone(), weight: curator.weight },
                )?;
                if m.accept {
                    c.accept_weight = inc(c.accept_weight, curator.weight, "accept weight")?;
                } else {
                    c.reject_weight = inc(c.reject_weight, curator.weight, "reject weight")?;
                }
                let total: u128 = policy.curators.iter().map(|cur| u128::from(cur.weight)).sum();
                let accept = u128::from(c.accept_weight);
                let reject = u128::from(c.reject_weight);
                if accept * 3 >= total * 2 {
                    Some((true, m.reason.clone(), None))
                } else if reject * 3 >= total * 2 {
                    Some((false, m.reason.clone(), None))
                } else if accept + reject >= total {
                    Some((false, NO_AGREEMENT_REASON.to_string(), Some(0)))
                } else {
                    None
                }
            }
            _ => return Err(DatanetError::Corrupt(format!("datanet {} has no curation mode", datanet.id))),
        };
        match decision {
            Some((accept, reason, burn_override)) => {
                decide(keeper, state, &mut datanet, &mut c, accept, reason, burn_override)?;
                keeper.set_datanet(state, &datanet)?;
            }
            None => keeper.set_contribution(state, &c)?,
        }
        Ok(MsgReviewContributionResponse { status: c.status })
    }
}

/// Settles a pending contribution: accepted (bond back, rows credited) or rejected (part of the
/// bond burned, the rest back, the rows deleted).
fn decide(
    keeper: &DatanetKeeper,
    state: &mut dyn StateWrite,
    datanet: &mut Datanet,
    c: &mut openledger_proto::openledger::datanet::v1::Contribution,
    accept: bool,
    reason: String,
    burn_override: Option<u32>,
) -> Result<(), DatanetError> {
    let contributor = Address::from_bech32(&c.contributor).map_err(|e| DatanetError::Corrupt(format!("contributor: {e}")))?;
    let bond = uopen_amount(c.bond.as_ref())?;
    let mut stats = keeper.stats(state, &c.contributor, datanet.id)?;
    stats.pending_contributions = dec(stats.pending_contributions, 1, "pending contributions")?;
    stats.bond_escrowed = sub_amount(&stats.bond_escrowed, bond)?;
    datanet.pending_contributions = dec(datanet.pending_contributions, 1, "pending contributions")?;
    let (returned, burned, credited) = if accept {
        keeper.release(state, &contributor, bond, 0)?;
        c.status = ContributionStatus::Accepted as i32;
        stats.accepted_contributions = inc(stats.accepted_contributions, 1, "accepted contributions")?;
        stats.accepted_rows = inc(stats.accepted_rows, c.row_count, "accepted rows")?;
        datanet.accepted_rows = inc(datanet.accepted_rows, c.row_count, "accepted rows")?;
        state.put_proto(state_key::accepted(datanet.id, c.id), &c.id)?;
        (bond, 0, c.row_count)
    } else {
        let (returned, burned) = split_bond(bond, burn_override.unwrap_or(c.reject_burn_bps))?;
        keeper.release(state, &contributor, returned, burned)?;
        c.status = ContributionStatus::Rejected as i32;
        stats.rejected_contributions = inc(stats.rejected_contributions, 1, "rejected contributions")?;
        // Rejected rows are not kept on chain (nor their delisting records).
        let end = inc(c.first_row_id, c.row_count, "row id")?;
        for row_id in c.first_row_id..end {
            state.delete(&state_key::row(datanet.id, row_id))?;
        }
        state.delete(&state_key::leaves(datanet.id, c.id))?;
        let prefix = state_key::delisted_rows(datanet.id);
        let before_first = c.first_row_id.checked_sub(1).map(|r| state_key::delisted_row(datanet.id, r));
        let delisted: Vec<Vec<u8>> = state
            .scan_raw(&prefix, before_first.as_deref(), usize::try_from(c.row_count).unwrap_or(usize::MAX))?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| state_key::trailing_id(k).is_some_and(|id| id < end))
            .collect();
        for key in delisted {
            state.delete(&key)?;
        }
        (returned, burned, 0)
    };
    c.reason = reason;
    c.bond_returned = returned.to_string();
    c.bond_burned = burned.to_string();
    stats.bond_returned = add_amount(&stats.bond_returned, returned)?;
    stats.bond_burned = add_amount(&stats.bond_burned, burned)?;
    keeper.set_contribution(state, c)?;
    keeper.set_stats(state, &stats)?;
    state.emit_typed(ContributionDecided {
        datanet_id: datanet.id,
        contribution_id: c.id,
        contributor: c.contributor.clone(),
        status: status_name(c.status),
        rows_credited: credited,
        bond_returned: returned,
        bond_burned: burned,
    });
    Ok(())
}

/// A validated `MsgPublishVersion`.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishVersion {
    /// Owner (signer).
    pub owner: Address,
    /// The message as signed.
    pub msg: MsgPublishVersion,
}

impl Eq for PublishVersion {}

/// What a version would contain: its row runs, leaves and size.
#[derive(Debug, Clone, Default)]
pub struct VersionPlan {
    /// Row runs.
    pub segments: Vec<Segment>,
    /// Leaf hashes in order.
    pub leaves: Vec<Hash>,
    /// Sum of row sizes.
    pub total_bytes: u64,
    /// Contributions with rows in it.
    pub contribution_count: u64,
}

/// Collects every accepted, not delisted row of a datanet in row-id order. Reads each accepted
/// contribution's record and leaf hashes (and delisted rows), so the gas it uses grows with the
/// datanet; nothing is written.
pub fn plan_version(keeper: &DatanetKeeper, state: &dyn openledger_core::StateRead, datanet_id: u64) -> Result<VersionPlan, DatanetError> {
    let mut delisted = BTreeSet::new();
    let prefix = state_key::delisted_rows(datanet_id);
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = state.scan_raw(&prefix, after.as_deref(), SCAN_PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        delisted.extend(page.iter().filter_map(|(k, _)| state_key::trailing_id(k)));
    }
    let mut plan = VersionPlan::default();
    let prefix = state_key::accepted_prefix(datanet_id);
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = state.scan_raw(&prefix, after.as_deref(), SCAN_PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        for (key, _) in &page {
            let cid = state_key::trailing_id(key).ok_or_else(|| DatanetError::Corrupt("accepted key".into()))?;
            let c = keeper.require_contribution(state, datanet_id, cid)?;
            let blob = keeper.contribution_leaves(state, datanet_id, cid)?;
            let expected_len = usize::try_from(c.row_count).ok().and_then(|n| n.checked_mul(32));
            if expected_len != Some(blob.len()) {
                return Err(DatanetError::Corrupt(format!("leaves of contribution {cid} do not match its rows")));
            }
            let end = inc(c.first_row_id, c.row_count, "row id")?;
            let mut included_any = false;
            let mut run: Option<Segment> = None;
            let mut bytes = c.total_bytes;
            for (offset, row_id) in (c.first_row_id..end).enumerate() {
                if delisted.contains(&row_id) {
                    if let Some(seg) = run.take() {
                        plan.segments.push(seg);
                    }
                    let size = keeper.row(state, datanet_id, row_id)?.map_or(0, |r| u64::try_from(r.data.len()).unwrap_or(0));
                    bytes = bytes.saturating_sub(size);
                    continue;
                }
                let at = offset.saturating_mul(32);
                let leaf: Hash = blob
                    .get(at..at.saturating_add(32))
                    .and_then(|s| <Hash>::try_from(s).ok())
                    .ok_or_else(|| DatanetError::Corrupt(format!("leaf of row {row_id}")))?;
                plan.leaves.push(leaf);
                included_any = true;
                match run.as_mut() {
                    Some(seg) => seg.row_count += 1,
                    None => run = Some(Segment { first_row_id: row_id, row_count: 1, contribution_id: cid }),
                }
            }
            if let Some(seg) = run.take() {
                plan.segments.push(seg);
            }
            if included_any {
                plan.contribution_count = inc(plan.contribution_count, 1, "contributions")?;
                plan.total_bytes = inc(plan.total_bytes, bytes, "version size")?;
            }
        }
    }
    Ok(plan)
}

impl PublishVersion {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgPublishVersion) -> Result<Self, DatanetError> {
        Ok(Self { owner: address("owner", &msg.owner)?, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.owner.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        AminoObject::default().str("owner", &self.msg.owner).u64("datanet_id", self.msg.datanet_id).typed("openledger/MsgPublishVersion")
    }

    /// Publishes the next version (owner only).
    pub fn execute(&self, keeper: &DatanetKeeper, state: &mut dyn StateWrite) -> Result<MsgPublishVersionResponse, DatanetError> {
        let datanet_id = self.msg.datanet_id;
        let mut datanet = keeper.require_datanet(state, datanet_id)?;
        let signer = self.owner.to_bech32();
        if datanet.owner != signer {
            return Err(DatanetError::Unauthorized(format!("{signer} is not the owner of datanet {datanet_id}; only the owner publishes")));
        }
        if datanet.delisted {
            return Err(DatanetError::DatanetDelisted(datanet_id));
        }
        let plan = plan_version(keeper, state, datanet_id)?;
        let Some(root) = merkle::root(&plan.leaves) else {
            return Err(DatanetError::NothingToPublish(format!("datanet {datanet_id} has no accepted rows that are not delisted")));
        };
        if datanet.latest_version > 0 {
            if let Some(prev) = keeper.version(state, datanet_id, datanet.latest_version)? {
                if prev.merkle_root == root {
                    return Err(DatanetError::NothingToPublish(format!("the rows are unchanged since version {}", prev.version)));
                }
            }
        }
        let number = inc(datanet.latest_version, 1, "version")?;
        let row_count = u64::try_from(plan.leaves.len()).unwrap_or(u64::MAX);
        let version = Version {
            datanet_id,
            version: number,
            merkle_root: root.to_vec(),
            row_count,
            total_bytes: plan.total_bytes,
            contribution_count: plan.contribution_count,
        };
        state.put_proto(state_key::version(datanet_id, number), &version)?;
        state.put_proto(state_key::segments(datanet_id, number), &VersionSegments { segments: plan.segments })?;
        datanet.latest_version = number;
        keeper.set_datanet(state, &datanet)?;
        state.emit_typed(VersionPublished { datanet_id, version: number, merkle_root: hex::encode(root), row_count });
        Ok(MsgPublishVersionResponse { version: number, merkle_root: root.to_vec(), row_count })
    }
}

fn require_gov(authority: &Address) -> Result<(), DatanetError> {
    let gov = gov_authority();
    if *authority != gov {
        return Err(DatanetError::Unauthorized(format!("invalid authority; expected {gov} (governance), got {authority}")));
    }
    Ok(())
}

/// A validated `MsgDelistDatanet`.
#[derive(Debug, Clone, PartialEq)]
pub struct DelistDatanet {
    /// Authority (signer; must be the gov module account).
    pub authority: Address,
    /// The message.
    pub msg: MsgDelistDatanet,
}

impl Eq for DelistDatanet {}

impl DelistDatanet {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgDelistDatanet) -> Result<Self, DatanetError> {
        let authority = address("authority", &msg.authority)?;
        reason_ok(&msg.reason)?;
        Ok(Self { authority, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.authority.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        AminoObject::default()
            .str("authority", &m.authority)
            .u64("datanet_id", m.datanet_id)
            .str("reason", &m.reason)
            .typed("openledger/MsgDelistDatanet")
    }

    /// Delists the datanet (governance only).
    pub fn execute(&self, keeper: &DatanetKeeper, state: &mut dyn StateWrite) -> Result<MsgDelistDatanetResponse, DatanetError> {
        require_gov(&self.authority)?;
        let mut datanet = keeper.require_datanet(state, self.msg.datanet_id)?;
        if datanet.delisted {
            return Err(DatanetError::AlreadyDelisted(format!("datanet {}", datanet.id)));
        }
        datanet.delisted = true;
        datanet.delist_reason = self.msg.reason.clone();
        keeper.set_datanet(state, &datanet)?;
        state.emit_typed(DatanetDelisted { datanet_id: datanet.id, reason: self.msg.reason.clone() });
        Ok(MsgDelistDatanetResponse {})
    }
}

/// A validated `MsgDelistRow`.
#[derive(Debug, Clone, PartialEq)]
pub struct DelistRow {
    /// Authority (signer; must be the gov module account).
    pub authority: Address,
    /// The message.
    pub msg: MsgDelistRow,
}

impl Eq for DelistRow {}

impl DelistRow {
    /// `ValidateBasic`.
    pub fn check_stateless(msg: &MsgDelistRow) -> Result<Self, DatanetError> {
        let authority = address("authority", &msg.authority)?;
        reason_ok(&msg.reason)?;
        Ok(Self { authority, msg: msg.clone() })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.authority.clone()]
    }

    /// Amino JSON.
    pub fn amino_json(&self) -> Value {
        let m = &self.msg;
        AminoObject::default()
            .str("authority", &m.authority)
            .u64("datanet_id", m.datanet_id)
            .u64("row_id", m.row_id)
            .str("reason", &m.reason)
            .typed("openledger/MsgDelistRow")
    }

    /// Delists the row (governance only): flagged, excluded from new versions.
    pub fn execute(&self, keeper: &DatanetKeeper, state: &mut dyn StateWrite) -> Result<MsgDelistRowResponse, DatanetError> {
        require_gov(&self.authority)?;
        let (datanet_id, row_id) = (self.msg.datanet_id, self.msg.row_id);
        keeper.require_datanet(state, datanet_id)?;
        let mut row = keeper.row(state, datanet_id, row_id)?.ok_or(DatanetError::RowNotFound { datanet_id, row_id })?;
        if row.delisted {
            return Err(DatanetError::AlreadyDelisted(format!("row {row_id} of datanet {datanet_id}")));
        }
        row.delisted = true;
        state.put_proto(state_key::row(datanet_id, row_id), &row)?;
        state.put_proto(state_key::delisted_row(datanet_id, row_id), &Delisting { reason: self.msg.reason.clone() })?;
        let c = keeper.require_contribution(state, datanet_id, row.contribution_id)?;
        if c.status == ContributionStatus::Accepted as i32 {
            let mut stats = keeper.stats(state, &c.contributor, datanet_id)?;
            stats.delisted_rows = inc(stats.delisted_rows, 1, "delisted rows")?;
            keeper.set_stats(state, &stats)?;
        }
        state.emit_typed(RowDelisted { datanet_id, row_id, reason: self.msg.reason.clone() });
        Ok(MsgDelistRowResponse {})
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::keeper::tests::{addr, keeper};
    use crate::keeper::{bonds_address, DatanetKeeper};
    use crate::query::{DatanetQuery, DATANET_SERVICE};
    use openledger_core::delta::{EmptyState, StateDelta};
    use openledger_core::error::ErrorCode;
    use openledger_core::query::QueryService;
    use openledger_core::StateRead;
    use openledger_proto::openledger::datanet::v1 as pb;
    use prost::Message;

    pub fn owner_policy(bond: u128, bps: u32, max_row: u64) -> CurationPolicy {
        CurationPolicy {
            mode: CurationMode::OwnerReview as i32,
            curators: vec![],
            contribution_bond: Some(uopen(bond)),
            reject_burn_bps: bps,
            max_row_bytes: max_row,
        }
    }

    pub fn json_schema(fields: &[&str]) -> pb::RowSchema {
        pb::RowSchema { kind: pb::SchemaKind::Json as i32, required_fields: fields.iter().map(|s| s.to_string()).collect() }
    }

    pub fn create(k: &DatanetKeeper, s: &mut dyn StateWrite, owner: u8, schema: pb::RowSchema, policy: CurationPolicy) -> u64 {
        let msg = MsgCreateDatanet {
            owner: addr(owner).to_bech32(),
            name: "math".into(),
            description: "grade-school arithmetic".into(),
            license: "CC-BY-4.0".into(),
            schema: Some(schema),
            policy: Some(policy),
        };
        CreateDatanet::check_stateless(&msg).unwrap().execute(k, s).unwrap().datanet_id
    }

    pub fn submit(
        k: &DatanetKeeper,
        s: &mut dyn StateWrite,
        who: u8,
        datanet_id: u64,
        rows: &[&str],
        bond: u128,
    ) -> Result<MsgSubmitContributionResponse, DatanetError> {
        let msg = MsgSubmitContribution {
            contributor: addr(who).to_bech32(),
            datanet_id,
            rows: rows.iter().map(|r| r.as_bytes().to_vec()).collect(),
            bond: Some(uopen(bond)),
        };
        SubmitContribution::check_stateless(&msg)?.execute(k, s)
    }

    pub fn review(
        k: &DatanetKeeper,
        s: &mut dyn StateWrite,
        who: u8,
        datanet_id: u64,
        contribution_id: u64,
        accept: bool,
    ) -> Result<i32, DatanetError> {
        let msg = MsgReviewContribution {
            reviewer: addr(who).to_bech32(),
            datanet_id,
            contribution_id,
            accept,
            reason: if accept { String::new() } else { "off-topic".into() },
        };
        ReviewContribution::check_stateless(&msg)?.execute(k, s).map(|r| r.status)
    }

    pub fn publish(k: &DatanetKeeper, s: &mut dyn StateWrite, who: u8, datanet_id: u64) -> Result<MsgPublishVersionResponse, DatanetError> {
        PublishVersion::check_stateless(&MsgPublishVersion { owner: addr(who).to_bech32(), datanet_id })?.execute(k, s)
    }

    /// Runs `f` on a child layer and asserts that a failure wrote nothing to it.
    fn fails_cleanly<T: std::fmt::Debug>(
        parent: &StateDelta<EmptyState>,
        f: impl FnOnce(&mut StateDelta<&StateDelta<EmptyState>>) -> Result<T, DatanetError>,
    ) -> DatanetError {
        let mut child = StateDelta::new(parent);
        let err = f(&mut child).unwrap_err();
        assert!(child.changes().is_empty(), "a failed message wrote {:?}", child.changes().keys().collect::<Vec<_>>());
        err
    }

    fn code(e: &DatanetError) -> (&'static str, u32) {
        (e.codespace(), e.code())
    }

    pub fn query<Resp: Message + Default>(k: &DatanetKeeper, s: &dyn StateRead, method: &str, req: impl Message) -> Resp {
        let bytes = DatanetQuery(k.clone()).query(s, DATANET_SERVICE, method, &req.encode_to_vec()).unwrap();
        Resp::decode(bytes.as_slice()).unwrap()
    }

    const ROW_A: &str = r#"{"prompt":"2+2","completion":"4"}"#;
    const ROW_B: &str = r#"{"prompt":"3*3","completion":"9"}"#;

    #[test]
    fn owner_review_flow_moves_bonds_and_credits_rows() {
        let (k, bank) = keeper();
        let mut s = StateDelta::new(EmptyState);
        bank.fund(&addr(2), 10_000);
        bank.fund(&addr(3), 10_000);
        let id = create(&k, &mut s, 1, json_schema(&["prompt", "completion"]), owner_policy(1_000, 2_500, 256));
        let a = submit(&k, &mut s, 2, id, &[ROW_A, ROW_B], 1_000).unwrap();
        let b = submit(&k, &mut s, 3, id, &[ROW_B], 1_000).unwrap();
        assert_eq!((a.contribution_id, a.first_row_id, a.row_count), (1, 1, 2));
        assert_eq!((b.contribution_id, b.first_row_id), (2, 3));
        assert_eq!(bank.balance(&bonds_address()), 2_000);
        assert_eq!(bank.balance(&addr(2)), 9_000);

        assert_eq!(review(&k, &mut s, 1, id, 1, true).unwrap(), ContributionStatus::Accepted as i32);
        assert_eq!(review(&k, &mut s, 1, id, 2, false).unwrap(), ContributionStatus::Rejected as i32);
        // Accepted: bond back in full. Rejected: 25 % burned, 75 % back.
        assert_eq!(bank.balance(&addr(2)), 10_000);
        assert_eq!(bank.balance(&addr(3)), 9_750);
        assert_eq!(*bank.burned.lock().unwrap(), 250);
        assert_eq!(bank.balance(&bonds_address()), 0);
        // Rejected rows are gone, accepted rows stay and are credited.
        assert!(k.row(&s, id, 3).unwrap().is_none());
        assert!(k.row(&s, id, 1).unwrap().is_some());
        let stats = k.stats(&s, &addr(2).to_bech32(), id).unwrap();
        assert_eq!((stats.accepted_rows, stats.accepted_contributions, stats.bond_returned.as_str()), (2, 1, "1000"));
        let stats = k.stats(&s, &addr(3).to_bech32(), id).unwrap();
        assert_eq!((stats.rejected_contributions, stats.bond_burned.as_str(), stats.bond_returned.as_str()), (1, "250", "750"));
        let d = k.require_datanet(&s, id).unwrap();
        assert_eq!((d.accepted_rows, d.pending_contributions), (2, 0));
        let err = review(&k, &mut s, 1, id, 1, false).unwrap_err();
        assert_eq!(code(&err), ("datanet", 13));

        // Publish: the version's root is the Merkle root of exactly the accepted rows.
        let v = publish(&k, &mut s, 1, id).unwrap();
        assert_eq!((v.version, v.row_count), (1, 2));
        let leaves =
            [merkle::leaf_hash(1, addr(2).as_bytes(), ROW_A.as_bytes()), merkle::leaf_hash(2, addr(2).as_bytes(), ROW_B.as_bytes())];
        assert_eq!(v.merkle_root, merkle::root(&leaves).unwrap().to_vec());
        let err = publish(&k, &mut s, 1, id).unwrap_err();
        assert_eq!(code(&err), ("datanet", 16), "unchanged rows are not a new version");
        let err = publish(&k, &mut s, 2, id).unwrap_err();
        assert_eq!(code(&err), ("sdk", 4));

        // Every row of the version proves against its root.
        for index in 0..2u64 {
            let resp: pb::QueryRowWithProofResponse =
                query(&k, &s, "RowWithProof", pb::QueryRowWithProofRequest { datanet_id: id, version: 1, index });
            let row = resp.row.unwrap();
            let contributor = openledger_core::Address::from_bech32(&row.contributor).unwrap();
            assert!(merkle::verify_row_proof(
                &resp.merkle_root,
                row.row_id,
                contributor.as_bytes(),
                &row.data,
                index,
                resp.row_count,
                &resp.siblings
            ));
        }
    }

    #[test]
    fn bad_contributions_are_rejected_with_codes_and_write_nothing() {
        let (k, bank) = keeper();
        let mut s = StateDelta::new(EmptyState);
        bank.fund(&addr(2), 500);
        let id = create(&k, &mut s, 1, json_schema(&["prompt", "completion"]), owner_policy(100, 0, 64));
        let big = format!(r#"{{"prompt":"{}","completion":"x"}}"#, "a".repeat(64));
        let cases: Vec<(Vec<String>, u128, (&str, u32))> = vec![
            (vec![ROW_A.into(), big], 100, ("datanet", 9)),
            (vec![ROW_A.into(), r#"{"prompt":"only"}"#.into()], 100, ("datanet", 10)),
            (vec!["plain text".into()], 100, ("datanet", 10)),
            (vec![ROW_A.into()], 99, ("datanet", 11)),
            (vec![ROW_A.into(); 1001], 100, ("datanet", 8)),
        ];
        for (rows, bond, expected) in cases {
            let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
            let err = fails_cleanly(&s, |c| submit(&k, c, 2, id, &refs, bond));
            assert_eq!(code(&err), expected, "{err}");
        }
        assert_eq!(code(&fails_cleanly(&s, |c| submit(&k, c, 2, 99, &[ROW_A], 100))), ("datanet", 5));
        assert_eq!(code(&fails_cleanly(&s, |c| submit(&k, c, 4, id, &[ROW_A], 100))), ("sdk", 5), "insufficient funds");
        assert_eq!(bank.balance(&addr(2)), 500);
        assert_eq!(
            code(
                &SubmitContribution::check_stateless(&MsgSubmitContribution { contributor: "bad".into(), ..Default::default() })
                    .unwrap_err()
            ),
            ("sdk", 7)
        );
        assert_eq!(
            code(
                &SubmitContribution::check_stateless(&MsgSubmitContribution {
                    contributor: addr(2).to_bech32(),
                    datanet_id: id,
                    rows: vec![],
                    bond: None
                })
                .unwrap_err()
            ),
            ("datanet", 7)
        );
        assert_eq!(
            code(
                &SubmitContribution::check_stateless(&MsgSubmitContribution {
                    contributor: addr(2).to_bech32(),
                    datanet_id: id,
                    rows: vec![vec![]],
                    bond: None
                })
                .unwrap_err()
            ),
            ("datanet", 9)
        );
        let ok = submit(&k, &mut s, 2, id, &[ROW_A], 100).unwrap();
        // Review by someone else than the owner: unauthorized, nothing decided.
        assert_eq!(code(&fails_cleanly(&s, |c| review(&k, c, 5, id, ok.contribution_id, true))), ("sdk", 4));
        assert_eq!(code(&fails_cleanly(&s, |c| review(&k, c, 1, id, 42, true))), ("datanet", 12));
        let no_reason =
            MsgReviewContribution { reviewer: addr(1).to_bech32(), datanet_id: id, contribution_id: 1, accept: false, reason: " ".into() };
        assert_eq!(code(&ReviewContribution::check_stateless(&no_reason).unwrap_err()), ("datanet", 15));
        // Publishing with nothing accepted.
        assert_eq!(code(&fails_cleanly(&s, |c| publish(&k, c, 1, id))), ("datanet", 16));
    }

    #[test]
    fn create_and_update_validate_metadata_schema_and_policy() {
        let (k, _) = keeper();
        let mut s = StateDelta::new(EmptyState);
        let base = MsgCreateDatanet {
            owner: addr(1).to_bech32(),
            name: "n".into(),
            description: String::new(),
            license: String::new(),
            schema: Some(pb::RowSchema { kind: pb::SchemaKind::Text as i32, required_fields: vec![] }),
            policy: Some(owner_policy(0, 0, 100)),
        };
        assert!(CreateDatanet::check_stateless(&base).is_ok());
        let with = |f: &dyn Fn(&mut MsgCreateDatanet)| {
            let mut m = base.clone();
            f(&mut m);
            CreateDatanet::check_stateless(&m).map(|_| ()).map_err(|e| code(&e))
        };
        assert_eq!(with(&|m| m.name.clear()), Err(("datanet", 2)));
        assert_eq!(with(&|m| m.name = "x".repeat(129)), Err(("datanet", 2)));
        assert_eq!(with(&|m| m.description = "x".repeat(4097)), Err(("datanet", 2)));
        assert_eq!(with(&|m| m.schema = None), Err(("datanet", 3)));
        assert_eq!(with(&|m| m.policy = None), Err(("datanet", 4)));
        assert_eq!(with(&|m| m.policy.as_mut().unwrap().reject_burn_bps = 10_001), Err(("datanet", 4)));
        assert_eq!(with(&|m| m.policy.as_mut().unwrap().max_row_bytes = 0), Err(("datanet", 4)));
        assert_eq!(with(&|m| m.policy.as_mut().unwrap().mode = 0), Err(("datanet", 4)));
        assert_eq!(with(&|m| m.policy.as_mut().unwrap().contribution_bond = Some(Coin::new("uatom", 1).to_proto())), Err(("sdk", 10)));
        assert_eq!(
            with(&|m| m.policy.as_mut().unwrap().curators = vec![Curator { address: addr(2).to_bech32(), weight: 1 }]),
            Err(("datanet", 4)),
            "owner review takes no curators"
        );
        assert_eq!(with(&|m| m.owner = "cosmos1xyz".into()), Err(("sdk", 7)));
        // Over the module cap: valid statelessly, refused at execution.
        let mut big = base.clone();
        big.policy.as_mut().unwrap().max_row_bytes = 65 * 1024;
        let err = fails_cleanly(&s, |c| CreateDatanet::check_stateless(&big).unwrap().execute(&k, c));
        assert_eq!(code(&err), ("datanet", 4));

        let id = CreateDatanet::check_stateless(&base).unwrap().execute(&k, &mut s).unwrap().datanet_id;
        let update = |owner: u8, m: MsgUpdateDatanet| {
            UpdateDatanet::check_stateless(&MsgUpdateDatanet { owner: addr(owner).to_bech32(), datanet_id: id, ..m })
        };
        assert_eq!(code(&update(1, MsgUpdateDatanet::default()).unwrap_err()), ("datanet", 2), "nothing to update");
        let rename = update(2, MsgUpdateDatanet { name: "new".into(), ..Default::default() }).unwrap();
        assert_eq!(code(&fails_cleanly(&s, |c| rename.execute(&k, c))), ("sdk", 4));
        let curators = CurationPolicy {
            mode: CurationMode::CuratorVote as i32,
            curators: vec![Curator { address: addr(7).to_bech32(), weight: 2 }],
            ..owner_policy(5, 100, 200)
        };
        update(1, MsgUpdateDatanet { name: "new".into(), policy: Some(curators), new_owner: addr(9).to_bech32(), ..Default::default() })
            .unwrap()
            .execute(&k, &mut s)
            .unwrap();
        let d = k.require_datanet(&s, id).unwrap();
        assert_eq!((d.name.as_str(), d.owner, d.curation_epoch), ("new", addr(9).to_bech32(), 2));
        assert_eq!(d.schema.unwrap().kind, pb::SchemaKind::Text as i32, "the schema never changes");
    }

    #[test]
    fn curator_vote_decides_at_two_thirds_and_restarts_on_a_new_curator_set() {
        let (k, bank) = keeper();
        let mut s = StateDelta::new(EmptyState);
        for who in [2, 3] {
            bank.fund(&addr(who), 1_000);
        }
        let policy = CurationPolicy {
            mode: CurationMode::CuratorVote as i32,
            curators: vec![
                Curator { address: addr(10).to_bech32(), weight: 1 },
                Curator { address: addr(11).to_bech32(), weight: 1 },
                Curator { address: addr(12).to_bech32(), weight: 1 },
            ],
            ..owner_policy(100, 5_000, 1000)
        };
        let id = create(&k, &mut s, 1, pb::RowSchema { kind: pb::SchemaKind::Text as i32, required_fields: vec![] }, policy.clone());
        let c1 = submit(&k, &mut s, 2, id, &["hello world"], 100).unwrap().contribution_id;
        let c2 = submit(&k, &mut s, 3, id, &["spam"], 100).unwrap().contribution_id;
        // The owner is not a curator here; nor is a stranger.
        assert_eq!(code(&fails_cleanly(&s, |c| review(&k, c, 1, id, c1, true))), ("sdk", 4));
        assert_eq!(review(&k, &mut s, 10, id, c1, true).unwrap(), ContributionStatus::Pending as i32);
        assert_eq!(code(&fails_cleanly(&s, |c| review(&k, c, 10, id, c1, true))), ("datanet", 14));
        assert_eq!(review(&k, &mut s, 11, id, c1, true).unwrap(), ContributionStatus::Accepted as i32, "2 of 3 = two thirds");
        assert_eq!(bank.balance(&addr(2)), 1_000);
        // Split vote: one accept, one reject, one more reject → rejected with the policy burn.
        assert_eq!(review(&k, &mut s, 10, id, c2, false).unwrap(), ContributionStatus::Pending as i32);
        // A new curator set restarts the tally.
        let mut next = policy.clone();
        next.curators[2].weight = 4;
        UpdateDatanet::check_stateless(&MsgUpdateDatanet {
            owner: addr(1).to_bech32(),
            datanet_id: id,
            policy: Some(next),
            ..Default::default()
        })
        .unwrap()
        .execute(&k, &mut s)
        .unwrap();
        assert_eq!(review(&k, &mut s, 10, id, c2, false).unwrap(), ContributionStatus::Pending as i32, "old vote no longer counts");
        assert_eq!(review(&k, &mut s, 11, id, c2, true).unwrap(), ContributionStatus::Pending as i32);
        // 12 (weight 4 of 6) rejects: 5/6 reject ≥ 2/3.
        assert_eq!(review(&k, &mut s, 12, id, c2, false).unwrap(), ContributionStatus::Rejected as i32);
        assert_eq!(bank.balance(&addr(3)), 950);
        assert_eq!(*bank.burned.lock().unwrap(), 50);
    }

    #[test]
    fn curators_without_a_two_thirds_side_reject_with_a_full_refund() {
        let (k, bank) = keeper();
        let mut s = StateDelta::new(EmptyState);
        bank.fund(&addr(2), 1_000);
        let policy = CurationPolicy {
            mode: CurationMode::CuratorVote as i32,
            curators: vec![Curator { address: addr(10).to_bech32(), weight: 1 }, Curator { address: addr(11).to_bech32(), weight: 1 }],
            ..owner_policy(100, 10_000, 1000)
        };
        let id = create(&k, &mut s, 1, pb::RowSchema { kind: pb::SchemaKind::Text as i32, required_fields: vec![] }, policy);
        let c = submit(&k, &mut s, 2, id, &["maybe"], 100).unwrap().contribution_id;
        review(&k, &mut s, 10, id, c, true).unwrap();
        assert_eq!(review(&k, &mut s, 11, id, c, false).unwrap(), ContributionStatus::Rejected as i32);
        assert_eq!(bank.balance(&addr(2)), 1_000);
        assert_eq!(k.require_contribution(&s, id, c).unwrap().reason, NO_AGREEMENT_REASON);
    }

    #[test]
    fn governance_minimum_contribution_bond_is_enforced_at_create_update_and_contribution() {
        let (k, bank) = keeper();
        let mut s = StateDelta::new(EmptyState);
        bank.fund(&addr(2), 10_000);
        // A datanet created before the floor exists, with a 100 uopen bond.
        let old = create(&k, &mut s, 1, json_schema(&["prompt", "completion"]), owner_policy(100, 0, 256));
        // Governance raises the floor to 500 uopen (and a floor in another denom is invalid).
        let mut p = k.params(&s).unwrap();
        p.min_contribution_bond = Some(Coin::new("uatom", 5).to_proto());
        assert_eq!(code(&k.set_params(&mut s, &p).unwrap_err()), ("datanet", 22));
        p.min_contribution_bond = Some(uopen(500));
        k.set_params(&mut s, &p).unwrap();
        assert_eq!(k.params(&s).unwrap().min_contribution_bond, Some(uopen(500)));
        // New datanets and policy updates must meet it.
        let below = MsgCreateDatanet {
            owner: addr(1).to_bech32(),
            name: "n".into(),
            description: String::new(),
            license: String::new(),
            schema: Some(json_schema(&["prompt"])),
            policy: Some(owner_policy(499, 0, 256)),
        };
        let err = fails_cleanly(&s, |c| CreateDatanet::check_stateless(&below).unwrap().execute(&k, c));
        assert_eq!(code(&err), ("datanet", 4), "{err}");
        assert!(err.to_string().contains("below the governance minimum 500uopen"), "{err}");
        let update = |bond: u128| MsgUpdateDatanet {
            owner: addr(1).to_bech32(),
            datanet_id: old,
            policy: Some(owner_policy(bond, 0, 256)),
            ..Default::default()
        };
        let err = fails_cleanly(&s, |c| UpdateDatanet::check_stateless(&update(200)).unwrap().execute(&k, c));
        assert_eq!(code(&err), ("datanet", 4));
        // The old datanet's contributors escrow the floor, not the lower policy bond.
        let err = fails_cleanly(&s, |c| submit(&k, c, 2, old, &[ROW_A], 100));
        assert_eq!(code(&err), ("datanet", 11));
        assert!(err.to_string().contains("500uopen"), "{err}");
        submit(&k, &mut s, 2, old, &[ROW_A], 500).unwrap();
        assert_eq!(bank.balance(&bonds_address()), 500);
        // Once the owner raises the policy above the floor, the policy bond applies again.
        UpdateDatanet::check_stateless(&update(700)).unwrap().execute(&k, &mut s).unwrap();
        assert_eq!(code(&fails_cleanly(&s, |c| submit(&k, c, 2, old, &[ROW_B], 500))), ("datanet", 11));
        submit(&k, &mut s, 2, old, &[ROW_B], 700).unwrap();
    }

    #[test]
    fn governance_delists_rows_and_datanets_and_nobody_else_can() {
        let (k, bank) = keeper();
        let mut s = StateDelta::new(EmptyState);
        bank.fund(&addr(2), 1_000);
        let id =
            create(&k, &mut s, 1, pb::RowSchema { kind: pb::SchemaKind::Text as i32, required_fields: vec![] }, owner_policy(0, 0, 100));
        submit(&k, &mut s, 2, id, &["r1", "r2", "r3"], 0).unwrap();
        review(&k, &mut s, 1, id, 1, true).unwrap();
        let v1 = publish(&k, &mut s, 1, id).unwrap();
        let gov = gov_authority().to_bech32();
        let delist_row = |authority: &str, row_id: u64| {
            DelistRow::check_stateless(&MsgDelistRow { authority: authority.into(), datanet_id: id, row_id, reason: "copyright".into() })
                .unwrap()
        };
        // The owner (a user) cannot: unauthorized (sdk 4), nothing written.
        assert_eq!(code(&fails_cleanly(&s, |c| delist_row(&addr(1).to_bech32(), 2).execute(&k, c))), ("sdk", 4));
        delist_row(&gov, 2).execute(&k, &mut s).unwrap();
        assert_eq!(code(&fails_cleanly(&s, |c| delist_row(&gov, 2).execute(&k, c))), ("datanet", 19));
        assert_eq!(code(&fails_cleanly(&s, |c| delist_row(&gov, 77).execute(&k, c))), ("datanet", 18));
        assert!(k.row(&s, id, 2).unwrap().unwrap().delisted);
        assert_eq!(k.stats(&s, &addr(2).to_bech32(), id).unwrap().delisted_rows, 1);
        // Version 2 excludes the row; version 1 is unchanged.
        let v2 = publish(&k, &mut s, 1, id).unwrap();
        assert_eq!(v2.row_count, 2);
        assert_eq!(k.segments(&s, id, 2).unwrap().len(), 2, "the run is split around the delisted row");
        assert_eq!(k.require_version(&s, id, 1).unwrap().merkle_root, v1.merkle_root);
        let rows: pb::QueryRowsByVersionResponse =
            query(&k, &s, "RowsByVersion", pb::QueryRowsByVersionRequest { datanet_id: id, version: 2, pagination: None });
        assert_eq!(rows.rows.iter().map(|r| r.row_id).collect::<Vec<_>>(), [1, 3]);

        let delist = |authority: &str| {
            DelistDatanet::check_stateless(&MsgDelistDatanet { authority: authority.into(), datanet_id: id, reason: "court order".into() })
                .unwrap()
        };
        assert_eq!(code(&fails_cleanly(&s, |c| delist(&addr(1).to_bech32()).execute(&k, c))), ("sdk", 4));
        delist(&gov).execute(&k, &mut s).unwrap();
        assert_eq!(code(&fails_cleanly(&s, |c| submit(&k, c, 2, id, &["r4"], 0))), ("datanet", 6));
        assert_eq!(code(&fails_cleanly(&s, |c| publish(&k, c, 1, id))), ("datanet", 6));
        assert!(k.published_version(&s, id, 1).unwrap().unwrap().1, "other modules see the delisting");
    }

    #[test]
    fn rows_by_version_pages_by_index_and_amino_names_are_stable() {
        let (k, _bank) = keeper();
        let mut s = StateDelta::new(EmptyState);
        let id =
            create(&k, &mut s, 1, pb::RowSchema { kind: pb::SchemaKind::Text as i32, required_fields: vec![] }, owner_policy(0, 0, 100));
        let rows: Vec<String> = (0..25).map(|i| format!("row {i}")).collect();
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        submit(&k, &mut s, 2, id, &refs, 0).unwrap();
        review(&k, &mut s, 1, id, 1, true).unwrap();
        publish(&k, &mut s, 1, id).unwrap();
        let mut seen = Vec::new();
        let mut key = Vec::new();
        loop {
            let page = cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest {
                key: key.clone(),
                limit: 10,
                count_total: true,
                ..Default::default()
            };
            let resp: pb::QueryRowsByVersionResponse =
                query(&k, &s, "RowsByVersion", pb::QueryRowsByVersionRequest { datanet_id: id, version: 0, pagination: Some(page) });
            seen.extend(resp.rows.iter().map(|r| String::from_utf8(r.data.clone()).unwrap()));
            let p = resp.pagination.unwrap();
            assert_eq!(p.total, 25);
            if p.next_key.is_empty() {
                break;
            }
            key = p.next_key;
        }
        assert_eq!(seen, rows);
        let err = DatanetQuery(k.clone())
            .query(
                &s,
                DATANET_SERVICE,
                "RowWithProof",
                &pb::QueryRowWithProofRequest { datanet_id: id, version: 1, index: 25 }.encode_to_vec(),
            )
            .unwrap_err();
        assert!(matches!(err, openledger_core::QueryError::InvalidArgument(_)));
        let err = DatanetQuery(k.clone())
            .query(&s, DATANET_SERVICE, "Version", &pb::QueryVersionRequest { datanet_id: id, version: 9 }.encode_to_vec())
            .unwrap_err();
        assert!(matches!(err, openledger_core::QueryError::NotFound(_)));

        let msg = SubmitContribution::check_stateless(&MsgSubmitContribution {
            contributor: addr(2).to_bech32(),
            datanet_id: 1,
            rows: vec![b"hi".to_vec()],
            bond: None,
        })
        .unwrap();
        let amino = msg.amino_json();
        assert_eq!(amino["type"], "openledger/MsgSubmitContribution");
        assert_eq!(amino["value"]["datanet_id"], "1");
        assert_eq!(amino["value"]["rows"][0], "aGk=");
        assert!(amino["value"].get("bond").is_none());
    }
}
