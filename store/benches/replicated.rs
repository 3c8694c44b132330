//! Replicated store vs. the engine called directly, in one run on one machine.
//!
//! * reads: 8 client threads, uniform gets over preloaded keys, per read policy, against 8
//!   threads calling `RocksEngine::get` on an engine holding the same keys; first blocking
//!   clients (one read in flight per thread: the ReadIndex round's latency bounds them), then
//!   pipelined ones (`KVLAB_BENCH_WINDOW` reads in flight per thread, default 128, as a TiKV
//!   client batches requests; this measures the store's read capacity);
//! * reads over gRPC: leader gets of node processes (this binary runs them as its `node`
//!   subcommand) against the in-process cluster, both pipelined with the same reads in flight;
//! * writes: 8 client threads of puts on a 3-replica cluster against 8 threads of direct puts;
//! * synced writes: 16 writers on a cluster whose RocksDB fsyncs every log write, per
//!   group-commit delay, against 16 threads of puts on one RocksDB with `sync=true` (RocksDB's
//!   own group commit); reports throughput, mean latency (16 writers / throughput, Little's
//!   law) and, as the explanation, the writes acknowledged per fsync on the leader.
//!
//! Each read and write case runs in alternating slices with its baseline, so the ratio compares
//! them under the same machine conditions (this machine's speed drifts within seconds). Keys
//! are precomputed for both sides. No work crosses a slice boundary: a pipelined client starts
//! each slice with an empty window and, when the slice ends, waits for the reads still in
//! flight (counted in that slice, their time included), so they neither run during the
//! baseline's slice nor count as instant answers in the next one.
//!
//! Without a read pool (`inline`) and with no emulated latency, a lease or stale get is decided
//! and read on the client's own thread: those cases measure an engine get (plus the lease or
//! staleness check) on the client thread, not a request to a node, and are named so.
//!
//! Run: `make bench BENCH=replicated` (set `KVLAB_BENCH_SECS` to change the
//! 2-second measurement window, `KVLAB_BENCH_WINDOW=32,128` the reads in flight;
//! `KVLAB_BENCH_ONLY=leader,fsync` runs only the cases whose name
//! contains one of the comma-separated words). Output is a table of ops/s, the baseline's ops/s
//! and their ratio.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kvlab_store::{
    Client, ClientConfig, Cluster, ClusterConfig, Engine, EngineKind, PendingGet, RaftLogStore,
    ReadPolicy, ReplicaChoice, RocksEngine, RocksOptions,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const KEYS: u64 = 10_000;
const VALUE: usize = 100;
/// Reads each client thread keeps in flight in the pipelined read cases
/// (`KVLAB_BENCH_WINDOW`, a comma-separated list). The default, 128, is the TiKV client's
/// default batch size (`tikv-client.max-batch-size`): 8 such threads keep 1,024 reads in
/// flight, about what TiDB's default limit of 1,000 concurrent sessions can issue.
fn pipeline_windows() -> Vec<usize> {
    let list = std::env::var("KVLAB_BENCH_WINDOW").unwrap_or_else(|_| "128".into());
    let windows: Vec<usize> =
        list.split(',').filter_map(|w| w.trim().parse().ok()).filter(|&w| w > 0).collect();
    if windows.is_empty() {
        vec![128]
    } else {
        windows
    }
}

/// The user key of record `i` (precomputed: key formatting is not what is measured).
fn key(i: u64) -> &'static [u8] {
    &all_keys().0[i as usize]
}

/// The engine key the cluster stores record `i` under (`z` + user key), for the direct engine.
fn kvlab_key(i: u64) -> &'static [u8] {
    &all_keys().1[i as usize]
}

/// Every record's user key and engine key.
type KeySet = (Vec<Vec<u8>>, Vec<Vec<u8>>);

fn all_keys() -> &'static KeySet {
    static KEYS_: OnceLock<KeySet> = OnceLock::new();
    KEYS_.get_or_init(|| {
        let user: Vec<Vec<u8>> = (0..KEYS).map(kvlab_store::ycsb_key).collect();
        let engine = user.iter().map(|k| [b"z".as_slice(), k].concat()).collect();
        (user, engine)
    })
}

fn window() -> Duration {
    let secs = std::env::var("KVLAB_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

/// One benchmark operation: called on client thread `t` with that thread's seeded RNG;
/// returns whether it succeeded (only successes are counted).
type Op = Arc<dyn Fn(usize, &mut ChaCha8Rng) -> bool + Send + Sync>;

/// Called once on client thread `t` when a slice ends, after its last [`Op`]: finishes the
/// work that thread still has in flight (a pipelined client's window) and returns the
/// successes among it, so nothing carries over into the next slice.
type Drain = Arc<dyn Fn(usize) -> u64 + Send + Sync>;

/// Each case and its baseline run in this many alternating slices of the window, so machine
/// noise (this shared 2-core machine's speed drifts by tens of percent over seconds) hits
/// both alike and the ratio stays meaningful.
const SLICES: u64 = 8;

/// Runs `op` on `threads` threads named `tag-N` for `dur`, then `drain` on each; returns the
/// successes and the time taken (the drain's included).
fn run_for(
    tag: &str,
    threads: usize,
    op: &Op,
    drain: Option<&Drain>,
    dur: Duration,
    seed: u64,
) -> (u64, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (op, stop, count) = (op.clone(), stop.clone(), count.clone());
            let drain = drain.cloned();
            std::thread::Builder::new().name(format!("{tag}-{t}")).spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(seed * 1000 + t as u64 + 1);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    if op(t, &mut rng) {
                        n += 1;
                    }
                }
                if let Some(drain) = drain {
                    n += drain(t);
                }
                count.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect::<std::io::Result<_>>()
        .expect("spawn a benchmark thread");
    std::thread::sleep(dur);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    (count.load(Ordering::Relaxed), start.elapsed())
}

/// The ops/s of `base` and of `case`, each on `threads` threads, measured in alternating
/// slices that together take twice the window.
fn paired(threads: usize, base: &Op, case: &Op) -> (f64, f64) {
    paired_drained(threads, base, case, None)
}

/// [`paired`], with `drain` ending each of `case`'s slices.
fn paired_drained(threads: usize, base: &Op, case: &Op, drain: Option<&Drain>) -> (f64, f64) {
    let slice = window() / SLICES as u32;
    let (mut nb, mut tb, mut nc, mut tc) = (0, Duration::ZERO, 0, Duration::ZERO);
    for i in 0..SLICES {
        let (n, t) = run_for("base", threads, base, None, slice, i);
        (nb, tb) = (nb + n, tb + t);
        let (n, t) = run_for("case", threads, case, drain, slice, i);
        (nc, tc) = (nc + n, tc + t);
    }
    (nb as f64 / tb.as_secs_f64(), nc as f64 / tc.as_secs_f64())
}

/// Width of the case column.
const NAME: usize = 68;

/// Prints one result row.
fn row(name: &str, ops: f64, base: Option<f64>) {
    match base {
        Some(b) => println!("{name:<NAME$} {ops:>10.0} {b:>10.0} {:>6.2}", ops / b),
        None => println!("{name:<NAME$} {ops:>10.0} {:>10} {:>6}", "-", "-"),
    }
}

/// Whether the case named `name` runs (`KVLAB_BENCH_ONLY`, see the module docs).
fn selected(name: &str) -> bool {
    match std::env::var("KVLAB_BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => {
            only.split(',').map(str::trim).any(|w| !w.is_empty() && name.contains(w))
        }
        _ => true,
    }
}

fn cluster_config(dir: &std::path::Path, sync: bool) -> ClusterConfig {
    let mut engine_options = vec![("rocksdb.preset".to_string(), "default".to_string())];
    if sync {
        engine_options.push(("rocksdb.sync".into(), "true".into()));
    }
    ClusterConfig {
        engine: EngineKind::RocksDb,
        dir: Some(dir.to_path_buf()),
        engine_options,
        read_pool_threads: 2,
        ..ClusterConfig::default()
    }
}

fn main() -> kvlab_store::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return Ok(());
    }
    // This binary is also the node program of the gRPC case's node processes:
    // `replicated node --cluster FILE --id N --lifeline`.
    if args.get(1).map(String::as_str) == Some("node") {
        let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
        let (Some(file), Some(id)) = (arg("--cluster"), arg("--id")) else {
            return Err(kvlab_store::Error::Unavailable("node: --cluster and --id".into()));
        };
        let id = id.parse().map_err(|_| kvlab_store::Error::Unavailable(format!("--id {id}")))?;
        return kvlab_store::run_node(std::path::Path::new(file), id, true);
    }
    let value = vec![b'x'; VALUE];
    println!(
        "kvlab-store replicated benchmark: {KEYS} keys, {VALUE}-byte values, window {:?}, \
         pipelined reads {:?} per client thread",
        window(),
        pipeline_windows()
    );
    println!("{:<NAME$} {:>10} {:>10} {:>6}", "case", "ops/s", "base ops/s", "ratio");

    // The baselines: the engine called directly, by 8 threads, on the same keys.
    let dir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let direct: Arc<dyn Engine> =
        Arc::new(RocksEngine::open(dir.path(), &RocksOptions::default(), &[])?);
    for i in 0..KEYS {
        direct.put(kvlab_key(i), &value)?;
    }
    let e = direct.clone();
    let direct_get: Op = Arc::new(move |_, rng| {
        e.get(kvlab_key(rng.gen_range(0..KEYS))).map(|v| v.is_some()).unwrap_or(false)
    });
    let e = direct.clone();
    let v = value.clone();
    let direct_put: Op =
        Arc::new(move |_, rng| e.put(kvlab_key(rng.gen_range(0..KEYS)), &v).is_ok());

    // Reads through the cluster: with a 2-thread read pool per node, then inline (pool = 0).
    let cdir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let cluster = Arc::new(Cluster::start(cluster_config(cdir.path(), false))?);
    load(&cluster, &value)?;
    read_suite(&cluster, &direct_get, "pool=2")?;
    grpc_reads(&cluster, &value)?;
    let idir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let inline = Arc::new(Cluster::start(ClusterConfig {
        read_pool_threads: 0,
        ..cluster_config(idir.path(), false)
    })?);
    load(&inline, &value)?;
    read_suite(&inline, &direct_get, "inline")?;
    drop(inline);

    let name = "store put, 3 replicas (8 thr)";
    if selected(name) {
        let clients = writers(&cluster, 8, 200);
        let v = value.clone();
        let put: Op =
            Arc::new(move |t, rng| clients[t].lock().put(key(rng.gen_range(0..KEYS)), &v).is_ok());
        let (base, ops) = paired(8, &direct_put, &put);
        row(name, ops, Some(base));
    }
    drop(cluster);
    drop(direct);

    // Synced writes: the baseline is one RocksDB with sync=true and 16 writer threads.
    let sdir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let synced: Arc<dyn Engine> = Arc::new(RocksEngine::open(
        sdir.path(),
        &RocksOptions { sync: true, ..Default::default() },
        &[],
    )?);
    let v = value.clone();
    let synced_put: Op =
        Arc::new(move |_, rng| synced.put(kvlab_key(rng.gen_range(0..KEYS)), &v).is_ok());
    // Raft log in the data engine, then in its own engine; no group-commit delay (the
    // default), the adaptive delay (`store.commit_delay_us=auto`), fixed 300 µs and 1 ms.
    for (raft_log, delay_us) in [
        (RaftLogStore::SameEngine, Some(0)),
        (RaftLogStore::SameEngine, None),
        (RaftLogStore::SeparateEngine, Some(0)),
        (RaftLogStore::SeparateEngine, None),
        (RaftLogStore::SeparateEngine, Some(300)),
        (RaftLogStore::SeparateEngine, Some(1000)),
    ] {
        group_commit(raft_log, delay_us.map(Duration::from_micros), &value, &synced_put)?;
    }
    // The default's choice, head to head: the adaptive delay against none, in alternating
    // slices of one run.
    for raft_log in [RaftLogStore::SameEngine, RaftLogStore::SeparateEngine] {
        let name = format!("put fsync {raft_log:?} auto vs 0us (16 thr)");
        if selected(&name) {
            let (none, _none_dir) = synced_writers(raft_log, Some(Duration::ZERO), &value)?;
            let (auto, _auto_dir) = synced_writers(raft_log, None, &value)?;
            let (base, ops) = paired(16, &none.0, &auto.0);
            row(&name, ops, Some(base));
        }
    }
    Ok(())
}

/// A single-region cluster whose RocksDB fsyncs every log write, with the given group-commit
/// delay, and an op of 16 writers on it (with its cluster and directory, kept alive by the
/// caller).
fn synced_writers(
    raft_log: RaftLogStore,
    delay: Option<Duration>,
    value: &[u8],
) -> kvlab_store::Result<((Op, Arc<Cluster>), tempfile::TempDir)> {
    let dir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let cfg = ClusterConfig {
        regions: 1,
        raft_log,
        commit_delay: delay,
        ..cluster_config(dir.path(), true)
    };
    let cluster = Arc::new(Cluster::start(cfg)?);
    let clients = writers(&cluster, 16, 300);
    let v = value.to_vec();
    let put: Op =
        Arc::new(move |t, rng| clients[t].lock().put(key(rng.gen_range(0..KEYS)), &v).is_ok());
    Ok(((put, cluster), dir))
}

/// 16 writers on a single region whose RocksDB fsyncs every log write, against 16 threads of
/// synced puts on one RocksDB: throughput, mean latency, and writes acknowledged per write to
/// the log engine (= fsyncs) on the leader.
fn group_commit(
    raft_log: RaftLogStore,
    delay: Option<Duration>,
    value: &[u8],
    baseline: &Op,
) -> kvlab_store::Result<()> {
    let delay_name = delay.map_or("auto".to_string(), |d| format!("{}us", d.as_micros()));
    let name = format!("put fsync {raft_log:?} +{delay_name} (16 thr)");
    if !selected(&name) {
        return Ok(());
    }
    let sdir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let cfg = ClusterConfig {
        regions: 1,
        raft_log,
        commit_delay: delay,
        ..cluster_config(sdir.path(), true)
    };
    let cluster = Cluster::start(cfg)?;
    let leader = cluster.leader_of(1).unwrap_or(1);
    let log_writes = |c: &Cluster| {
        c.metrics().iter().find(|m| m.node == leader).map(|m| m.log_writes).unwrap_or(0)
    };
    let before = log_writes(&cluster);
    let clients = writers(&cluster, 16, 300);
    let v = value.to_vec();
    let acked = Arc::new(AtomicU64::new(0));
    let a = acked.clone();
    let put: Op = Arc::new(move |t, rng| {
        let ok = clients[t].lock().put(key(rng.gen_range(0..KEYS)), &v).is_ok();
        if ok {
            a.fetch_add(1, Ordering::Relaxed);
        }
        ok
    });
    let (base, ops) = paired(16, baseline, &put);
    let fsyncs = log_writes(&cluster).saturating_sub(before).max(1);
    let per_fsync = acked.load(Ordering::Relaxed) as f64 / fsyncs as f64;
    row(&name, ops, Some(base));
    let mean_ms = |ops: f64| 16_000.0 / ops.max(1.0);
    println!(
        "  mean latency {:.2} ms (RocksDB sync=true alone: {:.2} ms); writes per fsync on the \
         leader: {per_fsync:.1}",
        mean_ms(ops),
        mean_ms(base)
    );
    Ok(())
}

/// `n` clients with default settings and seeds `seed..seed + n`, one per benchmark thread.
fn writers(cluster: &Cluster, n: u64, seed: u64) -> Arc<Vec<parking_lot::Mutex<Client>>> {
    let clients = (0..n)
        .map(|t| {
            let config = ClientConfig { seed: seed + t, ..ClientConfig::default() };
            parking_lot::Mutex::new(cluster.client(config))
        })
        .collect();
    Arc::new(clients)
}

/// Loads every key through the cluster with 8 writer threads.
fn load(cluster: &Arc<Cluster>, value: &[u8]) -> kvlab_store::Result<()> {
    let loaders: Vec<_> = (0..8u64)
        .map(|t| {
            let (cluster, value) = (cluster.clone(), value.to_vec());
            std::thread::spawn(move || -> kvlab_store::Result<()> {
                let mut c = cluster.client(ClientConfig { seed: t, ..ClientConfig::default() });
                for i in (t..KEYS).step_by(8) {
                    c.put(key(i), &value)?;
                }
                Ok(())
            })
        })
        .collect();
    for h in loaders {
        h.join().map_err(|_| kvlab_store::Error::Unavailable("loader panicked".into()))??;
    }
    Ok(())
}

/// Measures 8-thread uniform gets under every policy, each against direct engine gets: first
/// blocking clients (one read in flight per thread), then pipelined ones (each thread keeps
/// [`pipeline_windows`] reads in flight with `submit_get`/`wait_get`, drained when each slice
/// ends). On `inline`, lease and stale gets run on the client thread and are named so.
/// Leader reads of node processes over gRPC against the in-process cluster, both pipelined
/// with the same reads in flight, in alternating slices (each slice drained).
fn grpc_reads(local: &Arc<Cluster>, value: &[u8]) -> kvlab_store::Result<()> {
    let windows = pipeline_windows();
    let names: Vec<String> = windows
        .iter()
        .map(|w| format!("store get leader grpc vs in-process pool=2 (8 thr x {w})"))
        .collect();
    if !names.iter().any(|n| selected(n)) {
        return Ok(());
    }
    let dir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let pairs: Vec<(String, String)> = [
        ("store.processes", "true"),
        ("engine", "rocksdb"),
        ("rocksdb.preset", "default"),
        ("store.read_pool_threads", "2"),
        ("store.dir", dir.path().to_str().unwrap_or(".")),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut config = ClusterConfig::from_pairs(&pairs)?;
    config.node_program = Some(std::env::current_exe().map_err(kvlab_store::Error::engine)?);
    let remote = Arc::new(Cluster::start(config)?);
    load(&remote, value)?;
    for (w, name) in windows.into_iter().zip(names) {
        if !selected(&name) {
            continue;
        }
        let (base, base_drain) = pipelined_gets(local, ReadPolicy::Leader, w);
        let (case, case_drain) = pipelined_gets(&remote, ReadPolicy::Leader, w);
        let slice = window() / SLICES as u32;
        let (mut nb, mut tb, mut nc, mut tc) = (0, Duration::ZERO, 0, Duration::ZERO);
        for i in 0..SLICES {
            let (n, t) = run_for("base", 8, &base, Some(&base_drain), slice, i);
            (nb, tb) = (nb + n, tb + t);
            let (n, t) = run_for("case", 8, &case, Some(&case_drain), slice, i);
            (nc, tc) = (nc + n, tc + t);
        }
        row(&name, nc as f64 / tc.as_secs_f64(), Some(nb as f64 / tb.as_secs_f64()));
    }
    Ok(())
}

/// 8 clients of `policy` on `cluster`, each keeping `in_flight` gets in flight, and the drain
/// that collects a client's window at the end of a slice.
fn pipelined_gets(cluster: &Arc<Cluster>, policy: ReadPolicy, in_flight: usize) -> (Op, Drain) {
    let clients: Vec<_> = (0..8)
        .map(|t| {
            let client = cluster.client(ClientConfig {
                read_policy: policy,
                replica_choice: ReplicaChoice::RoundRobin,
                seed: 100 + t,
                ..ClientConfig::default()
            });
            parking_lot::Mutex::new((client, VecDeque::with_capacity(in_flight)))
        })
        .collect();
    let clients = Arc::new(clients);
    let pending = clients.clone();
    let drain: Drain = Arc::new(move |t| {
        let (client, window) = &mut *pending[t].lock();
        let mut ok = 0;
        while let Some(p) = window.pop_front() {
            ok += u64::from(client.wait_get(p).is_ok_and(|r| r.value.is_some()));
        }
        ok
    });
    let get: Op = Arc::new(move |t, rng| {
        let (client, window) = &mut *clients[t].lock();
        while window.len() < in_flight {
            window.push_back(client.submit_get(key(rng.gen_range(0..KEYS))));
        }
        // Collect an answered read if there is one, else wait for the oldest.
        let next = window.iter().position(PendingGet::is_answered).unwrap_or(0);
        window.remove(next).is_some_and(|p| client.wait_get(p).is_ok_and(|r| r.value.is_some()))
    });
    (get, drain)
}

fn read_suite(cluster: &Arc<Cluster>, direct: &Op, label: &str) -> kvlab_store::Result<()> {
    let depths = std::iter::once(1).chain(pipeline_windows());
    for (in_flight, policy) in depths.flat_map(|d| ReadPolicy::ALL.into_iter().map(move |p| (d, p)))
    {
        let on_client =
            label == "inline" && matches!(policy, ReadPolicy::Lease | ReadPolicy::Stale);
        let label = if on_client { "inline: engine get on client thread" } else { label };
        let name = match in_flight {
            1 => format!("store get {policy} {label} (8 thr)"),
            d => format!("store get {policy} {label} (8 thr x {d})"),
        };
        if !selected(&name) {
            continue;
        }
        let (get, drain) = pipelined_gets(cluster, policy, in_flight);
        let (base, ops) = paired_drained(8, direct, &get, Some(&drain));
        row(&name, ops, Some(base));
    }
    Ok(())
}
