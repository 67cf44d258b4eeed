//! Chains: a run's end starts the jobs its job names in `then`, each run linked back to it.

use std::collections::HashSet;
use std::sync::Arc;

use super::{dispatch, invalid, Scheduler, SchedulerError, SchedulerInner};
use crate::history::RunState;
use crate::job::Job;

/// Most jobs one chain check follows before it gives up looking for a loop.
const MAX_CHAIN: usize = 10_000;

/// Most runs one chain starts one after another: a loop that slipped past the check (two
/// edits at once) ends here instead of running forever.
pub(crate) const MAX_CHAIN_DEPTH: usize = 32;

impl Scheduler {
    /// Refuses a chain naming a job that does not exist or that leads back to `job`;
    /// `batch` holds jobs being added alongside it.
    pub(super) fn check_chain(&self, job: &Job, batch: &[Job]) -> Result<(), SchedulerError> {
        if job.then.is_empty() {
            return Ok(());
        }
        let find = |id: &str| -> Result<Option<Job>, SchedulerError> {
            match batch.iter().find(|j| j.id == id) {
                Some(j) => Ok(Some(j.clone())),
                None => Ok(self.inner.store.get_job(id)?),
            }
        };
        for (i, follow) in job.then.iter().enumerate() {
            if follow.job != job.id && find(&follow.job)?.is_none() {
                let message = format!("no job with id '{}'", follow.job);
                return Err(invalid(&format!("then[{i}].job"), message));
            }
        }
        // Depth first from `job`, the stack being the path: a link back to `job` is a loop.
        let mut stack = vec![(job.clone(), 0usize)];
        let mut seen = HashSet::new();
        while let Some((current, next)) = stack.last_mut() {
            let Some(follow) = current.then.get(*next) else {
                stack.pop();
                continue;
            };
            *next += 1;
            let id = follow.job.clone();
            if id == job.id {
                let mut path: Vec<&str> = stack.iter().map(|(j, _)| j.id.as_str()).collect();
                path.push(&job.id);
                return Err(invalid(
                    &format!("then[{}].job", stack[0].1 - 1),
                    format!(
                        "this chain loops ({}); a job cannot start itself again",
                        path.join(" → ")
                    ),
                ));
            }
            if seen.len() < MAX_CHAIN && seen.insert(id.clone()) {
                if let Some(j) = find(&id)? {
                    stack.push((j, 0));
                }
            }
        }
        Ok(())
    }
}

impl SchedulerInner {
    /// How many chained runs led to run `run` (0 for one the schedule or a user started).
    fn chain_depth(&self, run: i64) -> usize {
        let upstream = |id: i64| self.store.run(id).ok().flatten().and_then(|r| r.upstream);
        let mut depth = 0;
        let mut next = upstream(run);
        while let Some(id) = next.filter(|_| depth < MAX_CHAIN_DEPTH) {
            depth += 1;
            next = upstream(id.get());
        }
        depth
    }

    /// Starts the jobs that follow run `run` of `job`, which ended for good in `state`.
    pub(crate) fn follow(self: &Arc<Self>, job: &Job, run: i64, state: RunState) {
        let mut follows = job.then.iter().filter(|f| f.on.matches(state)).peekable();
        if follows.peek().is_none() {
            return;
        }
        // The followers read the run's end (their KAIROS_UPSTREAM_*): commit it first.
        if let Err(e) = self.store.flush() {
            tracing::warn!("cannot commit run {run} before starting its followers: {e}");
        }
        if self.chain_depth(run) >= MAX_CHAIN_DEPTH {
            tracing::error!(
                "job '{}' starts no followers after run {run}: its chain already ran \
                 {MAX_CHAIN_DEPTH} runs in a row (does it loop?)",
                job.id
            );
            return;
        }
        for follow in follows {
            let started = match self.store.get_job(&follow.job) {
                Ok(Some(next)) if next.paused => Err("it is paused".to_string()),
                Ok(Some(next)) if self.may_run(&next) => {
                    dispatch::submit_now(self, Arc::new(next), self.clock.now(), Some(run), None)
                        .map(|id| id.ok_or("it has its maximum number of runs active".into()))
                        .unwrap_or_else(|e| Err(e.to_string()))
                }
                Ok(Some(_)) => Err("this process may not run it (node labels or function)".into()),
                Ok(None) => Err("there is no such job".into()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(why) = started {
                tracing::warn!(
                    "job '{}' was not started after run {} of job '{}': {why}",
                    follow.job,
                    run,
                    job.id
                );
            }
        }
    }
}
