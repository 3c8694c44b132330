//! Storage figures after the load phase (`storage.csv`, run.json `storage`): the bytes the
//! binding keeps on disk against the logical size of the loaded records (space
//! amplification), and the fsyncs it issued per acknowledged write.
//!
//! The logical size is what the load phase wrote: every record's key and encoded value,
//! regenerated from the workload with the load's own streams (so it is exact). The replicated
//! store keeps one copy per replica, so its space amplification divides by `copies`:
//! `disk_bytes / (logical_bytes × copies)`. Fsyncs are kvlab's own count of writes and
//! flushes made durable with an fsync (an engine's `synced_writes`, or the store nodes'
//! `synced_writes`), not the operating system's.

use std::sync::Arc;

use kvlab_workloads::{CoreWorkload, Operation};

/// A binding's storage counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageProbe {
    /// Bytes of the files on disk (`None` for an engine that keeps nothing on disk).
    pub disk_bytes: Option<u64>,
    /// Cumulative writes and flushes made durable with an fsync.
    pub synced_writes: Option<u64>,
    /// Copies of every record (the store's replicas; 1 for an engine).
    pub copies: u64,
}

/// The storage figures of one run's load phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StorageRow {
    /// Keys and values the load phase wrote.
    pub logical_bytes: u64,
    /// Bytes on disk after the load (every replica).
    pub disk_bytes: Option<u64>,
    /// Copies of every record.
    pub copies: u64,
    /// Fsyncs the load issued.
    pub synced_writes: Option<u64>,
    /// Writes the load got acknowledged.
    pub writes: u64,
}

/// The columns of `storage.csv` after the run's key columns.
pub const STORAGE_COLUMNS: [&str; 7] = [
    "logical_bytes",
    "disk_bytes",
    "copies",
    "space_amp",
    "synced_writes",
    "writes",
    "fsyncs_per_write",
];

impl StorageRow {
    /// The row from the probes taken before and after the load.
    pub fn new(logical_bytes: u64, before: StorageProbe, after: StorageProbe, writes: u64) -> Self {
        let synced_writes = match (before.synced_writes, after.synced_writes) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b)),
            _ => None,
        };
        StorageRow {
            logical_bytes,
            disk_bytes: after.disk_bytes,
            copies: after.copies.max(1),
            synced_writes,
            writes,
        }
    }

    /// Bytes on disk per logical byte and copy.
    pub fn space_amp(&self) -> Option<f64> {
        let logical = (self.logical_bytes * self.copies) as f64;
        self.disk_bytes.filter(|_| logical > 0.0).map(|d| d as f64 / logical)
    }

    /// Fsyncs per acknowledged write.
    pub fn fsyncs_per_write(&self) -> Option<f64> {
        self.synced_writes.filter(|_| self.writes > 0).map(|s| s as f64 / self.writes as f64)
    }

    /// The row's values in [`STORAGE_COLUMNS`] order (empty where unknown).
    pub fn values(&self) -> Vec<String> {
        let opt_u = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let opt_f = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
        vec![
            self.logical_bytes.to_string(),
            opt_u(self.disk_bytes),
            self.copies.to_string(),
            opt_f(self.space_amp()),
            opt_u(self.synced_writes),
            self.writes.to_string(),
            opt_f(self.fsyncs_per_write()),
        ]
    }

    /// The row as JSON for run.json.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "logical_bytes": self.logical_bytes,
            "disk_bytes": self.disk_bytes,
            "copies": self.copies,
            "space_amp": self.space_amp(),
            "synced_writes": self.synced_writes,
            "writes": self.writes,
            "fsyncs_per_write": self.fsyncs_per_write(),
        })
    }
}

/// Bytes of keys and values the load phase with `threads` threads writes.
pub fn logical_bytes(workload: &Arc<CoreWorkload>, threads: usize, seed: u64) -> u64 {
    let mut op = Operation::new();
    let mut total = 0u64;
    for thread in 0..threads.max(1) {
        let mut stream = workload.load_stream(thread, threads.max(1), seed);
        while stream.next_op(&mut op) {
            total += (op.key.len() + op.value.len()) as u64;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_come_from_the_probes() {
        let before = StorageProbe { disk_bytes: Some(0), synced_writes: Some(10), copies: 3 };
        let after = StorageProbe { disk_bytes: Some(6_000), synced_writes: Some(60), copies: 3 };
        let row = StorageRow::new(1_000, before, after, 100);
        assert_eq!(row.space_amp(), Some(2.0), "6000 bytes for 3 copies of 1000");
        assert_eq!(row.fsyncs_per_write(), Some(0.5), "50 fsyncs for 100 writes");
        let memory = StorageRow::new(1_000, StorageProbe::default(), StorageProbe::default(), 0);
        assert_eq!((memory.space_amp(), memory.fsyncs_per_write()), (None, None));
        assert_eq!(memory.values()[3], "", "unknown figures are empty cells");
    }

    #[test]
    fn logical_bytes_count_every_loaded_record_once() {
        let props = kvlab_workloads::Properties::from_text(
            "recordcount=100\nfieldcount=2\nfieldlength=10\n",
            "test",
        )
        .expect("properties");
        let workload = CoreWorkload::new(&props).expect("workload");
        let one = logical_bytes(&workload, 1, 7);
        assert_eq!(one, logical_bytes(&workload, 3, 7), "thread count does not matter");
        assert!(one > 100 * 20, "{one}: at least the field bytes of 100 records");
    }
}
