//! The host side of ibc-rs: [`Host`] implements ibc-rs's validation and execution contexts (core,
//! and the client contexts the ICS-07 Tendermint light client needs) over the tx's state layer.
//!
//! ibc-rs calls the host and the ICS-20 app alternately within one message, and both write state,
//! so they share the layer through [`Shared`] (a `RefCell`, borrowed for one read or write at a
//! time). A state error (above all: out of gas) cannot travel through ibc-rs's error types, so the
//! first one is kept in [`Shared`] and reported instead of the IBC error it caused.

use std::cell::RefCell;
use std::time::Duration;

use ibc::clients::tendermint::client_state::ClientState as TmClientState;
use ibc::clients::tendermint::consensus_state::ConsensusState as TmConsensusState;
use ibc::core::channel::types::channel::ChannelEnd;
use ibc::core::channel::types::commitment::{AcknowledgementCommitment, PacketCommitment};
use ibc::core::channel::types::packet::Receipt;
use ibc::core::client::context::client_state::ClientStateCommon;
use ibc::core::client::context::{ClientExecutionContext, ClientValidationContext, ExtClientValidationContext};
use ibc::core::client::types::Height;
use ibc::core::commitment_types::commitment::CommitmentPrefix;
use ibc::core::connection::types::ConnectionEnd;
use ibc::core::handler::types::events::IbcEvent;
use ibc::core::host::types::error::HostError;
use ibc::core::host::types::identifiers::{ChainId, ClientId, ConnectionId, Sequence};
use ibc::core::host::types::path::{
    AckPath, ChannelEndPath, ClientConnectionPath, ClientConsensusStatePath, ClientStatePath, ClientUpdateHeightPath, ClientUpdateTimePath,
    CommitmentPath, ConnectionPath, NextChannelSequencePath, NextClientSequencePath, NextConnectionSequencePath, Path, ReceiptPath,
    SeqAckPath, SeqRecvPath, SeqSendPath,
};
use ibc::core::host::{ExecutionContext, ValidationContext};
use ibc::primitives::proto::Any;
use ibc::primitives::{Signer, Timestamp};
use openledger_core::block::BlockInfo;
use openledger_core::{AbciError, Address, Event, StateError, StateWrite};
use prost::Message;

use crate::state_key;

/// Most consensus states of one client read when looking for neighbours (ibc-rs prunes
/// expired ones on every update, so a live client holds far fewer).
const MAX_CONSENSUS_STATES: usize = 10_000;

/// Blocks longer than this are not expected (ibc-go's default `max_expected_time_per_block`).
pub const MAX_EXPECTED_TIME_PER_BLOCK: Duration = Duration::from_secs(30);

/// The tx's state layer, shared by the IBC host and the ICS-20 app for one message.
pub struct Shared<'a> {
    state: RefCell<&'a mut dyn StateWrite>,
    failure: RefCell<Option<AbciError>>,
}

impl<'a> Shared<'a> {
    /// Shares `state` for one message.
    pub fn new(state: &'a mut dyn StateWrite) -> Self {
        Self { state: RefCell::new(state), failure: RefCell::new(None) }
    }

    /// The first state or bank error seen (it outranks the IBC error it caused).
    pub fn take_failure(&self) -> Option<AbciError> {
        self.failure.borrow_mut().take()
    }

    /// Keeps `e` (unless an earlier failure is kept) and returns it as ibc-rs's error.
    pub fn fail(&self, e: AbciError) -> HostError {
        let text = e.log.clone();
        self.failure.borrow_mut().get_or_insert(e);
        HostError::failed_to_retrieve(text)
    }

    fn record(&self, e: StateError) -> HostError {
        self.fail(AbciError::from_code(&e))
    }

    /// Raw value of a key.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        let read = self.state.borrow().get_raw(key);
        read.map_err(|e| self.record(e))
    }

    /// Keys and values under a prefix, in key order, at most `limit`.
    pub fn scan(&self, prefix: &[u8], limit: usize) -> Result<Vec<openledger_core::state::KvPair>, HostError> {
        let read = self.state.borrow().scan_raw(prefix, None, limit);
        read.map_err(|e| self.record(e))
    }

    /// Writes a key.
    pub fn put(&self, key: Vec<u8>, value: Vec<u8>) -> Result<(), HostError> {
        let written = self.state.borrow_mut().put_raw(key, value);
        written.map_err(|e| self.record(e))
    }

    /// Deletes a key.
    pub fn delete(&self, key: &[u8]) -> Result<(), HostError> {
        let deleted = self.state.borrow_mut().delete(key);
        deleted.map_err(|e| self.record(e))
    }

    /// Emits an ABCI event.
    pub fn emit(&self, event: Event) {
        self.state.borrow_mut().emit(event);
    }

    /// Runs `f` on the state layer (for keepers that take `&mut dyn StateWrite`).
    pub fn with_state<T>(&self, f: impl FnOnce(&mut dyn StateWrite) -> T) -> T {
        let mut state = self.state.borrow_mut();
        f(&mut **state)
    }

    /// A protobuf value.
    fn get_proto<M: Message + Default>(&self, key: &[u8], what: &str) -> Result<Option<M>, HostError> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => M::decode(bytes.as_slice()).map(Some).map_err(|e| HostError::invalid_state(format!("{what}: {e}"))),
        }
    }

    /// A big-endian u64 (ibc-go's sequences and counters), 0 when absent.
    fn get_u64(&self, key: &[u8]) -> Result<Option<u64>, HostError> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => {
                let arr: [u8; 8] = bytes.as_slice().try_into().map_err(|_| HostError::invalid_state("sequence is not 8 bytes"))?;
                Ok(Some(u64::from_be_bytes(arr)))
            }
        }
    }
}

/// Decodes an `Any` stored by [`Shared::put`] into an ibc-rs domain type.
fn decode_any<T: TryFrom<Any>>(bytes: &[u8], what: &str) -> Result<T, HostError>
where
    T::Error: std::fmt::Display,
{
    let any = Any::decode(bytes).map_err(|e| HostError::invalid_state(format!("{what}: {e}")))?;
    T::try_from(any).map_err(|e| HostError::invalid_state(format!("{what}: {e}")))
}

/// The chain as ibc-rs sees it: its id, the block being executed and the shared state.
pub struct Host<'s, 'a> {
    shared: &'s Shared<'a>,
    chain_id: ChainId,
    block: BlockInfo,
}

impl<'s, 'a> Host<'s, 'a> {
    /// The host of one message in `block` of `chain_id`.
    pub fn new(shared: &'s Shared<'a>, chain_id: ChainId, block: BlockInfo) -> Self {
        Self { shared, chain_id, block }
    }

    fn counter(&self, key: Vec<u8>) -> Result<u64, HostError> {
        Ok(self.shared.get_u64(&key)?.unwrap_or(0))
    }

    fn increase(&self, key: Vec<u8>) -> Result<(), HostError> {
        let next = self.counter(key.clone())?.checked_add(1).ok_or_else(|| HostError::invalid_state("counter overflow"))?;
        self.shared.put(key, next.to_be_bytes().to_vec())
    }

    fn sequence(&self, key: Vec<u8>, what: &str) -> Result<Sequence, HostError> {
        self.shared.get_u64(&key)?.map(Sequence::from).ok_or_else(|| HostError::missing_state(what))
    }

    /// Heights of the consensus states stored for `client_id`, ascending.
    fn stored_heights(&self, client_id: &ClientId) -> Result<Vec<Height>, HostError> {
        let prefix = state_key::ics24_prefix(&format!("clients/{client_id}/consensusStates/"));
        let mut heights = Vec::new();
        for (key, _) in self.shared.scan(&prefix, MAX_CONSENSUS_STATES.saturating_mul(3))? {
            let Some(text) = key.strip_prefix(b"ibc/".as_slice()).and_then(|p| std::str::from_utf8(p).ok()) else { continue };
            if let Ok(Path::ClientConsensusState(p)) = text.parse::<Path>() {
                if let Ok(h) = Height::new(p.revision_number, p.revision_height) {
                    heights.push(h);
                }
            }
        }
        heights.sort();
        Ok(heights)
    }

    fn consensus_state_at(&self, client_id: &ClientId, height: Height) -> Result<TmConsensusState, HostError> {
        self.consensus_state(&ClientConsensusStatePath::new(client_id.clone(), height.revision_number(), height.revision_height()))
    }
}

/// This chain's consensus state at `height` as its counterparties store it, from the host
/// history the IBC module records at the start of every block.
pub fn host_consensus_state(shared: &Shared<'_>, height: u64) -> Result<TmConsensusState, HostError> {
    match shared.get(&state_key::host_consensus_state(height))? {
        Some(bytes) => decode_any(&bytes, "host consensus state"),
        None => Err(HostError::missing_state(format!("this chain's consensus state at height {height} (not in the host history)"))),
    }
}

impl ClientValidationContext for Host<'_, '_> {
    type ClientStateRef = TmClientState;
    type ConsensusStateRef = TmConsensusState;

    fn client_state(&self, client_id: &ClientId) -> Result<TmClientState, HostError> {
        match self.shared.get(&state_key::ics24(ClientStatePath::new(client_id.clone())))? {
            Some(bytes) => decode_any(&bytes, "client state"),
            None => Err(HostError::missing_state(format!("client state of {client_id}"))),
        }
    }

    fn consensus_state(&self, path: &ClientConsensusStatePath) -> Result<TmConsensusState, HostError> {
        match self.shared.get(&state_key::ics24(path.clone()))? {
            Some(bytes) => decode_any(&bytes, "consensus state"),
            None => Err(HostError::missing_state(format!(
                "consensus state of {} at {}-{}",
                path.client_id, path.revision_number, path.revision_height
            ))),
        }
    }

    fn client_update_meta(&self, client_id: &ClientId, height: &Height) -> Result<(Timestamp, Height), HostError> {
        let (rn, rh) = (height.revision_number(), height.revision_height());
        let time = self
            .shared
            .get_u64(&state_key::ics24(ClientUpdateTimePath::new(client_id.clone(), rn, rh)))?
            .ok_or_else(|| HostError::missing_state(format!("update time of {client_id} at {height}")))?;
        let raw: ibc_proto::ibc::core::client::v1::Height = self
            .shared
            .get_proto(&state_key::ics24(ClientUpdateHeightPath::new(client_id.clone(), rn, rh)), "update height")?
            .ok_or_else(|| HostError::missing_state(format!("update height of {client_id} at {height}")))?;
        let processed = Height::try_from(raw).map_err(|e| HostError::invalid_state(e.to_string()))?;
        Ok((Timestamp::from_nanoseconds(time), processed))
    }
}

impl ClientExecutionContext for Host<'_, '_> {
    type ClientStateMut = TmClientState;

    fn store_client_state(&mut self, path: ClientStatePath, client_state: TmClientState) -> Result<(), HostError> {
        self.shared.put(state_key::ics24(path), Any::from(client_state).encode_to_vec())
    }

    fn store_consensus_state(&mut self, path: ClientConsensusStatePath, consensus_state: TmConsensusState) -> Result<(), HostError> {
        self.shared.put(state_key::ics24(path), Any::from(consensus_state).encode_to_vec())
    }

    fn delete_consensus_state(&mut self, path: ClientConsensusStatePath) -> Result<(), HostError> {
        self.shared.delete(&state_key::ics24(path))
    }

    fn store_update_meta(
        &mut self,
        client_id: ClientId,
        height: Height,
        host_timestamp: Timestamp,
        host_height: Height,
    ) -> Result<(), HostError> {
        let (rn, rh) = (height.revision_number(), height.revision_height());
        self.shared.put(
            state_key::ics24(ClientUpdateTimePath::new(client_id.clone(), rn, rh)),
            host_timestamp.nanoseconds().to_be_bytes().to_vec(),
        )?;
        let raw: ibc_proto::ibc::core::client::v1::Height = host_height.into();
        self.shared.put(state_key::ics24(ClientUpdateHeightPath::new(client_id, rn, rh)), raw.encode_to_vec())
    }

    fn delete_update_meta(&mut self, client_id: ClientId, height: Height) -> Result<(), HostError> {
        let (rn, rh) = (height.revision_number(), height.revision_height());
        self.shared.delete(&state_key::ics24(ClientUpdateTimePath::new(client_id.clone(), rn, rh)))?;
        self.shared.delete(&state_key::ics24(ClientUpdateHeightPath::new(client_id, rn, rh)))
    }
}

impl ExtClientValidationContext for Host<'_, '_> {
    fn host_timestamp(&self) -> Result<Timestamp, HostError> {
        ValidationContext::host_timestamp(self)
    }

    fn host_height(&self) -> Result<Height, HostError> {
        ValidationContext::host_height(self)
    }

    fn consensus_state_heights(&self, client_id: &ClientId) -> Result<Vec<Height>, HostError> {
        self.stored_heights(client_id)
    }

    fn next_consensus_state(&self, client_id: &ClientId, height: &Height) -> Result<Option<TmConsensusState>, HostError> {
        match self.stored_heights(client_id)?.into_iter().find(|h| h > height) {
            Some(h) => self.consensus_state_at(client_id, h).map(Some),
            None => Ok(None),
        }
    }

    fn prev_consensus_state(&self, client_id: &ClientId, height: &Height) -> Result<Option<TmConsensusState>, HostError> {
        match self.stored_heights(client_id)?.into_iter().rev().find(|h| h < height) {
            Some(h) => self.consensus_state_at(client_id, h).map(Some),
            None => Ok(None),
        }
    }
}

impl ValidationContext for Host<'_, '_> {
    type V = Self;
    type HostClientState = TmClientState;
    type HostConsensusState = TmConsensusState;

    fn get_client_validation_context(&self) -> &Self::V {
        self
    }

    fn host_height(&self) -> Result<Height, HostError> {
        Height::new(self.chain_id.revision_number(), self.block.height).map_err(|e| HostError::invalid_state(e.to_string()))
    }

    fn host_timestamp(&self) -> Result<Timestamp, HostError> {
        Ok(Timestamp::from_nanoseconds(self.block.time_ns))
    }

    fn host_consensus_state(&self, height: &Height) -> Result<TmConsensusState, HostError> {
        if height.revision_number() != self.chain_id.revision_number() {
            return Err(HostError::invalid_state(format!("height {height} is not of this chain's revision")));
        }
        host_consensus_state(self.shared, height.revision_height())
    }

    fn client_counter(&self) -> Result<u64, HostError> {
        self.counter(state_key::ics24(NextClientSequencePath))
    }

    fn connection_end(&self, conn_id: &ConnectionId) -> Result<ConnectionEnd, HostError> {
        let raw: ibc_proto::ibc::core::connection::v1::ConnectionEnd = self
            .shared
            .get_proto(&state_key::ics24(ConnectionPath::new(conn_id)), "connection end")?
            .ok_or_else(|| HostError::missing_state(format!("connection {conn_id}")))?;
        ConnectionEnd::try_from(raw).map_err(|e| HostError::invalid_state(e.to_string()))
    }

    /// Checks the client state a counterparty keeps of this chain, as ibc-go's
    /// `ValidateSelfClient` does: this chain's id and revision, a height this chain has
    /// reached, not frozen, and this store's proof specs.
    fn validate_self_client(&self, client_state: TmClientState) -> Result<(), HostError> {
        let inner = client_state.inner();
        if inner.is_frozen() {
            return Err(HostError::invalid_state("the counterparty's client of this chain is frozen"));
        }
        if inner.chain_id != self.chain_id {
            return Err(HostError::invalid_state(format!(
                "the counterparty's client is of chain {}, this chain is {}",
                inner.chain_id, self.chain_id
            )));
        }
        let latest = client_state.latest_height();
        let host = ValidationContext::host_height(self)?;
        if latest.revision_number() != host.revision_number() || latest >= host {
            return Err(HostError::invalid_state(format!("the counterparty's client height {latest} is not below this chain's {host}")));
        }
        if inner.proof_specs != crate::proof_specs() {
            return Err(HostError::invalid_state(
                "the counterparty's client of this chain does not use this chain's proof specs (two JMT specs; see docs/IBC.md)",
            ));
        }
        Ok(())
    }

    fn commitment_prefix(&self) -> CommitmentPrefix {
        CommitmentPrefix::from_bytes(state_key::COMMITMENT_PREFIX)
    }

    fn connection_counter(&self) -> Result<u64, HostError> {
        self.counter(state_key::ics24(NextConnectionSequencePath))
    }

    fn channel_end(&self, path: &ChannelEndPath) -> Result<ChannelEnd, HostError> {
        let raw: ibc_proto::ibc::core::channel::v1::Channel = self
            .shared
            .get_proto(&state_key::ics24(path.clone()), "channel end")?
            .ok_or_else(|| HostError::missing_state(format!("channel {} on port {}", path.1, path.0)))?;
        ChannelEnd::try_from(raw).map_err(|e| HostError::invalid_state(e.to_string()))
    }

    fn get_next_sequence_send(&self, path: &SeqSendPath) -> Result<Sequence, HostError> {
        self.sequence(state_key::ics24(path.clone()), "next send sequence")
    }

    fn get_next_sequence_recv(&self, path: &SeqRecvPath) -> Result<Sequence, HostError> {
        self.sequence(state_key::ics24(path.clone()), "next receive sequence")
    }

    fn get_next_sequence_ack(&self, path: &SeqAckPath) -> Result<Sequence, HostError> {
        self.sequence(state_key::ics24(path.clone()), "next ack sequence")
    }

    fn get_packet_commitment(&self, path: &CommitmentPath) -> Result<PacketCommitment, HostError> {
        self.shared
            .get(&state_key::ics24(path.clone()))?
            .map(PacketCommitment::from)
            .ok_or_else(|| HostError::missing_state(format!("packet commitment {}", path.sequence)))
    }

    fn get_packet_receipt(&self, path: &ReceiptPath) -> Result<Receipt, HostError> {
        Ok(if self.shared.get(&state_key::ics24(path.clone()))?.is_some() { Receipt::Ok } else { Receipt::None })
    }

    fn get_packet_acknowledgement(&self, path: &AckPath) -> Result<AcknowledgementCommitment, HostError> {
        self.shared
            .get(&state_key::ics24(path.clone()))?
            .map(AcknowledgementCommitment::from)
            .ok_or_else(|| HostError::missing_state(format!("packet acknowledgement {}", path.sequence)))
    }

    fn channel_counter(&self) -> Result<u64, HostError> {
        self.counter(state_key::ics24(NextChannelSequencePath))
    }

    fn max_expected_time_per_block(&self) -> Duration {
        MAX_EXPECTED_TIME_PER_BLOCK
    }

    fn validate_message_signer(&self, signer: &Signer) -> Result<(), HostError> {
        Address::from_bech32(signer.as_ref()).map(|_| ()).map_err(|e| HostError::invalid_state(format!("signer {signer}: {e}")))
    }
}

impl ExecutionContext for Host<'_, '_> {
    type E = Self;

    fn get_client_execution_context(&mut self) -> &mut Self::E {
        self
    }

    fn increase_client_counter(&mut self) -> Result<(), HostError> {
        self.increase(state_key::ics24(NextClientSequencePath))
    }

    fn store_connection(&mut self, path: &ConnectionPath, connection_end: ConnectionEnd) -> Result<(), HostError> {
        let raw: ibc_proto::ibc::core::connection::v1::ConnectionEnd = connection_end.into();
        self.shared.put(state_key::ics24(path.clone()), raw.encode_to_vec())
    }

    fn store_connection_to_client(&mut self, path: &ClientConnectionPath, conn_id: ConnectionId) -> Result<(), HostError> {
        let key = state_key::ics24(path.clone());
        let mut paths: ibc_proto::ibc::core::connection::v1::ClientPaths =
            self.shared.get_proto(&key, "client connections")?.unwrap_or_default();
        paths.paths.push(conn_id.to_string());
        self.shared.put(key, paths.encode_to_vec())
    }

    fn increase_connection_counter(&mut self) -> Result<(), HostError> {
        self.increase(state_key::ics24(NextConnectionSequencePath))
    }

    fn store_packet_commitment(&mut self, path: &CommitmentPath, commitment: PacketCommitment) -> Result<(), HostError> {
        self.shared.put(state_key::ics24(path.clone()), commitment.into_vec())
    }

    fn delete_packet_commitment(&mut self, path: &CommitmentPath) -> Result<(), HostError> {
        self.shared.delete(&state_key::ics24(path.clone()))
    }

    fn store_packet_receipt(&mut self, path: &ReceiptPath, _receipt: Receipt) -> Result<(), HostError> {
        // ibc-go stores the single byte 1 (its "successful receipt").
        self.shared.put(state_key::ics24(path.clone()), vec![1])
    }

    fn store_packet_acknowledgement(&mut self, path: &AckPath, ack: AcknowledgementCommitment) -> Result<(), HostError> {
        self.shared.put(state_key::ics24(path.clone()), ack.into_vec())
    }

    fn delete_packet_acknowledgement(&mut self, path: &AckPath) -> Result<(), HostError> {
        self.shared.delete(&state_key::ics24(path.clone()))
    }

    fn store_channel(&mut self, path: &ChannelEndPath, channel_end: ChannelEnd) -> Result<(), HostError> {
        let raw: ibc_proto::ibc::core::channel::v1::Channel = channel_end.into();
        self.shared.put(state_key::ics24(path.clone()), raw.encode_to_vec())
    }

    fn store_next_sequence_send(&mut self, path: &SeqSendPath, seq: Sequence) -> Result<(), HostError> {
        self.shared.put(state_key::ics24(path.clone()), u64::from(seq).to_be_bytes().to_vec())
    }

    fn store_next_sequence_recv(&mut self, path: &SeqRecvPath, seq: Sequence) -> Result<(), HostError> {
        self.shared.put(state_key::ics24(path.clone()), u64::from(seq).to_be_bytes().to_vec())
    }

    fn store_next_sequence_ack(&mut self, path: &SeqAckPath, seq: Sequence) -> Result<(), HostError> {
        self.shared.put(state_key::ics24(path.clone()), u64::from(seq).to_be_bytes().to_vec())
    }

    fn increase_channel_counter(&mut self) -> Result<(), HostError> {
        self.increase(state_key::ics24(NextChannelSequencePath))
    }

    fn emit_ibc_event(&mut self, event: IbcEvent) -> Result<(), HostError> {
        self.shared.emit(crate::events::to_event(event)?);
        Ok(())
    }

    fn log_message(&mut self, message: String) -> Result<(), HostError> {
        tracing::debug!(target: "ibc", "{message}");
        Ok(())
    }
}

/// Encodes this chain's consensus state of a block as counterparties store it: the app hash the
/// block's header carries (the state after the previous block), its time and next validators.
pub fn encode_host_consensus_state(app_hash: &[u8], time_ns: u64, next_validators_hash: &[u8]) -> Result<Vec<u8>, String> {
    let time = tendermint::Time::from_unix_timestamp(
        i64::try_from(time_ns / 1_000_000_000).map_err(|e| e.to_string())?,
        u32::try_from(time_ns % 1_000_000_000).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let next_validators =
        tendermint::Hash::from_bytes(tendermint::hash::Algorithm::Sha256, next_validators_hash).map_err(|e| e.to_string())?;
    let state = ibc::clients::tendermint::types::ConsensusState::new(app_hash.to_vec().into(), time, next_validators);
    Ok(Any::from(TmConsensusState::from(state)).encode_to_vec())
}
