//! Test helpers shared by the integration tests: a canonical view of a keyspace for
//! comparisons, a tiny RESP client, a real redis-server on a free loopback port, temp
//! directories and SHA-1 (for the fixture listings' digests of big values).
#![allow(dead_code, clippy::unwrap_used)]

pub mod build;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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
            Value::List(l) => Canon::List(l.iter().map(<[u8]>::to_vec).collect()),
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
        for (k, v) in d.keys.iter() {
            out.insert(
                (db, k.to_vec()),
                (d.expires.get(&k[..]).copied(), Canon::of(v)),
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

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "forkv-rdb-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A RESP reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b.clone(),
            Reply::Status(s) => s.as_bytes().to_vec(),
            other => panic!("not a string reply: {other:?}"),
        }
    }
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            other => panic!("not an integer reply: {other:?}"),
        }
    }
    pub fn array(&self) -> Vec<Reply> {
        match self {
            Reply::Array(Some(v)) => v.clone(),
            other => panic!("not an array reply: {other:?}"),
        }
    }
    pub fn strings(&self) -> Vec<Vec<u8>> {
        self.array().iter().map(Reply::bytes).collect()
    }
}

/// A minimal RESP2 client.
pub struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client {
            r: BufReader::new(s.try_clone()?),
            w: s,
        })
    }

    pub fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&buf).unwrap();
        self.read_reply()
    }

    /// Like `cmd` but panics on an error reply.
    pub fn ok(&mut self, args: &[&[u8]]) -> Reply {
        let r = self.cmd(args);
        if let Reply::Error(e) = &r {
            panic!(
                "{:?} failed: {e}",
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
            );
        }
        r
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end_matches(['\r', '\n']).to_string()
    }

    fn read_reply(&mut self) -> Reply {
        let l = self.line();
        let (tag, rest) = l.split_at(1);
        match tag {
            "+" => Reply::Status(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(rest.parse().unwrap()),
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut b = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut b).unwrap();
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
            _ => panic!("bad reply line {l:?}"),
        }
    }
}

/// Path of a redis binary; the tests that need one FAIL (not skip) without it, because
/// CI installs it and a silent skip would hide a broken interop check.
pub fn redis_binary(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: these tests need Debian's redis-server and redis-tools 7.x (apt-get install redis-server redis-tools)");
}

/// A redis-server child on a free loopback port, shut down on drop.
pub struct Redis {
    pub port: u16,
    child: Child,
    pub dir: PathBuf,
}

impl Redis {
    /// Starts redis-server in `dir`, loading `dbfilename` if it exists.
    pub fn start(dir: &Path, dbfilename: &str, extra: &[&str]) -> Redis {
        let bin = redis_binary("redis-server");
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(&bin);
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .args([
                "--dbfilename",
                dbfilename,
                "--daemonize",
                "no",
                "--enable-debug-command",
                "local",
            ])
            .args(["--logfile", "redis.log"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            let mut child = cmd.spawn().unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!(
                        "redis-server exited with {status}: {}",
                        std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
                    );
                    break;
                }
                if let Ok(mut c) = Client::connect(port) {
                    // The server answers -LOADING while it reads the file.
                    if c.cmd(&[b"PING"]) == Reply::Status("PONG".into()) {
                        return Redis {
                            port,
                            child,
                            dir: dir.to_path_buf(),
                        };
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start redis-server: {last_err}");
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port).unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(self.port) {
            let _ = c.w.write_all(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Our own child, by its PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// SHA-1 (FIPS 180-4), for comparing big values against the fixture listings.
pub fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                block[4 * i],
                block[4 * i + 1],
                block[4 * i + 2],
                block[4 * i + 3],
            ]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
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
