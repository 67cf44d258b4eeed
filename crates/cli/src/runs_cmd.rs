//! `kairos runs cancel`: cancelling a run through the store, wherever it runs.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Subcommand;

use kairos_core::scheduler::SchedulerError;

use crate::job_cmd::scheduler;

/// The `runs` subcommands.
#[derive(Subcommand)]
pub enum RunsCommand {
    /// Cancel a submitted or running run, on whichever process runs it; waits for it to end.
    Cancel {
        /// The run id (`kairos runs` lists them).
        id: i64,
        /// Return once the cancel is requested, without waiting for the run to end.
        #[arg(long)]
        no_wait: bool,
    },
}

/// How long `cancel` waits for the run to end: the node's SIGTERM grace and a poll or two.
const WAIT: Duration = Duration::from_secs(20);

/// Runs a `runs` subcommand against the database at `db`.
pub fn run(db: &Path, command: RunsCommand) -> Result<(), String> {
    let RunsCommand::Cancel { id, no_wait } = command;
    // The scheduler's own cancel (not started: the run's node acts on the stored request).
    let scheduler = scheduler(db)?;
    let run = scheduler.cancel_run(id).map_err(|e| match e {
        SchedulerError::NoRun(_) => format!("{e} (`kairos runs` lists them)"),
        e => e.to_string(),
    })?;
    let store = scheduler.store();
    let node = run.node.as_deref().unwrap_or("?");
    println!(
        "cancel requested for run {id} of job '{}' ({} on node {node})",
        run.job_id,
        run.state.as_str()
    );
    if no_wait {
        return Ok(());
    }
    let start = Instant::now();
    while start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(200));
        let run = store.run(id).map_err(|e| e.to_string())?;
        if let Some(run) = run.filter(|r| r.state.is_final()) {
            println!("run {id} ended: {}", run.state.as_str());
            return Ok(());
        }
    }
    Err(format!(
        "run {id} has not ended after {} s; is node {node} still alive? (`kairos nodes`)",
        WAIT.as_secs()
    ))
}
