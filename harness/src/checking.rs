//! Checking-mode runs: where their traces go and how their verdicts are recorded.
//!
//! A run with `check=true` writes its trace into the results directory (`trace.csv` for
//! `kvlab run`, `traces/<run>.csv` in a suite, unless `trace` names a file), and once it ends
//! the trace is checked ([`crate::check`]). Each verdict is one row of `check.csv` (histories,
//! operations, faults, violations) and the full report, counter-examples included, goes to
//! `check/<run>.txt`. A command whose histories hold a violation fails with
//! [`Error::CheckFailed`] after every result is written.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use crate::check::{check_trace, CheckOptions, CheckReport};
use crate::error::{Error, Result};
use crate::results::RunRecord;

/// The columns of `check.csv` after `run`, the axes and `rep`.
pub const CHECK_COLUMNS: [&str; 13] = [
    "read_policy",
    "keys",
    "ops",
    "reads",
    "writes",
    "unknown_writes",
    "stale_reads",
    "skipped",
    "faults",
    "violations",
    "inconclusive_keys",
    "verdict",
    "report",
];

/// Where a checking-mode run writes its trace: `trace` if set, else inside `dir`.
pub fn trace_path(dir: &Path, run_id: &str, in_suite: bool, trace: Option<&Path>) -> PathBuf {
    match trace {
        Some(t) if !in_suite => t.to_path_buf(),
        _ if in_suite => dir.join("traces").join(format!("{run_id}.csv")),
        _ => dir.join("trace.csv"),
    }
}

/// Totals over the checked runs of one command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckTotals {
    /// Runs (histories) checked.
    pub histories: usize,
    /// Operations checked.
    pub ops: usize,
    /// Faults injected.
    pub faults: usize,
    /// Violations found.
    pub violations: usize,
    /// Keys whose search hit its budget.
    pub inconclusive: usize,
}

impl CheckTotals {
    /// The error to return when a violation was found.
    pub fn verdict(&self, dir: &Path) -> Result<()> {
        if self.violations == 0 {
            return Ok(());
        }
        Err(Error::CheckFailed {
            dir: dir.to_path_buf(),
            violations: self.violations,
            histories: self.histories,
        })
    }
}

/// Checks the trace of `record`, appends its row to `dir/check.csv` and writes the report.
///
/// # Errors
///
/// A trace that cannot be read or parsed, or results that cannot be written.
pub fn check_run(
    dir: &Path,
    axis_names: &[String],
    record: &RunRecord,
    trace: &Path,
    totals: &mut CheckTotals,
) -> Result<CheckReport> {
    let report = check_trace(trace, &CheckOptions::default())?;
    let faults =
        record.run.as_ref().map_or(0, |p| p.events.iter().filter(|e| e.kind != "heal").count());
    let report_dir = dir.join("check");
    fs::create_dir_all(&report_dir)
        .map_err(|e| Error::io("cannot create results directory", &report_dir, e))?;
    let report_path = report_dir.join(format!("{}.txt", record.id));
    let text = format!("trace: {}\nfaults injected: {faults}\n\n{report}", trace.display());
    fs::write(&report_path, text)
        .map_err(|e| Error::io("cannot write results file", &report_path, e))?;

    let path = dir.join("check.csv");
    let new = !path.exists();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io("cannot write results file", &path, e))?;
    let mut out = csv::Writer::from_writer(file);
    let err = |e: csv::Error| Error::Results { path: path.clone(), message: e.to_string() };
    if new {
        let mut header = vec!["run".to_string()];
        header.extend(axis_names.iter().cloned());
        header.push("rep".into());
        header.extend(CHECK_COLUMNS.iter().map(|c| c.to_string()));
        out.write_record(&header).map_err(err)?;
    }
    let mut row = vec![record.id.clone()];
    for name in axis_names {
        let value = record.axes.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        row.push(value.unwrap_or_default());
    }
    row.push(record.rep.to_string());
    let policy = match record.settings.db.as_str() {
        "etcd" => record.settings.props.get_str_or("etcd.read", "linearizable"),
        _ => record.settings.props.get_str_or("store.read_policy", "leader"),
    }
    .to_string();
    let verdict = if !report.violations.is_empty() {
        "violation"
    } else if report.inconclusive.is_empty() {
        "ok"
    } else {
        "inconclusive"
    };
    row.push(policy);
    for n in [
        report.keys,
        report.ops,
        report.reads,
        report.writes,
        report.unknown,
        report.stale_reads,
        report.skipped,
        faults,
        report.violations.len(),
        report.inconclusive.len(),
    ] {
        row.push(n.to_string());
    }
    row.push(verdict.to_string());
    row.push(format!("check/{}.txt", record.id));
    out.write_record(&row).map_err(err)?;
    out.flush().map_err(|e| Error::io("cannot write results file", &path, e))?;

    totals.histories += 1;
    totals.ops += report.ops;
    totals.faults += faults;
    totals.violations += report.violations.len();
    totals.inconclusive += report.inconclusive.len();
    Ok(report)
}
