//! A read of the committed state that the simulation needs, taken through the keepers' own
//! state keys on the latest committed snapshot: balances and supply, validators, delegations,
//! unbondings, proposals and deposits, datanets, contributions, versions, models, adapters,
//! executors, inference requests and fine-tune jobs. The tx generator picks its targets from
//! it and the invariants are checked against it.

use std::collections::BTreeMap;

use cosmos_sdk_proto::cosmos::gov::v1 as govpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use openledger_app::app::App;
use openledger_core::state::LatestSnapshot;
use openledger_core::{StateRead, StateReadExt};
use openledger_proto::openledger::datanet::v1 as dpb;
use openledger_proto::openledger::inference::v1 as ipb;
use openledger_proto::openledger::model::v1 as mpb;

/// Scan limit: far above anything a simulation creates.
const ALL: usize = 1_000_000;

/// What the simulation reads of the committed state.
#[derive(Debug, Default, Clone)]
pub struct World {
    /// Every balance: bech32 address → denom → amount.
    pub balances: BTreeMap<String, BTreeMap<String, u128>>,
    /// Balance entries whose amount did not parse as an unsigned integer (always a bug).
    pub bad_balances: Vec<String>,
    /// Supply by denom.
    pub supply: BTreeMap<String, u128>,
    /// Validators.
    pub validators: Vec<spb::Validator>,
    /// Delegations.
    pub delegations: Vec<spb::Delegation>,
    /// Unbonding delegations.
    pub unbondings: Vec<spb::UnbondingDelegation>,
    /// Redelegations.
    pub redelegations: Vec<spb::Redelegation>,
    /// Gov proposals.
    pub proposals: Vec<govpb::Proposal>,
    /// Gov deposits.
    pub deposits: Vec<govpb::Deposit>,
    /// Datanets.
    pub datanets: Vec<dpb::Datanet>,
    /// Contributions of every datanet.
    pub contributions: Vec<dpb::Contribution>,
    /// Published versions: (datanet id, version, row count).
    pub versions: Vec<(u64, u64, u64)>,
    /// Base models.
    pub base_models: Vec<mpb::BaseModel>,
    /// Adapters.
    pub adapters: Vec<mpb::Adapter>,
    /// Registered executors.
    pub executors: Vec<ipb::Executor>,
    /// Inference requests.
    pub requests: Vec<ipb::Request>,
    /// Fine-tune jobs.
    pub jobs: Vec<mpb::FineTuneJob>,
}

fn values<M: prost::Message + Default>(state: &dyn StateRead, prefix: &[u8]) -> anyhow::Result<Vec<M>> {
    Ok(state.scan_proto::<M>(prefix, None, ALL)?.into_iter().map(|(_, m)| m).collect())
}

impl World {
    /// Reads the app's latest committed state.
    pub fn read(app: &App) -> anyhow::Result<Self> {
        let snap = LatestSnapshot(app.storage().clone());
        let state: &dyn StateRead = &snap;
        let mut w = World::default();
        for (key, coin) in
            state.scan_proto::<cosmos_sdk_proto::cosmos::base::v1beta1::Coin>(openledger_bank::state_key::BALANCE_PREFIX, None, ALL)?
        {
            let rest = String::from_utf8_lossy(&key[openledger_bank::state_key::BALANCE_PREFIX.len()..]).into_owned();
            let address = rest.split('/').next().unwrap_or_default().to_string();
            match coin.amount.parse::<u128>() {
                Ok(amount) => {
                    w.balances.entry(address).or_default().insert(coin.denom, amount);
                }
                Err(_) => w.bad_balances.push(format!("{address}: {:?} {}", coin.amount, coin.denom)),
            }
        }
        for coin in values::<cosmos_sdk_proto::cosmos::base::v1beta1::Coin>(state, openledger_bank::state_key::SUPPLY_PREFIX)? {
            let amount = coin.amount.parse::<u128>().map_err(|_| anyhow::anyhow!("supply of {} is {:?}", coin.denom, coin.amount))?;
            w.supply.insert(coin.denom, amount);
        }
        w.validators = values(state, openledger_stake::state_key::VALIDATOR_PREFIX)?;
        w.delegations = values(state, openledger_stake::state_key::DELEGATION_PREFIX)?;
        w.unbondings = values(state, b"stake/unbonding/")?;
        w.redelegations = values(state, b"stake/redelegation/")?;
        w.proposals = values(state, openledger_gov::state_key::PROPOSAL_PREFIX)?;
        w.deposits = values(state, openledger_gov::state_key::DEPOSIT_PREFIX)?;
        w.datanets = values(state, openledger_datanet::state_key::DATANET_PREFIX)?;
        for d in &w.datanets {
            w.contributions.extend(values::<dpb::Contribution>(state, &openledger_datanet::state_key::contributions(d.id))?);
            for v in values::<dpb::Version>(state, &openledger_datanet::state_key::versions(d.id))? {
                w.versions.push((d.id, v.version, v.row_count));
            }
        }
        w.base_models = values(state, openledger_model::state_key::BASE_MODEL_PREFIX)?;
        w.adapters = values(state, openledger_model::state_key::ADAPTER_PREFIX)?;
        w.executors = values(state, openledger_inference::state_key::EXECUTOR_PREFIX)?;
        w.requests = values(state, openledger_inference::state_key::REQUEST_PREFIX)?;
        w.jobs = values(state, openledger_model::state_key::JOB_PREFIX)?;
        Ok(w)
    }

    /// uopen balance of `address` (bech32).
    pub fn balance(&self, address: &str) -> u128 {
        self.balances.get(address).and_then(|m| m.get(openledger_core::coin::BASE_DENOM)).copied().unwrap_or(0)
    }
}
