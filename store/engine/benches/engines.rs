//! Engine micro-benchmarks with 1 KB values, every engine in one run: get, put, batch put and
//! scan per engine, and each adapter's cost against its raw crate for get and put.
//!
//! Run: `make bench BENCH=engines` (or `cargo bench --workspace --bench engines` with the
//! Makefile's `CARGO_TARGET_DIR`). The adapter target is kvlab's get and put at ≥ 0.90 of the
//! raw crate's throughput on every engine: compare `adapter_get/<engine>/kvlab` with
//! `adapter_get/<engine>/raw` (and `adapter_put`). The raw calls give the same guarantee as
//! the adapter: a put that survives a killed process (RocksDB's WAL write, fjall's journal
//! handed to the OS, redb's durable commit) and a get that copies the value out.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kvlab_engine::{
    Engine, FjallEngine, FjallOptions, KeyRange, Keyspace, MemoryEngine, RedbEngine, RedbOptions,
    RocksEngine, RocksOptions, WriteBatch,
};
use redb::ReadableDatabase;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Records loaded before read benchmarks: 50 MB of 1 KB values, all in the caches.
const RECORDS: u64 = 50_000;
const VALUE_LEN: usize = 1024;
/// Every engine's cache, so all of the data fits in each.
const CACHE_MB: &str = "256";

fn key(i: u64) -> Vec<u8> {
    format!("user{:012}", i).into_bytes()
}

/// A seeded xorshift stream of key indexes, the same for every engine.
fn key_indexes(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % RECORDS
        })
        .collect()
}

/// The raw crate behind an adapter.
enum Raw {
    None,
    Rocks(Arc<RocksEngine>),
    Fjall(Arc<FjallEngine>),
    Redb(Arc<RedbEngine>),
}

struct Subject {
    name: &'static str,
    engine: Arc<dyn Engine>,
    raw: Raw,
    _dir: Option<tempfile::TempDir>,
}

fn subjects() -> Vec<Subject> {
    let pair = |k: &str| vec![(k.to_string(), CACHE_MB.to_string())];
    let rocks_dir = tempfile::tempdir().expect("temporary directory");
    let rocks_options = RocksOptions::from_pairs(&pair("block_cache_mb")).expect("valid options");
    let rocks =
        Arc::new(RocksEngine::open(rocks_dir.path(), &rocks_options, &[]).expect("open rocksdb"));
    let fjall_dir = tempfile::tempdir().expect("temporary directory");
    let fjall_options = FjallOptions::from_pairs(&pair("cache_mb")).expect("valid options");
    let fjall =
        Arc::new(FjallEngine::open(fjall_dir.path(), &fjall_options, &[]).expect("open fjall"));
    let redb_dir = tempfile::tempdir().expect("temporary directory");
    let redb_options = RedbOptions::from_pairs(&pair("cache_mb")).expect("valid options");
    let redb = Arc::new(RedbEngine::open(redb_dir.path(), &redb_options, &[]).expect("open redb"));
    vec![
        Subject {
            name: "memory",
            engine: Arc::new(MemoryEngine::new()),
            raw: Raw::None,
            _dir: None,
        },
        Subject {
            name: "rocksdb",
            engine: rocks.clone(),
            raw: Raw::Rocks(rocks),
            _dir: Some(rocks_dir),
        },
        Subject {
            name: "fjall",
            engine: fjall.clone(),
            raw: Raw::Fjall(fjall),
            _dir: Some(fjall_dir),
        },
        Subject { name: "redb", engine: redb.clone(), raw: Raw::Redb(redb), _dir: Some(redb_dir) },
    ]
}

fn load(engine: &dyn Engine) {
    let value = vec![0x5au8; VALUE_LEN];
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(1000) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            batch.put(key(i), value.clone());
        }
        engine.write(batch).expect("load");
    }
    engine.flush().expect("flush");
}

fn benches(c: &mut Criterion) {
    let subjects = subjects();
    let indexes = key_indexes(1 << 16);
    let value = vec![0xa5u8; VALUE_LEN];
    for subject in &subjects {
        load(&*subject.engine);
    }

    let mut group = c.benchmark_group("get");
    group.throughput(Throughput::Elements(1));
    for subject in &subjects {
        // Warm the cache so reads measure the engine, not the first disk read.
        for &i in &indexes {
            black_box(subject.engine.get(&key(i)).expect("get"));
        }
        let keys: Vec<Vec<u8>> = indexes.iter().map(|&i| key(i)).collect();
        group.bench_function(BenchmarkId::from_parameter(subject.name), |b| {
            let mut n = 0usize;
            b.iter(|| {
                n = (n + 1) & (keys.len() - 1);
                black_box(subject.engine.get(&keys[n]).expect("get"))
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("put");
    group.throughput(Throughput::Elements(1));
    for subject in &subjects {
        let keys: Vec<Vec<u8>> = indexes.iter().map(|&i| key(i)).collect();
        group.bench_function(BenchmarkId::from_parameter(subject.name), |b| {
            let mut n = 0usize;
            b.iter(|| {
                n = (n + 1) & (keys.len() - 1);
                subject.engine.put(&keys[n], &value).expect("put")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("batch_put_100");
    group.throughput(Throughput::Elements(100));
    for subject in &subjects {
        group.bench_function(BenchmarkId::from_parameter(subject.name), |b| {
            let mut n = 0usize;
            b.iter(|| {
                let mut batch = WriteBatch::new();
                for _ in 0..100 {
                    n = (n + 1) & (indexes.len() - 1);
                    batch.put(key(indexes[n]), value.clone());
                }
                subject.engine.write(batch).expect("batch")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("scan_100");
    group.throughput(Throughput::Elements(100));
    for subject in &subjects {
        group.bench_function(BenchmarkId::from_parameter(subject.name), |b| {
            let mut n = 0usize;
            b.iter(|| {
                n = (n + 1) & (indexes.len() - 1);
                let rows =
                    subject.engine.scan(&KeyRange::from(key(indexes[n])), 100).expect("scan");
                black_box(rows.len())
            })
        });
    }
    group.finish();

    // Adapter cost: the same database and keys, kvlab's adapter against the raw crate.
    let keys: Vec<Vec<u8>> = indexes.iter().map(|&i| key(i)).collect();
    let next = |n: &mut usize| {
        *n = (*n + 1) & (keys.len() - 1);
        &keys[*n]
    };
    let mut group = c.benchmark_group("adapter_get");
    group.throughput(Throughput::Elements(1));
    for subject in &subjects {
        if matches!(subject.raw, Raw::None) {
            continue;
        }
        let engine = &subject.engine;
        group.bench_function(BenchmarkId::new(subject.name, "kvlab"), |b| {
            let mut n = 0usize;
            b.iter(|| black_box(engine.get(next(&mut n)).expect("get")))
        });
        group.bench_function(BenchmarkId::new(subject.name, "raw"), |b| {
            let mut n = 0usize;
            match &subject.raw {
                Raw::Rocks(e) => b.iter(|| {
                    black_box(e.raw().get_pinned(next(&mut n)).expect("get").map(|v| v.to_vec()))
                }),
                Raw::Fjall(e) => {
                    let ks = e.handle(Keyspace::DEFAULT).expect("keyspace");
                    b.iter(|| black_box(ks.get(next(&mut n)).expect("get").map(|v| v.to_vec())))
                }
                Raw::Redb(e) => {
                    let table = e.table(Keyspace::DEFAULT).expect("table");
                    b.iter(|| {
                        let txn = e.raw().begin_read().expect("read");
                        let t = txn.open_table(table).expect("table");
                        black_box(
                            t.get(next(&mut n).as_slice())
                                .expect("get")
                                .map(|v| v.value().to_vec()),
                        )
                    })
                }
                Raw::None => {}
            }
        });
    }
    group.finish();

    let mut group = c.benchmark_group("adapter_put");
    group.throughput(Throughput::Elements(1));
    for subject in &subjects {
        if matches!(subject.raw, Raw::None) {
            continue;
        }
        let engine = &subject.engine;
        let value = &value;
        group.bench_function(BenchmarkId::new(subject.name, "kvlab"), |b| {
            let mut n = 0usize;
            b.iter(|| engine.put(next(&mut n), value).expect("put"))
        });
        group.bench_function(BenchmarkId::new(subject.name, "raw"), |b| {
            let mut n = 0usize;
            match &subject.raw {
                Raw::Rocks(e) => b.iter(|| e.raw().put(next(&mut n), value).expect("put")),
                Raw::Fjall(e) => {
                    let ks = e.handle(Keyspace::DEFAULT).expect("keyspace");
                    b.iter(|| {
                        ks.insert(next(&mut n).as_slice(), value.as_slice()).expect("insert");
                        e.raw().persist(fjall::PersistMode::Buffer).expect("persist")
                    })
                }
                Raw::Redb(e) => {
                    let table = e.table(Keyspace::DEFAULT).expect("table");
                    b.iter(|| {
                        let txn = e.raw().begin_write().expect("write");
                        {
                            let mut t = txn.open_table(table).expect("table");
                            t.insert(next(&mut n).as_slice(), value.as_slice()).expect("insert");
                        }
                        txn.commit().expect("commit")
                    })
                }
                Raw::None => {}
            }
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = engines;
    config = config();
    targets = benches
}
criterion_main!(engines);
