//! `compare`: the configurations two results directories have in common, metric by metric.
//!
//! Configurations match when they have the same axis values (axis order does not matter; two
//! single runs match each other). For each matched configuration, each op of the measured
//! phase and each metric — throughput, p50 and p99 service latency — the per-repetition values
//! of `summary.csv` give the ratio of means B/A and its 95 % confidence interval (Welch's t on
//! the log scale). A change is significant when the interval excludes 1 *and* the ratio is
//! further from 1 than the noise threshold.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::html::{escape, num, page, table};
use crate::metric::{direction, Direction, Metric};
use crate::results::Results;
use crate::stats::ratio_of_means;

/// How [`compare_with`] decides what is significant.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// Relative change below which a difference is noise even when the interval excludes 1
    /// (0.05 = 5 %).
    pub threshold: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions { threshold: 0.05 }
    }
}

/// What a change means for the system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Significantly worse in B: lower throughput or higher latency.
    Regression,
    /// Significantly better in B.
    Improvement,
    /// Within noise: the interval includes 1 or the change is below the threshold.
    Unchanged,
    /// A change above the threshold without an interval (fewer than two repetitions).
    Inconclusive,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Regression => "REGRESSION",
            Verdict::Improvement => "improvement",
            Verdict::Unchanged => "unchanged",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// One metric of one op of one configuration, A against B.
#[derive(Clone, Debug)]
pub struct Change {
    /// The configuration as `axis=value` pairs joined by `, ` (`run` for a single run).
    pub config: String,
    /// The operation (`READ`, `UPDATE`, …, `ALL`).
    pub op: String,
    /// `throughput` (ops/s), `p50` or `p99` (µs, service latency).
    pub metric: String,
    /// Whether higher values are better (throughput) or worse (latency).
    pub higher_is_better: bool,
    /// Mean over A's repetitions.
    pub a: f64,
    /// Mean over B's repetitions.
    pub b: f64,
    /// Repetitions in A and B.
    pub reps: (usize, usize),
    /// `b / a`.
    pub ratio: f64,
    /// 95 % interval of the ratio, when both sides have two or more repetitions.
    pub ci95: Option<(f64, f64)>,
    /// The verdict.
    pub verdict: Verdict,
}

/// The result of comparing two results directories.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The baseline.
    pub a: PathBuf,
    /// The candidate.
    pub b: PathBuf,
    /// The options used.
    pub options: CompareOptions,
    /// Every metric of every matched configuration, in A's configuration order.
    pub changes: Vec<Change>,
    /// Configurations only A has.
    pub only_in_a: Vec<String>,
    /// Configurations only B has.
    pub only_in_b: Vec<String>,
}

/// [`compare_with`] with the default options (5 % noise threshold).
///
/// # Errors
///
/// As [`compare_with`].
pub fn compare(a: &Path, b: &Path) -> Result<Comparison> {
    compare_with(a, b, &CompareOptions::default())
}

/// Compares results directory `b` against baseline `a`. Nothing is written; see
/// [`Comparison::write_html`] and the [`Display`](fmt::Display) implementation.
///
/// # Errors
///
/// A missing or malformed results file in either directory (named in the error), or
/// [`Error::NothingToCompare`] when no configuration matches.
pub fn compare_with(a: &Path, b: &Path, options: &CompareOptions) -> Result<Comparison> {
    let ra = Results::load(a)?;
    let rb = Results::load(b)?;
    let key = |r: &Results, i: usize| {
        let mut pairs = r.config_axes(i);
        pairs.sort();
        pairs
    };
    let name = |pairs: &[(String, String)]| {
        if pairs.is_empty() {
            "run".to_string()
        } else {
            pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
        }
    };
    let (phase_a, phase_b) = (ra.main_phase(), rb.main_phase());
    let mut changes = Vec::new();
    let mut only_in_a = Vec::new();
    let mut matched_b = vec![false; rb.configs.len()];
    for ia in 0..ra.configs.len() {
        let ka = key(&ra, ia);
        let Some(ib) = (0..rb.configs.len()).find(|&ib| key(&rb, ib) == ka) else {
            only_in_a.push(name(&ka));
            continue;
        };
        if let Some(m) = matched_b.get_mut(ib) {
            *m = true;
        }
        let config = name(&ka);
        let ops_b = rb.ops(phase_b);
        for op in ra.ops(phase_a).into_iter().filter(|o| ops_b.contains(o)) {
            for metric in Metric::COMPARED {
                let sa = ra.samples(ia, phase_a, &op, "service", |r| metric.of(r));
                let sb = rb.samples(ib, phase_b, &op, "service", |r| metric.of(r));
                let Some(r) = ratio_of_means(&sa, &sb) else { continue };
                let verdict = verdict(r.ratio, r.ci95, metric, options.threshold);
                changes.push(Change {
                    config: config.clone(),
                    op: op.clone(),
                    metric: metric.name().to_string(),
                    higher_is_better: metric.higher_is_better(),
                    a: crate::stats::mean(&sa),
                    b: crate::stats::mean(&sb),
                    reps: (sa.len(), sb.len()),
                    ratio: r.ratio,
                    ci95: r.ci95,
                    verdict,
                });
            }
        }
    }
    let only_in_b = (0..rb.configs.len())
        .filter(|&i| !matched_b.get(i).copied().unwrap_or(true))
        .map(|i| name(&key(&rb, i)))
        .collect::<Vec<_>>();
    if changes.is_empty() {
        return Err(Error::NothingToCompare(format!(
            "no configuration of {} matches one of {} (only in A: {}; only in B: {})",
            a.display(),
            b.display(),
            only_in_a.join("; "),
            only_in_b.join("; ")
        )));
    }
    Ok(Comparison {
        a: a.to_path_buf(),
        b: b.to_path_buf(),
        options: options.clone(),
        changes,
        only_in_a,
        only_in_b,
    })
}

fn verdict(ratio: f64, ci: Option<(f64, f64)>, metric: Metric, threshold: f64) -> Verdict {
    let big = (ratio - 1.0).abs() > threshold;
    match direction(ci) {
        d @ (Direction::Higher | Direction::Lower) if big => {
            if (d == Direction::Higher) == metric.higher_is_better() {
                Verdict::Improvement
            } else {
                Verdict::Regression
            }
        }
        Direction::Unknown if big => Verdict::Inconclusive,
        _ => Verdict::Unchanged,
    }
}

impl Comparison {
    /// The significant regressions.
    pub fn regressions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.verdict == Verdict::Regression)
    }

    /// The significant improvements.
    pub fn improvements(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.verdict == Verdict::Improvement)
    }

    /// Writes the comparison as a self-contained HTML page to `path`, or to
    /// `B/compare.html` when `path` is `None`; returns the path written.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the file when it cannot be written.
    pub fn write_html(&self, path: Option<&Path>) -> Result<PathBuf> {
        let path = path.map_or_else(|| self.b.join("compare.html"), Path::to_path_buf);
        std::fs::write(&path, self.html()).map_err(|e| Error::io("cannot write", &path, e))?;
        Ok(path)
    }

    fn rows(&self) -> Vec<[String; 8]> {
        self.changes
            .iter()
            .map(|c| {
                let ci = c
                    .ci95
                    .map_or_else(|| "n/a".to_string(), |(lo, hi)| format!("[{lo:.3}, {hi:.3}]"));
                [
                    c.config.clone(),
                    c.op.clone(),
                    c.metric.clone(),
                    num(c.a),
                    num(c.b),
                    format!("{:.3}", c.ratio),
                    ci,
                    c.verdict.to_string(),
                ]
            })
            .collect()
    }

    fn tally(&self) -> String {
        let n = |v: Verdict| self.changes.iter().filter(|c| c.verdict == v).count();
        format!(
            "{} regressions, {} improvements, {} unchanged, {} inconclusive",
            n(Verdict::Regression),
            n(Verdict::Improvement),
            n(Verdict::Unchanged),
            n(Verdict::Inconclusive)
        )
    }

    fn rule(&self) -> String {
        format!(
            "ratio B/A of means over repetitions with its 95 % confidence interval (Welch, log \
             scale); significant when the interval excludes 1 and the change exceeds {:.0} %; \
             throughput in ops/s, p50 and p99 service latency in µs",
            self.options.threshold * 100.0
        )
    }

    fn html(&self) -> String {
        let mut body = String::from("<h1>kvlab comparison</h1>\n");
        body.push_str(&format!(
            "<p>A (baseline): <code>{}</code><br/>B: <code>{}</code></p>\n<p>{}.</p>\n<p><strong>{}</strong></p>\n",
            escape(&self.a.display().to_string()),
            escape(&self.b.display().to_string()),
            escape(&self.rule()),
            escape(&self.tally())
        ));
        let headers = ["configuration", "op", "metric", "A", "B", "B/A", "95 % CI", "verdict"]
            .map(String::from)
            .to_vec();
        let rows: Vec<Vec<String>> = self
            .rows()
            .into_iter()
            .zip(&self.changes)
            .map(|(row, c)| {
                let mut cells: Vec<String> = row.iter().map(|s| escape(s)).collect();
                let class = match c.verdict {
                    Verdict::Regression => Some("regression"),
                    Verdict::Improvement => Some("improvement"),
                    _ => None,
                };
                if let (Some(class), Some(last)) = (class, cells.last_mut()) {
                    *last = format!("<span class=\"{class}\">{last}</span>");
                }
                cells
            })
            .collect();
        body.push_str(&table(&headers, &rows));
        for (what, list) in [("Only in A", &self.only_in_a), ("Only in B", &self.only_in_b)] {
            if !list.is_empty() {
                body.push_str(&format!("<h2>{what}</h2>\n<ul>\n"));
                for c in list {
                    body.push_str(&format!("<li>{}</li>\n", escape(c)));
                }
                body.push_str("</ul>\n");
            }
        }
        page("kvlab comparison", &body)
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "A (baseline): {}", self.a.display())?;
        writeln!(f, "B:            {}", self.b.display())?;
        writeln!(f, "{}", self.rule())?;
        let headers = ["configuration", "op", "metric", "A", "B", "B/A", "95 % CI", "verdict"];
        let rows = self.rows();
        let mut widths = headers.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
                // Numbers (A, B, B/A) right-aligned, text left-aligned.
                if (3..=5).contains(&i) {
                    s.push_str(&format!("{pad}{cell}  "));
                } else {
                    s.push_str(&format!("{cell}{pad}  "));
                }
            }
            s.trim_end().to_string()
        };
        writeln!(f)?;
        writeln!(f, "{}", line(&headers.map(String::from)))?;
        for row in &rows {
            writeln!(f, "{}", line(row))?;
        }
        writeln!(f)?;
        for (what, list) in [("only in A", &self.only_in_a), ("only in B", &self.only_in_b)] {
            if !list.is_empty() {
                writeln!(f, "{what}: {}", list.join("; "))?;
            }
        }
        write!(f, "summary: {}", self.tally())
    }
}

#[cfg(test)]
mod tests {
    use super::{verdict, Metric, Verdict};

    #[test]
    fn verdicts() {
        let t = 0.05;
        assert_eq!(verdict(0.7, Some((0.6, 0.8)), Metric::Throughput, t), Verdict::Regression);
        assert_eq!(verdict(0.7, Some((0.6, 0.8)), Metric::P99, t), Verdict::Improvement);
        assert_eq!(verdict(1.5, Some((1.2, 1.8)), Metric::P99, t), Verdict::Regression);
        assert_eq!(verdict(0.98, Some((0.97, 0.99)), Metric::Throughput, t), Verdict::Unchanged);
        assert_eq!(verdict(0.7, Some((0.4, 1.1)), Metric::Throughput, t), Verdict::Unchanged);
        assert_eq!(verdict(0.7, None, Metric::Throughput, t), Verdict::Inconclusive);
        assert_eq!(verdict(1.01, None, Metric::Throughput, t), Verdict::Unchanged);
    }
}
