//! Findings: the comparisons that answer a suite's question, declared in the suite file and
//! computed by the report (ratio, 95 % interval, verdict). The harness checks a declaration
//! against the suite's matrix and records it in `run.json` (`findings`); the plots crate
//! computes it from the results, so a report can always be redrawn.
//!
//! ```toml
//! [[finding]]
//! title = "Spreading a hot key's reads over the replicas"   # optional
//! metric = "throughput"            # throughput (default), p50, p99 or p99.9 (service latency)
//! axis = "store.read_policy"       # the axis whose values are compared
//! baseline = "leader"              # the value every other one is divided by
//! compared = ["follower", "mixed"] # default: every other value of the axis
//! where = { workload = "single" }  # optional: only configurations with these axis values
//! ```
//!
//! A finding compares configurations that differ only along `axis`: each configuration with
//! the baseline value is paired with each configuration that has a compared value and the same
//! values on every other axis. An axis a configuration does not set (it comes from another
//! `[[matrix]]` table) matches any value, in pairs and in `where`. Values are as results label
//! them (a workload by its file name).

use serde::Deserialize;
use serde_json::{json, Value};

/// The metrics a finding may compare, as spelled in suite files and `run.json`.
pub const METRICS: [&str; 4] = ["throughput", "p50", "p99", "p99.9"];

/// One `[[finding]]` table of a suite file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// A heading for the finding (default: made from the other fields).
    #[serde(default)]
    pub title: Option<String>,
    /// What is compared (see [`METRICS`]).
    #[serde(default = "default_metric")]
    pub metric: String,
    /// The axis along which configurations differ.
    pub axis: String,
    /// The axis value of the baseline.
    pub baseline: String,
    /// The axis values compared with the baseline (empty: every other value).
    #[serde(default)]
    pub compared: Vec<String>,
    /// Axis values every compared configuration has.
    #[serde(default, rename = "where")]
    pub filter: std::collections::BTreeMap<String, Scalar>,
}

/// A `where` value: a string, number or boolean, compared as results write it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    /// A string.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Text(s) => f.write_str(s),
            Scalar::Integer(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

fn default_metric() -> String {
    "throughput".into()
}

impl Finding {
    /// Checks the declaration against the suite's axes and their values (`values(axis)`), and
    /// fills in the defaults that depend on them; the message names what is wrong.
    ///
    /// # Errors
    ///
    /// An unknown metric or axis, or a value the axis never takes.
    pub fn resolve(
        mut self,
        axes: &[String],
        values: impl Fn(&str) -> Vec<String>,
    ) -> Result<Finding, String> {
        if !METRICS.contains(&self.metric.as_str()) {
            return Err(format!(
                "metric `{}`: expected one of {}",
                self.metric,
                METRICS.join(", ")
            ));
        }
        let known = |axis: &str| -> Result<Vec<String>, String> {
            if axes.iter().any(|a| a == axis) {
                Ok(values(axis))
            } else {
                Err(format!("axis `{axis}` is not an axis of this suite ({})", axes.join(", ")))
            }
        };
        let along = known(&self.axis)?;
        let taken = |what: &str, v: &str, among: &[String], axis: &str| {
            if among.iter().any(|a| a == v) {
                Ok(())
            } else {
                Err(format!("{what} `{v}`: axis `{axis}` has only {}", among.join(", ")))
            }
        };
        taken("baseline", &self.baseline, &along, &self.axis)?;
        if self.compared.is_empty() {
            self.compared = along.iter().filter(|v| **v != self.baseline).cloned().collect();
        }
        for v in &self.compared {
            taken("compared value", v, &along, &self.axis)?;
        }
        for (axis, value) in &self.filter {
            taken("where value", &value.to_string(), &known(axis)?, axis)?;
        }
        Ok(self)
    }

    /// The declaration as `run.json` records it (defaults filled in, `where` as strings).
    pub fn to_json(&self) -> Value {
        let filter: serde_json::Map<String, Value> =
            self.filter.iter().map(|(k, v)| (k.clone(), Value::String(v.to_string()))).collect();
        json!({
            "title": self.title,
            "metric": self.metric,
            "axis": self.axis,
            "baseline": self.baseline,
            "compared": self.compared,
            "where": filter,
        })
    }
}
