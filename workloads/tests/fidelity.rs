//! Fidelity against YCSB's Java client: counts drawn by YCSB's own generators
//! (tests/data/ycsb-java-counts.txt, made by tests/fidelity/YcsbCounts.java from
//! brianfrankcooper/YCSB's sources) must fit the distributions kvlab computes and draws.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{assert_chi2, keynum_counts, scrambled_shares, workload};
use kvlab_workloads::fnvhash64;
use kvlab_workloads::generator::zipfian::Zipfian;

/// The cases of the golden file: name → counts; and the `fnv` line.
fn golden() -> (Vec<i64>, BTreeMap<String, Vec<u64>>) {
    let text = include_str!("data/ycsb-java-counts.txt");
    let mut fnv = Vec::new();
    let mut cases = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("fnv") => fnv = words.map(|w| w.parse().unwrap()).collect(),
            Some("case") => {
                let name = words.next().unwrap().to_string();
                cases.insert(name.clone(), Vec::new());
                current = Some(name);
            }
            Some(n) => cases.get_mut(current.as_ref().unwrap()).unwrap().push(n.parse().unwrap()),
            None => {}
        }
    }
    (fnv, cases)
}

#[test]
fn fnv_hashes_match_java() {
    let (fnv, _) = golden();
    assert_eq!(fnv, (0..4).map(fnvhash64).collect::<Vec<_>>());
}

#[test]
fn java_scrambled_zipfian_fits_kvlab_shares() {
    let (_, cases) = golden();
    for (name, itemcount) in [("scrambled-0-1000", 1001), ("scrambled-0-1100", 1101)] {
        let java = &cases[name];
        let shares = scrambled_shares(itemcount, 0.99, 1_000_000);
        assert_chi2(&format!("YCSB {name} vs kvlab shares"), java, &shares[..1000]);
    }
}

#[test]
fn java_and_kvlab_agree_on_the_hottest_keys() {
    let (_, cases) = golden();
    let java = &cases["scrambled-0-1000"];
    // Workload C's setup in kvlab, drawn with kvlab's generator.
    let wl = workload(
        "recordcount=1000\noperationcount=1000\nreadproportion=1\nrequestdistribution=zipfian\n",
    )
    .unwrap();
    let ours = keynum_counts(&wl, 2_000_000, 1000, 99);
    let top = |c: &[u64]| {
        let mut idx: Vec<usize> = (0..c.len()).collect();
        idx.sort_by_key(|&i| std::cmp::Reverse(c[i]));
        idx.truncate(3);
        idx
    };
    // The three hottest keynums stand far apart (zipfian items 0, 1 and 2).
    assert_eq!(top(java), top(&ours));
    let (nj, no) = (1e7, 2e6);
    for k in top(java) {
        let (pj, po) = (java[k] as f64 / nj, ours[k] as f64 / no);
        let sigma = (pj * (1.0 - pj) / no).sqrt() + (pj * (1.0 - pj) / nj).sqrt();
        assert!((pj - po).abs() < 5.0 * sigma, "keynum {k}: YCSB {pj} vs kvlab {po}");
    }
}

#[test]
fn java_latest_fits_kvlab() {
    let (_, cases) = golden();
    let z = Zipfian::new(0, 998, 0.99);
    let expected: Vec<f64> = (0..1000).map(|k| z.probability(999 - k as u64, 999)).collect();
    assert_chi2("YCSB latest vs kvlab", &cases["latest-1000"], &expected);
}

#[test]
fn java_zipfian_fits_kvlab_probabilities() {
    let (_, cases) = golden();
    for theta in [0.5, 0.99, 1.2] {
        let z = Zipfian::new(0, 99, theta);
        let expected: Vec<f64> = (0..100).map(|i| z.probability(i, 100)).collect();
        assert_chi2(
            &format!("YCSB zipfian θ={theta}"),
            &cases[&format!("zipfian-0-99-{theta}")],
            &expected,
        );
    }
}
