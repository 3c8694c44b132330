//! Drives one phase (load or run) of a workload through a binding with N client threads.
//!
//! Each thread pulls operations from its own seeded stream, optionally paced to the target
//! rate (each operation has an intended start time; latency is measured both from the actual
//! and from the intended start, correcting coordinated omission as wrk2 and YCSB's `intended`
//! mode do), and records into its own [`ThreadRecorder`]. The threads' schedules are
//! staggered: thread t's starts are offset by t·pace/threads (pace: the per-thread period), so
//! together they issue one operation every 1/target instead of a burst of one per thread on
//! each tick. The calling thread collects reports, prints status, reads the store's per-node
//! counters at the warm-up boundary (their baseline: `nodes` covers the same measured part as
//! the figures), and stops the phase on its deadline, its operation count or Ctrl-C.
//!
//! In the run phase a nemesis thread injects faults when one is configured, and in checking
//! mode every written value is replaced by a unique tag (run nonce, thread, sequence number)
//! so that each value a read returns names the write that produced it.
//!
//! With `trace` set both phases write their operations to the trace, each row naming its
//! phase: `kvlab load` writes the load's inserts, and `kvlab run` on a store it loads first
//! writes the load's rows, then the run's under the same header.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kvlab_workloads::{CoreWorkload, OpKind, Operation};

use crate::binding::{Binding, NodeRow, Served};
use crate::error::{Error, Result};
use crate::measure::{Collector, ThreadRecorder, INTERVAL};
use crate::progress::Progress;
use crate::settings::Settings;
use crate::stages::StageStats;

/// Which YCSB phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Inserting the initial records.
    Load,
    /// The measured mix of operations.
    Run,
}

impl Phase {
    /// The name used in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Load => "load",
            Phase::Run => "run",
        }
    }
}

/// What one phase measured.
pub struct PhaseOutcome {
    /// The phase.
    pub phase: Phase,
    /// Wall-clock start.
    pub started: SystemTime,
    /// Wall-clock end.
    pub ended: SystemTime,
    /// Time from start to the last thread's end.
    pub elapsed: Duration,
    /// The measured time: `elapsed` less the warm-up.
    pub measured: Duration,
    /// Merged figures.
    pub collector: Collector,
    /// Whether the phase ran to its end (not interrupted).
    pub completed: bool,
    /// Operations issued, warm-up included.
    pub issued: u64,
    /// The store's per-node counters over the measured part of the phase (warm-up excluded).
    pub nodes: Vec<NodeRow>,
    /// Faults injected and healed by the nemesis.
    pub events: Vec<crate::nemesis::Event>,
    /// Where the measured part's store reads spent their time.
    pub stages: StageStats,
}

/// A shared stop signal (Ctrl-C, or a test).
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag not yet raised.
    pub fn new() -> Self {
        Self::default()
    }
    /// Raises the flag.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether the flag is raised.
    #[inline]
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs one phase.
///
/// With `settings.trace` set, the phase's operations go to the trace: a new file with its
/// header, or, when `append_trace` is set (an earlier phase of the same run wrote it: the run
/// phase after a load), appended to it.
///
/// # Errors
///
/// A binding that cannot give a client, or a trace file that cannot be written.
pub fn run_phase(
    phase: Phase,
    settings: &Settings,
    workload: &Arc<CoreWorkload>,
    binding: &dyn Binding,
    stop: &StopFlag,
    progress: &mut Progress,
    append_trace: bool,
) -> Result<PhaseOutcome> {
    let threads = settings.threads;
    let window = settings.inflight;
    let clients = (0..threads)
        .map(|t| match window {
            1 => binding.client(t).map(ThreadClient::Blocking),
            _ => match binding.pipelined_client(t) {
                Some(client) => client.map(ThreadClient::Pipelined),
                None => Err(crate::settings::inflight_error(binding.name(), window)),
            },
        })
        .collect::<Result<Vec<_>>>()?;
    let (warmup, deadline_after) = match phase {
        Phase::Load => (Duration::ZERO, None),
        Phase::Run => (settings.warmup, settings.duration),
    };
    // The collector drops whole one-second intervals, so the warm-up is rounded up to them.
    let warmup = INTERVAL * (warmup.as_nanos().div_ceil(INTERVAL.as_nanos()) as u32);
    let pace = settings.target.map(|t| Duration::from_secs_f64(threads as f64 / t));
    let trace = settings.trace.clone();
    let seed = workload.seed();
    if phase == Phase::Run {
        workload.start_clock();
    }
    // Checking mode tags the run's writes; the load's records keep their values, and its trace
    // rows carry their tags (what a read of them reports) all the same.
    let check = settings.check && phase == Phase::Run;
    let trace_values = settings.check;
    let nonce = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32) as u64
        & 0xffff;
    let nemesis = match (phase, &settings.nemesis, binding.faults()) {
        (Phase::Run, Some(spec), Some(cluster)) => Some((spec, cluster)),
        _ => None,
    };
    if let Some((spec, target)) = nemesis {
        let supports = |kind| target.supports(kind);
        if let Some(err) =
            crate::nemesis::unsupported(spec, &format!("db={}", binding.name()), supports)
        {
            return Err(err);
        }
    }
    let clients_done = AtomicBool::new(false);
    let (tx, rx) = Collector::channel();
    let mut collector = Collector::new(threads, warmup);
    let issued = AtomicU64::new(0);
    let started = SystemTime::now();
    let start = Instant::now();
    let deadline = deadline_after.map(|d| start + d);
    progress.begin(phase, deadline_after);
    // Store counters are cumulative: remember them where the measured part begins.
    let measured_from = start + warmup;
    let mut baseline = crate::binding::NodeBaseline::new(measured_from);
    baseline.poll(Instant::now(), || binding.nodes());

    let mut events = Vec::new();
    let ends = std::thread::scope(|scope| -> Result<Vec<(Instant, StageStats)>> {
        let clients_done = &clients_done;
        let nemesis_handle = nemesis.map(|(spec, cluster)| {
            scope.spawn(move || crate::nemesis::run(spec, cluster, start, clients_done))
        });
        let mut handles = Vec::new();
        for (thread, client) in clients.into_iter().enumerate() {
            let tx = tx.clone();
            let issued = &issued;
            let trace = trace.as_ref().map(|p| part_path(p, thread));
            handles.push(scope.spawn(move || -> Result<(Instant, StageStats)> {
                let mut sink = match &trace {
                    Some(path) => Some(TraceSink::create(path, phase, trace_values)?),
                    None => None,
                };
                let mut recorder = ThreadRecorder::new(thread, start, pace.is_some(), tx);
                let mut stages = StageStats::default();
                let mut source = match phase {
                    Phase::Load => {
                        Source::Load(Box::new(workload.load_stream(thread, threads, seed)))
                    }
                    Phase::Run => Source::Run(Box::new(workload.run_stream(thread, seed))),
                };
                let limit = match (phase, deadline) {
                    (Phase::Run, None) => {
                        CoreWorkload::share_of(workload.operation_count(), thread, threads)
                    }
                    _ => u64::MAX,
                };
                let mut driver = ThreadDriver {
                    phase,
                    thread,
                    start,
                    pace,
                    threads,
                    deadline,
                    limit,
                    stop,
                    source: &mut source,
                    recorder: &mut recorder,
                    sink: &mut sink,
                    stages: &mut stages,
                    measured_from,
                    workload: workload.as_ref(),
                    check,
                    nonce,
                };
                let n = match client {
                    ThreadClient::Blocking(mut client) => run_blocking(&mut *client, &mut driver)?,
                    ThreadClient::Pipelined(mut client) => {
                        let clock = crate::pipeline::SystemClock;
                        crate::pipeline::drive(&mut *client, window, &clock, &mut driver)?
                    }
                };
                issued.fetch_add(n, Ordering::Relaxed);
                if let Some(sink) = sink {
                    sink.finish()?;
                }
                let end = Instant::now();
                recorder.finish();
                Ok((end, stages))
            }));
        }
        drop(tx);
        // Collect until every thread is done; the channel closes when they all have.
        loop {
            // Awake at the warm-up boundary to read the counters' baseline there.
            let wake = baseline.wake_by(Instant::now() + Duration::from_millis(100));
            let received = rx.recv_deadline(wake);
            baseline.poll(Instant::now(), || binding.nodes());
            match received {
                Ok(report) => collector.accept(report),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
            progress.update(start.elapsed(), &collector);
        }
        clients_done.store(true, Ordering::Release);
        if let Some(h) = nemesis_handle {
            events = h.join().unwrap_or_default();
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::setting("client thread", "panic", "no panic")))
            })
            .collect()
    })?;
    collector.finish();
    let nodes = baseline.since(binding.nodes());
    let mut stages = StageStats::default();
    for (_, s) in &ends {
        stages.merge(s);
    }
    let end = ends.into_iter().map(|(end, _)| end).max().unwrap_or(start);
    let elapsed = end - start;
    progress.end();
    if let Some(path) = &trace {
        join_trace(path, threads, append_trace)?;
    }
    let measured = elapsed.saturating_sub(warmup.min(elapsed));
    Ok(PhaseOutcome {
        phase,
        started,
        ended: SystemTime::now(),
        elapsed,
        measured,
        collector,
        completed: !stop.is_stopped(),
        issued: issued.into_inner(),
        nodes,
        events,
        stages,
    })
}

/// A client thread's connection: one request at a time, or a window of them (`--inflight`).
enum ThreadClient {
    Blocking(Box<dyn crate::binding::DbClient>),
    Pipelined(Box<dyn crate::pipeline::PipelinedClient>),
}

/// One thread's operations, measurements and trace, for both loops: the blocking one
/// ([`run_blocking`]) and the pipelined one ([`crate::pipeline::drive`]).
struct ThreadDriver<'a> {
    phase: Phase,
    thread: usize,
    start: Instant,
    pace: Option<Duration>,
    threads: usize,
    deadline: Option<Instant>,
    limit: u64,
    stop: &'a StopFlag,
    source: &'a mut Source,
    recorder: &'a mut ThreadRecorder,
    sink: &'a mut Option<TraceSink>,
    /// Where reads answered from `measured_from` on (the warm-up's end) record their stages.
    stages: &'a mut StageStats,
    measured_from: Instant,
    workload: &'a CoreWorkload,
    check: bool,
    nonce: u64,
}

impl ThreadDriver<'_> {
    /// Operation `n`'s intended start under `--target`.
    fn intended(&self, n: u64) -> Option<Instant> {
        self.pace.map(|p| intended_start(self.start, p, self.thread, self.threads, n))
    }
}

/// One request at a time: wait for the operation's intended start (`--target`), execute it,
/// record it. Returns the number executed.
fn run_blocking(
    client: &mut dyn crate::binding::DbClient,
    driver: &mut ThreadDriver<'_>,
) -> Result<u64> {
    use crate::pipeline::{Completion, Driver, NextOp};
    let mut op = Operation::new();
    let mut n: u64 = 0;
    // The deadline is checked against the last answer's time: no extra clock read per
    // operation (the harness's own cost, `benches/overhead.rs`).
    let mut last = driver.start;
    while driver.keep_sending(last, n) {
        let intended = driver.intended(n);
        if let Some(at) = intended {
            if !wait_until(at, driver.deadline, driver.stop) {
                break;
            }
        }
        if driver.next_op(n, &mut op) == NextOp::Exhausted {
            break;
        }
        let sent = Instant::now();
        let result = client.execute(&op);
        let done = Instant::now();
        driver.done(Completion { op: &op, n, sent, done, intended, result: &result })?;
        last = done;
        n += 1;
    }
    Ok(n)
}

impl crate::pipeline::Driver for ThreadDriver<'_> {
    #[inline]
    fn keep_sending(&mut self, now: Instant, sent: u64) -> bool {
        sent < self.limit && !self.stop.is_stopped() && self.deadline.is_none_or(|d| now < d)
    }

    #[inline]
    fn next_op(&mut self, n: u64, op: &mut Operation) -> crate::pipeline::NextOp {
        let more = match self.source {
            Source::Load(s) => s.next_op(op),
            Source::Run(s) => {
                s.next_op(op);
                true
            }
        };
        if !more {
            return crate::pipeline::NextOp::Exhausted;
        }
        if self.check && op.kind.writes_value() {
            let tag = self.nonce << 48 | (self.thread as u64 & 0xffff) << 32 | (n & 0xffff_ffff);
            crate::binding::check_value(tag, &mut op.value);
        }
        crate::pipeline::NextOp::Ready(self.intended(n))
    }

    #[inline]
    fn done(&mut self, c: crate::pipeline::Completion<'_>) -> Result<()> {
        if self.phase == Phase::Run && c.op.kind == OpKind::Insert {
            // Acknowledged whether or not it succeeded, as YCSB does.
            let _ = self.workload.acknowledge_insert(c.op.keynum);
        }
        let service = c.done - c.sent;
        let intended = c.intended.map(|at| c.done.saturating_duration_since(at));
        self.recorder.record(c.op.kind, c.done, service, intended, c.result);
        if c.done >= self.measured_from {
            record_stages(self.stages, service, c.result);
        }
        if let Some(sink) = self.sink {
            sink.write(self.thread, c.op, c.sent - self.start, service, intended, c.result)?;
        }
        Ok(())
    }
}

/// Records a store read's stages (reads only; `not_found` reads were served too).
fn record_stages(
    stages: &mut StageStats,
    latency: Duration,
    result: &std::result::Result<Served, crate::binding::OpError>,
) {
    let served = match result {
        Ok(served) => served,
        Err(e) => &e.served,
    };
    if let Some(s) = &served.stages {
        stages.record(s, latency);
    }
}

/// A thread's operation stream (boxed: the run stream is much larger than the load stream).
enum Source {
    Load(Box<kvlab_workloads::LoadStream>),
    Run(Box<kvlab_workloads::RunStream>),
}

/// The intended start of thread `thread`'s operation `n` (from 0) under `--target`: one every
/// `pace` (the per-thread period, threads / target), thread t's schedule offset by
/// t·pace/threads, so the threads' operations spread evenly over each period (together one
/// every 1 / target) instead of every thread firing on the same tick.
fn intended_start(
    start: Instant,
    pace: Duration,
    thread: usize,
    threads: usize,
    n: u64,
) -> Instant {
    let threads = threads.max(1) as u128;
    let ns = pace.as_nanos() * (u128::from(n) * threads + thread as u128) / threads;
    start + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// Waits until `at`; false when the deadline passes or a stop is requested first.
fn wait_until(at: Instant, deadline: Option<Instant>, stop: &StopFlag) -> bool {
    loop {
        let now = Instant::now();
        if now >= at {
            return true;
        }
        if deadline.is_some_and(|d| now >= d) || stop.is_stopped() {
            return false;
        }
        let left = at - now;
        if left > Duration::from_millis(1) {
            std::thread::sleep((left - Duration::from_micros(500)).min(Duration::from_millis(50)));
        } else if left > Duration::from_micros(50) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The trace's header. `start_ns` counts from the start of the row's phase; `served_as` is the
/// read policy that served a read; `value` (checking mode) is the tag written or read, in hex,
/// or `nil` for a read that found nothing; `index_lag` and `age_ms` are a stale read's reported
/// staleness; `phase` is `load` or `run`.
pub const TRACE_HEADER: &str = "thread,op,key,start_ns,latency_ns,intended_latency_ns,status,\
                                node,served_as,value,index_lag,age_ms,phase";

fn part_path(path: &Path, thread: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".part{thread}"));
    PathBuf::from(name)
}

/// One thread's share of the trace.
struct TraceSink {
    path: PathBuf,
    out: BufWriter<File>,
    phase: Phase,
    check: bool,
}

impl TraceSink {
    fn create(path: &Path, phase: Phase, check: bool) -> Result<Self> {
        let file =
            File::create(path).map_err(|e| Error::io("cannot create trace file", path, e))?;
        let out = BufWriter::with_capacity(1 << 16, file);
        Ok(TraceSink { path: path.to_path_buf(), out, phase, check })
    }

    fn write(
        &mut self,
        thread: usize,
        op: &Operation,
        start: Duration,
        latency: Duration,
        intended: Option<Duration>,
        result: &std::result::Result<crate::binding::Served, crate::binding::OpError>,
    ) -> Result<()> {
        let key = if op.kind == OpKind::BatchRead {
            op.batch
                .iter()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            String::from_utf8_lossy(&op.key).into_owned()
        };
        let (status, served) = match result {
            Ok(served) => ("ok", Some(served)),
            Err(err) => (err.kind, Some(&err.served)),
        };
        let node = served.and_then(|s| s.node).map(|n| n.to_string()).unwrap_or_default();
        let served_as = served.and_then(|s| s.served_as).unwrap_or("");
        let value = match (result, op.kind) {
            _ if !self.check => String::new(),
            (Ok(Served { observed: Some(tag), .. }), _) => format!("{tag:x}"),
            (Err(e), OpKind::Read) if e.kind == "not_found" => "nil".to_string(),
            _ if op.kind.writes_value() => format!("{:x}", crate::binding::value_tag(&op.value)),
            _ => String::new(),
        };
        let (lag, age) = match served.and_then(|s| s.staleness) {
            Some(st) => (st.index_lag.to_string(), st.age_ms.to_string()),
            None => (String::new(), String::new()),
        };
        let intended = intended.map(|d| d.as_nanos().to_string()).unwrap_or_default();
        writeln!(
            self.out,
            "{thread},{},{key},{},{},{intended},{status},{node},{served_as},{value},{lag},{age},{}",
            op.kind.name(),
            start.as_nanos(),
            latency.as_nanos(),
            self.phase.as_str()
        )
        .map_err(|e| Error::io("cannot write trace file", &self.path, e))
    }

    fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io("cannot write trace file", &self.path, e))
    }
}

/// Concatenates the per-thread parts, in thread order, under one header: into a new file, or
/// appended to the file an earlier phase wrote (`append`).
fn join_trace(path: &Path, threads: usize, append: bool) -> Result<()> {
    let file = if append {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io("cannot append to trace file", path, e))?
    } else {
        File::create(path).map_err(|e| Error::io("cannot create trace file", path, e))?
    };
    let mut out = BufWriter::new(file);
    let io = |e| Error::io("cannot write trace file", path, e);
    if !append {
        writeln!(out, "{TRACE_HEADER}").map_err(io)?;
    }
    for thread in 0..threads {
        let part = part_path(path, thread);
        let mut input =
            File::open(&part).map_err(|e| Error::io("cannot read trace part", &part, e))?;
        std::io::copy(&mut input, &mut out).map_err(io)?;
        std::fs::remove_file(&part).map_err(|e| Error::io("cannot remove trace part", &part, e))?;
    }
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use kvlab_workloads::Properties;

    use super::*;
    use crate::binding::DbClient;

    #[test]
    fn paced_threads_are_staggered_over_the_period() {
        let start = Instant::now();
        // 4 threads at 1000 ops/s: each thread every 4 ms, thread t offset by t ms.
        let pace = Duration::from_millis(4);
        let mut all: Vec<Duration> = (0..4)
            .flat_map(|t| (0..3).map(move |n| intended_start(start, pace, t, 4, n) - start))
            .collect();
        let first: Vec<u128> = (0..4).map(|t| all[t * 3].as_millis()).collect();
        assert_eq!(first, [0, 1, 2, 3], "thread t starts t·pace/threads late");
        assert_eq!(intended_start(start, pace, 2, 4, 5) - start, Duration::from_millis(22));
        all.sort();
        let expected: Vec<Duration> = (0..12).map(Duration::from_millis).collect();
        assert_eq!(all, expected, "together one operation every 1/target, no burst per tick");
        // One thread is not offset; uneven divisions stay exact to the nanosecond.
        assert_eq!(intended_start(start, pace, 0, 1, 3) - start, Duration::from_millis(12));
        let third = intended_start(start, Duration::from_nanos(10), 1, 3, 1) - start;
        assert_eq!(third, Duration::from_nanos(13));
    }

    /// A scripted store: every operation is one read served, counted like a node's counter.
    struct Counting(Arc<AtomicU64>);

    struct CountingClient(Arc<AtomicU64>);

    impl DbClient for CountingClient {
        fn execute(
            &mut self,
            _op: &Operation,
        ) -> std::result::Result<Served, crate::binding::OpError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Served::default())
        }
    }

    impl Binding for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn client(&self, _thread: usize) -> Result<Box<dyn DbClient>> {
            Ok(Box::new(CountingClient(self.0.clone())))
        }
        fn nodes(&self) -> Vec<NodeRow> {
            let reads = vec![("leader".to_string(), self.0.load(Ordering::SeqCst))];
            vec![NodeRow { node: 1, reads, ..NodeRow::default() }]
        }
    }

    fn run(props: &[(&str, &str)], counting: &Counting) -> PhaseOutcome {
        let mut all = vec![("db".to_string(), "null".to_string())];
        all.extend(props.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = Settings::from_properties(Properties::load(&[], &all).expect("props"))
            .expect("settings");
        let workload = CoreWorkload::new(&settings.props).expect("workload");
        let (stop, mut progress) = (StopFlag::new(), Progress::quiet());
        run_phase(Phase::Run, &settings, &workload, counting, &stop, &mut progress, false)
            .expect("run")
    }

    #[test]
    fn counters_of_a_run_within_its_warmup_are_empty() {
        // 500 reads before the phase (a load); the run's 20 reads end well inside the warm-up.
        let counting = Counting(Arc::new(AtomicU64::new(500)));
        let props = [
            ("recordcount", "10"),
            ("operationcount", "20"),
            ("warmup", "5s"),
            ("threadcount", "2"),
        ];
        let outcome = run(&props, &counting);
        assert_eq!(outcome.issued, 20);
        let measured = outcome.collector.totals.ok();
        assert_eq!(measured, 0, "every completion lies in the warm-up");
        assert_eq!(
            outcome.nodes[0].reads,
            vec![("leader".to_string(), measured)],
            "the counters cover what the figures cover: not the warm-up, not the load"
        );
    }

    #[test]
    fn traced_threads_start_on_their_staggered_schedule() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let trace = dir.path().join("trace.csv");
        let counting = Counting(Arc::new(AtomicU64::new(0)));
        // 2 threads at 20 ops/s: each thread every 100 ms, thread 1 offset by 50 ms.
        let trace_prop = trace.display().to_string();
        let props = [
            ("recordcount", "10"),
            ("operationcount", "4"),
            ("threadcount", "2"),
            ("target", "20"),
            ("trace", trace_prop.as_str()),
        ];
        run(&props, &counting);
        let text = std::fs::read_to_string(&trace).expect("trace");
        let mut starts: Vec<(u64, u64)> = text
            .lines()
            .skip(1)
            .map(|line| {
                let cols: Vec<&str> = line.split(',').collect();
                (cols[0].parse().expect("thread"), cols[3].parse().expect("start_ns"))
            })
            .collect();
        starts.sort();
        assert_eq!(starts.len(), 4, "{text}");
        // No operation starts before its intended start.
        let ms = 1_000_000;
        for ((thread, start), earliest) in starts.iter().zip([0, 100 * ms, 50 * ms, 150 * ms]) {
            assert!(*start >= earliest, "thread {thread} started at {start} ns: {text}");
        }
    }
}
