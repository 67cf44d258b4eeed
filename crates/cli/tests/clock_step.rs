//! The real `kairos serve` under libfaketime (Debian's `faketime`: the wall clock faked and
//! moved while it runs, the monotonic clock real): after the wall clock is set an hour back,
//! an interval job goes on every period instead of waiting an hour for its old next fire
//! time, and each fire runs once, counted in a file the job's command writes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kairos_core::job::Job;
use kairos_core::scheduler::Scheduler;
use kairos_core::store::SqliteStore;

/// Debian's multi-threaded libfaketime, in this machine's multiarch folder.
fn libfaketime() -> PathBuf {
    let found = std::fs::read_dir("/usr/lib").ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| d.path().join("faketime/libfaketimeMT.so.1"))
            .find(|p| p.exists())
    });
    found.expect("libfaketime is missing: apt-get install faketime (scripts/setup.sh does)")
}

/// Sets the offset file at once (a new file renamed over it: never seen half written).
fn set_offset(offset_file: &Path, offset: &str) {
    let new = offset_file.with_extension("new");
    std::fs::write(&new, format!("{offset}\n")).unwrap();
    std::fs::rename(&new, offset_file).unwrap();
}

/// `kairos serve` on `db` with its wall clock offset by what `offset_file` says, re-read at
/// every reading; its log goes to `log`.
fn serve_faked(db: &Path, offset_file: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["serve", "--bind", "127.0.0.1:0", "--db"])
        .arg(db)
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME_TIMESTAMP_FILE", offset_file)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("kairos serve starts")
}

/// The lines of `path` (the fire times the job wrote), none while it does not exist.
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `path` holds at least `n` lines, for at most `limit`.
fn wait_for_lines(path: &Path, n: usize, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let seen = lines(path);
        if seen.len() >= n || Instant::now() >= deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn after_the_wall_clock_is_set_an_hour_back_an_interval_job_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (db, offset, log) = (
        dir.path().join("kairos.db"),
        dir.path().join("faketime"),
        dir.path().join("serve.log"),
    );
    let fired = dir.path().join("fired");
    set_offset(&offset, "+0");
    {
        let command = format!("echo \"$KAIROS_SCHEDULED_AT\" >> '{}'", fired.display());
        let tick = Job::every(Duration::from_secs(2))
            .id("tick")
            .shell(&command);
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        Scheduler::new(store).add(tick).unwrap();
    }
    let mut server = serve_faked(&db, &offset, &log);
    let before = wait_for_lines(&fired, 2, Duration::from_secs(20));
    assert!(before.len() >= 2, "the job ran before the step: {before:?}");

    // An hour back, as a person or NTP setting the clock does.
    set_offset(&offset, "-3600");
    let n = lines(&fired).len();
    let after = wait_for_lines(&fired, n + 3, Duration::from_secs(12));
    server.kill().unwrap();
    server.wait().unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        after.len() >= n + 3,
        "silent after the step: {after:?}\nserver log:\n{said}"
    );
    // Seen as a step of an hour back (to the millisecond the two readings allow).
    let step = said
        .split("the wall clock was set ")
        .nth(1)
        .and_then(|rest| rest.split(" ms").next())
        .and_then(|ms| ms.parse::<i64>().ok());
    assert!(
        step.is_some_and(|ms| (ms + 3_600_000).abs() <= 50),
        "{said}"
    );
    // Each fire ran once: no fire time written twice.
    let mut unique = after.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), after.len(), "{after:?}");
}
