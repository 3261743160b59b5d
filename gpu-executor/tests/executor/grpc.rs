//! The gRPC service: real requests over loopback; every kind of bad input gets a clear status and
//! the service keeps serving.

use std::sync::Arc;

use open_executor::executor::Limits;
use open_executor::pb;
use tonic::Code;

use crate::common::{executor, fixture, serve};

fn req(model: &str, adapter: &str, prompt: &str, max_tokens: u32) -> pb::ExecuteRequest {
    pb::ExecuteRequest { model: model.into(), adapter: adapter.into(), prompt: prompt.into(), max_tokens, seed: 3, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_refuses_bad_input_clearly_and_keeps_serving() {
    let f = fixture();
    let limits = Limits { max_tokens: 64, max_prompt_bytes: 4096, ..Limits::default() };
    let exec = Arc::new(executor(vec![f.model.clone()], false, limits).await);
    // An adapter registered (hashed, not loaded), whose file is then corrupted on disk.
    let changing = f.root.join("changing-adapter");
    copy_dir(&f.adapter(2), &changing);
    let changing_hash = exec.register_adapter(&exec.model_hashes()[0], &changing).unwrap();
    let st = changing.join("adapter_model.safetensors");
    let mut bytes = std::fs::read(&st).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x55;
    std::fs::write(&st, bytes).unwrap();
    let (mut client, stop) = serve(exec.clone()).await;

    let health = client.health(pb::HealthRequest {}).await.unwrap().into_inner();
    assert_eq!(health.status, "SERVING");
    assert_eq!(health.hardware_class, open_executor::kernels::PORTABLE_CLASS);
    assert_eq!(health.kernel_path, open_executor::kernels::Isa::best().as_str());
    let models = client.list_models(pb::ListModelsRequest {}).await.unwrap().into_inner();
    let model = models.models[0].hash.clone();
    assert_eq!(models.models[0].format, "safetensors");
    assert_eq!(models.models[0].context_length, 256);

    let good = client.execute(req(&model, "", "hello executor", 16)).await.unwrap().into_inner();
    assert_eq!(good.output_hash.len(), 32);
    assert_eq!(good.engine, "openlora");

    let expect = |r: Result<tonic::Response<pb::ExecuteResponse>, tonic::Status>, code: Code, needle: &str| {
        let s = r.err().unwrap_or_else(|| panic!("expected {code:?}"));
        assert_eq!(s.code(), code, "{s:?}");
        assert!(s.message().contains(needle), "message {:?} lacks {needle:?}", s.message());
    };
    // Weights the executor does not hold: refused, never served by another model.
    let unknown = "ab".repeat(32);
    expect(client.execute(req(&unknown, "", "hi", 4)).await, Code::NotFound, "unknown model");
    expect(client.execute(req(&model, &unknown, "hi", 4)).await, Code::NotFound, "unknown adapter");
    expect(client.execute(req("not-a-hash", "", "hi", 4)).await, Code::InvalidArgument, "content hash");
    expect(client.execute(req(&model, "", "", 4)).await, Code::InvalidArgument, "empty prompt");
    expect(client.execute(req(&model, "", "hi", 65)).await, Code::InvalidArgument, "max_tokens 65");
    expect(client.execute(req(&model, "", "hi", 0)).await, Code::InvalidArgument, "max_tokens 0");
    // 250 prompt tokens (one per byte) + 16 > 256 context.
    expect(client.execute(req(&model, "", &"x".repeat(250), 16)).await, Code::InvalidArgument, "context length");
    expect(client.execute(req(&model, "", &"x".repeat(5000), 4)).await, Code::InvalidArgument, "exceeds the limit");
    let mut bad_profile = req(&model, "", "hi", 4);
    bad_profile.profile = Some(pb::DeterminismProfile { prefix_cache: true, ..Default::default() });
    expect(client.execute(bad_profile).await, Code::InvalidArgument, "prefix_cache");

    // A corrupt adapter file through LoadAdapter.
    let corrupt = f.root.join("corrupt-adapter");
    copy_dir(&f.adapter(0), &corrupt);
    let st = corrupt.join("adapter_model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() - 100]).unwrap();
    let s = client.load_adapter(pb::LoadAdapterRequest { model: model.clone(), path: corrupt.display().to_string() }).await.err().unwrap();
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    assert!(s.message().contains("corrupt adapter"), "{}", s.message());

    // Its on-demand load finds other bytes than were registered: refused.
    expect(client.execute(req(&model, &changing_hash, "hi", 4)).await, Code::FailedPrecondition, "changed on disk");

    // A good adapter through LoadAdapter, then served unmerged.
    let loaded = client
        .load_adapter(pb::LoadAdapterRequest { model: model.clone(), path: f.adapter(1).display().to_string() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(loaded.rank, 8);
    assert_eq!(loaded.target_modules.len(), 4);
    let with_adapter = client.execute(req(&model, &loaded.adapter, "hello executor", 16)).await.unwrap().into_inner();
    assert_eq!(with_adapter.engine, "openlora");
    assert_ne!(with_adapter.output_hash, good.output_hash);
    // LoadAdapter for a model the executor does not hold.
    let s = client
        .load_adapter(pb::LoadAdapterRequest { model: unknown.clone(), path: f.adapter(1).display().to_string() })
        .await
        .err()
        .unwrap();
    assert_eq!(s.code(), Code::NotFound);

    // Still serving, with the same answer as before.
    let again = client.execute(req(&model, "", "hello executor", 16)).await.unwrap().into_inner();
    assert_eq!(again, good);
    let health = client.health(pb::HealthRequest {}).await.unwrap().into_inner();
    assert_eq!(health.requests_served, 3);
    assert_eq!(health.adapters_registered, 2);
    let _ = stop.send(());
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}
