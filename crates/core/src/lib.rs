//! Kairos' scheduling engine: triggers that compute fire times, and (in later modules) jobs,
//! the run loop, executors and stores.

pub mod trigger;

pub use trigger::{Trigger, TriggerError};
