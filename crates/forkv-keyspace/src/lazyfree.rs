//! Freeing data on a background thread (Valkey's lazyfree.c): a replica's old dataset
//! when a full sync replaces it with `replica-lazy-flush yes`. The counters are INFO
//! memory's `lazyfree_pending_objects` (handed over, not yet freed) and
//! `lazyfreed_objects` (freed so far); like Valkey's they are process-wide.

use std::sync::atomic::{AtomicU64, Ordering};

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// Drops `data` (holding `objects` keys) on a new thread. When no thread can be
/// started, it is dropped here, and still counted as freed.
pub fn free_in_background<T: Send + 'static>(data: T, objects: u64) {
    PENDING.fetch_add(objects, Ordering::Relaxed);
    let done = move || {
        PENDING.fetch_sub(objects, Ordering::Relaxed);
        FREED.fetch_add(objects, Ordering::Relaxed);
    };
    let spawned = std::thread::Builder::new().name("forkv-lazyfree".into()).spawn(move || {
        drop(data);
        done();
    });
    // A failed spawn drops the closure, and with it the data, right here.
    if spawned.is_err() {
        PENDING.fetch_sub(objects, Ordering::Relaxed);
        FREED.fetch_add(objects, Ordering::Relaxed);
    }
}

/// Objects handed to a background thread and not yet freed.
pub fn pending_objects() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// Objects freed on background threads since start (or the last CONFIG RESETSTAT).
pub fn freed_objects() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT (Valkey's lazyfreeResetStats).
pub fn reset_stats() {
    FREED.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_frees_are_counted_once_done() {
        let before = freed_objects();
        free_in_background(vec![0u8; 1 << 20], 3);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while freed_objects() < before + 3 {
            assert!(std::time::Instant::now() < deadline, "the background free never finished");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
