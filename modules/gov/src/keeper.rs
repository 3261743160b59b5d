//! The gov keeper: submit, deposit, vote, end-block processing of the deposit and voting queues
//! (tally, execution of passed proposals' messages, deposit refund or burn), and the authority
//! check every `MsgUpdateParams` shares.

use std::sync::Arc;

use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::gov::v1::{Deposit, MsgSubmitProposal, Proposal, ProposalStatus, TallyResult, Vote, WeightedVoteOption};
use cosmos_sdk_proto::Any;
use openledger_core::block::{ns_timestamp, timestamp_ns, BlockInfo};
use openledger_core::coin::{coins_from_proto, format_coins, Coin};
use openledger_core::delta::StateDelta;
use openledger_core::{AbciError, Address, Dec, StateError, StateRead, StateReadExt, StateWrite, StateWriteExt};

use crate::error::GovError;
use crate::events::{ProposalDeposited, ProposalDropped, ProposalSubmitted, ProposalTallied, ProposalVoted, VotingPeriodStarted};
use crate::params;
use crate::state_key;
pub use crate::tally::{DelegationShares, ParsedVote, StakeReader, TallyOutcome, TallyRules, ValidatorPower};

/// Name of the gov module account (holds deposits; burner).
pub const GOV_MODULE: &str = "gov";
/// Longest metadata accepted (SDK default `MaxMetadataLen`).
pub const MAX_METADATA_LEN: usize = 255;
/// Longest title accepted.
pub const MAX_TITLE_LEN: usize = 255;
/// Longest summary accepted (SDK default `MaxSummaryLen`).
pub const MAX_SUMMARY_LEN: usize = 10_200;
/// Most messages in one proposal.
pub const MAX_PROPOSAL_MSGS: usize = 16;
/// Most proposals processed per queue per block.
pub const MAX_QUEUE_PER_BLOCK: usize = 100;

/// The gov module account address: the authority of every `MsgUpdateParams`.
pub fn gov_authority() -> Address {
    Address::module(GOV_MODULE)
}

/// Checks that `authority` is the gov module account (gov code 13 otherwise).
pub fn check_authority(authority: &str) -> Result<(), GovError> {
    let expected = gov_authority().to_bech32();
    if authority != expected {
        return Err(GovError::InvalidAuthority { expected, got: authority.to_string() });
    }
    Ok(())
}

/// What gov needs from the bank.
pub trait BankKeeper: Send + Sync {
    /// Moves coins (with the bank's events).
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), AbciError>;
    /// Destroys coins held by `from`.
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[Coin]) -> Result<(), AbciError>;
}

/// The app's message router as gov sees it.
pub trait ProposalExecutor {
    /// Decodes and statelessly validates a proposal message; returns its signers.
    fn signers(&self, msg: &Any) -> Result<Vec<Address>, AbciError>;
    /// Executes one message of a passed proposal.
    fn execute(&self, state: &mut dyn StateWrite, msg: &Any) -> Result<(), AbciError>;
}

/// The gov keeper.
#[derive(Clone)]
pub struct GovKeeper {
    bank: Arc<dyn BankKeeper>,
    stake: Arc<dyn StakeReader>,
}

impl std::fmt::Debug for GovKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GovKeeper")
    }
}

fn parse_address(field: &'static str, text: &str) -> Result<Address, GovError> {
    Address::from_bech32(text).map_err(|e| GovError::InvalidAddress { field, value: text.to_string(), reason: e.to_string() })
}

/// Parses and validates weighted options (valid option, weights in (0, 1], no duplicates, sum 1).
pub fn parse_options(options: &[WeightedVoteOption]) -> Result<Vec<(i32, Dec)>, GovError> {
    if options.is_empty() {
        return Err(GovError::InvalidVote("no vote options".into()));
    }
    let mut parsed: Vec<(i32, Dec)> = Vec::with_capacity(options.len());
    let mut sum = Dec::ZERO;
    for o in options {
        if !(1..=4).contains(&o.option) {
            return Err(GovError::InvalidVote(format!("invalid option {}", o.option)));
        }
        let w = params::dec_field(&o.weight).ok_or_else(|| GovError::InvalidVote(format!("invalid weight {:?}", o.weight)))?;
        if w.is_zero() || w > Dec::ONE {
            return Err(GovError::InvalidVote(format!("invalid weight {w}")));
        }
        if parsed.iter().any(|(opt, _)| *opt == o.option) {
            return Err(GovError::InvalidVote(format!("duplicated vote option {}", o.option)));
        }
        sum = sum.checked_add(w)?;
        parsed.push((o.option, w));
    }
    if sum != Dec::ONE {
        return Err(GovError::InvalidVote(format!("total weight {sum} is not 1")));
    }
    Ok(parsed)
}

fn add_coins(total: &mut Vec<ProtoCoin>, add: &[Coin]) -> Result<(), GovError> {
    let mut merged = coins_from_proto(total).map_err(|e| GovError::InvalidCoins(e.to_string()))?;
    for c in add {
        match merged.iter_mut().find(|m| m.denom == c.denom) {
            Some(m) => m.amount = m.amount.checked_add(c.amount).ok_or(GovError::Overflow("deposit"))?,
            None => merged.push(c.clone()),
        }
    }
    merged.sort_by(|a, b| a.denom.cmp(&b.denom));
    *total = merged.iter().map(Coin::to_proto).collect();
    Ok(())
}

fn covers(total: &[ProtoCoin], min: &[Coin]) -> bool {
    let have = coins_from_proto(total).unwrap_or_default();
    min.iter().all(|m| have.iter().any(|h| h.denom == m.denom && h.amount >= m.amount))
}

impl GovKeeper {
    /// A keeper over the bank and staking.
    pub fn new(bank: Arc<dyn BankKeeper>, stake: Arc<dyn StakeReader>) -> Self {
        Self { bank, stake }
    }

    /// A proposal.
    pub fn proposal(&self, state: &dyn StateRead, id: u64) -> Result<Option<Proposal>, GovError> {
        Ok(state.get_proto(&state_key::proposal(id))?)
    }

    fn must_proposal(&self, state: &dyn StateRead, id: u64) -> Result<Proposal, GovError> {
        self.proposal(state, id)?.ok_or(GovError::UnknownProposal(id))
    }

    fn next_id(&self, state: &mut dyn StateWrite) -> Result<u64, GovError> {
        let id = state.get_proto::<u64>(state_key::NEXT_PROPOSAL_ID)?.unwrap_or(1).max(1);
        state.put_proto(state_key::NEXT_PROPOSAL_ID.to_vec(), &(id + 1))?;
        Ok(id)
    }

    /// Sets the id of the next proposal (genesis).
    pub fn set_next_id(&self, state: &mut dyn StateWrite, id: u64) -> Result<(), GovError> {
        state.put_proto(state_key::NEXT_PROPOSAL_ID.to_vec(), &id.max(1))?;
        Ok(())
    }

    /// `MsgSubmitProposal`: validates the messages (each signed by the gov account only), stores
    /// the proposal in its deposit period and takes the initial deposit. Returns the id.
    pub fn submit_proposal(
        &self,
        state: &mut dyn StateWrite,
        executor: &dyn ProposalExecutor,
        msg: &MsgSubmitProposal,
    ) -> Result<u64, GovError> {
        let proposer = parse_address("proposer", &msg.proposer).map_err(|_| GovError::InvalidProposer(msg.proposer.clone()))?;
        if msg.metadata.len() > MAX_METADATA_LEN {
            return Err(GovError::MetadataTooLong);
        }
        if msg.title.trim().is_empty() || msg.title.len() > MAX_TITLE_LEN {
            return Err(GovError::InvalidProposal(format!("title must be 1..={MAX_TITLE_LEN} bytes")));
        }
        if msg.summary.trim().is_empty() {
            return Err(GovError::InvalidProposal("summary cannot be empty".into()));
        }
        if msg.summary.len() > MAX_SUMMARY_LEN {
            return Err(GovError::SummaryTooLong);
        }
        if msg.expedited {
            return Err(GovError::InvalidProposal("expedited proposals are not supported".into()));
        }
        if msg.messages.is_empty() {
            return Err(GovError::NoProposalMsgs);
        }
        if msg.messages.len() > MAX_PROPOSAL_MSGS {
            return Err(GovError::InvalidProposalMsg(format!("at most {MAX_PROPOSAL_MSGS} messages")));
        }
        let authority = gov_authority();
        for any in &msg.messages {
            let signers = executor.signers(any).map_err(GovError::Message)?;
            if signers.is_empty() {
                return Err(GovError::InvalidProposalMsg(format!("{} has no signer", any.type_url)));
            }
            if let Some(bad) = signers.iter().find(|s| **s != authority) {
                return Err(GovError::InvalidSigner { expected: authority.to_bech32(), got: bad.to_bech32() });
            }
        }
        let initial = self.check_deposit_coins(state, &msg.initial_deposit)?;
        let id = self.next_id(state)?;
        let info = openledger_core::block::block_info(state)?;
        let p = params::params(state)?;
        let deposit_end = info.time_ns.saturating_add(params::duration_ns(p.max_deposit_period.as_ref()));
        let proposal = Proposal {
            id,
            messages: msg.messages.clone(),
            status: ProposalStatus::DepositPeriod as i32,
            final_tally_result: Some(empty_tally()),
            submit_time: Some(ns_timestamp(info.time_ns)),
            deposit_end_time: Some(ns_timestamp(deposit_end)),
            total_deposit: Vec::new(),
            voting_start_time: None,
            voting_end_time: None,
            metadata: msg.metadata.clone(),
            title: msg.title.clone(),
            summary: msg.summary.clone(),
            proposer: proposer.to_bech32(),
            expedited: false,
            failed_reason: String::new(),
        };
        state.put_proto(state_key::proposal(id), &proposal)?;
        state.put_raw(state_key::inactive_queue(deposit_end, id), Vec::new())?;
        let types: Vec<String> = msg.messages.iter().map(|m| m.type_url.clone()).collect();
        state.emit_typed(ProposalSubmitted { proposal_id: id, proposal_proposer: proposer.to_bech32(), proposal_messages: types });
        if !initial.is_empty() {
            self.add_deposit(state, id, &proposer, &initial)?;
        }
        Ok(id)
    }

    fn check_deposit_coins(&self, state: &dyn StateRead, amount: &[ProtoCoin]) -> Result<Vec<Coin>, GovError> {
        let coins = coins_from_proto(amount).map_err(|e| GovError::InvalidCoins(e.to_string()))?;
        let min = params::min_deposit(&params::params(state)?);
        if let Some(bad) = coins.iter().find(|c| !min.iter().any(|m| m.denom == c.denom)) {
            let allowed = min.iter().map(|m| m.denom.clone()).collect::<Vec<_>>().join(", ");
            return Err(GovError::InvalidDepositDenom { got: bad.to_string(), allowed });
        }
        Ok(coins)
    }

    /// `MsgDeposit`: adds to a proposal in its deposit or voting period; reaching the minimum
    /// deposit starts the voting period. Returns whether voting started.
    pub fn deposit(&self, state: &mut dyn StateWrite, id: u64, depositor: &str, amount: &[ProtoCoin]) -> Result<bool, GovError> {
        let depositor = parse_address("depositor", depositor)?;
        let coins = self.check_deposit_coins(state, amount)?;
        if coins.is_empty() {
            return Err(GovError::InvalidCoins("deposit amount cannot be empty".into()));
        }
        self.add_deposit(state, id, &depositor, &coins)
    }

    fn add_deposit(&self, state: &mut dyn StateWrite, id: u64, depositor: &Address, coins: &[Coin]) -> Result<bool, GovError> {
        let mut proposal = self.must_proposal(state, id)?;
        let status = proposal.status;
        if status != ProposalStatus::DepositPeriod as i32 && status != ProposalStatus::VotingPeriod as i32 {
            return Err(GovError::InactiveProposal(id));
        }
        self.bank.send(state, depositor, &gov_authority(), coins).map_err(GovError::Bank)?;
        add_coins(&mut proposal.total_deposit, coins)?;
        let key = state_key::deposit(id, &depositor.to_bech32());
        let mut deposit: Deposit =
            state.get_proto(&key)?.unwrap_or(Deposit { proposal_id: id, depositor: depositor.to_bech32(), amount: Vec::new() });
        add_coins(&mut deposit.amount, coins)?;
        state.put_proto(key, &deposit)?;
        let p = params::params(state)?;
        let mut activated = false;
        if status == ProposalStatus::DepositPeriod as i32 && covers(&proposal.total_deposit, &params::min_deposit(&p)) {
            let info = openledger_core::block::block_info(state)?;
            let end = info.time_ns.saturating_add(params::duration_ns(p.voting_period.as_ref()));
            if let Some(ts) = &proposal.deposit_end_time {
                state.delete(&state_key::inactive_queue(timestamp_ns(ts), id))?;
            }
            proposal.status = ProposalStatus::VotingPeriod as i32;
            proposal.voting_start_time = Some(ns_timestamp(info.time_ns));
            proposal.voting_end_time = Some(ns_timestamp(end));
            state.put_raw(state_key::active_queue(end, id), Vec::new())?;
            activated = true;
        }
        state.put_proto(state_key::proposal(id), &proposal)?;
        state.emit_typed(ProposalDeposited { amount: format_coins(coins), proposal_id: id, depositor: depositor.to_bech32() });
        if activated {
            state.emit_typed(VotingPeriodStarted { proposal_id: id });
        }
        Ok(activated)
    }

    /// `MsgVote` / `MsgVoteWeighted`: records (or replaces) a vote during the voting period.
    pub fn vote(
        &self,
        state: &mut dyn StateWrite,
        id: u64,
        voter: &str,
        options: &[WeightedVoteOption],
        metadata: &str,
    ) -> Result<(), GovError> {
        let voter = parse_address("voter", voter)?;
        if metadata.len() > MAX_METADATA_LEN {
            return Err(GovError::MetadataTooLong);
        }
        let parsed = parse_options(options)?;
        let proposal = self.must_proposal(state, id)?;
        if proposal.status != ProposalStatus::VotingPeriod as i32 {
            return Err(GovError::InactiveProposal(id));
        }
        let normalized: Vec<WeightedVoteOption> =
            parsed.iter().map(|(o, w)| WeightedVoteOption { option: *o, weight: w.to_string() }).collect();
        let vote = Vote { proposal_id: id, voter: voter.to_bech32(), options: normalized, metadata: metadata.to_string() };
        state.put_proto(state_key::vote(id, &voter.to_bech32()), &vote)?;
        let option_text = parsed.iter().map(|(o, w)| format!("option:{} weight:{}", option_name(*o), w)).collect::<Vec<_>>().join("\n");
        state.emit_typed(ProposalVoted { voter: voter.to_bech32(), option: option_text, proposal_id: id });
        Ok(())
    }

    /// Parsed votes of a proposal (for tallying).
    pub fn parsed_votes(&self, state: &dyn StateRead, id: u64) -> Result<Vec<ParsedVote>, GovError> {
        let mut out = Vec::new();
        for (_, vote) in state.scan_proto::<Vote>(&state_key::votes_of(id), None, usize::MAX)? {
            let Ok(voter) = Address::from_bech32(&vote.voter) else { continue };
            let Ok(options) = parse_options(&vote.options) else { continue };
            out.push(ParsedVote { voter, options });
        }
        Ok(out)
    }

    /// Tallies a proposal's current votes.
    pub fn tally(&self, state: &dyn StateRead, id: u64) -> Result<TallyOutcome, GovError> {
        let p = params::params(state)?;
        let (quorum, threshold, veto) = params::tally_fractions(&p)?;
        let rules = TallyRules { quorum, threshold, veto, burn_vote_quorum: p.burn_vote_quorum, burn_vote_veto: p.burn_vote_veto };
        let votes = self.parsed_votes(state, id)?;
        crate::tally::tally(state, self.stake.as_ref(), &votes, rules)
    }

    fn settle_deposits(&self, state: &mut dyn StateWrite, id: u64, burn: bool) -> Result<(), GovError> {
        let deposits = state.scan_proto::<Deposit>(&state_key::deposits_of(id), None, usize::MAX)?;
        let gov = gov_authority();
        for (key, deposit) in deposits {
            let coins = coins_from_proto(&deposit.amount).unwrap_or_default();
            if !coins.is_empty() {
                if burn {
                    self.bank.burn(state, &gov, &coins).map_err(GovError::Bank)?;
                } else if let Ok(to) = Address::from_bech32(&deposit.depositor) {
                    self.bank.send(state, &gov, &to, &coins).map_err(GovError::Bank)?;
                }
            }
            state.delete(&key)?;
        }
        Ok(())
    }

    fn due(&self, state: &dyn StateRead, prefix: &[u8], now: u64) -> Result<Vec<(Vec<u8>, u64)>, GovError> {
        let mut out = Vec::new();
        for (key, _) in state.scan_raw(prefix, None, MAX_QUEUE_PER_BLOCK)? {
            let Some((end, id)) = state_key::parse_queue_suffix(&key[prefix.len()..]) else { continue };
            if end > now {
                break;
            }
            out.push((key, id));
        }
        Ok(out)
    }

    /// End of block: drops proposals whose deposit period ended (refund, or burn with
    /// `burn_proposal_deposit_prevote`), tallies those whose voting period ended, executes the
    /// messages of passed ones atomically (a failing message marks the proposal FAILED and
    /// changes nothing), and refunds or burns deposits.
    pub fn end_block(&self, state: &mut dyn StateWrite, info: BlockInfo, executor: &dyn ProposalExecutor) -> Result<(), GovError> {
        let p = params::params(state)?;
        for (key, id) in self.due(state, state_key::INACTIVE_QUEUE_PREFIX, info.time_ns)? {
            state.delete(&key)?;
            self.settle_deposits(state, id, p.burn_proposal_deposit_prevote)?;
            state.delete(&state_key::proposal(id))?;
            state.emit_typed(ProposalDropped { proposal_id: id });
        }
        for (key, id) in self.due(state, state_key::ACTIVE_QUEUE_PREFIX, info.time_ns)? {
            state.delete(&key)?;
            let Some(mut proposal) = self.proposal(state, id)? else { continue };
            let outcome = self.tally(state, id)?;
            self.settle_deposits(state, id, outcome.burn_deposits)?;
            let result = if outcome.passes {
                match self.execute_messages(state, executor, &proposal.messages) {
                    Ok(()) => {
                        proposal.status = ProposalStatus::Passed as i32;
                        "proposal_passed"
                    }
                    Err(e) => {
                        proposal.status = ProposalStatus::Failed as i32;
                        proposal.failed_reason = e.log;
                        "proposal_failed"
                    }
                }
            } else {
                proposal.status = ProposalStatus::Rejected as i32;
                "proposal_rejected"
            };
            proposal.final_tally_result = Some(outcome.result);
            state.put_proto(state_key::proposal(id), &proposal)?;
            for (vote_key, _) in state.scan_raw(&state_key::votes_of(id), None, usize::MAX)? {
                state.delete(&vote_key)?;
            }
            let proposal_log = (proposal.status == ProposalStatus::Failed as i32).then(|| proposal.failed_reason.clone());
            state.emit_typed(ProposalTallied { proposal_id: id, proposal_result: result.to_string(), proposal_log });
        }
        Ok(())
    }

    fn execute_messages(&self, state: &mut dyn StateWrite, executor: &dyn ProposalExecutor, messages: &[Any]) -> Result<(), AbciError> {
        let (writes, events) = {
            let mut delta = StateDelta::new(&*state);
            for msg in messages {
                executor.execute(&mut delta, msg)?;
            }
            delta.into_parts()
        };
        for (key, value) in writes {
            let applied = match value {
                Some(v) => state.put_raw(key, v),
                None => state.delete(&key),
            };
            applied.map_err(|e: StateError| AbciError::from_code(&e))?;
        }
        for event in events {
            state.emit(event);
        }
        Ok(())
    }
}

/// An all-zero tally.
pub fn empty_tally() -> TallyResult {
    TallyResult { yes_count: "0".into(), abstain_count: "0".into(), no_count: "0".into(), no_with_veto_count: "0".into() }
}

/// The SDK's option name (`VOTE_OPTION_YES`).
pub fn option_name(option: i32) -> &'static str {
    match option {
        1 => "VOTE_OPTION_YES",
        2 => "VOTE_OPTION_ABSTAIN",
        3 => "VOTE_OPTION_NO",
        4 => "VOTE_OPTION_NO_WITH_VETO",
        _ => "VOTE_OPTION_UNSPECIFIED",
    }
}

/// A v1 single-option vote as weighted options (weight one).
pub fn single_option(option: i32) -> Vec<WeightedVoteOption> {
    vec![WeightedVoteOption { option, weight: Dec::ONE.to_string() }]
}
