//! Jobs in one expression: `Job::cron("0 9 * * 1-5").in_tz("Europe/London").shell("backup.sh")`.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Coalesce, Follow, FollowOn, Job, JobOptions, Retention, Retries, DEFAULT_POOL};
use crate::action::{
    blocking_fn, job_fn, Action, FunctionAction, HttpAction, JobContext, JobFn, MonitorAction,
    Outcome, ShellAction,
};
use crate::alert::{AlertOn, AlertRule};
use crate::scheduler::SchedulerError;
use crate::trigger::{
    parse_time_zone, CronTrigger, DateTrigger, IntervalSpec, IntervalTrigger, Trigger, TriggerError,
};

/// When a built job fires, before its time zone and bounds are applied.
#[derive(Debug, Clone)]
enum When {
    Cron(String),
    Every(Duration),
    At(DateTime<Utc>),
    Trigger(Trigger),
}

/// A job being described; add it with [`Scheduler::add`](crate::scheduler::Scheduler::add).
/// Everything but the trigger and the action has a default: the name is the id (or what the
/// action runs), options come from the scheduler's job defaults.
///
/// ```
/// use std::time::Duration;
/// use kairos_core::prelude::*;
///
/// let nightly = Job::cron("30 2 * * *")
///     .in_tz("Europe/Berlin")
///     .id("backup")
///     .max_instances(1)
///     .timeout(Duration::from_secs(3600))
///     .shell("tar czf /tmp/home.tgz ~");
/// let poll = Job::every(Duration::from_secs(10))
///     .id("poll")
///     .run(|ctx: JobContext| async move { format!("run {} of {}", ctx.run_id, ctx.job_id) });
/// # let _ = (nightly, poll);
/// ```
#[must_use = "a job does nothing until it is added with scheduler.add(…)"]
pub struct JobBuilder {
    when: When,
    timezone: Option<String>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    id: String,
    name: Option<String>,
    description: String,
    tags: Vec<String>,
    options: JobOptions,
    paused: Option<bool>,
    pool: String,
    node_labels: Vec<String>,
    then: Vec<Follow>,
    action: Option<Action>,
    function: Option<JobFn>,
    replace_existing: bool,
}

/// A built job, with the function to register for it and whether it may replace another.
pub(crate) struct BuiltJob {
    pub(crate) job: Job,
    /// The function `job` calls, when it was given as a closure.
    pub(crate) function: Option<JobFn>,
    pub(crate) replace_existing: bool,
    /// Whether the paused state was chosen (else a replaced job keeps its own).
    pub(crate) paused_given: bool,
}

impl Job {
    /// A job that fires when the cron expression matches (5 fields, or 6 with seconds first;
    /// day-of-month and day-of-week are OR-ed as in Vixie cron; 0 and 7 are Sunday).
    pub fn cron(expression: &str) -> JobBuilder {
        JobBuilder::new(When::Cron(expression.to_string()))
    }

    /// A job that fires every `period` of elapsed time (whole milliseconds), on multiples of
    /// it since the Unix epoch unless [`JobBuilder::start_at`] says otherwise.
    pub fn every(period: Duration) -> JobBuilder {
        JobBuilder::new(When::Every(period))
    }

    /// A job that fires once, at `at`.
    pub fn at(at: DateTime<Utc>) -> JobBuilder {
        JobBuilder::new(When::At(at))
    }

    /// A job with any trigger: calendar intervals, combinations, or one read from JSON.
    pub fn with_trigger(trigger: Trigger) -> JobBuilder {
        JobBuilder::new(When::Trigger(trigger))
    }
}

/// Whole seconds of `d`, rounded up.
fn seconds_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn invalid(field: &str, message: impl Into<String>) -> SchedulerError {
    SchedulerError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// `e` as an error on the field of `trigger` it is about.
fn trigger_error(e: TriggerError) -> SchedulerError {
    match e {
        TriggerError::Cron(message) => invalid("trigger.expression", message),
        TriggerError::TimeZone(_) => invalid("trigger.timezone", e.to_string()),
        TriggerError::Invalid { field, message } => invalid(&format!("trigger.{field}"), message),
    }
}

/// An interval trigger for `period`, its parts spelled out as a person would.
fn interval(
    period: Duration,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    timezone: chrono_tz::Tz,
) -> Result<IntervalTrigger, SchedulerError> {
    if period.subsec_nanos() % 1_000_000 != 0 {
        return Err(invalid(
            "trigger.milliseconds",
            "an interval is a whole number of milliseconds",
        ));
    }
    let secs = period.as_secs();
    let days = u32::try_from(secs / 86_400)
        .map_err(|_| invalid("trigger.days", "the interval is too long"))?;
    let spec = IntervalSpec {
        days,
        hours: (secs / 3600 % 24) as u32,
        minutes: (secs / 60 % 60) as u32,
        seconds: (secs % 60) as u32,
        milliseconds: period.subsec_millis(),
        start,
        end,
        timezone,
        ..IntervalSpec::default()
    };
    IntervalTrigger::new(spec).map_err(trigger_error)
}

impl JobBuilder {
    fn new(when: When) -> Self {
        JobBuilder {
            when,
            timezone: None,
            start: None,
            end: None,
            id: String::new(),
            name: None,
            description: String::new(),
            tags: Vec::new(),
            options: JobOptions::default(),
            paused: None,
            pool: DEFAULT_POOL.to_string(),
            node_labels: Vec::new(),
            then: Vec::new(),
            action: None,
            function: None,
            replace_existing: false,
        }
    }

    /// The IANA time zone the schedule is read in (cron) or shown in (default UTC).
    pub fn in_tz(mut self, timezone: &str) -> Self {
        self.timezone = Some(timezone.to_string());
        self
    }

    /// No fire before `start`; for [`Job::every`], the first fire time.
    pub fn start_at(mut self, start: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self
    }

    /// No fire after `end`.
    pub fn end_at(mut self, end: DateTime<Utc>) -> Self {
        self.end = Some(end);
        self
    }

    /// The job's id (default: a generated one). Give one to find the job again after a restart.
    pub fn id(mut self, id: &str) -> Self {
        self.id = id.to_string();
        self
    }

    /// A short human name (default: the id).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Longer free text.
    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_string();
        self
    }

    /// Adds a label to filter by.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_string());
        self
    }

    /// At most `n` runs of this job at once; a fire beyond that is skipped.
    pub fn max_instances(mut self, n: u32) -> Self {
        self.options.max_instances = Some(n);
        self
    }

    /// A fire later than `grace` (whole seconds, rounded up) is missed instead of run.
    pub fn misfire_grace(mut self, grace: Duration) -> Self {
        self.options.misfire_grace_time_s = Some(seconds_up(grace));
        self
    }

    /// What to do with several overdue fire times: run the latest, the earliest, or all.
    pub fn coalesce(mut self, coalesce: Coalesce) -> Self {
        self.options.coalesce = Some(coalesce);
        self
    }

    /// Delays each fire by a random amount up to `max` (whole seconds, rounded up).
    pub fn jitter(mut self, max: Duration) -> Self {
        self.options.jitter_s = Some(seconds_up(max));
        self
    }

    /// Stops a run after `limit` (whole seconds, rounded up) and records it as timed out.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.options.timeout_s = Some(seconds_up(limit));
        self
    }

    /// Tries a failed or timed-out run `count` more times, waiting `first_delay` before the
    /// first retry and twice as long before each next one.
    pub fn retries(mut self, count: u32, first_delay: Duration) -> Self {
        self.options.retries = Some(Retries {
            count,
            backoff_s: first_delay.as_secs_f64(),
            ..Retries::NONE
        });
        self
    }

    /// Keeps at most `max_runs` runs of history, none older than `max_age_days`.
    pub fn retention(mut self, max_runs: u32, max_age_days: u32) -> Self {
        self.options.retention = Some(Retention {
            max_runs,
            max_age_days,
        });
        self
    }

    /// Whether a failed, timed-out or missed run raises a desktop notification.
    pub fn notify(mut self, notify: bool) -> Self {
        self.options.notify = Some(notify);
        self
    }

    /// Runs go to the executor pool `pool` (see [`SchedulerBuilder::pool`](crate::scheduler::SchedulerBuilder::pool)).
    pub fn pool(mut self, pool: &str) -> Self {
        self.pool = pool.to_string();
        self
    }

    /// Adds the job paused: it keeps its schedule but does not fire until resumed.
    pub fn paused(mut self) -> Self {
        self.paused = Some(true);
        self
    }

    /// Only processes with every one of `labels` run this job.
    pub fn node_labels<I: IntoIterator<Item = S>, S: Into<String>>(mut self, labels: I) -> Self {
        self.node_labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Tell channel `channel` (its id) of these outcomes of this job's runs (added again
    /// for more channels; replaces the defaults' rules).
    pub fn alert(mut self, channel: &str, on: &[AlertOn]) -> Self {
        self.options
            .alerts
            .get_or_insert_with(Vec::new)
            .push(AlertRule {
                channel: channel.to_string(),
                on: on.to_vec(),
                longer_than_s: None,
            });
        self
    }

    /// When a run of this job ends `on` so, start job `job` (a chain; added again for more).
    pub fn then(mut self, job: &str, on: FollowOn) -> Self {
        self.then.push(Follow {
            job: job.to_string(),
            on,
        });
        self
    }

    /// If a job with this id exists, replace its definition (keeping its schedule when the
    /// trigger is the same, and its paused state unless [`JobBuilder::paused`] is given)
    /// instead of refusing: how a program re-adds its jobs on every start.
    pub fn replace_existing(mut self) -> Self {
        self.replace_existing = true;
        self
    }

    /// Runs an async function or closure taking a [`JobContext`]. It may return nothing, its
    /// output text, or a `Result` whose error fails the run. The function is registered under
    /// the job's id, so a persistent job finds it again when the program adds it at its next
    /// start.
    pub fn run<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        self.function = Some(job_fn(f));
        self.action = None;
        self
    }

    /// Like [`JobBuilder::run`], for blocking code: each run gets a thread of its own.
    pub fn run_blocking<F, O>(mut self, f: F) -> Self
    where
        F: Fn(JobContext) -> O + Send + Sync + 'static,
        O: Outcome + Send + 'static,
    {
        self.function = Some(blocking_fn(f));
        self.action = None;
        self
    }

    /// Calls the function registered under `name` (see [`Scheduler::register`](crate::scheduler::Scheduler::register)).
    pub fn call(self, name: &str) -> Self {
        self.action(Action::Function(FunctionAction {
            name: name.to_string(),
        }))
    }

    /// Runs `command` with `sh -c`, capturing its output.
    pub fn shell(self, command: &str) -> Self {
        self.action(ShellAction::new(command).into())
    }

    /// Sends a GET request to `url`; a 2xx status is success.
    pub fn http(self, url: &str) -> Self {
        self.action(HttpAction::get(url).into())
    }

    /// Takes one system-monitor sample (CPU, memory, swap, disks, network, load) per run.
    pub fn monitor(self) -> Self {
        self.action(Action::Monitor(MonitorAction {}))
    }

    /// Does `action`, given in full (an HTTP request with a body and headers, a shell command
    /// with its environment, …).
    pub fn action(mut self, action: Action) -> Self {
        self.action = Some(action);
        self.function = None;
        self
    }

    fn trigger(&self) -> Result<Trigger, SchedulerError> {
        let zone = match &self.timezone {
            Some(name) => Some(parse_time_zone(name).map_err(trigger_error)?),
            None => None,
        };
        let timezone = zone.unwrap_or(chrono_tz::UTC);
        Ok(match &self.when {
            When::Cron(expression) => Trigger::Cron(
                CronTrigger::new(expression, timezone)
                    .and_then(|t| t.with_bounds(self.start, self.end))
                    .map_err(trigger_error)?,
            ),
            When::Every(period) => {
                Trigger::Interval(interval(*period, self.start, self.end, timezone)?)
            }
            When::At(at) => {
                if self.start.is_some() || self.end.is_some() {
                    return Err(invalid(
                        "trigger",
                        "a job that fires once has no start or end: leave out start_at and end_at",
                    ));
                }
                Trigger::Date(DateTrigger { at: *at, timezone })
            }
            When::Trigger(trigger) => {
                if zone.is_some() || self.start.is_some() || self.end.is_some() {
                    return Err(invalid(
                        "trigger",
                        "set the time zone and bounds of a trigger given in full in the trigger itself",
                    ));
                }
                trigger.clone()
            }
        })
    }

    /// The job, and the function to register for it; checks the trigger (the scheduler checks
    /// the rest when it adds the job).
    pub(crate) fn build(self) -> Result<BuiltJob, SchedulerError> {
        let trigger = self.trigger()?;
        if self.replace_existing && self.id.is_empty() {
            return Err(invalid(
                "id",
                "replace_existing() replaces the job with the same id: give the job an .id(…)",
            ));
        }
        let mut id = self.id;
        let action =
            match (self.action, &self.function) {
                (Some(action), _) => action,
                (None, Some(_)) => {
                    if id.is_empty() {
                        id = crate::scheduler::new_job_id();
                    }
                    Action::Function(FunctionAction { name: id.clone() })
                }
                (None, None) => return Err(invalid(
                    "action",
                    "say what the job does: .run(…), .shell(…), .http(…), .call(…) or .monitor()",
                )),
            };
        let name = self
            .name
            .or_else(|| (!id.is_empty()).then(|| id.clone()))
            .unwrap_or_else(|| action.describe());
        Ok(BuiltJob {
            job: Job {
                id,
                name,
                description: self.description,
                tags: self.tags,
                trigger,
                action,
                options: self.options,
                paused: self.paused.unwrap_or(false),
                pool: self.pool,
                node_labels: self.node_labels,
                then: self.then,
                next_run: None,
            },
            function: self.function,
            replace_existing: self.replace_existing,
            paused_given: self.paused.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn built(b: JobBuilder) -> Job {
        b.build().map_err(|e| e.to_string()).unwrap().job
    }

    fn error(b: JobBuilder) -> String {
        match b.build() {
            Ok(_) => panic!("the job should have been refused"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn builders_make_the_jobs_their_json_describes() {
        let job = built(
            Job::cron("0 9 * * 1-5")
                .in_tz("Europe/London")
                .id("report")
                .max_instances(2)
                .misfire_grace(Duration::from_millis(1500))
                .coalesce(Coalesce::All)
                .retries(3, Duration::from_secs(5))
                .tag("daily")
                .shell("make report"),
        );
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(
            v["trigger"],
            json!({"type": "cron", "expression": "0 9 * * 1-5", "timezone": "Europe/London"})
        );
        assert_eq!(v["action"]["command"], "make report");
        assert_eq!(v["name"], "report", "the name defaults to the id");
        assert_eq!(
            v["options"],
            json!({"coalesce": "all", "max_instances": 2, "misfire_grace_time_s": 2,
                   "retries": {"count": 3, "backoff_s": 5.0, "factor": 2.0}})
        );
        assert_eq!(v["tags"], json!(["daily"]));

        let every = built(Job::every(Duration::from_millis(90_061_500)).http("http://x/"));
        assert_eq!(
            serde_json::to_value(&every.trigger).unwrap(),
            json!({"type": "interval", "days": 1, "hours": 1, "minutes": 1, "seconds": 1,
                   "milliseconds": 500, "timezone": "UTC"})
        );
        assert_eq!(
            every.name, "GET http://x/",
            "without an id the action names the job"
        );
    }

    #[test]
    fn a_closure_job_calls_a_function_named_after_its_id() {
        let b = Job::every(Duration::from_secs(1))
            .id("tick")
            .run(|_| async {});
        let built = b.build().map_err(|e| e.to_string()).unwrap();
        assert_eq!(
            built.job.action,
            Action::Function(FunctionAction {
                name: "tick".into()
            })
        );
        assert!(built.function.is_some());
        let anonymous = Job::every(Duration::from_secs(1))
            .run(|_| async {})
            .build()
            .map_err(|e| e.to_string())
            .unwrap();
        assert!(
            !anonymous.job.id.is_empty(),
            "a closure job gets its id at once"
        );
        assert_eq!(anonymous.job.action.describe(), anonymous.job.id);
    }

    #[test]
    fn mistakes_name_the_field_and_the_fix() {
        assert_eq!(
            error(Job::cron("0 25 * * *").shell("x")),
            "trigger.expression: hour: 25 is out of range 0-23"
        );
        assert!(error(Job::cron("* * * * *").in_tz("Mars/Base").shell("x"))
            .starts_with("trigger.timezone: unknown time zone 'Mars/Base': use an IANA name"));
        assert!(error(Job::every(Duration::ZERO).shell("x")).starts_with("trigger.seconds:"));
        assert!(error(Job::every(Duration::from_micros(1500)).shell("x"))
            .starts_with("trigger.milliseconds:"));
        assert!(error(Job::every(Duration::from_secs(1))).starts_with("action: say what"));
        assert!(error(Job::at(Utc::now()).start_at(Utc::now()).shell("x")).starts_with("trigger:"));
    }
}
