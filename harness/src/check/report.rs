//! The checker's result: counts, violations with their counter-examples, inconclusive keys,
//! and a human-readable rendering (times in ms since the run started, 3 decimals).

use std::fmt;

use super::history::{Op, OpKind, Outcome, Value};

/// Which property a violation breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViolationKind {
    /// No linearization of the key's operations exists (or its reads need two initial values).
    Linearizability,
    /// A `stale` read returned a value older than the staleness it reported allows, or one from
    /// the future.
    Staleness,
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ViolationKind::Linearizability => "linearizability",
            ViolationKind::Staleness => "staleness",
        })
    }
}

/// One violation, with the operations that show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The key.
    pub key: String,
    /// The property broken.
    pub kind: ViolationKind,
    /// What is wrong, in words.
    pub message: String,
    /// The counter-example, sorted by invocation time: for linearizability a minimal subset of
    /// the key's operations that is itself not linearizable; for staleness the read and the
    /// writes that convict it.
    pub ops: Vec<Op>,
}

/// The result of checking a history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Keys with at least one checked operation.
    pub keys: usize,
    /// Checked operations: `reads + writes`.
    pub ops: usize,
    /// Checked reads (completed reads, stale ones included).
    pub reads: usize,
    /// Checked writes (updates, inserts, deletes that did or may have taken effect).
    pub writes: usize,
    /// Writes with an unknown outcome (included in `writes`).
    pub unknown: usize,
    /// Reads served as `stale` (included in `reads`), checked for bounded staleness.
    pub stale_reads: usize,
    /// Rows the checker does not model: op kinds `scan`, `readmodifywrite` and `batchread`,
    /// and the load phase's rows.
    pub skipped: usize,
    /// Operations dropped because they definitely did not take effect (failed reads, writes
    /// that were `unavailable` or `not_leader`).
    pub failed: usize,
    /// Violations found, sorted by key.
    pub violations: Vec<Violation>,
    /// Keys whose search ran out of budget: neither passed nor failed. Sorted.
    pub inconclusive: Vec<String>,
}

impl CheckReport {
    /// Whether no violation was found (inconclusive keys do not fail a check, but are listed).
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = [
            ("keys", self.keys),
            ("checked ops", self.ops),
            ("reads", self.reads),
            ("writes", self.writes),
            ("unknown-outcome writes", self.unknown),
            ("stale reads", self.stale_reads),
            ("skipped rows", self.skipped),
            ("failed ops (dropped)", self.failed),
        ];
        for (label, count) in rows {
            writeln!(f, "{:<24}{count}", format!("{label}:"))?;
        }
        write!(f, "{:<24}{}", "inconclusive keys:", self.inconclusive.len())?;
        if !self.inconclusive.is_empty() {
            write!(f, " (search budget exceeded: {})", self.inconclusive.join(", "))?;
        }
        writeln!(f)?;
        if self.violations.is_empty() {
            return writeln!(f, "linearizable: yes");
        }
        writeln!(f, "linearizable: no ({} violations)", self.violations.len())?;
        for (n, violation) in self.violations.iter().enumerate() {
            write!(f, "\nviolation {}: {violation}", n + 1)?;
        }
        Ok(())
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "key `{}` ({}): {}", self.key, self.kind, self.message)?;
        for op in &self.ops {
            writeln!(f, "  {op}")?;
        }
        Ok(())
    }
}

/// Formats ns since run start as ms with 3 decimals.
pub(crate) fn ms(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000_000, ns % 1_000_000 / 1_000)
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unknown_value = self.kind.is_write() && self.kind != OpKind::Delete;
        let value = if unknown_value && self.value == Value::Absent {
            "-".to_string()
        } else {
            self.value.to_string()
        };
        write!(
            f,
            "line {:<6} thread {:<3} {:<6} {:<16} invoke {:>12} ms  ",
            self.line,
            self.thread,
            self.kind.name(),
            value,
            ms(self.invoke_ns)
        )?;
        match self.outcome {
            Outcome::Ok => write!(f, "complete {:>12} ms  {}", ms(self.return_ns), self.status)?,
            Outcome::Unknown => write!(
                f,
                "returned {:>12} ms  {} (outcome unknown: may take effect any time after invoke)",
                ms(self.return_ns),
                self.status
            )?,
            Outcome::Failed => write!(
                f,
                "returned {:>12} ms  {} (definitely failed)",
                ms(self.return_ns),
                self.status
            )?,
        }
        if !self.node.is_empty() {
            write!(f, "  node {}", self.node)?;
        }
        if !self.served_as.is_empty() {
            write!(f, "  served_as {}", self.served_as)?;
        }
        if let Some(lag) = self.index_lag {
            write!(f, "  index_lag {lag}")?;
        }
        if let Some(age) = self.age_ms {
            write!(f, "  age {age} ms")?;
        }
        Ok(())
    }
}
