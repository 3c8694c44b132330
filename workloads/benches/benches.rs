//! Criterion benchmarks: nanoseconds per key choice for each request distribution, and per
//! complete operation (key and value) for YCSB workloads A and C.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kvlab_workloads::{CoreWorkload, Operation, Properties};

/// A workload of reads over 1 M records with `dist` and its extra properties.
fn read_workload(dist: &str, extra: &str) -> Arc<CoreWorkload> {
    let text = format!(
        "recordcount=1000000\noperationcount=1000000\nreadproportion=1\nupdateproportion=0\n\
         requestdistribution={dist}\n{extra}"
    );
    CoreWorkload::new(&Properties::from_text(&text, dist).unwrap()).unwrap()
}

/// The request distributions measured, with their extra properties.
const CASES: [(&str, &str); 10] = [
    ("uniform", ""),
    ("zipfian", ""),
    ("zipfian-theta-1.2", "zipfian.constant=1.2\n"),
    ("latest", ""),
    ("hotspot", ""),
    ("sequential", ""),
    ("exponential", ""),
    ("single", ""),
    ("hotset", "hotset.keys=16\nhotset.fraction=0.9\n"),
    (
        "hotset-shifting",
        "hotset.keys=16\nhotset.distribution=zipfian\nhotset.shift.operations=50000\n",
    ),
];

/// One key choice: a keynum drawn as YCSB's `nextKeynum` does (no key bytes).
fn key_choice(c: &mut Criterion) {
    let mut group = c.benchmark_group("key_choice");
    group.throughput(Throughput::Elements(1));
    for (name, extra) in CASES {
        let dist = name.split('-').next().unwrap();
        let wl = read_workload(dist, extra);
        let mut stream = wl.run_stream(0, 1);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(stream.next_keynum()))
        });
    }
    group.finish();
}

/// One complete read operation: operation choice, key choice and the key bytes.
fn read_op(c: &mut Criterion) {
    let mut group = c.benchmark_group("read_op");
    group.throughput(Throughput::Elements(1));
    for (name, extra) in CASES {
        let dist = name.split('-').next().unwrap();
        let wl = read_workload(dist, extra);
        let mut stream = wl.run_stream(0, 1);
        let mut op = Operation::new();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                stream.next_op(&mut op);
                black_box(&op.key);
            })
        });
    }
    group.finish();
}

/// Writing the key bytes for a keynum: FNV hash plus decimal digits, or digits only.
fn key_bytes(c: &mut Criterion) {
    let mut group = c.benchmark_group("key_bytes");
    group.throughput(Throughput::Elements(1));
    for (name, ordered) in [("hashed", false), ("ordered", true)] {
        let mut out = Vec::with_capacity(32);
        let mut keynum = 0i64;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                keynum = (keynum + 7919) % 1_000_000;
                kvlab_workloads::write_key(&mut out, black_box(keynum), 1, ordered);
                black_box(&out);
            })
        });
    }
    group.finish();
}

/// Complete operations of the standard workload files.
fn ycsb_operations(c: &mut Criterion) {
    let dir = PathBuf::from(manifest_dir()).join("ycsb");
    let mut group = c.benchmark_group("operation");
    group.throughput(Throughput::Elements(1));
    for name in ["workloada", "workloadc"] {
        let props = Properties::load(&[dir.join(name)], &[]).unwrap();
        let wl = CoreWorkload::new(&props).unwrap();
        let mut stream = wl.run_stream(0, 1);
        let mut op = Operation::new();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                stream.next_op(&mut op);
                black_box(&op.key);
                black_box(&op.value);
            })
        });
    }
    // One load-phase insert: key plus ten 100-byte fields.
    let props =
        Properties::load(&[dir.join("workloada")], &[("recordcount".into(), "100000000".into())])
            .unwrap();
    let wl = CoreWorkload::new(&props).unwrap();
    let mut load = wl.load_stream(0, 1, 1);
    let mut op = Operation::new();
    group.bench_function(BenchmarkId::from_parameter("load-insert-1KB"), |b| {
        b.iter(|| {
            load.next_op(&mut op);
            black_box(&op.value);
        })
    });
    group.finish();
}

criterion_group!(benches, key_choice, key_bytes, read_op, ycsb_operations);
criterion_main!(benches);

/// The package directory of this checkout: cargo sets `CARGO_MANIFEST_DIR` when it runs tests and
/// benches, which stays right when a shared target directory holds a binary built from another
/// checkout; the compile-time value is the fallback.
fn manifest_dir() -> std::ffi::OsString {
    std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}
