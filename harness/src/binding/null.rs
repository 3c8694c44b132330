//! The `null` binding: does nothing, so a run measures the harness's own overhead.
//!
//! Properties: `null.stall_ms` and `null.stall_every` make every `stall_every`-th operation of
//! each client sleep `stall_ms` milliseconds — a system that stalls on purpose, to see
//! coordinated omission (with `--target`, the stall shows in intended latency).
//! `null.fail_every` makes every `fail_every`-th operation fail (error kind `unavailable`),
//! after its stall when it has one: a store that times out, to see failed operations'
//! latencies.

use std::time::Duration;

use kvlab_workloads::Operation;

use super::{Binding, DbClient, OpError, Served};
use crate::error::Result;
use crate::settings::Settings;

/// The `null` binding.
#[derive(Debug, Clone)]
pub struct NullBinding {
    stall: Duration,
    stall_every: u64,
    fail_every: u64,
}

impl NullBinding {
    /// Reads `null.*` settings.
    ///
    /// # Errors
    ///
    /// A non-numeric `null.stall_ms`, `null.stall_every` or `null.fail_every`.
    pub fn new(settings: &Settings) -> Result<Self> {
        let props = &settings.props;
        Ok(NullBinding {
            stall: Duration::from_millis(props.get_u64_or("null.stall_ms", 0)?),
            stall_every: props.get_u64_or("null.stall_every", 0)?,
            fail_every: props.get_u64_or("null.fail_every", 0)?,
        })
    }
}

impl Binding for NullBinding {
    fn name(&self) -> &'static str {
        "null"
    }

    fn client(&self, _thread: usize) -> Result<Box<dyn DbClient>> {
        Ok(Box::new(NullClient { binding: self.clone(), ops: 0 }))
    }
}

struct NullClient {
    binding: NullBinding,
    ops: u64,
}

impl DbClient for NullClient {
    #[inline]
    fn execute(&mut self, op: &Operation) -> Result<Served, OpError> {
        self.ops += 1;
        if self.binding.stall_every > 0 && self.ops.is_multiple_of(self.binding.stall_every) {
            std::thread::sleep(self.binding.stall);
        }
        std::hint::black_box(op);
        if self.binding.fail_every > 0 && self.ops.is_multiple_of(self.binding.fail_every) {
            return Err(OpError::new("unavailable", "null.fail_every".into()));
        }
        Ok(Served::default())
    }
}
