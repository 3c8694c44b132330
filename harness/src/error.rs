//! The harness's error type: every error names the problem and where it is.

use std::path::PathBuf;

/// The harness's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that stops a harness command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A harness setting (CLI argument or property) is bad.
    #[error("{setting}: bad value `{value}`: expected {expected}")]
    Setting {
        /// The property or flag name.
        setting: String,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A workload definition is bad.
    #[error(transparent)]
    Workload(#[from] kvlab_workloads::Error),
    /// The store or an engine failed or was misconfigured.
    #[error(transparent)]
    Store(#[from] kvlab_store::Error),
    /// Figures, reports or comparisons failed (naming the results file).
    #[error(transparent)]
    Plots(#[from] kvlab_plots::Error),
    /// A suite file is malformed.
    #[error("suite {path}: {message}")]
    Suite {
        /// The suite file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// A file or directory could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What the file is for.
        what: String,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The output directory already holds results.
    #[error(
        "output directory {0} is not empty: kvlab never overwrites results (choose another --out)"
    )]
    OutputNotEmpty(PathBuf),
    /// A checked history is not linearizable (or a stale read broke its bound). Every result
    /// was written first.
    #[error(
        "history check failed: {violations} violation(s) in {histories} checked run(s); \
         see {dir}/check.csv and {dir}/check/"
    )]
    CheckFailed {
        /// The results directory.
        dir: PathBuf,
        /// Violations found.
        violations: usize,
        /// Runs checked.
        histories: usize,
    },
    /// A trace could not be read or checked.
    #[error(transparent)]
    Check(#[from] crate::check::CheckError),
    /// A results file could not be written or read.
    #[error("results file {path}: {message}")]
    Results {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// A bad setting.
    pub fn setting(setting: &str, value: impl ToString, expected: impl ToString) -> Self {
        Error::Setting {
            setting: setting.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(what: &str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { what: what.to_string(), path: path.into(), source }
    }
}
