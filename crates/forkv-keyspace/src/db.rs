//! The keyspace: numbered databases of key -> value with a volatile-key index.
//!
//! Every mutation of a key goes through [`Keyspace::touch`] (directly or via the helpers
//! here): that is the one place that counts changes for `save` rules
//! (`rdb_changes_since_last_save`) and records touched keys for WATCH and blocked
//! clients. Reads take `&self` on the tables and write nothing into shared pages, so a
//! fork child's copy of the keyspace stays shared with the parent.

use crate::access::{self, LfuParams};
use crate::evict::{self, EvictionPool, Policy};
use crate::lazyfree::{self, LazyFreeConfig};
use crate::dict::{Dict, ResizePolicy};
use crate::notify::{self, Notifier};
use crate::types::EncodingLimits;
use crate::value::{Bytes, Value, ValueRef};

/// Milliseconds since the Unix epoch.
pub type UnixMs = i64;

/// A key a mutation touched (see [`Keyspace::touch`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touched {
    pub db: usize,
    pub key: Bytes,
    /// Deleted by the server (expiry, eviction) rather than by the running command.
    pub by_server: bool,
}

/// One numbered database.
#[derive(Default)]
pub struct Db {
    /// key -> value, with each key's access clock (see [`crate::access`]).
    pub keys: Dict<Value, u32>,
    /// key -> absolute expiry time (ms); only keys with a TTL appear here.
    pub expires: Dict<UnixMs>,
    /// Where the active expire cycle resumes in `expires`.
    expire_cursor: u64,
}

impl Db {
    /// Expiry time of a key, if it has one.
    pub fn expire_of(&self, key: &[u8]) -> Option<UnixMs> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    fn set_policy(&mut self, p: ResizePolicy) {
        self.keys.set_resize_policy(p);
        self.expires.set_resize_policy(p);
    }
}

/// Counters INFO stats reports about the keyspace.
#[derive(Default, Clone, Copy, Debug)]
pub struct KeyspaceStats {
    /// Keys deleted because their TTL passed (lazily or actively).
    pub expired_keys: u64,
    /// Successful key lookups by read commands.
    pub keyspace_hits: u64,
    /// Failed key lookups by read commands.
    pub keyspace_misses: u64,
    /// Times the active expire cycle stopped on its time budget.
    pub expired_time_cap_reached_count: u64,
    /// Estimated percentage of keys already logically expired (last active cycle).
    pub expired_stale_perc: f64,
    /// Total time spent in active expire cycles (µs).
    pub expire_cycle_cpu_us: u64,
    /// Keys deleted to stay under `maxmemory`.
    pub evicted_keys: u64,
    /// RESTORE payloads validated entry by entry (INFO `dump_payload_sanitizations`):
    /// forkv validates every payload so, whatever `sanitize-dump-payload` says.
    pub dump_payload_sanitizations: u64,
}

/// All databases plus the bookkeeping shared by every mutation.
pub struct Keyspace {
    dbs: Vec<Db>,
    /// Changes since the last successful save (Valkey: `server.dirty`).
    pub dirty: u64,
    /// Keyspace statistics.
    pub stats: KeyspaceStats,
    /// Time used for expiry decisions; set once per command batch (Valkey caches mstime).
    now: UnixMs,
    /// When set, every touched (db, key) is recorded for the host to drain.
    track_touches: bool,
    /// A FLUSHALL happened since the host last asked.
    flushed_all: bool,
    touched: Vec<Touched>,
    /// A database was emptied while touches were recorded (see [`Keyspace::take_flush_signal`]).
    flush_signal: bool,
    /// Set when a whole database was flushed while tracking (WATCH on any key fails).
    flushed: Vec<usize>,
    /// When set, keys deleted because their TTL passed (lazily or by the active cycle)
    /// are recorded for the propagation stream (Valkey propagates a DEL/UNLINK for each).
    record_expired: bool,
    expired: Vec<(usize, Bytes)>,
    rng: u64,
    /// Active expiry may be disabled for tests (DEBUG SET-ACTIVE-EXPIRE 0).
    pub active_expire_enabled: bool,
    /// `active-expire-effort` rescaled to 0..=9 (see [`Keyspace::set_active_expire_effort`]).
    expire_effort: usize,
    /// CLIENT PAUSE holds expiry (Valkey's PAUSE_ACTION_EXPIRE): the active cycle does
    /// nothing and reads see a key past its TTL as absent without deleting it, so the
    /// dataset stays exactly as it was when the pause began.
    pub expire_paused: bool,
    /// CLIENT NO-TOUCH: the running command's lookups leave the access clocks alone.
    pub no_touch: bool,
    /// Commands are being replayed from an AOF: no key counts as expired and an expire
    /// time in the past is stored rather than deleting the key (Valkey's `keyIsExpired`
    /// and `checkAlreadyExpired` during loading), so a replay rebuilds exactly what was
    /// written; the loaded server expires those keys afterwards.
    pub loading: bool,
    /// Expiry belongs to the primary: see [`Keyspace::set_replica`].
    replica: bool,
    /// `replica-read-only yes`: on a replica, even a write lookup leaves a key past its
    /// TTL stored (Valkey's `is_ro_replica` in `lookupKey`).
    pub replica_read_only: bool,
    /// The running command came from the primary's link (Valkey's CLIENT_PRIMARY): on a
    /// replica it sees every key as live, whatever its TTL says.
    pub from_primary: bool,
    /// Keys given a TTL by clients of a writable replica (Valkey's
    /// `replicaKeysWithExpire`): the primary knows nothing of them, so the replica's own
    /// cycle expires them. Key to a bit mask of the dbs (0..63) holding it with a TTL.
    replica_keys_with_expire: std::collections::HashMap<Bytes, u64>,
    /// Thresholds of the compact collection encodings (`*-max-listpack-*` configs).
    limits: EncodingLimits,
    /// A fork child shares our pages: reads must not write access clocks.
    child_active: bool,
    /// The access clocks count frequency (an LFU `maxmemory-policy`) instead of recency.
    lfu: bool,
    /// Keyspace notifications raised by commands and by expiry.
    pub notify: Notifier,
    /// `lfu-log-factor` and `lfu-decay-time`.
    lfu_params: LfuParams,
    /// The best eviction candidates sampled so far (see [`crate::evict`]).
    evict_pool: EvictionPool,
    /// The database the random eviction policies looked at last.
    evict_next_db: usize,
    /// The `maxmemory-policy` (it decides what the clocks count and what RDB files keep).
    policy: Policy,
    /// Which deletions free big values on the background thread (`lazyfree-lazy-*`).
    pub lazyfree: LazyFreeConfig,
}

impl Keyspace {
    /// `databases` empty databases.
    pub fn new(databases: usize) -> Self {
        let mut dbs = Vec::with_capacity(databases);
        dbs.resize_with(databases.max(1), Db::default);
        Keyspace {
            dbs,
            dirty: 0,
            stats: KeyspaceStats::default(),
            now: 0,
            track_touches: false,
            flushed_all: false,
            touched: Vec::new(),
            flush_signal: false,
            flushed: Vec::new(),
            record_expired: false,
            expired: Vec::new(),
            rng: 0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id()),
            active_expire_enabled: true,
            expire_effort: 0,
            expire_paused: false,
            no_touch: false,
            loading: false,
            replica: false,
            replica_read_only: true,
            from_primary: false,
            replica_keys_with_expire: std::collections::HashMap::new(),
            limits: EncodingLimits::default(),
            child_active: false,
            lfu: false,
            notify: Notifier::default(),
            lfu_params: LfuParams::default(),
            evict_pool: EvictionPool::default(),
            lazyfree: LazyFreeConfig::default(),
            evict_next_db: 0,
            policy: Policy::NoEviction,
        }
    }

    /// The thresholds collection writes use to pick compact or big encodings.
    pub fn encoding_limits(&self) -> &EncodingLimits {
        &self.limits
    }

    /// Sets those thresholds (the host calls this when CONFIG changes one of the
    /// `list-max-listpack-size`, `hash-max-listpack-*`, `set-max-*`, `zset-max-listpack-*`
    /// directives). Existing values keep their encoding until next written.
    pub fn set_encoding_limits(&mut self, limits: EncodingLimits) {
        self.limits = limits;
    }

    /// Number of databases.
    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// Read access to one database (used by RDB/AOF writers in the fork child).
    pub fn db(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    /// Sets the clock used for expiry checks.
    pub fn set_now(&mut self, now: UnixMs) {
        self.now = now;
    }

    /// The clock used for expiry checks.
    pub fn now(&self) -> UnixMs {
        self.now
    }

    /// True when a command setting the expire time `at` should delete the key instead
    /// (the time has passed), which is never the case while loading nor on a replica:
    /// the key is stored with its past expiry and the primary's DEL removes it (Valkey's
    /// `checkAlreadyExpired`).
    pub fn already_expired(&self, at: UnixMs) -> bool {
        at <= self.now && !self.loading && !self.replica
    }

    /// A fast pseudo-random number (xorshift64*), for RANDOMKEY and sampling.
    pub fn random(&mut self) -> u64 {
        xorshift64star(&mut self.rng)
    }

    /// Tells every table whether a fork child shares our pages (Valkey's
    /// `updateDictResizePolicy`): while one does, resizes are avoided.
    pub fn set_child_active(&mut self, active: bool) {
        let p = if active {
            ResizePolicy::Avoid
        } else {
            ResizePolicy::Enable
        };
        for db in &mut self.dbs {
            db.set_policy(p);
        }
        self.child_active = active;
    }

    /// Turns recording of touched keys on or off (on while any client WATCHes or blocks).
    pub fn set_track_touches(&mut self, on: bool) {
        self.track_touches = on;
        if !on {
            self.touched.clear();
            self.flushed.clear();
            self.flush_signal = false;
        }
    }

    /// Takes the keys touched since the last call, and the databases flushed.
    pub fn drain_touched(&mut self) -> (Vec<Touched>, Vec<usize>) {
        (
            std::mem::take(&mut self.touched),
            std::mem::take(&mut self.flushed),
        )
    }

    /// True once after a database was emptied (FLUSHDB, FLUSHALL, a load replacing the
    /// data) while touches were recorded: client-side caching then invalidates every key
    /// (SWAPDB moves data without emptying it and does not count).
    pub fn take_flush_signal(&mut self) -> bool {
        std::mem::take(&mut self.flush_signal)
    }

    /// The mutation choke point: every change to a key's value or TTL reports here.
    pub fn touch(&mut self, db: usize, key: &[u8], changes: u64) {
        self.dirty += changes;
        if self.track_touches {
            self.touched.push(Touched { db, key: key.into(), by_server: false });
        }
    }

    /// A deletion the server decided on (expiry, eviction), not the running command:
    /// as [`Keyspace::touch`], marked so that client-side caching's NOLOOP does not
    /// hide it from the client whose command happened to trigger it.
    fn touch_by_server(&mut self, db: usize, key: &[u8]) {
        self.dirty += 1;
        if self.track_touches {
            self.touched.push(Touched { db, key: key.into(), by_server: true });
        }
    }

    fn is_expired_at(&self, db: usize, key: &[u8]) -> bool {
        if self.loading || (self.replica && self.from_primary) {
            return false;
        }
        match self.dbs[db].expire_of(key) {
            Some(at) => at <= self.now,
            None => false,
        }
    }

    /// Deletes `key` when its TTL has passed. Returns true when the key is logically
    /// expired: deleted, or (while expiry is paused, or on a replica) left in place but
    /// to be treated as absent by the caller, a read.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        if !self.is_expired_at(db, key) {
            return false;
        }
        if self.expire_paused || self.replica {
            return true;
        }
        self.expire_now(db, key);
        true
    }

    /// The expiry on a write path: a key past its TTL is deleted even while expiry is
    /// paused (only the clients a pause never holds write then, as Valkey's replicas),
    /// and by a client of a writable replica (Valkey's `EXPIRE_FORCE_DELETE_EXPIRED`);
    /// a read-only replica keeps it for its primary's DEL. True when the key is
    /// logically expired (the caller treats it as absent).
    fn expire_for_write(&mut self, db: usize, key: &[u8]) -> bool {
        if !self.is_expired_at(db, key) {
            return false;
        }
        if !(self.replica && self.replica_read_only) {
            self.expire_now(db, key);
        }
        true
    }

    /// Deletes an expired key with its accounting and event.
    fn expire_now(&mut self, db: usize, key: &[u8]) {
        if let Some((value, _)) = self.remove_entry(db, key) {
            lazyfree::free_value(value, self.lazyfree.expire);
        }
        self.stats.expired_keys += 1;
        self.touch_by_server(db, key);
        if self.record_expired {
            self.expired.push((db, key.into()));
        }
        self.notify.raise(notify::EXPIRED, "expired", db, key);
    }

    /// Records (or stops recording) the keys deleted by expiry, for propagation.
    pub fn set_record_expired(&mut self, on: bool) {
        self.record_expired = on;
        if !on {
            self.expired.clear();
        }
    }

    /// True when some expired key was recorded since the last [`Keyspace::take_expired`].
    pub fn has_expired(&self) -> bool {
        !self.expired.is_empty()
    }

    /// The keys deleted by expiry since the last call, in deletion order, as (db, key).
    pub fn take_expired(&mut self) -> Vec<(usize, Bytes)> {
        std::mem::take(&mut self.expired)
    }

    /// Lookup for a read command: expires lazily, records the access in the key's clock
    /// (see [`Keyspace::record_access`]) and counts hits and misses; one table lookup
    /// for a key that has no TTL.
    pub fn lookup_read(&mut self, db: usize, key: &[u8]) -> Option<ValueRef<'_>> {
        let expired = self.expire_if_needed(db, key);
        if expired || self.child_active || self.no_touch {
            return self.count_lookup(db, key, expired);
        }
        let (lfu, now) = (self.lfu.then_some(self.lfu_params), self.now);
        let r = if lfu.is_some() { self.random() } else { 0 };
        let found = self.dbs[db].keys.get_touch(key, |m| *m = access::accessed(*m, lfu, now, r));
        count_hit_or_miss(&mut self.stats, &mut self.notify, db, key, found)
    }

    /// Lookup for a read that must not count as an access (OBJECT, TYPE: Valkey's
    /// `LOOKUP_NOTOUCH`): expires lazily and counts hits and misses.
    pub fn lookup_read_no_touch(&mut self, db: usize, key: &[u8]) -> Option<ValueRef<'_>> {
        let expired = self.expire_if_needed(db, key);
        self.count_lookup(db, key, expired)
    }

    /// A read lookup's accounting: keyspace hits and misses, the `keymiss` event.
    /// `expired`: the key is logically expired (still stored while expiry is paused).
    fn count_lookup(&mut self, db: usize, key: &[u8], expired: bool) -> Option<ValueRef<'_>> {
        let found = if expired && (self.expire_paused || self.replica) { None } else { self.dbs[db].keys.get_ref(key) };
        count_hit_or_miss(&mut self.stats, &mut self.notify, db, key, found)
    }

    /// Lookup for a write command: expires lazily, no hit/miss counting.
    pub fn lookup_write(&mut self, db: usize, key: &[u8]) -> Option<&mut Value> {
        if self.expire_for_write(db, key) {
            return None;
        }
        self.record_access(db, key);
        self.dbs[db].keys.get_mut(key)
    }

    /// Records an access to `key` in its clock, unless a fork child shares our pages
    /// (the write would copy the page: Valkey skips it too while a child exists).
    fn record_access(&mut self, db: usize, key: &[u8]) {
        if self.child_active || self.no_touch {
            return;
        }
        let (lfu, now) = (self.lfu.then_some(self.lfu_params), self.now);
        let r = if lfu.is_some() { self.random() } else { 0 };
        if let Some(m) = self.dbs[db].keys.meta_mut(key) {
            *m = access::accessed(*m, lfu, now, r);
        }
    }

    /// Bytes a table growth may allocate now (see `Dict::set_grow_budget`); the engine
    /// sets what is left under `maxmemory` before each command.
    pub fn set_grow_budget(&mut self, bytes: usize) {
        for db in &mut self.dbs {
            db.keys.set_grow_budget(bytes);
            db.expires.set_grow_budget(bytes);
        }
    }

    /// Sets the `maxmemory-policy`: LFU policies make the clocks count frequency.
    pub fn set_eviction_policy(&mut self, policy: Policy) {
        self.policy = policy;
        self.lfu = policy.is_lfu();
    }

    /// The `maxmemory-policy` (RDB files keep each key's idle time under the LRU
    /// policies and its frequency under the LFU ones, as Valkey's do).
    pub fn eviction_policy(&self) -> Policy {
        self.policy
    }

    /// `lfu-log-factor` and `lfu-decay-time`.
    pub fn lfu_params(&self) -> LfuParams {
        self.lfu_params
    }

    /// Sets `lfu-log-factor` and `lfu-decay-time`.
    pub fn set_lfu_params(&mut self, params: LfuParams) {
        self.lfu_params = params;
    }

    /// The next key to evict under `policy`, sampling `samples` keys per database (see
    /// [`crate::evict`]); None when the policy finds no candidate (noeviction, or no
    /// key with a TTL under a volatile policy). Reads only: the caller deletes.
    pub fn eviction_victim(&mut self, policy: Policy, samples: usize) -> Option<(usize, Bytes)> {
        let Keyspace { dbs, evict_pool, evict_next_db, rng, now, lfu_params, .. } = self;
        let mut rand = || xorshift64star(rng);
        let s = evict::Sampling { policy, samples, now_ms: *now, lfu: *lfu_params };
        evict::pick(dbs, evict_pool, evict_next_db, s, &mut rand)
    }

    /// Deletes a key to free memory (counted in `evicted_keys`) and signals it (WATCH,
    /// client-side caching, the `evicted` event); true when it existed.
    pub fn evict(&mut self, db: usize, key: &[u8]) -> bool {
        if !self.evict_delete(db, key) {
            return false;
        }
        self.signal_evicted(db, key);
        true
    }

    /// The deletion half of [`Keyspace::evict`]: removes the key and frees its value, and
    /// nothing else, so that the caller can measure the memory the deletion alone frees
    /// (Valkey's performEvictions measures `dbGenericDelete` alone: the records the
    /// signals leave behind, the invalidation messages they cause and the propagated DEL
    /// must not count as memory that still has to be freed). Then call
    /// [`Keyspace::signal_evicted`]. True when the key existed.
    pub fn evict_delete(&mut self, db: usize, key: &[u8]) -> bool {
        let Some((value, _)) = self.remove_entry(db, key) else {
            return false;
        };
        lazyfree::free_value(value, self.lazyfree.eviction);
        self.stats.evicted_keys += 1;
        true
    }

    /// The signalling half of [`Keyspace::evict`], after [`Keyspace::evict_delete`].
    pub fn signal_evicted(&mut self, db: usize, key: &[u8]) {
        self.touch_by_server(db, key);
        self.notify.raise(notify::EVICTED, "evicted", db, key);
    }

    /// Selects what the access clocks count: frequency (LFU policies) or recency. As in
    /// Valkey, existing clocks are reinterpreted, not converted.
    pub fn set_lfu(&mut self, on: bool) {
        self.lfu = on;
    }

    /// True when the access clocks count frequency.
    pub fn lfu(&self) -> bool {
        self.lfu
    }

    /// The key's raw access clock (DEBUG OBJECT `lru:`).
    pub fn access_clock(&self, db: usize, key: &[u8]) -> Option<u32> {
        self.peek(db, key)?;
        self.dbs[db].keys.meta(key).copied()
    }

    /// Seconds since the key was last accessed (OBJECT IDLETIME); reads nothing else.
    pub fn idle_seconds(&self, db: usize, key: &[u8]) -> Option<u64> {
        self.peek(db, key)?;
        self.dbs[db].keys.meta(key).map(|m| access::idle_seconds(*m, self.now))
    }

    /// The key's access frequency counter, decayed to now (OBJECT FREQ).
    pub fn frequency(&self, db: usize, key: &[u8]) -> Option<u8> {
        self.peek(db, key)?;
        let decay = self.lfu_params.decay_time;
        self.dbs[db].keys.meta(key).map(|m| access::decayed_counter(*m, self.now, decay))
    }

    /// Sets the key's clock as if it was last accessed `secs` ago (RESTORE IDLETIME).
    pub fn set_idle_seconds(&mut self, db: usize, key: &[u8], secs: u64) {
        let now = self.now;
        if let Some(m) = self.dbs[db].keys.meta_mut(key) {
            *m = access::with_idle(now, secs);
        }
    }

    /// Sets the key's frequency counter (RESTORE FREQ).
    pub fn set_frequency(&mut self, db: usize, key: &[u8], freq: u8) {
        let now = self.now;
        if let Some(m) = self.dbs[db].keys.meta_mut(key) {
            *m = access::with_counter(now, freq);
        }
    }

    /// Lookup that neither expires nor counts (TYPE-free peeks such as EXISTS after
    /// expiry was already handled, or OBJECT).
    pub fn peek(&self, db: usize, key: &[u8]) -> Option<ValueRef<'_>> {
        if self.is_expired_at(db, key) {
            return None;
        }
        self.dbs[db].keys.get_ref(key)
    }

    /// The stored value, expired or not (Valkey's `dbFind`, as DEBUG OBJECT uses it).
    pub fn find(&self, db: usize, key: &[u8]) -> Option<ValueRef<'_>> {
        self.dbs[db].keys.get_ref(key)
    }

    /// True when the key exists (expiring it first if due).
    pub fn exists(&mut self, db: usize, key: &[u8]) -> bool {
        !self.expire_if_needed(db, key) && self.dbs[db].keys.contains_key(key)
    }

    /// Stores a value. `keep_ttl` keeps an existing TTL; otherwise any TTL is cleared.
    pub fn set(&mut self, db: usize, key: &[u8], value: Value, keep_ttl: bool) {
        let fresh = access::fresh(self.lfu, self.now);
        let lfu = self.lfu;
        let lazy = self.lazyfree.server_del;
        let d = &mut self.dbs[db];
        // A key the table refuses (longer than MAX_KEY_LEN) is not stored: the command
        // boundary (Engine::run) and the loaders refuse those first.
        // A new value is a new object: its recency starts now, while an LFU counter
        // survives the overwrite (Valkey's dbSetValue). A big old value is freed on the
        // background thread under `lazyfree-lazy-server-del` (Valkey's dbSetValue too).
        let keep_old = |old: &Value| lazy && lazyfree::free_effort(old) > lazyfree::LAZYFREE_THRESHOLD;
        let set = d.keys.set_keeping(key, value, keep_old, |existed| (!(existed && lfu)).then_some(fresh));
        let Ok((existed, old)) = set else {
            return;
        };
        if let Some(old) = old {
            lazyfree::free_value(old, true);
        }
        if !existed {
            self.notify.raise(notify::NEW, "new", db, key);
        }
        let d = &mut self.dbs[db];
        if !keep_ttl && !d.expires.is_empty() {
            d.expires.remove(key);
        }
        self.touch(db, key, 1);
    }

    /// Deletes a key the server decided to delete (`lazyfree-lazy-server-del` says how
    /// its value is freed); true when it existed.
    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        self.delete_freeing(db, key, self.lazyfree.server_del)
    }

    /// Deletes a key; a big value is freed on the background thread when `lazy` (UNLINK,
    /// DEL under `lazyfree-lazy-user-del`). True when it existed.
    pub fn delete_freeing(&mut self, db: usize, key: &[u8], lazy: bool) -> bool {
        if self.expire_for_write(db, key) {
            return false;
        }
        match self.remove_entry(db, key) {
            Some((value, _)) => {
                lazyfree::free_value(value, lazy);
                self.touch(db, key, 1);
                true
            }
            None => false,
        }
    }

    /// Removes a key and its TTL without accounting; returns the value.
    fn remove_entry(&mut self, db: usize, key: &[u8]) -> Option<(Value, Option<UnixMs>)> {
        let d = &mut self.dbs[db];
        let v = d.keys.remove(key)?;
        let ttl = if d.expires.is_empty() {
            None
        } else {
            d.expires.remove(key)
        };
        Some((v, ttl))
    }

    /// Takes a key out (value and TTL), for RENAME/MOVE. Counts as a mutation.
    pub fn take(&mut self, db: usize, key: &[u8]) -> Option<(Value, Option<UnixMs>)> {
        if self.expire_for_write(db, key) {
            return None;
        }
        let out = self.remove_entry(db, key)?;
        self.touch(db, key, 1);
        Some(out)
    }

    /// Puts a taken key back, with its TTL (replacing whatever is there).
    pub fn put(&mut self, db: usize, key: &[u8], value: Value, expire: Option<UnixMs>) {
        self.set(db, key, value, false);
        if let Some(at) = expire {
            // Infallible: the key is in the keys table: within MAX_KEY_LEN, cannot be refused.
            let _ = self.dbs[db].expires.insert(key, at);
            self.remember_replica_key_with_expire(db, key);
        }
    }

    /// [`Keyspace::put`] of a key that must be new (a loader's): one hash and one walk
    /// of the table. Returns false, storing nothing, when the key exists or the table
    /// refuses it (longer than `MAX_KEY_LEN`: the loaders refuse those first).
    pub fn put_if_absent(&mut self, db: usize, key: &[u8], value: Value, expire: Option<UnixMs>) -> bool {
        let fresh = access::fresh(self.lfu, self.now);
        let d = &mut self.dbs[db];
        if d.keys.insert_if_absent(key, value, fresh) != Ok(true) {
            return false;
        }
        // What `set` does after storing a new key.
        self.notify.raise(notify::NEW, "new", db, key);
        let d = &mut self.dbs[db];
        if !d.expires.is_empty() {
            d.expires.remove(key);
        }
        self.touch(db, key, 1);
        if let Some(at) = expire {
            // Infallible: the key is in the keys table: within MAX_KEY_LEN, cannot be refused.
            let _ = self.dbs[db].expires.insert(key, at);
            self.remember_replica_key_with_expire(db, key);
        }
        true
    }

    /// Sets an absolute expiry on an existing key. Returns false when the key is absent.
    pub fn set_expire(&mut self, db: usize, key: &[u8], at: UnixMs) -> bool {
        let d = &mut self.dbs[db];
        if !d.keys.contains_key(key) {
            return false;
        }
        match d.expires.get_mut(key) {
            Some(t) => *t = at,
            None => {
                // Infallible: the key is in the keys table: within MAX_KEY_LEN, cannot be refused.
                let _ = d.expires.insert(key, at);
            }
        }
        self.remember_replica_key_with_expire(db, key);
        self.touch(db, key, 1);
        true
    }

    /// Makes this keyspace a replica's (or a primary's again). On a replica a key past
    /// its TTL reads as missing but stays stored until the primary's DEL arrives (Valkey's
    /// `expireIfNeeded` with a `primary_host`); the primary's own commands see it live; a
    /// write by a client of a writable replica deletes it; the active cycle only expires
    /// the keys such clients gave a TTL. Either switch forgets those keys (a replica
    /// attached to a primary starts from its dataset; a primary expires everything).
    pub fn set_replica(&mut self, on: bool) {
        if self.replica != on {
            self.replica = on;
            self.replica_keys_with_expire.clear();
        }
    }

    /// True when [`Keyspace::set_replica`] made this a replica's keyspace.
    pub fn is_replica(&self) -> bool {
        self.replica
    }

    /// Records a TTL set by a client of a writable replica (Valkey's
    /// `rememberReplicaKeyWithExpire`; dbs past 63 are not tracked, as in Valkey).
    fn remember_replica_key_with_expire(&mut self, db: usize, key: &[u8]) {
        if !self.replica || self.replica_read_only || self.from_primary || self.loading || db >= 64 {
            return;
        }
        *self.replica_keys_with_expire.entry(key.into()).or_insert(0) |= 1u64 << db;
    }

    /// Number of keys [`Keyspace::remember_replica_key_with_expire`] tracks.
    pub fn replica_keys_with_expire(&self) -> usize {
        self.replica_keys_with_expire.len()
    }

    /// A replica's active expiry (Valkey's `expireReplicaKeys`): deletes the tracked
    /// writable-replica keys whose TTL passed and forgets the ones that no longer have
    /// a TTL in any db.
    fn expire_replica_keys(&mut self) {
        if self.replica_keys_with_expire.is_empty() {
            return;
        }
        let now = self.now;
        let tracked: Vec<(Bytes, u64)> = self.replica_keys_with_expire.iter().map(|(k, m)| (k.clone(), *m)).collect();
        for (key, mask) in tracked {
            let mut left = 0u64;
            for db in (0..self.dbs.len().min(64)).filter(|db| mask & (1u64 << db) != 0) {
                match self.dbs[db].expire_of(&key) {
                    Some(at) if at <= now => self.expire_now(db, &key),
                    Some(_) => left |= 1u64 << db,
                    None => {}
                }
            }
            if left == 0 {
                self.replica_keys_with_expire.remove(&key);
            } else if let Some(m) = self.replica_keys_with_expire.get_mut(&key) {
                *m = left;
            }
        }
    }

    /// Removes a TTL; true when there was one.
    pub fn persist(&mut self, db: usize, key: &[u8]) -> bool {
        if self.dbs[db].expires.remove(key).is_some() {
            self.touch(db, key, 1);
            true
        } else {
            false
        }
    }

    /// The TTL of a live key: `None` when the key is absent, `Some(None)` when it has no TTL.
    pub fn expire_time(&mut self, db: usize, key: &[u8]) -> Option<Option<UnixMs>> {
        if self.expire_if_needed(db, key) {
            return None;
        }
        let d = &self.dbs[db];
        if !d.keys.contains_key(key) {
            return None;
        }
        Some(d.expire_of(key))
    }

    /// Number of keys in a database (including logically expired ones not yet reclaimed,
    /// as DBSIZE does in Valkey).
    /// Sizes the empty tables of `db` for a load's `keys` keys, `expires` of them with a
    /// TTL (RDB's RESIZEDB hint; see [`Dict::reserve_empty`]).
    pub fn reserve(&mut self, db: usize, keys: usize, expires: usize) {
        let d = &mut self.dbs[db];
        d.keys.reserve_empty(keys);
        d.expires.reserve_empty(expires);
    }

    pub fn len(&self, db: usize) -> usize {
        self.dbs[db].keys.len()
    }

    /// True when a database has no keys.
    pub fn is_empty(&self, db: usize) -> bool {
        self.dbs[db].keys.is_empty()
    }

    /// Number of keys with a TTL in a database.
    pub fn expires_len(&self, db: usize) -> usize {
        self.dbs[db].expires.len()
    }

    /// Empties one database; returns how many keys it held. With `lazy` (FLUSHDB ASYNC)
    /// the old tables go whole to the background thread, counted as one object per key
    /// (Valkey's emptyDbAsync).
    pub fn flush_db(&mut self, db: usize, lazy: bool) -> usize {
        let n = self.dbs[db].keys.len();
        let old = std::mem::take(&mut self.dbs[db]);
        if lazy && n > 0 {
            lazyfree::free_in_background(old, n as u64);
        } else {
            drop(old);
        }
        self.dirty += n as u64;
        if self.track_touches {
            self.flushed.push(db);
            self.flush_signal = true;
        }
        n
    }

    /// Empties every database; returns how many keys there were. The host is told (see
    /// [`Keyspace::take_flushed_all`]) because FLUSHALL also resets persistence.
    pub fn flush_all(&mut self, lazy: bool) -> usize {
        self.flushed_all = true;
        self.replica_keys_with_expire.clear();
        (0..self.dbs.len()).map(|i| self.flush_db(i, lazy)).sum()
    }

    /// A replica's full sync empties every database before the primary's data loads
    /// (Valkey's emptyData in readSyncBulkPayload); returns how many keys there were.
    /// With `lazy` (`replica-lazy-flush yes`) the old data is freed on a background
    /// thread (see [`crate::lazyfree`]), else here.
    pub fn empty_for_sync(&mut self, lazy: bool) -> usize {
        let fresh = (0..self.dbs.len()).map(|_| Db::default()).collect();
        let old = std::mem::replace(&mut self.dbs, fresh);
        let n: usize = old.iter().map(|d| d.keys.len()).sum();
        self.replica_keys_with_expire.clear();
        if self.track_touches {
            self.flushed.extend(0..self.dbs.len());
            self.flush_signal = true;
        }
        if lazy && n > 0 {
            crate::lazyfree::free_in_background(old, n as u64);
        }
        n
    }

    /// True once after a FLUSHALL: Valkey then stops a running RDB child and, with save
    /// rules, saves the empty dataset at once (`flushAllDataAndResetRDB`).
    pub fn take_flushed_all(&mut self) -> bool {
        std::mem::take(&mut self.flushed_all)
    }

    /// Replaces every database with `other`'s (a load finished): settings and statistics
    /// stay, the change counter restarts as after a load in Valkey.
    pub fn replace_data(&mut self, other: Keyspace) {
        self.dbs = other.dbs;
        self.replica_keys_with_expire.clear();
        self.dirty = 0;
        if self.track_touches {
            self.flushed.extend(0..self.dbs.len());
            self.flush_signal = true;
        }
    }

    /// Swaps the content of two databases (SWAPDB).
    pub fn swap_db(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
        if self.track_touches {
            self.flushed.push(a);
            self.flushed.push(b);
        }
    }

    /// A random live key of a database.
    pub fn random_key(&mut self, db: usize) -> Option<Bytes> {
        // Bounded retries: a database full of expired keys may need many draws (Valkey
        // gives up after 100 tries when every key is volatile).
        let mut last = None;
        for _ in 0..100 {
            // The bucket search draws until it hits a non-empty bucket, so it needs a
            // real stream of random numbers: run the generator on a copy of its state
            // (the table is borrowed meanwhile) and store the state back.
            let mut state = self.rng;
            let key: Bytes = {
                let (k, _) = self.dbs[db].keys.fair_random_entry_ref(|| xorshift64star(&mut state))?;
                Bytes::from(k)
            };
            self.rng = state;
            if !self.expire_if_needed(db, &key) {
                return Some(key);
            }
            last = Some(key);
        }
        // A replica deletes nothing: when every key is volatile they may all be past
        // their TTL, and Valkey then returns a key that may be expired.
        let all_volatile = self.dbs[db].expires.len() == self.dbs[db].keys.len();
        last.filter(|_| self.replica && all_volatile)
    }

    /// Starts the resizes the tables' load factors call for (cron); none while a fork
    /// child shares the pages (Valkey's `tryResizeHashTables` waits for no child too).
    pub fn resize_tables(&mut self) {
        if self.child_active {
            return;
        }
        for db in &mut self.dbs {
            db.keys.resize_if_needed();
            db.expires.resize_if_needed();
        }
    }

    /// One step of incremental rehashing for every database (cron, no child active).
    pub fn rehash_step(&mut self, buckets: usize) {
        for db in &mut self.dbs {
            db.keys.rehash(buckets);
            db.expires.rehash(buckets);
        }
    }

    /// `active-expire-effort` (1..=10, Valkey's default 1): a higher effort samples more
    /// keys per round and tolerates fewer expired keys in a sample before it stops (the
    /// cron's time budget grows with it too, see the host's cron).
    pub fn set_active_expire_effort(&mut self, effort: u32) {
        self.expire_effort = effort.clamp(1, 10) as usize - 1;
    }

    /// Keys one round of the active cycle samples in a database (Valkey's
    /// `config_keys_per_loop`: 20, plus 5 per unit of effort above 1).
    fn expire_keys_per_loop(&self) -> usize {
        const KEYS_PER_LOOP: usize = 20;
        KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * self.expire_effort
    }

    /// The percentage of expired keys in a sample at or below which the cycle moves on
    /// to the next database (Valkey's `config_cycle_acceptable_stale`: 10, minus the effort).
    fn expire_acceptable_stale(&self) -> usize {
        10 - self.expire_effort
    }

    /// Valkey's active expire cycle: sample volatile keys with a persistent scan cursor,
    /// delete the expired ones, repeat while many of the sample were expired and the
    /// time budget (`deadline` checked every few iterations) allows.
    pub fn active_expire_cycle(&mut self, budget: std::time::Duration) {
        if !self.active_expire_enabled || self.expire_paused {
            return;
        }
        // A replica leaves expiry to its primary (Valkey's databasesCron).
        if self.replica {
            self.expire_replica_keys();
            return;
        }
        let start = std::time::Instant::now();
        let keys_per_loop = self.expire_keys_per_loop();
        let acceptable_stale = self.expire_acceptable_stale();
        let mut sampled_total = 0u64;
        let mut expired_total = 0u64;
        let mut timed_out = false;
        'dbs: for db in 0..self.dbs.len() {
            loop {
                if self.dbs[db].expires.is_empty() {
                    break;
                }
                let now = self.now;
                let mut due: Vec<Bytes> = Vec::new();
                let mut sampled = 0;
                let mut cursor = self.dbs[db].expire_cursor;
                // Visit buckets until we have seen a sample's worth of keys.
                loop {
                    cursor = self.dbs[db].expires.scan(cursor, |k, &at| {
                        sampled += 1;
                        if at <= now {
                            due.push(Bytes::from(k));
                        }
                    });
                    if sampled >= keys_per_loop || cursor == 0 {
                        break;
                    }
                }
                self.dbs[db].expire_cursor = cursor;
                sampled_total += sampled as u64;
                expired_total += due.len() as u64;
                for key in &due {
                    if let Some((value, _)) = self.remove_entry(db, key) {
                        lazyfree::free_value(value, self.lazyfree.expire);
                        self.stats.expired_keys += 1;
                        self.touch_by_server(db, key);
                        if self.record_expired {
                            self.expired.push((db, key.clone()));
                        }
                        self.notify.raise(notify::EXPIRED, "expired", db, key);
                    }
                }
                if start.elapsed() >= budget {
                    timed_out = true;
                    break 'dbs;
                }
                // Keep going in this db only while more of the sample was stale than the
                // effort accepts (Valkey: `expired * 100 / sampled > acceptable_stale`).
                if sampled == 0 || due.len() * 100 / sampled <= acceptable_stale || cursor == 0 {
                    break;
                }
            }
        }
        if timed_out {
            self.stats.expired_time_cap_reached_count += 1;
        }
        if sampled_total > 0 {
            let current = expired_total as f64 / sampled_total as f64;
            self.stats.expired_stale_perc = current * 0.05 + self.stats.expired_stale_perc * 0.95;
        }
        self.stats.expire_cycle_cpu_us += start.elapsed().as_micros() as u64;
    }
}

/// xorshift64*: advances `state` and returns the next number.
fn xorshift64star(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// A read lookup's outcome counted: a keyspace hit, or a miss with its `keymiss` event.
/// (Fields, not `&mut Keyspace`: `found` still borrows the keyspace's tables.)
fn count_hit_or_miss<'a>(stats: &mut KeyspaceStats, notify: &mut Notifier, db: usize, key: &[u8], found: Option<ValueRef<'a>>) -> Option<ValueRef<'a>> {
    if found.is_some() {
        stats.keyspace_hits += 1;
    } else {
        stats.keyspace_misses += 1;
        notify.raise(notify::KEY_MISS, "keymiss", db, key);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn a_replica_reads_past_ttl_keys_as_missing_and_leaves_them_to_the_primary() {
        let mut ks = Keyspace::new(1);
        ks.set_replica(true);
        ks.set_now(1_000);
        ks.from_primary = true;
        ks.set(0, b"k", Value::string(b"v"), false);
        assert!(ks.set_expire(0, b"k", 2_000));
        ks.from_primary = false;
        ks.set_now(3_000);
        // A SET ... PXAT in the past from the primary's stream is stored, not dropped.
        assert!(!ks.already_expired(2_000));
        // A client's read: missing, but still stored (no expired event, no DEL recorded).
        ks.set_record_expired(true);
        assert!(ks.lookup_read(0, b"k").is_none());
        assert!(!ks.exists(0, b"k"));
        assert_eq!(ks.expire_time(0, b"k"), None);
        assert_eq!(ks.len(0), 1);
        assert_eq!(ks.stats.expired_keys, 0);
        assert!(!ks.has_expired());
        // RANDOMKEY does not loop forever on a db of expired volatile keys.
        assert_eq!(ks.random_key(0).as_deref(), Some(&b"k"[..]));
        // The active cycle leaves the primary's keys alone.
        ks.active_expire_cycle(std::time::Duration::from_millis(10));
        assert_eq!(ks.len(0), 1);
        // A read-only replica keeps it even on a write lookup (PFCOUNT's cache update).
        assert!(ks.lookup_write(0, b"k").is_none());
        assert!(!ks.delete(0, b"k"));
        assert_eq!(ks.len(0), 1);
        // The primary's own commands see the key live.
        ks.from_primary = true;
        assert!(ks.lookup_read(0, b"k").is_some());
        assert!(ks.delete(0, b"k"));
        assert_eq!(ks.len(0), 0);
        // Promoted to primary: expiry is local again.
        ks.set_replica(false);
        ks.from_primary = false;
        ks.set(0, b"p", Value::string(b"v"), false);
        assert!(ks.set_expire(0, b"p", 2_000));
        assert!(ks.lookup_read(0, b"p").is_none());
        assert_eq!(ks.len(0), 0);
        assert_eq!(ks.stats.expired_keys, 1);
        assert!(ks.already_expired(2_000));
    }

    #[test]
    fn a_writable_replica_expires_the_ttls_its_own_clients_set() {
        let mut ks = Keyspace::new(2);
        ks.set_replica(true);
        ks.replica_read_only = false;
        ks.set_now(1_000);
        // Set by a client of the replica, in two dbs; one from the primary.
        ks.set(0, b"mine", Value::string(b"v"), false);
        assert!(ks.set_expire(0, b"mine", 2_000));
        ks.set(1, b"mine", Value::string(b"v"), false);
        assert!(ks.set_expire(1, b"mine", 9_000));
        ks.from_primary = true;
        ks.set(0, b"theirs", Value::string(b"v"), false);
        assert!(ks.set_expire(0, b"theirs", 2_000));
        ks.from_primary = false;
        assert_eq!(ks.replica_keys_with_expire(), 1);
        ks.set_now(3_000);
        // DEBUG SET-ACTIVE-EXPIRE 0 stops the replica's cycle too.
        ks.active_expire_enabled = false;
        ks.active_expire_cycle(std::time::Duration::from_millis(10));
        assert_eq!(ks.len(0), 2);
        ks.active_expire_enabled = true;
        ks.active_expire_cycle(std::time::Duration::from_millis(10));
        assert!(ks.find(0, b"mine").is_none());
        assert!(ks.find(0, b"theirs").is_some(), "the primary's key waits for its DEL");
        assert!(ks.find(1, b"mine").is_some());
        assert_eq!(ks.replica_keys_with_expire(), 1);
        // PERSIST: nothing left to expire, the key is forgotten at the next cycle.
        assert!(ks.persist(1, b"mine"));
        ks.active_expire_cycle(std::time::Duration::from_millis(10));
        assert_eq!(ks.replica_keys_with_expire(), 0);
        // A client's write deletes a key past its TTL (Valkey's forced delete).
        ks.set(0, b"w", Value::string(b"v"), false);
        assert!(ks.set_expire(0, b"w", 2_500));
        assert!(ks.lookup_write(0, b"w").is_none());
        assert!(ks.find(0, b"w").is_none());
        ks.flush_all(false);
        assert_eq!(ks.replica_keys_with_expire(), 0);
    }

    #[test]
    fn reads_update_the_access_clock_only_without_a_fork_child() {
        let mut ks = Keyspace::new(1);
        ks.set_now(1_000_000);
        ks.set(0, b"k", Value::string(b"v"), false);
        ks.set_now(1_010_000);
        assert_eq!(ks.idle_seconds(0, b"k"), Some(10));
        // A child shares our pages: a read must not write the entry.
        ks.set_child_active(true);
        assert!(ks.lookup_read(0, b"k").is_some());
        assert_eq!(ks.idle_seconds(0, b"k"), Some(10));
        ks.set_child_active(false);
        assert!(ks.lookup_read(0, b"k").is_some());
        assert_eq!(ks.idle_seconds(0, b"k"), Some(0));
        // Peeks and no-touch lookups never count as an access.
        ks.set_now(1_020_000);
        assert!(ks.lookup_read_no_touch(0, b"k").is_some());
        assert_eq!(ks.idle_seconds(0, b"k"), Some(10));
    }

    #[test]
    fn lfu_counters_start_at_five_and_survive_overwrites() {
        let mut ks = Keyspace::new(1);
        ks.set_lfu(true);
        ks.set_now(60_000_000);
        ks.set(0, b"k", Value::string(b"v"), false);
        assert_eq!(ks.frequency(0, b"k"), Some(crate::access::LFU_INIT_VAL));
        ks.set_frequency(0, b"k", 100);
        ks.set(0, b"k", Value::string(b"w"), false);
        assert_eq!(ks.frequency(0, b"k"), Some(100));
    }

    #[test]
    fn random_key_finds_a_lone_key_in_any_bucket() {
        // One key in a 4-bucket table, many seeds: the bucket search must always end.
        for seed in 0..2000u64 {
            let mut ks = Keyspace::new(1);
            ks.rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            ks.set(0, format!("k{seed}").as_bytes(), Value::string(b"v"), false);
            assert_eq!(ks.random_key(0).as_deref(), Some(format!("k{seed}").as_bytes()));
        }
    }

    #[test]
    fn lazy_expiry_on_read() {
        let mut ks = Keyspace::new(16);
        ks.set_now(1000);
        ks.set(0, b"k", Value::string(b"v"), false);
        assert!(ks.set_expire(0, b"k", 1500));
        assert!(ks.lookup_read(0, b"k").is_some());
        ks.set_now(1500);
        assert!(ks.lookup_read(0, b"k").is_none());
        assert_eq!(ks.len(0), 0);
        assert_eq!(ks.expires_len(0), 0);
        assert_eq!(ks.stats.expired_keys, 1);
    }

    #[test]
    fn active_expiry_reclaims_without_access() {
        let mut ks = Keyspace::new(1);
        ks.set_now(0);
        for i in 0..1000 {
            let k = format!("k{i}");
            ks.set(0, k.as_bytes(), Value::string(b"v"), false);
            ks.set_expire(0, k.as_bytes(), if i % 2 == 0 { 10 } else { 1_000_000 });
        }
        ks.set_now(100);
        for _ in 0..200 {
            ks.active_expire_cycle(std::time::Duration::from_millis(25));
        }
        assert_eq!(ks.len(0), 500);
        assert_eq!(ks.stats.expired_keys, 500);
    }

    /// Keys one active cycle deletes from a fresh db of 2000 volatile keys, every 16th of
    /// them past its TTL, at `effort`. The key names differ per `trial`: the hash seed is
    /// fixed for the process, so the same names would give the same layout every time.
    fn expired_in_one_cycle(effort: u32, trial: u32) -> u64 {
        let mut ks = Keyspace::new(1);
        ks.set_active_expire_effort(effort);
        ks.set_now(0);
        for i in 0..2000 {
            let k = format!("t{trial}e{effort}k{i}");
            ks.set(0, k.as_bytes(), Value::string(b"v"), false);
            ks.set_expire(0, k.as_bytes(), if i % 16 == 0 { 10 } else { 1_000_000 });
        }
        ks.set_now(100);
        ks.active_expire_cycle(std::time::Duration::from_secs(10));
        ks.stats.expired_keys
    }

    #[test]
    fn active_expire_effort_makes_one_cycle_sample_more_and_tolerate_less() {
        // About 6% of the keys are stale: at effort 1 (20 keys a round, stop at 10% stale or
        // less) a cycle mostly stops after its first round; at effort 10 (65 keys a round,
        // stop at 1% or less) it carries on round after round.
        let low: u64 = (0..10).map(|t| expired_in_one_cycle(1, t)).sum();
        let high: u64 = (0..10).map(|t| expired_in_one_cycle(10, t)).sum();
        assert!(high > 4 * low, "effort 10 expired {high}, effort 1 expired {low}");
        let mut ks = Keyspace::new(1);
        assert_eq!((ks.expire_keys_per_loop(), ks.expire_acceptable_stale()), (20, 10));
        ks.set_active_expire_effort(10);
        assert_eq!((ks.expire_keys_per_loop(), ks.expire_acceptable_stale()), (65, 1));
    }

    #[test]
    fn set_clears_ttl_unless_kept_and_dirty_counts() {
        let mut ks = Keyspace::new(1);
        ks.set(0, b"a", Value::string(b"1"), false);
        ks.set_expire(0, b"a", 10_000);
        ks.set(0, b"a", Value::string(b"2"), true);
        assert_eq!(ks.expire_time(0, b"a"), Some(Some(10_000)));
        ks.set(0, b"a", Value::string(b"3"), false);
        assert_eq!(ks.expire_time(0, b"a"), Some(None));
        assert_eq!(ks.dirty, 4);
        assert!(ks.delete(0, b"a"));
        assert!(!ks.delete(0, b"a"));
        assert_eq!(ks.dirty, 5);
    }

    #[test]
    fn touches_are_recorded_only_when_tracking() {
        let mut ks = Keyspace::new(2);
        ks.set(0, b"a", Value::string(b"1"), false);
        assert!(ks.drain_touched().0.is_empty());
        ks.set_track_touches(true);
        ks.set(1, b"b", Value::string(b"1"), false);
        ks.flush_db(0, false);
        let (keys, flushed) = ks.drain_touched();
        assert_eq!(keys, vec![Touched { db: 1, key: Bytes::from(&b"b"[..]), by_server: false }]);
        assert!(ks.take_flush_signal());
        assert!(!ks.take_flush_signal());
        assert_eq!(flushed, vec![0]);
    }
}
