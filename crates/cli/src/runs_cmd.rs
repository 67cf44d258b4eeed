//! `kairos runs cancel`: cancelling a run through the store, wherever it runs; `kairos runs
//! retry`: running a workflow's failed step again.

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
    /// Run a workflow step again, and the steps after it: its workflow run goes on from there,
    /// in this process, until it ends.
    Retry {
        /// The step's newest run (`kairos runs --job WORKFLOW` lists them).
        id: i64,
    },
}

/// How long `cancel` waits for the run to end: the node's SIGTERM grace and a poll or two.
const WAIT: Duration = Duration::from_secs(20);

/// Runs a `runs` subcommand against the database at `db`.
pub fn run(db: &Path, command: RunsCommand) -> Result<(), String> {
    let (id, no_wait) = match command {
        RunsCommand::Cancel { id, no_wait } => (id, no_wait),
        RunsCommand::Retry { id } => return retry(db, id),
    };
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

/// Retries step run `id` here and waits for its workflow run to end.
fn retry(db: &Path, id: i64) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let scheduler = scheduler(db)?;
        let mut events = scheduler
            .events()
            .subscribe(kairos_core::events::EventMask::RUNS);
        let workflow = scheduler.retry_step(id).map_err(|e| e.to_string())?;
        println!(
            "retrying run {id}: workflow run {} of job '{}' goes on",
            workflow.id, workflow.job_id
        );
        crate::job_cmd::wait_for_end(&mut events, workflow.id).await;
        crate::job_cmd::print_steps(&scheduler, workflow.id)?;
        scheduler.shutdown(Duration::from_secs(30)).await;
        let run = scheduler
            .store()
            .run(workflow.id)
            .map_err(|e| e.to_string())?;
        let run = run.ok_or("the workflow run left no record")?;
        println!("workflow run {} ended: {}", run.id, run.state.as_str());
        match run.state {
            kairos_core::history::RunState::Succeeded => Ok(()),
            state => Err(format!(
                "workflow run {} {}: {}",
                run.id,
                state.as_str(),
                run.error.unwrap_or_default()
            )),
        }
    })
}
