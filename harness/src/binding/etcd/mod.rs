//! The `etcd` binding: a real reference system. The harness drives an etcd cluster through
//! the `etcd-client` crate (gRPC, tonic), members kvlab starts on loopback ([`members`]) or a
//! running cluster (`etcd.endpoints`).
//!
//! Properties (an unknown `etcd.*` property is an error that lists these):
//!
//! | property | default | meaning |
//! | --- | --- | --- |
//! | `etcd.members` | 3 | local members to start (1–9) |
//! | `etcd.endpoints` | unset | `host:port,…` of a running cluster: nothing is started, no faults |
//! | `etcd.bin` | `$ETCD_BIN`, else `etcd` on `PATH` | the etcd server binary |
//! | `etcd.dir` | a temporary directory | where members keep their data (removed at exit) and logs (kept) |
//! | `etcd.read` | `linearizable` | `linearizable` or `serializable` (member-local) reads |
//! | `etcd.member` | `round-robin` | client thread `t` talks to member `t mod n + 1` only, or to member N |
//!
//! `store.node_cpus`, `store.node_cpus_optional` and `store.cgroup_root` give local members CPU
//! budgets as they do kvlab's node processes; `timeout` bounds every request.
//!
//! Operations: `read` is a get (`served_as` `linearizable` or `serializable`), `update` and
//! `insert` a put, `delete` a delete, `scan` a range from the key with a limit,
//! `readmodifywrite` a get then a put, `batchread` one get per key. `Served.node` is the
//! member (1-based) the thread talks to. A failed write is `timeout` (its deadline passed) or
//! `indeterminate` (anything else): etcd may have committed it, so the checker never takes it
//! as not done.

pub mod members;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_client::{Client, GetOptions, KvClient};
use kvlab_workloads::{OpKind, Operation};

use super::{value_tag, Binding, DbClient, NodeRow, OpError, Served};
use crate::error::{Error, Result};
use crate::nemesis::FaultTarget;
use crate::settings::Settings;
pub use members::{exec_member, LocalEtcd, LocalSpec};

/// The `etcd.*` properties.
pub const PROPERTIES: [&str; 6] =
    ["etcd.members", "etcd.endpoints", "etcd.bin", "etcd.dir", "etcd.read", "etcd.member"];

/// How reads are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtcdRead {
    /// Through the leader's ReadIndex (etcd's default).
    Linearizable,
    /// From the member's own state, possibly stale.
    Serializable,
}

impl EtcdRead {
    /// The name in properties and in the trace's `served_as`.
    pub fn as_str(self) -> &'static str {
        match self {
            EtcdRead::Linearizable => "linearizable",
            EtcdRead::Serializable => "serializable",
        }
    }
}

/// Which member each client thread talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChoice {
    /// Thread `t` talks to member `t mod n + 1`.
    RoundRobin,
    /// Every thread talks to this member.
    Fixed(u64),
}

/// Where the cluster is.
#[derive(Clone, Debug)]
pub enum Placement {
    /// Members kvlab starts.
    Local {
        /// Members.
        members: usize,
        /// `etcd.dir`.
        dir: Option<PathBuf>,
        /// `etcd.bin` (else `ETCD_BIN`, else `etcd` on `PATH`), as given.
        bin: Option<PathBuf>,
    },
    /// A running cluster at these endpoints.
    Endpoints(Vec<String>),
}

/// The parsed `etcd.*` properties.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// Local members or endpoints.
    pub placement: Placement,
    /// `etcd.read`.
    pub read: EtcdRead,
    /// `etcd.member`.
    pub member: MemberChoice,
}

impl EtcdOptions {
    /// Reads the `etcd.*` properties.
    ///
    /// # Errors
    ///
    /// An unknown `etcd.*` property or a bad value, naming the property.
    pub fn from_settings(settings: &Settings) -> Result<EtcdOptions> {
        let pairs = settings.with_prefix("etcd.");
        if let Some((key, value)) = pairs.iter().find(|(k, _)| !PROPERTIES.contains(&k.as_str())) {
            return Err(Error::setting(
                key,
                value,
                format!("a known etcd property: one of {}", PROPERTIES.join(", ")),
            ));
        }
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
        let read = match get("etcd.read") {
            None | Some("linearizable") => EtcdRead::Linearizable,
            Some("serializable") => EtcdRead::Serializable,
            Some(other) => {
                return Err(Error::setting("etcd.read", other, "linearizable or serializable"))
            }
        };
        let endpoints: Option<Vec<String>> = get("etcd.endpoints").map(|list| {
            list.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect()
        });
        let members = match get("etcd.members") {
            None => endpoints.as_ref().map_or(3, Vec::len),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=9).contains(&n) => n,
                _ => return Err(Error::setting("etcd.members", text, "an integer from 1 to 9")),
            },
        };
        let placement = match endpoints {
            Some(eps) if eps.is_empty() => {
                return Err(Error::setting("etcd.endpoints", "", "host:port,… of etcd members"))
            }
            Some(eps) => {
                if eps.len() != members {
                    return Err(Error::setting(
                        "etcd.members",
                        members,
                        format!("the number of etcd.endpoints ({})", eps.len()),
                    ));
                }
                for key in ["etcd.dir", "etcd.bin"] {
                    if let Some(v) = get(key) {
                        return Err(Error::setting(
                            key,
                            v,
                            "nothing with etcd.endpoints (kvlab starts no members there)",
                        ));
                    }
                }
                Placement::Endpoints(eps)
            }
            None => Placement::Local {
                members,
                dir: get("etcd.dir").map(PathBuf::from),
                bin: get("etcd.bin").map(PathBuf::from),
            },
        };
        let n = match &placement {
            Placement::Local { members, .. } => *members,
            Placement::Endpoints(eps) => eps.len(),
        };
        let member = match get("etcd.member") {
            None | Some("round-robin") => MemberChoice::RoundRobin,
            Some(text) => match text.parse::<u64>() {
                Ok(m) if (1..=n as u64).contains(&m) => MemberChoice::Fixed(m),
                _ => {
                    return Err(Error::setting(
                        "etcd.member",
                        text,
                        format!("round-robin or a member number from 1 to {n}"),
                    ))
                }
            },
        };
        Ok(EtcdOptions { placement, read, member })
    }
}

/// The etcd server binary: `given` (`etcd.bin`), else `ETCD_BIN`, else `etcd` on `PATH`.
///
/// # Errors
///
/// A binary that does not exist, naming it and where it came from.
pub fn find_etcd(given: Option<&Path>) -> Result<PathBuf> {
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let env = std::env::var_os("ETCD_BIN").filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some((path, from)) =
        given.map(|p| (p.to_path_buf(), "etcd.bin")).or(env.map(|p| (p, "ETCD_BIN")))
    {
        if executable(&path) {
            return Ok(path);
        }
        return Err(Error::setting(
            "etcd.bin",
            path.display(),
            format!(
                "the etcd server binary ({from} names {}, which is not an executable file)",
                path.display()
            ),
        ));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join("etcd")).find(|p| executable(p)).ok_or_else(|| {
        Error::setting(
            "etcd.bin",
            "etcd",
            "the etcd server binary: none on PATH (install Debian's etcd-server, e.g. `make \
             deps`, or set etcd.bin=PATH or ETCD_BIN)",
        )
    })
}

/// The `etcd` binding (see the module docs).
pub struct EtcdBinding {
    /// Local members (dropped before the runtime).
    local: Option<LocalEtcd>,
    endpoints: Vec<String>,
    options: EtcdOptions,
    timeout: Duration,
    check: bool,
    version: String,
    rt: tokio::runtime::Runtime,
}

impl EtcdBinding {
    /// Checks the settings without starting anything.
    ///
    /// # Errors
    ///
    /// A bad `etcd.*` property, a missing etcd binary, or a nemesis the cluster cannot serve
    /// (any with `etcd.endpoints`; `leader-transfer` and `latency` anywhere).
    pub fn validate(settings: &Settings) -> Result<()> {
        let options = EtcdOptions::from_settings(settings)?;
        if let Placement::Local { bin, .. } = &options.placement {
            find_etcd(bin.as_deref())?;
        }
        if let Some(spec) = &settings.nemesis {
            if matches!(options.placement, Placement::Endpoints(_)) {
                let kinds: Vec<&str> = spec.faults.iter().map(|f| f.as_str()).collect();
                return Err(Error::setting(
                    "nemesis",
                    kinds.join(","),
                    "none with etcd.endpoints: kvlab owns no etcd process there (drop \
                     etcd.endpoints to have kvlab start local members)",
                ));
            }
            if let Some(err) = crate::nemesis::unsupported(spec, "db=etcd", members::supports) {
                return Err(err);
            }
        }
        if settings.props.get("store.node_cpus").is_some() {
            if let Placement::Endpoints(_) = options.placement {
                return Err(Error::setting(
                    "store.node_cpus",
                    settings.props.get_str_or("store.node_cpus", ""),
                    "no budget with etcd.endpoints (kvlab starts no members there)",
                ));
            }
        }
        Ok(())
    }

    /// Starts (or connects to) the cluster the settings describe, running the members through
    /// this program's hidden `etcd-member` subcommand.
    ///
    /// # Errors
    ///
    /// As [`EtcdBinding::open_with`].
    pub fn open(settings: &Settings) -> Result<Self> {
        let launcher = std::env::current_exe()
            .map_err(|e| Error::setting("db", "etcd", format!("the kvlab program ({e})")))?;
        Self::open_with(settings, &launcher)
    }

    /// As [`EtcdBinding::open`], with `launcher` the kvlab program whose `etcd-member`
    /// subcommand starts each member (tests pass the built `kvlab`).
    ///
    /// # Errors
    ///
    /// A bad property (see [`EtcdBinding::validate`]), a member that cannot start or does not
    /// become ready (the reason quoted from its log), or endpoints that do not answer.
    pub fn open_with(settings: &Settings, launcher: &Path) -> Result<Self> {
        Self::validate(settings)?;
        let options = EtcdOptions::from_settings(settings)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kvlab-etcd-client")
            .enable_all()
            .build()
            .map_err(|e| Error::setting("db", "etcd", format!("a tokio runtime ({e})")))?;
        let (local, endpoints) = match &options.placement {
            Placement::Local { members, dir, bin } => {
                let node_cpus = match settings.props.get("store.node_cpus") {
                    None => None,
                    Some(text) => match text.trim().parse::<f64>() {
                        Ok(c) if c > 0.0 && c.is_finite() => Some(c),
                        _ => {
                            return Err(Error::setting(
                                "store.node_cpus",
                                text,
                                "a positive number of cores",
                            ))
                        }
                    },
                };
                let spec = LocalSpec {
                    members: *members,
                    bin: find_etcd(bin.as_deref())?,
                    launcher: launcher.to_path_buf(),
                    dir: dir.clone(),
                    node_cpus,
                    node_cpus_optional: settings
                        .props
                        .get_str_or("store.node_cpus_optional", "false")
                        == "true",
                    cgroup_root: settings.props.get("store.cgroup_root").map(PathBuf::from),
                };
                let local = LocalEtcd::start(spec, rt.handle().clone())?;
                let endpoints = local.endpoints();
                (Some(local), endpoints)
            }
            Placement::Endpoints(eps) => (None, eps.clone()),
        };
        let mut binding = EtcdBinding {
            local,
            endpoints,
            options,
            timeout: settings.timeout,
            check: settings.check,
            version: String::new(),
            rt,
        };
        binding.version = binding.probe_endpoints()?;
        Ok(binding)
    }

    /// Asks every endpoint for its status; the version of the first.
    fn probe_endpoints(&self) -> Result<String> {
        let mut version = String::new();
        for endpoint in &self.endpoints {
            let wait = self.timeout.min(Duration::from_secs(5));
            let status = self.rt.block_on(async {
                tokio::time::timeout(wait, async {
                    let mut client = members::connect(endpoint, wait).await?;
                    client.status().await
                })
                .await
            });
            match status {
                Ok(Ok(s)) if version.is_empty() => version = s.version().to_string(),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(unreachable(endpoint, &e.to_string())),
                Err(_) => return Err(unreachable(endpoint, &format!("no answer within {wait:?}"))),
            }
        }
        Ok(version)
    }

    /// The local members (`None` with `etcd.endpoints`).
    pub fn local(&self) -> Option<&LocalEtcd> {
        self.local.as_ref()
    }

    /// The member thread `thread` talks to.
    pub fn member_of_thread(&self, thread: usize) -> u64 {
        match self.options.member {
            MemberChoice::RoundRobin => (thread % self.endpoints.len()) as u64 + 1,
            MemberChoice::Fixed(m) => m,
        }
    }

    fn connect(&self, member: u64) -> Result<Client> {
        let endpoint = &self.endpoints[member as usize - 1];
        self.rt
            .block_on(members::connect(endpoint, self.timeout))
            .map_err(|e| unreachable(endpoint, &e.to_string()))
    }
}

fn unreachable(endpoint: &str, why: &str) -> Error {
    Error::setting(
        "etcd.endpoints",
        endpoint,
        format!("a reachable etcd member (it is unreachable: {why})"),
    )
}

impl Binding for EtcdBinding {
    fn name(&self) -> &'static str {
        "etcd"
    }

    fn client(&self, thread: usize) -> Result<Box<dyn DbClient>> {
        let member = self.member_of_thread(thread);
        let client = self.connect(member)?;
        Ok(Box::new(EtcdClient {
            kv: client.kv_client(),
            rt: self.rt.handle().clone(),
            member,
            read: self.options.read,
            timeout: self.timeout,
            check: self.check,
        }))
    }

    fn needs_load(&self) -> bool {
        if self.local.is_some() {
            return true;
        }
        let Ok(client) = self.connect(1) else { return true };
        let mut kv = client.kv_client();
        let options = GetOptions::new().with_all_keys().with_limit(1).with_keys_only();
        let found = self.rt.block_on(async {
            tokio::time::timeout(self.timeout, kv.get(Vec::new(), Some(options))).await
        });
        !matches!(found, Ok(Ok(r)) if !r.kvs().is_empty())
    }

    fn nodes(&self) -> Vec<NodeRow> {
        let Some(local) = &self.local else { return Vec::new() };
        let leader = local.leader();
        let client_cpu = kvlab_store::cgroup::self_cpu_seconds();
        (1..=self.endpoints.len() as u64)
            .map(|m| NodeRow {
                node: m,
                leaders: u64::from(leader == Some(m)),
                cpu_seconds: local.cpu_seconds(m),
                client_cpu_seconds: client_cpu,
                ..NodeRow::default()
            })
            .collect()
    }

    fn notes(&self) -> Vec<String> {
        let version = format!("etcd {}", self.version);
        let mut notes = match &self.local {
            Some(local) => local.notes(),
            None => vec![format!(
                "{} etcd members at etcd.endpoints (not started by kvlab)",
                self.endpoints.len()
            )],
        };
        notes.push(format!("{version}, {} reads", self.options.read.as_str()));
        notes
    }

    fn warnings(&self) -> Vec<String> {
        self.local.as_ref().map(LocalEtcd::warnings).unwrap_or_default()
    }

    fn faults(&self) -> Option<&dyn FaultTarget> {
        self.local.as_ref().map(|l| l as &dyn FaultTarget)
    }
}

impl Drop for EtcdBinding {
    fn drop(&mut self) {
        // Members first, while the runtime still runs.
        drop(self.local.take());
    }
}

/// How often a refused connection is retried within an operation's timeout.
const RETRY_STEP: Duration = Duration::from_millis(20);

/// Whether `e` says the connection was refused: the request was never sent.
fn refused(e: &etcd_client::Error) -> bool {
    let text = e.to_string();
    text.contains("tcp connect error") || text.contains("Connection refused")
}

/// One client thread's connection to one member.
struct EtcdClient {
    kv: KvClient,
    rt: tokio::runtime::Handle,
    member: u64,
    read: EtcdRead,
    timeout: Duration,
    check: bool,
}

/// Whether an operation changes the store (its failure has an unknown outcome).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    Reads,
    Writes,
}

impl EtcdClient {
    fn served(&self) -> Served {
        Served { node: Some(self.member), ..Served::default() }
    }

    fn get_options(&self) -> GetOptions {
        match self.read {
            EtcdRead::Linearizable => GetOptions::new(),
            EtcdRead::Serializable => GetOptions::new().with_serializable(),
        }
    }

    /// Runs the request `attempt` makes within the timeout, classifying its failure. A
    /// refused connection (a member that is down or restarting) is retried every
    /// [`RETRY_STEP`] until the timeout, as the store's client retries; it then fails as
    /// `unavailable`, since nothing was sent.
    fn call<T, F>(
        &self,
        effect: Effect,
        mut attempt: impl FnMut(KvClient) -> F,
    ) -> Result<T, OpError>
    where
        F: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let outcome = self.rt.block_on(async {
            loop {
                match tokio::time::timeout_at(deadline, attempt(self.kv.clone())).await {
                    Ok(Err(e)) if refused(&e) => {
                        if tokio::time::Instant::now() + RETRY_STEP >= deadline {
                            return Ok(Err((e, true)));
                        }
                        tokio::time::sleep(RETRY_STEP).await;
                    }
                    Ok(result) => return Ok(result.map_err(|e| (e, false))),
                    Err(elapsed) => return Err(elapsed),
                }
            }
        });
        let fail = |kind: &'static str, message: String| OpError {
            served: self.served(),
            ..OpError::new(kind, message)
        };
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Err(_) => Err(fail("timeout", format!("no answer within {:?}", self.timeout))),
            Ok(Err((e, true))) => Err(fail("unavailable", e.to_string())),
            Ok(Err((e, false))) => {
                let deadline = matches!(&e, etcd_client::Error::GRpcStatus(s)
                    if s.code() == tonic::Code::DeadlineExceeded);
                let kind = match (deadline, effect) {
                    (true, _) => "timeout",
                    (false, Effect::Writes) => "indeterminate",
                    (false, Effect::Reads) => "unavailable",
                };
                Err(fail(kind, e.to_string()))
            }
        }
    }

    fn read(&mut self, key: &[u8]) -> Result<Served, OpError> {
        let options = self.get_options();
        let r = self.call(Effect::Reads, |mut kv| {
            let options = options.clone();
            async move { kv.get(key, Some(options)).await }
        })?;
        let value = r.kvs().first().map(|kv| kv.value());
        let served = Served {
            served_as: Some(self.read.as_str()),
            observed: if self.check { value.map(value_tag) } else { None },
            ..self.served()
        };
        match value {
            Some(_) => Ok(served),
            None => Err(OpError::not_found_at(served)),
        }
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<Served, OpError> {
        self.call(Effect::Writes, |mut kv| async move { kv.put(key, value, None).await })?;
        Ok(self.served())
    }
}

impl DbClient for EtcdClient {
    fn execute(&mut self, op: &Operation) -> Result<Served, OpError> {
        match op.kind {
            OpKind::Read => self.read(&op.key),
            OpKind::Update | OpKind::Insert => self.put(&op.key, &op.value),
            OpKind::ReadModifyWrite => {
                self.read(&op.key)?;
                self.put(&op.key, &op.value)
            }
            OpKind::Delete => {
                let key = op.key.as_slice();
                self.call(Effect::Writes, |mut kv| async move { kv.delete(key, None).await })?;
                Ok(self.served())
            }
            OpKind::Scan => {
                let limit = op.scan_length.max(1) as i64;
                let options = self.get_options().with_from_key().with_limit(limit);
                let key = op.key.as_slice();
                self.call(Effect::Reads, |mut kv| {
                    let options = options.clone();
                    async move { kv.get(key, Some(options)).await }
                })?;
                Ok(Served { served_as: Some(self.read.as_str()), ..self.served() })
            }
            OpKind::BatchRead => {
                let mut missing = false;
                let options = self.get_options();
                for key in op.batch.iter() {
                    let r = self.call(Effect::Reads, |mut kv| {
                        let options = options.clone();
                        async move { kv.get(key, Some(options)).await }
                    })?;
                    missing |= r.kvs().is_empty();
                }
                if missing {
                    return Err(OpError::not_found());
                }
                Ok(self.served())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings> {
        let mut overrides = vec![("db".to_string(), "etcd".to_string())];
        overrides.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Settings::from_properties(kvlab_workloads::Properties::load(&[], &overrides)?)
    }

    #[test]
    fn options_have_defaults_and_parse() -> Result<()> {
        let o = EtcdOptions::from_settings(&settings(&[])?)?;
        assert!(matches!(o.placement, Placement::Local { members: 3, dir: None, bin: None }));
        assert_eq!((o.read, o.member), (EtcdRead::Linearizable, MemberChoice::RoundRobin));
        let o = EtcdOptions::from_settings(&settings(&[
            ("etcd.endpoints", "127.0.0.1:1, 127.0.0.1:2"),
            ("etcd.read", "serializable"),
            ("etcd.member", "2"),
        ])?)?;
        assert!(matches!(&o.placement, Placement::Endpoints(e) if e.len() == 2));
        assert_eq!((o.read, o.member), (EtcdRead::Serializable, MemberChoice::Fixed(2)));
        Ok(())
    }

    #[test]
    fn bad_options_name_the_property() -> Result<()> {
        for (pairs, needle) in [
            (vec![("etcd.read", "eventual")], "etcd.read"),
            (vec![("etcd.members", "0")], "1 to 9"),
            (vec![("etcd.member", "4")], "1 to 3"),
            (vec![("etcd.membres", "3")], "etcd.members, etcd.endpoints"),
            (vec![("etcd.endpoints", "a:1"), ("etcd.members", "3")], "etcd.endpoints (1)"),
            (vec![("etcd.endpoints", "a:1"), ("etcd.bin", "/x")], "kvlab starts no members"),
        ] {
            let err = EtcdOptions::from_settings(&settings(&pairs)?).expect_err(needle);
            assert!(err.to_string().contains(needle), "{err}");
        }
        Ok(())
    }

    #[test]
    fn a_missing_binary_is_named() {
        let err = find_etcd(Some(Path::new("/nonexistent/etcd"))).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/etcd"), "{err}");
    }
}
