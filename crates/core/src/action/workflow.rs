//! Workflows: a job whose action is a directed acyclic graph of steps. This module holds the
//! definition, its checks, and the plan — which steps start, which are skipped, and how the
//! workflow ends — given each step's newest run; `scheduler/workflow.rs` carries it out.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Action, ActionError};
use crate::history::RunState;
use crate::job::{FollowOn, JobId, Retries};

/// Most steps one workflow may have.
pub const MAX_STEPS: usize = 200;

/// Steps and the edges between them. A step starts once every step with an edge to it has
/// ended and each such edge's condition holds; when one does not, the step is skipped (and so
/// are the steps after it). Steps without a path between them run in parallel.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowAction {
    /// The steps, each with an id unique in the workflow.
    pub steps: Vec<Step>,
    /// Which step follows which, and on what end.
    #[serde(default)]
    pub edges: Vec<Edge>,
}

/// One step of a workflow: an action of its own, or another job's action and options.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Names the step in edges and in its runs (letters, digits, `-` and `_`).
    pub id: String,
    /// What the step runs (not a workflow); give this or `job`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(no_recursion))]
    pub action: Option<Box<Action>>,
    /// Run this existing job's action, with its options; give this or `action`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>))]
    pub job: Option<JobId>,
    /// Stop the step after this many seconds (default: no limit of its own, the workflow's
    /// timeout bounding it; for a step running another job, that job's timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
    /// Retry the step when it fails (default: the job's retry policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
}

/// `to` starts after `from` ends as `on` says.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The step before.
    pub from: String,
    /// The step after.
    pub to: String,
    /// Which ends of `from` let `to` start.
    #[serde(default)]
    pub on: FollowOn,
}

impl WorkflowAction {
    /// The index of step `id`.
    pub fn step(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// Checks the graph: unique step ids, one thing to run per step, edges between known
    /// steps, and no cycle (the message names it).
    pub fn validate(&self) -> Result<(), ActionError> {
        let bad = |field: String, message: String| Err(ActionError { field, message });
        if self.steps.is_empty() {
            return bad("action.steps".into(), "add at least one step".into());
        }
        if self.steps.len() > MAX_STEPS {
            return bad(
                "action.steps".into(),
                format!("at most {MAX_STEPS} steps (this has {})", self.steps.len()),
            );
        }
        for (i, step) in self.steps.iter().enumerate() {
            let at = format!("action.steps[{i}]");
            let id_ok = !step.id.is_empty()
                && step.id.len() <= 64
                && step
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !id_ok {
                return bad(
                    format!("{at}.id"),
                    "use 1 to 64 letters, digits, '-' or '_'".into(),
                );
            }
            if self.steps[..i].iter().any(|s| s.id == step.id) {
                return bad(
                    format!("{at}.id"),
                    format!("another step is already called '{}'", step.id),
                );
            }
            match (&step.action, &step.job) {
                (Some(_), Some(_)) | (None, None) => {
                    return bad(
                        at,
                        format!("step '{}': give either an action or a job to run", step.id),
                    )
                }
                (Some(action), None) if matches!(**action, Action::Workflow(_)) => {
                    return bad(
                        format!("{at}.action.kind"),
                        "a step cannot be a workflow".into(),
                    )
                }
                (Some(action), None) => action.validate().map_err(|e| ActionError {
                    field: e.field.replacen("action", &format!("{at}.action"), 1),
                    message: e.message,
                })?,
                (None, Some(job)) if job.trim().is_empty() => {
                    return bad(format!("{at}.job"), "name the job to run".into())
                }
                (None, Some(_)) => {}
            }
            if step.timeout_s == Some(0) {
                return bad(
                    format!("{at}.timeout_s"),
                    "must be at least 1 second (or absent: the job's)".into(),
                );
            }
            if let Some(retries) = &step.retries {
                retries
                    .validate(&format!("{at}.retries"))
                    .map_err(|e| ActionError {
                        field: e.field,
                        message: e.message,
                    })?;
            }
        }
        for (i, edge) in self.edges.iter().enumerate() {
            let at = format!("action.edges[{i}]");
            for (end, id) in [("from", &edge.from), ("to", &edge.to)] {
                if self.step(id).is_none() {
                    return bad(format!("{at}.{end}"), format!("no step called '{id}'"));
                }
            }
            if edge.from == edge.to {
                return bad(
                    format!("{at}.to"),
                    format!("step '{}' cannot follow itself", edge.to),
                );
            }
            if self.edges[..i]
                .iter()
                .any(|e| e.from == edge.from && e.to == edge.to)
            {
                return bad(
                    at,
                    format!("'{}' → '{}' is there twice", edge.from, edge.to),
                );
            }
        }
        if let Some(cycle) = self.cycle() {
            return bad(
                "action.edges".into(),
                format!("these steps form a cycle: {}", cycle.join(" → ")),
            );
        }
        Ok(())
    }

    /// For each step, the edges into it as (step before, condition).
    fn incoming(&self) -> Vec<Vec<(usize, FollowOn)>> {
        let mut into = vec![Vec::new(); self.steps.len()];
        for e in &self.edges {
            if let (Some(from), Some(to)) = (self.step(&e.from), self.step(&e.to)) {
                into[to].push((from, e.on));
            }
        }
        into
    }

    /// A cycle as the step ids along it (the first repeated at the end), if there is one.
    fn cycle(&self) -> Option<Vec<String>> {
        let n = self.steps.len();
        let mut out = vec![Vec::new(); n];
        for e in &self.edges {
            if let (Some(from), Some(to)) = (self.step(&e.from), self.step(&e.to)) {
                out[from].push(to);
            }
        }
        // 0: not seen, 1: on the current path, 2: done.
        let mut mark = vec![0u8; n];
        for root in 0..n {
            if mark[root] != 0 {
                continue;
            }
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            mark[root] = 1;
            while let Some((node, next)) = path.last_mut() {
                let Some(&to) = out[*node].get(*next) else {
                    mark[*node] = 2;
                    path.pop();
                    continue;
                };
                *next += 1;
                if mark[to] == 1 {
                    let start = path.iter().position(|(s, _)| *s == to).unwrap_or(0);
                    let mut ids: Vec<String> = path[start..]
                        .iter()
                        .map(|(s, _)| self.steps[*s].id.clone())
                        .collect();
                    ids.push(self.steps[to].id.clone());
                    return Some(ids);
                }
                if mark[to] == 0 {
                    mark[to] = 1;
                    path.push((to, 0));
                }
            }
        }
        None
    }

    /// The steps in an order where each comes after every step with an edge to it, and
    /// otherwise in the order they are listed.
    fn order(&self) -> Vec<usize> {
        let into = self.incoming();
        let mut waiting: Vec<usize> = into.iter().map(Vec::len).collect();
        let mut ready: std::collections::BTreeSet<usize> =
            (0..self.steps.len()).filter(|&s| waiting[s] == 0).collect();
        let mut order = Vec::with_capacity(self.steps.len());
        while let Some(s) = ready.pop_first() {
            order.push(s);
            for (to, edges) in into.iter().enumerate() {
                for _ in edges.iter().filter(|(from, _)| *from == s) {
                    waiting[to] -= 1;
                    if waiting[to] == 0 {
                        ready.insert(to);
                    }
                }
            }
        }
        order
    }
}

/// A step's newest run: its id and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRun {
    /// The run's id.
    pub id: i64,
    /// Its state; a step whose run has not ended for good is still in flight.
    pub state: RunState,
}

/// What to do next in a workflow run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Steps to start now (indexes into `steps`).
    pub start: Vec<usize>,
    /// Steps not to run, in order, with why.
    pub skip: Vec<(usize, String)>,
    /// How the workflow ended, with what went wrong, once nothing is left to run.
    pub end: Option<(RunState, Option<String>)>,
}

/// Where a step stands while planning.
#[derive(Clone, Copy)]
enum Stand {
    /// Its newest run is current and has ended: (run id, state).
    Done(i64, RunState),
    /// Its newest run is current and still going, or it starts now.
    Going(i64),
    /// It waits for a step before it.
    Waiting,
}

/// Plans the next moves of a workflow whose steps' newest runs are `latest` (by step id). A
/// step's run is current only when it is newer than the runs of every step before it: when a
/// step is retried, the steps after it run again. A step whose run was abandoned (its node
/// died) runs again.
pub fn plan(wf: &WorkflowAction, latest: &HashMap<&str, StepRun>) -> Plan {
    let into = wf.incoming();
    let mut stand = vec![Stand::Waiting; wf.steps.len()];
    let mut plan = Plan::default();
    // Steps decided now are newer than any run so far.
    let fresh = i64::MAX;
    for s in wf.order() {
        let before: Vec<(Stand, FollowOn, usize)> =
            into[s].iter().map(|&(p, on)| (stand[p], on, p)).collect();
        let key = |st: Stand| match st {
            Stand::Done(id, _) | Stand::Going(id) => Some(id),
            Stand::Waiting => None,
        };
        let current = latest.get(wf.steps[s].id.as_str()).filter(|run| {
            run.state != RunState::Abandoned
                && before
                    .iter()
                    .all(|(st, ..)| key(*st).is_some_and(|k| k < run.id))
        });
        stand[s] = match current {
            Some(run) if run.state.is_final() => Stand::Done(run.id, run.state),
            Some(run) => Stand::Going(run.id),
            None if before.iter().all(|(st, ..)| matches!(st, Stand::Done(..))) => {
                let unmet = before.iter().find_map(|(st, on, p)| match st {
                    Stand::Done(_, state) if !on.matches(*state) => Some((*on, *p, *state)),
                    _ => None,
                });
                match unmet {
                    None => {
                        plan.start.push(s);
                        Stand::Going(fresh)
                    }
                    Some((on, p, state)) => {
                        let why = format!(
                            "not run: it follows '{}' {}, which ended {}",
                            wf.steps[p].id,
                            match on {
                                FollowOn::Succeeded => "on success",
                                FollowOn::Failed => "on failure",
                                FollowOn::Completed => "on completion",
                            },
                            state.as_str()
                        );
                        plan.skip.push((s, why));
                        Stand::Done(fresh, RunState::Skipped)
                    }
                }
            }
            None => Stand::Waiting,
        };
    }
    if stand.iter().all(|st| matches!(st, Stand::Done(..))) {
        plan.end = Some(outcome(wf, &stand));
    }
    plan
}

/// Failed when a step failed (timed out, was cancelled, …) and no edge out of it expects that
/// end; succeeded otherwise.
fn outcome(wf: &WorkflowAction, stand: &[Stand]) -> (RunState, Option<String>) {
    let failed: Vec<String> = wf
        .steps
        .iter()
        .zip(stand)
        .filter_map(|(step, st)| {
            let Stand::Done(_, state) = *st else {
                return None;
            };
            let bad = !matches!(state, RunState::Succeeded | RunState::Skipped);
            let handled = wf
                .edges
                .iter()
                .any(|e| e.from == step.id && e.on.matches(state));
            (bad && !handled).then(|| format!("'{}' {}", step.id, state.as_str()))
        })
        .collect();
    if failed.is_empty() {
        (RunState::Succeeded, None)
    } else {
        let s = if failed.len() == 1 { "" } else { "s" };
        let error = format!("step{s} {}", failed.join(", "));
        (RunState::Failed, Some(error))
    }
}

#[cfg(test)]
mod tests;
