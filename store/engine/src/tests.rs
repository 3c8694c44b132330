//! The engine conformance suite, written once and run against every engine.
//!
//! An engine wires it in with one line: `engine_conformance!(module_name, || make_engine());`
//! where the closure returns something that derefs to `dyn Engine` (it may hold a temporary
//! directory) and serves the keyspace [`SIDE`]. The suite covers point operations, batches,
//! range scans at their boundaries, snapshot isolation, keyspaces, empty keys and values, large
//! values, concurrent atomicity, and a property-based comparison against a `BTreeMap` model
//! over two keyspaces. Persistent engines also run `persistent_conformance!`: reopening keeps
//! every key, and a second open of a directory in use is a clear error.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;

use crate::error::Result;
use crate::{Engine, KeyRange, Keyspace, WriteBatch};

/// The keyspace besides the default one that every engine under test serves.
pub(crate) const SIDE: Keyspace = Keyspace::named("side");

/// Generates the conformance tests for one engine. `$make` is an expression evaluating to a
/// closure `|| -> impl Deref<Target = E>` with `E: Engine`.
macro_rules! engine_conformance {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;
            use crate::tests as suite;

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
            fn keyspaces_are_disjoint_and_batches_span_them() -> Result<()> {
                let e = ($make)();
                suite::keyspaces(&*e)
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

/// Generates the tests of a persistent engine: `$open` is `|dir: &Path| -> Result<E>`.
macro_rules! persistent_conformance {
    ($name:ident, $open:expr) => {
        mod $name {
            use super::*;
            use crate::tests as suite;

            #[test]
            fn reopen_keeps_every_key() -> Result<()> {
                let dir = tempfile::tempdir().expect("temporary directory");
                suite::reopen_keeps_every_key(dir.path(), |d| {
                    ($open)(d).map(|e| Box::new(e) as Box<dyn Engine>)
                })
            }
            #[test]
            fn a_second_open_of_a_directory_in_use_is_a_clear_error() -> Result<()> {
                let dir = tempfile::tempdir().expect("temporary directory");
                let _first = ($open)(dir.path())?;
                let err = ($open)(dir.path()).expect_err("directory in use");
                assert!(err.to_string().contains(&dir.path().display().to_string()), "{err}");
                Ok(())
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

pub(crate) fn keyspaces(e: &dyn Engine) -> Result<()> {
    let mut batch = WriteBatch::new();
    batch.put(b"k", b"default").put_in(SIDE, b"k", b"side").put_in(SIDE, b"only", b"side");
    e.write(batch)?;
    assert_eq!(e.get(b"k")?, Some(b"default".to_vec()));
    assert_eq!(e.get_in(SIDE, b"k")?, Some(b"side".to_vec()), "one key, two keyspaces");
    assert_eq!(e.get(b"only")?, None, "a side key is not in the default keyspace");
    assert_eq!(e.scan(&KeyRange::all(), 10)?, vec![kv("k", "default")]);
    assert_eq!(e.scan_in(SIDE, &KeyRange::all(), 10)?, vec![kv("k", "side"), kv("only", "side")]);
    let snapshot = e.snapshot();
    let mut batch = WriteBatch::new();
    batch.delete(b"k").delete_in(SIDE, b"k");
    e.write(batch)?;
    assert_eq!(e.get(b"k")?, None);
    assert_eq!(e.get_in(SIDE, b"k")?, None, "a batch deletes in both keyspaces");
    assert_eq!(snapshot.get(b"k")?, Some(b"default".to_vec()));
    assert_eq!(snapshot.get_in(SIDE, b"k")?, Some(b"side".to_vec()), "a snapshot spans both");
    let seen: Vec<_> = snapshot.iter_in(SIDE, &KeyRange::prefix(b"o")).collect::<Result<_>>()?;
    assert_eq!(seen, vec![kv("only", "side")]);
    drop(snapshot);
    let unknown = Keyspace::named("never-opened");
    let err = e.get_in(unknown, b"k").expect_err("unknown keyspace");
    assert!(err.to_string().contains("never-opened"), "{err}");
    let mut batch = WriteBatch::new();
    batch.put(b"before", b"x").put_in(unknown, b"k", b"v");
    assert!(e.write(batch).is_err(), "a batch naming an unknown keyspace is refused");
    assert_eq!(e.get(b"before")?, None, "and none of it is applied");
    assert!(e.scan_in(unknown, &KeyRange::all(), 1).is_err());
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
    // The longest key every engine takes (fjall's limit); longer ones may be refused, with
    // an error and not a panic.
    let key = vec![7u8; u16::MAX as usize];
    e.put(&key, b"long key")?;
    assert_eq!(e.get(&key)?, Some(b"long key".to_vec()));
    let longer = vec![7u8; 1 << 17];
    if let Ok(()) = e.put(&longer, b"longer") {
        assert_eq!(e.get(&longer)?, Some(b"longer".to_vec()));
    }
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
        "fjall" => {
            assert!(get("fjall.memtable_bytes").unwrap_or(0) >= 100 * 106, "{stats:?}");
            assert!(get("fjall.journal_bytes").unwrap_or(0) >= 100 * 106, "{stats:?}");
        }
        "redb" => {
            assert!(get("redb.file_bytes").unwrap_or(0) >= 100 * 106, "{stats:?}");
            assert_eq!(get("redb.synced_writes"), Some(100), "every write fsyncs: {stats:?}");
        }
        other => panic!("unknown engine {other}"),
    }
    if e.name() != "memory" {
        let synced = get(&format!("{}.synced_writes", e.name())).expect("synced_writes");
        assert_eq!(synced > 0, e.syncs_writes(), "synced_writes counts fsynced writes");
    }
    Ok(())
}

/// A random operation for the model test; `bool` picks [`SIDE`] over the default keyspace.
#[derive(Clone, Debug)]
pub(crate) enum ModelOp {
    Put(bool, Vec<u8>, Vec<u8>),
    Delete(bool, Vec<u8>),
    Batch(Vec<(bool, Vec<u8>, Option<Vec<u8>>)>),
    Get(bool, Vec<u8>),
    Scan(bool, Vec<u8>, Vec<u8>, usize),
    /// Take a snapshot, write, and check the snapshot still matches the old model.
    SnapshotThenPut(bool, Vec<u8>, Vec<u8>),
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    // A tiny alphabet so keys collide and ranges are dense.
    proptest::collection::vec(
        prop_oneof![Just(0u8), Just(1u8), Just(2u8), Just(b'a'), Just(b'b'), Just(0xff)],
        0..4,
    )
}

fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..16)
}

pub(crate) fn op_strategy() -> impl Strategy<Value = ModelOp> {
    let side = || proptest::bool::weighted(0.3);
    prop_oneof![
        4 => (side(), key_strategy(), value_strategy()).prop_map(|(s, k, v)| ModelOp::Put(s, k, v)),
        2 => (side(), key_strategy()).prop_map(|(s, k)| ModelOp::Delete(s, k)),
        2 => proptest::collection::vec((side(), key_strategy(), proptest::option::of(value_strategy())), 0..6)
            .prop_map(ModelOp::Batch),
        3 => (side(), key_strategy()).prop_map(|(s, k)| ModelOp::Get(s, k)),
        3 => (side(), key_strategy(), key_strategy(), 0usize..10).prop_map(|(s, a, b, n)| ModelOp::Scan(s, a, b, n)),
        1 => (side(), key_strategy(), value_strategy()).prop_map(|(s, k, v)| ModelOp::SnapshotThenPut(s, k, v)),
    ]
}

/// The model: one map per keyspace (default, side).
type Model = [BTreeMap<Vec<u8>, Vec<u8>>; 2];

fn keyspace(side: bool) -> Keyspace {
    if side {
        SIDE
    } else {
        Keyspace::DEFAULT
    }
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
    let mut model: Model = Default::default();
    let err = |e: crate::Error| TestCaseError::fail(e.to_string());
    for op in ops {
        match op {
            ModelOp::Put(side, k, v) => {
                let mut batch = WriteBatch::new();
                batch.put_in(keyspace(*side), k.clone(), v.clone());
                e.write(batch).map_err(err)?;
                model[usize::from(*side)].insert(k.clone(), v.clone());
            }
            ModelOp::Delete(side, k) => {
                let mut batch = WriteBatch::new();
                batch.delete_in(keyspace(*side), k.clone());
                e.write(batch).map_err(err)?;
                model[usize::from(*side)].remove(k);
            }
            ModelOp::Batch(items) => {
                let mut batch = WriteBatch::new();
                for (side, k, v) in items {
                    let m = &mut model[usize::from(*side)];
                    match v {
                        Some(v) => {
                            batch.put_in(keyspace(*side), k.clone(), v.clone());
                            m.insert(k.clone(), v.clone());
                        }
                        None => {
                            batch.delete_in(keyspace(*side), k.clone());
                            m.remove(k);
                        }
                    }
                }
                e.write(batch).map_err(err)?;
            }
            ModelOp::Get(side, k) => prop_assert_eq!(
                e.get_in(keyspace(*side), k).map_err(err)?,
                model[usize::from(*side)].get(k).cloned()
            ),
            ModelOp::Scan(side, a, b, limit) => {
                let range = KeyRange::new(a.clone(), b.clone());
                let got = e.scan_in(keyspace(*side), &range, *limit).map_err(err)?;
                prop_assert_eq!(got, model_scan(&model[usize::from(*side)], a, b, *limit));
            }
            ModelOp::SnapshotThenPut(side, k, v) => {
                let before = model.clone();
                let snapshot = e.snapshot();
                let mut batch = WriteBatch::new();
                batch.put_in(keyspace(*side), k.clone(), v.clone());
                e.write(batch).map_err(err)?;
                model[usize::from(*side)].insert(k.clone(), v.clone());
                for (i, m) in before.into_iter().enumerate() {
                    let seen: Vec<_> = snapshot
                        .iter_in(keyspace(i == 1), &KeyRange::all())
                        .collect::<Result<_>>()
                        .map_err(err)?;
                    prop_assert_eq!(seen, m.into_iter().collect::<Vec<_>>());
                }
            }
        }
    }
    for (i, m) in model.into_iter().enumerate() {
        let all = e.scan_in(keyspace(i == 1), &KeyRange::all(), usize::MAX).map_err(err)?;
        prop_assert_eq!(all, m.into_iter().collect::<Vec<_>>());
    }
    Ok(())
}

/// Writes 5,000 keys in batches, deletes one, reopens and checks every key.
pub(crate) fn reopen_keeps_every_key(
    dir: &std::path::Path,
    open: impl Fn(&std::path::Path) -> Result<Box<dyn Engine>>,
) -> Result<()> {
    let expected: BTreeMap<Vec<u8>, Vec<u8>> = (0..5_000u32)
        .map(|i| (format!("key{i:06}").into_bytes(), format!("value-{i}-{}", i * 7).into_bytes()))
        .collect();
    {
        let engine = open(dir)?;
        for chunk in expected.iter().collect::<Vec<_>>().chunks(100) {
            let mut batch = WriteBatch::new();
            for (k, v) in chunk {
                batch.put(k.as_slice(), v.as_slice());
            }
            engine.write(batch)?;
        }
        engine.delete(b"key000000")?;
        engine.put_in_side(b"side", b"kept")?;
    }
    let engine = open(dir)?;
    for (k, v) in &expected {
        let want = if k == b"key000000" { None } else { Some(v.clone()) };
        assert_eq!(engine.get(k)?, want, "key {}", String::from_utf8_lossy(k));
    }
    assert_eq!(engine.scan(&KeyRange::all(), usize::MAX)?.len(), expected.len() - 1);
    assert_eq!(engine.get_in(SIDE, b"side")?, Some(b"kept".to_vec()));
    Ok(())
}

/// A put in [`SIDE`], for tests.
trait PutInSide {
    fn put_in_side(&self, key: &[u8], value: &[u8]) -> Result<()>;
}

impl<E: Engine + ?Sized> PutInSide for E {
    fn put_in_side(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put_in(SIDE, key, value);
        self.write(batch)
    }
}

pub(crate) mod wiring {
    use std::path::Path;

    use super::*;
    use crate::{
        EngineKind, FjallEngine, FjallOptions, MemoryEngine, RedbEngine, RedbOptions, RocksEngine,
        RocksOptions, RocksPreset,
    };

    /// An engine in a temporary directory removed when the engine is dropped.
    pub(crate) struct Temp<E> {
        engine: E,
        _dir: tempfile::TempDir,
    }

    impl<E> std::ops::Deref for Temp<E> {
        type Target = E;
        fn deref(&self) -> &E {
            &self.engine
        }
    }

    pub(crate) fn temp<E>(open: impl FnOnce(&Path) -> Result<E>) -> Temp<E> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let engine = open(dir.path()).expect("open engine");
        Temp { engine, _dir: dir }
    }

    fn rocks(options: RocksOptions) -> impl Fn(&Path) -> Result<RocksEngine> {
        move |dir| RocksEngine::open(dir, &options, &[SIDE])
    }

    fn fjall(options: FjallOptions) -> impl Fn(&Path) -> Result<FjallEngine> {
        move |dir| FjallEngine::open(dir, &options, &[SIDE])
    }

    fn redb(options: RedbOptions) -> impl Fn(&Path) -> Result<RedbEngine> {
        move |dir| RedbEngine::open(dir, &options, &[SIDE])
    }

    engine_conformance!(memory, || Box::new(MemoryEngine::with_keyspaces(&[SIDE])));
    engine_conformance!(crashable, || Box::new(crate::CrashableEngine::new(false, &[SIDE])));
    engine_conformance!(rocksdb, || temp(rocks(RocksOptions::default())));
    engine_conformance!(rocksdb_sync, || temp(rocks(RocksPreset::Sync.options())));
    engine_conformance!(rocksdb_blob, || temp(rocks(RocksPreset::Blob.options())));
    engine_conformance!(fjall, || temp(fjall(FjallOptions::default())));
    engine_conformance!(fjall_sync, || temp(fjall(FjallOptions {
        sync: true,
        ..FjallOptions::default()
    })));
    engine_conformance!(fjall_blob, || temp(fjall(FjallOptions {
        blob_min_size: 16,
        compression: crate::options::FjallCompression::Lz4,
        ..FjallOptions::default()
    })));
    engine_conformance!(redb, || temp(redb(RedbOptions::default())));

    persistent_conformance!(rocksdb_files, |d: &Path| rocks(RocksOptions::from_pairs(&[(
        "write_buffer_mb".into(),
        "1".into()
    )])?)(d));
    persistent_conformance!(fjall_files, |d: &Path| fjall(FjallOptions {
        write_buffer_mb: 1,
        ..FjallOptions::default()
    })(d));
    persistent_conformance!(redb_files, |d: &Path| redb(RedbOptions::default())(d));

    #[test]
    fn open_engine_picks_the_engine_at_run_time() -> Result<()> {
        let opts = vec![
            ("rocksdb.preset".to_string(), "bloom".to_string()),
            ("fjall.cache_mb".to_string(), "8".to_string()),
        ];
        for kind in EngineKind::ALL {
            let dir = tempfile::tempdir().expect("temporary directory");
            let engine = crate::open_engine(kind, Some(dir.path()), &opts, &[SIDE])?;
            assert_eq!(engine.name(), kind.as_str());
            engine.put_in_side(b"k", b"v")?;
            assert_eq!(engine.get_in(SIDE, b"k")?, Some(b"v".to_vec()));
            if kind.is_persistent() {
                let err = crate::open_engine(kind, None, &[], &[]).expect_err("no dir");
                assert!(err.to_string().contains("engine.dir"), "{err}");
            }
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let bad = vec![("rocksdb.compression".to_string(), "gzip".to_string())];
        let err = crate::open_engine(EngineKind::Fjall, Some(dir.path()), &bad, &[])
            .expect_err("bad option of another engine");
        assert!(err.to_string().contains("rocksdb.compression"), "{err}");
        Ok(())
    }
}
