//! The node boundary over gRPC (tonic): how node processes exchange Raft messages, how clients
//! reach node processes, and the services a node process serves.
//!
//! * [`RaftTransport`] sends a node's Raft messages to its peers: per peer one client-streaming
//!   `BatchRaft` call on one HTTP/2 connection, carrying batches of whatever queued meanwhile
//!   (TiKV's `raft_client.rs` shape). Delivery is best effort, as Raft expects: a batch that
//!   cannot be sent (peer down, connection broken, peer's window full) is dropped, and the
//!   stream reconnects.
//! * [`KvTransport`] carries client requests to node processes: per node one bidirectional
//!   `Kv.Batch` stream (a [`link::Link`]) carrying batches of calls tagged with ids and
//!   batches of answers back (TiKV's `BatchCommands` shape); each answer goes into the
//!   request's own channel exactly as an in-process node answers it, so the one client
//!   (`Client`) drives both kinds of cluster.
//! * [`service`] serves a node's `Raft`, `Kv` and `Admin` services: it decodes each request
//!   into the node's own request type and hands it to the node through its local network, the
//!   same path an in-process request takes.

mod kv_client;
mod link;
mod raft_client;
pub mod service;

pub use kv_client::{node_metrics, AdminClient, KvTransport};
pub use raft_client::RaftTransport;

/// `http://ADDR` for a tonic endpoint.
pub(crate) fn uri(addr: &str) -> String {
    if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    }
}
