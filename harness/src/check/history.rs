//! Operations and the trace parser.
//!
//! The trace is the CSV the harness writes with `--trace` in checking mode (one row per
//! operation, rows grouped by thread, not sorted by time). Columns are found by name, so their
//! order does not matter and extra columns are ignored. Parsing rules:
//!
//! * `read`, `update`, `insert` and `delete` rows become [`Op`]s; `scan`, `readmodifywrite` and
//!   `batchread` rows are only counted ([`History::skipped`]); any other op word is an error.
//! * Rows whose `phase` is `load` (the records a run loaded before it began, timed from the
//!   load's start) are counted as skipped too: the history is the run's, on the loaded store,
//!   whose values the checker takes as initial values (see [`super`]). A trace without a
//!   `phase` column (written before it existed) is all run; `run` and empty are run; any other
//!   phase word is an error.
//! * Each op gets an [`Outcome`] from its status: `ok` (and `not_found` for reads) is
//!   [`Outcome::Ok`]; for writes `unavailable` and `not_leader` are [`Outcome::Failed`] and any
//!   other status is [`Outcome::Unknown`]; for reads any other status is [`Outcome::Failed`]
//!   (the read observed nothing).
//! * Values are lowercase hex `u64`s, `nil` for absent. A read that completed, or a write that
//!   may have happened, with an empty `value` means the trace was not written in checking mode:
//!   that is an error, as is every malformed field. Parsing never panics, whatever the bytes.

use std::fmt;

use csv::{ByteRecord, ReaderBuilder};

use super::error::CheckError;

/// What an operation does to its key's register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// Reads the key's value (`read`).
    Read,
    /// Writes `value` to an existing record (`update`).
    Update,
    /// Writes `value` as a new record (`insert`).
    Insert,
    /// Removes the record: writes "absent" (`delete`).
    Delete,
}

impl OpKind {
    /// The op's name in the trace.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Update => "update",
            OpKind::Insert => "insert",
            OpKind::Delete => "delete",
        }
    }

    /// Whether the op changes the register (update, insert, delete).
    pub fn is_write(self) -> bool {
        self != OpKind::Read
    }
}

/// A register value: a record's value or its absence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// No record (never written, or deleted).
    Absent,
    /// A record holding this value (the trace's hex `u64`).
    Present(u64),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Absent => f.write_str("nil"),
            Value::Present(v) => write!(f, "{v:x}"),
        }
    }
}

/// What is known about whether an operation took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It completed: a write took effect before it returned, a read observed `value`.
    Ok,
    /// A write whose result is unknown (`timeout`, `indeterminate`, …): it may take effect at
    /// any time after its invocation, or never.
    Unknown,
    /// It definitely did not take effect (a write that was `unavailable` or `not_leader`, a
    /// read that failed): the checker ignores it.
    Failed,
}

/// One operation from the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The trace line it came from (the header is line 1).
    pub line: u64,
    /// The client thread that issued it.
    pub thread: u64,
    /// What it does.
    pub kind: OpKind,
    /// The key.
    pub key: String,
    /// Invocation time, ns since the run started.
    pub invoke_ns: u64,
    /// When the client saw it return, ns since the run started (also for unknown outcomes).
    pub return_ns: u64,
    /// Whether it took effect.
    pub outcome: Outcome,
    /// For writes the value written ([`Value::Absent`] for deletes, and for failed writes
    /// whose value the trace omits), for reads the value observed ([`Value::Absent`] for
    /// failed reads).
    pub value: Value,
    /// The status in the trace (`ok`, `not_found`, `timeout`, …).
    pub status: String,
    /// The node that served it (may be empty).
    pub node: String,
    /// The read policy that served a read (may be empty).
    pub served_as: String,
    /// For stale reads: the applied-index lag the store reported.
    pub index_lag: Option<u64>,
    /// For stale reads: the data's age in ms the store reported.
    pub age_ms: Option<u64>,
}

impl Op {
    /// When the op definitely completed: `None` for unknown and failed outcomes.
    pub fn complete_ns(&self) -> Option<u64> {
        (self.outcome == Outcome::Ok).then_some(self.return_ns)
    }

    /// Whether this is a read served by the `stale` policy (checked for bounded staleness
    /// instead of linearizability).
    pub fn is_stale_read(&self) -> bool {
        self.kind == OpKind::Read && self.served_as == "stale"
    }

    /// Whether the checker uses the op (its outcome is not [`Outcome::Failed`]).
    pub fn is_checked(&self) -> bool {
        self.outcome != Outcome::Failed
    }
}

/// A parsed trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Every read, update, insert and delete, in trace order, failed ones included.
    pub ops: Vec<Op>,
    /// Rows the checker does not model: op kinds `scan`, `readmodifywrite` and `batchread`, and
    /// every row of the load phase.
    pub skipped: usize,
}

/// The read policies a trace may name (empty means the store's default, linearizable): the
/// store's, and etcd's `linearizable` and `serializable`. Every one but `stale` claims
/// linearizability, so a stale `serializable` read is a violation like any other.
const POLICIES: [&str; 8] =
    ["", "leader", "lease", "follower", "mixed", "stale", "linearizable", "serializable"];

/// The op kinds the checker counts but does not model.
const UNCHECKED: [&str; 5] =
    ["scan", "readmodifywrite", "read-modify-write", "batchread", "batch-read"];

/// Positions of the columns the parser reads.
struct Columns {
    thread: usize,
    op: usize,
    key: usize,
    start_ns: usize,
    latency_ns: usize,
    status: usize,
    node: usize,
    served_as: usize,
    value: usize,
    index_lag: usize,
    age_ms: usize,
    /// `phase` (`load` or `run`); traces written before it existed lack it.
    phase: Option<usize>,
}

impl Columns {
    fn find(header: &ByteRecord, name: &str) -> Result<Columns, CheckError> {
        let find = |column: &str| {
            header.iter().position(|h| h == column.as_bytes()).ok_or_else(|| {
                let checking = ["served_as", "value", "index_lag", "age_ms"].contains(&column);
                CheckError::MissingColumn {
                    name: name.to_string(),
                    column: column.to_string(),
                    hint: if checking {
                        " (was the trace written in checking mode?)".to_string()
                    } else {
                        String::new()
                    },
                }
            })
        };
        Ok(Columns {
            thread: find("thread")?,
            op: find("op")?,
            key: find("key")?,
            start_ns: find("start_ns")?,
            latency_ns: find("latency_ns")?,
            status: find("status")?,
            node: find("node")?,
            served_as: find("served_as")?,
            value: find("value")?,
            index_lag: find("index_lag")?,
            age_ms: find("age_ms")?,
            phase: header.iter().position(|h| h == b"phase"),
        })
    }
}

/// One row being parsed: builds errors that name the file, line and column.
struct Row<'a> {
    name: &'a str,
    line: u64,
    record: &'a ByteRecord,
}

impl Row<'_> {
    fn error(&self, column: &str, message: impl Into<String>) -> CheckError {
        CheckError::Trace {
            name: self.name.to_string(),
            line: self.line,
            column: Some(column.to_string()),
            message: message.into(),
        }
    }

    /// The field at `index` as text.
    fn text(&self, index: usize, column: &str) -> Result<&str, CheckError> {
        // Every record has the header's length (the reader is not flexible), so the column
        // index is in range; a short record still gives an error rather than a panic.
        let bytes = self.record.get(index).ok_or_else(|| self.error(column, "missing field"))?;
        std::str::from_utf8(bytes).map_err(|_| self.error(column, "not valid UTF-8"))
    }

    fn number(&self, index: usize, column: &str) -> Result<u64, CheckError> {
        let text = self.text(index, column)?;
        parse_decimal(text)
            .ok_or_else(|| self.error(column, format!("`{text}` is not an unsigned integer")))
    }

    fn optional_number(&self, index: usize, column: &str) -> Result<Option<u64>, CheckError> {
        if self.text(index, column)?.is_empty() {
            return Ok(None);
        }
        self.number(index, column).map(Some)
    }
}

fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_hex(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

impl History {
    /// Parses a trace; `name` (usually the file's path) is used in error messages.
    ///
    /// # Errors
    ///
    /// [`CheckError::MissingColumn`] if the header lacks a needed column,
    /// [`CheckError::Trace`] for the first malformed row (naming its line and column).
    pub fn parse(reader: impl std::io::Read, name: &str) -> Result<History, CheckError> {
        let mut csv = ReaderBuilder::new().has_headers(true).from_reader(reader);
        let csv_error = |e: csv::Error| {
            let line = e.position().map_or(0, |p| p.line());
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    format!("{len} fields where the header has {expected_len}")
                }
                _ => e.to_string(),
            };
            CheckError::Trace { name: name.to_string(), line, column: None, message }
        };
        let header = csv.byte_headers().map_err(csv_error)?.clone();
        let columns = Columns::find(&header, name)?;
        let mut history = History::default();
        let mut record = ByteRecord::new();
        while csv.read_byte_record(&mut record).map_err(csv_error)? {
            let line = record.position().map_or(0, |p| p.line());
            let row = Row { name, line, record: &record };
            if let Some(op) = parse_row(&row, &columns)? {
                history.ops.push(op);
            } else {
                history.skipped += 1;
            }
        }
        Ok(history)
    }
}

/// Parses one row: `None` for an op kind the checker does not model or a load-phase row.
fn parse_row(row: &Row<'_>, c: &Columns) -> Result<Option<Op>, CheckError> {
    if let Some(index) = c.phase {
        match row.text(index, "phase")? {
            "" | "run" => {}
            "load" => return Ok(None),
            other => {
                return Err(row.error("phase", format!("unknown phase `{other}` (load or run)")))
            }
        }
    }
    // kvlab writes YCSB's upper-case names (`READ`, `UPDATE`); accept either case.
    let op = row.text(c.op, "op")?.to_ascii_lowercase();
    let kind = match op.as_str() {
        "read" => OpKind::Read,
        "update" => OpKind::Update,
        "insert" => OpKind::Insert,
        "delete" => OpKind::Delete,
        other if UNCHECKED.contains(&other) => return Ok(None),
        other => return Err(row.error("op", format!("unknown op `{other}`"))),
    };
    let thread = row.number(c.thread, "thread")?;
    let key = row.text(c.key, "key")?.to_string();
    let invoke_ns = row.number(c.start_ns, "start_ns")?;
    let latency_ns = row.number(c.latency_ns, "latency_ns")?;
    let return_ns = invoke_ns
        .checked_add(latency_ns)
        .ok_or_else(|| row.error("latency_ns", "start_ns + latency_ns overflows"))?;
    let status = row.text(c.status, "status")?.to_string();
    if status.is_empty() {
        return Err(row.error("status", "empty status"));
    }
    let served_as = row.text(c.served_as, "served_as")?.to_string();
    if !POLICIES.contains(&served_as.as_str()) {
        return Err(row.error("served_as", format!("unknown read policy `{served_as}`")));
    }
    let outcome = match (kind, status.as_str()) {
        (_, "ok") | (OpKind::Read, "not_found") => Outcome::Ok,
        (OpKind::Read, _) | (_, "unavailable" | "not_leader") => Outcome::Failed,
        _ => Outcome::Unknown,
    };
    let value = parse_value(row, c.value, kind, outcome, &status)?;
    Ok(Some(Op {
        line: row.line,
        thread,
        kind,
        key,
        invoke_ns,
        return_ns,
        outcome,
        value,
        status,
        node: row.text(c.node, "node")?.to_string(),
        served_as,
        index_lag: row.optional_number(c.index_lag, "index_lag")?,
        age_ms: row.optional_number(c.age_ms, "age_ms")?,
    }))
}

/// The value a row wrote or observed (see the module docs for the rules).
fn parse_value(
    row: &Row<'_>,
    index: usize,
    kind: OpKind,
    outcome: Outcome,
    status: &str,
) -> Result<Value, CheckError> {
    let text = row.text(index, "value")?;
    let not_checking = || {
        row.error(
            "value",
            format!(
                "empty value on a checked {} (status {status}): the trace was not written in \
                 checking mode",
                kind.name()
            ),
        )
    };
    let hex = || {
        parse_hex(text)
            .map(Value::Present)
            .ok_or_else(|| row.error("value", format!("`{text}` is not a hex u64 or `nil`")))
    };
    match (kind, outcome) {
        (OpKind::Delete, _) | (OpKind::Read, Outcome::Failed) => Ok(Value::Absent),
        // A failed write's value only serves messages: it may be missing.
        (_, Outcome::Failed) => match text {
            "" | "nil" => Ok(Value::Absent),
            _ => hex(),
        },
        (OpKind::Read, _) if status == "not_found" => match text {
            "" | "nil" => Ok(Value::Absent),
            _ => Err(row.error("value", format!("status not_found but value `{text}`"))),
        },
        (OpKind::Read, _) => match text {
            "" => Err(not_checking()),
            "nil" => Ok(Value::Absent),
            _ => hex(),
        },
        _ => match text {
            "" => Err(not_checking()),
            "nil" => Err(row.error("value", "a write of `nil` (deletes are `delete` rows)")),
            _ => hex(),
        },
    }
}
