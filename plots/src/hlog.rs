//! HdrHistogram interval logs (`hlog/<run>/<phase>-<op>-<latency>.hlog`, values in ns; `op` is
//! a `summary.csv` op: `READ`, or an outcome of it such as `READ-FAILED`): read whole and merged
//! into one histogram per configuration, phase, op and latency kind.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use crate::error::{Error, Result};
use crate::results::Results;

/// Identifies a merged histogram: configuration index, phase, op, latency kind.
pub(crate) type HistKey = (usize, String, String, String);

/// Splits `run-READ-MODIFY-WRITE-service.hlog` into phase, op and latency kind.
fn parse_name(name: &str) -> Option<(String, String, String)> {
    let stem = name.strip_suffix(".hlog")?;
    let (phase, rest) = stem.split_once('-')?;
    let (op, latency) = rest.rsplit_once('-')?;
    (!op.is_empty()).then(|| (phase.to_string(), op.to_string(), latency.to_string()))
}

/// Every interval log under `dir/hlog`, each merged over its intervals and the configuration's
/// repetitions. Empty when the directory is absent; run directories that are not in the
/// CSV files are ignored.
pub(crate) fn load(results: &Results) -> Result<BTreeMap<HistKey, Histogram<u64>>> {
    let root = results.dir.join("hlog");
    let mut out: BTreeMap<HistKey, Histogram<u64>> = BTreeMap::new();
    if !root.is_dir() {
        return Ok(out);
    }
    for (run, &(config, _)) in &results.runs {
        let dir = root.join(run);
        if !dir.is_dir() {
            continue;
        }
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io("cannot read directory", &dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for path in files {
            let Some((phase, op, latency)) =
                path.file_name().and_then(|n| n.to_str()).and_then(parse_name)
            else {
                continue;
            };
            let hist = read_log(&path)?;
            match out.entry((config, phase, op, latency)) {
                Entry::Vacant(slot) => {
                    slot.insert(hist);
                }
                Entry::Occupied(mut slot) => slot
                    .get_mut()
                    .add(&hist)
                    .map_err(|e| Error::format(&path, format!("cannot merge: {e:?}")))?,
            }
        }
    }
    Ok(out)
}

/// One interval log, all its intervals added together.
pub(crate) fn read_log(path: &Path) -> Result<Histogram<u64>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut total: Histogram<u64> =
        Histogram::new(3).map_err(|e| Error::format(path, format!("{e:?}")))?;
    let mut deserializer = Deserializer::new();
    for (i, entry) in IntervalLogIterator::new(&bytes).enumerate() {
        let entry = entry.map_err(|e| Error::format(path, format!("entry {}: {e:?}", i + 1)))?;
        let LogEntry::Interval(interval) = entry else { continue };
        let encoded = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| Error::format(path, format!("entry {}: bad base64: {e}", i + 1)))?;
        let hist: Histogram<u64> = deserializer
            .deserialize(&mut encoded.as_slice())
            .map_err(|e| Error::format(path, format!("entry {}: bad histogram: {e:?}", i + 1)))?;
        total.add(&hist).map_err(|e| Error::format(path, format!("cannot merge: {e:?}")))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_name;

    #[test]
    fn names() {
        let p = |s: &str| parse_name(s).map(|(a, b, c)| format!("{a}|{b}|{c}"));
        assert_eq!(p("run-READ-service.hlog").as_deref(), Some("run|READ|service"));
        assert_eq!(
            p("load-READ-MODIFY-WRITE-intended.hlog").as_deref(),
            Some("load|READ-MODIFY-WRITE|intended")
        );
        assert_eq!(p("run-READ-FAILED-service.hlog").as_deref(), Some("run|READ-FAILED|service"));
        assert_eq!(
            p("run-READ-MODIFY-WRITE-NOT_FOUND-intended.hlog").as_deref(),
            Some("run|READ-MODIFY-WRITE-NOT_FOUND|intended")
        );
        assert_eq!(p("run-service.hlog"), None);
        assert_eq!(p("notes.txt"), None);
    }
}
