//! Eviction must not feed on itself (Valkey's unit/maxmemory "client tracking don't cause
//! eviction feedback loop"): evicting a key that tracking clients cache leaves records of
//! the deletion behind (the touched key for WATCH and client-side caching, then one
//! invalidation message per tracking client). If that memory counted against what the
//! eviction still has to free, every eviction would free less than it costs and the pass
//! would drain the keyspace. Valkey measures the memory of the delete alone; so does forkv.
//!
//! The memory figure here is real: this test binary counts its allocations the way the
//! binding's allocator does for `used_memory` (bytes in use), and installs that count as
//! the engine's memory probe. One test only, so that no other test allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use forkv_engine::evict::{EvictResult, MaxmemoryConfig};
use forkv_keyspace::EvictionPolicy;
use forkv_server::Server;
use forkv_test_support::command as cmd;

struct Counting;

static USED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator unchanged; the counter does not
// affect the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            USED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        USED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            USED.fetch_sub(layout.size(), Ordering::Relaxed);
            USED.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn used() -> usize {
    USED.load(Ordering::Relaxed)
}

fn run(s: &mut Server, id: u64, args: &[&str]) -> String {
    s.feed(id, &cmd(args));
    let reply = String::from_utf8_lossy(s.engine.reply()).into_owned();
    s.engine.clear_reply();
    reply
}

const WRITER: u64 = 100;
const TRACKERS: u64 = 10;
const KEYS: usize = 300;

fn key(j: usize) -> String {
    format!("{j}{}", "x".repeat(1000))
}

#[test]
fn invalidations_of_evicted_keys_do_not_drive_more_evictions() {
    let mut s = Server::new(16);
    s.engine.set_memory_probe(used);
    s.add_client(WRITER);
    for id in 1..=TRACKERS {
        s.add_client(id);
        // What the host does for HELLO 3 (HELLO is the host's command).
        if let Some(c) = s.engine.client_mut(id) {
            c.proto = 3;
        }
        assert_eq!(run(&mut s, id, &["CLIENT", "TRACKING", "on"]), "+OK\r\n");
    }
    // 300 keys with long names and short values, each cached by every tracking client.
    for j in 0..KEYS {
        let k = key(j);
        assert_eq!(run(&mut s, WRITER, &["SET", &k, "x"]), "+OK\r\n");
        for id in 1..=TRACKERS {
            assert_eq!(run(&mut s, id, &["GET", &k]), "$1\r\nx\r\n");
        }
    }
    assert!(s.take_deliveries().is_empty());

    // A limit 40,000 bytes under what is used: a few dozen keys must go (each frees its
    // 1 KB name, its value, its table slots), not the whole keyspace.
    s.engine.cfg.maxmemory = MaxmemoryConfig {
        maxmemory: (used() - 40_000) as u64,
        policy: EvictionPolicy::AllkeysLru,
        tenacity: 100,
        ..MaxmemoryConfig::default()
    };
    // What the host does after CONFIG SET maxmemory: an eviction pass, then it writes
    // what the pass queued for other clients to their sockets.
    assert_eq!(s.evict(), EvictResult::Ok);
    let evicted = s.engine.ks.stats.evicted_keys;
    assert!((10..=50).contains(&evicted), "{evicted} keys evicted for 40,000 bytes");
    assert_eq!(s.engine.ks.len(0), KEYS - evicted as usize);
    // The invalidations went out with the pass: a RESP3 push per evicted key to every
    // tracking client.
    let deliveries = s.take_deliveries();
    let to_trackers = deliveries.iter().filter(|(id, _)| (1..=TRACKERS).contains(id)).count();
    assert_eq!(to_trackers as u64, TRACKERS, "every tracking client is told");
    for (_, bytes) in &deliveries {
        let pushes = String::from_utf8_lossy(bytes).matches(">2\r\n$10\r\ninvalidate\r\n").count();
        assert_eq!(pushes as u64, evicted, "one invalidation per evicted key");
    }
    drop(deliveries);

    // The next commands find the memory under the limit: nothing more is evicted.
    assert_eq!(run(&mut s, WRITER, &["PING"]), "+PONG\r\n");
    assert_eq!(run(&mut s, WRITER, &["DBSIZE"]), format!(":{}\r\n", KEYS - evicted as usize));
    assert_eq!(s.engine.ks.stats.evicted_keys, evicted);
}
