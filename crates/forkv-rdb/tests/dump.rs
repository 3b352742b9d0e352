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
        for (key, v) in ks.db(db).keys.iter_ref() {
            // Each version's forms (9 plain, 10 Redis 7.0's, 11 Valkey 8's) read back.
            for version in [9, 10, 11] {
                for compression in [true, false] {
                    let p = dump_payload_with(&v, version, compression);
                    let back = parse_dump_payload(&p).unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
                    assert_eq!(Canon::of(&back), Canon::of(&v), "{key:?} v{version}");
                }
            }
            let p = dump_payload(&v);
            assert_eq!(&p[p.len() - 10..p.len() - 8], &[10, 0], "footer version");
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
            &[10, 0],
            &crc64(&[&[0u8, 5][..], b"hello", &[10, 0]].concat()).to_le_bytes()
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

/// DUMP payloads of valkey-server 8.0.1 (footer version 11) for LZF-compressed strings:
/// the bytes before the footer must be ours, byte for byte (liblzf's compressor, ported).
#[test]
fn compressed_strings_are_valkeys_bytes() {
    let s2: Vec<u8> = (0..3000u64)
        .map(|i| if (i / 50) % 2 == 1 { b'a' + ((i * i * 7 + i / 3) % 26) as u8 } else { b"abcabcabd"[(i % 9) as usize] })
        .collect();
    let cases: [(&[u8], &str); 3] = [
        (b"the quick brown fox jumps over the lazy dog; the quick brown fox jumps over the lazy dog again and again", "00c3404240681f74686520717569636b2062726f776e20666f78206a756d7073206f7665722074201e086c617a7920646f673b600de01e2c0920616761696e20616e64400901696e0b0079beac95263582fe"),
        (&[b'q'; 100], "00c3094064017171e057000171710b001ea4936f7ce7d1a5"),
        (&s2, "00c341cb4bb80361626361400200646005200be018081f737972797564616d6c796170736b7069716c757364637172676b62676168636d056a7575686979e003264056e01b59e00123e0134de00d74203b2002e018bce00223e024c26074e0043ee01c6be10e10604de10e37e01e59e002e9e0134de10dace0043e4071e01711e109d3e01774e028620062e10f10e00dc26221203520b92002e01f08e0144de10cace01f59e00186a09be00c4de10d37603b2005e0216be3268021ac405fe024620063e024c263f5205f2002e021c5016361e10e10604de4054320c263324035e024620062e0134de40db82098e025620064809be00d4de50d2de028620061e10e10e01274209820fe6002e01e08e0134de20dbde01f59e00186e10e10e6113e0070e01ebce001620061e0134da248e10637e0043e2041e019d7e10e10e212bd4056e01b59e00223e0124de008c26332203b2002e12331e10e10604de20dbde028620062e0134de10dfae027c5016264e10e10e00dc26074403560cbe02108e0124de10efae02862809be00e4de10cace02962e925bf4074e127282152e023c2626f60352038e0216b809be30f0be10bac405fe02462a09be00d4da248e006e9205f2002e021c52383e023c220740172670b00ba200584ef0d34f6"),
    ];
    for (value, hex) in cases {
        let valkey = unhex(hex);
        let ours = dump_payload(&Value::string(value));
        assert_eq!(ours[..ours.len() - 10], valkey[..valkey.len() - 10], "{}", String::from_utf8_lossy(&value[..20]));
    }
}
