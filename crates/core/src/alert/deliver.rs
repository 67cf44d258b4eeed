//! The alerter: hears this node's run events while any channel exists, applies each job's
//! rules, holds back repeats (one message per job and channel per window, then a summary),
//! and delivers in the background with retries, recording every attempt.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Notify;

use super::message::{self, Message};
use super::{AlertOn, Channel, Delivery};
use crate::events::{Envelope, Event, EventBus, EventMask, Listener, RunRef};
use crate::history::{RunQuery, RunState};
use crate::job::Job;
use crate::scheduler::SchedulerInner;
use crate::store::JobStore;

/// One message per job and channel per this long; the rest are summed up at its end.
pub(crate) const THROTTLE: Duration = Duration::minutes(10);

/// Waits before the second, third and fourth attempt of a delivery.
const BACKOFF: [StdDuration; 3] = [
    StdDuration::from_secs(2),
    StdDuration::from_secs(10),
    StdDuration::from_secs(60),
];

/// A job and channel's current throttle window.
#[derive(Default)]
struct Window {
    /// Messages are held back until then.
    until: Option<DateTime<Utc>>,
    /// How many were held back, and the latest of them.
    held: u32,
    latest: Option<Message>,
}

/// What the window does with a message offered.
#[derive(Debug, PartialEq)]
enum Offer {
    /// Send it now (a new window starts).
    Send(Message),
    /// The first held back in this window: at `until`, call [`Window::close`].
    Held { until: DateTime<Utc> },
    /// Held back, the window's end already arranged.
    HeldAgain,
}

impl Window {
    fn offer(&mut self, now: DateTime<Utc>, msg: Message) -> Offer {
        match self.until {
            Some(until) if now < until => {
                self.held += 1;
                match self.latest.replace(msg) {
                    None => Offer::Held { until },
                    Some(_) => Offer::HeldAgain,
                }
            }
            _ => {
                // A window that ended before its timer ran: what it held goes with this one.
                let mut msg = msg;
                msg.held_back = std::mem::take(&mut self.held);
                self.latest = None;
                self.until = Some(now + THROTTLE);
                Offer::Send(msg)
            }
        }
    }

    /// The window's end: the latest message held back, counting the others, to send now
    /// (a new window starts with it).
    fn close(&mut self, now: DateTime<Utc>) -> Option<Message> {
        let mut msg = self.latest.take()?;
        msg.held_back = std::mem::take(&mut self.held) - 1;
        self.until = Some(now + THROTTLE);
        Some(msg)
    }
}

/// Sends alerts to channels.
pub(crate) struct Alerter {
    channels: RwLock<Arc<Vec<Channel>>>,
    changed: Notify,
    client: reqwest::Client,
    windows: Mutex<HashMap<(String, String), Window>>,
    /// The web admin's address, for links to runs.
    link_base: RwLock<Option<String>>,
    /// A listener made when the first channel appeared, for `run` to take: made before the
    /// change returns, so a run that ends right after is heard.
    ready: Mutex<Option<Listener>>,
    /// `run` holds a listener.
    listening: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Alerter {
    /// An alerter with no channels yet (see [`Alerter::reload`]).
    pub(crate) fn new() -> Self {
        Alerter {
            channels: RwLock::default(),
            changed: Notify::new(),
            client: message::client(),
            windows: Mutex::default(),
            link_base: RwLock::default(),
            ready: Mutex::default(),
            listening: AtomicBool::new(false),
        }
    }

    /// Reads the channels from `store` again; with any, listens to `bus` from now on.
    pub(crate) fn reload(&self, store: &dyn JobStore, bus: &EventBus) {
        match store.load_channels() {
            Ok(channels) => {
                let any = !channels.is_empty();
                *self.channels.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(channels);
                if any && !self.listening.load(Ordering::Acquire) {
                    // Not a watcher: alerts alone do not make this node publish its events.
                    lock(&self.ready).get_or_insert_with(|| bus.subscribe_quiet(EventMask::RUNS));
                }
                self.changed.notify_one();
            }
            Err(e) => tracing::warn!("cannot read the alert channels: {e}"),
        }
    }

    /// Links in messages point below `base` (e.g. `http://127.0.0.1:7878`).
    pub(crate) fn set_link_base(&self, base: Option<String>) {
        *self.link_base.write().unwrap_or_else(|e| e.into_inner()) =
            base.map(|b| b.trim_end_matches('/').to_string());
    }

    fn channels(&self) -> Arc<Vec<Channel>> {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The web admin's page of a run (or the settings, for a test).
    fn link(&self, job_id: &str, run_id: Option<i64>) -> Option<String> {
        let base = self.link_base.read().unwrap_or_else(|e| e.into_inner());
        let base = base.as_deref()?;
        Some(match run_id {
            Some(run) => format!("{base}/jobs/{job_id}?run={run}"),
            None => format!("{base}/settings"),
        })
    }

    /// Listens while any channel exists, until the scheduler stops.
    pub(crate) async fn run(self: Arc<Self>, inner: Arc<SchedulerInner>) {
        loop {
            if self.channels().is_empty() {
                tokio::select! {
                    _ = self.changed.notified() => continue,
                    _ = inner.stop.cancelled() => return,
                }
            }
            let ready = lock(&self.ready).take();
            let mut listener = ready.unwrap_or_else(|| inner.bus.subscribe_quiet(EventMask::RUNS));
            self.listening.store(true, Ordering::Release);
            loop {
                tokio::select! {
                    envelope = listener.recv() => match envelope {
                        Some(e) => self.on_event(&inner, e),
                        None => return,
                    },
                    _ = self.changed.notified() => if self.channels().is_empty() { break },
                    _ = inner.stop.cancelled() => return,
                }
            }
            self.listening.store(false, Ordering::Release);
        }
    }

    /// Applies the rules of the event's job.
    fn on_event(self: &Arc<Self>, inner: &Arc<SchedulerInner>, envelope: Envelope) {
        if envelope.node.is_some() {
            return; // Another node's run: that node alerts.
        }
        let (outcome, run) = match envelope.event {
            Event::RunFailed(r) => (Some(AlertOn::Failed), r),
            Event::RunTimedOut(r) => (Some(AlertOn::TimedOut), r),
            Event::RunMissed(r) => (Some(AlertOn::Missed), r),
            Event::RunSkipped(r) => (Some(AlertOn::Skipped), r),
            Event::RunAbandoned(r) => (Some(AlertOn::Abandoned), r),
            Event::RunSucceeded(r) => (None, r),
            _ => return,
        };
        if run.step.is_some() {
            return; // A workflow's step: the workflow's own run says how it went.
        }
        let job = match inner.store.get_job(&run.job_id) {
            Ok(Some(job)) => job,
            _ => return,
        };
        // A failed attempt with retries left is not the end of the run.
        let failed = matches!(outcome, Some(AlertOn::Failed | AlertOn::TimedOut));
        if failed && run.attempt <= job.options.resolve(&inner.defaults()).retries.count {
            return;
        }
        let rules = match &job.options.alerts {
            Some(rules) => rules.clone(),
            None => inner.defaults().alerts,
        };
        if rules.is_empty() {
            return;
        }
        let channels = self.channels();
        for rule in rules {
            let Some(channel) = channels.iter().find(|c| c.id == rule.channel && c.enabled) else {
                continue;
            };
            let mut outcomes = Vec::new();
            match outcome {
                Some(o) if rule.on.contains(&o) => outcomes.push(o),
                None if rule.on.contains(&AlertOn::Recovered)
                    && failed_before(inner, &job, &run) =>
                {
                    outcomes.push(AlertOn::Recovered)
                }
                _ => {}
            }
            // Only a run that ended by running: an abandoned one's end is its takeover.
            let ran = matches!(outcome, None | Some(AlertOn::Failed | AlertOn::TimedOut));
            let took = run.duration_ms.filter(|_| ran).unwrap_or(0);
            if rule.on.contains(&AlertOn::Slow)
                && rule
                    .longer_than_s
                    .is_some_and(|s| took > s.saturating_mul(1000) as i64)
            {
                outcomes.push(AlertOn::Slow);
            }
            for outcome in outcomes {
                let msg = Message {
                    outcome,
                    job_id: job.id.clone(),
                    job_name: job.name.clone(),
                    run_id: Some(run.run_id),
                    scheduled: Some(run.scheduled),
                    error: run.error.clone(),
                    link: self.link(&job.id, Some(run.run_id)),
                    held_back: 0,
                };
                self.throttled(inner, channel.clone(), msg);
            }
        }
    }

    /// Sends `msg` now, or holds it back when this job and channel had a message in the
    /// window; the window's end sends the latest held back, counting the others.
    fn throttled(self: &Arc<Self>, inner: &Arc<SchedulerInner>, channel: Channel, msg: Message) {
        let now = inner.clock.now();
        let key = (msg.job_id.clone(), channel.id.clone());
        let offered = lock(&self.windows)
            .entry(key.clone())
            .or_default()
            .offer(now, msg);
        match offered {
            Offer::Send(msg) => self.deliver(inner, channel, msg),
            Offer::Held { until } => {
                let wait = (until - now).to_std().unwrap_or_default();
                let (this, inner) = (self.clone(), inner.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = inner.stop.cancelled() => return,
                    }
                    let now = inner.clock.now();
                    let summary = lock(&this.windows).entry(key).or_default().close(now);
                    if let Some(msg) = summary {
                        this.deliver(&inner, channel, msg);
                    }
                });
            }
            Offer::HeldAgain => {}
        }
    }

    /// Delivers in the background, retrying with backoff; records every attempt.
    fn deliver(self: &Arc<Self>, inner: &Arc<SchedulerInner>, channel: Channel, msg: Message) {
        let (this, inner) = (self.clone(), inner.clone());
        tokio::spawn(async move {
            for attempt in 1..=BACKOFF.len() as u32 + 1 {
                if this.attempt(&inner, &channel, &msg, attempt).await.ok {
                    return;
                }
                let Some(wait) = BACKOFF.get(attempt as usize - 1) else {
                    tracing::warn!(
                        "alert to channel '{}' given up after {attempt} attempts",
                        channel.name
                    );
                    return;
                };
                tokio::select! {
                    _ = tokio::time::sleep(*wait) => {}
                    _ = inner.stop.cancelled() => return,
                }
            }
        });
    }

    /// One attempt, recorded.
    async fn attempt(
        &self,
        inner: &SchedulerInner,
        channel: &Channel,
        msg: &Message,
        attempt: u32,
    ) -> Delivery {
        let at = inner.clock.now();
        let result = message::send(&self.client, channel, msg, at).await;
        let delivery = Delivery {
            id: 0,
            at,
            channel: channel.id.clone(),
            job_id: (!msg.job_id.is_empty()).then(|| msg.job_id.clone()),
            run_id: msg.run_id,
            outcome: msg.outcome,
            attempt,
            ok: result.is_ok(),
            error: result.err(),
        };
        if let Err(e) = inner.store.record_delivery(&delivery) {
            tracing::warn!("cannot record an alert delivery: {e}");
        }
        delivery
    }

    /// Sends a test message on `channel` once; the attempt is recorded and returned.
    pub(crate) async fn test(&self, inner: &SchedulerInner, channel: &Channel) -> Delivery {
        self.attempt(inner, channel, &Message::test(self.link("", None)), 1)
            .await
    }
}

/// Whether the fire of `job` before `run`'s ended in failure (its last attempt failed):
/// the success `run` is then a recovery. Attempts that were retried are passed over.
fn failed_before(inner: &SchedulerInner, job: &Job, run: &RunRef) -> bool {
    let query = RunQuery {
        job_id: Some(run.job_id.clone()),
        states: vec![RunState::Succeeded, RunState::Failed, RunState::TimedOut],
        before_id: Some(run.run_id),
        limit: 20,
        ..Default::default()
    };
    let retries = job.options.resolve(&inner.defaults()).retries.count;
    inner
        .store
        .runs(&query)
        .ok()
        .and_then(|runs| {
            runs.into_iter()
                .find(|r| r.state == RunState::Succeeded || r.attempt > retries)
        })
        .is_some_and(|r| r.state != RunState::Succeeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(run: i64) -> Message {
        Message {
            outcome: AlertOn::Failed,
            job_id: "flaky".into(),
            job_name: "Flaky".into(),
            run_id: Some(run),
            scheduled: None,
            error: None,
            link: None,
            held_back: 0,
        }
    }

    #[test]
    fn a_flapping_job_sends_one_message_then_a_summary() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let minute = |m: i64| t0 + Duration::minutes(m);
        let mut window = Window::default();
        assert_eq!(window.offer(t0, failed(1)), Offer::Send(failed(1)));
        assert_eq!(
            window.offer(minute(1), failed(2)),
            Offer::Held { until: minute(10) }
        );
        for run in 3..=40 {
            assert_eq!(window.offer(minute(2), failed(run)), Offer::HeldAgain);
        }
        // The window's end: the latest, with the 38 before it counted.
        let summary = window.close(minute(10)).unwrap();
        assert_eq!((summary.run_id, summary.held_back), (Some(40), 38));
        assert_eq!(window.close(minute(10)), None, "nothing more to say");
        // The summary opened a window of its own; after it, messages go out at once.
        assert_eq!(
            window.offer(minute(15), failed(41)),
            Offer::Held { until: minute(20) }
        );
        assert_eq!(window.close(minute(20)).unwrap().held_back, 0);
        assert_eq!(
            window.offer(minute(31), failed(42)),
            Offer::Send(failed(42))
        );
    }

    #[test]
    fn the_first_channel_listens_before_its_change_returns() {
        // A run that ends right after the first channel is added must be heard, even before
        // the alerter's task gets to run.
        let store = crate::store::MemoryStore::new();
        let bus = EventBus::default();
        let alerter = Alerter::new();
        alerter.reload(&store, &bus);
        assert!(lock(&alerter.ready).is_none(), "no channel, no listener");
        let target = super::super::Target::Webhook {
            url: "http://127.0.0.1:9/hook".into(),
            headers: Default::default(),
            template: None,
        };
        let channel = Channel {
            id: "ops".into(),
            name: "ops".into(),
            enabled: true,
            language: super::super::Language::English,
            target,
        };
        store.save_channels(&[channel]).unwrap();
        alerter.reload(&store, &bus);
        let failed = RunRef::of(&crate::history::RunRecord::new(
            7,
            "flaky",
            Utc::now(),
            RunState::Failed,
        ));
        bus.emit(Utc::now(), Event::RunFailed(failed));
        let mut listener = lock(&alerter.ready).take().expect("listening already");
        let heard = listener.try_recv().expect("the run's end was heard");
        assert!(matches!(heard.event, Event::RunFailed(r) if r.run_id == 7));
    }
}
