//! Server-wide data commands the core runs: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME.

use super::{is, CmdError, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[
    spec("dbsize", 1, READONLY | FAST, (0, 0, 0), "server", "1.0.0", "O(1)", "Returns the number of keys in the database.", Core(dbsize)),
    spec("flushdb", -1, WRITE, (0, 0, 0), "server", "1.0.0", "O(N) where N is the number of keys in the selected database", "Remove all keys from the current database.", Core(flushdb)),
    spec("flushall", -1, WRITE, (0, 0, 0), "server", "1.0.0", "O(N) where N is the total number of keys in all databases", "Removes all keys from all databases.", Core(flushall)),
    spec("swapdb", 3, WRITE | FAST, (0, 0, 0), "server", "4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases.", "Swaps two databases.", Core(swapdb)),
    spec("time", 1, LOADING | STALE | FAST, (0, 0, 0), "server", "2.6.0", "O(1)", "Returns the server time.", Core(time)),
];

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let n = ctx.ks.len(ctx.client.db);
    ctx.reply.int(n as i64);
    Ok(())
}

/// FLUSHDB/FLUSHALL's optional SYNC or ASYNC: true when the data is to be freed on the
/// background thread; without either, `lazyfree-lazy-user-flush` decides (Valkey's
/// getFlushCommandFlags).
fn flush_is_lazy(ctx: &Ctx<'_>, argv: &[&[u8]]) -> Result<bool, CmdError> {
    match argv {
        [_] => Ok(ctx.ks.lazyfree.user_flush),
        [_, m] if is(m, "ASYNC") => Ok(true),
        [_, m] if is(m, "SYNC") => Ok(false),
        _ => Err(errors::SYNTAX.into()),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_is_lazy(ctx, argv)?;
    let db = ctx.db();
    ctx.ks.flush_db(db, lazy);
    // Logged even when the database was already empty, as Valkey does.
    ctx.suppress_propagation();
    ctx.also_propagate(argv);
    ctx.reply.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lazy = flush_is_lazy(ctx, argv)?;
    ctx.ks.flush_all(lazy);
    ctx.suppress_propagation();
    ctx.also_propagate(argv);
    ctx.reply.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let a = super::parse_i64_with(argv[1], "ERR invalid first DB index")?;
    let b = super::parse_i64_with(argv[2], "ERR invalid second DB index")?;
    let n = ctx.ks.db_count() as i64;
    if !(0..n).contains(&a) || !(0..n).contains(&b) {
        return Err(errors::DB_RANGE.into());
    }
    ctx.ks.swap_db(a as usize, b as usize);
    ctx.ks.dirty += 1;
    ctx.reply.ok();
    Ok(())
}

/// TIME: the clock now, or inside a script the time the script started (Valkey's
/// cached time does not move while a script runs).
fn time(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let us = ctx.client.time_snapshot_us.unwrap_or_else(super::now_us).max(0);
    ctx.reply.array(2);
    ctx.reply.bulk((us / 1_000_000).to_string().as_bytes());
    ctx.reply.bulk((us % 1_000_000).to_string().as_bytes());
    Ok(())
}

