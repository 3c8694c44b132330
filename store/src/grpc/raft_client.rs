//! [`RaftTransport`]: a node process's Raft messages to its peers (see the module docs).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::uri;
use crate::request::RaftEnvelope;
use crate::topology::NodeId;
use crate::transport::{ChannelTransport, Transport};
use crate::wire::pb::raft_client::RaftClient;
use crate::wire::{self, pb};

/// Most messages in one batch.
const MAX_BATCH: usize = 256;
/// Batches a connection may hold unsent before further batches are dropped.
const WINDOW: usize = 64;
/// How long to wait before reconnecting to a peer that could not be reached.
const RECONNECT: Duration = Duration::from_millis(50);

/// Sends Raft messages to peer node processes over gRPC.
pub struct RaftTransport {
    me: NodeId,
    peers: HashMap<NodeId, mpsc::UnboundedSender<pb::RaftEnvelope>>,
    /// The node's local network: its dropped links are the node's fault hooks.
    local: Arc<ChannelTransport>,
}

impl std::fmt::Debug for RaftTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftTransport").field("me", &self.me).finish_non_exhaustive()
    }
}

impl RaftTransport {
    /// A transport from node `me` to the peers at `addrs`, its connections driven on `rt`.
    pub fn new(
        rt: &Handle,
        me: NodeId,
        addrs: &HashMap<NodeId, String>,
        local: Arc<ChannelTransport>,
    ) -> Self {
        let mut peers = HashMap::new();
        for (&id, addr) in addrs {
            if id == me {
                continue;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            rt.spawn(run_peer(uri(addr), rx));
            peers.insert(id, tx);
        }
        Self { me, peers, local }
    }
}

impl Transport for RaftTransport {
    fn send(&self, env: RaftEnvelope) {
        if !self.local.link_up(env.from, env.to) {
            return;
        }
        let (Some(peer), Ok(msg)) = (self.peers.get(&env.to), wire::envelope_to_pb(&env)) else {
            return;
        };
        let _ = peer.send(msg);
    }
}

/// One peer's connection: waits for a message, connects, streams batches until the call
/// ends, and starts over. Messages that arrive while the peer cannot be reached are dropped.
async fn run_peer(uri: String, mut rx: mpsc::UnboundedReceiver<pb::RaftEnvelope>) {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(uri) else {
        return;
    };
    let endpoint = endpoint
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(1))
        .keep_alive_timeout(Duration::from_secs(2));
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        let channel = match endpoint.connect().await {
            Ok(c) => c,
            Err(_) => {
                while rx.try_recv().is_ok() {}
                tokio::time::sleep(RECONNECT).await;
                continue;
            }
        };
        let (batches, stream) = mpsc::channel::<pb::RaftBatch>(WINDOW);
        let mut client = RaftClient::new(channel);
        let call =
            tokio::spawn(async move { client.batch_raft(ReceiverStream::new(stream)).await });
        let mut next = Some(first);
        loop {
            let first = match next.take() {
                Some(m) => m,
                None => match rx.recv().await {
                    Some(m) => m,
                    None => return,
                },
            };
            let mut msgs = vec![first];
            while msgs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
            match batches.try_send(pb::RaftBatch { msgs }) {
                Ok(()) => {}
                // The peer is slow or paused: drop this batch, as a congested network would.
                Err(mpsc::error::TrySendError::Full(_)) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
            if call.is_finished() {
                break;
            }
        }
        call.abort();
        tokio::time::sleep(RECONNECT).await;
    }
}
