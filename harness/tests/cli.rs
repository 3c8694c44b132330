//! End-to-end tests of the `kvlab` binary and the harness library: parsing and errors, the
//! results files, coordinated-omission correction, trace determinism, suites, interruption.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{csv_rows, kvlab_in as kvlab, num, stderr, workload};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[test]
fn bad_input_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec!["run".into(), "--db".into(), "mongo".into()],
            vec!["db", "mongo", "null, engine, store"],
        ),
        (vec!["run".into(), "-P".into(), "/no/such/workload".into()], vec!["/no/such/workload"]),
        (
            vec![
                "run".into(),
                "--db".into(),
                "null".into(),
                "-p".into(),
                "recordcount=10".into(),
                "-p".into(),
                "readproportion=lots".into(),
            ],
            vec!["readproportion", "lots"],
        ),
        (
            vec!["run".into(), "--db".into(), "null".into(), "--threads".into(), "0".into()],
            vec!["threadcount", "1 to 4096"],
        ),
        (
            vec![
                "run".into(),
                "--db".into(),
                "engine".into(),
                "-p".into(),
                "engine=leveldb".into(),
            ],
            vec!["engine", "leveldb"],
        ),
        (
            vec![
                "run".into(),
                "-P".into(),
                workload("ycsb/workloadc"),
                "--db".into(),
                "engine".into(),
                "-p".into(),
                "rocksdb.preset=fast".into(),
            ],
            vec!["rocksdb.preset", "fast", "bloom"],
        ),
        (vec!["run".into(), "--db".into(), "null".into()], vec!["recordcount"]),
        (vec!["run".into(), "-p".into(), "novalue".into()], vec!["key=value", "novalue"]),
        (
            vec![
                "run".into(),
                "-P".into(),
                workload("ycsb/workloadc"),
                "-p".into(),
                "requestdistribution=pareto".into(),
                "--db".into(),
                "null".into(),
            ],
            vec!["requestdistribution", "pareto"],
        ),
        (vec!["suite".into(), "/no/such/suite.toml".into()], vec!["/no/such/suite.toml"]),
        (
            vec!["run".into(), "--db".into(), "null".into(), "--inflight".into(), "8".into()],
            vec!["inflight", "db=null", "store"],
        ),
        (
            vec!["run".into(), "--db".into(), "engine".into(), "--inflight".into(), "2".into()],
            vec!["inflight", "db=engine", "store"],
        ),
        (
            vec!["run".into(), "--db".into(), "store".into(), "--inflight".into(), "0".into()],
            vec!["inflight", "1 to 65536"],
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = kvlab(&args, dir.path());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for e in expected {
            assert!(err.contains(e), "{args:?}: expected {e:?} in {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no results for failed runs");
}

#[test]
fn help_explains_options_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = kvlab(&["run", "--help"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["--target", "--warmup", "--trace", "threadcount", "Example"] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn null_run_writes_every_results_file() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = kvlab(
        &[
            "run",
            "-P",
            &workload("ycsb/workloada"),
            "--db",
            "null",
            "--threads",
            "2",
            "-p",
            "recordcount=1000",
            "-p",
            "operationcount=20000",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&out_dir.display().to_string()));
    let summary = csv_rows(&out_dir.join("summary.csv"));
    let headers = std::fs::read_to_string(out_dir.join("summary.csv")).unwrap();
    assert!(headers.starts_with(
        "run,rep,phase,op,latency,count,errors,throughput_ops,mean_us,p50_us,p90_us,p95_us,p99_us,p999_us,p9999_us,max_us"
    ));
    let get = |phase: &str, op: &str| {
        summary
            .iter()
            .find(|r| r["phase"] == phase && r["op"] == op && r["latency"] == "service")
            .cloned()
    };
    assert_eq!(
        num(&get("load", "INSERT").expect("load row"), "count"),
        1000.0,
        "load reported separately"
    );
    let reads = num(&get("run", "READ").expect("read row"), "count");
    let updates = num(&get("run", "UPDATE").expect("update row"), "count");
    assert_eq!(reads + updates, 20000.0);
    assert!((reads / 20000.0 - 0.5).abs() < 0.03, "workload A is half reads: {reads}");
    let all = get("run", "ALL").unwrap();
    assert_eq!(num(&all, "count"), 20000.0);
    assert!(num(&all, "throughput_ops") > 0.0);
    assert!(
        num(&all, "p50_us") <= num(&all, "p99_us") && num(&all, "p99_us") <= num(&all, "max_us")
    );
    assert!(
        summary.iter().all(|r| r["latency"] == "service"),
        "no intended latency without --target"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["completed"], true);
    assert_eq!(json["finished"], true);
    assert!(json["machine"]["cores"].as_u64().unwrap() >= 1);
    assert_eq!(json["runs"][0]["properties"]["db"], "null");
    assert!(json["git_commit"].is_string());

    let ycsb = std::fs::read_to_string(out_dir.join("ycsb.txt")).unwrap();
    assert!(ycsb.contains("[OVERALL], Throughput(ops/sec), "), "{ycsb}");
    assert!(ycsb.contains("[READ], 99thPercentileLatency(us), "), "{ycsb}");
    assert!(ycsb.contains("[UPDATE], Return=OK, "), "{ycsb}");

    let series = csv_rows(&out_dir.join("timeseries.csv"));
    let total: f64 = series
        .iter()
        .filter(|r| r["phase"] == "run" && r["op"] == "ALL")
        .map(|r| num(r, "count"))
        .sum();
    assert_eq!(total, 20000.0, "the time series adds up to the total");
    let hlog = std::fs::read_to_string(out_dir.join("hlog/run/run-READ-service.hlog")).unwrap();
    assert!(hlog.contains("#[StartTime:") && hlog.contains("HIST"), "{hlog}");

    // The same directory is never overwritten.
    let again = kvlab(
        &[
            "run",
            "--db",
            "null",
            "-p",
            "recordcount=10",
            "-p",
            "operationcount=10",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
}

#[test]
fn engine_run_reads_what_it_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = kvlab(
        &[
            "run",
            "-P",
            &workload("ycsb/workloadc"),
            "--db",
            "engine",
            "-p",
            "engine=memory",
            "-p",
            "recordcount=2000",
            "-p",
            "operationcount=5000",
            "--threads",
            "2",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = csv_rows(&out_dir.join("summary.csv"));
    let read = summary.iter().find(|r| r["phase"] == "run" && r["op"] == "READ").unwrap();
    assert_eq!(num(read, "count"), 5000.0);
    assert_eq!(num(read, "errors"), 0.0, "every read finds its record");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["runs"][0]["engine_stats"]["memory.keys"], 2000);
}

#[test]
fn persistent_engine_loads_then_runs_in_two_phases() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_prop = format!("engine.dir={}", data.display());
    let common = [
        "-P",
        &workload("ycsb/workloadc"),
        "--db",
        "engine",
        "-p",
        &data_prop,
        "-p",
        "recordcount=500",
        "-p",
        "operationcount=1000",
    ];
    let load_out = dir.path().join("load");
    let mut args = vec!["load"];
    args.extend(common);
    args.extend(["--out", load_out.to_str().unwrap()]);
    let out = kvlab(&args, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let run_out = dir.path().join("run");
    let mut args = vec!["run"];
    args.extend(common);
    args.extend(["--out", run_out.to_str().unwrap()]);
    let out = kvlab(&args, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = csv_rows(&run_out.join("summary.csv"));
    assert!(
        summary.iter().all(|r| r["phase"] == "run"),
        "the run phase does not reload a loaded store"
    );
    let read = summary.iter().find(|r| r["op"] == "READ").unwrap();
    assert_eq!((num(read, "count"), num(read, "errors")), (1000.0, 0.0));
}

#[test]
fn stalls_show_in_intended_latency_not_service_time() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    // 2000 ops at 2000 ops/s; every 500th op stalls 200 ms.
    let out = kvlab(
        &[
            "run",
            "--db",
            "null",
            "--target",
            "2000",
            "-p",
            "operationcount=2000",
            "-p",
            "recordcount=100",
            "-p",
            "null.stall_every=500",
            "-p",
            "null.stall_ms=200",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = csv_rows(&out_dir.join("summary.csv"));
    let row = |latency: &str| {
        summary
            .iter()
            .find(|r| r["phase"] == "run" && r["op"] == "READ" && r["latency"] == latency)
            .cloned()
            .unwrap()
    };
    let (service, intended) = (row("service"), row("intended"));
    assert!(num(&service, "p99_us") < 20_000.0, "service p99 hides the stall: {service:?}");
    assert!(num(&service, "max_us") >= 150_000.0, "the stalled op itself is slow: {service:?}");
    assert!(num(&intended, "p99_us") >= 100_000.0, "intended p99 shows the stall: {intended:?}");
    assert!(num(&intended, "p50_us") > num(&service, "p50_us"));
}

#[test]
fn traces_are_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |seed: &str, name: &str| -> Vec<String> {
        let path = dir.path().join(name);
        let out_dir = dir.path().join(format!("{name}-out"));
        let out = kvlab(
            &[
                "run",
                "-P",
                &workload("ycsb/workloada"),
                "--db",
                "null",
                "--threads",
                "2",
                "--seed",
                seed,
                "-p",
                "recordcount=1000",
                "-p",
                "operationcount=2000",
                "--trace",
                path.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(kvlab_harness::runner::TRACE_HEADER));
        assert!(kvlab_harness::runner::TRACE_HEADER.starts_with(
            "thread,op,key,start_ns,latency_ns,intended_latency_ns,status,node,served_as,value"
        ));
        assert!(kvlab_harness::runner::TRACE_HEADER.ends_with(",phase"));
        // thread, op, key and phase: everything but timings.
        lines
            .map(|l| {
                let fields: Vec<&str> = l.split(',').collect();
                format!("{},{}", fields[..3].join(","), fields.last().unwrap())
            })
            .collect()
    };
    let a = trace("7", "a.csv");
    let b = trace("7", "b.csv");
    let c = trace("8", "c.csv");
    // The null store is empty, so the run loads it first: the load's rows, then the run's.
    let phases: Vec<&str> = a.iter().map(|r| r.rsplit(',').next().unwrap()).collect();
    assert_eq!(phases.len(), 3000);
    assert!(phases[..1000].iter().all(|&p| p == "load"), "the load's 1000 inserts come first");
    assert!(phases[1000..].iter().all(|&p| p == "run"), "then the run's 2000 operations");
    assert_eq!(a, b, "same seed, same operations");
    assert_ne!(a, c, "another seed, other operations");
}

/// `kvlab load --trace F` writes one row per loaded record, naming the keys YCSB inserts; a
/// later `kvlab run --trace` on the loaded store traces its own operations only.
#[test]
fn load_trace_lists_every_inserted_key() {
    let dir = tempfile::tempdir().unwrap();
    let data_prop = format!("engine.dir={}", dir.path().join("data").display());
    let common = [
        "-P",
        &workload("ycsb/workloadc"),
        "--db",
        "engine",
        "-p",
        &data_prop,
        "-p",
        "recordcount=300",
        "-p",
        "operationcount=400",
        "--threads",
        "3",
    ];
    let phase_trace = |command: &str| -> Vec<BTreeMap<String, String>> {
        let trace = dir.path().join(format!("{command}.csv"));
        let out_dir = dir.path().join(command);
        let mut args = vec![command];
        args.extend(common);
        args.extend(["--trace", trace.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]);
        let out = kvlab(&args, dir.path());
        assert!(out.status.success(), "{}", stderr(&out));
        let text = std::fs::read_to_string(&trace)
            .unwrap_or_else(|e| panic!("kvlab {command} --trace wrote no trace: {e}"));
        assert_eq!(text.lines().next(), Some(kvlab_harness::runner::TRACE_HEADER));
        csv_rows(&trace)
    };

    let load = phase_trace("load");
    assert_eq!(load.len(), 300, "one row per loaded record");
    for row in &load {
        assert_eq!((row["op"].as_str(), row["status"].as_str()), ("INSERT", "ok"), "{row:?}");
        assert_eq!(row["phase"], "load", "{row:?}");
    }
    let keys: std::collections::BTreeSet<&str> = load.iter().map(|r| r["key"].as_str()).collect();
    let expected: std::collections::BTreeSet<String> =
        (0..300).map(|k| kvlab_workloads::key_name(k, 1, false)).collect();
    assert_eq!(keys, expected.iter().map(String::as_str).collect());
    // YCSB's keys for keynums 0 and 1 (insertorder=hashed): "user" + Utils.fnvhash64(keynum).
    assert!(keys.contains("user6284781860667377211") && keys.contains("user8517097267634966620"));

    let run = phase_trace("run");
    assert_eq!(run.len(), 400, "the loaded store is not loaded again");
    assert!(run.iter().all(|r| r["phase"] == "run" && r["op"] == "READ"), "{:?}", run[0]);
}

#[test]
fn suites_expand_and_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("tiny.toml");
    std::fs::write(
        &suite,
        format!(
            r#"question = "does the matrix expand?"
repetitions = 2
workloads = ["{}"]
[properties]
db = "null"
recordcount = 100
operationcount = 500
[matrix]
threadcount = [1, 2]
[[finding]]
axis = "threadcount"
baseline = "1"
"#,
            workload("ycsb/workloadc")
        ),
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out =
        kvlab(&["suite", suite.to_str().unwrap(), "--out", out_dir.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = csv_rows(&out_dir.join("summary.csv"));
    let runs: std::collections::BTreeSet<(String, String, String)> = summary
        .iter()
        .map(|r| (r["run"].clone(), r["threadcount"].clone(), r["rep"].clone()))
        .collect();
    let expected: std::collections::BTreeSet<(String, String, String)> =
        [("c01-r1", "1", "1"), ("c01-r2", "1", "2"), ("c02-r1", "2", "1"), ("c02-r2", "2", "2")]
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
    assert_eq!(runs, expected);
    let aggregate = csv_rows(&out_dir.join("aggregate.csv"));
    let read = aggregate
        .iter()
        .find(|r| r["config"] == "c02" && r["phase"] == "run" && r["op"] == "READ")
        .unwrap();
    assert_eq!(read["reps"], "2");
    assert!(num(read, "throughput_mean") > 0.0);
    assert!(!read["throughput_ci95"].is_empty());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["question"], "does the matrix expand?");
    assert_eq!(json["runs"].as_array().unwrap().len(), 4);
    // Repetitions interleave by default: repetition 1 of every configuration, then 2.
    let mut ran: Vec<String> = Vec::new();
    for row in &summary {
        if !ran.contains(&row["run"]) {
            ran.push(row["run"].clone());
        }
    }
    assert_eq!(ran, ["c01-r1", "c02-r1", "c01-r2", "c02-r2"], "summary.csv in run order");
    assert_eq!(json["order"], "interleaved");
    assert_eq!(json["run_order"], serde_json::json!(["c01-r1", "c02-r1", "c01-r2", "c02-r2"]));

    // The declared finding is recorded (defaults filled in) and opens the report.
    assert_eq!(json["findings"][0]["compared"], serde_json::json!(["2"]));
    assert_eq!(json["findings"][0]["metric"], "throughput");
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    let findings = md.find("## Findings").expect("a findings section");
    assert!(findings < md.find("## Reproduce").unwrap(), "findings come first");
    assert!(md.contains("- 2: ") && md.contains("× 1's throughput (95 % CI"), "{md}");

    // The suite wrote its figures and report; report, plot and compare work on the directory.
    assert!(
        out_dir.join("report.html").is_file() && out_dir.join("plots/throughput.svg").is_file()
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).trim_end().ends_with("report.html"),
        "the report's path comes last"
    );
    let report = kvlab(&["report", out_dir.to_str().unwrap()], dir.path());
    assert!(report.status.success(), "{}", stderr(&report));
    let html = dir.path().join("same.html");
    let same = kvlab(
        &[
            "compare",
            out_dir.to_str().unwrap(),
            out_dir.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(
        same.status.code(),
        Some(0),
        "a run compared with itself has no regression: {}",
        stderr(&same)
    );
    assert!(html.is_file());
    let missing = kvlab(&["plot", dir.path().join("nope").to_str().unwrap()], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("nope"), "{}", stderr(&missing));
}

#[test]
fn interrupt_keeps_results_marked_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir: PathBuf = dir.path().join("out");
    let child = Command::new(env!("CARGO_BIN_EXE_kvlab"))
        .args([
            "run",
            "--db",
            "null",
            "--duration",
            "60s",
            "--target",
            "1000",
            "-p",
            "recordcount=100",
            "--out",
        ])
        .arg(&out_dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["completed"], false);
    assert_eq!(json["runs"][0]["run"]["completed"], false);
    let summary = csv_rows(&out_dir.join("summary.csv"));
    let read = summary.iter().find(|r| r["phase"] == "run" && r["op"] == "READ").unwrap();
    assert!(num(read, "count") > 100.0, "the results so far are kept");
}

#[test]
fn store_node_counters_exclude_the_warmup() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = kvlab(
        &[
            "run",
            "-P",
            &workload("ycsb/workloadc"),
            "--db",
            "store",
            "-p",
            "engine=memory",
            "-p",
            "recordcount=300",
            "--threads",
            "2",
            "--warmup",
            "1s",
            "--duration",
            "2s",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let nodes = csv_rows(&out_dir.join("nodes.csv"));
    assert_eq!(nodes.len(), 3, "three nodes by default");
    let reads: f64 = nodes.iter().map(|r| num(r, "reads_leader")).sum();
    let served: f64 = nodes.iter().map(|r| num(r, "served")).sum();
    assert!(served > 0.0);
    assert!(
        (reads - served).abs() <= 0.05 * served + 10.0,
        "store counters {reads} vs harness {served}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    let issued = json["runs"][0]["run"]["operations_issued"].as_f64().unwrap();
    assert!(reads < 0.9 * issued, "warm-up reads are not counted: {reads} of {issued}");
}

/// Issue 15, item 4: a store run with a window of requests in flight per thread answers every
/// operation it sent (reads and writes pipelined), counts each once, and its node counters
/// agree with what the harness saw.
#[test]
fn store_runs_with_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = kvlab(
        &[
            "run",
            "-P",
            &workload("ycsb/workloada"),
            "--db",
            "store",
            "-p",
            "engine=memory",
            "-p",
            "recordcount=300",
            "-p",
            "operationcount=3000",
            "-p",
            "store.read_policy=follower",
            "--threads",
            "2",
            "--inflight",
            "16",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = csv_rows(&out_dir.join("summary.csv"));
    let ops = |op: &str| -> f64 {
        summary
            .iter()
            .filter(|r| r["phase"] == "run" && r["op"] == op)
            .map(|r| num(r, "count"))
            .sum()
    };
    assert_eq!(ops("READ") + ops("UPDATE"), 3000.0, "every operation answered once: {summary:?}");
    assert!(ops("UPDATE") > 0.0 && ops("READ") > 0.0);
    let nodes = csv_rows(&out_dir.join("nodes.csv"));
    let follower: f64 = nodes.iter().map(|r| num(r, "reads_follower")).sum();
    assert!((follower - ops("READ")).abs() <= 5.0, "{follower} follower reads counted");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["runs"][0]["properties"]["inflight"], "16", "run.json records the window");
    // Issue 15, item 5: every read's stages, adding up to the reads' mean service latency.
    let stages = csv_rows(&out_dir.join("stages.csv"));
    let names: Vec<&str> = stages.iter().map(|r| r["stage"].as_str()).collect();
    assert_eq!(names, ["client", "wire", "read_index", "apply_wait", "pool_queue", "engine"]);
    assert!(stages.iter().all(|r| num(r, "count") == ops("READ")), "{stages:?}");
    assert!(num(&stages[2], "mean_us") > 0.0, "follower reads wait for a ReadIndex round");
    let sum: f64 = stages.iter().map(|r| num(r, "mean_us")).sum();
    let read = summary
        .iter()
        .find(|r| r["phase"] == "run" && r["op"] == "READ" && r["latency"] == "service")
        .unwrap();
    let mean = num(read, "mean_us");
    assert!((sum - mean).abs() <= 0.01 * mean + 1.0, "stages add up: {sum} vs {mean}");
}
