//! Deterministic tests of the node's Ready loop: no threads, the test pumps each node's loop
//! by hand and crafts or routes its Raft messages, so a scenario happens in exactly the round
//! it needs.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use raft::prelude::{ConfState, Entry, Message, MessageType, Snapshot};

use super::*;
use crate::config::{LatencyModel, ReadPolicy};
use crate::keys;
use crate::raftstore::PeerStorage;
use crate::request::{ProposeTask, RaftEnvelope, ReadOp, ReadQueue, ReadResponse, ReadTask};
use crate::transport::{ChannelTransport, ChannelTransportHandle, Endpoint};
use kvlab_engine::{EngineSnapshot, KeyRange, Keyspace, KvPair, MemoryEngine, WriteBatch};

/// One node's Ready loop, pumped by the test.
struct TestNode {
    raft: RaftLoop,
    tx: Sender<NodeMsg>,
    /// Reads handed to the (thread) pool: the test serves or inspects them.
    pool_rx: Receiver<ReadTask>,
}

impl TestNode {
    /// One loop iteration without ticks: every message in the inbox, then a Ready round.
    fn pump(&mut self) {
        for msg in std::mem::take(&mut self.raft.stash) {
            self.raft.handle(msg);
        }
        while let Ok(msg) = self.raft.inbox.try_recv() {
            self.raft.handle(msg);
        }
        self.raft.ready_round().unwrap();
    }

    fn tick(&mut self) {
        for peer in self.raft.peers.values_mut() {
            peer.tick();
        }
    }

    fn shared(&self, region: RegionId) -> Arc<PeerShared> {
        self.raft.peers[&region].shared.clone()
    }

    fn send(&self, msg: NodeMsg) {
        self.tx.send(msg).unwrap();
    }

    /// Delivers a crafted Raft message to this node's inbox.
    fn deliver(&self, region: RegionId, msg: Message) {
        let env = RaftEnvelope {
            region,
            from: msg.from,
            to: msg.to,
            msg,
            sent_at: Instant::now(),
            leader_commit: None,
        };
        self.send(NodeMsg::Raft(Box::new(env)));
    }
}

/// Nodes of a cluster over the in-process transport with zero latency (messages land in the
/// receiving node's inbox at once and wait there until the test pumps that node).
struct TestNet {
    transport: Arc<ChannelTransport>,
    nodes: BTreeMap<NodeId, TestNode>,
}

impl TestNet {
    /// Nodes `ids` of a cluster configured by `cfg`; `engine(id)` gives each its data engine.
    fn new(cfg: ClusterConfig, ids: &[NodeId], engine: impl Fn(NodeId) -> Arc<dyn Engine>) -> Self {
        let cfg = Arc::new(cfg);
        let topology = Topology::new(cfg.nodes, &cfg.splits(), cfg.replicas).unwrap();
        let transport = ChannelTransport::new(vec![0; cfg.nodes], LatencyModel::default(), 1);
        let clock = Clock::new();
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut nodes = BTreeMap::new();
        for &id in ids {
            let data = engine(id);
            let mut peers = BTreeMap::new();
            for region in topology.regions_on(id) {
                let storage = PeerStorage::open(
                    region.clone(),
                    data.clone(),
                    crate::raftstore::RaftLog::Same,
                )
                .unwrap();
                let peer = Peer::new(region.clone(), id, storage, &cfg, &logger).unwrap();
                peers.insert(region.id, peer);
            }
            let (tx, inbox) = crossbeam_channel::unbounded();
            let (pool_tx, pool_rx) = crossbeam_channel::unbounded();
            let pool = PoolHandle::Threads(pool_tx);
            transport.register(id, Endpoint { raft: tx.clone(), pool: Arc::new(pool.clone()) });
            let raft = RaftLoop {
                stash: Vec::new(),
                node: id,
                peers,
                inbox,
                pool,
                transport: Arc::new(ChannelTransportHandle(transport.clone())),
                data: data.clone(),
                raft_log: crate::raftstore::RaftLog::Same,
                clock,
                stats: Arc::new(NodeStats::default()),
                tick: cfg.tick,
                commit_delay: Some(Duration::ZERO),
                log_syncs: false,
                fsync_ewma: Duration::ZERO,
                stop: Arc::new(AtomicBool::new(false)),
                paused: Arc::new(AtomicBool::new(false)),
            };
            nodes.insert(id, TestNode { raft, tx, pool_rx });
        }
        Self { transport, nodes }
    }

    fn node(&mut self, id: NodeId) -> &mut TestNode {
        self.nodes.get_mut(&id).unwrap()
    }

    /// Pumps every node `rounds` times.
    fn pump_all(&mut self, rounds: usize) {
        for _ in 0..rounds {
            for node in self.nodes.values_mut() {
                node.pump();
            }
        }
    }

    /// Makes `leader` the leader of `region` and waits until it applied an entry of its term.
    fn elect(&mut self, leader: NodeId, region: RegionId) {
        self.node(leader).send(NodeMsg::Campaign(region));
        for _ in 0..50 {
            self.pump_all(1);
            let s = self.node(leader).shared(region);
            let term = s.term.load(Ordering::Acquire);
            if s.is_leader.load(Ordering::Acquire) && s.applied_term.load(Ordering::Acquire) == term
            {
                return;
            }
        }
        panic!("node {leader} did not become leader of region {region}");
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        self.transport.shutdown();
    }
}

fn config(regions: usize) -> ClusterConfig {
    // Long ticks: nothing in these tests depends on time passing except where a test says so.
    ClusterConfig { regions, tick: Duration::from_millis(100), ..ClusterConfig::default() }
}

fn memory(_: NodeId) -> Arc<dyn Engine> {
    Arc::new(MemoryEngine::with_keyspaces(&[keys::RAFT]))
}

fn put_entry(index: u64, term: u64, key: &[u8], value: &[u8]) -> Entry {
    let mut batch = WriteBatch::new();
    batch.put(key, value);
    Entry { index, term, data: keys::encode_command(&batch).into(), ..Default::default() }
}

fn message(ty: MessageType, from: NodeId, to: NodeId, term: u64) -> Message {
    let mut m = Message::default();
    m.set_msg_type(ty);
    (m.from, m.to, m.term) = (from, to, term);
    m
}

/// A snapshot of `pairs` (user keys) at (index, term) for voters 1, 2, 3.
fn snapshot(index: u64, term: u64, pairs: &[(&[u8], &[u8])]) -> Snapshot {
    let pairs: Vec<KvPair> = pairs.iter().map(|(k, v)| (keys::data_key(k), v.to_vec())).collect();
    let mut snap = Snapshot { data: keys::encode_pairs(&pairs).into(), ..Default::default() };
    let meta = snap.mut_metadata();
    (meta.index, meta.term) = (index, term);
    meta.set_conf_state(ConfState { voters: vec![1, 2, 3], ..Default::default() });
    snap
}

fn read_task(region: RegionId, policy: ReadPolicy, timeout: Duration) -> ReadReceiver {
    let (reply, rx) = oneshot::channel();
    let task = ReadTask {
        region,
        op: ReadOp::Get(b"k".to_vec()),
        policy,
        max_staleness: None,
        deadline: Instant::now() + timeout,
        ready: false,
        fell_back: false,
        timing: Default::default(),
        reply,
    };
    (task, rx)
}

type ReadReceiver = (ReadTask, oneshot::Receiver<Result<ReadResponse>>);

/// An engine that records, at every write that carries a given region's apply state, what that
/// region's peer had published as applied at that moment.
#[derive(Debug)]
struct Observed {
    inner: MemoryEngine,
    region: RegionId,
    shared: Mutex<Option<Arc<PeerShared>>>,
    /// (applied index in the batch, published applied index when it was written).
    seen: Mutex<Vec<(u64, u64)>>,
}

impl Observed {
    fn observe(&self, batch: &WriteBatch) {
        let key = keys::apply_state_key(self.region);
        let Some(shared) = self.shared.lock().clone() else { return };
        for op in &batch.ops {
            if let kvlab_engine::WriteOp::Put { key: k, value, .. } = op {
                if *k == key {
                    let (index, _) = keys::decode_index_term(value).unwrap();
                    self.seen.lock().push((index, shared.applied()));
                }
            }
        }
    }
}

impl Engine for Observed {
    fn name(&self) -> &'static str {
        "observed"
    }
    fn get_in(&self, keyspace: Keyspace, key: &[u8]) -> kvlab_engine::Result<Option<Vec<u8>>> {
        self.inner.get_in(keyspace, key)
    }
    fn write(&self, batch: WriteBatch) -> kvlab_engine::Result<()> {
        self.observe(&batch);
        self.inner.write(batch)
    }
    fn write_unsynced(&self, batch: WriteBatch) -> kvlab_engine::Result<()> {
        self.observe(&batch);
        self.inner.write_unsynced(batch)
    }
    fn scan_in(
        &self,
        keyspace: Keyspace,
        range: &KeyRange,
        limit: usize,
    ) -> kvlab_engine::Result<Vec<KvPair>> {
        self.inner.scan_in(keyspace, range, limit)
    }
    fn snapshot(&self) -> Box<dyn EngineSnapshot + '_> {
        self.inner.snapshot()
    }
    fn flush(&self) -> kvlab_engine::Result<()> {
        self.inner.flush()
    }
    fn stats(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}

/// Issue 14, item 1: in a round where region 1 applies entries (the apply batch) and region 2
/// installs a snapshot (the log batch), region 2's applied index must not be published before
/// the log batch holding the snapshot's data is written.
#[test]
fn a_snapshot_is_published_only_after_its_data_is_written() {
    let observed = Arc::new(Observed {
        inner: MemoryEngine::with_keyspaces(&[keys::RAFT]),
        region: 2,
        shared: Mutex::new(None),
        seen: Mutex::new(Vec::new()),
    });
    let engine = observed.clone();
    // Node 3 alone, as a follower of regions 1 and 2 led by node 1, whose messages are crafted.
    let mut net = TestNet::new(config(2), &[3], move |_| engine.clone());
    *observed.shared.lock() = Some(net.node(3).shared(2));
    let n3 = net.node(3);

    // Region 1: one entry, persisted but not yet known to be committed.
    let mut append = message(MessageType::MsgAppend, 1, 3, 1);
    append.set_entries(vec![put_entry(1, 1, b"a", b"1")].into());
    n3.deliver(1, append);
    n3.pump();
    assert_eq!(n3.shared(1).applied(), 0);

    // One round: region 1 learns the commit (applies in the apply batch), region 2 gets a
    // snapshot at index 10.
    let mut heartbeat = message(MessageType::MsgHeartbeat, 1, 3, 1);
    heartbeat.commit = 1;
    n3.deliver(1, heartbeat);
    let mut snap = message(MessageType::MsgSnapshot, 1, 3, 1);
    snap.set_snapshot(snapshot(10, 1, &[(b"zzz", b"snap")]));
    n3.deliver(2, snap);
    n3.pump();

    assert_eq!(n3.shared(1).applied(), 1, "region 1 applied its entry");
    assert_eq!(n3.shared(2).applied(), 10, "region 2 installed the snapshot");
    let seen = observed.seen.lock().clone();
    let at_snapshot: Vec<_> = seen.iter().filter(|(index, _)| *index == 10).collect();
    assert_eq!(at_snapshot.len(), 1, "{seen:?}");
    assert!(
        at_snapshot[0].1 < 10,
        "region 2 published applied = {} before the snapshot's data was written",
        at_snapshot[0].1
    );
}

/// Issue 14, item 3: a proposal whose index a snapshot covers may have committed: its writer
/// must hear `Indeterminate`, never `NotLeader` (which the client retries).
#[test]
fn b_a_proposal_covered_by_a_snapshot_is_indeterminate() {
    let mut net = TestNet::new(config(1), &[1], memory);
    let n1 = net.node(1);
    // Node 1 wins an election with node 2's (crafted) votes.
    n1.send(NodeMsg::Campaign(1));
    n1.pump();
    let mut pre_vote = message(MessageType::MsgRequestPreVoteResponse, 2, 1, 1);
    pre_vote.reject = false;
    n1.deliver(1, pre_vote);
    n1.pump();
    n1.deliver(1, message(MessageType::MsgRequestVoteResponse, 2, 1, 1));
    n1.pump();
    assert!(n1.shared(1).is_leader.load(Ordering::Acquire));

    let mut batch = WriteBatch::new();
    batch.put(b"k".to_vec(), b"v".to_vec());
    let (reply, answer) = oneshot::channel();
    let deadline = Instant::now() + Duration::from_secs(10);
    n1.send(NodeMsg::Propose(ProposeTask { region: 1, batch, deadline, reply }));
    n1.pump();
    assert!(answer.try_recv().is_err(), "the proposal is not answered yet");

    // A new leader (node 2, term 5) sends a snapshot at index 10, then an entry after it.
    let mut snap = message(MessageType::MsgSnapshot, 2, 1, 5);
    snap.set_snapshot(snapshot(10, 4, &[(b"k", b"v")]));
    n1.deliver(1, snap);
    let mut append = message(MessageType::MsgAppend, 2, 1, 5);
    (append.log_term, append.index, append.commit) = (4, 10, 11);
    append.set_entries(vec![put_entry(11, 5, b"other", b"x")].into());
    n1.deliver(1, append);
    n1.pump();

    assert_eq!(n1.shared(1).applied(), 11);
    match answer.recv_timeout(Duration::from_secs(1)) {
        Ok(Err(Error::Indeterminate(_))) => {}
        other => panic!("expected Indeterminate, got {other:?}"),
    }
}

/// Issue 14, item 4: a leader transfer that raft-rs ignores (no such voter) must not cost the
/// leader its lease for the rest of the term, and renewal rounds must not run back to back.
#[test]
fn c_an_ignored_transfer_keeps_the_lease_and_renewals_are_rate_limited() {
    let mut net = TestNet::new(config(1), &[1, 2, 3], memory);
    net.elect(1, 1);
    net.node(1).send(NodeMsg::TransferLeader(1, 9));
    let stats = net.node(1).raft.stats.clone();
    let rounds_before = stats.readindex_rounds.load(Ordering::Relaxed);
    net.pump_all(30);
    let shared = net.node(1).shared(1);
    let now = net.node(1).raft.clock.now_ns();
    assert!(!shared.transferring.load(Ordering::Acquire), "raft-rs ignored the transfer");
    assert!(shared.lease_valid(now), "a renewal round granted the lease");
    let rounds = stats.readindex_rounds.load(Ordering::Relaxed) - rounds_before;
    assert!(rounds <= 2, "{rounds} renewal rounds in 30 back-to-back loop iterations");
}

/// Issue 14, item 4: once a `MsgTimeoutNow` went out, the lease is gone for the term.
#[test]
fn d_a_timeout_now_ends_the_lease_for_the_term() {
    let mut net = TestNet::new(config(1), &[1, 2, 3], memory);
    net.elect(1, 1);
    net.pump_all(5);
    let shared = net.node(1).shared(1);
    assert!(shared.lease_valid(net.node(1).raft.clock.now_ns()), "lease before the transfer");
    // Node 2 is up to date, so raft-rs sends it a MsgTimeoutNow at once; node 2 never gets it.
    net.transport.drop_link(1, 2);
    net.node(1).send(NodeMsg::TransferLeader(1, 2));
    net.node(1).pump();
    net.transport.heal();
    assert_eq!(shared.lease_until_ns.load(Ordering::Acquire), 0);
    // Abort the transfer (an election timeout of ticks), then let rounds complete.
    for _ in 0..30 {
        net.node(1).tick();
        net.pump_all(1);
    }
    let now = net.node(1).raft.clock.now_ns();
    assert!(shared.is_leader.load(Ordering::Acquire), "node 1 still leads");
    assert!(!shared.transferring.load(Ordering::Acquire), "the transfer was aborted");
    assert!(!shared.lease_valid(now), "no lease after a MsgTimeoutNow in this term");
}

/// Issue 14, item 6: reads queued behind ReadIndex rounds that keep being retried (no leader
/// is known) are expired at their deadline. Two rounds retried out of step keep one round
/// always "in flight", so a read queued behind them was never issued nor expired.
#[test]
fn e_queued_reads_expire_while_rounds_keep_failing() {
    let retry = Duration::from_millis(40);
    let mut net = TestNet::new(config(1), &[2], memory);
    let n2 = net.node(2);
    n2.raft.peers.get_mut(&1).unwrap().set_read_retry(retry);
    let long = Duration::from_secs(30);
    let mut waiting = Vec::new();
    let (task, rx) = read_task(1, ReadPolicy::Follower, long);
    waiting.push(rx);
    n2.send(NodeMsg::Read(task));
    n2.pump();
    std::thread::sleep(retry / 2);
    // A full batch is issued at once, as a second round, half a retry interval later.
    for _ in 0..1024 {
        let (task, rx) = read_task(1, ReadPolicy::Follower, long);
        waiting.push(rx);
        n2.send(NodeMsg::Read(task));
    }
    n2.pump();
    let (short, short_rx) = read_task(1, ReadPolicy::Follower, Duration::from_millis(60));
    n2.send(NodeMsg::Read(short));
    let until = Instant::now() + Duration::from_millis(600);
    while Instant::now() < until && !short_rx.has_message() {
        n2.pump();
        std::thread::sleep(Duration::from_millis(2));
    }
    match short_rx.try_recv() {
        Ok(Err(Error::Timeout(_))) => {}
        other => panic!("the queued read was not expired: {other:?}"),
    }
    assert!(waiting.iter().all(|rx| !rx.has_message()), "the long reads still wait for a leader");
    assert!(n2.pool_rx.try_recv().is_err(), "nothing was served");
}

/// Issue 12: followers' ReadIndex requests join the leader's own next round. Both followers
/// and the leader queue a read at once; the leader confirms all three with one heartbeat
/// broadcast (2 heartbeats) and answers each follower (2 `MsgReadIndexResp`): 4 messages,
/// where raft-rs's own handling broadcast once per request (8). Every read then reaches its
/// pool with the round's read index applied.
#[test]
fn followers_read_index_requests_share_the_leaders_round() {
    let mut net = TestNet::new(config(1), &[1, 2, 3], memory);
    net.elect(1, 1);
    // Let the first lease renewal round (and anything else after the election) finish.
    net.pump_all(5);
    let sent = |net: &mut TestNet| net.node(1).raft.stats.msgs_sent.load(Ordering::Relaxed);
    let before = sent(&mut net);
    let long = Duration::from_secs(30);
    let mut answers = Vec::new();
    for (node, policy) in
        [(2, ReadPolicy::Follower), (3, ReadPolicy::Follower), (1, ReadPolicy::Leader)]
    {
        let (task, rx) = read_task(1, policy, long);
        answers.push(rx);
        net.node(node).send(NodeMsg::Read(task));
    }
    // The followers send their requests; the leader finds both in its inbox with its own read.
    net.node(2).pump();
    net.node(3).pump();
    net.node(1).pump();
    net.pump_all(4);
    assert_eq!(sent(&mut net) - before, 4, "one broadcast for three reads, two answers");
    for node in [1, 2, 3] {
        let task = net.node(node).pool_rx.try_recv().unwrap_or_else(|_| {
            panic!("node {node}'s read did not reach its pool");
        });
        assert!(task.ready, "node {node}'s read was served after its read index");
    }
}

/// Issue 12: a node process that restarted moments ago has a clock whose epoch is its start,
/// and a peer that has not yet applied an index stamped by its leader knows nothing of its
/// freshness (`safe_ns` is 0). Its stale reads reported `now − 0` as their age — a few
/// milliseconds — while the peer was hundreds of entries behind: the process-cluster check
/// found such reads missing writes acknowledged 300 ms earlier. Such a read now falls back to
/// a ReadIndex read; once a stamp is applied, stale reads are served with their true age.
#[test]
fn a_peer_that_does_not_know_its_freshness_serves_no_stale_read() {
    let (raft_tx, raft_rx) = crossbeam_channel::unbounded();
    let shared = Arc::new(PeerShared::new(1, Default::default()));
    shared.applied.store(10, Ordering::Release);
    shared.leader_commit_seen.store(200, Ordering::Release);
    let ctx = Arc::new(read_pool::PoolContext {
        node: 3,
        engine: memory(3),
        peers: HashMap::from([(1, shared.clone())]),
        raft_tx,
        clock: Clock::new(),
        stats: Arc::new(NodeStats::default()),
        stop: Arc::new(AtomicBool::new(false)),
        paused: Arc::new(AtomicBool::new(false)),
    });
    let pool = PoolHandle::Inline(ctx.clone());
    // The clock is a few milliseconds old, as in a node process just restarted.
    std::thread::sleep(Duration::from_millis(5));
    let (task, rx) = read_task(1, ReadPolicy::Stale, Duration::from_secs(5));
    assert!(pool.submit(task).is_ok());
    match raft_rx.try_recv() {
        Ok(NodeMsg::Read(t)) => assert!(t.fell_back, "a fallback is marked as one"),
        Ok(_) => panic!("another message reached the Raft thread"),
        Err(_) => panic!("the stale read was served: {:?}", rx.try_recv()),
    }
    assert_eq!(ctx.stats.stale_fallbacks.load(Ordering::Relaxed), 1);
    // Fresh as of 2 ms ago (a stamp it applied): served locally, with that age.
    shared.safe_ns.store(ctx.clock.now_ns() - 2_000_000, Ordering::Release);
    let (task, rx) = read_task(1, ReadPolicy::Stale, Duration::from_secs(5));
    assert!(pool.submit(task).is_ok());
    let resp = rx.try_recv().unwrap().unwrap();
    assert_eq!(resp.served_as, ReadPolicy::Stale);
    let st = resp.staleness.unwrap();
    assert_eq!(st.index_lag, 190);
    assert!((2..1000).contains(&st.age_ms), "age {} ms", st.age_ms);
    assert!(raft_rx.try_recv().is_err(), "nothing else was forwarded");
}
