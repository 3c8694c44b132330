//! kvlab's storage engines: the [`Engine`] contract, its conformance suite, and one adapter
//! per engine.
//!
//! An experiment picks its engine at run time, so the trait is object-safe and everything above
//! it (the replicated store, the harness's `engine` binding) holds an `Arc<dyn Engine>`:
//!
//! * [`MemoryEngine`]: a concurrent, multi-versioned skip list. Nothing survives the process.
//! * [`RocksEngine`]: RocksDB on disk (an LSM tree), through the `rocksdb` crate.
//! * [`FjallEngine`]: fjall, an LSM tree in Rust.
//! * [`RedbEngine`]: redb, a copy-on-write B+tree in Rust.
//!
//! Engines know nothing of Raft or of the store's key layout. A user of an engine that wants
//! some keys kept apart (the store's Raft log and states) names a [`Keyspace`] when it opens the
//! engine; each engine maps keyspaces onto its own separation mechanism (a RocksDB column
//! family, a fjall keyspace, a redb table). Every engine passes the same conformance suite
//! (`tests.rs`), so engines differ in durability costs and speed only.

mod crashable;
mod error;
mod fjall;
mod memory;
mod options;
mod redb;
mod rocks;
#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

pub use crate::crashable::CrashableEngine;
pub use crate::error::{Error, Result};
pub use crate::fjall::FjallEngine;
pub use crate::memory::MemoryEngine;
pub use crate::options::{
    EngineKind, EngineOptions, FjallOptions, RedbOptions, RocksOptions, RocksPreset,
};
pub use crate::redb::RedbEngine;
pub use crate::rocks::RocksEngine;

/// A named key space inside one engine, stored apart from the others: a RocksDB column family,
/// a fjall keyspace, a redb table. Keys of different keyspaces never collide; a
/// [`WriteBatch`] spanning keyspaces is still atomic, and a snapshot covers them all.
///
/// Every engine has [`Keyspace::DEFAULT`]; others are named when the engine is opened
/// ([`open_engine`]'s `keyspaces`), and naming one that was not is
/// [`Error::UnknownKeyspace`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Keyspace(&'static str);

impl Keyspace {
    /// The keyspace every engine has.
    pub const DEFAULT: Keyspace = Keyspace("default");

    /// A keyspace called `name`: ASCII letters, digits, `_` and `-`, not `default`.
    ///
    /// # Panics
    ///
    /// On a name outside that alphabet (a programming error: names are constants).
    pub const fn named(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        assert!(!bytes.is_empty(), "empty keyspace name");
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(
                b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
                "keyspace names are ASCII letters, digits, _ and -"
            );
            i += 1;
        }
        Keyspace(name)
    }

    /// The keyspace's name.
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Keyspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The keyspaces an engine serves: [`Keyspace::DEFAULT`] first, then the named ones, without
/// duplicates. Engines index their handles by position in this list.
pub(crate) fn keyspace_list(named: &[Keyspace]) -> Vec<Keyspace> {
    let mut list = vec![Keyspace::DEFAULT];
    for ks in named {
        if !list.contains(ks) {
            list.push(*ks);
        }
    }
    list
}

/// Position of `ks` in `list`, or [`Error::UnknownKeyspace`].
pub(crate) fn keyspace_index(list: &[Keyspace], ks: Keyspace) -> Result<usize> {
    list.iter().position(|k| *k == ks).ok_or(Error::UnknownKeyspace(ks.0))
}

/// A key and its value, as returned by scans.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// One mutation inside a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Set `key` to `value`, replacing any previous value.
    Put {
        /// The keyspace of `key`.
        keyspace: Keyspace,
        /// The key to write.
        key: Vec<u8>,
        /// The value to store.
        value: Vec<u8>,
    },
    /// Remove `key`; deleting an absent key is not an error.
    Delete {
        /// The keyspace of `key`.
        keyspace: Keyspace,
        /// The key to remove.
        key: Vec<u8>,
    },
}

/// An ordered list of puts and deletes applied atomically by [`Engine::write`].
///
/// Operations apply in order, so a later operation on the same key wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The operations, in application order.
    pub ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a put in the default keyspace.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.put_in(Keyspace::DEFAULT, key, value)
    }

    /// Appends a delete in the default keyspace.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.delete_in(Keyspace::DEFAULT, key)
    }

    /// Appends a put in `keyspace`.
    pub fn put_in(
        &mut self,
        keyspace: Keyspace,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.ops.push(WriteOp::Put { keyspace, key: key.into(), value: value.into() });
        self
    }

    /// Appends a delete in `keyspace`.
    pub fn delete_in(&mut self, keyspace: Keyspace, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp::Delete { keyspace, key: key.into() });
        self
    }

    /// Number of operations in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Total bytes of keys and values in the batch.
    pub fn size_bytes(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                WriteOp::Put { key, value, .. } => key.len() + value.len(),
                WriteOp::Delete { key, .. } => key.len(),
            })
            .sum()
    }
}

/// A key range for scans: a start and an end bound over raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    /// Lower bound.
    pub start: Bound<Vec<u8>>,
    /// Upper bound.
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> Self {
        Self { start: Bound::Unbounded, end: Bound::Unbounded }
    }

    /// Keys in `start..end` (end exclusive).
    pub fn new(start: impl Into<Vec<u8>>, end: impl Into<Vec<u8>>) -> Self {
        Self { start: Bound::Included(start.into()), end: Bound::Excluded(end.into()) }
    }

    /// Keys from `start` (inclusive) to the end of the key space.
    pub fn from(start: impl Into<Vec<u8>>) -> Self {
        Self { start: Bound::Included(start.into()), end: Bound::Unbounded }
    }

    /// Keys starting with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        let end = match prefix_successor(prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        Self { start: Bound::Included(prefix.to_vec()), end }
    }

    /// Whether `key` lies inside the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        let after_start = match &self.start {
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
            Bound::Unbounded => true,
        };
        after_start && !self.is_past_end(key)
    }

    /// Whether the range holds no key at all (a start after its end). Engines answer such a
    /// range with nothing: some of their range queries refuse it.
    pub fn is_empty(&self) -> bool {
        let (start, start_included) = match &self.start {
            Bound::Included(s) => (s.as_slice(), true),
            Bound::Excluded(s) => (s.as_slice(), false),
            Bound::Unbounded => return false,
        };
        match &self.end {
            Bound::Included(e) => {
                start > e.as_slice() || (!start_included && start == e.as_slice())
            }
            Bound::Excluded(e) => start >= e.as_slice(),
            Bound::Unbounded => false,
        }
    }

    /// The bounds as borrowed slices, for engines' range queries.
    pub fn as_slices(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (borrowed(&self.start), borrowed(&self.end))
    }

    /// Whether `key` lies beyond the end bound (so an ordered scan can stop).
    pub fn is_past_end(&self, key: &[u8]) -> bool {
        match &self.end {
            Bound::Included(e) => key > e.as_slice(),
            Bound::Excluded(e) => key >= e.as_slice(),
            Bound::Unbounded => false,
        }
    }
}

/// Ends `iter` after its first error (engines' iterators report an error in-line, once).
pub(crate) fn until_first_error<T>(
    iter: impl Iterator<Item = Result<T>>,
) -> impl Iterator<Item = Result<T>> {
    iter.scan(false, |failed, item| {
        if *failed {
            return None;
        }
        *failed = item.is_err();
        Some(item)
    })
}

fn borrowed(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The smallest key greater than every key that starts with `prefix`, if any exists.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// An ordered key-value storage engine.
///
/// # Contract
///
/// * **Keys and values** are arbitrary byte strings; the empty key and empty values are valid.
/// * **Keyspaces** ([`Keyspace`]) are disjoint: the same key in two keyspaces is two keys.
/// * **Ordering**: scans return keys in ascending lexicographic byte order within a keyspace.
/// * **Atomicity**: a [`WriteBatch`] is applied all or nothing, across keyspaces too; a
///   concurrent reader or snapshot sees either none or all of its operations.
/// * **Visibility**: once `write` returns, every later `get`, `scan` or `snapshot`, from any
///   thread, sees the batch (read-your-writes, linearizable per engine).
/// * **Snapshot isolation**: an [`EngineSnapshot`] sees exactly the writes that completed before
///   it was taken, in every keyspace, whatever is written afterwards.
/// * **Durability.** A memory engine keeps nothing across a restart. A persistent engine:
///   - keeps every completed write across a clean close;
///   - with `sync` configured, keeps every write that [`Engine::write`] returned from across
///     any crash, the machine's included (the write waited for an fsync);
///   - without `sync`, keeps every completed [`Engine::write`] across a crash of its *process*
///     (the write reached the operating system before it returned), and across a machine crash
///     every write up to the last [`Engine::flush`];
///   - writes through [`Engine::write_unsynced`] may be lost by any crash, never partially and
///     never while a later [`Engine::write`] is kept.
///
///   How each engine keeps this: RocksDB writes its WAL (`set_sync` for `sync`); fjall writes
///   its journal with `PersistMode::Buffer` (`SyncData` for `sync`); redb has no mode between
///   "in process memory only" and "fsynced", so its `write` commits with
///   `Durability::Immediate` whether or not `sync` is set, and `write_unsynced` with
///   `Durability::None`.
/// * **Errors**: I/O failures and corruption are returned as [`Error`]; an engine never panics
///   on bad user data. After an I/O error the engine may refuse further writes.
///
/// Implementations are `Send + Sync`: every method may be called from many threads at once.
pub trait Engine: Send + Sync + fmt::Debug {
    /// Short name of the engine kind (`"memory"`, `"rocksdb"`, `"fjall"`, `"redb"`), used in
    /// results.
    fn name(&self) -> &'static str;

    /// Returns the value stored under `key` in `keyspace`, if any.
    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Applies `batch` atomically (see the contract for when it is durable).
    fn write(&self, batch: WriteBatch) -> Result<()>;

    /// Applies `batch` atomically without making it durable, even where `sync` is configured:
    /// for state that can be rebuilt after a crash (the store's applied data, redone from its
    /// durable Raft log). A crash may lose it, never partially, and never while keeping a later
    /// [`Engine::write`]. Default: [`Engine::write`].
    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        self.write(batch)
    }

    /// Whether [`Engine::write`] waits for an fsync. Default: false.
    fn syncs_writes(&self) -> bool {
        false
    }

    /// Returns up to `limit` pairs of `keyspace` in `range`, in ascending key order.
    fn scan_in(&self, keyspace: Keyspace, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>>;

    /// Takes a consistent, read-only snapshot of the whole engine, every keyspace.
    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_>;

    /// Makes every completed write durable, machine crash included (a no-op for engines
    /// without durability).
    fn flush(&self) -> Result<()>;

    /// Engine metrics as name → value pairs, sorted by name. Every persistent engine reports
    /// `<name>.synced_writes`: the writes it made durable with an fsync of their own.
    fn stats(&self) -> Vec<(String, u64)>;

    /// [`Engine::get_in`] the default keyspace.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_in(Keyspace::DEFAULT, key)
    }

    /// [`Engine::scan_in`] the default keyspace.
    fn scan(&self, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        self.scan_in(Keyspace::DEFAULT, range, limit)
    }

    /// Convenience: a batch with a single put in the default keyspace.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.write(batch)
    }

    /// Convenience: a batch with a single delete in the default keyspace.
    fn delete(&self, key: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete(key);
        self.write(batch)
    }
}

/// A consistent, read-only view of an engine at one point in time.
pub trait EngineSnapshot: Send + Sync {
    /// Returns the value of `key` in `keyspace` as of the snapshot.
    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Iterates the pairs of `keyspace` in `range` as of the snapshot, in ascending key order.
    /// Errors are returned in-line and end the iteration.
    fn iter_in(
        &self,
        keyspace: Keyspace,
        range: &KeyRange,
    ) -> Box<dyn Iterator<Item = Result<KvPair>> + '_>;

    /// [`EngineSnapshot::get_in`] the default keyspace.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_in(Keyspace::DEFAULT, key)
    }

    /// [`EngineSnapshot::iter_in`] the default keyspace.
    fn iter(&self, range: &KeyRange) -> Box<dyn Iterator<Item = Result<KvPair>> + '_> {
        self.iter_in(Keyspace::DEFAULT, range)
    }

    /// Returns up to `limit` pairs of the default keyspace in `range`, in ascending key order.
    fn scan(&self, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        self.iter(range).take(limit).collect()
    }
}

/// Opens an engine of `kind` serving the default keyspace and `keyspaces`. `dir` is where a
/// persistent engine keeps its files (created if missing) and is ignored by the memory engine;
/// `options` are engine options by full name (`rocksdb.*`, `fjall.*`, `redb.*`, see
/// [`EngineOptions::from_pairs`]); options of other engines are checked and then ignored, so
/// one suite can vary the engine and keep every engine's settings.
///
/// # Errors
///
/// Bad options (naming the option and the accepted values), a missing `dir` for a persistent
/// engine, or the engine's own open error.
pub fn open_engine(
    kind: EngineKind,
    dir: Option<&Path>,
    options: &[(String, String)],
    keyspaces: &[Keyspace],
) -> Result<Arc<dyn Engine>> {
    let options = EngineOptions::from_pairs(options)?;
    let dir = || {
        dir.ok_or_else(|| {
            Error::invalid("engine.dir", "", &format!("a directory for the {kind} engine"))
        })
    };
    Ok(match kind {
        EngineKind::Memory => Arc::new(MemoryEngine::with_keyspaces(keyspaces)),
        EngineKind::RocksDb => Arc::new(RocksEngine::open(dir()?, &options.rocksdb, keyspaces)?),
        EngineKind::Fjall => Arc::new(FjallEngine::open(dir()?, &options.fjall, keyspaces)?),
        EngineKind::Redb => Arc::new(RedbEngine::open(dir()?, &options.redb, keyspaces)?),
    })
}
