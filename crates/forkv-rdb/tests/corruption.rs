//! Damaged input is an error, never a panic, and never a large allocation.
//!
//! A counting global allocator records the largest single allocation made while these
//! tests run: every input here is a few kilobytes, so nothing should come near the cap,
//! whatever lengths the damaged bytes declare.
#![allow(clippy::unwrap_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::build::*;
use common::{sample_keyspace, Rng};
use forkv_keyspace::Keyspace;
use forkv_rdb::consts::*;
use forkv_rdb::{
    dump_payload, load_rdb, parse_dump_payload, write_rdb, LoadOptions, RdbError, RdbErrorKind,
    WriteOptions,
};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Biggest allocation any damaged input may cause: the 1 MiB read-ahead cap plus slack.
const ALLOC_CAP: usize = 3 << 20;

fn assert_small_allocations() {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest <= ALLOC_CAP, "an allocation of {largest} bytes");
    // The reader's 64 KiB input buffer was seen: the counting allocator is in use.
    assert!(
        largest >= 64 * 1024,
        "largest allocation only {largest} bytes"
    );
}

fn try_load(bytes: &[u8]) -> Result<(), RdbError> {
    let mut ks = Keyspace::new(16);
    let opts = LoadOptions {
        verify_checksum: false,
        now_ms: Some(0),
        ..LoadOptions::default()
    };
    load_rdb(bytes, &mut ks, &opts).map(|_| ())
}

/// A small file with every type written by the crate, checksum off.
fn small_file() -> Vec<u8> {
    let mut out = Vec::new();
    let opts = WriteOptions {
        checksum: false,
        ..WriteOptions::default()
    };
    write_rdb(&mut out, &sample_keyspace(false), &opts, &mut |_| Ok(())).unwrap();
    out
}

/// A small file made of compact encodings (ziplist, listpack, intset, zipmap, quicklists,
/// LZF strings) as other servers write them.
fn compact_file() -> Vec<u8> {
    let mut body = vec![RDB_OPCODE_SELECTDB, 0];
    let items = [
        E::S(b"alpha"),
        E::I(7),
        E::I(-300),
        E::I(70_000),
        E::I(1 << 40),
        E::S(&[b'z'; 70]),
    ];
    body.extend(rec(RDB_TYPE_LIST_ZIPLIST, b"zl", &s(&ziplist(&items))));
    body.extend(rec(RDB_TYPE_SET_LISTPACK, b"sl", &s(&listpack(&items))));
    body.extend(rec(
        RDB_TYPE_SET_INTSET,
        b"is",
        &s(&intset(4, &[-9, 1, 100_000])),
    ));
    body.extend(rec(
        RDB_TYPE_HASH_ZIPMAP,
        b"zm",
        &s(&zipmap(&[(b"f", b"v"), (b"g", &[b'w'; 40])])),
    ));
    body.extend(rec(
        RDB_TYPE_HASH_LISTPACK,
        b"hl",
        &s(&listpack(&[E::S(b"f"), E::I(1), E::S(b"g"), E::S(b"h")])),
    ));
    body.extend(rec(
        RDB_TYPE_ZSET_ZIPLIST,
        b"zz",
        &s(&ziplist(&[E::S(b"m"), E::S(b"1.5"), E::S(b"n"), E::I(2)])),
    ));
    let mut q = vec![2, 2];
    q.extend(s_lzf(&listpack(&items)));
    q.push(1);
    q.extend(s(b"plain node"));
    body.extend(rec(RDB_TYPE_LIST_QUICKLIST_2, b"q2", &q));
    let mut q = vec![1];
    q.extend(s_lzf(&ziplist(&items)));
    body.extend(rec(RDB_TYPE_LIST_QUICKLIST, b"q1", &q));
    body.extend(rec(RDB_TYPE_STRING, b"lzf", &s_lzf(&[b'q'; 100])));
    file("REDIS0011", &body)
}

#[test]
fn every_truncation_is_an_error() {
    for base in [small_file(), compact_file()] {
        try_load(&base).unwrap();
        for cut in 0..base.len() {
            let e = try_load(&base[..cut])
                .err()
                .unwrap_or_else(|| panic!("prefix of {cut} bytes loaded"));
            assert!(e.to_string().contains("offset"), "{e}");
            assert!(
                e.offset <= cut as u64,
                "offset {} past the {cut} bytes",
                e.offset
            );
        }
    }
    assert_small_allocations();
}

#[test]
fn truncation_mid_file_reports_valkeys_short_read_message() {
    let base = small_file();
    let e = try_load(&base[..base.len() / 2]).err().unwrap();
    assert!(matches!(e.kind, RdbErrorKind::UnexpectedEof), "{e}");
    assert!(
        e.to_string()
            .starts_with("Short read or OOM loading DB. Unrecoverable error, aborting now."),
        "{e}"
    );
}

#[test]
fn every_single_byte_change_is_survived() {
    for base in [small_file(), compact_file()] {
        for pos in 0..base.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut bad = base.clone();
                bad[pos] ^= x;
                let _ = try_load(&bad);
            }
            for v in [0x00u8, 0x3f, 0x40, 0x80, 0x81, 0xc0, 0xc3, 0xfe, 0xff] {
                let mut bad = base.clone();
                bad[pos] = v;
                let _ = try_load(&bad);
            }
        }
    }
    assert_small_allocations();
}

#[test]
fn random_mutations_never_panic() {
    let bases = [small_file(), compact_file()];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..100_000 {
        let mut bad = bases[rng.below(2) as usize].clone();
        for _ in 0..=rng.below(3) {
            let len = bad.len() as u64;
            let pos = rng.below(len) as usize;
            match rng.below(7) {
                0 => bad[pos] ^= 1 << rng.below(8),
                1 => bad[pos] = rng.next() as u8,
                2 => bad.truncate(pos),
                3 => {
                    let n = rng.below(8) as usize;
                    let junk = rng.bytes(n);
                    bad.splice(pos..pos, junk);
                }
                4 => {
                    let end = (pos + rng.below(16) as usize).min(bad.len());
                    bad.drain(pos..end);
                }
                5 => {
                    // A 32-bit big-endian length marker followed by a huge value.
                    let end = (pos + 5).min(bad.len());
                    bad.splice(pos..end, [0x80, 0xff, 0xff, 0xff, 0xf0]);
                }
                _ => {
                    let end = (pos + 4).min(bad.len());
                    let v = [0u32, 1, 6, 7, 0xffff, u32::MAX][rng.below(6) as usize];
                    bad.splice(pos..end, v.to_le_bytes());
                }
            }
            if bad.is_empty() {
                break;
            }
        }
        let _ = try_load(&bad);
    }
    assert_small_allocations();
}

#[test]
fn huge_declared_lengths_fail_fast() {
    let huge_64 = [0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    let huge_32 = [0x80, 0xff, 0xff, 0xff, 0xff];
    let cases: Vec<Vec<u8>> = vec![
        // A string (key or value) claiming 2^63 or 4 GiB bytes.
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_STRING],
            huge_64.to_vec(),
            b"abc".to_vec(),
        ]
        .concat(),
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_STRING, 1, b'k'],
            huge_32.to_vec(),
            b"abc".to_vec(),
        ]
        .concat(),
        // Collections claiming billions of elements.
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_LIST, 1, b'k'],
            huge_64.to_vec(),
            s(b"one"),
        ]
        .concat(),
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_SET, 1, b'k'],
            huge_32.to_vec(),
            s(b"one"),
        ]
        .concat(),
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_HASH, 1, b'k'],
            huge_32.to_vec(),
            s(b"f"),
        ]
        .concat(),
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_ZSET_2, 1, b'k'],
            huge_32.to_vec(),
        ]
        .concat(),
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_LIST_QUICKLIST_2, 1, b'k'],
            huge_32.to_vec(),
            vec![2],
        ]
        .concat(),
        // LZF: a few compressed bytes claiming to expand to 4 GiB or 2^63.
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_STRING, 1, b'k', 0xc3, 2],
            huge_32.to_vec(),
            vec![0, b'a'],
        ]
        .concat(),
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_STRING, 1, b'k', 0xc3],
            huge_64.to_vec(),
            vec![1],
        ]
        .concat(),
        // Compact blobs whose headers claim more than they hold.
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_LIST_ZIPLIST, 1, b'k', 11],
            vec![0xff, 0xff, 0xff, 0x7f, 10, 0, 0, 0, 0, 0, 0xff],
        ]
        .concat(),
        [
            vec![RDB_OPCODE_SELECTDB, 0, RDB_TYPE_SET_INTSET, 1, b'k', 8],
            vec![8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        ]
        .concat(),
        // An AUX field with a huge name.
        [vec![RDB_OPCODE_AUX], huge_64.to_vec()].concat(),
    ];
    for body in cases {
        let bytes = file("REDIS0011", &body);
        let started = std::time::Instant::now();
        assert!(try_load(&bytes).is_err());
        assert!(started.elapsed().as_secs() < 2);
    }
    assert_small_allocations();
}

#[test]
fn mutated_dump_payloads_never_panic() {
    let ks = sample_keyspace(false);
    let mut rng = Rng(42);
    let payloads: Vec<Vec<u8>> = ks.db(0).keys.iter_ref().map(|(_, v)| dump_payload(&v)).collect();
    for _ in 0..20_000 {
        let mut p = payloads[rng.below(payloads.len() as u64) as usize].clone();
        let body = p.len() - 10;
        for _ in 0..=rng.below(2) {
            let pos = rng.below(body as u64) as usize;
            p[pos] = rng.next() as u8;
        }
        // Re-seal the footer so the body's structure is what gets tested.
        let crc = forkv_rdb::crc64::crc64(&p[..p.len() - 8]);
        let n = p.len();
        p[n - 8..].copy_from_slice(&crc.to_le_bytes());
        let _ = parse_dump_payload(&p);
    }
    assert_small_allocations();
}
