//! After the wall clock steps back (an NTP correction, a user setting the time): interval
//! jobs keep their period in elapsed time, so each fires within one period of the new "now"
//! (never before its own `start` bound) instead of staying silent until the clock catches up
//! with its old next fire time. Cron and calendar jobs keep theirs: the wall-clock times
//! before it already ran, and a fire time never runs twice.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{lock, place, SchedulerInner as Inner};
use crate::store::{Claim, ClaimOutcome};
use crate::trigger::Trigger;

/// Moves every queued interval job whose next fire time lies beyond one period from `now`
/// to its first fire time after `now`, in the store first (a claim that only advances, so
/// another node that moved it meanwhile wins) and then in the due-set.
pub(super) fn rebase_intervals(inner: &Arc<Inner>, now: DateTime<Utc>) {
    // The queued jobs due later than `now`, with their planned fire time.
    let queued: Vec<(Arc<str>, DateTime<Utc>)> = {
        let state = lock(&inner.state);
        state
            .queue
            .iter()
            .filter(|(due, ..)| *due > now)
            .filter_map(|(_, _, id)| {
                let slot = &state.slots[id];
                (!slot.claiming).then(|| slot.due.map(|d| (id.clone(), d.1)))?
            })
            .collect()
    };
    let mut claims = Vec::new();
    for (id, fire) in queued {
        let job = match lock(&inner.state)
            .slots
            .get(&id)
            .and_then(|s| s.job.clone())
        {
            Some(job) => job,
            None => match inner.store.get_job(&id) {
                Ok(Some(job)) => Arc::new(job),
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!("cannot reload job '{id}' after the clock stepped back: {e}");
                    continue;
                }
            },
        };
        let Trigger::Interval(interval) = &job.trigger else {
            continue;
        };
        let Some(next) = interval.next_after(now) else {
            continue;
        };
        if next < fire {
            claims.push(Claim {
                job_id: id,
                advance: Some((fire, Some(next))),
                runs: Vec::new(),
                max_instances: u32::MAX,
                outcome: ClaimOutcome::Pending,
            });
        }
    }
    if claims.is_empty() {
        return;
    }
    {
        let mut state = lock(&inner.state);
        for claim in &claims {
            if let Some(slot) = state.slots.get_mut(&claim.job_id) {
                slot.claiming = true;
            }
        }
    }
    let moved = inner.store.claim(&inner.node_id, now, claims);
    let mut state = lock(&inner.state);
    let state = &mut *state;
    match moved {
        Ok(claims) => {
            tracing::info!(
                jobs = claims.len(),
                "the clock stepped back: interval jobs keep their period from now"
            );
            for claim in claims {
                let Some(slot) = state.slots.get_mut(&claim.job_id) else {
                    continue;
                };
                slot.claiming = false;
                let due = match claim.outcome {
                    ClaimOutcome::Won => claim.advance.and_then(|(_, next)| next),
                    ClaimOutcome::Lost { next_run, .. } => next_run,
                    _ => continue,
                };
                slot.job = None;
                place(&mut state.queue, slot, &claim.job_id, due.map(|t| (t, t)));
            }
        }
        Err(e) => {
            tracing::error!("cannot move interval jobs after the clock stepped back: {e}");
            for slot in state.slots.values_mut() {
                slot.claiming = false;
            }
        }
    }
    inner.wake.notify_one();
}
