//! The memory engine: a concurrent, multi-versioned skip list per keyspace.
//!
//! Each keyspace is a skip list from key to that key's **version chain**: an immutable list of
//! `(sequence number, value or tombstone)`, newest first, behind an [`ArcSwap`] so readers
//! load it without locking or writing shared memory. Writers serialise on a mutex: a batch takes
//! the next sequence number, replaces the chain of every key it writes with a new chain that
//! starts with the new version, and only then publishes the number; readers read at the last
//! published number, so a batch becomes visible all at once, across keyspaces too.
//!
//! A snapshot pins its sequence number. Once a batch is published, the writer collects the
//! chains it wrote: a chain keeps only the versions some reader may still need — everything
//! newer than the horizon (the oldest pinned or published number) and the newest version at or
//! below it — and a key whose versions left are all tombstones leaves the skip list. An
//! unpinned `get` does not register its number: the writer bumps a collection counter before
//! it stores a shortened chain, and a reader that saw the counter move retries (a seqlock), so
//! collection never makes a reader miss a version.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use crossbeam_skiplist::SkipMap;

use crate::error::{Error, Result};
use crate::{
    keyspace_index, keyspace_list, Engine, EngineSnapshot, KeyRange, Keyspace, KvPair, WriteBatch,
    WriteOp,
};

/// A sequence number: batches are numbered from 1 in commit order.
type Seq = u64;

/// Attempts of an unpinned `get` before it falls back to pinning a snapshot.
const OPTIMISTIC_READS: usize = 3;

/// One version of a key: its batch's sequence number and its value (`None`: deleted).
type Version = (Seq, Option<Arc<[u8]>>);

/// A key's versions, newest first.
type Chain = Vec<Version>;

/// One keyspace: key → version chain.
type Space = SkipMap<Vec<u8>, ArcSwap<Chain>>;

/// State shared between the engine and its snapshots.
#[derive(Debug)]
struct Shared {
    /// One skip list per keyspace, in the order of the engine's keyspace list.
    spaces: Vec<Space>,
    /// Last sequence number whose batch is fully written and so visible to readers.
    visible: AtomicU64,
    /// Writer state, serialising writers.
    writer: parking_lot::Mutex<Writer>,
    /// Sequence numbers pinned by live snapshots, with their counts.
    pinned: parking_lot::Mutex<BTreeMap<Seq, usize>>,
    /// Collections that dropped versions; unpinned readers retry when it moves.
    collections: AtomicU64,
    /// Live keys (not counting tombstones or old versions).
    live_keys: AtomicU64,
    /// Bytes of live keys and values.
    live_bytes: AtomicU64,
    /// Versions held in every chain.
    versions: AtomicU64,
}

/// Writer-side bookkeeping, guarded by `Shared::writer`.
#[derive(Debug, Default)]
struct Writer {
    /// Last sequence number handed out.
    last_seq: Seq,
    /// Batches written so far.
    batches: u64,
}

/// A concurrent ordered in-memory engine with snapshot isolation. Nothing is durable.
#[derive(Clone, Debug)]
pub struct MemoryEngine {
    shared: Arc<Shared>,
    keyspaces: Arc<Vec<Keyspace>>,
}

impl Default for MemoryEngine {
    fn default() -> Self {
        Self::with_keyspaces(&[])
    }
}

/// The newest value in `chain` visible at `seq` (`None`: absent or deleted).
fn value_at(chain: &Chain, seq: Seq) -> Option<Vec<u8>> {
    chain.iter().find(|(s, _)| *s <= seq).and_then(|(_, v)| v.as_deref().map(<[u8]>::to_vec))
}

impl MemoryEngine {
    /// An empty engine with the default keyspace only.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty engine serving the default keyspace and `keyspaces`.
    pub fn with_keyspaces(keyspaces: &[Keyspace]) -> Self {
        let list = keyspace_list(keyspaces);
        let shared = Shared {
            spaces: list.iter().map(|_| SkipMap::new()).collect(),
            visible: AtomicU64::new(0),
            writer: parking_lot::Mutex::new(Writer::default()),
            pinned: parking_lot::Mutex::new(BTreeMap::new()),
            collections: AtomicU64::new(0),
            live_keys: AtomicU64::new(0),
            live_bytes: AtomicU64::new(0),
            versions: AtomicU64::new(0),
        };
        Self { shared: Arc::new(shared), keyspaces: Arc::new(list) }
    }

    /// The keyspaces this engine serves.
    pub fn keyspaces(&self) -> &[Keyspace] {
        &self.keyspaces
    }

    fn space(&self, ks: Keyspace) -> Result<&Space> {
        Ok(&self.shared.spaces[keyspace_index(&self.keyspaces, ks)?])
    }

    /// The oldest sequence number any reader may still read at.
    fn horizon(&self, visible: Seq) -> Seq {
        self.shared.pinned.lock().keys().next().copied().unwrap_or(visible).min(visible)
    }

    /// Puts one key's new version at `seq` in front of its chain (writer lock held). Returns
    /// whether the chain now holds versions that may be collected, and the change in live keys
    /// and bytes.
    fn write_key(
        &self,
        space: &Space,
        key: &[u8],
        value: Option<&[u8]>,
        seq: Seq,
    ) -> (bool, i64, i64) {
        let entry = space.get(key);
        let old: Arc<Chain> = entry.as_ref().map(|e| e.value().load_full()).unwrap_or_default();
        let previous = old.first().and_then(|(_, v)| v.as_ref());
        let (mut keys, mut bytes) = (0i64, 0i64);
        if let Some(previous) = previous {
            keys -= 1;
            bytes -= (key.len() + previous.len()) as i64;
        }
        if let Some(value) = value {
            keys += 1;
            bytes += (key.len() + value.len()) as i64;
        }
        if entry.is_none() && value.is_none() {
            return (false, keys, bytes); // Deleting an absent key.
        }
        let mut chain: Chain = Vec::with_capacity(old.len() + 1);
        chain.push((seq, value.map(Arc::from)));
        chain.extend(old.iter().cloned());
        add_signed(&self.shared.versions, 1);
        let collectable = chain.len() > 1 || value.is_none();
        match entry {
            Some(entry) => entry.value().store(Arc::new(chain)),
            None => {
                space.insert(key.to_vec(), ArcSwap::from_pointee(chain));
            }
        }
        (collectable, keys, bytes)
    }

    /// Drops the versions of `key` no reader can see any more (writer lock held, after the
    /// batch that wrote it is published): every version older than the newest one at or below
    /// `horizon`; and the key itself when every version left is a tombstone.
    fn collect(&self, space: &Space, key: &[u8], horizon: Seq) {
        let Some(entry) = space.get(key) else { return };
        let chain = entry.value().load_full();
        let keep = chain.iter().position(|(s, _)| *s <= horizon).map_or(chain.len(), |i| i + 1);
        let gone = keep <= chain.len()
            && chain.get(keep - 1).is_some_and(|(s, _)| *s <= horizon)
            && chain[..keep].iter().all(|(_, v)| v.is_none());
        if !gone && keep == chain.len() {
            return;
        }
        // Readers that might have read the old chain at an older number retry.
        self.shared.collections.fetch_add(1, Ordering::SeqCst);
        if gone {
            add_signed(&self.shared.versions, -(chain.len() as i64));
            entry.remove();
        } else {
            add_signed(&self.shared.versions, -((chain.len() - keep) as i64));
            entry.value().store(Arc::new(chain[..keep].to_vec()));
        }
    }
}

impl Engine for MemoryEngine {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let space = self.space(keyspace)?;
        for _ in 0..OPTIMISTIC_READS {
            let before = self.shared.collections.load(Ordering::SeqCst);
            let seq = self.shared.visible.load(Ordering::SeqCst);
            let value = space.get(key).and_then(|e| value_at(&e.value().load(), seq));
            if self.shared.collections.load(Ordering::SeqCst) == before {
                return Ok(value);
            }
        }
        // Collections keep racing with this reader: pin a snapshot instead.
        self.snapshot().get_in(keyspace, key)
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut writer = self.shared.writer.lock();
        let seq =
            writer.last_seq.checked_add(1).ok_or_else(|| Error::engine("sequence overflow"))?;
        // Every keyspace is checked before anything is written: a batch is all or nothing.
        let mut ops = Vec::with_capacity(batch.ops.len());
        for op in &batch.ops {
            let (ks, key, value) = match op {
                WriteOp::Put { keyspace, key, value } => (keyspace, key, Some(value.as_slice())),
                WriteOp::Delete { keyspace, key } => (keyspace, key, None),
            };
            ops.push((keyspace_index(&self.keyspaces, *ks)?, key.as_slice(), value));
        }
        // Later operations on the same key win: keep only the last one per key.
        if ops.len() > 1 {
            let mut last: BTreeMap<(usize, &[u8]), Option<&[u8]>> = BTreeMap::new();
            for (ks, key, value) in ops.drain(..) {
                last.insert((ks, key), value);
            }
            ops.extend(last.into_iter().map(|((ks, key), value)| (ks, key, value)));
        }
        let (mut keys, mut bytes) = (0i64, 0i64);
        let mut collectable = Vec::new();
        for (ks, key, value) in ops {
            let (collect, k, b) = self.write_key(&self.shared.spaces[ks], key, value, seq);
            keys += k;
            bytes += b;
            if collect {
                collectable.push((ks, key));
            }
        }
        writer.last_seq = seq;
        writer.batches += 1;
        self.shared.visible.store(seq, Ordering::SeqCst);
        add_signed(&self.shared.live_keys, keys);
        add_signed(&self.shared.live_bytes, bytes);
        if !collectable.is_empty() {
            let horizon = self.horizon(seq);
            for (ks, key) in collectable {
                self.collect(&self.shared.spaces[ks], key, horizon);
            }
        }
        Ok(())
    }

    fn scan_in(&self, keyspace: Keyspace, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        // A scan may run long, so it pins its sequence number rather than retrying.
        self.snapshot().iter_in(keyspace, range).take(limit).collect()
    }

    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        // Pin under the lock so a collection cannot miss a snapshot taken concurrently.
        let mut pinned = self.shared.pinned.lock();
        let seq = self.shared.visible.load(Ordering::SeqCst);
        *pinned.entry(seq).or_insert(0) += 1;
        drop(pinned);
        Box::new(MemorySnapshot {
            shared: Arc::clone(&self.shared),
            keyspaces: Arc::clone(&self.keyspaces),
            seq,
        })
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn stats(&self) -> Vec<(String, u64)> {
        let writer = self.shared.writer.lock();
        vec![
            ("memory.batches_written".into(), writer.batches),
            ("memory.bytes".into(), self.shared.live_bytes.load(Ordering::Relaxed)),
            ("memory.keys".into(), self.shared.live_keys.load(Ordering::Relaxed)),
            ("memory.versions".into(), self.shared.versions.load(Ordering::Relaxed)),
        ]
    }
}

fn add_signed(counter: &AtomicU64, delta: i64) {
    if delta >= 0 {
        counter.fetch_add(delta.unsigned_abs(), Ordering::Relaxed);
    } else {
        counter.fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
    }
}

/// A snapshot of a [`MemoryEngine`]: a pinned sequence number.
struct MemorySnapshot {
    shared: Arc<Shared>,
    keyspaces: Arc<Vec<Keyspace>>,
    seq: Seq,
}

impl EngineSnapshot for MemorySnapshot {
    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let space = &self.shared.spaces[keyspace_index(&self.keyspaces, keyspace)?];
        Ok(space.get(key).and_then(|e| value_at(&e.value().load(), self.seq)))
    }

    fn iter_in(
        &self,
        keyspace: Keyspace,
        range: &KeyRange,
    ) -> Box<dyn Iterator<Item = Result<KvPair>> + '_> {
        let space = match keyspace_index(&self.keyspaces, keyspace) {
            Ok(i) => &self.shared.spaces[i],
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        if range.is_empty() {
            return Box::new(std::iter::empty());
        }
        let (seq, bounds) = (self.seq, (range.start.clone(), range.end.clone()));
        Box::new(space.range::<Vec<u8>, _>(bounds).filter_map(move |entry| {
            value_at(&entry.value().load(), seq).map(|v| Ok((entry.key().clone(), v)))
        }))
    }
}

impl Drop for MemorySnapshot {
    fn drop(&mut self) {
        let mut pinned = self.shared.pinned.lock();
        if let Some(count) = pinned.get_mut(&self.seq) {
            *count -= 1;
            if *count == 0 {
                pinned.remove(&self.seq);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Old versions go as soon as no reader can see them, and a deleted key leaves the list;
    // a pinned snapshot keeps what it sees.
    #[test]
    fn versions_are_collected_behind_the_horizon() -> Result<()> {
        let e = MemoryEngine::new();
        let versions = |e: &MemoryEngine| e.stats()[3].1;
        e.put(b"k", b"1")?;
        e.put(b"k", b"2")?;
        e.put(b"k", b"3")?;
        assert_eq!(versions(&e), 1, "nothing pins the old versions");
        let snapshot = e.snapshot();
        e.put(b"k", b"4")?;
        e.delete(b"k")?;
        assert_eq!(snapshot.get(b"k")?, Some(b"3".to_vec()));
        assert_eq!(versions(&e), 3, "the snapshot's version and the two after it");
        drop(snapshot);
        e.put(b"other", b"x")?;
        e.delete(b"k")?;
        assert_eq!(e.shared.spaces[0].len(), 1, "the deleted key left the list");
        assert_eq!(e.get(b"k")?, None);
        Ok(())
    }
}
