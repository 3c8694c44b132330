//! Engine selection and RocksDB options from name → value pairs.
//!
//! The harness passes `rocksdb.*` properties here with the prefix stripped, e.g.
//! `[("preset", "bloom"), ("block_cache_mb", "256")]`. A preset is applied first, then the raw
//! options in the order given, so `preset=sync` with `sync=false` is plain `default`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Which engine an experiment runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// [`super::MemoryEngine`].
    Memory,
    /// [`super::RocksEngine`].
    RocksDb,
}

impl EngineKind {
    /// The property value naming this engine.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Memory => "memory",
            EngineKind::RocksDb => "rocksdb",
        }
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
        match s {
            "memory" => Ok(EngineKind::Memory),
            "rocksdb" => Ok(EngineKind::RocksDb),
            _ => Err(invalid("engine", s, "one of: memory, rocksdb")),
        }
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
    Error::InvalidOption { option: option.into(), value: value.into(), expected: expected.into() }
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
        assert_eq!("memory".parse::<EngineKind>().ok(), Some(EngineKind::Memory));
        assert_eq!("rocksdb".parse::<EngineKind>().ok(), Some(EngineKind::RocksDb));
        let err = "leveldb".parse::<EngineKind>().expect_err("unknown engine");
        assert!(err.to_string().contains("memory, rocksdb"));
    }
}
