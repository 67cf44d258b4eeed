//! The background scheduler: the program does its own work while the scheduler runs jobs
//! beside it, through a handle it can clone, add jobs with, pause and shut down.
//! APScheduler: `BackgroundScheduler()`, `start()`, `pause_job()`, `shutdown()`.
//!
//! `cargo run -p kairos-core --example background`

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kairos_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), kairos_core::Error> {
    let scheduler = Scheduler::builder().build()?;
    scheduler.start()?;

    let beats = Arc::new(AtomicU32::new(0));
    let counter = beats.clone();
    scheduler.add(
        Job::every(Duration::from_millis(500))
            .id("heartbeat")
            .run(move |_| {
                let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
                async move { format!("beat {n}") }
            }),
    )?;

    // The application's own work goes on; the handle is cheap to clone into it.
    let app = {
        let (scheduler, beats) = (scheduler.clone(), beats.clone());
        tokio::spawn(async move {
            for step in 1..=3 {
                tokio::time::sleep(Duration::from_millis(700)).await;
                println!(
                    "app: step {step}, {} beats so far",
                    beats.load(Ordering::Relaxed)
                );
            }
            scheduler.pause_job("heartbeat")?;
            println!("app: heartbeat paused");
            Ok::<_, kairos_core::Error>(())
        })
    };
    if let Ok(Err(e)) = app.await {
        eprintln!("app: {e}");
    }
    scheduler.shutdown(Duration::from_secs(5)).await;
    println!("shut down after {} beats", beats.load(Ordering::Relaxed));
    Ok(())
}
