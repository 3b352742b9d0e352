//! Files written by a real redis-server 7.0 (see fixtures/make-fixtures.sh) load into
//! exactly what that server listed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{assert_same, hex, sha1_hex, snapshot};
use forkv_keyspace::{Keyspace, Value};
use forkv_rdb::consts::*;
use forkv_rdb::{load_rdb, write_rdb, LoadOptions, LoadStats, RdbErrorKind, WriteOptions};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A string as the listing writes it.
fn tok(b: &[u8]) -> String {
    if b.len() > 256 {
        format!("#{}:{}", sha1_hex(b), b.len())
    } else {
        format!("x{}", hex(b))
    }
}

/// Normalizes a zset score as printed by the server.
fn score(s: &str) -> String {
    format!("{:?}", s.parse::<f64>().unwrap())
}

/// The expected listing, normalized (unordered collections sorted).
fn expected_lines() -> Vec<String> {
    let text = String::from_utf8(fixture("redis-7.0.expected")).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split(' ').collect();
            let (head, tokens) = parts.split_at(4);
            let mut tokens: Vec<String> = match head[2] {
                "zset" => tokens
                    .iter()
                    .map(|t| {
                        let (m, s) = t.split_once('=').unwrap();
                        format!("{m}={}", score(s))
                    })
                    .collect(),
                _ => tokens.iter().map(|t| t.to_string()).collect(),
            };
            if matches!(head[2], "set" | "hash" | "zset") {
                tokens.sort();
            }
            format!("{} {}", head.join(" "), tokens.join(" "))
        })
        .collect();
    lines.sort();
    lines
}

/// The same listing made from a loaded keyspace.
fn listing(ks: &Keyspace) -> Vec<String> {
    let mut lines = Vec::new();
    for db in 0..ks.db_count() {
        let d = ks.db(db);
        for (k, v) in d.keys.iter_ref() {
            let exp = d.expires.get(k).copied().unwrap_or(-1);
            let mut tokens: Vec<String> = match &*v {
                Value::Str(s) => vec![tok(&s.as_bytes())],
                Value::List(l) => l.iter().map(|b| tok(&b)).collect(),
                Value::Set(s) => s.iter().map(tok).collect(),
                Value::Hash(h) => h
                    .iter()
                    .map(|(f, v)| format!("{}={}", tok(f), tok(v)))
                    .collect(),
                Value::ZSet(z) => z.iter().map(|(m, s)| format!("{}={s:?}", tok(m))).collect(),
                Value::Stream(s) => s
                    .range(forkv_keyspace::StreamId::MIN, forkv_keyspace::StreamId::MAX, false)
                    .map(|e| format!("{}:{}", e.id, e.pairs().map(|(f, v)| format!("{}={}", tok(f), tok(v))).collect::<Vec<_>>().join(",")))
                    .collect(),
            };
            if !matches!(&*v, Value::Str(_) | Value::List(_) | Value::Stream(_)) {
                tokens.sort();
            }
            lines.push(format!(
                "{db} {} {} {exp} {}",
                tok(k),
                v.type_name(),
                tokens.join(" ")
            ));
        }
    }
    lines.sort();
    lines
}

fn load(bytes: &[u8], opts: &LoadOptions) -> (Keyspace, LoadStats) {
    let mut ks = Keyspace::new(16);
    let stats = load_rdb(bytes, &mut ks, opts).unwrap_or_else(|e| panic!("load failed: {e}"));
    (ks, stats)
}

fn check_content(name: &str) -> LoadStats {
    let (ks, stats) = load(&fixture(name), &LoadOptions::default());
    let want = expected_lines();
    let got = listing(&ks);
    for (w, g) in want.iter().zip(got.iter()) {
        assert_eq!(g, w, "{name}: first differing key");
    }
    assert_eq!(got.len(), want.len(), "{name}: key count");
    assert_eq!(stats.keys_loaded as usize, want.len());
    assert_eq!(
        stats.expired_skipped, 1,
        "{name}: the key saved after its TTL passed"
    );
    assert_eq!(stats.version, 10);
    assert_eq!(stats.aux_value("redis-ver"), Some(&b"7.0.15"[..]));
    assert_eq!(stats.aux_value("aof-base"), Some(&b"0"[..]));
    stats
}

#[test]
fn default_dump_loads_exactly() {
    let stats = check_content("redis-7.0.rdb");
    assert!(stats.checksum.is_some_and(|c| c != 0));
    assert_eq!(stats.bytes_read as usize, fixture("redis-7.0.rdb").len());
    // The fixture holds both compact and plain encodings of every type.
    for t in [
        RDB_TYPE_STRING,
        RDB_TYPE_SET,
        RDB_TYPE_HASH,
        RDB_TYPE_ZSET_2,
        RDB_TYPE_SET_INTSET,
        RDB_TYPE_HASH_LISTPACK,
        RDB_TYPE_ZSET_LISTPACK,
        RDB_TYPE_LIST_QUICKLIST_2,
    ] {
        assert!(
            stats.types.contains_key(&t),
            "type {t} ({}) missing from the fixture: {:?}",
            type_name(t),
            stats.types
        );
    }
}

#[test]
fn uncompressed_dump_loads_exactly() {
    check_content("redis-7.0-nocompress.rdb");
}

#[test]
fn dump_without_checksum_loads_exactly() {
    let stats = check_content("redis-7.0-nochecksum.rdb");
    assert_eq!(stats.checksum, Some(0));
}

#[test]
fn lzf_strings_from_redis_decode() {
    // The compressed fixture stores these strings LZF-compressed (and the uncompressed one
    // stores them raw): both must give the same bytes.
    let (a, _) = load(&fixture("redis-7.0.rdb"), &LoadOptions::default());
    let (b, _) = load(
        &fixture("redis-7.0-nocompress.rdb"),
        &LoadOptions::default(),
    );
    assert_same(&snapshot(&a), &snapshot(&b));
    assert!(fixture("redis-7.0.rdb").len() < fixture("redis-7.0-nocompress.rdb").len() / 2);
    let big = a.db(0).keys.get_ref(&b"big:1mib"[..]).unwrap();
    let Value::Str(s) = &*big else {
        panic!("not a string")
    };
    let bytes = s.as_bytes();
    assert_eq!(bytes.len(), 1 << 20);
    for (i, &c) in bytes.iter().enumerate().take(5000) {
        let n = i + 1;
        assert_eq!(c, b'a' + ((n * 7919 % 1000) % 26) as u8);
    }
}

#[test]
fn expired_keys_are_kept_when_asked() {
    let opts = LoadOptions {
        skip_expired: false,
        ..LoadOptions::default()
    };
    let (ks, stats) = load(&fixture("redis-7.0.rdb"), &opts);
    assert_eq!(stats.expired_skipped, 0);
    assert_eq!(stats.keys_loaded as usize, expected_lines().len() + 1);
    let at = ks.db(0).expires.get(&b"expired:key"[..]).copied().unwrap();
    assert!(at < common_now());
}

fn common_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn bad_checksum_is_reported() {
    let mut bytes = fixture("redis-7.0.rdb");
    let n = bytes.len();
    bytes[n - 3] ^= 0x40;
    let mut ks = Keyspace::new(16);
    let e = load_rdb(&bytes[..], &mut ks, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e.kind, RdbErrorKind::BadChecksum { .. }), "{e}");
    assert!(e.to_string().contains("Wrong RDB checksum"), "{e}");
    assert!(e.to_string().contains(&format!("offset {n}")), "{e}");
    // With verification off the same file loads.
    let mut ks = Keyspace::new(16);
    let opts = LoadOptions {
        verify_checksum: false,
        ..LoadOptions::default()
    };
    load_rdb(&bytes[..], &mut ks, &opts).unwrap();
}

#[test]
fn a_changed_string_byte_fails_the_checksum() {
    let mut bytes = fixture("redis-7.0.rdb");
    let pos = bytes.windows(11).position(|w| w == b"hello world").unwrap();
    bytes[pos] = b'j';
    let mut ks = Keyspace::new(16);
    let e = load_rdb(&bytes[..], &mut ks, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e.kind, RdbErrorKind::BadChecksum { .. }), "{e}");
}

#[test]
fn too_few_databases_is_an_error() {
    let mut ks = Keyspace::new(4);
    let e = load_rdb(
        &fixture("redis-7.0.rdb")[..],
        &mut ks,
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e.kind,
            RdbErrorKind::DbOutOfRange {
                db: 15,
                databases: 4
            }
        ),
        "{e}"
    );
}

#[test]
fn loading_twice_reports_the_duplicate_key() {
    let bytes = fixture("redis-7.0.rdb");
    let mut ks = Keyspace::new(16);
    load_rdb(&bytes[..], &mut ks, &LoadOptions::default()).unwrap();
    let e = load_rdb(&bytes[..], &mut ks, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e.kind, RdbErrorKind::DuplicateKey { .. }), "{e}");
    let opts = LoadOptions {
        replace_existing: true,
        ..LoadOptions::default()
    };
    let stats = load_rdb(&bytes[..], &mut ks, &opts).unwrap();
    assert_eq!(stats.keys_loaded as usize, expected_lines().len());
}

#[test]
fn redis_files_survive_our_writer() {
    let (ks, _) = load(&fixture("redis-7.0.rdb"), &LoadOptions::default());
    let mut out = Vec::new();
    write_rdb(&mut out, &ks, &WriteOptions::default(), &mut |_| Ok(())).unwrap();
    let (again, _) = load(&out, &LoadOptions::default());
    assert_eq!(listing(&again), expected_lines());
}
