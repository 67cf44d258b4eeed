//! The scheduler in the foreground: run until a signal (or any future) says stop.

use std::future::Future;
use std::time::Duration;

use super::{Scheduler, SchedulerError};

/// How long running jobs may take to finish after a stop, before they are cancelled.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Resolves at SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when it is called, not
/// when first awaited: call it before starting work, so a signal that comes early still
/// stops the process gracefully (instead of killing it). Call it inside a tokio runtime.
pub fn stop_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::terminate()).and_then(|t| Ok((t, signal(SignalKind::interrupt())?)))
    };
    async move {
        #[cfg(unix)]
        if let Ok((mut term, mut int)) = signals {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl Scheduler {
    /// Starts the scheduler, runs until `stop` resolves or the process gets SIGINT or SIGTERM,
    /// then shuts down, giving running jobs [`SHUTDOWN_GRACE`] to finish. Call it from a tokio
    /// runtime; [`Scheduler::run_blocking`] makes one.
    pub async fn run_until(&self, stop: impl Future<Output = ()>) -> Result<(), SchedulerError> {
        let signal = stop_signal();
        self.start()?;
        tokio::select! {
            _ = stop => {}
            _ = signal => {}
        }
        self.shutdown(SHUTDOWN_GRACE).await;
        Ok(())
    }

    /// The blocking scheduler: makes a tokio runtime on this thread and runs in the
    /// foreground until `stop` resolves or a signal arrives (see [`Scheduler::run_until`]);
    /// for programs whose `main` is not async.
    ///
    /// ```
    /// # fn main() -> Result<(), kairos_core::Error> {
    /// use std::time::Duration;
    /// use kairos_core::prelude::*;
    ///
    /// let scheduler = Scheduler::builder().build()?;
    /// scheduler.add(Job::every(Duration::from_millis(100)).id("tick").run(|ctx| async move {
    ///     println!("tick for {}", ctx.scheduled);
    /// }))?;
    /// scheduler.run_blocking(async { tokio::time::sleep(Duration::from_millis(350)).await })?;
    /// # Ok(()) }
    /// ```
    pub fn run_blocking(&self, stop: impl Future<Output = ()>) -> Result<(), SchedulerError> {
        let runtime = super::runtime().map_err(|e| SchedulerError::Invalid {
            field: "scheduler".into(),
            message: format!("cannot start a tokio runtime: {e}"),
        })?;
        let result = runtime.block_on(self.run_until(stop));
        // Blocking jobs that ignored their cancel get a moment more, then are left behind.
        runtime.shutdown_timeout(Duration::from_secs(1));
        result
    }
}
