use std::collections::HashMap;

use super::*;
use crate::action::ShellAction;

fn step(id: &str) -> Step {
    Step {
        id: id.into(),
        action: Some(Box::new(ShellAction::new("true").into())),
        job: None,
        timeout_s: None,
        retries: None,
    }
}

fn edge(from: &str, to: &str, on: FollowOn) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
        on,
    }
}

fn flow(steps: &[&str], edges: &[(&str, &str, FollowOn)]) -> WorkflowAction {
    WorkflowAction {
        steps: steps.iter().map(|s| step(s)).collect(),
        edges: edges.iter().map(|(f, t, on)| edge(f, t, *on)).collect(),
    }
}

fn runs<'a>(done: &[(&'a str, i64, RunState)]) -> HashMap<&'a str, StepRun> {
    done.iter()
        .map(|&(s, id, state)| (s, StepRun { id, state }))
        .collect()
}

fn ids(wf: &WorkflowAction, steps: &[usize]) -> Vec<String> {
    steps.iter().map(|&s| wf.steps[s].id.clone()).collect()
}

use FollowOn::{Completed, Failed, Succeeded};
use RunState::{Running, Skipped, Succeeded as Ok_, TimedOut};

/// extract → (clean ∥ stats) → load: a diamond.
fn diamond() -> WorkflowAction {
    flow(
        &["extract", "clean", "stats", "load"],
        &[
            ("extract", "clean", Succeeded),
            ("extract", "stats", Succeeded),
            ("clean", "load", Succeeded),
            ("stats", "load", Succeeded),
        ],
    )
}

#[test]
fn roots_start_first_and_branches_run_in_parallel() {
    let wf = diamond();
    let p = plan(&wf, &HashMap::new());
    assert_eq!(ids(&wf, &p.start), ["extract"]);
    assert_eq!(p.end, None);
    let p = plan(&wf, &runs(&[("extract", 1, Ok_)]));
    assert_eq!(ids(&wf, &p.start), ["clean", "stats"]);
}

#[test]
fn a_join_waits_for_every_step_before_it() {
    let wf = diamond();
    let going = runs(&[
        ("extract", 1, Ok_),
        ("clean", 2, Ok_),
        ("stats", 3, Running),
    ]);
    let p = plan(&wf, &going);
    assert!(p.start.is_empty() && p.skip.is_empty() && p.end.is_none());
    let done = runs(&[("extract", 1, Ok_), ("clean", 2, Ok_), ("stats", 3, Ok_)]);
    assert_eq!(ids(&wf, &plan(&wf, &done).start), ["load"]);
    let all = runs(&[
        ("extract", 1, Ok_),
        ("clean", 2, Ok_),
        ("stats", 3, Ok_),
        ("load", 4, Ok_),
    ]);
    assert_eq!(plan(&wf, &all).end, Some((RunState::Succeeded, None)));
}

#[test]
fn each_condition_starts_or_skips() {
    let wf = flow(
        &["build", "deploy", "page", "cleanup"],
        &[
            ("build", "deploy", Succeeded),
            ("build", "page", Failed),
            ("build", "cleanup", Completed),
        ],
    );
    let p = plan(&wf, &runs(&[("build", 1, Ok_)]));
    assert_eq!(ids(&wf, &p.start), ["deploy", "cleanup"]);
    assert_eq!(ids(&wf, &[p.skip[0].0]), ["page"]);
    assert_eq!(
        p.skip[0].1,
        "not run: it follows 'build' on failure, which ended succeeded"
    );
    let p = plan(&wf, &runs(&[("build", 1, TimedOut)]));
    assert_eq!(ids(&wf, &p.start), ["page", "cleanup"]);
    assert_eq!(ids(&wf, &[p.skip[0].0]), ["deploy"]);
}

#[test]
fn a_skipped_step_skips_the_steps_after_it_and_the_failure_fails_the_workflow() {
    let wf = diamond();
    let p = plan(&wf, &runs(&[("extract", 1, RunState::Failed)]));
    assert!(p.start.is_empty());
    assert_eq!(
        p.skip
            .iter()
            .map(|(s, _)| wf.steps[*s].id.as_str())
            .collect::<Vec<_>>(),
        ["clean", "stats", "load"]
    );
    assert_eq!(
        p.end,
        Some((RunState::Failed, Some("step 'extract' failed".into())))
    );
}

#[test]
fn a_failure_an_edge_expects_does_not_fail_the_workflow() {
    let wf = flow(&["try", "catch"], &[("try", "catch", Failed)]);
    let done = runs(&[("try", 1, RunState::Failed), ("catch", 2, Ok_)]);
    assert_eq!(plan(&wf, &done).end, Some((RunState::Succeeded, None)));
    let skipped = runs(&[("try", 1, Ok_), ("catch", 2, Skipped)]);
    assert_eq!(plan(&wf, &skipped).end, Some((RunState::Succeeded, None)));
}

#[test]
fn retrying_a_step_runs_the_steps_after_it_again() {
    let wf = diamond();
    // 'clean' failed, so 'load' was skipped; 'clean' is retried as run 6.
    let retried = runs(&[
        ("extract", 1, Ok_),
        ("clean", 6, Running),
        ("stats", 3, Ok_),
        ("load", 5, Skipped),
    ]);
    let p = plan(&wf, &retried);
    assert!(p.start.is_empty() && p.skip.is_empty() && p.end.is_none());
    let p = plan(
        &wf,
        &runs(&[
            ("extract", 1, Ok_),
            ("clean", 6, Ok_),
            ("stats", 3, Ok_),
            ("load", 5, Skipped),
        ]),
    );
    assert_eq!(ids(&wf, &p.start), ["load"]);
}

#[test]
fn a_resumed_workflow_runs_abandoned_steps_again_and_keeps_finished_ones() {
    let wf = diamond();
    let left = runs(&[
        ("extract", 1, Ok_),
        ("clean", 2, Ok_),
        ("stats", 3, RunState::Abandoned),
    ]);
    assert_eq!(ids(&wf, &plan(&wf, &left).start), ["stats"]);
}

#[test]
fn checks_name_the_field_and_the_cycle() {
    let mut wf = flow(
        &["a", "b", "c"],
        &[
            ("a", "b", Succeeded),
            ("b", "c", Succeeded),
            ("c", "a", Completed),
        ],
    );
    let e = wf.validate().unwrap_err();
    assert_eq!(e.field, "action.edges");
    assert_eq!(e.message, "these steps form a cycle: a → b → c → a");
    wf.edges.pop();
    assert!(wf.validate().is_ok());
    wf.edges.push(edge("c", "nowhere", Succeeded));
    let e = wf.validate().unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("action.edges[2].to", "no step called 'nowhere'")
    );
    wf.edges.pop();
    wf.steps[1].id = "a".into();
    assert_eq!(wf.validate().unwrap_err().field, "action.steps[1].id");
    wf.steps[1].id = "b".into();
    wf.steps[2].action = Some(Box::new(ShellAction::new(" ").into()));
    let e = wf.validate().unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("action.steps[2].action.command", "must not be empty")
    );
    wf.steps[2].job = Some("other".into());
    assert_eq!(wf.validate().unwrap_err().field, "action.steps[2]");
    wf.steps[2].action = Some(Box::new(Action::Workflow(flow(&["x"], &[]))));
    wf.steps[2].job = None;
    assert_eq!(
        wf.validate().unwrap_err().field,
        "action.steps[2].action.kind"
    );
    assert_eq!(
        flow(&[], &[]).validate().unwrap_err().message,
        "add at least one step"
    );
}
