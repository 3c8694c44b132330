//! `kvlab cluster start|stop|status FILE`: a process cluster that outlives the command, for
//! runs from other shells or machines (`--db store -p store.endpoints=…`).
//!
//! `start` spawns `kvlab node` for every node of the cluster file on this machine, all in one
//! new process group, each logging to `<its dir>/node.log`; it waits until every region has a
//! balanced leader and records the group in `FILE.state` (these nodes outlive the command by
//! design: no lifeline). `stop` ends that process group (SIGTERM, then SIGKILL after 10 s) and
//! removes the state file; `status` asks every node for its metrics.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kvlab_store::{Cluster, ClusterConfig, ClusterFile};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What `cluster start` leaves for `cluster stop`.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// The process group of the nodes.
    pgid: i32,
    /// The node processes, by node id order.
    pids: Vec<u32>,
}

fn state_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".state");
    PathBuf::from(name)
}

/// The configuration for driving the file's cluster over its addresses.
fn endpoints_config(file: &ClusterFile) -> Result<ClusterConfig> {
    let mut pairs = file.pairs();
    let addrs: Vec<String> = (1..=file.nodes.len() as u64)
        .filter_map(|id| file.node(id).map(|n| n.addr.clone()))
        .collect();
    pairs.retain(|(k, _)| k != "store.processes");
    pairs.push(("store.endpoints".into(), addrs.join(",")));
    Ok(ClusterConfig::from_pairs(&pairs)?)
}

/// Starts the nodes of `path` and waits for balanced leaders.
///
/// # Errors
///
/// A bad cluster file, a cluster already started from it, a node that does not start.
pub fn start(path: &Path) -> Result<String> {
    let file = ClusterFile::load(path)?;
    let state = state_path(path);
    if state.exists() {
        return Err(Error::setting(
            "cluster start",
            path.display(),
            format!(
                "a cluster not started yet ({} exists: `kvlab cluster stop` first)",
                state.display()
            ),
        ));
    }
    let program = std::env::current_exe()
        .map_err(|e| Error::io("cannot find the kvlab program", "kvlab", e))?;
    let mut pids = Vec::new();
    let mut pgid = 0;
    for node in &file.nodes {
        std::fs::create_dir_all(&node.dir)
            .map_err(|e| Error::io("cannot create node directory", &node.dir, e))?;
        let log_path = node.dir.join("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::io("cannot open node log", &log_path, e))?;
        let err_log =
            log.try_clone().map_err(|e| Error::io("cannot open node log", &log_path, e))?;
        let child = Command::new(&program)
            .arg("node")
            .arg("--cluster")
            .arg(path)
            .arg("--id")
            .arg(node.id.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .process_group(pgid)
            .spawn()
            .map_err(|e| Error::io("cannot start a node", &program, e))?;
        if pgid == 0 {
            pgid = child.id() as i32;
        }
        pids.push(child.id());
    }
    let text =
        serde_json::to_string(&State { pgid, pids }).map_err(|e| Error::setting("state", "", e))?;
    std::fs::write(&state, text).map_err(|e| Error::io("cannot write cluster state", &state, e))?;
    let config = endpoints_config(&file)?;
    match Cluster::start(config) {
        Ok(cluster) => {
            drop(cluster);
            Ok(format!(
                "cluster of {} nodes started (process group {pgid}; `kvlab cluster stop {}` ends it)",
                file.nodes.len(),
                path.display()
            ))
        }
        Err(e) => {
            let _ = stop(path);
            Err(e.into())
        }
    }
}

/// Ends the process group `cluster start` recorded for `path`.
///
/// # Errors
///
/// No state file (nothing started), or nodes that do not exit.
pub fn stop(path: &Path) -> Result<String> {
    let state_file = state_path(path);
    let text = std::fs::read_to_string(&state_file).map_err(|e| {
        Error::io("no cluster started from this file (cannot read its state)", &state_file, e)
    })?;
    let state: State = serde_json::from_str(&text).map_err(|e| {
        Error::setting(
            "cluster state",
            state_file.display(),
            format!("JSON written by cluster start ({e})"),
        )
    })?;
    let alive = |pids: &[u32]| {
        pids.iter().filter(|&&p| kill(Pid::from_raw(p as i32), None).is_ok() && !zombie(p)).count()
    };
    let _ = killpg(Pid::from_raw(state.pgid), Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(&state.pids) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(&state.pids) > 0 {
        let _ = killpg(Pid::from_raw(state.pgid), Signal::SIGKILL);
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::remove_file(&state_file)
        .map_err(|e| Error::io("cannot remove cluster state", &state_file, e))?;
    Ok(format!("cluster stopped ({} node processes)", state.pids.len()))
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

/// One line per node: up or not, regions led, reads and writes served.
///
/// # Errors
///
/// A bad cluster file.
pub fn status(path: &Path) -> Result<String> {
    let file = ClusterFile::load(path)?;
    let lines: Vec<String> = file
        .nodes
        .iter()
        .map(|n| match kvlab_store::node_metrics(&n.addr) {
            Ok(m) => {
                let r = &m.reads;
                let reads = r.leader + r.lease + r.follower + r.mixed + r.stale;
                format!(
                    "node {} at {}: up, leads {} of {} regions, {reads} reads, {} writes applied",
                    n.id,
                    n.addr,
                    m.leaders_held,
                    m.regions.len(),
                    m.writes_applied
                )
            }
            Err(e) => format!("node {} at {}: down ({e})", n.id, n.addr),
        })
        .collect();
    Ok(lines.join("\n"))
}
