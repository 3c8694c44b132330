//! The checker's error type: a trace that cannot be read or parsed. Violations are not errors:
//! they are the checker's result (see [`super::CheckReport`]).

use std::path::PathBuf;

/// Why a trace could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The trace file could not be opened or read.
    #[error("trace {}: {source}", path.display())]
    Io {
        /// The trace file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The trace's header lacks a column the checker needs.
    #[error("trace {name}: no column `{column}` in the header{hint}")]
    MissingColumn {
        /// The trace's name (its path, or what the caller called the stream).
        name: String,
        /// The missing column.
        column: String,
        /// A hint on the likely cause (may be empty).
        hint: String,
    },
    /// A row (or the header) is malformed.
    #[error("trace {name} line {line}{}: {message}", column_part(.column))]
    Trace {
        /// The trace's name (its path, or what the caller called the stream).
        name: String,
        /// The line in the trace, counting the header as line 1.
        line: u64,
        /// The column at fault, when the problem is in one field.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
}

fn column_part(column: &Option<String>) -> String {
    column.as_ref().map(|c| format!(" column {c}")).unwrap_or_default()
}
