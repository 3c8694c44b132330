//! YCSB's `AcknowledgedCounterGenerator`: the keynums of run-phase inserts, and the last keynum
//! below which every insert has completed.
//!
//! Inserts take keynums from a shared counter starting at `recordcount`. A client acknowledges
//! each keynum once its insert has finished; the *limit* is the highest keynum such that it and
//! every keynum before it were acknowledged. Reads never choose keynums above the limit, so
//! they never target keys that may not exist yet.
//!
//! As in YCSB, acknowledgements are recorded in a ring of 2²⁰ slots; the thread that wins a
//! `try_lock` advances the limit over consecutive acknowledged slots. Unlike YCSB, after
//! releasing the lock it looks once more, so an acknowledgement that raced with the advance
//! is not left waiting for the next insert.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The window of unacknowledged inserts (YCSB's `WINDOW_SIZE`).
pub const WINDOW_SIZE: u64 = 1 << 20;
/// Mask of a keynum's slot in the window.
const WINDOW_MASK: i64 = (WINDOW_SIZE - 1) as i64;

/// The shared insert-keynum counter with acknowledgements.
#[derive(Debug)]
pub struct AcknowledgedCounter {
    /// The next keynum to hand out.
    next: AtomicI64,
    /// The highest keynum with it and all before it acknowledged.
    limit: AtomicI64,
    /// One flag per slot: acknowledged but not yet passed by the limit.
    window: Box<[AtomicBool]>,
    /// Held by the thread that advances the limit.
    lock: Mutex<()>,
}

impl AcknowledgedCounter {
    /// A counter whose first keynum is `start`; the limit starts at `start − 1`.
    pub fn new(start: i64) -> AcknowledgedCounter {
        AcknowledgedCounter {
            next: AtomicI64::new(start),
            limit: AtomicI64::new(start - 1),
            window: (0..WINDOW_SIZE).map(|_| AtomicBool::new(false)).collect(),
            lock: Mutex::new(()),
        }
    }

    /// Hands out the next keynum.
    #[inline]
    pub fn next_value(&self) -> i64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The last acknowledged keynum (YCSB's `lastValue()`).
    #[inline]
    pub fn last_value(&self) -> i64 {
        self.limit.load(Ordering::Acquire)
    }

    /// Marks `keynum` as inserted and advances the limit if possible.
    ///
    /// # Errors
    /// [`Error::AcknowledgeWindow`] when `keynum`'s slot is still taken: more than
    /// [`WINDOW_SIZE`] inserts are outstanding behind an unacknowledged one.
    pub fn acknowledge(&self, keynum: i64) -> Result<()> {
        let slot = &self.window[(keynum & WINDOW_MASK) as usize];
        if slot.swap(true, Ordering::SeqCst) {
            let limit = self.last_value();
            return Err(Error::AcknowledgeWindow {
                keynum: keynum as u64,
                ahead: keynum.saturating_sub(limit) as u64,
                window: WINDOW_SIZE,
            });
        }
        loop {
            let Ok(_guard) = self.lock.try_lock() else {
                return Ok(());
            };
            let limit = self.limit.load(Ordering::Acquire);
            let mut index = limit + 1;
            while index != limit + 1 + WINDOW_SIZE as i64 {
                let s = &self.window[(index & WINDOW_MASK) as usize];
                if !s.load(Ordering::Acquire) {
                    break;
                }
                s.store(false, Ordering::Release);
                index += 1;
            }
            self.limit.store(index - 1, Ordering::Release);
            drop(_guard);
            // Another thread may have acknowledged the next keynum while we held the lock.
            if !self.window[(index & WINDOW_MASK) as usize].load(Ordering::SeqCst) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn limit_advances_over_consecutive_acknowledgements() {
        let c = AcknowledgedCounter::new(100);
        assert_eq!(c.last_value(), 99);
        let (a, b, d) = (c.next_value(), c.next_value(), c.next_value());
        assert_eq!((a, b, d), (100, 101, 102));
        c.acknowledge(b).unwrap();
        assert_eq!(c.last_value(), 99);
        c.acknowledge(a).unwrap();
        assert_eq!(c.last_value(), 101);
        c.acknowledge(d).unwrap();
        assert_eq!(c.last_value(), 102);
    }

    #[test]
    fn window_overflow_is_an_error() {
        let c = AcknowledgedCounter::new(0);
        c.acknowledge(1).unwrap();
        assert!(c.acknowledge(1 + WINDOW_SIZE as i64).is_err());
    }

    #[test]
    fn concurrent_acknowledgements_reach_the_end() {
        let c = std::sync::Arc::new(AcknowledgedCounter::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let k = c.next_value();
                        c.acknowledge(k).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(c.last_value(), 39_999);
    }
}
