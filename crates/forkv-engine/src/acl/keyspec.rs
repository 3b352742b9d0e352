//! Key specs: where a command's keys are in its arguments and whether it reads or
//! writes each one (Valkey's `key_specs`, as COMMAND INFO lists them). ACL key patterns
//! `%R~`/`%W~` are checked against these permissions.

/// The key is read (Valkey's `access` key-spec flag).
pub const R: u8 = 1;
/// The key is written (`insert`, `update` or `delete`).
pub const W: u8 = 2;

/// Where the search for keys begins.
#[derive(Clone, Copy, Debug)]
pub enum Begin {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword(&'static str, i32),
    /// Not describable (the command finds its keys itself).
    Unknown,
}

/// How many keys follow the beginning.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// `last` relative to the first key (negative: from the end), every `step`;
    /// `limit` splits the remaining arguments (e.g. 2: half of them are keys).
    Range { last: i32, step: i32, limit: i32 },
    /// The argument at `index` (relative to the beginning) holds the number of keys; the
    /// keys start `first` arguments after the beginning, every `step`.
    Keynum { index: i32, first: i32, step: i32 },
    /// Not describable.
    Unknown,
}

/// One key spec.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// `R`, `W`, both, or 0 (what ACL key patterns check; derived from `flags`).
    pub perm: u8,
    /// The flags as COMMAND INFO lists them (`RW`, `access`, `update`, ...).
    pub flags: &'static [&'static str],
    /// COMMAND INFO's `notes` (empty: none).
    pub notes: &'static str,
    pub begin: Begin,
    pub find: Find,
}

/// The ACL facts about one command (or `parent|sub` subcommand).
pub struct CommandAclData {
    pub name: &'static str,
    /// Categories without the `@`.
    pub categories: &'static [&'static str],
    pub keys: &'static [KeySpec],
    /// COMMAND INFO's tips (`nondeterministic_output`, `request_policy:all_shards`, ...).
    pub tips: &'static [&'static str],
}

/// The keys of a call of the command named `name` (full name), with Valkey's
/// per-call flags where the spec says they vary: SET reads its key only with GET.
pub fn command_keys(name: &str, argv: &[&[u8]]) -> Vec<(usize, u8)> {
    let Some(data) = super::categories::command_data(name) else {
        return Vec::new();
    };
    // MIGRATE's specs are incomplete: Valkey resorts to migrateGetKeys.
    if name == "migrate" {
        return migrate_keys(argv);
    }
    // SORT's STORE destination is found by sortGetKeys in Valkey too.
    if name == "sort" {
        let keys = crate::cmd::sort::keys_of(argv);
        return keys.iter().enumerate().filter(|&(_, &i)| i < argv.len()).map(|(n, &i)| (i, if n == 0 { R } else { W })).collect();
    }
    let mut keys = keys_of(data.keys, argv);
    let downgrade = match name {
        "set" => Some(W).filter(|_| !argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"))),
        // VARIABLE_FLAGS: only GETs read the key without writing it (bitfieldGetKeys).
        "bitfield" => Some(R).filter(|_| bitfield_read_only(argv)),
        _ => None,
    };
    if let Some(perm) = downgrade {
        for k in &mut keys {
            k.1 = perm;
        }
    }
    keys
}

/// BITFIELD with only GET (and OVERFLOW) operations: Valkey's bitfieldGetKeys.
pub(crate) fn bitfield_read_only(argv: &[&[u8]]) -> bool {
    let mut i = 2;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        let op = argv[i];
        if op.eq_ignore_ascii_case(b"get") && left >= 2 {
            i += 3;
        } else if (op.eq_ignore_ascii_case(b"set") || op.eq_ignore_ascii_case(b"incrby")) && left >= 3 {
            return false;
        } else if op.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            i += 2;
        } else {
            // A malformed call: the command reports it; the spec's read-write stands.
            return false;
        }
    }
    true
}

/// MIGRATE's keys (Valkey's migrateGetKeys): argument 3, or with an empty key name
/// everything after the KEYS option (AUTH and AUTH2 arguments skipped while looking).
pub(crate) fn migrate_keys(argv: &[&[u8]]) -> Vec<(usize, u8)> {
    let (mut first, mut num) = (3, 1);
    if argv.len() > 6 {
        let mut i = 6;
        while i < argv.len() {
            let a = argv[i];
            if a.eq_ignore_ascii_case(b"keys") {
                if argv[3].is_empty() {
                    first = i + 1;
                    num = argv.len() - first;
                }
                break;
            }
            if a.eq_ignore_ascii_case(b"auth") {
                i += 1;
            } else if a.eq_ignore_ascii_case(b"auth2") {
                i += 2;
            }
            i += 1;
        }
    }
    (first..(first + num).min(argv.len())).map(|i| (i, R | W)).collect()
}

/// The keys of a command call: (argument index, permission needed), in spec order.
/// Malformed calls (a key count that is not a number or runs past the end) yield the
/// keys found so far; the command itself reports the error when it runs.
pub fn keys_of(specs: &[KeySpec], argv: &[&[u8]]) -> Vec<(usize, u8)> {
    search(specs, argv, false).unwrap_or_default().into_iter().map(|(at, spec)| (at, spec.perm)).collect()
}

/// The keys of a command call with the spec that found each, as Valkey's
/// getKeysUsingKeySpecs: `None` when a spec does not fit the arguments (a key count that
/// is not a number or runs past the end, a spec that cannot be followed), which COMMAND
/// GETKEYS reports as invalid arguments. A keyword that is absent finds no keys, and an
/// incomplete spec (begin or find `unknown`) is skipped.
pub fn keys_with_specs(specs: &'static [KeySpec], argv: &[&[u8]]) -> Option<Vec<(usize, &'static KeySpec)>> {
    search(specs, argv, true)
}

/// The search behind [`keys_of`] (`strict` false: unfit specs are skipped) and
/// [`keys_with_specs`] (`strict` true: a spec that does not fit the arguments fails the
/// whole search).
fn search<'s>(specs: &'s [KeySpec], argv: &[&[u8]], strict: bool) -> Option<Vec<(usize, &'s KeySpec)>> {
    let argc = argv.len() as i64;
    let mut out = Vec::new();
    for spec in specs {
        let first = match spec.begin {
            Begin::Index(i) => i64::from(i),
            Begin::Keyword(kw, startfrom) => {
                let (start, end, step) =
                    if startfrom > 0 { (i64::from(startfrom), argc - 1, 1) } else { (argc + i64::from(startfrom), 1, -1) };
                let mut found = None;
                let mut i = start;
                while i >= 1 && i < argc && i != end {
                    if argv[i as usize].eq_ignore_ascii_case(kw.as_bytes()) {
                        found = Some(i + 1);
                        break;
                    }
                    i += step;
                }
                match found {
                    Some(f) => f,
                    None => continue,
                }
            }
            // An incomplete spec (SORT's BY/GET keys): its command finds those keys itself.
            Begin::Unknown => continue,
        };
        if first <= 0 || first >= argc {
            if strict {
                return None;
            }
            continue;
        }
        let (first, last, step) = match spec.find {
            Find::Range { last, step, limit } => {
                let last = if last >= 0 {
                    first + i64::from(last)
                } else if limit <= 1 {
                    argc + i64::from(last)
                } else {
                    first + ((argc - first) / i64::from(limit) + i64::from(last))
                };
                (first, last, i64::from(step.max(1)))
            }
            Find::Keynum { index, first: kfirst, step } => {
                let at = first + i64::from(index);
                let n = argv.get(at as usize).and_then(|a| std::str::from_utf8(a).ok()?.parse::<i64>().ok()).filter(|n| *n >= 0);
                let Some(n) = n else {
                    if strict {
                        return None;
                    }
                    continue;
                };
                let f = first + i64::from(kfirst);
                (f, f + (n - 1) * i64::from(step.max(1)), i64::from(step.max(1)))
            }
            Find::Unknown => continue,
        };
        if last >= argc || last < first {
            if strict {
                return None;
            }
            continue;
        }
        let mut i = first;
        while i <= last {
            out.push((i as usize, spec));
            i += step;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(argv: &[&str]) -> Vec<(usize, u8)> {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        let name = String::from_utf8_lossy(argv[0]).to_lowercase();
        command_keys(&name, &argv)
    }

    #[test]
    fn key_positions_and_permissions() {
        assert_eq!(keys(&["get", "k"]), vec![(1, R)]);
        assert_eq!(keys(&["set", "k", "v"]), vec![(1, W)]);
        assert_eq!(keys(&["set", "k", "v", "GET"]), vec![(1, R | W)]);
        assert_eq!(keys(&["mset", "a", "1", "b", "2"]), vec![(1, W), (3, W)]);
        assert_eq!(keys(&["lmove", "s", "d", "left", "right"]), vec![(1, R | W), (2, W)]);
        assert_eq!(keys(&["zunionstore", "d", "2", "a", "b"]), vec![(1, W), (3, R), (4, R)]);
        assert_eq!(keys(&["zunionstore", "d", "x", "a"]), vec![(1, W)]);
        assert_eq!(keys(&["zunionstore", "d", "9", "a"]), vec![(1, W)]);
        assert_eq!(keys(&["del", "a", "b"]), vec![(1, W), (2, W)]);
        assert!(keys(&["ping"]).is_empty());
        // SORT: the source is read, the STORE destination written (sortGetKeys).
        assert_eq!(keys(&["sort", "s", "BY", "w*", "STORE", "d"]), vec![(1, R), (5, W)]);
        assert_eq!(keys(&["sort", "s", "GET", "store"]), vec![(1, R)]);
        assert!(keys(&["sort"]).is_empty());
    }

    #[test]
    fn bitfield_and_migrate_keys_as_valkey_getkeys() {
        assert_eq!(keys(&["bitfield", "k", "get", "u4", "0"]), vec![(1, R)]);
        assert_eq!(keys(&["bitfield", "k", "overflow", "wrap", "get", "u4", "0"]), vec![(1, R)]);
        assert_eq!(keys(&["bitfield", "k", "get", "u4", "0", "set", "u4", "0", "1"]), vec![(1, R | W)]);
        assert_eq!(keys(&["bitfield", "k", "incrby", "u4", "0", "1"]), vec![(1, R | W)]);
        assert_eq!(keys(&["bitfield", "k", "get", "u4"]), vec![(1, R | W)]);
        assert_eq!(keys(&["migrate", "h", "p", "k", "0", "500"]), vec![(3, R | W)]);
        assert_eq!(keys(&["migrate", "h", "p", "", "0", "5000", "KEYS", "a", "b"]), vec![(7, R | W), (8, R | W)]);
        assert_eq!(keys(&["migrate", "h", "p", "", "0", "5000", "AUTH", "KEYS", "KEYS", "a"]), vec![(9, R | W)]);
        assert_eq!(keys(&["migrate", "h", "p", "", "0", "5000", "AUTH2", "KEYS", "x", "KEYS", "a"]), vec![(10, R | W)]);
        // KEYS with a key name given: Valkey keeps the key name.
        assert_eq!(keys(&["migrate", "h", "p", "k", "0", "5000", "KEYS", "a"]), vec![(3, R | W)]);
    }

    /// The strict search behind COMMAND GETKEYS: specs that do not fit fail the search.
    #[test]
    fn strict_search_fails_on_specs_that_do_not_fit() {
        let specs = |name: &str| super::super::categories::command_data(name).map(|d| d.keys).unwrap_or(&[]);
        let found = |name: &str, argv: &[&str]| {
            let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
            keys_with_specs(specs(name), &argv).map(|keys| keys.into_iter().map(|(at, s)| (at, s.flags)).collect::<Vec<_>>())
        };
        assert_eq!(found("zunionstore", &["zunionstore", "d", "2", "a", "b"]), Some(vec![(1, &["OW", "update"][..]), (3, &["RO", "access"][..]), (4, &["RO", "access"][..])]));
        assert_eq!(found("zunionstore", &["zunionstore", "d", "5", "a", "b"]), None);
        assert_eq!(found("zunionstore", &["zunionstore", "d", "-1", "a", "b"]), None);
        assert_eq!(found("zunionstore", &["zunionstore", "d", "x", "a", "b"]), None);
        // XREAD: half of what follows STREAMS are keys; an odd count rounds down.
        assert_eq!(found("xread", &["xread", "count", "1", "streams", "a", "b", "c"]), Some(vec![(4, &["RO", "access"][..])]));
        // SORT_RO's BY/GET spec is incomplete: skipped, the first key stands.
        assert_eq!(found("sort_ro", &["sort_ro", "a", "by", "x"]), Some(vec![(1, &["RO", "access"][..])]));
        // The lenient search keeps what it found.
        let argv: Vec<&[u8]> = ["zunionstore", "d", "5", "a", "b"].iter().map(|a| a.as_bytes()).collect();
        assert_eq!(keys_of(specs("zunionstore"), &argv), vec![(1, W)]);
    }
}
