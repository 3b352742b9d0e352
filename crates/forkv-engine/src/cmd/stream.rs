//! Stream commands (Valkey `t_stream.c`): XADD, XTRIM, XDEL, XLEN, XRANGE, XREVRANGE,
//! XREAD, XREADGROUP, XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO, XSETID.
//!
//! Propagation follows Valkey: XADD and XTRIM are logged with the generated ID and with
//! `~` trimming turned into the exact `=` result (so a replay trims the same entries);
//! XREADGROUP, XCLAIM and XAUTOCLAIM are logged as the idempotent
//! `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID id` per
//! delivered entry, plus `XGROUP SETID ... ENTRIESREAD` / `XGROUP CREATECONSUMER` where
//! the XCLAIMs cannot carry the change (NOACK).
//!
//! Blocking XREAD / XREADGROUP park through `blocking.rs`, with `$` replaced by the ID it
//! meant when the command ran, so a re-run waits for entries after that ID.

use forkv_keyspace::types::stream::{AppendError, EntryRef, Group, Trim, ENTRIES_READ_INVALID};
use forkv_keyspace::{notify, StreamId, StreamValue};

use super::blocking::{block_stream, parse_ms_timeout};
use super::coll::{self, commit};
use super::{err, is, CmdError, CmdResult, Ctx};
use crate::errors;
use crate::reply::Reply;
use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec::Core};

const G: &str = "stream";

pub const COMMANDS: &[CommandSpec] = &[
    spec("xadd", -5, WRITE | DENYOOM | FAST, (1, 1, 1), G, "5.0.0", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.", "Appends a new message to a stream. Creates the key if it doesn't exist.", Core(xadd)),
    spec("xtrim", -4, WRITE, (1, 1, 1), G, "5.0.0", "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.", "Deletes messages from the beginning of a stream.", Core(xtrim)),
    spec("xdel", -3, WRITE | FAST, (1, 1, 1), G, "5.0.0", "O(1) for each single item to delete in the stream, regardless of the stream size.", "Returns the number of messages after removing them from a stream.", Core(xdel)),
    spec("xlen", 2, READONLY | FAST, (1, 1, 1), G, "5.0.0", "O(1)", "Return the number of messages in a stream.", Core(xlen)),
    spec("xrange", -4, READONLY, (1, 1, 1), G, "5.0.0", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).", "Returns the messages from a stream within a range of IDs.", Core(xrange)),
    spec("xrevrange", -4, READONLY, (1, 1, 1), G, "5.0.0", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).", "Returns the messages from a stream within a range of IDs in reverse order.", Core(xrevrange)),
    spec("xread", -4, READONLY | BLOCKING | MOVABLE_KEYS, (0, 0, 0), G, "5.0.0", "", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", Core(xread)),
    spec("xreadgroup", -7, WRITE | BLOCKING | MOVABLE_KEYS, (0, 0, 0), G, "5.0.0", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", Core(xreadgroup)),
    spec("xack", -4, WRITE | FAST, (1, 1, 1), G, "5.0.0", "O(1) for each message ID processed.", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", Core(xack)),
    spec("xpending", -3, READONLY, (1, 1, 1), G, "5.0.0", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.", "Returns the information and entries from a stream consumer group's pending entries list.", Core(xpending)),
    spec("xclaim", -6, WRITE | FAST, (1, 1, 1), G, "5.0.0", "O(log N) with N being the number of messages in the PEL of the consumer group.", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", Core(xclaim)),
    spec("xautoclaim", -6, WRITE | FAST, (1, 1, 1), G, "6.2.0", "O(1) if COUNT is small.", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", Core(xautoclaim)),
    spec("xsetid", -3, WRITE | DENYOOM | FAST, (1, 1, 1), G, "5.0.0", "O(1)", "An internal command for replicating stream values.", Core(xsetid)),
    container("xgroup", -2, 0, G, "5.0.0", "A container for consumer groups commands.", XGROUP_SUBCOMMANDS),
    container("xinfo", -2, 0, G, "5.0.0", "A container for stream introspection commands.", XINFO_SUBCOMMANDS),
];

const XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    spec("xgroup|create", -5, WRITE | DENYOOM, (2, 2, 1), G, "5.0.0", "O(1)", "Creates a consumer group.", Core(xgroup_create)),
    spec("xgroup|setid", -5, WRITE, (2, 2, 1), G, "5.0.0", "O(1)", "Sets the last-delivered ID of a consumer group.", Core(xgroup_setid)),
    spec("xgroup|destroy", 4, WRITE, (2, 2, 1), G, "5.0.0", "O(N) where N is the number of entries in the group's pending entries list (PEL).", "Destroys a consumer group.", Core(xgroup_destroy)),
    spec("xgroup|createconsumer", 5, WRITE | DENYOOM, (2, 2, 1), G, "6.2.0", "O(1)", "Creates a consumer in a consumer group.", Core(xgroup_createconsumer)),
    spec("xgroup|delconsumer", 5, WRITE, (2, 2, 1), G, "5.0.0", "O(1)", "Deletes a consumer from a consumer group.", Core(xgroup_delconsumer)),
    spec("xgroup|help", 2, LOADING | STALE, (0, 0, 0), G, "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", Core(xgroup_help)),
];

const XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    spec("xinfo|stream", -3, READONLY, (2, 2, 1), G, "5.0.0", "O(1)", "Returns information about a stream.", Core(xinfo_stream)),
    spec("xinfo|groups", 3, READONLY, (2, 2, 1), G, "5.0.0", "O(1)", "Returns a list of the consumer groups of a stream.", Core(xinfo_groups)),
    spec("xinfo|consumers", 4, READONLY, (2, 2, 1), G, "5.0.0", "O(1)", "Returns a list of the consumers in a consumer group.", Core(xinfo_consumers)),
    spec("xinfo|help", 2, LOADING | STALE, (0, 0, 0), G, "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", Core(xinfo_help)),
];

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

// ---------------------------------------------------------------------------------------
// ID parsing and replies

/// Valkey's `string2ull`: decimal digits only, within u64.
fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// An ID argument (`streamGenericParseIDOrReply`): `-`/`+` unless `strict`, `<ms>` with
/// `missing_seq`, `<ms>-<seq>`, and `<ms>-*` when `seq_star` is allowed (then the second
/// value says whether the sequence was given).
fn parse_id_full(arg: &[u8], missing_seq: u64, strict: bool, seq_star: bool) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 127 {
        return Err(INVALID_ID.into());
    }
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(INVALID_ID.into());
        }
        return Ok((if arg == b"-" { StreamId::MIN } else { StreamId::MAX }, true));
    }
    let (ms_part, seq_part) = match arg.iter().position(|&c| c == b'-') {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    };
    let ms = parse_u64(ms_part).ok_or(INVALID_ID)?;
    match seq_part {
        None => Ok((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if seq_star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, parse_u64(s).ok_or(INVALID_ID)?), true)),
    }
}

/// A strict ID (no `-`/`+`).
fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_full(arg, 0, true, false).map(|(id, _)| id)
}

/// An ID that may be `-`/`+`.
fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id_full(arg, missing_seq, false, false).map(|(id, _)| id)
}

/// A range bound: `(` makes it exclusive (and then `-`/`+` are invalid).
fn parse_bound(arg: &[u8], missing_seq: u64, start: bool) -> Result<StreamId, CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], missing_seq, true, false)?.0;
        return if start {
            id.incr().ok_or_else(|| "ERR invalid start ID for the interval".into())
        } else {
            id.decr().ok_or_else(|| "ERR invalid end ID for the interval".into())
        };
    }
    parse_id(arg, missing_seq)
}

fn reply_id(r: &mut Reply<'_>, id: StreamId) {
    r.bulk(id.to_string().as_bytes());
}

/// `[id, [field, value, ...]]`.
fn reply_entry(r: &mut Reply<'_>, e: &EntryRef<'_>) {
    r.array(2);
    reply_id(r, e.id);
    r.array(e.len() * 2);
    for (f, v) in e.pairs() {
        r.bulk(f);
        r.bulk(v);
    }
}

/// Node limits from the keyspace's settings.
fn limits(ctx: &Ctx<'_>) -> forkv_keyspace::StreamLimits {
    ctx.ks.encoding_limits().stream
}

/// Valkey's `getLongLongFromObjectOrReply`.
fn parse_ll(arg: &[u8]) -> Result<i64, CmdError> {
    super::parse_i64(arg)
}

fn owned_argv(argv: &[&[u8]]) -> Vec<Vec<u8>> {
    argv.iter().map(|a| a.to_vec()).collect()
}

fn log(ctx: &mut Ctx<'_>, argv: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    ctx.also_propagate(&refs);
}

// ---------------------------------------------------------------------------------------
// XADD / XTRIM

/// The options XADD and XTRIM share (`streamAddTrimArgs`).
struct TrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Indexes of every LIMIT keyword (a replay must not see them, see `rewrite_trim`).
    limit_idx: Vec<usize>,
    /// Index of the MAXLEN/MINID threshold argument.
    arg_idx: usize,
    /// Index of `=`/`~`, when given.
    op_idx: Option<usize>,
    nomkstream: bool,
    /// XADD: index of the ID, the ID and whether its sequence was given (`None` for `*`).
    id_idx: usize,
    id: Option<(StreamId, bool)>,
}

fn parse_trim_args(ctx: &Ctx<'_>, argv: &[&[u8]], xadd: bool) -> Result<TrimArgs, CmdError> {
    let mut a = TrimArgs { trim: None, approx: false, limit: 0, limit_idx: Vec::new(), arg_idx: 0, op_idx: None, nomkstream: false, id_idx: argv.len(), id: None };
    let mut i = 2;
    let mut limit_given = false;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            a.id_idx = i;
            break;
        } else if (is(opt, "MAXLEN") || is(opt, "MINID")) && more > 0 {
            if a.trim.is_some() {
                return Err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible".into());
            }
            a.approx = false;
            a.op_idx = None;
            let next = argv[i + 1];
            if more >= 2 && (next == b"~" || next == b"=") {
                a.approx = next == b"~";
                a.op_idx = Some(i + 1);
                i += 1;
            }
            if is(opt, "MAXLEN") {
                let n = parse_ll(argv[i + 1])?;
                if n < 0 {
                    return Err("ERR The MAXLEN argument must be >= 0.".into());
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                a.trim = Some(Trim::MinId(parse_strict_id(argv[i + 1])?));
            }
            i += 1;
            a.arg_idx = i;
        } else if is(opt, "LIMIT") && more > 0 {
            let n = parse_ll(argv[i + 1])?;
            if n < 0 {
                return Err("ERR The LIMIT argument must be >= 0.".into());
            }
            a.limit = n as u64;
            a.limit_idx.push(i);
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "NOMKSTREAM") {
            a.nomkstream = true;
        } else if xadd {
            let (id, seq_given) = parse_id_full(opt, 0, true, true)?;
            a.id = Some((id, seq_given));
            a.id_idx = i;
            break;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if a.limit != 0 && a.trim.is_none() {
        return Err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy".into());
    }
    if !xadd && a.trim.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy".into());
    }
    if limit_given {
        if !a.approx {
            return Err("ERR syntax error, LIMIT cannot be used without the special ~ option".into());
        }
    } else if a.approx {
        let per_node = ctx.ks.encoding_limits().stream.node_max_entries as u64;
        a.limit = per_node.saturating_mul(100);
        if a.limit == 0 {
            a.limit = 10_000;
        }
        a.limit = a.limit.min(1_000_000);
    } else {
        a.limit = 0;
    }
    Ok(a)
}

/// The argv to log after trimming: `~ n` becomes `= <exact result>`, and LIMIT goes
/// (it only bounds `~`, and the replay must trim exactly what we trimmed).
fn rewrite_trim(argv: &mut Vec<Vec<u8>>, a: &TrimArgs, s: &StreamValue) {
    if !a.approx {
        return;
    }
    if let Some(op) = a.op_idx {
        argv[op] = b"=".to_vec();
    }
    argv[a.arg_idx] = match a.trim {
        Some(Trim::MaxLen(_)) => s.len().to_string().into_bytes(),
        _ => s.first_id_with_tombstones().to_bytes(),
    };
    for &li in a.limit_idx.iter().rev() {
        argv.drain(li..li + 2);
    }
}

fn xadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let a = parse_trim_args(ctx, argv, true)?;
    let field_pos = a.id_idx + 1;
    if field_pos > argv.len() || argv.len() - field_pos < 2 || !(argv.len() - field_pos).is_multiple_of(2) {
        return Err("ERR wrong number of arguments for 'xadd' command".into());
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err("ERR The ID specified in XADD must be greater than 0-0".into());
        }
    }
    let db = ctx.db();
    let lim = limits(ctx);
    let now = ctx.ks.now().max(0) as u64;
    if a.nomkstream && !coll::check_type::<StreamValue>(ctx.ks, db, argv[1])? {
        ctx.reply.null();
        return Ok(());
    }
    let (s, created) = coll::write_or_create(ctx.ks, db, argv[1], StreamValue::new)?;
    if s.last_id == StreamId::MAX {
        return Err("ERR The stream has exhausted the last possible ID, unable to add more items".into());
    }
    let id = match a.id {
        Some((id, true)) => Ok(id),
        Some((id, false)) => s.next_id(Some(id.ms), now),
        None => s.next_id(None, now),
    };
    let result = id.and_then(|id| s.append(id, &argv[field_pos..], lim).map(|()| id));
    let id = match result {
        Ok(id) => id,
        Err(e) => {
            if created {
                ctx.ks.delete(db, argv[1]);
            }
            return Err(match e {
                AppendError::IdTooSmall => "ERR The ID specified in XADD is equal or smaller than the target stream top item".into(),
                AppendError::TooLarge => "ERR Elements are too large to be stored".into(),
            });
        }
    };
    let mut logged = owned_argv(argv);
    logged[a.id_idx] = id.to_bytes();
    let mut trimmed = 0;
    if let Some(how) = a.trim {
        trimmed = s.trim(how, a.approx, a.limit);
        rewrite_trim(&mut logged, &a, s);
    }
    commit(ctx.ks, db, argv[1], 1, created, false);
    ctx.notify(notify::STREAM, "xadd", argv[1]);
    if trimmed > 0 {
        ctx.notify(notify::STREAM, "xtrim", argv[1]);
    }
    reply_id(&mut ctx.reply, id);
    ctx.suppress_propagation();
    log(ctx, &logged);
    Ok(())
}

fn xtrim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let a = parse_trim_args(ctx, argv, false)?;
    let db = ctx.db();
    let Some(s) = coll::write::<StreamValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let Some(how) = a.trim else {
        return Err(errors::SYNTAX.into());
    };
    let deleted = s.trim(how, a.approx, a.limit);
    let mut logged = owned_argv(argv);
    rewrite_trim(&mut logged, &a, s);
    if deleted > 0 {
        commit(ctx.ks, db, argv[1], deleted, false, false);
        ctx.suppress_propagation();
        log(ctx, &logged);
    }
    ctx.reply.int(deleted as i64);
    Ok(())
}

fn xdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    if !coll::check_type::<StreamValue>(ctx.ks, db, argv[1])? {
        ctx.reply.int(0);
        return Ok(());
    }
    let ids = argv[2..].iter().map(|a| parse_strict_id(a)).collect::<Result<Vec<_>, _>>()?;
    let Some(s) = coll::write::<StreamValue>(ctx.ks, db, argv[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let deleted = s.xdel(&ids);
    if deleted > 0 {
        commit(ctx.ks, db, argv[1], deleted, false, false);
    }
    ctx.reply.int(deleted as i64);
    Ok(())
}

fn xlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let n = coll::read::<StreamValue>(ctx.ks, db, argv[1])?.map_or(0, StreamValue::len);
    ctx.reply.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// XRANGE / XREVRANGE

fn range_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (argv[3], argv[2]) } else { (argv[2], argv[3]) };
    let start = parse_bound(start_arg, 0, true)?;
    let end = parse_bound(end_arg, u64::MAX, false)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if is(argv[j], "COUNT") && j + 1 < argv.len() {
            count = parse_ll(argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let Some(s) = coll::read::<StreamValue>(ks, db, argv[1])? else {
        reply.array(0);
        return Ok(());
    };
    if count == 0 {
        reply.null_array();
        return Ok(());
    }
    let limit = if count < 0 { usize::MAX } else { count as usize };
    let entries: Vec<EntryRef<'_>> = s.range(start, end, rev).take(limit).collect();
    reply.array(entries.len());
    for e in &entries {
        reply_entry(reply, e);
    }
    Ok(())
}

fn xrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, true)
}

// ---------------------------------------------------------------------------------------
// XREAD / XREADGROUP

/// Parsed XREAD / XREADGROUP arguments.
struct ReadArgs<'a> {
    /// Absolute deadline; `None` without BLOCK, `Some(0)` forever.
    block: Option<i64>,
    count: usize,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    streams_arg: usize,
    nkeys: usize,
}

fn parse_read_args<'a>(ctx: &Ctx<'_>, argv: &[&'a [u8]], group_cmd: bool) -> Result<ReadArgs<'a>, CmdError> {
    let mut a = ReadArgs { block: None, count: 0, noack: false, group: None, streams_arg: 0, nkeys: 0 };
    let name = if group_cmd { "xreadgroup" } else { "xread" };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = argv[i];
        if is(o, "BLOCK") && more > 0 {
            i += 1;
            a.block = Some(parse_ms_timeout(argv[i], ctx.ks.now())?);
        } else if is(o, "COUNT") && more > 0 {
            i += 1;
            a.count = parse_ll(argv[i])?.max(0) as usize;
        } else if is(o, "STREAMS") && more > 0 {
            a.streams_arg = i + 1;
            let n = argv.len() - a.streams_arg;
            if !n.is_multiple_of(2) {
                let symbol = if group_cmd { '>' } else { '$' };
                return Err(err(format!("ERR Unbalanced '{name}' list of streams: for each stream key an ID or '{symbol}' must be specified.")));
            }
            a.nkeys = n / 2;
            break;
        } else if is(o, "GROUP") && more >= 2 {
            if !group_cmd {
                return Err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.".into());
            }
            a.group = Some((argv[i + 1], argv[i + 2]));
            i += 2;
        } else if is(o, "NOACK") {
            if !group_cmd {
                return Err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.".into());
            }
            a.noack = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if a.streams_arg == 0 {
        return Err(errors::SYNTAX.into());
    }
    if group_cmd && a.group.is_none() {
        return Err("ERR Missing GROUP option for XREADGROUP".into());
    }
    Ok(a)
}

/// `>` in XREADGROUP.
const NEW_ENTRIES: StreamId = StreamId::MAX;

fn xread(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_generic(ctx, argv, false)
}

fn xreadgroup(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_generic(ctx, argv, true)
}

fn read_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], group_cmd: bool) -> CmdResult {
    // XREADGROUP logs its effects (XCLAIM, XGROUP ...), never itself.
    ctx.suppress_propagation();
    let a = parse_read_args(ctx, argv, group_cmd)?;
    let db = ctx.db();
    let keys = &argv[a.streams_arg..a.streams_arg + a.nkeys];
    let id_args = &argv[a.streams_arg + a.nkeys..];
    let mut ids = Vec::with_capacity(a.nkeys);
    for (key, id_arg) in keys.iter().zip(id_args) {
        let s = coll::read::<StreamValue>(ctx.ks, db, key)?;
        if let Some((group, _)) = a.group {
            if s.is_none_or(|s| !s.groups.contains_key(group)) {
                return Err(err(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(group)
                )));
            }
        }
        let id = if *id_arg == b"$" {
            if group_cmd {
                return Err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.".into());
            }
            s.map_or(StreamId::MIN, |s| s.last_id)
        } else if *id_arg == b"+" {
            if group_cmd {
                return Err("ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.".into());
            }
            // The last entry: read after the ID before the last one, one entry only.
            s.and_then(|s| s.last_id.decr()).unwrap_or(StreamId::MIN)
        } else if *id_arg == b">" {
            if !group_cmd {
                return Err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.".into());
            }
            NEW_ENTRIES
        } else {
            parse_strict_id(id_arg)?
        };
        ids.push(id);
    }

    let proto = ctx.reply.proto;
    let mut body = Vec::new();
    let mut served = 0;
    for (i, key) in keys.iter().enumerate() {
        let mut out = Reply::new(&mut body, proto);
        let done = match a.group {
            Some((group, consumer)) => serve_group(ctx, &mut out, key, group, consumer, ids[i], &a)?,
            None => {
                let count = if id_args[i] == b"+" { 1 } else { a.count };
                serve_plain(ctx, &mut out, key, ids[i], count)?
            }
        };
        if done {
            served += 1;
        }
    }
    if served > 0 {
        if ctx.reply.resp3() {
            ctx.reply.map(served);
        } else {
            ctx.reply.array(served);
        }
        ctx.reply.raw(&body);
        return Ok(());
    }
    match a.block {
        None => {
            ctx.reply.null_array();
            Ok(())
        }
        Some(deadline) => {
            // Re-runs must wait for entries after the ID `$` meant now.
            let mut resolved = owned_argv(argv);
            for (i, id_arg) in id_args.iter().enumerate() {
                if *id_arg == b"$" {
                    resolved[a.streams_arg + a.nkeys + i] = ids[i].to_bytes();
                }
            }
            block_stream(ctx, keys, deadline, resolved, group_cmd)
        }
    }
}

/// XREAD on one stream: entries after `after`, if any.
fn serve_plain(ctx: &mut Ctx<'_>, out: &mut Reply<'_>, key: &[u8], after: StreamId, count: usize) -> Result<bool, CmdError> {
    let db = ctx.db();
    let Some(s) = coll::read::<StreamValue>(ctx.ks, db, key)? else {
        return Ok(false);
    };
    if s.is_empty() || s.last_live_id().is_none_or(|max| max <= after) {
        return Ok(false);
    }
    let Some(start) = after.incr() else {
        return Ok(false);
    };
    let limit = if count == 0 { usize::MAX } else { count };
    let entries: Vec<EntryRef<'_>> = s.range(start, StreamId::MAX, false).take(limit).collect();
    if !out.resp3() {
        out.array(2);
    }
    out.bulk(key);
    out.array(entries.len());
    for e in &entries {
        reply_entry(out, e);
    }
    Ok(true)
}

/// The XCLAIM that recreates one PEL entry on a replay.
fn xclaim_form(key: &[u8], group: &[u8], id: StreamId, consumer: &[u8], time: i64, count: u64, last: StreamId) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        consumer.to_vec(),
        b"0".to_vec(),
        id.to_bytes(),
        b"TIME".to_vec(),
        time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        last.to_bytes(),
    ]
}

fn setid_form(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.to_bytes(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

/// XREADGROUP on one stream.
#[allow(clippy::too_many_arguments)]
fn serve_group(ctx: &mut Ctx<'_>, out: &mut Reply<'_>, key: &[u8], group: &[u8], consumer: &[u8], id: StreamId, a: &ReadArgs<'_>) -> Result<bool, CmdError> {
    let db = ctx.db();
    let now = ctx.ks.now();
    let mut logs: Vec<Vec<Vec<u8>>> = Vec::new();
    let served;
    {
        let Some(s) = coll::write::<StreamValue>(ctx.ks, db, key)? else {
            return Ok(false);
        };
        let Some(g) = s.groups.get(group) else {
            return Ok(false);
        };
        let history = id != NEW_ENTRIES;
        let mut after = id;
        let mut serve = history;
        if !history && !s.is_empty() {
            if let Some(max) = s.last_live_id() {
                if max > g.last_id {
                    serve = true;
                    after = g.last_id;
                }
            }
        }
        let mut created = false;
        if let Some(g) = s.groups.get_mut(group) {
            created = g.create_consumer(consumer, now);
            if let Some(c) = g.consumers.get_mut(consumer) {
                c.seen_time = now;
            }
        }
        if created && a.noack {
            logs.push(vec![b"XGROUP".to_vec(), b"CREATECONSUMER".to_vec(), key.to_vec(), group.to_vec(), consumer.to_vec()]);
        }
        if created {
            ctx.ks.dirty += 1;
            ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
        }
        let Some(s) = coll::write::<StreamValue>(ctx.ks, db, key)? else {
            return Ok(false);
        };
        served = serve;
        if serve {
            if !out.resp3() {
                out.array(2);
            }
            out.bulk(key);
            let start = after.incr();
            if history {
                serve_history(s, out, group, consumer, start, a.count, now);
            } else if let Some(start) = start {
                serve_new(s, out, key, group, consumer, start, a, now, &mut logs);
            } else {
                out.array(0);
            }
        }
    }
    if served {
        ctx.ks.dirty += 1;
    }
    for l in &logs {
        log(ctx, l);
    }
    Ok(served)
}

/// Entries of the consumer's own PEL from `start` (the history form of XREADGROUP).
fn serve_history(s: &mut StreamValue, out: &mut Reply<'_>, group: &[u8], consumer: &[u8], start: Option<StreamId>, count: usize, now: i64) {
    let ids: Vec<StreamId> = match (start, s.groups.get(group).and_then(|g| g.consumers.get(consumer))) {
        (Some(start), Some(c)) => {
            let it = c.pel.range(start..).copied();
            if count == 0 { it.collect() } else { it.take(count).collect() }
        }
        _ => Vec::new(),
    };
    out.array(ids.len());
    let mut found = Vec::with_capacity(ids.len());
    for &id in &ids {
        match s.get(id) {
            Some(e) => {
                reply_entry(out, &e);
                found.push(id);
            }
            None => {
                out.array(2);
                reply_id(out, id);
                out.null_array();
            }
        }
    }
    if let Some(g) = s.groups.get_mut(group) {
        for id in found {
            if let Some(n) = g.pel.get_mut(&id) {
                n.delivery_time = now;
                n.delivery_count += 1;
            }
        }
    }
}

/// New entries from `start` for the group (the `>` form).
#[allow(clippy::too_many_arguments)]
fn serve_new(s: &mut StreamValue, out: &mut Reply<'_>, key: &[u8], group: &[u8], consumer: &[u8], start: StreamId, a: &ReadArgs<'_>, now: i64, logs: &mut Vec<Vec<Vec<u8>>>) {
    let limit = if a.count == 0 { usize::MAX } else { a.count };
    let ids: Vec<StreamId> = s.range(start, StreamId::MAX, false).take(limit).map(|e| e.id).collect();
    out.array(ids.len());
    let mut advanced = false;
    for &id in &ids {
        if s.groups.get(group).is_some_and(|g| id > g.last_id) {
            s.advance_group(group, id);
            advanced = true;
        }
        if let Some(e) = s.get(id) {
            reply_entry(out, &e);
        }
        if a.noack {
            continue;
        }
        let Some(g) = s.groups.get_mut(group) else {
            continue;
        };
        let nack = g.assign(id, consumer, now, 1);
        nack.delivery_time = now;
        nack.delivery_count = 1;
        let (time, count) = (nack.delivery_time, nack.delivery_count);
        if let Some(c) = g.consumers.get_mut(consumer) {
            c.active_time = now;
        }
        logs.push(xclaim_form(key, group, id, consumer, time, count, g.last_id));
    }
    // Valkey 8 propagates the group's last ID and entries_read after every read that
    // moved it (XCLAIM's LASTID does not carry entries_read), not only under NOACK.
    if advanced {
        if let Some(g) = s.groups.get(group) {
            logs.push(setid_form(key, group, g));
        }
    }
}

// ---------------------------------------------------------------------------------------
// XGROUP

/// Valkey's `addReplySubcommandSyntaxError`.
fn subcommand_syntax(argv: &[&[u8]], cmd: &str) -> CmdError {
    err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {cmd} HELP.",
        String::from_utf8_lossy(&argv[1][..argv[1].len().min(128)])
    ))
}

/// Parses `[MKSTREAM] [ENTRIESREAD n]` from argv[5..] and checks key and group as
/// `xgroupCommand` does. Returns (mkstream, entries_read).
fn xgroup_prelude(ctx: &mut Ctx<'_>, argv: &[&[u8]], create: bool, setid: bool, need_group: bool) -> Result<(bool, i64), CmdError> {
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_INVALID;
    let mut i = 5;
    while i < argv.len() {
        if create && is(argv[i], "MKSTREAM") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(argv[i], "ENTRIESREAD") && i + 1 < argv.len() {
            entries_read = parse_ll(argv[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_INVALID {
                return Err("ERR value for ENTRIESREAD must be positive or -1".into());
            }
            i += 2;
        } else {
            return Err(subcommand_syntax(argv, "XGROUP"));
        }
    }
    let db = ctx.db();
    let s = coll::write::<StreamValue>(ctx.ks, db, argv[2])?;
    if !mkstream {
        let Some(s) = s else {
            return Err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.".into());
        };
        if need_group && !s.groups.contains_key(argv[3]) {
            return Err(err(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                String::from_utf8_lossy(argv[3]),
                String::from_utf8_lossy(argv[2])
            )));
        }
    }
    Ok((mkstream, entries_read))
}

fn xgroup_create(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 8 {
        return Err(subcommand_syntax(argv, "XGROUP"));
    }
    let (_, entries_read) = xgroup_prelude(ctx, argv, true, false, false)?;
    let db = ctx.db();
    let existing = coll::read::<StreamValue>(ctx.ks, db, argv[2])?.map(|s| s.last_id);
    let id = if argv[4] == b"$" { existing.unwrap_or(StreamId::MIN) } else { parse_strict_id(argv[4])? };
    let (s, created) = coll::write_or_create(ctx.ks, db, argv[2], StreamValue::new)?;
    if s.groups.contains_key(argv[3]) {
        return Err("BUSYGROUP Consumer Group name already exists".into());
    }
    s.groups.insert(argv[3].into(), Group::new(id, entries_read));
    commit(ctx.ks, db, argv[2], 1, created, false);
    ctx.reply.ok();
    Ok(())
}

fn xgroup_setid(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() != 5 && argv.len() != 7 {
        return Err(subcommand_syntax(argv, "XGROUP"));
    }
    let (_, entries_read) = xgroup_prelude(ctx, argv, false, true, true)?;
    let db = ctx.db();
    let Some(s) = coll::write::<StreamValue>(ctx.ks, db, argv[2])? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    let id = if argv[4] == b"$" { s.last_id } else { parse_id(argv[4], 0)? };
    if let Some(g) = s.groups.get_mut(argv[3]) {
        g.last_id = id;
        g.entries_read = entries_read;
    }
    commit(ctx.ks, db, argv[2], 1, false, false);
    ctx.reply.ok();
    Ok(())
}

fn xgroup_destroy(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    xgroup_prelude(ctx, argv, false, false, false)?;
    let db = ctx.db();
    let removed = coll::write::<StreamValue>(ctx.ks, db, argv[2])?.is_some_and(|s| s.groups.remove(argv[3]).is_some());
    if removed {
        // The touch also wakes XREADGROUP clients blocked on the group (-NOGROUP).
        commit(ctx.ks, db, argv[2], 1, false, false);
    }
    ctx.reply.int(i64::from(removed));
    Ok(())
}

fn xgroup_createconsumer(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    xgroup_prelude(ctx, argv, false, false, true)?;
    let db = ctx.db();
    let now = ctx.ks.now();
    let created = coll::write::<StreamValue>(ctx.ks, db, argv[2])?
        .and_then(|s| s.groups.get_mut(argv[3]))
        .is_some_and(|g| g.create_consumer(argv[4], now));
    if created {
        ctx.ks.dirty += 1;
    }
    ctx.reply.int(i64::from(created));
    Ok(())
}

fn xgroup_delconsumer(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    xgroup_prelude(ctx, argv, false, false, true)?;
    let db = ctx.db();
    let pending = coll::write::<StreamValue>(ctx.ks, db, argv[2])?
        .and_then(|s| s.groups.get_mut(argv[3]))
        .and_then(|g| g.delete_consumer(argv[4]));
    if pending.is_some() {
        ctx.ks.dirty += 1;
    }
    ctx.reply.int(pending.unwrap_or(0) as i64);
    Ok(())
}

fn xgroup_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.help(
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// XSETID, XACK, XPENDING

fn xsetid(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = parse_strict_id(argv[2])?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(argv[i], "ENTRIESADDED") && more > 0 {
            entries_added = parse_ll(argv[i + 1])?;
            if entries_added < 0 {
                return Err("ERR entries_added must be positive".into());
            }
            i += 2;
        } else if is(argv[i], "MAXDELETEDID") && more > 0 {
            max_xdel = parse_strict_id(argv[i + 1])?;
            if id < max_xdel {
                return Err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id".into());
            }
            i += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let db = ctx.db();
    let Some(s) = coll::write::<StreamValue>(ctx.ks, db, argv[1])? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    if id < s.max_deleted_id {
        return Err("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id".into());
    }
    if !s.is_empty() {
        if s.last_live_id().is_some_and(|max| id < max) {
            return Err("ERR The ID specified in XSETID is smaller than the target stream top item".into());
        }
        if entries_added != -1 && s.len() > entries_added as u64 {
            return Err("ERR The entries_added specified in XSETID is smaller than the target stream length".into());
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted_id = max_xdel;
    }
    commit(ctx.ks, db, argv[1], 1, false, false);
    ctx.reply.ok();
    Ok(())
}

fn xack(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let has_group = coll::read::<StreamValue>(ctx.ks, db, argv[1])?.is_some_and(|s| s.groups.contains_key(argv[2]));
    if !has_group {
        ctx.reply.int(0);
        return Ok(());
    }
    let ids = argv[3..].iter().map(|a| parse_strict_id(a)).collect::<Result<Vec<_>, _>>()?;
    let mut acked = 0u64;
    if let Some(g) = coll::write::<StreamValue>(ctx.ks, db, argv[1])?.and_then(|s| s.groups.get_mut(argv[2])) {
        for id in ids {
            if g.ack(id) {
                acked += 1;
            }
        }
    }
    if acked > 0 {
        commit(ctx.ks, db, argv[1], acked, false, false);
    }
    ctx.reply.int(acked as i64);
    Ok(())
}

fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    err(format!("NOGROUP No such key '{}' or consumer group '{}'", String::from_utf8_lossy(key), String::from_utf8_lossy(group)))
}

fn xpending(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let argc = argv.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(errors::SYNTAX.into());
    }
    let mut range = None;
    let mut consumer: Option<&[u8]> = None;
    let mut min_idle = 0i64;
    if argc >= 6 {
        let mut start_idx = 3;
        if is(argv[3], "IDLE") {
            min_idle = parse_ll(argv[4])?;
            if argc < 8 {
                return Err(errors::SYNTAX.into());
            }
            start_idx += 2;
        }
        let count = parse_ll(argv[start_idx + 2])?.max(0);
        let start = parse_bound(argv[start_idx], 0, true)?;
        let end = parse_bound(argv[start_idx + 1], u64::MAX, false)?;
        if start_idx + 3 < argc {
            consumer = Some(argv[start_idx + 3]);
        }
        range = Some((start, end, count as usize));
    }
    let db = ctx.db();
    let now = ctx.ks.now();
    let Ctx { ks, reply, .. } = ctx;
    let Some(g) = coll::read::<StreamValue>(ks, db, argv[1])?.and_then(|s| s.groups.get(argv[2])) else {
        return Err(nogroup(argv[1], argv[2]));
    };
    let Some((start, end, count)) = range else {
        reply.array(4);
        reply.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(first), Some(last)) => {
                reply_id(reply, *first);
                reply_id(reply, *last);
                let owners: Vec<_> = g.consumers.iter().filter(|(_, c)| !c.pel.is_empty()).collect();
                reply.array(owners.len());
                for (name, c) in owners {
                    reply.array(2);
                    reply.bulk(name);
                    reply.bulk(c.pel.len().to_string().as_bytes());
                }
            }
            _ => {
                reply.null();
                reply.null();
                reply.null_array();
            }
        }
        return Ok(());
    };
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) if start <= end => c.pel.range(start..=end).copied().collect(),
            Some(_) => Vec::new(),
            None => {
                reply.array(0);
                return Ok(());
            }
        },
        None if start <= end => g.pel.range(start..=end).map(|(id, _)| *id).collect(),
        None => Vec::new(),
    };
    let rows: Vec<(StreamId, &forkv_keyspace::types::stream::Nack)> = ids
        .into_iter()
        .filter_map(|id| g.pel.get(&id).map(|n| (id, n)))
        .filter(|(_, n)| min_idle == 0 || now - n.delivery_time >= min_idle)
        .take(count)
        .collect();
    reply.array(rows.len());
    for (id, n) in rows {
        reply.array(4);
        reply_id(reply, id);
        reply.bulk(&n.consumer);
        reply.int((now - n.delivery_time).max(0));
        reply.int(n.delivery_count as i64);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// XCLAIM / XAUTOCLAIM

fn xclaim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let has_group = coll::read::<StreamValue>(ctx.ks, db, argv[1])?.is_some_and(|s| s.groups.contains_key(argv[2]));
    if !has_group {
        return Err(nogroup(argv[1], argv[2]));
    }
    let min_idle = super::parse_i64_with(argv[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_strict_id(argv[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.ks.now();
    let (mut force, mut justid) = (false, false);
    let mut retrycount: Option<u64> = None;
    let mut deliverytime: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv[j];
        if is(opt, "FORCE") {
            force = true;
        } else if is(opt, "JUSTID") {
            justid = true;
        } else if is(opt, "IDLE") && more > 0 {
            j += 1;
            deliverytime = Some(now.saturating_sub(super::parse_i64_with(argv[j], "ERR Invalid IDLE option argument for XCLAIM")?));
        } else if is(opt, "TIME") && more > 0 {
            j += 1;
            deliverytime = Some(super::parse_i64_with(argv[j], "ERR Invalid TIME option argument for XCLAIM")?);
        } else if is(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            let n = super::parse_i64_with(argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")?;
            retrycount = (n >= 0).then_some(n as u64);
        } else if is(opt, "LASTID") && more > 0 {
            j += 1;
            last_id = parse_strict_id(argv[j])?;
        } else {
            return Err(err(format!("ERR Unrecognized XCLAIM option '{}'", String::from_utf8_lossy(opt))));
        }
        j += 1;
    }
    let deliverytime = match deliverytime {
        Some(t) if t >= 0 && t <= now => t,
        _ => now,
    };
    ctx.suppress_propagation();
    let (key, group, consumer) = (argv[1], argv[2], argv[3]);
    let mut logs: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut changes = 0u64;
    let mut consumer_created = false;
    let mut body = Vec::new();
    let mut claimed = 0usize;
    {
        let proto = ctx.reply.proto;
        let mut out = Reply::new(&mut body, proto);
        let Some(s) = coll::write::<StreamValue>(ctx.ks, db, key)? else {
            return Err(nogroup(key, group));
        };
        let mut propagate_last_id = false;
        let Some(g) = s.groups.get_mut(group) else {
            return Err(nogroup(key, group));
        };
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
        if g.create_consumer(consumer, now) {
            changes += 1;
            consumer_created = true;
        }
        if let Some(c) = g.consumers.get_mut(consumer) {
            c.seen_time = now;
        }
        for &id in &ids {
            let exists = s.get(id).is_some();
            let Some(g) = s.groups.get_mut(group) else {
                break;
            };
            if !exists {
                if let Some(n) = g.pel.get(&id) {
                    logs.push(xclaim_form(key, group, id, &n.consumer, n.delivery_time, n.delivery_count, g.last_id));
                    propagate_last_id = false;
                    changes += 1;
                    g.ack(id);
                }
                continue;
            }
            let mut forced = false;
            if !g.pel.contains_key(&id) {
                if !force {
                    continue;
                }
                forced = true;
            }
            if !forced && min_idle > 0 {
                if let Some(n) = g.pel.get(&id) {
                    if now - n.delivery_time < min_idle {
                        continue;
                    }
                }
            }
            let nack = g.assign(id, consumer, deliverytime, 0);
            nack.delivery_time = deliverytime;
            if let Some(rc) = retrycount {
                nack.delivery_count = rc;
            } else if !justid {
                nack.delivery_count += 1;
            }
            let (t, n) = (nack.delivery_time, nack.delivery_count);
            if let Some(c) = g.consumers.get_mut(consumer) {
                c.active_time = now;
            }
            logs.push(xclaim_form(key, group, id, consumer, t, n, g.last_id));
            propagate_last_id = false;
            changes += 1;
            if justid {
                reply_id(&mut out, id);
            } else if let Some(e) = s.get(id) {
                reply_entry(&mut out, &e);
            }
            claimed += 1;
        }
        if propagate_last_id {
            if let Some(g) = s.groups.get(group) {
                logs.push(setid_form(key, group, g));
            }
            changes += 1;
        }
    }
    ctx.ks.dirty += changes;
    if consumer_created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    ctx.reply.array(claimed);
    ctx.reply.raw(&body);
    for l in &logs {
        log(ctx, l);
    }
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let min_idle = super::parse_i64_with(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = parse_bound(argv[5], 0, true)?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(argv[j], "COUNT") && more > 0 {
            let max_count = i64::MAX / 16;
            // Valkey's getRangeLongFromObjectOrReply with a message: a COUNT that is not a
            // number gets the same error as one out of range.
            count = match super::parse_i64(argv[j + 1]) {
                Ok(n) if (1..=max_count).contains(&n) => n,
                _ => return Err("ERR COUNT must be > 0".into()),
            };
            j += 1;
        } else if is(argv[j], "JUSTID") {
            justid = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    let db = ctx.db();
    let has_group = coll::read::<StreamValue>(ctx.ks, db, argv[1])?.is_some_and(|s| s.groups.contains_key(argv[2]));
    if !has_group {
        return Err(nogroup(argv[1], argv[2]));
    }
    ctx.suppress_propagation();
    let now = ctx.ks.now();
    let (key, group, consumer) = (argv[1], argv[2], argv[3]);
    let mut logs: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut changes = 0u64;
    let mut consumer_created = false;
    let mut body = Vec::new();
    let mut claimed = 0usize;
    let mut deleted = Vec::new();
    let next;
    {
        let proto = ctx.reply.proto;
        let mut out = Reply::new(&mut body, proto);
        let Some(s) = coll::write::<StreamValue>(ctx.ks, db, key)? else {
            return Err(nogroup(key, group));
        };
        let Some(g) = s.groups.get_mut(group) else {
            return Err(nogroup(key, group));
        };
        if g.create_consumer(consumer, now) {
            changes += 1;
            consumer_created = true;
        }
        if let Some(c) = g.consumers.get_mut(consumer) {
            c.seen_time = now;
        }
        let mut attempts = count.saturating_mul(10);
        let mut count = count;
        let mut cursor = Some(start);
        while attempts > 0 && count > 0 {
            let Some(from) = cursor else {
                break;
            };
            let Some((id, owner, time, n)) =
                s.groups.get(group).and_then(|g| g.pel.range(from..).next().map(|(id, n)| (*id, n.consumer.clone(), n.delivery_time, n.delivery_count)))
            else {
                cursor = None;
                break;
            };
            attempts -= 1;
            cursor = id.incr();
            let exists = s.get(id).is_some();
            let Some(g) = s.groups.get_mut(group) else {
                break;
            };
            if !exists {
                logs.push(xclaim_form(key, group, id, &owner, time, n, g.last_id));
                changes += 1;
                g.ack(id);
                deleted.push(id);
                count -= 1;
                continue;
            }
            if min_idle > 0 && now - time < min_idle {
                continue;
            }
            let nack = g.assign(id, consumer, now, 0);
            nack.delivery_time = now;
            if !justid {
                nack.delivery_count += 1;
            }
            let (t, c) = (nack.delivery_time, nack.delivery_count);
            if let Some(cons) = g.consumers.get_mut(consumer) {
                cons.active_time = now;
            }
            logs.push(xclaim_form(key, group, id, consumer, t, c, g.last_id));
            changes += 1;
            if justid {
                reply_id(&mut out, id);
            } else if let Some(e) = s.get(id) {
                reply_entry(&mut out, &e);
            }
            claimed += 1;
            count -= 1;
        }
        // The cursor is the next pending ID, 0-0 at the end.
        next = cursor
            .and_then(|from| s.groups.get(group).and_then(|g| g.pel.range(from..).next().map(|(id, _)| *id)))
            .unwrap_or(StreamId::MIN);
    }
    ctx.ks.dirty += changes;
    if consumer_created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    ctx.reply.array(3);
    reply_id(&mut ctx.reply, next);
    ctx.reply.array(claimed);
    ctx.reply.raw(&body);
    ctx.reply.array(deleted.len());
    for id in deleted {
        reply_id(&mut ctx.reply, id);
    }
    for l in &logs {
        log(ctx, l);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// XINFO

/// Node count of a rax holding these 16-byte big-endian keys (`rax->numnodes`): a
/// compressed node per shared run, a branching node per fork, a node per key end.
fn rax_nodes(keys: &[[u8; 16]]) -> usize {
    fn count(keys: &[[u8; 16]], depth: usize) -> usize {
        if depth == 16 || keys.is_empty() {
            return 1;
        }
        let first = &keys[0];
        let last = &keys[keys.len() - 1];
        let mut common = depth;
        while common < 16 && first[common] == last[common] {
            common += 1;
        }
        if common > depth {
            // A compressed node spelling the shared run, then what follows it.
            return 1 + count(keys, common);
        }
        let mut total = 1;
        let mut i = 0;
        while i < keys.len() {
            let b = keys[i][depth];
            let mut j = i;
            while j < keys.len() && keys[j][depth] == b {
                j += 1;
            }
            total += count(&keys[i..j], depth + 1);
            i = j;
        }
        total
    }
    let mut v: Vec<[u8; 16]> = keys.to_vec();
    v.sort_unstable();
    count(&v, 0)
}

fn stream_rax_nodes(s: &StreamValue) -> usize {
    let keys: Vec<[u8; 16]> = s
        .nodes()
        .map(|(id, _)| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&id.ms.to_be_bytes());
            k[8..].copy_from_slice(&id.seq.to_be_bytes());
            k
        })
        .collect();
    if keys.is_empty() {
        1
    } else {
        rax_nodes(&keys)
    }
}

fn xinfo_stream(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let optc = argv.len() - 3;
    let mut full = false;
    let mut count: i64 = 10;
    if optc > 0 {
        if (optc != 1 && optc != 3) || !is(argv[3], "FULL") {
            return Err(subcommand_syntax(argv, "XINFO"));
        }
        full = true;
        if optc == 3 {
            if !is(argv[4], "COUNT") {
                return Err(subcommand_syntax(argv, "XINFO"));
            }
            count = parse_ll(argv[5])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let Some(s) = coll::read::<StreamValue>(ks, db, argv[2])? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    reply.map(if full { 9 } else { 10 });
    reply.bulk(b"length");
    reply.int(s.len() as i64);
    reply.bulk(b"radix-tree-keys");
    reply.int(s.node_count() as i64);
    reply.bulk(b"radix-tree-nodes");
    reply.int(stream_rax_nodes(s) as i64);
    reply.bulk(b"last-generated-id");
    reply_id(reply, s.last_id);
    reply.bulk(b"max-deleted-entry-id");
    reply_id(reply, s.max_deleted_id);
    reply.bulk(b"entries-added");
    reply.int(s.entries_added as i64);
    reply.bulk(b"recorded-first-entry-id");
    reply_id(reply, s.first_id);
    let limit = if count == 0 { usize::MAX } else { count as usize };
    if !full {
        reply.bulk(b"groups");
        reply.int(s.groups.len() as i64);
        reply.bulk(b"first-entry");
        match s.range(StreamId::MIN, StreamId::MAX, false).next() {
            Some(e) => reply_entry(reply, &e),
            None => reply.null(),
        }
        reply.bulk(b"last-entry");
        match s.range(StreamId::MIN, StreamId::MAX, true).next() {
            Some(e) => reply_entry(reply, &e),
            None => reply.null(),
        }
        return Ok(());
    }
    reply.bulk(b"entries");
    let entries: Vec<EntryRef<'_>> = s.range(StreamId::MIN, StreamId::MAX, false).take(limit).collect();
    reply.array(entries.len());
    for e in &entries {
        reply_entry(reply, e);
    }
    reply.bulk(b"groups");
    reply.array(s.groups.len());
    for (name, g) in &s.groups {
        reply.map(7);
        reply.bulk(b"name");
        reply.bulk(name);
        reply_group_progress(reply, s, g);
        reply.bulk(b"pel-count");
        reply.int(g.pel.len() as i64);
        reply.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        reply.array(pel.len());
        for (id, n) in pel {
            reply.array(4);
            reply_id(reply, *id);
            reply.bulk(&n.consumer);
            reply.int(n.delivery_time);
            reply.int(n.delivery_count as i64);
        }
        reply.bulk(b"consumers");
        reply.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            reply.map(5);
            reply.bulk(b"name");
            reply.bulk(cname);
            reply.bulk(b"seen-time");
            reply.int(c.seen_time);
            reply.bulk(b"active-time");
            reply.int(c.active_time);
            reply.bulk(b"pel-count");
            reply.int(c.pel.len() as i64);
            reply.bulk(b"pending");
            let ids: Vec<_> = c.pel.iter().take(limit).collect();
            reply.array(ids.len());
            for id in ids {
                let (t, n) = g.pel.get(id).map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                reply.array(3);
                reply_id(reply, *id);
                reply.int(t);
                reply.int(n as i64);
            }
        }
    }
    Ok(())
}

/// A group's `last-delivered-id`, `entries-read` and `lag` fields, as XINFO GROUPS and
/// XINFO STREAM FULL both list them.
fn reply_group_progress(reply: &mut Reply<'_>, s: &StreamValue, g: &Group) {
    reply.bulk(b"last-delivered-id");
    reply_id(reply, g.last_id);
    reply.bulk(b"entries-read");
    if g.entries_read == ENTRIES_READ_INVALID {
        reply.null();
    } else {
        reply.int(g.entries_read);
    }
    reply.bulk(b"lag");
    match s.group_lag(g) {
        Some(l) => reply.int(l),
        None => reply.null(),
    }
}

fn xinfo_groups(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let Ctx { ks, reply, .. } = ctx;
    let Some(s) = coll::read::<StreamValue>(ks, db, argv[2])? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    reply.array(s.groups.len());
    for (name, g) in &s.groups {
        reply.map(6);
        reply.bulk(b"name");
        reply.bulk(name);
        reply.bulk(b"consumers");
        reply.int(g.consumers.len() as i64);
        reply.bulk(b"pending");
        reply.int(g.pel.len() as i64);
        reply_group_progress(reply, s, g);
    }
    Ok(())
}

fn xinfo_consumers(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let now = ctx.ks.now();
    let Ctx { ks, reply, .. } = ctx;
    let Some(s) = coll::read::<StreamValue>(ks, db, argv[2])? else {
        return Err(errors::NO_SUCH_KEY.into());
    };
    let Some(g) = s.groups.get(argv[3]) else {
        return Err(err(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(argv[3]),
            String::from_utf8_lossy(argv[2])
        )));
    };
    reply.array(g.consumers.len());
    for (name, c) in &g.consumers {
        reply.map(4);
        reply.bulk(b"name");
        reply.bulk(name);
        reply.bulk(b"pending");
        reply.int(c.pel.len() as i64);
        reply.bulk(b"idle");
        reply.int((now - c.seen_time).max(0));
        reply.bulk(b"inactive");
        reply.int(if c.active_time == -1 { -1 } else { now - c.active_time });
    }
    Ok(())
}

fn xinfo_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.help(
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_valkey() {
        assert_eq!(parse_strict_id(b"1-2").ok(), Some(StreamId::new(1, 2)));
        assert_eq!(parse_id(b"5", u64::MAX).ok(), Some(StreamId::new(5, u64::MAX)));
        assert_eq!(parse_id(b"+", 0).ok(), Some(StreamId::MAX));
        assert!(parse_strict_id(b"-").is_err());
        assert!(parse_strict_id(b"1-x").is_err());
        assert!(parse_strict_id(b"-1").is_err());
        assert_eq!(parse_id_full(b"7-*", 0, true, true).ok(), Some((StreamId::new(7, 0), false)));
        assert!(parse_strict_id(b"7-*").is_err());
        assert_eq!(parse_bound(b"(1-1", 0, true).ok(), Some(StreamId::new(1, 2)));
        assert_eq!(parse_bound(b"(1-0", u64::MAX, false).ok(), Some(StreamId::new(0, u64::MAX)));
        assert!(parse_bound(b"(-", 0, true).is_err());
        assert!(parse_bound(b"(18446744073709551615-18446744073709551615", 0, true).is_err());
    }

    #[test]
    fn rax_node_counts() {
        let k = |ms: u64| {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&ms.to_be_bytes());
            b
        };
        // One key: a compressed node of 16 bytes and the key node.
        assert_eq!(rax_nodes(&[k(1)]), 2);
        // Two keys forking at the 8th byte: run, fork, two tails of 8 bytes each.
        assert_eq!(rax_nodes(&[k(1), k(2)]), 1 + 1 + 2 * 2);
    }
}
