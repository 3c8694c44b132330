//! `kvlab merge DIR… --out OUT`: the results of several client machines (`kvlab run
//! --client-id I --clients N`, all against one cluster at the same time) as one results
//! directory, with true percentiles.
//!
//! Percentiles cannot be merged from summaries (YCSB #433, #455): merge adds the clients'
//! HdrHistograms instead, interval by interval, and computes every latency figure from the
//! sums. Per run, phase, op and latency kind:
//! - `hlog/<run>/<phase>-<op>-<latency>.hlog`: the clients' intervals added (interval `k` of
//!   every client into interval `k`: the clients ran the same schedule at the same time);
//! - `summary.csv`: count and every latency column from the summed histogram, errors summed,
//!   `measured_s` the longest client's, throughput the merged count over it;
//! - `timeseries.csv`: per second, counts and errors summed, throughput the sum, percentiles
//!   from the summed interval histogram;
//! - `errors.csv`: counts summed; `ycsb.txt`: rewritten from the merged figures (`[OVERALL]`
//!   and one block per op).
//!
//! The store's node counters (`nodes.csv`), read stages, staleness and events belong to the
//! cluster or to one client's view of it: they are the first client's, and `run.json` says so
//! (`merged_from`, `per_client_files`). `storage.csv` is left out: each client counts its own
//! share of the load's writes against the whole cluster's bytes and fsyncs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The files copied from the first client.
const FIRST_CLIENT_FILES: [&str; 4] = ["nodes.csv", "stages.csv", "staleness.csv", "events.csv"];

fn format_error(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Results { path: path.to_path_buf(), message: message.to_string() }
}

/// Intervals of one log: start offset in ms → histogram.
type Intervals = BTreeMap<u64, Histogram<u64>>;

fn read_intervals(path: &Path) -> Result<Intervals> {
    let bytes = fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut out = Intervals::new();
    let mut deserializer = Deserializer::new();
    for (i, entry) in IntervalLogIterator::new(&bytes).enumerate() {
        let entry = entry.map_err(|e| format_error(path, format!("entry {}: {e:?}", i + 1)))?;
        let LogEntry::Interval(interval) = entry else { continue };
        let encoded = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| format_error(path, format!("entry {}: bad base64: {e}", i + 1)))?;
        let hist: Histogram<u64> = deserializer
            .deserialize(&mut encoded.as_slice())
            .map_err(|e| format_error(path, format!("entry {}: bad histogram: {e:?}", i + 1)))?;
        let start = interval.start_timestamp().as_millis() as u64;
        add(out.entry(start).or_insert_with(|| empty_like(&hist)), &hist, path)?;
    }
    Ok(out)
}

fn empty_like(h: &Histogram<u64>) -> Histogram<u64> {
    Histogram::new_from(h)
}

fn add(into: &mut Histogram<u64>, h: &Histogram<u64>, path: &Path) -> Result<()> {
    into.add(h).map_err(|e| format_error(path, format!("cannot merge: {e:?}")))
}

fn write_intervals(path: &Path, intervals: &Intervals, clients: usize) -> Result<()> {
    let file =
        fs::File::create(path).map_err(|e| Error::io("cannot create results file", path, e))?;
    let mut out = BufWriter::new(file);
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!("kvlab merge of {clients} clients, values in ns"))
        .with_max_value_divisor(1e9);
    let mut log =
        builder.begin_log_with(&mut out, &mut serializer).map_err(|e| format_error(path, e))?;
    for (&start, hist) in intervals {
        log.write_histogram(hist, Duration::from_millis(start), Duration::from_secs(1), None)
            .map_err(|e| format_error(path, format!("{e:?}")))?;
    }
    drop(log);
    out.flush().map_err(|e| Error::io("cannot write results file", path, e))
}

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn read_csv(path: &Path) -> Result<Table> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| format_error(path, e))?;
    let header =
        reader.headers().map_err(|e| format_error(path, e))?.iter().map(String::from).collect();
    let mut rows = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let r = r.map_err(|e| format_error(path, format!("row {}: {e}", i + 2)))?;
        rows.push(r.iter().map(String::from).collect());
    }
    Ok(Table { header, rows })
}

impl Table {
    fn col(&self, name: &str, path: &Path) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format_error(path, format!("no column {name}")))
    }
}

fn write_csv(path: &Path, table: &Table) -> Result<()> {
    let mut w = csv::Writer::from_path(path).map_err(|e| format_error(path, e))?;
    w.write_record(&table.header).map_err(|e| format_error(path, e))?;
    for row in &table.rows {
        w.write_record(row).map_err(|e| format_error(path, e))?;
    }
    w.flush().map_err(|e| Error::io("cannot write results file", path, e))
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or(0.0)
}

fn us(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1000.0)
}

/// `mean, p50, p90, p95, p99, p99.9, p99.99, max` in µs, as `summary.csv` has them.
fn latency_cells(h: &Histogram<u64>) -> Vec<String> {
    if h.is_empty() {
        return vec![String::new(); 8];
    }
    let mut cells = vec![format!("{:.3}", h.mean() / 1000.0)];
    for q in [0.5, 0.9, 0.95, 0.99, 0.999, 0.9999] {
        cells.push(us(h.value_at_quantile(q)));
    }
    cells.push(us(h.max()));
    cells
}

/// Merges the client results directories `inputs` into `out` (see the module docs).
///
/// # Errors
///
/// Fewer than two inputs, inputs whose runs differ, a missing or corrupt results file (named),
/// a non-empty `out`.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<PathBuf> {
    if inputs.len() < 2 {
        return Err(Error::setting(
            "kvlab merge",
            inputs.len(),
            "at least two results directories",
        ));
    }
    let mut metas = Vec::new();
    for dir in inputs {
        let path = dir.join("run.json");
        let text = fs::read_to_string(&path).map_err(|e| Error::io("cannot read", &path, e))?;
        let meta: Value = serde_json::from_str(&text).map_err(|e| format_error(&path, e))?;
        let runs: Vec<String> = meta["runs"]
            .as_array()
            .ok_or_else(|| format_error(&path, "no runs"))?
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_string())
            .collect();
        metas.push((meta, runs));
    }
    for (dir, (_, runs)) in inputs.iter().zip(&metas).skip(1) {
        if *runs != metas[0].1 {
            return Err(format_error(
                &dir.join("run.json"),
                format!("runs {runs:?} differ from {:?} of {}", metas[0].1, inputs[0].display()),
            ));
        }
    }
    crate::results::prepare_dir(out)?;
    // The interval logs, summed; and their totals per (run, file name).
    let mut totals: BTreeMap<(String, String), Histogram<u64>> = BTreeMap::new();
    let mut per_second: BTreeMap<(String, String), Intervals> = BTreeMap::new();
    for run in &metas[0].1 {
        let mut names = BTreeSet::new();
        for dir in inputs {
            let d = dir.join("hlog").join(run);
            if let Ok(entries) = fs::read_dir(&d) {
                names.extend(entries.flatten().filter_map(|e| e.file_name().into_string().ok()));
            }
        }
        if names.is_empty() {
            continue;
        }
        let out_dir = out.join("hlog").join(run);
        fs::create_dir_all(&out_dir)
            .map_err(|e| Error::io("cannot create directory", &out_dir, e))?;
        for name in names.iter().filter(|n| n.ends_with(".hlog")) {
            let mut merged = Intervals::new();
            for dir in inputs {
                let path = dir.join("hlog").join(run).join(name);
                if !path.exists() {
                    continue;
                }
                for (start, h) in read_intervals(&path)? {
                    let slot = merged.entry(start).or_insert_with(|| empty_like(&h));
                    add(slot, &h, &path)?;
                }
            }
            write_intervals(&out_dir.join(name), &merged, inputs.len())?;
            let mut total: Option<Histogram<u64>> = None;
            for h in merged.values() {
                match &mut total {
                    Some(t) => add(t, h, &out_dir.join(name))?,
                    None => total = Some(h.clone()),
                }
            }
            if let Some(t) = total {
                totals.insert((run.clone(), name.clone()), t);
            }
            per_second.insert((run.clone(), name.clone()), merged);
        }
    }
    merge_summary(inputs, out, &totals)?;
    merge_timeseries(inputs, out, &per_second)?;
    merge_errors(inputs, out)?;
    for name in FIRST_CLIENT_FILES {
        let from = inputs[0].join(name);
        if from.exists() {
            fs::copy(&from, out.join(name)).map_err(|e| Error::io("cannot copy", &from, e))?;
        }
    }
    write_ycsb(out)?;
    let mut meta = metas[0].0.clone();
    if let Some(map) = meta.as_object_mut() {
        map.insert(
            "merged_from".into(),
            json!(inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()),
        );
        map.insert("per_client_files".into(), json!({ "client": 1, "files": FIRST_CLIENT_FILES }));
    }
    let path = out.join("run.json");
    let text = serde_json::to_string_pretty(&meta).map_err(|e| format_error(&path, e))?;
    fs::write(&path, text).map_err(|e| Error::io("cannot write results file", &path, e))?;
    Ok(out.to_path_buf())
}

/// The key columns of a results row: everything before column `upto`.
fn key_of(row: &[String], upto: usize) -> Vec<String> {
    row[..upto].to_vec()
}

/// The rows of every input's `file`, one per key (the columns before `upto`), in the order
/// the keys first appear; `combine` folds a later input's row into the first one's.
fn merge_rows(
    inputs: &[PathBuf],
    file: &str,
    header: &[String],
    upto: usize,
    mut combine: impl FnMut(&mut Vec<String>, &[String]),
) -> Result<Vec<Vec<String>>> {
    let mut merged: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for dir in inputs {
        let path = dir.join(file);
        let t = read_csv(&path)?;
        if t.header != header {
            return Err(format_error(
                &path,
                format!("columns differ from {}'s", inputs[0].display()),
            ));
        }
        for row in t.rows {
            match merged.get(&key_of(&row, upto)) {
                Some(&i) => combine(&mut rows[i], &row),
                None => {
                    merged.insert(key_of(&row, upto), rows.len());
                    rows.push(row);
                }
            }
        }
    }
    Ok(rows)
}

fn merge_summary(
    inputs: &[PathBuf],
    out: &Path,
    totals: &BTreeMap<(String, String), Histogram<u64>>,
) -> Result<()> {
    let first = inputs[0].join("summary.csv");
    let base = read_csv(&first)?;
    let c = |n: &str| base.col(n, &first);
    let (count, errors, thr, measured) =
        (c("count")?, c("errors")?, c("throughput_ops")?, c("measured_s")?);
    let (phase, op, latency, mean) = (c("phase")?, c("op")?, c("latency")?, c("mean_us")?);
    let merged = merge_rows(inputs, "summary.csv", &base.header, count, |m, row| {
        m[count] = (num(&m[count]) + num(&row[count])).to_string();
        m[errors] = (num(&m[errors]) + num(&row[errors])).to_string();
        m[measured] = format!("{:.3}", num(&m[measured]).max(num(&row[measured])));
    })?;
    let mut rows = Vec::new();
    for mut row in merged {
        let name = format!("{}-{}-{}.hlog", row[phase], row[op], row[latency]);
        if let Some(h) = totals.get(&(row[0].clone(), name)) {
            row[count] = h.len().to_string();
            for (i, cell) in latency_cells(h).into_iter().enumerate() {
                row[mean + i] = cell;
            }
        }
        let secs = num(&row[measured]).max(1e-9);
        row[thr] = format!("{:.3}", num(&row[count]) / secs);
        rows.push(row);
    }
    write_csv(&out.join("summary.csv"), &Table { header: base.header, rows })
}

fn merge_timeseries(
    inputs: &[PathBuf],
    out: &Path,
    per_second: &BTreeMap<(String, String), Intervals>,
) -> Result<()> {
    let first = inputs[0].join("timeseries.csv");
    let base = read_csv(&first)?;
    let c = |n: &str| base.col(n, &first);
    let (phase, second, op, count, errors) =
        (c("phase")?, c("second")?, c("op")?, c("count")?, c("errors")?);
    let (thr, p50) = (c("throughput_ops")?, c("p50_us")?);
    let merged = merge_rows(inputs, "timeseries.csv", &base.header, count, |m, row| {
        for i in [count, errors] {
            m[i] = (num(&m[i]) as u64 + num(&row[i]) as u64).to_string();
        }
        m[thr] = format!("{:.3}", num(&m[thr]) + num(&row[thr]));
    })?;
    let mut rows = Vec::new();
    for mut row in merged {
        let name = format!("{}-{}-service.hlog", row[phase], row[op]);
        let sec: i64 = row[second].parse().unwrap_or(-1);
        let interval = per_second
            .get(&(row[0].clone(), name))
            .and_then(|iv| u64::try_from(sec).ok().and_then(|s| iv.get(&(s * 1000))));
        if let Some(h) = interval.filter(|h| !h.is_empty()) {
            row[p50] = us(h.value_at_quantile(0.5));
            row[p50 + 1] = us(h.value_at_quantile(0.99));
            row[p50 + 2] = us(h.max());
        }
        rows.push(row);
    }
    write_csv(&out.join("timeseries.csv"), &Table { header: base.header, rows })
}

fn merge_errors(inputs: &[PathBuf], out: &Path) -> Result<()> {
    let first = inputs[0].join("errors.csv");
    let base = read_csv(&first)?;
    let count = base.col("count", &first)?;
    let mut merged: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for dir in inputs {
        let path = dir.join("errors.csv");
        let t = read_csv(&path)?;
        for row in t.rows {
            *merged.entry(key_of(&row, count)).or_default() += num(&row[count]) as u64;
        }
    }
    let rows = merged
        .into_iter()
        .map(|(mut k, n)| {
            k.push(n.to_string());
            k
        })
        .collect();
    write_csv(&out.join("errors.csv"), &Table { header: base.header, rows })
}

/// `ycsb.txt` from the merged `summary.csv`: `[OVERALL]` and one block per run, phase and op.
fn write_ycsb(out: &Path) -> Result<()> {
    let path = out.join("summary.csv");
    let t = read_csv(&path)?;
    let c = |n: &str| t.col(n, &path);
    let (phase, op, latency, count, measured) =
        (c("phase")?, c("op")?, c("latency")?, c("count")?, c("measured_s")?);
    let (mean, p95, p99, p999, max) =
        (c("mean_us")?, c("p95_us")?, c("p99_us")?, c("p999_us")?, c("max_us")?);
    let mut text = String::new();
    let mut last = String::new();
    for row in t.rows.iter().filter(|r| r[latency] == "service") {
        let head = format!("{} {}", row[0], row[phase]);
        if head != last {
            let all = t.rows.iter().find(|r| {
                r[0] == row[0]
                    && r[phase] == row[phase]
                    && r[op] == "ALL"
                    && r[latency] == "service"
            });
            let secs = num(&row[measured]);
            text.push_str(&format!("# kvlab merge: run {} phase {}\n", row[0], row[phase]));
            text.push_str(&format!("[OVERALL], RunTime(ms), {:.0}\n", secs * 1000.0));
            if let Some(all) = all {
                text.push_str(&format!(
                    "[OVERALL], Throughput(ops/sec), {}\n",
                    num(&all[count]) / secs.max(1e-9)
                ));
            }
            last = head;
        }
        let name = &row[op];
        text.push_str(&format!("[{name}], Operations, {}\n", row[count]));
        text.push_str(&format!("[{name}], AverageLatency(us), {}\n", row[mean]));
        text.push_str(&format!("[{name}], MaxLatency(us), {:.0}\n", num(&row[max])));
        for (label, col) in [("95th", p95), ("99th", p99), ("99.9", p999)] {
            text.push_str(&format!(
                "[{name}], {label}PercentileLatency(us), {:.0}\n",
                num(&row[col])
            ));
        }
    }
    let path = out.join("ycsb.txt");
    fs::write(&path, text).map_err(|e| Error::io("cannot write results file", &path, e))
}
