//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong reading a results directory or writing figures and reports.
///
/// Every variant names the file involved, so a corrupt or missing results file can be found
/// and fixed without reading the code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file that must exist (`run.json`, `summary.csv`) does not.
    #[error("missing results file {}", path.display())]
    Missing {
        /// The file that was expected.
        path: PathBuf,
    },
    /// A file or directory could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("cannot read", "cannot write", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A CSV file is malformed: a missing column, a value that does not parse, a short row.
    #[error("{}:{line}{}: {message}", path.display(), column.as_ref().map(|c| format!(" column `{c}`")).unwrap_or_default())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The 1-based line number (the header is line 1).
        line: u64,
        /// The column, when the problem is one value.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Any other malformed results file (`run.json`, an interval log).
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// plotters could not draw a figure.
    #[error("cannot draw {}: {message}", path.display())]
    Plot {
        /// The figure file being drawn.
        path: PathBuf,
        /// plotters' error.
        message: String,
    },
    /// Two results directories have no configuration in common.
    #[error("nothing to compare: {0}")]
    NothingToCompare(String),
}

/// The crate-wide result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io { action, path: path.into(), source }
    }

    /// A malformed file.
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format { path: path.into(), message: message.into() }
    }
}
