//! Test helpers of the RDB crate's integration tests: a canonical view of a keyspace for
//! comparisons and a sample keyspace with every type. Temp dirs, the RESP client, the
//! redis-server fixture and digests come from `forkv-test-support`.
#![allow(dead_code, clippy::unwrap_used)]

pub mod build;

use std::collections::BTreeMap;

#[allow(unused_imports)] // each test binary uses its own subset
pub use forkv_test_support::{hex, redis_tool, sha1_hex, unhex, Client, RedisServer, Reply, Rng, TempDir};

use forkv_keyspace::{Keyspace, Value};

/// A value in a form that compares regardless of iteration order.
#[derive(Debug, Clone, PartialEq)]
pub enum Canon {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// (member, score) sorted by member.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// Entries, metadata, groups and PEL as text.
    Stream(String),
}

impl Canon {
    pub fn of(v: &Value) -> Canon {
        match v {
            Value::Str(s) => Canon::Str(s.as_bytes().into_owned()),
            Value::List(l) => Canon::List(l.iter().map(std::borrow::Cow::into_owned).collect()),
            Value::Set(s) => {
                let mut m: Vec<Vec<u8>> = s.iter().map(<[u8]>::to_vec).collect();
                m.sort();
                Canon::Set(m)
            }
            Value::Hash(h) => {
                let mut m: Vec<(Vec<u8>, Vec<u8>)> =
                    h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                m.sort();
                Canon::Hash(m)
            }
            Value::ZSet(z) => {
                let mut m: Vec<(Vec<u8>, f64)> = z.iter().map(|(k, s)| (k.to_vec(), s)).collect();
                m.sort_by(|a, b| a.0.cmp(&b.0));
                Canon::ZSet(m)
            }
            Value::Stream(st) => {
                use forkv_keyspace::StreamId;
                let mut out = String::new();
                for e in st.range(StreamId::MIN, StreamId::MAX, false) {
                    out.push_str(&format!("{} {:?};", e.id, e.pairs().collect::<Vec<_>>()));
                }
                out.push_str(&format!("|{} {} {} {}", st.last_id, st.first_id, st.max_deleted_id, st.entries_added));
                for (name, g) in &st.groups {
                    out.push_str(&format!("|{:?} {} {} {:?}", name, g.last_id, g.entries_read, g.pel));
                    for (c, cs) in &g.consumers {
                        out.push_str(&format!(" {c:?}:{}:{}:{:?}", cs.seen_time, cs.active_time, cs.pel));
                    }
                }
                Canon::Stream(out)
            }
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Canon::Str(_) => "string",
            Canon::List(_) => "list",
            Canon::Set(_) => "set",
            Canon::Hash(_) => "hash",
            Canon::ZSet(_) => "zset",
            Canon::Stream(_) => "stream",
        }
    }
}

/// (db, key) -> (expire ms, value)
pub type Snapshot = BTreeMap<(usize, Vec<u8>), (Option<i64>, Canon)>;

pub fn snapshot(ks: &Keyspace) -> Snapshot {
    let mut out = BTreeMap::new();
    for db in 0..ks.db_count() {
        let d = ks.db(db);
        for (k, v) in d.keys.iter_ref() {
            out.insert(
                (db, k.to_vec()),
                (d.expires.get(k).copied(), Canon::of(&v)),
            );
        }
    }
    out
}

/// Asserts two snapshots are equal, naming the first difference.
pub fn assert_same(a: &Snapshot, b: &Snapshot) {
    for (k, v) in a {
        match b.get(k) {
            None => panic!(
                "key {:?} in db {} missing",
                String::from_utf8_lossy(&k.1),
                k.0
            ),
            Some(w) => assert!(
                v == w,
                "key {:?} in db {} differs: {:?} vs {:?}",
                String::from_utf8_lossy(&k.1),
                k.0,
                short(v),
                short(w)
            ),
        }
    }
    for k in b.keys() {
        assert!(
            a.contains_key(k),
            "unexpected key {:?} in db {}",
            String::from_utf8_lossy(&k.1),
            k.0
        );
    }
}

fn short(v: &(Option<i64>, Canon)) -> String {
    let s = format!("{v:?}");
    if s.len() > 300 {
        format!("{}...", &s[..300])
    } else {
        s
    }
}

/// Expire time used by the samples: 2100-01-01 plus some milliseconds.
pub const FUTURE: i64 = 4_102_444_800_123;

fn list(items: &[&[u8]]) -> Value {
    let mut l = forkv_keyspace::ListValue::new();
    for i in items {
        l.push_back(i);
    }
    Value::List(Box::new(l))
}

fn set<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Value {
    let mut s = forkv_keyspace::SetValue::new();
    for i in items {
        s.insert(i);
    }
    Value::Set(Box::new(s))
}

fn hash<'a>(items: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Value {
    let mut h = forkv_keyspace::HashValue::new();
    for (f, v) in items {
        h.insert(f, v);
    }
    Value::Hash(Box::new(h))
}

fn zset<'a>(items: impl IntoIterator<Item = (&'a [u8], f64)>) -> Value {
    let mut z = forkv_keyspace::ZSetValue::new();
    for (m, s) in items {
        z.insert(m, s);
    }
    Value::ZSet(Box::new(z))
}

/// A keyspace with every type, small and large, TTLs, several databases, binary keys,
/// empty strings and integers at every encoding boundary. `big` adds 1 MiB values and
/// collections of thousands of elements.
pub fn sample_keyspace(big: bool) -> Keyspace {
    let mut ks = Keyspace::new(16);
    let mut put = |db: usize, key: &[u8], v: Value, ttl: Option<i64>| ks.put(db, key, v, ttl);

    put(0, b"str", Value::string(b"hello"), None);
    put(0, b"", Value::string(b"the empty key"), None);
    put(0, b"empty", Value::string(b""), Some(FUTURE));
    put(
        0,
        b"\x00bin\xff\r\n",
        Value::string(b"\x00\x01\x02\xfe\xff"),
        None,
    );
    put(0, b"twenty", Value::string(b"abcdefghijklmnopqrst"), None);
    put(0, b"twenty-one", Value::string(&[b'z'; 21]), None);
    put(
        0,
        b"text",
        Value::string(&b"the quick brown fox jumps over the lazy dog ".repeat(20)),
        None,
    );
    for n in [
        0i64,
        -1,
        127,
        -128,
        128,
        32767,
        -32768,
        32768,
        2147483647,
        -2147483648,
        2147483648,
        -2147483649,
        i64::MAX,
        i64::MIN,
    ] {
        put(
            0,
            format!("int:{n}").as_bytes(),
            Value::string(n.to_string().as_bytes()),
            None,
        );
    }
    for s in [
        "007",
        "-0",
        "+1",
        " 1",
        "1 ",
        "1.5",
        "0x10",
        "99999999999999999999",
    ] {
        put(
            0,
            format!("notint:{s}").as_bytes(),
            Value::string(s.as_bytes()),
            None,
        );
    }
    put(
        0,
        b"list:small",
        list(&[
            b"a",
            b"",
            b"123",
            b"-5",
            b"\x00\xff",
            b"12345678901234567890",
        ]),
        Some(FUTURE + 1),
    );
    put(
        0,
        b"set:ints",
        set([&b"1"[..], b"2", b"-3", b"70000", b"9223372036854775807"]),
        None,
    );
    put(
        0,
        b"set:strs",
        set([&b"a"[..], b"", b"b\x00c", b"duplicate-free"]),
        None,
    );
    put(
        0,
        b"hash:small",
        hash([
            (&b"f"[..], &b"v"[..]),
            (b"", b"empty field"),
            (b"empty value", b""),
            (b"n", b"42"),
        ]),
        Some(FUTURE + 2),
    );
    put(
        0,
        b"zset:small",
        zset([
            (&b"a"[..], 1.0),
            (b"b", -2.5),
            (b"inf", f64::INFINITY),
            (b"-inf", f64::NEG_INFINITY),
            (b"tiny", 1e-300),
            (b"max", f64::MAX),
            (b"zero", 0.0),
            (b"", 3.25),
        ]),
        None,
    );
    put(1, b"db1:a", Value::string(b"one"), Some(FUTURE + 3));
    put(1, b"db1:b", list(&[b"x"]), None);
    put(15, b"db15", Value::string(b"last database"), None);

    if big {
        let mut rng = Rng(0x1234_5678);
        let pattern: Vec<u8> = (0..1usize << 20)
            .map(|i| b'a' + ((i * 7919 % 1000) % 26) as u8)
            .collect();
        put(
            0,
            b"big:compressible",
            Value::Str(forkv_keyspace::StrValue::from_vec(pattern)),
            Some(FUTURE + 4),
        );
        put(
            0,
            b"big:random",
            Value::Str(forkv_keyspace::StrValue::from_vec(rng.bytes(1 << 20))),
            None,
        );
        let items: Vec<Vec<u8>> = (0..10_000)
            .map(|i| {
                if i % 3 == 0 {
                    i.to_string().into_bytes()
                } else {
                    format!("element-{i}").into_bytes()
                }
            })
            .collect();
        let refs: Vec<&[u8]> = items.iter().map(|v| &v[..]).collect();
        put(0, b"list:big", list(&refs), None);
        let huge_elem = rng.bytes(100_000);
        put(
            0,
            b"list:huge-element",
            list(&[b"a", &huge_elem, b"b"]),
            None,
        );
        put(0, b"set:big", set(refs.iter().copied().take(5000)), None);
        let ints: Vec<Vec<u8>> = (0..3000i64)
            .map(|i| (i * 1_000_003 - 1_500_000_000).to_string().into_bytes())
            .collect();
        put(0, b"set:bigints", set(ints.iter().map(|v| &v[..])), None);
        put(
            2,
            b"hash:big",
            hash(
                refs.iter()
                    .copied()
                    .take(3000)
                    .zip(refs.iter().copied().skip(3000)),
            ),
            Some(FUTURE + 5),
        );
        put(
            2,
            b"zset:big",
            zset(
                refs.iter()
                    .copied()
                    .take(3000)
                    .enumerate()
                    .map(|(i, m)| (m, i as f64 * 0.5 - 700.0)),
            ),
            None,
        );
        put(
            2,
            b"zset:long-member",
            zset([(&huge_elem[..5000], 1.0), (b"short", 2.0)]),
            None,
        );
    }
    ks
}
