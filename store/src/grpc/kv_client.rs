//! [`KvTransport`]: client requests to node processes, and [`AdminClient`]: the harness's
//! control of one node process (see the module docs).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use tokio::runtime::Handle;
use tonic::transport::Channel;

use super::uri;
use crate::config::LatencyModel;
use crate::error::{Error, Result};
use crate::metrics::NodeMetrics;
use crate::node::{NodeMsg, ProposeTask, ReadTask};
use crate::topology::{NodeId, RegionId, ZoneId};
use crate::transport::{ClientTransport, Inbound};
use crate::wire::pb::admin_client::AdminClient as PbAdminClient;
use crate::wire::pb::kv_client::KvClient;
use crate::wire::{self, pb};

/// Slack past a request's deadline before the client gives up on the call: the node answers
/// `Timeout` itself at the deadline, which is the better answer.
const CALL_SLACK: Duration = Duration::from_millis(50);

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

/// Client requests over gRPC to node processes.
pub struct KvTransport {
    rt: Handle,
    nodes: HashMap<NodeId, KvClient<Channel>>,
    zones: HashMap<NodeId, ZoneId>,
    latency: LatencyModel,
    /// Nodes known to be down (stopped by the cluster): requests fail at once, as in-process.
    down: RwLock<HashSet<NodeId>>,
}

impl std::fmt::Debug for KvTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvTransport").field("nodes", &self.nodes.len()).finish_non_exhaustive()
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
        let mut nodes = HashMap::new();
        for (&id, addr) in addrs {
            let client = KvClient::new(channel(addr)?)
                .max_decoding_message_size(usize::MAX)
                .max_encoding_message_size(usize::MAX);
            nodes.insert(id, client);
        }
        Ok(Arc::new(Self { rt, nodes, zones, latency, down: RwLock::new(HashSet::new()) }))
    }

    /// Marks `node` as down (`true`) or up again.
    pub fn set_down(&self, node: NodeId, down: bool) {
        if down {
            self.down.write().insert(node);
        } else {
            self.down.write().remove(&node);
        }
    }

    fn client(&self, node: NodeId) -> Result<KvClient<Channel>> {
        if self.down.read().contains(&node) {
            return Err(Error::Unavailable(format!("node {node} is down")));
        }
        self.nodes.get(&node).cloned().ok_or_else(|| Error::Unavailable(format!("no node {node}")))
    }

    fn read(&self, zone: ZoneId, node: NodeId, task: ReadTask) -> Result<()> {
        let mut kv = self.client(node)?;
        let timeout = task.deadline.saturating_duration_since(Instant::now());
        let req = pb::ReadRequest {
            region: task.region,
            policy: task.policy.as_str().into(),
            max_staleness_us: task.max_staleness.map(|d| d.as_micros() as u64),
            timeout_us: timeout.as_micros() as u64,
            op: Some(wire::read_op_to_pb(&task.op)),
            zone: zone as u64,
        };
        self.rt.spawn(async move {
            let mut req = tonic::Request::new(req);
            req.set_timeout(timeout + CALL_SLACK);
            let answer = match kv.read(req).await {
                Ok(reply) => match reply.into_inner().outcome {
                    Some(pb::read_reply::Outcome::Answer(a)) => wire::answer_from_pb(a),
                    Some(pb::read_reply::Outcome::Error(e)) => Err(wire::error_from_pb(e)),
                    None => Err(Error::Corruption(format!("node {node} sent an empty answer"))),
                },
                // A read changes nothing, so any failed call may go elsewhere.
                Err(status) => Err(match status.code() {
                    tonic::Code::DeadlineExceeded => Error::Timeout(format!("node {node}")),
                    _ => Error::Unavailable(format!("node {node}: {}", status.message())),
                }),
            };
            let _ = task.reply.send(answer);
        });
        Ok(())
    }

    fn write(&self, zone: ZoneId, node: NodeId, task: ProposeTask) -> Result<()> {
        let mut kv = self.client(node)?;
        let timeout = task.deadline.saturating_duration_since(Instant::now());
        let req = pb::WriteRequest {
            region: task.region,
            mutations: wire::mutations_to_pb(&task.batch),
            timeout_us: timeout.as_micros() as u64,
            zone: zone as u64,
        };
        self.rt.spawn(async move {
            let mut req = tonic::Request::new(req);
            req.set_timeout(timeout + CALL_SLACK);
            let answer = match kv.write(req).await {
                Ok(reply) => match reply.into_inner().outcome {
                    Some(pb::write_reply::Outcome::Node(n)) => Ok(n),
                    Some(pb::write_reply::Outcome::Error(e)) => Err(wire::error_from_pb(e)),
                    None => Err(Error::Corruption(format!("node {node} sent an empty answer"))),
                },
                // The call may have failed after the node received it: the write's outcome is
                // unknown, and the client must not retry it.
                Err(status) => Err(Error::Indeterminate(format!(
                    "write to node {node}: {} ({:?})",
                    status.message(),
                    status.code()
                ))),
            };
            let _ = task.reply.send(answer);
        });
        Ok(())
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
