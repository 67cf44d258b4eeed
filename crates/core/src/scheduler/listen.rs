//! Listeners in one line: a callback for the events of a mask, on a thread of its own.

use tokio_util::sync::CancellationToken;

use super::{Scheduler, SchedulerError};
use crate::events::{Envelope, EventMask};

/// A callback registered with [`Scheduler::on`]; it keeps listening until
/// [`Subscription::cancel`] or the scheduler's shutdown (dropping the subscription does not
/// stop it).
#[derive(Debug, Clone)]
pub struct Subscription {
    stop: CancellationToken,
}

impl Subscription {
    /// Stops the callback; events already being handled finish.
    pub fn cancel(&self) {
        self.stop.cancel();
    }
}

impl Scheduler {
    /// Calls `f` with every event in `mask`, in order, on a thread of its own (so a slow
    /// callback never holds up the scheduler; one that falls far behind loses the oldest
    /// events), until the scheduler has shut down (its last event, `scheduler_shutdown`,
    /// included). APScheduler's `add_listener`. For a stream instead, see
    /// [`EventBus::subscribe`](crate::events::EventBus::subscribe) on [`Scheduler::events`].
    ///
    /// ```
    /// # fn main() -> Result<(), kairos_core::Error> {
    /// use kairos_core::prelude::*;
    ///
    /// let scheduler = Scheduler::builder().build()?;
    /// scheduler.on(EventMask::JOB_ERROR | EventMask::JOB_MISSED, |e| {
    ///     eprintln!("{} at {}: {:?}", e.event.name(), e.at, e.event);
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn on<F>(&self, mask: EventMask, f: F) -> Result<Subscription, SchedulerError>
    where
        F: FnMut(&Envelope) + Send + 'static,
    {
        let mut listener = self.events().subscribe(mask);
        let stop = self.inner.closed.child_token();
        let token = stop.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| SchedulerError::Invalid {
                field: "listener".into(),
                message: format!("cannot start the listener's runtime: {e}"),
            })?;
        std::thread::Builder::new()
            .name("kairos-listener".into())
            .spawn(move || {
                let mut f = f;
                runtime.block_on(async {
                    loop {
                        tokio::select! {
                            // Events first: what happened before the shutdown is all heard.
                            biased;
                            event = listener.recv() => match event {
                                Some(event) => f(&event),
                                None => break,
                            },
                            _ = token.cancelled() => break,
                        }
                    }
                })
            })
            .map_err(|e| SchedulerError::Invalid {
                field: "listener".into(),
                message: format!("cannot start the listener's thread: {e}"),
            })?;
        Ok(Subscription { stop })
    }
}
