//! The crate's error type.
//!
//! Every error that comes from a property names the property, where its value came from (a
//! file and line, a `-p` override, or the built-in default), the bad value and what was
//! expected, so a user can fix the workload file without reading this crate's source.

use std::fmt;
use std::path::PathBuf;

/// The crate-wide result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a property's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A line of a property file (1-based; the first line of a continued logical line).
    File {
        /// The file as given to [`crate::Properties::load`].
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
    },
    /// A `-p key=value` override on the command line.
    Override,
    /// Set by a program through [`crate::Properties::set`].
    Set,
    /// Not set anywhere: the documented default was used.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File { path, line } => write!(f, "{}:{}", path.display(), line),
            Source::Override => f.write_str("-p override"),
            Source::Set => f.write_str("set by the program"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// Everything that can go wrong while reading workload definitions or building a workload.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file (property file or histogram file) could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Io {
        /// What the file is for ("property file", "field length histogram file").
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A property file line, histogram line or `-p` argument could not be parsed at all.
    #[error("{location}: {message}")]
    Syntax {
        /// `file:line` or `-p`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A property has a value that does not parse or is out of range.
    #[error("property `{key}` ({origin}): bad value `{value}`: expected {expected}")]
    Invalid {
        /// The property name.
        key: String,
        /// Where the value came from.
        origin: Source,
        /// The value as written.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A required property is missing.
    #[error("property `{key}` is required: expected {expected}")]
    Missing {
        /// The property name.
        key: String,
        /// What should be given.
        expected: String,
    },
    /// Several properties are inconsistent with each other.
    #[error("inconsistent properties: {0}")]
    Inconsistent(String),
    /// An insert was acknowledged more than the window of unacknowledged inserts allows
    /// (YCSB's "Too many unacknowledged insertion keys").
    #[error("too many unacknowledged inserts: keynum {keynum} is {ahead} past the last acknowledged keynum (window {window})")]
    AcknowledgeWindow {
        /// The keynum being acknowledged.
        keynum: u64,
        /// How far past the last acknowledged keynum it is.
        ahead: u64,
        /// The window size.
        window: u64,
    },
}

impl Error {
    /// Builds an [`Error::Invalid`].
    pub(crate) fn invalid(
        key: &str,
        origin: &Source,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            key: key.to_string(),
            origin: origin.clone(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
