//! Odd but parseable input never panics: figures, report and comparison either succeed or
//! return an error.

mod common;

use common::{fixture_copy, TestResult};
use proptest::prelude::*;

/// Values that stress axis ranges: zero, negative, tiny, huge, repeated.
fn odd_number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-5".to_string()),
        Just("1e-300".to_string()),
        Just("1e300".to_string()),
        Just("123456789012".to_string()),
        (0u32..1000).prop_map(|v| v.to_string()),
        Just("".to_string()),
        Just("NaN".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Rewrites numeric columns of every CSV file with odd numbers.
    #[test]
    fn odd_numbers_never_panic(values in proptest::collection::vec(odd_number(), 64), file in 0usize..5) {
        let (_tmp, dir) = fixture_copy().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let name = ["summary.csv", "timeseries.csv", "nodes.csv", "staleness.csv", "aggregate.csv"][file];
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut k = 0;
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            let cells: Vec<String> = line
                .split(',')
                .enumerate()
                .map(|(c, cell)| {
                    if i > 0 && c > 5 && cell.parse::<f64>().is_ok() {
                        k += 1;
                        values[k % values.len()].clone()
                    } else {
                        cell.to_string()
                    }
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        std::fs::write(&path, out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Ok or a clear error; a panic fails the test.
        let _ = kvlab_plots::plot(&dir);
        let _ = kvlab_plots::compare(&common::fixture(), &dir).map(|c| c.to_string());
    }
}

#[test]
fn empty_results_give_an_empty_report() -> TestResult {
    let (_tmp, dir) = fixture_copy()?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "csv") {
            let text = std::fs::read_to_string(&path)?;
            let header = text.lines().next().unwrap_or_default().to_string();
            std::fs::write(&path, header + "\n")?;
        }
    }
    assert!(kvlab_plots::plot(&dir)?.is_empty());
    let html = std::fs::read_to_string(kvlab_plots::report(&dir)?)?;
    assert!(html.contains("Reproduce"));
    Ok(())
}
