//! The route handlers, one module per area.

pub(crate) mod channels;
pub(crate) mod database;
pub(crate) mod events;
pub(crate) mod jobs;
pub(crate) mod nodes;
pub(crate) mod params;
pub(crate) mod prom;
pub(crate) mod runs;
pub(crate) mod system;
pub(crate) mod tags;
