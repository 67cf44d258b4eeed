//! This process as a node of the store: heartbeats, the clock check against the database, and
//! taking over what dead nodes left behind.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::Duration;

use super::dispatch::start_unscheduled;
use super::{lock, SchedulerInner, StoreFailure};
use crate::events::{Event, RunRef};
use crate::history::{RunRecord, RunState};
use crate::store::{NodeState, StoreError};

/// The node label that says a node has registered function `name`.
pub(super) fn function_label(name: &str) -> String {
    format!("fn:{name}")
}

impl SchedulerInner {
    /// Registers or refreshes this node, and stops claiming while its clock is more than the
    /// allowed skew away from the database's.
    pub(super) fn beat(&self) -> Result<(), StoreError> {
        let node = {
            let mut node = self.node.write().unwrap_or_else(|e| e.into_inner());
            node.heartbeat = self.clock.now();
            node.listening = self.bus.has_watchers();
            node.clone()
        };
        let beat = self.store.heartbeat(&node)?;
        if beat.revived {
            self.let_go_of_workflows();
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
        // Tracked, so shutdown waits for the last heartbeat before the node leaves.
        let runtime = self.runtime.get_or_init(tokio::runtime::Handle::current);
        self.tasks.spawn_on(heartbeats(self.clone()), runtime);
        Ok(())
    }

    /// Takes over the runs of nodes that are dead (lease lapsed, or their process gone from
    /// this machine): they become abandoned, and those with retries left run again here.
    /// Unless `sweep` (at start), the store is swept only as [`Self::sweep_due`] says.
    pub(super) fn take_over(self: &Arc<Self>, sweep: bool) -> Result<(), StoreError> {
        if !self.may_claim() {
            // With a clock this far off, live nodes could look dead: judge nobody.
            return Ok(());
        }
        let me = self.node.read().unwrap_or_else(|e| e.into_inner()).clone();
        let nodes = self.store.peers()?;
        let dead: Vec<String> = nodes
            .iter()
            .filter(|n| n.is_dead_process(&me))
            .map(|n| n.id.clone())
            .collect();
        let now = self.clock.now();
        let lease = Duration::seconds(self.cluster().lease_s.into());
        let mut alive: Vec<Peer> = nodes
            .iter()
            .filter(|n| n.state(now, lease) == NodeState::Alive && !dead.contains(&n.id))
            .map(|n| Peer {
                id: n.id.as_str().into(),
                labels: n.labels.clone(),
                listening: n.listening,
            })
            .collect();
        if !alive.iter().any(|p| *p.id == *me.id) {
            alive.push(Peer {
                id: (*self.node_id).into(),
                labels: me.labels.clone(),
                listening: me.listening,
            });
        }
        alive.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let (changed, first) = {
            let mut peers = self.peers.write().unwrap_or_else(|e| e.into_inner());
            let changed = **peers != *alive;
            let first = peers.is_empty();
            // A lone process has nothing to divide: say so only when other nodes come or go.
            let shared = peers.len() > 1 || alive.len() > 1;
            *peers = alive.into();
            (changed.then_some(shared), first)
        };
        if changed.is_some() {
            // Who listens is part of a peer: the relay looks again only when that changed.
            self.relay_wake.notify_one();
        }
        if let Some(shared) = changed.filter(|_| lock(&self.state).running) {
            if shared && !first {
                tracing::info!("the nodes changed: re-dividing the jobs among them");
            }
            // The first division reloads nothing unless the jobs changed meanwhile: every
            // job of the schedule just read is queued, and each fire asks whether this node
            // owns it (a million jobs: 1.2 s saved at start).
            self.reconcile(!first);
        }
        // A failed rescue leaves the sweep to be made, then is reported.
        let rescued = self.rescue_overdue(now);
        let lapsed = nodes
            .iter()
            .any(|n| n.state(now, lease) == NodeState::Lapsed);
        let news = sweep || changed.is_some() || lapsed || !dead.is_empty();
        if self.sweep_due(now, lease, news) {
            // A failed sweep is due again at the next heartbeat.
            let runs = self
                .store
                .take_over(now, lease, &dead)
                .inspect_err(|_| self.swept_at.store(i64::MIN, Ordering::Relaxed))?;
            self.swept_at
                .store(now.timestamp_millis(), Ordering::Relaxed);
            for run in runs {
                // A workflow goes on here; its steps run again as it resumes.
                let node = nodes
                    .iter()
                    .find(|n| Some(n.id.as_str()) == run.node.as_deref());
                if run.step.is_none() && self.resume_workflow(&run, node.map(|n| n.heartbeat)) {
                    continue;
                }
                tracing::warn!(
                    run = run.id,
                    job = %run.job_id,
                    node = run.node.as_deref().unwrap_or("-"),
                    "run abandoned: its node died while it was in flight"
                );
                self.bus.emit(now, Event::RunAbandoned(RunRef::of(&run)));
                if run.step.is_none() {
                    self.retry_abandoned(&run);
                }
            }
        }
        rescued
    }

    /// Whether the store is to be swept for dead nodes' runs now: at once on `news` (the
    /// nodes changed, one lapsed or died, the scheduler starts), else once a lease since the
    /// last sweep, for runs orphaned some other way (left by a node that came and went
    /// between two heartbeats); an idle node's heartbeat then writes only itself.
    fn sweep_due(&self, now: chrono::DateTime<chrono::Utc>, lease: Duration, news: bool) -> bool {
        let now = now.timestamp_millis();
        let last = self.swept_at.load(Ordering::Relaxed);
        news || now.saturating_sub(last) >= lease.num_milliseconds() || now < last
    }

    /// Whether this node fires `job`: of the alive nodes that have the job's labels (and its
    /// function, for a function job), the one with the highest rendezvous hash of (node, job)
    /// does, so each job has one owner and jobs spread evenly over the nodes.
    pub(super) fn owns(&self, job: &crate::job::Job) -> bool {
        self.owns_id(&job.id, Some(job))
    }

    /// [`SchedulerInner::owns`] for job `id`, as far as `job` (if loaded) says.
    fn owns_id(&self, id: &str, job: Option<&crate::job::Job>) -> bool {
        let peers = self.peers.read().unwrap_or_else(|e| e.into_inner());
        if peers.len() <= 1 {
            return true;
        }
        let labels = job.map_or(&[][..], |j| &j.node_labels[..]);
        let functions: Vec<String> = job.map_or(Vec::new(), |j| {
            j.action
                .functions()
                .into_iter()
                .map(function_label)
                .collect()
        });
        peers
            .iter()
            .filter(|p| labels.iter().all(|l| p.labels.contains(l)))
            .filter(|p| functions.iter().all(|f| p.labels.contains(f)))
            .max_by_key(|p| rendezvous(&p.id, id))
            .is_none_or(|owner| *owner.id == *self.node_id)
    }

    /// Whether no other node was alive at the last heartbeat.
    pub(super) fn alone(&self) -> bool {
        self.peers.read().unwrap_or_else(|e| e.into_inner()).len() <= 1
    }

    /// Whether another alive node has someone watching events (so ours are worth sharing).
    pub(super) fn others_listening(&self) -> bool {
        let peers = self.peers.read().unwrap_or_else(|e| e.into_inner());
        peers.iter().any(|p| p.listening && *p.id != *self.node_id)
    }

    /// Queues jobs whose fire is overdue by more than two heartbeats whoever owns them: their
    /// owner stalled or died, or the nodes disagree on who is alive. The claim decides who runs.
    fn rescue_overdue(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> {
        if self.peers.read().unwrap_or_else(|e| e.into_inner()).len() <= 1 {
            // Alone, an overdue job is this node's own backlog, already queued.
            return Ok(());
        }
        let period = Duration::seconds(self.cluster().heartbeat_s.into());
        let late = now - period * 2;
        // A node behind on its own jobs takes on nobody else's.
        if lock(&self.state)
            .queue
            .first()
            .is_some_and(|(due, ..)| *due < late)
        {
            return Ok(());
        }
        let overdue = self.store.overdue(late)?;
        if overdue.is_empty() {
            return Ok(());
        }
        let mut state = lock(&self.state);
        let mut queued = false;
        for entry in overdue {
            let id: Arc<str> = entry.id.into();
            let Some(slot) = state.slots.get_mut(&id) else {
                continue;
            };
            // Its own overdue jobs are in its queue already.
            if slot.claiming || slot.paused || self.owns_id(&id, slot.job.as_deref()) {
                continue;
            }
            slot.rescue = true;
            queued = true;
            state.enqueue(&id, entry.next_run.map(|t| (t, t)));
        }
        drop(state);
        if queued {
            self.wake.notify_one();
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
            slot.counters().active.fetch_add(1, Ordering::AcqRel);
            slot.counters().clone()
        };
        let mut next = RunRecord::new(0, &run.job_id, run.scheduled, RunState::Submitted);
        next.attempt = run.attempt + 1;
        next.manual = run.manual;
        next.upstream = run.upstream;
        next.params = run.params.clone();
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

/// Heartbeats every heartbeat period, taking over dead nodes' work, until the scheduler stops.
pub(super) async fn heartbeats(inner: Arc<SchedulerInner>) {
    loop {
        let period = inner.cluster().heartbeat();
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = inner.stop.cancelled() => return,
        }
        let work = inner.clone();
        let done = tokio::task::spawn_blocking(move || {
            let beat = work.beat();
            // The heartbeat is a write: whether it worked is whether the store can be written.
            let failure = beat.as_ref().err().map(|e| StoreFailure {
                disk_full: matches!(e, StoreError::Full(_)),
                message: e.to_string(),
            });
            *work
                .store_failure
                .write()
                .unwrap_or_else(|e| e.into_inner()) = failure;
            beat?;
            work.take_over(false)
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("heartbeat failed: {e}"),
            Err(e) => tracing::error!("heartbeat task failed: {e}"),
        }
    }
}

/// A node alive at the last heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Peer {
    id: Arc<str>,
    labels: Vec<String>,
    /// Someone there watches events.
    listening: bool,
}

/// FNV-1a of `node`, a separator and `job`, then MurmurHash3's finaliser so every input bit
/// reaches the high bits: the same on every machine and build.
fn rendezvous(node: &str, job: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in node.bytes().chain([0xff]).chain(job.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

#[cfg(test)]
mod tests {
    use super::rendezvous;

    #[test]
    fn jobs_spread_evenly_and_only_a_dead_nodes_jobs_move() {
        let nodes = ["3f2a9c1b7e01", "0b77e2d41c9a", "a91c5e00f3d2"];
        fn owner<'a>(alive: &[&'a str], job: &str) -> &'a str {
            alive.iter().max_by_key(|n| rendezvous(n, job)).unwrap()
        }
        let jobs: Vec<String> = (0..3000).map(|i| format!("job-{i}")).collect();
        for node in nodes {
            let owned = jobs.iter().filter(|j| owner(&nodes, j) == node).count();
            assert!((800..1200).contains(&owned), "{node} owns {owned} of 3000");
        }
        // When the first node dies, only its jobs change owner.
        for job in &jobs {
            let before = owner(&nodes, job);
            let after = owner(&nodes[1..], job);
            assert!(
                before == nodes[0] || before == after,
                "{job} moved needlessly"
            );
        }
        // Pinned: nodes of different builds and machines must agree on every owner.
        assert_eq!(rendezvous("node", "job"), 0xff08_574c_c078_dedd);
    }
}
