//! Runs in flight in this process: cancelling them (at once when this process runs them,
//! else through the store, whose request the running node picks up with the next change it
//! notices) and reading a running command's output.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{lock, Scheduler, SchedulerError, SchedulerInner};
use crate::action::LiveOutput;
use crate::history::RunRecord;

impl Scheduler {
    /// Cancels run `id` wherever it runs (a shell command's process group gets SIGTERM,
    /// then SIGKILL); it ends `cancelled`. Returns the run as it stood when asked.
    pub fn cancel_run(&self, id: i64) -> Result<RunRecord, SchedulerError> {
        let run = self
            .inner
            .store
            .request_cancel(id)?
            .ok_or(SchedulerError::NoRun(id))?;
        if run.state.is_final() {
            return Err(SchedulerError::Conflict(format!(
                "run {id} already ended ({})",
                run.state.as_str()
            )));
        }
        if run.node.as_deref() == Some(&*self.inner.node_id) {
            self.inner.cancel_here(id);
        }
        Ok(run)
    }
}

impl Scheduler {
    /// The stdout and stderr so far of shell run `id`, while this process runs it.
    pub fn live_output(&self, id: i64) -> Option<(String, String)> {
        let output = lock(&self.inner.outputs).get(&id).cloned()?;
        Some(output.snapshot())
    }
}

impl SchedulerInner {
    /// Where run `id`'s command shows its output while it runs.
    pub(crate) fn watch_output(&self, id: i64) -> Arc<LiveOutput> {
        lock(&self.outputs).entry(id).or_default().clone()
    }

    /// Forgets run `id`'s live output: its command ended.
    pub(crate) fn unwatch_output(&self, id: i64) {
        lock(&self.outputs).remove(&id);
    }

    /// The token run `id` runs under, made when it is queued (or waits to retry) and
    /// forgotten by [`SchedulerInner::run_ended`].
    pub(crate) fn run_token(&self, id: i64) -> CancellationToken {
        // Not a child of the scheduler's token (whose children sit behind one lock, taken
        // twice per run): shutdown cancels the live tokens itself, and one made after that
        // is born cancelled.
        let token = lock(&self.live).entry(id).or_default().clone();
        if self.cancelling_all() {
            token.cancel();
        }
        token
    }

    /// Makes the tokens of runs `ids`, queued now, under one lock (see `run_token`): a run
    /// loop queueing thousands of runs a second would otherwise take it once a run.
    pub(crate) fn queue_tokens(&self, ids: impl Iterator<Item = i64>) {
        let mut live = lock(&self.live);
        // Read under the lock, like `run_token` after inserting: `cancel_all` takes it.
        let cancelled = self.cancelling_all();
        for id in ids {
            let token = live.entry(id).or_default();
            if cancelled {
                token.cancel();
            }
        }
    }

    /// Whether shutdown's grace ran out and every run is being cancelled.
    pub(crate) fn cancelling_all(&self) -> bool {
        self.cancelling_all
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Cancels every run of this process (at shutdown, after the grace).
    pub(super) fn cancel_all(&self) {
        for token in lock(&self.live).values() {
            token.cancel();
        }
    }

    /// Forgets run `id`'s token: the run ended.
    pub(crate) fn run_ended(&self, id: i64) {
        lock(&self.live).remove(&id);
    }

    /// Cancels run `id` if this process has it (queued, running or waiting to retry); a
    /// queued one then never starts.
    pub(super) fn cancel_here(&self, id: i64) {
        if let Some(token) = lock(&self.live).get(&id) {
            token.cancel();
        }
    }

    /// Cancels the runs of this process that others asked the store to cancel.
    pub(super) fn cancel_requested(&self) {
        match self.store.cancel_requests(&self.node_id) {
            Ok(ids) => {
                for id in ids {
                    tracing::info!(run = id, "cancelling run at another node's request");
                    self.cancel_here(id);
                }
            }
            Err(e) => tracing::warn!("cannot read cancel requests: {e}"),
        }
    }
}
