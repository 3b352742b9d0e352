//! Shared test helpers: temp dirs, a tiny command applier into a `Keyspace`, keyspace dumps,
//! a RESP client and a redis-server process guard.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use forkv_aof::{encode_command, AofLoadCallbacks};
use forkv_keyspace::{HashValue, Keyspace, ListValue, SetValue, Value, ZSetValue};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory, removed on drop (kept when `FORKV_KEEP_TEST_DIRS` is set).
pub struct TestDir(pub PathBuf);

impl TestDir {
    pub fn new(tag: &str) -> TestDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("forkv-aof-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TestDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::env::var_os("FORKV_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

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
                let cur = match self.ks.peek(db, &a[0]) {
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
    fn load_rdb_base(&mut self, _file: &mut dyn BufRead, path: &Path) -> Result<(), String> {
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
        for (k, v) in db.keys.iter() {
            let dv = match v {
                Value::Str(x) => DumpVal::Str(x.as_bytes().into_owned()),
                Value::List(l) => DumpVal::List(l.iter().map(<[u8]>::to_vec).collect()),
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

/// A RESP reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn bulk(&self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b.clone(),
            other => panic!("expected bulk, got {other:?}"),
        }
    }
    pub fn array(&self) -> Vec<Reply> {
        match self {
            Reply::Array(Some(v)) => v.clone(),
            other => panic!("expected array, got {other:?}"),
        }
    }
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            other => panic!("expected integer, got {other:?}"),
        }
    }
}

/// A minimal blocking RESP2 client.
pub struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let w = TcpStream::connect(("127.0.0.1", port))?;
        w.set_read_timeout(Some(Duration::from_secs(20)))?;
        let r = BufReader::new(w.try_clone()?);
        Ok(Client { w, r })
    }

    pub fn call(&mut self, args: &[&[u8]]) -> Reply {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        self.w.write_all(&out).unwrap();
        self.read_reply()
    }

    pub fn cmd(&mut self, args: &[&str]) -> Reply {
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
        self.call(&a)
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        assert!(l.ends_with("\r\n"), "bad reply line {l:?}");
        l.truncate(l.len() - 2);
        l
    }

    fn read_reply(&mut self) -> Reply {
        let l = self.line();
        let (t, rest) = l.split_at(1);
        match t {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(rest.parse().unwrap()),
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut b = vec![0u8; n as usize + 2];
                std::io::Read::read_exact(&mut self.r, &mut b).unwrap();
                b.truncate(n as usize);
                Reply::Bulk(Some(b))
            }
            "*" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Array(None);
                }
                Reply::Array(Some((0..n).map(|_| self.read_reply()).collect()))
            }
            _ => panic!("unexpected reply {l:?}"),
        }
    }

    /// Reads the whole dataset (dbs 0..16) into a [`Dump`].
    pub fn dump(&mut self) -> Dump {
        let mut out = Dump::new();
        for dbi in 0..16usize {
            self.cmd(&["SELECT", &dbi.to_string()]);
            let keys = self.cmd(&["KEYS", "*"]).array();
            for k in keys {
                let k = k.bulk();
                let ty = match self.call(&[b"TYPE", &k]) {
                    Reply::Simple(t) => t,
                    other => panic!("{other:?}"),
                };
                let items = |c: &mut Client, args: &[&[u8]]| -> Vec<Vec<u8>> {
                    c.call(args).array().iter().map(Reply::bulk).collect()
                };
                let dv = match ty.as_str() {
                    "string" => DumpVal::Str(self.call(&[b"GET", &k]).bulk()),
                    "list" => DumpVal::List(items(self, &[b"LRANGE", &k, b"0", b"-1"])),
                    "set" => {
                        let mut m = items(self, &[b"SMEMBERS", &k]);
                        m.sort();
                        DumpVal::Set(m)
                    }
                    "hash" => {
                        let flat = items(self, &[b"HGETALL", &k]);
                        let mut m: Vec<_> = flat
                            .chunks(2)
                            .map(|p| (p[0].clone(), p[1].clone()))
                            .collect();
                        m.sort();
                        DumpVal::Hash(m)
                    }
                    "zset" => {
                        let flat = items(self, &[b"ZRANGE", &k, b"0", b"-1", b"WITHSCORES"]);
                        let mut m: Vec<_> = flat
                            .chunks(2)
                            .map(|p| (p[0].clone(), score_bits(s(&p[1]).parse::<f64>().unwrap())))
                            .collect();
                        m.sort();
                        DumpVal::ZSet(m)
                    }
                    other => panic!("unexpected type {other}"),
                };
                let exp = self.call(&[b"PEXPIRETIME", &k]).int();
                out.insert((dbi, k), (dv, (exp >= 0).then_some(exp)));
            }
        }
        self.cmd(&["SELECT", "0"]);
        out
    }
}

/// Finds `redis-server`; fails the test with a clear message if it is missing (never skips).
pub fn require_redis_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p,
        None => panic!(
            "`{name}` not found in PATH. These interop tests need real Redis 7 tools \
             (Debian: apt-get install redis-server redis-tools); they never skip."
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server child process, stopped on drop by `SHUTDOWN NOSAVE`, or by its own PID.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl RedisServer {
    pub fn start(dir: &Path, extra: &[&str]) -> RedisServer {
        let bin = require_redis_tool("redis-server");
        let log = dir.join("redis-test.log");
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().unwrap();
        let mut srv = RedisServer { child, port, log };
        srv.wait_ready();
        srv
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "redis-server exited early ({status}); log:\n{}",
                    self.log_text()
                );
            }
            if let Ok(mut c) = Client::connect(self.port) {
                if c.cmd(&["PING"]) == Reply::Simple("PONG".into()) {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("redis-server not ready; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port).unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `SHUTDOWN NOSAVE` and wait for the process to exit.
    pub fn shutdown(&mut self) {
        if let Ok(mut c) = Client::connect(self.port) {
            let mut out = Vec::new();
            encode_command(&mut out, &[b"SHUTDOWN", b"NOSAVE"]);
            let _ = c.w.write_all(&out);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Still running: stop it by its own PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.shutdown();
        }
    }
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
