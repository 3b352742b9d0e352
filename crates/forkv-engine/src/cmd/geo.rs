//! Geo commands (Valkey `geo.c`): positions are members of a sorted set whose score is
//! the 52-bit geohash of [`super::geohash`]. GEOADD is ZADD with computed scores (and is
//! propagated as that ZADD, as Valkey does); the searches scan the score ranges of the
//! nine geohash boxes covering the area and keep the members within the exact shape.

use std::borrow::Cow;

use forkv_keyspace::{Value, ZSetValue};

use super::coll;
use super::geohash::{self, Search, Shape};
use super::zset::{parse_score, zadd_generic, AddFlags};
use super::{is, parse_i64, CmdError, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

const STORE_FLAGS: u32 = WRITE | DENYOOM | MOVABLE_KEYS;

pub const COMMANDS: &[CommandSpec] = &[
    spec("geoadd", -5, WRITE | DENYOOM, (1, 1, 1), "geo", "3.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", Core(geoadd)),
    spec("geodist", -4, READONLY, (1, 1, 1), "geo", "3.2.0", "O(1)", "Returns the distance between two members of a geospatial index.", Core(geodist)),
    spec("geohash", -2, READONLY, (1, 1, 1), "geo", "3.2.0", "O(1) for each member requested.", "Returns members from a geospatial index as geohash strings.", Core(geohash_cmd)),
    spec("geopos", -2, READONLY, (1, 1, 1), "geo", "3.2.0", "O(1) for each member requested.", "Returns the longitude and latitude of members from a geospatial index.", Core(geopos)),
    spec("georadius", -6, STORE_FLAGS, (1, 1, 1), "geo", "3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", Core(georadius)),
    spec("georadius_ro", -6, READONLY, (1, 1, 1), "geo", "3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Returns members from a geospatial index that are within a distance from a coordinate.", Core(georadius_ro)),
    spec("georadiusbymember", -5, STORE_FLAGS, (1, 1, 1), "geo", "3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", Core(georadiusbymember)),
    spec("georadiusbymember_ro", -5, READONLY, (1, 1, 1), "geo", "3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Returns members from a geospatial index that are within a distance from a member.", Core(georadiusbymember_ro)),
    spec("geosearch", -7, READONLY, (1, 1, 1), "geo", "6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "Queries a geospatial index for members inside an area of a box or a circle.", Core(geosearch)),
    spec("geosearchstore", -8, WRITE | DENYOOM, (1, 2, 1), "geo", "6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", Core(geosearchstore)),
];

/// The key positions of a GEORADIUS/GEORADIUSBYMEMBER line: the source and the last
/// STORE/STOREDIST destination (COMMAND GETKEYS); `args` starts at the command name.
pub fn keys_of(args: &[&[u8]]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut store = None;
    for (i, a) in args.iter().enumerate().skip(2) {
        if (is(a, "store") || is(a, "storedist")) && i + 1 < args.len() {
            store = Some(i + 1);
        }
    }
    keys.extend(store);
    keys
}

const DECODE_MEMBER: &str = "ERR could not decode requested zset member";

/// Reads `long lat` arguments, checking they can be indexed.
fn parse_lon_lat(long: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let x = parse_score(long).ok_or(Cow::Borrowed(errors::NOT_FLOAT))?;
    let y = parse_score(lat).ok_or(Cow::Borrowed(errors::NOT_FLOAT))?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&x) || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y) {
        return Err(super::err(format!("ERR invalid longitude,latitude pair {x:.6},{y:.6}")));
    }
    Ok((x, y))
}

/// Meters per unit (`m`, `km`, `ft`, `mi`).
fn parse_unit(u: &[u8]) -> Result<f64, CmdError> {
    if is(u, "m") {
        Ok(1.0)
    } else if is(u, "km") {
        Ok(1000.0)
    } else if is(u, "ft") {
        Ok(0.3048)
    } else if is(u, "mi") {
        Ok(1609.34)
    } else {
        Err("ERR unsupported unit provided. please use M, KM, FT, MI".into())
    }
}

/// A non-negative number with its own error for a non-number.
fn parse_extent(arg: &[u8], what: &'static str) -> Result<f64, CmdError> {
    parse_score(arg).ok_or(Cow::Borrowed(what))
}

/// `radius unit`: (radius, meters per unit).
fn parse_distance(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = parse_extent(radius, "ERR need numeric radius")?;
    if r < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((r, parse_unit(unit)?))
}

/// The position of a member, if the set has it.
fn member_pos(z: &ZSetValue, member: &[u8]) -> Option<(f64, f64)> {
    z.score(member).map(geohash::decode_score)
}

fn geoadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut first = 2;
    let (mut nx, mut xx) = (false, false);
    while first < argv.len() {
        let o = argv[first];
        if is(o, "NX") {
            nx = true;
        } else if is(o, "XX") {
            xx = true;
        } else if is(o, "CH") {
            // Passed on to ZADD with the other options.
        } else {
            break;
        }
        first += 1;
    }
    if !(argv.len() - first).is_multiple_of(3) || (nx && xx) {
        return Err(errors::SYNTAX.into());
    }
    // The ZADD this GEOADD stands for: same options, a score for each position.
    let mut scores: Vec<String> = Vec::with_capacity((argv.len() - first) / 3);
    for t in argv[first..].chunks_exact(3) {
        let (x, y) = parse_lon_lat(t[0], t[1])?;
        let s = geohash::score_of(x, y).ok_or_else(|| super::err(format!("ERR invalid longitude,latitude pair {x:.6},{y:.6}")))?;
        scores.push(s.to_string());
    }
    let mut zargv: Vec<&[u8]> = Vec::with_capacity(first + scores.len() * 2);
    zargv.push(b"zadd");
    zargv.extend_from_slice(&argv[1..first]);
    for (t, s) in argv[first..].chunks_exact(3).zip(&scores) {
        zargv.push(s.as_bytes());
        zargv.push(t[2]);
    }
    let before = ctx.ks.dirty;
    zadd_generic(ctx, &zargv, AddFlags::default())?;
    ctx.suppress_propagation();
    if ctx.ks.dirty != before {
        ctx.also_propagate(&zargv);
    }
    Ok(())
}

fn geodist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let to_meter = match argv.len() {
        4 => 1.0,
        5 => parse_unit(argv[4])?,
        _ => return Err(errors::SYNTAX.into()),
    };
    let db = ctx.db();
    let Some(z) = coll::read::<ZSetValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.null();
        return Ok(());
    };
    match (member_pos(z, argv[2]), member_pos(z, argv[3])) {
        (Some(a), Some(b)) => {
            let d = geohash::distance(a.0, a.1, b.0, b.1) / to_meter;
            ctx.reply.bulk(geohash::distance_string(d).as_bytes());
        }
        _ => ctx.reply.null(),
    }
    Ok(())
}

fn geohash_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let z = coll::read::<ZSetValue>(ctx.ks, db, argv[1])?;
    let hashes: Vec<Option<String>> = argv[2..]
        .iter()
        .map(|m| z.and_then(|z| z.score(m)).map(geohash::geohash_string))
        .collect();
    ctx.reply.array(hashes.len());
    for h in hashes {
        match h {
            Some(h) => ctx.reply.bulk(h.as_bytes()),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// A coordinate reply: RESP3 double, RESP2 bulk string, in Valkey's human form.
fn reply_coord(ctx: &mut Ctx<'_>, d: f64) {
    let s = geohash::human_double(d);
    if ctx.reply.resp3() {
        ctx.reply.raw(b",");
        ctx.reply.raw(s.as_bytes());
        ctx.reply.raw(b"\r\n");
    } else {
        ctx.reply.bulk(s.as_bytes());
    }
}

fn geopos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let z = coll::read::<ZSetValue>(ctx.ks, db, argv[1])?;
    let pos: Vec<Option<(f64, f64)>> = argv[2..].iter().map(|m| z.and_then(|z| member_pos(z, m))).collect();
    ctx.reply.array(pos.len());
    for p in pos {
        match p {
            Some((x, y)) => {
                ctx.reply.array(2);
                reply_coord(ctx, x);
                reply_coord(ctx, y);
            }
            None => ctx.reply.null_array(),
        }
    }
    Ok(())
}

/// Which command family parses the arguments.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// GEORADIUS[_RO]: `key long lat radius unit`.
    Coords,
    /// GEORADIUSBYMEMBER[_RO]: `key member radius unit`.
    Member,
    /// GEOSEARCH: `key FROM... BY...`.
    Search,
    /// GEOSEARCHSTORE: `dst key FROM... BY...`.
    SearchStore,
}

fn georadius(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Variant::Coords, true)
}
fn georadius_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Variant::Coords, false)
}
fn georadiusbymember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Variant::Member, true)
}
fn georadiusbymember_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Variant::Member, false)
}
fn geosearch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Variant::Search, false)
}
fn geosearchstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, Variant::SearchStore, true)
}

/// One match of a search.
struct Hit {
    member: Vec<u8>,
    score: f64,
    long: f64,
    lat: f64,
    /// Meters from the centre.
    dist: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    None,
    Asc,
    Desc,
}

/// The shared body of GEORADIUS*, GEOSEARCH and GEOSEARCHSTORE (`georadiusGeneric`).
fn search_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], variant: Variant, can_store: bool) -> CmdResult {
    let db = ctx.db();
    let src = if variant == Variant::SearchStore { argv[2] } else { argv[1] };
    let name = String::from_utf8_lossy(argv[0]).into_owned();
    // The type is checked before the arguments, as Valkey does.
    let z = coll::read::<ZSetValue>(ctx.ks, db, src)?;

    let mut centre: Option<(f64, f64)> = None;
    let mut shape: Option<(Shape, f64)> = None;
    let base = match variant {
        Variant::Coords => {
            centre = Some(parse_lon_lat(argv[2], argv[3])?);
            let (r, conv) = parse_distance(argv[4], argv[5])?;
            shape = Some((Shape::Radius(r), conv));
            6
        }
        Variant::Member => {
            if let Some(z) = z {
                centre = Some(member_pos(z, argv[2]).ok_or(Cow::Borrowed(DECODE_MEMBER))?);
                let (r, conv) = parse_distance(argv[3], argv[4])?;
                shape = Some((Shape::Radius(r), conv));
            }
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => 3,
    };
    let searching = matches!(variant, Variant::Search | Variant::SearchStore);
    let mut store: Option<&[u8]> = if variant == Variant::SearchStore { Some(argv[1]) } else { None };
    let (mut withdist, mut withhash, mut withcoord, mut storedist, mut any) = (false, false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut order = Order::None;
    let mut count: i64 = 0;
    let rest = &argv[base.min(argv.len())..];
    let mut i = 0;
    while i < rest.len() {
        let a = rest[i];
        let left = rest.len() - i - 1;
        if is(a, "withdist") {
            withdist = true;
        } else if is(a, "withhash") {
            withhash = true;
        } else if is(a, "withcoord") {
            withcoord = true;
        } else if is(a, "any") {
            any = true;
        } else if is(a, "asc") {
            order = Order::Asc;
        } else if is(a, "desc") {
            order = Order::Desc;
        } else if is(a, "count") && left >= 1 {
            count = parse_i64(rest[i + 1])?;
            if count <= 0 {
                return Err("ERR COUNT must be > 0".into());
            }
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && can_store && !searching {
            store = Some(rest[i + 1]);
            storedist = is(a, "storedist");
            i += 1;
        } else if is(a, "storedist") && variant == Variant::SearchStore {
            storedist = true;
        } else if is(a, "frommember") && left >= 1 && searching && !fromloc {
            if let Some(z) = z {
                centre = Some(member_pos(z, rest[i + 1]).ok_or(Cow::Borrowed(DECODE_MEMBER))?);
            }
            frommember = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && searching && !frommember {
            centre = Some(parse_lon_lat(rest[i + 1], rest[i + 2])?);
            fromloc = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && searching && !bybox {
            let (r, conv) = parse_distance(rest[i + 1], rest[i + 2])?;
            shape = Some((Shape::Radius(r), conv));
            byradius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && searching && !byradius {
            let w = parse_extent(rest[i + 1], "ERR need numeric width")?;
            let h = parse_extent(rest[i + 2], "ERR need numeric height")?;
            if w < 0.0 || h < 0.0 {
                return Err("ERR height or width cannot be negative".into());
            }
            let conv = parse_unit(rest[i + 3])?;
            shape = Some((Shape::Box { width: w, height: h }, conv));
            bybox = true;
            i += 3;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        let what = if variant == Variant::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(super::err(format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")));
    }
    if searching && !(frommember || fromloc) {
        return Err(super::err(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")));
    }
    if searching && !(byradius || bybox) {
        return Err(super::err(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")));
    }
    if any && count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    let (Some(z), Some((long, lat)), Some((shape, conversion))) = (z, centre, shape) else {
        // No source set.
        match store {
            Some(dst) => {
                if ctx.ks.delete(db, dst) {
                    ctx.notify(forkv_keyspace::notify::GENERIC, "del", dst);
                }
                ctx.reply.int(0);
            }
            None => ctx.reply.array(0),
        }
        return Ok(());
    };
    if count != 0 && order == Order::None && !any {
        order = Order::Asc;
    }
    let search = Search { long, lat, shape, conversion };
    let limit = if any { count as usize } else { 0 };
    let mut hits = collect_hits(z, &search, limit);
    match order {
        Order::Asc => hits.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Order::Desc => hits.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Order::None => {}
    }
    if count > 0 {
        hits.truncate(count as usize);
    }
    match store {
        None => reply_hits(ctx, &hits, conversion, withdist, withhash, withcoord),
        Some(dst) => {
            let event = if variant == Variant::SearchStore { "geosearchstore" } else { "georadiusstore" };
            store_hits(ctx, dst, &hits, conversion, storedist, event)
        }
    }
    Ok(())
}

/// Scans the covering boxes' score ranges; stops at `limit` hits when non-zero (ANY).
fn collect_hits(z: &ZSetValue, search: &Search, limit: usize) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (min, max) in geohash::score_ranges(&search.cover()) {
        if limit != 0 && hits.len() >= limit {
            break;
        }
        let (min, max) = (min as f64, max as f64);
        let first = z.count_while(|s, _| s < min);
        for (member, score) in z.iter_from(first, false) {
            if score >= max {
                break;
            }
            let (long, lat) = geohash::decode_score(score);
            if let Some(dist) = search.contains(long, lat) {
                hits.push(Hit { member: member.to_vec(), score, long, lat, dist });
            }
            if limit != 0 && hits.len() >= limit {
                break;
            }
        }
    }
    hits
}

fn reply_hits(ctx: &mut Ctx<'_>, hits: &[Hit], conversion: f64, withdist: bool, withhash: bool, withcoord: bool) {
    let options = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
    ctx.reply.array(hits.len());
    for h in hits {
        if options > 0 {
            ctx.reply.array(options + 1);
        }
        ctx.reply.bulk(&h.member);
        if withdist {
            ctx.reply.bulk(geohash::distance_string(h.dist / conversion).as_bytes());
        }
        if withhash {
            ctx.reply.int(h.score as i64);
        }
        if withcoord {
            ctx.reply.array(2);
            reply_coord(ctx, h.long);
            reply_coord(ctx, h.lat);
        }
    }
}

/// STORE/STOREDIST/GEOSEARCHSTORE: the hits become a sorted set scored by geohash or by
/// distance in the unit; no hits delete the destination.
fn store_hits(ctx: &mut Ctx<'_>, dst: &[u8], hits: &[Hit], conversion: f64, storedist: bool, event: &'static str) {
    let db = ctx.db();
    if hits.is_empty() {
        if ctx.ks.delete(db, dst) {
            ctx.notify(forkv_keyspace::notify::GENERIC, "del", dst);
        }
        ctx.reply.int(0);
        return;
    }
    let lim = *ctx.ks.encoding_limits();
    let max_len = hits.iter().map(|h| h.member.len()).max().unwrap_or(0);
    let mut z = ZSetValue::create(hits.len(), max_len, &lim);
    for h in hits {
        let score = if storedist { h.dist / conversion } else { h.score };
        z.set_score(&h.member, score, &lim);
    }
    z.compact_if_small(&lim);
    ctx.ks.set(db, dst, Value::ZSet(Box::new(z)), false);
    ctx.notify(forkv_keyspace::notify::ZSET, event, dst);
    let n = hits.len() as u64;
    if n > 1 {
        ctx.ks.touch(db, dst, n - 1);
    }
    ctx.reply.int(n as i64);
}
