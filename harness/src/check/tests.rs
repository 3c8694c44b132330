//! Hand-written histories, the trace parser, and helpers shared with `proptests.rs`.
//!
//! Times in the builders are in ms since run start.

use std::io::Write as _;

use super::history::{History, Op, OpKind, Outcome, Value};
use super::linearizable::{self, Outcome as Search};
use super::{check_history, check_trace, CheckError, CheckOptions, CheckReport, ViolationKind};

type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// Builds histories by hand: one method per kind of operation.
#[derive(Default)]
pub(super) struct Builder {
    pub ops: Vec<Op>,
    key: String,
}

impl Builder {
    pub fn new() -> Builder {
        Builder { ops: Vec::new(), key: "k".to_string() }
    }

    /// Following ops go to `key`.
    pub fn key(&mut self, key: &str) -> &mut Builder {
        self.key = key.to_string();
        self
    }

    fn push(
        &mut self,
        thread: u64,
        kind: OpKind,
        value: Value,
        start: f64,
        end: f64,
        status: &str,
    ) {
        let ns = |ms: f64| (ms * 1e6).round() as u64;
        let outcome = match (kind, status) {
            (_, "ok") | (OpKind::Read, "not_found") => Outcome::Ok,
            (OpKind::Read, _) | (_, "unavailable" | "not_leader") => Outcome::Failed,
            _ => Outcome::Unknown,
        };
        self.ops.push(Op {
            line: self.ops.len() as u64 + 2,
            thread,
            kind,
            key: self.key.clone(),
            invoke_ns: ns(start),
            return_ns: ns(end),
            outcome,
            value,
            status: status.to_string(),
            node: "1".to_string(),
            served_as: String::new(),
            index_lag: None,
            age_ms: None,
        });
    }

    /// A write of `v` that completed.
    pub fn w(&mut self, thread: u64, v: u64, start: f64, end: f64) -> &mut Builder {
        self.push(thread, OpKind::Update, Value::Present(v), start, end, "ok");
        self
    }

    /// A write of `v` with an unknown outcome.
    pub fn w_unknown(&mut self, thread: u64, v: u64, start: f64, end: f64) -> &mut Builder {
        self.push(thread, OpKind::Update, Value::Present(v), start, end, "timeout");
        self
    }

    /// A write of `v` that definitely failed.
    pub fn w_failed(&mut self, thread: u64, v: u64, start: f64, end: f64) -> &mut Builder {
        self.push(thread, OpKind::Insert, Value::Present(v), start, end, "unavailable");
        self
    }

    /// A delete that completed.
    pub fn del(&mut self, thread: u64, start: f64, end: f64) -> &mut Builder {
        self.push(thread, OpKind::Delete, Value::Absent, start, end, "ok");
        self
    }

    /// A linearizable read that observed `v` (`None`: not found).
    pub fn r(&mut self, thread: u64, v: Option<u64>, start: f64, end: f64) -> &mut Builder {
        let (value, status) = match v {
            Some(v) => (Value::Present(v), "ok"),
            None => (Value::Absent, "not_found"),
        };
        self.push(thread, OpKind::Read, value, start, end, status);
        self
    }

    /// A stale read that observed `v` and reported age `age_ms`.
    pub fn stale(
        &mut self,
        thread: u64,
        v: u64,
        start: f64,
        end: f64,
        age_ms: u64,
    ) -> &mut Builder {
        self.push(thread, OpKind::Read, Value::Present(v), start, end, "ok");
        if let Some(op) = self.ops.last_mut() {
            op.served_as = "stale".to_string();
            op.age_ms = Some(age_ms);
            op.index_lag = Some(1);
        }
        self
    }

    /// Checks what was built, on one thread with the default budget.
    pub fn check(&self) -> CheckReport {
        let opts = CheckOptions { threads: 1, ..CheckOptions::default() };
        check_history(History { ops: self.ops.clone(), skipped: 0 }, &opts)
    }
}

/// Writes ops as a checking-mode trace.
pub(super) fn to_csv(ops: &[Op]) -> String {
    let mut out = String::from(
        "thread,op,key,start_ns,latency_ns,intended_latency_ns,status,node,served_as,value,\
         index_lag,age_ms\n",
    );
    for op in ops {
        let value = match (op.kind, op.value) {
            (OpKind::Delete, _) => String::new(),
            (_, Value::Absent) if op.status == "not_found" => String::new(),
            (OpKind::Read, _) if op.outcome == Outcome::Failed => String::new(),
            (_, v) => v.to_string(),
        };
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},,{},{},{},{value},{},{}\n",
            op.thread,
            op.kind.name(),
            op.key,
            op.invoke_ns,
            op.return_ns - op.invoke_ns,
            op.status,
            op.node,
            op.served_as,
            opt(op.index_lag),
            opt(op.age_ms)
        ));
    }
    out
}

/// Whether every read in a counter-example observed the initial value or a value written
/// within it (the shrinker never blames a read for a write it left out).
pub(super) fn reads_have_writers(example: &[&Op], initial: Value) -> bool {
    example.iter().filter(|o| o.kind == OpKind::Read).all(|r| {
        r.value == initial || example.iter().any(|w| w.kind.is_write() && w.value == r.value)
    })
}

/// The single violation of a report, checking its kind.
fn only_violation(report: &CheckReport, kind: ViolationKind) -> Result<&super::Violation> {
    match report.violations.as_slice() {
        [v] if v.kind == kind => Ok(v),
        _ => Err(format!("expected one {kind} violation, got:\n{report}").into()),
    }
}

#[test]
fn sequential_history_passes() {
    let report = Builder::new()
        .r(0, None, 0.0, 1.0)
        .w(0, 1, 2.0, 3.0)
        .r(1, Some(1), 4.0, 5.0)
        .w(1, 2, 6.0, 7.0)
        .r(0, Some(2), 8.0, 9.0)
        .del(0, 10.0, 11.0)
        .r(1, None, 12.0, 13.0)
        .check();
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.keys, report.ops, report.reads, report.writes), (1, 7, 4, 3));
    assert!(report.to_string().contains("linearizable: yes"), "{report}");
}

#[test]
fn concurrent_read_may_see_either_value() {
    for seen in [1, 2] {
        let report =
            Builder::new().w(0, 1, 0.0, 1.0).w(0, 2, 2.0, 6.0).r(1, Some(seen), 3.0, 4.0).check();
        assert!(report.is_ok(), "read of {seen}: {report}");
    }
    // Two overlapping reads may disagree only in the order the write allows.
    let report = Builder::new()
        .w(0, 1, 0.0, 1.0)
        .w(0, 2, 2.0, 10.0)
        .r(1, Some(2), 3.0, 4.0)
        .r(2, Some(1), 3.5, 4.5)
        .check();
    assert!(report.is_ok(), "{report}");
}

#[test]
fn read_of_overwritten_value_is_a_violation() -> Result {
    let report = Builder::new().w(0, 1, 0.0, 1.0).w(0, 2, 2.0, 3.0).r(1, Some(1), 4.0, 5.0).check();
    let v = only_violation(&report, ViolationKind::Linearizability)?;
    assert_eq!(v.ops.len(), 3, "{report}");
    let text = report.to_string();
    assert!(text.contains("linearizable: no") && text.contains("key `k`"), "{text}");
    assert!(text.contains("invoke        4.000 ms"), "{text}");
    Ok(())
}

#[test]
fn read_of_two_unwritten_values_is_a_violation() -> Result {
    let report = Builder::new().r(0, Some(0xa), 0.0, 1.0).r(0, Some(0xb), 2.0, 3.0).check();
    let v = only_violation(&report, ViolationKind::Linearizability)?;
    assert!(v.message.contains("two values that no write wrote"), "{report}");
    Ok(())
}

#[test]
fn unwritten_value_is_the_initial_value() -> Result {
    // Pre-loaded value `f` read before a write: fine.
    let report =
        Builder::new().r(0, Some(0xf), 0.0, 1.0).w(0, 1, 2.0, 3.0).r(1, Some(1), 4.0, 5.0).check();
    assert!(report.is_ok(), "{report}");
    // Read after a completed write: it conflicts.
    let report = Builder::new().w(0, 1, 0.0, 1.0).r(1, Some(0xf), 2.0, 3.0).check();
    let v = only_violation(&report, ViolationKind::Linearizability)?;
    assert!(v.message.contains("pre-loaded"), "{report}");
    // A pre-loaded key read as absent without a delete conflicts too.
    let report = Builder::new().r(0, Some(0xf), 0.0, 1.0).r(0, None, 2.0, 3.0).check();
    only_violation(&report, ViolationKind::Linearizability)?;
    Ok(())
}

#[test]
fn unknown_outcome_writes_may_or_may_not_apply() -> Result {
    // Read later: it took effect (even after the client gave up).
    let report = Builder::new()
        .w(0, 1, 0.0, 1.0)
        .w_unknown(0, 2, 2.0, 3.0)
        .r(1, Some(1), 4.0, 5.0)
        .r(1, Some(2), 6.0, 7.0)
        .check();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.unknown, 1);
    // Never read: it never took effect.
    let report =
        Builder::new().w(0, 1, 0.0, 1.0).w_unknown(0, 2, 2.0, 3.0).r(1, Some(1), 9.0, 10.0).check();
    assert!(report.is_ok(), "{report}");
    // Its value read, then the older value: it cannot be undone.
    let report = Builder::new()
        .w(0, 1, 0.0, 1.0)
        .w_unknown(0, 2, 2.0, 3.0)
        .r(1, Some(2), 4.0, 5.0)
        .r(1, Some(1), 6.0, 7.0)
        .check();
    only_violation(&report, ViolationKind::Linearizability)?;
    // Read before it was invoked: from the future.
    let report = Builder::new().r(1, Some(2), 0.0, 1.0).w_unknown(0, 2, 2.0, 3.0).check();
    only_violation(&report, ViolationKind::Linearizability)?;
    Ok(())
}

#[test]
fn definitely_failed_writes_are_dropped() -> Result {
    let report =
        Builder::new().w(0, 1, 0.0, 1.0).w_failed(0, 2, 2.0, 3.0).r(1, Some(1), 4.0, 5.0).check();
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.failed, report.writes), (1, 1));
    let report =
        Builder::new().w(0, 1, 0.0, 1.0).w_failed(0, 2, 2.0, 3.0).r(1, Some(2), 4.0, 5.0).check();
    let v = only_violation(&report, ViolationKind::Linearizability)?;
    assert!(v.message.contains("definitely failed write"), "{report}");
    Ok(())
}

#[test]
fn deletes_make_reads_absent() -> Result {
    let report = Builder::new().w(0, 1, 0.0, 1.0).del(0, 2.0, 3.0).r(1, None, 4.0, 5.0).check();
    assert!(report.is_ok(), "{report}");
    let report = Builder::new().w(0, 1, 0.0, 1.0).r(1, None, 2.0, 3.0).check();
    only_violation(&report, ViolationKind::Linearizability)?;
    Ok(())
}

#[test]
fn keys_are_checked_independently() -> Result {
    let mut b = Builder::new();
    b.key("bad").w(0, 1, 0.0, 1.0).w(0, 2, 2.0, 3.0).r(1, Some(1), 4.0, 5.0);
    b.key("good").w(0, 3, 0.0, 1.0).r(1, Some(3), 2.0, 3.0);
    let report = b.check();
    assert_eq!(report.keys, 2);
    let v = only_violation(&report, ViolationKind::Linearizability)?;
    assert_eq!(v.key, "bad");
    assert!(v.ops.iter().all(|o| o.key == "bad"));
    Ok(())
}

#[test]
fn counter_example_is_minimal_and_not_linearizable() -> Result {
    let mut b = Builder::new();
    // 50 irrelevant, correct ops on four threads, then a stale read among them.
    for i in 0..25u64 {
        let t = i as f64 * 4.0;
        b.w(i % 4, 100 + i, t, t + 1.5).r((i + 1) % 4, Some(100 + i), t + 2.0, t + 3.0);
    }
    b.w(5, 1, 200.0, 201.0).w(5, 2, 202.0, 203.0).r(6, Some(1), 204.0, 205.0);
    for i in 0..10u64 {
        let t = 210.0 + i as f64 * 4.0;
        b.w(7, 300 + i, t, t + 1.0).r(8, Some(300 + i), t + 2.0, t + 3.0);
    }
    let report = b.check();
    let v = only_violation(&report, ViolationKind::Linearizability)?;
    assert!(v.ops.len() <= 4, "{report}");
    let ops: Vec<&Op> = v.ops.iter().collect();
    assert_eq!(linearizable::search_exact(&ops, Value::Absent, 1_000_000), Search::NotLinearizable);
    assert!(reads_have_writers(&ops, Value::Absent), "{report}");
    Ok(())
}

#[test]
fn stale_read_within_its_bound_passes() {
    // Overwritten at 3 ms; the read at 4.5 ms claims age ≤ 2 ms: state as of 2.5 ms or later.
    let report =
        Builder::new().w(0, 1, 0.0, 1.0).w(0, 2, 2.0, 3.0).stale(1, 1, 4.5, 5.0, 2).check();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.stale_reads, 1);
}

#[test]
fn stale_read_older_than_its_bound_fails() -> Result {
    // Overwritten at 3 ms; the read at 10 ms claims age ≤ 2 ms: state as of 8 ms or later.
    let report =
        Builder::new().w(0, 1, 0.0, 1.0).w(0, 2, 2.0, 3.0).stale(1, 1, 10.0, 11.0, 2).check();
    let v = only_violation(&report, ViolationKind::Staleness)?;
    assert_eq!(v.ops.len(), 3, "{report}");
    // The initial value, overwritten before the bound.
    let report = Builder::new()
        .r(0, Some(0xf), 0.0, 1.0)
        .w(0, 1, 2.0, 3.0)
        .stale(1, 0xf, 10.0, 11.0, 2)
        .check();
    only_violation(&report, ViolationKind::Staleness)?;
    Ok(())
}

#[test]
fn stale_read_of_nil_on_a_preloaded_key() -> Result {
    // The key was loaded before the trace began (0xf is read but never written). A stale read
    // may still see nil — the load had not reached its replica — unless a traced write had
    // completed before its staleness bound.
    let mut b = Builder::new();
    b.r(0, Some(0xf), 0.0, 1.0).stale(1, 0, 2.0, 3.0, 5);
    if let Some(op) = b.ops.last_mut() {
        op.value = Value::Absent;
        op.status = "not_found".into();
    }
    let report = b.check();
    assert!(report.is_ok(), "{report}");
    let mut b = Builder::new();
    b.r(0, Some(0xf), 0.0, 1.0).w(0, 1, 2.0, 3.0).stale(1, 0, 10.0, 11.0, 2);
    if let Some(op) = b.ops.last_mut() {
        op.value = Value::Absent;
        op.status = "not_found".into();
    }
    only_violation(&b.check(), ViolationKind::Staleness)?;
    Ok(())
}

#[test]
fn stale_read_from_the_future_fails() -> Result {
    let report =
        Builder::new().w(0, 1, 0.0, 1.0).stale(1, 2, 2.0, 3.0, 0).w(0, 2, 4.0, 5.0).check();
    let v = only_violation(&report, ViolationKind::Staleness)?;
    assert!(v.message.contains("future"), "{report}");
    Ok(())
}

#[test]
fn exhausted_budget_is_inconclusive() {
    // 60 concurrent writes, each read concurrently; then two reads that each need their value
    // to be written last. Any order of the other 58 writes must be tried before giving up.
    let mut b = Builder::new();
    for i in 0..60u64 {
        b.w(i, i + 1, 0.0, 100.0).r(100 + i, Some(i + 1), 0.0, 100.0);
    }
    b.r(200, Some(1), 200.0, 201.0).r(200, Some(2), 202.0, 203.0);
    let opts = CheckOptions { max_states_per_key: 10_000, threads: 1 };
    let report = check_history(History { ops: b.ops.clone(), skipped: 0 }, &opts);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.inconclusive, vec!["k".to_string()]);
    assert!(report.to_string().contains("inconclusive keys:      1"), "{report}");
}

#[test]
fn trace_round_trips_through_the_parser() -> Result {
    let mut b = Builder::new();
    b.w(0, 0x1f3a, 0.0, 1.0).w_unknown(1, 2, 0.5, 2.0).del(0, 3.0, 4.0).r(1, None, 5.0, 6.0);
    b.stale(0, 0x1f3a, 1.5, 1.7, 3);
    let mut csv = to_csv(&b.ops);
    csv.push_str("2,scan,k,0,1,,ok,,,,,\n3,read,k,0,1,5,timeout,,,,,\n");
    let mut file = tempfile::NamedTempFile::new()?;
    file.write_all(csv.as_bytes())?;
    let report = check_trace(file.path(), &CheckOptions::default())?;
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.ops, report.skipped, report.failed, report.unknown), (5, 1, 1, 1));
    let parsed = History::parse(csv.as_bytes(), "t")?;
    assert_eq!(parsed.ops[..5], b.ops[..]);
    Ok(())
}

#[test]
fn load_rows_are_skipped_and_phase_is_optional() -> Result {
    // The load's rows (here one without a value, as a trace outside checking mode has) stay out
    // of the history; the run's rows, with `run` or an empty phase, are parsed as before.
    let header = "thread,op,key,start_ns,latency_ns,intended_latency_ns,status,node,served_as,\
                  value,index_lag,age_ms,phase\n";
    let csv = format!(
        "{header}0,INSERT,k,0,5,,ok,1,,,,,load\n1,INSERT,j,0,5,,ok,1,,9,,,load\n\
         0,READ,j,0,5,,ok,1,leader,9,,,run\n0,UPDATE,k,10,5,,ok,1,,a,,,\n"
    );
    let history = History::parse(csv.as_bytes(), "t")?;
    assert_eq!(history.skipped, 2);
    let keys: Vec<(&str, OpKind)> = history.ops.iter().map(|o| (o.key.as_str(), o.kind)).collect();
    assert_eq!(keys, [("j", OpKind::Read), ("k", OpKind::Update)]);
    assert_eq!(history.ops[0].line, 4);
    let bad = format!("{header}0,READ,j,0,5,,ok,1,leader,9,,,warmup\n");
    assert_eq!(
        parse_error(&bad),
        "trace trace.csv line 2 column phase: unknown phase `warmup` (load or run)"
    );
    Ok(())
}

fn parse_error(csv: &str) -> String {
    match History::parse(csv.as_bytes(), "trace.csv") {
        Ok(h) => format!("parsed {} ops", h.ops.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_traces_give_clear_errors() {
    const HEADER: &str = "thread,op,key,start_ns,latency_ns,intended_latency_ns,status,node,\
                          served_as,value,index_lag,age_ms\n";
    let cases = [
        (
            "thread,op,key,start_ns,latency_ns,status,node\n",
            "trace trace.csv: no column `served_as` in the header (was the trace written in \
             checking mode?)",
        ),
        (
            "0,read,k,x,1,,ok,,,1,,\n",
            "trace trace.csv line 2 column start_ns: `x` is not an unsigned integer",
        ),
        (
            "0,read,k,0,1,,ok,,,,,\n",
            "trace trace.csv line 2 column value: empty value on a checked read (status ok): the \
             trace was not written in checking mode",
        ),
        ("0,read,k,0,1,,ok,,\n", "trace trace.csv line 2: 9 fields where the header has 12"),
        ("0,merge,k,0,1,,ok,,,1,,\n", "trace trace.csv line 2 column op: unknown op `merge`"),
        (
            "0,update,k,0,1,,ok,,,xyz,,\n",
            "trace trace.csv line 2 column value: `xyz` is not a hex u64 or `nil`",
        ),
        (
            "0,read,k,0,1,,ok,,sloppy,1,,\n",
            "trace trace.csv line 2 column served_as: unknown read policy `sloppy`",
        ),
        (
            "0,read,k,18446744073709551615,1,,ok,,,1,,\n",
            "trace trace.csv line 2 column latency_ns: start_ns + latency_ns overflows",
        ),
        (
            "0,read,k,0,1,,not_found,,,1,,\n",
            "trace trace.csv line 2 column value: status not_found but value `1`",
        ),
    ];
    for (rows, expected) in cases {
        let csv =
            if rows.starts_with("thread") { rows.to_string() } else { format!("{HEADER}{rows}") };
        assert_eq!(parse_error(&csv), expected, "input: {csv}");
    }
}

#[test]
fn missing_trace_file_names_the_path() {
    let err = check_trace(std::path::Path::new("/nonexistent/trace.csv"), &CheckOptions::default());
    assert!(
        matches!(&err, Err(CheckError::Io { path, .. }) if path.ends_with("trace.csv")),
        "{err:?}"
    );
}

#[test]
fn keys_run_in_parallel_with_the_same_result() {
    let mut b = Builder::new();
    for k in 0..20u64 {
        b.key(&format!("k{k:02}")).w(0, 10 * k + 1, 0.0, 1.0).w(0, 10 * k + 2, 2.0, 3.0);
        b.r(1, Some(10 * k + 1 + u64::from(k.is_multiple_of(3))), 4.0, 5.0);
    }
    let serial = b.check();
    let parallel = check_history(
        History { ops: b.ops.clone(), skipped: 0 },
        &CheckOptions { threads: 4, ..CheckOptions::default() },
    );
    assert_eq!(serial, parallel);
    let bad: Vec<&str> = serial.violations.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(
        bad,
        ["k01", "k02", "k04", "k05", "k07", "k08", "k10", "k11", "k13", "k14", "k16", "k17", "k19"]
    );
}
