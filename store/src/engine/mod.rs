//! Storage engines: the `Engine` abstraction and its implementations.
//!
//! An experiment picks its engine at run time, so the trait is object-safe and everything above
//! it (the Raft layer, the harness's `engine` binding) holds an `Arc<dyn Engine>`. Two engines
//! exist today:
//!
//! * [`MemoryEngine`]: a concurrent, multi-versioned skip list. Nothing survives the process.
//! * [`RocksEngine`]: a real RocksDB database on disk, configured from name → value options
//!   ([`RocksOptions`]) with named presets.
//!
//! Every engine passes the same conformance suite (`engine::tests`), so engines have no
//! observable differences beyond durability and speed.

mod crashable;
mod memory;
mod options;
mod rocks;
#[cfg(test)]
pub(crate) mod tests;

use std::fmt;
use std::ops::Bound;
use std::path::Path;

pub use crashable::CrashableEngine;
pub use memory::MemoryEngine;
pub use options::{EngineKind, RocksOptions, RocksPreset};
pub use rocks::RocksEngine;

use crate::error::Result;

/// First byte of the key space reserved for the replicated store's Raft state (log entries,
/// hard and apply states). An engine may keep these keys apart from the rest: the RocksDB
/// engine puts them in their own column family, so the log's churn never shares a memtable
/// with user data (every read of user data would otherwise pay for it in the memtable's skip
/// list). Ordering, atomic batches and snapshots span both.
pub const RAFT_KEY_PREFIX: u8 = 0x01;

/// A key and its value, as returned by scans.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// One mutation inside a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Set `key` to `value`, replacing any previous value.
    Put {
        /// The key to write.
        key: Vec<u8>,
        /// The value to store.
        value: Vec<u8>,
    },
    /// Remove `key`; deleting an absent key is not an error.
    Delete {
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

    /// Appends a put.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp::Put { key: key.into(), value: value.into() });
        self
    }

    /// Appends a delete.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp::Delete { key: key.into() });
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
                WriteOp::Put { key, value } => key.len() + value.len(),
                WriteOp::Delete { key } => key.len(),
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

    /// Whether `key` lies beyond the end bound (so an ordered scan can stop).
    pub fn is_past_end(&self, key: &[u8]) -> bool {
        match &self.end {
            Bound::Included(e) => key > e.as_slice(),
            Bound::Excluded(e) => key >= e.as_slice(),
            Bound::Unbounded => false,
        }
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
/// * **Ordering**: scans return keys in ascending lexicographic byte order.
/// * **Atomicity**: a [`WriteBatch`] is applied all or nothing; a concurrent reader or snapshot
///   sees either none or all of its operations.
/// * **Visibility**: once `write` returns, every later `get`, `scan` or `snapshot`, from any
///   thread, sees the batch (read-your-writes, linearizable per engine).
/// * **Snapshot isolation**: a [`EngineSnapshot`] sees exactly the writes that completed before
///   it was taken, whatever is written afterwards.
/// * **Durability** is engine-specific: a memory engine keeps nothing across a restart. A
///   persistent engine keeps every completed write across a clean close; across a crash it keeps
///   every write made while `sync` is configured, and otherwise every write up to the last
///   [`Engine::flush`] (writes after it may be lost, never partially applied).
/// * **Errors**: I/O failures and corruption are returned as [`crate::Error`]; an engine never
///   panics on bad user data. After an I/O error the engine may refuse further writes.
///
/// Implementations are `Send + Sync`: every method may be called from many threads at once.
pub trait Engine: Send + Sync + fmt::Debug {
    /// Short name of the engine kind (`"memory"`, `"rocksdb"`), used in results.
    fn name(&self) -> &'static str;

    /// Returns the value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Applies `batch` atomically.
    fn write(&self, batch: WriteBatch) -> Result<()>;

    /// Applies `batch` atomically without waiting for it to be durable, even where `sync` is
    /// configured: for state that can be rebuilt after a crash (the store's applied data, redone
    /// from its durable Raft log). A crash may lose it, never partially, and never while keeping
    /// a later synced write (the log is sequential). Default: [`Engine::write`].
    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        self.write(batch)
    }

    /// Whether [`Engine::write`] waits for durability (an fsync). Default: false.
    fn syncs_writes(&self) -> bool {
        false
    }

    /// Returns up to `limit` pairs in `range`, in ascending key order.
    fn scan(&self, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>>;

    /// Takes a consistent, read-only snapshot of the whole engine.
    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_>;

    /// Makes every completed write durable (a no-op for engines without durability).
    fn flush(&self) -> Result<()>;

    /// Engine metrics as name → value pairs, sorted by name.
    fn stats(&self) -> Vec<(String, u64)>;

    /// Convenience: a batch with a single put.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.write(batch)
    }

    /// Convenience: a batch with a single delete.
    fn delete(&self, key: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete(key);
        self.write(batch)
    }
}

/// A consistent, read-only view of an engine at one point in time.
pub trait EngineSnapshot: Send + Sync {
    /// Returns the value of `key` as of the snapshot.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Iterates the pairs in `range` as of the snapshot, in ascending key order. Errors are
    /// returned in-line and end the iteration.
    fn iter(&self, range: &KeyRange) -> Box<dyn Iterator<Item = Result<KvPair>> + '_>;

    /// Returns up to `limit` pairs of `range`, in ascending key order.
    fn scan(&self, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        self.iter(range).take(limit).collect()
    }
}

/// Opens an engine of `kind`. `dir` is where a persistent engine keeps its files (created if
/// missing) and is ignored by the memory engine; `options` are `rocksdb.*` options without the
/// prefix (see [`RocksOptions::from_pairs`]).
///
/// # Errors
///
/// Bad options (naming the option and the accepted values), a missing `dir` for a persistent
/// engine, or the engine's own open error.
pub fn open_engine(
    kind: EngineKind,
    dir: Option<&Path>,
    options: &[(String, String)],
) -> Result<std::sync::Arc<dyn Engine>> {
    match kind {
        // The memory engine has no options: `rocksdb.*` settings are ignored so one suite can
        // vary the engine while keeping its RocksDB settings.
        EngineKind::Memory => Ok(std::sync::Arc::new(MemoryEngine::new())),
        EngineKind::RocksDb => {
            let dir = dir.ok_or_else(|| crate::Error::InvalidOption {
                option: "engine.dir".into(),
                value: String::new(),
                expected: "a directory for the rocksdb engine".into(),
            })?;
            let opts = RocksOptions::from_pairs(options)?;
            Ok(std::sync::Arc::new(RocksEngine::open(dir, &opts)?))
        }
    }
}
