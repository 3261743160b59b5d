//! Query services: cosmos.gov.v1.Query (Proposal, Proposals, Vote, Votes, Deposit, Deposits,
//! TallyResult, Params) and cosmos.gov.v1beta1.Query (the same methods in the v1beta1 shapes
//! Keplr and CosmJS's gov extension read), answered from any state view.

use cosmos_sdk_proto::cosmos::gov::v1;
use cosmos_sdk_proto::cosmos::gov::v1beta1 as v1b1;
use openledger_core::pagination::paginate;
use openledger_core::query::{parse_address, unary, QueryService};
use openledger_core::{QueryError, StateRead, StateReadExt};
use prost::Message;

use crate::error::GovError;
use crate::keeper::{empty_tally, GovKeeper};
use crate::params::{self, dec_field};
use crate::state_key;

/// gov v1 service name.
pub const GOV_V1_SERVICE: &str = "cosmos.gov.v1.Query";
/// gov v1beta1 service name.
pub const GOV_V1BETA1_SERVICE: &str = "cosmos.gov.v1beta1.Query";

/// The gov module's query services.
#[derive(Debug, Clone)]
pub struct GovQuery(pub GovKeeper);

fn internal(e: GovError) -> QueryError {
    match e {
        GovError::UnknownProposal(id) => QueryError::NotFound(format!("proposal {id} doesn't exist")),
        other => QueryError::Internal(other.to_string()),
    }
}

fn must_proposal(k: &GovKeeper, state: &dyn StateRead, id: u64) -> Result<v1::Proposal, QueryError> {
    if id == 0 {
        return Err(QueryError::InvalidArgument("proposal id can not be 0".into()));
    }
    k.proposal(state, id).map_err(internal)?.ok_or_else(|| QueryError::NotFound(format!("proposal {id} doesn't exist")))
}

fn decode_all<M: Message + Default>(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Vec<M>, QueryError> {
    pairs.into_iter().map(|(_, v)| M::decode(v.as_slice()).map_err(|e| QueryError::Internal(e.to_string()))).collect()
}

/// The tally of a proposal: final for finished ones, live for those in voting.
fn tally_of(k: &GovKeeper, state: &dyn StateRead, p: &v1::Proposal) -> Result<v1::TallyResult, QueryError> {
    if p.status == v1::ProposalStatus::VotingPeriod as i32 {
        return Ok(k.tally(state, p.id).map_err(internal)?.result);
    }
    Ok(p.final_tally_result.clone().unwrap_or_else(empty_tally))
}

fn proposals(
    state: &dyn StateRead,
    req_status: i32,
    voter: &str,
    depositor: &str,
    page: Option<&cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest>,
) -> Result<(Vec<v1::Proposal>, Option<cosmos_sdk_proto::cosmos::base::query::v1beta1::PageResponse>), QueryError> {
    let voter = if voter.is_empty() { None } else { Some(parse_address("voter", voter)?.to_bech32()) };
    let depositor = if depositor.is_empty() { None } else { Some(parse_address("depositor", depositor)?.to_bech32()) };
    let (pairs, resp) = paginate(state, state_key::PROPOSAL_PREFIX, page)?;
    let mut out = Vec::new();
    for p in decode_all::<v1::Proposal>(pairs)? {
        if req_status != 0 && p.status != req_status {
            continue;
        }
        if let Some(v) = &voter {
            if !state.has(&state_key::vote(p.id, v))? {
                continue;
            }
        }
        if let Some(d) = &depositor {
            if !state.has(&state_key::deposit(p.id, d))? {
                continue;
            }
        }
        out.push(p);
    }
    Ok((out, resp))
}

fn dec_atomics(text: &str) -> String {
    dec_field(text).unwrap_or_default().0.to_string()
}

fn to_v1beta1(p: v1::Proposal, tally: v1::TallyResult) -> v1b1::Proposal {
    v1b1::Proposal {
        proposal_id: p.id,
        content: p.messages.first().cloned(),
        status: p.status,
        final_tally_result: Some(tally_v1beta1(tally)),
        submit_time: p.submit_time,
        deposit_end_time: p.deposit_end_time,
        total_deposit: p.total_deposit,
        voting_start_time: p.voting_start_time,
        voting_end_time: p.voting_end_time,
    }
}

/// The vote of `voter` on an existing proposal (the SDK's NotFound wording otherwise).
fn find_vote(k: &GovKeeper, state: &dyn StateRead, proposal_id: u64, voter: &str) -> Result<v1::Vote, QueryError> {
    let voter = parse_address("voter", voter)?;
    must_proposal(k, state, proposal_id)?;
    let vote: Option<v1::Vote> = state.get_proto(&state_key::vote(proposal_id, &voter.to_bech32()))?;
    vote.ok_or_else(|| QueryError::NotFound(format!("voter: {} not found for proposal: {proposal_id}", voter.to_bech32())))
}

/// The deposit of `depositor` on an existing proposal (the SDK's NotFound wording otherwise).
fn find_deposit(k: &GovKeeper, state: &dyn StateRead, proposal_id: u64, depositor: &str) -> Result<v1::Deposit, QueryError> {
    let depositor = parse_address("depositor", depositor)?;
    must_proposal(k, state, proposal_id)?;
    let deposit: Option<v1::Deposit> = state.get_proto(&state_key::deposit(proposal_id, &depositor.to_bech32()))?;
    deposit.ok_or_else(|| QueryError::NotFound(format!("depositer: {} not found for proposal: {proposal_id}", depositor.to_bech32())))
}

/// A v1 vote in the v1beta1 shape (`option` set only for a single-option vote).
fn vote_v1beta1(vote: v1::Vote) -> v1b1::Vote {
    let single = if vote.options.len() == 1 { vote.options[0].option } else { 0 };
    #[allow(deprecated)]
    v1b1::Vote {
        proposal_id: vote.proposal_id,
        voter: vote.voter,
        option: single,
        options: vote.options.iter().map(|o| v1b1::WeightedVoteOption { option: o.option, weight: dec_atomics(&o.weight) }).collect(),
    }
}

fn deposit_v1beta1(d: v1::Deposit) -> v1b1::Deposit {
    v1b1::Deposit { proposal_id: d.proposal_id, depositor: d.depositor, amount: d.amount }
}

fn tally_v1beta1(t: v1::TallyResult) -> v1b1::TallyResult {
    v1b1::TallyResult { yes: t.yes_count, abstain: t.abstain_count, no: t.no_count, no_with_veto: t.no_with_veto_count }
}

impl GovQuery {
    fn query_v1(&self, state: &dyn StateRead, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        let k = &self.0;
        match method {
            "Proposal" => unary(data, |r: v1::QueryProposalRequest| {
                Ok(v1::QueryProposalResponse { proposal: Some(must_proposal(k, state, r.proposal_id)?) })
            }),
            "Proposals" => unary(data, |r: v1::QueryProposalsRequest| {
                let (proposals, pagination) = proposals(state, r.proposal_status, &r.voter, &r.depositor, r.pagination.as_ref())?;
                Ok(v1::QueryProposalsResponse { proposals, pagination })
            }),
            "Vote" => unary(data, |r: v1::QueryVoteRequest| {
                Ok(v1::QueryVoteResponse { vote: Some(find_vote(k, state, r.proposal_id, &r.voter)?) })
            }),
            "Votes" => unary(data, |r: v1::QueryVotesRequest| {
                must_proposal(k, state, r.proposal_id)?;
                let (pairs, pagination) = paginate(state, &state_key::votes_of(r.proposal_id), r.pagination.as_ref())?;
                Ok(v1::QueryVotesResponse { votes: decode_all(pairs)?, pagination })
            }),
            "Deposit" => unary(data, |r: v1::QueryDepositRequest| {
                Ok(v1::QueryDepositResponse { deposit: Some(find_deposit(k, state, r.proposal_id, &r.depositor)?) })
            }),
            "Deposits" => unary(data, |r: v1::QueryDepositsRequest| {
                must_proposal(k, state, r.proposal_id)?;
                let (pairs, pagination) = paginate(state, &state_key::deposits_of(r.proposal_id), r.pagination.as_ref())?;
                Ok(v1::QueryDepositsResponse { deposits: decode_all(pairs)?, pagination })
            }),
            "TallyResult" => unary(data, |r: v1::QueryTallyResultRequest| {
                let p = must_proposal(k, state, r.proposal_id)?;
                Ok(v1::QueryTallyResultResponse { tally: Some(tally_of(k, state, &p)?) })
            }),
            "Params" => unary(data, |_: v1::QueryParamsRequest| {
                let p = params::params(state)?;
                #[allow(deprecated)]
                Ok(v1::QueryParamsResponse {
                    voting_params: Some(v1::VotingParams { voting_period: p.voting_period }),
                    deposit_params: Some(v1::DepositParams {
                        min_deposit: p.min_deposit.clone(),
                        max_deposit_period: p.max_deposit_period,
                    }),
                    tally_params: Some(v1::TallyParams {
                        quorum: p.quorum.clone(),
                        threshold: p.threshold.clone(),
                        veto_threshold: p.veto_threshold.clone(),
                    }),
                    params: Some(p),
                })
            }),
            other => Err(QueryError::UnknownPath(format!("unknown method {GOV_V1_SERVICE}/{other}"))),
        }
    }

    fn query_v1beta1(&self, state: &dyn StateRead, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        let k = &self.0;
        match method {
            "Proposal" => unary(data, |r: v1b1::QueryProposalRequest| {
                let p = must_proposal(k, state, r.proposal_id)?;
                let tally = tally_of(k, state, &p)?;
                Ok(v1b1::QueryProposalResponse { proposal: Some(to_v1beta1(p, tally)) })
            }),
            "Proposals" => unary(data, |r: v1b1::QueryProposalsRequest| {
                let (list, pagination) = proposals(state, r.proposal_status, &r.voter, &r.depositor, r.pagination.as_ref())?;
                let mut out = Vec::with_capacity(list.len());
                for p in list {
                    let tally = tally_of(k, state, &p)?;
                    out.push(to_v1beta1(p, tally));
                }
                Ok(v1b1::QueryProposalsResponse { proposals: out, pagination })
            }),
            "Vote" => unary(data, |r: v1b1::QueryVoteRequest| {
                Ok(v1b1::QueryVoteResponse { vote: Some(vote_v1beta1(find_vote(k, state, r.proposal_id, &r.voter)?)) })
            }),
            "Votes" => unary(data, |r: v1b1::QueryVotesRequest| {
                must_proposal(k, state, r.proposal_id)?;
                let (pairs, pagination) = paginate(state, &state_key::votes_of(r.proposal_id), r.pagination.as_ref())?;
                let votes = decode_all::<v1::Vote>(pairs)?.into_iter().map(vote_v1beta1).collect();
                Ok(v1b1::QueryVotesResponse { votes, pagination })
            }),
            "Deposit" => unary(data, |r: v1b1::QueryDepositRequest| {
                Ok(v1b1::QueryDepositResponse { deposit: Some(deposit_v1beta1(find_deposit(k, state, r.proposal_id, &r.depositor)?)) })
            }),
            "Deposits" => unary(data, |r: v1b1::QueryDepositsRequest| {
                must_proposal(k, state, r.proposal_id)?;
                let (pairs, pagination) = paginate(state, &state_key::deposits_of(r.proposal_id), r.pagination.as_ref())?;
                let deposits = decode_all::<v1::Deposit>(pairs)?.into_iter().map(deposit_v1beta1).collect();
                Ok(v1b1::QueryDepositsResponse { deposits, pagination })
            }),
            "Params" => unary(data, |r: v1b1::QueryParamsRequest| {
                let p = params::params(state)?;
                let mut out = v1b1::QueryParamsResponse::default();
                match r.params_type.as_str() {
                    "voting" => out.voting_params = Some(v1b1::VotingParams { voting_period: p.voting_period }),
                    "deposit" => {
                        out.deposit_params =
                            Some(v1b1::DepositParams { min_deposit: p.min_deposit, max_deposit_period: p.max_deposit_period })
                    }
                    "tallying" => {
                        out.tally_params = Some(v1b1::TallyParams {
                            quorum: dec_atomics(&p.quorum).into_bytes(),
                            threshold: dec_atomics(&p.threshold).into_bytes(),
                            veto_threshold: dec_atomics(&p.veto_threshold).into_bytes(),
                        })
                    }
                    other => return Err(QueryError::InvalidArgument(format!("{other} is not a valid parameter type"))),
                }
                Ok(out)
            }),
            "TallyResult" => unary(data, |r: v1b1::QueryTallyResultRequest| {
                let p = must_proposal(k, state, r.proposal_id)?;
                Ok(v1b1::QueryTallyResultResponse { tally: Some(tally_v1beta1(tally_of(k, state, &p)?)) })
            }),
            other => Err(QueryError::UnknownPath(format!("unknown method {GOV_V1BETA1_SERVICE}/{other}"))),
        }
    }
}

impl QueryService for GovQuery {
    fn services(&self) -> &'static [&'static str] {
        &[GOV_V1_SERVICE, GOV_V1BETA1_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        match service {
            GOV_V1_SERVICE => self.query_v1(state, method, data),
            GOV_V1BETA1_SERVICE => self.query_v1beta1(state, method, data),
            other => Err(QueryError::UnknownPath(format!("unknown service {other}"))),
        }
    }
}
