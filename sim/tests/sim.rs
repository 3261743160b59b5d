//! The short simulation of `make test`: 500 blocks with every invariant checked after each,
//! export → import → export every 100 blocks, on a fixed seed (and, with `SIM_SEED` set, on
//! that seed instead), plus the reproducibility of a seed.

use openledger_sim::{run, Config};

/// The seed of the suite's run (any failure it finds replays with `SIM_SEED=<seed> make sim`).
const SEED: u64 = 20_261_205;

#[test]
fn five_hundred_blocks_keep_every_invariant() {
    let seed = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(SEED);
    let report = run(Config { seed, blocks: 500, export_every: 100, verbose: false }).unwrap_or_else(|f| panic!("{f}"));
    println!("{}", report.render());
    assert_eq!(report.blocks, 500);
    assert!(report.round_trips >= 5, "export round trips: {}", report.round_trips);
    // The run exercised every module, valid and invalid.
    for kind in ["bank: send", "staking: delegate", "gov: submit proposal", "datanet: create", "model: register base model"] {
        assert!(report.outcomes.get(kind).is_some_and(|o| o.valid_ok > 0), "no successful {kind:?}: {:?}", report.outcomes.get(kind));
    }
    let rejected: u64 = report.outcomes.values().map(|o| o.invalid_rejected).sum();
    assert!(rejected > 50, "only {rejected} invalid txs were tried");
}

#[test]
fn one_seed_replays_the_same_chain() {
    let a = run(Config { seed: 7, blocks: 40, export_every: 0, verbose: false }).unwrap_or_else(|f| panic!("{f}"));
    let b = run(Config { seed: 7, blocks: 40, export_every: 0, verbose: false }).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(a.txs, b.txs);
    assert_eq!(format!("{:?}", a.outcomes), format!("{:?}", b.outcomes));
    assert_eq!(a.burned, b.burned);
    assert_eq!(a.app_hash, b.app_hash, "the same seed must end on the same app hash");
    let c = run(Config { seed: 8, blocks: 40, export_every: 0, verbose: false }).unwrap_or_else(|f| panic!("{f}"));
    assert_ne!(a.app_hash, c.app_hash, "another seed gives another chain");
}
