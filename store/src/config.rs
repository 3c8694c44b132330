//! Cluster and client configuration, with `from_pairs` for the harness's `store.*` properties.
//!
//! Accepted properties (unknown names and bad values are errors naming the option and what it
//! accepts):
//!
//! | property | meaning | default |
//! |---|---|---|
//! | `store.nodes` | store nodes | 3 |
//! | `store.regions` | regions (default split keys balance YCSB keys) | 3 |
//! | `store.replicas` | replication factor | 3 |
//! | `store.split_keys` | comma-separated split keys (overrides `store.regions`) | – |
//! | `store.zones` | zones; node `i` is in zone `(i−1) mod zones` | 1 |
//! | `store.local_latency_us` | one-way latency inside a zone | 0 |
//! | `store.cross_latency_us` | one-way latency between zones | 0 |
//! | `store.latency.A-B` | one-way latency (µs) between zones A and B (both ways) | – |
//! | `store.jitter_us` | uniform extra delay 0..jitter | 0 |
//! | `store.seed` | seed for network jitter | 1 |
//! | `store.read_policy` | `leader`, `lease`, `follower`, `mixed`, `stale` | `leader` |
//! | `store.replica` | `round-robin`, `random`, `closest` | `round-robin` |
//! | `store.max_staleness_ms` | stale reads older than this fall back to follower reads (so do those at a replica that does not know its freshness yet) | none |
//! | `store.read_pool_threads` | read pool threads per node (0 = reads run on the caller) | 2 |
//! | `store.raft_log` | `same` engine, `separate` engine, `raft-engine`, or `memory` | `same` |
//! | `store.dir` | directory for persistent engines (temporary if unset) | – |
//! | `store.tick_ms`, `store.election_ticks`, `store.heartbeat_ticks` | Raft timing | 20, 10, 2 |
//! | `store.log_gc_threshold` | applied entries kept before log compaction | 1024 |
//! | `store.balance_leaders` | transfer leaders to balance them at start | true |
//! | `store.commit_delay_us` | group-commit delay after a proposal arrives, or `auto` | 0 |
//! | `store.failpoints` | **testing only**: comma-separated deliberate bugs, see [`Failpoints`] | none |
//! | `engine` | `memory`, `rocksdb`, `fjall` or `redb` | `memory` |
//! | `rocksdb.*`, `fjall.*`, `redb.*` | engine options, see [`crate::EngineOptions`] | – |

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::topology::{default_split_keys, NodeId, ZoneId};
use kvlab_engine::EngineKind;

/// How a read is served (see the crate docs for the guarantees of each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadPolicy {
    /// ReadIndex at the leader (linearizable; concurrent reads share a round).
    Leader,
    /// Local read at the leader under a valid lease, else ReadIndex at the leader.
    Lease,
    /// ReadIndex via the leader, then a local read at a follower once applied ≥ read index.
    Follower,
    /// Linearizable ReadIndex reads spread over all replicas (leader and followers).
    Mixed,
    /// Local read at any replica with no coordination; reports its staleness.
    Stale,
}

impl ReadPolicy {
    /// All policies, in declaration order.
    pub const ALL: [ReadPolicy; 5] = [
        ReadPolicy::Leader,
        ReadPolicy::Lease,
        ReadPolicy::Follower,
        ReadPolicy::Mixed,
        ReadPolicy::Stale,
    ];

    /// The property value naming this policy.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadPolicy::Leader => "leader",
            ReadPolicy::Lease => "lease",
            ReadPolicy::Follower => "follower",
            ReadPolicy::Mixed => "mixed",
            ReadPolicy::Stale => "stale",
        }
    }

    /// Position in [`ReadPolicy::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ReadPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReadPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ReadPolicy::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            invalid("store.read_policy", s, "one of: leader, lease, follower, mixed, stale")
        })
    }
}

/// How a client picks the replica for follower, mixed and stale reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplicaChoice {
    /// Rotate over the candidates.
    RoundRobin,
    /// Pick uniformly at random (seeded per client).
    Random,
    /// A replica in the client's zone; the leader if there is none.
    Closest,
}

impl FromStr for ReplicaChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "round-robin" => Ok(ReplicaChoice::RoundRobin),
            "random" => Ok(ReplicaChoice::Random),
            "closest" => Ok(ReplicaChoice::Closest),
            _ => Err(invalid("store.replica", s, "one of: round-robin, random, closest")),
        }
    }
}

/// Where a node keeps its Raft log and hard state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RaftLogStore {
    /// In the data engine's `raft` keyspace (one write per Ready; RocksDB keeps that keyspace
    /// in a column family of its own, sharing the write-ahead log).
    SameEngine,
    /// In the `raft` keyspace of a second engine instance of the same kind (TiKV's log/data
    /// split). The data engine then never syncs: the log is the durable record, and the data
    /// engine is flushed before the log is compacted, so only log writes pay an fsync.
    SeparateEngine,
    /// In TiKV's raft-engine (append-only log files; compaction drops whole files), split from
    /// the data engine as `SeparateEngine`. It fsyncs its writes when the engine's `sync`
    /// option is set (`rocksdb.sync`, `fjall.sync`, `redb.sync`).
    RaftEngine,
    /// In memory only: fast, lost on restart (nodes cannot be restarted).
    Memory,
}

impl RaftLogStore {
    /// Every choice, in documentation order.
    pub const ALL: [RaftLogStore; 4] = [
        RaftLogStore::SameEngine,
        RaftLogStore::SeparateEngine,
        RaftLogStore::RaftEngine,
        RaftLogStore::Memory,
    ];

    /// The `store.raft_log` value naming this choice.
    pub fn as_str(self) -> &'static str {
        match self {
            RaftLogStore::SameEngine => "same",
            RaftLogStore::SeparateEngine => "separate",
            RaftLogStore::RaftEngine => "raft-engine",
            RaftLogStore::Memory => "memory",
        }
    }
}

impl FromStr for RaftLogStore {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        RaftLogStore::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| {
            invalid("store.raft_log", s, "one of: same, separate, raft-engine, memory")
        })
    }
}

/// One-way latencies between zones.
#[derive(Clone, Debug, Default)]
pub struct LatencyModel {
    /// Latency between two endpoints in the same zone.
    pub local: Duration,
    /// Latency between zones without an explicit entry in `pairs`.
    pub cross: Duration,
    /// Explicit latencies per unordered zone pair (smaller zone first).
    pub pairs: BTreeMap<(ZoneId, ZoneId), Duration>,
    /// Uniform extra delay in `0..jitter`.
    pub jitter: Duration,
}

impl LatencyModel {
    /// The base one-way latency from zone `a` to zone `b`.
    pub fn between(&self, a: ZoneId, b: ZoneId) -> Duration {
        let key = (a.min(b), a.max(b));
        if let Some(d) = self.pairs.get(&key) {
            return *d;
        }
        if a == b {
            self.local
        } else {
            self.cross
        }
    }

    /// Whether every latency is zero (messages are then delivered inline).
    pub fn is_zero(&self) -> bool {
        self.local.is_zero()
            && self.cross.is_zero()
            && self.jitter.is_zero()
            && self.pairs.values().all(|d| d.is_zero())
    }
}

/// Everything needed to start a [`crate::Cluster`].
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Number of store nodes.
    pub nodes: usize,
    /// Number of regions (ignored when `split_keys` is set).
    pub regions: usize,
    /// Replication factor.
    pub replicas: usize,
    /// Explicit split keys; `None` = [`default_split_keys`] for `regions`.
    pub split_keys: Option<Vec<Vec<u8>>>,
    /// Number of zones; nodes are assigned round-robin.
    pub zones: usize,
    /// Network latencies.
    pub latency: LatencyModel,
    /// Seed for every random choice inside the cluster (network jitter).
    pub seed: u64,
    /// Default read policy for clients built from properties.
    pub read_policy: ReadPolicy,
    /// Default replica choice for clients built from properties.
    pub replica_choice: ReplicaChoice,
    /// Default staleness bound for stale reads.
    pub max_staleness: Option<Duration>,
    /// Read pool threads per node; 0 runs reads inline on the submitting thread (client thread
    /// for lease and stale reads, Raft thread for ReadIndex reads).
    pub read_pool_threads: usize,
    /// Storage engine kind.
    pub engine: EngineKind,
    /// Engine options by full name (`rocksdb.*`, `fjall.*`, `redb.*`).
    pub engine_options: Vec<(String, String)>,
    /// Where the raft log lives.
    pub raft_log: RaftLogStore,
    /// Directory for persistent engines; a temporary directory when `None`.
    pub dir: Option<PathBuf>,
    /// Raft tick interval.
    pub tick: Duration,
    /// Election timeout in ticks.
    pub election_ticks: usize,
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: usize,
    /// Applied entries kept in the log before it is compacted.
    pub log_gc_threshold: u64,
    /// Transfer leaders at start so each node leads about `regions / nodes` regions.
    pub balance_leaders: bool,
    /// Group-commit delay: after a proposal arrives, the Raft thread keeps collecting messages
    /// this long before its Ready round (PostgreSQL's `commit_delay`); 0 = none, the default.
    /// `None` is adaptive (`auto`): with a log engine that fsyncs, half the mean duration of
    /// the node's recent log fsyncs (capped at 1 ms), so a round gathers the writers answered
    /// during the last one; without fsyncs, none. `auto` raises writes per fsync (11 against
    /// 7) but cost synced-write throughput in `benches/replicated.rs` (0.92–0.95× of no delay,
    /// head to head), so it is not the default: rounds already group the writers that arrive
    /// during an fsync.
    pub commit_delay: Option<Duration>,
    /// Deliberate bugs, for showing that the checker catches them. Never set in benchmarks.
    pub failpoints: Failpoints,
    /// Run every node as an OS process of its own (`kvlab node`), over gRPC on loopback.
    pub processes: bool,
    /// A CPU quota of this many cores per node process, in a cgroup of its own.
    pub node_cpus: Option<f64>,
    /// Run without CPU budgets (and say so) where cgroups cannot apply them, instead of
    /// failing.
    pub node_cpus_optional: bool,
    /// Pin node `i` to the cores of entry `i - 1` (by affinity; `store.node_cores=0;1;2`).
    pub node_cores: Option<Vec<Vec<usize>>>,
    /// Where per-node cgroups are made (default: the cgroup hierarchy with a `cpu` controller).
    pub cgroup_root: Option<PathBuf>,
    /// Drive a cluster that is already running at these gRPC addresses (node `i` at entry
    /// `i - 1`) instead of starting one.
    pub endpoints: Option<Vec<String>>,
    /// The program whose `node` subcommand runs a node process (the `kvlab` binary); set by
    /// the harness, not a property.
    pub node_program: Option<PathBuf>,
    /// The properties this configuration was built from ([`ClusterConfig::from_pairs`]); a
    /// process cluster hands them to its nodes.
    pub properties: Vec<(String, String)>,
}

/// Deliberate read-path bugs (`store.failpoints`), switched on only to prove that kvlab's
/// history checker catches them (each breaks a guarantee the store otherwise keeps), and one
/// fault model for durability tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failpoints {
    /// `follower-read-skips-apply-wait`: a follower serves follower and mixed reads from what it
    /// has applied, without waiting until it has applied the leader's read index (nor asking
    /// for one) — the follower-read bug class that TiKV's read-index wait exists to prevent.
    pub follower_read_skips_apply_wait: bool,
    /// `lease-never-expires`: a lease once granted is trusted forever — neither its expiry nor
    /// stepping down ends it — so a deposed leader keeps answering lease reads from old data.
    pub lease_never_expires: bool,
    /// `stale-age-zero`: stale reads claim to be perfectly fresh.
    pub stale_age_zero: bool,
    /// `data-loses-unsynced-writes`: with `engine=memory`, stopping a node loses its data
    /// engine's writes since the last synced write or flush, as a crash of a process or machine
    /// would ([`crate::CrashableEngine`]); the raft log's engine keeps everything. Not a bug: a
    /// fault model for the store's durability ordering.
    pub data_loses_unsynced_writes: bool,
}

impl Failpoints {
    /// The accepted names.
    pub const NAMES: [&'static str; 4] = [
        "follower-read-skips-apply-wait",
        "lease-never-expires",
        "stale-age-zero",
        "data-loses-unsynced-writes",
    ];

    /// Whether any failpoint is on.
    pub fn any(&self) -> bool {
        self.follower_read_skips_apply_wait
            || self.lease_never_expires
            || self.stale_age_zero
            || self.data_loses_unsynced_writes
    }
}

impl FromStr for Failpoints {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let mut f = Failpoints::default();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "follower-read-skips-apply-wait" => f.follower_read_skips_apply_wait = true,
                "lease-never-expires" => f.lease_never_expires = true,
                "stale-age-zero" => f.stale_age_zero = true,
                "data-loses-unsynced-writes" => f.data_loses_unsynced_writes = true,
                "none" => {}
                _ => {
                    return Err(invalid(
                        "store.failpoints",
                        name,
                        &format!(
                            "none or a comma-separated list of: {}",
                            Failpoints::NAMES.join(", ")
                        ),
                    ))
                }
            }
        }
        Ok(f)
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nodes: 3,
            regions: 3,
            replicas: 3,
            split_keys: None,
            zones: 1,
            latency: LatencyModel::default(),
            seed: 1,
            read_policy: ReadPolicy::Leader,
            replica_choice: ReplicaChoice::RoundRobin,
            max_staleness: None,
            read_pool_threads: 2,
            engine: EngineKind::Memory,
            engine_options: Vec::new(),
            raft_log: RaftLogStore::SameEngine,
            dir: None,
            tick: Duration::from_millis(20),
            election_ticks: 10,
            heartbeat_ticks: 2,
            log_gc_threshold: 1024,
            balance_leaders: true,
            commit_delay: Some(Duration::ZERO),
            failpoints: Failpoints::default(),
            processes: false,
            node_cpus: None,
            node_cpus_optional: false,
            node_cores: None,
            cgroup_root: None,
            endpoints: None,
            node_program: None,
            properties: Vec::new(),
        }
    }
}

impl ClusterConfig {
    /// Builds a configuration from property pairs (see the module docs for the names).
    ///
    /// # Errors
    ///
    /// `InvalidOption` naming the option and the accepted values.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self> {
        let mut c = ClusterConfig::default();
        for (name, value) in pairs {
            let v = value.as_str();
            match name.as_str() {
                "store.nodes" => c.nodes = parse_num(name, v, 1)?,
                "store.regions" => c.regions = parse_num(name, v, 1)?,
                "store.replicas" => c.replicas = parse_num(name, v, 1)?,
                "store.split_keys" => {
                    c.split_keys = Some(v.split(',').filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()).collect())
                }
                "store.zones" => c.zones = parse_num(name, v, 1)?,
                "store.local_latency_us" => c.latency.local = micros(name, v)?,
                "store.cross_latency_us" => c.latency.cross = micros(name, v)?,
                "store.jitter_us" => c.latency.jitter = micros(name, v)?,
                "store.commit_delay_us" => {
                    c.commit_delay = if v == "auto" { None } else { Some(micros(name, v)?) }
                }
                "store.failpoints" => c.failpoints = v.parse()?,
                "store.seed" => c.seed = parse_num::<u64>(name, v, 0)?,
                "store.read_policy" => c.read_policy = v.parse()?,
                "store.replica" => c.replica_choice = v.parse()?,
                "store.max_staleness_ms" => {
                    c.max_staleness = Some(Duration::from_millis(parse_num(name, v, 0)?))
                }
                "store.read_pool_threads" => c.read_pool_threads = parse_num(name, v, 0)?,
                "store.raft_log" => c.raft_log = v.parse()?,
                "store.dir" => c.dir = Some(PathBuf::from(v)),
                "store.tick_ms" => c.tick = Duration::from_millis(parse_num(name, v, 1)?),
                "store.election_ticks" => c.election_ticks = parse_num(name, v, 3)?,
                "store.heartbeat_ticks" => c.heartbeat_ticks = parse_num(name, v, 1)?,
                "store.log_gc_threshold" => c.log_gc_threshold = parse_num(name, v, 1)?,
                "store.balance_leaders" => c.balance_leaders = parse_bool(name, v)?,
                "store.processes" => c.processes = parse_bool(name, v)?,
                "store.node_cpus" => {
                    let cpus: f64 = v.parse().map_err(|_| invalid(name, v, "a number of cores, e.g. 0.25"))?;
                    if !(cpus.is_finite() && cpus > 0.0) {
                        return Err(invalid(name, v, "a positive number of cores, e.g. 0.25"));
                    }
                    c.node_cpus = Some(cpus);
                }
                "store.node_cpus_optional" => c.node_cpus_optional = parse_bool(name, v)?,
                "store.node_cores" => c.node_cores = Some(parse_cores(name, v)?),
                "store.cgroup_root" => c.cgroup_root = Some(PathBuf::from(v)),
                "store.endpoints" => {
                    let list: Vec<String> = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
                    if list.is_empty() {
                        return Err(invalid(name, v, "host:port,host:port,… (one per node)"));
                    }
                    c.endpoints = Some(list);
                }
                "engine" => c.engine = v.parse()?,
                n if n.starts_with("store.latency.") => {
                    let zones = &n["store.latency.".len()..];
                    let parsed = zones
                        .split_once('-')
                        .and_then(|(a, b)| Some((a.parse::<ZoneId>().ok()?, b.parse::<ZoneId>().ok()?)));
                    let Some((a, b)) = parsed else {
                        return Err(invalid(name, v, "store.latency.<zone>-<zone>=<microseconds>"));
                    };
                    c.latency.pairs.insert((a.min(b), a.max(b)), micros(name, v)?);
                }
                n if ["rocksdb.", "fjall.", "redb."].iter().any(|p| n.starts_with(p)) => {
                    c.engine_options.push((n.to_string(), value.clone()))
                }
                _ => {
                    return Err(invalid(
                        name,
                        v,
                        "a known option: store.{nodes,regions,replicas,split_keys,zones,local_latency_us,\
                         cross_latency_us,latency.A-B,jitter_us,commit_delay_us,seed,read_policy,replica,max_staleness_ms,\
                         read_pool_threads,raft_log,dir,tick_ms,election_ticks,heartbeat_ticks,\
                         log_gc_threshold,balance_leaders,failpoints,processes,node_cpus,\
                         node_cpus_optional,node_cores,cgroup_root,endpoints}, engine, rocksdb.*, fjall.*, redb.*",
                    ))
                }
            }
        }
        c.properties = pairs.to_vec();
        c.validate()?;
        Ok(c)
    }

    /// Checks cross-option constraints.
    ///
    /// # Errors
    ///
    /// `InvalidOption` naming the offending option.
    pub fn validate(&self) -> Result<()> {
        if self.replicas == 0 || self.replicas > self.nodes {
            return Err(invalid("store.replicas", self.replicas, "between 1 and store.nodes"));
        }
        if self.zones == 0 {
            return Err(invalid("store.zones", self.zones, "at least 1"));
        }
        if self.heartbeat_ticks >= self.election_ticks {
            return Err(invalid(
                "store.heartbeat_ticks",
                self.heartbeat_ticks,
                "fewer than store.election_ticks",
            ));
        }
        if self.failpoints.data_loses_unsynced_writes && self.engine != EngineKind::Memory {
            return Err(invalid(
                "store.failpoints",
                "data-loses-unsynced-writes",
                "engine=memory for data-loses-unsynced-writes (a real engine loses its unsynced \
                 writes by itself when its process is killed)",
            ));
        }
        kvlab_engine::EngineOptions::from_pairs(&self.engine_options)?;
        if self.raft_log == RaftLogStore::RaftEngine && !self.engine.is_persistent() {
            return Err(invalid(
                "store.raft_log",
                "raft-engine",
                "a persistent engine (engine=rocksdb, fjall or redb) with raft-engine: a node's \
                 applied state must outlive its log's compaction",
            ));
        }
        let processes = self.processes || self.endpoints.is_some();
        if !processes && (self.node_cpus.is_some() || self.node_cores.is_some()) {
            let (name, value) = match self.node_cpus {
                Some(c) => ("store.node_cpus", c.to_string()),
                None => ("store.node_cores", "…".to_string()),
            };
            return Err(invalid(
                name,
                value,
                "store.processes=true with it (nodes in one process share one CPU budget)",
            ));
        }
        if let Some(cores) = &self.node_cores {
            if cores.len() != self.nodes {
                return Err(invalid(
                    "store.node_cores",
                    format!("{} entries", cores.len()),
                    &format!("one entry per node ({}), separated by ';'", self.nodes),
                ));
            }
        }
        if let Some(eps) = &self.endpoints {
            if eps.len() != self.nodes {
                return Err(invalid(
                    "store.endpoints",
                    eps.join(","),
                    &format!("one address per node ({})", self.nodes),
                ));
            }
        }
        if processes && self.failpoints.data_loses_unsynced_writes {
            return Err(invalid(
                "store.failpoints",
                "data-loses-unsynced-writes",
                "an in-process cluster (store.processes=false)",
            ));
        }
        Ok(())
    }

    /// The split keys in use.
    pub fn splits(&self) -> Vec<Vec<u8>> {
        self.split_keys.clone().unwrap_or_else(|| default_split_keys(self.regions))
    }

    /// The zone of `node`.
    pub fn zone_of(&self, node: NodeId) -> ZoneId {
        ((node.max(1) - 1) as usize) % self.zones.max(1)
    }

    /// How long a leader may serve local reads after a quorum confirmed its leadership: two
    /// ticks less than the election timeout, so no other leader can exist meanwhile.
    pub fn lease_duration(&self) -> Duration {
        self.tick * (self.election_ticks.saturating_sub(2) as u32)
    }

    /// The election timeout.
    pub fn election_timeout(&self) -> Duration {
        self.tick * self.election_ticks as u32
    }
}

/// Settings of one [`crate::Client`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The client's zone (for latency and closest-replica reads).
    pub zone: ZoneId,
    /// Read policy of `get`, `scan` and `batch_get`.
    pub read_policy: ReadPolicy,
    /// Replica choice for follower, mixed and stale reads.
    pub replica_choice: ReplicaChoice,
    /// Per-request timeout (covering every retry).
    pub timeout: Duration,
    /// Seed of the client's random choices.
    pub seed: u64,
    /// Stale reads whose age exceeds this fall back to follower reads.
    pub max_staleness: Option<Duration>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            zone: 0,
            read_policy: ReadPolicy::Leader,
            replica_choice: ReplicaChoice::RoundRobin,
            timeout: Duration::from_secs(5),
            seed: 1,
            max_staleness: None,
        }
    }
}

fn invalid(option: &str, value: impl ToString, expected: &str) -> Error {
    Error::InvalidOption {
        option: option.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

fn parse_num<T: FromStr + PartialOrd + From<u8> + Copy>(name: &str, v: &str, min: u8) -> Result<T> {
    match v.parse::<T>() {
        Ok(n) if n >= T::from(min) => Ok(n),
        _ => Err(invalid(name, v, &format!("an integer ≥ {min}"))),
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(name, v, "true or false")),
    }
}

/// `0;1;2-3`: per node, a comma-separated list of cores or ranges; nodes separated by `;`.
fn parse_cores(name: &str, v: &str) -> Result<Vec<Vec<usize>>> {
    let expected = "per node a list of cores, nodes separated by ';' (e.g. 0;1;2-3)";
    let mut nodes = Vec::new();
    for node in v.split(';') {
        let mut cores = Vec::new();
        for part in node.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) else {
                return Err(invalid(name, v, expected));
            };
            if a > b {
                return Err(invalid(name, v, expected));
            }
            cores.extend(a..=b);
        }
        if cores.is_empty() {
            return Err(invalid(name, v, expected));
        }
        nodes.push(cores);
    }
    Ok(nodes)
}

fn micros(name: &str, v: &str) -> Result<Duration> {
    Ok(Duration::from_micros(parse_num(name, v, 0)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn parses_properties() {
        let c = ClusterConfig::from_pairs(&pairs(&[
            ("store.nodes", "5"),
            ("store.regions", "10"),
            ("store.read_policy", "follower"),
            ("store.replica", "closest"),
            ("store.zones", "3"),
            ("store.latency.0-2", "500"),
            ("engine", "rocksdb"),
            ("rocksdb.sync", "true"),
        ]))
        .unwrap();
        assert_eq!(c.nodes, 5);
        assert_eq!(c.splits().len(), 9);
        assert_eq!(c.read_policy, ReadPolicy::Follower);
        assert_eq!(c.latency.between(2, 0), Duration::from_micros(500));
        assert_eq!(c.zone_of(4), 0);
        assert_eq!(c.engine, EngineKind::RocksDb);
    }

    #[test]
    fn commit_delay_and_failpoints() {
        let c = ClusterConfig::from_pairs(&pairs(&[])).unwrap();
        assert_eq!((c.commit_delay, c.failpoints.any()), (Some(Duration::ZERO), false));
        let auto = ClusterConfig::from_pairs(&pairs(&[("store.commit_delay_us", "auto")]));
        assert_eq!(auto.unwrap().commit_delay, None);
        let c = ClusterConfig::from_pairs(&pairs(&[
            ("store.commit_delay_us", "300"),
            ("store.failpoints", "stale-age-zero, lease-never-expires"),
        ]))
        .unwrap();
        assert_eq!(c.commit_delay, Some(Duration::from_micros(300)));
        assert!(c.failpoints.stale_age_zero && c.failpoints.lease_never_expires);
        assert!(!c.failpoints.follower_read_skips_apply_wait);
        let c = ClusterConfig::from_pairs(&pairs(&[("store.commit_delay_us", "auto")])).unwrap();
        assert_eq!(c.commit_delay, None);
    }

    #[test]
    fn rejects_unknown_and_bad_values() {
        for (p, opt) in [
            (("store.read_policy", "fast"), "store.read_policy"),
            (("store.nodes", "x"), "store.nodes"),
            (("store.bogus", "1"), "store.bogus"),
            (("store.replica", "near"), "store.replica"),
            (("rocksdb.sync", "maybe"), "rocksdb.sync"),
            (("store.commit_delay_us", "soon"), "store.commit_delay_us"),
            (("store.failpoints", "lease-never-expires,typo"), "store.failpoints"),
        ] {
            match ClusterConfig::from_pairs(&pairs(&[p])) {
                Err(Error::InvalidOption { option, .. }) => assert_eq!(option, opt),
                other => panic!("{p:?}: {other:?}"),
            }
        }
        assert!(ClusterConfig::from_pairs(&pairs(&[("store.replicas", "4")])).is_err());
    }
}
