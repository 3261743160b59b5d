//! The fuzz targets. Each one runs an input through a real entry point of the app and checks
//! invariants that hold for every input: no panic, a deterministic answer (the same input on a
//! second identical app, or twice, gives the same bytes), a rejected tx or proposal changes no
//! state, and every non-zero code comes with a non-empty log. A target returns the class of
//! outcome it saw (code and the shape of the log), which the driver uses as feedback: an input
//! that produces a class not seen before joins the live corpus.

use crate::mutate::Shape;

pub mod abci;
pub mod rest;
pub mod tx;
pub mod votes;

/// One fuzz target.
pub trait Target {
    /// How its inputs are shaped.
    fn shape(&self) -> Shape;
    /// Largest input it is given.
    fn max_len(&self) -> usize {
        64 * 1024
    }
    /// Runs one input: the outcome class, or the invariant that failed.
    fn run(&mut self, input: &[u8]) -> Result<String, String>;
}

/// Every target, by name, in the order `make fuzz` runs them.
pub const NAMES: &[&str] = &[
    "tx_decode",
    "check_tx",
    "msgs",
    "amino_json",
    "vote_extension",
    "process_proposal",
    "prepare_proposal",
    "finalize_block",
    "query",
    "rest",
    "genesis",
];

/// Builds the target named `name` (its chain included).
pub fn build(name: &str) -> Option<Box<dyn Target>> {
    Some(match name {
        "tx_decode" => Box::new(tx::TxDecode::new()),
        "check_tx" => Box::new(tx::CheckTx::new()),
        "msgs" => Box::new(tx::Msgs::new()),
        "amino_json" => Box::new(tx::AminoJson),
        "vote_extension" => Box::new(votes::VoteExtension::new()),
        "process_proposal" => Box::new(votes::ProcessProposal::new()),
        "prepare_proposal" => Box::new(votes::PrepareProposal::new()),
        "finalize_block" => Box::new(abci::FinalizeBlock::new()),
        "query" => Box::new(abci::Query::new()),
        "rest" => Box::new(rest::Rest::new()),
        "genesis" => Box::new(abci::Genesis),
        _ => return None,
    })
}

/// An outcome class: the code, its codespace and the log reduced to its first letters and spaces, cut short
/// (so `account sequence mismatch, expected 3, got 7` is one class whatever the numbers).
pub fn outcome(code: u32, codespace: &str, log: &str) -> String {
    let shape: String = log.chars().filter(|c| c.is_ascii_alphabetic() || *c == ' ').take(40).collect();
    format!("{codespace}/{code}: {shape}")
}

/// Fails unless a non-zero `code` has a non-empty `log`.
pub fn require_log(what: &str, code: u32, log: &str) -> Result<(), String> {
    if code != 0 && log.trim().is_empty() {
        return Err(format!("{what}: code {code} with an empty log"));
    }
    Ok(())
}

/// Fails unless `a == b`, naming `what`.
pub fn require_same<T: PartialEq + std::fmt::Debug>(what: &str, a: &T, b: &T) -> Result<(), String> {
    if a != b {
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        return Err(format!("{what} is not deterministic: {} vs {}", &a[..a.len().min(400)], &b[..b.len().min(400)]));
    }
    Ok(())
}
