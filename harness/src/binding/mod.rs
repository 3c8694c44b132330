//! Bindings: what the harness drives (YCSB's `-db`).
//!
//! * `null` does nothing: it measures the harness's own overhead (and can stall on purpose,
//!   to demonstrate coordinated-omission correction).
//! * `engine` calls one storage engine directly, with no replication: the baseline.
//! * `store` runs the full replicated store in this process (or as node processes).
//! * `etcd` drives an etcd cluster, the reference system: members kvlab starts on loopback
//!   (`etcd.members`, `etcd.bin`, `etcd.dir`, with `store.node_cpus` budgets) or a running
//!   cluster (`etcd.endpoints`); reads `etcd.read=linearizable|serializable` at
//!   `etcd.member=round-robin|N` (see [`EtcdBinding`]).
//!
//! A [`Binding`] is shared by all client threads; each thread gets its own [`DbClient`].
//!
//! Records are stored as one value per key (the workload's encoded fields). An `update` writes
//! the fields it carries as the record's new value (a blind put, no merge); use
//! `readmodifywriteproportion` for read-then-write.

mod engine;
pub mod etcd;
mod null;
mod store;

use std::sync::Arc;

use kvlab_workloads::Operation;

pub use engine::EngineBinding;
pub use etcd::EtcdBinding;
pub use null::NullBinding;
pub use store::StoreBinding;

use crate::error::{Error, Result};
use crate::settings::Settings;

/// What a successful operation reports besides its latency.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// The store node that served it, when the binding knows.
    pub node: Option<u64>,
    /// For stale reads: how far behind the leader the replica was.
    pub staleness: Option<Staleness>,
    /// The read policy that served a read (a stale read may fall back to `follower`).
    pub served_as: Option<&'static str>,
    /// In checking mode: the tag of the value a read returned ([`value_tag`]).
    pub observed: Option<u64>,
    /// For store reads: where the read spent its time ([`crate::stages`]); boxed, so that
    /// operation results stay small for every binding.
    pub stages: Option<Box<kvlab_store::ReadStages>>,
}

/// The prefix of the values written in checking mode.
pub const CHECK_PREFIX: &[u8] = b"kvlab-check:";

/// The value written in checking mode for `tag`: the prefix and the tag in hex.
pub fn check_value(tag: u64, out: &mut Vec<u8>) {
    use std::io::Write as _;
    out.clear();
    out.extend_from_slice(CHECK_PREFIX);
    let _ = write!(out, "{tag:x}");
}

/// The tag of a value read in checking mode: the written tag for checking-mode values, an FNV-1a
/// hash for any other value (records loaded before the checked run).
pub fn value_tag(value: &[u8]) -> u64 {
    if let Some(hex) = value.strip_prefix(CHECK_PREFIX) {
        if let Some(tag) =
            std::str::from_utf8(hex).ok().and_then(|h| u64::from_str_radix(h, 16).ok())
        {
            return tag;
        }
    }
    value
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// The staleness a stale read reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Staleness {
    /// Applied-index lag behind the last known leader commit index (entries).
    pub index_lag: u64,
    /// Age of the replica's data in milliseconds.
    pub age_ms: u64,
}

/// A failed operation, classified so results can count failures per kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpError {
    /// A short, stable kind (`not_found`, `timeout`, `unavailable`, `engine`, …).
    pub kind: &'static str,
    /// Details for logs.
    pub message: String,
    /// What the binding knows of who answered (a `not_found` read was still served: its node,
    /// policy and staleness go to the trace).
    pub served: Served,
}

impl OpError {
    /// A failure of `kind`.
    pub fn new(kind: &'static str, message: String) -> Self {
        OpError { kind, message, served: Served::default() }
    }

    /// A read of a record that does not exist (YCSB's `NOT_FOUND`).
    pub fn not_found() -> Self {
        OpError::new("not_found", String::new())
    }

    /// A `not_found` read that `served` answered.
    pub fn not_found_at(served: Served) -> Self {
        OpError { served, ..OpError::not_found() }
    }
}

/// One client thread's connection to the system under test.
pub trait DbClient: Send {
    /// Executes one operation.
    fn execute(&mut self, op: &Operation) -> Result<Served, OpError>;
}

/// Per-node counters reported by the store (empty for other bindings).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeRow {
    /// Node id.
    pub node: u64,
    /// The node's zone.
    pub zone: String,
    /// Reads served, per read policy name.
    pub reads: Vec<(String, u64)>,
    /// Writes applied.
    pub writes_applied: u64,
    /// ReadIndex rounds.
    pub readindex_rounds: u64,
    /// Raft messages sent.
    pub msgs_sent: u64,
    /// Raft messages received.
    pub msgs_recv: u64,
    /// Lease reads that fell back to ReadIndex at the leader (no valid lease).
    pub lease_fallbacks: u64,
    /// Stale reads that fell back to a ReadIndex read (older than their bound).
    pub stale_fallbacks: u64,
    /// Raft snapshots sent by this node's leaders.
    pub snapshots_sent: u64,
    /// Raft snapshots applied by this node's peers.
    pub snapshots_applied: u64,
    /// Writes and flushes the node made durable with an fsync.
    pub synced_writes: u64,
    /// Region leaders held.
    pub leaders: u64,
    /// CPU seconds of the node's process (node processes only; in one process the nodes
    /// share the harness's CPU time).
    pub cpu_seconds: Option<f64>,
    /// CPU seconds of the harness process, the clients' side (with node processes only).
    pub client_cpu_seconds: Option<f64>,
}

impl NodeRow {
    /// The counters accumulated since `before` (same node); `leaders` stays a current value.
    pub fn since(&self, before: &NodeRow) -> NodeRow {
        let reads = self
            .reads
            .iter()
            .map(|(policy, n)| {
                let old = before.reads.iter().find(|(p, _)| p == policy).map_or(0, |(_, o)| *o);
                (policy.clone(), n.saturating_sub(old))
            })
            .collect();
        NodeRow {
            node: self.node,
            zone: self.zone.clone(),
            reads,
            writes_applied: self.writes_applied.saturating_sub(before.writes_applied),
            readindex_rounds: self.readindex_rounds.saturating_sub(before.readindex_rounds),
            msgs_sent: self.msgs_sent.saturating_sub(before.msgs_sent),
            msgs_recv: self.msgs_recv.saturating_sub(before.msgs_recv),
            lease_fallbacks: self.lease_fallbacks.saturating_sub(before.lease_fallbacks),
            stale_fallbacks: self.stale_fallbacks.saturating_sub(before.stale_fallbacks),
            snapshots_sent: self.snapshots_sent.saturating_sub(before.snapshots_sent),
            snapshots_applied: self.snapshots_applied.saturating_sub(before.snapshots_applied),
            synced_writes: self.synced_writes.saturating_sub(before.synced_writes),
            leaders: self.leaders,
            cpu_seconds: minus(self.cpu_seconds, before.cpu_seconds),
            client_cpu_seconds: minus(self.client_cpu_seconds, before.client_cpu_seconds),
        }
    }
}

/// `now - before` for cumulative CPU times (a restarted node process starts from zero again:
/// then its CPU time since the restart).
fn minus(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    let now = now?;
    match before {
        Some(b) if b <= now => Some(now - b),
        _ => Some(now),
    }
}

/// The store's cumulative per-node counters where the measured part of a phase begins: the
/// warm-up interval boundary, the moment from which the collector keeps every completion.
/// Subtracted from the counters at the end, it leaves what the measured part did.
///
/// The phase's collecting loop asks [`NodeBaseline::wake_by`] how long it may wait for a
/// report, so it is awake at the boundary, and [`NodeBaseline::poll`] reads the counters as
/// soon as the boundary has passed.
#[derive(Debug)]
pub struct NodeBaseline {
    at: std::time::Instant,
    rows: Option<Vec<NodeRow>>,
}

impl NodeBaseline {
    /// A baseline to be taken at `at` (phase start plus the warm-up).
    pub fn new(at: std::time::Instant) -> Self {
        NodeBaseline { at, rows: None }
    }

    /// The latest a loop that wanted to wait until `until` may wait: no later than the
    /// boundary while the baseline is still to be taken.
    pub fn wake_by(&self, until: std::time::Instant) -> std::time::Instant {
        match self.rows {
            None => until.min(self.at),
            Some(_) => until,
        }
    }

    /// Takes the baseline with `read` if `now` is at or past the boundary and it is not taken
    /// yet.
    pub fn poll(&mut self, now: std::time::Instant, read: impl FnOnce() -> Vec<NodeRow>) {
        if self.rows.is_none() && now >= self.at {
            self.rows = Some(read());
        }
    }

    /// Whether the baseline has been taken.
    pub fn taken(&self) -> bool {
        self.rows.is_some()
    }

    /// The counters accumulated from the boundary to `end` (the counters when the phase
    /// ended). A phase that ended within its warm-up measured nothing, so its counters are
    /// zero (not the store's totals since it started, load included).
    pub fn since(self, end: Vec<NodeRow>) -> Vec<NodeRow> {
        let before = self.rows.unwrap_or_else(|| end.clone());
        end.iter()
            .map(|now| match before.iter().find(|b| b.node == now.node) {
                Some(before) => now.since(before),
                None => now.clone(),
            })
            .collect()
    }
}

/// The system under test, shared by all client threads.
pub trait Binding: Send + Sync {
    /// The binding's name (`null`, `engine`, `store`, `etcd`).
    fn name(&self) -> &'static str;
    /// A client for thread `thread`.
    ///
    /// # Errors
    ///
    /// When the system cannot accept another client.
    fn client(&self, thread: usize) -> Result<Box<dyn DbClient>>;
    /// A client for thread `thread` that keeps several operations in flight (`--inflight`),
    /// where the binding has an asynchronous API; `None` where it has not.
    fn pipelined_client(
        &self,
        _thread: usize,
    ) -> Option<Result<Box<dyn crate::pipeline::PipelinedClient>>> {
        None
    }
    /// Whether `kvlab run` must load the records first: the store is ephemeral or empty.
    fn needs_load(&self) -> bool {
        true
    }
    /// Per-node counters, when the binding has nodes.
    fn nodes(&self) -> Vec<NodeRow> {
        Vec::new()
    }
    /// Engine statistics (name → value).
    fn engine_stats(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    /// Bytes on disk and fsyncs so far, for the storage figures after the load (`None` for a
    /// binding without storage).
    fn storage(&self) -> Option<crate::storage::StorageProbe> {
        None
    }
    /// How the system under test runs, for the results and the report (e.g. the store's node
    /// processes and their CPU budgets, or why none could be applied).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// The notes that say the run differs from what was asked for (they go to the run's
    /// warnings too).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// What the nemesis breaks: the replicated store, or a local etcd cluster (`None` for a
    /// binding without one).
    fn faults(&self) -> Option<&dyn crate::nemesis::FaultTarget> {
        None
    }
}

/// The bindings `--db` accepts.
pub const BINDINGS: [&str; 4] = ["null", "engine", "store", "etcd"];

/// Checks the binding's settings without starting anything, so a bad option fails before any
/// results directory is created.
///
/// # Errors
///
/// The first bad binding property, by name.
pub fn validate(settings: &Settings) -> Result<()> {
    match settings.db.as_str() {
        "null" => NullBinding::new(settings).map(drop),
        "engine" => {
            let options = kvlab_store::EngineOptions::from_pairs(&settings.engine_options());
            Ok(options.map(drop).map_err(kvlab_store::Error::from)?)
        }
        "store" => StoreBinding::validate(settings),
        "etcd" => EtcdBinding::validate(settings),
        other => Err(Error::setting("db", other, "one of: null, engine, store, etcd")),
    }
}

/// Opens the binding named by the `db` setting.
///
/// # Errors
///
/// An unknown binding name, or the binding's own set-up error.
pub fn open(settings: &Settings) -> Result<Arc<dyn Binding>> {
    match settings.db.as_str() {
        "null" => Ok(Arc::new(NullBinding::new(settings)?)),
        "engine" => Ok(Arc::new(EngineBinding::open(settings)?)),
        "store" => Ok(Arc::new(StoreBinding::open(settings)?)),
        "etcd" => Ok(Arc::new(EtcdBinding::open(settings)?)),
        other => Err(Error::setting("db", other, "one of: null, engine, store, etcd")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn row(node: u64, reads: u64, leaders: u64) -> NodeRow {
        NodeRow {
            node,
            reads: vec![("leader".to_string(), reads)],
            readindex_rounds: reads / 2,
            leaders,
            ..NodeRow::default()
        }
    }

    #[test]
    fn node_baseline_is_taken_at_the_warmup_boundary() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let boundary = start + ms(1000);
        let mut baseline = NodeBaseline::new(boundary);
        // A loop about to wait 100 ms for a report at 950 ms wakes at the boundary instead.
        assert_eq!(baseline.wake_by(start + ms(1050)), boundary);
        assert_eq!(baseline.wake_by(start + ms(900)), start + ms(900));
        // Scripted counters: 40 reads served by 950 ms, 41 at the boundary, 100 at the end.
        baseline.poll(start + ms(950), || panic!("read before the boundary"));
        assert!(!baseline.taken());
        baseline.poll(boundary, || vec![row(1, 41, 2)]);
        assert!(baseline.taken());
        baseline.poll(start + ms(1100), || panic!("read twice"));
        assert_eq!(baseline.wake_by(start + ms(1200)), start + ms(1200), "no longer bounded");
        let measured = baseline.since(vec![row(1, 100, 3), row(2, 5, 0)]);
        assert_eq!(measured[0].reads, vec![("leader".to_string(), 59)]);
        assert_eq!((measured[0].readindex_rounds, measured[0].leaders), (50 - 20, 3));
        assert_eq!(measured[1], row(2, 5, 0), "a node absent from the baseline counts whole");
    }

    #[test]
    fn a_phase_that_ends_in_its_warmup_measures_no_counters() {
        let baseline = NodeBaseline::new(Instant::now() + Duration::from_secs(1));
        let measured = baseline.since(vec![row(1, 100, 3)]);
        assert_eq!(measured[0].reads, vec![("leader".to_string(), 0)]);
        assert_eq!((measured[0].readindex_rounds, measured[0].leaders), (0, 3));
    }
}
