//! Seeded randomized simulation of the OpenLedger app, in the spirit of the Cosmos SDK's
//! `simulation` package: an in-process [`App`] on a temporary store is driven through InitChain,
//! FinalizeBlock and Commit for many blocks. Every block carries random valid and invalid
//! signed txs of every module (bank, staking, distribution, slashing, gov, datanet, model
//! registry, inference, fine-tune jobs), block time jumps (so unbonding, gov periods and jail
//! terms end), validators that miss blocks (downtime slashing through the votes of
//! `decided_last_commit`) and double-sign evidence. After every block the invariants of
//! [`invariants`] are checked on the committed state; every `export_every` blocks and at the end
//! the genesis export is imported into a fresh app and exported again, and both exports must be
//! identical.
//!
//! One `u64` seed drives everything ([`rng::SimRng`]); a failure names the seed and the height,
//! and the same seed replays it exactly.

pub mod actions;
pub mod invariants;
pub mod rng;
pub mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use base64::Engine;
use openledger_app::app::App;
use openledger_app::home::{add_genesis_validator, local_app_genesis_with};
use openledger_app::keys::AccountKey;
use openledger_app::modules::AppGenesis;
use openledger_core::storage::Storage;
use openledger_gov::genesis::{GovGenesis, GovParamsJson};
use sha2::{Digest, Sha256};
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;

use crate::actions::{Expect, Planned};
use crate::invariants::Ledger;
use crate::rng::SimRng;
use crate::world::World;

/// Chain id of the simulated chain.
pub const CHAIN_ID: &str = "openledger-sim-1";
/// Genesis time (seconds).
pub const GENESIS_TIME: i64 = 1_700_000_000;
/// Funds of every genesis-funded simulated account (10 M OPEN).
pub const USER_FUNDS: u128 = 10_000_000 * 1_000_000;
/// Genesis-funded users.
pub const USERS: u8 = 12;
/// Accounts that start empty and are created by the first send to them.
pub const LATECOMERS: u8 = 8;
/// Accounts that may create a validator during the run.
pub const CANDIDATES: u8 = 4;

/// How to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed of everything random.
    pub seed: u64,
    /// Blocks to simulate after genesis.
    pub blocks: u64,
    /// Export → import → export every this many blocks (and at the end); 0: only at the end.
    pub export_every: u64,
    /// Print a line per block.
    pub verbose: bool,
}

/// A simulation failure: the seed and height that replay it, and what broke.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The run's seed.
    pub seed: u64,
    /// The block at which it failed.
    pub height: u64,
    /// What failed.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "simulation failed at height {} with seed {}:\n{}\nreplay: make sim SEED={} BLOCKS={}",
            self.height,
            self.seed,
            self.message,
            self.seed,
            self.height.saturating_sub(1)
        )
    }
}

impl std::error::Error for Failure {}

/// Outcome counts of one message type (or one ante path).
#[derive(Debug, Default, Clone)]
pub struct Outcomes {
    /// Intended valid, succeeded.
    pub valid_ok: u64,
    /// Intended valid, failed (state changed under it in the same block, or a limit was hit).
    pub valid_failed: u64,
    /// Intended invalid, failed as it must.
    pub invalid_rejected: u64,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Seed.
    pub seed: u64,
    /// Blocks simulated.
    pub blocks: u64,
    /// Txs delivered.
    pub txs: u64,
    /// Outcomes per kind (`module: what`).
    pub outcomes: BTreeMap<String, Outcomes>,
    /// Failure reasons of intended-valid txs: (kind, codespace/code) → count.
    pub valid_failures: BTreeMap<(String, String), u64>,
    /// Block-level events seen: kind → blocks.
    pub block_events: BTreeMap<String, u64>,
    /// Invariant checks run (blocks × invariants).
    pub invariant_checks: u64,
    /// Export → import → export round trips that matched.
    pub round_trips: u64,
    /// Total uopen burned.
    pub burned: u128,
    /// Block time advanced (seconds).
    pub chain_seconds: i64,
    /// Wall time.
    pub elapsed: Duration,
    /// The last block's app hash (hex): one seed always ends on the same one.
    pub app_hash: String,
    /// Final counts of state objects.
    pub final_state: BTreeMap<&'static str, usize>,
}

impl Report {
    /// A human-readable summary.
    #[allow(clippy::float_arithmetic)] // wall-clock figures of the report, not consensus code
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "seed {} | {} blocks | {} txs | {} s of chain time | {:.1} s wall ({:.1} ms/block)\n",
            self.seed,
            self.blocks,
            self.txs,
            self.chain_seconds,
            self.elapsed.as_secs_f64(),
            self.elapsed.as_secs_f64() * 1e3 / self.blocks.max(1) as f64
        ));
        s.push_str(&format!(
            "invariants: {} checks ({} invariants after each of {} blocks), all held; export/import/export round trips: {} identical\n",
            self.invariant_checks,
            invariants::NAMES.len() + 1,
            self.blocks,
            self.round_trips
        ));
        s.push_str(&format!("burned: {} uopen; final app hash {}\n", self.burned, self.app_hash));
        s.push_str("txs by kind: valid ok / valid failed / invalid rejected\n");
        for (kind, o) in &self.outcomes {
            s.push_str(&format!("  {kind:<44} {:>6} {:>6} {:>6}\n", o.valid_ok, o.valid_failed, o.invalid_rejected));
        }
        if !self.valid_failures.is_empty() {
            s.push_str("why intended-valid txs failed (kind, codespace/code: count):\n");
            for ((kind, code), n) in &self.valid_failures {
                s.push_str(&format!("  {kind:<44} {code:<24} {n}\n"));
            }
        }
        s.push_str("block-level events (blocks that emitted them):\n");
        for (kind, n) in &self.block_events {
            s.push_str(&format!("  {kind:<32} {n}\n"));
        }
        s.push_str("final state:\n");
        for (what, n) in &self.final_state {
            s.push_str(&format!("  {what:<24} {n}\n"));
        }
        s
    }
}

/// A deterministic key from a label.
pub fn key_of(label: &str) -> AccountKey {
    let secret: [u8; 32] = Sha256::digest(format!("openledger-sim {label}").as_bytes()).into();
    AccountKey::from_secret(&secret).expect("sha256 output is a valid secp256k1 secret")
}

/// A validator's consensus public key (any 32 bytes do for the app).
pub fn consensus_pk(label: &str) -> Vec<u8> {
    Sha256::digest(format!("openledger-sim consensus {label}").as_bytes()).to_vec()
}

/// CometBFT's consensus address of an ed25519 key.
pub fn consensus_address(pk: &[u8]) -> Vec<u8> {
    Sha256::digest(pk)[..20].to_vec()
}

/// The simulated accounts.
pub struct Actors {
    /// The dev account: operator of the big genesis validator.
    pub dev: AccountKey,
    /// Operators of the two small genesis validators.
    pub operators: Vec<AccountKey>,
    /// Genesis-funded users.
    pub users: Vec<AccountKey>,
    /// Accounts created during the run.
    pub latecomers: Vec<AccountKey>,
    /// Accounts that may create validators.
    pub candidates: Vec<AccountKey>,
    /// A key that never gets an account.
    pub ghost: AccountKey,
}

impl Actors {
    fn new() -> Self {
        Self {
            dev: key_of("dev"),
            operators: (0..2).map(|i| key_of(&format!("operator {i}"))).collect(),
            users: (0..USERS).map(|i| key_of(&format!("user {i}"))).collect(),
            latecomers: (0..LATECOMERS).map(|i| key_of(&format!("latecomer {i}"))).collect(),
            candidates: (0..CANDIDATES).map(|i| key_of(&format!("candidate {i}"))).collect(),
            ghost: key_of("ghost"),
        }
    }

    /// Every key that may sign.
    pub fn signers(&self) -> Vec<&AccountKey> {
        std::iter::once(&self.dev).chain(&self.operators).chain(&self.users).chain(&self.latecomers).chain(&self.candidates).collect()
    }
}

/// Genesis of the simulated chain: dev runs a big validator, two operators small ones; users
/// and candidates are funded. Short periods so that everything finishes inside a run:
/// unbonding 30 s, a 20-block liveness window with a 20 s jail, gov deposit and voting periods
/// of 15 s, inference deadlines of 10 blocks, fine-tune deadlines of 30 blocks.
pub fn genesis(actors: &Actors) -> AppGenesis {
    let funded: Vec<_> =
        actors.operators.iter().chain(&actors.users).chain(&actors.candidates).map(|k| (k.address(), USER_FUNDS)).collect();
    let mut g = local_app_genesis_with(&actors.dev.address(), &funded);
    let b64 = base64::engine::general_purpose::STANDARD;
    add_genesis_validator(&mut g, &actors.dev.address(), &b64.encode(consensus_pk("dev")), "dev", 1_000_000_000_000);
    for (i, k) in actors.operators.iter().enumerate() {
        let bond = [200_000_000_000u128, 100_000_000_000][i % 2];
        add_genesis_validator(&mut g, &k.address(), &b64.encode(consensus_pk(&format!("operator {i}"))), &format!("op{i}"), bond);
    }
    g.stake.params.unbonding_time_seconds = 30;
    g.stake.slashing.signed_blocks_window = 20;
    g.stake.slashing.downtime_jail_duration_seconds = 20;
    g.gov = GovGenesis {
        starting_proposal_id: 1,
        params: Some(GovParamsJson {
            min_deposit: "1000000uopen".into(),
            max_deposit_period_seconds: 15,
            voting_period_seconds: 15,
            quorum: "0.334".into(),
            threshold: "0.5".into(),
            veto_threshold: "0.334".into(),
            burn_vote_quorum: false,
            burn_proposal_deposit_prevote: false,
            burn_vote_veto: true,
        }),
        ..GovGenesis::default()
    };
    let mut inference = openledger_inference::genesis::ParamsJson::from_params(&openledger_inference::keeper::default_params());
    inference.deadline_blocks = 10;
    g.inference.params = Some(inference);
    let mut finetune = openledger_model::finetune::default_params();
    finetune.job_deadline_blocks = 30;
    g.model.params = Some(openledger_proto::json::to_json("openledger.model.v1.FineTuneParams", &finetune).expect("params serialize"));
    g
}

/// The InitChain request for `app_state`.
pub fn init_request(app_state: &serde_json::Value) -> pb::RequestInitChain {
    pb::RequestInitChain {
        time: Some(Timestamp { seconds: GENESIS_TIME, nanos: 0 }),
        chain_id: CHAIN_ID.into(),
        app_state_bytes: serde_json::to_vec(app_state).expect("app_state serializes").into(),
        initial_height: 1,
        ..Default::default()
    }
}

/// A validator as CometBFT sees it.
#[derive(Debug, Clone)]
struct CometValidator {
    power: i64,
}

/// The running simulation.
pub struct Sim {
    /// The app under test.
    pub app: App,
    /// Its accounts.
    pub actors: Actors,
    rng: SimRng,
    cfg: Config,
    height: u64,
    time: i64,
    /// CometBFT's validator set (consensus pk → power) by height.
    sets: BTreeMap<u64, BTreeMap<Vec<u8>, CometValidator>>,
    /// Validators offline until this height (consensus pk → height).
    offline: BTreeMap<Vec<u8>, u64>,
    /// Evidence for the next block.
    misbehavior: Vec<pb::Misbehavior>,
    ledger: Ledger,
    report: Report,
    /// Consensus keys handed out to created validators (label counter).
    next_validator: u64,
    /// Counter for unique names, hashes and rows.
    pub serial: u64,
}

fn ed25519_of(update: &pb::ValidatorUpdate) -> Result<Vec<u8>, String> {
    match update.pub_key.as_ref().and_then(|k| k.sum.as_ref()) {
        Some(tendermint_proto::v0_38::crypto::public_key::Sum::Ed25519(pk)) => Ok(pk.clone()),
        other => Err(format!("validator update with a non-ed25519 key: {other:?}")),
    }
}

/// The set CometBFT runs with after this block's updates must be the bonded validators with
/// their power (a jailed or unbonded validator, or one whose power changed without an update,
/// breaks it).
fn validator_set_violations(world: &World, set: Option<&BTreeMap<Vec<u8>, CometValidator>>) -> Vec<String> {
    let mut expected: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    for v in world.validators.iter().filter(|v| v.status == cosmos_sdk_proto::cosmos::staking::v1beta1::BondStatus::Bonded as i32) {
        let tokens: u128 = v.tokens.parse().unwrap_or(0);
        let power = i64::try_from(openledger_stake::keeper::power_of(tokens)).unwrap_or(i64::MAX);
        if let (Some(pk), true) = (openledger_stake::keeper::consensus_key(v), power > 0) {
            expected.insert(pk, power);
        }
    }
    let actual: BTreeMap<Vec<u8>, i64> = set.map(|s| s.iter().map(|(pk, v)| (pk.clone(), v.power)).collect()).unwrap_or_default();
    if expected == actual {
        Vec::new()
    } else {
        vec![format!(
            "CometBFT's validator set after the updates {:?} differs from the bonded validators' powers {:?}",
            actual.iter().map(|(pk, p)| (hex::encode(&pk[..4]), *p)).collect::<Vec<_>>(),
            expected.iter().map(|(pk, p)| (hex::encode(&pk[..4]), *p)).collect::<Vec<_>>()
        )]
    }
}

/// The import commits with block 1, whose end-block work lets the attribution indexer move
/// versions from its queue to the index: for the comparison, queued and indexed versions are
/// one sorted list (a version that vanished or appeared still differs).
fn normalize_export(mut app_state: serde_json::Map<String, serde_json::Value>) -> serde_json::Map<String, serde_json::Value> {
    if let Some(serde_json::Value::Object(a)) = app_state.get_mut("attribution") {
        let mut all: Vec<serde_json::Value> = Vec::new();
        for key in ["indexed", "pending"] {
            if let Some(serde_json::Value::Array(list)) = a.remove(key) {
                all.extend(list);
            }
        }
        let num = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        all.sort_by_key(|v| (num(v, "datanet_id"), num(v, "version")));
        a.insert("indexed_or_pending".into(), serde_json::Value::Array(all));
    }
    app_state
}

/// Sums the uopen amounts of `burn` events.
fn burned_in(events: &[pb::Event]) -> Result<u128, String> {
    let mut total = 0u128;
    for e in events.iter().filter(|e| e.r#type == "burn") {
        for a in e.attributes.iter().filter(|a| a.key == "amount") {
            for coin in a.value.split(',').filter(|c| !c.is_empty()) {
                let digits: String = coin.chars().take_while(char::is_ascii_digit).collect();
                let denom = &coin[digits.len()..];
                if denom != openledger_core::coin::BASE_DENOM {
                    return Err(format!("burn of an unexpected denom: {coin}"));
                }
                total += digits.parse::<u128>().map_err(|e| format!("burn amount {coin:?}: {e}"))?;
            }
        }
    }
    Ok(total)
}

impl Sim {
    /// Initialises the chain (InitChain and block 1 empty).
    pub fn new(cfg: Config) -> Result<Self, Failure> {
        let actors = Actors::new();
        let app_state = serde_json::to_value(genesis(&actors)).expect("genesis serializes");
        let app = App::with_storage(Storage::temporary().map_err(|e| Failure { seed: cfg.seed, height: 0, message: e.to_string() })?);
        let init = app.init_chain(&init_request(&app_state)).map_err(|e| Failure {
            seed: cfg.seed,
            height: 0,
            message: format!("init_chain: {}", e.log),
        })?;
        let mut set = BTreeMap::new();
        for u in &init.validators {
            let pk = ed25519_of(u).map_err(|message| Failure { seed: cfg.seed, height: 0, message })?;
            set.insert(pk, CometValidator { power: u.power });
        }
        let genesis_supply = openledger_app::home::TOTAL_SUPPLY_UOPEN;
        let sim = Self {
            app,
            actors,
            rng: SimRng::new(cfg.seed),
            height: 1,
            time: GENESIS_TIME,
            sets: BTreeMap::from([(1, set.clone()), (2, set)]),
            offline: BTreeMap::new(),
            misbehavior: Vec::new(),
            ledger: Ledger { genesis_supply, burned: 0, incentives: u128::MAX },
            report: Report { seed: cfg.seed, ..Report::default() },
            next_validator: 0,
            serial: 0,
            cfg,
        };
        Ok(sim)
    }

    fn fail(&self, message: impl Into<String>) -> Failure {
        Failure { seed: self.cfg.seed, height: self.height, message: message.into() }
    }

    /// The votes of `decided_last_commit` for block `height`: CometBFT's set at `height - 1`,
    /// each validator signing unless it is offline (or, rarely, misses one block).
    fn votes(&mut self, height: u64) -> Vec<pb::VoteInfo> {
        if height <= 1 {
            return Vec::new();
        }
        let dev_pk = consensus_pk("dev");
        let set = self.sets.get(&(height - 1)).cloned().unwrap_or_default();
        let mut votes: Vec<(i64, Vec<u8>, i32)> = Vec::new();
        for (pk, v) in &set {
            let offline = self.offline.get(pk).is_some_and(|until| *until >= height);
            let missed = *pk != dev_pk && (offline || self.rng.chance(2));
            votes.push((v.power, consensus_address(pk), if missed { 1 } else { 2 }));
        }
        votes.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        votes
            .into_iter()
            .map(|(power, address, flag)| pb::VoteInfo {
                validator: Some(pb::Validator { address: address.into(), power }),
                block_id_flag: flag,
            })
            .collect()
    }

    /// Consensus-level randomness of the next block: time jumps, validators going offline,
    /// double-sign evidence.
    fn consensus_events(&mut self, height: u64) {
        let dev_pk = consensus_pk("dev");
        let set: Vec<(Vec<u8>, i64)> =
            self.sets.get(&height).map(|s| s.iter().map(|(pk, v)| (pk.clone(), v.power)).collect()).unwrap_or_default();
        let others: Vec<&(Vec<u8>, i64)> = set.iter().filter(|(pk, _)| *pk != dev_pk).collect();
        // A validator goes offline for 15-40 blocks (enough to miss its liveness window).
        if self.rng.chance(3) {
            if let Some((pk, _)) = self.rng.pick(&others).copied() {
                let until = height + 15 + self.rng.below(26);
                self.offline.insert(pk.clone(), until);
            }
        }
        // Double-sign evidence against a validator of two blocks ago (rare: it tombstones).
        if height > 3 && self.rng.below(1000) < 3 {
            let old = self.sets.get(&(height - 2)).cloned().unwrap_or_default();
            let candidates: Vec<(Vec<u8>, i64)> =
                old.iter().filter(|(pk, _)| **pk != dev_pk).map(|(pk, v)| (pk.clone(), v.power)).collect();
            if let Some((pk, power)) = self.rng.pick(&candidates).cloned() {
                let total: i64 = old.values().map(|v| v.power).sum();
                self.misbehavior.push(pb::Misbehavior {
                    r#type: pb::MisbehaviorType::DuplicateVote as i32,
                    validator: Some(pb::Validator { address: consensus_address(&pk).into(), power }),
                    height: i64::try_from(height - 2).unwrap_or(0),
                    time: Some(Timestamp { seconds: self.time - 2, nanos: 0 }),
                    total_voting_power: total,
                });
            }
        }
    }

    /// Runs one block: plans its txs, finalizes, commits, checks the outcomes and the invariants.
    fn step(&mut self) -> Result<(), Failure> {
        let height = self.height;
        self.time += if self.rng.chance(4) { 5 + i64::try_from(self.rng.below(36)).unwrap_or(0) } else { 1 };
        self.consensus_events(height);
        let world = World::read(&self.app).map_err(|e| self.fail(format!("reading state: {e}")))?;
        let planned: Vec<Planned> = actions::plan_block(self, &world);
        let votes = self.votes(height);
        let req = pb::RequestFinalizeBlock {
            txs: planned.iter().map(|p| p.tx.clone().into()).collect(),
            decided_last_commit: Some(pb::CommitInfo { round: 0, votes }),
            misbehavior: std::mem::take(&mut self.misbehavior),
            hash: Sha256::digest(format!("sim block {height}").as_bytes()).to_vec().into(),
            height: i64::try_from(height).map_err(|_| self.fail("height overflows i64"))?,
            time: Some(Timestamp { seconds: self.time, nanos: 0 }),
            ..Default::default()
        };
        let resp = self.app.finalize_block(&req).map_err(|e| self.fail(format!("FinalizeBlock failed: {} {}", e.code, e.log)))?;
        if resp.tx_results.len() != planned.len() {
            return Err(self.fail("FinalizeBlock returned a different number of tx results"));
        }
        self.app.commit().map_err(|e| self.fail(format!("Commit failed: {}", e.log)))?;
        if self.app.storage().last_committed().1.as_slice() != resp.app_hash.as_ref() {
            return Err(self.fail("the committed app hash differs from FinalizeBlock's"));
        }
        // Burns, block events.
        let mut burned = burned_in(&resp.events).map_err(|m| self.fail(m))?;
        let mut seen = BTreeSet::new();
        for e in &resp.events {
            if seen.insert(e.r#type.clone()) {
                *self.report.block_events.entry(e.r#type.clone()).or_default() += 1;
            }
        }
        // Tx outcomes.
        for (p, r) in planned.iter().zip(&resp.tx_results) {
            burned += burned_in(&r.events).map_err(|m| self.fail(m))?;
            let o = self.report.outcomes.entry(p.kind.clone()).or_default();
            match (p.expect, r.code) {
                (Expect::Valid, 0) => {
                    o.valid_ok += 1;
                    if self.cfg.verbose {
                        println!("  h{height} {}: ok", p.kind);
                    }
                }
                (Expect::Valid, code) => {
                    o.valid_failed += 1;
                    *self.report.valid_failures.entry((p.kind.clone(), format!("{}/{code}", r.codespace))).or_default() += 1;
                    if self.cfg.verbose {
                        println!("  h{height} {}: {}/{} {}", p.kind, r.codespace, code, r.log);
                    }
                }
                (Expect::Invalid, 0) => {
                    return Err(self.fail(format!("a tx that must fail succeeded: {} ({})", p.kind, p.note)));
                }
                (Expect::Invalid, _) => o.invalid_rejected += 1,
            }
        }
        self.report.txs += planned.len() as u64;
        self.ledger.burned += burned;
        // CometBFT applies the updates of block H from height H + 2 on.
        let mut next = self.sets.get(&(height + 1)).cloned().unwrap_or_default();
        for u in &resp.validator_updates {
            let pk = ed25519_of(u).map_err(|m| self.fail(m))?;
            if u.power == 0 {
                next.remove(&pk);
            } else {
                next.insert(pk, CometValidator { power: u.power });
            }
        }
        if next.is_empty() {
            return Err(self.fail("the validator set became empty"));
        }
        self.sets.insert(height + 2, next);
        self.sets.retain(|h, _| *h + 3 >= height);
        // Invariants.
        let world = World::read(&self.app).map_err(|e| self.fail(format!("reading state: {e}")))?;
        let mut violations = invariants::check(&self.app, &world, &mut self.ledger);
        violations.extend(validator_set_violations(&world, self.sets.get(&(height + 2))));
        self.report.invariant_checks += invariants::NAMES.len() as u64 + 1;
        if !violations.is_empty() {
            return Err(self.fail(format!("invariants broken:\n  {}", violations.join("\n  "))));
        }
        if self.cfg.verbose {
            println!(
                "h{height} t+{}s txs {} ok {}",
                self.time - GENESIS_TIME,
                planned.len(),
                resp.tx_results.iter().filter(|r| r.code == 0).count()
            );
        }
        self.height += 1;
        Ok(())
    }

    /// Exports genesis, imports it into a fresh app, exports again: both must be identical.
    pub fn round_trip(&mut self) -> Result<(), Failure> {
        let first = self.app.export_genesis().map_err(|e| self.fail(format!("export: {}", e.log)))?;
        let fresh = App::with_storage(Storage::temporary().map_err(|e| self.fail(e.to_string()))?);
        fresh
            .init_chain(&init_request(&serde_json::Value::Object(first.clone())))
            .map_err(|e| self.fail(format!("importing the exported genesis failed: {}", e.log)))?;
        // InitChain keeps its state for the first FinalizeBlock; commit it as block 1.
        let req =
            pb::RequestFinalizeBlock { height: 1, time: Some(Timestamp { seconds: GENESIS_TIME + 1, nanos: 0 }), ..Default::default() };
        fresh.finalize_block(&req).map_err(|e| self.fail(format!("first block after import: {}", e.log)))?;
        fresh.commit().map_err(|e| self.fail(format!("commit after import: {}", e.log)))?;
        let second = fresh.export_genesis().map_err(|e| self.fail(format!("export after import: {}", e.log)))?;
        let (first, second) = (normalize_export(first), normalize_export(second));
        if first != second {
            let mut diffs = Vec::new();
            for (section, a) in &first {
                if second.get(section) != Some(a) {
                    diffs.push(section.clone());
                }
            }
            for section in second.keys() {
                if !first.contains_key(section) {
                    diffs.push(section.clone());
                }
            }
            let detail = diffs
                .iter()
                .take(2)
                .map(|s| {
                    let a = first.get(s).map(|v| v.to_string()).unwrap_or_default();
                    let b = second.get(s).map(|v| v.to_string()).unwrap_or_default();
                    let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
                    let lo = at.saturating_sub(200);
                    format!(
                        "section {s}: first difference at byte {at}\n    export:    …{}…\n    re-export: …{}…",
                        a.get(lo..(at + 200).min(a.len())).unwrap_or(""),
                        b.get(lo..(at + 200).min(b.len())).unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n  ");
            return Err(self.fail(format!("export → import → export differs in sections {diffs:?}\n  {detail}")));
        }
        // The imported chain keeps every invariant too (its pools back exactly its stake).
        let world = World::read(&fresh).map_err(|e| self.fail(format!("reading the imported state: {e}")))?;
        let supply = world.supply.get(openledger_core::coin::BASE_DENOM).copied().unwrap_or(0);
        let mut ledger = Ledger { genesis_supply: supply, burned: 0, incentives: u128::MAX };
        let violations = invariants::check(&fresh, &world, &mut ledger);
        if !violations.is_empty() {
            return Err(self.fail(format!("the chain imported from the export breaks invariants:\n  {}", violations.join("\n  "))));
        }
        if supply != self.ledger.genesis_supply - self.ledger.burned {
            return Err(self.fail(format!("the imported supply {supply} differs from the exporting chain's")));
        }
        self.report.round_trips += 1;
        Ok(())
    }

    /// Runs the configured number of blocks.
    pub fn run(mut self) -> Result<Report, Failure> {
        let started = Instant::now();
        // Block 1 commits genesis.
        let req = pb::RequestFinalizeBlock { height: 1, time: Some(Timestamp { seconds: self.time + 1, nanos: 0 }), ..Default::default() };
        self.time += 1;
        self.app.finalize_block(&req).map_err(|e| self.fail(format!("block 1: {}", e.log)))?;
        self.app.commit().map_err(|e| self.fail(format!("block 1 commit: {}", e.log)))?;
        let genesis_set = self.sets.get(&2).cloned().unwrap_or_default();
        self.sets.insert(3, genesis_set);
        self.height = 2;
        while self.height <= self.cfg.blocks + 1 {
            self.step()?;
            if self.cfg.export_every > 0 && (self.height - 1).is_multiple_of(self.cfg.export_every) {
                self.round_trip()?;
            }
        }
        self.round_trip()?;
        self.report.blocks = self.cfg.blocks;
        self.report.burned = self.ledger.burned;
        self.report.chain_seconds = self.time - GENESIS_TIME;
        self.report.elapsed = started.elapsed();
        self.report.app_hash = hex::encode(self.app.storage().last_committed().1.as_slice());
        let w = World::read(&self.app).map_err(|e| self.fail(format!("reading state: {e}")))?;
        let f = &mut self.report.final_state;
        f.insert("accounts with balance", w.balances.len());
        f.insert("validators", w.validators.len());
        f.insert("jailed validators", w.validators.iter().filter(|v| v.jailed).count());
        f.insert("delegations", w.delegations.len());
        f.insert("unbonding delegations", w.unbondings.len());
        f.insert("redelegations", w.redelegations.len());
        f.insert("proposals", w.proposals.len());
        f.insert("datanets", w.datanets.len());
        f.insert("contributions", w.contributions.len());
        f.insert("published versions", w.versions.len());
        f.insert("base models", w.base_models.len());
        f.insert("adapters", w.adapters.len());
        f.insert("executors", w.executors.len());
        f.insert("inference requests", w.requests.len());
        f.insert("fine-tune jobs", w.jobs.len());
        Ok(self.report)
    }

    /// Next block's height.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The random source.
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.rng
    }

    /// A fresh consensus key for a validator created during the run.
    pub fn new_consensus_pk(&mut self) -> Vec<u8> {
        self.next_validator += 1;
        consensus_pk(&format!("created {}", self.next_validator))
    }

    /// A counter value never returned before.
    pub fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }
}

/// Runs a simulation.
pub fn run(cfg: Config) -> Result<Report, Failure> {
    Sim::new(cfg)?.run()
}

/// The seed from `SIM_SEED` (decimal), or one derived from the clock (printed by the caller).
pub fn seed_from_env() -> u64 {
    match std::env::var("SIM_SEED") {
        Ok(s) if !s.is_empty() => s.parse().unwrap_or_else(|_| panic!("SIM_SEED must be a u64, got {s:?}")),
        _ => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            SimRng::new(u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or(0)).next_u64()
        }
    }
}
