//! The scheduler: keeps every job's next fire time in a due-set, wakes exactly when the
//! earliest is due (or when something changes), applies the misfire and coalesce policy, and
//! hands runs to the executor pools.

mod admit;
mod alerts;
mod builder;
mod cancel;
mod chain;
mod clock;
mod cluster;
mod dispatch;
mod external;
mod lifetime;
mod listen;
mod plan;
mod prune;
mod relay;
mod stats;
mod workflow;

use std::collections::hash_map::Entry;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, Duration, Utc};
use rand::{rngs::StdRng, SeedableRng};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::action::{Action, ActionContext, JobContext, Outcome};
use crate::events::{Event, EventBus, RunRef};
use crate::executor::Pools;
use crate::history::RunParams;
use crate::job::{Job, JobBuilder, Settings};
use crate::store::{JobStore, NodeInfo, StoreError};
use crate::trigger::{jittered, Trigger};
use crate::FastMap;

pub use builder::SchedulerBuilder;
pub use clock::{Clock, ClockSteps, SystemClock, TestClock};
pub(crate) use dispatch::insert_run;
pub use lifetime::{stop_signal, SHUTDOWN_GRACE};
pub use listen::Subscription;
pub use stats::{SchedulerStats, StatsSnapshot};

/// Why a scheduler call was refused.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// A field of the request is invalid; the message says how to fix it.
    #[error("{field}: {message}")]
    Invalid {
        /// The field's JSON name.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No job has this id.
    #[error("no job with id '{0}'")]
    NotFound(String),
    /// No run has this id.
    #[error("no run with id {0}")]
    NoRun(i64),
    /// No alert channel has this id.
    #[error("no channel with id '{0}'")]
    NoChannel(String),
    /// The request does not fit the current state (e.g. cancelling a run that ended).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SchedulerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => SchedulerError::NotFound(id),
            StoreError::Duplicate(id) => SchedulerError::Invalid {
                field: "id".into(),
                message: format!("a job with id '{id}' already exists"),
            },
            e => SchedulerError::Store(e),
        }
    }
}

/// Run now refused because job `id` has its maximum number of runs active.
pub(crate) fn busy(id: &str) -> SchedulerError {
    invalid(
        "id",
        format!("job '{id}' already has its maximum number of runs active"),
    )
}

fn invalid(field: &str, message: impl Into<String>) -> SchedulerError {
    SchedulerError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// What the scheduler is doing, for status displays.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    /// The run loop is running.
    pub running: bool,
    /// All jobs are paused.
    pub paused: bool,
    /// Jobs known.
    pub jobs: usize,
    /// Runs submitted or running now.
    pub active_runs: u64,
    /// The earliest next fire time of any unpaused job.
    pub next_run: Option<DateTime<Utc>>,
    /// This process's node id in the store.
    pub node: String,
    /// How far this machine's clock was from the database's at the last heartbeat (ms).
    pub clock_skew_ms: i64,
    /// The clock is further from the database's than allowed: this node claims no fires.
    pub clock_skewed: bool,
    /// The store refused the last heartbeat's write: runs cannot be recorded.
    pub store_failure: Option<StoreFailure>,
}

/// Why the store cannot be written to.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreFailure {
    /// The disk holding the database is full.
    pub disk_full: bool,
    /// The store's error.
    pub message: String,
}

/// A multi-threaded tokio runtime for a scheduler: one worker thread fewer than the machine
/// has cores (at least one), as the run loop started on it takes a thread of its own.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.saturating_sub(1).max(1))
        .enable_all()
        .build()
}

/// A job's run counts, shared with its runs so they finish without taking the state lock.
#[derive(Debug, Default)]
pub(crate) struct RunCounters {
    /// Runs submitted and not yet finished.
    pub(crate) active: AtomicU32,
    /// Runs finished since the scheduler started.
    pub(crate) finished: AtomicU32,
    /// The count of finished runs from which the job's history is due for a prune.
    pub(crate) prune_from: AtomicU32,
    /// The count of finished runs at its last prune.
    pub(crate) pruned_at: AtomicU32,
}

/// A job's place in the run loop.
#[derive(Debug)]
struct Slot {
    /// Orders the slot among others due at the same time, so the due-set never compares ids.
    /// 32 bits keep a slot in 48 bytes and a due-set entry in 32 (a million jobs: 27 MB
    /// less). It is taken once per slot made; after 2^32 it wraps, which only changes which
    /// of the jobs due at one time goes first.
    seq: u32,
    /// When it is due (jitter applied) and the fire time that stands for.
    due: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The definition, once loaded.
    job: Option<Arc<Job>>,
    paused: bool,
    /// A claim of its fire is on its way to the store (the change watcher leaves it alone).
    claiming: bool,
    /// Overdue with its owner silent: claim it even though another node owns it.
    rescue: bool,
    /// Claimed at its time rather than ahead (its runs were at `max_instances` when it came
    /// within the claim-ahead window): `due`'s first time is its start plus that window.
    deferred: bool,
    /// Made at its first run (a million jobs at start: a million allocations fewer).
    counters: Option<Arc<RunCounters>>,
}

impl Slot {
    /// Runs of the job submitted and not yet finished.
    fn active(&self) -> u32 {
        self.counters
            .as_ref()
            .map_or(0, |c| c.active.load(Ordering::Acquire))
    }

    /// Its run counts, made on first use.
    fn counters(&mut self) -> &Arc<RunCounters> {
        self.counters.get_or_insert_with(Arc::default)
    }
}

impl Default for Slot {
    fn default() -> Self {
        static NEXT_SEQ: AtomicU32 = AtomicU32::new(0);
        Slot {
            seq: NEXT_SEQ.fetch_add(1, Ordering::Relaxed),
            due: None,
            job: None,
            paused: false,
            claiming: false,
            rescue: false,
            deferred: false,
            counters: None,
        }
    }
}

/// A job's place in the due-set: its due time, its slot's sequence number and its id.
type DueEntry = (DateTime<Utc>, u32, Arc<str>);

/// The due-set and per-job slots, under one lock.
#[derive(Default)]
struct State {
    slots: FastMap<Arc<str>, Slot>,
    /// Every job that will fire.
    queue: BTreeSet<DueEntry>,
    /// Start times of fires put off at `max_instances` (see `Slot::deferred`), for the loop
    /// to wake at; one left behind costs a wake, no more.
    deferred: BTreeSet<DateTime<Utc>>,
    paused: bool,
    running: bool,
}

impl State {
    /// Takes job `id` out of the due-set.
    fn unqueue(&mut self, id: &Arc<str>) {
        self.enqueue(id, None);
    }

    /// Puts job `id` in the due-set at `due` (unless paused), replacing its earlier place.
    fn enqueue(&mut self, id: &Arc<str>, due: Option<(DateTime<Utc>, DateTime<Utc>)>) {
        if let Some(slot) = self.slots.get_mut(id) {
            place(&mut self.queue, slot, id, due);
        }
    }
}

/// Puts `slot` (job `id`) in `queue` at `due` (unless paused), replacing its earlier place;
/// for callers that hold the slot already.
fn place(
    queue: &mut BTreeSet<DueEntry>,
    slot: &mut Slot,
    id: &Arc<str>,
    due: Option<(DateTime<Utc>, DateTime<Utc>)>,
) {
    if let Some(old) = slot.due.take() {
        queue.remove(&(old.0, slot.seq, id.clone()));
    }
    slot.deferred = false;
    if let Some(d) = due.filter(|_| !slot.paused) {
        slot.due = Some(d);
        queue.insert((d.0, slot.seq, id.clone()));
    }
}

/// Adds `entries`, of slots not yet in `queue`, to it: the two sets merged when they are
/// many beside it (a million jobs: 0.3 s less than an insert each), else one by one.
fn queue_all(queue: &mut BTreeSet<DueEntry>, mut entries: BTreeSet<DueEntry>) {
    if entries.len() >= queue.len() / 4 {
        queue.append(&mut entries);
    } else {
        queue.extend(entries);
    }
}

/// Whether `done` finished by `deadline` (none: no limit).
async fn within(deadline: Option<tokio::time::Instant>, done: impl std::future::Future) -> bool {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, done).await.is_ok(),
        None => {
            done.await;
            true
        }
    }
}

/// The longest a fire is claimed ahead of its time (see [`Scheduler::set_claim_ahead`]).
const MAX_CLAIM_AHEAD: std::time::Duration = std::time::Duration::from_secs(60);

/// The scheduler's shared state (crate-internal; runs hold it while they execute).
pub(crate) struct SchedulerInner {
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) bus: EventBus,
    settings: RwLock<Settings>,
    state: Mutex<State>,
    wake: Notify,
    /// What actions get; its cancel token is the parent of every run's: cancelling it
    /// stops all runs.
    pub(crate) context: ActionContext,
    pub(crate) pools: Pools,
    pub(crate) tasks: TaskTracker,
    /// The run loop, and the tasks holding runs it claimed ahead until they start (see
    /// `dispatch::start_later`): shutdown waits for them before it closes the pools.
    pub(crate) starting: TaskTracker,
    /// How long before a fire time the run loop claims it (ms; see [`JobStore::claim_ahead`]).
    claim_ahead_ms: AtomicU64,
    /// Cancelled when shutdown's grace ran out before runs claimed ahead started: they are
    /// recorded cancelled.
    hurry: CancellationToken,
    /// Stops the run loop.
    pub(crate) stop: CancellationToken,
    /// Cancelled once shutdown is complete: listener threads end.
    closed: CancellationToken,
    rng: Mutex<StdRng>,
    /// The current second (low 32 bits) and the history prunes made in it, in one word
    /// (see `prune.rs`).
    prunes: AtomicU64,
    /// Prunes put off to a later second, and what wakes the task that makes them.
    put_off: prune::PutOff,
    prune_wake: Notify,
    pub(crate) stats: SchedulerStats,
    /// The runtime runs execute on (the one `start` or the first run was called from).
    pub(crate) runtime: std::sync::OnceLock<tokio::runtime::Handle>,
    /// The store's change counter as of our last look (see `external`).
    seen_changes: Mutex<i64>,
    /// This process as a node of the store; runs it claims carry `node_id`.
    pub(crate) node: RwLock<NodeInfo>,
    pub(crate) node_id: crate::history::ThinStr,
    /// The clock is too far from the database's: claim nothing until it is back.
    skewed: AtomicBool,
    /// Why the last heartbeat could not write to the store, if it could not.
    pub(crate) store_failure: RwLock<Option<StoreFailure>>,
    /// The heartbeat task runs.
    beating: AtomicBool,
    /// When (ms of the clock) the store was last swept for dead nodes' runs (see `take_over`).
    swept_at: AtomicI64,
    /// The ids of the nodes alive at the last heartbeat, this one among them, sorted: each
    /// job is fired by one of them (see `cluster::owner`).
    peers: RwLock<Arc<[cluster::Peer]>>,
    /// Tells the event relay to look again at who listens (a heartbeat saw it change).
    relay_wake: Notify,
    /// Jobs set aside because this process lacks their function (see `may_run`): job id to
    /// function name.
    waiting: Mutex<FastMap<String, String>>,
    /// The cancel tokens of this process's unfinished runs, by run id (see `cancel`).
    live: Mutex<FastMap<i64, CancellationToken>>,
    /// Shutdown's grace ran out: every run is cancelled, and any made later is born so. A
    /// flag, as reading the shared token takes its lock, which every run would contend for.
    cancelling_all: AtomicBool,
    /// Sends alerts to channels.
    #[cfg(feature = "alerts")]
    pub(crate) alerter: Arc<crate::alert::Alerter>,
    /// Held while the channels are read, changed and saved back.
    channel_edits: Mutex<()>,
    /// The output so far of this process's running shell commands, by run id.
    outputs: Mutex<FastMap<i64, Arc<crate::action::LiveOutput>>>,
    /// The workflow runs this process carries out, by run id.
    flights: Mutex<FastMap<i64, workflow::Flight>>,
    /// Held while a workflow step is retried: one retry at a time here.
    retrying: Mutex<()>,
}

/// The scheduler handle; clones share one scheduler.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<SchedulerInner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh random job id.
pub(crate) fn new_job_id() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

impl Scheduler {
    /// A stopped scheduler over `store`, reading time from the system clock.
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        Scheduler::with_clock(store, Arc::new(SystemClock))
    }

    /// A stopped scheduler over `store`, reading time from `clock`.
    pub fn with_clock(store: Arc<dyn JobStore>, clock: Arc<dyn Clock>) -> Self {
        let settings = store.load_settings().ok().flatten().unwrap_or_default();
        let pools = Pools::new(&settings.pools);
        let node = NodeInfo::this_process(Vec::new(), clock.now());
        let claim_ahead_ms = store.claim_ahead().min(MAX_CLAIM_AHEAD).as_millis() as u64;
        Scheduler {
            inner: Arc::new(SchedulerInner {
                store,
                clock,
                bus: EventBus::default(),
                settings: RwLock::new(settings),
                state: Mutex::new(State::default()),
                wake: Notify::new(),
                context: ActionContext::default(),
                pools,
                tasks: TaskTracker::new(),
                starting: TaskTracker::new(),
                claim_ahead_ms: AtomicU64::new(claim_ahead_ms),
                hurry: CancellationToken::new(),
                stop: CancellationToken::new(),
                closed: CancellationToken::new(),
                rng: Mutex::new(StdRng::from_entropy()),
                prunes: AtomicU64::new(0),
                put_off: prune::PutOff::default(),
                prune_wake: Notify::new(),
                stats: SchedulerStats::default(),
                seen_changes: Mutex::new(0),
                runtime: std::sync::OnceLock::new(),
                node_id: node.id.as_str().into(),
                node: RwLock::new(node),
                skewed: AtomicBool::new(false),
                store_failure: RwLock::new(None),
                beating: AtomicBool::new(false),
                swept_at: AtomicI64::new(i64::MIN),
                peers: RwLock::new(Arc::new([])),
                relay_wake: Notify::new(),
                waiting: Mutex::default(),
                live: Mutex::default(),
                cancelling_all: AtomicBool::new(false),
                #[cfg(feature = "alerts")]
                alerter: Arc::new(crate::alert::Alerter::new()),
                channel_edits: Mutex::default(),
                outputs: Mutex::default(),
                flights: Mutex::default(),
                retrying: Mutex::default(),
            }),
        }
    }

    /// The event bus: `events().subscribe(mask)` gives a stream of what the scheduler does
    /// (`while let Some(e) = listener.recv().await { … }`); see also [`Scheduler::on`].
    pub fn events(&self) -> &EventBus {
        &self.inner.bus
    }

    /// Registers an async function or closure under `name`, for jobs that
    /// [`call`](JobBuilder::call) it (replacing any earlier one). Jobs that call it and were
    /// waiting for it fire from their stored next fire time.
    pub fn register<F, Fut>(&self, name: &str, f: F)
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: Outcome,
    {
        self.inner.install_function(name, crate::action::job_fn(f));
    }

    /// Like [`Scheduler::register`], for blocking code: each run gets a thread of its own.
    pub fn register_blocking<F, O>(&self, name: &str, f: F)
    where
        F: Fn(JobContext) -> O + Send + Sync + 'static,
        O: Outcome + Send + 'static,
    {
        self.inner
            .install_function(name, crate::action::blocking_fn(f));
    }

    /// Gives this process labels that jobs can be pinned to (before [`Scheduler::start`]).
    pub fn set_node_labels(&self, labels: Vec<String>) {
        self.inner
            .node
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .labels = labels;
    }

    /// Claims each fire `ahead` of its time and starts its runs at it (before
    /// [`Scheduler::start`]), so a slow store's commit does not make runs late; the store's
    /// [`JobStore::claim_ahead`] (PostgreSQL 100 ms, SQLite 250 ms, memory none) unless set; at
    /// most a minute.
    pub fn set_claim_ahead(&self, ahead: std::time::Duration) {
        let ms = ahead.min(MAX_CLAIM_AHEAD).as_millis() as u64;
        self.inner.claim_ahead_ms.store(ms, Ordering::Relaxed);
    }

    /// Every node sharing the store (see [`JobStore::nodes`]).
    pub fn nodes(&self) -> Result<Vec<NodeInfo>, SchedulerError> {
        Ok(self.inner.store.nodes()?)
    }

    /// This process as a node of the store.
    pub fn node(&self) -> NodeInfo {
        self.inner
            .node
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The store behind the scheduler (for history and metric queries).
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.inner.store
    }

    /// Start and lateness counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Validates, saves and applies new settings (pool sizes take effect for new runs).
    pub fn update_settings(&self, settings: Settings) -> Result<(), SchedulerError> {
        if !settings.pools.contains_key(crate::job::DEFAULT_POOL) {
            return Err(invalid("pools", "the 'default' pool must exist"));
        }
        if let Some((name, _)) = settings.pools.iter().find(|(_, size)| **size == 0) {
            return Err(invalid(&format!("pools.{name}"), "size must be at least 1"));
        }
        settings
            .defaults
            .validate()
            .map_err(|e| invalid(&e.field, e.message))?;
        let cluster = settings.cluster;
        if cluster.heartbeat_s == 0 {
            return Err(invalid("cluster.heartbeat_s", "must be at least 1"));
        }
        if cluster.lease_s < cluster.heartbeat_s.saturating_mul(2) {
            return Err(invalid(
                "cluster.lease_s",
                format!(
                    "must be at least twice cluster.heartbeat_s ({} s), so one late heartbeat \
                     does not make a node dead",
                    cluster.heartbeat_s
                ),
            ));
        }
        self.inner.store.save_settings(&settings)?;
        self.inner.pools.resize(&settings.pools);
        *self
            .inner
            .settings
            .write()
            .unwrap_or_else(|e| e.into_inner()) = settings;
        Ok(())
    }

    /// Registers this process as a node, takes over what dead nodes left (their runs become
    /// abandoned, retried if the job says so), loads the schedule and starts the run loop;
    /// overdue fire times then go through the misfire policy.
    pub fn start(&self) -> Result<(), SchedulerError> {
        let inner = &self.inner;
        if lock(&inner.state).running {
            return Ok(());
        }
        inner.keep_alive()?;
        *lock(&inner.seen_changes) = inner.store.change_counter()?;
        let schedule = inner.store.schedule()?;
        {
            let mut state = lock(&inner.state);
            if state.running {
                return Ok(());
            }
            state.running = true;
            let state = &mut *state;
            // Jobs added before the start have their slots already: reserving the whole
            // schedule again would double the table (200k jobs: 19 MB never used).
            state
                .slots
                .reserve(schedule.len().saturating_sub(state.slots.len()));
            let mut due_set = Vec::with_capacity(schedule.len());
            for entry in schedule {
                let id: Arc<str> = entry.id.into();
                let slot = match state.slots.entry(id.clone()) {
                    Entry::Vacant(place) => place.insert(Slot::default()),
                    // Made before the start by a run by hand or a take-over, and not queued.
                    Entry::Occupied(place)
                        if place.get().due.is_none() && !place.get().claiming =>
                    {
                        place.into_mut()
                    }
                    Entry::Occupied(_) => continue,
                };
                slot.paused = entry.paused;
                if let Some(t) = entry.next_run.filter(|_| !entry.paused) {
                    slot.due = Some((t, t));
                    due_set.push((t, slot.seq, id));
                }
            }
            queue_all(&mut state.queue, due_set.into_iter().collect());
        }
        // After the schedule is in: retries of abandoned runs find their jobs' slots.
        inner.take_over(true)?;
        inner.bus.emit(inner.clock.now(), Event::SchedulerStarted);
        let handle = inner
            .runtime
            .get_or_init(tokio::runtime::Handle::current)
            .clone();
        let loop_inner = inner.clone();
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            // The loop gets a thread of its own so it never waits behind runs for a worker.
            let token = inner.tasks.token();
            let starting = inner.starting.token();
            std::thread::Builder::new()
                .name("kairos-loop".into())
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    match runtime {
                        Ok(rt) => rt.block_on(dispatch::run_loop(loop_inner, true)),
                        Err(e) => tracing::error!("cannot start the run loop's runtime: {e}"),
                    }
                    drop((token, starting));
                })
                .map_err(|e| {
                    invalid(
                        "scheduler",
                        format!("cannot start the run loop thread: {e}"),
                    )
                })?;
        } else {
            inner.starting.spawn(dispatch::run_loop(loop_inner, false));
        }
        // Watching starts now: a change made once `start` returns is noticed.
        let announced = inner.store.changes();
        inner.tasks.spawn(external::watch(inner.clone(), announced));
        inner.tasks.spawn(relay::relay(inner.clone()));
        inner.tasks.spawn(prune::prune_later(inner.clone()));
        inner.reload_channels();
        #[cfg(feature = "alerts")]
        inner.tasks.spawn(inner.alerter.clone().run(inner.clone()));
        Ok(())
    }

    /// Stops the loop; lets runs claimed ahead start at their time and running jobs finish
    /// for up to `grace`, then cancels the rest (recorded as cancelled) and waits for them
    /// to stop.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        let inner = &self.inner;
        inner.stop.cancel();
        lock(&inner.state).running = false;
        let deadline = tokio::time::Instant::now().checked_add(grace);
        // The loop ends (after the claim it may be making) and the runs it claimed ahead
        // start at their time (a claim-ahead window away at most), while the pools take them.
        inner.starting.close();
        if !within(deadline, inner.starting.wait()).await {
            inner.hurry.cancel();
            inner.starting.wait().await;
        }
        inner.pools.close();
        inner.tasks.close();
        if !within(deadline, inner.tasks.wait()).await {
            inner.cancelling_all.store(true, Ordering::SeqCst);
            inner.cancel_all();
            inner.tasks.wait().await;
        }
        if let Err(e) = inner.store.flush() {
            tracing::error!("flushing the store at shutdown failed: {e}");
        }
        if let Err(e) = inner.store.leave(&inner.node_id, inner.clock.now()) {
            tracing::warn!("cannot mark this node as gone: {e}");
        }
        inner.bus.emit(inner.clock.now(), Event::SchedulerShutdown);
        inner.closed.cancel();
    }

    /// Stops firing any job until [`Scheduler::resume`].
    pub fn pause(&self) {
        lock(&self.inner.state).paused = true;
        self.inner
            .bus
            .emit(self.inner.clock.now(), Event::SchedulerPaused);
        self.inner.wake.notify_one();
    }

    /// Fires jobs again; fire times that fell due meanwhile go through the misfire policy.
    pub fn resume(&self) {
        lock(&self.inner.state).paused = false;
        self.inner
            .bus
            .emit(self.inner.clock.now(), Event::SchedulerResumed);
        self.inner.wake.notify_one();
    }

    /// Where the scheduler is.
    pub fn status(&self) -> Status {
        let state = lock(&self.inner.state);
        Status {
            running: state.running,
            paused: state.paused,
            jobs: state.slots.len(),
            active_runs: state.slots.values().map(|s| u64::from(s.active())).sum(),
            next_run: state
                .queue
                .first()
                .and_then(|(_, _, id)| state.slots[id].due.map(|d| d.1)),
            node: self.inner.node_id.to_string(),
            clock_skew_ms: self
                .inner
                .node
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .skew_ms,
            clock_skewed: !self.inner.may_claim(),
            store_failure: self
                .inner
                .store_failure
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    fn check(job: &Job, settings: &Settings) -> Result<(), SchedulerError> {
        if job.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if job.id.len() > 128 || job.id.chars().any(|c| c.is_control() || c == '/') {
            return Err(invalid(
                "id",
                "use at most 128 characters, no '/' or control characters",
            ));
        }
        job.action
            .validate()
            .map_err(|e| invalid(&e.field, e.message))?;
        job.options
            .validate()
            .map_err(|e| invalid(&e.field, e.message))?;
        if !settings.pools.contains_key(&job.pool) {
            return Err(invalid(
                "pool",
                format!("no pool named '{}' (add it in settings)", job.pool),
            ));
        }
        Ok(())
    }

    /// The first fire time of `trigger` at or after `now`.
    fn first_fire(&self, trigger: &Trigger, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        trigger.next_after(now - Duration::milliseconds(1))
    }

    /// Adds a built job and returns it with its next fire time; a job given its function as a
    /// closure registers it first. With [`JobBuilder::replace_existing`], a job with the same id
    /// is replaced instead of refused.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kairos_core::Error> {
    /// use std::time::Duration;
    /// use kairos_core::prelude::*;
    ///
    /// let scheduler = Scheduler::builder().build()?;
    /// let job = scheduler.add(Job::every(Duration::from_secs(60)).id("beat").run(|_| async {}))?;
    /// assert_eq!(job.name, "beat");
    /// let refused = scheduler.add(Job::every(Duration::from_secs(5)).id("beat").shell("true"));
    /// assert!(refused.unwrap_err().to_string().contains(".replace_existing()"));
    /// # Ok(()) }
    /// ```
    pub fn add(&self, job: JobBuilder) -> Result<Job, SchedulerError> {
        let built = job.build()?;
        let mut job = built.job;
        if let Trigger::Date(date) = &job.trigger {
            if date.at < self.inner.clock.now() - Duration::seconds(1) {
                return Err(invalid(
                    "trigger.at",
                    format!("{} is in the past, so the job would never fire", date.at),
                ));
            }
        }
        let existing = if job.id.is_empty() {
            None
        } else {
            self.inner.store.get_job(&job.id)?
        };
        if existing.is_some() && !built.replace_existing {
            return Err(invalid(
                "id",
                format!(
                    "a job with id '{}' already exists: add it with .replace_existing() to \
                     replace it, or give another id",
                    job.id
                ),
            ));
        }
        let functions = &self.inner.context.functions;
        // The closure is in place before the job is stored, so its first fire finds it.
        let previous = match (built.function, &job.action) {
            (Some(f), _) => Some(functions.swap(&job.id, Some(f))),
            (None, Action::Function(call)) if !functions.contains(&call.name) => {
                return Err(invalid(
                    "action.name",
                    crate::action::unregistered(&call.name),
                ));
            }
            (None, _) => None,
        };
        let id = job.id.clone();
        let added = match existing {
            Some(old) => {
                if !built.paused_given {
                    job.paused = old.paused;
                }
                self.replace_job(&old, job)
            }
            None => self.add_job(job),
        };
        match previous {
            Some(_) if added.is_ok() => self.inner.function_added(&id),
            // Nothing half done: the name calls what it called before.
            Some(previous) => {
                functions.swap(&id, previous);
            }
            None => {}
        }
        added
    }

    /// Adds a job (an empty id gets a generated one) and returns it with its next fire time.
    pub fn add_job(&self, job: Job) -> Result<Job, SchedulerError> {
        Ok(self.add_jobs(vec![job])?.remove(0))
    }

    /// Adds many jobs at once, all or none.
    pub fn add_jobs(&self, mut jobs: Vec<Job>) -> Result<Vec<Job>, SchedulerError> {
        let now = self.inner.clock.now();
        let settings = self.settings();
        self.check_all(&mut jobs, &settings, now)?;
        for job in &jobs {
            self.check_chain(job, &jobs)?;
            self.check_steps(job, &jobs)?;
            let rules = job.options.alerts.as_deref().unwrap_or_default();
            self.check_alert_channels(rules, &[], "options")?;
        }
        let before = self.inner.store.change_counter()?;
        let admitted = self.store_and_admit(&jobs, &settings)?;
        self.inner.note_own_change(before);
        lock(&self.inner.state).admit(admitted);
        self.inner.wake.notify_one();
        for job in &jobs {
            self.inner.bus.emit(
                now,
                Event::JobAdded {
                    job_id: job.id.clone(),
                },
            );
        }
        Ok(jobs)
    }

    /// One job, with its current next fire time.
    pub fn get_job(&self, id: &str) -> Result<Job, SchedulerError> {
        self.inner
            .store
            .get_job(id)?
            .ok_or_else(|| SchedulerError::NotFound(id.to_string()))
    }

    /// Every job.
    pub fn list_jobs(&self) -> Result<Vec<Job>, SchedulerError> {
        Ok(self.inner.store.list_jobs()?)
    }

    /// Replaces a job's definition (matched by `job.id`). A changed trigger reschedules it
    /// from now; otherwise it keeps its next fire time.
    pub fn update_job(&self, job: Job) -> Result<Job, SchedulerError> {
        let old = self.get_job(&job.id)?;
        self.replace_job(&old, job)
    }

    /// [`Scheduler::update_job`] with the stored definition `old` already read.
    fn replace_job(&self, old: &Job, mut job: Job) -> Result<Job, SchedulerError> {
        Self::check(&job, &self.settings())?;
        self.check_chain(&job, &[])?;
        self.check_steps(&job, &[])?;
        let rules = job.options.alerts.as_deref().unwrap_or_default();
        self.check_alert_channels(
            rules,
            old.options.alerts.as_deref().unwrap_or_default(),
            "options",
        )?;
        let now = self.inner.clock.now();
        job.next_run = if job.trigger != old.trigger {
            self.first_fire(&job.trigger, now)
        } else {
            old.next_run
        };
        if old.paused && !job.paused && job.trigger == old.trigger {
            job.next_run = self.first_fire(&job.trigger, now);
        }
        self.save_and_requeue(job, now)
    }

    /// Gives a job a new trigger, scheduled from now.
    pub fn reschedule_job(&self, id: &str, trigger: Trigger) -> Result<Job, SchedulerError> {
        let job = Job {
            trigger,
            ..self.get_job(id)?
        };
        self.update_job(job)
    }

    /// Pauses one job: it keeps its schedule but does not fire.
    pub fn pause_job(&self, id: &str) -> Result<Job, SchedulerError> {
        let job = Job {
            paused: true,
            ..self.get_job(id)?
        };
        self.save_and_requeue(job, self.inner.clock.now())
    }

    /// Resumes one job: from now, or (`catch_up`) from its old next fire time, so fire times
    /// missed while paused go through the misfire policy.
    pub fn resume_job(&self, id: &str, catch_up: bool) -> Result<Job, SchedulerError> {
        let now = self.inner.clock.now();
        let mut job = Job {
            paused: false,
            ..self.get_job(id)?
        };
        if !catch_up {
            job.next_run = self.first_fire(&job.trigger, now);
        }
        self.save_and_requeue(job, now)
    }

    /// Pauses every unpaused job tagged `tag` (case-insensitively); returns how many.
    pub fn pause_tag(&self, tag: &str) -> Result<usize, SchedulerError> {
        let ids = self.tagged(tag, false)?;
        for id in &ids {
            self.pause_job(id)?;
        }
        Ok(ids.len())
    }

    /// Resumes every paused job tagged `tag` (see [`Scheduler::resume_job`]); returns how
    /// many.
    pub fn resume_tag(&self, tag: &str, catch_up: bool) -> Result<usize, SchedulerError> {
        let ids = self.tagged(tag, true)?;
        for id in &ids {
            self.resume_job(id, catch_up)?;
        }
        Ok(ids.len())
    }

    /// The ids of the jobs tagged `tag` that are `paused` (or not), page by page.
    fn tagged(&self, tag: &str, paused: bool) -> Result<Vec<String>, SchedulerError> {
        let mut query = crate::query::JobQuery {
            tag: Some(tag.to_string()),
            paused: Some(paused),
            limit: Some(crate::query::MAX_PAGE),
            ..Default::default()
        };
        let mut ids = Vec::new();
        loop {
            let page = self.inner.store.query_jobs(&query)?;
            ids.extend(page.items.into_iter().map(|e| e.job.id));
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(ids),
            }
        }
    }

    fn save_and_requeue(&self, job: Job, now: DateTime<Utc>) -> Result<Job, SchedulerError> {
        let before = self.inner.store.change_counter()?;
        self.inner.store.update_job(&job)?;
        self.inner.note_own_change(before);
        {
            let mut state = lock(&self.inner.state);
            let id: Arc<str> = job.id.as_str().into();
            let slot = state.slots.entry(id.clone()).or_default();
            slot.paused = job.paused;
            slot.job = Some(Arc::new(job.clone()));
            let jitter = job.options.resolve(&self.inner.defaults()).jitter;
            let due = job.next_run.map(|t| self.inner.due(&job, jitter, t));
            state.enqueue(&id, due);
        }
        self.inner.wake.notify_one();
        self.inner.bus.emit(
            now,
            Event::JobModified {
                job_id: job.id.clone(),
            },
        );
        Ok(job)
    }

    /// Removes a job; its running runs finish, its history stays until retention drops it.
    pub fn remove_job(&self, id: &str) -> Result<(), SchedulerError> {
        let before = self.inner.store.change_counter()?;
        if !self.inner.store.remove_job(id)? {
            return Err(SchedulerError::NotFound(id.to_string()));
        }
        self.inner.note_own_change(before);
        {
            let mut state = lock(&self.inner.state);
            let key: Arc<str> = id.into();
            state.unqueue(&key);
            state.slots.remove(&key);
        }
        self.inner.bus.emit(
            self.inner.clock.now(),
            Event::JobRemoved {
                job_id: id.to_string(),
            },
        );
        Ok(())
    }

    /// Runs a job now, outside its schedule (still bound by max instances); returns the run id.
    pub fn run_now(&self, id: &str) -> Result<i64, SchedulerError> {
        self.run_now_with(id, RunParams::default())
    }

    /// [`run_now`](Self::run_now) with `params`: variables and arguments for a shell command,
    /// a body for an HTTP request. They are recorded on the run and kept by its retries.
    pub fn run_now_with(&self, id: &str, params: RunParams) -> Result<i64, SchedulerError> {
        let job = Arc::new(self.get_job(id)?);
        job.action
            .check_params(&params)
            .map_err(|e| invalid(&e.field, e.message))?;
        let params = (!params.is_empty()).then(|| Box::new(params));
        let now = self.inner.clock.now();
        self.inner.keep_alive()?;
        dispatch::submit_now(&self.inner, job, now, None, params)?.ok_or_else(|| busy(id))
    }
}

impl SchedulerInner {
    /// When fire time `fire` of `job` is due (jitter applied, before the following fire),
    /// paired with the fire time itself.
    fn due(&self, job: &Job, max: Duration, fire: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        if max <= Duration::zero() {
            return (fire, fire);
        }
        let following = job.trigger.next_following(fire, fire);
        (jittered(fire, following, max, &mut *lock(&self.rng)), fire)
    }

    /// Whether this node claims fires now (its clock agrees with the database's).
    fn may_claim(&self) -> bool {
        !self.skewed.load(Ordering::Relaxed)
    }

    /// Whether this node has every label `job` is pinned to, and the function it calls. A job
    /// set aside for lack of its function is remembered (and said once) until it is registered.
    fn may_run(&self, job: &Job) -> bool {
        let functions = job.action.functions();
        let missing = functions
            .iter()
            .find(|f| !self.context.functions.contains(f));
        if let Some(f) = missing {
            let mut waiting = lock(&self.waiting);
            if waiting.insert(job.id.clone(), f.to_string()).is_none() {
                tracing::warn!(
                    "job '{}' is left to other processes: {}",
                    job.id,
                    crate::action::unregistered(f)
                );
            }
            return false;
        }
        job.node_labels.is_empty()
            || self
                .node
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .has_labels(&job.node_labels)
    }

    /// Registers `f` under `name` and puts the jobs that were waiting for it back in play.
    fn install_function(&self, name: &str, f: crate::action::JobFn) {
        self.context.functions.swap(name, Some(f));
        self.function_added(name);
    }

    /// After function `name` is registered: this node announces it (a label other nodes see
    /// at its next heartbeat, so function jobs are owned only by nodes that can run them),
    /// and the jobs set aside for lack of it fire from their stored next fire time.
    fn function_added(&self, name: &str) {
        {
            let label = cluster::function_label(name);
            let mut node = self.node.write().unwrap_or_else(|e| e.into_inner());
            if !node.labels.contains(&label) {
                node.labels.push(label);
            }
        }
        // Taken under the state lock, as `may_run` sets jobs aside under it: none is missed.
        let ready: Vec<String> = {
            let _state = lock(&self.state);
            let mut waiting = lock(&self.waiting);
            let ready = waiting
                .iter()
                .filter(|(_, function)| *function == name)
                .map(|(id, _)| id.clone())
                .collect();
            waiting.retain(|_, function| function != name);
            ready
        };
        for id in ready {
            let next = match self.store.get_job(&id) {
                Ok(job) => job.and_then(|j| j.next_run),
                Err(e) => {
                    tracing::warn!("cannot reload job '{id}' after its function came: {e}");
                    continue;
                }
            };
            let mut state = lock(&self.state);
            let state = &mut *state;
            let key: Arc<str> = id.into();
            if let (Some(next), Some(slot)) = (next, state.slots.get_mut(&key)) {
                if slot.due.is_none() && !slot.paused && !slot.claiming {
                    slot.job = None;
                    place(&mut state.queue, slot, &key, Some((next, next)));
                }
            }
        }
        self.wake.notify_one();
    }

    pub(crate) fn defaults(&self) -> crate::job::JobDefaults {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .defaults
            .clone()
    }
}

impl RunRef {
    /// The reference to `run` that events carry.
    pub fn of(run: &crate::history::RunRecord) -> Self {
        RunRef {
            run_id: run.id,
            job_id: run.job_id.clone(),
            scheduled: run.scheduled,
            attempt: run.attempt,
            duration_ms: run.duration_ms(),
            error: run.error.as_deref().map(str::to_string),
            step: run.step.as_deref().map(str::to_string),
        }
    }
}

// The multi-process tests share a SQLite file.
#[cfg(all(test, feature = "sqlite"))]
mod tests;
