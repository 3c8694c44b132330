//! Per-process CPU budgets in Linux control groups.
//!
//! A benchmark that models nodes with fewer cores than the machine has puts each node's process
//! in its own cgroup with a CFS bandwidth limit: in every period of [`PERIOD_US`] microseconds
//! the group's processes together may run for `cpus × period` microseconds, then they are
//! throttled until the next period starts. [`CpuBudgets`] finds a writable hierarchy with the
//! `cpu` controller and creates such groups; a [`Cgroup`] moves processes in, reports the CPU
//! time and throttling it saw, and removes its directory when dropped.
//!
//! Two versions of the interface exist and both are supported:
//!
//! - **cgroup v2** (the unified hierarchy, file system type `cgroup2`): one tree for all
//!   controllers. A group's limit is the single file `cpu.max` (`"QUOTA PERIOD"`), its usage and
//!   throttling are in `cpu.stat` (`usage_usec`, `nr_throttled`, `throttled_usec`). A child group
//!   only has the `cpu` files when the parent lists `cpu` in `cgroup.subtree_control`.
//! - **cgroup v1** (file system type `cgroup`): one tree per controller or group of controllers,
//!   e.g. `/sys/fs/cgroup/cpu` or `/sys/fs/cgroup/cpu,cpuacct`. The limit is split into
//!   `cpu.cfs_period_us` and `cpu.cfs_quota_us`; throttling is in `cpu.stat` (`nr_throttled`,
//!   `throttled_time` in nanoseconds); usage is `cpuacct.usage` (nanoseconds), which only exists
//!   when `cpuacct` shares the `cpu` hierarchy.
//!
//! A machine may mount both (the "hybrid" layout): a `cgroup2` tree whose controllers are all
//! bound to v1 trees is no use, so detection picks the version that actually has `cpu`.
//!
//! [`process_cpu_seconds`] and [`self_cpu_seconds`] read a process's CPU time from `/proc`, for
//! callers whose hierarchy does not account usage per group.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// CFS bandwidth period used for every group, in microseconds (10 ms).
///
/// The kernel default is 100 ms; a short period keeps each throttling stall short (a group that
/// spent its quota waits at most until the next period), so a throttled node adds milliseconds,
/// not tens of milliseconds, to a request's latency.
pub const PERIOD_US: u64 = 10_000;

/// Smallest quota the kernel accepts, in microseconds (1 ms).
const MIN_QUOTA_US: u64 = 1_000;

/// Clock ticks per second of the times in `/proc/<pid>/stat`.
///
/// The kernel reports these in `USER_HZ` units, which is fixed at 100 on Linux's mainstream
/// architectures (x86, Arm, RISC-V, …) whatever the kernel's internal `HZ`; using the constant
/// avoids calling `sysconf(_SC_CLK_TCK)`, which would need `unsafe` FFI.
const USER_HZ: f64 = 100.0;

/// How long [`Cgroup`]'s drop waits for the group's processes to leave.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Polling step while waiting for the group's processes to leave.
const DRAIN_STEP: Duration = Duration::from_millis(10);

/// Errors from finding a cgroup hierarchy or managing groups in it.
#[derive(Debug)]
pub enum CgroupError {
    /// No mounted hierarchy has the `cpu` controller.
    NoCpuController {
        /// What was looked at.
        reason: String,
    },
    /// A directory given as the hierarchy's root is not a cgroup with the `cpu` controller.
    NotACpuCgroup {
        /// The directory.
        dir: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// Groups cannot be created under the hierarchy's root.
    NotWritable {
        /// The root directory.
        dir: PathBuf,
        /// The error creating or removing the probe directory.
        source: io::Error,
    },
    /// On cgroup v2, the `cpu` controller is not and cannot be enabled for child groups.
    ControllerNotEnabled {
        /// The parent's `cgroup.subtree_control` file.
        file: PathBuf,
        /// The error writing `+cpu` to it.
        source: io::Error,
    },
    /// A CPU budget that is not a finite number greater than zero.
    InvalidCpus {
        /// The value given.
        value: f64,
    },
    /// A group name that is empty, `.`, `..` or contains `/`.
    InvalidName {
        /// The name given.
        name: String,
    },
    /// Reading, writing or creating a cgroup file or directory failed.
    Io {
        /// What was being done, e.g. `write "2500" to`.
        action: String,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for CgroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CgroupError::NoCpuController { reason } => {
                write!(f, "no cgroup hierarchy with the cpu controller: {reason}")
            }
            CgroupError::NotACpuCgroup { dir, reason } => {
                write!(f, "{} is not a cgroup with the cpu controller: {reason}", dir.display())
            }
            CgroupError::NotWritable { dir, source } => {
                write!(f, "cannot create cgroups under {}: {source}", dir.display())?;
                match source.kind() {
                    io::ErrorKind::PermissionDenied => f.write_str(
                        " (not root? cgroup directories are writable only by root or a user \
                         the hierarchy is delegated to)",
                    ),
                    io::ErrorKind::ReadOnlyFilesystem => f.write_str(
                        " (the cgroup file system is mounted read-only, as in many containers)",
                    ),
                    _ => Ok(()),
                }
            }
            CgroupError::ControllerNotEnabled { file, source } => write!(
                f,
                "cannot enable the cpu controller for child groups by writing \"+cpu\" to {}: \
                 {source}",
                file.display()
            ),
            CgroupError::InvalidCpus { value } => {
                write!(f, "invalid CPU budget {value}: expected a finite number of CPUs > 0")
            }
            CgroupError::InvalidName { name } => write!(
                f,
                "invalid cgroup name {name:?}: expected a non-empty name without '/' that is not \
                 '.' or '..'"
            ),
            CgroupError::Io { action, path, source } => {
                write!(f, "cannot {action} {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for CgroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CgroupError::NotWritable { source, .. }
            | CgroupError::ControllerNotEnabled { source, .. }
            | CgroupError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The cgroup interface version of a hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CgroupVersion {
    /// Legacy per-controller hierarchies (`cpu.cfs_quota_us`, `cpu.cfs_period_us`).
    V1,
    /// The unified hierarchy (`cpu.max`).
    V2,
}

impl fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        })
    }
}

/// A writable cgroup hierarchy with the `cpu` controller, in which CPU-limited groups are made.
#[derive(Clone, Debug)]
pub struct CpuBudgets {
    /// Directory new groups are created in.
    root: PathBuf,
    /// Interface version of the hierarchy.
    version: CgroupVersion,
    /// Bandwidth period of every group, in microseconds.
    period_us: u64,
}

impl CpuBudgets {
    /// Finds a writable hierarchy with the `cpu` controller.
    ///
    /// Without `root_override`, reads `/proc/self/mounts`: a `cgroup2` mount whose
    /// `cgroup.controllers` lists `cpu` is preferred, else a `cgroup` (v1) mount whose options
    /// include `cpu`. With `root_override`, that directory is used: v2 if its
    /// `cgroup.controllers` lists `cpu` or it has `cpu.max`, v1 if it has `cpu.cfs_quota_us`.
    ///
    /// Then checks that groups can be created there (by making and removing a probe directory)
    /// and, on v2, that the `cpu` controller is enabled for children (writing `+cpu` to
    /// `cgroup.subtree_control` if it is not).
    pub fn detect(root_override: Option<&Path>) -> Result<CpuBudgets, CgroupError> {
        let (root, version) = match root_override {
            Some(dir) => (dir.to_path_buf(), version_of_dir(dir)?),
            None => {
                let mounts_path = Path::new("/proc/self/mounts");
                let mounts = fs::read_to_string(mounts_path).map_err(|source| CgroupError::Io {
                    action: "read".to_string(),
                    path: mounts_path.to_path_buf(),
                    source,
                })?;
                pick_from_mounts(&mounts, |mount| {
                    fs::read_to_string(mount.join("cgroup.controllers")).ok()
                })
                .ok_or_else(|| CgroupError::NoCpuController {
                    reason: "in /proc/self/mounts no cgroup2 mount lists cpu in \
                             cgroup.controllers and no cgroup (v1) mount has the cpu option"
                        .to_string(),
                })?
            }
        };
        probe_writable(&root)?;
        if version == CgroupVersion::V2 {
            enable_cpu_for_children(&root)?;
        }
        Ok(CpuBudgets { root, version, period_us: PERIOD_US })
    }

    /// Creates (or, if a crashed earlier run left it behind, reuses) the group `<root>/<name>`
    /// limited to `cpus` CPUs: a quota of `cpus × period` microseconds per period, rounded, and
    /// at least 1 ms.
    pub fn create(&self, name: &str, cpus: f64) -> Result<Cgroup, CgroupError> {
        let quota = quota_us(cpus, self.period_us)?;
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(CgroupError::InvalidName { name: name.to_string() });
        }
        let dir = self.root.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(source) => {
                return Err(CgroupError::Io { action: "create".to_string(), path: dir, source });
            }
        }
        // From here on the group is removed again if setting its limit fails.
        let group = Cgroup { dir, version: self.version };
        let period = self.period_us.to_string();
        let quota = quota.to_string();
        match self.version {
            CgroupVersion::V2 => {
                write_file(&group.dir.join("cpu.max"), &format!("{quota} {period}"))?
            }
            CgroupVersion::V1 => {
                let period_file = group.dir.join("cpu.cfs_period_us");
                let quota_file = group.dir.join("cpu.cfs_quota_us");
                if write_file(&period_file, &period).is_ok() {
                    write_file(&quota_file, &quota)?;
                } else {
                    // The kernel checks the group's bandwidth (quota / period) whenever either
                    // file changes, so a quota left by an earlier run can make the new period
                    // invalid; setting the new quota first makes the pair valid again.
                    write_file(&quota_file, &quota)?;
                    write_file(&period_file, &period)?;
                }
            }
        }
        Ok(group)
    }

    /// The hierarchy's interface version.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The directory groups are created in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bandwidth period of every group, in microseconds ([`PERIOD_US`]).
    pub fn period_us(&self) -> u64 {
        self.period_us
    }

    /// A one-line description, e.g. `cgroup v1 at /sys/fs/cgroup/cpu`.
    pub fn describe(&self) -> String {
        format!("cgroup {} at {}", self.version, self.root.display())
    }
}

/// The CPU budgets a cluster gives the processes it starts (kvlab's node processes, the etcd
/// binding's members), or why it gives none.
#[derive(Debug)]
pub enum ProcessBudgets {
    /// None asked for.
    None,
    /// Each process gets this many cores, in a cgroup of its own.
    Applied(CpuBudgets, f64),
    /// Asked for with `store.node_cpus_optional`, but cgroups cannot apply them here: why.
    Skipped(String),
}

impl ProcessBudgets {
    /// `cpus` cores per process (`None`: no budgets) in the hierarchy at `root`, else the one
    /// [`CpuBudgets::detect`] finds; where none can apply them, `optional` runs without.
    ///
    /// # Errors
    ///
    /// Budgets that cannot be applied and are not optional: what `store.node_cpus` needs.
    pub fn resolve(
        cpus: Option<f64>,
        optional: bool,
        root: Option<&Path>,
    ) -> Result<ProcessBudgets, String> {
        let Some(cpus) = cpus else { return Ok(ProcessBudgets::None) };
        match CpuBudgets::detect(root) {
            Ok(budgets) => Ok(ProcessBudgets::Applied(budgets, cpus)),
            Err(e) if optional => Ok(ProcessBudgets::Skipped(e.to_string())),
            Err(e) => Err(format!(
                "a writable cgroup cpu controller ({e}); store.node_cpus_optional=true runs \
                 without budgets"
            )),
        }
    }

    /// Puts process `pid` into a group `name` of its own with its budget (`None` without
    /// budgets). The group is removed again when this fails.
    ///
    /// # Errors
    ///
    /// The group cannot be made or the process cannot join it.
    pub fn place(&self, name: &str, pid: u32) -> Result<Option<Cgroup>, CgroupError> {
        let ProcessBudgets::Applied(budgets, cpus) = self else { return Ok(None) };
        let group = budgets.create(name, *cpus)?;
        group.add_process(pid)?;
        Ok(Some(group))
    }

    /// `what` (e.g. "3 node processes") with its budgets, for a run's notes.
    pub fn describe(&self, what: &str) -> String {
        match self {
            ProcessBudgets::None => format!("{what}, no CPU budgets"),
            ProcessBudgets::Applied(b, cpus) => format!(
                "{what}, CPU budget {cpus} cores each ({}, period {} ms)",
                b.describe(),
                b.period_us() / 1000
            ),
            ProcessBudgets::Skipped(why) => {
                format!("{what} WITHOUT CPU budgets (store.node_cpus could not be applied: {why})")
            }
        }
    }

    /// Whether budgets were asked for but could not be applied (the run must say so).
    pub fn skipped(&self) -> bool {
        matches!(self, ProcessBudgets::Skipped(_))
    }
}

/// One CPU-limited group. Dropping it removes its directory once its processes have exited.
#[derive(Debug)]
pub struct Cgroup {
    /// The group's directory.
    dir: PathBuf,
    /// Interface version of its hierarchy.
    version: CgroupVersion,
}

impl Cgroup {
    /// Moves the process `pid` (all its threads) into the group.
    pub fn add_process(&self, pid: u32) -> Result<(), CgroupError> {
        write_file(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    /// CPU time used by the group's processes so far, in seconds.
    ///
    /// `None` if it cannot be read; on v1 that includes hierarchies where `cpuacct` is mounted
    /// separately from `cpu` (no `cpuacct.usage` here), in which case callers can sum
    /// [`process_cpu_seconds`] instead.
    pub fn cpu_seconds(&self) -> Option<f64> {
        match self.version {
            CgroupVersion::V2 => {
                let usec = stat_value(&self.read("cpu.stat")?, "usage_usec")?;
                Some(usec as f64 / 1e6)
            }
            CgroupVersion::V1 => {
                let nsec: u64 = self.read("cpuacct.usage")?.trim().parse().ok()?;
                Some(nsec as f64 / 1e9)
            }
        }
    }

    /// How often and how long the group was throttled: the number of periods in which it ran
    /// out of quota, and the total time its processes waited, in seconds.
    pub fn throttled(&self) -> Option<(u64, f64)> {
        let stat = self.read("cpu.stat")?;
        let periods = stat_value(&stat, "nr_throttled")?;
        let seconds = match self.version {
            CgroupVersion::V2 => stat_value(&stat, "throttled_usec")? as f64 / 1e6,
            CgroupVersion::V1 => stat_value(&stat, "throttled_time")? as f64 / 1e9,
        };
        Some((periods, seconds))
    }

    /// The group's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The group's hierarchy's interface version.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// Contents of one of the group's files.
    fn read(&self, file: &str) -> Option<String> {
        fs::read_to_string(self.dir.join(file)).ok()
    }
}

impl Drop for Cgroup {
    /// Waits up to a second for the group's processes to exit, then removes the directory. A
    /// group that still has processes cannot be removed; that error is ignored.
    fn drop(&mut self) {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while let Some(procs) = self.read("cgroup.procs") {
            if procs.trim().is_empty() || Instant::now() >= deadline {
                break;
            }
            thread::sleep(DRAIN_STEP);
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

/// CPU time (user + system) used so far by process `pid`, in seconds, from `/proc/<pid>/stat`.
///
/// Covers all of the process's threads; `None` if the process does not exist (any more).
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    cpu_seconds_from(&Path::new("/proc").join(pid.to_string()).join("stat"))
}

/// CPU time (user + system) used so far by the calling process, in seconds.
pub fn self_cpu_seconds() -> Option<f64> {
    cpu_seconds_from(Path::new("/proc/self/stat"))
}

/// CPU seconds from a `/proc/<pid>/stat` file.
fn cpu_seconds_from(stat: &Path) -> Option<f64> {
    let ticks = stat_cpu_ticks(&fs::read_to_string(stat).ok()?)?;
    Some(ticks as f64 / USER_HZ)
}

/// `utime + stime`, in clock ticks, from the text of `/proc/<pid>/stat`.
///
/// The second field is the command name in parentheses and may itself contain spaces and
/// parentheses, so fields are counted from the last `)`: what follows starts at field 3 (the
/// state), which puts `utime` (field 14) and `stime` (field 15) at positions 11 and 12.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Chooses the hierarchy to use from the text of `/proc/self/mounts`: the first `cgroup2` mount
/// whose controllers (as returned by `controllers`, the contents of its `cgroup.controllers`)
/// include `cpu`, else the first `cgroup` (v1) mount with the `cpu` option.
fn pick_from_mounts(
    mounts: &str,
    controllers: impl Fn(&Path) -> Option<String>,
) -> Option<(PathBuf, CgroupVersion)> {
    // Each line: device, mount point, file system type, options, dump, pass.
    let entries: Vec<(PathBuf, &str, &str)> = mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let mount = fields.next()?;
            let fstype = fields.next()?;
            let options = fields.next()?;
            Some((PathBuf::from(unescape_mount_path(mount)), fstype, options))
        })
        .collect();
    let v2 = entries.iter().find(|(mount, fstype, _)| {
        *fstype == "cgroup2"
            && controllers(mount).is_some_and(|list| list.split_whitespace().any(|c| c == "cpu"))
    });
    if let Some((mount, _, _)) = v2 {
        return Some((mount.clone(), CgroupVersion::V2));
    }
    entries
        .iter()
        .find(|(_, fstype, options)| *fstype == "cgroup" && options.split(',').any(|o| o == "cpu"))
        .map(|(mount, _, _)| (mount.clone(), CgroupVersion::V1))
}

/// Undoes the octal escapes (`\040` for a space, …) the kernel writes in mount points.
fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match octal {
            Some(digits) => {
                let value = digits.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The interface version of a directory given as the hierarchy's root.
fn version_of_dir(dir: &Path) -> Result<CgroupVersion, CgroupError> {
    let controllers = fs::read_to_string(dir.join("cgroup.controllers")).ok();
    let lists_cpu =
        controllers.as_deref().is_some_and(|list| list.split_whitespace().any(|c| c == "cpu"));
    if lists_cpu || dir.join("cpu.max").exists() {
        return Ok(CgroupVersion::V2);
    }
    if dir.join("cpu.cfs_quota_us").exists() {
        return Ok(CgroupVersion::V1);
    }
    let reason = if !dir.is_dir() {
        "no such directory".to_string()
    } else if let Some(list) = controllers {
        format!(
            "its cgroup.controllers lists {:?}, without cpu, and it has no cpu.max",
            list.trim()
        )
    } else {
        "it has neither cgroup.controllers nor cpu.max (v2) nor cpu.cfs_quota_us (v1)".to_string()
    };
    Err(CgroupError::NotACpuCgroup { dir: dir.to_path_buf(), reason })
}

/// Checks that groups can be made under `root` by creating and removing a probe directory.
fn probe_writable(root: &Path) -> Result<(), CgroupError> {
    let probe = root.join(format!("kvlab-probe-{}", std::process::id()));
    let not_writable = |source| CgroupError::NotWritable { dir: root.to_path_buf(), source };
    match fs::create_dir(&probe) {
        Ok(()) => {}
        // Left by an earlier process with the same pid; removing it is the test.
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(not_writable(err)),
    }
    fs::remove_dir(&probe).map_err(not_writable)
}

/// On v2, makes sure children of `root` get the `cpu` controller.
fn enable_cpu_for_children(root: &Path) -> Result<(), CgroupError> {
    let file = root.join("cgroup.subtree_control");
    let enabled =
        fs::read_to_string(&file).is_ok_and(|list| list.split_whitespace().any(|c| c == "cpu"));
    if enabled {
        return Ok(());
    }
    fs::write(&file, "+cpu").map_err(|source| CgroupError::ControllerNotEnabled { file, source })
}

/// The quota for `cpus` CPUs per period of `period_us`, in microseconds.
fn quota_us(cpus: f64, period_us: u64) -> Result<u64, CgroupError> {
    if !cpus.is_finite() || cpus <= 0.0 {
        return Err(CgroupError::InvalidCpus { value: cpus });
    }
    // `as` saturates; a quota beyond the kernel's limit is refused when written.
    Ok(((cpus * period_us as f64).round() as u64).max(MIN_QUOTA_US))
}

/// Writes `value` to a cgroup file.
fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(|source| CgroupError::Io {
        action: format!("write {value:?} to"),
        path: path.to_path_buf(),
        source,
    })
}

/// The number after `key` in a `cpu.stat`-style file of `key value` lines.
fn stat_value(stat: &str, key: &str) -> Option<u64> {
    stat.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        (fields.next()? == key).then_some(())?;
        fields.next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed with everything in it on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("kvlab-cgroup-test-{}-{tag}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    /// Burns CPU on this thread for about `wall`.
    fn burn(wall: Duration) {
        let start = Instant::now();
        let mut x = 1u64;
        while start.elapsed() < wall {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        std::hint::black_box(x);
    }

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        // Fields 14 and 15 (utime, stime) are 1234 and 56; the name contains ") (" and spaces
        // and would shift every field if the line were split naively.
        let line = "4242 (my (weird) (cmd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 56 \
                    0 0 20 0 3 0 987654 12345678 900 18446744073709551615 1 1 0 0 0 0 0 0 0 0 \
                    0 0 17 1 0 0 0 0 0";
        assert_eq!(stat_cpu_ticks(line), Some(1290));
        let spaces = "7 (a ) (b c) R 1 7 7 0 -1 0 0 0 0 0 9 1 0 0 20 0 1 0 5 0 0";
        assert_eq!(stat_cpu_ticks(spaces), Some(10));
        assert_eq!(stat_cpu_ticks("7 (truncated) R 1 7"), None);
        assert_eq!(stat_cpu_ticks("no parenthesis 1 2 3 4 5 6 7 8 9 10 11 12 13"), None);
    }

    #[test]
    fn process_cpu_seconds_grows_while_burning_cpu() {
        let pid = std::process::id();
        let before = process_cpu_seconds(pid).expect("own /proc/<pid>/stat");
        assert!(self_cpu_seconds().expect("/proc/self/stat") >= before);
        let start = Instant::now();
        let mut after = before;
        // Other tests run in this process too, so the total can only grow faster; on a loaded
        // machine this thread may get less than its wall time, hence the loop.
        while after - before < 0.05 {
            assert!(start.elapsed() < Duration::from_secs(20), "CPU time stuck at {after}");
            burn(Duration::from_millis(50));
            after = process_cpu_seconds(pid).expect("own /proc/<pid>/stat");
        }
        let cores = thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let bound = start.elapsed().as_secs_f64() * cores + 0.05;
        assert!(
            after - before <= bound,
            "grew {} s in a window allowing {bound} s",
            after - before
        );
        assert!(self_cpu_seconds().expect("/proc/self/stat") >= after);
        assert_eq!(process_cpu_seconds(u32::MAX), None);
    }

    #[test]
    fn picks_v1_on_a_hybrid_machine_whose_cgroup2_has_no_cpu() {
        let mounts = "\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0
cgroup /sys/fs/cgroup/cpuset cgroup rw,nosuid,nodev,noexec,relatime,cpuset 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0
";
        let controllers = |mount: &Path| {
            (mount == Path::new("/sys/fs/cgroup/unified")).then(|| "hugetlb\n".to_string())
        };
        assert_eq!(
            pick_from_mounts(mounts, controllers),
            Some((PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"), CgroupVersion::V1))
        );
        // `cpuacct` and `cpuset` alone are not `cpu`.
        let without_cpu = "cgroup /sys/fs/cgroup/cpuacct cgroup rw,cpuacct 0 0\n\
                           cgroup /sys/fs/cgroup/cpuset cgroup rw,cpuset 0 0\n";
        assert_eq!(pick_from_mounts(without_cpu, controllers), None);
    }

    #[test]
    fn picks_v2_on_a_unified_machine() {
        let mounts = "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n\
                      cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n";
        let controllers = |mount: &Path| {
            (mount == Path::new("/sys/fs/cgroup")).then(|| "cpuset cpu io memory pids\n".into())
        };
        assert_eq!(
            pick_from_mounts(mounts, controllers),
            Some((PathBuf::from("/sys/fs/cgroup"), CgroupVersion::V2))
        );
        // Unreadable controllers, or a list with only `cpuset`, do not count.
        assert_eq!(pick_from_mounts(mounts, |_| None), None);
        assert_eq!(pick_from_mounts(mounts, |_| Some("cpuset io".into())), None);
    }

    #[test]
    fn mount_points_are_unescaped() {
        let mounts = "cgroup2 /mnt/my\\040cgroups cgroup2 rw 0 0\n";
        let picked = pick_from_mounts(mounts, |mount| {
            (mount == Path::new("/mnt/my cgroups")).then(|| "cpu".to_string())
        });
        assert_eq!(picked, Some((PathBuf::from("/mnt/my cgroups"), CgroupVersion::V2)));
        assert_eq!(unescape_mount_path("a\\134b\\011c\\9"), "a\\b\tc\\9");
    }

    #[test]
    fn fake_v1_hierarchy_gets_period_then_quota() {
        let tmp = TempDir::new("v1");
        for file in ["cpu.cfs_quota_us", "cpu.cfs_period_us", "cgroup.procs"] {
            fs::write(tmp.0.join(file), "").unwrap();
        }
        let budgets = CpuBudgets::detect(Some(&tmp.0)).unwrap();
        assert_eq!(budgets.version(), CgroupVersion::V1);
        assert_eq!(budgets.root(), tmp.0.as_path());
        assert_eq!(budgets.describe(), format!("cgroup v1 at {}", tmp.0.display()));
        // The probe directory is gone again.
        let leftovers: Vec<_> = fs::read_dir(&tmp.0).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(leftovers.iter().all(|p| !p.is_dir()), "left behind: {leftovers:?}");

        let group = budgets.create("node-1", 0.25).unwrap();
        assert_eq!(group.dir(), tmp.0.join("node-1").as_path());
        assert_eq!(group.version(), CgroupVersion::V1);
        assert_eq!(read(&group.dir().join("cpu.cfs_quota_us")), "2500");
        assert_eq!(read(&group.dir().join("cpu.cfs_period_us")), "10000");
        group.add_process(4242).unwrap();
        assert_eq!(read(&group.dir().join("cgroup.procs")), "4242");

        // No cpuacct in this hierarchy: usage is unknown, throttling is in cpu.stat.
        assert_eq!(group.cpu_seconds(), None);
        assert_eq!(group.throttled(), None);
        fs::write(
            group.dir().join("cpu.stat"),
            "nr_periods 40\nnr_throttled 7\nthrottled_time 35000000\n",
        )
        .unwrap();
        assert_eq!(group.throttled(), Some((7, 0.035)));
        fs::write(group.dir().join("cpuacct.usage"), "1500000000\n").unwrap();
        assert_eq!(group.cpu_seconds(), Some(1.5));

        // A second create of the same name (a crashed earlier run) reuses the directory.
        let again = budgets.create("node-1", 2.0).unwrap();
        assert_eq!(read(&again.dir().join("cpu.cfs_quota_us")), "20000");
        // Tiny budgets are raised to the kernel's 1 ms minimum.
        let tiny = budgets.create("node-2", 0.001).unwrap();
        assert_eq!(read(&tiny.dir().join("cpu.cfs_quota_us")), "1000");
    }

    #[test]
    fn fake_v2_hierarchy_gets_cpu_max_and_enables_the_controller() {
        let tmp = TempDir::new("v2");
        fs::write(tmp.0.join("cgroup.controllers"), "cpu io memory\n").unwrap();
        fs::write(tmp.0.join("cgroup.subtree_control"), "io\n").unwrap();
        let budgets = CpuBudgets::detect(Some(&tmp.0)).unwrap();
        assert_eq!(budgets.version(), CgroupVersion::V2);
        assert_eq!(budgets.period_us(), PERIOD_US);
        assert_eq!(budgets.describe(), format!("cgroup v2 at {}", tmp.0.display()));
        // `cpu` was missing from subtree_control, so it was asked for.
        assert_eq!(read(&tmp.0.join("cgroup.subtree_control")), "+cpu");

        let group = budgets.create("node-1", 0.25).unwrap();
        assert_eq!(read(&group.dir().join("cpu.max")), "2500 10000");
        assert_eq!(
            budgets.create("node-2", 1.5).map(|g| read(&g.dir().join("cpu.max"))).unwrap(),
            "15000 10000"
        );
        group.add_process(17).unwrap();
        assert_eq!(read(&group.dir().join("cgroup.procs")), "17");
        fs::write(
            group.dir().join("cpu.stat"),
            "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 100\n\
             nr_throttled 3\nthrottled_usec 12500\n",
        )
        .unwrap();
        assert_eq!(group.cpu_seconds(), Some(2.5));
        assert_eq!(group.throttled(), Some((3, 0.0125)));
    }

    #[test]
    fn v2_subtree_control_already_enabled_is_left_alone() {
        let tmp = TempDir::new("v2-enabled");
        fs::write(tmp.0.join("cpu.max"), "max 100000\n").unwrap();
        fs::write(tmp.0.join("cgroup.subtree_control"), "cpu memory\n").unwrap();
        let budgets = CpuBudgets::detect(Some(&tmp.0)).unwrap();
        assert_eq!(budgets.version(), CgroupVersion::V2);
        assert_eq!(read(&tmp.0.join("cgroup.subtree_control")), "cpu memory\n");
    }

    #[test]
    fn dir_without_cpu_files_is_rejected_naming_it() {
        let tmp = TempDir::new("none");
        fs::write(tmp.0.join("cgroup.procs"), "").unwrap();
        let err = CpuBudgets::detect(Some(&tmp.0)).unwrap_err();
        assert!(matches!(err, CgroupError::NotACpuCgroup { .. }), "{err:?}");
        assert!(err.to_string().contains(&tmp.0.display().to_string()), "{err}");

        // A v2 directory whose controllers lack cpu says what it lists.
        fs::write(tmp.0.join("cgroup.controllers"), "hugetlb\n").unwrap();
        let err = CpuBudgets::detect(Some(&tmp.0)).unwrap_err().to_string();
        assert!(err.contains(&tmp.0.display().to_string()) && err.contains("hugetlb"), "{err}");

        let missing = tmp.0.join("missing");
        let err = CpuBudgets::detect(Some(&missing)).unwrap_err().to_string();
        assert!(err.contains(&missing.display().to_string()), "{err}");
    }

    #[test]
    fn unwritable_root_is_reported_with_its_directory() {
        let tmp = TempDir::new("probe");
        fs::write(tmp.0.join("cpu.cfs_quota_us"), "").unwrap();
        // A file where the probe directory would go cannot be removed as a directory.
        fs::write(tmp.0.join(format!("kvlab-probe-{}", std::process::id())), "").unwrap();
        let err = CpuBudgets::detect(Some(&tmp.0)).unwrap_err();
        assert!(matches!(err, CgroupError::NotWritable { .. }), "{err:?}");
        assert!(err.to_string().contains(&tmp.0.display().to_string()), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn invalid_budgets_and_names_are_rejected() {
        let tmp = TempDir::new("invalid");
        fs::write(tmp.0.join("cpu.cfs_quota_us"), "").unwrap();
        let budgets = CpuBudgets::detect(Some(&tmp.0)).unwrap();
        for (cpus, text) in [(0.0, "0"), (-1.0, "-1"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
            let err = budgets.create("bad", cpus).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidCpus { .. }), "{err:?}");
            assert!(err.to_string().contains(&format!("budget {text}:")), "{err}");
        }
        for name in ["", ".", "..", "a/b"] {
            let err = budgets.create(name, 1.0).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidName { .. }), "{name:?}: {err:?}");
        }
        assert!(!tmp.0.join("bad").exists());
    }

    /// Needs root on a machine with a cgroup hierarchy that has the cpu controller; run with
    /// `cargo test -- --ignored --nocapture`.
    #[test]
    #[ignore = "creates a real cgroup; needs root"]
    fn real_cgroup_limits_a_process() {
        let budgets = CpuBudgets::detect(None).unwrap();
        println!("detected: {}", budgets.describe());
        let group = budgets.create("kvlab-selftest", 0.5).unwrap();
        let dir = group.dir().to_path_buf();
        println!("group: {}", dir.display());
        println!("cpu.max / quota: {:?}", read_limit(&group));

        let mut sleeper = Command::new("sleep").arg("1").spawn().unwrap();
        group.add_process(sleeper.id()).unwrap();
        println!(
            "sleep pid {} in cgroup.procs: {:?}",
            sleeper.id(),
            read(&dir.join("cgroup.procs"))
        );

        // A busy loop limited to half a CPU should get about 0.5 s per second.
        let mut spinner = Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap();
        group.add_process(spinner.id()).unwrap();
        let start_cpu = process_cpu_seconds(spinner.id()).unwrap();
        let start = Instant::now();
        thread::sleep(Duration::from_secs(1));
        let used = process_cpu_seconds(spinner.id()).unwrap() - start_cpu;
        let wall = start.elapsed().as_secs_f64();
        spinner.kill().unwrap();
        spinner.wait().unwrap();
        println!("spinner used {used:.2} s CPU in {wall:.2} s wall");
        println!("throttled: {:?}", group.throttled());
        println!("cpu_seconds: {:?}", group.cpu_seconds());
        println!("sleep exited: {}", sleeper.wait().unwrap());
        assert!(used <= 0.5 * wall + 0.1, "limit not enforced: {used} s in {wall} s");
        let (periods, seconds) = group.throttled().unwrap();
        assert!(periods > 10 && seconds > 0.1, "{periods} periods, {seconds} s");
        drop(group);
        println!("directory removed after drop: {}", !dir.exists());
        assert!(!dir.exists());
    }

    fn read_limit(group: &Cgroup) -> String {
        match group.version() {
            CgroupVersion::V2 => read(&group.dir().join("cpu.max")),
            CgroupVersion::V1 => format!(
                "quota {} period {}",
                read(&group.dir().join("cpu.cfs_quota_us")).trim(),
                read(&group.dir().join("cpu.cfs_period_us")).trim()
            ),
        }
    }
}
