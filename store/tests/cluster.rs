//! End-to-end tests of the replicated store: the scenarios (a)–(h) of issue 4.
//!
//! Every test is seeded, bounded in time (client timeouts, bounded polling loops) and runs
//! a small in-process cluster; the ones about durability and snapshots use real RocksDB.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client, eventually, key};
use kvlab_store::{
    ClientConfig, Cluster, ClusterConfig, EngineKind, RaftLogStore, ReadPolicy, Result,
};

fn rocks_config(dir: &std::path::Path) -> ClusterConfig {
    ClusterConfig {
        engine: EngineKind::RocksDb,
        dir: Some(dir.to_path_buf()),
        ..ClusterConfig::default()
    }
}

/// A region id whose leader is not `node`, and a key in it.
fn key_led_elsewhere(cluster: &Cluster, node: u64) -> (u64, Vec<u8>) {
    for i in 0..10_000 {
        let k = key(i);
        let region = cluster.topology().locate(&k).id;
        if cluster.leader_of(region) != Some(node)
            && cluster.topology().locate(&k).replicas.contains(&node)
        {
            return (region, k);
        }
    }
    panic!("no region led elsewhere");
}

// (a) writes then reads under every policy, on RocksDB.
#[test]
fn a_writes_then_reads_under_every_policy() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(rocks_config(dir.path()))?;
    let mut w = client(&cluster, ReadPolicy::Leader, 1);
    for i in 0..60 {
        assert!(w.put(&key(i), format!("v{i}").as_bytes())?.node >= 1);
    }
    w.delete(&key(0))?;
    for (n, policy) in ReadPolicy::ALL.into_iter().enumerate() {
        let mut c = client(&cluster, policy, 10 + n as u64);
        for i in 0..60 {
            let want = (i > 0).then(|| format!("v{i}").into_bytes());
            if policy == ReadPolicy::Stale {
                // A follower may not have applied the last writes yet: it converges.
                assert!(
                    eventually(Duration::from_secs(2), || c.get(&key(i)).unwrap().value == want)
                );
                assert!(c.get(&key(i))?.staleness.is_some());
            } else {
                let r = c.get(&key(i))?;
                assert_eq!(r.value, want, "policy {policy} key {i} node {}", r.node);
            }
        }
    }
    let scan = client(&cluster, ReadPolicy::Leader, 3).scan(b"", 1000)?;
    assert_eq!(scan.pairs.len(), 59);
    assert!(scan.pairs.windows(2).all(|w| w[0].0 < w[1].0));
    let keys: Vec<Vec<u8>> = (0..10).map(key).collect();
    let got = client(&cluster, ReadPolicy::Follower, 4).batch_get(&keys)?;
    assert_eq!(got.values[0], None);
    assert_eq!(got.values[5], Some(b"v5".to_vec()));
    cluster.balance_leaders(Duration::from_secs(10))?;
    let m = cluster.metrics();
    assert_eq!(m.len(), 3);
    assert!(m.iter().map(|n| n.reads.follower).sum::<u64>() >= 60);
    assert!(m.iter().map(|n| n.leaders_held).sum::<u64>() == 3);
    assert!(m.iter().all(|n| n.leaders_held == 1), "leaders balanced: {m:?}");
    Ok(())
}

// (b) read-your-writes across different clients.
#[test]
fn b_read_your_writes_across_clients() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig::default())?;
    let mut writer = client(&cluster, ReadPolicy::Leader, 1);
    for (n, policy) in
        [ReadPolicy::Leader, ReadPolicy::Lease, ReadPolicy::Follower, ReadPolicy::Mixed]
            .into_iter()
            .enumerate()
    {
        let mut reader = client(&cluster, policy, 100 + n as u64);
        for i in 0..40u64 {
            let k = key(i % 7);
            let v = format!("{policy}-{i}").into_bytes();
            writer.put(&k, &v)?;
            let r = reader.get(&k)?;
            assert_eq!(r.value, Some(v), "policy {policy} iteration {i} served by node {}", r.node);
        }
    }
    Ok(())
}

// (c) leader crash: re-election, writes and reads continue.
#[test]
fn c_leader_crash_reelection() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig::default())?;
    let mut c = client(&cluster, ReadPolicy::Leader, 1);
    let k = key(42);
    c.put(&k, b"before")?;
    let region = cluster.topology().locate(&k).id;
    let old = cluster.leader_of(region).unwrap();
    cluster.stop_node(old)?;
    let w = c.put(&k, b"after")?;
    assert_ne!(w.node, old);
    for policy in [ReadPolicy::Leader, ReadPolicy::Lease, ReadPolicy::Follower, ReadPolicy::Mixed] {
        let mut r = client(&cluster, policy, 7);
        let got = r.get(&k)?;
        assert_eq!(got.value, Some(b"after".to_vec()), "{policy}");
        assert_ne!(got.node, old);
    }
    cluster.restart_node(old)?;
    let mut s = client(&cluster, ReadPolicy::Stale, 9);
    assert!(eventually(Duration::from_secs(3), || {
        s.get_at(old, &k).map(|r| r.value == Some(b"after".to_vec())).unwrap_or(false)
    }));
    Ok(())
}

// (d) leader transfers during concurrent follower reads never go back in time.
#[test]
fn d_leader_transfer_during_follower_reads_is_monotonic() -> Result<()> {
    let cluster =
        Arc::new(Cluster::start(ClusterConfig { regions: 1, ..ClusterConfig::default() })?);
    let k = key(7);
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    {
        let (cluster, acked, stop, k) = (cluster.clone(), acked.clone(), stop.clone(), k.clone());
        threads.push(std::thread::spawn(move || {
            let mut w = client(&cluster, ReadPolicy::Leader, 1);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                if w.put(&k, &i.to_be_bytes()).is_ok() {
                    acked.store(i, Ordering::SeqCst);
                }
            }
        }));
    }
    let violations = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    for t in 0..2u64 {
        let (cluster, acked, stop, k) = (cluster.clone(), acked.clone(), stop.clone(), k.clone());
        let (violations, reads) = (violations.clone(), reads.clone());
        threads.push(std::thread::spawn(move || {
            let policy = if t == 0 { ReadPolicy::Follower } else { ReadPolicy::Mixed };
            let mut r = client(&cluster, policy, 50 + t);
            while !stop.load(Ordering::Relaxed) {
                let floor = acked.load(Ordering::SeqCst);
                if let Ok(res) = r.get(&k) {
                    let got =
                        res.value.map(|v| u64::from_be_bytes(v.try_into().unwrap())).unwrap_or(0);
                    reads.fetch_add(1, Ordering::Relaxed);
                    if got < floor {
                        violations.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for target in [2u64, 3, 1, 2] {
        std::thread::sleep(Duration::from_millis(150));
        cluster.transfer_leader(1, target, Duration::from_secs(3))?;
    }
    std::thread::sleep(Duration::from_millis(150));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(violations.load(Ordering::Relaxed), 0);
    // Few operations complete on a loaded 2-core machine; what matters is that none went back.
    assert!(reads.load(Ordering::Relaxed) > 0 && acked.load(Ordering::Relaxed) > 0);
    Ok(())
}

// (e) stale reads may lag, and report their staleness correctly.
#[test]
fn e_stale_reads_report_staleness() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig { regions: 1, ..ClusterConfig::default() })?;
    let k = key(1);
    let mut w = client(&cluster, ReadPolicy::Leader, 1);
    w.put(&k, b"old")?;
    let leader = cluster.leader_of(1).unwrap();
    let follower = (1..=3).find(|&n| n != leader).unwrap();
    let mut s = client(&cluster, ReadPolicy::Stale, 2);
    assert!(eventually(Duration::from_secs(2), || s.get_at(follower, &k).unwrap().value
        == Some(b"old".to_vec())));
    let fresh = s.get_at(follower, &k)?.staleness.unwrap();
    assert_eq!(fresh.index_lag, 0);
    assert!(fresh.age_ms < 1_000, "{fresh:?}");

    cluster.isolate(follower);
    let cut = Instant::now();
    w.put(&k, b"new")?;
    std::thread::sleep(Duration::from_millis(300));
    let r = s.get_at(follower, &k)?;
    let elapsed = cut.elapsed().as_millis() as u64;
    assert_eq!(r.value, Some(b"old".to_vec()), "an isolated follower lags");
    let st = r.staleness.unwrap();
    assert!(
        st.age_ms >= 300 && st.age_ms <= elapsed + 1_000,
        "age {} vs elapsed {elapsed}",
        st.age_ms
    );

    // With a staleness bound the read falls back to a follower read, which cannot complete
    // while the follower is cut off.
    let mut bounded = cluster.client(ClientConfig {
        read_policy: ReadPolicy::Stale,
        max_staleness: Some(Duration::from_millis(100)),
        timeout: Duration::from_millis(300),
        ..ClientConfig::default()
    });
    assert!(bounded.get_at(follower, &k).is_err());
    cluster.heal();
    assert!(eventually(Duration::from_secs(3), || {
        bounded.get_at(follower, &k).map(|r| r.value == Some(b"new".to_vec())).unwrap_or(false)
    }));
    let after = s.get_at(follower, &k)?;
    assert_eq!(after.value, Some(b"new".to_vec()));
    assert_eq!(after.staleness.unwrap().index_lag, 0);
    Ok(())
}

// (f) a full-cluster restart on RocksDB recovers every acknowledged write.
#[test]
fn f_full_restart_recovers_acknowledged_writes() -> Result<()> {
    full_restart(RaftLogStore::SameEngine)
}

// (f) again with the raft log in its own engine (the data engine then does not sync).
#[test]
fn f_full_restart_with_separate_raft_log() -> Result<()> {
    full_restart(RaftLogStore::SeparateEngine)
}

// (f) on fjall and redb, and with the log in raft-engine (logs compacted along the way).
#[test]
fn f_full_restart_on_every_engine_and_raft_engine() -> Result<()> {
    for (engine, raft_log) in [
        (EngineKind::Fjall, RaftLogStore::SameEngine),
        (EngineKind::Redb, RaftLogStore::SameEngine),
        (EngineKind::RocksDb, RaftLogStore::RaftEngine),
        (EngineKind::Fjall, RaftLogStore::RaftEngine),
        (EngineKind::Redb, RaftLogStore::SeparateEngine),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config =
            ClusterConfig { engine, raft_log, log_gc_threshold: 20, ..rocks_config(dir.path()) };
        restart_keeps_writes(config)
            .map_err(|e| kvlab_store::Error::Engine(format!("{engine} / {raft_log:?}: {e}")))?;
    }
    Ok(())
}

fn full_restart(raft_log: RaftLogStore) -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    restart_keeps_writes(ClusterConfig { raft_log, ..rocks_config(dir.path()) })
}

fn restart_keeps_writes(config: ClusterConfig) -> Result<()> {
    let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    {
        let cluster = Cluster::start(config.clone())?;
        let mut c = client(&cluster, ReadPolicy::Leader, 1);
        for i in 0..150u64 {
            let k = key(i % 100);
            if i.is_multiple_of(11) {
                c.delete(&k)?;
                model.insert(k, None);
            } else {
                let v = format!("v{i}").into_bytes();
                c.put(&k, &v)?;
                model.insert(k, Some(v));
            }
        }
        cluster.shutdown();
    }
    let cluster = Cluster::start(config)?;
    let mut c = client(&cluster, ReadPolicy::Leader, 2);
    for (k, v) in &model {
        assert_eq!(&c.get(k)?.value, v);
    }
    c.put(&key(1), b"again")?;
    assert_eq!(c.get(&key(1))?.value, Some(b"again".to_vec()));
    Ok(())
}

// (g) a partitioned minority serves no leader, follower or mixed reads.
#[test]
fn g_partitioned_minority_serves_no_linearizable_reads() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig::default())?;
    let mut w = client(&cluster, ReadPolicy::Leader, 1);
    let minority = 3;
    let (_, k_follower) = key_led_elsewhere(&cluster, minority);
    w.put(&k_follower, b"x")?;
    cluster.isolate(minority);
    for policy in [ReadPolicy::Leader, ReadPolicy::Follower, ReadPolicy::Mixed] {
        let mut c = cluster.client(ClientConfig {
            read_policy: policy,
            timeout: Duration::from_millis(300),
            ..ClientConfig::default()
        });
        for i in 0..30u64 {
            let k = key(i);
            let region = cluster.topology().locate(&k);
            if region.replicas.contains(&minority) {
                let r = c.get_at(minority, &k);
                assert!(r.is_err(), "{policy} read at the minority returned {r:?}");
                break;
            }
        }
        // The majority keeps serving.
        let mut ok =
            cluster.client(ClientConfig { read_policy: policy, ..ClientConfig::default() });
        let got = ok.get(&k_follower)?;
        assert_eq!(got.value, Some(b"x".to_vec()));
        assert_ne!(got.node, minority);
    }
    cluster.heal();
    Ok(())
}

// (h) a peer that fell behind a compacted log catches up through a snapshot, on RocksDB.
#[test]
fn h_lagging_peer_catches_up_by_snapshot() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ClusterConfig { regions: 1, log_gc_threshold: 16, ..rocks_config(dir.path()) };
    let cluster = Cluster::start(cfg)?;
    let leader = cluster.leader_of(1).unwrap();
    let lagging = (1..=3).find(|&n| n != leader).unwrap();
    cluster.stop_node(lagging)?;
    let mut c = client(&cluster, ReadPolicy::Leader, 1);
    for i in 0..120u64 {
        c.put(&key(i), format!("v{i}").as_bytes())?;
    }
    cluster.restart_node(lagging)?;
    let mut s = client(&cluster, ReadPolicy::Stale, 2);
    assert!(eventually(Duration::from_secs(5), || {
        s.get_at(lagging, &key(119)).map(|r| r.value == Some(b"v119".to_vec())).unwrap_or(false)
    }));
    for i in 0..120u64 {
        assert_eq!(s.get_at(lagging, &key(i))?.value, Some(format!("v{i}").into_bytes()));
    }
    let m = cluster.metrics();
    let snaps = m.iter().find(|n| n.node == lagging).unwrap().snapshots_applied;
    assert!(snaps >= 1, "the lagging peer caught up by snapshot: {m:?}");
    Ok(())
}

// Issue 7: with no leader possible (two of three nodes down) every operation ends by its
// timeout, under every read policy, and writes report that their outcome is unknown or that
// nothing was written — never a hang, never a success.
#[test]
fn i_no_quorum_every_operation_ends_by_its_timeout() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig::default())?;
    let mut w = client(&cluster, ReadPolicy::Leader, 1);
    w.put(&key(1), b"before")?;
    cluster.stop_node(1)?;
    cluster.stop_node(2)?;
    let timeout = Duration::from_millis(600);
    // Leases last less than an election timeout; let node 3's run out first.
    std::thread::sleep(cluster.config().election_timeout());
    for (n, policy) in ReadPolicy::ALL.into_iter().enumerate() {
        let mut c = cluster.client(ClientConfig {
            read_policy: policy,
            timeout,
            seed: 40 + n as u64,
            ..ClientConfig::default()
        });
        let started = Instant::now();
        let read = c.get(&key(1));
        let took = started.elapsed();
        assert!(took < timeout + Duration::from_millis(400), "{policy}: read took {took:?}");
        if policy == ReadPolicy::Stale {
            // A stale read needs no quorum: node 3 may answer from its own data.
            if let Ok(r) = read {
                assert_eq!((r.node, r.value.as_deref()), (3, Some(&b"before"[..])));
            }
            continue;
        }
        assert!(read.is_err(), "{policy}: a linearizable read without a quorum: {read:?}");
        let started = Instant::now();
        let write = c.put(&key(1), b"after");
        let took = started.elapsed();
        assert!(took < timeout + Duration::from_millis(400), "write took {took:?}");
        assert!(
            matches!(
                write,
                Err(kvlab_store::Error::Timeout(_)
                    | kvlab_store::Error::Indeterminate(_)
                    | kvlab_store::Error::Unavailable(_))
            ),
            "{write:?}"
        );
    }
    Ok(())
}

/// Per node hosting `region`: (write commands the region's peer applied, its applied index).
fn region_applies(cluster: &Cluster, region: u64) -> BTreeMap<u64, (u64, u64)> {
    let mut out = BTreeMap::new();
    for node in cluster.metrics() {
        if let Some(r) = node.regions.iter().find(|r| r.region == region) {
            out.insert(node.node, (r.writes_applied, r.applied_index));
        }
    }
    out
}

/// Proposals accepted by leaders, over all nodes.
fn proposals(cluster: &Cluster) -> u64 {
    cluster.metrics().iter().map(|n| n.proposals).sum()
}

// Issue 7: a leader that loses its quorum answers the writes it proposed `Indeterminate` (they
// may still commit), and the client does not retry them: after healing, each such write was
// applied at most once.
#[test]
fn j_writes_cut_off_with_their_leader_are_indeterminate() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig::default())?;
    let (region, k) = key_led_elsewhere(&cluster, 3);
    let leader = cluster.leader_of(region).unwrap();
    // Nothing else writes in this test: every write command and proposal from here on is the
    // cut-off write's.
    let before = region_applies(&cluster, region);
    let proposed_before = proposals(&cluster);
    assert_eq!(before.len(), 3, "a replica on every node: {before:?}");
    cluster.isolate(leader);
    let mut c = cluster.client(ClientConfig {
        timeout: Duration::from_secs(2),
        seed: 5,
        ..ClientConfig::default()
    });
    // The client still believes in the old leader: the write is proposed there and cannot
    // commit.
    let result = c.put(&k, b"cut-off");
    assert!(matches!(result, Err(kvlab_store::Error::Indeterminate(_))), "{result:?}");
    cluster.heal();
    assert!(cluster.wait_for_leaders(Duration::from_secs(5)).is_ok());
    let mut r = client(&cluster, ReadPolicy::Leader, 6);
    let value = r.get(&k)?.value;
    assert!(value.is_none() || value.as_deref() == Some(&b"cut-off"[..]), "{value:?}");
    // Every replica catches up with the leader's commit index.
    let caught_up = eventually(Duration::from_secs(5), || {
        let commit = cluster.metrics().iter().find_map(|n| {
            n.regions.iter().find(|r| r.region == region && r.is_leader).map(|r| r.commit_index)
        });
        let applies = region_applies(&cluster, region);
        commit.is_some_and(|c| applies.values().all(|&(_, applied)| applied >= c))
    });
    assert!(caught_up, "replicas of region {region} did not catch up");
    let after = region_applies(&cluster, region);
    let applied: BTreeMap<u64, u64> =
        after.iter().map(|(&node, &(w, _))| (node, w - before[&node].0)).collect();
    // A retried write committed besides the original would be applied twice on every replica
    // that applies entries (the leader always does).
    assert!(applied.values().all(|&n| n <= 1), "applied more than once: {applied:?}");
    // The write is visible exactly when it was applied, and then once (the leader that
    // committed it applied its entry; a replica that caught up by a snapshot counts none).
    let once = applied.values().copied().max().unwrap_or(0);
    assert_eq!(once, u64::from(value.is_some()), "value {value:?}, applied {applied:?}");
    // One proposal: the client did not retry the write at the new leader (a retry there
    // commits once even though the original never does).
    assert_eq!(proposals(&cluster) - proposed_before, 1, "the write was proposed again");
    Ok(())
}

// Issue 7: a corrupt data directory gives one clear error naming the problem, not a panic or
// a crash loop.
#[test]
fn k_corrupt_data_directory_is_a_clear_error() -> Result<()> {
    let dir = tempfile::tempdir().unwrap();
    {
        let cluster = Cluster::start(rocks_config(dir.path()))?;
        client(&cluster, ReadPolicy::Leader, 1).put(&key(1), b"v")?;
        cluster.shutdown();
    }
    let current = dir.path().join("node-2").join("data").join("CURRENT");
    std::fs::write(&current, b"MANIFEST-999999\n").unwrap();
    let err = Cluster::start(rocks_config(dir.path())).expect_err("corrupt directory");
    let text = err.to_string();
    assert!(text.contains("node-2") || text.contains("MANIFEST"), "{text}");
    Ok(())
}

// The inline fast path (`read_pool_threads = 0`, no emulated latency): lease and stale gets are
// decided and served on the client's thread, see every acknowledged write (lease) and count
// as served by their policy; a node without a valid lease falls back to ReadIndex.
#[test]
fn l_inline_lease_and_stale_reads_serve_on_the_client_thread() -> Result<()> {
    let cluster =
        Cluster::start(ClusterConfig { read_pool_threads: 0, ..ClusterConfig::default() })?;
    let mut w = client(&cluster, ReadPolicy::Leader, 1);
    let mut lease = client(&cluster, ReadPolicy::Lease, 2);
    for i in 0..50 {
        let v = format!("v{i}");
        w.put(&key(i), v.as_bytes())?;
        let r = lease.get(&key(i))?;
        assert_eq!(r.value.as_deref(), Some(v.as_bytes()), "lease read after write {i}");
    }
    let mut stale = client(&cluster, ReadPolicy::Stale, 3);
    let mut stale_served = 0;
    for i in 0..50 {
        let r = stale.get(&key(i))?;
        assert!(r.staleness.is_some());
        if r.value.is_some() {
            stale_served += 1;
        }
    }
    assert!(stale_served > 0);
    let m = cluster.metrics();
    assert!(m.iter().map(|n| n.reads.lease).sum::<u64>() >= 50, "{m:?}");
    assert!(m.iter().map(|n| n.reads.stale).sum::<u64>() >= 50, "{m:?}");
    // A cut-off leader loses its lease: its lease reads stop being served locally.
    let k = key(7);
    let leader = cluster.leader_of(cluster.topology().locate(&k).id).unwrap();
    cluster.isolate(leader);
    std::thread::sleep(cluster.config().election_timeout() * 2);
    let mut at_old = cluster.client(ClientConfig {
        read_policy: ReadPolicy::Lease,
        timeout: Duration::from_millis(300),
        ..ClientConfig::default()
    });
    let r = at_old.get_at(leader, &k);
    assert!(r.is_err(), "a cut-off leader served a lease read: {r:?}");
    cluster.heal();
    Ok(())
}

// Pipelined gets (`submit_get`/`wait_get`): a client thread keeps many reads in flight under
// every policy; each answer is its own key's value whatever order they are collected in, the
// node batches the reads waiting together into shared ReadIndex rounds, and a read in flight
// to a leader that stops is retried elsewhere within its timeout.
#[test]
fn m_pipelined_gets_share_rounds_and_survive_a_stopped_leader() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig::default())?;
    let mut w = client(&cluster, ReadPolicy::Leader, 1);
    for i in 0..64 {
        w.put(&key(i), format!("v{i}").as_bytes())?;
    }
    let rounds = |c: &Cluster| c.metrics().iter().map(|n| n.readindex_rounds).sum::<u64>();
    for (n, policy) in ReadPolicy::ALL.into_iter().enumerate() {
        let mut c = client(&cluster, policy, 20 + n as u64);
        let before = rounds(&cluster);
        let pending: Vec<_> = (0..64).map(|i| (i, c.submit_get(&key(i)))).collect();
        // Collect in reverse order: answers are matched to their own requests.
        for (i, p) in pending.into_iter().rev() {
            let r = c.wait_get(p)?;
            if policy == ReadPolicy::Stale && r.value.is_none() {
                continue; // a follower that has not applied the load yet
            }
            assert_eq!(r.value, Some(format!("v{i}").into_bytes()), "{policy} key {i}");
        }
        if policy == ReadPolicy::Leader {
            let used = rounds(&cluster) - before;
            assert!(used < 64, "64 leader reads in flight took {used} ReadIndex rounds");
        }
    }
    // Reads in flight to a leader that stops before answering are retried at the new one.
    let k = key(5);
    let old = cluster.leader_of(cluster.topology().locate(&k).id).unwrap();
    let mut c = client(&cluster, ReadPolicy::Leader, 40);
    cluster.pause_node(old)?;
    let pending: Vec<_> = (0..8).map(|_| c.submit_get(&k)).collect();
    cluster.stop_node(old)?;
    for p in pending {
        let r = c.wait_get(p)?;
        assert_eq!(r.value, Some(b"v5".to_vec()));
        assert_ne!(r.node, old);
    }
    Ok(())
}
