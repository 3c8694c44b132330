//! CoreWorkload behaviour: key names, the load phase, the operation mix, seeded determinism,
//! acknowledged inserts, batch reads and the shipped workload files.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{assert_chi2, workload};
use kvlab_workloads::values::decode_fields;
use kvlab_workloads::{
    CoreWorkload, FieldSet, OpKind, Operation, Properties, RequestDistribution, Result,
};

const SEED: u64 = 7;

#[test]
fn key_names_for_both_insert_orders() -> Result<()> {
    let hashed = workload("recordcount=10\n")?;
    // FNV-1a 64 of keynums 0..3, computed independently from the algorithm.
    assert_eq!(hashed.key(0), "user6284781860667377211");
    assert_eq!(hashed.key(1), "user8517097267634966620");
    assert_eq!(hashed.key(2), "user1820151046732198393");
    assert_eq!(hashed.key(3), "user4052466453699787802");
    let ordered = workload("recordcount=10\ninsertorder=ordered\nzeropadding=6\n")?;
    assert_eq!(ordered.key(0), "user000000");
    assert_eq!(ordered.key(42), "user000042");
    assert_eq!(ordered.key(1_234_567), "user1234567");
    Ok(())
}

#[test]
fn load_phase_partitions_keys_in_order() -> Result<()> {
    let wl = workload("recordcount=20\ninsertstart=3\ninsertcount=10\ninsertorder=ordered\n")?;
    let mut op = Operation::new();
    let mut all = Vec::new();
    let mut sizes = Vec::new();
    for t in 0..3 {
        let mut s = wl.load_stream(t, 3, SEED);
        let mut n = 0;
        while s.next_op(&mut op) {
            assert_eq!(op.kind, OpKind::Insert);
            assert_eq!(op.key, wl.key(op.keynum).into_bytes());
            let fields: Vec<_> = decode_fields(&op.value).collect();
            assert_eq!(fields.len(), 10);
            assert_eq!(fields[3].0, b"field3");
            assert!(fields.iter().all(|f| f.1.len() == 100));
            all.push(op.keynum);
            n += 1;
        }
        sizes.push(n);
    }
    assert_eq!(sizes, vec![4, 3, 3]);
    assert_eq!(all, (3..13).collect::<Vec<i64>>());
    Ok(())
}

#[test]
fn operation_mix_matches_the_proportions() -> Result<()> {
    let wl = workload(
        "recordcount=1000\nreadproportion=0.3\nupdateproportion=0.2\ninsertproportion=0.1\n\
         scanproportion=0.1\nreadmodifywriteproportion=0.1\ndeleteproportion=0.1\n\
         batchreadproportion=0.1\nbatchread.size=3\n",
    )?;
    let mut s = wl.run_stream(0, SEED);
    let mut op = Operation::new();
    let mut counts = [0u64; 7];
    for _ in 0..100_000 {
        s.next_op(&mut op);
        let i = OpKind::ALL.iter().position(|k| *k == op.kind).unwrap();
        counts[i] += 1;
        if op.kind == OpKind::Insert {
            wl.acknowledge_insert(op.keynum)?;
        }
    }
    assert_chi2("operation mix", &counts, &[0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1]);
    Ok(())
}

#[test]
fn proportions_are_normalised_like_ycsb() -> Result<()> {
    let wl = workload("recordcount=10\nreadproportion=0.2\nupdateproportion=0.2\n")?;
    assert_eq!(wl.operation_mix(), &[(OpKind::Read, 0.5), (OpKind::Update, 0.5)]);
    Ok(())
}

/// A printable summary of `n` operations of one stream.
fn trace(wl: &std::sync::Arc<CoreWorkload>, thread: usize, seed: u64, n: usize) -> Vec<String> {
    let mut s = wl.run_stream(thread, seed);
    let mut op = Operation::new();
    (0..n)
        .map(|_| {
            s.next_op(&mut op);
            if op.kind == OpKind::Insert {
                wl.acknowledge_insert(op.keynum).unwrap();
            }
            let batch: Vec<&[u8]> = op.batch.iter().collect();
            format!("{:?} {:?} {} {:?} {:?}", op.kind, op.key, op.scan_length, op.value, batch)
        })
        .collect()
}

#[test]
fn same_seed_same_thread_same_operations() -> Result<()> {
    let text = "recordcount=1000\noperationcount=1000\nreadproportion=0.4\n\
                updateproportion=0.2\ninsertproportion=0.1\nscanproportion=0.1\n\
                readmodifywriteproportion=0.1\nbatchreadproportion=0.1\n\
                requestdistribution=zipfian\nfieldlengthdistribution=uniform\n\
                writeallfields=true\nreadallfields=false\n";
    let a = trace(&workload(text)?, 0, 42, 5000);
    let b = trace(&workload(text)?, 0, 42, 5000);
    assert_eq!(a, b);
    assert_ne!(a, trace(&workload(text)?, 0, 43, 5000));
    assert_ne!(a, trace(&workload(text)?, 1, 42, 5000));
    Ok(())
}

#[test]
fn reads_never_pass_the_last_acknowledged_insert() -> Result<()> {
    let wl = CoreWorkload::new(&Properties::load(&[files().join("ycsb/workloadd")], &[])?)?;
    let mut s = wl.run_stream(0, SEED);
    let mut op = Operation::new();
    let mut pending = Vec::new();
    for i in 0..20_000 {
        s.next_op(&mut op);
        match op.kind {
            OpKind::Insert => pending.push(op.keynum),
            OpKind::Read => assert!(op.keynum <= wl.last_acknowledged()),
            k => panic!("workload D issued {k}"),
        }
        // Acknowledge inserts late and out of order.
        if i % 50 == 49 {
            pending.reverse();
            for k in pending.drain(..) {
                wl.acknowledge_insert(k)?;
            }
        }
    }
    assert!(wl.last_acknowledged() > 1500);
    Ok(())
}

#[test]
fn read_and_write_field_selection() -> Result<()> {
    let wl = workload(
        "recordcount=100\nreadproportion=0.5\nupdateproportion=0.5\nreadallfields=false\n\
         fieldcount=4\nfieldlength=8\nfieldnameprefix=col\n",
    )?;
    let mut s = wl.run_stream(0, SEED);
    let mut op = Operation::new();
    for _ in 0..1000 {
        s.next_op(&mut op);
        match op.kind {
            OpKind::Read => assert!(matches!(op.fields, FieldSet::One(i) if i < 4)),
            OpKind::Update => {
                let fields: Vec<_> = decode_fields(&op.value).collect();
                assert_eq!(fields.len(), 1);
                assert!(fields[0].0.starts_with(b"col") && fields[0].1.len() == 8);
            }
            k => panic!("unexpected {k}"),
        }
    }
    Ok(())
}

#[test]
fn batch_reads_carry_their_keys() -> Result<()> {
    let wl = CoreWorkload::new(&Properties::load(&[files().join("hotkey/batch-read")], &[])?)?;
    let mut s = wl.run_stream(0, SEED);
    let mut op = Operation::new();
    for _ in 0..100 {
        s.next_op(&mut op);
        assert_eq!(op.kind, OpKind::BatchRead);
        assert_eq!(op.batch.len(), 20);
        for (key, &k) in op.batch.iter().zip(op.batch.keynums()) {
            assert_eq!(key, wl.key(k).as_bytes());
        }
    }
    Ok(())
}

/// The crate's directory.
fn files() -> PathBuf {
    PathBuf::from(manifest_dir())
}

#[test]
fn standard_ycsb_files_have_ycsb_mixes() -> Result<()> {
    use OpKind::*;
    type Expected<'a> = (&'a str, &'a [(OpKind, f64)], RequestDistribution);
    let expect: [Expected; 6] = [
        ("a", &[(Read, 0.5), (Update, 0.5)], RequestDistribution::Zipfian),
        ("b", &[(Read, 0.95), (Update, 0.05)], RequestDistribution::Zipfian),
        ("c", &[(Read, 1.0)], RequestDistribution::Zipfian),
        ("d", &[(Read, 0.95), (Insert, 0.05)], RequestDistribution::Latest),
        ("e", &[(Insert, 0.05), (Scan, 0.95)], RequestDistribution::Zipfian),
        ("f", &[(Read, 0.5), (ReadModifyWrite, 0.5)], RequestDistribution::Zipfian),
    ];
    for (name, mix, dist) in expect {
        let props = Properties::load(&[files().join(format!("ycsb/workload{name}"))], &[])?;
        assert!(props.unknown_keys(|_| false).is_empty(), "workload{name}");
        let wl = CoreWorkload::new(&props)?;
        let c = wl.config();
        assert_eq!((c.recordcount, c.operationcount), (1000, 1000), "workload{name}");
        assert!(c.readallfields);
        assert_eq!(c.requestdistribution, dist, "workload{name}");
        let got: Vec<(OpKind, f64)> = wl.operation_mix().to_vec();
        assert_eq!(got.len(), mix.len(), "workload{name}");
        for ((k1, w1), (k2, w2)) in got.iter().zip(mix) {
            assert_eq!(k1, k2, "workload{name}");
            assert!((w1 - w2).abs() < 1e-12, "workload{name}");
        }
        if name == "e" {
            assert_eq!(c.maxscanlength, 100);
        }
    }
    Ok(())
}

#[test]
fn hot_key_files_build() -> Result<()> {
    for name in ["single", "hotset", "zipf-sweep", "shifting", "batch-read"] {
        let props = Properties::load(&[files().join("hotkey").join(name)], &[])?;
        assert!(props.unknown_keys(|_| false).is_empty(), "{name}");
        let wl = CoreWorkload::new(&props)?;
        let mut s = wl.run_stream(0, wl.seed());
        let mut op = Operation::new();
        for _ in 0..1000 {
            s.next_op(&mut op);
        }
    }
    let sweep = Properties::load(&[files().join("hotkey/zipf-sweep")], &[])?;
    let wl = CoreWorkload::new(&sweep)?;
    assert_eq!(wl.config().sweep_zipfian_constant, vec![0.5, 0.7, 0.9, 0.99, 1.1, 1.2, 1.4]);
    Ok(())
}

#[test]
fn workloads_and_streams_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<CoreWorkload>();
    send::<kvlab_workloads::RunStream>();
    send::<kvlab_workloads::LoadStream>();
    send::<Operation>();
}

#[test]
fn threads_share_the_insert_counter() -> Result<()> {
    let wl = workload(
        "recordcount=1000\noperationcount=80000\nreadproportion=0.5\ninsertproportion=0.5\n\
         requestdistribution=latest\n",
    )?;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let wl = wl.clone();
            std::thread::spawn(move || {
                let mut s = wl.run_stream(t, SEED);
                let mut op = Operation::new();
                let mut inserted = Vec::new();
                for _ in 0..CoreWorkload::share_of(wl.operation_count(), t, 4) {
                    s.next_op(&mut op);
                    if op.kind == OpKind::Insert {
                        wl.acknowledge_insert(op.keynum).unwrap();
                        inserted.push(op.keynum);
                    } else {
                        assert!(op.keynum <= wl.last_acknowledged());
                    }
                }
                inserted
            })
        })
        .collect();
    let mut all: Vec<i64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort_unstable();
    let n = all.len() as i64;
    assert_eq!(all, (1000..1000 + n).collect::<Vec<_>>(), "every keynum handed out once");
    assert_eq!(wl.last_acknowledged(), 999 + n);
    Ok(())
}

#[test]
fn readme_documents_every_property() {
    let readme = std::fs::read_to_string(files().join("README.md")).unwrap();
    for key in kvlab_workloads::WORKLOAD_PROPERTIES {
        assert!(readme.contains(&format!("| `{key}` |")), "README.md lacks a row for `{key}`");
    }
}

/// The package directory of this checkout: cargo sets `CARGO_MANIFEST_DIR` when it runs tests and
/// benches, which stays right when a shared target directory holds a binary built from another
/// checkout; the compile-time value is the fallback.
fn manifest_dir() -> std::ffi::OsString {
    std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}
