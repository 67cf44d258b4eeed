//! Which run problems become desktop notifications, what they say, and how often.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Local, Utc};
use kairos_core::events::{Event, RunRef};
use kairos_core::job::{Job, JobDefaults};

/// The shortest time between two notifications about the same job.
pub const PER_JOB_INTERVAL: Duration = Duration::seconds(60);

/// Longest error text quoted in a notification.
const MAX_ERROR_CHARS: usize = 200;

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The headline, naming the job.
    pub title: String,
    /// What happened.
    pub body: String,
}

/// The run an event reports a notifiable problem about: a failure, a timeout or a miss (of a
/// job, not of a workflow's step: the workflow's own run reports it).
pub fn problem(event: &Event) -> Option<&RunRef> {
    match event {
        Event::RunFailed(run) | Event::RunTimedOut(run) | Event::RunMissed(run) => {
            Some(run).filter(|r| r.step.is_none())
        }
        _ => None,
    }
}

/// The notification for `event` about `job`, or `None` when the job's effective `notify`
/// option (over `defaults`) is off or the event is no problem.
pub fn message(event: &Event, job: &Job, defaults: &JobDefaults) -> Option<Message> {
    let run = problem(event)?;
    if !job.options.resolve(defaults).notify {
        return None;
    }
    let at = run.scheduled.with_timezone(&Local).format("%H:%M:%S");
    let (title, body) = match event {
        Event::RunFailed(_) => (
            format!("“{}” failed", job.name),
            match run.error.as_deref().map(str::trim) {
                Some(error) if !error.is_empty() => shorten(error),
                _ => format!("The run due at {at} failed."),
            },
        ),
        Event::RunTimedOut(_) => (
            format!("“{}” timed out", job.name),
            format!("The run due at {at} was stopped at its time limit."),
        ),
        _ => (
            format!("“{}” missed a run", job.name),
            format!("The run due at {at} could not start in time."),
        ),
    };
    Some(Message { title, body })
}

fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX_ERROR_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Lets through at most one notification per job per [`PER_JOB_INTERVAL`], so a job that
/// fails every second does not bury the desktop.
#[derive(Debug, Default)]
pub struct Throttle {
    last: HashMap<String, DateTime<Utc>>,
}

impl Throttle {
    /// Whether a notification about `job_id` may be shown at `now`; records it if so.
    pub fn allow(&mut self, job_id: &str, now: DateTime<Utc>) -> bool {
        match self.last.get(job_id) {
            Some(last) if now - *last < PER_JOB_INTERVAL && now >= *last => false,
            _ => {
                self.last.insert(job_id.to_string(), now);
                // Forget jobs that have been quiet for a while, so the map stays small.
                if self.last.len() > 1024 {
                    self.last.retain(|_, t| now - *t < PER_JOB_INTERVAL);
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kairos_core::job::JobOptions;

    fn job(notify: Option<bool>) -> Job {
        serde_json::from_value(serde_json::json!({
            "id": "j1",
            "name": "backup",
            "trigger": {"type": "interval", "seconds": 10},
            "action": {"kind": "shell", "command": "true"},
        }))
        .map(|mut j: Job| {
            j.options = JobOptions {
                notify,
                ..JobOptions::default()
            };
            j
        })
        .unwrap()
    }

    fn run(error: Option<&str>) -> RunRef {
        RunRef {
            run_id: 7,
            job_id: "j1".into(),
            scheduled: DateTime::UNIX_EPOCH,
            attempt: 1,
            duration_ms: None,
            error: error.map(str::to_string),
            step: None,
        }
    }

    fn defaults(notify: bool) -> JobDefaults {
        JobDefaults {
            notify,
            ..JobDefaults::default()
        }
    }

    #[test]
    fn failures_timeouts_and_misses_are_problems_others_are_not() {
        assert!(problem(&Event::RunFailed(run(None))).is_some());
        assert!(problem(&Event::RunTimedOut(run(None))).is_some());
        assert!(problem(&Event::RunMissed(run(None))).is_some());
        assert!(problem(&Event::RunSucceeded(run(None))).is_none());
        assert!(problem(&Event::RunSkipped(run(None))).is_none());
        assert!(problem(&Event::RunCancelled(run(None))).is_none());
        assert!(problem(&Event::SchedulerPaused).is_none());
    }

    #[test]
    fn a_failure_names_the_job_and_quotes_the_error() {
        let m = message(
            &Event::RunFailed(run(Some("exit status 3: disk full\n"))),
            &job(None),
            &defaults(true),
        )
        .unwrap();
        assert_eq!(m.title, "“backup” failed");
        assert_eq!(m.body, "exit status 3: disk full");
        let m = message(&Event::RunTimedOut(run(None)), &job(None), &defaults(true)).unwrap();
        assert_eq!(m.title, "“backup” timed out");
        assert!(m.body.contains("time limit"), "{}", m.body);
        let m = message(&Event::RunMissed(run(None)), &job(None), &defaults(true)).unwrap();
        assert_eq!(m.title, "“backup” missed a run");
    }

    #[test]
    fn long_errors_are_cut() {
        let long = "x".repeat(500);
        let m = message(
            &Event::RunFailed(run(Some(&long))),
            &job(None),
            &defaults(true),
        )
        .unwrap();
        assert_eq!(m.body.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(m.body.ends_with('…'));
    }

    #[test]
    fn the_effective_notify_option_decides() {
        let failed = Event::RunFailed(run(None));
        assert!(message(&failed, &job(None), &defaults(true)).is_some());
        assert!(message(&failed, &job(None), &defaults(false)).is_none());
        assert!(message(&failed, &job(Some(false)), &defaults(true)).is_none());
        assert!(message(&failed, &job(Some(true)), &defaults(false)).is_some());
        assert!(message(
            &Event::RunSucceeded(run(None)),
            &job(Some(true)),
            &defaults(true)
        )
        .is_none());
    }

    #[test]
    fn throttle_allows_one_per_job_per_interval() {
        let t0 = DateTime::UNIX_EPOCH;
        let mut throttle = Throttle::default();
        assert!(throttle.allow("a", t0));
        assert!(!throttle.allow("a", t0 + Duration::seconds(59)));
        assert!(throttle.allow("b", t0 + Duration::seconds(1)));
        assert!(throttle.allow("a", t0 + PER_JOB_INTERVAL));
        // A wall clock that went back does not silence a job for good.
        assert!(throttle.allow("b", t0));
    }
}
