//! The run loop: sleep until the earliest due fire time or a change, then dispatch what is due.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::plan::plan;
use super::{lock, place, RunCounters, SchedulerInner as Inner};
use crate::events::{Event, RunRef};
use crate::executor::{self, Submission};
use crate::history::{RunRecord, RunState};
use crate::job::{EffectiveOptions, Job, JobDefaults};

/// The longest the loop sleeps without re-reading the wall clock, so a clock change or a
/// suspend is noticed within this time even when nothing is due sooner.
const MAX_SLEEP: Duration = Duration::seconds(30);
/// A wall-clock move this much beyond elapsed time counts as a clock jump.
const JUMP_THRESHOLD: Duration = Duration::seconds(2);
/// Waits shorter than this are napped on the thread (see `run_loop`).
const NAP_BELOW: std::time::Duration = std::time::Duration::from_millis(2);
/// Most fire times planned under one hold of the state lock: the first of a chunk is not
/// submitted before the last is planned, so chunks bound how late a busy second makes it.
const CHUNK: usize = 64;

/// Runs until the scheduler stops. With `own_thread`, the loop has a thread to itself and
/// naps through waits under [`NAP_BELOW`] with the thread's sleep: tokio's timer rounds
/// up to whole milliseconds, which would make every fire of a busy second up to 2 ms late.
pub(super) async fn run_loop(inner: Arc<Inner>, own_thread: bool) {
    let mut last_wall = inner.clock.now();
    let mut last_mono = tokio::time::Instant::now();
    loop {
        let now = inner.clock.now();
        let mono = tokio::time::Instant::now();
        let elapsed = Duration::from_std(mono - last_mono).unwrap_or(Duration::zero());
        let drift = (now - last_wall) - elapsed;
        if drift.abs() > JUMP_THRESHOLD {
            tracing::warn!(
                "wall clock moved {} ms beyond elapsed time",
                drift.num_milliseconds()
            );
            inner.bus.emit(
                now,
                Event::ClockJumped {
                    by_ms: drift.num_milliseconds(),
                },
            );
        }
        (last_wall, last_mono) = (now, mono);

        let next_due = dispatch_due(&inner, now);
        let sleep = next_due
            .map_or(MAX_SLEEP, |due| (due - now).min(MAX_SLEEP))
            .to_std()
            .unwrap_or_default();
        if own_thread && sleep < NAP_BELOW {
            std::thread::sleep(sleep);
            if inner.stop.is_cancelled() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = inner.wake.notified() => {}
            _ = inner.stop.cancelled() => return,
        }
    }
}

/// Everything one pass over the due-set decided, applied after the state lock is released.
#[derive(Default)]
struct Batch {
    records: Vec<RunRecord>,
    events: Vec<Event>,
    submissions: Vec<Submission>,
}

/// Dispatches every due fire time, a chunk at a time; returns when the earliest remaining
/// one is due.
fn dispatch_due(inner: &Arc<Inner>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let defaults = inner.defaults();
    loop {
        let mut batch = Batch {
            records: Vec::with_capacity(CHUNK),
            events: Vec::new(),
            submissions: Vec::with_capacity(CHUNK),
        };
        let next_due = plan_chunk(inner, &defaults, now, &mut batch);
        apply(inner, batch, now);
        if next_due.is_none_or(|due| due > now) {
            return next_due;
        }
    }
}

/// Plans up to [`CHUNK`] due fire times into `batch`; returns the earliest remaining due time
/// (`None` when paused or nothing is scheduled).
fn plan_chunk(
    inner: &Arc<Inner>,
    defaults: &JobDefaults,
    now: DateTime<Utc>,
    batch: &mut Batch,
) -> Option<DateTime<Utc>> {
    let mut next_runs = Vec::with_capacity(CHUNK);
    let mut guard = lock(&inner.state);
    let state = &mut *guard;
    if state.paused {
        return None;
    }
    for _ in 0..CHUNK {
        if state.queue.first().is_none_or(|(d, ..)| *d > now) {
            break;
        }
        let Some((_, _, id)) = state.queue.pop_first() else {
            break;
        };
        let slot = state.slots.get_mut(&id).expect("queued jobs have slots");
        let Some((_, fire)) = slot.due.take() else {
            continue;
        };
        let job = match &slot.job {
            Some(job) => job.clone(),
            None => match inner.store.get_job(&id) {
                Ok(Some(job)) => {
                    let job = Arc::new(job);
                    slot.job = Some(job.clone());
                    job
                }
                Ok(None) => {
                    state.slots.remove(&id);
                    continue;
                }
                Err(e) => {
                    tracing::error!("cannot load job '{id}': {e}; retrying in a minute");
                    let retry = Some((now + Duration::minutes(1), fire));
                    state.enqueue(&id, retry);
                    continue;
                }
            },
        };
        let options = job.options.resolve(defaults);
        let plan = plan(
            &job.trigger,
            fire,
            now,
            options.coalesce,
            options.misfire_grace_time,
        );
        for missed in plan.missed {
            let run = final_record(inner, &job, missed, RunState::Missed, now);
            batch.events.push(Event::RunMissed(RunRef::of(&run)));
            batch.records.push(run);
        }
        for fire in plan.run {
            let active = slot.counters.active.load(Ordering::Acquire);
            if active >= options.max_instances {
                let mut run = final_record(inner, &job, fire, RunState::Skipped, now);
                run.error = Some(format!(
                    "{active} run(s) already active (max instances {})",
                    options.max_instances
                ));
                batch.events.push(Event::RunSkipped(RunRef::of(&run)));
                batch.records.push(run);
            } else {
                slot.counters.active.fetch_add(1, Ordering::AcqRel);
                let s = submission(inner, &job, &slot.counters, fire, options.clone());
                batch.submissions.push(s);
            }
        }
        // Back in the due-set at its next time, through the slot at hand (no second lookup).
        let due = plan.next.map(|t| inner.due(&job, options.jitter, t));
        place(&mut state.queue, slot, &id, due);
        next_runs.push((id, plan.next));
    }
    if !next_runs.is_empty() {
        inner.store.set_next_runs(next_runs);
    }
    state.queue.first().map(|(d, ..)| *d)
}

/// A run record that is final from the start (missed or skipped).
fn final_record(
    inner: &Inner,
    job: &Job,
    fire: DateTime<Utc>,
    state: RunState,
    now: DateTime<Utc>,
) -> RunRecord {
    let mut run = RunRecord::new(inner.store.next_run_id(), &job.id, fire, state);
    run.finished = Some(now);
    run
}

fn submission(
    inner: &Inner,
    job: &Arc<Job>,
    counters: &Arc<RunCounters>,
    fire: DateTime<Utc>,
    options: EffectiveOptions,
) -> Submission {
    Submission {
        run: RunRecord::new(
            inner.store.next_run_id(),
            &job.id,
            fire,
            RunState::Submitted,
        ),
        job: job.clone(),
        counters: counters.clone(),
        options,
    }
}

/// Records, announces and starts what a dispatch pass decided.
fn apply(inner: &Arc<Inner>, mut batch: Batch, now: DateTime<Utc>) {
    let listening = inner.bus.has_listeners();
    for s in &batch.submissions {
        batch.records.push(s.run.clone());
        if listening {
            batch.events.push(Event::RunSubmitted(RunRef::of(&s.run)));
        }
    }
    if !batch.records.is_empty() {
        inner.store.record_runs(batch.records);
    }
    for event in batch.events {
        inner.bus.emit(now, event);
    }
    executor::submit(inner, batch.submissions);
}

/// Submits a run of `job` for `now` outside its schedule; `None` when max instances are active.
pub(super) fn submit_now(inner: &Arc<Inner>, job: Arc<Job>, now: DateTime<Utc>) -> Option<i64> {
    let options = job.options.resolve(&inner.defaults());
    let counters = {
        let mut state = lock(&inner.state);
        // Without a slot (a scheduler that was not started, as in `kairos job run`), make one.
        let slot = state.slots.entry(job.id.as_str().into()).or_default();
        if slot.counters.active.load(Ordering::Acquire) >= options.max_instances {
            return None;
        }
        slot.counters.active.fetch_add(1, Ordering::AcqRel);
        slot.counters.clone()
    };
    let s = submission(inner, &job, &counters, now, options);
    let id = s.run.id;
    apply(
        inner,
        Batch {
            submissions: vec![s],
            ..Default::default()
        },
        now,
    );
    Some(id)
}

impl Inner {
    /// Called by a run's task when it ends: frees its instance and prunes history now and then.
    pub(crate) fn run_finished(&self, job: &Job, counters: &RunCounters, now: DateTime<Utc>) {
        counters.active.fetch_sub(1, Ordering::AcqRel);
        let finished = counters.finished.fetch_add(1, Ordering::AcqRel) + 1;
        if finished % PRUNE_EVERY == 1 {
            let retention = job.options.resolve(&self.defaults()).retention;
            self.store.prune_runs(&job.id, retention, now);
        }
    }
}

/// A job's history is pruned on its first finished run and every this many after.
const PRUNE_EVERY: u32 = 100;
