//! Noticing job changes and cancel requests that another process (the CLI on the same
//! database, another node) made.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use tokio::sync::Notify;

use super::{lock, SchedulerInner};
use crate::events::Event;

/// How often the store's change counter is read when the store cannot announce changes.
const CHECK_EVERY: StdDuration = StdDuration::from_secs(1);
/// How often it is read anyway when the store announces changes (a lost notification's bound).
const CHECK_ANYWAY_EVERY: StdDuration = StdDuration::from_secs(30);
/// The least time between two reads: a SQLite file's watch also fires on this process's own
/// writes, which come in a stream under load.
const CHECK_AT_MOST_EVERY: StdDuration = StdDuration::from_millis(50);
/// How long after an announcement the read waits for the rest of its commit's writes.
const SETTLE: StdDuration = StdDuration::from_millis(5);

impl SchedulerInner {
    /// Remembers the store's change counter after our own change, unless another process
    /// changed it too (then the next check reconciles).
    pub(super) fn note_own_change(&self, before: i64) {
        if let Ok(now) = self.store.change_counter() {
            let mut seen = lock(&self.seen_changes);
            if *seen == before && now == before + 1 {
                *seen = now;
            }
        }
    }

    /// Reloads the schedule when someone else changed the jobs, or (`rebalance`) because the
    /// nodes changed and with them which jobs this node fires; that reload announces nothing.
    pub(super) fn reconcile(&self, rebalance: bool) {
        let Ok(counter) = self.store.change_counter() else {
            return;
        };
        let changed = *lock(&self.seen_changes) != counter;
        if !changed && !rebalance {
            return;
        }
        if changed {
            self.cancel_requested();
            self.reload_channels();
        }
        let now = self.clock.now();
        let mut events = Vec::new();
        {
            // Holding the state lock keeps the run loop from planning claims while the store
            // is flushed and read; claims already on their way are left to their outcome.
            let mut state = lock(&self.state);
            if let Err(e) = self.store.flush() {
                tracing::warn!("cannot flush before reloading the schedule: {e}");
                return;
            }
            let schedule = match self.store.schedule() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot reload the schedule: {e}");
                    return;
                }
            };
            let mut present = HashSet::with_capacity(schedule.len());
            for entry in schedule {
                let id: Arc<str> = entry.id.as_str().into();
                present.insert(id.clone());
                let stored_due = entry.next_run.filter(|_| !entry.paused);
                match state.slots.get_mut(&id) {
                    None => {
                        state.slots.insert(
                            id.clone(),
                            super::Slot {
                                paused: entry.paused,
                                ..Default::default()
                            },
                        );
                        state.enqueue(&id, entry.next_run.map(|t| (t, t)));
                        events.push(Event::JobAdded { job_id: entry.id });
                    }
                    // Its claim will tell where it stands.
                    Some(slot) if slot.claiming => {}
                    Some(slot) => {
                        let changed =
                            slot.paused != entry.paused || slot.due.map(|d| d.1) != stored_due;
                        // The definition may have changed too: load it afresh at the next fire.
                        slot.job = None;
                        slot.paused = entry.paused;
                        if changed {
                            state.enqueue(&id, entry.next_run.map(|t| (t, t)));
                            if !rebalance {
                                events.push(Event::JobModified { job_id: entry.id });
                            }
                        }
                    }
                }
            }
            let gone: Vec<Arc<str>> = state
                .slots
                .keys()
                .filter(|id| !present.contains(*id))
                .cloned()
                .collect();
            for id in gone {
                state.unqueue(&id);
                state.slots.remove(&id);
                events.push(Event::JobRemoved {
                    job_id: id.to_string(),
                });
            }
        }
        *lock(&self.seen_changes) = counter;
        for event in events {
            self.bus.emit(now, event);
        }
        self.wake.notify_one();
    }
}

/// Checks for other processes' changes until the scheduler stops: when the store announces
/// one (PostgreSQL's NOTIFY, a write to the SQLite file), else every second.
pub(super) async fn watch(inner: Arc<SchedulerInner>, announced: Option<Arc<Notify>>) {
    let period = if announced.is_some() {
        CHECK_ANYWAY_EVERY
    } else {
        CHECK_EVERY
    };
    let mut checked: Option<tokio::time::Instant> = None;
    loop {
        let notified = async {
            match &announced {
                Some(changes) => changes.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = notified => {}
            _ = inner.stop.cancelled() => return,
        }
        if let Some(changes) = &announced {
            // A commit is several writes, each announced: give the rest of them a moment to
            // be written and the commit to show, then check once for all announced so far.
            // (Were a commit still unseen after that, the next write by any process, a
            // heartbeat at the latest, brings it.)
            let mut wait = SETTLE;
            if let Some(at) = checked {
                wait = wait.max(CHECK_AT_MOST_EVERY.saturating_sub(at.elapsed()));
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = inner.stop.cancelled() => return,
            }
            drain(changes);
        }
        checked = Some(tokio::time::Instant::now());
        let check = inner.clone();
        let _ = tokio::task::spawn_blocking(move || check.reconcile(false)).await;
    }
}

/// Takes back the announcement waiting to be heard, if there is one.
fn drain(changes: &Notify) {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let notified = std::pin::pin!(changes.notified());
    let _ = std::future::Future::poll(notified, &mut context);
}
