//! One workload operation, filled in place by the streams so the steady state allocates
//! nothing.

use std::fmt;

/// The kind of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// Read one record (`readproportion`).
    Read,
    /// Overwrite fields of one record (`updateproportion`).
    Update,
    /// Insert a new record (`insertproportion`; every operation of the load phase).
    Insert,
    /// Read `scan_length` records in key order from a start key (`scanproportion`).
    Scan,
    /// Read a record, then update it (`readmodifywriteproportion`).
    ReadModifyWrite,
    /// Delete one record (kvlab's `deleteproportion`).
    Delete,
    /// Read several records at once (kvlab's `batchreadproportion`).
    BatchRead,
}

impl OpKind {
    /// All kinds, in YCSB's order followed by kvlab's.
    pub const ALL: [OpKind; 7] = [
        OpKind::Read,
        OpKind::Update,
        OpKind::Insert,
        OpKind::Scan,
        OpKind::ReadModifyWrite,
        OpKind::Delete,
        OpKind::BatchRead,
    ];

    /// The name YCSB prints in its reports (`READ`, `READ-MODIFY-WRITE`…).
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "READ",
            OpKind::Update => "UPDATE",
            OpKind::Insert => "INSERT",
            OpKind::Scan => "SCAN",
            OpKind::ReadModifyWrite => "READ-MODIFY-WRITE",
            OpKind::Delete => "DELETE",
            OpKind::BatchRead => "BATCH-READ",
        }
    }

    /// Whether the operation carries a value to write.
    pub fn writes_value(self) -> bool {
        matches!(self, OpKind::Update | OpKind::Insert | OpKind::ReadModifyWrite)
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which fields a read, scan or read-modify-write asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldSet {
    /// All fields (`readallfields=true`).
    All,
    /// One field, by index `0..fieldcount` (`readallfields=false`); its name is
    /// `fieldnameprefix` + index.
    One(u32),
}

/// A list of keys stored back to back in one buffer (the keys of a batch read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyList {
    /// The key bytes, concatenated.
    bytes: Vec<u8>,
    /// The end offset of each key in `bytes`.
    ends: Vec<usize>,
    /// The keynum of each key.
    keynums: Vec<i64>,
}

impl KeyList {
    /// Removes all keys, keeping the buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.keynums.clear();
    }

    /// Appends a key.
    pub fn push(&mut self, keynum: i64, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
        self.keynums.push(keynum);
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Key `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.bytes.get(start..end)
    }

    /// The keys in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The keynums of the keys, in order.
    pub fn keynums(&self) -> &[i64] {
        &self.keynums
    }
}

/// One operation. The streams overwrite every field that matters for its kind; the others
/// keep stale contents and must be ignored.
#[derive(Clone, Debug)]
pub struct Operation {
    /// What to do.
    pub kind: OpKind,
    /// The keynum behind `key` (for inserts: pass it to
    /// [`crate::CoreWorkload::acknowledge_insert`] once the insert has completed).
    pub keynum: i64,
    /// The key (the start key of a scan). Empty for batch reads.
    pub key: Vec<u8>,
    /// For scans: how many records to read.
    pub scan_length: usize,
    /// For reads, scans and read-modify-writes: the fields to read.
    pub fields: FieldSet,
    /// For inserts, updates and read-modify-writes: the fields to write, encoded as described
    /// in [`crate::values`].
    pub value: Vec<u8>,
    /// For batch reads: the keys.
    pub batch: KeyList,
}

impl Operation {
    /// An empty operation, to be filled by a stream.
    pub fn new() -> Operation {
        Operation {
            kind: OpKind::Read,
            keynum: 0,
            key: Vec::with_capacity(32),
            scan_length: 0,
            fields: FieldSet::All,
            value: Vec::new(),
            batch: KeyList::default(),
        }
    }
}

impl Default for Operation {
    fn default() -> Operation {
        Operation::new()
    }
}
