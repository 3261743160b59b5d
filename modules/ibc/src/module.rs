//! The IBC modules of the registry: `ibc` (core messages, `ibc.core.*` queries, host history)
//! and `transfer` (ICS-20's `MsgTransfer`, params, queries, its module account).

use std::sync::Arc;

use openledger_core::block::BlockInfo;
use openledger_core::module::{export_section, import_section, BlockContext, Module, MsgHandler, ValidatorUpdate};
use openledger_core::query::QueryService;
use openledger_core::{AbciError, StateError, StateRead, StateWrite};
use serde_json::Value;

use crate::genesis::TransferGenesis;
use crate::host::encode_host_consensus_state;
use crate::msg::{core_handlers, transfer_handler, IbcKeeper};
use crate::query::{IbcQuery, TransferQuery};
use crate::state_key;

/// How many blocks of host history to keep (staking's `historical_entries`, as in the SDK).
pub trait HostHistory: Send + Sync {
    /// The number of recent blocks whose consensus state is kept (0: none).
    fn historical_entries(&self, state: &dyn StateRead) -> Result<u32, StateError>;
}

/// The `ibc` module.
pub struct IbcModule {
    keeper: Arc<IbcKeeper>,
    history: Arc<dyn HostHistory>,
}

impl IbcModule {
    /// The module over the shared keeper.
    pub fn new(keeper: Arc<IbcKeeper>, history: Arc<dyn HostHistory>) -> Self {
        Self { keeper, history }
    }
}

impl Module for IbcModule {
    fn name(&self) -> &'static str {
        "ibc"
    }

    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        core_handlers(&self.keeper)
    }

    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(IbcQuery))
    }

    fn descriptor_set(&self) -> Option<&'static [u8]> {
        Some(ibc_descriptors())
    }

    /// Records this block's consensus state as counterparties store it (the app hash its header
    /// carries, its time and next validators) and drops the one that fell out of the window.
    /// The first block of a chain is not recorded: its header's app hash is InitChain's.
    fn begin_block(&self, ctx: &BlockContext<'_>, state: &mut dyn StateWrite) -> Result<(), AbciError> {
        let keep = self.history.historical_entries(state).map_err(|e| AbciError::from_code(&e))?;
        let Some(app_hash) = ctx.last_app_hash else { return Ok(()) };
        if keep == 0 {
            return Ok(());
        }
        let height = ctx.info.height;
        let encoded = encode_host_consensus_state(&app_hash, ctx.info.time_ns, &ctx.request.next_validators_hash)
            .map_err(|e| openledger_core::module::internal("ibc host history", e))?;
        state.put_raw(state_key::host_consensus_state(height), encoded).map_err(|e| AbciError::from_code(&e))?;
        if let Some(old) = height.checked_sub(u64::from(keep)) {
            state.delete(&state_key::host_consensus_state(old)).map_err(|e| AbciError::from_code(&e))?;
        }
        Ok(())
    }
}

/// ibc-proto's descriptors of IBC core, ICS-20, the Tendermint light client and ICS23: the
/// services served and what they import (ibc-proto's copies of the SDK's own files are left out:
/// the chain's proto crate has them).
fn ibc_descriptors() -> &'static [u8] {
    /// A `FileDescriptorSet` whose files stay encoded: decoding them into `prost_types` would
    /// drop the `google.api.http` options (an extension) the REST gateway reads.
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawSet {
        #[prost(bytes = "vec", repeated, tag = "1")]
        file: Vec<Vec<u8>>,
    }
    static SET: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        use prost::Message;
        let Ok(mut set) = RawSet::decode(ibc_proto::FILE_DESCRIPTOR_SET) else { return Vec::new() };
        let wanted = ["ibc/core/", "ibc/applications/transfer/", "ibc/lightclients/tendermint/", "cosmos/ics23/"];
        set.file.retain(|raw| {
            let name = prost_types::FileDescriptorProto::decode(raw.as_slice()).map(|f| f.name.unwrap_or_default()).unwrap_or_default();
            wanted.iter().any(|w| name.starts_with(w))
        });
        set.encode_to_vec()
    })
}

/// The `transfer` module (ICS-20). Its mints and burns name the `transfer` module address, but it
/// declares no module account: genesis would create one on chains that predate IBC too.
pub struct TransferModule {
    keeper: Arc<IbcKeeper>,
}

impl TransferModule {
    /// The module over the shared keeper.
    pub fn new(keeper: Arc<IbcKeeper>) -> Self {
        Self { keeper }
    }
}

impl Module for TransferModule {
    fn name(&self) -> &'static str {
        "transfer"
    }

    fn msg_handlers(&self) -> Vec<Box<dyn MsgHandler>> {
        vec![transfer_handler(&self.keeper)]
    }

    fn query_service(&self) -> Option<Box<dyn QueryService>> {
        Some(Box::new(TransferQuery))
    }

    /// Writes the params only when the section is present: a chain whose genesis predates IBC
    /// keeps its genesis state (and app hash), and the defaults (both directions on) apply.
    fn init_genesis(
        &self,
        state: &mut dyn StateWrite,
        _info: BlockInfo,
        genesis: Option<&Value>,
    ) -> Result<Vec<ValidatorUpdate>, AbciError> {
        if genesis.is_none_or(Value::is_null) {
            return Ok(Vec::new());
        }
        import_section("transfer", genesis, |g: &TransferGenesis| -> Result<(), StateError> {
            let bytes = serde_json::to_vec(&g.params).map_err(|e| StateError::Store(e.to_string()))?;
            state.put_raw(state_key::TRANSFER_PARAMS.to_vec(), bytes)
        })
    }

    fn export_genesis(&self, state: &dyn StateRead) -> Result<Option<Value>, AbciError> {
        export_section("transfer", crate::transfer::params(state).map(|params| TransferGenesis { params }))
    }
}
