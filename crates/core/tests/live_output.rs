//! A running shell command's output can be read while it runs, and stays with the run after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kairos_core::history::RunState;
use kairos_core::prelude::*;
use kairos_core::store::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_commands_output_is_read_as_it_comes() {
    let scheduler = Scheduler::new(Arc::new(MemoryStore::new()));
    scheduler.start().unwrap();
    let job = Job::every(Duration::from_secs(86_400))
        .id("build")
        .shell("echo compiling; echo 'warning: slow' >&2; sleep 30; echo never");
    scheduler.add(job).unwrap();
    let run = scheduler.run_now("build").unwrap();

    // Real time: the command is a real process.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (stdout, stderr) = loop {
        let seen = scheduler.live_output(run).unwrap_or_default();
        if seen.0.contains("compiling") && seen.1.contains("warning") {
            break seen;
        }
        assert!(Instant::now() < deadline, "no live output: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("compiling\n", "warning: slow\n")
    );

    scheduler.cancel_run(run).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let ended = loop {
        scheduler.store().flush().unwrap();
        let r = scheduler.store().run(run).unwrap().unwrap();
        if r.state.is_final() {
            break r;
        }
        assert!(Instant::now() < deadline, "not cancelled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ended.state, RunState::Cancelled);
    assert_eq!(
        &*ended.stdout, "compiling\n",
        "what it printed stays with the run"
    );
    assert_eq!(
        scheduler.live_output(run),
        None,
        "nothing live once it ended"
    );
    scheduler.shutdown(Duration::from_secs(1)).await;
}
