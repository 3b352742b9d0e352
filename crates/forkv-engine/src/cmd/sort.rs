//! SORT and SORT_RO (Valkey `sort.c`): sorts the elements of a list, set or sorted set
//! numerically or (ALPHA) in the `locale-collate` order, by the elements themselves or by the values of
//! other keys named by a `BY` pattern (`weight_*`, `obj_*->field`), returns a LIMIT
//! window, and replaces each element by the values of `GET` patterns (`#` is the
//! element). STORE writes the result as a list instead of replying with it.

use std::borrow::Cow;
use std::cmp::Ordering;

use forkv_keyspace::{Keyspace, ListValue, Value};

use super::{is, CmdError, CmdResult, Ctx};
use crate::collate;
use crate::errors;
use crate::table::flags::*;
use crate::table::{spec, CommandSpec, Exec::Core};

pub const COMMANDS: &[CommandSpec] = &[
    spec("sort", -2, WRITE | DENYOOM | MOVABLE_KEYS, (1, 1, 1), "generic", "1.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", Core(sort)),
    spec("sort_ro", -2, READONLY | MOVABLE_KEYS, (1, 1, 1), "generic", "7.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "Returns the sorted elements of a list, a set, or a sorted set.", Core(sort_ro)),
];

fn sort(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// The key positions of a SORT command line (the source and the last STORE
/// destination), for COMMAND GETKEYS; `args` starts at the command name.
pub fn keys_of(args: &[&[u8]]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut store = None;
    let mut j = 2;
    while j < args.len() {
        let a = args[j];
        // LIMIT, GET and BY arguments are skipped, so that `GET store` is not a STORE.
        let skip = if is(a, "limit") {
            2
        } else if is(a, "get") || is(a, "by") {
            1
        } else if is(a, "store") {
            if j + 1 < args.len() {
                store = Some(j + 1);
            }
            // Valkey's sortGetKeys does not skip the key: `STORE store k` stores into k.
            0
        } else {
            0
        };
        j += skip + 1;
    }
    keys.extend(store);
    keys
}

/// The options of one SORT call.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY names no key (no `*`): keep the native order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
}

/// `reads_any_key`: the user may read every key (BY with a pattern and GET read keys
/// that are not known in advance; Valkey refuses them otherwise).
fn parse_options<'a>(argv: &[&'a [u8]], readonly: bool, reads_any_key: bool) -> Result<Options<'a>, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j];
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit_start = super::parse_i64(argv[j + 1])?;
            o.limit_count = super::parse_i64(argv[j + 2])?;
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(argv[j + 1]);
            j += 1;
        } else if is(a, "by") && left >= 1 {
            o.by = Some(argv[j + 1]);
            o.dontsort = !argv[j + 1].contains(&b'*');
            if !o.dontsort && !reads_any_key {
                return Err("ERR BY option of SORT denied due to insufficient ACL permissions.".into());
            }
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if !reads_any_key {
                return Err("ERR GET option of SORT denied due to insufficient ACL permissions.".into());
            }
            o.gets.push(argv[j + 1]);
            j += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

/// The value a pattern names for `element` (`lookupKeyByPattern`): `#` is the element
/// itself; the first `*` is replaced by the element; a `->field` suffix (with a
/// non-empty field) reads a hash field instead of a string. `None` when the pattern has
/// no `*` or the key, the type or the field does not match.
fn lookup_by_pattern(ks: &mut Keyspace, db: usize, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after.windows(2).position(|w| w == b"->").filter(|&p| p + 2 < after.len());
    let (postfix, field) = match arrow {
        Some(p) => (&after[..p], Some(&after[p + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(star + element.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    match (&*ks.lookup_read(db, &key)?, field) {
        (Value::Str(s), None) => Some(s.as_bytes().into_owned()),
        (Value::Hash(h), Some(f)) => h.get(f).map(<[u8]>::to_vec),
        _ => None,
    }
}

/// A number as `strtod` reads it in SORT: leading spaces skipped, the whole rest must
/// be the number (an empty string is 0); NaN and out-of-range values are errors.
fn parse_sort_score(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?.trim_start();
    if s.is_empty() {
        return Some(0.0);
    }
    let v = super::parse_f64(s.as_bytes())?;
    let lower = s.to_ascii_lowercase();
    if v.is_infinite() && !lower.contains("inf") {
        return None;
    }
    Some(v)
}

/// One element being sorted and what it sorts by.
struct Item {
    element: Vec<u8>,
    score: f64,
    /// The BY value for ALPHA with a pattern (`None`: the key was missing).
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], readonly: bool) -> CmdResult {
    let spec = &COMMANDS[usize::from(readonly)];
    let reads_any_key = ctx.acl.reads_any_key(ctx.client.user.as_deref(), spec, argv);
    let mut o = parse_options(argv, readonly, reads_any_key)?;
    let db = ctx.db();
    let mut elements: Vec<Vec<u8>>;
    // Whether the source is natively ordered (a list or a sorted set).
    let ordered;
    let total;
    let (mut start, mut end);
    {
        let found = ctx.ks.lookup_read(db, argv[1]);
        let value = found.as_deref();
        let kind = match value {
            None => 0,
            Some(Value::List(_)) => 1,
            Some(Value::Set(_)) => 2,
            Some(Value::ZSet(_)) => 3,
            Some(_) => return Err(errors::WRONGTYPE.into()),
        };
        // A set has no order of its own: storing it unsorted (or handing it to a
        // script) would make the result differ between runs and replicas, so it is
        // sorted by bytes instead.
        if o.dontsort && kind == 2 && (o.store.is_some() || ctx.client.in_script) {
            o.dontsort = false;
            o.alpha = true;
            o.by = None;
        }
        total = match value {
            Some(Value::List(l)) => l.len(),
            Some(Value::Set(s)) => s.len(),
            Some(Value::ZSet(z)) => z.len(),
            _ => 0,
        } as i64;
        start = o.limit_start.clamp(0, total);
        let count = o.limit_count.clamp(-1, total);
        end = if count < 0 { total } else { start.saturating_add(count).min(total) };
        ordered = kind == 1 || kind == 3;
        elements = if ordered && o.dontsort {
            // Only the LIMIT window, in native order (reversed for DESC).
            let n = (end - start).max(0) as usize;
            let s = start as usize;
            let window: Vec<Vec<u8>> = match value {
                Some(Value::List(l)) => {
                    let len = l.len();
                    if n == 0 {
                        Vec::new()
                    } else if o.desc {
                        l.iter_from(len - s - 1, true).take(n).map(std::borrow::Cow::into_owned).collect()
                    } else {
                        l.iter_from(s, false).take(n).map(std::borrow::Cow::into_owned).collect()
                    }
                }
                Some(Value::ZSet(z)) => {
                    let len = z.len();
                    if n == 0 {
                        Vec::new()
                    } else if o.desc {
                        z.iter_from(len - s - 1, true).take(n).map(|(m, _)| m.to_vec()).collect()
                    } else {
                        z.iter_from(s, false).take(n).map(|(m, _)| m.to_vec()).collect()
                    }
                }
                _ => Vec::new(),
            };
            end -= start;
            start = 0;
            window
        } else {
            match value {
                Some(Value::List(l)) => l.iter().map(std::borrow::Cow::into_owned).collect(),
                Some(Value::Set(s)) => s.iter().map(|m| m.to_vec()).collect(),
                Some(Value::ZSet(z)) => z.iter().map(|(m, _)| m.to_vec()).collect(),
                _ => Vec::new(),
            }
        };
    }

    let mut items: Vec<Item> = elements
        .drain(..)
        .map(|element| Item { element, score: 0.0, cmp: None })
        .collect();
    if !o.dontsort {
        let mut conversion_error = false;
        for it in &mut items {
            let by = match o.by {
                Some(p) => match lookup_by_pattern(ctx.ks, db, p, &it.element) {
                    Some(v) => Cow::Owned(v),
                    None => continue,
                },
                None => Cow::Borrowed(it.element.as_slice()),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = Some(by.into_owned());
                }
            } else {
                match parse_sort_score(&by) {
                    Some(s) => it.score = s,
                    None => conversion_error = true,
                }
            }
        }
        if conversion_error {
            return Err("ERR One or more scores can't be converted into double".into());
        }
        let by_pattern = o.by.is_some();
        let (alpha, desc) = (o.alpha, o.desc);
        items.sort_by(|a, b| {
            let c = compare(a, b, alpha, by_pattern);
            if desc {
                c.reverse()
            } else {
                c
            }
        });
    }

    let window = &items[start.max(0) as usize..end.max(start).max(0) as usize];
    let gets = &o.gets;
    match o.store {
        None => {
            let per = gets.len().max(1);
            let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(window.len() * per);
            for it in window {
                if gets.is_empty() {
                    out.push(Some(it.element.clone()));
                }
                for g in gets {
                    out.push(lookup_by_pattern(ctx.ks, db, g, &it.element));
                }
            }
            ctx.reply.array(out.len());
            for v in out {
                match v {
                    Some(v) => ctx.reply.bulk(&v),
                    None => ctx.reply.null(),
                }
            }
        }
        Some(dst) => {
            let mut out: Vec<Vec<u8>> = Vec::new();
            for it in window {
                if gets.is_empty() {
                    out.push(it.element.clone());
                }
                for g in gets {
                    out.push(lookup_by_pattern(ctx.ks, db, g, &it.element).unwrap_or_default());
                }
            }
            store_list(ctx, dst, &out);
        }
    }
    Ok(())
}

/// Valkey's `sortCompare` (before DESC is applied): numeric by score, equal scores by
/// element bytes; ALPHA by the BY values (a missing one first) or by the elements, in
/// the `locale-collate` locale (`strcoll`, see [`crate::collate`]).
fn compare(a: &Item, b: &Item, alpha: bool, by_pattern: bool) -> Ordering {
    if !alpha {
        return match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.element.cmp(&b.element),
            Some(o) => o,
        };
    }
    if by_pattern {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => collate::compare(x, y),
        }
    } else {
        collate::compare(&a.element, &b.element)
    }
}

/// STORE: the result becomes a list at `dst` (deleted when the result is empty); the
/// reply is its length.
fn store_list(ctx: &mut Ctx<'_>, dst: &[u8], items: &[Vec<u8>]) {
    let db = ctx.db();
    if items.is_empty() {
        if ctx.ks.delete(db, dst) {
            ctx.notify(forkv_keyspace::notify::GENERIC, "del", dst);
        }
        ctx.reply.int(0);
        return;
    }
    let lim = *ctx.ks.encoding_limits();
    let mut list = ListValue::new();
    list.prepare_growth(items.iter().map(Vec::len).sum(), items.len(), &lim);
    for it in items {
        list.push(it, false, &lim);
    }
    ctx.ks.set(db, dst, Value::List(Box::new(list)), false);
    ctx.notify(forkv_keyspace::notify::LIST, "sortstore", dst);
    let n = items.len() as u64;
    if n > 1 {
        ctx.ks.touch(db, dst, n - 1);
    }
    ctx.reply.int(n as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keys_are_found_past_option_arguments() {
        let a: Vec<&[u8]> = vec![b"sort", b"abc", b"store", b"invalid", b"store", b"stillbad", b"store", b"def"];
        assert_eq!(keys_of(&a), vec![1, 7]);
        let b: Vec<&[u8]> = vec![b"sort", b"abc", b"get", b"store", b"limit", b"0", b"1"];
        assert_eq!(keys_of(&b), vec![1]);
        let c: Vec<&[u8]> = vec![b"sort", b"abc", b"store", b"store", b"def"];
        assert_eq!(keys_of(&c), vec![1, 4]);
    }

    /// Valkey's "Test sort with ACL permissions": BY with a pattern and GET read keys
    /// not known in advance, so they need read access to every key.
    #[test]
    fn by_and_get_need_read_access_to_every_key() {
        use crate::testkit::run;
        let mut e = crate::Engine::new(16);
        e.add_client(1);
        run(&mut e, &["SET", "v1", "1"]);
        run(&mut e, &["LPUSH", "mylist", "1"]);
        let denied = |opt: &str| format!("-ERR {opt} option of SORT denied due to insufficient ACL permissions.\r\n");
        let as_user = |e: &mut crate::Engine, rules: &[&str], args: &[&str]| {
            if let Some(c) = e.client_mut(1) {
                c.user = None;
            }
            let mut setuser = vec!["ACL", "SETUSER", "s", "reset", "on", "nopass"];
            setuser.extend_from_slice(rules);
            assert_eq!(run(e, &setuser), "+OK\r\n");
            if let Some(c) = e.client_mut(1) {
                c.user = Some("s".into());
            }
            run(e, args)
        };
        for rules in [&["+sort", "~mylist"][..], &["+sort", "~mylist", "~v*"], &["+sort", "~mylist", "%W~*"]] {
            assert_eq!(as_user(&mut e, rules, &["SORT", "mylist", "BY", "v*"]), denied("BY"), "{rules:?}");
            assert_eq!(as_user(&mut e, rules, &["SORT", "mylist", "GET", "#"]), denied("GET"), "{rules:?}");
            // BY without a pattern reads no key.
            assert_eq!(as_user(&mut e, rules, &["SORT", "mylist", "BY", "nosort"]), "*1\r\n$1\r\n1\r\n");
        }
        assert_eq!(as_user(&mut e, &["+sort", "~mylist", "%R~*"], &["SORT", "mylist", "BY", "v*"]), "*1\r\n$1\r\n1\r\n");
        assert_eq!(as_user(&mut e, &["+sort_ro", "allkeys"], &["SORT_RO", "mylist", "GET", "v*"]), "*1\r\n$1\r\n1\r\n");
    }

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(parse_sort_score(b""), Some(0.0));
        assert_eq!(parse_sort_score(b" 1.5"), Some(1.5));
        assert_eq!(parse_sort_score(b"1e400"), None);
        assert_eq!(parse_sort_score(b"abc"), None);
        assert_eq!(parse_sort_score(b"-inf"), Some(f64::NEG_INFINITY));
    }
}
