//! Process clusters: store nodes as `kvlab node` processes over gRPC on loopback. Real
//! processes, real sockets, bounded in time; every test checks that no node is left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{csv_rows, kvlab_in as kvlab, num, stderr, workload};
use kvlab_store::{Cluster, ClusterConfig, ReadPolicy};

/// The pids of live `kvlab node` processes whose command line mentions `dir`.
fn nodes_under(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // A zombie keeps its command line until reaped: only running ones count.
        let state = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = state.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z'));
        if cmdline.contains(" node --cluster ") && cmdline.contains(&needle) && !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// Whether the nodes of the cluster file in `dir` answer metrics and one has served a read.
fn serving_reads(dir: &Path) -> bool {
    let Ok(file) = kvlab_store::ClusterFile::load(&dir.join("cluster.toml")) else { return false };
    file.nodes.iter().filter_map(|n| kvlab_store::node_metrics(&n.addr).ok()).any(|m| {
        let r = &m.reads;
        r.leader + r.lease + r.follower + r.mixed + r.stale > 0
    })
}

/// `kvlab run` of YCSB C on the store binding in `dir`, with `extra` arguments.
fn store_run(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", "-P"];
    let workload = workload("ycsb/workloadc");
    args.push(&workload);
    args.extend(["--db", "store"]);
    args.extend(extra);
    kvlab(&args, dir)
}

/// Waits up to `timeout` for `cond`.
fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

fn process_config(dir: &Path, extra: &[(&str, &str)]) -> ClusterConfig {
    let mut pairs: Vec<(String, String)> = [
        ("store.processes", "true"),
        ("engine", "rocksdb"),
        ("store.regions", "3"),
        ("store.dir", dir.to_str().unwrap()),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    pairs.dedup_by(|a, b| a.0 == b.0);
    let mut config = ClusterConfig::from_pairs(&pairs).unwrap();
    config.node_program = Some(env!("CARGO_BIN_EXE_kvlab").into());
    config
}

/// Item 9: a process cluster starts, serves puts and every read policy from the right nodes,
/// survives SIGKILL of a node and its restart with every acknowledged write intact, and
/// leaves no process behind.
#[test]
fn a_process_cluster_serves_every_policy_and_survives_a_killed_node() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(process_config(dir.path(), &[])).unwrap();
    assert_eq!(nodes_under(dir.path()).len(), 3, "three node processes");
    let mut client = cluster.client(cluster.default_client_config(0, 7));
    let keys: Vec<Vec<u8>> = (0..60).map(|i| kvlab_store::ycsb_key(i * 7919)).collect();
    for (i, k) in keys.iter().enumerate() {
        client.put(k, format!("v{i}").as_bytes()).unwrap();
    }
    for policy in ["leader", "lease", "follower", "mixed", "stale"] {
        client.set_read_policy(policy.parse::<ReadPolicy>().unwrap());
        let mut nodes = std::collections::BTreeSet::new();
        for (i, k) in keys.iter().enumerate() {
            let r = client.get(k).unwrap();
            nodes.insert(r.node);
            if policy != "stale" {
                assert_eq!(r.value.as_deref(), Some(format!("v{i}").as_bytes()), "{policy}");
            }
        }
        // Leaders are balanced over the nodes, and every other policy spreads too.
        assert_eq!(nodes.len(), 3, "{policy} reads served by {nodes:?}");
    }
    let metrics = cluster.metrics();
    assert!(metrics.iter().all(|m| m.cpu.is_some_and(|c| c > Duration::ZERO)), "{metrics:?}");

    // SIGKILL the leader of the first key's region, write on, restart it.
    client.set_read_policy(ReadPolicy::Leader);
    let region = cluster.topology().locate(&keys[0]).id;
    let victim = cluster.leader_of(region).unwrap();
    cluster.stop_node(victim).unwrap();
    assert_eq!(nodes_under(dir.path()).len(), 2);
    for (i, k) in keys.iter().enumerate() {
        let mut tries = 0;
        while let Err(e) = client.put(k, format!("w{i}").as_bytes()) {
            // A write cut off by the kill is indeterminate; write it again.
            tries += 1;
            assert!(tries < 20, "put {i}: {e}");
        }
    }
    cluster.restart_node(victim).unwrap();
    cluster.wait_for_leaders(Duration::from_secs(10)).unwrap();
    // The restarted node catches up: its follower reads see every acknowledged write.
    client.set_read_policy(ReadPolicy::Follower);
    for (i, k) in keys.iter().enumerate() {
        let want = format!("w{i}").into_bytes();
        let ok = eventually(Duration::from_secs(10), || {
            client.get_at(victim, k).is_ok_and(|r| r.value.as_deref() == Some(&want[..]))
        });
        assert!(ok, "key {i} at the restarted node {victim}");
    }
    cluster.shutdown();
    assert!(nodes_under(dir.path()).is_empty(), "no node outlives its cluster");
}

/// Item 2: a node started by a harness exits when the harness dies, even by SIGKILL.
#[test]
fn nodes_exit_when_the_harness_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let mut harness = Command::new(env!("CARGO_BIN_EXE_kvlab"))
        .args(["run", "-P", &workload("ycsb/workloadc"), "--db", "store", "--threads", "2"])
        .args(["-p", "store.processes=true", "-p", "engine=rocksdb", "-p", "recordcount=100"])
        .args(["-p", "operationcount=100000000", "-p", "maxexecutiontime=60"])
        .args(["-p", &format!("store.dir={}", store_dir.display())])
        .args(["--out", dir.path().join("out").to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = eventually(Duration::from_secs(30), || nodes_under(&store_dir).len() == 3);
    // Kill it mid-run, when the nodes hold Raft streams to each other and serve reads: a
    // node's graceful shutdown must not wait for its peers' streams (they stop too).
    let serving = eventually(Duration::from_secs(30), || serving_reads(&store_dir));
    harness.kill().unwrap();
    harness.wait().unwrap();
    assert!(started, "the harness started three nodes");
    assert!(serving, "the nodes served reads");
    let gone = eventually(Duration::from_secs(10), || nodes_under(&store_dir).is_empty());
    assert!(gone, "nodes left after SIGKILL of their harness: {:?}", nodes_under(&store_dir));
}

/// Item 9: bad cluster files, a port in use, an unreachable endpoint and a missing cgroup
/// each give one clear error (and no process stays).
#[test]
fn bad_process_set_ups_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.toml");
    std::fs::write(&file, "[[node]]\nid = 2\naddr = \"127.0.0.1:1\"\ndir = \"/tmp/x\"\n").unwrap();
    let out = kvlab(&["node", "--cluster", file.to_str().unwrap(), "--id", "1"], dir.path());
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("cluster.toml") && err.contains("node ids 1..=1"), "{err}");

    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let text = format!(
        "[properties]\n\"store.replicas\" = 1\n\n[[node]]\nid = 1\naddr = \"{addr}\"\ndir = \"{}\"\n",
        dir.path().join("n1").display()
    );
    std::fs::write(&file, text).unwrap();
    let out = kvlab(&["node", "--cluster", file.to_str().unwrap(), "--id", "1"], dir.path());
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");

    // An unreachable endpoint: nothing listens on these ports.
    let ports: Vec<String> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap())
        .map(|a| a.to_string())
        .collect();
    let started = Instant::now();
    let out = store_run(dir.path(), &["-p", &format!("store.endpoints={}", ports.join(","))]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains(&ports[0]) && err.contains("did not answer"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(40), "{:?}", started.elapsed());

    // A cgroup root without a cpu controller.
    let root = format!("store.cgroup_root={}", dir.path().display());
    let store_dir = format!("store.dir={}", dir.path().join("s").display());
    let budget = ["-p", "store.processes=true", "-p", "store.node_cpus=0.25"];
    let out = store_run(dir.path(), &[&budget[..], &["-p", &root, "-p", &store_dir]].concat());
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("store.node_cpus") && err.contains("cgroup"), "{err}");
    assert!(nodes_under(dir.path()).is_empty());
}

/// Item 3: with node processes, nodes.csv has each node's CPU seconds and the client's; budgets
/// that cannot be applied under `store.node_cpus_optional` are a warning, never silent.
#[test]
fn a_process_run_reports_cpu_per_node_and_client() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = store_run(
        dir.path(),
        &["--threads", "2", "-p", "store.processes=true", "-p", "recordcount=200"]
            .into_iter()
            .chain(["-p", "operationcount=2000", "-p", "store.read_policy=mixed"])
            // Budgets asked for where none can be made (a plain directory), optionally.
            .chain(["-p", "store.node_cpus=0.5", "-p", "store.node_cpus_optional=true"])
            .chain(["-p", &format!("store.cgroup_root={}", dir.path().display())])
            .chain(["--out", out_dir.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("WITHOUT CPU budgets"), "{}", stderr(&out));
    let rows = csv_rows(&out_dir.join("nodes.csv"));
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert!(num(row, "cpu_seconds") > 0.0, "{row:?}");
        assert!(num(row, "client_cpu_seconds") > 0.0, "{row:?}");
        assert!(num(row, "reads_mixed") > 0.0, "{row:?}");
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("run.json")).unwrap()).unwrap();
    let notes = run["runs"][0]["notes"].to_string();
    assert!(notes.contains("3 node processes"), "{notes}");
    let warnings = run["runs"][0]["warnings"].to_string();
    assert!(warnings.contains("WITHOUT CPU budgets"), "{warnings}");
    // The report says how the nodes ran.
    let report = kvlab(&["report", out_dir.to_str().unwrap()], dir.path());
    assert!(report.status.success(), "{}", stderr(&report));
    let text = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(text.contains("System under test: 3 node processes WITHOUT CPU budgets"), "{text}");
}

/// Item 2: `kvlab cluster start` leaves a cluster running that `--db store -p
/// store.endpoints=…` drives and `kvlab cluster stop` ends.
#[test]
fn cluster_start_drive_status_stop() {
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
        .collect();
    let mut text = String::from("[properties]\nengine = \"rocksdb\"\n\"store.regions\" = 2\n");
    for (i, port) in ports.iter().enumerate() {
        let node_dir = dir.path().join(format!("n{}", i + 1));
        text += &format!(
            "\n[[node]]\nid = {}\naddr = \"127.0.0.1:{port}\"\ndir = \"{}\"\n",
            i + 1,
            node_dir.display()
        );
    }
    let file = dir.path().join("cluster.toml");
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let start = kvlab(&["cluster", "start", f], dir.path());
    assert!(start.status.success(), "{}", stderr(&start));
    assert_eq!(nodes_under(&file).len(), 3, "the nodes outlive `cluster start`");
    let again = kvlab(&["cluster", "start", f], dir.path());
    assert!(!again.status.success() && stderr(&again).contains("cluster stop"));

    let endpoints: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let out_dir = dir.path().join("out");
    let run = store_run(
        dir.path(),
        &["-p", &format!("store.endpoints={}", endpoints.join(",")), "-p", "store.regions=2"]
            .into_iter()
            .chain(["-p", "recordcount=100", "-p", "operationcount=500"])
            .chain(["--out", out_dir.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let reads: f64 =
        csv_rows(&out_dir.join("nodes.csv")).iter().map(|r| num(r, "reads_leader")).sum();
    assert!(reads >= 400.0, "{reads}");

    let status = kvlab(&["cluster", "status", f], dir.path());
    let said = String::from_utf8_lossy(&status.stdout).to_string();
    assert_eq!(said.matches(": up, leads").count(), 3, "{said}");
    let stop = kvlab(&["cluster", "stop", f], dir.path());
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert!(eventually(Duration::from_secs(5), || nodes_under(&file).is_empty()));
    let status = kvlab(&["cluster", "status", f], dir.path());
    assert_eq!(String::from_utf8_lossy(&status.stdout).matches(": down").count(), 3);
}
