//! The `kvlab` command-line tool. `kvlab --help` explains every option.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Args, Parser, Subcommand};
use kvlab_harness::commands::{run_single, run_suite, Output};
use kvlab_harness::experiment::Mode;
use kvlab_harness::runner::StopFlag;
use kvlab_harness::settings::Settings;
use kvlab_harness::{Error, Result};
use kvlab_workloads::{parse_override, Properties};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// kvlab: YCSB-style and hot-key benchmarks of a replicated multi-Raft key-value store.
#[derive(Parser)]
#[command(name = "kvlab", version, about, long_about = None, after_help = "\
Examples:
  kvlab run -P workloads/ycsb/workloadc --db store -p store.read_policy=follower --threads 8 --duration 30s
  kvlab load -P workloads/ycsb/workloada --db engine -p engine.dir=/tmp/kv
  kvlab run  -P workloads/ycsb/workloada --db engine -p engine.dir=/tmp/kv --target 20000
  kvlab suite harness/suites/quick.toml
  kvlab run -P workloads/check/register --check --nemesis leader-transfer,partition --nemesis-interval 2s
  kvlab check results/register/2026-11-26T04-20-00Z/trace.csv")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load phase: insert the workload's records (YCSB's -load).
    #[command(
        after_help = "Example:\n  kvlab load -P workloads/ycsb/workloada --db store -p store.dir=/tmp/kvlab-store"
    )]
    Load(RunArgs),
    /// Run phase: the measured operation mix (YCSB's -t); loads first when the store is
    /// ephemeral or empty.
    #[command(
        after_help = "Example:\n  kvlab run -P workloads/hotkey/single --db store -p store.read_policy=follower --threads 8 --warmup 2s --duration 20s"
    )]
    Run(RunArgs),
    /// Run every configuration of a suite file (TOML) with repetitions, then write its figures
    /// and report.
    #[command(
        after_help = "Example:\n  kvlab suite harness/suites/follower-read.toml --reps 5 -p recordcount=100000"
    )]
    Suite(SuiteArgs),
    /// Draw the figures of a results directory into DIR/plots/ (PNG and SVG).
    #[command(after_help = "Example:\n  kvlab plot results/quick/2026-11-26T04-20-00Z")]
    Plot {
        /// The results directory.
        dir: PathBuf,
    },
    /// Write DIR/report.md and a self-contained DIR/report.html (figures, tables, environment,
    /// the command that reproduces the run).
    #[command(after_help = "Example:\n  kvlab report results/quick/2026-11-26T04-20-00Z")]
    Report {
        /// The results directory.
        dir: PathBuf,
    },
    /// Compare two results directories: per configuration and metric, the ratio B/A with its
    /// 95 % confidence interval, flagging significant regressions and improvements. Writes
    /// compare.html into B (or --html PATH). Exits with 1 when a regression is flagged.
    #[command(
        after_help = "Example:\n  kvlab compare results/quick/before results/quick/after --threshold 0.1"
    )]
    Compare {
        /// The baseline results directory.
        a: PathBuf,
        /// The results directory to compare with the baseline.
        b: PathBuf,
        /// Smallest relative change that counts (noise threshold), e.g. 0.05 for 5 %.
        #[arg(long, default_value_t = 0.05)]
        threshold: f64,
        /// Where to write the HTML comparison (default B/compare.html).
        #[arg(long, value_name = "PATH")]
        html: Option<PathBuf>,
    },
    /// Check a trace written in checking mode (--check): every key's history of reads and
    /// writes must be linearizable (stale reads: within the staleness they reported). Prints
    /// a minimal counter-example for each violation and exits with 1 when there is one.
    #[command(
        after_help = "Example:\n  kvlab check results/register/2026-11-26T04-20-00Z/trace.csv"
    )]
    Check {
        /// The trace (CSV) to check.
        trace: PathBuf,
        /// Search budget per key (memoised configurations) before a key is reported
        /// inconclusive.
        #[arg(long, value_name = "N", default_value_t = 5_000_000)]
        max_states: usize,
        /// Threads checking keys in parallel (0: one per CPU).
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
    },
    /// Crash durability: a child process runs a 3-node cluster on a persistent engine and
    /// reports every acknowledged write; it is killed with SIGKILL at random moments, the
    /// cluster restarts from the same directories and every acknowledged write must be there.
    /// Exits with 1 when a write was lost.
    #[command(
        after_help = "Example:\n  kvlab crash-test --dir /tmp/kvlab-crash --cycles 50\n  kvlab crash-test --dir /tmp/kvlab-crash-fjall --engine fjall --raft-log raft-engine"
    )]
    CrashTest {
        /// The cluster's directory (created; kept between cycles; must not hold another
        /// cluster's data).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Kill-restart-verify cycles.
        #[arg(long, value_name = "N", default_value_t = 20)]
        cycles: usize,
        /// Seed of the kill times.
        #[arg(long, value_name = "N", default_value_t = 1)]
        seed: u64,
        /// fsync every log write, the engine's `sync` option (false: a process crash must
        /// still lose nothing).
        #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
        sync: bool,
        /// The engine (the `engine` property): rocksdb, fjall or redb.
        #[arg(long, value_name = "ENGINE", default_value = "rocksdb")]
        engine: String,
        /// Where the Raft log lives (the `store.raft_log` property): same, separate or
        /// raft-engine.
        #[arg(long, value_name = "LOG", default_value = "same")]
        raft_log: String,
        /// Writer threads in the child.
        #[arg(long, value_name = "N", default_value_t = 4)]
        threads: usize,
        /// Kill the child at a random time up to this long after it is ready.
        #[arg(long, value_name = "SECS", default_value = "1.5s")]
        max_delay: String,
    },
    /// Runs one store node as a process of its own, serving gRPC at the address its cluster
    /// file gives (README "Running nodes on several machines").
    #[command(after_help = "Example:\n  kvlab node --cluster cluster.toml --id 1")]
    Node {
        /// The cluster file: nodes with their addresses and directories, and the store
        /// properties (see README).
        #[arg(long, value_name = "FILE")]
        cluster: PathBuf,
        /// Which node of the file this process is.
        #[arg(long, value_name = "N")]
        id: u64,
        /// Exit when stdin reaches end-of-file (the process that started the node ended).
        #[arg(long)]
        lifeline: bool,
    },
    /// Starts, stops or shows a process cluster that outlives the command (drive it with
    /// `--db store -p store.endpoints=ADDR,…`).
    #[command(
        after_help = "Example:\n  kvlab cluster start cluster.toml\n  kvlab run -P workloads/ycsb/workloadc --db store -p store.endpoints=127.0.0.1:20161,127.0.0.1:20162,127.0.0.1:20163\n  kvlab cluster stop cluster.toml"
    )]
    Cluster {
        /// start, stop or status.
        #[arg(value_enum)]
        action: ClusterAction,
        /// The cluster file.
        file: PathBuf,
    },
    /// Merges the results directories of several client machines (`kvlab run --client-id I
    /// --clients N`) into one, adding their HdrHistograms for true percentiles.
    #[command(after_help = "Example:\n  kvlab merge results/c1 results/c2 --out results/merged")]
    Merge {
        /// The clients' results directories.
        #[arg(required = true, num_args = 2..)]
        dirs: Vec<PathBuf>,
        /// Where the merged results go (must be empty or absent).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// One local etcd member (started by the etcd binding): arms SIGKILL as this process's
    /// parent-death signal, then execs the etcd binary with its arguments.
    #[command(hide = true)]
    EtcdMember {
        /// The kvlab process that started it (the member must not outlive it).
        #[arg(long)]
        parent: u32,
        /// The etcd binary and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// The crash test's child process (started by crash-test).
    #[command(hide = true)]
    CrashChild {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        cycle: u64,
        #[arg(long, action = clap::ArgAction::Set)]
        sync: bool,
        #[arg(long)]
        engine: String,
        #[arg(long)]
        raft_log: String,
        #[arg(long)]
        threads: usize,
        #[arg(long)]
        keys: usize,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ClusterAction {
    /// Start every node of the file on this machine and wait for leaders.
    Start,
    /// End the nodes `start` started.
    Stop,
    /// Ask every node how it is.
    Status,
}

#[derive(Args)]
struct RunArgs {
    /// Workload property file; repeat to merge several, later files win.
    #[arg(short = 'P', value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Set a property (KEY=VALUE); repeatable, wins over files. Any setting is a property:
    /// e.g. -p store.read_policy=stale -p rocksdb.preset=bloom.
    #[arg(short = 'p', value_name = "KEY=VALUE")]
    props: Vec<String>,
    /// Binding: store (replicated store), engine (one engine, no replication), null (no-op).
    /// Property: db.
    #[arg(long, value_name = "BINDING")]
    db: Option<String>,
    /// Client threads (property threadcount), e.g. --threads 8.
    #[arg(long, value_name = "N")]
    threads: Option<String>,
    /// Operations each client thread keeps in flight (property inflight, default 1; more needs
    /// the store binding), e.g. --inflight 32.
    #[arg(long, value_name = "N")]
    inflight: Option<String>,
    /// Total target throughput in ops/s; enables coordinated-omission-corrected "intended"
    /// latency (property target), e.g. --target 50000.
    #[arg(long, value_name = "OPS_PER_SEC")]
    target: Option<String>,
    /// Seed of every random choice (property seed), e.g. --seed 42.
    #[arg(long, value_name = "N")]
    seed: Option<String>,
    /// Run-phase length instead of operationcount (property duration), e.g. --duration 30s.
    #[arg(long, value_name = "SECS")]
    duration: Option<String>,
    /// Leading part of the run excluded from every figure (property warmup), e.g. --warmup 5s.
    #[arg(long, value_name = "SECS")]
    warmup: Option<String>,
    /// Seconds between status lines (property status.interval), e.g. --status 5.
    #[arg(long, value_name = "SECS")]
    status: Option<String>,
    /// Results directory (must be empty or absent); default results/<name>/<timestamp>/.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write every operation as CSV to FILE, the load's and the run's, each row naming its
    /// phase (property trace).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Checking mode (property check=true): writes carry unique values, the trace records
    /// what each read saw, and the run ends with the history checker (exit 1 on a violation).
    #[arg(long)]
    check: bool,
    /// Faults injected during the run (property nemesis): comma-separated partition,
    /// isolate-leader, leader-transfer, pause, kill, latency, or all.
    #[arg(long, value_name = "KINDS")]
    nemesis: Option<String>,
    /// Time between faults (property nemesis.interval), e.g. --nemesis-interval 2s.
    #[arg(long, value_name = "SECS")]
    nemesis_interval: Option<String>,
    /// This machine's client number, 1..=N, when N client machines drive one cluster
    /// (with --clients N): its seed differs, it loads its share of the records
    /// (insertstart/insertcount) and runs its share of operationcount. Merge the
    /// results with `kvlab merge`.
    #[arg(long, value_name = "I", requires = "clients")]
    client_id: Option<u64>,
    /// How many client machines drive the cluster (with --client-id).
    #[arg(long, value_name = "N", requires = "client_id")]
    clients: Option<u64>,
}

#[derive(Args)]
struct SuiteArgs {
    /// The suite file, e.g. harness/suites/quick.toml.
    file: PathBuf,
    /// Override a property in every configuration (KEY=VALUE); repeatable.
    #[arg(short = 'p', value_name = "KEY=VALUE")]
    props: Vec<String>,
    /// Repetitions per configuration, instead of the suite's.
    #[arg(long, value_name = "N")]
    reps: Option<usize>,
    /// Results directory (must be empty or absent); default results/<suite>/<timestamp>/.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Skip the figures and report at the end.
    #[arg(long)]
    no_report: bool,
}

fn overrides(props: &[String]) -> Result<Vec<(String, String)>> {
    Ok(props.iter().map(|p| parse_override(p)).collect::<std::result::Result<Vec<_>, _>>()?)
}

fn settings(args: &RunArgs) -> Result<Settings> {
    let mut pairs = overrides(&args.props)?;
    let flags = [
        ("db", args.db.clone()),
        ("threadcount", args.threads.clone()),
        ("inflight", args.inflight.clone()),
        ("target", args.target.clone()),
        ("seed", args.seed.clone()),
        ("duration", args.duration.clone()),
        ("warmup", args.warmup.clone()),
        ("status.interval", args.status.clone()),
        ("trace", args.trace.as_ref().map(|t| t.display().to_string())),
        ("check", args.check.then(|| "true".to_string())),
        ("nemesis", args.nemesis.clone()),
        ("nemesis.interval", args.nemesis_interval.clone()),
    ];
    pairs.extend(flags.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))));
    let mut props = Properties::load(&args.files, &pairs)?;
    if let (Some(id), Some(n)) = (args.client_id, args.clients) {
        client_share(&mut props, id, n)?;
    }
    if props.get("name").is_none() {
        if let Some(stem) = args.files.last().and_then(|f| f.file_name()) {
            props.set("name", stem.to_string_lossy().into_owned());
        }
    }
    Settings::from_properties(props)
}

/// Client `id` of `n`'s share: its own seed, its slice of the records to load, its part of
/// the operations.
fn client_share(props: &mut Properties, id: u64, n: u64) -> Result<()> {
    if n == 0 || id == 0 || id > n {
        return Err(Error::setting("--client-id", id, format!("a client number 1..={n}")));
    }
    let seed = props.get_u64_or("seed", 0)?;
    props.set("seed", seed.wrapping_add(id - 1).to_string());
    let records = props.get_u64_or("recordcount", 1000)?;
    let start = props.get_u64_or("insertstart", 0)?;
    let total = props.get_u64_or("insertcount", records.saturating_sub(start))?;
    let share = total / n;
    let count = if id == n { total - share * (n - 1) } else { share };
    if props.get("single.keynum").is_none() {
        // One hot key for all clients (its default follows insertstart).
        props.set("single.keynum", start.to_string());
    }
    props.set("insertstart", (start + share * (id - 1)).to_string());
    props.set("insertcount", count.to_string());
    if let Some(ops) = props.get("operationcount").map(str::to_string) {
        let ops: u64 =
            ops.parse().map_err(|_| Error::setting("operationcount", &ops, "a number"))?;
        props.set("operationcount", (ops / n).max(1).to_string());
    }
    props.set("client.id", id.to_string());
    props.set("client.count", n.to_string());
    Ok(())
}

/// What a command leaves behind, printed last.
enum Done {
    Results(PathBuf),
    Report(PathBuf, PathBuf),
    Plots(Vec<PathBuf>),
    Compared { regressions: bool },
    Checked { ok: bool },
    Crashed { ok: bool },
    Said(String),
}

fn run(cli: Cli, stop: &StopFlag) -> Result<Done> {
    // The binary as users call it, whatever path ran it.
    let command: Vec<String> =
        std::iter::once("kvlab".to_string()).chain(std::env::args().skip(1)).collect();
    let command = command.join(" ");
    let root =
        std::env::current_dir().map_err(|e| Error::io("cannot read current directory", ".", e))?;
    match cli.command {
        Command::Load(args) => {
            let output = Output { out: args.out.clone(), root, progress: true };
            run_single(settings(&args)?, Mode::Load, &output, stop, &command).map(Done::Results)
        }
        Command::Run(args) => {
            let output = Output { out: args.out.clone(), root, progress: true };
            run_single(settings(&args)?, Mode::Run, &output, stop, &command).map(Done::Results)
        }
        Command::Suite(args) => {
            let output = Output { out: args.out.clone(), root, progress: true };
            let dir = run_suite(
                &args.file,
                &overrides(&args.props)?,
                args.reps,
                &output,
                stop,
                &command,
            )?;
            if args.no_report {
                return Ok(Done::Results(dir));
            }
            let report = kvlab_plots::report(&dir)?;
            Ok(Done::Report(dir, report))
        }
        Command::Plot { dir } => Ok(Done::Plots(kvlab_plots::plot(&dir)?)),
        Command::Report { dir } => Ok(Done::Report(dir.clone(), kvlab_plots::report(&dir)?)),
        Command::Compare { a, b, threshold, html } => {
            let options = kvlab_plots::CompareOptions { threshold };
            let comparison = kvlab_plots::compare_with(&a, &b, &options)?;
            println!("{comparison}");
            let path = comparison.write_html(html.as_deref())?;
            println!("comparison: {}", path.display());
            let regressions = comparison.regressions().next().is_some();
            Ok(Done::Compared { regressions })
        }
        Command::Check { trace, max_states, threads } => {
            let options =
                kvlab_harness::check::CheckOptions { max_states_per_key: max_states, threads };
            let report = kvlab_harness::check::check_trace(&trace, &options)?;
            println!("{report}");
            Ok(Done::Checked { ok: report.is_ok() })
        }
        Command::CrashTest { dir, cycles, seed, sync, engine, raft_log, threads, max_delay } => {
            let setup = crash_setup(&engine, &raft_log, sync)?;
            let max_delay = kvlab_harness::settings::parse_duration(&max_delay)
                .filter(|d| *d >= std::time::Duration::from_millis(100))
                .ok_or_else(|| {
                    Error::setting("--max-delay", &max_delay, "a duration of at least 100ms")
                })?;
            if threads == 0 || cycles == 0 {
                return Err(Error::setting("--threads/--cycles", 0, "at least 1"));
            }
            let options = kvlab_harness::crash::CrashOptions {
                dir,
                cycles,
                seed,
                setup,
                threads,
                keys_per_thread: 4,
                min_delay: std::time::Duration::from_millis(50),
                max_delay,
            };
            let report = kvlab_harness::crash::run(&options)?;
            println!("{report}");
            Ok(Done::Crashed { ok: report.lost == 0 })
        }
        Command::Node { cluster, id, lifeline } => {
            kvlab_store::run_node(&cluster, id, lifeline)?;
            Ok(Done::Said(String::new()))
        }
        Command::EtcdMember { parent, command } => {
            let Some((program, args)) = command.split_first() else {
                return Err(Error::setting(
                    "etcd-member",
                    "",
                    "the etcd binary and its arguments after `--`",
                ));
            };
            kvlab_harness::binding::etcd::exec_member(parent, program.as_ref(), args)?;
            Ok(Done::Said(String::new()))
        }
        Command::Merge { dirs, out } => {
            Ok(Done::Results(kvlab_harness::merge::merge(&dirs, &out)?))
        }
        Command::Cluster { action, file } => {
            use kvlab_harness::cluster_cmd;
            let said = match action {
                ClusterAction::Start => cluster_cmd::start(&file)?,
                ClusterAction::Stop => cluster_cmd::stop(&file)?,
                ClusterAction::Status => cluster_cmd::status(&file)?,
            };
            Ok(Done::Said(said))
        }
        Command::CrashChild { dir, cycle, sync, engine, raft_log, threads, keys } => {
            let setup = crash_setup(&engine, &raft_log, sync)?;
            kvlab_harness::crash::child(&dir, cycle, setup, threads, keys.max(1))?;
            Ok(Done::Crashed { ok: true })
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stop = StopFlag::new();
    let interrupts = AtomicUsize::new(0);
    let handler_stop = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if interrupts.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!(
                "\ninterrupted: stopping and writing the results so far (Ctrl-C again to abort)"
            );
            handler_stop.stop();
        } else {
            std::process::exit(130);
        }
    });
    match run(cli, &stop) {
        Ok(done) => {
            if stop.is_stopped() {
                eprintln!("run interrupted: results marked incomplete in run.json");
            }
            match done {
                Done::Results(dir) => println!("results: {}", dir.display()),
                Done::Report(dir, report) => {
                    println!("results: {}", dir.display());
                    println!("report: {}", report.display());
                }
                Done::Plots(files) => {
                    for file in files {
                        println!("{}", file.display());
                    }
                }
                Done::Compared { regressions } => {
                    if regressions {
                        return ExitCode::from(1);
                    }
                }
                Done::Said(text) => {
                    if !text.is_empty() {
                        println!("{text}");
                    }
                }
                Done::Checked { ok } | Done::Crashed { ok } => {
                    if !ok {
                        return ExitCode::from(1);
                    }
                }
            }
            if stop.is_stopped() {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err @ Error::CheckFailed { .. }) => {
            eprintln!("error: {err}");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

/// The crash test's store from its `--engine`, `--raft-log` and `--sync` arguments.
fn crash_setup(
    engine: &str,
    raft_log: &str,
    sync: bool,
) -> Result<kvlab_harness::crash::CrashSetup> {
    let setup = kvlab_harness::crash::CrashSetup {
        engine: engine
            .parse()
            .map_err(|_| Error::setting("--engine", engine, "rocksdb, fjall or redb"))?,
        raft_log: raft_log
            .parse()
            .map_err(|_| Error::setting("--raft-log", raft_log, "same, separate or raft-engine"))?,
        sync,
    };
    setup.validate()?;
    Ok(setup)
}
