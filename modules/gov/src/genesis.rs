//! The gov section of genesis.json: the starting proposal id and the parameters in a readable
//! JSON form (coins as `10000000000uopen`, periods in seconds, fractions as decimals).

use cosmos_sdk_proto::cosmos::gov::v1::Params;
use openledger_core::coin::{format_coins, parse_coins};
use openledger_core::{StateRead, StateReadExt, StateWrite};
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
    keeper.set_next_id(state, genesis.starting_proposal_id.max(1))
}

/// Exports the gov section (parameters and the next id; in-flight proposals are not exported).
pub fn export_genesis(state: &dyn StateRead) -> Result<GovGenesis, GovError> {
    let p = params::params(state)?;
    let next = state.get_proto::<u64>(state_key::NEXT_PROPOSAL_ID)?.unwrap_or(1);
    Ok(GovGenesis { starting_proposal_id: next, params: Some(GovParamsJson::from_params(&p)) })
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
