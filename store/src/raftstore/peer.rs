//! `Peer`: one region's replica on one node — a raft-rs `RawNode` over [`PeerStorage`], plus the
//! proposals and reads waiting on it.
//!
//! The node's Raft thread drives every peer through raft-rs's Ready sequence in three phases so
//! that all peers of a node share one engine write (one fsync) per round:
//!
//! 1. [`Peer::ready_phase1`]: take the `Ready`; send its `messages` at once (a leader may send
//!    appends before persisting); apply the snapshot; apply `committed_entries` (data plus apply
//!    state into the *apply* batch); append `entries` and the hard state (the *log* batch).
//! 2. *(the node writes the apply batch, unsynced, then [`Peer::publish_applied`] answers the
//!    proposals it applied — before the log batch's fsync, so their writers can send their next
//!    write in time for the next round; then the node writes the log batch, synced)* then
//!    [`Peer::ready_phase2`]: send `persisted_messages`, `advance` and handle the `LightReady`
//!    (commit index, messages, committed entries into a second batch).
//! 3. *(the node writes the second batch, usually empty)* then [`Peer::ready_phase3`]: publish,
//!    `advance_apply`, handle read states, compact the log.
//!
//! **Reads.** ReadIndex reads arriving within one loop iteration are batched: one `read_index`
//! call with a fresh, globally unique context (node id + counter) per batch and per loop. A
//! batch that gets no read state within the retry interval (raft-rs drops a ReadIndex when no
//! leader is known or the leader has not committed in its term) is re-issued with a new
//! context; tasks past their deadline are answered `Timeout`. Once a read state arrives, each
//! task waits until the applied index reaches the read index, then goes to the read pool.
//! Leader-only reads (leader, lease fallback) at a non-leader are answered `NotLeader`.
//!
//! A follower's round reaches the leader as a `MsgReadIndex`. raft-rs would confirm each one
//! with a heartbeat broadcast of its own; a leader here instead lets the followers' requests
//! that arrived since its last round join its next one and answers each with that round's
//! read index (a `MsgReadIndexResp`, as raft-rs builds it). That is as safe as raft-rs's own
//! answer: the round is issued after the request arrived, at the leader's commit index then,
//! and a heartbeat quorum confirms the leadership after that — but a leader whose two
//! followers read too runs one broadcast per round instead of three, and each follower gets
//! one heartbeat per round instead of three. (raft-rs's own comment on `MsgReadIndex` names
//! this piggybacking as the better design.)
//!
//! **Proposals** remember the (index, term) raft-rs assigned; applying an entry answers the
//! proposal with the same index — success if the term matches, `NotLeader` otherwise (another
//! entry took its place: it will never commit). A leader that steps down or stops answers its
//! outstanding proposals `Indeterminate`: they are in its log and may still commit under the
//! next leader, so the client must not retry them (a retried blind put applied twice could
//! overwrite a later write and break linearizability). So is a proposal whose index a snapshot
//! covers: this peer never sees its entry, which may have committed.
//!
//! **Leases** (see [`PeerShared`]) are granted when a ReadIndex round issued as leader in the
//! current term completes, and renewed by empty rounds when less than half is left — at most
//! one renewal per heartbeat interval, and none once the lease cannot be granted in this term
//! (a `MsgTimeoutNow` was sent).
//!
//! **Freshness for stale reads.** A leader that has committed an entry of its own term stamps its
//! commit index on every message it sends ([`RaftEnvelope::leader_commit`]); a follower in the
//! same term that has applied that index knows its data is as new as the leader's at the send
//! time. The capped commit index raft-rs puts in heartbeats (at most the follower's matched
//! index) is not used for this. A leader is fresh as of the start of its last completed
//! ReadIndex round (a heartbeat quorum confirmed it), or now while its lease is valid.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft::prelude::{Entry, EntryType, Message, MessageType, Ready};
use raft::{RawNode, ReadOnlyOption, StateRole};

use crate::config::{ClusterConfig, Failpoints, ReadPolicy};
use crate::error::{Error, Result};
use crate::keys;
use crate::metrics::NodeStats;
use crate::raftstore::{Clock, PeerShared, PeerStorage, WriteTask};
use crate::request::{ProposeTask, RaftEnvelope, ReadQueue, ReadTask, Reply};
use crate::topology::{Index, NodeId, Region};
use crate::transport::Transport;
use kvlab_engine::WriteBatch;

/// What a peer needs from its node while handling events.
pub struct PeerContext<'a> {
    /// This node.
    pub node: NodeId,
    /// Outgoing Raft messages.
    pub transport: &'a dyn Transport,
    /// The read pool.
    pub pool: &'a dyn ReadQueue,
    /// The node clock.
    pub clock: Clock,
    /// Node counters.
    pub stats: &'a NodeStats,
}

struct Proposal {
    index: Index,
    term: u64,
    reply: Reply<NodeId>,
}

struct PendingRead {
    tasks: Vec<ReadTask>,
    /// Followers' `MsgReadIndex` requests this leader's round answers too.
    remote: Vec<Message>,
    issued_ns: u64,
    issued_at: Instant,
    term: u64,
}

impl PendingRead {
    /// A lease renewal: a round for no read at all.
    fn is_renewal(&self) -> bool {
        self.tasks.is_empty() && self.remote.is_empty()
    }
}

/// One region replica (see the module docs).
pub struct Peer {
    /// The region.
    pub region: Region,
    raw: RawNode<PeerStorage>,
    /// The lock-free view other threads read.
    pub shared: Arc<PeerShared>,
    proposals: VecDeque<Proposal>,
    read_batch: Vec<ReadTask>,
    /// Followers' `MsgReadIndex` requests waiting for this leader's next round.
    remote_batch: Vec<Message>,
    pending_reads: HashMap<Vec<u8>, PendingRead>,
    waiting_apply: Vec<(Index, ReadTask)>,
    fresh: VecDeque<(Index, u64)>,
    applied_pending: Option<(Index, u64)>,
    done: Vec<(Reply<NodeId>, Result<NodeId>)>,
    read_states: Vec<raft::ReadState>,
    next_ctx: u64,
    was_leader: bool,
    /// Whether the Ready being handled carried a snapshot: its data and applied state go to
    /// the round's log batch, so nothing of this peer may be published after the apply batch.
    snapshot_unwritten: bool,
    /// The last term in which this peer sent a `MsgTimeoutNow` (0 = never): the transferee
    /// may win an election whenever it arrives, so no lease is granted again in that term.
    timeout_now_term: u64,
    /// When the last lease renewal round was issued (renewals are rate-limited).
    last_renewal: Option<Instant>,
    /// Least time between two lease renewal rounds (one heartbeat interval).
    renew_interval: Duration,
    lease_ns: u64,
    read_retry: Duration,
    gc_threshold: u64,
    failpoints: Failpoints,
}

impl Peer {
    /// Creates the peer over `storage`.
    ///
    /// # Errors
    ///
    /// `Raft` if raft-rs rejects the configuration or the stored state.
    pub fn new(
        region: Region,
        node: NodeId,
        storage: PeerStorage,
        cfg: &ClusterConfig,
        logger: &slog::Logger,
    ) -> Result<Self> {
        let applied = storage.applied();
        let raft_cfg = raft::Config {
            id: node,
            election_tick: cfg.election_ticks,
            heartbeat_tick: cfg.heartbeat_ticks,
            applied: applied.0,
            check_quorum: true,
            pre_vote: true,
            read_only_option: ReadOnlyOption::Safe,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            ..Default::default()
        };
        let raw =
            RawNode::new(&raft_cfg, storage, logger).map_err(|e| Error::Raft(e.to_string()))?;
        let shared = Arc::new(PeerShared::new(region.id, cfg.failpoints));
        shared.applied.store(applied.0, Ordering::Release);
        shared.applied_term.store(applied.1, Ordering::Release);
        // `safe_ns` stays 0: nothing is known about freshness until the leader is heard from.
        Ok(Self {
            region,
            raw,
            shared,
            proposals: VecDeque::new(),
            read_batch: Vec::new(),
            remote_batch: Vec::new(),
            pending_reads: HashMap::new(),
            waiting_apply: Vec::new(),
            fresh: VecDeque::new(),
            applied_pending: None,
            done: Vec::new(),
            read_states: Vec::new(),
            next_ctx: first_read_context(),
            was_leader: false,
            snapshot_unwritten: false,
            timeout_now_term: 0,
            last_renewal: None,
            renew_interval: cfg.tick * cfg.heartbeat_ticks.max(1) as u32,
            lease_ns: cfg.lease_duration().as_nanos() as u64,
            read_retry: cfg.tick * (cfg.heartbeat_ticks as u32 * 4).max(4),
            gc_threshold: cfg.log_gc_threshold,
            failpoints: cfg.failpoints,
        })
    }

    fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    fn leader_hint(&self) -> Option<NodeId> {
        match self.raw.raft.leader_id {
            0 => None,
            id => Some(id),
        }
    }

    /// Advances the logical clock by one tick.
    pub fn tick(&mut self) {
        self.raw.tick();
    }

    /// Starts an election (used at start-up to place leaders).
    pub fn campaign(&mut self) {
        let _ = self.raw.campaign();
    }

    /// Asks raft-rs to hand leadership to `to`. While raft-rs runs the transfer the lease is
    /// suspended (`transferring`); raft-rs may also ignore the request (`to` is not a voter, or
    /// already the transferee) or abort it after an election timeout, and then the lease
    /// resumes. Only a `MsgTimeoutNow` actually sent ends the lease for the rest of the term
    /// (see [`Self::send`]): it lets the transferee win an election at once, even if this
    /// leader aborts the transfer afterwards.
    pub fn transfer_leader(&mut self, to: NodeId) {
        if self.is_leader() && to != self.raw.raft.id {
            self.raw.transfer_leader(to);
            let transferring = self.raw.raft.lead_transferee.is_some();
            self.shared.transferring.store(transferring, Ordering::Release);
        }
    }

    /// Whether a completed ReadIndex round may grant this leader a lease: it leads, no
    /// transfer is in progress and it sent no `MsgTimeoutNow` in this term.
    fn may_hold_lease(&self) -> bool {
        self.is_leader()
            && self.raw.raft.lead_transferee.is_none()
            && self.timeout_now_term != self.raw.raft.term
    }

    /// Whether `msg` may be stepped between this peer's `ready` and `advance`: an append
    /// acknowledgement of the current term at a leader (it cannot make the peer step down).
    pub fn takes_early_ack(&self, msg: &Message) -> bool {
        self.is_leader()
            && msg.term == self.raw.raft.term
            && msg.get_msg_type() == MessageType::MsgAppendResponse
    }

    /// Steps a message from another node. A follower's ReadIndex request at a leader joins
    /// the leader's own next round instead (see the module docs).
    pub fn step(&mut self, env: RaftEnvelope, ctx: &PeerContext<'_>) {
        let msg = &env.msg;
        if self.is_leader()
            && msg.get_msg_type() == MessageType::MsgReadIndex
            && msg.from != ctx.node
            && msg.entries.len() == 1
        {
            self.remote_batch.push(env.msg);
            return;
        }
        let (term, from) = (env.msg.term, env.from);
        let _ = self.raw.step(env.msg);
        // Freshness (see the module docs): only from the current leader, in the current term.
        if let Some(commit) = env.leader_commit {
            if term == self.raw.raft.term && from == self.raw.raft.leader_id && !self.is_leader() {
                self.shared.leader_commit_seen.fetch_max(commit, Ordering::AcqRel);
                self.note_fresh(commit, ctx.clock.ns(env.sent_at));
            }
        }
    }

    /// Records that this replica is as new as the leader was at `at_ns` once it has applied
    /// `index`. The queue stays sorted by index: a pair arriving out of order is merged into the
    /// last (larger-index) entry, which only delays the claim.
    fn note_fresh(&mut self, index: Index, at_ns: u64) {
        if self.shared.applied() >= index {
            self.shared.safe_ns.fetch_max(at_ns, Ordering::AcqRel);
            return;
        }
        match self.fresh.back_mut() {
            Some(last) if last.0 >= index => last.1 = last.1.max(at_ns),
            _ => self.fresh.push_back((index, at_ns)),
        }
        if self.fresh.len() > 4096 {
            self.fresh.pop_front();
        }
    }

    /// Proposes a write; answered after it applied here.
    pub fn propose(&mut self, task: ProposeTask, ctx: &PeerContext<'_>) {
        if task.deadline <= Instant::now() {
            let _ =
                task.reply.send(Err(Error::Timeout("proposal arrived after its deadline".into())));
            return;
        }
        if !self.is_leader() || self.raw.raft.lead_transferee.is_some() {
            let leader = self.leader_hint().filter(|&l| l != ctx.node);
            let _ = task.reply.send(Err(Error::NotLeader { region: self.region.id, leader }));
            return;
        }
        let data = keys::encode_command(&task.batch);
        match self.raw.propose(Vec::new(), data) {
            Ok(()) => {
                let index = self.raw.raft.raft_log.last_index();
                let term = self.raw.raft.term;
                NodeStats::add(&ctx.stats.proposals, 1);
                self.proposals.push_back(Proposal { index, term, reply: task.reply });
            }
            Err(_) => {
                // raft-rs drops proposals during a leader transfer or without a leader.
                let leader = self.leader_hint().filter(|&l| l != ctx.node);
                let _ = task.reply.send(Err(Error::NotLeader { region: self.region.id, leader }));
            }
        }
    }

    /// Queues a ReadIndex read (leader-only policies are refused at a non-leader).
    pub fn read(&mut self, task: ReadTask, ctx: &PeerContext<'_>) {
        let leader_only = matches!(task.policy, ReadPolicy::Leader | ReadPolicy::Lease);
        if leader_only && !self.is_leader() {
            let leader = self.leader_hint().filter(|&l| l != ctx.node);
            return task.fail(Error::NotLeader { region: self.region.id, leader });
        }
        if self.failpoints.follower_read_skips_apply_wait && !self.is_leader() {
            // Failpoint: serve from whatever this follower has applied, at once.
            return self.read_at(0, task, ctx);
        }
        self.read_batch.push(task);
    }

    fn issue_read_index(
        &mut self,
        tasks: Vec<ReadTask>,
        remote: Vec<Message>,
        ctx: &PeerContext<'_>,
    ) {
        self.next_ctx = self.next_ctx.wrapping_add(1);
        let mut rctx = Vec::with_capacity(16);
        rctx.extend_from_slice(&ctx.node.to_be_bytes());
        rctx.extend_from_slice(&self.next_ctx.to_be_bytes());
        NodeStats::add(&ctx.stats.readindex_rounds, 1);
        self.raw.read_index(rctx.clone());
        let pending = PendingRead {
            tasks,
            remote,
            issued_ns: ctx.clock.now_ns(),
            issued_at: Instant::now(),
            term: self.raw.raft.term,
        };
        self.pending_reads.insert(rctx, pending);
    }

    /// Once per loop: issues the batched ReadIndex round, renews the lease, retries rounds that
    /// got no answer and expires reads past their deadline (queued, in a round, or waiting for
    /// apply).
    pub fn flush_reads(&mut self, ctx: &PeerContext<'_>) {
        let now = Instant::now();
        if self.read_batch.iter().any(|t| t.deadline <= now) {
            let batch = std::mem::take(&mut self.read_batch);
            self.read_batch = self.expire(batch, now);
        }
        self.issue_batch(ctx);
        // Lease renewal: an empty ReadIndex round when less than half the lease is left, at
        // most one per heartbeat interval, and only when its answer could grant a lease (and
        // raft-rs would not drop it: a leader that has not applied an entry of its term).
        let renewing = self.pending_reads.values().any(PendingRead::is_renewal);
        let renewed_recently =
            self.last_renewal.is_some_and(|t| now.duration_since(t) < self.renew_interval);
        let term_applied = self.shared.applied_term.load(Ordering::Acquire) == self.raw.raft.term;
        if self.may_hold_lease()
            && term_applied
            && !renewing
            && !renewed_recently
            && self.shared.lease_remaining(ctx.clock.now_ns()).as_nanos()
                < u128::from(self.lease_ns / 2)
        {
            self.last_renewal = Some(now);
            self.issue_read_index(Vec::new(), Vec::new(), ctx);
        }
        // Retry rounds raft-rs dropped (reads queued behind them join the retry); expire tasks.
        // Followers' requests in them are dropped: each follower retries its own round.
        let stale: Vec<Vec<u8>> = self
            .pending_reads
            .iter()
            .filter(|(_, p)| now.duration_since(p.issued_at) >= self.read_retry)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            let Some(p) = self.pending_reads.remove(&key) else { continue };
            let mut live = self.expire(p.tasks, now);
            if !live.is_empty() {
                live.append(&mut self.read_batch);
                let remote = std::mem::take(&mut self.remote_batch);
                self.issue_read_index(live, remote, ctx);
            }
        }
        if !self.waiting_apply.is_empty() {
            let waiting = std::mem::take(&mut self.waiting_apply);
            for (index, task) in waiting {
                if task.deadline <= now {
                    task.fail(Error::Timeout(format!("waiting for apply index {index}")));
                } else {
                    self.waiting_apply.push((index, task));
                }
            }
        }
    }

    /// Issues the batched reads as one ReadIndex round, unless a round for reads is still in
    /// flight: then they wait and join the next round, issued as soon as that one returns
    /// (fewer, larger rounds; a round in flight longer than the retry interval does not count).
    fn issue_batch(&mut self, ctx: &PeerContext<'_>) {
        if !self.is_leader() {
            // Followers' requests reached a peer that is no longer leader: they retry.
            self.remote_batch.clear();
        }
        if self.read_batch.is_empty() && self.remote_batch.is_empty() {
            return;
        }
        let in_flight = self
            .pending_reads
            .values()
            .any(|p| !p.is_renewal() && p.issued_at.elapsed() < self.read_retry);
        if !in_flight || self.read_batch.len() + self.remote_batch.len() >= 1024 {
            let batch = std::mem::take(&mut self.read_batch);
            let remote = std::mem::take(&mut self.remote_batch);
            self.issue_read_index(batch, remote, ctx);
        }
    }

    /// Sets how long a ReadIndex round may go unanswered before it is re-issued (tests).
    #[cfg(test)]
    pub fn set_read_retry(&mut self, retry: Duration) {
        self.read_retry = retry;
    }

    /// Whether the peer has work for another Ready round right away.
    pub fn has_ready(&self) -> bool {
        self.raw.has_ready()
    }

    fn expire(&self, tasks: Vec<ReadTask>, now: Instant) -> Vec<ReadTask> {
        let mut live = Vec::with_capacity(tasks.len());
        for t in tasks {
            if t.deadline <= now {
                t.fail(Error::Timeout(format!(
                    "ReadIndex in region {} got no answer",
                    self.region.id
                )));
            } else {
                live.push(t);
            }
        }
        live
    }

    /// Serves `task` once the applied index reaches `index`.
    pub fn read_at(&mut self, index: Index, mut task: ReadTask, ctx: &PeerContext<'_>) {
        task.ready = true;
        task.timing.indexed = Some(Instant::now());
        let skip_wait = self.failpoints.follower_read_skips_apply_wait && !self.is_leader();
        if skip_wait || self.shared.applied() >= index {
            dispatch(task, ctx);
        } else {
            self.waiting_apply.push((index, task));
        }
    }

    /// Sends `msgs`. A `MsgTimeoutNow` among them ends the lease for the rest of the term.
    fn send(&mut self, msgs: Vec<Message>, ctx: &PeerContext<'_>) {
        if msgs.is_empty() {
            return;
        }
        let now = Instant::now();
        // Stamp the commit index only once this leader committed an entry of its own term:
        // before that its commit index may lag what an earlier leader acknowledged.
        let term = self.raw.raft.term;
        let leader_commit = (self.is_leader()
            && self.shared.applied_term.load(Ordering::Acquire) == term)
            .then_some(self.raw.raft.raft_log.committed);
        for msg in msgs {
            NodeStats::add(&ctx.stats.msgs_sent, 1);
            match msg.get_msg_type() {
                MessageType::MsgTimeoutNow => {
                    // The transferee may now win an election at any moment in this term.
                    self.timeout_now_term = term;
                    self.shared.lease_until_ns.store(0, Ordering::Release);
                }
                MessageType::MsgSnapshot => NodeStats::add(&ctx.stats.snapshots_sent, 1),
                _ => {}
            }
            let to = msg.to;
            ctx.transport.send(RaftEnvelope {
                region: self.region.id,
                from: ctx.node,
                to,
                msg,
                sent_at: now,
                leader_commit,
            });
        }
    }

    fn apply_entries(
        &mut self,
        entries: Vec<Entry>,
        task: &mut WriteTask,
        ctx: &PeerContext<'_>,
    ) -> Result<()> {
        let Some(last) = entries.last() else { return Ok(()) };
        let (last_index, last_term) = (last.index, last.term);
        let mut writes = 0u64;
        let mut batch = WriteBatch::new();
        for e in &entries {
            if e.get_entry_type() == EntryType::EntryNormal && !e.get_data().is_empty() {
                keys::decode_command_into(e.get_data(), &mut batch)?;
                writes += 1;
            }
            while self.proposals.front().is_some_and(|p| p.index <= e.index) {
                let Some(p) = self.proposals.pop_front() else { break };
                let result = if p.index == e.index && p.term == e.term {
                    Ok(ctx.node)
                } else if p.index == e.index {
                    // Another entry committed at its index: this proposal never will.
                    Err(Error::NotLeader { region: self.region.id, leader: self.leader_hint() })
                } else {
                    // Its index was never applied as an entry here (a snapshot covered it):
                    // it may have committed.
                    Err(indeterminate_covered(self.region.id, p.index))
                };
                self.done.push((p.reply, result));
            }
        }
        task.data.ops.append(&mut batch.ops);
        self.raw.mut_store().set_applied(last_index, last_term, task);
        self.applied_pending = Some((last_index, last_term));
        NodeStats::add(&ctx.stats.writes_applied, writes);
        NodeStats::add(&self.shared.writes_applied, writes);
        Ok(())
    }

    /// Phase 1 of the Ready sequence (see the module docs). Returns the `Ready` to finish.
    ///
    /// # Errors
    ///
    /// Storage errors; the node treats them as fatal for the peer.
    pub fn ready_phase1(
        &mut self,
        apply: &mut WriteTask,
        task: &mut WriteTask,
        ctx: &PeerContext<'_>,
    ) -> Result<Option<Ready>> {
        self.maybe_compact(task);
        if !self.raw.has_ready() {
            return Ok(None);
        }
        let mut rd = self.raw.ready();
        self.send(rd.take_messages(), ctx);
        self.snapshot_unwritten = !rd.snapshot().is_empty();
        if self.snapshot_unwritten {
            let snap = rd.snapshot().clone();
            self.raw.mut_store().apply_snapshot(&snap, task)?;
            let meta = snap.get_metadata();
            self.applied_pending = Some((meta.index, meta.term));
            // Proposals the snapshot covers were never seen as entries here: they may have
            // committed, so their writers must not retry them.
            while self.proposals.front().is_some_and(|p| p.index <= meta.index) {
                let Some(p) = self.proposals.pop_front() else { break };
                let err = indeterminate_covered(self.region.id, p.index);
                self.done.push((p.reply, Err(err)));
            }
            NodeStats::add(&ctx.stats.snapshots_applied, 1);
        }
        let committed = rd.take_committed_entries();
        if rd.snapshot().is_empty() {
            self.apply_entries(committed, apply, ctx)?;
        } else {
            // After a snapshot, in the same (durable) batch as the snapshot.
            self.apply_entries(committed, task, ctx)?;
        }
        let has_entries = !rd.entries().is_empty();
        if has_entries {
            let entries = rd.take_entries();
            self.raw.mut_store().append(&entries, task)?;
        }
        if let Some(hs) = rd.hs() {
            let hs = hs.clone();
            self.raw.mut_store().set_hard_state(&hs, has_entries, task)?;
        }
        self.read_states.extend(rd.take_read_states());
        Ok(Some(rd))
    }

    /// After the apply batch is written: publishes the applied index and answers the proposals
    /// and reads it completes. A peer whose Ready carried a snapshot publishes nothing here:
    /// its snapshot and everything applied after it are in the log batch, not yet written.
    pub fn publish_applied(&mut self, ctx: &PeerContext<'_>) {
        if !self.snapshot_unwritten {
            self.publish(ctx);
        }
    }

    /// Phase 2: after the first write.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn ready_phase2(
        &mut self,
        mut rd: Ready,
        task: &mut WriteTask,
        ctx: &PeerContext<'_>,
    ) -> Result<()> {
        // The log batch (with any snapshot) is written now.
        self.snapshot_unwritten = false;
        self.publish(ctx);
        self.send(rd.take_persisted_messages(), ctx);
        let mut light = self.raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            self.raw.mut_store().set_commit(commit);
        }
        self.send(light.take_messages(), ctx);
        let committed = light.take_committed_entries();
        self.apply_entries(committed, task, ctx)
    }

    /// Phase 3: after the second write.
    pub fn ready_phase3(&mut self, ctx: &PeerContext<'_>) {
        self.publish(ctx);
        self.raw.advance_apply();
        self.update_role(ctx);
        let states = std::mem::take(&mut self.read_states);
        for rs in states {
            let Some(p) = self.pending_reads.remove(&rs.request_ctx) else { continue };
            if self.is_leader() && p.term == self.raw.raft.term {
                // A heartbeat quorum confirmed this leadership after `issued_ns`.
                self.note_fresh(rs.index, p.issued_ns);
            }
            if self.may_hold_lease() && p.term == self.raw.raft.term {
                self.shared.lease_until_ns.fetch_max(p.issued_ns + self.lease_ns, Ordering::AcqRel);
            }
            if self.is_leader() && p.term == self.raw.raft.term {
                self.answer_remote(p.remote, rs.index, ctx);
            }
            for t in p.tasks {
                self.read_at(rs.index, t, ctx);
            }
        }
        self.issue_batch(ctx);
    }

    /// Answers followers' ReadIndex requests with the read index of the round that carried
    /// them, as raft-rs would: `term` is this leader's term, which is also the term of the entry
    /// at `index` (raft-rs answers ReadIndex only after the leader committed in its term), and
    /// the follower may commit up to it.
    fn answer_remote(&mut self, remote: Vec<Message>, index: Index, ctx: &PeerContext<'_>) {
        if remote.is_empty() {
            return;
        }
        let term = self.raw.raft.term;
        let answers = remote
            .into_iter()
            .map(|mut req| {
                let mut resp = Message::default();
                resp.set_msg_type(MessageType::MsgReadIndexResp);
                resp.from = ctx.node;
                resp.to = req.from;
                resp.term = term;
                resp.index = index;
                resp.set_entries(req.take_entries());
                resp
            })
            .collect();
        self.send(answers, ctx);
    }

    /// Refreshes the shared view after events that change no log state (ticks, steps).
    pub fn update_role(&mut self, ctx: &PeerContext<'_>) {
        let leader = self.is_leader();
        let s = &self.shared;
        s.term.store(self.raw.raft.term, Ordering::Release);
        s.commit.store(self.raw.raft.raft_log.committed, Ordering::Release);
        s.leader.store(self.raw.raft.leader_id, Ordering::Release);
        s.transferring.store(leader && self.raw.raft.lead_transferee.is_some(), Ordering::Release);
        s.is_leader.store(leader, Ordering::Release);
        if leader {
            s.leader_commit_seen.store(self.raw.raft.raft_log.committed, Ordering::Release);
        }
        if leader && !self.was_leader {
            NodeStats::add(&ctx.stats.leader_changes, 1);
            NodeStats::add(&s.leader_changes, 1);
        }
        if !leader && self.was_leader {
            if !self.failpoints.lease_never_expires {
                s.lease_until_ns.store(0, Ordering::Release);
            }
            let region = self.region.id;
            for p in self.proposals.drain(..) {
                let _ = p.reply.send(Err(Error::Indeterminate(format!(
                    "region {region}: the leader stepped down with the write at index {} in its log",
                    p.index
                ))));
            }
            // Rounds issued as leader were dropped by raft-rs: re-route or re-issue them.
            let pending: Vec<PendingRead> = self.pending_reads.drain().map(|(_, p)| p).collect();
            for p in pending {
                for t in p.tasks {
                    self.read(t, ctx);
                }
            }
        }
        self.was_leader = leader;
    }

    fn publish(&mut self, ctx: &PeerContext<'_>) {
        if let Some((index, term)) = self.applied_pending.take() {
            self.shared.applied_term.store(term, Ordering::Release);
            self.shared.applied.store(index, Ordering::Release);
            while self.fresh.front().is_some_and(|f| f.0 <= index) {
                if let Some((_, ns)) = self.fresh.pop_front() {
                    self.shared.safe_ns.fetch_max(ns, Ordering::AcqRel);
                }
            }
            if !self.waiting_apply.is_empty() {
                let waiting = std::mem::take(&mut self.waiting_apply);
                for (i, t) in waiting {
                    if i <= index {
                        dispatch(t, ctx);
                    } else {
                        self.waiting_apply.push((i, t));
                    }
                }
            }
        }
        for (reply, result) in self.done.drain(..) {
            let _ = reply.send(result);
        }
    }

    fn maybe_compact(&mut self, task: &mut WriteTask) {
        let applied = self.raw.store().applied().0;
        let truncated = self.raw.store().truncated().0;
        if applied.saturating_sub(truncated) > self.gc_threshold {
            let to = applied - self.gc_threshold / 2;
            self.raw.mut_store().compact(to, task);
        }
    }

    /// Answers every waiting request with `Unavailable` (node shutdown).
    pub fn fail_all(&mut self) {
        let err = || Error::Unavailable(format!("region {} peer stopped", self.region.id));
        for p in self.proposals.drain(..) {
            let _ = p.reply.send(Err(Error::Indeterminate(format!(
                "region {}: the node stopped with the write at index {} in its log",
                self.region.id, p.index
            ))));
        }
        for t in self.read_batch.drain(..) {
            t.fail(err());
        }
        for (_, p) in self.pending_reads.drain() {
            for t in p.tasks {
                t.fail(err());
            }
        }
        for (_, t) in self.waiting_apply.drain(..) {
            t.fail(err());
        }
    }
}

/// Where a peer incarnation's ReadIndex context counter starts: the wall clock, in
/// nanoseconds. (A context also carries the node id.) The cluster clock would not do: a node
/// process's own clock starts at 0 with the process, so a restarted node reused its previous
/// incarnation's contexts, and an answer or heartbeat ack meant for an old round could complete
/// a new one. Two incarnations start at least a restart apart, far more nanoseconds than
/// rounds a node issues.
fn first_read_context() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn indeterminate_covered(region: crate::topology::RegionId, index: Index) -> Error {
    Error::Indeterminate(format!(
        "region {region}: a snapshot covered the write proposed at index {index}"
    ))
}

fn dispatch(mut task: ReadTask, ctx: &PeerContext<'_>) {
    task.timing.dispatched = Some(Instant::now());
    if let Err(task) = ctx.pool.submit(task) {
        task.fail(Error::Unavailable("read pool stopped".into()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::topology::Topology;
    use kvlab_engine::{Engine, MemoryEngine};

    /// A node process's clock starts at 0 with the process, so a peer that seeded its
    /// ReadIndex contexts from it reused its previous incarnation's contexts after a restart:
    /// an answer meant for an old round could then complete a new one. A restarted peer's
    /// contexts now start past everything its previous incarnation could have issued.
    #[test]
    fn a_restarted_peer_does_not_reuse_its_read_contexts() {
        let cfg = ClusterConfig::default();
        let topology = Topology::new(cfg.nodes, &cfg.splits(), cfg.replicas).unwrap();
        let region = topology.regions_on(1).next().unwrap().clone();
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let engine: Arc<dyn Engine> = Arc::new(MemoryEngine::with_keyspaces(&[crate::keys::RAFT]));
        let incarnation = || {
            let storage =
                PeerStorage::open(region.clone(), engine.clone(), crate::raftstore::RaftLog::Same)
                    .unwrap();
            Peer::new(region.clone(), 1, storage, &cfg, &logger).unwrap()
        };
        let first = incarnation();
        // A million rounds: far more than a node issues before it is killed and restarted.
        let last_of_first = first.next_ctx.wrapping_add(1_000_000);
        std::thread::sleep(Duration::from_millis(5));
        let second = incarnation();
        assert!(
            second.next_ctx > last_of_first,
            "contexts start at {} after a restart, {} before",
            second.next_ctx,
            first.next_ctx
        );
    }
}
