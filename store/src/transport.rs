//! Message transport between nodes (and from clients to nodes), with network emulation and
//! fault injection.
//!
//! Nodes send Raft messages through the [`Transport`] trait: this in-process network, or gRPC
//! across node processes (`grpc::RaftTransport`); clients send requests through
//! [`ClientTransport`]. Both carry the node's own message types (`crate::request`).
//! [`ChannelTransport`] delivers through crossbeam channels and emulates a network:
//!
//! * every node and client sits in a zone; a message from zone `a` to zone `b` is delivered
//!   after [`LatencyModel::between`]`(a, b)` plus a seeded uniform jitter. Delayed messages wait
//!   in one timer thread (a min-heap on delivery time); with all latencies zero messages are
//!   delivered inline, on the sender's thread;
//! * fault hooks drop directed links (a partition is a set of dropped links) and heal them;
//!   a link is checked when a message is sent and again when it is delivered, so a partition
//!   also catches messages in flight. Stopped nodes are simply unregistered: messages to them
//!   are dropped and client requests fail with `Unavailable`.
//!
//! Replies to clients travel over per-request channels; the client itself waits out the
//! reply's one-way latency ([`ChannelTransport::latency`]), which keeps the timer thread off the
//! reply path. The timer thread never runs a read: a request for a node's inline read pool
//! (`read_pool_threads = 0`) waits out its latency on the client's thread and runs there.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Mutex, RwLock};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::LatencyModel;
use crate::error::{Error, Result};
use crate::request::{Inbound, NodeMsg, RaftEnvelope, ReadQueue};
use crate::topology::{NodeId, ZoneId};

/// Sends Raft messages between nodes. Delivery is best effort: messages may be delayed,
/// reordered or dropped, which Raft tolerates.
pub trait Transport: Send + Sync {
    /// Sends one message; never blocks on the receiver.
    fn send(&self, env: RaftEnvelope);
}

/// Carries client requests to nodes: the in-process network ([`ChannelTransportHandle`]) or
/// gRPC connections to node processes (`grpc::KvTransport`). A request carries its own
/// answer channel; the transport delivers the answer there (or drops it, and the client times
/// out).
pub trait ClientTransport: Send + Sync {
    /// Sends a request from a client in `zone` to `node`.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the node is known to be down.
    fn send_request(&self, zone: ZoneId, node: NodeId, msg: Inbound) -> Result<()>;
    /// The zone of `node`.
    fn zone_of(&self, node: NodeId) -> ZoneId;
    /// The emulated one-way delay of an answer from zone `from` to zone `to`, which the client
    /// waits out itself (zero over a real network).
    fn reply_latency(&self, _from: ZoneId, _to: ZoneId) -> Duration {
        Duration::ZERO
    }
}

/// Where a node receives messages: its Raft thread and its read pool.
#[derive(Clone)]
pub struct Endpoint {
    /// The Raft/Ready thread's inbox.
    pub raft: Sender<NodeMsg>,
    /// The read pool.
    pub pool: Arc<dyn ReadQueue>,
}

type Job = Box<dyn FnOnce() + Send>;

struct Delayed {
    at: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The in-process transport with network emulation and fault hooks (see the module docs).
pub struct ChannelTransport {
    zones: Vec<ZoneId>,
    latency: LatencyModel,
    rng: Mutex<ChaCha8Rng>,
    dropped: RwLock<HashSet<(NodeId, NodeId)>>,
    endpoints: RwLock<HashMap<NodeId, Endpoint>>,
    timer: Mutex<Option<(Sender<Delayed>, JoinHandle<()>)>>,
    seq: Mutex<u64>,
    stopped: Arc<AtomicBool>,
    extra_ns: AtomicU64,
}

impl std::fmt::Debug for ChannelTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelTransport").field("zones", &self.zones).finish_non_exhaustive()
    }
}

impl ChannelTransport {
    /// A transport for nodes `1..=zones.len()`, node `i` in zone `zones[i-1]`.
    pub fn new(zones: Vec<ZoneId>, latency: LatencyModel, seed: u64) -> Arc<Self> {
        let stopped = Arc::new(AtomicBool::new(false));
        // The timer thread also serves latency spikes, so it exists even with zero latency
        // (it sleeps on an empty heap).
        let timer = {
            let (tx, rx) = crossbeam_channel::unbounded();
            let stop = stopped.clone();
            let handle = std::thread::Builder::new()
                .name("kvlab-net-timer".into())
                .spawn(move || run_timer(rx, stop))
                .ok();
            handle.map(|h| (tx, h))
        };
        Arc::new(Self {
            zones,
            latency,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            dropped: RwLock::new(HashSet::new()),
            endpoints: RwLock::new(HashMap::new()),
            timer: Mutex::new(timer),
            seq: Mutex::new(0),
            stopped,
            extra_ns: AtomicU64::new(0),
        })
    }

    /// The zone of `node`.
    pub fn zone_of(&self, node: NodeId) -> ZoneId {
        self.zones.get((node as usize).wrapping_sub(1)).copied().unwrap_or(0)
    }

    /// One-way delay from zone `a` to zone `b`, jitter included.
    pub fn latency(&self, a: ZoneId, b: ZoneId) -> Duration {
        let base = self.latency.between(a, b);
        if self.latency.jitter.is_zero() {
            return base;
        }
        let nanos = self.latency.jitter.as_nanos() as u64;
        base + Duration::from_nanos(self.rng.lock().gen_range(0..nanos))
    }

    /// Registers a (re)started node's endpoint.
    pub fn register(&self, node: NodeId, endpoint: Endpoint) {
        self.endpoints.write().insert(node, endpoint);
    }

    /// Unregisters a stopped node: messages to it are dropped from now on.
    pub fn unregister(&self, node: NodeId) {
        self.endpoints.write().remove(&node);
    }

    /// Drops every message from `from` to `to` (one direction) until [`Self::heal`].
    pub fn drop_link(&self, from: NodeId, to: NodeId) {
        self.dropped.write().insert((from, to));
    }

    /// Restores every dropped link.
    pub fn heal(&self) {
        self.dropped.write().clear();
    }

    /// Adds `extra` to the one-way delay of every message between nodes (a latency spike);
    /// `Duration::ZERO` ends it.
    pub fn set_extra_latency(&self, extra: Duration) {
        self.extra_ns.store(extra.as_nanos() as u64, Ordering::Release);
    }

    pub(crate) fn link_up(&self, from: NodeId, to: NodeId) -> bool {
        !self.dropped.read().contains(&(from, to))
    }

    fn deliver_to(&self, to: NodeId, msg: Inbound) -> Result<()> {
        let endpoints = self.endpoints.read();
        let Some(ep) = endpoints.get(&to) else {
            return Err(Error::Unavailable(format!("node {to} is down")));
        };
        let sent = match msg {
            Inbound::Raft(NodeMsg::Read(mut t)) => {
                t.timing.arrived = Some(Instant::now());
                ep.raft.send(NodeMsg::Read(t)).is_ok()
            }
            Inbound::Raft(m) => ep.raft.send(m).is_ok(),
            Inbound::Pool(mut t) => {
                t.timing.arrived = Some(Instant::now());
                // An inline pool runs the read on this thread: release the lock first.
                let pool = ep.pool.clone();
                drop(endpoints);
                pool.submit(t).is_ok()
            }
        };
        if sent {
            Ok(())
        } else {
            Err(Error::Unavailable(format!("node {to} is shutting down")))
        }
    }

    fn schedule(self: &Arc<Self>, delay: Duration, job: Job) -> bool {
        let timer = self.timer.lock().as_ref().map(|(tx, _)| tx.clone());
        match timer {
            Some(tx) if !delay.is_zero() => {
                let seq = {
                    let mut s = self.seq.lock();
                    *s += 1;
                    *s
                };
                tx.send(Delayed { at: Instant::now() + delay, seq, job }).is_ok()
            }
            _ => {
                job();
                true
            }
        }
    }

    /// Sends a client request from `zone` to `node`, after the emulated latency.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the node is down (known at once, as a refused connection would be).
    pub fn send_request(self: &Arc<Self>, zone: ZoneId, node: NodeId, msg: Inbound) -> Result<()> {
        let delay = self.latency(zone, self.zone_of(node));
        if delay.is_zero() || self.timer.lock().is_none() {
            return self.deliver_to(node, msg);
        }
        let inline_pool = match self.endpoints.read().get(&node) {
            None => return Err(Error::Unavailable(format!("node {node} is down"))),
            Some(ep) => ep.pool.is_inline(),
        };
        if inline_pool && matches!(msg, Inbound::Pool(_)) {
            // A read for an inline pool runs on the thread that delivers it, so it must not be
            // the timer thread: every Raft message would wait behind it (and behind a paused
            // node's wait). The caller waits out the latency and runs it itself.
            std::thread::sleep(delay);
            return self.deliver_to(node, msg);
        }
        let this = self.clone();
        self.schedule(
            delay,
            Box::new(move || {
                // A request to a node that went down in flight is lost; the client times out.
                let _ = this.deliver_to(node, msg);
            }),
        );
        Ok(())
    }

    /// Sends a Raft message between nodes (the [`Transport`] implementation, on an `Arc`).
    pub fn send_raft(self: &Arc<Self>, env: RaftEnvelope) {
        if !self.link_up(env.from, env.to) {
            return;
        }
        let delay = self.latency(self.zone_of(env.from), self.zone_of(env.to))
            + Duration::from_nanos(self.extra_ns.load(Ordering::Acquire));
        let this = self.clone();
        self.schedule(
            delay,
            Box::new(move || {
                if this.link_up(env.from, env.to) {
                    let to = env.to;
                    let _ = this.deliver_to(to, Inbound::Raft(NodeMsg::Raft(Box::new(env))));
                }
            }),
        );
    }

    /// Stops the timer thread; messages still waiting in it are dropped.
    pub fn shutdown(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let timer = self.timer.lock().take();
        if let Some((tx, handle)) = timer {
            drop(tx);
            let _ = handle.join();
        }
        self.endpoints.write().clear();
    }
}

/// A [`Transport`] handle over a shared [`ChannelTransport`].
#[derive(Clone, Debug)]
pub struct ChannelTransportHandle(pub Arc<ChannelTransport>);

impl Transport for ChannelTransportHandle {
    fn send(&self, env: RaftEnvelope) {
        self.0.send_raft(env);
    }
}

impl ClientTransport for ChannelTransportHandle {
    fn send_request(&self, zone: ZoneId, node: NodeId, msg: Inbound) -> Result<()> {
        self.0.send_request(zone, node, msg)
    }
    fn zone_of(&self, node: NodeId) -> ZoneId {
        self.0.zone_of(node)
    }
    fn reply_latency(&self, from: ZoneId, to: ZoneId) -> Duration {
        self.0.latency(from, to)
    }
}

fn run_timer(rx: Receiver<Delayed>, stop: Arc<AtomicBool>) {
    let mut heap: BinaryHeap<Reverse<Delayed>> = BinaryHeap::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|d| d.0.at <= now) {
            if let Some(Reverse(d)) = heap.pop() {
                (d.job)();
            }
        }
        let wait = heap
            .peek()
            .map(|d| d.0.at.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(50));
        match rx.recv_timeout(wait) {
            Ok(d) => heap.push(Reverse(d)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while let Ok(d) = rx.try_recv() {
            heap.push(Reverse(d));
        }
    }
}
