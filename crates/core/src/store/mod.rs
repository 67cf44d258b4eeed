//! Job stores: where job definitions, schedules, run history, metrics and settings persist.

mod memory;
mod sqlite;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::history::{DurationStats, RunBucket, RunQuery, RunRecord};
use crate::job::{Job, JobId, Retention, Settings};
use crate::metrics::MetricSample;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No job has this id.
    #[error("no job with id '{0}'")]
    NotFound(JobId),
    /// A job with this id already exists.
    #[error("a job with id '{0}' already exists")]
    Duplicate(JobId),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// A job's place in the schedule, as the run loop needs it at start.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleEntry {
    /// The job.
    pub id: JobId,
    /// Its next fire time.
    pub next_run: Option<DateTime<Utc>>,
    /// Whether it is paused.
    pub paused: bool,
}

/// Persistence for the scheduler. Job definition changes are committed before the call
/// returns; fire bookkeeping (`set_next_runs`, `record_runs`, `record_metric`) may be
/// group-committed later, and `flush` waits for it.
pub trait JobStore: Send + Sync + 'static {
    /// Adds jobs; fails without adding any if one id exists already.
    fn add_jobs(&self, jobs: &[Job]) -> Result<(), StoreError>;
    /// Replaces a job's definition (matched by id).
    fn update_job(&self, job: &Job) -> Result<(), StoreError>;
    /// Removes a job; `false` if it did not exist.
    fn remove_job(&self, id: &str) -> Result<bool, StoreError>;
    /// One job.
    fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError>;
    /// Every job, ordered by id.
    fn list_jobs(&self) -> Result<Vec<Job>, StoreError>;
    /// Every job's id, next fire time and paused flag, ordered by id, without loading
    /// definitions.
    fn schedule(&self) -> Result<Vec<ScheduleEntry>, StoreError>;
    /// A counter that changes whenever another process changed the jobs.
    fn change_counter(&self) -> Result<i64, StoreError>;

    /// Records new next fire times (group-committed).
    fn set_next_runs(&self, updates: Vec<(Arc<str>, Option<DateTime<Utc>>)>);
    /// Inserts or replaces run records by id (group-committed).
    fn record_runs(&self, runs: Vec<RunRecord>);
    /// A run id never handed out before.
    fn next_run_id(&self) -> i64;
    /// Marks runs left `submitted` or `running` as `abandoned` (finished `now`) and returns them.
    fn abandon_unfinished(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError>;
    /// Runs matching `query`, newest first.
    fn runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError>;
    /// One run.
    fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError>;
    /// Runs matching `query` counted per `bucket_s`-second bucket of their fire time and state.
    fn run_buckets(&self, query: &RunQuery, bucket_s: i64) -> Result<Vec<RunBucket>, StoreError>;
    /// Duration percentiles per job of finished runs matching `query`.
    fn duration_stats(&self, query: &RunQuery) -> Result<Vec<DurationStats>, StoreError>;
    /// Deletes a job's runs beyond `retention` as of `now`.
    fn prune_runs(&self, job_id: &str, retention: Retention, now: DateTime<Utc>);

    /// Records a monitor sample (group-committed).
    fn record_metric(&self, sample: MetricSample);
    /// Deletes samples taken before `before`.
    fn prune_metrics(&self, before: DateTime<Utc>);
    /// Samples in `[from, to)`, averaged down to at most `points` evenly spaced points.
    fn metrics(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        points: usize,
    ) -> Result<Vec<MetricSample>, StoreError>;

    /// The stored settings, if any were saved.
    fn load_settings(&self) -> Result<Option<Settings>, StoreError>;
    /// Saves the settings (committed before return).
    fn save_settings(&self, settings: &Settings) -> Result<(), StoreError>;

    /// Waits until everything recorded so far is committed.
    fn flush(&self) -> Result<(), StoreError>;
}

/// Moves the run id counter `next_id` past every id in `runs`, reading it first, as it is hot;
/// `false` when `runs` is empty.
fn note_run_ids(next_id: &AtomicI64, runs: &[RunRecord]) -> bool {
    let Some(max) = runs.iter().map(|r| r.id).max() else {
        return false;
    };
    if max >= next_id.load(Ordering::Relaxed) {
        next_id.fetch_max(max.saturating_add(1), Ordering::Relaxed);
    }
    true
}

#[cfg(test)]
mod contract_tests;
