//! Sorted set commands (Valkey `t_zset.c`).
//!
//! Range queries locate their first element by rank in O(log n) through
//! [`ZSetValue::count_while`] (the order-statistic tree of the big encoding), then walk
//! in order; nothing scans from the head.

use std::borrow::Cow;
use std::collections::HashMap;

use forkv_keyspace::types::clamp_range;
use forkv_keyspace::types::ostree::cmp_entry;
use forkv_keyspace::{notify, Keyspace, SetValue, VRef, Value, ZSetValue};

use super::coll::{self, commit, parse_long, parse_numkeys, parse_positive, parse_range, Rng};
use super::keys::parse_cursor;
use super::{is, parse_f64, CmdError, CmdResult, Ctx};
use crate::errors;
use crate::reply::{format_double, Reply};
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

const WF: u32 = WRITE | DENYOOM | FAST;
const RF: u32 = READONLY | FAST;
const MK: u32 = MOVABLE_KEYS;

pub const COMMANDS: &[CommandSpec] = &[
    spec("zadd", -4, WF, (1, 1, 1), "sorted-set", "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", Core(zadd)),
    spec("zincrby", 4, WF, (1, 1, 1), "sorted-set", "1.2.0", "O(log(N)) where N is the number of elements in the sorted set.", "Increments the score of a member in a sorted set.", Core(zincrby)),
    spec("zrem", -3, WRITE | FAST, (1, 1, 1), "sorted-set", "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", Core(zrem)),
    spec("zscore", 3, RF, (1, 1, 1), "sorted-set", "1.2.0", "O(1)", "Returns the score of a member in a sorted set.", Core(zscore)),
    spec("zmscore", -3, RF, (1, 1, 1), "sorted-set", "6.2.0", "O(N) where N is the number of members being requested.", "Returns the score of one or more members in a sorted set.", Core(zmscore)),
    spec("zcard", 2, RF, (1, 1, 1), "sorted-set", "1.2.0", "O(1)", "Returns the number of members in a sorted set.", Core(zcard)),
    spec("zcount", 4, RF, (1, 1, 1), "sorted-set", "2.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Returns the count of members in a sorted set that have scores within a range.", Core(zcount)),
    spec("zlexcount", 4, RF, (1, 1, 1), "sorted-set", "2.8.9", "O(log(N)) with N being the number of elements in the sorted set.", "Returns the number of members in a sorted set within a lexicographical range.", Core(zlexcount)),
    spec("zrank", -3, RF, (1, 1, 1), "sorted-set", "2.0.0", "O(log(N))", "Returns the index of a member in a sorted set ordered by ascending scores.", Core(zrank)),
    spec("zrevrank", -3, RF, (1, 1, 1), "sorted-set", "2.0.0", "O(log(N))", "Returns the index of a member in a sorted set ordered by descending scores.", Core(zrevrank)),
    spec("zrange", -4, READONLY, (1, 1, 1), "sorted-set", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Returns members in a sorted set within a range of indexes.", Core(zrange)),
    spec("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), "sorted-set", "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "Stores a range of members from sorted set in a key.", Core(zrangestore)),
    spec("zrevrange", -4, READONLY, (1, 1, 1), "sorted-set", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Returns members in a sorted set within a range of indexes in reverse order.", Core(zrevrange)),
    spec("zrangebyscore", -4, READONLY, (1, 1, 1), "sorted-set", "1.0.5", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a range of scores.", Core(zrangebyscore)),
    spec("zrevrangebyscore", -4, READONLY, (1, 1, 1), "sorted-set", "2.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a range of scores in reverse order.", Core(zrevrangebyscore)),
    spec("zrangebylex", -4, READONLY, (1, 1, 1), "sorted-set", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a lexicographical range.", Core(zrangebylex)),
    spec("zrevrangebylex", -4, READONLY, (1, 1, 1), "sorted-set", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a lexicographical range in reverse order.", Core(zrevrangebylex)),
    spec("zremrangebyrank", 4, WRITE, (1, 1, 1), "sorted-set", "2.0.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", Core(zremrangebyrank)),
    spec("zremrangebyscore", 4, WRITE, (1, 1, 1), "sorted-set", "1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", Core(zremrangebyscore)),
    spec("zremrangebylex", 4, WRITE, (1, 1, 1), "sorted-set", "2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", Core(zremrangebylex)),
    spec("zpopmin", -2, WRITE | FAST, (1, 1, 1), "sorted-set", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", Core(zpopmin)),
    spec("zpopmax", -2, WRITE | FAST, (1, 1, 1), "sorted-set", "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", Core(zpopmax)),
    spec("zmpop", -4, WRITE | MK, (0, 0, 0), "sorted-set", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", Core(zmpop)),
    spec("zrandmember", -2, READONLY, (1, 1, 1), "sorted-set", "6.2.0", "O(N) where N is the number of members returned", "Returns one or more random members from a sorted set.", Core(zrandmember)),
    spec("zunion", -3, READONLY | MK, (0, 0, 0), "sorted-set", "6.2.0", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "Returns the union of multiple sorted sets.", Core(zunion)),
    spec("zinter", -3, READONLY | MK, (0, 0, 0), "sorted-set", "6.2.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "Returns the intersect of multiple sorted sets.", Core(zinter)),
    spec("zdiff", -3, READONLY | MK, (0, 0, 0), "sorted-set", "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "Returns the difference between multiple sorted sets.", Core(zdiff)),
    spec("zunionstore", -4, WRITE | DENYOOM | MK, (1, 1, 1), "sorted-set", "2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "Stores the union of multiple sorted sets in a key.", Core(zunionstore)),
    spec("zinterstore", -4, WRITE | DENYOOM | MK, (1, 1, 1), "sorted-set", "2.0.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "Stores the intersect of multiple sorted sets in a key.", Core(zinterstore)),
    spec("zdiffstore", -4, WRITE | DENYOOM | MK, (1, 1, 1), "sorted-set", "6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "Stores the difference of multiple sorted sets in a key.", Core(zdiffstore)),
    spec("zintercard", -3, READONLY | MK, (0, 0, 0), "sorted-set", "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", "Returns the number of members of the intersect of multiple sorted sets.", Core(zintercard)),
    spec("zscan", -3, READONLY, (1, 1, 1), "sorted-set", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over members and scores of a sorted set.", Core(zscan)),
];

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

// ---------------------------------------------------------------------------------
// Argument parsing
// ---------------------------------------------------------------------------------

/// True when the decimal text has a non-zero digit before any exponent (so a zero
/// result means the value underflowed).
fn has_nonzero_mantissa(s: &str) -> bool {
    s.bytes()
        .take_while(|c| *c != b'e' && *c != b'E')
        .any(|c| (b'1'..=b'9').contains(&c))
}

/// A score argument as Valkey's `getDoubleFromObject` (`string2d`) reads it: no
/// leading space, no NaN, and values that overflow to infinity or underflow to zero
/// are errors; `inf`, `+inf`, `-inf` are allowed.
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    let v = parse_f64(arg)?;
    let s = std::str::from_utf8(arg).ok()?;
    let explicit_inf = s.to_ascii_lowercase().contains("inf");
    if v.is_infinite() && !explicit_inf {
        return None;
    }
    if v == 0.0 && has_nonzero_mantissa(s) {
        return None;
    }
    Some(v)
}

/// A range bound parsed like `strtod` in `zslParseRange`: leading spaces are skipped,
/// an empty string is 0, overflow saturates to infinity, NaN is rejected.
fn parse_range_number(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0);
    }
    let trimmed = s.trim_ascii_start();
    if trimmed.is_empty() {
        return None;
    }
    parse_f64(trimmed)
}

/// A score range: `min`/`max` with exclusive flags.
#[derive(Clone, Copy)]
struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        let bound = |a: &[u8]| -> Option<(f64, bool)> {
            match a.strip_prefix(b"(") {
                Some(rest) => parse_range_number(rest).map(|v| (v, true)),
                None => parse_range_number(a).map(|v| (v, false)),
            }
        };
        let (Some((min, minex)), Some((max, maxex))) = (bound(min), bound(max)) else {
            return Err(NOT_FLOAT_RANGE.into());
        };
        Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// True when no score can be inside (`zslIsInRange`'s first test).
    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lex range.
#[derive(Clone, PartialEq)]
enum LexBound {
    /// `-`: below everything.
    Min,
    /// `+`: above everything.
    Max,
    /// `[x` (false) or `(x` (true).
    At(Vec<u8>, bool),
}

impl LexBound {
    fn parse(a: &[u8]) -> Option<LexBound> {
        match a.first()? {
            b'+' if a.len() == 1 => Some(LexBound::Max),
            b'-' if a.len() == 1 => Some(LexBound::Min),
            b'(' => Some(LexBound::At(a[1..].to_vec(), true)),
            b'[' => Some(LexBound::At(a[1..].to_vec(), false)),
            _ => None,
        }
    }

    /// Orders bounds as `sdscmplex` does: Min < every string < Max.
    fn cmp(&self, other: &LexBound) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (self, other) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Greater,
            (LexBound::At(a, _), LexBound::At(b, _)) => a.cmp(b),
        }
    }

    fn exclusive(&self) -> bool {
        match self {
            LexBound::At(_, ex) => *ex,
            _ => true,
        }
    }
}

/// A lex range.
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
        match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(NOT_LEX_RANGE.into()),
        }
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::At(v, ex) => {
                if *ex {
                    m > &v[..]
                } else {
                    m >= &v[..]
                }
            }
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Max => true,
            LexBound::Min => false,
            LexBound::At(v, ex) => {
                if *ex {
                    m < &v[..]
                } else {
                    m <= &v[..]
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self.min.cmp(&self.max) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => self.min.exclusive() || self.max.exclusive(),
            std::cmp::Ordering::Less => false,
        }
    }
}

/// A range of any of the three kinds, resolved against a sorted set as ascending ranks
/// `[first, end)`.
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

impl Range {
    /// The ascending rank interval `[first, end)` the range covers. Rank ranges are
    /// clamped here; with `rev` their indexes count from the highest score.
    fn ranks(&self, z: &ZSetValue, rev: bool) -> (usize, usize) {
        match self {
            Range::Rank(s, e) => match clamp_range(*s, *e, z.len()) {
                Some((s, e)) if rev => (z.len() - 1 - e, z.len() - s),
                Some((s, e)) => (s, e + 1),
                None => (0, 0),
            },
            Range::Score(r) => {
                if r.is_empty() {
                    return (0, 0);
                }
                let first = z.count_while(|s, _| !r.gte_min(s));
                let end = z.count_while(|s, _| r.lte_max(s));
                (first, end.max(first))
            }
            Range::Lex(r) => {
                if r.is_empty() {
                    return (0, 0);
                }
                let first = z.count_while(|_, m| !r.gte_min(m));
                let end = z.count_while(|_, m| r.lte_max(m));
                (first, end.max(first))
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Reply helpers
// ---------------------------------------------------------------------------------

/// Writes a member list: flat `[m, s, m, s]` in RESP2, `[[m, s], ...]` in RESP3 when
/// scores are included (a map would lose the order).
fn reply_members(reply: &mut Reply<'_>, items: &[(Vec<u8>, f64)], withscores: bool) {
    if withscores && !reply.resp3() {
        reply.array(items.len() * 2);
    } else {
        reply.array(items.len());
    }
    for (m, s) in items {
        if withscores && reply.resp3() {
            reply.array(2);
        }
        reply.bulk(m);
        if withscores {
            reply.double(*s);
        }
    }
}

/// Reads a sorted set key (`Ok(None)` when absent).
fn read_zset<'a>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a ZSetValue>, CmdError> {
    coll::read::<ZSetValue>(ks, db, key)
}

// ---------------------------------------------------------------------------------
// ZADD / ZINCRBY / ZREM
// ---------------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
pub(crate) struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// ZADD and ZINCRBY (and GEOADD, which calls it with its computed scores).
pub(crate) fn zadd_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], mut f: AddFlags) -> CmdResult {
    let mut idx = 2;
    while idx < argv.len() {
        let o = argv[idx];
        if is(o, "NX") {
            f.nx = true;
        } else if is(o, "XX") {
            f.xx = true;
        } else if is(o, "CH") {
            f.ch = true;
        } else if is(o, "INCR") {
            f.incr = true;
        } else if is(o, "GT") {
            f.gt = true;
        } else if is(o, "LT") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = argv.len() - idx;
    if !elements.is_multiple_of(2) || elements == 0 {
        return Err(errors::SYNTAX.into());
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if f.nx && (f.gt || f.lt) || (f.gt && f.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if f.incr && elements > 1 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    // Every score is parsed before anything changes: all or nothing.
    let mut pairs: Vec<(f64, &[u8])> = Vec::with_capacity(elements);
    for p in argv[idx..].chunks_exact(2) {
        let score = parse_score(p[0]).ok_or(Cow::Borrowed(errors::NOT_FLOAT))?;
        pairs.push((score, p[1]));
    }
    let max_len = pairs.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    let db = ctx.db();
    let key = argv[1];
    let lim = *ctx.ks.encoding_limits();
    let exists = coll::check_type::<ZSetValue>(ctx.ks, db, key)?;
    if !exists && f.xx {
        if f.incr {
            ctx.reply.null();
        } else {
            ctx.reply.int(0);
        }
        return Ok(());
    }
    let (z, created) = coll::write_or_create(ctx.ks, db, key, || {
        ZSetValue::create(elements, max_len, &lim)
    })?;
    if !created {
        z.reserve(elements, max_len, &lim);
    }
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut last_score = 0.0;
    let mut nan = false;
    for (mut score, member) in pairs {
        match z.score(member) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                if f.incr {
                    score += cur;
                    if score.is_nan() {
                        nan = true;
                        break;
                    }
                }
                if (f.lt && score >= cur) || (f.gt && score <= cur) {
                    continue;
                }
                last_score = score;
                processed += 1;
                if score != cur {
                    z.set_score(member, score, &lim);
                    updated += 1;
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                z.set_score(member, score, &lim);
                added += 1;
                processed += 1;
                last_score = score;
            }
        }
    }
    let emptied = z.is_empty();
    if nan {
        // Only a single INCR pair can hit NaN, so nothing was applied; a key created
        // for it would be empty.
        if emptied {
            ctx.ks.delete(db, key);
        }
        return Err("ERR resulting score is not a number (NaN)".into());
    }
    commit(ctx.ks, db, key, added + updated, created, false);
    if f.incr {
        if processed > 0 {
            ctx.reply.double(last_score);
        } else {
            ctx.reply.null();
        }
    } else {
        ctx.reply
            .int((if f.ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

fn zadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, argv, AddFlags::default())
}

fn zincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zadd_generic(
        ctx,
        argv,
        AddFlags {
            incr: true,
            ..AddFlags::default()
        },
    )
}

fn zrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Some(z) = coll::write::<ZSetValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let mut deleted = 0u64;
    for m in &argv[2..] {
        if z.remove(m) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    let emptied = z.is_empty();
    if deleted > 0 {
        commit(ctx.ks, db, argv[1], deleted, false, emptied);
    }
    ctx.reply.int(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Point reads
// ---------------------------------------------------------------------------------

fn zscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    match read_zset(ctx.ks, db, argv[1])?.and_then(|z| z.score(argv[2])) {
        Some(s) => ctx.reply.double(s),
        None => ctx.reply.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let z = read_zset(ks, db, argv[1])?;
    reply.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => reply.double(s),
            None => reply.null(),
        }
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = read_zset(ctx.ks, db, argv[1])?.map_or(0, ZSetValue::len);
    ctx.reply.int(n as i64);
    Ok(())
}

fn count_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], range: Range) -> CmdResult {
    let db = ctx.db();
    let n = read_zset(ctx.ks, db, argv[1])?.map_or(0, |z| {
        let (first, end) = range.ranks(z, false);
        end - first
    });
    ctx.reply.int(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = ScoreRange::parse(argv[2], argv[3])?;
    count_generic(ctx, argv, Range::Score(r))
}

fn zlexcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = LexRange::parse(argv[2], argv[3])?;
    count_generic(ctx, argv, Range::Lex(r))
}

fn rank_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], rev: bool) -> CmdResult {
    if argv.len() > 4 {
        let name = if rev { "zrevrank" } else { "zrank" };
        return Err(Cow::Owned(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let withscore = match argv.get(3) {
        Some(a) if is(a, "WITHSCORE") => true,
        Some(_) => return Err(errors::SYNTAX.into()),
        None => false,
    };
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let found = read_zset(ks, db, argv[1])?.and_then(|z| {
        z.rank(argv[2])
            .map(|(r, s)| (if rev { z.len() - 1 - r } else { r }, s))
    });
    match (found, withscore) {
        (Some((r, s)), true) => {
            reply.array(2);
            reply.int(r as i64);
            reply.double(s);
        }
        (Some((r, _)), false) => reply.int(r as i64),
        (None, true) => reply.null_array(),
        (None, false) => reply.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, false)
}
fn zrevrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

// ---------------------------------------------------------------------------------
// ZRANGE family
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Collects the members a range selects, in reply order.
fn select_range(
    z: &ZSetValue,
    range: &Range,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(Vec<u8>, f64)> {
    let (first, end) = range.ranks(z, rev);
    if first >= end {
        return Vec::new();
    }
    let is_rank = matches!(range, Range::Rank(..));
    let len = end - first;
    // LIMIT: a negative offset selects nothing (Valkey walks past the end), a negative
    // count means no limit.
    let (skip, take) = if is_rank {
        (0, len)
    } else {
        if offset < 0 {
            return Vec::new();
        }
        let skip = (offset as u64).min(len as u64) as usize;
        let take = if limit < 0 {
            len - skip
        } else {
            (limit as u64).min((len - skip) as u64) as usize
        };
        (skip, take)
    };
    if take == 0 {
        return Vec::new();
    }
    let start = if rev { end - 1 - skip } else { first + skip };
    z.iter_from(start, rev)
        .take(take)
        .map(|(m, s)| (m.to_vec(), s))
        .collect()
}

/// ZRANGE, ZREVRANGE, Z[REV]RANGEBY{SCORE,LEX}, ZRANGESTORE (Valkey's
/// `zrangeGenericCommand`). `src` is the index of the source key.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    src: usize,
    store: bool,
    mut kind: Kind,
    mut rev: Option<bool>,
) -> CmdResult {
    let direction_fixed = rev.is_some();
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut limit_given = false;
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j];
        if !store && is(a, "WITHSCORES") {
            withscores = true;
        } else if is(a, "LIMIT") && left >= 2 {
            offset = parse_long(argv[j + 1], None)?;
            limit = parse_long(argv[j + 2], None)?;
            limit_given = true;
            j += 2;
        } else if !direction_fixed && is(a, "REV") {
            rev = Some(true);
        } else if kind == Kind::Auto && is(a, "BYLEX") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && is(a, "BYSCORE") {
            kind = Kind::Score;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit_given && kind == Kind::Rank {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        );
    }
    if withscores && kind == Kind::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    let (mut lo, mut hi) = (argv[src + 1], argv[src + 2]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match kind {
        Kind::Score => Range::Score(ScoreRange::parse(lo, hi)?),
        Kind::Lex => Range::Lex(LexRange::parse(lo, hi)?),
        _ => Range::Rank(parse_long(lo, None)?, parse_long(hi, None)?),
    };
    let db = ctx.db();
    let items = match read_zset(ctx.ks, db, argv[src])? {
        Some(z) => select_range(z, &range, rev, offset, limit),
        None => Vec::new(),
    };
    if store {
        store_result(ctx, argv[1], &items, "zrangestore");
    } else {
        reply_members(&mut ctx.reply, &items, withscores);
    }
    Ok(())
}

/// Stores a computed sorted set at `dst` (deleting it when empty); replies its size.
fn store_result(ctx: &mut Ctx<'_>, dst: &[u8], items: &[(Vec<u8>, f64)], event: &'static str) {
    let db = ctx.db();
    let lim = *ctx.ks.encoding_limits();
    if items.is_empty() {
        if ctx.ks.delete(db, dst) {
            ctx.notify(notify::GENERIC, "del", dst);
        }
        ctx.reply.int(0);
        return;
    }
    let max_len = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSetValue::create(items.len(), max_len, &lim);
    for (m, s) in items {
        z.set_score(m, *s, &lim);
    }
    z.compact_if_small(&lim);
    let n = z.len();
    ctx.ks.set(db, dst, Value::ZSet(Box::new(z)), false);
    ctx.notify(notify::ZSET, event, dst);
    ctx.reply.int(n as i64);
}

fn zrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Auto, None)
}
fn zrangestore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 2, true, Kind::Auto, None)
}
fn zrevrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Rank, Some(true))
}
fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Score, Some(false))
}
fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Score, Some(true))
}
fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Lex, Some(false))
}
fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Lex, Some(true))
}

fn zremrange_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], range: Range) -> CmdResult {
    let db = ctx.db();
    let Some(z) = coll::write::<ZSetValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let (first, end) = range.ranks(z, false);
    let deleted = if first < end {
        z.delete_rank_range(first, end - 1).len()
    } else {
        0
    };
    let emptied = z.is_empty();
    if deleted > 0 {
        commit(ctx.ks, db, argv[1], deleted as u64, false, emptied);
    }
    ctx.reply.int(deleted as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = Range::Rank(parse_long(argv[2], None)?, parse_long(argv[3], None)?);
    zremrange_generic(ctx, argv, r)
}
fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = Range::Score(ScoreRange::parse(argv[2], argv[3])?);
    zremrange_generic(ctx, argv, r)
}
fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = Range::Lex(LexRange::parse(argv[2], argv[3])?);
    zremrange_generic(ctx, argv, r)
}

// ---------------------------------------------------------------------------------
// Pops and random members
// ---------------------------------------------------------------------------------

/// Pops up to `count` lowest (or highest, `max`) members of an existing sorted set.
fn pop_members(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    count: usize,
    max: bool,
) -> Result<Vec<(Vec<u8>, f64)>, CmdError> {
    let db = ctx.db();
    let Some(z) = coll::write::<ZSetValue>(ctx.ks, db, key)? else {
        return Ok(Vec::new());
    };
    let n = count.min(z.len());
    if n == 0 {
        return Ok(Vec::new());
    }
    let len = z.len();
    let mut items = if max {
        z.delete_rank_range(len - n, len - 1)
    } else {
        z.delete_rank_range(0, n - 1)
    };
    if max {
        items.reverse();
    }
    let emptied = z.is_empty();
    ctx.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    commit(ctx.ks, db, key, n as u64, false, emptied);
    Ok(items)
}

fn zpop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX.into());
    }
    let count = match argv.get(2) {
        Some(a) => Some(parse_positive(a, None)? as usize),
        None => None,
    };
    let db = ctx.db();
    if !coll::check_type::<ZSetValue>(ctx.ks, db, argv[1])? || count == Some(0) {
        ctx.reply.array(0);
        return Ok(());
    }
    let items = pop_members(ctx, argv[1], count.unwrap_or(1), max)?;
    // RESP3 nests [member, score] pairs only when COUNT was given.
    let nested = ctx.reply.resp3() && count.is_some();
    ctx.reply
        .array(if nested { items.len() } else { items.len() * 2 });
    for (m, s) in &items {
        if nested {
            ctx.reply.array(2);
        }
        ctx.reply.bulk(m);
        ctx.reply.double(*s);
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zpop_generic(ctx, argv, false)
}
fn zpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zpop_generic(ctx, argv, true)
}

fn zmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let numkeys = parse_numkeys(argv[1])?;
    let where_idx = 2 + numkeys;
    if where_idx >= argv.len() {
        return Err(errors::SYNTAX.into());
    }
    let max = if is(argv[where_idx], "MIN") {
        false
    } else if is(argv[where_idx], "MAX") {
        true
    } else {
        return Err(errors::SYNTAX.into());
    };
    let count = coll::parse_mpop_count(argv, where_idx + 1)?;
    let db = ctx.db();
    for key in &argv[2..where_idx] {
        if !coll::check_type::<ZSetValue>(ctx.ks, db, key)? {
            continue;
        }
        let items = pop_members(ctx, key, count, max)?;
        // Replayed as ZPOPMIN/ZPOPMAX key n, as Valkey rewrites it.
        ctx.suppress_propagation();
        let n = items.len().to_string();
        ctx.also_propagate(&[if max { b"ZPOPMAX" } else { b"ZPOPMIN" }, key, n.as_bytes()]);
        ctx.reply.array(2);
        ctx.reply.bulk(key);
        ctx.reply.array(items.len());
        for (m, s) in &items {
            ctx.reply.array(2);
            ctx.reply.bulk(m);
            ctx.reply.double(*s);
        }
        return Ok(());
    }
    ctx.reply.null_array();
    Ok(())
}

fn zrandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let mut rng = Rng::from_ks(ctx.ks);
    if argv.len() == 2 {
        let Ctx { ks, reply, .. } = ctx;
        match read_zset(ks, db, argv[1])?.and_then(|z| z.random_entry(|| rng.next_u64())) {
            Some((m, _)) => reply.bulk(m),
            None => reply.null(),
        }
        return Ok(());
    }
    let l = parse_range(argv[2], -i64::MAX, i64::MAX, None)?;
    let withscores = match argv.len() {
        3 => false,
        4 if is(argv[3], "WITHSCORES") => true,
        _ => return Err(errors::SYNTAX.into()),
    };
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
        return Err("ERR value is out of range".into());
    }
    let Ctx { ks, reply, .. } = ctx;
    let Some(z) = read_zset(ks, db, argv[1])? else {
        reply.array(0);
        return Ok(());
    };
    let count = l.unsigned_abs() as usize;
    let size = z.len();
    let picks: Vec<(Vec<u8>, f64)> = if count == 0 {
        Vec::new()
    } else if l < 0 || count == 1 {
        // Stops once the reply would be past the client's output limit (it is closed).
        let room = reply.limit.saturating_sub(reply.out.len());
        let mut bytes = 0usize;
        let mut picks = Vec::new();
        for _ in 0..count {
            if let Some((m, s)) = z.random_entry(|| rng.next_u64()) {
                bytes += m.len() + 32;
                picks.push((m.to_vec(), s));
            }
            if bytes > room {
                break;
            }
        }
        picks
    } else if count >= size {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    } else {
        // Distinct members: a partial Fisher-Yates over the ranks.
        let mut ranks: Vec<usize> = (0..size).collect();
        (0..count)
            .filter_map(|i| {
                let j = i + rng.below(size - i);
                ranks.swap(i, j);
                z.by_rank(ranks[i]).map(|(m, s)| (m.to_vec(), s))
            })
            .collect()
    };
    reply_members(reply, &picks, withscores);
    Ok(())
}

// ---------------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF (+STORE), ZINTERCARD
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, val: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += val;
            // inf + -inf: Valkey's convention is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// One input of a set operation: a sorted set, a plain set (scores 1), or nothing.
enum Src<'a> {
    Z(&'a ZSetValue),
    S(&'a SetValue),
    None,
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
            Src::None => 0,
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
            Src::None => None,
        }
    }

    fn entries(&self) -> Vec<(&[u8], f64)> {
        match self {
            Src::Z(z) => z.iter().collect(),
            Src::S(s) => s.iter().map(|m| (m, 1.0)).collect(),
            Src::None => Vec::new(),
        }
    }

    fn same(&self, other: &Src<'_>) -> bool {
        match (self, other) {
            (Src::Z(a), Src::Z(b)) => std::ptr::eq(*a, *b),
            (Src::S(a), Src::S(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

/// Everything ZUNION & co. computed: the result (sorted) or, for ZINTERCARD, a count.
struct SetOpResult {
    items: Vec<(Vec<u8>, f64)>,
    card: usize,
    withscores: bool,
}

fn setop_generic(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    numkeys_idx: usize,
    op: Op,
    store: bool,
    card_only: bool,
    name: &str,
) -> Result<SetOpResult, CmdError> {
    let setnum = parse_long(argv[numkeys_idx], None)?;
    if setnum < 1 {
        return Err(Cow::Owned(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let setnum = setnum as usize;
    if setnum > argv.len() - (numkeys_idx + 1) {
        return Err(errors::SYNTAX.into());
    }
    let keys = &argv[numkeys_idx + 1..numkeys_idx + 1 + setnum];
    let db = ctx.db();
    // Types are checked before the options are parsed, as in Valkey.
    for k in keys {
        match ctx.ks.lookup_read(db, k).as_deref() {
            None | Some(Value::ZSet(_)) | Some(Value::Set(_)) => {}
            Some(_) => return Err(errors::WRONGTYPE.into()),
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = numkeys_idx + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = argv[j];
        if op != Op::Diff && !card_only && remaining > setnum && is(a, "WEIGHTS") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_score(argv[j + 1 + i])
                    .ok_or(Cow::Borrowed("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != Op::Diff && !card_only && remaining >= 2 && is(a, "AGGREGATE") {
            let v = argv[j + 1];
            agg = if is(v, "SUM") {
                Aggregate::Sum
            } else if is(v, "MIN") {
                Aggregate::Min
            } else if is(v, "MAX") {
                Aggregate::Max
            } else {
                return Err(errors::SYNTAX.into());
            };
            j += 2;
        } else if !store && !card_only && is(a, "WITHSCORES") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "LIMIT") {
            limit = parse_positive(argv[j + 1], Some("ERR LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let ks: &Keyspace = ctx.ks;
    let mut srcs: Vec<(Src<'_>, f64)> = keys
        .iter()
        .zip(weights)
        .map(|(k, w)| {
            let src = match ks.peek(db, k) {
                Some(VRef::Ref(Value::ZSet(z))) => Src::Z(z),
                Some(VRef::Ref(Value::Set(s))) => Src::S(s),
                _ => Src::None,
            };
            (src, w)
        })
        .collect();
    if op != Op::Diff {
        // Smallest first, as Valkey does (it also fixes the order scores aggregate in).
        srcs.sort_by_key(|(s, _)| s.len());
    }
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut card = 0usize;
    match op {
        Op::Inter => {
            if srcs[0].0.len() > 0 {
                let (first, w0) = &srcs[0];
                'members: for (m, s0) in first.entries() {
                    let mut score = w0 * s0;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (src, w) in &srcs[1..] {
                        match src.score(m) {
                            Some(v) => aggregate(&mut score, v * w, agg),
                            None => continue 'members,
                        }
                    }
                    card += 1;
                    if card_only {
                        if limit != 0 && card >= limit {
                            break;
                        }
                    } else {
                        result.push((m.to_vec(), score));
                    }
                }
            }
        }
        Op::Union => {
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            let mut order: Vec<&[u8]> = Vec::new();
            for (src, w) in &srcs {
                for (m, s) in src.entries() {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m, score);
                            order.push(m);
                        }
                    }
                }
            }
            result = order
                .into_iter()
                .map(|m| (m.to_vec(), acc.get(m).copied().unwrap_or(0.0)))
                .collect();
        }
        Op::Diff => {
            let (first, _) = &srcs[0];
            let same = srcs[1..].iter().any(|(s, _)| s.same(first));
            if !same {
                for (m, s) in first.entries() {
                    if srcs[1..].iter().all(|(src, _)| src.score(m).is_none()) {
                        result.push((m.to_vec(), s));
                    }
                }
            }
        }
    }
    result.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
    Ok(SetOpResult {
        items: result,
        card,
        withscores,
    })
}

fn setop_reply(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: Op, name: &str) -> CmdResult {
    let r = setop_generic(ctx, argv, 1, op, false, false, name)?;
    reply_members(&mut ctx.reply, &r.items, r.withscores);
    Ok(())
}

fn setop_store(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: Op, name: &'static str) -> CmdResult {
    let r = setop_generic(ctx, argv, 2, op, true, false, name)?;
    store_result(ctx, argv[1], &r.items, name);
    Ok(())
}

fn zunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_reply(ctx, argv, Op::Union, "zunion")
}
fn zinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_reply(ctx, argv, Op::Inter, "zinter")
}
fn zdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_reply(ctx, argv, Op::Diff, "zdiff")
}
fn zunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_store(ctx, argv, Op::Union, "zunionstore")
}
fn zinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_store(ctx, argv, Op::Inter, "zinterstore")
}
fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    setop_store(ctx, argv, Op::Diff, "zdiffstore")
}

fn zintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // Unlike SINTERCARD, ZINTERCARD goes through zunionInterDiffGenericCommand in Valkey
    // and reports "at least 1 input key is needed" for a numkeys below 1.
    let r = setop_generic(ctx, argv, 1, Op::Inter, false, true, "zintercard")?;
    ctx.reply.int(r.card as i64);
    Ok(())
}

fn zscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[2])?;
    let db = ctx.db();
    let Some(z) = read_zset(ctx.ks, db, argv[1])? else {
        coll::reply_scan(ctx, 0, &[]);
        return Ok(());
    };
    let opts = coll::parse_scan_args(argv, 3, coll::ScanKind::ZSet)?;
    let (next, items) = coll::scan_loop(cursor, opts.count, |c, out| {
        z.scan(c, |m, s| {
            if opts.matches(m) {
                out.push(m.to_vec());
                if !opts.noscores {
                    out.push(format_double(s).into_bytes());
                }
            }
        })
    });
    coll::reply_scan(ctx, next, &items);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_arguments_follow_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"0e5"), Some(0.0));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b""), None);
    }

    #[test]
    fn range_bounds_follow_strtod() {
        let r = ScoreRange::parse(b"(", b"")
            .ok()
            .map(|r| (r.min, r.minex, r.max, r.maxex));
        assert_eq!(r, Some((0.0, true, 0.0, false)));
        assert!(ScoreRange::parse(b"(1", b"2x").is_err());
        assert!(ScoreRange::parse(b" 5", b"1e400").is_ok());
        assert!(LexRange::parse(b"-", b"+").is_ok_and(|r| !r.is_empty()));
        assert!(LexRange::parse(b"+", b"-").is_ok_and(|r| r.is_empty()));
        assert!(LexRange::parse(b"[a", b"(a").is_ok_and(|r| r.is_empty()));
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"+x", b"+").is_err());
    }
}
