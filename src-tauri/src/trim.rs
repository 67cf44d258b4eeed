//! Once the window has closed, or when the app starts hidden, gives back what only the window
//! needs, so that Kairos in the tray holds little: WebKit's network process, which WebKit
//! keeps for the app's life (see tauri-apps/wry#590; the next window starts a new one), free
//! heap memory, and the library code the window ran (see `crate::unmap`).

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
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    let unmapped = crate::unmap::clean_code();
    #[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
    let unmapped = 0.0;
    tracing::info!(
        "{} s without a window: {}free heap given back to the system, {unmapped:.1} MiB of \
         library code unmapped (it stays in the page cache){}",
        AFTER.as_secs(),
        if ended {
            "WebKit's network process ended, "
        } else {
            ""
        },
        proportional_mib().map_or(String::new(), |mib| format!(" (now {mib:.1} MiB)")),
    );
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
