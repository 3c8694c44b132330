//! The RocksDB engine: a real database on disk through the `rocksdb` crate.
//!
//! Each [`Keyspace`] is a column family (the default keyspace is RocksDB's default family). All
//! families share the write-ahead log, so a batch spanning them is still atomic and costs one
//! fsync, and a snapshot covers them all. The store keeps its Raft log and states in a keyspace
//! of their own: user reads then search a memtable holding user data only, without the log's
//! churn (every write's entry, its deletion at compaction, a new hard state per round);
//! replicated reads gained about 10 % from it.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rocksdb::statistics::{StatsLevel, Ticker};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction,
    IteratorMode, Options, ReadOptions, WriteOptions, DB,
};

use crate::error::{Error, Result};
use crate::options::Compression;
use crate::{
    keyspace_index, keyspace_list, until_first_error, Engine, EngineSnapshot, KeyRange, Keyspace,
    KvPair, RocksOptions, WriteBatch, WriteOp,
};

/// The column family name of `ks`.
fn family_name(ks: Keyspace) -> &'static str {
    if ks == Keyspace::DEFAULT {
        rocksdb::DEFAULT_COLUMN_FAMILY_NAME
    } else {
        ks.name()
    }
}

/// A RocksDB database in one directory, configured by [`RocksOptions`].
pub struct RocksEngine {
    db: DB,
    /// Kept for its statistics object (tickers are read through it).
    db_options: Options,
    write_options: WriteOptions,
    unsynced_options: WriteOptions,
    /// Kept alive for the database's lifetime (the table factory refers to it).
    _cache: Cache,
    options: RocksOptions,
    path: PathBuf,
    /// The keyspaces, in the order of their families' handles.
    keyspaces: Vec<Keyspace>,
    /// Writes made with `sync` (each waited for its own WAL fsync).
    synced_writes: AtomicU64,
}

impl std::fmt::Debug for RocksEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksEngine")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish()
    }
}

impl RocksEngine {
    /// Opens (creating if missing) the database in `dir`, with a column family per keyspace.
    ///
    /// # Errors
    ///
    /// RocksDB's open error, naming the directory: a lock held by another process, a corrupt
    /// manifest, a missing or unwritable directory.
    pub fn open(dir: &Path, options: &RocksOptions, keyspaces: &[Keyspace]) -> Result<Self> {
        let keyspaces = keyspace_list(keyspaces);
        let cache = Cache::new_lru_cache((options.block_cache_mb as usize) << 20);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        if options.bloom_bits > 0 {
            table.set_bloom_filter(f64::from(options.bloom_bits), false);
            table.set_cache_index_and_filter_blocks(true);
        }
        let mut db_options = Options::default();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        // Without a WAL, only an atomic flush keeps the families consistent on a crash (the
        // store's persisted apply state must never run ahead of the data it applied).
        db_options.set_atomic_flush(true);
        db_options.set_block_based_table_factory(&table);
        db_options.set_write_buffer_size((options.write_buffer_mb as usize) << 20);
        db_options.set_max_background_jobs(options.max_background_jobs as i32);
        db_options.set_compression_type(match options.compression {
            Compression::None => DBCompressionType::None,
            Compression::Snappy => DBCompressionType::Snappy,
            Compression::Lz4 => DBCompressionType::Lz4,
            Compression::Zstd => DBCompressionType::Zstd,
        });
        if options.blob_min_size > 0 {
            db_options.set_enable_blob_files(true);
            db_options.set_min_blob_size(options.blob_min_size);
            db_options.set_enable_blob_gc(true);
        }
        // Tickers only: histograms and timers would slow every operation down.
        db_options.enable_statistics();
        db_options.set_statistics_level(StatsLevel::ExceptHistogramOrTimers);
        let families: Vec<_> = keyspaces
            .iter()
            .map(|ks| ColumnFamilyDescriptor::new(family_name(*ks), db_options.clone()))
            .collect();
        let db = DB::open_cf_descriptors(&db_options, dir, families).map_err(|err| {
            Error::Engine(format!(
                "cannot open RocksDB in {}: {}",
                dir.display(),
                err.into_string()
            ))
        })?;
        let mut write_options = WriteOptions::default();
        write_options.set_sync(options.sync);
        write_options.disable_wal(options.disable_wal);
        let mut unsynced_options = WriteOptions::default();
        unsynced_options.disable_wal(options.disable_wal);
        Ok(Self {
            db,
            db_options,
            write_options,
            unsynced_options,
            _cache: cache,
            options: options.clone(),
            path: dir.to_path_buf(),
            keyspaces,
            synced_writes: AtomicU64::new(0),
        })
    }

    /// The options the engine was opened with.
    pub fn options(&self) -> &RocksOptions {
        &self.options
    }

    /// The underlying database, for benchmarks that compare against raw RocksDB calls.
    pub fn raw(&self) -> &DB {
        &self.db
    }

    /// The column family of `ks`.
    fn family(&self, ks: Keyspace) -> Result<&ColumnFamily> {
        keyspace_index(&self.keyspaces, ks)?;
        family(&self.db, ks)
    }

    fn property(&self, name: &str) -> u64 {
        self.db.property_int_value(name).ok().flatten().unwrap_or(0)
    }

    /// A per-family property summed over every family.
    fn property_sum(&self, name: &str) -> u64 {
        self.keyspaces
            .iter()
            .filter_map(|ks| self.family(*ks).ok())
            .filter_map(|cf| self.db.property_int_value_cf(cf, name).ok().flatten())
            .sum()
    }

    fn batch(&self, batch: &WriteBatch) -> Result<rocksdb::WriteBatch> {
        let mut rocks_batch = rocksdb::WriteBatch::default();
        for op in &batch.ops {
            match op {
                WriteOp::Put { keyspace, key, value } => {
                    rocks_batch.put_cf(self.family(*keyspace)?, key, value)
                }
                WriteOp::Delete { keyspace, key } => {
                    rocks_batch.delete_cf(self.family(*keyspace)?, key)
                }
            }
        }
        Ok(rocks_batch)
    }
}

fn family(db: &DB, ks: Keyspace) -> Result<&ColumnFamily> {
    db.cf_handle(family_name(ks)).ok_or(Error::UnknownKeyspace(ks.name()))
}

/// Read options and iterator start for a scan over `range`.
fn scan_setup(range: &KeyRange) -> (ReadOptions, Vec<u8>) {
    let mut read_options = ReadOptions::default();
    if let Bound::Excluded(end) = &range.end {
        read_options.set_iterate_upper_bound(end.clone());
    }
    let start = match &range.start {
        Bound::Included(start) | Bound::Excluded(start) => start.clone(),
        Bound::Unbounded => Vec::new(),
    };
    (read_options, start)
}

/// Turns a raw RocksDB iterator into the range's pairs.
fn range_iter<'a>(
    iter: impl Iterator<Item = std::result::Result<(Box<[u8]>, Box<[u8]>), rocksdb::Error>> + 'a,
    range: &KeyRange,
) -> impl Iterator<Item = Result<KvPair>> + 'a {
    let excluded_start = match &range.start {
        Bound::Excluded(start) => Some(start.clone()),
        _ => None,
    };
    let range = range.clone();
    let pairs = iter
        .map(|item| item.map(|(k, v)| (k.into_vec(), v.into_vec())).map_err(Into::into))
        .filter(move |item| match (item, &excluded_start) {
            (Ok((key, _)), Some(start)) => key != start,
            _ => true,
        })
        .take_while(move |item| match item {
            Ok((key, _)) => !range.is_past_end(key),
            Err(_) => true,
        });
    until_first_error(pairs)
}

impl Engine for RocksEngine {
    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let value = self.db.get_pinned_cf(self.family(keyspace)?, key)?;
        Ok(value.map(|value| value.to_vec()))
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        self.db.write_opt(self.batch(&batch)?, &self.write_options)?;
        if self.syncs_writes() {
            self.synced_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn syncs_writes(&self) -> bool {
        self.options.sync && !self.options.disable_wal
    }

    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        Ok(self.db.write_opt(self.batch(&batch)?, &self.unsynced_options)?)
    }

    fn scan_in(&self, keyspace: Keyspace, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        let (read_options, start) = scan_setup(range);
        let mode = IteratorMode::From(&start, Direction::Forward);
        let iter = self.db.iterator_cf_opt(self.family(keyspace)?, read_options, mode);
        range_iter(iter, range).take(limit).collect()
    }

    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        Box::new(RocksSnapshot { snapshot: self.db.snapshot(), engine: self })
    }

    fn flush(&self) -> Result<()> {
        if self.options.disable_wal {
            // Without a WAL only a memtable flush makes writes durable.
            let families =
                self.keyspaces.iter().map(|ks| self.family(*ks)).collect::<Result<Vec<_>>>()?;
            self.db.flush_cfs_opt(&families, &rocksdb::FlushOptions::default())?;
        } else {
            self.db.flush_wal(true)?;
        }
        Ok(())
    }

    fn stats(&self) -> Vec<(String, u64)> {
        let ticker = |t: Ticker| self.db_options.get_ticker_count(t);
        let mut stats = vec![
            ("rocksdb.block_cache_hits".to_string(), ticker(Ticker::BlockCacheHit)),
            ("rocksdb.block_cache_misses".to_string(), ticker(Ticker::BlockCacheMiss)),
            (
                "rocksdb.block_cache_usage_bytes".to_string(),
                self.property("rocksdb.block-cache-usage"),
            ),
            ("rocksdb.bytes_read".to_string(), ticker(Ticker::BytesRead)),
            ("rocksdb.bytes_written".to_string(), ticker(Ticker::BytesWritten)),
            ("rocksdb.compaction_read_bytes".to_string(), ticker(Ticker::CompactReadBytes)),
            ("rocksdb.compaction_write_bytes".to_string(), ticker(Ticker::CompactWriteBytes)),
            ("rocksdb.estimated_keys".to_string(), self.property_sum("rocksdb.estimate-num-keys")),
            ("rocksdb.flush_write_bytes".to_string(), ticker(Ticker::FlushWriteBytes)),
            (
                "rocksdb.memtable_bytes".to_string(),
                self.property_sum("rocksdb.cur-size-all-mem-tables"),
            ),
            (
                "rocksdb.blob_file_bytes".to_string(),
                self.property_sum("rocksdb.total-blob-file-size"),
            ),
            ("rocksdb.sst_bytes".to_string(), self.property_sum("rocksdb.total-sst-files-size")),
            ("rocksdb.synced_writes".to_string(), self.synced_writes.load(Ordering::Relaxed)),
            ("rocksdb.wal_syncs".to_string(), ticker(Ticker::WalFileSynced)),
        ];
        stats.sort();
        stats
    }
}

/// A RocksDB snapshot, borrowing its engine.
struct RocksSnapshot<'a> {
    snapshot: rocksdb::Snapshot<'a>,
    engine: &'a RocksEngine,
}

impl EngineSnapshot for RocksSnapshot<'_> {
    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let value = self.snapshot.get_pinned_cf(self.engine.family(keyspace)?, key)?;
        Ok(value.map(|value| value.to_vec()))
    }

    fn iter_in(
        &self,
        keyspace: Keyspace,
        range: &KeyRange,
    ) -> Box<dyn Iterator<Item = Result<KvPair>> + '_> {
        let family = match self.engine.family(keyspace) {
            Ok(cf) => cf,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let (read_options, start) = scan_setup(range);
        let mode = IteratorMode::From(&start, Direction::Forward);
        Box::new(range_iter(self.snapshot.iterator_cf_opt(family, read_options, mode), range))
    }
}

#[cfg(test)]
mod family_tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    // A keyspace is a column family of its own, yet reads, scans, snapshots and survives a
    // reopen like the default one.
    #[test]
    fn keyspaces_are_column_families() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let side = Keyspace::named("side");
        let e = RocksEngine::open(dir.path(), &RocksOptions::default(), &[side])?;
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"data").put_in(side, b"k", b"side");
        e.write(batch)?;
        let cf = e.family(side)?;
        assert_eq!(e.raw().get_pinned_cf(cf, b"k")?.as_deref(), Some(&b"side"[..]));
        assert_eq!(e.raw().get_pinned(b"k")?.as_deref(), Some(&b"data"[..]));
        drop(e);
        let e = RocksEngine::open(dir.path(), &RocksOptions::default(), &[side])?;
        assert_eq!(e.get_in(side, b"k")?, Some(b"side".to_vec()));
        Ok(())
    }

    // Without a WAL, flush persists every family together.
    #[test]
    fn flush_without_wal_persists_every_family() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let side = Keyspace::named("side");
        let options = RocksOptions { disable_wal: true, ..RocksOptions::default() };
        {
            let e = RocksEngine::open(dir.path(), &options, &[side])?;
            let mut batch = WriteBatch::new();
            batch.put_in(side, vec![9], b"applied").put(b"z9".to_vec(), b"data");
            e.write(batch)?;
            e.flush()?;
        }
        let e = RocksEngine::open(dir.path(), &options, &[side])?;
        assert_eq!(e.get_in(side, &[9])?, Some(b"applied".to_vec()));
        assert_eq!(e.get(b"z9")?, Some(b"data".to_vec()));
        Ok(())
    }
}
