//! Compiles the protos of the module the test suite defines (`tests/proto`), with their
//! descriptor set for gRPC reflection and the REST gateway.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let file = root.join("proto/openledger/counter/v1/counter.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    prost_build::Config::new()
        .file_descriptor_set_path(out.join("counter_descriptor.bin"))
        .compile_protos(&[file], &[root.join("proto"), root.join("../proto")])?;
    Ok(())
}
