//! Run records: one row per run, from submission to its end state, and queries over them.

use std::collections::BTreeMap;
use std::num::{NonZeroI64, NonZeroU32};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::job::JobId;

/// Where a run is in its life.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Handed to its executor pool, waiting for a slot.
    Submitted,
    /// Its action is running.
    Running,
    /// The action finished successfully.
    Succeeded,
    /// The action failed.
    Failed,
    /// The action ran past its timeout and was stopped.
    TimedOut,
    /// Stopped by shutdown or by the user.
    Cancelled,
    /// The fire time was later than the misfire grace time allows; never ran.
    Missed,
    /// Dropped because the job's max instances were already running.
    Skipped,
    /// Was in flight on a process that died (its node's lease lapsed).
    Abandoned,
}

impl RunState {
    /// Every state, in life-cycle order.
    pub const ALL: [RunState; 9] = [
        RunState::Submitted,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::TimedOut,
        RunState::Cancelled,
        RunState::Missed,
        RunState::Skipped,
        RunState::Abandoned,
    ];

    /// The snake_case name used in JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Submitted => "submitted",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed_out",
            RunState::Cancelled => "cancelled",
            RunState::Missed => "missed",
            RunState::Skipped => "skipped",
            RunState::Abandoned => "abandoned",
        }
    }

    /// The state named `name`, if any.
    pub fn parse(name: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the run has ended (no further change).
    pub fn is_final(self) -> bool {
        !matches!(self, RunState::Submitted | RunState::Running)
    }
}

/// One run of a job.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique, increasing run number.
    pub id: i64,
    /// The job that ran.
    pub job_id: JobId,
    /// The fire time it ran for.
    pub scheduled: DateTime<Utc>,
    /// When the action started.
    pub started: Option<DateTime<Utc>>,
    /// When the run ended.
    pub finished: Option<DateTime<Utc>>,
    /// Where the run is.
    pub state: RunState,
    /// 1 for the first try, 2 for the first retry, …
    pub attempt: u32,
    /// A shell command's exit code.
    pub exit_code: Option<i32>,
    /// An HTTP request's response status.
    pub http_status: Option<u16>,
    /// What went wrong.
    // Boxed: the history holds millions of records, so each byte counts (see `size`).
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>))]
    pub error: Option<Box<str>>,
    /// The tail of standard output (or the response body).
    #[serde(default, skip_serializing_if = "is_empty")]
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub stdout: Box<str>,
    /// The tail of standard error.
    #[serde(default, skip_serializing_if = "is_empty")]
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub stderr: Box<str>,
    /// The node (process) that claimed it.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>))]
    pub node: Option<ThinStr>,
    /// Run by hand ("run now") or by a chain, outside the schedule: not bound by one run
    /// per fire time.
    #[serde(default)]
    pub manual: bool,
    /// The run whose end started this one through a chain (see `Job::then`), or for a
    /// workflow step, the workflow's run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<i64>))]
    pub upstream: Option<NonZeroI64>,
    /// For a workflow step's run, the step's id (its workflow run is `upstream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>))]
    pub step: Option<ThinStr>,
    /// What a run by hand was given (see [`RunParams`]); retries keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Box<RunParams>>,
    /// What a shell command used, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<RunUsage>,
}

/// A string behind one thin pointer: 8 bytes in a run record rather than 16, for the texts
/// that are shared (the node) or rare (a workflow step's id).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ThinStr(Arc<String>);

impl std::ops::Deref for ThinStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ThinStr {
    fn borrow(&self) -> &str {
        self
    }
}

impl std::fmt::Debug for ThinStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl std::fmt::Display for ThinStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl From<String> for ThinStr {
    fn from(text: String) -> Self {
        ThinStr(Arc::new(text))
    }
}

impl From<&str> for ThinStr {
    fn from(text: &str) -> Self {
        ThinStr(Arc::new(text.to_string()))
    }
}

/// What a run by hand ("run now with parameters") adds to the job's own action.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunParams {
    /// Shell jobs: environment variables set over the job's own.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Shell jobs: the command's positional arguments (`$1`, `$2`, …, `"$@"`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// HTTP jobs: the request body sent instead of the job's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl RunParams {
    /// Whether nothing is given.
    pub fn is_empty(&self) -> bool {
        self.env.is_empty() && self.args.is_empty() && self.body.is_none()
    }

    /// Parameters as a store kept them, leaving out fields this version does not know
    /// (a newer version may have written them): requests refuse such fields, history not.
    pub fn from_stored(mut value: serde_json::Value) -> serde_json::Result<Self> {
        if let Some(fields) = value.as_object_mut() {
            fields.retain(|name, _| matches!(name.as_str(), "env" | "args" | "body"));
        }
        serde_json::from_value(value)
    }
}

/// The resources a shell run used: the command and every process it waited for.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunUsage {
    /// User plus system CPU time, in milliseconds.
    pub cpu_ms: u32,
    /// The largest resident memory any one of its processes reached, in KiB.
    #[cfg_attr(feature = "schema", schema(value_type = u32, minimum = 1))]
    pub peak_rss_kib: NonZeroU32,
}

impl RunUsage {
    /// The usage stored as two nullable columns: present when both are.
    pub fn from_columns(cpu_ms: Option<u32>, peak_rss_kib: Option<u32>) -> Option<Self> {
        Some(RunUsage {
            cpu_ms: cpu_ms?,
            peak_rss_kib: NonZeroU32::new(peak_rss_kib?)?,
        })
    }
}

fn is_empty(text: &impl AsRef<str>) -> bool {
    text.as_ref().is_empty()
}

impl RunRecord {
    /// A fresh record for job `job_id` at fire time `scheduled`, in `state`.
    pub fn new(id: i64, job_id: &str, scheduled: DateTime<Utc>, state: RunState) -> Self {
        RunRecord {
            id,
            job_id: job_id.to_string(),
            scheduled,
            started: None,
            finished: None,
            state,
            attempt: 1,
            exit_code: None,
            http_status: None,
            error: None,
            stdout: Box::default(),
            stderr: Box::default(),
            node: None,
            manual: false,
            upstream: None,
            step: None,
            params: None,
            usage: None,
        }
    }

    /// How long the action ran, once it has finished.
    pub fn duration_ms(&self) -> Option<i64> {
        Some((self.finished? - self.started?).num_milliseconds())
    }
}

/// Which runs to return: all filters are optional and combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunQuery {
    /// Only this job's runs.
    pub job_id: Option<JobId>,
    /// Only runs scheduled at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only runs scheduled before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only runs in one of these states (all when empty).
    pub states: Vec<RunState>,
    /// Only runs with an id below this (for paging backwards).
    pub before_id: Option<i64>,
    /// Only the runs this run started: its chain's followers, or a workflow's steps.
    pub upstream: Option<i64>,
    /// Only runs claimed by this node.
    pub node: Option<String>,
    /// Only finished runs that ran at least this many milliseconds.
    pub min_duration_ms: Option<i64>,
    /// At most this many runs, newest first (0: a default of 100).
    pub limit: usize,
}

impl RunQuery {
    /// The limit with its default applied.
    pub fn effective_limit(&self) -> usize {
        if self.limit == 0 {
            100
        } else {
            self.limit
        }
    }
}

/// How many runs in one time bucket ended in one state.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunBucket {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// The state counted.
    pub state: RunState,
    /// How many runs.
    pub count: u64,
}

/// Duration percentiles of one job's finished runs, in milliseconds.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationStats {
    /// The job.
    pub job_id: JobId,
    /// How many finished runs were measured.
    pub count: u64,
    /// Median duration.
    pub p50_ms: i64,
    /// 90th percentile.
    pub p90_ms: i64,
    /// 99th percentile.
    pub p99_ms: i64,
    /// Longest.
    pub max_ms: i64,
}

#[cfg(test)]
mod size {
    /// The memory store keeps millions of records in a B-tree whose nodes hold 11: at 176
    /// bytes a leaf fits its allocator's 2 KiB class, a little more takes the next one.
    #[test]
    fn a_run_record_stays_small() {
        assert!(std::mem::size_of::<super::RunRecord>() <= 176);
    }
}

#[cfg(test)]
mod params {
    use super::RunParams;
    use serde_json::json;

    #[test]
    fn stored_parameters_read_past_fields_a_newer_version_wrote() {
        let full = RunParams {
            env: [("A".into(), "1".into())].into(),
            args: vec!["x".into()],
            body: Some("{}".into()),
        };
        // Every field this version writes, it reads back.
        let written = serde_json::to_value(&full).unwrap();
        assert_eq!(RunParams::from_stored(written.clone()).unwrap(), full);
        let mut newer = written;
        newer["stdin"] = json!("hello");
        assert_eq!(RunParams::from_stored(newer.clone()).unwrap(), full);
        // A request with that field is refused, naming it.
        let refused = serde_json::from_value::<RunParams>(newer).unwrap_err();
        assert!(refused.to_string().contains("stdin"), "{refused}");
    }
}
