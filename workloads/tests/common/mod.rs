//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use kvlab_workloads::generator::zipfian::{ScrambledZipfian, ITEM_COUNT};
use kvlab_workloads::{fnvhash64, CoreWorkload, Operation, Properties, Result};

/// A workload from property text (loaded into a fresh workload; no load phase run).
pub fn workload(text: &str) -> Result<Arc<CoreWorkload>> {
    CoreWorkload::new(&Properties::from_text(text, "test")?)
}

/// The upper critical value of chi-square with `df` degrees of freedom at p = 1e-4
/// (Wilson–Hilferty approximation).
pub fn chi2_critical(df: usize) -> f64 {
    let df = df as f64;
    let z = 3.719;
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

/// Chi-square goodness of fit of `observed` counts against `expected` probabilities (which
/// are renormalised); bins with expected count below 5 are pooled. Panics with the statistic,
/// the critical value and `what` when the fit is rejected at p = 1e-4.
pub fn assert_chi2(what: &str, observed: &[u64], expected: &[f64]) {
    assert_eq!(observed.len(), expected.len());
    let n: u64 = observed.iter().sum();
    let total: f64 = expected.iter().sum();
    let (mut stat, mut bins) = (0.0, 0usize);
    let (mut pooled_o, mut pooled_e) = (0.0, 0.0);
    for (&o, &p) in observed.iter().zip(expected) {
        let e = p / total * n as f64;
        if e < 5.0 {
            pooled_o += o as f64;
            pooled_e += e;
            continue;
        }
        stat += (o as f64 - e).powi(2) / e;
        bins += 1;
    }
    if pooled_e >= 5.0 {
        stat += (pooled_o - pooled_e).powi(2) / pooled_e;
        bins += 1;
    } else {
        assert!(pooled_o <= pooled_e + 10.0, "{what}: {pooled_o} draws in near-impossible bins");
    }
    let critical = chi2_critical(bins.saturating_sub(1).max(1));
    assert!(stat < critical, "{what}: chi-square {stat:.1} ≥ {critical:.1} over {bins} bins");
}

/// Counts the keynums of `n` run-phase operations of thread 0 (batch reads count every key).
pub fn keynum_counts(wl: &Arc<CoreWorkload>, n: usize, bins: usize, seed: u64) -> Vec<u64> {
    let mut counts = vec![0u64; bins];
    let mut stream = wl.run_stream(0, seed);
    let mut op = Operation::new();
    for _ in 0..n {
        stream.next_op(&mut op);
        counts[op.keynum as usize] += 1;
    }
    counts
}

/// The exact share of each keynum under YCSB's scrambled zipfian over `itemcount` values
/// (`ScrambledZipfianGenerator(0, itemcount - 1)`): the zipfian items below `head` are hashed
/// one by one, the rest (spread evenly by FNV) are shared equally.
pub fn scrambled_shares(itemcount: i64, theta: f64, head: i64) -> Vec<f64> {
    let z = ScrambledZipfian::new(0, itemcount - 1, theta);
    let zipf = z.zipfian();
    let n = (ITEM_COUNT + 1) as u64;
    let mut shares = vec![0.0; itemcount as usize];
    let mut mass = 0.0;
    for i in 0..head {
        let p = zipf.probability(i as u64, n);
        shares[(fnvhash64(i) % itemcount) as usize] += p;
        mass += p;
    }
    for s in &mut shares {
        *s += (1.0 - mass) / itemcount as f64;
    }
    shares
}
