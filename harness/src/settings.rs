//! Harness settings: every CLI flag is also a property, so `-p` and suites can vary anything.
//!
//! | property | flag | default | meaning |
//! | --- | --- | --- | --- |
//! | `db` | `--db` | `store` | binding: `null`, `engine`, `store`, `etcd` |
//! | `threadcount` | `--threads` | 1 | client threads |
//! | `target` | `--target` | 0 | total ops/s to aim at; 0 = as fast as possible |
//! | `seed` | `--seed` | workload default | seed of every random choice |
//! | `duration` | `--duration` | unset | run-phase length (`30`, `30s`, `500ms`, `2m`); unset = `operationcount` |
//! | `warmup` | `--warmup` | 0 | time at the start of the run phase excluded from every figure (rounded up to whole seconds) |
//! | `status.interval` | `--status` | 10 | seconds between status lines |
//! | `engine` | | `rocksdb` | engine of the `engine` and `store` bindings |
//! | `name` | | workload file name | results go to `results/<name>/<timestamp>/` |
//! | `trace` | `--trace` | unset | CSV of every operation, load and run phases (column `phase`) |
//! | `timeout` | | 5s | per-operation timeout of the store client |
//! | `check` | `--check` | false | checking mode: unique written values, a trace, the history checker |
//! | `nemesis` | `--nemesis` | none | faults during the run (see [`crate::nemesis`]) |
//! | `nemesis.interval` | `--nemesis-interval` | 2s | time between faults |
//!
//! Binding properties: `null.*`, `engine.*`, `rocksdb.*`, `fjall.*`, `redb.*`, `store.*` and
//! `etcd.*` (see README.md).

use std::path::PathBuf;
use std::time::Duration;

use kvlab_store::EngineKind;
use kvlab_workloads::Properties;

use crate::error::{Error, Result};

/// Property names the harness itself reads.
pub const HARNESS_PROPERTIES: [&str; 14] = [
    "db",
    "threadcount",
    "inflight",
    "target",
    "seed",
    "duration",
    "warmup",
    "status.interval",
    "engine",
    "name",
    "trace",
    "timeout",
    "check",
    "nemesis",
];

/// Prefixes of binding properties.
pub const BINDING_PREFIXES: [&str; 8] =
    ["null.", "engine.", "rocksdb.", "fjall.", "redb.", "store.", "etcd.", "nemesis."];

/// Whether the harness or a binding reads `key` (the workload crate knows its own keys).
pub fn is_known_property(key: &str) -> bool {
    HARNESS_PROPERTIES.contains(&key) || BINDING_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Parsed harness settings plus every property (bindings read their own from `props`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// All properties, merged.
    pub props: Properties,
    /// The binding.
    pub db: String,
    /// Client threads.
    pub threads: usize,
    /// Operations each client thread keeps in flight (`inflight`, default 1; more needs a
    /// binding with an asynchronous API, [`PIPELINED_BINDINGS`]).
    pub inflight: usize,
    /// Total target throughput in ops/s, if rate-limited.
    pub target: Option<f64>,
    /// Run-phase duration; `None` runs `operationcount` operations.
    pub duration: Option<Duration>,
    /// Warm-up excluded from the figures.
    pub warmup: Duration,
    /// Status line period.
    pub status: Duration,
    /// Engine kind for the `engine` and `store` bindings.
    pub engine: EngineKind,
    /// Results name.
    pub name: String,
    /// Trace file.
    pub trace: Option<PathBuf>,
    /// Per-operation timeout for store clients.
    pub timeout: Duration,
    /// Checking mode: writes carry unique values, reads report what they saw, and the run's
    /// trace is checked for linearizability.
    pub check: bool,
    /// Faults to inject during the run phase.
    pub nemesis: Option<crate::nemesis::NemesisSpec>,
}

impl Settings {
    /// Reads the harness settings from `props`.
    ///
    /// # Errors
    ///
    /// A bad value, naming the property, where it came from and what is expected.
    pub fn from_properties(props: Properties) -> Result<Self> {
        let db = props.get_str_or("db", "store").to_string();
        if !crate::binding::BINDINGS.contains(&db.as_str()) {
            return Err(invalid(&props, "db", "one of: null, engine, store, etcd"));
        }
        let threads = props.get_u64_or("threadcount", 1)?;
        if !(1..=4096).contains(&threads) {
            return Err(invalid(&props, "threadcount", "an integer from 1 to 4096"));
        }
        let inflight = props.get_u64_or("inflight", 1)?;
        if !(1..=65_536).contains(&inflight) {
            return Err(invalid(&props, "inflight", "an integer from 1 to 65536"));
        }
        if inflight > 1 && !PIPELINED_BINDINGS.contains(&db.as_str()) {
            return Err(inflight_error(&db, inflight as usize));
        }
        let target = props.get_f64_or("target", 0.0)?;
        if !(target >= 0.0 && target.is_finite()) {
            return Err(invalid(&props, "target", "a non-negative number of ops/s"));
        }
        let duration = match props.get("duration") {
            None | Some("") => None,
            Some(_) => Some(duration_property(&props, "duration", Duration::ZERO)?),
        };
        if duration == Some(Duration::ZERO) {
            return Err(invalid(&props, "duration", "a positive duration such as 30s"));
        }
        let warmup = duration_property(&props, "warmup", Duration::ZERO)?;
        if let Some(duration) = duration {
            if warmup >= duration {
                return Err(invalid(&props, "warmup", "a warm-up shorter than `duration`"));
            }
        }
        let status = duration_property(&props, "status.interval", Duration::from_secs(10))?;
        let engine = match props.get_str_or("engine", "rocksdb").parse::<EngineKind>() {
            Ok(kind) => kind,
            Err(_) => {
                return Err(invalid(&props, "engine", "one of: memory, rocksdb, fjall, redb"))
            }
        };
        let timeout = duration_property(&props, "timeout", Duration::from_secs(5))?;
        let name = props.get("name").map(str::to_string).unwrap_or_else(|| "run".to_string());
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(invalid(&props, "name", "a non-empty name without slashes"));
        }
        let trace = props.get("trace").filter(|t| !t.is_empty()).map(PathBuf::from);
        let check = match props.get_str_or("check", "false") {
            "true" => true,
            "false" => false,
            _ => return Err(invalid(&props, "check", "true or false")),
        };
        let seed = props.get_u64_or("seed", 0)?;
        let nemesis = crate::nemesis::NemesisSpec::from_properties(&props, seed)?;
        if (check || nemesis.is_some()) && !matches!(db.as_str(), "store" | "etcd") {
            let key = if check { "check" } else { "nemesis" };
            return Err(invalid(
                &props,
                key,
                "db=store or db=etcd (checking and faults need a replicated store)",
            ));
        }
        Ok(Settings {
            db,
            threads: threads as usize,
            inflight: inflight as usize,
            target: (target > 0.0).then_some(target),
            duration,
            warmup,
            status,
            engine,
            name,
            trace,
            timeout,
            check,
            nemesis,
            props,
        })
    }

    /// The engine options (`rocksdb.*`, `fjall.*`, `redb.*`, by full name), in name order.
    pub fn engine_options(&self) -> Vec<(String, String)> {
        let mut options = self.with_prefix("rocksdb.");
        options.extend(self.with_prefix("fjall."));
        options.extend(self.with_prefix("redb."));
        options.sort();
        options
    }

    /// Properties under `prefix` (prefix kept), in name order.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.props
            .iter()
            .filter(|(k, _, _)| k.starts_with(prefix))
            .map(|(k, v, _)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The unknown property keys, for one warning.
    pub fn unknown_properties(&self) -> Vec<String> {
        self.props.unknown_keys(is_known_property)
    }
}

/// The bindings that keep several operations in flight per client thread (`inflight` > 1).
pub const PIPELINED_BINDINGS: [&str; 1] = ["store"];

/// The error for `inflight` > 1 on a binding without an asynchronous API.
pub fn inflight_error(db: &str, inflight: usize) -> Error {
    Error::setting(
        "inflight",
        inflight,
        format!(
            "1 for db={db}, a synchronous binding (inflight > 1 needs one of: {})",
            PIPELINED_BINDINGS.join(", ")
        ),
    )
}

fn invalid(props: &Properties, key: &str, expected: &str) -> Error {
    Error::Workload(props.invalid(key, expected))
}

fn duration_property(props: &Properties, key: &str, default: Duration) -> Result<Duration> {
    match props.get(key) {
        None => Ok(default),
        Some(text) => parse_duration(text).ok_or_else(|| {
            invalid(props, key, "a duration: seconds (`30`, `2.5`) or `30s`, `500ms`, `2m`")
        }),
    }
}

/// Parses `30`, `2.5`, `30s`, `500ms`, `2m` into a duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().ok()?;
    let secs = value * scale;
    (0.0..1e9).contains(&secs).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings> {
        let overrides: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_properties(Properties::load(&[], &overrides)?)
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2.5s"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        for bad in ["", "s", "-1", "fast", "1h", "NaN"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn defaults_and_values() -> Result<()> {
        let s = settings(&[])?;
        assert_eq!((s.db.as_str(), s.threads, s.target, s.duration), ("store", 1, None, None));
        let s = settings(&[
            ("db", "null"),
            ("threadcount", "4"),
            ("target", "1000"),
            ("duration", "3s"),
        ])?;
        assert_eq!((s.db.as_str(), s.threads), ("null", 4));
        assert_eq!(s.target, Some(1000.0));
        assert_eq!(s.duration, Some(Duration::from_secs(3)));
        Ok(())
    }

    #[test]
    fn bad_values_name_the_property() {
        let cases = [
            (("db", "mongo"), "null, engine, store"),
            (("threadcount", "0"), "1 to 4096"),
            (("threadcount", "many"), "threadcount"),
            (("target", "-5"), "non-negative"),
            (("duration", "soon"), "duration"),
            (("engine", "leveldb"), "memory, rocksdb, fjall, redb"),
            (("name", "a/b"), "without slashes"),
        ];
        for ((key, value), expected) in cases {
            let err = settings(&[(key, value)]).expect_err(key).to_string();
            assert!(err.contains(key) && err.contains(value) && err.contains(expected), "{err}");
        }
        let err =
            settings(&[("duration", "2s"), ("warmup", "3s")]).expect_err("warmup").to_string();
        assert!(err.contains("warmup"), "{err}");
    }

    #[test]
    fn unknown_properties_are_listed() -> Result<()> {
        let s = settings(&[("readproportoin", "1"), ("store.nodes", "3"), ("db", "null")])?;
        assert_eq!(s.unknown_properties(), vec!["readproportoin".to_string()]);
        Ok(())
    }
}
