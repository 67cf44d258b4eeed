//! Counters the run loop keeps about itself: runs started and how late they started.

use std::sync::atomic::{AtomicU64, Ordering};

/// Histogram resolution, microseconds.
const STEP_US: u64 = 10;
/// Fine buckets cover 0-100 ms; later starts land in one overflow bucket.
const FINE_BUCKETS: usize = 10_000;
/// Bounds (ms) reported in the Prometheus-style histogram.
const REPORT_BOUNDS_MS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0];

/// Start and lateness counters, updated lock-free by runs.
#[derive(Debug)]
pub struct SchedulerStats {
    max_us: AtomicU64,
    sum_us: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Default for SchedulerStats {
    fn default() -> Self {
        SchedulerStats {
            max_us: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            buckets: (0..=FINE_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsSnapshot {
    /// Runs started.
    pub started: u64,
    /// Mean start lateness, milliseconds.
    pub lateness_mean_ms: f64,
    /// Median start lateness, milliseconds (10 µs resolution).
    pub lateness_p50_ms: f64,
    /// 99th percentile start lateness, milliseconds (10 µs resolution; 100+ when beyond).
    pub lateness_p99_ms: f64,
    /// Largest start lateness, milliseconds.
    pub lateness_max_ms: f64,
    /// Cumulative counts at bounds in milliseconds, the last bound infinite.
    pub lateness_buckets: Vec<(f64, u64)>,
}

impl SchedulerStats {
    /// Counts a run that started `lateness_us` microseconds after its fire time.
    pub(crate) fn record_start(&self, lateness_us: u64) {
        self.sum_us.fetch_add(lateness_us, Ordering::Relaxed);
        self.max_us.fetch_max(lateness_us, Ordering::Relaxed);
        let i = ((lateness_us / STEP_US) as usize).min(FINE_BUCKETS);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let started: u64 = counts.iter().sum();
        let max_ms = self.max_us.load(Ordering::Relaxed) as f64 / 1000.0;
        let percentile = |p: f64| {
            let rank = ((p * started as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return if i == FINE_BUCKETS {
                        max_ms
                    } else {
                        (i as u64 * STEP_US) as f64 / 1000.0
                    };
                }
            }
            0.0
        };
        let cumulative_below = |bound_ms: f64| {
            let end = ((bound_ms * 1000.0) as u64 / STEP_US) as usize;
            counts[..end.min(FINE_BUCKETS)].iter().sum()
        };
        let mut lateness_buckets: Vec<(f64, u64)> = REPORT_BOUNDS_MS
            .iter()
            .map(|b| (*b, cumulative_below(*b)))
            .collect();
        lateness_buckets.push((f64::INFINITY, started));
        StatsSnapshot {
            started,
            lateness_mean_ms: self.sum_us.load(Ordering::Relaxed) as f64
                / started.max(1) as f64
                / 1000.0,
            lateness_p50_ms: percentile(0.5),
            lateness_p99_ms: percentile(0.99),
            lateness_max_ms: max_ms,
            lateness_buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_cumulative_buckets() {
        let s = SchedulerStats::default();
        for ms in 1..=99u64 {
            s.record_start(ms * 1000);
        }
        s.record_start(5_000_000);
        let snap = s.snapshot();
        assert_eq!(snap.started, 100);
        assert_eq!(snap.lateness_p50_ms, 50.0);
        assert_eq!(snap.lateness_p99_ms, 99.0);
        assert_eq!(snap.lateness_max_ms, 5000.0);
        // Strictly below 5 ms: 1, 2, 3, 4 ms.
        assert_eq!(snap.lateness_buckets[5], (5.0, 4));
        assert_eq!(snap.lateness_buckets.last().unwrap().1, 100);
    }
}
