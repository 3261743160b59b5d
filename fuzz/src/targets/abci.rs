//! ABCI targets on the replay chain: `finalize_block` (a crafted block of garbage or mutated txs,
//! commit info and misbehavior), `query` (any path, data, height and `prove`) and `genesis`
//! (InitChain with any `app_state` bytes on a fresh store).

use openledger_app::app::App;
use openledger_core::storage::Storage;
use prost::Message;
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;

use super::{outcome, require_log, require_same, Target};
use crate::mutate::Shape;
use crate::world::{next_height, replay_app, replay_init_request};

/// FinalizeBlock at the next height of the replay chain (never committed, so every input sees
/// the same state).
pub struct FinalizeBlock {
    app: App,
}

impl FinalizeBlock {
    /// Replays the fixture chain.
    pub fn new() -> Self {
        Self { app: replay_app() }
    }
}

impl Default for FinalizeBlock {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for FinalizeBlock {
    fn shape(&self) -> Shape {
        Shape::Proto
    }

    fn max_len(&self) -> usize {
        256 * 1024
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        // Bytes that are not a request are one garbage tx.
        let mut req = pb::RequestFinalizeBlock::decode(input)
            .unwrap_or_else(|_| pb::RequestFinalizeBlock { txs: vec![input.to_vec().into()], ..Default::default() });
        req.height = next_height(&self.app);
        req.time = Some(Timestamp { seconds: 1_700_000_000 + req.height, nanos: 0 });
        let resp = self.app.finalize_block(&req).map_err(|e| format!("FinalizeBlock failed: {e}"))?;
        let again = self.app.finalize_block(&req).map_err(|e| format!("FinalizeBlock failed the second time: {e}"))?;
        require_same("FinalizeBlock", &resp.encode_to_vec(), &again.encode_to_vec())?;
        if resp.tx_results.len() != req.txs.len() {
            return Err(format!("{} results for {} txs", resp.tx_results.len(), req.txs.len()));
        }
        for r in &resp.tx_results {
            require_log("FinalizeBlock tx", r.code, &r.log)?;
        }
        // A tx refused before its fee (non-zero code, no events) changes nothing: the block
        // without those txs has the same app hash.
        let kept: Vec<_> =
            req.txs.iter().zip(&resp.tx_results).filter(|(_, r)| r.code == 0 || !r.events.is_empty()).map(|(t, _)| t.clone()).collect();
        if kept.len() < req.txs.len() {
            let without = pb::RequestFinalizeBlock { txs: kept, ..req.clone() };
            let base = self.app.finalize_block(&without).map_err(|e| format!("FinalizeBlock without the refused txs failed: {e}"))?;
            require_same("app hash without the txs refused before their fee", &base.app_hash, &resp.app_hash)?;
        }
        let classes: Vec<String> = resp.tx_results.iter().take(4).map(|r| outcome(r.code, &r.codespace, &r.log)).collect();
        Ok(classes.join(" | "))
    }
}

/// ABCI Query on the replay chain.
pub struct Query {
    app: App,
}

impl Query {
    /// Replays the fixture chain.
    pub fn new() -> Self {
        Self { app: replay_app() }
    }
}

impl Default for Query {
    fn default() -> Self {
        Self::new()
    }
}

impl Target for Query {
    fn shape(&self) -> Shape {
        Shape::Proto
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let Ok(req) = pb::RequestQuery::decode(input) else { return Ok("not a query".into()) };
        let resp = self.app.query(&req);
        require_same("Query", &resp.encode_to_vec(), &self.app.query(&req).encode_to_vec())?;
        require_log("Query", resp.code, &resp.log)?;
        // Answered paths are classes of their own; refusals are classed by their log alone.
        let path = if resp.code == 0 { req.path.as_str() } else { "" };
        Ok(format!("{path} {}", outcome(resp.code, &resp.codespace, &resp.log)))
    }
}

/// InitChain with the input as `app_state` on two fresh stores; an imported genesis must also
/// finalize its first block.
pub struct Genesis;

impl Genesis {
    fn init(app_state: &[u8]) -> Result<(App, Result<pb::ResponseInitChain, String>), String> {
        let app = App::with_storage(Storage::temporary().map_err(|e| format!("temporary store: {e}"))?);
        let result = app.init_chain(&replay_init_request(app_state.to_vec())).map_err(|e| {
            let log = e.to_string();
            if log.trim().is_empty() {
                "InitChain failed with an empty log".to_string()
            } else {
                log
            }
        });
        Ok((app, result))
    }
}

impl Target for Genesis {
    fn shape(&self) -> Shape {
        Shape::Json
    }

    fn max_len(&self) -> usize {
        1024 * 1024
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        let (app, first) = Self::init(input)?;
        let (_, second) = Self::init(input)?;
        let encode = |r: &Result<pb::ResponseInitChain, String>| r.as_ref().map(|r| r.encode_to_vec()).map_err(Clone::clone);
        require_same("InitChain", &encode(&first), &encode(&second))?;
        match first {
            Ok(_) => {
                let req = pb::RequestFinalizeBlock {
                    height: 1,
                    time: Some(Timestamp { seconds: 1_700_000_001, nanos: 0 }),
                    ..Default::default()
                };
                app.finalize_block(&req).map_err(|e| format!("an imported genesis cannot finalize block 1: {e}"))?;
                app.commit().map_err(|e| format!("an imported genesis cannot commit block 1: {e}"))?;
                Ok("imported".into())
            }
            Err(log) if log == "InitChain failed with an empty log" => Err(log),
            Err(log) => Ok(outcome(1, "", &log)),
        }
    }
}
