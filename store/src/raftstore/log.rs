//! Where a region's Raft log and hard state persist ([`RaftLog`]), and the log writes a Ready
//! round produces ([`LogOp`]), written by the node to whichever backend the cluster uses:
//!
//! * `same`: the data engine's [`keys::RAFT`] keyspace, in the same batch as the data (one
//!   write, one fsync);
//! * `separate`: the [`keys::RAFT`] keyspace of a second engine of the same kind;
//! * `raft-engine`: TiKV's log engine ([`RaftEngineLog`]), which stores entries in append-only
//!   files and drops whole files once every region has compacted past them;
//! * `memory`: nowhere (a node cannot restart).
//!
//! The applied state is not part of the log: it always lives in the data engine, in the same
//! batch as the data it applied.

use std::path::Path;
use std::sync::Arc;

use kvlab_engine::{Engine, WriteBatch};
use protobuf::Message as _;
use raft::prelude::{Entry, HardState};

use crate::error::{Error, Result};
use crate::keys;
use crate::topology::{Index, RegionId};

/// One change to a region's persisted log.
#[derive(Clone, Debug)]
pub enum LogOp {
    /// Writes `entries`; entries after the last of them, up to `old_last`, are removed (a
    /// conflicting suffix).
    Append {
        /// The region.
        region: RegionId,
        /// Contiguous entries.
        entries: Vec<Entry>,
        /// The log's last index before the append.
        old_last: Index,
    },
    /// Records a new hard state.
    HardState {
        /// The region.
        region: RegionId,
        /// The state.
        state: HardState,
    },
    /// The log now starts after `(index, term)`: entries `first..=last` are discarded and the
    /// truncated state recorded. `last` may lie beyond `index` (a snapshot replacing a log).
    Truncate {
        /// The region.
        region: RegionId,
        /// First index of the old log.
        first: Index,
        /// Last index of the old log.
        last: Index,
        /// Index of the last discarded entry (the snapshot's, or the compaction's).
        index: Index,
        /// Its term.
        term: u64,
    },
}

/// What a region's storage loads from its log at start.
#[derive(Debug, Default)]
pub struct LoadedLog {
    /// The persisted hard state (default if none).
    pub hard_state: HardState,
    /// The truncated (index, term).
    pub truncated: (Index, u64),
    /// The contiguous entries after the truncated index.
    pub entries: Vec<Entry>,
}

/// Where the Raft log lives (see the module docs).
#[derive(Clone, Debug)]
pub enum RaftLog {
    /// In the data engine.
    Same,
    /// In a second engine.
    Separate(Arc<dyn Engine>),
    /// In raft-engine.
    RaftEngine(Arc<RaftEngineLog>),
    /// Nowhere.
    Memory,
}

impl RaftLog {
    /// Whether the log's writes wait for an fsync.
    pub fn syncs(&self, data: &dyn Engine) -> bool {
        match self {
            RaftLog::Same => data.syncs_writes(),
            RaftLog::Separate(e) => e.syncs_writes(),
            RaftLog::RaftEngine(e) => e.syncs(),
            RaftLog::Memory => false,
        }
    }

    /// Whether the log is written apart from the data engine.
    pub fn is_apart(&self) -> bool {
        matches!(self, RaftLog::Separate(_) | RaftLog::RaftEngine(_))
    }

    /// Loads `region`'s log.
    ///
    /// # Errors
    ///
    /// Engine errors and `Corruption` for undecodable records.
    pub fn load(&self, data: &dyn Engine, region: RegionId) -> Result<LoadedLog> {
        match self {
            RaftLog::Same => load_from_engine(data, region),
            RaftLog::Separate(e) => load_from_engine(&**e, region),
            RaftLog::RaftEngine(e) => e.load(region),
            RaftLog::Memory => Ok(LoadedLog::default()),
        }
    }

    /// Writes `ops` at once, outside a Ready round (a repair at start), durably.
    ///
    /// # Errors
    ///
    /// Engine errors.
    pub fn write_now(&self, data: &dyn Engine, ops: Vec<LogOp>) -> Result<()> {
        match self {
            RaftLog::Same => Ok(data.write(to_batch(ops, WriteBatch::new())?)?),
            RaftLog::Separate(e) => Ok(e.write(to_batch(ops, WriteBatch::new())?)?),
            RaftLog::RaftEngine(e) => e.write(ops),
            RaftLog::Memory => Ok(()),
        }
    }
}

/// Appends `ops` to `batch` as writes to the [`keys::RAFT`] keyspace.
///
/// # Errors
///
/// `Corruption` if an entry or hard state cannot be encoded.
pub fn to_batch(ops: Vec<LogOp>, mut batch: WriteBatch) -> Result<WriteBatch> {
    for op in ops {
        match op {
            LogOp::Append { region, entries, old_last } => {
                let new_last = entries.last().map_or(0, |e| e.index);
                for e in &entries {
                    batch.put_in(
                        keys::RAFT,
                        keys::log_key(region, e.index),
                        e.write_to_bytes().map_err(corrupt)?,
                    );
                }
                for idx in new_last + 1..=old_last {
                    batch.delete_in(keys::RAFT, keys::log_key(region, idx));
                }
            }
            LogOp::HardState { region, state } => {
                let bytes = state.write_to_bytes().map_err(corrupt)?;
                batch.put_in(keys::RAFT, keys::hard_state_key(region), bytes);
            }
            LogOp::Truncate { region, first, last, index, term } => {
                for idx in first..=last {
                    batch.delete_in(keys::RAFT, keys::log_key(region, idx));
                }
                batch.put_in(
                    keys::RAFT,
                    keys::truncated_key(region),
                    keys::encode_index_term(index, term),
                );
            }
        }
    }
    Ok(batch)
}

fn load_from_engine(engine: &dyn Engine, region: RegionId) -> Result<LoadedLog> {
    let mut log = LoadedLog::default();
    if let Some(v) = engine.get_in(keys::RAFT, &keys::hard_state_key(region))? {
        log.hard_state = HardState::parse_from_bytes(&v).map_err(corrupt)?;
    }
    if let Some(v) = engine.get_in(keys::RAFT, &keys::truncated_key(region))? {
        log.truncated = keys::decode_index_term(&v)?;
    }
    let snap = engine.snapshot();
    for item in snap.iter_in(keys::RAFT, &keys::log_range(region)) {
        let (_, v) = item?;
        let e = Entry::parse_from_bytes(&v).map_err(corrupt)?;
        if e.index == log.truncated.0 + 1 + log.entries.len() as u64 {
            log.entries.push(e);
        }
    }
    Ok(log)
}

fn corrupt(err: impl std::fmt::Display) -> Error {
    Error::Corruption(err.to_string())
}

/// raft-engine's key of a region's hard state.
const HARD_STATE: &[u8] = b"hard_state";
/// raft-engine's key of a region's truncated state.
const TRUNCATED: &[u8] = b"truncated";

/// raft-engine's view of a Raft entry.
struct EntryExt;

impl raft_engine::MessageExt for EntryExt {
    type Entry = Entry;

    fn index(e: &Entry) -> u64 {
        e.index
    }
}

/// A node's raft-engine: every region's log and hard state in one directory.
pub struct RaftEngineLog {
    engine: raft_engine::Engine,
    /// Whether writes wait for an fsync.
    sync: bool,
    /// When files were last purged.
    last_purge: parking_lot::Mutex<std::time::Instant>,
}

impl std::fmt::Debug for RaftEngineLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftEngineLog").field("dir", &self.engine.path()).finish()
    }
}

/// Log files rotate at this size, so compaction can drop old ones soon.
const TARGET_FILE_MB: u64 = 8;
/// raft-engine purges (drops compacted files, rewrites live entries out of old ones) only
/// while its log files hold more than this: four files.
const PURGE_THRESHOLD_MB: u64 = 4 * TARGET_FILE_MB;

fn raft_engine_err(err: raft_engine::Error) -> Error {
    match err {
        raft_engine::Error::Corruption(text) => Error::Corruption(format!("raft-engine: {text}")),
        other => Error::Engine(format!("raft-engine: {other}")),
    }
}

impl RaftEngineLog {
    /// Opens (creating if missing) a raft-engine in `dir`; `sync` fsyncs every write.
    ///
    /// # Errors
    ///
    /// raft-engine's open error, naming the directory.
    pub fn open(dir: &Path, sync: bool) -> Result<Self> {
        let config = raft_engine::Config {
            dir: dir.display().to_string(),
            target_file_size: raft_engine::ReadableSize::mb(TARGET_FILE_MB),
            purge_threshold: raft_engine::ReadableSize::mb(PURGE_THRESHOLD_MB),
            ..raft_engine::Config::default()
        };
        let engine = raft_engine::Engine::open(config).map_err(|e| {
            Error::Engine(format!("cannot open raft-engine in {}: {e}", dir.display()))
        })?;
        Ok(Self { engine, sync, last_purge: parking_lot::Mutex::new(std::time::Instant::now()) })
    }

    /// Whether writes wait for an fsync.
    pub fn syncs(&self) -> bool {
        self.sync
    }

    /// Writes `ops` in one batch (one fsync with `sync`).
    ///
    /// # Errors
    ///
    /// raft-engine's write errors.
    pub fn write(&self, ops: Vec<LogOp>) -> Result<()> {
        let mut batch = raft_engine::LogBatch::default();
        for op in ops {
            match op {
                LogOp::Append { region, entries, .. } => {
                    // raft-engine drops the entries after the appended ones itself.
                    batch.add_entries::<EntryExt>(region, &entries).map_err(raft_engine_err)?;
                }
                LogOp::HardState { region, state } => {
                    batch
                        .put_message(region, HARD_STATE.to_vec(), &state)
                        .map_err(raft_engine_err)?;
                }
                LogOp::Truncate { region, last, index, term, .. } => {
                    if last > index {
                        // A snapshot replaces a log that runs past it: drop it all. `Clean`
                        // drops the region's hard state too: it is written again after it
                        // (a hard state later in this batch still wins).
                        let state = self
                            .engine
                            .get_message::<HardState>(region, HARD_STATE)
                            .map_err(raft_engine_err)?;
                        batch.add_command(region, raft_engine::Command::Clean);
                        if let Some(state) = state {
                            batch
                                .put_message(region, HARD_STATE.to_vec(), &state)
                                .map_err(raft_engine_err)?;
                        }
                    } else {
                        batch.add_command(
                            region,
                            raft_engine::Command::Compact { index: index + 1 },
                        );
                    }
                    batch
                        .put(region, TRUNCATED.to_vec(), keys::encode_index_term(index, term))
                        .map_err(raft_engine_err)?;
                }
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.engine.write(&mut batch, self.sync).map_err(raft_engine_err)?;
        Ok(())
    }

    /// Drops log files every region has compacted past, at most once a second.
    ///
    /// # Errors
    ///
    /// raft-engine's purge errors.
    pub fn purge(&self) -> Result<()> {
        {
            let mut last = self.last_purge.lock();
            if last.elapsed() < std::time::Duration::from_secs(1) {
                return Ok(());
            }
            *last = std::time::Instant::now();
        }
        self.engine.purge_expired_files().map_err(raft_engine_err)?;
        Ok(())
    }

    /// Bytes of log files on disk.
    #[cfg(test)]
    fn used_bytes(&self) -> u64 {
        self.engine.get_used_size() as u64
    }

    fn load(&self, region: RegionId) -> Result<LoadedLog> {
        let mut log = LoadedLog::default();
        if let Some(hs) =
            self.engine.get_message::<HardState>(region, HARD_STATE).map_err(raft_engine_err)?
        {
            log.hard_state = hs;
        }
        if let Some(v) = self.engine.get(region, TRUNCATED) {
            log.truncated = keys::decode_index_term(&v)?;
        }
        let first = log.truncated.0 + 1;
        if let Some(last) = self.engine.last_index(region) {
            let start = self.engine.first_index(region).unwrap_or(first);
            if start <= first && last >= first {
                self.engine
                    .fetch_entries_to::<EntryExt>(region, first, last + 1, None, &mut log.entries)
                    .map_err(raft_engine_err)?;
            }
        }
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, data: vec![7u8; 100].into(), ..Default::default() }
    }

    // The raft-engine log loads what was written: entries, a conflicting suffix replaced,
    // the hard state, and a compaction.
    #[test]
    fn raft_engine_keeps_entries_hard_state_and_truncation() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = RaftEngineLog::open(dir.path(), true)?;
            let entries: Vec<Entry> = (1..=10).map(|i| entry(i, 1)).collect();
            let state = HardState { term: 2, vote: 3, commit: 8, ..Default::default() };
            log.write(vec![
                LogOp::Append { region: 5, entries, old_last: 0 },
                LogOp::HardState { region: 5, state },
            ])?;
            log.write(vec![LogOp::Append { region: 5, entries: vec![entry(9, 2)], old_last: 10 }])?;
            log.write(vec![LogOp::Truncate { region: 5, first: 1, last: 4, index: 4, term: 1 }])?;
        }
        let log = RaftEngineLog::open(dir.path(), true)?;
        let loaded = log.load(5)?;
        assert_eq!((loaded.hard_state.term, loaded.hard_state.vote), (2, 3));
        assert_eq!(loaded.truncated, (4, 1));
        let indexes: Vec<(u64, u64)> = loaded.entries.iter().map(|e| (e.index, e.term)).collect();
        assert_eq!(indexes, vec![(5, 1), (6, 1), (7, 1), (8, 1), (9, 2)]);
        assert!(log.load(6)?.entries.is_empty(), "another region has no log");
        Ok(())
    }

    // A snapshot that replaces a log running past it leaves no old entry behind, and keeps the
    // hard state (raft-engine's `Clean` drops it; the test fails without writing it again).
    #[test]
    fn raft_engine_truncation_past_the_log_drops_it() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let log = RaftEngineLog::open(dir.path(), false)?;
        let entries: Vec<Entry> = (1..=10).map(|i| entry(i, 1)).collect();
        let state = HardState { term: 3, vote: 2, commit: 7, ..Default::default() };
        log.write(vec![
            LogOp::Append { region: 1, entries, old_last: 0 },
            LogOp::HardState { region: 1, state },
        ])?;
        log.write(vec![LogOp::Truncate { region: 1, first: 1, last: 10, index: 7, term: 3 }])?;
        let loaded = log.load(1)?;
        assert_eq!(loaded.truncated, (7, 3));
        assert!(loaded.entries.is_empty(), "{:?}", loaded.entries);
        // The vote survives: a node that forgot it could vote twice in term 3.
        assert_eq!((loaded.hard_state.term, loaded.hard_state.vote), (3, 2));
        Ok(())
    }

    // Compacting lets purging drop whole log files (the test fails without the compaction).
    #[test]
    fn compaction_purges_raft_engine_files() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let log = RaftEngineLog::open(dir.path(), false)?;
        // Incompressible entries (raft-engine compresses batches).
        let big = |index: u64| {
            let mut x = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let data: Vec<u8> = (0..64 << 10)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            Entry { index, term: 1, data: data.into(), ..Default::default() }
        };
        // 40 MiB of entries: five files of 8 MiB.
        for chunk in (1..=640u64).collect::<Vec<_>>().chunks(32) {
            let entries = chunk.iter().map(|i| big(*i)).collect();
            log.write(vec![LogOp::Append { region: 1, entries, old_last: 0 }])?;
        }
        let before = log.used_bytes();
        log.write(vec![LogOp::Truncate { region: 1, first: 1, last: 630, index: 630, term: 1 }])?;
        // Force a new file so every older one is fully compacted.
        log.write(vec![LogOp::Append { region: 1, entries: vec![big(641)], old_last: 640 }])?;
        *log.last_purge.lock() -= std::time::Duration::from_secs(2);
        log.purge()?;
        // Purged files leave the log (raft-engine may keep them aside to reuse, as in TiKV).
        let after = log.used_bytes();
        assert!(after * 2 < before, "log bytes {before} -> {after}");
        Ok(())
    }
}
