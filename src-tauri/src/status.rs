//! The words the tray shows: the status line and the pause item's label.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use kairos_core::scheduler::Status;

/// The tray's one-line summary, e.g. "3 running · next 09:00", with times in `tz` as of `now`.
pub fn status_line<Tz: TimeZone>(status: &Status, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    if !status.running {
        return "Scheduler stopped".to_string();
    }
    if status.paused {
        return match status.active_runs {
            0 => "All jobs paused".to_string(),
            n => format!("All jobs paused · {n} still running"),
        };
    }
    let running = format!("{} running", status.active_runs);
    match status.next_run {
        Some(next) => format!("{running} · next {}", when(next, now, tz)),
        None if status.jobs == 0 => format!("{running} · no jobs yet"),
        None => format!("{running} · nothing scheduled"),
    }
}

/// The label of the item that toggles the scheduler's pause.
pub fn pause_label(paused: bool) -> &'static str {
    if paused {
        "Resume all"
    } else {
        "Pause all"
    }
}

/// `at` as a short wall-clock time: "09:00" today, "Tue 09:00" within a week, else "12 Mar 09:00".
fn when<Tz: TimeZone>(at: DateTime<Utc>, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let at = at.with_timezone(tz);
    let today = now.with_timezone(tz).date_naive();
    let days = (at.date_naive() - today).num_days();
    if days <= 0 {
        at.format("%H:%M").to_string()
    } else if days < 7 {
        at.format("%a %H:%M").to_string()
    } else if at.year() == today.year() {
        at.format("%-d %b %H:%M").to_string()
    } else {
        at.format("%-d %b %Y %H:%M").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn status(active_runs: u64, next_run: Option<&str>) -> Status {
        Status {
            running: true,
            paused: false,
            jobs: 4,
            active_runs,
            next_run: next_run.map(utc),
            node: "n".into(),
            clock_skew_ms: 0,
            clock_skewed: false,
            store_failure: None,
        }
    }

    const NOW: &str = "2026-03-10T08:30:00Z"; // a Tuesday

    #[test]
    fn shows_running_count_and_todays_next_time() {
        let s = status(3, Some("2026-03-10T09:00:00Z"));
        assert_eq!(status_line(&s, utc(NOW), &Utc), "3 running · next 09:00");
    }

    #[test]
    fn shows_next_time_in_the_given_zone() {
        let s = status(0, Some("2026-03-10T09:00:00Z"));
        let tz = FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(status_line(&s, utc(NOW), &tz), "0 running · next 11:00");
        // Late evening in UTC is already tomorrow two hours east.
        let s = status(0, Some("2026-03-10T23:00:00Z"));
        assert_eq!(status_line(&s, utc(NOW), &tz), "0 running · next Wed 01:00");
    }

    #[test]
    fn names_the_day_within_a_week_and_the_date_beyond() {
        let s = status(1, Some("2026-03-13T07:15:00Z"));
        assert_eq!(
            status_line(&s, utc(NOW), &Utc),
            "1 running · next Fri 07:15"
        );
        let s = status(1, Some("2026-04-02T07:15:00Z"));
        assert_eq!(
            status_line(&s, utc(NOW), &Utc),
            "1 running · next 2 Apr 07:15"
        );
        let s = status(1, Some("2027-01-02T07:15:00Z"));
        assert_eq!(
            status_line(&s, utc(NOW), &Utc),
            "1 running · next 2 Jan 2027 07:15"
        );
    }

    #[test]
    fn an_overdue_next_time_reads_as_a_time_not_a_day() {
        let s = status(0, Some("2026-03-09T23:59:00Z"));
        assert_eq!(status_line(&s, utc(NOW), &Utc), "0 running · next 23:59");
    }

    #[test]
    fn says_when_nothing_is_scheduled() {
        assert_eq!(
            status_line(&status(0, None), utc(NOW), &Utc),
            "0 running · nothing scheduled"
        );
        let empty = Status {
            jobs: 0,
            ..status(0, None)
        };
        assert_eq!(
            status_line(&empty, utc(NOW), &Utc),
            "0 running · no jobs yet"
        );
    }

    #[test]
    fn paused_and_stopped_schedulers_say_so() {
        let paused = Status {
            paused: true,
            ..status(0, Some("2026-03-10T09:00:00Z"))
        };
        assert_eq!(status_line(&paused, utc(NOW), &Utc), "All jobs paused");
        let draining = Status {
            paused: true,
            ..status(2, None)
        };
        assert_eq!(
            status_line(&draining, utc(NOW), &Utc),
            "All jobs paused · 2 still running"
        );
        let stopped = Status {
            running: false,
            ..status(0, None)
        };
        assert_eq!(status_line(&stopped, utc(NOW), &Utc), "Scheduler stopped");
        assert_eq!(pause_label(true), "Resume all");
        assert_eq!(pause_label(false), "Pause all");
    }
}
