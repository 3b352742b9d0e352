//! The allocator behind Rust's allocations, as the binary that links the engine reports it.
//!
//! The engine does not choose the global allocator: the napi crate does (jemalloc by
//! default). MEMORY MALLOC-STATS and MEMORY PURGE must still reach that allocator, as
//! Valkey's reach jemalloc, so the binary registers its two entry points here once at
//! start. Without a registration (the engine's own tests, a build on the system
//! allocator) MALLOC-STATS answers as a Valkey built on libc malloc does.

use std::sync::OnceLock;

/// What the allocator offers the MEMORY command.
pub struct AllocatorHooks {
    /// The allocator's statistics report (jemalloc's `malloc_stats_print`).
    pub stats: fn() -> String,
    /// Returns the allocator's unused dirty pages to the system (jemalloc's
    /// `arena.<all>.purge`).
    pub purge: fn(),
    /// The allocator's own figures now (Valkey's `zmalloc_get_allocator_info`), None if
    /// it could not tell.
    pub figures: fn() -> Option<AllocatorFigures>,
}

/// What the allocator says of its memory (jemalloc's `stats.allocated`, `stats.active`,
/// `stats.resident` and the muzzy pages of all arenas), as INFO's `allocator_*` show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocatorFigures {
    /// Bytes in allocations handed out.
    pub allocated: usize,
    /// Bytes in the pages those allocations occupy.
    pub active: usize,
    /// Bytes of the allocator's memory that are resident.
    pub resident: usize,
    /// Bytes in pages given back lazily (MADV_FREE), not yet reclaimed by the system.
    pub muzzy: usize,
}

static HOOKS: OnceLock<AllocatorHooks> = OnceLock::new();

/// Registers the process allocator's hooks; the first registration wins.
pub fn register(hooks: AllocatorHooks) {
    let _ = HOOKS.set(hooks);
}

/// The registered allocator's statistics report, if an allocator registered one.
pub(crate) fn stats() -> Option<String> {
    HOOKS.get().map(|h| (h.stats)())
}

/// The registered allocator's figures now, if it has them.
pub fn sample_figures() -> Option<AllocatorFigures> {
    HOOKS.get().and_then(|h| (h.figures)())
}

/// Purges the registered allocator, then glibc's heap (Node and the C libraries in the
/// process allocate there).
pub(crate) fn purge() {
    if let Some(h) = HOOKS.get() {
        (h.purge)();
    }
    trim_libc_heap();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_libc_heap() {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: malloc_trim takes no pointers and is safe to call at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_libc_heap() {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::testkit::run;
    use crate::Engine;

    static PURGED: AtomicBool = AtomicBool::new(false);

    /// MALLOC-STATS and PURGE reach the registered allocator (this test binary registers
    /// one; no other engine test depends on the libc fallback).
    #[test]
    fn memory_commands_reach_the_registered_allocator() {
        register(AllocatorHooks {
            stats: || "___ Begin test statistics ___\n".into(),
            purge: || PURGED.store(true, Ordering::Relaxed),
            figures: || None,
        });
        let mut e = Engine::new(1);
        e.add_client(1);
        assert_eq!(run(&mut e, &["MEMORY", "MALLOC-STATS"]), "$30\r\n___ Begin test statistics ___\n\r\n");
        assert_eq!(run(&mut e, &["MEMORY", "PURGE"]), "+OK\r\n");
        assert!(PURGED.load(Ordering::Relaxed));
    }
}
