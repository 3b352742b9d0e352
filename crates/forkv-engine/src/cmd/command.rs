//! COMMAND and its subcommands, served from the command table (the single source of
//! truth): what redis-cli and client libraries use to learn arities, flags and keys.

use forkv_keyspace::glob::glob_match;

use super::{is, CmdResult, Ctx};
use crate::table::flags::*;
use crate::table::{self, spec, CommandSpec, Exec};

pub const COMMANDS: &[CommandSpec] = &[CommandSpec {
    subcommands: COMMAND_SUBCOMMANDS,
    ..spec("command", -1, LOADING | STALE, (0, 0, 0), "server", "2.8.13", "O(N) where N is the total number of commands", "Returns detailed information about all commands.", Exec::Core(command))
}];

const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    spec("command|count", 2, LOADING | STALE, (0, 0, 0), "server", "2.8.13", "O(1)", "Returns a count of commands.", Exec::Core(count)),
    spec("command|info", -2, LOADING | STALE, (0, 0, 0), "server", "2.8.13", "O(N) where N is the number of commands to look up", "Returns information about one, multiple or all commands.", Exec::Core(info)),
    spec("command|docs", -2, LOADING | STALE, (0, 0, 0), "server", "7.0.0", "O(N) where N is the number of commands to look up", "Returns documentary information about one, multiple or all commands.", Exec::Core(docs)),
    spec("command|list", -2, LOADING | STALE, (0, 0, 0), "server", "7.0.0", "O(N) where N is the total number of commands", "Returns a list of command names.", Exec::Core(list)),
    spec("command|getkeys", -3, LOADING | STALE, (0, 0, 0), "server", "2.8.13", "O(N) where N is the number of arguments to the command", "Extracts the key names from an arbitrary command.", Exec::Core(getkeys)),
    spec("command|help", 2, LOADING | STALE, (0, 0, 0), "server", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", Exec::Core(help)),
];

fn command(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let all: Vec<_> = table::all().collect();
    ctx.reply.array(all.len());
    for c in all {
        write_info(ctx, c);
    }
    Ok(())
}

fn count(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.int(table::all().count() as i64);
    Ok(())
}

/// Finds a command or `parent|sub` by name.
fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.splitn(2, |&b| b == b'|');
    let top = table::lookup(parts.next()?)?;
    match parts.next() {
        None => Some(top),
        Some(sub) => top.subcommand(sub),
    }
}

fn info(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 2 {
        return command(ctx, argv);
    }
    ctx.reply.array(argv.len() - 2);
    for name in &argv[2..] {
        match find(name) {
            Some(c) => write_info(ctx, c),
            None => ctx.reply.null_array(),
        }
    }
    Ok(())
}

fn flag_names(c: &CommandSpec) -> Vec<&'static str> {
    let mut f = c.flags;
    if c.first_key != 0 && c.key_step == 0 {
        f |= MOVABLE_KEYS;
    }
    NAMES.iter().filter(|(bit, _)| f & bit != 0).map(|(_, n)| *n).collect()
}

/// One COMMAND INFO entry (Valkey 7 layout: name, arity, flags, first, last, step,
/// ACL categories, tips, key specs, subcommands).
fn write_info(ctx: &mut Ctx<'_>, c: &CommandSpec) {
    ctx.reply.array(10);
    ctx.reply.bulk(c.name.as_bytes());
    ctx.reply.int(i64::from(c.arity));
    let flags = flag_names(c);
    ctx.reply.set(flags.len());
    for f in flags {
        ctx.reply.simple(f);
    }
    ctx.reply.int(i64::from(c.first_key));
    ctx.reply.int(i64::from(c.last_key));
    ctx.reply.int(i64::from(c.key_step));
    let cats = c.acl_categories();
    ctx.reply.set(cats.len());
    for cat in &cats {
        ctx.reply.simple(cat);
    }
    ctx.reply.set(0);
    write_key_specs(ctx, c);
    ctx.reply.array(c.subcommands.len());
    for s in c.subcommands {
        write_info(ctx, s);
    }
}

/// Key specs derived from (first, last, step): an index search and a range.
fn write_key_specs(ctx: &mut Ctx<'_>, c: &CommandSpec) {
    if c.first_key <= 0 {
        ctx.reply.array(0);
        return;
    }
    ctx.reply.array(1);
    ctx.reply.map(3);
    ctx.reply.bulk(b"flags");
    let access: &[&str] = if c.is_write() { &["RW", "UPDATE"] } else { &["RO", "ACCESS"] };
    ctx.reply.set(access.len());
    for a in access {
        ctx.reply.simple(a);
    }
    ctx.reply.bulk(b"begin_search");
    ctx.reply.map(2);
    ctx.reply.bulk(b"type");
    ctx.reply.bulk(b"index");
    ctx.reply.bulk(b"spec");
    ctx.reply.map(1);
    ctx.reply.bulk(b"index");
    ctx.reply.int(i64::from(c.first_key));
    ctx.reply.bulk(b"find_keys");
    ctx.reply.map(2);
    ctx.reply.bulk(b"type");
    ctx.reply.bulk(b"range");
    ctx.reply.bulk(b"spec");
    ctx.reply.map(3);
    ctx.reply.bulk(b"lastkey");
    let last = if c.last_key < 0 { c.last_key } else { c.last_key - c.first_key };
    ctx.reply.int(i64::from(last));
    ctx.reply.bulk(b"keystep");
    ctx.reply.int(i64::from(c.key_step));
    ctx.reply.bulk(b"limit");
    ctx.reply.int(0);
}

fn docs(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let list: Vec<&'static CommandSpec> = if argv.len() == 2 {
        table::all().collect()
    } else {
        argv[2..].iter().filter_map(|n| find(n)).collect()
    };
    ctx.reply.map(list.len());
    for c in list {
        ctx.reply.bulk(c.name.as_bytes());
        write_doc(ctx, c);
    }
    Ok(())
}

fn write_doc(ctx: &mut Ctx<'_>, c: &CommandSpec) {
    let has_subs = !c.subcommands.is_empty();
    ctx.reply.map(if has_subs { 5 } else { 4 });
    ctx.reply.bulk(b"summary");
    ctx.reply.bulk(c.summary.as_bytes());
    ctx.reply.bulk(b"since");
    ctx.reply.bulk(c.since.as_bytes());
    ctx.reply.bulk(b"group");
    ctx.reply.bulk(c.group.as_bytes());
    ctx.reply.bulk(b"complexity");
    ctx.reply.bulk(c.complexity.as_bytes());
    if has_subs {
        ctx.reply.bulk(b"subcommands");
        ctx.reply.map(c.subcommands.len());
        for s in c.subcommands {
            ctx.reply.bulk(s.name.as_bytes());
            write_doc(ctx, s);
        }
    }
}

fn list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut names: Vec<&'static str> = Vec::new();
    for c in table::all() {
        names.push(c.name);
        names.extend(c.subcommands.iter().map(|s| s.name));
    }
    match &argv[2..] {
        [] => {}
        [f, kind, value] if is(f, "FILTERBY") => {
            if is(kind, "PATTERN") {
                names.retain(|n| glob_match(value, n.as_bytes(), true));
            } else if is(kind, "ACLCAT") {
                let cat = format!("@{}", String::from_utf8_lossy(value).to_ascii_lowercase());
                names.retain(|n| find(n.as_bytes()).is_some_and(|c| c.acl_categories().contains(&cat)));
            } else if is(kind, "MODULE") {
                names.clear();
            } else {
                return Err(crate::errors::SYNTAX.into());
            }
        }
        _ => return Err(crate::errors::SYNTAX.into()),
    }
    ctx.reply.array(names.len());
    for n in names {
        ctx.reply.bulk(n.as_bytes());
    }
    Ok(())
}

fn getkeys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let args = &argv[2..];
    let Some(c) = table::lookup(args[0]) else {
        return Err("ERR Invalid command specified".into());
    };
    let c = if c.subcommands.is_empty() { c } else { args.get(1).and_then(|s| c.subcommand(s)).unwrap_or(c) };
    if !c.arity_ok(args.len()) {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    if c.first_key <= 0 && movable_keys(c.name, args).is_none() {
        return Err("ERR The command has no key arguments".into());
    }
    let keys = key_positions(c, args);
    ctx.reply.array(keys.len());
    for k in keys {
        ctx.reply.bulk(args[k]);
    }
    Ok(())
}

/// The positions of the keys in `argv` (the command's name at 0) for a command whose
/// arity was checked: COMMAND GETKEYS, and the keys a read served to a client that
/// tracks them (client-side caching).
pub(crate) fn key_positions(c: &CommandSpec, argv: &[&[u8]]) -> Vec<usize> {
    if let Some(keys) = movable_keys(c.name, argv) {
        return keys;
    }
    if c.first_key <= 0 {
        return Vec::new();
    }
    let first = c.first_key as usize;
    let last = if c.last_key < 0 { argv.len() as i64 + i64::from(c.last_key) } else { i64::from(c.last_key) };
    let step = c.key_step.max(1) as usize;
    (first..=last.max(0) as usize).step_by(step).filter(|&i| i < argv.len()).collect()
}

/// Key positions of the commands whose keys depend on their options (the STORE
/// destination of SORT and GEORADIUS*); `None` for the others.
fn movable_keys(name: &str, args: &[&[u8]]) -> Option<Vec<usize>> {
    match name {
        "sort" => Some(super::sort::keys_of(args)),
        "georadius" | "georadiusbymember" => Some(super::geo::keys_of(args)),
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => Some(numkeys_keys(args)),
        _ => None,
    }
}

/// The keys of EVAL and FCALL forms: `<script|function> <numkeys> key...`; none when
/// numkeys is not a count of the arguments there are.
fn numkeys_keys(args: &[&[u8]]) -> Vec<usize> {
    let n = args.get(2).and_then(|n| forkv_keyspace::value::parse_canonical_i64(n)).unwrap_or(0);
    match usize::try_from(n) {
        Ok(n) if n <= args.len().saturating_sub(3) => (3..3 + n).collect(),
        _ => Vec::new(),
    }
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.help(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
        ],
    );
    Ok(())
}
