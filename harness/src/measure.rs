//! Measurement: one HdrHistogram per thread, operation, outcome and latency kind, merged once a
//! second without a global lock.
//!
//! Each client thread owns a [`ThreadRecorder`] and records into plain histograms. When an
//! operation completes after the end of the current one-second interval, the thread sends that
//! interval's histograms over a channel to the [`Collector`] and starts fresh ones. The
//! collector merges reports per interval; an interval is final once every thread has reported a
//! later one, said it is past it, or finished, and then feeds the time series, the totals
//! (unless it lies in the warm-up) and the interval logs. Latencies are in nanoseconds.
//!
//! Every operation has one [`Outcome`] and keeps its latency whatever it is: `ok`, `not_found`
//! (a read of an absent record: answered, so a completed operation) or failed (a timeout, an
//! unavailable region, …: its latency goes to a histogram of its own, so failures cannot
//! vanish from the figures). Each thread also keeps its running counts of completed and
//! failed operations where the collector can read them at any time ([`Collector::live`]), as
//! YCSB's status thread reads each client's count, so a status line can say what is happening
//! now even while every thread waits on a stalled store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use kvlab_workloads::OpKind;

use crate::binding::{OpError, Served};

/// Length of one measurement interval (one row of the time series).
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Highest trackable latency: one hour in nanoseconds (larger values saturate).
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// The error kind bindings give a read of an absent record ([`OpError::not_found`]).
pub const NOT_FOUND: &str = "not_found";

/// Which clock a latency was measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LatencyKind {
    /// From the moment the operation was issued to its completion.
    Service,
    /// From the operation's intended start under `--target` (coordinated-omission corrected).
    Intended,
}

impl LatencyKind {
    /// The name used in results files.
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyKind::Service => "service",
            LatencyKind::Intended => "intended",
        }
    }
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Answered: done as asked.
    Ok,
    /// Answered: the record does not exist (YCSB's `NOT_FOUND`). A completed operation, not
    /// an error.
    NotFound,
    /// Not answered, or answered with an error (timeout, unavailable, …).
    Failed,
}

impl Outcome {
    /// The outcome of a binding's result.
    pub fn of(result: &Result<Served, OpError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Ok,
            Err(e) if e.kind == NOT_FOUND => Outcome::NotFound,
            Err(_) => Outcome::Failed,
        }
    }
}

/// Which operations of one kind a results row covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowKind {
    /// Every completed operation: `ok` and `not_found` (the row named after the operation).
    Completed,
    /// The `not_found` ones alone (`READ-NOT_FOUND`).
    NotFound,
    /// The failed ones (`READ-FAILED`).
    Failed,
}

impl RowKind {
    /// What the row's name adds to the operation's: ``, `-NOT_FOUND`, `-FAILED`.
    pub fn suffix(self) -> &'static str {
        match self {
            RowKind::Completed => "",
            RowKind::NotFound => "-NOT_FOUND",
            RowKind::Failed => "-FAILED",
        }
    }
}

/// A fresh latency histogram (1 ns to one hour, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("static histogram bounds are valid")
}

fn op_index(kind: OpKind) -> usize {
    OpKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// Latencies of some operations: service time, and intended-start latency with `--target`.
#[derive(Clone, Debug)]
pub struct Latencies {
    /// Service-time latencies.
    pub service: Histogram<u64>,
    /// Intended-start latencies (with `--target` only).
    pub intended: Option<Histogram<u64>>,
}

impl Latencies {
    /// Empty histograms; `corrected` adds the intended one.
    pub fn new(corrected: bool) -> Self {
        Latencies { service: new_histogram(), intended: corrected.then(new_histogram) }
    }

    /// Operations recorded.
    pub fn len(&self) -> u64 {
        self.service.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.service.is_empty()
    }

    /// The histogram of `kind`, if recorded.
    pub fn latency(&self, kind: LatencyKind) -> Option<&Histogram<u64>> {
        match kind {
            LatencyKind::Service => Some(&self.service),
            LatencyKind::Intended => self.intended.as_ref(),
        }
    }

    #[inline]
    fn record(&mut self, service: Duration, intended: Option<Duration>) {
        self.service.saturating_record(service.as_nanos().max(1) as u64);
        if let (Some(hist), Some(intended)) = (self.intended.as_mut(), intended) {
            hist.saturating_record(intended.as_nanos().max(1) as u64);
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Latencies) {
        self.service.add(&other.service).expect("histograms share bounds");
        merge_optional(&mut self.intended, &other.intended);
    }
}

fn merge_latencies(mine: &mut Option<Latencies>, theirs: &Option<Latencies>) {
    match (mine.as_mut(), theirs) {
        (Some(m), Some(t)) => m.merge(t),
        (None, Some(t)) => *mine = Some(t.clone()),
        _ => {}
    }
}

/// Figures of one operation kind over some time.
#[derive(Clone, Debug)]
pub struct OpStats {
    /// Latencies of operations that succeeded ([`Outcome::Ok`]).
    pub ok: Latencies,
    /// Latencies of reads of absent records ([`Outcome::NotFound`]), when there were any.
    pub not_found: Option<Latencies>,
    /// Latencies of failed operations ([`Outcome::Failed`]), when there were any.
    pub failed: Option<Latencies>,
    /// Failed operations per error kind.
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    fn new(corrected: bool) -> Self {
        OpStats {
            ok: Latencies::new(corrected),
            not_found: None,
            failed: None,
            errors: BTreeMap::new(),
        }
    }

    /// Operations that succeeded (YCSB's `Return=OK`).
    pub fn ok(&self) -> u64 {
        self.ok.len()
    }

    /// Reads of absent records.
    pub fn not_found(&self) -> u64 {
        self.not_found.as_ref().map_or(0, Latencies::len)
    }

    /// Completed operations: succeeded or found nothing (what throughput counts).
    pub fn completed(&self) -> u64 {
        self.ok() + self.not_found()
    }

    /// Failed operations.
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Latencies of every completed operation: `ok` and `not_found` together.
    pub fn completed_latencies(&self) -> Latencies {
        let mut all = self.ok.clone();
        if let Some(nf) = &self.not_found {
            all.merge(nf);
        }
        all
    }

    /// Latencies of the operations that did not succeed (`not_found` and failed): YCSB's
    /// `<OP>-FAILED` measurement. `None` when every operation succeeded.
    pub fn unsuccessful_latencies(&self) -> Option<Latencies> {
        let mut all: Option<Latencies> = None;
        merge_latencies(&mut all, &self.not_found);
        merge_latencies(&mut all, &self.failed);
        all
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &OpStats) {
        self.ok.merge(&other.ok);
        merge_latencies(&mut self.not_found, &other.not_found);
        merge_latencies(&mut self.failed, &other.failed);
        for (kind, count) in &other.errors {
            *self.errors.entry(kind.clone()).or_insert(0) += count;
        }
    }

    /// The rows of this operation: completed, then `not_found` and failed when there were any.
    fn rows(&self, op: &str) -> Vec<ResultRow> {
        let failed = self.failed();
        let mut rows = vec![ResultRow {
            name: op.to_string(),
            op: op.to_string(),
            kind: RowKind::Completed,
            latencies: self.completed_latencies(),
            failed,
        }];
        for (kind, latencies) in
            [(RowKind::NotFound, &self.not_found), (RowKind::Failed, &self.failed)]
        {
            if let Some(latencies) = latencies.as_ref().filter(|l| !l.is_empty()) {
                rows.push(ResultRow {
                    name: format!("{op}{}", kind.suffix()),
                    op: op.to_string(),
                    kind,
                    latencies: latencies.clone(),
                    failed: if kind == RowKind::Failed { failed } else { 0 },
                });
            }
        }
        rows
    }
}

/// One row of the results: an operation kind (or `ALL`) and which of its operations.
#[derive(Clone, Debug)]
pub struct ResultRow {
    /// The row's name: `READ`, `READ-NOT_FOUND`, `READ-FAILED`, `ALL`, `ALL-FAILED`, …
    pub name: String,
    /// The operation kind's name, or `ALL`.
    pub op: String,
    /// Which operations.
    pub kind: RowKind,
    /// Their latencies.
    pub latencies: Latencies,
    /// Failed operations of `op` (`errors` in `summary.csv`): all of them on the completed
    /// and failed rows, 0 on the `not_found` row.
    pub failed: u64,
}

/// Everything measured in one interval (or a whole phase).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Per operation kind, indexed like [`OpKind::ALL`].
    pub ops: [Option<OpStats>; 7],
    /// Index lag reported by stale reads (entries).
    pub staleness_lag: Option<Histogram<u64>>,
    /// Age reported by stale reads (milliseconds).
    pub staleness_ms: Option<Histogram<u64>>,
    /// Operations answered per node (`ok` and `not_found`).
    pub served: BTreeMap<u64, u64>,
}

impl Stats {
    /// The operation kinds present, with their figures.
    pub fn iter(&self) -> impl Iterator<Item = (OpKind, &OpStats)> {
        OpKind::ALL.iter().zip(&self.ops).filter_map(|(k, s)| s.as_ref().map(|s| (*k, s)))
    }

    /// All operation kinds merged into one.
    pub fn overall(&self) -> Option<OpStats> {
        let mut iter = self.iter();
        let (_, first) = iter.next()?;
        let mut all = first.clone();
        for (_, stats) in iter {
            all.merge(stats);
        }
        Some(all)
    }

    /// The results rows: per operation kind its completed operations (named after it), its
    /// `-NOT_FOUND` and `-FAILED` rows when it had any; then the same for `ALL` (every kind
    /// merged).
    pub fn rows(&self) -> Vec<ResultRow> {
        let mut rows: Vec<ResultRow> = self.iter().flat_map(|(k, s)| s.rows(k.name())).collect();
        if let Some(all) = self.overall() {
            rows.extend(all.rows("ALL"));
        }
        rows
    }

    /// [`Stats::rows`] by name, as `summary.csv` and `aggregate.csv` report them.
    pub fn named_with_overall(&self) -> Vec<(String, Latencies)> {
        self.rows().into_iter().map(|r| (r.name, r.latencies)).collect()
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        for (mine, theirs) in self.ops.iter_mut().zip(&other.ops) {
            match (mine.as_mut(), theirs) {
                (Some(mine), Some(theirs)) => mine.merge(theirs),
                (None, Some(theirs)) => *mine = Some(theirs.clone()),
                _ => {}
            }
        }
        merge_optional(&mut self.staleness_lag, &other.staleness_lag);
        merge_optional(&mut self.staleness_ms, &other.staleness_ms);
        for (node, count) in &other.served {
            *self.served.entry(*node).or_insert(0) += count;
        }
    }

    /// Operations of every kind that succeeded.
    pub fn ok(&self) -> u64 {
        self.iter().map(|(_, s)| s.ok()).sum()
    }

    /// Completed operations of every kind (succeeded or found nothing).
    pub fn completed(&self) -> u64 {
        self.iter().map(|(_, s)| s.completed()).sum()
    }

    /// Failed operations of every kind.
    pub fn failed(&self) -> u64 {
        self.iter().map(|(_, s)| s.failed()).sum()
    }
}

fn merge_optional(mine: &mut Option<Histogram<u64>>, theirs: &Option<Histogram<u64>>) {
    match (mine.as_mut(), theirs) {
        (Some(m), Some(t)) => m.add(t).expect("histograms share bounds"),
        (None, Some(t)) => *mine = Some(t.clone()),
        _ => {}
    }
}

/// A message from a client thread to the collector.
#[derive(Debug)]
pub enum Report {
    /// One thread's figures for one interval.
    Interval {
        /// The reporting thread.
        thread: usize,
        /// Interval number from the phase start.
        interval: u64,
        /// The figures.
        stats: Box<Stats>,
    },
    /// A thread's running counts, which it updates as it goes (sent once, at its start).
    Live {
        /// The reporting thread.
        thread: usize,
        /// Its counts.
        counts: Arc<LiveCounts>,
    },
    /// A thread moved on to a later interval: it will report none before it.
    Moved {
        /// The reporting thread.
        thread: usize,
        /// The interval it records into now.
        interval: u64,
    },
    /// The thread has finished and will report nothing more.
    Done {
        /// The thread.
        thread: usize,
    },
}

/// One thread's running counts since the phase start (warm-up included). Only the thread
/// writes them; on a cache line of their own, so that reading them costs the thread nothing.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct LiveCounts {
    completed: AtomicU64,
    failed: AtomicU64,
}

impl LiveCounts {
    /// The counts now.
    pub fn get(&self) -> Counts {
        Counts {
            completed: self.completed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// One client thread's recorder.
pub struct ThreadRecorder {
    thread: usize,
    start: Instant,
    interval: u64,
    interval_end: Instant,
    corrected: bool,
    stats: Box<Stats>,
    completed: u64,
    failed: u64,
    live: Arc<LiveCounts>,
    tx: Sender<Report>,
}

impl ThreadRecorder {
    /// A recorder for `thread`, timing intervals from `start`. `corrected` records intended
    /// latencies too.
    pub fn new(thread: usize, start: Instant, corrected: bool, tx: Sender<Report>) -> Self {
        let live = Arc::new(LiveCounts::default());
        let _ = tx.send(Report::Live { thread, counts: Arc::clone(&live) });
        ThreadRecorder {
            thread,
            start,
            interval: 0,
            interval_end: start + INTERVAL,
            corrected,
            stats: Box::default(),
            completed: 0,
            failed: 0,
            live,
            tx,
        }
    }

    /// Records one operation that ended at `end`, whatever its outcome.
    #[inline]
    pub fn record(
        &mut self,
        kind: OpKind,
        end: Instant,
        service: Duration,
        intended: Option<Duration>,
        result: &Result<Served, OpError>,
    ) {
        if end >= self.interval_end {
            self.roll(end);
        }
        let corrected = self.corrected;
        let stats = self.stats.ops[op_index(kind)].get_or_insert_with(|| OpStats::new(corrected));
        let served = match result {
            Ok(served) => {
                stats.ok.record(service, intended);
                served
            }
            Err(err) if err.kind == NOT_FOUND => {
                stats
                    .not_found
                    .get_or_insert_with(|| Latencies::new(corrected))
                    .record(service, intended);
                // A read that found nothing was still served: by its node, maybe stale.
                &err.served
            }
            Err(err) => {
                stats
                    .failed
                    .get_or_insert_with(|| Latencies::new(corrected))
                    .record(service, intended);
                // Error kinds are few and static: allocate a key only the first time.
                match stats.errors.get_mut(err.kind) {
                    Some(count) => *count += 1,
                    None => {
                        stats.errors.insert(err.kind.to_string(), 1);
                    }
                }
                self.failed += 1;
                self.live.failed.store(self.failed, Ordering::Relaxed);
                return;
            }
        };
        if let Some(node) = served.node {
            *self.stats.served.entry(node).or_insert(0) += 1;
        }
        if let Some(staleness) = served.staleness {
            self.stats
                .staleness_lag
                .get_or_insert_with(new_histogram)
                .saturating_record(staleness.index_lag);
            self.stats
                .staleness_ms
                .get_or_insert_with(new_histogram)
                .saturating_record(staleness.age_ms);
        }
        self.completed += 1;
        self.live.completed.store(self.completed, Ordering::Relaxed);
    }

    fn roll(&mut self, now: Instant) {
        self.flush();
        self.interval = (now.duration_since(self.start).as_nanos() / INTERVAL.as_nanos()) as u64;
        self.interval_end = self.start + INTERVAL * (self.interval as u32 + 1);
        let _ = self.tx.send(Report::Moved { thread: self.thread, interval: self.interval });
    }

    fn flush(&mut self) {
        let stats = std::mem::take(&mut self.stats);
        if stats.iter().next().is_some() {
            // The collector outlives every recorder; a closed channel only means it gave up.
            let _ = self.tx.send(Report::Interval {
                thread: self.thread,
                interval: self.interval,
                stats,
            });
        }
    }

    /// Sends what is left and tells the collector this thread is done.
    pub fn finish(mut self) {
        self.flush();
        let _ = self.tx.send(Report::Done { thread: self.thread });
    }
}

/// One row of the time series: one second, one operation kind (or `ALL`).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRow {
    /// Seconds since the measurement start (interval number after the warm-up).
    pub second: u64,
    /// Operation kind name, or `ALL`.
    pub op: String,
    /// Completed operations (`ok` and `not_found`).
    pub count: u64,
    /// Failed operations.
    pub errors: u64,
    /// How long the second was: 1, or less for the last, partial one.
    pub length_s: f64,
    /// Median service latency of the completed operations, µs; `None` without any.
    pub p50_us: Option<f64>,
    /// 99th percentile service latency, µs; `None` without completions.
    pub p99_us: Option<f64>,
    /// Maximum service latency, µs; `None` without completions.
    pub max_us: Option<f64>,
}

impl SeriesRow {
    /// Completed operations per second of the row's real length.
    pub fn throughput(&self) -> f64 {
        if self.length_s > 0.0 {
            self.count as f64 / self.length_s
        } else {
            0.0
        }
    }

    fn empty(second: u64, op: &str) -> SeriesRow {
        SeriesRow {
            second,
            op: op.to_string(),
            count: 0,
            errors: 0,
            length_s: INTERVAL.as_secs_f64(),
            p50_us: None,
            p99_us: None,
            max_us: None,
        }
    }
}

/// A compressed interval histogram for the `.hlog` files.
#[derive(Clone, Debug)]
pub struct HlogEntry {
    /// The row's name: the operation kind, or its `-NOT_FOUND` or `-FAILED` row.
    pub op: String,
    /// Latency kind.
    pub latency: LatencyKind,
    /// Interval number.
    pub interval: u64,
    /// The histogram, V2-deflate serialised.
    pub encoded: Vec<u8>,
    /// Its maximum, ns.
    pub max_ns: u64,
}

/// Operations completed and failed so far in a phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Completed operations (`ok` and `not_found`).
    pub completed: u64,
    /// Failed operations.
    pub failed: u64,
}

/// Merges thread reports into intervals, a time series and totals.
pub struct Collector {
    threads: usize,
    warmup_intervals: u64,
    /// Per thread, the first interval it may still report.
    floor: Vec<u64>,
    done: Vec<bool>,
    live: Vec<Option<Arc<LiveCounts>>>,
    pending: BTreeMap<u64, Stats>,
    /// Intervals before this one are final.
    finalised: u64,
    /// Figures of every final interval after the warm-up.
    pub totals: Stats,
    /// Per-second rows after the warm-up, for the seconds that had operations; see
    /// [`Collector::timeseries`] for every second.
    pub series: Vec<SeriesRow>,
    /// Interval histograms for the interval logs (after the warm-up).
    pub hlog: Vec<HlogEntry>,
    /// The most recent final interval (for status lines), with its number; an interval
    /// without operations has empty figures.
    pub latest: Option<(u64, Stats)>,
}

impl Collector {
    /// A collector for `threads` threads, excluding intervals that start within `warmup`.
    pub fn new(threads: usize, warmup: Duration) -> Self {
        let warmup_intervals = warmup.as_nanos().div_ceil(INTERVAL.as_nanos()) as u64;
        Collector {
            threads,
            warmup_intervals,
            floor: vec![0; threads],
            done: vec![false; threads],
            live: vec![None; threads],
            pending: BTreeMap::new(),
            finalised: 0,
            totals: Stats::default(),
            series: Vec::new(),
            hlog: Vec::new(),
            latest: None,
        }
    }

    /// A channel for thread reports.
    pub fn channel() -> (Sender<Report>, Receiver<Report>) {
        crossbeam_channel::unbounded()
    }

    /// Whether every thread has finished.
    pub fn all_done(&self) -> bool {
        self.done.iter().all(|d| *d)
    }

    /// The warm-up, in whole intervals.
    pub fn warmup(&self) -> Duration {
        INTERVAL * self.warmup_intervals as u32
    }

    /// Operations completed and failed so far in the phase (warm-up included): the threads'
    /// running counts, read now.
    pub fn live(&self) -> Counts {
        self.live.iter().flatten().map(|c| c.get()).fold(Counts::default(), |a, c| Counts {
            completed: a.completed + c.completed,
            failed: a.failed + c.failed,
        })
    }

    /// Takes one report in, finalising the intervals it completes.
    pub fn accept(&mut self, report: Report) {
        match report {
            Report::Interval { thread, interval, stats } => {
                self.pending.entry(interval).or_default().merge(&stats);
                if let Some(floor) = self.floor.get_mut(thread) {
                    *floor = (*floor).max(interval + 1);
                }
            }
            Report::Live { thread, counts } => {
                if let Some(live) = self.live.get_mut(thread) {
                    *live = Some(counts);
                }
            }
            Report::Moved { thread, interval } => {
                if let Some(floor) = self.floor.get_mut(thread) {
                    *floor = (*floor).max(interval);
                }
            }
            Report::Done { thread } => {
                if let Some(done) = self.done.get_mut(thread) {
                    *done = true;
                }
            }
        }
        self.finalise(false);
    }

    /// Finalises every remaining interval (after all threads are done or the phase was cut).
    pub fn finish(&mut self) {
        self.finalise(true);
    }

    /// The first interval that some running thread may still report (a thread reports its
    /// intervals in order, each once it has moved past it).
    fn watermark(&self) -> u64 {
        (0..self.threads)
            .filter(|t| !self.done[*t])
            .map(|t| self.floor[t])
            .min()
            .unwrap_or(u64::MAX)
    }

    fn finalise(&mut self, all: bool) {
        let watermark = if all { u64::MAX } else { self.watermark() };
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() >= watermark {
                break;
            }
            let (interval, stats) = entry.remove_entry();
            if interval >= self.warmup_intervals {
                self.add_interval(interval, &stats);
            }
            self.latest = Some((interval, stats));
            self.finalised = interval + 1;
        }
        // Intervals every thread is past, with nothing pending: final, and empty.
        if !all && watermark != u64::MAX && watermark > self.finalised {
            self.finalised = watermark;
            self.latest = Some((watermark - 1, Stats::default()));
        }
    }

    fn add_interval(&mut self, interval: u64, stats: &Stats) {
        let second = interval - self.warmup_intervals;
        let mut serializer = V2DeflateSerializer::new();
        for row in stats.rows() {
            if row.kind == RowKind::Completed {
                let hist = &row.latencies.service;
                let q = |v: u64| (!hist.is_empty()).then(|| us(v));
                self.series.push(SeriesRow {
                    second,
                    op: row.op.clone(),
                    count: hist.len(),
                    errors: row.failed,
                    length_s: INTERVAL.as_secs_f64(),
                    p50_us: q(hist.value_at_quantile(0.5)),
                    p99_us: q(hist.value_at_quantile(0.99)),
                    max_us: q(hist.max()),
                });
            }
            if row.op == "ALL" {
                continue;
            }
            for kind in [LatencyKind::Service, LatencyKind::Intended] {
                if let Some(hist) = row.latencies.latency(kind).filter(|h| !h.is_empty()) {
                    let mut encoded = Vec::new();
                    if serializer.serialize(hist, &mut encoded).is_ok() {
                        self.hlog.push(HlogEntry {
                            op: row.name.clone(),
                            latency: kind,
                            interval: second,
                            encoded,
                            max_ns: hist.max(),
                        });
                    }
                }
            }
        }
        self.totals.merge(stats);
    }

    /// The time series of a phase whose measured part lasted `measured`: a row for every
    /// second from the measurement start to the end, for `ALL` and every operation kind the
    /// phase had, a second without operations included (count 0, no latencies). Each row's
    /// `length_s` is 1 but for the last, partial second: its real length.
    pub fn timeseries(&self, measured: Duration) -> Vec<SeriesRow> {
        let seconds_measured = measured.as_nanos().div_ceil(INTERVAL.as_nanos()) as u64;
        let seconds = self.series.iter().map(|r| r.second + 1).fold(seconds_measured, u64::max);
        let mut ops: Vec<&str> = OpKind::ALL
            .iter()
            .map(|k| k.name())
            .filter(|name| self.series.iter().any(|r| r.op == *name))
            .collect();
        ops.push("ALL");
        let mut have: BTreeMap<(u64, &str), &SeriesRow> = BTreeMap::new();
        for r in &self.series {
            have.insert((r.second, r.op.as_str()), r);
        }
        let interval = INTERVAL.as_secs_f64();
        let mut out = Vec::new();
        for second in 0..seconds {
            let left = measured.as_secs_f64() - second as f64 * interval;
            let length = if left > 0.0 { left.min(interval) } else { interval };
            for op in &ops {
                let mut row = have
                    .get(&(second, op))
                    .map_or_else(|| SeriesRow::empty(second, op), |r| (*r).clone());
                row.length_s = length;
                out.push(row);
            }
        }
        out
    }
}

/// Nanoseconds to microseconds.
pub fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Result<Served, OpError> {
        Ok(Served { node: Some(2), ..Served::default() })
    }

    fn not_found() -> Result<Served, OpError> {
        Err(OpError::not_found_at(Served { node: Some(3), ..Served::default() }))
    }

    fn timeout() -> Result<Served, OpError> {
        Err(OpError::new("timeout", "no answer".into()))
    }

    fn collect(collector: &mut Collector, rx: &Receiver<Report>) {
        for report in rx.try_iter() {
            collector.accept(report);
        }
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn intervals_merge_across_threads_and_skip_warmup() {
        let (tx, rx) = Collector::channel();
        let start = Instant::now();
        let mut collector = Collector::new(2, Duration::from_secs(1));
        let mut a = ThreadRecorder::new(0, start, false, tx.clone());
        let mut b = ThreadRecorder::new(1, start, false, tx);
        let us = Duration::from_micros;
        // Interval 0 is warm-up; intervals 1 and 2 count.
        a.record(OpKind::Read, start + MS(500), us(5), None, &ok());
        a.record(OpKind::Read, start + MS(1500), us(10), None, &ok());
        b.record(OpKind::Read, start + MS(1600), us(30), None, &ok());
        b.record(OpKind::Update, start + MS(2500), us(40), None, &timeout());
        a.finish();
        b.finish();
        collect(&mut collector, &rx);
        assert!(collector.all_done());
        collector.finish();
        let read = collector.totals.ops[0].as_ref().expect("reads");
        assert_eq!(read.ok(), 2, "the warm-up read is excluded");
        assert_eq!(read.ok.service.max(), read.ok.service.highest_equivalent(30_000));
        let update = collector.totals.ops[1].as_ref().expect("updates");
        assert_eq!(update.errors.get("timeout"), Some(&1));
        assert_eq!(collector.totals.served.get(&2), Some(&2));
        let seconds: Vec<(u64, &str, u64, u64)> =
            collector.series.iter().map(|r| (r.second, r.op.as_str(), r.count, r.errors)).collect();
        assert_eq!(
            seconds,
            vec![(0, "READ", 2, 0), (0, "ALL", 2, 0), (1, "UPDATE", 0, 1), (1, "ALL", 0, 1)]
        );
    }

    #[test]
    fn an_interval_waits_for_slow_threads() {
        let (tx, rx) = Collector::channel();
        let start = Instant::now();
        let mut collector = Collector::new(2, Duration::ZERO);
        let mut a = ThreadRecorder::new(0, start, false, tx.clone());
        let b = ThreadRecorder::new(1, start, false, tx);
        a.record(OpKind::Read, start, Duration::from_micros(1), None, &ok());
        a.record(
            OpKind::Read,
            start + Duration::from_secs(3),
            Duration::from_micros(1),
            None,
            &ok(),
        );
        collect(&mut collector, &rx);
        assert!(collector.series.is_empty(), "thread 1 may still report interval 0");
        b.finish();
        collect(&mut collector, &rx);
        assert_eq!(collector.series.first().map(|r| r.second), Some(0));
        // Thread 0 is in interval 3: intervals 1 and 2 are final, and empty.
        assert_eq!(collector.latest.as_ref().map(|(i, s)| (*i, s.completed())), Some((2, 0)));
    }

    #[test]
    fn every_outcome_keeps_its_latency() {
        let (tx, rx) = Collector::channel();
        let start = Instant::now();
        let mut collector = Collector::new(1, Duration::ZERO);
        let mut t = ThreadRecorder::new(0, start, true, tx);
        let at = |ms| start + MS(ms);
        // (end, service, intended, result)
        t.record(OpKind::Read, at(10), MS(1), Some(MS(2)), &ok());
        t.record(OpKind::Read, at(20), MS(3), Some(MS(4)), &not_found());
        t.record(OpKind::Read, at(900), MS(800), Some(MS(850)), &timeout());
        t.record(OpKind::Update, at(950), MS(5), Some(MS(6)), &ok());
        t.finish();
        collect(&mut collector, &rx);
        collector.finish();
        let read = collector.totals.ops[0].as_ref().expect("reads");
        assert_eq!((read.ok(), read.not_found(), read.completed(), read.failed()), (1, 1, 2, 1));
        // The not_found read was served: its node counts.
        assert_eq!(collector.totals.served.get(&3), Some(&1));
        let rows: Vec<(String, u64, u64, u64)> = collector
            .totals
            .rows()
            .into_iter()
            .map(|r| {
                let max = r.latencies.service.max() / 1_000_000;
                (r.name, r.latencies.len(), r.failed, max)
            })
            .collect();
        let named = |n: &str, count, failed, max_ms| (n.to_string(), count, failed, max_ms);
        assert_eq!(
            rows,
            vec![
                named("READ", 2, 1, 3),
                named("READ-NOT_FOUND", 1, 0, 3),
                named("READ-FAILED", 1, 1, 800),
                named("UPDATE", 1, 0, 5),
                named("ALL", 3, 1, 5),
                named("ALL-NOT_FOUND", 1, 0, 3),
                named("ALL-FAILED", 1, 1, 800),
            ]
        );
        let failed = read.failed.as_ref().expect("failed latencies");
        let intended = failed.intended.as_ref().expect("intended");
        assert_eq!(intended.max() / 1_000_000, 850);
        // YCSB's <OP>-FAILED measurement: every read that did not return OK.
        assert_eq!(read.unsuccessful_latencies().map(|l| l.len()), Some(2));
        let logs: Vec<(&str, &str)> =
            collector.hlog.iter().map(|e| (e.op.as_str(), e.latency.as_str())).collect();
        for name in ["READ", "READ-NOT_FOUND", "READ-FAILED", "UPDATE"] {
            for kind in ["service", "intended"] {
                assert!(logs.contains(&(name, kind)), "{name} {kind} missing from {logs:?}");
            }
        }
        assert!(logs.iter().all(|(op, _)| !op.starts_with("ALL")), "ALL is not logged");
        let all = collector.series.iter().find(|r| r.op == "ALL").expect("ALL row");
        assert_eq!((all.count, all.errors), (3, 1), "not_found counts as completed");
    }

    #[test]
    fn seconds_without_completions_are_rows_and_the_last_second_its_real_length() {
        let (tx, rx) = Collector::channel();
        let start = Instant::now();
        let mut collector = Collector::new(1, Duration::from_secs(1));
        let mut t = ThreadRecorder::new(0, start, false, tx);
        // Warm-up in interval 0; then completions in measured seconds 1 and 4 only, one
        // failure in second 2; the phase measured 4.25 s.
        t.record(OpKind::Read, start + MS(500), MS(1), None, &ok());
        t.record(OpKind::Read, start + MS(2100), MS(1), None, &ok());
        t.record(OpKind::Read, start + MS(2200), MS(3), None, &ok());
        t.record(OpKind::Update, start + MS(3900), MS(900), None, &timeout());
        t.record(OpKind::Read, start + MS(5100), MS(1200), None, &ok());
        t.finish();
        collect(&mut collector, &rx);
        collector.finish();
        let series = collector.timeseries(MS(4250));
        let all: Vec<(u64, u64, u64, f64, Option<f64>)> = series
            .iter()
            .filter(|r| r.op == "ALL")
            .map(|r| (r.second, r.count, r.errors, r.throughput(), r.p99_us.map(|v| v.round())))
            .collect();
        assert_eq!(
            all,
            vec![
                (0, 0, 0, 0.0, None),
                (1, 2, 0, 2.0, Some(3000.0)),
                (2, 0, 1, 0.0, None),
                (3, 0, 0, 0.0, None),
                (4, 1, 0, 4.0, Some(1_200_620.0)),
            ]
        );
        // Every operation kind of the phase has its row in every second.
        let updates: Vec<(u64, u64, u64)> = series
            .iter()
            .filter(|r| r.op == "UPDATE")
            .map(|r| (r.second, r.count, r.errors))
            .collect();
        assert_eq!(updates, vec![(0, 0, 0), (1, 0, 0), (2, 0, 1), (3, 0, 0), (4, 0, 0)]);
        assert_eq!(series.len(), 15, "READ, UPDATE and ALL for each of 5 seconds");
        // A phase with nothing at all still has its seconds.
        let empty = Collector::new(1, Duration::ZERO);
        let rows: Vec<(u64, String)> =
            empty.timeseries(MS(2000)).into_iter().map(|r| (r.second, r.op)).collect();
        assert_eq!(rows, vec![(0, "ALL".to_string()), (1, "ALL".to_string())]);
    }

    #[test]
    fn live_counts_follow_the_threads() {
        let (tx, rx) = Collector::channel();
        let start = Instant::now();
        let mut collector = Collector::new(2, Duration::ZERO);
        let mut a = ThreadRecorder::new(0, start, false, tx.clone());
        let mut b = ThreadRecorder::new(1, start, false, tx);
        for i in 0..10 {
            a.record(OpKind::Read, start + MS(i * 50), MS(1), None, &ok());
        }
        b.record(OpKind::Read, start + MS(30), MS(30), None, &timeout());
        b.record(OpKind::Read, start + MS(40), MS(1), None, &not_found());
        collect(&mut collector, &rx);
        // Read as they are, not as of a report: every operation recorded so far.
        assert_eq!(collector.live(), Counts { completed: 11, failed: 1 });
        b.record(OpKind::Read, start + MS(5000), MS(1), None, &timeout());
        assert_eq!(collector.live(), Counts { completed: 11, failed: 2 });
    }
}
