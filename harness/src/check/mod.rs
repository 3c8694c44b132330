//! A history checker in the style of Jepsen's Knossos and Porcupine: reads a trace written in
//! checking mode and decides whether the store behaved as a linearizable key-value store, with
//! bounded staleness for reads served as `stale`.
//!
//! # Model
//!
//! Each key is a register, checked on its own (linearizability is compositional: a history is
//! linearizable iff each key's sub-history is). `update` and `insert` write their value,
//! `delete` writes "absent" (`nil`), `read` observes a value or `nil`; other op kinds are
//! counted and skipped. Every write writes a unique value. Operations take effect atomically
//! at some instant between invocation and completion:
//!
//! * A write that failed definitely (`unavailable`, `not_leader`) did not happen and is
//!   dropped; a read that failed observed nothing and is dropped.
//! * A write with any other failure (`timeout`, `indeterminate`, …) has an *unknown outcome*:
//!   its completion is taken as +∞, so it may take effect any time after its invocation, or
//!   never (linearized after everything else).
//! * Reads served as `stale` are left out of the linearizability search and get the weaker
//!   bounded-staleness check (see "Stale reads" below) instead; writes always take part.
//!
//! # Initial values
//!
//! Keys may have been loaded before the traced run, with values no traced write wrote. A read
//! value that no write of the key wrote (a *foreign* value) must therefore be the key's
//! pre-loaded value. With exactly one foreign value the register starts as it; with two or
//! more the key is a violation; with none it starts as absent. Starting as absent never causes
//! a false violation for a key loaded with a value nobody read: a linearization in which no
//! read observes the initial value is valid whatever that value is, and one in which a read
//! observes it would make that value foreign. The price: a read of `nil` before any write of a
//! key that was in fact loaded goes unnoticed (the trace does not say which keys were loaded).
//!
//! # The search
//!
//! Wing & Gong's search with Lowe's just-in-time linearization and memoisation of
//! (linearized set, value) configurations, as in Porcupine, plus sound reductions that keep
//! concurrent reads of one value, and writes nobody reads, from multiplying the search (forced
//! moves, merging values no remaining read observes, cutting off values that can no longer be
//! read); see `linearizable.rs`. Each key has a budget of memo entries ([`CheckOptions`]): a key
//! that exhausts it is *inconclusive*, listed in the report but failing nothing. Keys are
//! checked in parallel on a rayon pool of [`CheckOptions::threads`] threads, biggest key first.
//!
//! # Counter-examples
//!
//! A non-linearizable key is shrunk by delta debugging to a small subset of its operations
//! that is itself not linearizable (re-checked exactly before it is reported). Dropping a
//! write always drops the reads of its value too, so the subset never blames a read for a
//! write that was merely left out, and its failure proves the whole key's.
//!
//! # Stale reads
//!
//! A read served as `stale` that observed `v` with reported age `a` claims to reflect a state
//! no older than `invoke − a`. It is a violation if `v` comes from the future (its write was
//! invoked after the read completed) or if every write of `v` (and the initial value, when it
//! is `v`) had definitely been overwritten by a write that definitely completed before
//! `invoke − a`. This compares each read with real-time order only: sound (a correct store
//! never fails it) and weaker than linearizability (stale reads are not related to each other).

mod error;
mod history;
mod key;
mod linearizable;
mod report;
mod stale;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

pub use error::CheckError;
pub use history::{History, Op, OpKind, Outcome, Value};
pub use report::{CheckReport, Violation, ViolationKind};

/// How hard the checker may work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Memo entries one key's search may use (its shrinking gets as many again) before the
    /// key is reported inconclusive. An entry costs about 20–40 bytes, per checking thread.
    pub max_states_per_key: usize,
    /// Threads checking keys in parallel; 0 means one per available CPU.
    pub threads: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { max_states_per_key: 5_000_000, threads: 0 }
    }
}

/// Reads the trace at `path` and checks it.
///
/// # Errors
///
/// [`CheckError::Io`] if the file cannot be read, [`CheckError::MissingColumn`] or
/// [`CheckError::Trace`] if it is malformed. A history that is not linearizable is not an
/// error: see [`CheckReport::is_ok`].
pub fn check_trace(path: &Path, opts: &CheckOptions) -> Result<CheckReport, CheckError> {
    let file = std::fs::File::open(path)
        .map_err(|source| CheckError::Io { path: path.to_path_buf(), source })?;
    let history = History::parse(std::io::BufReader::new(file), &path.display().to_string())?;
    Ok(check_history(history, opts))
}

/// Checks a parsed history (see the module docs for the rules).
pub fn check_history(history: History, opts: &CheckOptions) -> CheckReport {
    let mut report = CheckReport { skipped: history.skipped, ..CheckReport::default() };
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in &history.ops {
        by_key.entry(op.key.as_str()).or_default().push(op);
        if !op.is_checked() {
            report.failed += 1;
        } else if op.kind.is_write() {
            report.writes += 1;
            report.unknown += usize::from(op.outcome == Outcome::Unknown);
        } else {
            report.reads += 1;
            report.stale_reads += usize::from(op.is_stale_read());
        }
    }
    report.ops = report.reads + report.writes;
    let keys: Vec<(&str, Vec<&Op>)> =
        by_key.into_iter().filter(|(_, ops)| ops.iter().any(|o| o.is_checked())).collect();
    report.keys = keys.len();

    // Biggest keys first, so one huge key does not start last; each key is a task of its own
    // for rayon's work stealing.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(keys[i].1.len()));
    let check = |&i: &usize| {
        let (key, ops) = &keys[i];
        (i, key::check(key, ops, opts.max_states_per_key))
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .thread_name(|i| format!("kvlab-check-{i}"))
        .build();
    let mut outcomes: Vec<(usize, key::KeyOutcome)> = match pool {
        Ok(pool) if opts.threads != 1 => {
            pool.install(|| order.par_iter().with_max_len(1).map(check).collect())
        }
        // One thread, or no pool to be had: the same work on this thread.
        _ => order.iter().map(check).collect(),
    };
    outcomes.sort_by_key(|(i, _)| *i);
    for (i, outcome) in outcomes {
        if outcome.inconclusive {
            report.inconclusive.push(keys[i].0.to_string());
        }
        report.violations.extend(outcome.violations);
    }
    report
}
