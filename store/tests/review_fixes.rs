//! End-to-end regressions of issue 14's store review: durability ordering with a separate Raft
//! log, restarts that must be refused, reads that must stay off the network's timer thread,
//! and follower-read clients that must follow leader changes.
//!
//! Every test is bounded in time (client timeouts, bounded polling loops).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client, eventually, key};
use kvlab_store::{Cluster, ClusterConfig, Error, Failpoints, RaftLogStore, ReadPolicy, Result};

/// Item 2: with `store.raft_log=separate`, a node that installed a snapshot and then crashed
/// — losing every data-engine write not yet flushed, which is all a `sync=false` data engine
/// promises — restarts with the snapshot's data and serves every key. Before the fix the log
/// truncation was durable before the snapshot's data, and the restart found applied <
/// truncated (raft-rs panics) or silently lacked the data.
#[test]
fn a_crash_after_a_snapshot_with_a_separate_log_keeps_the_snapshot() -> Result<()> {
    let cfg = ClusterConfig {
        regions: 1,
        raft_log: RaftLogStore::SeparateEngine,
        log_gc_threshold: 8,
        failpoints: Failpoints { data_loses_unsynced_writes: true, ..Failpoints::default() },
        ..ClusterConfig::default()
    };
    let cluster = Cluster::start(cfg)?;
    let leader = cluster.leader_of(1).unwrap();
    let lagging = (1..=3).find(|&n| n != leader).unwrap();
    let mut w = client(&cluster, ReadPolicy::Leader, 1);
    for i in 0..5u64 {
        w.put(&key(i), format!("v{i}").as_bytes())?;
    }
    cluster.stop_node(lagging)?;
    for i in 5..60u64 {
        w.put(&key(i), format!("v{i}").as_bytes())?;
    }
    cluster.restart_node(lagging)?;
    let caught_up = eventually(Duration::from_secs(10), || {
        let m = cluster.metrics();
        let node = m.iter().find(|n| n.node == lagging).unwrap();
        node.snapshots_applied >= 1 && node.regions.iter().all(|r| r.applied_index >= 60)
    });
    assert!(caught_up, "the lagging node installed a snapshot: {:?}", cluster.metrics());
    let sent: u64 = cluster.metrics().iter().map(|n| n.snapshots_sent).sum();
    assert!(sent >= 1, "nodes.csv's snapshots_sent counts the leader's snapshot");
    // A crash now: the data engine keeps what was flushed or synced, nothing else.
    cluster.stop_node(lagging)?;
    cluster.restart_node(lagging)?;
    let mut r = client(&cluster, ReadPolicy::Follower, 2);
    for i in 0..60u64 {
        assert_eq!(r.get_at(lagging, &key(i))?.value, Some(format!("v{i}").into_bytes()), "{i}");
    }
    Ok(())
}

/// Item 6: a node whose Raft log lives in memory cannot be restarted (it would come back
/// without its votes and log): one clear error instead.
#[test]
fn b_a_memory_log_node_is_not_restarted() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig {
        raft_log: RaftLogStore::Memory,
        ..ClusterConfig::default()
    })?;
    cluster.stop_node(2)?;
    let err = cluster.restart_node(2).unwrap_err();
    assert!(matches!(err, Error::InvalidOption { .. }), "{err}");
    assert!(err.to_string().contains("store.raft_log"), "{err}");
    assert_eq!(cluster.running_nodes(), vec![1, 3]);
    Ok(())
}

/// Item 5: with inline read pools and an emulated latency, a read for a paused node must not
/// run on (and hold) the network's timer thread: writes to regions led elsewhere go on while
/// it waits. Before the fix every Raft message waited behind the paused read for its whole
/// attempt deadline (2 s here), so a write took seconds instead of a few round trips.
#[test]
fn c_a_read_at_a_paused_inline_pool_does_not_hold_the_network() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig {
        read_pool_threads: 0,
        latency: kvlab_store::LatencyModel {
            local: Duration::from_millis(2),
            ..Default::default()
        },
        // Election timeout 1 s: a client attempt lasts up to two of them.
        tick: Duration::from_millis(100),
        ..ClusterConfig::default()
    })?;
    let paused = 2;
    let (region, k) = (1..10_000u64)
        .map(key)
        .map(|k| (cluster.topology().locate(&k).id, k))
        .find(|(r, _)| cluster.leader_of(*r) != Some(paused))
        .unwrap();
    let mut w = client(&cluster, ReadPolicy::Leader, 1);
    w.put(&k, b"before")?;
    cluster.pause_node(paused)?;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let mut r = client(&cluster, ReadPolicy::Stale, 2);
        let (done, k) = (done.clone(), k.clone());
        std::thread::spawn(move || {
            let out = r.get_at(paused, &k);
            done.store(true, Ordering::Release);
            out
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    w.put(&k, b"during")?;
    let took = started.elapsed();
    assert!(!done.load(Ordering::Acquire), "the read at the paused node is still waiting");
    // Generous: a write is a few 2 ms hops; the timer thread was blocked for 2 s.
    assert!(took < Duration::from_millis(1000), "a write took {took:?} in region {region}");
    cluster.resume_node(paused)?;
    let read = reader.join().unwrap();
    assert!(read.is_ok() || matches!(read, Err(Error::Timeout(_))), "{read:?}");
    Ok(())
}

/// Item 6: follower-policy clients learn a new leader from the answers they get, so follower
/// reads keep avoiding the leader after leadership moves, and no read served at the leader is
/// counted as a follower read.
#[test]
fn d_follower_reads_follow_a_leader_change() -> Result<()> {
    let cluster = Cluster::start(ClusterConfig { regions: 1, ..ClusterConfig::default() })?;
    let mut w = client(&cluster, ReadPolicy::Leader, 1);
    w.put(&key(1), b"v")?;
    let mut r = client(&cluster, ReadPolicy::Follower, 2);
    let first = r.get(&key(1))?;
    assert_eq!(first.served_as, ReadPolicy::Follower);
    let old = cluster.leader_of(1).unwrap();
    let new = (1..=3).find(|&n| n != old).unwrap();
    cluster.transfer_leader(1, new, Duration::from_secs(5))?;
    let mut at_leader_as_follower = 0;
    let mut at_leader = 0;
    for _ in 0..20 {
        let got = r.get(&key(1))?;
        assert_eq!(got.value, Some(b"v".to_vec()));
        if got.node == new {
            at_leader += 1;
            if got.served_as == ReadPolicy::Follower {
                at_leader_as_follower += 1;
            }
        }
    }
    assert_eq!(at_leader_as_follower, 0, "reads at the leader counted as follower reads");
    assert!(at_leader <= 1, "{at_leader} of 20 follower reads went to the new leader");
    Ok(())
}
