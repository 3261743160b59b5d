//! The fuzzing loop: run every seed of a target's corpus, then mutate inputs drawn from the
//! live corpus (the seeds plus every input that produced an outcome class not seen before)
//! until the input or time budget is spent. Panics are caught and reported with their input,
//! which is written under the artifacts directory so that `openledger-fuzz replay` can rerun it.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::mutate::mutate;
use crate::rng::Rng;
use crate::targets::Target;

/// Most inputs the live corpus grows to.
const MAX_LIVE_CORPUS: usize = 4096;
/// Distinct failures after which a target stops.
const MAX_FAILURES: usize = 16;

/// How long to fuzz.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Mutated inputs at most (after the seeds).
    pub inputs: u64,
    /// Wall time at most.
    pub time: Duration,
}

/// One failed invariant or panic.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What went wrong.
    pub message: String,
    /// Where its input was written.
    pub artifact: Option<PathBuf>,
}

/// What one run of a target did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Target name.
    pub target: String,
    /// Seeds run.
    pub seeds: usize,
    /// Inputs run, seeds included.
    pub inputs: u64,
    /// Distinct outcome classes seen.
    pub classes: usize,
    /// Size of the live corpus at the end.
    pub corpus: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Distinct failures.
    pub failures: Vec<Failure>,
}

static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the panic hook by one that records the message and location quietly (the driver
/// reports it with the input).
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".into());
        if let Ok(mut slot) = PANIC_MESSAGE.lock() {
            *slot = Some(format!("panic: {payload}{location}"));
        }
    }));
}

/// Runs one input, turning a panic into a failure message.
pub fn run_one(target: &mut dyn Target, input: &[u8]) -> Result<String, String> {
    match catch_unwind(AssertUnwindSafe(|| target.run(input))) {
        Ok(result) => result,
        Err(_) => Err(PANIC_MESSAGE.lock().ok().and_then(|mut s| s.take()).unwrap_or_else(|| "panic".into())),
    }
}

/// Reads every file of `dir` in name order (none if it does not exist).
pub fn read_corpus(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    paths.sort();
    paths.iter().map(std::fs::read).collect()
}

/// Fuzzes `target` from `seeds`.
pub fn fuzz(name: &str, target: &mut dyn Target, seeds: Vec<Vec<u8>>, seed: u64, budget: Budget, artifacts: &Path) -> Report {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut classes = BTreeSet::new();
    let mut failures: Vec<Failure> = Vec::new();
    let mut seen_failures = BTreeSet::new();
    let mut inputs = 0u64;
    let mut record = |input: &[u8], message: String, failures: &mut Vec<Failure>| {
        // One report per distinct message start (numbers and input echoes vary).
        let key: String = message.chars().filter(|c| !c.is_ascii_digit()).take(60).collect();
        if !seen_failures.insert(key) {
            return;
        }
        let hash = hex::encode(&Sha256::digest(input)[..8]);
        let path = artifacts.join(name).join(format!("crash-{hash}"));
        let written = std::fs::create_dir_all(path.parent().unwrap_or(artifacts)).and_then(|_| std::fs::write(&path, input));
        failures.push(Failure { message, artifact: written.ok().map(|_| path) });
    };
    let mut live: Vec<Vec<u8>> = Vec::new();
    for input in &seeds {
        inputs += 1;
        match run_one(target, input) {
            Ok(class) => {
                classes.insert(class);
            }
            Err(message) => record(input, format!("seed: {message}"), &mut failures),
        }
        live.push(input.clone());
    }
    if live.is_empty() {
        live.push(Vec::new());
    }
    let mut mutated = 0u64;
    while mutated < budget.inputs && started.elapsed() < budget.time && failures.len() < MAX_FAILURES {
        let base = rng.below(live.len());
        let input = mutate(&mut rng, target.shape(), &live[base], &live, target.max_len());
        mutated += 1;
        inputs += 1;
        match run_one(target, &input) {
            Ok(class) => {
                if classes.insert(class) && live.len() < MAX_LIVE_CORPUS {
                    live.push(input);
                }
            }
            Err(message) => record(&input, message, &mut failures),
        }
    }
    Report {
        target: name.to_string(),
        seeds: seeds.len(),
        inputs,
        classes: classes.len(),
        corpus: live.len(),
        elapsed: started.elapsed(),
        failures,
    }
}
