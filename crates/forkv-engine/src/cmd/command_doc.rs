//! COMMAND DOCS' documentation beyond the command table's summary, since, group and
//! complexity: doc flags, deprecation, history and the argument tree, as Valkey 8.0.1
//! documents each command (generated data in `command_docs`).

use std::collections::HashMap;
use std::sync::OnceLock;

/// One argument of a command, as COMMAND DOCS describes it.
pub struct ArgDoc {
    pub name: &'static str,
    /// `key`, `string`, `integer`, `double`, `pattern`, `unix-time`, `pure-token`,
    /// `oneof` or `block`.
    pub kind: &'static str,
    pub display_text: Option<&'static str>,
    /// The key spec this key argument is found by; -1 for other arguments.
    pub key_spec_index: i32,
    pub token: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    /// `optional`, `multiple`, `multiple_token`.
    pub flags: &'static [&'static str],
    /// The members of a `oneof` or `block`.
    pub arguments: &'static [ArgDoc],
}

/// The documentation of one command (or `parent|sub` subcommand).
pub struct CommandDoc {
    pub name: &'static str,
    /// `deprecated`, `syscmd`.
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    /// (version, change) pairs.
    pub history: &'static [(&'static str, &'static str)],
    pub arguments: &'static [ArgDoc],
}

/// The documentation of a command by full name (`get`, `config|get`).
pub fn doc_of(name: &str) -> Option<&'static CommandDoc> {
    static INDEX: OnceLock<HashMap<&'static str, &'static CommandDoc>> = OnceLock::new();
    INDEX.get_or_init(|| super::command_docs::DOCS.iter().map(|d| (d.name, d)).collect()).get(name).copied()
}
