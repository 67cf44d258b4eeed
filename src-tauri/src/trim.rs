//! Once the window has closed, gives back what only the window needed, so that Kairos in the
//! tray costs little memory: WebKit's network process (WebKit keeps it for the app's life,
//! see tauri-apps/wry#590; the next window starts a new one), the heap the webview freed, and
//! the pages of the libraries mapped for it (the kernel reads back any used again).

use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

/// How long after the window closed the app trims: WebKit first finishes writing what the
/// page stored (the network process writes its localStorage).
const AFTER: Duration = Duration::from_secs(10);

/// Trims [`AFTER`] the window closed, unless a window is open again by then.
pub fn after_close<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(AFTER).await;
        let handle = app.clone();
        // On the main thread, where windows are made: none opens while this runs.
        let posted = app.run_on_main_thread(move || {
            if handle.get_webview_window(crate::window::LABEL).is_none() {
                trim();
            }
        });
        if let Err(e) = posted {
            tracing::debug!("cannot trim after the window closed: {e}");
        }
    });
}

#[cfg(target_os = "linux")]
fn trim() {
    let before = pss_mib();
    let ended = end_network_process();
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe { libc::malloc_trim(0) };
    page_out_files();
    tracing::info!(
        "the window closed {} s ago: {}memory given back to the system (PSS {before:.0} MiB \
         before, {:.0} MiB after)",
        AFTER.as_secs(),
        if ended {
            "WebKit's network process ended, "
        } else {
            ""
        },
        pss_mib()
    );
}

#[cfg(not(target_os = "linux"))]
fn trim() {}

/// Asks WebKit's network process, a child of this one (or of its sandbox), to end; returns
/// whether there was one.
#[cfg(target_os = "linux")]
fn end_network_process() -> bool {
    let mut family = vec![std::process::id()];
    let mut ended = false;
    // Children first seen, then theirs: the sandbox (bubblewrap) may stand in between.
    for _ in 0..2 {
        let parents = std::mem::take(&mut family);
        for (pid, ppid, name) in processes() {
            if !parents.contains(&ppid) {
                continue;
            }
            if name.starts_with("WebKitNetwork") {
                // SAFETY: a plain signal to a process this one started.
                ended |= unsafe { libc::kill(pid as i32, libc::SIGTERM) } == 0;
            } else {
                family.push(pid);
            }
        }
    }
    ended
}

/// Every process's id, parent's id and command name, from /proc.
#[cfg(target_os = "linux")]
fn processes() -> Vec<(u32, u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (name) state ppid …": the name may hold spaces and parentheses.
            let (head, tail) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_string();
            let ppid = tail.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid, name))
        })
        .collect()
}

/// Tells the kernel it may reclaim the pages of every file this process maps (libraries,
/// fonts, its own code); what is used again is read back from the page cache.
#[cfg(target_os = "linux")]
fn page_out_files() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(path)) = (fields.next(), fields.nth(4)) else {
            continue;
        };
        if !path.starts_with('/') || path.starts_with("/dev/") || path.starts_with("/memfd:") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: MADV_PAGEOUT keeps every page's contents (clean pages are read back,
        // others need swap and are otherwise left), so it is harmless on any mapping; the
        // range is a whole mapping of this process. Kernels before 5.4 refuse it: no harm.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
    }
}

/// This process's proportional set size, MiB.
#[cfg(target_os = "linux")]
fn pss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
