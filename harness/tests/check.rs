//! Issue 7 end to end, through the `kvlab` binary: checked histories under the nemesis for
//! every read policy, deliberate store bugs that the checker must catch, runs that end by
//! their deadline with no quorum, and the crash test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::csv_rows;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn kvlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvlab")).args(args).output().expect("run kvlab")
}

fn repo(path: &str) -> String {
    let root = common::repo_root();
    root.join(path).display().to_string()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A short checked run of the register workload with `extra` properties.
fn checked_run(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run".to_string(),
        "-P".into(),
        repo("workloads/check/register"),
        "--check".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    for p in [
        "threadcount=6",
        "duration=3s",
        "timeout=2s",
        "engine=memory",
        "store.zones=3",
        "store.cross_latency_us=500",
        "store.jitter_us=500",
        "store.replica=random",
    ]
    .iter()
    .chain(extra)
    {
        args.push("-p".into());
        args.push(p.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kvlab(&args)
}

// Issue 7.3 at CI size: one seeded history per policy under every fault kind, all checked.
#[test]
fn every_policy_passes_the_check_under_the_nemesis() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let run = kvlab(&[
        "suite",
        &repo("harness/suites/check-ci.toml"),
        "--out",
        &out.display().to_string(),
        "--no-report",
    ]);
    assert!(run.status.success(), "{}", text(&run));
    let rows = csv_rows(&out.join("check.csv"));
    let policies: Vec<&str> = rows.iter().map(|r| r["read_policy"].as_str()).collect();
    // Every policy; then frequent snapshots, an inline read pool, a separate Raft log, node
    // processes; last etcd's linearizable reads.
    let expected = [
        "leader",
        "lease",
        "follower",
        "mixed",
        "stale",
        "follower",
        "stale",
        "mixed",
        "mixed",
        "linearizable",
    ];
    assert_eq!(policies, expected);
    // The short-log configuration made lagging peers catch up by snapshot, and says so.
    let nodes = csv_rows(&out.join("nodes.csv"));
    let snapshots = |col: &str| -> u64 {
        nodes
            .iter()
            .filter(|r| r["store.log_gc_threshold"] == "32" && r["store.regions"] == "3")
            .map(|r| r[col].parse::<u64>().unwrap())
            .sum()
    };
    assert!(snapshots("snapshots_sent") > 0, "{nodes:?}");
    assert!(snapshots("snapshots_applied") > 0, "{nodes:?}");
    for row in &rows {
        assert_eq!(row["verdict"], "ok", "{row:?}");
        assert!(row["ops"].parse::<usize>().unwrap() > 100, "{row:?}");
        assert!(row["faults"].parse::<usize>().unwrap() >= 2, "{row:?}");
        assert!(out.join(&row["report"]).is_file());
    }
    let stale = rows.iter().find(|r| r["read_policy"] == "stale").unwrap();
    assert!(stale["stale_reads"].parse::<usize>().unwrap() > 0, "{stale:?}");
    // The faults are in events.csv for the plots, with their times.
    let events = csv_rows(&out.join("events.csv"));
    assert!(events.iter().any(|e| e["kind"] == "heal"));
    assert!(events.iter().all(|e| e["second"].parse::<f64>().unwrap() < 10.0));
}

/// Runs with a deliberate bug until the checker reports a violation (at most `tries` seeds).
fn caught(failpoint: &str, extra: &[&str], tries: u64) -> String {
    let mut log = String::new();
    for seed in 1..=tries {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("results");
        let seed_prop = format!("seed={seed}");
        let fp = format!("store.failpoints={failpoint}");
        let mut props = vec![fp.as_str(), seed_prop.as_str()];
        props.extend(extra);
        let run = checked_run(&out, &props);
        let rows = csv_rows(&out.join("check.csv"));
        assert_eq!(rows.len(), 1, "{}", text(&run));
        if rows[0]["verdict"] == "violation" {
            assert_eq!(run.status.code(), Some(1), "{}", text(&run));
            assert!(text(&run).contains("violation"), "{}", text(&run));
            return std::fs::read_to_string(out.join(&rows[0]["report"])).unwrap();
        }
        log.push_str(&format!("seed {seed}: {:?}\n", rows[0]));
    }
    panic!("{failpoint} was never caught:\n{log}");
}

// Issue 7.4: the checker catches a follower that serves before applying the read index.
#[test]
fn checker_catches_follower_reads_before_apply() {
    let report = caught(
        "follower-read-skips-apply-wait",
        &["store.read_policy=follower", "nemesis=partition,latency", "nemesis.interval=500ms"],
        4,
    );
    assert!(report.contains("not linearizable") || report.contains("inearizab"), "{report}");
}

// Issue 7.4: the checker catches lease reads served without a valid lease (a deposed leader).
#[test]
fn checker_catches_lease_reads_without_a_lease() {
    let report = caught(
        "lease-never-expires",
        &["store.read_policy=lease", "nemesis=isolate-leader", "nemesis.interval=1s"],
        4,
    );
    assert!(!report.is_empty());
}

// Issue 7.4: the staleness check catches stale reads that under-report their age.
#[test]
fn checker_catches_stale_reads_that_claim_freshness() {
    let report = caught(
        "stale-age-zero",
        &["store.read_policy=stale", "nemesis=partition", "nemesis.interval=1s"],
        4,
    );
    assert!(report.to_lowercase().contains("stale"), "{report}");
}

// Issue 7.7: with a majority of the nodes down no operation hangs: each ends by its timeout,
// the run ends by its deadline and the failures are in errors.csv.
#[test]
fn runs_end_by_their_deadline_without_a_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let started = Instant::now();
    let run = checked_run(
        &out,
        &[
            "store.read_policy=leader",
            "timeout=500ms",
            "nemesis=majority-down",
            "nemesis.interval=700ms",
            "nemesis.hold=600ms",
        ],
    );
    let took = started.elapsed();
    assert!(run.status.success(), "{}", text(&run));
    // 3 s of run, one timeout of overrun at most, plus start-up and the check.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let errors = csv_rows(&out.join("errors.csv"));
    let failed: f64 = errors.iter().map(|r| r["count"].parse::<f64>().unwrap()).sum();
    assert!(failed > 0.0, "no failures recorded: {errors:?}");
    let events = csv_rows(&out.join("events.csv"));
    assert!(events.iter().any(|e| e["kind"] == "majority-down"), "{events:?}");
}

// Issue 7.5 at CI size: SIGKILL at random moments loses no acknowledged write; and at least
// one cycle on every persistent engine and Raft log (fjall without fsync too: its journal must
// reach the operating system before a write is acknowledged).
#[test]
fn crash_test_loses_no_acknowledged_write() {
    let cases: [(&[&str], usize); 6] = [
        (&[], 4),
        (&["--engine", "fjall"], 1),
        (&["--engine", "fjall", "--sync", "false"], 1),
        (&["--engine", "redb"], 1),
        (&["--raft-log", "raft-engine"], 1),
        (&["--engine", "redb", "--raft-log", "raft-engine", "--sync", "false"], 1),
    ];
    for (extra, cycles) in cases {
        let dir = tempfile::tempdir().unwrap();
        let cluster = dir.path().join("cluster").display().to_string();
        let cycles_arg = cycles.to_string();
        let mut args = vec!["crash-test", "--dir", &cluster, "--cycles", &cycles_arg];
        args.extend(["--seed", "3", "--max-delay", "1s"]);
        args.extend(extra);
        let run = kvlab(&args);
        let out = text(&run);
        assert!(run.status.success(), "{extra:?}: {out}");
        assert!(out.contains(&format!("{cycles} cycles")) && out.contains(" 0 lost"), "{out}");
        let acked: u64 = out
            .split(", ")
            .find_map(|p| p.strip_suffix(" acknowledged writes"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(acked > 0, "{extra:?}: {out}");
    }
}

// The crash test refuses a store with nothing to check after a crash, naming the argument.
#[test]
fn crash_test_refuses_volatile_stores() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("cluster").display().to_string();
    for (extra, named) in [
        (["--engine", "memory"], "--engine"),
        (["--raft-log", "memory"], "--raft-log"),
        (["--engine", "leveldb"], "--engine"),
        (["--raft-log", "wal"], "--raft-log"),
    ] {
        let mut args = vec!["crash-test", "--dir", &cluster, "--cycles", "1"];
        args.extend(extra);
        let run = kvlab(&args);
        assert!(!run.status.success(), "{extra:?}");
        let out = text(&run);
        assert!(out.contains(named) && out.contains(extra[1]), "{extra:?}: {out}");
        assert!(!out.contains("panicked"), "{out}");
    }
}

// `kvlab check` on a trace that is not linearizable prints a counter-example and exits 1; on a
// malformed trace, one error naming the line.
#[test]
fn check_command_reports_violations_and_bad_traces() {
    let dir = tempfile::tempdir().unwrap();
    let header = "thread,op,key,start_ns,latency_ns,intended_latency_ns,status,node,served_as,\
                  value,index_lag,age_ms\n";
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{header}0,UPDATE,k,0,10,,ok,1,,a,,\n0,UPDATE,k,20,10,,ok,1,,b,,\n\
             1,READ,k,40,10,,ok,1,leader,a,,\n"
        ),
    )
    .unwrap();
    let run = kvlab(&["check", &bad.display().to_string()]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(text(&run).contains('k'), "{}", text(&run));
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!("{header}0,UPDATE,k,0,10,,ok,1,,a,,\n1,READ,k,5,30,,ok,1,leader,a,,\n"),
    )
    .unwrap();
    let run = kvlab(&["check", &good.display().to_string()]);
    assert!(run.status.success(), "{}", text(&run));
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, format!("{header}0,UPDATE,k,zero,10,,ok,1,,a,,\n")).unwrap();
    let run = kvlab(&["check", &broken.display().to_string()]);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(text(&run).contains("line 2"), "{}", text(&run));
}
