//! Record values: YCSB's fields serialised into one byte string, filled cheaply.
//!
//! # Encoding
//! A value is its fields one after the other, in field-index order; each field is
//!
//! ```text
//! name length: u16, little endian | name bytes | data length: u32, little endian | data bytes
//! ```
//!
//! An insert (and an update with `writeallfields=true`) carries all `fieldcount` fields; an
//! update or read-modify-write with `writeallfields=false` (YCSB's default) carries one field
//! chosen uniformly. A binding that stores whole values may treat a one-field update as an
//! overwrite or merge it into the stored fields; [`decode_fields`] reads either back.
//!
//! # Data
//! Field data are printable ASCII bytes like YCSB's `RandomByteIterator` (`' '` plus a few
//! random bits). Instead of one RNG call per byte, a workload builds one pool of random bytes
//! from its seed and each field copies a slice of it starting at a random offset: one RNG call
//! per field.

use crate::rng::Rng;

/// The smallest pool of random bytes.
const MIN_POOL: usize = 1 << 16;

/// A pool of random printable bytes that field data are sliced from.
#[derive(Debug)]
pub struct ValuePool {
    /// The bytes: at least twice the longest field, at least 64 KiB.
    bytes: Box<[u8]>,
}

impl ValuePool {
    /// A pool for fields of up to `max_field_len` bytes, from `seed`.
    pub fn new(seed: u64, max_field_len: usize) -> ValuePool {
        let len = MIN_POOL.max(max_field_len.saturating_mul(2));
        let mut rng = Rng::new(seed, u64::MAX);
        let mut bytes = Vec::with_capacity(len + 8);
        while bytes.len() < len {
            let r = rng.next_u64();
            // Like RandomByteIterator: ' ' plus 5 to 7 random bits (printable ASCII).
            for i in 0..8 {
                let bits = (r >> (i * 8)) as u8;
                let mask = [31u8, 63, 95][i % 3];
                bytes.push(b' ' + (bits & mask));
            }
        }
        bytes.truncate(len);
        ValuePool { bytes: bytes.into_boxed_slice() }
    }

    /// Appends `len` random bytes to `out` (`len` at most half the pool).
    #[inline]
    pub fn fill(&self, out: &mut Vec<u8>, len: usize, rng: &mut Rng) {
        let len = len.min(self.bytes.len());
        let start = rng.below((self.bytes.len() - len + 1) as u64) as usize;
        out.extend_from_slice(&self.bytes[start..start + len]);
    }
}

/// Appends one encoded field to `out` with `len` data bytes from `pool`.
#[inline]
pub fn encode_field(out: &mut Vec<u8>, name: &[u8], len: usize, pool: &ValuePool, rng: &mut Rng) {
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    pool.fill(out, len, rng);
}

/// The `(name, data)` pairs of an encoded value, in order; stops at the first malformed field.
pub fn decode_fields(mut value: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let name_len = u16::from_le_bytes(value.get(..2)?.try_into().ok()?) as usize;
        let name = value.get(2..2 + name_len)?;
        let rest = value.get(2 + name_len..)?;
        let data_len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let data = rest.get(4..4 + data_len)?;
        value = rest.get(4 + data_len..)?;
        Some((name, data))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let pool = ValuePool::new(1, 100);
        let mut rng = Rng::new(1, 0);
        let mut v = Vec::new();
        encode_field(&mut v, b"field0", 100, &pool, &mut rng);
        encode_field(&mut v, b"field1", 3, &pool, &mut rng);
        let fields: Vec<_> = decode_fields(&v).collect();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].0, b"field0");
        assert_eq!(fields[0].1.len(), 100);
        assert_eq!(fields[1].0, b"field1");
        assert_eq!(fields[1].1.len(), 3);
        assert!(fields[0].1.iter().all(|b| (b' '..=b' ' + 95).contains(b)));
        assert_eq!(v.len(), 2 * (2 + 6 + 4) + 103);
    }

    #[test]
    fn large_fields_fit() {
        let pool = ValuePool::new(1, 1 << 20);
        let mut rng = Rng::new(1, 0);
        let mut v = Vec::new();
        pool.fill(&mut v, 1 << 20, &mut rng);
        assert_eq!(v.len(), 1 << 20);
    }
}
