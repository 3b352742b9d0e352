//! jemalloc's figures as forkv reports them, read through `mallctl`: its version (INFO
//! `mem_allocator`), its statistics after an epoch refresh (INFO `allocator_*`, Valkey's
//! `zmalloc_get_allocator_info`), its `malloc_stats_print` report (MEMORY MALLOC-STATS)
//! and the purge of all arenas (MEMORY PURGE).
//!
//! The process's global allocator (the counting wrapper around jemalloc) must be defined
//! in the binary that links everything, the Node-API addon (crates/forkv-napi/src/alloc.rs);
//! these readers need no allocator of their own and are tested here, with jemalloc as the
//! test binary's global allocator. Both link the one `tikv-jemalloc-sys`, so they read the
//! same jemalloc.

use std::ffi::{c_char, c_void, CStr};

use forkv_engine::allocator::{AllocatorFigures, AllocatorHooks};

/// `MALLCTL_ARENAS_ALL` in jemalloc 5: the index that names all arenas at once.
const ARENAS_ALL: usize = 4096;

/// jemalloc's `version` ("5.3.0-1-g<commit>") up to its first '-', as Valkey names its
/// allocator (`jemalloc-5.3.0`).
pub fn version() -> Option<String> {
    let mut version: *const c_char = std::ptr::null();
    let mut len = std::mem::size_of::<*const c_char>();
    // SAFETY: "version" reads a `const char *` into `version`, whose size `len` gives.
    let rc = unsafe { tikv_jemalloc_sys::mallctl(c"version".as_ptr(), (&raw mut version).cast(), &mut len, std::ptr::null_mut(), 0) };
    if rc != 0 || version.is_null() {
        return None;
    }
    // SAFETY: jemalloc's version is a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(version) }.to_string_lossy();
    text.split('-').next().map(str::to_string)
}

/// Reads a `size_t` statistic or setting of jemalloc's.
pub fn size_of_stat(name: &CStr) -> Option<usize> {
    let mut value: usize = 0;
    let mut len = std::mem::size_of::<usize>();
    // SAFETY: the names read here are `size_t`s, the size `len` gives; a name of another
    // size fails with EINVAL and writes nothing.
    let rc = unsafe { tikv_jemalloc_sys::mallctl(name.as_ptr(), (&raw mut value).cast(), &mut len, std::ptr::null_mut(), 0) };
    (rc == 0 && len == std::mem::size_of::<usize>()).then_some(value)
}

/// Refreshes jemalloc's statistics (they are a snapshot taken at each epoch).
fn refresh() {
    let mut epoch: u64 = 1;
    let mut len = std::mem::size_of::<u64>();
    // SAFETY: "epoch" reads and writes a uint64_t; both point at `epoch`, `len` its size.
    unsafe {
        tikv_jemalloc_sys::mallctl(c"epoch".as_ptr(), (&raw mut epoch).cast(), &mut len, (&raw mut epoch).cast(), len);
    }
}

/// jemalloc's figures after refreshing its statistics: allocated, active, resident, and
/// the muzzy pages of all arenas in bytes.
pub fn figures() -> Option<AllocatorFigures> {
    refresh();
    let page = size_of_stat(c"arenas.page").unwrap_or(4096);
    let muzzy_pages = size_of_stat(&arena_stat("pmuzzy")).unwrap_or(0);
    Some(AllocatorFigures {
        allocated: size_of_stat(c"stats.allocated")?,
        active: size_of_stat(c"stats.active")?,
        resident: size_of_stat(c"stats.resident")?,
        muzzy: muzzy_pages.saturating_mul(page),
    })
}

/// `stats.arenas.<all>.<name>`.
fn arena_stat(name: &str) -> std::ffi::CString {
    std::ffi::CString::new(format!("stats.arenas.{ARENAS_ALL}.{name}")).unwrap_or_default()
}

/// jemalloc's `malloc_stats_print` report, as Valkey's MEMORY MALLOC-STATS returns it.
pub fn stats_report() -> String {
    unsafe extern "C" fn append(opaque: *mut c_void, msg: *const c_char) {
        // SAFETY: `opaque` is the `String` passed below, alive for the whole call; jemalloc
        // hands over NUL-terminated text.
        let (out, text) = unsafe { (&mut *opaque.cast::<String>(), CStr::from_ptr(msg)) };
        out.push_str(&text.to_string_lossy());
    }
    let mut out = String::new();
    // SAFETY: the callback only appends to `out`, which outlives the call; a null options
    // string asks for the default report.
    unsafe { tikv_jemalloc_sys::malloc_stats_print(Some(append), (&mut out as *mut String).cast(), std::ptr::null()) };
    out
}

/// `arena.<all>.purge`, Valkey's `jemalloc_purge`: the unused dirty pages of every arena
/// go back to the system.
pub fn purge() {
    let name = std::ffi::CString::new(format!("arena.{ARENAS_ALL}.purge")).unwrap_or_default();
    // SAFETY: a void mallctl: no old or new value is read or written.
    unsafe {
        tikv_jemalloc_sys::mallctl(name.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), 0);
    }
}

/// The engine's hooks into jemalloc (MEMORY MALLOC-STATS, MEMORY PURGE, INFO
/// `allocator_*`), for [`forkv_engine::allocator::register`].
pub fn hooks() -> AllocatorHooks {
    AllocatorHooks { stats: stats_report, purge, figures }
}
