//! The nemesis: faults injected into the store on a schedule during the run phase, Jepsen's
//! way, so that checked histories cover leader changes, partitions and crashes.
//!
//! Every `nemesis.interval` the nemesis picks one fault from the selected kinds (seeded), injects
//! it, holds it for `nemesis.hold` and heals it; at the end of the run everything is healed.
//! Each injection and heal is an [`Event`] with its time since the phase began; events go to
//! `events.csv`, where the plots mark them.
//!
//! | kind | fault | heal |
//! |---|---|---|
//! | `partition` | a random minority of nodes is cut off from the majority | links restored |
//! | `isolate-leader` | the leader of a random region is cut off from every other node | links restored |
//! | `leader-transfer` | a random region's leader hands over to another replica | – |
//! | `pause` | a random node's threads freeze (a GC pause, `SIGSTOP`) | resumed |
//! | `kill` | a random node stops; its engines close (a crash) | restarted from its engines |
//! | `majority-down` | a majority of the nodes stop: no region can have a leader | restarted |
//! | `latency` | every node-to-node message is delayed by `nemesis.latency` more | delay removed |
//!
//! Properties: `nemesis` (comma-separated kinds, or `all`), `nemesis.interval` (default 2s),
//! `nemesis.hold` (default half the interval), `nemesis.latency` (default 50ms). The seed is
//! the run's `seed`. The nemesis needs the `store` binding or a local etcd cluster (`etcd`:
//! `partition`, `isolate-leader`, `pause`, `kill` and `majority-down`; see [`FaultTarget`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kvlab_store::{Cluster, NodeId};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::settings::parse_duration;
use kvlab_workloads::Properties;

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Random minority/majority split.
    Partition,
    /// Cut one region leader off.
    IsolateLeader,
    /// Move one region's leadership.
    LeaderTransfer,
    /// Freeze one node.
    Pause,
    /// Stop one node, restart it at the heal.
    Kill,
    /// Stop a majority of the nodes, restart them at the heal.
    MajorityDown,
    /// Delay every node-to-node message.
    Latency,
}

impl FaultKind {
    /// Every kind, in documentation order.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Partition,
        FaultKind::IsolateLeader,
        FaultKind::LeaderTransfer,
        FaultKind::Pause,
        FaultKind::Kill,
        FaultKind::MajorityDown,
        FaultKind::Latency,
    ];

    /// The kind's name in properties and results.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::IsolateLeader => "isolate-leader",
            FaultKind::LeaderTransfer => "leader-transfer",
            FaultKind::Pause => "pause",
            FaultKind::Kill => "kill",
            FaultKind::MajorityDown => "majority-down",
            FaultKind::Latency => "latency",
        }
    }
}

/// The nemesis settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NemesisSpec {
    /// The kinds to choose from.
    pub faults: Vec<FaultKind>,
    /// Time between injections.
    pub interval: Duration,
    /// How long each fault lasts.
    pub hold: Duration,
    /// The extra delay of a latency spike.
    pub latency: Duration,
    /// Seed of the fault choices.
    pub seed: u64,
}

impl NemesisSpec {
    /// Reads the `nemesis*` properties; `None` when no nemesis is asked for.
    ///
    /// # Errors
    ///
    /// An unknown fault kind or a bad duration, naming the property.
    pub fn from_properties(props: &Properties, seed: u64) -> Result<Option<NemesisSpec>> {
        let list = props.get("nemesis").unwrap_or("").trim();
        if list.is_empty() || list == "none" {
            return Ok(None);
        }
        let names: Vec<&str> = FaultKind::ALL.iter().map(|f| f.as_str()).collect();
        let expected = format!("none, all, or a comma-separated list of: {}", names.join(", "));
        let mut faults = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                faults.extend(FaultKind::ALL);
                continue;
            }
            match FaultKind::ALL.iter().find(|f| f.as_str() == name) {
                Some(f) => faults.push(*f),
                None => return Err(Error::setting("nemesis", name, &expected)),
            }
        }
        faults.dedup();
        let restarts = [FaultKind::Kill, FaultKind::MajorityDown];
        if props.get("store.raft_log").map(str::trim) == Some("memory") {
            let bad: Vec<&str> =
                faults.iter().filter(|f| restarts.contains(f)).map(|f| f.as_str()).collect();
            if !bad.is_empty() {
                return Err(Error::setting(
                    "nemesis",
                    list,
                    format!(
                        "no {} with store.raft_log=memory: a node restarted without its log and \
                         votes breaks Raft (list the other kinds instead)",
                        bad.join(" or ")
                    ),
                ));
            }
        }
        let duration = |key: &str, default: Duration| -> Result<Duration> {
            match props.get(key) {
                None => Ok(default),
                Some(text) => parse_duration(text)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| Error::setting(key, text, "a positive duration such as 2s")),
            }
        };
        let interval = duration("nemesis.interval", Duration::from_secs(2))?;
        let hold = duration("nemesis.hold", interval / 2)?;
        if hold >= interval {
            return Err(Error::setting(
                "nemesis.hold",
                format!("{hold:?}"),
                "a hold shorter than nemesis.interval",
            ));
        }
        let latency = duration("nemesis.latency", Duration::from_millis(50))?;
        Ok(Some(NemesisSpec { faults, interval, hold, latency, seed }))
    }
}

/// A fault or heal, with its time since the phase began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Time since the phase began.
    pub at: Duration,
    /// `partition`, `isolate-leader`, …, or `heal`.
    pub kind: String,
    /// What exactly (nodes, region).
    pub detail: String,
}

/// What the nemesis can break: the replicated store's [`Cluster`], or a local etcd cluster
/// ([`crate::binding::EtcdBinding`]). Nodes are numbered from 1.
///
/// Operations that fail return a message for the event's detail; none of them panics.
pub trait FaultTarget: Sync {
    /// Whether the target can inject `kind` at all (checked before the run starts).
    fn supports(&self, _kind: FaultKind) -> bool {
        true
    }
    /// The nodes whose processes run now (stopped ones excluded), in id order.
    fn running_nodes(&self) -> Vec<NodeId>;
    /// How many nodes the cluster has, running or not.
    fn node_count(&self) -> usize;
    /// Cuts every link between `a` and `b`.
    fn partition(&self, a: &[NodeId], b: &[NodeId]);
    /// Cuts `node` off from every other node.
    fn isolate(&self, node: NodeId);
    /// Restores every link.
    fn heal(&self);
    /// The leader `isolate-leader` cuts off, chosen with `rng` where there are several (the
    /// store has one per region), with its description; `Err` says why there is none.
    fn choose_leader(&self, rng: &mut ChaCha8Rng) -> std::result::Result<(NodeId, String), String>;
    /// Moves one leadership (`leader-transfer`); returns the event's detail.
    fn transfer_leader(&self, _rng: &mut ChaCha8Rng) -> String {
        "leader transfer is not supported here: nothing done".into()
    }
    /// Freezes `node` (SIGSTOP for a process).
    fn pause_node(&self, node: NodeId) -> std::result::Result<(), String>;
    /// Unfreezes a paused `node`.
    fn resume_node(&self, node: NodeId) -> std::result::Result<(), String>;
    /// Stops `node` as a crash would.
    fn stop_node(&self, node: NodeId) -> std::result::Result<(), String>;
    /// Restarts a stopped `node` from its data.
    fn restart_node(&self, node: NodeId) -> std::result::Result<(), String>;
    /// Delays every node-to-node message by `extra` more (zero: no delay).
    fn set_extra_latency(&self, _extra: Duration) {}
}

impl FaultTarget for Cluster {
    fn running_nodes(&self) -> Vec<NodeId> {
        Cluster::running_nodes(self)
    }

    fn node_count(&self) -> usize {
        self.config().nodes
    }

    fn partition(&self, a: &[NodeId], b: &[NodeId]) {
        Cluster::partition(self, a, b);
    }

    fn isolate(&self, node: NodeId) {
        Cluster::isolate(self, node);
    }

    fn heal(&self) {
        Cluster::heal(self);
    }

    fn choose_leader(&self, rng: &mut ChaCha8Rng) -> std::result::Result<(NodeId, String), String> {
        let regions = &self.topology().regions;
        let region = &regions[rng.gen_range(0..regions.len())];
        match self.leader_of(region.id) {
            Some(leader) => Ok((leader, format!("node {leader} (leader of region {})", region.id))),
            None => Err(format!("region {} has no leader: nothing done", region.id)),
        }
    }

    fn transfer_leader(&self, rng: &mut ChaCha8Rng) -> String {
        let regions = &self.topology().regions;
        let region = &regions[rng.gen_range(0..regions.len())];
        let leader = self.leader_of(region.id);
        let others: Vec<NodeId> =
            region.replicas.iter().copied().filter(|&n| Some(n) != leader).collect();
        let Some(&to) = others.choose(rng) else {
            return format!("region {} has one replica: nothing done", region.id);
        };
        let outcome = match Cluster::transfer_leader(self, region.id, to, Duration::from_secs(1)) {
            Ok(()) => "done".to_string(),
            Err(e) => format!("not completed: {e}"),
        };
        let from = leader.map_or("no leader".to_string(), |l| format!("node {l}"));
        format!("region {} {from} -> node {to}: {outcome}", region.id)
    }

    fn pause_node(&self, node: NodeId) -> std::result::Result<(), String> {
        Cluster::pause_node(self, node).map_err(|e| e.to_string())
    }

    fn resume_node(&self, node: NodeId) -> std::result::Result<(), String> {
        Cluster::resume_node(self, node).map_err(|e| e.to_string())
    }

    fn stop_node(&self, node: NodeId) -> std::result::Result<(), String> {
        Cluster::stop_node(self, node).map_err(|e| e.to_string())
    }

    fn restart_node(&self, node: NodeId) -> std::result::Result<(), String> {
        Cluster::restart_node(self, node).map_err(|e| e.to_string())
    }

    fn set_extra_latency(&self, extra: Duration) {
        Cluster::set_extra_latency(self, extra);
    }
}

/// The kinds of `spec` that `target` cannot inject, as one error naming them (`None` when it
/// can inject them all).
pub fn unsupported(
    spec: &NemesisSpec,
    target: &str,
    supports: impl Fn(FaultKind) -> bool,
) -> Option<Error> {
    let bad: Vec<&str> =
        spec.faults.iter().filter(|&&f| !supports(f)).map(|f| f.as_str()).collect();
    if bad.is_empty() {
        return None;
    }
    let good: Vec<&str> =
        FaultKind::ALL.iter().filter(|&&f| supports(f)).map(|f| f.as_str()).collect();
    Some(Error::setting(
        "nemesis",
        bad.join(","),
        format!("kinds that {target} supports: {}", good.join(", ")),
    ))
}

/// What is currently broken, so it can be healed.
enum Active {
    Links,
    Paused(NodeId),
    Killed(Vec<NodeId>),
    Latency,
}

/// Runs the schedule until `done` is raised; heals everything before returning.
pub fn run(
    spec: &NemesisSpec,
    cluster: &dyn FaultTarget,
    start: Instant,
    done: &AtomicBool,
) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x006e_656d_6573_6973);
    let mut events = Vec::new();
    let mut next = start + spec.interval;
    let sleep_until = |at: Instant| -> bool {
        while Instant::now() < at {
            if done.load(Ordering::Acquire) {
                return false;
            }
            let left = at.saturating_duration_since(Instant::now());
            std::thread::sleep(left.min(Duration::from_millis(10)));
        }
        !done.load(Ordering::Acquire)
    };
    while sleep_until(next) {
        let Some(&kind) = spec.faults.choose(&mut rng) else { break };
        let (active, detail) = inject(kind, spec, cluster, &mut rng);
        events.push(Event { at: start.elapsed(), kind: kind.as_str().into(), detail });
        let held = sleep_until(Instant::now() + spec.hold);
        if let Some(active) = active {
            let detail = heal(active, cluster);
            events.push(Event { at: start.elapsed(), kind: "heal".into(), detail });
        }
        if !held {
            break;
        }
        next += spec.interval;
        next = next.max(Instant::now());
    }
    events
}

fn inject(
    kind: FaultKind,
    spec: &NemesisSpec,
    cluster: &dyn FaultTarget,
    rng: &mut ChaCha8Rng,
) -> (Option<Active>, String) {
    let nodes = cluster.running_nodes();
    match kind {
        FaultKind::Partition => {
            let mut shuffled = nodes.clone();
            shuffled.shuffle(rng);
            let minority = rng.gen_range(1..=(shuffled.len().saturating_sub(1) / 2).max(1));
            let (a, b) = shuffled.split_at(minority.min(shuffled.len()));
            let (mut a, mut b) = (a.to_vec(), b.to_vec());
            a.sort_unstable();
            b.sort_unstable();
            cluster.partition(&a, &b);
            (Some(Active::Links), format!("{a:?} | {b:?}"))
        }
        FaultKind::IsolateLeader => match cluster.choose_leader(rng) {
            Ok((leader, detail)) => {
                cluster.isolate(leader);
                (Some(Active::Links), detail)
            }
            Err(detail) => (None, detail),
        },
        FaultKind::LeaderTransfer => (None, cluster.transfer_leader(rng)),
        FaultKind::Pause => {
            let Some(&node) = nodes.choose(rng) else { return (None, "no node running".into()) };
            match cluster.pause_node(node) {
                Ok(()) => (Some(Active::Paused(node)), format!("node {node}")),
                Err(e) => (None, format!("node {node}: {e}")),
            }
        }
        FaultKind::Kill => {
            let Some(&node) = nodes.choose(rng) else { return (None, "no node running".into()) };
            match cluster.stop_node(node) {
                Ok(()) => (Some(Active::Killed(vec![node])), format!("node {node}")),
                Err(e) => (None, format!("node {node}: {e}")),
            }
        }
        FaultKind::MajorityDown => {
            let mut shuffled = nodes;
            shuffled.shuffle(rng);
            let majority = cluster.node_count() / 2 + 1;
            let mut down: Vec<NodeId> = shuffled
                .into_iter()
                .take(majority)
                .filter(|&n| cluster.stop_node(n).is_ok())
                .collect();
            down.sort_unstable();
            let detail = format!("nodes {down:?}");
            (Some(Active::Killed(down)), detail)
        }
        FaultKind::Latency => {
            cluster.set_extra_latency(spec.latency);
            (Some(Active::Latency), format!("+{} ms", spec.latency.as_millis()))
        }
    }
}

fn heal(active: Active, cluster: &dyn FaultTarget) -> String {
    match active {
        Active::Links => {
            cluster.heal();
            "links restored".into()
        }
        Active::Paused(node) => match cluster.resume_node(node) {
            Ok(()) => format!("node {node} resumed"),
            Err(e) => format!("node {node} not resumed: {e}"),
        },
        Active::Killed(nodes) => {
            let outcomes: Vec<String> = nodes
                .iter()
                .map(|&n| match cluster.restart_node(n) {
                    Ok(()) => format!("node {n} restarted"),
                    Err(e) => format!("node {n} not restarted: {e}"),
                })
                .collect();
            outcomes.join("; ")
        }
        Active::Latency => {
            cluster.set_extra_latency(Duration::ZERO);
            "latency restored".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        let overrides: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Properties::load(&[], &overrides).expect("overrides parse")
    }

    #[test]
    fn spec_parses_kinds_and_durations() -> Result<()> {
        assert_eq!(NemesisSpec::from_properties(&props(&[]), 1)?, None);
        assert_eq!(NemesisSpec::from_properties(&props(&[("nemesis", "none")]), 1)?, None);
        let spec = NemesisSpec::from_properties(
            &props(&[("nemesis", "leader-transfer, partition"), ("nemesis.interval", "500ms")]),
            7,
        )?
        .expect("a nemesis");
        assert_eq!(spec.faults, vec![FaultKind::LeaderTransfer, FaultKind::Partition]);
        assert_eq!(
            (spec.interval, spec.hold),
            (Duration::from_millis(500), Duration::from_millis(250))
        );
        let all = NemesisSpec::from_properties(&props(&[("nemesis", "all")]), 7)?.expect("all");
        assert_eq!(all.faults, FaultKind::ALL.to_vec());
        Ok(())
    }

    #[test]
    fn kinds_a_target_lacks_are_named_with_the_ones_it_has() -> Result<()> {
        let spec = NemesisSpec::from_properties(
            &props(&[("nemesis", "kill,latency,leader-transfer")]),
            1,
        )?
        .expect("a nemesis");
        let etcd = |k| !matches!(k, FaultKind::Latency | FaultKind::LeaderTransfer);
        let err = unsupported(&spec, "db=etcd", etcd).expect("two kinds lacking").to_string();
        assert!(err.contains("`latency,leader-transfer`") && err.contains("db=etcd"), "{err}");
        assert!(err.contains("partition, isolate-leader, pause, kill, majority-down"), "{err}");
        assert!(unsupported(&spec, "db=store", |_| true).is_none());
        Ok(())
    }

    #[test]
    fn bad_specs_name_the_property() {
        for (pairs, needle) in [
            (vec![("nemesis", "partition,meteor")], "meteor"),
            (vec![("nemesis", "kill"), ("nemesis.interval", "0s")], "nemesis.interval"),
            (vec![("nemesis", "all"), ("store.raft_log", "memory")], "store.raft_log=memory"),
            (vec![("nemesis", "pause,kill"), ("store.raft_log", "memory")], "no kill"),
            (
                vec![("nemesis", "kill"), ("nemesis.interval", "1s"), ("nemesis.hold", "2s")],
                "nemesis.hold",
            ),
        ] {
            let err =
                NemesisSpec::from_properties(&props(&pairs), 1).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
