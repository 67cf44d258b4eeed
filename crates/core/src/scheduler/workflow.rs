//! Workflow runs in flight in this process: each step is a run of its own (its `upstream` the
//! workflow's run, `step` its id), started when the plan (`action::plan`) says so. All a
//! workflow run's state is in the store, so after its node dies the node that takes it over
//! resumes it: finished steps stay finished, interrupted ones run again.

use std::collections::HashMap;
use std::num::NonZeroI64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{lock, Scheduler, SchedulerError, SchedulerInner};
use crate::action::{plan, Action, StepRun, WorkflowAction};
use crate::executor::{self, Submission};
use crate::history::{RunQuery, RunRecord, RunState};
use crate::job::{EffectiveOptions, Job};
use crate::scheduler::RunCounters;
use crate::store::{Claim, ClaimOutcome, StoreError};

/// A workflow run this process carries out.
pub(crate) struct Flight {
    /// The workflow job as it was when the run started.
    job: Arc<Job>,
    /// The job's run counts, released when the workflow ends.
    counters: Arc<RunCounters>,
    /// The workflow's own run.
    run: RunRecord,
    /// Each step's newest run.
    steps: HashMap<String, StepRun>,
    /// Counts the steps' runs, apart from the job's.
    step_counters: Arc<RunCounters>,
    /// Set when the workflow is cancelled or times out: how it ends, and why.
    stopping: Option<(RunState, String)>,
    /// Set when the workflow resumed too late: why its remaining steps are missed.
    late: Option<String>,
    /// Cancelled when the workflow ends (stops its watcher).
    done: CancellationToken,
}

fn workflow(job: &Job) -> Option<&WorkflowAction> {
    match &job.action {
        Action::Workflow(w) => Some(w),
        _ => None,
    }
}

/// A step's run record: a manual run of the workflow job, linked to the workflow's run. Each
/// start of a step (a retried one too) is its first attempt, with its retry policy ahead.
fn step_record(flight: &Flight, step: &str, now: DateTime<Utc>) -> RunRecord {
    let mut run = RunRecord::new(0, &flight.job.id, now, RunState::Submitted);
    run.manual = true;
    run.upstream = NonZeroI64::new(flight.run.id);
    run.step = Some(step.into());
    run
}

impl SchedulerInner {
    /// Starts workflow run `s` (its token exists): records it running and starts its first
    /// steps.
    pub(crate) fn start_workflow(self: &Arc<Self>, s: Submission) {
        let mut run = s.run;
        let now = self.clock.now();
        run.started = Some(now);
        run.state = RunState::Running;
        self.store.record_runs(vec![run.clone()]);
        self.bus.emit_with(now, || {
            crate::events::Event::RunStarted(crate::events::RunRef::of(&run))
        });
        self.fly(s.job, s.options, s.counters, run, HashMap::new(), None);
    }

    /// Takes workflow run `run` on here with its steps' newest runs `steps`, and moves it on;
    /// `false` if it is in flight here already.
    fn fly(
        self: &Arc<Self>,
        job: Arc<Job>,
        options: EffectiveOptions,
        counters: Arc<RunCounters>,
        run: RunRecord,
        steps: HashMap<String, StepRun>,
        late: Option<String>,
    ) -> bool {
        let id = run.id;
        let done = CancellationToken::new();
        let timeout = options.timeout;
        let flight = Flight {
            job,
            counters,
            run,
            steps,
            step_counters: Arc::default(),
            stopping: None,
            late,
            done: done.clone(),
        };
        match lock(&self.flights).entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => return false,
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert(flight),
        };
        // Cancelling the workflow's run, or its timeout, stops it and its running steps.
        let token = self.run_token(id);
        let inner = self.clone();
        let timeout = timeout.and_then(|t| t.to_std().ok());
        let runtime = self.runtime.get_or_init(tokio::runtime::Handle::current);
        let watch = async move {
            let limit = async {
                match timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(limit);
            let secs = timeout.map_or(0, |t| t.as_secs());
            let mut shutting_down = false;
            loop {
                tokio::select! {
                    _ = done.cancelled() => return,
                    // Shutdown: once no step runs, the workflow is let go (see `advance`).
                    _ = inner.stop.cancelled(), if !shutting_down => {
                        shutting_down = true;
                        inner.advance(id);
                    }
                    _ = token.cancelled() => {
                        // Shutdown's cancel after the grace is no one's wish to cancel it.
                        if !inner.cancelling_all() {
                            inner.stop_workflow(id, RunState::Cancelled, "cancelled".into());
                        }
                        return;
                    }
                    _ = &mut limit => {
                        let why = format!("timed out after {secs} s");
                        return inner.stop_workflow(id, RunState::TimedOut, why);
                    }
                }
            }
        };
        self.tasks.spawn_on(watch, runtime);
        self.advance(id);
        true
    }

    /// Step `step`'s run `id` of workflow run `workflow` ended for good in `state`.
    pub(crate) fn step_ended(
        self: &Arc<Self>,
        workflow: i64,
        step: &str,
        id: i64,
        state: RunState,
    ) {
        if let Some(flight) = lock(&self.flights).get_mut(&workflow) {
            flight.steps.insert(step.to_string(), StepRun { id, state });
        }
        self.advance(workflow);
    }

    /// Step `step` of workflow run `workflow` failed and waits to retry as run `id` (whose
    /// token exists): a stop of the workflow now reaches that run.
    pub(crate) fn step_retrying(&self, workflow: i64, step: &str, id: i64) {
        let stopping = match lock(&self.flights).get_mut(&workflow) {
            Some(flight) => {
                let state = RunState::Submitted;
                flight.steps.insert(step.to_string(), StepRun { id, state });
                flight.stopping.is_some()
            }
            None => false,
        };
        if stopping {
            self.cancel_here(id);
        }
    }

    /// Drops every workflow run this process carries out, cancelling their steps and
    /// recording nothing: its lease lapsed, and the nodes that took its runs over resume them.
    pub(super) fn let_go_of_workflows(&self) {
        let flights: Vec<Flight> = lock(&self.flights).drain().map(|(_, f)| f).collect();
        for flight in flights {
            tracing::warn!(
                run = flight.run.id,
                "another node resumes this workflow run"
            );
            self.let_go(&flight);
            for step in flight.steps.values().filter(|r| !r.state.is_final()) {
                self.cancel_here(step.id);
            }
        }
    }

    /// Forgets `flight` here without recording an end (it stays running in the store): its
    /// watcher stops, its instance and its token are freed.
    fn let_go(&self, flight: &Flight) {
        flight.done.cancel();
        flight.counters.active.fetch_sub(1, Ordering::AcqRel);
        self.run_ended(flight.run.id);
    }

    /// Stops workflow run `id`: no step starts any more, running ones are cancelled.
    fn stop_workflow(self: &Arc<Self>, id: i64, state: RunState, why: String) {
        let going: Vec<i64> = {
            let mut flights = lock(&self.flights);
            let Some(flight) = flights.get_mut(&id) else {
                return;
            };
            flight.stopping.get_or_insert((state, why));
            flight
                .steps
                .values()
                .filter(|r| !r.state.is_final())
                .map(|r| r.id)
                .collect()
        };
        for step in going {
            self.cancel_here(step);
        }
        self.advance(id);
    }

    /// Starts, skips or ends what the plan says, until the workflow waits for a step. While
    /// the scheduler shuts down no step starts, and once none runs the workflow is let go,
    /// still running in the store: whichever node starts next resumes it (see `take_over`).
    fn advance(self: &Arc<Self>, id: i64) {
        let (submit, ended) = {
            let mut flights = lock(&self.flights);
            let Some(flight) = flights.get_mut(&id) else {
                return;
            };
            if self.stop.is_cancelled() && flight.stopping.is_none() {
                if flight.steps.values().all(|r| r.state.is_final()) {
                    if let Some(flight) = flights.remove(&id) {
                        tracing::info!(
                            run = id,
                            "leaving the workflow run to resume at the next start"
                        );
                        self.let_go(&flight);
                    }
                }
                return;
            }
            let (submit, end) = self.step_forward(flight);
            (
                submit,
                end.and_then(|end| Some((flights.remove(&id)?, end))),
            )
        };
        if let Some((flight, end)) = ended {
            self.end_workflow(flight, end);
        }
        for s in &submit {
            let r = || crate::events::Event::RunSubmitted(crate::events::RunRef::of(&s.run));
            self.bus.emit_with(s.run.scheduled, r);
        }
        executor::submit(self, submit);
    }

    /// Applies the plan until it waits for a step: the steps to start and, once nothing is
    /// left to run, how the workflow ended.
    fn step_forward(
        &self,
        flight: &mut Flight,
    ) -> (Vec<Submission>, Option<(RunState, Option<String>)>) {
        let mut submit = Vec::new();
        let job = flight.job.clone();
        let Some(wf) = workflow(&job) else {
            return (
                submit,
                Some((RunState::Failed, Some("not a workflow".into()))),
            );
        };
        loop {
            if let Some((state, why)) = &flight.stopping {
                let idle = submit.is_empty() && flight.steps.values().all(|r| r.state.is_final());
                return (submit, idle.then(|| (*state, Some(why.clone()))));
            }
            let latest = flight
                .steps
                .iter()
                .map(|(step, run)| (step.as_str(), *run))
                .collect();
            let next = plan(wf, &latest);
            let now = self.clock.now();
            // Steps that end without running change the plan: plan again after them.
            let mut replan = false;
            for (step, why) in &next.skip {
                self.record_step(flight, *step, RunState::Skipped, why, now);
                replan = true;
            }
            for &step in &next.start {
                let unstarted = match &flight.late {
                    Some(why) => Err((RunState::Missed, why.clone())),
                    None => self
                        .prepare_step(flight, step, now)
                        .map_err(|why| (RunState::Failed, why)),
                };
                match unstarted {
                    Ok(s) => submit.push(s),
                    Err((state, why)) => {
                        self.record_step(flight, step, state, &why, now);
                        replan = true;
                    }
                }
            }
            if !replan {
                return (submit, next.end);
            }
        }
    }

    /// Records step `step` as having ended `state` without running (skipped, missed, or
    /// unable to start); when even that fails, the workflow stops as failed.
    fn record_step(
        &self,
        flight: &mut Flight,
        step: usize,
        state: RunState,
        why: &str,
        now: DateTime<Utc>,
    ) {
        let Some(wf) = workflow(&flight.job) else {
            return;
        };
        let id = wf.steps[step].id.clone();
        let mut run = step_record(flight, &id, now);
        run.state = state;
        run.finished = Some(now);
        run.error = Some(why.into());
        match self.insert_step(run) {
            Ok(run) => {
                let r = crate::events::RunRef::of(&run);
                self.bus.emit_with(now, || match state {
                    RunState::Missed => crate::events::Event::RunMissed(r),
                    RunState::Skipped => crate::events::Event::RunSkipped(r),
                    _ => crate::events::Event::RunFailed(r),
                });
                flight.steps.insert(id, StepRun { id: run.id, state });
            }
            Err(e) => {
                let why = format!("cannot record step '{id}': {e}");
                tracing::error!(run = flight.run.id, "{why}");
                flight.stopping.get_or_insert((RunState::Failed, why));
            }
        }
    }

    /// Inserts a step's run; the store gives it its id.
    fn insert_step(&self, run: RunRecord) -> Result<RunRecord, StoreError> {
        let now = self.clock.now();
        let claim = Claim::insert(&run.job_id.clone(), vec![run], u32::MAX);
        self.store
            .claim(&self.node_id, now, vec![claim])?
            .pop()
            .filter(|c| c.outcome == ClaimOutcome::Won)
            .and_then(|mut c| c.runs.pop())
            .ok_or_else(|| StoreError::Database("the workflow's job is gone".into()))
    }

    /// Inserts step `step`'s next run and what its pool needs, or says why it cannot start.
    fn prepare_step(
        &self,
        flight: &mut Flight,
        step: usize,
        now: DateTime<Utc>,
    ) -> Result<Submission, String> {
        let wf = workflow(&flight.job).ok_or("not a workflow")?;
        let def = &wf.steps[step];
        // A step runs its own action in the workflow's pool, or another job's with its options.
        let mut job = match (&def.action, &def.job) {
            (Some(action), _) => Job {
                action: (**action).clone(),
                then: Vec::new(),
                ..(*flight.job).clone()
            },
            (None, Some(other)) => {
                let other = match self.store.get_job(other) {
                    Ok(Some(job)) => job,
                    Ok(None) => return Err(format!("job '{other}' no longer exists")),
                    Err(e) => return Err(format!("cannot read job '{other}': {e}")),
                };
                if matches!(other.action, Action::Workflow(_)) {
                    return Err(format!("job '{}' is a workflow", other.id));
                }
                Job {
                    id: flight.job.id.clone(),
                    action: other.action,
                    options: other.options,
                    pool: other.pool,
                    ..(*flight.job).clone()
                }
            }
            (None, None) => return Err("the step has nothing to run".into()),
        };
        job.then.clear();
        job.name = format!("{} › {}", flight.job.name, def.id);
        if let Action::Function(f) = &job.action {
            if !self.context.functions.contains(&f.name) {
                return Err(crate::action::unregistered(&f.name));
            }
        }
        // The workflow's timeout bounds the whole: it is no step's own.
        if def.action.is_some() || def.timeout_s.is_some() {
            job.options.timeout_s = def.timeout_s;
        }
        if let Some(r) = &def.retries {
            job.options.retries = Some(*r);
        }
        let options = job.options.resolve(&self.defaults());
        let run = self
            .insert_step(step_record(flight, &def.id, now))
            .map_err(|e| format!("cannot record its run: {e}"))?;
        // Its token exists before the flight is unlocked, so a stop from now on reaches it.
        self.run_token(run.id);
        flight.steps.insert(
            def.id.clone(),
            StepRun {
                id: run.id,
                state: RunState::Submitted,
            },
        );
        flight.step_counters.active.fetch_add(1, Ordering::AcqRel);
        Ok(Submission {
            run,
            job: Arc::new(job),
            options,
            counters: flight.step_counters.clone(),
        })
    }

    /// Records how workflow run `flight` ended and what follows it.
    fn end_workflow(self: &Arc<Self>, flight: Flight, (state, error): (RunState, Option<String>)) {
        flight.done.cancel();
        let mut run = flight.run;
        run.error = error.map(Into::into);
        self.run_ended(run.id);
        let id = run.id;
        let finished = executor::finish(self, run, state);
        self.run_finished(&flight.job, &flight.counters, finished);
        self.follow(&flight.job, id, state);
    }

    /// Resumes workflow run `run`, abandoned by its dead node, here: steps that finished stay
    /// finished, the interrupted ones run again — unless the job's misfire grace time has
    /// passed since the node was last heard of (`last_heard`, else the workflow's last sign of
    /// life in its runs), when they are marked missed. `false` when it cannot resume here (it
    /// stays abandoned).
    pub(super) fn resume_workflow(
        self: &Arc<Self>,
        run: &RunRecord,
        last_heard: Option<DateTime<Utc>>,
    ) -> bool {
        let Some(job) = self.workflow_job(run) else {
            return false;
        };
        let history = match self.step_history(run.id) {
            Ok(history) => history,
            Err(e) => {
                tracing::error!("cannot read the steps of workflow run {}: {e}", run.id);
                return false;
            }
        };
        let dead_since = last_heard.unwrap_or_else(|| {
            // An abandoned run's end is when it was taken over, not a sign of life.
            let times = history.iter().flat_map(|r| {
                let finished = r.finished.filter(|_| r.state != RunState::Abandoned);
                [r.started, finished]
            });
            times
                .flatten()
                .chain(run.started)
                .max()
                .unwrap_or(run.scheduled)
        });
        let options = job.options.resolve(&self.defaults());
        let now = self.clock.now();
        let late = options
            .misfire_grace_time
            .filter(|grace| now - dead_since > *grace)
            .map(|grace| {
                format!(
                    "missed: the workflow resumed {} s after its node died, past its misfire \
                     grace time of {} s",
                    (now - dead_since).num_seconds(),
                    grace.num_seconds()
                )
            });
        tracing::info!(run = run.id, job = %job.id, "resuming a workflow run its node left");
        self.reopen(job, options, run.clone(), newest_per_step(history), late)
    }

    /// Runs the workflow run `run` again here, from `steps`; `false` if it runs here already.
    fn reopen(
        self: &Arc<Self>,
        job: Arc<Job>,
        options: EffectiveOptions,
        mut run: RunRecord,
        steps: HashMap<String, StepRun>,
        late: Option<String>,
    ) -> bool {
        if lock(&self.flights).contains_key(&run.id) {
            return false;
        }
        let counters = {
            let mut state = lock(&self.state);
            let slot = state.slots.entry(job.id.as_str().into()).or_default();
            slot.counters().active.fetch_add(1, Ordering::AcqRel);
            slot.counters().clone()
        };
        run.state = RunState::Running;
        run.started.get_or_insert(self.clock.now());
        run.finished = None;
        run.error = None;
        run.node = Some(self.node_id.clone());
        self.store.record_runs(vec![run.clone()]);
        let now = self.clock.now();
        self.bus.emit_with(now, || {
            crate::events::Event::RunStarted(crate::events::RunRef::of(&run))
        });
        let flying = self.fly(job, options, counters.clone(), run, steps, late);
        if !flying {
            counters.active.fetch_sub(1, Ordering::AcqRel);
        }
        flying
    }

    /// The workflow job of workflow run `run`, if this process may run it.
    fn workflow_job(&self, run: &RunRecord) -> Option<Arc<Job>> {
        match self.store.get_job(&run.job_id) {
            Ok(Some(job)) if workflow(&job).is_some() && self.may_run(&job) => Some(Arc::new(job)),
            Ok(_) => None,
            Err(e) => {
                tracing::error!("cannot load job '{}' of run {}: {e}", run.job_id, run.id);
                None
            }
        }
    }

    /// Every step run of workflow run `id`, newest first, from the store.
    fn step_history(&self, id: i64) -> Result<Vec<RunRecord>, StoreError> {
        self.store.flush()?;
        let query = RunQuery {
            upstream: Some(id),
            limit: usize::MAX,
            ..Default::default()
        };
        self.store.runs(&query)
    }
}

/// Each step's newest run in `history` (newest first). A run left unfinished that this
/// process does not hold (its end was lost) counts as abandoned: the step runs again.
fn newest_per_step(history: Vec<RunRecord>) -> HashMap<String, StepRun> {
    let mut steps = HashMap::new();
    for run in history {
        if let Some(step) = run.step {
            let state = if run.state.is_final() {
                run.state
            } else {
                RunState::Abandoned
            };
            steps
                .entry(step.to_string())
                .or_insert(StepRun { id: run.id, state });
        }
    }
    steps
}

impl Scheduler {
    /// Refuses a workflow step naming a job that does not exist or is a workflow itself;
    /// `batch` holds jobs being added alongside it.
    pub(super) fn check_steps(&self, job: &Job, batch: &[Job]) -> Result<(), SchedulerError> {
        let Some(wf) = workflow(job) else {
            return Ok(());
        };
        for (i, step) in wf.steps.iter().enumerate() {
            let Some(other) = &step.job else {
                continue;
            };
            let found = match batch.iter().find(|j| j.id == *other) {
                Some(j) => Some(j.clone()),
                None => self.inner.store.get_job(other)?,
            };
            let field = format!("action.steps[{i}].job");
            match found {
                None => return Err(super::invalid(&field, format!("no job with id '{other}'"))),
                Some(j) if workflow(&j).is_some() || j.id == job.id => {
                    return Err(super::invalid(
                        &field,
                        format!("job '{other}' is a workflow: a step runs a job that is not one"),
                    ))
                }
                // Its steps run where the workflow runs: it must be pinned there too.
                Some(j) if !j.node_labels.iter().all(|l| job.node_labels.contains(l)) => {
                    return Err(super::invalid(
                        &field,
                        format!(
                            "job '{other}' runs only on nodes labelled {}: give the workflow \
                             those node labels too",
                            j.node_labels.join(", ")
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Runs step run `id`'s step again, and the steps after it, in its workflow run, which
    /// must have ended; returns the workflow's run, running again.
    pub fn retry_step(&self, id: i64) -> Result<RunRecord, SchedulerError> {
        let inner = &self.inner;
        // Two retries at once could both find the workflow ended and both run it on.
        let _one = lock(&inner.retrying);
        let conflict = |m: String| Err(SchedulerError::Conflict(m));
        let run = inner.store.run(id)?.ok_or(SchedulerError::NoRun(id))?;
        let (Some(step), Some(wf_id)) = (run.step.as_deref(), run.upstream) else {
            return conflict(format!("run {id} is not a workflow step's run"));
        };
        let wf_run = inner
            .store
            .run(wf_id.get())?
            .ok_or(SchedulerError::NoRun(wf_id.get()))?;
        if wf_run.state == RunState::Cancelled {
            return conflict(format!(
                "workflow run {} was cancelled: run the workflow again instead",
                wf_run.id
            ));
        }
        if !wf_run.state.is_final() {
            return conflict(format!(
                "workflow run {} is still {}: retry the step once it has ended",
                wf_run.id,
                wf_run.state.as_str()
            ));
        }
        let Some(job) = inner.workflow_job(&wf_run) else {
            return conflict(format!(
                "job '{}' is no longer a workflow this process can run",
                wf_run.job_id
            ));
        };
        if lock(&inner.flights).contains_key(&wf_run.id) {
            return conflict(format!(
                "workflow run {} is running again already",
                wf_run.id
            ));
        }
        if workflow(&job).and_then(|w| w.step(step)).is_none() {
            return conflict(format!("the workflow no longer has a step '{step}'"));
        }
        let mut steps = newest_per_step(inner.step_history(wf_run.id)?);
        let newest = steps.get(step).map(|r| r.id);
        if newest != Some(id) {
            return conflict(format!(
                "run {id} is not step '{step}''s newest run ({})",
                newest.map_or("none".into(), |n| n.to_string())
            ));
        }
        if run.state == RunState::Skipped {
            return conflict(format!(
                "step '{step}' was skipped: retry the step before it"
            ));
        }
        // Forgotten here, the step starts again once the steps before it are done — they are.
        steps.remove(step);
        // Heartbeats, so other nodes leave what this process runs alone.
        inner.keep_alive()?;
        let options = job.options.resolve(&inner.defaults());
        if !inner.reopen(job, options, wf_run.clone(), steps, None) {
            return conflict(format!(
                "workflow run {} is running again already",
                wf_run.id
            ));
        }
        inner.store.flush()?;
        Ok(inner.store.run(wf_run.id)?.unwrap_or(wf_run))
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests;
