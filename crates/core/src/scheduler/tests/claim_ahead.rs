//! Fires claimed ahead of their time (as on PostgreSQL and SQLite, where a claim's commit
//! takes milliseconds): each run still starts at its fire time, and the claim changes nothing
//! else.

use super::*;

const AHEAD: StdDuration = StdDuration::from_millis(100);

/// A started scheduler on a memory store that claims fires [`AHEAD`], with a function
/// `count` that counts its runs and one, `long`, that takes 950 ms.
fn claiming_ahead() -> (Fixture, Arc<AtomicU32>) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(TestClock::new(base()));
    let scheduler = Scheduler::builder()
        .store(store.clone())
        .clock(clock.clone())
        .claim_ahead(AHEAD)
        .build()
        .unwrap();
    let count = Arc::new(AtomicU32::new(0));
    let counted = count.clone();
    scheduler.register("count", move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    scheduler.register("long", |_| async {
        tokio::time::sleep(StdDuration::from_millis(950)).await;
    });
    let events = scheduler.events().subscribe(EventMask::ALL);
    scheduler.start().unwrap();
    let f = Fixture {
        scheduler,
        clock,
        store,
        events,
    };
    (f, count)
}

/// [`claiming_ahead`] with job `a` (`count`, once a minute from 1 s) added and 0.95 s passed:
/// its first fire is claimed and waits for its start.
async fn claimed_and_waiting() -> (Fixture, Arc<AtomicU32>) {
    let (f, count) = claiming_ahead();
    f.scheduler
        .add_job(job("a", every_from_1s(60), "count"))
        .unwrap();
    advance(0.95).await;
    (f, count)
}

/// Every `seconds` from one second after `base()`.
fn every_from_1s(seconds: u32) -> serde_json::Value {
    let start = base() + Duration::seconds(1);
    json!({"type": "interval", "seconds": seconds, "start": start.to_rfc3339()})
}

/// When each event of `kind` was emitted, in seconds after `base()`.
fn heard(seen: &[Envelope], kind: fn(&Event) -> bool) -> Vec<f64> {
    seen.iter()
        .filter(|e| kind(&e.event))
        .map(|e| (e.at - base()).num_milliseconds() as f64 / 1000.0)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_fire_claimed_ahead_starts_at_its_fire_time() {
    let (mut f, count) = claiming_ahead();
    f.scheduler
        .add_job(job("a", every_from_1s(60), "count"))
        .unwrap();
    advance(1.5).await;
    let seen = drain(&mut f.events);
    let submitted = heard(&seen, |e| matches!(e, Event::RunSubmitted(_)));
    let started = heard(&seen, |e| matches!(e, Event::RunStarted(_)));
    assert_eq!((submitted, started), (vec![0.9], vec![1.0]));
    let runs = runs(&f.store, "a");
    let fire = base() + Duration::seconds(1);
    assert_eq!(states(&runs), [RunState::Succeeded]);
    assert_eq!((runs[0].scheduled, runs[0].started), (fire, Some(fire)));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// With its one instance still running when the next fire comes within the window, the fire
/// is claimed at its time rather than skipped ahead of it; and the loop does not spin
/// meanwhile (under the paused clock it would never let time pass).
#[tokio::test(start_paused = true)]
async fn a_job_at_max_instances_is_claimed_at_its_time_not_skipped() {
    let (f, _) = claiming_ahead();
    f.scheduler
        .add_job(job("long", every_from_1s(1), "long"))
        .unwrap();
    advance(5.5).await;
    let runs = runs(&f.store, "long");
    // Fires at 1..=5 s: each ran 950 ms, ending 50 ms after the next one came within reach.
    assert_eq!(states(&runs[..4]), [RunState::Succeeded; 4]);
    assert_eq!(runs[4].state, RunState::Running);
    for (i, run) in runs.iter().enumerate() {
        let fire = base() + Duration::seconds(i as i64 + 1);
        assert_eq!((run.scheduled, run.started), (fire, Some(fire)));
    }
}

/// Forty fires 5 ms apart are claimed a quarter window at a time (a store commits each
/// claim), each still ahead of its time, and each run starts at its time.
#[tokio::test(start_paused = true)]
async fn dense_fires_are_claimed_a_quarter_window_at_a_time() {
    let (mut f, count) = claiming_ahead();
    for i in 0..40 {
        let start = base() + Duration::milliseconds(1000 + 5 * i);
        let trigger = json!({"type": "interval", "seconds": 60, "start": start.to_rfc3339()});
        f.scheduler
            .add_job(job(&format!("j{i:02}"), trigger, "count"))
            .unwrap();
    }
    advance(1.5).await;
    let seen = drain(&mut f.events);
    let mut claimed = heard(&seen, |e| matches!(e, Event::RunSubmitted(_)));
    claimed.dedup();
    let quarter: Vec<f64> = (0..9).map(|i| (900.0 + 25.0 * i as f64) / 1000.0).collect();
    assert_eq!(claimed, quarter);
    assert_eq!(count.load(Ordering::SeqCst), 40);
    for i in 0..40 {
        let runs = runs(&f.store, &format!("j{i:02}"));
        let fire = base() + Duration::milliseconds(1000 + 5 * i);
        assert_eq!((runs[0].scheduled, runs[0].started), (fire, Some(fire)));
    }
}

/// A fire put off at `max_instances` is claimed at its start even when the loop, claiming a
/// busy neighbour's fires a quarter window at a time, would next wake after it.
#[tokio::test(start_paused = true)]
async fn a_put_off_fire_starts_on_time_beside_a_busy_neighbour() {
    let (f, _) = claiming_ahead();
    // The neighbour sets the loop's turns 25 ms apart from 0.4 s; the long job's fires at
    // 1.013, 2.013, … s fall between two.
    let from = |ms: i64| (base() + Duration::milliseconds(ms)).to_rfc3339();
    let trigger = json!({"type": "interval", "milliseconds": 20, "start": from(500)});
    let mut busy = job("busy", trigger, "count");
    busy.options.max_instances = Some(10);
    f.scheduler.add_job(busy).unwrap();
    let trigger = json!({"type": "interval", "seconds": 1, "start": from(1013)});
    f.scheduler.add_job(job("long", trigger, "long")).unwrap();
    advance(3.5).await;
    let runs = runs(&f.store, "long");
    assert_eq!(runs.len(), 3, "{runs:?}");
    for (i, run) in runs.iter().enumerate() {
        let fire = base() + Duration::milliseconds(1013 + 1000 * i as i64);
        assert_eq!((run.scheduled, run.started), (fire, Some(fire)));
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_claimed_ahead_can_be_cancelled_before_it_starts() {
    let (mut f, count) = claimed_and_waiting().await;
    let id = drain(&mut f.events)
        .iter()
        .find_map(|e| match &e.event {
            Event::RunSubmitted(run) => Some(run.run_id),
            _ => None,
        })
        .expect("claimed ahead");
    f.scheduler.cancel_run(id).unwrap();
    advance(1.0).await;
    let runs = runs(&f.store, "a");
    assert_eq!(states(&runs), [RunState::Cancelled]);
    assert_eq!((runs[0].started, count.load(Ordering::SeqCst)), (None, 0));
}

/// Shutdown in the window between a claim and its fire time still runs it, at its time.
#[tokio::test(start_paused = true)]
async fn shutdown_starts_the_runs_it_claimed_ahead() {
    let (f, count) = claimed_and_waiting().await;
    f.scheduler.shutdown(StdDuration::from_secs(5)).await;
    let runs = runs(&f.store, "a");
    let fire = base() + Duration::seconds(1);
    assert_eq!(states(&runs), [RunState::Succeeded]);
    assert_eq!(runs[0].started, Some(fire));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// With no grace left for it, a run waiting for its start is recorded cancelled, before
/// shutdown returns.
#[tokio::test(start_paused = true)]
async fn shutdown_without_grace_cancels_the_runs_it_claimed_ahead() {
    let (f, count) = claimed_and_waiting().await;
    f.scheduler.shutdown(StdDuration::ZERO).await;
    let runs = runs(&f.store, "a");
    assert_eq!(states(&runs), [RunState::Cancelled]);
    let why = "the scheduler shut down before it started";
    assert_eq!(runs[0].error.as_deref(), Some(why));
    advance(1.0).await;
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

/// The wait for a claimed run is elapsed time: a step of the wall clock in the window
/// neither holds the run back nor starts it early.
#[tokio::test(start_paused = true)]
async fn a_run_claimed_ahead_waits_in_elapsed_time_across_a_clock_step() {
    for step in [Duration::hours(-1), Duration::hours(1)] {
        let (f, count) = claimed_and_waiting().await;
        f.clock.jump(step);
        advance(0.04).await;
        assert_eq!(count.load(Ordering::SeqCst), 0, "{step}");
        advance(0.02).await;
        assert_eq!(count.load(Ordering::SeqCst), 1, "{step}");
        f.scheduler.shutdown(StdDuration::from_secs(1)).await;
    }
}

/// A period shorter than the window, with the window holding several fires at once: each
/// is claimed once, in order, and none starts before its time. (The memory store decides a
/// batch's claims one by one; the PostgreSQL variant below is where a job twice in one batch
/// would go wrong.)
#[tokio::test(start_paused = true)]
async fn a_period_shorter_than_the_window_claims_each_fire_once() {
    let (f, count) = claiming_ahead();
    claims_each_short_period_fire_once(&f.scheduler, f.store.as_ref(), &f.clock, &count).await;
}

/// Adds a job firing every 30 ms from 10 ms on (several fires in the claim window at once)
/// to `scheduler`, lets half a second pass and checks its runs.
async fn claims_each_short_period_fire_once(
    scheduler: &Scheduler,
    store: &dyn JobStore,
    clock: &TestClock,
    count: &AtomicU32,
) {
    let start = DateTime::from_timestamp_millis(clock.now().timestamp_millis() + 10).unwrap();
    let trigger = json!({"type": "interval", "milliseconds": 30, "start": start.to_rfc3339()});
    let mut fast = job("fast", trigger, "count");
    // Not held back by its own runs waiting to start.
    fast.options.max_instances = Some(10);
    scheduler.add_job(fast).unwrap();
    advance(0.5).await;
    store.flush().unwrap();
    let query = RunQuery {
        job_id: Some("fast".into()),
        ..Default::default()
    };
    let mut runs = store.runs(&query).unwrap();
    runs.reverse();
    // Fires at 0.010, 0.040, …, 0.490 s ran; 0.520, 0.550 and 0.580 are claimed, waiting.
    assert_eq!(runs.len(), 20, "{runs:?}");
    assert_eq!(count.load(Ordering::SeqCst), 17);
    let now = clock.now();
    for (i, run) in runs.iter().enumerate() {
        let fire = start + Duration::milliseconds(30 * i as i64);
        assert_eq!(run.scheduled, fire);
        if fire <= now {
            assert_eq!(run.state, RunState::Succeeded);
            assert!(run.started.is_some_and(|s| s >= fire), "{run:?}");
        } else {
            assert_eq!((run.state, run.started), (RunState::Submitted, None));
        }
    }
}

/// A job paused or removed after its fire was claimed, before its time, does not run: the
/// claimed run is recorded cancelled, saying why.
#[tokio::test(start_paused = true)]
async fn a_job_paused_or_removed_in_the_window_does_not_start() {
    let (f, count) = claiming_ahead();
    for id in ["paused", "removed"] {
        f.scheduler
            .add_job(job(id, every_from_1s(60), "count"))
            .unwrap();
    }
    advance(0.95).await;
    f.scheduler.pause_job("paused").unwrap();
    f.scheduler.remove_job("removed").unwrap();
    advance(1.0).await;
    assert_eq!(count.load(Ordering::SeqCst), 0);
    for (id, why) in [
        ("paused", "its job was paused before it started"),
        ("removed", "its job was removed before it started"),
    ] {
        let runs = runs(&f.store, id);
        assert_eq!(states(&runs), [RunState::Cancelled], "{id}");
        assert_eq!(runs[0].error.as_deref(), Some(why));
    }
}

/// PostgreSQL claims ahead by default, and the run still starts at its fire time.
#[cfg(feature = "postgres")]
#[test]
fn postgres_claims_ahead_and_starts_the_run_at_its_fire_time() {
    // The database and its store are made and dropped outside the test's (paused) runtime.
    let db = crate::store::test_pg::TestDb::new();
    let store = Arc::new(crate::store::PgStore::open(&db.url).unwrap());
    // Near the real time: the node compares its clock with the database's.
    let now = Utc::now();
    let start = now - Duration::nanoseconds(now.timestamp_subsec_nanos().into());
    let fire = start + Duration::seconds(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let seen = runtime.block_on(async {
        let scheduler = Scheduler::with_clock(store.clone(), Arc::new(TestClock::new(start)));
        scheduler.register("ok", |_| async {});
        let mut events = scheduler.events().subscribe(EventMask::ALL);
        scheduler.start().unwrap();
        let trigger = json!({"type": "interval", "seconds": 60, "start": fire.to_rfc3339()});
        scheduler.add_job(job("a", trigger, "ok")).unwrap();
        advance(1.5).await;
        scheduler.shutdown(StdDuration::from_secs(1)).await;
        drain(&mut events)
    });
    drop(runtime);
    store.flush().unwrap();
    let query = RunQuery {
        job_id: Some("a".into()),
        ..Default::default()
    };
    let runs = store.runs(&query).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0].scheduled, runs[0].started), (fire, Some(fire)));
    let at = |kind: fn(&Event) -> bool| seen.iter().find(|e| kind(&e.event)).map(|e| e.at);
    let ahead = Duration::milliseconds(100);
    let submitted = at(|e| matches!(e, Event::RunSubmitted(_)));
    assert_eq!(submitted, Some(fire - ahead), "claimed ahead");
    assert_eq!(at(|e| matches!(e, Event::RunStarted(_))), Some(fire));
}

/// The same on PostgreSQL, which claims each fire 100 ms ahead by default and decides a
/// batch's advances in one statement: a job twice in it would have both claims won.
#[cfg(feature = "postgres")]
#[test]
fn postgres_claims_each_fire_of_a_short_period_once() {
    let db = crate::store::test_pg::TestDb::new();
    let store = Arc::new(crate::store::PgStore::open(&db.url).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let clock = Arc::new(TestClock::new(Utc::now()));
        let scheduler = Scheduler::with_clock(store.clone(), clock.clone());
        let count = Arc::new(AtomicU32::new(0));
        let counted = count.clone();
        scheduler.register("count", move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        scheduler.start().unwrap();
        claims_each_short_period_fire_once(&scheduler, store.as_ref(), &clock, &count).await;
        scheduler.shutdown(StdDuration::from_secs(1)).await;
    });
}
