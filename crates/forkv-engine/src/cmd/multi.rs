//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Valkey `multi.c`).
//!
//! The queue and the WATCH state live here, next to the data, because the queued data
//! commands run in the core. After MULTI, `Engine::dispatch` queues every command but the
//! transaction ones (replying `+QUEUED`); a command refused while queuing (unknown, wrong
//! arity, NOAUTH, ...) flags the transaction so that EXEC answers EXECABORT.
//!
//! EXEC runs the queue in order. A queued *host* command (INFO, CONFIG GET, CLIENT ...)
//! cannot run here: EXEC pauses on it, hands its argv to the host like any host command
//! (`Outcome::Host`), and `Engine::resume` appends the host's reply inside the EXEC array
//! and goes on with the rest of the queue ([`Engine::exec_continue`]). The client's input
//! stays buffered meanwhile, so nothing of its own interleaves with the transaction.
//!
//! WATCH: every mutation reports to `Keyspace::touch`, which records the touched keys
//! while anyone watches or blocks. The engine drains that record after each command
//! ([`Engine::process_touches`]) and marks the clients watching a touched key dirty, so
//! their EXEC answers a null array. Expiry counts as a touch; a key that was already
//! expired when watched is remembered as such (deleting it later changes nothing
//! logically), and EXEC fails when a watched key expired since (Valkey's
//! `isWatchedKeyExpired`). FLUSHDB/FLUSHALL/SWAPDB touch the watched keys that existed in
//! (or appear in) the databases they change, with Valkey's rules for stale keys.

use std::collections::{HashMap, HashSet};

use forkv_keyspace::Bytes;

use crate::client::transaction::{ExecRun, MultiState, Queued, WatchedKey};
use crate::reply::Reply;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec, Exec::Engine as Eng};
use crate::{Engine, Outcome};

const TX: u32 = NOSCRIPT | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[
    spec("multi", 1, TX | FAST | NO_MULTI | ALLOW_BUSY, (0, 0, 0), "transactions", "1.2.0", "O(1)", "Starts a transaction.", Eng(multi)),
    spec("exec", 1, TX | SKIP_SLOWLOG, (0, 0, 0), "transactions", "1.2.0", "Depends on commands in the transaction", "Executes all commands in a transaction.", Eng(exec)),
    spec("discard", 1, TX | FAST | ALLOW_BUSY, (0, 0, 0), "transactions", "2.0.0", "O(N), when N is the number of queued commands", "Discards a transaction.", Eng(discard)),
    spec("watch", -2, TX | FAST | NO_MULTI | ALLOW_BUSY, (1, -1, 1), "transactions", "2.2.0", "O(1) for every key.", "Monitors changes to keys to determine the execution of a transaction.", Eng(watch)),
    spec("unwatch", 1, TX | FAST | ALLOW_BUSY, (0, 0, 0), "transactions", "2.2.0", "O(1)", "Forgets about watched keys of a transaction.", Eng(unwatch)),
];

/// Commands that run at once inside MULTI instead of being queued.
pub(crate) fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// Keys per database mapped to a value (who watches them, who blocks on them).
pub(crate) struct KeyIndex<T> {
    dbs: Vec<HashMap<Bytes, T>>,
}

impl<T> Default for KeyIndex<T> {
    fn default() -> Self {
        KeyIndex { dbs: Vec::new() }
    }
}

impl<T: Default> KeyIndex<T> {
    /// The entry for a key, created empty when absent.
    pub(crate) fn entry(&mut self, db: usize, key: &[u8]) -> &mut T {
        if self.dbs.len() <= db {
            self.dbs.resize_with(db + 1, HashMap::new);
        }
        self.dbs[db].entry(key.into()).or_default()
    }
}

impl<T> KeyIndex<T> {
    /// The entry for a key.
    pub(crate) fn get(&self, db: usize, key: &[u8]) -> Option<&T> {
        self.dbs.get(db)?.get(key)
    }

    /// The entry for a key, mutable.
    pub(crate) fn get_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut T> {
        self.dbs.get_mut(db)?.get_mut(key)
    }

    /// Drops a key's entry.
    pub(crate) fn remove(&mut self, db: usize, key: &[u8]) {
        if let Some(m) = self.dbs.get_mut(db) {
            m.remove(key);
        }
    }

    /// The keys with an entry in one database.
    pub(crate) fn keys_in(&self, db: usize) -> Vec<Bytes> {
        self.dbs.get(db).map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// Number of keys with an entry, over all databases.
    pub(crate) fn len(&self) -> usize {
        self.dbs.iter().map(HashMap::len).sum()
    }

    /// No key has an entry.
    pub(crate) fn is_empty(&self) -> bool {
        self.dbs.iter().all(HashMap::is_empty)
    }
}

/// What the command about to run may do to whole databases, for WATCH: flushed or
/// swapped databases are reported by the keyspace as database numbers only.
pub(crate) enum BulkChange {
    /// Not known: every watched key of a flushed database counts as touched.
    Unknown,
    /// FLUSHDB/FLUSHALL: the watched keys present before the flush.
    Flush(HashSet<(usize, Bytes)>),
    /// SWAPDB: the databases were exchanged, both contents still exist.
    Swap,
}

impl Engine {
    /// Writes an error reply for client `id` and counts it.
    fn error_reply(&mut self, id: u64, msg: &str) -> Outcome {
        let proto = self.clients.get(&id).map_or(2, |c| c.proto);
        Reply::new(&mut self.out, proto).error(msg);
        Outcome::Done
    }

    fn ok_reply(&mut self, id: u64) -> Outcome {
        let proto = self.clients.get(&id).map_or(2, |c| c.proto);
        Reply::new(&mut self.out, proto).ok();
        Outcome::Done
    }

    /// Queues a command inside MULTI and answers `+QUEUED`.
    pub(crate) fn queue_command(&mut self, id: u64, spec: &'static CommandSpec, argv: &[&[u8]]) -> Outcome {
        let cmd_flags = self.script_command_flags(spec, argv);
        let Some(c) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        let dirty_cas = c.dirty_cas;
        if let Some(m) = &mut c.multi {
            // An aborted transaction never runs: don't keep its commands.
            if !m.dirty_exec && !dirty_cas {
                m.queue.push(Queued { spec, argv: argv.iter().map(|a| a.to_vec()).collect() });
                m.flags |= cmd_flags;
                m.inv_flags |= !cmd_flags;
            }
        }
        Reply::new(&mut self.out, c.proto).simple("QUEUED");
        Outcome::Done
    }

    /// Leaves MULTI and forgets the WATCHed keys (Valkey's discardTransaction).
    pub(crate) fn discard_transaction(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.multi = None;
            c.dirty_cas = false;
        }
        self.unwatch_all(id);
    }

    /// Removes every key a client watches from the index.
    pub(crate) fn unwatch_all(&mut self, id: u64) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        for wk in std::mem::take(&mut c.watched) {
            if let Some(ids) = self.watches.get_mut(wk.db, &wk.key) {
                ids.retain(|&w| w != id);
                if ids.is_empty() {
                    self.watches.remove(wk.db, &wk.key);
                }
            }
        }
    }

    fn watch_key(&mut self, id: u64, db: usize, key: &[u8]) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.watched.iter().any(|w| w.db == db && *w.key == *key) {
            return;
        }
        let expired = self.ks.db(db).keys.contains_key(key) && self.ks.peek(db, key).is_none();
        c.watched.push(WatchedKey { db, key: key.into(), expired });
        self.watches.entry(db, key).push(id);
    }

    /// A watched key is logically expired now but was not when watched.
    fn watched_key_expired(&self, id: u64) -> bool {
        let Some(c) = self.clients.get(&id) else {
            return false;
        };
        c.watched.iter().any(|w| !w.expired && self.logically_expired(w.db, &w.key))
    }

    /// The key is still stored but its TTL has passed.
    fn logically_expired(&self, db: usize, key: &[u8]) -> bool {
        self.ks.db(db).keys.contains_key(key) && self.ks.peek(db, key).is_none()
    }

    fn stored(&self, db: usize, key: &[u8]) -> bool {
        self.ks.db(db).keys.contains_key(key)
    }

    /// Marks a client's transaction as failed by a touched key (Valkey's touchWatchedKey).
    fn dirty_watcher(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.dirty_cas = true;
            if let Some(m) = &mut c.multi {
                m.queue.clear();
            }
        }
        // Nothing more can make it dirtier: stop watching.
        self.unwatch_all(id);
    }

    /// What a command about to run may do to whole databases (see [`BulkChange`]).
    pub(crate) fn bulk_change_for(&self, spec: &CommandSpec) -> BulkChange {
        // Hot path: nobody watches anything.
        if !self.tracking || self.watches.is_empty() {
            return BulkChange::Unknown;
        }
        match spec.name {
            "flushdb" | "flushall" => {
                let mut existed = HashSet::new();
                for c in self.clients.values() {
                    for w in &c.watched {
                        if self.stored(w.db, &w.key) {
                            existed.insert((w.db, w.key.clone()));
                        }
                    }
                }
                BulkChange::Flush(existed)
            }
            "swapdb" => BulkChange::Swap,
            _ => BulkChange::Unknown,
        }
    }

    /// Applies the keyspace's record of touched keys and flushed databases: dirties the
    /// clients watching them and marks keys that blocked clients wait on as ready.
    pub(crate) fn process_touches(&mut self, bulk: BulkChange) {
        self.process_touches_from(bulk, crate::tracking::Origin::Outside);
    }

    /// [`Engine::process_touches`], with the client that caused the changes (for the
    /// invalidations of client-side caching).
    pub(crate) fn process_touches_from(&mut self, bulk: BulkChange, origin: crate::tracking::Origin) {
        if !self.tracking {
            return;
        }
        let (keys, flushed) = self.ks.drain_touched();
        if self.csc.in_use() {
            let flush = self.ks.take_flush_signal();
            self.tracking_invalidate(&keys, flush, origin);
        }
        for t in &keys {
            self.touch_watched(t.db, &t.key);
            self.blocking.signal(t.db, &t.key);
        }
        if !flushed.is_empty() {
            self.touch_bulk(&flushed, bulk);
            for &db in &flushed {
                self.blocking.signal_db(db);
            }
        }
        self.update_tracking();
    }

    fn touch_watched(&mut self, db: usize, key: &[u8]) {
        let Some(ids) = self.watches.get(db, key).cloned() else {
            return;
        };
        let stored = self.stored(db, key);
        for id in ids {
            let Some(c) = self.clients.get_mut(&id) else {
                continue;
            };
            if let Some(w) = c.watched.iter_mut().find(|w| w.db == db && *w.key == *key) {
                // An already expired key got deleted: logically nothing changed.
                if w.expired && !stored {
                    w.expired = false;
                    continue;
                }
            }
            self.dirty_watcher(id);
        }
    }

    /// Valkey's touchAllWatchedKeysInDb for each flushed (or swapped) database.
    fn touch_bulk(&mut self, flushed: &[usize], bulk: BulkChange) {
        match bulk {
            BulkChange::Swap => {
                for pair in flushed.chunks(2) {
                    if let [a, b] = *pair {
                        if a != b {
                            self.touch_swapped(a, b);
                            self.touch_swapped(b, a);
                        }
                    }
                }
            }
            BulkChange::Flush(existed) => {
                for &db in flushed {
                    for key in self.watches.keys_in(db) {
                        if existed.contains(&(db, key.clone())) {
                            // A stale key vanishing is no logical change.
                            self.each_watcher(db, &key, |w| if w.expired { w.expired = false; false } else { true });
                        }
                    }
                }
            }
            BulkChange::Unknown => {
                for &db in flushed {
                    for key in self.watches.keys_in(db) {
                        self.each_watcher(db, &key, |_| true);
                    }
                }
            }
        }
    }

    /// Database `db` now holds what `other` held (SWAPDB): a watched key is touched when
    /// it existed on either side, unless only stale keys were involved.
    fn touch_swapped(&mut self, db: usize, other: usize) {
        for key in self.watches.keys_in(db) {
            let was_here = self.stored(other, &key);
            let now_here = self.stored(db, &key);
            if !was_here && !now_here {
                continue;
            }
            let now_stale = self.logically_expired(db, &key);
            self.each_watcher(db, &key, |w| {
                if w.expired {
                    if !now_here {
                        w.expired = false;
                        return false;
                    }
                    // A stale key replaced by another stale key: still stale.
                    !now_stale
                } else if !was_here && now_stale {
                    // No key replaced by a stale one: nothing logically appeared.
                    w.expired = true;
                    false
                } else {
                    true
                }
            });
        }
    }

    /// Runs `decide` on each watcher's entry for a key; dirties those it returns true for.
    fn each_watcher(&mut self, db: usize, key: &[u8], mut decide: impl FnMut(&mut WatchedKey) -> bool) {
        let Some(ids) = self.watches.get(db, key).cloned() else {
            return;
        };
        for id in ids {
            let dirty = match self.clients.get_mut(&id) {
                Some(c) => match c.watched.iter_mut().find(|w| w.db == db && *w.key == *key) {
                    Some(w) => decide(w),
                    None => false,
                },
                None => false,
            };
            if dirty {
                self.dirty_watcher(id);
            }
        }
    }

    /// Records touched keys only while someone watches, blocks or tracks keys for
    /// client-side caching (the record costs an allocation per write).
    pub(crate) fn update_tracking(&mut self) {
        let on = !self.watches.is_empty() || !self.blocking.is_empty() || self.csc.in_use();
        if on != self.tracking {
            self.tracking = on;
            self.ks.set_track_touches(on);
        }
    }

    /// Runs the rest of an EXEC queue; pauses on a host command (the host resumes).
    pub(crate) fn exec_continue(&mut self, id: u64) -> Outcome {
        loop {
            let next = self.clients.get_mut(&id).and_then(|c| c.exec.as_mut()).and_then(|r| r.rest.next());
            let Some(q) = next else {
                break;
            };
            let argv: Vec<&[u8]> = q.argv.iter().map(Vec::as_slice).collect();
            if let Some(err) = self.exec_acl_refusal(id, q.spec, &argv) {
                let proto = self.clients.get(&id).map_or(2, |c| c.proto);
                self.stats.total_error_replies += 1;
                Reply::new(&mut self.out, proto).error(&err);
                continue;
            }
            match q.spec.exec {
                Exec::Core(handler) => {
                    let started = std::time::Instant::now();
                    self.run(id, q.spec, handler, &argv);
                    self.command_done(id, q.spec, &argv, started.elapsed());
                    self.monitor_feed(id, q.spec, &argv);
                }
                Exec::Engine(handler) => {
                    let started = std::time::Instant::now();
                    handler(self, id, &argv);
                    self.command_done(id, q.spec, &argv, started.elapsed());
                    self.monitor_feed(id, q.spec, &argv);
                }
                Exec::Host | Exec::Server | Exec::Container => {
                    if let Some(c) = self.clients.get_mut(&id) {
                        c.suspended = true;
                        if let Some(run) = c.exec.as_mut() {
                            run.paused = true;
                        }
                    }
                    self.hold_host_command(id, q.spec, &argv);
                    return Outcome::Host(q.argv);
                }
            }
        }
        self.prop.end_transaction();
        let Some(c) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        let run = c.exec.take();
        let closing = c.closing;
        self.discard_transaction(id);
        // An EXEC that waited for the host ends here, not in `dispatch`.
        if let (Some(run), Some(exec)) = (run.filter(|r| r.paused), crate::table::lookup_original(b"exec")) {
            let elapsed = run.started.elapsed();
            self.top_level_command_ran(elapsed);
            self.command_done(id, exec, &[b"exec"], elapsed);
        }
        if closing {
            Outcome::Close
        } else {
            Outcome::Done
        }
    }

    /// ACL permissions are checked again when EXEC runs a queued command, in case they
    /// changed since it was queued (Valkey's execCommand): the refusal is logged with
    /// context `multi` and answers that command only.
    fn exec_acl_refusal(&mut self, id: u64, spec: &'static CommandSpec, argv: &[&[u8]]) -> Option<String> {
        let c = self.clients.get(&id)?;
        let refusal = self.acl.check(c.user.as_deref(), spec, argv).err()?;
        let reason = match refusal.reason {
            "command" => "no permission to execute the command or subcommand",
            "key" => "no permission to touch the specified keys",
            "channel" => "no permission to access one of the channels used as arguments",
            _ => "no permission",
        };
        let info = crate::client_info(c, "exec");
        let user = c.user.clone().unwrap_or_default();
        let now = super::now_ms().max(0) as u64;
        self.acl.log.add(refusal.reason, "multi", refusal.object, user, info, now);
        Some(format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"
        ))
    }

    /// Clears MULTI/WATCH state and the READONLY flag (RESET).
    pub fn reset_transaction(&mut self, id: u64) {
        self.discard_transaction(id);
        if let Some(c) = self.clients.get_mut(&id) {
            c.readonly = false;
        }
        self.update_tracking();
    }
}

fn multi(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let Some(c) = e.clients.get_mut(&id) else {
        return Outcome::Close;
    };
    c.multi = Some(MultiState::default());
    e.ok_reply(id)
}

fn discard(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    if e.clients.get(&id).is_none_or(|c| c.multi.is_none()) {
        return e.error_reply(id, "ERR DISCARD without MULTI");
    }
    e.discard_transaction(id);
    e.update_tracking();
    e.ok_reply(id)
}

fn exec(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let Some(c) = e.clients.get_mut(&id) else {
        return Outcome::Close;
    };
    let Some(m) = c.multi.take() else {
        return e.error_reply(id, "ERR EXEC without MULTI");
    };
    if !c.dirty_cas && e.watched_key_expired(id) {
        if let Some(c) = e.clients.get_mut(&id) {
            c.dirty_cas = true;
        }
    }
    let Some(c) = e.clients.get_mut(&id) else {
        return Outcome::Close;
    };
    let (proto, dirty_cas) = (c.proto, c.dirty_cas);
    if m.dirty_exec || dirty_cas {
        e.discard_transaction(id);
        e.update_tracking();
        if m.dirty_exec {
            return e.error_reply(id, "EXECABORT Transaction discarded because of previous errors.");
        }
        // A touched WATCHed key: not an error, a null array.
        Reply::new(&mut e.out, proto).null_array();
        return Outcome::Done;
    }
    // The transaction runs now: touches it makes must not fail itself.
    e.unwatch_all(id);
    e.update_tracking();
    Reply::new(&mut e.out, proto).array(m.queue.len());
    if let Some(c) = e.clients.get_mut(&id) {
        c.exec = Some(ExecRun { rest: m.queue.into_iter(), started: std::time::Instant::now(), paused: false });
    }
    e.prop.begin_transaction();
    e.exec_continue(id)
}

fn watch(e: &mut Engine, id: u64, argv: &[&[u8]]) -> Outcome {
    let Some(c) = e.clients.get(&id) else {
        return Outcome::Close;
    };
    // Already dirty: watching more cannot change the outcome.
    if !c.dirty_cas {
        let db = c.db;
        for key in &argv[1..] {
            e.watch_key(id, db, key);
        }
        e.update_tracking();
    }
    e.ok_reply(id)
}

fn unwatch(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    e.unwatch_all(id);
    if let Some(c) = e.clients.get_mut(&id) {
        c.dirty_cas = false;
    }
    e.update_tracking();
    e.ok_reply(id)
}
