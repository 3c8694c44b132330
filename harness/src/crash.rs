//! The crash test (`kvlab crash-test`), in the spirit of RocksDB's `db_crashtest.py`: a child
//! process runs a 3-node cluster on a persistent engine (`--engine`: RocksDB, fjall or redb)
//! with its Raft log where `--raft-log` says (the data engine, a separate engine, or
//! raft-engine) and reports every write it got acknowledged; the
//! parent kills it with `SIGKILL` at a random moment, restarts the cluster from the same
//! directories in its own process and checks that every acknowledged write is there. Then the
//! next cycle starts from the same directories.
//!
//! Each child thread alternates two kinds of writes, each with an increasing sequence number
//! (`cycle << 32 | n`, as 16 hex digits): overwrites of a few keys it owns, and inserts of a
//! fresh key per write. After a crash an owned key must hold the value of its last acknowledged
//! write or of a later write that was in flight (a smaller sequence number or a missing key is
//! a lost write), and every acknowledged insert must be there with its value. Each cycle
//! verifies the owned keys and all of its inserts; the end verifies a seeded sample of the
//! inserts of every cycle again (a later recovery must not lose older data). The child prints
//! `ready`, then `ack <key> <seq>` after each acknowledged write, flushed before the next write
//! starts.
//!
//! With `--sync true` (the default) every log write is fsynced, so nothing acknowledged may
//! be lost even by a machine crash. With `--sync false` a process crash still loses nothing:
//! each engine hands each log write to the operating system before it returns (RocksDB's WAL
//! `write()`, fjall's journal with `PersistMode::Buffer`, raft-engine's log file; redb fsyncs
//! every durable commit whatever `sync` says, see `kvlab_engine::Engine`), and a killed process
//! does not take the page cache with it; only a machine crash or power loss can lose the
//! writes since the last fsync, which this test cannot produce.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kvlab_store::{
    ClientConfig, Cluster, ClusterConfig, EngineKind, Error as StoreError, RaftLogStore,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// How long a child may take to start its cluster.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// A child that is never killed stops writing after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(120);

/// The crash test's settings.
#[derive(Clone, Debug)]
pub struct CrashOptions {
    /// The cluster's directory (kept across cycles).
    pub dir: PathBuf,
    /// Kill-and-verify cycles.
    pub cycles: usize,
    /// Seed of the kill times.
    pub seed: u64,
    /// The store the child runs.
    pub setup: CrashSetup,
    /// Writer threads in the child.
    pub threads: usize,
    /// Keys per writer thread.
    pub keys_per_thread: usize,
    /// Kill between `min_delay` and `max_delay` after the child is ready.
    pub min_delay: Duration,
    /// See `min_delay`.
    pub max_delay: Duration,
}

/// The store under test: engine, Raft log and `sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashSetup {
    /// A persistent engine.
    pub engine: EngineKind,
    /// Where the Raft log lives.
    pub raft_log: RaftLogStore,
    /// Whether every log write is fsynced (the engine's `sync` option).
    pub sync: bool,
}

impl CrashSetup {
    /// Checks that the setup can be crash-tested.
    ///
    /// # Errors
    ///
    /// The memory engine or the memory log (nothing survives a crash to check).
    pub fn validate(&self) -> Result<()> {
        if !self.engine.is_persistent() {
            return Err(Error::setting("--engine", self.engine, "rocksdb, fjall or redb"));
        }
        if self.raft_log == RaftLogStore::Memory {
            return Err(Error::setting("--raft-log", "memory", "same, separate or raft-engine"));
        }
        Ok(())
    }
}

/// What the crash test found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Cycles run.
    pub cycles: usize,
    /// Writes acknowledged to the child, all cycles.
    pub acknowledged: u64,
    /// Distinct keys verified (owned keys and inserts).
    pub keys: usize,
    /// Acknowledged writes missing after a restart (each cycle counts the keys found behind).
    pub lost: u64,
    /// The first few losses, for the report.
    pub examples: Vec<String>,
}

impl std::fmt::Display for CrashReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "crash test: {} cycles, {} acknowledged writes, {} keys, {} lost",
            self.cycles, self.acknowledged, self.keys, self.lost
        )?;
        for e in &self.examples {
            writeln!(f, "  lost: {e}")?;
        }
        Ok(())
    }
}

fn config(dir: &Path, setup: CrashSetup) -> ClusterConfig {
    ClusterConfig {
        engine: setup.engine,
        raft_log: setup.raft_log,
        dir: Some(dir.to_path_buf()),
        engine_options: vec![(format!("{}.sync", setup.engine), setup.sync.to_string())],
        ..ClusterConfig::default()
    }
}

fn key_name(thread: usize, k: usize) -> String {
    format!("crash-t{thread:02}-k{k:02}")
}

/// The child: runs the cluster and writes until killed (or [`CHILD_LIFETIME`]).
///
/// # Errors
///
/// A cluster that does not start.
pub fn child(dir: &Path, cycle: u64, setup: CrashSetup, threads: usize, keys: usize) -> Result<()> {
    let cluster = Cluster::start(config(dir, setup))?;
    let stdout = std::io::stdout();
    {
        let mut out = stdout.lock();
        writeln!(out, "ready")
            .and_then(|()| out.flush())
            .map_err(|e| Error::io("stdout", "-", e))?;
    }
    let until = Instant::now() + CHILD_LIFETIME;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let cluster = &cluster;
            let stdout = &stdout;
            scope.spawn(move || {
                let mut client = cluster.client(ClientConfig {
                    timeout: Duration::from_secs(2),
                    seed: t as u64,
                    ..ClientConfig::default()
                });
                let mut n: u64 = 0;
                while Instant::now() < until {
                    let seq = cycle << 32 | n;
                    let key = if n.is_multiple_of(2) {
                        key_name(t, (n as usize / 2) % keys)
                    } else {
                        format!("crash-c{cycle:04}-t{t:02}-n{n:08}")
                    };
                    n += 1;
                    match client.put(key.as_bytes(), format!("{seq:016x}").as_bytes()) {
                        Ok(_) => {
                            let mut out = stdout.lock();
                            if writeln!(out, "ack {key} {seq:x}")
                                .and_then(|()| out.flush())
                                .is_err()
                            {
                                return; // The parent is gone.
                            }
                        }
                        Err(StoreError::Indeterminate(_) | StoreError::Timeout(_)) => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
    });
    Ok(())
}

/// The parent: cycles of spawn, kill, restart and verify.
///
/// # Errors
///
/// A child that cannot be started or never gets ready, or a cluster that does not restart
/// from the directories (which is itself a durability failure, reported as such).
pub fn run(opts: &CrashOptions) -> Result<CrashReport> {
    opts.setup.validate()?;
    let exe = std::env::current_exe().map_err(|e| Error::io("cannot find kvlab itself", "-", e))?;
    std::fs::create_dir_all(&opts.dir)
        .map_err(|e| Error::io("cannot create crash-test directory", &opts.dir, e))?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut inserted: Vec<(String, u64)> = Vec::new();
    let mut report = CrashReport::default();
    for cycle in 1..=opts.cycles as u64 {
        let mut child = Command::new(&exe)
            .arg("crash-child")
            .arg("--dir")
            .arg(&opts.dir)
            .args(["--cycle", &cycle.to_string(), "--sync", &opts.setup.sync.to_string()])
            .args([
                "--engine",
                opts.setup.engine.as_str(),
                "--raft-log",
                opts.setup.raft_log.as_str(),
            ])
            .args(["--threads", &opts.threads.to_string()])
            .args(["--keys", &opts.keys_per_thread.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::io("cannot start the crash-test child", &exe, e))?;
        let stdout = child.stdout.take();
        let (tx, rx) = crossbeam_channel::unbounded::<String>();
        let reader = std::thread::spawn(move || {
            if let Some(out) = stdout {
                for line in BufReader::new(out).lines().map_while(std::result::Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        });
        let ready = rx.recv_timeout(READY_TIMEOUT);
        if ready.as_deref() != Ok("ready") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::setting(
                "crash-test child",
                format!("cycle {cycle}"),
                format!("a `ready` line within {READY_TIMEOUT:?} (the cluster did not start)"),
            ));
        }
        let delay_ms = rng.gen_range(opts.min_delay.as_millis()..=opts.max_delay.as_millis());
        std::thread::sleep(Duration::from_millis(delay_ms as u64));
        child.kill().map_err(|e| Error::io("cannot kill the crash-test child", &exe, e))?;
        let _ = child.wait();
        let _ = reader.join();
        let mut fresh = Vec::new();
        for line in rx.try_iter() {
            let mut parts = line.split(' ');
            if let (Some("ack"), Some(key), Some(seq)) = (parts.next(), parts.next(), parts.next())
            {
                if let Ok(seq) = u64::from_str_radix(seq, 16) {
                    report.acknowledged += 1;
                    if key.starts_with("crash-c") {
                        fresh.push((key.to_string(), seq));
                    } else {
                        let e = acked.entry(key.to_string()).or_insert(0);
                        *e = (*e).max(seq);
                    }
                }
            }
        }
        let mut check: Vec<(String, u64)> = acked.iter().map(|(k, &s)| (k.clone(), s)).collect();
        check.extend(fresh.iter().cloned());
        verify(opts, &format!("cycle {cycle}"), &check, &mut report)?;
        inserted.extend(fresh);
        report.cycles += 1;
    }
    // Older inserts must survive later crashes and recoveries too.
    let sample: Vec<(String, u64)> =
        inserted.iter().filter(|_| rng.gen_bool(0.05)).take(20_000).cloned().collect();
    verify(opts, "final sample", &sample, &mut report)?;
    report.keys = acked.len() + inserted.len();
    Ok(report)
}

/// Restarts the cluster from the directories and reads every key in `check`: each must hold
/// its acknowledged sequence number or a later one.
fn verify(
    opts: &CrashOptions,
    when: &str,
    check: &[(String, u64)],
    report: &mut CrashReport,
) -> Result<()> {
    let cluster = Cluster::start(config(&opts.dir, opts.setup)).map_err(|e| {
        Error::setting(
            "crash-test restart",
            when,
            format!("a cluster that restarts from {}: {e}", opts.dir.display()),
        )
    })?;
    let mut client =
        cluster.client(ClientConfig { timeout: Duration::from_secs(5), ..ClientConfig::default() });
    for (key, want) in check {
        let want = *want;
        let got = client.get(key.as_bytes())?.value;
        let seq = got
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| u64::from_str_radix(v, 16).ok());
        if seq.is_none_or(|s| s < want) {
            report.lost += 1;
            if report.examples.len() < 10 {
                report.examples.push(format!(
                    "{when}: {key} acknowledged {want:x}, found {}",
                    seq.map_or("nothing".to_string(), |s| format!("{s:x}"))
                ));
            }
        }
    }
    cluster.shutdown();
    Ok(())
}
