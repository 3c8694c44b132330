//! The harness's own cost, measured in one run on this machine:
//!
//! * the `null` binding on workload C with 2 threads (target ≥ 10 M ops/s; YCSB's Java client
//!   with its no-op BasicDB reaches about 4.5 M here);
//! * the `engine` binding with RocksDB on workload C, uniform, data in cache, 2 threads, against
//!   raw `rocksdb::DB::get_pinned` on the same database and the same key distribution
//!   (target ≥ 0.85).
//!
//! Each side's throughput is its operations over the time it measured: the harness's
//! measured run phase, and for raw RocksDB the time from the moment every thread holds its
//! precomputed keys (generated before the window opens) to the last thread's last read.
//!
//! Each figure is the median of three measurements (this machine's throughput varies by up to
//! 1.7x between back-to-back runs). Run: `cargo bench --workspace --bench overhead`
//! (`KVLAB_SECS` sets each measurement's length, default 5).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use kvlab_harness::experiment::{run_once, Mode};
use kvlab_harness::progress::Progress;
use kvlab_harness::runner::StopFlag;
use kvlab_harness::settings::Settings;
use kvlab_store::{Engine, RocksEngine, RocksOptions, WriteBatch};
use kvlab_workloads::{CoreWorkload, Operation, Properties};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const RECORDS: u64 = 100_000;
const THREADS: usize = 2;

fn workload_c(extra: &[(&str, String)]) -> Properties {
    let root = kvlab_harness::workspace_root();
    let mut overrides: Vec<(String, String)> = vec![
        ("recordcount".into(), RECORDS.to_string()),
        ("threadcount".into(), THREADS.to_string()),
        ("seed".into(), "42".into()),
    ];
    overrides.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Properties::load(&[root.join("workloads/ycsb/workloadc")], &overrides).expect("workload C")
}

fn harness_throughput(props: Properties) -> f64 {
    let settings = Settings::from_properties(props).expect("settings");
    let record = run_once(
        settings,
        Mode::Run,
        &StopFlag::new(),
        &mut Progress::quiet(),
        "bench",
        Vec::new(),
        1,
    )
    .expect("run");
    let run = record.run.expect("run phase");
    let errors: u64 = run.collector.totals.iter().map(|(_, s)| s.failed()).sum();
    assert_eq!(errors, 0, "no failed operations");
    run.collector.totals.ok() as f64 / run.measured.as_secs_f64()
}

/// Raw get_pinned from THREADS threads over the keys a uniform workload C chooses, for about
/// `secs` seconds: ops/s over the time the threads actually spent reading. The keys are
/// generated before the timed window opens (every thread's, then a barrier), as the harness's
/// figures exclude its set-up too.
fn raw_throughput(engine: &RocksEngine, secs: u64, props: &Properties) -> f64 {
    let workload = CoreWorkload::new(props).expect("workload");
    let done = AtomicBool::new(false);
    let ready = Barrier::new(THREADS + 1);
    let (total, elapsed) = std::thread::scope(|s| {
        let readers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (workload, done, ready) = (&workload, &done, &ready);
                s.spawn(move || {
                    // The same keys the harness would choose, generated up front.
                    let mut stream = workload.run_stream(thread, 42);
                    let mut op = Operation::new();
                    let keys: Vec<Vec<u8>> = (0..1 << 16)
                        .map(|_| {
                            stream.next_op(&mut op);
                            op.key.clone()
                        })
                        .collect();
                    ready.wait();
                    let mut n = 0u64;
                    while !done.load(Ordering::Relaxed) {
                        for _ in 0..1024 {
                            let key = &keys[(n as usize) & (keys.len() - 1)];
                            let value =
                                engine.raw().get_pinned(key).expect("get").expect("present");
                            std::hint::black_box(value.len());
                            n += 1;
                        }
                    }
                    (n, Instant::now())
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        done.store(true, Ordering::Relaxed);
        let (mut total, mut end) = (0, start);
        for reader in readers {
            let (n, stopped) = reader.join().expect("reader thread");
            total += n;
            end = end.max(stopped);
        }
        // From the moment every thread was ready to the last read: the reads' own time.
        (total, end - start)
    });
    total as f64 / elapsed.as_secs_f64()
}

/// The median of three measurements, printing each.
fn median3(label: &str, mut measure: impl FnMut() -> f64) -> f64 {
    let mut runs: Vec<f64> = (0..3).map(|_| measure()).collect();
    println!("{label}: {}", runs.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", "));
    runs.sort_by(f64::total_cmp);
    runs[1]
}

fn main() {
    let secs: u64 = std::env::var("KVLAB_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let duration = format!("{secs}s");

    let null = median3("null binding ops/s", || {
        harness_throughput(workload_c(&[("db", "null".into()), ("duration", duration.clone())]))
    });
    println!(
        "null binding, workload C, {THREADS} threads: {:.2} M ops/s median (target >= 10 M)",
        null / 1e6
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    let rocks_opts = [("block_cache_mb".to_string(), "512".to_string())];
    let uniform = [("requestdistribution", "uniform".to_string())];
    let raw = {
        let engine = RocksEngine::open(
            dir.path(),
            &RocksOptions::from_pairs(&rocks_opts).expect("options"),
            &[],
        )
        .expect("open");
        // Load exactly the records the workload's load phase writes.
        let workload = CoreWorkload::new(&workload_c(&uniform)).expect("workload");
        let mut stream = workload.load_stream(0, 1, 42);
        let mut op = Operation::new();
        let mut batch = WriteBatch::new();
        while stream.next_op(&mut op) {
            batch.put(op.key.clone(), op.value.clone());
            if batch.len() == 1000 {
                engine.write(std::mem::take(&mut batch)).expect("load");
            }
        }
        engine.write(batch).expect("load");
        engine.flush().expect("flush");
        raw_throughput(&engine, 1, &workload_c(&uniform)); // warm the cache
        median3("raw get_pinned ops/s", || raw_throughput(&engine, secs, &workload_c(&uniform)))
    };
    let engine_props = workload_c(&[
        ("db", "engine".into()),
        ("engine", "rocksdb".into()),
        ("engine.dir", dir.path().display().to_string()),
        ("rocksdb.block_cache_mb", "512".into()),
        ("requestdistribution", "uniform".into()),
        ("warmup", "1s".into()),
        ("duration", format!("{}s", secs + 1)),
    ]);
    let engine = median3("engine binding ops/s", || harness_throughput(engine_props.clone()));
    println!("raw rocksdb get_pinned, {THREADS} threads: {:.0} ops/s", raw);
    println!(
        "engine binding (rocksdb), workload C uniform, {THREADS} threads: {:.0} ops/s",
        engine
    );
    println!("engine binding / raw: {:.3} (target >= 0.85)", engine / raw);
}
