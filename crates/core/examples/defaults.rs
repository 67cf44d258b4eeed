//! Job defaults and a pool of 10: twenty slow jobs, never more than ten at once, each limited
//! to one run at a time by the defaults. APScheduler:
//! `executors={'default': ThreadPoolExecutor(10)}`,
//! `job_defaults={'coalesce': True, 'max_instances': 1}`.
//!
//! `cargo run -p kairos-core --example defaults`

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kairos_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), kairos_core::Error> {
    let scheduler = Scheduler::builder()
        .pool("default", 10)
        .job_defaults(JobDefaults {
            coalesce: Coalesce::Latest,
            max_instances: 1,
            ..JobDefaults::default()
        })
        .build()?;

    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    for n in 0..20 {
        let (running, peak) = (running.clone(), peak.clone());
        // Blocking work (a sleep standing in for a slow library call) on a thread of its own,
        // as APScheduler's thread pool would run it.
        scheduler.add(
            Job::every(Duration::from_secs(1))
                .id(&format!("slow-{n:02}"))
                .run_blocking(move |_| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(1500));
                    running.fetch_sub(1, Ordering::SeqCst);
                }),
        )?;
    }
    let defaults = scheduler.settings().defaults;
    println!(
        "pool 'default' runs {} at once; max_instances {}, coalesce {:?}",
        scheduler.settings().pools["default"],
        defaults.max_instances,
        defaults.coalesce
    );

    scheduler.run_until(support::stop()).await?;
    println!(
        "most runs at once: {} (of 20 jobs)",
        peak.load(Ordering::SeqCst)
    );
    Ok(())
}
