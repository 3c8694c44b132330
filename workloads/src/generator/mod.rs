//! Number generators: YCSB's (uniform, zipfian, scrambled zipfian, skewed latest, hotspot,
//! exponential, sequential, histogram, acknowledged counter) and kvlab's hot-key choosers.
//!
//! Generators hold only per-thread state and take the thread's [`Rng`] as an argument; state
//! that YCSB shares between threads (the insert counter, the sequential counter) lives in the
//! workload behind atomics.

pub mod counter;
pub mod hotset;
pub mod zipfian;

use std::path::Path;

use crate::error::{Error, Result};
use crate::rng::Rng;

/// YCSB's `UniformLongGenerator`: `Math.abs(nextLong()) % interval + lb`.
#[derive(Clone, Copy, Debug)]
pub struct UniformLong {
    /// The smallest value.
    lb: i64,
    /// `ub − lb + 1`, positive.
    interval: i64,
}

impl UniformLong {
    /// Values in `[lb, ub]`; `ub ≥ lb`.
    pub fn new(lb: i64, ub: i64) -> UniformLong {
        UniformLong { lb, interval: (ub - lb + 1).max(1) }
    }

    /// The next value.
    #[inline]
    pub fn next_value(&self, rng: &mut Rng) -> i64 {
        rng.next_abs_i64() % self.interval + self.lb
    }
}

/// YCSB's `HotspotIntegerGenerator`: the lowest `hotsetfraction` of `[lb, ub]` receives
/// `hotopnfraction` of the draws, uniformly; the rest is uniform over the cold part.
#[derive(Clone, Copy, Debug)]
pub struct Hotspot {
    /// The smallest value.
    lb: i64,
    /// Size of the hot interval, `(int)(interval · hotsetfraction)`.
    hot: i64,
    /// Size of the cold interval.
    cold: i64,
    /// Probability of drawing from the hot interval.
    hot_op_fraction: f64,
}

impl Hotspot {
    /// Values in `[lb, ub]` (YCSB's constructor; the fractions must be in `[0, 1]`).
    ///
    /// # Errors
    /// [`Error::Inconsistent`] when the hot or the cold interval is empty but would be drawn
    /// from (YCSB would divide by zero).
    pub fn new(lb: i64, ub: i64, hot_set_fraction: f64, hot_op_fraction: f64) -> Result<Hotspot> {
        let interval = ub - lb + 1;
        let hot = (interval as f64 * hot_set_fraction) as i32 as i64;
        let cold = interval - hot;
        if (hot <= 0 && hot_op_fraction > 0.0) || (cold <= 0 && hot_op_fraction < 1.0) {
            return Err(Error::Inconsistent(format!(
                "hotspot over {interval} keys: hotspotdatafraction={hot_set_fraction} gives \
                 {hot} hot and {cold} cold keys, but hotspotopnfraction={hot_op_fraction} \
                 draws from an empty part"
            )));
        }
        Ok(Hotspot { lb, hot, cold, hot_op_fraction })
    }

    /// The next value.
    #[inline]
    pub fn next_value(&self, rng: &mut Rng) -> i64 {
        if rng.next_f64() < self.hot_op_fraction {
            self.lb + rng.next_abs_i64() % self.hot
        } else {
            self.lb + self.hot + rng.next_abs_i64() % self.cold
        }
    }
}

/// YCSB's `ExponentialGenerator(percentile, range)`: `−ln(U)/γ` with
/// `γ = −ln(1 − percentile/100) / range`, so `percentile` % of draws fall below `range`.
#[derive(Clone, Copy, Debug)]
pub struct Exponential {
    /// The rate γ.
    gamma: f64,
}

impl Exponential {
    /// The generator for `percentile` (in `(0, 100)`) and `range` (positive).
    pub fn new(percentile: f64, range: f64) -> Exponential {
        Exponential { gamma: -(1.0 - percentile / 100.0).ln() / range }
    }

    /// The next value (a double, as in YCSB).
    #[inline]
    pub fn next_value(&self, rng: &mut Rng) -> f64 {
        -rng.next_f64().ln() / self.gamma
    }

    /// γ.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

/// YCSB's `HistogramGenerator` for field lengths: a file whose first line is
/// `BlockSize<TAB>b` and whose next lines are `i<TAB>count` for buckets `i = 0, 1, 2…`.
///
/// Drawing reproduces YCSB's arithmetic, off-by-one included: `n = U[0, area)`, subtract bucket
/// counts in order and return `(i + 1)·b` at the first bucket where `n ≤ 0`, or `i·b` for the
/// last bucket.
#[derive(Clone, Debug)]
pub struct Histogram {
    /// The block size `b`.
    block_size: i64,
    /// Counts per bucket.
    buckets: Vec<i64>,
    /// The sum of the counts.
    area: i64,
}

impl Histogram {
    /// A histogram from bucket counts.
    ///
    /// # Errors
    /// [`Error::Inconsistent`] when there are no buckets or all counts are zero.
    pub fn new(block_size: i64, buckets: Vec<i64>) -> Result<Histogram> {
        let area: i64 = buckets.iter().sum();
        if buckets.is_empty() || area <= 0 {
            return Err(Error::Inconsistent("field length histogram has no counts".into()));
        }
        Ok(Histogram { block_size, buckets, area })
    }

    /// Reads a histogram file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Syntax`] naming the file and line
    /// for a malformed line or a bucket out of order.
    pub fn load(path: &Path) -> Result<Histogram> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            what: "field length histogram file",
            path: path.to_path_buf(),
            source,
        })?;
        let syntax = |line: usize, message: String| Error::Syntax {
            location: format!("{}:{}", path.display(), line),
            message,
        };
        let mut lines = text.lines().enumerate();
        let block_size = match lines.next().map(|(_, l)| l.split('\t').collect::<Vec<_>>()) {
            Some(f) if f.len() >= 2 && f[0] == "BlockSize" => f[1]
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(|| syntax(1, format!("bad block size `{}`", f[1])))?,
            _ => return Err(syntax(1, "expected `BlockSize<TAB>n` on the first line".into())),
        };
        let mut buckets = Vec::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let parsed =
                (f.len() >= 2).then(|| (f[0].trim().parse::<usize>(), f[1].trim().parse::<i64>()));
            match parsed {
                Some((Ok(b), Ok(c))) if b == buckets.len() && c >= 0 => buckets.push(c),
                _ => {
                    return Err(syntax(
                        i + 1,
                        format!(
                            "expected `{}<TAB>count` (buckets in order, counts ≥ 0), got `{line}`",
                            buckets.len()
                        ),
                    ))
                }
            }
        }
        Histogram::new(block_size, buckets)
    }

    /// The next value.
    #[inline]
    pub fn next_value(&self, rng: &mut Rng) -> i64 {
        let mut number = rng.below(self.area as u64) as i64;
        let last = self.buckets.len() - 1;
        for (i, count) in self.buckets.iter().take(last).enumerate() {
            number -= count;
            if number <= 0 {
                return (i as i64 + 1) * self.block_size;
            }
        }
        last as i64 * self.block_size
    }

    /// The largest value it can return.
    pub fn max_value(&self) -> i64 {
        self.buckets.len() as i64 * self.block_size
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn histogram_file_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("h");
        std::fs::write(&good, "BlockSize\t10\n0\t0\n1\t5\n2\t5\n").unwrap();
        let h = Histogram::load(&good).unwrap();
        let mut rng = Rng::new(3, 0);
        for _ in 0..1000 {
            let v = h.next_value(&mut rng);
            assert!([10, 20].contains(&v), "{v}");
        }
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "BlockSize\t10\n0\t1\n2\t5\n").unwrap();
        let err = Histogram::load(&bad).unwrap_err().to_string();
        assert!(err.contains("bad:3") && err.contains("`1<TAB>count`"), "{err}");
        assert!(Histogram::load(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn hotspot_rejects_empty_parts() {
        assert!(Hotspot::new(0, 9, 0.0, 0.5).is_err());
        assert!(Hotspot::new(0, 9, 1.0, 0.5).is_err());
        assert!(Hotspot::new(0, 9, 0.2, 0.8).is_ok());
    }
}
