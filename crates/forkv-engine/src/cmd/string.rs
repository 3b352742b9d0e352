//! String commands (Valkey `t_string.c`).

use std::borrow::Cow;

use forkv_keyspace::{notify, StrValue, Value};

use super::{is, parse_f64, parse_i64, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

const W: u32 = WRITE | DENYOOM;
const WF: u32 = WRITE | DENYOOM | FAST;
const RF: u32 = READONLY | FAST;

pub const COMMANDS: &[CommandSpec] = &[
    spec("get", 2, RF, (1, 1, 1), "string", "1.0.0", "O(1)", "Returns the string value of a key.", Core(get)),
    spec("set", -3, W, (1, 1, 1), "string", "1.0.0", "O(1)", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", Core(set)),
    spec("setnx", 3, WF, (1, 1, 1), "string", "1.0.0", "O(1)", "Set the string value of a key only when the key doesn't exist.", Core(setnx)),
    spec("setex", 4, W, (1, 1, 1), "string", "2.0.0", "O(1)", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", Core(setex)),
    spec("psetex", 4, W, (1, 1, 1), "string", "2.6.0", "O(1)", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", Core(psetex)),
    spec("getset", 3, WF, (1, 1, 1), "string", "1.0.0", "O(1)", "Returns the previous string value of a key after setting it to a new value.", Core(getset)),
    spec("getdel", 2, WRITE | FAST, (1, 1, 1), "string", "6.2.0", "O(1)", "Returns the string value of a key after deleting the key.", Core(getdel)),
    spec("getex", -2, WRITE | FAST, (1, 1, 1), "string", "6.2.0", "O(1)", "Returns the string value of a key after setting its expiration time.", Core(getex)),
    spec("mget", -2, RF, (1, -1, 1), "string", "1.0.0", "O(N) where N is the number of keys to retrieve.", "Atomically returns the string values of one or more keys.", Core(mget)),
    spec("mset", -3, W, (1, -1, 2), "string", "1.0.1", "O(N) where N is the number of keys to set.", "Atomically creates or modifies the string values of one or more keys.", Core(mset)),
    spec("msetnx", -3, W, (1, -1, 2), "string", "1.0.1", "O(N) where N is the number of keys to set.", "Atomically modifies the string values of one or more keys only when all keys don't exist.", Core(msetnx)),
    spec("append", 3, WF, (1, 1, 1), "string", "2.0.0", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by the server will double the free space available on every reallocation.", "Appends a string to the value of a key. Creates the key if it doesn't exist.", Core(append)),
    spec("strlen", 2, RF, (1, 1, 1), "string", "2.2.0", "O(1)", "Returns the length of a string value.", Core(strlen)),
    spec("incr", 2, WF, (1, 1, 1), "string", "1.0.0", "O(1)", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", Core(incr)),
    spec("decr", 2, WF, (1, 1, 1), "string", "1.0.0", "O(1)", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", Core(decr)),
    spec("incrby", 3, WF, (1, 1, 1), "string", "1.0.0", "O(1)", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", Core(incrby)),
    spec("decrby", 3, WF, (1, 1, 1), "string", "1.0.0", "O(1)", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", Core(decrby)),
    spec("incrbyfloat", 3, WF, (1, 1, 1), "string", "2.6.0", "O(1)", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", Core(incrbyfloat)),
    spec("getrange", 4, READONLY, (1, 1, 1), "string", "2.4.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Returns a substring of the string stored at a key.", Core(getrange)),
    spec("substr", 4, READONLY, (1, 1, 1), "string", "1.0.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Returns a substring from a string value.", Core(getrange)),
    spec("setrange", 4, W, (1, 1, 1), "string", "2.2.0", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", Core(setrange)),
];

/// Reads a string key through `f`: `Ok(None)` when absent, WRONGTYPE for other types.
fn read_str<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&StrValue) -> R) -> Result<Option<R>, Cow<'static, str>> {
    let db = ctx.db();
    match ctx.ks.lookup_read(db, key).as_deref() {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(f(s))),
        Some(_) => Err(errors::WRONGTYPE.into()),
    }
}

/// Replies with a string key's value (null when absent). With `strict`, other types are
/// WRONGTYPE (GET); without, they read as null (MGET).
fn reply_value_of(ctx: &mut Ctx<'_>, key: &[u8], strict: bool) -> CmdResult {
    let db = ctx.client.db;
    let Ctx { ks, reply, .. } = ctx;
    match ks.lookup_read(db, key).as_deref() {
        Some(Value::Str(StrValue::Int(n))) => reply.bulk_i64(*n),
        Some(Value::Str(s)) => reply.bulk(&s.as_bytes()),
        None => reply.null(),
        Some(_) if strict => return Err(errors::WRONGTYPE.into()),
        Some(_) => reply.null(),
    }
    Ok(())
}

fn get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    reply_value_of(ctx, argv[1], true)
}

/// An expiry option as given: EX/PX relative, EXAT/PXAT absolute, KEEPTTL, PERSIST.
#[derive(Clone, Copy, PartialEq)]
enum Ttl {
    None,
    /// Absolute unix ms.
    At(i64),
    Keep,
    Persist,
}

/// Converts an expire argument to absolute ms with Valkey's validation
/// (`getExpireMillisecondsOrReply`): must be positive and not overflow.
fn expire_arg(ctx: &Ctx<'_>, arg: &[u8], unit_ms: i64, absolute: bool, cmd: &str) -> Result<i64, Cow<'static, str>> {
    let v = parse_i64(arg)?;
    let invalid = || Cow::Owned(format!("ERR invalid expire time in '{cmd}' command"));
    if v <= 0 {
        return Err(invalid());
    }
    let ms = v.checked_mul(unit_ms).ok_or_else(invalid)?;
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(ctx.ks.now()).ok_or_else(invalid)
    }
}

fn parse_ttl_option(ctx: &Ctx<'_>, argv: &[&[u8]], i: &mut usize, ttl: &mut Ttl, cmd: &str, allow_keep: bool, allow_persist: bool) -> Result<bool, Cow<'static, str>> {
    let a = argv[*i];
    let unit = if is(a, "EX") || is(a, "EXAT") {
        1000
    } else if is(a, "PX") || is(a, "PXAT") {
        1
    } else if allow_keep && is(a, "KEEPTTL") {
        if *ttl != Ttl::None {
            return Err(errors::SYNTAX.into());
        }
        *ttl = Ttl::Keep;
        return Ok(true);
    } else if allow_persist && is(a, "PERSIST") {
        if *ttl != Ttl::None {
            return Err(errors::SYNTAX.into());
        }
        *ttl = Ttl::Persist;
        return Ok(true);
    } else {
        return Ok(false);
    };
    if *ttl != Ttl::None || *i + 1 >= argv.len() {
        return Err(errors::SYNTAX.into());
    }
    let absolute = a.len() == 4;
    *ttl = Ttl::At(expire_arg(ctx, argv[*i + 1], unit, absolute, cmd)?);
    *i += 1;
    Ok(true)
}

fn set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, val) = (argv[1], argv[2]);
    let (mut nx, mut xx, mut get_old) = (false, false, false);
    let mut ttl = Ttl::None;
    let mut i = 3;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "NX") && !xx {
            nx = true;
        } else if is(a, "XX") && !nx {
            xx = true;
        } else if is(a, "GET") {
            get_old = true;
        } else if !parse_ttl_option(ctx, argv, &mut i, &mut ttl, "set", true, false)? {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    let db = ctx.db();
    let old = if get_old {
        read_str(ctx, key, |s| s.as_bytes().into_owned())?
    } else {
        None
    };
    let exists = if get_old { old.is_some() } else { ctx.ks.exists(db, key) };
    if (nx && exists) || (xx && !exists) {
        if get_old {
            reply_opt_bytes(ctx, old.as_deref());
        } else {
            ctx.reply.null();
        }
        return Ok(());
    }
    match ttl {
        // An EXAT/PXAT already past: Valkey stores nothing and deletes the key that was
        // there (logged as UNLINK/DEL, nothing at all when there was none).
        Ttl::At(at) if ctx.ks.already_expired(at) => {
            if exists {
                ctx.delete_expired_by_command(key);
            } else {
                ctx.suppress_propagation();
            }
            if get_old {
                reply_opt_bytes(ctx, old.as_deref());
            } else {
                ctx.reply.ok();
            }
            return Ok(());
        }
        _ => {}
    }
    ctx.ks.set(db, key, Value::Str(StrValue::from_bytes(val)), ttl == Ttl::Keep);
    ctx.notify(notify::STRING, "set", key);
    if let Ttl::At(at) = ttl {
        ctx.ks.set_expire(db, key, at);
        ctx.notify(notify::GENERIC, "expire", key);
    }
    // Log an absolute time so that replay does not extend the TTL: Valkey rewrites SET
    // EX/PX/EXAT as SET PXAT, and propagates a SET given PXAT as it came.
    let pxat_given = argv[3..].iter().any(|a| is(a, "PXAT"));
    if let (Ttl::At(at), false) = (ttl, pxat_given) {
        ctx.suppress_propagation();
        let at_s = at.to_string();
        let mut out: Vec<&[u8]> = vec![b"SET", key, val, b"PXAT", at_s.as_bytes()];
        if get_old {
            out.push(b"GET");
        }
        ctx.also_propagate(&out);
    }
    if get_old {
        reply_opt_bytes(ctx, old.as_deref());
    } else {
        ctx.reply.ok();
    }
    Ok(())
}

fn reply_opt_bytes(ctx: &mut Ctx<'_>, b: Option<&[u8]>) {
    match b {
        Some(b) => ctx.reply.bulk(b),
        None => ctx.reply.null(),
    }
}

fn setnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    if ctx.ks.exists(db, argv[1]) {
        ctx.reply.int(0);
    } else {
        ctx.ks.set(db, argv[1], Value::string(argv[2]), false);
        ctx.notify(notify::STRING, "set", argv[1]);
        ctx.reply.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], unit: i64, cmd: &str) -> CmdResult {
    let at = expire_arg(ctx, argv[2], unit, false, cmd)?;
    let db = ctx.db();
    ctx.ks.set(db, argv[1], Value::string(argv[3]), false);
    ctx.ks.set_expire(db, argv[1], at);
    ctx.notify(notify::STRING, "set", argv[1]);
    ctx.notify(notify::GENERIC, "expire", argv[1]);
    ctx.suppress_propagation();
    let at_s = at.to_string();
    ctx.also_propagate(&[b"SET", argv[1], argv[3], b"PXAT", at_s.as_bytes()]);
    ctx.reply.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setex_generic(ctx, argv, 1000, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setex_generic(ctx, argv, 1, "psetex")
}

fn getset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let old = read_str(ctx, argv[1], |s| s.as_bytes().into_owned())?;
    let db = ctx.db();
    ctx.ks.set(db, argv[1], Value::string(argv[2]), false);
    ctx.notify(notify::STRING, "set", argv[1]);
    // Propagated as SET, as Valkey's getsetCommand rewrites it (replicas count a SET).
    ctx.suppress_propagation();
    ctx.also_propagate(&[b"SET", argv[1], argv[2]]);
    reply_opt_bytes(ctx, old.as_deref());
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let old = read_str(ctx, argv[1], |s| s.as_bytes().into_owned())?;
    if old.is_some() {
        let db = ctx.db();
        ctx.ks.delete(db, argv[1]);
        ctx.notify(notify::GENERIC, "del", argv[1]);
        ctx.suppress_propagation();
        ctx.also_propagate(&[b"DEL", argv[1]]);
    }
    reply_opt_bytes(ctx, old.as_deref());
    Ok(())
}

fn getex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut ttl = Ttl::None;
    let mut i = 2;
    while i < argv.len() {
        if !parse_ttl_option(ctx, argv, &mut i, &mut ttl, "getex", false, true)? {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    let Some(val) = read_str(ctx, argv[1], |s| s.as_bytes().into_owned())? else {
        ctx.reply.null();
        return Ok(());
    };
    let db = ctx.db();
    ctx.suppress_propagation();
    match ttl {
        Ttl::At(at) if ctx.ks.already_expired(at) => {
            ctx.delete_expired_by_command(argv[1]);
        }
        Ttl::At(at) => {
            ctx.ks.set_expire(db, argv[1], at);
            ctx.notify(notify::GENERIC, "expire", argv[1]);
            let at_s = at.to_string();
            ctx.also_propagate(&[b"PEXPIREAT", argv[1], at_s.as_bytes()]);
        }
        Ttl::Persist => {
            if ctx.ks.persist(db, argv[1]) {
                ctx.notify(notify::GENERIC, "persist", argv[1]);
                ctx.also_propagate(&[b"PERSIST", argv[1]]);
            }
        }
        Ttl::None | Ttl::Keep => {}
    }
    ctx.reply.bulk(&val);
    Ok(())
}

fn mget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.reply.array(argv.len() - 1);
    for key in &argv[1..] {
        reply_value_of(ctx, key, false)?;
    }
    Ok(())
}

fn check_pairs(argv: &[&[u8]], name: &str) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(Cow::Owned(format!("ERR wrong number of arguments for '{name}' command")));
    }
    Ok(())
}

fn mset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    check_pairs(argv, "mset")?;
    let db = ctx.db();
    for pair in argv[1..].chunks_exact(2) {
        ctx.ks.set(db, pair[0], Value::string(pair[1]), false);
        ctx.notify(notify::STRING, "set", pair[0]);
    }
    ctx.reply.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    check_pairs(argv, "msetnx")?;
    let db = ctx.db();
    if argv[1..].chunks_exact(2).any(|p| ctx.ks.exists(db, p[0])) {
        ctx.reply.int(0);
        return Ok(());
    }
    for pair in argv[1..].chunks_exact(2) {
        ctx.ks.set(db, pair[0], Value::string(pair[1]), false);
        ctx.notify(notify::STRING, "set", pair[0]);
    }
    ctx.reply.int(1);
    Ok(())
}

fn append(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let max = ctx.cfg.proto_max_bulk_len;
    let new_len = match ctx.ks.lookup_write(db, argv[1]) {
        None => {
            ctx.ks.set(db, argv[1], Value::string(argv[2]), true);
            argv[2].len()
        }
        Some(Value::Str(s)) => {
            if s.len() + argv[2].len() > max {
                return Err(errors::TOO_BIG.into());
            }
            let raw = s.make_raw();
            raw.extend_from_slice(argv[2]);
            let n = raw.len();
            ctx.ks.touch(db, argv[1], 1);
            n
        }
        Some(_) => return Err(errors::WRONGTYPE.into()),
    };
    ctx.reply.int(new_len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = read_str(ctx, argv[1], StrValue::len)?.unwrap_or(0);
    ctx.reply.int(n as i64);
    Ok(())
}

/// INCR family core: adds `by` to the integer value.
fn incr_generic(ctx: &mut Ctx<'_>, key: &[u8], by: i64) -> CmdResult {
    let db = ctx.db();
    let cur = match ctx.ks.lookup_write(db, key) {
        None => 0,
        Some(Value::Str(StrValue::Int(n))) => *n,
        Some(Value::Str(s)) => forkv_keyspace::value::parse_canonical_i64(&s.as_bytes()).ok_or(Cow::Borrowed(errors::NOT_INT))?,
        Some(_) => return Err(errors::WRONGTYPE.into()),
    };
    let new = cur.checked_add(by).ok_or(Cow::Borrowed(errors::OVERFLOW))?;
    match ctx.ks.lookup_write(db, key) {
        Some(Value::Str(s)) => {
            *s = StrValue::Int(new);
            ctx.ks.touch(db, key, 1);
        }
        _ => ctx.ks.set(db, key, Value::Str(StrValue::Int(new)), true),
    }
    ctx.reply.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    incr_generic(ctx, argv[1], 1)
}

fn decr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    incr_generic(ctx, argv[1], -1)
}

fn incrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let by = parse_i64(argv[2])?;
    incr_generic(ctx, argv[1], by)
}

fn decrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let by = parse_i64(argv[2])?;
    if by == i64::MIN {
        return Err("ERR decrement would overflow".into());
    }
    incr_generic(ctx, argv[1], -by)
}

fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let by = parse_f64(argv[2]).ok_or(Cow::Borrowed(errors::NOT_FLOAT))?;
    let cur = match ctx.ks.lookup_write(db, argv[1]) {
        None => 0.0,
        Some(Value::Str(StrValue::Int(n))) => *n as f64,
        Some(Value::Str(s)) => parse_f64(&s.as_bytes()).ok_or(Cow::Borrowed(errors::NOT_FLOAT))?,
        Some(_) => return Err(errors::WRONGTYPE.into()),
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err("ERR increment would produce NaN or Infinity".into());
    }
    let text = format_incr_float(new);
    ctx.ks.set(db, argv[1], Value::string(text.as_bytes()), true);
    // Replay must not depend on float rounding: log the resulting value (Valkey logs
    // SET key value KEEPTTL).
    ctx.suppress_propagation();
    ctx.also_propagate(&[b"SET", argv[1], text.as_bytes(), b"KEEPTTL"]);
    ctx.reply.bulk(text.as_bytes());
    Ok(())
}

/// INCRBYFLOAT's output: plain decimal, never exponent form, no trailing zeros (Valkey's
/// `LD_STR_HUMAN`). forkv computes in f64 and prints the shortest round-tripping digits;
/// Valkey uses long double, so results can differ in the last digits for huge values.
fn format_incr_float(v: f64) -> String {
    let s = format!("{v}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

fn getrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = parse_i64(argv[2])?;
    let end = parse_i64(argv[3])?;
    let Some(bytes) = read_str(ctx, argv[1], |s| s.as_bytes().into_owned())? else {
        ctx.reply.bulk(b"");
        return Ok(());
    };
    let len = bytes.len() as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        ctx.reply.bulk(b"");
        return Ok(());
    }
    let mut start = if start < 0 { (len + start).max(0) } else { start };
    let mut end = if end < 0 { (len + end).max(0) } else { end };
    if end >= len {
        end = len - 1;
    }
    if start > end || start >= len {
        ctx.reply.bulk(b"");
        return Ok(());
    }
    start = start.max(0);
    ctx.reply.bulk(&bytes[start as usize..=end as usize]);
    Ok(())
}

fn setrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let offset = parse_i64(argv[2])?;
    if offset < 0 {
        return Err(errors::OFFSET_RANGE.into());
    }
    let value = argv[3];
    let db = ctx.db();
    let max = ctx.cfg.proto_max_bulk_len as i64;
    let exists = match ctx.ks.lookup_write(db, argv[1]) {
        None => false,
        Some(Value::Str(_)) => true,
        Some(_) => return Err(errors::WRONGTYPE.into()),
    };
    if !exists && value.is_empty() {
        ctx.reply.int(0);
        return Ok(());
    }
    // checked: an offset near i64::MAX must get the size error, not wrap around.
    if !value.is_empty() && offset.checked_add(value.len() as i64).is_none_or(|end| end > max) {
        return Err(errors::TOO_BIG.into());
    }
    if !exists {
        ctx.ks.set(db, argv[1], Value::Str(StrValue::raw(Vec::new())), true);
    }
    let new_len = match ctx.ks.lookup_write(db, argv[1]) {
        // Nothing to write: the value keeps its encoding (an int stays an int).
        Some(Value::Str(s)) if value.is_empty() => s.len(),
        Some(Value::Str(s)) => {
            let raw = s.make_raw();
            let off = offset as usize;
            if raw.len() < off + value.len() {
                raw.resize(off + value.len(), 0);
            }
            raw[off..off + value.len()].copy_from_slice(value);
            raw.len()
        }
        _ => 0,
    };
    if !value.is_empty() {
        ctx.ks.touch(db, argv[1], 1);
    }
    ctx.reply.int(new_len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testkit::cmd;
    use crate::{Engine, Outcome};


    /// SET EX is logged as SET PXAT (absolute); a SET given PXAT is logged as it came,
    /// its option's spelling included (Valkey's setGenericCommand).
    #[test]
    fn set_expiry_propagates_as_absolute_and_pxat_verbatim() {
        let mut e = Engine::new(16);
        e.add_client(1);
        e.prop.enabled = true;
        let at = (crate::cmd::now_ms() + 100_000).to_string();
        for args in [&["SET", "k", "v", "EX", "100"][..], &["SET", "k", "v", "pxat", &at]] {
            e.clear_reply();
            assert_eq!(e.feed(1, &cmd(args)), Outcome::Done);
        }
        let aof = String::from_utf8_lossy(&e.prop.take()).replace("\r\n", " ");
        assert!(aof.contains("*5 $3 SET $1 k $1 v $4 PXAT $13 "), "{aof}");
        assert!(aof.ends_with(&format!("*5 $3 SET $1 k $1 v $4 pxat $13 {at} ")), "{aof}");
    }
}
