//! The misfire and coalesce policy: what to do with a job's overdue fire times.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};

use crate::job::Coalesce;
use crate::trigger::Trigger;

/// Most overdue fire times `Coalesce::All` runs at once; older ones are dropped.
const MAX_CATCH_UP_RUNS: usize = 1000;
/// Most overdue fire times examined before jumping straight to the next one after now.
const MAX_SCAN: usize = 1_000_000;

/// The fate of a job's due fire times.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FirePlan {
    /// Fire times to run.
    pub run: Vec<DateTime<Utc>>,
    /// Fire times too late to run.
    pub missed: Vec<DateTime<Utc>>,
    /// The next fire time after `now`.
    pub next: Option<DateTime<Utc>>,
}

/// Applies coalescing, then the misfire grace time, to the fire times from `first` up to `now`.
pub(crate) fn plan(
    trigger: &Trigger,
    first: DateTime<Utc>,
    now: DateTime<Utc>,
    coalesce: Coalesce,
    grace: Option<Duration>,
) -> FirePlan {
    let mut next = trigger.next_following(first, first);
    let late = |f: &DateTime<Utc>| grace.is_some_and(|g| now - *f > g);
    if next.is_none_or(|t| t > now) {
        // The usual case: one fire time is due.
        let (run, missed) = if late(&first) {
            (vec![], vec![first])
        } else {
            (vec![first], vec![])
        };
        return FirePlan { run, missed, next };
    }
    let mut due = VecDeque::from([first]);
    let mut scanned = 1;
    while let Some(t) = next.filter(|t| *t <= now) {
        scanned += 1;
        match coalesce {
            Coalesce::Earliest => {}
            Coalesce::Latest => due[0] = t,
            Coalesce::All if due.len() < MAX_CATCH_UP_RUNS => due.push_back(t),
            Coalesce::All => {
                due.pop_front();
                due.push_back(t);
            }
        }
        next = if scanned >= MAX_SCAN {
            trigger.next_following(first, now)
        } else {
            trigger.next_following(first, t)
        };
    }
    let (missed, run) = due.into_iter().partition(late);
    FirePlan { run, missed, next }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn every_minute() -> Trigger {
        serde_json::from_value(json!({"type": "interval", "minutes": 1})).unwrap()
    }

    /// Ten minutes of downtime: fire times 10:00 … 10:09 are overdue at 10:09:30.
    fn after_downtime(coalesce: Coalesce, grace_s: Option<i64>) -> FirePlan {
        plan(
            &every_minute(),
            at("2026-01-01T10:00:00Z"),
            at("2026-01-01T10:09:30Z"),
            coalesce,
            grace_s.map(Duration::seconds),
        )
    }

    #[test]
    fn on_time_fire_runs_once() {
        let p = plan(
            &every_minute(),
            at("2026-01-01T10:00:00Z"),
            at("2026-01-01T10:00:00.002Z"),
            Coalesce::Latest,
            Some(Duration::seconds(1)),
        );
        assert_eq!(p.run, [at("2026-01-01T10:00:00Z")]);
        assert!(p.missed.is_empty());
        assert_eq!(p.next, Some(at("2026-01-01T10:01:00Z")));
    }

    #[test]
    fn coalesce_latest_and_earliest_run_once() {
        let p = after_downtime(Coalesce::Latest, None);
        assert_eq!(p.run, [at("2026-01-01T10:09:00Z")]);
        assert_eq!(p.next, Some(at("2026-01-01T10:10:00Z")));
        let p = after_downtime(Coalesce::Earliest, None);
        assert_eq!(p.run, [at("2026-01-01T10:00:00Z")]);
        assert_eq!(p.next, Some(at("2026-01-01T10:10:00Z")));
    }

    #[test]
    fn coalesce_all_runs_each_and_grace_misses_the_late_ones() {
        let p = after_downtime(Coalesce::All, None);
        assert_eq!(p.run.len(), 10);
        let p = after_downtime(Coalesce::All, Some(150));
        // 10:07:00 is 150 s late at 10:09:30: still within grace; 10:06 is not.
        assert_eq!(
            p.run,
            [
                at("2026-01-01T10:07:00Z"),
                at("2026-01-01T10:08:00Z"),
                at("2026-01-01T10:09:00Z")
            ]
        );
        assert_eq!(p.missed.len(), 7);
    }

    #[test]
    fn a_late_single_fire_beyond_grace_is_missed() {
        let p = after_downtime(Coalesce::Latest, Some(10));
        assert!(p.run.is_empty());
        assert_eq!(p.missed, [at("2026-01-01T10:09:00Z")]);
        let p = after_downtime(Coalesce::Earliest, Some(60));
        assert_eq!(p.missed, [at("2026-01-01T10:00:00Z")]);
    }

    #[test]
    fn long_downtime_of_a_frequent_job_stays_bounded() {
        let every_second: Trigger =
            serde_json::from_value(json!({"type": "interval", "seconds": 1})).unwrap();
        let p = plan(
            &every_second,
            at("2026-01-01T00:00:00Z"),
            at("2026-01-02T00:00:00.5Z"),
            Coalesce::All,
            None,
        );
        assert_eq!(p.run.len(), MAX_CATCH_UP_RUNS);
        assert_eq!(p.run.last(), Some(&at("2026-01-02T00:00:00Z")));
        assert_eq!(p.next, Some(at("2026-01-02T00:00:01Z")));
    }

    #[test]
    fn an_interval_goes_on_from_a_fire_time_moved_off_its_grid() {
        // A wall-clock step moved the fire time 0.25 s off the minute: the period counts
        // from there; a cron job reads the wall clock alone.
        let moved = at("2026-01-01T00:00:00.25Z");
        let p = plan(
            &every_minute(),
            moved,
            at("2026-01-01T00:02:30Z"),
            Coalesce::All,
            None,
        );
        assert_eq!(
            p.run,
            [
                moved,
                at("2026-01-01T00:01:00.25Z"),
                at("2026-01-01T00:02:00.25Z")
            ]
        );
        assert_eq!(p.next, Some(at("2026-01-01T00:03:00.25Z")));
        let cron: Trigger =
            serde_json::from_value(json!({"type": "cron", "expression": "* * * * *"})).unwrap();
        let p = plan(&cron, moved, moved, Coalesce::All, None);
        assert_eq!(p.next, Some(at("2026-01-01T00:01:00Z")));
    }
}
