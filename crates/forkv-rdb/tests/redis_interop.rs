//! Interoperability with a real redis-server: files and DUMP payloads we write load
//! there, and DUMP payloads it writes parse here.
//!
//! These tests need Debian's redis-server and redis-tools (7.x). Without them they FAIL
//! with a message saying so: CI installs them, and a skipped interop test would hide a
//! broken writer.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{
    redis_tool, sample_keyspace, snapshot, Canon, Client, RedisServer, Reply, Snapshot, TempDir, FUTURE,
};
use forkv_keyspace::Keyspace;
use forkv_rdb::{dump_payload, parse_dump_payload, write_rdb, RdbErrorKind, WriteOptions};

/// Reads one key's type and content from the server.
fn fetch(c: &mut Client, key: &[u8]) -> Canon {
    let t = c.ok(&[b"TYPE", key]).bytes();
    match &t[..] {
        b"string" => Canon::Str(c.ok(&[b"GET", key]).bytes()),
        b"list" => Canon::List(c.ok(&[b"LRANGE", key, b"0", b"-1"]).strings()),
        b"set" => {
            let mut m = c.ok(&[b"SMEMBERS", key]).strings();
            m.sort();
            Canon::Set(m)
        }
        b"hash" => {
            let flat = c.ok(&[b"HGETALL", key]).strings();
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = flat
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            pairs.sort();
            Canon::Hash(pairs)
        }
        b"zset" => {
            let flat = c
                .ok(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])
                .strings();
            let mut pairs: Vec<(Vec<u8>, f64)> = flat
                .chunks(2)
                .map(|p| {
                    (
                        p[0].clone(),
                        String::from_utf8_lossy(&p[1]).parse::<f64>().unwrap(),
                    )
                })
                .collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Canon::ZSet(pairs)
        }
        other => panic!("unexpected type {:?}", String::from_utf8_lossy(other)),
    }
}

/// Asserts the server holds exactly `want`.
fn compare_with_server(c: &mut Client, want: &Snapshot) {
    for db in 0..16usize {
        c.ok(&[b"SELECT", db.to_string().as_bytes()]);
        let expected: Vec<_> = want.iter().filter(|((d, _), _)| *d == db).collect();
        assert_eq!(
            c.ok(&[b"DBSIZE"]).int() as usize,
            expected.len(),
            "db {db} size"
        );
        for ((_, key), (ttl, value)) in expected {
            let got = fetch(c, key);
            assert!(
                &got == value,
                "db {db} key {:?}: redis has {:.200}",
                String::from_utf8_lossy(key),
                format!("{got:?}")
            );
            let exp = c.ok(&[b"PEXPIRETIME", key]).int();
            assert_eq!(
                exp,
                ttl.unwrap_or(-1),
                "db {db} key {:?} expire time",
                String::from_utf8_lossy(key)
            );
        }
    }
}

fn check_rdb(path: &std::path::Path) {
    let out = Command::new(redis_tool("redis-check-rdb"))
        .arg(path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb rejected {}:\n{text}",
        path.display()
    );
}

#[test]
fn our_files_pass_redis_check_rdb_and_load_in_redis_server() {
    let ks = sample_keyspace(true);
    let want = snapshot(&ks);
    let dir = TempDir::new("interop");
    for (name, opts) in [
        ("v9.rdb", WriteOptions::default()),
        (
            "v10-plain.rdb",
            WriteOptions {
                version: 10,
                compression: false,
                checksum: false,
                ..WriteOptions::default()
            },
        ),
    ] {
        let path = dir.path().join(name);
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        write_rdb(&mut file, &ks, &opts, &mut |_| Ok(())).unwrap();
        drop(file);
        check_rdb(&path);
        let redis = RedisServer::start(dir.path(), &["--dbfilename", name]);
        let mut c = redis.client();
        compare_with_server(&mut c, &want);
        // Redis logs the `redis-ver` AUX field when it loads the file.
        assert!(
            redis.log_text().contains("produced by version 7.2.4"),
            "{}",
            redis.log_text()
        );
    }
}

#[test]
fn redis_saves_what_it_loaded_from_us_and_we_read_it_back() {
    let ks = sample_keyspace(false);
    let dir = TempDir::new("resave");
    let path = dir.path().join("ours.rdb");
    write_rdb(
        std::fs::File::create(&path).unwrap(),
        &ks,
        &WriteOptions::default(),
        &mut |_| Ok(()),
    )
    .unwrap();
    let redis = RedisServer::start(dir.path(), &["--dbfilename", "ours.rdb"]);
    let mut c = redis.client();
    c.ok(&[b"SAVE"]);
    let bytes = std::fs::read(&path).unwrap();
    // Redis re-saves in its own format (10 for 7.0, 11 for 7.2), with listpacks.
    assert!(
        &bytes[..9] == b"REDIS0010" || &bytes[..9] == b"REDIS0011",
        "{:?}",
        String::from_utf8_lossy(&bytes[..9])
    );
    let mut back = Keyspace::new(16);
    forkv_rdb::load_rdb(&bytes[..], &mut back, &Default::default()).unwrap();
    common::assert_same(&snapshot(&ks), &snapshot(&back));
}

/// Keys created on the server, in compact and plain encodings.
fn fill_for_dump(c: &mut Client) -> Vec<Vec<u8>> {
    c.ok(&[b"CONFIG", b"SET", b"list-max-listpack-size", b"4"]);
    c.ok(&[b"CONFIG", b"SET", b"list-compress-depth", b"1"]);
    c.ok(&[b"SET", b"s:int", b"-12345"]);
    c.ok(&[b"SET", b"s:raw", b"hello"]);
    c.ok(&[b"SET", b"s:lzf", &[b'a'; 140]]);
    c.ok(&[b"SET", b"s:bin", b"\x00\xff\x01"]);
    c.ok(&[b"RPUSH", b"l:small", b"a", b"1", b"-70000", b""]);
    let many: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("elem-{i}-xxxxxxxxxxxxxxxxxxxx").into_bytes())
        .collect();
    let mut args: Vec<&[u8]> = vec![b"RPUSH", b"l:big"];
    args.extend(many.iter().map(|v| &v[..]));
    c.ok(&args);
    c.ok(&[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"100"]);
    c.ok(&[b"RPUSH", b"l:plain", b"x", &[b'P'; 300], b"y"]);
    c.ok(&[b"SADD", b"set:intset", b"1", b"2", b"-300", b"70000"]);
    c.ok(&[b"SADD", b"set:ht", b"a", b"b", b"c"]);
    let mut args: Vec<&[u8]> = vec![b"HSET", b"h:big"];
    for v in &many {
        args.push(v);
        args.push(b"v");
    }
    args.extend([&b"h:int"[..], b"123"]);
    c.ok(&args);
    c.ok(&[b"HSET", b"h:lp", b"f", b"v", b"n", b"7"]);
    c.ok(&[b"ZADD", b"z:lp", b"1", b"a", b"2.5", b"b", b"-inf", b"c"]);
    let mut args: Vec<&[u8]> = vec![b"ZADD", b"z:sl"];
    let scores: Vec<Vec<u8>> = (0..200).map(|i| format!("{}.5", i).into_bytes()).collect();
    for (s, m) in scores.iter().zip(
        many.iter()
            .cycle()
            .take(200)
            .enumerate()
            .map(|(i, m)| [m.clone(), i.to_string().into_bytes()].concat()),
    ) {
        args.push(s);
        args.push(Box::leak(m.into_boxed_slice()));
    }
    c.ok(&args);
    c.ok(&[b"KEYS", b"*"]).strings()
}

#[test]
fn dump_payloads_from_redis_parse_and_ours_restore() {
    let dir = TempDir::new("dump");
    let redis = RedisServer::start(dir.path(), &["--dbfilename", "none.rdb"]);
    let mut c = redis.client();
    let keys = fill_for_dump(&mut c);
    assert!(keys.len() >= 12);
    for key in keys {
        let name = String::from_utf8_lossy(&key).into_owned();
        let original = fetch(&mut c, &key);
        let payload = c.ok(&[b"DUMP", &key]).bytes();
        let value = parse_dump_payload(&payload).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Canon::of(&value), original, "{name}: parsed DUMP payload");

        let ours = dump_payload(&value);
        let copy = [b"copy:".as_slice(), &key].concat();
        c.ok(&[b"RESTORE", &copy, b"0", &ours]);
        assert_eq!(
            fetch(&mut c, &copy),
            original,
            "{name}: RESTORE of our payload"
        );
        // Our payload parses here too, and a redis DUMP of the restored key matches.
        assert_eq!(Canon::of(&parse_dump_payload(&ours).unwrap()), original);

        let mut broken = ours.clone();
        let n = broken.len();
        broken[n - 1] ^= 1;
        match c.call(&[b"RESTORE", b"broken", b"0", &broken]) {
            Reply::Error(e) => assert!(
                e.contains("DUMP payload version or checksum are wrong"),
                "{e}"
            ),
            other => panic!("{name}: redis accepted a bad checksum: {other:?}"),
        }
        let e = parse_dump_payload(&broken).err().unwrap();
        assert!(matches!(e.kind, RdbErrorKind::DumpVersionOrChecksum), "{e}");
    }
    // A payload restored with a TTL keeps it (RESTORE ... ABSTTL).
    let v = parse_dump_payload(&c.ok(&[b"DUMP", b"s:raw"]).bytes()).unwrap();
    c.ok(&[
        b"RESTORE",
        b"with-ttl",
        FUTURE.to_string().as_bytes(),
        &dump_payload(&v),
        b"ABSTTL",
    ]);
    assert_eq!(c.ok(&[b"PEXPIRETIME", b"with-ttl"]).int(), FUTURE);
}

/// Function libraries cross both ways: a file we write with libraries loads in
/// redis-server 7.0 (FCALL works there), and the file it saves back, and its FUNCTION
/// DUMP payload, give the same codes here; our payload restores there.
#[test]
fn function_libraries_cross_with_redis_server() {
    let code = b"#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 'from ' .. args[1] end)".to_vec();
    let long = format!("#!lua name=big\n{}redis.register_function('bigf', function() return 7 end)", "-- padding padding\n".repeat(40)).into_bytes();
    let dir = TempDir::new("functions");
    let path = dir.path().join("f.rdb");
    let opts = WriteOptions { functions: vec![code.clone(), long.clone()], ..WriteOptions::default() };
    write_rdb(std::fs::File::create(&path).unwrap(), &Keyspace::new(16), &opts, &mut |_| Ok(())).unwrap();
    // A file with libraries is version 10 at least.
    assert_eq!(&std::fs::read(&path).unwrap()[..9], b"REDIS0010");
    check_rdb(&path);
    let redis = RedisServer::start(dir.path(), &["--dbfilename", "f.rdb"]);
    let mut c = redis.client();
    assert_eq!(c.ok(&[&b"FCALL"[..], b"myfunc", b"0", b"redis"]).bytes(), b"from redis");
    assert_eq!(c.ok(&[&b"FCALL"[..], b"bigf", b"0"]).int(), 7);
    let payload = c.ok(&[&b"FUNCTION"[..], b"DUMP"]).bytes();
    let mut from_redis = forkv_rdb::parse_function_dump_payload(&payload, true).unwrap();
    from_redis.sort();
    let mut want = vec![code.clone(), long.clone()];
    want.sort();
    assert_eq!(from_redis, want);
    c.ok(&[b"SAVE"]);
    let mut back = Keyspace::new(16);
    let stats = forkv_rdb::load_rdb(&std::fs::read(&path).unwrap()[..], &mut back, &Default::default()).unwrap();
    let mut saved = stats.functions;
    saved.sort();
    assert_eq!(saved, want);
    // Our payload restores there.
    c.ok(&[&b"FUNCTION"[..], b"FLUSH"]);
    c.ok(&[&b"FUNCTION"[..], b"RESTORE", &forkv_rdb::function_dump_payload(&[code])]);
    assert_eq!(c.ok(&[&b"FCALL"[..], b"myfunc", b"0", b"us"]).bytes(), b"from us");
}
