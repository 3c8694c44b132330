//! A store node: its engines, one Raft/Ready thread for all of its region peers and a read pool.
//!
//! The Raft thread is the only place that does Raft I/O (toydb's shape): it receives messages
//! from its inbox (Raft messages, proposals, ReadIndex reads, admin commands), ticks every peer
//! on the configured interval, and then runs one Ready round over all peers. A round writes
//! the applied data of all peers in one unsynced engine write and answers those writers, then
//! the round's log entries and hard states in **one log write** — with a syncing engine one
//! fsync per round, however many proposals the round carries (group commit). Append
//! acknowledgements that arrive during that fsync are stepped before the round's `advance`,
//! so what they commit is applied and answered in the same round; and with a syncing log the
//! round may wait (`store.commit_delay_us`, none by default) for writers to join it. The apply
//! path runs on this thread too, so a node's write throughput is bounded by this one thread,
//! and its reads by its `read_pool_threads` pool threads.
//!
//! Pausing a node freezes both its Raft thread and its pool (messages queue up, as for a
//! stopped process); stopping it ends the threads and answers every waiting request
//! `Unavailable`.

mod read_pool;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use read_pool::PoolHandle;

use kvlab_engine::Engine;

use crate::config::ClusterConfig;
use crate::error::{Error, Result};
use crate::metrics::NodeStats;
use crate::raftstore::log::to_batch;
use crate::raftstore::{Clock, Peer, PeerContext, PeerShared, PeerStorage, RaftLog, WriteTask};
use crate::request::NodeMsg;
use crate::topology::{NodeId, RegionId, Topology};
use crate::transport::{ChannelTransport, Endpoint, Transport};

/// Everything a node is started with.
pub struct NodeParams {
    /// Node id.
    pub id: NodeId,
    /// Cluster configuration.
    pub config: Arc<ClusterConfig>,
    /// Region layout.
    pub topology: Arc<Topology>,
    /// The data engine.
    pub data: Arc<dyn Engine>,
    /// Where the Raft log persists.
    pub raft_log: RaftLog,
    /// Where requests and Raft messages for this node arrive (the in-process network, or the
    /// node process's local delivery).
    pub transport: Arc<ChannelTransport>,
    /// Where this node's Raft messages to other nodes go: the in-process network, or gRPC.
    pub raft_out: Arc<dyn Transport>,
    /// The cluster clock.
    pub clock: Clock,
    /// Counters (kept across restarts).
    pub stats: Arc<NodeStats>,
}

/// A running node (see the module docs).
pub struct Node {
    /// Node id.
    pub id: NodeId,
    /// Shared views of the node's peers.
    pub peers: BTreeMap<RegionId, Arc<PeerShared>>,
    raft_tx: Sender<NodeMsg>,
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    transport: Arc<ChannelTransport>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Node {
    /// Opens every peer of the node and starts its threads.
    ///
    /// # Errors
    ///
    /// Storage or Raft errors while loading a peer; thread spawn failures.
    pub fn start(p: NodeParams) -> Result<Node> {
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut peers = Vec::new();
        let mut shared = BTreeMap::new();
        for region in p.topology.regions_on(p.id) {
            let storage = PeerStorage::open(region.clone(), p.data.clone(), p.raft_log.clone())?;
            let peer = Peer::new(region.clone(), p.id, storage, &p.config, &logger)?;
            shared.insert(region.id, peer.shared.clone());
            peers.push(peer);
        }
        let (raft_tx, raft_rx) = crossbeam_channel::unbounded();
        let (pool_tx, pool_rx) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let pool_ctx = Arc::new(read_pool::PoolContext {
            node: p.id,
            engine: p.data.clone(),
            peers: shared.iter().map(|(k, v)| (*k, v.clone())).collect::<HashMap<_, _>>(),
            raft_tx: raft_tx.clone(),
            clock: p.clock,
            stats: p.stats.clone(),
            stop: stop.clone(),
            paused: paused.clone(),
        });
        let mut threads = Vec::new();
        let pool = if p.config.read_pool_threads == 0 {
            PoolHandle::Inline(pool_ctx.clone())
        } else {
            PoolHandle::Threads(pool_tx)
        };
        for i in 0..p.config.read_pool_threads {
            let (ctx, rx) = (pool_ctx.clone(), pool_rx.clone());
            let h = std::thread::Builder::new()
                .name(format!("kvlab-n{}-read{i}", p.id))
                .spawn(move || read_pool::run_pool(ctx, rx))
                .map_err(|e| Error::Unavailable(format!("spawn read pool: {e}")))?;
            threads.push(h);
        }
        let raft_loop = RaftLoop {
            stash: Vec::new(),
            node: p.id,
            peers: peers.into_iter().map(|peer| (peer.region.id, peer)).collect(),
            inbox: raft_rx,
            pool: pool.clone(),
            transport: p.raft_out.clone(),
            data: p.data.clone(),
            raft_log: p.raft_log.clone(),
            clock: p.clock,
            stats: p.stats.clone(),
            tick: p.config.tick,
            commit_delay: p.config.commit_delay,
            log_syncs: p.raft_log.syncs(&*p.data),
            fsync_ewma: Duration::ZERO,
            stop: stop.clone(),
            paused: paused.clone(),
        };
        let h = std::thread::Builder::new()
            .name(format!("kvlab-n{}-raft", p.id))
            .spawn(move || raft_loop.run())
            .map_err(|e| Error::Unavailable(format!("spawn raft thread: {e}")))?;
        threads.push(h);
        p.transport.register(p.id, Endpoint { raft: raft_tx.clone(), pool: Arc::new(pool) });
        Ok(Node { id: p.id, peers: shared, raft_tx, stop, paused, threads, transport: p.transport })
    }

    /// Sends a message to the node's Raft thread directly (admin path, no latency).
    ///
    /// # Errors
    ///
    /// `Unavailable` if the node stopped.
    pub fn send(&self, msg: NodeMsg) -> Result<()> {
        self.raft_tx.send(msg).map_err(|_| Error::Unavailable(format!("node {} stopped", self.id)))
    }

    /// The node's Raft thread inbox (admin commands from a node process's services).
    pub fn sender(&self) -> Sender<NodeMsg> {
        self.raft_tx.clone()
    }

    /// Freezes (`true`) or resumes (`false`) the node's threads.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
    }

    /// Stops the node: unregisters it from the network, ends and joins its threads.
    pub fn stop(mut self) {
        self.transport.unregister(self.id);
        self.paused.store(false, Ordering::Release);
        self.stop.store(true, Ordering::Release);
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

struct RaftLoop {
    /// Messages taken from the inbox during a round and handled at the next iteration.
    stash: Vec<NodeMsg>,
    node: NodeId,
    peers: BTreeMap<RegionId, Peer>,
    inbox: Receiver<NodeMsg>,
    pool: PoolHandle,
    transport: Arc<dyn Transport>,
    data: Arc<dyn Engine>,
    raft_log: RaftLog,
    clock: Clock,
    stats: Arc<NodeStats>,
    tick: Duration,
    commit_delay: Option<Duration>,
    /// Whether the log engine fsyncs its writes (the adaptive commit delay applies).
    log_syncs: bool,
    /// Moving average of this node's synced log write durations.
    fsync_ewma: Duration,
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
}

impl RaftLoop {
    fn run(mut self) {
        let mut next_tick = Instant::now() + self.tick;
        let mut more_work = false;
        while !self.stop.load(Ordering::Acquire) {
            if self.paused.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(2));
                next_tick = Instant::now() + self.tick;
                continue;
            }
            let wait = if more_work {
                Duration::ZERO
            } else {
                next_tick.saturating_duration_since(Instant::now())
            };
            let mut proposed = false;
            for msg in std::mem::take(&mut self.stash) {
                proposed |= self.handle(msg);
            }
            let wait = if proposed { Duration::ZERO } else { wait };
            match self.inbox.recv_timeout(wait) {
                Ok(msg) => proposed |= self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            for _ in 0..4096 {
                match self.inbox.try_recv() {
                    Ok(msg) => proposed |= self.handle(msg),
                    Err(_) => break,
                }
            }
            let delay = match self.commit_delay {
                Some(fixed) => fixed,
                None if self.log_syncs => (self.fsync_ewma / 2).min(Duration::from_millis(1)),
                None => Duration::ZERO,
            };
            if proposed && !delay.is_zero() {
                // Group commit delay: let concurrent writers join this round's log write.
                let until = Instant::now() + delay;
                while let Ok(msg) =
                    self.inbox.recv_timeout(until.saturating_duration_since(Instant::now()))
                {
                    self.handle(msg);
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                for peer in self.peers.values_mut() {
                    peer.tick();
                }
                next_tick = if now > next_tick + self.tick {
                    now + self.tick
                } else {
                    next_tick + self.tick
                };
            }
            match self.ready_round() {
                Ok(()) => more_work = self.peers.values().any(Peer::has_ready),
                Err(e) => {
                    // A failed engine write leaves the node unable to make progress: stop loudly.
                    eprintln!("kvlab node {}: storage failure, stopping: {e}", self.node);
                    break;
                }
            }
        }
        for peer in self.peers.values_mut() {
            peer.fail_all();
        }
    }

    /// Handles one message; returns whether it was a proposal.
    fn handle(&mut self, msg: NodeMsg) -> bool {
        let ctx = PeerContext {
            node: self.node,
            transport: &*self.transport,
            pool: &self.pool,
            clock: self.clock,
            stats: &self.stats,
        };
        let region = match &msg {
            NodeMsg::Raft(env) => env.region,
            NodeMsg::Propose(t) => t.region,
            NodeMsg::Read(t) => t.region,
            NodeMsg::TransferLeader(r, _) | NodeMsg::Campaign(r) => *r,
        };
        let Some(peer) = self.peers.get_mut(&region) else {
            let err = Error::Unavailable(format!("region {region} not on node {}", self.node));
            match msg {
                NodeMsg::Propose(t) => {
                    let _ = t.reply.send(Err(err));
                }
                NodeMsg::Read(t) => t.fail(err),
                _ => {}
            }
            return false;
        };
        let proposal = matches!(msg, NodeMsg::Propose(_));
        match msg {
            NodeMsg::Raft(env) => {
                NodeStats::add(&self.stats.msgs_recv, 1);
                peer.step(*env, &ctx);
            }
            NodeMsg::Propose(t) => peer.propose(t, &ctx),
            NodeMsg::Read(t) => peer.read(t, &ctx),
            NodeMsg::TransferLeader(_, to) => peer.transfer_leader(to),
            NodeMsg::Campaign(_) => peer.campaign(),
        }
        proposal
    }

    fn ready_round(&mut self) -> Result<()> {
        let ctx = PeerContext {
            node: self.node,
            transport: &*self.transport,
            pool: &self.pool,
            clock: self.clock,
            stats: &self.stats,
        };
        let mut apply = WriteTask::default();
        let mut task = WriteTask::default();
        let mut readies = Vec::new();
        for (id, peer) in self.peers.iter_mut() {
            peer.flush_reads(&ctx);
            if let Some(rd) = peer.ready_phase1(&mut apply, &mut task, &ctx)? {
                readies.push((*id, rd));
            }
        }
        if readies.is_empty() && task.is_empty() && apply.is_empty() {
            for peer in self.peers.values_mut() {
                peer.update_role(&ctx);
            }
            return Ok(());
        }
        NodeStats::add(&self.stats.ready_rounds, 1);
        if !apply.is_empty() {
            // Applied state first, unsynced (the entries are durable in the log already), and
            // its writers answered before this round's log fsync.
            write(&self.data, &self.raft_log, &self.stats, apply)?;
            for (id, _) in &readies {
                if let Some(peer) = self.peers.get_mut(id) {
                    peer.publish_applied(&ctx);
                }
            }
        }
        let (durable, started) = (task.durable, Instant::now());
        write(&self.data, &self.raft_log, &self.stats, task)?;
        if durable {
            // fsync_ewma = 7/8 · old + 1/8 · new
            self.fsync_ewma = (self.fsync_ewma * 7 + started.elapsed()) / 8;
        }
        step_early_acks(&self.inbox, &mut self.peers, &mut self.stash, &ctx);
        let mut peers: Vec<&mut Peer> = Vec::new();
        let mut rds = Vec::new();
        {
            let mut readies = readies.into_iter().peekable();
            for (id, peer) in self.peers.iter_mut() {
                if readies.peek().is_some_and(|(rid, _)| rid == id) {
                    if let Some((_, rd)) = readies.next() {
                        rds.push(rd);
                        peers.push(peer);
                    }
                }
            }
        }
        let mut task2 = WriteTask::default();
        for (peer, rd) in peers.iter_mut().zip(rds) {
            peer.ready_phase2(rd, &mut task2, &ctx)?;
        }
        write(&self.data, &self.raft_log, &self.stats, task2)?;
        for peer in peers.iter_mut() {
            peer.ready_phase3(&ctx);
        }
        // Peers without a Ready may still have changed role (ticks, steps): refresh them.
        for peer in self.peers.values_mut() {
            peer.update_role(&ctx);
        }
        Ok(())
    }
}

/// Steps the append acknowledgements that reached a leader while this round's log write
/// (its fsync) ran, before the round's `advance`: the `LightReady` then commits what they
/// acknowledge, and phase 2 applies it and answers its writers in this round instead of the
/// next one — so writers answered at the start of a round and writers answered at its end
/// join the same next fsync. Everything else waits in `stash` for the next iteration, in
/// arrival order. Only current-term `MsgAppendResponse`s to leaders qualify: they cannot
/// make a peer step down, which raft-rs forbids between `ready` and `advance`.
fn step_early_acks(
    inbox: &Receiver<NodeMsg>,
    peers: &mut BTreeMap<RegionId, Peer>,
    stash: &mut Vec<NodeMsg>,
    ctx: &PeerContext<'_>,
) {
    for _ in 0..4096 {
        let Ok(msg) = inbox.try_recv() else { break };
        match msg {
            NodeMsg::Raft(env)
                if peers.get(&env.region).is_some_and(|p| p.takes_early_ack(&env.msg)) =>
            {
                NodeStats::add(&ctx.stats.msgs_recv, 1);
                if let Some(peer) = peers.get_mut(&env.region) {
                    peer.step(*env, ctx);
                }
            }
            other => stash.push(other),
        }
    }
}

/// Writes a round's batches. With a log apart from the data engine (a second engine or
/// raft-engine) the log comes first, then the (unsynced) data batch, so the persisted log is
/// never behind the persisted applied index — except for what truncates the log: a compaction
/// flushes the data engine first (every entry it discards was applied in an earlier round), and
/// a snapshot's data batch is written and flushed *before* the log ops that truncate the log
/// it replaces, so that no crash can leave the log truncated past the durable applied index
/// (which raft-rs cannot load). A crash between the two leaves the old log behind the applied
/// snapshot, which `PeerStorage::open` repairs. With the log in the data engine, both go in
/// one batch.
fn write(
    data: &Arc<dyn Engine>,
    log: &RaftLog,
    stats: &NodeStats,
    mut task: WriteTask,
) -> Result<()> {
    if log.is_apart() && !task.log.is_empty() {
        if task.snapshot && !task.data.is_empty() {
            data.write_unsynced(std::mem::take(&mut task.data))?;
            NodeStats::add(&stats.engine_writes, 1);
            data.flush()?;
            NodeStats::add(&stats.synced_writes, 1);
        } else if task.compacted {
            data.flush()?;
            NodeStats::add(&stats.synced_writes, 1);
        }
        let ops = std::mem::take(&mut task.log);
        match log {
            RaftLog::Separate(e) => e.write(to_batch(ops, kvlab_engine::WriteBatch::new())?)?,
            RaftLog::RaftEngine(e) => {
                e.write(ops)?;
                if task.compacted || task.snapshot {
                    e.purge()?;
                }
            }
            RaftLog::Same | RaftLog::Memory => {}
        }
        NodeStats::add(&stats.engine_writes, 1);
        NodeStats::add(&stats.log_writes, 1);
        if log.syncs(&**data) {
            NodeStats::add(&stats.synced_writes, 1);
        }
    }
    let log_in_data = matches!(log, RaftLog::Same) && task.durable;
    let batch = if matches!(log, RaftLog::Same) {
        to_batch(std::mem::take(&mut task.log), task.data)?
    } else {
        task.data
    };
    if !batch.is_empty() {
        if log_in_data {
            data.write(batch)?;
            NodeStats::add(&stats.log_writes, 1);
            if data.syncs_writes() {
                NodeStats::add(&stats.synced_writes, 1);
            }
        } else {
            // Only applied state (or an unsynced data engine): rebuilt from the log on a crash.
            data.write_unsynced(batch)?;
        }
        NodeStats::add(&stats.engine_writes, 1);
    }
    Ok(())
}
