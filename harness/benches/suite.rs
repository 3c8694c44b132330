//! `cargo bench --workspace --bench suite` runs a suite (default `harness/suites/quick.toml`;
//! set `KVLAB_SUITE` to another file) and writes its results under `results/`.

use std::path::PathBuf;

use kvlab_harness::commands::{run_suite, Output};
use kvlab_harness::runner::StopFlag;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    // cargo passes `--bench`; a name filter would make no sense for a suite.
    let root = kvlab_harness::workspace_root();
    let suite = std::env::var_os("KVLAB_SUITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("harness/suites/quick.toml"));
    let output =
        Output { out: std::env::var_os("KVLAB_OUT").map(PathBuf::from), root, progress: true };
    let command =
        format!("cargo bench --workspace --bench suite (KVLAB_SUITE={})", suite.display());
    match run_suite(&suite, &[], None, &output, &StopFlag::new(), &command) {
        Ok(dir) => println!("results: {}", dir.display()),
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(2);
        }
    }
}
