//! The real `kairos serve` on a real database file, killed with SIGKILL while jobs run and
//! restarted: no job definition or committed run is lost, the run in flight becomes
//! abandoned, and fire times that fell due while it was dead go through the misfire policy.
//! And `kairos runs cancel`, another process, stops a run that the server runs.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use kairos_core::action::ShellAction;
use kairos_core::history::{RunQuery, RunRecord, RunState};
use kairos_core::job::{Job, JobOptions};
use kairos_core::scheduler::Scheduler;
use kairos_core::store::{JobStore, SqliteStore};
use serde_json::json;

fn shell_job(id: &str, trigger: serde_json::Value, command: &str) -> Job {
    Job {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        tags: vec![],
        trigger: serde_json::from_value(trigger).unwrap(),
        action: serde_json::from_value::<ShellAction>(json!({ "command": command }))
            .unwrap()
            .into(),
        options: JobOptions::default(),
        paused: false,
        pool: "default".into(),
        node_labels: vec![],
        then: vec![],
        next_run: None,
    }
}

fn serve(db: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["serve", "--bind", "127.0.0.1:0", "--db"])
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kairos serve starts")
}

fn runs(store: &SqliteStore, job: &str) -> Vec<RunRecord> {
    store
        .runs(&RunQuery {
            job_id: Some(job.into()),
            limit: 10_000,
            ..Default::default()
        })
        .unwrap()
}

/// Polls the database until `done` holds, for at most 20 s.
fn wait_until(db: &Path, what: &str, done: impl Fn(&SqliteStore) -> bool) {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        let store = SqliteStore::open(db).unwrap();
        if done(&store) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        drop(store);
        std::thread::sleep(StdDuration::from_millis(100));
    }
}

fn has(store: &SqliteStore, job: &str, state: RunState) -> bool {
    runs(store, job).iter().any(|r| r.state == state)
}

#[test]
fn sigkill_loses_nothing_committed_and_restart_applies_the_misfire_policy() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    // Both fire first a second from now, once the server is up.
    let now = Utc::now() + Duration::seconds(1);
    {
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        let scheduler = Scheduler::new(store.clone());
        scheduler
            .add_jobs(vec![
                shell_job(
                    "slow",
                    json!({"type": "interval", "hours": 1, "start": now}),
                    "sleep 20",
                ),
                shell_job(
                    "tick",
                    json!({"type": "interval", "seconds": 1, "start": now}),
                    "echo tick",
                ),
            ])
            .unwrap();
    }

    let mut first = serve(&db);
    wait_until(&db, "a running slow job and two ticks", |s| {
        has(s, "slow", RunState::Running)
            && runs(s, "tick")
                .iter()
                .filter(|r| r.state == RunState::Succeeded)
                .count()
                >= 2
    });
    // What is committed now must survive the kill.
    let before = SqliteStore::open(&db).unwrap();
    let committed: Vec<RunRecord> = runs(&before, "tick")
        .into_iter()
        .filter(|r| r.state == RunState::Succeeded)
        .collect();
    let slow_run = runs(&before, "slow")[0].clone();
    drop(before);
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let killed_at = Utc::now();

    // While it is down, two one-off jobs fall due a minute ago: one with a 10 s grace time.
    {
        let store = SqliteStore::open(&db).unwrap();
        let at = Utc::now() - Duration::seconds(60);
        let mut strict = shell_job(
            "late-strict",
            json!({"type": "date", "at": at}),
            "echo strict",
        );
        strict.options.misfire_grace_time_s = Some(10);
        strict.next_run = Some(at);
        let mut lenient = shell_job(
            "late-lenient",
            json!({"type": "date", "at": at}),
            "echo lenient",
        );
        lenient.next_run = Some(at);
        store.add_jobs(&[strict, lenient]).unwrap();
    }

    let mut second = serve(&db);
    wait_until(&db, "the restart to apply the misfire policy", |s| {
        has(s, "late-strict", RunState::Missed)
            && has(s, "late-lenient", RunState::Succeeded)
            && runs(s, "tick")
                .iter()
                .any(|r| r.scheduled > killed_at && r.state == RunState::Succeeded)
    });
    // SIGTERM: a graceful shutdown.
    unsafe { libc::kill(second.id() as i32, libc::SIGTERM) };
    let status = second.wait().unwrap();
    assert!(status.success(), "{status:?}");

    let after = SqliteStore::open(&db).unwrap();
    let ids: Vec<String> = after
        .list_jobs()
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, ["late-lenient", "late-strict", "slow", "tick"]);
    for run in &committed {
        assert_eq!(
            after.run(run.id).unwrap().as_ref(),
            Some(run),
            "committed run {} changed",
            run.id
        );
    }
    let slow = after.run(slow_run.id).unwrap().unwrap();
    assert_eq!(slow.state, RunState::Abandoned);
    assert!(slow.finished.is_some());
    assert_eq!(runs(&after, "late-strict").len(), 1);
    assert_eq!(runs(&after, "late-lenient").len(), 1);
}

/// Whether process `pid` is still alive (not gone, not a zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| !s.trim_start().starts_with('Z'))
    })
}

#[test]
fn kairos_runs_cancel_stops_a_run_that_another_process_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    let pid_file = dir.path().join("sleeper.pid");
    {
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        let scheduler = Scheduler::new(store);
        // A grandchild in the run's process group: cancelling must reach it too.
        let command = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
        scheduler
            .add_job(shell_job(
                "sleepy",
                json!({"type": "date", "at": Utc::now() + Duration::seconds(1)}),
                &command,
            ))
            .unwrap();
    }
    let mut server = serve(&db);
    wait_until(&db, "the run to start", |s| {
        has(s, "sleepy", RunState::Running)
    });
    let sleeper: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(sleeper));
    let run = runs(&SqliteStore::open(&db).unwrap(), "sleepy")[0].id;

    let out = Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["runs", "cancel", &run.to_string(), "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("run {run} ended: cancelled")),
        "{stdout}"
    );
    let store = SqliteStore::open(&db).unwrap();
    let record = store.run(run).unwrap().unwrap();
    assert_eq!(record.state, RunState::Cancelled);
    assert!(!alive(sleeper), "the whole process group was stopped");

    // A second cancel names what happened.
    let again = Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["runs", "cancel", &run.to_string(), "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already ended (cancelled)"));
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Lines in file `name` of `dir`: how many times a step ran, counted outside Kairos.
fn count(dir: &Path, name: &str) -> usize {
    std::fs::read_to_string(dir.join(name)).map_or(0, |s| s.lines().count())
}

#[test]
fn a_workflow_killed_mid_step_resumes_where_it_was_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    let d = dir.path().display();
    // 'transform' hangs the first time (until the kill), and finishes when run again.
    let steps = json!({
        "kind": "workflow",
        "steps": [
            {"id": "extract", "action": {"kind": "shell", "command": format!("echo x >> {d}/extract")}},
            {"id": "transform", "action": {"kind": "shell", "command": format!(
                "echo x >> {d}/transform; if [ -f {d}/hung ]; then echo again; \
                 else touch {d}/hung; echo $$ > {d}/pid; exec sleep 300; fi")}},
            {"id": "load", "action": {"kind": "shell", "command": format!("echo x >> {d}/load")}},
        ],
        "edges": [{"from": "extract", "to": "transform"}, {"from": "transform", "to": "load"}],
    });
    {
        let store = SqliteStore::open(&db).unwrap();
        let at = Utc::now() + Duration::seconds(1);
        let mut etl = shell_job("etl", json!({"type": "date", "at": at}), "true");
        etl.action = serde_json::from_value(steps).unwrap();
        Scheduler::new(Arc::new(store)).add_job(etl).unwrap();
    }
    let step_is = |s: &SqliteStore, step: &str, state: RunState| {
        runs(s, "etl")
            .iter()
            .any(|r| r.step.as_deref() == Some(step) && r.state == state)
    };
    let mut first = serve(&db);
    wait_until(&db, "'transform' to run", |s| {
        step_is(s, "transform", RunState::Running) || dir.path().join("pid").exists()
    });
    let workflow = runs(&SqliteStore::open(&db).unwrap(), "etl")
        .into_iter()
        .find(|r| r.step.is_none())
        .unwrap();
    first.kill().unwrap(); // SIGKILL, mid-step
    first.wait().unwrap();
    let hung: i32 = std::fs::read_to_string(dir.path().join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    unsafe { libc::kill(hung, libc::SIGKILL) };

    let mut second = serve(&db);
    wait_until(&db, "the workflow to finish after the restart", |s| {
        s.run(workflow.id)
            .unwrap()
            .is_some_and(|r| r.state == RunState::Succeeded)
    });
    unsafe { libc::kill(second.id() as i32, libc::SIGTERM) };
    assert!(second.wait().unwrap().success());
    // 'extract' finished before the kill and did not run again; 'transform' ran again.
    assert_eq!(
        [
            count(dir.path(), "extract"),
            count(dir.path(), "transform"),
            count(dir.path(), "load")
        ],
        [1, 2, 1]
    );
    let store = SqliteStore::open(&db).unwrap();
    let mut steps: Vec<_> = runs(&store, "etl")
        .into_iter()
        .filter_map(|r| Some((r.step?.to_string(), r.state)))
        .collect();
    steps.reverse();
    assert_eq!(
        steps,
        [
            ("extract".to_string(), RunState::Succeeded),
            ("transform".to_string(), RunState::Abandoned),
            ("transform".to_string(), RunState::Succeeded),
            ("load".to_string(), RunState::Succeeded),
        ]
    );
    assert!(step_is(&store, "transform", RunState::Succeeded));
}
