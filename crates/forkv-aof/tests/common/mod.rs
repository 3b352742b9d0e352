//! Test helpers of the AOF crate's integration tests: a tiny command applier into a
//! `Keyspace`, keyspace dumps and a sample keyspace. Temp dirs, the RESP client and the
//! redis-server fixture come from `forkv-test-support`.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use forkv_aof::AofLoadCallbacks;
use forkv_keyspace::{HashValue, Keyspace, ListValue, SetValue, Value, ZSetValue};
#[allow(unused_imports)] // each test binary uses its own subset
pub use forkv_test_support::{redis_tool, Client, RedisServer, Reply, TempDir};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn int(b: &[u8]) -> Result<i64, String> {
    s(b).parse()
        .map_err(|_| format!("not an integer: {}", s(b)))
}

/// Applies the handful of commands AOF files contain (enough for these tests) to a keyspace.
pub struct Applier {
    pub ks: Keyspace,
    pub db: usize,
    pub log: Vec<Vec<Vec<u8>>>,
}

impl Applier {
    pub fn new() -> Applier {
        let mut ks = Keyspace::new(16);
        ks.set_now(0); // never expire lazily while applying
        Applier {
            ks,
            db: 0,
            log: Vec::new(),
        }
    }

    pub fn apply(&mut self, argv: &[Vec<u8>]) -> Result<(), String> {
        let name = s(&argv[0]).to_ascii_lowercase();
        let a = &argv[1..];
        let need = |n: usize| {
            if a.len() < n {
                Err(format!("wrong arity for {name}"))
            } else {
                Ok(())
            }
        };
        let db = self.db;
        match name.as_str() {
            "select" => {
                need(1)?;
                self.db = int(&a[0])? as usize;
            }
            "set" => {
                need(2)?;
                let mut expire = None;
                let mut keep = false;
                let mut i = 2;
                while i < a.len() {
                    let opt = s(&a[i]).to_ascii_lowercase();
                    let now = now_ms();
                    match opt.as_str() {
                        "keepttl" => keep = true,
                        "ex" | "px" | "exat" | "pxat" => {
                            let v = int(a.get(i + 1).ok_or("missing value")?)?;
                            expire = Some(match opt.as_str() {
                                "ex" => now + v * 1000,
                                "px" => now + v,
                                "exat" => v * 1000,
                                _ => v,
                            });
                            i += 1;
                        }
                        "nx" | "xx" | "get" => {}
                        other => return Err(format!("unsupported SET option {other}")),
                    }
                    i += 1;
                }
                self.ks.set(db, &a[0], Value::string(&a[1]), keep);
                if let Some(at) = expire {
                    self.ks.set_expire(db, &a[0], at);
                }
            }
            "incr" => {
                need(1)?;
                let cur = match self.ks.peek(db, &a[0]).as_deref() {
                    Some(Value::Str(v)) => int(&v.as_bytes())?,
                    None => 0,
                    _ => return Err("WRONGTYPE".into()),
                };
                self.ks.set(
                    db,
                    &a[0],
                    Value::string((cur + 1).to_string().as_bytes()),
                    true,
                );
            }
            "del" => {
                for k in a {
                    self.ks.delete(db, k);
                }
            }
            "rpush" => {
                need(2)?;
                if self.ks.peek(db, &a[0]).is_none() {
                    self.ks
                        .set(db, &a[0], Value::List(Box::new(ListValue::new())), false);
                }
                match self.ks.lookup_write(db, &a[0]) {
                    Some(Value::List(l)) => a[1..].iter().for_each(|x| l.push_back(x)),
                    _ => return Err("WRONGTYPE".into()),
                }
            }
            "sadd" => {
                need(2)?;
                if self.ks.peek(db, &a[0]).is_none() {
                    self.ks
                        .set(db, &a[0], Value::Set(Box::new(SetValue::new())), false);
                }
                match self.ks.lookup_write(db, &a[0]) {
                    Some(Value::Set(st)) => a[1..].iter().for_each(|x| {
                        st.insert(x);
                    }),
                    _ => return Err("WRONGTYPE".into()),
                }
            }
            "hset" | "hmset" => {
                need(3)?;
                if self.ks.peek(db, &a[0]).is_none() {
                    self.ks
                        .set(db, &a[0], Value::Hash(Box::new(HashValue::new())), false);
                }
                match self.ks.lookup_write(db, &a[0]) {
                    Some(Value::Hash(h)) => a[1..].chunks(2).for_each(|p| {
                        h.insert(&p[0], &p[1]);
                    }),
                    _ => return Err("WRONGTYPE".into()),
                }
            }
            "zadd" => {
                need(3)?;
                if self.ks.peek(db, &a[0]).is_none() {
                    self.ks
                        .set(db, &a[0], Value::ZSet(Box::new(ZSetValue::new())), false);
                }
                match self.ks.lookup_write(db, &a[0]) {
                    Some(Value::ZSet(z)) => {
                        for p in a[1..].chunks(2) {
                            let score: f64 = s(&p[0]).parse().map_err(|_| "bad score")?;
                            z.insert(&p[1], score);
                        }
                    }
                    _ => return Err("WRONGTYPE".into()),
                }
            }
            "pexpireat" => {
                need(2)?;
                self.ks.set_expire(db, &a[0], int(&a[1])?);
            }
            other => return Err(format!("Unknown command '{other}'")),
        }
        Ok(())
    }
}

impl AofLoadCallbacks for Applier {
    fn load_rdb_base(&mut self, _file: &mut dyn BufRead, path: &Path) -> Result<u64, String> {
        Err(format!("no RDB reader in this test ({})", path.display()))
    }
    fn apply_command(&mut self, argv: Vec<Vec<u8>>) -> Result<(), String> {
        self.apply(&argv)?;
        self.log.push(argv);
        Ok(())
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A comparable snapshot of one value.
#[derive(Clone, Debug, PartialEq)]
pub enum DumpVal {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// (member, score bits) sorted by member
    ZSet(Vec<(Vec<u8>, u64)>),
    /// Entries, metadata, groups and PEL (delivery counts; times excluded) as text.
    Stream(String),
}

/// A stream's comparable form.
pub fn stream_text(s: &forkv_keyspace::StreamValue) -> String {
    use forkv_keyspace::StreamId;
    let mut out = String::new();
    for e in s.range(StreamId::MIN, StreamId::MAX, false) {
        out.push_str(&format!("{} {:?};", e.id, e.pairs().collect::<Vec<_>>()));
    }
    out.push_str(&format!("|{} {} {} {} {}", s.len(), s.last_id, s.first_id, s.max_deleted_id, s.entries_added));
    for (name, g) in &s.groups {
        out.push_str(&format!("|{:?} {} {}", name, g.last_id, g.entries_read));
        for (id, n) in &g.pel {
            out.push_str(&format!(" {id}:{:?}:{}", n.consumer, n.delivery_count));
        }
        for (c, st) in &g.consumers {
            out.push_str(&format!(" {c:?}/{}", st.pel.len()));
        }
    }
    out
}

/// (db, key) -> (value, expire)
/// Score bits for comparison; -0 counts as 0 (Redis replies "0" for a -0 score).
pub fn score_bits(sc: f64) -> u64 {
    if sc == 0.0 {
        0
    } else {
        sc.to_bits()
    }
}

pub type Dump = BTreeMap<(usize, Vec<u8>), (DumpVal, Option<i64>)>;

pub fn dump_keyspace(ks: &Keyspace) -> Dump {
    let mut out = Dump::new();
    for dbi in 0..ks.db_count() {
        let db = ks.db(dbi);
        for (k, v) in db.keys.iter_ref() {
            let dv = match &*v {
                Value::Str(x) => DumpVal::Str(x.as_bytes().into_owned()),
                Value::List(l) => DumpVal::List(l.iter().map(std::borrow::Cow::into_owned).collect()),
                Value::Set(st) => {
                    let mut m: Vec<Vec<u8>> = st.iter().map(<[u8]>::to_vec).collect();
                    m.sort();
                    DumpVal::Set(m)
                }
                Value::Hash(h) => {
                    let mut m: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                    m.sort();
                    DumpVal::Hash(m)
                }
                Value::ZSet(z) => {
                    let mut m: Vec<_> = z
                        .iter()
                        .map(|(mm, sc)| (mm.to_vec(), score_bits(sc)))
                        .collect();
                    m.sort();
                    DumpVal::ZSet(m)
                }
                Value::Stream(st) => DumpVal::Stream(stream_text(st)),
            };
            out.insert((dbi, k.to_vec()), (dv, db.expire_of(k)));
        }
    }
    out
}

/// Reads the whole dataset of a live server (dbs 0..16) into a [`Dump`].
pub fn dump_server(c: &mut Client) -> Dump {
    let mut out = Dump::new();
    for dbi in 0..16usize {
        c.cmd(&["SELECT", &dbi.to_string()]);
        let keys = c.cmd(&["KEYS", "*"]).array();
        for k in keys {
            let k = k.bytes();
            let ty = match c.call(&[b"TYPE", &k]) {
                Reply::Status(t) => t,
                other => panic!("{other:?}"),
            };
            let items = |cl: &mut Client, args: &[&[u8]]| -> Vec<Vec<u8>> {
                cl.call(args).array().iter().map(Reply::bytes).collect()
            };
            let dv = match ty.as_str() {
                "string" => DumpVal::Str(c.call(&[b"GET", &k]).bytes()),
                "list" => DumpVal::List(items(c, &[b"LRANGE", &k, b"0", b"-1"])),
                "set" => {
                    let mut m = items(c, &[b"SMEMBERS", &k]);
                    m.sort();
                    DumpVal::Set(m)
                }
                "hash" => {
                    let flat = items(c, &[b"HGETALL", &k]);
                    let mut m: Vec<_> = flat
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect();
                    m.sort();
                    DumpVal::Hash(m)
                }
                "zset" => {
                    let flat = items(c, &[b"ZRANGE", &k, b"0", b"-1", b"WITHSCORES"]);
                    let mut m: Vec<_> = flat
                        .chunks(2)
                        .map(|p| (p[0].clone(), score_bits(s(&p[1]).parse::<f64>().unwrap())))
                        .collect();
                    m.sort();
                    DumpVal::ZSet(m)
                }
                other => panic!("unexpected type {other}"),
            };
            let exp = c.call(&[b"PEXPIRETIME", &k]).int();
            out.insert((dbi, k), (dv, (exp >= 0).then_some(exp)));
        }
    }
    c.cmd(&["SELECT", "0"]);
    out
}

/// A keyspace with every value type, binary data, big collections (several batches),
/// integers, special scores, TTLs, several databases.
pub fn sample_keyspace(now: i64) -> Keyspace {
    let mut ks = Keyspace::new(16);
    ks.set_now(0);
    ks.set(0, b"str", Value::string(b"hello world"), false);
    ks.set(0, b"int", Value::string(b"-12345"), false);
    ks.set(0, b"empty", Value::string(b""), false);
    ks.set(
        0,
        b"bin\x00\r\n\xff key",
        Value::string(b"\x00\x01\r\n\xfe"),
        false,
    );
    ks.set(0, b"big", Value::string(&vec![b'x'; 100_000]), false);
    let mut l = ListValue::new();
    for i in 0..200 {
        l.push_back(format!("item-{i}").as_bytes());
    }
    l.push_back(b"");
    l.push_back(b"\r\n");
    ks.set(0, b"list", Value::List(Box::new(l)), false);
    let mut st = SetValue::new();
    for i in 0..130 {
        st.insert(i.to_string().as_bytes());
    }
    st.insert(b"\x00bin");
    ks.set(0, b"set", Value::Set(Box::new(st)), false);
    let mut h = HashValue::new();
    for i in 0..70 {
        h.insert(format!("f{i}").as_bytes(), format!("v{i}").as_bytes());
    }
    h.insert(b"", b"empty field");
    ks.set(0, b"hash", Value::Hash(Box::new(h)), false);
    let mut z = ZSetValue::new();
    for i in 0..150 {
        z.insert(format!("m{i}").as_bytes(), f64::from(i) / 7.0);
    }
    for (m, sc) in [
        (&b"neg-inf"[..], f64::NEG_INFINITY),
        (b"pos-inf", f64::INFINITY),
        (b"tenth", 0.1),
        (b"huge", 1e300),
        (b"tiny", 5e-324),
        (b"negzero", -0.0),
        (b"third", 1.0 / 3.0),
    ] {
        z.insert(m, sc);
    }
    ks.set(0, b"zset", Value::ZSet(Box::new(z)), false);
    ks.set(0, b"volatile", Value::string(b"v"), false);
    ks.set_expire(0, b"volatile", now + 86_400_000);
    ks.set(0, b"expired", Value::string(b"gone"), false);
    ks.set_expire(0, b"expired", now - 1000);
    ks.set(3, b"db3", Value::string(b"three"), false);
    let mut l3 = ListValue::new();
    l3.push_back(b"a");
    ks.set(3, b"vlist", Value::List(Box::new(l3)), false);
    ks.set_expire(3, b"vlist", now + 3_600_000);
    ks.set(15, b"last-db", Value::string(b"15"), false);
    ks
}
