//! Measurement: one HdrHistogram per thread, operation and latency kind, merged once a second
//! without a global lock.
//!
//! Each client thread owns a [`ThreadRecorder`] and records into plain histograms. When an
//! operation completes after the end of the current one-second interval, the thread sends that
//! interval's histograms over a channel to the [`Collector`] and starts fresh ones. The
//! collector merges reports per interval; an interval is final once every thread has reported a
//! later one (or finished), and then feeds the time series, the totals (unless it lies in the
//! warm-up) and the interval logs. Latencies are in nanoseconds.

use std::collections::BTreeMap;
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

/// A fresh latency histogram (1 ns to one hour, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).expect("static histogram bounds are valid")
}

fn op_index(kind: OpKind) -> usize {
    OpKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// Figures of one operation kind over some time.
#[derive(Clone, Debug)]
pub struct OpStats {
    /// Service-time latencies of successful operations.
    pub service: Histogram<u64>,
    /// Intended-start latencies of successful operations (with `--target` only).
    pub intended: Option<Histogram<u64>>,
    /// Failed operations per error kind.
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    fn new(corrected: bool) -> Self {
        OpStats {
            service: new_histogram(),
            intended: corrected.then(new_histogram),
            errors: BTreeMap::new(),
        }
    }

    /// Successful operations.
    pub fn ok(&self) -> u64 {
        self.service.len()
    }

    /// Failed operations.
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The histogram of `kind`, if recorded.
    pub fn latency(&self, kind: LatencyKind) -> Option<&Histogram<u64>> {
        match kind {
            LatencyKind::Service => Some(&self.service),
            LatencyKind::Intended => self.intended.as_ref(),
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &OpStats) {
        self.service.add(&other.service).expect("histograms share bounds");
        match (&mut self.intended, &other.intended) {
            (Some(mine), Some(theirs)) => mine.add(theirs).expect("histograms share bounds"),
            (None, Some(theirs)) => self.intended = Some(theirs.clone()),
            _ => {}
        }
        for (kind, count) in &other.errors {
            *self.errors.entry(kind.clone()).or_insert(0) += count;
        }
    }
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
    /// Operations served per node.
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

    /// Each operation kind by name, then `ALL` (every kind merged), as results report them.
    pub fn named_with_overall(&self) -> Vec<(String, OpStats)> {
        let mut ops: Vec<(String, OpStats)> =
            self.iter().map(|(k, s)| (k.name().to_string(), s.clone())).collect();
        if let Some(all) = self.overall() {
            ops.push(("ALL".to_string(), all));
        }
        ops
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

    /// Successful operations of every kind.
    pub fn ok(&self) -> u64 {
        self.iter().map(|(_, s)| s.ok()).sum()
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
    /// The thread has finished and will report nothing more.
    Done {
        /// The thread.
        thread: usize,
    },
}

/// One client thread's recorder.
pub struct ThreadRecorder {
    thread: usize,
    start: Instant,
    interval: u64,
    interval_end: Instant,
    corrected: bool,
    stats: Box<Stats>,
    tx: Sender<Report>,
}

impl ThreadRecorder {
    /// A recorder for `thread`, timing intervals from `start`. `corrected` records intended
    /// latencies too.
    pub fn new(thread: usize, start: Instant, corrected: bool, tx: Sender<Report>) -> Self {
        ThreadRecorder {
            thread,
            start,
            interval: 0,
            interval_end: start + INTERVAL,
            corrected,
            stats: Box::default(),
            tx,
        }
    }

    /// Records one completed operation that ended at `end`.
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
        match result {
            Ok(served) => {
                stats.service.saturating_record(service.as_nanos().max(1) as u64);
                if let (Some(hist), Some(intended)) = (stats.intended.as_mut(), intended) {
                    hist.saturating_record(intended.as_nanos().max(1) as u64);
                }
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
            }
            Err(err) => {
                // Error kinds are few and static: allocate a key only the first time.
                match stats.errors.get_mut(err.kind) {
                    Some(count) => *count += 1,
                    None => {
                        stats.errors.insert(err.kind.to_string(), 1);
                    }
                }
            }
        }
    }

    fn roll(&mut self, now: Instant) {
        self.flush();
        self.interval = (now.duration_since(self.start).as_nanos() / INTERVAL.as_nanos()) as u64;
        self.interval_end = self.start + INTERVAL * (self.interval as u32 + 1);
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

/// One row of the time series: one interval, one operation kind.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRow {
    /// Seconds since the phase start (interval number).
    pub second: u64,
    /// Operation kind name, or `ALL`.
    pub op: String,
    /// Successful operations.
    pub count: u64,
    /// Failed operations.
    pub errors: u64,
    /// Median service latency, µs.
    pub p50_us: f64,
    /// 99th percentile service latency, µs.
    pub p99_us: f64,
    /// Maximum service latency, µs.
    pub max_us: f64,
}

/// A compressed interval histogram for the `.hlog` files.
#[derive(Clone, Debug)]
pub struct HlogEntry {
    /// Operation kind name.
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

/// Merges thread reports into intervals, a time series and totals.
pub struct Collector {
    threads: usize,
    warmup_intervals: u64,
    last_reported: Vec<Option<u64>>,
    done: Vec<bool>,
    pending: BTreeMap<u64, Stats>,
    /// Figures of every final interval after the warm-up.
    pub totals: Stats,
    /// Per-second rows after the warm-up.
    pub series: Vec<SeriesRow>,
    /// Interval histograms for the interval logs (after the warm-up).
    pub hlog: Vec<HlogEntry>,
    /// The most recent final interval (for status lines), with its number.
    pub latest: Option<(u64, Stats)>,
}

impl Collector {
    /// A collector for `threads` threads, excluding intervals that start within `warmup`.
    pub fn new(threads: usize, warmup: Duration) -> Self {
        let warmup_intervals = warmup.as_nanos().div_ceil(INTERVAL.as_nanos()) as u64;
        Collector {
            threads,
            warmup_intervals,
            last_reported: vec![None; threads],
            done: vec![false; threads],
            pending: BTreeMap::new(),
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

    /// Takes one report in, finalising the intervals it completes.
    pub fn accept(&mut self, report: Report) {
        match report {
            Report::Interval { thread, interval, stats } => {
                self.pending.entry(interval).or_default().merge(&stats);
                if let Some(last) = self.last_reported.get_mut(thread) {
                    *last = Some(interval);
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
            .map(|t| self.last_reported[t].map_or(0, |i| i + 1))
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
        }
    }

    fn add_interval(&mut self, interval: u64, stats: &Stats) {
        let second = interval - self.warmup_intervals;
        let mut serializer = V2DeflateSerializer::new();
        let mut rows: Vec<(String, &OpStats)> =
            stats.iter().map(|(k, s)| (k.name().to_string(), s)).collect();
        let overall = stats.overall();
        if let Some(all) = &overall {
            rows.push(("ALL".to_string(), all));
        }
        for (op, s) in rows {
            self.series.push(SeriesRow {
                second,
                op: op.clone(),
                count: s.ok(),
                errors: s.failed(),
                p50_us: us(s.service.value_at_quantile(0.5)),
                p99_us: us(s.service.value_at_quantile(0.99)),
                max_us: us(s.service.max()),
            });
            if op == "ALL" {
                continue;
            }
            for kind in [LatencyKind::Service, LatencyKind::Intended] {
                if let Some(hist) = s.latency(kind) {
                    let mut encoded = Vec::new();
                    if serializer.serialize(hist, &mut encoded).is_ok() {
                        self.hlog.push(HlogEntry {
                            op: op.clone(),
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

    #[test]
    fn intervals_merge_across_threads_and_skip_warmup() {
        let (tx, rx) = Collector::channel();
        let start = Instant::now();
        let mut collector = Collector::new(2, Duration::from_secs(1));
        let mut a = ThreadRecorder::new(0, start, false, tx.clone());
        let mut b = ThreadRecorder::new(1, start, false, tx);
        let us = Duration::from_micros;
        // Interval 0 is warm-up; intervals 1 and 2 count.
        a.record(OpKind::Read, start + Duration::from_millis(500), us(5), None, &ok());
        a.record(OpKind::Read, start + Duration::from_millis(1500), us(10), None, &ok());
        b.record(OpKind::Read, start + Duration::from_millis(1600), us(30), None, &ok());
        b.record(
            OpKind::Update,
            start + Duration::from_millis(2500),
            us(40),
            None,
            &Err(OpError::not_found()),
        );
        a.finish();
        b.finish();
        for report in rx.try_iter() {
            collector.accept(report);
        }
        assert!(collector.all_done());
        collector.finish();
        let read = collector.totals.ops[0].as_ref().expect("reads");
        assert_eq!(read.ok(), 2, "the warm-up read is excluded");
        assert_eq!(read.service.max(), read.service.highest_equivalent(30_000));
        let update = collector.totals.ops[1].as_ref().expect("updates");
        assert_eq!(update.errors.get("not_found"), Some(&1));
        assert_eq!(collector.totals.served.get(&2), Some(&2));
        let seconds: Vec<(u64, &str, u64)> =
            collector.series.iter().map(|r| (r.second, r.op.as_str(), r.count)).collect();
        assert_eq!(seconds, vec![(0, "READ", 2), (0, "ALL", 2), (1, "UPDATE", 0), (1, "ALL", 0)]);
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
        for report in rx.try_iter() {
            collector.accept(report);
        }
        assert!(collector.series.is_empty(), "thread 1 may still report interval 0");
        b.finish();
        for report in rx.try_iter() {
            collector.accept(report);
        }
        assert_eq!(collector.series.first().map(|r| r.second), Some(0));
    }
}
