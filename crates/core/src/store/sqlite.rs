//! The SQLite job store. (Being written: see the store helper.)

/// Persists to one SQLite file (WAL) with versioned migrations.
pub struct SqliteStore;
