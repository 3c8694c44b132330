//! Engine micro-benchmarks: get, put, batch put and scan per engine with 1 KB values, and the
//! adapter overhead of kvlab's RocksDB engine against raw `rocksdb::DB::get_pinned`.
//!
//! Run: `cargo bench --workspace --bench engines`. The adapter target is kvlab's get at
//! ≥ 0.90 of raw throughput: compare `adapter/kvlab_get` with `adapter/raw_get_pinned`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kvlab_store::{Engine, KeyRange, MemoryEngine, RocksEngine, RocksOptions, WriteBatch};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Records loaded before read benchmarks: 50 MB of 1 KB values, all in the block cache.
const RECORDS: u64 = 50_000;
const VALUE_LEN: usize = 1024;

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

struct Subject {
    name: &'static str,
    engine: Arc<dyn Engine>,
    rocks: Option<Arc<RocksEngine>>,
    _dir: Option<tempfile::TempDir>,
}

fn subjects() -> Vec<Subject> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = RocksOptions::from_pairs(&[("block_cache_mb".into(), "256".into())])
        .expect("valid options");
    let rocks = Arc::new(RocksEngine::open(dir.path(), &options).expect("open rocksdb"));
    vec![
        Subject { name: "memory", engine: Arc::new(MemoryEngine::new()), rocks: None, _dir: None },
        Subject { name: "rocksdb", engine: rocks.clone(), rocks: Some(rocks), _dir: Some(dir) },
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

    // Adapter overhead: the same database, the same keys, kvlab's get against raw get_pinned.
    let mut group = c.benchmark_group("adapter");
    group.throughput(Throughput::Elements(1));
    if let Some(rocks) = subjects.iter().find_map(|s| s.rocks.clone()) {
        let keys: Vec<Vec<u8>> = indexes.iter().map(|&i| key(i)).collect();
        let engine: Arc<dyn Engine> = rocks.clone();
        group.bench_function("kvlab_get", |b| {
            let mut n = 0usize;
            b.iter(|| {
                n = (n + 1) & (keys.len() - 1);
                black_box(engine.get(&keys[n]).expect("get"))
            })
        });
        group.bench_function("raw_get_pinned", |b| {
            let mut n = 0usize;
            b.iter(|| {
                n = (n + 1) & (keys.len() - 1);
                black_box(rocks.raw().get_pinned(&keys[n]).expect("get").map(|v| v.len()))
            })
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
