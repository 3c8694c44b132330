//! The redb engine: a copy-on-write B+tree in Rust (redb 4), one table per [`Keyspace`] in one
//! database file.
//!
//! Every [`Engine::write`] is one write transaction. redb has two durabilities:
//! `Durability::Immediate` (the commit is fsynced before it returns) and `Durability::None`
//! (the commit lives in process memory until a later `Immediate` commit), which a killed
//! process loses. To keep the contract that a completed write survives a process crash,
//! `write` always commits with `Immediate`, whatever `sync` says, and only
//! [`Engine::write_unsynced`] (state that can be rebuilt) commits with `None`. redb's readers
//! run in read transactions, which are its snapshots; writers take turns.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, Durability, ReadableDatabase, TableDefinition};

use crate::error::{Error, Result};
use crate::options::RedbOptions;
use crate::{
    keyspace_index, keyspace_list, until_first_error, Engine, EngineSnapshot, KeyRange, Keyspace,
    KvPair, WriteBatch, WriteOp,
};

/// The database file inside the engine's directory.
const FILE: &str = "kvlab.redb";

pub(crate) type Table = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// A table open in a write transaction.
type OpenTable<'txn> = redb::Table<'txn, &'static [u8], &'static [u8]>;

/// A redb database in one directory, configured by [`RedbOptions`].
pub struct RedbEngine {
    db: Database,
    keyspaces: Vec<Keyspace>,
    options: RedbOptions,
    path: PathBuf,
    synced_writes: AtomicU64,
    unsynced_writes: AtomicU64,
}

impl std::fmt::Debug for RedbEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbEngine")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish()
    }
}

fn redb_err(err: impl Into<redb::Error>) -> Error {
    let err: redb::Error = err.into();
    match err {
        redb::Error::Corrupted(_) => Error::Corruption(format!("redb: {err}")),
        _ => Error::Engine(format!("redb: {err}")),
    }
}

fn table(ks: Keyspace) -> Table {
    TableDefinition::new(ks.name())
}

impl RedbEngine {
    /// Opens (creating if missing) the database in `dir` (file `kvlab.redb`), with a table per
    /// keyspace.
    ///
    /// # Errors
    ///
    /// redb's open error, naming the file (a database another process has open, a file that
    /// is not a redb database).
    pub fn open(dir: &Path, options: &RedbOptions, keyspaces: &[Keyspace]) -> Result<Self> {
        let keyspaces = keyspace_list(keyspaces);
        let file = dir.join(FILE);
        let opened =
            |err: String| Error::Engine(format!("cannot open redb in {}: {err}", file.display()));
        std::fs::create_dir_all(dir).map_err(|e| opened(e.to_string()))?;
        let db = Database::builder()
            .set_cache_size((options.cache_mb as usize) << 20)
            .create(&file)
            .map_err(|e| opened(e.to_string()))?;
        // Every table exists from the start, so read transactions never miss one.
        let txn = db.begin_write().map_err(|e| opened(e.to_string()))?;
        for ks in &keyspaces {
            txn.open_table(table(*ks)).map_err(|e| opened(e.to_string()))?;
        }
        txn.commit().map_err(|e| opened(e.to_string()))?;
        Ok(Self {
            db,
            keyspaces,
            options: options.clone(),
            path: dir.to_path_buf(),
            synced_writes: AtomicU64::new(0),
            unsynced_writes: AtomicU64::new(0),
        })
    }

    /// The underlying database, for benchmarks that compare against raw redb calls.
    pub fn raw(&self) -> &Database {
        &self.db
    }

    /// The table definition of `ks`, for raw access.
    pub fn table(
        &self,
        ks: Keyspace,
    ) -> Result<TableDefinition<'static, &'static [u8], &'static [u8]>> {
        keyspace_index(&self.keyspaces, ks)?;
        Ok(table(ks))
    }

    fn commit(&self, batch: WriteBatch, durability: Durability) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write().map_err(redb_err)?;
        txn.set_durability(durability).map_err(|e| Error::Engine(format!("redb: {e}")))?;
        // Tables are opened once per keyspace the batch touches, in first-use order.
        let mut open: Vec<(Keyspace, OpenTable<'_>)> = Vec::new();
        for op in &batch.ops {
            let (WriteOp::Put { keyspace, .. } | WriteOp::Delete { keyspace, .. }) = op;
            let at = match open.iter().position(|(ks, _)| ks == keyspace) {
                Some(at) => at,
                None => {
                    open.push((
                        *keyspace,
                        txn.open_table(self.table(*keyspace)?).map_err(redb_err)?,
                    ));
                    open.len() - 1
                }
            };
            let t = &mut open[at].1;
            match op {
                WriteOp::Put { key, value, .. } => {
                    t.insert(key.as_slice(), value.as_slice()).map_err(redb_err)?;
                }
                WriteOp::Delete { key, .. } => {
                    t.remove(key.as_slice()).map_err(redb_err)?;
                }
            }
        }
        drop(open);
        txn.commit().map_err(redb_err)
    }
}

/// The pairs of `range` in `ks` as of the read transaction `txn`.
fn range_in(
    txn: &redb::ReadTransaction,
    ks: Table,
    range: &KeyRange,
) -> Box<dyn Iterator<Item = Result<KvPair>> + 'static> {
    if range.is_empty() {
        return Box::new(std::iter::empty());
    }
    let iter = txn
        .open_table(ks)
        .map_err(redb_err)
        .and_then(|t| t.range::<&[u8]>(range.as_slices()).map_err(redb_err));
    match iter {
        Err(e) => Box::new(std::iter::once(Err(e))),
        Ok(iter) => Box::new(until_first_error(iter.map(|item| {
            item.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())).map_err(redb_err)
        }))),
    }
}

fn get_in(txn: &redb::ReadTransaction, ks: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let t = txn.open_table(ks).map_err(redb_err)?;
    Ok(t.get(key).map_err(redb_err)?.map(|v| v.value().to_vec()))
}

impl Engine for RedbEngine {
    fn name(&self) -> &'static str {
        "redb"
    }

    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(redb_err)?;
        get_in(&txn, self.table(keyspace)?, key)
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        let counted = !batch.is_empty();
        self.commit(batch, Durability::Immediate)?;
        if counted {
            self.synced_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        let counted = !batch.is_empty();
        self.commit(batch, Durability::None)?;
        if counted {
            self.unsynced_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn syncs_writes(&self) -> bool {
        true
    }

    fn scan_in(&self, keyspace: Keyspace, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        let txn = self.db.begin_read().map_err(redb_err)?;
        range_in(&txn, self.table(keyspace)?, range).take(limit).collect()
    }

    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        Box::new(RedbSnapshot { txn: self.db.begin_read().map_err(redb_err), engine: self })
    }

    fn flush(&self) -> Result<()> {
        // An empty Immediate commit makes every earlier `None` commit durable.
        let mut txn = self.db.begin_write().map_err(redb_err)?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| Error::Engine(format!("redb: {e}")))?;
        txn.commit().map_err(redb_err)
    }

    fn stats(&self) -> Vec<(String, u64)> {
        let cache = self.db.cache_stats();
        let file = std::fs::metadata(self.path.join(FILE)).map(|m| m.len()).unwrap_or(0);
        let mut stats = vec![
            ("redb.cache_bytes".to_string(), cache.used_bytes() as u64),
            ("redb.cache_evictions".to_string(), cache.evictions()),
            ("redb.cache_read_hits".to_string(), cache.read_hits()),
            ("redb.cache_read_misses".to_string(), cache.read_misses()),
            ("redb.file_bytes".to_string(), file),
            ("redb.synced_writes".to_string(), self.synced_writes.load(Ordering::Relaxed)),
            ("redb.unsynced_writes".to_string(), self.unsynced_writes.load(Ordering::Relaxed)),
        ];
        stats.sort();
        stats
    }
}

/// A redb read transaction, or the error that kept it from starting (returned by every read).
struct RedbSnapshot<'a> {
    txn: Result<redb::ReadTransaction>,
    engine: &'a RedbEngine,
}

impl EngineSnapshot for RedbSnapshot<'_> {
    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let txn = self.txn.as_ref().map_err(Clone::clone)?;
        get_in(txn, self.engine.table(keyspace)?, key)
    }

    fn iter_in(
        &self,
        keyspace: Keyspace,
        range: &KeyRange,
    ) -> Box<dyn Iterator<Item = Result<KvPair>> + '_> {
        let txn = match self.txn.as_ref() {
            Ok(txn) => txn,
            Err(e) => return Box::new(std::iter::once(Err(e.clone()))),
        };
        match self.engine.table(keyspace) {
            Ok(ks) => range_in(txn, ks, range),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }
}
