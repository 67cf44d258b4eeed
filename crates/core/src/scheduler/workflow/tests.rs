//! Workflows under tokio's paused clock: steps are in-process functions, so each test knows
//! exactly what ran, when, and in which order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use super::super::{Scheduler, SchedulerError, TestClock};
use crate::action::{Action, Edge, FunctionAction, Step, WorkflowAction};
use crate::history::{RunQuery, RunRecord, RunState};
use crate::job::{FollowOn, Job, JobOptions, Retries};
use crate::store::{Claim, JobStore, NodeInfo, SqliteStore};

fn base() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// What the steps' functions did, as (step, virtual seconds since the start) in order.
type Log = Arc<Mutex<Vec<(String, u64)>>>;

struct Fixture {
    scheduler: Scheduler,
    log: Log,
    /// While set, the function `flaky` fails.
    broken: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

/// A scheduler on a real SQLite file with functions that log, wait and fail on demand.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let scheduler = on_file(&dir.path().join("kairos.db"));
    let log = Log::default();
    let broken = Arc::new(AtomicBool::new(true));
    functions(&scheduler, &log, &broken);
    scheduler.start().unwrap();
    Fixture {
        scheduler,
        log,
        broken,
        _dir: dir,
    }
}

fn on_file(path: &std::path::Path) -> Scheduler {
    let store = SqliteStore::open(path).unwrap();
    Scheduler::with_clock(Arc::new(store), Arc::new(TestClock::new(base())))
}

fn functions(s: &Scheduler, log: &Log, broken: &Arc<AtomicBool>) {
    let started = tokio::time::Instant::now();
    let note = {
        let log = log.clone();
        move |what: &str| {
            let at = started.elapsed().as_secs();
            log.lock().unwrap().push((what.to_string(), at));
        }
    };
    for (name, secs) in [("quick", 0), ("two", 2), ("slow", 600)] {
        let note = note.clone();
        s.register(name, move |ctx| {
            let note = note.clone();
            async move {
                note(&format!("{name} start {}", ctx.run_id));
                tokio::time::sleep(StdDuration::from_secs(secs)).await;
                note(&format!("{name} end {}", ctx.run_id));
            }
        });
    }
    s.register("fail", |_| async { Err::<(), _>("boom") });
    let broken = broken.clone();
    s.register("flaky", move |_| {
        let broken = broken.load(Ordering::SeqCst);
        async move {
            if broken {
                Err("still broken")
            } else {
                Ok(())
            }
        }
    });
}

fn step(id: &str, function: &str) -> Step {
    Step {
        id: id.into(),
        action: Some(Box::new(Action::Function(FunctionAction {
            name: function.into(),
        }))),
        job: None,
        timeout_s: None,
        retries: None,
    }
}

fn edge(from: &str, to: &str, on: FollowOn) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
        on,
    }
}

fn workflow_job(id: &str, steps: Vec<Step>, edges: Vec<Edge>) -> Job {
    Job {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        tags: vec![],
        trigger: serde_json::from_value(
            serde_json::json!({"type": "date", "at": "2030-01-01T00:00:00Z"}),
        )
        .unwrap(),
        action: Action::Workflow(WorkflowAction { steps, edges }),
        options: JobOptions::default(),
        paused: false,
        pool: "default".into(),
        node_labels: vec![],
        then: vec![],
        next_run: None,
    }
}

async fn advance(seconds: u64) {
    tokio::time::sleep(StdDuration::from_secs(seconds)).await;
}

fn run(s: &Scheduler, id: i64) -> RunRecord {
    s.store().flush().unwrap();
    s.store().run(id).unwrap().unwrap()
}

/// The step runs of workflow run `id`, oldest first, as (step, state).
fn steps(s: &Scheduler, id: i64) -> Vec<(String, RunState)> {
    step_runs(s, id)
        .into_iter()
        .map(|r| (r.step.unwrap().to_string(), r.state))
        .collect()
}

fn step_runs(s: &Scheduler, id: i64) -> Vec<RunRecord> {
    s.store().flush().unwrap();
    let query = RunQuery {
        upstream: Some(id),
        limit: 1000,
        ..Default::default()
    };
    let mut runs = s.store().runs(&query).unwrap();
    runs.reverse();
    runs
}

fn logged(f: &Fixture) -> Vec<String> {
    let log = f.log.lock().unwrap();
    log.iter()
        .map(|(what, at)| format!("{at}s {what}"))
        .collect()
}

use FollowOn::{Completed, Failed, Succeeded};
use RunState as S;

#[tokio::test(start_paused = true)]
async fn branches_run_in_parallel_and_a_join_waits_for_both() {
    let f = fixture();
    let s = &f.scheduler;
    let wf = workflow_job(
        "etl",
        vec![
            step("extract", "quick"),
            step("clean", "two"),
            step("stats", "two"),
            step("load", "quick"),
        ],
        vec![
            edge("extract", "clean", Succeeded),
            edge("extract", "stats", Succeeded),
            edge("clean", "load", Succeeded),
            edge("stats", "load", Succeeded),
        ],
    );
    s.add_job(wf).unwrap();
    let id = s.run_now("etl").unwrap();
    advance(1).await;
    assert_eq!(run(s, id).state, S::Running);
    advance(5).await;
    let ran = step_runs(s, id);
    let by_step = |name: &str| {
        ran.iter()
            .find(|r| r.step.as_deref() == Some(name))
            .unwrap()
    };
    let (extract, clean, stats, load) = (
        by_step("extract").id,
        by_step("clean").id,
        by_step("stats").id,
        by_step("load").id,
    );
    // Both branches start together once 'extract' is done; 'load' waits for the later one.
    assert_eq!(
        logged(&f),
        [
            format!("0s quick start {extract}"),
            format!("0s quick end {extract}"),
            format!("0s two start {clean}"),
            format!("0s two start {stats}"),
            format!("2s two end {clean}"),
            format!("2s two end {stats}"),
            format!("2s quick start {load}"),
            format!("2s quick end {load}"),
        ]
    );
    assert!(ran.iter().all(|r| r.state == S::Succeeded
        && r.upstream.map(|u| u.get()) == Some(id)
        && r.job_id == "etl"));
    let done = run(s, id);
    assert_eq!((done.state, done.error), (S::Succeeded, None));
    // The job's newest run is the workflow's own, not its last step's.
    let page = s.store().query_jobs(&Default::default()).unwrap();
    assert_eq!(page.items[0].last_run.as_ref().map(|r| r.id), Some(id));
}

#[tokio::test(start_paused = true)]
async fn each_condition_starts_or_skips_its_step() {
    let f = fixture();
    let s = &f.scheduler;
    let wf = workflow_job(
        "deploy",
        vec![
            step("build", "fail"),
            step("ship", "quick"),
            step("page", "quick"),
            step("cleanup", "quick"),
            step("announce", "quick"),
        ],
        vec![
            edge("build", "ship", Succeeded),
            edge("build", "page", Failed),
            edge("build", "cleanup", Completed),
            edge("ship", "announce", Succeeded),
        ],
    );
    s.add_job(wf).unwrap();
    let id = s.run_now("deploy").unwrap();
    advance(1).await;
    let mut got = steps(s, id);
    got.sort();
    assert_eq!(
        got,
        [
            ("announce".into(), S::Skipped),
            ("build".into(), S::Failed),
            ("cleanup".into(), S::Succeeded),
            ("page".into(), S::Succeeded),
            ("ship".into(), S::Skipped),
        ]
    );
    let ship = step_runs(s, id)
        .into_iter()
        .find(|r| r.step.as_deref() == Some("ship"));
    assert_eq!(
        ship.unwrap().error.as_deref(),
        Some("not run: it follows 'build' on success, which ended failed")
    );
    // 'page' expects the failure, so the workflow succeeded.
    assert_eq!(run(s, id).state, S::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn a_failed_step_fails_the_workflow_and_retrying_it_continues_from_there() {
    let f = fixture();
    let s = &f.scheduler;
    let wf = workflow_job(
        "nightly",
        vec![
            step("fetch", "quick"),
            step("convert", "flaky"),
            step("publish", "quick"),
        ],
        vec![
            edge("fetch", "convert", Succeeded),
            edge("convert", "publish", Succeeded),
        ],
    );
    s.add_job(wf).unwrap();
    let id = s.run_now("nightly").unwrap();
    advance(1).await;
    let failed = run(s, id);
    assert_eq!(failed.state, S::Failed);
    assert_eq!(failed.error.as_deref(), Some("step 'convert' failed"));
    let ran = step_runs(s, id);
    assert_eq!(
        steps(s, id),
        [
            ("fetch".into(), S::Succeeded),
            ("convert".into(), S::Failed),
            ("publish".into(), S::Skipped)
        ]
    );
    let convert = ran[1].id;

    // Only the step's newest run of an ended workflow can be retried.
    let refused = |r: Result<RunRecord, SchedulerError>| match r {
        Err(SchedulerError::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other:?}"),
    };
    assert!(refused(s.retry_step(id)).contains("is not a workflow step's run"));
    assert!(refused(s.retry_step(ran[2].id)).contains("was skipped"));

    f.broken.store(false, Ordering::SeqCst);
    let again = s.retry_step(convert).unwrap();
    assert_eq!((again.id, again.state), (id, S::Running));
    assert!(refused(s.retry_step(convert)).contains("is still running"));
    advance(1).await;
    let done = run(s, id);
    assert_eq!((done.state, done.error), (S::Succeeded, None));
    assert_eq!(
        steps(s, id),
        [
            ("fetch".into(), S::Succeeded),
            ("convert".into(), S::Failed),
            ("publish".into(), S::Skipped),
            ("convert".into(), S::Succeeded),
            ("publish".into(), S::Succeeded),
        ]
    );
    // 'fetch' ran once: the retry went on from 'convert'.
    let fetched = logged(&f)
        .iter()
        .filter(|l| l.contains("quick start"))
        .count();
    assert_eq!(fetched, 2, "fetch and the second publish: {:?}", logged(&f));
    assert!(refused(s.retry_step(convert)).contains("not step 'convert''s newest run"));
}

#[tokio::test(start_paused = true)]
async fn a_step_has_its_own_timeout_and_retries() {
    let f = fixture();
    let s = &f.scheduler;
    let mut slow = step("slow", "slow");
    slow.timeout_s = Some(3);
    let mut flaky = step("flaky", "flaky");
    flaky.retries = Some(Retries {
        count: 2,
        backoff_s: 1.0,
        factor: 1.0,
    });
    let wf = workflow_job(
        "limits",
        vec![slow, flaky, step("after", "quick")],
        vec![
            edge("slow", "flaky", Completed),
            edge("flaky", "after", Succeeded),
        ],
    );
    s.add_job(wf).unwrap();
    let id = s.run_now("limits").unwrap();
    advance(4).await;
    // The first try of 'flaky' failed; it is fixed before its retry.
    f.broken.store(false, Ordering::SeqCst);
    advance(3).await;
    let ran = step_runs(s, id);
    let got: Vec<_> = ran
        .iter()
        .map(|r| (r.step.as_deref().unwrap(), r.state, r.attempt))
        .collect();
    assert_eq!(
        got,
        [
            ("slow", S::TimedOut, 1),
            ("flaky", S::Failed, 1),
            ("flaky", S::Succeeded, 2),
            ("after", S::Succeeded, 1),
        ]
    );
    assert_eq!(ran[0].error.as_deref(), Some("timed out after 3 s"));
    // 'slow' timing out is not handled by an edge that expects only success: the workflow failed.
    let done = run(s, id);
    assert_eq!(
        done.state,
        S::Succeeded,
        "'flaky' follows 'slow' on completion"
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_workflow_cancels_its_running_steps_and_starts_no_more() {
    let f = fixture();
    let s = &f.scheduler;
    let wf = workflow_job(
        "long",
        vec![step("first", "slow"), step("second", "quick")],
        vec![edge("first", "second", Completed)],
    );
    s.add_job(wf).unwrap();
    let id = s.run_now("long").unwrap();
    advance(5).await;
    s.cancel_run(id).unwrap();
    advance(1).await;
    assert_eq!(steps(s, id), [("first".into(), S::Cancelled)]);
    let done = run(s, id);
    assert_eq!(
        (done.state, done.error.as_deref()),
        (S::Cancelled, Some("cancelled"))
    );
    assert!(
        !logged(&f).iter().any(|l| l.contains("end")),
        "{:?}",
        logged(&f)
    );
}

#[tokio::test(start_paused = true)]
async fn a_workflow_times_out_as_a_whole() {
    let f = fixture();
    let s = &f.scheduler;
    let mut wf = workflow_job("bounded", vec![step("only", "slow")], vec![]);
    wf.options.timeout_s = Some(10);
    s.add_job(wf).unwrap();
    let id = s.run_now("bounded").unwrap();
    advance(11).await;
    let done = run(s, id);
    assert_eq!(
        (done.state, done.error.as_deref()),
        (S::TimedOut, Some("timed out after 10 s"))
    );
    assert_eq!(steps(s, id), [("only".into(), S::Cancelled)]);
}

#[tokio::test(start_paused = true)]
async fn a_step_may_run_another_job_and_bad_graphs_are_refused() {
    let f = fixture();
    let s = &f.scheduler;
    let mut other = workflow_job("unused", vec![], vec![]);
    other.id = "report".into();
    other.action = Action::Function(FunctionAction {
        name: "quick".into(),
    });
    s.add_job(other).unwrap();
    let mut by_ref = step("report", "quick");
    by_ref.action = None;
    by_ref.job = Some("report".into());
    s.add_job(workflow_job("wrapper", vec![by_ref.clone()], vec![]))
        .unwrap();
    let id = s.run_now("wrapper").unwrap();
    advance(1).await;
    assert_eq!(run(s, id).state, S::Succeeded);
    assert!(logged(&f)[0].contains("quick start"));

    let invalid = |job: Job| match s.add_job(job) {
        Err(SchedulerError::Invalid { field, message }) => format!("{field}: {message}"),
        other => panic!("expected a refusal, got {other:?}"),
    };
    by_ref.job = Some("nope".into());
    assert_eq!(
        invalid(workflow_job("bad", vec![by_ref.clone()], vec![])),
        "action.steps[0].job: no job with id 'nope'"
    );
    by_ref.job = Some("wrapper".into());
    assert!(invalid(workflow_job("bad", vec![by_ref], vec![])).contains("is a workflow"));
    let looped = workflow_job(
        "bad",
        vec![step("a", "quick"), step("b", "quick")],
        vec![edge("a", "b", Succeeded), edge("b", "a", Failed)],
    );
    assert_eq!(
        invalid(looped),
        "action.edges: these steps form a cycle: a → b → a"
    );
}

/// A dead node's workflow run on `path`: 'extract' succeeded there, 'transform' was running.
fn left_by_a_dead_node(path: &std::path::Path, heartbeat: DateTime<Utc>) -> (i64, i64) {
    let store = SqliteStore::open(path).unwrap();
    let wf = workflow_job(
        "etl",
        vec![
            step("extract", "quick"),
            step("transform", "quick"),
            step("load", "quick"),
        ],
        vec![
            edge("extract", "transform", Succeeded),
            edge("transform", "load", Succeeded),
        ],
    );
    let mut wf = wf;
    wf.options.misfire_grace_time_s = Some(60);
    store.add_jobs(&[wf]).unwrap();
    let mut dead = NodeInfo::this_process(vec![], heartbeat);
    dead.id = "dead".into();
    dead.instance = "elsewhere".into();
    store.heartbeat(&dead).unwrap();
    let node: crate::history::ThinStr = "dead".into();
    let insert = |mut r: RunRecord| {
        r.manual = true;
        let claim = Claim::insert("etl", vec![r], u32::MAX);
        store.claim(&node, base(), vec![claim]).unwrap()[0].runs[0].id
    };
    let start = heartbeat - Duration::seconds(5);
    let mut workflow = RunRecord::new(0, "etl", start, RunState::Running);
    workflow.started = Some(start);
    let id = insert(workflow);
    let link = |step: &str, state: RunState| {
        let mut r = RunRecord::new(0, "etl", start, state);
        r.upstream = std::num::NonZeroI64::new(id);
        r.step = Some(step.into());
        r
    };
    let extract = insert(link("extract", RunState::Succeeded));
    insert(link("transform", RunState::Running));
    store.flush().unwrap();
    (id, extract)
}

#[tokio::test(start_paused = true)]
async fn a_workflow_in_flight_on_a_dead_node_resumes_here() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let (id, extract) = left_by_a_dead_node(&path, base() - Duration::seconds(30));
    let s = on_file(&path);
    let log = Log::default();
    functions(&s, &log, &Arc::new(AtomicBool::new(false)));
    s.start().unwrap();
    advance(1).await;
    let done = run(&s, id);
    assert_eq!((done.state, done.error), (S::Succeeded, None));
    assert_eq!(done.node.as_deref(), Some(s.node().id.as_str()));
    assert_eq!(
        steps(&s, id),
        [
            ("extract".into(), S::Succeeded),
            ("transform".into(), S::Abandoned),
            ("transform".into(), S::Succeeded),
            ("load".into(), S::Succeeded),
        ]
    );
    // 'extract' finished before the node died: it did not run again.
    let ran = log.lock().unwrap().len();
    assert_eq!(
        ran,
        4,
        "transform and load, start and end: {:?}",
        log.lock().unwrap()
    );
    assert_eq!(step_runs(&s, id)[0].id, extract);
    s.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_workflow_resumed_past_its_misfire_grace_marks_the_rest_missed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let (id, _) = left_by_a_dead_node(&path, base() - Duration::seconds(600));
    let s = on_file(&path);
    functions(&s, &Log::default(), &Arc::new(AtomicBool::new(false)));
    s.start().unwrap();
    advance(1).await;
    let got = steps(&s, id);
    assert_eq!(
        got,
        [
            ("extract".into(), S::Succeeded),
            ("transform".into(), S::Abandoned),
            ("transform".into(), S::Missed),
            ("load".into(), S::Skipped),
        ]
    );
    let missed = &step_runs(&s, id)[2];
    assert!(
        missed
            .error
            .as_deref()
            .unwrap()
            .contains("past its misfire grace time of 60 s"),
        "{missed:?}"
    );
    assert_eq!(run(&s, id).state, S::Failed);
    s.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_leaves_the_workflow_to_resume_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let log = Log::default();
    let fine = Arc::new(AtomicBool::new(false));
    let first = on_file(&path);
    functions(&first, &log, &fine);
    first.start().unwrap();
    first
        .add_job(workflow_job(
            "etl",
            vec![
                step("extract", "quick"),
                step("transform", "two"),
                step("load", "quick"),
            ],
            vec![
                edge("extract", "transform", Succeeded),
                edge("transform", "load", Succeeded),
            ],
        ))
        .unwrap();
    let id = first.run_now("etl").unwrap();
    advance(1).await;
    // 'transform' outlives the grace: it is stopped, and nothing after it starts.
    first.shutdown(StdDuration::from_millis(500)).await;
    assert_eq!(run(&first, id).state, S::Running, "left to resume");
    assert_eq!(
        steps(&first, id),
        [
            ("extract".into(), S::Succeeded),
            ("transform".into(), S::Abandoned)
        ]
    );

    let second = on_file(&path);
    functions(&second, &log, &fine);
    second.start().unwrap();
    advance(5).await;
    let done = run(&second, id);
    assert_eq!(
        (done.state, done.node.as_deref()),
        (S::Succeeded, Some(second.node().id.as_str()))
    );
    assert_eq!(
        steps(&second, id),
        [
            ("extract".into(), S::Succeeded),
            ("transform".into(), S::Abandoned),
            ("transform".into(), S::Succeeded),
            ("load".into(), S::Succeeded),
        ]
    );
    second.shutdown(StdDuration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_cancel_reaches_a_step_waiting_to_retry_and_a_cancelled_workflow_is_not_retried() {
    let f = fixture();
    let s = &f.scheduler;
    let mut flaky = step("flaky", "flaky");
    flaky.retries = Some(Retries {
        count: 3,
        backoff_s: 100.0,
        factor: 1.0,
    });
    s.add_job(workflow_job("patient", vec![flaky], vec![]))
        .unwrap();
    let id = s.run_now("patient").unwrap();
    advance(1).await;
    s.cancel_run(id).unwrap();
    advance(1).await;
    assert_eq!(
        steps(s, id),
        [("flaky".into(), S::Failed), ("flaky".into(), S::Cancelled)]
    );
    assert_eq!(run(s, id).state, S::Cancelled);
    let first = step_runs(s, id)[0].id;
    let last = step_runs(s, id)[1].id;
    assert!(matches!(
        s.retry_step(first),
        Err(SchedulerError::Conflict(_))
    ));
    match s.retry_step(last) {
        Err(SchedulerError::Conflict(m)) => assert!(m.contains("was cancelled"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_workflow_whose_job_is_removed_mid_run_ends_instead_of_hanging() {
    let f = fixture();
    let s = &f.scheduler;
    s.add_job(workflow_job(
        "doomed",
        vec![step("first", "two"), step("second", "quick")],
        vec![edge("first", "second", Succeeded)],
    ))
    .unwrap();
    let id = s.run_now("doomed").unwrap();
    advance(1).await;
    s.remove_job("doomed").unwrap();
    advance(3).await;
    let done = run(s, id);
    assert_eq!(done.state, S::Failed);
    assert!(
        done.error
            .as_deref()
            .unwrap()
            .starts_with("cannot record step 'second'"),
        "{done:?}"
    );
}
