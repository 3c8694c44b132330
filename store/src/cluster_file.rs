//! Cluster files: which node runs where, and the store properties every node runs with.
//!
//! ```toml
//! # Every node gets the same store.*, engine and engine-option (rocksdb.*, fjall.*, redb.*)
//! # properties.
//! [properties]
//! "store.regions" = 3
//! engine = "rocksdb"
//!
//! [[node]]
//! id = 1
//! addr = "127.0.0.1:20161"   # where its gRPC services listen
//! dir = "/data/kvlab/node-1" # its engines
//! ```
//!
//! Nodes are numbered 1..=N, each once; `store.nodes` is N. A zone per node comes from
//! `store.zones` (node `i` in zone `(i - 1) % zones`), latencies from `store.latency.*`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::ClusterConfig;
use crate::error::{Error, Result};
use crate::topology::NodeId;

/// One node of a cluster file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Node id, 1..=N.
    pub id: NodeId,
    /// The address its gRPC services listen on (`host:port`).
    pub addr: String,
    /// The directory of its engines.
    pub dir: PathBuf,
}

/// A cluster file (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// `store.*`, `engine` and engine-option (`rocksdb.*`, `fjall.*`, `redb.*`) properties, as
    /// on the command line.
    #[serde(default)]
    pub properties: BTreeMap<String, toml::Value>,
    /// The nodes.
    #[serde(rename = "node", default)]
    pub nodes: Vec<NodeEntry>,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::InvalidOption {
        option: "cluster file".into(),
        value: path.display().to_string(),
        expected: what.to_string(),
    }
}

impl ClusterFile {
    /// Reads and checks a cluster file.
    ///
    /// # Errors
    ///
    /// `InvalidOption` naming the file and what is wrong in it (TOML errors with their line).
    pub fn load(path: &Path) -> Result<ClusterFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(path, format!("a readable file ({e})")))?;
        let file: ClusterFile =
            toml::from_str(&text).map_err(|e| bad(path, format!("valid TOML: {e}")))?;
        file.check().map_err(|e| bad(path, e))?;
        Ok(file)
    }

    /// Writes the file (atomically: a temporary file renamed over it).
    ///
    /// # Errors
    ///
    /// `Engine` for I/O errors.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).map_err(Error::engine)?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::engine(format!("{}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::engine(format!("{}: {e}", path.display())))
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.nodes.is_empty() {
            return Err("at least one [[node]] table".into());
        }
        let mut ids: Vec<NodeId> = self.nodes.iter().map(|n| n.id).collect();
        ids.sort_unstable();
        if ids != (1..=self.nodes.len() as NodeId).collect::<Vec<_>>() {
            return Err(format!("node ids 1..={} each once (found {ids:?})", self.nodes.len()));
        }
        for n in &self.nodes {
            if n.addr.parse::<SocketAddr>().is_err() {
                return Err(format!(
                    "node {}: addr host:port with a numeric host (found {:?})",
                    n.id, n.addr
                ));
            }
        }
        self.config().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The property pairs of the file, `store.nodes` included.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = self
            .properties
            .iter()
            .filter(|(k, _)| k.as_str() != "store.nodes" && k.as_str() != "store.dir")
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect();
        pairs.push(("store.nodes".into(), self.nodes.len().to_string()));
        pairs
    }

    /// The cluster configuration every node runs with.
    ///
    /// # Errors
    ///
    /// `InvalidOption` for a bad property.
    pub fn config(&self) -> Result<ClusterConfig> {
        ClusterConfig::from_pairs(&self.pairs())
    }

    /// Node id → address.
    pub fn addrs(&self) -> HashMap<NodeId, String> {
        self.nodes.iter().map(|n| (n.id, n.addr.clone())).collect()
    }

    /// The entry of node `id`.
    pub fn node(&self, id: NodeId) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ClusterFile> {
        let dir = tempfile::tempdir().map_err(Error::engine)?;
        let path = dir.path().join("cluster.toml");
        std::fs::write(&path, text).map_err(Error::engine)?;
        ClusterFile::load(&path)
    }

    const GOOD: &str = r#"
[properties]
"store.regions" = 2
"store.replicas" = 2
engine = "memory"

[[node]]
id = 1
addr = "127.0.0.1:20161"
dir = "/tmp/n1"

[[node]]
id = 2
addr = "127.0.0.1:20162"
dir = "/tmp/n2"
"#;

    #[test]
    fn a_cluster_file_gives_the_config_and_addresses() {
        let f = load(GOOD).expect("a good file loads");
        let c = f.config().expect("config");
        assert_eq!((c.nodes, c.regions, c.replicas), (2, 2, 2));
        assert_eq!(f.addrs()[&2], "127.0.0.1:20162");
    }

    #[test]
    fn bad_cluster_files_name_the_problem() {
        let cases = [
            (GOOD.replace("id = 2", "id = 3"), "node ids 1..=2"),
            (GOOD.replace("127.0.0.1:20162", "localhost"), "node 2: addr"),
            (GOOD.replace("\"store.regions\" = 2", "\"store.regions\" = 0"), "store.regions"),
            (GOOD.replace("dir = \"/tmp/n1\"", "dir = \"/tmp/n1\"\nport = 3"), "unknown field"),
            ("[[node]]\nid = \"one\"".to_string(), "valid TOML"),
            (String::new(), "at least one [[node]]"),
        ];
        for (text, want) in cases {
            let err = load(&text).expect_err(want).to_string();
            assert!(err.contains("cluster.toml") && err.contains(want), "{want}: {err}");
        }
    }
}
