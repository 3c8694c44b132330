//! `CoreWorkload`: YCSB's core workload, shared by all client threads.
//!
//! A [`CoreWorkload`] holds what YCSB's `CoreWorkload` shares between threads: the validated
//! properties, the field names, the insert counter with its acknowledgements, the sequential
//! counter, and the prototypes of the generators (with their ζ constants computed once). Each
//! client thread takes a [`LoadStream`] for the load phase and a [`RunStream`] for the run
//! phase; a stream owns its random generator and generator state, so threads share nothing
//! on the hot path but two atomics.
//!
//! # Determinism
//! A stream's choices (operation kinds, keynums, field lengths, value bytes) come from
//! `Rng::new(seed, stream id)`, so the same properties, seed and thread give the same
//! sequence. What YCSB shares between threads is shared here too and depends on how threads
//! interleave: the keynums of run-phase inserts, the limit of acknowledged inserts (which
//! reads never pass), the `sequential` distribution and time-based hot-set shifts. With one
//! thread, or without inserts, `sequential` and `hotset.shift.seconds`, streams are fully
//! reproducible.

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use kvlab_ycsb_keys as keys;

use crate::config::{
    FieldLengthDistribution, RequestDistribution, ScanLengthDistribution, WorkloadConfig,
};
use crate::error::Result;
use crate::generator::counter::AcknowledgedCounter;
use crate::generator::hotset::{HotDistribution, HotSet};
use crate::generator::zipfian::{ScrambledZipfian, Zipfian};
use crate::generator::{Exponential, Histogram, Hotspot, UniformLong};
use crate::operation::OpKind;
use crate::properties::Properties;
use crate::stream::{FieldLength, KeyChooser, LoadStream, RunStream, ScanLength};
use crate::values::ValuePool;

/// Stream ids of load streams are offset so they never coincide with run streams.
const LOAD_STREAM_BASE: u64 = 1 << 32;

/// YCSB's core workload, shared by all client threads (`Arc<CoreWorkload>`).
#[derive(Debug)]
pub struct CoreWorkload {
    /// The validated properties.
    pub(crate) config: WorkloadConfig,
    /// `fieldnameprefix` + index, for each field.
    pub(crate) field_names: Vec<Vec<u8>>,
    /// Random bytes that field data are copied from.
    pub(crate) pool: ValuePool,
    /// Run-phase insert keynums and their acknowledgements.
    pub(crate) inserts: AcknowledgedCounter,
    /// The shared counter of the `sequential` distribution.
    pub(crate) sequential: AtomicI64,
    /// The key chooser that run streams clone.
    pub(crate) chooser: KeyChooser,
    /// The field-length generator that streams clone.
    pub(crate) field_length: FieldLength,
    /// The scan-length generator that run streams clone.
    pub(crate) scan_length: ScanLength,
    /// Operation kinds with their normalised weights, in YCSB's order.
    pub(crate) op_weights: Vec<(OpKind, f64)>,
    /// When the run phase started (for `hotset.shift.seconds`).
    pub(crate) run_start: OnceLock<Instant>,
}

impl CoreWorkload {
    /// Builds the workload from properties (see workloads/README.md for all of them).
    ///
    /// # Errors
    /// Any error of [`WorkloadConfig::from_properties`], and [`crate::Error::Io`] or
    /// [`crate::Error::Syntax`] for a field length histogram file.
    pub fn new(props: &Properties) -> Result<Arc<CoreWorkload>> {
        Ok(Arc::new(CoreWorkload::from_config(WorkloadConfig::from_properties(props)?)?))
    }

    /// Builds the workload from an already validated configuration.
    ///
    /// # Errors
    /// [`crate::Error::Io`] or [`crate::Error::Syntax`] for a field length histogram file;
    /// [`crate::Error::Inconsistent`] for a hotspot with an empty part.
    pub fn from_config(config: WorkloadConfig) -> Result<CoreWorkload> {
        let c = &config;
        let field_names =
            (0..c.fieldcount).map(|i| format!("{}{i}", c.fieldnameprefix).into_bytes()).collect();
        let field_length = match &c.fieldlengthdistribution {
            FieldLengthDistribution::Constant => FieldLength::Constant(c.fieldlength as usize),
            FieldLengthDistribution::Uniform => FieldLength::Uniform(UniformLong::new(
                c.minfieldlength.into(),
                c.fieldlength.into(),
            )),
            // YCSB's ZipfianGenerator(min, max) always uses θ = 0.99.
            FieldLengthDistribution::Zipfian => FieldLength::Zipfian(Zipfian::new(
                c.minfieldlength.into(),
                c.fieldlength.into(),
                crate::generator::zipfian::ZIPFIAN_CONSTANT,
            )),
            FieldLengthDistribution::Histogram(path) => {
                FieldLength::Histogram(Arc::new(Histogram::load(path)?))
            }
        };
        let max_field = match &field_length {
            FieldLength::Histogram(h) => h.max_value().max(0) as usize,
            _ => c.fieldlength as usize,
        };
        let scan_length = match c.scanlengthdistribution {
            ScanLengthDistribution::Uniform => ScanLength::Uniform(UniformLong::new(
                c.minscanlength.into(),
                c.maxscanlength.into(),
            )),
            ScanLengthDistribution::Zipfian => ScanLength::Zipfian(Zipfian::new(
                c.minscanlength.into(),
                c.maxscanlength.into(),
                crate::generator::zipfian::ZIPFIAN_CONSTANT,
            )),
        };
        let chooser = key_chooser(c)?;
        let weights = [
            (OpKind::Read, c.readproportion),
            (OpKind::Update, c.updateproportion),
            (OpKind::Insert, c.insertproportion),
            (OpKind::Scan, c.scanproportion),
            (OpKind::ReadModifyWrite, c.readmodifywriteproportion),
            (OpKind::Delete, c.deleteproportion),
            (OpKind::BatchRead, c.batchreadproportion),
        ];
        let sum: f64 = weights.iter().map(|w| w.1).sum();
        let op_weights = weights.iter().filter(|w| w.1 > 0.0).map(|&(k, w)| (k, w / sum)).collect();
        Ok(CoreWorkload {
            pool: ValuePool::new(c.seed, max_field),
            inserts: AcknowledgedCounter::new(c.recordcount as i64),
            sequential: AtomicI64::new(0),
            field_names,
            chooser,
            field_length,
            scan_length,
            op_weights,
            run_start: OnceLock::new(),
            config,
        })
    }

    /// The validated properties.
    pub fn config(&self) -> &WorkloadConfig {
        &self.config
    }

    /// `recordcount`.
    pub fn record_count(&self) -> u64 {
        self.config.recordcount
    }

    /// `operationcount` (over all threads).
    pub fn operation_count(&self) -> u64 {
        self.config.operationcount
    }

    /// The `seed` property, to pass to [`CoreWorkload::run_stream`] and
    /// [`CoreWorkload::load_stream`].
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// `table`.
    pub fn table(&self) -> &str {
        &self.config.table
    }

    /// The name of field `index` (`fieldnameprefix` + index).
    pub fn field_name(&self, index: u32) -> Option<&[u8]> {
        self.field_names.get(index as usize).map(Vec::as_slice)
    }

    /// The key for `keynum` (hashed unless `insertorder=ordered`, zero-padded, `user` prefix).
    pub fn key(&self, keynum: i64) -> String {
        keys::key_name(keynum, self.config.zeropadding as usize, self.config.ordered_inserts)
    }

    /// Writes the key for `keynum` into `out` without allocating.
    pub fn write_key(&self, out: &mut Vec<u8>, keynum: i64) {
        keys::write_key(out, keynum, self.config.zeropadding as usize, self.config.ordered_inserts);
    }

    /// The operation kinds this workload issues with their shares, in YCSB's order.
    pub fn operation_mix(&self) -> &[(OpKind, f64)] {
        &self.op_weights
    }

    /// How many of `total` operations thread `thread` of `threads` runs, as YCSB's client
    /// splits `operationcount` (the first `total % threads` threads run one more).
    pub fn share_of(total: u64, thread: usize, threads: usize) -> u64 {
        let threads = threads.max(1) as u64;
        let thread = thread as u64;
        total / threads + u64::from(thread < total % threads)
    }

    /// The load-phase stream of thread `thread` of `threads`: inserts of its contiguous share
    /// of the keynums `[insertstart, insertstart + insertcount)`, in keynum order.
    pub fn load_stream(self: &Arc<Self>, thread: usize, threads: usize, seed: u64) -> LoadStream {
        let (start, count) = (self.config.insertstart, self.config.insertcount);
        let threads = threads.max(1);
        let first: u64 = (0..thread.min(threads)).map(|t| Self::share_of(count, t, threads)).sum();
        let len = Self::share_of(count, thread, threads);
        LoadStream::new(
            self.clone(),
            (start + first) as i64,
            (start + first + len) as i64,
            seed,
            LOAD_STREAM_BASE + thread as u64,
        )
    }

    /// The run-phase stream of client thread `thread`.
    pub fn run_stream(self: &Arc<Self>, thread: usize, seed: u64) -> RunStream {
        RunStream::new(self.clone(), seed, thread as u64)
    }

    /// Records that the run-phase insert of `keynum` has completed. Call it whether or not
    /// the insert succeeded (YCSB does, in a `finally`): until it is called, reads never
    /// choose `keynum` or any later keynum.
    ///
    /// # Errors
    /// [`crate::Error::AcknowledgeWindow`] when more than 2²⁰ inserts are outstanding.
    pub fn acknowledge_insert(&self, keynum: i64) -> Result<()> {
        self.inserts.acknowledge(keynum)
    }

    /// The highest keynum reads may choose: every insert up to it has been acknowledged.
    pub fn last_acknowledged(&self) -> i64 {
        self.inserts.last_value()
    }

    /// Marks the start of the run phase for `hotset.shift.seconds` (otherwise the first run
    /// operation of any thread does).
    pub fn start_clock(&self) {
        self.run_start.get_or_init(Instant::now);
    }
}

/// The key chooser prototype for `requestdistribution`, set up as YCSB's `CoreWorkload.init`.
fn key_chooser(c: &WorkloadConfig) -> Result<KeyChooser> {
    let start = c.insertstart as i64;
    let count = c.insertcount as i64;
    let theta = c.zipfian_constant;
    Ok(match c.requestdistribution {
        RequestDistribution::Uniform => {
            KeyChooser::Uniform(UniformLong::new(start, start + count - 1))
        }
        RequestDistribution::Exponential => KeyChooser::Exponential(Exponential::new(
            c.exponential_percentile,
            c.recordcount as f64 * c.exponential_frac,
        )),
        RequestDistribution::Sequential => KeyChooser::Sequential { start, interval: count.max(1) },
        RequestDistribution::Zipfian => KeyChooser::Zipfian(ScrambledZipfian::new(
            start,
            start + count + c.expected_new_keys(),
            theta,
        )),
        // SkewedLatestGenerator: ZipfianGenerator(lastValue()) with lastValue = recordcount − 1,
        // i.e. items [0, recordcount − 2].
        RequestDistribution::Latest => {
            KeyChooser::Latest(Zipfian::new(0, c.recordcount as i64 - 2, theta))
        }
        RequestDistribution::Hotspot => KeyChooser::Hotspot(Hotspot::new(
            start,
            start + count - 1,
            c.hotspotdatafraction,
            c.hotspotopnfraction,
        )?),
        RequestDistribution::Single => KeyChooser::Single(c.single_keynum as i64),
        RequestDistribution::HotSet => {
            let dist = if c.hotset_zipfian {
                HotDistribution::Zipfian(Zipfian::new(0, c.hotset_keys as i64 - 1, theta))
            } else {
                HotDistribution::Uniform
            };
            KeyChooser::HotSet(HotSet::new(
                start,
                count,
                c.hotset_keys as i64,
                c.hotset_fraction,
                c.hotset_offset as i64,
                c.seed,
                dist,
            ))
        }
    })
}
