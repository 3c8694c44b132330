//! `Client`: the blocking client the harness drives, one per OS thread.
//!
//! A request is routed to the region owning its key, then to a replica chosen by the read
//! policy: the cached leader for writes and leader/lease reads; for follower, mixed and stale
//! reads a follower, any replica, or any replica, picked round-robin, at random (seeded) or by
//! zone (`closest`: a replica in the client's zone, else the leader). The request travels with
//! the emulated client→node latency; the client waits out the reply latency itself.
//!
//! Gets can also be pipelined: [`Client::submit_get`] sends a get and returns at once, and
//! [`Client::wait_get`] collects its answer later, so one client thread keeps many reads in
//! flight (a TiKV client batches up to 128 requests per store the same way). A node batches
//! the reads that wait together into one ReadIndex round, so pipelined reads measure the
//! store's read capacity, where blocking reads measure the round's latency. A pipelined get
//! retries exactly like a blocking one, within the same deadline. Puts pipeline the same way
//! ([`Client::submit_put`], [`Client::wait_write`]), with the same retry rules as `put`.
//!
//! Errors are retried until the request's deadline (`ClientConfig::timeout`): `NotLeader`
//! with a hint goes to the hinted node at once; `NotLeader` without a hint, `Unavailable` and
//! per-attempt timeouts move to the next replica after an exponential backoff (1 ms doubling
//! to 50 ms). Each attempt has its own deadline (at most two election timeouts), so one dead
//! node cannot eat the whole budget. Every answer names the node that served it and the leader
//! that node knows of, which the client caches for every policy (so follower reads keep away
//! from a new leader); a failed attempt moves the cached leader on only if it went to it.
//!
//! Writes are retried only after errors that prove the attempt changed nothing (`NotLeader`:
//! the node refused before proposing; `Unavailable`: it never got the request; a `Timeout`
//! answer: the request reached the node after its deadline and was not proposed). After an
//! attempt that got no answer in time or was proposed by a leader that then stepped down (or
//! whose index a snapshot covered), the write's outcome is unknown and the client returns
//! [`Error::Indeterminate`] instead of retrying: a retried put could be applied twice, the
//! second time after a later write to the same key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{ClientConfig, ReadPolicy, ReplicaChoice};
use crate::error::{Error, Result};
use crate::request::{
    Inbound, NodeMsg, ProposeTask, ReadOp, ReadResponse, ReadTask, ReadValue, Staleness,
};
use crate::stages::ReadStages;
use crate::topology::{NodeId, Region, RegionId, Topology};
use crate::transport::ClientTransport;
use kvlab_engine::{KvPair, WriteBatch};

/// The answer to [`Client::get`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResult {
    /// The value, if the key exists.
    pub value: Option<Vec<u8>>,
    /// The node that served the read.
    pub node: NodeId,
    /// The policy that served it (a stale read that fell back reports `Follower`).
    pub served_as: ReadPolicy,
    /// For stale reads: the serving replica's staleness.
    pub staleness: Option<Staleness>,
    /// Where the read spent its time (the wire is the residual of the caller's latency).
    pub stages: ReadStages,
}

/// The answer to a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteResult {
    /// The leader that applied the write.
    pub node: NodeId,
}

/// The answer to [`Client::scan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanResult {
    /// Pairs in key order.
    pub pairs: Vec<KvPair>,
    /// The nodes that served each region touched, in key order.
    pub nodes: Vec<NodeId>,
}

/// The answer to [`Client::batch_get`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchGetResult {
    /// Values in request order.
    pub values: Vec<Option<Vec<u8>>>,
    /// The nodes that served each region touched.
    pub nodes: Vec<NodeId>,
}

/// A write in flight: sent by [`Client::submit_put`], answered by [`Client::wait_write`].
#[derive(Debug)]
#[must_use = "a pending write is answered only by Client::wait_write"]
pub struct PendingWrite {
    region: RegionId,
    batch: WriteBatch,
    deadline: Instant,
    attempt_deadline: Instant,
    /// The node the current attempt went to.
    node: NodeId,
    outcome: Result<oneshot::Receiver<Result<NodeId>>>,
}

impl PendingWrite {
    /// Whether [`Client::wait_write`] would find its first answer at once.
    pub fn is_answered(&self) -> bool {
        match &self.outcome {
            Err(_) => true,
            Ok(rx) => rx.has_message() || rx.is_closed(),
        }
    }
}

/// A get in flight: sent by [`Client::submit_get`], answered by [`Client::wait_get`]. Its
/// first attempt's outcome arrives on `outcome`.
#[derive(Debug)]
#[must_use = "a pending get is answered only by Client::wait_get"]
pub struct PendingGet {
    key: Vec<u8>,
    /// When `submit_get` was called.
    started: Instant,
    deadline: Instant,
    attempt_deadline: Instant,
    /// When the first attempt went out, and to which node.
    sent: Instant,
    node: NodeId,
    outcome: Result<oneshot::Receiver<Result<ReadResponse>>>,
}

impl PendingGet {
    /// Whether [`Client::wait_get`] would return at once (the first attempt answered or
    /// failed): a pipelining caller collects these first.
    pub fn is_answered(&self) -> bool {
        match &self.outcome {
            Err(_) => true,
            Ok(rx) => rx.has_message() || rx.is_closed(),
        }
    }
}

/// What a client needs of the cluster: its region layout, the way to its nodes (the
/// in-process network or gRPC connections to node processes) and how long one attempt may
/// wait (at most two election timeouts, so one dead node cannot eat a request's budget).
pub(crate) struct ClientNet {
    pub(crate) topology: Arc<Topology>,
    pub(crate) transport: Arc<dyn ClientTransport>,
    pub(crate) attempt_timeout: Duration,
}

impl ClientNet {
    /// The attempt timeout for a cluster whose election timeout is `election`.
    pub(crate) fn attempt_timeout(election: Duration) -> Duration {
        (election * 2).max(Duration::from_millis(200))
    }
}

/// A blocking client (see the module docs).
pub struct Client {
    net: Arc<ClientNet>,
    config: ClientConfig,
    leaders: HashMap<RegionId, NodeId>,
    rr: usize,
    rng: ChaCha8Rng,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(net: Arc<ClientNet>, config: ClientConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        let rr = config.seed as usize;
        Self { net, config, leaders: HashMap::new(), rr, rng }
    }

    /// This client's settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Changes the read policy for subsequent reads.
    pub fn set_read_policy(&mut self, policy: ReadPolicy) {
        self.config.read_policy = policy;
    }

    /// Reads `key` under the client's read policy.
    ///
    /// # Errors
    ///
    /// `Timeout` when no replica answered within the timeout; engine errors.
    pub fn get(&mut self, key: &[u8]) -> Result<ReadResult> {
        let pending = self.submit_get(key);
        self.wait_get(pending)
    }

    /// Sends a get without waiting for its answer: a client thread may keep many reads in
    /// flight (as a TiKV client multiplexes requests over one connection) and collect them with
    /// [`Client::wait_get`], in any order. A node batches the reads that wait at the same time
    /// into one ReadIndex round, so reads in flight raise throughput where a blocking client
    /// is bound by the round's latency.
    pub fn submit_get(&mut self, key: &[u8]) -> PendingGet {
        let started = Instant::now();
        let deadline = started + self.config.timeout;
        let net = self.net.clone();
        let region = net.topology.locate(key);
        let sent = Instant::now();
        let (outcome, attempt_deadline, node) =
            self.send_read(region, ReadOp::Get(key.to_vec()), None, 0, deadline);
        PendingGet { key: key.to_vec(), started, deadline, attempt_deadline, sent, node, outcome }
    }

    /// Waits for the answer to a get sent by [`Client::submit_get`], retrying it like
    /// [`Client::get`] (within the same overall timeout) if its first attempt failed.
    ///
    /// # Errors
    ///
    /// As [`Client::get`].
    pub fn wait_get(&mut self, pending: PendingGet) -> Result<ReadResult> {
        let PendingGet { key, started, deadline, attempt_deadline, sent, node, outcome } = pending;
        let first = outcome.and_then(|rx| wait(&rx, attempt_deadline));
        let net = self.net.clone();
        let region = net.topology.locate(&key);
        let op = ReadOp::Get(key);
        let made = Attempt { node, sent, result: first };
        let resp = self.read_retrying(region, &op, None, (started, deadline), 1, Some(made))?;
        Ok(to_read_result(resp))
    }

    /// Reads `key` at one specific node, never failing over to another (for experiments and
    /// tests: "what does this replica answer?").
    ///
    /// # Errors
    ///
    /// As [`Client::get`]; `NotLeader` for leader-only policies at a follower.
    pub fn get_at(&mut self, node: NodeId, key: &[u8]) -> Result<ReadResult> {
        let net = self.net.clone();
        let region = net.topology.locate(key);
        let resp = self.read_region(region, ReadOp::Get(key.to_vec()), Some(node))?;
        Ok(to_read_result(resp))
    }

    /// Writes `value` under `key`; returns once the leader applied it.
    ///
    /// # Errors
    ///
    /// `Timeout` when no leader accepted and applied the write within the timeout.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<WriteResult> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.write_region(key, batch)
    }

    /// Deletes `key`.
    ///
    /// # Errors
    ///
    /// As [`Client::put`].
    pub fn delete(&mut self, key: &[u8]) -> Result<WriteResult> {
        let mut batch = WriteBatch::new();
        batch.delete(key);
        self.write_region(key, batch)
    }

    /// Up to `limit` pairs from `start` on, across regions, in key order.
    ///
    /// # Errors
    ///
    /// As [`Client::get`].
    pub fn scan(&mut self, start: &[u8], limit: usize) -> Result<ScanResult> {
        let mut pairs = Vec::new();
        let mut nodes = Vec::new();
        let mut region = self.net.topology.locate(start).clone();
        let mut cursor = start.to_vec();
        while pairs.len() < limit {
            let op = ReadOp::Scan {
                start: cursor.clone(),
                end: region.end.clone(),
                limit: limit - pairs.len(),
            };
            let resp = self.read_region(&region, op, None)?;
            nodes.push(resp.node);
            if let ReadValue::Pairs(mut p) = resp.value {
                pairs.append(&mut p);
            }
            if region.end.is_empty() {
                break;
            }
            cursor = region.end.clone();
            region = self.net.topology.locate(&cursor).clone();
        }
        Ok(ScanResult { pairs, nodes })
    }

    /// Reads several keys (one request per region touched).
    ///
    /// # Errors
    ///
    /// As [`Client::get`].
    pub fn batch_get(&mut self, keys: &[Vec<u8>]) -> Result<BatchGetResult> {
        let mut by_region: Vec<(Region, Vec<usize>)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let region = self.net.topology.locate(k);
            match by_region.iter_mut().find(|(r, _)| r.id == region.id) {
                Some((_, idx)) => idx.push(i),
                None => by_region.push((region.clone(), vec![i])),
            }
        }
        let mut values = vec![None; keys.len()];
        let mut nodes = Vec::new();
        for (region, idx) in by_region {
            let op = ReadOp::BatchGet(idx.iter().map(|&i| keys[i].clone()).collect());
            let resp = self.read_region(&region, op, None)?;
            nodes.push(resp.node);
            if let ReadValue::Many(vs) = resp.value {
                for (i, v) in idx.into_iter().zip(vs) {
                    values[i] = v;
                }
            }
        }
        Ok(BatchGetResult { values, nodes })
    }

    fn attempt_timeout(&self) -> Duration {
        self.net.attempt_timeout
    }

    fn leader_guess(&self, region: &Region) -> NodeId {
        self.leaders.get(&region.id).copied().unwrap_or_else(|| region.preferred_leader())
    }

    fn rotate_leader(&mut self, region: &Region) {
        let cur = self.leader_guess(region);
        let pos = region.replicas.iter().position(|&n| n == cur).unwrap_or(0);
        let next = region.replicas[(pos + 1) % region.replicas.len()];
        self.leaders.insert(region.id, next);
    }

    fn choose(&mut self, candidates: &[NodeId]) -> NodeId {
        self.rr = self.rr.wrapping_add(1);
        match self.config.replica_choice {
            ReplicaChoice::Random => candidates[self.rng.gen_range(0..candidates.len())],
            _ => candidates[self.rr % candidates.len()],
        }
    }

    fn pick(&mut self, region: &Region, attempt: u32) -> NodeId {
        let leader = self.leader_guess(region);
        let policy = self.config.read_policy;
        if matches!(policy, ReadPolicy::Leader | ReadPolicy::Lease) {
            return leader;
        }
        let zone = self.config.zone;
        let transport = &self.net.transport;
        let mut candidates: Vec<NodeId> = match policy {
            ReadPolicy::Follower => {
                region.replicas.iter().copied().filter(|&n| n != leader).collect()
            }
            _ => region.replicas.clone(),
        };
        if self.config.replica_choice == ReplicaChoice::Closest && attempt == 0 {
            candidates.retain(|&n| transport.zone_of(n) == zone);
            if candidates.is_empty() {
                return leader;
            }
        }
        if candidates.is_empty() {
            return leader;
        }
        self.choose(&candidates)
    }

    fn read_region(
        &mut self,
        region: &Region,
        op: ReadOp,
        fixed: Option<NodeId>,
    ) -> Result<ReadResponse> {
        let started = Instant::now();
        let deadline = started + self.config.timeout;
        self.read_retrying(region, &op, fixed, (started, deadline), 0, None)
    }

    /// Sends one attempt of a read; returns where its answer will arrive (or why it could not
    /// be sent), the attempt's deadline and the node it went to.
    fn send_read(
        &mut self,
        region: &Region,
        op: ReadOp,
        fixed: Option<NodeId>,
        attempt: u32,
        deadline: Instant,
    ) -> (Result<oneshot::Receiver<Result<ReadResponse>>>, Instant, NodeId) {
        let policy = self.config.read_policy;
        let node = fixed.unwrap_or_else(|| self.pick(region, attempt));
        let attempt_deadline = deadline.min(Instant::now() + self.attempt_timeout());
        let (tx, rx) = oneshot::channel();
        let task = ReadTask {
            region: region.id,
            op,
            policy,
            max_staleness: self.config.max_staleness,
            deadline: attempt_deadline,
            ready: false,
            fell_back: false,
            timing: Default::default(),
            reply: tx,
        };
        let sent = self.net.transport.send_request(self.config.zone, node, task.inbound());
        (sent.map(|()| rx), attempt_deadline, node)
    }

    /// Updates the leader cache from an answer: the serving node for leader-only policies,
    /// else the leader the serving replica knows of.
    fn learn_leader(&mut self, region: RegionId, resp: &ReadResponse) {
        if matches!(self.config.read_policy, ReadPolicy::Leader | ReadPolicy::Lease) {
            self.leaders.insert(region, resp.node);
        } else if let Some(leader) = resp.leader {
            self.leaders.insert(region, leader);
        }
    }

    /// The read retry loop (see the module docs), for a read that began at `started` and must
    /// end by `deadline`. `first` is an attempt already made, `attempt` the number of attempts
    /// made so far.
    fn read_retrying(
        &mut self,
        region: &Region,
        op: &ReadOp,
        fixed: Option<NodeId>,
        (started, deadline): (Instant, Instant),
        mut attempt: u32,
        mut first: Option<Attempt>,
    ) -> Result<ReadResponse> {
        let mut backoff = Duration::from_millis(1);
        let policy = self.config.read_policy;
        loop {
            let Attempt { node, sent, result } = match first.take() {
                Some(made) => made,
                None => {
                    if Instant::now() >= deadline {
                        let region = region.id;
                        return Err(Error::Timeout(format!("read in region {region} ({policy})")));
                    }
                    let sent = Instant::now();
                    let (rx, attempt_deadline, node) =
                        self.send_read(region, op.clone(), fixed, attempt, deadline);
                    attempt += 1;
                    Attempt { node, sent, result: rx.and_then(|rx| wait(&rx, attempt_deadline)) }
                }
            };
            match result {
                Ok(mut resp) => {
                    self.wait_reply_latency(resp.node, resp.sent_at);
                    self.learn_leader(region.id, &resp);
                    resp.stages.client = sent.saturating_duration_since(started);
                    return Ok(resp);
                }
                Err(e @ Error::NotLeader { .. }) if fixed.is_some() => return Err(e),
                Err(e) => self.on_error(region, node, e, &mut backoff, deadline)?,
            }
        }
    }

    fn write_region(&mut self, key: &[u8], batch: WriteBatch) -> Result<WriteResult> {
        let pending = self.submit_write(key, batch);
        self.wait_write(pending)
    }

    /// Sends a put without waiting for its answer; [`Client::wait_write`] collects it (and
    /// retries it, if its first attempt failed definitely). Several writes may be in flight.
    pub fn submit_put(&mut self, key: &[u8], value: &[u8]) -> PendingWrite {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.submit_write(key, batch)
    }

    fn submit_write(&mut self, key: &[u8], batch: WriteBatch) -> PendingWrite {
        let deadline = Instant::now() + self.config.timeout;
        let net = self.net.clone();
        let region = net.topology.locate(key);
        let (outcome, attempt_deadline, node) = self.send_write(region, &batch, deadline);
        PendingWrite { region: region.id, batch, deadline, attempt_deadline, node, outcome }
    }

    /// Sends one attempt of a write to the cached leader: where its answer will arrive (or why
    /// it could not be sent), the attempt's deadline and the node.
    fn send_write(
        &mut self,
        region: &Region,
        batch: &WriteBatch,
        deadline: Instant,
    ) -> (Result<oneshot::Receiver<Result<NodeId>>>, Instant, NodeId) {
        let node = self.leader_guess(region);
        let attempt_deadline = deadline.min(Instant::now() + self.attempt_timeout());
        let (tx, rx) = oneshot::channel();
        let task = ProposeTask {
            region: region.id,
            batch: batch.clone(),
            deadline: attempt_deadline,
            reply: tx,
        };
        let sent = self.net.transport.send_request(
            self.config.zone,
            node,
            Inbound::Raft(NodeMsg::Propose(task)),
        );
        (sent.map(|()| rx), attempt_deadline, node)
    }

    /// Waits for the answer to a write sent by [`Client::submit_put`], retrying it while
    /// every attempt failed definitely, within its timeout.
    ///
    /// # Errors
    ///
    /// As [`Client::put`].
    pub fn wait_write(&mut self, pending: PendingWrite) -> Result<WriteResult> {
        let PendingWrite { region, batch, deadline, mut attempt_deadline, mut node, mut outcome } =
            pending;
        let net = self.net.clone();
        let Some(region) = net.topology.region(region) else {
            return Err(Error::Unavailable(format!("no region {region}")));
        };
        let mut backoff = Duration::from_millis(1);
        loop {
            let answer = match outcome {
                Ok(rx) => wait_answer(&rx, attempt_deadline),
                Err(e) => Some(Err(e)),
            };
            match write_step(answer) {
                WriteStep::Done(node) => {
                    self.wait_reply_latency(node, Instant::now());
                    self.leaders.insert(region.id, node);
                    return Ok(WriteResult { node });
                }
                WriteStep::Unknown(e @ Error::Indeterminate(_)) => return Err(e),
                WriteStep::Unknown(e) => {
                    return Err(Error::Indeterminate(format!(
                        "write in region {} to node {node}: {e}",
                        region.id
                    )))
                }
                WriteStep::Retry(e) => self.on_error(region, node, e, &mut backoff, deadline)?,
            }
            if Instant::now() >= deadline {
                // Every attempt so far failed definitely: nothing was written.
                return Err(Error::Timeout(format!("write in region {}", region.id)));
            }
            (outcome, attempt_deadline, node) = self.send_write(region, &batch, deadline);
        }
    }

    /// Handles a failed attempt at `contacted`: follows a leader hint at once, otherwise backs
    /// off and moves on — rotating the leader cache only when the attempt went to the cached
    /// leader (a follower read that timed out says nothing about the leader).
    fn on_error(
        &mut self,
        region: &Region,
        contacted: NodeId,
        err: Error,
        backoff: &mut Duration,
        deadline: Instant,
    ) -> Result<()> {
        match err {
            Error::NotLeader { leader: Some(l), .. }
                if self.leaders.get(&region.id) != Some(&l) =>
            {
                self.leaders.insert(region.id, l);
                Ok(())
            }
            Error::NotLeader { .. } | Error::Unavailable(_) | Error::Timeout(_) => {
                if contacted == self.leader_guess(region) {
                    self.rotate_leader(region);
                }
                let sleep = (*backoff).min(deadline.saturating_duration_since(Instant::now()));
                std::thread::sleep(sleep);
                *backoff = (*backoff * 2).min(Duration::from_millis(50));
                Ok(())
            }
            other => Err(other),
        }
    }

    fn wait_reply_latency(&self, node: NodeId, sent_at: Instant) {
        let t = &self.net.transport;
        let lat = t.reply_latency(t.zone_of(node), self.config.zone);
        if lat.is_zero() {
            return;
        }
        let until = sent_at + lat;
        let now = Instant::now();
        if until > now {
            std::thread::sleep(until - now);
        }
    }
}

/// One attempt of a read: where and when it went, and its outcome.
struct Attempt {
    node: NodeId,
    sent: Instant,
    result: Result<ReadResponse>,
}

/// What one write attempt's answer means (see the module docs).
#[derive(Debug, PartialEq, Eq)]
enum WriteStep {
    /// Applied by this leader.
    Done(NodeId),
    /// May or may not have been applied: reported, never retried.
    Unknown(Error),
    /// Certainly not applied: the client may try again.
    Retry(Error),
}

/// Classifies a write attempt's answer; `None` is no answer in time.
fn write_step(answer: Option<Result<NodeId>>) -> WriteStep {
    match answer {
        None => WriteStep::Unknown(Error::Timeout("no answer in time".into())),
        Some(Ok(node)) => WriteStep::Done(node),
        Some(Err(Error::Indeterminate(e))) => WriteStep::Unknown(Error::Indeterminate(e)),
        // Every other error a node answers is definite; a `Timeout` answer means the request
        // reached the node after its deadline and was not proposed.
        Some(Err(e)) => WriteStep::Retry(e),
    }
}

/// How often a waiting client yields its thread before it parks (see [`wait`]).
const REPLY_YIELDS: u32 = 8;

/// Waits for an answer until `deadline` (a little past it, for the node's own deadline check
/// to answer first); `None` when none came.
fn wait_answer<T>(rx: &oneshot::Receiver<Result<T>>, deadline: Instant) -> Option<Result<T>> {
    // Yield a few times before parking: on a machine with more threads than cores the answer
    // usually comes from a thread that only needs the CPU, and a parked client costs its node
    // a futex wake (an inter-processor interrupt) per answer. Pipelined readers gained about
    // a quarter in throughput from this (`benches/replicated.rs`).
    for _ in 0..REPLY_YIELDS {
        if rx.has_message() || rx.is_closed() {
            break;
        }
        std::thread::yield_now();
    }
    rx.recv_deadline(deadline + Duration::from_millis(5)).ok()
}

/// [`wait_answer`], with no answer as a `Timeout`.
fn wait<T>(rx: &oneshot::Receiver<Result<T>>, deadline: Instant) -> Result<T> {
    wait_answer(rx, deadline).unwrap_or_else(|| Err(Error::Timeout("no answer from node".into())))
}

fn to_read_result(resp: ReadResponse) -> ReadResult {
    let value = match resp.value {
        ReadValue::One(v) => v,
        _ => None,
    };
    ReadResult {
        value,
        node: resp.node,
        served_as: resp.served_as,
        staleness: resp.staleness,
        stages: resp.stages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, item 6: a node's `Timeout` answer (the request arrived after its deadline, so
    /// nothing was proposed) is definite; only silence or `Indeterminate` leaves the outcome open.
    #[test]
    fn write_answers_are_classified() {
        let timeout = || Error::Timeout("proposal arrived after its deadline".into());
        let not_leader = Error::NotLeader { region: 1, leader: Some(2) };
        let cases = [
            (None, "unknown"),
            (Some(Ok(3)), "done"),
            (Some(Err(Error::Indeterminate("stepped down".into()))), "unknown"),
            (Some(Err(timeout())), "retry"),
            (Some(Err(not_leader)), "retry"),
            (Some(Err(Error::Unavailable("node 1 is down".into()))), "retry"),
        ];
        for (answer, want) in cases {
            let shown = format!("{answer:?}");
            let got = match write_step(answer) {
                WriteStep::Done(_) => "done",
                WriteStep::Unknown(_) => "unknown",
                WriteStep::Retry(_) => "retry",
            };
            assert_eq!(got, want, "{shown}");
        }
    }
}
