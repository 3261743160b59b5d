//! Named crash points for crash-safety tests: [`crash_point`] marks a place in the node's write
//! path (Commit, the store's flush, an index build, a snapshot) where a test may make the process
//! die, as a power cut would, without a timer deciding where the kill lands.
//!
//! `openledgerd start` calls [`arm_from_env`]: with `OPENLEDGER_CRASH_AT=<name>:<n>` the `n`-th
//! time (from 1) the point `<name>` is reached, the process prints one line to stderr and aborts
//! (no destructor, no flush runs). Unset, every point costs one relaxed atomic load and does
//! nothing else; nothing in consensus reads this state, so behaviour is the same with or without
//! the points.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// The variable [`arm_from_env`] reads.
pub const ENV: &str = "OPENLEDGER_CRASH_AT";

/// Every crash point the node has, in the order a block reaches them (RELIABILITY.md lists where
/// each one is).
pub const POINTS: &[&str] = &[
    ATTRIBUTION_INDEX_BUILD,
    COMMIT_AFTER_JMT_WRITE,
    COMMIT_AFTER_FLUSH,
    COMMIT_BEFORE_RESPONSE,
    PRUNE_BETWEEN_WRITES,
    SNAPSHOT_MID_WRITE,
];

/// End block, while a published datanet version's attribution index is being stored (its first
/// chunk written into the block's state, the rest and its metadata not yet).
pub const ATTRIBUTION_INDEX_BUILD: &str = "attribution.index_build";
/// Commit, after the block's batch (JMT nodes, history, latest values, root) was applied to sled
/// and before sled's flush.
pub const COMMIT_AFTER_JMT_WRITE: &str = "commit.after_jmt_write";
/// Commit, right after sled's flush of the block's batch.
pub const COMMIT_AFTER_FLUSH: &str = "commit.after_flush";
/// Commit, after the post-commit work (mempool state reset, snapshot start, pruning), just
/// before the response goes back to CometBFT.
pub const COMMIT_BEFORE_RESPONSE: &str = "commit.before_response";
/// Pruning, between its two writes: the pruned-bound marker is written, the deletions not yet.
pub const PRUNE_BETWEEN_WRITES: &str = "prune.between_writes";
/// Snapshot creation (its background thread), after each chunk file is written, before the
/// snapshot is complete and renamed into place.
pub const SNAPSHOT_MID_WRITE: &str = "snapshot.mid_write";

static ARMED: AtomicBool = AtomicBool::new(false);
static TARGET: OnceLock<(String, u64)> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

/// Parses `<name>:<n>` (`n` >= 1; a bare `<name>` means its first hit).
pub fn parse(spec: &str) -> Result<(String, u64), String> {
    let (name, n) = match spec.rsplit_once(':') {
        Some((name, n)) => (name, n.parse::<u64>().map_err(|e| format!("{ENV}={spec}: bad hit count: {e}"))?),
        None => (spec, 1),
    };
    if !POINTS.contains(&name) {
        return Err(format!("{ENV}={spec}: unknown crash point {name:?} (known: {})", POINTS.join(", ")));
    }
    if n == 0 {
        return Err(format!("{ENV}={spec}: hits count from 1"));
    }
    Ok((name.to_string(), n))
}

/// Arms the crash point named by `OPENLEDGER_CRASH_AT`, if set; returns it. Call once at start.
pub fn arm_from_env() -> Result<Option<(String, u64)>, String> {
    let Ok(spec) = std::env::var(ENV) else { return Ok(None) };
    let target = parse(&spec)?;
    let armed = TARGET.get_or_init(|| target.clone());
    ARMED.store(true, Ordering::Release);
    Ok(Some(armed.clone()))
}

/// A named point where a crash test may kill the process (see the module docs).
#[inline]
pub fn crash_point(name: &'static str) {
    if !ARMED.load(Ordering::Relaxed) {
        return;
    }
    hit(name);
}

#[cold]
fn hit(name: &'static str) {
    let Some((target, n)) = TARGET.get() else { return };
    if target != name {
        return;
    }
    let count = HITS.fetch_add(1, Ordering::AcqRel).saturating_add(1);
    if count == *n {
        eprintln!("crash point {name} reached (hit {count}): aborting");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_a_known_point_and_a_hit_from_one() {
        assert_eq!(parse("commit.after_flush:3"), Ok(("commit.after_flush".to_string(), 3)));
        assert_eq!(parse("snapshot.mid_write"), Ok(("snapshot.mid_write".to_string(), 1)));
        assert!(parse("commit.after_flush:0").is_err());
        assert!(parse("commit.nowhere:1").is_err());
        assert!(parse("commit.after_flush:x").is_err());
    }

    #[test]
    fn an_unarmed_point_does_nothing() {
        // This test process never arms: reaching every point returns.
        for name in POINTS {
            crash_point(name);
        }
    }
}
