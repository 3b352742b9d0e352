//! Generic key commands (Valkey `db.c`, `expire.c`, `object.c`).

use std::borrow::Cow;

use forkv_keyspace::glob::glob_match;
use forkv_keyspace::{notify, Bytes, StrValue, Value};

use super::{is, parse_i64, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[
    spec("del", -2, WRITE, (1, -1, 1), "generic", "1.0.0", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).", "Deletes one or more keys.", Core(del)),
    spec("unlink", -2, WRITE | FAST, (1, -1, 1), "generic", "4.0.0", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.", "Asynchronously deletes one or more keys.", Core(unlink)),
    spec("exists", -2, READONLY | FAST, (1, -1, 1), "generic", "1.0.0", "O(N) where N is the number of keys to check.", "Determines whether one or more keys exist.", Core(exists)),
    spec("type", 2, READONLY | FAST, (1, 1, 1), "generic", "1.0.0", "O(1)", "Determines the type of value stored at a key.", Core(type_cmd)),
    spec("keys", 2, READONLY, (0, 0, 0), "generic", "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", "Returns all key names that match a pattern.", Core(keys)),
    spec("scan", -2, READONLY, (0, 0, 0), "generic", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over the key names in the database.", Core(scan)),
    spec("randomkey", 1, READONLY, (0, 0, 0), "generic", "1.0.0", "O(1)", "Returns a random key name from the database.", Core(randomkey)),
    spec("rename", 3, WRITE, (1, 2, 1), "generic", "1.0.0", "O(1)", "Renames a key and overwrites the destination.", Core(rename)),
    spec("renamenx", 3, WRITE | FAST, (1, 2, 1), "generic", "1.0.0", "O(1)", "Renames a key only when the target key name doesn't exist.", Core(renamenx)),
    spec("copy", -3, WRITE | DENYOOM, (1, 2, 1), "generic", "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", "Copies the value of a key to a new key.", Core(copy)),
    spec("move", 3, WRITE | FAST, (1, 1, 1), "generic", "1.0.0", "O(1)", "Moves a key to another database.", Core(move_cmd)),
    spec("touch", -2, READONLY | FAST, (1, -1, 1), "generic", "3.2.1", "O(N) where N is the number of keys that will be touched.", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", Core(touch)),
    spec("expire", -3, WRITE | FAST, (1, 1, 1), "generic", "1.0.0", "O(1)", "Sets the expiration time of a key in seconds.", Core(expire)),
    spec("pexpire", -3, WRITE | FAST, (1, 1, 1), "generic", "2.6.0", "O(1)", "Sets the expiration time of a key in milliseconds.", Core(pexpire)),
    spec("expireat", -3, WRITE | FAST, (1, 1, 1), "generic", "1.2.0", "O(1)", "Sets the expiration time of a key to a Unix timestamp.", Core(expireat)),
    spec("pexpireat", -3, WRITE | FAST, (1, 1, 1), "generic", "2.6.0", "O(1)", "Sets the expiration time of a key to a Unix milliseconds timestamp.", Core(pexpireat)),
    spec("ttl", 2, READONLY | FAST, (1, 1, 1), "generic", "1.0.0", "O(1)", "Returns the expiration time in seconds of a key.", Core(ttl)),
    spec("pttl", 2, READONLY | FAST, (1, 1, 1), "generic", "2.6.0", "O(1)", "Returns the expiration time in milliseconds of a key.", Core(pttl)),
    spec("expiretime", 2, READONLY | FAST, (1, 1, 1), "generic", "7.0.0", "O(1)", "Returns the expiration time of a key as a Unix timestamp.", Core(expiretime)),
    spec("pexpiretime", 2, READONLY | FAST, (1, 1, 1), "generic", "7.0.0", "O(1)", "Returns the expiration time of a key as a Unix milliseconds timestamp.", Core(pexpiretime)),
    spec("persist", 2, WRITE | FAST, (1, 1, 1), "generic", "2.2.0", "O(1)", "Removes the expiration time of a key.", Core(persist)),
    container("object", -2, 0, "generic", "2.2.3", "A container for object introspection commands.", OBJECT_SUBCOMMANDS),
];

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    spec("object|encoding", 3, READONLY, (2, 2, 1), "generic", "2.2.3", "O(1)", "Returns the internal encoding of an object.", Core(object_encoding)),
    spec("object|refcount", 3, READONLY, (2, 2, 1), "generic", "2.2.3", "O(1)", "Returns the reference count of a value of a key.", Core(object_refcount)),
    spec("object|freq", 3, READONLY, (2, 2, 1), "generic", "4.0.0", "O(1)", "Returns the logarithmic access frequency counter of an object.", Core(object_freq)),
    spec("object|idletime", 3, READONLY, (2, 2, 1), "generic", "2.2.3", "O(1)", "Returns the time since the last access to an object.", Core(object_idletime)),
    spec("object|help", 2, LOADING | STALE, (0, 0, 0), "generic", "6.2.0", "O(1)", "Returns helpful text about the different subcommands.", Core(object_help)),
];

fn del(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lazy = ctx.ks.lazyfree.user_del;
    delete_keys(ctx, argv, lazy)
}

/// UNLINK: DEL that always frees big values on the background thread.
fn unlink(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    delete_keys(ctx, argv, true)
}

/// DEL and UNLINK (Valkey's delGenericCommand): `lazy` frees big values in the background.
fn delete_keys(ctx: &mut Ctx<'_>, argv: &[&[u8]], lazy: bool) -> CmdResult {
    let db = ctx.db();
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.ks.delete_freeing(db, key, lazy) {
            ctx.notify(notify::GENERIC, "del", key);
            n += 1;
        }
    }
    ctx.reply.int(n as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    // Valkey's LOOKUP_NOTOUCH: EXISTS is no access of the key (OBJECT IDLETIME stays).
    let n = argv[1..].iter().filter(|k| ctx.ks.lookup_read_no_touch(db, k).is_some()).count();
    ctx.reply.int(n as i64);
    Ok(())
}

fn touch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    // A read access of each key: updates its access clock (OBJECT IDLETIME/FREQ).
    let n = argv[1..].iter().filter(|k| ctx.ks.lookup_read(db, k).is_some()).count();
    ctx.reply.int(n as i64);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let name = ctx.ks.lookup_read_no_touch(db, argv[1]).as_deref().map_or("none", Value::type_name);
    ctx.reply.simple(name);
    Ok(())
}

fn keys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let pattern = argv[1];
    let all = pattern == b"*";
    let now = ctx.ks.now();
    let d = ctx.ks.db(db);
    let found: Vec<&[u8]> = d
        .keys
        .iter_ref()
        .filter(|(k, _)| all || glob_match(pattern, k, false))
        .filter(|(k, _)| d.expire_of(k).is_none_or(|at| at > now))
        .map(|(k, _)| k)
        .collect();
    ctx.reply.array(found.len());
    for k in found {
        ctx.reply.bulk(k);
    }
    Ok(())
}

/// Parses an unsigned SCAN cursor (Valkey: "invalid cursor").
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Cow<'static, str>> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Cow::Borrowed(errors::INVALID_CURSOR))
}

/// SCAN/SSCAN/HSCAN/ZSCAN options.
pub struct ScanOptions<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<String>,
}

/// Parses `[MATCH pattern] [COUNT count] [TYPE type]` from `argv[from..]`.
pub fn parse_scan_options<'a>(argv: &[&'a [u8]], from: usize, allow_type: bool) -> Result<ScanOptions<'a>, Cow<'static, str>> {
    let mut o = ScanOptions { count: 10, pattern: None, type_name: None };
    let mut i = from;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        if is(argv[i], "COUNT") && has_value {
            let n = parse_i64(argv[i + 1])?;
            if n < 1 {
                return Err(errors::SYNTAX.into());
            }
            o.count = n as usize;
        } else if is(argv[i], "MATCH") && has_value {
            o.pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
        } else if allow_type && is(argv[i], "TYPE") && has_value {
            let t = String::from_utf8_lossy(argv[i + 1]).to_ascii_lowercase();
            if !["string", "list", "set", "zset", "hash", "stream"].contains(&t.as_str()) {
                return Err(Cow::Owned(format!("ERR unknown type name '{}'", String::from_utf8_lossy(argv[i + 1]))));
            }
            o.type_name = Some(t);
        } else if is(argv[i], "NOVALUES") {
            return Err(super::coll::NOVALUES_ONLY_HSCAN.into());
        } else if is(argv[i], "NOSCORES") {
            return Err(super::coll::NOSCORES_ONLY_ZSCAN.into());
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 2;
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut cursor = parse_cursor(argv[1])?;
    let opts = parse_scan_options(argv, 2, true)?;
    let db = ctx.db();
    let mut found: Vec<Bytes> = Vec::new();
    // Like Valkey, visit at most count*10 buckets per call so a sparse table cannot
    // stall the server.
    let mut budget = opts.count.saturating_mul(10);
    let d = ctx.ks.db(db);
    loop {
        cursor = d.keys.scan(cursor, |k, v| {
            let type_ok = opts.type_name.as_deref().is_none_or(|t| v.type_name() == t);
            let match_ok = opts.pattern.is_none_or(|p| glob_match(p, k, false));
            if type_ok && match_ok {
                found.push(Bytes::from(k));
            }
        });
        budget -= 1;
        if cursor == 0 || found.len() >= opts.count || budget == 0 {
            break;
        }
    }
    // Expired keys are reclaimed, not returned.
    found.retain(|k| !ctx.ks.expire_if_needed(db, k));
    ctx.reply.array(2);
    ctx.reply.bulk(cursor.to_string().as_bytes());
    ctx.reply.array(found.len());
    for k in &found {
        ctx.reply.bulk(k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    match ctx.ks.random_key(db) {
        Some(k) => ctx.reply.bulk(&k),
        None => ctx.reply.null(),
    }
    Ok(())
}

fn rename_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], nx: bool) -> Result<bool, Cow<'static, str>> {
    let db = ctx.db();
    let (src, dst) = (argv[1], argv[2]);
    if !ctx.ks.exists(db, src) {
        return Err(errors::NO_SUCH_KEY.into());
    }
    if src == dst {
        return Ok(!nx);
    }
    if nx && ctx.ks.exists(db, dst) {
        return Ok(false);
    }
    if let Some((value, ttl)) = ctx.ks.take(db, src) {
        ctx.ks.put(db, dst, value, ttl);
        ctx.notify(notify::GENERIC, "rename_from", src);
        ctx.notify(notify::GENERIC, "rename_to", dst);
    }
    Ok(true)
}

fn rename(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, argv, false)?;
    ctx.reply.ok();
    Ok(())
}

fn renamenx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let done = rename_generic(ctx, argv, true)?;
    ctx.reply.int(i64::from(done));
    Ok(())
}

/// Parses a database index argument and checks its range.
fn parse_db(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, Cow<'static, str>> {
    let n = parse_i64(arg)?;
    if n < 0 || n as usize >= ctx.ks.db_count() {
        return Err(errors::DB_RANGE.into());
    }
    Ok(n as usize)
}

fn copy(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let src_db = ctx.db();
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if is(argv[i], "REPLACE") {
            replace = true;
        } else if is(argv[i], "DB") && i + 1 < argv.len() {
            dst_db = parse_db(ctx, argv[i + 1])?;
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    let (src, dst) = (argv[1], argv[2]);
    if src_db == dst_db && src == dst {
        return Err(errors::SAME_OBJECT.into());
    }
    let Some(value) = ctx.ks.lookup_read(src_db, src).as_deref().map(Value::duplicate) else {
        ctx.reply.int(0);
        return Ok(());
    };
    let ttl = ctx.ks.db(src_db).expire_of(src);
    if ctx.ks.exists(dst_db, dst) {
        if !replace {
            ctx.reply.int(0);
            return Ok(());
        }
        ctx.ks.delete(dst_db, dst);
    }
    ctx.ks.put(dst_db, dst, value, ttl);
    ctx.ks.notify.raise(notify::GENERIC, "copy_to", dst_db, dst);
    ctx.reply.int(1);
    Ok(())
}

fn move_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let src_db = ctx.db();
    let dst_db = parse_db(ctx, argv[2])?;
    if src_db == dst_db {
        return Err(errors::SAME_OBJECT.into());
    }
    let key = argv[1];
    if !ctx.ks.exists(src_db, key) || ctx.ks.exists(dst_db, key) {
        ctx.reply.int(0);
        return Ok(());
    }
    if let Some((value, ttl)) = ctx.ks.take(src_db, key) {
        ctx.ks.put(dst_db, key, value, ttl);
        ctx.ks.notify.raise(notify::GENERIC, "move_from", src_db, key);
        ctx.ks.notify.raise(notify::GENERIC, "move_to", dst_db, key);
    }
    ctx.reply.int(1);
    Ok(())
}

/// EXPIRE family: `unit` ms per argument unit, `absolute` for *AT forms.
fn expire_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], unit: i64, absolute: bool, name: &str) -> CmdResult {
    let key = argv[1];
    let when = parse_i64(argv[2])?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &argv[3..] {
        if is(a, "NX") {
            nx = true;
        } else if is(a, "XX") {
            xx = true;
        } else if is(a, "GT") {
            gt = true;
        } else if is(a, "LT") {
            lt = true;
        } else {
            return Err(Cow::Owned(format!("ERR Unsupported option {}", String::from_utf8_lossy(a))));
        }
    }
    if nx && (xx || gt || lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if gt && lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    let invalid = || Cow::Owned(format!("ERR invalid expire time in '{name}' command"));
    let mut at = when.checked_mul(unit).ok_or_else(invalid)?;
    if !absolute {
        at = at.checked_add(ctx.ks.now()).ok_or_else(invalid)?;
    }
    let db = ctx.db();
    let Some(current) = ctx.ks.expire_time(db, key) else {
        ctx.reply.int(0);
        return Ok(());
    };
    let allowed = match current {
        None => !xx && !gt,
        Some(cur) => !nx && (!gt || at > cur) && (!lt || at < cur),
    };
    if !allowed {
        ctx.reply.int(0);
        return Ok(());
    }
    if ctx.ks.already_expired(at) {
        ctx.delete_expired_by_command(key);
    } else {
        ctx.suppress_propagation();
        ctx.ks.set_expire(db, key, at);
        ctx.notify(notify::GENERIC, "expire", key);
        let at_s = at.to_string();
        ctx.also_propagate(&[b"PEXPIREAT", key, at_s.as_bytes()]);
    }
    ctx.reply.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, 1000, false, "expire")
}
fn pexpire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, 1, false, "pexpire")
}
fn expireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, 1000, true, "expireat")
}
fn pexpireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, 1, true, "pexpireat")
}

/// TTL family: -2 absent, -1 no TTL, else remaining (or absolute) time, rounded to
/// seconds unless `ms`.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], ms: bool, absolute: bool) -> CmdResult {
    let db = ctx.db();
    let now = ctx.ks.now();
    let reply = match ctx.ks.expire_time(db, key) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let t = if absolute { at } else { (at - now).max(0) };
            if ms {
                t
            } else {
                t.saturating_add(500) / 1000
            }
        }
    };
    ctx.reply.int(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], false, false)
}
fn pttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], true, false)
}
fn expiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], false, true)
}
fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv[1], true, true)
}

fn persist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let done = ctx.ks.exists(db, argv[1]) && ctx.ks.persist(db, argv[1]);
    ctx.reply.int(i64::from(done));
    Ok(())
}

fn object_encoding(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    match ctx.ks.lookup_read_no_touch(db, argv[2]).as_deref().map(Value::encoding_name) {
        Some(e) => ctx.reply.bulk(e.as_bytes()),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// Valkey's `OBJ_SHARED_INTEGERS`: integers below this are shared objects.
const SHARED_INTEGERS: i64 = 10_000;
/// Valkey's `OBJ_SHARED_REFCOUNT` (`INT_MAX`): the refcount a shared object reports.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// The refcount Valkey reports for a value. forkv never shares a value between keys, but
/// Valkey answers `INT_MAX` for the integers 0..9999 it keeps as shared objects (unless a
/// `maxmemory` with an LRU/LFU policy forbids sharing), and clients and tests read that
/// to learn an integer is shared; every other value has one owner.
pub fn refcount(v: &Value, shared_integers: bool) -> i64 {
    match v {
        Value::Str(StrValue::Int(n)) if shared_integers && (0..SHARED_INTEGERS).contains(n) => SHARED_REFCOUNT,
        _ => 1,
    }
}

fn object_refcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let shared = ctx.cfg.shared_integers;
    match ctx.ks.lookup_read_no_touch(db, argv[2]).as_deref().map(|v| refcount(v, shared)) {
        Some(n) => ctx.reply.int(n),
        None => ctx.reply.null(),
    }
    Ok(())
}

fn object_idletime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    if ctx.ks.lookup_read_no_touch(db, argv[2]).is_none() {
        ctx.reply.null();
        return Ok(());
    }
    if ctx.ks.lfu() {
        return Err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let idle = ctx.ks.idle_seconds(db, argv[2]).unwrap_or(0);
    ctx.reply.int(i64::try_from(idle).unwrap_or(i64::MAX));
    Ok(())
}

fn object_freq(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    if ctx.ks.lookup_read_no_touch(db, argv[2]).is_none() {
        ctx.reply.null();
        return Ok(());
    }
    if !ctx.ks.lfu() {
        return Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    let freq = ctx.ks.frequency(db, argv[2]).unwrap_or(0);
    ctx.reply.int(i64::from(freq));
    Ok(())
}

fn object_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.help(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}
