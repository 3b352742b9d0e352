//! DUMP payloads without a server: captured redis-server 7.0 payloads, our own payloads,
//! and the footer checks.
#![allow(clippy::unwrap_used)]

mod common;

use common::{sample_keyspace, unhex, Canon};
use forkv_keyspace::Value;
use forkv_rdb::crc64::crc64;
use forkv_rdb::{dump_payload, dump_payload_with, parse_dump_payload, RdbErrorKind};

/// `DUMP` replies of redis-server 7.0.15 (RDB version 10 in the footer), captured with
/// `redis-cli --raw dump key`. Both values are LZF-compressed by liblzf.
const REDIS_PAYLOADS: &[(&str, &[u8])] = &[
    ("00c309408c016161e07f000161610a00dbae4a79a2ec27d5", &[b'a'; 140]),
    (
        "00c3404240681f74686520717569636b2062726f776e20666f78206a756d7073206f7665722074201e086c617a7920646f673b600de01e2c0920616761696e20616e64400901696e0a00106111e6dbaa6b77",
        b"the quick brown fox jumps over the lazy dog; the quick brown fox jumps over the lazy dog again and again",
    ),
];

fn set_footer(p: &mut [u8], version: u16) {
    let n = p.len();
    p[n - 10..n - 8].copy_from_slice(&version.to_le_bytes());
    let crc = crc64(&p[..n - 8]);
    p[n - 8..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn liblzf_payloads_from_redis_parse() {
    for (hex, want) in REDIS_PAYLOADS {
        let v = parse_dump_payload(&unhex(hex)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Canon::of(&v), Canon::Str(want.to_vec()));
    }
}

#[test]
fn our_payloads_round_trip_for_every_sample_value() {
    let ks = sample_keyspace(true);
    for db in 0..ks.db_count() {
        for (key, v) in ks.db(db).keys.iter() {
            for compression in [true, false] {
                let p = dump_payload_with(v, 9, compression);
                let back = parse_dump_payload(&p).unwrap_or_else(|e| panic!("{key:?}: {e}"));
                assert_eq!(Canon::of(&back), Canon::of(v), "{key:?}");
            }
            let p = dump_payload(v);
            assert_eq!(&p[p.len() - 10..p.len() - 8], &[9, 0], "footer version");
        }
    }
}

#[test]
fn footer_is_checked() {
    let good = dump_payload(&Value::string(b"hello"));
    assert_eq!(
        good,
        [
            &[0u8, 5][..],
            b"hello",
            &[9, 0],
            &crc64(&[&[0u8, 5][..], b"hello", &[9, 0]].concat()).to_le_bytes()
        ]
        .concat()
    );
    // (Not `good[1..]`: with an initial value of 0, a leading zero byte does not change
    // CRC-64/Jones, a known blind spot of this checksum.)
    for bad in [
        vec![],
        vec![0; 9],
        good[2..].to_vec(),
        good[..good.len() - 1].to_vec(),
    ] {
        let e = parse_dump_payload(&bad).err().unwrap();
        assert!(matches!(e.kind, RdbErrorKind::DumpVersionOrChecksum), "{e}");
        assert_eq!(e.message(), "DUMP payload version or checksum are wrong");
    }
    for (version, ok) in [
        (0u16, false),
        (1, true),
        (11, true),
        (12, false),
        (79, false),
        (80, true),
        (81, true),
        (82, false),
    ] {
        let mut p = good.clone();
        set_footer(&mut p, version);
        assert_eq!(parse_dump_payload(&p).is_ok(), ok, "version {version}");
    }
}

#[test]
fn bad_bodies_are_bad_data_not_footer_errors() {
    let cases: &[&[u8]] = &[
        &[0, 6, b'h'],       // string shorter than declared
        &[0, 1, b'a', b'b'], // trailing byte
        &[1, 0],             // empty list
        &[15, 0],            // stream
        &[200, 0],           // unknown type
        &[],                 // no type byte
    ];
    for body in cases {
        let mut p = body.to_vec();
        p.extend_from_slice(&[0; 10]);
        set_footer(&mut p, 9);
        let e = parse_dump_payload(&p).err().unwrap();
        assert!(
            !matches!(e.kind, RdbErrorKind::DumpVersionOrChecksum),
            "{body:?}: {e}"
        );
    }
}
