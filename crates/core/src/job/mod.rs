//! Jobs: what runs (an action), when (a trigger), and how (options with scheduler defaults).

mod build;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::alert::AlertRule;
use crate::history::RunState;
use crate::trigger::Trigger;

pub use build::JobBuilder;

/// A job's identifier: given by the user or generated on add.
pub type JobId = String;

/// A scheduled job as stored and exchanged.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Unique identifier; an empty one is generated when the job is added.
    #[serde(default)]
    pub id: JobId,
    /// Short human name.
    pub name: String,
    /// Longer free text.
    #[serde(default)]
    pub description: String,
    /// Labels for filtering.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub action: Action,
    /// Overrides of the scheduler's job defaults.
    #[serde(default)]
    pub options: JobOptions,
    /// A paused job keeps its schedule but does not fire.
    #[serde(default)]
    pub paused: bool,
    /// The executor pool its runs go to.
    #[serde(default = "default_pool")]
    pub pool: String,
    /// Labels a node must all have to run this job (none: any node).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_labels: Vec<String>,
    /// Jobs to start when a run of this one ends (a chain).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<Follow>,
    /// The next fire time, `None` once the trigger is exhausted (computed; ignored on input).
    #[serde(default)]
    pub next_run: Option<DateTime<Utc>>,
}

/// A job a run's end starts: `{"job": "report", "on": "succeeded"}`. The started run links
/// back to it (`upstream`), and a shell command finds it in `KAIROS_UPSTREAM_JOB_ID`,
/// `KAIROS_UPSTREAM_RUN_ID`, `KAIROS_UPSTREAM_STATE` and `KAIROS_UPSTREAM_EXIT_CODE`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Follow {
    /// The job to start.
    pub job: JobId,
    /// Which ends start it.
    #[serde(default)]
    pub on: FollowOn,
}

/// Which ends of a run start the jobs that follow it. A cancelled run starts none.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowOn {
    /// The run succeeded.
    #[default]
    Succeeded,
    /// The run failed or timed out, after its last retry.
    Failed,
    /// The run succeeded, failed or timed out.
    Completed,
}

impl FollowOn {
    /// Whether a run that ended in `state` starts the follower.
    pub fn matches(self, state: RunState) -> bool {
        let failed = matches!(state, RunState::Failed | RunState::TimedOut);
        match self {
            FollowOn::Succeeded => state == RunState::Succeeded,
            FollowOn::Failed => failed,
            FollowOn::Completed => failed || state == RunState::Succeeded,
        }
    }
}

/// The version of the export format this build writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// Every job definition, as `kairos export` and `GET /api/export` write them and both imports
/// read them.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportDoc {
    /// The format version (1).
    pub version: u32,
    /// Job definitions.
    pub jobs: Vec<Job>,
}

impl ExportDoc {
    /// An export of `jobs` in this build's format.
    pub fn new(jobs: Vec<Job>) -> Self {
        ExportDoc {
            version: EXPORT_VERSION,
            jobs,
        }
    }

    /// Refuses a document in a format this build cannot read.
    pub fn check_version(&self) -> Result<(), String> {
        if self.version == EXPORT_VERSION {
            Ok(())
        } else {
            Err(format!(
                "this is a version {} export; this Kairos reads version {EXPORT_VERSION}",
                self.version
            ))
        }
    }
}

/// The pool jobs run in unless they name another.
pub const DEFAULT_POOL: &str = "default";

fn default_pool() -> String {
    DEFAULT_POOL.to_string()
}

/// What to do with several overdue fire times of one job.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coalesce {
    /// Run once, for the most recent overdue fire time.
    #[default]
    Latest,
    /// Run once, for the oldest overdue fire time.
    Earliest,
    /// Run every overdue fire time.
    All,
}

/// Retry policy: how many more attempts after a failure, and the delay before each.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    /// Extra attempts after the first failure.
    pub count: u32,
    /// Delay before the first retry, in seconds.
    #[serde(default = "one")]
    pub backoff_s: f64,
    /// Each further retry waits this factor longer.
    #[serde(default = "two")]
    pub factor: f64,
}

fn one() -> f64 {
    1.0
}

fn two() -> f64 {
    2.0
}

impl Retries {
    /// No retries.
    pub const NONE: Retries = Retries {
        count: 0,
        backoff_s: 1.0,
        factor: 2.0,
    };

    /// The delay before retry number `retry` (1-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let s = self.backoff_s * self.factor.powi(retry.saturating_sub(1) as i32);
        Duration::milliseconds((s.clamp(0.0, 86_400.0) * 1000.0) as i64)
    }
}

/// How much run history to keep for a job.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep at most this many runs.
    pub max_runs: u32,
    /// Drop runs older than this many days.
    pub max_age_days: u32,
}

/// A job's overrides; `None` takes the scheduler's default.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobOptions {
    /// Overdue fire time policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coalesce: Option<Coalesce>,
    /// Most runs of this job at once; a fire beyond it is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
    /// A fire later than this many seconds is missed instead of run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misfire_grace_time_s: Option<u64>,
    /// Largest random delay added to each fire time, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_s: Option<u64>,
    /// A run longer than this many seconds is stopped and marked timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
    /// Retry policy on failure or timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    /// History retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Whether a failed, timed-out or missed run raises a desktop notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<bool>,
    /// Which channels hear which outcomes of this job's runs (`[]`: none; absent: the
    /// defaults').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<AlertRule>>,
}

/// The defaults every job starts from.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDefaults {
    /// Overdue fire time policy.
    pub coalesce: Coalesce,
    /// Most runs of one job at once.
    pub max_instances: u32,
    /// Seconds a fire may be late and still run; `None`: a late fire always runs (once).
    pub misfire_grace_time_s: Option<u64>,
    /// Largest random delay added to fire times, in seconds.
    pub jitter_s: u64,
    /// Run time limit in seconds; `None`: no limit.
    pub timeout_s: Option<u64>,
    /// Retry policy.
    pub retries: Retries,
    /// History retention.
    pub retention: Retention,
    /// Desktop notifications on failed, timed-out or missed runs.
    #[serde(default = "yes")]
    pub notify: bool,
    /// Which channels hear which outcomes of the runs of jobs without rules of their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertRule>,
}

fn yes() -> bool {
    true
}

impl Default for JobDefaults {
    fn default() -> Self {
        JobDefaults {
            coalesce: Coalesce::Latest,
            max_instances: 1,
            misfire_grace_time_s: None,
            jitter_s: 0,
            timeout_s: None,
            retries: Retries::NONE,
            retention: Retention {
                max_runs: 1000,
                max_age_days: 30,
            },
            notify: true,
            alerts: Vec::new(),
        }
    }
}

/// A job's options with the defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveOptions {
    /// Overdue fire time policy.
    pub coalesce: Coalesce,
    /// Most runs at once.
    pub max_instances: u32,
    /// Lateness beyond which a fire is missed.
    pub misfire_grace_time: Option<Duration>,
    /// Largest random delay.
    pub jitter: Duration,
    /// Run time limit.
    pub timeout: Option<Duration>,
    /// Retry policy.
    pub retries: Retries,
    /// History retention.
    pub retention: Retention,
    /// Desktop notifications on failed, timed-out or missed runs.
    pub notify: bool,
}

fn secs(s: u64) -> Duration {
    Duration::seconds(s.min(i64::MAX as u64 / 1000) as i64)
}

/// A job option or default that breaks its rule: the field's path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    /// The field, e.g. `options.max_instances` or `defaults.retries.backoff_s`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Most retries a job may ask for.
pub const MAX_RETRIES: u32 = 100;

fn option_error(at: &str, field: &str, message: &str) -> Result<(), OptionError> {
    Err(OptionError {
        field: format!("{at}.{field}"),
        message: message.to_string(),
    })
}

impl Retries {
    /// Checks the policy found at `at` (e.g. `options.retries`).
    pub fn validate(&self, at: &str) -> Result<(), OptionError> {
        if self.count > MAX_RETRIES {
            return option_error(at, "count", "must be at most 100");
        }
        if !(self.backoff_s.is_finite() && (0.0..=86_400.0).contains(&self.backoff_s)) {
            return option_error(at, "backoff_s", "must be between 0 and 86400 seconds");
        }
        if !(self.factor.is_finite() && (1.0..=100.0).contains(&self.factor)) {
            return option_error(at, "factor", "must be between 1 and 100");
        }
        Ok(())
    }
}

/// The rules options and defaults share, for the values given (`None`: not overridden).
fn validate_common(
    at: &str,
    max_instances: Option<u32>,
    timeout_s: Option<u64>,
    retries: Option<&Retries>,
    retention: Option<&Retention>,
    alerts: &[AlertRule],
) -> Result<(), OptionError> {
    for (i, rule) in alerts.iter().enumerate() {
        let at = format!("{at}.alerts[{i}]");
        if rule.channel.trim().is_empty() {
            return option_error(&at, "channel", "name the channel (its id)");
        }
        if rule.on.is_empty() || rule.on.contains(&crate::alert::AlertOn::Test) {
            return option_error(
                &at,
                "on",
                "name at least one of failed, timed_out, missed, skipped, abandoned, recovered, slow",
            );
        }
        let slow = rule.on.contains(&crate::alert::AlertOn::Slow);
        if slow && rule.longer_than_s.is_none_or(|s| s < 1) {
            return option_error(
                &at,
                "longer_than_s",
                "for slow: a run longer than how many seconds (at least 1)",
            );
        }
    }
    if max_instances == Some(0) {
        return option_error(at, "max_instances", "must be at least 1");
    }
    if timeout_s == Some(0) {
        return option_error(
            at,
            "timeout_s",
            "must be at least 1 second (or absent: no limit)",
        );
    }
    if let Some(retries) = retries {
        retries.validate(&format!("{at}.retries"))?;
    }
    if retention.is_some_and(|r| r.max_runs == 0) {
        return option_error(at, "retention.max_runs", "must be at least 1");
    }
    Ok(())
}

impl JobDefaults {
    /// Checks every default (fields named `defaults.…`).
    pub fn validate(&self) -> Result<(), OptionError> {
        validate_common(
            "defaults",
            Some(self.max_instances),
            self.timeout_s,
            Some(&self.retries),
            Some(&self.retention),
            &self.alerts,
        )
    }
}

impl JobOptions {
    /// Checks every override (fields named `options.…`).
    pub fn validate(&self) -> Result<(), OptionError> {
        validate_common(
            "options",
            self.max_instances,
            self.timeout_s,
            self.retries.as_ref(),
            self.retention.as_ref(),
            self.alerts.as_deref().unwrap_or_default(),
        )
    }

    /// These overrides applied over `defaults`.
    pub fn resolve(&self, defaults: &JobDefaults) -> EffectiveOptions {
        EffectiveOptions {
            coalesce: self.coalesce.unwrap_or(defaults.coalesce),
            max_instances: self.max_instances.unwrap_or(defaults.max_instances).max(1),
            misfire_grace_time: self
                .misfire_grace_time_s
                .or(defaults.misfire_grace_time_s)
                .map(secs),
            jitter: secs(self.jitter_s.unwrap_or(defaults.jitter_s)),
            timeout: self.timeout_s.or(defaults.timeout_s).map(secs),
            retries: self.retries.unwrap_or(defaults.retries),
            retention: self.retention.unwrap_or(defaults.retention),
            notify: self.notify.unwrap_or(defaults.notify),
        }
    }
}

/// The scheduler's settings: job defaults, executor pools and the cluster's timing.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Defaults for job options.
    pub defaults: JobDefaults,
    /// Executor pools by name, each with its concurrency bound.
    pub pools: BTreeMap<String, usize>,
    /// How processes sharing the store watch each other.
    #[serde(default)]
    pub cluster: ClusterSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            defaults: JobDefaults::default(),
            pools: BTreeMap::from([(DEFAULT_POOL.to_string(), 10)]),
            cluster: ClusterSettings::default(),
        }
    }
}

/// Heartbeats and leases of the processes (nodes) that share one store.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// Seconds between a node's heartbeats.
    pub heartbeat_s: u32,
    /// Seconds without a heartbeat after which a node counts as dead and its runs are taken
    /// over; a `kill -9` is noticed within `lease_s + heartbeat_s`.
    pub lease_s: u32,
    /// Milliseconds a node's clock may differ from the database's before it stops claiming.
    pub max_skew_ms: u32,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            heartbeat_s: 2,
            lease_s: 8,
            max_skew_ms: 2000,
        }
    }
}

impl ClusterSettings {
    /// The lease as a duration.
    pub fn lease(&self) -> Duration {
        Duration::seconds(self.lease_s.into())
    }

    /// The heartbeat period.
    pub fn heartbeat(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.heartbeat_s.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_stays_small() {
        // Every store and the run loop keep one per job: the large trigger and action kinds
        // are boxed, so an `Arc<Job>` fits a 448-byte allocation (200k jobs: 90 MB), not 640.
        assert!(std::mem::size_of::<Trigger>() <= 40);
        assert!(std::mem::size_of::<Action>() <= 56);
        assert!(std::mem::size_of::<Job>() <= 408);
    }
}
