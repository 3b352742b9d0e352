//! MODULE LIST | LOAD | LOADEX | UNLOAD | HELP (Valkey `module.c`, `moduleCommand`).
//!
//! forkv runs no C modules: Valkey's module API is a C ABI over its own object and
//! client structures, which forkv does not have. So no module is ever loaded, LIST is
//! always empty, and LOAD/LOADEX/UNLOAD answer exactly as Valkey answers a path that is
//! not a loadable module or a name that is not loaded, after the same
//! `enable-module-command` check (LOAD, LOADEX and UNLOAD are protected commands). The
//! reason goes to the server log, as Valkey logs its `dlopen` failure there.

use super::{is, CmdResult, Ctx};
use crate::log::LogLevel;
use crate::table::flags::*;
use crate::table::{container, spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[container("module", -2, 0, "server", "4.0.0", "A container for module commands.", MODULE_SUBCOMMANDS)];

const MODULE_SUBCOMMANDS: &[CommandSpec] = &[
    spec("module|help", 2, LOADING | STALE, (0, 0, 0), "server", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", Core(help)),
    spec("module|list", 2, ADMIN | NOSCRIPT, (0, 0, 0), "server", "4.0.0", "O(N) where N is the number of loaded modules.", "Returns all loaded modules.", Core(list)),
    spec("module|load", -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, (0, 0, 0), "server", "4.0.0", "O(1)", "Loads a module.", Core(load)),
    spec("module|loadex", -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, (0, 0, 0), "server", "7.0.0", "O(1)", "Loads a module using extended parameters.", Core(load)),
    spec("module|unload", 3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, (0, 0, 0), "server", "4.0.0", "O(1)", "Unloads a module.", Core(unload)),
];

/// Valkey's reply when a module fails to load, whatever the reason.
const LOAD_FAILED: &str = "ERR Error loading the extension. Please check the server logs.";
/// Valkey's reply to UNLOAD of a name that is not loaded.
const NO_SUCH_MODULE: &str = "ERR Error unloading module: no such module with that name";
/// Valkey's refusal of a protected command under `enable-module-command no` (or `local`
/// from a remote connection).
const NOT_ALLOWED: &str = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.help(
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
    Ok(())
}

/// MODULE LIST: no module is ever loaded.
fn list(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.array(0);
    Ok(())
}

/// MODULE LOAD / LOADEX: refused as protected, else fails as Valkey fails on a file that
/// is not a module; LOADEX's syntax is checked first, as Valkey does (its failure is
/// logged and answered the same way).
fn load(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    allowed(ctx)?;
    let path = String::from_utf8_lossy(argv[2]).into_owned();
    let reason = if is(argv[1], "LOADEX") {
        loadex_syntax(&argv[3..]).map_or_else(|e| e, |()| cannot_load(&path))
    } else {
        cannot_load(&path)
    };
    ctx.logs.push(LogLevel::Warning, reason);
    Err(LOAD_FAILED.into())
}

/// MODULE UNLOAD: nothing is loaded, so no name matches.
fn unload(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    allowed(ctx)?;
    let name = String::from_utf8_lossy(argv[2]);
    ctx.logs.push(LogLevel::Warning, format!("Error unloading module {name}: no such module with that name"));
    Err(NO_SUCH_MODULE.into())
}

fn allowed(ctx: &Ctx<'_>) -> CmdResult {
    if ctx.client.module_allowed {
        Ok(())
    } else {
        Err(NOT_ALLOWED.into())
    }
}

fn cannot_load(path: &str) -> String {
    format!("Module {path} failed to load: forkv cannot load C modules")
}

/// LOADEX's arguments after the path: `CONFIG name value` pairs, then optionally `ARGS`
/// and anything after it. The error is Valkey's log line.
fn loadex_syntax(mut rest: &[&[u8]]) -> Result<(), String> {
    while let Some((first, tail)) = rest.split_first() {
        if is(first, "CONFIG") {
            if tail.len() < 2 {
                return Err("CONFIG specified without name value pair".into());
            }
            rest = &tail[2..];
        } else if is(first, "ARGS") {
            return Ok(());
        } else {
            return Err(format!("Syntax Error from arguments to loadex around {}.", String::from_utf8_lossy(first)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::loadex_syntax;

    #[test]
    fn loadex_syntax_as_valkey_logs_it() {
        assert!(loadex_syntax(&[]).is_ok());
        assert!(loadex_syntax(&[b"CONFIG", b"a", b"b", b"ARGS", b"x", b"y"]).is_ok());
        assert_eq!(loadex_syntax(&[b"CONFIG", b"a"]), Err("CONFIG specified without name value pair".to_string()));
        assert_eq!(loadex_syntax(&[b"foo"]), Err("Syntax Error from arguments to loadex around foo.".to_string()));
    }
}
