//! Every request distribution (and the length distributions) against its analytic
//! probabilities, by chi-square tests with fixed seeds.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_chi2, keynum_counts, scrambled_shares, workload};
use kvlab_workloads::generator::zipfian::Zipfian;
use kvlab_workloads::values::decode_fields;
use kvlab_workloads::{fnvhash64, Operation, Result, Rng};

const SEED: u64 = 20_261_126;

#[test]
fn uniform_keys() -> Result<()> {
    let wl = workload("recordcount=1000\nreadproportion=1\nrequestdistribution=uniform\n")?;
    let counts = keynum_counts(&wl, 200_000, 1000, SEED);
    assert_chi2("uniform", &counts, &[1.0; 1000]);
    Ok(())
}

#[test]
fn zipfian_generator_matches_its_algorithm_and_the_zipf_law() {
    for theta in [0.5, 0.99, 1.2] {
        let mut z = Zipfian::new(0, 99, theta);
        let mut rng = Rng::new(SEED, 1);
        let mut counts = vec![0u64; 100];
        for _ in 0..300_000 {
            counts[z.next_value(&mut rng) as usize] += 1;
        }
        let algorithm: Vec<f64> = (0..100).map(|i| z.probability(i, 100)).collect();
        assert_chi2(&format!("zipfian θ={theta}"), &counts, &algorithm);
        // Gray's method approximates the Zipf law: exact for the two hottest items, close
        // (total variation) over all.
        let zeta: f64 = (1..=100).map(|i| 1.0 / f64::from(i).powf(theta)).sum();
        let law: Vec<f64> = (0..100).map(|i| 1.0 / f64::from(i + 1).powf(theta) / zeta).collect();
        assert!((algorithm[0] - law[0]).abs() < 1e-12);
        assert!((algorithm[1] - law[1]).abs() < 1e-12);
        let tv: f64 = algorithm.iter().zip(&law).map(|(a, b)| (a - b).abs()).sum::<f64>() / 2.0;
        assert!(tv < 0.02, "θ={theta}: total variation {tv}");
    }
}

#[test]
fn scrambled_zipfian_keys_as_ycsb_sets_them_up() -> Result<()> {
    // As CoreWorkload: ScrambledZipfianGenerator(0, 0 + 1000 + 0) has 1001 values; keynum 1000
    // is beyond the last insert and redrawn.
    let wl = workload(
        "recordcount=1000\noperationcount=1000\nreadproportion=1\nrequestdistribution=zipfian\n",
    )?;
    let counts = keynum_counts(&wl, 300_000, 1000, SEED);
    let shares = scrambled_shares(1001, 0.99, 1_000_000);
    assert_chi2("scrambled zipfian θ=0.99", &counts, &shares[..1000]);
    // The hottest key is zipfian item 0, hashed: YCSB's hottest key for this workload.
    let hottest = (0..1000).max_by_key(|&k| counts[k]).unwrap();
    assert_eq!(hottest as i64, fnvhash64(0) % 1001);
    assert_eq!(hottest, 144); // 6284781860667377211 % 1001, computed by hand
    Ok(())
}

#[test]
fn scrambled_zipfian_with_other_constants() -> Result<()> {
    for theta in [0.6, 1.3] {
        let wl = workload(&format!(
            "recordcount=500\noperationcount=0\nreadproportion=1\nrequestdistribution=zipfian\n\
             zipfian.constant={theta}\n"
        ))?;
        let counts = keynum_counts(&wl, 200_000, 500, SEED);
        // YCSB's range is inclusive: [0, 500] holds 501 values; 500 is redrawn.
        let shares = scrambled_shares(501, theta, 1_000_000);
        assert_chi2(&format!("scrambled zipfian θ={theta}"), &counts, &shares[..500]);
    }
    Ok(())
}

#[test]
fn expected_new_keys_widen_the_scrambled_range() -> Result<()> {
    // expectednewkeys = (int)(1000 · 0.05 · 2) = 100: 1101 values, 101 of them not inserted yet.
    let wl = workload(
        "recordcount=1000\noperationcount=1000\nreadproportion=0.95\ninsertproportion=0.05\n\
         requestdistribution=zipfian\n",
    )?;
    assert_eq!(wl.config().expected_new_keys(), 100);
    let mut stream = wl.run_stream(0, SEED);
    let mut op = Operation::new();
    let mut counts = vec![0u64; 1000];
    for _ in 0..200_000 {
        stream.next_op(&mut op);
        if op.kind == kvlab_workloads::OpKind::Read {
            counts[op.keynum as usize] += 1; // never an unacknowledged insert
        }
    }
    let shares = scrambled_shares(1101, 0.99, 1_000_000);
    assert_chi2("scrambled zipfian over 1101", &counts, &shares[..1000]);
    Ok(())
}

#[test]
fn latest_counts_back_from_the_last_insert() -> Result<()> {
    let wl = workload("recordcount=1000\nreadproportion=1\nrequestdistribution=latest\n")?;
    let counts = keynum_counts(&wl, 200_000, 1000, SEED);
    // SkewedLatestGenerator: 999 − zipfian over 999 items (YCSB's ZipfianGenerator(999)).
    let z = Zipfian::new(0, 998, 0.99);
    let expected: Vec<f64> = (0..1000).map(|k| z.probability(999 - k as u64, 999)).collect();
    assert_chi2("latest", &counts, &expected);
    assert!(counts[999] > counts[998] && counts[998] > counts[990]);
    Ok(())
}

#[test]
fn hotspot_keys() -> Result<()> {
    let wl = workload(
        "recordcount=1000\nreadproportion=1\nrequestdistribution=hotspot\n\
         hotspotdatafraction=0.2\nhotspotopnfraction=0.8\n",
    )?;
    let counts = keynum_counts(&wl, 200_000, 1000, SEED);
    let expected: Vec<f64> =
        (0..1000).map(|k| if k < 200 { 0.8 / 200.0 } else { 0.2 / 800.0 }).collect();
    assert_chi2("hotspot", &counts, &expected);
    Ok(())
}

#[test]
fn exponential_keys() -> Result<()> {
    let wl = workload("recordcount=1000\nreadproportion=1\nrequestdistribution=exponential\n")?;
    let counts = keynum_counts(&wl, 200_000, 1000, SEED);
    let gamma = -(1.0f64 - 0.95).ln() / (1000.0 * 0.857_142_857_1);
    // keynum = 999 − floor(X), X ~ Exp(γ), redrawn when negative.
    let expected: Vec<f64> = (0..1000)
        .map(|k| {
            let j = (999 - k) as f64;
            (-gamma * j).exp() - (-gamma * (j + 1.0)).exp()
        })
        .collect();
    assert_chi2("exponential", &counts, &expected);
    Ok(())
}

#[test]
fn sequential_keys() -> Result<()> {
    let wl = workload(
        "recordcount=10\ninsertstart=2\ninsertcount=5\nreadproportion=1\n\
         requestdistribution=sequential\n",
    )?;
    let mut stream = wl.run_stream(0, SEED);
    let mut op = Operation::new();
    let keynums: Vec<i64> = (0..12)
        .map(|_| {
            stream.next_op(&mut op);
            op.keynum
        })
        .collect();
    assert_eq!(keynums, vec![2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 2, 3]);
    Ok(())
}

#[test]
fn single_key() -> Result<()> {
    let wl = workload(
        "recordcount=100\nreadproportion=0.9\nupdateproportion=0.1\nrequestdistribution=single\n\
         single.keynum=17\n",
    )?;
    let counts = keynum_counts(&wl, 10_000, 100, SEED);
    assert_eq!(counts[17], 10_000);
    Ok(())
}

#[test]
fn hotset_keys_uniform_and_zipfian() -> Result<()> {
    let wl = workload(
        "recordcount=1000\nreadproportion=1\nrequestdistribution=hotset\nhotset.keys=10\n\
         hotset.fraction=0.9\nhotset.offset=995\n",
    )?;
    let counts = keynum_counts(&wl, 200_000, 1000, SEED);
    let hot = |k: usize| !(5..995).contains(&k);
    let expected: Vec<f64> = (0..1000).map(|k| if hot(k) { 0.09 } else { 0.1 / 990.0 }).collect();
    assert_chi2("hotset uniform", &counts, &expected);

    let wl = workload(
        "recordcount=1000\nreadproportion=1\nrequestdistribution=hotset\nhotset.keys=10\n\
         hotset.fraction=0.5\nhotset.distribution=zipfian\nhotset.offset=100\n",
    )?;
    let counts = keynum_counts(&wl, 200_000, 1000, SEED);
    let z = Zipfian::new(0, 9, 0.99);
    let expected: Vec<f64> = (0..1000)
        .map(|k| {
            if (100..110).contains(&k) {
                0.5 * z.probability(k as u64 - 100, 10)
            } else {
                0.5 / 990.0
            }
        })
        .collect();
    assert_chi2("hotset zipfian", &counts, &expected);
    Ok(())
}

/// The `k` most frequent keynums, sorted.
fn top(counts: &[u64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..counts.len()).collect();
    idx.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
    let mut t = idx[..k].to_vec();
    t.sort_unstable();
    t
}

#[test]
fn hotset_shifts_every_n_operations() -> Result<()> {
    let wl = workload(
        "recordcount=1000\nreadproportion=1\nrequestdistribution=hotset\nhotset.keys=5\n\
         hotset.fraction=1\nhotset.shift.operations=1000\nseed=3\n",
    )?;
    let mut stream = wl.run_stream(0, 3);
    let mut op = Operation::new();
    let mut sets = Vec::new();
    for _ in 0..3 {
        let mut counts = vec![0u64; 1000];
        for _ in 0..1000 {
            stream.next_op(&mut op);
            counts[op.keynum as usize] += 1;
        }
        assert_eq!(counts.iter().filter(|&&c| c > 0).count(), 5);
        sets.push(top(&counts, 5));
    }
    assert_eq!(sets[0], vec![0, 1, 2, 3, 4]);
    assert_ne!(sets[0], sets[1]);
    assert_ne!(sets[1], sets[2]);
    // Another thread sees the same hot set in the same epoch.
    let mut other = wl.run_stream(1, 3);
    let mut counts = vec![0u64; 1000];
    for _ in 0..2000 {
        other.next_op(&mut op);
        counts[op.keynum as usize] += 1;
    }
    let mut both = sets[0].clone();
    both.extend(&sets[1]);
    both.sort_unstable();
    assert_eq!(top(&counts, 10), both);
    Ok(())
}

#[test]
fn hotset_shifts_every_t_seconds() -> Result<()> {
    let wl = workload(
        "recordcount=1000\nreadproportion=1\nrequestdistribution=hotset\nhotset.keys=5\n\
         hotset.fraction=1\nhotset.shift.seconds=0.05\n",
    )?;
    wl.start_clock();
    let mut stream = wl.run_stream(0, SEED);
    let mut op = Operation::new();
    let mut first = vec![0u64; 1000];
    for _ in 0..64 {
        stream.next_op(&mut op);
        first[op.keynum as usize] += 1;
    }
    std::thread::sleep(std::time::Duration::from_millis(120));
    let mut second = vec![0u64; 1000];
    for _ in 0..64 {
        stream.next_op(&mut op);
        second[op.keynum as usize] += 1;
    }
    assert!(first[..5].iter().sum::<u64>() == 64, "epoch 0 is at hotset.offset");
    assert!(second[..5].iter().sum::<u64>() < 64, "the hot set moved");
    Ok(())
}

#[test]
fn scan_lengths_uniform() -> Result<()> {
    let wl = workload(
        "recordcount=1000\nreadproportion=0\nupdateproportion=0\nscanproportion=1\n\
         maxscanlength=100\nrequestdistribution=uniform\n",
    )?;
    let mut stream = wl.run_stream(0, SEED);
    let mut op = Operation::new();
    let mut counts = vec![0u64; 101];
    for _ in 0..100_000 {
        stream.next_op(&mut op);
        counts[op.scan_length] += 1;
    }
    let expected: Vec<f64> = (0..101).map(|l| if l == 0 { 0.0 } else { 1.0 }).collect();
    assert_chi2("scan length", &counts, &expected);
    Ok(())
}

#[test]
fn field_lengths_uniform_and_zipfian() -> Result<()> {
    for dist in ["uniform", "zipfian"] {
        let wl = workload(&format!(
            "recordcount=20000\nfieldcount=5\nfieldlength=50\nminfieldlength=10\n\
             fieldlengthdistribution={dist}\n"
        ))?;
        let mut load = wl.load_stream(0, 1, SEED);
        let mut op = Operation::new();
        let mut counts = vec![0u64; 51];
        while load.next_op(&mut op) {
            for (_, data) in decode_fields(&op.value) {
                counts[data.len()] += 1;
            }
        }
        let z = Zipfian::new(10, 50, 0.99);
        let expected: Vec<f64> = (0..51)
            .map(|l| match (l < 10, dist) {
                (true, _) => 0.0,
                (false, "uniform") => 1.0,
                (false, _) => z.probability(l as u64 - 10, 41),
            })
            .collect();
        assert_chi2(&format!("field length {dist}"), &counts, &expected);
    }
    Ok(())
}
