//! Adapter from the tendermint-abci socket server (ABCI 2.0, CometBFT v0.38) to [`App`].
//! The server clones this handle for each of CometBFT's connections (consensus, mempool,
//! query, snapshot); all of them share one `App`.
//!
//! A failure of the consensus path that is not the fault of a tx (a store that cannot be
//! written, an invalid genesis) stops the node with a clear log: continuing would fork it.

use std::sync::Arc;

use tendermint_abci::Application;
use tendermint_proto::v0_38::abci as pb;

use crate::app::App;

/// The ABCI face of the app.
#[derive(Clone)]
pub struct AbciApp(pub Arc<App>);

fn halt(what: &str, err: impl std::fmt::Display) -> ! {
    tracing::error!("{what} failed: {err}; stopping the node");
    eprintln!("openledgerd: {what} failed: {err}; stopping the node");
    std::process::exit(1)
}

impl Application for AbciApp {
    fn info(&self, request: pb::RequestInfo) -> pb::ResponseInfo {
        self.0.info(&request)
    }

    fn init_chain(&self, request: pb::RequestInitChain) -> pb::ResponseInitChain {
        self.0.init_chain(&request).unwrap_or_else(|e| halt("InitChain", e))
    }

    fn query(&self, request: pb::RequestQuery) -> pb::ResponseQuery {
        self.0.query(&request)
    }

    fn check_tx(&self, request: pb::RequestCheckTx) -> pb::ResponseCheckTx {
        self.0.check_tx(&request)
    }

    fn commit(&self) -> pb::ResponseCommit {
        self.0.commit().unwrap_or_else(|e| halt("Commit", e))
    }

    fn prepare_proposal(&self, request: pb::RequestPrepareProposal) -> pb::ResponsePrepareProposal {
        self.0.prepare_proposal(request)
    }

    fn process_proposal(&self, request: pb::RequestProcessProposal) -> pb::ResponseProcessProposal {
        self.0.process_proposal(&request)
    }

    fn extend_vote(&self, request: pb::RequestExtendVote) -> pb::ResponseExtendVote {
        self.0.extend_vote(&request)
    }

    fn verify_vote_extension(&self, request: pb::RequestVerifyVoteExtension) -> pb::ResponseVerifyVoteExtension {
        self.0.verify_vote_extension(&request)
    }

    fn list_snapshots(&self) -> pb::ResponseListSnapshots {
        self.0.snapshots().list()
    }

    fn offer_snapshot(&self, request: pb::RequestOfferSnapshot) -> pb::ResponseOfferSnapshot {
        self.0.offer_snapshot(&request)
    }

    fn load_snapshot_chunk(&self, request: pb::RequestLoadSnapshotChunk) -> pb::ResponseLoadSnapshotChunk {
        self.0.snapshots().load_chunk(&request)
    }

    fn apply_snapshot_chunk(&self, request: pb::RequestApplySnapshotChunk) -> pb::ResponseApplySnapshotChunk {
        self.0.apply_snapshot_chunk(&request)
    }

    fn finalize_block(&self, request: pb::RequestFinalizeBlock) -> pb::ResponseFinalizeBlock {
        self.0.finalize_block(&request).unwrap_or_else(|e| {
            if e.codespace == openledger_upgrade::UPGRADE_CODESPACE && e.code == openledger_upgrade::UPGRADE_NEEDED_CODE {
                // A scheduled upgrade this binary does not know: write upgrade-info.json for
                // cosmovisor, then stop cleanly, state untouched.
                match self.0.write_upgrade_info() {
                    Ok(Some(path)) => tracing::info!("wrote {}", path.display()),
                    Ok(None) => {}
                    Err(err) => tracing::error!("cannot write upgrade-info.json: {err}"),
                }
                tracing::error!("{}", e.log);
                eprintln!("openledgerd: {}; restart with the upgraded binary (or --apply-upgrade NAME)", e.log);
                std::process::exit(0)
            }
            halt("FinalizeBlock", e)
        })
    }
}

/// Serves ABCI on `addr` (blocking; one thread per CometBFT connection).
pub fn serve(app: Arc<App>, addr: &str) -> anyhow::Result<()> {
    let server = tendermint_abci::ServerBuilder::new(4 * 1024 * 1024)
        .bind(addr, AbciApp(app))
        .map_err(|e| anyhow::anyhow!("cannot bind ABCI server on {addr}: {e}"))?;
    tracing::info!("ABCI server listening on {}", server.local_addr());
    server.listen().map_err(|e| anyhow::anyhow!("ABCI server stopped: {e}"))
}
