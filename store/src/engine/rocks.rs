//! The RocksDB engine: a real database on disk through the `rocksdb` crate.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use rocksdb::statistics::{StatsLevel, Ticker};
use rocksdb::{
    BlockBasedOptions, Cache, DBCompressionType, Direction, IteratorMode, Options, ReadOptions,
    WriteOptions, DB,
};

use super::options::Compression;
use super::{Engine, EngineSnapshot, KeyRange, KvPair, RocksOptions, WriteBatch, WriteOp};
use crate::error::Result;

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
        let db = DB::open(&db_options, dir).map_err(|err| {
            crate::Error::Engine(format!(
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

    fn property(&self, name: &str) -> u64 {
        self.db.property_int_value(name).ok().flatten().unwrap_or(0)
    }
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
        Ok(self.db.get_pinned(key)?.map(|value| value.to_vec()))
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        Ok(self.db.write_opt(to_rocks(&batch), &self.write_options)?)
    }

    fn syncs_writes(&self) -> bool {
        self.options.sync && !self.options.disable_wal
    }

    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        Ok(self.db.write_opt(to_rocks(&batch), &self.unsynced_options)?)
    }

    fn scan(&self, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        let (read_options, start) = scan_setup(range);
        let iter =
            self.db.iterator_opt(IteratorMode::From(&start, Direction::Forward), read_options);
        range_iter(iter, range).take(limit).collect()
    }

    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        Box::new(RocksSnapshot { snapshot: self.db.snapshot() })
    }

    fn flush(&self) -> Result<()> {
        if self.options.disable_wal {
            // Without a WAL only a memtable flush makes writes durable.
            self.db.flush()?;
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
            ("rocksdb.estimated_keys".to_string(), self.property("rocksdb.estimate-num-keys")),
            ("rocksdb.flush_write_bytes".to_string(), ticker(Ticker::FlushWriteBytes)),
            (
                "rocksdb.memtable_bytes".to_string(),
                self.property("rocksdb.cur-size-all-mem-tables"),
            ),
            ("rocksdb.blob_file_bytes".to_string(), self.property("rocksdb.total-blob-file-size")),
            ("rocksdb.sst_bytes".to_string(), self.property("rocksdb.total-sst-files-size")),
            ("rocksdb.wal_syncs".to_string(), ticker(Ticker::WalFileSynced)),
        ];
        stats.sort();
        stats
    }
}

/// A RocksDB snapshot, borrowing its engine.
struct RocksSnapshot<'a> {
    snapshot: rocksdb::Snapshot<'a>,
}

impl EngineSnapshot for RocksSnapshot<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.snapshot.get_pinned(key)?.map(|value| value.to_vec()))
    }

    fn iter(&self, range: &KeyRange) -> Box<dyn Iterator<Item = Result<KvPair>> + '_> {
        let (read_options, start) = scan_setup(range);
        let iter = self
            .snapshot
            .iterator_opt(IteratorMode::From(&start, Direction::Forward), read_options);
        Box::new(range_iter(iter, range))
    }
}

fn to_rocks(batch: &WriteBatch) -> rocksdb::WriteBatch {
    let mut rocks_batch = rocksdb::WriteBatch::default();
    for op in &batch.ops {
        match op {
            WriteOp::Put { key, value } => rocks_batch.put(key, value),
            WriteOp::Delete { key } => rocks_batch.delete(key),
        }
    }
    rocks_batch
}
