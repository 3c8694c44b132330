//! Helpers shared by the store's end-to-end tests.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use kvlab_store::{ClientConfig, Cluster, ReadPolicy, ReplicaChoice};

/// YCSB's key number `i`.
pub fn key(i: u64) -> Vec<u8> {
    kvlab_store::ycsb_key(i)
}

/// A round-robin client with `policy`, `seed` and a 5 s timeout.
pub fn client(cluster: &Cluster, policy: ReadPolicy, seed: u64) -> kvlab_store::Client {
    cluster.client(ClientConfig {
        read_policy: policy,
        replica_choice: ReplicaChoice::RoundRobin,
        seed,
        timeout: Duration::from_secs(5),
        ..ClientConfig::default()
    })
}

/// Polls `f` every 10 ms until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}
