//! The in-memory job store: maps behind short-held mutexes; nothing survives the process.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};

use super::{note_run_ids, JobStore, ScheduleEntry, StoreError};
use crate::history::{DurationStats, RunBucket, RunQuery, RunRecord, RunState};
use crate::job::{Job, JobId, Retention, Settings};
use crate::metrics::MetricSample;
use crate::FastMap;

/// Keeps everything in memory; nothing survives the process.
pub struct MemoryStore {
    jobs: Mutex<FastMap<JobId, Job>>,
    runs: Mutex<Runs>,
    /// Records of runs just submitted, not yet in `runs`: the run loop records every
    /// submission, so it only appends here, and the next read or finished run (off the
    /// loop's path) moves them into `runs`.
    staged: Mutex<Vec<RunRecord>>,
    metrics: Mutex<Vec<MetricSample>>,
    settings: Mutex<Option<Settings>>,
    next_run_id: AtomicI64,
    changes: AtomicI64,
}

/// Run history with the per-job index the queries and pruning need.
#[derive(Default)]
struct Runs {
    /// Every run by id; iterating backwards gives newest first.
    by_id: BTreeMap<i64, RunRecord>,
    /// Each job's runs as (id, fire time), ascending by id.
    by_job: FastMap<JobId, VecDeque<(i64, DateTime<Utc>)>>,
    /// Swapped with the staged records to take them, so both keep their capacity.
    spare: Vec<RunRecord>,
}

impl Runs {
    /// Inserts `run`, or replaces the record with its id.
    fn upsert(&mut self, run: RunRecord) {
        let (id, scheduled) = (run.id, run.scheduled);
        let job_id = match self.by_id.entry(id) {
            Entry::Occupied(mut stored) => {
                let old = stored.insert(run);
                if old.job_id == stored.get().job_id && old.scheduled == scheduled {
                    return;
                }
                self.unindex(&old.job_id, id);
                &self.by_id[&id].job_id
            }
            Entry::Vacant(slot) => &slot.insert(run).job_id,
        };
        let ids = match self.by_job.get_mut(job_id.as_str()) {
            Some(ids) => ids,
            None => self.by_job.entry(job_id.clone()).or_default(),
        };
        // Runs almost always arrive in id order: appending is the usual case.
        if ids.back().is_none_or(|last| last.0 < id) {
            ids.push_back((id, scheduled));
        } else {
            let at = ids.partition_point(|e| e.0 < id);
            ids.insert(at, (id, scheduled));
        }
    }

    /// Drops run `id` of `job_id` from the per-job index.
    fn unindex(&mut self, job_id: &str, id: i64) {
        if let Some(ids) = self.by_job.get_mut(job_id) {
            if let Ok(at) = ids.binary_search_by_key(&id, |e| e.0) {
                ids.remove(at);
            }
            if ids.is_empty() {
                self.by_job.remove(job_id);
            }
        }
    }

    /// Runs matching `query`, newest first.
    fn matching<'a>(&'a self, query: &'a RunQuery) -> Box<dyn Iterator<Item = &'a RunRecord> + 'a> {
        let upper = query.before_id.unwrap_or(i64::MAX);
        let found: Box<dyn Iterator<Item = &'a RunRecord> + 'a> = match &query.job_id {
            Some(job_id) => match self.by_job.get(job_id.as_str()) {
                Some(ids) => {
                    let end = ids.partition_point(|e| e.0 < upper);
                    Box::new(
                        ids.range(..end)
                            .rev()
                            .filter_map(|(id, _)| self.by_id.get(id)),
                    )
                }
                None => Box::new(std::iter::empty()),
            },
            None => Box::new(self.by_id.range(..upper).rev().map(|(_, run)| run)),
        };
        Box::new(found.filter(move |run| query.matches(run)))
    }

    /// Deletes `job_id`'s runs beyond `max_runs` (oldest ids first) and those fired before
    /// `cutoff`.
    fn prune(&mut self, job_id: &str, max_runs: usize, cutoff: DateTime<Utc>) {
        let Some(ids) = self.by_job.get_mut(job_id) else {
            return;
        };
        let by_id = &mut self.by_id;
        let excess = ids.len().saturating_sub(max_runs);
        for (id, _) in ids.drain(..excess) {
            by_id.remove(&id);
        }
        ids.retain(|&(id, scheduled)| {
            let keep = scheduled >= cutoff;
            if !keep {
                by_id.remove(&id);
            }
            keep
        });
        if ids.is_empty() {
            self.by_job.remove(job_id);
        }
    }
}

/// Most submitted records staged before recording applies them itself.
const MAX_STAGED: usize = 1 << 16;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore {
            jobs: Mutex::new(FastMap::default()),
            runs: Mutex::new(Runs::default()),
            staged: Mutex::new(Vec::new()),
            metrics: Mutex::new(Vec::new()),
            settings: Mutex::new(None),
            next_run_id: AtomicI64::new(1),
            changes: AtomicI64::new(0),
        }
    }

    /// The run history, staged records included.
    fn history(&self) -> MutexGuard<'_, Runs> {
        let mut runs = lock(&self.runs);
        // Taken while `runs` is locked, so a later record of the same run cannot be
        // overwritten by its staged one.
        let mut staged = std::mem::take(&mut runs.spare);
        std::mem::swap(&mut staged, &mut *lock(&self.staged));
        for run in staged.drain(..) {
            runs.upsert(run);
        }
        runs.spare = staged;
        runs
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Relaxed);
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
            if stored.contains_key(&job.id) || !seen.insert(job.id.as_str()) {
                return Err(StoreError::Duplicate(job.id.clone()));
            }
        }
        for job in jobs {
            stored.insert(job.id.clone(), job.clone());
        }
        drop(stored);
        self.changed();
        Ok(())
    }

    fn update_job(&self, job: &Job) -> Result<(), StoreError> {
        let mut stored = lock(&self.jobs);
        let slot = stored
            .get_mut(&job.id)
            .ok_or_else(|| StoreError::NotFound(job.id.clone()))?;
        *slot = job.clone();
        drop(stored);
        self.changed();
        Ok(())
    }

    fn remove_job(&self, id: &str) -> Result<bool, StoreError> {
        let removed = lock(&self.jobs).remove(id).is_some();
        if removed {
            self.changed();
        }
        Ok(removed)
    }

    fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        Ok(lock(&self.jobs).get(id).cloned())
    }

    fn list_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs: Vec<Job> = lock(&self.jobs).values().cloned().collect();
        jobs.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(jobs)
    }

    fn schedule(&self) -> Result<Vec<ScheduleEntry>, StoreError> {
        let mut entries: Vec<ScheduleEntry> = lock(&self.jobs)
            .values()
            .map(|job| ScheduleEntry {
                id: job.id.clone(),
                next_run: job.next_run,
                paused: job.paused,
            })
            .collect();
        entries.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    fn change_counter(&self) -> Result<i64, StoreError> {
        Ok(self.changes.load(Ordering::Relaxed))
    }

    fn set_next_runs(&self, updates: Vec<(Arc<str>, Option<DateTime<Utc>>)>) {
        let mut jobs = lock(&self.jobs);
        for (id, next_run) in updates {
            if let Some(job) = jobs.get_mut(&*id) {
                job.next_run = next_run;
            }
        }
    }

    fn record_runs(&self, runs: Vec<RunRecord>) {
        if !note_run_ids(&self.next_run_id, &runs) {
            return;
        }
        let mut staged = lock(&self.staged);
        if runs.iter().all(|run| run.state == RunState::Submitted) && staged.len() < MAX_STAGED {
            staged.extend(runs);
            return;
        }
        drop(staged);
        let mut stored = self.history();
        for run in runs {
            stored.upsert(run);
        }
    }

    fn next_run_id(&self) -> i64 {
        self.next_run_id.fetch_add(1, Ordering::Relaxed)
    }

    fn abandon_unfinished(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StoreError> {
        let mut runs = self.history();
        let mut changed = Vec::new();
        for run in runs.by_id.values_mut() {
            if !run.state.is_final() {
                run.state = RunState::Abandoned;
                run.finished = Some(now);
                changed.push(run.clone());
            }
        }
        Ok(changed)
    }

    fn runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        let runs = self.history();
        Ok(runs
            .matching(query)
            .take(query.effective_limit())
            .cloned()
            .collect())
    }

    fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.history().by_id.get(&id).cloned())
    }

    fn run_buckets(&self, query: &RunQuery, bucket_s: i64) -> Result<Vec<RunBucket>, StoreError> {
        let width = bucket_s.max(1).saturating_mul(1000);
        let mut counts: BTreeMap<(i64, RunState), u64> = BTreeMap::new();
        {
            let runs = self.history();
            for run in runs.matching(query) {
                let ms = run.scheduled.timestamp_millis();
                let start = ms - ms.rem_euclid(width);
                *counts.entry((start, run.state)).or_default() += 1;
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
        let runs = self.history();
        for run in runs.matching(query) {
            if let Some(ms) = run.duration_ms() {
                durations.entry(run.job_id.as_str()).or_default().push(ms);
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
        let cutoff = now - Duration::days(retention.max_age_days.into());
        self.history()
            .prune(job_id, retention.max_runs as usize, cutoff);
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
