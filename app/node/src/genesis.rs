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

/// Makes an export importable as the fresh genesis it describes. The stake section lists every
/// delegation gentx-style (InitChain re-bonds it from the delegator's balance, as for a new
/// chain), and leaves out unbonding entries, redelegations and the distribution records
/// (pending rewards, commission, community pool). So that an export → import → export gives
/// the same document and the imported chain keeps its pools equal to what they back, the bank
/// section is settled here the way that re-bonding expects:
///
/// - each validator's tokens leave its pool (bonded or not bonded): every delegation's worth
///   (the amount the stake section lists, or would list for a validator it leaves out because
///   its operator's bond fell below the minimum) goes back to its delegator, the rounding
///   remainder to the community incentives account (which funds block rewards);
/// - each unbonding entry is paid out to its delegator, as if it had matured;
/// - the distribution account's balance (pending rewards, commission, community pool, all
///   dropped by the export) goes to the community incentives account.
///
/// The supply does not change: coins only move between balances. Executor registrations of
/// validators the stake section leaves out are dropped with them.
pub fn settle_for_export(
    state: &dyn openledger_core::StateRead,
    app_state: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    use std::collections::BTreeMap;

    use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
    use openledger_bank::genesis::{BalanceJson, CoinJson};
    use openledger_core::coin::BASE_DENOM;
    use openledger_core::{Address, StateReadExt};
    use openledger_stake::keeper::{BONDED_POOL, COMMUNITY_INCENTIVES, DISTRIBUTION_ACCOUNT, NOT_BONDED_POOL};

    let Some(bank_value) = app_state.get("bank") else { return Ok(()) };
    let mut bank: BankGenesis = serde_json::from_value(bank_value.clone()).map_err(|e| format!("bank section: {e}"))?;
    let err = |e: openledger_core::StateError| e.to_string();

    // Signed changes per address, in uopen.
    let mut credit: BTreeMap<String, u128> = BTreeMap::new();
    let mut debit: BTreeMap<String, u128> = BTreeMap::new();
    let incentives = Address::module(COMMUNITY_INCENTIVES).to_bech32();
    let add = |map: &mut BTreeMap<String, u128>, address: String, amount: u128| -> Result<(), String> {
        let e = map.entry(address).or_default();
        *e = e.checked_add(amount).ok_or("export settlement overflows")?;
        Ok(())
    };
    for (_, v) in state.scan_proto::<spb::Validator>(openledger_stake::state_key::VALIDATOR_PREFIX, None, usize::MAX).map_err(err)? {
        let tokens: u128 = v.tokens.parse().map_err(|_| format!("validator {} tokens {:?}", v.operator_address, v.tokens))?;
        let pool = if v.status == spb::BondStatus::Bonded as i32 { BONDED_POOL } else { NOT_BONDED_POOL };
        add(&mut debit, Address::module(pool).to_bech32(), tokens)?;
        // Every delegation's worth, by the formula the stake export uses for the amounts it
        // lists (a validator it leaves out returns its delegations' tokens all the same).
        let mut returned = 0u128;
        let to = openledger_stake::state_key::delegations_to(&v.operator_address);
        for (key, _) in state.scan_raw(&to, None, usize::MAX).map_err(err)? {
            let delegator = String::from_utf8_lossy(&key[to.len()..]).into_owned();
            let Some(d) = state
                .get_proto::<spb::Delegation>(&openledger_stake::state_key::delegation(&delegator, &v.operator_address))
                .map_err(err)?
            else {
                continue;
            };
            let shares = openledger_stake::params::dec_from_proto(&d.shares).unwrap_or(openledger_core::Dec::ZERO);
            let amount =
                openledger_stake::keeper::mul_tokens(shares, tokens, openledger_stake::keeper::shares(&v)).map_err(|e| e.to_string())?;
            add(&mut credit, delegator, amount)?;
            returned += amount;
        }
        let remainder =
            tokens.checked_sub(returned).ok_or_else(|| format!("validator {} exports more than its tokens", v.operator_address))?;
        add(&mut credit, incentives.clone(), remainder)?;
    }
    for (_, u) in state.scan_proto::<spb::UnbondingDelegation>(b"stake/unbonding/", None, usize::MAX).map_err(err)? {
        for e in &u.entries {
            let amount: u128 = e.balance.parse().map_err(|_| format!("unbonding balance {:?}", e.balance))?;
            add(&mut debit, Address::module(NOT_BONDED_POOL).to_bech32(), amount)?;
            add(&mut credit, u.delegator_address.clone(), amount)?;
        }
    }
    let distribution = Address::module(DISTRIBUTION_ACCOUNT).to_bech32();
    let held = bank
        .balances
        .iter()
        .find(|b| b.address == distribution)
        .and_then(|b| b.coins.iter().find(|c| c.denom == BASE_DENOM))
        .map_or(0, |c| c.amount);
    add(&mut debit, distribution, held)?;
    add(&mut credit, incentives, held)?;

    for (address, amount) in credit.iter().filter(|(_, a)| **a > 0) {
        match bank.balances.binary_search_by(|b| b.address.as_str().cmp(address)) {
            Ok(i) => match bank.balances[i].coins.iter_mut().find(|c| c.denom == BASE_DENOM) {
                Some(c) => c.amount = c.amount.checked_add(*amount).ok_or("balance overflows")?,
                None => {
                    let coins = &mut bank.balances[i].coins;
                    let at = coins.partition_point(|c| c.denom.as_str() < BASE_DENOM);
                    coins.insert(at, CoinJson { denom: BASE_DENOM.into(), amount: *amount });
                }
            },
            Err(i) => bank
                .balances
                .insert(i, BalanceJson { address: address.clone(), coins: vec![CoinJson { denom: BASE_DENOM.into(), amount: *amount }] }),
        }
    }
    for (address, amount) in debit.iter().filter(|(_, a)| **a > 0) {
        let i = bank
            .balances
            .binary_search_by(|b| b.address.as_str().cmp(address))
            .map_err(|_| format!("{address} holds nothing but backs {amount} uopen"))?;
        let coins = &mut bank.balances[i].coins;
        let c = coins.iter_mut().find(|c| c.denom == BASE_DENOM).ok_or_else(|| format!("{address} holds no {BASE_DENOM}"))?;
        c.amount = c.amount.checked_sub(*amount).ok_or_else(|| format!("{address} holds {} but backs {amount} uopen", c.amount))?;
        coins.retain(|c| c.amount > 0);
        if coins.is_empty() {
            bank.balances.remove(i);
        }
    }
    app_state.insert("bank".into(), serde_json::to_value(&bank).map_err(|e| format!("bank section: {e}"))?);

    // Executor registrations of validators the stake section leaves out go with them.
    let exported: std::collections::BTreeSet<String> = app_state
        .get("stake")
        .and_then(|s| s.get("validators"))
        .and_then(|v| v.as_array())
        .map(|all| all.iter().filter_map(|v| v.get("operator_address").and_then(|a| a.as_str()).map(str::to_string)).collect())
        .unwrap_or_default();
    if let Some(executors) = app_state.get_mut("inference").and_then(|i| i.get_mut("executors")).and_then(|e| e.as_array_mut()) {
        executors.retain(|e| e.get("validator").and_then(|v| v.as_str()).is_some_and(|v| exported.contains(v)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use openledger_auth::genesis::AccountJson;
    use openledger_bank::genesis::{BalanceJson, CoinJson};
    use openledger_core::coin::BASE_DENOM;
    use openledger_core::storage::Storage;
    use openledger_core::Address;
    use openledger_stake::genesis::{GenesisDelegation, GenesisValidator};
    use openledger_stake::keeper::{operator_of, BONDED_POOL, COMMUNITY_INCENTIVES, DISTRIBUTION_ACCOUNT};
    use sha2::{Digest, Sha256};
    use tendermint_proto::google::protobuf::Timestamp;
    use tendermint_proto::v0_38::abci as pb;

    use super::AppGenesis;
    use crate::app::App;

    const PK: [u8; 32] = [7; 32];

    fn address(n: u8) -> Address {
        Address::from_bytes(&[n; 20]).expect("20 bytes")
    }

    fn genesis() -> AppGenesis {
        let mut g = AppGenesis::default();
        let funded = [(address(1), 5_000_000_000u128), (address(2), 3_000_000_000)];
        for (i, (a, amount)) in funded.iter().enumerate() {
            g.auth.accounts.push(AccountJson {
                address: a.to_bech32(),
                account_number: i as u64,
                sequence: 0,
                module_name: None,
                permissions: vec![],
            });
            g.bank
                .balances
                .push(BalanceJson { address: a.to_bech32(), coins: vec![CoinJson { denom: BASE_DENOM.into(), amount: *amount }] });
        }
        g.bank.balances.push(BalanceJson {
            address: Address::module(COMMUNITY_INCENTIVES).to_bech32(),
            coins: vec![CoinJson { denom: BASE_DENOM.into(), amount: 1_000_000_000 }],
        });
        g.bank.supply = vec![CoinJson { denom: BASE_DENOM.into(), amount: 9_000_000_000 }];
        g.stake.validators.push(GenesisValidator {
            operator_address: operator_of(&address(1)),
            consensus_pubkey: base64::engine::general_purpose::STANDARD.encode(PK),
            moniker: "v".into(),
            commission_rate: "0.1".into(),
            commission_max_rate: "0.2".into(),
            commission_max_change_rate: "0.01".into(),
            min_self_delegation: 1,
            self_delegation: 2_000_000_000,
        });
        g.stake.delegations.push(GenesisDelegation {
            delegator_address: address(2).to_bech32(),
            validator_address: operator_of(&address(1)),
            amount: 1_000_000_000,
        });
        g
    }

    fn start(app_state: &serde_json::Value) -> App {
        let app = App::with_storage(Storage::temporary().expect("store"));
        app.init_chain(&pb::RequestInitChain {
            chain_id: "export-test".into(),
            app_state_bytes: serde_json::to_vec(app_state).expect("serializes").into(),
            initial_height: 1,
            ..Default::default()
        })
        .expect("init_chain");
        app
    }

    fn block(app: &App, height: i64) {
        let vote = pb::VoteInfo {
            validator: Some(pb::Validator { address: Sha256::digest(PK)[..20].to_vec().into(), power: 3_000 }),
            block_id_flag: 2,
        };
        let req = pb::RequestFinalizeBlock {
            height,
            time: Some(Timestamp { seconds: 1_700_000_000 + height, nanos: 0 }),
            decided_last_commit: Some(pb::CommitInfo { round: 0, votes: if height > 1 { vec![vote] } else { vec![] } }),
            ..Default::default()
        };
        app.finalize_block(&req).expect("finalize");
        app.commit().expect("commit");
    }

    fn uopen(app_state: &serde_json::Map<String, serde_json::Value>, who: &Address) -> u128 {
        let bank: openledger_bank::genesis::BankGenesis = serde_json::from_value(app_state["bank"].clone()).expect("bank");
        bank.balances.iter().find(|b| b.address == who.to_bech32()).map_or(0, |b| b.coins.iter().map(|c| c.amount).sum())
    }

    /// Regression (found by the randomized simulation): the export listed every delegation for
    /// InitChain to re-bond from its delegator *and* kept the bonded pool's balance, so an
    /// imported export bonded everything twice (the operator paid its self-bond again, the pool
    /// held double) and the re-export differed.
    #[test]
    fn export_imports_to_the_same_export_with_pools_backing_only_their_tokens() {
        let app = start(&serde_json::to_value(genesis()).expect("genesis"));
        for h in 1..=4 {
            block(&app, h);
        }
        let first = app.export_genesis().expect("export");
        // The delegators hold their stake again; the pools and the distribution account are empty.
        assert_eq!(uopen(&first, &address(1)), 5_000_000_000);
        assert_eq!(uopen(&first, &address(2)), 3_000_000_000);
        assert_eq!(uopen(&first, &Address::module(BONDED_POOL)), 0);
        assert_eq!(uopen(&first, &Address::module(DISTRIBUTION_ACCOUNT)), 0);
        let fresh = start(&serde_json::Value::Object(first.clone()));
        block(&fresh, 1);
        let second = fresh.export_genesis().expect("re-export");
        assert_eq!(first, second, "export → import → export must be identical");
        let state = openledger_core::state::LatestSnapshot(fresh.storage().clone());
        let pool = fresh.modules().bank.balance(&state, &Address::module(BONDED_POOL), BASE_DENOM).expect("balance");
        assert_eq!(pool, 3_000_000_000, "the imported bonded pool holds exactly the re-bonded tokens");
    }
}
