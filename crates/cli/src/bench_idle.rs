//! `kairos bench idle`: what a `kairos serve` with nothing due costs, measured from outside
//! through /proc: CPU time, wake-ups and memory over a quiet stretch.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use kairos_core::action::ShellAction;
use kairos_core::scheduler::Scheduler;
use kairos_core::trigger::Trigger;
use serde_json::json;

use crate::bench::{noop_job, open, round};

/// How long the server settles before the measurement starts.
const SETTLE: Duration = Duration::from_secs(3);

/// What /proc says about process `pid` at one moment.
struct Sample {
    /// User plus system CPU time, clock ticks.
    ticks: u64,
    /// Context switches it chose (sleeps ended by a wake-up), over all its threads.
    wakeups: u64,
}

fn sample(pid: u32) -> Result<Sample, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // The fields after the command name, which is in parentheses: utime and stime are the
    // 12th and 13th of them.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut wakeups = 0;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| e.to_string())?;
    for task in tasks.flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        wakeups += kb_field(&status, "voluntary_ctxt_switches:") as u64;
    }
    Ok(Sample {
        ticks: field(11) + field(12),
        wakeups,
    })
}

/// A `Name:  value kB` line's value from a /proc status file.
pub(crate) fn kb_field(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

/// Starts `kairos serve` on `db` holding `jobs` shell jobs none of which is due for a day,
/// lets it settle, and measures it for `seconds`.
pub async fn idle(db: &Path, jobs: usize, seconds: u64) -> Result<serde_json::Value, String> {
    {
        let scheduler = Scheduler::new(std::sync::Arc::new(open(db)?));
        let tomorrow = Utc::now() + chrono::Duration::days(1);
        let trigger: Trigger = serde_json::from_value(json!({"type": "date", "at": tomorrow}))
            .map_err(|e| e.to_string())?;
        let specs = (0..jobs)
            .map(|i| kairos_core::job::Job {
                action: ShellAction::new("true").into(),
                ..noop_job(i, trigger.clone())
            })
            .collect();
        scheduler.add_jobs(specs).map_err(|e| e.to_string())?;
        scheduler.store().flush().map_err(|e| e.to_string())?;
    }
    let mut server = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args(["serve", "--bind", "127.0.0.1:0", "--db"])
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start kairos serve: {e}"))?;
    let pid = server.id();
    tokio::time::sleep(SETTLE).await;
    let before = sample(pid)?;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let after = sample(pid)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    // SAFETY: a plain signal to the child this function started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = server.wait();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_ms = (after.ticks - before.ticks) as f64 * 1000.0 / hz;
    Ok(json!({
        "jobs": jobs,
        "seconds": seconds,
        "cpu_ms": round(cpu_ms),
        "cpu_ms_per_minute": round(cpu_ms * 60.0 / seconds as f64),
        "wakeups_per_minute": round((after.wakeups - before.wakeups) as f64 * 60.0 / seconds as f64),
        "rss_mb": round(kb_field(&status, "VmRSS:") / 1024.0),
        "pss_mb": round(kb_field(&rollup, "Pss:") / 1024.0),
    }))
}
