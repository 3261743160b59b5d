//! Attribution messages: `MsgUpdateParams` (governance only), with its stateless check (the
//! SDK's `ValidateBasic`), signer, amino JSON form and execution.

use openledger_core::amino::AminoObject;
use openledger_core::Address;
use openledger_core::StateWrite;
use openledger_proto::openledger::attribution::v1::{MsgUpdateParams, MsgUpdateParamsResponse, Params};
use serde_json::{json, Value};

use crate::error::AttributionError;
use crate::keeper::{gov_authority, validate_params, AttributionKeeper};

/// Type URL of `MsgUpdateParams`.
pub const MSG_UPDATE_PARAMS: &str = "/openledger.attribution.v1.MsgUpdateParams";
/// Amino name of `MsgUpdateParams` (the `openledger/x/<module>/` form of the other modules).
pub const AMINO_UPDATE_PARAMS: &str = "openledger/x/attribution/MsgUpdateParams";

/// The `params` object of the amino JSON form (64-bit integers as strings, 32-bit as numbers).
pub fn params_amino(p: &Params) -> Value {
    AminoObject::default()
        .num("min_span_tokens", i64::from(p.min_span_tokens))
        .num("max_output_tokens", i64::from(p.max_output_tokens))
        .u64("max_index_tokens", p.max_index_tokens)
        .u64("index_gas_per_byte", p.index_gas_per_byte)
        .u64("max_index_bytes_per_block", p.max_index_bytes_per_block)
        .build()
}

/// A validated `MsgUpdateParams`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateParams {
    /// Authority (signer; must be the gov module account).
    pub authority: Address,
    /// The new params.
    pub params: Params,
}

impl Eq for UpdateParams {}

impl UpdateParams {
    /// `ValidateBasic`: a valid authority address and params within the hard caps.
    pub fn check_stateless(msg: &MsgUpdateParams) -> Result<Self, AttributionError> {
        let authority = Address::from_bech32(&msg.authority)
            .map_err(|e| AttributionError::InvalidAddress { field: "authority", reason: e.to_string() })?;
        let params = msg.params.ok_or_else(|| AttributionError::InvalidParams("params are required".into()))?;
        validate_params(&params)?;
        Ok(Self { authority, params })
    }

    /// The signer.
    pub fn signers(&self) -> Vec<Address> {
        vec![self.authority.clone()]
    }

    /// Amino JSON ([`AMINO_UPDATE_PARAMS`]).
    pub fn amino_json(&self) -> Value {
        json!({"type": AMINO_UPDATE_PARAMS, "value": {"authority": self.authority.to_bech32(), "params": params_amino(&self.params)}})
    }

    /// Replaces the params (governance only).
    pub fn execute(&self, keeper: &AttributionKeeper, state: &mut dyn StateWrite) -> Result<MsgUpdateParamsResponse, AttributionError> {
        let gov = gov_authority();
        if self.authority != gov {
            return Err(AttributionError::Unauthorized(format!("invalid authority; expected {gov} (governance), got {}", self.authority)));
        }
        keeper.set_params(state, &self.params)?;
        Ok(MsgUpdateParamsResponse {})
    }
}
