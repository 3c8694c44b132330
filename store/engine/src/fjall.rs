//! The fjall engine: an LSM tree in Rust (fjall 3), one fjall keyspace per [`Keyspace`].
//!
//! fjall writes every batch to its journal, then to the memtables of the keyspaces it touches;
//! one journal serves every keyspace, so a batch across keyspaces is atomic. A batch committed
//! without a persist mode stays in the journal's user-space buffer, which a killed process
//! loses, so [`Engine::write`] commits with `PersistMode::Buffer` (handed to the operating
//! system, as RocksDB's WAL write) or, with `sync`, `PersistMode::SyncData` (fdatasync).
//! [`Engine::write_unsynced`] leaves the batch in the buffer.
//!
//! fjall refuses the empty key and keys over 65,535 bytes (it panics on them). The contract
//! allows the empty key, so each keyspace has a second fjall keyspace, `<name>#empty`, that
//! holds the empty key's value under [`EMPTY_SLOT`]; reads and scans that cover the empty key
//! look there first. A longer key is an [`Error::Engine`] naming the limit.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use fjall::config::CompressionPolicy;
use fjall::{
    CompressionType, Database, KeyspaceCreateOptions, KvSeparationOptions, PersistMode, Readable,
};

use crate::error::{Error, Result};
use crate::options::{FjallCompression, FjallOptions};
use crate::{
    keyspace_index, keyspace_list, until_first_error, Engine, EngineSnapshot, KeyRange, Keyspace,
    KvPair, WriteBatch, WriteOp,
};

/// The key of the empty key's value in a keyspace's `#empty` companion.
const EMPTY_SLOT: &[u8] = b"\0";
/// fjall's longest key.
const MAX_KEY: usize = u16::MAX as usize;

/// A fjall database in one directory, configured by [`FjallOptions`].
pub struct FjallEngine {
    db: Database,
    /// Per [`Keyspace`], in the order of `keyspaces`: its fjall keyspace and the companion
    /// holding the empty key.
    handles: Vec<(fjall::Keyspace, fjall::Keyspace)>,
    keyspaces: Vec<Keyspace>,
    options: FjallOptions,
    path: PathBuf,
    synced_writes: AtomicU64,
}

impl std::fmt::Debug for FjallEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallEngine")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish()
    }
}

fn fjall_err(err: fjall::Error) -> Error {
    match err {
        fjall::Error::JournalRecovery(_)
        | fjall::Error::InvalidTrailer
        | fjall::Error::InvalidTag(_)
        | fjall::Error::Decompress(_) => Error::Corruption(format!("fjall: {err}")),
        _ => Error::Engine(format!("fjall: {err}")),
    }
}

impl FjallEngine {
    /// Opens (creating if missing) the database in `dir`, with a fjall keyspace per keyspace.
    ///
    /// # Errors
    ///
    /// fjall's open error, naming the directory (a directory another process has open, a
    /// journal that cannot be recovered).
    pub fn open(dir: &Path, options: &FjallOptions, keyspaces: &[Keyspace]) -> Result<Self> {
        let keyspaces = keyspace_list(keyspaces);
        let opened = |err: fjall::Error| {
            Error::Engine(format!("cannot open fjall in {}: {err}", dir.display()))
        };
        let db = Database::builder(dir)
            .cache_size(options.cache_mb << 20)
            .worker_threads(options.worker_threads)
            .open()
            .map_err(opened)?;
        let create = || {
            let mut create =
                KeyspaceCreateOptions::default().max_memtable_size(options.write_buffer_mb << 20);
            create = match options.compression {
                FjallCompression::Default => create,
                FjallCompression::None => create
                    .data_block_compression_policy(CompressionPolicy::all(CompressionType::None)),
                FjallCompression::Lz4 => create
                    .data_block_compression_policy(CompressionPolicy::all(CompressionType::Lz4)),
            };
            if options.blob_min_size > 0 {
                create = create.with_kv_separation(Some(
                    KvSeparationOptions::default().separation_threshold(options.blob_min_size),
                ));
            }
            create
        };
        let handles = keyspaces
            .iter()
            .map(|ks| {
                let main = db.keyspace(ks.name(), create)?;
                let empty =
                    db.keyspace(&format!("{}#empty", ks.name()), KeyspaceCreateOptions::default)?;
                Ok((main, empty))
            })
            .collect::<std::result::Result<Vec<_>, fjall::Error>>()
            .map_err(opened)?;
        Ok(Self {
            db,
            handles,
            keyspaces,
            options: options.clone(),
            path: dir.to_path_buf(),
            synced_writes: AtomicU64::new(0),
        })
    }

    /// The underlying database, for benchmarks that compare against raw fjall calls.
    pub fn raw(&self) -> &Database {
        &self.db
    }

    /// The fjall keyspace of `ks` (every key but the empty one).
    pub fn handle(&self, ks: Keyspace) -> Result<&fjall::Keyspace> {
        Ok(&self.handles[keyspace_index(&self.keyspaces, ks)?].0)
    }

    /// Where `key` of `ks` lives in fjall: its keyspace and key.
    fn target<'k>(&self, ks: Keyspace, key: &'k [u8]) -> Result<(&fjall::Keyspace, &'k [u8])> {
        let (main, empty) = &self.handles[keyspace_index(&self.keyspaces, ks)?];
        match key.len() {
            0 => Ok((empty, EMPTY_SLOT)),
            n if n > MAX_KEY => Err(Error::Engine(format!(
                "fjall: a key of {n} bytes is longer than fjall's limit of {MAX_KEY} bytes"
            ))),
            _ => Ok((main, key)),
        }
    }

    fn commit(&self, batch: WriteBatch, mode: Option<PersistMode>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut fjall_batch = self.db.batch().durability(mode);
        for op in &batch.ops {
            match op {
                WriteOp::Put { keyspace, key, value } => {
                    let (handle, key) = self.target(*keyspace, key)?;
                    fjall_batch.insert(handle, key, value.as_slice())
                }
                WriteOp::Delete { keyspace, key } => {
                    let (handle, key) = self.target(*keyspace, key)?;
                    fjall_batch.remove(handle, key)
                }
            }
        }
        fjall_batch.commit().map_err(fjall_err)
    }
}

/// `range` as owned bounds for fjall's range iterators (the empty key is not in them).
fn bounds(range: &KeyRange) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let start = match &range.start {
        Bound::Included(k) if k.is_empty() => Bound::Unbounded,
        other => other.clone(),
    };
    (start, range.end.clone())
}

/// Whether `range` holds the empty key.
fn covers_empty_key(range: &KeyRange) -> bool {
    matches!(&range.start, Bound::Unbounded)
        || matches!(&range.start, Bound::Included(k) if k.is_empty())
}

fn pairs(iter: fjall::Iter) -> impl Iterator<Item = Result<KvPair>> {
    until_first_error(
        iter.map(|guard| {
            guard.into_inner().map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(fjall_err)
        }),
    )
}

impl Engine for FjallEngine {
    fn name(&self) -> &'static str {
        "fjall"
    }

    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let (handle, key) = self.target(keyspace, key)?;
        Ok(handle.get(key).map_err(fjall_err)?.map(|v| v.to_vec()))
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        let mode = if self.options.sync { PersistMode::SyncData } else { PersistMode::Buffer };
        let synced = self.options.sync && !batch.is_empty();
        self.commit(batch, Some(mode))?;
        if synced {
            self.synced_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        self.commit(batch, None)
    }

    fn syncs_writes(&self) -> bool {
        self.options.sync
    }

    fn scan_in(&self, keyspace: Keyspace, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        if limit == 0 {
            keyspace_index(&self.keyspaces, keyspace)?;
            return Ok(Vec::new());
        }
        self.snapshot().iter_in(keyspace, range).take(limit).collect()
    }

    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        Box::new(FjallSnapshot { snapshot: self.db.snapshot(), engine: self })
    }

    fn flush(&self) -> Result<()> {
        self.db.persist(PersistMode::SyncAll).map_err(fjall_err)
    }

    fn stats(&self) -> Vec<(String, u64)> {
        let tables: usize = self.handles.iter().map(|(main, _)| main.table_count()).sum();
        let mut stats = vec![
            ("fjall.cache_bytes".to_string(), self.db.cache_size()),
            ("fjall.disk_bytes".to_string(), self.db.disk_space().unwrap_or(0)),
            ("fjall.journal_bytes".to_string(), self.db.journal_disk_space().unwrap_or(0)),
            ("fjall.memtable_bytes".to_string(), self.db.write_buffer_size()),
            ("fjall.compactions".to_string(), self.db.compactions_completed() as u64),
            ("fjall.synced_writes".to_string(), self.synced_writes.load(Ordering::Relaxed)),
            ("fjall.tables".to_string(), tables as u64),
        ];
        stats.sort();
        stats
    }
}

/// A fjall snapshot (a pinned sequence number across every keyspace).
struct FjallSnapshot<'a> {
    snapshot: fjall::Snapshot,
    engine: &'a FjallEngine,
}

impl EngineSnapshot for FjallSnapshot<'_> {
    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let (handle, key) = self.engine.target(keyspace, key)?;
        Ok(self.snapshot.get(handle, key).map_err(fjall_err)?.map(|v| v.to_vec()))
    }

    fn iter_in(
        &self,
        keyspace: Keyspace,
        range: &KeyRange,
    ) -> Box<dyn Iterator<Item = Result<KvPair>> + '_> {
        let handle = match self.engine.handle(keyspace) {
            Ok(handle) => handle,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        if range.is_empty() {
            return Box::new(std::iter::empty());
        }
        // The empty key sorts first: its value (if any), then the rest of the range.
        let empty = covers_empty_key(range)
            .then(|| self.get_in(keyspace, &[]).transpose())
            .flatten()
            .map(|value| value.map(|v| (Vec::new(), v)));
        Box::new(empty.into_iter().chain(pairs(self.snapshot.range(handle, bounds(range)))))
    }
}
