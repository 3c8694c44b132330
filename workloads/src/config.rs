//! The typed, validated form of a workload's properties.
//!
//! [`WorkloadConfig::from_properties`] reads every property [`crate::CoreWorkload`] uses,
//! applies YCSB's defaults, and rejects values YCSB would accept silently and then misbehave
//! on (a proportion of 1.5, `requestdistribution=zipfain`, `insertorder=hased`).
//! workloads/README.md documents every property listed in [`WORKLOAD_PROPERTIES`].

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::properties::Properties;

/// Every property the workload reads, sorted (YCSB's and kvlab's).
pub const WORKLOAD_PROPERTIES: &[&str] = &[
    "batchread.size",
    "batchreadproportion",
    "core_workload_insertion_keep_going_on_error",
    "core_workload_insertion_retry_interval",
    "core_workload_insertion_retry_limit",
    "dataintegrity",
    "deleteproportion",
    "exponential.frac",
    "exponential.percentile",
    "fieldcount",
    "fieldlength",
    "fieldlengthdistribution",
    "fieldlengthhistogram",
    "fieldnameprefix",
    "hotset.distribution",
    "hotset.fraction",
    "hotset.keys",
    "hotset.offset",
    "hotset.shift.operations",
    "hotset.shift.seconds",
    "hotspotdatafraction",
    "hotspotopnfraction",
    "insertcount",
    "insertorder",
    "insertproportion",
    "insertstart",
    "maxscanlength",
    "minfieldlength",
    "minscanlength",
    "operationcount",
    "readallfields",
    "readallfieldsbyname",
    "readmodifywriteproportion",
    "readproportion",
    "recordcount",
    "requestdistribution",
    "scanlengthdistribution",
    "scanproportion",
    "seed",
    "single.keynum",
    "sweep.zipfian.constant",
    "table",
    "updateproportion",
    "workload",
    "writeallfields",
    "zeropadding",
    "zipfian.constant",
];

/// Whether `key` is a property the workload reads.
pub fn is_workload_property(key: &str) -> bool {
    WORKLOAD_PROPERTIES.binary_search(&key).is_ok()
}

/// `requestdistribution`: how keys are chosen in the run phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestDistribution {
    /// Uniform over `[insertstart, insertstart + insertcount)`.
    Uniform,
    /// YCSB's scrambled zipfian over `[insertstart, insertstart + insertcount + expectednewkeys]`.
    Zipfian,
    /// YCSB's skewed-latest: zipfian from the most recently inserted key backwards.
    Latest,
    /// YCSB's hotspot: the low `hotspotdatafraction` of keynums get `hotspotopnfraction` of ops.
    Hotspot,
    /// Keynums in order, shared by all threads (YCSB's `SequentialGenerator`).
    Sequential,
    /// YCSB's exponential, counting back from the last inserted key.
    Exponential,
    /// kvlab: every operation on keynum `single.keynum`.
    Single,
    /// kvlab: `hotset.keys` keys receive `hotset.fraction` of operations; may shift.
    HotSet,
}

impl RequestDistribution {
    /// The accepted names, for error messages.
    const NAMES: &'static str =
        "uniform, zipfian, latest, hotspot, sequential, exponential, single or hotset";

    /// Parses a name.
    fn parse(s: &str) -> Option<RequestDistribution> {
        Some(match s {
            "uniform" => RequestDistribution::Uniform,
            "zipfian" => RequestDistribution::Zipfian,
            "latest" => RequestDistribution::Latest,
            "hotspot" => RequestDistribution::Hotspot,
            "sequential" => RequestDistribution::Sequential,
            "exponential" => RequestDistribution::Exponential,
            "single" => RequestDistribution::Single,
            "hotset" => RequestDistribution::HotSet,
            _ => return None,
        })
    }
}

/// `fieldlengthdistribution`: how long field values are.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldLengthDistribution {
    /// Always `fieldlength`.
    Constant,
    /// Uniform over `[minfieldlength, fieldlength]`.
    Uniform,
    /// Zipfian over `[minfieldlength, fieldlength]` (short values most common).
    Zipfian,
    /// Drawn from the histogram file `fieldlengthhistogram`.
    Histogram(PathBuf),
}

/// `scanlengthdistribution`: how many records a scan reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanLengthDistribution {
    /// Uniform over `[minscanlength, maxscanlength]`.
    Uniform,
    /// Zipfian over `[minscanlength, maxscanlength]`.
    Zipfian,
}

/// Every workload property, typed and validated, with YCSB's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadConfig {
    /// `table` (default `usertable`); bindings may use it as a key prefix or ignore it.
    pub table: String,
    /// `recordcount`: records in the database after the load phase (required).
    pub recordcount: u64,
    /// `operationcount`: operations of the run phase, over all threads (default 0).
    pub operationcount: u64,
    /// `fieldcount` (default 10).
    pub fieldcount: u32,
    /// `fieldlength` (default 100): the field length, or the maximum for non-constant ones.
    pub fieldlength: u32,
    /// `minfieldlength` (default 1).
    pub minfieldlength: u32,
    /// `fieldlengthdistribution` (default `constant`) with `fieldlengthhistogram`.
    pub fieldlengthdistribution: FieldLengthDistribution,
    /// `fieldnameprefix` (default `field`).
    pub fieldnameprefix: String,
    /// `readallfields` (default true).
    pub readallfields: bool,
    /// `readallfieldsbyname` (default false): bindings name all fields instead of "all".
    pub readallfieldsbyname: bool,
    /// `writeallfields` (default false).
    pub writeallfields: bool,
    /// `readproportion` (default 0.95).
    pub readproportion: f64,
    /// `updateproportion` (default 0.05).
    pub updateproportion: f64,
    /// `insertproportion` (default 0).
    pub insertproportion: f64,
    /// `scanproportion` (default 0).
    pub scanproportion: f64,
    /// `readmodifywriteproportion` (default 0).
    pub readmodifywriteproportion: f64,
    /// kvlab `deleteproportion` (default 0).
    pub deleteproportion: f64,
    /// kvlab `batchreadproportion` (default 0).
    pub batchreadproportion: f64,
    /// kvlab `batchread.size` (default 10): keys per batch read.
    pub batchread_size: u32,
    /// `requestdistribution` (default `uniform`).
    pub requestdistribution: RequestDistribution,
    /// `minscanlength` (default 1).
    pub minscanlength: u32,
    /// `maxscanlength` (default 1000).
    pub maxscanlength: u32,
    /// `scanlengthdistribution` (default `uniform`).
    pub scanlengthdistribution: ScanLengthDistribution,
    /// `insertorder` (default `hashed`): true when `ordered`.
    pub ordered_inserts: bool,
    /// `hotspotdatafraction` (default 0.2).
    pub hotspotdatafraction: f64,
    /// `hotspotopnfraction` (default 0.8).
    pub hotspotopnfraction: f64,
    /// `zeropadding` (default 1).
    pub zeropadding: u32,
    /// `insertstart` (default 0).
    pub insertstart: u64,
    /// `insertcount` (default `recordcount − insertstart`).
    pub insertcount: u64,
    /// `exponential.percentile` (default 95).
    pub exponential_percentile: f64,
    /// `exponential.frac` (default 0.8571428571).
    pub exponential_frac: f64,
    /// kvlab `zipfian.constant` θ (default 0.99).
    pub zipfian_constant: f64,
    /// kvlab `sweep.zipfian.constant`: θ values for suites to sweep (default empty).
    pub sweep_zipfian_constant: Vec<f64>,
    /// kvlab `seed` (default 0).
    pub seed: u64,
    /// kvlab `single.keynum` (default `insertstart`).
    pub single_keynum: u64,
    /// kvlab `hotset.keys` (default 10, or `insertcount` if smaller).
    pub hotset_keys: u64,
    /// kvlab `hotset.fraction` (default 0.9).
    pub hotset_fraction: f64,
    /// kvlab `hotset.offset` (default 0): the hot set's first keynum minus `insertstart`.
    pub hotset_offset: u64,
    /// kvlab `hotset.distribution` (default `uniform`): true for `zipfian`.
    pub hotset_zipfian: bool,
    /// kvlab `hotset.shift.operations` (default 0 = never): per-thread operations per epoch.
    pub hotset_shift_operations: u64,
    /// kvlab `hotset.shift.seconds` (default 0 = never): seconds per epoch.
    pub hotset_shift_seconds: f64,
    /// `core_workload_insertion_retry_limit` (default 0), for the harness's load phase.
    pub insertion_retry_limit: u32,
    /// `core_workload_insertion_retry_interval` seconds (default 3).
    pub insertion_retry_interval: u32,
    /// `core_workload_insertion_keep_going_on_error` (default false).
    pub insertion_keep_going_on_error: bool,
}

/// Checks that a θ can drive Gray's algorithm.
fn check_theta(props: &Properties, key: &str, theta: f64) -> Result<()> {
    if theta > 0.0 && theta != 1.0 && theta <= 10.0 {
        Ok(())
    } else {
        Err(props.invalid(key, "a zipfian constant θ with 0 < θ ≤ 10 and θ ≠ 1"))
    }
}

/// Reads a `u32`.
fn get_u32(props: &Properties, key: &str, default: u32) -> Result<u32> {
    props.get_parsed_or(key, default, "a non-negative integer below 2^32")
}

impl WorkloadConfig {
    /// Reads and validates every workload property.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a value that does not parse or is out of range, naming the
    /// property, its source, the value and what is expected; [`Error::Missing`] without
    /// `recordcount`; [`Error::Inconsistent`] for properties that contradict each other.
    pub fn from_properties(p: &Properties) -> Result<WorkloadConfig> {
        if let Some(w) = p.get("workload") {
            if !w.trim().ends_with("CoreWorkload") {
                return Err(p.invalid("workload", "a CoreWorkload class (or no `workload`)"));
            }
        }
        if p.get_bool_or("dataintegrity", false)? {
            return Err(
                p.invalid("dataintegrity", "`false` (data integrity checks are not supported)")
            );
        }
        if !p.contains("recordcount") {
            return Err(Error::Missing {
                key: "recordcount".into(),
                expected: "the number of records to load, a positive integer".into(),
            });
        }
        let recordcount = p.get_u64_or("recordcount", 0)?;
        if recordcount == 0 || recordcount > i64::MAX as u64 / 4 {
            return Err(p.invalid("recordcount", "a positive integer"));
        }
        let operationcount = p.get_u64_or("operationcount", 0)?;
        let insertstart = p.get_u64_or("insertstart", 0)?;
        if insertstart >= recordcount {
            return Err(p.invalid("insertstart", &format!("less than recordcount ({recordcount})")));
        }
        let insertcount = p.get_u64_or("insertcount", recordcount - insertstart)?;
        if insertcount == 0 || insertstart + insertcount > recordcount {
            return Err(Error::Inconsistent(format!(
                "insertstart ({insertstart}) + insertcount ({insertcount}) must be at most \
                 recordcount ({recordcount}), and insertcount positive"
            )));
        }

        let fieldcount = get_u32(p, "fieldcount", 10)?;
        if fieldcount == 0 {
            return Err(p.invalid("fieldcount", "a positive integer"));
        }
        let fieldlength = get_u32(p, "fieldlength", 100)?;
        let minfieldlength = get_u32(p, "minfieldlength", 1)?;
        let fieldlengthdistribution = match p.get_str_or("fieldlengthdistribution", "constant") {
            "constant" => FieldLengthDistribution::Constant,
            "uniform" => FieldLengthDistribution::Uniform,
            "zipfian" => FieldLengthDistribution::Zipfian,
            "histogram" => FieldLengthDistribution::Histogram(PathBuf::from(
                p.get_str_or("fieldlengthhistogram", "hist.txt"),
            )),
            _ => {
                return Err(
                    p.invalid("fieldlengthdistribution", "constant, uniform, zipfian or histogram")
                )
            }
        };
        if matches!(
            fieldlengthdistribution,
            FieldLengthDistribution::Uniform | FieldLengthDistribution::Zipfian
        ) && minfieldlength > fieldlength
        {
            return Err(Error::Inconsistent(format!(
                "minfieldlength ({minfieldlength}) is greater than fieldlength ({fieldlength})"
            )));
        }

        let proportion = |key: &str, default: f64| p.get_f64_in(key, default, 0.0, 1.0);
        let readproportion = proportion("readproportion", 0.95)?;
        let updateproportion = proportion("updateproportion", 0.05)?;
        let insertproportion = proportion("insertproportion", 0.0)?;
        let scanproportion = proportion("scanproportion", 0.0)?;
        let readmodifywriteproportion = proportion("readmodifywriteproportion", 0.0)?;
        let deleteproportion = proportion("deleteproportion", 0.0)?;
        let batchreadproportion = proportion("batchreadproportion", 0.0)?;
        let total = readproportion
            + updateproportion
            + insertproportion
            + scanproportion
            + readmodifywriteproportion
            + deleteproportion
            + batchreadproportion;
        if total <= 0.0 {
            return Err(Error::Inconsistent(
                "the operation proportions (readproportion, updateproportion, insertproportion, \
                 scanproportion, readmodifywriteproportion, deleteproportion, \
                 batchreadproportion) sum to 0: no operation to run"
                    .into(),
            ));
        }
        let batchread_size = get_u32(p, "batchread.size", 10)?;
        if batchread_size == 0 {
            return Err(p.invalid("batchread.size", "a positive integer"));
        }

        let dist_name = p.get_str_or("requestdistribution", "uniform");
        let requestdistribution = RequestDistribution::parse(dist_name)
            .ok_or_else(|| p.invalid("requestdistribution", RequestDistribution::NAMES))?;

        let minscanlength = get_u32(p, "minscanlength", 1)?;
        let maxscanlength = get_u32(p, "maxscanlength", 1000)?;
        if minscanlength > maxscanlength {
            return Err(Error::Inconsistent(format!(
                "minscanlength ({minscanlength}) is greater than maxscanlength ({maxscanlength})"
            )));
        }
        let scanlengthdistribution = match p.get_str_or("scanlengthdistribution", "uniform") {
            "uniform" => ScanLengthDistribution::Uniform,
            "zipfian" => ScanLengthDistribution::Zipfian,
            _ => return Err(p.invalid("scanlengthdistribution", "uniform or zipfian")),
        };
        let ordered_inserts = match p.get_str_or("insertorder", "hashed") {
            "hashed" => false,
            "ordered" => true,
            _ => return Err(p.invalid("insertorder", "hashed or ordered")),
        };
        let hotspotdatafraction = p.get_f64_in("hotspotdatafraction", 0.2, 0.0, 1.0)?;
        let hotspotopnfraction = p.get_f64_in("hotspotopnfraction", 0.8, 0.0, 1.0)?;
        let zeropadding = get_u32(p, "zeropadding", 1)?;
        if zeropadding > 64 {
            return Err(p.invalid("zeropadding", "at most 64"));
        }
        let exponential_percentile = p.get_f64_or("exponential.percentile", 95.0)?;
        if !(exponential_percentile > 0.0 && exponential_percentile < 100.0) {
            return Err(
                p.invalid("exponential.percentile", "a percentile strictly between 0 and 100")
            );
        }
        let exponential_frac = p.get_f64_or("exponential.frac", 0.857_142_857_1)?;
        if exponential_frac <= 0.0 {
            return Err(p.invalid("exponential.frac", "a positive number"));
        }
        let zipfian_constant = p.get_f64_or("zipfian.constant", 0.99)?;
        check_theta(p, "zipfian.constant", zipfian_constant)?;
        let sweep_zipfian_constant = p.get_f64_list("sweep.zipfian.constant")?;
        for &t in &sweep_zipfian_constant {
            check_theta(p, "sweep.zipfian.constant", t)?;
        }
        let seed = p.get_u64_or("seed", 0)?;

        let single_keynum = p.get_u64_or("single.keynum", insertstart)?;
        if requestdistribution == RequestDistribution::Single && single_keynum >= recordcount {
            return Err(
                p.invalid("single.keynum", &format!("a keynum below recordcount ({recordcount})"))
            );
        }
        let is_hotset = requestdistribution == RequestDistribution::HotSet;
        let hotset_keys = p.get_u64_or("hotset.keys", 10.min(insertcount))?;
        if is_hotset && (hotset_keys == 0 || hotset_keys > insertcount) {
            return Err(
                p.invalid("hotset.keys", &format!("between 1 and insertcount ({insertcount})"))
            );
        }
        let hotset_fraction = p.get_f64_in("hotset.fraction", 0.9, 0.0, 1.0)?;
        if is_hotset && hotset_keys == insertcount && hotset_fraction < 1.0 {
            return Err(Error::Inconsistent(format!(
                "hotset.keys ({hotset_keys}) covers every key, so hotset.fraction must be 1"
            )));
        }
        let hotset_offset = p.get_u64_or("hotset.offset", 0)?;
        let hotset_zipfian = match p.get_str_or("hotset.distribution", "uniform") {
            "uniform" => false,
            "zipfian" => true,
            _ => return Err(p.invalid("hotset.distribution", "uniform or zipfian")),
        };
        let hotset_shift_operations = p.get_u64_or("hotset.shift.operations", 0)?;
        let hotset_shift_seconds = p.get_f64_or("hotset.shift.seconds", 0.0)?;
        if hotset_shift_seconds < 0.0 {
            return Err(p.invalid("hotset.shift.seconds", "a non-negative number of seconds"));
        }
        if hotset_shift_operations > 0 && hotset_shift_seconds > 0.0 {
            return Err(Error::Inconsistent(
                "set hotset.shift.operations or hotset.shift.seconds, not both".into(),
            ));
        }

        Ok(WorkloadConfig {
            table: p.get_str_or("table", "usertable").to_string(),
            recordcount,
            operationcount,
            fieldcount,
            fieldlength,
            minfieldlength,
            fieldlengthdistribution,
            fieldnameprefix: p.get_str_or("fieldnameprefix", "field").to_string(),
            readallfields: p.get_bool_or("readallfields", true)?,
            readallfieldsbyname: p.get_bool_or("readallfieldsbyname", false)?,
            writeallfields: p.get_bool_or("writeallfields", false)?,
            readproportion,
            updateproportion,
            insertproportion,
            scanproportion,
            readmodifywriteproportion,
            deleteproportion,
            batchreadproportion,
            batchread_size,
            requestdistribution,
            minscanlength,
            maxscanlength,
            scanlengthdistribution,
            ordered_inserts,
            hotspotdatafraction,
            hotspotopnfraction,
            zeropadding,
            insertstart,
            insertcount,
            exponential_percentile,
            exponential_frac,
            zipfian_constant,
            sweep_zipfian_constant,
            seed,
            single_keynum,
            hotset_keys,
            hotset_fraction,
            hotset_offset,
            hotset_zipfian,
            hotset_shift_operations,
            hotset_shift_seconds,
            insertion_retry_limit: get_u32(p, "core_workload_insertion_retry_limit", 0)?,
            insertion_retry_interval: get_u32(p, "core_workload_insertion_retry_interval", 3)?,
            insertion_keep_going_on_error: p
                .get_bool_or("core_workload_insertion_keep_going_on_error", false)?,
        })
    }

    /// YCSB's `expectednewkeys = (int)(operationcount · insertproportion · 2.0)`.
    pub fn expected_new_keys(&self) -> i64 {
        (self.operationcount as f64 * self.insertproportion * 2.0) as i32 as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_list_is_sorted() {
        let mut sorted = WORKLOAD_PROPERTIES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, WORKLOAD_PROPERTIES);
    }
}
