//! The fuzz targets on their committed seeds: every seed passes every invariant, the seeds reach
//! the deep paths they were written for (re-signed fixture txs accepted by CheckTx, the honest
//! vote extension and injected results accepted), and every input the fuzzers once failed on
//! (`fuzz/regressions/<target>/`) passes now.

use std::path::Path;

use openledger_fuzz::driver::{read_corpus, run_one};
use openledger_fuzz::targets::{build, NAMES};

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let corpus = read_corpus(&Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target)).expect("corpus readable");
    assert!(!corpus.is_empty(), "no seeds for {target}");
    corpus
}

fn outcomes(target: &str) -> Vec<String> {
    let mut t = build(target).expect("target exists");
    seeds(target).iter().map(|s| run_one(t.as_mut(), s).unwrap_or_else(|e| panic!("{target} seed failed: {e}"))).collect()
}

#[test]
fn every_seed_of_every_target_passes() {
    for name in NAMES {
        outcomes(name);
    }
}

#[test]
fn re_signed_fixture_txs_pass_check_tx() {
    let accepted = outcomes("check_tx").iter().filter(|o| o.ends_with("| signed /0: ")).count();
    assert!(accepted >= 120, "only {accepted} re-signed fixture txs were accepted");
}

#[test]
fn the_honest_extension_and_injected_results_are_accepted() {
    assert!(outcomes("vote_extension").iter().any(|o| o == "accept"));
    let process = outcomes("process_proposal");
    assert!(process.iter().any(|o| o == "1 injected=true first_code=0"), "{process:?}");
    assert!(process.iter().any(|o| o.starts_with("2 ")), "the misplaced results are rejected: {process:?}");
}

#[test]
fn every_input_that_once_failed_passes_now() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("regressions dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("target name").to_string();
        let mut target = build(&name).unwrap_or_else(|| panic!("regressions/{name} names no target"));
        for input in read_corpus(&path).expect("readable") {
            run_one(target.as_mut(), &input).unwrap_or_else(|e| panic!("{name} regression fails again: {e}"));
            checked += 1;
        }
    }
    assert!(checked > 0);
}
