//! The memory engine: a concurrent, multi-versioned skip list.
//!
//! Every key maps to a chain of versions ordered newest first; a version is a value or a
//! tombstone tagged with the sequence number of the batch that wrote it. Writers serialise on a
//! mutex, insert all of a batch's versions with the next sequence number, and only then publish
//! that number; readers never lock and read at the last published sequence, so a batch becomes
//! visible all at once. A snapshot pins its sequence number; versions no live snapshot can see
//! are removed when the key is next written.
//!
//! Keyspaces share the one skip list: an entry's key is the keyspace's position in the
//! engine's list (one byte), then the user key, so a batch and a snapshot span keyspaces for
//! free.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// Skip-list key: the user key, then the version's sequence number, newest first.
type VersionKey = (Vec<u8>, Reverse<Seq>);

/// State shared between the engine and its snapshots.
#[derive(Debug, Default)]
struct Shared {
    /// All versions of all keys; `None` is a tombstone.
    map: SkipMap<VersionKey, Option<Vec<u8>>>,
    /// Last sequence number whose batch is fully inserted and so visible to readers.
    visible: AtomicU64,
    /// Writer state, serialising writers.
    writer: parking_lot::Mutex<Writer>,
    /// Sequence numbers pinned by live snapshots, with their counts.
    pinned: parking_lot::Mutex<BTreeMap<Seq, usize>>,
    /// Number of garbage collections that removed versions; readers retry when it moves.
    collections: AtomicU64,
    /// Live keys (not counting tombstones or old versions).
    live_keys: AtomicU64,
    /// Bytes of live keys and values.
    live_bytes: AtomicU64,
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

/// The skip-list key of `key` in the keyspace at position `ks`.
fn internal_key(ks: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(ks);
    k.extend_from_slice(key);
    k
}

/// `range` of the keyspace at position `ks`, as a range of skip-list keys.
fn internal_range(ks: u8, range: &KeyRange) -> KeyRange {
    KeyRange {
        start: match &range.start {
            Bound::Included(k) => Bound::Included(internal_key(ks, k)),
            Bound::Excluded(k) => Bound::Excluded(internal_key(ks, k)),
            Bound::Unbounded => Bound::Included(vec![ks]),
        },
        end: match &range.end {
            Bound::Included(k) => Bound::Included(internal_key(ks, k)),
            Bound::Excluded(k) => Bound::Excluded(internal_key(ks, k)),
            Bound::Unbounded => Bound::Excluded(vec![ks + 1]),
        },
    }
}

impl MemoryEngine {
    /// An empty engine with the default keyspace only.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty engine serving the default keyspace and `keyspaces`.
    pub fn with_keyspaces(keyspaces: &[Keyspace]) -> Self {
        let list = keyspace_list(keyspaces);
        assert!(list.len() < usize::from(u8::MAX), "at most 254 keyspaces");
        Self { shared: Arc::default(), keyspaces: Arc::new(list) }
    }

    /// The keyspaces this engine serves.
    pub fn keyspaces(&self) -> &[Keyspace] {
        &self.keyspaces
    }

    fn position(&self, ks: Keyspace) -> Result<u8> {
        keyspace_index(&self.keyspaces, ks).map(|i| i as u8)
    }

    /// Removes versions of `key` that no reader can see any more: every version older than the
    /// newest one at or below `horizon`, and that one too if it is a tombstone.
    ///
    /// Unpinned readers (`get`) do not register their sequence number; instead the collector
    /// bumps `Shared::collections` before removing anything and a reader that saw the counter
    /// move retries (a seqlock), so removal never makes a reader miss a version.
    fn collect_garbage(&self, key: &[u8], horizon: Seq) {
        let lower = (key.to_vec(), Reverse(horizon));
        let upper = (key.to_vec(), Reverse(0));
        let mut visible = self.shared.map.range(lower..=upper);
        let Some(newest_visible) = visible.next() else { return };
        let mut doomed: Vec<_> = visible.collect();
        let newer_exist = self
            .shared
            .map
            .range((key.to_vec(), Reverse(Seq::MAX))..(key.to_vec(), Reverse(horizon)))
            .next()
            .is_some();
        if newest_visible.value().is_none() && !newer_exist {
            doomed.push(newest_visible);
        }
        if doomed.is_empty() {
            return;
        }
        self.shared.collections.fetch_add(1, Ordering::SeqCst);
        for entry in doomed {
            entry.remove();
        }
    }

    /// The oldest sequence number any reader may still read at.
    fn horizon(&self, visible: Seq) -> Seq {
        self.shared.pinned.lock().keys().next().copied().unwrap_or(visible).min(visible)
    }
}

/// Reads the newest version of `key` visible at `seq`.
fn get_at(map: &SkipMap<VersionKey, Option<Vec<u8>>>, key: &[u8], seq: Seq) -> Option<Vec<u8>> {
    let lower = (key.to_vec(), Reverse(seq));
    let upper = (key.to_vec(), Reverse(0));
    map.range(lower..=upper).next().and_then(|entry| entry.value().clone())
}

/// Iterates the live pairs of `range` visible at `seq`.
fn iter_at<'a>(
    map: &'a SkipMap<VersionKey, Option<Vec<u8>>>,
    range: &KeyRange,
    seq: Seq,
) -> impl Iterator<Item = Result<KvPair>> + 'a {
    let start: Bound<VersionKey> = match &range.start {
        Bound::Included(k) => Bound::Included((k.clone(), Reverse(Seq::MAX))),
        Bound::Excluded(k) => Bound::Excluded((k.clone(), Reverse(0))),
        Bound::Unbounded => Bound::Unbounded,
    };
    let range = range.clone();
    let mut last_key: Option<Vec<u8>> = None;
    map.range((start, Bound::Unbounded))
        .take_while(move |entry| !range.is_past_end(&entry.key().0))
        .filter_map(move |entry| {
            let (key, Reverse(version)) = entry.key();
            if *version > seq || last_key.as_deref() == Some(key.as_slice()) {
                return None;
            }
            // The first version at or below `seq` is the newest visible one.
            last_key = Some(key.clone());
            entry.value().as_ref().map(|value| Ok((key[1..].to_vec(), value.clone())))
        })
}

impl Engine for MemoryEngine {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let key = internal_key(self.position(keyspace)?, key);
        for _ in 0..OPTIMISTIC_READS {
            let before = self.shared.collections.load(Ordering::SeqCst);
            let seq = self.shared.visible.load(Ordering::Acquire);
            let value = get_at(&self.shared.map, &key, seq);
            if self.shared.collections.load(Ordering::SeqCst) == before {
                return Ok(value);
            }
        }
        // Collections keep racing with this reader: pin a snapshot instead.
        self.snapshot().get_in(keyspace, &key[1..])
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut writer = self.shared.writer.lock();
        let seq =
            writer.last_seq.checked_add(1).ok_or_else(|| Error::engine("sequence overflow"))?;
        // Later operations on the same key win: keep only the last one per key.
        let mut last: BTreeMap<Vec<u8>, Option<&[u8]>> = BTreeMap::new();
        for op in &batch.ops {
            match op {
                WriteOp::Put { keyspace, key, value } => {
                    last.insert(internal_key(self.position(*keyspace)?, key), Some(value))
                }
                WriteOp::Delete { keyspace, key } => {
                    last.insert(internal_key(self.position(*keyspace)?, key), None)
                }
            };
        }
        let (mut keys_delta, mut bytes_delta) = (0i64, 0i64);
        for (key, value) in &last {
            let previous = get_at(&self.shared.map, key, writer.last_seq);
            // Sizes count the user key, not the keyspace byte.
            if let Some(previous) = &previous {
                keys_delta -= 1;
                bytes_delta -= (key.len() - 1 + previous.len()) as i64;
            }
            if let Some(value) = value {
                keys_delta += 1;
                bytes_delta += (key.len() - 1 + value.len()) as i64;
            }
            self.shared.map.insert((key.clone(), Reverse(seq)), value.map(<[u8]>::to_vec));
        }
        writer.last_seq = seq;
        writer.batches += 1;
        self.shared.visible.store(seq, Ordering::Release);
        add_signed(&self.shared.live_keys, keys_delta);
        add_signed(&self.shared.live_bytes, bytes_delta);
        let horizon = self.horizon(seq);
        for key in last.keys() {
            self.collect_garbage(key, horizon);
        }
        Ok(())
    }

    fn scan_in(&self, keyspace: Keyspace, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        // A scan may run long, so it pins its sequence number rather than retrying.
        self.snapshot().iter_in(keyspace, range).take(limit).collect()
    }

    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        // Pin under the lock so garbage collection cannot miss a snapshot taken concurrently.
        let mut pinned = self.shared.pinned.lock();
        let seq = self.shared.visible.load(Ordering::Acquire);
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
            ("memory.versions".into(), self.shared.map.len() as u64),
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
        let ks = keyspace_index(&self.keyspaces, keyspace)? as u8;
        Ok(get_at(&self.shared.map, &internal_key(ks, key), self.seq))
    }

    fn iter_in(
        &self,
        keyspace: Keyspace,
        range: &KeyRange,
    ) -> Box<dyn Iterator<Item = Result<KvPair>> + '_> {
        match keyspace_index(&self.keyspaces, keyspace) {
            Ok(ks) => {
                Box::new(iter_at(&self.shared.map, &internal_range(ks as u8, range), self.seq))
            }
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
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
