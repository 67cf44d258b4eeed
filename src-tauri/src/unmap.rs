//! Unmapping the library code the window ran, once it has closed (see `trim`).
//!
//! WebKit, JavaScriptCore and the GL driver run a lot of code while the window is open, and
//! nothing of it in the tray. This frees no memory: the pages stay in the kernel's page
//! cache, now as unmapped file data (reclaimed first under pressure, as a page-out would),
//! and code that runs again maps them back on its first use. The process holds (PSS) less.
//!
//! What is unmapped, and why that loses nothing:
//! - only mappings inside a loaded object's read-only (`PT_LOAD` without `PF_W`) segments,
//!   walked with glibc's loader lock held (inside `dl_iterate_phdr`; `dlclose` unmaps under
//!   the same lock), so no object is unmapped and something else mapped in its place
//!   meanwhile. Other read-only file mappings (caches, fonts) come and go on any thread, so
//!   they are left alone;
//! - never an object with text relocations (written while a `dlopen` relocates it), nor
//!   libglvnd's `libGLdispatch`, whose entry points a GL vendor may patch at run time;
//! - only a private, read-only mapping of a file without a written (copy-on-write) page,
//!   in memory or in swap: letting go of such a page would undo the write.
//!
//! glibc on 64-bit Linux only: the lock is glibc's, and the program headers are read as
//! 64-bit ELF.

use std::ops::Range;

/// Unmaps the clean pages of the loaded objects' read-only segments; returns how many MiB.
pub fn clean_code() -> f64 {
    let mut pass = Pass::default();
    // SAFETY: `each_object` reads the program headers the loader hands it and makes system
    // calls; it does not unwind, and `pass` outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(each_object), (&raw mut pass).cast());
    }
    pass.unmapped_kib as f64 / 1024.0
}

/// What the pass over the loaded objects carries along.
#[derive(Default)]
struct Pass {
    /// The clean file mappings, read once the loader's lock is held.
    clean: Option<Vec<Mapping>>,
    unmapped_kib: u64,
}

/// Called by `dl_iterate_phdr` for each loaded object, with the loader's lock held: unmaps
/// the clean mappings inside its read-only loadable segments.
unsafe extern "C" fn each_object(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: `data` is the `Pass` given to `dl_iterate_phdr`, and `info` the loader's
    // description of one object, valid for this call.
    let (pass, info) = unsafe { (&mut *data.cast::<Pass>(), &*info) };
    let clean = pass.clean.get_or_insert_with(|| {
        // Lossy: a path that is not UTF-8 only needs its first character read.
        std::fs::read("/proc/self/smaps")
            .map(|smaps| clean_file_mappings(&String::from_utf8_lossy(&smaps)))
            .unwrap_or_default()
    });
    if info.dlpi_phdr.is_null() || patched_at_run_time(info.dlpi_name) {
        return 0;
    }
    // SAFETY: the loader's program headers of this object, `dlpi_phnum` of them.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
    let base = info.dlpi_addr as usize;
    if let Some(dynamic) = headers.iter().find(|h| h.p_type == libc::PT_DYNAMIC) {
        // SAFETY: the object is loaded (the loader's lock is held), so its dynamic section is
        // mapped where its header says.
        let entries = unsafe { dynamic_section(base, dynamic) };
        if has_text_relocations(entries) {
            return 0;
        }
    }
    // SAFETY: sysconf only reads a setting.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    for mapping in targets(base, headers, page, clean) {
        // SAFETY: a whole mapping inside this loaded object's read-only segment, private and
        // with no written (anonymous) page when smaps was read under the loader's lock,
        // which keeps the object mapped; nothing writes such a segment of an object without
        // text relocations (see the module's notes), so every page reads back as it was.
        let done = unsafe {
            libc::madvise(
                mapping.start as *mut libc::c_void,
                mapping.end - mapping.start,
                libc::MADV_DONTNEED,
            )
        };
        if done == 0 {
            pass.unmapped_kib += mapping.rss_kib;
        }
    }
    0
}

/// Whether the object named `name` (a path, possibly empty or null) has code that is patched
/// while it runs: libglvnd's dispatch stubs.
fn patched_at_run_time(name: *const libc::c_char) -> bool {
    if name.is_null() {
        return false;
    }
    // SAFETY: the loader's name of the object, a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes();
    let file = name.rsplit(|b| *b == b'/').next().unwrap_or(name);
    file.starts_with(b"libGLdispatch")
}

/// The clean mappings lying wholly inside the read-only loadable segments of an object loaded
/// at `base` with program `headers` (segments widened to whole pages of `page` bytes).
fn targets<'a>(
    base: usize,
    headers: &'a [libc::Elf64_Phdr],
    page: usize,
    clean: &'a [Mapping],
) -> impl Iterator<Item = &'a Mapping> + 'a {
    headers
        .iter()
        .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W == 0)
        .map(move |h| {
            let start = base.wrapping_add(h.p_vaddr as usize);
            let end = start.wrapping_add(h.p_memsz as usize);
            start / page * page..end.div_ceil(page) * page
        })
        .flat_map(move |segment: Range<usize>| {
            clean
                .iter()
                .filter(move |m| m.start >= segment.start && m.end <= segment.end)
        })
}

/// An entry of an object's dynamic section (`Elf64_Dyn`).
#[repr(C)]
struct Dynamic {
    tag: i64,
    value: u64,
}

/// The entries of the dynamic section that program header `dynamic` places in the object
/// loaded at `base`.
///
/// # Safety
/// The object must be loaded, and `dynamic` its `PT_DYNAMIC` header.
unsafe fn dynamic_section<'a>(base: usize, dynamic: &libc::Elf64_Phdr) -> &'a [Dynamic] {
    let start = base.wrapping_add(dynamic.p_vaddr as usize) as *const Dynamic;
    let count = dynamic.p_memsz as usize / std::mem::size_of::<Dynamic>();
    // SAFETY: the section is mapped, `p_memsz` bytes long, and aligned as the loader reads it.
    unsafe { std::slice::from_raw_parts(start, count) }
}

/// Whether a dynamic section says its object has text relocations (`DT_TEXTREL`, or
/// `DF_TEXTREL` in `DT_FLAGS`), up to its `DT_NULL` end.
fn has_text_relocations(entries: &[Dynamic]) -> bool {
    const DT_NULL: i64 = 0;
    const DT_TEXTREL: i64 = 22;
    const DT_FLAGS: i64 = 30;
    const DF_TEXTREL: u64 = 0x4;
    entries
        .iter()
        .take_while(|e| e.tag != DT_NULL)
        .any(|e| e.tag == DT_TEXTREL || (e.tag == DT_FLAGS && e.value & DF_TEXTREL != 0))
}

/// One mapping of this process, as `/proc/self/smaps` tells it.
#[derive(Debug, PartialEq)]
struct Mapping {
    start: usize,
    end: usize,
    rss_kib: u64,
}

/// The mappings in `smaps` that are private, not writable, of a file by path, resident in
/// part, and hold no anonymous (written) page, in memory or in swap.
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

#[cfg(test)]
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
        assert!(clean_code() > 0.0, "this process has code pages mapped");
        assert_eq!(work(), before);
    }

    fn load(flags: u32, vaddr: u64, memsz: u64) -> libc::Elf64_Phdr {
        libc::Elf64_Phdr {
            p_type: libc::PT_LOAD,
            p_flags: flags,
            p_offset: 0,
            p_vaddr: vaddr,
            p_paddr: vaddr,
            p_filesz: memsz,
            p_memsz: memsz,
            p_align: 0x1000,
        }
    }

    fn mapping(start: usize, end: usize) -> Mapping {
        Mapping {
            start,
            end,
            rss_kib: 4,
        }
    }

    #[test]
    fn only_mappings_inside_read_only_segments_are_targets() {
        let (r, rx, rw) = (libc::PF_R, libc::PF_R | libc::PF_X, libc::PF_R | libc::PF_W);
        // Code at 0x1000 (not page-aligned at its end), constants at 0x3000, data at 0x5000.
        let headers = [
            load(rx, 0x1000, 0x1800),
            load(r, 0x3000, 0x1000),
            load(rw, 0x5000, 0x1000),
        ];
        let base = 0x7f00_0000_0000;
        let clean = [
            mapping(base + 0x1000, base + 0x3000), // the code, to its last whole page
            mapping(base + 0x3000, base + 0x4000), // the constants
            mapping(base + 0x5000, base + 0x6000), // writable: never
            mapping(base + 0x3800, base + 0x4800), // reaches past the constants
            mapping(0x1000, 0x3000),               // another object's
        ];
        let found: Vec<_> = targets(base, &headers, 0x1000, &clean).collect();
        assert_eq!(found, [&clean[0], &clean[1]]);
    }

    #[test]
    fn text_relocations_are_read_up_to_the_section_end() {
        let entry = |tag, value| Dynamic { tag, value };
        let (needed, flags, textrel, null) = (1, 30, 22, 0);
        assert!(!has_text_relocations(&[
            entry(needed, 5),
            entry(flags, 0x8),
            entry(null, 0)
        ]));
        assert!(has_text_relocations(&[
            entry(needed, 5),
            entry(textrel, 0),
            entry(null, 0)
        ]));
        assert!(has_text_relocations(&[
            entry(flags, 0x4 | 0x8),
            entry(null, 0)
        ]));
        // What follows DT_NULL is not the section's.
        assert!(!has_text_relocations(&[entry(null, 0), entry(textrel, 0)]));
    }

    #[test]
    fn libglvnd_dispatch_is_left_alone() {
        let patched = |path: &str| {
            let name = std::ffi::CString::new(path).unwrap();
            patched_at_run_time(name.as_ptr())
        };
        assert!(patched("/usr/lib/x86_64-linux-gnu/libGLdispatch.so.0"));
        assert!(!patched("/usr/lib/libgtk-3.so.0"));
        assert!(!patched(""));
        assert!(!patched_at_run_time(std::ptr::null()));
    }
}
