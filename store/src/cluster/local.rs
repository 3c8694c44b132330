//! Nodes in this process: they share one emulated network ([`ChannelTransport`]) and one
//! clock. Each node's engines live under `<dir>/node-<id>` (`data`, and `raft` for a separate
//! log engine; a temporary directory when no `dir` is configured). A memory engine is kept
//! across a restart as if it were durable, or loses its unsynced writes under the failpoint
//! `data-loses-unsynced-writes`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use super::Nodes;
use kvlab_engine::{open_engine, CrashableEngine, Engine, EngineKind, EngineOptions, MemoryEngine};

use crate::config::{ClusterConfig, RaftLogStore};
use crate::error::{Error, Result};
use crate::keys;
use crate::metrics::{NodeMetrics, NodeStats};
use crate::node::{Node, NodeParams};
use crate::raftstore::{Clock, PeerShared, RaftEngineLog, RaftLog};
use crate::request::NodeMsg;
use crate::topology::{NodeId, RegionId, Topology};
use crate::transport::{ChannelTransport, ChannelTransportHandle, ClientTransport};

/// A node's data engine and where its Raft log persists.
pub(crate) type NodeEngines = (Arc<dyn Engine>, RaftLog);

/// Opens the on-disk engines of a node whose directory is `dir`: `data`, and `raft` for a
/// separate log engine or raft-engine.
///
/// # Errors
///
/// Engine open failures.
pub(crate) fn open_disk_engines(cfg: &ClusterConfig, dir: &Path) -> Result<NodeEngines> {
    let apart = matches!(cfg.raft_log, RaftLogStore::SeparateEngine | RaftLogStore::RaftEngine);
    // With the log apart the data engine never syncs (TiKV's split): the log is the durable
    // record and the data engine is flushed before the log is compacted.
    let mut data_options = cfg.engine_options.clone();
    if apart {
        data_options.push((format!("{}.sync", cfg.engine), "false".into()));
    }
    let data = open_engine(cfg.engine, Some(&dir.join("data")), &data_options, &[keys::RAFT])?;
    let log = match cfg.raft_log {
        RaftLogStore::SameEngine => RaftLog::Same,
        RaftLogStore::Memory => RaftLog::Memory,
        RaftLogStore::SeparateEngine => {
            // The log is the durable record: `disable_wal` is a data-engine setting only.
            let raft_options: Vec<(String, String)> = cfg
                .engine_options
                .iter()
                .filter(|(k, _)| k != "rocksdb.disable_wal")
                .cloned()
                .collect();
            RaftLog::Separate(open_engine(
                cfg.engine,
                Some(&dir.join("raft")),
                &raft_options,
                &[keys::RAFT],
            )?)
        }
        RaftLogStore::RaftEngine => {
            let sync = EngineOptions::from_pairs(&cfg.engine_options)?.sync_requested(cfg.engine);
            RaftLog::RaftEngine(Arc::new(RaftEngineLog::open(&dir.join("raft"), sync)?))
        }
    };
    Ok((data, log))
}

/// A node's engines on the memory engine: the log in the data engine, in a second memory
/// engine, or nowhere (`raft-engine` needs a persistent engine: `ClusterConfig::validate`).
pub(crate) fn memory_engines(cfg: &ClusterConfig) -> NodeEngines {
    let memory = || Arc::new(MemoryEngine::with_keyspaces(&[keys::RAFT])) as Arc<dyn Engine>;
    let log = match cfg.raft_log {
        RaftLogStore::SameEngine | RaftLogStore::RaftEngine => RaftLog::Same,
        RaftLogStore::SeparateEngine => RaftLog::Separate(memory()),
        RaftLogStore::Memory => RaftLog::Memory,
    };
    (memory(), log)
}

/// The nodes of an in-process cluster (see the module docs).
pub(crate) struct LocalNodes {
    config: Arc<ClusterConfig>,
    topology: Arc<Topology>,
    transport: Arc<ChannelTransport>,
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

impl LocalNodes {
    /// Starts every node.
    pub(crate) fn start(config: Arc<ClusterConfig>, topology: Arc<Topology>) -> Result<Self> {
        let zones = (1..=config.nodes as NodeId).map(|n| config.zone_of(n)).collect();
        let transport = ChannelTransport::new(zones, config.latency.clone(), config.seed);
        let (base_dir, temp) = match &config.dir {
            Some(d) => (d.clone(), None),
            None if config.engine.is_persistent() => {
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
        let nodes = LocalNodes {
            config,
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
        };
        for id in 1..=nodes.config.nodes as NodeId {
            nodes.start_node(id)?;
        }
        Ok(nodes)
    }

    fn open_engines(&self, id: NodeId) -> Result<NodeEngines> {
        let cfg = &self.config;
        let separate = cfg.raft_log == RaftLogStore::SeparateEngine;
        if cfg.engine == EngineKind::Memory {
            let mut engines = self.memory_engines.lock();
            let pair = engines.entry(id).or_insert_with(|| {
                if cfg.failpoints.data_loses_unsynced_writes {
                    // The data engine holds the log too unless it is separate: then its
                    // writes are synced, as RocksDB's would be.
                    let engine = Arc::new(CrashableEngine::new(!separate, &[keys::RAFT]));
                    self.crashable.lock().insert(id, engine.clone());
                    let log = memory_engines(cfg).1;
                    (engine as Arc<dyn Engine>, log)
                } else {
                    memory_engines(cfg)
                }
            });
            return Ok(pair.clone());
        }
        open_disk_engines(cfg, &self.base_dir.join(format!("node-{id}")))
    }

    fn start_node(&self, id: NodeId) -> Result<()> {
        let (data, raft_log) = self.open_engines(id)?;
        let stats = self.stats.get(&id).cloned().unwrap_or_default();
        let node = Node::start(NodeParams {
            id,
            config: self.config.clone(),
            topology: self.topology.clone(),
            data,
            raft_log,
            transport: self.transport.clone(),
            raft_out: Arc::new(ChannelTransportHandle(self.transport.clone())),
            clock: self.clock,
            stats,
        })?;
        self.peers.write().insert(id, node.peers.clone());
        self.nodes.lock().insert(id, node);
        Ok(())
    }

    fn send_admin(&self, node: NodeId, msg: NodeMsg) -> Result<()> {
        match self.nodes.lock().get(&node) {
            Some(n) => n.send(msg),
            None => Err(Error::Unavailable(format!("node {node} is down"))),
        }
    }

    fn with_node(&self, node: NodeId, f: impl FnOnce(&Node)) -> Result<()> {
        match self.nodes.lock().get(&node) {
            Some(n) => {
                f(n);
                Ok(())
            }
            None => Err(Error::Unavailable(format!("node {node} is down"))),
        }
    }
}

impl Nodes for LocalNodes {
    fn ready_leader(&self, region: RegionId) -> Option<NodeId> {
        let leader = self.leader_of(region)?;
        let peers = self.peers.read();
        let s = peers.get(&leader)?.get(&region)?;
        s.is_ready_leader().then_some(leader)
    }

    fn leader_of(&self, region: RegionId) -> Option<NodeId> {
        let nodes = self.nodes.lock();
        let peers = self.peers.read();
        let mut best: Option<(u64, NodeId)> = None;
        for (&node, m) in peers.iter() {
            if !nodes.contains_key(&node) {
                continue;
            }
            if let Some(s) = m.get(&region) {
                if s.is_leader.load(Ordering::Acquire) {
                    let term = s.term.load(Ordering::Acquire);
                    match best {
                        Some((t, _)) if t >= term => {}
                        _ => best = Some((term, node)),
                    }
                }
            }
        }
        best.map(|(_, n)| n)
    }

    fn transfer_leader(&self, node: NodeId, region: RegionId, to: NodeId) -> Result<()> {
        self.send_admin(node, NodeMsg::TransferLeader(region, to))
    }

    fn campaign(&self, node: NodeId, region: RegionId) -> Result<()> {
        self.send_admin(node, NodeMsg::Campaign(region))
    }

    fn metrics(&self) -> Vec<NodeMetrics> {
        let nodes = self.nodes.lock();
        let peers = self.peers.read();
        let mut out = Vec::new();
        for (&id, stats) in &self.stats {
            let regions = peers
                .get(&id)
                .map(|m| m.values().map(|s| s.metrics()).collect())
                .unwrap_or_default();
            let zone = self.transport.zone_of(id);
            out.push(NodeMetrics::from_stats(id, zone, nodes.contains_key(&id), stats, regions));
        }
        out
    }

    fn drop_link(&self, from: NodeId, to: NodeId) {
        self.transport.drop_link(from, to);
    }

    fn heal(&self) {
        self.transport.heal();
    }

    fn set_extra_latency(&self, extra: Duration) {
        self.transport.set_extra_latency(extra);
    }

    fn running_nodes(&self) -> Vec<NodeId> {
        self.nodes.lock().keys().copied().collect()
    }

    fn set_paused(&self, node: NodeId, paused: bool) -> Result<()> {
        self.with_node(node, |n| n.set_paused(paused))
    }

    fn stop_node(&self, node: NodeId) -> Result<()> {
        let n = self.nodes.lock().remove(&node);
        let n = n.ok_or_else(|| Error::Unavailable(format!("node {node} is down")))?;
        n.stop();
        let crashed = self.crashable.lock().get(&node).map(|e| Arc::new(e.crash()));
        if let Some(engine) = crashed {
            // Failpoint `data-loses-unsynced-writes`: the restart finds the durable writes only.
            self.crashable.lock().insert(node, engine.clone());
            if let Some(pair) = self.memory_engines.lock().get_mut(&node) {
                pair.0 = engine;
            }
        }
        if let Some(m) = self.peers.write().get_mut(&node) {
            for s in m.values() {
                s.is_leader.store(false, Ordering::Release);
            }
        }
        Ok(())
    }

    fn restart_node(&self, node: NodeId) -> Result<()> {
        if self.nodes.lock().contains_key(&node) {
            return Ok(());
        }
        self.start_node(node)
    }

    fn client_transport(&self) -> Arc<dyn ClientTransport> {
        Arc::new(ChannelTransportHandle(self.transport.clone()))
    }

    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    fn data_dir(&self) -> Option<&Path> {
        Some(&self.base_dir)
    }

    fn shutdown(&self) {
        let nodes = std::mem::take(&mut *self.nodes.lock());
        for (_, n) in nodes {
            n.stop();
        }
        self.transport.shutdown();
    }
}
