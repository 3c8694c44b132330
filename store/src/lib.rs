//! kvlab's storage layer: engines behind one object-safe [`Engine`] trait and, on top of them,
//! the replicated multi-Raft store that kvlab's benchmarks measure.
//!
//! The data path reads in one direction: client → region peer → engine. This crate owns the
//! engines (`engine`) today; the Raft layer builds on the same trait.

mod client;
mod cluster;
mod config;
mod engine;
mod error;
mod keys;
mod metrics;
mod node;
mod raftstore;
mod stages;
mod topology;
mod transport;

pub use client::{
    BatchGetResult, Client, PendingGet, PendingWrite, ReadResult, ScanResult, WriteResult,
};
pub use cluster::Cluster;
pub use config::{
    ClientConfig, ClusterConfig, Failpoints, LatencyModel, RaftLogStore, ReadPolicy, ReplicaChoice,
};
pub use engine::{
    open_engine, prefix_successor, Engine, EngineKind, EngineSnapshot, KeyRange, KvPair,
    MemoryEngine, RocksEngine, RocksOptions, RocksPreset, WriteBatch, WriteOp,
};
pub use error::{Error, Result};
pub use metrics::{NodeMetrics, ReadCounts, RegionMetrics};
pub use raftstore::Staleness;
pub use stages::ReadStages;
pub use topology::{
    default_split_keys, ycsb_key, Index, NodeId, Region, RegionId, Topology, ZoneId,
};
pub use transport::{RaftEnvelope, Transport};
