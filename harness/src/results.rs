//! Results files: everything a run measured, in formats that plots, notebooks and YCSB's own
//! tooling read. See `results/README.md` for the layout.
//!
//! A [`ResultsWriter`] owns one output directory. It refuses a non-empty directory (results are
//! never overwritten), appends each run's rows as the run ends and rewrites `run.json` after
//! every run, so an interrupted suite keeps what it measured, marked incomplete.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde_json::json;

use crate::binding::NodeRow;
use crate::error::{Error, Result};
use crate::measure::{us, LatencyKind};
use crate::runner::PhaseOutcome;
use crate::settings::Settings;

/// The read policies that get a `reads_<policy>` column in `nodes.csv`.
pub const READ_POLICIES: [&str; 5] = ["leader", "lease", "follower", "mixed", "stale"];

/// The columns of `summary.csv` after `run`, the axis columns and `rep`.
pub const SUMMARY_COLUMNS: [&str; 15] = [
    "phase",
    "op",
    "latency",
    "count",
    "errors",
    "throughput_ops",
    "mean_us",
    "p50_us",
    "p90_us",
    "p95_us",
    "p99_us",
    "p999_us",
    "p9999_us",
    "max_us",
    "measured_s",
];

/// Everything one run (one configuration, one repetition) produced.
pub struct RunRecord {
    /// The run's id within the output directory (`run`, or `r001`… in suites).
    pub id: String,
    /// Matrix axis values (suites), in axis order.
    pub axes: Vec<(String, String)>,
    /// Repetition number, from 1.
    pub rep: usize,
    /// The run's settings.
    pub settings: Settings,
    /// The load phase, when one ran.
    pub load: Option<PhaseOutcome>,
    /// The run phase, when one ran.
    pub run: Option<PhaseOutcome>,
    /// Per-node counters from the store.
    pub nodes: Vec<NodeRow>,
    /// Engine statistics at the end.
    pub engine_stats: Vec<(String, u64)>,
    /// Storage figures of the load phase (bindings with storage, runs that loaded).
    pub storage: Option<crate::storage::StorageRow>,
    /// Warnings printed during the run.
    pub warnings: Vec<String>,
    /// How the system under test ran (e.g. node processes and their CPU budgets).
    pub notes: Vec<String>,
}

impl RunRecord {
    /// Whether every phase that ran completed.
    pub fn completed(&self) -> bool {
        self.load.iter().chain(self.run.iter()).all(|p| p.completed)
    }

    fn phases(&self) -> impl Iterator<Item = &PhaseOutcome> {
        self.load.iter().chain(self.run.iter())
    }
}

/// Writes one results directory.
pub struct ResultsWriter {
    dir: PathBuf,
    axis_names: Vec<String>,
    summary: csv::Writer<File>,
    timeseries: csv::Writer<File>,
    nodes: csv::Writer<File>,
    storage: csv::Writer<File>,
    errors: csv::Writer<File>,
    staleness: csv::Writer<File>,
    stages: csv::Writer<File>,
    events: csv::Writer<File>,
    ycsb: BufWriter<File>,
    meta: serde_json::Value,
    runs: Vec<serde_json::Value>,
}

/// Creates `dir` (and parents); an existing non-empty directory is refused.
///
/// # Errors
///
/// [`Error::OutputNotEmpty`], or the I/O error naming the directory.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries =
            fs::read_dir(dir).map_err(|e| Error::io("cannot read output directory", dir, e))?;
        if entries.next().is_some() {
            return Err(Error::OutputNotEmpty(dir.to_path_buf()));
        }
    }
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create output directory", dir, e))
}

/// `results/<name>/<timestamp>/` under `root`, made unique with a suffix if it exists.
pub fn default_dir(root: &Path, name: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string().replace(':', "-");
    let base = root.join("results").join(name).join(&stamp);
    let mut dir = base.clone();
    let mut n = 2;
    while dir.exists() {
        dir = base.with_file_name(format!("{stamp}-{n}"));
        n += 1;
    }
    dir
}

fn csv_writer(dir: &Path, name: &str, header: &[String]) -> Result<csv::Writer<File>> {
    let path = dir.join(name);
    let file =
        File::create(&path).map_err(|e| Error::io("cannot create results file", &path, e))?;
    let mut writer = csv::Writer::from_writer(file);
    writer.write_record(header).map_err(|e| results_error(&path, e))?;
    Ok(writer)
}

fn results_error(path: &Path, err: impl std::fmt::Display) -> Error {
    Error::Results { path: path.to_path_buf(), message: err.to_string() }
}

fn f(value: f64) -> String {
    format!("{value:.3}")
}

impl ResultsWriter {
    /// Creates the directory and the files' headers. `meta` describes the command (it goes
    /// into `run.json` with the machine and version).
    ///
    /// # Errors
    ///
    /// A non-empty or unwritable directory.
    pub fn create(dir: &Path, axis_names: &[String], meta: serde_json::Value) -> Result<Self> {
        prepare_dir(dir)?;
        let prefix = |cols: &[&str]| -> Vec<String> {
            let mut header = vec!["run".to_string()];
            header.extend(axis_names.iter().cloned());
            header.push("rep".to_string());
            header.extend(cols.iter().map(|c| c.to_string()));
            header
        };
        let mut node_cols = vec!["node", "zone"];
        let reads: Vec<String> = READ_POLICIES.iter().map(|p| format!("reads_{p}")).collect();
        node_cols.extend(reads.iter().map(String::as_str));
        node_cols.extend([
            "writes_applied",
            "readindex_rounds",
            "msgs_sent",
            "msgs_recv",
            "reads_lease_fallback",
            "reads_stale_fallback",
            "snapshots_sent",
            "snapshots_applied",
            "synced_writes",
            "leaders",
            "served",
            "cpu_seconds",
            "client_cpu_seconds",
        ]);
        let ycsb_path = dir.join("ycsb.txt");
        let ycsb = File::create(&ycsb_path)
            .map_err(|e| Error::io("cannot create results file", &ycsb_path, e))?;
        let mut writer =
            ResultsWriter {
                dir: dir.to_path_buf(),
                axis_names: axis_names.to_vec(),
                summary: csv_writer(dir, "summary.csv", &prefix(&SUMMARY_COLUMNS))?,
                timeseries: csv_writer(
                    dir,
                    "timeseries.csv",
                    &prefix(&[
                        "phase",
                        "second",
                        "op",
                        "count",
                        "errors",
                        "throughput_ops",
                        "p50_us",
                        "p99_us",
                        "max_us",
                    ]),
                )?,
                nodes: csv_writer(dir, "nodes.csv", &prefix(&node_cols))?,
                storage: csv_writer(dir, "storage.csv", &prefix(&crate::storage::STORAGE_COLUMNS))?,
                errors: csv_writer(dir, "errors.csv", &prefix(&["phase", "op", "error", "count"]))?,
                staleness: csv_writer(
                    dir,
                    "staleness.csv",
                    &prefix(&["metric", "count", "mean", "p50", "p90", "p99", "p999", "max"]),
                )?,
                stages: csv_writer(dir, "stages.csv", &prefix(&crate::stages::STAGE_COLUMNS))?,
                events: csv::Writer::from_writer(File::create(dir.join("events.csv")).map_err(
                    |e| Error::io("cannot create results file", dir.join("events.csv"), e),
                )?),
                ycsb: BufWriter::new(ycsb),
                meta,
                runs: Vec::new(),
            };
        let events_path = dir.join("events.csv");
        writer
            .events
            .write_record(prefix(&["phase", "second", "kind", "detail"]))
            .map_err(|e| results_error(&events_path, e))?;
        writer.write_json(false, false)?;
        Ok(writer)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key(&self, record: &RunRecord) -> Vec<String> {
        let mut key = vec![record.id.clone()];
        for name in &self.axis_names {
            let value = record.axes.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            key.push(value.unwrap_or_default());
        }
        key.push(record.rep.to_string());
        key
    }

    /// Appends one run's rows, writes its interval logs, and rewrites `run.json`.
    ///
    /// # Errors
    ///
    /// Any file that cannot be written, by name.
    pub fn add(&mut self, record: &RunRecord) -> Result<()> {
        let key = self.key(record);
        for phase in record.phases() {
            self.add_phase(&key, record, phase)?;
        }
        let served =
            record.run.as_ref().map(|p| p.collector.totals.served.clone()).unwrap_or_default();
        for node in &record.nodes {
            let mut row = key.clone();
            row.push(node.node.to_string());
            row.push(node.zone.clone());
            for policy in READ_POLICIES {
                let count = node.reads.iter().find(|(p, _)| p == policy).map_or(0, |(_, c)| *c);
                row.push(count.to_string());
            }
            for value in [
                node.writes_applied,
                node.readindex_rounds,
                node.msgs_sent,
                node.msgs_recv,
                node.lease_fallbacks,
                node.stale_fallbacks,
                node.snapshots_sent,
                node.snapshots_applied,
                node.synced_writes,
                node.leaders,
            ] {
                row.push(value.to_string());
            }
            row.push(served.get(&node.node).copied().unwrap_or(0).to_string());
            for cpu in [node.cpu_seconds, node.client_cpu_seconds] {
                row.push(cpu.map(|c| format!("{c:.3}")).unwrap_or_default());
            }
            let path = self.dir.join("nodes.csv");
            self.nodes.write_record(&row).map_err(|e| results_error(&path, e))?;
        }
        if let Some(storage) = &record.storage {
            let mut row = key.clone();
            row.extend(storage.values());
            let path = self.dir.join("storage.csv");
            self.storage.write_record(&row).map_err(|e| results_error(&path, e))?;
        }
        self.write_ycsb(record)?;
        self.runs.push(run_json(record));
        self.flush()?;
        self.write_json(false, false)
    }

    fn add_phase(
        &mut self,
        key: &[String],
        record: &RunRecord,
        phase: &PhaseOutcome,
    ) -> Result<()> {
        let stages_path = self.dir.join("stages.csv");
        for (stage, count, mean, p50, p99, share) in phase.stages.rows() {
            let mut row = key.to_vec();
            row.extend([phase.phase.as_str().to_string(), stage.to_string(), count.to_string()]);
            row.extend([mean, p50, p99].map(|v| format!("{v:.3}")));
            row.push(format!("{share:.4}"));
            self.stages.write_record(&row).map_err(|e| results_error(&stages_path, e))?;
        }
        let totals = &phase.collector.totals;
        let secs = phase.measured.as_secs_f64().max(1e-9);
        let summary_path = self.dir.join("summary.csv");
        let errors_path = self.dir.join("errors.csv");
        for row in totals.rows() {
            for kind in [LatencyKind::Service, LatencyKind::Intended] {
                let Some(hist) = row.latencies.latency(kind) else { continue };
                let mut cells = key.to_vec();
                cells.push(phase.phase.as_str().to_string());
                cells.push(row.name.clone());
                cells.push(kind.as_str().to_string());
                cells.push(hist.len().to_string());
                cells.push(row.failed.to_string());
                cells.push(f(hist.len() as f64 / secs));
                cells.extend(latency_columns(hist));
                cells.push(f(secs));
                self.summary.write_record(&cells).map_err(|e| results_error(&summary_path, e))?;
            }
        }
        for (op, stats) in totals.iter() {
            for (error, count) in &stats.errors {
                let mut row = key.to_vec();
                row.extend([
                    phase.phase.as_str().to_string(),
                    op.name().to_string(),
                    error.clone(),
                    count.to_string(),
                ]);
                self.errors.write_record(&row).map_err(|e| results_error(&errors_path, e))?;
            }
        }
        let series_path = self.dir.join("timeseries.csv");
        let optional = |v: Option<f64>| v.map(f).unwrap_or_default();
        for r in phase.collector.timeseries(phase.measured) {
            let mut row = key.to_vec();
            row.extend([
                phase.phase.as_str().to_string(),
                r.second.to_string(),
                r.op.clone(),
                r.count.to_string(),
                r.errors.to_string(),
                f(r.throughput()),
                optional(r.p50_us),
                optional(r.p99_us),
                optional(r.max_us),
            ]);
            self.timeseries.write_record(&row).map_err(|e| results_error(&series_path, e))?;
        }
        let events_path = self.dir.join("events.csv");
        // Seconds since the measurement began, like timeseries.csv (negative in the warm-up).
        let warmup = phase.elapsed.saturating_sub(phase.measured).as_secs_f64();
        for event in &phase.events {
            let mut row = key.to_vec();
            row.extend([
                phase.phase.as_str().to_string(),
                f(event.at.as_secs_f64() - warmup),
                event.kind.clone(),
                event.detail.clone(),
            ]);
            self.events.write_record(&row).map_err(|e| results_error(&events_path, e))?;
        }
        let staleness_path = self.dir.join("staleness.csv");
        for (metric, hist) in
            [("lag_entries", &totals.staleness_lag), ("age_ms", &totals.staleness_ms)]
        {
            let Some(hist) = hist else { continue };
            let mut row = key.to_vec();
            row.push(metric.to_string());
            row.push(hist.len().to_string());
            row.push(f(hist.mean()));
            for q in [0.5, 0.9, 0.99, 0.999] {
                row.push(hist.value_at_quantile(q).to_string());
            }
            row.push(hist.max().to_string());
            self.staleness.write_record(&row).map_err(|e| results_error(&staleness_path, e))?;
        }
        self.write_hlogs(record, phase)
    }

    fn write_hlogs(&self, record: &RunRecord, phase: &PhaseOutcome) -> Result<()> {
        let dir = self.dir.join("hlog").join(&record.id);
        let mut groups: std::collections::BTreeMap<(String, LatencyKind), Vec<_>> =
            Default::default();
        for entry in &phase.collector.hlog {
            groups.entry((entry.op.clone(), entry.latency)).or_default().push(entry);
        }
        if groups.is_empty() {
            return Ok(());
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
        let warmup = phase.elapsed.saturating_sub(phase.measured);
        let start = phase.started + warmup;
        for ((op, kind), entries) in groups {
            let path = dir.join(format!("{}-{}-{}.hlog", phase.phase.as_str(), op, kind.as_str()));
            let file = File::create(&path)
                .map_err(|e| Error::io("cannot create results file", &path, e))?;
            let mut out = BufWriter::new(file);
            let mut serializer = V2DeflateSerializer::new();
            let mut deserializer = Deserializer::new();
            let mut builder = IntervalLogWriterBuilder::new();
            builder
                .add_comment(&format!(
                    "kvlab {} run {} {} {} latency, values in ns",
                    env!("CARGO_PKG_VERSION"),
                    record.id,
                    op,
                    kind.as_str()
                ))
                .with_start_time(start)
                .with_base_time(start)
                .with_max_value_divisor(1e9);
            let mut log = builder
                .begin_log_with(&mut out, &mut serializer)
                .map_err(|e| results_error(&path, e))?;
            for entry in entries {
                let hist: Histogram<u64> = deserializer
                    .deserialize(&mut entry.encoded.as_slice())
                    .map_err(|e| results_error(&path, format!("{e:?}")))?;
                log.write_histogram(
                    &hist,
                    Duration::from_secs(entry.interval),
                    crate::measure::INTERVAL,
                    None,
                )
                .map_err(|e| results_error(&path, format!("{e:?}")))?;
            }
            drop(log);
            out.flush().map_err(|e| Error::io("cannot write results file", &path, e))?;
        }
        Ok(())
    }

    /// `ycsb.txt`, with YCSB's own accounting (its `DBWrapper` and `Measurements`): `[OP]`
    /// holds the operations that returned OK and counts every return code (`Return=OK`,
    /// `Return=NOT_FOUND`, `Return=TIMEOUT`, …); the latencies of every other return, not found
    /// included, go to `[OP-FAILED]`; `[OVERALL]` throughput counts every operation.
    fn write_ycsb(&mut self, record: &RunRecord) -> Result<()> {
        let path = self.dir.join("ycsb.txt");
        let mut text = String::new();
        let axes: Vec<String> = record.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for phase in record.phases() {
            text.push_str(&format!(
                "# kvlab run {} rep {} phase {} {}\n",
                record.id,
                record.rep,
                phase.phase.as_str(),
                axes.join(" ")
            ));
            let totals = &phase.collector.totals;
            let secs = phase.measured.as_secs_f64().max(1e-9);
            let operations = totals.completed() + totals.failed();
            text.push_str(&format!("[OVERALL], RunTime(ms), {}\n", phase.measured.as_millis()));
            text.push_str(&format!(
                "[OVERALL], Throughput(ops/sec), {}\n",
                operations as f64 / secs
            ));
            for (kind, stats) in totals.iter() {
                let mut returns = vec![("OK".to_string(), stats.ok())];
                if stats.not_found() > 0 {
                    returns.push(("NOT_FOUND".to_string(), stats.not_found()));
                }
                returns.extend(stats.errors.iter().map(|(e, n)| (e.to_uppercase(), *n)));
                let name = kind.name();
                ycsb_block(&mut text, name, &stats.ok.service, &returns);
                if let Some(hist) = stats.ok.intended.as_ref().filter(|h| !h.is_empty()) {
                    ycsb_block(&mut text, &format!("Intended-{name}"), hist, &[]);
                }
                if let Some(failed) = stats.unsuccessful_latencies() {
                    ycsb_block(&mut text, &format!("{name}-FAILED"), &failed.service, &[]);
                    if let Some(hist) = &failed.intended {
                        ycsb_block(&mut text, &format!("Intended-{name}-FAILED"), hist, &[]);
                    }
                }
            }
        }
        self.ycsb
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("cannot write results file", &path, e))
    }

    fn flush(&mut self) -> Result<()> {
        for (name, writer) in [
            ("summary.csv", &mut self.summary),
            ("timeseries.csv", &mut self.timeseries),
            ("nodes.csv", &mut self.nodes),
            ("storage.csv", &mut self.storage),
            ("errors.csv", &mut self.errors),
            ("staleness.csv", &mut self.staleness),
            ("stages.csv", &mut self.stages),
            ("events.csv", &mut self.events),
        ] {
            writer
                .flush()
                .map_err(|e| Error::io("cannot write results file", self.dir.join(name), e))?;
        }
        self.ycsb
            .flush()
            .map_err(|e| Error::io("cannot write results file", self.dir.join("ycsb.txt"), e))
    }

    fn write_json(&self, finished: bool, interrupted: bool) -> Result<()> {
        let completed =
            finished && !interrupted && self.runs.iter().all(|r| r["completed"] == json!(true));
        let mut doc = self.meta.clone();
        if let Some(map) = doc.as_object_mut() {
            map.insert("kvlab_version".into(), json!(env!("CARGO_PKG_VERSION")));
            map.insert("git_commit".into(), json!(git_commit()));
            map.insert("machine".into(), machine());
            map.insert("written".into(), json!(timestamp(SystemTime::now())));
            map.insert("finished".into(), json!(finished));
            map.insert("completed".into(), json!(completed));
            map.insert("runs".into(), json!(self.runs));
        }
        let path = self.dir.join("run.json");
        let tmp = self.dir.join(".run.json.tmp");
        let text = serde_json::to_string_pretty(&doc).map_err(|e| results_error(&path, e))?;
        fs::write(&tmp, text).map_err(|e| Error::io("cannot write results file", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io("cannot write results file", &path, e))
    }

    /// Flushes everything and marks the directory finished; `interrupted` marks it incomplete
    /// even when every run that started completed.
    ///
    /// # Errors
    ///
    /// A file that cannot be written.
    pub fn finish(mut self, interrupted: bool) -> Result<PathBuf> {
        self.flush()?;
        self.write_json(true, interrupted)?;
        Ok(self.dir)
    }
}

/// `mean, p50, p90, p95, p99, p99.9, p99.99, max` in µs; empty without operations.
fn latency_columns(hist: &Histogram<u64>) -> Vec<String> {
    if hist.is_empty() {
        return vec![String::new(); 8];
    }
    let mut cols = vec![f(hist.mean() / 1000.0)];
    for q in [0.5, 0.9, 0.95, 0.99, 0.999, 0.9999] {
        cols.push(f(us(hist.value_at_quantile(q))));
    }
    cols.push(f(us(hist.max())));
    cols
}

/// One YCSB measurement: operations, latencies in whole µs, and the return codes counted.
fn ycsb_block(text: &mut String, name: &str, hist: &Histogram<u64>, returns: &[(String, u64)]) {
    let mut line = |metric: &str, value: String| {
        text.push_str(&format!("[{name}], {metric}, {value}\n"));
    };
    line("Operations", hist.len().to_string());
    line("AverageLatency(us)", format!("{}", hist.mean() / 1000.0));
    line("MinLatency(us)", (hist.min() / 1000).to_string());
    line("MaxLatency(us)", (hist.max() / 1000).to_string());
    for (label, q) in [("95th", 0.95), ("99th", 0.99), ("99.9", 0.999)] {
        line(
            &format!("{label}PercentileLatency(us)"),
            (hist.value_at_quantile(q) / 1000).to_string(),
        );
    }
    for (code, count) in returns {
        line(&format!("Return={code}"), count.to_string());
    }
}

fn run_json(record: &RunRecord) -> serde_json::Value {
    let props: serde_json::Map<String, serde_json::Value> =
        record.settings.props.iter().map(|(k, v, _)| (k.to_string(), json!(v))).collect();
    let phase = |p: &PhaseOutcome| {
        json!({
            "started": timestamp(p.started),
            "ended": timestamp(p.ended),
            "elapsed_s": p.elapsed.as_secs_f64(),
            "measured_s": p.measured.as_secs_f64(),
            "operations_issued": p.issued,
            "completed": p.completed,
        })
    };
    json!({
        "id": record.id,
        "axes": record.axes.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "rep": record.rep,
        "seed": record.settings.props.get("seed").unwrap_or("default"),
        "properties": props,
        // Settings in force that no property named (the binding's defaults): a store run on
        // the default engine is labelled with it.
        "effective": effective(&record.settings),
        "load": record.load.as_ref().map(phase),
        "run": record.run.as_ref().map(phase),
        "completed": record.completed(),
        "engine_stats": record.engine_stats.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "storage": record.storage.as_ref().map(crate::storage::StorageRow::to_json),
        "warnings": record.warnings,
        "notes": record.notes,
    })
}

/// The settings a run used that matter for labelling it: the engine of the `engine` and
/// `store` bindings.
fn effective(settings: &Settings) -> serde_json::Value {
    match settings.db.as_str() {
        "engine" | "store" => json!({ "engine": settings.engine.as_str() }),
        _ => json!({}),
    }
}

/// RFC 3339 time with milliseconds.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// The git commit of the working directory, with `-dirty` when it has changes.
pub fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(commit) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        None => "unknown".to_string(),
    }
}

/// Cores, memory, OS and CPU of this machine.
pub fn machine() -> serde_json::Value {
    let read = |path: &str| fs::read_to_string(path).unwrap_or_default();
    let meminfo = read("/proc/meminfo");
    let mem_kb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory_bytes": mem_kb * 1024,
        "os": os,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "arch": std::env::consts::ARCH,
        "cpu": cpu,
    })
}
