//! `kvlab run --client-id I --clients N` and `kvlab merge`: several clients' results as one,
//! with histograms added (never percentiles averaged).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{csv_rows, kvlab_in as kvlab, num, stderr, workload};

fn client_run(dir: &std::path::Path, id: &str, stall_every: &str) -> std::path::PathBuf {
    let out = dir.join(format!("client-{id}"));
    let run = kvlab(
        &[
            "run",
            "-P",
            &workload("ycsb/workloadc"),
            "--db",
            "null",
            "--client-id",
            id,
            "--clients",
            "2",
            "--threads",
            "2",
            "-p",
            "recordcount=1000",
            "-p",
            "operationcount=4000",
            "-p",
            "null.stall_ms=1",
            "-p",
            &format!("null.stall_every={stall_every}"),
            "--out",
            out.to_str().unwrap(),
        ],
        dir,
    );
    assert!(run.status.success(), "{}", stderr(&run));
    out
}

fn read_row(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    csv_rows(&dir.join("summary.csv"))
        .into_iter()
        .find(|r| r["phase"] == "run" && r["op"] == "READ" && r["latency"] == "service")
        .unwrap()
}

/// Item 7: two client directories merge into the summed histograms.
#[test]
fn two_clients_merge_into_summed_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let a = client_run(dir.path(), "1", "50");
    let b = client_run(dir.path(), "2", "5");
    let (ra, rb) = (read_row(&a), read_row(&b));
    // Each client ran its half of operationcount.
    assert_eq!(num(&ra, "count") + num(&rb, "count"), 4000.0, "{ra:?} {rb:?}");
    let merged = dir.path().join("merged");
    let out = kvlab(
        &["merge", a.to_str().unwrap(), b.to_str().unwrap(), "--out", merged.to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let m = read_row(&merged);
    assert_eq!(num(&m, "count"), 4000.0, "{m:?}");
    // Percentiles of the union lie between the clients' own, and the maximum is the larger.
    for col in ["p50_us", "p99_us"] {
        let (lo, hi) = (num(&ra, col).min(num(&rb, col)), num(&ra, col).max(num(&rb, col)));
        assert!(num(&m, col) >= lo * 0.99 && num(&m, col) <= hi * 1.01, "{col}: {m:?}");
    }
    assert_eq!(num(&m, "max_us"), num(&ra, "max_us").max(num(&rb, "max_us")));
    let secs = num(&ra, "measured_s").max(num(&rb, "measured_s"));
    assert!((num(&m, "throughput_ops") - 4000.0 / secs).abs() < 1.0, "{m:?}");
    assert!(merged.join("ycsb.txt").is_file() && merged.join("nodes.csv").is_file());
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["merged_from"].as_array().unwrap().len(), 2);
    // Merged results are results: the report reads them.
    let report = kvlab(&["report", merged.to_str().unwrap()], dir.path());
    assert!(report.status.success(), "{}", stderr(&report));

    // Bad input: one directory, or directories of different runs.
    let one = kvlab(&["merge", a.to_str().unwrap(), "--out", "x"], dir.path());
    assert!(!one.status.success());
    std::fs::write(b.join("run.json"), "{ not json").unwrap();
    let bad = kvlab(
        &[
            "merge",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--out",
            dir.path().join("m2").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("run.json"), "{}", stderr(&bad));
}
