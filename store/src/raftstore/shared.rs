//! `PeerShared`: the part of a region peer's state that other threads read without asking the
//! Raft thread — the read pool's lease and stale-read checks, the client's leader discovery and
//! the metrics.
//!
//! Only the node's Raft thread writes these atomics, always *after* the engine write that they
//! describe completed, so a reader that sees `applied ≥ i` also sees the data of entry `i`.
//!
//! **Lease.** A leader may serve local reads until `lease_until` when all of these hold:
//! it is leader, its applied term equals its current term (it applied an entry of its own term,
//! hence every entry an earlier leader acknowledged), applied ≥ commit, and no leader transfer
//! is in progress. `lease_until` is set to `t0 + lease` when a ReadIndex round issued at `t0`
//! (a heartbeat quorum) completes; followers that answered that heartbeat reset their election
//! timers after `t0` and, with check_quorum, reject votes for an election timeout, so no other
//! leader can be elected before `t0 + election timeout > lease_until`. A leader transfer in
//! progress suspends the lease; a `MsgTimeoutNow` sent ends it for the rest of the term (the
//! transferee may be elected at once, whenever the message arrives), while a transfer that
//! raft-rs ignored or aborted before sending one leaves it intact.
//! Known gap, shared with raft-rs/etcd lease reads: a follower that *restarts* forgets its
//! leader and may vote inside the lease window.
//!
//! **Staleness.** `safe_ns` is a clock time as of which this replica's data is known to be
//! complete: at a follower, the send time of the latest message from the current leader whose
//! stamped commit index it has applied; at a leader, the start of its latest completed ReadIndex
//! round whose index it has applied. A stale read reports `age = now − safe_ns` (0 for a leader
//! with a valid lease): every write acknowledged more than `age` before the read is visible to
//! it. `safe_ns` is 0 until the first such claim: a peer that has not applied a stamped index
//! since its process (or cluster) started knows nothing of its freshness, and its stale reads
//! fall back to ReadIndex reads. (Reporting `now − 0` instead, the time since the clock's
//! epoch, made a freshly restarted node process claim an age of a few milliseconds while it
//! was hundreds of entries behind.) Stamps sent before the epoch count as 0 too: they never
//! raise the claim. Known gap: with five or more replicas a deposed leader that has not yet
//! noticed may still stamp messages to a follower that missed the new term.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::Failpoints;
use crate::metrics::RegionMetrics;
use crate::request::Staleness;
use crate::topology::{Index, NodeId, RegionId};

/// A monotonic clock with an epoch, so instants fit in atomics as nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Self { epoch: Instant::now() }
    }

    /// Nanoseconds since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.ns(Instant::now())
    }

    /// `at` as nanoseconds since the epoch.
    pub fn ns(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Lock-free view of one region peer (see the module docs).
#[derive(Debug)]
pub struct PeerShared {
    /// The region.
    pub region: RegionId,
    /// Applied index.
    pub applied: AtomicU64,
    /// Term of the applied entry.
    pub applied_term: AtomicU64,
    /// Commit index known to this peer.
    pub commit: AtomicU64,
    /// Current term.
    pub term: AtomicU64,
    /// Leader this peer knows of (0 = none).
    pub leader: AtomicU64,
    /// Whether this peer is leader.
    pub is_leader: AtomicBool,
    /// Whether a leader transfer is in progress (suspends the lease).
    pub transferring: AtomicBool,
    /// Lease end, in clock nanoseconds (0 = no lease).
    pub lease_until_ns: AtomicU64,
    /// Highest commit index heard from the leader.
    pub leader_commit_seen: AtomicU64,
    /// Clock time up to which this replica is known to be fresh (see the module docs).
    pub safe_ns: AtomicU64,
    /// Reads served here, all policies.
    pub reads: AtomicU64,
    /// Write commands applied here.
    pub writes_applied: AtomicU64,
    /// Times this peer became leader.
    pub leader_changes: AtomicU64,
    /// Failpoint `lease-never-expires`.
    pub lease_never_expires: bool,
    /// Failpoint `stale-age-zero`.
    pub stale_age_zero: bool,
}

impl PeerShared {
    /// A fresh view, with the failpoints the configuration enables.
    pub fn new(region: RegionId, failpoints: Failpoints) -> Self {
        Self {
            region,
            applied: AtomicU64::new(0),
            applied_term: AtomicU64::new(0),
            commit: AtomicU64::new(0),
            term: AtomicU64::new(0),
            leader: AtomicU64::new(0),
            is_leader: AtomicBool::new(false),
            transferring: AtomicBool::new(false),
            lease_until_ns: AtomicU64::new(0),
            leader_commit_seen: AtomicU64::new(0),
            safe_ns: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            writes_applied: AtomicU64::new(0),
            leader_changes: AtomicU64::new(0),
            lease_never_expires: failpoints.lease_never_expires,
            stale_age_zero: failpoints.stale_age_zero,
        }
    }

    /// Applied index.
    pub fn applied(&self) -> Index {
        self.applied.load(Ordering::Acquire)
    }

    /// The known leader, if any.
    pub fn leader(&self) -> Option<NodeId> {
        match self.leader.load(Ordering::Acquire) {
            0 => None,
            id => Some(id),
        }
    }

    /// Whether this peer leads, has applied an entry of its term and is not handing its
    /// leadership over: it serves every read policy and writes at once.
    pub fn is_ready_leader(&self) -> bool {
        let ord = Ordering::Acquire;
        self.is_leader.load(ord)
            && self.applied_term.load(ord) == self.term.load(ord)
            && !self.transferring.load(ord)
    }

    /// Whether a local lease read is allowed at clock time `now_ns` (see the module docs).
    pub fn lease_valid(&self, now_ns: u64) -> bool {
        if self.lease_never_expires && self.lease_until_ns.load(Ordering::Acquire) != 0 {
            // Failpoint: a lease once granted is trusted forever, even after stepping down.
            return true;
        }
        self.is_leader.load(Ordering::Acquire)
            && !self.transferring.load(Ordering::Acquire)
            && now_ns < self.lease_until_ns.load(Ordering::Acquire)
            && self.applied_term.load(Ordering::Acquire) == self.term.load(Ordering::Acquire)
            && self.applied() >= self.commit.load(Ordering::Acquire)
    }

    /// Remaining lease at `now_ns`.
    pub fn lease_remaining(&self, now_ns: u64) -> Duration {
        Duration::from_nanos(self.lease_until_ns.load(Ordering::Acquire).saturating_sub(now_ns))
    }

    /// The staleness of a local read served now; `None` while this replica does not know how
    /// fresh it is (`safe_ns` is still 0: see the module docs).
    pub fn staleness(&self, now_ns: u64) -> Option<Staleness> {
        let applied = self.applied();
        if self.stale_age_zero || self.lease_valid(now_ns) {
            // The failpoint claims perfect freshness, the lease guarantees it.
            return Some(Staleness::default());
        }
        let safe = self.safe_ns.load(Ordering::Acquire);
        if safe == 0 {
            return None;
        }
        let seen = if self.is_leader.load(Ordering::Acquire) {
            self.commit.load(Ordering::Acquire)
        } else {
            self.leader_commit_seen.load(Ordering::Acquire)
        };
        Some(Staleness {
            index_lag: seen.saturating_sub(applied),
            age_ms: now_ns.saturating_sub(safe).div_ceil(1_000_000),
        })
    }

    /// A snapshot of this peer's state and counters.
    pub fn metrics(&self) -> RegionMetrics {
        let ord = Ordering::Relaxed;
        let commit = self.commit.load(ord);
        let applied = self.applied.load(ord);
        RegionMetrics {
            region: self.region,
            is_leader: self.is_leader.load(ord),
            leader: self.leader(),
            term: self.term.load(ord),
            commit_index: commit,
            applied_index: applied,
            apply_lag: commit.saturating_sub(applied),
            reads_served: self.reads.load(ord),
            writes_applied: self.writes_applied.load(ord),
            leader_changes: self.leader_changes.load(ord),
        }
    }
}
