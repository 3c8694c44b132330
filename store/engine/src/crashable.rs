//! `CrashableEngine`: a memory engine that remembers which of its writes are durable, so a test
//! can crash it and keep only those — the failpoint `data-loses-unsynced-writes`.
//!
//! A real engine loses, on a crash, the writes it had not yet made durable (RocksDB with
//! `sync=false` and no WAL flush, or `disable_wal`). Killing a process at the one moment that
//! matters is not deterministic, so this engine models it: every write is visible at once (the
//! `live` engine); a write is durable only when written with `sync` configured or followed by
//! [`Engine::flush`], which also makes every earlier write durable (a log is sequential).
//! [`CrashableEngine::crash`] returns the engine a restart would find.

use parking_lot::Mutex;

use crate::error::Result;
use crate::{Engine, EngineSnapshot, KeyRange, Keyspace, KvPair, MemoryEngine, WriteBatch};

/// A memory engine that can lose its unsynced writes (see the module docs).
#[derive(Debug)]
pub struct CrashableEngine {
    live: MemoryEngine,
    durable: MemoryEngine,
    /// Writes since the last durable point, oldest first.
    unsynced: Mutex<Vec<WriteBatch>>,
    sync: bool,
}

impl CrashableEngine {
    /// An empty engine serving the default keyspace and `keyspaces`; `sync` makes
    /// [`Engine::write`] durable (as RocksDB's `sync=true`).
    pub fn new(sync: bool, keyspaces: &[Keyspace]) -> Self {
        Self::from_durable(MemoryEngine::with_keyspaces(keyspaces), sync)
    }

    fn from_durable(durable: MemoryEngine, sync: bool) -> Self {
        Self { live: copy(&durable), durable, unsynced: Mutex::new(Vec::new()), sync }
    }

    /// The engine a restart after a crash finds: the durable writes only.
    pub fn crash(&self) -> CrashableEngine {
        Self::from_durable(copy(&self.durable), self.sync)
    }

    fn persist(&self, unsynced: &mut Vec<WriteBatch>) -> Result<()> {
        for batch in unsynced.drain(..) {
            self.durable.write(batch)?;
        }
        Ok(())
    }
}

impl Engine for CrashableEngine {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.live.get_in(keyspace, key)
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut unsynced = self.unsynced.lock();
        self.live.write(batch.clone())?;
        unsynced.push(batch);
        if self.sync {
            self.persist(&mut unsynced)?;
        }
        Ok(())
    }

    fn write_unsynced(&self, batch: WriteBatch) -> Result<()> {
        let mut unsynced = self.unsynced.lock();
        self.live.write(batch.clone())?;
        unsynced.push(batch);
        Ok(())
    }

    fn syncs_writes(&self) -> bool {
        self.sync
    }

    fn scan_in(&self, keyspace: Keyspace, range: &KeyRange, limit: usize) -> Result<Vec<KvPair>> {
        self.live.scan_in(keyspace, range, limit)
    }

    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        self.live.snapshot()
    }

    fn flush(&self) -> Result<()> {
        let mut unsynced = self.unsynced.lock();
        self.persist(&mut unsynced)
    }

    fn stats(&self) -> Vec<(String, u64)> {
        self.live.stats()
    }
}

/// A new memory engine holding `from`'s pairs, every keyspace.
fn copy(from: &MemoryEngine) -> MemoryEngine {
    let to = MemoryEngine::with_keyspaces(from.keyspaces());
    let mut all = WriteBatch::new();
    let snapshot = from.snapshot();
    for &ks in from.keyspaces() {
        for (k, v) in snapshot.iter_in(ks, &KeyRange::all()).flatten() {
            all.put_in(ks, k, v);
        }
    }
    // Writes to a memory engine cannot fail.
    let _ = to.write(all);
    to
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(k: &[u8], v: &[u8]) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(k, v);
        b
    }

    #[test]
    fn a_crash_keeps_synced_and_flushed_writes_only() -> Result<()> {
        let side = Keyspace::named("side");
        let e = CrashableEngine::new(false, &[side]);
        e.write(batch(b"a", b"1"))?;
        let mut in_side = WriteBatch::new();
        in_side.put_in(side, b"s", b"1");
        e.write(in_side)?;
        e.flush()?;
        e.write(batch(b"b", b"2"))?;
        e.write_unsynced(batch(b"c", b"3"))?;
        assert_eq!(e.get(b"b")?, Some(b"2".to_vec()));
        let after = e.crash();
        assert_eq!(after.get(b"a")?, Some(b"1".to_vec()));
        assert_eq!(after.get_in(side, b"s")?, Some(b"1".to_vec()), "keyspaces survive too");
        assert_eq!(after.get(b"b")?, None);
        assert_eq!(after.get(b"c")?, None);

        let synced = CrashableEngine::new(true, &[]);
        synced.write_unsynced(batch(b"x", b"1"))?;
        synced.write(batch(b"y", b"2"))?;
        synced.write_unsynced(batch(b"z", b"3"))?;
        let after = synced.crash();
        // A synced write makes every earlier write durable too (a sequential log).
        assert_eq!(after.get(b"x")?, Some(b"1".to_vec()));
        assert_eq!(after.get(b"y")?, Some(b"2".to_vec()));
        assert_eq!(after.get(b"z")?, None);
        Ok(())
    }
}
