//! Encodings that Redis 7 no longer writes (zipmap, ziplist, quicklist of ziplists, old
//! text zset scores, second-resolution expiry, files without checksums) and types it
//! cannot write at all (set listpack, Valkey 9 files), built byte by byte here from the
//! format description (Valkey rdb.h / ziplist.c / zipmap.c / listpack.c / intset.c).
//! The builders are independent of the crate's parsers on purpose.
#![allow(clippy::unwrap_used)]

mod common;

use common::build::*;
use common::Canon;
use forkv_keyspace::Keyspace;
use forkv_rdb::consts::*;
use forkv_rdb::{load_rdb, LoadOptions, LoadStats, RdbError, RdbErrorKind};

fn load(bytes: &[u8]) -> Result<(Keyspace, LoadStats), RdbError> {
    let mut ks = Keyspace::new(16);
    let opts = LoadOptions {
        now_ms: Some(1_000_000),
        ..LoadOptions::default()
    };
    let stats = load_rdb(bytes, &mut ks, &opts)?;
    Ok((ks, stats))
}

fn get(ks: &Keyspace, db: usize, key: &[u8]) -> Canon {
    Canon::of(
        &ks.db(db)
            .keys
            .get_ref(key)
            .unwrap_or_else(|| panic!("{:?} missing", String::from_utf8_lossy(key))),
    )
}

fn strs(items: &[&[u8]]) -> Vec<Vec<u8>> {
    items.iter().map(|b| b.to_vec()).collect()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[test]
fn redis_2_8_file_with_ziplists_zipmap_intsets_and_text_scores() {
    let long = vec![b'L'; 300];
    let huge = vec![b'H'; 20_000];
    let mut body = vec![RDB_OPCODE_SELECTDB, 0];
    // Second-resolution expire (opcode 0xFD, 4 bytes) on the next key.
    body.push(RDB_OPCODE_EXPIRETIME);
    body.extend_from_slice(&2_000_000i32.to_le_bytes());
    body.extend(rec(RDB_TYPE_STRING, b"str", &s(b"value")));
    body.extend(rec(
        RDB_TYPE_LIST_ZIPLIST,
        b"zl",
        &s(&ziplist(&[
            E::S(b"a"),
            E::I(0),
            E::I(12),
            E::I(-1),
            E::I(300),
            E::I(-8_000_000),
            E::I(2_000_000_000),
            E::I(-9_000_000_000),
            E::S(&long),
            E::S(b"after a 5-byte prevlen"),
            E::S(&huge),
            E::S(b""),
        ])),
    ));
    body.extend(rec(
        RDB_TYPE_HASH_ZIPMAP,
        b"zm",
        &s(&zipmap(&[
            (b"f1", b"v1"),
            (b"f2", &long),
            (b"", b"empty field"),
        ])),
    ));
    body.extend(rec(
        RDB_TYPE_SET_INTSET,
        b"is16",
        &s(&intset(2, &[-5, 1, 300])),
    ));
    body.extend(rec(
        RDB_TYPE_SET_INTSET,
        b"is32",
        &s(&intset(4, &[-70_000, 70_000])),
    ));
    body.extend(rec(
        RDB_TYPE_SET_INTSET,
        b"is64",
        &s(&intset(8, &[i64::MIN, 0, i64::MAX])),
    ));
    body.extend(rec(
        RDB_TYPE_ZSET_ZIPLIST,
        b"zz",
        &s(&ziplist(&[
            E::S(b"m1"),
            E::I(3),
            E::S(b"m2"),
            E::S(b"2.5"),
            E::S(b"m3"),
            E::S(b"-inf"),
        ])),
    ));
    body.extend(rec(
        RDB_TYPE_HASH_ZIPLIST,
        b"hz",
        &s(&ziplist(&[E::S(b"f"), E::S(b"v"), E::S(b"n"), E::I(-42)])),
    ));
    // Old ZSET type: scores as text; 254 and 255 are +inf and -inf.
    let mut z = vec![3];
    z.extend(s(b"one"));
    z.extend([3, b'1', b'.', b'5']);
    z.extend(s(b"pinf"));
    z.push(254);
    z.extend(s(b"ninf"));
    z.push(255);
    body.extend(rec(RDB_TYPE_ZSET, b"zold", &z));
    let mut l = vec![2];
    l.extend(s(b"x"));
    l.extend(s(b"y"));
    body.extend(rec(RDB_TYPE_LIST, b"plainlist", &l));
    body.extend([RDB_OPCODE_SELECTDB, 7]);
    let mut h = vec![1];
    h.extend(s(b"field"));
    h.extend(s(b"value"));
    body.extend(rec(RDB_TYPE_HASH, b"db7hash", &h));
    let (ks, stats) = load(&file("REDIS0006", &body)).unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(stats.version, 6);
    assert_eq!(stats.keys_loaded, 11);
    assert_eq!(ks.db(0).expires.get(&b"str"[..]), Some(&2_000_000_000));
    assert_eq!(get(&ks, 0, b"str"), Canon::Str(b"value".to_vec()));
    assert_eq!(
        get(&ks, 0, b"zl"),
        Canon::List(vec![
            b"a".to_vec(),
            b"0".to_vec(),
            b"12".to_vec(),
            b"-1".to_vec(),
            b"300".to_vec(),
            b"-8000000".to_vec(),
            b"2000000000".to_vec(),
            b"-9000000000".to_vec(),
            long.clone(),
            b"after a 5-byte prevlen".to_vec(),
            huge.clone(),
            b"".to_vec(),
        ])
    );
    assert_eq!(
        get(&ks, 0, b"zm"),
        Canon::Hash(vec![
            (b"".to_vec(), b"empty field".to_vec()),
            (b"f1".to_vec(), b"v1".to_vec()),
            (b"f2".to_vec(), long.clone())
        ])
    );
    assert_eq!(
        get(&ks, 0, b"is16"),
        Canon::Set(sorted(strs(&[b"-5", b"1", b"300"])))
    );
    assert_eq!(
        get(&ks, 0, b"is32"),
        Canon::Set(sorted(strs(&[b"-70000", b"70000"])))
    );
    assert_eq!(
        get(&ks, 0, b"is64"),
        Canon::Set(sorted(strs(&[
            b"-9223372036854775808",
            b"0",
            b"9223372036854775807"
        ])))
    );
    assert_eq!(
        get(&ks, 0, b"zz"),
        Canon::ZSet(vec![
            (b"m1".to_vec(), 3.0),
            (b"m2".to_vec(), 2.5),
            (b"m3".to_vec(), f64::NEG_INFINITY)
        ])
    );
    assert_eq!(
        get(&ks, 0, b"hz"),
        Canon::Hash(vec![
            (b"f".to_vec(), b"v".to_vec()),
            (b"n".to_vec(), b"-42".to_vec())
        ])
    );
    assert_eq!(
        get(&ks, 0, b"zold"),
        Canon::ZSet(vec![
            (b"ninf".to_vec(), f64::NEG_INFINITY),
            (b"one".to_vec(), 1.5),
            (b"pinf".to_vec(), f64::INFINITY)
        ])
    );
    assert_eq!(get(&ks, 0, b"plainlist"), Canon::List(strs(&[b"x", b"y"])));
    assert_eq!(
        get(&ks, 7, b"db7hash"),
        Canon::Hash(vec![(b"field".to_vec(), b"value".to_vec())])
    );
}

#[test]
fn version_3_file_has_no_checksum() {
    let mut body = vec![RDB_OPCODE_SELECTDB, 0, RDB_OPCODE_EXPIRETIME_MS];
    body.extend_from_slice(&5_000_000i64.to_le_bytes());
    body.extend(rec(
        RDB_TYPE_HASH_ZIPMAP,
        b"h",
        &s(&zipmap(&[(b"a", b"b")])),
    ));
    let bytes = file("REDIS0003", &body);
    let (ks, stats) = load(&bytes).unwrap();
    assert_eq!(stats.checksum, None);
    assert_eq!(stats.bytes_read as usize, bytes.len());
    assert_eq!(ks.db(0).expires.get(&b"h"[..]), Some(&5_000_000));
    // Trailing bytes after EOF (an AOF tail) are not read.
    let mut with_tail = bytes.clone();
    with_tail.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    let (_, stats) = load(&with_tail).unwrap();
    assert_eq!(stats.bytes_read as usize, bytes.len());
}

#[test]
fn redis_3_2_quicklist_of_ziplists_with_a_compressed_node() {
    let mut body = Vec::new();
    for (k, v) in [(&b"redis-ver"[..], &b"3.2.0"[..]), (b"redis-bits", b"64")] {
        body.push(RDB_OPCODE_AUX);
        body.extend(s(k));
        body.extend(s(v));
    }
    body.extend([RDB_OPCODE_SELECTDB, 0, RDB_OPCODE_RESIZEDB, 1, 0]);
    let node1 = ziplist(&[E::S(b"first"), E::I(2)]);
    let node2 = ziplist(&[E::S(b"third, in a node saved LZF-compressed"), E::I(-4)]);
    let mut q = vec![2];
    q.extend(s(&node1));
    q.extend(s_lzf(&node2));
    body.extend(rec(RDB_TYPE_LIST_QUICKLIST, b"ql", &q));
    let (ks, stats) = load(&file("REDIS0007", &body)).unwrap();
    assert_eq!(stats.aux_value("redis-ver"), Some(&b"3.2.0"[..]));
    assert_eq!(
        get(&ks, 0, b"ql"),
        Canon::List(strs(&[
            b"first",
            b"2",
            b"third, in a node saved LZF-compressed",
            b"-4"
        ]))
    );
}

#[test]
fn redis_7_2_types_listpack_set_and_quicklist_2() {
    let big = vec![b'B'; 5000];
    let mut body = vec![RDB_OPCODE_SELECTDB, 0];
    // IDLE and FREQ before keys are read and ignored.
    body.extend([RDB_OPCODE_IDLE, 0x40, 0x80, RDB_OPCODE_FREQ, 7]);
    body.extend(rec(
        RDB_TYPE_SET_LISTPACK,
        b"slp",
        &s(&listpack(&[
            E::S(b"a"),
            E::I(5),
            E::I(-3000),
            E::I(100_000),
            E::I(-5_000_000_000),
            E::S(&big),
        ])),
    ));
    let packed = listpack(&[E::S(b"p1"), E::I(-20000), E::S(&[b'x'; 200])]);
    let mut q = vec![3];
    q.push(QUICKLIST_NODE_CONTAINER_PACKED as u8);
    q.extend(s(&packed));
    q.push(QUICKLIST_NODE_CONTAINER_PLAIN as u8);
    q.extend(s(b"a plain node holds one element"));
    q.push(QUICKLIST_NODE_CONTAINER_PACKED as u8);
    q.extend(s_lzf(&listpack(&[E::S(b"compressed node")])));
    body.extend(rec(RDB_TYPE_LIST_QUICKLIST_2, b"ql2", &q));
    body.extend(rec(
        RDB_TYPE_HASH_LISTPACK,
        b"hlp",
        &s(&listpack(&[
            E::S(b"f"),
            E::I(1),
            E::S(&big),
            E::S(b"long field"),
        ])),
    ));
    body.extend(rec(
        RDB_TYPE_ZSET_LISTPACK,
        b"zlp",
        &s(&listpack(&[E::S(b"a"), E::I(-1), E::S(b"b"), E::S(b"1e3")])),
    ));
    let (ks, stats) = load(&file("REDIS0011", &body)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stats.keys_loaded, 4);
    assert_eq!(
        get(&ks, 0, b"slp"),
        Canon::Set(sorted(vec![
            b"a".to_vec(),
            b"5".to_vec(),
            b"-3000".to_vec(),
            b"100000".to_vec(),
            b"-5000000000".to_vec(),
            big.clone()
        ]))
    );
    assert_eq!(
        get(&ks, 0, b"ql2"),
        Canon::List(vec![
            b"p1".to_vec(),
            b"-20000".to_vec(),
            vec![b'x'; 200],
            b"a plain node holds one element".to_vec(),
            b"compressed node".to_vec()
        ])
    );
    assert_eq!(
        get(&ks, 0, b"hlp"),
        Canon::Hash(vec![
            (big.clone(), b"long field".to_vec()),
            (b"f".to_vec(), b"1".to_vec())
        ])
    );
    assert_eq!(
        get(&ks, 0, b"zlp"),
        Canon::ZSet(vec![(b"a".to_vec(), -1.0), (b"b".to_vec(), 1000.0)])
    );
}

#[test]
fn valkey_magic_versions() {
    let mut body = vec![RDB_OPCODE_AUX];
    body.extend(s(b"valkey-ver"));
    body.extend(s(b"9.0.0"));
    body.extend([RDB_OPCODE_SELECTDB, 0]);
    // Slot info (3 lengths) is a size hint a non-cluster loader ignores.
    body.extend([RDB_OPCODE_SLOT_INFO, 1, 2, 0]);
    body.extend(rec(RDB_TYPE_STRING, b"k", &s(b"v")));
    for magic in ["VALKEY080", "VALKEY081"] {
        let (ks, stats) = load(&file(magic, &body)).unwrap_or_else(|e| panic!("{magic}: {e}"));
        assert_eq!(stats.version, magic[6..].parse::<u32>().unwrap());
        assert_eq!(get(&ks, 0, b"k"), Canon::Str(b"v".to_vec()));
    }
    for magic in [
        "VALKEY011",
        "VALKEY082",
        "REDIS0012",
        "REDIS0080",
        "REDIS0000",
    ] {
        let e = load(&file(magic, &body)).err().unwrap();
        assert!(
            matches!(e.kind, RdbErrorKind::UnsupportedVersion(_)),
            "{magic}: {e}"
        );
        assert!(
            e.to_string().contains("Can't handle RDB format version"),
            "{e}"
        );
    }
    for magic in ["REDIX0009", "redis0009", "REDIS00x9", "VALKEY0x0"] {
        let e = load(
            &file("REDIS0009", &body)
                .iter()
                .enumerate()
                .map(|(i, &b)| magic.as_bytes().get(i).copied().unwrap_or(b))
                .collect::<Vec<_>>(),
        )
        .err()
        .unwrap();
        assert!(matches!(e.kind, RdbErrorKind::BadMagic), "{magic}: {e}");
    }
    // Type 22 is Valkey 9's hash with field TTLs: unsupported under VALKEY, foreign
    // (a different meaning in Redis 7.4+) under REDIS.
    let t22 = rec(RDB_TYPE_HASH_2, b"h", &[1]);
    let e = load(&file("VALKEY080", &t22)).err().unwrap();
    assert!(matches!(e.kind, RdbErrorKind::UnsupportedType(22)), "{e}");
    let e = load(&file("REDIS0011", &t22)).err().unwrap();
    assert!(
        matches!(
            e.kind,
            RdbErrorKind::ForeignType {
                type_byte: 22,
                version: 11
            }
        ),
        "{e}"
    );
}

#[test]
fn refused_content_says_what_it_is() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            rec(RDB_TYPE_MODULE_2, b"m", &[0]),
            "unsupported type 7 (module)",
        ),
        (rec(8, b"x", &[0]), "Unknown RDB encoding type 8"),
        (vec![RDB_OPCODE_MODULE_AUX, 1, 2, 3], "module"),
        (
            vec![RDB_OPCODE_FUNCTION_PRE_GA],
            "Pre-release function format",
        ),
        (vec![RDB_OPCODE_SELECTDB, 16], "more than 16 databases"),
    ];
    for (body, want) in cases {
        let e = load(&file("REDIS0011", &body)).err().unwrap();
        assert!(e.to_string().contains(want), "expected {want:?} in {e}");
        assert!(e.to_string().contains("at byte offset 9"), "{e}");
    }
}

#[test]
fn function_libraries_are_read_for_the_caller() {
    let body = [vec![RDB_OPCODE_FUNCTION2], s(b"#!lua name=mylib\nreturn 1")].concat();
    let mut ks = Keyspace::new(16);
    let stats = load_rdb(&file("REDIS0010", &body)[..], &mut ks, &LoadOptions::default()).unwrap();
    assert_eq!(stats.functions, vec![b"#!lua name=mylib\nreturn 1".to_vec()]);
}

#[test]
fn empty_collections_are_skipped_and_counted() {
    let mut body = vec![RDB_OPCODE_SELECTDB, 0];
    body.extend(rec(RDB_TYPE_LIST, b"l", &[0]));
    body.extend(rec(RDB_TYPE_SET, b"s", &[0]));
    body.extend(rec(RDB_TYPE_LIST_ZIPLIST, b"zl", &s(&ziplist(&[]))));
    body.extend(rec(RDB_TYPE_HASH_LISTPACK, b"hl", &s(&listpack(&[]))));
    body.extend(rec(
        RDB_TYPE_LIST_QUICKLIST,
        b"q",
        &[1, 11]
            .iter()
            .copied()
            .chain(ziplist(&[]))
            .collect::<Vec<_>>(),
    ));
    body.extend(rec(RDB_TYPE_STRING, b"kept", &s(b"")));
    let (ks, stats) = load(&file("REDIS0009", &body)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((stats.keys_loaded, stats.empty_skipped), (1, 5));
    assert_eq!(get(&ks, 0, b"kept"), Canon::Str(vec![]));
}

#[test]
fn semantic_corruption_in_blobs_is_an_error() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            rec(
                RDB_TYPE_SET_LISTPACK,
                b"k",
                &s(&listpack(&[E::S(b"a"), E::S(b"a")])),
            ),
            "Set listpack integrity check failed: duplicate",
        ),
        (
            rec(
                RDB_TYPE_HASH_LISTPACK,
                b"k",
                &s(&listpack(&[E::S(b"f"), E::S(b"v"), E::S(b"f")])),
            ),
            "odd number",
        ),
        (
            rec(
                RDB_TYPE_HASH_ZIPLIST,
                b"k",
                &s(&ziplist(&[E::S(b"f"), E::S(b"v"), E::S(b"f"), E::S(b"w")])),
            ),
            "duplicate field",
        ),
        (
            rec(
                RDB_TYPE_ZSET_LISTPACK,
                b"k",
                &s(&listpack(&[E::S(b"m"), E::S(b"nan")])),
            ),
            "NAN",
        ),
        (
            rec(
                RDB_TYPE_ZSET_LISTPACK,
                b"k",
                &s(&listpack(&[E::S(b"m"), E::S(b"abc")])),
            ),
            "not a number",
        ),
        (
            rec(RDB_TYPE_SET_INTSET, b"k", &s(&intset(2, &[3, 1]))),
            "Intset integrity check failed",
        ),
        (
            rec(
                RDB_TYPE_HASH_ZIPMAP,
                b"k",
                &s(&zipmap(&[(b"a", b"1"), (b"a", b"2")])),
            ),
            "Zipmap integrity check failed: duplicate",
        ),
        (
            rec(
                RDB_TYPE_ZSET_2,
                b"k",
                &[[1u8].as_slice(), &s(b"m"), &f64::NAN.to_le_bytes()].concat(),
            ),
            "NAN",
        ),
        (
            rec(
                RDB_TYPE_SET,
                b"k",
                &[[2u8].as_slice(), &s(b"a"), &s(b"a")].concat(),
            ),
            "Duplicate set members",
        ),
        (
            rec(RDB_TYPE_LIST_QUICKLIST_2, b"k", &[1, 3, 1, b'x']),
            "Quicklist integrity check failed",
        ),
        (
            rec(RDB_TYPE_LIST_QUICKLIST_2, b"k", &[1, 2, 0]),
            "Quicklist node is empty",
        ),
        (
            rec(RDB_TYPE_STRING, b"k", &[0xc4]),
            "Unknown RDB string encoding type 4",
        ),
        (
            rec(RDB_TYPE_STRING, b"k", &[0x82]),
            "Unknown length encoding",
        ),
        (
            rec(RDB_TYPE_STRING, b"k", &[0xc3, 2, 0x40, 0xff, 0, b'a']),
            "Invalid LZF compressed string",
        ),
        (
            rec(RDB_TYPE_STRING, b"k", &[0xc3, 3, 10, 0x20, 5, 0]),
            "Invalid LZF compressed string",
        ),
    ];
    for (body, want) in cases {
        let e = load(&file(
            "REDIS0011",
            &[vec![RDB_OPCODE_SELECTDB, 0], body].concat(),
        ))
        .err()
        .unwrap();
        assert!(e.to_string().contains(want), "expected {want:?} in {e}");
    }
}
