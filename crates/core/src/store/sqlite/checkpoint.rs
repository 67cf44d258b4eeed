//! Copies the write-ahead log back into the database file on a thread of its own, so that
//! the writer does not wait for it.
//!
//! SQLite has the committing connection copy the log once it holds 1,000 pages, and sync
//! the file. After a commit of a million jobs, the writer spent 5.5 of the 27 s of the add
//! copying 600 MB, and everything queued behind it waited; at 50,000 fires a second it
//! copied and synced after nearly every commit, 11 times a second at 6 ms a sync. Here,
//! when a commit leaves [`ASK`] pages or more not yet copied, the checkpoint thread copies
//! them with its own connection. The log starts over at a write that finds it all copied;
//! a thread a step behind a busy writer may never let that happen, so once the log holds
//! [`LONG`] pages the writer copies what is left itself (little, as the thread keeps up).
//! A commit is safe once in the log (`synchronous=NORMAL`); the copy is what makes it safe
//! from a power loss too, and that now follows the commit (or a later one, after a small
//! commit) rather than preceding the next.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, ErrorCode};

use super::{configure, lock};
use crate::store::StoreError;

/// Pages not yet copied after a commit that make the copy the thread's work (1 MiB of
/// 4 KiB pages): fewer wait for more, so a quiet store syncs its file now and then.
const ASK: i32 = 256;
/// Pages not yet copied after a commit that make the copy the thread's work even while it
/// is copying (32 MiB), and that the writer never copies itself.
const BIG: i32 = 8192;
/// Log pages past which the writer copies what is left (64 MiB, the size
/// `journal_size_limit` cuts the log file back to when it starts over).
const LONG: i32 = 16384;
/// How long the thread waits before trying again when a reader (or another process's
/// checkpoint) holds back part of the copy, and how many times it tries.
const RETRY: Duration = Duration::from_millis(10);
const TRIES: u32 = 500;

/// What the checkpoint thread is asked to do, and what it is doing.
#[derive(Default)]
struct Asked {
    copy: bool,
    copying: bool,
    stop: bool,
    /// Times the thread was asked, and pages it has copied (for tests).
    asks: u64,
    copied: u64,
}

impl Asked {
    /// Whether the thread has copying to do.
    fn busy(&self) -> bool {
        self.copy || self.copying
    }
}

type Signal = Arc<(Mutex<Asked>, Condvar)>;

/// The checkpoint thread; dropping it stops the thread.
pub(super) struct Checkpointer {
    signal: Signal,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`; [`Hook::install`] hands it the
    /// copies after a writer's commits.
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        configure(&conn)?;
        let signal = Signal::default();
        let thread = {
            let signal = signal.clone();
            std::thread::Builder::new()
                .name("kairos-store-checkpoint".into())
                .spawn(move || copy_loop(&conn, &signal))
                .map_err(|e| {
                    StoreError::Database(format!("cannot start the checkpoint thread: {e}"))
                })?
        };
        Ok(Checkpointer {
            signal,
            thread: Some(thread),
        })
    }

    /// What hooks a writer connection to this thread.
    pub(super) fn hook(&self) -> Hook {
        Hook(self.signal.clone())
    }

    /// Times the thread was asked to copy, and pages it has copied so far.
    #[cfg(test)]
    pub(super) fn work(&self) -> (u64, u64) {
        let asked = lock(&self.signal.0);
        (asked.asks, asked.copied)
    }
}

/// Hooks a writer connection's commits to the checkpoint thread.
pub(super) struct Hook(Signal);

impl Hook {
    /// Has `writer`'s commits copy the log as [`after_commit`] says, in place of SQLite's own
    /// checkpoints after a commit.
    pub(super) fn install(&self, writer: &mut Connection) -> Result<(), StoreError> {
        let hook = self.0.clone();
        writer.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
            // Reads the log's counts and copies nothing, without the checkpoint lock.
            let left = match wal.checkpoint_v2(CheckpointMode::NOOP) {
                Ok((log, copied)) if log >= 0 && copied >= 0 => log - copied,
                _ => 0,
            };
            let mut asked = lock(&hook.0);
            match after_commit(pages, left, asked.busy()) {
                Copy::Nothing => {}
                Copy::Thread => {
                    asked.copy = true;
                    asked.asks += 1;
                    hook.1.notify_one();
                }
                Copy::Here => {
                    drop(asked);
                    // The commit has happened whatever this returns: an error is logged.
                    if let Err(e) = wal.checkpoint() {
                        log_failure("after a commit", &e);
                    }
                }
            }
            Ok(())
        }))?;
        Ok(())
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        lock(&self.signal.0).stop = true;
        self.signal.1.notify_one();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("store: checkpoint thread panicked");
            }
        }
    }
}

/// Who copies the log after a commit.
#[derive(Debug, PartialEq)]
enum Copy {
    Nothing,
    /// The committing connection, before it takes its next write.
    Here,
    Thread,
}

/// Who copies the log after a commit that left `pages` in it, `left` of them not yet
/// copied, while the thread has copying to do (`busy`) or not.
fn after_commit(pages: i32, left: i32, busy: bool) -> Copy {
    if left >= BIG {
        Copy::Thread
    } else if busy {
        // Asking it again would keep it busy behind a busy writer, and the log from ever
        // starting over (the writer copies only while the thread does not); the first
        // commit after its copy asks again.
        Copy::Nothing
    } else if pages >= LONG && left > 0 {
        Copy::Here
    } else if left >= ASK {
        Copy::Thread
    } else {
        Copy::Nothing
    }
}

/// Logs a failed checkpoint: quietly when another connection holds the checkpoint.
fn log_failure(when: &str, e: &rusqlite::Error) {
    if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) {
        tracing::debug!("store: checkpoint {when}: {e}");
    } else {
        tracing::warn!("store: checkpoint {when} failed: {e}");
    }
}

/// Copies the log each time it is asked to, until it is told to stop.
fn copy_loop(conn: &Connection, signal: &Signal) {
    let (asked, wake) = &**signal;
    loop {
        {
            let mut asked = lock(asked);
            while !asked.copy && !asked.stop {
                asked = wake
                    .wait(asked)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if asked.stop {
                return;
            }
            asked.copy = false;
            asked.copying = true;
        }
        let copied = copy_all(conn, asked);
        let mut asked = lock(asked);
        asked.copying = false;
        asked.copied += copied;
    }
}

/// Copies the log as it stands when called (commits after it ask again), trying again
/// while a reader still needs part of it or another connection holds the checkpoint;
/// returns the pages this call copied.
fn copy_all(conn: &Connection, asked: &Mutex<Asked>) -> u64 {
    let counts = |mode| conn.wal_checkpoint_v2(Some("main"), mode);
    let (target, before) =
        counts(CheckpointMode::NOOP).map_or((0, 0), |(log, copied)| (log.max(0), copied.max(0)));
    let mut done = before;
    for _ in 0..TRIES {
        match counts(CheckpointMode::PASSIVE) {
            Ok((log, copied)) => {
                done = done.max(copied);
                // Copied that far, or the log started over since (all of it was copied).
                if copied >= target.min(log) {
                    return u64::try_from(done - before).unwrap_or(0);
                }
            }
            Err(e) => {
                log_failure("on its thread", &e);
                if e.sqlite_error_code() != Some(ErrorCode::DatabaseBusy) {
                    break;
                }
            }
        }
        if lock(asked).stop {
            break;
        }
        std::thread::sleep(RETRY);
    }
    tracing::debug!("store: part of the log is left for a later checkpoint");
    u64::try_from(done - before).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_copies_and_the_writer_only_lets_a_long_log_start_over() {
        assert_eq!(after_commit(100, 100, false), Copy::Nothing);
        assert_eq!(after_commit(ASK, ASK, false), Copy::Thread);
        assert_eq!(after_commit(BIG + 10, BIG, false), Copy::Thread);
        // While the thread has copying to do, only another big commit asks it again.
        assert_eq!(after_commit(BIG * 3, BIG, true), Copy::Thread);
        assert_eq!(after_commit(BIG * 3, ASK, true), Copy::Nothing);
        // A long log: the writer copies the little that is left so the log starts over,
        // unless there is nothing left or a lot (the thread's work).
        assert_eq!(after_commit(LONG, ASK, false), Copy::Here);
        assert_eq!(after_commit(LONG, 10, false), Copy::Here);
        assert_eq!(after_commit(LONG, 0, false), Copy::Nothing);
        assert_eq!(after_commit(LONG, BIG, false), Copy::Thread);
    }
}
