//! `kairos bench …`: load programs that print one JSON line of figures.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use clap::{Subcommand, ValueEnum};
use kairos_core::action::{Action, FunctionAction};
use kairos_core::job::{Job, JobOptions, DEFAULT_POOL};
use kairos_core::scheduler::Scheduler;
use kairos_core::store::{JobStore, MemoryStore, SqliteStore};
use kairos_core::trigger::{CronTrigger, IntervalSpec, IntervalTrigger, Trigger};
use serde_json::json;

/// The `bench` subcommands.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Fire N interval jobs spread evenly over a period and measure lateness.
    Storm {
        /// How many jobs.
        #[arg(long, default_value_t = 10_000)]
        jobs: usize,
        /// Each job's period, milliseconds.
        #[arg(long, default_value_t = 1000)]
        period_ms: u32,
        /// How long to fire, seconds.
        #[arg(long, default_value_t = 10)]
        duration_s: u64,
        /// Which store keeps jobs and run history.
        #[arg(long, value_enum, default_value_t = StoreKind::Memory)]
        store: StoreKind,
    },
    /// Add N cron jobs to a fresh SQLite store, then cold-start a scheduler on it.
    Load {
        /// How many jobs.
        #[arg(long, default_value_t = 100_000)]
        jobs: usize,
    },
    /// Start `kairos serve` on a fresh SQLite file with N jobs none of which is due, and
    /// measure from outside its CPU time, wake-ups and memory over S quiet seconds.
    Idle {
        /// How many jobs (none due for a day).
        #[arg(long, default_value_t = 1000)]
        jobs: usize,
        /// How long to measure, seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Fill a fresh store (--db, or a temporary SQLite file) with N jobs and a run each, then
    /// time the job list API in-process: first page, search, filter, deep page, counts.
    Api {
        /// How many jobs.
        #[arg(long, default_value_t = 100_000)]
        jobs: usize,
    },
    /// Start N node processes on one database, fire J no-op interval jobs spread over the
    /// period, and count from the run rows what ran, how late, where, and what ran twice or
    /// not at all.
    Cluster {
        /// Node processes.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// How many jobs.
        #[arg(long, default_value_t = 1000)]
        jobs: usize,
        /// Each job's period, milliseconds.
        #[arg(long, default_value_t = 1000)]
        period_ms: u32,
        /// How long to fire, seconds.
        #[arg(long, default_value_t = 20)]
        duration_s: u64,
        /// SIGKILL the first node this many seconds in, and time its take-over.
        #[arg(long)]
        kill_after_s: Option<u64>,
    },
    /// One node of `bench cluster` on --db (a scheduler with the no-op function, until
    /// SIGTERM).
    #[command(hide = true)]
    Node,
    /// Cold-start a scheduler on an existing database (run by `load` in a fresh process so
    /// its memory is measured alone).
    #[command(hide = true)]
    ColdStart {
        /// The database.
        #[arg(long)]
        db: std::path::PathBuf,
    },
}

/// A store to benchmark.
#[derive(Clone, Copy, ValueEnum)]
pub enum StoreKind {
    /// In memory.
    Memory,
    /// A SQLite file in a temporary directory.
    Sqlite,
}

/// Runs a bench subcommand; `cluster` and `node` use the database `--db` names.
pub fn run(cmd: BenchCommand, db_flag: Option<&std::path::Path>) -> Result<(), String> {
    let named_db = || {
        db_flag.ok_or_else(|| {
            "--db: name an empty database for the bench (postgres://USER@HOST:PORT/DB or a \
             SQLite file); it adds its own jobs"
                .to_string()
        })
    };
    let runtime = kairos_core::scheduler::runtime().map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let db = dir.path().join("bench.db");
    let line = match cmd {
        BenchCommand::Storm {
            jobs,
            period_ms,
            duration_s,
            store,
        } => {
            if jobs == 0 || period_ms == 0 || duration_s == 0 {
                return Err("--jobs, --period-ms and --duration-s must be at least 1".into());
            }
            let store: Arc<dyn JobStore> = match store {
                StoreKind::Memory => Arc::new(MemoryStore::new()),
                StoreKind::Sqlite => Arc::new(open(&db)?),
            };
            runtime.block_on(storm(store, jobs, period_ms, duration_s))?
        }
        BenchCommand::Load { jobs } => runtime.block_on(load(&db, jobs))?,
        BenchCommand::Idle { jobs, seconds } => {
            if seconds == 0 {
                return Err("--seconds must be at least 1".into());
            }
            runtime.block_on(crate::bench_idle::idle(&db, jobs, seconds))?
        }
        BenchCommand::Api { jobs } => {
            let store: Arc<dyn JobStore> = match db_flag {
                Some(url) => kairos_core::store::open(url).map_err(|e| e.to_string())?,
                None => Arc::new(open(&db)?),
            };
            runtime.block_on(crate::bench_api::api(store, jobs))?
        }
        BenchCommand::ColdStart { db } => runtime.block_on(cold_start(&db))?,
        BenchCommand::Cluster {
            nodes,
            jobs,
            period_ms,
            duration_s,
            kill_after_s,
        } => {
            if nodes == 0 || jobs == 0 || period_ms == 0 || duration_s == 0 {
                return Err(
                    "--nodes, --jobs, --period-ms and --duration-s must be at least 1".into(),
                );
            }
            if kill_after_s.is_some_and(|k| k >= duration_s) {
                return Err("--kill-after-s must be less than --duration-s".into());
            }
            let plan = crate::bench_cluster::Plan {
                nodes,
                jobs,
                period_ms,
                duration_s,
                kill_after_s,
            };
            runtime.block_on(crate::bench_cluster::cluster(named_db()?, plan))?
        }
        BenchCommand::Node => runtime.block_on(crate::bench_cluster::node(named_db()?))?,
    };
    println!("{line}");
    Ok(())
}

pub(crate) fn open(path: &std::path::Path) -> Result<SqliteStore, String> {
    SqliteStore::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))
}

pub(crate) fn noop_job(i: usize, trigger: Trigger) -> Job {
    Job {
        id: format!("job-{i:07}"),
        name: format!("bench job {i}"),
        description: String::new(),
        tags: vec![],
        trigger,
        action: Action::Function(FunctionAction {
            name: "noop".into(),
        }),
        options: JobOptions::default(),
        paused: false,
        pool: DEFAULT_POOL.into(),
        node_labels: vec![],
        then: vec![],
        next_run: None,
    }
}

async fn storm(
    store: Arc<dyn JobStore>,
    jobs: usize,
    period_ms: u32,
    duration_s: u64,
) -> Result<serde_json::Value, String> {
    let scheduler = Scheduler::new(store.clone());
    scheduler.register("noop", |_| async {});
    // Leave time to add every job before the first fires: about 10 µs a job, at least 1 s.
    let lead = Duration::milliseconds(1000 + jobs as i64 / 100);
    let t0 = Utc::now() + lead;
    let spread =
        |i: usize| Duration::microseconds(period_ms as i64 * 1000 * i as i64 / jobs as i64);
    // Sized up front: a Vec grown by doubling leaves its old buffers with the allocator,
    // which would count toward the storm's peak memory.
    let mut specs = Vec::with_capacity(jobs);
    for i in 0..jobs {
        let spec = IntervalSpec {
            milliseconds: period_ms,
            start: Some(t0 + spread(i)),
            ..Default::default()
        };
        let trigger = IntervalTrigger::new(spec).map_err(|e| e.to_string())?;
        specs.push(noop_job(i, Trigger::Interval(trigger)));
    }
    let started = Instant::now();
    let added = scheduler.add_jobs(specs).map_err(|e| e.to_string())?;
    let add_s = started.elapsed().as_secs_f64();
    drop(added);
    scheduler.start().map_err(|e| e.to_string())?;
    let wait = (t0 - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let cpu_before = cpu_seconds();
    tokio::time::sleep(StdDuration::from_secs(duration_s)).await;
    // While firing, after every job fired many times: what the storm itself holds.
    let firing_rss_mb = status_mb("VmRSS:");
    scheduler.shutdown(StdDuration::from_secs(5)).await;
    let cpu_s = cpu_seconds() - cpu_before;
    let stats = scheduler.stats();
    let expected = jobs as u64 * duration_s * 1000 / period_ms as u64;
    Ok(json!({
        "jobs": jobs,
        "period_ms": period_ms,
        "duration_s": duration_s,
        "add_s": round(add_s),
        "fires": stats.started,
        "expected": expected,
        "late_p50_ms": stats.lateness_p50_ms,
        "late_p99_ms": stats.lateness_p99_ms,
        "late_max_ms": stats.lateness_max_ms,
        "cpu_s": round(cpu_s),
        "rss_mb": peak_rss_mb(),
        "firing_rss_mb": firing_rss_mb,
    }))
}

async fn load(db: &std::path::Path, jobs: usize) -> Result<serde_json::Value, String> {
    let cron = |i: usize| {
        let expr = format!("{} {} * * *", i % 60, (i / 60) % 24);
        CronTrigger::new(&expr, chrono_tz::UTC)
            .map(Trigger::Cron)
            .map_err(|e| e.to_string())
    };
    let add_s = {
        let scheduler = Scheduler::new(Arc::new(open(db)?));
        let specs = (0..jobs)
            .map(|i| Ok(noop_job(i, cron(i)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let started = Instant::now();
        let added = scheduler.add_jobs(specs).map_err(|e| e.to_string())?;
        scheduler.store().flush().map_err(|e| e.to_string())?;
        let add_s = started.elapsed().as_secs_f64();
        // Freeing the jobs handed back is the caller's work, not the add's (0.2 s).
        drop(added);
        add_s
    };
    // The cold start runs in a fresh process, so its memory is its own.
    let out = std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args(["bench", "cold-start", "--db"])
        .arg(db)
        .output()
        .map_err(|e| format!("cannot run the cold start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cold start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let cold: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    if cold["jobs"] != jobs {
        return Err(format!(
            "cold start loaded {} jobs, expected {jobs}",
            cold["jobs"]
        ));
    }
    let db_bytes: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    Ok(json!({
        "jobs": jobs,
        "add_s": round(add_s),
        "cold_start_s": cold["cold_start_s"],
        "rss_mb": cold["rss_mb"],
        "db_mb": round(db_bytes as f64 / 1_048_576.0),
    }))
}

/// Opens the database, starts a scheduler on it and reports how long that took.
async fn cold_start(db: &std::path::Path) -> Result<serde_json::Value, String> {
    let started = Instant::now();
    let scheduler = Scheduler::new(Arc::new(open(db)?));
    scheduler.start().map_err(|e| e.to_string())?;
    let cold_start_s = started.elapsed().as_secs_f64();
    let jobs = scheduler.status().jobs;
    let rss_mb = peak_rss_mb();
    scheduler.shutdown(StdDuration::from_secs(1)).await;
    Ok(json!({"jobs": jobs, "cold_start_s": round(cold_start_s), "rss_mb": rss_mb}))
}

pub(crate) fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// User plus system CPU time of this process, seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Peak resident set size of this process, MiB (from /proc/self/status VmHWM).
fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// A memory figure of /proc/self/status (`VmHWM:`, `VmRSS:`, …), MiB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    round(crate::bench_idle::kb_field(&status, field) / 1024.0)
}
