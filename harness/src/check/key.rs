//! One key's check: its initial value, the linearizability search over its writes and
//! linearizable reads, and the staleness check of its stale reads.
//!
//! The initial value rule (see the module docs of [`super`] for why it is sound):
//!
//! * a *foreign* value is one that a read observed but no write of the key (not even a failed
//!   one) wrote; writes write unique values, so a foreign value can only be the value the key
//!   was loaded with before the traced run;
//! * two or more foreign values: violation (a key has one initial value), reported with the
//!   first read of each of two of them, and the key is not checked further;
//! * exactly one: the register starts as that value;
//! * none: the register starts as absent (`nil`).

use std::collections::{BTreeMap, HashSet};

use super::history::{Op, OpKind, Outcome, Value};
use super::linearizable::{self, Verdict};
use super::report::{Violation, ViolationKind};
use super::stale;

/// What checking one key found.
#[derive(Debug, Default)]
pub(crate) struct KeyOutcome {
    /// Violations, linearizability first, then stale reads in trace order.
    pub violations: Vec<Violation>,
    /// Whether the linearizability search ran out of budget.
    pub inconclusive: bool,
}

/// Checks one key: `ops` are all its operations, failed ones included.
pub(crate) fn check(key: &str, ops: &[&Op], budget: usize) -> KeyOutcome {
    let mut outcome = KeyOutcome::default();
    let mut checked: Vec<&Op> = ops.iter().copied().filter(|o| o.is_checked()).collect();
    checked.sort_by_key(|o| (o.invoke_ns, o.line));
    let failed: Vec<&Op> =
        ops.iter().copied().filter(|o| o.kind.is_write() && !o.is_checked()).collect();
    let initial = match initial_value(ops, &checked) {
        Ok(initial) => initial,
        Err((a, b)) => {
            outcome.violations.push(Violation {
                key: key.to_string(),
                kind: ViolationKind::Linearizability,
                message: format!(
                    "reads observed two values that no write wrote, {} and {}: at most one can \
                     be the key's pre-loaded value",
                    a.value, b.value
                ),
                ops: vec![a.clone(), b.clone()],
            });
            return outcome;
        }
    };
    let linearizable: Vec<&Op> = checked.iter().copied().filter(|o| !o.is_stale_read()).collect();
    match linearizable::check(&linearizable, initial, budget) {
        Verdict::Linearizable => {}
        Verdict::Inconclusive => outcome.inconclusive = true,
        Verdict::Violation(indices) => {
            let example: Vec<&Op> = indices.iter().map(|&i| linearizable[i]).collect();
            let message = linearizability_message(&example, &checked, &failed, initial);
            outcome.violations.push(Violation {
                key: key.to_string(),
                kind: ViolationKind::Linearizability,
                message,
                ops: example.into_iter().cloned().collect(),
            });
        }
    }
    let writes: Vec<&Op> = checked.iter().copied().filter(|o| o.kind.is_write()).collect();
    let mut stale_reads: Vec<&Op> = checked.iter().copied().filter(|o| o.is_stale_read()).collect();
    stale_reads.sort_by_key(|o| o.line);
    outcome.violations.extend(stale::check(key, &stale_reads, &writes, &failed, initial));
    outcome
}

/// The key's initial value, or two reads of different foreign values.
pub(crate) fn initial_value<'a>(
    all: &[&Op],
    checked: &[&'a Op],
) -> Result<Value, (&'a Op, &'a Op)> {
    let written: HashSet<Value> =
        all.iter().filter(|o| o.kind.is_write()).map(|o| o.value).collect();
    let mut foreign: BTreeMap<u64, &Op> = BTreeMap::new();
    for &op in checked {
        if let (OpKind::Read, Value::Present(v)) = (op.kind, op.value) {
            if !written.contains(&op.value) {
                // `checked` is sorted by invocation: keep each value's first read.
                foreign.entry(v).or_insert(op);
            }
        }
    }
    let mut reads = foreign.values().copied();
    match (reads.next(), reads.next()) {
        (None, _) => Ok(Value::Absent),
        (Some(read), None) => Ok(read.value),
        (Some(a), Some(b)) => Err((a, b)),
    }
}

/// Explains a linearizability counter-example.
fn linearizability_message(
    example: &[&Op],
    checked: &[&Op],
    failed: &[&Op],
    initial: Value,
) -> String {
    let mut message = match example.len() {
        1 => "this operation cannot be linearized".to_string(),
        n => format!("no linearization of these {n} operations exists"),
    };
    message.push_str("; the key starts as ");
    match initial {
        Value::Absent => message.push_str("nil"),
        Value::Present(_) => message.push_str(&format!(
            "{initial} (read but never written: taken as its pre-loaded value)"
        )),
    }
    let sourced: HashSet<Value> = checked
        .iter()
        .filter(|o| o.kind.is_write())
        .map(|o| o.value)
        .chain(std::iter::once(initial))
        .collect();
    for read in example.iter().filter(|o| o.kind == OpKind::Read && !sourced.contains(&o.value)) {
        let writer = failed.iter().find(|w| {
            w.kind != OpKind::Delete && w.value == read.value && w.outcome == Outcome::Failed
        });
        match writer {
            Some(w) => message.push_str(&format!(
                "; the read at line {} observed {}, which only the definitely failed write at \
                 line {} (status {}) wrote",
                read.line, read.value, w.line, w.status
            )),
            None if read.value == Value::Absent => message.push_str(&format!(
                "; the read at line {} observed nil, but no delete took effect",
                read.line
            )),
            None => message.push_str(&format!(
                "; the read at line {} observed {}, which no write that took effect wrote",
                read.line, read.value
            )),
        }
    }
    message
}
