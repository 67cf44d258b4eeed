//! A run by hand with parameters: they reach the command, stay on the run and its retries,
//! and a job that cannot take them says which field is wrong.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kairos_core::history::{RunParams, RunQuery, RunState};
use kairos_core::prelude::*;
use kairos_core::scheduler::SchedulerError;
use kairos_core::store::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_reach_the_command_and_every_retry() {
    let scheduler = Scheduler::new(Arc::new(MemoryStore::new()));
    scheduler.start().unwrap();
    let job = Job::every(Duration::from_secs(86_400))
        .id("report")
        .retries(1, Duration::from_millis(10))
        .shell("echo \"$1|$2|$MODE|$KAIROS_ATTEMPT\"; exit 1");
    scheduler.add(job).unwrap();
    let params = RunParams {
        env: [("MODE".to_string(), "full".to_string())].into(),
        args: vec!["2026-12".into(), "eu west".into()],
        body: None,
    };
    scheduler.run_now_with("report", params.clone()).unwrap();

    // Real time: the command is a real process, retried once.
    let deadline = Instant::now() + Duration::from_secs(10);
    let runs = loop {
        scheduler.store().flush().unwrap();
        let query = RunQuery {
            job_id: Some("report".into()),
            ..Default::default()
        };
        let runs = scheduler.store().runs(&query).unwrap();
        if runs.len() == 2 && runs.iter().all(|r| r.state.is_final()) {
            break runs;
        }
        assert!(Instant::now() < deadline, "the retry never ended: {runs:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for run in &runs {
        assert_eq!(run.state, RunState::Failed);
        assert_eq!(run.params.as_deref(), Some(&params), "run {}", run.id);
        assert!(run.usage.is_some(), "a shell run records its usage");
        let attempt = run.attempt;
        assert_eq!(&*run.stdout, format!("2026-12|eu west|full|{attempt}\n"));
    }
    scheduler.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_job_that_cannot_take_a_parameter_names_it() {
    let scheduler = Scheduler::new(Arc::new(MemoryStore::new()));
    let shell = Job::every(Duration::from_secs(60)).id("sh").shell("true");
    let http = Job::every(Duration::from_secs(60))
        .id("hook")
        .http("http://127.0.0.1:9/");
    scheduler.add(shell).unwrap();
    scheduler.add(http).unwrap();
    let field = |id: &str, params: RunParams| match scheduler.run_now_with(id, params) {
        Err(SchedulerError::Invalid { field, .. }) => field,
        other => panic!("{id}: expected a refusal, got {other:?}"),
    };
    let body = RunParams {
        body: Some("{}".into()),
        ..Default::default()
    };
    assert_eq!(field("sh", body), "params.body");
    let env = |name: &str, value: &str| RunParams {
        env: [(name.to_string(), value.to_string())].into(),
        ..Default::default()
    };
    assert_eq!(field("hook", env("A", "b")), "params.env");
    assert_eq!(field("sh", env("A=B", "c")), "params.env");
    assert_eq!(field("sh", env("A", "nul\0")), "params.env.A");
    let args = RunParams {
        args: vec!["ok".into(), "x\0".into()],
        ..Default::default()
    };
    assert_eq!(field("sh", args), "params.args[1]");
    let huge = env("BIG", &"x".repeat(70_000));
    assert_eq!(field("sh", huge), "params");
    assert!(scheduler
        .store()
        .runs(&RunQuery::default())
        .unwrap()
        .is_empty());
}
