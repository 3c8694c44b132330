//! The engine conformance suite, written once and run against every engine.
//!
//! An engine wires it in with one line: `engine_conformance!(module_name, || make_engine());`
//! where the closure returns something that derefs to `dyn Engine` (it may hold a temporary
//! directory). The suite covers point operations, batches, range scans at their boundaries,
//! snapshot isolation, empty keys and values, large values, concurrent atomicity, and a
//! property-based comparison against a `BTreeMap` model.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;

use super::{Engine, KeyRange, WriteBatch};
use crate::error::Result;

/// Generates the conformance tests for one engine. `$make` is an expression evaluating to a
/// closure `|| -> impl Deref<Target = E>` with `E: Engine`.
macro_rules! engine_conformance {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;
            use crate::engine::tests as suite;

            #[test]
            fn point_ops() -> Result<()> {
                let e = ($make)();
                suite::point_ops(&*e)
            }
            #[test]
            fn batches() -> Result<()> {
                let e = ($make)();
                suite::batches(&*e)
            }
            #[test]
            fn scan_boundaries() -> Result<()> {
                let e = ($make)();
                suite::scan_boundaries(&*e)
            }
            #[test]
            fn snapshot_isolation() -> Result<()> {
                let e = ($make)();
                suite::snapshot_isolation(&*e)
            }
            #[test]
            fn empty_keys_and_values() -> Result<()> {
                let e = ($make)();
                suite::empty_keys_and_values(&*e)
            }
            #[test]
            fn large_values() -> Result<()> {
                let e = ($make)();
                suite::large_values(&*e)
            }
            #[test]
            fn concurrent_batches_are_atomic() -> Result<()> {
                let e = ($make)();
                suite::concurrent_batches_are_atomic(&*e)
            }
            #[test]
            fn stats_are_reported() -> Result<()> {
                let e = ($make)();
                suite::stats_are_reported(&*e)
            }
            proptest::proptest! {
                #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
                #[test]
                fn matches_btreemap_model(ops in proptest::collection::vec(suite::op_strategy(), 1..80)) {
                    let e = ($make)();
                    suite::check_model(&*e, &ops)?;
                }
            }
        }
    };
}

fn kv(key: &str, value: &str) -> (Vec<u8>, Vec<u8>) {
    (key.as_bytes().to_vec(), value.as_bytes().to_vec())
}

pub(crate) fn point_ops(e: &dyn Engine) -> Result<()> {
    assert_eq!(e.get(b"a")?, None);
    e.put(b"a", b"1")?;
    assert_eq!(e.get(b"a")?, Some(b"1".to_vec()));
    e.put(b"a", b"2")?;
    assert_eq!(e.get(b"a")?, Some(b"2".to_vec()), "overwrite replaces");
    e.put(b"b", b"3")?;
    e.delete(b"a")?;
    assert_eq!(e.get(b"a")?, None);
    assert_eq!(e.get(b"b")?, Some(b"3".to_vec()), "delete touches only its key");
    e.delete(b"missing")?;
    e.put(b"a", b"4")?;
    assert_eq!(e.get(b"a")?, Some(b"4".to_vec()), "a deleted key can be written again");
    e.flush()?;
    assert_eq!(e.get(b"a")?, Some(b"4".to_vec()));
    Ok(())
}

pub(crate) fn batches(e: &dyn Engine) -> Result<()> {
    e.put(b"gone", b"x")?;
    let mut batch = WriteBatch::new();
    batch.put(b"k1", b"v1").put(b"k2", b"v2").delete(b"gone").put(b"k1", b"v1b");
    batch.put(b"k3", b"v3").delete(b"k3");
    assert_eq!(batch.len(), 6);
    e.write(batch)?;
    assert_eq!(e.get(b"k1")?, Some(b"v1b".to_vec()), "later op on the same key wins");
    assert_eq!(e.get(b"k2")?, Some(b"v2".to_vec()));
    assert_eq!(e.get(b"k3")?, None, "a delete after a put in one batch wins");
    assert_eq!(e.get(b"gone")?, None);
    e.write(WriteBatch::new())?;
    assert_eq!(e.scan(&KeyRange::all(), usize::MAX)?, vec![kv("k1", "v1b"), kv("k2", "v2")]);
    Ok(())
}

pub(crate) fn scan_boundaries(e: &dyn Engine) -> Result<()> {
    for key in ["a", "b", "ba", "bb", "c", "d"] {
        e.put(key.as_bytes(), key.to_uppercase().as_bytes())?;
    }
    e.put(&[b'b', 0xff], b"B-FF")?;
    e.put(&[0xff, 0xff], b"FFFF")?;
    let keys = |range: KeyRange, limit: usize| -> Result<Vec<Vec<u8>>> {
        Ok(e.scan(&range, limit)?.into_iter().map(|(k, _)| k).collect())
    };
    let all: Vec<Vec<u8>> = vec![
        b"a".to_vec(),
        b"b".to_vec(),
        b"ba".to_vec(),
        b"bb".to_vec(),
        vec![b'b', 0xff],
        b"c".to_vec(),
        b"d".to_vec(),
        vec![0xff, 0xff],
    ];
    assert_eq!(keys(KeyRange::all(), usize::MAX)?, all, "ascending byte order");
    assert_eq!(keys(KeyRange::all(), 3)?, all[..3].to_vec(), "limit");
    assert_eq!(keys(KeyRange::all(), 0)?, Vec::<Vec<u8>>::new(), "limit 0");
    assert_eq!(keys(KeyRange::new("b", "c"), 100)?, all[1..5].to_vec(), "end exclusive");
    assert_eq!(keys(KeyRange::new("b", "b"), 100)?, Vec::<Vec<u8>>::new(), "empty range");
    assert_eq!(keys(KeyRange::new("bz", "c"), 100)?, vec![vec![b'b', 0xff]]);
    let range =
        KeyRange { start: Bound::Excluded(b"b".to_vec()), end: Bound::Included(b"c".to_vec()) };
    assert_eq!(keys(range, 100)?, all[2..6].to_vec(), "excluded start, included end");
    assert_eq!(keys(KeyRange::prefix(b"b"), 100)?, all[1..5].to_vec(), "prefix");
    assert_eq!(keys(KeyRange::prefix(&[0xff]), 100)?, vec![vec![0xff, 0xff]], "prefix of 0xff");
    assert_eq!(keys(KeyRange::from("c"), 100)?, all[5..].to_vec(), "open end");
    let values = e.scan(&KeyRange::new("a", "b"), 10)?;
    assert_eq!(values, vec![kv("a", "A")], "values come with their keys");
    Ok(())
}

pub(crate) fn snapshot_isolation(e: &dyn Engine) -> Result<()> {
    e.put(b"a", b"1")?;
    e.put(b"b", b"1")?;
    e.put(b"c", b"1")?;
    let snapshot = e.snapshot();
    let mut batch = WriteBatch::new();
    batch.put(b"a", b"2").delete(b"b").put(b"d", b"2");
    e.write(batch)?;
    e.put(b"c", b"2")?;
    assert_eq!(snapshot.get(b"a")?, Some(b"1".to_vec()));
    assert_eq!(snapshot.get(b"b")?, Some(b"1".to_vec()));
    assert_eq!(snapshot.get(b"d")?, None);
    let seen: Vec<_> = snapshot.iter(&KeyRange::all()).collect::<Result<_>>()?;
    assert_eq!(seen, vec![kv("a", "1"), kv("b", "1"), kv("c", "1")]);
    assert_eq!(snapshot.scan(&KeyRange::from("b"), 1)?, vec![kv("b", "1")]);
    // The engine itself sees the new state.
    assert_eq!(e.scan(&KeyRange::all(), 10)?, vec![kv("a", "2"), kv("c", "2"), kv("d", "2")]);
    drop(snapshot);
    let fresh = e.snapshot();
    assert_eq!(fresh.get(b"b")?, None);
    assert_eq!(fresh.get(b"a")?, Some(b"2".to_vec()));
    Ok(())
}

pub(crate) fn empty_keys_and_values(e: &dyn Engine) -> Result<()> {
    e.put(b"", b"empty key")?;
    e.put(b"k", b"")?;
    assert_eq!(e.get(b"")?, Some(b"empty key".to_vec()));
    assert_eq!(e.get(b"k")?, Some(Vec::new()), "an empty value is present, not absent");
    assert_eq!(e.scan(&KeyRange::all(), 10)?, vec![kv("", "empty key"), kv("k", "")]);
    e.delete(b"")?;
    assert_eq!(e.get(b"")?, None);
    Ok(())
}

pub(crate) fn large_values(e: &dyn Engine) -> Result<()> {
    let big: Vec<u8> =
        (0..4 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    e.put(b"big", &big)?;
    e.put(b"small", b"s")?;
    assert_eq!(e.get(b"big")?.as_deref(), Some(big.as_slice()));
    let scanned = e.scan(&KeyRange::all(), 10)?;
    assert_eq!(scanned.len(), 2);
    assert_eq!(scanned[0].1.len(), big.len());
    let key = vec![7u8; 64 << 10];
    e.put(&key, b"long key")?;
    assert_eq!(e.get(&key)?, Some(b"long key".to_vec()));
    Ok(())
}

/// One writer bumps two keys together in a batch while readers check, through snapshots, that
/// both always agree, and through point reads, that a key once written never reads as absent
/// and never goes backwards.
pub(crate) fn concurrent_batches_are_atomic(e: &dyn Engine) -> Result<()> {
    const ROUNDS: u64 = 2_000;
    let encode = |n: u64| n.to_be_bytes().to_vec();
    e.put(b"x", &encode(0))?;
    e.put(b"y", &encode(0))?;
    std::thread::scope(|s| -> Result<()> {
        let writer = s.spawn(|| -> Result<()> {
            for n in 1..=ROUNDS {
                let mut batch = WriteBatch::new();
                batch.put(b"x", encode(n)).put(b"y", encode(n));
                e.write(batch)?;
            }
            Ok(())
        });
        let reader = s.spawn(|| -> Result<()> {
            let mut last = 0;
            while last < ROUNDS {
                let snapshot = e.snapshot();
                let x = snapshot.get(b"x")?.expect("x exists");
                let y = snapshot.get(b"y")?.expect("y exists");
                assert_eq!(x, y, "a snapshot saw half a batch");
                let now =
                    u64::from_be_bytes(e.get(b"x")?.expect("x never absent").try_into().unwrap());
                assert!(now >= last, "point read went backwards: {now} after {last}");
                last = now;
            }
            Ok(())
        });
        writer.join().expect("writer panicked")?;
        reader.join().expect("reader panicked")
    })
}

pub(crate) fn stats_are_reported(e: &dyn Engine) -> Result<()> {
    for i in 0..100u32 {
        e.put(format!("key{i:03}").as_bytes(), &[1u8; 100])?;
    }
    e.flush()?;
    let stats = e.stats();
    let mut sorted = stats.clone();
    sorted.sort();
    assert_eq!(stats, sorted, "stats are sorted by name");
    let get = |name: &str| stats.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    match e.name() {
        "memory" => {
            assert_eq!(get("memory.keys"), Some(100));
            assert_eq!(get("memory.bytes"), Some(100 * (6 + 100)));
        }
        "rocksdb" => {
            assert!(get("rocksdb.bytes_written").unwrap_or(0) >= 100 * 106, "{stats:?}");
            for name in
                ["rocksdb.block_cache_hits", "rocksdb.block_cache_misses", "rocksdb.sst_bytes"]
            {
                assert!(get(name).is_some(), "missing {name}");
            }
            assert!(get("rocksdb.memtable_bytes").unwrap_or(0) > 0);
        }
        other => panic!("unknown engine {other}"),
    }
    Ok(())
}

/// A random operation for the model test.
#[derive(Clone, Debug)]
pub(crate) enum ModelOp {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    Get(Vec<u8>),
    Scan(Vec<u8>, Vec<u8>, usize),
    /// Take a snapshot, apply the inner writes, check the snapshot still matches the old model.
    SnapshotThenPut(Vec<u8>, Vec<u8>),
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    // A tiny alphabet so keys collide and ranges are dense; 0x01 and 0x02 put keys in and
    // around the raft key space (a column family of its own in RocksDB), so scans cross it.
    proptest::collection::vec(
        prop_oneof![Just(0u8), Just(1u8), Just(2u8), Just(b'a'), Just(b'b'), Just(0xff)],
        0..4,
    )
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..16)
}

pub(crate) fn op_strategy() -> impl Strategy<Value = ModelOp> {
    prop_oneof![
        4 => (key_strategy(), value_strategy()).prop_map(|(k, v)| ModelOp::Put(k, v)),
        2 => key_strategy().prop_map(ModelOp::Delete),
        2 => proptest::collection::vec((key_strategy(), proptest::option::of(value_strategy())), 0..6)
            .prop_map(ModelOp::Batch),
        3 => key_strategy().prop_map(ModelOp::Get),
        3 => (key_strategy(), key_strategy(), 0usize..10).prop_map(|(a, b, n)| ModelOp::Scan(a, b, n)),
        1 => (key_strategy(), value_strategy()).prop_map(|(k, v)| ModelOp::SnapshotThenPut(k, v)),
    ]
}

fn model_scan(
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    start: &[u8],
    end: &[u8],
    limit: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if start >= end {
        return Vec::new();
    }
    model
        .range(start.to_vec()..end.to_vec())
        .take(limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub(crate) fn check_model(
    e: &dyn Engine,
    ops: &[ModelOp],
) -> std::result::Result<(), TestCaseError> {
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let err = |e: crate::Error| TestCaseError::fail(e.to_string());
    for op in ops {
        match op {
            ModelOp::Put(k, v) => {
                e.put(k, v).map_err(err)?;
                model.insert(k.clone(), v.clone());
            }
            ModelOp::Delete(k) => {
                e.delete(k).map_err(err)?;
                model.remove(k);
            }
            ModelOp::Batch(items) => {
                let mut batch = WriteBatch::new();
                for (k, v) in items {
                    match v {
                        Some(v) => {
                            batch.put(k.clone(), v.clone());
                            model.insert(k.clone(), v.clone());
                        }
                        None => {
                            batch.delete(k.clone());
                            model.remove(k);
                        }
                    }
                }
                e.write(batch).map_err(err)?;
            }
            ModelOp::Get(k) => prop_assert_eq!(e.get(k).map_err(err)?, model.get(k).cloned()),
            ModelOp::Scan(a, b, limit) => {
                let range = KeyRange::new(a.clone(), b.clone());
                let got = if a < b { e.scan(&range, *limit).map_err(err)? } else { Vec::new() };
                prop_assert_eq!(got, model_scan(&model, a, b, *limit));
            }
            ModelOp::SnapshotThenPut(k, v) => {
                let before = model.clone();
                let snapshot = e.snapshot();
                e.put(k, v).map_err(err)?;
                model.insert(k.clone(), v.clone());
                let seen: Vec<_> =
                    snapshot.iter(&KeyRange::all()).collect::<Result<_>>().map_err(err)?;
                prop_assert_eq!(seen, before.into_iter().collect::<Vec<_>>());
            }
        }
    }
    let all = e.scan(&KeyRange::all(), usize::MAX).map_err(err)?;
    prop_assert_eq!(all, model.into_iter().collect::<Vec<_>>());
    Ok(())
}

pub(crate) mod wiring {
    use super::*;
    use crate::engine::{MemoryEngine, RocksEngine, RocksOptions, RocksPreset};

    /// A RocksDB engine in a temporary directory removed when the engine is dropped.
    pub(crate) struct TempRocks {
        engine: RocksEngine,
        _dir: tempfile::TempDir,
    }

    impl std::ops::Deref for TempRocks {
        type Target = RocksEngine;
        fn deref(&self) -> &RocksEngine {
            &self.engine
        }
    }

    pub(crate) fn temp_rocks(options: RocksOptions) -> TempRocks {
        let dir = tempfile::tempdir().expect("temporary directory");
        let engine = RocksEngine::open(dir.path(), &options).expect("open rocksdb");
        TempRocks { engine, _dir: dir }
    }

    engine_conformance!(memory, || Box::new(MemoryEngine::new()));
    engine_conformance!(rocksdb, || temp_rocks(RocksOptions::default()));
    engine_conformance!(rocksdb_blob, || temp_rocks(RocksPreset::Blob.options()));

    #[test]
    fn rocksdb_reopen_keeps_every_key() -> Result<()> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = RocksOptions::from_pairs(&[("write_buffer_mb".into(), "1".into())])?;
        let expected: BTreeMap<Vec<u8>, Vec<u8>> = (0..5_000u32)
            .map(|i| {
                (format!("key{i:06}").into_bytes(), format!("value-{i}-{}", i * 7).into_bytes())
            })
            .collect();
        {
            let engine = RocksEngine::open(dir.path(), &options)?;
            for chunk in expected.iter().collect::<Vec<_>>().chunks(100) {
                let mut batch = WriteBatch::new();
                for (k, v) in chunk {
                    batch.put(k.as_slice(), v.as_slice());
                }
                engine.write(batch)?;
            }
            engine.delete(b"key000000")?;
        }
        let engine = RocksEngine::open(dir.path(), &options)?;
        for (k, v) in &expected {
            let want = if k == b"key000000" { None } else { Some(v.clone()) };
            assert_eq!(engine.get(k)?, want, "key {}", String::from_utf8_lossy(k));
        }
        assert_eq!(engine.scan(&KeyRange::all(), usize::MAX)?.len(), expected.len() - 1);
        Ok(())
    }

    #[test]
    fn rocksdb_second_open_of_a_locked_directory_is_a_clear_error() -> Result<()> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let _first = RocksEngine::open(dir.path(), &RocksOptions::default())?;
        let err = RocksEngine::open(dir.path(), &RocksOptions::default()).expect_err("locked");
        assert!(err.to_string().contains(&dir.path().display().to_string()), "{err}");
        Ok(())
    }

    #[test]
    fn open_engine_picks_the_engine_at_run_time() -> Result<()> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let opts = vec![("preset".to_string(), "bloom".to_string())];
        let rocks =
            crate::engine::open_engine(crate::EngineKind::RocksDb, Some(dir.path()), &opts)?;
        assert_eq!(rocks.name(), "rocksdb");
        let memory = crate::engine::open_engine(crate::EngineKind::Memory, None, &opts)?;
        assert_eq!(memory.name(), "memory");
        let err =
            crate::engine::open_engine(crate::EngineKind::RocksDb, None, &[]).expect_err("no dir");
        assert!(err.to_string().contains("engine.dir"));
        let bad = vec![("compression".to_string(), "gzip".to_string())];
        let err = crate::engine::open_engine(crate::EngineKind::RocksDb, Some(dir.path()), &bad)
            .expect_err("bad option");
        assert!(err.to_string().contains("rocksdb.compression"));
        Ok(())
    }
}
