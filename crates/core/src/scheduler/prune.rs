//! Pruning each job's run history to its retention, a bounded number of times a second.
//!
//! A job's history is due for a prune on its first finished run and every [`PRUNE_EVERY`]
//! after. Each prune is a statement on a database store, and jobs that start together come
//! due together: 10,000 jobs pruned 10,000 times in their first second, and the first seconds
//! of a 10,000 fires/s PostgreSQL cluster were 0.5-1.3 s late. So at most
//! [`PRUNES_PER_SECOND`] are made as runs finish; the others wait in a queue (of at most
//! [`QUEUE_MAX`], so minutes) that a task drains at the same rate, asleep while the queue is
//! empty. A prune queued counts as made; one skipped because the queue was full does not, and
//! a job that went twice [`PRUNE_EVERY`] runs without one is pruned at once.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};

use super::{lock, RunCounters, SchedulerInner as Inner};
use crate::job::{Job, Retention};

/// A job's history is due for a prune on its first finished run and every this many after.
pub(super) const PRUNE_EVERY: u32 = 100;
/// Most prunes a second made as runs finish, and most the queue's task makes.
pub(super) const PRUNES_PER_SECOND: u32 = 50;

/// Most prunes waiting in the queue (four minutes' worth): a job finding it full skips this
/// prune; its next is due [`PRUNE_EVERY`] runs later.
const QUEUE_MAX: usize = 12_000;

/// Prunes waiting for a later second, each job once.
#[derive(Default)]
pub(super) struct PutOff {
    waiting: Mutex<Waiting>,
    /// How many wait, read without the lock.
    len: AtomicUsize,
}

#[derive(Default)]
struct Waiting {
    queue: VecDeque<(Arc<str>, Retention)>,
    queued: HashSet<Arc<str>>,
}

impl Inner {
    /// Prunes `job`'s history when its count of `finished` runs (in `counters`) says so,
    /// now or from the queue.
    pub(super) fn prune_if_due(
        &self,
        job: &Job,
        counters: &RunCounters,
        finished: u32,
        now: DateTime<Utc>,
    ) {
        // Counts wrap: "before" is a negative difference. Of runs finishing together, the
        // one that moves the due point on makes the prune.
        let from = counters.prune_from.load(Ordering::Acquire);
        if (finished.wrapping_sub(from) as i32) < 0 {
            return;
        }
        let next = finished.wrapping_add(PRUNE_EVERY);
        if counters
            .prune_from
            .compare_exchange(from, next, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let since = finished.wrapping_sub(counters.pruned_at.load(Ordering::Acquire));
        let overdue = since as i32 >= 2 * PRUNE_EVERY as i32;
        // Resolved only for a prune made or queued: it reads the settings.
        let retention = || job.options.resolve(&self.defaults()).retention;
        if overdue || self.may_prune(now) {
            self.store.prune_runs(&job.id, retention(), now);
        } else if self.put_off.len.load(Ordering::Acquire) < QUEUE_MAX {
            let retention = retention();
            let mut waiting = lock(&self.put_off.waiting);
            if !waiting.queued.contains(job.id.as_str()) {
                let id: Arc<str> = job.id.as_str().into();
                waiting.queued.insert(id.clone());
                waiting.queue.push_back((id, retention));
                self.put_off
                    .len
                    .store(waiting.queue.len(), Ordering::Release);
                self.prune_wake.notify_one();
            }
        } else {
            return;
        }
        counters.pruned_at.store(finished, Ordering::Release);
    }

    /// Whether a prune fits in this second's [`PRUNES_PER_SECOND`].
    pub(super) fn may_prune(&self, now: DateTime<Utc>) -> bool {
        let second = u64::from(now.timestamp() as u32);
        let take = |word: u64| match (word >> 32, word as u32) {
            (s, _) if s != second => Some(second << 32 | 1),
            (_, made) if made < PRUNES_PER_SECOND => Some(word + 1),
            _ => None,
        };
        self.prunes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, take)
            .is_ok()
    }
}

/// Makes the queued prunes, [`PRUNES_PER_SECOND`] a second, until the scheduler stops;
/// waits for the queue to fill while it is empty.
pub(super) async fn prune_later(inner: Arc<Inner>) {
    loop {
        tokio::select! {
            _ = inner.prune_wake.notified() => {}
            _ = inner.stop.cancelled() => return,
        }
        loop {
            let batch: Vec<(Arc<str>, Retention)> = {
                let mut waiting = lock(&inner.put_off.waiting);
                let take = waiting.queue.len().min(PRUNES_PER_SECOND as usize);
                let batch: Vec<_> = waiting.queue.drain(..take).collect();
                for (id, _) in &batch {
                    waiting.queued.remove(id);
                }
                inner
                    .put_off
                    .len
                    .store(waiting.queue.len(), Ordering::Release);
                batch
            };
            if batch.is_empty() {
                break;
            }
            let now = inner.clock.now();
            for (id, retention) in batch {
                inner.store.prune_runs(&id, retention, now);
            }
            tokio::select! {
                _ = tokio::time::sleep(StdDuration::from_secs(1)) => {}
                _ = inner.stop.cancelled() => return,
            }
        }
    }
}
