//! Module tests on a real bank and auth over an in-memory state: the full staking lifecycle,
//! F1 reward accounting, slashing paths, bad input, and the invariants the chain must keep.

use std::collections::BTreeSet;
use std::sync::Arc;

use cosmos_sdk_proto::cosmos::distribution::v1beta1 as dpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use openledger_bank::BankKeeper as RealBank;
use openledger_core::block::{set_block_info, BlockInfo};
use openledger_core::coin::BASE_DENOM;
use openledger_core::delta::EmptyState;
use openledger_core::{AbciError, Address, Coin, Dec, ErrorCode, StateDelta, StateError, StateRead, StateWrite};

use crate::distribution::{self, Vote};
use crate::keeper::{consensus_address, ed25519_any, operator_of, tokens, StakeKeeper, BONDED_POOL, COMMUNITY_INCENTIVES, NOT_BONDED_POOL};
use crate::params::{self, dec_to_proto};
use crate::{msg, slashing};

struct Accounts;
impl openledger_bank::AccountKeeper for Accounts {
    fn ensure_account(&self, state: &mut dyn StateWrite, address: &Address) -> Result<(), StateError> {
        openledger_auth::AuthKeeper.ensure_account(state, address).map(|_| ()).map_err(|e| StateError::Store(e.to_string()))
    }
}

struct Bank(RealBank);
impl crate::BankKeeper for Bank {
    fn send(&self, state: &mut dyn StateWrite, from: &Address, to: &Address, coins: &[Coin]) -> Result<(), AbciError> {
        self.0.send(state, from, to, coins).map_err(|e| AbciError::from_code(&e))
    }
    fn burn(&self, state: &mut dyn StateWrite, from: &Address, coins: &[Coin]) -> Result<(), AbciError> {
        self.0.burn(state, from, coins).map_err(|e| AbciError::from_code(&e))
    }
    fn balance(&self, state: &dyn StateRead, address: &Address, denom: &str) -> Result<u128, StateError> {
        self.0.balance(state, address, denom)
    }
}

const OPEN: u128 = 1_000_000;
const DAY_NS: u64 = 24 * 3600 * 1_000_000_000;

struct World {
    state: StateDelta<EmptyState>,
    keeper: StakeKeeper,
    bank: RealBank,
    info: BlockInfo,
}

fn addr(n: u8) -> Address {
    Address::from_bytes(&[n; 20]).unwrap()
}

fn cons_key(n: u8) -> Vec<u8> {
    vec![n; 32]
}

impl World {
    fn new() -> Self {
        let bank = RealBank::new(Arc::new(Accounts), BTreeSet::new());
        let keeper = StakeKeeper::new(Arc::new(Bank(bank.clone())));
        let mut state = StateDelta::new(EmptyState);
        for n in 1..=5u8 {
            bank.mint(&mut state, &addr(0), &addr(n), &[Coin::new(BASE_DENOM, 1_000_000 * OPEN)]).unwrap();
        }
        bank.mint(&mut state, &addr(0), &Address::module(COMMUNITY_INCENTIVES), &[Coin::new(BASE_DENOM, 1_000_000 * OPEN)]).unwrap();
        let mut slashing = params::default_slashing();
        slashing.signed_blocks_window = 10;
        slashing.downtime_jail_duration = Some(tendermint_proto::google::protobuf::Duration { seconds: 60, nanos: 0 });
        let mut staking = params::default_staking();
        staking.max_validators = 3;
        params::set_all(&mut state, &staking, &params::default_distribution(), &slashing, &params::default_reward_schedule()).unwrap();
        let info = BlockInfo { height: 1, time_ns: 1_000 * DAY_NS };
        set_block_info(&mut state, info).unwrap();
        Self { state, keeper, bank, info }
    }

    fn balance(&self, a: &Address) -> u128 {
        self.bank.balance(&self.state, a, BASE_DENOM).unwrap()
    }

    fn next_block(&mut self, seconds: u64) {
        self.info = BlockInfo { height: self.info.height + 1, time_ns: self.info.time_ns + seconds * 1_000_000_000 };
        set_block_info(&mut self.state, self.info).unwrap();
    }

    fn create(&mut self, n: u8, self_bond: u128, rate: &str, max: &str) -> Result<String, crate::StakeError> {
        let m = spb::MsgCreateValidator {
            description: Some(spb::Description { moniker: format!("v{n}"), ..Default::default() }),
            commission: Some(spb::CommissionRates {
                rate: dec_to_proto(Dec::parse(rate).unwrap()),
                max_rate: dec_to_proto(Dec::parse(max).unwrap()),
                max_change_rate: dec_to_proto(Dec::parse("0.01").unwrap()),
            }),
            min_self_delegation: (100 * OPEN).to_string(),
            #[allow(deprecated)]
            delegator_address: String::new(),
            validator_address: operator_of(&addr(n)),
            pubkey: Some(ed25519_any(&cons_key(n))),
            value: Some(Coin::new(BASE_DENOM, self_bond).to_proto()),
        };
        msg::CreateValidator::check_stateless(&m)?.create(&self.keeper, &mut self.state)?;
        Ok(operator_of(&addr(n)))
    }

    fn delegate(&mut self, n: u8, op: &str, amount: u128) -> Result<(), crate::StakeError> {
        msg::delegate(
            &self.keeper,
            &mut self.state,
            &spb::MsgDelegate {
                delegator_address: addr(n).to_bech32(),
                validator_address: op.into(),
                amount: Some(Coin::new(BASE_DENOM, amount).to_proto()),
            },
        )
    }

    fn end_block(&mut self) -> Vec<tendermint_proto::v0_38::abci::ValidatorUpdate> {
        let u = self.keeper.end_block(&mut self.state, self.info).unwrap();
        self.check_invariants();
        u
    }

    /// Bonded pool = tokens of bonded validators; rewards paid ≤ allocated; supply unchanged
    /// except by burns (checked by callers).
    fn check_invariants(&self) {
        let mut bonded = 0u128;
        for (_, v) in
            openledger_core::StateReadExt::scan_proto::<spb::Validator>(&self.state, crate::state_key::VALIDATOR_PREFIX, None, 1000)
                .unwrap()
        {
            if crate::keeper::is_bonded(&v) {
                bonded += tokens(&v);
            }
        }
        assert_eq!(self.balance(&Address::module(BONDED_POOL)), bonded, "bonded pool = bonded validators' tokens");
        let (allocated, paid) = distribution::totals(&self.state).unwrap();
        assert!(paid <= allocated, "rewards paid {paid} ≤ allocated {allocated}");
    }

    fn votes(&self, signers: &[(u8, bool)]) -> Vec<Vote> {
        signers
            .iter()
            .map(|(n, signed)| {
                let v = self.keeper.validator(&self.state, &operator_of(&addr(*n))).unwrap().unwrap();
                Vote { address: consensus_address(&cons_key(*n)), power: crate::keeper::power_of(tokens(&v)), signed: *signed }
            })
            .collect()
    }
}

fn code(e: &crate::StakeError) -> (&'static str, u32) {
    (e.codespace(), e.code())
}

#[test]
fn validator_lifecycle_delegation_rewards_and_unbonding() {
    let mut w = World::new();
    let supply_before = w.bank.supply(&w.state, BASE_DENOM).unwrap();
    let v1 = w.create(1, 1000 * OPEN, "0.1", "0.2").unwrap();
    let updates = w.end_block();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].power, 1000);
    assert!(crate::keeper::is_bonded(&w.keeper.must_validator(&w.state, &v1).unwrap()));

    // A delegator joins; power grows and CometBFT is told.
    w.next_block(5);
    w.delegate(2, &v1, 3000 * OPEN).unwrap();
    let updates = w.end_block();
    assert_eq!(updates[0].power, 4000);

    // Rewards: 10 blocks of the 10 OPEN block reward, v1 signs them all.
    for _ in 0..10 {
        w.next_block(5);
        let votes = w.votes(&[(1, true)]);
        distribution::allocate(&w.keeper, &mut w.state, w.info, &votes).unwrap();
        w.end_block();
    }
    // 100 OPEN; 2 % tax → 98 OPEN to v1; 10 % commission → 9.8 OPEN; 88.2 OPEN shared 1:3.
    let before = w.balance(&addr(2));
    let paid = msg::withdraw_rewards(
        &w.keeper,
        &mut w.state,
        &dpb::MsgWithdrawDelegatorReward { delegator_address: addr(2).to_bech32(), validator_address: v1.clone() },
    )
    .unwrap();
    assert_eq!(w.balance(&addr(2)) - before, paid);
    assert!((66_149_990..=66_150_000).contains(&paid), "delegator gets 3/4 of 88.2 OPEN, got {paid}");
    let self_paid = msg::withdraw_rewards(
        &w.keeper,
        &mut w.state,
        &dpb::MsgWithdrawDelegatorReward { delegator_address: addr(1).to_bech32(), validator_address: v1.clone() },
    )
    .unwrap();
    assert!((22_049_990..=22_050_000).contains(&self_paid), "{self_paid}");
    let commission =
        msg::withdraw_commission(&w.keeper, &mut w.state, &dpb::MsgWithdrawValidatorCommission { validator_address: v1.clone() }).unwrap();
    assert!((9_799_990..=9_800_000).contains(&commission), "{commission}");
    let err = msg::withdraw_commission(&w.keeper, &mut w.state, &dpb::MsgWithdrawValidatorCommission { validator_address: v1.clone() })
        .unwrap_err();
    assert_eq!(code(&err), ("distribution", 7));
    assert!(distribution::community_pool(&w.state).unwrap() >= Dec::from_int(2 * OPEN).unwrap());
    w.check_invariants();

    // Undelegate: tokens wait in the not-bonded pool for the unbonding period, then arrive.
    let before = w.balance(&addr(2));
    msg::undelegate(
        &w.keeper,
        &mut w.state,
        &spb::MsgUndelegate {
            delegator_address: addr(2).to_bech32(),
            validator_address: v1.clone(),
            amount: Some(Coin::new(BASE_DENOM, 1000 * OPEN).to_proto()),
        },
    )
    .unwrap();
    let updates = w.end_block();
    assert_eq!(updates[0].power, 3000);
    assert_eq!(w.balance(&Address::module(NOT_BONDED_POOL)), 1000 * OPEN);
    w.next_block(20 * 24 * 3600);
    w.end_block();
    assert_eq!(w.balance(&addr(2)), before, "not yet: 21-day unbonding");
    w.next_block(2 * 24 * 3600);
    w.end_block();
    assert_eq!(w.balance(&addr(2)), before + 1000 * OPEN);
    assert_eq!(w.bank.supply(&w.state, BASE_DENOM).unwrap(), supply_before, "no burns: supply constant");
}

/// Regression (found by the randomized simulation): when a period closed on a validator with
/// no tokens (its operator had just left, CometBFT still counted its votes), the period's
/// rewards went to the community pool but also stayed in the validator's outstanding rewards,
/// so the records claimed more than the distribution account held.
#[test]
fn rewards_of_a_validator_without_tokens_move_to_the_community_pool_once() {
    let mut w = World::new();
    let v1 = w.create(1, 1000 * OPEN, "0.1", "0.2").unwrap();
    w.end_block();
    w.next_block(5);
    msg::undelegate(
        &w.keeper,
        &mut w.state,
        &spb::MsgUndelegate {
            delegator_address: addr(1).to_bech32(),
            validator_address: v1.clone(),
            amount: Some(Coin::new(BASE_DENOM, 1000 * OPEN).to_proto()),
        },
    )
    .unwrap();
    assert_eq!(tokens(&w.keeper.must_validator(&w.state, &v1).unwrap()), 0);
    w.next_block(5);
    // The last commit still has v1's vote.
    let votes = vec![Vote { address: consensus_address(&cons_key(1)), power: 1000, signed: true }];
    distribution::allocate(&w.keeper, &mut w.state, w.info, &votes).unwrap();
    assert!(!distribution::outstanding(&w.state, &v1).unwrap().is_zero());
    // A new delegation closes the tokenless period.
    w.delegate(2, &v1, 10 * OPEN).unwrap();
    let held = Dec::from_int(w.balance(&Address::module(crate::keeper::DISTRIBUTION_ACCOUNT))).unwrap();
    let recorded = distribution::community_pool(&w.state).unwrap().checked_add(distribution::outstanding(&w.state, &v1).unwrap()).unwrap();
    assert_eq!(recorded, held, "community pool + outstanding rewards = what the distribution account holds");
}

/// Regression (found by the randomized simulation): a validator whose operator had withdrawn its
/// whole bond was exported with a zero self-delegation, which InitChain rejects, so the export
/// could not be imported. It is left out, with its delegations.
#[test]
fn export_leaves_out_validators_below_their_minimum_self_bond() {
    let mut w = World::new();
    let v1 = w.create(1, 1000 * OPEN, "0.1", "0.2").unwrap();
    let v2 = w.create(2, 1000 * OPEN, "0.1", "0.2").unwrap();
    w.delegate(3, &v2, 50 * OPEN).unwrap();
    w.end_block();
    w.next_block(5);
    msg::undelegate(
        &w.keeper,
        &mut w.state,
        &spb::MsgUndelegate {
            delegator_address: addr(2).to_bech32(),
            validator_address: v2.clone(),
            amount: Some(Coin::new(BASE_DENOM, 1000 * OPEN).to_proto()),
        },
    )
    .unwrap();
    w.end_block();
    let g = crate::genesis::export_genesis(&w.keeper, &w.state).unwrap();
    let exported: Vec<&str> = g.validators.iter().map(|v| v.operator_address.as_str()).collect();
    assert_eq!(exported, vec![v1.as_str()]);
    assert!(g.validators.iter().all(|v| v.self_delegation >= v.min_self_delegation && v.self_delegation > 0));
    assert!(g.delegations.iter().all(|d| d.validator_address != v2 && d.amount > 0));
}

#[test]
fn bad_input_is_rejected_with_sdk_codes_and_changes_nothing() {
    let mut w = World::new();
    let v1 = w.create(1, 1000 * OPEN, "0.1", "0.2").unwrap();
    w.end_block();
    let snapshot = w.state.changes().clone();
    // below minimum self delegation
    let e = w.create(2, 10 * OPEN, "0.1", "0.2").unwrap_err();
    assert_eq!(code(&e), ("staking", 16));
    // commission over max
    assert_eq!(code(&w.create(2, 1000 * OPEN, "0.3", "0.2").unwrap_err()), ("staking", 11));
    assert_eq!(code(&w.create(2, 1000 * OPEN, "0.3", "1.5").unwrap_err()), ("staking", 10));
    // same operator again, and a consensus key already taken
    let mut layer = StateDelta::new(&w.state);
    let again = spb::MsgCreateValidator {
        description: None,
        commission: Some(spb::CommissionRates { rate: "0".into(), max_rate: "0".into(), max_change_rate: "0".into() }),
        min_self_delegation: "1".into(),
        #[allow(deprecated)]
        delegator_address: String::new(),
        validator_address: operator_of(&addr(3)),
        pubkey: Some(ed25519_any(&cons_key(1))),
        value: Some(Coin::new(BASE_DENOM, 5).to_proto()),
    };
    let e = msg::CreateValidator::check_stateless(&again).unwrap().create(&w.keeper, &mut layer).unwrap_err();
    assert_eq!(code(&e), ("staking", 5), "duplicate consensus key");
    drop(layer);
    // unknown validator
    let e = w.delegate(2, &operator_of(&addr(9)), OPEN).unwrap_err();
    assert_eq!(code(&e), ("staking", 3));
    // undelegate more than delegated
    let e = msg::undelegate(
        &w.keeper,
        &mut StateDelta::new(&w.state),
        &spb::MsgUndelegate {
            delegator_address: addr(1).to_bech32(),
            validator_address: v1.clone(),
            amount: Some(Coin::new(BASE_DENOM, 5000 * OPEN).to_proto()),
        },
    )
    .unwrap_err();
    assert_eq!(code(&e), ("staking", 22));
    let e = msg::undelegate(
        &w.keeper,
        &mut StateDelta::new(&w.state),
        &spb::MsgUndelegate {
            delegator_address: addr(4).to_bech32(),
            validator_address: v1.clone(),
            amount: Some(Coin::new(BASE_DENOM, OPEN).to_proto()),
        },
    )
    .unwrap_err();
    assert_eq!(code(&e), ("staking", 19));
    // wrong denom
    let e = msg::delegate(
        &w.keeper,
        &mut w.state,
        &spb::MsgDelegate {
            delegator_address: addr(2).to_bech32(),
            validator_address: v1.clone(),
            amount: Some(Coin::new("uatom", 5).to_proto()),
        },
    )
    .unwrap_err();
    assert_eq!(code(&e), ("sdk", 10));
    // Checks fail before writes, so the state is unchanged: no half-applied message.
    assert_eq!(w.state.changes(), &snapshot);
}

#[test]
fn redelegation_moves_stake_and_blocks_transitive_hops() {
    let mut w = World::new();
    let v1 = w.create(1, 1000 * OPEN, "0.1", "0.2").unwrap();
    let v2 = w.create(2, 1000 * OPEN, "0.1", "0.2").unwrap();
    let v3 = w.create(3, 1000 * OPEN, "0.1", "0.2").unwrap();
    w.end_block();
    w.delegate(4, &v1, 500 * OPEN).unwrap();
    let redelegate = |w: &mut World, src: &str, dst: &str, amount: u128| {
        msg::redelegate(
            &w.keeper,
            &mut w.state,
            &spb::MsgBeginRedelegate {
                delegator_address: addr(4).to_bech32(),
                validator_src_address: src.into(),
                validator_dst_address: dst.into(),
                amount: Some(Coin::new(BASE_DENOM, amount).to_proto()),
            },
        )
    };
    redelegate(&mut w, &v1, &v2, 200 * OPEN).unwrap();
    let updates = w.end_block();
    let powers: Vec<i64> = updates.iter().map(|u| u.power).collect();
    assert!(powers.contains(&1300) && powers.contains(&1200), "{powers:?}");
    assert_eq!(code(&redelegate(&mut w, &v2, &v3, 10 * OPEN).unwrap_err()), ("staking", 32), "transitive");
    assert_eq!(code(&redelegate(&mut w, &v1, &v1, 10 * OPEN).unwrap_err()), ("staking", 29));
    // After the unbonding period the redelegation matures and may move on.
    w.next_block(22 * 24 * 3600);
    w.end_block();
    redelegate(&mut w, &v2, &v3, 10 * OPEN).unwrap();
    w.end_block();
}

#[test]
fn downtime_jails_and_slashes_and_unjail_restores() {
    let mut w = World::new();
    let _v1 = w.create(1, 4000 * OPEN, "0.1", "0.2").unwrap();
    let v2 = w.create(2, 1000 * OPEN, "0.1", "0.2").unwrap();
    w.end_block();
    w.delegate(3, &v2, 1000 * OPEN).unwrap();
    // An unbonding that starts after the infraction height shares the slash.
    w.end_block();
    let supply = w.bank.supply(&w.state, BASE_DENOM).unwrap();
    let mut jailed_at = None;
    for i in 0..20 {
        w.next_block(5);
        let votes = w.votes(&[(1, true), (2, false)]);
        slashing::handle_votes(&w.keeper, &mut w.state, w.info, &votes).unwrap();
        let updates = w.end_block();
        if jailed_at.is_none() && w.keeper.must_validator(&w.state, &v2).unwrap().jailed {
            jailed_at = Some(i);
            assert!(updates.iter().any(|u| u.power == 0), "jailed validator leaves CometBFT's set");
        }
    }
    assert!(jailed_at.is_some(), "missing > 50 % of a 10-block window jails");
    let v = w.keeper.must_validator(&w.state, &v2).unwrap();
    assert_eq!(tokens(&v), 1980 * OPEN, "1 % downtime slash");
    assert_eq!(w.bank.supply(&w.state, BASE_DENOM).unwrap(), supply - 20 * OPEN, "slashed tokens are burned");
    // Too early to unjail.
    let unjail = |w: &mut World| {
        msg::unjail(&w.keeper, &mut w.state, &cosmos_sdk_proto::cosmos::slashing::v1beta1::MsgUnjail { validator_addr: v2.clone() })
    };
    assert_eq!(code(&unjail(&mut w).unwrap_err()), ("slashing", 4));
    w.next_block(61);
    unjail(&mut w).unwrap();
    let updates = w.end_block();
    assert_eq!(updates.iter().find(|u| u.power == 1980).map(|u| u.power), Some(1980), "back in the set");
    assert_eq!(code(&unjail(&mut w).unwrap_err()), ("slashing", 5));
}

#[test]
fn double_sign_tombstones_and_slashes_unbondings_after_the_infraction() {
    let mut w = World::new();
    let _v1 = w.create(1, 4000 * OPEN, "0.1", "0.2").unwrap();
    let v2 = w.create(2, 1000 * OPEN, "0.1", "0.2").unwrap();
    w.end_block();
    w.delegate(3, &v2, 1000 * OPEN).unwrap();
    w.end_block();
    let infraction = w.info.height;
    w.next_block(5);
    msg::undelegate(
        &w.keeper,
        &mut w.state,
        &spb::MsgUndelegate {
            delegator_address: addr(3).to_bech32(),
            validator_address: v2.clone(),
            amount: Some(Coin::new(BASE_DENOM, 1000 * OPEN).to_proto()),
        },
    )
    .unwrap();
    w.end_block();
    w.next_block(5);
    let ev = slashing::Evidence { address: consensus_address(&cons_key(2)), power: 2000, height: infraction + 1 };
    slashing::handle_evidence(&w.keeper, &mut w.state, w.info, std::slice::from_ref(&ev)).unwrap();
    w.end_block();
    let v = w.keeper.must_validator(&w.state, &v2).unwrap();
    assert!(v.jailed);
    // 5 % of 2000 OPEN = 100 OPEN: 50 from the unbonding entry, 50 from the validator.
    assert_eq!(tokens(&v), 950 * OPEN);
    let ubd: spb::UnbondingDelegation =
        openledger_core::StateReadExt::get_proto(&w.state, &crate::state_key::unbonding(&addr(3).to_bech32(), &v2)).unwrap().unwrap();
    assert_eq!(ubd.entries[0].balance, (950 * OPEN).to_string());
    // Tombstoned: evidence again does nothing, unjail is refused forever.
    slashing::handle_evidence(&w.keeper, &mut w.state, w.info, &[ev]).unwrap();
    assert_eq!(tokens(&w.keeper.must_validator(&w.state, &v2).unwrap()), 950 * OPEN);
    w.next_block(365 * 24 * 3600);
    let e = msg::unjail(&w.keeper, &mut w.state, &cosmos_sdk_proto::cosmos::slashing::v1beta1::MsgUnjail { validator_addr: v2.clone() })
        .unwrap_err();
    assert_eq!(code(&e), ("slashing", 9));
}

#[test]
fn slash_reduces_delegator_rewards_after_the_slash_f1() {
    let mut w = World::new();
    let v1 = w.create(1, 1000 * OPEN, "0", "0.2").unwrap();
    w.end_block();
    w.delegate(2, &v1, 1000 * OPEN).unwrap();
    w.end_block();
    w.next_block(5);
    let votes = w.votes(&[(1, true)]);
    distribution::allocate(&w.keeper, &mut w.state, w.info, &votes).unwrap();
    w.keeper.slash(&mut w.state, w.info, &v1, Dec::parse("0.5").unwrap(), "test").unwrap();
    w.next_block(5);
    let votes = w.votes(&[(1, true)]);
    distribution::allocate(&w.keeper, &mut w.state, w.info, &votes).unwrap();
    w.end_block();
    // Block 1: 9.8 OPEN split 1:1; block 2: 9.8 OPEN split 1:1 on halved stakes (still 1:1).
    let paid = msg::withdraw_rewards(
        &w.keeper,
        &mut w.state,
        &dpb::MsgWithdrawDelegatorReward { delegator_address: addr(2).to_bech32(), validator_address: v1.clone() },
    )
    .unwrap();
    assert!((9_799_990..=9_800_000).contains(&paid), "{paid}");
    let outstanding = distribution::outstanding(&w.state, &v1).unwrap();
    assert!(outstanding.truncate() >= 9_799_990, "the operator's half is still outstanding: {outstanding}");
}

#[test]
fn genesis_round_trip_and_initial_set() {
    let mut w = World::new();
    let mut genesis = crate::genesis::StakeGenesis::default();
    genesis.validators.push(crate::genesis::GenesisValidator {
        operator_address: operator_of(&addr(1)),
        consensus_pubkey: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, cons_key(1)),
        moniker: "genesis".into(),
        commission_rate: "0.05".into(),
        commission_max_rate: "0.2".into(),
        commission_max_change_rate: "0.01".into(),
        min_self_delegation: OPEN,
        self_delegation: 500 * OPEN,
    });
    genesis.delegations.push(crate::genesis::GenesisDelegation {
        delegator_address: addr(2).to_bech32(),
        validator_address: operator_of(&addr(1)),
        amount: 250 * OPEN,
    });
    let updates = crate::genesis::init_genesis(&w.keeper, &mut w.state, &genesis, w.info).unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].power, 750);
    let exported = crate::genesis::export_genesis(&w.keeper, &w.state).unwrap();
    assert_eq!(exported, genesis);
    let mut bad = genesis.clone();
    bad.validators[0].self_delegation = 1;
    assert!(crate::genesis::init_genesis(&w.keeper, &mut StateDelta::new(EmptyState), &bad, w.info).is_err());
}

#[test]
fn cancel_unbonding_returns_tokens_to_the_validator() {
    let mut w = World::new();
    let v1 = w.create(1, 1000 * OPEN, "0.1", "0.2").unwrap();
    w.end_block();
    w.delegate(2, &v1, 500 * OPEN).unwrap();
    w.end_block();
    w.next_block(5);
    let height = i64::try_from(w.info.height).unwrap();
    msg::undelegate(
        &w.keeper,
        &mut w.state,
        &spb::MsgUndelegate {
            delegator_address: addr(2).to_bech32(),
            validator_address: v1.clone(),
            amount: Some(Coin::new(BASE_DENOM, 300 * OPEN).to_proto()),
        },
    )
    .unwrap();
    assert_eq!(w.end_block()[0].power, 1200);
    let cancel = |w: &mut World, amount: u128, h: i64| {
        msg::cancel_unbonding(
            &w.keeper,
            &mut w.state,
            &spb::MsgCancelUnbondingDelegation {
                delegator_address: addr(2).to_bech32(),
                validator_address: v1.clone(),
                amount: Some(Coin::new(BASE_DENOM, amount).to_proto()),
                creation_height: h,
            },
        )
    };
    assert_eq!(code(&cancel(&mut w, 100 * OPEN, height + 7).unwrap_err()), ("staking", 41), "no entry at that height");
    assert_eq!(code(&cancel(&mut w, 301 * OPEN, height).unwrap_err()), ("sdk", 18), "more than the entry holds");
    cancel(&mut w, 100 * OPEN, height).unwrap();
    assert_eq!(w.end_block()[0].power, 1300);
    assert_eq!(w.balance(&Address::module(NOT_BONDED_POOL)), 200 * OPEN);
    cancel(&mut w, 200 * OPEN, height).unwrap();
    assert_eq!(w.end_block()[0].power, 1500);
    let left: Option<spb::UnbondingDelegation> =
        openledger_core::StateReadExt::get_proto(&w.state, &crate::state_key::unbonding(&addr(2).to_bech32(), &v1)).unwrap();
    assert!(left.is_none(), "fully cancelled entry is removed");
}

#[test]
fn edit_validator_enforces_commission_rules() {
    let mut w = World::new();
    let v1 = w.create(1, 1000 * OPEN, "0.10", "0.20").unwrap();
    w.end_block();
    let edit = |w: &mut World, rate: &str| {
        msg::edit_validator(
            &w.keeper,
            &mut w.state,
            &spb::MsgEditValidator {
                description: None,
                validator_address: v1.clone(),
                commission_rate: dec_to_proto(Dec::parse(rate).unwrap()),
                min_self_delegation: String::new(),
            },
        )
    };
    assert_eq!(code(&edit(&mut w, "0.105").unwrap_err()), ("staking", 12), "not twice in 24h");
    w.next_block(24 * 3600);
    assert_eq!(code(&edit(&mut w, "0.25").unwrap_err()), ("staking", 11), "above max rate");
    assert_eq!(code(&edit(&mut w, "0.15").unwrap_err()), ("staking", 15), "above max daily change");
    edit(&mut w, "0.105").unwrap();
    let v = w.keeper.must_validator(&w.state, &v1).unwrap();
    assert_eq!(v.commission.unwrap().commission_rates.unwrap().rate, dec_to_proto(Dec::parse("0.105").unwrap()));
    let lower_min = msg::edit_validator(
        &w.keeper,
        &mut w.state,
        &spb::MsgEditValidator {
            description: None,
            validator_address: v1.clone(),
            commission_rate: String::new(),
            min_self_delegation: "1".into(),
        },
    );
    assert_eq!(code(&lower_min.unwrap_err()), ("staking", 17));
}

#[test]
fn slash_reaches_redelegations_made_after_the_infraction() {
    let mut w = World::new();
    let v1 = w.create(1, 1000 * OPEN, "0.1", "0.2").unwrap();
    let v2 = w.create(2, 1000 * OPEN, "0.1", "0.2").unwrap();
    w.end_block();
    w.delegate(3, &v1, 400 * OPEN).unwrap();
    w.end_block();
    let infraction = w.info.height;
    w.next_block(5);
    msg::redelegate(
        &w.keeper,
        &mut w.state,
        &spb::MsgBeginRedelegate {
            delegator_address: addr(3).to_bech32(),
            validator_src_address: v1.clone(),
            validator_dst_address: v2.clone(),
            amount: Some(Coin::new(BASE_DENOM, 400 * OPEN).to_proto()),
        },
    )
    .unwrap();
    w.end_block();
    w.next_block(5);
    // 10 % slash of v1 for an infraction before the redelegation: 140 OPEN in total, 40 of it
    // from the redelegated stake now at v2, 100 from v1's own tokens.
    let burned = w.keeper.slash_at(&mut w.state, w.info, &v1, infraction, 1400, Dec::parse("0.1").unwrap(), "test").unwrap();
    assert_eq!(burned, 140 * OPEN);
    assert_eq!(tokens(&w.keeper.must_validator(&w.state, &v1).unwrap()), 900 * OPEN);
    assert_eq!(tokens(&w.keeper.must_validator(&w.state, &v2).unwrap()), 1360 * OPEN);
    w.end_block();
}
