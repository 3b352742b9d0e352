//! Freeing data on a background thread (Valkey's lazyfree.c over its bio lazy-free job
//! queue).
//!
//! A value whose free effort ([`free_effort`]: about the number of allocations it is made
//! of) is above [`LAZYFREE_THRESHOLD`] is handed to one long-lived thread to be dropped
//! there, so that deleting a set of a million members costs the command O(1). Smaller
//! values are dropped at once: queueing them would cost more than freeing them. Which
//! deletions may go to the thread is [`LazyFreeConfig`] (the `lazyfree-lazy-*` directives);
//! UNLINK and `FLUSHALL`/`FLUSHDB ASYNC` always do, and a flushed database goes whole,
//! whatever its size, as Valkey's emptyDbAsync.
//!
//! The counters are INFO memory's `lazyfree_pending_objects` (handed over, not yet freed)
//! and `lazyfreed_objects` (freed so far); like Valkey's they are process-wide.
//!
//! Fork safety (DESIGN §2 rule 3): the thread may be inside the allocator when the main
//! thread forks. The process allocator is jemalloc, whose `pthread_atfork` handlers take
//! every arena lock before fork and re-initialise them in the child (see forkv-napi's
//! crate docs), so the child never inherits a lock this thread held. The child never
//! touches the queue, and what was pending at fork time is not part of the keyspace it
//! writes; it leaves with `_exit` without freeing it.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

use crate::Value;

/// Valkey's LAZYFREE_THRESHOLD: values with a higher free effort are freed on the thread.
pub const LAZYFREE_THRESHOLD: usize = 64;

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// Which deletions may free in the background (the `lazyfree-lazy-*` directives; Valkey
/// 8.0's defaults are all `yes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LazyFreeConfig {
    /// `lazyfree-lazy-user-del`: DEL frees as UNLINK does.
    pub user_del: bool,
    /// `lazyfree-lazy-user-flush`: FLUSHALL/FLUSHDB (and SCRIPT/FUNCTION FLUSH) without
    /// SYNC or ASYNC free in the background.
    pub user_flush: bool,
    /// `lazyfree-lazy-server-del`: deletions and overwrites the server decides on (a
    /// STORE destination, RENAME's target, SET over a big value, an emptied collection).
    pub server_del: bool,
    /// `lazyfree-lazy-expire`: keys deleted because their TTL passed.
    pub expire: bool,
    /// `lazyfree-lazy-eviction`: keys evicted to stay under `maxmemory`.
    pub eviction: bool,
}

impl Default for LazyFreeConfig {
    fn default() -> Self {
        LazyFreeConfig { user_del: true, user_flush: true, server_del: true, expire: true, eviction: true }
    }
}

/// About how many allocations freeing `v` takes (Valkey's lazyfreeGetFreeEffort): the
/// nodes of a quicklist, the members of a hash table or skiplist, a stream's nodes plus
/// its groups times the first group's pending entries; 1 for a compact encoding.
pub fn free_effort(v: &Value) -> usize {
    match v {
        Value::Str(_) => 1,
        Value::List(l) => l.node_count(),
        Value::Hash(h) if h.listpack().is_none() => h.len(),
        Value::Set(s) if s.is_table() => s.len(),
        Value::ZSet(z) if z.listpack().is_none() => z.len(),
        Value::Hash(_) | Value::Set(_) | Value::ZSet(_) => 1,
        Value::Stream(s) => {
            let first_pel = s.groups.values().next().map_or(0, |g| g.pel.len());
            s.node_count() + s.groups.len() * (1 + first_pel)
        }
    }
}

/// Frees `v`: on the background thread when `lazy` and its free effort is above the
/// threshold (Valkey's freeObjAsync), else here.
pub fn free_value(v: Value, lazy: bool) {
    if lazy && free_effort(&v) > LAZYFREE_THRESHOLD {
        free_in_background(v, 1);
    }
}

type Job = (Box<dyn Any + Send>, u64);

/// The queue of the freeing thread, started on first use; None when no thread could be
/// started (everything is then freed synchronously).
fn queue() -> Option<&'static Sender<Job>> {
    static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            let worker = move || {
                for (data, objects) in rx {
                    drop(data);
                    PENDING.fetch_sub(objects, Ordering::Relaxed);
                    FREED.fetch_add(objects, Ordering::Relaxed);
                }
            };
            std::thread::Builder::new().name("forkv-lazyfree".into()).spawn(worker).ok().map(|_| tx)
        })
        .as_ref()
}

/// Drops `data` (holding `objects` keys or values) on the background thread. When the
/// thread cannot take it, it is dropped here, and still counted as freed.
pub fn free_in_background<T: Send + 'static>(data: T, objects: u64) {
    PENDING.fetch_add(objects, Ordering::Relaxed);
    let job: Job = (Box::new(data), objects);
    let refused = match queue() {
        Some(q) => q.send(job).err().map(|e| e.0),
        None => Some(job),
    };
    // The job comes back only when no thread runs: free it here.
    if let Some((data, objects)) = refused {
        drop(data);
        PENDING.fetch_sub(objects, Ordering::Relaxed);
        FREED.fetch_add(objects, Ordering::Relaxed);
    }
}

/// Counts `objects` as freed in the background although they were freed here: what Valkey
/// hands to its lazy-free thread but forkv cannot move to one (a Lua VM: mlua ties it to
/// the thread that made it). INFO's `lazyfreed_objects` then moves as Valkey's does.
pub fn count_freed_here(objects: u64) {
    FREED.fetch_add(objects, Ordering::Relaxed);
}

/// Objects handed to the background thread and not yet freed.
pub fn pending_objects() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// Objects freed on the background thread since start (or the last CONFIG RESETSTAT).
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
    use crate::types::set::SetValue;

    fn wait_until(done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "the background free never finished");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn background_frees_are_counted_once_done() {
        let before = freed_objects();
        free_in_background(vec![0u8; 1 << 20], 3);
        wait_until(|| freed_objects() >= before + 3);
    }

    #[test]
    fn effort_is_the_allocation_count_of_big_encodings_and_one_for_compact_ones() {
        let lim = crate::EncodingLimits::default();
        let set_of = |n: usize| {
            let mut s = SetValue::new();
            for i in 0..n {
                s.add(format!("m{i}").as_bytes(), &lim);
            }
            Value::Set(Box::new(s))
        };
        assert_eq!(free_effort(&set_of(2)), 1);
        let big = set_of(1000);
        assert_eq!(big.encoding_name(), "hashtable");
        assert_eq!(free_effort(&big), 1000);
        let before = freed_objects();
        free_value(big, true);
        wait_until(|| freed_objects() > before);
    }
}
