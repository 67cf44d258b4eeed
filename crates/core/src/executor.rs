//! Executor pools: named concurrency bounds, each a queue served by as many worker tasks as
//! the pool allows, and the life of one run inside them — start, timeout, retries, and the
//! record and events of each attempt.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::action::{ActionContext, ActionOutput};
use crate::events::{Event, RunRef};
use crate::history::{RunRecord, RunState, ThinStr};
use crate::job::{EffectiveOptions, Job, DEFAULT_POOL};
use crate::scheduler::{insert_run, RunCounters, SchedulerInner};
use crate::FastMap;

/// One pool's queue, shared by its workers.
struct Queue {
    receiver: async_channel::Receiver<Submission>,
    /// Workers alive.
    workers: AtomicUsize,
    /// Workers asked to stop after their current run (the pool shrank).
    retire: AtomicUsize,
}

struct Pool {
    size: usize,
    sender: async_channel::Sender<Submission>,
    queue: Arc<Queue>,
}

#[derive(Default)]
struct PoolsState {
    sizes: BTreeMap<String, usize>,
    pools: FastMap<String, Pool>,
    closed: bool,
}

/// The executor pools by name.
pub(crate) struct Pools(Mutex<PoolsState>);

fn lock(p: &Pools) -> MutexGuard<'_, PoolsState> {
    p.0.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pools {
    /// Pools with the given sizes; workers start with the first run.
    pub(crate) fn new(sizes: &BTreeMap<String, usize>) -> Self {
        Pools(Mutex::new(PoolsState {
            sizes: sizes.clone(),
            ..Default::default()
        }))
    }

    /// Applies new sizes: grown pools get workers with their next run, shrunk ones lose
    /// workers as their runs finish.
    pub(crate) fn resize(&self, sizes: &BTreeMap<String, usize>) {
        let mut state = lock(self);
        for (name, pool) in &mut state.pools {
            let size = sizes.get(name).copied().unwrap_or(1);
            if size < pool.size {
                pool.queue
                    .retire
                    .fetch_add(pool.size - size, Ordering::AcqRel);
            }
            pool.size = size;
        }
        state.sizes = sizes.clone();
    }

    /// Stops taking runs: workers finish what is queued and exit.
    pub(crate) fn close(&self) {
        let mut state = lock(self);
        state.closed = true;
        state.pools.clear();
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
    /// The job's run counts, released when the run ends.
    pub counters: Arc<RunCounters>,
}

/// Queues runs in their jobs' pools (the default pool for a pool that is gone).
pub(crate) fn submit(inner: &Arc<SchedulerInner>, runs: Vec<Submission>) {
    if runs.is_empty() {
        return;
    }
    let runtime = inner.runtime.get_or_init(tokio::runtime::Handle::current);
    // Queued runs can be cancelled before they start: their tokens exist from now on.
    inner.queue_tokens(runs.iter().map(|s| s.run.id));
    let mut refused = Vec::new();
    {
        let mut state = lock(&inner.pools);
        for s in runs {
            if state.closed {
                refused.push((s, "the scheduler is shutting down"));
                continue;
            }
            let name = if state.sizes.contains_key(&s.job.pool) {
                s.job.pool.as_str()
            } else {
                DEFAULT_POOL
            };
            let size = state.sizes.get(name).copied().unwrap_or(1);
            if !state.pools.contains_key(name) {
                let (sender, receiver) = async_channel::unbounded();
                let queue = Queue {
                    receiver,
                    workers: AtomicUsize::new(0),
                    retire: AtomicUsize::new(0),
                };
                state.pools.insert(
                    name.to_string(),
                    Pool {
                        size,
                        sender,
                        queue: Arc::new(queue),
                    },
                );
            }
            let pool = &state.pools[name];
            while pool.queue.workers.load(Ordering::Acquire) < pool.size {
                pool.queue.workers.fetch_add(1, Ordering::AcqRel);
                inner
                    .tasks
                    .spawn_on(worker(inner.clone(), pool.queue.clone()), runtime);
            }
            if let Err(e) = pool.sender.try_send(s) {
                refused.push((e.into_inner(), "the pool is gone"));
            }
        }
    }
    for (s, why) in refused {
        cancel(inner, s, why);
    }
}

/// Takes runs off the queue one at a time until the pool closes or shrinks.
async fn worker(inner: Arc<SchedulerInner>, queue: Arc<Queue>) {
    loop {
        let retire = queue.retire.load(Ordering::Acquire);
        if retire > 0
            && queue
                .retire
                .compare_exchange(retire, retire - 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            break;
        }
        let Ok(s) = queue.receiver.recv().await else {
            break;
        };
        if inner.cancelling_all() {
            cancel(&inner, s, "cancelled before it started");
        } else {
            run(&inner, s).await;
        }
    }
    queue.workers.fetch_sub(1, Ordering::AcqRel);
}

/// Records a run that never started as cancelled.
pub(crate) fn cancel(inner: &Arc<SchedulerInner>, s: Submission, why: &str) {
    let mut run = s.run;
    run.error = Some(why.into());
    inner.run_ended(run.id);
    let state = shut_out(inner, &mut run, RunState::Cancelled);
    let step = step_of(&run);
    let (id, now) = (run.id, finish(inner, run, state));
    ended(inner, &s.job, &s.counters, id, step, state, now);
}

/// Why a workflow step's run stopped by shutdown is abandoned.
pub(crate) const SHUT_DOWN: &str = "the scheduler shut down before it ended";

/// A workflow step's run cancelled by shutdown, not by anyone's wish, is abandoned: its
/// workflow runs it again when it resumes. Other runs keep `state`.
fn shut_out(inner: &SchedulerInner, run: &mut RunRecord, state: RunState) -> RunState {
    if state != RunState::Cancelled || run.step.is_none() || !inner.stop.is_cancelled() {
        return state;
    }
    run.error = Some(SHUT_DOWN.into());
    RunState::Abandoned
}

/// A step's workflow run and its id, for a workflow step's run.
fn step_of(run: &RunRecord) -> Option<(i64, ThinStr)> {
    Some((run.upstream?.get(), run.step.clone()?))
}

/// A run ended for good: frees its instance, then starts its followers, or for a workflow's
/// step, the workflow's next steps.
fn ended(
    inner: &Arc<SchedulerInner>,
    job: &Job,
    counters: &RunCounters,
    id: i64,
    step: Option<(i64, ThinStr)>,
    state: RunState,
    finished: DateTime<Utc>,
) {
    match step {
        // Not the job's run: its history is pruned when the workflow's run ends.
        Some((workflow, step)) => {
            counters.active.fetch_sub(1, Ordering::AcqRel);
            inner.step_ended(workflow, &step, id, state);
        }
        None => {
            inner.run_finished(job, counters, finished);
            inner.follow(job, id, state);
        }
    }
}

/// Runs one attempt; a failure with retries left is queued again after its backoff.
async fn run(inner: &Arc<SchedulerInner>, s: Submission) {
    let Submission {
        mut run,
        job,
        options,
        counters,
    } = s;
    let token = inner.run_token(run.id);
    if token.is_cancelled() {
        let s = Submission {
            run,
            job,
            options,
            counters,
        };
        return cancel(inner, s, "cancelled before it started");
    }
    if let crate::action::Action::Workflow(_) = job.action {
        // A workflow holds no worker: its steps are runs of their own.
        let s = Submission {
            run,
            job,
            options,
            counters,
        };
        return inner.start_workflow(s);
    }
    let state = attempt(inner, &job, &options, &mut run, token).await;
    inner.run_ended(run.id);
    let state = shut_out(inner, &mut run, state);
    let (id, attempt_no, scheduled, manual) = (run.id, run.attempt, run.scheduled, run.manual);
    let step = step_of(&run);
    let upstream = run.upstream;
    let params = run.params.clone();
    let finished = finish(inner, run, state);
    let retry = matches!(state, RunState::Failed | RunState::TimedOut)
        && attempt_no <= options.retries.count;
    if !retry {
        return ended(inner, &job, &counters, id, step, state, finished);
    }
    let delay = options
        .retries
        .delay(attempt_no)
        .to_std()
        .unwrap_or_default();
    let mut next = RunRecord::new(0, &job.id, scheduled, RunState::Submitted);
    next.attempt = attempt_no + 1;
    next.manual = manual;
    next.upstream = upstream;
    next.step = step.as_ref().map(|(_, s)| s.clone());
    next.params = params;
    // Committed before the backoff: if this process dies meanwhile, another takes it over.
    let next = match insert_run(inner, next, u32::MAX, finished) {
        Ok(Some(run)) => run,
        Ok(None) => return ended(inner, &job, &counters, id, step, state, finished),
        Err(e) => {
            tracing::error!("cannot record the retry of job '{}': {e}", job.id);
            return ended(inner, &job, &counters, id, step, state, finished);
        }
    };
    let retry = Submission {
        run: next,
        job,
        options,
        counters,
    };
    let token = inner.run_token(retry.run.id);
    if let Some((workflow, step)) = &step {
        inner.step_retrying(*workflow, step, retry.run.id);
    }
    let task_inner = inner.clone();
    inner.tasks.spawn(async move {
        let inner = task_inner;
        tokio::select! {
            _ = tokio::time::sleep(delay) => submit(&inner, vec![retry]),
            _ = token.cancelled() => cancel(&inner, retry, "cancelled before its retry"),
        }
    });
}

/// A run still going after this long is recorded as running; quicker runs are recorded
/// once, when they end (their submitted record already marks them for crash recovery).
const RECORD_RUNNING_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// One attempt: announce the start, run the action under the timeout and `cancel` (the
/// run's token), fill in the outcome.
async fn attempt(
    inner: &Arc<SchedulerInner>,
    job: &Job,
    options: &EffectiveOptions,
    run: &mut RunRecord,
    cancel: CancellationToken,
) -> RunState {
    let started = inner.clock.now();
    run.started = Some(started);
    run.state = RunState::Running;
    let lateness_us = (started - run.scheduled)
        .num_microseconds()
        .unwrap_or(i64::MAX)
        .max(0);
    inner.stats.record_start(lateness_us as u64);
    inner
        .bus
        .emit_with(started, || Event::RunStarted(RunRef::of(run)));

    let deadline = options
        .timeout
        .and_then(|t| t.to_std().ok())
        .map(|t| tokio::time::Instant::now() + t);
    // Field by field: cloning the scheduler's own token would take its lock, twice a run.
    let ctx = &ActionContext {
        cancel,
        functions: inner.context.functions.clone(),
        #[cfg(feature = "monitor")]
        monitor: inner.context.monitor.clone(),
    };
    // Boxed: action futures are large, and a run waiting for its pool should stay small.
    // A step's upstream is its workflow's run, which its environment names instead.
    let step = step_of(run);
    let upstream = match run.upstream.filter(|_| step.is_none()) {
        Some(id) => inner.store.run(id.get()).unwrap_or_else(|e| {
            tracing::warn!("cannot read run {id}, which started run {}: {e}", run.id);
            None
        }),
        None => None,
    };
    // A shell command's output can be read while it runs (see `Scheduler::live_output`).
    let live =
        matches!(job.action, crate::action::Action::Shell(_)).then(|| inner.watch_output(run.id));
    let info = crate::action::RunInfo {
        job_id: &run.job_id,
        job_name: &job.name,
        run_id: run.id,
        scheduled: run.scheduled,
        attempt: run.attempt,
        upstream: upstream.as_ref(),
        step: step.as_ref().map(|(run, step)| (*run, &**step)),
        live: live.as_deref(),
        params: run.params.as_deref(),
    };
    let mut action = Box::pin(job.action.run(ctx, &info));
    // Many actions finish on their first poll; timers are armed only for those that do not.
    let first = std::future::poll_fn(|cx| Poll::Ready(action.as_mut().poll(cx))).await;
    let (mut recorded, mut timed_out) = (false, false);
    let output = match first {
        Poll::Ready(output) => output,
        Poll::Pending => loop {
            tokio::select! {
                out = &mut action => break out,
                _ = tokio::time::sleep(RECORD_RUNNING_AFTER), if !recorded => {
                    inner.store.record_runs(vec![run.clone()]);
                    recorded = true;
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                    if deadline.is_some() && !timed_out => {
                    ctx.cancel.cancel();
                    timed_out = true;
                }
            }
        },
    };
    drop(action);
    if live.is_some() {
        inner.unwatch_output(run.id);
    }
    if let Some(sample) = output.sample.clone() {
        // Samples are kept as long as the monitor job's run history.
        let cutoff = sample.at - chrono::Duration::days(options.retention.max_age_days.into());
        inner.store.record_metric(sample);
        inner.store.prune_metrics(cutoff);
    }
    let state = if timed_out {
        RunState::TimedOut
    } else if output.success {
        RunState::Succeeded
    } else if ctx.cancel.is_cancelled() {
        RunState::Cancelled
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
    run.stdout = out.stdout.into();
    run.stderr = out.stderr.into();
    run.usage = out.usage;
    run.error = if timed_out {
        let limit = options.timeout.map_or(0, |t| t.num_seconds());
        Some(format!("timed out after {limit} s").into())
    } else {
        out.error.map(Into::into)
    };
    run.state = state;
}

/// Records the end of a run and announces it; returns the time it finished.
pub(crate) fn finish(inner: &SchedulerInner, mut run: RunRecord, state: RunState) -> DateTime<Utc> {
    let now: DateTime<Utc> = inner.clock.now();
    run.finished = Some(now);
    run.state = state;
    // Recorded before it is announced: a listener that reads the run finds it finished.
    let reference = inner.bus.has_listeners().then(|| RunRef::of(&run));
    inner.store.record_runs(vec![run]);
    if let Some(r) = reference {
        inner.bus.emit(
            now,
            match state {
                RunState::Succeeded => Event::RunSucceeded(r),
                RunState::TimedOut => Event::RunTimedOut(r),
                RunState::Cancelled => Event::RunCancelled(r),
                RunState::Abandoned => Event::RunAbandoned(r),
                _ => Event::RunFailed(r),
            },
        );
    }
    now
}
