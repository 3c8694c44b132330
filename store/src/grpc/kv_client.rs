//! [`KvTransport`]: client requests to node processes, and [`AdminClient`]: the harness's
//! control of one node process (see the module docs).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use tokio::runtime::Handle;
use tonic::transport::Channel;

use super::link::{Link, Waiting};
use super::uri;
use crate::config::LatencyModel;
use crate::error::{Error, Result};
use crate::metrics::NodeMetrics;
use crate::request::{Inbound, NodeMsg, ProposeTask, ReadTask};
use crate::topology::{NodeId, RegionId, ZoneId};
use crate::transport::ClientTransport;
use crate::wire::pb::admin_client::AdminClient as PbAdminClient;
use crate::wire::{self, pb};

/// A lazily connected channel to `addr`.
///
/// # Errors
///
/// `InvalidOption` for an address tonic cannot parse.
pub(crate) fn channel(addr: &str) -> Result<Channel> {
    let endpoint =
        tonic::transport::Endpoint::from_shared(uri(addr)).map_err(|e| Error::InvalidOption {
            option: "node address".into(),
            value: addr.into(),
            expected: format!("host:port ({e})"),
        })?;
    Ok(endpoint
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(1))
        .keep_alive_timeout(Duration::from_secs(2))
        .connect_lazy())
}

/// Client requests over gRPC to node processes: one [`Link`] per node.
pub struct KvTransport {
    links: HashMap<NodeId, Link>,
    zones: HashMap<NodeId, ZoneId>,
    latency: LatencyModel,
    /// Nodes known to be down (stopped by the cluster): requests fail at once, as in-process.
    down: RwLock<HashSet<NodeId>>,
}

impl std::fmt::Debug for KvTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvTransport").field("nodes", &self.links.len()).finish_non_exhaustive()
    }
}

impl KvTransport {
    /// Connections (made on first use) to the nodes at `addrs`, in `zones`; replies wait out
    /// `latency` as in-process ones do.
    ///
    /// # Errors
    ///
    /// `InvalidOption` for an address that is not `host:port`.
    pub fn new(
        rt: Handle,
        addrs: &HashMap<NodeId, String>,
        zones: HashMap<NodeId, ZoneId>,
        latency: LatencyModel,
    ) -> Result<Arc<Self>> {
        let _guard = rt.enter();
        let mut links = HashMap::new();
        for (&id, addr) in addrs {
            links.insert(id, Link::open(&rt, id, channel(addr)?));
        }
        Ok(Arc::new(Self { links, zones, latency, down: RwLock::new(HashSet::new()) }))
    }

    /// Marks `node` as down (`true`) or up again.
    pub fn set_down(&self, node: NodeId, down: bool) {
        if down {
            self.down.write().insert(node);
        } else {
            self.down.write().remove(&node);
        }
    }

    fn link(&self, node: NodeId) -> Result<&Link> {
        if self.down.read().contains(&node) {
            return Err(Error::Unavailable(format!("node {node} is down")));
        }
        self.links.get(&node).ok_or_else(|| Error::Unavailable(format!("no node {node}")))
    }

    fn read(&self, zone: ZoneId, node: NodeId, task: ReadTask) -> Result<()> {
        let link = self.link(node)?;
        let timeout = task.deadline.saturating_duration_since(Instant::now());
        let req = pb::ReadRequest {
            region: task.region,
            policy: task.policy.as_str().into(),
            max_staleness_us: task.max_staleness.map(|d| d.as_micros() as u64),
            timeout_us: timeout.as_micros() as u64,
            op: Some(wire::read_op_to_pb(&task.op)),
            zone: zone as u64,
        };
        link.send(pb::call::Request::Read(req), task.deadline, Waiting::Read(task.reply))
    }

    fn write(&self, zone: ZoneId, node: NodeId, task: ProposeTask) -> Result<()> {
        let link = self.link(node)?;
        let timeout = task.deadline.saturating_duration_since(Instant::now());
        let req = pb::WriteRequest {
            region: task.region,
            mutations: wire::mutations_to_pb(&task.batch),
            timeout_us: timeout.as_micros() as u64,
            zone: zone as u64,
        };
        link.send(pb::call::Request::Write(req), task.deadline, Waiting::Write(task.reply))
    }
}

impl ClientTransport for KvTransport {
    fn send_request(&self, zone: ZoneId, node: NodeId, msg: Inbound) -> Result<()> {
        // The emulated request latency is waited out at the node (its local network), the
        // reply's here (`reply_latency`).
        match msg {
            Inbound::Pool(task) | Inbound::Raft(NodeMsg::Read(task)) => self.read(zone, node, task),
            Inbound::Raft(NodeMsg::Propose(task)) => self.write(zone, node, task),
            Inbound::Raft(_) => Err(Error::Unavailable("not a client request".into())),
        }
    }

    fn zone_of(&self, node: NodeId) -> ZoneId {
        self.zones.get(&node).copied().unwrap_or(0)
    }

    fn reply_latency(&self, from: ZoneId, to: ZoneId) -> Duration {
        self.latency.between(from, to)
    }
}

/// The harness's control of one node process: readiness, metrics, leadership, faults.
#[derive(Clone, Debug)]
pub struct AdminClient {
    node: NodeId,
    rt: Handle,
    client: PbAdminClient<Channel>,
}

/// How long one admin call may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);

impl AdminClient {
    /// A client (connected on first use) for `node` at `addr`.
    ///
    /// # Errors
    ///
    /// `InvalidOption` for an address that is not `host:port`.
    pub fn new(rt: Handle, node: NodeId, addr: &str) -> Result<Self> {
        let client = {
            let _guard = rt.enter();
            PbAdminClient::new(channel(addr)?)
        };
        Ok(Self { node, rt, client })
    }

    fn call<T, F>(&self, f: impl FnOnce(PbAdminClient<Channel>) -> F) -> Result<T>
    where
        F: std::future::Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        let node = self.node;
        let fut = f(self.client.clone());
        self.rt.block_on(async move {
            match tokio::time::timeout(ADMIN_TIMEOUT, fut).await {
                Ok(Ok(r)) => Ok(r.into_inner()),
                Ok(Err(s)) => Err(Error::Unavailable(format!("node {node}: {}", s.message()))),
                Err(_) => Err(Error::Timeout(format!("node {node} did not answer an admin call"))),
            }
        })
    }

    /// The node's metrics and the regions it leads ready to serve.
    ///
    /// # Errors
    ///
    /// `Unavailable` or `Timeout` when the node does not answer.
    pub fn metrics(&self) -> Result<(NodeMetrics, Vec<RegionId>)> {
        let m = self.call(|mut c| async move { c.metrics(pb::Empty {}).await })?;
        Ok(wire::metrics_from_pb(m))
    }

    /// Asks the node (the region's leader) to hand `region` to `to`.
    ///
    /// # Errors
    ///
    /// As [`AdminClient::metrics`].
    pub fn transfer_leader(&self, region: RegionId, to: NodeId) -> Result<()> {
        let req = pb::TransferLeaderRequest { region, to };
        self.call(|mut c| async move { c.transfer_leader(req).await }).map(drop)
    }

    /// Asks the node to campaign for `region`.
    ///
    /// # Errors
    ///
    /// As [`AdminClient::metrics`].
    pub fn campaign(&self, region: RegionId) -> Result<()> {
        self.call(|mut c| async move { c.campaign(pb::CampaignRequest { region }).await }).map(drop)
    }

    /// Replaces the node's faults: messages from `drop_from` and to `drop_to` are dropped,
    /// and `extra` is added to every message it sends.
    ///
    /// # Errors
    ///
    /// As [`AdminClient::metrics`].
    pub fn set_faults(
        &self,
        drop_from: &[NodeId],
        drop_to: &[NodeId],
        extra: Duration,
    ) -> Result<()> {
        let req = pb::Faults {
            drop_from: drop_from.to_vec(),
            drop_to: drop_to.to_vec(),
            extra_delay_us: extra.as_micros() as u64,
        };
        self.call(|mut c| async move { c.set_faults(req).await }).map(drop)
    }
}

/// The metrics of the node at `addr` (for `kvlab cluster status`).
///
/// # Errors
///
/// `Unavailable` or `Timeout` when nothing answers there.
pub fn node_metrics(addr: &str) -> Result<NodeMetrics> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::Unavailable(format!("gRPC runtime: {e}")))?;
    let admin = AdminClient::new(rt.handle().clone(), 0, addr)?;
    admin.metrics().map(|(m, _)| m)
}
