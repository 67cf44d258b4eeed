//! Clocks: where the scheduler reads wall-clock time, so tests can control it, and how it
//! learns that the wall clock was stepped or the machine slept.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// How long the machine has been suspended, counted from a fixed origin: a move of the
    /// wall clock that this matches was a suspend, not a step. `None` where it cannot tell.
    fn suspended(&self) -> Option<Duration> {
        None
    }

    /// A watch that wakes when the wall clock is set or the machine resumes, or `None` where
    /// the clock cannot tell (the run loop then looks every 30 s).
    fn steps(&self) -> Option<ClockSteps> {
        None
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    #[cfg(target_os = "linux")]
    fn suspended(&self) -> Option<Duration> {
        // CLOCK_BOOTTIME counts suspended time, CLOCK_MONOTONIC does not.
        let read = |clock| {
            // SAFETY: timespec is plain data, and clock_gettime only writes into it.
            let mut t: libc::timespec = unsafe { std::mem::zeroed() };
            // SAFETY: both clocks exist on every Linux this builds for.
            unsafe { libc::clock_gettime(clock, &mut t) };
            Duration::seconds(t.tv_sec) + Duration::nanoseconds(t.tv_nsec)
        };
        Some(read(libc::CLOCK_BOOTTIME) - read(libc::CLOCK_MONOTONIC))
    }

    fn steps(&self) -> Option<ClockSteps> {
        ClockSteps::open()
            .inspect_err(|e| tracing::debug!("clock steps not watched: {e}"))
            .ok()
    }
}

/// Wakes when the wall clock is set or the machine resumes: a `timerfd` on
/// `CLOCK_REALTIME` armed with `TFD_TIMER_CANCEL_ON_SET` (Linux).
pub struct ClockSteps {
    #[cfg(target_os = "linux")]
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

#[cfg(target_os = "linux")]
impl ClockSteps {
    fn open() -> std::io::Result<Self> {
        use std::os::fd::FromRawFd;
        use tokio::io::{unix::AsyncFd, Interest};
        // SAFETY: timerfd_create takes a clock and flags and returns a new descriptor or -1.
        let fd = unsafe {
            libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the descriptor was just opened and nothing else owns it.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        arm(&fd)?;
        // SAFETY: the descriptor is owned here and neither replaced nor closed while registered.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        Ok(ClockSteps { fd })
    }

    /// Returns true at the next step of the wall clock (or resume), false if the watch fails.
    pub async fn next(&mut self) -> bool {
        use std::os::fd::AsRawFd;
        loop {
            let Ok(mut ready) = self.fd.readable().await else {
                return false;
            };
            let mut expirations = [0u8; 8];
            // SAFETY: read writes at most 8 bytes into the buffer given.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
            let error = (n < 0).then(std::io::Error::last_os_error);
            ready.clear_ready();
            match error {
                // Set: the timer is cancelled and must be armed again.
                Some(e) if e.raw_os_error() == Some(libc::ECANCELED) => {
                    return arm(self.fd.get_ref())
                        .inspect_err(|e| tracing::warn!("clock steps no longer watched: {e}"))
                        .is_ok();
                }
                Some(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Some(e) => {
                    tracing::warn!("clock steps no longer watched: {e}");
                    return false;
                }
                // Expired: the timer is set as far ahead as the clock goes, so the clock
                // has run out; steps are no longer watched.
                None => return false,
            }
        }
    }
}

/// Sets the timer as far ahead as the clock goes, to be cancelled when the clock is set.
#[cfg(target_os = "linux")]
fn arm(fd: &std::os::fd::OwnedFd) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: itimerspec is plain data; all zeroes is a valid value.
    let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
    spec.it_value.tv_sec = libc::time_t::MAX; // the kernel takes it as its latest time
    let flags = libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET;
    // SAFETY: the descriptor is a timerfd and the spec outlives the call.
    let done = unsafe { libc::timerfd_settime(fd.as_raw_fd(), flags, &spec, std::ptr::null_mut()) };
    if done < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
impl ClockSteps {
    fn open() -> std::io::Result<Self> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    /// Never returns: steps are not watched here.
    pub async fn next(&mut self) -> bool {
        std::future::pending().await
    }
}

/// A clock for tests: starts at a chosen instant, advances with tokio's (pausable) time, and
/// can be stepped or suspended.
#[derive(Debug)]
pub struct TestClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
    jump: Mutex<Duration>,
    slept: Mutex<Duration>,
}

impl TestClock {
    /// A clock reading `base` now.
    pub fn new(base: DateTime<Utc>) -> Self {
        TestClock {
            base,
            start: tokio::time::Instant::now(),
            jump: Mutex::new(Duration::zero()),
            slept: Mutex::new(Duration::zero()),
        }
    }

    /// Steps the wall clock by `by` (forward or back) without any elapsed time, as a person
    /// setting the clock or NTP correcting it does.
    pub fn jump(&self, by: Duration) {
        *self.jump.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }

    /// Moves the wall clock forward by `by` as a suspend of that long does.
    pub fn suspend(&self, by: Duration) {
        self.jump(by);
        *self.slept.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = Duration::from_std(self.start.elapsed()).unwrap_or(Duration::zero());
        self.base + elapsed + *self.jump.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn suspended(&self) -> Option<Duration> {
        Some(*self.slept.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
