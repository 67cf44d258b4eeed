//! `kairos serve`: run the scheduler on a database until SIGINT or SIGTERM.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kairos_core::scheduler::Scheduler;
use kairos_core::store::SqliteStore;

/// How long running jobs may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Runs the scheduler on the database at `db` until a shutdown signal.
pub fn run(db: &Path) -> Result<(), String> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("--db: cannot create {}: {e}", dir.display()))?;
    }
    let store =
        SqliteStore::open(db).map_err(|e| format!("--db: cannot open {}: {e}", db.display()))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let scheduler = Scheduler::new(Arc::new(store));
        scheduler.start().map_err(|e| e.to_string())?;
        tracing::info!("kairos is scheduling jobs from {}", db.display());
        wait_for_signal().await;
        tracing::info!(
            "shutting down: waiting up to {} s for running jobs",
            SHUTDOWN_GRACE.as_secs()
        );
        scheduler.shutdown(SHUTDOWN_GRACE).await;
        Ok(())
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
