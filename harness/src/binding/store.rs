//! The `store` binding: the full replicated store, its nodes in this process, as node
//! processes (`store.processes=true`, optionally with `store.node_cpus` budgets), or a running
//! cluster (`store.endpoints`).
//!
//! Properties: `store.*` (nodes, regions, replicas, zones and latencies, read policy, replica
//! choice, read-pool threads, `store.dir`, …; see kvlab-store's `ClusterConfig`), `engine` and
//! the engines' options (`rocksdb.*`, `fjall.*`, `redb.*`). Without `store.dir` the store lives in a temporary directory removed at exit.
//! Client thread `t` sits in zone `t % store.zones`; `timeout` bounds every request.

use std::time::Duration;

use std::collections::VecDeque;

use kvlab_store::{
    Client, Cluster, ClusterConfig, Error as StoreError, PendingGet, PendingWrite, ReadResult,
};
use kvlab_workloads::{OpKind, Operation};

use super::{value_tag, Binding, DbClient, NodeRow, OpError, Served, Staleness};
use crate::error::Result;
use crate::pipeline::PipelinedClient;
use crate::settings::Settings;

/// How long start-up may take to elect and balance leaders.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The `store` binding.
pub struct StoreBinding {
    cluster: Option<Cluster>,
    timeout: Duration,
    seed: u64,
    persistent: bool,
    check: bool,
}

impl StoreBinding {
    /// Starts the cluster the settings describe and waits for its leaders.
    ///
    /// # Errors
    ///
    /// A bad `store.*`, `engine` or engine option (`rocksdb.*`, `fjall.*`, `redb.*`) property (naming it), or a cluster that does not
    /// elect leaders in time.
    pub fn open(settings: &Settings) -> Result<Self> {
        let config = Self::config(settings)?;
        let persistent = config.dir.is_some();
        let cluster = Cluster::start(config)?;
        cluster.wait_for_leaders(START_TIMEOUT)?;
        let seed = settings.props.get_u64_or("seed", 0)?;
        Ok(StoreBinding {
            cluster: Some(cluster),
            timeout: settings.timeout,
            seed,
            persistent,
            check: settings.check,
        })
    }

    /// The cluster configuration the settings describe.
    fn config(settings: &Settings) -> Result<ClusterConfig> {
        let mut pairs = settings.with_prefix("store.");
        pairs.push(("engine".to_string(), settings.engine.as_str().to_string()));
        pairs.extend(settings.engine_options());
        let mut config = ClusterConfig::from_pairs(&pairs)?;
        if config.processes {
            // Node processes run this very program's `node` subcommand.
            config.node_program = std::env::current_exe().ok();
        }
        Ok(config)
    }

    /// Checks the settings without starting a cluster.
    ///
    /// # Errors
    ///
    /// As [`StoreBinding::open`]'s option errors.
    pub fn validate(settings: &Settings) -> Result<()> {
        Self::config(settings).map(drop)
    }

    fn cluster(&self) -> &Cluster {
        self.cluster.as_ref().expect("the cluster lives until the binding is dropped")
    }
}

impl Drop for StoreBinding {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            cluster.shutdown();
        }
    }
}

impl StoreBinding {
    /// Thread `thread`'s client: in zone `thread % store.zones`, with its own seed.
    fn store_client(&self, thread: usize) -> StoreClient {
        let cluster = self.cluster();
        let zone = thread % cluster.config().zones.max(1);
        let seed = self.seed ^ (thread as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut config = cluster.default_client_config(zone, seed);
        config.timeout = self.timeout;
        StoreClient { client: cluster.client(config), keys: Vec::new(), check: self.check }
    }
}

impl Binding for StoreBinding {
    fn name(&self) -> &'static str {
        "store"
    }

    fn client(&self, thread: usize) -> Result<Box<dyn DbClient>> {
        Ok(Box::new(self.store_client(thread)))
    }

    fn pipelined_client(&self, thread: usize) -> Option<Result<Box<dyn PipelinedClient>>> {
        let client = self.store_client(thread);
        Some(Ok(Box::new(StorePipeline { client, outstanding: VecDeque::new() })))
    }

    fn needs_load(&self) -> bool {
        if !self.persistent {
            return true;
        }
        let mut client = self.cluster().client(self.cluster().default_client_config(0, 0));
        client.scan(b"", 1).map_or(true, |r| r.pairs.is_empty())
    }

    fn faults(&self) -> Option<&dyn crate::nemesis::FaultTarget> {
        self.cluster.as_ref().map(|c| c as &dyn crate::nemesis::FaultTarget)
    }

    fn notes(&self) -> Vec<String> {
        self.cluster().notes()
    }

    fn warnings(&self) -> Vec<String> {
        self.cluster().warnings()
    }

    fn storage(&self) -> Option<crate::storage::StorageProbe> {
        let cluster = self.cluster();
        let synced = cluster.metrics().iter().map(|m| m.synced_writes).sum();
        Some(crate::storage::StorageProbe {
            disk_bytes: cluster.disk_bytes(),
            synced_writes: Some(synced),
            copies: cluster.config().replicas as u64,
        })
    }

    fn nodes(&self) -> Vec<NodeRow> {
        let processes = self.cluster().config().processes;
        let client_cpu = if processes { kvlab_store::cgroup::self_cpu_seconds() } else { None };
        self.cluster()
            .metrics()
            .into_iter()
            .map(|m| NodeRow {
                node: m.node,
                zone: m.zone.to_string(),
                reads: vec![
                    ("leader".into(), m.reads.leader),
                    ("lease".into(), m.reads.lease),
                    ("follower".into(), m.reads.follower),
                    ("mixed".into(), m.reads.mixed),
                    ("stale".into(), m.reads.stale),
                ],
                writes_applied: m.writes_applied,
                readindex_rounds: m.readindex_rounds,
                msgs_sent: m.msgs_sent,
                msgs_recv: m.msgs_recv,
                lease_fallbacks: m.reads.lease_fallbacks,
                stale_fallbacks: m.reads.stale_fallbacks,
                snapshots_sent: m.snapshots_sent,
                snapshots_applied: m.snapshots_applied,
                synced_writes: m.synced_writes,
                leaders: m.leaders_held,
                cpu_seconds: m.cpu.map(|d| d.as_secs_f64()),
                client_cpu_seconds: client_cpu,
            })
            .collect()
    }
}

struct StoreClient {
    client: Client,
    keys: Vec<Vec<u8>>,
    check: bool,
}

fn store_error(err: StoreError) -> OpError {
    let kind = match &err {
        StoreError::Timeout(_) => "timeout",
        StoreError::Indeterminate(_) => "indeterminate",
        StoreError::Unavailable(_) => "unavailable",
        StoreError::NotLeader { .. } => "not_leader",
        StoreError::Engine(_) | StoreError::Corruption(_) => "engine",
        _ => "store",
    };
    OpError::new(kind, err.to_string())
}

fn served(node: kvlab_store::NodeId) -> Served {
    Served { node: Some(node), ..Served::default() }
}

impl StoreClient {
    /// What a read reports: its node, policy and staleness; `not_found` for an absent key.
    fn read_served(&self, r: &ReadResult) -> Result<Served, OpError> {
        let staleness = r.staleness.map(|s| Staleness { index_lag: s.index_lag, age_ms: s.age_ms });
        let observed = if self.check { r.value.as_deref().map(value_tag) } else { None };
        let served = Served {
            node: Some(r.node),
            staleness,
            served_as: Some(r.served_as.as_str()),
            observed,
            stages: Some(Box::new(r.stages)),
        };
        if r.value.is_none() {
            return Err(OpError::not_found_at(served));
        }
        Ok(served)
    }
}

/// An operation a [`StorePipeline`] has sent.
enum InFlight {
    Get(PendingGet),
    Write(PendingWrite),
    /// Executed at once (scans, batch reads, deletes, read-modify-writes: no pipelined API).
    Done(Result<Served, OpError>),
}

impl InFlight {
    fn is_answered(&self) -> bool {
        match self {
            InFlight::Get(p) => p.is_answered(),
            InFlight::Write(p) => p.is_answered(),
            InFlight::Done(_) => true,
        }
    }
}

/// A store client thread with many operations in flight (`--inflight`): reads go out with
/// `submit_get`, updates and inserts with `submit_put`; other operations run one at a time
/// when sent. Answers retry inside the store client as for a blocking client.
struct StorePipeline {
    client: StoreClient,
    outstanding: VecDeque<(u64, InFlight)>,
}

impl PipelinedClient for StorePipeline {
    fn send(&mut self, id: u64, op: &Operation) {
        let pending = match op.kind {
            OpKind::Read => InFlight::Get(self.client.client.submit_get(&op.key)),
            OpKind::Update | OpKind::Insert => {
                InFlight::Write(self.client.client.submit_put(&op.key, &op.value))
            }
            _ => InFlight::Done(self.client.execute(op)),
        };
        self.outstanding.push_back((id, pending));
    }

    fn next(&mut self, block: bool) -> Option<(u64, Result<Served, OpError>)> {
        let at = match self.outstanding.iter().position(|(_, p)| p.is_answered()) {
            Some(i) => i,
            None if block => 0,
            None => return None,
        };
        let (id, pending) = self.outstanding.remove(at)?;
        let result = match pending {
            InFlight::Get(p) => match self.client.client.wait_get(p) {
                Ok(r) => self.client.read_served(&r),
                Err(e) => Err(store_error(e)),
            },
            InFlight::Write(p) => match self.client.client.wait_write(p) {
                Ok(w) => Ok(served(w.node)),
                Err(e) => Err(store_error(e)),
            },
            InFlight::Done(result) => result,
        };
        Some((id, result))
    }
}

impl DbClient for StoreClient {
    fn execute(&mut self, op: &Operation) -> Result<Served, OpError> {
        match op.kind {
            OpKind::Read => {
                let r = self.client.get(&op.key).map_err(store_error)?;
                self.read_served(&r)
            }
            OpKind::Update | OpKind::Insert => {
                Ok(served(self.client.put(&op.key, &op.value).map_err(store_error)?.node))
            }
            OpKind::ReadModifyWrite => {
                let r = self.client.get(&op.key).map_err(store_error)?;
                if r.value.is_none() {
                    return Err(OpError::not_found());
                }
                Ok(served(self.client.put(&op.key, &op.value).map_err(store_error)?.node))
            }
            OpKind::Delete => Ok(served(self.client.delete(&op.key).map_err(store_error)?.node)),
            OpKind::Scan => {
                let r = self.client.scan(&op.key, op.scan_length).map_err(store_error)?;
                Ok(Served { node: r.nodes.first().copied(), ..Served::default() })
            }
            OpKind::BatchRead => {
                self.keys.clear();
                self.keys.extend(op.batch.iter().map(<[u8]>::to_vec));
                let r = self.client.batch_get(&self.keys).map_err(store_error)?;
                if r.values.iter().any(Option::is_none) {
                    return Err(OpError::not_found());
                }
                Ok(Served { node: r.nodes.first().copied(), ..Served::default() })
            }
        }
    }
}
