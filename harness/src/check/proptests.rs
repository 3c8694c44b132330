//! Property tests: histories linearizable by construction pass, a guaranteed stale read fails,
//! and no input makes the parser (or the checker after it) panic.
//!
//! Histories come from a seeded simulation (the seed is printed by proptest on failure): client
//! threads run operations against a real register, each taking effect at a distinct instant
//! inside its interval; unknown-outcome writes take effect inside their interval, later, or
//! never; stale reads observe the register as of an instant no older than their reported age.

use std::collections::HashMap;

use proptest::prelude::*;

use super::history::{History, Op, OpKind, Outcome, Value};
use super::key::initial_value;
use super::linearizable::{self, Outcome as Search};
use super::tests::{reads_have_writers, to_csv};
use super::{check_history, CheckOptions, ViolationKind};

/// A small seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True with probability `percent`%.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Simulates `threads` clients issuing `count` operations on `keys` keys; linearizable by
/// construction.
pub(super) fn simulate(seed: u64, threads: u64, keys: u64, count: usize) -> Vec<Op> {
    let mut rng = Rng(seed);
    let mut ops: Vec<Op> = Vec::new();
    // Per key: the register's changes as (instant, value), starting with the initial value.
    let mut changes: HashMap<u64, Vec<(u64, Value)>> = (0..keys)
        .map(|k| {
            let initial =
                if rng.chance(40) { Value::Present(0xf000_0000 + k) } else { Value::Absent };
            (k, vec![(0, initial)])
        })
        .collect();
    let mut free_at = vec![0u64; threads as usize];
    // Unknown-outcome writes that will take effect at a later instant: (key, value).
    let mut pending: Vec<(u64, Value)> = Vec::new();
    let mut next_value = 1u64;
    let mut now = 1_000u64;
    while ops.len() < count {
        now += rng.range(1, 100_000);
        if !pending.is_empty() && rng.chance(20) {
            let (key, value) = pending.swap_remove((rng.next() % pending.len() as u64) as usize);
            changes.entry(key).or_default().push((now, value));
            continue;
        }
        let idle: Vec<usize> = (0..free_at.len()).filter(|&t| free_at[t] < now).collect();
        if idle.is_empty() {
            continue;
        }
        let thread = idle[(rng.next() % idle.len() as u64) as usize];
        let key = rng.next() % keys;
        let invoke = rng.range(free_at[thread] + 1, now);
        let complete = now + rng.range(0, 2_000_000);
        free_at[thread] = complete;
        let history = changes.entry(key).or_default();
        let current = history.last().map_or(Value::Absent, |c| c.1);
        let roll = rng.next() % 100;
        let (kind, value, status) = match roll {
            0..=34 => (OpKind::Read, current, "ok"),
            35..=44 => {
                // As of an instant up to 3 ms ago (not before the run).
                let at = now.saturating_sub(rng.range(0, 3_000_000));
                let seen = history.iter().rev().find(|c| c.0 <= at).map_or(Value::Absent, |c| c.1);
                let age = invoke.saturating_sub(at).div_ceil(1_000_000);
                let status = if seen == Value::Absent { "not_found" } else { "ok" };
                ops.push(make(thread, key, OpKind::Read, seen, status, invoke, complete));
                if let Some(op) = ops.last_mut() {
                    op.served_as = "stale".to_string();
                    op.age_ms = Some(age);
                    op.index_lag = Some(rng.range(0, 5));
                }
                continue;
            }
            45..=74 => (OpKind::Update, Value::Present(next_value), "ok"),
            75..=81 => (OpKind::Delete, Value::Absent, "ok"),
            82..=89 => (OpKind::Insert, Value::Present(next_value), "timeout"),
            90..=94 => (OpKind::Update, Value::Present(next_value), "unavailable"),
            _ => (OpKind::Read, Value::Absent, "timeout"),
        };
        next_value += 1;
        match status {
            "ok" if kind.is_write() => history.push((now, value)),
            "timeout" if kind.is_write() => match rng.next() % 3 {
                0 => history.push((now, value)),
                1 => pending.push((key, value)),
                _ => {}
            },
            _ => {}
        }
        let status = if kind == OpKind::Read && status == "ok" && value == Value::Absent {
            "not_found"
        } else {
            status
        };
        ops.push(make(thread, key, kind, value, status, invoke, complete));
        if let Some(op) = ops.last_mut() {
            op.served_as =
                ["", "leader", "lease", "follower"][(rng.next() % 4) as usize].to_string();
        }
    }
    // The trace groups rows by thread.
    ops.sort_by_key(|o| (o.thread, o.invoke_ns));
    for (line, op) in (2u64..).zip(ops.iter_mut()) {
        op.line = line;
    }
    ops
}

fn make(
    thread: usize,
    key: u64,
    kind: OpKind,
    value: Value,
    status: &str,
    invoke: u64,
    ret: u64,
) -> Op {
    let outcome = match (kind, status) {
        (_, "ok") | (OpKind::Read, "not_found") => Outcome::Ok,
        (OpKind::Read, _) | (_, "unavailable") => Outcome::Failed,
        _ => Outcome::Unknown,
    };
    Op {
        line: 0,
        thread: thread as u64,
        kind,
        key: format!("user{key}"),
        invoke_ns: invoke,
        return_ns: ret,
        outcome,
        value,
        status: status.to_string(),
        node: (1 + thread % 3).to_string(),
        served_as: String::new(),
        index_lag: None,
        age_ms: None,
    }
}

/// Mutates one linearizable read to return a value that was definitely overwritten before it
/// started: a completed write `W1` of `v`, a completed write `W2` of another value invoked after
/// `W1` completed and completed before the read was invoked. Returns the mutated key, if any
/// such triple exists.
fn mutate(ops: &mut [Op]) -> Option<String> {
    let done = |o: &Op| o.kind.is_write() && o.outcome == Outcome::Ok;
    for r in 0..ops.len() {
        let read = &ops[r];
        if read.kind != OpKind::Read || read.outcome != Outcome::Ok || read.is_stale_read() {
            continue;
        }
        for w1 in ops.iter().filter(|w| done(w) && w.key == read.key) {
            let Value::Present(_) = w1.value else { continue };
            let overwritten = ops.iter().any(|w2| {
                done(w2)
                    && w2.key == read.key
                    && w2.value != w1.value
                    && w2.invoke_ns > w1.return_ns
                    && w2.return_ns < read.invoke_ns
            });
            if overwritten && w1.value != read.value {
                let (key, value) = (read.key.clone(), w1.value);
                ops[r].value = value;
                ops[r].status = "ok".to_string();
                return Some(key);
            }
        }
    }
    None
}

/// Cases per property: `KVLAB_FUZZ_CASES` raises it for long runs (`make check`).
fn fuzz_cases() -> u32 {
    std::env::var("KVLAB_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(500)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases()))]

    #[test]
    fn linearizable_histories_pass(
        seed in any::<u64>(), threads in 1u64..=8, keys in 1u64..=3, count in 1usize..=80,
    ) {
        let ops = simulate(seed, threads, keys, count);
        // Through the trace format and back.
        let history = History::parse(to_csv(&ops).as_bytes(), "simulated")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&history.ops, &ops);
        let report = check_history(history, &CheckOptions { threads: 2, ..CheckOptions::default() });
        prop_assert!(report.is_ok(), "{}", report);
        prop_assert!(report.inconclusive.is_empty(), "{}", report);
    }

    #[test]
    fn a_definitely_overwritten_read_fails(
        seed in any::<u64>(), threads in 2u64..=8, count in 20usize..=80,
    ) {
        let mut ops = simulate(seed, threads, 2, count);
        let Some(key) = mutate(&mut ops) else { return Ok(()) };
        let report = check_history(History { ops: ops.clone(), skipped: 0 }, &CheckOptions::default());
        let bad: Vec<_> = report.violations.iter()
            .filter(|v| v.key == key && v.kind == ViolationKind::Linearizability)
            .collect();
        prop_assert_eq!(bad.len(), 1, "{}", report);
        // The counter-example is itself not linearizable from the key's initial value.
        let all: Vec<&Op> = ops.iter().filter(|o| o.key == key).collect();
        let checked: Vec<&Op> = all.iter().copied().filter(|o| o.is_checked()).collect();
        let initial = initial_value(&all, &checked).map_err(|_| TestCaseError::fail("two initial values"))?;
        let example: Vec<&Op> = bad[0].ops.iter().collect();
        prop_assert_eq!(linearizable::search_exact(&example, initial, 1_000_000), Search::NotLinearizable);
        prop_assert!(reads_have_writers(&example, initial), "{}", report);
    }

    #[test]
    fn search_agrees_with_brute_force((ops, initial) in small_history()) {
        let refs: Vec<&Op> = ops.iter().collect();
        let expected = brute_force(&refs, initial);
        let exact = linearizable::search_exact(&refs, initial, 1_000_000);
        prop_assert_eq!(exact == Search::Linearizable, expected, "exact search: {:?}", exact);
        match linearizable::check(&refs, initial, 1_000_000) {
            linearizable::Verdict::Linearizable => prop_assert!(expected),
            linearizable::Verdict::Violation(example) => {
                prop_assert!(!expected);
                let example: Vec<&Op> = example.iter().map(|&i| refs[i]).collect();
                prop_assert!(!brute_force(&example, initial), "counter-example is linearizable");
            }
            linearizable::Verdict::Inconclusive => prop_assert!(false, "inconclusive"),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(history) = History::parse(bytes.as_slice(), "bytes") {
            let _ = check_history(history, &CheckOptions { threads: 1, max_states_per_key: 10_000 });
        }
    }

    #[test]
    fn arbitrary_rows_never_panic(rows in proptest::collection::vec(row(), 0..12)) {
        let mut csv = String::from(
            "thread,op,key,start_ns,latency_ns,intended_latency_ns,status,node,served_as,value,\
             index_lag,age_ms\n");
        for row in rows {
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
        if let Ok(history) = History::parse(csv.as_bytes(), "rows") {
            let _ = check_history(history, &CheckOptions { threads: 1, max_states_per_key: 10_000 });
        }
    }
}

/// Whether some order of `ops` respecting real time makes every read see the register's value
/// (unknown-outcome writes may be left out): the definition, by exhaustive search.
fn brute_force(ops: &[&Op], initial: Value) -> bool {
    fn go(ops: &[&Op], done: &mut [bool], state: Value) -> bool {
        if ops.iter().zip(done.iter()).all(|(o, &d)| d || o.outcome == Outcome::Unknown) {
            return true;
        }
        for i in 0..ops.len() {
            let must_wait = (0..ops.len())
                .any(|j| !done[j] && ops[j].complete_ns().is_some_and(|c| c < ops[i].invoke_ns));
            if done[i] || must_wait || (ops[i].kind == OpKind::Read && ops[i].value != state) {
                continue;
            }
            done[i] = true;
            let next = if ops[i].kind == OpKind::Read { state } else { ops[i].value };
            if go(ops, done, next) {
                return true;
            }
            done[i] = false;
        }
        false
    }
    go(ops, &mut vec![false; ops.len()], initial)
}

/// A small arbitrary history on one key: values from a tiny set (repeats allowed), any
/// intervals, some unknown outcomes.
fn small_history() -> impl Strategy<Value = (Vec<Op>, Value)> {
    let value = prop_oneof![Just(Value::Absent), (1u64..=3).prop_map(Value::Present)];
    let op = (0u8..4, 1u64..=3, value.clone(), 0u64..20, 0u64..10);
    (proptest::collection::vec(op, 1..=7), value).prop_map(|(ops, initial)| {
        let ops = ops
            .into_iter()
            .enumerate()
            .map(|(i, (kind, v, seen, start, len))| {
                let (kind, value, status) = match kind {
                    0 => (OpKind::Read, seen, "ok"),
                    1 => (OpKind::Update, Value::Present(v), "ok"),
                    2 => (OpKind::Delete, Value::Absent, "ok"),
                    _ => (OpKind::Insert, Value::Present(v), "timeout"),
                };
                make(i, 0, kind, value, status, start, start + len)
            })
            .collect();
        (ops, initial)
    })
}

/// A CSV-ish row: mostly plausible fields, sometimes junk, sometimes the wrong field count.
fn row() -> impl Strategy<Value = Vec<String>> {
    let field = prop_oneof![
        Just(String::new()),
        "[0-9]{1,3}",
        "[0-9a-f]{1,17}",
        prop_oneof![Just("read"), Just("update"), Just("insert"), Just("delete"), Just("scan")]
            .prop_map(String::from),
        prop_oneof![
            Just("ok"),
            Just("not_found"),
            Just("timeout"),
            Just("unavailable"),
            Just("nil")
        ]
        .prop_map(String::from),
        prop_oneof![Just("stale"), Just("leader"), Just("k"), Just("18446744073709551615")]
            .prop_map(String::from),
        "\\PC{0,4}",
    ];
    proptest::collection::vec(field, 10..=13)
}

/// A few thousand ops on one key from 8 to 64 threads, correct and with one bad read (run
/// with `--ignored --nocapture` to see the times).
#[test]
#[ignore]
fn large_keys_are_checked_quickly() {
    for seed in 0..10 {
        for threads in [8, 32, 64] {
            let mut ops = simulate(seed, threads, 1, 4_000);
            let start = std::time::Instant::now();
            let report =
                check_history(History { ops: ops.clone(), skipped: 0 }, &CheckOptions::default());
            let correct = start.elapsed();
            assert!(report.is_ok() && report.inconclusive.is_empty(), "seed {seed}: {report}");
            assert!(mutate(&mut ops).is_some());
            let start = std::time::Instant::now();
            let report = check_history(History { ops, skipped: 0 }, &CheckOptions::default());
            assert_eq!(report.violations.len(), 1, "seed {seed}: {report}");
            eprintln!(
                "seed {seed}, {threads} threads: correct {correct:?}, one bad read {:?} \
                 (counter-example of {} ops)",
                start.elapsed(),
                report.violations[0].ops.len()
            );
        }
    }
}
