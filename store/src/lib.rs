//! kvlab's storage layer: engines behind one object-safe [`Engine`] trait and, on top of them,
//! the replicated multi-Raft store that kvlab's benchmarks measure.
//!
//! The data path reads in one direction: client → region peer → engine. This crate owns the
//! engines (`engine`) today; the Raft layer builds on the same trait.

mod engine;
mod error;

pub use engine::{
    open_engine, prefix_successor, Engine, EngineKind, EngineSnapshot, KeyRange, KvPair,
    MemoryEngine, RocksEngine, RocksOptions, RocksPreset, WriteBatch, WriteOp,
};
pub use error::{Error, Result};
