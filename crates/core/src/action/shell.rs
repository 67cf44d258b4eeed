//! Shell command actions: one child process in its own process group, output tails captured.

use std::io;
use std::num::NonZeroU32;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, Interest};
use tokio::process::{ChildStderr, ChildStdout};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::tail::TailBuffer;
use super::{ActionContext, ActionOutput, RunInfo, ShellAction};
use crate::history::RunUsage;

/// How long a cancelled command's process group has between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How often the process group is checked while it has its grace.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// How long to keep reading output after the shell has ended; a background process that
/// inherited stdout may hold the pipe open forever.
const PIPE_DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Runs the command for `run` (described in its environment); on cancel the process group
/// gets SIGTERM, then SIGKILL.
pub(super) async fn run(
    action: &ShellAction,
    ctx: &ActionContext,
    run: &RunInfo<'_>,
) -> ActionOutput {
    run_with_grace(action, run, &ctx.cancel, KILL_GRACE).await
}

/// [`run`] with the SIGTERM-to-SIGKILL grace as a parameter.
async fn run_with_grace(
    action: &ShellAction,
    run: &RunInfo<'_>,
    cancel: &CancellationToken,
    grace: Duration,
) -> ActionOutput {
    if cancel.is_cancelled() {
        return ActionOutput::failed("cancelled");
    }
    if let Some(cwd) = &action.cwd {
        match std::fs::metadata(cwd) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return ActionOutput::failed(format!("cannot start in '{cwd}': not a directory"))
            }
            Err(e) => {
                return ActionOutput::failed(format!("cannot start in '{cwd}': {}", reason(&e)))
            }
        }
    }

    let mut command = Command::new(&action.shell);
    command.arg("-c").arg(&action.command);
    let params = run.params;
    if let Some(args) = params.map(|p| &p.args).filter(|a| !a.is_empty()) {
        // `sh -c COMMAND NAME ARGS…`: NAME is `$0`, the arguments `$1`, `$2`, …
        command.arg(&action.shell).args(args);
    }
    command
        .envs(&action.env)
        .envs(params.into_iter().flat_map(|p| &p.env))
        .envs(run.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(cwd) = &action.cwd {
        command.current_dir(cwd);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return ActionOutput::failed(format!("cannot start '{}': {}", action.shell, reason(&e)))
        }
    };
    // With `process_group(0)` the child leads a new group whose id is its pid. It is reaped
    // here (not by tokio) so that its resource use can be read with its status.
    let pid = child.id() as libc::pid_t;
    let mut guard = GroupGuard::new(pid);
    tracing::debug!(shell = %action.shell, pid, "started shell command");

    let stdout = TailBuffer::new(action.output_cap_bytes);
    let stderr = TailBuffer::new(action.output_cap_bytes);
    let out = child.stdout.take().map(ChildStdout::from_std);
    let err = child.stderr.take().map(ChildStderr::from_std);
    let (stdout, mut stdout_reader) = capture(out.and_then(logged), stdout);
    let (stderr, mut stderr_reader) = capture(err.and_then(logged), stderr);
    if let Some(live) = run.live {
        live.attach(stdout.clone(), stderr.clone());
    }

    let ended = reap(pid, guard.reaped.clone());
    tokio::pin!(ended);
    let (ended, cancelled) = tokio::select! {
        ended = &mut ended => (ended, false),
        _ = cancel.cancelled() => (tokio::join!(&mut ended, stop_group(pid, grace)).0, true),
    };
    guard.done();

    let drain = async {
        let _ = (&mut stdout_reader).await;
        let _ = (&mut stderr_reader).await;
    };
    let drained = tokio::select! {
        _ = drain => true,
        _ = tokio::time::sleep(PIPE_DRAIN_LIMIT) => false,
        _ = cancel.cancelled(), if !cancelled => false,
    };
    if !drained {
        // A background process still holds the pipes: stop reading them (and let go of them).
        stdout_reader.abort();
        stderr_reader.abort();
        tracing::debug!(
            pid,
            "output still open after the shell ended; capture stopped"
        );
    }

    let text =
        |buf: &Arc<Mutex<TailBuffer>>| buf.lock().unwrap_or_else(|e| e.into_inner()).to_text();
    let mut output = ActionOutput {
        stdout: text(&stdout),
        stderr: text(&stderr),
        ..Default::default()
    };
    match ended {
        Ok((status, usage)) => {
            output.usage = usage;
            output.exit_code = status.code();
            if cancelled {
                output.error = Some("cancelled".to_string());
            } else if status.success() {
                output.success = true;
            } else {
                output.error = Some(describe_failure(status));
            }
        }
        Err(e) => {
            output.error = Some(if cancelled {
                "cancelled".to_string()
            } else {
                format!("cannot wait for '{}': {}", action.shell, reason(&e))
            });
        }
    }
    output
}

/// A pipe registered for tokio to read, or `None` (logged) if it could not be.
fn logged<P>(pipe: io::Result<P>) -> Option<P> {
    pipe.inspect_err(|e| tracing::warn!("cannot read the shell's output: {e}"))
        .ok()
}

/// Reads `pipe` to its end into a shared tail buffer, in a task of its own.
fn capture(
    pipe: Option<impl AsyncRead + Unpin + Send + 'static>,
    buf: TailBuffer,
) -> (Arc<Mutex<TailBuffer>>, JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(buf));
    let shared = buf.clone();
    let reader = tokio::spawn(async move {
        let Some(mut pipe) = pipe else { return };
        let mut chunk = vec![0u8; 8 * 1024];
        loop {
            match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => shared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(&chunk[..n]),
            }
        }
    });
    (buf, reader)
}

/// SIGTERMs group `pgid`, gives it `grace` to end, and SIGKILLs what is left.
async fn stop_group(pgid: libc::pid_t, grace: Duration) {
    tracing::debug!(pgid, "cancelled: sending SIGTERM to the process group");
    signal_group(pgid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while group_has_live_members(pgid) {
        if Instant::now() >= deadline {
            tracing::debug!(pgid, "grace over: sending SIGKILL to the process group");
            signal_group(pgid, libc::SIGKILL);
            break;
        }
        tokio::time::sleep(GROUP_POLL).await;
    }
}

/// Waits for child `pid` to end and reaps it: its exit status and what it used. `reaped`
/// turns true once it is reaped (or cannot be), so the guard leaves its pid alone.
async fn reap(
    pid: libc::pid_t,
    reaped: Arc<AtomicBool>,
) -> io::Result<(ExitStatus, Option<RunUsage>)> {
    if let Err(e) = exited(pid).await {
        // No pidfd (before Linux 5.3, or elsewhere): a blocking wait on a thread of its own.
        tracing::debug!(pid, "waiting for the shell on a thread: {e}");
        return tokio::task::spawn_blocking(move || {
            let ended = wait4(pid, 0);
            reaped.store(true, Ordering::Release);
            ended?.ok_or_else(|| io::Error::other("the child did not end"))
        })
        .await
        .map_err(io::Error::other)?;
    }
    loop {
        let ended = wait4(pid, libc::WNOHANG);
        if !matches!(ended, Ok(None)) {
            reaped.store(true, Ordering::Release);
        }
        if let Some(ended) = ended? {
            return Ok(ended);
        }
        // Ended by its pidfd yet not waitable a moment: look again shortly.
        tokio::time::sleep(GROUP_POLL).await;
    }
}

/// Returns once process `pid` has ended, watching its pidfd.
async fn exited(pid: libc::pid_t) -> io::Result<()> {
    let fd = pidfd(pid)?;
    // SAFETY: the descriptor is owned here and neither replaced nor closed while registered.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
    fd.readable().await.map(drop)
}

/// A descriptor that becomes readable when process `pid` ends (Linux 5.3 and later).
#[cfg(target_os = "linux")]
fn pidfd(pid: libc::pid_t) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as std::os::fd::RawFd) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd(_pid: libc::pid_t) -> io::Result<OwnedFd> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Reaps child `pid` with `wait4` (`flags` 0 waits, `WNOHANG` does not): `None` while it runs.
fn wait4(
    pid: libc::pid_t,
    flags: libc::c_int,
) -> io::Result<Option<(ExitStatus, Option<RunUsage>)>> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    // SAFETY: rusage is plain data; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes only into the two out-parameters given.
        let reaped = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if reaped == pid {
            return Ok(Some((ExitStatus::from_raw(status), usage_of(&usage))));
        }
        if reaped == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// CPU time and peak memory from `rusage` (`ru_maxrss` is in KiB, on macOS in bytes).
fn usage_of(usage: &libc::rusage) -> Option<RunUsage> {
    let ms = |t: libc::timeval| t.tv_sec * 1000 + t.tv_usec / 1000;
    let cpu = ms(usage.ru_utime) + ms(usage.ru_stime);
    let rss_kib = if cfg!(target_os = "macos") {
        usage.ru_maxrss / 1024
    } else {
        usage.ru_maxrss
    };
    Some(RunUsage {
        cpu_ms: u32::try_from(cpu.max(0)).unwrap_or(u32::MAX),
        peak_rss_kib: NonZeroU32::new(u32::try_from(rss_kib).unwrap_or(u32::MAX))?,
    })
}

/// Sends `signal` to every process in group `pgid`.
fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: killpg only sends a signal; a group that no longer exists gives ESRCH.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

/// Whether any process of group `pgid` is still running (zombies do not count).
fn group_has_live_members(pgid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the group exists and may be signalled.
    if unsafe { libc::killpg(pgid, 0) } != 0 {
        return false;
    }
    live_members_per_proc(pgid).unwrap_or(true)
}

/// On Linux, looks through /proc for a non-zombie member of `pgid`; elsewhere `None` (unknown).
///
/// Needed because orphaned zombies linger where PID 1 does not reap them (some containers),
/// and `killpg(pgid, 0)` still succeeds for them.
fn live_members_per_proc(pgid: libc::pid_t) -> Option<bool> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Format: "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|f| f.parse::<libc::pid_t>().ok());
        if pgrp == Some(pgid) && !matches!(state, Some("Z") | Some("X")) {
            return Some(true);
        }
    }
    Some(false)
}

/// `exited with status N`, or `killed by signal N`.
fn describe_failure(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => format!("ended abnormally ({status})"),
    }
}

/// An I/O error's message without the trailing `(os error N)`.
fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// SIGKILLs the process group if the run is dropped before the shell ended (or while its
/// group was being stopped), and reaps the shell on a thread of its own if it was not.
struct GroupGuard {
    pid: libc::pid_t,
    reaped: Arc<AtomicBool>,
    done: bool,
}

impl GroupGuard {
    fn new(pid: libc::pid_t) -> Self {
        let reaped = Arc::new(AtomicBool::new(false));
        GroupGuard {
            pid,
            reaped,
            done: false,
        }
    }

    /// The shell ended and its group was stopped if that was asked: nothing left to do.
    fn done(&mut self) {
        self.done = true;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let pid = self.pid;
        if self.done {
            return;
        }
        if !self.reaped.load(Ordering::Acquire) {
            signal_group(pid, libc::SIGKILL);
            std::thread::spawn(move || wait4(pid, 0));
        } else if group_has_live_members(pid) {
            // Reaped while its group was being stopped: the group id stays taken while
            // members remain, so it is still theirs.
            signal_group(pid, libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn shell(command: &str) -> ShellAction {
        ShellAction {
            command: command.to_string(),
            shell: "sh".to_string(),
            cwd: None,
            env: BTreeMap::new(),
            output_cap_bytes: 64 * 1024,
        }
    }

    /// The run the tests' commands serve.
    const RUN: RunInfo<'static> = RunInfo {
        job_id: "nightly",
        job_name: "Nightly 'backup'",
        run_id: 42,
        scheduled: chrono::DateTime::UNIX_EPOCH,
        attempt: 2,
        upstream: None,
        step: None,
        live: None,
        params: None,
    };

    async fn run_plain(action: &ShellAction) -> ActionOutput {
        run(action, &ActionContext::default(), &RUN).await
    }

    #[tokio::test]
    async fn a_chained_command_knows_the_run_that_started_it() {
        let mut upstream = crate::history::RunRecord::new(
            7,
            "extract",
            chrono::DateTime::UNIX_EPOCH,
            crate::history::RunState::Failed,
        );
        upstream.exit_code = Some(3);
        let info = RunInfo {
            upstream: Some(&upstream),
            ..RUN
        };
        let action = shell(
            "echo \"$KAIROS_UPSTREAM_JOB_ID|$KAIROS_UPSTREAM_RUN_ID|$KAIROS_UPSTREAM_STATE|$KAIROS_UPSTREAM_EXIT_CODE\"",
        );
        let out = run(&action, &ActionContext::default(), &info).await;
        assert_eq!(out.stdout, "extract|7|failed|3\n");
        let plain = run_plain(&shell("echo \"[${KAIROS_UPSTREAM_RUN_ID-unset}]\"")).await;
        assert_eq!(plain.stdout, "[unset]\n");
        let step = RunInfo {
            step: Some((40, "load")),
            ..RUN
        };
        let action = shell("echo \"$KAIROS_WORKFLOW_RUN_ID|$KAIROS_STEP\"");
        let out = run(&action, &ActionContext::default(), &step).await;
        assert_eq!(out.stdout, "40|load\n");
    }

    #[tokio::test]
    async fn a_command_knows_which_run_it_is() {
        let mut action = shell(
            "echo \"$KAIROS_JOB_ID|$KAIROS_JOB_NAME|$KAIROS_RUN_ID|$KAIROS_SCHEDULED_AT|$KAIROS_ATTEMPT\"",
        );
        // The scheduler's variables win over a job's own of the same name.
        action.env.insert("KAIROS_RUN_ID".into(), "spoofed".into());
        let out = run_plain(&action).await;
        assert_eq!(
            out.stdout,
            "nightly|Nightly 'backup'|42|1970-01-01T00:00:00Z|2\n"
        );
    }

    #[tokio::test]
    async fn a_run_by_hand_adds_its_variables_and_arguments() {
        let mut action = shell("echo \"$0|$#|$1|$2|$MODE|$KEEP|$KAIROS_RUN_ID\"");
        action.env.insert("MODE".into(), "job's".into());
        action.env.insert("KEEP".into(), "kept".into());
        let params = crate::history::RunParams {
            env: [("MODE", "given"), ("KAIROS_RUN_ID", "spoofed")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            args: vec!["one two".into(), "--dry-run".into()],
            body: None,
        };
        let info = RunInfo {
            params: Some(&params),
            ..RUN
        };
        let out = run(&action, &ActionContext::default(), &info).await;
        assert_eq!(out.stdout, "sh|2|one two|--dry-run|given|kept|42\n");
    }

    #[tokio::test]
    async fn a_command_reports_its_cpu_time_and_peak_memory() {
        // dd touches its 64 MiB buffer; the loop spends CPU in the shell itself.
        let out = run_plain(&shell(
            "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; \
             i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done",
        ))
        .await;
        assert!(out.success, "{out:?}");
        let usage = out.usage.expect("a shell run reports its usage");
        assert!(usage.peak_rss_kib.get() >= 60 * 1024, "{usage:?}");
        assert!(usage.cpu_ms >= 10, "{usage:?}");
        let small = run_plain(&shell("true")).await.usage.unwrap();
        assert!(small.peak_rss_kib.get() < 60 * 1024, "{small:?}");
    }

    /// Whether `pid` exists and is not a zombie.
    fn is_running(pid: libc::pid_t) -> bool {
        // SAFETY: signal 0 only checks existence.
        if unsafe { libc::kill(pid, 0) } != 0 {
            return false;
        }
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => {
                let state = stat[stat.rfind(')').unwrap() + 1..]
                    .split_whitespace()
                    .next();
                !matches!(state, Some("Z") | Some("X"))
            }
            Err(_) => cfg!(not(target_os = "linux")),
        }
    }

    /// Waits (on real child processes) until `path` holds a pid.
    async fn read_pid(path: &std::path::Path) -> libc::pid_t {
        for _ in 0..500 {
            if let Ok(text) = std::fs::read_to_string(path) {
                if let Ok(pid) = text.trim().parse() {
                    return pid;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{} never held a pid", path.display());
    }

    #[tokio::test(start_paused = true)]
    async fn output_held_open_by_a_background_process_is_let_go() {
        // The shell ends at once; its background child keeps stdout and writes later. After
        // the drain limit (virtual time here) the pipe is closed, so that write fails.
        let dir = tempfile::tempdir().unwrap();
        let closed = dir.path().join("closed");
        let command = format!(
            "(trap '' PIPE; sleep 1; echo late || echo $$ > '{}') & echo early",
            closed.display()
        );
        let out = run_plain(&shell(&command)).await;
        assert!(out.success, "{out:?}");
        assert_eq!(out.stdout, "early\n");
        let mut waited = 0;
        while !closed.exists() && waited < 500 {
            tokio::task::yield_now().await; // lets the aborted readers go
            std::thread::sleep(Duration::from_millis(10));
            waited += 1;
        }
        assert!(
            closed.exists(),
            "the background write still reached an open pipe"
        );
    }

    #[tokio::test]
    async fn captures_stdout_stderr_and_success() {
        let out = run_plain(&shell("echo out; echo err >&2")).await;
        assert!(out.success, "{out:?}");
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.error, None);
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[tokio::test]
    async fn a_nonzero_exit_is_a_failure_with_its_status() {
        let out = run_plain(&shell("echo partial; exit 3")).await;
        assert!(!out.success);
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.error.as_deref(), Some("exited with status 3"));
        assert_eq!(out.stdout, "partial\n");
    }

    #[tokio::test]
    async fn a_signal_death_is_reported_as_such() {
        let out = run_plain(&shell("kill -9 $$")).await;
        assert!(!out.success);
        assert_eq!(out.exit_code, None);
        assert_eq!(out.error.as_deref(), Some("killed by signal 9"));
    }

    #[tokio::test]
    async fn env_and_cwd_apply() {
        let dir = tempfile::tempdir().unwrap();
        let mut action = shell("echo \"$KAIROS_GREETING\"; pwd");
        action
            .env
            .insert("KAIROS_GREETING".into(), "hello there".into());
        action.cwd = Some(dir.path().to_str().unwrap().to_string());
        let out = run_plain(&action).await;
        assert!(out.success, "{out:?}");
        let canonical = dir.path().canonicalize().unwrap();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines[0], "hello there");
        assert_eq!(
            std::path::Path::new(lines[1]).canonicalize().unwrap(),
            canonical
        );
    }

    #[tokio::test]
    async fn stdin_is_closed() {
        let out = run_plain(&shell("cat")).await;
        assert!(out.success, "{out:?}");
        assert_eq!(out.stdout, "");
    }

    #[tokio::test]
    async fn output_over_the_cap_keeps_the_tail_and_says_what_was_cut() {
        let mut action =
            shell("head -c 200000 /dev/zero | tr '\\0' a; printf END; head -c 5000 /dev/zero >&2");
        action.output_cap_bytes = 1000;
        let out = run_plain(&action).await;
        assert!(out.success, "{out:?}");
        let kept = format!("{}END", "a".repeat(997));
        assert_eq!(out.stdout, format!("[… 199003 bytes cut …]\n{kept}"));
        assert_eq!(
            out.stderr,
            format!("[… 4000 bytes cut …]\n{}", "\0".repeat(1000))
        );
    }

    #[tokio::test]
    async fn invalid_utf8_output_is_lossy() {
        let out = run_plain(&shell("printf 'a\\377b'")).await;
        assert!(out.success, "{out:?}");
        assert_eq!(out.stdout, "a\u{fffd}b");
    }

    #[tokio::test]
    async fn an_unspawnable_shell_names_the_problem() {
        let mut action = shell("true");
        action.shell = "nosuchshell-kairos".to_string();
        let out = run_plain(&action).await;
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("cannot start 'nosuchshell-kairos': No such file or directory")
        );
    }

    #[tokio::test]
    async fn a_missing_cwd_names_the_directory() {
        let mut action = shell("true");
        action.cwd = Some("/no/such/kairos/dir".to_string());
        let out = run_plain(&action).await;
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("cannot start in '/no/such/kairos/dir': No such file or directory")
        );
    }

    #[tokio::test]
    async fn cancel_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let action = shell(&format!(
            "echo started; sleep 30 & echo $! > '{}'; wait",
            pidfile.display()
        ));
        let cancel = CancellationToken::new();
        let task = {
            let cancel = cancel.clone();
            tokio::spawn(async move { run_with_grace(&action, &RUN, &cancel, KILL_GRACE).await })
        };
        let grandchild = read_pid(&pidfile).await;
        assert!(is_running(grandchild));
        cancel.cancel();
        let out = task.await.unwrap();
        assert!(!out.success);
        assert_eq!(out.error.as_deref(), Some("cancelled"));
        assert_eq!(out.stdout, "started\n");
        assert!(!is_running(grandchild), "grandchild {grandchild} survived");
    }

    #[tokio::test]
    async fn a_process_ignoring_sigterm_is_killed_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let action = shell(&format!(
            "trap '' TERM; echo $$ > '{}'; while :; do sleep 0.05; done",
            pidfile.display()
        ));
        let cancel = CancellationToken::new();
        let grace = Duration::from_millis(300);
        let task = {
            let cancel = cancel.clone();
            tokio::spawn(async move { run_with_grace(&action, &RUN, &cancel, grace).await })
        };
        let pid = read_pid(&pidfile).await;
        let started = std::time::Instant::now();
        cancel.cancel();
        let out = task.await.unwrap();
        assert!(started.elapsed() >= grace, "SIGKILL came before the grace");
        assert_eq!(out.error.as_deref(), Some("cancelled"));
        assert!(!out.success);
        assert!(!is_running(pid), "shell {pid} survived");
    }

    #[tokio::test]
    async fn a_cancelled_token_does_not_start_anything() {
        let ctx = ActionContext::default();
        ctx.cancel.cancel();
        let out = run(&shell("echo never"), &ctx, &RUN).await;
        assert_eq!(out.error.as_deref(), Some("cancelled"));
        assert_eq!(out.stdout, "");
    }
}
