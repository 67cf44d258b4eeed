//! Listeners in one line: a callback for the events of a mask, on a thread of its own.

use tokio_util::sync::CancellationToken;

use super::{Scheduler, SchedulerError};
use crate::events::{Envelope, EventMask, Listener};

/// A callback registered with [`Scheduler::on`]; it keeps listening until
/// [`Subscription::cancel`] (dropping the subscription does not stop it).
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
    /// events). APScheduler's `add_listener`.
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
        F: Fn(&Envelope) + Send + 'static,
    {
        let mut listener = self.subscribe(mask);
        let stop = CancellationToken::new();
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
                runtime.block_on(async {
                    loop {
                        tokio::select! {
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

    /// A stream of the events in `mask`: `while let Some(e) = listener.recv().await { … }`.
    pub fn subscribe(&self, mask: EventMask) -> Listener {
        self.events().subscribe(mask)
    }
}
