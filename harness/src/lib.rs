//! kvlab's harness: drives a workload through a binding, measures honestly and writes results
//! that can be trusted, plotted and published.
//!
//! The data path: workload stream → [`runner`] (one OS thread per client, optional pacing to
//! a target rate, optionally many requests in flight per thread: [`pipeline`]) → [`binding`] (`null`, `engine`, `store`, `etcd`) → [`measure`] (per-thread
//! HdrHistograms merged each second) → [`results`] (CSV, interval logs, `run.json`,
//! `ycsb.txt`, `events.csv`). [`nemesis`] injects faults during a run and `check` verifies
//! the histories of checking-mode runs. [`suite`] expands experiment matrices and [`commands`] ties it together for
//! the `kvlab` CLI and `cargo bench`.

pub mod binding;
pub mod check;
pub mod checking;
pub mod cluster_cmd;
pub mod commands;
pub mod crash;
mod error;
pub mod experiment;
pub mod finding;
pub mod measure;
pub mod merge;
pub mod nemesis;
pub mod pipeline;
pub mod progress;
pub mod results;
pub mod runner;
pub mod settings;
pub mod stages;
pub mod storage;
pub mod suite;

pub use error::{Error, Result};

/// The workspace root (where `results/` lives), as seen at build time.
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
