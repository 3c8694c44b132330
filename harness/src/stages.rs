//! Where reads spend their time: every store read's stages (kvlab-store's `ReadStages`: at the
//! client, waiting for the ReadIndex round, waiting for apply, queued for a read pool thread,
//! in the engine) with the time on the wire as the residual of the read's measured service
//! latency — so a read's stages add up to its latency by construction. Every read answered
//! after the warm-up is recorded (no sampling), into one HdrHistogram per stage, and written
//! to `stages.csv` per run: count, mean, p50 and p99 per stage.

use std::time::Duration;

use hdrhistogram::Histogram;
use kvlab_store::ReadStages;

use crate::measure::new_histogram;

/// The stage names, in order (`wire` is the residual).
pub const STAGES: [&str; 6] = ReadStages::NAMES;

/// The columns of `stages.csv` after the run key.
pub const STAGE_COLUMNS: [&str; 7] =
    ["phase", "stage", "count", "mean_us", "p50_us", "p99_us", "share"];

/// One thread's, or a phase's, read stages.
#[derive(Clone, Debug)]
pub struct StageStats {
    /// One histogram of nanoseconds per stage, in [`STAGES`] order.
    pub hists: Vec<Histogram<u64>>,
}

impl Default for StageStats {
    fn default() -> Self {
        StageStats { hists: STAGES.iter().map(|_| new_histogram()).collect() }
    }
}

impl StageStats {
    /// Records one read of measured `latency` whose store stages were `stages`.
    pub fn record(&mut self, stages: &ReadStages, latency: Duration) {
        for (h, d) in self.hists.iter_mut().zip(stages.all(latency)) {
            h.saturating_record(d.as_nanos().min(u128::from(u64::MAX)) as u64);
        }
    }

    /// Adds `other`'s reads.
    pub fn merge(&mut self, other: &StageStats) {
        for (h, o) in self.hists.iter_mut().zip(&other.hists) {
            let _ = h.add(o);
        }
    }

    /// Reads recorded.
    pub fn count(&self) -> u64 {
        self.hists.first().map_or(0, Histogram::len)
    }

    /// Per stage: name, count, mean, p50 and p99 in µs, and the stage's share of the mean
    /// latency (the shares add up to 1). Empty when no read was recorded.
    pub fn rows(&self) -> Vec<(&'static str, u64, f64, f64, f64, f64)> {
        if self.count() == 0 {
            return Vec::new();
        }
        let total: f64 = self.hists.iter().map(Histogram::mean).sum();
        STAGES
            .iter()
            .zip(&self.hists)
            .map(|(name, h)| {
                let us = |ns: f64| ns / 1000.0;
                let share = if total > 0.0 { h.mean() / total } else { 0.0 };
                (
                    *name,
                    h.len(),
                    us(h.mean()),
                    us(h.value_at_quantile(0.5) as f64),
                    us(h.value_at_quantile(0.99) as f64),
                    share,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bookkeeping: scripted stages of two reads; the residual makes each add up to its
    /// latency, so the stage means add up to the mean latency.
    #[test]
    fn stages_add_up_to_the_latency() {
        let us = Duration::from_micros;
        let mut stats = StageStats::default();
        let follower = ReadStages {
            client: us(2),
            read_index: us(100),
            apply_wait: us(20),
            pool_queue: us(5),
            engine: us(10),
        };
        stats.record(&follower, us(150));
        let lease =
            ReadStages { client: us(1), pool_queue: us(3), engine: us(6), ..Default::default() };
        stats.record(&lease, us(50));
        let rows = stats.rows();
        let names: Vec<&str> = rows.iter().map(|r| r.0).collect();
        assert_eq!(names, STAGES);
        assert!(rows.iter().all(|r| r.1 == 2));
        // Means (µs): client 1.5, wire (13 + 40) / 2, read_index 50, apply 10, pool 4, engine 8.
        let mean = |name: &str| rows.iter().find(|r| r.0 == name).map(|r| r.2).unwrap_or(-1.0);
        let close = |a: f64, b: f64| (a - b).abs() < 0.5;
        assert!(close(mean("wire"), 26.5), "{rows:?}");
        assert!(close(mean("read_index"), 50.0));
        let sum: f64 = rows.iter().map(|r| r.2).sum();
        assert!(close(sum, 100.0), "stage means add up to the mean latency: {sum}");
        let shares: f64 = rows.iter().map(|r| r.5).sum();
        assert!(close(shares, 1.0));
        assert!(StageStats::default().rows().is_empty());
    }
}
