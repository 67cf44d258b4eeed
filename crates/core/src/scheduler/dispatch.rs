//! The run loop: sleep until the earliest due fire time or a change, then dispatch what is due.

use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::plan::plan;
use super::{lock, place, ClockSteps, DueEntry, RunCounters, SchedulerInner as Inner, State};
use crate::events::{Event, RunRef};
use crate::executor::{self, Submission};
use crate::history::{RunParams, RunRecord, RunState};
use crate::job::{EffectiveOptions, Job, JobDefaults};
use crate::store::{Claim, ClaimOutcome};
use crate::trigger::Trigger;

/// The longest the loop sleeps without re-reading the wall clock where the clock cannot say
/// when it is set, so a step or a suspend is noticed within this time.
const MAX_SLEEP: Duration = Duration::seconds(30);
/// The longest it sleeps where the clock says so itself (see [`ClockSteps`]).
const WATCHED_SLEEP: Duration = Duration::minutes(10);
/// A wall-clock move this much beyond elapsed time counts as a step or a suspend; less is a
/// slew (NTP's gradual correction), which fire times simply follow.
const JUMP_THRESHOLD: Duration = Duration::seconds(2);
/// Waits shorter than this are napped on the thread (see `run_loop`).
const NAP_BELOW: std::time::Duration = std::time::Duration::from_millis(2);
/// Most fire times planned under one hold of the state lock: the first of a chunk is not
/// submitted before the last is planned, so chunks bound how late a busy second makes it.
const CHUNK: usize = 64;
/// Most fires claimed in one store call when claiming ahead: their runs start at their
/// time whatever the call takes, and a store commits each call. (A quarter window at 50,000
/// fires a second is 1,250; the SQLite storm's p99 was 20-38 ms with 4,096, 69-184 ms with
/// 2,048, and a burst of one fire time is planned under the state lock a chunk at a time.)
const CHUNK_AHEAD: usize = 4096;

/// Most jobs loaded in one store call (see [`load_ahead`] and [`preload`]).
pub(super) const LOAD_AHEAD: usize = 1024;
/// How far down the due-set the idle loop looks for jobs to load at a time, letting go of
/// the state in between (see [`preload`]).
const PRELOAD_SCAN: usize = 16 * LOAD_AHEAD;
/// How far past its next claim the idle loop loads the jobs due (see [`preload`]).
const PRELOAD_HORIZON: Duration = Duration::seconds(2);
/// The idle loop stops loading this long before its next fire.
const PRELOAD_STOP: Duration = Duration::milliseconds(100);
/// How often at most the idle loop looks for jobs to load: a look scans the due-set up to
/// [`PRELOAD_HORIZON`] past the next claim, too much for every wake of a busy second.
const PRELOAD_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs until the scheduler stops. With `own_thread`, the loop has a thread to itself and
/// naps through waits under [`NAP_BELOW`] with the thread's sleep: tokio's timer rounds
/// up to whole milliseconds, which would make every fire of a busy second up to 2 ms late.
pub(super) async fn run_loop(inner: Arc<Inner>, own_thread: bool) {
    let mut steps = inner.clock.steps();
    let mut last = ClockReading::now(&inner);
    // A step whose moves the store refused (busy): tried again before anything fires.
    let mut unmoved: Option<Duration> = None;
    let mut preloaded: Option<tokio::time::Instant> = None;
    let ahead = Duration::milliseconds(inner.claim_ahead_ms.load(Ordering::Relaxed) as i64);
    loop {
        let reading = ClockReading::now(&inner);
        let step = notice_clock_move(&inner, &last, &reading);
        last = reading;
        let now = reading.wall;
        if let Some(by) = sum(step, unmoved) {
            unmoved = (!reanchor(&inner, by, now)).then_some(by);
        }

        let next_due = dispatch_due(&inner, &reading, ahead);
        if inner.stop.is_cancelled() {
            return;
        }
        // Nothing is due before next_due: read ahead what comes then, at most so often; a
        // look put off wakes the loop when it may look again.
        let put_off = preloaded.is_some_and(|at| at.elapsed() < PRELOAD_EVERY);
        if !put_off {
            preloaded = Some(tokio::time::Instant::now());
            preload(&inner, next_due.map(|due| due - ahead), ahead);
        }
        let longest = match (&steps, unmoved) {
            (_, Some(_)) => Duration::seconds(1),
            (Some(_), None) => WATCHED_SLEEP,
            (None, None) => MAX_SLEEP,
        };
        // The wake is timed from the clock after this turn's dispatch and look ahead, which
        // take a while (a look that loaded 200,000 jobs: 30 ms, which the first fire was late).
        let awake = inner.clock.now();
        let mut sleep = next_wake(&inner, next_due, now, ahead)
            .map_or(longest, |wake| (wake - awake).min(longest))
            .to_std()
            .unwrap_or_default();
        if put_off {
            sleep = sleep.min(PRELOAD_EVERY);
        }
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
            watching = next_step(&mut steps) => {
                if !watching {
                    steps = None;
                }
            }
            _ = inner.stop.cancelled() => return,
        }
    }
}

/// When the loop next claims, after claiming at `now` (`None`: nothing is scheduled). Claiming
/// ahead, it claims at most every quarter window, a quarter window's fires at a time, rather
/// than each as it enters the window (a commit per fire time on a busy store); but a fire
/// put off at `max_instances` is claimed at its start.
fn next_wake(
    inner: &Inner,
    next_due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    ahead: Duration,
) -> Option<DateTime<Utc>> {
    if ahead.is_zero() {
        return next_due;
    }
    let deferred = {
        let mut state = lock(&inner.state);
        // Those due by now were claimed in this turn.
        state.deferred.retain(|start| *start > now);
        state.deferred.first().copied()
    };
    let sliced = next_due.map(|due| (due - ahead).max(now + ahead / 4));
    match (sliced, deferred) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Both steps together, or either.
fn sum(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// Returns at the next step of the wall clock (true), or when the watch failed (false);
/// never when steps are not watched.
async fn next_step(steps: &mut Option<ClockSteps>) -> bool {
    match steps {
        Some(steps) => steps.next().await,
        None => std::future::pending().await,
    }
}

/// The wall clock, elapsed time and time suspended, read together.
#[derive(Clone, Copy)]
struct ClockReading {
    wall: DateTime<Utc>,
    elapsed: tokio::time::Instant,
    suspended: Option<Duration>,
}

impl ClockReading {
    fn now(inner: &Inner) -> Self {
        ClockReading {
            wall: inner.clock.now(),
            elapsed: tokio::time::Instant::now(),
            suspended: inner.clock.suspended(),
        }
    }
}

/// Says when the wall clock moved beyond elapsed time between two readings; returns the
/// step (whole milliseconds) interval jobs are to move by. Time the machine slept is
/// downtime, for the misfire policy; the rest of the move was the clock being set. Where
/// suspends cannot be told, a move forward counts as one (as it most often is).
fn notice_clock_move(
    inner: &Arc<Inner>,
    before: &ClockReading,
    after: &ClockReading,
) -> Option<Duration> {
    let elapsed = Duration::from_std(after.elapsed - before.elapsed).unwrap_or(Duration::zero());
    let drift = (after.wall - before.wall) - elapsed;
    // Slews (NTP's gradual corrections) add up over a long sleep: up to a tenth of it is one.
    let threshold = JUMP_THRESHOLD.max(elapsed / 10);
    if drift.abs() <= threshold {
        return None;
    }
    let slept = match (before.suspended, after.suspended) {
        (Some(before), Some(after)) => after - before,
        _ => drift.max(Duration::zero()),
    };
    let suspended = slept > JUMP_THRESHOLD;
    let step = drift - slept.max(Duration::zero());
    let by_ms = drift.num_milliseconds();
    let step = (step.abs() > threshold).then(|| Duration::milliseconds(rounded_ms(step)));
    match (suspended, step) {
        (true, None) => tracing::warn!("the machine slept: the wall clock moved {by_ms} ms"),
        (_, Some(step)) => tracing::warn!(
            "the wall clock was set {} ms{}; interval jobs keep their period",
            step.num_milliseconds(),
            if suspended { " during a sleep" } else { "" }
        ),
        (false, None) => {}
    }
    inner
        .bus
        .emit(after.wall, Event::ClockJumped { by_ms, suspended });
    step
}

/// `d` in whole milliseconds, to the nearest.
fn rounded_ms(d: Duration) -> i64 {
    let micros = d.num_microseconds().unwrap_or(d.num_milliseconds() * 1000);
    (micros as f64 / 1000.0).round() as i64
}

/// After the wall clock was set `by`, moves the next fire time of each interval job this
/// node fires by `by`, so it comes after the elapsed time it was waiting for; in the store
/// first, so other processes reading the same clock follow instead of moving it again. A
/// move back of a whole number of periods lands 1 ms beside the old times, all of which ran
/// (or were to run) already: a run is one per fire time, and these are new fire times.
/// Nothing moves when this clock was, or now is, away from the database's (a PostgreSQL
/// server elsewhere): the database's time rules a cluster. False when the store refused.
fn reanchor(inner: &Arc<Inner>, by: Duration, now: DateTime<Utc>) -> bool {
    let agreed = inner.may_claim();
    if let Err(e) = inner.beat() {
        tracing::error!("cannot compare clocks with the database after a step: {e}");
        return false;
    }
    if !(agreed && inner.may_claim()) {
        tracing::warn!("this clock is away from the database's: interval jobs stay put");
        return true;
    }
    // Each due job and its fire time; definitions not in memory are read without the lock.
    let due = {
        let state = lock(&inner.state);
        let due = state.slots.iter().filter_map(|(id, slot)| {
            let (_, fire) = slot.due.filter(|_| !slot.claiming)?;
            Some((id.clone(), fire, slot.job.clone()))
        });
        due.collect::<Vec<_>>()
    };
    let defaults = inner.defaults();
    let mut moves = Vec::new();
    for (id, fire, job) in due {
        let job = match job {
            Some(job) => job,
            None => match inner.store.shared_job(&id) {
                Ok(Some(job)) => job,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!("cannot load job '{id}' to move it with the clock: {e}");
                    return false;
                }
            },
        };
        // A job waiting for its start waits for that wall-clock time.
        let Trigger::Interval(interval) = &job.trigger else {
            continue;
        };
        if !interval.started(fire) || !inner.may_run(&job) || !inner.owns(&job) {
            continue;
        }
        let on_old_grid = by.num_milliseconds() % interval.period().num_milliseconds() == 0;
        let nudge = Duration::milliseconds(i64::from(by < Duration::zero() && on_old_grid));
        let moved = interval.before_end(fire + by + nudge);
        moves.push((id, fire, moved, job));
    }
    let mut batch = Batch::default();
    {
        let mut guard = lock(&inner.state);
        let state = &mut *guard;
        for (id, fire, moved, job) in moves {
            let Some(slot) = state.slots.get_mut(&id) else {
                continue;
            };
            if slot.claiming || slot.due.map(|(_, f)| f) != Some(fire) {
                continue; // changed meanwhile: it has its new time from the store
            }
            let options = job.options.resolve(&defaults);
            let due = moved.map(|t| inner.due(&job, options.jitter, t));
            place(&mut state.queue, slot, &id, due);
            slot.claiming = true;
            batch.claims.push(Claim {
                job_id: id,
                advance: Some((fire, moved)),
                runs: Vec::new(),
                max_instances: u32::MAX,
                outcome: ClaimOutcome::Pending,
            });
            batch.planned.push(Planned {
                counters: slot.counters().clone(),
                job,
                options,
                counted: 0,
                fire,
                due,
                start: None,
            });
        }
    }
    apply(inner, batch, now)
}

/// Everything one pass over the due-set decided, claimed from the store after the state lock
/// is released: one claim per job, with what is needed to start its runs once it is won.
#[derive(Default)]
struct Batch {
    claims: Vec<Claim>,
    planned: Vec<Planned>,
}

/// One claimed job's side of the batch.
struct Planned {
    job: Arc<Job>,
    options: EffectiveOptions,
    counters: Arc<RunCounters>,
    /// Runs counted in `counters.active` for this claim.
    counted: u32,
    /// The fire time claimed.
    fire: DateTime<Utc>,
    /// Where the job was put back in the due-set (to undo if the claim is lost).
    due: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// When its runs start, if later than the claim (see [`JobStore::claim_ahead`]).
    ///
    /// [`JobStore::claim_ahead`]: crate::store::JobStore::claim_ahead
    start: Option<tokio::time::Instant>,
}

/// Dispatches every fire time due by `ahead` after `at`, a chunk at a time; returns when the
/// earliest remaining one is due.
fn dispatch_due(inner: &Arc<Inner>, at: &ClockReading, ahead: Duration) -> Option<DateTime<Utc>> {
    let defaults = inner.defaults();
    loop {
        let chunk = if ahead.is_zero() { CHUNK } else { CHUNK_AHEAD };
        let mut batch = Batch {
            claims: Vec::with_capacity(CHUNK),
            planned: Vec::with_capacity(CHUNK),
        };
        let next_due = plan_chunk(inner, &defaults, at, ahead, chunk, &mut batch);
        apply(inner, batch, at.wall);
        if next_due.is_none_or(|due| due > at.wall + ahead) || inner.stop.is_cancelled() {
            return next_due;
        }
    }
}

/// Plans up to `chunk` fire times due by `ahead` after `at` into `batch`; returns the
/// earliest remaining due time (`None` when paused or nothing is scheduled).
fn plan_chunk(
    inner: &Arc<Inner>,
    defaults: &JobDefaults,
    at: &ClockReading,
    ahead: Duration,
    chunk: usize,
    batch: &mut Batch,
) -> Option<DateTime<Utc>> {
    let now = at.wall;
    let mut guard = lock(&inner.state);
    let state = &mut *guard;
    if state.paused || !inner.may_claim() {
        return None;
    }
    for _ in 0..chunk {
        let Some((due, _, id)) = state.queue.first() else {
            break;
        };
        if *due > now + ahead {
            break;
        }
        let (claiming, unloaded) = state
            .slots
            .get(id)
            .map_or((false, false), |s| (s.claiming, s.job.is_none()));
        if claiming {
            // A job back within the window (its period is shorter) waits for this chunk's
            // claim of it to be decided: one claim per job in a batch.
            break;
        }
        let Some((_, _, id)) = state.queue.pop_first() else {
            break;
        };
        if unloaded {
            load_ahead(inner, state, Some(&id));
        }
        let slot = state.slots.get_mut(&id).expect("queued jobs have slots");
        let deferred = std::mem::take(&mut slot.deferred);
        let Some((due, fire)) = slot.due.take() else {
            continue;
        };
        let start = if deferred { due - ahead } else { due };

        let job = match &slot.job {
            Some(job) => job.clone(),
            None => match inner.store.shared_job(&id) {
                Ok(Some(job)) => {
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
        if !inner.may_run(&job) {
            // Pinned to labels this node lacks: a node that has them claims its fires.
            place(&mut state.queue, slot, &id, None);
            continue;
        }
        let rescued = std::mem::take(&mut slot.rescue);
        if !rescued && !inner.owns(&job) {
            // Another node fires this job; it comes back here when the nodes change, or when
            // its fire is overdue with the owner silent (see `cluster`).
            continue;
        }
        let options = job.options.resolve(defaults);
        if start > now && slot.active() >= options.max_instances {
            // Its runs may have ended by its time: claimed then, not skipped now.
            place(&mut state.queue, slot, &id, Some((start + ahead, fire)));
            slot.deferred = true;
            slot.rescue = rescued;
            state.deferred.insert(start);
            continue;
        }
        let plan = plan(
            &job.trigger,
            fire,
            now,
            options.coalesce,
            options.misfire_grace_time,
        );
        let mut runs = Vec::with_capacity(plan.missed.len() + plan.run.len());
        for missed in plan.missed {
            runs.push(final_record(&job, missed, RunState::Missed, now));
        }
        let mut counted = 0;
        for fire in plan.run {
            let active = slot.active();
            if active >= options.max_instances {
                let mut run = final_record(&job, fire, RunState::Skipped, now);
                run.error =
                    Some(crate::store::skipped_error(active.into(), options.max_instances).into());
                runs.push(run);
            } else {
                slot.counters().active.fetch_add(1, Ordering::AcqRel);
                counted += 1;
                runs.push(RunRecord::new(0, &job.id, fire, RunState::Submitted));
            }
        }
        // Back in the due-set at its next time, through the slot at hand (no second lookup);
        // undone if another process claims the fire first.
        let due = plan.next.map(|t| inner.due(&job, options.jitter, t));
        place(&mut state.queue, slot, &id, due);
        slot.claiming = true;
        batch.claims.push(Claim {
            job_id: id,
            advance: Some((fire, plan.next)),
            runs,
            max_instances: options.max_instances,
            outcome: ClaimOutcome::Pending,
        });
        batch.planned.push(Planned {
            counters: slot.counters().clone(),
            job,
            options,
            counted,
            fire,
            due,
            start: (start > now).then(|| at.elapsed + (start - now).to_std().unwrap_or_default()),
        });
    }
    state.queue.first().map(|(d, ..)| *d)
}

/// Loads job `popped` (just taken from the due-set) and those of the next [`LOAD_AHEAD`]
/// queued jobs not loaded yet in one store call, so a process starting with many jobs does not
/// ask for them one at a time as each first comes due.
fn load_ahead(inner: &Inner, state: &mut State, popped: Option<&Arc<str>>) {
    let mut ids: Vec<Arc<str>> = popped.into_iter().cloned().collect();
    ids.extend(unloaded(state, None, LOAD_AHEAD, None).0);
    load(inner, state, &ids);
}

/// While nothing is to be claimed before `next_claim`, loads the jobs due by
/// [`PRELOAD_HORIZON`] after it that are not loaded yet, [`LOAD_AHEAD`] to a store call, so
/// that a process that starts (or re-divides its jobs) before a busy second does not read
/// them during it (50,000 jobs due in the first second after a start: that second's fires
/// were up to 70 ms late while it read the 34,000 a look of 16,384 entries left). Stops
/// [`PRELOAD_STOP`] before `next_claim` (or before a claim of a job added meanwhile, claimed
/// `ahead`), at a stop, and when a call loads nothing.
fn preload(inner: &Inner, next_claim: Option<DateTime<Utc>>, ahead: Duration) {
    let Some(mut next_claim) = next_claim else {
        return;
    };
    let until = Some(next_claim + PRELOAD_HORIZON);
    let mut after = None;
    loop {
        let mut state = lock(&inner.state);
        if let Some((due, ..)) = state.queue.first() {
            next_claim = next_claim.min(*due - ahead);
        }
        let near = next_claim - inner.clock.now() < PRELOAD_STOP;
        if near || state.paused || !inner.may_claim() || inner.stop.is_cancelled() {
            return;
        }
        let (ids, last) = unloaded(&state, after.as_ref(), PRELOAD_SCAN, until);
        if !ids.is_empty() && load(inner, &mut state, &ids) == 0 {
            return;
        }
        match last {
            Some(last) => after = Some(last),
            None => return,
        }
    }
}

/// The jobs not loaded yet, [`LOAD_AHEAD`] at most, among the next `scan` entries of the
/// due-set after `after` (from its start without) that are due by `until` (if given); and
/// the last entry looked at, to look on after, `None` when none is left.
fn unloaded(
    state: &State,
    after: Option<&DueEntry>,
    scan: usize,
    until: Option<DateTime<Utc>>,
) -> (Vec<Arc<str>>, Option<DueEntry>) {
    let entries = match after {
        Some(after) => state
            .queue
            .range((Bound::Excluded(after.clone()), Bound::Unbounded)),
        None => state.queue.range(..),
    };
    let mut ids = Vec::new();
    let mut looked: Option<&DueEntry> = None;
    for (i, entry) in entries
        .take_while(|(due, ..)| until.is_none_or(|until| *due <= until))
        .enumerate()
    {
        if i == scan || ids.len() == LOAD_AHEAD {
            return (ids, looked.cloned());
        }
        looked = Some(entry);
        if state.slots.get(&entry.2).is_some_and(|s| s.job.is_none()) {
            ids.push(entry.2.clone());
        }
    }
    (ids, None)
}

/// Loads jobs `ids` into their slots in one store call; returns how many it loaded. What
/// it misses (a job gone, a failed read) is left to the lone load when the job is due.
fn load(inner: &Inner, state: &mut State, ids: &[Arc<str>]) -> usize {
    match inner.store.shared_jobs(ids) {
        Ok(jobs) => {
            let loaded = jobs.len();
            for job in jobs {
                if let Some(slot) = state.slots.get_mut(job.id.as_str()) {
                    slot.job.get_or_insert(job);
                }
            }
            loaded
        }
        Err(e) => {
            tracing::debug!("cannot load {} jobs at once: {e}", ids.len());
            0
        }
    }
}

/// A run record that is final from the start (missed or skipped).
fn final_record(job: &Job, fire: DateTime<Utc>, state: RunState, now: DateTime<Utc>) -> RunRecord {
    let mut run = RunRecord::new(0, &job.id, fire, state);
    run.finished = Some(now);
    run
}

/// Claims what a dispatch pass planned, then announces and starts the runs of the claims won;
/// a lost claim puts its job back at the fire time the store holds. False when the store
/// refused the claims (each job is then tried again in a second).
fn apply(inner: &Arc<Inner>, batch: Batch, now: DateTime<Utc>) -> bool {
    if batch.claims.is_empty() {
        return true;
    }
    let claims = match inner.store.claim(&inner.node_id, now, batch.claims) {
        Ok(claims) => claims,
        Err(e) => {
            tracing::error!("cannot claim due fire times: {e}; retrying in a second");
            let mut guard = lock(&inner.state);
            let state = &mut *guard;
            for p in &batch.planned {
                p.counters.active.fetch_sub(p.counted, Ordering::AcqRel);
                let id: Arc<str> = p.job.id.as_str().into();
                if let Some(slot) = state.slots.get_mut(&id) {
                    slot.claiming = false;
                    // The fire time stays the job's own; only the attempt to claim it moves.
                    let retry = (now + Duration::seconds(1), p.fire);
                    if slot.due == p.due {
                        place(&mut state.queue, slot, &id, Some(retry));
                    }
                }
            }
            return false;
        }
    };
    let listening = inner.bus.has_listeners();
    let mut events = Vec::new();
    let mut submissions = Vec::new();
    let mut later = Vec::new();
    let mut won = Vec::with_capacity(claims.len());
    let mut lost = Vec::new();
    for (claim, p) in claims.into_iter().zip(batch.planned) {
        if claim.outcome != ClaimOutcome::Won {
            p.counters.active.fetch_sub(p.counted, Ordering::AcqRel);
            lost.push((claim.job_id, claim.outcome, p.due));
            continue;
        }
        won.push(claim.job_id);
        let mut started = 0;
        for run in claim.runs {
            if listening {
                events.push(match run.state {
                    RunState::Submitted => Event::RunSubmitted(RunRef::of(&run)),
                    RunState::Missed => Event::RunMissed(RunRef::of(&run)),
                    _ => Event::RunSkipped(RunRef::of(&run)),
                });
            }
            if run.state == RunState::Submitted {
                started += 1;
                let submission = Submission {
                    run,
                    job: p.job.clone(),
                    counters: p.counters.clone(),
                    options: p.options.clone(),
                };
                match p.start {
                    Some(at) => later.push((at, submission)),
                    None => submissions.push(submission),
                }
            }
        }
        // Runs the store turned skipped (other nodes' runs count too) or dropped free their place.
        p.counters
            .active
            .fetch_sub(p.counted.saturating_sub(started), Ordering::AcqRel);
    }
    {
        let mut state = lock(&inner.state);
        for id in &won {
            if let Some(slot) = state.slots.get_mut(id) {
                slot.claiming = false;
            }
        }
        for (id, outcome, planned_due) in lost {
            requeue_lost(&mut state, &id, outcome, planned_due);
        }
    }
    // A run waiting for its start can be cancelled as soon as it is announced.
    inner.queue_tokens(later.iter().map(|(_, s)| s.run.id));
    for event in events {
        inner.bus.emit(now, event);
    }
    executor::submit(inner, submissions);
    start_later(inner, later);
    true
}

/// Why a run claimed ahead did not start: shutdown's grace ended first.
const SHUT_DOWN_FIRST: &str = "the scheduler shut down before it started";

/// Submits runs claimed ahead of their start, each at it, unless stopped meanwhile (see
/// [`unless_stopped`]); shutdown waits for them (see [`Scheduler::shutdown`]).
///
/// [`Scheduler::shutdown`]: super::Scheduler::shutdown
fn start_later(inner: &Arc<Inner>, mut runs: Vec<(tokio::time::Instant, Submission)>) {
    if runs.is_empty() {
        return;
    }
    runs.sort_by_key(|(at, _)| *at);
    let runtime = inner.runtime.get_or_init(tokio::runtime::Handle::current);
    let task_inner = inner.clone();
    let task = async move {
        let mut runs = runs.into_iter().peekable();
        while let Some(&(at, _)) = runs.peek() {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = task_inner.hurry.cancelled() => {
                    for (_, s) in runs {
                        executor::cancel(&task_inner, s, SHUT_DOWN_FIRST);
                    }
                    return;
                }
            }
            let now = tokio::time::Instant::now();
            let due = std::iter::from_fn(|| runs.next_if(|(at, _)| *at <= now).map(|(_, s)| s));
            let due = unless_stopped(&task_inner, due.collect());
            executor::submit(&task_inner, due);
        }
    };
    inner.starting.spawn_on(task, runtime);
}

/// Runs about to start, less those whose job was removed or paused since the claim (or the
/// scheduler paused): as for a fire not claimed yet, those do not start, and are recorded
/// cancelled.
fn unless_stopped(inner: &Arc<Inner>, runs: Vec<Submission>) -> Vec<Submission> {
    let mut go = Vec::with_capacity(runs.len());
    let mut stopped = Vec::new();
    {
        let state = lock(&inner.state);
        for s in runs {
            let why = match state.slots.get(s.job.id.as_str()) {
                _ if state.paused => "the scheduler was paused before it started",
                None => "its job was removed before it started",
                Some(slot) if slot.paused => "its job was paused before it started",
                Some(_) => {
                    go.push(s);
                    continue;
                }
            };
            stopped.push((why, s));
        }
    }
    for (why, s) in stopped {
        executor::cancel(inner, s, why);
    }
    go
}

/// Puts a job whose claim was lost back at the store's next fire time, unless the slot was
/// changed since the claim was planned.
fn requeue_lost(
    state: &mut super::State,
    id: &Arc<str>,
    outcome: ClaimOutcome,
    planned_due: Option<(DateTime<Utc>, DateTime<Utc>)>,
) {
    let Some(slot) = state.slots.get_mut(id) else {
        return;
    };
    slot.claiming = false;
    if slot.due != planned_due {
        return;
    }
    match outcome {
        ClaimOutcome::Lost { next_run, paused } => {
            slot.paused = paused;
            // The definition may have changed with it: load it afresh at the next fire.
            slot.job = None;
            place(&mut state.queue, slot, id, next_run.map(|t| (t, t)));
        }
        _ => {
            place(&mut state.queue, slot, id, None);
            state.slots.remove(id);
        }
    }
}

/// Submits a run of `job` for `now` outside its schedule (with `params`, for a run by hand),
/// its record committed first;
/// `Ok(None)` when max instances are active (on this node or, counting every node, in the
/// store) or the job is gone.
pub(super) fn submit_now(
    inner: &Arc<Inner>,
    job: Arc<Job>,
    now: DateTime<Utc>,
    upstream: Option<i64>,
    params: Option<Box<RunParams>>,
) -> Result<Option<i64>, crate::store::StoreError> {
    let options = job.options.resolve(&inner.defaults());
    let counters = {
        let mut state = lock(&inner.state);
        // Without a slot (a scheduler that was not started, as in `kairos job run`), make one.
        let slot = state.slots.entry(job.id.as_str().into()).or_default();
        if slot.active() >= options.max_instances {
            return Ok(None);
        }
        slot.counters().active.fetch_add(1, Ordering::AcqRel);
        slot.counters().clone()
    };
    let mut run = RunRecord::new(0, &job.id, now, RunState::Submitted);
    run.manual = true;
    run.upstream = upstream.and_then(std::num::NonZeroI64::new);
    run.params = params;
    let max = options.max_instances;
    start_unscheduled(inner, job, options, counters, run, max, now)
}

/// Inserts `run` (a manual run or a retry, in state `submitted`) and starts it once committed,
/// counted in `counters.active` already; `Ok(None)` when the store turned it skipped
/// (`max_instances` unfinished runs across nodes) or the job is gone, and the count is freed.
pub(crate) fn start_unscheduled(
    inner: &Arc<Inner>,
    job: Arc<Job>,
    options: EffectiveOptions,
    counters: Arc<RunCounters>,
    run: RunRecord,
    max_instances: u32,
    now: DateTime<Utc>,
) -> Result<Option<i64>, crate::store::StoreError> {
    let run = match insert_run(inner, run, max_instances, now) {
        Ok(run) => run,
        Err(e) => {
            counters.active.fetch_sub(1, Ordering::AcqRel);
            return Err(e);
        }
    };
    let Some(run) = run else {
        counters.active.fetch_sub(1, Ordering::AcqRel);
        return Ok(None);
    };
    let id = run.id;
    inner
        .bus
        .emit_with(now, || Event::RunSubmitted(RunRef::of(&run)));
    let s = Submission {
        run,
        job,
        counters,
        options,
    };
    executor::submit(inner, vec![s]);
    Ok(Some(id))
}

impl Inner {
    /// Called by a run's task when it ends: frees its instance and prunes history now and then.
    pub(crate) fn run_finished(&self, job: &Job, counters: &RunCounters, now: DateTime<Utc>) {
        counters.active.fetch_sub(1, Ordering::AcqRel);
        let finished = counters
            .finished
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1);
        self.prune_if_due(job, counters, finished, now);
    }
}

/// Inserts a new `submitted` run outside the schedule (committed when it returns); `None` when
/// the store turned it skipped or dropped it, or the job is gone.
pub(crate) fn insert_run(
    inner: &Inner,
    run: RunRecord,
    max_instances: u32,
    now: DateTime<Utc>,
) -> Result<Option<RunRecord>, crate::store::StoreError> {
    let claim = Claim::insert(&run.job_id.clone(), vec![run], max_instances);
    Ok(inner
        .store
        .claim(&inner.node_id, now, vec![claim])?
        .pop()
        .filter(|c| c.outcome == ClaimOutcome::Won)
        .and_then(|mut c| c.runs.pop())
        .filter(|r| r.state == RunState::Submitted))
}
