//! Requests in flight (`--inflight N`): one client thread keeps up to N operations outstanding
//! on a binding with an asynchronous API, as a TiKV or etcd client multiplexes requests over
//! one connection. With one request per thread, every ReadIndex policy is capped at one
//! round's latency per thread; a window measures the store's capacity instead.
//!
//! **Latency model.**
//! * Closed loop with a window (no `--target`): the thread sends until N operations are
//!   outstanding, then waits for an answer and sends the next operation at once.
//! * Open loop (`--target`): each operation has an intended start on the thread's schedule;
//!   it is sent at that time if the window has room, or as soon as an answer frees a slot.
//!
//! Either way an operation's latency runs from its own send (`service`), and with `--target`
//! from its intended start (`intended`, which includes any wait for a slot), to the moment its
//! answer is collected. Answers are collected as they arrive where the client can tell (the
//! first answered outstanding operation), else the oldest outstanding one is waited for.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kvlab_workloads::Operation;

use crate::binding::{OpError, Served};
use crate::error::Result;

/// A client that keeps several operations in flight.
pub trait PipelinedClient: Send {
    /// Sends `op`, named `id`, without waiting for its answer.
    fn send(&mut self, id: u64, op: &Operation);
    /// An answer: the first answered outstanding operation; with `block`, else the oldest one
    /// once it is answered. `None` when nothing is outstanding or, without `block`, nothing
    /// is answered yet.
    fn next(&mut self, block: bool) -> Option<(u64, std::result::Result<Served, OpError>)>;
}

/// Where the loop reads the time (a test drives its own).
pub trait Clock {
    /// Now.
    fn now(&self) -> Instant;
    /// Lets time pass until `at` or a little while, whichever is sooner (nothing to do but
    /// wait for a send time or an answer).
    fn pause_until(&self, at: Option<Instant>);
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn pause_until(&self, at: Option<Instant>) {
        let now = Instant::now();
        let left = at.map_or(Duration::from_micros(20), |at| at.saturating_duration_since(now));
        if left > Duration::from_micros(200) {
            std::thread::sleep(left.min(Duration::from_micros(100)));
        } else {
            std::thread::yield_now();
        }
    }
}

/// One answered operation.
pub struct Completion<'a> {
    /// The operation.
    pub op: &'a Operation,
    /// Its sequence number on this thread.
    pub n: u64,
    /// When it was sent.
    pub sent: Instant,
    /// When its answer was collected.
    pub done: Instant,
    /// Its intended start (`--target`).
    pub intended: Option<Instant>,
    /// Its outcome.
    pub result: &'a std::result::Result<Served, OpError>,
}

/// What the loop asks of the thread that runs it.
pub trait Driver {
    /// Whether to send more operations at `now` (deadline, stop, operation count).
    fn keep_sending(&mut self, now: Instant, sent: u64) -> bool;
    /// Fills `op` with operation `n` and returns when it is meant to start.
    fn next_op(&mut self, n: u64, op: &mut Operation) -> NextOp;
    /// Records an answered operation.
    ///
    /// # Errors
    ///
    /// A trace that cannot be written.
    fn done(&mut self, c: Completion<'_>) -> Result<()>;
}

/// What [`Driver::next_op`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextOp {
    /// An operation, to be sent at once (`None`) or at its intended start (`--target`).
    Ready(Option<Instant>),
    /// The stream is exhausted.
    Exhausted,
}

struct InFlight {
    op: Operation,
    sent: Instant,
    intended: Option<Instant>,
}

/// Runs one thread's operations with up to `window` in flight (see the module docs); returns
/// the number sent. Every operation sent is answered before it returns.
///
/// # Errors
///
/// From [`Driver::done`].
pub fn drive(
    client: &mut dyn PipelinedClient,
    window: usize,
    clock: &dyn Clock,
    driver: &mut dyn Driver,
) -> Result<u64> {
    let window = window.max(1);
    let mut outstanding: BTreeMap<u64, InFlight> = BTreeMap::new();
    // The next operation, generated but not yet sent (its time has not come, or no slot).
    let mut next: Option<(Operation, Option<Instant>)> = None;
    let (mut n, mut exhausted) = (0u64, false);
    loop {
        if next.is_none() && !exhausted {
            if driver.keep_sending(clock.now(), n) {
                let mut op = Operation::new();
                match driver.next_op(n, &mut op) {
                    NextOp::Ready(intended) => next = Some((op, intended)),
                    NextOp::Exhausted => exhausted = true,
                }
            } else {
                exhausted = true;
            }
        }
        let due = next.as_ref().map(|(_, at)| at.is_none_or(|at| clock.now() >= at));
        if due == Some(true) && outstanding.len() < window {
            if let Some((op, intended)) = next.take() {
                let sent = clock.now();
                client.send(n, &op);
                outstanding.insert(n, InFlight { op, sent, intended });
                n += 1;
            }
            continue;
        }
        if outstanding.is_empty() {
            if next.is_none() && exhausted {
                return Ok(n);
            }
            // Nothing in flight: wait for the next operation's intended start.
            let at = next.as_ref().and_then(|(_, at)| *at);
            if !driver.keep_sending(clock.now(), n) {
                next = None;
                exhausted = true;
                continue;
            }
            clock.pause_until(at);
            continue;
        }
        // Wait for an answer when the window is full or nothing more will be sent.
        let block = outstanding.len() >= window || (next.is_none() && exhausted);
        match client.next(block) {
            Some((id, result)) => {
                let done = clock.now();
                if let Some(f) = outstanding.remove(&id) {
                    let c = Completion {
                        op: &f.op,
                        n: id,
                        sent: f.sent,
                        done,
                        intended: f.intended,
                        result: &result,
                    };
                    driver.done(c)?;
                }
            }
            None if block => {
                // A client that cannot name an answer for what is outstanding: give up on
                // those operations rather than wait forever (a binding bug).
                return Ok(n);
            }
            None => {
                if !driver.keep_sending(clock.now(), n) && next.is_some() {
                    next = None;
                    exhausted = true;
                }
                clock.pause_until(next.as_ref().and_then(|(_, at)| *at));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicU64, Ordering};

    use kvlab_workloads::OpKind;

    use super::*;

    /// A clock that moves only when the test's client or the loop's pauses move it.
    struct FakeClock {
        base: Instant,
        ns: AtomicU64,
    }

    impl FakeClock {
        fn at(&self, ns: u64) -> Instant {
            self.base + Duration::from_nanos(ns)
        }
        fn advance_to(&self, ns: u64) {
            self.ns.fetch_max(ns, Ordering::Relaxed);
        }
        fn ns(&self) -> u64 {
            self.ns.load(Ordering::Relaxed)
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.at(self.ns())
        }
        fn pause_until(&self, at: Option<Instant>) {
            let target = at.map_or(self.ns() + 1, |at| (at - self.base).as_nanos() as u64);
            self.advance_to(target.max(self.ns() + 1));
        }
    }

    /// Answers operations at the fake times the test scripts: operation `i` is answered at
    /// `answer_at[i]` ns; `next(true)` moves the clock to the earliest scripted answer among
    /// the outstanding operations (the one that would arrive first), `next(false)` returns
    /// one only if its time has come.
    struct Scripted<'a> {
        clock: &'a FakeClock,
        answer_at: Vec<u64>,
        outstanding: VecDeque<u64>,
        max_outstanding: usize,
        sent_at: Vec<u64>,
    }

    impl PipelinedClient for Scripted<'_> {
        fn send(&mut self, id: u64, _op: &Operation) {
            self.sent_at.push(self.clock.ns());
            self.outstanding.push_back(id);
            self.max_outstanding = self.max_outstanding.max(self.outstanding.len());
        }

        fn next(&mut self, block: bool) -> Option<(u64, std::result::Result<Served, OpError>)> {
            let first = self
                .outstanding
                .iter()
                .copied()
                .min_by_key(|&id| (self.answer_at[id as usize], id))?;
            let at = self.answer_at[first as usize];
            if !block && at > self.clock.ns() {
                return None;
            }
            self.clock.advance_to(at);
            self.outstanding.retain(|&id| id != first);
            Some((first, Ok(Served::default())))
        }
    }

    /// One answer as the test sees it: (n, service ns, intended ns).
    type Answer = (u64, u64, Option<u64>);

    /// Sends `count` operations, paced every `pace` ns when set; records latencies.
    struct Recorder<'a> {
        clock: &'a FakeClock,
        count: u64,
        pace: Option<u64>,
        /// In answer order.
        done: Vec<Answer>,
    }

    impl Driver for Recorder<'_> {
        fn keep_sending(&mut self, _now: Instant, sent: u64) -> bool {
            sent < self.count
        }
        fn next_op(&mut self, n: u64, op: &mut Operation) -> NextOp {
            op.kind = OpKind::Read;
            NextOp::Ready(self.pace.map(|p| self.clock.at(n * p)))
        }
        fn done(&mut self, c: Completion<'_>) -> Result<()> {
            let ns = |d: Duration| d.as_nanos() as u64;
            self.done.push((
                c.n,
                ns(c.done - c.sent),
                c.intended.map(|at| ns(c.done.saturating_duration_since(at))),
            ));
            Ok(())
        }
    }

    /// The answers, the send times and the most operations in flight at once.
    fn run(
        window: usize,
        pace: Option<u64>,
        answer_at: Vec<u64>,
    ) -> (Vec<Answer>, Vec<u64>, usize) {
        let clock = FakeClock { base: Instant::now(), ns: AtomicU64::new(0) };
        let count = answer_at.len() as u64;
        let mut client = Scripted {
            clock: &clock,
            answer_at,
            outstanding: VecDeque::new(),
            max_outstanding: 0,
            sent_at: Vec::new(),
        };
        let mut rec = Recorder { clock: &clock, count, pace, done: Vec::new() };
        let sent = drive(&mut client, window, &clock, &mut rec).unwrap();
        assert_eq!(sent, count);
        (rec.done, client.sent_at, client.max_outstanding)
    }

    /// Closed loop, window 2: operations 0 and 1 go out at 0; 1 answers first (at 30), so 2
    /// is sent at 30; 0 answers at 50, 3 goes out at 50; each latency runs from its own send.
    #[test]
    fn closed_loop_latency_runs_from_each_send_to_its_answer() {
        let (done, sent_at, max) = run(2, None, vec![50, 30, 80, 60]);
        assert_eq!(max, 2, "never more than the window in flight");
        assert_eq!(sent_at, vec![0, 0, 30, 50]);
        let order: Vec<u64> = done.iter().map(|d| d.0).collect();
        assert_eq!(order, vec![1, 0, 3, 2], "answers are taken in arrival order");
        let service: BTreeMap<u64, u64> = done.iter().map(|d| (d.0, d.1)).collect();
        assert_eq!(service, BTreeMap::from([(0, 50), (1, 30), (2, 50), (3, 10)]));
        assert!(done.iter().all(|d| d.2.is_none()), "no intended latency without --target");
    }

    /// Open loop, window 1, pace 10: operation 1 is due at 10 but waits for 0's answer (40);
    /// its intended latency counts that wait, its service latency does not.
    #[test]
    fn open_loop_intended_latency_includes_waiting_for_a_slot() {
        let (done, sent_at, max) = run(1, Some(10), vec![40, 45, 50]);
        assert_eq!(max, 1);
        assert_eq!(sent_at, vec![0, 40, 45]);
        assert_eq!(done, vec![(0, 40, Some(40)), (1, 5, Some(35)), (2, 5, Some(30))]);
    }

    /// Open loop with room in the window: sends happen on schedule, not when answers come.
    #[test]
    fn open_loop_sends_on_schedule_while_answers_are_outstanding() {
        let (done, sent_at, max) = run(4, Some(10), vec![100, 101, 102]);
        assert_eq!(sent_at, vec![0, 10, 20]);
        assert_eq!(max, 3);
        let service: Vec<u64> = done.iter().map(|d| d.1).collect();
        assert_eq!(service, vec![100, 91, 82]);
    }

    /// Window 1 without a target is the blocking client: one at a time, back to back.
    #[test]
    fn window_of_one_is_sequential() {
        let (done, sent_at, max) = run(1, None, vec![5, 12, 20]);
        assert_eq!((max, sent_at), (1, vec![0, 5, 12]));
        let service: Vec<u64> = done.iter().map(|d| d.1).collect();
        assert_eq!(service, vec![5, 7, 8]);
    }
}
