//! The store's error type: one flat enum and a crate-wide `Result`.

use std::fmt;

/// The result type of every fallible store operation.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors returned by engines and the replicated store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A configuration option is unknown or has a bad value.
    #[error("invalid option {option}={value:?}: expected {expected}")]
    InvalidOption {
        /// The option's full name (e.g. `rocksdb.compression`).
        option: String,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// The storage engine failed (I/O error, corruption, …).
    #[error("engine error: {0}")]
    Engine(String),
    /// Persisted data could not be decoded.
    #[error("corrupt data: {0}")]
    Corruption(String),
    /// The contacted replica is not the region's leader; `leader` is its best guess, if any.
    #[error("region {region}: not leader (leader hint {leader:?})")]
    NotLeader {
        /// The region asked.
        region: u64,
        /// The node the replica believes leads the region.
        leader: Option<u64>,
    },
    /// The node or region cannot serve the request now (node stopped, no replica reachable).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The request did not complete within its deadline. For a write this leaves its outcome
    /// unknown; the client reports such writes as [`Error::Indeterminate`].
    #[error("timed out: {0}")]
    Timeout(String),
    /// A write whose outcome is unknown: it may or may not have been applied (its proposal was
    /// in a leader's log when the leader stepped down or stopped, or no answer came in time).
    /// The client never retries such a write, so it cannot be applied twice.
    #[error("outcome unknown: {0}")]
    Indeterminate(String),
    /// The Raft library reported an error.
    #[error("raft error: {0}")]
    Raft(String),
}

impl Error {
    /// An engine error from anything displayable.
    pub fn engine(err: impl fmt::Display) -> Self {
        Error::Engine(err.to_string())
    }
}

impl From<kvlab_engine::Error> for Error {
    fn from(err: kvlab_engine::Error) -> Self {
        match err {
            kvlab_engine::Error::InvalidOption { option, value, expected } => {
                Error::InvalidOption { option, value, expected }
            }
            kvlab_engine::Error::Corruption(text) => Error::Corruption(text),
            err @ (kvlab_engine::Error::Engine(_) | kvlab_engine::Error::UnknownKeyspace(_)) => {
                Error::Engine(match err {
                    kvlab_engine::Error::Engine(text) => text,
                    other => other.to_string(),
                })
            }
        }
    }
}
