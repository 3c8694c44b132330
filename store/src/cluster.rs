//! `Cluster`: starts the nodes of a multi-Raft store in one process, places leaders, hands out
//! clients, exposes metrics and the fault hooks.
//!
//! Start-up: open each node's engines (`<dir>/node-<id>/data`, and `…/raft` for a separate log
//! engine; a temporary directory when no `dir` is configured), start the nodes, let each
//! region's preferred leader (its first replica) campaign, wait until every region has a leader
//! that applied an entry of its term, then transfer any misplaced leader to its preferred node
//! so leaders are balanced (region `r`'s preferred leader is node `r mod N`).
//!
//! Fault hooks: `partition`, `isolate`, `drop_link`, `heal` act on the network; `pause_node` /
//! `resume_node` freeze a node's threads; `stop_node` / `restart_node` end a node and start it
//! again from its engines (a memory engine is kept across the restart as if it were durable,
//! or loses its unsynced writes under the failpoint `data-loses-unsynced-writes`); a node with
//! `raft_log = memory` cannot be restarted (it would have forgotten its votes and log).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::client::Client;
use crate::config::{ClientConfig, ClusterConfig, RaftLogStore};
use crate::engine::{open_engine, CrashableEngine, Engine, EngineKind};
use crate::error::{Error, Result};
use crate::metrics::{NodeMetrics, NodeStats, RegionMetrics};
use crate::node::{Node, NodeMsg, NodeParams};
use crate::raftstore::{Clock, PeerShared};
use crate::topology::{NodeId, RegionId, Topology};
use crate::transport::ChannelTransport;

/// A node's engines: data, and the raft-log engine when it is separate.
type NodeEngines = (Arc<dyn Engine>, Option<Arc<dyn Engine>>);

/// State shared by the cluster handle and its clients.
pub(crate) struct ClusterInner {
    pub(crate) config: Arc<ClusterConfig>,
    pub(crate) topology: Arc<Topology>,
    pub(crate) transport: Arc<ChannelTransport>,
    clock: Clock,
    nodes: Mutex<BTreeMap<NodeId, Node>>,
    peers: RwLock<BTreeMap<NodeId, BTreeMap<RegionId, Arc<PeerShared>>>>,
    stats: BTreeMap<NodeId, Arc<NodeStats>>,
    memory_engines: Mutex<BTreeMap<NodeId, NodeEngines>>,
    /// Data engines that lose their unsynced writes when their node stops (failpoint
    /// `data-loses-unsynced-writes`).
    crashable: Mutex<BTreeMap<NodeId, Arc<CrashableEngine>>>,
    base_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

/// A running in-process cluster (see the module docs).
pub struct Cluster {
    inner: Arc<ClusterInner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("nodes", &self.inner.config.nodes).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Starts a cluster and waits until every region has a balanced, working leader.
    ///
    /// # Errors
    ///
    /// Invalid configuration, engine open failures, or `Timeout` if regions elect no leader
    /// within 10 s.
    pub fn start(config: ClusterConfig) -> Result<Cluster> {
        config.validate()?;
        let topology = Arc::new(Topology::new(config.nodes, &config.splits(), config.replicas)?);
        let zones = (1..=config.nodes as NodeId).map(|n| config.zone_of(n)).collect();
        let transport = ChannelTransport::new(zones, config.latency.clone(), config.seed);
        let (base_dir, temp) = match &config.dir {
            Some(d) => (d.clone(), None),
            None if config.engine == EngineKind::RocksDb => {
                let t = tempfile::Builder::new()
                    .prefix("kvlab-store")
                    .tempdir()
                    .map_err(Error::engine)?;
                (t.path().to_path_buf(), Some(t))
            }
            None => (PathBuf::new(), None),
        };
        let stats =
            (1..=config.nodes as NodeId).map(|n| (n, Arc::new(NodeStats::default()))).collect();
        let inner = Arc::new(ClusterInner {
            config: Arc::new(config),
            topology,
            transport,
            clock: Clock::new(),
            nodes: Mutex::new(BTreeMap::new()),
            peers: RwLock::new(BTreeMap::new()),
            stats,
            memory_engines: Mutex::new(BTreeMap::new()),
            crashable: Mutex::new(BTreeMap::new()),
            base_dir,
            _temp: temp,
        });
        let cluster = Cluster { inner };
        for id in 1..=cluster.inner.config.nodes as NodeId {
            cluster.start_node(id)?;
        }
        for region in &cluster.inner.topology.regions {
            cluster.send_admin(region.preferred_leader(), NodeMsg::Campaign(region.id))?;
        }
        cluster.wait_for_leaders(Duration::from_secs(10))?;
        if cluster.inner.config.balance_leaders {
            cluster.balance_leaders(Duration::from_secs(5))?;
        }
        Ok(cluster)
    }

    fn open_engines(&self, id: NodeId) -> Result<NodeEngines> {
        let cfg = &self.inner.config;
        let separate = cfg.raft_log == RaftLogStore::SeparateEngine;
        if cfg.engine == EngineKind::Memory {
            let mut engines = self.inner.memory_engines.lock();
            let pair = engines.entry(id).or_insert_with(|| {
                let data: Arc<dyn Engine> = if cfg.failpoints.data_loses_unsynced_writes {
                    // The data engine holds the log too unless it is separate: then its
                    // writes are synced, as RocksDB's would be.
                    let engine = Arc::new(CrashableEngine::new(!separate));
                    self.inner.crashable.lock().insert(id, engine.clone());
                    engine
                } else {
                    Arc::new(crate::engine::MemoryEngine::new())
                };
                let raft: Option<Arc<dyn Engine>> = separate
                    .then(|| Arc::new(crate::engine::MemoryEngine::new()) as Arc<dyn Engine>);
                (data, raft)
            });
            return Ok(pair.clone());
        }
        let dir = self.inner.base_dir.join(format!("node-{id}"));
        // With a separate log engine the data engine never syncs (TiKV's split): the log is
        // the durable record and the data engine is flushed before the log is compacted.
        let mut data_options = cfg.engine_options.clone();
        if separate {
            data_options.push(("sync".into(), "false".into()));
        }
        let data = open_engine(cfg.engine, Some(&dir.join("data")), &data_options)?;
        let raft = if separate {
            // The log is the durable record: `disable_wal` is a data-engine setting only.
            let raft_options: Vec<(String, String)> =
                cfg.engine_options.iter().filter(|(k, _)| k != "disable_wal").cloned().collect();
            Some(open_engine(cfg.engine, Some(&dir.join("raft")), &raft_options)?)
        } else {
            None
        };
        Ok((data, raft))
    }

    fn start_node(&self, id: NodeId) -> Result<()> {
        let (data, raft_engine) = self.open_engines(id)?;
        let stats = self.inner.stats.get(&id).cloned().unwrap_or_default();
        let node = Node::start(NodeParams {
            id,
            config: self.inner.config.clone(),
            topology: self.inner.topology.clone(),
            data,
            raft_engine,
            transport: self.inner.transport.clone(),
            clock: self.inner.clock,
            stats,
        })?;
        self.inner.peers.write().insert(id, node.peers.clone());
        self.inner.nodes.lock().insert(id, node);
        Ok(())
    }

    fn send_admin(&self, node: NodeId, msg: NodeMsg) -> Result<()> {
        match self.inner.nodes.lock().get(&node) {
            Some(n) => n.send(msg),
            None => Err(Error::Unavailable(format!("node {node} is down"))),
        }
    }

    /// A client with its own settings.
    pub fn client(&self, config: ClientConfig) -> Client {
        Client::new(self.inner.clone(), config)
    }

    /// The client settings implied by the cluster configuration (policy, replica choice,
    /// staleness bound), for `zone` and `seed`.
    pub fn default_client_config(&self, zone: usize, seed: u64) -> ClientConfig {
        let c = &self.inner.config;
        ClientConfig {
            zone,
            read_policy: c.read_policy,
            replica_choice: c.replica_choice,
            max_staleness: c.max_staleness,
            seed,
            ..ClientConfig::default()
        }
    }

    /// The cluster configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.inner.config
    }

    /// The region layout.
    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// The current leader of `region` (the running peer that claims leadership with the
    /// highest term), if any.
    pub fn leader_of(&self, region: RegionId) -> Option<NodeId> {
        self.inner.leader_of(region)
    }

    /// Waits until every region has a leader that applied an entry of its own term.
    ///
    /// # Errors
    ///
    /// `Timeout` naming a region without one.
    pub fn wait_for_leaders(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        for region in &self.inner.topology.regions {
            loop {
                if self.inner.ready_leader(region.id).is_some() {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(Error::Timeout(format!("region {} elected no leader", region.id)));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }

    /// Moves every region's leadership to its preferred node, giving each region up to
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// `Timeout` naming every region whose leader could not be moved: a benchmark of an
    /// unbalanced cluster would measure something else than it says.
    pub fn balance_leaders(&self, timeout: Duration) -> Result<()> {
        let regions = self.inner.topology.regions.clone();
        let mut failed = Vec::new();
        for region in &regions {
            if let Err(e) = self.transfer_leader(region.id, region.preferred_leader(), timeout) {
                failed.push(e.to_string());
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::Timeout(format!("balancing leaders: {}", failed.join("; "))))
        }
    }

    /// Transfers `region`'s leadership to `to` and waits until `to` leads and applied an
    /// entry of its term.
    ///
    /// # Errors
    ///
    /// `Unavailable` without a current leader, `Timeout` if the transfer does not complete.
    pub fn transfer_leader(&self, region: RegionId, to: NodeId, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last_try = Instant::now() - Duration::from_secs(1);
        loop {
            if self.inner.ready_leader(region) == Some(to) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!("transfer of region {region} to node {to}")));
            }
            if last_try.elapsed() >= self.inner.config.election_timeout() {
                if let Some(leader) = self.leader_of(region).filter(|&l| l != to) {
                    let _ = self.send_admin(leader, NodeMsg::TransferLeader(region, to));
                }
                last_try = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Per-node metrics, by node id.
    pub fn metrics(&self) -> Vec<NodeMetrics> {
        let nodes = self.inner.nodes.lock();
        let peers = self.inner.peers.read();
        let mut out = Vec::new();
        for (&id, stats) in &self.inner.stats {
            let regions = peers
                .get(&id)
                .map(|m| m.values().map(|s| region_metrics(s)).collect())
                .unwrap_or_default();
            let zone = self.inner.transport.zone_of(id);
            out.push(NodeMetrics::from_stats(id, zone, nodes.contains_key(&id), stats, regions));
        }
        out
    }

    /// Cuts all links between node groups `a` and `b` (both directions).
    pub fn partition(&self, a: &[NodeId], b: &[NodeId]) {
        self.inner.transport.partition(a, b);
    }

    /// Cuts `node` off from every other node.
    pub fn isolate(&self, node: NodeId) {
        let others: Vec<NodeId> =
            (1..=self.inner.config.nodes as NodeId).filter(|&n| n != node).collect();
        self.inner.transport.partition(&[node], &others);
    }

    /// Drops messages from `from` to `to` (one direction).
    pub fn drop_link(&self, from: NodeId, to: NodeId) {
        self.inner.transport.drop_link(from, to);
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.inner.transport.heal();
    }

    /// Adds `extra` one-way delay to every message between nodes (a latency spike);
    /// `Duration::ZERO` ends it.
    pub fn set_extra_latency(&self, extra: Duration) {
        self.inner.transport.set_extra_latency(extra);
    }

    /// The nodes currently running, in id order.
    pub fn running_nodes(&self) -> Vec<NodeId> {
        self.inner.nodes.lock().keys().copied().collect()
    }

    /// Freezes a node's threads (messages queue up).
    ///
    /// # Errors
    ///
    /// `Unavailable` if the node is stopped.
    pub fn pause_node(&self, node: NodeId) -> Result<()> {
        self.with_node(node, |n| n.set_paused(true))
    }

    /// Resumes a paused node.
    ///
    /// # Errors
    ///
    /// `Unavailable` if the node is stopped.
    pub fn resume_node(&self, node: NodeId) -> Result<()> {
        self.with_node(node, |n| n.set_paused(false))
    }

    fn with_node(&self, node: NodeId, f: impl FnOnce(&Node)) -> Result<()> {
        match self.inner.nodes.lock().get(&node) {
            Some(n) => {
                f(n);
                Ok(())
            }
            None => Err(Error::Unavailable(format!("node {node} is down"))),
        }
    }

    /// Stops a node (its engines are closed; in-flight requests fail or time out).
    ///
    /// # Errors
    ///
    /// `Unavailable` if it is already stopped.
    pub fn stop_node(&self, node: NodeId) -> Result<()> {
        let n = self.inner.nodes.lock().remove(&node);
        let n = n.ok_or_else(|| Error::Unavailable(format!("node {node} is down")))?;
        n.stop();
        let crashed = self.inner.crashable.lock().get(&node).map(|e| Arc::new(e.crash()));
        if let Some(engine) = crashed {
            // Failpoint `data-loses-unsynced-writes`: the restart finds the durable writes only.
            self.inner.crashable.lock().insert(node, engine.clone());
            if let Some(pair) = self.inner.memory_engines.lock().get_mut(&node) {
                pair.0 = engine;
            }
        }
        if let Some(m) = self.inner.peers.write().get_mut(&node) {
            for s in m.values() {
                s.is_leader.store(false, std::sync::atomic::Ordering::Release);
            }
        }
        Ok(())
    }

    /// Restarts a stopped node from its engines.
    ///
    /// # Errors
    ///
    /// `InvalidOption` with `store.raft_log=memory` (the node would come back without the
    /// votes and log entries it acknowledged, which Raft's safety rests on); engine or Raft
    /// errors while reopening.
    pub fn restart_node(&self, node: NodeId) -> Result<()> {
        if self.inner.nodes.lock().contains_key(&node) {
            return Ok(());
        }
        if self.inner.config.raft_log == RaftLogStore::Memory {
            return Err(Error::InvalidOption {
                option: "store.raft_log".into(),
                value: "memory".into(),
                expected: format!(
                    "same or separate to restart node {node}: a memory log forgets the node's \
                     votes and entries"
                ),
            });
        }
        self.start_node(node)
    }

    /// Stops every node and the network.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut *self.inner.nodes.lock());
        for (_, n) in nodes {
            n.stop();
        }
        self.inner.transport.shutdown();
    }
}

impl ClusterInner {
    pub(crate) fn leader_of(&self, region: RegionId) -> Option<NodeId> {
        let nodes = self.nodes.lock();
        let peers = self.peers.read();
        let mut best: Option<(u64, NodeId)> = None;
        for (&node, m) in peers.iter() {
            if !nodes.contains_key(&node) {
                continue;
            }
            if let Some(s) = m.get(&region) {
                if s.is_leader.load(std::sync::atomic::Ordering::Acquire) {
                    let term = s.term.load(std::sync::atomic::Ordering::Acquire);
                    match best {
                        Some((t, _)) if t >= term => {}
                        _ => best = Some((term, node)),
                    }
                }
            }
        }
        best.map(|(_, n)| n)
    }

    fn ready_leader(&self, region: RegionId) -> Option<NodeId> {
        let leader = self.leader_of(region)?;
        let peers = self.peers.read();
        let s = peers.get(&leader)?.get(&region)?;
        let ord = std::sync::atomic::Ordering::Acquire;
        (s.applied_term.load(ord) == s.term.load(ord) && !s.transferring.load(ord))
            .then_some(leader)
    }
}

fn region_metrics(s: &PeerShared) -> RegionMetrics {
    let ord = std::sync::atomic::Ordering::Relaxed;
    let commit = s.commit.load(ord);
    let applied = s.applied.load(ord);
    RegionMetrics {
        region: s.region,
        is_leader: s.is_leader.load(ord),
        leader: s.leader(),
        term: s.term.load(ord),
        commit_index: commit,
        applied_index: applied,
        apply_lag: commit.saturating_sub(applied),
        reads_served: s.reads.load(ord),
        writes_applied: s.writes_applied.load(ord),
        leader_changes: s.leader_changes.load(ord),
    }
}
