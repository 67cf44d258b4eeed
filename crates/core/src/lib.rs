//! Kairos' scheduling engine: triggers that compute fire times, jobs and their actions, the
//! run loop with its executor pools, the event bus, and the stores that persist it all.

pub mod action;
pub mod events;
mod executor;
pub mod history;
pub mod job;
pub mod metrics;
pub mod query;
pub mod scheduler;
pub mod store;
pub mod trigger;

pub use trigger::{Trigger, TriggerError};

/// A hash map keyed by job id or name, with a fast seeded hasher for the hot paths.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
