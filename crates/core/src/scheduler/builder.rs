//! A scheduler in one expression: its store, executor pools and job defaults.

use std::sync::Arc;

use super::{Clock, Scheduler, SchedulerError, SystemClock};
use crate::job::JobDefaults;
use crate::store::{JobStore, MemoryStore};

/// Where the builder gets its store.
enum StoreChoice {
    Memory,
    Given(Arc<dyn JobStore>),
    /// A SQLite file, opened (and its directory made) at build.
    #[cfg(feature = "sqlite")]
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL connection string, connected at build.
    #[cfg(feature = "postgres")]
    Postgres(String),
}

/// Builds a [`Scheduler`]; start from [`Scheduler::builder`]. Without a store it keeps jobs in
/// memory; pools and job defaults given here are saved to the store (replacing the ones it had).
///
/// ```
/// # fn main() -> Result<(), kairos_core::Error> {
/// use kairos_core::prelude::*;
///
/// let scheduler = Scheduler::builder()
///     .pool("default", 10)
///     .pool("reports", 2)
///     .job_defaults(JobDefaults { coalesce: Coalesce::Latest, max_instances: 3, ..JobDefaults::default() })
///     .build()?;
/// assert_eq!(scheduler.settings().pools["reports"], 2);
/// # Ok(()) }
/// ```
#[must_use = "call .build() to get the scheduler"]
pub struct SchedulerBuilder {
    store: StoreChoice,
    clock: Arc<dyn Clock>,
    pools: Vec<(String, usize)>,
    defaults: Option<JobDefaults>,
    labels: Vec<String>,
    claim_ahead: Option<std::time::Duration>,
}

impl Scheduler {
    /// A builder for a scheduler (memory store, system clock, the store's settings).
    pub fn builder() -> SchedulerBuilder {
        SchedulerBuilder {
            store: StoreChoice::Memory,
            clock: Arc::new(SystemClock),
            pools: Vec::new(),
            defaults: None,
            labels: Vec::new(),
            claim_ahead: None,
        }
    }
}

impl SchedulerBuilder {
    /// Keeps jobs and history in a SQLite file (created, with its directory, if missing); any
    /// number of processes may share it, and each fire still runs once.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.store = StoreChoice::Sqlite(path.into());
        self
    }

    /// Keeps jobs and history in PostgreSQL (`postgres://user:password@host/db`, or
    /// `host=… user=…`), shared by every node of a cluster.
    #[cfg(feature = "postgres")]
    pub fn postgres(mut self, url: &str) -> Self {
        self.store = StoreChoice::Postgres(url.into());
        self
    }

    /// Uses `store`, already opened.
    pub fn store(mut self, store: Arc<dyn JobStore>) -> Self {
        self.store = StoreChoice::Given(store);
        self
    }

    /// Reads time from `clock` (tests use a [`TestClock`](super::TestClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// An executor pool running at most `size` runs at once; jobs pick one with
    /// [`JobBuilder::pool`](crate::job::JobBuilder::pool) (the `default` pool otherwise).
    pub fn pool(mut self, name: &str, size: usize) -> Self {
        self.pools.push((name.to_string(), size));
        self
    }

    /// The options every job has unless it says otherwise.
    pub fn job_defaults(mut self, defaults: JobDefaults) -> Self {
        self.defaults = Some(defaults);
        self
    }

    /// Labels this process has, for jobs pinned with
    /// [`JobBuilder::node_labels`](crate::job::JobBuilder::node_labels).
    pub fn labels<I: IntoIterator<Item = S>, S: Into<String>>(mut self, labels: I) -> Self {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Claims each fire `ahead` of its time (see [`Scheduler::set_claim_ahead`]).
    pub fn claim_ahead(mut self, ahead: std::time::Duration) -> Self {
        self.claim_ahead = Some(ahead);
        self
    }

    /// Opens the store and makes the scheduler, stopped: add jobs, then start it (or run it in
    /// the foreground with [`Scheduler::run_until`]).
    pub fn build(self) -> Result<Scheduler, SchedulerError> {
        let store: Arc<dyn JobStore> = match self.store {
            StoreChoice::Memory => Arc::new(MemoryStore::new()),
            StoreChoice::Given(store) => store,
            #[cfg(feature = "sqlite")]
            StoreChoice::Sqlite(path) => crate::store::open_sqlite(&path)?,
            #[cfg(feature = "postgres")]
            StoreChoice::Postgres(url) => Arc::new(crate::store::PgStore::open(&url)?),
        };
        let scheduler = Scheduler::with_clock(store, self.clock);
        scheduler.set_node_labels(self.labels);
        if let Some(ahead) = self.claim_ahead {
            scheduler.set_claim_ahead(ahead);
        }
        if !self.pools.is_empty() || self.defaults.is_some() {
            let mut settings = scheduler.settings();
            settings.pools.extend(self.pools);
            if let Some(defaults) = self.defaults {
                settings.defaults = defaults;
            }
            scheduler.update_settings(settings)?;
        }
        Ok(scheduler)
    }
}
