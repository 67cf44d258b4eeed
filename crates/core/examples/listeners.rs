//! Listeners: log executed, failed and missed runs through `tracing`.
//! APScheduler: `add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)`.
//!
//! `cargo run -p kairos-core --example listeners`

mod support;

use std::time::Duration;

use kairos_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), kairos_core::Error> {
    tracing_subscriber::fmt().with_target(false).init();
    let scheduler = Scheduler::builder().build()?;

    scheduler.on(
        EventMask::JOB_EXECUTED | EventMask::JOB_ERROR | EventMask::JOB_MISSED,
        |envelope| match &envelope.event {
            Event::RunSucceeded(run) => {
                tracing::info!(job = %run.job_id, run = run.run_id, "executed")
            }
            Event::RunFailed(run) | Event::RunTimedOut(run) => tracing::error!(
                job = %run.job_id,
                error = run.error.as_deref().unwrap_or_default(),
                "failed"
            ),
            Event::RunMissed(run) => {
                tracing::warn!(job = %run.job_id, due = %run.scheduled, "missed")
            }
            _ => {}
        },
    )?;

    scheduler.add(
        Job::every(Duration::from_secs(1))
            .id("works")
            .run(|_| async {}),
    )?;
    scheduler.add(
        Job::every(Duration::from_secs(1))
            .id("breaks")
            .run(|_| async {
                std::fs::read_to_string("/no/such/file")?;
                Ok::<_, JobError>(())
            }),
    )?;
    // A fire more than 1 s late is missed: pausing the scheduler for 3 s (as a suspended
    // laptop would) makes this job's fires late.
    scheduler.add(
        Job::every(Duration::from_secs(1))
            .id("strict")
            .misfire_grace(Duration::from_secs(1))
            .coalesce(Coalesce::All)
            .run(|_| async {}),
    )?;

    scheduler.start()?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    scheduler.pause();
    tokio::time::sleep(Duration::from_secs(3)).await;
    scheduler.resume();

    scheduler.run_until(support::stop()).await
}
