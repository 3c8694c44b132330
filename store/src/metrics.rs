//! Per-node and per-region counters, readable by the harness at any time.
//!
//! Nodes bump relaxed atomics in [`NodeStats`]; [`crate::Cluster::metrics`] turns them and each
//! peer's shared state (`PeerShared::metrics`) into plain [`NodeMetrics`] values. Counters survive
//! a node restart (the cluster keeps one `NodeStats` per node id).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::ReadPolicy;
use crate::topology::{Index, NodeId, RegionId, ZoneId};

/// Live counters of one node.
#[derive(Debug, Default)]
pub struct NodeStats {
    /// Reads served, indexed by [`ReadPolicy::index`] of the policy that served them.
    pub reads: [AtomicU64; 5],
    /// Lease reads that fell back to a ReadIndex round at the leader (no valid lease).
    pub lease_fallbacks: AtomicU64,
    /// Stale reads that fell back to a ReadIndex read (older than `max_staleness`).
    pub stale_fallbacks: AtomicU64,
    /// Write commands applied (on every replica).
    pub writes_applied: AtomicU64,
    /// Proposals accepted as leader.
    pub proposals: AtomicU64,
    /// ReadIndex rounds started (one per batch of reads, plus lease renewals).
    pub readindex_rounds: AtomicU64,
    /// Raft messages sent.
    pub msgs_sent: AtomicU64,
    /// Raft messages received.
    pub msgs_recv: AtomicU64,
    /// Times a peer on this node became leader.
    pub leader_changes: AtomicU64,
    /// Engine write batches issued by the Ready loop (= fsyncs with a syncing engine).
    pub engine_writes: AtomicU64,
    /// Of those, writes to the engine holding the raft log (= fsyncs when the log syncs and
    /// data lives in a separate, unsynced engine).
    pub log_writes: AtomicU64,
    /// Writes and flushes the Ready loop made durable with an fsync (kvlab's own count: a
    /// synced log write, or a flush of the data engine before a compaction or snapshot).
    pub synced_writes: AtomicU64,
    /// Ready rounds that had work.
    pub ready_rounds: AtomicU64,
    /// Raft snapshots applied by peers on this node.
    pub snapshots_applied: AtomicU64,
    /// Raft snapshots sent by leaders on this node (to peers behind the compacted log).
    pub snapshots_sent: AtomicU64,
}

impl NodeStats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one read served under `policy`.
    pub fn read(&self, policy: ReadPolicy) {
        self.reads[policy.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads served by one node, per policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadCounts {
    /// ReadIndex reads at the leader.
    pub leader: u64,
    /// Lease reads served locally under a valid lease.
    pub lease: u64,
    /// Follower reads: ReadIndex reads served at a follower (stale reads that fell back and
    /// were served at a follower included).
    pub follower: u64,
    /// Mixed-policy reads.
    pub mixed: u64,
    /// Stale reads served locally.
    pub stale: u64,
    /// Lease reads that fell back to ReadIndex at the leader (counted as `leader` reads).
    pub lease_fallbacks: u64,
    /// Stale reads that fell back to a ReadIndex read (counted as `follower` or `leader`).
    pub stale_fallbacks: u64,
}

/// A snapshot of one region peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionMetrics {
    /// The region.
    pub region: RegionId,
    /// Whether this peer is the leader.
    pub is_leader: bool,
    /// The leader this peer knows of.
    pub leader: Option<NodeId>,
    /// Current term.
    pub term: u64,
    /// Commit index known here.
    pub commit_index: Index,
    /// Applied index.
    pub applied_index: Index,
    /// `commit_index − applied_index`.
    pub apply_lag: u64,
    /// Reads served by this peer.
    pub reads_served: u64,
    /// Write commands applied by this peer.
    pub writes_applied: u64,
    /// Times this peer became leader.
    pub leader_changes: u64,
}

/// A snapshot of one node's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeMetrics {
    /// The node.
    pub node: NodeId,
    /// Its zone.
    pub zone: ZoneId,
    /// Whether it is running (not stopped).
    pub up: bool,
    /// Reads served per policy.
    pub reads: ReadCounts,
    /// Write commands applied.
    pub writes_applied: u64,
    /// Proposals accepted as leader.
    pub proposals: u64,
    /// ReadIndex rounds started.
    pub readindex_rounds: u64,
    /// Raft messages sent.
    pub msgs_sent: u64,
    /// Raft messages received.
    pub msgs_recv: u64,
    /// Times a peer here became leader.
    pub leader_changes: u64,
    /// Regions this node leads now.
    pub leaders_held: u64,
    /// Engine write batches from the Ready loop (= fsyncs with a syncing engine).
    pub engine_writes: u64,
    /// Writes to the engine holding the raft log.
    pub log_writes: u64,
    /// Writes and flushes made durable with an fsync.
    pub synced_writes: u64,
    /// Ready rounds with work.
    pub ready_rounds: u64,
    /// Raft snapshots applied here (a lagging peer catching up).
    pub snapshots_applied: u64,
    /// Raft snapshots sent from here (leaders to peers behind the compacted log).
    pub snapshots_sent: u64,
    /// Largest apply lag over the node's regions.
    pub max_apply_lag: u64,
    /// Per-region details, by region id.
    pub regions: Vec<RegionMetrics>,
    /// The node process's CPU time so far (process clusters; in one process nodes share it).
    pub cpu: Option<Duration>,
}

impl NodeMetrics {
    /// Builds a snapshot from live counters.
    pub fn from_stats(
        node: NodeId,
        zone: ZoneId,
        up: bool,
        s: &NodeStats,
        regions: Vec<RegionMetrics>,
    ) -> Self {
        let r = |p: ReadPolicy| s.reads[p.index()].load(Ordering::Relaxed);
        let ld = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Self {
            node,
            zone,
            up,
            reads: ReadCounts {
                leader: r(ReadPolicy::Leader),
                lease: r(ReadPolicy::Lease),
                follower: r(ReadPolicy::Follower),
                mixed: r(ReadPolicy::Mixed),
                stale: r(ReadPolicy::Stale),
                lease_fallbacks: ld(&s.lease_fallbacks),
                stale_fallbacks: ld(&s.stale_fallbacks),
            },
            writes_applied: ld(&s.writes_applied),
            proposals: ld(&s.proposals),
            readindex_rounds: ld(&s.readindex_rounds),
            msgs_sent: ld(&s.msgs_sent),
            msgs_recv: ld(&s.msgs_recv),
            leader_changes: ld(&s.leader_changes),
            leaders_held: regions.iter().filter(|r| r.is_leader).count() as u64,
            engine_writes: ld(&s.engine_writes),
            log_writes: ld(&s.log_writes),
            synced_writes: ld(&s.synced_writes),
            ready_rounds: ld(&s.ready_rounds),
            snapshots_applied: ld(&s.snapshots_applied),
            snapshots_sent: ld(&s.snapshots_sent),
            max_apply_lag: regions.iter().map(|r| r.apply_lag).max().unwrap_or(0),
            regions,
            cpu: None,
        }
    }
}
