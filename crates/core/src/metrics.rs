//! System-monitor samples, as the monitor action takes them and charts read them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One sample of the machine's state.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// CPU use over all cores, 0-100.
    pub cpu_percent: f64,
    /// Memory in use, bytes.
    pub memory_used: u64,
    /// Memory installed, bytes.
    pub memory_total: u64,
    /// Swap in use, bytes.
    pub swap_used: u64,
    /// Swap available, bytes.
    pub swap_total: u64,
    /// Disk space in use over all mounted disks, bytes.
    pub disk_used: u64,
    /// Disk space over all mounted disks, bytes.
    pub disk_total: u64,
    /// Bytes received over all interfaces since boot.
    pub net_rx_bytes: u64,
    /// Bytes sent over all interfaces since boot.
    pub net_tx_bytes: u64,
    /// Load average over 1 minute.
    pub load_1: f64,
    /// Load average over 5 minutes.
    pub load_5: f64,
    /// Load average over 15 minutes.
    pub load_15: f64,
}
