//! The gov section of genesis.json: the starting proposal id and the parameters in a readable
//! JSON form (coins as `10000000000uopen`, periods in seconds, fractions as decimals).

use cosmos_sdk_proto::cosmos::gov::v1::{Deposit, Params, Proposal, ProposalStatus, Vote};
use openledger_core::block::timestamp_ns;
use openledger_core::coin::{format_coins, parse_coins};
use openledger_core::{StateRead, StateReadExt, StateWrite, StateWriteExt};
use serde::{Deserialize, Serialize};
use tendermint_proto::google::protobuf::Duration;

use crate::error::GovError;
use crate::keeper::GovKeeper;
use crate::params::{self, dec_field};
use crate::state_key;

/// Gov parameters as written in genesis.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovParamsJson {
    /// Minimum deposit, e.g. `10000000000uopen`.
    pub min_deposit: String,
    /// Deposit period in seconds.
    pub max_deposit_period_seconds: u64,
    /// Voting period in seconds.
    pub voting_period_seconds: u64,
    /// Quorum fraction (`0.334`).
    pub quorum: String,
    /// Pass threshold (`0.5`).
    pub threshold: String,
    /// Veto threshold (`0.334`).
    pub veto_threshold: String,
    /// Burn deposits when quorum is missed.
    #[serde(default)]
    pub burn_vote_quorum: bool,
    /// Burn deposits of proposals that never reach voting.
    #[serde(default)]
    pub burn_proposal_deposit_prevote: bool,
    /// Burn deposits of vetoed proposals.
    #[serde(default = "yes")]
    pub burn_vote_veto: bool,
}

fn yes() -> bool {
    true
}

/// The gov genesis section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GovGenesis {
    /// Id of the first proposal (1 when zero).
    #[serde(default)]
    pub starting_proposal_id: u64,
    /// Parameters (defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<GovParamsJson>,
    /// Proposals (ended and in flight), each a hex-encoded `cosmos.gov.v1.Proposal`: their
    /// messages are arbitrary `Any`s, which only their protobuf bytes carry faithfully.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposals_hex: Vec<String>,
    /// Deposits of proposals still in their deposit or voting period (hex `cosmos.gov.v1.Deposit`;
    /// the coins themselves are in the gov module account's bank balance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposits_hex: Vec<String>,
    /// Votes (hex `cosmos.gov.v1.Vote`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub votes_hex: Vec<String>,
}

fn decode_hex<M: prost::Message + Default>(what: &str, text: &str) -> Result<M, GovError> {
    let bytes = hex::decode(text).map_err(|e| GovError::InvalidGenesis(format!("{what}: {e}")))?;
    M::decode(bytes.as_slice()).map_err(|e| GovError::InvalidGenesis(format!("{what}: {e}")))
}

fn encode_hex(m: &impl prost::Message) -> String {
    hex::encode(m.encode_to_vec())
}

fn seconds(s: u64) -> Option<Duration> {
    Some(Duration { seconds: i64::try_from(s).unwrap_or(i64::MAX), nanos: 0 })
}

impl GovParamsJson {
    /// The wire params (validated).
    pub fn to_params(&self) -> Result<Params, GovError> {
        let bad = |what: &str, v: &str| GovError::InvalidGenesis(format!("invalid {what} {v:?}"));
        let dec = |what: &str, v: &str| dec_field(v).map(|d| d.to_string()).ok_or_else(|| bad(what, v));
        let mut p = params::default_params();
        p.min_deposit =
            parse_coins(&self.min_deposit).map_err(|_| bad("min_deposit", &self.min_deposit))?.iter().map(|c| c.to_proto()).collect();
        p.max_deposit_period = seconds(self.max_deposit_period_seconds);
        p.voting_period = seconds(self.voting_period_seconds);
        p.quorum = dec("quorum", &self.quorum)?;
        p.threshold = dec("threshold", &self.threshold)?;
        p.veto_threshold = dec("veto_threshold", &self.veto_threshold)?;
        p.burn_vote_quorum = self.burn_vote_quorum;
        p.burn_proposal_deposit_prevote = self.burn_proposal_deposit_prevote;
        p.burn_vote_veto = self.burn_vote_veto;
        params::validate(&p).map_err(|e| GovError::InvalidGenesis(e.to_string()))?;
        Ok(p)
    }

    /// The JSON form of wire params.
    pub fn from_params(p: &Params) -> Self {
        let secs = |d: Option<&Duration>| params::duration_ns(d) / 1_000_000_000;
        let dec = |v: &str| dec_field(v).unwrap_or_default().to_string();
        Self {
            min_deposit: format_coins(&params::min_deposit(p)),
            max_deposit_period_seconds: secs(p.max_deposit_period.as_ref()),
            voting_period_seconds: secs(p.voting_period.as_ref()),
            quorum: dec(&p.quorum),
            threshold: dec(&p.threshold),
            veto_threshold: dec(&p.veto_threshold),
            burn_vote_quorum: p.burn_vote_quorum,
            burn_proposal_deposit_prevote: p.burn_proposal_deposit_prevote,
            burn_vote_veto: p.burn_vote_veto,
        }
    }
}

/// Imports the gov section.
pub fn init_genesis(keeper: &GovKeeper, state: &mut dyn StateWrite, genesis: &GovGenesis) -> Result<(), GovError> {
    let p = match &genesis.params {
        Some(json) => json.to_params()?,
        None => params::default_params(),
    };
    params::set_params(state, &p)?;
    let next = genesis.starting_proposal_id.max(1);
    // Everything is decoded and checked before anything is written.
    let mut proposals = std::collections::BTreeMap::new();
    for text in &genesis.proposals_hex {
        let proposal: Proposal = decode_hex("proposal", text)?;
        if proposal.id == 0 || proposal.id >= next {
            return Err(GovError::InvalidGenesis(format!("proposal id {} outside 1..{next}", proposal.id)));
        }
        if proposals.insert(proposal.id, proposal).is_some() {
            return Err(GovError::InvalidGenesis("a proposal id is listed twice".into()));
        }
    }
    let in_flight =
        |id: u64, statuses: &[ProposalStatus]| proposals.get(&id).is_some_and(|p| statuses.iter().any(|s| *s as i32 == p.status));
    let deposits: Vec<Deposit> = genesis.deposits_hex.iter().map(|t| decode_hex("deposit", t)).collect::<Result<_, _>>()?;
    if let Some(d) = deposits.iter().find(|d| !in_flight(d.proposal_id, &[ProposalStatus::DepositPeriod, ProposalStatus::VotingPeriod])) {
        return Err(GovError::InvalidGenesis(format!("deposit on proposal {}, which takes no deposits", d.proposal_id)));
    }
    let votes: Vec<Vote> = genesis.votes_hex.iter().map(|t| decode_hex("vote", t)).collect::<Result<_, _>>()?;
    if let Some(v) = votes.iter().find(|v| !in_flight(v.proposal_id, &[ProposalStatus::VotingPeriod])) {
        return Err(GovError::InvalidGenesis(format!("vote on proposal {}, which is not in its voting period", v.proposal_id)));
    }
    for (id, proposal) in &proposals {
        state.put_proto(state_key::proposal(*id), proposal)?;
        // In-flight proposals go back on their queue, so end block settles them on time.
        if proposal.status == ProposalStatus::DepositPeriod as i32 {
            let end = proposal.deposit_end_time.as_ref().map(timestamp_ns).unwrap_or(0);
            state.put_raw(state_key::inactive_queue(end, *id), Vec::new())?;
        } else if proposal.status == ProposalStatus::VotingPeriod as i32 {
            let end = proposal.voting_end_time.as_ref().map(timestamp_ns).unwrap_or(0);
            state.put_raw(state_key::active_queue(end, *id), Vec::new())?;
        }
    }
    for d in &deposits {
        state.put_proto(state_key::deposit(d.proposal_id, &d.depositor), d)?;
    }
    for v in &votes {
        state.put_proto(state_key::vote(v.proposal_id, &v.voter), v)?;
    }
    keeper.set_next_id(state, next)
}

/// Exports the gov section: parameters, the next id, every proposal, and the deposits and votes
/// still on record.
pub fn export_genesis(state: &dyn StateRead) -> Result<GovGenesis, GovError> {
    let p = params::params(state)?;
    let next = state.get_proto::<u64>(state_key::NEXT_PROPOSAL_ID)?.unwrap_or(1);
    Ok(GovGenesis {
        starting_proposal_id: next,
        params: Some(GovParamsJson::from_params(&p)),
        proposals_hex: state.scan_all_proto::<Proposal>(state_key::PROPOSAL_PREFIX)?.iter().map(|(_, m)| encode_hex(m)).collect(),
        deposits_hex: state.scan_all_proto::<Deposit>(state_key::DEPOSIT_PREFIX)?.iter().map(|(_, m)| encode_hex(m)).collect(),
        votes_hex: state.scan_all_proto::<Vote>(state_key::VOTE_PREFIX)?.iter().map(|(_, m)| encode_hex(m)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_json_round_trips() {
        let json = GovParamsJson::from_params(&params::default_params());
        assert_eq!(json.quorum, "0.334000000000000000");
        assert_eq!(json.min_deposit, "10000000000uopen");
        let back = json.to_params().unwrap();
        assert_eq!(GovParamsJson::from_params(&back), json);
        let mut bad = json.clone();
        bad.voting_period_seconds = 0;
        assert!(bad.to_params().is_err());
    }
}
