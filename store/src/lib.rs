//! kvlab's storage layer: engines behind one object-safe [`Engine`] trait and, on top of them,
//! the replicated multi-Raft store that kvlab's benchmarks measure.
//!
//! The data path reads in one direction: client → region peer → engine. This crate owns the
//! engines (`engine`) today; the Raft layer builds on the same trait.

pub mod cgroup;
mod client;
mod cluster;
mod cluster_file;
mod config;
mod engine;
mod error;
mod grpc;
mod keys;
mod metrics;
mod node;
mod node_process;
mod raftstore;
mod request;
mod stages;
mod topology;
mod transport;
mod wire;

pub use client::{
    BatchGetResult, Client, PendingGet, PendingWrite, ReadResult, ScanResult, WriteResult,
};
pub use cluster::Cluster;
pub use cluster_file::{ClusterFile, NodeEntry};
pub use config::{
    ClientConfig, ClusterConfig, Failpoints, LatencyModel, RaftLogStore, ReadPolicy, ReplicaChoice,
};
pub use engine::{
    open_engine, prefix_successor, Engine, EngineKind, EngineSnapshot, KeyRange, KvPair,
    MemoryEngine, RocksEngine, RocksOptions, RocksPreset, WriteBatch, WriteOp,
};
pub use error::{Error, Result};
pub use grpc::node_metrics;
pub use metrics::{NodeMetrics, ReadCounts, RegionMetrics};
pub use node_process::run_node;
pub use request::{RaftEnvelope, Staleness};
pub use stages::ReadStages;
pub use topology::{
    default_split_keys, ycsb_key, Index, NodeId, Region, RegionId, Topology, ZoneId,
};
pub use transport::{ClientTransport, Transport};
