//! Node processes: every node runs as `kvlab node` (an OS process of its own) and speaks gRPC
//! on loopback; or, with `store.endpoints`, nodes someone else started, anywhere.
//!
//! Start-up writes a cluster file (`<dir>/cluster.toml`: free loopback ports, one directory per
//! node) and spawns each node with it. A spawned node's stdin is a lifeline: the node exits
//! when it reads end-of-file, which happens when this process drops the pipe — on shutdown,
//! but also when this process dies in any way, SIGKILL included, since the kernel closes its
//! end of the pipe. So no node outlives the cluster that started it. Each node logs to
//! `<dir>/node-<id>.log`.
//!
//! With `store.node_cpus=F` each node process is put into a cgroup of its own with a quota of
//! F cores ([`crate::cgroup`]); `store.node_cpus_optional=true` runs without budgets where
//! cgroups cannot apply them, and says so in [`Cluster::notes`](super::Cluster::notes).
//!
//! Faults: the nemesis's dropped links and latency spikes are pushed to every node's `Admin`
//! service (a node drops what it receives on a cut link and delays what it receives during a
//! spike); pause is SIGSTOP/SIGCONT, stop is SIGKILL, restart spawns the node again from its
//! directory.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use parking_lot::Mutex;

use super::Nodes;
use crate::cgroup::{Cgroup, ProcessBudgets};
use crate::cluster_file::{ClusterFile, NodeEntry};
use crate::config::ClusterConfig;
use crate::error::{Error, Result};
use crate::grpc::{AdminClient, KvTransport};
use crate::metrics::{NodeMetrics, NodeStats};
use crate::topology::{NodeId, RegionId, Topology};
use crate::transport::ClientTransport;
use kvlab_engine::EngineKind;

/// How long a node process may take to answer its first admin call.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a node may take to exit after its lifeline closed, before it is killed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(3);

/// One spawned node process.
struct Spawned {
    child: Child,
    paused: bool,
    /// Dropped after the process exited (removes the group).
    _cgroup: Option<Cgroup>,
}

/// Node processes (see the module docs).
pub(crate) struct ProcessNodes {
    config: Arc<ClusterConfig>,
    file: ClusterFile,
    file_path: PathBuf,
    program: Option<PathBuf>,
    base_dir: PathBuf,
    kv: Arc<KvTransport>,
    admin: BTreeMap<NodeId, AdminClient>,
    children: Mutex<BTreeMap<NodeId, Spawned>>,
    /// Last metrics per node (answered when a node cannot be asked).
    last_metrics: Mutex<BTreeMap<NodeId, NodeMetrics>>,
    faults: Mutex<(HashSet<(NodeId, NodeId)>, Duration)>,
    budgets: ProcessBudgets,
    /// Drives the clients' and admin calls (kept alive as long as they are).
    _rt: tokio::runtime::Runtime,
    _temp: Option<tempfile::TempDir>,
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::Unavailable(format!("no free loopback port: {e}")))?;
    l.local_addr().map(|a| a.port()).map_err(|e| Error::Unavailable(e.to_string()))
}

/// The last lines of a node's log, for an error message.
fn log_tail(path: &Path) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(2000)));
    let mut text = String::new();
    let _ = f.read_to_string(&mut text);
    let lines: Vec<&str> = text.lines().rev().take(8).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

impl ProcessNodes {
    /// Spawns the node processes (or connects to `store.endpoints`) and waits until every
    /// node answers.
    pub(crate) fn start(config: Arc<ClusterConfig>, _topology: Arc<Topology>) -> Result<Self> {
        let (base_dir, temp) = match &config.dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("kvlab-cluster")
                    .tempdir()
                    .map_err(Error::engine)?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(&base_dir)
            .map_err(|e| Error::engine(format!("{}: {e}", base_dir.display())))?;
        let spawn = config.endpoints.is_none();
        let mut nodes = Vec::new();
        for id in 1..=config.nodes as NodeId {
            let addr = match &config.endpoints {
                Some(eps) => eps[id as usize - 1].clone(),
                None => format!("127.0.0.1:{}", free_port()?),
            };
            nodes.push(NodeEntry { id, addr, dir: base_dir.join(format!("node-{id}")) });
        }
        let properties = config
            .properties
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "store.dir" | "store.endpoints" | "store.nodes"))
            .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
            .collect();
        let file = ClusterFile { properties, nodes };
        let file_path = base_dir.join("cluster.toml");
        if spawn {
            file.save(&file_path)?;
        }
        let cpus = config.node_cpus.filter(|_| spawn);
        let budgets =
            ProcessBudgets::resolve(cpus, config.node_cpus_optional, config.cgroup_root.as_deref())
                .map_err(|expected| Error::InvalidOption {
                    option: "store.node_cpus".into(),
                    value: cpus.unwrap_or_default().to_string(),
                    expected,
                })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kvlab-client-grpc")
            .enable_all()
            .build()
            .map_err(|e| Error::Unavailable(format!("gRPC runtime: {e}")))?;
        let addrs = file.addrs();
        let zones = (1..=config.nodes as NodeId).map(|n| (n, config.zone_of(n))).collect();
        let kv = KvTransport::new(rt.handle().clone(), &addrs, zones, config.latency.clone())?;
        let mut admin = BTreeMap::new();
        for (&id, addr) in &addrs {
            admin.insert(id, AdminClient::new(rt.handle().clone(), id, addr)?);
        }
        let program = if spawn {
            match &config.node_program {
                Some(p) => Some(p.clone()),
                None => Some(std::env::current_exe().map_err(|e| {
                    Error::Unavailable(format!("cannot find the kvlab program to run nodes: {e}"))
                })?),
            }
        } else {
            None
        };
        let nodes = ProcessNodes {
            config,
            file,
            file_path,
            program,
            base_dir,
            kv,
            admin,
            children: Mutex::new(BTreeMap::new()),
            last_metrics: Mutex::new(BTreeMap::new()),
            faults: Mutex::new((HashSet::new(), Duration::ZERO)),
            budgets,
            _rt: rt,
            _temp: temp,
        };
        if spawn {
            for id in 1..=nodes.config.nodes as NodeId {
                nodes.spawn(id)?;
            }
        }
        for id in 1..=nodes.config.nodes as NodeId {
            nodes.wait_answering(id)?;
        }
        Ok(nodes)
    }

    fn log_path(&self, id: NodeId) -> PathBuf {
        self.base_dir.join(format!("node-{id}.log"))
    }

    fn spawn(&self, id: NodeId) -> Result<()> {
        let Some(program) = &self.program else {
            return Err(Error::Unavailable(format!(
                "node {id} runs elsewhere (store.endpoints): kvlab cannot start it"
            )));
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(id))
            .map_err(|e| Error::engine(format!("{}: {e}", self.log_path(id).display())))?;
        let err_log = log.try_clone().map_err(Error::engine)?;
        let child = Command::new(program)
            .arg("node")
            .arg("--cluster")
            .arg(&self.file_path)
            .arg("--id")
            .arg(id.to_string())
            .arg("--lifeline")
            .stdin(Stdio::piped())
            // Its own process group: a Ctrl-C at the terminal reaches the harness only, which
            // still needs its nodes to finish writing the results so far.
            .process_group(0)
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .map_err(|e| {
                Error::Unavailable(format!("cannot start node {id} ({}): {e}", program.display()))
            })?;
        let mut spawned = Spawned { child, paused: false, _cgroup: None };
        let name = format!("kvlab-{}-node{id}", std::process::id());
        match self.budgets.place(&name, spawned.child.id()) {
            Ok(group) => spawned._cgroup = group,
            Err(e) => {
                let _ = spawned.child.kill();
                let _ = spawned.child.wait();
                return Err(Error::Unavailable(format!(
                    "node {id}: cannot apply its CPU budget: {e}"
                )));
            }
        }
        self.children.lock().insert(id, spawned);
        Ok(())
    }

    /// Waits until `id` answers an admin call; fails at once if its process exited.
    fn wait_answering(&self, id: NodeId) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) =
                self.children.lock().get_mut(&id).and_then(|s| s.child.try_wait().ok().flatten())
            {
                return Err(Error::Unavailable(format!(
                    "node {id} exited at start ({status}); its log {} ends:\n{}",
                    self.log_path(id).display(),
                    log_tail(&self.log_path(id))
                )));
            }
            if self.admin[&id].metrics().is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let addr = &self.file.nodes[id as usize - 1].addr;
                return Err(Error::Timeout(format!(
                    "node {id} at {addr} did not answer within {START_TIMEOUT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn node_metrics(&self) -> Vec<(NodeMetrics, Vec<RegionId>)> {
        let mut out = Vec::new();
        for (&id, admin) in &self.admin {
            let down =
                self.children.lock().get(&id).is_none_or(|s| s.paused) && self.program.is_some();
            let answer = if down { None } else { admin.metrics().ok() };
            match answer {
                Some((m, ready)) => {
                    self.last_metrics.lock().insert(id, m.clone());
                    out.push((m, ready));
                }
                None => {
                    let mut m = self.last_metrics.lock().get(&id).cloned().unwrap_or_else(|| {
                        let zone = self.config.zone_of(id);
                        NodeMetrics::from_stats(id, zone, false, &NodeStats::default(), Vec::new())
                    });
                    m.up = false;
                    for r in &mut m.regions {
                        r.is_leader = false;
                    }
                    out.push((m, Vec::new()));
                }
            }
        }
        out
    }

    /// The running peer of `region` that claims leadership with the highest term, and whether
    /// it is ready (from one round of metrics calls).
    fn leader_with_readiness(&self, region: RegionId) -> Option<(NodeId, bool)> {
        let mut best: Option<(u64, NodeId, bool)> = None;
        for (m, ready) in self.node_metrics() {
            if !m.up {
                continue;
            }
            for r in m.regions.iter().filter(|r| r.region == region && r.is_leader) {
                match best {
                    Some((t, _, _)) if t >= r.term => {}
                    _ => best = Some((r.term, m.node, ready.contains(&region))),
                }
            }
        }
        best.map(|(_, node, ready)| (node, ready))
    }

    fn push_faults(&self) {
        let (links, extra) = self.faults.lock().clone();
        for (&id, admin) in &self.admin {
            let from: Vec<NodeId> =
                links.iter().filter(|(_, t)| *t == id).map(|(f, _)| *f).collect();
            let to: Vec<NodeId> = links.iter().filter(|(f, _)| *f == id).map(|(_, t)| *t).collect();
            // A node that is down learns its faults when it restarts.
            let _ = admin.set_faults(&from, &to, extra);
        }
    }

    fn signal(&self, node: NodeId, sig: Signal) -> Result<()> {
        let mut children = self.children.lock();
        let s = children
            .get_mut(&node)
            .ok_or_else(|| Error::Unavailable(format!("node {node} is down")))?;
        let pid = Pid::from_raw(s.child.id() as i32);
        kill(pid, sig)
            .map_err(|e| Error::Unavailable(format!("signal {sig} to node {node}: {e}")))?;
        s.paused = sig == Signal::SIGSTOP;
        Ok(())
    }

    fn owned(&self, what: &str) -> Result<()> {
        if self.program.is_none() {
            return Err(Error::Unavailable(format!(
                "cannot {what} a node of store.endpoints: kvlab does not own its process"
            )));
        }
        Ok(())
    }
}

impl Nodes for ProcessNodes {
    fn ready_leader(&self, region: RegionId) -> Option<NodeId> {
        let (leader, ready) = self.leader_with_readiness(region)?;
        ready.then_some(leader)
    }

    fn leader_of(&self, region: RegionId) -> Option<NodeId> {
        self.leader_with_readiness(region).map(|(leader, _)| leader)
    }

    fn transfer_leader(&self, node: NodeId, region: RegionId, to: NodeId) -> Result<()> {
        let admin =
            self.admin.get(&node).ok_or_else(|| Error::Unavailable(format!("no node {node}")))?;
        admin.transfer_leader(region, to)
    }

    fn campaign(&self, node: NodeId, region: RegionId) -> Result<()> {
        let admin =
            self.admin.get(&node).ok_or_else(|| Error::Unavailable(format!("no node {node}")))?;
        admin.campaign(region)
    }

    fn metrics(&self) -> Vec<NodeMetrics> {
        self.node_metrics().into_iter().map(|(m, _)| m).collect()
    }

    fn drop_link(&self, from: NodeId, to: NodeId) {
        self.faults.lock().0.insert((from, to));
        self.push_faults();
    }

    fn heal(&self) {
        self.faults.lock().0.clear();
        self.push_faults();
    }

    fn set_extra_latency(&self, extra: Duration) {
        self.faults.lock().1 = extra;
        self.push_faults();
    }

    fn running_nodes(&self) -> Vec<NodeId> {
        if self.program.is_none() {
            return self.admin.keys().copied().collect();
        }
        self.children.lock().keys().copied().collect()
    }

    fn set_paused(&self, node: NodeId, paused: bool) -> Result<()> {
        self.owned("pause")?;
        self.signal(node, if paused { Signal::SIGSTOP } else { Signal::SIGCONT })
    }

    fn stop_node(&self, node: NodeId) -> Result<()> {
        self.owned("stop")?;
        let spawned = self.children.lock().remove(&node);
        let mut s = spawned.ok_or_else(|| Error::Unavailable(format!("node {node} is down")))?;
        self.kv.set_down(node, true);
        let _ = s.child.kill();
        let _ = s.child.wait();
        Ok(())
    }

    fn restart_node(&self, node: NodeId) -> Result<()> {
        self.owned("restart")?;
        if self.children.lock().contains_key(&node) {
            return Ok(());
        }
        if self.config.engine == EngineKind::Memory {
            return Err(Error::InvalidOption {
                option: "engine".into(),
                value: "memory".into(),
                expected: format!(
                    "a persistent engine to restart node process {node} (its memory engine \
                     died with it)"
                ),
            });
        }
        self.spawn(node)?;
        self.wait_answering(node)?;
        self.kv.set_down(node, false);
        self.push_faults();
        Ok(())
    }

    fn client_transport(&self) -> Arc<dyn ClientTransport> {
        self.kv.clone()
    }

    fn notes(&self) -> Vec<String> {
        let n = self.config.nodes;
        if self.program.is_none() {
            return vec![format!("{n} node processes at store.endpoints (not started by kvlab)")];
        }
        vec![self.budgets.describe(&format!("{n} node processes"))]
    }

    fn warnings(&self) -> Vec<String> {
        if self.budgets.skipped() {
            self.notes()
        } else {
            Vec::new()
        }
    }

    fn data_dir(&self) -> Option<&Path> {
        // Nodes at `store.endpoints` keep their files where they run, not here.
        self.config.endpoints.is_none().then_some(self.base_dir.as_path())
    }

    fn shutdown(&self) {
        let children = std::mem::take(&mut *self.children.lock());
        let mut waiting = Vec::new();
        for (_, mut s) in children {
            if s.paused {
                let _ = s.child.kill();
            }
            // Closing the lifeline asks the node to exit.
            drop(s.child.stdin.take());
            waiting.push(s);
        }
        let deadline = Instant::now() + EXIT_TIMEOUT;
        for mut s in waiting {
            loop {
                match s.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = s.child.kill();
                        let _ = s.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
    }
}

impl Drop for ProcessNodes {
    fn drop(&mut self) {
        self.shutdown();
    }
}
