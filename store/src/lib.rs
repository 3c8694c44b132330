//! kvlab's replicated multi-Raft store, on the engines of `kvlab-engine` (re-exported here).
//!
//! The data path reads in one direction: client → region peer → engine. The engines know
//! nothing of Raft: the store keeps its Raft log and states in a keyspace of their own
//! ([`RAFT_KEYSPACE`]) or in raft-engine (`store.raft_log`).

pub mod cgroup;
mod client;
mod cluster;
mod cluster_file;
mod config;
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
pub use cluster::{dir_bytes, Cluster};
pub use cluster_file::{ClusterFile, NodeEntry};
pub use config::{
    ClientConfig, ClusterConfig, Failpoints, LatencyModel, RaftLogStore, ReadPolicy, ReplicaChoice,
};
pub use error::{Error, Result};
pub use grpc::node_metrics;
pub use keys::RAFT as RAFT_KEYSPACE;
pub use kvlab_engine::Error as EngineError;
pub use kvlab_engine::{
    open_engine, prefix_successor, CrashableEngine, Engine, EngineKind, EngineOptions,
    EngineSnapshot, FjallEngine, FjallOptions, KeyRange, Keyspace, KvPair, MemoryEngine,
    RedbEngine, RedbOptions, RocksEngine, RocksOptions, RocksPreset, WriteBatch, WriteOp,
};
pub use metrics::{NodeMetrics, ReadCounts, RegionMetrics};
pub use node_process::run_node;
pub use request::{RaftEnvelope, Staleness};
pub use stages::ReadStages;
pub use topology::{
    default_split_keys, ycsb_key, Index, NodeId, Region, RegionId, Topology, ZoneId,
};
pub use transport::{ClientTransport, Transport};
