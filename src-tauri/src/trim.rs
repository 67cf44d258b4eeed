//! Once the window has closed, or when the app starts hidden, gives back what only the window
//! needs, so that Kairos in the tray holds little: WebKit's network process, which WebKit
//! keeps for the app's life (see tauri-apps/wry#590; the next window starts a new one), free
//! heap memory, and the library code the window ran (see [`unmap_clean_code`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

/// How long after the window closed (or the hidden start) the app trims: WebKit first
/// finishes writing what the page stored (the network process writes its localStorage).
const AFTER: Duration = Duration::from_secs(10);

/// Counts windows opened and trims asked for (a close or a hidden start): a trim goes ahead
/// only if none came since it was asked for.
static WINDOWS: AtomicU64 = AtomicU64::new(0);

/// Called before a window is made: a waiting trim is called off.
pub fn window_opening() {
    WINDOWS.fetch_add(1, Ordering::SeqCst);
}

/// Trims [`AFTER`] from now, unless a window opens (or closes again) by then: called when the
/// window has closed and when the app starts hidden.
pub fn soon<R: Runtime>(app: &AppHandle<R>) {
    let asked = WINDOWS.fetch_add(1, Ordering::SeqCst) + 1;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(AFTER).await;
        let handle = app.clone();
        // On the main thread, where windows are built; `window::open` counts a window
        // before asking for one, so none is under way when the count is unchanged.
        let posted = app.run_on_main_thread(move || {
            if WINDOWS.load(Ordering::SeqCst) == asked
                && handle.get_webview_window(crate::window::LABEL).is_none()
            {
                trim();
            }
        });
        if let Err(e) = posted {
            tracing::debug!("cannot trim without a window: {e}");
        }
    });
}

fn trim() {
    #[cfg(target_os = "linux")]
    let ended = end_network_process();
    #[cfg(not(target_os = "linux"))]
    let ended = false;
    // SAFETY: malloc_trim only returns free heap memory to the system.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0)
    };
    #[cfg(target_os = "linux")]
    let unmapped = unmap_clean_code();
    #[cfg(not(target_os = "linux"))]
    let unmapped = 0.0;
    tracing::info!(
        "{} s without a window: {}freed memory given back to the system, {unmapped:.1} MiB \
         of code pages let go{}",
        AFTER.as_secs(),
        if ended {
            "WebKit's network process ended, "
        } else {
            ""
        },
        proportional_mib().map_or(String::new(), |mib| format!(" (now {mib:.1} MiB)")),
    );
}

/// Lets go of the pages of read-only file mappings (code, constants) that this process never
/// wrote to, and returns how many MiB it let go. WebKit, JavaScriptCore and the GL driver
/// run a lot of code while the window is open, and nothing of it in the tray. The pages stay
/// in the kernel's page cache, where they can be reclaimed like any unmapped file data; code
/// that runs again is mapped back from there on its first use. Mappings with a written
/// (copy-on-write) page, such as relocated data, are left alone: letting go of those pages
/// would undo the writes.
#[cfg(target_os = "linux")]
fn unmap_clean_code() -> f64 {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0.0;
    };
    let mut let_go_kib = 0;
    for mapping in clean_file_mappings(&smaps) {
        // SAFETY: the range is a whole mapping of a file, read-only and private, none of whose
        // pages was ever written (no anonymous pages): dropping them loses nothing, as every
        // page reads back from the file as it was.
        let done = unsafe {
            libc::madvise(
                mapping.start as *mut libc::c_void,
                mapping.end - mapping.start,
                libc::MADV_DONTNEED,
            )
        };
        if done == 0 {
            let_go_kib += mapping.rss_kib;
        }
    }
    let_go_kib as f64 / 1024.0
}

/// One mapping of this process, as `/proc/self/smaps` tells it.
#[cfg(target_os = "linux")]
#[derive(Debug, PartialEq)]
struct Mapping {
    start: usize,
    end: usize,
    rss_kib: u64,
}

/// The mappings in `smaps` that are private, not writable, of a file by path, resident in
/// part, and hold no anonymous (written) page, in memory or in swap.
#[cfg(target_os = "linux")]
fn clean_file_mappings(smaps: &str) -> Vec<Mapping> {
    let mut found = Vec::new();
    // The mapping being read: its range, whether it qualifies so far, and its resident size.
    let mut current: Option<(usize, usize, bool, u64)> = None;
    let mut finish = |current: Option<(usize, usize, bool, u64)>, anonymous: bool| {
        if let Some((start, end, true, rss_kib)) = current {
            if !anonymous && rss_kib > 0 {
                found.push(Mapping {
                    start,
                    end,
                    rss_kib,
                });
            }
        }
    };
    let mut anonymous = false;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else {
            continue;
        };
        if let Some((start, end)) = first.split_once('-') {
            let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) else {
                continue;
            };
            finish(current.take(), anonymous);
            anonymous = false;
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            let private_read_only =
                perms.len() == 4 && !perms.contains('w') && perms.ends_with('p');
            let file = path.starts_with('/') && !line.ends_with("(deleted)");
            current = Some((start, end, private_read_only && file, 0));
        } else if first == "Rss:" {
            if let Some(c) = current.as_mut() {
                c.3 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        } else if matches!(first, "Anonymous:" | "Swap:") {
            // A written page is anonymous, in memory or swapped out.
            anonymous |= fields.next().is_none_or(|v| v != "0");
        }
    }
    finish(current, anonymous);
    found
}

/// This process's proportional set size (PSS), MiB.
fn proportional_mib() -> Option<f64> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let kib: f64 = rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// How long the trim waits for the network process to be gone.
#[cfg(target_os = "linux")]
const EXIT_WAIT: Duration = Duration::from_millis(500);

/// Asks WebKit's network process, a child of this process, to end, and waits (at most
/// [`EXIT_WAIT`]) until it has; returns whether there was one. Only children are looked at:
/// a shell job's own processes are never touched.
#[cfg(target_os = "linux")]
fn end_network_process() -> bool {
    let me = std::process::id();
    let ours: Vec<u32> = children(me)
        .into_iter()
        .filter(|(_, name)| name.starts_with("WebKitNetwork"))
        .map(|(pid, _)| pid)
        .collect();
    for pid in &ours {
        // SAFETY: a plain signal to a child of this process.
        unsafe { libc::kill(*pid as i32, libc::SIGTERM) };
    }
    let started = std::time::Instant::now();
    while started.elapsed() < EXIT_WAIT && children(me).iter().any(|(p, _)| ours.contains(p)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    !ours.is_empty()
}

/// The live (not exited) children of process `parent`: id and command name, from /proc.
#[cfg(target_os = "linux")]
fn children(parent: u32) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (name) state ppid …": the name may hold spaces and parentheses.
            let (head, tail) = stat.rsplit_once(')')?;
            let mut fields = tail.split_whitespace();
            let state = fields.next()?;
            let ppid: u32 = fields.next()?.parse().ok()?;
            (ppid == parent && !matches!(state, "Z" | "X"))
                .then(|| (pid, head.split_once('(').map_or("", |n| n.1).to_string()))
        })
        .collect()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0a000-55d0c000 r-xp 00002000 08:01 1234 /usr/bin/app
Rss:                   8 kB
Anonymous:             0 kB
Swap:                  0 kB
55d0c000-55d0d000 r--p 00004000 08:01 1234 /usr/bin/app
Rss:                   4 kB
Anonymous:             4 kB
Swap:                  0 kB
55d0d000-55d0e000 rw-p 00005000 08:01 1234 /usr/bin/app
Rss:                   4 kB
Anonymous:             0 kB
Swap:                  0 kB
7f00000000-7f00010000 r--p 00000000 08:01 99 /usr/lib/libbig data.so
Rss:                  64 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd mr mw me
7f00010000-7f00020000 r--p 00010000 08:01 98 /usr/lib/libswapped.so
Rss:                   8 kB
Anonymous:             0 kB
Swap:                  4 kB
7f00020000-7f00030000 r--s 00000000 00:05 7 /SYSV00000000 (deleted)
Rss:                  16 kB
Anonymous:             0 kB
Swap:                  0 kB
7f00030000-7f00040000 r-xp 00000000 08:01 97 /usr/lib/libold.so (deleted)
Rss:                  16 kB
Anonymous:             0 kB
Swap:                  0 kB
7f00040000-7f00050000 r--p 00000000 00:00 0
Rss:                  16 kB
Anonymous:            16 kB
Swap:                  0 kB
7f00050000-7f00060000 r-xp 00000000 08:01 96 /usr/lib/libidle.so
Rss:                   0 kB
Anonymous:             0 kB
Swap:                  0 kB
7ffd000000-7ffd001000 r-xp 00000000 00:00 0 [vdso]
Rss:                   4 kB
Anonymous:             0 kB
Swap:                  0 kB
";

    #[test]
    fn only_clean_read_only_file_mappings_are_let_go() {
        // Code, and constants under a path with a space; not: written (relocated) data, a
        // writable mapping, a page in swap, shared memory, a deleted file, anonymous memory,
        // nothing resident, the vDSO.
        assert_eq!(
            clean_file_mappings(SMAPS),
            [
                Mapping {
                    start: 0x55d0a000,
                    end: 0x55d0c000,
                    rss_kib: 8
                },
                Mapping {
                    start: 0x7f00000000,
                    end: 0x7f00010000,
                    rss_kib: 64
                },
            ]
        );
    }

    /// Letting go of this very process's clean code pages loses nothing: it runs on, and
    /// what it computes after is what it computed before.
    #[test]
    fn the_process_runs_on_after_letting_go_of_its_code() {
        let work = || {
            let text: String = (0..2000).map(|i| format!("{i:x}")).collect();
            (
                text.len(),
                serde_json::json!({"text": text}).to_string().len(),
            )
        };
        let before = work();
        assert!(
            unmap_clean_code() > 0.0,
            "this process has code pages mapped"
        );
        assert_eq!(work(), before);
    }
}
