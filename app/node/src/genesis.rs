//! The genesis document the chain's own tools write (`init`, `testnet`, `genesis add-*`, the
//! tests): `app_state` with one typed section per module. The node reads `app_state` as a JSON
//! object and hands each module its section ([`crate::modules::Modules::init_genesis`]).

use openledger_attribution::genesis::AttributionGenesis;
use openledger_auth::genesis::AuthGenesis;
use openledger_bank::genesis::BankGenesis;
use openledger_datanet::genesis::DatanetGenesis;
use openledger_gov::genesis::GovGenesis;
use openledger_model::genesis::ModelGenesis;
use openledger_stake::genesis::StakeGenesis;
use serde::{Deserialize, Serialize};

/// The whole `app_state` of genesis.json, one typed section per module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AppGenesis {
    /// Auth section.
    pub auth: AuthGenesis,
    /// Bank section.
    pub bank: BankGenesis,
    /// Stake section (staking, distribution, slashing).
    #[serde(default)]
    pub stake: StakeGenesis,
    /// Datanet section.
    #[serde(default)]
    pub datanet: DatanetGenesis,
    /// Model registry section.
    #[serde(default)]
    pub model: ModelGenesis,
    /// Gov section (parameters, starting proposal id).
    #[serde(default)]
    pub gov: GovGenesis,
    /// Inference section (params, executor registrations, in-flight requests).
    #[serde(default)]
    pub inference: openledger_inference::genesis::InferenceGenesis,
    /// Attribution section (params, indexed and queued versions, records).
    #[serde(default)]
    pub attribution: AttributionGenesis,
}
