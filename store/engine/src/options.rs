//! Engine selection and engine options from name → value pairs.
//!
//! [`EngineOptions::from_pairs`] takes options by full name (`rocksdb.block_cache_mb`,
//! `fjall.cache_mb`, `redb.sync`) and hands each engine's to its own parser with the prefix
//! stripped. For RocksDB a preset is applied first, then the raw options in the order given, so
//! `preset=sync` with `sync=false` is plain `default`.
//!
//! Every persistent engine takes `sync` with one meaning: each [`crate::Engine::write`] waits
//! for an fsync before it returns (see the durability contract on [`crate::Engine`]). Block
//! caches default to 64 MiB for every engine, so engines are compared at equal memory unless a
//! suite says otherwise.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Which engine an experiment runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// [`crate::MemoryEngine`].
    Memory,
    /// [`crate::RocksEngine`].
    RocksDb,
    /// [`crate::FjallEngine`].
    Fjall,
    /// [`crate::RedbEngine`].
    Redb,
}

impl EngineKind {
    /// The property value naming this engine.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Memory => "memory",
            EngineKind::RocksDb => "rocksdb",
            EngineKind::Fjall => "fjall",
            EngineKind::Redb => "redb",
        }
    }

    /// Every engine kind, in documentation order.
    pub const ALL: [EngineKind; 4] =
        [EngineKind::Memory, EngineKind::RocksDb, EngineKind::Fjall, EngineKind::Redb];

    /// Whether the engine keeps its data in files (and so needs a directory).
    pub fn is_persistent(self) -> bool {
        self != EngineKind::Memory
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EngineKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        EngineKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| invalid("engine", s, "one of: memory, rocksdb, fjall, redb"))
    }
}

/// Named RocksDB configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RocksPreset {
    /// RocksDB's defaults with an explicit 64 MiB block cache and LZ4 compression.
    Default,
    /// As `default`, without compression.
    NoCompression,
    /// Bloom filters (10 bits per key) and a 512 MiB block cache.
    Bloom,
    /// Integrated BlobDB: values of 256 bytes or more live in blob files (the Titan idea).
    Blob,
    /// As `default`, with the WAL fsynced on every write batch.
    Sync,
}

impl RocksPreset {
    /// Every preset, in documentation order.
    pub const ALL: [RocksPreset; 5] = [
        RocksPreset::Default,
        RocksPreset::NoCompression,
        RocksPreset::Bloom,
        RocksPreset::Blob,
        RocksPreset::Sync,
    ];

    /// The preset's name as written in properties.
    pub fn as_str(self) -> &'static str {
        match self {
            RocksPreset::Default => "default",
            RocksPreset::NoCompression => "no-compression",
            RocksPreset::Bloom => "bloom",
            RocksPreset::Blob => "blob",
            RocksPreset::Sync => "sync",
        }
    }

    /// The options this preset stands for.
    pub fn options(self) -> RocksOptions {
        let base = RocksOptions {
            preset: self,
            block_cache_mb: 64,
            write_buffer_mb: 64,
            compression: Compression::Lz4,
            bloom_bits: 0,
            sync: false,
            disable_wal: false,
            max_background_jobs: 2,
            blob_min_size: 0,
        };
        match self {
            RocksPreset::Default => base,
            RocksPreset::NoCompression => RocksOptions { compression: Compression::None, ..base },
            RocksPreset::Bloom => RocksOptions { bloom_bits: 10, block_cache_mb: 512, ..base },
            RocksPreset::Blob => RocksOptions { blob_min_size: 256, ..base },
            RocksPreset::Sync => RocksOptions { sync: true, ..base },
        }
    }
}

impl FromStr for RocksPreset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        RocksPreset::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            invalid("rocksdb.preset", s, "one of: default, no-compression, bloom, blob, sync")
        })
    }
}

/// Block compression for SST files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No compression.
    None,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The option value naming this compression.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl FromStr for Compression {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Compression::None),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(invalid("rocksdb.compression", s, "one of: none, snappy, lz4, zstd")),
        }
    }
}

/// RocksDB settings kvlab exposes. Build with [`RocksOptions::from_pairs`] or a preset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RocksOptions {
    /// The preset these options started from.
    pub preset: RocksPreset,
    /// LRU block cache capacity in MiB (`block_cache_mb`).
    pub block_cache_mb: u64,
    /// Memtable size in MiB (`write_buffer_mb`).
    pub write_buffer_mb: u64,
    /// SST block compression (`compression`).
    pub compression: Compression,
    /// Bloom filter bits per key; 0 disables filters (`bloom_bits`).
    pub bloom_bits: u32,
    /// fsync the WAL on every write batch (`sync`).
    pub sync: bool,
    /// Skip the WAL entirely: unflushed writes are lost on a crash (`disable_wal`).
    pub disable_wal: bool,
    /// Background flush and compaction threads (`max_background_jobs`).
    pub max_background_jobs: u32,
    /// Values at least this large go to blob files; 0 keeps every value in SSTs
    /// (`blob_min_size`).
    pub blob_min_size: u64,
}

impl Default for RocksOptions {
    fn default() -> Self {
        RocksPreset::Default.options()
    }
}

/// The raw option names accepted by [`RocksOptions::from_pairs`], besides `preset`.
pub const ROCKS_OPTION_NAMES: [&str; 8] = [
    "block_cache_mb",
    "write_buffer_mb",
    "compression",
    "bloom_bits",
    "sync",
    "disable_wal",
    "max_background_jobs",
    "blob_min_size",
];

impl RocksOptions {
    /// Builds options from name → value pairs (names without the `rocksdb.` prefix).
    ///
    /// `preset` is applied first wherever it appears; the other options then override it in
    /// order.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] naming the option and the accepted values, for an unknown name
    /// or a value that does not parse or is out of range.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self> {
        let mut options = match pairs.iter().rev().find(|(name, _)| name == "preset") {
            Some((_, value)) => value.trim().parse::<RocksPreset>()?.options(),
            None => RocksOptions::default(),
        };
        for (name, value) in pairs {
            options.set(name, value.trim())?;
        }
        Ok(options)
    }

    /// Sets one option by name.
    ///
    /// # Errors
    ///
    /// As [`RocksOptions::from_pairs`].
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let full = format!("rocksdb.{name}");
        match name {
            "preset" => {
                value.parse::<RocksPreset>()?;
            }
            "block_cache_mb" => self.block_cache_mb = parse_int(&full, value, 0, 1 << 20)?,
            "write_buffer_mb" => self.write_buffer_mb = parse_int(&full, value, 1, 1 << 16)?,
            "compression" => self.compression = value.parse()?,
            "bloom_bits" => self.bloom_bits = parse_int(&full, value, 0, 64)? as u32,
            "sync" => self.sync = parse_bool(&full, value)?,
            "disable_wal" => self.disable_wal = parse_bool(&full, value)?,
            "max_background_jobs" => {
                self.max_background_jobs = parse_int(&full, value, 1, 256)? as u32
            }
            "blob_min_size" => self.blob_min_size = parse_int(&full, value, 0, 1 << 32)?,
            _ => {
                return Err(invalid(
                    &full,
                    value,
                    &format!("a known option: preset, {}", ROCKS_OPTION_NAMES.join(", ")),
                ))
            }
        }
        if self.sync && self.disable_wal {
            return Err(invalid(
                &full,
                value,
                "not both rocksdb.sync=true and rocksdb.disable_wal=true",
            ));
        }
        Ok(())
    }
}

fn invalid(option: &str, value: &str, expected: &str) -> Error {
    Error::invalid(option, value, expected)
}

/// Every engine's options, parsed from full names ([`EngineOptions::from_pairs`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// `rocksdb.*`.
    pub rocksdb: RocksOptions,
    /// `fjall.*`.
    pub fjall: FjallOptions,
    /// `redb.*`.
    pub redb: RedbOptions,
}

impl EngineOptions {
    /// Parses options by full name: `rocksdb.*`, `fjall.*` and `redb.*`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] naming the option and the accepted values, for a name of no
    /// engine, an unknown option of an engine, or a bad value.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self> {
        let strip = |prefix: &str| -> Vec<(String, String)> {
            pairs
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
                .collect()
        };
        if let Some((name, value)) = pairs.iter().find(|(k, _)| {
            !["rocksdb.", "fjall.", "redb."].iter().any(|prefix| k.starts_with(prefix))
        }) {
            return Err(invalid(name, value, "an engine option: rocksdb.*, fjall.* or redb.*"));
        }
        Ok(Self {
            rocksdb: RocksOptions::from_pairs(&strip("rocksdb."))?,
            fjall: FjallOptions::from_pairs(&strip("fjall."))?,
            redb: RedbOptions::from_pairs(&strip("redb."))?,
        })
    }

    /// The `sync` option given for `kind` (`rocksdb.sync`, `fjall.sync`, `redb.sync`); false
    /// for the memory engine. See [`EngineOptions::sync`] for what the engine then does.
    pub fn sync_requested(&self, kind: EngineKind) -> bool {
        match kind {
            EngineKind::Memory => false,
            EngineKind::RocksDb => self.rocksdb.sync,
            EngineKind::Fjall => self.fjall.sync,
            EngineKind::Redb => self.redb.sync,
        }
    }

    /// Whether `kind`'s writes wait for an fsync under these options.
    pub fn sync(&self, kind: EngineKind) -> bool {
        match kind {
            EngineKind::Memory => false,
            EngineKind::RocksDb => self.rocksdb.sync,
            EngineKind::Fjall => self.fjall.sync,
            EngineKind::Redb => true,
        }
    }
}

/// fjall settings kvlab exposes (`fjall.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FjallOptions {
    /// Block cache capacity in MiB (`cache_mb`, default 64).
    pub cache_mb: u64,
    /// Memtable size per keyspace in MiB (`write_buffer_mb`, default 64, as fjall's).
    pub write_buffer_mb: u64,
    /// Data block compression (`compression`): `default` (fjall's: LZ4 from the third level
    /// down), `none` or `lz4` (every level).
    pub compression: FjallCompression,
    /// Values at least this large are stored apart from the tree (fjall's key-value
    /// separation); 0 keeps every value in the tree (`blob_min_size`, default 0).
    pub blob_min_size: u32,
    /// Background flush and compaction threads (`worker_threads`, default 2).
    pub worker_threads: usize,
    /// fsync the journal on every write batch (`sync`, default false).
    pub sync: bool,
}

/// Block compression for fjall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FjallCompression {
    /// fjall's default policy.
    Default,
    /// No compression.
    None,
    /// LZ4 on every level.
    Lz4,
}

impl Default for FjallOptions {
    fn default() -> Self {
        Self {
            cache_mb: 64,
            write_buffer_mb: 64,
            compression: FjallCompression::Default,
            blob_min_size: 0,
            worker_threads: 2,
            sync: false,
        }
    }
}

/// The option names accepted by [`FjallOptions::from_pairs`].
pub const FJALL_OPTION_NAMES: [&str; 6] =
    ["cache_mb", "write_buffer_mb", "compression", "blob_min_size", "worker_threads", "sync"];

impl FjallOptions {
    /// Builds options from name → value pairs (names without the `fjall.` prefix).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] naming the option and the accepted values.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self> {
        let mut options = Self::default();
        for (name, value) in pairs {
            let value = value.trim();
            let full = format!("fjall.{name}");
            match name.as_str() {
                "cache_mb" => options.cache_mb = parse_int(&full, value, 0, 1 << 20)?,
                "write_buffer_mb" => options.write_buffer_mb = parse_int(&full, value, 1, 1 << 16)?,
                "compression" => {
                    options.compression = match value {
                        "default" => FjallCompression::Default,
                        "none" => FjallCompression::None,
                        "lz4" => FjallCompression::Lz4,
                        _ => return Err(invalid(&full, value, "one of: default, none, lz4")),
                    }
                }
                "blob_min_size" => {
                    options.blob_min_size = parse_int(&full, value, 0, u64::from(u32::MAX))? as u32
                }
                "worker_threads" => {
                    options.worker_threads = parse_int(&full, value, 1, 64)? as usize
                }
                "sync" => options.sync = parse_bool(&full, value)?,
                _ => {
                    return Err(invalid(
                        &full,
                        value,
                        &format!("a known option: {}", FJALL_OPTION_NAMES.join(", ")),
                    ))
                }
            }
        }
        Ok(options)
    }
}

/// redb settings kvlab exposes (`redb.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedbOptions {
    /// Page cache capacity in MiB (`cache_mb`, default 64; redb's own default is 1 GiB).
    pub cache_mb: u64,
    /// Accepted for one matrix over every engine (`sync`), and without effect: redb's
    /// [`crate::Engine::write`] always commits with `Durability::Immediate` (an fsync), since
    /// its only lighter mode keeps commits in process memory, which a killed process loses.
    pub sync: bool,
}

impl Default for RedbOptions {
    fn default() -> Self {
        Self { cache_mb: 64, sync: false }
    }
}

impl RedbOptions {
    /// Builds options from name → value pairs (names without the `redb.` prefix).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] naming the option and the accepted values.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self> {
        let mut options = Self::default();
        for (name, value) in pairs {
            let value = value.trim();
            let full = format!("redb.{name}");
            match name.as_str() {
                "cache_mb" => options.cache_mb = parse_int(&full, value, 1, 1 << 20)?,
                "sync" => options.sync = parse_bool(&full, value)?,
                _ => return Err(invalid(&full, value, "a known option: cache_mb, sync")),
            }
        }
        Ok(options)
    }
}

fn parse_int(option: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(option, value, &format!("an integer from {min} to {max}"))),
    }
}

fn parse_bool(option: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(option, value, "true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn presets_then_overrides() -> Result<()> {
        let opts =
            RocksOptions::from_pairs(&pairs(&[("block_cache_mb", "32"), ("preset", "bloom")]))?;
        assert_eq!(opts.preset, RocksPreset::Bloom);
        assert_eq!(opts.bloom_bits, 10);
        assert_eq!(opts.block_cache_mb, 32, "a raw option overrides the preset wherever it is");
        let opts = RocksOptions::from_pairs(&pairs(&[("preset", "sync"), ("sync", "false")]))?;
        assert!(!opts.sync);
        assert_eq!(RocksOptions::from_pairs(&[])?, RocksPreset::Default.options());
        assert!(RocksPreset::Blob.options().blob_min_size > 0);
        assert_eq!(RocksPreset::NoCompression.options().compression, Compression::None);
        Ok(())
    }

    #[test]
    fn errors_name_option_and_accepted_values() {
        let cases = [
            (("bogus", "1"), "rocksdb.bogus", "block_cache_mb"),
            (("preset", "fast"), "rocksdb.preset", "no-compression"),
            (("compression", "gzip"), "rocksdb.compression", "zstd"),
            (("block_cache_mb", "-1"), "rocksdb.block_cache_mb", "integer from 0"),
            (("bloom_bits", "many"), "rocksdb.bloom_bits", "integer"),
            (("sync", "maybe"), "rocksdb.sync", "true or false"),
            (("write_buffer_mb", "0"), "rocksdb.write_buffer_mb", "from 1"),
        ];
        for ((name, value), option, expected) in cases {
            let err = RocksOptions::from_pairs(&pairs(&[(name, value)])).expect_err(name);
            let text = err.to_string();
            assert!(text.contains(option), "{text}");
            assert!(text.contains(value), "{text}");
            assert!(text.contains(expected), "{text}");
        }
        let err = RocksOptions::from_pairs(&pairs(&[("sync", "true"), ("disable_wal", "true")]));
        assert!(err.is_err());
    }

    #[test]
    fn engine_kind_parses() {
        for kind in EngineKind::ALL {
            assert_eq!(kind.as_str().parse::<EngineKind>().ok(), Some(kind));
        }
        let err = "leveldb".parse::<EngineKind>().expect_err("unknown engine");
        assert!(err.to_string().contains("memory, rocksdb, fjall, redb"), "{err}");
    }

    #[test]
    fn engine_options_go_to_their_engine_and_name_bad_ones() -> Result<()> {
        let opts = EngineOptions::from_pairs(&pairs(&[
            ("rocksdb.sync", "true"),
            ("fjall.cache_mb", "8"),
            ("fjall.compression", "none"),
            ("redb.cache_mb", "16"),
        ]))?;
        assert!(opts.rocksdb.sync);
        assert!(!opts.fjall.sync);
        assert_eq!((opts.fjall.cache_mb, opts.fjall.compression), (8, FjallCompression::None));
        assert_eq!(opts.redb.cache_mb, 16);
        assert!(opts.sync(EngineKind::RocksDb) && !opts.sync(EngineKind::Fjall));
        assert!(opts.sync(EngineKind::Redb), "redb's writes always fsync");
        let cases = [
            (("fjall.bogus", "1"), "fjall.bogus", "write_buffer_mb"),
            (("fjall.compression", "zstd"), "fjall.compression", "default, none, lz4"),
            (("fjall.worker_threads", "0"), "fjall.worker_threads", "from 1"),
            (("redb.cache_mb", "x"), "redb.cache_mb", "integer"),
            (("redb.durability", "none"), "redb.durability", "cache_mb, sync"),
            (("sled.cache", "1"), "sled.cache", "rocksdb.*, fjall.* or redb.*"),
            (("rocksdb.compression", "gzip"), "rocksdb.compression", "zstd"),
        ];
        for ((name, value), option, expected) in cases {
            let err = EngineOptions::from_pairs(&pairs(&[(name, value)])).expect_err(name);
            let text = err.to_string();
            assert!(text.contains(option) && text.contains(value), "{text}");
            assert!(text.contains(expected), "{text}");
        }
        Ok(())
    }
}
