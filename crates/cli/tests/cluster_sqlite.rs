//! Two real `kairos serve` processes and the CLI on one SQLite file: every fire runs exactly
//! once (counted by the job itself, in a file outside Kairos), and when the node running a
//! job is killed with SIGKILL the other takes over: the run in flight becomes abandoned and
//! the schedule carries on.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use kairos_core::history::{RunQuery, RunRecord, RunState};
use kairos_core::job::Job;
use kairos_core::store::{JobStore, SqliteStore};
use serde_json::json;

/// A child process that is killed if the test ends before it does.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(db: &Path, label: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["serve", "--bind", "127.0.0.1:0", "--label", label, "--db"])
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kairos serve starts")
}

fn runs(db: &Path, job: &str) -> Vec<RunRecord> {
    SqliteStore::open(db)
        .unwrap()
        .runs(&RunQuery {
            job_id: Some(job.into()),
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
}

/// Polls until `done` holds, for at most `secs` seconds.
fn wait_until(secs: u64, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + StdDuration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(StdDuration::from_millis(100));
    }
}

/// Asserts that `job`'s runs are one per fire time, and returns their fire times.
fn one_run_per_fire(db: &Path, job: &str) -> BTreeSet<i64> {
    let runs = runs(db, job);
    let fires: BTreeSet<i64> = runs.iter().map(|r| r.scheduled.timestamp()).collect();
    assert_eq!(
        fires.len(),
        runs.len(),
        "a fire of {job} ran twice: {runs:#?}"
    );
    fires
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

fn job(id: &str, trigger: serde_json::Value, command: &str, labels: &[&str]) -> Job {
    serde_json::from_value(json!({
        "id": id,
        "name": id,
        "trigger": trigger,
        "action": {"kind": "shell", "command": command},
        "node_labels": labels,
    }))
    .unwrap()
}

#[test]
fn two_servers_and_the_cli_share_one_file_and_each_fire_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    let ticks = dir.path().join("ticks.txt");
    let start = Utc::now() + Duration::seconds(2);
    {
        let store = SqliteStore::open(&db).unwrap();
        let tick = format!("echo tick >> {}", ticks.display());
        let every_second = json!({"type": "interval", "seconds": 1, "start": start});
        let mut jobs = vec![
            job("tick", every_second, &tick, &[]),
            job(
                "slow",
                json!({"type": "date", "at": start}),
                "sleep 60",
                &["one"],
            ),
        ];
        for j in &mut jobs {
            j.next_run = Some(start);
        }
        store.add_jobs(&jobs).unwrap();
    }
    let mut one = Killed(serve(&db, "one"));
    let mut two = Killed(serve(&db, "two"));

    // The CLI adds a job while both servers run; they pick it up and share its fires.
    let status = Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args([
            "job",
            "add",
            "--name",
            "cli-tick",
            "--every",
            "1s",
            "--command",
            "true",
        ])
        .args(["--db".as_ref(), db.as_os_str()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    wait_until(20, "the slow job to run on node one, and six ticks", || {
        runs(&db, "slow")
            .iter()
            .any(|r| r.state == RunState::Running)
            && lines(&ticks) >= 6
    });
    let slow = runs(&db, "slow").remove(0);
    let nodes = SqliteStore::open(&db).unwrap().nodes().unwrap();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    let node_one = nodes.iter().find(|n| n.labels == ["one"]).unwrap();
    assert_eq!(slow.node.as_deref(), Some(node_one.id.as_str()));

    one.0.kill().unwrap(); // SIGKILL, mid-run
    one.0.wait().unwrap();
    let killed = Utc::now();
    let ticks_at_kill = lines(&ticks);

    // Node two notices within its lease (here at once: the process is gone from this
    // machine), abandons the slow run, and keeps ticking alone.
    wait_until(12, "node two to take over", || {
        runs(&db, "slow")[0].state == RunState::Abandoned
    });
    let taken_over = Utc::now();
    wait_until(10, "five more ticks after the kill", || {
        lines(&ticks) >= ticks_at_kill + 5
    });
    unsafe { libc::kill(two.0.id() as i32, libc::SIGTERM) };
    assert!(two.0.wait().unwrap().success());

    let fires = one_run_per_fire(&db, "tick");
    one_run_per_fire(&db, "cli-tick");
    let tick_runs = runs(&db, "tick");
    let ran = tick_runs
        .iter()
        .filter(|r| r.state == RunState::Succeeded)
        .count();
    assert_eq!(ran, lines(&ticks), "each succeeded run appended one line");
    // Fire times are consecutive seconds: none lost, none doubled, across the kill.
    let (first, last) = (*fires.first().unwrap(), *fires.last().unwrap());
    assert_eq!(fires.len() as i64, last - first + 1, "{fires:?}");
    assert!(
        tick_runs.iter().all(|r| r.state.is_final()),
        "{tick_runs:#?}"
    );
    let took = (taken_over - killed).num_milliseconds();
    assert!(took < 10_000, "takeover took {took} ms");
    eprintln!("takeover after SIGKILL: {took} ms (polled every 100 ms)");
}
