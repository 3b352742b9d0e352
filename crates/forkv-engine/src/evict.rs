//! `maxmemory`: freeing memory by evicting keys before commands run (Valkey's
//! `performEvictions` in `evict.c`).
//!
//! Before every command (and from the cron, and right after CONFIG SET maxmemory) the
//! engine compares the memory counted for eviction with `maxmemory`. The memory counted is
//! what the host measures ([`Engine::set_memory_probe`]: the process's Rust allocations
//! plus the client output the host still holds) minus what Valkey does not count: the AOF
//! buffer and replica output, including the stream buffered for a replica during its full
//! sync (`mem_not_counted_for_evict`). Over the limit, keys are
//! deleted one by one in the order the policy picks (`forkv_keyspace::evict`) until the
//! memory is under it again, each deletion propagated as DEL (UNLINK with
//! `lazyfree-lazy-eviction yes`) and counted in `evicted_keys`. One call evicts for at
//! most the time `maxmemory-eviction-tenacity` allows; the cron carries on after that.
//!
//! When nothing can be evicted (noeviction, or no key with a TTL under a volatile policy)
//! and the memory is still over the limit, commands flagged `denyoom` (and every command
//! queued in MULTI) are refused with `-OOM`.

use std::time::{Duration, Instant};

use forkv_keyspace::EvictionPolicy;

use crate::table::{flags, CommandSpec};
use crate::Engine;

/// What an eviction pass achieved (Valkey's `EVICT_OK`/`EVICT_RUNNING`/`EVICT_FAIL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictResult {
    /// Under the limit (or no limit).
    Ok,
    /// Still over the limit, but keys are being evicted (the time budget ran out).
    Running,
    /// Over the limit and nothing can be evicted.
    Fail,
}

impl EvictResult {
    /// The result's name for the host (`ok`, `running`, `fail`).
    pub fn name(self) -> &'static str {
        match self {
            EvictResult::Ok => "ok",
            EvictResult::Running => "running",
            EvictResult::Fail => "fail",
        }
    }
}

/// The `maxmemory` settings.
#[derive(Clone, Copy, Debug)]
pub struct MaxmemoryConfig {
    /// Bytes; 0: no limit.
    pub maxmemory: u64,
    pub policy: EvictionPolicy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// `maxmemory-eviction-tenacity` (0..=100).
    pub tenacity: u32,
    /// `replica-ignore-maxmemory` (default yes): a replica neither evicts nor refuses
    /// commands with `-OOM`, so that it stays an exact copy of its primary.
    pub replica_ignore: bool,
}

impl Default for MaxmemoryConfig {
    fn default() -> Self {
        MaxmemoryConfig { maxmemory: 0, policy: EvictionPolicy::NoEviction, samples: 5, tenacity: 10, replica_ignore: true }
    }
}

/// The memory figures INFO reports about eviction.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvictionState {
    /// Total time spent over `maxmemory`, in ms (`total_eviction_exceeded_time`).
    pub total_exceeded_ms: u64,
    /// Since when the memory is over the limit, if it is.
    pub exceeded_since: Option<Instant>,
}

/// How long one eviction pass may run (Valkey's `evictionTimeLimitUs`): 50 µs per unit
/// of tenacity up to 10, then growing 15% per unit, unlimited at 100.
pub fn time_limit(tenacity: u32) -> Option<Duration> {
    if tenacity <= 10 {
        return Some(Duration::from_micros(50 * u64::from(tenacity)));
    }
    if tenacity < 100 {
        return Some(Duration::from_micros((500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64));
    }
    None
}

/// A probe of the host's memory figure (bytes used), see [`Engine::set_memory_probe`].
pub type MemoryProbe = fn() -> usize;

fn no_probe() -> usize {
    0
}

/// The default probe: no measurement (a bare engine in tests).
pub const NO_PROBE: MemoryProbe = no_probe;

impl Engine {
    /// Installs what measures the process's memory (`used_memory`); the binding installs
    /// its counting allocator.
    pub fn set_memory_probe(&mut self, probe: MemoryProbe) {
        self.memory_probe = probe;
    }

    /// The probe's figure alone: the process's allocations (an RDB's `used-mem` AUX field).
    pub fn allocated_memory(&self) -> usize {
        (self.memory_probe)()
    }

    /// INFO `used_memory`: the probe's figure plus the client output the host holds.
    pub fn used_memory(&self) -> usize {
        (self.memory_probe)() + self.client_output_bytes
    }

    /// INFO `mem_not_counted_for_evict`: the AOF buffer and replica output, wherever they
    /// are (Valkey's freeMemoryGetNotCountedMemory): the stream of the running batch, what
    /// the server holds for the AOF and for replicas still syncing, and replica output
    /// waiting in the host's sockets.
    pub fn mem_not_counted_for_evict(&self) -> usize {
        self.prop.pending().len() + self.stream_buffered_bytes + self.replica_output_bytes
    }

    /// Memory that counts against `maxmemory`.
    pub fn memory_for_eviction(&self) -> usize {
        self.used_memory().saturating_sub(self.mem_not_counted_for_evict())
    }

    /// Evicts keys until the memory is under `maxmemory` or the pass's time is up (see
    /// the module notes), then signals the evicted keys: the host's entry (after CONFIG
    /// SET maxmemory, and the cron's pass).
    ///
    /// The signals go out with the pass that caused them, as Valkey's signalModifiedKey
    /// inside performEvictions: the invalidations reach the outbox now and the host writes
    /// them to the sockets right after. Left for the next command, they would sit in the
    /// outbox while that command's own eviction pass measures the memory, and drive it.
    pub fn perform_evictions(&mut self) -> EvictResult {
        let before = self.ks.stats.evicted_keys;
        let result = self.eviction_pass();
        if self.ks.stats.evicted_keys != before {
            self.process_touches(crate::cmd::multi::BulkChange::Unknown);
        }
        result
    }

    /// One eviction pass; the caller signals the evicted keys (see [`Engine::perform_evictions`]).
    fn eviction_pass(&mut self) -> EvictResult {
        let mm = self.cfg.maxmemory;
        // CLIENT PAUSE holds eviction too (Valkey's isSafeToPerformEvictions).
        if !self.maxmemory_applies() || self.cfg.loading || self.ks.loading || self.is_paused() {
            self.note_exceeded(false);
            return EvictResult::Ok;
        }
        let limit = usize::try_from(mm.maxmemory).unwrap_or(usize::MAX);
        let counted = self.memory_for_eviction();
        if counted <= limit {
            self.note_exceeded(false);
            return EvictResult::Ok;
        }
        self.note_exceeded(true);
        if mm.policy == EvictionPolicy::NoEviction {
            return EvictResult::Fail;
        }
        // A transaction is running (EXEC waits on a host command such as CONFIG SET
        // maxmemory): nothing may change under it; evict once it is over.
        if self.prop.in_transaction() {
            return EvictResult::Running;
        }
        // What must be freed is fixed now; each deletion counts only the memory its
        // own delete released (see `evict_one`), as in Valkey.
        let to_free = (counted - limit) as i64;
        let mut freed = 0i64;
        let start = Instant::now();
        let budget = time_limit(mm.tenacity);
        self.ks.set_now(crate::cmd::now_ms());
        let mut evicted = 0u64;
        // `lazyfree-lazy-eviction`: a big value is freed on the background thread, so its
        // delete frees next to nothing here; Valkey then looks at the real figure every
        // 16 keys and stops once under the limit.
        let lazy = self.ks.lazyfree.eviction;
        while freed < to_free {
            let Some((db, key)) = self.ks.eviction_victim(mm.policy, mm.samples) else {
                return EvictResult::Fail;
            };
            let Some(delta) = self.evict_one(db, key, lazy) else {
                continue;
            };
            freed += delta;
            evicted += 1;
            if lazy && evicted.is_multiple_of(16) && self.memory_for_eviction() <= limit {
                break;
            }
            // Valkey checks the clock every 16 keys.
            if evicted.is_multiple_of(16) && budget.is_some_and(|b| start.elapsed() >= b) {
                self.latency.add_if_needed("eviction-cycle", start.elapsed().as_millis() as u64);
                return EvictResult::Running;
            }
        }
        self.latency.add_if_needed("eviction-cycle", start.elapsed().as_millis() as u64);
        self.note_exceeded(false);
        EvictResult::Ok
    }

    /// Evicts one key; returns the memory its deletion freed (negative when the delete
    /// allocated more than it released), None when the key was gone already.
    ///
    /// The figure is the used-memory delta around the delete alone (Valkey's
    /// performEvictions around dbGenericDelete). What the eviction causes afterwards is
    /// left out on purpose: the touched-key record, the `evicted` event, the invalidation
    /// messages client-side caching sends (they grow the tracking clients' output) and the
    /// propagated DEL. Counting them would make an eviction free less than it costs, and
    /// the loop would then drain the keyspace (the "client tracking don't cause eviction
    /// feedback loop" case of Valkey's unit/maxmemory).
    fn evict_one(&mut self, db: usize, key: forkv_keyspace::Bytes, lazy: bool) -> Option<i64> {
        let del_start = Instant::now();
        let before = (self.memory_probe)() as i64;
        if !self.ks.evict_delete(db, &key) {
            return None;
        }
        let delta = before - (self.memory_probe)() as i64;
        self.latency.add_if_needed("eviction-del", del_start.elapsed().as_millis() as u64);
        self.ks.signal_evicted(db, &key);
        self.prop.log_expired(&[(db, key)], lazy);
        Some(delta)
    }

    /// A `maxmemory` is set and this server enforces it: not a replica with
    /// `replica-ignore-maxmemory yes` (Valkey's isSafeToPerformEvictions).
    pub fn maxmemory_applies(&self) -> bool {
        let mm = &self.cfg.maxmemory;
        mm.maxmemory != 0 && !(self.cfg.is_replica && mm.replica_ignore)
    }

    /// Tracks the time spent over the limit (INFO `*_eviction_exceeded_time`).
    fn note_exceeded(&mut self, over: bool) {
        let s = &mut self.eviction;
        match (over, s.exceeded_since) {
            (true, None) => s.exceeded_since = Some(Instant::now()),
            (false, Some(since)) => {
                s.total_exceeded_ms += since.elapsed().as_millis() as u64;
                s.exceeded_since = None;
            }
            _ => {}
        }
    }

    /// INFO `total_eviction_exceeded_time` and `current_eviction_exceeded_time` (ms).
    pub fn eviction_exceeded_ms(&self) -> (u64, u64) {
        let current = self.eviction.exceeded_since.map_or(0, |s| s.elapsed().as_millis() as u64);
        (self.eviction.total_exceeded_ms + current, current)
    }

    /// Before a command runs: evicts, and tells whether the command must be refused with
    /// `-OOM` (Valkey's processCommand): denyoom commands (EXEC of queued ones) and, in
    /// MULTI, any command but EXEC/DISCARD/QUIT/RESET, when nothing could be freed.
    pub(crate) fn oom_refuses(&mut self, id: u64, spec: &CommandSpec, cmd_flags: u32) -> bool {
        if !self.maxmemory_applies() {
            self.oom_state = false;
            if self.grow_budget_set {
                self.ks.set_grow_budget(usize::MAX);
                self.grow_budget_set = false;
            }
            return false;
        }
        // The caller signals the evicted keys (their invalidations precede the reply).
        self.oom_state = self.eviction_pass() == EvictResult::Fail;
        // A table growth must not itself push the memory over the limit.
        let limit = usize::try_from(self.cfg.maxmemory.maxmemory).unwrap_or(usize::MAX);
        self.ks.set_grow_budget(limit.saturating_sub(self.memory_for_eviction()));
        self.grow_budget_set = true;
        if !self.oom_state {
            return false;
        }
        let Some(client) = self.clients.get(&id) else {
            return false;
        };
        let (queued, _) = client.exec_queued_flags(spec);
        let denyoom = cmd_flags & flags::DENYOOM != 0 || queued & flags::DENYOOM != 0;
        let in_multi = client.multi.is_some() && !matches!(spec.name, "exec" | "discard" | "quit" | "reset");
        denyoom || in_multi
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::Outcome;

    /// A fake memory figure: 100 bytes per key in db 0 plus a base.
    static FAKE_USED: AtomicUsize = AtomicUsize::new(0);
    fn fake_probe() -> usize {
        FAKE_USED.load(Ordering::Relaxed)
    }

    fn feed(e: &mut Engine, cmd: &str) -> String {
        let mut raw = Vec::new();
        let parts: Vec<&str> = cmd.split(' ').collect();
        raw.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
        for p in parts {
            raw.extend_from_slice(format!("${}\r\n{p}\r\n", p.len()).as_bytes());
        }
        assert_eq!(e.feed(1, &raw), Outcome::Done);
        let r = String::from_utf8_lossy(e.reply()).into_owned();
        e.clear_reply();
        r
    }

    #[test]
    fn time_limit_follows_tenacity() {
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(11), Some(Duration::from_micros(575)));
        assert_eq!(time_limit(100), None);
    }

    #[test]
    fn eviction_and_oom_before_commands() {
        let mut e = Engine::new(1);
        e.add_client(1);
        e.set_memory_probe(fake_probe);
        e.set_propagation(true);
        FAKE_USED.store(0, Ordering::Relaxed);
        for i in 0..10 {
            assert_eq!(feed(&mut e, &format!("SET k{i} v")), "+OK\r\n");
        }
        feed(&mut e, "EXPIRE k9 1000");
        e.prop.take();
        // 1000 bytes used, limit 500, noeviction: writes refused, reads served.
        FAKE_USED.store(1000, Ordering::Relaxed);
        e.cfg.maxmemory = MaxmemoryConfig { maxmemory: 500, ..Default::default() };
        assert_eq!(feed(&mut e, "SET x y"), format!("-{}\r\n", crate::errors::OOM));
        assert_eq!(feed(&mut e, "GET k1"), "$1\r\nv\r\n");
        assert_eq!(feed(&mut e, "DEL k1"), ":1\r\n");
        // In MULTI everything but EXEC/DISCARD is refused; EXEC then aborts.
        assert_eq!(feed(&mut e, "MULTI"), "+OK\r\n");
        assert_eq!(feed(&mut e, "GET k2"), format!("-{}\r\n", crate::errors::OOM));
        assert!(feed(&mut e, "EXEC").starts_with("-EXECABORT"));
        // volatile-lru: only k9 can go; the memory stays over, so OOM after that.
        e.cfg.maxmemory.policy = EvictionPolicy::VolatileLru;
        e.ks.lazyfree.eviction = false;
        assert_eq!(feed(&mut e, "SET x y"), format!("-{}\r\n", crate::errors::OOM));
        assert_eq!(e.ks.stats.evicted_keys, 1);
        assert!(!e.ks.exists(0, b"k9"));
        assert!(String::from_utf8_lossy(&e.prop.take()).contains("DEL\r\n$2\r\nk9"));
        // allkeys-random: evicts until under the limit (the probe drops per eviction
        // only in a real process; here the test lowers it once two keys are gone).
        e.cfg.maxmemory.policy = EvictionPolicy::AllkeysRandom;
        e.ks.lazyfree.eviction = true;
        FAKE_USED.store(400, Ordering::Relaxed);
        assert_eq!(feed(&mut e, "SET x y"), "+OK\r\n");
        FAKE_USED.store(1000, Ordering::Relaxed);
        let before = e.ks.len(0);
        assert_eq!(e.perform_evictions(), EvictResult::Fail);
        assert_eq!(e.ks.len(0), 0, "{before} keys were all evicted, still over");
        assert!(String::from_utf8_lossy(&e.prop.take()).contains("UNLINK"));
        assert!(e.eviction_exceeded_ms().0 < 60_000);
        // Inside a running transaction nothing is evicted until it is over.
        e.cfg.maxmemory.maxmemory = 0;
        assert_eq!(feed(&mut e, "SET y z"), "+OK\r\n");
        e.cfg.maxmemory.maxmemory = 500;
        e.prop.begin_transaction();
        assert_eq!(e.perform_evictions(), EvictResult::Running);
        assert!(e.ks.exists(0, b"y"));
        e.prop.end_transaction();
        assert_eq!(e.perform_evictions(), EvictResult::Fail);
        assert!(!e.ks.exists(0, b"y"));
        // A replica with replica-ignore-maxmemory yes (the default) neither evicts nor
        // refuses writes with -OOM, whatever the memory says; with no, it evicts.
        e.cfg.is_replica = true;
        assert!(e.cfg.maxmemory.replica_ignore);
        assert_eq!(feed(&mut e, "SET r v"), "+OK\r\n");
        assert_eq!(e.perform_evictions(), EvictResult::Ok);
        assert!(e.ks.exists(0, b"r"));
        e.cfg.maxmemory.replica_ignore = false;
        assert_eq!(e.perform_evictions(), EvictResult::Fail);
        assert!(!e.ks.exists(0, b"r"));
        assert_eq!(feed(&mut e, "SET r v"), format!("-{}\r\n", crate::errors::OOM));
    }
}
