//! The node's read pool.
//!
//! Every client read enters a node in one of two places (the table in `crate::request`):
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
use crate::error::{Error, Result};
use crate::keys;
use crate::metrics::NodeStats;
use crate::raftstore::{Clock, PeerShared};
use crate::request::{NodeMsg, ReadOp, ReadQueue, ReadResponse, ReadTask, ReadValue, Staleness};
use crate::topology::{NodeId, RegionId};
use kvlab_engine::Engine;

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

impl ReadQueue for PoolHandle {
    fn submit(&self, task: ReadTask) -> std::result::Result<(), ReadTask> {
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

    fn is_inline(&self) -> bool {
        matches!(self, PoolHandle::Inline(_))
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
            // Within its bound, or a replica that does not know its freshness: a ReadIndex read.
            let within = |st: &Staleness| {
                task.max_staleness.is_none_or(|max| st.age_ms <= max.as_millis() as u64)
            };
            match shared.staleness(now).filter(within) {
                Some(st) => serve(ctx, shared, task, ReadPolicy::Stale, Some(st)),
                None => {
                    task.fell_back = true;
                    NodeStats::add(&ctx.stats.stale_fallbacks, 1);
                    forward(ctx, task);
                }
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
fn read(engine: &dyn Engine, op: &ReadOp) -> Result<ReadValue> {
    Ok(match op {
        ReadOp::Get(key) => ReadValue::One(engine.get(&keys::data_key(key))?),
        ReadOp::BatchGet(keys_) => {
            let snap = engine.snapshot();
            ReadValue::Many(
                keys_
                    .iter()
                    .map(|k| snap.get(&keys::data_key(k)))
                    .collect::<kvlab_engine::Result<_>>()?,
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
