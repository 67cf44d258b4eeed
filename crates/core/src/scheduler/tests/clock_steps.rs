//! When the wall clock moves: steps back and forward, a suspend, and a slew, for interval and
//! cron jobs, on one process and on two sharing a database.

use super::*;

/// Each run's fire time, in seconds from `base()` (to the millisecond), and its state.
fn fires(runs: &[RunRecord]) -> Vec<(f64, RunState)> {
    runs.iter()
        .map(|r| {
            (
                (r.scheduled - base()).num_milliseconds() as f64 / 1000.0,
                r.state,
            )
        })
        .collect()
}

/// The clock events heard: how far, and whether the machine slept.
fn clock_events(events: &mut Listener) -> Vec<(i64, bool)> {
    drain(events)
        .iter()
        .filter_map(|e| match e.event {
            Event::ClockJumped { by_ms, suspended } => Some((by_ms / 1000, suspended)),
            _ => None,
        })
        .collect()
}

/// Every run started within a second of its fire time, as read on the clock at the time.
fn on_time(runs: &[RunRecord]) -> bool {
    runs.iter().all(|r| {
        r.started
            .is_some_and(|s| (s - r.scheduled).num_milliseconds().abs() < 1000)
    })
}

const OK: RunState = RunState::Succeeded;

#[tokio::test(start_paused = true)]
async fn after_a_step_back_an_interval_job_keeps_its_period_and_cron_reruns_nothing() {
    let mut f = fixture();
    f.scheduler.add_job(job("tick", every(10), "ok")).unwrap();
    let cron = json!({"type": "cron", "expression": "* * * * * *", "timezone": "UTC"});
    f.scheduler.add_job(job("each-second", cron, "ok")).unwrap();
    advance(25.5).await;
    let cron_before = runs(&f.store, "each-second").len();
    f.clock.jump(-Duration::hours(1));
    advance(30.0).await;
    assert_eq!(clock_events(&mut f.events), [(-3600, false)]);
    // Not an hour of silence: every 10 s of elapsed time, 1 ms beside the times that ran
    // before (a whole number of periods back), each on time by the clock it fired on.
    let tick = runs(&f.store, "tick");
    assert_eq!(
        fires(&tick),
        [
            (0.0, OK),
            (10.0, OK),
            (20.0, OK),
            (-3570.0 + 0.001, OK),
            (-3560.0 + 0.001, OK),
            (-3550.0 + 0.001, OK),
        ]
    );
    assert!(on_time(&tick), "{tick:?}");
    // The cron job's next fire time (0:00:26) ran… never again before it: its earlier times
    // ran already, once each.
    let cron = runs(&f.store, "each-second");
    assert_eq!(cron.len(), cron_before);
    let job = f.scheduler.get_job("each-second").unwrap();
    assert_eq!(job.next_run, Some(base() + Duration::seconds(26)));
}

#[tokio::test(start_paused = true)]
async fn after_a_step_forward_an_interval_job_misses_nothing() {
    let mut f = fixture();
    let mut tick = job("tick", every(10), "ok");
    tick.options.coalesce = Some(Coalesce::All);
    f.scheduler.add_job(tick).unwrap();
    advance(25.5).await;
    f.clock.jump(Duration::hours(1));
    advance(20.0).await;
    assert_eq!(clock_events(&mut f.events), [(3600, false)]);
    // No catch-up of an hour that did not pass: the period goes on in elapsed time.
    assert_eq!(
        fires(&runs(&f.store, "tick")),
        [
            (0.0, OK),
            (10.0, OK),
            (20.0, OK),
            (3630.0, OK),
            (3640.0, OK)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_suspend_is_downtime() {
    let mut f = fixture();
    let mut j = job("minutely", every(60), "ok");
    j.options.misfire_grace_time_s = Some(30);
    f.scheduler.add_job(j).unwrap();
    advance(1.0).await;
    f.clock.suspend(Duration::hours(2) + Duration::seconds(5));
    advance(80.0).await;
    assert_eq!(clock_events(&mut f.events), [(7205, true)]);
    // The loop wakes within its bounded sleep (30 s), when the wall clock reads 2:00:35:
    // the latest overdue fire (2:00) is 35 s late, beyond the 30 s grace, so it is missed
    // instead of replaying two hours; the schedule goes on at 2:01.
    assert_eq!(
        fires(&runs(&f.store, "minutely")),
        [(0.0, OK), (7200.0, RunState::Missed), (7260.0, OK)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_slew_moves_nothing() {
    let mut f = fixture();
    f.scheduler.add_job(job("tick", every(10), "ok")).unwrap();
    advance(5.0).await;
    // NTP slews small differences in gradually; fire times follow the clock as it reads.
    for _ in 0..4 {
        f.clock.jump(-Duration::milliseconds(500));
        advance(5.0).await;
    }
    advance(6.0).await;
    assert_eq!(clock_events(&mut f.events), []);
    assert_eq!(
        fires(&runs(&f.store, "tick")),
        [(0.0, OK), (10.0, OK), (20.0, OK)]
    );
}

#[tokio::test(start_paused = true)]
async fn two_processes_that_see_the_step_move_the_job_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kairos.db");
    let clock = Arc::new(TestClock::new(base()));
    let (a, b) = (on_file(&path, &clock), on_file(&path, &clock));
    patient(&[&a, &b]);
    a.add_job(job("tick", every(10), "ok")).unwrap();
    a.start().unwrap();
    b.start().unwrap();
    advance(25.5).await;
    clock.jump(-Duration::minutes(30) - Duration::milliseconds(2500));
    advance(30.0).await;
    a.shutdown(StdDuration::from_secs(5)).await;
    b.shutdown(StdDuration::from_secs(5)).await;
    // Each saw the step; one moved the job, the other followed: one run per fire time.
    let runs = stored_runs(&a, "tick");
    assert_eq!(
        fires(&runs),
        [
            (0.0, OK),
            (10.0, OK),
            (20.0, OK),
            (-1772.5, OK),
            (-1762.5, OK),
            (-1752.5, OK),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_back_of_whole_periods_on_a_real_database_runs_new_fire_times() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::new(base()));
    let s = on_file(&dir.path().join("kairos.db"), &clock);
    s.add_job(job("tick", every(10), "ok")).unwrap();
    s.start().unwrap();
    advance(25.5).await;
    // Two periods back, give or take what two readings of a real clock differ by.
    clock.jump(-Duration::seconds(20) - Duration::microseconds(300));
    advance(30.0).await;
    s.shutdown(StdDuration::from_secs(5)).await;
    // One run per fire time is the database's rule: 0:10 and 0:20 ran already, and would be
    // dropped. The new fire times are 1 ms beside them, so they run.
    assert_eq!(
        fires(&stored_runs(&s, "tick")),
        [
            (0.0, OK),
            (10.0, OK),
            (20.0, OK),
            (10.001, OK),
            (20.001, OK),
            (30.001, OK),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_during_a_suspend_moves_interval_jobs_by_the_step_alone() {
    let mut f = fixture();
    f.scheduler.add_job(job("tick", every(10), "ok")).unwrap();
    advance(25.5).await;
    // An hour asleep, and the clock set 10 minutes back meanwhile: 50 minutes on the clock.
    f.clock.suspend(Duration::hours(1));
    f.clock.jump(-Duration::minutes(10));
    advance(20.0).await;
    assert_eq!(clock_events(&mut f.events), [(3000, true)]);
    // The hour asleep is downtime (the latest overdue fire runs); the next fire time moved
    // 10 minutes back (and 1 ms, beside the old ones), so the period goes on from there.
    assert_eq!(
        fires(&runs(&f.store, "tick")),
        [
            (0.0, OK),
            (10.0, OK),
            (20.0, OK),
            (3020.001, OK),
            (3030.001, OK),
            (3040.001, OK),
        ]
    );
}
