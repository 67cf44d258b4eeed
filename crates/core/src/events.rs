//! Scheduler events (APScheduler's EVENT_* family, typed) and the bus that broadcasts them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::job::JobId;

/// Something that happened in the scheduler. JSON: `{"type":"run_failed","job_id":…,…}`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The scheduler started.
    SchedulerStarted,
    /// The scheduler shut down.
    SchedulerShutdown,
    /// All jobs were paused.
    SchedulerPaused,
    /// All jobs were resumed.
    SchedulerResumed,
    /// The wall clock moved differently from elapsed time (a clock change or a suspend).
    ClockJumped {
        /// How far the wall clock moved beyond elapsed time, in milliseconds (negative: back).
        by_ms: i64,
        /// The machine slept (fires due meanwhile go through the misfire policy); otherwise
        /// the clock was set, and interval jobs moved their next fire time with it.
        suspended: bool,
    },
    /// A job was added.
    JobAdded {
        /// The job.
        job_id: JobId,
    },
    /// A job's definition, schedule or paused state changed.
    JobModified {
        /// The job.
        job_id: JobId,
    },
    /// A job was removed.
    JobRemoved {
        /// The job.
        job_id: JobId,
    },
    /// A fire time was handed to an executor pool.
    RunSubmitted(RunRef),
    /// A run's action started.
    RunStarted(RunRef),
    /// A run succeeded.
    RunSucceeded(RunRef),
    /// A run failed.
    RunFailed(RunRef),
    /// A run was stopped at its timeout.
    RunTimedOut(RunRef),
    /// A run was cancelled.
    RunCancelled(RunRef),
    /// A fire time was too late to run.
    RunMissed(RunRef),
    /// A fire time was dropped because max instances were running.
    RunSkipped(RunRef),
    /// A run was in flight when the process died.
    RunAbandoned(RunRef),
}

/// Which run an event is about.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRef {
    /// The run's history id.
    pub run_id: i64,
    /// The job.
    pub job_id: JobId,
    /// The fire time.
    pub scheduled: DateTime<Utc>,
    /// 1 for the first try, 2 for the first retry, …
    #[serde(default = "first")]
    pub attempt: u32,
    /// How long it ran, once it has ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// Error text for failed, timed-out and cancelled runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a workflow step's run, the step (its workflow's own run ends the workflow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

fn first() -> u32 {
    1
}

/// Event kinds as bits, for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMask(pub u32);

impl EventMask {
    /// Every event.
    pub const ALL: EventMask = EventMask(u32::MAX);
    /// Scheduler life-cycle events and clock jumps.
    pub const SCHEDULER: EventMask = EventMask(0b1_1111);
    /// Job added, modified, removed.
    pub const JOBS: EventMask = EventMask(0b111 << 5);
    /// Every run event.
    pub const RUNS: EventMask = EventMask(0b1_1111_1111 << 8);
    /// Runs that ended badly: failed, timed out, missed, skipped, abandoned.
    pub const PROBLEMS: EventMask =
        EventMask((1 << 11) | (1 << 12) | (1 << 14) | (1 << 15) | (1 << 16));

    /// A job was added.
    pub const JOB_ADDED: EventMask = EventMask(1 << 5);
    /// A job was changed, paused or resumed.
    pub const JOB_MODIFIED: EventMask = EventMask(1 << 6);
    /// A job was removed.
    pub const JOB_REMOVED: EventMask = EventMask(1 << 7);
    /// A fire was handed to a pool (APScheduler's `EVENT_JOB_SUBMITTED`).
    pub const JOB_SUBMITTED: EventMask = EventMask(1 << 8);
    /// A run started.
    pub const RUN_STARTED: EventMask = EventMask(1 << 9);
    /// A run succeeded (APScheduler's `EVENT_JOB_EXECUTED`).
    pub const JOB_EXECUTED: EventMask = EventMask(1 << 10);
    /// A run failed or timed out (APScheduler's `EVENT_JOB_ERROR`).
    pub const JOB_ERROR: EventMask = EventMask((1 << 11) | (1 << 12));
    /// A run was cancelled.
    pub const RUN_CANCELLED: EventMask = EventMask(1 << 13);
    /// A fire was too late to run (APScheduler's `EVENT_JOB_MISSED`).
    pub const JOB_MISSED: EventMask = EventMask(1 << 14);
    /// A fire was dropped at max instances (APScheduler's `EVENT_JOB_MAX_INSTANCES`).
    pub const JOB_MAX_INSTANCES: EventMask = EventMask(1 << 15);
    /// A run was in flight in a process that died.
    pub const RUN_ABANDONED: EventMask = EventMask(1 << 16);

    /// Whether `event` is in the mask.
    pub fn contains(self, event: &Event) -> bool {
        self.0 & event.bit() != 0
    }
}

impl std::ops::BitOr for EventMask {
    type Output = EventMask;
    fn bitor(self, rhs: EventMask) -> EventMask {
        EventMask(self.0 | rhs.0)
    }
}

impl Event {
    fn bit(&self) -> u32 {
        1 << match self {
            Event::SchedulerStarted => 0,
            Event::SchedulerShutdown => 1,
            Event::SchedulerPaused => 2,
            Event::SchedulerResumed => 3,
            Event::ClockJumped { .. } => 4,
            Event::JobAdded { .. } => 5,
            Event::JobModified { .. } => 6,
            Event::JobRemoved { .. } => 7,
            Event::RunSubmitted(_) => 8,
            Event::RunStarted(_) => 9,
            Event::RunSucceeded(_) => 10,
            Event::RunFailed(_) => 11,
            Event::RunTimedOut(_) => 12,
            Event::RunCancelled(_) => 13,
            Event::RunMissed(_) => 14,
            Event::RunSkipped(_) => 15,
            Event::RunAbandoned(_) => 16,
        }
    }

    /// The JSON `type` name, e.g. `run_failed`.
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("type")?.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// An event with the time it happened.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    #[serde(flatten)]
    pub event: Event,
    /// The node it happened on, when that is another process sharing the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>))]
    pub node: Option<Arc<str>>,
}

/// Broadcasts events to any number of listeners; slow listeners lose the oldest events.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Envelope>,
    /// Listeners alive: read on every emit, so kept apart from the channel's lock.
    listeners: Arc<AtomicUsize>,
    /// Listeners alive other than the relay to other nodes.
    watchers: Arc<AtomicUsize>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(4096)
    }
}

impl EventBus {
    /// A bus that buffers up to `capacity` events per listener.
    pub fn new(capacity: usize) -> Self {
        EventBus {
            sender: broadcast::channel(capacity).0,
            listeners: Arc::default(),
            watchers: Arc::default(),
        }
    }

    /// Sends `event`, stamped `at`, to every listener.
    pub fn emit(&self, at: DateTime<Utc>, event: Event) {
        self.emit_with(at, || event);
    }

    /// Whether anyone listens.
    pub fn has_listeners(&self) -> bool {
        self.listeners.load(Ordering::Acquire) > 0
    }

    /// Like [`EventBus::emit`], building the event only when someone listens.
    pub fn emit_with(&self, at: DateTime<Utc>, make: impl FnOnce() -> Event) {
        if self.has_listeners() {
            let _ = self.sender.send(Envelope {
                at,
                event: make(),
                node: None,
            });
        }
    }

    /// Passes on an event that happened on another node (its `node` set).
    pub fn relay(&self, envelope: Envelope) {
        if self.has_listeners() {
            let _ = self.sender.send(envelope);
        }
    }

    /// Whether anyone but the relay to other nodes listens (a UI, a notifier, a program).
    pub fn has_watchers(&self) -> bool {
        self.watchers.load(Ordering::Acquire) > 0
    }

    /// A listener for the events in `mask`.
    pub fn subscribe(&self, mask: EventMask) -> Listener {
        self.watchers.fetch_add(1, Ordering::Release);
        self.listen(mask, Some(self.watchers.clone()))
    }

    /// The relay's listener: it hears everything but does not count as a watcher.
    pub(crate) fn subscribe_relay(&self) -> Listener {
        self.subscribe_quiet(EventMask::ALL)
    }

    /// A listener for `mask` that does not count as a watcher (the relay, the alerter).
    pub(crate) fn subscribe_quiet(&self, mask: EventMask) -> Listener {
        self.listen(mask, None)
    }

    fn listen(&self, mask: EventMask, watchers: Option<Arc<AtomicUsize>>) -> Listener {
        self.listeners.fetch_add(1, Ordering::Release);
        Listener {
            receiver: self.sender.subscribe(),
            mask,
            listeners: self.listeners.clone(),
            watchers,
        }
    }
}

/// Receives the events of one mask.
pub struct Listener {
    receiver: broadcast::Receiver<Envelope>,
    mask: EventMask,
    listeners: Arc<AtomicUsize>,
    watchers: Option<Arc<AtomicUsize>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.listeners.fetch_sub(1, Ordering::Release);
        if let Some(watchers) = &self.watchers {
            watchers.fetch_sub(1, Ordering::Release);
        }
    }
}

impl Listener {
    /// The next matching event; `None` once the bus is gone. Events lost to lag are skipped.
    pub async fn recv(&mut self) -> Option<Envelope> {
        loop {
            match self.receiver.recv().await {
                Ok(e) if self.mask.contains(&e.event) => return Some(e),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next matching event already waiting, without blocking.
    pub fn try_recv(&mut self) -> Option<Envelope> {
        loop {
            match self.receiver.try_recv() {
                Ok(e) if self.mask.contains(&e.event) => return Some(e),
                Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64) -> RunRef {
        RunRef {
            run_id: id,
            job_id: "j".into(),
            scheduled: DateTime::UNIX_EPOCH,
            attempt: 1,
            duration_ms: None,
            error: None,
            step: None,
        }
    }

    #[tokio::test]
    async fn listeners_see_only_their_mask() {
        let bus = EventBus::default();
        let mut problems = bus.subscribe(EventMask::PROBLEMS);
        let mut all = bus.subscribe(EventMask::ALL);
        let now = Utc::now();
        bus.emit(now, Event::RunSucceeded(run(1)));
        bus.emit(now, Event::RunFailed(run(2)));
        bus.emit(now, Event::JobAdded { job_id: "j".into() });
        assert_eq!(problems.try_recv().unwrap().event, Event::RunFailed(run(2)));
        assert!(problems.try_recv().is_none());
        let names: Vec<_> = std::iter::from_fn(|| all.try_recv())
            .map(|e| e.event.name())
            .collect();
        assert_eq!(names, ["run_succeeded", "run_failed", "job_added"]);
    }

    #[test]
    fn events_are_built_only_while_someone_listens() {
        let bus = EventBus::default();
        let built = std::cell::Cell::new(0);
        let emit = || {
            bus.emit_with(Utc::now(), || {
                built.set(built.get() + 1);
                Event::RunSucceeded(run(1))
            })
        };
        emit();
        assert_eq!(built.get(), 0);
        let listener = bus.subscribe(EventMask::ALL);
        let second = bus.clone().subscribe(EventMask::PROBLEMS);
        assert!(bus.has_listeners());
        emit();
        assert_eq!(built.get(), 1);
        drop(listener);
        assert!(bus.has_listeners(), "one listener is left");
        drop(second);
        assert!(!bus.has_listeners());
        emit();
        assert_eq!(built.get(), 1);
    }

    #[test]
    fn envelope_json_is_flat_and_tagged() {
        let e = Envelope {
            at: DateTime::UNIX_EPOCH,
            event: Event::RunSkipped(run(3)),
            node: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "run_skipped");
        assert_eq!(v["run_id"], 3);
        assert_eq!(v["at"], "1970-01-01T00:00:00Z");
        assert_eq!(serde_json::from_value::<Envelope>(v).unwrap(), e);
    }
}
