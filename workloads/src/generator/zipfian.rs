//! YCSB's zipfian generators: `ZipfianGenerator` and `ScrambledZipfianGenerator`.
//!
//! The algorithm is Gray et al., "Quickly Generating Billion-Record Synthetic Databases"
//! (SIGMOD'94), exactly as YCSB implements it, quirks included:
//! - item 0 is drawn when `u·zetan < 1`, item 1 when `u·zetan < 1 + 0.5^θ`, otherwise
//!   `base + (long)(itemcount · (η·u − η + 1)^α)`;
//! - when asked for more items than `zetan` was computed for (the `latest` distribution grows
//!   with inserts), `zetan` is extended incrementally from the old count, and `η` is recomputed
//!   with the item count given at construction (YCSB's `items`), not the new one;
//! - a smaller item count never recomputes anything;
//! - the scrambled generator draws over `ITEM_COUNT + 1` items (YCSB builds it over
//!   `[0, ITEM_COUNT]`) with the precomputed [`ZETAN`] when θ = 0.99, and maps an item `z` to
//!   `min + fnvhash64(z) % itemcount` (Java's remainder).
//!
//! Speed: when α = 1/(1 − θ) is within 1e-9 of an integer (θ = 0.99 gives
//! α = 100.00000000000009, θ = 0.5 gives 2, θ = 1.2 gives −5), `(ηu − η + 1)^α` is computed with `powi`
//! (repeated squaring, about twice as fast as `powf` here) instead of `powf`. The results
//! differ by ~1e-13 relative, which moves `(long)(n·x)` only when `n·x` lies that close to an
//! integer: rarely, and only for items beyond ~1e8 whose neighbours are equally likely to 8
//! digits. Java's `Math.pow` and glibc's `pow` differ in the last bits too, so bit-identical
//! draws were never possible (YCSB's draws come from an unseeded `ThreadLocalRandom`); the
//! distributions are what the tests compare, against YCSB's own counts.
//!
//! Beyond YCSB, θ is configurable (`zipfian.constant`). For θ ≠ 0.99 the scrambled generator
//! needs ζ(10¹⁰ + 1, θ); summing 10¹⁰ terms is too slow, so [`zeta`] switches to the
//! Euler–Maclaurin formula above 2²⁰ items (relative error below 1e-13).

use crate::fnvhash64;
use crate::rng::Rng;

/// YCSB's default zipfian constant θ.
pub const ZIPFIAN_CONSTANT: f64 = 0.99;
/// The number of items YCSB's scrambled zipfian draws from (the range is `[0, ITEM_COUNT]`).
pub const ITEM_COUNT: i64 = 10_000_000_000;
/// YCSB's precomputed ζ(ITEM_COUNT, 0.99), used verbatim when θ = 0.99.
pub const ZETAN: f64 = 26.469_028_201_783_02;

/// Above this many items, [`zeta`] uses the Euler–Maclaurin formula instead of summing.
const EXACT_ZETA_LIMIT: u64 = 1 << 20;

/// ζ(n, θ) = Σ_{i=1..n} 1/i^θ: summed term by term up to 2²⁰ items (as YCSB does), by the
/// Euler–Maclaurin formula above.
pub fn zeta(n: u64, theta: f64) -> f64 {
    if n <= EXACT_ZETA_LIMIT {
        zeta_range(0, n, theta, 0.0)
    } else {
        zeta_euler_maclaurin(n, theta)
    }
}

/// YCSB's incremental `zetastatic(st, n, θ, initialsum)`: `initialsum + Σ_{i=st+1..n} 1/i^θ`.
pub fn zeta_range(st: u64, n: u64, theta: f64, initialsum: f64) -> f64 {
    let mut sum = initialsum;
    for i in st..n {
        sum += 1.0 / ((i + 1) as f64).powf(theta);
    }
    sum
}

/// ζ(n, θ) by Euler–Maclaurin: the first 999 terms summed, the rest as the integral plus
/// end corrections with Bernoulli terms up to B₆.
fn zeta_euler_maclaurin(n: u64, theta: f64) -> f64 {
    const M: u64 = 1000;
    let head = zeta_range(0, M - 1, theta, 0.0);
    let (m, nf) = (M as f64, n as f64);
    let f = |x: f64| x.powf(-theta);
    let integral = if (theta - 1.0).abs() < 1e-12 {
        (nf / m).ln()
    } else {
        (nf.powf(1.0 - theta) - m.powf(1.0 - theta)) / (1.0 - theta)
    };
    // Odd derivatives of x^-θ: f' = -θ x^(-θ-1), f''' = -θ(θ+1)(θ+2) x^(-θ-3), f⁽⁵⁾ likewise.
    let d1 = |x: f64| -theta * x.powf(-theta - 1.0);
    let d3 = |x: f64| -theta * (theta + 1.0) * (theta + 2.0) * x.powf(-theta - 3.0);
    let d5 = |x: f64| {
        -theta
            * (theta + 1.0)
            * (theta + 2.0)
            * (theta + 3.0)
            * (theta + 4.0)
            * x.powf(-theta - 5.0)
    };
    head + integral + (f(m) + f(nf)) / 2.0 + (d1(nf) - d1(m)) / 12.0 - (d3(nf) - d3(m)) / 720.0
        + (d5(nf) - d5(m)) / 30240.0
}

/// YCSB's `ZipfianGenerator`: item `base + i` with probability ∝ 1/(i+1)^θ, by Gray's method.
///
/// One value per client thread (cloned from a prototype so ζ is computed once); the state
/// that changes is the incremental ζ of the `latest` distribution.
#[derive(Clone, Debug)]
pub struct Zipfian {
    /// The item count given at construction (YCSB's `items`; used in η forever after).
    items: u64,
    /// The smallest value returned.
    base: i64,
    /// θ, the zipfian constant.
    theta: f64,
    /// ζ(2, θ).
    zeta2theta: f64,
    /// 1 / (1 − θ).
    alpha: f64,
    /// ζ(countforzeta, θ).
    zetan: f64,
    /// Gray's η for the current `zetan`.
    eta: f64,
    /// The item count `zetan` was computed for.
    countforzeta: u64,
    /// 1 + 0.5^θ: below it (times 1/zetan) item 1 is drawn.
    one_plus_half_pow_theta: f64,
    /// α rounded, when α is within 1e-9 of a non-zero integer in −1024..=1024 (θ = 0.99
    /// gives α = 100.00000000000009, θ = 1.2 gives −5): `powi` replaces `powf` (module docs).
    alpha_int: Option<i32>,
}

impl Zipfian {
    /// Values in `[min, max]` with constant θ, computing ζ(max − min + 1, θ).
    pub fn new(min: i64, max: i64, theta: f64) -> Zipfian {
        let items = (max - min + 1).max(0) as u64;
        Zipfian::with_zetan(min, max, theta, zeta(items, theta))
    }

    /// Values in `[min, max]` with a precomputed ζ (YCSB's four-argument constructor).
    pub fn with_zetan(min: i64, max: i64, theta: f64, zetan: f64) -> Zipfian {
        let items = (max - min + 1).max(0) as u64;
        let zeta2theta = zeta(2, theta);
        let mut z = Zipfian {
            items,
            base: min,
            theta,
            zeta2theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta: 0.0,
            countforzeta: items,
            one_plus_half_pow_theta: 1.0 + 0.5f64.powf(theta),
            alpha_int: None,
        };
        let alpha = z.alpha.round();
        if (z.alpha - alpha).abs() < 1e-9 && alpha != 0.0 && alpha.abs() <= 1024.0 {
            z.alpha_int = Some(alpha as i32);
        }
        z.eta = z.eta_for(zetan);
        z
    }

    /// Gray's η for `zetan`, using the construction-time item count as YCSB does.
    fn eta_for(&self, zetan: f64) -> f64 {
        (1.0 - (2.0 / self.items as f64).powf(1.0 - self.theta)) / (1.0 - self.zeta2theta / zetan)
    }

    /// The number of items at construction.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// ζ for the current item count.
    pub fn zetan(&self) -> f64 {
        self.zetan
    }

    /// θ.
    pub fn theta(&self) -> f64 {
        self.theta
    }

    /// A value over the construction-time item count (YCSB's `nextValue`).
    #[inline]
    pub fn next_value(&mut self, rng: &mut Rng) -> i64 {
        self.next_long(self.items, rng)
    }

    /// A value over `itemcount` items (YCSB's `nextLong`): extends ζ incrementally when
    /// `itemcount` grew.
    #[inline]
    pub fn next_long(&mut self, itemcount: u64, rng: &mut Rng) -> i64 {
        if itemcount > self.countforzeta {
            self.grow(itemcount);
        }
        let u = rng.next_f64();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return self.base;
        }
        if uz < self.one_plus_half_pow_theta {
            return self.base + 1;
        }
        let b = self.eta * u - self.eta + 1.0;
        let scaled = match self.alpha_int {
            Some(a) => b.powi(a),
            None => b.powf(self.alpha),
        };
        self.base + (itemcount as f64 * scaled) as i64
    }

    /// Extends ζ from `countforzeta` to `itemcount` items.
    #[cold]
    fn grow(&mut self, itemcount: u64) {
        self.zetan = zeta_range(self.countforzeta, itemcount, self.theta, self.zetan);
        self.countforzeta = itemcount;
        self.eta = self.eta_for(self.zetan);
    }

    /// The probability that [`Zipfian::next_long`] returns `base + i` for `itemcount` items,
    /// computed from the algorithm (not from the Zipf law it approximates): the measure of
    /// the `u` in `[0, 1)` that map to `i`.
    pub fn probability(&self, i: u64, itemcount: u64) -> f64 {
        let z = self.zetan;
        let first = 1.0 / z;
        let second = self.one_plus_half_pow_theta / z;
        match i {
            0 => first.min(1.0),
            1 => (second.min(1.0) - first).max(0.0),
            _ => {
                // Value v ≥ 2 comes from u with n(ηu − η + 1)^α ∈ [v, v + 1): solve for u.
                let n = itemcount as f64;
                let u_of = |x: f64| 1.0 + ((x / n).powf(1.0 - self.theta) - 1.0) / self.eta;
                let (a, b) = (u_of(i as f64), u_of(i as f64 + 1.0));
                let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                (hi.min(1.0) - lo.max(second)).max(0.0)
            }
        }
    }
}

/// YCSB's `ScrambledZipfianGenerator`: zipfian popularity, hot items scattered over
/// `[min, max]` by FNV hashing.
#[derive(Clone, Debug)]
pub struct ScrambledZipfian {
    /// The zipfian over `[0, ITEM_COUNT]`.
    gen: Zipfian,
    /// The smallest value returned.
    min: i64,
    /// `max − min + 1`.
    itemcount: i64,
}

impl ScrambledZipfian {
    /// Values in `[min, max]` with constant θ; uses YCSB's precomputed ζ when θ = 0.99.
    pub fn new(min: i64, max: i64, theta: f64) -> ScrambledZipfian {
        let gen = if theta == ZIPFIAN_CONSTANT {
            Zipfian::with_zetan(0, ITEM_COUNT, theta, ZETAN)
        } else {
            Zipfian::new(0, ITEM_COUNT, theta)
        };
        ScrambledZipfian { gen, min, itemcount: max - min + 1 }
    }

    /// The next value.
    #[inline]
    pub fn next_value(&mut self, rng: &mut Rng) -> i64 {
        self.min + fnvhash64(self.gen.next_value(rng)) % self.itemcount
    }

    /// The underlying zipfian over `[0, ITEM_COUNT]`.
    pub fn zipfian(&self) -> &Zipfian {
        &self.gen
    }

    /// The number of values `[min, max]` holds.
    pub fn itemcount(&self) -> i64 {
        self.itemcount
    }

    /// The value the zipfian item `z` maps to.
    pub fn scramble(&self, z: i64) -> i64 {
        self.min + fnvhash64(z) % self.itemcount
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euler_maclaurin_matches_the_sum() {
        for theta in [0.5, 0.99, 1.2] {
            for n in [2_000u64, 50_000, 3_000_000] {
                let exact = zeta_range(0, n, theta, 0.0);
                let em = zeta_euler_maclaurin(n, theta);
                assert!(((exact - em) / exact).abs() < 1e-12, "θ={theta} n={n}: {exact} vs {em}");
            }
        }
    }

    #[test]
    fn ycsb_zetan_constant() {
        // YCSB's ZETAN is ζ(10^10, 0.99) summed in doubles.
        let z = zeta(ITEM_COUNT as u64, 0.99);
        assert!(((z - ZETAN) / ZETAN).abs() < 1e-9, "{z}");
    }

    #[test]
    fn probabilities_sum_to_one() {
        for theta in [0.5, 0.99, 1.3] {
            let z = Zipfian::new(0, 99, theta);
            let total: f64 = (0..100).map(|i| z.probability(i, 100)).sum();
            assert!((total - 1.0).abs() < 1e-9, "θ={theta}: {total}");
        }
    }

    #[test]
    fn incremental_growth_matches_fresh_zeta() {
        let mut rng = Rng::new(1, 0);
        let mut z = Zipfian::new(0, 999, 0.99);
        z.next_long(1500, &mut rng);
        assert!((z.zetan() - zeta(1500, 0.99)).abs() < 1e-9);
        // A smaller count changes nothing (YCSB's allowitemcountdecrease = false).
        z.next_long(100, &mut rng);
        assert!((z.zetan() - zeta(1500, 0.99)).abs() < 1e-9);
    }
}
