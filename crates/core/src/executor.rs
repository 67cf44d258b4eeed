//! Executor pools: named concurrency bounds, and the life of one run inside them — start,
//! timeout, retries, and the record and events of each attempt.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use crate::action::{ActionContext, ActionOutput};
use crate::events::{Event, RunRef};
use crate::history::{RunRecord, RunState};
use crate::job::{EffectiveOptions, Job, DEFAULT_POOL};
use crate::scheduler::SchedulerInner;

/// The executor pools by name, each a semaphore sized to its concurrency bound.
pub(crate) struct Pools {
    pools: Mutex<HashMap<String, (usize, Arc<Semaphore>)>>,
}

impl Pools {
    /// Pools with the given sizes.
    pub(crate) fn new(sizes: &BTreeMap<String, usize>) -> Self {
        let pools = Pools {
            pools: Mutex::new(HashMap::new()),
        };
        pools.resize(sizes);
        pools
    }

    /// Applies new sizes: grown pools get permits at once, shrunk ones as runs finish.
    pub(crate) fn resize(&self, sizes: &BTreeMap<String, usize>) {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        for (name, size) in sizes {
            match pools.get_mut(name) {
                Some((old, sem)) if *old < *size => {
                    sem.add_permits(*size - *old);
                    *old = *size;
                }
                Some((old, sem)) if *old > *size => {
                    sem.forget_permits(*old - *size);
                    *old = *size;
                }
                Some(_) => {}
                None => {
                    pools.insert(name.clone(), (*size, Arc::new(Semaphore::new(*size))));
                }
            }
        }
    }

    fn get(&self, name: &str) -> Arc<Semaphore> {
        let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools
            .get(name)
            .or_else(|| pools.get(DEFAULT_POOL))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| Arc::new(Semaphore::new(1)))
    }
}

/// A run handed to its pool.
pub(crate) struct Submission {
    /// Its record, in state `submitted`.
    pub run: RunRecord,
    /// The job's definition at submission.
    pub job: Arc<Job>,
    /// The job's options with defaults applied.
    pub options: EffectiveOptions,
}

/// Starts the run's task: wait for a pool slot, then run attempts until one succeeds or the
/// retries are spent.
pub(crate) fn spawn(inner: &Arc<SchedulerInner>, s: Submission) {
    let task_inner = inner.clone();
    inner.tasks.spawn(async move {
        let inner = task_inner;
        let pool = inner.pools.get(&s.job.pool);
        let permit = tokio::select! {
            p = pool.acquire_owned() => p.ok(),
            _ = inner.cancel_runs.cancelled() => None,
        };
        let job = s.job.clone();
        if permit.is_some() {
            run_attempts(&inner, s).await;
        } else {
            let mut run = s.run;
            run.state = RunState::Cancelled;
            run.error = Some("cancelled before it started".into());
            finish(&inner, run, RunState::Cancelled);
        }
        inner.run_finished(&job, inner.clock.now());
    });
}

async fn run_attempts(inner: &Arc<SchedulerInner>, s: Submission) {
    let mut run = s.run;
    loop {
        let state = attempt(inner, &s.job, &s.options, &mut run).await;
        let retry = matches!(state, RunState::Failed | RunState::TimedOut)
            && run.attempt <= s.options.retries.count;
        finish(inner, run.clone(), state);
        if !retry {
            return;
        }
        let delay = s
            .options
            .retries
            .delay(run.attempt)
            .to_std()
            .unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = inner.cancel_runs.cancelled() => return,
        }
        let next_attempt = run.attempt + 1;
        run = RunRecord::new(
            inner.store.next_run_id(),
            &s.job.id,
            run.scheduled,
            RunState::Submitted,
        );
        run.attempt = next_attempt;
    }
}

/// One attempt: record the start, run the action under the timeout, fill in the outcome.
async fn attempt(
    inner: &Arc<SchedulerInner>,
    job: &Job,
    options: &EffectiveOptions,
    run: &mut RunRecord,
) -> RunState {
    let started = inner.clock.now();
    run.started = Some(started);
    run.state = RunState::Running;
    let lateness_us = (started - run.scheduled)
        .num_microseconds()
        .unwrap_or(i64::MAX)
        .max(0);
    inner.stats.record_start(lateness_us as u64);
    inner.store.record_runs(vec![run.clone()]);
    inner.bus.emit(started, Event::RunStarted(RunRef::of(run)));

    let cancel = inner.cancel_runs.child_token();
    let ctx = ActionContext {
        cancel: cancel.clone(),
        ..inner.context.clone()
    };
    let action = job.action.run(&ctx);
    tokio::pin!(action);
    let (output, timed_out) = match options.timeout.and_then(|t| t.to_std().ok()) {
        Some(limit) => tokio::select! {
            out = &mut action => (out, false),
            _ = tokio::time::sleep(limit) => {
                cancel.cancel();
                (action.await, true)
            }
        },
        None => ((&mut action).await, false),
    };
    if let Some(sample) = output.sample.clone() {
        inner.store.record_metric(sample);
    }
    let state = if timed_out {
        RunState::TimedOut
    } else if cancel.is_cancelled() {
        RunState::Cancelled
    } else if output.success {
        RunState::Succeeded
    } else {
        RunState::Failed
    };
    fill(run, output, state, options, timed_out);
    state
}

fn fill(
    run: &mut RunRecord,
    out: ActionOutput,
    state: RunState,
    options: &EffectiveOptions,
    timed_out: bool,
) {
    run.exit_code = out.exit_code;
    run.http_status = out.http_status;
    run.stdout = out.stdout;
    run.stderr = out.stderr;
    run.error = if timed_out {
        let limit = options.timeout.map_or(0, |t| t.num_seconds());
        Some(format!("timed out after {limit} s"))
    } else {
        out.error
    };
    run.state = state;
}

/// Records the end of a run and announces it.
fn finish(inner: &SchedulerInner, mut run: RunRecord, state: RunState) {
    let now: DateTime<Utc> = inner.clock.now();
    run.finished = Some(now);
    run.state = state;
    let r = RunRef::of(&run);
    inner.store.record_runs(vec![run]);
    let event = match state {
        RunState::Succeeded => Event::RunSucceeded(r),
        RunState::TimedOut => Event::RunTimedOut(r),
        RunState::Cancelled => Event::RunCancelled(r),
        _ => Event::RunFailed(r),
    };
    inner.bus.emit(now, event);
}
