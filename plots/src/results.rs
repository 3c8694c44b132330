//! A results directory as written by the harness, loaded into memory.
//!
//! `run.json` and `summary.csv` are required; every other file is optional (a figure whose data
//! is absent is skipped), but a file that is present and malformed is an error naming it.
//! Rows are tied to their configuration — one point of the suite's matrix, identified by its
//! axis values — and to their repetition.
//!
//! `summary.csv` has a row per operation kind (its completed operations) and, since failed
//! operations kept their latencies, `<OP>-NOT_FOUND` and `<OP>-FAILED` rows: [`Results::ops`]
//! lists the operation kinds, [`outcome_op`] names an outcome's row. A row or second without
//! operations has empty latency cells; they read as missing values, never as 0 µs. Results
//! written before these rows existed load all the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::stats::Estimate;
use crate::table::{Row, Table};

/// One configuration: a point of the suite's matrix (a single run has one, with no axes).
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// `c01`, `c02`, … (from `aggregate.csv` when present, else by order of appearance).
    pub id: String,
    /// Axis values, in the order of [`Results::axes`].
    pub values: Vec<String>,
    /// The name used in legends and tables: the axis values joined by ` / `.
    pub label: String,
}

/// One row of `summary.csv`.
#[derive(Clone, Debug)]
pub(crate) struct SummaryRow {
    pub config: usize,
    pub rep: u32,
    pub phase: String,
    pub op: String,
    pub latency: String,
    /// Operations counted in the row.
    pub count: f64,
    pub errors: f64,
    pub throughput: f64,
    /// p50, p90, p95, p99, p99.9, p99.99 in µs; NaN where the cell is empty (no operations).
    pub percentiles: [f64; 6],
}

/// The percentiles of [`SummaryRow::percentiles`].
pub(crate) const SUMMARY_PERCENTILES: [f64; 6] = [50.0, 90.0, 95.0, 99.0, 99.9, 99.99];

/// One row of `timeseries.csv`.
#[derive(Clone, Debug)]
pub(crate) struct SeriesRow {
    pub config: usize,
    pub rep: u32,
    pub phase: String,
    pub second: f64,
    pub op: String,
    pub throughput: f64,
    /// `None` for a second without completions (an empty cell).
    pub p99_us: Option<f64>,
}

/// One row of `nodes.csv`.
#[derive(Clone, Debug)]
pub(crate) struct NodeRow {
    pub config: usize,
    pub node: String,
    pub served: f64,
    /// The node process's CPU seconds over the measured window (process clusters only).
    pub cpu: Option<f64>,
}

/// One row of `storage.csv`: a run's storage figures after its load phase.
#[derive(Clone, Debug)]
pub(crate) struct StorageRow {
    pub config: usize,
    pub logical_bytes: f64,
    pub disk_bytes: Option<f64>,
    pub space_amp: Option<f64>,
    pub fsyncs_per_write: Option<f64>,
}

/// One row of `staleness.csv`.
#[derive(Clone, Debug)]
pub(crate) struct StalenessRow {
    pub config: usize,
    pub metric: String,
    pub count: f64,
    /// p50, p90, p99, p99.9 and max.
    pub quantiles: [f64; 5],
}

/// One row of `stages.csv`: a read stage's mean in one run.
#[derive(Clone, Debug)]
pub(crate) struct StageRow {
    pub config: usize,
    pub phase: String,
    pub stage: String,
    pub mean_us: f64,
}

/// One row of `errors.csv`.
#[derive(Clone, Debug)]
pub(crate) struct ErrorRow {
    pub config: usize,
    pub phase: String,
    pub op: String,
    pub error: String,
    pub count: f64,
}

/// One row of `events.csv` (faults, leader changes).
#[derive(Clone, Debug)]
pub(crate) struct EventRow {
    pub config: usize,
    pub second: f64,
    pub kind: String,
}

/// What `run.json` says about the command and the machine.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    pub command: String,
    pub kind: String,
    pub question: Option<String>,
    pub repetitions: Option<u64>,
    pub suite_text: Option<String>,
    pub kvlab_version: String,
    pub git_commit: String,
    /// `machine` as (key, value) pairs, in the file's order.
    pub machine: Vec<(String, String)>,
    /// When `run.json` was last written.
    pub written: String,
    /// `yes`/`no` (the harness writes a bool), or a timestamp.
    pub finished: String,
    /// The earliest phase start and the latest phase end over all runs.
    pub span: Option<(String, String)>,
    pub completed: bool,
    /// `(run id, warning)` for every run's warnings.
    pub warnings: Vec<(String, String)>,
    /// How the system under test ran (`run.json` `notes`, e.g. node processes and their CPU
    /// budgets), each distinct note once, in the order first seen.
    pub system_notes: Vec<String>,
    /// The comparisons the suite declared (`findings`).
    pub findings: Vec<crate::findings::Declared>,
    /// Per run id, the settings it ran with that no property named (`effective`: the
    /// binding's defaults, e.g. the store's engine).
    pub effective: BTreeMap<String, BTreeMap<String, String>>,
}

/// A results directory in memory.
#[derive(Debug)]
pub(crate) struct Results {
    pub dir: PathBuf,
    pub meta: Meta,
    /// Matrix axis names (the property names, e.g. `store.read_policy`); empty for one run.
    pub axes: Vec<String>,
    pub configs: Vec<Config>,
    /// Run id → (configuration index, repetition).
    pub runs: BTreeMap<String, (usize, u32)>,
    pub summary: Vec<SummaryRow>,
    pub timeseries: Vec<SeriesRow>,
    pub nodes: Vec<NodeRow>,
    /// `storage.csv`: bytes on disk and fsyncs per write after each run's load.
    pub storage: Vec<StorageRow>,
    pub staleness: Vec<StalenessRow>,
    /// `stages.csv`: where store reads spent their time.
    pub stages: Vec<StageRow>,
    pub errors: Vec<ErrorRow>,
    pub events: Vec<EventRow>,
}

fn json_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        // A command given as an argument vector: shell words, quoted where needed.
        Value::Array(items) => items
            .iter()
            .map(|i| {
                let w = json_string(i);
                if w.is_empty() || w.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c))
                {
                    format!("'{}'", w.replace('\'', "'\\''"))
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

impl Meta {
    fn load(dir: &Path) -> Result<Meta> {
        let path = dir.join("run.json");
        if !path.exists() {
            return Err(Error::Missing { path });
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read", &path, e))?;
        let json: Value = serde_json::from_str(&text).map_err(|e| {
            Error::format(&path, format!("line {} column {}: {e}", e.line(), e.column()))
        })?;
        if !json.is_object() {
            return Err(Error::format(&path, "expected a JSON object"));
        }
        let s = |key: &str| json.get(key).map(json_string).unwrap_or_default();
        let opt = |key: &str| json.get(key).map(json_string).filter(|s| !s.is_empty());
        let machine = json
            .get("machine")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), json_string(v))).collect())
            .unwrap_or_default();
        let mut warnings = Vec::new();
        let mut system_notes: Vec<String> = Vec::new();
        let mut span: Option<(String, String)> = None;
        let mut effective = BTreeMap::new();
        for run in json.get("runs").and_then(Value::as_array).into_iter().flatten() {
            let id = run.get("id").map(json_string).unwrap_or_default();
            if let Some(e) = run.get("effective").and_then(Value::as_object) {
                let e: BTreeMap<String, String> =
                    e.iter().map(|(k, v)| (k.clone(), json_string(v))).collect();
                effective.insert(id.clone(), e);
            }
            for phase in ["load", "run"] {
                let times = |k: &str| run.get(phase).and_then(|p| p.get(k)).and_then(Value::as_str);
                if let (Some(start), Some(end)) = (times("started"), times("ended")) {
                    // RFC 3339 UTC timestamps order as text.
                    span = Some(match span {
                        None => (start.to_string(), end.to_string()),
                        Some((s, e)) => (s.min(start.to_string()), e.max(end.to_string())),
                    });
                }
            }
            for w in run.get("warnings").and_then(Value::as_array).into_iter().flatten() {
                warnings.push((id.clone(), json_string(w)));
            }
            for n in run.get("notes").and_then(Value::as_array).into_iter().flatten() {
                let n = json_string(n);
                if !system_notes.contains(&n) {
                    system_notes.push(n);
                }
            }
        }
        Ok(Meta {
            command: s("command"),
            kind: s("kind"),
            question: opt("question"),
            repetitions: json.get("repetitions").and_then(Value::as_u64),
            suite_text: opt("suite_text"),
            kvlab_version: s("kvlab_version"),
            git_commit: s("git_commit"),
            machine,
            written: s("written"),
            finished: s("finished"),
            span,
            completed: json.get("completed").and_then(Value::as_bool).unwrap_or(false),
            warnings,
            system_notes,
            findings: crate::findings::Declared::all_from(&json, &path)?,
            effective,
        })
    }
}

/// Reads the `run`, axis and `rep` columns of a table and resolves the configuration.
struct Keyed {
    run: usize,
    axes: Vec<usize>,
    rep: usize,
}

impl Keyed {
    fn new(table: &Table, axes: &[String]) -> Result<Keyed> {
        let cols: Vec<usize> = axes.iter().map(|a| table.col(a)).collect::<Result<_>>()?;
        Ok(Keyed { run: table.col("run")?, axes: cols, rep: table.col("rep")? })
    }
}

impl Results {
    /// Loads `dir`.
    pub fn load(dir: &Path) -> Result<Results> {
        if !dir.is_dir() {
            return Err(Error::Missing { path: dir.to_path_buf() });
        }
        let meta = Meta::load(dir)?;
        let summary_table = Table::read_required(dir, "summary.csv")?;
        let axes = summary_table.axes("run", "rep")?;
        let mut results = Results {
            dir: dir.to_path_buf(),
            meta,
            axes,
            configs: Vec::new(),
            runs: BTreeMap::new(),
            summary: Vec::new(),
            timeseries: Vec::new(),
            nodes: Vec::new(),
            storage: Vec::new(),
            staleness: Vec::new(),
            stages: Vec::new(),
            errors: Vec::new(),
            events: Vec::new(),
        };
        if let Some(aggregate) = Table::read_optional(dir, "aggregate.csv")? {
            results.load_aggregate_ids(&aggregate)?;
        }
        results.load_summary(&summary_table)?;
        if let Some(t) = Table::read_optional(dir, "timeseries.csv")? {
            results.load_timeseries(&t)?;
        }
        if let Some(t) = Table::read_optional(dir, "nodes.csv")? {
            results.load_nodes(&t)?;
        }
        if let Some(t) = Table::read_optional(dir, "storage.csv")? {
            results.load_storage(&t)?;
        }
        if let Some(t) = Table::read_optional(dir, "staleness.csv")? {
            results.load_staleness(&t)?;
        }
        if let Some(t) = Table::read_optional(dir, "stages.csv")? {
            results.load_stages(&t)?;
        }
        if let Some(t) = Table::read_optional(dir, "errors.csv")? {
            results.load_errors(&t)?;
        }
        if let Some(t) = Table::read_optional(dir, "events.csv")? {
            results.load_events(&t)?;
        }
        results.fill_effective();
        results.label_by_distinguishing_axes();
        Ok(results)
    }

    /// The axes a configuration's label names: in axis order, each axis that tells apart some
    /// configurations the axes before it did not (the quick suite's `inflight=512` says nothing
    /// `db=store` has not said already). All axes when none is needed (a single run).
    pub fn label_axes(&self) -> Vec<usize> {
        let mut named = Vec::new();
        // Classes of configurations the named axes do not tell apart, as value tuples.
        let key = |named: &[usize], i: usize| -> Vec<&str> {
            named.iter().map(|&a| self.configs[i].values[a].as_str()).collect()
        };
        for axis in 0..self.axes.len() {
            let mut splits = false;
            for i in 0..self.configs.len() {
                for j in i + 1..self.configs.len() {
                    if key(&named, i) == key(&named, j)
                        && self.configs[i].values[axis] != self.configs[j].values[axis]
                    {
                        splits = true;
                    }
                }
            }
            if splits {
                named.push(axis);
            }
        }
        if named.is_empty() {
            (0..self.axes.len()).collect()
        } else {
            named
        }
    }

    /// Labels every configuration by its values on [`Results::label_axes`].
    fn label_by_distinguishing_axes(&mut self) {
        let axes = self.label_axes();
        for c in &mut self.configs {
            let set: Vec<&str> =
                axes.iter().map(|&a| c.values[a].as_str()).filter(|v| !v.is_empty()).collect();
            c.label = if set.is_empty() { "run".to_string() } else { set.join(" / ") };
        }
    }

    /// Gives a configuration that does not set an axis the value its runs ran with, where
    /// `run.json` records it (`effective`) and every repetition agrees: a store run on the
    /// default engine is labelled `rocksdb`, like an engine run that names it.
    fn fill_effective(&mut self) {
        for (axis, name) in self.axes.iter().enumerate() {
            for (i, config) in self.configs.iter_mut().enumerate() {
                if !config.values[axis].is_empty() {
                    continue;
                }
                let mut seen: Option<&String> = None;
                let mut agree = true;
                for (run, _) in self.runs.iter().filter(|(_, (c, _))| *c == i) {
                    match (self.meta.effective.get(run).and_then(|e| e.get(name)), seen) {
                        (Some(v), None) => seen = Some(v),
                        (Some(v), Some(s)) if v == s => {}
                        _ => agree = false,
                    }
                }
                // The label follows from the values (`label_by_distinguishing_axes`, next).
                if let (true, Some(v)) = (agree, seen) {
                    config.values[axis] = v.clone();
                }
            }
        }
    }

    /// The configuration with these axis values, created on first sight.
    fn config_for(&mut self, values: Vec<String>, id: Option<&str>) -> usize {
        if let Some(i) = self.configs.iter().position(|c| c.values == values) {
            return i;
        }
        let id = id.map_or_else(|| format!("c{:02}", self.configs.len() + 1), str::to_string);
        // Axes a configuration does not set (from another `[[matrix]]` table) are empty.
        let set: Vec<&str> = values.iter().map(String::as_str).filter(|v| !v.is_empty()).collect();
        let label = if set.is_empty() { "run".to_string() } else { set.join(" / ") };
        self.configs.push(Config { id, values, label });
        self.configs.len() - 1
    }

    fn load_aggregate_ids(&mut self, table: &Table) -> Result<()> {
        let axes = self.axes.clone();
        let id = table.col("config")?;
        let cols: Vec<usize> = axes.iter().map(|a| table.col(a)).collect::<Result<_>>()?;
        for row in table.rows() {
            let values = row.strings(&cols)?;
            let id = row.str(id)?.to_string();
            self.config_for(values, Some(&id));
        }
        Ok(())
    }

    /// The configuration and repetition of a keyed row, registering the run id.
    fn key(&mut self, row: &Row<'_>, keyed: &Keyed) -> Result<(usize, u32)> {
        let values = row.strings(&keyed.axes)?;
        let rep = row.u64(keyed.rep)? as u32;
        let config = self.config_for(values, None);
        self.runs.entry(row.str(keyed.run)?.to_string()).or_insert((config, rep));
        Ok((config, rep))
    }

    fn load_summary(&mut self, table: &Table) -> Result<()> {
        let keyed = Keyed::new(table, &self.axes)?;
        let [phase, op, latency, errors, thr] =
            ["phase", "op", "latency", "errors", "throughput_ops"].map(|c| table.col(c));
        let (phase, op, latency, errors, thr) = (phase?, op?, latency?, errors?, thr?);
        let count = table.col_optional("count");
        let pcols =
            ["p50_us", "p90_us", "p95_us", "p99_us", "p999_us", "p9999_us"].map(|c| table.col(c));
        let mut p = [0usize; 6];
        for (slot, col) in p.iter_mut().zip(pcols) {
            *slot = col?;
        }
        for row in table.rows() {
            let (config, rep) = self.key(&row, &keyed)?;
            let mut percentiles = [0.0; 6];
            for (slot, &col) in percentiles.iter_mut().zip(&p) {
                *slot = row.f64_optional(col)?.unwrap_or(f64::NAN);
            }
            let count = match count {
                Some(col) => row.f64(col)?,
                None => f64::NAN,
            };
            self.summary.push(SummaryRow {
                config,
                rep,
                phase: row.str(phase)?.to_string(),
                op: row.str(op)?.to_string(),
                latency: row.str(latency)?.to_string(),
                count,
                errors: row.f64(errors)?,
                throughput: row.f64(thr)?,
                percentiles,
            });
        }
        Ok(())
    }

    fn load_timeseries(&mut self, table: &Table) -> Result<()> {
        let keyed = Keyed::new(table, &self.axes)?;
        let (phase, second, op) = (table.col("phase")?, table.col("second")?, table.col("op")?);
        let (thr, p99) = (table.col("throughput_ops")?, table.col("p99_us")?);
        for row in table.rows() {
            let (config, rep) = self.key(&row, &keyed)?;
            self.timeseries.push(SeriesRow {
                config,
                rep,
                phase: row.str(phase)?.to_string(),
                second: row.f64(second)?,
                op: row.str(op)?.to_string(),
                throughput: row.f64(thr)?,
                p99_us: row.f64_optional(p99)?,
            });
        }
        Ok(())
    }

    fn load_nodes(&mut self, table: &Table) -> Result<()> {
        let keyed = Keyed::new(table, &self.axes)?;
        let (node, served) = (table.col("node")?, table.col("served")?);
        let cpu = table.col_optional("cpu_seconds");
        for row in table.rows() {
            let (config, _) = self.key(&row, &keyed)?;
            let node = row.str(node)?.to_string();
            let cpu = match cpu {
                Some(c) => row.f64_optional(c)?,
                None => None,
            };
            self.nodes.push(NodeRow { config, node, served: row.f64(served)?, cpu });
        }
        Ok(())
    }

    fn load_storage(&mut self, table: &Table) -> Result<()> {
        let keyed = Keyed::new(table, &self.axes)?;
        let logical = table.col("logical_bytes")?;
        let disk = table.col("disk_bytes")?;
        let amp = table.col("space_amp")?;
        let fsyncs = table.col("fsyncs_per_write")?;
        for row in table.rows() {
            let (config, _) = self.key(&row, &keyed)?;
            self.storage.push(StorageRow {
                config,
                logical_bytes: row.f64(logical)?,
                disk_bytes: row.f64_optional(disk)?,
                space_amp: row.f64_optional(amp)?,
                fsyncs_per_write: row.f64_optional(fsyncs)?,
            });
        }
        Ok(())
    }

    fn load_staleness(&mut self, table: &Table) -> Result<()> {
        let keyed = Keyed::new(table, &self.axes)?;
        let (metric, count) = (table.col("metric")?, table.col("count")?);
        let q = ["p50", "p90", "p99", "p999", "max"].map(|c| table.col(c));
        let mut cols = [0usize; 5];
        for (slot, col) in cols.iter_mut().zip(q) {
            *slot = col?;
        }
        for row in table.rows() {
            let (config, _) = self.key(&row, &keyed)?;
            let mut quantiles = [0.0; 5];
            for (slot, &col) in quantiles.iter_mut().zip(&cols) {
                *slot = row.f64(col)?;
            }
            let metric = row.str(metric)?.to_string();
            self.staleness.push(StalenessRow { config, metric, count: row.f64(count)?, quantiles });
        }
        Ok(())
    }

    fn load_stages(&mut self, table: &Table) -> Result<()> {
        let keyed = Keyed::new(table, &self.axes)?;
        let (phase, stage, mean) =
            (table.col("phase")?, table.col("stage")?, table.col("mean_us")?);
        for row in table.rows() {
            let (config, _) = self.key(&row, &keyed)?;
            self.stages.push(StageRow {
                config,
                phase: row.str(phase)?.to_string(),
                stage: row.str(stage)?.to_string(),
                mean_us: row.f64(mean)?,
            });
        }
        Ok(())
    }

    fn load_errors(&mut self, table: &Table) -> Result<()> {
        let keyed = Keyed::new(table, &self.axes)?;
        let [phase, op, error, count] = ["phase", "op", "error", "count"].map(|c| table.col(c));
        let (phase, op, error, count) = (phase?, op?, error?, count?);
        for row in table.rows() {
            let (config, _) = self.key(&row, &keyed)?;
            self.errors.push(ErrorRow {
                config,
                phase: row.str(phase)?.to_string(),
                op: row.str(op)?.to_string(),
                error: row.str(error)?.to_string(),
                count: row.f64(count)?,
            });
        }
        Ok(())
    }

    /// `events.csv`: `run,<axes...>,[rep,]second,kind,detail`. Axis columns are optional
    /// here; without them an event is tied to its configuration through the run id.
    fn load_events(&mut self, table: &Table) -> Result<()> {
        let run = table.col("run")?;
        let (second, kind) = (table.col("second")?, table.col("kind")?);
        let axis_cols: Option<Vec<usize>> =
            self.axes.iter().map(|a| table.col_optional(a)).collect();
        for row in table.rows() {
            let config = match &axis_cols {
                Some(cols) => {
                    let values = row.strings(cols)?;
                    self.config_for(values, None)
                }
                None => {
                    let id = row.str(run)?;
                    match self.runs.get(id) {
                        Some(&(config, _)) => config,
                        None => {
                            return Err(Error::Csv {
                                path: table.path.clone(),
                                line: row.line(),
                                column: Some("run".into()),
                                message: format!("unknown run `{id}`"),
                            })
                        }
                    }
                }
            };
            let kind = row.str(kind)?.to_string();
            self.events.push(EventRow { config, second: row.f64(second)?, kind });
        }
        Ok(())
    }

    /// The short name of axis `axis`: its last dotted component (`read_policy`).
    pub fn axis_short(&self, axis: usize) -> &str {
        let name = self.axes.get(axis).map_or("", String::as_str);
        name.rsplit('.').next().unwrap_or(name)
    }

    /// The phase the figures and tables describe: `run` when measured, else `load`.
    pub fn main_phase(&self) -> &'static str {
        if self.summary.iter().any(|r| r.phase == "run") {
            "run"
        } else {
            "load"
        }
    }

    /// The per-repetition values of `metric` for one configuration, phase, op and latency kind;
    /// repetitions without a value (an empty cell: no operations) are left out.
    pub fn samples(
        &self,
        config: usize,
        phase: &str,
        op: &str,
        latency: &str,
        metric: impl Fn(&SummaryRow) -> f64,
    ) -> Vec<f64> {
        let mut rows: Vec<&SummaryRow> = self
            .summary
            .iter()
            .filter(|r| {
                r.config == config && r.phase == phase && r.op == op && r.latency == latency
            })
            .collect();
        rows.sort_by_key(|r| r.rep);
        rows.into_iter().map(metric).filter(|v| v.is_finite()).collect()
    }

    /// The sum over repetitions of `metric`, 0 without rows (a count that was never written
    /// is 0: an outcome row appears only when it has operations).
    pub fn total(
        &self,
        config: usize,
        phase: &str,
        op: &str,
        metric: impl Fn(&SummaryRow) -> f64,
    ) -> f64 {
        // From +0: an empty sum of f64 is -0, which would print as `-0`.
        self.samples(config, phase, op, "service", metric).iter().fold(0.0, |a, b| a + b)
    }

    /// Mean and interval of `metric` over repetitions.
    pub fn estimate(
        &self,
        config: usize,
        phase: &str,
        op: &str,
        latency: &str,
        metric: impl Fn(&SummaryRow) -> f64,
    ) -> Option<Estimate> {
        Estimate::of(&self.samples(config, phase, op, latency, metric))
    }

    /// The operation kinds of a phase, in a stable order (`ALL` last); outcome rows
    /// (`READ-FAILED`, `READ-NOT_FOUND`) are not listed.
    pub fn ops(&self, phase: &str) -> Vec<String> {
        let mut ops: Vec<String> = Vec::new();
        for r in self.summary.iter().filter(|r| r.phase == phase && outcome_of(&r.op).is_none()) {
            if !ops.contains(&r.op) {
                ops.push(r.op.clone());
            }
        }
        ops.sort_by_key(|op| (op == "ALL", op.clone()));
        ops
    }

    /// The op whose numbers stand for the whole phase: `ALL` when present, else the only op.
    pub fn overall_op(&self, phase: &str) -> Option<String> {
        let ops = self.ops(phase);
        if ops.iter().any(|o| o == "ALL") {
            return Some("ALL".into());
        }
        ops.into_iter().next()
    }

    /// Whether a phase has rows of `outcome` (`FAILED`, `NOT_FOUND`) with operations.
    pub fn has_outcome(&self, phase: &str, outcome: &str) -> bool {
        self.summary.iter().any(|r| {
            r.phase == phase
                && outcome_of(&r.op) == Some(outcome)
                && (r.count.is_nan() || r.count > 0.0)
        })
    }

    /// The axis values of a configuration as `name=value` pairs.
    pub fn config_axes(&self, config: usize) -> Vec<(String, String)> {
        let values = self.configs.get(config).map(|c| c.values.clone()).unwrap_or_default();
        self.axes.iter().cloned().zip(values).collect()
    }
}

/// The outcomes that have rows of their own: `<OP>-FAILED`, `<OP>-NOT_FOUND`.
pub(crate) const OUTCOMES: [&str; 2] = ["FAILED", "NOT_FOUND"];

/// The outcome a row's op names (`READ-FAILED` → `FAILED`), `None` for an operation kind.
pub(crate) fn outcome_of(op: &str) -> Option<&'static str> {
    OUTCOMES.into_iter().find(|o| op.strip_suffix(o).is_some_and(|rest| rest.ends_with('-')))
}

/// The row of `op`'s `outcome`: `READ` and `FAILED` give `READ-FAILED`.
pub(crate) fn outcome_op(op: &str, outcome: &str) -> String {
    format!("{op}-{outcome}")
}

#[cfg(test)]
mod tests {
    use super::outcome_of;

    #[test]
    fn outcome_rows_are_told_from_operation_kinds() {
        assert_eq!(outcome_of("READ-FAILED"), Some("FAILED"));
        assert_eq!(outcome_of("READ-MODIFY-WRITE-NOT_FOUND"), Some("NOT_FOUND"));
        assert_eq!(outcome_of("ALL-FAILED"), Some("FAILED"));
        assert_eq!(outcome_of("READ-MODIFY-WRITE"), None);
        assert_eq!(outcome_of("FAILED"), None);
        assert_eq!(outcome_of("ALL"), None);
    }
}
