//! `compare` flags a planted regression and not noise.

mod common;

use std::path::Path;

use common::{copy_dir, fixture, TestResult};
use kvlab_plots::Verdict;

/// Rewrites `summary.csv` in `dir`, scaling throughput and latency columns per row.
fn scale_summary(dir: &Path, scale: impl Fn(&str, usize) -> (f64, f64)) -> TestResult {
    let path = dir.join("summary.csv");
    let text = std::fs::read_to_string(&path)?;
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        let config = cells
            .first()
            .map(|r| r.split('-').next().unwrap_or("").to_string())
            .unwrap_or_default();
        let (thr, lat) = scale(&config, i);
        for (c, cell) in cells.iter_mut().enumerate() {
            // Columns: run,policy,workload,rep,phase,op,latency,count,errors,throughput_ops(9),
            // mean_us(10) .. max_us(17), measured_s(18).
            let factor = match c {
                9 => thr,
                10..=17 => lat,
                _ => continue,
            };
            let v: f64 = cell.parse()?;
            *cell = format!("{:.3}", v * factor);
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    std::fs::write(path, out)?;
    Ok(())
}

#[test]
fn planted_regression_is_flagged_and_noise_is_not() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let b = tmp.path().join("b");
    copy_dir(&fixture(), &b)?;
    // c02 (leader / b) loses 30 % throughput and gains 50 % latency; everything else moves by
    // under 1 % either way, alternating by row.
    scale_summary(&b, |config, row| {
        if config == "c02" {
            (0.7, 1.5)
        } else {
            let wiggle = if row.is_multiple_of(2) { 1.008 } else { 0.993 };
            (wiggle, 2.0 - wiggle)
        }
    })?;
    let cmp = kvlab_plots::compare(&fixture(), &b)?;
    let text = cmp.to_string();
    let regressions: Vec<_> = cmp.regressions().collect();
    assert!(!regressions.is_empty(), "no regression flagged:\n{text}");
    for r in &regressions {
        assert_eq!(r.config, "store.read_policy=leader, workload=b", "wrongly flagged:\n{text}");
    }
    assert!(
        regressions.iter().any(|r| r.op == "ALL" && r.metric == "throughput"),
        "throughput regression of ALL not flagged:\n{text}"
    );
    assert!(regressions.iter().any(|r| r.metric == "p99"), "p99 regression not flagged:\n{text}");
    assert_eq!(cmp.improvements().count(), 0, "noise flagged as improvement:\n{text}");
    assert!(text.contains("REGRESSION") && text.contains("summary:"), "{text}");
    for c in &cmp.changes {
        if c.config != "store.read_policy=leader, workload=b" {
            assert_eq!(c.verdict, Verdict::Unchanged, "{c:?}");
        }
    }
    // compare.html goes into B by default and is well-formed.
    let html = cmp.write_html(None)?;
    assert_eq!(html, b.join("compare.html"));
    let page = std::fs::read_to_string(&html)?;
    roxmltree::Document::parse_with_options(
        &page,
        roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() },
    )
    .map_err(|e| format!("compare.html is not well-formed: {e}"))?;
    assert!(page.contains("class=\"regression\""));
    Ok(())
}

#[test]
fn identical_runs_show_no_change() -> TestResult {
    let cmp = kvlab_plots::compare(&fixture(), &fixture())?;
    assert_eq!(cmp.regressions().count() + cmp.improvements().count(), 0, "{cmp}");
    assert!(cmp.changes.iter().all(|c| (c.ratio - 1.0).abs() < 1e-12));
    // 4 configurations × 3 ops × 3 metrics.
    assert_eq!(cmp.changes.len(), 36);
    Ok(())
}

#[test]
fn configurations_match_by_axis_values_not_order() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let b = tmp.path().join("b");
    copy_dir(&fixture(), &b)?;
    // Keep only c03's rows in B: A's other configurations are reported as only in A.
    let path = b.join("summary.csv");
    let text = std::fs::read_to_string(&path)?;
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.starts_with("c03-"))
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&path, kept.join("\n") + "\n")?;
    std::fs::remove_file(b.join("aggregate.csv"))?;
    for f in ["timeseries.csv", "nodes.csv", "staleness.csv", "errors.csv", "events.csv"] {
        std::fs::remove_file(b.join(f))?;
    }
    let cmp = kvlab_plots::compare(&fixture(), &b)?;
    assert!(cmp.changes.iter().all(|c| c.config == "store.read_policy=follower, workload=a"));
    assert_eq!(cmp.only_in_a.len(), 3, "{cmp}");
    Ok(())
}
