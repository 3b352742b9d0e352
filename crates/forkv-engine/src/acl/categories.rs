//! ACL categories: Valkey 8's category names (in ACL CAT's order) and, per command, the
//! categories and key specs Valkey gives it (generated data in `command_data`).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::command_data::COMMANDS;
use super::keyspec::CommandAclData;
use crate::table::{self, CommandSpec};

/// Every category, in the order ACL CAT lists them.
pub const CATEGORIES: &[&str] = &[
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
    "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
];

/// True for a known category name (without `@`), case-insensitively.
pub fn is_category(name: &str) -> bool {
    CATEGORIES.iter().any(|c| c.eq_ignore_ascii_case(name))
}

/// Valkey's ACL data for a command by full name (`get`, `config|get`).
pub fn command_data(name: &str) -> Option<&'static CommandAclData> {
    static INDEX: OnceLock<HashMap<&'static str, &'static CommandAclData>> = OnceLock::new();
    INDEX.get_or_init(|| COMMANDS.iter().map(|c| (c.name, c)).collect()).get(name).copied()
}

/// The categories of a command; a subcommand Valkey does not list separately (DEBUG's)
/// has its parent's.
pub fn categories_of(name: &str) -> &'static [&'static str] {
    if let Some(d) = command_data(name) {
        return d.categories;
    }
    match name.split_once('|') {
        Some((parent, _)) => command_data(parent).map_or(&[], |d| d.categories),
        None => &[],
    }
}

/// True when Valkey's command table gives `name` subcommands. forkv's DEBUG has
/// subcommands only to dispatch them: for Valkey, and so for ACL rules, DEBUG is one
/// command and `debug|object` is DEBUG with the first argument `object`.
pub fn has_acl_subcommands(name: &str) -> bool {
    static PARENTS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    PARENTS.get_or_init(|| COMMANDS.iter().filter_map(|c| c.name.split_once('|').map(|(p, _)| p)).collect()).contains(name)
}

/// The command name ACL rules and refusals use: a subcommand's full name, or for a
/// subcommand Valkey does not list (DEBUG's), its parent's.
pub fn acl_name(name: &str) -> &str {
    match name.split_once('|') {
        Some((parent, _)) if !has_acl_subcommands(parent) => parent,
        _ => name,
    }
}

/// Every command forkv implements, with its subcommands (each `parent|sub`): the set
/// `+@all` allows.
pub fn all_commands() -> &'static [&'static CommandSpec] {
    static ALL: OnceLock<Vec<&'static CommandSpec>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut v = Vec::new();
        for c in table::all() {
            v.push(c);
            v.extend(c.subcommands.iter());
        }
        v
    })
}

/// The commands (and subcommands) of a category, by full name.
pub fn commands_in(category: &str) -> impl Iterator<Item = &'static CommandSpec> + '_ {
    all_commands().iter().copied().filter(move |c| categories_of(c.name).iter().any(|k| k.eq_ignore_ascii_case(category)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_forkv_command_has_valkey_data() {
        for c in all_commands() {
            assert!(!categories_of(c.name).is_empty(), "{} has no Valkey 8 categories", c.name);
        }
        assert_eq!(categories_of("get"), &["read", "string", "fast"]);
        assert!(commands_in("string").any(|c| c.name == "set"));
        assert!(is_category("Hash") && !is_category("nosuch"));
    }
}
