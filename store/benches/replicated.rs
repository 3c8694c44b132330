//! Replicated store vs. the engine called directly, in one run on one machine.
//!
//! * reads: 8 client threads, uniform gets over preloaded keys, per read policy, against 8
//!   threads calling `RocksEngine::get` on an engine holding the same keys;
//! * writes: 8 client threads of puts on a 3-replica cluster against 8 threads of direct puts;
//! * group commit: 16 writers on a cluster whose RocksDB fsyncs every write batch; reports the
//!   writes acknowledged per fsync on the leader.
//!
//! Run: `cargo bench --workspace --bench replicated` (set `KVLAB_BENCH_SECS` to change the
//! 2-second measurement window). Output is a table of ops/s and ratios.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvlab_store::{
    ClientConfig, Cluster, ClusterConfig, Engine, EngineKind, RaftLogStore, ReadPolicy,
    ReplicaChoice, RocksEngine, RocksOptions,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const KEYS: u64 = 10_000;
const VALUE: usize = 100;

fn key(i: u64) -> Vec<u8> {
    kvlab_store::ycsb_key(i)
}

fn window() -> Duration {
    let secs = std::env::var("KVLAB_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

/// Runs `op` on `threads` threads for the window; returns ops/s.
fn measure(
    threads: usize,
    op: impl Fn(usize, &mut ChaCha8Rng) -> bool + Send + Sync + 'static,
) -> f64 {
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (op, stop, count) = (op.clone(), stop.clone(), count.clone());
            std::thread::spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(t as u64 + 1);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    if op(t, &mut rng) {
                        n += 1;
                    }
                }
                count.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(window());
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn cluster_config(dir: &std::path::Path, sync: bool) -> ClusterConfig {
    let mut engine_options = vec![("preset".to_string(), "default".to_string())];
    if sync {
        engine_options.push(("sync".into(), "true".into()));
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
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let value = vec![b'x'; VALUE];
    println!(
        "kvlab-store replicated benchmark: {KEYS} keys, {VALUE}-byte values, window {:?}",
        window()
    );

    // Direct engine.
    let dir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let direct: Arc<dyn Engine> =
        Arc::new(RocksEngine::open(dir.path(), &RocksOptions::default())?);
    for i in 0..KEYS {
        direct.put(&kvlab_key(i), &value)?;
    }
    let e = direct.clone();
    let direct_reads = measure(8, move |_, rng| {
        e.get(&kvlab_key(rng.gen_range(0..KEYS))).map(|v| v.is_some()).unwrap_or(false)
    });
    let e = direct.clone();
    let v = value.clone();
    let direct_writes =
        measure(8, move |_, rng| e.put(&kvlab_key(rng.gen_range(0..KEYS)), &v).is_ok());
    drop(direct);

    println!("{:<34} {:>10} {:>7}", "case", "ops/s", "ratio");
    println!("{:<34} {:>10.0} {:>7}", "direct engine get (8 thr)", direct_reads, "1.00");

    // Reads through the cluster: with a 2-thread read pool per node, then inline (pool = 0).
    let cdir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let cluster = Arc::new(Cluster::start(cluster_config(cdir.path(), false))?);
    load(&cluster, &value)?;
    read_suite(&cluster, direct_reads, "pool=2")?;
    let idir = tempfile::tempdir().map_err(kvlab_store::Error::engine)?;
    let inline = Arc::new(Cluster::start(ClusterConfig {
        read_pool_threads: 0,
        ..cluster_config(idir.path(), false)
    })?);
    load(&inline, &value)?;
    read_suite(&inline, direct_reads, "inline")?;
    drop(inline);

    println!("{:<34} {:>10.0} {:>7}", "direct engine put (8 thr)", direct_writes, "1.00");
    let clients: Arc<Vec<_>> = Arc::new(
        (0..8)
            .map(|t| {
                parking_lot::Mutex::new(
                    cluster.client(ClientConfig { seed: 200 + t, ..ClientConfig::default() }),
                )
            })
            .collect(),
    );
    let v = value.clone();
    let writes =
        measure(8, move |t, rng| clients[t].lock().put(&key(rng.gen_range(0..KEYS)), &v).is_ok());
    let ratio = writes / direct_writes;
    println!("{:<34} {writes:>10.0} {ratio:>7.2}", "store put, 3 replicas (8 thr)");
    drop(cluster);

    // Group commit with a syncing engine: raft log in the data engine, then in its own engine.
    // The default adaptive group-commit delay (`store.commit_delay_us=auto`), then none, then
    // fixed delays of 300 µs and 1 ms.
    for (raft_log, delay_us) in [
        (RaftLogStore::SameEngine, None),
        (RaftLogStore::SeparateEngine, None),
        (RaftLogStore::SameEngine, Some(0)),
        (RaftLogStore::SeparateEngine, Some(0)),
        (RaftLogStore::SeparateEngine, Some(300)),
        (RaftLogStore::SeparateEngine, Some(1000)),
    ] {
        group_commit(raft_log, delay_us.map(Duration::from_micros), &value)?;
    }
    Ok(())
}

/// 16 writers on a single region whose RocksDB fsyncs every write: writes acknowledged per
/// write to the log engine (= fsyncs) on the leader.
fn group_commit(
    raft_log: RaftLogStore,
    delay: Option<Duration>,
    value: &[u8],
) -> kvlab_store::Result<()> {
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
    let clients: Arc<Vec<_>> = Arc::new(
        (0..16)
            .map(|t| {
                parking_lot::Mutex::new(
                    cluster.client(ClientConfig { seed: 300 + t, ..ClientConfig::default() }),
                )
            })
            .collect(),
    );
    let v = value.to_vec();
    let acked = Arc::new(AtomicU64::new(0));
    let a = acked.clone();
    let ops = measure(16, move |t, rng| {
        let ok = clients[t].lock().put(&key(rng.gen_range(0..KEYS)), &v).is_ok();
        if ok {
            a.fetch_add(1, Ordering::Relaxed);
        }
        ok
    });
    let fsyncs = log_writes(&cluster).saturating_sub(before).max(1);
    let per_fsync = acked.load(Ordering::Relaxed) as f64 / fsyncs as f64;
    let delay = delay.map_or("auto".to_string(), |d| format!("{}us", d.as_micros()));
    let name = format!("put fsync {raft_log:?} +{delay} (16 thr)");
    println!("{name:<34} {ops:>10.0} {:>7}", "-");
    println!("  writes per fsync on the leader: {per_fsync:.1}");
    Ok(())
}

/// Loads every key through the cluster with 8 writer threads.
fn load(cluster: &Arc<Cluster>, value: &[u8]) -> kvlab_store::Result<()> {
    let loaders: Vec<_> = (0..8u64)
        .map(|t| {
            let (cluster, value) = (cluster.clone(), value.to_vec());
            std::thread::spawn(move || -> kvlab_store::Result<()> {
                let mut c = cluster.client(ClientConfig { seed: t, ..ClientConfig::default() });
                for i in (t..KEYS).step_by(8) {
                    c.put(&key(i), &value)?;
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

/// Measures 8-thread uniform gets under every policy.
fn read_suite(cluster: &Arc<Cluster>, direct: f64, label: &str) -> kvlab_store::Result<()> {
    for policy in ReadPolicy::ALL {
        let clients: Vec<_> = (0..8)
            .map(|t| {
                parking_lot::Mutex::new(cluster.client(ClientConfig {
                    read_policy: policy,
                    replica_choice: ReplicaChoice::RoundRobin,
                    seed: 100 + t,
                    ..ClientConfig::default()
                }))
            })
            .collect();
        let clients = Arc::new(clients);
        let ops = measure(8, move |t, rng| {
            let k = key(rng.gen_range(0..KEYS));
            clients[t].lock().get(&k).map(|r| r.value.is_some()).unwrap_or(false)
        });
        let name = format!("store get {policy} {label} (8 thr)");
        println!("{name:<34} {ops:>10.0} {:>7.2}", ops / direct);
    }
    Ok(())
}

fn kvlab_key(i: u64) -> Vec<u8> {
    // The cluster stores user key k as engine key "z" + k; the direct engine gets the same bytes.
    let mut k = vec![b'z'];
    k.extend_from_slice(&key(i));
    k
}
