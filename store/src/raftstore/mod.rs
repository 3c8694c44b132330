//! The Raft layer: region peers on raft-rs, their storage and their shared state.
//!
//! * [`log`]: `RaftLog`, where the Raft log persists (an engine's keyspace, raft-engine, or
//!   nowhere), and the `LogOp`s a round writes to it;
//! * [`storage`]: `PeerStorage`, the raft-rs `Storage` over the node's engine and log;
//! * [`peer`]: `Peer`, a `RawNode` plus waiting proposals and reads, driven in three phases per
//!   Ready round by the node's Raft thread;
//! * [`shared`]: `PeerShared`, the atomics the read pool uses for lease and stale reads.

pub mod log;
pub mod peer;
pub mod shared;
pub mod storage;

pub use log::{RaftEngineLog, RaftLog};
pub use peer::{Peer, PeerContext};
pub use shared::{Clock, PeerShared};
pub use storage::{PeerStorage, WriteTask};
