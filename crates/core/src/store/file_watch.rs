//! Noticing writes to a SQLite file as they happen (inotify on Linux), so a scheduler reads
//! the store's change counter when the file changes rather than every second.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::Notify;

/// How long a noticed write disarms the watch: writes within it are announced together.
#[cfg(target_os = "linux")]
const REARM_AFTER: std::time::Duration = std::time::Duration::from_millis(10);

/// Raised (coalesced) whenever the database file or its write-ahead log is written, by any
/// process; `None` where that cannot be watched (then the caller polls). Needs a tokio
/// runtime; the watch ends with the runtime or once the returned `Notify` is dropped and the
/// file changes again.
#[cfg(target_os = "linux")]
pub(crate) fn watch(db: &Path) -> Option<Arc<Notify>> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let name = db.file_name()?.as_bytes().to_vec();
    let dir = match db.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: plain system calls on a descriptor this function owns from here on.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // One event per arming: a watch that stayed armed would cost the writer a kernel event
    // on every write (6 % of its time in the SQLite storm).
    let mask = libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_ONESHOT;
    let arm = move |fd: &OwnedFd| {
        // SAFETY: `dir` is a NUL-terminated path; `fd` is open.
        unsafe { libc::inotify_add_watch(fd.as_raw_fd(), dir.as_ptr(), mask) >= 0 }
    };
    if !arm(&fd) {
        return None;
    }
    let db = db.to_path_buf();
    let mut armed = stamps(&db);
    let _entered = runtime.enter();
    let readable = tokio::io::Interest::READABLE;
    // SAFETY: the `OwnedFd` stays open, and the same descriptor, as long as the `AsyncFd`.
    let fd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, readable) }.ok()?;
    let notify = Arc::new(Notify::new());
    let weak = Arc::downgrade(&notify);
    runtime.spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            let Ok(mut ready) = fd.readable().await else {
                return;
            };
            let read = ready.try_io(|fd| {
                // SAFETY: reads into `buf`, within its length.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            let n = match read {
                Ok(Ok(n)) => n,
                Ok(Err(_)) => return,
                Err(_would_block) => continue,
            };
            let Some(notify) = weak.upgrade() else {
                return;
            };
            let ours = touches(&buf[..n], &name);
            if ours {
                notify.notify_one();
            }
            drop(notify);
            // The event disarmed the watch; it is armed again a little later. A write to the
            // database meanwhile is announced then: after one to the database, always; after
            // one to another file, if the database's size or time changed since the arming.
            tokio::time::sleep(REARM_AFTER).await;
            let Some(notify) = weak.upgrade() else {
                return;
            };
            // Until it can be armed again (its directory gone, or no watches left), the
            // caller hears from it every second, as if it polled.
            while !arm(fd.get_ref()) {
                notify.notify_one();
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            let now = stamps(&db);
            if ours || now != armed {
                notify.notify_one();
            }
            armed = now;
        }
    });
    Some(notify)
}

/// The size and time of the database file and of its write-ahead log.
#[cfg(target_os = "linux")]
fn stamps(db: &Path) -> [Option<(u64, std::time::SystemTime)>; 2] {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db, Path::new(&wal)].map(|file| {
        let meta = std::fs::metadata(file).ok()?;
        Some((meta.len(), meta.modified().ok()?))
    })
}

/// Not watched here: the caller polls.
#[cfg(not(target_os = "linux"))]
pub(crate) fn watch(_db: &Path) -> Option<Arc<Notify>> {
    None
}

/// Whether the inotify events in `events` name the file `name` or its `-wal` log.
#[cfg(target_os = "linux")]
fn touches(mut events: &[u8], name: &[u8]) -> bool {
    // Each event: wd (4), mask (4), cookie (4), len (4), then `len` bytes of NUL-padded name.
    const HEADER: usize = 16;
    while events.len() >= HEADER {
        let len = u32::from_ne_bytes([events[12], events[13], events[14], events[15]]) as usize;
        let Some(raw) = events.get(HEADER..HEADER + len) else {
            return false;
        };
        let file = raw.split(|b| *b == 0).next().unwrap_or_default();
        if file == name || file.strip_prefix(name) == Some(b"-wal") {
            return true;
        }
        events = &events[HEADER + len..];
    }
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_to_the_file_or_its_log_is_noticed_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kairos.db");
        let notify = watch(&db).expect("inotify works here");
        let within =
            |ms| tokio::time::timeout(std::time::Duration::from_millis(ms), notify.notified());
        std::fs::write(dir.path().join("kairos.db-wal"), "x").unwrap();
        within(5000).await.expect("the log's write is noticed");
        std::fs::write(&db, "x").unwrap();
        within(5000).await.expect("the file's write is noticed");
        // Let the rest of those writes' events go by, then write elsewhere.
        while within(200).await.is_ok() {}
        std::fs::write(dir.path().join("kairos.db-journal-not"), "x").unwrap();
        std::fs::write(dir.path().join("unrelated.txt"), "x").unwrap();
        assert!(
            within(200).await.is_err(),
            "other files are not the database"
        );
        // Another file's write disarms the watch for a while; the database's write in that
        // while is announced once it is armed again.
        std::fs::write(dir.path().join("unrelated.txt"), "xy").unwrap();
        std::fs::write(&db, "xyz").unwrap();
        within(5000)
            .await
            .expect("the write while disarmed is noticed");
    }

    #[tokio::test]
    async fn a_watch_that_cannot_be_armed_again_polls_every_second() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kairos.db");
        let notify = watch(&db).expect("inotify works here");
        let within =
            |ms| tokio::time::timeout(std::time::Duration::from_millis(ms), notify.notified());
        std::fs::remove_dir(dir.path()).unwrap();
        for _ in 0..3 {
            within(3000)
                .await
                .expect("heard from while it cannot watch");
        }
    }
}
