//! `openledger-sim`: runs the randomized simulation. `SIM_SEED` (a u64; derived from the clock
//! and printed when unset), `SIM_BLOCKS` (default 500), `SIM_EXPORT_EVERY` (default 100),
//! `SIM_VERBOSE=1` for a line per block. Exits non-zero with the seed and height of the first
//! failure; the same seed replays it.

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(s) if !s.is_empty() => s.parse().unwrap_or_else(|_| panic!("{name} must be a u64, got {s:?}")),
        _ => default,
    }
}

fn main() {
    let seed = openledger_sim::seed_from_env();
    let cfg = openledger_sim::Config {
        seed,
        blocks: env_u64("SIM_BLOCKS", 500),
        export_every: env_u64("SIM_EXPORT_EVERY", 100),
        verbose: std::env::var("SIM_VERBOSE").is_ok_and(|v| v == "1"),
    };
    println!("openledger-sim: seed {seed}, {} blocks (replay with SIM_SEED={seed})", cfg.blocks);
    match openledger_sim::run(cfg) {
        Ok(report) => print!("{}", report.render()),
        Err(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
    }
}
