//! Jobs that survive a restart: a SQLite store, and `replace_existing` so the program can add
//! its jobs on every start without duplicates. Run it twice: the second run finds the first
//! run's history, and the fires due while it was stopped go through the misfire policy.
//! APScheduler: `SQLAlchemyJobStore(url='sqlite:///jobs.sqlite')`, `replace_existing=True`.
//!
//! `cargo run -p kairos-core --example sqlite -- /tmp/kairos-example.db`

mod support;

use std::time::Duration;

use kairos_core::history::RunQuery;
use kairos_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), kairos_core::Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "kairos-example.db".to_string());
    let scheduler = Scheduler::builder().sqlite(&path).build()?;

    let job = scheduler.add(
        Job::every(Duration::from_secs(1))
            .id("persistent-tick")
            .replace_existing()
            .run(|ctx| async move { format!("tick at {}", ctx.scheduled.format("%T")) }),
    )?;
    let earlier = scheduler.store().runs(&RunQuery {
        job_id: Some(job.id.clone()),
        limit: 10_000,
        ..Default::default()
    })?;
    println!(
        "{path}: job '{}' has {} runs from earlier starts; next run {:?}",
        job.id,
        earlier.len(),
        job.next_run
    );

    scheduler.run_until(support::stop()).await
}
