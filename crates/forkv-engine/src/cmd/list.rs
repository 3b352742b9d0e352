//! List commands (Valkey `t_list.c`). The blocking variants (BLPOP, BLMOVE, ...) belong
//! to the host, which parks clients; these are the non-blocking forms.

use std::borrow::Cow;

use forkv_keyspace::types::clamp_range;
use forkv_keyspace::{notify, ListValue};

use super::coll::{self, commit, parse_long, parse_numkeys, parse_positive, parse_range};
use super::{is, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

const WF: u32 = WRITE | DENYOOM | FAST;
const W: u32 = WRITE | DENYOOM;
const RF: u32 = READONLY | FAST;

pub const COMMANDS: &[CommandSpec] = &[
    spec("lpush", -3, WF, (1, 1, 1), "list", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", Core(lpush)),
    spec("rpush", -3, WF, (1, 1, 1), "list", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Appends one or more elements to a list. Creates the key if it doesn't exist.", Core(rpush)),
    spec("lpushx", -3, WF, (1, 1, 1), "list", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepends one or more elements to a list only when the list exists.", Core(lpushx)),
    spec("rpushx", -3, WF, (1, 1, 1), "list", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Appends an element to a list only when the list exists.", Core(rpushx)),
    spec("lpop", -2, WRITE | FAST, (1, 1, 1), "list", "1.0.0", "O(N) where N is the number of elements returned", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", Core(lpop)),
    spec("rpop", -2, WRITE | FAST, (1, 1, 1), "list", "1.0.0", "O(N) where N is the number of elements returned", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", Core(rpop)),
    spec("llen", 2, RF, (1, 1, 1), "list", "1.0.0", "O(1)", "Returns the length of a list.", Core(llen)),
    spec("lrange", 4, READONLY, (1, 1, 1), "list", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "Returns a range of elements from a list.", Core(lrange)),
    spec("lindex", 3, READONLY, (1, 1, 1), "list", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", "Returns an element from a list by its index.", Core(lindex)),
    spec("lset", 4, W, (1, 1, 1), "list", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", "Sets the value of an element in a list by its index.", Core(lset)),
    spec("linsert", 5, W, (1, 1, 1), "list", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", "Inserts an element before or after another element in a list.", Core(linsert)),
    spec("lrem", 4, WRITE, (1, 1, 1), "list", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", "Removes elements from a list. Deletes the list if the last element was removed.", Core(lrem)),
    spec("ltrim", 4, WRITE, (1, 1, 1), "list", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", Core(ltrim)),
    spec("lpos", -3, READONLY, (1, 1, 1), "list", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", "Returns the index of matching elements in a list.", Core(lpos)),
    spec("lmove", 5, W, (1, 2, 1), "list", "6.2.0", "O(1)", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", Core(lmove)),
    spec("rpoplpush", 3, W, (1, 2, 1), "list", "1.2.0", "O(1)", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", Core(rpoplpush)),
    spec("lmpop", -4, WRITE | MOVABLE_KEYS, (0, 0, 0), "list", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", Core(lmpop)),
];

fn push_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], front: bool, only_existing: bool) -> CmdResult {
    let db = ctx.db();
    let key = argv[1];
    let lim = *ctx.ks.encoding_limits();
    let items = &argv[2..];
    if only_existing && !coll::check_type::<ListValue>(ctx.ks, db, key)? {
        ctx.reply.int(0);
        return Ok(());
    }
    let (list, created) = coll::write_or_create(ctx.ks, db, key, ListValue::new)?;
    // Convert once for the whole batch, as Valkey's listTypeTryConversionAppend does.
    list.prepare_growth(items.iter().map(|i| i.len()).sum(), items.len(), &lim);
    for item in items {
        list.push(item, front, &lim);
    }
    let len = list.len();
    commit(ctx.ks, db, key, items.len() as u64, created, false);
    ctx.reply.int(len as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, true, false)
}
fn rpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, false, false)
}
fn lpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, true, true)
}
fn rpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, false, true)
}

/// Pops up to `count` elements from one end of the list at `key` (which exists and is
/// a list), deleting it when emptied. Returns them in pop order.
fn pop_n(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    count: usize,
    front: bool,
) -> Result<Vec<Vec<u8>>, Cow<'static, str>> {
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let Some(list) = coll::write::<ListValue>(ctx.ks, db, key)? else {
        return Ok(Vec::new());
    };
    let n = count.min(list.len());
    let out: Vec<Vec<u8>> = if front {
        list.iter().take(n).map(Cow::into_owned).collect()
    } else {
        list.iter_rev().take(n).map(Cow::into_owned).collect()
    };
    list.delete_end(n, front);
    list.shrunk(&lim);
    let emptied = list.is_empty();
    if n > 0 {
        ctx.notify(notify::LIST, if front { "lpop" } else { "rpop" }, key);
    }
    commit(ctx.ks, db, key, n as u64, false, emptied);
    Ok(out)
}

fn pop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], front: bool) -> CmdResult {
    if argv.len() > 3 {
        let name = if front { "lpop" } else { "rpop" };
        return Err(Cow::Owned(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let count = match argv.get(2) {
        Some(a) => Some(parse_positive(a, None)? as usize),
        None => None,
    };
    let db = ctx.db();
    let exists = coll::check_type::<ListValue>(ctx.ks, db, argv[1])?;
    if !exists {
        match count {
            Some(_) => ctx.reply.null_array(),
            None => ctx.reply.null(),
        }
        return Ok(());
    }
    match count {
        None => {
            let items = pop_n(ctx, argv[1], 1, front)?;
            match items.first() {
                Some(v) => ctx.reply.bulk(v),
                None => ctx.reply.null(),
            }
        }
        Some(0) => ctx.reply.array(0),
        Some(n) => {
            let items = pop_n(ctx, argv[1], n, front)?;
            ctx.reply.array(items.len());
            for v in &items {
                ctx.reply.bulk(v);
            }
        }
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, true)
}
fn rpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, false)
}

fn llen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = coll::read::<ListValue>(ctx.ks, db, argv[1])?.map_or(0, ListValue::len);
    ctx.reply.int(n as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = parse_long(argv[2], None)?;
    let end = parse_long(argv[3], None)?;
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let Some(list) = coll::read::<ListValue>(ks, db, argv[1])? else {
        reply.array(0);
        return Ok(());
    };
    match clamp_range(start, end, list.len()) {
        None => reply.array(0),
        Some((s, e)) => {
            reply.array(e - s + 1);
            for item in list.iter_from(s, false).take(e - s + 1) {
                reply.bulk(&item);
            }
        }
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let Some(list) = coll::read::<ListValue>(ks, db, argv[1])? else {
        reply.null();
        return Ok(());
    };
    let index = parse_long(argv[2], None)?;
    match forkv_keyspace::types::resolve_index(index, list.len()).and_then(|i| list.get(i)) {
        Some(v) => reply.bulk(&v),
        None => reply.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let Some(list) = coll::write::<ListValue>(ctx.ks, db, argv[1])? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    let index = parse_long(argv[2], None)?;
    let Some(i) = forkv_keyspace::types::resolve_index(index, list.len()) else {
        return Err("ERR index out of range".into());
    };
    list.set(i, argv[3], &lim);
    commit(ctx.ks, db, argv[1], 1, false, false);
    ctx.reply.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let after = if is(argv[2], "AFTER") {
        true
    } else if is(argv[2], "BEFORE") {
        false
    } else {
        return Err(errors::SYNTAX.into());
    };
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let Some(list) = coll::write::<ListValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    if !list.insert_at_pivot(argv[3], argv[4], after, &lim) {
        ctx.reply.int(-1);
        return Ok(());
    }
    let len = list.len();
    commit(ctx.ks, db, argv[1], 1, false, false);
    ctx.reply.int(len as i64);
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let count = parse_range(argv[2], -i64::MAX, i64::MAX, None)?;
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let Some(list) = coll::write::<ListValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let removed = list.remove_matching(argv[3], count.unsigned_abs() as usize, count < 0);
    if removed > 0 {
        list.shrunk(&lim);
        let emptied = list.is_empty();
        commit(ctx.ks, db, argv[1], removed as u64, false, emptied);
    }
    ctx.reply.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = parse_long(argv[2], None)?;
    let end = parse_long(argv[3], None)?;
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    let Some(list) = coll::write::<ListValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.ok();
        return Ok(());
    };
    let len = list.len();
    let (ltrim, rtrim) = match clamp_range(start, end, len) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    list.delete_end(ltrim, true);
    list.delete_end(rtrim, false);
    list.shrunk(&lim);
    let emptied = list.is_empty();
    let total = (ltrim + rtrim) as u64;
    if total > 0 {
        commit(ctx.ks, db, argv[1], total, false, emptied);
    }
    ctx.reply.ok();
    Ok(())
}

fn lpos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if is(argv[j], "RANK") && more {
            rank = parse_range(argv[j + 1], -i64::MAX, i64::MAX, None)?;
            if rank == 0 {
                return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into());
            }
        } else if is(argv[j], "COUNT") && more {
            count = Some(parse_positive(
                argv[j + 1],
                Some("ERR COUNT can't be negative"),
            )?);
        } else if is(argv[j], "MAXLEN") && more {
            maxlen = parse_positive(argv[j + 1], Some("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 2;
    }
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let Some(list) = coll::read::<ListValue>(ks, db, argv[1])? else {
        match count {
            Some(_) => reply.array(0),
            None => reply.null(),
        }
        return Ok(());
    };
    let from_tail = rank < 0;
    let rank = rank.unsigned_abs();
    let len = list.len();
    let it: Box<dyn Iterator<Item = Cow<'_, [u8]>>> = if from_tail {
        Box::new(list.iter_rev())
    } else {
        Box::new(list.iter())
    };
    let scan_limit = if maxlen == 0 {
        usize::MAX
    } else {
        maxlen as usize
    };
    let want = count.map(|c| if c == 0 { u64::MAX } else { c as u64 });
    let mut matches = 0u64;
    let mut found: Vec<i64> = Vec::new();
    for (i, item) in it.take(scan_limit).enumerate() {
        if *item != *argv[2] {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let index = if from_tail { len - 1 - i } else { i };
        found.push(index as i64);
        match want {
            None => break,
            Some(w) if found.len() as u64 >= w => break,
            Some(_) => {}
        }
    }
    match count {
        Some(_) => {
            reply.array(found.len());
            for i in found {
                reply.int(i);
            }
        }
        None => match found.first() {
            Some(i) => reply.int(*i),
            None => reply.null(),
        },
    }
    Ok(())
}

/// Parses LEFT/RIGHT: true for LEFT (the head).
fn parse_side(arg: &[u8]) -> Result<bool, Cow<'static, str>> {
    if is(arg, "LEFT") {
        Ok(true)
    } else if is(arg, "RIGHT") {
        Ok(false)
    } else {
        Err(errors::SYNTAX.into())
    }
}

fn lmove_generic(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> CmdResult {
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    if !coll::check_type::<ListValue>(ctx.ks, db, src)? {
        ctx.reply.null();
        return Ok(());
    }
    // The destination's type is checked before anything moves.
    coll::check_type::<ListValue>(ctx.ks, db, dst)?;
    let dirty = ctx.ks.dirty;
    let popped = pop_n(ctx, src, 1, from_left)?;
    let Some(value) = popped.into_iter().next() else {
        ctx.reply.null();
        return Ok(());
    };
    let (list, created) = coll::write_or_create(ctx.ks, db, dst, ListValue::new)?;
    list.push(&value, to_left, &lim);
    commit(ctx.ks, db, dst, 1, created, false);
    ctx.notify(notify::LIST, if to_left { "lpush" } else { "rpush" }, dst);
    // One move is one change for the save rules, as in Valkey (the pop, the push and
    // any deletion or creation of a key count together).
    ctx.ks.dirty = dirty + 1;
    ctx.reply.bulk(&value);
    Ok(())
}

fn lmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let from_left = parse_side(argv[3])?;
    let to_left = parse_side(argv[4])?;
    lmove_generic(ctx, argv[1], argv[2], from_left, to_left)
}

fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    lmove_generic(ctx, argv[1], argv[2], false, true)
}

fn lmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let numkeys = parse_numkeys(argv[1])?;
    let where_idx = 2 + numkeys;
    if where_idx >= argv.len() {
        return Err(errors::SYNTAX.into());
    }
    let front = parse_side(argv[where_idx])?;
    let count = coll::parse_mpop_count(argv, where_idx + 1)?;
    let db = ctx.db();
    for key in &argv[2..where_idx] {
        if !coll::check_type::<ListValue>(ctx.ks, db, key)? {
            continue;
        }
        let items = pop_n(ctx, key, count, front)?;
        // Replayed as [LR]POP key n: the same elements leave the same end.
        ctx.suppress_propagation();
        let n = items.len().to_string();
        ctx.also_propagate(&[if front { b"LPOP" } else { b"RPOP" }, key, n.as_bytes()]);
        ctx.reply.array(2);
        ctx.reply.bulk(key);
        ctx.reply.array(items.len());
        for v in &items {
            ctx.reply.bulk(v);
        }
        return Ok(());
    }
    ctx.reply.null_array();
    Ok(())
}
