//! Adds of many jobs, checked on several threads with their slots built apart (see
//! `scheduler::admit`): each job is queued once and fires, beside jobs already queued too.

use super::*;

/// More jobs than `admit::APART`, each due at the start.
fn many(prefix: &str) -> Vec<Job> {
    (0..5000)
        .map(|i| job(&format!("{prefix}{i:04}"), every(60), "ok"))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_big_add_into_an_empty_scheduler_queues_and_fires_every_job() {
    let f = fixture();
    let added = f.scheduler.add_jobs(many("j")).unwrap();
    assert!(added.iter().all(|j| j.next_run == Some(base())));
    {
        let state = lock(&f.scheduler.inner.state);
        assert_eq!((state.slots.len(), state.queue.len()), (5000, 5000));
    }
    advance(1.0).await;
    assert_eq!(f.scheduler.stats().started, 5000);
    for i in [0, 2499, 2500, 4999] {
        assert_eq!(
            states(&runs_of(&f, &format!("j{i:04}"))),
            [RunState::Succeeded]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_big_add_beside_queued_jobs_keeps_them_and_queues_each_new_job_once() {
    let f = fixture();
    let later = base() + Duration::seconds(30);
    f.scheduler
        .add_job(job(
            "before",
            json!({"type": "interval", "seconds": 60, "start": later}),
            "ok",
        ))
        .unwrap();
    // The change watcher saw one of the new jobs first and queued it at another time.
    {
        let mut state = lock(&f.scheduler.inner.state);
        let id: Arc<str> = "j0007".into();
        state.slots.insert(id.clone(), Slot::default());
        state.enqueue(&id, Some((later, later)));
    }
    let mut jobs = many("j");
    jobs[9].paused = true;
    f.scheduler.add_jobs(jobs).unwrap();
    {
        let state = lock(&f.scheduler.inner.state);
        assert_eq!(state.slots.len(), 5001);
        // All but the paused one, and the job from before.
        assert_eq!(state.queue.len(), 5000);
        let seen = &state.slots["j0007"];
        assert_eq!(seen.due, Some((base(), base())));
        assert!(state.queue.contains(&(base(), seen.seq, "j0007".into())));
        assert_eq!(state.slots["j0009"].due, None);
    }
    advance(1.0).await;
    assert_eq!(f.scheduler.stats().started, 4999);
    assert_eq!(states(&runs_of(&f, "j0007")), [RunState::Succeeded]);
    assert!(runs_of(&f, "j0009").is_empty());
    advance(30.0).await;
    assert_eq!(states(&runs_of(&f, "before")), [RunState::Succeeded]);
    assert_eq!(runs_of(&f, "j0007").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_big_add_reports_its_first_invalid_job_and_adds_none() {
    let f = fixture();
    let field = |jobs: Vec<Job>| match f.scheduler.add_jobs(jobs) {
        Err(SchedulerError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    // The two halves are checked on two threads: the earlier job's error wins.
    let mut jobs = many("j");
    jobs[100].name = " ".into();
    jobs[4900].id = "a/b".into();
    assert_eq!(field(jobs), "name");
    // One in the last part only is found too.
    let mut jobs = many("j");
    jobs[4900].id = "a/b".into();
    assert_eq!(field(jobs), "id");
    assert!(f.scheduler.list_jobs().unwrap().is_empty());
    assert!(lock(&f.scheduler.inner.state).slots.is_empty());
}
