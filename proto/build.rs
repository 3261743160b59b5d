//! Compiles `openledger/<module>/v1/*.proto` with tonic-build (vendored protoc, so no system
//! protoc is needed) and writes a descriptor set for gRPC server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    std::env::set_var("PROTOC", protoc);
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let mut files = Vec::new();
    collect_protos(&root.join("openledger"), &mut files)?;
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_build::configure()
        .build_client(true)
        .build_server(true)
        .file_descriptor_set_path(out.join("openledger_descriptor.bin"))
        // Cosmos SDK types our protos import (proto/cosmos/… are import sources only): use the
        // cosmos-sdk-proto types instead of generating copies.
        .extern_path(".cosmos", "::cosmos_sdk_proto::cosmos")
        .compile_protos(&files, &[root])?;
    Ok(())
}

fn collect_protos(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
