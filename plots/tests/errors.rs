//! Bad input is a clear error naming the file, never a panic.

mod common;

use common::{fixture_copy, TestResult};
use kvlab_plots::Error;

fn message(result: kvlab_plots::Result<impl std::fmt::Debug>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_required_files_are_named() -> TestResult {
    for name in ["run.json", "summary.csv"] {
        let (_tmp, dir) = fixture_copy()?;
        std::fs::remove_file(dir.join(name))?;
        let err = kvlab_plots::plot(&dir).err().ok_or("plot succeeded")?;
        assert!(matches!(err, Error::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains(name), "{err}");
        assert!(message(kvlab_plots::report(&dir)).contains(name));
    }
    let err = message(kvlab_plots::plot(std::path::Path::new("/nonexistent/kvlab/results")));
    assert!(err.contains("/nonexistent/kvlab/results"), "{err}");
    Ok(())
}

#[test]
fn bad_csv_value_names_file_line_and_column() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    let path = dir.join("summary.csv");
    let text = std::fs::read_to_string(&path)?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let third = lines.get_mut(2).ok_or("short fixture")?;
    let mut cells: Vec<&str> = third.split(',').collect();
    if let Some(c) = cells.get_mut(9) {
        *c = "fast";
    }
    *third = cells.join(",");
    std::fs::write(&path, lines.join("\n"))?;
    let err = kvlab_plots::plot(&dir).err().ok_or("plot succeeded")?;
    let msg = err.to_string();
    assert!(matches!(err, Error::Csv { line: 3, .. }), "{err:?}");
    assert!(
        msg.contains("summary.csv:3") && msg.contains("throughput_ops") && msg.contains("fast"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn short_rows_and_missing_columns_are_named() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    let path = dir.join("nodes.csv");
    let mut text = std::fs::read_to_string(&path)?;
    text.push_str("c01-r1,leader,a,1,4\n");
    std::fs::write(&path, text)?;
    let msg = message(kvlab_plots::plot(&dir));
    assert!(msg.contains("nodes.csv") && msg.contains("fields"), "{msg}");

    let (_tmp, dir) = fixture_copy()?;
    let path = dir.join("timeseries.csv");
    let text = std::fs::read_to_string(&path)?.replacen("throughput_ops", "thrpt", 1);
    std::fs::write(&path, text)?;
    let msg = message(kvlab_plots::plot(&dir));
    assert!(msg.contains("timeseries.csv:1") && msg.contains("throughput_ops"), "{msg}");
    Ok(())
}

#[test]
fn corrupt_json_and_hlog_are_named() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    std::fs::write(dir.join("run.json"), "{\"command\": ")?;
    let msg = message(kvlab_plots::report(&dir));
    assert!(msg.contains("run.json") && msg.contains("line 1"), "{msg}");

    let (_tmp, dir) = fixture_copy()?;
    let hlog = dir.join("hlog/c01-r1/run-READ-service.hlog");
    let text = std::fs::read_to_string(&hlog)?;
    let broken: String = text
        .lines()
        .map(|l| {
            if l.starts_with('#') || l.starts_with('"') {
                l.to_string()
            } else {
                format!("{l}!!!")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&hlog, broken)?;
    let msg = message(kvlab_plots::plot(&dir));
    assert!(msg.contains("run-READ-service.hlog"), "{msg}");

    let (_tmp, dir) = fixture_copy()?;
    std::fs::write(dir.join("summary.csv"), "")?;
    let msg = message(kvlab_plots::plot(&dir));
    assert!(msg.contains("summary.csv"), "{msg}");
    Ok(())
}
