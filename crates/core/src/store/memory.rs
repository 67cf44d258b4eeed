//! The in-memory job store: sets and maps behind short-held mutexes; nothing survives the
//! process.

use std::borrow::Borrow;
use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};

use chrono::{DateTime, Duration, Utc};

use super::run_log::Runs;
use super::{Claim, ClaimOutcome, Heartbeat, JobStore, NodeInfo, ScheduleEntry, StoreError};
use crate::alert::{Channel, Delivery};
use crate::events::Envelope;
use crate::history::{DurationStats, RunBucket, RunQuery, RunRecord, RunState, ThinStr};
use crate::job::{Job, JobId, Retention, Settings};
use crate::metrics::MetricSample;
use crate::query::{count_jobs, JobCounts, JobEntry, JobPage, JobQuery, TagCount};

/// Keeps everything in memory; nothing survives the process.
///
/// It serves one process, so a claim is decided by comparing the job's next fire time under
/// the jobs lock; it does not look for an earlier run of the same fire time (the SQLite store
/// does) and does not count other nodes' runs against `max_instances`.
pub struct MemoryStore {
    /// Found by id (each is its own key: 200k jobs, 10 MB less than a map keyed by a copy).
    jobs: Mutex<HashSet<StoredJob, foldhash::fast::RandomState>>,
    history: Arc<History>,
    metrics: Mutex<Vec<MetricSample>>,
    settings: Mutex<Option<Settings>>,
    nodes: Mutex<Nodes>,
    next_run_id: AtomicI64,
    changes: AtomicI64,
    /// Runs whose cancel was requested.
    cancels: Mutex<Vec<i64>>,
    channels: Mutex<Vec<Channel>>,
    /// Alert delivery attempts, oldest first.
    deliveries: Mutex<Vec<Delivery>>,
    /// Called at each claim: tests make claims take (clock) time with it.
    #[cfg(test)]
    pub(crate) on_claim: Mutex<Option<Box<dyn Fn() + Send>>>,
}

/// A job as kept: the definition shared with the run loop (see `shared_job`), and its next
/// fire time, which claims advance without copying the definition. Hashed and compared by
/// the job's id, which it lends to lookups.
struct StoredJob {
    job: Arc<Job>,
    /// A `Cell`, so a claim advances it through the set (the set's mutex guards it).
    next_run: Cell<Option<DateTime<Utc>>>,
}

impl StoredJob {
    fn new(job: &Job) -> Self {
        StoredJob {
            job: Arc::new(job.clone()),
            next_run: Cell::new(job.next_run),
        }
    }

    /// The job with its current next fire time.
    fn full(&self) -> Job {
        Job {
            next_run: self.next_run.get(),
            ..(*self.job).clone()
        }
    }
}

impl Borrow<str> for StoredJob {
    fn borrow(&self) -> &str {
        &self.job.id
    }
}

impl Hash for StoredJob {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so lookups by `&str` find it.
        self.job.id.as_str().hash(state);
    }
}

impl PartialEq for StoredJob {
    fn eq(&self, other: &Self) -> bool {
        self.job.id == other.job.id
    }
}

impl Eq for StoredJob {}

/// The registered nodes, and whether unfinished runs were looked at since one went.
#[derive(Default)]
struct Nodes {
    list: Vec<NodeInfo>,
    swept: bool,
}

/// Run history, and the changes to it not applied yet. Recording a run or pruning only
/// queues a change, so the threads that fire and run jobs never wait on the history's
/// indexes; a background thread applies the queue, and every read applies what is left first.
#[derive(Default)]
struct History {
    runs: Mutex<Kept>,
    pending: Mutex<Pending>,
    /// Wakes the background thread when a change arrives while it waits, or on close.
    wake: Condvar,
}

/// Changes waiting for the history, oldest first.
#[derive(Default)]
struct Pending {
    changes: Vec<Change>,
    /// The background thread waits on `wake` for a change.
    waiting: bool,
    /// The store is gone: the background thread ends.
    closed: bool,
}

/// One change to the run history.
enum Change {
    /// Insert the record, or replace the one with its id.
    Record(RunRecord),
    /// Keep the job's newest `max_runs` runs, none fired before `cutoff`.
    Prune {
        job_id: JobId,
        max_runs: usize,
        cutoff: DateTime<Utc>,
    },
}

/// Most changes queued before recording applies them itself.
const MAX_PENDING: usize = 1 << 16;

impl History {
    /// The run history with every queued change applied.
    fn runs(&self) -> MutexGuard<'_, Kept> {
        self.catch_up(lock(&self.runs))
    }

    /// Applies every queued change to `runs`, which the caller has locked.
    fn catch_up<'a>(&self, mut runs: MutexGuard<'a, Kept>) -> MutexGuard<'a, Kept> {
        // Taken while `runs` is locked, so changes apply in the order they were made.
        let mut changes = std::mem::take(&mut runs.spare);
        std::mem::swap(&mut changes, &mut lock(&self.pending).changes);
        for change in changes.drain(..) {
            runs.apply(change);
        }
        runs.spare = changes;
        runs
    }

    /// Queues `changes`, or applies them at once when the queue is full and nobody else is
    /// applying it (waiting for the background thread, which runs at a lower priority,
    /// would stall a run loop: the queue runs over instead while it catches up).
    fn push(&self, changes: impl IntoIterator<Item = Change>) {
        let mut pending = lock(&self.pending);
        if pending.changes.len() >= MAX_PENDING {
            drop(pending);
            let runs = match self.runs.try_lock() {
                Ok(runs) => Some(runs),
                Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(runs) = runs {
                let mut runs = self.catch_up(runs);
                for change in changes {
                    runs.apply(change);
                }
                return;
            }
            pending = lock(&self.pending);
        }
        pending.changes.extend(changes);
        if std::mem::take(&mut pending.waiting) {
            self.wake.notify_one();
        }
    }

    /// The background thread: applies queued changes as they come (whatever gathered while
    /// it applied the last ones) until the store is dropped.
    fn apply_queued(&self) {
        // A little below the run loop and the runs, whose threads it otherwise takes turns
        // with: in the 200k fires/s storm p99 lateness was 8-80 ms at the same priority and
        // 3-8 ms at nice +5. (At nice 19, when a full queue still made the loop wait for it,
        // that wait stalled the loop 30 ms.) Linux keeps nice per thread; elsewhere it would
        // lower the whole process, so it is left alone there.
        #[cfg(target_os = "linux")]
        // SAFETY: nice only changes this thread's scheduling priority.
        unsafe {
            libc::nice(5);
        }
        loop {
            let mut pending = lock(&self.pending);
            while pending.changes.is_empty() && !pending.closed {
                pending.waiting = true;
                pending = self
                    .wake
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if pending.closed {
                return;
            }
            drop(pending);
            drop(self.runs());
        }
    }
}

/// The run history, and the spare queue it swaps with the pending one.
#[derive(Default)]
struct Kept {
    runs: Runs,
    /// Swapped with the queued changes to take them, so both keep their capacity.
    spare: Vec<Change>,
}

impl Kept {
    /// Applies one queued change.
    fn apply(&mut self, change: Change) {
        match change {
            Change::Record(run) => self.runs.upsert(run),
            Change::Prune {
                job_id,
                max_runs,
                cutoff,
            } => self.runs.prune(&job_id, max_runs, cutoff),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        let history = Arc::new(History::default());
        let applier = history.clone();
        let spawned = std::thread::Builder::new()
            .name("kairos-history".into())
            .spawn(move || applier.apply_queued());
        if let Err(e) = spawned {
            // Still correct: reads and a full queue apply the changes.
            tracing::warn!("cannot start the history thread: {e}");
        }
        MemoryStore {
            jobs: Mutex::default(),
            history,
            metrics: Mutex::new(Vec::new()),
            settings: Mutex::new(None),
            nodes: Mutex::default(),
            next_run_id: AtomicI64::new(1),
            changes: AtomicI64::new(0),
            cancels: Mutex::default(),
            channels: Mutex::default(),
            deliveries: Mutex::default(),
            #[cfg(test)]
            on_claim: Mutex::default(),
        }
    }

    /// The run history, queued changes applied.
    fn history(&self) -> MutexGuard<'_, Kept> {
        self.history.runs()
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for MemoryStore {
    fn drop(&mut self) {
        lock(&self.history.pending).closed = true;
        self.history.wake.notify_one();
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

/// The value at nearest rank `pct` percent of ascending `sorted` (rank = ceil(pct·n/100)).
pub(crate) fn nearest_rank(sorted: &[i64], pct: usize) -> i64 {
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The index of the `points`-way split of `[from, to)` (both epoch ms) that `at` falls in.
pub(crate) fn metric_bucket(at: i64, from: i64, to: i64, points: usize) -> i64 {
    ((at as i128 - from as i128) * points as i128 / (to as i128 - from as i128)) as i64
}

/// The start (epoch ms) of bucket `index` of the `points`-way split of `[from, to)`.
pub(crate) fn metric_bucket_start(index: i64, from: i64, to: i64, points: usize) -> i64 {
    (from as i128 + index as i128 * (to as i128 - from as i128) / points as i128) as i64
}

/// Sums of one bucket's samples.
#[derive(Default)]
struct MetricSums {
    n: u64,
    cpu_percent: f64,
    load: [f64; 3],
    ints: [u128; 8],
}

impl MetricSums {
    fn add(&mut self, s: &MetricSample) {
        self.n += 1;
        self.cpu_percent += s.cpu_percent;
        self.load[0] += s.load_1;
        self.load[1] += s.load_5;
        self.load[2] += s.load_15;
        let ints = [
            s.memory_used,
            s.memory_total,
            s.swap_used,
            s.swap_total,
            s.disk_used,
            s.disk_total,
            s.net_rx_bytes,
            s.net_tx_bytes,
        ];
        for (sum, v) in self.ints.iter_mut().zip(ints) {
            *sum += v as u128;
        }
    }

    fn average(&self, at: DateTime<Utc>) -> MetricSample {
        let n = self.n as f64;
        let int = |i: usize| (self.ints[i] as f64 / n).round() as u64;
        MetricSample {
            at,
            cpu_percent: self.cpu_percent / n,
            memory_used: int(0),
            memory_total: int(1),
            swap_used: int(2),
            swap_total: int(3),
            disk_used: int(4),
            disk_total: int(5),
            net_rx_bytes: int(6),
            net_tx_bytes: int(7),
            load_1: self.load[0] / n,
            load_5: self.load[1] / n,
            load_15: self.load[2] / n,
        }
    }
}

impl JobStore for MemoryStore {
    fn add_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        let mut stored = lock(&self.jobs);
        let mut seen = HashSet::with_capacity(jobs.len());
        for job in jobs {
            if stored.contains(job.id.as_str()) || !seen.insert(job.id.as_str()) {
                return Err(StoreError::Duplicate(job.id.clone()));
            }
        }
        for job in jobs {
            stored.insert(StoredJob::new(job));
        }
        drop(stored);
        self.changed();
        Ok(())
    }

    fn update_job(&self, job: &Job) -> Result<(), StoreError> {
        let mut stored = lock(&self.jobs);
        if !stored.contains(job.id.as_str()) {
            return Err(StoreError::NotFound(job.id.clone()));
        }
        stored.replace(StoredJob::new(job));
        drop(stored);
        self.changed();
        Ok(())
    }

    fn remove_job(&self, id: &str) -> Result<bool, StoreError> {
        let removed = lock(&self.jobs).remove(id);
        if removed {
            self.changed();
        }
        Ok(removed)
    }

    fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        Ok(lock(&self.jobs).get(id).map(StoredJob::full))
    }

    fn shared_job(&self, id: &str) -> Result<Option<Arc<Job>>, StoreError> {
        Ok(lock(&self.jobs).get(id).map(|s| s.job.clone()))
    }

    fn list_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs: Vec<Job> = lock(&self.jobs).iter().map(StoredJob::full).collect();
        jobs.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(jobs)
    }

    fn query_jobs(&self, query: &JobQuery) -> Result<JobPage, StoreError> {
        let jobs: Vec<Job> = lock(&self.jobs).iter().map(StoredJob::full).collect();
        let kept = self.history();
        let entries = jobs
            .into_iter()
            .map(|job| JobEntry {
                last_run: kept.runs.newest(&job.id).map(|run| run.last_run()),
                job,
            })
            .collect();
        Ok(query.apply(entries))
    }

    fn count_jobs(&self) -> Result<JobCounts, StoreError> {
        let jobs: Vec<Job> = lock(&self.jobs).iter().map(StoredJob::full).collect();
        let kept = self.history();
        Ok(count_jobs(jobs.iter().map(|job| {
            (job, kept.runs.newest(&job.id).map(|r| r.state()))
        })))
    }

    fn tag_counts(&self) -> Result<Vec<TagCount>, StoreError> {
        // By lower-cased tag: the smallest spelling, and the jobs and paused jobs with it.
        let mut tags: BTreeMap<String, TagCount> = BTreeMap::new();
        for StoredJob { job, .. } in lock(&self.jobs).iter() {
            let mut keys: Vec<(String, &String)> =
                job.tags.iter().map(|t| (t.to_lowercase(), t)).collect();
            keys.sort();
            keys.dedup_by(|a, b| a.0 == b.0);
            for (key, tag) in keys {
                let count = tags.entry(key).or_insert_with(|| TagCount {
                    tag: tag.clone(),
                    ..Default::default()
                });
                if *tag < count.tag {
                    count.tag = tag.clone();
                }
                count.jobs += 1;
                count.paused += usize::from(job.paused);
            }
        }
        Ok(tags.into_values().collect())
    }

    fn schedule(&self) -> Result<Vec<ScheduleEntry>, StoreError> {
        let mut entries: Vec<ScheduleEntry> = lock(&self.jobs)
            .iter()
            .map(|s| ScheduleEntry {
                id: s.job.id.clone(),
                next_run: s.next_run.get(),
                paused: s.job.paused,
            })
            .collect();
        entries.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    fn overdue(&self, before: DateTime<Utc>) -> Result<Vec<ScheduleEntry>, StoreError> {
        Ok(lock(&self.jobs)
            .iter()
            .filter(|s| !s.job.paused && s.next_run.get().is_some_and(|t| t < before))
            .take(super::OVERDUE_LIMIT)
            .map(|s| ScheduleEntry {
                id: s.job.id.clone(),
                next_run: s.next_run.get(),
                paused: false,
            })
            .collect())
    }

    fn change_counter(&self) -> Result<i64, StoreError> {
        Ok(self.changes.load(Ordering::Relaxed))
    }

    fn claim(
        &self,
        node: &ThinStr,
        _now: DateTime<Utc>,
        mut claims: Vec<Claim>,
    ) -> Result<Vec<Claim>, StoreError> {
        #[cfg(test)]
        if let Some(on_claim) = &*lock(&self.on_claim) {
            on_claim();
        }
        let mut records = Vec::new();
        {
            let jobs = lock(&self.jobs);
            for claim in &mut claims {
                let Some(stored) = jobs.get(&*claim.job_id) else {
                    claim.outcome = ClaimOutcome::Gone;
                    continue;
                };
                if let Some((from, to)) = claim.advance {
                    if stored.next_run.get() != Some(from) || stored.job.paused {
                        claim.outcome = ClaimOutcome::Lost {
                            next_run: stored.next_run.get(),
                            paused: stored.job.paused,
                        };
                        continue;
                    }
                    stored.next_run.set(to);
                }
                let first = self
                    .next_run_id
                    .fetch_add(claim.runs.len() as i64, Ordering::Relaxed);
                for (run, id) in claim.runs.iter_mut().zip(first..) {
                    run.id = id;
                    run.node = Some(node.clone());
                    records.push(Change::Record(run.clone()));
                }
                claim.outcome = ClaimOutcome::Won;
            }
        }
        self.history.push(records);
        Ok(claims)
    }

    fn record_runs(&self, runs: Vec<RunRecord>) {
        let Some(max) = runs.iter().map(|r| r.id).max() else {
            return;
        };
        self.next_run_id
            .fetch_max(max.saturating_add(1), Ordering::Relaxed);
        self.history.push(runs.into_iter().map(Change::Record));
    }

    fn heartbeat(&self, node: &NodeInfo) -> Result<Heartbeat, StoreError> {
        let mut nodes = lock(&self.nodes);
        let revived = match nodes.list.iter_mut().find(|n| n.id == node.id) {
            Some(stored) => {
                let revived = stored.left.is_some();
                *stored = NodeInfo {
                    left: None,
                    ..node.clone()
                };
                revived
            }
            None => {
                nodes.list.push(node.clone());
                false
            }
        };
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
        let alive: HashSet<String> = {
            let mut guard = lock(&self.nodes);
            let nodes = &mut *guard;
            for node in &mut nodes.list {
                if node.left.is_none() && (node.heartbeat < now - lease || dead.contains(&node.id))
                {
                    node.left = Some(now);
                    nodes.swept = false;
                }
            }
            if std::mem::replace(&mut nodes.swept, true) {
                return Ok(Vec::new());
            }
            nodes
                .list
                .iter()
                .filter(|n| n.left.is_none())
                .map(|n| n.id.clone())
                .collect()
        };
        Ok(self.history().runs.abandon_orphans(&alive, now))
    }

    fn leave(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut nodes = lock(&self.nodes);
        if let Some(node) = nodes.list.iter_mut().find(|n| n.id == id) {
            node.left = Some(now);
        }
        Ok(())
    }

    fn nodes(&self) -> Result<Vec<NodeInfo>, StoreError> {
        let running = self.history().runs.running_per_node();
        let nodes = lock(&self.nodes);
        let latest = nodes.list.iter().map(|n| n.heartbeat).max();
        Ok(nodes
            .list
            .iter()
            .filter(|n| {
                n.left
                    .is_none_or(|left| latest.is_none_or(|l| l - left < Duration::days(1)))
            })
            .map(|n| NodeInfo {
                running: running.get(n.id.as_str()).copied().unwrap_or(0),
                ..n.clone()
            })
            .collect())
    }

    fn publish_events(&self, _node: &str, _events: Vec<Envelope>) {
        // One process: there is nobody to share them with.
    }

    fn events_after(
        &self,
        _node: &str,
        _cursor: Option<i64>,
    ) -> Result<(Vec<Envelope>, i64), StoreError> {
        Ok((Vec::new(), 0))
    }

    fn runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        let kept = self.history();
        Ok(kept
            .runs
            .matching(query)
            .take(query.effective_limit())
            .map(|run| run.record())
            .collect())
    }

    fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.history().runs.get(id).map(|run| run.record()))
    }

    fn request_cancel(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        let run = self.run(id)?;
        if run.as_ref().is_some_and(|r| !r.state.is_final()) {
            lock(&self.cancels).push(id);
            self.changes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(run)
    }

    fn cancel_requests(&self, node: &str) -> Result<Vec<i64>, StoreError> {
        let kept = self.history();
        let mut cancels = lock(&self.cancels);
        cancels.retain(|&id| kept.runs.get(id).is_some_and(|r| !r.state().is_final()));
        Ok(cancels
            .iter()
            .copied()
            .filter(|&id| kept.runs.get(id).and_then(|r| r.node()).map(|n| &**n) == Some(node))
            .collect())
    }

    fn run_buckets(&self, query: &RunQuery, bucket_s: i64) -> Result<Vec<RunBucket>, StoreError> {
        let width = bucket_s.max(1).saturating_mul(1000);
        let mut counts: BTreeMap<(i64, RunState), u64> = BTreeMap::new();
        {
            let kept = self.history();
            for run in kept.runs.matching(query) {
                let ms = run.scheduled_ms();
                let start = ms - ms.rem_euclid(width);
                *counts.entry((start, run.state())).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|((start, state), count)| {
                Ok(RunBucket {
                    start: DateTime::from_timestamp_millis(start).ok_or_else(|| {
                        StoreError::Corrupt(format!("bucket start {start} out of range"))
                    })?,
                    state,
                    count,
                })
            })
            .collect()
    }

    fn duration_stats(&self, query: &RunQuery) -> Result<Vec<DurationStats>, StoreError> {
        let mut durations: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        let kept = self.history();
        for run in kept.runs.matching(query) {
            if let Some(ms) = run.duration_ms() {
                durations.entry(run.job_id()).or_default().push(ms);
            }
        }
        Ok(durations
            .into_iter()
            .map(|(job_id, mut ms)| {
                ms.sort_unstable();
                DurationStats {
                    job_id: job_id.to_string(),
                    count: ms.len() as u64,
                    p50_ms: nearest_rank(&ms, 50),
                    p90_ms: nearest_rank(&ms, 90),
                    p99_ms: nearest_rank(&ms, 99),
                    max_ms: ms[ms.len() - 1],
                }
            })
            .collect())
    }

    fn prune_runs(&self, job_id: &str, retention: Retention, now: DateTime<Utc>) {
        self.history.push([Change::Prune {
            job_id: job_id.to_string(),
            max_runs: retention.max_runs as usize,
            cutoff: now - Duration::days(retention.max_age_days.into()),
        }]);
    }

    fn record_metric(&self, sample: MetricSample) {
        let mut metrics = lock(&self.metrics);
        if metrics.last().is_none_or(|last| last.at <= sample.at) {
            metrics.push(sample);
        } else {
            let at = metrics.partition_point(|s| s.at <= sample.at);
            metrics.insert(at, sample);
        }
    }

    fn prune_metrics(&self, before: DateTime<Utc>) {
        let mut metrics = lock(&self.metrics);
        let old = metrics.partition_point(|s| s.at < before);
        metrics.drain(..old);
    }

    fn metrics(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        points: usize,
    ) -> Result<Vec<MetricSample>, StoreError> {
        if points == 0 || to <= from {
            return Ok(Vec::new());
        }
        let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
        let metrics = lock(&self.metrics);
        let lo = metrics.partition_point(|s| s.at < from);
        let hi = metrics.partition_point(|s| s.at < to);
        let mut out = Vec::new();
        let mut current: Option<(i64, MetricSums)> = None;
        for sample in &metrics[lo..hi] {
            let bucket = metric_bucket(sample.at.timestamp_millis(), from_ms, to_ms, points);
            match &mut current {
                Some((b, sums)) if *b == bucket => sums.add(sample),
                _ => {
                    if let Some((b, sums)) = current.take() {
                        out.push((b, sums));
                    }
                    let mut sums = MetricSums::default();
                    sums.add(sample);
                    current = Some((bucket, sums));
                }
            }
        }
        out.extend(current);
        drop(metrics);
        out.into_iter()
            .map(|(b, sums)| {
                let start = metric_bucket_start(b, from_ms, to_ms, points);
                let at = DateTime::from_timestamp_millis(start).ok_or_else(|| {
                    StoreError::Corrupt(format!("bucket start {start} out of range"))
                })?;
                Ok(sums.average(at))
            })
            .collect()
    }

    fn load_channels(&self) -> Result<Vec<Channel>, StoreError> {
        Ok(lock(&self.channels).clone())
    }

    fn save_channels(&self, channels: &[Channel]) -> Result<(), StoreError> {
        *lock(&self.channels) = channels.to_vec();
        self.changes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn record_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let mut deliveries = lock(&self.deliveries);
        let id = deliveries.last().map_or(1, |d| d.id + 1);
        deliveries.push(Delivery {
            id,
            ..delivery.clone()
        });
        let excess = deliveries
            .len()
            .saturating_sub(super::DELIVERIES_KEPT as usize);
        deliveries.drain(..excess);
        Ok(())
    }

    fn deliveries(&self, channel: Option<&str>, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        Ok(lock(&self.deliveries)
            .iter()
            .rev()
            .filter(|d| channel.is_none_or(|c| d.channel == c))
            .take(limit)
            .cloned()
            .collect())
    }

    fn load_settings(&self) -> Result<Option<Settings>, StoreError> {
        Ok(lock(&self.settings).clone())
    }

    fn save_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        *lock(&self.settings) = Some(settings.clone());
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration as StdDuration, Instant};

    use super::*;

    fn run(id: i64, state: RunState) -> RunRecord {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        RunRecord::new(id, "j", at, state)
    }

    #[test]
    fn recording_and_pruning_do_not_wait_for_a_reader() {
        let store = Arc::new(MemoryStore::new());
        let reading = lock(&store.history.runs);
        let (done, finished) = mpsc::channel();
        let writer = store.clone();
        std::thread::spawn(move || {
            writer.record_runs(vec![run(1, RunState::Submitted)]);
            let retention = Retention {
                max_runs: 10,
                max_age_days: 1,
            };
            writer.prune_runs("j", retention, Utc::now());
            done.send(()).unwrap();
        });
        let waited = finished.recv_timeout(StdDuration::from_secs(10)).is_err();
        drop(reading);
        assert!(!waited, "recording waited for the history lock");
        let runs = store.runs(&RunQuery::default()).unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn the_background_thread_applies_changes_without_a_read() {
        let store = MemoryStore::new();
        store.record_runs(vec![run(1, RunState::Submitted)]);
        let deadline = Instant::now() + StdDuration::from_secs(10);
        while !lock(&store.history.pending).changes.is_empty() {
            assert!(Instant::now() < deadline, "the queue was never applied");
            std::thread::yield_now();
        }
        // The thread swaps the queue out while holding `runs`, so this waits for the apply.
        assert_eq!(lock(&store.history.runs).runs.len(), 1);
    }

    #[test]
    fn a_full_queue_applies_in_order() {
        let history = History::default(); // no background thread: the queue only fills
        history
            .push((1..=MAX_PENDING as i64).map(|id| Change::Record(run(id, RunState::Submitted))));
        history.push([Change::Record(run(1, RunState::Succeeded))]);
        assert!(lock(&history.pending).changes.is_empty());
        let kept = history.runs();
        assert_eq!(kept.runs.len(), MAX_PENDING);
        assert_eq!(kept.runs.get(1).unwrap().state(), RunState::Succeeded);
    }

    #[test]
    fn a_full_queue_runs_over_while_another_applies_it() {
        let history = Arc::new(History::default());
        history
            .push((1..=MAX_PENDING as i64).map(|id| Change::Record(run(id, RunState::Submitted))));
        let applying = lock(&history.runs);
        let (done, finished) = mpsc::channel();
        let pusher = history.clone();
        std::thread::spawn(move || {
            pusher.push([Change::Record(run(1, RunState::Succeeded))]);
            done.send(()).unwrap();
        });
        let waited = finished.recv_timeout(StdDuration::from_secs(10)).is_err();
        drop(applying);
        assert!(!waited, "a full queue waited for the history lock");
        assert_eq!(lock(&history.pending).changes.len(), MAX_PENDING + 1);
        let kept = history.runs();
        assert_eq!(kept.runs.get(1).unwrap().state(), RunState::Succeeded);
    }
}
