//! Compiles the executor's service from the chain's own .proto
//! (`proto/openledger/executor/v1/executor.proto`, shared with the root `openledger-proto` crate)
//! with tonic-build and a vendored protoc, so no system protoc is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest.join("..").join("proto");
    let file = root.join("openledger/executor/v1/executor.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    tonic_build::configure().build_client(true).build_server(true).compile_protos(&[file], &[root])?;
    Ok(())
}
