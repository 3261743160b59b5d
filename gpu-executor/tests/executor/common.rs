//! Shared fixtures: a tiny random Llama with adapters written once per test run, executors over
//! it, a gRPC server on an ephemeral loopback port, and the CLI binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use open_executor::executor::{BaseEngine, ExecuteParams, Executor, ExecutorConfig, Limits};
use open_executor::fixtures::{write_random_adapter, write_tiny_llama, AdapterSpec, TinyLlamaSpec};
use open_executor::lora::merge_into_dir;
use open_executor::pb::executor_client::ExecutorClient;

pub struct Fixture {
    pub model: PathBuf,
    /// Directory holding adapters a0, a1, a2 (subdirectories).
    pub adapters: PathBuf,
    /// The model with a0 merged into its weights.
    pub merged: PathBuf,
    pub root: PathBuf,
}

impl Fixture {
    pub fn adapter(&self, i: usize) -> PathBuf {
        self.adapters.join(format!("a{i}"))
    }
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

/// The tiny model, its adapters and the merged copy (made once per run).
pub fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("open-executor-fixture-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let model = root.join("tiny-llama");
        let cfg = write_tiny_llama(&model, TinyLlamaSpec::default(), 42).unwrap();
        let adapters = root.join("adapters");
        for i in 0..3 {
            let spec = AdapterSpec {
                targets: vec!["q_proj".into(), "v_proj".into(), "o_proj".into(), "down_proj".into()],
                ..AdapterSpec::default()
            };
            write_random_adapter(&adapters.join(format!("a{i}")), &cfg, &spec, 100 + i as u64).unwrap();
        }
        let merged = root.join("tiny-llama-merged-a0");
        merge_into_dir(&model, &adapters.join("a0"), &merged, &Default::default()).unwrap();
        Fixture { model, adapters, merged, root }
    })
}

/// An executor over `models` (the first gets the fixture's adapters when `with_adapters`).
/// An executor with the defaults: OpenLoRA on the portable kernels for every request.
pub async fn executor(models: Vec<PathBuf>, with_adapters: bool, limits: Limits) -> Executor {
    let adapter_dirs = if with_adapters { vec![fixture().adapters.clone()] } else { Vec::new() };
    Executor::start(ExecutorConfig { models, adapter_dirs, limits, ..Default::default() }).await.unwrap()
}

/// An executor whose base models are served by mistral.rs (machine-specific, so allowed
/// explicitly); adapters still go through OpenLoRA.
pub async fn mistral_executor(models: Vec<PathBuf>, with_adapters: bool, limits: Limits) -> Executor {
    let adapter_dirs = if with_adapters { vec![fixture().adapters.clone()] } else { Vec::new() };
    let config = ExecutorConfig {
        models,
        adapter_dirs,
        base_engine: BaseEngine::Mistral,
        allow_machine_specific: true,
        limits,
        ..Default::default()
    };
    Executor::start(config).await.unwrap()
}

pub fn params(model: &str, adapter: &str, prompt: &str, max_tokens: u32) -> ExecuteParams {
    ExecuteParams { model: model.into(), adapter: adapter.into(), prompt: prompt.into(), max_tokens, seed: 7, ..Default::default() }
}

/// Starts the gRPC service on 127.0.0.1:<ephemeral>; returns a connected client and a handle to
/// stop the server.
pub async fn serve(exec: Arc<Executor>) -> (ExecutorClient<tonic::transport::Channel>, tokio::sync::oneshot::Sender<()>) {
    let listener = open_executor::service::bind_loopback("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        open_executor::service::serve(exec, listener, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let client = ExecutorClient::connect(format!("http://{addr}")).await.unwrap();
    (client, stop)
}

/// Runs `open-executor run ... --json` in a fresh process and returns its JSON output.
pub fn cli_run(model: &Path, adapter: Option<&Path>, prompt: &str, threads: usize, extra: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_open-executor"));
    cmd.args(["run", "--json", "--max-tokens", "24", "--prompt", prompt, "--threads", &threads.to_string()]).arg("--model").arg(model);
    if let Some(a) = adapter {
        cmd.arg("--adapter").arg(a);
    }
    cmd.args(extra);
    cmd.env_remove("RAYON_NUM_THREADS");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "open-executor run failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// The SmolLM2 GGUF from `make executor-model`, if present. When `OPEN_EXECUTOR_REQUIRE_MODEL` is
/// set (the Makefile sets it) a missing file fails the test instead of skipping it.
pub fn smollm2() -> Option<PathBuf> {
    let path = std::env::var_os("OPEN_EXECUTOR_SMOLLM2_GGUF").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    });
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("OPEN_EXECUTOR_REQUIRE_MODEL").is_none(),
        "SmolLM2 GGUF not found at {} (run `make executor-model`)",
        path.display()
    );
    eprintln!("skipped: SmolLM2 GGUF not found at {} (run `make executor-model`)", path.display());
    None
}
