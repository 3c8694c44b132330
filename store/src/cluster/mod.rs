//! `Cluster`: starts the nodes of a multi-Raft store, places leaders, hands out clients,
//! exposes metrics and the fault hooks — for nodes in this process ([`local`]) or node
//! processes over gRPC ([`process`]). One `Cluster` API, one client, two kinds of nodes.
//!
//! Start-up: start the nodes, let each region's preferred leader (its first replica)
//! campaign, wait until every region has a leader that applied an entry of its term, then
//! transfer any misplaced leader to its preferred node so leaders are balanced (region `r`'s
//! preferred leader is node `r mod N`).
//!
//! Fault hooks: `partition`, `isolate`, `drop_link`, `heal` act on the network between nodes;
//! `pause_node` / `resume_node` freeze a node (its threads in one process; SIGSTOP/SIGCONT for a
//! node process); `stop_node` / `restart_node` end a node and start it again from its engines
//! (a node process is killed with SIGKILL). A node with `raft_log = memory` cannot be restarted
//! (it would have forgotten its votes and log).

pub(crate) mod local;
pub(crate) mod process;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Client, ClientNet};
use crate::config::{ClientConfig, ClusterConfig, RaftLogStore};
use crate::error::{Error, Result};
use crate::metrics::NodeMetrics;
use crate::topology::{NodeId, RegionId, Topology};
use crate::transport::ClientTransport;

/// What a cluster does with its nodes, in one process or as node processes.
pub(crate) trait Nodes: Send + Sync {
    /// `region`'s leader when it leads, applied an entry of its term and is not transferring.
    fn ready_leader(&self, region: RegionId) -> Option<NodeId>;
    /// The running peer of `region` that claims leadership with the highest term.
    fn leader_of(&self, region: RegionId) -> Option<NodeId>;
    /// Asks `node` to hand `region` to `to`.
    fn transfer_leader(&self, node: NodeId, region: RegionId, to: NodeId) -> Result<()>;
    /// Asks `node` to campaign for `region`.
    fn campaign(&self, node: NodeId, region: RegionId) -> Result<()>;
    /// Per-node metrics, by node id.
    fn metrics(&self) -> Vec<NodeMetrics>;
    /// Drops every message from `from` to `to`.
    fn drop_link(&self, from: NodeId, to: NodeId);
    /// Restores every link.
    fn heal(&self);
    /// Adds `extra` to the one-way delay between nodes.
    fn set_extra_latency(&self, extra: Duration);
    /// The running nodes, in id order.
    fn running_nodes(&self) -> Vec<NodeId>;
    /// Freezes (`true`) or resumes a node.
    fn set_paused(&self, node: NodeId, paused: bool) -> Result<()>;
    /// Stops a node.
    fn stop_node(&self, node: NodeId) -> Result<()>;
    /// Starts a stopped node again from its engines.
    fn restart_node(&self, node: NodeId) -> Result<()>;
    /// Where clients send requests.
    fn client_transport(&self) -> Arc<dyn ClientTransport>;
    /// What a reader of the results should know about how the nodes run (CPU budgets, …).
    fn notes(&self) -> Vec<String>;
    /// The notes that say the run is not what was asked for (budgets that could not be
    /// applied).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Where the nodes keep their files (`None` when nothing is on disk).
    fn data_dir(&self) -> Option<&std::path::Path>;
    /// Stops every node.
    fn shutdown(&self);
}

/// A running cluster (see the module docs).
pub struct Cluster {
    config: Arc<ClusterConfig>,
    topology: Arc<Topology>,
    nodes: Box<dyn Nodes>,
    net: Arc<ClientNet>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("nodes", &self.config.nodes).finish_non_exhaustive()
    }
}

/// How long regions may take to elect their first leaders.
const ELECTION_TIMEOUT: Duration = Duration::from_secs(10);

impl Cluster {
    /// Starts a cluster and waits until every region has a balanced, working leader: nodes in
    /// this process, node processes (`store.processes`), or connects to a running cluster
    /// (`store.endpoints`).
    ///
    /// # Errors
    ///
    /// Invalid configuration, engine open failures, a node process that does not start, or
    /// `Timeout` if regions elect no leader within 10 s.
    pub fn start(config: ClusterConfig) -> Result<Cluster> {
        config.validate()?;
        let topology = Arc::new(Topology::new(config.nodes, &config.splits(), config.replicas)?);
        let config = Arc::new(config);
        let running = config.endpoints.is_some();
        let nodes: Box<dyn Nodes> = if config.processes || running {
            Box::new(process::ProcessNodes::start(config.clone(), topology.clone())?)
        } else {
            Box::new(local::LocalNodes::start(config.clone(), topology.clone())?)
        };
        let net = Arc::new(ClientNet {
            topology: topology.clone(),
            transport: nodes.client_transport(),
            attempt_timeout: ClientNet::attempt_timeout(config.election_timeout()),
        });
        let cluster = Cluster { config, topology, nodes, net };
        let led = cluster.topology.regions.iter().all(|r| cluster.nodes.leader_of(r.id).is_some());
        if !(running && led) {
            for region in &cluster.topology.regions {
                cluster.nodes.campaign(region.preferred_leader(), region.id)?;
            }
        }
        cluster.wait_for_leaders(ELECTION_TIMEOUT)?;
        if cluster.config.balance_leaders {
            cluster.balance_leaders(Duration::from_secs(5))?;
        }
        Ok(cluster)
    }

    /// A client with its own settings.
    pub fn client(&self, config: ClientConfig) -> Client {
        Client::new(self.net.clone(), config)
    }

    /// The client settings implied by the cluster configuration (policy, replica choice,
    /// staleness bound), for `zone` and `seed`.
    pub fn default_client_config(&self, zone: usize, seed: u64) -> ClientConfig {
        let c = &self.config;
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
        &self.config
    }

    /// The region layout.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// What a reader of the results should know about how the nodes run: for node
    /// processes, their CPU budgets (or why none could be applied).
    pub fn notes(&self) -> Vec<String> {
        self.nodes.notes()
    }

    /// The notes that say the run differs from what was asked for: CPU budgets asked for
    /// with `store.node_cpus_optional` that could not be applied.
    pub fn warnings(&self) -> Vec<String> {
        self.nodes.warnings()
    }

    /// The current leader of `region` (the running peer that claims leadership with the
    /// highest term), if any.
    pub fn leader_of(&self, region: RegionId) -> Option<NodeId> {
        self.nodes.leader_of(region)
    }

    /// Waits until every region has a leader that applied an entry of its own term.
    ///
    /// # Errors
    ///
    /// `Timeout` naming a region without one.
    pub fn wait_for_leaders(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        for region in &self.topology.regions {
            loop {
                if self.nodes.ready_leader(region.id).is_some() {
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
        let mut failed = Vec::new();
        for region in &self.topology.regions {
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
            if self.nodes.ready_leader(region) == Some(to) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(format!("transfer of region {region} to node {to}")));
            }
            if last_try.elapsed() >= self.config.election_timeout() {
                if let Some(leader) = self.leader_of(region).filter(|&l| l != to) {
                    let _ = self.nodes.transfer_leader(leader, region, to);
                }
                last_try = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Per-node metrics, by node id.
    pub fn metrics(&self) -> Vec<NodeMetrics> {
        self.nodes.metrics()
    }

    /// Bytes of every file the nodes keep on disk (data, Raft logs, every replica), or `None`
    /// on the memory engine.
    pub fn disk_bytes(&self) -> Option<u64> {
        if !self.config.engine.is_persistent() {
            return None;
        }
        self.nodes.data_dir().map(dir_bytes)
    }

    /// Cuts all links between node groups `a` and `b` (both directions).
    pub fn partition(&self, a: &[NodeId], b: &[NodeId]) {
        for &x in a {
            for &y in b {
                self.nodes.drop_link(x, y);
                self.nodes.drop_link(y, x);
            }
        }
    }

    /// Cuts `node` off from every other node.
    pub fn isolate(&self, node: NodeId) {
        let others: Vec<NodeId> =
            (1..=self.config.nodes as NodeId).filter(|&n| n != node).collect();
        self.partition(&[node], &others);
    }

    /// Drops messages from `from` to `to` (one direction).
    pub fn drop_link(&self, from: NodeId, to: NodeId) {
        self.nodes.drop_link(from, to);
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.nodes.heal();
    }

    /// Adds `extra` one-way delay to every message between nodes (a latency spike);
    /// `Duration::ZERO` ends it.
    pub fn set_extra_latency(&self, extra: Duration) {
        self.nodes.set_extra_latency(extra);
    }

    /// The nodes currently running, in id order.
    pub fn running_nodes(&self) -> Vec<NodeId> {
        self.nodes.running_nodes()
    }

    /// Freezes a node (messages to it queue up).
    ///
    /// # Errors
    ///
    /// `Unavailable` if the node is stopped.
    pub fn pause_node(&self, node: NodeId) -> Result<()> {
        self.nodes.set_paused(node, true)
    }

    /// Resumes a paused node.
    ///
    /// # Errors
    ///
    /// `Unavailable` if the node is stopped.
    pub fn resume_node(&self, node: NodeId) -> Result<()> {
        self.nodes.set_paused(node, false)
    }

    /// Stops a node (in-flight requests fail or time out).
    ///
    /// # Errors
    ///
    /// `Unavailable` if it is already stopped.
    pub fn stop_node(&self, node: NodeId) -> Result<()> {
        self.nodes.stop_node(node)
    }

    /// Restarts a stopped node from its engines.
    ///
    /// # Errors
    ///
    /// `InvalidOption` with `store.raft_log=memory` (the node would come back without the
    /// votes and log entries it acknowledged, which Raft's safety rests on); engine or Raft
    /// errors while reopening.
    pub fn restart_node(&self, node: NodeId) -> Result<()> {
        if self.running_nodes().contains(&node) {
            return Ok(());
        }
        if self.config.raft_log == RaftLogStore::Memory {
            return Err(Error::InvalidOption {
                option: "store.raft_log".into(),
                value: "memory".into(),
                expected: format!(
                    "same or separate to restart node {node}: a memory log forgets the node's \
                     votes and entries"
                ),
            });
        }
        self.nodes.restart_node(node)
    }

    /// Stops every node and the network.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.shutdown();
    }
}

/// Bytes the files under `dir` occupy on disk, recursively: their allocated blocks, as `du`
/// counts them, so a preallocated or sparse file counts what it holds, not its length.
/// Unreadable entries count 0 (files come and go while an engine compacts).
pub fn dir_bytes(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&entry.path()),
            Ok(t) if t.is_file() => entry.metadata().map_or(0, |m| m.blocks() * 512),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod dir_bytes_tests {
    #![allow(clippy::unwrap_used)]

    // A preallocated (sparse) file counts the blocks it holds, not its length: fjall's journal
    // is such a file, and counting its length made 0.5 MB of records take 64 MB.
    #[test]
    fn dir_bytes_counts_allocated_blocks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/full"), vec![1u8; 100 << 10]).unwrap();
        let sparse = std::fs::File::create(dir.path().join("sparse")).unwrap();
        sparse.set_len(64 << 20).unwrap();
        let bytes = super::dir_bytes(dir.path());
        assert!((100 << 10..1 << 20).contains(&bytes), "{bytes}");
    }
}
