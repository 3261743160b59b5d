//! Consensus-input targets on the inference chain: `vote_extension` (VerifyVoteExtension on
//! extension bytes), `process_proposal` (ProcessProposal on a crafted proposal, then the same
//! block through FinalizeBlock) and `prepare_proposal` (PrepareProposal on a crafted mempool).

use openledger_inference::votes::{
    decode_extension, is_injected, MAX_EXTENSION_BYTES, MAX_OUTPUTS_PER_EXTENSION, MAX_RUNNING_JOBS_PER_EXTENSION,
    MAX_TRAINING_REPORTS_PER_EXTENSION,
};
use prost::Message;
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;

use super::{require_log, require_same, Target};
use crate::mutate::Shape;
use crate::world::InferenceChain;

const ACCEPT: i32 = pb::response_verify_vote_extension::VerifyStatus::Accept as i32;
const PROPOSAL_ACCEPT: i32 = pb::response_process_proposal::ProposalStatus::Accept as i32;

/// VerifyVoteExtension of the chain's validator at the next height.
pub struct VoteExtension {
    chain: InferenceChain,
}

impl VoteExtension {
    /// Builds the inference chain.
    pub fn new() -> Self {
        Self { chain: InferenceChain::new() }
    }
}

impl Default for VoteExtension {
    fn default() -> Self {
        Self::new()
    }
}

/// What an accepted extension must satisfy, checked here independently of the decoder.
fn extension_shape_ok(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > MAX_EXTENSION_BYTES {
        return Err(format!("accepted an extension of {} bytes", bytes.len()));
    }
    let ext = openledger_proto::openledger::inference::v1::VoteExtension::decode(bytes)
        .map_err(|e| format!("accepted an extension prost cannot decode: {e}"))?;
    let ascending = |ids: Vec<u64>| ids.first().is_none_or(|f| *f > 0) && ids.windows(2).all(|w| w[0] < w[1]);
    if ext.outputs.len() > MAX_OUTPUTS_PER_EXTENSION
        || ext.training_reports.len() > MAX_TRAINING_REPORTS_PER_EXTENSION
        || ext.running_jobs.len() > MAX_RUNNING_JOBS_PER_EXTENSION
    {
        return Err("accepted an extension over its count bounds".into());
    }
    if !ascending(ext.outputs.iter().map(|o| o.request_id).collect())
        || !ascending(ext.training_reports.iter().map(|r| r.job_id).collect())
        || !ascending(ext.running_jobs.clone())
    {
        return Err("accepted an extension whose ids are not strictly ascending".into());
    }
    if ext.outputs.iter().any(|o| o.output_hash.len() != 32) {
        return Err("accepted an output hash that is not 32 bytes".into());
    }
    Ok(())
}

impl Target for VoteExtension {
    fn shape(&self) -> Shape {
        Shape::Proto
    }

    fn max_len(&self) -> usize {
        MAX_EXTENSION_BYTES + 64
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let req = pb::RequestVerifyVoteExtension {
            hash: vec![0; 32].into(),
            validator_address: self.chain.cons_address.clone().into(),
            height: self.chain.height(),
            vote_extension: input.to_vec().into(),
        };
        let first = self.chain.app.verify_vote_extension(&req).status;
        require_same("VerifyVoteExtension", &first, &self.chain.app.verify_vote_extension(&req).status)?;
        let decoded = decode_extension(input);
        if first == ACCEPT {
            extension_shape_ok(input)?;
            if decoded.is_err() {
                return Err("accepted an extension decode_extension refuses".into());
            }
            Ok("accept".into())
        } else {
            Ok(match decoded {
                Ok(_) => "reject: state".into(),
                Err(e) => format!("reject: {}", e.to_string().chars().filter(|c| !c.is_ascii_digit()).take(40).collect::<String>()),
            })
        }
    }
}

/// ProcessProposal at the next height, then FinalizeBlock of the same block (not committed).
pub struct ProcessProposal {
    chain: InferenceChain,
}

impl ProcessProposal {
    /// Builds the inference chain.
    pub fn new() -> Self {
        Self { chain: InferenceChain::new() }
    }
}

impl Default for ProcessProposal {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for ProcessProposal {
    fn shape(&self) -> Shape {
        Shape::Proto
    }

    fn max_len(&self) -> usize {
        256 * 1024
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let Ok(mut req) = pb::RequestProcessProposal::decode(input) else { return Ok("not a proposal".into()) };
        let app = &self.chain.app;
        req.height = self.chain.height();
        let status = app.process_proposal(&req).status;
        require_same("ProcessProposal", &status, &app.process_proposal(&req).status)?;
        let finalize = pb::RequestFinalizeBlock {
            txs: req.txs.clone(),
            decided_last_commit: req.proposed_last_commit.clone(),
            misbehavior: req.misbehavior.clone(),
            hash: req.hash.clone(),
            height: req.height,
            time: Some(Timestamp { seconds: 1_700_000_000 + req.height, nanos: 0 }),
            ..Default::default()
        };
        let resp = app.finalize_block(&finalize).map_err(|e| format!("FinalizeBlock of a proposal failed: {e}"))?;
        require_same(
            "FinalizeBlock",
            &resp.encode_to_vec(),
            &app.finalize_block(&finalize).map(|r| r.encode_to_vec()).unwrap_or_default(),
        )?;
        if resp.tx_results.len() != req.txs.len() {
            return Err(format!("{} results for {} txs", resp.tx_results.len(), req.txs.len()));
        }
        for r in &resp.tx_results {
            require_log("FinalizeBlock tx", r.code, &r.log)?;
        }
        let injected_first = req.txs.first().is_some_and(|t| is_injected(t));
        if status == PROPOSAL_ACCEPT && injected_first && resp.tx_results[0].code != 0 {
            return Err(format!("ProcessProposal accepted injected results FinalizeBlock refuses: {}", resp.tx_results[0].log));
        }
        if injected_first && req.txs.len() == 1 && resp.tx_results[0].code != 0 {
            let empty = pb::RequestFinalizeBlock { txs: vec![], ..finalize };
            let base = app.finalize_block(&empty).map_err(|e| format!("empty FinalizeBlock failed: {e}"))?;
            require_same("app hash after refused injected results", &resp.app_hash, &base.app_hash)?;
        }
        Ok(format!("{} injected={injected_first} first_code={}", status, resp.tx_results.first().map_or(0, |r| r.code)))
    }
}

/// PrepareProposal of a crafted mempool (no local commit: this node injects nothing).
pub struct PrepareProposal {
    chain: InferenceChain,
}

impl PrepareProposal {
    /// Builds the inference chain.
    pub fn new() -> Self {
        Self { chain: InferenceChain::new() }
    }
}

impl Default for PrepareProposal {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for PrepareProposal {
    fn shape(&self) -> Shape {
        Shape::Proto
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let Ok(mut req) = pb::RequestPrepareProposal::decode(input) else { return Ok("not a request".into()) };
        req.local_last_commit = None;
        req.height = self.chain.height();
        let out = self.chain.app.prepare_proposal(req.clone()).txs;
        require_same("PrepareProposal", &out, &self.chain.app.prepare_proposal(req.clone()).txs)?;
        let total: usize = out.iter().map(|t| t.len()).sum();
        if i64::try_from(total).unwrap_or(i64::MAX) > req.max_tx_bytes.max(0) {
            return Err(format!("{total} bytes of txs exceed max_tx_bytes {}", req.max_tx_bytes));
        }
        if out.iter().any(|t| is_injected(t)) {
            return Err("a mempool tx posing as injected results was proposed".into());
        }
        // The proposal keeps the mempool's order: a subsequence of its txs.
        let mut rest = req.txs.iter();
        if !out.iter().all(|t| rest.any(|m| m == t)) {
            return Err("the proposal is not a subsequence of the mempool".into());
        }
        Ok(format!("{} of {}", usize::from(out.len() == req.txs.len()), usize::from(out.is_empty())))
    }
}
