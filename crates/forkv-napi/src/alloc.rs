//! A counting wrapper around the global allocator, for INFO `used_memory`.
//!
//! Counting uses one relaxed atomic per call, as Valkey's zmalloc does. The allocator
//! underneath is chosen at build time: jemalloc (the default feature `jemalloc`; why: "The
//! allocator" in the crate docs), mimalloc (feature `mimalloc` without `jemalloc`), or the
//! system allocator (neither).
//!
//! What is counted is what Valkey's zmalloc counts: the bytes the allocator really hands
//! out. Under jemalloc that is the size class of the request (`nallocx`, the same figure
//! `malloc_usable_size` gives Valkey: a 100-byte value costs 112), so `used_memory`,
//! `maxmemory` eviction and `mem_fragmentation_ratio` mean what they mean in Valkey. A
//! layout always maps to the same class, so `dealloc` and `realloc` subtract exactly what
//! the allocation added. Under the other two allocators it is the requested size.
//!
//! Only the allocator itself is here (a `#[global_allocator]` belongs to the binary that
//! links everything, this addon); jemalloc's figures, report, purge and version are read
//! by the `forkv-jemalloc` crate, which has cargo tests.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(feature = "jemalloc")]
type Inner = tikv_jemallocator::Jemalloc;
#[cfg(feature = "jemalloc")]
const INNER: Inner = tikv_jemallocator::Jemalloc;
#[cfg(feature = "jemalloc")]
const NAME: &str = "jemalloc";

#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
type Inner = mimalloc::MiMalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
const INNER: Inner = mimalloc::MiMalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
const NAME: &str = "mimalloc";

#[cfg(not(any(feature = "mimalloc", feature = "jemalloc")))]
type Inner = std::alloc::System;
#[cfg(not(any(feature = "mimalloc", feature = "jemalloc")))]
const INNER: Inner = std::alloc::System;
#[cfg(not(any(feature = "mimalloc", feature = "jemalloc")))]
const NAME: &str = "libc";

/// The bytes an allocation of `layout` occupies (see the module docs).
#[cfg(feature = "jemalloc")]
#[inline]
fn charged(size: usize, align: usize) -> usize {
    // tikv-jemallocator passes no flags when the alignment is at most C's
    // `_Alignof(max_align_t)` (16 on 64-bit targets, 8 on the 32-bit ones it supports) and
    // no larger than the size, else MALLOCX_ALIGN(align); the class is computed with the
    // same flags, so it is the class the allocation got.
    const MAX_ALIGN_T: usize = if cfg!(target_pointer_width = "64") { 16 } else { 8 };
    let flags = if align <= MAX_ALIGN_T && align <= size {
        0
    } else {
        tikv_jemalloc_sys::MALLOCX_ALIGN(align)
    };
    if size == 0 {
        return 0;
    }
    // SAFETY: `nallocx` only computes a size class; it allocates nothing. It returns 0
    // only for sizes past the largest class, which no successful allocation has.
    match unsafe { tikv_jemalloc_sys::nallocx(size, flags) } {
        0 => size,
        n => n,
    }
}

#[cfg(not(feature = "jemalloc"))]
#[inline]
fn charged(size: usize, _align: usize) -> usize {
    size
}

struct Counting;

static USED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `INNER` with the same arguments; the counter does
// not affect the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            USED.fetch_add(charged(layout.size(), layout.align()), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { INNER.dealloc(ptr, layout) };
        USED.fetch_sub(charged(layout.size(), layout.align()), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            USED.fetch_add(charged(layout.size(), layout.align()), Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            USED.fetch_sub(charged(layout.size(), layout.align()), Ordering::Relaxed);
            USED.fetch_add(charged(new_size, layout.align()), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes currently allocated by Rust code in this process (the keyspace, buffers).
pub fn used_bytes() -> usize {
    USED.load(Ordering::Relaxed)
}

/// The allocator's name for INFO `mem_allocator`: "jemalloc-<major.minor.bugfix>" as
/// Valkey names its jemalloc (`jemalloc-5.3.0`), "mimalloc" or "libc".
pub fn allocator_name() -> &'static str {
    #[cfg(feature = "jemalloc")]
    {
        static NAMED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        NAMED.get_or_init(|| forkv_jemalloc::version().map_or_else(|| NAME.to_string(), |v| format!("{NAME}-{v}")))
    }
    #[cfg(not(feature = "jemalloc"))]
    NAME
}

/// Gives the engine the allocator's MEMORY MALLOC-STATS report, MEMORY PURGE and its
/// figures (INFO `allocator_*`), as Valkey's reach jemalloc (read by `forkv-jemalloc`,
/// with its cargo tests). Only jemalloc has them; the other builds register nothing and
/// MALLOC-STATS answers as a libc-malloc Valkey does.
pub fn register_hooks() {
    #[cfg(feature = "jemalloc")]
    forkv_engine::allocator::register(forkv_jemalloc::hooks());
}
