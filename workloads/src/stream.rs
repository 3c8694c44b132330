//! Per-thread operation streams: [`LoadStream`] for the load phase, [`RunStream`] for the run
//! phase, and the per-thread generator state they own.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::generator::hotset::HotSet;
use crate::generator::zipfian::{ScrambledZipfian, Zipfian};
use crate::generator::{Exponential, Histogram, Hotspot, UniformLong};
use crate::operation::{FieldSet, OpKind, Operation};
use crate::rng::Rng;
use crate::values::encode_field;
use crate::workload::CoreWorkload;

/// How often (in operations) a stream looks at the clock for `hotset.shift.seconds`.
const CLOCK_CHECK_INTERVAL: u64 = 64;

/// The run-phase key chooser, one per thread (`requestdistribution`).
#[derive(Clone, Debug)]
pub(crate) enum KeyChooser {
    /// `uniform`.
    Uniform(UniformLong),
    /// `zipfian` (scrambled).
    Zipfian(ScrambledZipfian),
    /// `latest`: the zipfian of YCSB's `SkewedLatestGenerator`.
    Latest(Zipfian),
    /// `hotspot`.
    Hotspot(Hotspot),
    /// `sequential`, over the workload's shared counter.
    Sequential {
        /// The first keynum.
        start: i64,
        /// The number of keynums.
        interval: i64,
    },
    /// `exponential`.
    Exponential(Exponential),
    /// `single`.
    Single(i64),
    /// `hotset`.
    HotSet(HotSet),
}

impl KeyChooser {
    /// YCSB's `CoreWorkload.nextKeynum`: draws until the keynum is at most the last
    /// acknowledged insert (for `exponential`: counts back from it and redraws below 0).
    ///
    /// Unlike YCSB, the draw is not truncated to 32 bits (`intValue()`); the keys are the
    /// same for fewer than 2³¹ records.
    #[inline]
    fn next_keynum(&mut self, rng: &mut Rng, wl: &CoreWorkload) -> i64 {
        loop {
            let limit = wl.inserts.last_value();
            let keynum = match self {
                KeyChooser::Uniform(g) => g.next_value(rng),
                KeyChooser::Zipfian(g) => g.next_value(rng),
                KeyChooser::Latest(g) => limit - g.next_long(limit.max(0) as u64, rng),
                KeyChooser::Hotspot(g) => g.next_value(rng),
                KeyChooser::Sequential { start, interval } => {
                    *start + wl.sequential.fetch_add(1, Ordering::Relaxed) % *interval
                }
                KeyChooser::Exponential(g) => {
                    let k = limit - g.next_value(rng) as i64;
                    if k >= 0 {
                        return k;
                    }
                    continue;
                }
                KeyChooser::Single(k) => *k,
                KeyChooser::HotSet(g) => g.next_value(rng),
            };
            if keynum <= limit {
                return keynum;
            }
        }
    }
}

/// The field-length generator, one per thread (`fieldlengthdistribution`).
#[derive(Clone, Debug)]
pub(crate) enum FieldLength {
    /// `constant`.
    Constant(usize),
    /// `uniform`.
    Uniform(UniformLong),
    /// `zipfian`.
    Zipfian(Zipfian),
    /// `histogram`.
    Histogram(Arc<Histogram>),
}

impl FieldLength {
    /// The next field length.
    #[inline]
    fn next(&mut self, rng: &mut Rng) -> usize {
        match self {
            FieldLength::Constant(n) => *n,
            FieldLength::Uniform(g) => g.next_value(rng).max(0) as usize,
            FieldLength::Zipfian(g) => g.next_value(rng).max(0) as usize,
            FieldLength::Histogram(h) => h.next_value(rng).max(0) as usize,
        }
    }
}

/// The scan-length generator, one per thread (`scanlengthdistribution`).
#[derive(Clone, Debug)]
pub(crate) enum ScanLength {
    /// `uniform`.
    Uniform(UniformLong),
    /// `zipfian`.
    Zipfian(Zipfian),
}

impl ScanLength {
    /// The next scan length.
    #[inline]
    fn next(&mut self, rng: &mut Rng) -> usize {
        match self {
            ScanLength::Uniform(g) => g.next_value(rng).max(0) as usize,
            ScanLength::Zipfian(g) => g.next_value(rng).max(0) as usize,
        }
    }
}

/// Fills `value` with all fields (YCSB's `buildValues`).
#[inline]
fn all_fields(wl: &CoreWorkload, len: &mut FieldLength, rng: &mut Rng, value: &mut Vec<u8>) {
    value.clear();
    for name in &wl.field_names {
        let n = len.next(rng);
        encode_field(value, name, n, &wl.pool, rng);
    }
}

/// Fills `value` with one random field (YCSB's `buildSingleValue`).
#[inline]
fn one_field(wl: &CoreWorkload, len: &mut FieldLength, rng: &mut Rng, value: &mut Vec<u8>) {
    value.clear();
    let i = rng.below(wl.field_names.len() as u64) as usize;
    let n = len.next(rng);
    encode_field(value, &wl.field_names[i], n, &wl.pool, rng);
}

/// One thread's share of the load phase: inserts of consecutive keynums.
#[derive(Debug)]
pub struct LoadStream {
    /// The workload.
    wl: Arc<CoreWorkload>,
    /// The next keynum to insert.
    next: i64,
    /// One past the last keynum.
    end: i64,
    /// The thread's random generator.
    rng: Rng,
    /// Field lengths.
    field_length: FieldLength,
}

impl LoadStream {
    /// The stream inserting keynums `[start, end)`.
    pub(crate) fn new(wl: Arc<CoreWorkload>, start: i64, end: i64, seed: u64, id: u64) -> Self {
        let field_length = wl.field_length.clone();
        LoadStream { wl, next: start, end, rng: Rng::new(seed, id), field_length }
    }

    /// The keynums this stream inserts, `[start, end)`, as left to do.
    pub fn remaining(&self) -> std::ops::Range<i64> {
        self.next..self.end
    }

    /// Fills `op` with the next insert (all fields); false when the stream is done.
    #[inline]
    pub fn next_op(&mut self, op: &mut Operation) -> bool {
        if self.next >= self.end {
            return false;
        }
        op.kind = OpKind::Insert;
        op.keynum = self.next;
        self.next += 1;
        self.wl.write_key(&mut op.key, op.keynum);
        all_fields(&self.wl, &mut self.field_length, &mut self.rng, &mut op.value);
        true
    }
}

/// One client thread's run phase: an endless stream of operations.
#[derive(Debug)]
pub struct RunStream {
    /// The workload.
    wl: Arc<CoreWorkload>,
    /// The thread's random generator.
    rng: Rng,
    /// Keys.
    chooser: KeyChooser,
    /// Field lengths.
    field_length: FieldLength,
    /// Scan lengths.
    scan_length: ScanLength,
    /// Operations produced so far.
    ops: u64,
    /// For `hotset.shift.operations`: the operation count at which the next epoch starts
    /// (a comparison per operation instead of a division).
    next_shift_at: u64,
}

impl RunStream {
    /// The stream of thread `id`.
    pub(crate) fn new(wl: Arc<CoreWorkload>, seed: u64, id: u64) -> RunStream {
        RunStream {
            rng: Rng::new(seed, id),
            chooser: wl.chooser.clone(),
            field_length: wl.field_length.clone(),
            scan_length: wl.scan_length.clone(),
            ops: 0,
            next_shift_at: 0,
            wl,
        }
    }

    /// The number of operations produced so far.
    pub fn operations(&self) -> u64 {
        self.ops
    }

    /// Chooses a keynum as a read would (YCSB's `nextKeynum`), without building an operation.
    #[inline]
    pub fn next_keynum(&mut self) -> i64 {
        self.update_epoch();
        self.ops += 1;
        self.chooser.next_keynum(&mut self.rng, &self.wl)
    }

    /// YCSB's `DiscreteGenerator.nextString` over the normalised weights.
    #[inline]
    fn next_kind(&mut self) -> OpKind {
        let mut val = self.rng.next_f64();
        let weights = &self.wl.op_weights;
        for &(kind, w) in weights {
            if val < w {
                return kind;
            }
            val -= w;
        }
        // Rounding left `val` just above the last weight.
        weights.last().map_or(OpKind::Read, |w| w.0)
    }

    /// Moves a shifting hot set to its current epoch.
    #[inline]
    fn update_epoch(&mut self) {
        let KeyChooser::HotSet(h) = &mut self.chooser else {
            return;
        };
        let c = &self.wl.config;
        if c.hotset_shift_operations > 0 {
            if self.ops >= self.next_shift_at {
                let epoch = self.ops.checked_div(c.hotset_shift_operations).unwrap_or(0);
                h.set_epoch(epoch);
                self.next_shift_at = (epoch + 1).saturating_mul(c.hotset_shift_operations);
            }
        } else if c.hotset_shift_seconds > 0.0 && self.ops.is_multiple_of(CLOCK_CHECK_INTERVAL) {
            let start = *self.wl.run_start.get_or_init(Instant::now);
            let epoch = (start.elapsed().as_secs_f64() / c.hotset_shift_seconds) as u64;
            h.set_epoch(epoch);
        }
    }

    /// Fills `op` with the next operation, reusing its buffers.
    ///
    /// The order of random draws within an operation follows YCSB's `doTransaction*` methods.
    #[inline]
    pub fn next_op(&mut self, op: &mut Operation) {
        self.update_epoch();
        self.ops += 1;
        let kind = self.next_kind();
        op.kind = kind;
        let RunStream { wl, rng, chooser, field_length, scan_length, .. } = self;
        let wl = &**wl;
        let read_fields = |rng: &mut Rng| {
            if wl.config.readallfields {
                FieldSet::All
            } else {
                FieldSet::One(rng.below(u64::from(wl.config.fieldcount)) as u32)
            }
        };
        let write_value = |rng: &mut Rng, len: &mut FieldLength, value: &mut Vec<u8>| {
            if wl.config.writeallfields {
                all_fields(wl, len, rng, value);
            } else {
                one_field(wl, len, rng, value);
            }
        };
        match kind {
            OpKind::Read => {
                op.keynum = chooser.next_keynum(rng, wl);
                wl.write_key(&mut op.key, op.keynum);
                op.fields = read_fields(rng);
            }
            OpKind::Update => {
                op.keynum = chooser.next_keynum(rng, wl);
                wl.write_key(&mut op.key, op.keynum);
                write_value(rng, field_length, &mut op.value);
            }
            OpKind::Insert => {
                op.keynum = wl.inserts.next_value();
                wl.write_key(&mut op.key, op.keynum);
                all_fields(wl, field_length, rng, &mut op.value);
            }
            OpKind::Scan => {
                op.keynum = chooser.next_keynum(rng, wl);
                wl.write_key(&mut op.key, op.keynum);
                op.scan_length = scan_length.next(rng);
                op.fields = read_fields(rng);
            }
            OpKind::ReadModifyWrite => {
                op.keynum = chooser.next_keynum(rng, wl);
                wl.write_key(&mut op.key, op.keynum);
                op.fields = read_fields(rng);
                write_value(rng, field_length, &mut op.value);
            }
            OpKind::Delete => {
                op.keynum = chooser.next_keynum(rng, wl);
                wl.write_key(&mut op.key, op.keynum);
            }
            OpKind::BatchRead => {
                op.batch.clear();
                for _ in 0..wl.config.batchread_size {
                    let k = chooser.next_keynum(rng, wl);
                    // `op.key` is scratch space here; it is left empty.
                    wl.write_key(&mut op.key, k);
                    op.batch.push(k, &op.key);
                }
                op.key.clear();
                op.keynum = op.batch.keynums().first().copied().unwrap_or(0);
                op.fields = read_fields(rng);
            }
        }
    }
}
