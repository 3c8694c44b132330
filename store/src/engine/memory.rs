//! The memory engine: a concurrent, multi-versioned skip list.
//!
//! Every key maps to a chain of versions ordered newest first; a version is a value or a
//! tombstone tagged with the sequence number of the batch that wrote it. Writers serialise on a
//! mutex, insert all of a batch's versions with the next sequence number, and only then publish
//! that number; readers never lock and read at the last published sequence, so a batch becomes
//! visible all at once. A snapshot pins its sequence number; versions no live snapshot can see
//! are removed when the key is next written.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_skiplist::SkipMap;

use super::{Engine, EngineSnapshot, KeyRange, KvPair, WriteBatch, WriteOp};
use crate::error::{Error, Result};

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
#[derive(Clone, Debug, Default)]
pub struct MemoryEngine {
    shared: Arc<Shared>,
}

impl MemoryEngine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
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
            entry.value().as_ref().map(|value| Ok((key.clone(), value.clone())))
        })
}

impl Engine for MemoryEngine {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        for _ in 0..OPTIMISTIC_READS {
            let before = self.shared.collections.load(Ordering::SeqCst);
            let seq = self.shared.visible.load(Ordering::Acquire);
            let value = get_at(&self.shared.map, key, seq);
            if self.shared.collections.load(Ordering::SeqCst) == before {
                return Ok(value);
            }
        }
        // Collections keep racing with this reader: pin a snapshot instead.
        self.snapshot().get(key)
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut writer = self.shared.writer.lock();
        let seq =
            writer.last_seq.checked_add(1).ok_or_else(|| Error::engine("sequence overflow"))?;
        // Later operations on the same key win: keep only the last one per key.
        let mut last: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
        for op in &batch.ops {
            match op {
                WriteOp::Put { key, value } => last.insert(key, Some(value)),
                WriteOp::Delete { key } => last.insert(key, None),
            };
        }
        let (mut keys_delta, mut bytes_delta) = (0i64, 0i64);
        for (key, value) in &last {
            let previous = get_at(&self.shared.map, key, writer.last_seq);
            if let Some(previous) = &previous {
                keys_delta -= 1;
                bytes_delta -= (key.len() + previous.len()) as i64;
            }
            if let Some(value) = value {
                keys_delta += 1;
                bytes_delta += (key.len() + value.len()) as i64;
            }
            self.shared.map.insert((key.to_vec(), Reverse(seq)), value.map(<[u8]>::to_vec));
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

    fn scan(&self, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        // A scan may run long, so it pins its sequence number rather than retrying.
        self.snapshot().scan(range, limit)
    }

    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        // Pin under the lock so garbage collection cannot miss a snapshot taken concurrently.
        let mut pinned = self.shared.pinned.lock();
        let seq = self.shared.visible.load(Ordering::Acquire);
        *pinned.entry(seq).or_insert(0) += 1;
        drop(pinned);
        Box::new(MemorySnapshot { shared: Arc::clone(&self.shared), seq })
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
    seq: Seq,
}

impl EngineSnapshot for MemorySnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(get_at(&self.shared.map, key, self.seq))
    }

    fn iter(&self, range: &KeyRange) -> Box<dyn Iterator<Item = Result<KvPair>> + '_> {
        Box::new(iter_at(&self.shared.map, range, self.seq))
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
