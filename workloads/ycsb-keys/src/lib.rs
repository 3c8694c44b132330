//! Key names, exactly as YCSB's `CoreWorkload.buildKeyName` makes them, and YCSB's FNV hash.
//!
//! A keynum is hashed with FNV-1a 64 unless `insertorder=ordered`; the key is `user`, then
//! zeros up to `zeropadding` digits, then the (possibly hashed) number in decimal. YCSB's hash
//! returns Java's `Math.abs` of the signed 64-bit hash, so the number is never negative except
//! for `i64::MIN`, which Java leaves negative and prints with its minus sign; kvlab does the same.
//!
//! This is kvlab's one implementation of them, in a crate of its own so that both users depend
//! on it and neither on the other: the workload generators (`kvlab-workloads`, which re-exports
//! it) make their keys with it, and the store (`kvlab-store`) samples YCSB's key space with it
//! to place its default region splits, knowing nothing else of workloads.
//!
//! ```
//! // YCSB's first key with the default `insertorder=hashed` and `zeropadding=1`.
//! assert_eq!(kvlab_ycsb_keys::key_name(0, 1, false), "user6284781860667377211");
//! assert_eq!(kvlab_ycsb_keys::key_name(7, 1, true), "user7");
//! ```

/// FNV-1a 64 offset basis.
const FNV_OFFSET_BASIS_64: u64 = 0xCBF2_9CE4_8422_2325;
/// FNV-1a 64 prime.
const FNV_PRIME_64: u64 = 1_099_511_628_211;

/// The prefix of every key, as in YCSB.
pub const KEY_PREFIX: &str = "user";

/// FNV_PRIME_64⁴ (wrapping): four rounds over zero bytes, which leave the xor step a no-op.
const FNV_PRIME_64_POW4: u64 =
    FNV_PRIME_64.wrapping_mul(FNV_PRIME_64).wrapping_mul(FNV_PRIME_64).wrapping_mul(FNV_PRIME_64);

/// YCSB's `Utils.fnvhash64`: FNV-1a 64 over the 8 bytes of `val`, low byte first, returned as
/// Java's `Math.abs` of the signed result.
///
/// When the four high bytes are zero (every keynum below 2³²) their four rounds are one
/// multiplication by the prime's fourth power: the same result, with a shorter dependency chain.
#[inline]
pub fn fnvhash64(val: i64) -> i64 {
    let v = val as u64;
    let h = if v >> 32 == 0 {
        fnv_rounds::<4>(FNV_OFFSET_BASIS_64, v).wrapping_mul(FNV_PRIME_64_POW4)
    } else {
        fnv_rounds::<8>(FNV_OFFSET_BASIS_64, v)
    };
    (h as i64).wrapping_abs()
}

/// `N` FNV-1a rounds over the low `N` bytes of `v`, low byte first.
#[inline(always)]
fn fnv_rounds<const N: usize>(mut h: u64, mut v: u64) -> u64 {
    for _ in 0..N {
        h ^= v & 0xff;
        v >>= 8;
        h = h.wrapping_mul(FNV_PRIME_64);
    }
    h
}

/// The number printed in the key for `keynum`: its hash, or itself for ordered inserts.
#[inline]
pub fn key_number(keynum: i64, ordered: bool) -> i64 {
    if ordered {
        keynum
    } else {
        fnvhash64(keynum)
    }
}

/// Writes YCSB's key for `keynum` into `out` (cleared first): no allocation once `out` has
/// grown to the key length.
#[inline]
pub fn write_key(out: &mut Vec<u8>, keynum: i64, zeropadding: usize, ordered: bool) {
    out.clear();
    out.extend_from_slice(KEY_PREFIX.as_bytes());
    let n = key_number(keynum, ordered);
    let mut digits = [0u8; 20];
    let pos = format_decimal(n.unsigned_abs(), &mut digits);
    // Java pads to `zeropadding` characters including the minus sign.
    let len = digits.len() - pos + usize::from(n < 0);
    for _ in len..zeropadding {
        out.push(b'0');
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[pos..]);
}

/// "00" … "99": two decimal digits per lookup.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `m` in decimal at the end of `buf`; returns where the digits start.
///
/// Numbers of more than eight digits are split into eight-digit chunks first, so the
/// divisions of the chunks are independent instead of one long chain.
#[inline]
fn format_decimal(m: u64, buf: &mut [u8; 20]) -> usize {
    const E8: u64 = 100_000_000;
    if m < E8 {
        return format_small(m as u32, buf, 20);
    }
    let lo = (m % E8) as u32;
    let rest = m / E8;
    write_eight(lo, buf, 12);
    if rest < E8 {
        return format_small(rest as u32, buf, 12);
    }
    write_eight((rest % E8) as u32, buf, 4);
    format_small((rest / E8) as u32, buf, 4)
}

/// Writes exactly eight digits of `x` (< 10⁸, zero-padded) at `buf[at..at + 8]`.
#[inline(always)]
fn write_eight(x: u32, buf: &mut [u8; 20], at: usize) {
    let (hi, lo) = ((x / 10_000) as usize, (x % 10_000) as usize);
    write_pair(buf, at, hi / 100);
    write_pair(buf, at + 2, hi % 100);
    write_pair(buf, at + 4, lo / 100);
    write_pair(buf, at + 6, lo % 100);
}

/// Writes the two digits of `v` (< 100) at `buf[at..at + 2]`.
#[inline(always)]
fn write_pair(buf: &mut [u8; 20], at: usize, v: usize) {
    buf[at..at + 2].copy_from_slice(&DIGIT_PAIRS[2 * v..2 * v + 2]);
}

/// Writes `x` (< 10⁸) without leading zeros so that it ends at `buf[end]`; returns its start.
#[inline(always)]
fn format_small(mut x: u32, buf: &mut [u8; 20], end: usize) -> usize {
    let mut pos = end;
    while x >= 100 {
        pos -= 2;
        write_pair(buf, pos, (x % 100) as usize);
        x /= 100;
    }
    if x >= 10 {
        pos -= 2;
        write_pair(buf, pos, x as usize);
    } else {
        pos -= 1;
        buf[pos] = b'0' + x as u8;
    }
    pos
}

/// YCSB's key for `keynum` as a `String` (convenient outside the hot path).
pub fn key_name(keynum: i64, zeropadding: usize, ordered: bool) -> String {
    let mut out = Vec::with_capacity(24);
    write_key(&mut out, keynum, zeropadding, ordered);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a over 8 little-endian bytes, written independently of `fnvhash64`.
    fn reference_fnv(val: i64) -> i64 {
        let mut h: u64 = 14_695_981_039_346_656_037;
        for b in val.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        let signed = h as i64;
        if signed < 0 {
            signed.wrapping_neg()
        } else {
            signed
        }
    }

    #[test]
    fn fnv_of_small_values() {
        // Worked by hand from the algorithm: for 0, eight rounds of `h *= prime` on
        // the offset basis (xor with 0 changes nothing); the product's top bit is set, so
        // Math.abs negates it.
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        for _ in 0..8 {
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        assert_eq!(h, 0xA8C7_F832_281A_39C5);
        assert_eq!(fnvhash64(0), -(0xA8C7_F832_281A_39C5u64 as i64));
        assert_eq!(fnvhash64(0), 6_284_781_860_667_377_211);
        let mut x = 1u64;
        let spread = (0..2000).map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> (x % 64)) as i64
        });
        let fixed = [0i64, 1, 2, 3, 255, 256, 1000, -1, i64::MAX, i64::MIN, 123_456_789];
        let edges = [(1i64 << 32) - 1, 1 << 32, (1 << 32) + 1, u32::MAX as i64];
        for v in fixed.into_iter().chain(edges).chain(spread) {
            assert_eq!(fnvhash64(v), reference_fnv(v), "value {v}");
            assert!(fnvhash64(v) >= 0 || v == i64::MIN || fnvhash64(v) == i64::MIN);
        }
    }

    /// YCSB's own values: `Utils.fnvhash64` and `CoreWorkload.buildKeyName(keynum, 1, false)`
    /// (`insertorder=hashed`, the default), computed by the bodies of those two methods
    /// (brianfrankcooper/YCSB, `core/src/main/java/site/ycsb/Utils.java` and
    /// `core/src/main/java/site/ycsb/workloads/CoreWorkload.java`) run under `java`, and again by
    /// a separate Python model of Java's 64-bit arithmetic; both agree. Keynums 0–3 are also the
    /// `fnv` line of `workloads/tests/data/ycsb-java-counts.txt`, printed by YCSB's classes
    /// themselves.
    const YCSB_REFERENCE: [(i64, i64, &str); 11] = [
        (0, 6_284_781_860_667_377_211, "user6284781860667377211"),
        (1, 8_517_097_267_634_966_620, "user8517097267634966620"),
        (2, 1_820_151_046_732_198_393, "user1820151046732198393"),
        (3, 4_052_466_453_699_787_802, "user4052466453699787802"),
        (1000, 5_952_875_239_596_136_740, "user5952875239596136740"),
        (999_999, 2_744_965_632_448_235_251, "user2744965632448235251"),
        (123_456_789, 2_350_796_791_908_741_607, "user2350796791908741607"),
        // The first keynum whose high four bytes are not all zero (the long path); 18 digits.
        (1 << 32, 634_246_865_027_890_484, "user634246865027890484"),
        (-1, 8_289_690_350_564_177_859, "user8289690350564177859"),
        (i64::MAX, 8_289_549_613_075_766_851, "user8289549613075766851"),
        (i64::MIN, 6_284_922_598_155_788_219, "user6284922598155788219"),
    ];

    #[test]
    fn ycsb_reference_values() {
        for (keynum, hash, key) in YCSB_REFERENCE {
            assert_eq!(fnvhash64(keynum), hash, "fnvhash64({keynum})");
            assert_eq!(key_name(keynum, 1, false), key, "buildKeyName({keynum})");
            let mut out = Vec::new();
            write_key(&mut out, keynum, 1, false);
            assert_eq!(out, key.as_bytes(), "write_key({keynum})");
        }
        // buildKeyName pads the number with zeros to `zeropadding` characters.
        assert_eq!(key_name(1 << 32, 22, false), "user0000634246865027890484");
    }

    #[test]
    fn hashed_key_names() {
        assert_eq!(key_name(0, 1, false), "user6284781860667377211");
        assert_eq!(key_name(1, 1, false), "user8517097267634966620");
        assert_eq!(key_name(2, 1, false), "user1820151046732198393");
        assert_eq!(key_name(3, 1, false), "user4052466453699787802");
        // Padding never truncates: a 19-digit hash is longer than zeropadding=10.
        assert_eq!(key_name(0, 10, false), "user6284781860667377211");
        assert_eq!(key_name(0, 22, false), "user0006284781860667377211");
    }

    #[test]
    fn decimal_formatting() {
        let mut x = 7u64;
        let spread: Vec<u64> = (0..5000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                x >> (x % 64)
            })
            .collect();
        let powers = (0..20).flat_map(|e| {
            let p = 10u64.pow(e);
            [p - 1, p, p + 1]
        });
        let fixed = [0u64, 5, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 123_456_789, u64::MAX];
        for v in fixed.into_iter().chain(powers).chain(spread) {
            let mut buf = [0u8; 20];
            let pos = format_decimal(v, &mut buf);
            assert_eq!(std::str::from_utf8(&buf[pos..]).unwrap_or(""), v.to_string());
        }
    }

    #[test]
    fn ordered_key_names() {
        assert_eq!(key_name(0, 1, true), "user0");
        assert_eq!(key_name(42, 1, true), "user42");
        assert_eq!(key_name(42, 8, true), "user00000042");
        assert_eq!(key_name(123_456_789, 4, true), "user123456789");
        assert_eq!(key_name(-5, 4, true), "user00-5");
    }
}
