//! One experiment run: open the binding, load if needed, run, gather the store's counters.

use std::sync::Arc;

use kvlab_workloads::CoreWorkload;

use crate::binding;
use crate::error::Result;
use crate::progress::Progress;
use crate::results::RunRecord;
use crate::runner::{run_phase, Phase, StopFlag};
use crate::settings::Settings;
use crate::storage::{logical_bytes, StorageRow};

/// What a command asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `kvlab load`: the load phase only.
    Load,
    /// `kvlab run`: the run phase, loading first when the store is ephemeral or empty.
    Run,
}

/// Runs one configuration once.
///
/// # Errors
///
/// Bad workload or binding settings, or a binding failure before the run starts.
pub fn run_once(
    settings: Settings,
    mode: Mode,
    stop: &StopFlag,
    progress: &mut Progress,
    id: &str,
    axes: Vec<(String, String)>,
    rep: usize,
) -> Result<RunRecord> {
    let workload: Arc<CoreWorkload> = CoreWorkload::new(&settings.props)?;
    let binding = binding::open(&settings)?;
    let mut warnings = Vec::new();
    let notes = binding.notes();
    for note in &notes {
        eprintln!("{id}: {note}");
    }
    warnings.extend(binding.warnings());
    let (load, storage) = if mode == Mode::Load || binding.needs_load() {
        let before = binding.storage();
        let phase = run_phase(Phase::Load, &settings, &workload, &*binding, stop, progress, false)?;
        let storage = before.zip(binding.storage()).map(|(before, after)| {
            let logical = logical_bytes(&workload, settings.threads, workload.seed());
            StorageRow::new(logical, before, after, phase.collector.totals.ok())
        });
        (Some(phase), storage)
    } else {
        (None, None)
    };
    let run = if mode == Mode::Run && !stop.is_stopped() {
        // The run's trace rows follow the load's, when this run loaded.
        let append_trace = load.is_some();
        Some(run_phase(Phase::Run, &settings, &workload, &*binding, stop, progress, append_trace)?)
    } else {
        None
    };
    if let (Some(target), Some(phase)) = (settings.target, run.as_ref()) {
        let secs = phase.measured.as_secs_f64().max(1e-9);
        let achieved = phase.collector.totals.completed() as f64 / secs;
        if achieved < 0.9 * target {
            warnings.push(format!(
                "target {target} ops/s was not reached: {achieved:.0} ops/s measured; \
                 intended latencies include the queueing this causes"
            ));
        }
    }
    let nodes = match &run {
        Some(phase) => phase.nodes.clone(),
        None => binding.nodes(),
    };
    let engine_stats = binding.engine_stats();
    Ok(RunRecord {
        id: id.to_string(),
        axes,
        rep,
        settings,
        load,
        run,
        nodes,
        engine_stats,
        storage,
        warnings,
        notes,
    })
}
