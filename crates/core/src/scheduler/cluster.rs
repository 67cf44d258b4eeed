//! This process as a node of the store: heartbeats, the clock check against the database, and
//! taking over what dead nodes left behind.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::Duration;

use super::dispatch::start_unscheduled;
use super::{lock, SchedulerInner};
use crate::events::{Event, RunRef};
use crate::history::{RunRecord, RunState};
use crate::store::StoreError;

impl SchedulerInner {
    /// Registers or refreshes this node, and stops claiming while its clock is more than the
    /// allowed skew away from the database's.
    pub(super) fn beat(&self) -> Result<(), StoreError> {
        let node = {
            let mut node = self.node.write().unwrap_or_else(|e| e.into_inner());
            node.heartbeat = self.clock.now();
            node.clone()
        };
        let beat = self.store.heartbeat(&node)?;
        if beat.revived {
            tracing::error!(
                node = %node.id,
                "this node's lease had lapsed and other nodes took over its runs; check for \
                 a stalled process or a paused machine"
            );
        }
        let skew = (node.heartbeat - beat.db_now).num_milliseconds().abs();
        self.node.write().unwrap_or_else(|e| e.into_inner()).skew_ms = skew;
        let max = i64::from(self.cluster().max_skew_ms);
        let was = self.skewed.swap(skew > max, Ordering::Relaxed);
        if skew > max {
            tracing::error!(
                skew_ms = skew,
                max_skew_ms = max,
                "this machine's clock is {skew} ms away from the database's; not claiming \
                 fires until it is within {max} ms (fix the clock, e.g. with NTP)"
            );
        } else if was {
            tracing::info!(skew_ms = skew, "the clock agrees with the database again");
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Makes sure this node heartbeats even when the run loop was never started (a
    /// `kairos job run`), so other nodes do not take its run over.
    pub(super) fn keep_alive(self: &Arc<Self>) -> Result<(), StoreError> {
        if self.beating.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.beat()?;
        self.runtime
            .get_or_init(tokio::runtime::Handle::current)
            .spawn(heartbeats(self.clone()));
        Ok(())
    }

    /// Takes over the runs of nodes that are dead (lease lapsed, or their process gone from
    /// this machine): they become abandoned, and those with retries left run again here.
    pub(super) fn take_over(self: &Arc<Self>) -> Result<(), StoreError> {
        let me = self.node.read().unwrap_or_else(|e| e.into_inner()).clone();
        let dead: Vec<String> = self
            .store
            .nodes()?
            .into_iter()
            .filter(|n| n.is_dead_process(&me))
            .map(|n| n.id)
            .collect();
        let now = self.clock.now();
        let lease = Duration::seconds(self.cluster().lease_s.into());
        for run in self.store.take_over(now, lease, &dead)? {
            tracing::warn!(
                run = run.id,
                job = %run.job_id,
                node = run.node.as_deref().unwrap_or("-"),
                "run abandoned: its node died while it was in flight"
            );
            self.bus.emit(now, Event::RunAbandoned(RunRef::of(&run)));
            self.retry_abandoned(&run);
        }
        Ok(())
    }

    /// Runs an abandoned run's next attempt here when its job's retry policy allows one.
    fn retry_abandoned(self: &Arc<Self>, run: &RunRecord) {
        let job = match self.store.get_job(&run.job_id) {
            Ok(Some(job)) if self.may_run(&job) => Arc::new(job),
            Ok(_) => return,
            Err(e) => {
                tracing::error!(
                    "cannot load job '{}' to retry run {}: {e}",
                    run.job_id,
                    run.id
                );
                return;
            }
        };
        let options = job.options.resolve(&self.defaults());
        if run.attempt > options.retries.count {
            return;
        }
        let counters = {
            let mut state = lock(&self.state);
            let slot = state.slots.entry(job.id.as_str().into()).or_default();
            slot.counters.active.fetch_add(1, Ordering::AcqRel);
            slot.counters.clone()
        };
        let mut next = RunRecord::new(0, &run.job_id, run.scheduled, RunState::Submitted);
        next.attempt = run.attempt + 1;
        next.manual = run.manual;
        let now = self.clock.now();
        if let Err(e) = start_unscheduled(self, job, options, counters, next, u32::MAX, now) {
            tracing::error!("cannot retry abandoned run {}: {e}", run.id);
        }
    }

    fn cluster(&self) -> crate::job::ClusterSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .cluster
    }
}

/// Heartbeats and takes over dead nodes' work every heartbeat period until the scheduler stops.
pub(super) async fn heartbeats(inner: Arc<SchedulerInner>) {
    loop {
        let period = inner.cluster().heartbeat();
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = inner.stop.cancelled() => return,
        }
        let work = inner.clone();
        let done = tokio::task::spawn_blocking(move || {
            work.beat()?;
            work.take_over()
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("heartbeat failed: {e}"),
            Err(e) => tracing::error!("heartbeat task failed: {e}"),
        }
    }
}
