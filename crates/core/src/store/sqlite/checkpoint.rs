//! Copies the write-ahead log back into the database file after a big commit on a thread
//! of its own, so that such a commit does not wait for it.
//!
//! SQLite has the committing connection copy the log once it holds 1,000 pages. After a
//! commit of a million jobs, the writer spent 5.5 of the 27 s of the add copying 600 MB,
//! and everything queued behind it waited. Here a commit that grew the log by [`BIG`] pages
//! or more wakes the checkpoint thread, which copies what no reader still needs with its
//! own connection. Other commits copy as SQLite would, unless the thread is still copying:
//! the writer's own copies after small commits are what let the log start over at its next
//! write, where a thread always a step behind a busy writer would let the log grow. Durability
//! is unchanged: a commit is safe once in the log.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::Connection;

use super::{configure, lock};
use crate::store::StoreError;

/// Log pages after a commit that call for a checkpoint (SQLite's own default).
const PAGES: i32 = 1000;
/// Log pages one commit adds that make it the checkpoint thread's work (32 MiB).
const BIG: i32 = 8192;

/// What the checkpoint thread is asked to do, and whether it is copying.
#[derive(Default)]
struct Asked {
    copy: bool,
    copying: bool,
    stop: bool,
}

type Signal = Arc<(Mutex<Asked>, Condvar)>;

/// The checkpoint thread; dropping it stops the thread.
pub(super) struct Checkpointer {
    signal: Signal,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path` and hooks `writer`'s commits to it
    /// (in place of SQLite's own checkpoints after a commit).
    pub(super) fn start(path: &Path, writer: &mut Connection) -> Result<Self, StoreError> {
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
        let hook = signal.clone();
        let mut before = 0;
        writer.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
            // Fewer pages than before: the log started over.
            let grown = if pages < before {
                pages
            } else {
                pages - before
            };
            before = pages;
            let mut asked = lock(&hook.0);
            match after_commit(pages, grown, asked.copying) {
                Copy::Nothing => {}
                Copy::Thread => {
                    asked.copy = true;
                    hook.1.notify_one();
                }
                Copy::Here => {
                    drop(asked);
                    // An error here would be the commit's, which has happened: the next copies.
                    if let Err(e) = wal.checkpoint() {
                        tracing::debug!("store: checkpoint after a commit: {e}");
                    }
                }
            }
            Ok(())
        }))?;
        Ok(Checkpointer {
            signal,
            thread: Some(thread),
        })
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

/// Who copies the log after a commit that left `pages` in it, `grown` of them its own,
/// while the thread is `copying` or not.
fn after_commit(pages: i32, grown: i32, copying: bool) -> Copy {
    if grown >= BIG {
        Copy::Thread
    } else if copying {
        // Asking it again would keep it a step behind a busy writer; the commit after it
        // is done copies the rest here.
        Copy::Nothing
    } else if pages >= PAGES {
        Copy::Here
    } else {
        Copy::Nothing
    }
}

/// Checkpoints each time it is asked to, until it is told to stop.
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
        // Busy means another connection (another process) is checkpointing: its copy serves.
        if let Err(e) = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            if e.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) {
                tracing::warn!("store: checkpoint failed: {e}");
            }
        }
        lock(asked).copying = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_commit_is_copied_by_the_thread_and_the_rest_here() {
        assert_eq!(after_commit(500, 500, false), Copy::Nothing);
        assert_eq!(after_commit(PAGES, 10, false), Copy::Here);
        assert_eq!(after_commit(BIG + 10, BIG, false), Copy::Thread);
        // While it copies, only another big commit asks it again; after, the rest of the
        // big log is copied here.
        assert_eq!(after_commit(BIG * 3, BIG, true), Copy::Thread);
        assert_eq!(after_commit(BIG * 3, 10, true), Copy::Nothing);
        assert_eq!(after_commit(BIG * 3, 10, false), Copy::Here);
    }
}
