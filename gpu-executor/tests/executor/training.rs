//! ModelFactory training and artifact exchange: the same job trained by two executor processes
//! gives the same adapter bytes; the Train RPC streams progress and registers the adapter; a
//! second executor that never trained it loads it just in time from a peer, refusing a peer that
//! serves bytes that do not match the hash; SmolLM2 trains on CPU.

use std::path::Path;
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;

use open_executor::executor::{BaseEngine, Executor, ExecutorConfig, Limits};
use open_executor::pb;
use tonic::{Request, Response, Status};

use crate::common::{fixture, params, smollm2};

fn write_rows(path: &Path, n: usize) {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"prompt": "Which datanet holds record {i}?", "completion": "Record {i} lives in the OpenLedger weather datanet."}}"#
            )
        })
        .collect();
    std::fs::write(path, rows.join("\n")).unwrap();
}

fn rows(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!(r#"{{"text": "Contributor {i} says: open data pays its authors."}}"#).into_bytes()).collect()
}

/// `open-executor train` in a fresh process; returns its JSON result and stderr.
fn cli_train(model: &Path, data: &Path, out: &Path, seed: u64, threads: usize) -> (serde_json::Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_open-executor"));
    cmd.args(["train", "--json", "--rank", "4", "--max-steps", "6", "--batch-size", "2", "--learning-rate", "0.01"])
        .args(["--seed", &seed.to_string(), "--threads", &threads.to_string(), "--job-id", "3"])
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out);
    cmd.env_remove("RAYON_NUM_THREADS");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "open-executor train failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    (serde_json::from_str(stdout.lines().last().unwrap()).unwrap(), stderr)
}

#[test]
fn two_executor_processes_train_the_same_adapter_bytes() {
    let f = fixture();
    let dir = f.root.join("train-cli");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("rows.jsonl");
    write_rows(&data, 20);
    let (a, log) = cli_train(&f.model, &data, &dir.join("store-a"), 11, 1);
    let (b, _) = cli_train(&f.model, &data, &dir.join("store-b"), 11, 2);
    let (c, _) = cli_train(&f.model, &data, &dir.join("store-c"), 12, 2);
    assert_eq!(a["steps"], 6);
    assert!(log.contains("training: step 6/6 (100%)"), "no progress lines: {log}");
    for key in ["adapter_hash", "training_log_hash", "eval_loss_bits", "config_hash"] {
        assert_eq!(a[key], b[key], "{key} differs between processes / thread counts");
    }
    let file =
        |v: &serde_json::Value| std::fs::read(Path::new(v["adapter_path"].as_str().unwrap()).join("adapter_model.safetensors")).unwrap();
    assert_eq!(file(&a), file(&b));
    assert_ne!(a["adapter_hash"], c["adapter_hash"], "another seed must give another adapter");
    assert_ne!(a["config_hash"], c["config_hash"]);
}

async fn executor_with(store: &Path, peers: Vec<String>) -> Arc<Executor> {
    Arc::new(
        Executor::start(ExecutorConfig {
            models: vec![fixture().model.clone()],
            base_engine: BaseEngine::OpenLora,
            adapter_store: Some(store.to_path_buf()),
            peers,
            limits: Limits::default(),
            ..Default::default()
        })
        .await
        .unwrap(),
    )
}

/// A byzantine peer: claims every adapter and streams bytes that do not hash to it.
struct LyingPeer;

type Chunks = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::ArtifactChunk, Status>> + Send>>;
type Steps = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::TrainProgress, Status>> + Send>>;

#[tonic::async_trait]
impl pb::executor_server::Executor for LyingPeer {
    async fn execute(&self, _: Request<pb::ExecuteRequest>) -> Result<Response<pb::ExecuteResponse>, Status> {
        Err(Status::unimplemented("lying peer"))
    }
    async fn load_adapter(&self, _: Request<pb::LoadAdapterRequest>) -> Result<Response<pb::LoadAdapterResponse>, Status> {
        Err(Status::unimplemented("lying peer"))
    }
    async fn list_models(&self, _: Request<pb::ListModelsRequest>) -> Result<Response<pb::ListModelsResponse>, Status> {
        Err(Status::unimplemented("lying peer"))
    }
    async fn health(&self, _: Request<pb::HealthRequest>) -> Result<Response<pb::HealthResponse>, Status> {
        Err(Status::unimplemented("lying peer"))
    }
    type TrainStream = Steps;
    async fn train(&self, _: Request<pb::TrainRequest>) -> Result<Response<Steps>, Status> {
        Err(Status::unimplemented("lying peer"))
    }
    type GetArtifactStream = Chunks;
    async fn get_artifact(&self, r: Request<pb::GetArtifactRequest>) -> Result<Response<Chunks>, Status> {
        let model = r.into_inner().hash;
        let chunk = |file: &str, data: &[u8]| pb::ArtifactChunk {
            file: file.into(),
            file_size: data.len() as u64,
            offset: 0,
            data: data.to_vec(),
            model: model.clone(),
        };
        let items = vec![
            chunk("adapter_config.json", br#"{"r": 4, "target_modules": ["q_proj"]}"#),
            chunk("adapter_model.safetensors", b"not weights"),
        ];
        Ok(Response::new(Box::pin(tokio_stream::iter(items.into_iter().map(Ok)))))
    }
}

async fn serve_liar() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(pb::executor_server::ExecutorServer::new(LyingPeer))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_rpc_streams_progress_and_peers_load_the_adapter_just_in_time() {
    let f = fixture();
    let dir = f.root.join("train-rpc");
    let _ = std::fs::remove_dir_all(&dir);
    let trainer = executor_with(&dir.join("store-trainer"), Vec::new()).await;
    let model = trainer.model_hashes()[0].clone();
    let listener = open_executor::service::bind_loopback("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let trainer_addr = format!("http://{}", listener.local_addr().unwrap());
    let serving = trainer.clone();
    tokio::spawn(async move { open_executor::service::serve(serving, listener, std::future::pending()).await.unwrap() });
    let mut client = pb::executor_client::ExecutorClient::connect(trainer_addr.clone()).await.unwrap();

    // Bad requests are refused before any work.
    let config = pb::TrainConfig { rank: 4, max_steps: 5, batch_size: 2, learning_rate_micro: 10_000, seed: 5, ..Default::default() };
    let request = |model: &str, rows: Vec<Vec<u8>>, config: pb::TrainConfig| pb::TrainRequest {
        job_id: 9,
        model: model.into(),
        rows,
        data_root: vec![1; 32],
        config: Some(config),
        chat_template_hash: String::new(),
    };
    let err = client.train(request(&"ab".repeat(32), rows(8), config.clone())).await.err().unwrap();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    let err = client.train(request(&model, rows(8), pb::TrainConfig { rank: 500, ..config.clone() })).await.err().unwrap();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let pinned = |hash: &str| pb::TrainRequest { chat_template_hash: hash.into(), ..request(&model, rows(8), config.clone()) };
    let err = client.train(pinned(&"cd".repeat(32))).await.err().unwrap();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "a chat template other than the model's: {err:?}");
    let err = client.train(request(&model, Vec::new(), config.clone())).await.err().unwrap();
    assert!(err.message().contains("no rows"), "{err:?}");

    let mut stream = client.train(request(&model, rows(12), config.clone())).await.unwrap().into_inner();
    let (mut steps, mut result) = (Vec::new(), None);
    while let Some(m) = stream.message().await.unwrap() {
        match m.event.unwrap() {
            pb::train_progress::Event::Step(s) => steps.push(s),
            pb::train_progress::Event::Result(r) => result = Some(r),
        }
    }
    let result = result.expect("a result");
    assert_eq!(result.steps, 5);
    assert_eq!(steps.last().map(|s| (s.step, s.total_steps)), Some((5, 5)));
    assert!(steps.iter().all(|s| s.loss.is_finite() && s.tokens > 0));
    assert_eq!(result.training_log_hash.len(), 32);
    // The same request again returns the kept result without training twice.
    let mut again = client.train(request(&model, rows(12), config.clone())).await.unwrap().into_inner();
    let mut second = None;
    while let Some(m) = again.message().await.unwrap() {
        if let Some(pb::train_progress::Event::Result(r)) = m.event {
            second = Some(r);
        }
    }
    assert_eq!(second.unwrap().adapter_hash, result.adapter_hash);

    // Served at once by the trainer, and it changes the answer.
    let adapter = result.adapter_hash.clone();
    let trained = trainer.execute(params(&model, &adapter, "Contributor 3 says:", 12)).await.unwrap();
    let base = trainer.execute(params(&model, "", "Contributor 3 says:", 12)).await.unwrap();
    assert_ne!(trained.output_hash, base.output_hash, "the trained adapter does not change the output");

    // An executor that never trained it, without peers: refused clearly.
    let alone = executor_with(&dir.join("store-alone"), Vec::new()).await;
    let e = alone.execute(params(&model, &adapter, "Contributor 3 says:", 12)).await.err().unwrap();
    assert!(e.to_string().contains("unknown adapter"), "{e}");

    // With a lying peer first and the trainer second: the liar's bytes are refused and the
    // adapter comes from the trainer, giving the trainer's exact output.
    let liar = serve_liar().await;
    let fresh = executor_with(&dir.join("store-fresh"), vec![liar.clone(), trainer_addr.clone()]).await;
    let fetched = fresh.execute(params(&model, &adapter, "Contributor 3 says:", 12)).await.unwrap();
    assert_eq!(fetched.output_hash, trained.output_hash);
    assert!(dir.join("store-fresh").join(&adapter).join("adapter_model.safetensors").is_file());
    // Only the liar: refused with the reason.
    let fooled = executor_with(&dir.join("store-fooled"), vec![liar]).await;
    let e = fooled.execute(params(&model, &adapter, "Contributor 3 says:", 12)).await.err().unwrap().to_string();
    assert!(e.contains("no peer could provide it"), "{e}");
    assert!(!dir.join("store-fooled").join(&adapter).exists());

    // Owners download it with the CLI, checked against the hash.
    let out = Command::new(env!("CARGO_BIN_EXE_open-executor"))
        .args(["fetch", "--executor", &trainer_addr, "--hash", &adapter, "--out"])
        .arg(dir.join("download"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        std::fs::read(dir.join("download").join(&adapter).join("adapter_model.safetensors")).unwrap(),
        std::fs::read(Path::new(&result.adapter_path).join("adapter_model.safetensors")).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smollm2_trains_on_cpu_and_its_adapter_serves() {
    let Some(gguf) = smollm2() else { return };
    let dir = fixture().root.join("train-smollm");
    let _ = std::fs::remove_dir_all(&dir);
    let exec = Executor::start(ExecutorConfig {
        models: vec![gguf],
        base_engine: BaseEngine::OpenLora,
        adapter_store: Some(dir.join("store")),
        limits: Limits::default(),
        ..Default::default()
    })
    .await
    .unwrap();
    let model = exec.model_hashes()[0].clone();
    let config =
        pb::TrainConfig { rank: 4, max_steps: 3, batch_size: 2, max_seq_len: 32, learning_rate_micro: 5000, seed: 1, ..Default::default() };
    let request = pb::TrainRequest {
        job_id: 1,
        model: model.clone(),
        rows: rows(8),
        data_root: vec![2; 32],
        config: Some(config),
        chat_template_hash: String::new(),
    };
    let outcome = exec.train(exec.prepare_train(request).unwrap(), |_| {}).await.unwrap();
    assert_eq!(outcome.steps, 3);
    assert!(f32::from_bits(outcome.eval_loss_bits).is_finite());
    let out = exec.execute(params(&model, &outcome.adapter_hash, "Contributor 1 says:", 8)).await.unwrap();
    assert!(!out.tokens.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_base_model_is_fetched_from_a_peer_and_checked() {
    let f = fixture();
    let dir = f.root.join("model-fetch");
    let _ = std::fs::remove_dir_all(&dir);
    let holder = executor_with(&dir.join("store-holder"), Vec::new()).await;
    let model = holder.model_hashes()[0].clone();
    let listener = open_executor::service::bind_loopback("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let holder_addr = format!("http://{}", listener.local_addr().unwrap());
    let serving = holder.clone();
    tokio::spawn(async move { open_executor::service::serve(serving, listener, std::future::pending()).await.unwrap() });
    let liar = serve_liar().await;
    let start = |store: &str, peers: Vec<String>| {
        Executor::start(ExecutorConfig {
            models: Vec::new(),
            fetch_models: vec![model.clone()],
            peers,
            base_engine: BaseEngine::OpenLora,
            adapter_store: Some(dir.join(store)),
            limits: Limits::default(),
            ..Default::default()
        })
    };
    // The liar's files are not a model with that hash: refused, and the holder's are taken.
    let fetched = start("store-fetcher", vec![liar.clone(), holder_addr.clone()]).await.unwrap();
    assert_eq!(fetched.model_hashes(), std::slice::from_ref(&model));
    let a = holder.execute(params(&model, "", "fetched weights answer alike", 10)).await.unwrap();
    let b = fetched.execute(params(&model, "", "fetched weights answer alike", 10)).await.unwrap();
    assert_eq!(a.output_hash, b.output_hash);
    assert!(dir.join("store-fetcher/models").join(&model).join("model.safetensors").is_file());
    // Only the liar: the executor refuses to start, naming why.
    let e = start("store-fooled", vec![liar]).await.err().unwrap().to_string();
    assert!(e.contains("no peer could provide it"), "{e}");
    assert!(!dir.join("store-fooled/models").join(&model).exists());
}

#[test]
fn fixture_adapter_reads_gguf_models_and_says_what_it_needs() {
    let f = fixture();
    let dir = f.root.join("fixture-cli");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let gguf = dir.join("tiny.gguf");
    open_executor::fixtures::write_gguf_copy(&f.model, &gguf).unwrap();
    let run = |model: &Path, out: &str| {
        Command::new(env!("CARGO_BIN_EXE_open-executor"))
            .args(["fixture", "adapter", "--model"])
            .arg(model)
            .arg("--out")
            .arg(dir.join(out))
            .output()
            .unwrap()
    };
    let ok = run(&gguf, "from-gguf");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(dir.join("from-gguf/adapter_model.safetensors").is_file());
    std::fs::write(dir.join("notes.txt"), "not a model").unwrap();
    let bad = run(&dir.join("notes.txt"), "x");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("not a GGUF model"), "{err}");
    let bad = run(&dir, "y");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("neither a GGUF file nor a Hugging Face model directory"), "{err}");
}
