//! The IBC query services, answered from any state view: `ibc.core.client.v1.Query`,
//! `ibc.core.connection.v1.Query`, `ibc.core.channel.v1.Query` and
//! `ibc.applications.transfer.v1.Query`. Answers carry no proofs (relayers prove through ABCI
//! `store/ibc/key`, as with ibc-go); `proof_height` and list heights are the height read.

use ibc::core::host::types::path::Path;
use ibc_proto::cosmos::base::query::v1beta1::{PageRequest as IbcPageRequest, PageResponse as IbcPageResponse};
use ibc_proto::google::protobuf::Any;
use ibc_proto::ibc::applications::transfer::v1 as tpb;
use ibc_proto::ibc::core::channel::v1 as chpb;
use ibc_proto::ibc::core::client::v1 as clpb;
use ibc_proto::ibc::core::connection::v1 as cnpb;
use openledger_core::block::{block_info, chain_id};
use openledger_core::pagination::{paginate_filtered, MAX_LIMIT};
use openledger_core::query::{unary, QueryService};
use openledger_core::{QueryError, StateRead};
use prost::Message;

use crate::state_key;
use crate::transfer::{escrow_address, ibc_denom_hash};

/// Most entries a list query reads when it must filter keys.
const MAX_SCAN: usize = 100_000;

/// `ibc.core.client.v1.Query`.
pub const CLIENT_SERVICE: &str = "ibc.core.client.v1.Query";
/// `ibc.core.connection.v1.Query`.
pub const CONNECTION_SERVICE: &str = "ibc.core.connection.v1.Query";
/// `ibc.core.channel.v1.Query`.
pub const CHANNEL_SERVICE: &str = "ibc.core.channel.v1.Query";
/// `ibc.applications.transfer.v1.Query`.
pub const TRANSFER_SERVICE: &str = "ibc.applications.transfer.v1.Query";

fn internal(e: impl std::fmt::Display) -> QueryError {
    QueryError::Internal(e.to_string())
}

/// The same message under another crate's generated type (same wire format).
fn convert<A: Message, B: Message + Default>(a: &A) -> Result<B, QueryError> {
    B::decode(a.encode_to_vec().as_slice()).map_err(internal)
}

/// The request's page in the chain's pagination type. Relayers ask for "everything" (Hermes:
/// limit u32::MAX); that becomes one page of [`MAX_LIMIT`] entries with a `next_key`.
fn page(p: Option<&IbcPageRequest>) -> Result<Option<cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest>, QueryError> {
    let mut page: Option<cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest> = p.map(convert).transpose()?;
    if let Some(p) = page.as_mut() {
        p.limit = p.limit.min(MAX_LIMIT);
    }
    Ok(page)
}

fn page_response(p: Option<cosmos_sdk_proto::cosmos::base::query::v1beta1::PageResponse>) -> Result<Option<IbcPageResponse>, QueryError> {
    p.as_ref().map(convert).transpose()
}

/// The height a state view was read at, as an IBC height of this chain.
fn read_height(state: &dyn StateRead) -> Result<clpb::Height, QueryError> {
    let revision_number = ibc::core::host::types::identifiers::ChainId::new(&chain_id(state)?).map(|c| c.revision_number()).unwrap_or(0);
    Ok(clpb::Height { revision_number, revision_height: block_info(state)?.height })
}

fn required(field: &str, value: &str) -> Result<(), QueryError> {
    if value.is_empty() {
        return Err(QueryError::InvalidArgument(format!("{field} cannot be empty")));
    }
    Ok(())
}

fn get(state: &dyn StateRead, path: &str) -> Result<Option<Vec<u8>>, QueryError> {
    Ok(state.get_raw(&state_key::ics24_prefix(path))?)
}

fn get_required(state: &dyn StateRead, path: &str, what: &str) -> Result<Vec<u8>, QueryError> {
    get(state, path)?.ok_or_else(|| QueryError::NotFound(format!("{what} not found")))
}

fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, QueryError> {
    M::decode(bytes).map_err(internal)
}

/// Parses a store key `ibc/<path>` back into its ICS-24 path.
fn parse_key(key: &[u8]) -> Option<Path> {
    std::str::from_utf8(key.strip_prefix(b"ibc/".as_slice())?).ok()?.parse().ok()
}

/// Every `(path, value)` under an ICS-24 path prefix (bounded).
fn scan_paths(state: &dyn StateRead, prefix: &str) -> Result<Vec<(Path, Vec<u8>)>, QueryError> {
    let entries = state.scan_raw(&state_key::ics24_prefix(prefix), None, MAX_SCAN)?;
    Ok(entries.into_iter().filter_map(|(k, v)| parse_key(&k).map(|p| (p, v))).collect())
}

fn u64_value(bytes: &[u8]) -> Result<u64, QueryError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| internal("sequence is not 8 bytes"))?;
    Ok(u64::from_be_bytes(arr))
}

/// The client state of a connection's client, for the `*ClientState` queries.
fn connection_client_state(state: &dyn StateRead, connection_id: &str) -> Result<clpb::IdentifiedClientState, QueryError> {
    let connection: cnpb::ConnectionEnd = decode(&get_required(state, &format!("connections/{connection_id}"), "connection")?)?;
    let client_state: Any = decode(&get_required(state, &format!("clients/{}/clientState", connection.client_id), "client state")?)?;
    Ok(clpb::IdentifiedClientState { client_id: connection.client_id, client_state: Some(client_state) })
}

fn channel_connection(state: &dyn StateRead, port: &str, channel: &str) -> Result<String, QueryError> {
    let end: chpb::Channel = decode(&get_required(state, &state_key::channel_path("channelEnds", port, channel), "channel")?)?;
    end.connection_hops.first().cloned().ok_or_else(|| internal("channel without connection hops"))
}

/// Packet states (commitments or acks) of one channel, paginated.
fn packet_states(
    state: &dyn StateRead,
    kind: &str,
    port: &str,
    channel: &str,
    pagination: Option<&IbcPageRequest>,
    only: &[u64],
) -> Result<(Vec<chpb::PacketState>, Option<IbcPageResponse>), QueryError> {
    let prefix = state_key::ics24_prefix(&state_key::packet_path(kind, port, channel, ""));
    let keep = |key: &[u8], _: &[u8]| -> bool {
        let sequence = key.strip_prefix(prefix.as_slice()).and_then(|k| std::str::from_utf8(k).ok()).and_then(|s| s.parse::<u64>().ok());
        only.is_empty() || sequence.is_some_and(|s| only.contains(&s))
    };
    let (entries, page_out) = paginate_filtered(state, &prefix, page(pagination)?.as_ref(), &keep)?;
    let states = entries
        .into_iter()
        .filter_map(|(key, data)| {
            let sequence = std::str::from_utf8(key.strip_prefix(prefix.as_slice())?).ok()?.parse().ok()?;
            Some(chpb::PacketState { port_id: port.into(), channel_id: channel.into(), sequence, data })
        })
        .collect();
    Ok((states, page_response(page_out)?))
}

/// `ibc.core.client.v1.Query`, `ibc.core.connection.v1.Query` and `ibc.core.channel.v1.Query`.
#[derive(Debug, Clone, Copy)]
pub struct IbcQuery;

impl QueryService for IbcQuery {
    fn services(&self) -> &'static [&'static str] {
        &[CLIENT_SERVICE, CONNECTION_SERVICE, CHANNEL_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        match service {
            CLIENT_SERVICE => client_query(state, method, data),
            CONNECTION_SERVICE => connection_query(state, method, data),
            _ => channel_query(state, method, data),
        }
    }
}

fn client_query(state: &dyn StateRead, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
    match method {
        "ClientState" => unary(data, |r: clpb::QueryClientStateRequest| {
            required("client_id", &r.client_id)?;
            let client_state: Any = decode(&get_required(state, &format!("clients/{}/clientState", r.client_id), "client state")?)?;
            Ok(clpb::QueryClientStateResponse {
                client_state: Some(client_state),
                proof: Vec::new(),
                proof_height: Some(read_height(state)?),
            })
        }),
        "ClientStates" => unary(data, |r: clpb::QueryClientStatesRequest| {
            let keep = |key: &[u8], _: &[u8]| key.ends_with(b"/clientState");
            let (entries, page_out) =
                paginate_filtered(state, &state_key::ics24_prefix("clients/"), page(r.pagination.as_ref())?.as_ref(), &keep)?;
            let client_states = entries
                .into_iter()
                .map(|(key, value)| {
                    let id = key.strip_prefix(b"ibc/clients/".as_slice()).and_then(|k| k.strip_suffix(b"/clientState")).unwrap_or(&key);
                    let client_id = String::from_utf8_lossy(id).into_owned();
                    Ok(clpb::IdentifiedClientState { client_id, client_state: Some(decode(&value)?) })
                })
                .collect::<Result<_, QueryError>>()?;
            Ok(clpb::QueryClientStatesResponse { client_states, pagination: page_response(page_out)? })
        }),
        "ConsensusState" => unary(data, |r: clpb::QueryConsensusStateRequest| {
            required("client_id", &r.client_id)?;
            let height = if r.latest_height {
                let heights = consensus_heights(state, &r.client_id)?;
                heights.last().cloned().ok_or_else(|| QueryError::NotFound("consensus state not found".into()))?
            } else {
                clpb::Height { revision_number: r.revision_number, revision_height: r.revision_height }
            };
            let path = format!("clients/{}/consensusStates/{}-{}", r.client_id, height.revision_number, height.revision_height);
            let consensus_state: Any = decode(&get_required(state, &path, "consensus state")?)?;
            Ok(clpb::QueryConsensusStateResponse {
                consensus_state: Some(consensus_state),
                proof: Vec::new(),
                proof_height: Some(read_height(state)?),
            })
        }),
        "ConsensusStates" => unary(data, |r: clpb::QueryConsensusStatesRequest| {
            required("client_id", &r.client_id)?;
            let consensus_states = consensus_entries(state, &r.client_id)?
                .into_iter()
                .map(|(height, value)| Ok(clpb::ConsensusStateWithHeight { height: Some(height), consensus_state: Some(decode(&value)?) }))
                .collect::<Result<Vec<_>, QueryError>>()?;
            let total = u64::try_from(consensus_states.len()).unwrap_or(u64::MAX);
            Ok(clpb::QueryConsensusStatesResponse { consensus_states, pagination: Some(IbcPageResponse { next_key: Vec::new(), total }) })
        }),
        "ConsensusStateHeights" => unary(data, |r: clpb::QueryConsensusStateHeightsRequest| {
            required("client_id", &r.client_id)?;
            let consensus_state_heights = consensus_heights(state, &r.client_id)?;
            let total = u64::try_from(consensus_state_heights.len()).unwrap_or(u64::MAX);
            Ok(clpb::QueryConsensusStateHeightsResponse {
                consensus_state_heights,
                pagination: Some(IbcPageResponse { next_key: Vec::new(), total }),
            })
        }),
        "ClientStatus" => unary(data, |r: clpb::QueryClientStatusRequest| {
            required("client_id", &r.client_id)?;
            Ok(clpb::QueryClientStatusResponse { status: client_status(state, &r.client_id)? })
        }),
        "ClientParams" => unary(data, |_: clpb::QueryClientParamsRequest| {
            Ok(clpb::QueryClientParamsResponse { params: Some(clpb::Params { allowed_clients: vec!["07-tendermint".into()] }) })
        }),
        "UpgradedClientState" | "UpgradedConsensusState" => Err(QueryError::NotFound("no upgrade is scheduled for IBC clients".into())),
        other => Err(QueryError::UnknownPath(format!("unknown method {other} for service {CLIENT_SERVICE}"))),
    }
}

/// The consensus states of a client with their heights, ascending by height.
fn consensus_entries(state: &dyn StateRead, client_id: &str) -> Result<Vec<(clpb::Height, Vec<u8>)>, QueryError> {
    let mut out: Vec<(clpb::Height, Vec<u8>)> = scan_paths(state, &format!("clients/{client_id}/consensusStates/"))?
        .into_iter()
        .filter_map(|(path, value)| match path {
            Path::ClientConsensusState(p) => {
                Some((clpb::Height { revision_number: p.revision_number, revision_height: p.revision_height }, value))
            }
            _ => None,
        })
        .collect();
    out.sort_by_key(|(h, _)| (h.revision_number, h.revision_height));
    Ok(out)
}

fn consensus_heights(state: &dyn StateRead, client_id: &str) -> Result<Vec<clpb::Height>, QueryError> {
    Ok(consensus_entries(state, client_id)?.into_iter().map(|(h, _)| h).collect())
}

/// `Active`, `Frozen` or `Expired` (the latest consensus state is older than the trusting period
/// at the block read), as ibc-go's Tendermint client reports it.
fn client_status(state: &dyn StateRead, client_id: &str) -> Result<String, QueryError> {
    use ibc::clients::tendermint::client_state::ClientState as TmClientState;
    use ibc::clients::tendermint::consensus_state::ConsensusState as TmConsensusState;
    let any: Any = decode(&get_required(state, &format!("clients/{client_id}/clientState"), "client state")?)?;
    let client = TmClientState::try_from(any).map_err(internal)?;
    let inner = client.inner();
    if inner.is_frozen() {
        return Ok("Frozen".into());
    }
    let latest = inner.latest_height;
    let path = format!("clients/{client_id}/consensusStates/{}-{}", latest.revision_number(), latest.revision_height());
    let Some(bytes) = get(state, &path)? else { return Ok("Expired".into()) };
    let consensus = TmConsensusState::try_from(decode::<Any>(&bytes)?).map_err(internal)?;
    let last_ns = u64::try_from(consensus.inner().timestamp.unix_timestamp_nanos()).unwrap_or(0);
    let trusting_ns = u64::try_from(inner.trusting_period.as_nanos()).unwrap_or(u64::MAX);
    let now = block_info(state)?.time_ns;
    Ok(if last_ns.saturating_add(trusting_ns) <= now { "Expired" } else { "Active" }.into())
}

fn connection_query(state: &dyn StateRead, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
    match method {
        "Connection" => unary(data, |r: cnpb::QueryConnectionRequest| {
            required("connection_id", &r.connection_id)?;
            let connection = decode(&get_required(state, &format!("connections/{}", r.connection_id), "connection")?)?;
            Ok(cnpb::QueryConnectionResponse { connection: Some(connection), proof: Vec::new(), proof_height: Some(read_height(state)?) })
        }),
        "Connections" => unary(data, |r: cnpb::QueryConnectionsRequest| {
            let keep = |_: &[u8], _: &[u8]| true;
            let (entries, page_out) =
                paginate_filtered(state, &state_key::ics24_prefix("connections/"), page(r.pagination.as_ref())?.as_ref(), &keep)?;
            let connections = entries
                .into_iter()
                .map(|(key, value)| {
                    let end: cnpb::ConnectionEnd = decode(&value)?;
                    Ok(cnpb::IdentifiedConnection {
                        id: String::from_utf8_lossy(key.strip_prefix(b"ibc/connections/".as_slice()).unwrap_or(&key)).into_owned(),
                        client_id: end.client_id,
                        versions: end.versions,
                        state: end.state,
                        counterparty: end.counterparty,
                        delay_period: end.delay_period,
                    })
                })
                .collect::<Result<_, QueryError>>()?;
            Ok(cnpb::QueryConnectionsResponse { connections, pagination: page_response(page_out)?, height: Some(read_height(state)?) })
        }),
        "ClientConnections" => unary(data, |r: cnpb::QueryClientConnectionsRequest| {
            required("client_id", &r.client_id)?;
            let paths: cnpb::ClientPaths =
                decode(&get_required(state, &format!("clients/{}/connections", r.client_id), "client connections")?)?;
            Ok(cnpb::QueryClientConnectionsResponse {
                connection_paths: paths.paths,
                proof: Vec::new(),
                proof_height: Some(read_height(state)?),
            })
        }),
        "ConnectionClientState" => unary(data, |r: cnpb::QueryConnectionClientStateRequest| {
            required("connection_id", &r.connection_id)?;
            Ok(cnpb::QueryConnectionClientStateResponse {
                identified_client_state: Some(connection_client_state(state, &r.connection_id)?),
                proof: Vec::new(),
                proof_height: Some(read_height(state)?),
            })
        }),
        "ConnectionParams" => unary(data, |_: cnpb::QueryConnectionParamsRequest| {
            let max = u64::try_from(crate::host::MAX_EXPECTED_TIME_PER_BLOCK.as_nanos()).unwrap_or(u64::MAX);
            Ok(cnpb::QueryConnectionParamsResponse { params: Some(cnpb::Params { max_expected_time_per_block: max }) })
        }),
        other => Err(QueryError::UnknownPath(format!("unknown method {other} for service {CONNECTION_SERVICE}"))),
    }
}

fn identified_channel(path: &Path, value: &[u8]) -> Result<Option<chpb::IdentifiedChannel>, QueryError> {
    let Path::ChannelEnd(p) = path else { return Ok(None) };
    let end: chpb::Channel = decode(value)?;
    Ok(Some(chpb::IdentifiedChannel {
        state: end.state,
        ordering: end.ordering,
        counterparty: end.counterparty,
        connection_hops: end.connection_hops,
        version: end.version,
        port_id: p.0.to_string(),
        channel_id: p.1.to_string(),
        upgrade_sequence: end.upgrade_sequence,
    }))
}

fn all_channels(state: &dyn StateRead) -> Result<Vec<chpb::IdentifiedChannel>, QueryError> {
    let mut out = Vec::new();
    for (path, value) in scan_paths(state, "channelEnds/ports/")? {
        if let Some(channel) = identified_channel(&path, &value)? {
            out.push(channel);
        }
    }
    Ok(out)
}

fn channel_query(state: &dyn StateRead, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
    match method {
        "Channel" => unary(data, |r: chpb::QueryChannelRequest| {
            required("port_id", &r.port_id)?;
            required("channel_id", &r.channel_id)?;
            let channel = decode(&get_required(state, &state_key::channel_path("channelEnds", &r.port_id, &r.channel_id), "channel")?)?;
            Ok(chpb::QueryChannelResponse { channel: Some(channel), proof: Vec::new(), proof_height: Some(read_height(state)?) })
        }),
        "Channels" => unary(data, |_: chpb::QueryChannelsRequest| {
            let channels = all_channels(state)?;
            let total = u64::try_from(channels.len()).unwrap_or(u64::MAX);
            Ok(chpb::QueryChannelsResponse {
                channels,
                pagination: Some(IbcPageResponse { next_key: Vec::new(), total }),
                height: Some(read_height(state)?),
            })
        }),
        "ConnectionChannels" => unary(data, |r: chpb::QueryConnectionChannelsRequest| {
            required("connection", &r.connection)?;
            let channels: Vec<_> = all_channels(state)?.into_iter().filter(|c| c.connection_hops.first() == Some(&r.connection)).collect();
            let total = u64::try_from(channels.len()).unwrap_or(u64::MAX);
            Ok(chpb::QueryConnectionChannelsResponse {
                channels,
                pagination: Some(IbcPageResponse { next_key: Vec::new(), total }),
                height: Some(read_height(state)?),
            })
        }),
        "ChannelClientState" => unary(data, |r: chpb::QueryChannelClientStateRequest| {
            let connection = channel_connection(state, &r.port_id, &r.channel_id)?;
            Ok(chpb::QueryChannelClientStateResponse {
                identified_client_state: Some(connection_client_state(state, &connection)?),
                proof: Vec::new(),
                proof_height: Some(read_height(state)?),
            })
        }),
        "PacketCommitment" => unary(data, |r: chpb::QueryPacketCommitmentRequest| {
            let path = state_key::packet_path("commitments", &r.port_id, &r.channel_id, r.sequence);
            let commitment = get_required(state, &path, "packet commitment")?;
            Ok(chpb::QueryPacketCommitmentResponse { commitment, proof: Vec::new(), proof_height: Some(read_height(state)?) })
        }),
        "PacketCommitments" => unary(data, |r: chpb::QueryPacketCommitmentsRequest| {
            let (commitments, pagination) = packet_states(state, "commitments", &r.port_id, &r.channel_id, r.pagination.as_ref(), &[])?;
            Ok(chpb::QueryPacketCommitmentsResponse { commitments, pagination, height: Some(read_height(state)?) })
        }),
        "PacketReceipt" => unary(data, |r: chpb::QueryPacketReceiptRequest| {
            let path = state_key::packet_path("receipts", &r.port_id, &r.channel_id, r.sequence);
            Ok(chpb::QueryPacketReceiptResponse {
                received: get(state, &path)?.is_some(),
                proof: Vec::new(),
                proof_height: Some(read_height(state)?),
            })
        }),
        "PacketAcknowledgement" => unary(data, |r: chpb::QueryPacketAcknowledgementRequest| {
            let path = state_key::packet_path("acks", &r.port_id, &r.channel_id, r.sequence);
            let acknowledgement = get_required(state, &path, "packet acknowledgement")?;
            Ok(chpb::QueryPacketAcknowledgementResponse { acknowledgement, proof: Vec::new(), proof_height: Some(read_height(state)?) })
        }),
        "PacketAcknowledgements" => unary(data, |r: chpb::QueryPacketAcknowledgementsRequest| {
            let (acknowledgements, pagination) =
                packet_states(state, "acks", &r.port_id, &r.channel_id, r.pagination.as_ref(), &r.packet_commitment_sequences)?;
            Ok(chpb::QueryPacketAcknowledgementsResponse { acknowledgements, pagination, height: Some(read_height(state)?) })
        }),
        "UnreceivedPackets" => unary(data, |r: chpb::QueryUnreceivedPacketsRequest| {
            let mut sequences = Vec::new();
            for s in r.packet_commitment_sequences.iter().take(MAX_SCAN) {
                if get(state, &state_key::packet_path("receipts", &r.port_id, &r.channel_id, s))?.is_none() {
                    sequences.push(*s);
                }
            }
            Ok(chpb::QueryUnreceivedPacketsResponse { sequences, height: Some(read_height(state)?) })
        }),
        "UnreceivedAcks" => unary(data, |r: chpb::QueryUnreceivedAcksRequest| {
            let mut sequences = Vec::new();
            for s in r.packet_ack_sequences.iter().take(MAX_SCAN) {
                if get(state, &state_key::packet_path("commitments", &r.port_id, &r.channel_id, s))?.is_some() {
                    sequences.push(*s);
                }
            }
            Ok(chpb::QueryUnreceivedAcksResponse { sequences, height: Some(read_height(state)?) })
        }),
        "NextSequenceReceive" => unary(data, |r: chpb::QueryNextSequenceReceiveRequest| {
            let bytes =
                get_required(state, &state_key::channel_path("nextSequenceRecv", &r.port_id, &r.channel_id), "next sequence receive")?;
            Ok(chpb::QueryNextSequenceReceiveResponse {
                next_sequence_receive: u64_value(&bytes)?,
                proof: Vec::new(),
                proof_height: Some(read_height(state)?),
            })
        }),
        "NextSequenceSend" => unary(data, |r: chpb::QueryNextSequenceSendRequest| {
            let bytes = get_required(state, &state_key::channel_path("nextSequenceSend", &r.port_id, &r.channel_id), "next sequence send")?;
            Ok(chpb::QueryNextSequenceSendResponse {
                next_sequence_send: u64_value(&bytes)?,
                proof: Vec::new(),
                proof_height: Some(read_height(state)?),
            })
        }),
        other => Err(QueryError::UnknownPath(format!("unknown method {other} for service {CHANNEL_SERVICE}"))),
    }
}

/// `ibc.applications.transfer.v1.Query`.
#[derive(Debug, Clone, Copy)]
pub struct TransferQuery;

fn trace_by_hash(state: &dyn StateRead, hash: &str) -> Result<tpb::DenomTrace, QueryError> {
    let hash = hash.strip_prefix("ibc/").unwrap_or(hash).to_ascii_uppercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(QueryError::InvalidArgument(format!("invalid denom trace hash {hash:?}")));
    }
    let bytes = state
        .get_raw(&state_key::denom_trace(&hash))?
        .ok_or_else(|| QueryError::NotFound(format!("denomination trace not found for {hash}")))?;
    decode(&bytes)
}

impl QueryService for TransferQuery {
    fn services(&self) -> &'static [&'static str] {
        &[TRANSFER_SERVICE]
    }

    fn query(&self, state: &dyn StateRead, _service: &str, method: &str, data: &[u8]) -> Result<Vec<u8>, QueryError> {
        match method {
            "DenomTrace" => unary(data, |r: tpb::QueryDenomTraceRequest| {
                Ok(tpb::QueryDenomTraceResponse { denom_trace: Some(trace_by_hash(state, &r.hash)?) })
            }),
            "DenomTraces" => unary(data, |r: tpb::QueryDenomTracesRequest| {
                let keep = |_: &[u8], _: &[u8]| true;
                let (entries, page_out) =
                    paginate_filtered(state, state_key::DENOM_TRACE_PREFIX, page(r.pagination.as_ref())?.as_ref(), &keep)?;
                let denom_traces = entries.iter().map(|(_, v)| decode(v)).collect::<Result<_, _>>()?;
                Ok(tpb::QueryDenomTracesResponse { denom_traces, pagination: page_response(page_out)? })
            }),
            "Params" => unary(data, |_: tpb::QueryParamsRequest| {
                let p = crate::transfer::params(state)?;
                Ok(tpb::QueryParamsResponse {
                    params: Some(tpb::Params { send_enabled: p.send_enabled, receive_enabled: p.receive_enabled }),
                })
            }),
            "DenomHash" => unary(data, |r: tpb::QueryDenomHashRequest| {
                required("trace", &r.trace)?;
                let hash = ibc_denom_hash(&r.trace);
                trace_by_hash(state, &hash)?;
                Ok(tpb::QueryDenomHashResponse { hash })
            }),
            "EscrowAddress" => unary(data, |r: tpb::QueryEscrowAddressRequest| {
                let port = r.port_id.parse().map_err(|e| QueryError::InvalidArgument(format!("port_id: {e}")))?;
                let channel = r.channel_id.parse().map_err(|e| QueryError::InvalidArgument(format!("channel_id: {e}")))?;
                Ok(tpb::QueryEscrowAddressResponse { escrow_address: escrow_address(&port, &channel).to_bech32() })
            }),
            "TotalEscrowForDenom" => unary(data, |r: tpb::QueryTotalEscrowForDenomRequest| {
                let amount = state
                    .get_raw(&state_key::total_escrow(&r.denom))?
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|| "0".into());
                Ok(tpb::QueryTotalEscrowForDenomResponse {
                    amount: Some(ibc_proto::cosmos::base::v1beta1::Coin { denom: r.denom, amount }),
                })
            }),
            other => Err(QueryError::UnknownPath(format!("unknown method {other} for service {TRANSFER_SERVICE}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use openledger_core::delta::{EmptyState, StateDelta};
    use openledger_core::StateWrite;

    use super::*;

    fn ask<Req: Message, Resp: Message + Default>(state: &dyn StateRead, service: &str, method: &str, req: Req) -> Resp {
        let bytes = IbcQuery.query(state, service, method, &req.encode_to_vec()).expect(method);
        Resp::decode(bytes.as_slice()).expect("response")
    }

    #[test]
    fn list_queries_name_their_entries_by_id_and_sequence() {
        let mut state = StateDelta::new(EmptyState);
        let any = Any { type_url: "/ibc.lightclients.tendermint.v1.ClientState".into(), value: vec![] };
        state.put_raw(b"ibc/clients/07-tendermint-0/clientState".to_vec(), any.encode_to_vec()).unwrap();
        state.put_raw(b"ibc/clients/07-tendermint-0/consensusStates/1-5".to_vec(), any.encode_to_vec()).unwrap();
        state.put_raw(b"ibc/connections/connection-0".to_vec(), cnpb::ConnectionEnd::default().encode_to_vec()).unwrap();
        for seq in [1u64, 2, 10] {
            let key = format!("ibc/commitments/ports/transfer/channels/channel-0/sequences/{seq}");
            state.put_raw(key.into_bytes(), vec![u8::try_from(seq).unwrap(); 32]).unwrap();
        }
        state.put_raw(b"ibc/receipts/ports/transfer/channels/channel-0/sequences/2".to_vec(), vec![1]).unwrap();
        // What Hermes sends: "all", limit u32::MAX.
        let all = Some(IbcPageRequest { limit: u64::from(u32::MAX), count_total: true, ..Default::default() });

        let clients: clpb::QueryClientStatesResponse =
            ask(&state, CLIENT_SERVICE, "ClientStates", clpb::QueryClientStatesRequest { pagination: all.clone() });
        assert_eq!(clients.client_states.iter().map(|c| c.client_id.as_str()).collect::<Vec<_>>(), ["07-tendermint-0"]);
        let connections: cnpb::QueryConnectionsResponse =
            ask(&state, CONNECTION_SERVICE, "Connections", cnpb::QueryConnectionsRequest { pagination: all.clone() });
        assert_eq!(connections.connections.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["connection-0"]);
        let commitments: chpb::QueryPacketCommitmentsResponse = ask(
            &state,
            CHANNEL_SERVICE,
            "PacketCommitments",
            chpb::QueryPacketCommitmentsRequest { port_id: "transfer".into(), channel_id: "channel-0".into(), pagination: all },
        );
        let mut sequences: Vec<u64> = commitments.commitments.iter().map(|c| c.sequence).collect();
        sequences.sort_unstable();
        assert_eq!(sequences, [1, 2, 10]);
        assert_eq!(commitments.commitments.iter().find(|c| c.sequence == 10).map(|c| c.data[0]), Some(10));
        let unreceived: chpb::QueryUnreceivedPacketsResponse = ask(
            &state,
            CHANNEL_SERVICE,
            "UnreceivedPackets",
            chpb::QueryUnreceivedPacketsRequest {
                port_id: "transfer".into(),
                channel_id: "channel-0".into(),
                packet_commitment_sequences: vec![1, 2, 10],
            },
        );
        assert_eq!(unreceived.sequences, [1, 10]);
        let heights: clpb::QueryConsensusStateHeightsResponse = ask(
            &state,
            CLIENT_SERVICE,
            "ConsensusStateHeights",
            clpb::QueryConsensusStateHeightsRequest { client_id: "07-tendermint-0".into(), pagination: None },
        );
        assert_eq!(heights.consensus_state_heights, [clpb::Height { revision_number: 1, revision_height: 5 }]);
    }
}
