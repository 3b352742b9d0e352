//! A selector: the commands, key patterns and channel patterns one set of permissions
//! allows (Valkey's `aclSelector`). Every user has a root selector and may have more
//! (`(...)` rules); a command passes when any of them allows it. This file holds the
//! selector rules (`+get`, `-@hash`, `~k*`, `%R~k*`, `&ch*`, ...), the check and the
//! canonical description ACL LIST prints.

use std::collections::{HashMap, HashSet};

use forkv_keyspace::glob::glob_match;

use super::categories::{acl_name, all_commands, commands_in, has_acl_subcommands, is_category};
use super::keyspec::{command_keys, R, W};
use crate::table::{self, CommandSpec};

/// One key pattern and the access it grants (`R`, `W` or both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub perm: u8,
}

/// Why a selector refuses a command; ordered as Valkey ranks them when several
/// selectors refuse (the highest wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    /// The command itself is not allowed.
    Command,
    /// The key at this argument index is not allowed.
    Key(usize),
    /// The channel at this argument index is not allowed.
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }

    /// The more relevant of two refusals (Valkey: higher kind, then later argument).
    pub fn most_relevant(self, other: Denied) -> Denied {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// Commands, keys and channels allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// `+@all` was the last all-commands rule (also covers commands added later).
    all_commands: bool,
    /// Full names (`get`, `config|get`) of the allowed commands.
    allowed: HashSet<&'static str>,
    /// Allowed first arguments of otherwise denied commands (`+select|0`).
    first_args: HashMap<&'static str, Vec<Vec<u8>>>,
    /// The command rules since the last `+@all`/`-@all`, compacted as Valkey keeps them.
    rules: Vec<String>,
    keys: Vec<KeyPattern>,
    all_keys: bool,
    channels: Vec<Vec<u8>>,
    all_channels: bool,
}

const SYNTAX: &str = "Syntax error";
const UNKNOWN: &str = "Unknown command or category name in ACL";

impl Selector {
    /// A selector that allows nothing.
    pub fn new() -> Self {
        Selector::default()
    }

    /// Applies one rule; the error is the reason ACL SETUSER quotes.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(op);
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            // "~*" and "&*" are the flags themselves in Valkey (so repeating them is fine).
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys = vec![KeyPattern { pattern: b"*".to_vec(), perm: R | W }];
                return Ok(());
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
                return Ok(());
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels = vec![b"*".to_vec()];
                return Ok(());
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
                return Ok(());
            }
            "allcommands" | "+@all" => {
                self.all_commands = true;
                self.allowed = all_commands().iter().map(|c| c.name).collect();
                self.first_args.clear();
                self.rules.clear();
                return Ok(());
            }
            "nocommands" | "-@all" => {
                self.all_commands = false;
                self.allowed.clear();
                self.first_args.clear();
                self.rules.clear();
                return Ok(());
            }
            _ => {}
        }
        match op.first() {
            Some(b'~') | Some(b'%') => self.add_key_pattern(op),
            Some(b'&') => self.add_channel(&op[1..]),
            Some(b'+') | Some(b'-') => {
                let allow = op[0] == b'+';
                if let Some(cat) = lower[1..].strip_prefix('@') {
                    self.apply_category(cat, allow)
                } else {
                    self.apply_command(&lower[1..], allow)
                }
            }
            _ => Err(SYNTAX.into()),
        }
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), String> {
        let (perm, pattern) = if op[0] == b'%' {
            let mut perm = 0;
            let mut i = 1;
            while i < op.len() && op[i] != b'~' {
                perm |= match op[i].to_ascii_uppercase() {
                    b'R' => R,
                    b'W' => W,
                    _ => return Err(SYNTAX.into()),
                };
                i += 1;
            }
            if perm == 0 || i >= op.len() {
                return Err(SYNTAX.into());
            }
            (perm, &op[i + 1..])
        } else {
            (R | W, &op[1..])
        };
        if self.all_keys {
            return Err("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns".into());
        }
        if pattern == b"*" && perm == R | W {
            self.all_keys = true;
            self.keys = vec![KeyPattern { pattern: b"*".to_vec(), perm }];
        } else if let Some(existing) = self.keys.iter_mut().find(|k| k.pattern == pattern) {
            existing.perm |= perm;
        } else {
            self.keys.push(KeyPattern { pattern: pattern.to_vec(), perm });
        }
        Ok(())
    }

    fn add_channel(&mut self, pattern: &[u8]) -> Result<(), String> {
        if self.all_channels {
            return Err("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels".into());
        }
        if pattern == b"*" {
            self.all_channels = true;
            self.channels = vec![b"*".to_vec()];
        } else if !self.channels.iter().any(|c| c == pattern) {
            self.channels.push(pattern.to_vec());
        }
        Ok(())
    }

    fn apply_category(&mut self, cat: &str, allow: bool) -> Result<(), String> {
        if !is_category(cat) {
            return Err(UNKNOWN.into());
        }
        for c in commands_in(cat) {
            self.set_command(c, allow);
        }
        self.update_rules(&format!("@{cat}"), allow);
        Ok(())
    }

    fn apply_command(&mut self, name: &str, allow: bool) -> Result<(), String> {
        if let Some(c) = table::lookup_original(name.as_bytes()) {
            self.set_command(c, allow);
            for s in c.subcommands {
                self.set_command(s, allow);
            }
            self.update_rules(c.name, allow);
            return Ok(());
        }
        // Valkey splits at the last '|' (ACLSetSelector): "config|get|x" asks for a first
        // argument of the subcommand "config|get", which is refused as such; any other
        // name with two '|' names nothing.
        if let Some((left, _)) = name.rsplit_once('|').filter(|(left, _)| left.contains('|')) {
            let is_sub = left
                .split_once('|')
                .and_then(|(p, s)| table::lookup_original(p.as_bytes()).and_then(|c| c.subcommand(s.as_bytes())))
                .is_some();
            return Err(if allow && is_sub { "Allowing first-arg of a subcommand is not supported".into() } else { UNKNOWN.into() });
        }
        let Some((parent, sub)) = name.split_once('|') else {
            return Err(UNKNOWN.into());
        };
        let Some(p) = table::lookup_original(parent.as_bytes()) else {
            return Err(UNKNOWN.into());
        };
        if !p.subcommands.is_empty() && has_acl_subcommands(p.name) {
            let s = p.subcommand(sub.as_bytes()).ok_or_else(|| UNKNOWN.to_string())?;
            self.set_command(s, allow);
            self.update_rules(s.name, allow);
            return Ok(());
        }
        // A first argument of a command without subcommands (deprecated in Valkey,
        // still accepted): only allowing is meaningful ("-select|0" names no command).
        if sub.is_empty() {
            return Err(SYNTAX.into());
        }
        if !allow {
            return Err(UNKNOWN.into());
        }
        if !self.allowed.contains(p.name) {
            let args = self.first_args.entry(p.name).or_default();
            if !args.iter().any(|a| a == sub.as_bytes()) {
                args.push(sub.as_bytes().to_vec());
            }
        }
        self.update_rules(&format!("{}|{sub}", p.name), allow);
        Ok(())
    }

    fn set_command(&mut self, c: &'static CommandSpec, allow: bool) {
        self.first_args.remove(c.name);
        if allow {
            self.allowed.insert(c.name);
        } else {
            self.allowed.remove(c.name);
        }
    }

    /// Valkey's ACLUpdateCommandRules: a rule replaces earlier rules for the same
    /// command or category (and a command's rule those of its subcommands).
    fn update_rules(&mut self, rule: &str, allow: bool) {
        let sub_prefix = format!("{rule}|");
        self.rules.retain(|r| {
            let body = &r[1..];
            body != rule && !(!rule.starts_with('@') && !rule.contains('|') && body.starts_with(&sub_prefix))
        });
        self.rules.push(format!("{}{rule}", if allow { '+' } else { '-' }));
    }

    /// The key patterns as ACL GETUSER lists them (`~a %R~b`).
    pub fn describe_keys(&self) -> String {
        let mut parts = Vec::new();
        for k in &self.keys {
            let prefix = match k.perm {
                p if p == R | W => "~".to_string(),
                p if p == R => "%R~".to_string(),
                _ => "%W~".to_string(),
            };
            parts.push(format!("{prefix}{}", String::from_utf8_lossy(&k.pattern)));
        }
        parts.join(" ")
    }

    /// The channel patterns as ACL GETUSER lists them (`&a &b`).
    pub fn describe_channels(&self) -> String {
        self.channels.iter().map(|c| format!("&{}", String::from_utf8_lossy(c))).collect::<Vec<_>>().join(" ")
    }

    /// The command rules as ACL GETUSER lists them (`-@all +get`).
    pub fn describe_commands(&self) -> String {
        let mut s = String::from(if self.all_commands { "+@all" } else { "-@all" });
        for r in &self.rules {
            s.push(' ');
            s.push_str(r);
        }
        s
    }

    /// The whole selector as ACL LIST prints it: keys, channels, commands.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            let ch = self.describe_channels();
            if !ch.is_empty() {
                parts.push(ch);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    /// Checks a command call against this selector (Valkey's ACLSelectorCheckCmd):
    /// the command, then its keys, then its channels.
    pub fn check(&self, spec: &CommandSpec, argv: &[&[u8]]) -> Result<(), Denied> {
        if !self.allowed.contains(spec.name) {
            // First-argument rules are kept under the name Valkey knows (`debug` for
            // forkv's `debug|object`).
            let first_ok = argv.get(1).is_some_and(|a| {
                self.first_args.get(acl_name(spec.name)).is_some_and(|v| v.iter().any(|x| x.eq_ignore_ascii_case(a)))
            });
            if !first_ok {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys {
            // The shard channel of these is a NOT_KEY key spec (for cluster slots): the
            // channel check below covers it.
            let not_keys = matches!(spec.name, "spublish" | "ssubscribe" | "sunsubscribe");
            for (idx, need) in command_keys(spec.name, argv).into_iter().filter(|_| !not_keys) {
                if !self.key_allowed(argv[idx], need) {
                    return Err(Denied::Key(idx));
                }
            }
        }
        if !self.all_channels {
            for (idx, literal) in channels_of(spec, argv) {
                if !self.channel_allowed(argv[idx], literal) {
                    return Err(Denied::Channel(idx));
                }
            }
        }
        Ok(())
    }

    /// True when this selector may read any key: `allkeys`, or the pattern `*` with
    /// read permission.
    pub fn reads_all_keys(&self) -> bool {
        self.all_keys || self.keys.iter().any(|k| k.pattern == b"*" && k.perm & R != 0)
    }

    /// True when a pattern grants `need` on `key`.
    pub fn key_allowed(&self, key: &[u8], need: u8) -> bool {
        self.all_keys || self.keys.iter().any(|k| k.perm & need == need && glob_match(&k.pattern, key, false))
    }

    /// True when `channel` is allowed; a pattern subscription (`literal`) must be
    /// listed as is.
    pub fn channel_allowed(&self, channel: &[u8], literal: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| if literal { p == channel } else { glob_match(p, channel, false) })
    }
}

/// The channels a command names: (argument index, is a pattern). Unsubscribing is
/// never refused.
pub fn channels_of(spec: &CommandSpec, argv: &[&[u8]]) -> Vec<(usize, bool)> {
    match spec.name {
        "publish" | "spublish" => if argv.len() > 1 { vec![(1, false)] } else { vec![] },
        "subscribe" | "ssubscribe" => (1..argv.len()).map(|i| (i, false)).collect(),
        "psubscribe" => (1..argv.len()).map(|i| (i, true)).collect(),
        _ => Vec::new(),
    }
}
