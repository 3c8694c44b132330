//! End-to-end tests of what the harness measures: failed operations keep their latencies,
//! reads of absent keys are their own outcome, `ycsb.txt` follows YCSB's accounting, and
//! seconds without completions are rows of the time series. Failures and outages come from the
//! `null` binding's scripted stalls and failures (`null.stall_every`, `null.stall_ms`,
//! `null.fail_every`) and from reads of keys never loaded, never from wall-clock thresholds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{csv_rows, kvlab_in as kvlab, num, stderr, workload};

use std::collections::BTreeMap;
use std::path::Path;

type Row = BTreeMap<String, String>;

/// The run phase's measured seconds, from `run.json` (full precision).
fn measured_s(dir: &Path) -> f64 {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    json["runs"][0]["run"]["measured_s"].as_f64().unwrap()
}

fn find<'a>(rows: &'a [Row], op: &str, latency: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r["phase"] == "run" && r["op"] == op && r["latency"] == latency)
}

/// `[NAME], metric, value` from `ycsb.txt`'s run phase.
fn ycsb_value(text: &str, name: &str, metric: &str) -> Option<f64> {
    let run = text.split("# kvlab run").find(|block| block.contains(" phase run "))?;
    let prefix = format!("[{name}], {metric}, ");
    run.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().parse().unwrap())
}

#[test]
fn failed_operations_keep_their_latencies() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    // 1000 reads on one thread; every 50th stalls 20 ms and then fails.
    let out = kvlab(
        &[
            "run",
            "-P",
            &workload("ycsb/workloadc"),
            "--db",
            "null",
            "--threads",
            "1",
            "--target",
            "100000",
            "-p",
            "recordcount=10",
            "-p",
            "operationcount=1000",
            "-p",
            "null.stall_every=50",
            "-p",
            "null.stall_ms=20",
            "-p",
            "null.fail_every=50",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("unknown"), "{}", stderr(&out));
    let summary = csv_rows(&out_dir.join("summary.csv"));
    let read = find(&summary, "READ", "service").expect("READ row");
    assert_eq!((num(read, "count"), num(read, "errors")), (980.0, 20.0));
    assert!(num(read, "p99_us") < 20_000.0, "the stalled reads are not among the successes");
    for latency in ["service", "intended"] {
        let failed = find(&summary, "READ-FAILED", latency).expect("READ-FAILED row");
        assert_eq!(num(failed, "count"), 20.0, "{failed:?}");
        // Each failure took at least its 20 ms stall.
        assert!(num(failed, "p50_us") >= 19_900.0, "{failed:?}");
        assert!(num(failed, "max_us") >= 19_900.0, "{failed:?}");
        let all_failed = find(&summary, "ALL-FAILED", latency).expect("ALL-FAILED row");
        assert_eq!(num(all_failed, "count"), 20.0);
        let path = out_dir.join(format!("hlog/run/run-READ-FAILED-{latency}.hlog"));
        assert!(path.is_file(), "{} missing", path.display());
    }
    assert!(find(&summary, "READ-NOT_FOUND", "service").is_none(), "nothing was missing");
    let all = find(&summary, "ALL", "service").unwrap();
    assert_eq!((num(all, "count"), num(all, "errors")), (980.0, 20.0));

    let errors = csv_rows(&out_dir.join("errors.csv"));
    let run_errors: Vec<_> = errors.iter().filter(|r| r["phase"] == "run").collect();
    assert_eq!(run_errors.len(), 1, "{run_errors:?}");
    assert_eq!(
        (run_errors[0]["op"].as_str(), run_errors[0]["error"].as_str()),
        ("READ", "unavailable")
    );
    assert_eq!(num(run_errors[0], "count"), 20.0);

    let ycsb = std::fs::read_to_string(out_dir.join("ycsb.txt")).unwrap();
    assert_eq!(ycsb_value(&ycsb, "READ", "Operations"), Some(980.0), "{ycsb}");
    assert_eq!(ycsb_value(&ycsb, "READ", "Return=OK"), Some(980.0), "{ycsb}");
    assert_eq!(ycsb_value(&ycsb, "READ", "Return=UNAVAILABLE"), Some(20.0), "{ycsb}");
    assert_eq!(ycsb_value(&ycsb, "READ-FAILED", "Operations"), Some(20.0), "{ycsb}");
    assert!(ycsb_value(&ycsb, "READ-FAILED", "MinLatency(us)").unwrap() >= 19_900.0, "{ycsb}");
    assert_eq!(ycsb_value(&ycsb, "Intended-READ-FAILED", "Operations"), Some(20.0), "{ycsb}");
    // YCSB's throughput counts every operation, failed or not.
    let throughput = ycsb_value(&ycsb, "OVERALL", "Throughput(ops/sec)").unwrap();
    assert!((throughput * measured_s(&out_dir) / 1000.0 - 1.0).abs() < 0.001, "{ycsb}");

    // The figures draw the failures' latencies from their interval logs.
    let plot = kvlab(&["plot", out_dir.to_str().unwrap()], dir.path());
    assert!(plot.status.success(), "{}", stderr(&plot));
    assert!(out_dir.join("plots/latency-spectrum-failed.svg").is_file());
}

#[test]
fn reads_of_absent_keys_are_not_found_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_prop = format!("engine.dir={}", data.display());
    let common = ["-P", &workload("ycsb/workloadc"), "--db", "engine", "-p", &data_prop];
    // Load 200 records, then read from 1000: most reads miss.
    let mut args = vec!["load"];
    args.extend(common);
    let load_out = dir.path().join("load");
    args.extend(["-p", "recordcount=200", "--out", load_out.to_str().unwrap()]);
    let out = kvlab(&args, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let run_out = dir.path().join("run");
    let trace = dir.path().join("trace.csv");
    let mut args = vec!["run"];
    args.extend(common);
    args.extend([
        "-p",
        "recordcount=1000",
        "-p",
        "operationcount=3000",
        "--trace",
        trace.to_str().unwrap(),
        "--out",
        run_out.to_str().unwrap(),
    ]);
    let out = kvlab(&args, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));

    let traced = csv_rows(&trace);
    let missing = traced.iter().filter(|r| r["status"] == "not_found").count() as f64;
    let found = traced.iter().filter(|r| r["status"] == "ok").count() as f64;
    assert_eq!(missing + found, 3000.0, "the trace keeps its `not_found` status");
    assert!(missing > 100.0 && found > 100.0, "found {found}, missing {missing}");

    let summary = csv_rows(&run_out.join("summary.csv"));
    let read = find(&summary, "READ", "service").expect("READ row");
    assert_eq!(num(read, "count"), 3000.0, "a read that finds nothing completed: {read:?}");
    assert_eq!(num(read, "errors"), 0.0, "and is no error: {read:?}");
    let not_found = find(&summary, "READ-NOT_FOUND", "service").expect("READ-NOT_FOUND row");
    assert_eq!(num(not_found, "count"), missing);
    let all = find(&summary, "ALL", "service").unwrap();
    let secs = measured_s(&run_out);
    assert!((num(all, "throughput_ops") * secs / 3000.0 - 1.0).abs() < 0.001, "{all:?}");
    assert!(find(&summary, "READ-FAILED", "service").is_none(), "nothing failed");
    assert!(csv_rows(&run_out.join("errors.csv")).is_empty(), "errors.csv lists failures only");

    // ycsb.txt keeps YCSB's own accounting: NOT_FOUND is a return code of [READ], its latency
    // goes to [READ-FAILED].
    let ycsb = std::fs::read_to_string(run_out.join("ycsb.txt")).unwrap();
    assert_eq!(ycsb_value(&ycsb, "READ", "Operations"), Some(found), "{ycsb}");
    assert_eq!(ycsb_value(&ycsb, "READ", "Return=OK"), Some(found), "{ycsb}");
    assert_eq!(ycsb_value(&ycsb, "READ", "Return=NOT_FOUND"), Some(missing), "{ycsb}");
    assert_eq!(ycsb_value(&ycsb, "READ-FAILED", "Operations"), Some(missing), "{ycsb}");

    // The report gives each configuration's count of reads that found nothing.
    let report = kvlab(&["report", run_out.to_str().unwrap()], dir.path());
    assert!(report.status.success(), "{}", stderr(&report));
    let md = std::fs::read_to_string(run_out.join("report.md")).unwrap();
    assert!(md.contains("not found"), "{md}");
    assert!(md.contains(&format!("| {missing:.0} |")), "{md}");
}

#[test]
fn seconds_without_completions_are_zero_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    // One thread whose every operation stalls 1.5 s: completions at 1.5 s, 3 s and 4.5 s
    // (each stall lasts at least its 1.5 s), none in seconds 0 and 2.
    let out = kvlab(
        &[
            "run",
            "-P",
            &workload("ycsb/workloadc"),
            "--db",
            "null",
            "--threads",
            "1",
            "--duration",
            "4s",
            "--status",
            "1",
            "-p",
            "recordcount=1",
            "-p",
            "null.stall_every=1",
            "-p",
            "null.stall_ms=1500",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = csv_rows(&out_dir.join("summary.csv"));
    let all = find(&summary, "ALL", "service").unwrap();
    assert_eq!(num(all, "count"), 3.0);
    let measured = measured_s(&out_dir);
    let series: Vec<Row> = csv_rows(&out_dir.join("timeseries.csv"))
        .into_iter()
        .filter(|r| r["phase"] == "run" && r["op"] == "ALL")
        .collect();
    let seconds: Vec<(f64, f64)> =
        series.iter().map(|r| (num(r, "second"), num(r, "count"))).collect();
    assert_eq!(seconds, [(0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (3.0, 1.0), (4.0, 1.0)]);
    for r in &series {
        if num(r, "count") == 0.0 {
            assert_eq!(num(r, "throughput_ops"), 0.0);
            for col in ["p50_us", "p99_us", "max_us"] {
                assert_eq!(r[col], "", "no latency in a second without completions: {r:?}");
            }
        } else {
            assert!(num(r, "p99_us") >= 1_400_000.0, "{r:?}");
        }
    }
    // The last, partial second is divided by its real length.
    let last = series.last().unwrap();
    let want = 1.0 / (measured - 4.0);
    assert!(
        (num(last, "throughput_ops") / want - 1.0).abs() < 0.01,
        "{last:?}, measured {measured}"
    );

    // A status line's count and rate agree: nothing done, nothing current.
    let err = stderr(&out);
    let first = err.lines().find(|l| l.contains("run 1 sec:")).expect("status line");
    assert!(first.contains("0 operations; 0 current ops/sec"), "{err}");

    let report = kvlab(&["report", out_dir.to_str().unwrap()], dir.path());
    assert!(report.status.success(), "{}", stderr(&report));
}
