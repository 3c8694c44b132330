//! The `engine` binding: one storage engine called directly, no replication — the baseline
//! every store figure is compared with.
//!
//! Properties: `engine=memory|rocksdb|fjall|redb` (default `rocksdb`), `engine.dir` (a
//! persistent directory; default: a temporary directory removed at exit), and the engines'
//! options (`rocksdb.*`, `fjall.*`, `redb.*`).

use std::path::PathBuf;
use std::sync::Arc;

use kvlab_store::{Engine, KeyRange, WriteBatch};
use kvlab_workloads::{OpKind, Operation};

use super::{Binding, DbClient, OpError, Served};
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::storage::StorageProbe;

/// The `engine` binding.
pub struct EngineBinding {
    engine: Arc<dyn Engine>,
    /// Where a persistent engine keeps its files.
    dir: PathBuf,
    /// Removed when the binding is dropped (after the engine, which is closed first).
    _temp: Option<tempfile::TempDir>,
}

impl EngineBinding {
    /// Opens the engine the settings name.
    ///
    /// # Errors
    ///
    /// Bad engine name or options, or the engine's open error.
    pub fn open(settings: &Settings) -> Result<Self> {
        let (engine, dir, temp) = open_engine(settings, "engine.dir")?;
        Ok(EngineBinding { engine, dir, _temp: temp })
    }
}

/// Opens the engine named by `engine` with its options (`rocksdb.*`, `fjall.*`, `redb.*`) in
/// `dir_setting` (or a temporary directory).
pub(crate) fn open_engine(
    settings: &Settings,
    dir_setting: &str,
) -> Result<(Arc<dyn Engine>, PathBuf, Option<tempfile::TempDir>)> {
    let kind = settings.engine;
    let (dir, temp) = match settings.props.get(dir_setting) {
        Some(dir) if !dir.is_empty() => (PathBuf::from(dir), None),
        _ => {
            let temp = tempfile::Builder::new().prefix("kvlab-engine-").tempdir().map_err(|e| {
                Error::io("cannot create a temporary directory in", std::env::temp_dir(), e)
            })?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let engine = kvlab_store::open_engine(kind, Some(&dir), &settings.engine_options(), &[])
        .map_err(kvlab_store::Error::from)?;
    Ok((engine, dir, temp))
}

impl Binding for EngineBinding {
    fn name(&self) -> &'static str {
        "engine"
    }

    fn client(&self, _thread: usize) -> Result<Box<dyn DbClient>> {
        Ok(Box::new(EngineClient { engine: self.engine.clone() }))
    }

    fn needs_load(&self) -> bool {
        self._temp.is_some()
            || self.engine.scan(&KeyRange::all(), 1).map_or(true, |rows| rows.is_empty())
    }

    fn engine_stats(&self) -> Vec<(String, u64)> {
        self.engine.stats()
    }

    fn storage(&self) -> Option<StorageProbe> {
        let name = format!("{}.synced_writes", self.engine.name());
        let persistent = self.engine.name() != "memory";
        Some(StorageProbe {
            disk_bytes: persistent.then(|| kvlab_store::dir_bytes(&self.dir)),
            synced_writes: self
                .engine
                .stats()
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v),
            copies: 1,
        })
    }
}

struct EngineClient {
    engine: Arc<dyn Engine>,
}

fn engine_error(err: kvlab_store::EngineError) -> OpError {
    OpError::new("engine", err.to_string())
}

impl DbClient for EngineClient {
    fn execute(&mut self, op: &Operation) -> Result<Served, OpError> {
        let engine = &*self.engine;
        match op.kind {
            OpKind::Read => match engine.get(&op.key).map_err(engine_error)? {
                Some(_) => Ok(Served::default()),
                None => Err(OpError::not_found()),
            },
            OpKind::Update | OpKind::Insert => {
                engine.put(&op.key, &op.value).map_err(engine_error)?;
                Ok(Served::default())
            }
            OpKind::ReadModifyWrite => {
                engine.get(&op.key).map_err(engine_error)?.ok_or_else(OpError::not_found)?;
                engine.put(&op.key, &op.value).map_err(engine_error)?;
                Ok(Served::default())
            }
            OpKind::Scan => {
                let rows = engine
                    .scan(&KeyRange::from(op.key.clone()), op.scan_length)
                    .map_err(engine_error)?;
                std::hint::black_box(rows);
                Ok(Served::default())
            }
            OpKind::Delete => {
                let mut batch = WriteBatch::new();
                batch.delete(op.key.clone());
                engine.write(batch).map_err(engine_error)?;
                Ok(Served::default())
            }
            OpKind::BatchRead => {
                let mut missing = false;
                for key in op.batch.iter() {
                    missing |= engine.get(key).map_err(engine_error)?.is_none();
                }
                if missing {
                    Err(OpError::not_found())
                } else {
                    Ok(Served::default())
                }
            }
        }
    }
}
