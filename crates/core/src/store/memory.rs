//! The in-memory job store. (Being written: see the store helper.)

/// Keeps everything in memory; nothing survives the process.
pub struct MemoryStore;
