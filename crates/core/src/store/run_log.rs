//! The memory store's run history in 32 bytes a run: fixed-size slots in id order, kept in
//! chunks, each job's run ids beside them, and the fields most runs leave empty (or that do
//! not fit a slot's narrow fields) kept apart.
//!
//! Times are kept to the millisecond, as the SQLite and PostgreSQL stores keep them.

use std::collections::{HashSet, VecDeque};
use std::num::NonZeroI64;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::history::{RunParams, RunQuery, RunRecord, RunState, RunUsage, ThinStr};
use crate::query::LastRun;
use crate::FastMap;

/// Slots per chunk (128 KiB): growing the log never copies more than one chunk.
const CHUNK: usize = 4096;

/// A time that is absent.
const NO_TIME: i64 = i64::MIN;

/// A slot's time offset that is absent.
const NO_OFFSET: i32 = i32::MIN;

/// The `state` of a deleted slot.
const DEAD: u8 = u8::MAX;

/// `flags`: run by hand.
const MANUAL: u8 = 1;
/// `flags`: the run has fields in `Log::extras`.
const EXTRA: u8 = 2;
/// `flags`: the run's times, node and attempt are in `Log::wides` (the slot's did not fit).
const WIDE: u8 = 4;

/// One run, without the fields most runs leave empty.
#[derive(Clone, Copy)]
struct Slot {
    id: i64,
    /// Epoch milliseconds.
    scheduled: i64,
    /// Milliseconds after `scheduled` (`NO_OFFSET`: absent), like `finished`.
    started: i32,
    finished: i32,
    /// Index into `Jobs::list`.
    job: u32,
    /// 1 + index into `Runs::nodes`; 0: no node.
    node: u8,
    attempt: u8,
    /// `RunState as u8`, or `DEAD`.
    state: u8,
    flags: u8,
}

/// A slot's narrow fields at full width: times in epoch milliseconds (`NO_TIME`: absent).
#[derive(Clone, Copy)]
struct Wide {
    started: i64,
    finished: i64,
    /// 1 + index into `Runs::nodes`; 0: no node.
    node: u32,
    attempt: u32,
}

impl Slot {
    /// Sets the narrow fields to `wide`, or keeps it in `wides` when it does not fit them.
    fn set_wide(&mut self, wide: Wide, wides: &mut FastMap<i64, Wide>) {
        let offset = |t: i64| match t {
            NO_TIME => Some(NO_OFFSET),
            t => i32::try_from(t.checked_sub(self.scheduled)?)
                .ok()
                .filter(|&o| o != NO_OFFSET),
        };
        let narrow = (|| {
            Some((
                offset(wide.started)?,
                offset(wide.finished)?,
                u8::try_from(wide.node).ok()?,
                u8::try_from(wide.attempt).ok()?,
            ))
        })();
        match narrow {
            Some((started, finished, node, attempt)) => {
                (self.started, self.finished) = (started, finished);
                (self.node, self.attempt) = (node, attempt);
                if self.flags & WIDE != 0 {
                    wides.remove(&self.id);
                    self.flags &= !WIDE;
                }
            }
            None => {
                self.flags |= WIDE;
                wides.insert(self.id, wide);
            }
        }
    }

    /// Its narrow fields at full width, from `wides` when they are kept there.
    fn wide(&self, wides: &FastMap<i64, Wide>) -> Wide {
        if self.flags & WIDE != 0 {
            match wides.get(&self.id) {
                Some(&wide) => return wide,
                None => debug_assert!(false, "run {} is wide but not in `wides`", self.id),
            }
        }
        let time = |o: i32| match o {
            NO_OFFSET => NO_TIME,
            o => self.scheduled + i64::from(o),
        };
        Wide {
            started: time(self.started),
            finished: time(self.finished),
            node: self.node.into(),
            attempt: self.attempt.into(),
        }
    }
}

/// The fields of a run that most runs leave empty.
#[derive(Clone)]
struct Extra {
    exit_code: Option<i32>,
    http_status: Option<u16>,
    error: Option<Box<str>>,
    stdout: Box<str>,
    stderr: Box<str>,
    upstream: Option<NonZeroI64>,
    step: Option<ThinStr>,
    params: Option<Box<RunParams>>,
    usage: Option<RunUsage>,
}

impl Extra {
    /// Puts these fields into `run`.
    fn fill(self, run: &mut RunRecord) {
        run.exit_code = self.exit_code;
        run.http_status = self.http_status;
        run.error = self.error;
        run.stdout = self.stdout;
        run.stderr = self.stderr;
        run.upstream = self.upstream;
        run.step = self.step;
        run.params = self.params;
        run.usage = self.usage;
    }

    fn is_empty(&self) -> bool {
        self.exit_code.is_none()
            && self.http_status.is_none()
            && self.error.is_none()
            && self.stdout.is_empty()
            && self.stderr.is_empty()
            && self.upstream.is_none()
            && self.step.is_none()
            && self.params.is_none()
            && self.usage.is_none()
    }
}

/// Slots in ascending id order; deleted ones stay until half their chunk is deleted.
struct Chunk {
    slots: Vec<Slot>,
    dead: usize,
}

impl Chunk {
    fn first_id(&self) -> i64 {
        self.slots[0].id
    }

    fn last_id(&self) -> i64 {
        self.slots[self.slots.len() - 1].id
    }
}

/// Every slot, in id order, the extra fields of those that have them, and the wide fields
/// of those whose did not fit.
#[derive(Default)]
struct Log {
    chunks: VecDeque<Chunk>,
    extras: FastMap<i64, Extra>,
    wides: FastMap<i64, Wide>,
}

impl Log {
    /// Where slot `id` is (live or deleted), or where it would go: `Err((chunk, index))`.
    fn find(&self, id: i64) -> Result<(usize, usize), (usize, usize)> {
        // New runs come in id order: most go past the end.
        if self.chunks.back().is_none_or(|c| c.last_id() < id) {
            return Err((self.chunks.len(), 0));
        }
        let c = self.chunks.partition_point(|c| c.last_id() < id);
        match self.chunks.get(c) {
            None => Err((c, 0)),
            Some(chunk) => match chunk.slots.binary_search_by_key(&id, |s| s.id) {
                Ok(i) => Ok((c, i)),
                Err(i) => Err((c, i)),
            },
        }
    }

    /// The live slot `id`.
    fn get(&self, id: i64) -> Option<&Slot> {
        let (c, i) = self.find(id).ok()?;
        let slot = &self.chunks[c].slots[i];
        (slot.state != DEAD).then_some(slot)
    }

    /// Puts a new slot in id order, where `find` said it goes.
    fn insert(&mut self, slot: Slot, found: Result<(usize, usize), (usize, usize)>) {
        match found {
            Ok((c, i)) => {
                // A deleted slot with this id comes back.
                let chunk = &mut self.chunks[c];
                chunk.slots[i] = slot;
                chunk.dead -= 1;
            }
            Err((c, _)) if c == self.chunks.len() => match self.chunks.back_mut() {
                Some(last) if last.slots.len() < CHUNK => {
                    make_room(&mut last.slots);
                    last.slots.push(slot);
                }
                _ => {
                    let mut slots = Vec::with_capacity(CHUNK);
                    slots.push(slot);
                    self.chunks.push_back(Chunk { slots, dead: 0 });
                }
            },
            Err((mut c, mut i)) => {
                if self.chunks[c].slots.len() == CHUNK {
                    let chunk = &mut self.chunks[c];
                    let tail = chunk.slots.split_off(CHUNK / 2);
                    chunk.dead = count_dead(&chunk.slots);
                    let dead = count_dead(&tail);
                    self.chunks.insert(c + 1, Chunk { slots: tail, dead });
                    if i > CHUNK / 2 {
                        (c, i) = (c + 1, i - CHUNK / 2);
                    }
                }
                let slots = &mut self.chunks[c].slots;
                make_room(slots);
                slots.insert(i, slot);
            }
        }
    }

    /// Deletes the live slot `id`.
    fn delete(&mut self, id: i64) {
        let Ok((c, i)) = self.find(id) else {
            return;
        };
        let chunk = &mut self.chunks[c];
        let slot = &mut chunk.slots[i];
        if slot.state == DEAD {
            return;
        }
        if slot.flags & EXTRA != 0 {
            self.extras.remove(&id);
        }
        if slot.flags & WIDE != 0 {
            self.wides.remove(&id);
        }
        slot.state = DEAD;
        chunk.dead += 1;
        if chunk.dead == chunk.slots.len() {
            self.chunks.remove(c);
        } else if chunk.dead * 2 > chunk.slots.len() {
            chunk.slots.retain(|s| s.state != DEAD);
            chunk.dead = 0;
            self.settle(c);
        }
    }

    /// After chunk `c` lost most of its slots: joins it to the chunk before when both fit
    /// in one, else gives back the room it no longer needs (unless it is the last, which
    /// new runs fill), so a sparse chunk costs what it holds.
    fn settle(&mut self, c: usize) {
        if c > 0 && self.chunks[c - 1].slots.len() + self.chunks[c].slots.len() <= CHUNK {
            if let Some(chunk) = self.chunks.remove(c) {
                let before = &mut self.chunks[c - 1];
                before.slots.reserve_exact(chunk.slots.len());
                before.slots.extend_from_slice(&chunk.slots);
                before.dead += chunk.dead;
            }
        } else if c + 1 < self.chunks.len() {
            self.chunks[c].slots.shrink_to_fit();
        }
    }

    /// Live slots with ids below `upper`, newest first.
    fn before(&self, upper: i64) -> impl Iterator<Item = &Slot> {
        let end = self.chunks.partition_point(|c| c.first_id() < upper);
        self.chunks
            .range(..end)
            .rev()
            .flat_map(move |c| {
                let below = c.slots.partition_point(|s| s.id < upper);
                c.slots[..below].iter().rev()
            })
            .filter(|s| s.state != DEAD)
    }

    /// Every live slot.
    fn live(&self) -> impl Iterator<Item = &Slot> {
        self.chunks
            .iter()
            .flat_map(|c| c.slots.iter())
            .filter(|s| s.state != DEAD)
    }
}

/// Makes room for one more slot in a chunk: doubling, but never past `CHUNK`.
fn make_room(slots: &mut Vec<Slot>) {
    if slots.len() == slots.capacity() {
        slots.reserve_exact(slots.len().clamp(1, CHUNK - slots.len()));
    }
}

fn count_dead(slots: &[Slot]) -> usize {
    slots.iter().filter(|s| s.state == DEAD).count()
}

/// One job's runs.
struct JobRuns {
    id: Arc<str>,
    /// Its run ids, ascending.
    ids: VecDeque<i64>,
    /// No run of it was fired before this (epoch ms): pruning by age looks no further.
    oldest: i64,
}

/// The jobs with runs, each interned as an index that slots keep instead of the id.
#[derive(Default)]
struct Jobs {
    list: Vec<JobRuns>,
    index: FastMap<Arc<str>, u32>,
    /// Indexes of `list` whose job has no runs left, to reuse.
    free: Vec<u32>,
}

impl Jobs {
    /// The index of `id`, added when it has none.
    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&j) = self.index.get(id) {
            return j;
        }
        let id: Arc<str> = id.into();
        let runs = JobRuns {
            id: id.clone(),
            ids: VecDeque::new(),
            oldest: i64::MAX,
        };
        let j = match self.free.pop() {
            Some(j) => {
                self.list[j as usize] = runs;
                j
            }
            None => {
                self.list.push(runs);
                (self.list.len() - 1) as u32
            }
        };
        self.index.insert(id, j);
        j
    }

    /// Adds run `id`, fired at `scheduled`, to job `j`.
    fn add(&mut self, j: u32, id: i64, scheduled: i64) {
        let job = &mut self.list[j as usize];
        job.oldest = job.oldest.min(scheduled);
        if job.ids.len() == job.ids.capacity() {
            // By half again, not double: a job's ids are a tenth of the history's memory,
            // and doubling leaves up to half of them unused.
            job.ids.reserve_exact(job.ids.len().div_ceil(2).max(4));
        }
        // Runs almost always arrive in id order: appending is the usual case.
        if job.ids.back().is_none_or(|&last| last < id) {
            job.ids.push_back(id);
        } else {
            let at = job.ids.partition_point(|&e| e < id);
            job.ids.insert(at, id);
        }
    }

    /// Takes run `id` from job `j`, and the job's index back when it was its last.
    fn remove(&mut self, j: u32, id: i64) {
        let job = &mut self.list[j as usize];
        if let Ok(at) = job.ids.binary_search(&id) {
            job.ids.remove(at);
        }
        self.release_if_empty(j);
    }

    fn release_if_empty(&mut self, j: u32) {
        let job = &mut self.list[j as usize];
        if job.ids.is_empty() {
            self.index.remove(&job.id);
            job.ids = VecDeque::new();
            self.free.push(j);
        }
    }
}

/// Run history: every record by id, each job's by job id.
#[derive(Default)]
pub(super) struct Runs {
    log: Log,
    jobs: Jobs,
    /// The nodes named by slots.
    nodes: Vec<ThinStr>,
}

impl Runs {
    /// How many runs are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.log.live().count()
    }

    /// Inserts `run`, or replaces the record with its id.
    pub fn upsert(&mut self, run: RunRecord) {
        let RunRecord {
            id,
            job_id,
            scheduled,
            started,
            finished,
            state,
            attempt,
            exit_code,
            http_status,
            error,
            stdout,
            stderr,
            node,
            manual,
            upstream,
            step,
            params,
            usage,
        } = run;
        let extra = Extra {
            exit_code,
            http_status,
            error,
            stdout,
            stderr,
            upstream,
            step,
            params,
            usage,
        };
        let found = self.log.find(id);
        let stored = match found {
            Ok((c, i)) => Some(self.log.chunks[c].slots[i]).filter(|s| s.state != DEAD),
            Err(_) => None,
        };
        // A record replaced keeps its job's index when its job stays (the usual case).
        let job = match stored {
            Some(old) if *self.jobs.list[old.job as usize].id == *job_id => old.job,
            _ => self.jobs.intern(&job_id),
        };
        let wide = Wide {
            started: started.map_or(NO_TIME, |t| t.timestamp_millis()),
            finished: finished.map_or(NO_TIME, |t| t.timestamp_millis()),
            node: node.map_or(0, |n| self.node_index(n)),
            attempt,
        };
        let mut slot = Slot {
            id,
            scheduled: scheduled.timestamp_millis(),
            started: NO_OFFSET,
            finished: NO_OFFSET,
            job,
            node: 0,
            attempt: 0,
            state: state as u8,
            // What the record replaced kept in `wides` is dropped by `set_wide` if it fits.
            flags: stored.map_or(0, |old| old.flags & WIDE) | if manual { MANUAL } else { 0 },
        };
        slot.set_wide(wide, &mut self.log.wides);
        if !extra.is_empty() {
            slot.flags |= EXTRA;
            self.log.extras.insert(id, extra);
        } else if stored.is_some_and(|old| old.flags & EXTRA != 0) {
            self.log.extras.remove(&id);
        }
        match (found, stored) {
            (Ok((c, i)), Some(old)) => {
                self.log.chunks[c].slots[i] = slot;
                if old.job != job {
                    self.jobs.remove(old.job, id);
                    self.jobs.add(job, id, slot.scheduled);
                } else {
                    let runs = &mut self.jobs.list[job as usize];
                    runs.oldest = runs.oldest.min(slot.scheduled);
                }
            }
            _ => {
                self.log.insert(slot, found);
                self.jobs.add(job, id, slot.scheduled);
            }
        }
    }

    /// 1 + the index of `node` in `nodes`, added when new.
    fn node_index(&mut self, node: ThinStr) -> u32 {
        let at = match self.nodes.iter().position(|n| *n == node) {
            Some(at) => at,
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        at as u32 + 1
    }

    /// Run `id`.
    pub fn get(&self, id: i64) -> Option<Run<'_>> {
        self.log.get(id).map(|slot| self.view(slot))
    }

    fn view<'a>(&'a self, slot: &'a Slot) -> Run<'a> {
        Run { slot, runs: self }
    }

    /// Runs matching `query`, newest first.
    pub fn matching<'a>(&'a self, query: &'a RunQuery) -> Box<dyn Iterator<Item = Run<'a>> + 'a> {
        let upper = query.before_id.unwrap_or(i64::MAX);
        let found: Box<dyn Iterator<Item = &'a Slot> + 'a> = match &query.job_id {
            Some(job_id) => match self.jobs.index.get(job_id.as_str()) {
                Some(&j) => {
                    let ids = &self.jobs.list[j as usize].ids;
                    let end = ids.partition_point(|&id| id < upper);
                    Box::new(ids.range(..end).rev().filter_map(|&id| self.log.get(id)))
                }
                None => Box::new(std::iter::empty()),
            },
            None => Box::new(self.log.before(upper)),
        };
        Box::new(
            found
                .map(|slot| self.view(slot))
                .filter(move |run| run.matches(query)),
        )
    }

    /// The newest run of `job_id` (its own, not one of its workflow steps').
    pub fn newest(&self, job_id: &str) -> Option<Run<'_>> {
        let &j = self.jobs.index.get(job_id)?;
        self.jobs.list[j as usize]
            .ids
            .iter()
            .rev()
            .filter_map(|&id| self.get(id))
            .find(|run| run.extra().is_none_or(|e| e.step.is_none()))
    }

    /// Deletes `job_id`'s runs beyond `max_runs` (oldest ids first) and those fired before
    /// `cutoff`.
    pub fn prune(&mut self, job_id: &str, max_runs: usize, cutoff: DateTime<Utc>) {
        let Some(&j) = self.jobs.index.get(job_id) else {
            return;
        };
        let cutoff = cutoff.timestamp_millis();
        let (log, job) = (&mut self.log, &mut self.jobs.list[j as usize]);
        let excess = job.ids.len().saturating_sub(max_runs);
        for id in job.ids.drain(..excess) {
            log.delete(id);
        }
        if job.oldest < cutoff {
            let mut oldest = i64::MAX;
            job.ids.retain(|&id| {
                let scheduled = log.get(id).map_or(i64::MIN, |s| s.scheduled);
                let keep = scheduled >= cutoff;
                if keep {
                    oldest = oldest.min(scheduled);
                } else {
                    log.delete(id);
                }
                keep
            });
            job.oldest = oldest;
        }
        self.jobs.release_if_empty(j);
    }

    /// Marks every unfinished run whose node is not in `alive` abandoned at `now`; returns
    /// them as changed.
    pub fn abandon_orphans(
        &mut self,
        alive: &HashSet<String>,
        now: DateTime<Utc>,
    ) -> Vec<RunRecord> {
        let alive: Vec<bool> = self.nodes.iter().map(|n| alive.contains(&**n)).collect();
        let now = now.timestamp_millis();
        let mut changed = Vec::new();
        let log = &mut self.log;
        for slot in log.chunks.iter_mut().flat_map(|c| c.slots.iter_mut()) {
            if slot.state == DEAD || state_of(slot).is_final() {
                continue;
            }
            let mut wide = slot.wide(&log.wides);
            if wide.node == 0 || !alive[wide.node as usize - 1] {
                slot.state = RunState::Abandoned as u8;
                wide.finished = now;
                slot.set_wide(wide, &mut log.wides);
                changed.push(slot.id);
            }
        }
        changed
            .into_iter()
            .filter_map(|id| self.get(id).map(|run| run.record()))
            .collect()
    }

    /// How many unfinished runs each node holds.
    pub fn running_per_node(&self) -> FastMap<ThinStr, u64> {
        let mut counts = vec![0u64; self.nodes.len()];
        for slot in self.log.live().filter(|s| !state_of(s).is_final()) {
            let node = slot.wide(&self.log.wides).node;
            if node != 0 {
                counts[node as usize - 1] += 1;
            }
        }
        self.nodes
            .iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(node, n)| (node.clone(), n))
            .collect()
    }
}

fn state_of(slot: &Slot) -> RunState {
    RunState::ALL[usize::from(slot.state)]
}

fn time(ms: i64) -> Option<DateTime<Utc>> {
    if ms == NO_TIME {
        return None;
    }
    DateTime::from_timestamp_millis(ms)
}

/// A run read in place.
#[derive(Clone, Copy)]
pub(super) struct Run<'a> {
    slot: &'a Slot,
    runs: &'a Runs,
}

impl<'a> Run<'a> {
    /// The job's id.
    pub fn job_id(&self) -> &'a str {
        &self.runs.jobs.list[self.slot.job as usize].id
    }

    /// Where the run is.
    pub fn state(&self) -> RunState {
        state_of(self.slot)
    }

    /// The fire time, epoch milliseconds.
    pub fn scheduled_ms(&self) -> i64 {
        self.slot.scheduled
    }

    /// The node that claimed it.
    pub fn node(&self) -> Option<&'a ThinStr> {
        let node = self.wide().node as usize;
        (node > 0).then(|| &self.runs.nodes[node - 1])
    }

    /// How long the action ran, once it has finished.
    pub fn duration_ms(&self) -> Option<i64> {
        let Wide {
            started, finished, ..
        } = self.wide();
        (started != NO_TIME && finished != NO_TIME).then(|| finished - started)
    }

    fn wide(&self) -> Wide {
        self.slot.wide(&self.runs.log.wides)
    }

    fn extra(&self) -> Option<&'a Extra> {
        if self.slot.flags & EXTRA == 0 {
            return None;
        }
        self.runs.log.extras.get(&self.slot.id)
    }

    /// Whether it passes every filter of `query` (the limit aside).
    fn matches(&self, query: &RunQuery) -> bool {
        // Compared as milliseconds, as the SQL stores compare them.
        let scheduled = self.slot.scheduled;
        query.job_id.as_deref().is_none_or(|j| j == self.job_id())
            && query.from.is_none_or(|f| scheduled >= f.timestamp_millis())
            && query.to.is_none_or(|t| scheduled < t.timestamp_millis())
            && (query.states.is_empty() || query.states.contains(&self.state()))
            && query.before_id.is_none_or(|b| self.slot.id < b)
            && query.upstream.is_none_or(|u| {
                self.extra().and_then(|e| e.upstream).map(NonZeroI64::get) == Some(u)
            })
            && query
                .node
                .as_deref()
                .is_none_or(|n| self.node().map(|m| &**m) == Some(n))
            && query
                .min_duration_ms
                .is_none_or(|min| self.duration_ms().is_some_and(|d| d >= min))
    }

    /// Its summary as a job's last run.
    pub fn last_run(&self) -> LastRun {
        LastRun {
            id: self.slot.id,
            state: self.state(),
            scheduled: time(self.slot.scheduled).unwrap_or_default(),
            finished: time(self.wide().finished),
        }
    }

    /// The whole record.
    pub fn record(&self) -> RunRecord {
        let slot = self.slot;
        let scheduled = time(slot.scheduled).unwrap_or_default();
        let mut run = RunRecord::new(slot.id, self.job_id(), scheduled, self.state());
        let wide = self.wide();
        run.started = time(wide.started);
        run.finished = time(wide.finished);
        run.attempt = wide.attempt;
        run.node = self.node().cloned();
        run.manual = slot.flags & MANUAL != 0;
        if let Some(extra) = self.extra() {
            extra.clone().fill(&mut run);
        }
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn run(id: i64, job: &str, s: i64) -> RunRecord {
        RunRecord::new(id, job, at(s), RunState::Succeeded)
    }

    fn ids<'a>(found: impl Iterator<Item = Run<'a>>) -> Vec<i64> {
        found.map(|r| r.slot.id).collect()
    }

    #[test]
    fn a_slot_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 32);
    }

    #[test]
    fn records_come_back_whole_to_the_millisecond() {
        let mut runs = Runs::default();
        let mut full = run(7, "a", 0);
        full.scheduled += chrono::Duration::microseconds(1500);
        full.started = Some(at(1));
        full.finished = Some(at(3));
        full.state = RunState::Failed;
        full.attempt = 3;
        full.exit_code = Some(2);
        full.error = Some("boom".into());
        full.stdout = "out".into();
        full.node = Some("n1".into());
        full.manual = true;
        full.upstream = NonZeroI64::new(5);
        full.step = Some("s".into());
        full.usage = RunUsage::from_columns(Some(4), Some(9));
        runs.upsert(full.clone());
        let back = runs.get(7).unwrap().record();
        full.scheduled = at(0) + chrono::Duration::milliseconds(1);
        assert_eq!(back, full);
        assert_eq!(runs.get(7).unwrap().duration_ms(), Some(2000));
        // Replacing it with a plain record drops the extra fields.
        runs.upsert(run(7, "a", 0));
        assert_eq!(runs.get(7).unwrap().record(), run(7, "a", 0));
        assert!(runs.log.extras.is_empty());
    }

    #[test]
    fn fields_too_wide_for_a_slot_come_back_whole() {
        let mut runs = Runs::default();
        // 300 nodes: the later ones are past a slot's 255.
        for n in 0..300 {
            let mut r = run(n + 1, "a", 0);
            r.node = Some(format!("n{n}").as_str().into());
            runs.upsert(r);
        }
        assert_eq!(runs.get(255).unwrap().node().map(|n| &**n), Some("n254"));
        assert_eq!(runs.get(300).unwrap().node().map(|n| &**n), Some("n299"));
        assert_eq!(
            runs.log.wides.len(),
            300 - 255,
            "runs on node 256 and later"
        );
        // Each alone too wide: a start 30 days early, an end 30 days late, a 300th attempt.
        let mut early = run(401, "a", 0);
        early.started = Some(at(-30 * 86_400));
        let mut late = run(402, "a", 0);
        (late.started, late.finished) = (Some(at(0)), Some(at(30 * 86_400)));
        let mut retried = run(403, "a", 0);
        retried.attempt = 300;
        for r in [&early, &late, &retried] {
            runs.upsert(r.clone());
            assert_eq!(runs.get(r.id).unwrap().record(), *r);
        }
        assert_eq!(runs.log.wides.len(), 45 + 3);
        // Narrow again: its wide fields go.
        runs.upsert(run(403, "a", 0));
        assert_eq!(runs.get(403).unwrap().record(), run(403, "a", 0));
        assert_eq!(runs.log.wides.len(), 45 + 2);
        // Deleted: so do the others'.
        runs.prune("a", 1, at(0));
        assert_eq!(runs.len(), 1);
        assert!(runs.log.wides.is_empty());
        // Abandoned long after it started: the end is kept wide.
        let mut long = run(500, "b", 0);
        (long.state, long.started) = (RunState::Running, Some(at(0)));
        runs.upsert(long);
        let changed = runs.abandon_orphans(&HashSet::new(), at(40 * 86_400));
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].finished, Some(at(40 * 86_400)));
        assert_eq!(runs.log.wides.len(), 1);
        assert_eq!(runs.get(500).unwrap().duration_ms(), Some(40 * 86_400_000));
    }

    #[test]
    fn a_wide_run_deleted_and_recorded_again_narrow_reads_narrow() {
        let mut runs = Runs::default();
        let mut wide = run(1, "a", 0);
        wide.attempt = 300;
        runs.upsert(wide);
        for id in 2..=10 {
            runs.upsert(run(id, "a", 0));
        }
        // Only the oldest goes: its slot stays in the chunk, deleted, and comes back.
        runs.prune("a", 9, at(0));
        assert!(runs.get(1).is_none());
        assert!(runs.log.wides.is_empty());
        assert!(runs.log.find(1).is_ok(), "the deleted slot is still there");
        runs.upsert(run(1, "a", 0));
        assert_eq!(runs.get(1).unwrap().record(), run(1, "a", 0));
        assert!(runs.log.wides.is_empty());
    }

    #[test]
    fn chunks_split_and_empty_in_id_order() {
        let mut runs = Runs::default();
        let n = CHUNK as i64 * 3;
        // Even ids in order, then odd ones into the middle of full chunks.
        for id in (0..n).map(|i| i * 2) {
            runs.upsert(run(id, "a", id));
        }
        for id in (0..n).map(|i| i * 2 + 1).rev() {
            runs.upsert(run(id, "b", id));
        }
        assert_eq!(runs.len(), 2 * n as usize);
        let all = ids(runs.matching(&RunQuery::default()));
        assert_eq!(all, (0..2 * n).rev().collect::<Vec<_>>());
        let query = RunQuery {
            job_id: Some("b".into()),
            before_id: Some(10),
            ..Default::default()
        };
        assert_eq!(ids(runs.matching(&query)), [9, 7, 5, 3, 1]);
        assert!(runs.log.chunks.iter().all(|c| c.slots.capacity() <= CHUNK));
        // Keeping b's newest two deletes the rest of b's, a's stay.
        runs.prune("b", 2, at(-1));
        assert_eq!(runs.len(), n as usize + 2);
        let b = RunQuery {
            job_id: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(ids(runs.matching(&b)), [2 * n - 1, 2 * n - 3]);
        assert!(runs.get(1).is_none());
        // Pruning a by age empties it, and its chunks go.
        runs.prune("a", usize::MAX, at(2 * n));
        assert_eq!(runs.len(), 2);
        assert!(runs.log.chunks.len() <= 2, "{}", runs.log.chunks.len());
        assert!(!runs.jobs.index.contains_key("a"));
        assert_eq!(runs.jobs.free.len(), 1);
        // A deleted id comes back; a new job takes the freed index.
        runs.upsert(run(1, "c", 1));
        assert_eq!(runs.get(1).unwrap().job_id(), "c");
        assert!(runs.jobs.free.is_empty());
    }

    #[test]
    fn sparse_chunks_merge_or_give_back_their_room() {
        let mut runs = Runs::default();
        let n = CHUNK as i64 * 6;
        for id in 0..n {
            runs.upsert(run(id, if id % 3 == 0 { "keep" } else { "drop" }, id));
        }
        runs.prune("drop", 0, at(-1));
        let kept: Vec<i64> = (0..n).filter(|id| id % 3 == 0).rev().collect();
        assert_eq!(ids(runs.matching(&RunQuery::default())), kept);
        let room: usize = runs.log.chunks.iter().map(|c| c.slots.capacity()).sum();
        assert!(
            room <= 2 * kept.len(),
            "room for {room} slots, {} kept",
            kept.len()
        );
        assert!(
            runs.log.chunks.len() < 6,
            "{} chunks",
            runs.log.chunks.len()
        );
    }

    #[test]
    fn pruning_by_age_finds_an_old_fire_time_behind_a_newer_id() {
        let mut runs = Runs::default();
        runs.upsert(run(1, "a", 100));
        runs.upsert(run(2, "a", 5));
        runs.upsert(run(3, "a", 200));
        runs.prune("a", 10, at(50));
        let a = RunQuery {
            job_id: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(ids(runs.matching(&a)), [3, 1]);
        assert_eq!(runs.jobs.list[0].oldest, at(100).timestamp_millis());
    }

    #[test]
    fn a_record_moved_to_another_job_leaves_the_first() {
        let mut runs = Runs::default();
        runs.upsert(run(1, "a", 0));
        runs.upsert(run(1, "b", 0));
        assert!(runs.newest("a").is_none());
        assert_eq!(runs.newest("b").unwrap().job_id(), "b");
        assert_eq!(runs.len(), 1);
    }

    #[test]
    fn orphans_are_abandoned_and_counted_by_node() {
        let mut runs = Runs::default();
        for (id, node) in [(1, "n1"), (2, "n2"), (3, "n2")] {
            let mut r = run(id, "a", id);
            r.state = RunState::Running;
            r.node = Some(node.into());
            runs.upsert(r);
        }
        let counts = runs.running_per_node();
        assert_eq!((counts["n1"], counts["n2"]), (1, 2));
        let alive = HashSet::from(["n1".to_string()]);
        let changed = runs.abandon_orphans(&alive, at(9));
        assert_eq!(changed.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 3]);
        assert!(changed
            .iter()
            .all(|r| r.state == RunState::Abandoned && r.finished == Some(at(9))));
        assert_eq!(runs.running_per_node().len(), 1);
    }
}
