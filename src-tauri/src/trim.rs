//! Once the window has closed, or when the app starts hidden, gives back what only the window
//! needs, so that Kairos in the tray holds little: WebKit's network process, which WebKit
//! keeps for the app's life (see tauri-apps/wry#590; the next window starts a new one), free
//! heap memory, and the library code the window ran (see `unmap_clean_code`).

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
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    let unmapped = unmap_clean_code();
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
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

/// Unmaps the pages of the loaded libraries' (and this program's) read-only segments, code and
/// constants, that this process never wrote to, and returns how many MiB it unmapped.
/// WebKit, JavaScriptCore and the GL driver run a lot of code while the window is open, and
/// nothing of it in the tray. This is no memory freed: the pages stay in the kernel's page
/// cache, now as unmapped file data (reclaimed first under pressure, as a page-out would),
/// and code that runs again maps them back on its first use. The process holds (PSS) less.
///
/// Only a segment of a loaded object is touched, with glibc's loader lock held (inside
/// `dl_iterate_phdr`, where `dlclose` also unmaps), so no object is unmapped and something
/// else mapped in its place meanwhile; never one with text relocations (written while it is
/// loaded); and only a mapping without a written (copy-on-write) page, in memory or in swap:
/// letting go of such a page would undo the write. Other read-only file mappings (caches,
/// fonts) come and go on any thread, so they are left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn unmap_clean_code() -> f64 {
    let mut pass = Pass::default();
    // SAFETY: `each_object` reads the program headers the loader hands it and makes system
    // calls; it does not unwind, and `pass` outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(each_object), (&raw mut pass).cast());
    }
    pass.let_go_kib as f64 / 1024.0
}

/// What [`unmap_clean_code`]'s pass over the loaded objects carries along.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[derive(Default)]
struct Pass {
    /// The clean file mappings, read once the loader's lock is held.
    clean: Option<Vec<Mapping>>,
    let_go_kib: u64,
}

/// Called by `dl_iterate_phdr` for each loaded object, with the loader's lock held: lets go
/// of the clean mappings inside its read-only loadable segments.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" fn each_object(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: `data` is the `Pass` given to `dl_iterate_phdr`, and `info` the loader's
    // description of one object, valid for this call.
    let (pass, info) = unsafe { (&mut *data.cast::<Pass>(), &*info) };
    let clean = pass.clean.get_or_insert_with(|| {
        std::fs::read_to_string("/proc/self/smaps")
            .map(|smaps| clean_file_mappings(&smaps))
            .unwrap_or_default()
    });
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: the loader's program headers of this object, `dlpi_phnum` of them.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
    // SAFETY: the object is loaded (the loader's lock is held), so its dynamic section is mapped.
    if unsafe { has_text_relocations(info.dlpi_addr as usize, headers) } {
        // Its read-only segments are written while it is relocated (a `dlopen` may be
        // doing so on another thread): never let go of those.
        return 0;
    }
    // SAFETY: sysconf only reads a setting.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    for header in headers {
        if header.p_type != libc::PT_LOAD || header.p_flags & libc::PF_W != 0 {
            continue;
        }
        let start = (info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize);
        let end = start.wrapping_add(header.p_memsz as usize);
        let (start, end) = (start / page * page, end.div_ceil(page) * page);
        for mapping in clean.iter().filter(|m| m.start >= start && m.end <= end) {
            // SAFETY: a whole mapping inside this loaded object's read-only segment, private and
            // with no written (anonymous) page when smaps was read under the loader's lock,
            // which keeps the object mapped; nothing writes such a segment of an object
            // without text relocations, so every page reads back from the file as it was.
            let done = unsafe {
                libc::madvise(
                    mapping.start as *mut libc::c_void,
                    mapping.end - mapping.start,
                    libc::MADV_DONTNEED,
                )
            };
            if done == 0 {
                pass.let_go_kib += mapping.rss_kib;
            }
        }
    }
    0
}

/// An entry of an object's dynamic section (`ElfW(Dyn)`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[repr(C)]
struct Dynamic {
    tag: isize,
    value: usize,
}

/// Whether the object loaded at `base` with program `headers` has text relocations
/// (`DT_TEXTREL`, or `DF_TEXTREL` in `DT_FLAGS`).
///
/// # Safety
/// The object must be loaded, with `headers` its program headers.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe fn has_text_relocations(base: usize, headers: &[libc::Elf64_Phdr]) -> bool {
    const DT_NULL: isize = 0;
    const DT_TEXTREL: isize = 22;
    const DT_FLAGS: isize = 30;
    const DF_TEXTREL: usize = 0x4;
    let Some(dynamic) = headers.iter().find(|h| h.p_type == libc::PT_DYNAMIC) else {
        return false;
    };
    let mut entry = base.wrapping_add(dynamic.p_vaddr as usize) as *const Dynamic;
    loop {
        // SAFETY: the dynamic section is mapped and ends with a DT_NULL entry.
        let Dynamic { tag, value } = unsafe { std::ptr::read(entry) };
        match tag {
            DT_NULL => return false,
            DT_TEXTREL => return true,
            DT_FLAGS if value & DF_TEXTREL != 0 => return true,
            _ => {}
        }
        // SAFETY: not past the DT_NULL entry that ends the section.
        entry = unsafe { entry.add(1) };
    }
}

/// One mapping of this process, as `/proc/self/smaps` tells it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[derive(Debug, PartialEq)]
struct Mapping {
    start: usize,
    end: usize,
    rss_kib: u64,
}

/// The mappings in `smaps` that are private, not writable, of a file by path, resident in
/// part, and hold no anonymous (written) page, in memory or in swap.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
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

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0a000-55d0c000 r-xp 00002000 08:01 1234                       /usr/bin/app
Size:                  8 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Rss:                   8 kB
Pss:                   8 kB
Pss_Dirty:             0 kB
Shared_Clean:          0 kB
Private_Clean:         8 kB
Referenced:            8 kB
Anonymous:             0 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
FilePmdMapped:         0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
THPeligible:           0
ProtectionKey:         0
VmFlags: rd ex mr mw me dw sd
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
7f00060000-7f00070000 r--p 00000000 00:01 5 /memfd:wayland-shm (deleted)
Rss:                  16 kB
Anonymous:             0 kB
Swap:                  0 kB
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
Rss:                   0 kB
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

    /// Unmapping this very process's clean code pages, while the harness's other test threads
    /// run, loses nothing: it runs on, and what it computes after is what it computed before.
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
