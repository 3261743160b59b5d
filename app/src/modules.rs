//! Module wiring: the keepers, the module accounts, genesis import/export of the whole app
//! state, and the list of query services. This is where modules meet through narrow traits
//! (the bank sees auth only as an [`AccountKeeper`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use openledger_attribution::genesis::AttributionGenesis;
use openledger_attribution::query::AttributionQuery;
use openledger_attribution::{AttributionError, AttributionKeeper};
use openledger_auth::genesis::AuthGenesis;
use openledger_auth::query::AuthQuery;
use openledger_auth::{AuthError, AuthKeeper};
use openledger_bank::genesis::BankGenesis;
use openledger_bank::query::BankQuery;
use openledger_bank::{AccountKeeper, BankKeeper};
use openledger_core::query::QueryService;
use openledger_core::{AbciError, Address, StateError, StateRead, StateWrite};
use openledger_datanet::genesis::DatanetGenesis;
use openledger_datanet::query::DatanetQuery;
use openledger_datanet::{DatanetKeeper, BONDS_ACCOUNT};
use openledger_gov::genesis::GovGenesis;
use openledger_gov::query::GovQuery;
use openledger_gov::{GovKeeper, GOV_MODULE};
use openledger_inference::query::InferenceQuery;
use openledger_inference::{InferenceHost, InferenceKeeper, ModelTarget, ValidatorInfo};
use openledger_model::genesis::ModelGenesis;
use openledger_model::query::ModelQuery;
use openledger_model::{DatanetReader, ModelKeeper, VersionInfo};
use openledger_stake::genesis::StakeGenesis;
use openledger_stake::keeper::{BONDED_POOL, DISTRIBUTION_ACCOUNT, NOT_BONDED_POOL};
use openledger_stake::query::StakeQuery;
use openledger_stake::StakeKeeper;
use serde::{Deserialize, Serialize};
use tendermint_proto::v0_38::abci::ValidatorUpdate;

/// Module account that collects tx fees.
pub const FEE_COLLECTOR: &str = "fee_collector";
/// Module account holding the community incentives (51.7 % of genesis supply).
pub const COMMUNITY_INCENTIVES: &str = "community_incentives";

/// Every module account with its permissions, created at genesis.
pub const MODULE_ACCOUNTS: &[(&str, &[&str])] = &[
    (FEE_COLLECTOR, &[]),
    (COMMUNITY_INCENTIVES, &[]),
    (BONDED_POOL, &["burner", "staking"]),
    (NOT_BONDED_POOL, &["burner", "staking"]),
    (DISTRIBUTION_ACCOUNT, &[]),
    (BONDS_ACCOUNT, &["burner"]),
    (GOV_MODULE, &["burner"]),
    (openledger_inference::INFERENCE_ACCOUNT, &[]),
];

/// Auth seen from the bank: creates accounts for first-time recipients.
struct AuthAccounts;

impl AccountKeeper for AuthAccounts {
    fn ensure_account(&self, state: &mut dyn StateWrite, address: &Address) -> Result<(), StateError> {
        match AuthKeeper.ensure_account(state, address) {
            Ok(_) => Ok(()),
            Err(AuthError::State(e)) => Err(e),
            Err(other) => Err(StateError::Store(other.to_string())),
        }
    }
}

/// The bank seen from staking: sends, burns and balances with the bank's own error codes.
struct StakeBank(BankKeeper);

impl openledger_stake::BankKeeper for StakeBank {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        self.0.send(state, from, to, coins).map_err(|e| AbciError::from_code(&e))
    }
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        self.0.burn(state, from, coins).map_err(|e| AbciError::from_code(&e))
    }
    fn balance(&self, state: &dyn StateRead, address: &Address, denom: &str) -> Result<u128, StateError> {
        self.0.balance(state, address, denom)
    }
}

/// The bank seen from datanets: escrow, return and burn contribution bonds.
struct DatanetBank(BankKeeper);

impl openledger_datanet::BankKeeper for DatanetBank {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        self.0.send(state, from, to, coins).map_err(|e| AbciError::from_code(&e))
    }
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        self.0.burn(state, from, coins).map_err(|e| AbciError::from_code(&e))
    }
}

/// The bank seen from gov: deposits in, refunds out, burns.
struct GovBank(BankKeeper);

impl openledger_gov::BankKeeper for GovBank {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        self.0.send(state, from, to, coins).map_err(|e| AbciError::from_code(&e))
    }
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        self.0.burn(state, from, coins).map_err(|e| AbciError::from_code(&e))
    }
}

/// Staking seen from gov: the bonded set and a voter's delegations, for the tally.
struct GovStake(StakeKeeper);

fn stake_state_err(e: openledger_stake::StakeError) -> StateError {
    match e {
        openledger_stake::StakeError::State(e) => e,
        other => StateError::Store(other.to_string()),
    }
}

impl openledger_gov::StakeReader for GovStake {
    fn bonded_validators(&self, state: &dyn StateRead) -> Result<Vec<openledger_gov::keeper::ValidatorPower>, StateError> {
        let _ = &self.0;
        let mut out = Vec::new();
        for (_, v) in openledger_core::StateReadExt::scan_proto::<cosmos_sdk_proto::cosmos::staking::v1beta1::Validator>(
            state,
            openledger_stake::state_key::VALIDATOR_PREFIX,
            None,
            usize::MAX,
        )? {
            if !openledger_stake::keeper::is_bonded(&v) {
                continue;
            }
            let operator = openledger_stake::keeper::operator_account(&v.operator_address).map_err(stake_state_err)?;
            out.push(openledger_gov::keeper::ValidatorPower {
                operator,
                tokens: openledger_stake::keeper::tokens(&v),
                shares: openledger_stake::keeper::shares(&v),
            });
        }
        Ok(out)
    }

    fn delegations(&self, state: &dyn StateRead, delegator: &Address) -> Result<Vec<openledger_gov::keeper::DelegationShares>, StateError> {
        let prefix = openledger_stake::state_key::delegations_of(&delegator.to_bech32());
        let mut out = Vec::new();
        for (_, d) in openledger_core::StateReadExt::scan_proto::<cosmos_sdk_proto::cosmos::staking::v1beta1::Delegation>(
            state,
            &prefix,
            None,
            usize::MAX,
        )? {
            let validator = openledger_stake::keeper::operator_account(&d.validator_address).map_err(stake_state_err)?;
            let shares = openledger_stake::params::dec_from_proto(&d.shares).unwrap_or_default();
            out.push(openledger_gov::keeper::DelegationShares { validator, shares });
        }
        Ok(out)
    }
}

/// Datanets seen from the model registry: published versions and their roots.
struct ModelDatanets(DatanetKeeper);

impl DatanetReader for ModelDatanets {
    fn version(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Option<VersionInfo>, StateError> {
        Ok(self.0.published_version(state, datanet_id, version)?.map(|(v, delisted)| VersionInfo {
            merkle_root: v.merkle_root,
            row_count: v.row_count,
            datanet_delisted: delisted,
        }))
    }
}

/// The bank seen from attribution: contributor payouts out of the inference escrow.
struct AttributionBank(BankKeeper);

impl openledger_attribution::BankKeeper for AttributionBank {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        self.0.send(state, from, to, coins).map_err(|e| AbciError::from_code(&e))
    }
}

/// The community pool seen from attribution: where remainders and unattributed shares go.
struct AttributionPool(StakeKeeper);

impl openledger_attribution::CommunityPool for AttributionPool {
    fn fund(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), AbciError> {
        self.0.fund_community_pool(state, from, amount).map_err(host_err)
    }
}

/// Everything the inference module needs from bank, model registry, stake and attribution.
struct InferenceHostImpl {
    bank: BankKeeper,
    stake: StakeKeeper,
    model: ModelKeeper,
    attribution: AttributionKeeper,
}

fn host_err<E: openledger_core::ErrorCode>(e: E) -> AbciError {
    AbciError::from_code(&e)
}

fn validator_info(v: &cosmos_sdk_proto::cosmos::staking::v1beta1::Validator) -> Result<ValidatorInfo, AbciError> {
    Ok(ValidatorInfo {
        operator: v.operator_address.clone(),
        account: openledger_stake::keeper::operator_account(&v.operator_address).map_err(host_err)?,
        consensus_key: openledger_stake::keeper::consensus_key(v).unwrap_or_default(),
        jailed: v.jailed,
    })
}

impl InferenceHost for InferenceHostImpl {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, amount: u128) -> Result<(), AbciError> {
        if amount == 0 {
            return Ok(());
        }
        self.bank.send(state, from, to, &[openledger_core::Coin::new(openledger_core::coin::BASE_DENOM, amount)]).map_err(host_err)
    }

    fn model_target(&self, state: &dyn StateRead, base_model_id: u64, adapter_id: u64) -> Result<ModelTarget, AbciError> {
        let adapter_opt = (adapter_id != 0).then_some(adapter_id);
        let servable = self.model.is_servable(state, base_model_id, adapter_opt).map_err(host_err)?;
        let base = self.model.require_base_model(state, base_model_id).map_err(host_err)?;
        let price_of =
            |c: Option<&cosmos_sdk_proto::cosmos::base::v1beta1::Coin>| -> u128 { c.and_then(|c| c.amount.parse().ok()).unwrap_or(0) };
        let owner = |text: &str| {
            Address::from_bech32(text).map_err(|e| AbciError::sdk(openledger_core::error::sdk_codes::INVALID_ADDRESS, e.to_string()))
        };
        match adapter_opt {
            None => Ok(ModelTarget {
                weights_hash: base.weights_hash.clone(),
                adapter_hash: String::new(),
                owner: owner(&base.owner)?,
                price: price_of(base.inference_price.as_ref()),
                datanet_versions: Vec::new(),
                servable,
            }),
            Some(id) => {
                let a = self.model.require_adapter(state, id).map_err(host_err)?;
                Ok(ModelTarget {
                    weights_hash: base.weights_hash.clone(),
                    adapter_hash: a.adapter_hash.clone(),
                    owner: owner(&a.owner)?,
                    price: price_of(a.inference_price.as_ref()),
                    datanet_versions: a
                        .datanet_versions
                        .iter()
                        .map(|v| openledger_proto::openledger::inference::v1::DatanetVersionPin {
                            datanet_id: v.datanet_id,
                            version: v.version,
                            merkle_root: v.merkle_root.clone(),
                        })
                        .collect(),
                    servable,
                })
            }
        }
    }

    fn base_model_exists(&self, state: &dyn StateRead, base_model_id: u64) -> Result<bool, AbciError> {
        Ok(self.model.base_model(state, base_model_id).map_err(host_err)?.is_some())
    }

    fn validator(&self, state: &dyn StateRead, operator: &str) -> Result<Option<ValidatorInfo>, AbciError> {
        self.stake.validator(state, operator).map_err(host_err)?.as_ref().map(validator_info).transpose()
    }

    fn validator_by_cons(&self, state: &dyn StateRead, cons_address: &[u8]) -> Result<Option<ValidatorInfo>, AbciError> {
        self.stake.validator_by_cons(state, cons_address).map_err(host_err)?.as_ref().map(validator_info).transpose()
    }

    fn slash_and_jail(
        &self,
        state: &mut dyn StateWrite,
        info: openledger_core::block::BlockInfo,
        operator: &str,
        fraction: openledger_core::Dec,
        reason: &str,
    ) -> Result<(), AbciError> {
        self.stake.slash(state, info, operator, fraction, reason).map_err(host_err)?;
        self.stake.jail(state, operator, reason).map_err(host_err)
    }

    /// Proof of Attribution over the pinned versions. `distribute` writes nothing when it
    /// fails; a failure that is not a state error (an output over the attribution size limit,
    /// say) must not keep an agreed result off the chain, so the share then goes to the
    /// community pool, as for an output that matches no row.
    fn attribute(
        &self,
        state: &mut dyn StateWrite,
        request_id: u64,
        from: &Address,
        amount: u128,
        versions: &[(u64, u64)],
        text: &str,
    ) -> Result<u128, AbciError> {
        if versions.is_empty() {
            self.fund_community_pool(state, from, amount)?;
            return Ok(0);
        }
        match self.attribution.distribute(state, request_id, from, amount, versions, text) {
            Ok(record) => {
                let to_pool: u128 = record.community_pool.parse().map_err(|_| internal("attribution remainder"))?;
                amount.checked_sub(to_pool).ok_or_else(|| internal("attribution paid more than its share"))
            }
            Err(AttributionError::State(e)) => Err(AbciError::from_code(&e)),
            Err(e) => {
                tracing::warn!("attribution of inference {request_id} failed ({e}); its contributors' share goes to the community pool");
                self.fund_community_pool(state, from, amount)?;
                Ok(0)
            }
        }
    }

    fn fund_community_pool(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), AbciError> {
        self.stake.fund_community_pool(state, from, amount).map_err(host_err)
    }
}

/// The application's keepers.
#[derive(Clone)]
pub struct Modules {
    /// Accounts.
    pub auth: AuthKeeper,
    /// Balances.
    pub bank: BankKeeper,
    /// Staking, distribution, slashing.
    pub stake: StakeKeeper,
    /// Datanets: datasets, contributions, versions.
    pub datanet: DatanetKeeper,
    /// Model registry: base models, adapters, lineage.
    pub model: ModelKeeper,
    /// Governance: proposals, deposits, votes, tally.
    pub gov: GovKeeper,
    /// Verifiable inference: requests, executors, results.
    pub inference: InferenceKeeper,
    /// Proof of Attribution: version indexes, span matching, contributor payouts.
    pub attribution: AttributionKeeper,
}

impl Default for Modules {
    fn default() -> Self {
        Self::new()
    }
}

/// The whole `app_state` of genesis.json.
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

fn internal(e: impl std::fmt::Display) -> AbciError {
    AbciError::sdk(openledger_core::error::sdk_codes::INTERNAL, e.to_string())
}

impl Modules {
    /// Wires the keepers. Module accounts may not receive user sends.
    pub fn new() -> Self {
        let blocked: BTreeSet<Address> = MODULE_ACCOUNTS.iter().map(|(name, _)| Address::module(name)).collect();
        let bank = BankKeeper::new(Arc::new(AuthAccounts), blocked);
        let stake = StakeKeeper::new(Arc::new(StakeBank(bank.clone())));
        let datanet = DatanetKeeper::new(Arc::new(DatanetBank(bank.clone())));
        let model = ModelKeeper::new(Arc::new(ModelDatanets(datanet.clone())));
        let gov = GovKeeper::new(Arc::new(GovBank(bank.clone())), Arc::new(GovStake(stake.clone())));
        let attribution =
            AttributionKeeper::new(datanet.clone(), Arc::new(AttributionBank(bank.clone())), Arc::new(AttributionPool(stake.clone())));
        let inference = InferenceKeeper::new(Arc::new(InferenceHostImpl {
            bank: bank.clone(),
            stake: stake.clone(),
            model: model.clone(),
            attribution: attribution.clone(),
        }));
        Self { auth: AuthKeeper, bank, stake, datanet, model, gov, inference, attribution }
    }

    /// Query services, in routing order.
    pub fn query_services(&self) -> Vec<Box<dyn QueryService>> {
        vec![
            Box::new(AuthQuery),
            Box::new(BankQuery(self.bank.clone())),
            Box::new(StakeQuery(self.stake.clone())),
            Box::new(DatanetQuery(self.datanet.clone())),
            Box::new(ModelQuery(self.model.clone())),
            Box::new(GovQuery(self.gov.clone())),
            Box::new(InferenceQuery(self.inference.clone())),
            Box::new(AttributionQuery(self.attribution.clone())),
            Box::new(crate::upgrade::UpgradeQuery),
        ]
    }

    /// Imports genesis: auth accounts first, module accounts, then balances, then stake; returns
    /// the initial validator set.
    pub fn init_genesis(
        &self,
        state: &mut dyn StateWrite,
        genesis: &AppGenesis,
        info: openledger_core::block::BlockInfo,
    ) -> Result<Vec<ValidatorUpdate>, AbciError> {
        openledger_auth::genesis::init_genesis(state, &genesis.auth).map_err(|e| internal(format!("auth genesis: {e}")))?;
        for (name, perms) in MODULE_ACCOUNTS {
            self.auth.ensure_module_account(state, name, perms).map_err(|e| internal(format!("module account {name}: {e}")))?;
        }
        openledger_bank::genesis::init_genesis(&self.bank, state, &genesis.bank).map_err(|e| internal(format!("bank genesis: {e}")))?;
        openledger_datanet::genesis::init_genesis(&self.datanet, state, &genesis.datanet)
            .map_err(|e| internal(format!("datanet genesis: {e}")))?;
        // After datanet: indexes are built from the published versions' rows.
        openledger_attribution::genesis::init_genesis(&self.attribution, state, &genesis.attribution)
            .map_err(|e| internal(format!("attribution genesis: {e}")))?;
        openledger_model::genesis::init_genesis(&self.model, state, &genesis.model).map_err(|e| internal(format!("model genesis: {e}")))?;
        openledger_gov::genesis::init_genesis(&self.gov, state, &genesis.gov).map_err(|e| internal(format!("gov genesis: {e}")))?;
        let validators = openledger_stake::genesis::init_genesis(&self.stake, state, &genesis.stake, info)
            .map_err(|e| internal(format!("stake genesis: {e}")))?;
        // After stake and model: registrations name validators and base models.
        openledger_inference::genesis::init_genesis(&self.inference, state, &genesis.inference, info)
            .map_err(|e| internal(format!("inference genesis: {e}")))?;
        Ok(validators)
    }

    /// Exports the current state as genesis.
    pub fn export_genesis(&self, state: &dyn StateRead) -> Result<AppGenesis, AbciError> {
        Ok(AppGenesis {
            auth: openledger_auth::genesis::export_genesis(state).map_err(internal)?,
            bank: openledger_bank::genesis::export_genesis(&self.bank, state).map_err(internal)?,
            stake: openledger_stake::genesis::export_genesis(&self.stake, state).map_err(internal)?,
            datanet: openledger_datanet::genesis::export_genesis(&self.datanet, state).map_err(internal)?,
            model: openledger_model::genesis::export_genesis(state).map_err(internal)?,
            gov: openledger_gov::genesis::export_genesis(state).map_err(internal)?,
            inference: openledger_inference::genesis::export_genesis(&self.inference, state).map_err(internal)?,
            attribution: openledger_attribution::genesis::export_genesis(&self.attribution, state).map_err(internal)?,
        })
    }
}
