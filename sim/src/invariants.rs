//! The invariants checked after every simulated block, each on the committed state as the
//! keepers store it ([`World`]) plus the distribution totals. A violation is a message naming
//! the invariant and the numbers; the runner stops at the first block that has any.

use std::collections::BTreeMap;

use cosmos_sdk_proto::cosmos::gov::v1::ProposalStatus;
use cosmos_sdk_proto::cosmos::staking::v1beta1::BondStatus;
use openledger_app::app::App;
use openledger_core::coin::BASE_DENOM;
use openledger_core::state::LatestSnapshot;
use openledger_core::{Address, Dec};
use openledger_proto::openledger::datanet::v1::ContributionStatus;
use openledger_proto::openledger::inference::v1::RequestStatus;
use openledger_proto::openledger::model::v1::JobStatus;
use openledger_stake::params::dec_from_proto;

use crate::world::World;

/// What the invariants compare against across blocks.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// uopen supply at genesis.
    pub genesis_supply: u128,
    /// uopen burned so far, summed from the `burn` events of every block.
    pub burned: u128,
    /// Community incentives balance after the previous block (it only ever pays out).
    pub incentives: u128,
}

/// The names of the invariants, in the order [`check`] runs them (for the report).
pub const NAMES: [&str; 12] = [
    "balances parse as unsigned integers (none negative or overflowing)",
    "total supply = sum of all balances, per denom",
    "uopen supply = genesis supply - recorded burns",
    "bonded pool = sum of bonded validators' tokens",
    "not-bonded pool = unbonding/unbonded validators' tokens + unbonding delegation entries",
    "every validator's delegator shares = sum of its delegations' shares",
    "distribution account = community pool + validators' outstanding rewards (exact decimals)",
    "distribution paid out <= allocated to validators; community incentives never grow",
    "gov account = sum of deposits held; each open proposal's total deposit = its deposit records",
    "inference escrow = sum of pending requests' fees",
    "model (fine-tune) escrow = sum of queued and running jobs' fees",
    "datanet bond escrow = sum of pending contributions' bonds",
];

fn coin_amount(c: &cosmos_sdk_proto::cosmos::base::v1beta1::Coin) -> Option<u128> {
    (c.denom == BASE_DENOM).then(|| c.amount.parse::<u128>().ok()).flatten()
}

fn dec(text: &str) -> Dec {
    dec_from_proto(text).unwrap_or(Dec(u128::MAX))
}

/// Checks every invariant on `world`; returns the violations.
pub fn check(app: &App, world: &World, ledger: &mut Ledger) -> Vec<String> {
    let mut out = Vec::new();
    let module = |name: &str| world.balance(&Address::module(name).to_bech32());

    // Balances and supply.
    for bad in &world.bad_balances {
        out.push(format!("balance does not parse as an unsigned integer: {bad}"));
    }
    let mut sums: BTreeMap<&str, u128> = BTreeMap::new();
    for coins in world.balances.values() {
        for (denom, amount) in coins {
            let e = sums.entry(denom.as_str()).or_default();
            match e.checked_add(*amount) {
                Some(v) => *e = v,
                None => out.push(format!("sum of {denom} balances overflows u128")),
            }
        }
    }
    let denoms: std::collections::BTreeSet<&str> = sums.keys().copied().chain(world.supply.keys().map(String::as_str)).collect();
    for denom in denoms {
        let total = sums.get(denom).copied().unwrap_or(0);
        let supply = world.supply.get(denom).copied().unwrap_or(0);
        if total != supply {
            out.push(format!("supply of {denom} is {supply} but the balances sum to {total}"));
        }
    }
    let supply = world.supply.get(BASE_DENOM).copied().unwrap_or(0);
    if Some(supply) != ledger.genesis_supply.checked_sub(ledger.burned) {
        out.push(format!("uopen supply {supply} != genesis supply {} - burned {} (burn events)", ledger.genesis_supply, ledger.burned));
    }

    // Staking pools.
    let mut bonded = 0u128;
    let mut not_bonded = 0u128;
    for v in &world.validators {
        let Ok(tokens) = v.tokens.parse::<u128>() else {
            out.push(format!("validator {} tokens {:?} do not parse", v.operator_address, v.tokens));
            continue;
        };
        if v.status == BondStatus::Bonded as i32 {
            bonded += tokens;
            if v.jailed {
                out.push(format!("validator {} is jailed but bonded", v.operator_address));
            }
        } else {
            not_bonded += tokens;
        }
        let shares: u128 = world.delegations.iter().filter(|d| d.validator_address == v.operator_address).map(|d| dec(&d.shares).0).sum();
        if shares != dec(&v.delegator_shares).0 {
            out.push(format!(
                "validator {}: delegator shares {} but its delegations hold {}",
                v.operator_address,
                dec(&v.delegator_shares),
                Dec(shares)
            ));
        }
    }
    let unbonding: u128 =
        world.unbondings.iter().flat_map(|u| &u.entries).map(|e| e.balance.parse::<u128>().unwrap_or(u128::MAX / 4)).sum();
    let bonded_pool = module(openledger_stake::keeper::BONDED_POOL);
    if bonded_pool != bonded {
        out.push(format!("bonded pool holds {bonded_pool} but bonded validators have {bonded} tokens"));
    }
    let not_bonded_pool = module(openledger_stake::keeper::NOT_BONDED_POOL);
    if not_bonded_pool != not_bonded + unbonding {
        out.push(format!(
            "not-bonded pool holds {not_bonded_pool} but non-bonded validators have {not_bonded} tokens and unbonding entries {unbonding}"
        ));
    }
    for d in &world.delegations {
        if !world.validators.iter().any(|v| v.operator_address == d.validator_address) {
            out.push(format!("delegation of {} to missing validator {}", d.delegator_address, d.validator_address));
        }
    }

    // Distribution.
    let snap = LatestSnapshot(app.storage().clone());
    let pool = openledger_stake::distribution::community_pool(&snap);
    let mut expected = pool.as_ref().map(|d| d.0).unwrap_or(0);
    if let Err(e) = &pool {
        out.push(format!("community pool unreadable: {e}"));
    }
    let mut parts = vec![format!("community pool {}", Dec(expected))];
    for v in &world.validators {
        match openledger_stake::distribution::outstanding(&snap, &v.operator_address) {
            Ok(o) => {
                expected += o.0;
                parts.push(format!("{} outstanding {o}", v.operator_address));
            }
            Err(e) => out.push(format!("outstanding rewards of {} unreadable: {e}", v.operator_address)),
        }
    }
    let dist = module(openledger_stake::keeper::DISTRIBUTION_ACCOUNT);
    if Dec::from_int(dist).map(|d| d.0) != Ok(expected) {
        out.push(format!(
            "distribution account holds {dist} but community pool + outstanding rewards = {} ({})",
            Dec(expected),
            parts.join(", ")
        ));
    }
    match openledger_stake::distribution::totals(&snap) {
        Ok((allocated, paid)) if paid > allocated => out.push(format!("distribution paid {paid} > allocated {allocated}")),
        Ok(_) => {}
        Err(e) => out.push(format!("distribution totals unreadable: {e}")),
    }
    let incentives = module(openledger_stake::keeper::COMMUNITY_INCENTIVES);
    if incentives > ledger.incentives {
        out.push(format!("community incentives grew from {} to {incentives}", ledger.incentives));
    }
    ledger.incentives = incentives;

    // Gov deposits.
    let held: u128 = world.deposits.iter().flat_map(|d| &d.amount).filter_map(coin_amount).sum();
    let gov = module(openledger_gov::GOV_MODULE);
    if gov != held {
        out.push(format!("gov account holds {gov} but deposit records sum to {held}"));
    }
    for p in &world.proposals {
        let open = p.status == ProposalStatus::DepositPeriod as i32 || p.status == ProposalStatus::VotingPeriod as i32;
        let records: u128 = world.deposits.iter().filter(|d| d.proposal_id == p.id).flat_map(|d| &d.amount).filter_map(coin_amount).sum();
        let total: u128 = p.total_deposit.iter().filter_map(coin_amount).sum();
        if open && records != total {
            out.push(format!("proposal {} total deposit {total} but its deposit records sum to {records}", p.id));
        }
        if !open && records != 0 {
            out.push(format!("proposal {} is closed (status {}) but still holds deposits {records}", p.id, p.status));
        }
    }

    // Inference escrow.
    let pending: u128 = world
        .requests
        .iter()
        .filter(|r| r.status == RequestStatus::Pending as i32)
        .filter_map(|r| r.fee.as_ref().and_then(coin_amount))
        .sum();
    let escrow = module(openledger_inference::keeper::INFERENCE_ACCOUNT);
    if escrow != pending {
        out.push(format!("inference escrow holds {escrow} but pending requests' fees sum to {pending}"));
    }

    // Fine-tune escrow.
    let active: u128 = world
        .jobs
        .iter()
        .filter(|j| j.status == JobStatus::Queued as i32 || j.status == JobStatus::Running as i32)
        .filter_map(|j| j.fee.as_ref().and_then(coin_amount))
        .sum();
    let model = module(openledger_model::MODEL_ACCOUNT);
    if model != active {
        out.push(format!("fine-tune escrow holds {model} but queued/running jobs' fees sum to {active}"));
    }

    // Datanet bonds.
    let bonds: u128 = world
        .contributions
        .iter()
        .filter(|c| c.status == ContributionStatus::Pending as i32)
        .filter_map(|c| c.bond.as_ref().and_then(coin_amount))
        .sum();
    let bonds_account = module(openledger_datanet::BONDS_ACCOUNT);
    if bonds_account != bonds {
        out.push(format!("datanet bond escrow holds {bonds_account} but pending contributions' bonds sum to {bonds}"));
    }
    out
}
