//! The behaviour every `JobStore` must have, run against each implementation.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::{
    Claim, ClaimOutcome, JobStore, MemoryStore, NodeInfo, ScheduleEntry, SqliteStore, StoreError,
};
use crate::action::{Action, ActionKind, FunctionAction};
use crate::events::{Envelope, Event};
use crate::history::{RunQuery, RunRecord, RunState, ThinStr};
use crate::job::{Job, Retention, Settings};
use crate::metrics::MetricSample;
use crate::query::{JobCounts, JobQuery, JobSort};

/// 2026-01-01T00:00:00Z plus `s` seconds.
pub(super) fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(s)
}

/// A job firing every 10 s, next at `t(0)`.
pub(super) fn job(id: &str) -> Job {
    Job {
        id: id.to_string(),
        name: format!("job {id}"),
        description: String::new(),
        tags: vec![],
        trigger: serde_json::from_value(json!({"type": "interval", "seconds": 10})).unwrap(),
        action: Action::Function(FunctionAction {
            name: "noop".into(),
        }),
        options: Default::default(),
        paused: false,
        pool: "default".into(),
        node_labels: vec![],
        then: vec![],
        next_run: Some(t(0)),
    }
}

/// A run of `job_id` for fire time `t(scheduled_s)`.
pub(super) fn run(id: i64, job_id: &str, scheduled_s: i64, state: RunState) -> RunRecord {
    RunRecord::new(id, job_id, t(scheduled_s), state)
}

/// A finished run that took `ms` milliseconds.
fn timed_run(id: i64, job_id: &str, ms: i64) -> RunRecord {
    let mut r = run(id, job_id, id, RunState::Succeeded);
    r.started = Some(t(id));
    r.finished = Some(t(id) + Duration::milliseconds(ms));
    r
}

fn ids(runs: &[RunRecord]) -> Vec<i64> {
    runs.iter().map(|r| r.id).collect()
}

fn query() -> RunQuery {
    RunQuery::default()
}

pub(super) fn add_get_list_update_remove(store: &dyn JobStore) {
    assert_eq!(store.list_jobs().unwrap(), vec![]);
    let (a, b, c) = (job("a"), job("b"), job("c"));
    store.add_jobs(&[c.clone(), a.clone()]).unwrap();
    store.add_jobs(std::slice::from_ref(&b)).unwrap();
    assert_eq!(store.get_job("a").unwrap(), Some(a.clone()));
    assert_eq!(store.get_job("zzz").unwrap(), None);
    assert_eq!(
        store.list_jobs().unwrap(),
        vec![a.clone(), b.clone(), c.clone()]
    );

    let mut b2 = b.clone();
    b2.name = "renamed".into();
    b2.tags = vec!["x".into()];
    b2.paused = true;
    b2.next_run = None;
    store.update_job(&b2).unwrap();
    assert_eq!(store.get_job("b").unwrap(), Some(b2.clone()));
    let schedule = store.schedule().unwrap();
    let entry = schedule.iter().find(|e| e.id == "b").unwrap();
    assert_eq!(
        *entry,
        ScheduleEntry {
            id: "b".into(),
            next_run: None,
            paused: true
        }
    );

    assert!(store.remove_job("a").unwrap());
    assert!(!store.remove_job("a").unwrap());
    assert_eq!(store.list_jobs().unwrap(), vec![b2, c]);
}

pub(super) fn duplicate_rejected_atomically(store: &dyn JobStore) {
    store.add_jobs(&[job("a")]).unwrap();
    let err = store.add_jobs(&[job("new"), job("a")]).unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref id) if id == "a"),
        "{err}"
    );
    let err = store.add_jobs(&[job("x"), job("y"), job("x")]).unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref id) if id == "x"),
        "{err}"
    );
    let ids: Vec<_> = store
        .list_jobs()
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, vec!["a"]);
    // The store still works after a rejected batch.
    store.add_jobs(&[job("new")]).unwrap();
    assert_eq!(store.list_jobs().unwrap().len(), 2);
}

pub(super) fn update_missing_is_not_found(store: &dyn JobStore) {
    let err = store.update_job(&job("ghost")).unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound(ref id) if id == "ghost"),
        "{err}"
    );
    assert_eq!(store.list_jobs().unwrap(), vec![]);
}

pub(super) fn shared_jobs_reads_those_that_exist(store: &dyn JobStore) {
    store.add_jobs(&[job("a"), job("b"), job("c")]).unwrap();
    let ids: Vec<std::sync::Arc<str>> = vec!["c".into(), "ghost".into(), "a".into()];
    let mut read: Vec<String> = store
        .shared_jobs(&ids)
        .unwrap()
        .iter()
        .map(|j| j.id.clone())
        .collect();
    read.sort();
    assert_eq!(read, ["a", "c"]);
    assert!(store.shared_jobs(&[]).unwrap().is_empty());
}

/// A claim of job `id`'s fire at `t(from)`, moving it to `t(to)`, with one submitted run.
pub(super) fn fire_claim(id: &str, from: i64, to: i64) -> Claim {
    Claim {
        job_id: id.into(),
        advance: Some((t(from), Some(t(to)))),
        runs: vec![run(0, id, from, RunState::Submitted)],
        max_instances: u32::MAX,
        outcome: ClaimOutcome::Pending,
    }
}

pub(super) fn claims_advance_once(store: &dyn JobStore) {
    let node: ThinStr = "n1".into();
    let mut paused = job("p");
    paused.paused = true;
    store.add_jobs(&[job("a"), job("b"), paused]).unwrap();
    let claims = vec![
        fire_claim("a", 0, 10),
        fire_claim("missing", 0, 10),
        fire_claim("p", 0, 10),
    ];
    let decided = store.claim(&node, t(0), claims).unwrap();
    assert_eq!(decided[0].outcome, ClaimOutcome::Won);
    assert_eq!(decided[1].outcome, ClaimOutcome::Gone);
    assert_eq!(
        decided[2].outcome,
        ClaimOutcome::Lost {
            next_run: Some(t(0)),
            paused: true
        }
    );
    let first = &decided[0].runs[0];
    assert!(first.id > 0);
    assert_eq!(first.node.as_deref(), Some("n1"));
    // The same fire again (another process with an old view): lost, with the stored time.
    let again = store
        .claim(&node, t(0), vec![fire_claim("a", 0, 10)])
        .unwrap();
    assert_eq!(
        again[0].outcome,
        ClaimOutcome::Lost {
            next_run: Some(t(10)),
            paused: false
        }
    );
    assert!(again[0].runs.iter().all(|r| r.id == 0), "nothing inserted");
    let next = store
        .claim(&node, t(10), vec![fire_claim("a", 10, 20)])
        .unwrap();
    assert!(next[0].runs[0].id > first.id, "ids increase");
    // A claim that ends the schedule.
    let mut last = fire_claim("b", 0, 0);
    last.advance = Some((t(0), None));
    assert_eq!(
        store.claim(&node, t(0), vec![last]).unwrap()[0].outcome,
        ClaimOutcome::Won
    );
    store.flush().unwrap();
    let schedule = store.schedule().unwrap();
    assert_eq!(
        schedule[..2],
        [
            ScheduleEntry {
                id: "a".into(),
                next_run: Some(t(20)),
                paused: false
            },
            ScheduleEntry {
                id: "b".into(),
                next_run: None,
                paused: false
            },
        ]
    );
    let runs = store.runs(&query()).unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(store.run(first.id).unwrap().as_ref(), Some(first));
}

pub(super) fn overdue_lists_unpaused_jobs_due_before(store: &dyn JobStore) {
    let (mut late, mut paused, mut later) = (job("late"), job("paused"), job("later"));
    late.next_run = Some(t(5));
    paused.next_run = Some(t(5));
    paused.paused = true;
    later.next_run = Some(t(20));
    let mut never = job("never");
    never.next_run = None;
    store.add_jobs(&[late, paused, later, never]).unwrap();
    let overdue = store.overdue(t(10)).unwrap();
    assert_eq!(
        overdue,
        [ScheduleEntry {
            id: "late".into(),
            next_run: Some(t(5)),
            paused: false
        }]
    );
}

pub(super) fn events_reach_other_nodes(one: &dyn JobStore, two: &dyn JobStore) {
    let envelope = |s: i64| Envelope {
        at: t(s),
        event: Event::JobAdded {
            job_id: format!("j{s}"),
        },
        node: None,
    };
    let (none, start) = two.events_after("B", None).unwrap();
    assert!(none.is_empty());
    one.publish_events("A", vec![envelope(1), envelope(2)]);
    two.publish_events("B", vec![envelope(3)]);
    one.flush().unwrap();
    two.flush().unwrap();
    // Each node hears the other's events, oldest first, marked with their node.
    let (heard, cursor) = two.events_after("B", Some(start)).unwrap();
    let names: Vec<_> = heard.iter().map(|e| (e.at, e.node.as_deref())).collect();
    assert_eq!(names, [(t(1), Some("A")), (t(2), Some("A"))]);
    assert_eq!(heard[0].event, envelope(1).event);
    assert_eq!(two.events_after("B", Some(cursor)).unwrap().0, vec![]);
    let (heard, _) = one.events_after("A", Some(start)).unwrap();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].node.as_deref(), Some("B"));
}

pub(super) fn record_runs_upserts(store: &dyn JobStore) {
    store.add_jobs(&[job("a")]).unwrap();
    // A chained run by hand: its link to the run that started it and its parameters are
    // kept from the claim on.
    let mut chained = run(0, "a", 0, RunState::Submitted);
    chained.manual = true;
    chained.upstream = std::num::NonZeroI64::new(77);
    let params = crate::history::RunParams {
        env: [("MODE".to_string(), "dry \"run\"".to_string())].into(),
        args: vec!["--since".into(), "2026-12-01".into()],
        body: Some("{\"x\": 1}".into()),
    };
    chained.params = Some(Box::new(params));
    let claim = Claim::insert("a", vec![chained.clone()], 1);
    let decided = store.claim(&"n1".into(), t(0), vec![claim]).unwrap();
    let submitted = decided[0].runs[0].clone();
    let id = submitted.id;
    let stored = store.run(id).unwrap().unwrap();
    assert_eq!(stored.upstream, std::num::NonZeroI64::new(77));
    assert_eq!(stored.params, chained.params);
    let mut running = submitted.clone();
    running.state = RunState::Running;
    running.started = Some(t(1));
    let mut done = running.clone();
    done.state = RunState::Failed;
    done.finished = Some(t(2));
    done.exit_code = Some(3);
    done.http_status = Some(502);
    done.error = Some("boom".into());
    done.stdout = "out\nput".into();
    done.stderr = "err".into();
    done.usage = Some(crate::history::RunUsage {
        cpu_ms: 1234,
        peak_rss_kib: std::num::NonZeroU32::new(65_536).unwrap(),
    });
    store.record_runs(vec![running]);
    store.record_runs(vec![done.clone()]);
    store.flush().unwrap();
    assert_eq!(store.run(id).unwrap(), Some(done.clone()));
    assert_eq!(store.run(id + 1000).unwrap(), None);
    assert_eq!(store.runs(&query()).unwrap(), vec![done]);
}

pub(super) fn workflow_steps_are_linked_and_not_counted(store: &dyn JobStore) {
    store.add_jobs(&[job("wf")]).unwrap();
    let node: crate::history::ThinStr = "n1".into();
    let claim_one = |r: RunRecord, max: u32| {
        let claim = Claim::insert("wf", vec![r], max);
        store.claim(&node, t(0), vec![claim]).unwrap()[0].runs[0].clone()
    };
    let mut workflow = run(0, "wf", 0, RunState::Submitted);
    workflow.manual = true;
    let workflow = claim_one(workflow, 2);
    for step in ["extract", "load"] {
        let mut r = run(0, "wf", 0, RunState::Submitted);
        r.manual = true;
        r.upstream = std::num::NonZeroI64::new(workflow.id);
        r.step = Some(step.into());
        claim_one(r, u32::MAX);
    }
    store.flush().unwrap();
    let query = RunQuery {
        upstream: Some(workflow.id),
        ..query()
    };
    let steps: Vec<_> = store.runs(&query).unwrap();
    let names: Vec<_> = steps.iter().map(|r| r.step.as_deref()).collect();
    assert_eq!(names, [Some("load"), Some("extract")]);
    // The job's newest run is the workflow's own, and its steps are not instances of it.
    let page = store.query_jobs(&Default::default()).unwrap();
    assert_eq!(
        page.items[0].last_run.as_ref().map(|r| r.id),
        Some(workflow.id)
    );
    let mut second = run(0, "wf", 0, RunState::Submitted);
    second.manual = true;
    assert_eq!(claim_one(second, 2).state, RunState::Submitted);
}

pub(super) fn tags_count_their_jobs(store: &dyn JobStore) {
    let tagged = |id: &str, tags: &[&str], paused: bool| Job {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        paused,
        ..job(id)
    };
    store
        .add_jobs(&[
            tagged("a", &["ops", "Backup"], false),
            tagged("b", &["OPS", "ops"], true),
            tagged("c", &[], false),
        ])
        .unwrap();
    let counts: Vec<_> = store
        .tag_counts()
        .unwrap()
        .into_iter()
        .map(|c| (c.tag, c.jobs, c.paused))
        .collect();
    assert_eq!(
        counts,
        [("Backup".to_string(), 1, 0), ("OPS".to_string(), 2, 1)]
    );
}

pub(super) fn run_queries(store: &dyn JobStore) {
    // Runs 1..=20 alternate between jobs a and b, fired at t(id * 10).
    let runs: Vec<_> = (1..=20)
        .map(|id| {
            let job_id = if id % 2 == 0 { "a" } else { "b" };
            let state = match id % 3 {
                0 => RunState::Succeeded,
                1 => RunState::Failed,
                _ => RunState::Missed,
            };
            run(id, job_id, id * 10, state)
        })
        .collect();
    store.record_runs(runs);
    store.flush().unwrap();

    let all = store.runs(&query()).unwrap();
    assert_eq!(ids(&all), (1..=20).rev().collect::<Vec<_>>());

    let by_job = RunQuery {
        job_id: Some("a".into()),
        ..query()
    };
    assert_eq!(
        ids(&store.runs(&by_job).unwrap()),
        vec![20, 18, 16, 14, 12, 10, 8, 6, 4, 2]
    );

    let range = RunQuery {
        from: Some(t(50)),
        to: Some(t(90)),
        ..query()
    };
    assert_eq!(ids(&store.runs(&range).unwrap()), vec![8, 7, 6, 5]);

    let states = RunQuery {
        states: vec![RunState::Succeeded, RunState::Missed],
        job_id: Some("b".into()),
        ..query()
    };
    assert_eq!(
        ids(&store.runs(&states).unwrap()),
        vec![17, 15, 11, 9, 5, 3]
    );

    let page1 = RunQuery {
        limit: 7,
        ..query()
    };
    let first = store.runs(&page1).unwrap();
    assert_eq!(ids(&first), (14..=20).rev().collect::<Vec<_>>());
    let page2 = RunQuery {
        limit: 7,
        before_id: first.last().map(|r| r.id),
        ..query()
    };
    assert_eq!(
        ids(&store.runs(&page2).unwrap()),
        (7..=13).rev().collect::<Vec<_>>()
    );
    let page3 = RunQuery {
        limit: 7,
        before_id: Some(7),
        job_id: Some("a".into()),
        ..query()
    };
    assert_eq!(ids(&store.runs(&page3).unwrap()), vec![6, 4, 2]);

    let none = RunQuery {
        job_id: Some("nobody".into()),
        ..query()
    };
    assert_eq!(store.runs(&none).unwrap(), vec![]);
}

pub(super) fn default_limit_is_100(store: &dyn JobStore) {
    store.record_runs(
        (1..=150)
            .map(|id| run(id, "a", id, RunState::Succeeded))
            .collect(),
    );
    store.flush().unwrap();
    let runs = store.runs(&query()).unwrap();
    assert_eq!(runs.len(), 100);
    assert_eq!(runs[0].id, 150);
}

/// Node `node`'s submitted run of `job` for fire time `t(0)`, as the store inserted it.
fn claim_run(store: &dyn JobStore, node: &str, job: &str) -> RunRecord {
    let runs = vec![run(0, job, 0, RunState::Submitted)];
    let decided = store
        .claim(&node.into(), t(0), vec![Claim::insert(job, runs, u32::MAX)])
        .unwrap();
    decided[0].runs[0].clone()
}

pub(super) fn cancel_requests_reach_the_running_node(store: &dyn JobStore) {
    store.add_jobs(&[job("a"), job("b")]).unwrap();
    let claim = |node: &str, job: &str| claim_run(store, node, job);
    let (on_a, on_b) = (claim("A", "a"), claim("B", "b"));
    let mut running = on_b.clone();
    running.state = RunState::Running;
    store.record_runs(vec![running]);
    let before = store.change_counter().unwrap();

    let asked = store.request_cancel(on_b.id).unwrap().unwrap();
    assert_eq!(asked.state, RunState::Running, "the state as stored");
    assert!(store.change_counter().unwrap() > before, "announced");
    assert_eq!(store.cancel_requests("B").unwrap(), vec![on_b.id]);
    assert_eq!(store.cancel_requests("A").unwrap(), Vec::<i64>::new());
    assert_eq!(store.request_cancel(424_242).unwrap(), None);

    // Once the run ends, its request is done with.
    let mut ended = asked;
    ended.state = RunState::Cancelled;
    store.record_runs(vec![ended]);
    store.flush().unwrap();
    assert_eq!(store.cancel_requests("B").unwrap(), Vec::<i64>::new());
    let after = store.change_counter().unwrap();
    let ended = store.request_cancel(on_b.id).unwrap().unwrap();
    assert_eq!(ended.state, RunState::Cancelled);
    assert_eq!(
        store.change_counter().unwrap(),
        after,
        "nothing to announce"
    );
    assert_eq!(store.cancel_requests("A").unwrap(), Vec::<i64>::new());
    store.request_cancel(on_a.id).unwrap();
    assert_eq!(store.cancel_requests("A").unwrap(), vec![on_a.id]);
}

pub(super) fn channels_and_deliveries_are_kept(store: &dyn JobStore) {
    use crate::alert::{AlertOn, Channel, Delivery, Language, Target};
    assert_eq!(store.load_channels().unwrap(), vec![]);
    let slack = Channel {
        id: "ops".into(),
        name: "Ops".into(),
        enabled: true,
        language: Language::Chinese,
        target: Target::Slack {
            url: "https://hooks.slack.com/services/x".into(),
        },
    };
    let before = store.change_counter().unwrap();
    store.save_channels(std::slice::from_ref(&slack)).unwrap();
    assert_eq!(store.load_channels().unwrap(), vec![slack]);
    assert!(
        store.change_counter().unwrap() > before,
        "other nodes reload"
    );

    let delivery = |channel: &str, attempt: u32, ok: bool| Delivery {
        id: 0,
        at: t(i64::from(attempt)),
        channel: channel.into(),
        job_id: Some("a".into()),
        run_id: Some(7),
        outcome: AlertOn::Failed,
        attempt,
        ok,
        error: (!ok).then(|| "HTTP 500: down".to_string()),
    };
    store.record_delivery(&delivery("ops", 1, false)).unwrap();
    store.record_delivery(&delivery("mail", 1, true)).unwrap();
    store.record_delivery(&delivery("ops", 2, true)).unwrap();
    let ops = store.deliveries(Some("ops"), 10).unwrap();
    assert_eq!(
        ops.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        [2, 1],
        "newest first"
    );
    assert!(ops[0].id > ops[1].id);
    assert_eq!(ops[1].error.as_deref(), Some("HTTP 500: down"));
    assert_eq!(
        Delivery {
            id: 0,
            ..ops[0].clone()
        },
        delivery("ops", 2, true)
    );
    assert_eq!(store.deliveries(None, 2).unwrap().len(), 2);
}

/// Node `id` with its heartbeat at `t(beat)`.
fn node(id: &str, beat: i64) -> NodeInfo {
    NodeInfo {
        id: id.into(),
        host: "h".into(),
        instance: "i".into(),
        pid: 1,
        version: "0".into(),
        labels: vec!["gpu".into()],
        started: t(0),
        heartbeat: t(beat),
        left: None,
        skew_ms: 3,
        running: 0,
        listening: true,
    }
}

pub(super) fn take_over_abandons_dead_nodes_runs(store: &dyn JobStore) {
    store.add_jobs(&[job("a"), job("b")]).unwrap();
    assert!(!store.heartbeat(&node("A", 0)).unwrap().revived);
    store.heartbeat(&node("B", 100)).unwrap();
    let claim = |node: &str, job: &str| claim_run(store, node, job);
    let on_a = claim("A", "a");
    let mut running_on_b = claim("B", "b");
    running_on_b.state = RunState::Running;
    let mut orphan = run(9_999, "a", 5, RunState::Running);
    orphan.started = Some(t(5));
    let mut done = run(9_998, "a", 6, RunState::Succeeded);
    done.node = Some("A".into());
    store.record_runs(vec![running_on_b.clone(), orphan, done]);
    store.flush().unwrap();

    // A's heartbeat (t(0)) is older than now minus the lease: A is dead, B is alive.
    let now = t(105);
    let lease = Duration::seconds(8);
    let mut abandoned = store.take_over(now, lease, &[]).unwrap();
    abandoned.sort_by_key(|r| r.id);
    assert_eq!(ids(&abandoned), vec![on_a.id, 9_999]);
    for r in &abandoned {
        assert_eq!(r.state, RunState::Abandoned);
        assert_eq!(r.finished, Some(now));
        assert_eq!(store.run(r.id).unwrap().as_ref(), Some(r));
    }
    assert_eq!(store.take_over(now, lease, &[]).unwrap(), vec![]);
    assert_eq!(
        store.run(9_998).unwrap().unwrap().state,
        RunState::Succeeded
    );
    assert_eq!(
        store.run(running_on_b.id).unwrap().unwrap().state,
        RunState::Running
    );
    // B named dead (its process is gone) before its lease lapses.
    let b = store
        .nodes()
        .unwrap()
        .into_iter()
        .find(|n| n.id == "B")
        .unwrap();
    assert_eq!((b.running, b.left), (1, None));
    // The heartbeat's list is the same nodes, their running counts aside.
    let without_counts = |nodes: Vec<NodeInfo>| -> Vec<NodeInfo> {
        nodes
            .into_iter()
            .map(|n| NodeInfo { running: 0, ..n })
            .collect()
    };
    assert_eq!(
        without_counts(store.peers().unwrap()),
        without_counts(store.nodes().unwrap())
    );
    let taken = store.take_over(now, lease, &["B".to_string()]).unwrap();
    assert_eq!(ids(&taken), vec![running_on_b.id]);
    let nodes = store.nodes().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].skew_ms, 3);
    assert!(nodes[0].listening);
    assert!(nodes.iter().all(|n| n.left == Some(now)), "{nodes:?}");
    assert_eq!(nodes[0].labels, ["gpu"]);
    // A node that was taken over and beats again learns it.
    assert!(store.heartbeat(&node("A", 110)).unwrap().revived);
    store.leave("A", t(120)).unwrap();
    let a = store
        .nodes()
        .unwrap()
        .into_iter()
        .find(|n| n.id == "A")
        .unwrap();
    assert_eq!(a.left, Some(t(120)));
}

pub(super) fn run_buckets_count(store: &dyn JobStore) {
    // Buckets of 60 s: t(0..60) has 2 succeeded + 1 failed, t(60..120) 1 succeeded,
    // t(120..180) 1 failed of job b.
    store.record_runs(vec![
        run(1, "a", 0, RunState::Succeeded),
        run(2, "a", 59, RunState::Succeeded),
        run(3, "a", 30, RunState::Failed),
        run(4, "a", 60, RunState::Succeeded),
        run(5, "b", 125, RunState::Failed),
    ]);
    store.flush().unwrap();
    let mut buckets: Vec<_> = store
        .run_buckets(&query(), 60)
        .unwrap()
        .into_iter()
        .map(|b| (b.start, b.state, b.count))
        .collect();
    buckets.sort();
    assert_eq!(
        buckets,
        vec![
            (t(0), RunState::Succeeded, 2),
            (t(0), RunState::Failed, 1),
            (t(60), RunState::Succeeded, 1),
            (t(120), RunState::Failed, 1),
        ]
    );
    let only_a = RunQuery {
        job_id: Some("a".into()),
        from: Some(t(30)),
        ..query()
    };
    let mut buckets: Vec<_> = store
        .run_buckets(&only_a, 60)
        .unwrap()
        .into_iter()
        .map(|b| (b.start, b.state, b.count))
        .collect();
    buckets.sort();
    assert_eq!(
        buckets,
        vec![
            (t(0), RunState::Succeeded, 1),
            (t(0), RunState::Failed, 1),
            (t(60), RunState::Succeeded, 1),
        ]
    );
}

pub(super) fn duration_percentiles(store: &dyn JobStore) {
    // Job a: 1..=100 ms in shuffled order; job b: 7 and 3 ms; an unfinished run is ignored.
    let mut runs: Vec<_> = (1..=100)
        .map(|ms| timed_run((ms * 37) % 101, "a", ms))
        .collect();
    runs.push(timed_run(200, "b", 7));
    runs.push(timed_run(201, "b", 3));
    runs.push(run(202, "b", 0, RunState::Running));
    store.record_runs(runs);
    store.flush().unwrap();
    let stats = store.duration_stats(&query()).unwrap();
    assert_eq!(stats.len(), 2);
    let a = &stats[0];
    assert_eq!(a.job_id, "a");
    assert_eq!(
        (a.count, a.p50_ms, a.p90_ms, a.p99_ms, a.max_ms),
        (100, 50, 90, 99, 100)
    );
    let b = &stats[1];
    assert_eq!(b.job_id, "b");
    assert_eq!(
        (b.count, b.p50_ms, b.p90_ms, b.p99_ms, b.max_ms),
        (2, 3, 7, 7, 7)
    );

    let only_b = RunQuery {
        job_id: Some("b".into()),
        ..query()
    };
    let stats = store.duration_stats(&only_b).unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].job_id, "b");
}

pub(super) fn prune_by_count_and_age(store: &dyn JobStore) {
    // Job a: runs 1..=10 fired a day apart, days 0..=9; job b: one old run.
    let day = 86_400;
    store.record_runs(
        (1..=10)
            .map(|id| run(id, "a", (id - 1) * day, RunState::Succeeded))
            .chain([run(11, "b", 0, RunState::Succeeded)])
            .collect(),
    );
    let now = t(10 * day);
    // Keep 6 newest: ids 5..=10.
    store.prune_runs(
        "a",
        Retention {
            max_runs: 6,
            max_age_days: 365,
        },
        now,
    );
    store.flush().unwrap();
    let a = RunQuery {
        job_id: Some("a".into()),
        ..query()
    };
    assert_eq!(ids(&store.runs(&a).unwrap()), vec![10, 9, 8, 7, 6, 5]);
    // Older than 3 days as of day 10: fired before day 7, ids up to 7.
    store.prune_runs(
        "a",
        Retention {
            max_runs: 100,
            max_age_days: 3,
        },
        now,
    );
    store.flush().unwrap();
    assert_eq!(ids(&store.runs(&a).unwrap()), vec![10, 9, 8]);
    // Other jobs are untouched.
    assert!(store.run(11).unwrap().is_some());
}

pub(super) fn prune_by_age_out_of_id_order(store: &dyn JobStore) {
    // A retry recorded later (higher id) for an old fire time still ages out.
    store.record_runs(vec![
        run(1, "a", 500_000, RunState::Succeeded),
        run(2, "a", 0, RunState::Succeeded),
        run(3, "a", 600_000, RunState::Succeeded),
    ]);
    store.prune_runs(
        "a",
        Retention {
            max_runs: 10,
            max_age_days: 1,
        },
        t(500_000),
    );
    store.flush().unwrap();
    assert_eq!(ids(&store.runs(&query()).unwrap()), vec![3, 1]);
}

fn sample(at: DateTime<Utc>, cpu: f64, mem: u64) -> MetricSample {
    MetricSample {
        at,
        cpu_percent: cpu,
        memory_used: mem,
        memory_total: 1000,
        swap_used: mem / 2,
        swap_total: 500,
        disk_used: 10,
        disk_total: 20,
        net_rx_bytes: mem * 3,
        net_tx_bytes: 7,
        load_1: cpu / 100.0,
        load_5: 0.5,
        load_15: 0.25,
    }
}

pub(super) fn metrics_downsampled(store: &dyn JobStore) {
    // 0..100 s in 4 buckets of 25 s; samples every 10 s from t(0) to t(90), plus one outside.
    for s in (0..100).step_by(10) {
        store.record_metric(sample(t(s), s as f64, s as u64 * 10));
    }
    store.record_metric(sample(t(100), 1000.0, 1));
    store.record_metric(sample(t(-1), 1000.0, 1));
    store.flush().unwrap();
    let points = store.metrics(t(0), t(100), 4).unwrap();
    let summary: Vec<_> = points
        .iter()
        .map(|p| (p.at, p.cpu_percent, p.memory_used, p.net_rx_bytes))
        .collect();
    // Buckets: [0,25): 0,10,20; [25,50): 30,40; [50,75): 50,60,70; [75,100): 80,90.
    assert_eq!(
        summary,
        vec![
            (t(0), 10.0, 100, 300),
            (t(25), 35.0, 350, 1050),
            (t(50), 60.0, 600, 1800),
            (t(75), 85.0, 850, 2550),
        ]
    );
    assert_eq!(points[0].swap_used, 50);
    assert_eq!(points[0].memory_total, 1000);
    assert!((points[0].load_1 - 0.1).abs() < 1e-9);
    assert_eq!(points[0].load_15, 0.25);

    // Enough points: every sample in its own bucket, at its own time.
    let fine = store.metrics(t(0), t(100), 100).unwrap();
    assert_eq!(fine.len(), 10);
    assert_eq!(fine[3], sample(t(30), 30.0, 300));
    // An empty range.
    assert_eq!(store.metrics(t(200), t(300), 10).unwrap(), vec![]);

    // Pruning drops what came before the cutoff and keeps the rest.
    store.prune_metrics(t(50));
    store.flush().unwrap();
    let kept = store.metrics(t(-10), t(200), 1000).unwrap();
    let cpu: Vec<_> = kept.iter().map(|p| p.cpu_percent).collect();
    assert_eq!(cpu, [50.0, 60.0, 70.0, 80.0, 90.0, 1000.0]);
}

pub(super) fn settings_round_trip(store: &dyn JobStore) {
    assert_eq!(store.load_settings().unwrap(), None);
    let mut settings = Settings::default();
    settings.pools.insert("io".into(), 3);
    settings.defaults.max_instances = 4;
    store.save_settings(&settings).unwrap();
    assert_eq!(store.load_settings().unwrap(), Some(settings.clone()));
    settings.pools.remove("io");
    store.save_settings(&settings).unwrap();
    assert_eq!(store.load_settings().unwrap(), Some(settings));
}

pub(super) fn change_counter_moves_on_job_changes(store: &dyn JobStore) {
    let c0 = store.change_counter().unwrap();
    store.add_jobs(&[job("a")]).unwrap();
    let c1 = store.change_counter().unwrap();
    assert_ne!(c0, c1);
    store.update_job(&job("a")).unwrap();
    let c2 = store.change_counter().unwrap();
    assert_ne!(c1, c2);
    store.remove_job("a").unwrap();
    assert_ne!(c2, store.change_counter().unwrap());
}

pub(super) fn two_processes_claim_each_fire_once(one: &dyn JobStore, two: &dyn JobStore) {
    one.add_jobs(&[job("a")]).unwrap();
    // Both saw the job due at t(0) and race for it, each from its own thread.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| one.claim(&"n1".into(), t(0), vec![fire_claim("a", 0, 10)]));
        let b = s.spawn(|| two.claim(&"n2".into(), t(0), vec![fire_claim("a", 0, 10)]));
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let won: Vec<_> = [&a[0], &b[0]]
        .into_iter()
        .filter(|c| c.outcome == ClaimOutcome::Won)
        .collect();
    assert_eq!(won.len(), 1, "{a:?} {b:?}");
    let all = RunQuery::default();
    assert_eq!(one.runs(&all).unwrap().len(), 1);
}

pub(super) fn a_fire_that_ran_is_never_inserted_again(store: &dyn JobStore, _: &dyn JobStore) {
    store.add_jobs(&[job("a")]).unwrap();
    let node: ThinStr = "n".into();
    store
        .claim(&node, t(0), vec![fire_claim("a", 0, 10)])
        .unwrap();
    // The job is set back to a fire time that already ran (say, a clock set back):
    // claiming it again moves the schedule on but inserts no second run.
    store.update_job(&job("a")).unwrap();
    let again = store
        .claim(&node, t(0), vec![fire_claim("a", 0, 10)])
        .unwrap();
    assert_eq!(again[0].outcome, ClaimOutcome::Won);
    assert!(again[0].runs.is_empty(), "{again:?}");
    assert_eq!(store.runs(&RunQuery::default()).unwrap().len(), 1);
    assert_eq!(store.get_job("a").unwrap().unwrap().next_run, Some(t(10)));
    // Manual runs at the same instant are not bound by the rule, nor by each other.
    let mut manual = run(0, "a", 0, RunState::Submitted);
    manual.manual = true;
    for runs in [1, 2] {
        let decided = store
            .claim(
                &node,
                t(0),
                vec![Claim::insert("a", vec![manual.clone()], u32::MAX)],
            )
            .unwrap();
        assert_eq!(decided[0].runs.len(), 1);
        assert_eq!(store.runs(&RunQuery::default()).unwrap().len(), 1 + runs);
    }
}

pub(super) fn max_instances_counts_every_nodes_runs(one: &dyn JobStore, two: &dyn JobStore) {
    one.add_jobs(&[job("a")]).unwrap();
    let mut first = fire_claim("a", 0, 10);
    first.max_instances = 1;
    let won = one.claim(&"n1".into(), t(0), vec![first]).unwrap();
    assert_eq!(won[0].runs[0].state, RunState::Submitted);
    let mut second = fire_claim("a", 10, 20);
    second.max_instances = 1;
    let decided = two.claim(&"n2".into(), t(10), vec![second]).unwrap();
    let skipped = &decided[0].runs[0];
    assert_eq!(skipped.state, RunState::Skipped);
    assert_eq!(skipped.finished, Some(t(10)));
    assert_eq!(
        skipped.error.as_deref(),
        Some("1 run(s) already active (max instances 1)")
    );
    // Once the first run ends, the next fire runs.
    let mut done = won[0].runs[0].clone();
    done.state = RunState::Succeeded;
    one.record_runs(vec![done]);
    one.flush().unwrap();
    let mut third = fire_claim("a", 20, 30);
    third.max_instances = 1;
    let decided = two.claim(&"n2".into(), t(20), vec![third]).unwrap();
    assert_eq!(decided[0].runs[0].state, RunState::Submitted);
}

/// Declares one `#[test]` per two-process contract function, for stores `$open` opens on one
/// database made by `$make`.
macro_rules! shared {
    ($store:ident, $make:expr, $open:expr) => {
        mod $store {
            #[allow(unused_imports)]
            use super::*;

            shared!(@tests $make, $open;
                two_processes_claim_each_fire_once,
                a_fire_that_ran_is_never_inserted_again,
                max_instances_counts_every_nodes_runs,
                events_reach_other_nodes,
            );
        }
    };
    (@tests $make:expr, $open:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let guard = $make;
                let (one, two) = ($open(&guard), $open(&guard));
                super::super::$name(&one, &two);
            }
        )*
    };
}

mod shared {
    use super::*;

    shared!(
        sqlite,
        tempfile::tempdir().unwrap(),
        |dir: &tempfile::TempDir| SqliteStore::open(&dir.path().join("kairos.db")).unwrap()
    );
    shared!(
        postgres,
        crate::store::test_pg::TestDb::new(),
        |db: &crate::store::test_pg::TestDb| crate::store::PgStore::open(&db.url).unwrap()
    );
}

/// Every order of a job list.
const SORTS: [JobSort; 6] = [
    JobSort::Name,
    JobSort::NameDesc,
    JobSort::NextRun,
    JobSort::NextRunDesc,
    JobSort::LastRun,
    JobSort::LastRunDesc,
];

/// The ids of a job query's page.
fn page_ids(store: &dyn JobStore, query: JobQuery) -> Vec<String> {
    let page = store.query_jobs(&query).unwrap();
    page.items.into_iter().map(|e| e.job.id).collect()
}

/// How many jobs a list filtered by kind and paused counts, after adds (a bulk one too),
/// pauses, a change of kind and removals.
pub(super) fn kind_and_paused_counts_follow_every_change(store: &dyn JobStore) {
    let of = |id: &str, action: serde_json::Value, paused: bool| {
        let mut j = job(id);
        j.action = serde_json::from_value(action).unwrap();
        j.paused = paused;
        j
    };
    let shell = || json!({"kind": "shell", "command": "x"});
    let function = || json!({"kind": "function", "name": "f"});
    let total = |kind: Option<ActionKind>, paused: Option<bool>| {
        let query = JobQuery {
            kind,
            paused,
            ..Default::default()
        };
        store.query_jobs(&query).unwrap().total
    };
    let (sh, fun) = (Some(ActionKind::Shell), Some(ActionKind::Function));
    let check = |want: [usize; 6]| {
        let got = [
            total(sh, None),
            total(sh, Some(true)),
            total(sh, Some(false)),
            total(fun, Some(false)),
            total(None, Some(true)),
            total(Some(ActionKind::Monitor), None),
        ];
        assert_eq!(
            got, want,
            "shell, shell paused, shell running, function running, paused, monitors"
        );
    };
    store
        .add_jobs(&[
            of("a", shell(), false),
            of("b", shell(), true),
            of("c", function(), false),
        ])
        .unwrap();
    check([2, 1, 1, 1, 1, 0]);
    // A big add, which some stores write apart.
    let many: Vec<Job> = (0..10_000)
        .map(|i| of(&format!("m{i:05}"), shell(), i % 4 == 0))
        .collect();
    store.add_jobs(&many).unwrap();
    check([10_002, 2_501, 7_501, 1, 2_501, 0]);
    // A pause, a change of kind, a removal, and an add refused whole.
    let mut a = store.get_job("a").unwrap().unwrap();
    a.paused = true;
    store.update_job(&a).unwrap();
    let mut c = store.get_job("c").unwrap().unwrap();
    c.action = serde_json::from_value(json!({"kind": "monitor"})).unwrap();
    store.update_job(&c).unwrap();
    assert!(store.remove_job("b").unwrap());
    assert!(store
        .add_jobs(&[of("z", shell(), false), of("m00001", shell(), false)])
        .is_err());
    check([10_001, 2_501, 7_500, 0, 2_501, 1]);
}

pub(super) fn job_queries_filter_sort_and_page(store: &dyn JobStore) {
    let with = |id: &str, name: &str, action: serde_json::Value, next_s: Option<i64>| {
        let mut j = job(id);
        j.name = name.into();
        j.action = serde_json::from_value(action).unwrap();
        j.next_run = next_s.map(t);
        j
    };
    let mut a = with(
        "a",
        "Backup db",
        json!({"kind": "shell", "command": "x"}),
        Some(30),
    );
    a.tags = vec!["nightly".into(), "DB".into()];
    let mut b = with(
        "b",
        "alpha report",
        json!({"kind": "function", "name": "f"}),
        None,
    );
    b.paused = true;
    let mut c = with("c", "Monitor", json!({"kind": "monitor"}), Some(10));
    c.description = "Watch the disks".into();
    let d = with(
        "d",
        "zeta",
        json!({"kind": "function", "name": "g"}),
        Some(20),
    );
    store.add_jobs(&[a.clone(), b, c, d]).unwrap();
    // a's newest run failed; b failed once, then succeeded; c and d never ran.
    for (fire_s, job_id, state) in [
        (0, "a", RunState::Failed),
        (0, "b", RunState::Failed),
        (10, "b", RunState::Succeeded),
    ] {
        let runs = vec![run(0, job_id, fire_s, state)];
        store
            .claim(
                &"n".into(),
                t(0),
                vec![Claim::insert(job_id, runs, u32::MAX)],
            )
            .unwrap();
    }
    let q = |f: fn(&mut JobQuery)| {
        let mut query = JobQuery::default();
        f(&mut query);
        query
    };

    let all = store.query_jobs(&JobQuery::default()).unwrap();
    assert_eq!(all.total, 4);
    let ids: Vec<&str> = all.items.iter().map(|e| e.job.id.as_str()).collect();
    assert_eq!(ids, ["b", "a", "c", "d"], "by name, case-insensitive");
    assert_eq!(all.items[1].job, a);
    let last = all.items[1].last_run.as_ref().expect("a ran");
    assert_eq!((last.state, last.scheduled), (RunState::Failed, t(0)));
    assert_eq!(
        all.items[0].last_run.as_ref().unwrap().state,
        RunState::Succeeded
    );
    assert_eq!(all.items[2].last_run, None);

    assert_eq!(page_ids(store, q(|q| q.q = Some(" DB ".into()))), ["a"]);
    assert_eq!(
        page_ids(store, q(|q| q.q = Some("disk".into()))),
        ["c"],
        "description"
    );
    assert_eq!(
        page_ids(store, q(|q| q.q = Some("nightly".into()))),
        ["a"],
        "tags"
    );
    assert_eq!(page_ids(store, q(|q| q.q = Some("ZET".into()))), ["d"]);
    assert_eq!(page_ids(store, q(|q| q.tag = Some("db".into()))), ["a"]);
    assert!(
        page_ids(store, q(|q| q.tag = Some("d".into()))).is_empty(),
        "tags match whole"
    );
    assert_eq!(
        page_ids(store, q(|q| q.kind = Some(ActionKind::Monitor))),
        ["c"]
    );
    assert_eq!(
        page_ids(store, q(|q| q.kind = Some(ActionKind::Function))),
        ["b", "d"]
    );
    assert_eq!(page_ids(store, q(|q| q.paused = Some(true))), ["b"]);
    assert_eq!(
        page_ids(store, q(|q| q.paused = Some(false))),
        ["a", "c", "d"]
    );
    assert_eq!(
        page_ids(store, q(|q| q.last_state = Some(RunState::Failed))),
        ["a"]
    );
    assert_eq!(
        page_ids(store, q(|q| q.sort = JobSort::NameDesc)),
        ["d", "c", "a", "b"]
    );
    assert_eq!(
        page_ids(store, q(|q| q.sort = JobSort::NextRun)),
        ["c", "d", "a", "b"]
    );
    assert_eq!(
        page_ids(store, q(|q| q.sort = JobSort::NextRunDesc)),
        ["a", "d", "c", "b"]
    );
    assert_eq!(
        page_ids(store, q(|q| q.sort = JobSort::LastRun)),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        page_ids(store, q(|q| q.sort = JobSort::LastRunDesc)),
        ["b", "a", "c", "d"]
    );
    let page = store
        .query_jobs(&q(|q| {
            q.offset = 1;
            q.limit = Some(2);
        }))
        .unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        page.items
            .iter()
            .map(|e| e.job.id.as_str())
            .collect::<Vec<_>>(),
        ["a", "c"]
    );
    // Walking every order page by page with cursors gives the whole order, once.
    for sort in SORTS {
        let whole = page_ids(
            store,
            JobQuery {
                sort,
                ..Default::default()
            },
        );
        let mut walked = Vec::new();
        let mut after = None;
        loop {
            let query = JobQuery {
                sort,
                limit: Some(1),
                after: after.take(),
                ..Default::default()
            };
            let page = store.query_jobs(&query).unwrap();
            assert_eq!(page.total, 4);
            walked.extend(page.items.into_iter().map(|e| e.job.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(walked, whole, "{sort:?}");
    }
    // A cursor stays put when a job lands before it; an offset would shift.
    let first = store.query_jobs(&q(|q| q.limit = Some(2))).unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|e| e.job.id.as_str())
            .collect::<Vec<_>>(),
        ["b", "a"]
    );
    let mut early = job("e");
    early.name = "Aardvark".into();
    store.add_jobs(&[early]).unwrap();
    let rest = store
        .query_jobs(&q(|q| q.limit = Some(10)).clone())
        .map(|p| p.total)
        .unwrap();
    assert_eq!(rest, 5);
    let after = JobQuery {
        after: first.next.clone(),
        limit: Some(10),
        ..Default::default()
    };
    assert_eq!(page_ids(store, after), ["c", "d"]);
    store.remove_job("e").unwrap();

    let filtered = store.query_jobs(&q(|q| {
        q.paused = Some(false);
        q.limit = Some(1);
    }));
    assert_eq!(filtered.unwrap().total, 3, "the total counts every page");

    assert_eq!(
        store.count_jobs().unwrap(),
        JobCounts {
            total: 4,
            paused: 1,
            monitors: 1,
            failing: 1
        }
    );

    // An edited job is found by what it says now.
    let mut a2 = a.clone();
    a2.name = "Zulu".into();
    a2.tags = vec!["weekly".into()];
    store.update_job(&a2).unwrap();
    assert_eq!(page_ids(store, JobQuery::default()), ["b", "c", "d", "a"]);
    assert!(page_ids(store, q(|q| q.tag = Some("db".into()))).is_empty());
    assert_eq!(page_ids(store, q(|q| q.q = Some("week".into()))), ["a"]);
    store.remove_job("c").unwrap();
    assert_eq!(store.count_jobs().unwrap().monitors, 0);
    // A removed job's runs stay in the history, but it fails no more.
    store.remove_job("a").unwrap();
    assert_eq!(store.count_jobs().unwrap().failing, 0);

    // The counts follow a newest run's state, a newer run and a pause.
    let newest = |id: &str| {
        let page = store.query_jobs(&q(|q| q.limit = Some(1000))).unwrap();
        let entry = page.items.into_iter().find(|e| e.job.id == id).unwrap();
        store.run(entry.last_run.unwrap().id).unwrap().unwrap()
    };
    let mut timed_out = newest("b");
    timed_out.state = RunState::TimedOut;
    store.record_runs(vec![timed_out]);
    store.flush().unwrap();
    assert_eq!(store.count_jobs().unwrap().failing, 1);
    // The next fire's run is the newest, and it has not failed; then it times out too.
    let mut b = store.get_job("b").unwrap().unwrap();
    (b.next_run, b.paused) = (Some(t(30)), false);
    store.update_job(&b).unwrap();
    let won = store
        .claim(&"n".into(), t(0), vec![fire_claim("b", 30, 40)])
        .unwrap();
    assert_eq!(won[0].outcome, ClaimOutcome::Won);
    assert_eq!(store.count_jobs().unwrap().failing, 0);
    (b.next_run, b.paused) = (Some(t(40)), true);
    store.update_job(&b).unwrap();
    let mut timed_out = newest("b");
    assert_eq!(timed_out.id, won[0].runs[0].id);
    timed_out.state = RunState::TimedOut;
    store.record_runs(vec![timed_out]);
    store.flush().unwrap();
    assert_eq!(store.count_jobs().unwrap().failing, 1);
    let mut d2 = store.get_job("d").unwrap().unwrap();
    d2.paused = true;
    store.update_job(&d2).unwrap();
    let runs = vec![run(0, "b", 20, RunState::Succeeded)];
    store
        .claim(&"n".into(), t(0), vec![Claim::insert("b", runs, u32::MAX)])
        .unwrap();
    assert_eq!(
        store.count_jobs().unwrap(),
        JobCounts {
            total: 2,
            paused: 2,
            monitors: 0,
            failing: 0
        }
    );

    // Short text, quotes and other scripts are found as they are written.
    let mut quoted = job("q");
    quoted.name = "Say \"hi\" to Zoë, 100%_done!".into();
    store.add_jobs(&[quoted]).unwrap();
    assert_eq!(page_ids(store, q(|q| q.q = Some("\"HI\"".into()))), ["q"]);
    assert_eq!(page_ids(store, q(|q| q.q = Some("zoë".into()))), ["q"]);
    let by_next_run = |q: &mut JobQuery| {
        q.q = Some("ZOË".into());
        q.sort = JobSort::NextRun;
    };
    assert_eq!(page_ids(store, q(by_next_run)), ["q"]);
    assert_eq!(page_ids(store, q(|q| q.q = Some("ze".into()))), ["d"]);
    assert!(page_ids(store, q(|q| q.q = Some("hi\" tx".into()))).is_empty());
    // LIKE's wildcards and escapes are text like any other (in the count and, ordered by next
    // run, the page that the index finds).
    for (text, ids) in [
        ("0%_done!", vec!["q"]),
        ("%", vec!["q"]),
        ("1_0", vec![]),
        ("0%%", vec![]),
    ] {
        let query = JobQuery {
            q: Some(text.into()),
            sort: JobSort::NextRun,
            ..Default::default()
        };
        let page = store.query_jobs(&query).unwrap();
        assert_eq!(page.total, ids.len(), "{text}");
        assert_eq!(
            page.items
                .iter()
                .map(|e| e.job.id.as_str())
                .collect::<Vec<_>>(),
            ids
        );
    }

    // Any page by offset is that slice of the whole order, whichever end it is read from.
    let more: Vec<Job> = (0..5)
        .map(|i| {
            let mut j = job(&format!("m{i}"));
            j.name = format!("M{}", 4 - i);
            j.next_run = (i % 2 == 0).then(|| t(i));
            j.description = "Batch".into();
            j
        })
        .collect();
    store.add_jobs(&more).unwrap();
    for (text, n) in [(None, 8), (Some("batch"), 5)] {
        for sort in SORTS {
            let all = JobQuery {
                q: text.map(String::from),
                sort,
                ..Default::default()
            };
            let whole = page_ids(store, all.clone());
            assert_eq!(whole.len(), n);
            for offset in 0..=n + 1 {
                for limit in 1..=3 {
                    let query = JobQuery {
                        offset,
                        limit: Some(limit),
                        ..all.clone()
                    };
                    let page = store.query_jobs(&query).unwrap();
                    assert_eq!(page.total, n);
                    let ids: Vec<String> = page.items.into_iter().map(|e| e.job.id).collect();
                    let (from, to) = (offset.min(n), (offset + limit).min(n));
                    let at = format!("{text:?} {sort:?} offset {offset} limit {limit}");
                    assert_eq!(ids, whole[from..to], "{at}");
                    assert_eq!(page.next.is_some(), offset + limit < n, "{at}");
                }
            }
        }
    }

    // Text is found by any order (through the index where a store has one), as edited.
    let found = |text: &str, sort: JobSort| {
        let query = JobQuery {
            q: Some(text.into()),
            sort,
            ..Default::default()
        };
        let page = store.query_jobs(&query).unwrap();
        let ids: Vec<String> = page.items.into_iter().map(|e| e.job.id).collect();
        (page.total, ids)
    };
    let mut m1 = store.get_job("m1").unwrap().unwrap();
    m1.description = "Sweep the logs".into();
    store.update_job(&m1).unwrap();
    store.remove_job("q").unwrap();
    for sort in [JobSort::Name, JobSort::NextRun] {
        assert_eq!(
            found("sweep", sort),
            (1, vec!["m1".to_string()]),
            "{sort:?}"
        );
        assert_eq!(found("batch", sort).0, 4, "{sort:?}");
        assert_eq!(found("zoë", sort), (0, vec![]), "{sort:?}");
    }

    // An abandoned newest run fails its job, until it is pruned away.
    let runs = vec![run(0, "m0", 50, RunState::Running)];
    store
        .claim(
            &"gone".into(),
            t(0),
            vec![Claim::insert("m0", runs, u32::MAX)],
        )
        .unwrap();
    let abandoned = store
        .take_over(t(100), Duration::seconds(1), &["gone".to_string()])
        .unwrap();
    assert_eq!(abandoned.len(), 1);
    assert_eq!(store.count_jobs().unwrap().failing, 1);
    let retention = Retention {
        max_runs: 100,
        max_age_days: 1,
    };
    store.prune_runs("m0", retention, t(0) + Duration::days(10));
    store.flush().unwrap();
    assert_eq!(store.count_jobs().unwrap().failing, 0);
}

/// Declares one `#[test]` per contract function for a store built by `$make`.
macro_rules! contract {
    ($store:ident, $make:expr) => {
        mod $store {
            #[allow(unused_imports)]
            use super::*;

            contract!(@tests $make;
                add_get_list_update_remove,
                duplicate_rejected_atomically,
                update_missing_is_not_found,
                claims_advance_once,
                shared_jobs_reads_those_that_exist,
                overdue_lists_unpaused_jobs_due_before,
                record_runs_upserts,
                workflow_steps_are_linked_and_not_counted,
                tags_count_their_jobs,
                run_queries,
                default_limit_is_100,
                take_over_abandons_dead_nodes_runs,
                cancel_requests_reach_the_running_node,
                channels_and_deliveries_are_kept,
                run_buckets_count,
                duration_percentiles,
                prune_by_count_and_age,
                prune_by_age_out_of_id_order,
                metrics_downsampled,
                settings_round_trip,
                change_counter_moves_on_job_changes,
                job_queries_filter_sort_and_page,
                kind_and_paused_counts_follow_every_change,
            );
        }
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (_guard, store) = $make;
                super::$name(&store);
            }
        )*
    };
}

contract!(memory, ((), MemoryStore::new()));
contract!(sqlite, {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kairos.db")).unwrap();
    (dir, store)
});
contract!(postgres, {
    let db = crate::store::test_pg::TestDb::new();
    let store = crate::store::PgStore::open(&db.url).unwrap();
    (db, store)
});
