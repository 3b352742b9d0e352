//! Hash commands (Valkey `t_hash.c`).

use std::borrow::Cow;

use forkv_keyspace::HashValue;

use super::coll::{self, commit, parse_long, parse_range, Rng};
use super::keys::parse_cursor;
use super::{is, parse_f64, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

const WF: u32 = WRITE | DENYOOM | FAST;
const RF: u32 = READONLY | FAST;

pub const COMMANDS: &[CommandSpec] = &[
    spec("hset", -4, WF, (1, 1, 1), "hash", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", "Creates or modifies the value of a field in a hash.", Core(hset)),
    spec("hsetnx", 4, WF, (1, 1, 1), "hash", "2.0.0", "O(1)", "Sets the value of a field in a hash only when the field doesn't exist.", Core(hsetnx)),
    spec("hmset", -4, WF, (1, 1, 1), "hash", "2.0.0", "O(N) where N is the number of fields being set.", "Sets the values of multiple fields.", Core(hmset)),
    spec("hget", 3, RF, (1, 1, 1), "hash", "2.0.0", "O(1)", "Returns the value of a field in a hash.", Core(hget)),
    spec("hmget", -3, RF, (1, 1, 1), "hash", "2.0.0", "O(N) where N is the number of fields being requested.", "Returns the values of all fields in a hash.", Core(hmget)),
    spec("hdel", -3, WRITE | FAST, (1, 1, 1), "hash", "2.0.0", "O(N) where N is the number of fields to be removed.", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", Core(hdel)),
    spec("hexists", 3, RF, (1, 1, 1), "hash", "2.0.0", "O(1)", "Determines whether a field exists in a hash.", Core(hexists)),
    spec("hlen", 2, RF, (1, 1, 1), "hash", "2.0.0", "O(1)", "Returns the number of fields in a hash.", Core(hlen)),
    spec("hstrlen", 3, RF, (1, 1, 1), "hash", "3.2.0", "O(1)", "Returns the length of the value of a field.", Core(hstrlen)),
    spec("hkeys", 2, READONLY, (1, 1, 1), "hash", "2.0.0", "O(N) where N is the size of the hash.", "Returns all fields in a hash.", Core(hkeys)),
    spec("hvals", 2, READONLY, (1, 1, 1), "hash", "2.0.0", "O(N) where N is the size of the hash.", "Returns all values in a hash.", Core(hvals)),
    spec("hgetall", 2, READONLY, (1, 1, 1), "hash", "2.0.0", "O(N) where N is the size of the hash.", "Returns all fields and values in a hash.", Core(hgetall)),
    spec("hincrby", 4, WF, (1, 1, 1), "hash", "2.0.0", "O(1)", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", Core(hincrby)),
    spec("hincrbyfloat", 4, WF, (1, 1, 1), "hash", "2.6.0", "O(1)", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", Core(hincrbyfloat)),
    spec("hrandfield", -2, READONLY, (1, 1, 1), "hash", "6.2.0", "O(N) where N is the number of fields returned", "Returns one or more random fields from a hash.", Core(hrandfield)),
    spec("hscan", -3, READONLY, (1, 1, 1), "hash", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over fields and values of a hash.", Core(hscan)),
];

/// Sets the field/value pairs of `argv[2..]`; returns how many fields were new.
fn set_pairs(ctx: &mut Ctx<'_>, argv: &[&[u8]], name: &str) -> Result<usize, Cow<'static, str>> {
    if !argv.len().is_multiple_of(2) {
        return Err(Cow::Owned(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let (h, created) = coll::write_or_create(ctx.ks, db, argv[1], HashValue::new)?;
    let mut added = 0;
    for pair in argv[2..].chunks_exact(2) {
        if h.set(pair[0], pair[1], &lim) {
            added += 1;
        }
    }
    // Valkey counts one change per pair given, new or not.
    commit(
        ctx.ks,
        db,
        argv[1],
        (argv.len() as u64 - 2) / 2,
        created,
        false,
    );
    Ok(added)
}

fn hset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let added = set_pairs(ctx, argv, "hset")?;
    ctx.reply.int(added as i64);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_pairs(ctx, argv, "hmset")?;
    ctx.reply.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    if coll::read::<HashValue>(ctx.ks, db, argv[1])?.is_some_and(|h| h.contains(argv[2])) {
        ctx.reply.int(0);
        return Ok(());
    }
    let (h, created) = coll::write_or_create(ctx.ks, db, argv[1], HashValue::new)?;
    h.set(argv[2], argv[3], &lim);
    commit(ctx.ks, db, argv[1], 1, created, false);
    ctx.reply.int(1);
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    match coll::read::<HashValue>(ks, db, argv[1])?.and_then(|h| h.get(argv[2])) {
        Some(v) => reply.bulk(v),
        None => reply.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let h = coll::read::<HashValue>(ks, db, argv[1])?;
    reply.array(argv.len() - 2);
    for f in &argv[2..] {
        match h.and_then(|h| h.get(f)) {
            Some(v) => reply.bulk(v),
            None => reply.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Some(h) = coll::write::<HashValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for f in &argv[2..] {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    let emptied = h.is_empty();
    if deleted > 0 {
        commit(ctx.ks, db, argv[1], deleted, false, emptied);
    }
    ctx.reply.int(deleted as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let found = coll::read::<HashValue>(ctx.ks, db, argv[1])?.is_some_and(|h| h.contains(argv[2]));
    ctx.reply.int(i64::from(found));
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = coll::read::<HashValue>(ctx.ks, db, argv[1])?.map_or(0, HashValue::len);
    ctx.reply.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = coll::read::<HashValue>(ctx.ks, db, argv[1])?
        .and_then(|h| h.get(argv[2]))
        .map_or(0, <[u8]>::len);
    ctx.reply.int(n as i64);
    Ok(())
}

/// HKEYS / HVALS / HGETALL.
fn getall_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], keys: bool, vals: bool) -> CmdResult {
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let h = coll::read::<HashValue>(ks, db, argv[1])?;
    let n = h.map_or(0, HashValue::len);
    if keys && vals {
        reply.map(n);
    } else {
        reply.array(n);
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            if keys {
                reply.bulk(f);
            }
            if vals {
                reply.bulk(v);
            }
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    getall_generic(ctx, argv, true, false)
}
fn hvals(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    getall_generic(ctx, argv, false, true)
}
fn hgetall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    getall_generic(ctx, argv, true, true)
}

fn hincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let incr = parse_long(argv[3], None)?;
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let (h, created) = coll::write_or_create(ctx.ks, db, argv[1], HashValue::new)?;
    let current = match h.get(argv[2]) {
        Some(v) => match forkv_keyspace::value::parse_canonical_i64(v) {
            Some(n) => n,
            None => {
                undo_create(ctx, argv[1], created);
                return Err("ERR hash value is not an integer".into());
            }
        },
        None => 0,
    };
    let Some(new) = current.checked_add(incr) else {
        undo_create(ctx, argv[1], created);
        return Err(errors::OVERFLOW.into());
    };
    h.set(argv[2], new.to_string().as_bytes(), &lim);
    commit(ctx.ks, db, argv[1], 1, created, false);
    ctx.reply.int(new);
    Ok(())
}

/// Removes a key this command created before failing (a freshly created hash is empty,
/// and an empty collection must not stay in the keyspace).
fn undo_create(ctx: &mut Ctx<'_>, key: &[u8], created: bool) {
    if created {
        let db = ctx.db();
        ctx.ks.delete(db, key);
    }
}

/// HINCRBYFLOAT's output, as Valkey's `LD_STR_HUMAN`: plain decimal, never exponent form.
/// forkv computes in f64 where Valkey uses long double, so the last digits of results
/// that are not exactly representable can differ (documented deviation).
fn format_float_human(v: f64) -> String {
    let s = format!("{v}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let incr = parse_f64(argv[3]).ok_or(Cow::Borrowed(errors::NOT_FLOAT))?;
    if incr.is_infinite() {
        return Err("ERR value is NaN or Infinity".into());
    }
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let (h, created) = coll::write_or_create(ctx.ks, db, argv[1], HashValue::new)?;
    let current = match h.get(argv[2]) {
        Some(v) => match parse_f64(v) {
            Some(x) => x,
            None => {
                undo_create(ctx, argv[1], created);
                return Err("ERR hash value is not a float".into());
            }
        },
        None => 0.0,
    };
    let new = current + incr;
    if !new.is_finite() {
        undo_create(ctx, argv[1], created);
        return Err("ERR increment would produce NaN or Infinity".into());
    }
    let text = format_float_human(new);
    h.set(argv[2], text.as_bytes(), &lim);
    commit(ctx.ks, db, argv[1], 1, created, false);
    // Replay must not depend on float rounding: log the resulting value (Valkey
    // rewrites the command to HSET key field value).
    ctx.suppress_propagation();
    ctx.also_propagate(&[b"HSET", argv[1], argv[2], text.as_bytes()]);
    ctx.reply.bulk(text.as_bytes());
    Ok(())
}

/// Writes one HRANDFIELD element: the field, or the field and value (a pair array in
/// RESP3, flat in RESP2).
fn reply_field(reply: &mut crate::reply::Reply<'_>, f: &[u8], v: &[u8], withvalues: bool) {
    if withvalues && reply.resp3() {
        reply.array(2);
    }
    reply.bulk(f);
    if withvalues {
        reply.bulk(v);
    }
}

fn hrandfield(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let mut rng = Rng::from_ks(ctx.ks);
    if argv.len() == 2 {
        let Ctx { ks, reply, .. } = ctx;
        match coll::read::<HashValue>(ks, db, argv[1])?
            .and_then(|h| h.random_entry(|| rng.next_u64()))
        {
            Some((f, _)) => reply.bulk(f),
            None => reply.null(),
        }
        return Ok(());
    }
    let l = parse_range(argv[2], -i64::MAX, i64::MAX, None)?;
    let withvalues = match argv.len() {
        3 => false,
        4 if is(argv[3], "WITHVALUES") => true,
        _ => return Err(errors::SYNTAX.into()),
    };
    if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
        return Err("ERR value is out of range".into());
    }
    let Ctx { ks, reply, .. } = ctx;
    let Some(h) = coll::read::<HashValue>(ks, db, argv[1])? else {
        reply.array(0);
        return Ok(());
    };
    let count = l.unsigned_abs() as usize;
    let size = h.len();
    let flat =
        |n: usize, r: &crate::reply::Reply<'_>| if withvalues && !r.resp3() { n * 2 } else { n };
    if count == 0 {
        reply.array(0);
    } else if l < 0 || count == 1 {
        // With repetitions (or a single draw): independent random picks.
        reply.array(flat(count, reply));
        for _ in 0..count {
            if let Some((f, v)) = h.random_entry(|| rng.next_u64()) {
                reply_field(reply, f, v, withvalues);
            }
            // The client is closed for its output limit: stop mid-run.
            if reply.over_limit() {
                break;
            }
        }
    } else if count >= size {
        reply.array(flat(size, reply));
        for (f, v) in h.iter() {
            reply_field(reply, f, v, withvalues);
        }
    } else {
        // Distinct picks: a partial Fisher-Yates over the fields.
        let mut all: Vec<(&[u8], &[u8])> = h.iter().collect();
        reply.array(flat(count, reply));
        for i in 0..count {
            let j = i + rng.below(all.len() - i);
            all.swap(i, j);
            reply_field(reply, all[i].0, all[i].1, withvalues);
        }
    }
    Ok(())
}

fn hscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[2])?;
    let db = ctx.db();
    let Some(h) = coll::read::<HashValue>(ctx.ks, db, argv[1])? else {
        coll::reply_scan(ctx, 0, &[]);
        return Ok(());
    };
    // Options are parsed after the lookup, as Valkey does (a missing key never errors).
    let opts = coll::parse_scan_args(argv, 3, coll::ScanKind::Hash)?;
    let (next, items) = coll::scan_loop(cursor, opts.count, |c, out| {
        h.scan(c, |f, v| {
            if opts.matches(f) {
                out.push(f.to_vec());
                if !opts.novalues {
                    out.push(v.to_vec());
                }
            }
        })
    });
    coll::reply_scan(ctx, next, &items);
    Ok(())
}
