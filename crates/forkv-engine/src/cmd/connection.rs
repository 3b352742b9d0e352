//! Connection commands the core runs: PING, ECHO, SELECT, QUIT.

use super::{is, parse_i64, CmdResult, Ctx};
use crate::client::ReplyMode;
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[
    spec("ping", -1, FAST, (0, 0, 0), "connection", "1.0.0", "O(1)", "Returns the server's liveliness response.", Core(ping)),
    spec("echo", 2, LOADING | STALE | FAST, (0, 0, 0), "connection", "1.0.0", "O(1)", "Returns the given string.", Core(echo)),
    spec("select", 2, LOADING | STALE | FAST, (0, 0, 0), "connection", "1.0.0", "O(1)", "Changes the selected database.", Core(select)),
    spec("quit", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, (0, 0, 0), "connection", "1.0.0", "O(1)", "Closes the connection.", Core(quit)),
];

fn ping(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // A RESP2 subscriber can only read pushes, so PING answers in their shape.
    if ctx.client.pubsub && !ctx.reply.resp3() && argv.len() <= 2 {
        ctx.reply.array(2);
        ctx.reply.bulk(b"pong");
        ctx.reply.bulk(argv.get(1).copied().unwrap_or(b""));
        return Ok(());
    }
    match argv {
        [_] => ctx.reply.simple("PONG"),
        [_, msg] => ctx.reply.bulk(msg),
        _ => return Err("ERR wrong number of arguments for 'ping' command".into()),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.reply.bulk(argv[1]);
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = parse_i64(argv[1])?;
    if n < 0 || n as usize >= ctx.ks.db_count() {
        return Err(errors::DB_RANGE.into());
    }
    ctx.client.db = n as usize;
    ctx.reply.ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP: only ON answers (OFF and SKIP silence their own reply).
pub(crate) fn client_reply(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mode = argv[2];
    if is(mode, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.reply.ok();
    } else if is(mode, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(mode, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(errors::SYNTAX.into());
    }
    Ok(())
}

/// CLIENT NO-EVICT ON|OFF: exempts the client from client eviction (`maxmemory-clients`,
/// done by the host: ts/net/client-eviction) and shows as CLIENT LIST flag `e`.
pub(crate) fn client_no_evict(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.client.no_evict = on_off(argv[2])?;
    ctx.reply.ok();
    Ok(())
}

/// CLIENT NO-TOUCH ON|OFF: the client's commands (TOUCH excepted) leave the keys'
/// access clocks alone (OBJECT IDLETIME / FREQ, LRU/LFU eviction).
pub(crate) fn client_no_touch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.client.no_touch = on_off(argv[2])?;
    ctx.reply.ok();
    Ok(())
}

/// `CLIENT CAPA <capability> ...`: the client says what it can handle. `redirect`: on a
/// replica its reads and writes are answered `-REDIRECT <primary>` (see `precheck_after_acl`).
/// Other capabilities are unknown and ignored, as in Valkey (for forward compatibility).
pub(crate) fn client_capa(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv[2..].iter().any(|a| is(a, "redirect")) {
        ctx.client.capa_redirect = true;
    }
    ctx.reply.ok();
    Ok(())
}

fn on_off(arg: &[u8]) -> Result<bool, crate::cmd::CmdError> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        Err(errors::SYNTAX.into())
    }
}

fn quit(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.ok();
    ctx.client.closing = true;
    Ok(())
}
