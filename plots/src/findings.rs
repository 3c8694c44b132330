//! Findings: the comparisons a suite declares to answer its question (`[[finding]]` in the
//! suite file, recorded in `run.json` as `findings`), computed from the results.
//!
//! A finding names a metric, an axis, a baseline value of that axis and the values compared
//! with it, optionally only where other axes have given values. Each configuration with the
//! baseline value is paired with each configuration that has a compared value and the same
//! value on every other axis (an axis a configuration does not set, because it comes from
//! another `[[matrix]]` table, matches any value). The pair's ratio of means over repetitions
//! (compared / baseline) comes with its 95 % confidence interval (Welch's t on the log scale,
//! the method of `kvlab compare`) and a verdict read off the interval: significantly higher,
//! significantly lower, or no significant difference when it includes 1. Without declarations
//! there are no findings: nothing is invented.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::metric::{direction, Direction, Metric};
use crate::results::Results;
use crate::stats::{mean, ratio_of_means, Ratio};

/// How the report explains a finding's numbers.
pub(crate) const METHOD: &str = "Each finding divides the compared configuration's mean over \
     its repetitions by the baseline's (run phase, all operations, service latency); the 95 % \
     confidence interval of that ratio comes from Welch's t on the log scale (delta method), as \
     in `kvlab compare`. A verdict is significant only when the interval excludes 1; with few \
     repetitions many honestly read \"no significant difference\".";

/// One declaration, as `run.json` records it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Declared {
    pub title: Option<String>,
    pub metric: Metric,
    pub axis: String,
    pub baseline: String,
    pub compared: Vec<String>,
    /// `(axis, value)` every paired configuration has.
    pub filter: Vec<(String, String)>,
}

impl Declared {
    /// The declarations of `run.json`'s `findings` (absent: none).
    ///
    /// # Errors
    ///
    /// A declaration that is not an object with the fields the harness writes.
    pub fn all_from(json: &Value, path: &std::path::Path) -> Result<Vec<Declared>> {
        let Some(list) = json.get("findings") else { return Ok(Vec::new()) };
        let Some(list) = list.as_array() else {
            return Err(Error::format(path, "`findings`: expected an array"));
        };
        list.iter()
            .enumerate()
            .map(|(i, f)| {
                Declared::from_json(f)
                    .map_err(|m| Error::format(path, format!("finding {}: {m}", i + 1)))
            })
            .collect()
    }

    fn from_json(f: &Value) -> std::result::Result<Declared, String> {
        let text = |key: &str| -> std::result::Result<String, String> {
            f.get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("`{key}`: expected a string"))
        };
        let metric = text("metric")?;
        let metric = Metric::parse(&metric).ok_or_else(|| format!("unknown metric `{metric}`"))?;
        let compared = f
            .get("compared")
            .and_then(Value::as_array)
            .ok_or("`compared`: expected an array of strings")?
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or("`compared`: expected strings"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let filter = match f.get("where") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|v| (k.clone(), v.to_string()))
                        .ok_or_else(|| format!("`where.{k}`: expected a string"))
                })
                .collect::<std::result::Result<Vec<_>, _>>()?,
            Some(_) => return Err("`where`: expected an object".into()),
        };
        Ok(Declared {
            title: f.get("title").and_then(Value::as_str).map(str::to_string),
            metric,
            axis: text("axis")?,
            baseline: text("baseline")?,
            compared,
            filter,
        })
    }

    /// The heading: the declared title, or one made from the declaration.
    fn heading(&self) -> String {
        if let Some(t) = &self.title {
            return t.clone();
        }
        let mut h = format!(
            "{} of {} against {} ({})",
            self.metric.name(),
            self.compared.join(", "),
            self.baseline,
            self.axis
        );
        if !self.filter.is_empty() {
            let w: Vec<String> = self.filter.iter().map(|(k, v)| format!("{k}={v}")).collect();
            h.push_str(&format!(", where {}", w.join(", ")));
        }
        h
    }
}

/// One compared configuration against its baseline.
#[derive(Clone, Debug)]
pub(crate) struct Pair {
    /// The compared axis value.
    pub value: String,
    /// What the two configurations share: the other axes' values (`axis=value`, `, `-joined).
    pub context: String,
    /// Baseline and compared means over their repetitions.
    pub means: (f64, f64),
    /// Repetitions on each side.
    pub reps: (usize, usize),
    pub ratio: Ratio,
}

impl Pair {
    /// The one-line verdict, from the interval.
    pub fn verdict(&self, metric: Metric) -> &'static str {
        match (direction(self.ratio.ci95), metric.higher_is_better()) {
            (Direction::Higher, true) => "significantly higher (better)",
            (Direction::Higher, false) => "significantly higher (worse)",
            (Direction::Lower, true) => "significantly lower (worse)",
            (Direction::Lower, false) => "significantly lower (better)",
            (Direction::Same, _) => "no significant difference",
            (Direction::Unknown, _) => "no interval (fewer than two repetitions)",
        }
    }
}

/// A computed finding.
#[derive(Clone, Debug)]
pub(crate) struct Finding {
    pub heading: String,
    pub declared: Declared,
    pub pairs: Vec<Pair>,
}

impl Finding {
    /// The finding's one-line statements, one per pair: value, ratio, interval and verdict.
    pub fn lines(&self) -> Vec<String> {
        if self.pairs.is_empty() {
            return vec![format!(
                "No configuration pair to compare: the results have no configuration with {} = \
                 {} and a compared value that agrees with it on every other axis.",
                self.declared.axis, self.declared.baseline
            )];
        }
        let metric = self.declared.metric;
        let unit = metric.unit();
        self.pairs
            .iter()
            .map(|p| {
                let ci = match p.ratio.ci95 {
                    Some((lo, hi)) => format!("95 % CI {lo:.2}–{hi:.2}"),
                    None => "no interval".to_string(),
                };
                let context =
                    if p.context.is_empty() { String::new() } else { format!(" ({})", p.context) };
                format!(
                    "{}{context}: {:.2}× {}'s {} ({ci}; means {} vs {} {unit}, {}+{} repetitions): {}.",
                    p.value,
                    p.ratio.ratio,
                    self.declared.baseline,
                    metric.name(),
                    crate::html::num(p.means.1),
                    crate::html::num(p.means.0),
                    p.reps.1,
                    p.reps.0,
                    p.verdict(metric)
                )
            })
            .collect()
    }
}

/// Computes every finding `results` declares.
pub(crate) fn compute(results: &Results) -> Vec<Finding> {
    results.meta.findings.iter().map(|d| compute_one(results, d)).collect()
}

fn compute_one(results: &Results, d: &Declared) -> Finding {
    let phase = results.main_phase();
    let op = results.overall_op(phase).unwrap_or_else(|| "ALL".into());
    let col = |axis: &str| results.axes.iter().position(|a| a == axis);
    let along = col(&d.axis);
    let filter: Option<Vec<(usize, &str)>> =
        d.filter.iter().map(|(a, v)| col(a).map(|c| (c, v.as_str()))).collect();
    let mut pairs = Vec::new();
    if let (Some(along), Some(filter)) = (along, filter) {
        // An axis a configuration does not set (another `[[matrix]]` table's) matches any value.
        let agree = |a: &str, b: &str| a == b || a.is_empty() || b.is_empty();
        let keep = |values: &[String]| filter.iter().all(|(c, v)| agree(&values[*c], v));
        // The axes that tell the finding's configurations apart, besides `axis`: a pair is
        // labelled by its values on them.
        let takes_part = |v: &String| *v == d.baseline || d.compared.iter().any(|c| c == v);
        let kept: Vec<&Vec<String>> = results
            .configs
            .iter()
            .map(|c| &c.values)
            .filter(|v| keep(v) && takes_part(&v[along]))
            .collect();
        let varies = |i: usize| kept.iter().any(|v| v[i] != kept[0][i]);
        for (ib, base) in results.configs.iter().enumerate() {
            if base.values[along] != d.baseline || !keep(&base.values) {
                continue;
            }
            let context: Vec<String> = results
                .axes
                .iter()
                .zip(&base.values)
                .enumerate()
                .filter(|(i, (_, v))| *i != along && !v.is_empty() && varies(*i))
                .map(|(_, (a, v))| format!("{}={v}", short(a)))
                .collect();
            let sb = results.samples(ib, phase, &op, "service", |r| d.metric.of(r));
            for value in &d.compared {
                // The twin satisfies `where` too: an axis the baseline leaves unset would
                // otherwise let any value through.
                let twin = results.configs.iter().position(|c| {
                    c.values[along] == *value
                        && keep(&c.values)
                        && c.values
                            .iter()
                            .enumerate()
                            .all(|(i, v)| i == along || agree(v, &base.values[i]))
                });
                let Some(ic) = twin else { continue };
                let sc = results.samples(ic, phase, &op, "service", |r| d.metric.of(r));
                let Some(ratio) = ratio_of_means(&sb, &sc) else { continue };
                pairs.push(Pair {
                    value: value.clone(),
                    context: context.join(", "),
                    means: (mean(&sb), mean(&sc)),
                    reps: (sb.len(), sc.len()),
                    ratio,
                });
            }
        }
    }
    Finding { heading: d.heading(), declared: d.clone(), pairs }
}

/// An axis name without its namespace (`store.read_policy` → `read_policy`).
fn short(axis: &str) -> &str {
    axis.rsplit('.').next().unwrap_or(axis)
}
