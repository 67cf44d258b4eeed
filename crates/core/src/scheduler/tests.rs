//! The run loop under tokio's paused clock: virtual time advances only when every task waits,
//! so these tests check exact fire times without sleeping for wall time.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tokio::sync::Semaphore;

use super::*;
use crate::action::{Action, FunctionAction};
use crate::events::{Envelope, EventMask, Listener};
use crate::history::{RunQuery, RunRecord, RunState};
use crate::job::{Coalesce, JobOptions, Retries};
use crate::store::{JobStore, MemoryStore, NodeInfo};

use super::prune::{PRUNES_PER_SECOND, PRUNE_EVERY};

mod admit;
mod claim_ahead;
mod clock_steps;

const BASE: &str = "2026-01-01T00:00:00Z";

fn base() -> DateTime<Utc> {
    BASE.parse().unwrap()
}

struct Fixture {
    scheduler: Scheduler,
    clock: Arc<TestClock>,
    store: Arc<MemoryStore>,
    events: Listener,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(TestClock::new(base()));
    let scheduler = Scheduler::with_clock(store.clone(), clock.clone());
    scheduler.register("ok", |_| async { "done".to_string() });
    scheduler.register("fail", |_| async { Err::<(), _>("boom") });
    scheduler.register("slow", |_| async {
        tokio::time::sleep(StdDuration::from_secs(10)).await;
    });
    let events = scheduler.events().subscribe(EventMask::ALL);
    scheduler.start().unwrap();
    Fixture {
        scheduler,
        clock,
        store,
        events,
    }
}

fn job(id: &str, trigger: serde_json::Value, function: &str) -> Job {
    Job {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        tags: vec![],
        trigger: serde_json::from_value(trigger).unwrap(),
        action: Action::Function(FunctionAction {
            name: function.into(),
        }),
        options: JobOptions::default(),
        paused: false,
        pool: "default".into(),
        node_labels: vec![],
        then: vec![],
        next_run: None,
    }
}

fn every(seconds: u32) -> serde_json::Value {
    json!({"type": "interval", "seconds": seconds, "start": BASE})
}

/// Lets virtual time pass (instantly, with the clock paused).
async fn advance(seconds: f64) {
    tokio::time::sleep(StdDuration::from_secs_f64(seconds)).await;
}

fn runs(store: &MemoryStore, job_id: &str) -> Vec<RunRecord> {
    store.flush().unwrap();
    let mut runs = store
        .runs(&RunQuery {
            job_id: Some(job_id.into()),
            limit: 10_000,
            ..Default::default()
        })
        .unwrap();
    runs.reverse();
    runs
}

fn states(runs: &[RunRecord]) -> Vec<RunState> {
    runs.iter().map(|r| r.state).collect()
}

/// Collects every event received so far.
fn drain(events: &mut Listener) -> Vec<Envelope> {
    std::iter::from_fn(|| events.try_recv()).collect()
}

/// Jobs already in the store when the scheduler starts are read ahead of their first fire
/// while the loop waits, all those due soon after the next (however many) and none later:
/// not one read per job as each comes due, nor a million definitions held at once.
#[tokio::test(start_paused = true)]
async fn jobs_due_next_are_loaded_while_the_loop_waits() {
    let store = Arc::new(MemoryStore::new());
    let due = |i: usize, after_s: i64| {
        let mut j = job(&format!("j{i:05}"), every(3600), "ok");
        j.next_run = Some(base() + Duration::seconds(after_s));
        j
    };
    // Many more than one look of the due-set reaches, due within two seconds of the first.
    let mut jobs: Vec<Job> = (0..40_000).map(|i| due(i, 60 + (i % 2) as i64)).collect();
    jobs.extend((40_000..45_000).map(|i| due(i, 600)));
    store.add_jobs(&jobs).unwrap();
    let scheduler = Scheduler::with_clock(store.clone(), Arc::new(TestClock::new(base())));
    scheduler.start().unwrap();
    advance(1.0).await;
    let state = lock(&scheduler.inner.state);
    let loaded: Vec<&str> = state
        .slots
        .iter()
        .filter(|(_, s)| s.job.is_some())
        .map(|(id, _)| &**id)
        .collect();
    assert_eq!(loaded.len(), 40_000);
    assert!(loaded.iter().all(|id| *id < "j40000"));
}

/// The loop times its sleep from the clock after its turn: a claim that took 30 ms (the
/// wall clock moves on while the store works) does not make the next fire 30 ms late.
#[tokio::test(start_paused = true)]
async fn a_slow_claim_does_not_make_the_next_fire_late() {
    let store = Arc::new(MemoryStore::new());
    let due = |id: &str, after_ms: i64| {
        let mut j = job(id, every(3600), "ok");
        j.next_run = Some(base() + Duration::milliseconds(after_ms));
        j
    };
    store.add_jobs(&[due("a", 1000), due("b", 1050)]).unwrap();
    let clock = Arc::new(TestClock::new(base()));
    let (claiming, first) = (clock.clone(), std::sync::atomic::AtomicBool::new(true));
    *lock(&store.on_claim) = Some(Box::new(move || {
        if first.swap(false, Ordering::Relaxed) {
            claiming.jump(Duration::milliseconds(30));
        }
    }));
    let scheduler = Scheduler::with_clock(store.clone(), clock.clone());
    scheduler.register("ok", |_| async {});
    scheduler.start().unwrap();
    advance(2.0).await;
    let late = |id: &str| {
        let runs = runs(&store, id);
        assert_eq!(runs.len(), 1, "{id}: {runs:?}");
        runs[0].started.unwrap() - runs[0].scheduled
    };
    assert_eq!(late("a"), Duration::milliseconds(30));
    assert!(late("b") < Duration::milliseconds(5), "{}", late("b"));
}

#[tokio::test(start_paused = true)]
async fn interval_job_fires_exactly_on_time() {
    let mut f = fixture();
    f.scheduler.add_job(job("tick", every(10), "ok")).unwrap();
    advance(35.0).await;
    let runs = runs(&f.store, "tick");
    let scheduled: Vec<_> = runs
        .iter()
        .map(|r| (r.scheduled - base()).num_seconds())
        .collect();
    assert_eq!(scheduled, [0, 10, 20, 30]);
    assert!(runs
        .iter()
        .all(|r| r.state == RunState::Succeeded && &*r.stdout == "done"));
    assert!(
        runs.iter().all(|r| r.started == Some(r.scheduled)),
        "{runs:?}"
    );
    assert_eq!(
        f.scheduler.get_job("tick").unwrap().next_run,
        Some(base() + Duration::seconds(40))
    );
    let names: Vec<_> = drain(&mut f.events)
        .iter()
        .map(|e| e.event.name())
        .collect();
    assert_eq!(
        &names[..5],
        [
            "scheduler_started",
            "job_added",
            "run_submitted",
            "run_started",
            "run_succeeded"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn adding_a_job_wakes_a_sleeping_loop() {
    let f = fixture();
    advance(3.0).await;
    let at = base() + Duration::seconds(5);
    f.scheduler
        .add_job(job("once", json!({"type": "date", "at": at}), "ok"))
        .unwrap();
    advance(10.0).await;
    let runs = runs(&f.store, "once");
    assert_eq!(states(&runs), [RunState::Succeeded]);
    assert_eq!(runs[0].started, Some(at));
    assert_eq!(f.scheduler.get_job("once").unwrap().next_run, None);
}

#[tokio::test(start_paused = true)]
async fn max_instances_skips_and_says_so() {
    let mut f = fixture();
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    f.scheduler.register("blocked", move |_| {
        let g = g.clone();
        async move {
            let _ = g.acquire().await;
        }
    });
    f.scheduler
        .add_job(job("busy", every(1), "blocked"))
        .unwrap();
    advance(2.5).await;
    let runs = runs(&f.store, "busy");
    assert_eq!(
        states(&runs),
        [RunState::Running, RunState::Skipped, RunState::Skipped]
    );
    assert!(runs[1]
        .error
        .as_deref()
        .unwrap()
        .contains("max instances 1"));
    assert!(drain(&mut f.events)
        .iter()
        .any(|e| matches!(e.event, Event::RunSkipped(_))));
    gate.add_permits(10);
    advance(1.0).await;
    assert_eq!(states(&runs_of(&f, "busy")[..1]), [RunState::Succeeded]);
}

fn runs_of(f: &Fixture, id: &str) -> Vec<RunRecord> {
    runs(&f.store, id)
}

#[tokio::test(start_paused = true)]
async fn overdue_fires_follow_coalesce_and_misfire_grace() {
    let f = fixture();
    let mut latest = job("latest", every(60), "ok");
    latest.options.coalesce = Some(Coalesce::Latest);
    let mut all = job("all", every(60), "ok");
    all.options.coalesce = Some(Coalesce::All);
    all.options.misfire_grace_time_s = Some(150);
    all.options.max_instances = Some(3);
    let mut strict = job("strict", every(60), "ok");
    strict.options.misfire_grace_time_s = Some(10);
    f.scheduler.add_jobs(vec![latest, all, strict]).unwrap();
    advance(1.0).await;
    f.scheduler.pause();
    advance(600.0).await; // fire times 60 … 600 fall due while paused
    f.scheduler.resume();
    advance(0.5).await;
    let latest = runs_of(&f, "latest");
    assert_eq!(states(&latest), [RunState::Succeeded, RunState::Succeeded]);
    assert_eq!(latest[1].scheduled, base() + Duration::seconds(600));
    // 600.5 s: within 150 s are 480, 540 and 600; the other seven are missed.
    let all = runs_of(&f, "all");
    let missed = all.iter().filter(|r| r.state == RunState::Missed).count();
    let ran: Vec<_> = all
        .iter()
        .filter(|r| r.state == RunState::Succeeded)
        .map(|r| (r.scheduled - base()).num_seconds())
        .collect();
    assert_eq!((missed, ran), (7, vec![0, 480, 540, 600]));
    // Latest overdue fire 600 is 0.5 s late: within 10 s, so it runs.
    assert_eq!(
        states(&runs_of(&f, "strict")),
        [RunState::Succeeded, RunState::Succeeded]
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_then_retries_with_backoff() {
    let f = fixture();
    let mut j = job("slowpoke", json!({"type": "date", "at": BASE}), "slow");
    j.options.timeout_s = Some(1);
    j.options.retries = Some(Retries {
        count: 2,
        backoff_s: 5.0,
        factor: 2.0,
    });
    let added = base();
    f.scheduler.add_job(j).unwrap();
    advance(60.0).await;
    let runs = runs_of(&f, "slowpoke");
    assert_eq!(states(&runs), [RunState::TimedOut; 3]);
    assert_eq!(
        runs.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let starts: Vec<_> = runs
        .iter()
        .map(|r| (r.started.unwrap() - added).num_seconds())
        .collect();
    // 1 s run, 5 s backoff, 1 s run, 10 s backoff.
    assert_eq!(starts, [0, 6, 17]);
    assert_eq!(runs[0].error.as_deref(), Some("timed out after 1 s"));
}

#[tokio::test(start_paused = true)]
async fn failures_are_recorded_and_announced() {
    let f = fixture();
    let mut problems = f.scheduler.events().subscribe(EventMask::PROBLEMS);
    f.scheduler.add_job(job("bad", every(10), "fail")).unwrap();
    advance(1.0).await;
    assert_eq!(runs_of(&f, "bad")[0].error.as_deref(), Some("boom"));
    let failed: Vec<_> = drain(&mut problems)
        .into_iter()
        .map(|e| e.event.name())
        .collect();
    assert_eq!(failed, ["run_failed"]);
}

#[tokio::test(start_paused = true)]
async fn a_job_calling_an_unregistered_function_waits_for_it() {
    let f = fixture();
    // The library face refuses a job that calls a function nobody registered...
    let refused = f
        .scheduler
        .add(crate::job::Job::every(StdDuration::from_secs(10)).call("later"))
        .unwrap_err()
        .to_string();
    assert!(
        refused.starts_with("action.name: no function is registered under 'later'")
            && refused.contains("scheduler.register(\"later\", …)"),
        "{refused}"
    );
    // ...but such a job in the store (added by another process, or imported) is left alone
    // here, neither run nor failed...
    let ghost = f
        .scheduler
        .add_job(job("ghost", every(10), "later"))
        .unwrap();
    assert_eq!(ghost.next_run, Some(base()));
    advance(25.0).await;
    assert!(runs(&f.store, "ghost").is_empty());
    assert!(!f.scheduler.node().labels.contains(&"fn:later".to_string()));
    // ...and fires from its stored time on once this process registers the function.
    f.scheduler.register(
        "later",
        |ctx| async move { format!("attempt {}", ctx.attempt) },
    );
    assert!(
        f.scheduler.node().labels.contains(&"fn:later".to_string()),
        "announced to other nodes"
    );
    advance(1.0).await;
    let ran = runs(&f.store, "ghost");
    assert_eq!(states(&ran), [RunState::Succeeded]);
    assert_eq!(&*ran[0].stdout, "attempt 1");
    assert_eq!(ran[0].scheduled, base() + Duration::seconds(20));
}

#[tokio::test(start_paused = true)]
async fn built_jobs_run_closures_with_their_context() {
    let f = fixture();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let job = f
        .scheduler
        .add(
            crate::job::Job::every(StdDuration::from_secs(10))
                .start_at(base())
                .id("ctx")
                .run(move |ctx| {
                    log.lock().unwrap().push(ctx.clone());
                    async move {
                        if ctx.attempt == 1 {
                            Err(crate::action::JobError::msg("first try fails"))
                        } else {
                            Ok(format!("{} ok", ctx.job_id))
                        }
                    }
                })
                .retries(1, StdDuration::from_secs(2)),
        )
        .unwrap();
    assert_eq!(job.name, "ctx");
    advance(5.0).await;
    let ran = runs_of(&f, "ctx");
    assert_eq!(states(&ran), [RunState::Failed, RunState::Succeeded]);
    assert_eq!(ran[0].error.as_deref(), Some("first try fails"));
    assert_eq!(&*ran[1].stdout, "ctx ok");
    let seen: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|c| (c.job_id.clone(), c.run_id, c.scheduled, c.attempt))
        .collect();
    assert_eq!(
        seen,
        [
            ("ctx".to_string(), ran[0].id, base(), 1),
            ("ctx".to_string(), ran[1].id, base(), 2)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_function_fails_its_run_and_nothing_else() {
    let f = fixture();
    f.scheduler
        .add(
            crate::job::Job::every(StdDuration::from_secs(10))
                .start_at(base())
                .id("boom")
                .run(|ctx| async move {
                    if ctx.attempt > 0 {
                        panic!("bad state {}", ctx.run_id);
                    }
                }),
        )
        .unwrap();
    f.scheduler
        .add(
            crate::job::Job::every(StdDuration::from_secs(10))
                .start_at(base())
                .id("sync-boom")
                .run_blocking(|_| -> () { panic!("blocking code broke") }),
        )
        .unwrap();
    advance(25.0).await;
    let ran = runs_of(&f, "boom");
    assert_eq!(states(&ran), [RunState::Failed; 3], "every fire still runs");
    assert_eq!(
        ran[0].error.as_deref(),
        Some(format!("the function panicked: bad state {}", ran[0].id).as_str())
    );
    let blocking = runs_of(&f, "sync-boom");
    assert_eq!(states(&blocking), [RunState::Failed; 3]);
    assert_eq!(
        blocking[0].error.as_deref(),
        Some("the function panicked: blocking code broke")
    );
}

#[tokio::test(start_paused = true)]
async fn replace_existing_keeps_the_schedule_and_the_paused_state() {
    let f = fixture();
    let every10 = || {
        crate::job::Job::every(StdDuration::from_secs(10))
            .start_at(base())
            .id("r")
    };
    f.scheduler.add(every10().shell("echo one")).unwrap();
    advance(15.0).await;
    f.scheduler.pause_job("r").unwrap();
    let refused = f.scheduler.add(every10().shell("echo two")).unwrap_err();
    assert!(refused
        .to_string()
        .starts_with("id: a job with id 'r' already exists"));
    let replaced = f
        .scheduler
        .add(every10().shell("echo two").replace_existing())
        .unwrap();
    assert!(replaced.paused, "a replaced job keeps its paused state");
    assert_eq!(replaced.next_run, Some(base() + Duration::seconds(20)));
    assert_eq!(replaced.action.describe(), "echo two");
    let still = f
        .scheduler
        .add(every10().shell("echo three").replace_existing().paused())
        .unwrap();
    assert!(still.paused);
    let anonymous = crate::job::Job::every(StdDuration::from_secs(1))
        .shell("true")
        .replace_existing();
    assert!(f
        .scheduler
        .add(anonymous)
        .unwrap_err()
        .to_string()
        .starts_with("id: replace_existing() replaces the job with the same id"));
    assert_eq!(f.scheduler.list_jobs().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn listeners_hear_their_mask_in_order() {
    let f = fixture();
    let (tx, rx) = std::sync::mpsc::channel();
    let subscription = f
        .scheduler
        .on(EventMask::JOB_ERROR | EventMask::JOB_EXECUTED, move |e| {
            tx.send(e.event.name()).unwrap();
        })
        .unwrap();
    f.scheduler.add_job(job("good", every(10), "ok")).unwrap();
    advance(1.0).await;
    f.scheduler.remove_job("good").unwrap();
    f.scheduler.add_job(job("bad", every(10), "fail")).unwrap();
    advance(10.0).await;
    let heard: Vec<_> = (0..2)
        .map(|_| rx.recv_timeout(StdDuration::from_secs(5)).unwrap())
        .collect();
    assert_eq!(heard, ["run_succeeded", "run_failed"]);
    subscription.cancel();
}

#[tokio::test(start_paused = true)]
async fn pause_resume_remove_and_run_now() {
    let f = fixture();
    f.scheduler.add_job(job("j", every(10), "ok")).unwrap();
    advance(1.0).await;
    f.scheduler.pause_job("j").unwrap();
    advance(30.0).await;
    assert_eq!(runs_of(&f, "j").len(), 1);
    // Resuming from now skips what fell due while paused.
    let resumed = f.scheduler.resume_job("j", false).unwrap();
    assert_eq!(resumed.next_run, Some(base() + Duration::seconds(40)));
    advance(10.0).await;
    assert_eq!(runs_of(&f, "j").len(), 2);
    // Catching up runs the overdue fire time once (coalesce latest).
    f.scheduler.pause_job("j").unwrap();
    advance(25.0).await;
    f.scheduler.resume_job("j", true).unwrap();
    advance(0.1).await;
    let runs = runs_of(&f, "j");
    assert_eq!(runs.len(), 3);
    // Paused at 41 s with 50 s next; at 66 s the overdue 50 and 60 coalesce into 60.
    assert_eq!(runs[2].scheduled, base() + Duration::seconds(60));
    let run_id = f.scheduler.run_now("j").unwrap();
    advance(0.1).await;
    assert_eq!(
        f.store.run(run_id).unwrap().unwrap().state,
        RunState::Succeeded
    );
    f.scheduler.remove_job("j").unwrap();
    advance(60.0).await;
    assert_eq!(runs_of(&f, "j").len(), 4);
    assert!(matches!(
        f.scheduler.get_job("j"),
        Err(SchedulerError::NotFound(_))
    ));
    assert!(matches!(
        f.scheduler.run_now("j"),
        Err(SchedulerError::NotFound(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn pools_bound_concurrency() {
    let f = fixture();
    let mut settings = f.scheduler.settings();
    settings.pools.insert("narrow".into(), 2);
    f.scheduler.update_settings(settings).unwrap();
    let active = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let (a, p) = (active.clone(), peak.clone());
    f.scheduler.register("measure", move |_| {
        let (a, p) = (a.clone(), p.clone());
        async move {
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(StdDuration::from_secs(1)).await;
            a.fetch_sub(1, Ordering::SeqCst);
        }
    });
    for i in 0..5 {
        let mut j = job(
            &format!("w{i}"),
            json!({"type": "date", "at": BASE}),
            "measure",
        );
        j.pool = "narrow".into();
        f.scheduler.add_job(j).unwrap();
    }
    advance(10.0).await;
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    let starts: Vec<i64> = (0..5)
        .map(|i| (runs_of(&f, &format!("w{i}"))[0].started.unwrap() - base()).num_seconds())
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 0, 1, 1, 2]);
    let mut j = job("nowhere", every(1), "ok");
    j.pool = "missing".into();
    let err = f.scheduler.add_job(j).unwrap_err().to_string();
    assert_eq!(err, "pool: no pool named 'missing' (add it in settings)");
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_the_grace_then_cancels() {
    let f = fixture();
    f.scheduler
        .add_job(job("long", json!({"type": "date", "at": BASE}), "slow"))
        .unwrap();
    advance(1.0).await;
    f.scheduler.shutdown(StdDuration::from_secs(2)).await;
    let runs = runs_of(&f, "long");
    assert_eq!(states(&runs), [RunState::Cancelled]);
    assert_eq!(runs[0].finished, Some(base() + Duration::seconds(3)));
    assert!(!f.scheduler.status().running);
}

#[tokio::test(start_paused = true)]
async fn start_marks_unfinished_runs_abandoned() {
    let store = Arc::new(MemoryStore::new());
    let mut left = RunRecord::new(1, "j", base(), RunState::Running);
    left.started = Some(base());
    store.record_runs(vec![left.clone()]);
    let scheduler = Scheduler::with_clock(store.clone(), Arc::new(TestClock::new(base())));
    let mut events = scheduler.events().subscribe(EventMask::RUNS);
    scheduler.start().unwrap();
    assert_eq!(
        store.run(left.id).unwrap().unwrap().state,
        RunState::Abandoned
    );
    assert!(matches!(
        events.try_recv().unwrap().event,
        Event::RunAbandoned(_)
    ));
}

#[tokio::test(start_paused = true)]
async fn jitter_delays_within_its_bound() {
    let f = fixture();
    let mut j = job("jittery", every(60), "ok");
    j.options.jitter_s = Some(20);
    f.scheduler.add_job(j).unwrap();
    advance(600.0).await;
    let runs = runs_of(&f, "jittery");
    assert_eq!(runs.len(), 10);
    let delays: Vec<_> = runs
        .iter()
        .map(|r| (r.started.unwrap() - r.scheduled).num_milliseconds())
        .collect();
    assert!(
        delays.iter().all(|d| (0..=20_000).contains(d)),
        "{delays:?}"
    );
    assert!(delays.iter().any(|d| *d > 0));
}

#[tokio::test(start_paused = true)]
async fn invalid_jobs_are_refused_with_the_field() {
    let f = fixture();
    let mut j = job("x", every(1), "ok");
    j.name = " ".into();
    assert_eq!(
        f.scheduler.add_job(j).unwrap_err().to_string(),
        "name: must not be empty"
    );
    f.scheduler.add_job(job("dup", every(1), "ok")).unwrap();
    assert_eq!(
        f.scheduler
            .add_job(job("dup", every(1), "ok"))
            .unwrap_err()
            .to_string(),
        "id: a job with id 'dup' already exists"
    );
    let generated = f
        .scheduler
        .add_job(Job {
            name: "anonymous".into(),
            ..job("", every(1), "ok")
        })
        .unwrap();
    assert_eq!(generated.id.len(), 16);
}

#[tokio::test(start_paused = true)]
async fn changes_made_by_another_process_are_picked_up_within_a_second() {
    let mut f = fixture();
    f.scheduler.add_job(job("mine", every(3600), "ok")).unwrap();
    advance(0.5).await;
    drain(&mut f.events);
    // Another process (the CLI) writes straight to the store.
    let mut theirs = job("theirs", every(10), "ok");
    theirs.next_run = Some(base() + Duration::seconds(2));
    f.store.add_jobs(&[theirs]).unwrap();
    advance(3.0).await;
    assert_eq!(states(&runs_of(&f, "theirs")), [RunState::Succeeded]);
    let mut paused = f.store.get_job("theirs").unwrap().unwrap();
    paused.paused = true;
    f.store.update_job(&paused).unwrap();
    f.store.remove_job("mine").unwrap();
    advance(30.0).await;
    assert_eq!(
        runs_of(&f, "theirs").len(),
        1,
        "paused elsewhere: no more runs"
    );
    let names: Vec<_> = drain(&mut f.events)
        .iter()
        .map(|e| e.event.name())
        .collect();
    assert!(names.contains(&"job_added".to_string()), "{names:?}");
    assert!(names.contains(&"job_modified".to_string()), "{names:?}");
    assert!(names.contains(&"job_removed".to_string()), "{names:?}");
    assert_eq!(f.scheduler.status().jobs, 1);
    // Our own changes do not count as foreign ones.
    f.scheduler
        .add_job(job("again", every(3600), "ok"))
        .unwrap();
    advance(2.0).await;
    let names: Vec<_> = drain(&mut f.events)
        .iter()
        .map(|e| e.event.name())
        .collect();
    assert_eq!(
        names.iter().filter(|n| *n == "job_added").count(),
        1,
        "{names:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_crowd_due_at_once_all_runs_on_time() {
    // More jobs than one dispatch chunk, all due at the same moment.
    let f = fixture();
    let crowd: Vec<Job> = (0..1000)
        .map(|i| job(&format!("j{i:04}"), every(60), "ok"))
        .collect();
    f.scheduler.add_jobs(crowd).unwrap();
    advance(1.0).await;
    for i in [0, 63, 64, 999] {
        let runs = runs_of(&f, &format!("j{i:04}"));
        assert_eq!(states(&runs), [RunState::Succeeded], "job {i}");
        assert_eq!(runs[0].started, Some(base()), "job {i}");
    }
    assert_eq!(f.scheduler.stats().started, 1000);
    assert_eq!(f.scheduler.stats().lateness_max_ms, 0.0);
}

#[tokio::test(start_paused = true)]
async fn a_job_the_change_watcher_saw_first_is_queued_once() {
    // The watcher can notice our own add between the store write and `add_jobs` taking the
    // state lock, and queue the job first; the add must replace that place, not add one.
    let f = fixture();
    let at = base() + Duration::seconds(5);
    {
        let mut state = lock(&f.scheduler.inner.state);
        let id: Arc<str> = "twice".into();
        state.slots.insert(id.clone(), Slot::default());
        state.enqueue(&id, Some((at, at)));
    }
    f.scheduler
        .add_job(job(
            "twice",
            json!({"type": "interval", "seconds": 10, "start": at}),
            "ok",
        ))
        .unwrap();
    assert_eq!(lock(&f.scheduler.inner.state).queue.len(), 1);
    advance(6.0).await;
    assert_eq!(states(&runs_of(&f, "twice")), [RunState::Succeeded]);
    f.scheduler.remove_job("twice").unwrap();
    assert!(lock(&f.scheduler.inner.state).queue.is_empty());
    assert_eq!(f.scheduler.status().next_run, None);
}

/// A scheduler on the SQLite file at `path`, reading `clock`, with the `ok` function.
fn on_file(path: &std::path::Path, clock: &Arc<TestClock>) -> Scheduler {
    let store = crate::store::SqliteStore::open(path).unwrap();
    let s = Scheduler::with_clock(Arc::new(store), clock.clone());
    s.register("ok", |_| async { "done".to_string() });
    s
}

/// Two live schedulers under the paused clock: virtual time leaps ahead whenever every task
/// waits, also while a heartbeat is still being written on a blocking thread, so on a busy
/// machine a live node could look lapsed. A long lease keeps these tests about what they test.
fn patient(schedulers: &[&Scheduler]) {
    for s in schedulers {
        let mut settings = s.settings();
        settings.cluster.lease_s = 3600;
        s.update_settings(settings).unwrap();
    }
}

/// Every run of `job_id` in the store, oldest first.
fn stored_runs(s: &Scheduler, job_id: &str) -> Vec<RunRecord> {
    s.store().flush().unwrap();
    let mut runs = s
        .store()
        .runs(&RunQuery {
            job_id: Some(job_id.into()),
            limit: 10_000,
            ..Default::default()
        })
        .unwrap();
    runs.reverse();
    runs
}

#[tokio::test(start_paused = true)]
async fn two_schedulers_on_one_database_run_each_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let clock = Arc::new(TestClock::new(base()));
    let (a, b) = (on_file(&path, &clock), on_file(&path, &clock));
    patient(&[&a, &b]);
    a.add_job(job("tick", every(1), "ok")).unwrap();
    a.start().unwrap();
    b.start().unwrap();
    advance(20.5).await;
    a.shutdown(StdDuration::from_secs(5)).await;
    b.shutdown(StdDuration::from_secs(5)).await;
    let runs = stored_runs(&a, "tick");
    let fires: Vec<i64> = runs
        .iter()
        .map(|r| (r.scheduled - base()).num_seconds())
        .collect();
    assert_eq!(fires, (0..=20).collect::<Vec<_>>(), "one run per fire");
    assert!(
        runs.iter().all(|r| r.state == RunState::Succeeded),
        "{:?}",
        runs.iter()
            .filter(|r| r.state != RunState::Succeeded)
            .collect::<Vec<_>>()
    );
    let nodes = [a.node().id, b.node().id];
    assert!(runs
        .iter()
        .all(|r| nodes.contains(&r.node.as_deref().unwrap().to_string())));
    // Both registered, and both left at shutdown.
    let listed = a.nodes().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|n| n.left.is_some()));
}

#[tokio::test(start_paused = true)]
async fn a_pinned_job_runs_only_where_its_labels_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let clock = Arc::new(TestClock::new(base()));
    let (plain, gpu) = (on_file(&path, &clock), on_file(&path, &clock));
    patient(&[&plain, &gpu]);
    gpu.set_node_labels(vec!["gpu".into()]);
    let mut pinned = job("train", every(1), "ok");
    pinned.node_labels = vec!["gpu".into()];
    plain.add_job(pinned).unwrap();
    plain.start().unwrap();
    gpu.start().unwrap();
    advance(5.5).await;
    plain.shutdown(StdDuration::from_secs(5)).await;
    gpu.shutdown(StdDuration::from_secs(5)).await;
    let runs = stored_runs(&plain, "train");
    assert_eq!(runs.len(), 6, "{runs:?}");
    let gpu_id = gpu.node().id;
    assert!(runs
        .iter()
        .all(|r| r.node.as_deref() == Some(gpu_id.as_str())));
}

#[tokio::test(start_paused = true)]
async fn function_jobs_run_on_time_where_their_function_is() {
    // A library program and a `kairos serve` on one file: only the program has `sample`.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let clock = Arc::new(TestClock::new(base()));
    let (server, program) = (on_file(&path, &clock), on_file(&path, &clock));
    patient(&[&server, &program]);
    program.register("sample", |_| async { "sampled" });
    server.start().unwrap();
    program.start().unwrap();
    advance(3.0).await; // a heartbeat: each node sees the other, and the program's function
    for i in 0..8 {
        program
            .add_job(job(&format!("s{i}"), every(1), "sample"))
            .unwrap();
    }
    advance(5.5).await;
    server.shutdown(StdDuration::from_secs(5)).await;
    program.shutdown(StdDuration::from_secs(5)).await;
    let me = program.node().id;
    for i in 0..8 {
        let runs = stored_runs(&program, &format!("s{i}"));
        assert!(runs.len() >= 5, "s{i}: {runs:?}");
        assert!(
            runs.iter().all(|r| r.state == RunState::Succeeded
                && r.node.as_deref() == Some(me.as_str())
                && r.started == Some(r.scheduled)),
            "s{i} ran on time, on the program: {runs:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_dead_nodes_run_is_abandoned_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let clock = Arc::new(TestClock::new(base()));
    let s = on_file(&path, &clock);
    let mut j = job(
        "flaky",
        json!({"type": "date", "at": "2030-01-01T00:00:00Z"}),
        "ok",
    );
    j.options.retries = Some(Retries {
        count: 1,
        backoff_s: 1.0,
        factor: 1.0,
    });
    s.add_job(j).unwrap();
    // A node that claimed a run and then stopped beating 20 s ago.
    let mut dead = NodeInfo::this_process(vec![], base() - Duration::seconds(30));
    dead.id = "dead".into();
    dead.instance = "elsewhere".into();
    s.store().heartbeat(&dead).unwrap();
    let mut run = RunRecord::new(
        0,
        "flaky",
        base() - Duration::seconds(25),
        RunState::Submitted,
    );
    // Run by hand with parameters: the retry runs with the same ones.
    run.params = Some(Box::new(crate::history::RunParams {
        args: vec!["again".into()],
        ..Default::default()
    }));
    let claim = crate::store::Claim::insert("flaky", vec![run], u32::MAX);
    let claimed = s
        .store()
        .claim(&"dead".into(), base(), vec![claim])
        .unwrap();
    let orphan = claimed[0].runs[0].clone();
    let mut events = s.events().subscribe(EventMask::RUNS);
    s.start().unwrap();
    advance(1.0).await;
    s.shutdown(StdDuration::from_secs(5)).await;
    let runs = stored_runs(&s, "flaky");
    assert_eq!(states(&runs), [RunState::Abandoned, RunState::Succeeded]);
    assert_eq!(runs[0].id, orphan.id);
    assert_eq!(runs[1].attempt, 2);
    assert_eq!(runs[1].scheduled, orphan.scheduled);
    assert_eq!(runs[1].params, orphan.params);
    assert!(runs[1].params.is_some());
    assert_eq!(runs[1].node.as_deref(), Some(s.node().id.as_str()));
    let names: Vec<_> = drain(&mut events).iter().map(|e| e.event.name()).collect();
    assert_eq!(names[..2], ["run_abandoned", "run_submitted"], "{names:?}");
}

#[tokio::test(start_paused = true)]
async fn a_run_left_without_its_node_is_swept_up_within_a_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let clock = Arc::new(TestClock::new(base()));
    let s = on_file(&path, &clock);
    s.add_job(job(
        "left",
        json!({"type": "date", "at": "2030-01-01T00:00:00Z"}),
        "ok",
    ))
    .unwrap();
    s.start().unwrap();
    advance(2.5).await;
    // Between two of our heartbeats a node came, claimed a run and left without finishing
    // it: the nodes alive look the same, so nothing tells of the run but the store.
    let now = base() + Duration::seconds(2);
    let mut other = NodeInfo::this_process(vec![], now);
    other.id = "brief".into();
    other.instance = "elsewhere".into();
    s.store().heartbeat(&other).unwrap();
    let run = RunRecord::new(0, "left", now, RunState::Submitted);
    let claim = crate::store::Claim::insert("left", vec![run], u32::MAX);
    let claimed = s.store().claim(&"brief".into(), now, vec![claim]).unwrap();
    s.store().leave("brief", now).unwrap();
    // An idle node's heartbeat writes only itself; the sweep for such runs comes once a lease.
    let settings = s.settings().cluster;
    advance(f64::from(settings.lease_s + settings.heartbeat_s)).await;
    s.shutdown(StdDuration::from_secs(5)).await;
    let runs = stored_runs(&s, "left");
    assert_eq!(runs[0].id, claimed[0].runs[0].id);
    assert_eq!(states(&runs[..1]), [RunState::Abandoned]);
}

#[tokio::test(start_paused = true)]
async fn events_from_another_node_reach_listeners_here() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let clock = Arc::new(TestClock::new(base()));
    let (a, b) = (on_file(&path, &clock), on_file(&path, &clock));
    patient(&[&a, &b]);
    a.set_node_labels(vec!["a".into()]);
    let mut pinned = job("on-a", every(1), "ok");
    pinned.node_labels = vec!["a".into()];
    a.add_job(pinned).unwrap();
    let mut heard = b.events().subscribe(EventMask::RUNS);
    a.start().unwrap();
    b.start().unwrap();
    // Heartbeats tell A that B has a listener; then A shares its runs' events.
    advance(8.5).await;
    a.shutdown(StdDuration::from_secs(5)).await;
    b.shutdown(StdDuration::from_secs(5)).await;
    let events = drain(&mut heard);
    let from_a: Vec<_> = events
        .iter()
        .filter(|e| e.node.as_deref() == Some(a.node().id.as_str()))
        .collect();
    assert!(
        from_a
            .iter()
            .any(|e| matches!(&e.event, Event::RunSucceeded(r) if r.job_id == "on-a")),
        "{events:?}"
    );
    // Nothing B did itself came back to it as another node's.
    assert!(events
        .iter()
        .all(|e| e.node.is_none() || e.node.as_deref() == Some(a.node().id.as_str())));
    // A's own listeners never hear its events twice.
    let runs = stored_runs(&a, "on-a");
    let succeeded = from_a
        .iter()
        .filter(|e| matches!(e.event, Event::RunSucceeded(_)))
        .count();
    assert!(succeeded <= runs.len(), "{succeeded} > {}", runs.len());
}

#[tokio::test(start_paused = true)]
async fn runs_are_cancelled_running_queued_or_waiting_to_retry() {
    let mut f = fixture();
    f.scheduler
        .update_settings(Settings {
            pools: [("default".to_string(), 1)].into(),
            ..f.scheduler.settings()
        })
        .unwrap();
    for id in ["one", "two"] {
        f.scheduler
            .add_job(job(id, json!({"type": "date", "at": BASE}), "slow"))
            .unwrap();
    }
    advance(1.0).await;
    let mut both: Vec<RunRecord> = ["one", "two"]
        .iter()
        .flat_map(|id| runs_of(&f, id))
        .collect();
    both.sort_by_key(|r| r.state != RunState::Running);
    let [running, waiting] = [both[0].id, both[1].id];
    assert_eq!(
        states(&both),
        [RunState::Running, RunState::Submitted],
        "one worker, busy with one of them"
    );

    // The queued run first: it never starts.
    f.scheduler.cancel_run(waiting).unwrap();
    f.scheduler.cancel_run(running).unwrap();
    advance(1.0).await;
    let run = |id| f.store.run(id).unwrap().unwrap();
    let (running, waiting) = (run(running), run(waiting));
    assert_eq!(running.state, RunState::Cancelled);
    assert_eq!(running.error.as_deref(), Some("cancelled"));
    assert_eq!(waiting.state, RunState::Cancelled);
    assert_eq!(waiting.started, None);
    assert_eq!(
        waiting.error.as_deref(),
        Some("cancelled before it started")
    );
    let cancelled = drain(&mut f.events)
        .into_iter()
        .filter(|e| e.event.name() == "run_cancelled")
        .count();
    assert_eq!(cancelled, 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_waiting_out_its_backoff_is_cancelled_and_not_retried() {
    let f = fixture();
    let mut j = job("flaky", json!({"type": "date", "at": BASE}), "fail");
    j.options.retries = Some(Retries {
        count: 3,
        backoff_s: 60.0,
        factor: 1.0,
    });
    f.scheduler.add_job(j).unwrap();
    advance(1.0).await;
    let runs = runs_of(&f, "flaky");
    assert_eq!(states(&runs), [RunState::Failed, RunState::Submitted]);
    let run = f.scheduler.cancel_run(runs[1].id).unwrap();
    assert_eq!(run.attempt, 2);
    advance(600.0).await;
    let runs = runs_of(&f, "flaky");
    assert_eq!(states(&runs), [RunState::Failed, RunState::Cancelled]);
    assert_eq!(runs[1].error.as_deref(), Some("cancelled before its retry"));

    // Ended and unknown runs say so.
    assert!(matches!(
        f.scheduler.cancel_run(runs[1].id),
        Err(SchedulerError::Conflict(m)) if m.contains("already ended (cancelled)")
    ));
    assert!(matches!(
        f.scheduler.cancel_run(999_999),
        Err(SchedulerError::NoRun(999_999))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_cancel_asked_of_another_node_reaches_the_one_running_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let clock = Arc::new(TestClock::new(base()));
    let (a, b) = (on_file(&path, &clock), on_file(&path, &clock));
    patient(&[&a, &b]);
    let slow = |_| async { tokio::time::sleep(StdDuration::from_secs(3600)).await };
    a.register("slow", slow);
    b.register("slow", slow);
    a.add_job(job("long", json!({"type": "date", "at": BASE}), "slow"))
        .unwrap();
    a.start().unwrap();
    b.start().unwrap();
    advance(1.0).await;
    let run = stored_runs(&a, "long").pop().unwrap();
    assert_eq!(run.state, RunState::Running);
    // Asked of the node that does not run it.
    let other = if run.node.as_deref() == Some(a.node().id.as_str()) {
        &b
    } else {
        &a
    };
    other.cancel_run(run.id).unwrap();
    advance(1.5).await;
    let run = stored_runs(&a, "long").pop().unwrap();
    assert_eq!(
        run.state,
        RunState::Cancelled,
        "within the second's change check"
    );
    a.shutdown(StdDuration::from_secs(5)).await;
    b.shutdown(StdDuration::from_secs(5)).await;
}

#[tokio::test(start_paused = true)]
async fn a_runs_end_starts_the_jobs_that_follow_it() {
    let f = fixture();
    let once = || json!({"type": "date", "at": "2030-01-01T00:00:00Z"});
    let follower = |id: &str, on: crate::job::FollowOn| crate::job::Follow { job: id.into(), on };
    use crate::job::FollowOn::{Completed, Failed, Succeeded};
    // Followers first: a chain names jobs that exist.
    f.scheduler
        .add_jobs(vec![
            job("report", once(), "ok"),
            job("alert", once(), "ok"),
            job("cleanup", once(), "ok"),
        ])
        .unwrap();
    let mut good = job("good", once(), "ok");
    good.then = vec![follower("report", Succeeded), follower("alert", Failed)];
    let mut bad = job("bad", once(), "fail");
    bad.then = vec![follower("alert", Failed), follower("cleanup", Completed)];
    f.scheduler.add_jobs(vec![good, bad]).unwrap();

    let good_run = f.scheduler.run_now("good").unwrap();
    advance(1.0).await;
    let report = runs_of(&f, "report");
    assert_eq!(states(&report), [RunState::Succeeded]);
    assert_eq!(report[0].upstream, std::num::NonZeroI64::new(good_run));
    assert!(report[0].manual, "outside the schedule");
    assert!(runs_of(&f, "alert").is_empty(), "not on success");

    let bad_run = f.scheduler.run_now("bad").unwrap();
    advance(1.0).await;
    for id in ["alert", "cleanup"] {
        let runs = runs_of(&f, id);
        assert_eq!(runs.len(), 1, "{id}");
        assert_eq!(runs[0].upstream, std::num::NonZeroI64::new(bad_run), "{id}");
    }
    assert_eq!(runs_of(&f, "report").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn chains_that_loop_or_name_no_job_are_refused() {
    let f = fixture();
    let chain = |id: &str, then: &[&str]| {
        let mut j = job(id, every(60), "ok");
        j.then = then
            .iter()
            .map(|t| crate::job::Follow {
                job: t.to_string(),
                on: Default::default(),
            })
            .collect();
        j
    };
    let refused = |r: Result<Job, SchedulerError>| match r {
        Err(SchedulerError::Invalid { field, message }) => format!("{field}: {message}"),
        other => panic!("accepted: {other:?}"),
    };
    assert_eq!(
        refused(f.scheduler.add_job(chain("a", &["ghost"]))),
        "then[0].job: no job with id 'ghost'"
    );
    assert_eq!(
        refused(f.scheduler.add_job(chain("me", &["me"]))),
        "then[0].job: this chain loops (me → me); a job cannot start itself again"
    );
    // Added together, jobs may name each other; a loop through stored jobs is found.
    f.scheduler
        .add_jobs(vec![
            chain("a", &["b"]),
            chain("b", &["c"]),
            chain("c", &[]),
        ])
        .unwrap();
    assert_eq!(
        refused(f.scheduler.update_job(chain("c", &["x", "a"]))),
        "then[0].job: no job with id 'x'"
    );
    f.scheduler.add_job(chain("x", &[])).unwrap();
    assert_eq!(
        refused(f.scheduler.update_job(chain("c", &["x", "a"]))),
        "then[1].job: this chain loops (c → a → b → c); a job cannot start itself again"
    );
    assert!(
        f.scheduler.get_job("c").unwrap().then.is_empty(),
        "nothing half-changed"
    );
    f.scheduler.update_job(chain("c", &["x"])).unwrap();
}

#[tokio::test(start_paused = true)]
async fn alert_rules_name_channels_that_exist_and_say_enough() {
    use crate::alert::{AlertOn, AlertRule, Channel, Language, Target};
    let f = fixture();
    let rule = |channel: &str, on: Vec<AlertOn>, longer_than_s| AlertRule {
        channel: channel.into(),
        on,
        longer_than_s,
    };
    let with = |rules: Vec<AlertRule>| {
        let mut j = job("watched", every(60), "ok");
        j.options.alerts = Some(rules);
        j
    };
    let refused = |r: Result<Job, SchedulerError>| match r {
        Err(SchedulerError::Invalid { field, .. }) => field,
        other => panic!("accepted: {other:?}"),
    };
    assert_eq!(
        refused(
            f.scheduler
                .add_job(with(vec![rule("ops", vec![AlertOn::Failed], None)]))
        ),
        "options.alerts[0].channel"
    );
    f.scheduler
        .add_channel(Channel {
            id: "ops".into(),
            name: "Ops".into(),
            enabled: true,
            language: Language::English,
            target: Target::Slack {
                url: "https://hooks.slack.com/x".into(),
            },
        })
        .unwrap();
    assert_eq!(
        refused(f.scheduler.add_job(with(vec![
            rule("ops", vec![AlertOn::Failed], None),
            rule("ops", vec![AlertOn::Slow], None),
        ]))),
        "options.alerts[1].longer_than_s"
    );
    assert_eq!(
        refused(f.scheduler.add_job(with(vec![rule("ops", vec![], None)]))),
        "options.alerts[0].on"
    );
    f.scheduler
        .add_job(with(vec![rule("ops", vec![AlertOn::Slow], Some(60))]))
        .unwrap();
    // A channel removed later does not block edits that keep its rule.
    f.scheduler.remove_channel("ops").unwrap();
    let mut watched = f.scheduler.get_job("watched").unwrap();
    watched.description = "still watched".into();
    f.scheduler.update_job(watched).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_chain_loop_that_slipped_past_the_check_stops() {
    let f = fixture();
    let once = || json!({"type": "date", "at": "2030-01-01T00:00:00Z"});
    f.scheduler
        .add_jobs(vec![job("ping", once(), "ok"), job("pong", once(), "ok")])
        .unwrap();
    // As two edits at the same moment could leave it: ping → pong → ping, past the check.
    for (id, next) in [("ping", "pong"), ("pong", "ping")] {
        let mut j = f.store.get_job(id).unwrap().unwrap();
        j.then = vec![crate::job::Follow {
            job: next.into(),
            on: Default::default(),
        }];
        f.store.update_job(&j).unwrap();
    }
    f.scheduler.run_now("ping").unwrap();
    advance(60.0).await;
    let total = runs_of(&f, "ping").len() + runs_of(&f, "pong").len();
    assert_eq!(
        total,
        chain::MAX_CHAIN_DEPTH + 1,
        "the first run and its chain, then no more"
    );
}

/// How long after now `events` brings an event called `name` (at most 5 s).
async fn heard(events: &mut Listener, name: &str) -> StdDuration {
    let started = std::time::Instant::now();
    let wait = async {
        while let Some(e) = events.recv().await {
            if e.event.name() == name {
                return;
            }
        }
    };
    tokio::time::timeout(StdDuration::from_secs(5), wait)
        .await
        .unwrap_or_else(|_| panic!("{name} never heard"));
    started.elapsed()
}

/// In real time: each change another process makes to the file is heard well within the
/// one-second poll it replaced. (With the poll, the second and third changes, each made right
/// after the previous one was heard, take a whole period: 1.00 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_processs_changes_to_the_file_are_heard_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let here = Scheduler::new(Arc::new(crate::store::SqliteStore::open(&path).unwrap()));
    let mut events = here.events().subscribe(EventMask::JOBS);
    here.start().unwrap();
    let theirs = crate::store::SqliteStore::open(&path).unwrap();
    let later = json!({"type": "date", "at": "2099-01-01T00:00:00Z"});
    let mut took = Vec::new();
    theirs
        .add_jobs(&[job("theirs", later.clone(), "ok")])
        .unwrap();
    took.push(heard(&mut events, "job_added").await);
    let mut paused = theirs.get_job("theirs").unwrap().unwrap();
    paused.paused = true;
    theirs.update_job(&paused).unwrap();
    took.push(heard(&mut events, "job_modified").await);
    theirs.remove_job("theirs").unwrap();
    took.push(heard(&mut events, "job_removed").await);
    assert!(
        took.iter().all(|t| *t < StdDuration::from_millis(600)),
        "heard after {took:?}: polled, not watched"
    );
    here.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn first_prunes_of_many_jobs_are_spread_over_seconds() {
    let store = Arc::new(MemoryStore::new());
    let scheduler = Scheduler::with_clock(store.clone(), Arc::new(TestClock::new(base())));
    scheduler.start().unwrap();
    let count = 3 * PRUNES_PER_SECOND as usize;
    let mut jobs = Vec::new();
    let mut runs = Vec::new();
    for i in 0..count {
        let mut j = job(
            &format!("p{i}"),
            json!({"type": "interval", "seconds": 86400}),
            "ok",
        );
        j.options.retention = Some(crate::job::Retention {
            max_runs: 1,
            max_age_days: 365,
        });
        for k in 0..2 {
            let id = (i * 2 + k + 1) as i64;
            runs.push(RunRecord::new(id, &j.id, base(), RunState::Succeeded));
        }
        jobs.push(j);
    }
    store.record_runs(runs);
    let inner = &scheduler.inner;
    let pruned = |id: &str| {
        store.flush().unwrap();
        let query = RunQuery {
            job_id: Some(id.into()),
            limit: 10,
            ..Default::default()
        };
        store.runs(&query).unwrap().len() == 1
    };
    let pruned_count = || jobs.iter().filter(|j| pruned(&j.id)).count();
    // Every job's first run ends in the same second: so many prune at once ...
    let counters: Vec<RunCounters> = jobs.iter().map(|_| RunCounters::default()).collect();
    for (j, c) in jobs.iter().zip(&counters) {
        c.active.fetch_add(1, Ordering::AcqRel);
        inner.run_finished(j, c, base());
    }
    assert_eq!(pruned_count(), PRUNES_PER_SECOND as usize);
    // ... the others wait in the queue, whose task makes so many a second.
    advance(0.1).await;
    assert_eq!(pruned_count(), 2 * PRUNES_PER_SECOND as usize);
    advance(1.0).await;
    assert_eq!(pruned_count(), count);
    // A job that went twice PRUNE_EVERY runs without a prune is pruned over the budget.
    let late = RunCounters::default();
    late.finished.store(2 * PRUNE_EVERY - 1, Ordering::Relaxed);
    late.prune_from.store(2 * PRUNE_EVERY, Ordering::Relaxed);
    store.record_runs(vec![
        RunRecord::new(10_000, "p0", base(), RunState::Succeeded),
        RunRecord::new(10_001, "p0", base(), RunState::Succeeded),
    ]);
    let busy = base() + Duration::seconds(5);
    while inner.may_prune(busy) {}
    late.active.fetch_add(1, Ordering::AcqRel);
    inner.run_finished(&jobs[0], &late, busy);
    assert!(pruned("p0"));
    // A queued prune counts as made: when the jobs come due again together, 100 and 200
    // runs later, only so many prune at once again (none is taken for 200 runs overdue).
    let mut next_id = 20_000;
    for run in 2..=2 * PRUNE_EVERY + 1 {
        let at = base() + Duration::seconds(run.into());
        let due = (run - 1) % PRUNE_EVERY == 0;
        if due {
            let mut more = Vec::new();
            for j in &jobs {
                for _ in 0..2 {
                    next_id += 1;
                    more.push(RunRecord::new(next_id, &j.id, at, RunState::Succeeded));
                }
            }
            store.record_runs(more);
        }
        for (j, c) in jobs.iter().zip(&counters) {
            c.active.fetch_add(1, Ordering::AcqRel);
            inner.run_finished(j, c, at);
        }
        if due {
            assert_eq!(pruned_count(), PRUNES_PER_SECOND as usize, "run {run}");
        }
        advance(1.0).await;
    }
    scheduler.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_job_run_by_hand_before_the_start_still_fires_on_schedule() {
    let store = Arc::new(MemoryStore::new());
    let mut stored = job("x", json!({"type": "interval", "seconds": 10}), "ok");
    stored.next_run = Some(base() + Duration::seconds(10));
    store.add_jobs(&[stored]).unwrap();
    let scheduler = Scheduler::with_clock(store.clone(), Arc::new(TestClock::new(base())));
    scheduler.register("ok", |_| async { "done".to_string() });
    scheduler.run_now("x").unwrap();
    scheduler.start().unwrap();
    advance(10.5).await;
    let fires: Vec<_> = runs(&store, "x").iter().map(|r| r.scheduled).collect();
    assert_eq!(fires.len(), 2, "{fires:?}");
    assert_eq!(fires[1], base() + Duration::seconds(10));
}

#[test]
fn a_job_s_place_in_the_run_loop_stays_small() {
    // One slot and one due-set entry per job: a million jobs hold 2^21 slots' room.
    assert!(std::mem::size_of::<Slot>() <= 48);
    assert!(std::mem::size_of::<DueEntry>() <= 32);
}
