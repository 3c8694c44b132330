//! Shared test helpers: the fixture results directory (a 2 × 2 suite, 2 repetitions) and its
//! generator.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

/// Test result type.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The committed fixture.
pub fn fixture() -> PathBuf {
    Path::new(&manifest_dir()).join("tests/fixtures/suite-2x2")
}

/// A copy of the fixture in a fresh temporary directory (figures and reports are written into
/// the results directory, never into the source tree).
pub fn fixture_copy() -> Result<(tempfile::TempDir, PathBuf), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("suite-2x2");
    copy_dir(&fixture(), &dir)?;
    Ok((tmp, dir))
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The configurations: (read policy, workload, mean throughput, p50 µs).
pub const CONFIGS: [(&str, &str, f64, f64); 4] = [
    ("leader", "a", 20_000.0, 180.0),
    ("leader", "b", 30_000.0, 120.0),
    ("follower", "a", 26_000.0, 140.0),
    ("follower", "b", 38_000.0, 95.0),
];

/// The legend names of the configurations.
pub fn labels() -> Vec<String> {
    CONFIGS.iter().map(|c| format!("{} / {}", c.0, c.1)).collect()
}

/// A small seeded generator (64-bit LCG), so the fixture is the same on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next(), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// One summary row's inputs to `aggregate.csv`: op, latency, throughput, mean, p99.
type AggregateInput = (String, String, f64, f64, f64);

const SECONDS: u64 = 5;
const OPS: [(&str, f64); 2] = [("READ", 0.5), ("UPDATE", 0.5)];

/// Writes the fixture results directory into `dir` (created). Deterministic.
pub fn write_fixture(dir: &Path) -> TestResult {
    std::fs::create_dir_all(dir)?;
    let mut rng = Lcg(42);
    let axes = "store.read_policy,workload";
    let mut summary = format!(
        "run,{axes},rep,phase,op,latency,count,errors,throughput_ops,mean_us,p50_us,p90_us,p95_us,\
         p99_us,p999_us,p9999_us,max_us,measured_s\n"
    );
    let mut series = format!(
        "run,{axes},rep,phase,second,op,count,errors,throughput_ops,p50_us,p99_us,max_us\n"
    );
    let mut nodes = format!(
        "run,{axes},rep,node,zone,reads_leader,reads_lease,reads_follower,reads_mixed,reads_stale,\
         writes_applied,readindex_rounds,msgs_sent,msgs_recv,leaders,served\n"
    );
    let mut errors = format!("run,{axes},rep,phase,op,error,count\n");
    let mut staleness = format!("run,{axes},rep,metric,count,mean,p50,p90,p99,p999,max\n");
    let mut aggregate = format!(
        "config,{axes},phase,op,latency,reps,throughput_mean,throughput_ci95,mean_us_mean,\
         mean_us_ci95,p50_us_mean,p50_us_ci95,p99_us_mean,p99_us_ci95\n"
    );
    let mut runs_json = Vec::new();
    for (c, &(policy, workload, thr, p50)) in CONFIGS.iter().enumerate() {
        let config = format!("c{:02}", c + 1);
        let mut per_rep: Vec<Vec<AggregateInput>> = Vec::new();
        for rep in 1..=2u32 {
            let run = format!("{config}-r{rep}");
            let key = format!("{run},{policy},{workload},{rep}");
            let thr_rep = thr * (1.0 + 0.015 * rng.normal());
            let p50_rep = p50 * (1.0 + 0.02 * rng.normal());
            let mut rows = Vec::new();
            for (op, share) in OPS.iter().copied().chain([("ALL", 1.0)]) {
                let t = thr_rep * share;
                let count = (t * SECONDS as f64).round();
                let op_p50 = if op == "UPDATE" { p50_rep * 1.6 } else { p50_rep };
                for (latency, tail) in [("service", 1.0), ("intended", 1.8)] {
                    let q = [1.0, 1.7, 2.1, 3.2 * tail, 6.0 * tail, 11.0 * tail, 15.0 * tail]
                        .map(|f| op_p50 * f);
                    let errs = if op != "READ" && c == 0 { 3 } else { 0 };
                    writeln!(
                        summary,
                        "{key},run,{op},{latency},{count},{errs},{t:.3},{:.3},{:.3},{:.3},{:.3},\
                         {:.3},{:.3},{:.3},{:.3},{SECONDS}.000",
                        op_p50 * 1.3,
                        q[0],
                        q[1],
                        q[2],
                        q[3],
                        q[4],
                        q[5],
                        q[6]
                    )?;
                    rows.push((op.to_string(), latency.to_string(), t, op_p50 * 1.3, q[3]));
                }
                if op == "UPDATE" && c == 0 {
                    writeln!(errors, "{key},run,UPDATE,timeout,3")?;
                }
            }
            per_rep.push(rows);
            for s in 0..SECONDS {
                for (op, share) in OPS {
                    let wobble = 1.0 + 0.03 * rng.normal();
                    let dip = if c == 1 && rep == 1 && s == 3 { 0.4 } else { 1.0 };
                    let t = thr * share * wobble * dip;
                    let p99 = p50 * 3.2 * (1.0 + 0.05 * rng.normal()) / dip;
                    writeln!(
                        series,
                        "{key},run,{s},{op},{:.0},0,{t:.3},{:.3},{p99:.3},{:.3}",
                        t,
                        p50 * wobble,
                        p99 * 2.0
                    )?;
                }
            }
            let total = (thr_rep * SECONDS as f64).round();
            for node in 1..=3u32 {
                let served = match policy {
                    "leader" if node == 1 => total,
                    "leader" => 0.0,
                    _ => (total / 3.0 * (1.0 + 0.05 * rng.normal())).round(),
                };
                let (leader_reads, follower_reads) =
                    if policy == "leader" { (served, 0.0) } else { (0.0, served) };
                writeln!(
                    nodes,
                    "{key},{node},z{node},{leader_reads},0,{follower_reads},0,0,{},0,{},{},{},{}",
                    (total / 2.0).round(),
                    (total * 0.3).round(),
                    (total * 0.3).round(),
                    u32::from(node == 1),
                    served
                )?;
            }
            if policy == "follower" {
                let n = (total * 0.1).round();
                let age =
                    [4.0, 9.0, 21.0, 40.0, 55.0].map(|v: f64| v * (1.0 + 0.05 * rng.normal()));
                writeln!(
                    staleness,
                    "{key},age_ms,{n},{:.3},{:.0},{:.0},{:.0},{:.0},{:.0}",
                    age[0] * 1.2,
                    age[0],
                    age[1],
                    age[2],
                    age[3],
                    age[4]
                )?;
                writeln!(staleness, "{key},lag_entries,{n},1.400,1,2,4,7,9")?;
            }
            write_hlogs(dir, &run, p50_rep, &mut rng)?;
            runs_json.push(format!(
                r#"{{"id":"{run}","axes":[{{"name":"store.read_policy","value":"{policy}"}},{{"name":"workload","value":"{workload}"}}],"rep":{rep},"seed":{},"properties":{{"store.read_policy":"{policy}","workload":"{workload}","recordcount":"1000"}},"load":null,"run":{{"started":"2026-11-26T04:00:00Z","ended":"2026-11-26T04:00:06Z","elapsed_s":6.0,"measured_s":5.0,"operations_issued":{total},"completed":true}},"completed":true,"engine_stats":{{}},"warnings":[]}}"#,
                1000 + c as u32 * 10 + rep
            ));
        }
        // aggregate.csv, as the harness computes it (t with 1 degree of freedom for 2 reps).
        let rows0 = per_rep.first().cloned().unwrap_or_default();
        for (k, (op, latency, ..)) in rows0.iter().enumerate() {
            let vals: Vec<(f64, f64, f64)> =
                per_rep.iter().filter_map(|r| r.get(k)).map(|r| (r.2, r.3, r.4)).collect();
            let stat = |f: &dyn Fn(&(f64, f64, f64)) -> f64| {
                let v: Vec<f64> = vals.iter().map(f).collect();
                let m = v.iter().sum::<f64>() / v.len() as f64;
                let s2 = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64;
                (m, 12.706 * (s2 / v.len() as f64).sqrt())
            };
            let (t, tc) = stat(&|v| v.0);
            let (m, mc) = stat(&|v| v.1);
            let (p99, p99c) = stat(&|v| v.2);
            let (p50m, p50c) = stat(&|v| v.1 / 1.3);
            writeln!(
                aggregate,
                "{config},{policy},{workload},run,{op},{latency},2,{t:.3},{tc:.3},{m:.3},{mc:.3},\
                 {p50m:.3},{p50c:.3},{p99:.3},{p99c:.3}"
            )?;
        }
    }
    std::fs::write(dir.join("summary.csv"), summary)?;
    std::fs::write(dir.join("aggregate.csv"), aggregate)?;
    std::fs::write(dir.join("timeseries.csv"), series)?;
    std::fs::write(dir.join("nodes.csv"), nodes)?;
    std::fs::write(dir.join("errors.csv"), errors)?;
    std::fs::write(dir.join("staleness.csv"), staleness)?;
    std::fs::write(
        dir.join("events.csv"),
        "run,store.read_policy,workload,rep,second,kind,detail\n\
         c02-r1,leader,b,1,3,leader-change,region 1 leader 1 -> 2\n",
    )?;
    let suite_text = "# Does reading from followers relieve the leader's hot spot?\\n\
                      [matrix]\\nstore.read_policy = [\\\"leader\\\", \\\"follower\\\"]\\n\
                      workload = [\\\"a\\\", \\\"b\\\"]\\n";
    let run_json = format!(
        r#"{{
  "command": "kvlab suite harness/suites/fixture.toml --repetitions 2",
  "kind": "suite",
  "question": "Does reading from followers relieve the leader's hot spot?",
  "axes": [{{"name": "store.read_policy", "values": ["leader", "follower"]}}, {{"name": "workload", "values": ["a", "b"]}}],
  "repetitions": 2,
  "suite_text": "{suite_text}",
  "kvlab_version": "0.1.0",
  "git_commit": "0123456789abcdef0123456789abcdef01234567",
  "machine": {{"cores": 2, "memory_bytes": 8589934592, "os": "Debian GNU/Linux 12", "kernel": "6.1.0", "arch": "x86_64", "cpu": "Test CPU @ 2.0GHz"}},
  "written": "2026-11-26T04:00:00Z",
  "finished": true,
  "completed": true,
  "runs": [
    {}
  ]
}}
"#,
        runs_json.join(",\n    ")
    );
    std::fs::write(dir.join("run.json"), run_json)?;
    Ok(())
}

/// Two one-second intervals of service and intended latency (ns) per op for one run.
fn write_hlogs(dir: &Path, run: &str, p50_us: f64, rng: &mut Lcg) -> TestResult {
    let hdir = dir.join("hlog").join(run);
    std::fs::create_dir_all(&hdir)?;
    // Like the harness: one log per op (none for ALL), one histogram per second.
    for ((op, share), (latency, tail)) in
        OPS.iter().flat_map(|op| [(*op, ("service", 0.45)), (*op, ("intended", 0.65))])
    {
        let p50_us = if op == "UPDATE" { p50_us * 1.6 } else { p50_us };
        let mut out = Vec::new();
        {
            let mut serializer = V2DeflateSerializer::new();
            let start = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
            let mut builder = IntervalLogWriterBuilder::new();
            builder
                .add_comment(&format!("kvlab fixture {run} {op} {latency} latency, values in ns"))
                .with_start_time(start)
                .with_base_time(start)
                .with_max_value_divisor(1e9);
            let mut log = builder.begin_log_with(&mut out, &mut serializer)?;
            for second in 0..2u64 {
                // Two significant digits keep the fixture small.
                let mut h: Histogram<u64> = Histogram::new_with_bounds(1, 60_000_000_000, 2)?;
                for _ in 0..(400.0 * share) as usize {
                    let v = p50_us * 1000.0 * (tail * rng.normal()).exp();
                    h.record(v.max(1.0) as u64)?;
                }
                log.write_histogram(&h, Duration::from_secs(second), Duration::from_secs(1), None)
                    .map_err(|e| format!("{e:?}"))?;
            }
        }
        std::fs::write(hdir.join(format!("run-{op}-{latency}.hlog")), out)?;
    }
    Ok(())
}

/// Turns the fixture suite into a single run (`kvlab run`): configuration c01's first
/// repetition, without axis columns, run id `run`.
pub fn single_run(dir: &Path) -> TestResult {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if name == "aggregate.csv" {
            std::fs::remove_file(&path)?;
            continue;
        }
        if !name.ends_with(".csv") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            if i > 0 && !line.starts_with("c01-r1,") {
                continue;
            }
            let mut cells: Vec<&str> = line.split(',').collect();
            cells.drain(1..3);
            if i > 0 {
                cells[0] = "run";
            }
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        std::fs::write(&path, out)?;
    }
    let hlog = dir.join("hlog");
    std::fs::rename(hlog.join("c01-r1"), hlog.join("run"))?;
    for entry in std::fs::read_dir(&hlog)? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n != "run") {
            std::fs::remove_dir_all(path)?;
        }
    }
    Ok(())
}

/// The package directory of this checkout: cargo sets `CARGO_MANIFEST_DIR` when it runs tests and
/// benches, which stays right when a shared target directory holds a binary built from another
/// checkout; the compile-time value is the fallback.
fn manifest_dir() -> std::ffi::OsString {
    std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}
