//! The commands behind the CLI (`kvlab load|run|suite`), usable from benches and tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::checking::{check_run, trace_path, CheckTotals};
use crate::error::{Error, Result};
use crate::experiment::{run_once, Mode};
use crate::finding::Finding;
use crate::measure::LatencyKind;
use crate::progress::Progress;
use crate::results::{default_dir, ResultsWriter, RunRecord};
use crate::runner::StopFlag;
use crate::settings::Settings;
use crate::suite::{mean_ci95, Order, Suite};

/// Where results go and how to report progress.
pub struct Output {
    /// `--out DIR`; `None` picks `results/<name>/<timestamp>/` under `root`.
    pub out: Option<PathBuf>,
    /// Directory holding `results/`.
    pub root: PathBuf,
    /// Print progress (false in tests).
    pub progress: bool,
}

impl Output {
    fn dir(&self, name: &str) -> PathBuf {
        self.out.clone().unwrap_or_else(|| default_dir(&self.root, name))
    }

    fn progress(&self, settings: &Settings, label: &str) -> Progress {
        if self.progress {
            Progress::new(settings.status, label)
        } else {
            Progress::quiet()
        }
    }
}

fn warn_unknown(settings: &Settings, warnings: &mut Vec<String>) {
    let unknown = settings.unknown_properties();
    if !unknown.is_empty() {
        let text = format!("unknown properties (typos?): {}", unknown.join(", "));
        eprintln!("warning: {text}");
        warnings.push(text);
    }
}

/// Validates the workload and binding settings without running anything.
fn preflight(settings: &Settings) -> Result<()> {
    kvlab_workloads::CoreWorkload::new(&settings.props)?;
    crate::binding::validate(settings)
}

/// `kvlab load` / `kvlab run`: one configuration, results in one directory.
///
/// # Errors
///
/// Bad settings or input, a binding failure, or results that cannot be written.
pub fn run_single(
    settings: Settings,
    mode: Mode,
    output: &Output,
    stop: &StopFlag,
    command: &str,
) -> Result<PathBuf> {
    preflight(&settings)?;
    let dir = output.dir(&settings.name);
    let mut writer =
        ResultsWriter::create(&dir, &[], json!({ "command": command, "kind": "run" }))?;
    let mut warnings = Vec::new();
    warn_unknown(&settings, &mut warnings);
    let mut progress = output.progress(&settings, &settings.name);
    let mut settings = settings;
    let check = settings.check && mode == Mode::Run;
    let trace = check.then(|| trace_path(&dir, "run", false, settings.trace.as_deref()));
    if let Some(t) = &trace {
        settings.trace = Some(t.clone());
    }
    let mut record = match run_once(settings, mode, stop, &mut progress, "run", Vec::new(), 1) {
        Ok(record) => record,
        Err(err) => {
            // Nothing was measured: leave no empty results directory behind.
            drop(writer);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(err);
        }
    };
    for w in &record.warnings {
        eprintln!("warning: {w}");
    }
    record.warnings.extend(warnings);
    writer.add(&record)?;
    let mut totals = CheckTotals::default();
    if let (Some(trace), false) = (&trace, stop.is_stopped()) {
        let report = check_run(&dir, &[], &record, trace, &mut totals)?;
        if output.progress {
            eprintln!("{report}");
        }
    }
    let dir = writer.finish(stop.is_stopped())?;
    totals.verdict(&dir)?;
    Ok(dir)
}

/// `kvlab suite FILE`: every configuration × repetition, in the suite's `order` (interleaved
/// by default: see [`crate::suite`]), then `aggregate.csv`.
///
/// # Errors
///
/// A malformed suite, bad settings in a configuration (before anything runs: every
/// configuration is validated first), or results that cannot be written.
pub fn run_suite(
    suite_path: &Path,
    overrides: &[(String, String)],
    repetitions: Option<usize>,
    output: &Output,
    stop: &StopFlag,
    command: &str,
) -> Result<PathBuf> {
    let suite = Suite::load(suite_path)?;
    let reps = repetitions.unwrap_or(suite.repetitions);
    // Validate every configuration before running any.
    let mut all_settings = Vec::new();
    for config in &suite.configs {
        let settings = Settings::from_properties(config.properties(overrides)?)?;
        preflight(&settings)?;
        all_settings.push(settings);
    }
    let name = suite_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "suite".into());
    let dir = output.dir(&name);
    let schedule = suite.schedule(reps);
    let run_order: Vec<String> =
        schedule.iter().map(|slot| suite.configs[slot.config].run_id(slot.rep)).collect();
    let meta = json!({
        "command": command,
        "kind": "suite",
        "suite": suite_path.display().to_string(),
        "suite_text": std::fs::read_to_string(suite_path).unwrap_or_default(),
        "question": suite.question,
        "repetitions": reps,
        "order": suite.order.as_str(),
        "order_seed": (suite.order == Order::Shuffled).then_some(suite.order_seed),
        "run_order": run_order,
        "axes": suite.axes,
        "findings": suite.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
    });
    let mut writer = ResultsWriter::create(&dir, &suite.axes, meta)?;
    let mut unknown = Vec::new();
    if let Some(first) = all_settings.first() {
        warn_unknown(first, &mut unknown);
    }
    let mut figures: Vec<RepFigures> = Vec::new();
    let mut totals = CheckTotals::default();
    let total = schedule.len();
    let mut done = 0;
    for slot in &schedule {
        let (config, settings, rep) =
            (&suite.configs[slot.config], &all_settings[slot.config], slot.rep);
        if stop.is_stopped() {
            break;
        }
        done += 1;
        let label = format!("[{done}/{total}] {}", config.run_id(rep));
        if output.progress {
            let axes: Vec<String> = config.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            eprintln!("{label} {}", axes.join(" "));
        }
        let mut progress = output.progress(settings, &label);
        let mut settings = settings.clone();
        let trace = settings.check.then(|| {
            trace_path(writer.dir(), &config.run_id(rep), true, settings.trace.as_deref())
        });
        if let Some(t) = &trace {
            let parent = t.parent().unwrap_or(writer.dir());
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io("cannot create results directory", parent, e))?;
            settings.trace = Some(t.clone());
        }
        let mut record = run_once(
            settings,
            Mode::Run,
            stop,
            &mut progress,
            &config.run_id(rep),
            config.axes.clone(),
            rep,
        )?;
        for w in &record.warnings {
            eprintln!("warning: {} {w}", config.run_id(rep));
        }
        if done == 1 {
            record.warnings.extend(unknown.clone());
        }
        writer.add(&record)?;
        if let (Some(trace), false) = (&trace, stop.is_stopped()) {
            let report = check_run(writer.dir(), &suite.axes, &record, trace, &mut totals)?;
            if output.progress {
                let verdict = if report.is_ok() { "ok" } else { "VIOLATION" };
                eprintln!(
                    "  check: {verdict}: {} ops on {} keys, {} violation(s)",
                    report.ops,
                    report.keys,
                    report.violations.len()
                );
            }
        }
        figures.push((config.index, rep, config.axes.clone(), Figures::of(&record)));
    }
    write_aggregate(writer.dir(), &suite.axes, &figures)?;
    let dir = writer.finish(stop.is_stopped())?;
    if totals.histories > 0 && output.progress {
        eprintln!(
            "checked {} histories, {} operations, {} faults: {} violation(s), {} inconclusive key(s)",
            totals.histories, totals.ops, totals.faults, totals.violations, totals.inconclusive
        );
    }
    totals.verdict(&dir)?;
    Ok(dir)
}

/// One repetition's figures, with its configuration number, repetition and axis values.
type RepFigures = (usize, usize, Vec<(String, String)>, Figures);

/// Per (phase, op, latency): throughput, mean, p50, p99.
struct Figures(BTreeMap<(String, String, String), [f64; 4]>);

impl Figures {
    fn of(record: &RunRecord) -> Figures {
        let mut map = BTreeMap::new();
        for phase in record.load.iter().chain(record.run.iter()) {
            let secs = phase.measured.as_secs_f64().max(1e-9);
            let ops = phase.collector.totals.named_with_overall();
            for (op, stats) in ops {
                for kind in [LatencyKind::Service, LatencyKind::Intended] {
                    if let Some(h) = stats.latency(kind) {
                        let values = [
                            h.len() as f64 / secs,
                            h.mean() / 1000.0,
                            h.value_at_quantile(0.5) as f64 / 1000.0,
                            h.value_at_quantile(0.99) as f64 / 1000.0,
                        ];
                        map.insert(
                            (
                                phase.phase.as_str().to_string(),
                                op.clone(),
                                kind.as_str().to_string(),
                            ),
                            values,
                        );
                    }
                }
            }
        }
        Figures(map)
    }
}

/// The columns of `aggregate.csv` after `config` and the axis columns.
pub const AGGREGATE_COLUMNS: [&str; 12] = [
    "phase",
    "op",
    "latency",
    "reps",
    "throughput_mean",
    "throughput_ci95",
    "mean_us_mean",
    "mean_us_ci95",
    "p50_us_mean",
    "p50_us_ci95",
    "p99_us_mean",
    "p99_us_ci95",
];

fn write_aggregate(dir: &Path, axes: &[String], figures: &[RepFigures]) -> Result<()> {
    let path = dir.join("aggregate.csv");
    let file = std::fs::File::create(&path)
        .map_err(|e| Error::io("cannot create results file", &path, e))?;
    let mut out = csv::Writer::from_writer(file);
    let err = |e: csv::Error| Error::Results { path: path.clone(), message: e.to_string() };
    let mut header = vec!["config".to_string()];
    header.extend(axes.iter().cloned());
    header.extend(AGGREGATE_COLUMNS.iter().map(|c| c.to_string()));
    out.write_record(&header).map_err(err)?;
    // Per configuration, its repetitions in `rep` order whatever order they ran in, so the
    // suite's `order` cannot change a figure (not even a float sum's rounding).
    let mut by_config: BTreeMap<usize, BTreeMap<usize, &RepFigures>> = BTreeMap::new();
    for rep in figures {
        by_config.entry(rep.0).or_default().insert(rep.1, rep);
    }
    for (index, reps) in by_config {
        let Some(first) = reps.values().next() else { continue };
        let config_axes = &first.2;
        let reps: Vec<&Figures> = reps.values().map(|r| &r.3).collect();
        let keys: std::collections::BTreeSet<_> =
            reps.iter().flat_map(|f| f.0.keys().cloned()).collect();
        for key in keys {
            let mut row = vec![format!("c{index:02}")];
            for name in axes {
                row.push(
                    config_axes
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default(),
                );
            }
            let samples: Vec<[f64; 4]> =
                reps.iter().filter_map(|f| f.0.get(&key).copied()).collect();
            row.extend([key.0.clone(), key.1.clone(), key.2.clone(), samples.len().to_string()]);
            for i in 0..4 {
                let values: Vec<f64> = samples.iter().map(|s| s[i]).collect();
                let (mean, ci) = mean_ci95(&values);
                row.push(format!("{mean:.3}"));
                row.push(if ci.is_nan() { String::new() } else { format!("{ci:.3}") });
            }
            out.write_record(&row).map_err(err)?;
        }
    }
    out.flush().map_err(|e| Error::io("cannot write results file", &path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures of one repetition whose every value is `v`.
    fn rep(rep: usize, v: f64) -> RepFigures {
        let key = ("run".to_string(), "READ".to_string(), "service".to_string());
        (
            1,
            rep,
            vec![("engine".to_string(), "memory".to_string())],
            Figures([(key, [v; 4])].into()),
        )
    }

    fn aggregate(figures: &[RepFigures]) -> String {
        let dir = tempfile::tempdir().expect("temporary directory");
        write_aggregate(dir.path(), &["engine".to_string()], figures).expect("aggregate");
        std::fs::read_to_string(dir.path().join("aggregate.csv")).expect("aggregate.csv")
    }

    #[test]
    fn aggregate_does_not_depend_on_run_order() {
        // Values whose float sum depends on the order they are added in.
        let values = [1e16, -1e16, 1.0];
        let in_rep_order: Vec<RepFigures> = (0..3).map(|i| rep(i + 1, values[i])).collect();
        let shuffled: Vec<RepFigures> = [0, 2, 1].iter().map(|&i| rep(i + 1, values[i])).collect();
        let a = aggregate(&in_rep_order);
        assert!(a.contains("c01,memory,run,READ,service,3,0.333,"), "{a}");
        assert_eq!(a, aggregate(&shuffled), "the same figures whatever order the runs went in");
    }
}
