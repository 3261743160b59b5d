//! The random txs of a simulated block. Each action builds real signed txs (SIGN_MODE_DIRECT or
//! LEGACY_AMINO_JSON at random) from the committed state ([`World`]): valid ones that may still
//! fail when an earlier tx of the same block changed their ground (counted, with the reason),
//! and invalid ones that must fail, in the ante (bad signature, wrong sequence, fee below the
//! minimum, undecodable bytes, unknown signer) or in their messages (insufficient funds, bad
//! denoms, blocked recipients, missing validators, proposals, versions, fees below a price).

use std::collections::BTreeMap;

use cosmos_sdk_proto::cosmos::bank::v1beta1 as bankpb;
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin as ProtoCoin;
use cosmos_sdk_proto::cosmos::distribution::v1beta1 as distpb;
use cosmos_sdk_proto::cosmos::gov::v1 as govpb;
use cosmos_sdk_proto::cosmos::gov::v1beta1 as gov1b1;
use cosmos_sdk_proto::cosmos::slashing::v1beta1 as slashpb;
use cosmos_sdk_proto::cosmos::staking::v1beta1 as spb;
use cosmos_sdk_proto::cosmos::tx::v1beta1::TxRaw;
use cosmos_sdk_proto::Any;
use openledger_app::client::{sign_tx, SignModeChoice, TxSpec};
use openledger_app::keys::AccountKey;
use openledger_core::coin::BASE_DENOM;
use openledger_core::state::LatestSnapshot;
use openledger_core::{Address, Dec};
use openledger_proto::openledger::datanet::v1 as dpb;
use openledger_proto::openledger::inference::v1 as ipb;
use openledger_proto::openledger::model::v1 as mpb;
use openledger_stake::keeper::operator_of;
use openledger_stake::params::{dec_from_proto, dec_to_proto};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::world::World;
use crate::{Sim, CHAIN_ID};

/// Whether a planned tx may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Built to succeed (it may still fail when its ground changed earlier in the block).
    Valid,
    /// Must fail; success is a simulation failure.
    Invalid,
}

/// One tx of the block being planned.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Signed tx bytes.
    pub tx: Vec<u8>,
    /// Whether it may succeed.
    pub expect: Expect,
    /// `module: action`, the report's key.
    pub kind: String,
    /// What exactly was tried.
    pub note: String,
}

/// Gas of an ordinary tx.
const GAS: u64 = 400_000;
/// Gas of datanet and model txs.
const BIG_GAS: u64 = 2_000_000;
/// Minimum fee at the genesis gas price (0.025 uopen).
fn min_fee(gas: u64) -> u128 {
    (u128::from(gas) * 25).div_ceil(1000)
}
/// More than the whole supply: no account can ever hold it.
const UNAFFORDABLE: u128 = 2_000_000_000 * 1_000_000;

fn any(type_url: &str, m: impl Message) -> Any {
    Any { type_url: type_url.into(), value: m.encode_to_vec() }
}

fn coin(amount: u128) -> ProtoCoin {
    ProtoCoin { denom: BASE_DENOM.into(), amount: amount.to_string() }
}

fn bech(k: &AccountKey) -> String {
    k.address().to_bech32()
}

fn hash_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// `shares` (a proto Dec) as whole units, rounded down.
fn whole(shares: &str) -> u128 {
    dec_from_proto(shares).map(|d: Dec| d.truncate()).unwrap_or(0)
}

/// Plans a block of txs.
struct Planner<'a> {
    sim: &'a mut Sim,
    world: &'a World,
    snap: LatestSnapshot,
    out: Vec<Planned>,
    /// Sequence-bumping txs planned per signer in this block.
    pending: BTreeMap<String, u64>,
}

/// The signers of the simulation (cloned so the planner can borrow the sim mutably).
fn signer_keys(sim: &Sim) -> Vec<AccountKey> {
    sim.actors.signers().into_iter().cloned().collect()
}

impl Planner<'_> {
    fn account(&self, key: &AccountKey) -> Option<(u64, u64)> {
        openledger_auth::AuthKeeper.account(&self.snap, &key.address()).ok().flatten().map(|a| (a.base().account_number, a.base().sequence))
    }

    fn mode(&mut self) -> SignModeChoice {
        if self.sim.rng().chance(50) {
            SignModeChoice::Direct
        } else {
            SignModeChoice::AminoJson
        }
    }

    /// Signs at the signer's next sequence plus `offset`; `None` when it has no account.
    fn sign(&mut self, key: &AccountKey, msgs: Vec<Any>, gas: u64, fee: u128, offset: u64) -> Option<Vec<u8>> {
        let (number, sequence) = self.account(key)?;
        let pending = self.pending.get(&bech(key)).copied().unwrap_or(0);
        let mode = self.mode();
        sign_tx(&TxSpec {
            key,
            chain_id: CHAIN_ID,
            account_number: number,
            sequence: sequence + pending + offset,
            msgs,
            fee: vec![coin(fee)],
            gas_limit: gas,
            memo: String::new(),
            mode,
        })
        .ok()
    }

    /// A tx whose ante passes (fee paid, sequence bumped): `expect` says whether its messages
    /// must fail.
    fn push(&mut self, key: &AccountKey, msgs: Vec<Any>, gas: u64, expect: Expect, kind: &str, note: String) {
        if let Some(tx) = self.sign(key, msgs, gas, min_fee(gas), 0) {
            *self.pending.entry(bech(key)).or_default() += 1;
            self.out.push(Planned { tx, expect, kind: kind.into(), note });
        }
    }

    fn valid(&mut self, key: &AccountKey, msgs: Vec<Any>, gas: u64, kind: &str) {
        self.push(key, msgs, gas, Expect::Valid, kind, String::new());
    }

    fn invalid(&mut self, key: &AccountKey, msgs: Vec<Any>, gas: u64, kind: &str, note: &str) {
        self.push(key, msgs, gas, Expect::Invalid, kind, note.into());
    }

    /// A tx the ante must reject (no sequence bump).
    fn ante_invalid(&mut self, tx: Vec<u8>, kind: &str, note: &str) {
        self.out.push(Planned { tx, expect: Expect::Invalid, kind: kind.into(), note: note.into() });
    }

    /// A signer with at least `min` uopen and an account.
    fn funded_signer(&mut self, keys: &[AccountKey], min: u128) -> Option<AccountKey> {
        let candidates: Vec<&AccountKey> =
            keys.iter().filter(|k| self.world.balance(&bech(k)) >= min && self.account(k).is_some()).collect();
        self.sim.rng().pick(&candidates).map(|k| (*k).clone())
    }

    fn key_of_address<'k>(keys: &'k [AccountKey], address: &str) -> Option<&'k AccountKey> {
        keys.iter().find(|k| bech(k) == address)
    }

    fn key_of_operator<'k>(keys: &'k [AccountKey], operator: &str) -> Option<&'k AccountKey> {
        keys.iter().find(|k| operator_of(&k.address()) == operator)
    }

    fn random_validator(&mut self) -> Option<String> {
        let ops: Vec<String> = self.world.validators.iter().map(|v| v.operator_address.clone()).collect();
        self.sim.rng().pick(&ops).cloned()
    }
}

/// Action weights and names, in the order of [`act`].
const ACTIONS: [(&str, u64); 44] = [
    ("bank: send", 14),
    ("bank: multi-send", 3),
    ("bank: send beyond balance", 2),
    ("bank: send of an unknown denom", 2),
    ("bank: send to a module account", 1),
    ("ante: wrong sequence", 1),
    ("ante: bad signature", 1),
    ("ante: fee below minimum", 1),
    ("ante: undecodable bytes", 1),
    ("ante: unknown signer", 1),
    ("staking: delegate", 6),
    ("staking: undelegate", 4),
    ("staking: redelegate", 3),
    ("staking: cancel unbonding", 2),
    ("staking: create validator", 1),
    ("staking: create validator, taken key", 1),
    ("staking: delegate to missing validator", 1),
    ("staking: undelegate beyond delegation", 1),
    ("distribution: withdraw rewards", 3),
    ("distribution: withdraw commission", 2),
    ("distribution: fund community pool", 1),
    ("distribution: set withdraw address", 1),
    ("slashing: unjail", 3),
    ("gov: submit proposal", 2),
    ("gov: deposit", 3),
    ("gov: vote", 5),
    ("gov: vote on unknown proposal", 1),
    ("gov: deposit of unknown denom", 1),
    ("datanet: create", 2),
    ("datanet: contribute", 5),
    ("datanet: contribute bad row", 1),
    ("datanet: review", 5),
    ("datanet: review by outsider", 1),
    ("datanet: publish", 3),
    ("model: register base model", 1),
    ("model: register adapter", 2),
    ("model: adapter pinning missing version", 1),
    ("model: set price", 1),
    ("inference: register executor", 1),
    ("inference: request", 5),
    ("inference: request below price", 1),
    ("fine-tune: create job", 2),
    ("fine-tune: fee below minimum", 1),
    ("gov: proposal without messages", 1),
];

/// The txs of the next block (0 to 10 of them).
pub fn plan_block(sim: &mut Sim, world: &World) -> Vec<Planned> {
    let keys = signer_keys(sim);
    let n = sim.rng().below(11);
    let snap = LatestSnapshot(sim.app.storage().clone());
    let mut p = Planner { sim, world, snap, out: Vec::new(), pending: BTreeMap::new() };
    let weights: Vec<u64> = ACTIONS.iter().map(|(_, w)| *w).collect();
    for _ in 0..n {
        let i = p.sim.rng().weighted(&weights);
        act(&mut p, &keys, i);
    }
    p.out
}

#[allow(clippy::too_many_lines)]
fn act(p: &mut Planner<'_>, keys: &[AccountKey], action: usize) {
    let kind = ACTIONS[action].0;
    let fee = min_fee(BIG_GAS);
    let Some(s) = p.funded_signer(keys, fee * 4 + 1_000_000) else { return };
    let sb = p.world.balance(&bech(&s));
    let world = p.world;
    let send = |from: &AccountKey, to: &str, c: ProtoCoin| {
        any("/cosmos.bank.v1beta1.MsgSend", bankpb::MsgSend { from_address: bech(from), to_address: to.into(), amount: vec![c] })
    };
    match action {
        0 => {
            let to = p.sim.rng().pick(keys).map(bech).unwrap_or_default();
            let amount = p.sim.rng().between(1, sb / 10);
            p.valid(&s, vec![send(&s, &to, coin(amount))], GAS, kind);
        }
        1 => {
            let a = p.sim.rng().pick(keys).map(bech).unwrap_or_default();
            let b = p.sim.rng().pick(keys).map(bech).unwrap_or_default();
            let (x, y) = (p.sim.rng().between(1, sb / 20), p.sim.rng().between(1, sb / 20));
            let multi = bankpb::MsgMultiSend {
                inputs: vec![bankpb::Input { address: bech(&s), coins: vec![coin(x + y)] }],
                outputs: vec![bankpb::Output { address: a, coins: vec![coin(x)] }, bankpb::Output { address: b, coins: vec![coin(y)] }],
            };
            p.valid(&s, vec![any("/cosmos.bank.v1beta1.MsgMultiSend", multi)], GAS, kind);
        }
        2 => {
            let to = p.sim.rng().pick(keys).map(bech).unwrap_or_default();
            p.invalid(&s, vec![send(&s, &to, coin(UNAFFORDABLE))], GAS, kind, "more than the supply");
        }
        3 => {
            let to = p.sim.rng().pick(keys).map(bech).unwrap_or_default();
            let c = ProtoCoin { denom: "ufake".into(), amount: "1".into() };
            p.invalid(&s, vec![send(&s, &to, c)], GAS, kind, "1ufake");
        }
        4 => {
            let names = [openledger_stake::keeper::FEE_COLLECTOR, openledger_stake::keeper::BONDED_POOL, openledger_gov::GOV_MODULE];
            let name = *p.sim.rng().pick(&names).unwrap_or(&names[0]);
            p.invalid(&s, vec![send(&s, &Address::module(name).to_bech32(), coin(1))], GAS, kind, name);
        }
        5 => {
            let to = bech(&s);
            if let Some(tx) = p.sign(&s, vec![send(&s, &to, coin(1))], GAS, min_fee(GAS), 7) {
                p.ante_invalid(tx, kind, "sequence + 7");
            }
        }
        6 => {
            let to = bech(&s);
            if let Some(tx) = p.sign(&s, vec![send(&s, &to, coin(1))], GAS, min_fee(GAS), 0) {
                if let Ok(mut raw) = TxRaw::decode(tx.as_slice()) {
                    let i = usize::try_from(p.sim.rng().below(64)).unwrap_or(0);
                    if let Some(b) = raw.signatures.first_mut().and_then(|sig| sig.get_mut(i)) {
                        *b ^= 0x01;
                    }
                    p.ante_invalid(raw.encode_to_vec(), kind, "one signature bit flipped");
                }
            }
        }
        7 => {
            let to = bech(&s);
            if let Some(tx) = p.sign(&s, vec![send(&s, &to, coin(1))], GAS, min_fee(GAS) - 1, 0) {
                p.ante_invalid(tx, kind, "fee one below the minimum");
            }
        }
        8 => {
            let len = 1 + p.sim.rng().below(64);
            let bytes: Vec<u8> = (0..len).map(|_| (p.sim.rng().next_u64() & 0xff) as u8).collect();
            p.ante_invalid(bytes, kind, "random bytes");
        }
        9 => {
            let ghost = p.sim.actors.ghost.clone();
            let tx = sign_tx(&TxSpec {
                key: &ghost,
                chain_id: CHAIN_ID,
                account_number: 0,
                sequence: 0,
                msgs: vec![send(&ghost, &bech(&s), coin(1))],
                fee: vec![coin(min_fee(GAS))],
                gas_limit: GAS,
                memo: String::new(),
                mode: SignModeChoice::Direct,
            });
            if let Ok(tx) = tx {
                p.ante_invalid(tx, kind, "signer without an account");
            }
        }
        10 => {
            let Some(v) = p.random_validator() else { return };
            let amount = p.sim.rng().between(1_000_000, (sb / 5).clamp(1_000_000, 100_000_000_000));
            let msg = spb::MsgDelegate { delegator_address: bech(&s), validator_address: v, amount: Some(coin(amount)) };
            p.valid(&s, vec![any("/cosmos.staking.v1beta1.MsgDelegate", msg)], GAS, kind);
        }
        11 | 12 | 18 => {
            let mine: Vec<&spb::Delegation> =
                world.delegations.iter().filter(|d| Planner::key_of_address(keys, &d.delegator_address).is_some()).collect();
            let Some(d) = p.sim.rng().pick(&mine).copied() else { return };
            let Some(k) = Planner::key_of_address(keys, &d.delegator_address).cloned() else { return };
            let max = whole(&d.shares).max(1);
            // A quarter of them move everything (a validator's operator may leave it), except
            // the dev's own bond: its validator keeps the chain alive (it never misses a block).
            let keeps_chain =
                d.delegator_address == bech(&p.sim.actors.dev) && d.validator_address == operator_of(&p.sim.actors.dev.address());
            let amount = if keeps_chain {
                p.sim.rng().between(1, (max / 100).max(1))
            } else if p.sim.rng().chance(25) {
                max
            } else {
                p.sim.rng().between(1, (max / 2).max(1))
            };
            let msg = match action {
                11 => any(
                    "/cosmos.staking.v1beta1.MsgUndelegate",
                    spb::MsgUndelegate {
                        delegator_address: d.delegator_address.clone(),
                        validator_address: d.validator_address.clone(),
                        amount: Some(coin(amount)),
                    },
                ),
                12 => {
                    let Some(dst) = p.random_validator().filter(|v| *v != d.validator_address) else { return };
                    any(
                        "/cosmos.staking.v1beta1.MsgBeginRedelegate",
                        spb::MsgBeginRedelegate {
                            delegator_address: d.delegator_address.clone(),
                            validator_src_address: d.validator_address.clone(),
                            validator_dst_address: dst,
                            amount: Some(coin(amount)),
                        },
                    )
                }
                _ => any(
                    "/cosmos.distribution.v1beta1.MsgWithdrawDelegatorReward",
                    distpb::MsgWithdrawDelegatorReward {
                        delegator_address: d.delegator_address.clone(),
                        validator_address: d.validator_address.clone(),
                    },
                ),
            };
            p.valid(&k, vec![msg], GAS, kind);
        }
        13 => {
            let mine: Vec<(&spb::UnbondingDelegation, &spb::UnbondingDelegationEntry)> = world
                .unbondings
                .iter()
                .filter(|u| Planner::key_of_address(keys, &u.delegator_address).is_some())
                .flat_map(|u| u.entries.iter().map(move |e| (u, e)))
                .collect();
            let Some((u, e)) = p.sim.rng().pick(&mine).copied() else { return };
            let Some(k) = Planner::key_of_address(keys, &u.delegator_address).cloned() else { return };
            let balance: u128 = e.balance.parse().unwrap_or(1);
            let amount = p.sim.rng().between(1, balance.max(1));
            let msg = spb::MsgCancelUnbondingDelegation {
                delegator_address: u.delegator_address.clone(),
                validator_address: u.validator_address.clone(),
                amount: Some(coin(amount)),
                creation_height: e.creation_height,
            };
            p.valid(&k, vec![any("/cosmos.staking.v1beta1.MsgCancelUnbondingDelegation", msg)], GAS, kind);
        }
        14 | 15 => {
            let free: Vec<AccountKey> = p
                .sim
                .actors
                .candidates
                .iter()
                .filter(|k| !world.validators.iter().any(|v| v.operator_address == operator_of(&k.address())))
                .cloned()
                .collect();
            let Some(k) = p.sim.rng().pick(&free).cloned() else { return };
            let pk = if action == 14 { p.sim.new_consensus_pk() } else { crate::consensus_pk("dev") };
            let bond = p.sim.rng().between(1_000_000_000, 50_000_000_000).min(p.world.balance(&bech(&k)) / 2);
            let rate = |s: &str| dec_to_proto(Dec::parse(s).unwrap_or(Dec::ZERO));
            #[allow(deprecated)]
            let msg = spb::MsgCreateValidator {
                description: Some(spb::Description { moniker: format!("sim-{}", p.sim.next_serial()), ..Default::default() }),
                commission: Some(spb::CommissionRates { rate: rate("0.1"), max_rate: rate("0.5"), max_change_rate: rate("0.05") }),
                min_self_delegation: "1000000".into(),
                delegator_address: String::new(),
                validator_address: operator_of(&k.address()),
                pubkey: Some(openledger_stake::keeper::ed25519_any(&pk)),
                value: Some(coin(bond)),
            };
            let msg = any("/cosmos.staking.v1beta1.MsgCreateValidator", msg);
            if action == 14 {
                p.valid(&k, vec![msg], GAS, kind);
            } else {
                p.invalid(&k, vec![msg], GAS, kind, "the dev validator's consensus key");
            }
        }
        16 => {
            let ghost = operator_of(&p.sim.actors.ghost.address());
            let msg = spb::MsgDelegate { delegator_address: bech(&s), validator_address: ghost, amount: Some(coin(1_000_000)) };
            p.invalid(&s, vec![any("/cosmos.staking.v1beta1.MsgDelegate", msg)], GAS, kind, "validator does not exist");
        }
        17 => {
            let Some(v) = p.random_validator() else { return };
            let msg = spb::MsgUndelegate { delegator_address: bech(&s), validator_address: v, amount: Some(coin(UNAFFORDABLE)) };
            p.invalid(&s, vec![any("/cosmos.staking.v1beta1.MsgUndelegate", msg)], GAS, kind, "more than the supply");
        }
        19 | 22 => {
            let ops: Vec<(AccountKey, &spb::Validator)> = world
                .validators
                .iter()
                .filter(|v| action == 19 || v.jailed)
                .filter_map(|v| Planner::key_of_operator(keys, &v.operator_address).map(|k| (k.clone(), v)))
                .collect();
            let Some((k, v)) = p.sim.rng().pick(&ops).cloned() else { return };
            let msg = if action == 19 {
                any(
                    "/cosmos.distribution.v1beta1.MsgWithdrawValidatorCommission",
                    distpb::MsgWithdrawValidatorCommission { validator_address: v.operator_address.clone() },
                )
            } else {
                any("/cosmos.slashing.v1beta1.MsgUnjail", slashpb::MsgUnjail { validator_addr: v.operator_address.clone() })
            };
            p.valid(&k, vec![msg], GAS, kind);
        }
        20 => {
            let amount = p.sim.rng().between(1, 10_000_000);
            let msg = distpb::MsgFundCommunityPool { amount: vec![coin(amount)], depositor: bech(&s) };
            p.valid(&s, vec![any("/cosmos.distribution.v1beta1.MsgFundCommunityPool", msg)], GAS, kind);
        }
        21 => {
            let to = p.sim.rng().pick(keys).map(bech).unwrap_or_default();
            let msg = distpb::MsgSetWithdrawAddress { delegator_address: bech(&s), withdraw_address: to };
            p.valid(&s, vec![any("/cosmos.distribution.v1beta1.MsgSetWithdrawAddress", msg)], GAS, kind);
        }
        23 => {
            let authority = openledger_gov::gov_authority().to_bech32();
            let messages = match p.sim.rng().below(2) {
                0 => {
                    let to = p.sim.rng().pick(keys).map(bech).unwrap_or_default();
                    let amount = p.sim.rng().between(1, 5_000_000);
                    vec![any(
                        "/cosmos.distribution.v1beta1.MsgCommunityPoolSpend",
                        distpb::MsgCommunityPoolSpend { authority, recipient: to, amount: vec![coin(amount)] },
                    )]
                }
                _ => {
                    let Ok(mut params) = openledger_stake::params::staking(&p.snap) else { return };
                    params.max_validators = 50 + u32::try_from(p.sim.rng().below(50)).unwrap_or(0);
                    vec![any("/cosmos.staking.v1beta1.MsgUpdateParams", spb::MsgUpdateParams { authority, params: Some(params) })]
                }
            };
            let deposit = p.sim.rng().between(0, 2_000_000);
            let serial = p.sim.next_serial();
            let msg = govpb::MsgSubmitProposal {
                messages,
                initial_deposit: if deposit == 0 { Vec::new() } else { vec![coin(deposit)] },
                proposer: bech(&s),
                metadata: String::new(),
                title: format!("sim proposal {serial}"),
                summary: "randomized simulation".into(),
                expedited: false,
            };
            p.valid(&s, vec![any("/cosmos.gov.v1.MsgSubmitProposal", msg)], GAS, kind);
        }
        43 => {
            let msg = govpb::MsgSubmitProposal {
                messages: Vec::new(),
                initial_deposit: vec![coin(1_000_000)],
                proposer: bech(&s),
                metadata: String::new(),
                title: "text only".into(),
                summary: "no messages".into(),
                expedited: false,
            };
            p.invalid(&s, vec![any("/cosmos.gov.v1.MsgSubmitProposal", msg)], GAS, kind, "a proposal needs messages here");
        }
        24 | 25 => {
            let want = if action == 24 { govpb::ProposalStatus::DepositPeriod } else { govpb::ProposalStatus::VotingPeriod };
            let open: Vec<u64> = world.proposals.iter().filter(|pr| pr.status == want as i32).map(|pr| pr.id).collect();
            let Some(id) = p.sim.rng().pick(&open).copied() else { return };
            let msg = if action == 24 {
                let amount = p.sim.rng().between(1, 1_000_000);
                if p.sim.rng().chance(50) {
                    any("/cosmos.gov.v1.MsgDeposit", govpb::MsgDeposit { proposal_id: id, depositor: bech(&s), amount: vec![coin(amount)] })
                } else {
                    any(
                        "/cosmos.gov.v1beta1.MsgDeposit",
                        gov1b1::MsgDeposit { proposal_id: id, depositor: bech(&s), amount: vec![coin(amount)] },
                    )
                }
            } else {
                let option = 1 + i32::try_from(p.sim.rng().below(4)).unwrap_or(0);
                match p.sim.rng().below(3) {
                    0 => {
                        any("/cosmos.gov.v1.MsgVote", govpb::MsgVote { proposal_id: id, voter: bech(&s), option, metadata: String::new() })
                    }
                    1 => any("/cosmos.gov.v1beta1.MsgVote", gov1b1::MsgVote { proposal_id: id, voter: bech(&s), option }),
                    _ => any(
                        "/cosmos.gov.v1.MsgVoteWeighted",
                        govpb::MsgVoteWeighted {
                            proposal_id: id,
                            voter: bech(&s),
                            options: vec![
                                govpb::WeightedVoteOption { option, weight: "0.7".into() },
                                govpb::WeightedVoteOption { option: 1 + option % 4, weight: "0.3".into() },
                            ],
                            metadata: String::new(),
                        },
                    ),
                }
            };
            p.valid(&s, vec![msg], GAS, kind);
        }
        26 => {
            let msg = govpb::MsgVote { proposal_id: 1_000_000_000, voter: bech(&s), option: 1, metadata: String::new() };
            p.invalid(&s, vec![any("/cosmos.gov.v1.MsgVote", msg)], GAS, kind, "proposal 1e9");
        }
        27 => {
            let open: Vec<u64> = world.proposals.iter().filter(|pr| pr.status <= 2).map(|pr| pr.id).collect();
            let id = p.sim.rng().pick(&open).copied().unwrap_or(1);
            let c = ProtoCoin { denom: "ufake".into(), amount: "5".into() };
            let msg = govpb::MsgDeposit { proposal_id: id, depositor: bech(&s), amount: vec![c] };
            p.invalid(&s, vec![any("/cosmos.gov.v1.MsgDeposit", msg)], GAS, kind, "5ufake");
        }
        28 => {
            let curator_vote = p.sim.rng().chance(40);
            let curators = if curator_vote {
                let mut picked: Vec<String> = Vec::new();
                for _ in 0..3 {
                    if let Some(k) = p.sim.rng().pick(keys) {
                        let a = bech(k);
                        if !picked.contains(&a) {
                            picked.push(a);
                        }
                    }
                }
                picked.into_iter().map(|address| dpb::Curator { address, weight: 1 + p.sim.rng().below(3) }).collect()
            } else {
                Vec::new()
            };
            let bond = if p.sim.rng().chance(50) { p.sim.rng().between(1_000, 1_000_000) } else { 0 };
            let json = p.sim.rng().chance(50);
            let serial = p.sim.next_serial();
            let msg = dpb::MsgCreateDatanet {
                owner: bech(&s),
                name: format!("sim-datanet-{serial}"),
                description: String::new(),
                license: "CC0-1.0".into(),
                schema: Some(dpb::RowSchema {
                    kind: if json { dpb::SchemaKind::Json as i32 } else { dpb::SchemaKind::Text as i32 },
                    required_fields: if json { vec!["prompt".into()] } else { Vec::new() },
                }),
                policy: Some(dpb::CurationPolicy {
                    mode: if curator_vote { dpb::CurationMode::CuratorVote as i32 } else { dpb::CurationMode::OwnerReview as i32 },
                    curators,
                    contribution_bond: (bond > 0).then(|| coin(bond)),
                    reject_burn_bps: u32::try_from(p.sim.rng().below(10_001)).unwrap_or(0),
                    max_row_bytes: 1_000,
                }),
            };
            p.valid(&s, vec![any("/openledger.datanet.v1.MsgCreateDatanet", msg)], BIG_GAS, kind);
        }
        29 | 30 => {
            let Some(d) = p.sim.rng().pick(&world.datanets).cloned() else { return };
            let json = d.schema.as_ref().is_some_and(|s| s.kind == dpb::SchemaKind::Json as i32);
            let rows: Vec<Vec<u8>> = if action == 29 {
                (0..1 + p.sim.rng().below(4))
                    .map(|_| {
                        let serial = p.sim.next_serial();
                        if json {
                            format!(r#"{{"prompt":"q{serial}","completion":"a{serial}"}}"#).into_bytes()
                        } else {
                            format!("simulated row number {serial} of datanet {}", d.id).into_bytes()
                        }
                    })
                    .collect()
            } else if json {
                vec![b"not json at all".to_vec()]
            } else {
                vec![vec![b'x'; 5_000]]
            };
            let bond = d.policy.as_ref().and_then(|pol| pol.contribution_bond.clone()).filter(|c| c.amount != "0");
            let msg = dpb::MsgSubmitContribution { contributor: bech(&s), datanet_id: d.id, rows, bond };
            let msg = any("/openledger.datanet.v1.MsgSubmitContribution", msg);
            if action == 29 {
                p.valid(&s, vec![msg], BIG_GAS, kind);
            } else {
                p.invalid(&s, vec![msg], BIG_GAS, kind, if json { "row not JSON" } else { "row over max_row_bytes" });
            }
        }
        31 | 32 => {
            let pending: Vec<&dpb::Contribution> =
                world.contributions.iter().filter(|c| c.status == dpb::ContributionStatus::Pending as i32).collect();
            let Some(c) = p.sim.rng().pick(&pending).copied() else { return };
            let Some(d) = world.datanets.iter().find(|d| d.id == c.datanet_id) else { return };
            let curators: Vec<String> =
                d.policy.as_ref().map(|pol| pol.curators.iter().map(|c| c.address.clone()).collect()).unwrap_or_default();
            let reviewer = if action == 31 {
                if curators.is_empty() {
                    Planner::key_of_address(keys, &d.owner).cloned()
                } else {
                    let ks: Vec<AccountKey> = curators.iter().filter_map(|a| Planner::key_of_address(keys, a).cloned()).collect();
                    p.sim.rng().pick(&ks).cloned()
                }
            } else {
                let outsiders: Vec<AccountKey> =
                    keys.iter().filter(|k| bech(k) != d.owner && !curators.contains(&bech(k))).cloned().collect();
                p.sim.rng().pick(&outsiders).cloned()
            };
            let Some(r) = reviewer else { return };
            if p.world.balance(&bech(&r)) < fee * 2 {
                return;
            }
            let accept = p.sim.rng().chance(70);
            let msg = dpb::MsgReviewContribution {
                reviewer: bech(&r),
                datanet_id: c.datanet_id,
                contribution_id: c.id,
                accept,
                reason: if accept { "ok".into() } else { "rejected by the simulation".into() },
            };
            let msg = any("/openledger.datanet.v1.MsgReviewContribution", msg);
            if action == 31 {
                p.valid(&r, vec![msg], BIG_GAS, kind);
            } else {
                p.invalid(&r, vec![msg], BIG_GAS, kind, "reviewer is neither owner nor curator");
            }
        }
        33 => {
            let with_accepted: Vec<&dpb::Datanet> = world
                .datanets
                .iter()
                .filter(|d| {
                    world.contributions.iter().any(|c| c.datanet_id == d.id && c.status == dpb::ContributionStatus::Accepted as i32)
                })
                .collect();
            let Some(d) = p.sim.rng().pick(&with_accepted).copied() else { return };
            let Some(owner) = Planner::key_of_address(keys, &d.owner).cloned() else { return };
            let msg = dpb::MsgPublishVersion { owner: d.owner.clone(), datanet_id: d.id };
            p.valid(&owner, vec![any("/openledger.datanet.v1.MsgPublishVersion", msg)], BIG_GAS, kind);
        }
        34 => {
            let serial = p.sim.next_serial();
            let price = p.sim.rng().between(0, 1_000);
            let msg = mpb::MsgRegisterBaseModel {
                owner: bech(&s),
                name: format!("sim-model-{serial}"),
                architecture: "llama".into(),
                weights_hash: hash_hex(&format!("weights {serial}")),
                tokenizer_hash: hash_hex("tokenizer"),
                license: "Apache-2.0".into(),
                inference_price: Some(coin(price)),
                chat_template_hash: String::new(),
            };
            p.valid(&s, vec![any("/openledger.model.v1.MsgRegisterBaseModel", msg)], BIG_GAS, kind);
        }
        35 | 36 => {
            let Some(base) = p.sim.rng().pick(&world.base_models).cloned() else { return };
            let versions: Vec<mpb::DatanetVersionRef> = if action == 35 {
                let n = 1 + p.sim.rng().below(2);
                let mut v: Vec<mpb::DatanetVersionRef> = Vec::new();
                for _ in 0..n {
                    if let Some((d, ver, _)) = p.sim.rng().pick(&world.versions).copied() {
                        if !v.iter().any(|x| x.datanet_id == d) {
                            v.push(mpb::DatanetVersionRef { datanet_id: d, version: ver });
                        }
                    }
                }
                if v.is_empty() {
                    return;
                }
                v
            } else {
                vec![mpb::DatanetVersionRef { datanet_id: 1, version: 999_999 }]
            };
            let serial = p.sim.next_serial();
            let msg = mpb::MsgRegisterAdapter {
                owner: bech(&s),
                base_model_id: base.id,
                adapter_hash: hash_hex(&format!("adapter {serial}")),
                datanet_versions: versions,
                training_config_hash: hash_hex("lr=2e-4 r=16"),
                inference_price: Some(coin(p.sim.rng().between(0, 1_000))),
            };
            let msg = any("/openledger.model.v1.MsgRegisterAdapter", msg);
            if action == 35 {
                p.valid(&s, vec![msg], BIG_GAS, kind);
            } else {
                p.invalid(&s, vec![msg], BIG_GAS, kind, "datanet 1 version 999999");
            }
        }
        37 => {
            let owned: Vec<(String, u64, u64)> = world
                .base_models
                .iter()
                .map(|b| (b.owner.clone(), b.id, 0))
                .chain(world.adapters.iter().map(|a| (a.owner.clone(), 0, a.id)))
                .collect();
            let Some((owner, base, adapter)) = p.sim.rng().pick(&owned).cloned() else { return };
            let Some(k) = Planner::key_of_address(keys, &owner).cloned() else { return };
            let msg = mpb::MsgSetInferencePrice {
                owner,
                base_model_id: base,
                adapter_id: adapter,
                inference_price: Some(coin(p.sim.rng().between(0, 2_000))),
            };
            p.valid(&k, vec![any("/openledger.model.v1.MsgSetInferencePrice", msg)], BIG_GAS, kind);
        }
        38 => {
            let ops: Vec<AccountKey> =
                world.validators.iter().filter_map(|v| Planner::key_of_operator(keys, &v.operator_address).cloned()).collect();
            let Some(k) = p.sim.rng().pick(&ops).cloned() else { return };
            let mut ids: Vec<u64> = Vec::new();
            for _ in 0..1 + p.sim.rng().below(3) {
                if let Some(b) = p.sim.rng().pick(&world.base_models) {
                    if !ids.contains(&b.id) {
                        ids.push(b.id);
                    }
                }
            }
            if ids.is_empty() {
                return;
            }
            // Some registrations declare a hardware class, some (like an old client) none; chosen
            // from the ids already drawn so the random stream is the same as without the field.
            let hardware_class = if ids.len() % 2 == 1 { "cpu-portable-v1".to_string() } else { String::new() };
            let msg = ipb::MsgRegisterExecutor { validator: operator_of(&k.address()), base_model_ids: ids, hardware_class };
            p.valid(&k, vec![any("/openledger.inference.v1.MsgRegisterExecutor", msg)], GAS, kind);
        }
        39 | 40 => {
            let served: Vec<u64> = world.executors.iter().flat_map(|e| e.base_model_ids.iter().copied()).collect();
            let Some(base_id) = p.sim.rng().pick(&served).copied() else { return };
            let Some(base) = world.base_models.iter().find(|b| b.id == base_id) else { return };
            let adapters: Vec<&mpb::Adapter> = world.adapters.iter().filter(|a| a.base_model_id == base_id).collect();
            let adapter = if p.sim.rng().chance(50) { p.sim.rng().pick(&adapters).copied() } else { None };
            let price: u128 = adapter
                .map_or(base.inference_price.as_ref(), |a| a.inference_price.as_ref())
                .and_then(|c| c.amount.parse().ok())
                .unwrap_or(0);
            let fee = if action == 39 {
                price + p.sim.rng().between(0, 10_000)
            } else if price > 0 {
                price - 1
            } else {
                return;
            };
            let serial = p.sim.next_serial();
            let msg = ipb::MsgRequestInference {
                requester: bech(&s),
                base_model_id: base_id,
                adapter_id: adapter.map_or(0, |a| a.id),
                prompt: format!("simulated prompt {serial}"),
                max_tokens: 16,
                fee: Some(coin(fee)),
                messages: vec![],
            };
            let msg = any("/openledger.inference.v1.MsgRequestInference", msg);
            if action == 39 {
                p.valid(&s, vec![msg], GAS, kind);
            } else {
                p.invalid(&s, vec![msg], GAS, kind, "fee one below the price");
            }
        }
        41 | 42 => {
            let Some(base) = p.sim.rng().pick(&world.base_models).cloned() else { return };
            let Some((d, v, _)) = p.sim.rng().pick(&world.versions).copied() else { return };
            let fee = if action == 41 { p.sim.rng().between(1_000, 1_000_000) } else { 999 };
            let msg = mpb::MsgCreateFineTuneJob {
                creator: bech(&s),
                base_model_id: base.id,
                datanet_id: d,
                datanet_version: v,
                config: None,
                fee: Some(coin(fee)),
            };
            let msg = any("/openledger.model.v1.MsgCreateFineTuneJob", msg);
            if action == 41 {
                p.valid(&s, vec![msg], BIG_GAS, kind);
            } else {
                p.invalid(&s, vec![msg], BIG_GAS, kind, "fee 999 below the minimum 1000");
            }
        }
        _ => {}
    }
}
