//! Job stores: where job definitions, schedules, run history, metrics and settings persist.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod definition;
#[cfg(feature = "sqlite")]
mod file_watch;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod job_sql;
mod memory;
mod node;
#[cfg(feature = "postgres")]
mod postgres;
mod run_log;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::alert::{Channel, Delivery};
use crate::events::Envelope;
use crate::history::{DurationStats, RunBucket, RunQuery, RunRecord, ThinStr};
use crate::job::{Job, JobId, Retention, Settings};
use crate::metrics::MetricSample;
use crate::query::{JobCounts, JobPage, JobQuery, TagCount};

pub use memory::MemoryStore;
pub use node::{Heartbeat, NodeInfo, NodeState};
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// Whether `location` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// `location` for messages and screens, a URL's password masked wherever it is given
/// (`postgres://u:***@host/db`, `…?password=***`).
pub fn shown_location(location: &std::path::Path) -> String {
    let text = location.display().to_string();
    let Some((scheme, rest)) = text.split_once("://") else {
        return text;
    };
    let (address, query) = match rest.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (rest, None),
    };
    let address = match address.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{user}:***@{host}")
        }
        _ => address.to_string(),
    };
    let query = query.map(|q| {
        q.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(query) => format!("{scheme}://{address}?{query}"),
        None => format!("{scheme}://{address}"),
    }
}

/// Opens the store `location` names: a `postgres://` (or `postgresql://`) URL, or the path of a
/// SQLite file, whose directory is created if missing.
pub fn open(location: &std::path::Path) -> Result<Arc<dyn JobStore>, StoreError> {
    #[cfg(feature = "postgres")]
    if let Some(url) = location.to_str().filter(|l| is_postgres_url(l)) {
        return Ok(Arc::new(PgStore::open(url)?));
    }
    #[cfg(feature = "sqlite")]
    return open_sqlite(location);
    #[cfg(not(feature = "sqlite"))]
    Err(StoreError::Database(format!(
        "cannot open {}: this build of kairos-core has no SQLite store (enable its `sqlite` \
         feature){}",
        location.display(),
        if cfg!(feature = "postgres") {
            ", and a PostgreSQL location is a postgres:// URL"
        } else {
            ""
        }
    )))
}

/// Opens the SQLite file at `path`, creating its directory (private) if missing.
#[cfg(feature = "sqlite")]
pub fn open_sqlite(path: &std::path::Path) -> Result<Arc<dyn JobStore>, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|e| {
            StoreError::Database(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    Ok(Arc::new(SqliteStore::open(path)?))
}

/// Creates `dir` and its missing parents readable by this user only (0700 on Unix): job
/// commands, their environments and outputs live in there.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// SQL counting runs `FROM runs{filter}` per `width`-ms bucket of their fire time and state;
/// the same text for SQLite and PostgreSQL. Floor division, so fire times before 1970 land in
/// the right bucket too.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn run_buckets_sql(width: i64, filter: &str) -> String {
    format!(
        "SELECT scheduled - ((scheduled % {width}) + {width}) % {width} AS start, state, \
         COUNT(*) FROM runs{filter} GROUP BY start, state"
    )
}

/// SQL for the duration percentiles per job of runs `FROM runs{filter}` (nearest rank: the
/// value at 1-based rank ceil(p·n/100) in ascending order); the same for SQLite and
/// PostgreSQL.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn duration_stats_sql(filter: &str) -> String {
    format!(
        "WITH d AS (SELECT job_id, finished - started AS ms, \
             ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY finished - started) AS rn, \
             COUNT(*) OVER (PARTITION BY job_id) AS n \
             FROM runs{filter}) \
         SELECT job_id, MAX(n), \
             MAX(CASE WHEN rn = (50 * n + 99) / 100 THEN ms END), \
             MAX(CASE WHEN rn = (90 * n + 99) / 100 THEN ms END), \
             MAX(CASE WHEN rn = (99 * n + 99) / 100 THEN ms END), \
             MAX(ms) \
         FROM d GROUP BY job_id ORDER BY job_id"
    )
}

/// How long published events are kept for other nodes to read (see [`JobStore::publish_events`]).
pub const EVENTS_KEPT_MS: i64 = 60_000;

/// How many alert delivery attempts a store keeps.
pub const DELIVERIES_KEPT: i64 = 10_000;

/// The settings row holding the alert channels.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const CHANNELS_KEY: &str = "channels";

/// Reads stored channels.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn read_channels(json: &str) -> Result<Vec<Channel>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("stored channels: {e}")))
}

/// Reads a stored delivery, its id from the row.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn read_delivery(id: i64, json: &str) -> Result<Delivery, StoreError> {
    let mut delivery: Delivery = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("stored delivery: {e}")))?;
    delivery.id = id;
    Ok(delivery)
}

/// Most events one [`JobStore::events_after`] call returns.
pub const EVENTS_PAGE: i64 = 1_000;

/// Most jobs one [`JobStore::overdue`] call returns.
pub const OVERDUE_LIMIT: usize = 10_000;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// The disk holding the database is full: nothing more can be written until space is freed.
    #[error("the disk holding the database is full: {0}")]
    Full(String),
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

/// What became of a [`Claim`].
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ClaimOutcome {
    /// Not decided yet (a claim before the store answered it).
    #[default]
    Pending,
    /// The claim's runs are inserted (with their ids) and, if it advanced, the job's next
    /// fire time moved: this process owns the fire.
    Won,
    /// Someone else moved the job's next fire time first; nothing was written. The job's
    /// stored next fire time and paused flag, for the caller to re-queue it.
    Lost {
        /// The stored next fire time.
        next_run: Option<DateTime<Utc>>,
        /// Whether the job is paused.
        paused: bool,
    },
    /// The job no longer exists; nothing was written.
    Gone,
}

/// One job's due fire: the next-fire-time move and the run rows that go with it, written in
/// one transaction only if nobody else moved that next fire time first.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The job.
    pub job_id: Arc<str>,
    /// Move the job's next fire time from `.0` to `.1`; `None` inserts runs without a move
    /// (a manual run or a retry).
    pub advance: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    /// Rows to insert; the store sets their ids. A row whose (job, fire time, attempt) already
    /// has a scheduled run is dropped: that fire ran already. A `submitted` row beyond
    /// `max_instances` unfinished runs of the job (on every node) becomes `skipped`.
    pub runs: Vec<RunRecord>,
    /// The job's bound on unfinished runs across all processes.
    pub max_instances: u32,
    /// What the store did (set by [`JobStore::claim`]).
    pub outcome: ClaimOutcome,
}

impl Claim {
    /// A claim inserting `runs` without moving the job's next fire time.
    pub fn insert(job_id: &str, runs: Vec<RunRecord>, max_instances: u32) -> Self {
        Claim {
            job_id: job_id.into(),
            advance: None,
            runs,
            max_instances,
            outcome: ClaimOutcome::Pending,
        }
    }
}

/// The run state a store wrote as `name`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn read_state(name: &str) -> Result<crate::history::RunState, StoreError> {
    crate::history::RunState::parse(name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown run state '{name}'")))
}

/// The error text for a submitted run turned skipped by the store's `max_instances` check.
pub(crate) fn skipped_error(active: u64, max: u32) -> String {
    format!("{active} run(s) already active (max instances {max})")
}

/// Persistence for the scheduler. Job definition changes and claims are committed before the
/// call returns; other bookkeeping (`record_runs`, `record_metric`) may be group-committed
/// later, and `flush` waits for it.
pub trait JobStore: Send + Sync + 'static {
    /// Adds jobs; fails without adding any if one id exists already.
    fn add_jobs(&self, jobs: &[Job]) -> Result<(), StoreError>;
    /// [`JobStore::add_jobs`], calling `meanwhile` at most once: by default after a successful
    /// add; the SQLite store as soon as its writer thread has the jobs, while the write goes on.
    fn add_jobs_meanwhile(
        &self,
        jobs: &[Job],
        meanwhile: &mut dyn FnMut(),
    ) -> Result<(), StoreError> {
        self.add_jobs(jobs)?;
        meanwhile();
        Ok(())
    }
    /// Replaces a job's definition (matched by id).
    fn update_job(&self, job: &Job) -> Result<(), StoreError>;
    /// Removes a job; `false` if it did not exist.
    fn remove_job(&self, id: &str) -> Result<bool, StoreError>;
    /// One job.
    fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError>;
    /// One job's definition, shared where the store can (its `next_run` may be stale).
    fn shared_job(&self, id: &str) -> Result<Option<Arc<Job>>, StoreError> {
        Ok(self.get_job(id)?.map(Arc::new))
    }
    /// The jobs among `ids` (distinct) that exist and can be read, in any order, each as
    /// [`JobStore::shared_job`] gives it; a store across a network reads them in one query.
    fn shared_jobs(&self, ids: &[Arc<str>]) -> Result<Vec<Arc<Job>>, StoreError> {
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            match self.shared_job(id) {
                Ok(job) => jobs.extend(job),
                Err(StoreError::Corrupt(e)) => tracing::warn!("cannot read job '{id}': {e}"),
                Err(e) => return Err(e),
            }
        }
        Ok(jobs)
    }
    /// Every job, ordered by id.
    fn list_jobs(&self) -> Result<Vec<Job>, StoreError>;
    /// A page of jobs with their newest runs, filtered, sorted and paged by `query`.
    fn query_jobs(&self, query: &JobQuery) -> Result<JobPage, StoreError>;
    /// How many jobs there are, paused, monitoring and failing.
    fn count_jobs(&self) -> Result<JobCounts, StoreError>;
    /// Every tag with its jobs and paused jobs, by tag (case-insensitively).
    fn tag_counts(&self) -> Result<Vec<TagCount>, StoreError>;
    /// Every job's id, next fire time and paused flag, ordered by id, without loading
    /// definitions.
    fn schedule(&self) -> Result<Vec<ScheduleEntry>, StoreError>;
    /// Unpaused jobs whose next fire time is before `before` (at most [`OVERDUE_LIMIT`]).
    fn overdue(&self, before: DateTime<Utc>) -> Result<Vec<ScheduleEntry>, StoreError>;
    /// A counter that changes whenever another process changed the jobs.
    fn change_counter(&self) -> Result<i64, StoreError>;
    /// Raised when another process may have changed the jobs; `None` when only reading
    /// [`JobStore::change_counter`] now and then can tell.
    fn changes(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }

    /// How long before a fire time the scheduler claims it, so that the claim's commit is
    /// over when the run starts: a networked store's takes milliseconds, and a busy one's
    /// (or one queued behind a busy writer) now and then tens of them.
    fn claim_ahead(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// Decides each claim (see [`Claim`]) at `now` and returns them with their outcome set; a
    /// won claim's run rows carry `node` and their new ids. Committed before it returns. A
    /// batch holds one claim that advances a given job at most (the run loop sees to it).
    fn claim(
        &self,
        node: &ThinStr,
        now: DateTime<Utc>,
        claims: Vec<Claim>,
    ) -> Result<Vec<Claim>, StoreError>;
    /// Replaces run records by id (group-committed); new runs come from [`JobStore::claim`].
    fn record_runs(&self, runs: Vec<RunRecord>);
    /// Registers `node` or refreshes its heartbeat (to `node.heartbeat`); returns the
    /// database's clock (where it has one of its own) for the skew check. Committed before it
    /// returns. Every node judges leases by its own clock, which the skew check keeps honest.
    fn heartbeat(&self, node: &NodeInfo) -> Result<Heartbeat, StoreError>;
    /// Marks gone every node whose heartbeat is older than `now - lease` or whose id is in
    /// `dead`, then marks every run left `submitted` or `running` by a node that is not
    /// alive (or by none) as `abandoned`, finished `now`, and returns those runs. Only one
    /// caller gets each abandoned run.
    fn take_over(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        dead: &[String],
    ) -> Result<Vec<RunRecord>, StoreError>;
    /// Marks node `id` gone at `now` (a clean shutdown).
    fn leave(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Every node that registered and has not been gone for a day, oldest first.
    fn nodes(&self) -> Result<Vec<NodeInfo>, StoreError>;
    /// The nodes [`JobStore::nodes`] lists, where `running` may be left 0: what a heartbeat
    /// needs, without counting every node's runs.
    fn peers(&self) -> Result<Vec<NodeInfo>, StoreError> {
        self.nodes()
    }
    /// Shares events that happened on `node` with the other nodes (group-committed; kept
    /// for [`EVENTS_KEPT_MS`]).
    fn publish_events(&self, node: &str, events: Vec<Envelope>);
    /// Events nodes other than `node` published after `cursor`, oldest first with their
    /// `node` set, and the cursor after them; `None` starts from now (no events).
    fn events_after(
        &self,
        node: &str,
        cursor: Option<i64>,
    ) -> Result<(Vec<Envelope>, i64), StoreError>;
    /// Raised when another node published events; `None` when only polling can tell.
    fn events_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }
    /// Runs matching `query`, newest first.
    fn runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError>;
    /// One run.
    fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError>;
    /// Asks the node running run `id` to cancel it, when it is unfinished, and announces the
    /// request like a job change; returns the run as stored, or `None` when there is none.
    fn request_cancel(&self, id: i64) -> Result<Option<RunRecord>, StoreError>;
    /// The unfinished runs of `node` whose cancel was requested.
    fn cancel_requests(&self, node: &str) -> Result<Vec<i64>, StoreError>;
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

    /// The alert channels.
    fn load_channels(&self) -> Result<Vec<Channel>, StoreError>;
    /// Replaces the alert channels; announced like a job change, so every node reloads them.
    fn save_channels(&self, channels: &[Channel]) -> Result<(), StoreError>;
    /// Records an alert delivery attempt (its id given by the store); keeps the newest
    /// [`DELIVERIES_KEPT`].
    fn record_delivery(&self, delivery: &Delivery) -> Result<(), StoreError>;
    /// Delivery attempts, newest first: `channel`'s if given, at most `limit`.
    fn deliveries(&self, channel: Option<&str>, limit: usize) -> Result<Vec<Delivery>, StoreError>;
    /// The stored settings, if any were saved.
    fn load_settings(&self) -> Result<Option<Settings>, StoreError>;
    /// Saves the settings (committed before return).
    fn save_settings(&self, settings: &Settings) -> Result<(), StoreError>;

    /// Waits until everything recorded so far is committed.
    fn flush(&self) -> Result<(), StoreError>;
}

#[cfg(all(test, feature = "sqlite", feature = "postgres"))]
mod contract_tests;
#[cfg(all(test, feature = "postgres"))]
pub(crate) mod test_pg;

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn locations_are_shown_without_their_password() {
        let shown = |s: &str| super::shown_location(Path::new(s));
        assert_eq!(
            shown("postgres://kairos:s3cret@db:5432/k"),
            "postgres://kairos:***@db:5432/k"
        );
        assert_eq!(shown("postgresql://k:p@ss@db/k"), "postgresql://k:***@db/k");
        assert_eq!(shown("postgres://kairos@db/k"), "postgres://kairos@db/k");
        assert_eq!(
            shown("postgres://k@db/k?sslmode=disable&password=s3cret&application_name=x"),
            "postgres://k@db/k?sslmode=disable&password=***&application_name=x"
        );
        assert_eq!(shown("/var/lib/kairos.db"), "/var/lib/kairos.db");
        assert!(super::is_postgres_url("postgresql://h/db"));
        assert!(!super::is_postgres_url("/srv/postgres://x"));
    }
}
