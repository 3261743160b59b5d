//! Same request, same output hash: across 20 runs, across 1 and 2 CPU threads, across restarts
//! (fresh executors and fresh processes), on both engines.

use open_executor::executor::Limits;
use open_executor::hashing::{output_hash, to_hex};
use open_executor::profile::{DeterminismProfile, SamplingMode};

use crate::common::{cli_run, executor, fixture, mistral_executor, params};

const PROMPT: &str = "Validators agree on outputs when";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_runs_give_identical_hashes_on_both_engines() {
    let f = fixture();
    for mistral in [false, true] {
        let exec = if mistral {
            mistral_executor(vec![f.model.clone()], true, Limits::default()).await
        } else {
            executor(vec![f.model.clone()], true, Limits::default()).await
        };
        twenty_runs(&exec, &f.adapter(1), if mistral { "mistralrs" } else { "openlora" }).await;
    }
}

async fn twenty_runs(exec: &open_executor::Executor, adapter_dir: &std::path::Path, base_engine: &str) {
    let model = exec.model_hashes()[0].clone();
    let adapter = exec.load_adapter(&model, adapter_dir).await.unwrap().hash;
    let seeded = DeterminismProfile { sampling: SamplingMode::Seeded { temperature_milli: 900, top_k: 50 }, ..Default::default() };
    for (adapter, profile) in
        [("", None), ("", Some(seeded.to_proto())), (adapter.as_str(), None), (adapter.as_str(), Some(seeded.to_proto()))]
    {
        let mut p = params(&model, adapter, PROMPT, 24);
        p.profile = profile;
        let first = exec.execute(p.clone()).await.unwrap();
        assert!(!first.tokens.is_empty());
        assert_eq!(first.output_hash, output_hash(&first.tokens, &first.text));
        assert_eq!(first.engine, if adapter.is_empty() { base_engine } else { "openlora" });
        for run in 1..20 {
            let again = exec.execute(p.clone()).await.unwrap();
            assert_eq!(again, first, "run {run} differs (adapter {adapter:?})");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_sampling_follows_the_request_seed_only() {
    let f = fixture();
    let exec = executor(vec![f.model.clone()], false, Limits::default()).await;
    let model = exec.model_hashes()[0].clone();
    let profile = DeterminismProfile { sampling: SamplingMode::Seeded { temperature_milli: 1500, top_k: 0 }, ..Default::default() };
    let run = |seed: u64| {
        let mut p = params(&model, "", PROMPT, 32);
        p.seed = seed;
        p.profile = Some(profile.to_proto());
        p
    };
    let a = exec.execute(run(1)).await.unwrap();
    // Other requests in between (another seed, greedy) do not move this seed's stream.
    let b = exec.execute(run(2)).await.unwrap();
    exec.execute(params(&model, "", "something else", 8)).await.unwrap();
    let a2 = exec.execute(run(1)).await.unwrap();
    assert_eq!(a, a2);
    assert_ne!(a.tokens, b.tokens, "different seeds should sample different tokens at temperature 1.5");
    // Greedy ignores the seed.
    let mut g1 = params(&model, "", PROMPT, 16);
    g1.seed = 1;
    let mut g2 = g1.clone();
    g2.seed = 99;
    assert_eq!(exec.execute(g1).await.unwrap(), exec.execute(g2).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_executor_gives_the_same_hashes() {
    let f = fixture();
    let mut hashes = Vec::new();
    for _ in 0..2 {
        let exec = executor(vec![f.model.clone()], true, Limits::default()).await;
        let model = exec.model_hashes()[0].clone();
        let adapter = exec.load_adapter(&model, &f.adapter(2)).await.unwrap().hash;
        let base = exec.execute(params(&model, "", PROMPT, 20)).await.unwrap();
        let ad = exec.execute(params(&model, &adapter, PROMPT, 20)).await.unwrap();
        hashes.push((base.output_hash, ad.output_hash));
        drop(exec);
    }
    assert_eq!(hashes[0], hashes[1]);
}

#[test]
fn one_and_two_threads_and_fresh_processes_agree() {
    let f = fixture();
    let seeded = ["--sampling", "seeded", "--temperature", "0.8", "--seed", "1234"];
    for (adapter, extra) in [(None, &[][..]), (None, &seeded[..]), (Some(f.adapter(0)), &[][..]), (Some(f.adapter(0)), &seeded[..])] {
        let runs: Vec<serde_json::Value> =
            [1usize, 2, 1, 2].iter().map(|&t| cli_run(&f.model, adapter.as_deref(), PROMPT, t, extra)).collect();
        let hash = runs[0]["output_hash"].as_str().unwrap().to_string();
        assert_eq!(hash.len(), 64);
        for (i, r) in runs.iter().enumerate() {
            assert_eq!(r["output_hash"].as_str().unwrap(), hash, "run {i} ({} threads) differs: {r}", [1, 2, 1, 2][i]);
            assert_eq!(r["tokens"], runs[0]["tokens"]);
        }
        let tokens: Vec<u32> = serde_json::from_value(runs[0]["tokens"].clone()).unwrap();
        assert_eq!(to_hex(&output_hash(&tokens, runs[0]["text"].as_str().unwrap())), hash);
        assert_eq!(runs[0]["engine"], "openlora");
    }
}
