#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod action;
pub mod alert;
pub mod events;
mod executor;
pub mod history;
pub mod job;
pub mod metrics;
pub mod problem;
pub mod query;
pub mod scheduler;
pub mod store;
pub mod trigger;

pub use trigger::{Trigger, TriggerError};

/// The error scheduler calls return: an invalid field (named, with the fix), a missing job,
/// or a store failure.
pub type Error = scheduler::SchedulerError;

/// What a program using Kairos usually needs: `use kairos_core::prelude::*;`.
pub mod prelude {
    pub use crate::action::{JobContext, JobError, JobResult};
    pub use crate::events::{Envelope, Event, EventMask};
    pub use crate::job::{Coalesce, Job, JobBuilder, JobDefaults};
    pub use crate::scheduler::Scheduler;
    pub use crate::trigger::Trigger;
}

/// A hash map keyed by job id or name, with a fast seeded hasher for the hot paths.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
