//! What crosses a node's boundary: the messages its Raft thread and read pool receive, and
//! the answers they send back. Both transports carry these same types — the in-process
//! network hands them over as they are, gRPC encodes them (`wire`) and the node process's
//! services decode them back — so one node implementation serves both kinds of cluster.
//!
//! How a client read reaches the engine, per policy ([`ReadTask::inbound`]):
//!
//! | policy | enters at | path |
//! |---|---|---|
//! | `lease` | read pool | a valid lease: served at once; otherwise the Raft thread (a ReadIndex round at the leader) |
//! | `stale` | read pool | within `max_staleness`: served at once; otherwise the Raft thread (a ReadIndex round where it is) |
//! | `leader`, `follower`, `mixed` | Raft thread | batched into a ReadIndex round; once the peer applied the read index, the read pool serves it |
//!
//! The read pool is the only place that reads the engine for clients (`node::read_pool`).

use std::time::{Duration, Instant};

use raft::prelude::Message;

use crate::config::ReadPolicy;
use crate::error::{Error, Result};
use crate::stages::{ReadStages, ReadTiming};
use crate::topology::{Index, NodeId, RegionId};
use kvlab_engine::{KvPair, WriteBatch};

/// A Raft message addressed to one region peer on another node.
#[derive(Debug)]
pub struct RaftEnvelope {
    /// The region whose Raft group the message belongs to.
    pub region: RegionId,
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// The raft-rs message.
    pub msg: Message,
    /// When the sender handed it to the transport (used for stale-read ages).
    pub sent_at: Instant,
    /// The sender's commit index when it is the leader and has committed an entry of its own
    /// term (a follower that applied it is as fresh as the leader was at `sent_at`).
    pub leader_commit: Option<Index>,
}

/// A message for a node's Raft thread.
#[derive(Debug)]
pub enum NodeMsg {
    /// A Raft message from another node (boxed: a raft-rs `Message` is large, and every
    /// message in the inbox, reads and writes included, would otherwise be as large).
    Raft(Box<RaftEnvelope>),
    /// A client write.
    Propose(ProposeTask),
    /// A read that needs a ReadIndex round.
    Read(ReadTask),
    /// Hand a region's leadership to a node.
    TransferLeader(RegionId, NodeId),
    /// Start an election for a region.
    Campaign(RegionId),
}

/// A message for a node, routed to its Raft thread or its read pool.
#[derive(Debug)]
pub enum Inbound {
    /// For the Raft thread.
    Raft(NodeMsg),
    /// For the read pool.
    Pool(ReadTask),
}

/// Where one request's answer goes: a oneshot channel (one allocation, no queue). The waiting
/// client chooses how to wait for it: a few yields, then parking (`client::wait`).
pub type Reply<T> = oneshot::Sender<Result<T>>;

/// What a read asks for.
#[derive(Clone, Debug)]
pub enum ReadOp {
    /// One key.
    Get(Vec<u8>),
    /// Several keys of one region.
    BatchGet(Vec<Vec<u8>>),
    /// Up to `limit` pairs in `[start, end)` (`end` empty = to the region's end).
    Scan {
        /// First key.
        start: Vec<u8>,
        /// End key (exclusive), already clipped to the region.
        end: Vec<u8>,
        /// Maximum number of pairs.
        limit: usize,
    },
}

/// What a read returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadValue {
    /// For [`ReadOp::Get`].
    One(Option<Vec<u8>>),
    /// For [`ReadOp::BatchGet`], in request order.
    Many(Vec<Option<Vec<u8>>>),
    /// For [`ReadOp::Scan`].
    Pairs(Vec<KvPair>),
}

/// A node's answer to a read.
#[derive(Clone, Debug)]
pub struct ReadResponse {
    /// The values read.
    pub value: ReadValue,
    /// The node that served the read.
    pub node: NodeId,
    /// The policy that finally served it (differs from the request after a stale fallback).
    pub served_as: ReadPolicy,
    /// For stale reads: how stale the serving replica was.
    pub staleness: Option<Staleness>,
    /// The region's leader as the serving replica knew it (clients of every policy learn
    /// leader changes from this, so follower reads keep avoiding the leader).
    pub leader: Option<NodeId>,
    /// Where the read spent its time at the node (the client adds its own stage).
    pub stages: ReadStages,
    /// When the node sent the answer (the client adds the reply latency).
    pub sent_at: Instant,
}

/// One read request inside a node.
#[derive(Debug)]
pub struct ReadTask {
    /// Target region.
    pub region: RegionId,
    /// The read.
    pub op: ReadOp,
    /// Requested policy.
    pub policy: ReadPolicy,
    /// Stale reads older than this fall back to a follower read.
    pub max_staleness: Option<Duration>,
    /// Give up after this instant.
    pub deadline: Instant,
    /// Set by the Raft thread once the read index is applied here: serve without checks.
    pub ready: bool,
    /// Whether this read fell back (lease → ReadIndex, stale → follower read).
    pub fell_back: bool,
    /// When it reached the node, got its read index and was dispatched (see `stages`).
    pub timing: ReadTiming,
    /// Where the answer goes.
    pub reply: Reply<ReadResponse>,
}

impl ReadTask {
    /// Where the read enters its node: lease and stale reads at the read pool, which decides
    /// locally; the others at the Raft thread, for a ReadIndex round.
    pub fn inbound(self) -> Inbound {
        match self.policy {
            ReadPolicy::Lease | ReadPolicy::Stale => Inbound::Pool(self),
            _ => Inbound::Raft(NodeMsg::Read(self)),
        }
    }

    /// Answers with an error (the client may have given up; that is fine).
    pub fn fail(self, err: Error) {
        let _ = self.reply.send(Err(err));
    }
}

/// A write request inside a node.
#[derive(Debug)]
pub struct ProposeTask {
    /// Target region.
    pub region: RegionId,
    /// The writes, on user keys.
    pub batch: WriteBatch,
    /// Give up after this instant.
    pub deadline: Instant,
    /// Answered with the serving node once applied at the leader.
    pub reply: Reply<NodeId>,
}

/// How stale a stale read may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Staleness {
    /// Applied-index lag behind the last commit index this replica heard from the leader.
    pub index_lag: u64,
    /// Milliseconds since the replica was last known to be up to date with the leader.
    pub age_ms: u64,
}

/// Where a node's reads are served: its read pool (`node::read_pool::PoolHandle`). The Raft
/// thread hands it the reads whose read index was applied; the network hands it lease and
/// stale reads.
pub trait ReadQueue: Send + Sync {
    /// Hands `task` to the pool, or runs it on the calling thread when the pool is inline.
    ///
    /// # Errors
    ///
    /// Gives the task back if the pool stopped, so the caller can answer it.
    // The task comes back whole so the caller can answer it; boxing it would cost every read an
    // allocation for the rare stopped pool.
    #[allow(clippy::result_large_err)]
    fn submit(&self, task: ReadTask) -> std::result::Result<(), ReadTask>;

    /// Whether [`ReadQueue::submit`] runs the read on the calling thread
    /// (`read_pool_threads = 0`): such a read must not be delivered by a thread that others
    /// wait on.
    fn is_inline(&self) -> bool;
}
