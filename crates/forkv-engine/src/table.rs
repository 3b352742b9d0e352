//! The command table: the one source of truth for every command forkv knows — its name,
//! arity, flags, key positions, documentation and who executes it (the Rust core or the
//! TypeScript host). COMMAND, COMMAND INFO/DOCS/COUNT/LIST and the README's command list
//! are all generated from it.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::cmd::Handler;

/// A command run with the whole engine; gets the client id and argv.
pub type EngineHandler = fn(&mut crate::Engine, u64, &[&[u8]]) -> crate::Outcome;

/// Command flags, named as COMMAND INFO prints them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MULTI: u32 = 1 << 14;
    pub const ALLOW_BUSY: u32 = 1 << 15;
    pub const MOVABLE_KEYS: u32 = 1 << 16;
    pub const ASKING: u32 = 1 << 17;
    /// Keys are optional (Valkey's CMD_NO_MANDATORY_KEYS: EVAL, FCALL and their forms).
    pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
    /// Refused while the server loads asynchronously (Valkey's CMD_NO_ASYNC_LOADING).
    pub const NO_ASYNC_LOADING: u32 = 1 << 19;

    /// (bit, name) pairs in Valkey's order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
        (MOVABLE_KEYS, "movablekeys"),
    ];
}

/// Who runs a command.
#[derive(Clone, Copy)]
pub enum Exec {
    /// A Rust handler over the keyspace.
    Core(Handler),
    /// A Rust handler over the whole engine: transactions (EXEC runs other commands,
    /// WATCH keeps a server-wide index), which a per-client `Ctx` cannot express.
    Engine(EngineHandler),
    /// The TypeScript host (it owns sockets, config, persistence jobs, other clients).
    Host,
    /// The server crate (`forkv-server`): commands over state beside the engine, such as
    /// the pub/sub registry. The engine hands their argv up as it does for `Host`
    /// (`Outcome::Host`), and the server runs them without leaving Rust.
    Server,
    /// A container whose subcommands say who runs them.
    Container,
}

/// One command (or subcommand, named `parent|sub`).
pub struct CommandSpec {
    /// Lowercase name; subcommands are `parent|sub`.
    pub name: &'static str,
    /// Valkey arity: exact when positive, minimum when negative (counts the name).
    pub arity: i32,
    pub flags: u32,
    /// First key position, last (negative counts from the end), step; 0 = no keys.
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    /// COMMAND DOCS group: string, generic, server, connection, list, hash, set,
    /// sorted-set, transactions, pubsub.
    pub group: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    pub summary: &'static str,
    pub exec: Exec,
    pub subcommands: &'static [CommandSpec],
    /// The subcommands only dispatch (DEBUG's): COMMAND, COMMAND LIST/COUNT/DOCS and the
    /// command statistics show the command alone, as Valkey, whose DEBUG parses its
    /// arguments itself.
    pub unlisted_subcommands: bool,
}

impl CommandSpec {
    /// True when `argc` arguments (including the name) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let a = i64::from(self.arity);
        if a >= 0 {
            argc == a
        } else {
            argc >= -a
        }
    }

    /// True for commands that change data.
    pub fn is_write(&self) -> bool {
        self.flags & flags::WRITE != 0
    }

    /// The part of the name after `|` (the subcommand), or the whole name.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }

    /// Looks a subcommand up case-insensitively.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|s| s.short_name().as_bytes().eq_ignore_ascii_case(sub))
    }

    /// The subcommands COMMAND lists: none for a command whose subcommands only dispatch.
    pub fn listed_subcommands(&self) -> &'static [CommandSpec] {
        if self.unlisted_subcommands {
            &[]
        } else {
            self.subcommands
        }
    }

    /// ACL categories as COMMAND INFO lists them (Valkey 8's, from `acl::categories`).
    pub fn acl_categories(&self) -> Vec<String> {
        crate::acl::categories::categories_of(self.name).iter().map(|c| format!("@{c}")).collect()
    }
}

/// Builds a spec in one line (Dragonfly-style registration).
#[allow(clippy::too_many_arguments)]
pub const fn spec(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    complexity: &'static str,
    summary: &'static str,
    exec: Exec,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        key_step: keys.2,
        group,
        since,
        complexity,
        summary,
        exec,
        subcommands: &[],
        unlisted_subcommands: false,
    }
}

/// A container command with subcommands.
pub const fn container(
    name: &'static str,
    arity: i32,
    flags: u32,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    subcommands: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        group,
        since,
        complexity: "Depends on subcommand.",
        summary,
        exec: Exec::Container,
        subcommands,
        unlisted_subcommands: false,
    }
}

/// Every family's registrations (a slice, so adding a family is one line).
const FAMILIES: &[&[CommandSpec]] = &[
    crate::cmd::string::COMMANDS,
    crate::cmd::keys::COMMANDS,
    crate::cmd::server::COMMANDS,
    crate::cmd::connection::COMMANDS,
    crate::cmd::command::COMMANDS,
    crate::cmd::debug::COMMANDS,
    crate::cmd::host::COMMANDS,
    crate::cmd::replication::COMMANDS,
    crate::cmd::dump::COMMANDS,
    crate::cmd::migrate::COMMANDS,
    crate::cmd::cluster::COMMANDS,
    crate::cmd::lolwut::COMMANDS,
    crate::cmd::module::COMMANDS,
    crate::cmd::list::COMMANDS,
    crate::cmd::hash::COMMANDS,
    crate::cmd::set::COMMANDS,
    crate::cmd::zset::COMMANDS,
    crate::cmd::geo::COMMANDS,
    crate::cmd::sort::COMMANDS,
    crate::cmd::memory::COMMANDS,
    crate::cmd::multi::COMMANDS,
    crate::cmd::pubsub::COMMANDS,
    crate::cmd::blocking::COMMANDS,
    crate::cmd::stream::COMMANDS,
    crate::cmd::bitops::COMMANDS,
    crate::cmd::bitfield::COMMANDS,
    crate::cmd::hll::COMMANDS,
    crate::cmd::lcs::COMMANDS,
    crate::cmd::acl::COMMANDS,
    crate::cmd::script::COMMANDS,
    crate::cmd::function::COMMANDS,
    crate::monitor::COMMANDS,
    crate::slowlog::COMMANDS,
    crate::latency::COMMANDS,
];

/// All top-level commands.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

type Index = HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::FixedState>;

/// The table under the names commands were registered with.
fn original_index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| all().map(|c| (c.name.as_bytes(), c)).collect())
}

/// The table after `rename-command` (Valkey's `server.commands`), set once per process
/// by [`apply_renames`]; unset means no renaming.
static RENAMED: OnceLock<Renamed> = OnceLock::new();

/// The dispatch names after renaming, and the directives that produced them.
struct Renamed {
    index: HashMap<Box<[u8]>, &'static CommandSpec, foldhash::fast::FixedState>,
    directives: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Finds a top-level command by the name callers use (clients, MULTI, scripts, the AOF
/// loader: Valkey's `lookupCommand`), case-insensitively: after `rename-command OLD NEW`,
/// OLD names nothing and NEW names the command.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    match RENAMED.get() {
        None => lookup_original(name),
        Some(r) => with_lowercase(name, |lower| r.index.get(lower).copied()),
    }
}

/// Runs `f` over `name` in ASCII lowercase, without allocating for names of up to 32 bytes.
fn with_lowercase<T>(name: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
    if name.len() > 32 {
        return f(&name.to_ascii_lowercase());
    }
    let mut buf = [0u8; 32];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    f(lower)
}

/// Finds a top-level command by its own name, whatever `rename-command` did (Valkey's
/// `server.orig_commands`: ACL rules and the server's internal references use it).
pub fn lookup_original(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > 32 {
        return None;
    }
    with_lowercase(name, |lower| original_index().get(lower).copied())
}

/// The top-level commands callers can reach after `rename-command` (a removed command is
/// not among them), each once.
pub fn dispatchable() -> impl Iterator<Item = &'static CommandSpec> {
    all().filter(|c| RENAMED.get().is_none_or(|r| r.index.values().any(|s| std::ptr::eq(*s, *c))))
}

/// Applies `rename-command OLD NEW` directives in order, as Valkey's config loader does:
/// OLD must name a command of the current table ("No such command in rename-command"),
/// an empty NEW removes it, and NEW must not name another command ("Target command name
/// already exists"). The error carries the index of the failing directive. The table is
/// process-wide and set once: applying a different list later in the same process is
/// refused (servers embedded in one process share it).
pub fn apply_renames(directives: &[(Vec<u8>, Vec<u8>)]) -> Result<(), (usize, &'static str)> {
    if let Some(r) = RENAMED.get() {
        return if r.directives == directives {
            Ok(())
        } else {
            Err((0, "rename-command differs from the one already applied in this process"))
        };
    }
    if directives.is_empty() {
        return Ok(());
    }
    if RENAMED.set(build_renames(directives)?).is_err() {
        // Another thread set it first: compare with that one.
        return apply_renames(directives);
    }
    Ok(())
}

/// Checks `rename-command` directives as [`apply_renames`] would, without applying them
/// (the configuration parser reports the first failing line).
pub fn check_renames(directives: &[(Vec<u8>, Vec<u8>)]) -> Result<(), (usize, &'static str)> {
    build_renames(directives).map(|_| ())
}

fn build_renames(directives: &[(Vec<u8>, Vec<u8>)]) -> Result<Renamed, (usize, &'static str)> {
    let mut index: HashMap<Box<[u8]>, &'static CommandSpec, foldhash::fast::FixedState> =
        original_index().iter().map(|(k, v)| (Box::<[u8]>::from(*k), *v)).collect();
    for (i, (old, new)) in directives.iter().enumerate() {
        let Some(spec) = index.remove(old.to_ascii_lowercase().as_slice()) else {
            return Err((i, "No such command in rename-command"));
        };
        if !new.is_empty() {
            let key: Box<[u8]> = new.to_ascii_lowercase().into();
            if index.contains_key(&key) {
                return Err((i, "Target command name already exists"));
            }
            index.insert(key, spec);
        }
    }
    Ok(Renamed { index, directives: directives.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_lowercase());
            for s in c.subcommands {
                assert!(s.name.starts_with(&format!("{}|", c.name)), "{}", s.name);
            }
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nope").is_none());
    }

    #[test]
    fn renames_follow_valkeys_order_and_errors() {
        let d = |pairs: &[(&str, &str)]| pairs.iter().map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec())).collect::<Vec<_>>();
        assert_eq!(check_renames(&d(&[("nosuch", "x")])).err(), Some((0, "No such command in rename-command")));
        assert_eq!(check_renames(&d(&[("get", "SET")])).err(), Some((0, "Target command name already exists")));
        // The old name is removed first: renaming to itself or to a removed name works.
        assert!(check_renames(&d(&[("get", "GET"), ("set", ""), ("get", "set")])).is_ok());
        assert_eq!(check_renames(&d(&[("flushall", ""), ("FLUSHALL", "x")])).err(), Some((1, "No such command in rename-command")));
        let r = build_renames(&d(&[("FlushAll", "wipe"), ("get", "")])).expect("valid");
        assert!(r.index.get(&b"wipe"[..]).is_some_and(|s| s.name == "flushall"));
        assert!(!r.index.contains_key(&b"flushall"[..]) && !r.index.contains_key(&b"get"[..]));
        assert_eq!(r.index.len(), all().count() - 1);
    }
}
