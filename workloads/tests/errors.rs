//! Every class of bad input gives an error naming the property, its source, the bad value
//! and what was expected.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use kvlab_workloads::{CoreWorkload, Error, Properties};

/// The error message for a workload built from `text` (read as file `wl`).
fn error_of(text: &str) -> String {
    let props = Properties::from_text(text, "wl").unwrap();
    CoreWorkload::new(&props).unwrap_err().to_string()
}

#[test]
fn non_numeric_values() {
    assert_eq!(
        error_of("recordcount=1000\nfieldcount=ten\n"),
        "property `fieldcount` (wl:2): bad value `ten`: expected a non-negative integer below 2^32"
    );
    assert_eq!(
        error_of("recordcount=1000\nreadproportion=half\n"),
        "property `readproportion` (wl:2): bad value `half`: expected a number"
    );
    assert_eq!(
        error_of("recordcount=1000\nreadallfields=yes\n"),
        "property `readallfields` (wl:2): bad value `yes`: expected `true` or `false`"
    );
}

#[test]
fn out_of_range_proportions() {
    assert_eq!(
        error_of("recordcount=10\nupdateproportion=1.5\n"),
        "property `updateproportion` (wl:2): bad value `1.5`: expected a number between 0 and 1"
    );
    assert_eq!(
        error_of("recordcount=10\nreadproportion=-0.1\n"),
        "property `readproportion` (wl:2): bad value `-0.1`: expected a number between 0 and 1"
    );
}

#[test]
fn proportions_summing_to_zero() {
    let e = error_of("recordcount=10\nreadproportion=0\nupdateproportion=0\n");
    assert!(e.starts_with("inconsistent properties: the operation proportions"), "{e}");
    assert!(e.contains("sum to 0"), "{e}");
}

#[test]
fn negative_and_missing_counts() {
    assert_eq!(
        error_of("recordcount=-5\n"),
        "property `recordcount` (wl:1): bad value `-5`: expected a non-negative integer"
    );
    assert_eq!(
        error_of("recordcount=100\noperationcount=-1\n"),
        "property `operationcount` (wl:2): bad value `-1`: expected a non-negative integer"
    );
    assert_eq!(
        error_of("readproportion=1\n"),
        "property `recordcount` is required: expected the number of records to load, a positive \
         integer"
    );
    let e = error_of("recordcount=10\ninsertstart=5\ninsertcount=6\n");
    assert!(
        e.contains("insertstart (5) + insertcount (6) must be at most recordcount (10)"),
        "{e}"
    );
}

#[test]
fn unknown_names() {
    assert_eq!(
        error_of("recordcount=10\nrequestdistribution=zipfain\n"),
        "property `requestdistribution` (wl:2): bad value `zipfain`: expected uniform, zipfian, \
         latest, hotspot, sequential, exponential, single or hotset"
    );
    assert_eq!(
        error_of("recordcount=10\ninsertorder=hased\n"),
        "property `insertorder` (wl:2): bad value `hased`: expected hashed or ordered"
    );
    assert_eq!(
        error_of("recordcount=10\nfieldlengthdistribution=normal\n"),
        "property `fieldlengthdistribution` (wl:2): bad value `normal`: expected constant, \
         uniform, zipfian or histogram"
    );
    let e = error_of("recordcount=10\nzipfian.constant=1\n");
    assert!(e.contains("`zipfian.constant` (wl:2): bad value `1`"), "{e}");
}

#[test]
fn overrides_are_named_as_such() {
    let props = Properties::load(
        &[],
        &[("recordcount".into(), "10".into()), ("scanproportion".into(), "2".into())],
    )
    .unwrap();
    assert_eq!(
        CoreWorkload::new(&props).unwrap_err().to_string(),
        "property `scanproportion` (-p override): bad value `2`: expected a number between 0 and 1"
    );
}

#[test]
fn missing_files() {
    let err = Properties::load(&[PathBuf::from("/no/such/workload")], &[]).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().starts_with("cannot read property file /no/such/workload: "), "{err}");
    let e = error_of(
        "recordcount=10\nfieldlengthdistribution=histogram\nfieldlengthhistogram=/no/hist.txt\n",
    );
    assert!(e.starts_with("cannot read field length histogram file /no/hist.txt: "), "{e}");
}

#[test]
fn unknown_keys_are_listed_once() {
    let props =
        Properties::from_text("recordcount=10\nreadproportoin=1\nthreadcount=4\nfoo=1\n", "wl")
            .unwrap();
    assert_eq!(props.unknown_keys(|k| k == "threadcount"), vec!["foo", "readproportoin"]);
}
