//! Adding many jobs at once: their checks run on every core, and their slots and due-set
//! entries are built while the store writes them (a million jobs: the checks take 0.3 s on
//! one core, the slots 0.5 s, the store's write 4.8 s).

use std::collections::hash_map::Entry;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{new_job_id, place, queue_all, DueEntry, Scheduler, SchedulerError, Slot, State};
use crate::job::{Job, Settings};
use crate::FastMap;

/// An add of at least this many jobs is checked on several threads; a smaller one would wait
/// longer for the threads than for the work.
const APART: usize = 4096;

/// The slots and due-set entries of jobs being added, built before they are in the state.
pub(super) struct Admitted {
    slots: FastMap<Arc<str>, Slot>,
    queue: BTreeSet<DueEntry>,
}

impl Scheduler {
    /// Gives each job without an id one, checks it and sets its first fire time after `now`;
    /// the first invalid job (in order) gives the error.
    pub(super) fn check_all(
        &self,
        jobs: &mut [Job],
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<(), SchedulerError> {
        let check = |part: &mut [Job]| {
            part.iter_mut().try_for_each(|job| {
                if job.id.is_empty() {
                    job.id = new_job_id();
                }
                Self::check(job, settings)?;
                job.next_run = self.first_fire(&job.trigger, now);
                Ok(())
            })
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if jobs.len() < APART || threads < 2 {
            return check(jobs);
        }
        let part = jobs.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .chunks_mut(part)
                .map(|chunk| s.spawn(move || check(chunk)))
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        })
    }

    /// Stores `jobs` (all or none) and builds their slots while the store writes them.
    pub(super) fn store_and_admit(
        &self,
        jobs: &[Job],
        settings: &Settings,
    ) -> Result<Admitted, SchedulerError> {
        let mut admitted = None;
        let mut admit = || admitted = Some(self.admitted(jobs, settings));
        self.inner.store.add_jobs_meanwhile(jobs, &mut admit)?;
        Ok(admitted.unwrap_or_else(|| self.admitted(jobs, settings)))
    }

    /// New slots for `jobs`, each due at its first fire time (jitter applied) unless paused.
    /// The definition is loaded from the store at the first fire, so adding a million jobs
    /// does not keep a million definitions in memory.
    fn admitted(&self, jobs: &[Job], settings: &Settings) -> Admitted {
        let mut slots = FastMap::default();
        slots.reserve(jobs.len());
        let mut due_set = Vec::with_capacity(jobs.len());
        for job in jobs {
            let id: Arc<str> = job.id.as_str().into();
            let mut slot = Slot {
                paused: job.paused,
                ..Slot::default()
            };
            let jitter = job.options.resolve(&settings.defaults).jitter;
            if let Some(t) = job.next_run.filter(|_| !job.paused) {
                let due = self.inner.due(job, jitter, t);
                slot.due = Some(due);
                due_set.push((due.0, slot.seq, id.clone()));
            }
            slots.insert(id, slot);
        }
        Admitted {
            slots,
            queue: due_set.into_iter().collect(),
        }
    }
}

impl State {
    /// Takes in the slots of jobs just stored. A slot may exist already (the change watcher
    /// can see the add first): it is kept, and its place in the due-set replaced.
    pub(super) fn admit(&mut self, mut admitted: Admitted) {
        if self.slots.is_empty() && self.queue.is_empty() {
            self.slots = admitted.slots;
            self.queue = admitted.queue;
            return;
        }
        self.slots.reserve(admitted.slots.len());
        for (id, new) in admitted.slots {
            match self.slots.entry(id) {
                Entry::Vacant(place) => {
                    place.insert(new);
                }
                Entry::Occupied(old) => {
                    let (id, slot) = (old.key().clone(), old.into_mut());
                    if let Some(due) = new.due {
                        admitted.queue.remove(&(due.0, new.seq, id.clone()));
                    }
                    slot.paused = new.paused;
                    slot.job = None;
                    place(&mut self.queue, slot, &id, new.due);
                }
            }
        }
        queue_all(&mut self.queue, admitted.queue);
    }
}
