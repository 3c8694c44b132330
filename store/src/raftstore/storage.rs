//! `PeerStorage`: one region peer's Raft log, hard state and apply state, behind raft-rs's
//! [`raft::Storage`] trait.
//!
//! The uncompacted log is mirrored in memory (a contiguous `Vec<Entry>` starting right after the
//! truncated index), so raft-rs's reads never touch the log's backend. Every mutation is also
//! written into a [`WriteTask`] that the node's Ready loop writes once for all of its peers:
//!
//! * log entries, hard state and truncated state go to the task's **log ops**
//!   ([`LogOp`]), which the node writes to the cluster's [`RaftLog`] backend (nowhere for a
//!   memory log);
//! * the apply state (applied index and term) always goes to the **data batch**, next to the data
//!   it applied, so the two are atomic.
//!
//! Snapshots are built on demand from an [`kvlab_engine::EngineSnapshot`] of the data engine: the
//! region's data range plus the apply state read from the same snapshot, so data and index agree.
//!
//! Invariants: `truncated.0 ≤ applied.0 ≤ commit ≤ last_index`; `entries[i].index ==
//! truncated.0 + 1 + i`.

use std::sync::Arc;

use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};

use kvlab_engine::{Engine, WriteBatch};

use crate::error::{Error, Result};
use crate::keys;
use crate::raftstore::log::{LogOp, RaftLog};
use crate::topology::{Index, Region};

/// The writes one Ready round produces, for the node to persist in one go.
#[derive(Debug, Default)]
pub struct WriteTask {
    /// Writes to the data engine (data and apply states).
    pub data: WriteBatch,
    /// Writes to the Raft log.
    pub log: Vec<LogOp>,
    /// Whether the batch compacts a log: with a separate, unsynced data engine the data engine
    /// must be flushed first, so no entry is discarded before its application is durable.
    pub compacted: bool,
    /// Whether the batch installs a snapshot: its data and applied state (data batch) must be
    /// durable before the log truncation that goes with it (raft batch) is written, or a crash
    /// in between leaves the log truncated past the applied index.
    pub snapshot: bool,
    /// Whether the batch holds Raft state (entries, hard state, truncation, a snapshot) that
    /// must be durable before the round goes on. A batch that only applies committed entries
    /// need not be synced: after a crash the entries are applied again from the durable log.
    pub durable: bool,
}

impl WriteTask {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty() && self.log.is_empty()
    }
}

/// A region peer's Raft storage (see the module docs).
pub struct PeerStorage {
    region: Region,
    data: Arc<dyn Engine>,
    log: RaftLog,
    hard_state: HardState,
    conf_state: ConfState,
    entries: Vec<Entry>,
    truncated: (Index, u64),
    applied: (Index, u64),
}

impl PeerStorage {
    /// Loads (or initialises) the storage of `region` from the node's engines.
    ///
    /// # Errors
    ///
    /// Engine errors and `Corruption` for undecodable records.
    pub fn open(region: Region, data: Arc<dyn Engine>, log: RaftLog) -> Result<Self> {
        let conf_state = ConfState { voters: region.replicas.clone(), ..Default::default() };
        let mut store = Self {
            region,
            data,
            log,
            hard_state: HardState::default(),
            conf_state,
            entries: Vec::new(),
            truncated: (0, 0),
            applied: (0, 0),
        };
        let id = store.region.id;
        if let Some(v) = store.data.get_in(keys::RAFT, &keys::apply_state_key(id))? {
            store.applied = keys::decode_index_term(&v)?;
        }
        let loaded = store.log.load(&*store.data, id)?;
        store.hard_state = loaded.hard_state;
        store.truncated = loaded.truncated;
        store.entries = loaded.entries;
        store.recover_log_behind_applied()?;
        if store.hard_state.commit < store.applied.0 {
            store.hard_state.commit = store.applied.0;
        }
        Ok(store)
    }

    /// Makes the log start at the applied index when it does not hold the applied entry: the
    /// log is not persisted (memory log), or a crash came between a snapshot's data (durable
    /// first) and the truncation of the log it replaces. The entries such a log still holds
    /// are the replaced log's: they are dropped, on disk too, and the truncation is recorded.
    fn recover_log_behind_applied(&mut self) -> Result<()> {
        let (index, term) = self.applied;
        if index <= self.truncated.0 || raft::Storage::term(self, index).ok() == Some(term) {
            return Ok(());
        }
        let id = self.region.id;
        let old_first = self.truncated.0 + 1;
        let old_last = self.last();
        self.entries.clear();
        self.truncated = self.applied;
        let truncate =
            LogOp::Truncate { region: id, first: old_first, last: old_last, index, term };
        self.log.write_now(&*self.data, vec![truncate])
    }

    /// The task's log ops, or `None` for a memory log; either way the task must be durable.
    fn log_ops<'a>(&self, task: &'a mut WriteTask) -> Option<&'a mut Vec<LogOp>> {
        task.durable = true;
        match self.log {
            RaftLog::Memory => None,
            _ => Some(&mut task.log),
        }
    }

    /// The applied (index, term).
    pub fn applied(&self) -> (Index, u64) {
        self.applied
    }

    /// The truncated (index, term): the last compacted entry.
    pub fn truncated(&self) -> (Index, u64) {
        self.truncated
    }

    /// The index of the last entry in the log (or the truncated index if the log is empty).
    pub fn last(&self) -> Index {
        self.truncated.0 + self.entries.len() as u64
    }

    /// Appends `ents`, replacing any conflicting suffix of the log.
    ///
    /// # Errors
    ///
    /// `Corruption` if an entry cannot be encoded.
    pub fn append(&mut self, ents: &[Entry], task: &mut WriteTask) -> Result<()> {
        let Some(first_new) = ents.first().map(|e| e.index) else { return Ok(()) };
        if first_new <= self.truncated.0 {
            return Err(Error::Raft(format!(
                "append at {first_new} below truncated {}",
                self.truncated.0
            )));
        }
        let old_last = self.last();
        let keep = (first_new - self.truncated.0 - 1) as usize;
        self.entries.truncate(keep);
        self.entries.extend_from_slice(ents);
        let region = self.region.id;
        if let Some(ops) = self.log_ops(task) {
            ops.push(LogOp::Append { region, entries: ents.to_vec(), old_last });
        }
        Ok(())
    }

    /// Records a new hard state. It is persisted when the term or vote changed or `persist` is
    /// set (the round writes log entries anyway); a commit-only change stays in memory: the
    /// commit index is re-learned from the leader and clamped to the applied index on load,
    /// so rounds that only apply do not need a log write (and, with a syncing log, an fsync).
    ///
    /// # Errors
    ///
    /// `Corruption` if it cannot be encoded.
    pub fn set_hard_state(
        &mut self,
        hs: &HardState,
        persist: bool,
        task: &mut WriteTask,
    ) -> Result<()> {
        let changed = hs.term != self.hard_state.term || hs.vote != self.hard_state.vote;
        self.hard_state = hs.clone();
        if !(changed || persist) {
            return Ok(());
        }
        let region = self.region.id;
        if let Some(ops) = self.log_ops(task) {
            ops.push(LogOp::HardState { region, state: hs.clone() });
        }
        Ok(())
    }

    /// Records the commit index only (from a `LightReady`), in memory (see
    /// [`Self::set_hard_state`]).
    pub fn set_commit(&mut self, commit: Index) {
        self.hard_state.commit = commit;
    }

    /// Records that entries up to `(index, term)` are applied (data batch, atomic with data).
    pub fn set_applied(&mut self, index: Index, term: u64, task: &mut WriteTask) {
        self.applied = (index, term);
        task.data.put_in(
            keys::RAFT,
            keys::apply_state_key(self.region.id),
            keys::encode_index_term(index, term),
        );
    }

    /// Replaces the region's data and log with `snap`.
    ///
    /// # Errors
    ///
    /// Engine errors and `Corruption` for undecodable snapshot data.
    pub fn apply_snapshot(&mut self, snap: &Snapshot, task: &mut WriteTask) -> Result<()> {
        let meta = snap.get_metadata();
        let (index, term) = (meta.index, meta.term);
        let pairs = keys::decode_pairs(snap.get_data())?;
        let range = keys::region_data_range(&self.region);
        {
            let engine_snap = self.data.snapshot();
            for item in engine_snap.iter(&range) {
                let (k, _) = item?;
                task.data.delete(k);
            }
        }
        for (k, v) in pairs {
            if range.contains(&k) {
                task.data.put(k, v);
            }
        }
        let id = self.region.id;
        let old_first = self.truncated.0 + 1;
        let old_last = self.last();
        self.entries.clear();
        self.truncated = (index, term);
        task.snapshot = true;
        self.conf_state = meta.get_conf_state().clone();
        self.hard_state.commit = self.hard_state.commit.max(index);
        self.hard_state.term = self.hard_state.term.max(term);
        self.set_applied(index, term, task);
        let hs = self.hard_state.clone();
        if let Some(ops) = self.log_ops(task) {
            ops.push(LogOp::Truncate { region: id, first: old_first, last: old_last, index, term });
        }
        self.set_hard_state(&hs, true, task)
    }

    /// Compacts the log: entries up to and including `to` are discarded. `to` is clamped to the
    /// applied index.
    pub fn compact(&mut self, to: Index, task: &mut WriteTask) {
        let to = to.min(self.applied.0).min(self.last());
        if to <= self.truncated.0 {
            return;
        }
        let Ok(term) = raft::Storage::term(self, to) else { return };
        let id = self.region.id;
        let old_first = self.truncated.0 + 1;
        self.entries.drain(..(to - self.truncated.0) as usize);
        self.truncated = (to, term);
        task.compacted = true;
        if let Some(ops) = self.log_ops(task) {
            ops.push(LogOp::Truncate { region: id, first: old_first, last: to, index: to, term });
        }
    }

    fn build_snapshot(&self) -> Result<Snapshot> {
        let engine_snap = self.data.snapshot();
        let (index, term) =
            match engine_snap.get_in(keys::RAFT, &keys::apply_state_key(self.region.id))? {
                Some(v) => keys::decode_index_term(&v)?,
                None => (0, 0),
            };
        let pairs = engine_snap
            .iter(&keys::region_data_range(&self.region))
            .collect::<kvlab_engine::Result<Vec<_>>>()?;
        let mut snap = Snapshot { data: keys::encode_pairs(&pairs).into(), ..Default::default() };
        let meta = snap.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(self.conf_state.clone());
        Ok(snap)
    }
}

fn storage_err(err: Error) -> raft::Error {
    raft::Error::Store(StorageError::Other(Box::new(err)))
}

impl raft::Storage for PeerStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(self.hard_state.clone(), self.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low <= self.truncated.0 {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last() + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let offset = self.truncated.0 + 1;
        let mut out = self.entries[(low - offset) as usize..(high - offset) as usize].to_vec();
        raft::util::limit_size(&mut out, max_size.into());
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.truncated.0 {
            return Ok(self.truncated.1);
        }
        if idx < self.truncated.0 {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        match self.entries.get((idx - self.truncated.0 - 1) as usize) {
            Some(e) => Ok(e.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.truncated.0 + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let snap = self.build_snapshot().map_err(storage_err)?;
        if snap.get_metadata().index < request_index {
            return Err(raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use raft::Storage as _;

    use super::*;
    use crate::raftstore::log::to_batch;
    use kvlab_engine::MemoryEngine;

    fn memory_engine() -> Arc<dyn Engine> {
        Arc::new(MemoryEngine::with_keyspaces(&[keys::RAFT]))
    }

    /// Writes a task as a same-engine node would.
    fn persist(engine: &Arc<dyn Engine>, task: &mut WriteTask) -> Result<()> {
        let batch = to_batch(std::mem::take(&mut task.log), std::mem::take(&mut task.data))?;
        engine.write(batch)?;
        Ok(())
    }

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, ..Default::default() }
    }

    fn region() -> Region {
        Region { id: 1, start: Vec::new(), end: Vec::new(), replicas: vec![1, 2, 3] }
    }

    #[test]
    fn append_truncate_compact_and_reload() -> Result<()> {
        let engine = memory_engine();
        let mut s = PeerStorage::open(region(), engine.clone(), RaftLog::Same)?;
        assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (1, 0));
        let mut task = WriteTask::default();
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 1)], &mut task)?;
        // A conflicting suffix replaces entries 3.. and deletes their keys.
        s.append(&[entry(3, 2)], &mut task)?;
        s.set_applied(2, 1, &mut task);
        let hs = HardState { term: 2, commit: 3, ..Default::default() };
        s.set_hard_state(&hs, true, &mut task)?;
        persist(&engine, &mut task)?;
        assert_eq!(s.term(3).unwrap(), 2);
        assert!(s.entries(1, 5, None, GetEntriesContext::empty(false)).is_err());
        s.compact(2, &mut task);
        persist(&engine, &mut task)?;
        assert_eq!(s.first_index().unwrap(), 3);
        assert_eq!(s.term(2).unwrap(), 1);
        assert!(s.term(1).is_err());

        let again = PeerStorage::open(region(), engine.clone(), RaftLog::Same)?;
        assert_eq!((again.first_index().unwrap(), again.last_index().unwrap()), (3, 3));
        assert_eq!(again.applied(), (2, 1));
        assert_eq!(again.initial_state().unwrap().hard_state.commit, 3);
        Ok(())
    }

    #[test]
    fn snapshot_carries_region_data_and_applied_index() -> Result<()> {
        let engine = memory_engine();
        let mut s = PeerStorage::open(region(), engine.clone(), RaftLog::Memory)?;
        let mut task = WriteTask::default();
        task.data.put(keys::data_key(b"a"), b"1".to_vec());
        s.set_applied(7, 3, &mut task);
        engine.write(std::mem::take(&mut task.data))?;
        let snap = s.snapshot(0, 2).unwrap();
        assert_eq!((snap.get_metadata().index, snap.get_metadata().term), (7, 3));
        assert!(s.snapshot(8, 2).is_err());

        let other = memory_engine();
        other.put(&keys::data_key(b"stale"), b"x")?;
        let mut t = PeerStorage::open(region(), other.clone(), RaftLog::Memory)?;
        t.apply_snapshot(&snap, &mut task)?;
        other.write(std::mem::take(&mut task.data))?;
        assert_eq!(other.get(&keys::data_key(b"a"))?, Some(b"1".to_vec()));
        assert_eq!(other.get(&keys::data_key(b"stale"))?, None);
        assert_eq!((t.first_index().unwrap(), t.applied()), (8, (7, 3)));
        Ok(())
    }
}
