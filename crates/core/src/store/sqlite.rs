//! The SQLite job store: one database file in WAL mode, versioned migrations, and one writer
//! thread that group-commits everything sent to it.
//!
//! Writes go through a channel to the writer thread, which takes the first queued operation,
//! drains whatever else is queued (up to [`MAX_BATCH`] operations), applies them all in one
//! transaction and commits, then answers the callers waiting for that commit. Job changes,
//! settings and `flush` wait for their commit; fire bookkeeping does not (it only waits for
//! queue space when the writer is [`QUEUE_BOUND`] operations behind). Reads use a second
//! connection, which WAL lets run while the writer commits.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rusqlite::config::DbConfig;
use rusqlite::types::Value;
use rusqlite::{
    params, params_from_iter, Connection, ErrorCode, OptionalExtension, Row, ToSql,
    TransactionBehavior,
};

use super::definition::Definition;
use super::job_sql::{job_query_sql, JobColumns, SqlValue};
use super::memory::metric_bucket_start;
use super::{
    read_state, skipped_error, Claim, ClaimOutcome, Heartbeat, JobStore, NodeInfo, ScheduleEntry,
    StoreError,
};
use crate::action::ActionKind;
use crate::alert::{Channel, Delivery};
use crate::events::Envelope;
use crate::history::{
    DurationStats, RunBucket, RunParams, RunQuery, RunRecord, RunState, RunUsage, ThinStr,
};
use crate::job::{Job, JobId, Retention, Settings};
use crate::metrics::MetricSample;
use crate::query::{JobCounts, JobEntry, JobPage, JobQuery, LastRun, TagCount, FAILING};
use checkpoint::Checkpointer;

mod checkpoint;

/// The schema, one step per version: step `i` takes `PRAGMA user_version` from `i` to `i + 1`.
/// Append new steps; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, runs, metrics, settings, and the job change counter (`meta.jobs_version`).
    "CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        definition TEXT NOT NULL, -- the Job as JSON; next_run and paused are the columns'
        next_run INTEGER,         -- epoch ms
        paused INTEGER NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        scheduled INTEGER NOT NULL, -- epoch ms, like started and finished
        started INTEGER,
        finished INTEGER,
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        exit_code INTEGER,
        http_status INTEGER,
        error TEXT,
        stdout TEXT NOT NULL,
        stderr TEXT NOT NULL
    );
    CREATE INDEX runs_job_scheduled ON runs (job_id, scheduled);
    CREATE INDEX runs_scheduled ON runs (scheduled);
    CREATE INDEX runs_unfinished ON runs (state) WHERE state IN ('submitted', 'running');
    CREATE TABLE metrics (
        at INTEGER NOT NULL, -- epoch ms
        cpu_percent REAL NOT NULL,
        memory_used INTEGER NOT NULL,
        memory_total INTEGER NOT NULL,
        swap_used INTEGER NOT NULL,
        swap_total INTEGER NOT NULL,
        disk_used INTEGER NOT NULL,
        disk_total INTEGER NOT NULL,
        net_rx_bytes INTEGER NOT NULL,
        net_tx_bytes INTEGER NOT NULL,
        load_1 REAL NOT NULL,
        load_5 REAL NOT NULL,
        load_15 REAL NOT NULL
    );
    CREATE INDEX metrics_at ON metrics (at);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) VALUES ('jobs_version', 0);",
    // 2: one run per fire time, the node that claimed each run, and the nodes themselves.
    // Runs from before this rule may repeat a fire time; those repeats are kept, as manual.
    "ALTER TABLE runs ADD COLUMN node TEXT;
    ALTER TABLE runs ADD COLUMN manual INTEGER NOT NULL DEFAULT 0;
    UPDATE runs SET manual = 1 WHERE id NOT IN
        (SELECT MIN(id) FROM runs GROUP BY job_id, scheduled, attempt);
    CREATE UNIQUE INDEX runs_fire ON runs (job_id, scheduled, attempt) WHERE manual = 0;
    CREATE INDEX runs_active ON runs (job_id) WHERE state IN ('submitted', 'running');
    CREATE INDEX jobs_next_run ON jobs (next_run);
    CREATE TABLE nodes (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        instance TEXT NOT NULL,
        pid INTEGER NOT NULL,
        version TEXT NOT NULL,
        labels TEXT NOT NULL,    -- JSON array of strings
        started INTEGER NOT NULL, -- epoch ms, like heartbeat and left_at
        heartbeat INTEGER NOT NULL,
        left_at INTEGER,
        skew_ms INTEGER NOT NULL,
        listening INTEGER NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node TEXT NOT NULL,
        at INTEGER NOT NULL, -- epoch ms
        body TEXT NOT NULL   -- the Envelope as JSON
    );
    CREATE INDEX events_at ON events (at);",
    // 3: what job lists filter and sort by, kept beside each definition (filled in by
    // `fill_job_columns`), and each job's newest run.
    "ALTER TABLE jobs ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN search TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN tags_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN last_run INTEGER;
    UPDATE jobs SET last_run = (SELECT MAX(id) FROM runs WHERE runs.job_id = jobs.id);
    CREATE INDEX jobs_name ON jobs (name_key, id, search); -- covers a text search too
    CREATE INDEX jobs_kind ON jobs (kind, name_key, id);
    CREATE INDEX jobs_paused ON jobs (paused, name_key, id);
    CREATE INDEX jobs_kind_paused ON jobs (kind, paused);
    CREATE INDEX runs_failing ON runs (job_id)
        WHERE state IN ('failed', 'timed_out', 'abandoned');",
    // 4: cancel requests, which the node running the run acts on; the run that started a
    // chained run.
    "ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN upstream INTEGER;
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        body TEXT NOT NULL -- the Delivery as JSON
    );
    CREATE INDEX deliveries_channel ON deliveries (channel, id);
    CREATE INDEX runs_cancel ON runs (node)
        WHERE cancel_requested = 1 AND state IN ('submitted', 'running');",
    // 5: workflow steps' runs (`step`, their workflow run in `upstream`), and the runs a run
    // started.
    "ALTER TABLE runs ADD COLUMN step TEXT;
    CREATE INDEX runs_upstream ON runs (upstream) WHERE upstream IS NOT NULL;",
    // 6: what a run by hand was given (JSON), and what a shell run used.
    "ALTER TABLE runs ADD COLUMN params TEXT;
    ALTER TABLE runs ADD COLUMN cpu_ms INTEGER;
    ALTER TABLE runs ADD COLUMN peak_rss_kib INTEGER;",
    // 7: job lists that stay quick at a million jobs. Each job gets a `seq` that VACUUM keeps
    // (the text index refers to it); a trigram index finds search text (case-sensitive, as
    // the text is lower-cased already, so a phrase matches where `instr` does); the dashboard's
    // counts are kept by triggers and the writer; the name index no longer carries the search
    // text.
    "CREATE TABLE jobs_new (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        definition TEXT NOT NULL,
        next_run INTEGER,
        paused INTEGER NOT NULL,
        name_key TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL DEFAULT '',
        search TEXT NOT NULL DEFAULT '',
        tags_key TEXT NOT NULL DEFAULT '',
        last_run INTEGER
    );
    INSERT INTO jobs_new (id, definition, next_run, paused, name_key, kind, search, tags_key,
        last_run)
        SELECT id, definition, next_run, paused, name_key, kind, search, tags_key,
        -- Pruning could leave last_run naming a run that is gone, or another job's since.
        (SELECT MAX(r.id) FROM runs r WHERE r.job_id = jobs.id AND r.step IS NULL)
        FROM jobs ORDER BY rowid;
    DROP TABLE jobs;
    ALTER TABLE jobs_new RENAME TO jobs;
    CREATE INDEX jobs_next_run ON jobs (next_run);
    CREATE INDEX jobs_name ON jobs (name_key, id);
    CREATE INDEX jobs_kind ON jobs (kind, name_key, id);
    CREATE INDEX jobs_paused ON jobs (paused, name_key, id);
    CREATE INDEX jobs_kind_paused ON jobs (kind, paused);
    DROP INDEX runs_failing;
    CREATE VIRTUAL TABLE jobs_text USING fts5 (search, content = 'jobs', content_rowid = 'seq',
        tokenize = 'trigram case_sensitive 1', columnsize = 0);
    INSERT INTO jobs_text (jobs_text) VALUES ('rebuild');
    -- Added jobs are indexed and counted by `insert_jobs`, a batch at a time: row triggers
    -- made adding a million jobs four times slower. Removals and edits are caught here.
    CREATE TRIGGER jobs_text_remove AFTER DELETE ON jobs BEGIN
        INSERT INTO jobs_text (jobs_text, rowid, search) VALUES ('delete', old.seq, old.search);
    END;
    CREATE TRIGGER jobs_text_change AFTER UPDATE OF search ON jobs
        WHEN old.search IS NOT new.search BEGIN
        INSERT INTO jobs_text (jobs_text, rowid, search) VALUES ('delete', old.seq, old.search);
        INSERT INTO jobs_text (rowid, search) VALUES (new.seq, new.search);
    END;
    -- One row: all jobs, the paused, the monitors, and those whose newest run failed (its
    -- state is one of query::FAILING). A newest run's state changes are counted by
    -- `upsert_runs` and `take_over` (a trigger on runs tripled the cost of a fire).
    CREATE TABLE job_counts (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        total INTEGER NOT NULL,
        paused INTEGER NOT NULL,
        monitors INTEGER NOT NULL,
        failing INTEGER NOT NULL
    );
    INSERT INTO job_counts
        SELECT 1, COUNT(*), COALESCE(SUM(paused), 0), COALESCE(SUM(kind = 'monitor'), 0),
        COALESCE(SUM(EXISTS (SELECT 1 FROM runs r WHERE r.id = jobs.last_run
            AND r.job_id = jobs.id AND r.state IN ('failed', 'timed_out', 'abandoned'))), 0)
        FROM jobs;
    CREATE TRIGGER jobs_counted_out AFTER DELETE ON jobs BEGIN
        UPDATE job_counts SET total = total - 1, paused = paused - old.paused,
            monitors = monitors - (old.kind = 'monitor'),
            failing = failing - EXISTS (SELECT 1 FROM runs r WHERE r.id = old.last_run
                AND r.job_id = old.id AND r.state IN ('failed', 'timed_out', 'abandoned'));
    END;
    CREATE TRIGGER jobs_recounted AFTER UPDATE OF paused, kind, last_run ON jobs
        WHEN old.paused IS NOT new.paused OR old.kind IS NOT new.kind
            OR old.last_run IS NOT new.last_run BEGIN
        UPDATE job_counts SET paused = paused + new.paused - old.paused,
            monitors = monitors + (new.kind = 'monitor') - (old.kind = 'monitor'),
            failing = failing
                + EXISTS (SELECT 1 FROM runs r WHERE r.id = new.last_run
                    AND r.job_id = new.id AND r.state IN ('failed', 'timed_out', 'abandoned'))
                - EXISTS (SELECT 1 FROM runs r WHERE r.id = old.last_run
                    AND r.job_id = old.id AND r.state IN ('failed', 'timed_out', 'abandoned'));
    END;",
    // 8: the text index gathers 16 MiB of new entries before it writes a segment (1 MiB by
    // default): adding a million jobs wrote and merged 16 times as many segments, and took
    // twice as long in this index.
    "INSERT INTO jobs_text (jobs_text, rank) VALUES ('hashsize', 16777216);",
    // 9: whether a job's newest run failed is kept on the job (`failing`; the failing jobs are
    // counted through their index): the newest run changes with every fire, and the trigger
    // that recounted it on each change took 3.3 of a fire's 15 µs in the SQLite storm.
    // `job_counts.failing` stays, no longer kept: an older process on the file still writes it.
    "DROP TRIGGER jobs_recounted;
    DROP TRIGGER jobs_counted_out;
    ALTER TABLE jobs ADD COLUMN failing INTEGER NOT NULL DEFAULT 0;
    UPDATE jobs SET failing = 1 WHERE EXISTS (SELECT 1 FROM runs r WHERE r.id = jobs.last_run
        AND r.job_id = jobs.id AND r.state IN ('failed', 'timed_out', 'abandoned'));
    CREATE INDEX jobs_failing ON jobs (failing) WHERE failing = 1;
    CREATE TRIGGER jobs_counted_out AFTER DELETE ON jobs BEGIN
        UPDATE job_counts SET total = total - 1, paused = paused - old.paused,
            monitors = monitors - (old.kind = 'monitor');
    END;
    CREATE TRIGGER jobs_recounted AFTER UPDATE OF paused, kind ON jobs
        WHEN old.paused IS NOT new.paused OR old.kind IS NOT new.kind BEGIN
        UPDATE job_counts SET paused = paused + new.paused - old.paused,
            monitors = monitors + (new.kind = 'monitor') - (old.kind = 'monitor');
    END;",
    // 10: one index of all runs by job where there were two: the scheduled runs' uniqueness
    // moves to an index of every run, with manual runs apart (a NULL is never equal to
    // another), so a fire writes two job-keyed index entries, not three (this one and
    // runs_active's; at 50,000 fires a second, the one gone was a quarter of the pages a
    // claim's commit wrote). The text index gathers 128 MiB of new
    // entries before it writes a segment: a million jobs' trigrams are written at once.
    "DROP INDEX runs_job_scheduled;
    DROP INDEX runs_fire;
    CREATE UNIQUE INDEX runs_fire ON runs (job_id, scheduled, attempt, CASE manual WHEN 0 THEN 0 END);
    INSERT INTO jobs_text (jobs_text, rank) VALUES ('hashsize', 134217728);",
    // 11: the kind index carries `paused`, so the jobs of a kind, paused or not, are counted
    // from it alone; the (kind, paused) index goes: a million-job add spent 0.27 s building
    // it, and a count through the kind index takes 60 ms at a million jobs of one kind.
    "DROP INDEX jobs_kind_paused;
    DROP INDEX jobs_kind;
    CREATE INDEX jobs_kind ON jobs (kind, name_key, id, paused);",
    // 12: how many jobs there are of each kind, paused and not, so that a list filtered by
    // kind or paused alone counts its matches from a few rows rather than an index range
    // (60 ms at a million jobs). Added jobs are counted by `insert_jobs`, a batch at a time;
    // removals and edits here.
    "CREATE TABLE job_kind_counts (
        kind TEXT NOT NULL,
        paused INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (kind, paused)
    ) WITHOUT ROWID;
    INSERT INTO job_kind_counts SELECT kind, paused, COUNT(*) FROM jobs GROUP BY kind, paused;
    DROP TRIGGER jobs_counted_out;
    DROP TRIGGER jobs_recounted;
    CREATE TRIGGER jobs_counted_out AFTER DELETE ON jobs BEGIN
        UPDATE job_counts SET total = total - 1, paused = paused - old.paused,
            monitors = monitors - (old.kind = 'monitor');
        UPDATE job_kind_counts SET n = n - 1 WHERE kind = old.kind AND paused = old.paused;
    END;
    CREATE TRIGGER jobs_recounted AFTER UPDATE OF paused, kind ON jobs
        WHEN old.paused IS NOT new.paused OR old.kind IS NOT new.kind BEGIN
        UPDATE job_counts SET paused = paused + new.paused - old.paused,
            monitors = monitors + (new.kind = 'monitor') - (old.kind = 'monitor');
        UPDATE job_kind_counts SET n = n - 1 WHERE kind = old.kind AND paused = old.paused;
        INSERT INTO job_kind_counts (kind, paused, n) VALUES (new.kind, new.paused, 1)
            ON CONFLICT (kind, paused) DO UPDATE SET n = n + 1;
    END;",
];

/// The index of the failing jobs (migration 9), which a bulk add leaves: it holds no new job.
#[cfg(test)]
const FAILING_INDEX: (&str, &str) = (
    "jobs_failing",
    "CREATE INDEX jobs_failing ON jobs (failing) WHERE failing = 1",
);

/// The other secondary indexes of `jobs` as the migrations made them, which a bulk add (see
/// [`BULK_ADD`]) drops and builds again.
const JOB_INDEXES: [(&str, &str); 4] = [
    (
        "jobs_next_run",
        "CREATE INDEX jobs_next_run ON jobs (next_run)",
    ),
    ("jobs_name", "CREATE INDEX jobs_name ON jobs (name_key, id)"),
    (
        "jobs_kind",
        "CREATE INDEX jobs_kind ON jobs (kind, name_key, id, paused)",
    ),
    (
        "jobs_paused",
        "CREATE INDEX jobs_paused ON jobs (paused, name_key, id)",
    ),
];

/// An add of at least this many jobs, and of at least as many as are stored, builds the
/// [`JOB_INDEXES`] afresh: sorting every row once is cheaper than inserting each new one at
/// its place (a million jobs: 3 s rather than 7 s).
const BULK_ADD: usize = 10_000;

/// The page cache of a connection, KiB.
const CACHE_KIB: u32 = 32 * 1024;

/// How long before its fire time a fire is claimed (see `JobStore::claim_ahead`): a claim
/// waits for the batch before it, and at 50,000 fires a second a batch of claims or of
/// outcomes took 20-45 ms, back to back at times; p99 lateness was 60-190 ms with 20 ms
/// ahead, 15-44 ms with 100 ms, 11-17 ms with 250 ms.
const CLAIM_AHEAD: StdDuration = StdDuration::from_millis(250);

/// The writer's page cache: smaller, as every commit walks its hash table (see
/// [`settle_bulk_add`]); 8 MiB keeps a SQLite storm's batches in it.
const WRITER_CACHE_KIB: u32 = 8 * 1024;

/// The page cache while a bulk add runs, KiB: room for its new pages until it commits (a
/// million jobs: about 500 MiB), where a smaller cache wrote them out to the log and read
/// them back to build each index (1.6 s of the writer's CPU; the add went from 8.5 to 7.4 s).
const BULK_CACHE_KIB: u32 = 1024 * 1024;

/// The schema version whose migration added the job list columns.
const JOB_COLUMNS_VERSION: i64 = 3;

/// How the jobs table answers a job query.
const JOB_COLUMNS: JobColumns = JobColumns {
    from: "jobs j LEFT JOIN runs r ON r.id = j.last_run AND r.job_id = j.id",
    jobs: "jobs j",
    search: "j.search",
    tags: "j.tags_key",
    name: "j.name_key",
    id: "j.id",
    kind: "j.kind",
    find: "instr",
    text_index: Some(
        "j.seq IN (SELECT rowid FROM jobs_text WHERE jobs_text MATCH '\"' || replace(?, '\"', \
         '\"\"') || '\"')",
    ),
    count_all: "SELECT total FROM job_counts",
    kind_counts: Some("job_kind_counts j"),
    text_count: Some(
        "SELECT COUNT(*) FROM jobs_text WHERE jobs_text MATCH '\"' || replace(?, '\"', '\"\"') \
         || '\"'",
    ),
    placeholder: |n| format!("?{n}"),
};

/// Most operations the writer applies in one transaction.
const MAX_BATCH: usize = 20_000;

/// Most operations queued for the writer before senders wait for it to catch up.
const QUEUE_BOUND: usize = 8_192;

/// The settings row's key.
const SETTINGS_KEY: &str = "scheduler";

/// The columns of a run but its id, in [`RunRow::values`]' order.
macro_rules! run_fields {
    () => {
        "job_id, scheduled, started, finished, state, attempt, exit_code, http_status, error, \
         stdout, stderr, node, manual, upstream, step, params, cpu_ms, peak_rss_kib"
    };
}

/// The columns of a run that change after its claim (see [`JobStore::record_runs`]): SQLite
/// rewrites only the indexes over the columns an update sets, and a run's identity
/// (job, fire time, attempt, workflow links, parameters) is in most of them.
macro_rules! outcome_fields {
    () => {
        "started, finished, state, exit_code, http_status, error, stdout, stderr, node, cpu_ms, \
         peak_rss_kib"
    };
}

/// The columns of a run, in `read_run`'s order.
const RUN_COLUMNS: &str = concat!("id, ", run_fields!());

/// The columns of a node, in `read_node`'s order.
const NODE_COLUMNS: &str =
    "id, host, instance, pid, version, labels, started, heartbeat, left_at, skew_ms, listening";

/// How long a gone node stays listed.
const GONE_NODES_KEPT_MS: i64 = 86_400_000;

/// Persists to one SQLite file (WAL) with versioned migrations.
///
/// Durability: the file runs in WAL mode with `synchronous=NORMAL`, so a committed
/// transaction survives the process being killed (`kill -9`) at any moment; only a power
/// loss or OS crash can roll back the last commits. Everything a waiting call (job changes,
/// settings, `flush`) returned from is committed.
///
/// The schema version is `PRAGMA user_version`; opening a file written by a newer Kairos
/// fails. `change_counter` reads `meta.jobs_version`, which every `SqliteStore` (in any
/// process) increments in the same transaction as a job add, update or removal; `next_run`
/// bookkeeping does not count. (A trigger on `jobs` would also catch foreign writers, but
/// doubled the time of a bulk add; `PRAGMA data_version` would also move on this store's
/// own bookkeeping commits, since they come from another connection.)
pub struct SqliteStore {
    writer: Option<SyncSender<Op>>,
    thread: Option<JoinHandle<()>>,
    read: Mutex<Connection>,
    /// The database file, watched for other processes' writes (see `changes`).
    path: std::path::PathBuf,
    /// Copies the log into the file; dropped after the writer has stopped.
    _checkpointer: Checkpointer,
}

type Ack<T> = Sender<Result<T, StoreError>>;

/// A job as its table row.
struct JobRow {
    id: JobId,
    definition: String,
    next_run: Option<i64>,
    paused: bool,
    keys: JobKeys,
}

/// What job lists filter and sort by, lower-cased: name, kind, search text, tags.
struct JobKeys {
    name: String,
    kind: &'static str,
    /// Id, name, description and tags, separated by `\x1f`.
    search: String,
    /// The tags, each between `\x1f`s.
    tags: String,
}

impl JobKeys {
    fn of(job: &Job) -> Self {
        let tags: Vec<String> = job.tags.iter().map(|t| t.to_lowercase()).collect();
        JobKeys {
            name: job.name.to_lowercase(),
            kind: job.action.kind().as_str(),
            search: [
                job.id.to_lowercase(),
                job.name.to_lowercase(),
                job.description.to_lowercase(),
            ]
            .into_iter()
            .chain(tags.iter().cloned())
            .collect::<Vec<_>>()
            .join("\x1f"),
            tags: format!("\x1f{}\x1f", tags.join("\x1f")),
        }
    }
}

impl JobRow {
    /// The values of `?1`…`?8` in the jobs statements: id, definition, next_run, paused,
    /// name_key, kind, search, tags_key.
    fn columns(&self) -> [&dyn rusqlite::ToSql; 8] {
        let k = &self.keys;
        [
            &self.id,
            &self.definition,
            &self.next_run,
            &self.paused,
            &k.name,
            &k.kind,
            &k.search,
            &k.tags,
        ]
    }

    fn new(job: &Job) -> Result<Self, StoreError> {
        Ok(JobRow {
            id: job.id.clone(),
            definition: serde_json::to_string(&Definition::from(job)).map_err(|e| {
                StoreError::Database(format!("cannot encode job '{}': {e}", job.id))
            })?,
            next_run: job.next_run.map(|t| t.timestamp_millis()),
            paused: job.paused,
            keys: JobKeys::of(job),
        })
    }
}

/// The rows of an add, sent as the caller encodes them so the writer inserts the first
/// while the rest are encoded: how many in all, then the chunks in order (an encoding error
/// ends them).
struct AddRows {
    total: usize,
    chunks: Receiver<Result<Vec<JobRow>, StoreError>>,
}

/// Jobs encoded to one chunk of [`AddRows`].
const ADD_CHUNK: usize = 4096;

/// Chunks of [`AddRows`] encoded ahead of the writer at most.
const ADD_CHUNKS_AHEAD: usize = 4;

/// One operation for the writer thread.
enum Op {
    AddJobs(AddRows, Ack<()>),
    UpdateJob(JobRow, Ack<()>),
    RemoveJob(JobId, Ack<bool>),
    /// A settings row: key, JSON, and whether other processes must hear of it.
    SaveSetting(&'static str, String, bool, Ack<()>),
    RecordDelivery(String, String, Ack<()>),
    Claim {
        node: ThinStr,
        now: i64,
        claims: Vec<Claim>,
        ack: Ack<Vec<Claim>>,
    },
    Heartbeat(NodeInfo, Ack<bool>),
    TakeOver {
        now: i64,
        lease_ms: i64,
        dead: Vec<String>,
        ack: Ack<Vec<RunRecord>>,
    },
    Leave(String, i64, Ack<()>),
    RequestCancel(i64, Ack<bool>),
    PublishEvents(String, Vec<(i64, String)>),
    Flush(Ack<()>),
    RecordRuns(Vec<RunRecord>),
    RecordMetric(MetricSample),
    PruneMetrics(i64),
    PruneRuns {
        job_id: JobId,
        max_runs: u32,
        cutoff: i64,
    },
}

impl Op {
    /// Answers a waiting operation with `error`; logs a dropped bookkeeping one.
    fn fail(self, error: &StoreError) {
        let err = || error.clone();
        match self {
            Op::AddJobs(_, ack)
            | Op::UpdateJob(_, ack)
            | Op::SaveSetting(.., ack)
            | Op::RecordDelivery(_, _, ack)
            | Op::Flush(ack) => {
                let _ = ack.send(Err(err()));
            }
            Op::Leave(_, _, ack) => {
                let _ = ack.send(Err(err()));
            }
            Op::RemoveJob(_, ack) | Op::Heartbeat(_, ack) | Op::RequestCancel(_, ack) => {
                let _ = ack.send(Err(err()));
            }
            Op::TakeOver { ack, .. } => {
                let _ = ack.send(Err(err()));
            }
            Op::Claim { ack, .. } => {
                let _ = ack.send(Err(err()));
            }
            Op::RecordRuns(_)
            | Op::PublishEvents(..)
            | Op::RecordMetric(_)
            | Op::PruneMetrics(_)
            | Op::PruneRuns { .. } => {
                tracing::error!(%error, "store: bookkeeping write lost");
            }
        }
    }
}

/// A waiting caller's answer, sent once the batch's commit is known.
enum Reply {
    Unit(Ack<()>, Result<(), StoreError>),
    Bool(Ack<bool>, Result<bool, StoreError>),
    Runs(Ack<Vec<RunRecord>>, Result<Vec<RunRecord>, StoreError>),
    Claims(Ack<Vec<Claim>>, Result<Vec<Claim>, StoreError>),
}

impl Reply {
    /// Whether this operation failed after writing part of its work.
    fn half_done(&self) -> bool {
        matches!(self, Reply::Claims(_, Err(_)))
    }

    /// The error this operation met itself, if it failed.
    fn error(&self) -> Option<StoreError> {
        match self {
            Reply::Unit(_, Err(e)) | Reply::Bool(_, Err(e)) => Some(e.clone()),
            Reply::Runs(_, Err(e)) | Reply::Claims(_, Err(e)) => Some(e.clone()),
            _ => None,
        }
    }

    /// Sends the answer, or `commit_error` if the batch did not commit (an operation that
    /// failed itself keeps its own error: it says why).
    fn send(self, commit_error: Option<&StoreError>) {
        fn answer<T>(
            r: Result<T, StoreError>,
            commit_error: Option<&StoreError>,
        ) -> Result<T, StoreError> {
            match (r, commit_error) {
                (Err(e), _) => Err(e),
                (Ok(_), Some(StoreError::Full(m))) => Err(StoreError::Full(m.clone())),
                (Ok(_), Some(e)) => Err(StoreError::Database(format!("not committed: {e}"))),
                (ok, None) => ok,
            }
        }
        match self {
            Reply::Unit(ack, r) => {
                let _ = ack.send(answer(r, commit_error));
            }
            Reply::Bool(ack, r) => {
                let _ = ack.send(answer(r, commit_error));
            }
            Reply::Runs(ack, r) => {
                let _ = ack.send(answer(r, commit_error));
            }
            Reply::Claims(ack, r) => {
                let _ = ack.send(answer(r, commit_error));
            }
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::Full(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Database("the store's writer thread has stopped".into())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn instant(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("instant {ms} ms is out of range")))
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(StdDuration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "cannot switch the database to WAL mode (it is in {mode} mode)"
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA cache_size = -{CACHE_KIB};"
    ))?;
    // The same plan whatever the parameters: else SQLite re-prepares a statement whose plan
    // looked at a parameter's value whenever that parameter is bound again; in the SQLite
    // storm profile that was a fifth of the writer's time (sqlite3Reprepare), and without
    // it the writer keeps 15k fires/s instead of 10k.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Lets glibc keep up to 4 MiB free at the top of a thread's heap (process-wide, once). At
/// its 128 KiB default it hands that memory back to the kernel (`madvise`, with a TLB
/// shootdown on every core) whenever more is free, and SQLite's temporary tables allocate
/// and free their page caches in every statement that uses one: perf showed heap_trim at
/// 7 % of the writer thread, which kept 15k fires/s; with this it keeps 20k.
fn keep_small_frees() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only changes a malloc tuning parameter.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
        });
    }
}

/// The error for a database written by a newer Kairos.
fn too_new(version: i64, latest: i64) -> StoreError {
    StoreError::Database(format!(
        "the database has schema version {version}, newer than version {latest} that this \
         Kairos knows; use a newer Kairos"
    ))
}

/// Brings the schema up to the latest version, one transaction per step.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let latest = MIGRATIONS.len() as i64;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > latest {
        return Err(too_new(version, latest));
    }
    for step in version..latest {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated since the check above.
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current > latest {
            return Err(too_new(current, latest));
        }
        if current > step {
            continue;
        }
        tx.execute_batch(MIGRATIONS[step as usize]).map_err(|e| {
            StoreError::Database(format!("migration to schema version {}: {e}", step + 1))
        })?;
        if step + 1 == JOB_COLUMNS_VERSION {
            fill_job_columns(&tx)?;
        }
        tx.pragma_update(None, "user_version", step + 1)?;
        tx.commit()?;
        tracing::info!(version = step + 1, "store: migrated the database schema");
    }
    Ok(())
}

/// Counts the jobs again, by kind and paused and in all, if those counts do not add up: an
/// older process on the file adds jobs without counting them by kind (queries fall back to
/// counting the jobs meanwhile).
fn recount_kinds(conn: &mut Connection) -> Result<(), StoreError> {
    const AGREE: &str = "SELECT (SELECT COALESCE(SUM(n), 0) FROM job_kind_counts) \
                         = (SELECT total FROM job_counts)";
    if conn.query_row(AGREE, [], |r| r.get(0))? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if tx.query_row(AGREE, [], |r| r.get(0))? {
        return Ok(());
    }
    tx.execute_batch(
        "UPDATE job_counts SET total = (SELECT COUNT(*) FROM jobs);
         DELETE FROM job_kind_counts;
         INSERT INTO job_kind_counts SELECT kind, paused, COUNT(*) FROM jobs
             GROUP BY kind, paused;",
    )?;
    tx.commit()?;
    tracing::warn!("store: the job counts did not add up and were counted again");
    Ok(())
}

/// Creates the database file readable by this user only (0600 on Unix) if it is missing;
/// SQLite gives its `-wal` and `-shm` files the same mode.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// Computes the job list columns of every stored job from its definition.
fn fill_job_columns(tx: &Connection) -> Result<(), StoreError> {
    let mut select = tx.prepare("SELECT definition, next_run, paused FROM jobs")?;
    let mut update = tx.prepare(
        "UPDATE jobs SET name_key = ?2, kind = ?3, search = ?4, tags_key = ?5 WHERE id = ?1",
    )?;
    let mut rows = select.query([])?;
    while let Some(row) = rows.next()? {
        let job = read_job(row)?;
        let k = JobKeys::of(&job);
        update.execute(params![job.id, k.name, k.kind, k.search, k.tags])?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it to the latest schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        keep_small_frees();
        create_private_file(path)?;
        let checkpointer = Checkpointer::start(path)?;
        let open_writer = {
            let (path, hook) = (path.to_path_buf(), checkpointer.hook());
            move || -> Result<Connection, StoreError> {
                let mut write = Connection::open(&path)?;
                configure(&write)?;
                write.execute_batch(&format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}"))?;
                hook.install(&mut write)?;
                Ok(write)
            }
        };
        let mut write = open_writer()?;
        migrate(&mut write)?;
        recount_kinds(&mut write)?;
        let read = Connection::open(path)?;
        configure(&read)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE_BOUND);
        let thread = std::thread::Builder::new()
            .name("kairos-store-writer".into())
            .spawn(move || write_loop(write, rx, open_writer))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            writer: Some(tx),
            thread: Some(thread),
            read: Mutex::new(read),
            path: path.to_path_buf(),
            _checkpointer: checkpointer,
        })
    }

    fn send(&self, op: Op) -> Result<(), StoreError> {
        self.writer
            .as_ref()
            .ok_or_else(stopped)?
            .send(op)
            .map_err(|_| stopped())
    }

    /// Sends a bookkeeping operation without waiting for its commit.
    fn post(&self, op: Op) {
        if self.send(op).is_err() {
            tracing::error!("store: writer thread stopped; bookkeeping write lost");
        }
    }

    /// Sends an operation and waits until its batch has committed.
    fn call<T>(&self, op: impl FnOnce(Ack<T>) -> Op) -> Result<T, StoreError> {
        let (ack, done) = mpsc::channel();
        self.send(op(ack))?;
        done.recv().map_err(|_| stopped())?
    }

    fn read(&self) -> MutexGuard<'_, Connection> {
        lock(&self.read)
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel lets the writer commit what is queued, then stop.
        drop(self.writer.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("store: writer thread panicked");
            }
        }
    }
}

/// Applies what `ops` brings, a batch per transaction; after a big add, goes on with a new
/// connection from `reopen`.
fn write_loop(
    mut conn: Connection,
    ops: Receiver<Op>,
    reopen: impl Fn() -> Result<Connection, StoreError>,
) {
    let mut batch = Vec::new();
    let mut freeing = None;
    while let Ok(op) = ops.recv() {
        batch.push(op);
        while batch.len() < MAX_BATCH {
            match ops.try_recv() {
                Ok(op) => batch.push(op),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let big_add = batch
            .iter()
            .any(|op| matches!(op, Op::AddJobs(rows, _) if rows.total >= BULK_ADD));
        apply_batch(&mut conn, &mut batch);
        if big_add {
            join_freeing(freeing.take());
            freeing = settle_bulk_add(&mut conn, &reopen);
        }
    }
    // The store is dropped once this returns: the old connection is closed by then.
    join_freeing(freeing);
}

/// Waits for the thread closing a connection a bulk add left (see [`settle_bulk_add`]).
fn join_freeing(freeing: Option<JoinHandle<()>>) {
    if let Some(Err(_)) = freeing.map(JoinHandle::join) {
        // The writer goes on: its own connection is whole.
        tracing::error!("store: the thread closing the connection of a bulk add panicked");
    }
}

/// After a batch with a big add, replaces the writer's connection: the add raised its page
/// cache to [`BULK_CACHE_KIB`], and SQLite keeps the cache's hash table at its largest,
/// which every later commit walks (a page split leaves a page numbered past the end of the
/// file in the cache, and the commit looks for pages to drop past the end). Then hands the
/// freed memory back to the system (glibc keeps it in its arenas: a million-job add left
/// 500 MB resident), on a thread of its own, which it returns: after a million-job add,
/// closing the old connection and handing back its memory took 50-190 ms, which the next
/// batch would wait.
fn settle_bulk_add(
    conn: &mut Connection,
    reopen: impl Fn() -> Result<Connection, StoreError>,
) -> Option<JoinHandle<()>> {
    match reopen() {
        Ok(fresh) => {
            let old = std::mem::replace(conn, fresh);
            let freeing = std::thread::Builder::new()
                .name("kairos-store-free".into())
                .spawn(move || {
                    drop(old);
                    trim();
                });
            // Unspawned, the closure (and the old connection) is dropped here.
            freeing.inspect_err(|_| trim()).ok()
        }
        Err(error) => {
            tracing::warn!(%error, "store: cannot reopen the database after a bulk add");
            let small = format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}");
            if let Err(e) = conn.execute_batch(&small) {
                tracing::warn!(error = %e, "store: cannot set the page cache back");
            }
            trim();
            None
        }
    }
}

/// Hands the allocator's free memory back to the system.
fn trim() {
    // SAFETY: malloc_trim only returns the allocator's own free pages.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Applies `batch` in one transaction, commits, then answers its waiters.
fn apply_batch(conn: &mut Connection, batch: &mut Vec<Op>) {
    let mut replies = Vec::new();
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let error = StoreError::from(e);
            tracing::error!(%error, ops = batch.len(), "store: cannot begin a write transaction");
            for op in batch.drain(..) {
                op.fail(&error);
            }
            return;
        }
    };
    let mut jobs_changed = false;
    let mut abandoned = false;
    let mut ops = batch.drain(..);
    for op in ops.by_ref() {
        jobs_changed |= apply_op(&mut tx, op, &mut replies);
        // A claim that failed may have written half its work: it has no savepoint (which
        // would copy every page it touches), so the whole batch goes.
        abandoned = tx.is_autocommit() || replies.last().is_some_and(Reply::half_done);
        if abandoned {
            break;
        }
    }
    let failure = if abandoned {
        // A failure (disk full, I/O error) rolled the whole transaction back, or the
        // transaction's drop does; the operation that met it, the last, gives the cause.
        let cause = replies.iter().rev().find_map(Reply::error);
        Some(cause.unwrap_or_else(|| {
            StoreError::Database("the write transaction was rolled back after an error".into())
        }))
    } else if jobs_changed {
        tx.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'jobs_version'",
            [],
        )
        .err()
        .map(StoreError::from)
    } else {
        None
    };
    if let Some(error) = failure {
        tracing::error!(%error, "store: write batch abandoned");
        for op in ops {
            op.fail(&error);
        }
        for reply in replies {
            reply.send(Some(&error));
        }
        return;
    }
    drop(ops);
    match tx.commit() {
        Ok(()) => {
            for reply in replies {
                reply.send(None);
            }
        }
        Err(e) => {
            let error = StoreError::from(e);
            tracing::error!(%error, "store: commit failed; this batch's writes are lost");
            for reply in replies {
                reply.send(Some(&error));
            }
        }
    }
}

/// Applies one operation inside the batch's transaction; `true` if it changed the jobs.
fn apply_op(tx: &mut rusqlite::Transaction<'_>, op: Op, replies: &mut Vec<Reply>) -> bool {
    let mut jobs_changed = false;
    match op {
        Op::AddJobs(rows, ack) => {
            let result = insert_jobs(tx, rows);
            jobs_changed = result.is_ok();
            replies.push(Reply::Unit(ack, result));
        }
        Op::UpdateJob(row, ack) => {
            let result = tx
                .prepare_cached(
                    "UPDATE jobs SET definition = ?2, next_run = ?3, paused = ?4, name_key = ?5, \
                     kind = ?6, search = ?7, tags_key = ?8 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(&row.columns()[..]))
                .map_err(StoreError::from)
                .and_then(|n| match n {
                    0 => Err(StoreError::NotFound(row.id)),
                    _ => Ok(()),
                });
            jobs_changed = result.is_ok();
            replies.push(Reply::Unit(ack, result));
        }
        Op::RemoveJob(id, ack) => {
            let result = tx
                .prepare_cached("DELETE FROM jobs WHERE id = ?1")
                .and_then(|mut s| s.execute([&id]))
                .map(|n| n > 0)
                .map_err(StoreError::from);
            jobs_changed = matches!(result, Ok(true));
            replies.push(Reply::Bool(ack, result));
        }
        Op::SaveSetting(key, json, announce, ack) => {
            let result = tx
                .prepare_cached(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .and_then(|mut s| s.execute([key, &json]))
                .map(drop)
                .map_err(StoreError::from);
            jobs_changed = announce && result.is_ok();
            replies.push(Reply::Unit(ack, result));
        }
        Op::RecordDelivery(channel, json, ack) => {
            let result = tx
                .prepare_cached("INSERT INTO deliveries (channel, body) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute([&channel, &json]))
                .and_then(|_| {
                    tx.prepare_cached(
                        "DELETE FROM deliveries WHERE id <= (SELECT MAX(id) FROM deliveries) - ?1",
                    )?
                    .execute([super::DELIVERIES_KEPT])
                })
                .map(drop)
                .map_err(StoreError::from);
            replies.push(Reply::Unit(ack, result));
        }
        Op::Claim {
            node,
            now,
            claims,
            ack,
        } => {
            let result = claim(tx, &node, now, claims);
            replies.push(Reply::Claims(ack, result));
        }
        Op::Heartbeat(node, ack) => {
            replies.push(Reply::Bool(
                ack,
                in_savepoint(tx, |sp| heartbeat(sp, &node)),
            ));
        }
        Op::TakeOver {
            now,
            lease_ms,
            dead,
            ack,
        } => {
            let result = in_savepoint(tx, |sp| take_over(sp, now, lease_ms, &dead));
            replies.push(Reply::Runs(ack, result));
        }
        Op::Leave(id, now, ack) => {
            let result = tx
                .prepare_cached("UPDATE nodes SET left_at = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id, now]))
                .map(drop)
                .map_err(StoreError::from);
            replies.push(Reply::Unit(ack, result));
        }
        Op::RequestCancel(id, ack) => {
            let result = tx
                .prepare_cached(
                    "UPDATE runs SET cancel_requested = 1 \
                     WHERE id = ?1 AND state IN ('submitted', 'running')",
                )
                .and_then(|mut s| s.execute([id]))
                .map(|n| n > 0)
                .map_err(StoreError::from);
            // Announced like a job change, so the node running it looks at once.
            jobs_changed = matches!(result, Ok(true));
            replies.push(Reply::Bool(ack, result));
        }
        Op::Flush(ack) => replies.push(Reply::Unit(ack, Ok(()))),
        Op::PublishEvents(node, events) => {
            if let Err(e) = publish(tx, &node, &events) {
                tracing::error!(error = %e, "store: cannot share events with other nodes");
            }
        }
        Op::RecordRuns(runs) => {
            if let Err(e) = upsert_runs(tx, &runs) {
                tracing::error!(error = %e, "store: cannot record runs");
            }
        }
        Op::RecordMetric(sample) => {
            if let Err(e) = insert_metric(tx, &sample) {
                tracing::error!(error = %e, "store: cannot record a metric sample");
            }
        }
        Op::PruneMetrics(before) => {
            let result = tx
                .prepare_cached("DELETE FROM metrics WHERE at < ?1")
                .and_then(|mut s| s.execute(params![before]));
            if let Err(e) = result {
                tracing::error!(error = %e, "store: cannot prune metric samples");
            }
        }
        Op::PruneRuns {
            job_id,
            max_runs,
            cutoff,
        } => {
            // A failing newest run pruned leaves its job failing no more.
            let result = tx
                .prepare_cached(&format!(
                    "UPDATE jobs SET failing = 0 WHERE id = ?1 AND failing = 1 AND EXISTS \
                     (SELECT 1 FROM runs WHERE runs.id = jobs.last_run AND runs.job_id = ?1 \
                     AND {PRUNED})"
                ))
                .and_then(|mut s| s.execute(params![job_id, cutoff, max_runs]))
                .and_then(|_| {
                    tx.prepare_cached(&prune_sql())?
                        .execute(params![job_id, cutoff, max_runs])
                });
            if let Err(e) = result {
                tracing::error!(error = %e, job_id, "store: cannot prune runs");
            }
        }
    }
    jobs_changed
}

/// The runs of job `?1` that a prune removes: fired before `?2`, or past the newest `?3`.
const PRUNED: &str = "(runs.scheduled < ?2 OR runs.id <= \
     (SELECT id FROM runs WHERE job_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?3))";

/// Removes the [`PRUNED`] runs of job `?1`.
fn prune_sql() -> String {
    format!("DELETE FROM runs WHERE job_id = ?1 AND {PRUNED}")
}

/// Sets job `?1`'s newest run, and whether it failed, from its runs.
fn newest_run_sql() -> String {
    format!(
        "UPDATE jobs SET last_run = r.id, failing = r.state IN {FAILING_STATES} \
         FROM (SELECT id, state FROM runs WHERE job_id = ?1 AND step IS NULL \
         ORDER BY id DESC LIMIT 1) AS r WHERE jobs.id = ?1"
    )
}

/// Runs matching `filter` (from [`run_filter`]), newest first, as many as the last parameter.
fn runs_sql(filter: &str) -> String {
    format!("SELECT {RUN_COLUMNS} FROM runs{filter} ORDER BY id DESC LIMIT ?")
}

/// Inserts `rows`, all or none, then indexes their text and counts them (migration 7).
fn insert_jobs(tx: &mut rusqlite::Transaction<'_>, rows: AddRows) -> Result<(), StoreError> {
    let stored: i64 = tx.query_row("SELECT total FROM job_counts", [], |r| r.get(0))?;
    let bulk = rows.total >= BULK_ADD && rows.total as i64 >= stored;
    if !bulk {
        return in_savepoint(tx, |sp| insert_job_rows(sp, rows, false));
    }
    // The writer sets it back once the batch is over (see `settle_bulk_add`): only then are
    // the pages clean and can go.
    tx.execute_batch(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"))?;
    in_savepoint(tx, |sp| insert_job_rows(sp, rows, true))
}

/// Inserts `rows`, their text index entries and counts; with `bulk`, drops [`JOB_INDEXES`]
/// first and builds them again after.
fn insert_job_rows(sp: &Connection, rows: AddRows, bulk: bool) -> Result<(), StoreError> {
    // New rows take sequence numbers above every stored one.
    let before: i64 = sp.query_row("SELECT COALESCE(MAX(seq), 0) FROM jobs", [], |r| r.get(0))?;
    if bulk {
        for (name, _) in JOB_INDEXES {
            sp.execute(&format!("DROP INDEX IF EXISTS {name}"), [])?;
        }
    }
    let mut insert = sp.prepare_cached(
        "INSERT INTO jobs (id, definition, next_run, paused, name_key, kind, search, tags_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut inserted = 0;
    // (kind, paused, how many): a few of them.
    let mut by_kind: Vec<(&str, bool, i64)> = Vec::new();
    for chunk in rows.chunks.iter() {
        for row in chunk? {
            insert
                .execute(&row.columns()[..])
                .map_err(|e| match e.sqlite_error_code() {
                    Some(ErrorCode::ConstraintViolation) => StoreError::Duplicate(row.id),
                    _ => StoreError::from(e),
                })?;
            inserted += 1;
            let key = (row.keys.kind, row.paused);
            match by_kind.iter_mut().find(|(k, p, _)| (*k, *p) == key) {
                Some((_, _, n)) => *n += 1,
                None => by_kind.push((key.0, key.1, 1)),
            }
        }
    }
    if inserted != rows.total {
        return Err(StoreError::Database(format!(
            "the add stopped after {inserted} of its {} jobs were encoded",
            rows.total
        )));
    }
    if bulk {
        for (_, create) in JOB_INDEXES {
            sp.execute(create, [])?;
        }
    }
    sp.prepare_cached(
        "INSERT INTO jobs_text (rowid, search) SELECT seq, search FROM jobs WHERE seq > ?1",
    )?
    .execute([before])?;
    let sum = |of: fn(&str, bool) -> bool| {
        by_kind
            .iter()
            .filter(|(kind, paused, _)| of(kind, *paused))
            .map(|(.., n)| n)
            .sum::<i64>()
    };
    let paused = sum(|_, paused| paused);
    let monitors = sum(|kind, _| kind == ActionKind::Monitor.as_str());
    sp.prepare_cached(
        "UPDATE job_counts SET total = total + ?1, paused = paused + ?2, \
         monitors = monitors + ?3",
    )?
    .execute([inserted as i64, paused, monitors])?;
    let mut count = sp.prepare_cached(
        "INSERT INTO job_kind_counts (kind, paused, n) VALUES (?1, ?2, ?3) \
         ON CONFLICT (kind, paused) DO UPDATE SET n = n + excluded.n",
    )?;
    for (kind, paused, n) in by_kind {
        count.execute(params![kind, paused, n])?;
    }
    Ok(())
}

/// Runs `f` in a savepoint: all of it is written, or none.
fn in_savepoint<T>(
    tx: &mut rusqlite::Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let sp = tx.savepoint()?;
    let value = f(&sp)?;
    sp.commit()?;
    Ok(value)
}

/// Decides `claims` (see [`Claim`]) inside the batch's transaction.
fn claim(
    tx: &Connection,
    node: &ThinStr,
    now: i64,
    mut claims: Vec<Claim>,
) -> Result<Vec<Claim>, StoreError> {
    // The job's move sets its newest run too, in one statement: the runs' ids are chosen
    // here, the next after the highest (as SQLite would), before they are inserted.
    let mut advance = tx.prepare_cached(
        "UPDATE jobs SET next_run = ?3, last_run = coalesce(?4, last_run), \
         failing = iif(?4 IS NULL, failing, ?5) WHERE id = ?1 AND next_run IS ?2 AND paused = 0",
    )?;
    let mut current = tx.prepare_cached("SELECT next_run, paused FROM jobs WHERE id = ?1")?;
    let mut newest_run = tx.prepare_cached(&newest_run_sql())?;
    let mut active = tx.prepare_cached(
        "SELECT COUNT(*) FROM runs WHERE job_id = ?1 AND state IN ('submitted', 'running') \
         AND step IS NULL",
    )?;
    let mut insert = tx.prepare_cached(concat!(
        "INSERT INTO runs (id, ",
        run_fields!(),
        ") VALUES (?19, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
         ?17, ?18) ON CONFLICT DO NOTHING"
    ))?;
    let mut next_id: i64 = tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM runs", [], |r| {
        r.get(0)
    })?;
    for claim in &mut claims {
        let id: &str = &claim.job_id;
        // The job's newest run and whether it failed, were every run inserted as it is (a
        // workflow step's run is not its job's newest).
        let newest = claim
            .runs
            .iter()
            .enumerate()
            .rfind(|(_, r)| r.step.is_none());
        let newest_failing = newest.is_some_and(|(_, r)| FAILING.contains(&r.state));
        let newest = newest.map(|(i, _)| next_id + i as i64);
        let moved = match claim.advance {
            Some((from, to)) => {
                let (from, to) = (from.timestamp_millis(), to.map(|t| t.timestamp_millis()));
                let values = params![id, from, to, newest, newest_failing];
                advance.execute(values)? == 1
            }
            None => false,
        };
        if !moved {
            let stored = current
                .query_row([id], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get(1)?)))
                .optional()?;
            claim.outcome = match stored {
                None => ClaimOutcome::Gone,
                Some((next_run, paused)) if claim.advance.is_some() => ClaimOutcome::Lost {
                    next_run: next_run.map(instant).transpose()?,
                    paused,
                },
                Some(_) => ClaimOutcome::Pending,
            };
            if claim.outcome != ClaimOutcome::Pending {
                continue;
            }
        }
        let mut unfinished: Option<u64> = None;
        let mut as_planned = true;
        for run in &mut claim.runs {
            run.node = Some(node.clone());
            if run.state == RunState::Submitted && claim.max_instances != u32::MAX {
                let n = match unfinished {
                    Some(n) => n,
                    None => active.query_row([id], |r| r.get::<_, i64>(0))?.max(0) as u64,
                };
                if n >= u64::from(claim.max_instances) {
                    run.state = RunState::Skipped;
                    run.finished = Some(instant(now)?);
                    run.error = Some(skipped_error(n, claim.max_instances).into());
                    unfinished = Some(n);
                } else {
                    unfinished = Some(n + 1);
                }
            }
            let row = RunRow::of(run)?;
            let run_id = next_id;
            let values = row.values().into_iter().chain([&run_id as _]);
            // Nothing inserted: this fire time ran already; it must not run again.
            run.id = match insert.execute(params_from_iter(values))? {
                1 => run_id,
                _ => 0,
            };
            next_id += i64::from(run.id != 0);
            as_planned &= run.id != 0;
        }
        claim.runs.retain(|r| r.id != 0);
        if newest.is_some() && !(moved && as_planned) {
            // Not set by a move, or set to a run that was not inserted.
            newest_run.execute([id])?;
        }
        claim.outcome = ClaimOutcome::Won;
    }
    Ok(claims)
}

/// Registers or refreshes `node`; `true` if it had been marked gone.
fn heartbeat(tx: &Connection, node: &NodeInfo) -> Result<bool, StoreError> {
    let left: Option<Option<i64>> = tx
        .prepare_cached("SELECT left_at FROM nodes WHERE id = ?1")?
        .query_row([&node.id], |r| r.get(0))
        .optional()?;
    let labels = serde_json::to_string(&node.labels)
        .map_err(|e| StoreError::Database(format!("cannot encode node labels: {e}")))?;
    let beat = node.heartbeat.timestamp_millis();
    tx.prepare_cached(&format!(
        "INSERT INTO nodes ({NODE_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10) \
         ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat, \
         labels = excluded.labels, left_at = NULL, skew_ms = excluded.skew_ms, \
         listening = excluded.listening"
    ))?
    .execute(params![
        node.id,
        node.host,
        node.instance,
        node.pid,
        node.version,
        labels,
        node.started.timestamp_millis(),
        beat,
        node.skew_ms,
        node.listening,
    ])?;
    tx.prepare_cached("DELETE FROM nodes WHERE left_at < ?1")?
        .execute([beat - GONE_NODES_KEPT_MS])?;
    Ok(matches!(left, Some(Some(_))))
}

/// Marks lapsed and `dead` nodes gone, then abandons the runs no live node holds.
fn take_over(
    tx: &Connection,
    now: i64,
    lease_ms: i64,
    dead: &[String],
) -> Result<Vec<RunRecord>, StoreError> {
    tx.prepare_cached(
        "UPDATE nodes SET left_at = ?1 WHERE left_at IS NULL AND heartbeat < ?1 - ?2",
    )?
    .execute([now, lease_ms])?;
    let mut gone =
        tx.prepare_cached("UPDATE nodes SET left_at = ?2 WHERE id = ?1 AND left_at IS NULL")?;
    for id in dead {
        gone.execute(params![id, now])?;
    }
    let orphaned = "state IN ('submitted', 'running') AND (node IS NULL OR node NOT IN \
                    (SELECT id FROM nodes WHERE left_at IS NULL))";
    let mut runs = {
        let mut select = tx.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE {orphaned} ORDER BY id"
        ))?;
        let mut rows = select.query([])?;
        let mut runs = Vec::new();
        while let Some(row) = rows.next()? {
            runs.push(read_run(row)?);
        }
        runs
    };
    let mut abandon =
        tx.prepare_cached("UPDATE runs SET state = 'abandoned', finished = ?2 WHERE id = ?1")?;
    let finished = instant(now)?;
    for run in &mut runs {
        abandon.execute([run.id, now])?;
        // Unfinished runs don't fail; abandoned ones do.
        mark_failing(tx, &run.job_id, run.id, true)?;
        run.state = RunState::Abandoned;
        run.finished = Some(finished);
    }
    Ok(runs)
}

/// Appends `events` (epoch ms, JSON) from `node` and forgets those older than a minute.
fn publish(tx: &Connection, node: &str, events: &[(i64, String)]) -> rusqlite::Result<()> {
    let mut insert =
        tx.prepare_cached("INSERT INTO events (node, at, body) VALUES (?1, ?2, ?3)")?;
    for (at, body) in events {
        insert.execute(params![node, at, body])?;
    }
    if let Some(latest) = events.iter().map(|(at, _)| *at).max() {
        tx.prepare_cached("DELETE FROM events WHERE at < ?1")?
            .execute([latest - super::EVENTS_KEPT_MS])?;
    }
    Ok(())
}

/// Marks job `job_id` failing or not, if run `run_id` is its newest.
fn mark_failing(tx: &Connection, job_id: &str, run_id: i64, failing: bool) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE jobs SET failing = ?3 WHERE id = ?1 AND last_run = ?2")?
        .execute(params![job_id, run_id, failing])?;
    Ok(())
}

/// The states of [`FAILING`] as an SQL list.
const FAILING_STATES: &str = "('failed', 'timed_out', 'abandoned')";

fn upsert_runs(tx: &rusqlite::Transaction<'_>, runs: &[RunRecord]) -> Result<(), StoreError> {
    let mut stored = tx.prepare_cached("SELECT state FROM runs WHERE id = ?1")?;
    // Both take a run's values as `RunRow::values` gives them, then its id.
    let mut update = tx.prepare_cached(concat!(
        "UPDATE runs SET (",
        outcome_fields!(),
        ") = (?3, ?4, ?5, ?7, ?8, ?9, ?10, ?11, ?12, ?17, ?18) WHERE id = ?19"
    ))?;
    let mut insert = tx.prepare_cached(concat!(
        "INSERT INTO runs (id, ",
        run_fields!(),
        ") VALUES (?19, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
         ?17, ?18)"
    ))?;
    for run in runs {
        let row = RunRow::of(run)?;
        let values = params_from_iter(row.values().into_iter().chain([&run.id as _]));
        let was: Option<String> = stored.query_row([run.id], |r| r.get(0)).optional()?;
        match &was {
            Some(_) => update.execute(values)?,
            None => insert.execute(values)?,
        };
        let before = was
            .as_deref()
            .and_then(RunState::parse)
            .is_some_and(|s| FAILING.contains(&s));
        let after = FAILING.contains(&run.state);
        if before != after {
            mark_failing(tx, &run.job_id, run.id, after)?;
        }
    }
    Ok(())
}

/// A run's column values (see [`run_fields`]), those that are computed held here.
struct RunRow<'a> {
    run: &'a RunRecord,
    state: &'static str,
    node: Option<&'a str>,
    step: Option<&'a str>,
    scheduled: i64,
    started: Option<i64>,
    finished: Option<i64>,
    params: Option<String>,
    cpu_ms: Option<u32>,
    peak_rss_kib: Option<u32>,
}

impl<'a> RunRow<'a> {
    fn of(run: &'a RunRecord) -> Result<Self, StoreError> {
        let params = run
            .params
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Database(format!("cannot encode run parameters: {e}")))?;
        Ok(RunRow {
            run,
            state: run.state.as_str(),
            node: run.node.as_deref(),
            step: run.step.as_deref(),
            scheduled: run.scheduled.timestamp_millis(),
            started: run.started.map(|t| t.timestamp_millis()),
            finished: run.finished.map(|t| t.timestamp_millis()),
            params,
            cpu_ms: run.usage.map(|u| u.cpu_ms),
            peak_rss_kib: run.usage.map(|u| u.peak_rss_kib.get()),
        })
    }

    /// The values in [`run_fields`]' order.
    fn values(&self) -> [&dyn ToSql; 18] {
        let run = self.run;
        [
            &run.job_id,
            &self.scheduled,
            &self.started,
            &self.finished,
            &self.state,
            &run.attempt,
            &run.exit_code,
            &run.http_status,
            &run.error,
            &run.stdout,
            &run.stderr,
            &self.node,
            &run.manual,
            &run.upstream,
            &self.step,
            &self.params,
            &self.cpu_ms,
            &self.peak_rss_kib,
        ]
    }
}

fn insert_metric(tx: &rusqlite::Transaction<'_>, s: &MetricSample) -> rusqlite::Result<()> {
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    tx.prepare_cached(
        "INSERT INTO metrics (at, cpu_percent, memory_used, memory_total, swap_used, \
         swap_total, disk_used, disk_total, net_rx_bytes, net_tx_bytes, load_1, load_5, \
         load_15) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        s.at.timestamp_millis(),
        s.cpu_percent,
        int(s.memory_used),
        int(s.memory_total),
        int(s.swap_used),
        int(s.swap_total),
        int(s.disk_used),
        int(s.disk_total),
        int(s.net_rx_bytes),
        int(s.net_tx_bytes),
        s.load_1,
        s.load_5,
        s.load_15,
    ])?;
    Ok(())
}

fn read_run(row: &Row<'_>) -> Result<RunRecord, StoreError> {
    let opt_instant = |ms: Option<i64>| ms.map(instant).transpose();
    let state: String = row.get(5)?;
    Ok(RunRecord {
        id: row.get(0)?,
        job_id: row.get(1)?,
        scheduled: instant(row.get(2)?)?,
        started: opt_instant(row.get(3)?)?,
        finished: opt_instant(row.get(4)?)?,
        state: read_state(&state)?,
        attempt: row.get(6)?,
        exit_code: row.get(7)?,
        http_status: row.get(8)?,
        error: row.get(9)?,
        stdout: row.get(10)?,
        stderr: row.get(11)?,
        node: row.get::<_, Option<String>>(12)?.map(Into::into),
        manual: row.get(13)?,
        upstream: row.get(14)?,
        step: row.get::<_, Option<String>>(15)?.map(Into::into),
        params: row
            .get::<_, Option<String>>(16)?
            .map(|p| {
                serde_json::from_str(&p)
                    .and_then(RunParams::from_stored)
                    .map(Box::new)
            })
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("run parameters: {e}")))?,
        usage: RunUsage::from_columns(row.get(17)?, row.get(18)?),
    })
}

fn read_node(row: &Row<'_>) -> Result<NodeInfo, StoreError> {
    let labels: String = row.get(5)?;
    Ok(NodeInfo {
        id: row.get(0)?,
        host: row.get(1)?,
        instance: row.get(2)?,
        pid: row.get(3)?,
        version: row.get(4)?,
        labels: serde_json::from_str(&labels)
            .map_err(|e| StoreError::Corrupt(format!("node labels: {e}")))?,
        started: instant(row.get(6)?)?,
        heartbeat: instant(row.get(7)?)?,
        left: row.get::<_, Option<i64>>(8)?.map(instant).transpose()?,
        skew_ms: row.get(9)?,
        listening: row.get(10)?,
        running: row.get::<_, i64>(11)?.max(0) as u64,
    })
}

fn read_job(row: &Row<'_>) -> Result<Job, StoreError> {
    let definition: String = row.get(0)?;
    let mut job: Job = serde_json::from_str(&definition)
        .map_err(|e| StoreError::Corrupt(format!("stored job definition: {e}")))?;
    job.next_run = row.get::<_, Option<i64>>(1)?.map(instant).transpose()?;
    job.paused = row.get(2)?;
    Ok(job)
}

/// A job and its newest run from a job query's row (see `job_sql`).
fn read_entry(row: &Row<'_>) -> Result<JobEntry, StoreError> {
    let job = read_job(row)?;
    let last_run = match row.get::<_, Option<i64>>(3)? {
        Some(id) => Some(LastRun {
            id,
            state: read_state(&row.get::<_, String>(4)?)?,
            scheduled: instant(row.get(5)?)?,
            finished: row.get::<_, Option<i64>>(6)?.map(instant).transpose()?,
        }),
        None => None,
    };
    Ok(JobEntry { job, last_run })
}

/// A job query parameter as SQLite's value.
fn sql_value(value: SqlValue) -> Value {
    match value {
        SqlValue::Text(s) => Value::Text(s),
        SqlValue::Int(i) => Value::Integer(i),
        SqlValue::Bool(b) => Value::Integer(b.into()),
    }
}

/// The `WHERE` clause (possibly empty) and its parameters for `query` plus `extra` conditions.
fn run_filter(query: &RunQuery, extra: &[&str]) -> (String, Vec<Value>) {
    let mut conditions: Vec<String> = extra.iter().map(|c| c.to_string()).collect();
    let mut values = Vec::new();
    if let Some(job_id) = &query.job_id {
        conditions.push("job_id = ?".into());
        values.push(Value::Text(job_id.clone()));
    }
    if let Some(from) = query.from {
        conditions.push("scheduled >= ?".into());
        values.push(Value::Integer(from.timestamp_millis()));
    }
    if let Some(to) = query.to {
        conditions.push("scheduled < ?".into());
        values.push(Value::Integer(to.timestamp_millis()));
    }
    if !query.states.is_empty() {
        let marks = vec!["?"; query.states.len()].join(", ");
        conditions.push(format!("state IN ({marks})"));
        values.extend(
            query
                .states
                .iter()
                .map(|s| Value::Text(s.as_str().to_string())),
        );
    }
    if let Some(before) = query.before_id {
        conditions.push("id < ?".into());
        values.push(Value::Integer(before));
    }
    if let Some(upstream) = query.upstream {
        conditions.push("upstream = ?".into());
        values.push(Value::Integer(upstream));
    }
    if let Some(node) = &query.node {
        conditions.push("node = ?".into());
        values.push(Value::Text(node.clone()));
    }
    if let Some(min) = query.min_duration_ms {
        conditions.push("finished - started >= ?".into());
        values.push(Value::Integer(min));
    }
    if conditions.is_empty() {
        (String::new(), values)
    } else {
        (format!(" WHERE {}", conditions.join(" AND ")), values)
    }
}

impl SqliteStore {
    /// The settings row `key`'s JSON, if saved.
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.read();
        let mut select = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
        let mut rows = select.query([key])?;
        Ok(match rows.next()? {
            Some(row) => Some(row.get(0)?),
            None => None,
        })
    }
}

impl JobStore for SqliteStore {
    fn add_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        self.add_jobs_meanwhile(jobs, &mut || {})
    }

    fn add_jobs_meanwhile(
        &self,
        jobs: &[Job],
        meanwhile: &mut dyn FnMut(),
    ) -> Result<(), StoreError> {
        let mut parts = jobs
            .chunks(ADD_CHUNK)
            .map(|part| part.iter().map(JobRow::new).collect::<Result<Vec<_>, _>>());
        // Encoded before the writer hears of the add, so that an add of one chunk never keeps
        // the writer (and the claims in its batch) waiting for the encoding.
        let first = parts.next().transpose()?;
        let (send, chunks) = mpsc::sync_channel(ADD_CHUNKS_AHEAD);
        let (ack, done) = mpsc::channel();
        let total = jobs.len();
        self.send(Op::AddJobs(AddRows { total, chunks }, ack))?;
        for rows in first.map(Ok).into_iter().chain(parts) {
            let failed = rows.is_err();
            // The writer stops reading at the first failure, its own or an encoding's.
            if send.send(rows).is_err() || failed {
                break;
            }
        }
        drop(send);
        meanwhile();
        done.recv().map_err(|_| stopped())?
    }

    fn update_job(&self, job: &Job) -> Result<(), StoreError> {
        let row = JobRow::new(job)?;
        self.call(|ack| Op::UpdateJob(row, ack))
    }

    fn remove_job(&self, id: &str) -> Result<bool, StoreError> {
        self.call(|ack| Op::RemoveJob(id.to_string(), ack))
    }

    fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let conn = self.read();
        let mut select =
            conn.prepare_cached("SELECT definition, next_run, paused FROM jobs WHERE id = ?1")?;
        let mut rows = select.query([id])?;
        rows.next()?.map(read_job).transpose()
    }

    fn list_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let conn = self.read();
        let mut select =
            conn.prepare_cached("SELECT definition, next_run, paused FROM jobs ORDER BY id")?;
        let mut rows = select.query([])?;
        let mut jobs = Vec::new();
        while let Some(row) = rows.next()? {
            jobs.push(read_job(row)?);
        }
        Ok(jobs)
    }

    fn query_jobs(&self, query: &JobQuery) -> Result<JobPage, StoreError> {
        let sql = job_query_sql(query, &JOB_COLUMNS);
        let params: Vec<Value> = sql.params.iter().cloned().map(sql_value).collect();
        let conn = self.read();
        // The count and the page see one snapshot, as a backward page depends on the count.
        let snapshot = conn.unchecked_transaction()?;
        let total: i64 = snapshot
            .prepare_cached(&sql.count)?
            .query_row(params_from_iter(&params[..sql.count_params]), |r| r.get(0))?;
        let all: i64 = if sql.weighs_text_scan() {
            snapshot
                .prepare_cached(JOB_COLUMNS.count_all)?
                .query_row([], |r| r.get(0))?
        } else {
            total
        };
        let (page, backward) = sql.page(total, all);
        let mut select = snapshot.prepare_cached(&page)?;
        let mut rows = select.query(params_from_iter(&params))?;
        let mut items = Vec::new();
        while let Some(row) = rows.next()? {
            items.push(read_entry(row)?);
        }
        if backward {
            items.reverse();
        }
        Ok(query.page(items, total))
    }

    fn count_jobs(&self) -> Result<JobCounts, StoreError> {
        let conn = self.read();
        let counts = conn
            .prepare_cached(
                "SELECT total, paused, monitors, (SELECT COUNT(*) FROM jobs WHERE failing = 1) \
                 FROM job_counts",
            )?
            .query_row([], |r| {
                Ok([r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?])
            })?;
        let [total, paused, monitors, failing] = counts.map(|n| n.max(0) as usize);
        Ok(JobCounts {
            total,
            paused,
            monitors,
            failing,
        })
    }

    fn tag_counts(&self) -> Result<Vec<TagCount>, StoreError> {
        let conn = self.read();
        let mut select = conn.prepare_cached(
            "SELECT MIN(t.value), COUNT(DISTINCT j.id), \
             COUNT(DISTINCT CASE WHEN j.paused THEN j.id END) \
             FROM jobs j, json_each(j.definition, '$.tags') t \
             GROUP BY lower(t.value) ORDER BY lower(t.value)",
        )?;
        let mut rows = select.query([])?;
        let mut tags = Vec::new();
        while let Some(row) = rows.next()? {
            tags.push(TagCount {
                tag: row.get(0)?,
                jobs: row.get::<_, i64>(1)?.max(0) as usize,
                paused: row.get::<_, i64>(2)?.max(0) as usize,
            });
        }
        Ok(tags)
    }

    fn schedule(&self) -> Result<Vec<ScheduleEntry>, StoreError> {
        let conn = self.read();
        let mut select = conn.prepare_cached("SELECT id, next_run, paused FROM jobs")?;
        let mut rows = select.query([])?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            entries.push(ScheduleEntry {
                id: row.get(0)?,
                next_run: row.get::<_, Option<i64>>(1)?.map(instant).transpose()?,
                paused: row.get(2)?,
            });
        }
        entries.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    fn overdue(&self, before: DateTime<Utc>) -> Result<Vec<ScheduleEntry>, StoreError> {
        let conn = self.read();
        let mut select = conn.prepare_cached(
            "SELECT id, next_run FROM jobs WHERE next_run < ?1 AND paused = 0 LIMIT ?2",
        )?;
        let mut rows = select.query(params![
            before.timestamp_millis(),
            super::OVERDUE_LIMIT as i64
        ])?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            entries.push(ScheduleEntry {
                id: row.get(0)?,
                next_run: Some(instant(row.get(1)?)?),
                paused: false,
            });
        }
        Ok(entries)
    }

    fn change_counter(&self) -> Result<i64, StoreError> {
        let conn = self.read();
        let mut select =
            conn.prepare_cached("SELECT value FROM meta WHERE key = 'jobs_version'")?;
        Ok(select.query_row([], |r| r.get(0))?)
    }

    fn changes(&self) -> Option<Arc<tokio::sync::Notify>> {
        super::file_watch::watch(&self.path)
    }

    fn claim_ahead(&self) -> StdDuration {
        CLAIM_AHEAD
    }

    fn claim(
        &self,
        node: &ThinStr,
        now: DateTime<Utc>,
        claims: Vec<Claim>,
    ) -> Result<Vec<Claim>, StoreError> {
        if claims.is_empty() {
            return Ok(claims);
        }
        let (node, now) = (node.clone(), now.timestamp_millis());
        self.call(|ack| Op::Claim {
            node,
            now,
            claims,
            ack,
        })
    }

    fn record_runs(&self, runs: Vec<RunRecord>) {
        if !runs.is_empty() {
            self.post(Op::RecordRuns(runs));
        }
    }

    fn heartbeat(&self, node: &NodeInfo) -> Result<Heartbeat, StoreError> {
        let revived = self.call(|ack| Op::Heartbeat(node.clone(), ack))?;
        Ok(Heartbeat {
            db_now: node.heartbeat,
            revived,
        })
    }

    fn take_over(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        dead: &[String],
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.call(|ack| Op::TakeOver {
            now: now.timestamp_millis(),
            lease_ms: lease.num_milliseconds(),
            dead: dead.to_vec(),
            ack,
        })
    }

    fn leave(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.call(|ack| Op::Leave(id.to_string(), now.timestamp_millis(), ack))
    }

    fn nodes(&self) -> Result<Vec<NodeInfo>, StoreError> {
        let conn = self.read();
        let mut select = conn.prepare_cached(&format!(
            "SELECT {NODE_COLUMNS}, (SELECT COUNT(*) FROM runs WHERE node = nodes.id \
             AND state IN ('submitted', 'running')) FROM nodes WHERE left_at IS NULL \
             OR left_at >= (SELECT MAX(heartbeat) FROM nodes) - {GONE_NODES_KEPT_MS} \
             ORDER BY started, id"
        ))?;
        let mut rows = select.query([])?;
        let mut nodes = Vec::new();
        while let Some(row) = rows.next()? {
            nodes.push(read_node(row)?);
        }
        Ok(nodes)
    }

    fn publish_events(&self, node: &str, events: Vec<Envelope>) {
        let rows: Vec<(i64, String)> = events
            .iter()
            .filter_map(|e| Some((e.at.timestamp_millis(), serde_json::to_string(e).ok()?)))
            .collect();
        if !rows.is_empty() {
            self.post(Op::PublishEvents(node.to_string(), rows));
        }
    }

    fn events_after(
        &self,
        node: &str,
        cursor: Option<i64>,
    ) -> Result<(Vec<Envelope>, i64), StoreError> {
        let conn = self.read();
        let Some(after) = cursor else {
            let last =
                conn.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?;
            return Ok((Vec::new(), last));
        };
        let mut select = conn.prepare_cached(
            "SELECT id, node, body FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let mut rows = select.query(params![after, super::EVENTS_PAGE])?;
        let (mut events, mut last) = (Vec::new(), after);
        while let Some(row) = rows.next()? {
            last = row.get(0)?;
            let from: String = row.get(1)?;
            if from == node {
                continue;
            }
            let body: String = row.get(2)?;
            let mut envelope: Envelope = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("shared event: {e}")))?;
            envelope.node = Some(from.into());
            events.push(envelope);
        }
        Ok((events, last))
    }

    fn runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        let (filter, mut values) = run_filter(query, &[]);
        values.push(Value::Integer(
            i64::try_from(query.effective_limit()).unwrap_or(i64::MAX),
        ));
        let conn = self.read();
        let mut select = conn.prepare_cached(&runs_sql(&filter))?;
        let mut rows = select.query(params_from_iter(values))?;
        let mut runs = Vec::new();
        while let Some(row) = rows.next()? {
            runs.push(read_run(row)?);
        }
        Ok(runs)
    }

    fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        let conn = self.read();
        let mut select =
            conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))?;
        let mut rows = select.query([id])?;
        rows.next()?.map(read_run).transpose()
    }

    fn request_cancel(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        self.call(|ack| Op::RequestCancel(id, ack))?;
        self.run(id)
    }

    fn cancel_requests(&self, node: &str) -> Result<Vec<i64>, StoreError> {
        let conn = self.read();
        let mut select = conn.prepare_cached(
            "SELECT id FROM runs WHERE node = ?1 AND cancel_requested = 1 \
             AND state IN ('submitted', 'running')",
        )?;
        let ids = select.query_map([node], |r| r.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    fn run_buckets(&self, query: &RunQuery, bucket_s: i64) -> Result<Vec<RunBucket>, StoreError> {
        let width = bucket_s.max(1).saturating_mul(1000);
        let (filter, values) = run_filter(query, &[]);
        let conn = self.read();
        let mut select = conn.prepare_cached(&super::run_buckets_sql(width, &filter))?;
        let mut rows = select.query(params_from_iter(values))?;
        let mut buckets = Vec::new();
        while let Some(row) = rows.next()? {
            let state: String = row.get(1)?;
            buckets.push(RunBucket {
                start: instant(row.get(0)?)?,
                state: RunState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown run state '{state}'")))?,
                count: row.get::<_, i64>(2)?.max(0) as u64,
            });
        }
        buckets.sort_unstable_by_key(|b| (b.start, b.state));
        Ok(buckets)
    }

    fn duration_stats(&self, query: &RunQuery) -> Result<Vec<DurationStats>, StoreError> {
        let (filter, values) = run_filter(query, &["started IS NOT NULL", "finished IS NOT NULL"]);
        let conn = self.read();
        let mut select = conn.prepare_cached(&super::duration_stats_sql(&filter))?;
        let mut rows = select.query(params_from_iter(values))?;
        let mut stats = Vec::new();
        while let Some(row) = rows.next()? {
            stats.push(DurationStats {
                job_id: row.get(0)?,
                count: row.get::<_, i64>(1)?.max(0) as u64,
                p50_ms: row.get(2)?,
                p90_ms: row.get(3)?,
                p99_ms: row.get(4)?,
                max_ms: row.get(5)?,
            });
        }
        Ok(stats)
    }

    fn prune_runs(&self, job_id: &str, retention: Retention, now: DateTime<Utc>) {
        let cutoff = now - Duration::days(retention.max_age_days.into());
        self.post(Op::PruneRuns {
            job_id: job_id.to_string(),
            max_runs: retention.max_runs,
            cutoff: cutoff.timestamp_millis(),
        });
    }

    fn record_metric(&self, sample: MetricSample) {
        self.post(Op::RecordMetric(sample));
    }

    fn prune_metrics(&self, before: DateTime<Utc>) {
        self.post(Op::PruneMetrics(before.timestamp_millis()));
    }

    fn metrics(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        points: usize,
    ) -> Result<Vec<MetricSample>, StoreError> {
        let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
        if points == 0 || to_ms <= from_ms {
            return Ok(Vec::new());
        }
        let span = to_ms - from_ms;
        // Keep (at - from) * points within i64 so SQLite stays in integer arithmetic.
        let points = points.min(usize::try_from(i64::MAX / span).unwrap_or(usize::MAX));
        let conn = self.read();
        let mut select = conn.prepare_cached(
            "SELECT (at - ?1) * ?3 / ?4 AS bucket, AVG(cpu_percent), AVG(memory_used), \
             AVG(memory_total), AVG(swap_used), AVG(swap_total), AVG(disk_used), \
             AVG(disk_total), AVG(net_rx_bytes), AVG(net_tx_bytes), AVG(load_1), AVG(load_5), \
             AVG(load_15) FROM metrics WHERE at >= ?1 AND at < ?2 GROUP BY bucket ORDER BY bucket",
        )?;
        let mut rows = select.query(params![from_ms, to_ms, points as i64, span])?;
        let mut samples = Vec::new();
        while let Some(row) = rows.next()? {
            let int = |i: usize| row.get::<_, f64>(i).map(|v| v.round() as u64);
            samples.push(MetricSample {
                at: instant(metric_bucket_start(row.get(0)?, from_ms, to_ms, points))?,
                cpu_percent: row.get(1)?,
                memory_used: int(2)?,
                memory_total: int(3)?,
                swap_used: int(4)?,
                swap_total: int(5)?,
                disk_used: int(6)?,
                disk_total: int(7)?,
                net_rx_bytes: int(8)?,
                net_tx_bytes: int(9)?,
                load_1: row.get(10)?,
                load_5: row.get(11)?,
                load_15: row.get(12)?,
            });
        }
        Ok(samples)
    }

    fn load_channels(&self) -> Result<Vec<Channel>, StoreError> {
        match self.setting(super::CHANNELS_KEY)? {
            Some(json) => super::read_channels(&json),
            None => Ok(Vec::new()),
        }
    }

    fn save_channels(&self, channels: &[Channel]) -> Result<(), StoreError> {
        let json = serde_json::to_string(channels)
            .map_err(|e| StoreError::Database(format!("cannot encode channels: {e}")))?;
        self.call(|ack| Op::SaveSetting(super::CHANNELS_KEY, json, true, ack))
    }

    fn record_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let json = serde_json::to_string(delivery)
            .map_err(|e| StoreError::Database(format!("cannot encode a delivery: {e}")))?;
        let channel = delivery.channel.clone();
        self.call(|ack| Op::RecordDelivery(channel, json, ack))
    }

    fn deliveries(&self, channel: Option<&str>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let conn = self.read();
        let mut select = conn.prepare_cached(
            "SELECT id, body FROM deliveries WHERE ?1 IS NULL OR channel = ?1 \
             ORDER BY id DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = select.query(params![channel, limit])?;
        let mut deliveries = Vec::new();
        while let Some(row) = rows.next()? {
            deliveries.push(super::read_delivery(
                row.get(0)?,
                &row.get::<_, String>(1)?,
            )?);
        }
        Ok(deliveries)
    }

    fn load_settings(&self) -> Result<Option<Settings>, StoreError> {
        let Some(json) = self.setting(SETTINGS_KEY)? else {
            return Ok(None);
        };
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("stored settings: {e}")))
    }

    fn save_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        let json = serde_json::to_string(settings)
            .map_err(|e| StoreError::Database(format!("cannot encode settings: {e}")))?;
        self.call(|ack| Op::SaveSetting(SETTINGS_KEY, json, false, ack))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.call(Op::Flush)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract_tests::{fire_claim, job, t};
    use std::path::PathBuf;

    fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kairos.db");
        (dir, path)
    }

    #[test]
    fn reopen_keeps_everything_committed() {
        let (_dir, path) = temp_db();
        let mut settings = Settings::default();
        settings.pools.insert("io".into(), 2);
        let sample = MetricSample {
            at: t(5),
            cpu_percent: 12.5,
            memory_used: 1 << 40,
            memory_total: 2 << 40,
            swap_used: 0,
            swap_total: 0,
            disk_used: 3,
            disk_total: 4,
            net_rx_bytes: 5,
            net_tx_bytes: 6,
            load_1: 0.5,
            load_5: 0.25,
            load_15: 0.125,
        };
        let mut finished = RunRecord::new(7, "a", t(5), RunState::Succeeded);
        finished.started = Some(t(1));
        finished.finished = Some(t(2));
        finished.stdout = "hello".into();
        {
            let store = SqliteStore::open(&path).unwrap();
            store.add_jobs(&[job("a"), job("b")]).unwrap();
            store.save_settings(&settings).unwrap();
            store
                .claim(&"n".into(), t(0), vec![fire_claim("a", 0, 30)])
                .unwrap();
            // Bookkeeping not flushed explicitly: dropping the store commits it.
            store.record_runs(vec![finished.clone()]);
            store.record_metric(sample.clone());
        }
        let store = SqliteStore::open(&path).unwrap();
        let mut a = job("a");
        a.next_run = Some(t(30));
        assert_eq!(store.list_jobs().unwrap(), vec![a, job("b")]);
        assert_eq!(store.load_settings().unwrap(), Some(settings));
        assert_eq!(store.run(7).unwrap(), Some(finished));
        assert_eq!(
            store.metrics(t(0), t(10), 1).unwrap(),
            vec![MetricSample { at: t(0), ..sample }]
        );
    }

    #[test]
    fn job_changes_are_committed_before_return() {
        let (_dir, path) = temp_db();
        let writer = SqliteStore::open(&path).unwrap();
        let reader = SqliteStore::open(&path).unwrap();
        writer.add_jobs(&[job("a")]).unwrap();
        assert_eq!(reader.get_job("a").unwrap(), Some(job("a")));
        let mut changed = job("a");
        changed.paused = true;
        writer.update_job(&changed).unwrap();
        assert_eq!(reader.get_job("a").unwrap(), Some(changed));
        assert!(writer.remove_job("a").unwrap());
        assert_eq!(reader.get_job("a").unwrap(), None);
    }

    #[test]
    fn change_counter_sees_other_instances() {
        let (_dir, path) = temp_db();
        let mine = SqliteStore::open(&path).unwrap();
        let other = SqliteStore::open(&path).unwrap();
        let before = mine.change_counter().unwrap();
        other.add_jobs(&[job("a")]).unwrap();
        let after_add = mine.change_counter().unwrap();
        assert_ne!(before, after_add);
        // Claiming a fire is not a job change.
        other
            .claim(&"n".into(), t(0), vec![fire_claim("a", 0, 99)])
            .unwrap();
        assert_eq!(mine.change_counter().unwrap(), after_add);
        other.remove_job("a").unwrap();
        assert_ne!(mine.change_counter().unwrap(), after_add);
    }

    #[test]
    fn future_schema_version_is_refused() {
        let (_dir, path) = temp_db();
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = SqliteStore::open(&path)
            .err()
            .expect("a newer schema must be refused");
        let message = err.to_string();
        assert!(message.contains("schema version 99"), "{message}");
        assert!(message.contains("newer"), "{message}");
    }

    #[test]
    fn migrations_set_the_latest_version() {
        let (_dir, path) = temp_db();
        drop(SqliteStore::open(&path).unwrap());
        // Opening again migrates nothing and keeps working.
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn job_definitions_are_json() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        store.add_jobs(&[job("a")]).unwrap();
        let conn = Connection::open(&path).unwrap();
        let definition: String = conn
            .query_row("SELECT definition FROM jobs WHERE id = 'a'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&definition).unwrap();
        assert_eq!(value["trigger"]["type"], "interval");
        assert_eq!(value["action"]["kind"], "function");
    }

    #[test]
    fn adds_100k_jobs_in_one_call() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        let template = job("x");
        let jobs: Vec<Job> = (0..100_000)
            .map(|i| Job {
                id: format!("job-{i:06}"),
                next_run: Some(t(i)),
                ..template.clone()
            })
            .collect();
        store.add_jobs(&jobs).unwrap();
        let schedule = store.schedule().unwrap();
        assert_eq!(schedule.len(), 100_000);
        assert_eq!(schedule[12_345].id, "job-012345");
        assert_eq!(schedule[12_345].next_run, Some(t(12_345)));
    }

    /// An add of `total` jobs whose encoder sent `chunks` and stopped.
    fn encoded(chunks: Vec<Result<Vec<JobRow>, StoreError>>, total: usize) -> AddRows {
        let (send, received) = mpsc::sync_channel(chunks.len());
        for chunk in chunks {
            send.send(chunk).unwrap();
        }
        AddRows {
            total,
            chunks: received,
        }
    }

    #[test]
    fn an_add_cut_short_or_failing_to_encode_writes_none_of_its_jobs() {
        let (_dir, path) = temp_db();
        drop(SqliteStore::open(&path).unwrap());
        let mut conn = Connection::open(&path).unwrap();
        let row = |id: &str| JobRow::new(&job(id)).unwrap();
        let (short_ack, short) = mpsc::channel();
        let (bad_ack, bad) = mpsc::channel();
        let failure = StoreError::Database("cannot encode job 'y'".into());
        let mut batch = vec![
            Op::AddJobs(encoded(vec![Ok(vec![row("a")])], 2), short_ack),
            Op::AddJobs(encoded(vec![Ok(vec![row("x")]), Err(failure)], 2), bad_ack),
        ];
        apply_batch(&mut conn, &mut batch);
        let cut = short.recv().unwrap().unwrap_err().to_string();
        assert!(cut.contains("after 1 of its 2 jobs"), "{cut}");
        assert!(matches!(bad.recv().unwrap(), Err(StoreError::Database(m)) if m.contains("'y'")));
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.list_jobs().unwrap().is_empty());
        assert_eq!(store.count_jobs().unwrap().total, 0);
    }

    #[test]
    fn one_batch_keeps_good_writes_beside_a_rejected_one() {
        let (_dir, path) = temp_db();
        drop(SqliteStore::open(&path).unwrap());
        let mut conn = Connection::open(&path).unwrap();
        let row = |id: &str| JobRow::new(&job(id)).unwrap();
        let rows =
            |ids: &[&str]| encoded(vec![Ok(ids.iter().map(|id| row(id)).collect())], ids.len());
        let (dup_ack, dup) = mpsc::channel();
        let (ok_ack, ok) = mpsc::channel();
        let (missing_ack, missing) = mpsc::channel();
        let (flush_ack, flushed) = mpsc::channel();
        let mut batch = vec![
            Op::AddJobs(rows(&["a"]), mpsc::channel().0),
            Op::RecordRuns(vec![RunRecord::new(1, "a", t(0), RunState::Submitted)]),
            Op::AddJobs(rows(&["b", "a"]), dup_ack),
            Op::RecordRuns(vec![RunRecord::new(1, "a", t(0), RunState::Running)]),
            Op::AddJobs(rows(&["c"]), ok_ack),
            Op::UpdateJob(row("zz"), missing_ack),
            Op::RecordRuns(vec![RunRecord::new(1, "a", t(0), RunState::Failed)]),
            Op::Flush(flush_ack),
        ];
        apply_batch(&mut conn, &mut batch);
        assert!(batch.is_empty());
        assert!(matches!(dup.recv().unwrap(), Err(StoreError::Duplicate(id)) if id == "a"));
        assert!(ok.recv().unwrap().is_ok());
        assert!(matches!(missing.recv().unwrap(), Err(StoreError::NotFound(id)) if id == "zz"));
        assert!(flushed.recv().unwrap().is_ok());
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        let ids: Vec<_> = store
            .list_jobs()
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(ids, vec!["a", "c"]);
        assert_eq!(store.run(1).unwrap().unwrap().state, RunState::Failed);
    }

    #[test]
    fn a_claim_that_fails_halfway_leaves_nothing_of_its_batch() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        store.add_jobs(&[job("a"), job("b")]).unwrap();
        drop(store);
        let mut conn = Connection::open(&path).unwrap();
        // The second claim's run cannot be written, after the first's was.
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON runs WHEN new.job_id = 'b' BEGIN
                SELECT RAISE(ABORT, 'disk trouble');
            END;",
        )
        .unwrap();
        let (added_ack, added) = mpsc::channel();
        let (missing_ack, missing) = mpsc::channel();
        let (claim_ack, claimed) = mpsc::channel();
        let mut batch = vec![
            Op::AddJobs(
                encoded(vec![Ok(vec![JobRow::new(&job("c")).unwrap()])], 1),
                added_ack,
            ),
            Op::UpdateJob(JobRow::new(&job("zz")).unwrap(), missing_ack),
            Op::Claim {
                node: "n".into(),
                now: 0,
                claims: vec![fire_claim("a", 0, 10), fire_claim("b", 0, 10)],
                ack: claim_ack,
            },
        ];
        apply_batch(&mut conn, &mut batch);
        let refused = |e: &StoreError| e.to_string().contains("disk trouble");
        assert!(matches!(claimed.recv().unwrap(), Err(e) if refused(&e)));
        // Each is told what ended the batch, or its own error.
        assert!(matches!(added.recv().unwrap(), Err(e) if refused(&e)));
        assert!(matches!(missing.recv().unwrap(), Err(StoreError::NotFound(id)) if id == "zz"));
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM runs"), 0);
        let moved = format!(
            "SELECT COUNT(*) FROM jobs WHERE next_run = {}",
            t(10).timestamp_millis()
        );
        assert_eq!(count(&moved), 0);
        assert_eq!(count("SELECT COUNT(*) FROM jobs"), 2);
    }

    #[test]
    fn many_bookkeeping_writes_group_commit() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        store.add_jobs(&[job("a")]).unwrap();
        for i in 0..5_000 {
            let id = i + 1;
            store.record_runs(vec![RunRecord::new(id, "a", t(i), RunState::Submitted)]);
            store.record_runs(vec![RunRecord::new(id, "a", t(i), RunState::Succeeded)]);
        }
        store.flush().unwrap();
        let succeeded = RunQuery {
            states: vec![RunState::Succeeded],
            limit: 10_000,
            ..RunQuery::default()
        };
        assert_eq!(store.runs(&succeeded).unwrap().len(), 5_000);
    }

    #[test]
    fn migration_keeps_repeated_fires_from_before_the_rule() {
        let (_dir, path) = temp_db();
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            // The bug the rule fixes: two processes both ran fire t(0).
            for id in [1, 2] {
                conn.execute(
                    "INSERT INTO runs (id, job_id, scheduled, state, attempt, stdout, stderr) \
                     VALUES (?1, 'a', 0, 'succeeded', 1, '', '')",
                    [id],
                )
                .unwrap();
            }
            drop(conn.transaction().unwrap());
        }
        let store = SqliteStore::open(&path).unwrap();
        let runs = store.runs(&RunQuery::default()).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(
            runs.iter().map(|r| r.manual).collect::<Vec<_>>(),
            [true, false]
        );
    }

    #[test]
    fn migration_fills_the_job_list_columns() {
        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            let mut job = crate::store::contract_tests::job("a");
            job.name = "Ünïcode Backup".into();
            job.tags = vec!["Nightly".into()];
            let definition = serde_json::to_string(&job).unwrap();
            conn.execute(
                "INSERT INTO jobs (id, definition, next_run, paused) VALUES ('a', ?1, 0, 0)",
                [definition],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO runs (id, job_id, scheduled, state, attempt, stdout, stderr) \
                 VALUES (7, 'a', 0, 'failed', 1, '', '')",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let query = JobQuery {
            q: Some("ünïcode".into()),
            tag: Some("nightly".into()),
            last_state: Some(RunState::Failed),
            ..Default::default()
        };
        let page = store.query_jobs(&query).unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.items[0].last_run.as_ref().map(|r| r.id), Some(7));
        // Migrations 7 and 9 counted what was there, and 7 indexed its text.
        let counts = store.count_jobs().unwrap();
        assert_eq!((counts.total, counts.failing), (1, 1));
        let conn = store.read();
        let indexed: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM jobs_text WHERE jobs_text MATCH '\"backup\"'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexed, 1);
    }

    #[test]
    fn the_counted_failing_states_are_those_of_a_failing_job() {
        let states = FAILING.map(|s| format!("'{}'", s.as_str())).join(", ");
        assert_eq!(FAILING_STATES, format!("({states})"));
        let listed = format!("IN {FAILING_STATES}");
        for counting in [MIGRATIONS[6], MIGRATIONS[8]] {
            assert_eq!(
                counting.matches("IN ('").count(),
                counting.matches(&listed).count()
            );
            assert!(counting.contains(&listed));
        }
    }

    /// The indexes of `jobs` with their SQL, as the database has them.
    fn job_indexes(conn: &Connection) -> Vec<(String, String)> {
        let mut select = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' \
                 AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap();
        select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_bulk_add_leaves_the_indexes_the_migrations_made() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        let migrated = job_indexes(&store.read());
        let mut listed: Vec<(String, String)> = JOB_INDEXES
            .iter()
            .chain([&FAILING_INDEX])
            .map(|(name, sql)| (name.to_string(), sql.to_string()))
            .collect();
        listed.sort();
        assert_eq!(migrated, listed);
        // A bulk add that fails on its last job adds nothing and keeps the indexes.
        let mut jobs: Vec<Job> = (0..BULK_ADD).map(|i| job(&format!("j{i:05}"))).collect();
        jobs.push(job("j00000"));
        assert!(matches!(
            store.add_jobs(&jobs),
            Err(StoreError::Duplicate(id)) if id == "j00000"
        ));
        let schema = || -> i64 {
            store
                .read()
                .query_row("PRAGMA schema_version", [], |r| r.get(0))
                .unwrap()
        };
        let version = schema();
        assert_eq!(job_indexes(&store.read()), migrated);
        assert_eq!(store.count_jobs().unwrap().total, 0);
        // One that succeeds builds them again (the schema changed): lists and filters use
        // them, and so does a small add after it.
        jobs.pop();
        jobs[7].paused = true;
        store.add_jobs(&jobs).unwrap();
        assert!(schema() > version);
        store.add_jobs(&[job("zz-small")]).unwrap();
        assert_eq!(job_indexes(&store.read()), migrated);
        let paused = store
            .query_jobs(&JobQuery {
                paused: Some(true),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(paused.total, 1);
        assert_eq!(paused.items[0].job.id, "j00007");
        let first = store.query_jobs(&JobQuery::default()).unwrap();
        assert_eq!(first.items[0].job.id, "j00000");
        // Another as big as what is stored builds them again too.
        let more: Vec<Job> = (0..=BULK_ADD).map(|i| job(&format!("k{i:05}"))).collect();
        let version = schema();
        store.add_jobs(&more).unwrap();
        assert!(schema() > version);
        assert_eq!(store.count_jobs().unwrap().total, 2 * BULK_ADD + 2);
        let integrity: String = store
            .read()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }

    #[test]
    fn what_an_add_does_meanwhile_runs_before_its_write_is_done() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        // Another connection holds the write lock until `meanwhile` lets go of it: were
        // `meanwhile` called after the write, the writer would give up waiting (5 s).
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut calls = 0;
        let jobs: Vec<Job> = (0..100).map(|i| job(&format!("j{i:03}"))).collect();
        store
            .add_jobs_meanwhile(&jobs, &mut || {
                calls += 1;
                other.execute_batch("COMMIT").unwrap();
            })
            .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(store.count_jobs().unwrap().total, 100);
        // An add the writer refuses calls it once too, and adds nothing.
        let mut calls = 0;
        let again = [job("new"), job("j000")];
        let failed = store.add_jobs_meanwhile(&again, &mut || calls += 1);
        assert!(matches!(failed, Err(StoreError::Duplicate(id)) if id == "j000"));
        assert_eq!(calls, 1);
        assert_eq!(store.count_jobs().unwrap().total, 100);
    }

    /// How SQLite would run `sql` on `store` (its parameters unbound), step by step.
    fn query_plan(store: &SqliteStore, sql: &str) -> Vec<String> {
        let conn = store.read();
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let unbound = vec![Value::Null; explain.parameter_count()];
        let details = explain
            .query_map(params_from_iter(unbound), |r| r.get(3))
            .unwrap();
        details.map(Result::unwrap).collect()
    }

    #[test]
    fn jobs_of_a_kind_paused_or_not_are_counted_from_the_kind_counts() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        let query = JobQuery {
            kind: Some(ActionKind::Shell),
            paused: Some(true),
            ..Default::default()
        };
        let plan = query_plan(&store, &job_query_sql(&query, &JOB_COLUMNS).count);
        assert!(
            plan.contains(&"SEARCH j USING PRIMARY KEY (kind=? AND paused=?)".to_string()),
            "{plan:?}"
        );
    }

    #[test]
    fn jobs_an_older_process_adds_are_counted_all_the_same() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        store.add_jobs(&[job("a"), job("b")]).unwrap();
        // A process at schema 11 adds a job: it counts it in all, not by kind.
        let older = Connection::open(&path).unwrap();
        older
            .execute_batch(
                "INSERT INTO jobs (id, definition, next_run, paused, name_key, kind, search, \
                 tags_key) SELECT 'c', definition, next_run, paused, 'c', kind, 'c', tags_key \
                 FROM jobs WHERE id = 'a';
                 UPDATE job_counts SET total = total + 1;",
            )
            .unwrap();
        let kind: String = older
            .query_row("SELECT kind FROM jobs WHERE id = 'a'", [], |r| r.get(0))
            .unwrap();
        let kind = ActionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .unwrap();
        let of_kind = |store: &SqliteStore| {
            let query = JobQuery {
                kind: Some(kind),
                paused: Some(false),
                ..Default::default()
            };
            store.query_jobs(&query).unwrap().total
        };
        assert_eq!(of_kind(&store), 3);
        // The next open counts them again.
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let by_kind: i64 = store
            .read()
            .query_row("SELECT SUM(n) FROM job_kind_counts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(by_kind, 3);
        assert_eq!(of_kind(&store), 3);
    }

    #[test]
    fn the_text_index_gathers_128_mib_before_writing() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        let size: i64 = store
            .read()
            .query_row(
                "SELECT v FROM jobs_text_config WHERE k = 'hashsize'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(size, 128 << 20);
    }

    #[test]
    fn a_jobs_runs_are_found_through_the_fire_index() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        let history = RunQuery {
            job_id: Some("a".into()),
            from: Some(Utc::now()),
            ..RunQuery::default()
        };
        for sql in [
            prune_sql(),
            newest_run_sql(),
            runs_sql(&run_filter(&history, &[]).0),
        ] {
            let plan = query_plan(&store, &sql).join("; ");
            assert!(plan.contains("INDEX runs_fire (job_id=?"), "{sql}: {plan}");
            assert!(!plan.contains("SCAN runs"), "{sql}: {plan}");
        }
    }

    #[test]
    fn a_big_commit_is_copied_into_the_file_by_the_checkpoint_thread() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        let jobs: Vec<Job> = (0..100_000).map(|i| job(&format!("job-{i:06}"))).collect();
        store.add_jobs(&jobs).unwrap();
        // The commit leaves over checkpoint::BIG pages to copy: the thread copies them all.
        let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
        while store._checkpointer.work().1 < 8192 {
            assert!(std::time::Instant::now() < deadline, "no copy in 20 s");
            std::thread::sleep(StdDuration::from_millis(10));
        }
        assert!(std::fs::metadata(&path).unwrap().len() > 32 << 20);
        // A small add afterwards waits for more before anyone copies it.
        let (asks, _) = store._checkpointer.work();
        store.add_jobs(&[job("late")]).unwrap();
        store.flush().unwrap();
        assert_eq!(store._checkpointer.work().0, asks);
    }

    #[test]
    fn steady_commits_are_copied_by_the_thread_and_the_log_stays_bounded() {
        let (_dir, path) = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        // Sixty commits of some hundreds of pages each, more than the longest log and the
        // biggest copy together; SQLite would have the writer copy after most of them.
        for round in 0..60 {
            let jobs: Vec<Job> = (0..4000)
                .map(|i| job(&format!("r{round:02}-{i:04}")))
                .collect();
            store.add_jobs(&jobs).unwrap();
        }
        store.flush().unwrap();
        let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
        while store._checkpointer.work().1 < 16384 {
            assert!(std::time::Instant::now() < deadline, "not copied in 20 s");
            std::thread::sleep(StdDuration::from_millis(10));
        }
        let (asks, _) = store._checkpointer.work();
        assert!(asks >= 5, "the thread was asked {asks} times");
        let wal = std::fs::metadata(format!("{}-wal", path.display())).unwrap();
        assert!(
            wal.len() <= (16384 + 8192) * 4120,
            "log of {} bytes",
            wal.len()
        );
    }

    #[test]
    fn plans_do_not_depend_on_parameters() {
        let (_dir, path) = temp_db();
        let conn = Connection::open(&path).unwrap();
        configure(&conn).unwrap();
        assert!(conn
            .db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)
            .unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn the_database_and_its_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/kairos.db");
        let store = crate::store::open(&path).unwrap();
        store
            .add_jobs(&[crate::store::contract_tests::job("a")])
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
}
