//! The services a node process serves: `Raft` (messages from peers), `Kv` (client requests)
//! and `Admin` (the harness's control). Each decodes its request into the node's own request
//! type and hands it to the node through the node's local network, the same path a request
//! takes in one process; the answer comes back on the request's own channel.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use tonic::{Request, Response, Status, Streaming};

use crate::config::ReadPolicy;
use crate::error::{Error, Result};
use crate::metrics::{NodeMetrics, NodeStats, RegionMetrics};
use crate::raftstore::PeerShared;
use crate::request::{Inbound, NodeMsg, ProposeTask, ReadTask};
use crate::topology::{NodeId, RegionId, ZoneId};
use crate::transport::ChannelTransport;
use crate::wire::{self, pb};

/// What the services know of their node.
pub struct NodeState {
    /// The node.
    pub id: NodeId,
    /// Its zone.
    pub zone: ZoneId,
    /// Its local network (emulated latencies, dropped links).
    pub local: Arc<ChannelTransport>,
    /// Its region peers.
    pub peers: BTreeMap<RegionId, Arc<PeerShared>>,
    /// Its counters.
    pub stats: Arc<NodeStats>,
    /// Its Raft thread's inbox (admin commands).
    pub raft_tx: Sender<NodeMsg>,
}

impl std::fmt::Debug for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeState").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The `Raft` service.
#[derive(Debug, Clone)]
pub struct RaftService(pub Arc<NodeState>);

/// The `Kv` service.
#[derive(Debug, Clone)]
pub struct KvService(pub Arc<NodeState>);

/// The `Admin` service.
#[derive(Debug, Clone)]
pub struct AdminService(pub Arc<NodeState>);

#[tonic::async_trait]
impl pb::raft_server::Raft for RaftService {
    async fn batch_raft(
        &self,
        request: Request<Streaming<pb::RaftBatch>>,
    ) -> std::result::Result<Response<pb::RaftDone>, Status> {
        let mut stream = request.into_inner();
        while let Some(batch) = stream.message().await? {
            for env in batch.msgs {
                if env.to != self.0.id {
                    continue;
                }
                match wire::envelope_from_pb(env) {
                    // The local network checks the link and waits out its latency.
                    Ok(env) => self.0.local.send_raft(env),
                    Err(e) => return Err(Status::invalid_argument(e.to_string())),
                }
            }
        }
        Ok(Response::new(pb::RaftDone {}))
    }
}

/// How long a request with no timeout may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

fn deadline(timeout_us: u64) -> Instant {
    let timeout = if timeout_us == 0 { DEFAULT_TIMEOUT } else { Duration::from_micros(timeout_us) };
    Instant::now() + timeout.min(Duration::from_secs(3600))
}

impl KvService {
    async fn read(&self, r: pb::ReadRequest) -> Result<pb::ReadAnswer> {
        let policy: ReadPolicy = r.policy.parse()?;
        let (tx, rx) = oneshot::channel();
        let task = ReadTask {
            region: r.region,
            op: wire::read_op_from_pb(r.op)?,
            policy,
            max_staleness: r.max_staleness_us.map(Duration::from_micros),
            deadline: deadline(r.timeout_us),
            ready: false,
            fell_back: false,
            timing: Default::default(),
            reply: tx,
        };
        self.0.local.send_request(r.zone as ZoneId, self.0.id, task.inbound())?;
        let resp = rx.await.map_err(|_| Error::Unavailable("the node stopped".into()))??;
        Ok(wire::answer_to_pb(&resp))
    }

    async fn write(&self, r: pb::WriteRequest) -> Result<NodeId> {
        let zone = r.zone as ZoneId;
        let (tx, rx) = oneshot::channel();
        let task = ProposeTask {
            region: r.region,
            batch: wire::mutations_from_pb(r.mutations),
            deadline: deadline(r.timeout_us),
            reply: tx,
        };
        self.0.local.send_request(zone, self.0.id, Inbound::Raft(NodeMsg::Propose(task)))?;
        // A node that stops with the proposal in its log cannot say whether it was applied.
        rx.await.map_err(|_| Error::Indeterminate("the node stopped".into()))?
    }

    /// Serves one call and tags its answer with the call's id.
    async fn call(&self, call: pb::Call) -> pb::Answer {
        use pb::answer::Reply;
        use pb::call::Request;
        let reply = match call.request {
            Some(Request::Read(r)) => Reply::Read(read_reply(self.read(r).await)),
            Some(Request::Write(w)) => Reply::Write(write_reply(self.write(w).await)),
            None => Reply::Read(read_reply(Err(Error::Corruption(format!(
                "call {} carries no request",
                call.id
            ))))),
        };
        pb::Answer { id: call.id, reply: Some(reply) }
    }

    /// Serves the calls of one stream, many at a time, and sends their answers back in
    /// batches of those ready together. Ends when the client closed its side and every call
    /// is answered, or when the client stops listening.
    async fn serve_calls(
        self,
        mut calls: Streaming<pb::Calls>,
        answers: tokio::sync::mpsc::Sender<std::result::Result<pb::Answers, Status>>,
    ) {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        use futures_util::FutureExt;
        let mut pending = FuturesUnordered::new();
        let mut open = true;
        loop {
            tokio::select! {
                batch = calls.message(), if open => match batch {
                    Ok(Some(batch)) => pending.extend(batch.calls.into_iter().map(|c| self.call(c))),
                    // The client closed its side (or the connection broke): answer what is
                    // in flight, then end.
                    Ok(None) | Err(_) => open = false,
                },
                Some(first) = pending.next() => {
                    let mut ready = vec![first];
                    while let Some(Some(answer)) = pending.next().now_or_never() {
                        ready.push(answer);
                    }
                    if answers.send(Ok(pb::Answers { answers: ready })).await.is_err() {
                        return;
                    }
                }
                else => return,
            }
        }
    }
}

fn read_reply(answer: Result<pb::ReadAnswer>) -> pb::ReadReply {
    use pb::read_reply::Outcome;
    let outcome = match answer {
        Ok(a) => Outcome::Answer(a),
        Err(e) => Outcome::Error(wire::error_to_pb(&e)),
    };
    pb::ReadReply { outcome: Some(outcome) }
}

fn write_reply(answer: Result<NodeId>) -> pb::WriteReply {
    use pb::write_reply::Outcome;
    let outcome = match answer {
        Ok(n) => Outcome::Node(n),
        Err(e) => Outcome::Error(wire::error_to_pb(&e)),
    };
    pb::WriteReply { outcome: Some(outcome) }
}

/// Answer batches a stream may have ready before the client reads them.
const ANSWER_BATCHES_QUEUED: usize = 64;

#[tonic::async_trait]
impl pb::kv_server::Kv for KvService {
    type BatchStream =
        tokio_stream::wrappers::ReceiverStream<std::result::Result<pb::Answers, Status>>;

    async fn batch(
        &self,
        request: Request<Streaming<pb::Calls>>,
    ) -> std::result::Result<Response<Self::BatchStream>, Status> {
        let (tx, rx) = tokio::sync::mpsc::channel(ANSWER_BATCHES_QUEUED);
        tokio::spawn(self.clone().serve_calls(request.into_inner(), tx));
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}

impl NodeState {
    /// The node's metrics now.
    pub fn metrics(&self) -> NodeMetrics {
        let regions = self.peers.values().map(|s| s.metrics()).collect();
        NodeMetrics::from_stats(self.id, self.zone, true, &self.stats, regions)
    }

    fn send(&self, msg: NodeMsg) -> std::result::Result<Response<pb::Empty>, Status> {
        self.raft_tx.send(msg).map_err(|_| Status::unavailable("the node stopped"))?;
        Ok(Response::new(pb::Empty {}))
    }
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminService {
    async fn metrics(
        &self,
        _request: Request<pb::Empty>,
    ) -> std::result::Result<Response<pb::NodeMetrics>, Status> {
        let m = self.0.metrics();
        let ready =
            |r: &RegionMetrics| self.0.peers.get(&r.region).is_some_and(|s| s.is_ready_leader());
        let cpu = crate::cgroup::self_cpu_seconds().unwrap_or(0.0);
        Ok(Response::new(wire::metrics_to_pb(&m, ready, cpu)))
    }

    async fn transfer_leader(
        &self,
        request: Request<pb::TransferLeaderRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let r = request.into_inner();
        self.0.send(NodeMsg::TransferLeader(r.region, r.to))
    }

    async fn campaign(
        &self,
        request: Request<pb::CampaignRequest>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        self.0.send(NodeMsg::Campaign(request.into_inner().region))
    }

    async fn set_faults(
        &self,
        request: Request<pb::Faults>,
    ) -> std::result::Result<Response<pb::Empty>, Status> {
        let f = request.into_inner();
        let (me, local) = (self.0.id, &self.0.local);
        local.heal();
        for &from in &f.drop_from {
            local.drop_link(from, me);
        }
        for &to in &f.drop_to {
            local.drop_link(me, to);
        }
        local.set_extra_latency(Duration::from_micros(f.extra_delay_us));
        Ok(Response::new(pb::Empty {}))
    }
}
