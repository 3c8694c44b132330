//! `kvlab node`: one store node as an OS process, serving gRPC (`grpc::service`) at the address
//! its cluster file gives, over its engines in the file's directory for it.
//!
//! The node runs the same Raft loop and read paths as a node of the in-process cluster; only
//! the edges differ: its Raft messages to peers leave through [`RaftTransport`], and requests
//! arrive through its services, which hand them to the node over its local network (where
//! emulated latencies and dropped links apply, as in one process).
//!
//! It exits on SIGTERM or SIGINT, and — with `--lifeline` — when its stdin reaches
//! end-of-file: the process that started it closed the pipe or died.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::local::{memory_engines, open_disk_engines};
use crate::cluster_file::ClusterFile;
use crate::config::ClusterConfig;
use crate::error::{Error, Result};
use crate::grpc::service::{AdminService, KvService, NodeState, RaftService};
use crate::grpc::RaftTransport;
use crate::metrics::NodeStats;
use crate::node::{Node, NodeParams};
use crate::raftstore::Clock;
use crate::topology::{NodeId, Topology};
use crate::transport::ChannelTransport;
use crate::wire::pb::admin_server::AdminServer;
use crate::wire::pb::kv_server::KvServer;
use crate::wire::pb::raft_server::RaftServer;
use kvlab_engine::EngineKind;

/// Worker threads of a node's gRPC runtime without a CPU budget (the node's own Raft and
/// read-pool threads come on top); see [`grpc_threads`].
const GRPC_THREADS: usize = 2;
/// The most gRPC worker threads a node runs, however large its budget.
const MAX_GRPC_THREADS: usize = 4;
/// How long a node may take to stop once asked, before it exits regardless.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a stopping node waits for its open connections to finish.
const DRAIN: Duration = Duration::from_millis(500);

fn unavailable(what: impl std::fmt::Display) -> Error {
    Error::Unavailable(what.to_string())
}

/// Runs node `id` of the cluster file at `path` until it is asked to stop.
///
/// # Errors
///
/// A bad cluster file, an address that cannot be bound (port in use), engine open failures.
pub fn run_node(path: &Path, id: NodeId, lifeline: bool) -> Result<()> {
    let file = ClusterFile::load(path)?;
    let config = Arc::new(file.config()?);
    let Some(entry) = file.node(id) else {
        return Err(Error::InvalidOption {
            option: "--id".into(),
            value: id.to_string(),
            expected: format!("a node of {} (1..={})", path.display(), file.nodes.len()),
        });
    };
    if let Some(cores) = config.node_cores.as_ref().and_then(|c| c.get(id as usize - 1)) {
        pin_to(cores)?;
    }
    let addr: SocketAddr = entry
        .addr
        .parse()
        .map_err(|e| unavailable(format!("node {id}: address {:?}: {e}", entry.addr)))?;
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| unavailable(format!("node {id}: cannot listen on {addr}: {e}")))?;
    listener.set_nonblocking(true).map_err(unavailable)?;
    let topology = Arc::new(Topology::new(config.nodes, &config.splits(), config.replicas)?);
    let (data, raft_log) = if config.engine == EngineKind::Memory {
        memory_engines(&config)
    } else {
        open_disk_engines(&config, &entry.dir)?
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(grpc_threads(&config, id))
        .thread_name(format!("kvlab-n{id}-grpc"))
        .enable_all()
        .build()
        .map_err(unavailable)?;
    let zones = (1..=config.nodes as NodeId).map(|n| config.zone_of(n)).collect();
    let local = ChannelTransport::new(zones, config.latency.clone(), config.seed ^ id);
    let raft_out = Arc::new(RaftTransport::new(rt.handle(), id, &file.addrs(), local.clone()));
    let stats = Arc::new(NodeStats::default());
    let node = Node::start(NodeParams {
        id,
        config: config.clone(),
        topology,
        data,
        raft_log,
        transport: local.clone(),
        raft_out,
        clock: Clock::new(),
        stats: stats.clone(),
    })?;
    let state = Arc::new(NodeState {
        id,
        zone: config.zone_of(id),
        local: local.clone(),
        peers: node.peers.clone(),
        stats,
        raft_tx: node.sender(),
    });
    eprintln!("kvlab node {id} listening on {addr} (data in {})", entry.dir.display());
    let (stopped_tx, stopped) = tokio::sync::oneshot::channel();
    let stopping = async move {
        stop_signal(lifeline).await;
        let _ = stopped_tx.send(());
    };
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(unavailable)?;
        let incoming = incoming_nodelay(listener);
        let serve = tonic::transport::Server::builder()
            .max_concurrent_streams(Some(4096))
            .add_service(RaftServer::new(RaftService(state.clone())))
            .add_service(
                KvServer::new(KvService(state.clone()))
                    .max_decoding_message_size(usize::MAX)
                    .max_encoding_message_size(usize::MAX),
            )
            .add_service(AdminServer::new(AdminService(state)))
            .serve_with_incoming_shutdown(incoming, stopping);
        // A graceful shutdown waits for every connection to close, but the peers' Raft
        // streams stay open as long as the peers run, and they may be stopping too and
        // waiting for ours: drain for at most DRAIN, then stop regardless.
        tokio::select! {
            served = serve => {
                served.map_err(|e| unavailable(format!("node {id}: gRPC server: {e}")))
            }
            () = async {
                if stopped.await.is_err() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(DRAIN).await;
            } => Ok(()),
        }
    });
    // Whatever hangs from here on, the process ends.
    std::thread::spawn(|| {
        std::thread::sleep(STOP_GRACE);
        std::process::exit(2);
    });
    node.stop();
    local.shutdown();
    rt.shutdown_timeout(Duration::from_secs(1));
    eprintln!("kvlab node {id} stopped");
    served
}

/// The connections `listener` accepts, with TCP_NODELAY set. The server builder's
/// `tcp_nodelay` covers only listeners it binds itself; without it, a node's small answers
/// wait for the client's delayed ACK (about 40 ms each: mixed reads ran at a seventh of
/// follower reads' throughput).
fn incoming_nodelay(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    tokio_stream::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), |conn| {
        conn.and_then(|c| c.set_nodelay(true).map(|()| c))
    })
}

/// Resolves when the node should stop: SIGTERM, SIGINT, or (with `lifeline`) end-of-file on
/// stdin.
async fn stop_signal(lifeline: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    if lifeline {
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
    } else {
        std::mem::forget(tx);
    }
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = rx => {}
            }
        }
        _ => {
            let _ = rx.await;
        }
    }
}

/// Pins this process (and the threads it starts later) to `cores`.
fn pin_to(cores: &[usize]) -> Result<()> {
    use nix::sched::{sched_setaffinity, CpuSet};
    let mut set = CpuSet::new();
    for &c in cores {
        set.set(c).map_err(|e| unavailable(format!("store.node_cores: core {c}: {e}")))?;
    }
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| unavailable(format!("store.node_cores: cannot pin to {cores:?}: {e}")))
}

/// A node's gRPC worker threads: as many as the cores its CPU budget (`store.node_cpus`,
/// rounded up) or its pinned cores (`store.node_cores`) give it, at most
/// [`MAX_GRPC_THREADS`]; [`GRPC_THREADS`] without either. Within a quota of a quarter core a
/// second worker adds only wake-ups and context switches: the threads take turns on the same
/// quota (TiKV too sizes its pools to the cores it has).
fn grpc_threads(config: &ClusterConfig, id: NodeId) -> usize {
    let budget = config.node_cpus.map(|cpus| cpus.ceil() as usize);
    let pinned = config.node_cores.as_ref().and_then(|c| c.get(id as usize - 1)).map(Vec::len);
    match budget.or(pinned) {
        Some(cores) => cores.clamp(1, MAX_GRPC_THREADS),
        None => GRPC_THREADS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_threads_follow_the_node_budget() {
        let with = |cpus: Option<f64>, cores: Option<Vec<Vec<usize>>>| {
            let config = ClusterConfig { node_cpus: cpus, node_cores: cores, ..Default::default() };
            grpc_threads(&config, 2)
        };
        assert_eq!(with(None, None), GRPC_THREADS);
        assert_eq!(with(Some(0.25), None), 1);
        assert_eq!(with(Some(1.5), None), 2);
        assert_eq!(with(Some(16.0), None), MAX_GRPC_THREADS);
        assert_eq!(with(None, Some(vec![vec![0], vec![1, 2, 3], vec![4]])), 3);
    }

    #[test]
    fn accepted_connections_send_without_waiting_for_acks() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let client = tokio::spawn(tokio::net::TcpStream::connect(addr));
            let mut incoming = std::pin::pin!(incoming_nodelay(listener));
            let conn = tokio_stream::StreamExt::next(&mut incoming).await.expect("a connection");
            assert!(conn.expect("accepted").nodelay().expect("nodelay"));
            drop(client.await);
        });
    }
}
