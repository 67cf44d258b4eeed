//! Clocks: where the scheduler reads wall-clock time, so tests can control it.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock for tests: starts at a chosen instant, advances with tokio's (pausable) time, and
/// can be jumped to mimic a wall-clock change or a suspend.
#[derive(Debug)]
pub struct TestClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
    jump: Mutex<Duration>,
}

impl TestClock {
    /// A clock reading `base` now.
    pub fn new(base: DateTime<Utc>) -> Self {
        TestClock {
            base,
            start: tokio::time::Instant::now(),
            jump: Mutex::new(Duration::zero()),
        }
    }

    /// Moves the wall clock by `by` without any elapsed time.
    pub fn jump(&self, by: Duration) {
        *self.jump.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = Duration::from_std(self.start.elapsed()).unwrap_or(Duration::zero());
        self.base + elapsed + *self.jump.lock().unwrap_or_else(|e| e.into_inner())
    }
}
