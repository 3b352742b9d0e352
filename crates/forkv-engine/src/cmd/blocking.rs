//! Blocking list and sorted-set pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP (Valkey `t_list.c`, `t_zset.c`, `blocked.c`).
//!
//! Each handler first checks its arguments (timeout last for the single-key forms, as
//! Valkey parses them), then looks for a key to serve from. When one exists, the work is
//! done by the *non-blocking* command's own handler, found in the command table (LPOP,
//! LMOVE, LMPOP, ZPOPMIN, ZMPOP): one implementation of the data change, and the AOF gets
//! that non-blocking command, as Valkey rewrites a served BLPOP into LPOP.
//!
//! When nothing can be served, the handler leaves a [`BlockRequest`] and the engine parks
//! the client: it is queued on each key (FIFO per key), its later input is only
//! buffered, and the host arms a timer for its deadline. After every command (after the
//! whole transaction for EXEC) the keys that commands touched and that someone waits on
//! are "ready"; [`Engine::serve_ready_keys`] re-runs the parked command of each waiting
//! client, first blocked first, while the key holds the type it waits for. A re-run that
//! finds nothing again parks the client anew at the end of the queues, keeping its
//! deadline (Valkey's blockForKeys on reprocessing). Served, timed-out and CLIENT
//! UNBLOCKed clients get their reply in their own buffer and are listed as *woken*: the
//! host writes it and feeds their pipelined input (`Engine::wake`).
//!
//! Inside EXEC a blocking command may not block: it answers as on a timeout.

use std::collections::VecDeque;

use forkv_keyspace::{Bytes, ListValue, ZSetValue};

use super::multi::KeyIndex;
use crate::client::blocked::{BlockRequest, Blocked, Kind};
use super::{coll, is, parse_f64, CmdError, CmdResult, Ctx};
use crate::errors;
use crate::reply::Reply;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec, Exec::Core};
use crate::{Engine, Outcome};

// Not noscript: from a script they run without blocking, as in Valkey.
const B: u32 = WRITE | BLOCKING;

pub const COMMANDS: &[CommandSpec] = &[
    spec("blpop", -3, B, (1, -2, 1), "list", "2.0.0", "O(N) where N is the number of provided keys.", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", Core(blpop)),
    spec("brpop", -3, B, (1, -2, 1), "list", "2.0.0", "O(N) where N is the number of provided keys.", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", Core(brpop)),
    spec("blmove", 6, B | DENYOOM, (1, 2, 1), "list", "6.2.0", "O(1)", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", Core(blmove)),
    spec("brpoplpush", 4, B | DENYOOM, (1, 2, 1), "list", "2.2.0", "O(1)", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", Core(brpoplpush)),
    spec("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, (0, 0, 0), "list", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", Core(blmpop)),
    spec("bzpopmin", -3, B | FAST, (1, -2, 1), "sorted-set", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", Core(bzpopmin)),
    spec("bzpopmax", -3, B | FAST, (1, -2, 1), "sorted-set", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", Core(bzpopmax)),
    spec("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, (0, 0, 0), "sorted-set", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", Core(bzmpop)),
];

/// Server-wide blocking state.
#[derive(Default)]
pub(crate) struct Blocking {
    /// (db, key) -> clients waiting on it, first blocked first.
    waiting: KeyIndex<VecDeque<u64>>,
    /// Keys touched since the last serve that someone waits on, in touch order.
    ready: Vec<(usize, Bytes)>,
    /// Clients whose reply is waiting in their `pending_out` (the host writes it).
    pub(crate) woken: Vec<u64>,
}

impl Blocking {
    /// No client is blocked.
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// A key was touched: it is ready when someone waits on it.
    pub(crate) fn signal(&mut self, db: usize, key: &[u8]) {
        if self.waiting.get(db, key).is_some() && !self.ready.iter().any(|(d, k)| *d == db && **k == *key) {
            self.ready.push((db, key.into()));
        }
    }

    /// A whole database changed (SWAPDB, FLUSHDB): every waited-on key in it may be ready.
    pub(crate) fn signal_db(&mut self, db: usize) {
        for key in self.waiting.keys_in(db) {
            self.signal(db, &key);
        }
    }
}

/// Counters for INFO clients.
#[derive(Default, Clone, Copy, Debug)]
pub struct ConnStats {
    /// Clients blocked in a blocking command.
    pub blocked_clients: usize,
    /// Blocked clients with a deadline (Valkey's clients_in_timeout_table).
    pub clients_in_timeout_table: usize,
    /// Distinct keys clients are blocked on.
    pub total_blocking_keys: usize,
    /// Distinct keys that XREADGROUP clients wait on (they wake when the key goes).
    pub total_blocking_keys_on_nokey: usize,
    /// Clients with at least one WATCHed key.
    pub watching_clients: usize,
    /// Distinct WATCHed keys.
    pub total_watched_keys: usize,
}

impl Engine {
    /// Parks a client after its command found nothing to serve.
    pub(crate) fn block(&mut self, id: u64, spec: &'static CommandSpec, argv: &[&[u8]], req: BlockRequest) -> Outcome {
        let Some(c) = self.clients.get_mut(&id) else {
            return Outcome::Close;
        };
        let db = c.db;
        let mut keys: Vec<Bytes> = Vec::with_capacity(req.keys.len());
        for k in req.keys {
            // BLPOP k k waits once on k.
            if !keys.contains(&k) {
                self.blocking.waiting.entry(db, &k).push_back(id);
                keys.push(k);
            }
        }
        let argv = req.argv.unwrap_or_else(|| argv.iter().map(|a| a.to_vec()).collect());
        c.blocked = Some(Blocked { db, keys, deadline: req.deadline, kind: req.kind, spec, argv });
        c.suspended = true;
        self.update_tracking();
        Outcome::Blocked
    }

    /// Takes a client off the queues of the keys it waits on.
    fn unqueue(&mut self, id: u64, b: &Blocked) {
        for k in &b.keys {
            if let Some(q) = self.blocking.waiting.get_mut(b.db, k) {
                q.retain(|&w| w != id);
                if q.is_empty() {
                    self.blocking.waiting.remove(b.db, k);
                }
            }
        }
    }

    /// Forgets a closing client's blocked state (no reply).
    pub(crate) fn drop_blocked(&mut self, id: u64) {
        if let Some(b) = self.clients.get_mut(&id).and_then(|c| c.blocked.take()) {
            self.unqueue(id, &b);
        }
        self.blocking.woken.retain(|&w| w != id);
    }

    /// Re-runs the commands of clients waiting on ready keys (Valkey's
    /// handleClientsBlockedOnKeys); loops while serving makes more keys ready (BLMOVE
    /// pushes).
    pub(crate) fn serve_ready_keys(&mut self) {
        while !self.blocking.ready.is_empty() {
            for (db, key) in std::mem::take(&mut self.blocking.ready) {
                let Some(queue) = self.blocking.waiting.get(db, &key) else {
                    continue;
                };
                // A snapshot: re-runs that block again go to the back and wait for
                // the next touch, as in Valkey.
                let ids: Vec<u64> = queue.iter().copied().collect();
                for id in ids {
                    let still_waiting = self.blocking.waiting.get(db, &key).is_some_and(|q| q.contains(&id));
                    let kind = self.clients.get(&id).and_then(|c| c.blocked.as_ref()).map(|b| b.kind);
                    let Some(kind) = kind else {
                        continue;
                    };
                    if !still_waiting {
                        continue;
                    }
                    // XREADGROUP re-runs also when the key went or changed type: it
                    // answers -NOGROUP or WRONGTYPE then, as in Valkey 8. The key is
                    // judged at the current time: one that expired meanwhile (say,
                    // during the EXEC that readied it) leaves the client blocked and is
                    // not deleted here (Valkey's LOOKUP_NOEXPIRE), so its deletion is
                    // propagated by whichever command touches it next.
                    self.ks.set_now(super::now_ms());
                    if kind == Kind::StreamGroup || self.ks.peek(db, &key).is_some_and(|v| kind.holds(&v)) {
                        self.rerun_blocked(id);
                    }
                }
            }
        }
    }

    /// Runs a parked command again; its reply goes to the client's own buffer.
    fn rerun_blocked(&mut self, id: u64) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let Some(b) = c.blocked.take() else {
            return;
        };
        self.unqueue(id, &b);
        let Exec::Core(handler) = b.spec.exec else {
            return;
        };
        let argv: Vec<&[u8]> = b.argv.iter().map(Vec::as_slice).collect();
        if self.refuse_rerun(id, b.spec, &argv) {
            return;
        }
        // A re-run is a command of its own: it reads the clock afresh (Valkey's call()
        // updates its cached time), so a key that expired meanwhile (say, during the
        // EXEC that readied it) is found expired and the client blocks again.
        self.ks.set_now(super::now_ms());
        let started = std::time::Instant::now();
        self.with_client_output(id, |e| {
            e.run(id, b.spec, handler, &argv);
            // Its invalidations for itself follow its reply.
            e.tracking_flush_pending(id);
        });
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.blocked.is_none() {
            c.commands_processed += 1;
            // Served: logged now, once (Valkey logs a blocking command when unblocked).
            let elapsed = started.elapsed();
            self.top_level_command_ran(elapsed);
            self.command_done(id, b.spec, &argv, elapsed);
        }
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        match &mut c.blocked {
            // Nothing for it after all: it keeps its original deadline.
            Some(again) => again.deadline = b.deadline,
            None => self.blocking.woken.push(id),
        }
    }

    /// A woken command goes through the permission check again (Valkey re-processes it
    /// as a new command): when the user lost the right to run it (its keys, say) meanwhile,
    /// it answers NOPERM, counts as a rejected call and is logged in ACL LOG. True when
    /// refused (the client is then unblocked).
    fn refuse_rerun(&mut self, id: u64, spec: &'static CommandSpec, argv: &[&[u8]]) -> bool {
        let Some(c) = self.clients.get(&id) else {
            return false;
        };
        let Err(refusal) = self.acl.check(c.user.as_deref(), spec, argv) else {
            return false;
        };
        self.log_acl_refusal(id, spec, &refusal);
        self.with_client_output(id, |e| {
            let proto = e.clients.get(&id).map_or(2, |c| c.proto);
            Reply::new(&mut e.out, proto).error(&refusal.error);
        });
        self.command_rejected(Some(spec));
        self.blocking.woken.push(id);
        self.update_tracking();
        true
    }

    /// Runs `f` with the engine's reply buffer swapped for client `id`'s pending one.
    fn with_client_output(&mut self, id: u64, f: impl FnOnce(&mut Engine)) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        std::mem::swap(&mut self.out, &mut c.pending_out);
        f(self);
        if let Some(c) = self.clients.get_mut(&id) {
            std::mem::swap(&mut self.out, &mut c.pending_out);
        }
    }

    /// Ends a client's wait without serving it: the timeout reply (null array), or
    /// `-UNBLOCKED` for CLIENT UNBLOCK ... ERROR. False when it was not blocked.
    pub fn unblock(&mut self, id: u64, error: bool) -> bool {
        self.end_wait(id, error.then_some("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
    }

    /// This server became a replica: every blocked client gets `-UNBLOCKED` (Valkey's
    /// disconnectAllBlockedClients), since the primary's stream could otherwise serve it
    /// data no primary gave it. Returns how many were unblocked.
    pub fn unblock_all_for_role_change(&mut self) -> usize {
        let mut ids: Vec<u64> = self.clients.iter().filter(|(_, c)| c.blocked.is_some()).map(|(&id, _)| id).collect();
        ids.sort_unstable();
        ids.into_iter()
            .filter(|&id| self.end_wait(id, Some("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)")))
            .count()
    }

    /// Ends a wait with the timeout reply or the given error.
    fn end_wait(&mut self, id: u64, error: Option<&str>) -> bool {
        let Some(c) = self.clients.get_mut(&id) else {
            return false;
        };
        let Some(b) = c.blocked.take() else {
            return false;
        };
        let mut r = Reply::new(&mut c.pending_out, c.proto);
        if let Some(e) = error {
            r.error(e);
        } else {
            r.null_array();
        }
        self.unqueue(id, &b);
        // Counted now, as Valkey's updateStatsOnUnblock (an UNBLOCKED error fails it).
        let argv: Vec<&[u8]> = b.argv.iter().map(Vec::as_slice).collect();
        self.command_done(id, b.spec, &argv, std::time::Duration::ZERO);
        self.blocking.woken.push(id);
        self.update_tracking();
        true
    }

    /// The deadline (ms since the epoch) of a blocked client; 0 waits forever.
    pub fn block_deadline(&self, id: u64) -> Option<i64> {
        self.clients.get(&id)?.blocked.as_ref().map(|b| b.deadline)
    }

    /// True when clients were served or unblocked and their replies wait for the host.
    pub fn has_woken(&self) -> bool {
        !self.blocking.woken.is_empty()
    }

    /// Lists a client for [`Engine::wake`] (input read while a script was busy).
    pub(crate) fn push_woken(&mut self, id: u64) {
        if !self.blocking.woken.contains(&id) {
            self.blocking.woken.push(id);
        }
    }

    /// Closes a connection as soon as the host serves the woken clients (Valkey's
    /// freeClientAsync): ACL changes that revoke a user or its channels.
    pub fn close_soon(&mut self, id: u64) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.closing = true;
            self.push_woken(id);
        }
    }

    /// The clients to pass to [`Engine::wake`], in the order they were served.
    pub fn take_woken(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.blocking.woken)
    }

    /// Counters for INFO clients.
    pub fn conn_stats(&self) -> ConnStats {
        let mut s = ConnStats {
            total_blocking_keys: self.blocking.waiting.len(),
            total_watched_keys: self.watches.len(),
            ..ConnStats::default()
        };
        let mut on_nokey: Vec<(usize, &Bytes)> = Vec::new();
        for c in self.clients.values() {
            if let Some(b) = &c.blocked {
                if b.kind == Kind::StreamGroup {
                    for k in &b.keys {
                        if !on_nokey.contains(&(b.db, k)) {
                            on_nokey.push((b.db, k));
                        }
                    }
                }
                s.blocked_clients += 1;
                if b.deadline != 0 {
                    s.clients_in_timeout_table += 1;
                }
            } else if c.postponed {
                s.blocked_clients += 1;
            }
            if !c.watched.is_empty() {
                s.watching_clients += 1;
            }
        }
        s.total_blocking_keys_on_nokey = on_nokey.len();
        s
    }
}

/// Valkey's getTimeoutFromObjectOrReply in seconds: an absolute deadline in ms, 0 for
/// "forever". The ms value is rounded up, so a tiny negative timeout means forever.
pub(crate) fn parse_timeout(arg: &[u8], now: i64) -> Result<i64, CmdError> {
    let secs = parse_f64(arg).ok_or("ERR timeout is not a float or out of range")?;
    let ms = (secs * 1000.0).ceil();
    if ms > i64::MAX as f64 {
        return Err("ERR timeout is out of range".into());
    }
    if ms < 0.0 {
        return Err("ERR timeout is negative".into());
    }
    let ms = ms as i64;
    if ms == 0 {
        return Ok(0);
    }
    if ms > i64::MAX - now {
        return Err("ERR timeout is out of range".into());
    }
    Ok(now + ms)
}

/// Runs the non-blocking command `argv` (from the command table) in this context. The
/// blocking command itself is never logged to the AOF; the non-blocking one is, unless
/// its handler logged its effect itself (LMPOP, ZMPOP).
fn delegate(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let Some(Exec::Core(handler)) = crate::table::lookup(argv[0]).map(|s| s.exec) else {
        return Err("ERR internal error: no handler for a served blocking command".into());
    };
    let dirty = ctx.ks.dirty;
    ctx.prop.suppress_current = false;
    let result = handler(ctx, argv);
    let logged_effect = ctx.prop.suppress_current;
    ctx.prop.suppress_current = true;
    if result.is_ok() && !logged_effect && ctx.ks.dirty != dirty {
        ctx.also_propagate(argv);
    }
    result
}

/// Nothing to serve: block, or inside EXEC answer as a timeout would.
fn wait_or_null(ctx: &mut Ctx<'_>, keys: &[&[u8]], deadline: i64, kind: Kind, null_bulk: bool) -> CmdResult {
    if ctx.client.deny_blocking() {
        if null_bulk {
            ctx.reply.null();
        } else {
            ctx.reply.null_array();
        }
        return Ok(());
    }
    ctx.client.block_request = Some(BlockRequest { keys: keys.iter().map(|k| (*k).into()).collect(), deadline, kind, argv: None });
    Ok(())
}

/// XREAD / XREADGROUP found nothing: block on `keys` (re-running `argv`), or inside
/// EXEC answer as a timeout would.
pub(crate) fn block_stream(ctx: &mut Ctx<'_>, keys: &[&[u8]], deadline: i64, argv: Vec<Vec<u8>>, group: bool) -> CmdResult {
    if ctx.client.deny_blocking() {
        ctx.reply.null_array();
        return Ok(());
    }
    let kind = if group { Kind::StreamGroup } else { Kind::Stream };
    ctx.client.block_request = Some(BlockRequest { keys: keys.iter().map(|k| (*k).into()).collect(), deadline, kind, argv: Some(argv) });
    Ok(())
}

/// A timeout in milliseconds (XREAD BLOCK): an absolute deadline, 0 for "forever".
pub(crate) fn parse_ms_timeout(arg: &[u8], now: i64) -> Result<i64, CmdError> {
    let ms = forkv_keyspace::value::parse_canonical_i64(arg).ok_or("ERR timeout is not an integer or out of range")?;
    if ms < 0 {
        return Err("ERR timeout is negative".into());
    }
    if ms == 0 {
        return Ok(0);
    }
    now.checked_add(ms).ok_or_else(|| "ERR timeout is out of range".into())
}

/// True when `key` holds a `T` (WRONGTYPE when it holds something else).
fn holds<T: coll::Coll>(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, CmdError> {
    let db = ctx.db();
    coll::check_type::<T>(ctx.ks, db, key)
}

fn bpop_list(ctx: &mut Ctx<'_>, argv: &[&[u8]], pop: &[u8]) -> CmdResult {
    let deadline = parse_timeout(argv[argv.len() - 1], ctx.ks.now())?;
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        if holds::<ListValue>(ctx, key)? {
            // [key, element]: the pop's bulk reply completes the pair.
            ctx.reply.array(2);
            ctx.reply.bulk(key);
            return delegate(ctx, &[pop, key]);
        }
    }
    wait_or_null(ctx, keys, deadline, Kind::List, false)
}

fn blpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop_list(ctx, argv, b"LPOP")
}

fn brpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop_list(ctx, argv, b"RPOP")
}

/// LEFT/RIGHT, with Valkey's syntax error.
fn check_side(arg: &[u8]) -> CmdResult {
    if is(arg, "LEFT") || is(arg, "RIGHT") {
        Ok(())
    } else {
        Err(errors::SYNTAX.into())
    }
}

fn bmove(ctx: &mut Ctx<'_>, inner: &[&[u8]], deadline: i64) -> CmdResult {
    let src = inner[1];
    if holds::<ListValue>(ctx, src)? {
        return delegate(ctx, inner);
    }
    wait_or_null(ctx, &[src], deadline, Kind::List, true)
}

fn blmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    check_side(argv[3])?;
    check_side(argv[4])?;
    let deadline = parse_timeout(argv[5], ctx.ks.now())?;
    bmove(ctx, &[b"LMOVE", argv[1], argv[2], argv[3], argv[4]], deadline)
}

fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let deadline = parse_timeout(argv[3], ctx.ks.now())?;
    bmove(ctx, &[b"RPOPLPUSH", argv[1], argv[2]], deadline)
}

/// BLMPOP/BZMPOP `timeout numkeys key... side [COUNT n]`: checks the syntax as
/// LMPOP/ZMPOP would (before the timeout, as Valkey does), then serves through them.
fn bmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]], inner_name: &[u8], kind: Kind) -> CmdResult {
    let numkeys = coll::parse_numkeys(argv[2])?;
    let where_idx = 3 + numkeys;
    if where_idx >= argv.len() {
        return Err(errors::SYNTAX.into());
    }
    let side = argv[where_idx];
    let side_ok = match kind {
        Kind::List => is(side, "LEFT") || is(side, "RIGHT"),
        // Only lists and sorted sets come here.
        _ => is(side, "MIN") || is(side, "MAX"),
    };
    if !side_ok {
        return Err(errors::SYNTAX.into());
    }
    coll::parse_mpop_count(argv, where_idx + 1)?;
    let deadline = parse_timeout(argv[1], ctx.ks.now())?;
    let keys = &argv[3..where_idx];
    for key in keys {
        let found = match kind {
            Kind::List => holds::<ListValue>(ctx, key)?,
            _ => holds::<ZSetValue>(ctx, key)?,
        };
        if found {
            let mut inner: Vec<&[u8]> = Vec::with_capacity(argv.len() - 1);
            inner.push(inner_name);
            inner.extend_from_slice(&argv[2..]);
            return delegate(ctx, &inner);
        }
    }
    wait_or_null(ctx, keys, deadline, kind, false)
}

fn blmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bmpop(ctx, argv, b"LMPOP", Kind::List)
}

fn bzmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bmpop(ctx, argv, b"ZMPOP", Kind::ZSet)
}

fn bzpop(ctx: &mut Ctx<'_>, argv: &[&[u8]], pop: &[u8]) -> CmdResult {
    let deadline = parse_timeout(argv[argv.len() - 1], ctx.ks.now())?;
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        if holds::<ZSetValue>(ctx, key)? {
            // ZPOPMIN answers [member, score]; BZPOPMIN answers [key, member, score].
            let mut inner_out = Vec::new();
            {
                let mut inner = Ctx {
                    ks: &mut *ctx.ks,
                    client: &mut *ctx.client,
                    reply: Reply::new(&mut inner_out, ctx.reply.proto),
                    cfg: ctx.cfg,
                    prop: &mut *ctx.prop,
                    debug: &mut *ctx.debug,
                    logs: &mut *ctx.logs,
                    migrate: &mut *ctx.migrate,
                    acl: ctx.acl,
                };
                delegate(&mut inner, &[pop, key])?;
            }
            ctx.reply.array(3);
            ctx.reply.bulk(key);
            ctx.reply.raw(inner_out.strip_prefix(b"*2\r\n").unwrap_or(&inner_out));
            return Ok(());
        }
    }
    wait_or_null(ctx, keys, deadline, Kind::ZSet, false)
}

fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bzpop(ctx, argv, b"ZPOPMIN")
}

fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bzpop(ctx, argv, b"ZPOPMAX")
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;

    #[test]
    fn timeouts_parse_like_valkey() {
        assert_eq!(parse_timeout(b"0", 1000).ok(), Some(0));
        assert_eq!(parse_timeout(b"1.5", 1000).ok(), Some(2500));
        assert_eq!(parse_timeout(b"0.0001", 1000).ok(), Some(1001));
        // Rounded up to -0: waits forever, as in Valkey.
        assert_eq!(parse_timeout(b"-0.0001", 1000).ok(), Some(0));
        assert_eq!(parse_timeout(b"-1", 0).err().as_deref(), Some("ERR timeout is negative"));
        assert_eq!(parse_timeout(b"abc", 0).err().as_deref(), Some("ERR timeout is not a float or out of range"));
        assert_eq!(parse_timeout(b"inf", 0).err().as_deref(), Some("ERR timeout is out of range"));
        assert_eq!(parse_timeout(b"1e20", 0).err().as_deref(), Some("ERR timeout is out of range"));
    }
}

#[cfg(test)]
mod expiry_tests {
    use crate::testkit::cmd;
    use crate::{Engine, Outcome};

    fn aof(e: &mut Engine) -> String {
        String::from_utf8_lossy(&e.prop.take()).replace("\r\n", " ")
    }

    /// Valkey's "MULTI + LPUSH + EXPIRE + DEBUG SLEEP on blocked client, key already
    /// expired": the EXEC readies the key, but it has expired by then, so the blocked
    /// client stays blocked and the key is deleted (and propagated) only when a later
    /// command touches it, on its own.
    #[test]
    fn a_key_expired_by_the_time_it_is_served_stays_until_touched() {
        let mut e = Engine::new(16);
        e.add_client(1);
        e.add_client(2);
        if let Some(c) = e.client_mut(1) {
            c.debug_allowed = true;
        }
        e.set_propagation(true);
        e.ks.lazyfree.expire = true;
        assert_eq!(e.feed(2, &cmd(&["BRPOP", "k", "0"])), Outcome::Blocked);
        for c in [&["MULTI"][..], &["RPUSH", "k", "hello"], &["PEXPIRE", "k", "20"], &["DEBUG", "SLEEP", "0.05"], &["EXEC"]] {
            e.clear_reply();
            e.feed(1, &cmd(c));
        }
        assert!(e.client(2).is_some_and(|c| c.is_blocked()));
        let stream = aof(&mut e);
        assert!(stream.ends_with("*1 $4 EXEC "), "{stream}");
        assert!(!stream.contains("UNLINK") && !stream.contains("DEL"), "{stream}");
        e.clear_reply();
        e.feed(1, &cmd(&["EXISTS", "k"]));
        assert_eq!(e.reply(), b":0\r\n");
        assert_eq!(aof(&mut e), "*2 $6 UNLINK $1 k ");
    }
}

#[cfg(test)]
mod acl_tests {
    use crate::testkit::{cmd, run};
    use crate::{Engine, Outcome};

    #[test]
    fn a_woken_command_is_refused_when_its_user_lost_the_key_meanwhile() {
        let mut e = Engine::new(16);
        e.add_client(1);
        e.add_client(2);
        assert_eq!(run(&mut e, &["ACL", "SETUSER", "psuser", "on", "nopass", "+@all", "allkeys"]), "+OK\r\n");
        e.clear_reply();
        // AUTH is the host's: it sets the user it checked.
        if let Some(c) = e.client_mut(2) {
            c.user = Some("psuser".into());
        }
        assert_eq!(e.feed(2, &cmd(&["BLPOP", "list1", "0"])), Outcome::Blocked, "{}", String::from_utf8_lossy(e.reply()));
        assert_eq!(run(&mut e, &["ACL", "SETUSER", "psuser", "resetkeys"]), "+OK\r\n");
        assert_eq!(run(&mut e, &["LPUSH", "list1", "foo"]), ":1\r\n");
        assert_eq!(e.take_woken(), vec![2]);
        e.clear_reply();
        assert_eq!(e.wake(2), Outcome::Done);
        assert_eq!(e.reply(), b"-NOPERM No permissions to access a key\r\n");
        // Not run: the element stays, the call counts as rejected, ACL LOG has it.
        assert_eq!(run(&mut e, &["LLEN", "list1"]), ":1\r\n");
        let mut stats = String::new();
        e.cmdstats.render_commandstats(&mut stats);
        assert!(stats.contains("cmdstat_blpop:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"), "{stats}");
        let log = run(&mut e, &["ACL", "LOG"]);
        assert!(log.contains("list1") && log.contains("key"), "{log}");
    }
}
