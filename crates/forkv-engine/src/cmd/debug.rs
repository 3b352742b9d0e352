//! DEBUG subcommands. Those that touch only the keyspace run here; LOG and RELOAD need the
//! host (logger, persistence) and are handed to it.

use super::{parse_f64, CmdResult, Ctx};
use crate::digest;
use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec};

const F: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[container("debug", -2, F, "server", "1.0.0", "A container for debugging commands.", DEBUG_SUBCOMMANDS)];

const DEBUG_SUBCOMMANDS: &[CommandSpec] = &[
    spec("debug|sleep", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Stop the server for <seconds>. Decimals allowed.", Exec::Core(sleep)),
    spec("debug|set-active-expire", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Setting it to 0 disables expiring keys in background when they are not accessed.", Exec::Core(set_active_expire)),
    spec("debug|object", 3, F, (2, 2, 1), "server", "1.0.0", "O(1)", "Show low level info about the key and associated value.", Exec::Core(object)),
    spec("debug|digest", 2, F, (0, 0, 0), "server", "1.0.0", "O(N)", "Output a hex signature representing the current DB content.", Exec::Core(digest_all)),
    spec("debug|digest-value", -2, F, (2, -1, 1), "server", "1.0.0", "O(N)", "Output a hex signature of the values of all the specified keys.", Exec::Core(digest_value)),
    spec("debug|log", 3, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Write <message> to the server log.", Exec::Host),
    spec("debug|reload", -2, F, (0, 0, 0), "server", "1.0.0", "O(N)", "Save the RDB on disk and reload it back to memory.", Exec::Host),
    spec("debug|help", 2, F, (0, 0, 0), "server", "1.0.0", "O(1)", "Returns helpful text about the different subcommands.", Exec::Core(help)),
];

/// Valkey refuses DEBUG unless `enable-debug-command` allows it for this client.
fn allowed(ctx: &Ctx<'_>) -> CmdResult {
    if ctx.client.debug_allowed {
        Ok(())
    } else {
        Err("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.".into())
    }
}

fn sleep(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    allowed(ctx)?;
    let secs = parse_f64(argv[2]).filter(|s| *s >= 0.0).ok_or(super::CmdError::Borrowed(crate::errors::NOT_FLOAT))?;
    // Blocks the whole server on purpose, as in Valkey (used to test timeouts).
    std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
    ctx.reply.ok();
    Ok(())
}

fn set_active_expire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    allowed(ctx)?;
    ctx.ks.active_expire_enabled = argv[2] != b"0";
    ctx.reply.ok();
    Ok(())
}

fn object(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    allowed(ctx)?;
    let db = ctx.db();
    let Some(v) = ctx.ks.peek(db, argv[2]) else {
        return Err(crate::errors::NO_SUCH_KEY.into());
    };
    let text = format!("Value at:{:p} refcount:1 encoding:{}", v as *const _, v.encoding_name());
    ctx.reply.simple(&text);
    Ok(())
}

fn digest_all(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    allowed(ctx)?;
    let d = digest::dataset_digest(ctx.ks);
    ctx.reply.simple(&digest::hex(&d));
    Ok(())
}

fn digest_value(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    allowed(ctx)?;
    let db = ctx.db();
    ctx.reply.array(argv.len() - 2);
    for key in &argv[2..] {
        let d = match ctx.ks.peek(db, key) {
            Some(v) => digest::value_digest(v, ctx.ks.db(db).expire_of(key)),
            None => [0u8; 20],
        };
        ctx.reply.simple(&digest::hex(&d));
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    super::server::reply_help(
        ctx,
        "DEBUG",
        &[
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "OBJECT <key>",
            "    Show low level info about the key and associated value.",
            "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
            "    Save the RDB on disk and reload it back to memory.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not accessed.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    );
    Ok(())
}
