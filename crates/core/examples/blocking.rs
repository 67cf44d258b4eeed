//! The blocking scheduler: a script whose whole job is to run jobs, in the foreground until
//! Ctrl-C. APScheduler: `BlockingScheduler()`, `add_job(tick, 'interval', seconds=2)`,
//! `add_job(report, 'cron', day_of_week='mon-fri', hour=9)`, `start()`.
//!
//! `cargo run -p kairos-core --example blocking`

mod support;

use std::time::Duration;

use kairos_core::prelude::*;

fn main() -> Result<(), kairos_core::Error> {
    let scheduler = Scheduler::builder().build()?;

    scheduler.add(
        Job::every(Duration::from_secs(2))
            .id("tick")
            .run(
                |ctx| async move { println!("tick: run {} due at {}", ctx.run_id, ctx.scheduled) },
            ),
    )?;
    // Six fields, seconds first: every 2 s. ("0 9 * * mon-fri" is 09:00 on weekdays.)
    scheduler.add(
        Job::cron("*/2 * * * * *")
            .id("report")
            .run(|ctx| async move { println!("report: due at {}", ctx.scheduled) }),
    )?;
    // A shell command at 02:30 London time: its output goes to the run history.
    let nightly = scheduler.add(
        Job::cron("30 2 * * *")
            .in_tz("Europe/London")
            .id("nightly")
            .shell("du -sh \"$HOME\""),
    )?;
    println!("nightly disk report next runs at {:?}", nightly.next_run);

    println!("Press Ctrl-C to stop.");
    scheduler.run_blocking(support::stop())?;
    println!("stopped");
    Ok(())
}
