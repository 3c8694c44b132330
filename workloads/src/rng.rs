//! The seeded random number generator behind every choice a workload makes.
//!
//! xoshiro256++ (Blackman and Vigna), seeded through SplitMix64: a few nanoseconds per draw,
//! 256 bits of state, and independent streams for each `(seed, stream)` pair. YCSB draws from
//! `ThreadLocalRandom`, which cannot be seeded; kvlab's streams are reproducible instead.

/// One SplitMix64 step: advances `state` and returns a well-mixed 64-bit value.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A xoshiro256++ pseudo-random generator.
#[derive(Clone, Debug)]
pub struct Rng {
    /// The generator state; never all zero.
    s: [u64; 4],
}

impl Rng {
    /// A generator for stream `stream` of `seed` (for example a client thread's id). Distinct
    /// pairs give statistically independent streams.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut sm = seed;
        let mixed_seed = splitmix64(&mut sm);
        let mut sm = mixed_seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut s = [0u64; 4];
        for v in &mut s {
            *v = splitmix64(&mut sm);
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform double in `[0, 1)` with 53 random bits (like Java's `nextDouble`).
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A Java-style `Math.abs(nextLong())`: a non-negative `i64` (`i64::MIN` stays negative,
    /// as in Java, with probability 2^-64).
    #[inline]
    pub fn next_abs_i64(&mut self) -> i64 {
        (self.next_u64() as i64).wrapping_abs()
    }

    /// A uniform integer in `[0, n)` (Lemire's multiply-shift; `n` must be positive).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7, 0);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7, 0);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn doubles_are_in_unit_interval() {
        let mut r = Rng::new(1, 1);
        let mut sum = 0.0;
        for _ in 0..100_000 {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
            sum += x;
        }
        assert!((sum / 100_000.0 - 0.5).abs() < 0.01);
    }
}
