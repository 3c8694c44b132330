//! The Raft layer: region peers on raft-rs, their storage and their shared state.
//!
//! * [`storage`]: `PeerStorage`, the raft-rs `Storage` over the node's engine(s);
//! * [`peer`]: `Peer`, a `RawNode` plus waiting proposals and reads, driven in three phases per
//!   Ready round by the node's Raft thread;
//! * [`shared`]: `PeerShared`, the atomics the read pool uses for lease and stale reads.

pub mod peer;
pub mod shared;
pub mod storage;

pub use peer::{Peer, PeerContext};
pub use shared::{Clock, PeerShared};
pub use storage::{PeerStorage, WriteTask};
