//! Every state key of the gov module. Numbers are zero-padded so prefix scans come out ordered.

/// `cosmos.gov.v1.Params`.
pub const PARAMS: &[u8] = b"gov/params";
/// Next proposal id (u64).
pub const NEXT_PROPOSAL_ID: &[u8] = b"gov/next_proposal_id";

/// `gov/proposal/{id:020}` → `cosmos.gov.v1.Proposal`.
pub fn proposal(id: u64) -> Vec<u8> {
    format!("gov/proposal/{id:020}").into_bytes()
}
/// Prefix of all proposals.
pub const PROPOSAL_PREFIX: &[u8] = b"gov/proposal/";

/// `gov/deposit/{id:020}/{depositor}` → `cosmos.gov.v1.Deposit`.
pub fn deposit(id: u64, depositor: &str) -> Vec<u8> {
    format!("gov/deposit/{id:020}/{depositor}").into_bytes()
}
/// Prefix of all deposits.
pub const DEPOSIT_PREFIX: &[u8] = b"gov/deposit/";
/// Deposits of one proposal.
pub fn deposits_of(id: u64) -> Vec<u8> {
    format!("gov/deposit/{id:020}/").into_bytes()
}

/// `gov/vote/{id:020}/{voter}` → `cosmos.gov.v1.Vote`.
pub fn vote(id: u64, voter: &str) -> Vec<u8> {
    format!("gov/vote/{id:020}/{voter}").into_bytes()
}
/// Prefix of all votes.
pub const VOTE_PREFIX: &[u8] = b"gov/vote/";
/// Votes of one proposal.
pub fn votes_of(id: u64) -> Vec<u8> {
    format!("gov/vote/{id:020}/").into_bytes()
}

/// Deposit-period queue `gov/inactive_queue/{end_ns:020}/{id:020}` → empty.
pub fn inactive_queue(end_ns: u64, id: u64) -> Vec<u8> {
    format!("gov/inactive_queue/{end_ns:020}/{id:020}").into_bytes()
}
/// Prefix of the deposit-period queue.
pub const INACTIVE_QUEUE_PREFIX: &[u8] = b"gov/inactive_queue/";

/// Voting-period queue `gov/active_queue/{end_ns:020}/{id:020}` → empty.
pub fn active_queue(end_ns: u64, id: u64) -> Vec<u8> {
    format!("gov/active_queue/{end_ns:020}/{id:020}").into_bytes()
}
/// Prefix of the voting-period queue.
pub const ACTIVE_QUEUE_PREFIX: &[u8] = b"gov/active_queue/";

/// Parses `{end_ns:020}/{id:020}` after a queue prefix.
pub fn parse_queue_suffix(suffix: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(suffix).ok()?;
    let (end, id) = text.split_once('/')?;
    Some((end.parse().ok()?, id.parse().ok()?))
}
