//! A counting wrapper around the global allocator, for INFO `used_memory`.
//!
//! Counting uses one relaxed atomic per call, as Valkey's zmalloc does. The allocator
//! underneath is chosen at build time: jemalloc (the default feature `jemalloc`; why: "The
//! allocator" in the crate docs), mimalloc (feature `mimalloc` without `jemalloc`), or the
//! system allocator (neither).

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

struct Counting;

static USED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `INNER` with the same arguments; the counter does
// not affect the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            USED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { INNER.dealloc(ptr, layout) };
        USED.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            USED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            USED.fetch_sub(layout.size(), Ordering::Relaxed);
            USED.fetch_add(new_size, Ordering::Relaxed);
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

/// The allocator's name for INFO `mem_allocator` ("libc", "jemalloc", "mimalloc").
pub fn allocator_name() -> &'static str {
    NAME
}
