//! Where a read spends its time: consecutive stages of one read, each the time between two
//! timestamps on one clock, so that with the time on the wire as the residual they add up to
//! the read's latency by construction.
//!
//! A read's life, stamp by stamp: the client is called (`start`); it sends the attempt that
//! will answer (`sent`, after routing and any failed attempts with their backoff); the node
//! receives it (`arrived`); the read index is known (`indexed`: a ReadIndex round returned;
//! lease and stale reads served locally have none); the replica has applied it (`dispatched`:
//! the read is handed to the read pool); a pool thread starts reading the engine (`engine`);
//! the engine returns (`served`); the client has the answer. The stages are the gaps.

use std::time::{Duration, Instant};

/// The stages of one read (see the module docs). The time on the wire — request and reply
/// travel, emulated latency or RPC, and waiting to be collected — is what is left of the
/// measured latency: [`ReadStages::wire`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStages {
    /// At the client before the answering attempt went out: routing, and any failed attempts
    /// with their backoff.
    pub client: Duration,
    /// At the node from arrival until the read index was known: the Raft thread's inbox, the
    /// batch and the ReadIndex round (zero for reads served locally under a lease or stale).
    pub read_index: Duration,
    /// From the read index until the replica had applied it.
    pub apply_wait: Duration,
    /// Queued for a read pool thread, and its lease or staleness check.
    pub pool_queue: Duration,
    /// Reading the engine.
    pub engine: Duration,
}

impl ReadStages {
    /// The stage names, in order, the residual `wire` second.
    pub const NAMES: [&'static str; 6] =
        ["client", "wire", "read_index", "apply_wait", "pool_queue", "engine"];

    /// The time not spent in any other stage of a read whose latency was `latency`.
    pub fn wire(&self, latency: Duration) -> Duration {
        latency.saturating_sub(
            self.client + self.read_index + self.apply_wait + self.pool_queue + self.engine,
        )
    }

    /// Every stage of a read whose latency was `latency`, in [`Self::NAMES`] order; they add
    /// up to `latency` whenever the stages were measured inside it.
    pub fn all(&self, latency: Duration) -> [Duration; 6] {
        [
            self.client,
            self.wire(latency),
            self.read_index,
            self.apply_wait,
            self.pool_queue,
            self.engine,
        ]
    }
}

/// The node-side stamps of one read task (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadTiming {
    /// When the node received it.
    pub arrived: Option<Instant>,
    /// When its read index was known.
    pub indexed: Option<Instant>,
    /// When it was handed to the read pool, the read index applied.
    pub dispatched: Option<Instant>,
}

impl ReadTiming {
    /// The node's stages of a read whose engine read ran from `engine` to `served`: a stamp
    /// that is missing (no ReadIndex round, no dispatch) makes its stage zero and the next
    /// stage start where the last known stamp was.
    pub fn stages(&self, engine: Instant, served: Instant) -> ReadStages {
        let arrived = self.arrived.unwrap_or(engine);
        let indexed = self.indexed.unwrap_or(arrived).max(arrived);
        let dispatched = self.dispatched.unwrap_or(indexed).max(indexed);
        ReadStages {
            client: Duration::ZERO,
            read_index: indexed - arrived,
            apply_wait: dispatched - indexed,
            pool_queue: engine.saturating_duration_since(dispatched),
            engine: served.saturating_duration_since(engine),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_the_gaps_between_stamps_and_add_up() {
        let t0 = Instant::now();
        let at = |us: u64| t0 + Duration::from_micros(us);
        let us = Duration::from_micros;
        // A follower read: arrives at 10, index at 110, applied at 130, pool at 135, engine
        // until 145.
        let timing =
            ReadTiming { arrived: Some(at(10)), indexed: Some(at(110)), dispatched: Some(at(130)) };
        let mut s = timing.stages(at(135), at(145));
        assert_eq!(
            (s.read_index, s.apply_wait, s.pool_queue, s.engine),
            (us(100), us(20), us(5), us(10))
        );
        s.client = us(3);
        // Measured by the client from 0 to 160: the rest is the wire.
        let all = s.all(us(160));
        assert_eq!(all[1], us(22));
        assert_eq!(all.iter().sum::<Duration>(), us(160));
        // A local lease read: no index, no dispatch.
        let local = ReadTiming { arrived: Some(at(5)), ..ReadTiming::default() };
        let s = local.stages(at(7), at(9));
        assert_eq!(
            (s.read_index, s.apply_wait, s.pool_queue, s.engine),
            (us(0), us(0), us(2), us(2))
        );
        // Stages measured outside the latency (clock trouble) never make the wire negative.
        assert_eq!(s.wire(us(1)), Duration::ZERO);
    }
}
