//! Suites: a TOML file naming the question, base properties, one or more matrices of axes and
//! the number of repetitions. Every configuration runs `repetitions` times; results carry a
//! column per axis and `rep`, and `aggregate.csv` gives each configuration's mean and 95 %
//! confidence interval.
//!
//! ```toml
//! question = "Do follower reads spread a hot key over the replicas?"
//! repetitions = 3                         # default 3
//! workloads = ["../../workloads/ycsb/workloadc"]   # -P files, relative to this file
//!
//! [properties]                            # every run; any property
//! db = "store"
//! recordcount = 10000
//! duration = "5s"
//! warmup = "1s"
//!
//! [matrix]                                # the cartesian product of the axes, in order
//! "store.read_policy" = ["leader", "follower", "stale"]
//! workload = ["../../workloads/ycsb/workloadc", "../../workloads/hotkey/single"]
//! ```
//!
//! `[[finding]]` tables declare the comparisons that answer the question; the report opens
//! with them (see [`crate::finding`]).
//!
//! `[[matrix]]` (an array of tables) runs the union of several products. The axis `workload`
//! names a workload file, merged after `workloads`; results label it by its file name. Properties merge in this order: workload
//! files, `[properties]`, the axis values, then `-p` overrides from the command line.
//!
//! **Run order.** `order` says in which order the configurations' repetitions run, so that
//! drift of the machine (thermal state, caches, background load, a neighbour on a shared host)
//! spreads over every configuration instead of passing for a configuration effect:
//!
//! ```toml
//! order = "interleaved"     # the default: rounds; round r runs repetition r of every
//!                           # configuration in matrix order (c01-r1, c02-r1, …, c01-r2, …)
//! # order = "shuffled"      # rounds as above, each round's configurations in a seeded
//! #                         # random order (a randomized complete block design)
//! # order_seed = 0          # the shuffle's seed (default 0): the same seed, configurations
//! #                         # and repetitions give the same order, and more repetitions
//! #                         # (`--reps`) keep the first rounds' order
//! # order = "grouped"       # every repetition of c01, then every repetition of c02, …
//! ```
//!
//! The order changes neither a run's label (configuration number and `rep` come from the
//! matrix, never from the run's position) nor `aggregate.csv` (computed per configuration
//! over its repetitions in `rep` order). `run.json` records `order`, `order_seed` (shuffled
//! only) and the runs in the order they ran (`run_order`).

use std::path::{Path, PathBuf};

use kvlab_workloads::Properties;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::finding::Finding;

/// In which order a suite's runs go (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Round robin: repetition r of every configuration, in matrix order, then r + 1.
    #[default]
    Interleaved,
    /// Rounds as [`Order::Interleaved`], each round's configurations shuffled (seeded).
    Shuffled,
    /// Every repetition of one configuration, then the next configuration's.
    Grouped,
}

impl Order {
    /// The name used in suite files and `run.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Interleaved => "interleaved",
            Order::Shuffled => "shuffled",
            Order::Grouped => "grouped",
        }
    }
}

/// One run of a suite: a configuration (its position in [`Suite::configs`]) and a repetition
/// (from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    /// Position in [`Suite::configs`] (the configuration's `index` less one).
    pub config: usize,
    /// Repetition, from 1.
    pub rep: usize,
}

/// A parsed suite file.
#[derive(Clone, Debug)]
pub struct Suite {
    /// The file.
    pub path: PathBuf,
    /// The question the suite answers (for the report).
    pub question: String,
    /// Repetitions of every configuration.
    pub repetitions: usize,
    /// The order the runs go in.
    pub order: Order,
    /// The seed of [`Order::Shuffled`].
    pub order_seed: u64,
    /// Axis names over all matrices, in first-seen order.
    pub axes: Vec<String>,
    /// The expanded configurations, in run order.
    pub configs: Vec<Config>,
    /// The comparisons that answer the question (`[[finding]]`, see [`crate::finding`]),
    /// checked against the matrix.
    pub findings: Vec<Finding>,
}

/// One configuration of a suite.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Its number, from 1.
    pub index: usize,
    /// Axis values, in axis order.
    pub axes: Vec<(String, String)>,
    /// Workload files, resolved.
    pub files: Vec<PathBuf>,
    /// Properties after the files (suite properties, then axis values).
    pub props: Vec<(String, String)>,
}

impl Config {
    /// The run id of repetition `rep` (`c03-r2`).
    pub fn run_id(&self, rep: usize) -> String {
        format!("c{:02}-r{rep}", self.index)
    }

    /// Loads the properties, with `overrides` applied last.
    ///
    /// # Errors
    ///
    /// A missing or malformed workload file.
    pub fn properties(&self, overrides: &[(String, String)]) -> Result<Properties> {
        let mut all = self.props.clone();
        all.extend(overrides.iter().cloned());
        Ok(Properties::load(&self.files, &all)?)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    question: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "default_repetitions")]
    repetitions: usize,
    #[serde(default)]
    order: Order,
    #[serde(default)]
    order_seed: u64,
    #[serde(default)]
    workloads: Vec<String>,
    #[serde(default)]
    properties: toml::Table,
    #[serde(default)]
    matrix: Option<Matrices>,
    #[serde(default)]
    finding: Vec<Finding>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Matrices {
    One(toml::Table),
    Many(Vec<toml::Table>),
}

fn default_repetitions() -> usize {
    3
}

impl Suite {
    /// Reads and expands a suite file.
    ///
    /// # Errors
    ///
    /// [`Error::Suite`] naming the file and the problem (TOML syntax with line and column,
    /// an unknown key, an empty axis, a value that is not a scalar, a missing workload file).
    pub fn load(path: &Path) -> Result<Suite> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("cannot read suite", path, e))?;
        Suite::parse(&text, path)
    }

    /// Parses suite text; relative paths resolve against `path`'s directory.
    ///
    /// # Errors
    ///
    /// As [`Suite::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Suite> {
        let err = |message: String| Error::Suite { path: path.to_path_buf(), message };
        let file: SuiteFile =
            toml::from_str(text).map_err(|e| err(e.to_string().trim().to_string()))?;
        let _ = file.description;
        if file.repetitions == 0 || file.repetitions > 1000 {
            return Err(err(format!("`repetitions` = {}: expected 1 to 1000", file.repetitions)));
        }
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let resolve = |name: &str, what: &str| -> Result<PathBuf> {
            let p = base_dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(err(format!("{what} `{name}` not found (looked for {})", p.display())))
            }
        };
        let files = file
            .workloads
            .iter()
            .map(|w| resolve(w, "workload file"))
            .collect::<Result<Vec<_>>>()?;
        let base_props = file
            .properties
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    scalar(v).ok_or_else(|| {
                        err(format!("property `{k}`: expected a string, number or boolean"))
                    })?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let matrices = match file.matrix {
            None => vec![toml::Table::new()],
            Some(Matrices::One(t)) => vec![t],
            Some(Matrices::Many(ts)) if ts.is_empty() => vec![toml::Table::new()],
            Some(Matrices::Many(ts)) => ts,
        };
        let mut axes: Vec<String> = Vec::new();
        let mut configs = Vec::new();
        for (m, matrix) in matrices.iter().enumerate() {
            let mut dims: Vec<(String, Vec<String>)> = Vec::new();
            for (name, values) in matrix {
                let list = match values {
                    toml::Value::Array(list) => list.clone(),
                    other => vec![other.clone()],
                };
                if list.is_empty() {
                    return Err(err(format!("matrix {} axis `{name}` has no values", m + 1)));
                }
                let values = list
                    .iter()
                    .map(|v| scalar(v).ok_or_else(|| err(format!("matrix {} axis `{name}`: values must be strings, numbers or booleans", m + 1))))
                    .collect::<Result<Vec<_>>>()?;
                if !axes.contains(name) {
                    axes.push(name.clone());
                }
                dims.push((name.clone(), values));
            }
            for combo in product(&dims) {
                let mut cfg_files = files.clone();
                let mut props = base_props.clone();
                let mut axes = Vec::with_capacity(combo.len());
                for (name, value) in combo {
                    if name == "workload" {
                        let file = resolve(&value, "workload file")?;
                        // Results name the workload by its file name, not its relative path.
                        let label = file
                            .file_name()
                            .map_or(value.clone(), |f| f.to_string_lossy().into_owned());
                        cfg_files.push(file);
                        axes.push((name, label));
                    } else {
                        props.push((name.clone(), value.clone()));
                        axes.push((name, value));
                    }
                }
                configs.push(Config { index: configs.len() + 1, axes, files: cfg_files, props });
            }
        }
        let values = |axis: &str| {
            let mut out: Vec<String> = Vec::new();
            for (_, v) in configs.iter().flat_map(|c| &c.axes).filter(|(a, _)| a == axis) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            out
        };
        let findings = file
            .finding
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                f.resolve(&axes, values).map_err(|m| err(format!("finding {}: {m}", i + 1)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Suite {
            path: path.to_path_buf(),
            question: file.question,
            repetitions: file.repetitions,
            order: file.order,
            order_seed: file.order_seed,
            axes,
            configs,
            findings,
        })
    }

    /// Every run of `reps` repetitions of each configuration, in the order they go (see the
    /// module docs): the same suite, order, seed and `reps` always give the same list.
    pub fn schedule(&self, reps: usize) -> Vec<Slot> {
        schedule(self.configs.len(), reps, self.order, self.order_seed)
    }
}

/// The run order of `configs` configurations × `reps` repetitions.
fn schedule(configs: usize, reps: usize, order: Order, seed: u64) -> Vec<Slot> {
    use rand::{Rng, SeedableRng};
    let round = |rep: usize| (0..configs).map(move |config| Slot { config, rep });
    match order {
        Order::Grouped => (0..configs)
            .flat_map(|config| (1..=reps).map(move |rep| Slot { config, rep }))
            .collect(),
        Order::Interleaved => (1..=reps).flat_map(round).collect(),
        Order::Shuffled => {
            // One generator over the rounds in turn, so more repetitions keep the first rounds.
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut out = Vec::with_capacity(configs * reps);
            for rep in 1..=reps {
                let mut slots: Vec<Slot> = round(rep).collect();
                // Fisher–Yates, spelled out so the order depends only on the generator.
                for i in (1..slots.len()).rev() {
                    slots.swap(i, rng.gen_range(0..=i));
                }
                out.extend(slots);
            }
            out
        }
    }
}

/// A scalar TOML value as a property string.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Every combination of the dimensions' values, the first dimension varying slowest.
fn product(dims: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (name, values) in dims {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push((name.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    out
}

/// Student's t quantile for a two-sided 95 % interval with `df` degrees of freedom.
pub fn t95(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => 1.96,
    }
}

/// Mean and 95 % confidence half-width of `values` (half-width NaN for fewer than two).
pub fn mean_ci95(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, t95(n - 1) * (var / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(text: &str) -> Result<Suite> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        std::fs::write(dir.path().join("wa"), "recordcount=10\n")
            .map_err(|e| Error::io("w", "wa", e))?;
        std::fs::write(dir.path().join("wb"), "recordcount=20\n")
            .map_err(|e| Error::io("w", "wb", e))?;
        let path = dir.path().join("s.toml");
        let s = Suite::parse(text, &path);
        drop(dir);
        s
    }

    #[test]
    fn expands_matrices_in_order() -> Result<()> {
        let s = suite(
            r#"
question = "q"
repetitions = 2
workloads = ["wa"]
[properties]
db = "null"
threadcount = 2
[[matrix]]
"store.read_policy" = ["leader", "follower"]
workload = ["wa", "./wb"]
[[matrix]]
engine = "memory"
"#,
        )?;
        assert_eq!(s.repetitions, 2);
        assert_eq!(s.axes, vec!["store.read_policy", "workload", "engine"]);
        assert_eq!(s.configs.len(), 5);
        let axes: Vec<Vec<String>> =
            s.configs.iter().map(|c| c.axes.iter().map(|(_, v)| v.clone()).collect()).collect();
        assert_eq!(axes[0], vec!["leader", "wa"], "a workload is labelled by its file name");
        assert_eq!(axes[1], vec!["leader", "wb"]);
        assert_eq!(axes[3], vec!["follower", "wb"]);
        assert_eq!(axes[4], vec!["memory"]);
        assert_eq!(s.configs[1].files.len(), 2, "base file then the axis file");
        assert!(s.configs[0].props.contains(&("threadcount".to_string(), "2".to_string())));
        assert_eq!(s.configs[2].run_id(3), "c03-r3");
        Ok(())
    }

    fn ids(s: &Suite, reps: usize) -> Vec<String> {
        s.schedule(reps).iter().map(|slot| s.configs[slot.config].run_id(slot.rep)).collect()
    }

    const THREE: &str = "question = 'q'\n[matrix]\nengine = ['a', 'b', 'c']\n";

    #[test]
    fn repetitions_interleave_by_default() -> Result<()> {
        let s = suite(THREE)?;
        assert_eq!(s.order, Order::Interleaved);
        assert_eq!(
            ids(&s, 2),
            ["c01-r1", "c02-r1", "c03-r1", "c01-r2", "c02-r2", "c03-r2"],
            "round robin: repetition r of every configuration before r + 1"
        );
        let grouped = suite(&format!("order = 'grouped'\n{THREE}"))?;
        assert_eq!(ids(&grouped, 2), ["c01-r1", "c01-r2", "c02-r1", "c02-r2", "c03-r1", "c03-r2"]);
        Ok(())
    }

    #[test]
    fn shuffled_rounds_are_seeded_permutations() -> Result<()> {
        let text = |seed: u64| format!("order = 'shuffled'\norder_seed = {seed}\n{THREE}");
        let s = suite(&text(7))?;
        assert_eq!((s.order, s.order_seed), (Order::Shuffled, 7));
        let runs = s.schedule(4);
        assert_eq!(runs.len(), 12);
        for (round, slots) in runs.chunks(3).enumerate() {
            let mut configs: Vec<usize> = slots.iter().map(|slot| slot.config).collect();
            assert!(slots.iter().all(|slot| slot.rep == round + 1), "{runs:?}");
            configs.sort_unstable();
            assert_eq!(configs, [0, 1, 2], "each round runs every configuration once: {runs:?}");
        }
        assert_eq!(runs, suite(&text(7))?.schedule(4), "the same seed gives the same order");
        assert_eq!(runs[..6], s.schedule(2)[..], "more repetitions keep the first rounds");
        // Some seed reorders a round, and seeds differ (16 seeds × 4 rounds of 3! orders).
        let orders: std::collections::BTreeSet<Vec<Slot>> =
            (0..16).map(|seed| schedule(3, 4, Order::Shuffled, seed)).collect();
        assert!(orders.len() > 1, "the seed matters");
        assert!(orders.iter().any(|o| o[..3] != schedule(3, 1, Order::Interleaved, 0)[..]));
        let default_seed = suite(&format!("order = 'shuffled'\n{THREE}"))?;
        assert_eq!(default_seed.order_seed, 0);
        assert_eq!(default_seed.schedule(4), schedule(3, 4, Order::Shuffled, 0));
        // Every order runs every (configuration, repetition) exactly once.
        for order in [Order::Interleaved, Order::Shuffled, Order::Grouped] {
            let mut all = schedule(5, 3, order, 1);
            all.sort_unstable();
            assert_eq!(all, schedule(5, 3, Order::Grouped, 0), "{order:?}");
        }
        Ok(())
    }

    #[test]
    fn bad_suites_are_clear_errors() {
        let cases = [
            ("question = ", "TOML parse error at line 1"),
            ("repetitions = 2", "missing field `question`"),
            ("question = 'q'\nrepetitions = 0", "repetitions"),
            ("question = 'q'\nbogus = 1", "bogus"),
            ("question = 'q'\n[matrix]\nengine = []", "no values"),
            ("question = 'q'\n[matrix]\nengine = [[1]]", "strings, numbers or booleans"),
            ("question = 'q'\nworkloads = ['missing']", "`missing` not found"),
            ("question = 'q'\n[matrix]\nworkload = ['nope']", "`nope` not found"),
            ("question = 'q'\n[properties]\nx = [1]", "property `x`"),
            ("question = 'q'\norder = 'random'", "expected one of `interleaved`, `shuffled`"),
            ("question = 'q'\norder_seed = -1", "order_seed"),
        ];
        for (text, expected) in cases {
            let err = suite(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(err.contains("s.toml"), "names the file: {err}");
        }
    }

    const MATRIX: &str = "question = 'q'\n[matrix]\n\"store.read_policy\" = ['leader', 'follower', 'mixed']\nworkload = ['wa', 'wb']\n";

    #[test]
    fn findings_are_checked_against_the_matrix() -> Result<()> {
        let s = suite(&format!(
            "{MATRIX}[[finding]]\naxis = 'store.read_policy'\nbaseline = 'leader'\nwhere = {{ workload = 'wb' }}\n\
             [[finding]]\nmetric = 'p99'\naxis = 'workload'\nbaseline = 'wa'\ncompared = ['wb']\ntitle = 't'\n"
        ))?;
        assert_eq!(s.findings.len(), 2);
        let f = &s.findings[0];
        assert_eq!(f.metric, "throughput", "the default metric");
        assert_eq!(f.compared, vec!["follower", "mixed"], "default: every other value");
        let json = f.to_json();
        assert_eq!(json["where"]["workload"], "wb");
        assert_eq!(s.findings[1].to_json()["title"], "t");
        let cases = [
            ("axis = 'engine'\nbaseline = 'x'", "axis `engine` is not an axis of this suite"),
            (
                "axis = 'store.read_policy'\nbaseline = 'lease'",
                "baseline `lease`: axis `store.read_policy` has only leader, follower, mixed",
            ),
            (
                "axis = 'store.read_policy'\nbaseline = 'leader'\ncompared = ['stale']",
                "compared value `stale`",
            ),
            (
                "axis = 'store.read_policy'\nbaseline = 'leader'\nmetric = 'p42'",
                "metric `p42`: expected one of",
            ),
            (
                "axis = 'store.read_policy'\nbaseline = 'leader'\nwhere = { workload = 'wc' }",
                "where value `wc`",
            ),
            (
                "axis = 'store.read_policy'\nbaseline = 'leader'\nwhere = { seed = 1 }",
                "axis `seed` is not an axis",
            ),
            ("axis = 'store.read_policy'\nbaseline = 'leader'\nratio = 2", "unknown field `ratio`"),
            ("baseline = 'leader'", "missing field `axis`"),
        ];
        for (body, expected) in cases {
            let text = format!("{MATRIX}[[finding]]\n{body}\n");
            let err = suite(&text).expect_err(body).to_string();
            assert!(err.contains(expected), "{body:?}: {err}");
            assert!(err.contains("s.toml"), "names the file: {err}");
        }
        Ok(())
    }

    /// Every suite the project ships parses, its findings included.
    #[test]
    fn shipped_suites_parse() -> Result<()> {
        let dir = crate::workspace_root().join("harness/suites");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io("read", &dir, e))? {
            let path = entry.map_err(|e| Error::io("read", &dir, e))?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let s = Suite::load(&path)?;
                assert!(!s.configs.is_empty(), "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 7, "found {seen} suites in {}", dir.display());
        let quick = Suite::load(&dir.join("quick.toml"))?;
        assert!(quick.findings.len() >= 3, "the quick suite declares its findings");
        Ok(())
    }

    #[test]
    fn confidence_intervals() {
        let (mean, ci) = mean_ci95(&[10.0, 12.0, 14.0]);
        assert!((mean - 12.0).abs() < 1e-9);
        // s = 2, n = 3, t = 4.303: 4.303 * 2 / sqrt(3)
        assert!((ci - 4.303 * 2.0 / 3f64.sqrt()).abs() < 1e-9);
        assert!(mean_ci95(&[5.0]).1.is_nan());
    }

    /// Fuzzing cases (issue 7): `KVLAB_FUZZ_CASES` raises it for long runs.
    fn fuzz_cases() -> u32 {
        std::env::var("KVLAB_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
    }

    /// TOML-shaped text built from the suite grammar's pieces, plus junk.
    fn suite_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let line = prop_oneof![
            Just("question = \"q\"".to_string()),
            (0i64..2000).prop_map(|n| format!("repetitions = {n}")),
            Just("order = \"shuffled\"".to_string()),
            Just("order = \"grouped\"".to_string()),
            Just("order = \"bogus\"".to_string()),
            (-5i64..5).prop_map(|n| format!("order_seed = {n}")),
            Just("workloads = [\"wa\", \"missing\"]".to_string()),
            Just("[properties]".to_string()),
            Just("[matrix]".to_string()),
            Just("[[matrix]]".to_string()),
            Just("recordcount = 5".to_string()),
            Just("db = [\"null\", \"store\"]".to_string()),
            Just("workload = [\"wa\", \"./wb\"]".to_string()),
            Just("\"store.read_policy\" = []".to_string()),
            Just("x = { a = 1 }".to_string()),
            Just("seed = [1, 2.5, true]".to_string()),
            "[ -~]{0,30}",
        ];
        proptest::collection::vec(line, 0..10).prop_map(|lines| lines.join("\n"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(fuzz_cases()))]

        // Any suite text gives a suite or one error naming the file; never a panic.
        #[test]
        fn arbitrary_suites_never_panic(text in suite_text()) {
            match suite(&text) {
                Ok(s) => {
                    for c in &s.configs {
                        let _ = c.properties(&[]);
                    }
                    let runs = s.schedule(s.repetitions);
                    proptest::prop_assert_eq!(runs.len(), s.configs.len() * s.repetitions);
                }
                Err(e) => proptest::prop_assert!(e.to_string().contains("s.toml"), "{}", e),
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = suite(&String::from_utf8_lossy(&bytes));
        }
    }
}
