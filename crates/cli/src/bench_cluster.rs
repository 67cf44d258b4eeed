//! `kairos bench cluster`: N real node processes on one database fire J no-op interval jobs;
//! afterwards the run rows say how many fires ran, how late (and whether any started before
//! its time), on which node, whether any ran twice or not at all, and (with `--kill-after-s`)
//! how long the take-over of a SIGKILLed node took.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use kairos_core::action::{Action, FunctionAction};
use kairos_core::history::{RunQuery, RunState};
use kairos_core::job::{Coalesce, Job, JobOptions, DEFAULT_POOL};
use kairos_core::scheduler::Scheduler;
use kairos_core::store::JobStore;
use kairos_core::trigger::{IntervalSpec, IntervalTrigger, Trigger};
use serde_json::json;

/// What `kairos bench cluster` was asked to do.
pub struct Plan {
    /// Node processes.
    pub nodes: usize,
    /// Interval jobs.
    pub jobs: usize,
    /// Each job's period, milliseconds.
    pub period_ms: u32,
    /// How long to fire, seconds.
    pub duration_s: u64,
    /// Kill the first node with SIGKILL this many seconds in.
    pub kill_after_s: Option<u64>,
}

/// A bench job: the `noop` function every `period_ms` from `start`, catching up every fire.
fn job(i: usize, period_ms: u32, start: DateTime<Utc>) -> Result<Job, String> {
    let spec = IntervalSpec {
        milliseconds: period_ms,
        start: Some(start),
        ..Default::default()
    };
    Ok(Job {
        id: format!("bench-{i:07}"),
        name: format!("bench job {i}"),
        description: String::new(),
        tags: vec![],
        trigger: Trigger::Interval(IntervalTrigger::new(spec).map_err(|e| e.to_string())?),
        action: Action::Function(FunctionAction {
            name: "noop".into(),
        }),
        options: JobOptions {
            coalesce: Some(Coalesce::All),
            ..JobOptions::default()
        },
        paused: false,
        pool: DEFAULT_POOL.into(),
        node_labels: vec![],
        then: vec![],
        next_run: Some(start),
    })
}

/// Runs the bench on the (empty) database `db`; returns its JSON line.
pub async fn cluster(db: &Path, plan: Plan) -> Result<serde_json::Value, String> {
    let store = crate::job_cmd::open_store(db)?;
    if !store.schedule().map_err(|e| e.to_string())?.is_empty() {
        return Err("--db: use an empty database; the bench adds its own jobs".into());
    }
    let lead = Duration::milliseconds(3000 + plan.jobs as i64 / 5);
    // Whole milliseconds, as the stores keep fire times: else the first fire would sort
    // before the window that starts at it.
    let t0 = DateTime::from_timestamp_millis((Utc::now() + lead).timestamp_millis())
        .ok_or("the clock is out of range")?;
    let step = |i: usize| {
        Duration::microseconds(plan.period_ms as i64 * 1000 * i as i64 / plan.jobs as i64)
    };
    let jobs = (0..plan.jobs)
        .map(|i| job(i, plan.period_ms, t0 + step(i)))
        .collect::<Result<Vec<_>, String>>()?;
    for chunk in jobs.chunks(10_000) {
        store.add_jobs(chunk).map_err(|e| e.to_string())?;
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut children: Vec<Child> = (0..plan.nodes)
        .map(|_| {
            Command::new(&exe)
                .arg("--db")
                .arg(db)
                .args(["bench", "node"])
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start a node: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let end = t0 + Duration::seconds(plan.duration_s as i64);
    let mut takeover_s = None;
    if let Some(after) = plan.kill_after_s {
        sleep_until(t0 + Duration::seconds(after as i64)).await;
        let victim = children[0].id();
        children[0].kill().map_err(|e| e.to_string())?;
        let _ = children[0].wait();
        let killed = Instant::now();
        while takeover_s.is_none() && killed.elapsed() < StdDuration::from_secs(60) {
            let nodes = store.nodes().map_err(|e| e.to_string())?;
            if nodes.iter().any(|n| n.pid == victim && n.left.is_some()) {
                takeover_s = Some(round(killed.elapsed().as_secs_f64()));
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    }
    sleep_until(end + Duration::seconds(3)).await;
    for child in &mut children {
        // SAFETY: kill only sends SIGTERM to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    }
    for child in &mut children {
        let _ = child.wait();
    }
    let tally = tally(store.as_ref(), t0, end)?;
    let expected = plan.jobs as u64 * plan.duration_s * 1000 / u64::from(plan.period_ms);
    let mut line = json!({
        "nodes": plan.nodes,
        "jobs": plan.jobs,
        "period_ms": plan.period_ms,
        "duration_s": plan.duration_s,
        "fires": tally.succeeded,
        "expected": expected,
        "duplicates": tally.rows - tally.distinct.len() as u64,
        "lost": expected.saturating_sub(tally.distinct.len() as u64),
        "late_p50_ms": percentile(&tally.late_ms, 50),
        "late_p99_ms": percentile(&tally.late_ms, 99),
        "started_early": tally.late_ms.iter().filter(|late| **late < 0.0).count(),
        "other_states": tally.other,
        "per_node": tally.per_node.values().collect::<Vec<_>>(),
    });
    if let Some(t) = takeover_s {
        line["takeover_s"] = json!(t);
    }
    Ok(line)
}

/// What the run rows of the window say.
#[derive(Default)]
struct Tally {
    rows: u64,
    succeeded: u64,
    /// (job, fire time) pairs that have a row.
    distinct: HashSet<(String, i64)>,
    late_ms: Vec<f64>,
    per_node: BTreeMap<String, u64>,
    other: BTreeMap<&'static str, u64>,
}

/// Reads every run fired in `[from, to)`, newest first, a page at a time.
fn tally(store: &dyn JobStore, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut query = RunQuery {
        from: Some(from),
        to: Some(to),
        limit: 10_000,
        ..RunQuery::default()
    };
    loop {
        let page = store.runs(&query).map_err(|e| e.to_string())?;
        for run in &page {
            tally.rows += 1;
            tally
                .distinct
                .insert((run.job_id.clone(), run.scheduled.timestamp_millis()));
            *tally
                .per_node
                .entry(run.node.as_deref().unwrap_or("-").to_string())
                .or_default() += 1;
            if run.state == RunState::Succeeded {
                tally.succeeded += 1;
            } else {
                *tally.other.entry(run.state.as_str()).or_default() += 1;
            }
            if let Some(started) = run.started {
                tally
                    .late_ms
                    .push((started - run.scheduled).num_microseconds().unwrap_or(0) as f64 / 1e3);
            }
        }
        match page.last() {
            Some(last) if page.len() == query.limit => query.before_id = Some(last.id),
            _ => break,
        }
    }
    tally.late_ms.sort_by(f64::total_cmp);
    Ok(tally)
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    round(sorted[rank - 1])
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn sleep_until(at: DateTime<Utc>) {
    tokio::time::sleep((at - Utc::now()).to_std().unwrap_or_default()).await;
}

/// One bench node: a scheduler on `db` with the `noop` function, until SIGTERM or SIGINT.
pub async fn node(db: &Path) -> Result<serde_json::Value, String> {
    let stop = kairos_core::scheduler::stop_signal();
    let scheduler = Scheduler::new(crate::job_cmd::open_store(db)?);
    scheduler.register("noop", |_| async {});
    scheduler.start().map_err(|e| e.to_string())?;
    stop.await;
    scheduler.shutdown(StdDuration::from_secs(5)).await;
    Ok(json!({"node": scheduler.node().id}))
}
