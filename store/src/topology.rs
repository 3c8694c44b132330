//! Cluster topology: which regions exist, which key range each owns and which nodes host it.
//!
//! Regions are static: the key space is cut by sorted split keys into `R` half-open ranges
//! `[start, end)`, region `i` (ids start at 1) owning the `i`-th range; the first range starts at
//! the empty key and the last one is unbounded. Replicas are placed round-robin: region `r`
//! lives on nodes `r, r+1, …, r+F−1` (mod `N`, node ids start at 1), and its first replica is
//! the leader the cluster balances to at start-up, so leaders spread evenly over the nodes.
//!
//! The default split keys balance YCSB's hashed key space: YCSB keys are `user` followed by the
//! decimal FNV-1a hash of the key number (see [`ycsb_key`], made by `kvlab-ycsb-keys`, the
//! implementation the workload generators use too); their leading digits are not uniform
//! (19-digit numbers below 2^63 rarely start with a 9), so the splits are quantiles of a
//! deterministic sample of such keys, truncated to short decimal prefixes.

use crate::error::{Error, Result};

/// A store node's id (1-based). Raft peer ids equal node ids.
pub type NodeId = u64;
/// A region's id (1-based).
pub type RegionId = u64;
/// A Raft log index.
pub type Index = u64;
/// A zone's id (0-based), for network emulation and closest-replica reads.
pub type ZoneId = usize;

/// One region: a key range and the nodes holding its replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// The region id.
    pub id: RegionId,
    /// First key of the range (inclusive); empty means the start of the key space.
    pub start: Vec<u8>,
    /// End of the range (exclusive); empty means unbounded.
    pub end: Vec<u8>,
    /// Nodes holding a replica; the first is the preferred leader.
    pub replicas: Vec<NodeId>,
}

impl Region {
    /// Whether `key` belongs to this region.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && (self.end.is_empty() || key < self.end.as_slice())
    }

    /// The preferred leader (first replica).
    pub fn preferred_leader(&self) -> NodeId {
        self.replicas.first().copied().unwrap_or(1)
    }
}

/// The static layout of a cluster.
#[derive(Clone, Debug)]
pub struct Topology {
    /// Regions in key order.
    pub regions: Vec<Region>,
    /// Number of nodes.
    pub nodes: usize,
}

impl Topology {
    /// Builds the layout for `nodes` nodes, the given split keys (`regions = splits + 1`) and
    /// `replicas` copies of each region.
    ///
    /// # Errors
    ///
    /// `InvalidOption` when `replicas` is 0 or exceeds `nodes`, or the splits are not strictly
    /// increasing non-empty keys.
    pub fn new(nodes: usize, splits: &[Vec<u8>], replicas: usize) -> Result<Self> {
        if nodes == 0 {
            return Err(invalid("store.nodes", nodes, "at least 1"));
        }
        if replicas == 0 || replicas > nodes {
            return Err(invalid("store.replicas", replicas, "between 1 and store.nodes"));
        }
        for pair in splits.windows(2) {
            if pair[0] >= pair[1] {
                return Err(invalid("store.split_keys", "", "strictly increasing keys"));
            }
        }
        if splits.first().is_some_and(|k| k.is_empty()) {
            return Err(invalid("store.split_keys", "", "non-empty keys"));
        }
        let mut bounds = vec![Vec::new()];
        bounds.extend(splits.iter().cloned());
        bounds.push(Vec::new());
        let regions = bounds
            .windows(2)
            .enumerate()
            .map(|(i, w)| Region {
                id: i as RegionId + 1,
                start: w[0].clone(),
                end: w[1].clone(),
                replicas: (0..replicas).map(|j| ((i + j) % nodes) as NodeId + 1).collect(),
            })
            .collect();
        Ok(Self { regions, nodes })
    }

    /// The region owning `key`.
    pub fn locate(&self, key: &[u8]) -> &Region {
        let idx = self.regions.partition_point(|r| !r.end.is_empty() && r.end.as_slice() <= key);
        &self.regions[idx.min(self.regions.len() - 1)]
    }

    /// The region with id `id`.
    pub fn region(&self, id: RegionId) -> Option<&Region> {
        self.regions.get((id as usize).checked_sub(1)?)
    }

    /// Regions with a replica on `node`.
    pub fn regions_on(&self, node: NodeId) -> impl Iterator<Item = &Region> {
        self.regions.iter().filter(move |r| r.replicas.contains(&node))
    }
}

fn invalid(option: &str, value: impl ToString, expected: &str) -> Error {
    Error::InvalidOption {
        option: option.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// The YCSB key of key number `keynum` with `insertorder=hashed` and no zero padding (YCSB's
/// defaults): `user` + `Utils.fnvhash64(keynum)`.
pub fn ycsb_key(keynum: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(24);
    kvlab_ycsb_keys::write_key(&mut key, keynum as i64, 1, false);
    key
}

/// Split keys cutting YCSB's hashed key space into `regions` ranges of about equal record
/// counts: quantiles of a deterministic sample of YCSB keys, truncated to `user` + 5 digits.
pub fn default_split_keys(regions: usize) -> Vec<Vec<u8>> {
    if regions <= 1 {
        return Vec::new();
    }
    let sample = (2_000 * regions).max(20_000) as u64;
    let mut keys: Vec<Vec<u8>> = (0..sample).map(ycsb_key).collect();
    keys.sort();
    let mut splits: Vec<Vec<u8>> = Vec::with_capacity(regions - 1);
    for i in 1..regions {
        let q = &keys[i * keys.len() / regions];
        let mut split = q[..q.len().min(9)].to_vec();
        if splits.last().is_some_and(|last| *last >= split) {
            split = q.clone();
        }
        splits.push(split);
    }
    splits
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_match_ycsb() {
        // YCSB's CoreWorkload.buildKeyName(keynum, 1, false), run under java (see the reference
        // table of kvlab-ycsb-keys for how these were derived).
        let expected = [
            (0, "user6284781860667377211"),
            (1, "user8517097267634966620"),
            (2, "user1820151046732198393"),
            (1000, "user5952875239596136740"),
            (1 << 32, "user634246865027890484"),
        ];
        for (keynum, key) in expected {
            assert_eq!(String::from_utf8(ycsb_key(keynum)).unwrap(), key, "keynum {keynum}");
        }
    }

    #[test]
    fn default_splits_balance_ycsb_load() {
        for regions in [2usize, 3, 5, 8, 16] {
            let topo = Topology::new(3, &default_split_keys(regions), 3).unwrap();
            let n = 100_000u64;
            let mut counts = vec![0u64; regions];
            for i in 0..n {
                counts[(topo.locate(&ycsb_key(i)).id - 1) as usize] += 1;
            }
            let mean = n as f64 / regions as f64;
            for (i, &c) in counts.iter().enumerate() {
                let dev = (c as f64 - mean).abs() / mean;
                assert!(dev <= 0.2, "regions={regions} region {i}: {c} vs mean {mean}");
            }
        }
    }

    #[test]
    fn locate_and_placement() {
        let topo = Topology::new(3, &[b"b".to_vec(), b"d".to_vec()], 2).unwrap();
        assert_eq!(topo.locate(b"").id, 1);
        assert_eq!(topo.locate(b"a").id, 1);
        assert_eq!(topo.locate(b"b").id, 2);
        assert_eq!(topo.locate(b"c").id, 2);
        assert_eq!(topo.locate(b"zzz").id, 3);
        assert_eq!(topo.regions[0].replicas, vec![1, 2]);
        assert_eq!(topo.regions[2].replicas, vec![3, 1]);
        assert_eq!(topo.regions_on(1).count(), 2);
        assert!(Topology::new(3, &[], 4).is_err());
    }
}
