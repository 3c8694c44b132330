//! kvlab's hot-set chooser: `k` hot keys receive a fraction `p` of the operations, and the hot
//! set may move (a flash crowd).
//!
//! The keys are keynums in `[start, start + count)`. In epoch `e` the hot set is the `k`
//! keynums `start + (offset_e + j) mod count`, `j < k`; the cold keys are all the others.
//! `offset_0` is `hotset.offset`; later offsets are drawn from the workload seed and the epoch
//! number, so every client thread agrees on where the hot set is in each epoch. With
//! `insertorder=hashed` the hot keynums map to keys scattered over the key space (and so over
//! regions); with `insertorder=ordered` they are adjacent keys.
//!
//! Within the hot set keys are chosen uniformly or by a zipfian over the `k` hot keys (the
//! hottest key first); cold keys are uniform.

use crate::generator::zipfian::Zipfian;
use crate::rng::{splitmix64, Rng};

/// How keys are chosen inside the hot set.
#[derive(Clone, Debug)]
pub enum HotDistribution {
    /// Every hot key equally often.
    Uniform,
    /// Hot key `j` with probability ∝ 1/(j+1)^θ (YCSB's zipfian over `k` items).
    Zipfian(Zipfian),
}

/// The hot-set chooser (per thread; cheap to clone).
#[derive(Clone, Debug)]
pub struct HotSet {
    /// The first keynum of the key range.
    start: i64,
    /// The number of keys in the range.
    count: i64,
    /// The number of hot keys `k` (1 ≤ k ≤ count).
    hot_keys: i64,
    /// The fraction of draws that go to the hot set.
    hot_fraction: f64,
    /// The seed from which epoch offsets are drawn.
    seed: u64,
    /// The offset of the hot set in epoch 0.
    first_offset: i64,
    /// The current epoch.
    epoch: u64,
    /// The hot set's offset in the current epoch.
    offset: i64,
    /// The choice inside the hot set.
    dist: HotDistribution,
}

impl HotSet {
    /// A hot set of `hot_keys` keys over `[start, start + count)`, first at `first_offset`.
    /// Callers validate: `1 ≤ hot_keys ≤ count`, `hot_fraction` in `[0, 1]`, and
    /// `hot_fraction = 1` when `hot_keys = count`.
    pub fn new(
        start: i64,
        count: i64,
        hot_keys: i64,
        hot_fraction: f64,
        first_offset: i64,
        seed: u64,
        dist: HotDistribution,
    ) -> HotSet {
        let first_offset = first_offset.rem_euclid(count.max(1));
        HotSet {
            start,
            count,
            hot_keys,
            hot_fraction,
            seed,
            first_offset,
            epoch: 0,
            offset: first_offset,
            dist,
        }
    }

    /// The offset of the hot set in `epoch`.
    pub fn offset_of(&self, epoch: u64) -> i64 {
        if epoch == 0 {
            self.first_offset
        } else {
            let mut s = self.seed ^ epoch.wrapping_mul(0xA076_1D64_78BD_642F);
            (splitmix64(&mut s) % self.count as u64) as i64
        }
    }

    /// Moves the hot set to `epoch` (no-op if it is there already).
    #[inline]
    pub fn set_epoch(&mut self, epoch: u64) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.offset = self.offset_of(epoch);
        }
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The keynum of hot key `j` (0 = hottest for a zipfian hot set) in the current epoch.
    #[inline]
    pub fn hot_keynum(&self, j: i64) -> i64 {
        self.start + (self.offset + j) % self.count
    }

    /// The next keynum.
    #[inline]
    pub fn next_value(&mut self, rng: &mut Rng) -> i64 {
        if rng.next_f64() < self.hot_fraction {
            let j = match &mut self.dist {
                HotDistribution::Uniform => rng.below(self.hot_keys as u64) as i64,
                HotDistribution::Zipfian(z) => z.next_value(rng),
            };
            self.hot_keynum(j)
        } else {
            let r = rng.below((self.count - self.hot_keys) as u64) as i64;
            self.start + (self.offset + self.hot_keys + r) % self.count
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_set_moves_with_the_epoch_and_wraps() {
        let mut h = HotSet::new(100, 50, 5, 1.0, 48, 9, HotDistribution::Uniform);
        let hot: Vec<i64> = (0..5).map(|j| h.hot_keynum(j)).collect();
        assert_eq!(hot, vec![148, 149, 100, 101, 102]);
        let mut rng = Rng::new(1, 0);
        for _ in 0..1000 {
            assert!(hot.contains(&h.next_value(&mut rng)));
        }
        h.set_epoch(1);
        let moved = h.offset_of(1);
        assert_eq!(h.hot_keynum(0), 100 + moved);
        // Every thread computes the same offsets.
        let other = HotSet::new(100, 50, 5, 1.0, 48, 9, HotDistribution::Uniform);
        assert_eq!(other.offset_of(7), h.offset_of(7));
    }

    #[test]
    fn cold_draws_avoid_the_hot_set() {
        let mut h = HotSet::new(0, 20, 4, 0.0, 3, 1, HotDistribution::Uniform);
        let mut rng = Rng::new(2, 0);
        let mut seen = [false; 20];
        for _ in 0..10_000 {
            let k = h.next_value(&mut rng);
            assert!(!(3..7).contains(&k), "{k}");
            seen[k as usize] = true;
        }
        assert_eq!(seen.iter().filter(|s| **s).count(), 16);
    }
}
