//! The RocksDB engine: a real database on disk through the `rocksdb` crate.
//!
//! Keys under [`RAFT_KEY_PREFIX`] (the replicated store's Raft log and states) live in their own
//! column family, `raft`; every other key in the default one. Both share the write-ahead log, so
//! a batch spanning them is still atomic and costs one fsync, and a snapshot covers both; scans
//! over a range that spans both merge them in key order. User reads then search a memtable
//! holding user data only, without the log's churn (every write's entry, its deletion at
//! compaction, a new hard state per round); replicated reads gained about 10 % from it.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use rocksdb::statistics::{StatsLevel, Ticker};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction,
    IteratorMode, Options, ReadOptions, WriteOptions, DB,
};

use super::options::Compression;
use super::{
    Engine, EngineSnapshot, KeyRange, KvPair, RocksOptions, WriteBatch, WriteOp, RAFT_KEY_PREFIX,
};
use crate::error::{Error, Result};

/// The column family of keys under [`RAFT_KEY_PREFIX`] (see the module docs).
const RAFT_CF: &str = "raft";

/// Whether `key` belongs in the `raft` column family.
fn is_raft_key(key: &[u8]) -> bool {
    key.first() == Some(&RAFT_KEY_PREFIX)
}

/// Which column families hold the keys of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    Default,
    Raft,
    Both,
}

/// The raft key space is exactly `[RAFT_KEY_PREFIX, RAFT_KEY_PREFIX + 1)`.
fn span(range: &KeyRange) -> Span {
    let (lo, hi) = ([RAFT_KEY_PREFIX], [RAFT_KEY_PREFIX + 1]);
    let starts_before_hi = match &range.start {
        Bound::Included(s) | Bound::Excluded(s) => s.as_slice() < hi.as_slice(),
        Bound::Unbounded => true,
    };
    let ends_after_lo = match &range.end {
        Bound::Excluded(e) => e.as_slice() > lo.as_slice(),
        Bound::Included(e) => e.as_slice() >= lo.as_slice(),
        Bound::Unbounded => true,
    };
    if !(starts_before_hi && ends_after_lo) {
        return Span::Default;
    }
    let starts_in = match &range.start {
        Bound::Included(s) | Bound::Excluded(s) => s.as_slice() >= lo.as_slice(),
        Bound::Unbounded => false,
    };
    let ends_in = match &range.end {
        Bound::Excluded(e) => e.as_slice() <= hi.as_slice(),
        Bound::Included(e) => e.as_slice() < hi.as_slice(),
        Bound::Unbounded => false,
    };
    if starts_in && ends_in {
        Span::Raft
    } else {
        Span::Both
    }
}

/// Merges two key-ordered scans over disjoint key sets into one key-ordered scan.
fn merge<'a>(
    a: impl Iterator<Item = Result<KvPair>> + 'a,
    b: impl Iterator<Item = Result<KvPair>> + 'a,
) -> impl Iterator<Item = Result<KvPair>> + 'a {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || {
        let take_a = match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some(_), None) | (Some(Err(_)), _) => true,
            (None, Some(_)) | (_, Some(Err(_))) => false,
            (Some(Ok((ka, _))), Some(Ok((kb, _)))) => ka < kb,
        };
        if take_a {
            a.next()
        } else {
            b.next()
        }
    })
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
    /// Opens (creating if missing) the database in `dir`.
    ///
    /// # Errors
    ///
    /// RocksDB's open error, naming the directory: a lock held by another process, a corrupt
    /// manifest, a missing or unwritable directory.
    pub fn open(dir: &Path, options: &RocksOptions) -> Result<Self> {
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
        // Without a WAL, only an atomic flush keeps the two families consistent on a crash (a
        // persisted apply state must never run ahead of the data it applied).
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
        let families = [
            ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, db_options.clone()),
            ColumnFamilyDescriptor::new(RAFT_CF, db_options.clone()),
        ];
        let db = DB::open_cf_descriptors(&db_options, dir, families).map_err(|err| {
            crate::Error::Engine(format!(
                "cannot open RocksDB in {}: {}",
                dir.display(),
                err.into_string()
            ))
        })?;
        if db.cf_handle(RAFT_CF).is_none() {
            return Err(Error::Engine(format!(
                "RocksDB in {} has no `raft` family",
                dir.display()
            )));
        }
        let mut legacy = db.iterator(IteratorMode::From(&[RAFT_KEY_PREFIX], Direction::Forward));
        if let Some(Ok((key, _))) = legacy.next() {
            if is_raft_key(&key) {
                return Err(Error::Engine(format!(
                    "RocksDB in {} keeps raft keys in its default column family: it was written \
                     by an older kvlab (they now live in the `raft` family); use a new directory",
                    dir.display()
                )));
            }
        }
        drop(legacy);
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

    /// The `raft` column family (created at open, so always present).
    fn raft_cf(&self) -> Result<&ColumnFamily> {
        raft_cf(&self.db)
    }

    fn property(&self, name: &str) -> u64 {
        self.db.property_int_value(name).ok().flatten().unwrap_or(0)
    }

    /// A per-family property summed over both families.
    fn property_sum(&self, name: &str) -> u64 {
        let raft = self.raft_cf().ok().and_then(|cf| self.db.property_int_value_cf(cf, name).ok());
        self.property(name) + raft.flatten().unwrap_or(0)
    }

    fn batch(&self, batch: &WriteBatch) -> Result<rocksdb::WriteBatch> {
        let raft = self.raft_cf()?;
        let mut rocks_batch = rocksdb::WriteBatch::default();
        for op in &batch.ops {
            match op {
                WriteOp::Put { key, value } if is_raft_key(key) => {
                    rocks_batch.put_cf(raft, key, value)
                }
                WriteOp::Put { key, value } => rocks_batch.put(key, value),
                WriteOp::Delete { key } if is_raft_key(key) => rocks_batch.delete_cf(raft, key),
                WriteOp::Delete { key } => rocks_batch.delete(key),
            }
        }
        Ok(rocks_batch)
    }
}

fn raft_cf(db: &DB) -> Result<&ColumnFamily> {
    db.cf_handle(RAFT_CF).ok_or_else(|| Error::Engine("RocksDB `raft` family missing".into()))
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
    iter.map(|item| item.map(|(k, v)| (k.into_vec(), v.into_vec())).map_err(Into::into))
        .filter(move |item| match (item, &excluded_start) {
            (Ok((key, _)), Some(start)) => key != start,
            _ => true,
        })
        .take_while(move |item| match item {
            Ok((key, _)) => !range.is_past_end(key),
            Err(_) => true,
        })
        .scan(false, |failed, item| {
            // Stop after the first error.
            if *failed {
                return None;
            }
            *failed = item.is_err();
            Some(item)
        })
}

impl Engine for RocksEngine {
    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let value = if is_raft_key(key) {
            self.db.get_pinned_cf(self.raft_cf()?, key)?
        } else {
            self.db.get_pinned(key)?
        };
        Ok(value.map(|value| value.to_vec()))
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        Ok(self.db.write_opt(self.batch(&batch)?, &self.write_options)?)
    }

    fn syncs_writes(&self) -> bool {
        self.options.sync && !self.options.disable_wal
    }

    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        Ok(self.db.write_opt(self.batch(&batch)?, &self.unsynced_options)?)
    }

    fn scan(&self, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        let raft = self.raft_cf()?;
        let in_family = |cf: Option<&ColumnFamily>| {
            let (read_options, start) = scan_setup(range);
            let mode = IteratorMode::From(&start, Direction::Forward);
            match cf {
                Some(cf) => range_iter(self.db.iterator_cf_opt(cf, read_options, mode), range),
                None => range_iter(self.db.iterator_opt(mode, read_options), range),
            }
        };
        match span(range) {
            Span::Default => in_family(None).take(limit).collect(),
            Span::Raft => in_family(Some(raft)).take(limit).collect(),
            Span::Both => merge(in_family(None), in_family(Some(raft))).take(limit).collect(),
        }
    }

    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        Box::new(RocksSnapshot { snapshot: self.db.snapshot(), db: &self.db })
    }

    fn flush(&self) -> Result<()> {
        if self.options.disable_wal {
            // Without a WAL only a memtable flush makes writes durable.
            let default = self.db.cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME);
            match default {
                Some(default) => self.db.flush_cfs_opt(
                    &[default, self.raft_cf()?],
                    &rocksdb::FlushOptions::default(),
                )?,
                None => self.db.flush()?,
            }
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
            ("rocksdb.wal_syncs".to_string(), ticker(Ticker::WalFileSynced)),
        ];
        stats.sort();
        stats
    }
}

/// A RocksDB snapshot, borrowing its engine.
struct RocksSnapshot<'a> {
    snapshot: rocksdb::Snapshot<'a>,
    db: &'a DB,
}

impl EngineSnapshot for RocksSnapshot<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let value = if is_raft_key(key) {
            self.snapshot.get_pinned_cf(raft_cf(self.db)?, key)?
        } else {
            self.snapshot.get_pinned(key)?
        };
        Ok(value.map(|value| value.to_vec()))
    }

    fn iter(&self, range: &KeyRange) -> Box<dyn Iterator<Item = Result<KvPair>> + '_> {
        let raft = match raft_cf(self.db) {
            Ok(cf) => cf,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let in_family = |cf: Option<&ColumnFamily>| {
            let (read_options, start) = scan_setup(range);
            let mode = IteratorMode::From(&start, Direction::Forward);
            match cf {
                Some(cf) => {
                    range_iter(self.snapshot.iterator_cf_opt(cf, read_options, mode), range)
                }
                None => range_iter(self.snapshot.iterator_opt(mode, read_options), range),
            }
        };
        match span(range) {
            Span::Default => Box::new(in_family(None)),
            Span::Raft => Box::new(in_family(Some(raft))),
            Span::Both => Box::new(merge(in_family(None), in_family(Some(raft)))),
        }
    }
}

#[cfg(test)]
mod family_tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::engine::tests::wiring::temp_rocks;

    #[test]
    fn span_matches_the_raft_key_space() {
        assert_eq!(span(&KeyRange::all()), Span::Both);
        assert_eq!(span(&KeyRange::prefix(&[1])), Span::Raft);
        assert_eq!(span(&KeyRange::prefix(&[1, 7])), Span::Raft);
        assert_eq!(span(&KeyRange::prefix(b"z")), Span::Default);
        assert_eq!(span(&KeyRange::new(vec![0], vec![1])), Span::Default);
        assert_eq!(span(&KeyRange::new(vec![0], vec![1, 0])), Span::Both);
        assert_eq!(span(&KeyRange::new(vec![2], vec![3])), Span::Default);
        assert_eq!(span(&KeyRange::from(vec![1, 0xff])), Span::Both);
        assert_eq!(span(&KeyRange::new(vec![1, 0xff], vec![2])), Span::Raft);
    }

    // Raft keys land in their own family yet read, scan, snapshot and survive a reopen like
    // any other key, in one key order with the rest.
    #[test]
    fn raft_keys_live_in_their_own_family() -> Result<()> {
        let e = temp_rocks(RocksOptions::default());
        let mut batch = WriteBatch::new();
        batch.put(vec![0u8], b"a").put(vec![1u8, 5], b"log").put(b"z1".to_vec(), b"data");
        e.write(batch)?;
        let raft = e.raft_cf()?;
        assert!(e.raw().get_pinned_cf(raft, [1u8, 5])?.is_some());
        assert!(e.raw().get_pinned([1u8, 5])?.is_none(), "raft key in the default family");
        assert!(e.raw().get_pinned(b"z1")?.is_some());
        assert_eq!(e.get(&[1, 5])?, Some(b"log".to_vec()));
        let all = e.scan(&KeyRange::all(), 10)?;
        let keys: Vec<&[u8]> = all.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, vec![&[0u8][..], &[1, 5], b"z1"]);
        let snap = e.snapshot();
        e.delete(&[1, 5])?;
        assert_eq!(snap.get(&[1, 5])?, Some(b"log".to_vec()));
        assert_eq!(snap.iter(&KeyRange::all()).count(), 3);
        drop(snap);
        assert_eq!(e.scan(&KeyRange::all(), 10)?.len(), 2);
        Ok(())
    }

    // A directory written before the split (raft keys in the default family) is refused with
    // a clear error instead of being read as an empty raft state.
    #[test]
    fn a_pre_split_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut opts = Options::default();
            opts.create_if_missing(true);
            let db = DB::open(&opts, dir.path()).unwrap();
            db.put([RAFT_KEY_PREFIX, 0, 2], b"hard state").unwrap();
        }
        let err = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap_err();
        assert!(err.to_string().contains("older kvlab"), "{err}");
    }

    // Without a WAL, flush persists both families together.
    #[test]
    fn flush_without_wal_persists_both_families() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let options = RocksOptions { disable_wal: true, ..RocksOptions::default() };
        {
            let e = RocksEngine::open(dir.path(), &options)?;
            let mut batch = WriteBatch::new();
            batch.put(vec![RAFT_KEY_PREFIX, 9], b"applied").put(b"z9".to_vec(), b"data");
            e.write(batch)?;
            e.flush()?;
        }
        let e = RocksEngine::open(dir.path(), &options)?;
        assert_eq!(e.get(&[RAFT_KEY_PREFIX, 9])?, Some(b"applied".to_vec()));
        assert_eq!(e.get(b"z9")?, Some(b"data".to_vec()));
        Ok(())
    }
}
