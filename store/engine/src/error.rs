//! The engines' error type: one flat enum and a crate-wide `Result`.

use std::fmt;

/// The result type of every fallible engine operation.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors returned by engines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An engine option is unknown or has a bad value.
    #[error("invalid option {option}={value:?}: expected {expected}")]
    InvalidOption {
        /// The option's full name (e.g. `rocksdb.compression`).
        option: String,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// The engine failed (I/O error, a lock held by another process, …).
    #[error("engine error: {0}")]
    Engine(String),
    /// Persisted data could not be decoded.
    #[error("corrupt data: {0}")]
    Corruption(String),
    /// An operation named a keyspace the engine was not opened with.
    #[error("unknown keyspace {0:?}: the engine was not opened with it")]
    UnknownKeyspace(&'static str),
}

impl Error {
    /// An engine error from anything displayable.
    pub fn engine(err: impl fmt::Display) -> Self {
        Error::Engine(err.to_string())
    }

    pub(crate) fn invalid(option: &str, value: &str, expected: &str) -> Self {
        Error::InvalidOption {
            option: option.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }
}

impl From<rocksdb::Error> for Error {
    fn from(err: rocksdb::Error) -> Self {
        let text = err.into_string();
        if text.starts_with("Corruption") {
            Error::Corruption(text)
        } else {
            Error::Engine(text)
        }
    }
}
