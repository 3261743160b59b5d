//! The ABCI 2.0 socket server (CometBFT v0.38) in front of [`App`]: [`AbciApp`] implements
//! tendermint-abci's `Application`, and [`serve`] accepts CometBFT's connections (consensus,
//! mempool, query, snapshot), one thread each, all sharing one `App`.
//!
//! [`serve`] replaces tendermint-abci's own server loop, which (a) leaves Nagle's algorithm on,
//! so the small Flush response that follows every response waited for the peer's delayed ACK
//! (about 40 ms per FinalizeBlock and per Commit on Linux), and (b) copies its whole read
//! buffer to decode each request, quadratic in the requests CometBFT pipelines (the mempool
//! sends every recheck at once). Here the socket has `TCP_NODELAY`, each request is decoded in
//! place, and the responses to the requests already received are written together, before the
//! loop waits for more.
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
    let listener = std::net::TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("cannot bind ABCI server on {addr}: {e}"))?;
    tracing::info!("ABCI server listening on {}", listener.local_addr()?);
    serve_on(listener, AbciApp(app))
}

/// Accepts connections on `listener` forever, each served by [`serve_connection`] on its own
/// thread.
pub fn serve_on<A: Application>(listener: std::net::TcpListener, app: A) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = listener.accept().map_err(|e| anyhow::anyhow!("ABCI server stopped: {e}"))?;
        let app = app.clone();
        std::thread::Builder::new().name("abci-conn".into()).spawn(move || {
            tracing::info!("ABCI connection from {peer}");
            match serve_connection(stream, &app) {
                Ok(()) => tracing::info!("ABCI connection from {peer} closed"),
                Err(e) => tracing::error!("ABCI connection from {peer}: {e}"),
            }
        })?;
    }
}

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 256 * 1024;

/// Largest ABCI message accepted: above CometBFT's largest possible request (a FinalizeBlock or
/// PrepareProposal of a block at CometBFT's hard 100 MiB block limit, plus its commit info), far
/// below what would exhaust memory. A peer declaring more is cut off before anything is buffered.
pub const MAX_MESSAGE_BYTES: u64 = 256 * 1024 * 1024;

/// Serves one connection until the peer closes it: requests are varint-length-delimited
/// protobuf `Request`s, answered in order.
pub fn serve_connection<A: Application>(mut stream: std::net::TcpStream, app: &A) -> std::io::Result<()> {
    use std::io::{Read, Write};
    stream.set_nodelay(true)?;
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut start = 0usize;
    let mut output: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        // Answer every complete request already received.
        while let Some((request, used)) = decode_request(&input[start..])? {
            start = start.saturating_add(used);
            let response = dispatch(app, request)?;
            prost::Message::encode_length_delimited(&response, &mut output).map_err(std::io::Error::other)?;
        }
        // Then send the answers, and only then wait for more.
        if !output.is_empty() {
            stream.write_all(&output)?;
            output.clear();
        }
        input.drain(..start);
        start = 0;
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        input.extend_from_slice(chunk.get(..read).unwrap_or_default());
    }
}

/// The first complete request in `buf` and the bytes it took, or `None` if more bytes are
/// needed.
fn decode_request(buf: &[u8]) -> std::io::Result<Option<(pb::Request, usize)>> {
    let mut cursor = buf;
    let len = match prost::encoding::decode_varint(&mut cursor) {
        Ok(len) => len,
        // An incomplete varint (at most 10 bytes): wait for the rest.
        Err(_) if buf.len() < 10 => return Ok(None),
        Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
    };
    if len > MAX_MESSAGE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("ABCI message of {len} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit"),
        ));
    }
    let header = buf.len() - cursor.len();
    let Some(end) = usize::try_from(len).ok().and_then(|len| header.checked_add(len)) else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "ABCI message length overflows"));
    };
    let Some(body) = buf.get(header..end) else { return Ok(None) };
    let request = <pb::Request as prost::Message>::decode(body).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(Some((request, end)))
}

/// Runs one request on the app.
fn dispatch<A: Application>(app: &A, request: pb::Request) -> std::io::Result<pb::Response> {
    use pb::request::Value as Req;
    use pb::response::Value as Resp;
    let Some(value) = request.value else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "empty ABCI request"));
    };
    let value = match value {
        Req::Echo(r) => Resp::Echo(app.echo(r)),
        Req::Flush(_) => Resp::Flush(app.flush()),
        Req::Info(r) => Resp::Info(app.info(r)),
        Req::InitChain(r) => Resp::InitChain(app.init_chain(r)),
        Req::Query(r) => Resp::Query(app.query(r)),
        Req::CheckTx(r) => Resp::CheckTx(app.check_tx(r)),
        Req::Commit(_) => Resp::Commit(app.commit()),
        Req::ListSnapshots(_) => Resp::ListSnapshots(app.list_snapshots()),
        Req::OfferSnapshot(r) => Resp::OfferSnapshot(app.offer_snapshot(r)),
        Req::LoadSnapshotChunk(r) => Resp::LoadSnapshotChunk(app.load_snapshot_chunk(r)),
        Req::ApplySnapshotChunk(r) => Resp::ApplySnapshotChunk(app.apply_snapshot_chunk(r)),
        Req::PrepareProposal(r) => Resp::PrepareProposal(app.prepare_proposal(r)),
        Req::ProcessProposal(r) => Resp::ProcessProposal(app.process_proposal(r)),
        Req::ExtendVote(r) => Resp::ExtendVote(app.extend_vote(r)),
        Req::VerifyVoteExtension(r) => Resp::VerifyVoteExtension(app.verify_vote_extension(r)),
        Req::FinalizeBlock(r) => Resp::FinalizeBlock(app.finalize_block(r)),
    };
    Ok(pb::Response { value: Some(value) })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use prost::Message;

    use super::*;

    fn request(value: pb::request::Value) -> Vec<u8> {
        pb::Request { value: Some(value) }.encode_length_delimited_to_vec()
    }

    fn echo(text: &str) -> Vec<u8> {
        request(pb::request::Value::Echo(pb::RequestEcho { message: text.into() }))
    }

    /// Reads responses until `count` have arrived.
    fn responses(stream: &mut std::net::TcpStream, count: usize) -> Vec<pb::response::Value> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        while out.len() < count {
            let n = stream.read(&mut chunk).expect("read");
            assert!(n > 0, "the server closed the connection after {} responses", out.len());
            buf.extend_from_slice(&chunk[..n]);
            while let Ok(resp) = pb::Response::decode_length_delimited(buf.as_slice()) {
                let used = resp.encoded_len();
                let used = used + prost::length_delimiter_len(used);
                buf.drain(..used);
                out.push(resp.value.expect("a response value"));
            }
        }
        out
    }

    #[test]
    fn pipelined_and_split_requests_are_answered_in_order() {
        let app = Arc::new(App::with_storage(openledger_core::storage::Storage::temporary().expect("store")));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || serve_on(listener, AbciApp(app)));
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        // Three requests in one write, then one split across two writes (inside its length
        // prefix's payload), as CometBFT's buffered client may send them.
        let info = request(pb::request::Value::Info(pb::RequestInfo::default()));
        let mut batch = [echo("a"), info, request(pb::request::Value::Flush(pb::RequestFlush {}))].concat();
        let split = echo("split across writes");
        batch.extend_from_slice(&split[..5]);
        stream.write_all(&batch).expect("write");
        let got = responses(&mut stream, 3);
        assert!(matches!(&got[0], pb::response::Value::Echo(e) if e.message == "a"), "{got:?}");
        assert!(matches!(&got[1], pb::response::Value::Info(i) if i.data == crate::app::APP_NAME && i.last_block_height == 0), "{got:?}");
        assert!(matches!(&got[2], pb::response::Value::Flush(_)), "{got:?}");
        stream.write_all(&split[5..]).expect("write");
        let got = responses(&mut stream, 1);
        assert!(matches!(&got[0], pb::response::Value::Echo(e) if e.message == "split across writes"), "{got:?}");
        // Many small requests at once (a mempool recheck): all answered, in order.
        let many: Vec<u8> = (0..2_000).flat_map(|i| echo(&i.to_string())).collect();
        stream.write_all(&many).expect("write");
        let got = responses(&mut stream, 2_000);
        for (i, r) in got.iter().enumerate() {
            assert!(matches!(r, pb::response::Value::Echo(e) if e.message == i.to_string()), "response {i}: {r:?}");
        }
        // A request without a value closes the connection rather than panicking the server.
        stream.write_all(&pb::Request { value: None }.encode_length_delimited_to_vec()).expect("write");
        let mut rest = Vec::new();
        assert_eq!(stream.read_to_end(&mut rest).expect("read"), 0);
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_any_body_arrives() {
        let mut header = Vec::new();
        prost::encoding::encode_varint(MAX_MESSAGE_BYTES + 1, &mut header);
        let err = decode_request(&header).expect_err("over the limit");
        assert!(err.to_string().contains("exceeds"), "{err}");
        // At the limit, it waits for the body instead.
        let mut header = Vec::new();
        prost::encoding::encode_varint(MAX_MESSAGE_BYTES, &mut header);
        assert!(decode_request(&header).expect("within the limit").is_none());
    }
}
