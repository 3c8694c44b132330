//! Local etcd members: the processes kvlab starts on loopback for the `etcd` binding.
//!
//! Each member `mN` gets free loopback ports (client, peer; never etcd's 2379/2380), its data
//! in `<dir>/mN.etcd` and its output in `<dir>/mN.log`, and advertises its peer proxy's port
//! ([`super::proxy`]) as its peer URL, so kvlab can cut links between members.
//!
//! No member outlives kvlab:
//! - members are started as `kvlab etcd-member --parent PID -- etcd …`, which sets its
//!   parent-death signal to SIGKILL and then execs etcd ([`exec_member`]); the signal survives
//!   the exec, so etcd is killed when kvlab dies in any way, SIGKILL included;
//! - the parent-death signal fires when the *thread* that started the process ends, so every
//!   member is started by one spawner thread that lives as long as the cluster;
//! - each member runs in a process group of its own (a Ctrl-C at the terminal reaches kvlab,
//!   which stops the members after writing its results), and [`LocalEtcd`]'s drop kills and
//!   reaps every member and removes their data directories;
//! - a kvlab killed with SIGKILL cannot remove its temporary directory
//!   (`kvlab-etcd-<pid>-…`): the next local cluster removes those whose pid is gone.
//!
//! With `store.node_cpus=F` each member runs in a cgroup of its own with a quota of F cores, as
//! kvlab's node processes do ([`kvlab_store::cgroup`]).
//!
//! Faults ([`crate::nemesis::FaultTarget`]): partitions and isolation through the proxies,
//! pause by SIGSTOP/SIGCONT, kill by SIGKILL and restart from the member's data directory
//! with the same flags (`--initial-cluster-state existing`).

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, GetOptions};
use kvlab_store::cgroup::{Cgroup, ProcessBudgets};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use parking_lot::Mutex;
use rand_chacha::ChaCha8Rng;

use super::proxy::{Member, PeerProxies};
use crate::error::{Error, Result};
use crate::nemesis::{FaultKind, FaultTarget};

/// How long a starting (or restarted) member may take to serve a read.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one readiness probe or status call may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);
/// How long the spawner thread may take to start a process.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a local cluster is made of (from the `etcd.*` properties).
#[derive(Clone, Debug)]
pub struct LocalSpec {
    /// Members (`etcd.members`).
    pub members: usize,
    /// The etcd server binary.
    pub bin: PathBuf,
    /// The program whose hidden `etcd-member` subcommand execs etcd (kvlab itself).
    pub launcher: PathBuf,
    /// Where data and logs go (`etcd.dir`); `None`: a temporary directory.
    pub dir: Option<PathBuf>,
    /// Per-member CPU budget in cores (`store.node_cpus`).
    pub node_cpus: Option<f64>,
    /// Run without budgets where cgroups cannot apply them (`store.node_cpus_optional`).
    pub node_cpus_optional: bool,
    /// The cgroup hierarchy to use (`store.cgroup_root`).
    pub cgroup_root: Option<PathBuf>,
}

/// One member's fixed facts.
struct MemberSpec {
    name: String,
    client_port: u16,
    peer_port: u16,
    data: PathBuf,
    log: PathBuf,
}

/// A running member process.
struct Running {
    child: Child,
    paused: bool,
    /// Dropped after the process exited (removes the group).
    cgroup: Option<Cgroup>,
}

/// Starts processes from one long-lived thread, so that their parent-death signal fires
/// when the cluster ends, not when whichever thread started them does.
struct Spawner {
    tx: Option<mpsc::Sender<(Command, mpsc::Sender<std::io::Result<Child>>)>>,
    thread: Option<JoinHandle<()>>,
}

impl Spawner {
    fn new() -> Result<Spawner> {
        let (tx, rx) = mpsc::channel::<(Command, mpsc::Sender<std::io::Result<Child>>)>();
        let thread = std::thread::Builder::new()
            .name("kvlab-etcd-spawner".into())
            .spawn(move || {
                while let Ok((mut command, reply)) = rx.recv() {
                    let _ = reply.send(command.spawn());
                }
            })
            .map_err(|e| Error::setting("db", "etcd", format!("a spawner thread ({e})")))?;
        Ok(Spawner { tx: Some(tx), thread: Some(thread) })
    }

    fn spawn(&self, command: Command) -> std::io::Result<Child> {
        let gone = || std::io::Error::other("the spawner thread has ended");
        let (reply, answer) = mpsc::channel();
        self.tx.as_ref().ok_or_else(gone)?.send((command, reply)).map_err(|_| gone())?;
        answer.recv_timeout(SPAWN_TIMEOUT).map_err(|_| gone())?
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The hidden `kvlab etcd-member` subcommand: makes SIGKILL this process's parent-death
/// signal, checks that its parent (`parent`) is still alive, and execs `program` with `args`.
/// Returns only on failure.
///
/// # Errors
///
/// The parent already gone, or the exec failing (a missing or non-executable program).
pub fn exec_member(parent: u32, program: &Path, args: &[OsString]) -> Result<()> {
    let fail = |what: String| Error::setting("etcd.bin", program.display(), what);
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))
        .map_err(|e| fail(format!("a parent-death signal (prctl: {e})")))?;
    // The parent may have died before the signal was armed: then nobody would kill etcd.
    if nix::unistd::getppid().as_raw() != parent as i32 {
        return Err(fail(format!("parent process {parent} alive (it has exited)")));
    }
    let c = |s: &std::ffi::OsStr| CString::new(s.as_bytes()).map_err(|e| fail(e.to_string()));
    let path = c(program.as_os_str())?;
    let mut argv = vec![path.clone()];
    for a in args {
        argv.push(c(a)?);
    }
    let err = nix::unistd::execv(&path, &argv).err();
    Err(fail(format!(
        "an executable etcd server ({})",
        err.map_or(String::new(), |e| e.to_string())
    )))
}

/// The name of a temporary cluster directory: this prefix, the kvlab pid, `-`, a random part.
const TEMP_PREFIX: &str = "kvlab-etcd-";

/// Removes the temporary cluster directories under `tmp` whose kvlab process is gone: one
/// killed with SIGKILL took its members with it (their parent-death signal) but could not
/// remove their data. A directory whose pid runs (maybe reused by another process) is kept.
pub fn sweep_orphaned_dirs(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A free loopback port, with its listener held until the port is handed out.
fn free_listener() -> Result<std::net::TcpListener> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::setting("etcd.members", "local", format!("a free loopback port ({e})")))
}

fn port_of(l: &std::net::TcpListener) -> Result<u16> {
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::setting("etcd.members", "local", format!("a loopback port ({e})")))
}

/// The line of a member's log that says why it failed (a bind error, a fatal or error entry),
/// else its last lines.
pub fn log_reason(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let pick = |needle: &str| lines.iter().rev().find(|l| l.contains(needle));
    if let Some(line) = pick("address already in use")
        .or_else(|| pick("bind:"))
        .or_else(|| pick("\"fatal\""))
        .or_else(|| pick("\"error\""))
        .or_else(|| pick("error"))
    {
        return line.trim().to_string();
    }
    let tail: Vec<&str> = lines.iter().rev().take(4).rev().copied().collect();
    tail.join("\n")
}

/// An etcd client of one endpoint only.
pub async fn connect(endpoint: &str, timeout: Duration) -> Result<Client, etcd_client::Error> {
    let options = ConnectOptions::new()
        .with_timeout(timeout)
        .with_connect_timeout(timeout.min(PROBE_TIMEOUT));
    Client::connect([endpoint], Some(options)).await
}

/// Local members (see the module docs).
pub struct LocalEtcd {
    spec: LocalSpec,
    members: Vec<MemberSpec>,
    initial_cluster: String,
    token: String,
    base: PathBuf,
    running: Mutex<BTreeMap<Member, Running>>,
    /// etcd member id of each member.
    ids: Mutex<BTreeMap<Member, u64>>,
    budgets: ProcessBudgets,
    proxies: PeerProxies,
    rt: tokio::runtime::Handle,
    spawner: Spawner,
    _temp: Option<tempfile::TempDir>,
}

impl LocalEtcd {
    /// Starts `spec.members` members and waits until each serves a linearizable read.
    ///
    /// # Errors
    ///
    /// A data directory that cannot be made, CPU budgets that cannot be applied (without
    /// `store.node_cpus_optional`), a member that exits at start (quoting the line of its log
    /// that says why, e.g. a port in use), or one not ready within [`READY_TIMEOUT`].
    pub fn start(spec: LocalSpec, rt: tokio::runtime::Handle) -> Result<LocalEtcd> {
        let (base, temp) = match &spec.dir {
            Some(d) => {
                if d.join("m1.etcd").exists() {
                    return Err(Error::setting(
                        "etcd.dir",
                        d.display(),
                        "a directory without another cluster's data (m1.etcd exists; \
                         remove it or choose another directory)",
                    ));
                }
                std::fs::create_dir_all(d)
                    .map_err(|e| Error::io("cannot create etcd directory", d, e))?;
                (d.clone(), None)
            }
            None => {
                sweep_orphaned_dirs(&std::env::temp_dir());
                let t = tempfile::Builder::new()
                    .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
                    .tempdir()
                    .map_err(|e| Error::io("cannot create etcd directory", "/tmp", e))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let mut held = Vec::new();
        let mut members = Vec::new();
        for i in 1..=spec.members {
            let (client, peer) = (free_listener()?, free_listener()?);
            members.push(MemberSpec {
                name: format!("m{i}"),
                client_port: port_of(&client)?,
                peer_port: port_of(&peer)?,
                data: base.join(format!("m{i}.etcd")),
                log: base.join(format!("m{i}.log")),
            });
            held.push((client, peer));
        }
        let peer_ports: Vec<u16> = members.iter().map(|m| m.peer_port).collect();
        let proxies = PeerProxies::start(&peer_ports).map_err(|e| {
            Error::setting("etcd.members", spec.members, format!("peer proxies ({e})"))
        })?;
        let initial_cluster = members
            .iter()
            .zip(proxies.ports())
            .map(|(m, p)| format!("{}=http://127.0.0.1:{p}", m.name))
            .collect::<Vec<_>>()
            .join(",");
        let budgets = ProcessBudgets::resolve(
            spec.node_cpus,
            spec.node_cpus_optional,
            spec.cgroup_root.as_deref(),
        )
        .map_err(|expected| {
            Error::setting("store.node_cpus", spec.node_cpus.unwrap_or_default(), expected)
        })?;
        let cluster = LocalEtcd {
            token: format!("kvlab-{}-{}", std::process::id(), proxies.ports()[0]),
            spec,
            members,
            initial_cluster,
            base,
            running: Mutex::new(BTreeMap::new()),
            ids: Mutex::new(BTreeMap::new()),
            budgets,
            proxies,
            rt,
            spawner: Spawner::new()?,
            _temp: temp,
        };
        // The ports are handed over as late as possible.
        drop(held);
        for m in 1..=cluster.members.len() as Member {
            cluster.spawn(m, "new")?;
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        for m in 1..=cluster.members.len() as Member {
            cluster.wait_ready(m, deadline, GetOptions::new())?;
        }
        cluster.learn_ids()?;
        Ok(cluster)
    }

    fn member(&self, m: Member) -> &MemberSpec {
        &self.members[m as usize - 1]
    }

    /// Member `m`'s client endpoint.
    pub fn endpoint(&self, m: Member) -> String {
        format!("127.0.0.1:{}", self.member(m).client_port)
    }

    /// Every member's client endpoint, in member order.
    pub fn endpoints(&self) -> Vec<String> {
        (1..=self.members.len() as Member).map(|m| self.endpoint(m)).collect()
    }

    /// The directory holding the members' data and logs.
    pub fn dir(&self) -> &Path {
        &self.base
    }

    /// The pids of the running members.
    pub fn pids(&self) -> Vec<u32> {
        self.running.lock().values().map(|r| r.child.id()).collect()
    }

    /// The pid of member `m`, if it runs.
    pub fn pid(&self, m: Member) -> Option<u32> {
        self.running.lock().get(&m).map(|r| r.child.id())
    }

    /// CPU seconds member `m` used (its cgroup's, else its process's).
    pub fn cpu_seconds(&self, m: Member) -> Option<f64> {
        let running = self.running.lock();
        let r = running.get(&m)?;
        r.cgroup
            .as_ref()
            .and_then(Cgroup::cpu_seconds)
            .or_else(|| kvlab_store::cgroup::process_cpu_seconds(r.child.id()))
    }

    /// The member numbered by etcd member id `id`.
    pub fn member_of_id(&self, id: u64) -> Option<Member> {
        self.ids.lock().iter().find(|(_, &i)| i == id).map(|(&m, _)| m)
    }

    /// Whether member `m` runs and is not paused.
    pub fn is_up(&self, m: Member) -> bool {
        self.running.lock().get(&m).is_some_and(|r| !r.paused)
    }

    fn args(&self, m: Member, state: &str) -> Vec<OsString> {
        let spec = self.member(m);
        let proxy = self.proxies.ports()[m as usize - 1];
        let client = format!("http://127.0.0.1:{}", spec.client_port);
        let flags: Vec<(&str, String)> = vec![
            ("--name", spec.name.clone()),
            ("--data-dir", spec.data.display().to_string()),
            ("--listen-client-urls", client.clone()),
            ("--advertise-client-urls", client),
            ("--listen-peer-urls", format!("http://127.0.0.1:{}", spec.peer_port)),
            ("--initial-advertise-peer-urls", format!("http://127.0.0.1:{proxy}")),
            ("--initial-cluster", self.initial_cluster.clone()),
            ("--initial-cluster-token", self.token.clone()),
            ("--initial-cluster-state", state.to_string()),
            ("--heartbeat-interval", "100".into()),
            ("--election-timeout", "1000".into()),
            ("--logger", "zap".into()),
            ("--log-outputs", "stderr".into()),
        ];
        flags.into_iter().map(|(k, v)| OsString::from(format!("{k}={v}"))).collect()
    }

    fn spawn(&self, m: Member, state: &str) -> Result<()> {
        let spec = self.member(m);
        let open_log = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&spec.log)
                .map_err(|e| Error::io("cannot write etcd log", &spec.log, e))
        };
        let mut command = Command::new(&self.spec.launcher);
        command
            .arg("etcd-member")
            .arg("--parent")
            .arg(std::process::id().to_string())
            .arg("--")
            .arg(&self.spec.bin)
            .args(self.args(m, state))
            .stdin(Stdio::null())
            .stdout(open_log()?)
            .stderr(open_log()?)
            // Its own process group: a Ctrl-C at the terminal reaches kvlab only.
            .process_group(0);
        let child = self.spawner.spawn(command).map_err(|e| {
            Error::setting(
                "etcd.bin",
                self.spec.bin.display(),
                format!("a startable etcd member ({}: {e})", self.spec.launcher.display()),
            )
        })?;
        let mut running = Running { child, paused: false, cgroup: None };
        let name = format!("kvlab-{}-etcd{m}", std::process::id());
        match self.budgets.place(&name, running.child.id()) {
            Ok(group) => running.cgroup = group,
            Err(e) => {
                let _ = running.child.kill();
                let _ = running.child.wait();
                return Err(Error::setting(
                    "store.node_cpus",
                    self.spec.node_cpus.unwrap_or_default(),
                    format!("a CPU budget applied to etcd member {m} ({e})"),
                ));
            }
        }
        self.running.lock().insert(m, running);
        Ok(())
    }

    /// Waits until member `m` answers a get with `options`; fails at once if it exited.
    fn wait_ready(&self, m: Member, deadline: Instant, options: GetOptions) -> Result<()> {
        let endpoint = self.endpoint(m);
        let mut last;
        loop {
            let exited =
                self.running.lock().get_mut(&m).and_then(|r| r.child.try_wait().ok().flatten());
            if let Some(status) = exited {
                let log = &self.member(m).log;
                return Err(Error::setting(
                    "etcd.members",
                    self.members.len(),
                    format!(
                        "etcd member {m} running, but it exited at start ({status}); {}: {}",
                        log.display(),
                        log_reason(log)
                    ),
                ));
            }
            let probe = async {
                let mut client = connect(&endpoint, PROBE_TIMEOUT).await?;
                client.get("kvlab-ready", Some(options.clone())).await
            };
            match self.rt.block_on(async { tokio::time::timeout(PROBE_TIMEOUT, probe).await }) {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = format!("no answer within {PROBE_TIMEOUT:?}"),
            }
            if Instant::now() >= deadline {
                return Err(Error::setting(
                    "etcd.members",
                    self.members.len(),
                    format!(
                        "etcd member {m} at {endpoint} ready within {READY_TIMEOUT:?} (last: {last}; \
                         log {})",
                        self.member(m).log.display()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Reads the member list and tells the proxies which member id is which member.
    fn learn_ids(&self) -> Result<()> {
        let endpoint = self.endpoint(1);
        let list = self.rt.block_on(async {
            let mut client = connect(&endpoint, READY_TIMEOUT).await?;
            client.member_list().await
        });
        let list = list.map_err(|e| {
            Error::setting("etcd.members", self.members.len(), format!("a member list ({e})"))
        })?;
        let mut ids = BTreeMap::new();
        for member in list.members() {
            let port = self
                .proxies
                .ports()
                .iter()
                .position(|p| member.peer_urls().iter().any(|u| u.ends_with(&format!(":{p}"))));
            if let Some(i) = port {
                ids.insert(i as Member + 1, member.id());
            }
        }
        self.proxies.set_ids(ids.iter().map(|(&m, &id)| (id, m)).collect::<HashMap<_, _>>());
        *self.ids.lock() = ids;
        Ok(())
    }

    /// The member that leads, as the running, unpaused members see it (status calls).
    pub fn leader(&self) -> Option<Member> {
        for m in self.running_nodes() {
            if !self.is_up(m) {
                continue;
            }
            let endpoint = self.endpoint(m);
            let status = self.rt.block_on(async {
                tokio::time::timeout(PROBE_TIMEOUT, async {
                    let mut client = connect(&endpoint, PROBE_TIMEOUT).await?;
                    client.status().await
                })
                .await
            });
            if let Ok(Ok(status)) = status {
                if let Some(leader) = self.member_of_id(status.leader()) {
                    return Some(leader);
                }
            }
        }
        None
    }

    /// The proxies (tests look at their connections).
    pub fn proxies(&self) -> &PeerProxies {
        &self.proxies
    }

    /// How the members run, for the results.
    pub fn notes(&self) -> Vec<String> {
        let n = self.members.len();
        let what = format!(
            "{n} local etcd members ({}), data in {}",
            self.spec.bin.display(),
            self.base.display()
        );
        vec![self.budgets.describe(&what)]
    }

    /// The notes that say the run differs from what was asked for.
    pub fn warnings(&self) -> Vec<String> {
        if self.budgets.skipped() {
            self.notes()
        } else {
            Vec::new()
        }
    }

    fn signal(&self, m: Member, sig: Signal) -> std::result::Result<(), String> {
        let mut running = self.running.lock();
        let r = running.get_mut(&m).ok_or_else(|| format!("member {m} is down"))?;
        kill(Pid::from_raw(r.child.id() as i32), sig)
            .map_err(|e| format!("signal {sig} to member {m}: {e}"))?;
        r.paused = sig == Signal::SIGSTOP;
        Ok(())
    }
}

/// Whether local members can take the fault `kind`: every kind but `leader-transfer` and
/// `latency`.
pub fn supports(kind: FaultKind) -> bool {
    !matches!(kind, FaultKind::LeaderTransfer | FaultKind::Latency)
}

impl FaultTarget for LocalEtcd {
    fn supports(&self, kind: FaultKind) -> bool {
        supports(kind)
    }

    fn running_nodes(&self) -> Vec<u64> {
        self.running.lock().keys().copied().collect()
    }

    fn node_count(&self) -> usize {
        self.members.len()
    }

    fn partition(&self, a: &[u64], b: &[u64]) {
        self.proxies.cut(a, b);
    }

    fn isolate(&self, node: u64) {
        let others: Vec<Member> =
            (1..=self.members.len() as Member).filter(|&m| m != node).collect();
        self.proxies.cut(&[node], &others);
    }

    fn heal(&self) {
        self.proxies.heal();
    }

    fn choose_leader(&self, _rng: &mut ChaCha8Rng) -> std::result::Result<(u64, String), String> {
        match self.leader() {
            Some(m) => Ok((m, format!("member {m} (the leader)"))),
            None => Err("no member knows a leader: nothing done".into()),
        }
    }

    fn pause_node(&self, node: u64) -> std::result::Result<(), String> {
        self.signal(node, Signal::SIGSTOP)
    }

    fn resume_node(&self, node: u64) -> std::result::Result<(), String> {
        self.signal(node, Signal::SIGCONT)
    }

    fn stop_node(&self, node: u64) -> std::result::Result<(), String> {
        let mut r =
            self.running.lock().remove(&node).ok_or_else(|| format!("member {node} is down"))?;
        let _ = r.child.kill();
        let _ = r.child.wait();
        Ok(())
    }

    fn restart_node(&self, node: u64) -> std::result::Result<(), String> {
        if self.running.lock().contains_key(&node) {
            return Ok(());
        }
        self.spawn(node, "existing").map_err(|e| e.to_string())?;
        // Serving (a member-local read) is enough: a leader may be missing under other faults.
        let deadline = Instant::now() + READY_TIMEOUT;
        self.wait_ready(node, deadline, GetOptions::new().with_serializable())
            .map_err(|e| e.to_string())
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        // SIGKILL: the data is discarded, and a leader can take seconds to exit on SIGTERM.
        let running = std::mem::take(&mut *self.running.lock());
        for (_, mut r) in running {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
        for m in &self.members {
            let _ = std::fs::remove_dir_all(&m.data);
        }
    }
}
