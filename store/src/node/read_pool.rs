//! Read requests and the node's read pool.
//!
//! Every client read enters a node in one of two places:
//!
//! * **lease** and **stale** reads go straight to the read pool, whose threads decide locally
//!   from [`PeerShared`]: a valid lease (or an acceptable staleness) is served at once; otherwise
//!   the read is handed to the Raft thread as a ReadIndex read (the fallback);
//! * **leader**, **follower** and **mixed** reads go to the Raft thread, which batches them
//!   into ReadIndex rounds and, once the round returned and the peer applied the read index,
//!   hands them to the pool marked `ready`.
//!
//! The pool threads are the only threads that read the engine for clients, so a node's read
//! throughput is bounded by its pool size. Every task carries a deadline; a pool thread answers
//! `Timeout` for a task whose deadline passed instead of serving it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::config::ReadPolicy;
use crate::engine::{Engine, KvPair, WriteBatch};
use crate::error::{Error, Result};
use crate::keys;
use crate::metrics::NodeStats;
use crate::node::NodeMsg;
use crate::raftstore::{Clock, PeerShared, Staleness};
use crate::stages::{ReadStages, ReadTiming};
use crate::topology::{NodeId, RegionId};

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
    pub fn inbound(self) -> crate::transport::Inbound {
        use crate::transport::Inbound;
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

/// How reads reach a node's pool: a queue served by pool threads, or, with
/// `read_pool_threads = 0`, inline on the submitting thread (the client thread for lease and
/// stale reads, after it waited out any emulated request latency; the Raft thread for reads
/// whose read index was reached) — never the network's timer thread.
#[derive(Clone)]
pub enum PoolHandle {
    /// Queue for the pool threads.
    Threads(Sender<ReadTask>),
    /// Run on the caller.
    Inline(Arc<PoolContext>),
}

impl PoolHandle {
    /// Hands `task` to the pool (or runs it).
    ///
    /// # Errors
    ///
    /// Gives the task back if the pool stopped.
    // The task comes back whole so the caller can answer it; boxing it would cost every read an
    // allocation for the rare stopped pool.
    #[allow(clippy::result_large_err)]
    pub fn submit(&self, task: ReadTask) -> std::result::Result<(), ReadTask> {
        match self {
            PoolHandle::Threads(tx) => tx.send(task).map_err(|e| e.0),
            PoolHandle::Inline(ctx) => {
                if ctx.stop.load(Ordering::Acquire) {
                    return Err(task);
                }
                while ctx.paused.load(Ordering::Acquire) && Instant::now() < task.deadline {
                    std::thread::sleep(Duration::from_millis(2));
                }
                handle(ctx, task);
                Ok(())
            }
        }
    }
}

/// What the pool threads share.
pub struct PoolContext {
    /// This node.
    pub node: NodeId,
    /// The data engine.
    pub engine: Arc<dyn Engine>,
    /// Peers on this node.
    pub peers: HashMap<RegionId, Arc<PeerShared>>,
    /// The Raft thread (for fallbacks).
    pub raft_tx: Sender<NodeMsg>,
    /// Clock shared with the Raft thread.
    pub clock: Clock,
    /// Node counters.
    pub stats: Arc<NodeStats>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// Set while the node is paused.
    pub paused: Arc<AtomicBool>,
}

/// The body of one read pool thread.
pub fn run_pool(ctx: Arc<PoolContext>, rx: Receiver<ReadTask>) {
    loop {
        if ctx.stop.load(Ordering::Acquire) {
            return;
        }
        if ctx.paused.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(task) => handle(&ctx, task),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn handle(ctx: &PoolContext, mut task: ReadTask) {
    let region = task.region;
    if Instant::now() >= task.deadline {
        return task.fail(Error::Timeout(format!("read in region {region} on node {}", ctx.node)));
    }
    let Some(shared) = ctx.peers.get(&task.region) else {
        return task.fail(Error::Unavailable(format!("region {region} not on node {}", ctx.node)));
    };
    if task.ready {
        let served_as = served_as_after_read_index(task.policy, shared);
        let staleness = (task.policy == ReadPolicy::Stale).then(Staleness::default);
        return serve(ctx, shared, task, served_as, staleness);
    }
    let now = ctx.clock.now_ns();
    match task.policy {
        ReadPolicy::Lease if shared.lease_valid(now) => {
            serve(ctx, shared, task, ReadPolicy::Lease, None)
        }
        ReadPolicy::Stale => {
            let st = shared.staleness(now);
            let too_old = task.max_staleness.is_some_and(|max| st.age_ms > max.as_millis() as u64);
            if too_old {
                task.fell_back = true;
                NodeStats::add(&ctx.stats.stale_fallbacks, 1);
                forward(ctx, task);
            } else {
                serve(ctx, shared, task, ReadPolicy::Stale, Some(st));
            }
        }
        ReadPolicy::Lease => {
            if !shared.is_leader.load(Ordering::Acquire) {
                let leader = shared.leader();
                return task.fail(Error::NotLeader { region, leader });
            }
            task.fell_back = true;
            NodeStats::add(&ctx.stats.lease_fallbacks, 1);
            forward(ctx, task);
        }
        _ => forward(ctx, task),
    }
}

/// The policy a read that went through a ReadIndex round was served as: what it asked for,
/// except that a lease read without a lease was a ReadIndex read at the leader, a stale read
/// past its bound a ReadIndex read at whichever replica it reached, and a follower read that
/// reached the leader (the client's leader cache was behind) a leader read — so counters and
/// results never credit a policy with reads it did not serve.
fn served_as_after_read_index(policy: ReadPolicy, shared: &PeerShared) -> ReadPolicy {
    let at_leader = shared.is_leader.load(Ordering::Acquire);
    match policy {
        ReadPolicy::Lease => ReadPolicy::Leader,
        ReadPolicy::Stale | ReadPolicy::Follower if at_leader => ReadPolicy::Leader,
        ReadPolicy::Stale => ReadPolicy::Follower,
        other => other,
    }
}

/// The local fast path of an inline pool (`read_pool_threads = 0`) with no emulated latency: a
/// lease or stale get decided and served on the calling thread with no task, channel or copy of
/// the request. `None` when the read needs the full path (a lease fallback, a stale read past
/// its bound, a paused or stopping node); the caller then sends it the usual way.
pub fn try_local_get(
    ctx: &PoolContext,
    region: RegionId,
    key: &[u8],
    policy: ReadPolicy,
    max_staleness: Option<Duration>,
) -> Option<Result<ReadResponse>> {
    if ctx.stop.load(Ordering::Acquire) || ctx.paused.load(Ordering::Acquire) {
        return None;
    }
    let shared = ctx.peers.get(&region)?;
    let now = ctx.clock.now_ns();
    let staleness = match policy {
        ReadPolicy::Lease if shared.lease_valid(now) => None,
        ReadPolicy::Stale => {
            let st = shared.staleness(now);
            if max_staleness.is_some_and(|max| st.age_ms > max.as_millis() as u64) {
                return None;
            }
            Some(st)
        }
        _ => return None,
    };
    let engine = Instant::now();
    let value = match ctx.engine.get(&keys::data_key(key)) {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    ctx.stats.read(policy);
    NodeStats::add(&shared.reads, 1);
    let sent_at = Instant::now();
    let stages = ReadTiming::default().stages(engine, sent_at);
    Some(Ok(ReadResponse {
        value: ReadValue::One(value),
        node: ctx.node,
        served_as: policy,
        staleness,
        leader: shared.leader(),
        stages,
        sent_at,
    }))
}

fn forward(ctx: &PoolContext, task: ReadTask) {
    if let Err(e) = ctx.raft_tx.send(NodeMsg::Read(task)) {
        if let NodeMsg::Read(task) = e.0 {
            task.fail(Error::Unavailable(format!("node {} is stopping", ctx.node)));
        }
    }
}

fn serve(
    ctx: &PoolContext,
    shared: &PeerShared,
    task: ReadTask,
    served_as: ReadPolicy,
    staleness: Option<Staleness>,
) {
    let engine = Instant::now();
    let result = read(ctx.engine.as_ref(), &task.op);
    let reply = match result {
        Ok(value) => {
            ctx.stats.read(served_as);
            NodeStats::add(&shared.reads, 1);
            let sent_at = Instant::now();
            Ok(ReadResponse {
                value,
                node: ctx.node,
                served_as,
                staleness,
                leader: shared.leader(),
                stages: task.timing.stages(engine, sent_at),
                sent_at,
            })
        }
        Err(e) => Err(e),
    };
    let _ = task.reply.send(reply);
}

/// Executes `op` against the engine.
///
/// # Errors
///
/// Engine errors.
pub fn read(engine: &dyn Engine, op: &ReadOp) -> Result<ReadValue> {
    Ok(match op {
        ReadOp::Get(key) => ReadValue::One(engine.get(&keys::data_key(key))?),
        ReadOp::BatchGet(keys_) => {
            let snap = engine.snapshot();
            ReadValue::Many(
                keys_.iter().map(|k| snap.get(&keys::data_key(k))).collect::<Result<_>>()?,
            )
        }
        ReadOp::Scan { start, end, limit } => {
            let pairs = engine.scan(&keys::data_range(start, end), *limit)?;
            ReadValue::Pairs(
                pairs.into_iter().map(|(k, v)| (keys::user_key(&k).to_vec(), v)).collect(),
            )
        }
    })
}
