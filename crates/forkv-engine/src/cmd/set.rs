//! Set commands (Valkey `t_set.c`).

use std::borrow::Cow;

use forkv_keyspace::{notify, Keyspace, SetValue};

use super::coll::{self, commit, parse_numkeys, parse_positive, parse_range, Rng};
use super::keys::parse_cursor;
use super::{is, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

const RF: u32 = READONLY | FAST;

pub const COMMANDS: &[CommandSpec] = &[
    spec("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "set", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Adds one or more members to a set. Creates the key if it doesn't exist.", Core(sadd)),
    spec("srem", -3, WRITE | FAST, (1, 1, 1), "set", "1.0.0", "O(N) where N is the number of members to be removed.", "Removes one or more members from a set. Deletes the set if the last member was removed.", Core(srem)),
    spec("smove", 4, WRITE | FAST, (1, 2, 1), "set", "1.0.0", "O(1)", "Moves a member from one set to another.", Core(smove)),
    spec("sismember", 3, RF, (1, 1, 1), "set", "1.0.0", "O(1)", "Determines whether a member belongs to a set.", Core(sismember)),
    spec("smismember", -3, RF, (1, 1, 1), "set", "6.2.0", "O(N) where N is the number of elements being checked for membership", "Determines whether multiple members belong to a set.", Core(smismember)),
    spec("scard", 2, RF, (1, 1, 1), "set", "1.0.0", "O(1)", "Returns the number of members in a set.", Core(scard)),
    spec("smembers", 2, READONLY, (1, 1, 1), "set", "1.0.0", "O(N) where N is the set cardinality.", "Returns all members of a set.", Core(smembers)),
    spec("spop", -2, WRITE | FAST, (1, 1, 1), "set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", Core(spop)),
    spec("srandmember", -2, READONLY, (1, 1, 1), "set", "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "Get one or multiple random members from a set", Core(srandmember)),
    spec("sinter", -2, READONLY, (1, -1, 1), "set", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Returns the intersect of multiple sets.", Core(sinter)),
    spec("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Stores the intersect of multiple sets in a key.", Core(sinterstore)),
    spec("sintercard", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), "set", "7.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Returns the number of members of the intersect of multiple sets.", Core(sintercard)),
    spec("sunion", -2, READONLY, (1, -1, 1), "set", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Returns the union of multiple sets.", Core(sunion)),
    spec("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Stores the union of multiple sets in a key.", Core(sunionstore)),
    spec("sdiff", -2, READONLY, (1, -1, 1), "set", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Returns the difference of multiple sets.", Core(sdiff)),
    spec("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "1.0.0", "O(N) where N is the total number of elements in all given sets.", "Stores the difference of multiple sets in a key.", Core(sdiffstore)),
    spec("sscan", -3, READONLY, (1, 1, 1), "set", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over members of a set.", Core(sscan)),
];

fn sadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let members = &argv[2..];
    let (set, created) = coll::write_or_create(ctx.ks, db, argv[1], || {
        SetValue::create(members[0], members.len(), &lim)
    })?;
    if !created {
        set.reserve(members.len(), &lim);
    }
    let added = members.iter().filter(|m| set.add(m, &lim)).count();
    commit(ctx.ks, db, argv[1], added as u64, created, false);
    ctx.reply.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Some(set) = coll::write::<SetValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let mut deleted = 0u64;
    for m in &argv[2..] {
        if set.remove(m) {
            deleted += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    let emptied = set.is_empty();
    if deleted > 0 {
        commit(ctx.ks, db, argv[1], deleted, false, emptied);
    }
    ctx.reply.int(deleted as i64);
    Ok(())
}

fn smove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (src, dst, member) = (argv[1], argv[2], argv[3]);
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let src_exists = ctx.ks.lookup_write(db, src).is_some();
    if !src_exists {
        ctx.reply.int(0);
        return Ok(());
    }
    coll::check_type::<SetValue>(ctx.ks, db, src)?;
    coll::check_type::<SetValue>(ctx.ks, db, dst)?;
    if src == dst {
        let found = coll::write::<SetValue>(ctx.ks, db, src)?.is_some_and(|s| s.contains(member));
        ctx.reply.int(i64::from(found));
        return Ok(());
    }
    let Some(set) = coll::write::<SetValue>(ctx.ks, db, src)? else {
        ctx.reply.int(0);
        return Ok(());
    };
    if !set.remove(member) {
        ctx.reply.int(0);
        return Ok(());
    }
    let emptied = set.is_empty();
    ctx.notify(notify::SET, "srem", src);
    commit(ctx.ks, db, src, 1, false, emptied);
    let (dset, created) =
        coll::write_or_create(ctx.ks, db, dst, || SetValue::create(member, 1, &lim))?;
    if dset.add(member, &lim) {
        commit(ctx.ks, db, dst, 1, created, false);
        ctx.notify(notify::SET, "sadd", dst);
    }
    ctx.reply.int(1);
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let found = coll::read::<SetValue>(ctx.ks, db, argv[1])?.is_some_and(|s| s.contains(argv[2]));
    ctx.reply.int(i64::from(found));
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let set = coll::read::<SetValue>(ks, db, argv[1])?;
    reply.array(argv.len() - 2);
    for m in &argv[2..] {
        reply.int(i64::from(set.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = coll::read::<SetValue>(ctx.ks, db, argv[1])?.map_or(0, SetValue::len);
    ctx.reply.int(n as i64);
    Ok(())
}

fn smembers(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let set = coll::read::<SetValue>(ks, db, argv[1])?;
    reply.set(set.map_or(0, SetValue::len));
    for m in set.into_iter().flat_map(SetValue::iter) {
        reply.bulk(m);
    }
    Ok(())
}

/// Members removed per propagated SREM, as Valkey batches them.
const SREM_BATCH: usize = 1024;

fn spop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let count = match argv.get(2) {
        Some(a) => Some(parse_positive(a, None)? as usize),
        None => None,
    };
    let db = ctx.db();
    let key = argv[1];
    let mut rng = Rng::from_ks(ctx.ks);
    let Some(set) = coll::write::<SetValue>(ctx.ks, db, key)? else {
        match count {
            Some(_) => ctx.reply.set(0),
            None => ctx.reply.null(),
        }
        return Ok(());
    };
    let size = set.len();
    let popped: Vec<Vec<u8>> = match count {
        Some(0) => {
            ctx.reply.set(0);
            return Ok(());
        }
        Some(n) if n >= size => set.iter().map(<[u8]>::to_vec).collect(),
        Some(n) => {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let Some(m) = set.random_member(|| rng.next_u64()).map(<[u8]>::to_vec) else {
                    break;
                };
                set.remove(&m);
                out.push(m);
            }
            out
        }
        None => match set.random_member(|| rng.next_u64()).map(<[u8]>::to_vec) {
            Some(m) => {
                set.remove(&m);
                vec![m]
            }
            None => Vec::new(),
        },
    };
    let whole = popped.len() >= size;
    if whole {
        // The set is gone either way; delete it wholesale rather than member by member.
        commit(ctx.ks, db, key, popped.len() as u64, false, true);
    } else {
        commit(ctx.ks, db, key, popped.len() as u64, false, false);
    }
    // Random effects are logged as what they did: the members removed (or the key).
    ctx.suppress_propagation();
    if whole && count.is_some() {
        ctx.propagate_server_del(key);
    } else {
        for chunk in popped.chunks(SREM_BATCH) {
            let mut args: Vec<&[u8]> = vec![b"SREM", key];
            args.extend(chunk.iter().map(|m| &m[..]));
            ctx.also_propagate(&args);
        }
    }
    match count {
        None => match popped.first() {
            Some(m) => ctx.reply.bulk(m),
            None => ctx.reply.null(),
        },
        Some(_) => {
            ctx.reply.set(popped.len());
            for m in &popped {
                ctx.reply.bulk(m);
            }
        }
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let db = ctx.db();
    let mut rng = Rng::from_ks(ctx.ks);
    let Some(count_arg) = argv.get(2) else {
        let Ctx { ks, reply, .. } = ctx;
        match coll::read::<SetValue>(ks, db, argv[1])?
            .and_then(|s| s.random_member(|| rng.next_u64()))
        {
            Some(m) => reply.bulk(m),
            None => reply.null(),
        }
        return Ok(());
    };
    let l = parse_range(count_arg, -i64::MAX, i64::MAX, None)?;
    let Ctx { ks, reply, .. } = ctx;
    let Some(set) = coll::read::<SetValue>(ks, db, argv[1])? else {
        reply.array(0);
        return Ok(());
    };
    let count = l.unsigned_abs() as usize;
    let size = set.len();
    if count == 0 {
        reply.array(0);
    } else if l < 0 || count == 1 {
        reply.array(count);
        for _ in 0..count {
            if let Some(m) = set.random_member(|| rng.next_u64()) {
                reply.bulk(m);
            }
            // The client is closed for its output limit: stop mid-run.
            if reply.over_limit() {
                break;
            }
        }
    } else if count >= size {
        reply.array(size);
        for m in set.iter() {
            reply.bulk(m);
        }
    } else {
        // Distinct members: a partial Fisher-Yates shuffle.
        let mut all: Vec<&[u8]> = set.iter().collect();
        reply.array(count);
        for i in 0..count {
            let j = i + rng.below(all.len() - i);
            all.swap(i, j);
            reply.bulk(all[i]);
        }
    }
    Ok(())
}

/// Type-checks every key (WRONGTYPE wins over a missing key, as in Valkey) and returns
/// the sets, `None` for missing keys.
fn load_sets<'a>(
    ks: &'a mut Keyspace,
    db: usize,
    keys: &[&[u8]],
) -> Result<Vec<Option<&'a SetValue>>, Cow<'static, str>> {
    for k in keys {
        coll::read::<SetValue>(ks, db, k)?;
    }
    let ks: &'a Keyspace = ks;
    Ok(keys
        .iter()
        .map(|k| match ks.peek(db, k) {
            Some(forkv_keyspace::VRef::Ref(forkv_keyspace::Value::Set(s))) => Some(&**s),
            _ => None,
        })
        .collect())
}

/// Members of the intersection, or just its size when `card_limit` is given (0 = no
/// limit).
fn intersect(sets: &[Option<&SetValue>], card_limit: Option<usize>) -> (Vec<Vec<u8>>, usize) {
    let mut out = Vec::new();
    let mut card = 0;
    if sets.iter().any(Option::is_none) {
        return (out, 0);
    }
    let mut sets: Vec<&SetValue> = sets.iter().flatten().copied().collect();
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return (out, 0);
    };
    for m in first.iter() {
        if rest.iter().all(|s| s.contains(m)) {
            card += 1;
            match card_limit {
                Some(limit) => {
                    if limit != 0 && card >= limit {
                        break;
                    }
                }
                None => out.push(m.to_vec()),
            }
        }
    }
    (out, card)
}

/// SUNION / SDIFF members.
fn union_or_diff(sets: &[Option<&SetValue>], diff: bool) -> Vec<Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    if diff {
        let Some(Some(first)) = sets.first() else {
            return out;
        };
        let rest = &sets[1..];
        // A key given again after the first subtracts everything.
        if rest.iter().flatten().any(|s| std::ptr::eq(*s, *first)) {
            return out;
        }
        for m in first.iter() {
            if !rest.iter().flatten().any(|s| s.contains(m)) {
                out.push(m.to_vec());
            }
        }
        return out;
    }
    for s in sets.iter().flatten() {
        for m in s.iter() {
            if seen.insert(m) {
                out.push(m.to_vec());
            }
        }
    }
    out
}

/// Replies with members as a set.
fn reply_members(ctx: &mut Ctx<'_>, members: &[Vec<u8>]) {
    ctx.reply.set(members.len());
    for m in members {
        ctx.reply.bulk(m);
    }
}

/// Stores a result set at `dst` (deleting it when the result is empty); replies with
/// its size.
fn store(ctx: &mut Ctx<'_>, dst: &[u8], members: &[Vec<u8>], intersection: bool, event: &'static str) {
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    if members.is_empty() {
        if ctx.ks.delete(db, dst) {
            ctx.notify(notify::GENERIC, "del", dst);
        }
        ctx.reply.int(0);
        return;
    }
    let mut set = SetValue::new();
    for m in members {
        set.add(m, &lim);
    }
    if intersection {
        set.compact_to_intset(&lim);
    }
    let n = set.len();
    ctx.ks
        .set(db, dst, forkv_keyspace::Value::Set(Box::new(set)), false);
    ctx.notify(notify::SET, event, dst);
    ctx.reply.int(n as i64);
}

fn sinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let sets = load_sets(ctx.ks, db, &argv[1..])?;
    let (members, _) = intersect(&sets, None);
    reply_members(ctx, &members);
    Ok(())
}

fn sinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let sets = load_sets(ctx.ks, db, &argv[2..])?;
    let (members, _) = intersect(&sets, None);
    store(ctx, argv[1], &members, true, "sinterstore");
    Ok(())
}

fn sintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let numkeys = parse_numkeys(argv[1])?;
    if numkeys > argv.len() - 2 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < argv.len() {
        if is(argv[j], "LIMIT") && j + 1 < argv.len() {
            limit = parse_positive(argv[j + 1], Some("ERR LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let db = ctx.db();
    let sets = load_sets(ctx.ks, db, &argv[2..2 + numkeys])?;
    let (_, card) = intersect(&sets, Some(limit));
    ctx.reply.int(card as i64);
    Ok(())
}

fn sunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let sets = load_sets(ctx.ks, db, &argv[1..])?;
    let members = union_or_diff(&sets, false);
    reply_members(ctx, &members);
    Ok(())
}

fn sunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let sets = load_sets(ctx.ks, db, &argv[2..])?;
    let members = union_or_diff(&sets, false);
    store(ctx, argv[1], &members, false, "sunionstore");
    Ok(())
}

fn sdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let sets = load_sets(ctx.ks, db, &argv[1..])?;
    let members = union_or_diff(&sets, true);
    reply_members(ctx, &members);
    Ok(())
}

fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let sets = load_sets(ctx.ks, db, &argv[2..])?;
    let members = union_or_diff(&sets, true);
    store(ctx, argv[1], &members, false, "sdiffstore");
    Ok(())
}

fn sscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[2])?;
    let db = ctx.db();
    let Some(set) = coll::read::<SetValue>(ctx.ks, db, argv[1])? else {
        coll::reply_scan(ctx, 0, &[]);
        return Ok(());
    };
    let opts = coll::parse_scan_args(argv, 3, coll::ScanKind::Set)?;
    let (next, items) = coll::scan_loop(cursor, opts.count, |c, out| {
        set.scan(c, |m| {
            if opts.matches(m) {
                out.push(m.to_vec());
            }
        })
    });
    coll::reply_scan(ctx, next, &items);
    Ok(())
}
