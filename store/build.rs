//! Generates the gRPC messages and services of `proto/kvlab.proto` (needs `protoc`: Debian's
//! `protobuf-compiler`, which `make deps` installs, or `PROTOC=/path/to/protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/kvlab.proto");
    tonic_prost_build::compile_protos("proto/kvlab.proto")?;
    Ok(())
}
