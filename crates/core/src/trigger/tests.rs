//! JSON shapes of every trigger, and the behaviour of the non-cron triggers.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn trigger(value: serde_json::Value) -> Trigger {
    serde_json::from_value(value).unwrap()
}

fn rejected(value: serde_json::Value) -> String {
    serde_json::from_value::<Trigger>(value)
        .unwrap_err()
        .to_string()
}

fn times(t: &Trigger, after: &str, n: usize) -> Vec<String> {
    t.preview(at(after), n)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect()
}

#[test]
fn every_trigger_round_trips_through_json() {
    let shapes = [
        json!({"type": "date", "at": "2026-01-01T09:00:00Z", "timezone": "Europe/Paris"}),
        json!({"type": "interval", "hours": 1, "minutes": 30, "start": "2026-01-01T00:00:00Z",
               "end": "2026-02-01T00:00:00Z", "timezone": "UTC"}),
        json!({"type": "interval", "weeks": 1, "days": 2, "seconds": 5, "timezone": "Asia/Tokyo"}),
        json!({"type": "cron", "expression": "0 9 * * mon-fri", "timezone": "Europe/London"}),
        json!({"type": "cron", "expression": "*/5 * * * *", "timezone": "UTC",
               "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}),
        json!({"type": "calendar_interval", "every": 2, "unit": "months",
               "start_date": "2026-01-31", "time": "09:00:00", "timezone": "America/New_York",
               "end": "2030-01-01T00:00:00Z"}),
        json!({"type": "or", "triggers": [
            {"type": "cron", "expression": "0 9 * * *", "timezone": "UTC"},
            {"type": "date", "at": "2026-01-01T09:00:00Z", "timezone": "UTC"}]}),
        json!({"type": "and", "threshold_seconds": 5, "max_iterations": 100, "triggers": [
            {"type": "cron", "expression": "0 9 * * *", "timezone": "UTC"},
            {"type": "interval", "hours": 3, "timezone": "UTC"}]}),
    ];
    for shape in shapes {
        let t = trigger(shape.clone());
        assert_eq!(serde_json::to_value(&t).unwrap(), shape);
        let again: Trigger = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(again, t);
    }
}

#[test]
fn defaults_fill_in_when_omitted() {
    let t = trigger(json!({"type": "cron", "expression": "@daily"}));
    assert_eq!(
        serde_json::to_value(&t).unwrap(),
        json!({"type": "cron", "expression": "@daily", "timezone": "UTC"})
    );
    let t = trigger(json!({"type": "and", "triggers": [{"type": "cron", "expression": "@daily"}]}));
    let v = serde_json::to_value(&t).unwrap();
    assert_eq!(v["threshold_seconds"], 1);
    assert_eq!(v["max_iterations"], 10_000);
}

#[test]
fn bad_input_is_rejected_with_the_field_named() {
    assert!(
        rejected(json!({"type": "cron", "expression": "0 25 * * *"}))
            .contains("hour: 25 is out of range 0-23")
    );
    assert!(rejected(
        json!({"type": "cron", "expression": "* * * * *", "timezone": "Mars/Olympus"})
    )
    .contains("Mars/Olympus"));
    assert!(rejected(json!({"type": "interval"})).contains("the period is zero"));
    assert!(rejected(
        json!({"type": "interval", "hours": 1, "start": "2026-02-01T00:00:00Z",
        "end": "2026-01-01T00:00:00Z"})
    )
    .contains("end: "));
    assert!(rejected(
        json!({"type": "calendar_interval", "every": 0, "unit": "days",
        "start_date": "2026-01-01"})
    )
    .contains("every: must be at least 1"));
    assert!(rejected(json!({"type": "or", "triggers": []})).contains("needs at least one"));
    assert!(rejected(json!({"type": "cron", "expresion": "* * * * *"})).contains("expresion"));
    assert!(rejected(json!({"type": "weekly"})).contains("weekly"));
    assert_eq!(
        parse_time_zone("Mars/Olympus").unwrap_err().to_string(),
        "unknown time zone 'Mars/Olympus': use an IANA name such as 'Europe/London' or 'UTC'"
    );
}

#[test]
fn date_fires_once() {
    let t = trigger(json!({"type": "date", "at": "2026-01-01T09:00:00Z"}));
    assert_eq!(
        times(&t, "2025-01-01T00:00:00Z", 3),
        ["2026-01-01T09:00:00+00:00"]
    );
    assert!(times(&t, "2026-01-01T09:00:00Z", 1).is_empty());
}

#[test]
fn interval_counts_elapsed_time_through_dst() {
    // 24 hours from 12:00 EST lands on 13:00 EDT after the spring-forward change.
    let t = trigger(
        json!({"type": "interval", "days": 1, "start": "2026-03-07T17:00:00Z",
        "end": "2026-03-09T17:00:00Z", "timezone": "America/New_York"}),
    );
    assert_eq!(
        times(&t, "2026-03-01T00:00:00Z", 5),
        [
            "2026-03-07T17:00:00+00:00",
            "2026-03-08T17:00:00+00:00",
            "2026-03-09T17:00:00+00:00"
        ]
    );
    // Without a start, fire times align to the epoch.
    let t = trigger(json!({"type": "interval", "minutes": 15}));
    assert_eq!(
        times(&t, "2026-01-01T10:07:30Z", 2),
        ["2026-01-01T10:15:00+00:00", "2026-01-01T10:30:00+00:00"]
    );
    assert_eq!(
        times(&t, "2026-01-01T10:15:00Z", 1),
        ["2026-01-01T10:30:00+00:00"]
    );
}

#[test]
fn calendar_interval_counts_wall_clock_time() {
    // Every month on the 31st at 09:00 New York time: months without a 31st are skipped, and
    // the wall-clock time holds across the DST change.
    let t = trigger(
        json!({"type": "calendar_interval", "every": 1, "unit": "months",
        "start_date": "2026-01-31", "time": "09:00:00", "timezone": "America/New_York"}),
    );
    assert_eq!(
        times(&t, "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-31T14:00:00+00:00",
            "2026-03-31T13:00:00+00:00",
            "2026-05-31T13:00:00+00:00",
            "2026-07-31T13:00:00+00:00"
        ]
    );
    // From far after the start, the search jumps rather than walking.
    assert_eq!(
        times(&t, "2090-12-15T00:00:00Z", 1),
        ["2090-12-31T14:00:00+00:00"]
    );
    // Every 2 weeks at 02:30, which the 2026-03-08 gap swallows: fires at 03:00 EDT.
    let t = trigger(
        json!({"type": "calendar_interval", "every": 2, "unit": "weeks",
        "start_date": "2026-02-22", "time": "02:30:00", "timezone": "America/New_York"}),
    );
    assert_eq!(
        times(&t, "2026-02-23T00:00:00Z", 2),
        ["2026-03-08T07:00:00+00:00", "2026-03-22T06:30:00+00:00"]
    );
    // Every year on 1 November at 01:30 New York time: the overlap's earlier instant (EDT).
    let t = trigger(
        json!({"type": "calendar_interval", "every": 1, "unit": "years",
        "start_date": "2026-11-01", "time": "01:30:00", "timezone": "America/New_York",
        "end": "2027-12-31T00:00:00Z"}),
    );
    assert_eq!(
        times(&t, "2026-01-01T00:00:00Z", 3),
        ["2026-11-01T05:30:00+00:00", "2027-11-01T05:30:00+00:00"]
    );
    // Every 3 days.
    let t = trigger(
        json!({"type": "calendar_interval", "every": 3, "unit": "days",
        "start_date": "2026-12-30", "time": "12:00:00"}),
    );
    assert_eq!(
        times(&t, "2026-12-31T00:00:00Z", 2),
        ["2027-01-02T12:00:00+00:00", "2027-01-05T12:00:00+00:00"]
    );
}

#[test]
fn or_takes_the_earliest_member() {
    let t = trigger(json!({"type": "or", "triggers": [
        {"type": "cron", "expression": "0 9 * * *"},
        {"type": "cron", "expression": "30 12 * * *"},
        {"type": "date", "at": "2026-01-01T10:00:00Z"}]}));
    assert_eq!(
        times(&t, "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-01T09:00:00+00:00",
            "2026-01-01T10:00:00+00:00",
            "2026-01-01T12:30:00+00:00",
            "2026-01-02T09:00:00+00:00"
        ]
    );
}

#[test]
fn and_fires_where_members_agree_and_gives_up_when_they_never_do() {
    // Every 3 hours (from the epoch) and at minute 0 of hours 9-17: 09:00, 12:00, 15:00.
    let t = trigger(json!({"type": "and", "triggers": [
        {"type": "interval", "hours": 3},
        {"type": "cron", "expression": "0 9-17 * * *"}]}));
    assert_eq!(
        times(&t, "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-01T09:00:00+00:00",
            "2026-01-01T12:00:00+00:00",
            "2026-01-01T15:00:00+00:00",
            "2026-01-02T09:00:00+00:00"
        ]
    );
    // Even seconds and odd seconds never meet with a zero threshold.
    let t = trigger(json!({"type": "and", "threshold_seconds": 0, "triggers": [
        {"type": "cron", "expression": "*/2 * * * * *"},
        {"type": "cron", "expression": "1/2 * * * * *"}]}));
    assert_eq!(t.next_after(at("2026-01-01T00:00:00Z")), None);
}

#[test]
fn summaries_read_well() {
    let cases = [
        (
            json!({"type": "interval", "hours": 1, "minutes": 30}),
            "every 1h 30m",
        ),
        (
            json!({"type": "interval", "milliseconds": 250}),
            "every 250ms",
        ),
        (
            json!({"type": "cron", "expression": "0 9 * * 1-5"}),
            "cron 0 9 * * 1-5",
        ),
        (
            json!({"type": "cron", "expression": "@daily", "timezone": "Europe/London"}),
            "cron @daily (Europe/London)",
        ),
        (
            json!({"type": "date", "at": "2026-01-01T09:00:00Z", "timezone": "Asia/Tokyo"}),
            "once at 2026-01-01T18:00:00+09:00",
        ),
        (
            json!({"type": "calendar_interval", "every": 2, "unit": "months",
                   "start_date": "2026-01-31", "time": "09:00:00"}),
            "every 2 months from 2026-01-31 at 09:00:00 (UTC)",
        ),
        (
            json!({"type": "or", "triggers": [{"type": "cron", "expression": "@daily"}]}),
            "any of 1 triggers",
        ),
    ];
    for (shape, want) in cases {
        assert_eq!(trigger(shape).summary(), want);
    }
}

#[test]
fn fire_times_are_whole_milliseconds() {
    let start = "2026-01-01T00:00:00.123456789Z";
    let t = trigger(json!({"type": "interval", "seconds": 1, "start": start}));
    assert_eq!(
        times(&t, "2025-01-01T00:00:00Z", 2),
        [
            "2026-01-01T00:00:00.123+00:00",
            "2026-01-01T00:00:01.123+00:00"
        ]
    );
    let t = trigger(json!({"type": "date", "at": start}));
    assert_eq!(
        times(&t, "2025-01-01T00:00:00Z", 1),
        ["2026-01-01T00:00:00.123+00:00"]
    );
    // A stored (truncated) fire time is not followed by its own untruncated twin.
    assert!(times(&t, "2026-01-01T00:00:00.123Z", 1).is_empty());
}
