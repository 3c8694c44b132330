//! The linearizability search for one key's register (Wing & Gong with Lowe's improvements,
//! the design Porcupine uses).
//!
//! # The search
//!
//! Every operation becomes a call event at its invocation and a return event at its completion
//! (`u64::MAX` for a write with an unknown outcome, which may take effect at any time after
//! its invocation or never). Events are sorted by time, calls before returns at equal times
//! (touching intervals count as concurrent), in a doubly linked list. A depth-first search
//! linearizes operations just in time: from the head of the list, any call met before the
//! first return event may be linearized next (its operation is minimal in real-time order);
//! linearizing it unlinks its call and return. Meeting a return event means that operation had
//! to be linearized already: backtrack (relink the last operation, try the next call after it).
//! The list empties exactly when a linearization has been found.
//!
//! Reductions, each sound and complete (a proptest checks the search against brute force):
//!
//! * Memoisation (Lowe): a configuration is the set of linearized operations and the register's
//!   value. Every configuration entered is remembered; meeting it again means it already failed
//!   (along one path the set only grows, so it cannot be on the current path). A value that no
//!   remaining read observes is remembered as *dead*: all dead values behave alike from then on
//!   (no read matches them, every write replaces them), so such configurations merge. Memo
//!   entries are 128-bit fingerprints (Zobrist hashing of the set, kept incrementally, mixed
//!   with the value), about 20–40 bytes an entry whatever the history's length.
//! * Forced moves. If a minimal read matches the register, linearizing it now is as good as any
//!   choice (moved to the front of any linearization from here, it still reads the right value
//!   and nothing unlinearized had to precede it), so it is the configuration's only child: if
//!   it fails, the configuration fails. Otherwise, if the register's value is dead and a minimal
//!   write's value is dead too (a *blind* write), that write is the only child: nothing reads a
//!   blind write's value, so in any linearization it is directly followed by a write or ends the
//!   sequence, and it can move to the front (from a dead value, the first operation of the rest
//!   is a write anyway). Many concurrent reads of one value, or writes nobody reads, thus cost
//!   no branching.
//! * Doomed values: when reads of the register's value remain but no remaining write writes it,
//!   only a matching read may come next; with none minimal, backtrack at once.
//! * A write with an unknown outcome whose value no read observed is left out: a linearization
//!   of the rest extends by putting it last ("never"), and it cannot help any read.
//!
//! # Budget and certainty
//!
//! The search stops as inconclusive once its memo holds `budget` entries. A linearization it
//! finds is always genuine. A "no" could in principle come from a fingerprint collision
//! (chance ~2⁻⁸⁰ at the default budget), so a counter-example is re-checked with exact memo
//! entries (full bitsets) before it is reported; if that does not confirm it the key is
//! reported inconclusive.
//!
//! # Shrinking
//!
//! A non-linearizable key is shrunk to a small counter-example by delta debugging (drop chunks
//! of operations, halving the chunk size down to single operations, keep a drop when the rest is
//! still not linearizable), all trials sharing the key's budget. Dropping a write also drops
//! every read of its value. That closure makes each step preserve linearizability of the
//! superset (a linearization of the superset, minus the write and the reads of its value, is a
//! linearization of the subset: every other read still follows the write it read), so a
//! non-linearizable subset proves the whole key non-linearizable, and a shrunk history cannot
//! blame a read merely because the write it read was dropped.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::history::{Op, OpKind, Value};

/// The verdict for one key's linearizable part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A linearization exists.
    Linearizable,
    /// None exists; the counter-example: indices into the checked ops, sorted by invocation.
    Violation(Vec<usize>),
    /// The budget ran out first.
    Inconclusive,
}

/// Ops per key beyond which the search gives up (node numbers are `u32`).
const MAX_OPS: usize = 1 << 30;

/// Bitset words (8 bytes each) the exact memo may hold in all.
const EXACT_WORDS: usize = 1 << 26;

/// What one search concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A linearization exists.
    Linearizable,
    /// None exists.
    NotLinearizable,
    /// The memo reached the budget.
    OutOfBudget,
}

/// Checks one key's operations (writes and non-stale reads) against a register that starts
/// as `initial`; shrinks a violation to a small counter-example.
pub(crate) fn check(ops: &[&Op], initial: Value, budget: usize) -> Verdict {
    if ops.len() >= MAX_OPS {
        return Verdict::Inconclusive;
    }
    let problem = Problem::new(ops, initial);
    let all = problem.relevant();
    match problem.search(&all, budget, MemoKind::Fingerprint).0 {
        Outcome::Linearizable => Verdict::Linearizable,
        Outcome::OutOfBudget => Verdict::Inconclusive,
        Outcome::NotLinearizable => {
            let mut kept = problem.shrink(all, budget);
            // Exact entries hold bitsets: cap their total size (~512 MiB) as well.
            let exact_budget = budget.min(EXACT_WORDS / kept.len().div_ceil(64).max(1));
            match problem.search(&kept, exact_budget, MemoKind::Exact).0 {
                Outcome::NotLinearizable => {
                    kept.sort_by_key(|&i| (ops[i].invoke_ns, ops[i].line));
                    Verdict::Violation(kept)
                }
                Outcome::Linearizable | Outcome::OutOfBudget => Verdict::Inconclusive,
            }
        }
    }
}

/// Searches `ops` exactly (no fingerprints, no shrinking): for tests.
#[cfg(test)]
pub(crate) fn search_exact(ops: &[&Op], initial: Value, budget: usize) -> Outcome {
    let problem = Problem::new(ops, initial);
    problem.search(&problem.relevant(), budget, MemoKind::Exact).0
}

/// One operation as the search sees it.
#[derive(Clone, Copy, Debug)]
struct Step {
    invoke: u64,
    /// `u64::MAX` when the outcome is unknown.
    complete: u64,
    read: bool,
    /// Interned register value (read or written).
    value: u32,
}

/// One key's operations, with values interned.
struct Problem {
    steps: Vec<Step>,
    initial: u32,
}

/// How configurations are remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemoKind {
    /// 128-bit fingerprints: compact, collisions astronomically unlikely.
    Fingerprint,
    /// Full bitsets: exact, memory grows with the history.
    Exact,
}

impl Problem {
    fn new(ops: &[&Op], initial: Value) -> Problem {
        let mut ids: HashMap<Value, u32> = HashMap::new();
        let mut intern = |v: Value| {
            let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            *ids.entry(v).or_insert(next)
        };
        let initial = intern(initial);
        let steps = ops
            .iter()
            .map(|op| Step {
                invoke: op.invoke_ns,
                complete: op.complete_ns().unwrap_or(u64::MAX),
                read: op.kind == OpKind::Read,
                value: intern(op.value),
            })
            .collect();
        Problem { steps, initial }
    }

    /// All operations except unknown-outcome writes whose value no read observed.
    fn relevant(&self) -> Vec<usize> {
        let read: HashSet<u32> = self.steps.iter().filter(|s| s.read).map(|s| s.value).collect();
        (0..self.steps.len())
            .filter(|&i| {
                let s = self.steps[i];
                s.read || s.complete != u64::MAX || read.contains(&s.value)
            })
            .collect()
    }

    /// Delta debugging with write→reads closure (see the module docs); `all` is known to be
    /// not linearizable. Returns a subset that the fingerprint search found not linearizable.
    fn shrink(&self, all: Vec<usize>, budget: usize) -> Vec<usize> {
        let mut kept = all;
        let mut left = budget;
        let mut chunk = (kept.len() / 2).max(1);
        loop {
            let mut changed = false;
            let mut start = 0;
            while start < kept.len() && left > 0 {
                let end = (start + chunk).min(kept.len());
                let dropped: HashSet<u32> = kept[start..end]
                    .iter()
                    .filter(|&&i| !self.steps[i].read)
                    .map(|&i| self.steps[i].value)
                    .collect();
                let candidate: Vec<usize> = kept
                    .iter()
                    .enumerate()
                    .filter(|&(pos, &i)| {
                        let s = self.steps[i];
                        let in_chunk = (start..end).contains(&pos);
                        let reads_dropped = s.read && dropped.contains(&s.value);
                        !(in_chunk || reads_dropped)
                    })
                    .map(|(_, &i)| i)
                    .collect();
                let (outcome, used) = self.search(&candidate, left, MemoKind::Fingerprint);
                left = left.saturating_sub(used);
                if outcome == Outcome::NotLinearizable {
                    kept = candidate;
                    changed = true;
                } else {
                    start = end;
                }
            }
            if left == 0 || (chunk == 1 && !changed) {
                return kept;
            }
            chunk = (chunk / 2).max(1);
        }
    }

    /// Searches for a linearization of the operations `subset`; returns the outcome and the
    /// number of memo entries used.
    fn search(&self, subset: &[usize], budget: usize, kind: MemoKind) -> (Outcome, usize) {
        let steps: Vec<Step> = subset.iter().map(|&i| self.steps[i]).collect();
        Search::new(&steps, self.initial, kind).run(budget)
    }
}

/// "No node".
const NIL: u32 = u32::MAX;
/// The list's head sentinel.
const HEAD: u32 = 0;
/// The memo's name for every value that no remaining read observes.
const DEAD: u32 = u32::MAX;

/// The event list. Node 0 is the head; op `i` has call node `2i + 1` and return node `2i + 2`.
struct EventList {
    next: Vec<u32>,
    prev: Vec<u32>,
}

fn call_node(op: u32) -> u32 {
    2 * op + 1
}

fn is_call(node: u32) -> bool {
    node % 2 == 1
}

fn node_op(node: u32) -> u32 {
    (node - 1) / 2
}

/// Index conversion for node and op numbers (histories have far fewer than 2³¹ ops).
fn ix(n: u32) -> usize {
    n as usize
}

impl EventList {
    fn new(steps: &[Step]) -> EventList {
        let mut events: Vec<(u64, u32)> = Vec::with_capacity(2 * steps.len());
        for (i, s) in (0u32..).zip(steps) {
            events.push((s.invoke, call_node(i)));
            events.push((s.complete.max(s.invoke), call_node(i) + 1));
        }
        // Calls before returns at equal times: odd (call) nodes sort first via the key below.
        events.sort_unstable_by_key(|&(t, node)| (t, !is_call(node), node));
        let len = 2 * steps.len() + 1;
        let mut list = EventList { next: vec![NIL; len], prev: vec![NIL; len] };
        let mut last = HEAD;
        for &(_, node) in &events {
            list.next[ix(last)] = node;
            list.prev[ix(node)] = last;
            last = node;
        }
        list
    }

    fn unlink(&mut self, node: u32) {
        let (p, n) = (self.prev[ix(node)], self.next[ix(node)]);
        self.next[ix(p)] = n;
        if n != NIL {
            self.prev[ix(n)] = p;
        }
    }

    fn relink(&mut self, node: u32) {
        let (p, n) = (self.prev[ix(node)], self.next[ix(node)]);
        self.next[ix(p)] = node;
        if n != NIL {
            self.prev[ix(n)] = node;
        }
    }

    /// Removes op's call and return (in that order; [`EventList::unlift`] undoes it).
    fn lift(&mut self, op: u32) {
        self.unlink(call_node(op));
        self.unlink(call_node(op) + 1);
    }

    fn unlift(&mut self, op: u32) {
        self.relink(call_node(op) + 1);
        self.relink(call_node(op));
    }
}

/// SplitMix64: a bijective mixer, used for Zobrist keys.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A pseudo-random 128-bit key for `n` in the domain `domain` (0: ops, 1: values).
fn zobrist(domain: u64, n: u32) -> u128 {
    let base = (domain << 62) | (u64::from(n) << 1);
    (u128::from(splitmix64(base)) << 64) | u128::from(splitmix64(base | 1))
}

/// Hashes a fingerprint by folding it (its bits are already uniformly mixed).
#[derive(Default)]
struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 ^= (v as u64) ^ ((v >> 64) as u64);
    }
}

/// Remembered configurations.
enum Memo {
    Fingerprint(HashSet<u128, BuildHasherDefault<FoldHasher>>),
    Exact(HashSet<(Vec<u64>, u32)>),
}

impl Memo {
    fn len(&self) -> usize {
        match self {
            Memo::Fingerprint(set) => set.len(),
            Memo::Exact(set) => set.len(),
        }
    }
}

/// One linearized operation on the search stack.
struct Frame {
    op: u32,
    /// The register's value before it.
    before: u32,
    /// A forced move, the configuration's only child (see the module docs): when it fails,
    /// the configuration fails.
    forced: bool,
}

/// The state of one depth-first search.
struct Search<'a> {
    steps: &'a [Step],
    list: EventList,
    memo: Memo,
    /// The register's current value.
    state: u32,
    /// Per value: reads of it not yet linearized.
    unread: Vec<u32>,
    /// Per value: writes of it not yet linearized.
    unwritten: Vec<u32>,
    /// Fingerprint of the linearized set.
    fingerprint: u128,
    /// The linearized set (kept only for exact memo entries).
    bits: Vec<u64>,
    stack: Vec<Frame>,
}

impl<'a> Search<'a> {
    fn new(steps: &'a [Step], initial: u32, kind: MemoKind) -> Search<'a> {
        let (memo, bits) = match kind {
            MemoKind::Fingerprint => (Memo::Fingerprint(HashSet::default()), Vec::new()),
            MemoKind::Exact => (Memo::Exact(HashSet::new()), vec![0; steps.len().div_ceil(64)]),
        };
        let values = steps.iter().map(|s| s.value).chain([initial]).max().map_or(0, ix);
        let mut unread = vec![0; values + 1];
        let mut unwritten = vec![0; values + 1];
        for s in steps {
            let count = if s.read { &mut unread } else { &mut unwritten };
            count[ix(s.value)] += 1;
        }
        Search {
            steps,
            list: EventList::new(steps),
            memo,
            state: initial,
            unread,
            unwritten,
            fingerprint: 0,
            bits,
            stack: Vec::new(),
        }
    }

    fn step(&self, op: u32) -> Step {
        self.steps[ix(op)]
    }

    /// Linearizes `op` if the configuration it leads to is new; returns whether it did.
    fn try_linearize(&mut self, op: u32, forced: bool) -> bool {
        let step = self.step(op);
        let after = if step.read { self.state } else { step.value };
        let count = if step.read { &mut self.unread } else { &mut self.unwritten };
        count[ix(step.value)] -= 1;
        // A value no remaining read observes is as good as any other such value.
        let remembered = if self.unread[ix(after)] == 0 { DEAD } else { after };
        let fingerprint = self.fingerprint ^ zobrist(0, op);
        let new = match &mut self.memo {
            Memo::Fingerprint(set) => set.insert(fingerprint ^ zobrist(1, remembered)),
            Memo::Exact(set) => {
                let mut bits = self.bits.clone();
                bits[ix(op) / 64] |= 1 << (op % 64);
                set.insert((bits, remembered))
            }
        };
        if new {
            self.stack.push(Frame { op, before: self.state, forced });
            self.state = after;
            self.fingerprint = fingerprint;
            if let Some(word) = self.bits.get_mut(ix(op) / 64) {
                *word |= 1 << (op % 64);
            }
            self.list.lift(op);
        } else {
            let count = if step.read { &mut self.unread } else { &mut self.unwritten };
            count[ix(step.value)] += 1;
        }
        new
    }

    /// Undoes linearizations until one that was a free choice; returns the node to resume
    /// scanning from, or `None` when the search space is exhausted.
    fn backtrack(&mut self) -> Option<u32> {
        while let Some(frame) = self.stack.pop() {
            self.list.unlift(frame.op);
            self.state = frame.before;
            self.fingerprint ^= zobrist(0, frame.op);
            let step = self.step(frame.op);
            let count = if step.read { &mut self.unread } else { &mut self.unwritten };
            count[ix(step.value)] += 1;
            if let Some(word) = self.bits.get_mut(ix(frame.op) / 64) {
                *word &= !(1 << (frame.op % 64));
            }
            if !frame.forced {
                return Some(self.list.next[ix(call_node(frame.op))]);
            }
        }
        None
    }

    /// A minimal operation that may be linearized next without trying alternatives (see the
    /// module docs): a read matching the register, or else, when no remaining read observes
    /// the register's value, a write whose value no remaining read observes.
    fn forced_move(&self) -> Option<u32> {
        let dead = self.unread[ix(self.state)] == 0;
        let mut blind = None;
        let mut node = self.list.next[ix(HEAD)];
        while node != NIL && is_call(node) {
            let op = node_op(node);
            let step = self.step(op);
            if step.read && step.value == self.state {
                return Some(op);
            }
            if dead && blind.is_none() && !step.read && self.unread[ix(step.value)] == 0 {
                blind = Some(op);
            }
            node = self.list.next[ix(node)];
        }
        blind
    }

    fn run(mut self, budget: usize) -> (Outcome, usize) {
        let outcome = self.explore(budget);
        (outcome, self.memo.len())
    }

    fn explore(&mut self, budget: usize) -> Outcome {
        // `None`: a configuration just entered, look for a forced move first.
        let mut entry: Option<u32> = None;
        loop {
            if self.list.next[ix(HEAD)] == NIL {
                return Outcome::Linearizable;
            }
            if self.memo.len() >= budget {
                return Outcome::OutOfBudget;
            }
            let node = match entry {
                Some(node) => node,
                None => {
                    if let Some(op) = self.forced_move() {
                        if !self.try_linearize(op, true) {
                            // The forced move leads to a configuration that failed before, so
                            // this one fails too.
                            match self.backtrack() {
                                Some(node) => entry = Some(node),
                                None => return Outcome::NotLinearizable,
                            }
                        }
                        continue;
                    }
                    if self.unread[ix(self.state)] > 0 && self.unwritten[ix(self.state)] == 0 {
                        // Reads of the current value remain and no write can restore it: no
                        // write may come next, and no read can (none matched).
                        match self.backtrack() {
                            Some(node) => entry = Some(node),
                            None => return Outcome::NotLinearizable,
                        }
                        continue;
                    }
                    self.list.next[ix(HEAD)]
                }
            };
            if node != NIL && is_call(node) {
                let op = node_op(node);
                // Reads that could be taken were forced on entry: only writes branch here.
                if !self.step(op).read && self.try_linearize(op, false) {
                    entry = None;
                } else {
                    entry = Some(self.list.next[ix(node)]);
                }
                continue;
            }
            // A return: that op had to be linearized already.
            match self.backtrack() {
                Some(node) => entry = Some(node),
                None => return Outcome::NotLinearizable,
            }
        }
    }
}
