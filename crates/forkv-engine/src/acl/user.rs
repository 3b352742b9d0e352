//! Users: a name, on/off, passwords (stored as SHA-256 hex) or `nopass`, the payload
//! sanitization flag, a root selector and extra `(...)` selectors. Rules are applied
//! with [`User::apply`] (Valkey's ACLSetUser) and the user is printed back with
//! [`User::describe`] in ACL LIST's canonical order.

use super::selector::{Denied, Selector};
use super::sha256::sha256_hex;
use crate::table::CommandSpec;

/// One ACL user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// SHA-256 hex of each password, in the order they were added.
    pub passwords: Vec<String>,
    /// `skip-sanitize-payload` (default: `sanitize-payload`).
    pub skip_sanitize: bool,
    pub root: Selector,
    pub selectors: Vec<Selector>,
    /// `acl-pubsub-default allchannels` when the rules are applied: new selectors and
    /// `reset` then start with every channel (Valkey's ACLCreateSelector/`reset`).
    pub pubsub_default_all: bool,
}

impl User {
    /// A new user as ACL SETUSER creates it: off, no passwords, nothing allowed.
    pub fn new(name: &str) -> Self {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            skip_sanitize: false,
            root: Selector::new(),
            selectors: Vec::new(),
            pubsub_default_all: false,
        }
    }

    /// Applies one rule (already merged when it is a parenthesised selector).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), String> {
        let lower = String::from_utf8_lossy(op).to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "sanitize-payload" => self.skip_sanitize = false,
            "skip-sanitize-payload" => self.skip_sanitize = true,
            "clearselectors" => self.selectors.clear(),
            "reset" => {
                for r in ["resetpass", "resetkeys", "resetchannels", "off", "clearselectors", "-@all", "sanitize-payload"] {
                    self.apply(r.as_bytes())?;
                }
                if self.pubsub_default_all {
                    self.apply(b"allchannels")?;
                }
            }
            _ => match op.first() {
                Some(b'>') => {
                    let hash = sha256_hex(&op[1..]);
                    if !self.passwords.contains(&hash) {
                        self.passwords.push(hash);
                    }
                    self.nopass = false;
                }
                Some(b'#') => {
                    let hash = std::str::from_utf8(&op[1..]).unwrap_or("");
                    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                        return Err("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into());
                    }
                    if !self.passwords.iter().any(|p| p == hash) {
                        self.passwords.push(hash.to_string());
                    }
                    self.nopass = false;
                }
                Some(b'<') | Some(b'!') => {
                    let hash = if op[0] == b'<' { sha256_hex(&op[1..]) } else { String::from_utf8_lossy(&op[1..]).into_owned() };
                    if op[0] == b'!' && (hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))) {
                        return Err("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into());
                    }
                    let before = self.passwords.len();
                    self.passwords.retain(|p| *p != hash);
                    if self.passwords.len() == before {
                        return Err("The password you are trying to remove from the user does not exist".into());
                    }
                }
                Some(b'(') if op.last() == Some(&b')') => {
                    let mut sel = Selector::new();
                    if self.pubsub_default_all {
                        sel.apply(b"allchannels")?;
                    }
                    for rule in op[1..op.len() - 1].split(|b| *b == b' ').filter(|r| !r.is_empty()) {
                        sel.apply(rule)?;
                    }
                    self.selectors.push(sel);
                }
                _ => self.root.apply(op)?,
            },
        }
        Ok(())
    }

    /// Checks a password (constant time over the hashes).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let hash = sha256_hex(pass);
        let mut ok = false;
        for p in &self.passwords {
            ok |= constant_time_eq(p.as_bytes(), hash.as_bytes());
        }
        ok
    }

    /// Checks a command call: the root selector, then the others; when all refuse, the
    /// most relevant refusal.
    pub fn check(&self, spec: &CommandSpec, argv: &[&[u8]]) -> Result<(), Denied> {
        let mut worst = match self.root.check(spec, argv) {
            Ok(()) => return Ok(()),
            Err(d) => d,
        };
        for s in &self.selectors {
            match s.check(spec, argv) {
                Ok(()) => return Ok(()),
                Err(d) => worst = worst.most_relevant(d),
            }
        }
        Err(worst)
    }

    /// True when a selector that allows this call also reads every key (`allkeys`,
    /// `~*` or `%R~*`): Valkey's ACLUserCheckCmdWithUnrestrictedKeyAccess, which SORT's
    /// BY and GET options need since the keys they read are not known in advance.
    pub fn reads_any_key(&self, spec: &CommandSpec, argv: &[&[u8]]) -> bool {
        std::iter::once(&self.root).chain(&self.selectors).any(|s| s.reads_all_keys() && s.check(spec, argv).is_ok())
    }

    /// True when some selector lets this user subscribe to (or publish on) `channel`;
    /// a pattern subscription (`pattern`) must be granted literally (Valkey's
    /// ACLUserCheckChannelPerm).
    pub fn channel_allowed(&self, channel: &[u8], pattern: bool) -> bool {
        self.root.channel_allowed(channel, pattern) || self.selectors.iter().any(|s| s.channel_allowed(channel, pattern))
    }

    /// The flags as ACL GETUSER lists them.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        f.push(if self.skip_sanitize { "skip-sanitize-payload" } else { "sanitize-payload" });
        f
    }

    /// The rules that recreate this user, as ACL LIST prints them after `user <name>`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.flags().iter().map(|f| f.to_string()).collect();
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        parts.push(self.root.describe());
        parts.extend(self.selectors.iter().map(|s| format!("({})", s.describe())));
        parts.join(" ")
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Joins ACL SETUSER arguments that form one `(...)` selector (Valkey's
/// ACLMergeSelectorArguments).
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    for a in args {
        if let Some(cur) = &mut open {
            cur.push(b' ');
            cur.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.extend(open.take());
            }
        } else if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some(a.to_vec());
        } else {
            out.push(a.to_vec());
        }
    }
    if let Some(cur) = open {
        return Err(format!("Unmatched parenthesis in acl selector starting at '{}'.", String::from_utf8_lossy(&cur)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new("u");
        let args: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
        for r in merge_selector_args(&args).expect("balanced") {
            u.apply(&r).expect("valid rule");
        }
        u
    }

    #[test]
    fn describes_as_valkey() {
        let u = user(&["on", ">pw", "~foo*", "%R~r*", "&ch*", "+get", "+@hash", "-hset", "+client|id"]);
        assert_eq!(
            u.describe(),
            "on sanitize-payload #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~foo* %R~r* resetchannels &ch* -@all +get +@hash -hset +client|id"
        );
        assert_eq!(user(&["+@all", "-get", "+get", "-@string"]).describe(), "off sanitize-payload resetchannels +@all +get -@string");
        assert_eq!(user(&["+config|get", "-config"]).describe(), "off sanitize-payload resetchannels -@all -config");
        assert_eq!(user(&["+config", "+config|get"]).describe(), "off sanitize-payload resetchannels -@all +config +config|get");
        assert_eq!(user(&["+@string", "+@read", "+@string"]).describe(), "off sanitize-payload resetchannels -@all +@read +@string");
        assert_eq!(user(&["%R~a", "%W~a", "%R~b", "allchannels"]).describe(), "off sanitize-payload ~a %R~b &* -@all");
        assert_eq!(user(&["(+get", "~x)", "nopass"]).describe(), "off nopass sanitize-payload resetchannels -@all (~x resetchannels -@all +get)");
        assert_eq!(user(&[">a", ">b", "<a", ">a"]).passwords.len(), 2);
    }

    #[test]
    fn rule_errors() {
        let mut u = User::new("u");
        assert_eq!(u.apply(b"foo").expect_err("must fail"), "Syntax error");
        assert_eq!(u.apply(b"+nosuch").expect_err("must fail"), "Unknown command or category name in ACL");
        assert_eq!(u.apply(b"+@nosuch").expect_err("must fail"), "Unknown command or category name in ACL");
        assert_eq!(u.apply(b"+config|nosuch").expect_err("must fail"), "Unknown command or category name in ACL");
        // Valkey splits at the last '|': a first argument of a subcommand is refused as such.
        assert_eq!(u.apply(b"+config|get|appendonly").expect_err("must fail"), "Allowing first-arg of a subcommand is not supported");
        assert_eq!(u.apply(b"+get|key1|key2").expect_err("must fail"), "Unknown command or category name in ACL");
        assert_eq!(u.apply(b"-get|key1|key2").expect_err("must fail"), "Unknown command or category name in ACL");
        assert_eq!(u.apply(b"-select|0").expect_err("must fail"), "Unknown command or category name in ACL");
        assert_eq!(u.apply(b"+select|").expect_err("must fail"), "Syntax error");
        // "~*" and "&*" are the allkeys/allchannels flags: repeating them is no error.
        for r in ["~*", "~*", "&*", "&*"] {
            assert_eq!(u.apply(r.as_bytes()), Ok(()));
        }
        assert!(u.apply(b"#abc").expect_err("must fail").starts_with("The password hash must be exactly 64"));
        assert!(u.apply(b"<nope").expect_err("must fail").starts_with("The password you are trying to remove"));
        assert_eq!(u.apply(b"%X~a").expect_err("must fail"), "Syntax error");
        u.apply(b"allkeys").expect("allkeys");
        assert!(u.apply(b"%R~b").expect_err("must fail").starts_with("Adding a pattern after the * pattern (or the 'allkeys' flag)"));
        assert!(merge_selector_args(&[b"(+get"]).expect_err("must fail").starts_with("Unmatched parenthesis in acl selector starting at '(+get'."));
    }

    #[test]
    fn debug_subcommands_are_first_arguments_as_in_valkey() {
        // Valkey's DEBUG has no subcommands: `debug|x` is a first-argument rule, for
        // any x, and GETUSER shows it back.
        let u = user(&["-@all", "+select|0", "+debug|segfault", "+debug|digest"]);
        assert_eq!(u.describe(), "off sanitize-payload resetchannels -@all +select|0 +debug|segfault +debug|digest");
        assert_eq!(user(&["-@all", "+debug|segfault", "+debug"]).describe(), "off sanitize-payload resetchannels -@all +debug");
        assert_eq!(user(&["+@all", "-debug", "+debug|a"]).describe(), "off sanitize-payload resetchannels +@all -debug +debug|a");
        let debug = crate::table::lookup(b"debug").expect("debug");
        let digest = debug.subcommand(b"digest").expect("debug|digest");
        let object = debug.subcommand(b"object").expect("debug|object");
        assert_eq!(u.check(digest, &[b"DEBUG", b"DIGEST"]), Ok(()));
        assert_eq!(u.check(object, &[b"DEBUG", b"OBJECT", b"k"]), Err(Denied::Command));
        // An argument forkv does not implement is judged as DEBUG itself.
        assert_eq!(u.check(debug, &[b"DEBUG", b"SEGFAULT"]), Ok(()));
        assert_eq!(u.check(debug, &[b"DEBUG", b"RESTART"]), Err(Denied::Command));
    }

    #[test]
    fn reading_any_key_needs_a_read_star_pattern_in_an_allowing_selector() {
        let sort = crate::table::lookup(b"sort").expect("sort");
        let argv: &[&[u8]] = &[b"sort", b"mylist", b"by", b"v*"];
        assert!(!user(&["+sort", "~mylist"]).reads_any_key(sort, argv));
        assert!(!user(&["+sort", "~mylist", "~v*"]).reads_any_key(sort, argv));
        assert!(!user(&["+sort", "~mylist", "%W~*"]).reads_any_key(sort, argv));
        assert!(user(&["+sort", "~mylist", "%R~*"]).reads_any_key(sort, argv));
        assert!(user(&["+sort", "allkeys"]).reads_any_key(sort, argv));
        // The selector must allow the call itself.
        assert!(!user(&["+get", "allkeys"]).reads_any_key(sort, argv));
        assert!(user(&["(+sort ~mylist %R~*)"]).reads_any_key(sort, argv));
    }

    #[test]
    fn checks_commands_keys_channels() {
        let get = crate::table::lookup(b"get").expect("get");
        let set = crate::table::lookup(b"set").expect("set");
        let publish = crate::table::lookup(b"publish").expect("publish");
        let u = user(&["+get", "+set", "+publish", "%R~r*", "~w*", "&ch*"]);
        assert_eq!(u.check(get, &[b"get", b"r1"]), Ok(()));
        assert_eq!(u.check(set, &[b"set", b"r1", b"v"]), Err(Denied::Key(1)));
        assert_eq!(u.check(set, &[b"set", b"w1", b"v"]), Ok(()));
        assert_eq!(u.check(publish, &[b"publish", b"chx", b"m"]), Ok(()));
        assert_eq!(u.check(publish, &[b"publish", b"x", b"m"]), Err(Denied::Channel(1)));
        let u = user(&["+get", "~a", "(+set ~b)"]);
        assert_eq!(u.check(set, &[b"set", b"b", b"v"]), Ok(()));
        assert_eq!(u.check(set, &[b"set", b"a", b"v"]), Err(Denied::Key(1)));
        assert_eq!(u.check(get, &[b"get", b"b"]), Err(Denied::Key(1)));
        let u = user(&["-@all", "+select|0"]);
        let select = crate::table::lookup(b"select").expect("select");
        assert_eq!(u.check(select, &[b"select", b"0"]), Ok(()));
        assert_eq!(u.check(select, &[b"select", b"1"]), Err(Denied::Command));
    }
}
