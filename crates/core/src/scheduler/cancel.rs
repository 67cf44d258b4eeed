//! Cancelling runs: at once when this process runs them, else through the store, whose
//! request the running node picks up with the next change it notices.

use tokio_util::sync::CancellationToken;

use super::{lock, Scheduler, SchedulerError, SchedulerInner};
use crate::history::{RunRecord, RunState};

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
            self.inner.cancel_here(id, run.state == RunState::Submitted);
        }
        Ok(run)
    }
}

impl SchedulerInner {
    /// The token run `id` runs under, made on first ask (already cancelled when its cancel
    /// came before it started); forgotten by [`SchedulerInner::run_ended`].
    pub(crate) fn run_token(&self, id: i64) -> CancellationToken {
        lock(&self.live)
            .entry(id)
            .or_insert_with(|| self.context.cancel.child_token())
            .clone()
    }

    /// Forgets run `id`'s token: the run ended.
    pub(crate) fn run_ended(&self, id: i64) {
        lock(&self.live).remove(&id);
    }

    /// Cancels run `id` of this process; one not started yet (`waiting`) is cancelled
    /// when it comes to start.
    fn cancel_here(&self, id: i64, waiting: bool) {
        let mut live = lock(&self.live);
        match live.get(&id) {
            Some(token) => token.cancel(),
            None if waiting => {
                let token = self.context.cancel.child_token();
                token.cancel();
                live.insert(id, token);
            }
            None => {}
        }
    }

    /// Cancels the runs of this process that others asked the store to cancel.
    pub(super) fn cancel_requested(&self) {
        match self.store.cancel_requests(&self.node_id) {
            Ok(ids) => {
                for id in ids {
                    tracing::info!(run = id, "cancelling run at another node's request");
                    self.cancel_here(id, true);
                }
            }
            Err(e) => tracing::warn!("cannot read cancel requests: {e}"),
        }
    }
}
