//! The `etcd` binding against real etcd processes on loopback (Debian's `etcd-server`,
//! `make deps` installs it; `ETCD_BIN` or `etcd.bin` name another). Every test is bounded in
//! time and checks that no etcd member is left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{csv_rows, kvlab_in as kvlab, num, stderr, workload};
use kvlab_harness::binding::{check_value, Binding, DbClient, EtcdBinding, OpError, Served};
use kvlab_harness::check::{check_trace, CheckOptions, OpKind as CheckedKind, Value};
use kvlab_harness::nemesis::FaultTarget;
use kvlab_harness::settings::Settings;
use kvlab_workloads::{OpKind, Operation, Properties};

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let overrides: Vec<(String, String)> =
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut with_db = vec![("db".to_string(), "etcd".to_string())];
    with_db.extend(overrides);
    Settings::from_properties(Properties::load(&[], &with_db).unwrap()).unwrap()
}

fn open(pairs: &[(&str, &str)]) -> kvlab_harness::Result<EtcdBinding> {
    EtcdBinding::open_with(&settings(pairs), Path::new(env!("CARGO_BIN_EXE_kvlab")))
}

fn op(kind: OpKind, key: &str, value: &[u8]) -> Operation {
    let mut op = Operation::new();
    op.kind = kind;
    op.key = key.as_bytes().to_vec();
    op.value = value.to_vec();
    op.scan_length = 10;
    op
}

/// Whether process `pid` is alive (a zombie is not).
fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z'))
}

/// Live processes whose command line mentions `dir` (etcd members keep their data there).
fn processes_under(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if String::from_utf8_lossy(&cmdline).contains(&needle) && alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_local_cluster_serves_every_operation_and_leaves_nothing_behind() {
    let t = Instant::now();
    let binding = open(&[("etcd.members", "3")]).unwrap();
    let local = binding.local().expect("local members");
    let pids = local.pids();
    let dir = local.dir().to_path_buf();
    assert_eq!(pids.len(), 3);
    assert_eq!(processes_under(&dir).len(), 3, "three members under {}", dir.display());
    // One client per member (round-robin): write at one, read at every other.
    let mut clients: Vec<Box<dyn DbClient>> = (0..3).map(|t| binding.client(t).unwrap()).collect();
    let served = clients[0].execute(&op(OpKind::Insert, "user1", b"v1")).unwrap();
    assert_eq!(served.node, Some(1));
    clients[1].execute(&op(OpKind::Update, "user2", b"v2")).unwrap();
    let read = clients[2].execute(&op(OpKind::Read, "user1", b"")).unwrap();
    assert_eq!((read.node, read.served_as), (Some(3), Some("linearizable")));
    let scan = clients[1].execute(&op(OpKind::Scan, "user", b"")).unwrap();
    assert_eq!(scan.node, Some(2));
    clients[0].execute(&op(OpKind::Delete, "user1", b"")).unwrap();
    let gone = clients[2].execute(&op(OpKind::Read, "user1", b"")).unwrap_err();
    assert_eq!(gone.kind, "not_found");
    clients[0].execute(&op(OpKind::ReadModifyWrite, "user2", b"v3")).unwrap();
    // nodes.csv's rows: three members, one leader.
    let rows = binding.nodes();
    assert_eq!(rows.iter().map(|r| r.node).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(rows.iter().map(|r| r.leaders).sum::<u64>(), 1, "{rows:?}");
    drop(clients);
    drop(binding);
    for pid in pids {
        assert!(!alive(pid), "etcd member {pid} outlived the binding");
    }
    assert!(!dir.exists(), "{} was removed", dir.display());
    eprintln!("started, served and stopped in {:?}", t.elapsed());
}

/// One traced operation: (thread, op, key, start, latency, result).
type Row = (usize, Operation, Duration, Duration, Result<Served, OpError>);

/// Writes `rows` as a checking-mode trace (the runner's columns) and checks it.
fn check_rows(rows: &[Row], dir: &Path) -> kvlab_harness::check::CheckReport {
    let path = dir.join("trace.csv");
    let mut text = format!("{}\n", kvlab_harness::runner::TRACE_HEADER);
    for (thread, op, start, latency, result) in rows {
        let (status, served) = match result {
            Ok(s) => ("ok", s.clone()),
            Err(e) => (e.kind, e.served.clone()),
        };
        let value = match (result, op.kind) {
            (Ok(Served { observed: Some(tag), .. }), _) => format!("{tag:x}"),
            (Err(e), OpKind::Read) if e.kind == "not_found" => "nil".into(),
            (_, OpKind::Read) => String::new(),
            _ => format!("{:x}", kvlab_harness::binding::value_tag(&op.value)),
        };
        text.push_str(&format!(
            "{thread},{},{},{},{},,{status},{},{},{value},,,run\n",
            op.kind.name(),
            String::from_utf8_lossy(&op.key),
            start.as_nanos(),
            latency.as_nanos(),
            served.node.map(|n| n.to_string()).unwrap_or_default(),
            served.served_as.unwrap_or(""),
        ));
    }
    std::fs::write(&path, text).unwrap();
    check_trace(&path, &CheckOptions::default()).unwrap()
}

/// Cuts a follower off, writes through the majority and reads at the cut follower with
/// `read`; returns the checker's report and the cut member.
fn cut_follower_scenario(read: &str) -> (kvlab_harness::check::CheckReport, u64, Vec<Row>) {
    let binding = open(&[("etcd.read", read), ("check", "true"), ("timeout", "1500ms")]).unwrap();
    let local = binding.local().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let leader = loop {
        if let Some(l) = local.leader() {
            break l;
        }
        assert!(Instant::now() < deadline, "no leader");
        std::thread::sleep(Duration::from_millis(50));
    };
    let cut = if leader == 3 { 2 } else { 3 };
    // Round-robin: thread t talks to member t + 1.
    let mut writer = binding.client(leader as usize - 1).unwrap();
    let mut reader = binding.client(cut as usize - 1).unwrap();
    let start = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let mut run = |thread: usize, client: &mut Box<dyn DbClient>, op: Operation| {
        let invoked = start.elapsed();
        let result = client.execute(&op);
        rows.push((thread, op, invoked, start.elapsed() - invoked, result.clone()));
        result
    };
    let mut value = Vec::new();
    check_value(1, &mut value);
    run(0, &mut writer, op(OpKind::Update, "k", &value)).unwrap();
    // The follower has applied the first write before it is cut off.
    let caught_up = Instant::now() + Duration::from_secs(5);
    while run(1, &mut reader, op(OpKind::Read, "k", b"")).map(|s| s.observed) != Ok(Some(1)) {
        assert!(Instant::now() < caught_up, "member {cut} never saw the first write");
        std::thread::sleep(Duration::from_millis(20));
    }
    local.isolate(cut);
    check_value(2, &mut value);
    run(0, &mut writer, op(OpKind::Update, "k", &value)).unwrap();
    let _ = run(1, &mut reader, op(OpKind::Read, "k", b""));
    local.heal();
    drop((writer, reader));
    let dir = tempfile::tempdir().unwrap();
    let report = check_rows(&rows, dir.path());
    (report, cut, rows)
}

#[test]
fn a_stale_serializable_read_is_a_violation_and_a_linearizable_one_is_refused() {
    let (report, cut, rows) = cut_follower_scenario("serializable");
    let last = rows.last().unwrap();
    assert_eq!(last.4.as_ref().map(|s| s.observed), Ok(Some(1)), "the cut member read stale");
    assert_eq!(report.violations.len(), 1, "{report}");
    let violation = &report.violations[0];
    let stale_read = violation
        .ops
        .iter()
        .find(|o| o.kind == CheckedKind::Read && o.line == rows.len() as u64 + 1)
        .unwrap_or_else(|| panic!("the violation names the last read: {report}"));
    assert_eq!(
        (stale_read.served_as.as_str(), stale_read.node.clone(), stale_read.value),
        ("serializable", cut.to_string(), Value::Present(1))
    );

    let (report, _, rows) = cut_follower_scenario("linearizable");
    let last = &rows.last().unwrap().4;
    let err = last.as_ref().expect_err("a cut member cannot serve a linearizable read");
    assert!(["timeout", "unavailable"].contains(&err.kind), "{err:?}");
    assert!(report.violations.is_empty(), "{report}");
}

#[test]
fn cutting_closes_open_peer_connections() {
    let binding = open(&[("etcd.members", "3")]).unwrap();
    let local = binding.local().unwrap();
    let touching = |m: u64| {
        local.proxies().connections().iter().filter(|(f, t)| *f == Some(m) || *t == m).count()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while touching(1) == 0 {
        assert!(Instant::now() < deadline, "member 1 has no peer connections");
        std::thread::sleep(Duration::from_millis(20));
    }
    local.isolate(1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(touching(1), 0, "{:?}", local.proxies().connections());
    local.heal();
}

#[test]
fn bad_settings_give_one_clear_error() {
    let err = open(&[("etcd.bin", "/nonexistent")]).err().unwrap().to_string();
    assert!(err.contains("/nonexistent") && err.contains("etcd.bin"), "{err}");
    let err = open(&[("etcd.read", "eventual")]).err().unwrap().to_string();
    assert!(err.contains("etcd.read") && err.contains("eventual"), "{err}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let endpoint = closed.to_string();
    let t = Instant::now();
    let err = open(&[("etcd.endpoints", &endpoint)]).err().unwrap().to_string();
    assert!(err.contains("unreachable") && err.contains(&endpoint), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let err =
        EtcdBinding::validate(&settings(&[("etcd.endpoints", &endpoint), ("nemesis", "kill")]))
            .err()
            .unwrap()
            .to_string();
    assert!(err.contains("nemesis") && err.contains("etcd.endpoints"), "{err}");
    let err = EtcdBinding::validate(&settings(&[("nemesis", "latency")])).err().unwrap();
    assert!(err.to_string().contains("latency"), "{err}");
    let err = EtcdBinding::validate(&settings(&[("etcd.memebrs", "3")])).err().unwrap();
    assert!(err.to_string().contains("etcd.members"), "lists the accepted ones: {err}");
}

#[test]
fn a_member_whose_port_is_taken_is_named_with_its_log_line() {
    // A member killed and restarted while another process holds its client port: the restart
    // fails, quoting etcd's bind error.
    let binding = open(&[("etcd.members", "1")]).unwrap();
    let local = binding.local().unwrap();
    local.stop_node(1).unwrap();
    let port = local.endpoint(1);
    let blocker = std::net::TcpListener::bind(&port).unwrap();
    let err = local.restart_node(1).unwrap_err();
    assert!(err.contains("address already in use"), "{err}");
    drop(blocker);
}

#[test]
fn kvlab_runs_ycsb_c_on_etcd_and_checks_a_history_under_faults() {
    let out_dir = tempfile::tempdir().unwrap();
    let results = out_dir.path().join("c");
    let out = kvlab(
        &[
            "run",
            "-P",
            &workload("ycsb/workloadc"),
            "--db",
            "etcd",
            "-p",
            "recordcount=200",
            "-p",
            "operationcount=2000",
            "--threads",
            "3",
            "--out",
            &results.display().to_string(),
        ],
        out_dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = csv_rows(&results.join("summary.csv"));
    let read = summary.iter().find(|r| r["phase"] == "run" && r["op"] == "READ").unwrap();
    assert_eq!(num(read, "count"), 2000.0, "{read:?}");
    assert_eq!(num(read, "errors"), 0.0, "every read finds its record");
    let nodes = csv_rows(&results.join("nodes.csv"));
    assert!(nodes.len() >= 3, "{nodes:?}");

    let checked = out_dir.path().join("check");
    let out = kvlab(
        &[
            "run",
            "-P",
            &workload("ycsb/workloada"),
            "--db",
            "etcd",
            "--check",
            "-p",
            "recordcount=20",
            "--threads",
            "3",
            "--duration",
            "6s",
            "--nemesis",
            "kill,pause,partition",
            "--nemesis-interval",
            "1500ms",
            "-p",
            "timeout=1s",
            "--out",
            &checked.display().to_string(),
        ],
        out_dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let check = csv_rows(&checked.join("check.csv"));
    assert_eq!(check[0]["violations"], "0", "{check:?}");
    assert_eq!(check[0]["read_policy"], "linearizable");
    assert!(check[0]["faults"].parse::<u64>().unwrap() >= 2, "{check:?}");
}

/// Issue 16: no member outlives a harness killed with SIGKILL (their parent-death signal), and
/// the temporary directory it could not remove is swept by the next local cluster.
#[test]
fn a_harness_killed_with_sigkill_leaves_no_member_and_its_directory_is_swept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut harness = std::process::Command::new(env!("CARGO_BIN_EXE_kvlab"))
        .args(["run", "-P", &workload("ycsb/workloadc"), "--db", "etcd", "--duration", "60s"])
        .args(["-p", "operationcount=0", "--out"])
        .arg(tmp.path().join("results"))
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let prefix = format!("kvlab-etcd-{}-", harness.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    let dir = loop {
        let found = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path());
        if let Some(dir) = found.filter(|d| processes_under(d).len() == 3) {
            break dir;
        }
        assert!(Instant::now() < deadline, "no 3-member cluster started under {prefix}");
        std::thread::sleep(Duration::from_millis(50));
    };
    harness.kill().unwrap();
    harness.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_under(&dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "members outlived the harness: {:?}",
            processes_under(&dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(dir.exists(), "a killed harness cannot remove its directory");
    let unrelated = tmp.path().join(format!("kvlab-etcd-{}-x", std::process::id()));
    std::fs::create_dir(&unrelated).unwrap();
    kvlab_harness::binding::etcd::members::sweep_orphaned_dirs(tmp.path());
    assert!(!dir.exists(), "the dead harness's directory is swept");
    assert!(unrelated.exists(), "a live process's directory is kept");
}
