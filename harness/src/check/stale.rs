//! The bounded-staleness check for reads served as `stale`.
//!
//! A stale read does not promise linearizability, only that it reflects the store's state as of
//! some point no older than its reported age. A read `R` that observed `v` with reported age
//! `a` ms claims to reflect a state no older than `bound = R.invoke − a` (saturating at the run
//! start; the store rounds ages up, so the bound is conservative). A *source* of `v` is a write
//! of `v` that did or may have taken effect (for `nil`: a delete), or the key's initial value
//! when it is `v`. `R` passes if some source `S` satisfies both:
//!
//! 1. not from the future: `S.invoke ≤ R.complete` (the initial value is at −∞);
//! 2. not overwritten before the bound: no write `W'` with a known completion definitely
//!    follows `S` (`S.complete < W'.invoke`; every write follows the initial value) and
//!    definitely completed before the bound (`W'.complete < bound`).
//!
//! Otherwise `R` is a violation, reported with the write that convicts it. A read of a value
//! that has no source at all (written only by a definitely failed write) is a violation too. A
//! stale read without a reported age is only checked for (1).
//!
//! The rule compares each read with real-time order only, so it is sound (a correct store never
//! fails it: if `v` was the register's value at some instant ≥ `bound`, the write it came from
//! cannot have been overwritten by a write that completed before `bound`) and weaker than
//! linearizability: it does not relate stale reads to each other (monotonic reads are not
//! checked).

use super::history::{Op, OpKind, Value};
use super::report::{ms, Violation, ViolationKind};

/// Checks one key's stale reads against its writes (those that did or may have taken effect)
/// and its initial value; `failed` are the key's definitely failed writes (for messages).
pub(crate) fn check(
    key: &str,
    reads: &[&Op],
    writes: &[&Op],
    failed: &[&Op],
    initial: Value,
) -> Vec<Violation> {
    let overwrites = Overwrites::new(writes);
    reads
        .iter()
        .filter_map(|read| check_read(key, read, writes, failed, initial, &overwrites))
        .collect()
}

/// Finds, for a time `t`, the write with a known completion invoked after `t` that completed
/// first.
struct Overwrites<'a> {
    /// Definite writes sorted by invocation.
    by_invoke: Vec<&'a Op>,
    /// `earliest[k]`: the write among `by_invoke[k..]` that completed first.
    earliest: Vec<&'a Op>,
}

impl<'a> Overwrites<'a> {
    fn new(writes: &[&'a Op]) -> Overwrites<'a> {
        let mut by_invoke: Vec<&Op> =
            writes.iter().copied().filter(|w| w.complete_ns().is_some()).collect();
        by_invoke.sort_by_key(|w| (w.invoke_ns, w.line));
        let mut earliest: Vec<&Op> = Vec::with_capacity(by_invoke.len());
        for &w in by_invoke.iter().rev() {
            let best = match earliest.last() {
                Some(&e) if e.return_ns <= w.return_ns => e,
                _ => w,
            };
            earliest.push(best);
        }
        earliest.reverse();
        Overwrites { by_invoke, earliest }
    }

    /// The earliest-completing definite write invoked after `after` (`None`: any write), if it
    /// completed before `bound`.
    fn before(&self, after: Option<u64>, bound: u64) -> Option<&'a Op> {
        let start = after.map_or(0, |t| self.by_invoke.partition_point(|w| w.invoke_ns <= t));
        self.earliest.get(start).copied().filter(|w| w.return_ns < bound)
    }
}

/// Checks one stale read (see the module docs).
fn check_read(
    key: &str,
    read: &Op,
    writes: &[&Op],
    failed: &[&Op],
    initial: Value,
    overwrites: &Overwrites<'_>,
) -> Option<Violation> {
    let v = read.value;
    let bound =
        read.age_ms.map_or(0, |a| read.invoke_ns.saturating_sub(a.saturating_mul(1_000_000)));
    let violation = |message: String, mut ops: Vec<Op>| {
        ops.sort_by_key(|o| (o.invoke_ns, o.line));
        ops.dedup();
        Some(Violation { key: key.to_string(), kind: ViolationKind::Staleness, message, ops })
    };
    let sources: Vec<&Op> = writes.iter().copied().filter(|w| w.value == v).collect();
    // Evidence against the first source that fails, for the message.
    let mut evidence: Option<(String, Vec<Op>)> = None;
    // A key's state before its first traced write: its initial value, or, for a pre-loaded key,
    // nil before the load reached this replica (the load is not traced; it ended before the run).
    if v == initial || v == Value::Absent {
        match overwrites.before(None, bound) {
            None => return None,
            Some(w) => {
                evidence = Some((
                    format!(
                        "stale read observed {v}, the key's value before any traced write, but the write at \
                         line {} had completed at {} ms, before the read's staleness bound {} ms \
                         (invoke − age)",
                        w.line,
                        ms(w.return_ns),
                        ms(bound)
                    ),
                    vec![read.clone(), w.clone()],
                ));
            }
        }
    }
    for source in &sources {
        if source.invoke_ns > read.return_ns {
            evidence.get_or_insert_with(|| {
                (
                    format!(
                        "stale read from the future: it completed at {} ms but observed {v}, \
                         written by the write at line {} invoked at {} ms",
                        ms(read.return_ns),
                        source.line,
                        ms(source.invoke_ns)
                    ),
                    vec![read.clone(), (*source).clone()],
                )
            });
            continue;
        }
        // A source with an unknown outcome never definitely completed: nothing follows it.
        let overwriter = source.complete_ns().and_then(|c| overwrites.before(Some(c), bound));
        match overwriter {
            None => return None,
            Some(w) => {
                evidence.get_or_insert_with(|| {
                    (
                        format!(
                            "stale read observed {v}, but the write at line {} overwrote it and \
                             completed at {} ms, before the read's staleness bound {} ms \
                             (invoke − age)",
                            w.line,
                            ms(w.return_ns),
                            ms(bound)
                        ),
                        vec![read.clone(), (*source).clone(), w.clone()],
                    )
                });
            }
        }
    }
    if let Some((message, ops)) = evidence {
        return violation(message, ops);
    }
    // No source at all.
    let mut ops = vec![read.clone()];
    let mut message = format!("stale read observed {v}, which no write that took effect wrote");
    let failed_writer = failed.iter().find(|w| w.kind != OpKind::Delete && w.value == v);
    if let Some(w) = failed_writer {
        message.push_str(&format!(
            " (the write at line {} definitely failed: status {})",
            w.line, w.status
        ));
        ops.push((*w).clone());
    } else if v == Value::Absent {
        message.push_str(" (no delete, and the key's initial value is not nil)");
    }
    violation(message, ops)
}
