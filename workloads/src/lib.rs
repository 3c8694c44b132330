//! kvlab's workload generators: a faithful YCSB `CoreWorkload` and a hot-key family.
//!
//! The crate turns workload definitions (YCSB property files plus `-p` overrides) into a
//! deterministic stream of operations for the harness to drive through a store:
//!
//! 1. [`Properties::load`] merges property files and overrides, remembering where each value
//!    came from; [`Properties::unknown_keys`] lists typos for one warning.
//! 2. [`CoreWorkload::new`] validates every property (see workloads/README.md) and sets the
//!    generators up as YCSB's `CoreWorkload.init` does.
//! 3. Each client thread takes a [`LoadStream`] ([`CoreWorkload::load_stream`]) and a
//!    [`RunStream`] ([`CoreWorkload::run_stream`]) and fills a reusable [`Operation`] per call.
//!
//! Keys, the FNV hash, the zipfian and scrambled-zipfian constructions and the acknowledged
//! insert counter are YCSB's, quirks included, so the same properties give the same keys and
//! the same hot keys with the same shares as YCSB's Java client. Beyond YCSB: a configurable
//! zipfian constant, seeded reproducible streams, delete and batch-read operations, and the
//! `single` and `hotset` (optionally shifting) request distributions.
//!
//! ```
//! use kvlab_workloads::{CoreWorkload, OpKind, Operation, Properties};
//!
//! let props = Properties::from_text(
//!     "recordcount=1000\noperationcount=1000\nreadproportion=0.5\n\
//!      updateproportion=0.5\nrequestdistribution=zipfian\n",
//!     "workloada",
//! )?;
//! let workload = CoreWorkload::new(&props)?;
//! let mut op = Operation::new();
//!
//! let mut load = workload.load_stream(0, 1, workload.seed());
//! let mut inserted = 0;
//! while load.next_op(&mut op) {
//!     inserted += 1;
//! }
//! assert_eq!(inserted, 1000);
//!
//! let mut run = workload.run_stream(0, workload.seed());
//! run.next_op(&mut op);
//! assert!(matches!(op.kind, OpKind::Read | OpKind::Update));
//! assert!(op.key.starts_with(b"user"));
//! # Ok::<(), kvlab_workloads::Error>(())
//! ```

mod config;
mod error;
pub mod generator;
mod operation;
mod properties;
mod rng;
mod stream;
pub mod values;
mod workload;

pub use config::{
    is_workload_property, FieldLengthDistribution, RequestDistribution, ScanLengthDistribution,
    WorkloadConfig, WORKLOAD_PROPERTIES,
};
pub use error::{Error, Result, Source};
pub use kvlab_ycsb_keys::{fnvhash64, key_name, write_key, KEY_PREFIX};
pub use operation::{FieldSet, KeyList, OpKind, Operation};
pub use properties::{parse_override, Properties};
pub use rng::{splitmix64, Rng};
pub use stream::{LoadStream, RunStream};
pub use workload::CoreWorkload;
