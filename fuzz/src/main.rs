//! `openledger-fuzz`: writes the seed corpus (`seeds`), fuzzes targets from it (`run`) and
//! reruns saved inputs (`replay`). See RELIABILITY.md.
//!
//! ```text
//! openledger-fuzz seeds [DIR]
//! openledger-fuzz run [--inputs N] [--seconds S] [--seed N] [--corpus DIR] [--artifacts DIR] [TARGET…]
//! openledger-fuzz replay TARGET FILE…
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use openledger_fuzz::driver::{fuzz, quiet_panics, read_corpus, run_one, Budget};
use openledger_fuzz::{seeds, targets};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
const ARTIFACTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts");

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("seeds") => {
            let dir = args.get(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(CORPUS));
            let n = seeds::write(&dir)?;
            println!("wrote {n} seeds under {}", dir.display());
            Ok(())
        }
        Some("replay") => {
            let name = args.get(1).context("replay TARGET FILE…")?;
            let mut target = targets::build(name).with_context(|| format!("unknown target {name}"))?;
            quiet_panics();
            let mut failed = 0;
            for file in &args[2..] {
                let input = std::fs::read(file).with_context(|| format!("reading {file}"))?;
                match run_one(target.as_mut(), &input) {
                    Ok(class) => println!("{file}: ok ({class})"),
                    Err(e) => {
                        failed += 1;
                        println!("{file}: FAILED: {e}");
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} inputs failed");
            }
            Ok(())
        }
        Some("run") => run(&args[1..]),
        _ => bail!("usage: openledger-fuzz seeds [DIR] | run [--inputs N] [--seconds S] [--seed N] [TARGET…] | replay TARGET FILE…"),
    }
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let mut budget = Budget { inputs: u64::MAX, time: Duration::from_secs(10) };
    let (mut seed, mut corpus, mut artifacts) = (1u64, PathBuf::from(CORPUS), PathBuf::from(ARTIFACTS));
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--inputs" => budget.inputs = value()?.parse()?,
            "--seconds" => budget.time = Duration::from_secs(value()?.parse()?),
            "--seed" => seed = value()?.parse()?,
            "--corpus" => corpus = PathBuf::from(value()?),
            "--artifacts" => artifacts = PathBuf::from(value()?),
            name => names.push(name.to_string()),
        }
    }
    if names.is_empty() {
        names = targets::NAMES.iter().map(|s| s.to_string()).collect();
    }
    quiet_panics();
    println!("| target | seeds | inputs | outcome classes | live corpus | seconds | failures |");
    println!("|---|---|---|---|---|---|---|");
    let mut failed = 0;
    for name in &names {
        let mut target = targets::build(name).with_context(|| format!("unknown target {name}"))?;
        let seeds = read_corpus(&corpus.join(name))?;
        let report = fuzz(name, target.as_mut(), seeds, seed, budget, &artifacts);
        println!(
            "| {} | {} | {} | {} | {} | {:.1} | {} |",
            report.target,
            report.seeds,
            report.inputs,
            report.classes,
            report.corpus,
            report.elapsed.as_secs_f64(),
            report.failures.len()
        );
        for f in &report.failures {
            failed += 1;
            let at = f.artifact.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(not saved)".into());
            eprintln!("  {name}: {} [{at}]", f.message);
        }
    }
    if failed > 0 {
        eprintln!("{failed} failures (inputs saved under {}; rerun one with `openledger-fuzz replay TARGET FILE`)", artifacts.display());
        std::process::exit(1);
    }
    Ok(())
}
