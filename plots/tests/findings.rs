//! Findings: a suite's declared comparisons open its report, computed from the results.

mod common;

use std::path::Path;

use common::{fixture_copy, TestResult};

/// Adds `findings` to the fixture's `run.json`.
fn declare(dir: &Path, findings: serde_json::Value) -> TestResult {
    let path = dir.join("run.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    json["findings"] = findings;
    std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    Ok(())
}

/// The lines of the report's Findings section.
fn findings_section(dir: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    kvlab_plots::report(dir)?;
    let md = std::fs::read_to_string(dir.join("report.md"))?;
    let Some(start) = md.find("## Findings") else { return Ok(Vec::new()) };
    let end = md[start..].find("## Reproduce").map_or(md.len(), |e| start + e);
    Ok(md[start..end].lines().map(str::to_string).collect())
}

#[test]
fn declared_findings_open_the_report_with_ratio_interval_and_verdict() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    declare(
        &dir,
        serde_json::json!([
            { "title": "Follower reads on workload a", "metric": "throughput",
              "axis": "store.read_policy", "baseline": "leader", "compared": ["follower"],
              "where": { "workload": "a" } },
            { "title": null, "metric": "p50", "axis": "store.read_policy",
              "baseline": "leader", "compared": ["follower"], "where": {} },
        ]),
    )?;
    let lines = findings_section(&dir)?;
    assert!(lines.iter().any(|l| l == "### Follower reads on workload a"), "{lines:#?}");
    let bullets: Vec<&String> = lines.iter().filter(|l| l.starts_with("- ")).collect();
    // One pair for the first finding (workload a), two for the second (a and b).
    assert_eq!(bullets.len(), 3, "{lines:#?}");
    // The fixture's follower/a runs at 26 k ops/s against leader/a's 20 k: 1.3×.
    let first = bullets[0];
    let ratio: f64 = first
        .strip_prefix("- follower: ")
        .and_then(|r| r.split('×').next())
        .ok_or_else(|| format!("no ratio in {first}"))?
        .parse()?;
    assert!((1.2..1.4).contains(&ratio), "{first}");
    assert!(
        first.contains("95 % CI") && first.contains("significantly higher (better)"),
        "{first}"
    );
    // Lower latency is better: the fixture's follower p50 is below the leader's.
    assert!(bullets[1].starts_with("- follower (workload=a): "), "{}", bullets[1]);
    assert!(bullets[1].contains("lower (better)"), "{}", bullets[1]);
    let html = std::fs::read_to_string(dir.join("report.html"))?;
    let findings_at = html.find("<h2>Findings</h2>").ok_or("no findings in the HTML")?;
    assert!(findings_at < html.find("<h2>Reproduce</h2>").unwrap_or(0), "findings come first");
    assert!(html.contains("as in <code>kvlab compare</code>"), "code spans render as code");
    Ok(())
}

#[test]
fn without_declarations_there_are_no_findings() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    assert_eq!(findings_section(&dir)?, Vec::<String>::new());
    Ok(())
}

#[test]
fn a_finding_without_pairs_says_so() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    declare(
        &dir,
        serde_json::json!([{ "metric": "throughput", "axis": "store.read_policy",
            "baseline": "leader", "compared": ["stale"], "where": {} }]),
    )?;
    let lines = findings_section(&dir)?;
    assert!(lines.iter().any(|l| l.contains("No configuration pair to compare")), "{lines:#?}");
    Ok(())
}

#[test]
fn malformed_findings_name_run_json_and_the_finding() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    declare(
        &dir,
        serde_json::json!([{ "metric": "p42", "axis": "store.read_policy",
            "baseline": "leader", "compared": [], "where": {} }]),
    )?;
    let err = kvlab_plots::report(&dir).expect_err("a bad metric").to_string();
    assert!(err.contains("run.json") && err.contains("finding 1") && err.contains("p42"), "{err}");
    Ok(())
}

/// A baseline from another `[[matrix]]` table leaves an axis unset (it matches any value), so
/// `where` must pick the compared configuration too. The etcd suite's "store against etcd"
/// findings compared etcd's serializable reads with the store's *leader* reads, where they
/// asked for its stale reads: the first configuration that agreed was taken.
#[test]
fn where_picks_the_compared_configuration_when_the_baseline_leaves_the_axis_unset() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    // The leader runs come from a table that does not set `workload`.
    let path = dir.join("summary.csv");
    let mut rows: Vec<Vec<String>> = csv::Reader::from_path(&path)?
        .records()
        .map(|r| r.map(|r| r.iter().map(str::to_string).collect()))
        .collect::<Result<_, _>>()?;
    let header: Vec<String> =
        csv::Reader::from_path(&path)?.headers()?.iter().map(str::to_string).collect();
    let col = |name: &str| header.iter().position(|h| h == name).ok_or(format!("no {name}"));
    let (policy, workload) = (col("store.read_policy")?, col("workload")?);
    for row in rows.iter_mut().filter(|r| r[policy] == "leader") {
        row[workload].clear();
    }
    let mut out = csv::Writer::from_path(&path)?;
    out.write_record(&header)?;
    for row in &rows {
        out.write_record(row)?;
    }
    out.flush()?;
    declare(
        &dir,
        serde_json::json!([{ "title": "Follower reads on b", "metric": "throughput",
            "axis": "store.read_policy", "baseline": "leader", "compared": ["follower"],
            "where": { "workload": "b" } }]),
    )?;
    let lines = findings_section(&dir)?;
    let bullets: Vec<&String> = lines.iter().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(bullets.len(), 1, "{lines:#?}");
    // follower/b runs at 37.6 k ops/s in the fixture, follower/a at 25.9 k.
    assert!(bullets[0].contains("means 37611 vs"), "{}", bullets[0]);
    Ok(())
}
