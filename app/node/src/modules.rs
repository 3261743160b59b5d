//! Module wiring: the keepers, the narrow traits through which modules see each other (the
//! bank sees auth only as an [`AccountKeeper`]), and the registry: the one list of the chain's
//! modules, from which message routing, queries, module accounts, genesis and the block hooks
//! all follow. Adding a module is one line in [`Modules::registry_with`].

use std::collections::BTreeSet;
use std::sync::Arc;

use openledger_attribution::{AttributionError, AttributionKeeper, AttributionModule};
use openledger_auth::{AuthError, AuthKeeper, AuthModule};
use openledger_bank::{AccountKeeper, BankKeeper, BankModule};
use openledger_core::{AbciError, Address, Module, Registry, StateError, StateRead, StateWrite};
use openledger_datanet::{DatanetKeeper, DatanetModule};
use openledger_gov::{GovKeeper, GovModule};
use openledger_inference::{
    InferenceHost, InferenceKeeper, InferenceModule, ModelTarget, TrainingDecision, TrainingJobInfo, TrainingJobStatus, ValidatorInfo,
};
use openledger_model::{DatanetReader, ModelKeeper, ModelModule, VersionInfo};
use openledger_stake::{StakeKeeper, StakeModule};
use openledger_upgrade::UpgradeModule;
use tendermint_proto::v0_38::abci::ValidatorUpdate;

pub use crate::genesis::AppGenesis;
pub use openledger_auth::{COMMUNITY_INCENTIVES, FEE_COLLECTOR};

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

/// The bank seen from ICS-20: escrow sends, mints of received tokens, burns of returning ones.
struct TransferBankImpl(BankKeeper);

impl openledger_ibc::TransferBank for TransferBankImpl {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        self.0.send(state, from, to, coins).map_err(|e| AbciError::from_code(&e))
    }
    fn mint(&self, state: &mut dyn StateWrite, to: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        let minter = Address::module(openledger_ibc::transfer::TRANSFER_MODULE_ACCOUNT);
        self.0.mint(state, &minter, to, coins).map_err(|e| AbciError::from_code(&e))
    }
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[openledger_core::Coin]) -> Result<(), AbciError> {
        self.0.burn(state, from, coins).map_err(|e| AbciError::from_code(&e))
    }
    fn balance(&self, state: &dyn StateRead, address: &Address, denom: &str) -> Result<u128, StateError> {
        self.0.balance(state, address, denom)
    }
}

/// Staking's `historical_entries` seen from IBC: how much host history to keep.
struct StakeHistory;

impl openledger_ibc::HostHistory for StakeHistory {
    fn historical_entries(&self, state: &dyn StateRead) -> Result<u32, StateError> {
        Ok(openledger_stake::params::staking(state)?.historical_entries)
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
        Ok(self
            .0
            .bonded_validators(state)
            .map_err(stake_state_err)?
            .into_iter()
            .map(|(operator, tokens, shares)| openledger_gov::keeper::ValidatorPower { operator, tokens, shares })
            .collect())
    }

    fn delegations(&self, state: &dyn StateRead, delegator: &Address) -> Result<Vec<openledger_gov::keeper::DelegationShares>, StateError> {
        Ok(self
            .0
            .delegations_of(state, delegator)
            .map_err(stake_state_err)?
            .into_iter()
            .map(|(validator, shares)| openledger_gov::keeper::DelegationShares { validator, shares })
            .collect())
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

    /// Walks the version's row runs to their contributions' contributors.
    fn version_contributors(&self, state: &dyn StateRead, datanet_id: u64, version: u64) -> Result<Vec<(String, u64)>, StateError> {
        let mut out: Vec<(String, u64)> = Vec::new();
        let mut last: Option<(u64, String)> = None;
        for seg in self.0.segments(state, datanet_id, version)? {
            let contributor = match &last {
                Some((id, who)) if *id == seg.contribution_id => who.clone(),
                _ => {
                    let Some(c) = self.0.contribution(state, datanet_id, seg.contribution_id)? else { continue };
                    last = Some((seg.contribution_id, c.contributor.clone()));
                    c.contributor
                }
            };
            out.push((contributor, seg.row_count));
        }
        Ok(out)
    }
}

/// Bank, staking and auth seen from the model registry: fine-tune fees in and out of its
/// escrow, the community pool, and the escrow account created on the first job.
struct ModelFundsImpl {
    bank: BankKeeper,
    stake: StakeKeeper,
}

impl openledger_model::ModelFunds for ModelFundsImpl {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, amount: u128) -> Result<(), AbciError> {
        self.bank.send(state, from, to, &[openledger_core::Coin::new(openledger_core::coin::BASE_DENOM, amount)]).map_err(host_err)
    }
    fn fund_community_pool(&self, state: &mut dyn StateWrite, from: &Address, amount: u128) -> Result<(), AbciError> {
        self.stake.fund_community_pool(state, from, amount).map_err(host_err)
    }
    fn ensure_module_account(&self, state: &mut dyn StateWrite, name: &str) -> Result<(), AbciError> {
        AuthKeeper.ensure_module_account(state, name, &[]).map(|_| ()).map_err(host_err)
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

fn internal(e: impl std::fmt::Display) -> AbciError {
    AbciError::sdk(openledger_core::error::sdk_codes::INTERNAL, e.to_string())
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
                chat_template_hash: base.chat_template_hash.clone(),
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
                    chat_template_hash: base.chat_template_hash.clone(),
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

    fn training_job(&self, state: &dyn StateRead, job_id: u64) -> Result<Option<TrainingJobInfo>, AbciError> {
        use openledger_proto::openledger::model::v1::JobStatus;
        Ok(self.model.job(state, job_id).map_err(host_err)?.map(|job| {
            let attested =
                (job.status == JobStatus::Attested as i32).then(|| openledger_proto::openledger::inference::v1::TrainingReport {
                    job_id: job.id,
                    adapter_hash: hex::decode(&job.adapter_hash).unwrap_or_default(),
                    eval_loss_bits: job.eval_loss_bits,
                    training_log_hash: job.training_log_hash.clone(),
                    failed: false,
                    binding: Vec::new(),
                });
            TrainingJobInfo {
                base_model_id: job.base_model_id,
                status: match JobStatus::try_from(job.status) {
                    Ok(JobStatus::Queued) => TrainingJobStatus::Queued,
                    Ok(JobStatus::Running) => TrainingJobStatus::Running,
                    _ => TrainingJobStatus::Done,
                },
                attested,
            }
        }))
    }

    fn training_slashed(&self, state: &mut dyn StateWrite, job_id: u64, operator: &str) -> Result<(), AbciError> {
        self.model.record_slash(state, job_id, operator).map_err(host_err)
    }

    fn training_started(&self, state: &mut dyn StateWrite, info: openledger_core::block::BlockInfo, job_id: u64) -> Result<(), AbciError> {
        self.model.mark_running(state, info, job_id).map(|_| ()).map_err(host_err)
    }

    fn training_decided(
        &self,
        state: &mut dyn StateWrite,
        info: openledger_core::block::BlockInfo,
        decision: &TrainingDecision,
    ) -> Result<(), AbciError> {
        let attestation = openledger_model::JobAttestation {
            job_id: decision.job_id,
            adapter_hash: hex::encode(&decision.report.adapter_hash),
            eval_loss_bits: decision.report.eval_loss_bits,
            training_log_hash: decision.report.training_log_hash.clone(),
            extension_height: decision.extension_height,
            agreeing_power: decision.agreeing_power,
            eligible_power: decision.eligible_power,
            votes: decision
                .votes
                .iter()
                .map(|v| {
                    let r = v.report.clone().unwrap_or_default();
                    openledger_proto::openledger::model::v1::JobVote {
                        validator: v.operator.clone(),
                        power: v.power,
                        reported: v.report.is_some(),
                        failed: r.failed,
                        adapter_hash: if r.adapter_hash.is_empty() { String::new() } else { hex::encode(&r.adapter_hash) },
                        eval_loss_bits: r.eval_loss_bits,
                        training_log_hash: r.training_log_hash,
                        agreed: v.agreed,
                    }
                })
                .collect(),
            agreeing_executors: decision.agreeing_executors.clone(),
            slashed: decision.slashed.clone(),
        };
        if decision.report.failed {
            self.model.fail_job(state, info, &attestation).map(|_| ()).map_err(host_err)
        } else {
            self.model.attest_job(state, info, &attestation).map(|_| ()).map_err(host_err)
        }
    }
}

/// The application's keepers and the registry of its modules.
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
    /// IBC core and ICS-20 (one keeper for both registry modules).
    pub ibc: Arc<openledger_ibc::IbcKeeper>,
    /// The modules, message and query routers, and hook order.
    pub registry: Arc<Registry>,
}

impl Default for Modules {
    fn default() -> Self {
        Self::new()
    }
}

/// The chain's registry, built once (clients use it to write the amino JSON form they sign).
pub fn chain_registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Arc<Registry>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| Modules::new().registry)
}

impl Modules {
    /// Wires the keepers and registers the chain's modules.
    pub fn new() -> Self {
        Self::with_extra(Vec::new())
    }

    /// The chain's modules plus `extra` ones (registered after them; tests add a module this
    /// way, exactly as a new module of the chain is added to [`Modules::registry_with`]).
    pub fn with_extra(extra: Vec<Box<dyn Module>>) -> Self {
        let bank = BankKeeper::new(Arc::new(AuthAccounts), BTreeSet::new());
        let stake = StakeKeeper::new(Arc::new(StakeBank(bank.clone())));
        let datanet = DatanetKeeper::new(Arc::new(DatanetBank(bank.clone())));
        let model = ModelKeeper::new(Arc::new(ModelDatanets(datanet.clone())))
            .with_funds(Arc::new(ModelFundsImpl { bank: bank.clone(), stake: stake.clone() }));
        let gov = GovKeeper::new(Arc::new(GovBank(bank.clone())), Arc::new(GovStake(stake.clone())));
        let attribution = AttributionKeeper::new(
            Arc::new(datanet.clone()),
            Arc::new(AttributionBank(bank.clone())),
            Arc::new(AttributionPool(stake.clone())),
        );
        datanet.set_publish_hook(Arc::new(attribution.clone()));
        let inference = InferenceKeeper::new(Arc::new(InferenceHostImpl {
            bank: bank.clone(),
            stake: stake.clone(),
            model: model.clone(),
            attribution: attribution.clone(),
        }));
        let bank_for_ibc = bank.clone();
        let mut keepers = Self {
            auth: AuthKeeper,
            bank,
            stake,
            datanet,
            model,
            gov,
            inference,
            attribution,
            ibc: Arc::new(openledger_ibc::IbcKeeper { bank: Arc::new(TransferBankImpl(bank_for_ibc)) }),
            registry: Arc::new(Registry::new(Vec::new()).expect("an empty registry is valid")),
        };
        let upgrade = UpgradeModule::default();
        let versions = upgrade.versions_handle();
        let registry = keepers.registry_with(upgrade, extra);
        versions.set_module_versions(registry.module_versions());
        // Module accounts may not receive user sends.
        keepers.bank.block(registry.module_accounts().iter().map(|(name, _)| Address::module(name)));
        // The fine-tune escrow is created on the first job (so older chains keep their state)
        // but is a module account all the same.
        keepers.bank.block([Address::module(openledger_model::MODEL_ACCOUNT)]);
        keepers.registry = Arc::new(registry);
        keepers
    }

    /// The registry: every module of the chain, once, in the order their hooks run (unless a
    /// module asks to run after another). Genesis imports auth first; the module accounts are
    /// created right after it, in this order.
    fn registry_with(&self, upgrade: UpgradeModule, extra: Vec<Box<dyn Module>>) -> Registry {
        let mut modules: Vec<Box<dyn Module>> = vec![
            Box::new(AuthModule),
            Box::new(BankModule(self.bank.clone())),
            Box::new(StakeModule(self.stake.clone())),
            Box::new(DatanetModule(self.datanet.clone())),
            Box::new(AttributionModule(self.attribution.clone())),
            Box::new(ModelModule(self.model.clone())),
            Box::new(GovModule(self.gov.clone())),
            Box::new(InferenceModule(self.inference.clone())),
            Box::new(openledger_ibc::IbcModule::new(self.ibc.clone(), Arc::new(StakeHistory))),
            Box::new(openledger_ibc::TransferModule::new(self.ibc.clone())),
            Box::new(upgrade),
        ];
        modules.extend(extra);
        Registry::new(modules).unwrap_or_else(|e| panic!("the module list is inconsistent: {e}"))
    }

    /// Query services, in routing order.
    pub fn query_service_names(&self) -> Vec<&'static str> {
        self.registry.query_service_names()
    }

    /// Imports genesis `app_state` (a JSON object with a section per module); returns the
    /// initial validator set.
    pub fn init_genesis(
        &self,
        state: &mut dyn StateWrite,
        app_state: &serde_json::Map<String, serde_json::Value>,
        info: openledger_core::block::BlockInfo,
    ) -> Result<Vec<ValidatorUpdate>, AbciError> {
        self.registry.init_genesis(state, info, app_state, &openledger_auth::module::create_module_account)
    }

    /// Exports the current state as genesis `app_state`.
    /// Staked, unbonding and undistributed coins go back to their owners in the bank section
    /// ([`crate::genesis::settle_for_export`]), so the export imports as the genesis it is.
    pub fn export_genesis(&self, state: &dyn StateRead) -> Result<serde_json::Map<String, serde_json::Value>, AbciError> {
        let mut app_state = self.registry.export_genesis(state)?;
        crate::genesis::settle_for_export(state, &mut app_state).map_err(internal)?;
        Ok(app_state)
    }
}
