//! Gov parameters as `cosmos.gov.v1.Params` (Dec fields in the SDK's JSON-ish dotted form, as
//! gov v1 stores them: `"0.334000000000000000"`), defaults, validation, reading and writing.

use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::gov::v1::Params;
use openledger_core::coin::{coins_from_proto, Coin, BASE_DENOM};
use openledger_core::{Dec, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};
use tendermint_proto::google::protobuf::Duration;

use crate::error::GovError;
use crate::state_key;

/// Default minimum deposit: 10,000 OPEN.
pub const DEFAULT_MIN_DEPOSIT: u128 = 10_000_000_000;
/// Default deposit and voting periods: 2 days.
pub const DEFAULT_PERIOD_SECONDS: i64 = 2 * 24 * 3600;

/// Parses a gov Dec field (dotted, or atomics without a dot as some clients send).
pub fn dec_field(text: &str) -> Option<Dec> {
    if text.is_empty() {
        return Some(Dec::ZERO);
    }
    if text.contains('.') {
        Dec::parse(text).ok()
    } else {
        text.parse::<u128>().ok().map(Dec)
    }
}

fn dec_str(text: &str) -> String {
    Dec::parse(text).unwrap_or(Dec::ZERO).to_string()
}

/// Default params (SDK defaults, `uopen` deposits).
pub fn default_params() -> Params {
    Params {
        min_deposit: vec![ProtoCoin { denom: BASE_DENOM.into(), amount: DEFAULT_MIN_DEPOSIT.to_string() }],
        max_deposit_period: Some(Duration { seconds: DEFAULT_PERIOD_SECONDS, nanos: 0 }),
        voting_period: Some(Duration { seconds: DEFAULT_PERIOD_SECONDS, nanos: 0 }),
        quorum: dec_str("0.334"),
        threshold: dec_str("0.5"),
        veto_threshold: dec_str("0.334"),
        min_initial_deposit_ratio: dec_str("0"),
        proposal_cancel_ratio: dec_str("0.5"),
        proposal_cancel_dest: String::new(),
        expedited_voting_period: Some(Duration { seconds: 24 * 3600, nanos: 0 }),
        expedited_threshold: dec_str("0.667"),
        expedited_min_deposit: vec![ProtoCoin { denom: BASE_DENOM.into(), amount: (DEFAULT_MIN_DEPOSIT * 5).to_string() }],
        burn_vote_quorum: false,
        burn_proposal_deposit_prevote: false,
        burn_vote_veto: true,
        min_deposit_ratio: dec_str("0.01"),
    }
}

/// Duration in ns (negative clamps to 0).
pub fn duration_ns(d: Option<&Duration>) -> u64 {
    match d {
        None => 0,
        Some(d) => u64::try_from(d.seconds).unwrap_or(0).saturating_mul(1_000_000_000).saturating_add(u64::try_from(d.nanos).unwrap_or(0)),
    }
}

/// The tally fractions of `params`: (quorum, threshold, veto).
pub fn tally_fractions(params: &Params) -> Result<(Dec, Dec, Dec), GovError> {
    let get = |name: &str, text: &str| dec_field(text).ok_or_else(|| GovError::InvalidRequest(format!("invalid {name} {text:?}")));
    Ok((get("quorum", &params.quorum)?, get("threshold", &params.threshold)?, get("veto_threshold", &params.veto_threshold)?))
}

/// Validates params like the SDK's `Params.ValidateBasic`.
pub fn validate(params: &Params) -> Result<(), GovError> {
    let min = coins_from_proto(&params.min_deposit).map_err(|e| GovError::InvalidCoins(e.to_string()))?;
    if min.is_empty() {
        return Err(GovError::InvalidRequest("min_deposit cannot be empty".into()));
    }
    let (quorum, threshold, veto) = tally_fractions(params)?;
    if quorum > Dec::ONE {
        return Err(GovError::InvalidRequest(format!("quorum too large: {quorum}")));
    }
    if threshold.is_zero() || threshold > Dec::ONE {
        return Err(GovError::InvalidRequest(format!("vote threshold must be positive and at most one: {threshold}")));
    }
    if veto.is_zero() || veto > Dec::ONE {
        return Err(GovError::InvalidRequest(format!("veto threshold must be positive and at most one: {veto}")));
    }
    if duration_ns(params.max_deposit_period.as_ref()) == 0 {
        return Err(GovError::InvalidRequest("maximum deposit period must be positive".into()));
    }
    if duration_ns(params.voting_period.as_ref()) == 0 {
        return Err(GovError::InvalidRequest("voting period must be positive".into()));
    }
    Ok(())
}

/// The minimum deposit as validated coins.
pub fn min_deposit(params: &Params) -> Vec<Coin> {
    coins_from_proto(&params.min_deposit).unwrap_or_default()
}

/// Current params.
pub fn params(state: &dyn StateRead) -> Result<Params, StateError> {
    Ok(state.get_proto(state_key::PARAMS)?.unwrap_or_else(default_params))
}

/// Writes validated params (genesis and `MsgUpdateParams` through gov).
pub fn set_params(state: &mut dyn StateWrite, params: &Params) -> Result<(), GovError> {
    validate(params)?;
    state.put_proto(state_key::PARAMS.to_vec(), params)?;
    Ok(())
}
