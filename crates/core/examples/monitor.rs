//! The system monitor: a job that samples CPU, memory, disks and network every few seconds,
//! and a listener that prints each sample. The tutorial's `monitor_system` with psutil,
//! built in.
//!
//! `cargo run -p kairos-core --example monitor`

mod support;

use std::time::Duration;

use kairos_core::history::RunQuery;
use kairos_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), kairos_core::Error> {
    let scheduler = Scheduler::builder().build()?;
    scheduler.add(Job::every(Duration::from_secs(2)).id("monitor").monitor())?;

    let store = scheduler.store().clone();
    scheduler.on(EventMask::JOB_EXECUTED, move |e| {
        let Event::RunSucceeded(run) = &e.event else {
            return;
        };
        let query = RunQuery {
            job_id: Some(run.job_id.clone()),
            limit: 1,
            ..Default::default()
        };
        // The run's output is the sample, in a line; the samples themselves are in the store
        // for charts (`store.metrics(from, to, points)`).
        if let Ok(Some(latest)) = store.runs(&query).map(|runs| runs.into_iter().next()) {
            println!("{}: {}", latest.scheduled.format("%T"), latest.stdout);
        }
    })?;

    scheduler.run_until(support::stop()).await
}
