//! Writing a keyspace and loading the file back gives the same keyspace.
#![allow(clippy::unwrap_used)]

mod common;

use std::io;

use common::{assert_same, sample_keyspace, snapshot};
use forkv_keyspace::{Keyspace, StrValue, Value};
use forkv_rdb::consts::*;
use forkv_rdb::{
    load_rdb, value_type, write_rdb, write_value, LoadOptions, SaveProgress, WriteOptions,
};

fn write(ks: &Keyspace, opts: &WriteOptions) -> Vec<u8> {
    let mut out = Vec::new();
    let stats = write_rdb(&mut out, ks, opts, &mut |_| Ok(())).unwrap();
    assert_eq!(stats.bytes_written as usize, out.len());
    out
}

fn load(bytes: &[u8]) -> Keyspace {
    let mut ks = Keyspace::new(16);
    load_rdb(bytes, &mut ks, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    ks
}

#[test]
fn every_type_survives_a_round_trip() {
    let ks = sample_keyspace(true);
    let want = snapshot(&ks);
    for (version, compression, checksum) in [(10, true, true), (10, false, true), (10, true, false), (10, false, false), (9, true, true), (9, false, true), (11, true, true), (11, false, true)] {
        let opts = WriteOptions {
            version,
            compression,
            checksum,
            ..WriteOptions::default()
        };
        let bytes = write(&ks, &opts);
        assert_same(&want, &snapshot(&load(&bytes)));
        let trailer = &bytes[bytes.len() - 8..];
        assert_eq!(trailer == [0u8; 8], !checksum);
    }
}

#[test]
fn compression_shrinks_the_file() {
    let ks = sample_keyspace(true);
    let packed = write(&ks, &WriteOptions::default());
    let plain = write(
        &ks,
        &WriteOptions {
            compression: false,
            ..WriteOptions::default()
        },
    );
    // The 1 MiB pattern compresses; the 1 MiB of noise does not.
    assert!(
        packed.len() + 500_000 < plain.len(),
        "{} vs {}",
        packed.len(),
        plain.len()
    );
    assert!(packed.len() > 1 << 20);
}

#[test]
fn header_aux_and_trailer() {
    let ks = sample_keyspace(false);
    let opts = WriteOptions {
        ctime: Some(1_700_000_000),
        used_mem: 123_456,
        aof_base: true,
        extra_aux: vec![(b"custom".to_vec(), b"value with spaces".to_vec())],
        ..WriteOptions::default()
    };
    let bytes = write(&ks, &opts);
    assert_eq!(&bytes[..9], b"REDIS0010");
    let mut out = Keyspace::new(16);
    let stats = load_rdb(&bytes[..], &mut out, &LoadOptions::default()).unwrap();
    assert_eq!(stats.version, 10);
    assert_eq!(stats.aux_value("redis-ver"), Some(&b"7.2.4"[..]));
    assert_eq!(stats.aux_value("redis-bits"), Some(&b"64"[..]));
    assert_eq!(stats.aux_value("ctime"), Some(&b"1700000000"[..]));
    assert_eq!(stats.aux_value("used-mem"), Some(&b"123456"[..]));
    assert_eq!(stats.aux_value("aof-base"), Some(&b"1"[..]));
    assert_eq!(stats.aux_value("custom"), Some(&b"value with spaces"[..]));
    assert_eq!(stats.aux_value("custom"), Some(&b"value with spaces"[..]));
    assert!(
        stats.aux_value("forkv-ver").is_none(),
        "extra_aux replaced the default list"
    );
    assert_eq!(
        stats.checksum,
        Some(forkv_rdb::crc64::crc64(&bytes[..bytes.len() - 8]))
    );
    // Version 10: Valkey's compact forms where Redis 7.0 has them, plain types otherwise.
    let v10 = [
        RDB_TYPE_STRING,
        RDB_TYPE_LIST_QUICKLIST_2,
        RDB_TYPE_SET,
        RDB_TYPE_SET_INTSET,
        RDB_TYPE_HASH,
        RDB_TYPE_HASH_LISTPACK,
        RDB_TYPE_ZSET_2,
        RDB_TYPE_ZSET_LISTPACK,
    ];
    assert!(stats.types.keys().all(|t| v10.contains(t)), "{:?}", stats.types);
    // Version 9: only plain types.
    let bytes = write(&ks, &WriteOptions { version: 9, ..opts.clone() });
    let stats = load_rdb(&bytes[..], &mut Keyspace::new(16), &LoadOptions::default()).unwrap();
    let plain = [
        RDB_TYPE_STRING,
        RDB_TYPE_LIST,
        RDB_TYPE_SET,
        RDB_TYPE_HASH,
        RDB_TYPE_ZSET_2,
    ];
    assert!(
        stats.types.keys().all(|t| plain.contains(t)),
        "{:?}",
        stats.types
    );
    assert_eq!(stats.types.len(), plain.len());

    for v in [10, 11] {
        let bytes = write(
            &ks,
            &WriteOptions {
                version: v,
                ..WriteOptions::default()
            },
        );
        assert_eq!(&bytes[..9], format!("REDIS00{v}").as_bytes());
        assert_same(&snapshot(&ks), &snapshot(&load(&bytes)));
    }
    for v in [8, 12, 80] {
        let e = write_rdb(
            Vec::new(),
            &ks,
            &WriteOptions {
                version: v,
                ..WriteOptions::default()
            },
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

#[test]
fn integers_are_stored_as_integers() {
    let mut ks = Keyspace::new(1);
    ks.put(0, b"k", Value::string(b"-2147483648"), None);
    let bytes = write(
        &ks,
        &WriteOptions {
            extra_aux: vec![],
            ..WriteOptions::default()
        },
    );
    // type 0, key "k", then INT32 encoding 0xC2 and the value little-endian.
    let record = [RDB_TYPE_STRING, 1, b'k', 0xc2, 0x00, 0x00, 0x00, 0x80];
    assert!(
        bytes.windows(record.len()).any(|w| w == record),
        "{bytes:02x?}"
    );
    assert!(matches!(
        ks.db(0).keys.get_ref(&b"k"[..]).as_deref(),
        Some(Value::Str(StrValue::Int(_)))
    ));
}

#[test]
fn empty_keyspace() {
    let ks = Keyspace::new(16);
    // A fixed ctime: with the clock's, a 0xFE byte inside the timestamp made the
    // no-SELECTDB check below fail about one run in a hundred.
    let opts = WriteOptions { ctime: Some(1_700_000_000), ..WriteOptions::default() };
    let bytes = write(&ks, &opts);
    let mut out = Keyspace::new(16);
    let stats = load_rdb(&bytes[..], &mut out, &LoadOptions::default()).unwrap();
    assert_eq!(stats.keys_loaded, 0);
    assert!(!bytes.contains(&RDB_OPCODE_SELECTDB));
}

#[test]
fn hook_sees_every_key_and_can_abort() {
    let ks = sample_keyspace(false);
    let total: usize = (0..ks.db_count()).map(|d| ks.db(d).keys.len()).sum();
    let mut seen = Vec::new();
    let stats = write_rdb(
        Vec::new(),
        &ks,
        &WriteOptions::default(),
        &mut |p: SaveProgress| {
            seen.push(p.keys_done);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, (1..=total as u64).collect::<Vec<_>>());
    assert_eq!(stats.keys_written, total as u64);

    let e = write_rdb(
        Vec::new(),
        &ks,
        &WriteOptions::default(),
        &mut |p: SaveProgress| {
            if p.keys_done == 3 {
                Err(io::Error::other("stop"))
            } else {
                Ok(())
            }
        },
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "stop");
}

#[test]
fn write_errors_propagate() {
    struct Full(usize);
    impl io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 < buf.len() {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let ks = sample_keyspace(true);
    let e = write_rdb(
        Full(100_000),
        &ks,
        &WriteOptions::default(),
        &mut |_| Ok(()),
    )
    .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull);
}

#[test]
fn expired_keys_are_written_and_skipped_at_load() {
    let mut ks = Keyspace::new(16);
    ks.put(0, b"old", Value::string(b"x"), Some(1_000));
    ks.put(0, b"new", Value::string(b"y"), Some(common::FUTURE));
    let bytes = write(&ks, &WriteOptions::default());
    let mut out = Keyspace::new(16);
    let stats = load_rdb(&bytes[..], &mut out, &LoadOptions::default()).unwrap();
    assert_eq!((stats.keys_loaded, stats.expired_skipped), (1, 1));
    let mut out = Keyspace::new(16);
    let opts = LoadOptions {
        now_ms: Some(500),
        ..LoadOptions::default()
    };
    let stats = load_rdb(&bytes[..], &mut out, &opts).unwrap();
    assert_eq!((stats.keys_loaded, stats.expired_skipped), (2, 0));
    assert_eq!(out.db(0).expires.get(&b"old"[..]), Some(&1_000));
}

#[test]
fn expired_keys_are_named_when_recorded() {
    let mut ks = Keyspace::new(16);
    ks.put(0, b"old0", Value::string(b"x"), Some(1_000));
    ks.put(3, b"old3", Value::string(b"x"), Some(1_000));
    ks.put(3, b"live", Value::string(b"y"), Some(common::FUTURE));
    let bytes = write(&ks, &WriteOptions::default());
    let mut out = Keyspace::new(16);
    let stats = load_rdb(&bytes[..], &mut out, &LoadOptions::default()).unwrap();
    assert!(stats.expired_keys.is_empty(), "not recorded unless asked");
    let mut out = Keyspace::new(16);
    let opts = LoadOptions { record_expired: true, ..LoadOptions::default() };
    let stats = load_rdb(&bytes[..], &mut out, &opts).unwrap();
    let named: Vec<(usize, &[u8])> = stats.expired_keys.iter().map(|(db, k)| (*db, &k[..])).collect();
    assert_eq!(named, vec![(0, &b"old0"[..]), (3, &b"old3"[..])]);
    assert_eq!((stats.keys_loaded, stats.expired_skipped), (1, 2));
}

#[test]
fn write_value_matches_the_file_body() {
    let ks = sample_keyspace(false);
    let bytes = write(&ks, &WriteOptions::default());
    for (key, value) in ks.db(0).keys.iter_ref() {
        let mut body = Vec::new();
        write_value(&mut body, &value, true).unwrap();
        let mut record = vec![value_type(&value)];
        // Keys in the sample are short and not integers: a 1-byte length prefix.
        if key.len() < 64 && forkv_rdb::len::parse_canonical_i64(key).is_none() && key.len() <= 20 {
            record.push(key.len() as u8);
            record.extend_from_slice(key);
            record.extend_from_slice(&body);
            assert!(
                bytes.windows(record.len()).any(|w| w == &record[..]),
                "record of {key:?} not found"
            );
        }
    }
}

#[test]
fn loading_does_not_count_as_changes() {
    let bytes = write(&sample_keyspace(false), &WriteOptions::default());
    let mut ks = Keyspace::new(16);
    ks.dirty = 7;
    load_rdb(&bytes[..], &mut ks, &LoadOptions::default()).unwrap();
    assert_eq!(ks.dirty, 7);
}

#[test]
fn idle_times_and_frequencies_survive_under_lru_and_lfu_policies() {
    use forkv_keyspace::EvictionPolicy;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut ks = Keyspace::new(16);
    ks.set_now(now);
    ks.set(0, b"k", Value::Str(StrValue::from_bytes(b"v")), false);
    // No eviction policy: no eviction data is written (Valkey's files neither).
    ks.set_idle_seconds(0, b"k", 1000);
    let plain = write(&ks, &WriteOptions::default());
    ks.set_eviction_policy(EvictionPolicy::AllkeysLru);
    let lru = write(&ks, &WriteOptions::default());
    assert_eq!(lru.len(), plain.len() + 3, "IDLE opcode + 2-byte length");
    let mut back = Keyspace::new(16);
    back.set_eviction_policy(EvictionPolicy::AllkeysLru);
    load_rdb(&lru[..], &mut back, &LoadOptions::default()).unwrap();
    back.set_now(now);
    let idle = back.idle_seconds(0, b"k").unwrap();
    assert!((1000..=1002).contains(&idle), "idle {idle}");

    ks.set_eviction_policy(EvictionPolicy::VolatileLfu);
    ks.set_frequency(0, b"k", 42);
    let lfu = write(&ks, &WriteOptions::default());
    assert_eq!(lfu.len(), plain.len() + 2, "FREQ opcode + 1 byte");
    let mut back = Keyspace::new(16);
    back.set_eviction_policy(EvictionPolicy::AllkeysLfu);
    load_rdb(&lfu[..], &mut back, &LoadOptions::default()).unwrap();
    back.set_now(now);
    assert_eq!(back.frequency(0, b"k"), Some(42));
}

#[test]
fn resizedb_hints_size_the_tables_up_to_the_callers_bound() {
    let mut ks = Keyspace::new(16);
    for i in 0..1000 {
        ks.put(0, format!("k{i}").as_bytes(), Value::string(b"v"), (i < 10).then_some(i64::MAX / 2));
    }
    let bytes = write(&ks, &WriteOptions::default());
    let load_with = |size_hint_max: u64| {
        let mut fresh = Keyspace::new(16);
        let opts = LoadOptions { size_hint_max, ..LoadOptions::default() };
        load_rdb(&bytes[..], &mut fresh, &opts).unwrap();
        fresh
    };
    let hinted = load_with(1 << 20);
    assert_eq!(hinted.db(0).keys.bucket_count(), 1024, "sized once for the 1000 keys");
    assert_eq!(hinted.db(0).expires.bucket_count(), 16, "and the 10 TTLs");
    assert!(!hinted.db(0).keys.is_rehashing());
    let capped = load_with(100);
    assert!(capped.db(0).keys.bucket_count() >= 1024, "past the bound the table grows as it fills");
    assert_eq!(capped.len(0), 1000);
    let ignored = load_with(0);
    assert_eq!(ignored.len(0), 1000);
    assert_eq!(snapshot(&hinted), snapshot(&ignored), "the same data whatever the hint");
}

#[test]
fn a_file_without_data_keeps_the_aux_fields_and_the_libraries() {
    // A replica's `REPLCONF rdb-filter-only functions` (valkey-cli --functions-rdb).
    let ks = sample_keyspace(true);
    let lib = b"#!lua name=lib1\nserver.register_function('f', function() return 1 end)".to_vec();
    // A fixed ctime and used-mem: no AUX byte can look like the SELECTDB opcode.
    let opts = WriteOptions { functions: vec![lib.clone()], exclude_data: true, ctime: Some(0), used_mem: 0, ..WriteOptions::default() };
    let bytes = write(&ks, &opts);
    let mut loaded = Keyspace::new(16);
    let stats = load_rdb(&bytes[..], &mut loaded, &LoadOptions::default()).unwrap();
    assert_eq!(stats.functions, vec![lib]);
    assert!((0..loaded.db_count()).all(|i| loaded.len(i) == 0));
    assert!(!bytes.contains(&RDB_OPCODE_SELECTDB), "no database at all");
    assert!(bytes.len() < 400, "{} bytes", bytes.len());
}
