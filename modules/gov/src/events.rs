//! Typed gov events, with the SDK's kinds and attribute names (`submit_proposal`,
//! `proposal_deposit`, `proposal_vote`, `inactive_proposal`, `active_proposal`), which explorers
//! and `tx_search` queries rely on.

use openledger_core::{typed_events, Event, TypedEvent};

typed_events! {
    /// A proposal was submitted (kind `submit_proposal`).
    ProposalSubmitted = "submit_proposal" {
        /// New proposal id.
        proposal_id: u64,
        /// Proposer address.
        proposal_proposer: String,
        /// Type URLs of the proposal's messages (rendered as `,url1,url2`, as in the SDK).
        proposal_messages: Vec<String> => format!(",{}", proposal_messages.join(",")),
    }

    /// A deposit was added to a proposal (kind `proposal_deposit`, with the amount).
    ProposalDeposited = "proposal_deposit" {
        /// Coins deposited (`100uopen,5foo`).
        amount: String,
        /// Proposal id.
        proposal_id: u64,
        /// Depositor address.
        depositor: String,
    }

    /// A vote was recorded (kind `proposal_vote`).
    ProposalVoted = "proposal_vote" {
        /// Voter address.
        voter: String,
        /// Weighted options, one `option:VOTE_OPTION_YES weight:1.000000000000000000` per line.
        option: String,
        /// Proposal id.
        proposal_id: u64,
    }
}

/// A deposit reached the minimum and started the voting period (kind `proposal_deposit`, with
/// the single attribute `voting_period_start`).
pub struct VotingPeriodStarted {
    /// Proposal id (the value of `voting_period_start`).
    pub proposal_id: u64,
}

impl TypedEvent for VotingPeriodStarted {
    fn into_event(self) -> Event {
        Event::new("proposal_deposit").attr("voting_period_start", self.proposal_id.to_string())
    }
}

/// A proposal's deposit period ended without enough deposit and it was dropped (kind
/// `inactive_proposal`, result `proposal_dropped`).
pub struct ProposalDropped {
    /// Proposal id.
    pub proposal_id: u64,
}

impl TypedEvent for ProposalDropped {
    fn into_event(self) -> Event {
        Event::new("inactive_proposal").attr("proposal_id", self.proposal_id.to_string()).attr("proposal_result", "proposal_dropped")
    }
}

/// A proposal's voting period ended and it was tallied (kind `active_proposal`).
pub struct ProposalTallied {
    /// Proposal id.
    pub proposal_id: u64,
    /// `proposal_passed`, `proposal_failed` or `proposal_rejected`.
    pub proposal_result: String,
    /// Why execution failed; the attribute is present only for failed proposals.
    pub proposal_log: Option<String>,
}

impl TypedEvent for ProposalTallied {
    fn into_event(self) -> Event {
        let event =
            Event::new("active_proposal").attr("proposal_id", self.proposal_id.to_string()).attr("proposal_result", self.proposal_result);
        match self.proposal_log {
            Some(log) => event.attr("proposal_log", log),
            None => event,
        }
    }
}
