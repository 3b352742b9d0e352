//! COMMAND and its subcommands, served from the command table (the single source of
//! truth): what redis-cli and client libraries use to learn arities, flags and keys.

use forkv_keyspace::glob::glob_match;

use super::command_doc::{doc_of, ArgDoc};
use super::{is, CmdResult, Ctx};
use crate::acl::categories::command_data;
use crate::acl::keyspec::{self, Begin, Find, KeySpec};
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
    spec("command|getkeysandflags", -3, LOADING | STALE, (0, 0, 0), "server", "7.0.0", "O(N) where N is the number of arguments to the command", "Extracts the key names and access flags for an arbitrary command.", Exec::Core(getkeysandflags)),
    spec("command|help", 2, LOADING | STALE, (0, 0, 0), "server", "5.0.0", "O(1)", "Returns helpful text about the different subcommands.", Exec::Core(help)),
];

fn command(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let all: Vec<_> = table::dispatchable().collect();
    ctx.reply.array(all.len());
    for c in all {
        write_info(ctx, c);
    }
    Ok(())
}

fn count(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.int(table::dispatchable().count() as i64);
    Ok(())
}

/// Finds a command or `parent|sub` by name.
fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.splitn(2, |&b| b == b'|');
    let top = table::lookup(parts.next()?)?;
    match parts.next() {
        None => Some(top),
        Some(sub) => top.listed_subcommands().iter().find(|s| s.short_name().as_bytes().eq_ignore_ascii_case(sub)),
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

/// The flags COMMAND INFO shows: `may_replicate` is internal (Valkey hides it on purpose).
fn flag_names(c: &CommandSpec) -> Vec<&'static str> {
    let mut f = c.flags & !MAY_REPLICATE;
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
    let data = command_data(c.name);
    let tips = data.map_or(&[][..], |d| d.tips);
    ctx.reply.set(tips.len());
    for tip in tips {
        ctx.reply.bulk(tip.as_bytes());
    }
    let specs = data.map_or(&[][..], |d| d.keys);
    ctx.reply.set(specs.len());
    for spec in specs {
        write_key_spec(ctx, spec);
    }
    // Valkey answers an empty set for a command without subcommands, else an array.
    let subs = c.listed_subcommands();
    if subs.is_empty() {
        ctx.reply.set(0);
    } else {
        ctx.reply.array(subs.len());
        for s in subs {
            write_info(ctx, s);
        }
    }
}

/// One key spec as COMMAND INFO shows it: notes, flags, begin_search, find_keys.
fn write_key_spec(ctx: &mut Ctx<'_>, spec: &KeySpec) {
    let r = &mut ctx.reply;
    r.map(if spec.notes.is_empty() { 3 } else { 4 });
    if !spec.notes.is_empty() {
        r.bulk(b"notes");
        r.bulk(spec.notes.as_bytes());
    }
    r.bulk(b"flags");
    r.set(spec.flags.len());
    for f in spec.flags {
        r.simple(f);
    }
    r.bulk(b"begin_search");
    r.map(2);
    r.bulk(b"type");
    match spec.begin {
        Begin::Index(i) => {
            r.bulk(b"index");
            r.bulk(b"spec");
            r.map(1);
            r.bulk(b"index");
            r.int(i64::from(i));
        }
        Begin::Keyword(kw, startfrom) => {
            r.bulk(b"keyword");
            r.bulk(b"spec");
            r.map(2);
            r.bulk(b"keyword");
            r.bulk(kw.as_bytes());
            r.bulk(b"startfrom");
            r.int(i64::from(startfrom));
        }
        Begin::Unknown => {
            r.bulk(b"unknown");
            r.bulk(b"spec");
            r.map(0);
        }
    }
    r.bulk(b"find_keys");
    r.map(2);
    r.bulk(b"type");
    match spec.find {
        Find::Range { last, step, limit } => {
            r.bulk(b"range");
            r.bulk(b"spec");
            r.map(3);
            r.bulk(b"lastkey");
            r.int(i64::from(last));
            r.bulk(b"keystep");
            r.int(i64::from(step));
            r.bulk(b"limit");
            r.int(i64::from(limit));
        }
        Find::Keynum { index, first, step } => {
            r.bulk(b"keynum");
            r.bulk(b"spec");
            r.map(3);
            r.bulk(b"keynumidx");
            r.int(i64::from(index));
            r.bulk(b"firstkey");
            r.int(i64::from(first));
            r.bulk(b"keystep");
            r.int(i64::from(step));
        }
        Find::Unknown => {
            r.bulk(b"unknown");
            r.bulk(b"spec");
            r.map(0);
        }
    }
}

fn docs(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let list: Vec<&'static CommandSpec> = if argv.len() == 2 {
        table::dispatchable().collect()
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

/// One COMMAND DOCS entry: the table's summary, since, group and complexity, then the
/// documentation Valkey 8.0.1 gives the command (doc flags, deprecation, history,
/// arguments), then the subcommands.
fn write_doc(ctx: &mut Ctx<'_>, c: &CommandSpec) {
    let subs = c.listed_subcommands();
    let doc = doc_of(c.name);
    let doc_flags = doc.map_or(&[][..], |d| d.doc_flags);
    let deprecated_since = doc.and_then(|d| d.deprecated_since);
    let replaced_by = doc.and_then(|d| d.replaced_by);
    let history = doc.map_or(&[][..], |d| d.history);
    let arguments = doc.map_or(&[][..], |d| d.arguments);
    let fields = 3
        + usize::from(!c.complexity.is_empty())
        + usize::from(!doc_flags.is_empty())
        + usize::from(deprecated_since.is_some())
        + usize::from(replaced_by.is_some())
        + usize::from(!history.is_empty())
        + usize::from(!arguments.is_empty())
        + usize::from(!subs.is_empty());
    let r = &mut ctx.reply;
    r.map(fields);
    r.bulk(b"summary");
    r.bulk(c.summary.as_bytes());
    r.bulk(b"since");
    r.bulk(c.since.as_bytes());
    r.bulk(b"group");
    r.bulk(c.group.as_bytes());
    // A few commands (SYNC, PSYNC, MONITOR, LOLWUT, XREAD) document no complexity.
    if !c.complexity.is_empty() {
        r.bulk(b"complexity");
        r.bulk(c.complexity.as_bytes());
    }
    if !doc_flags.is_empty() {
        r.bulk(b"doc_flags");
        r.set(doc_flags.len());
        for f in doc_flags {
            r.simple(f);
        }
    }
    if let Some(v) = deprecated_since {
        r.bulk(b"deprecated_since");
        r.bulk(v.as_bytes());
    }
    if let Some(v) = replaced_by {
        r.bulk(b"replaced_by");
        r.bulk(v.as_bytes());
    }
    if !history.is_empty() {
        r.bulk(b"history");
        r.set(history.len());
        for (version, change) in history {
            r.array(2);
            r.bulk(version.as_bytes());
            r.bulk(change.as_bytes());
        }
    }
    if !arguments.is_empty() {
        r.bulk(b"arguments");
        write_args(ctx, arguments);
    }
    if !subs.is_empty() {
        ctx.reply.bulk(b"subcommands");
        ctx.reply.map(subs.len());
        for s in subs {
            ctx.reply.bulk(s.name.as_bytes());
            write_doc(ctx, s);
        }
    }
}

/// An argument list of COMMAND DOCS (nested for `oneof` and `block` arguments).
fn write_args(ctx: &mut Ctx<'_>, args: &[ArgDoc]) {
    ctx.reply.array(args.len());
    for a in args {
        let optional = [
            a.display_text.is_some(),
            a.key_spec_index >= 0,
            a.token.is_some(),
            a.summary.is_some(),
            a.since.is_some(),
            a.deprecated_since.is_some(),
            !a.flags.is_empty(),
            !a.arguments.is_empty(),
        ];
        let r = &mut ctx.reply;
        r.map(2 + optional.iter().filter(|x| **x).count());
        r.bulk(b"name");
        r.bulk(a.name.as_bytes());
        r.bulk(b"type");
        r.bulk(a.kind.as_bytes());
        if let Some(v) = a.display_text {
            r.bulk(b"display_text");
            r.bulk(v.as_bytes());
        }
        if a.key_spec_index >= 0 {
            r.bulk(b"key_spec_index");
            r.int(i64::from(a.key_spec_index));
        }
        for (field, value) in [("token", a.token), ("summary", a.summary), ("since", a.since), ("deprecated_since", a.deprecated_since)] {
            if let Some(v) = value {
                r.bulk(field.as_bytes());
                r.bulk(v.as_bytes());
            }
        }
        if !a.flags.is_empty() {
            r.bulk(b"flags");
            r.set(a.flags.len());
            for f in a.flags {
                r.simple(f);
            }
        }
        if !a.arguments.is_empty() {
            ctx.reply.bulk(b"arguments");
            write_args(ctx, a.arguments);
        }
    }
}

fn list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut names: Vec<&'static str> = Vec::new();
    for c in table::dispatchable() {
        names.push(c.name);
        names.extend(c.listed_subcommands().iter().map(|s| s.name));
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
    let keys = keys_for_getkeys(&argv[2..])?;
    ctx.reply.array(keys.len());
    for (at, _) in keys {
        ctx.reply.bulk(argv[2 + at]);
    }
    Ok(())
}

fn getkeysandflags(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let keys = keys_for_getkeys(&argv[2..])?;
    ctx.reply.array(keys.len());
    for (at, flags) in keys {
        ctx.reply.array(2);
        ctx.reply.bulk(argv[2 + at]);
        ctx.reply.set(flags.len());
        for f in flags {
            ctx.reply.simple(f);
        }
    }
    Ok(())
}

/// Key-spec flags the key finders of movable-key commands give (Valkey's *GetKeys).
const RO_ACCESS: &[&str] = &["RO", "access"];
const OW_UPDATE: &[&str] = &["OW", "update"];
const RW_ACCESS_UPDATE: &[&str] = &["RW", "access", "update"];
const RW_ACCESS_DELETE: &[&str] = &["RW", "access", "delete"];

/// COMMAND GETKEYS and GETKEYSANDFLAGS: the keys of `args` (a full command) with their
/// flags, with Valkey's errors in its order (unknown command, no keys, arity, keys that
/// cannot be found).
fn keys_for_getkeys(args: &[&[u8]]) -> Result<Vec<(usize, &'static [&'static str])>, super::CmdError> {
    let invalid = || super::CmdError::Borrowed("ERR Invalid command specified");
    let top = table::lookup(args[0]).ok_or_else(invalid)?;
    // As Valkey's lookupCommand: a container named alone is itself; an unknown
    // subcommand is an unknown command. DEBUG's subcommands only dispatch.
    let c = match (top.listed_subcommands().is_empty(), args.get(1)) {
        (false, Some(sub)) => top.subcommand(sub).ok_or_else(invalid)?,
        _ => top,
    };
    let specs = if top.unlisted_subcommands { &[][..] } else { command_data(c.name).map_or(&[][..], |d| d.keys) };
    if !specs.iter().any(|s| !s.flags.contains(&"not_key")) {
        return Err("ERR The command has no key arguments".into());
    }
    if !c.arity_ok(args.len()) {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    let found = match c.name {
        "set" => {
            let get = args.iter().skip(3).any(|a| is(a, "get"));
            Some(vec![(1, if get { RW_ACCESS_UPDATE } else { OW_UPDATE })])
        }
        "bitfield" => Some(vec![(1, if keyspec::bitfield_read_only(args) { RO_ACCESS } else { RW_ACCESS_UPDATE })]),
        "migrate" => Some(keyspec::migrate_keys(args).into_iter().map(|(at, _)| (at, RW_ACCESS_DELETE)).collect()),
        "sort" | "georadius" | "georadiusbymember" => {
            let keys = movable_keys(c.name, args).unwrap_or_default();
            Some(keys.into_iter().enumerate().map(|(i, at)| (at, if i == 0 { RO_ACCESS } else { OW_UPDATE })).collect())
        }
        _ => keyspec::keys_with_specs(specs, args).map(|keys| keys.into_iter().map(|(at, s)| (at, s.flags)).collect()),
    };
    match found {
        Some(keys) if !keys.is_empty() => Ok(keys),
        _ if c.flags & NO_MANDATORY_KEYS != 0 => Ok(Vec::new()),
        _ => Err("ERR Invalid arguments specified for command".into()),
    }
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
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full command.",
        ],
    );
    Ok(())
}
