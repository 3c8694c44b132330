//! Reading the results directory's CSV files: a header row, then records, with every problem
//! reported as file, line and column.

use std::path::{Path, PathBuf};

use csv::StringRecord;

use crate::error::{Error, Result};

/// One CSV file, read whole.
pub(crate) struct Table {
    /// Where it was read from.
    pub path: PathBuf,
    /// The header row.
    pub header: Vec<String>,
    /// The records with their 1-based line numbers.
    pub rows: Vec<(u64, StringRecord)>,
}

/// One record of a [`Table`], with accessors that name the file, line and column on error.
pub(crate) struct Row<'a> {
    table: &'a Table,
    line: u64,
    record: &'a StringRecord,
}

impl Table {
    /// Reads `dir/name`; `Ok(None)` when the file does not exist.
    pub fn read_optional(dir: &Path, name: &str) -> Result<Option<Table>> {
        let path = dir.join(name);
        if !path.exists() {
            return Ok(None);
        }
        Self::read(&path).map(Some)
    }

    /// Reads `dir/name`; [`Error::Missing`] when the file does not exist.
    pub fn read_required(dir: &Path, name: &str) -> Result<Table> {
        let path = dir.join(name);
        if !path.exists() {
            return Err(Error::Missing { path });
        }
        Self::read(&path)
    }

    fn read(path: &Path) -> Result<Table> {
        let csv_error = |e: csv::Error| {
            let line = e.position().map_or(0, |p| p.line());
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    format!("expected {expected_len} fields, found {len}")
                }
                _ => e.to_string(),
            };
            Error::Csv { path: path.to_path_buf(), line, column: None, message }
        };
        let mut reader =
            csv::ReaderBuilder::new().has_headers(true).from_path(path).map_err(|e| {
                match e.into_kind() {
                    csv::ErrorKind::Io(source) => Error::io("cannot read", path, source),
                    other => Error::format(path, format!("{other:?}")),
                }
            })?;
        let header: Vec<String> =
            reader.headers().map_err(csv_error)?.iter().map(|h| h.trim().to_string()).collect();
        if header.iter().all(String::is_empty) {
            return Err(Error::Csv {
                path: path.to_path_buf(),
                line: 1,
                column: None,
                message: "empty file: no header row".into(),
            });
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(csv_error)?;
            let line = record.position().map_or(0, |p| p.line());
            rows.push((line, record));
        }
        Ok(Table { path: path.to_path_buf(), header, rows })
    }

    /// The index of column `name`, or an error naming the file and the column.
    pub fn col(&self, name: &str) -> Result<usize> {
        self.header.iter().position(|h| h == name).ok_or_else(|| Error::Csv {
            path: self.path.clone(),
            line: 1,
            column: Some(name.to_string()),
            message: "missing column in header".into(),
        })
    }

    /// The index of column `name`, if present.
    pub fn col_optional(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The matrix axis columns: those strictly between column `after` and column `before`.
    pub fn axes(&self, after: &str, before: &str) -> Result<Vec<String>> {
        let start = self.col(after)?;
        let end = self.col(before)?;
        Ok(self.header.get(start + 1..end).map(<[String]>::to_vec).unwrap_or_default())
    }

    /// The records.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|(line, record)| Row { table: self, line: *line, record })
    }
}

impl Row<'_> {
    /// The record's 1-based line number.
    pub fn line(&self) -> u64 {
        self.line
    }

    fn error(&self, col: usize, message: String) -> Error {
        Error::Csv {
            path: self.table.path.clone(),
            line: self.line,
            column: self.table.header.get(col).cloned(),
            message,
        }
    }

    /// The text in column `col`.
    pub fn str(&self, col: usize) -> Result<&str> {
        self.record.get(col).ok_or_else(|| self.error(col, "missing value".into()))
    }

    /// The number in column `col`.
    pub fn f64(&self, col: usize) -> Result<f64> {
        self.f64_optional(col)?
            .ok_or_else(|| self.error(col, "empty value, expected a number".into()))
    }

    /// The number in column `col`, `None` when empty.
    pub fn f64_optional(&self, col: usize) -> Result<Option<f64>> {
        let text = self.str(col)?.trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(self.error(col, format!("`{text}` is not a number"))),
        }
    }

    /// The unsigned integer in column `col`.
    pub fn u64(&self, col: usize) -> Result<u64> {
        let text = self.str(col)?.trim();
        text.parse::<u64>().map_err(|_| self.error(col, format!("`{text}` is not a count")))
    }

    /// The values of columns `cols`, in order.
    pub fn strings(&self, cols: &[usize]) -> Result<Vec<String>> {
        cols.iter().map(|&c| self.str(c).map(str::to_string)).collect()
    }
}
