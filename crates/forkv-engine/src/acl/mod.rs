//! Access control lists (Valkey's `acl.c`): users with passwords, command / key /
//! channel permissions and selectors; the check every command passes before it runs
//! (`Engine::precheck`, so MULTI obeys it too); authentication; ACL LOG; and the
//! aclfile text format. The ACL command family is in `cmd::acl`.
//!
//! - `user`: a user and its rules (ACL SETUSER's modifiers) and canonical description.
//! - `selector`: the command/key/channel part of a user, and the check.
//! - `categories` + `command_data`: Valkey 8's categories and key specs per command.
//! - `keyspec`: which arguments are keys, and whether they are read or written.
//! - `log`: ACL LOG entries.
//! - `sha256`: password hashes.

pub mod categories;
pub mod command_data;
pub mod keyspec;
pub mod log;
pub mod selector;
pub mod sha256;
pub mod user;

use std::collections::BTreeMap;

use crate::table::CommandSpec;
use log::AclLog;
use selector::Denied;
use user::{merge_selector_args, User};

/// Valkey's reply to a failed AUTH.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Every user plus the ACL LOG.
pub struct Acl {
    users: BTreeMap<String, User>,
    pub log: AclLog,
    /// `acl-pubsub-default allchannels`: users and selectors created from now on (and
    /// `reset`) get every channel; existing users keep theirs.
    pub pubsub_default_all: bool,
    /// Bumped by every change to the users (SETUSER, DELUSER, LOAD): the server then
    /// closes connections whose user is gone or whose subscriptions it no longer allows.
    pub generation: u64,
}

impl Default for Acl {
    fn default() -> Self {
        Acl::new()
    }
}

/// A refused command: the NOPERM reply and the ACL LOG facts.
pub struct Refusal {
    pub reason: &'static str,
    /// The command name, key or channel.
    pub object: String,
    pub error: String,
}

impl Acl {
    /// Only the default user: `on nopass ~* &* +@all`.
    pub fn new() -> Self {
        let mut acl = Acl { users: BTreeMap::new(), log: AclLog::new(), pubsub_default_all: false, generation: 0 };
        acl.users.insert("default".into(), default_user());
        acl
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// User names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(|k| k.as_str())
    }

    /// Users, sorted by name.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// True when new connections must AUTH first (the default user has a password or
    /// is off: Valkey's authRequired).
    pub fn auth_required(&self) -> bool {
        self.users.get("default").is_none_or(|u| !u.nopass || !u.enabled)
    }

    /// `requirepass`: the default user's only password, or `nopass` when empty.
    pub fn set_requirepass(&mut self, pass: &[u8]) {
        let u = self.users.entry("default".into()).or_insert_with(default_user);
        let _ = u.apply(b"resetpass");
        if pass.is_empty() {
            let _ = u.apply(b"nopass");
        } else {
            let mut op = b">".to_vec();
            op.extend_from_slice(pass);
            let _ = u.apply(&op);
        }
    }

    /// AUTH / HELLO AUTH: the user exists, is on and the password matches. This is the
    /// one place passwords are verified.
    pub fn authenticate(&self, username: &[u8], pass: &[u8]) -> bool {
        let name = String::from_utf8_lossy(username);
        self.users.get(name.as_ref()).is_some_and(|u| u.enabled && u.password_ok(pass))
    }

    /// ACL SETUSER: applies every rule to a copy of the user (created when missing) and
    /// keeps it only when all of them are valid. Errors are Valkey's full replies.
    pub fn setuser(&mut self, name: &[u8], rules: &[&[u8]]) -> Result<(), String> {
        if name.iter().any(|b| *b == b' ' || *b == 0) {
            return Err("ERR Usernames can't contain spaces or null characters".into());
        }
        let key = String::from_utf8_lossy(name).into_owned();
        let user = build_user(self.users.get(&key), name, rules, self.pubsub_default_all).map_err(|(op, reason)| match op {
            Some(op) => format!("ERR Error in ACL SETUSER modifier '{}': {reason}", String::from_utf8_lossy(&op)),
            None => format!("ERR {reason}"),
        })?;
        self.users.insert(key, user);
        self.generation += 1;
        Ok(())
    }

    /// ACL DELUSER of one user; false when it does not exist. The default user cannot
    /// be removed (the caller reports it).
    pub fn deluser(&mut self, name: &[u8]) -> bool {
        let removed = self.users.remove(String::from_utf8_lossy(name).as_ref()).is_some();
        self.generation += u64::from(removed);
        removed
    }

    /// Whether a connection authenticated as `user` may keep a subscription to `channel`
    /// (`pattern`: a PSUBSCRIBE pattern); false when the user no longer exists.
    pub fn may_keep_subscription(&self, user: &str, channel: &[u8], pattern: bool) -> bool {
        self.users.get(user).is_some_and(|u| u.channel_allowed(channel, pattern))
    }

    /// Checks a call for a user (`None`: an internal client with every permission).
    /// Commands that run before authentication (AUTH, HELLO...) are never refused.
    pub fn check(&self, user: Option<&str>, spec: &CommandSpec, argv: &[&[u8]]) -> Result<(), Refusal> {
        let Some(name) = user else { return Ok(()) };
        if spec.flags & crate::table::flags::NO_AUTH != 0 {
            return Ok(());
        }
        let Some(u) = self.users.get(name) else {
            return Err(refusal(name, spec, argv, Denied::Command));
        };
        u.check(spec, argv).map_err(|d| refusal(name, spec, argv, d))
    }

    /// Whether `user` (`None`: an internal client) may read any key in this call (see
    /// [`User::reads_any_key`]).
    pub fn reads_any_key(&self, user: Option<&str>, spec: &CommandSpec, argv: &[&[u8]]) -> bool {
        let Some(name) = user else { return true };
        self.users.get(name).is_some_and(|u| u.reads_any_key(spec, argv))
    }

    /// The aclfile text: one `user <name> <rules>` line per user, sorted.
    pub fn to_file_text(&self) -> String {
        let mut s = String::new();
        for u in self.users.values() {
            s.push_str(&format!("user {} {}\n", u.name, u.describe()));
        }
        s
    }

    /// Replaces every user with those of an aclfile text (`path` names it in errors);
    /// on any error nothing changes and the error is Valkey's ACL LOAD text. A file
    /// without the default user keeps a fresh default user.
    pub fn load_file_text(&mut self, path: &str, text: &str) -> Result<(), String> {
        const TAIL: &str = "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";
        let mut fresh = Acl { users: BTreeMap::new(), log: AclLog::new(), pubsub_default_all: self.pubsub_default_all, generation: 0 };
        fresh.users.insert("default".into(), default_user());
        let mut seen = std::collections::HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let lineno = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if words[0] != "user" || words.len() < 2 {
                return Err(format!("{path}:{lineno} should start with user keyword followed by the username. {TAIL}"));
            }
            let name = words[1];
            if !seen.insert(name.to_string()) {
                return Err(format!("WARNING: Duplicate user '{name}' found on line {lineno}. {TAIL}"));
            }
            let mut rules: Vec<&[u8]> = vec![b"reset"];
            rules.extend(words[2..].iter().map(|w| w.as_bytes()));
            let user = build_user(fresh.users.get(name).filter(|_| name != "default"), name.as_bytes(), &rules, self.pubsub_default_all)
                .map_err(|(_, reason)| format!("{path}:{lineno}: {reason}. {TAIL}"))?;
            fresh.users.insert(name.to_string(), user);
        }
        self.users = fresh.users;
        self.generation += 1;
        Ok(())
    }

    /// Applies a `user` directive of the config file (same syntax as an aclfile line
    /// without the `user` keyword).
    pub fn config_user(&mut self, words: &[&[u8]]) -> Result<(), String> {
        let Some((name, rules)) = words.split_first() else {
            return Err("ERR wrong number of arguments".into());
        };
        let mut all: Vec<&[u8]> = vec![b"reset"];
        all.extend_from_slice(rules);
        self.setuser(name, &all)
    }
}

/// Applies rules to a copy of `existing` (or a new user); the error names the rule
/// that failed (none for unbalanced selector parentheses) and the reason.
fn build_user(
    existing: Option<&User>,
    name: &[u8],
    rules: &[&[u8]],
    pubsub_default_all: bool,
) -> Result<User, (Option<Vec<u8>>, String)> {
    let rules = merge_selector_args(rules).map_err(|e| (None, e))?;
    let mut user = match existing {
        Some(u) => u.clone(),
        None => {
            let mut u = User::new(&String::from_utf8_lossy(name));
            if pubsub_default_all {
                let _ = u.apply(b"allchannels");
            }
            u
        }
    };
    user.pubsub_default_all = pubsub_default_all;
    for r in rules {
        if let Err(e) = user.apply(&r) {
            return Err((Some(r), e));
        }
    }
    Ok(user)
}

fn default_user() -> User {
    let mut u = User::new("default");
    for r in ["on", "nopass", "allkeys", "allchannels", "+@all"] {
        let _ = u.apply(r.as_bytes());
    }
    u
}

fn refusal(user: &str, spec: &CommandSpec, argv: &[&[u8]], d: Denied) -> Refusal {
    let arg = |i: usize| String::from_utf8_lossy(argv.get(i).copied().unwrap_or_default()).into_owned();
    match d {
        Denied::Command => {
            let name = categories::acl_name(spec.name);
            Refusal {
                reason: "command",
                object: name.to_string(),
                error: format!("NOPERM User {user} has no permissions to run the '{name}' command"),
            }
        }
        Denied::Key(i) => Refusal { reason: "key", object: arg(i), error: "NOPERM No permissions to access a key".into() },
        Denied::Channel(i) => {
            Refusal { reason: "channel", object: arg(i), error: "NOPERM No permissions to access a channel".into() }
        }
    }
}

/// ACL DRYRUN's text for a refusal (no NOPERM prefix; names the key or channel).
pub fn dryrun_message(user: &str, r: &Refusal) -> String {
    match r.reason {
        "command" => format!("User {user} has no permissions to run the '{}' command", r.object),
        "key" => format!("User {user} has no permissions to access the '{}' key", r.object),
        _ => format!("User {user} has no permissions to access the '{}' channel", r.object),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_user_and_requirepass() {
        let mut acl = Acl::new();
        assert_eq!(acl.to_file_text(), "user default on nopass sanitize-payload ~* &* +@all\n");
        assert!(!acl.auth_required());
        acl.set_requirepass(b"secret");
        assert!(acl.auth_required());
        assert!(acl.authenticate(b"default", b"secret"));
        assert!(!acl.authenticate(b"default", b"nope"));
        acl.set_requirepass(b"");
        assert!(!acl.auth_required());
    }

    #[test]
    fn aclfile_round_trip() {
        let mut acl = Acl::new();
        acl.setuser(b"alice", &[b"on", b">pw", b"~k*", b"+get", b"(+set ~w)"]).expect("valid");
        let text = acl.to_file_text();
        let mut other = Acl::new();
        other.load_file_text("/f.acl", &text).expect("loads");
        assert_eq!(other.to_file_text(), text);
        assert!(other.authenticate(b"alice", b"pw"));
        const TAIL: &str = "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";
        assert_eq!(other.load_file_text("/f.acl", "user a on\nuser a off\n").expect_err("must fail"), format!("WARNING: Duplicate user 'a' found on line 2. {TAIL}"));
        assert_eq!(other.load_file_text("/f.acl", "user a on\nuser b nosuch\n").expect_err("must fail"), format!("/f.acl:2: Syntax error. {TAIL}"));
        assert_eq!(other.load_file_text("/f.acl", "garbage\n").expect_err("must fail"), format!("/f.acl:1 should start with user keyword followed by the username. {TAIL}"));
        assert!(other.user("alice").is_some(), "a failed load changes nothing");
    }

    #[test]
    fn setuser_is_atomic() {
        let mut acl = Acl::new();
        let e = acl.setuser(b"bob", &[b"on", b"+nosuch"]).expect_err("must fail");
        assert_eq!(e, "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL");
        assert!(acl.user("bob").is_none());
    }

    #[test]
    fn acl_pubsub_default_applies_to_new_users_selectors_and_reset() {
        let mut acl = Acl::new();
        acl.setuser(b"before", &[b"on"]).expect("setuser");
        acl.pubsub_default_all = true;
        acl.setuser(b"after", &[b"on", b"(+get)"]).expect("setuser");
        let after = acl.user("after").expect("user");
        assert_eq!(after.root.describe_channels(), "&*");
        assert_eq!(after.selectors[0].describe_channels(), "&*");
        // Existing users keep theirs; a single channel on top of allchannels is refused.
        assert_eq!(acl.user("before").expect("user").root.describe_channels(), "");
        assert!(acl.setuser(b"one", &[b"&test"]).expect_err("must fail").contains("start with an empty list of channels"));
        acl.setuser(b"before", &[b"reset"]).expect("setuser");
        assert_eq!(acl.user("before").expect("user").root.describe_channels(), "&*");
        acl.pubsub_default_all = false;
        acl.setuser(b"after", &[b"reset"]).expect("setuser");
        assert_eq!(acl.user("after").expect("user").root.describe_channels(), "");
    }

    #[test]
    fn shard_channels_are_checked_as_channels_not_keys() {
        let mut acl = Acl::new();
        acl.setuser(b"u", &[b"on", b"+@all", b"resetkeys", b"&chan*"]).expect("setuser");
        let spublish = crate::table::lookup(b"spublish").expect("spublish");
        assert!(acl.check(Some("u"), spublish, &[b"spublish", b"chan1", b"m"]).is_ok());
        let Err(r) = acl.check(Some("u"), spublish, &[b"spublish", b"other", b"m"]) else { panic!("must be refused") };
        assert_eq!(r.error, "NOPERM No permissions to access a channel");
    }

    #[test]
    fn refusals_are_counted_for_info() {
        let mut acl = Acl::new();
        acl.log.add("auth", "toplevel", "AUTH".into(), "u".into(), String::new(), 1);
        acl.log.add("auth", "toplevel", "AUTH".into(), "u".into(), String::new(), 2);
        acl.log.add("key", "toplevel", "k".into(), "u".into(), String::new(), 3);
        let d = acl.log.denied;
        assert_eq!((d.auth, d.cmd, d.key, d.channel), (2, 0, 1, 0));
    }
}
