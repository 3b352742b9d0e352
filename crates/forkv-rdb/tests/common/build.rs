//! Byte-level builders for RDB files and compact encodings, written from the format
//! description and independent of the crate's parsers (shared by the legacy-format and
//! corruption tests).
#![allow(dead_code)]

use forkv_rdb::consts::RDB_OPCODE_EOF;
use forkv_rdb::crc64::crc64;

/// An element of a compact encoding.
#[derive(Clone, Copy)]
pub enum E<'a> {
    S(&'a [u8]),
    I(i64),
}

pub fn len_prefix(n: usize) -> Vec<u8> {
    if n < 64 {
        vec![n as u8]
    } else if n < 16384 {
        vec![0x40 | (n >> 8) as u8, n as u8]
    } else {
        let mut v = vec![0x80];
        v.extend_from_slice(&(n as u32).to_be_bytes());
        v
    }
}

/// An RDB string, stored plainly.
pub fn s(b: &[u8]) -> Vec<u8> {
    let mut v = len_prefix(b.len());
    v.extend_from_slice(b);
    v
}

/// An RDB string stored LZF-compressed (compressed with a literal-only stream, which
/// every LZF decoder accepts).
pub fn s_lzf(b: &[u8]) -> Vec<u8> {
    let mut packed = Vec::new();
    for chunk in b.chunks(32) {
        packed.push(chunk.len() as u8 - 1);
        packed.extend_from_slice(chunk);
    }
    let mut v = vec![0xc3];
    v.extend(len_prefix(packed.len()));
    v.extend(len_prefix(b.len()));
    v.extend(packed);
    v
}

pub fn ziplist(items: &[E]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut prev = 0usize;
    let mut last = 0usize;
    for item in items {
        let start = entries.len();
        last = start;
        if prev < 254 {
            entries.push(prev as u8);
        } else {
            entries.push(0xfe);
            entries.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match *item {
            E::S(b) => {
                if b.len() <= 63 {
                    entries.push(b.len() as u8);
                } else if b.len() <= 16383 {
                    entries.push(0x40 | (b.len() >> 8) as u8);
                    entries.push(b.len() as u8);
                } else {
                    entries.push(0x80);
                    entries.extend_from_slice(&(b.len() as u32).to_be_bytes());
                }
                entries.extend_from_slice(b);
            }
            E::I(v) => {
                if (0..=12).contains(&v) {
                    entries.push(0xf1 + v as u8);
                } else if let Ok(x) = i8::try_from(v) {
                    entries.push(0xfe);
                    entries.push(x as u8);
                } else if let Ok(x) = i16::try_from(v) {
                    entries.push(0xc0);
                    entries.extend_from_slice(&x.to_le_bytes());
                } else if (-(1 << 23)..(1 << 23)).contains(&v) {
                    entries.push(0xf0);
                    entries.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                } else if let Ok(x) = i32::try_from(v) {
                    entries.push(0xd0);
                    entries.extend_from_slice(&x.to_le_bytes());
                } else {
                    entries.push(0xe0);
                    entries.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        prev = entries.len() - start;
    }
    let mut zl = Vec::new();
    zl.extend_from_slice(&((10 + entries.len() + 1) as u32).to_le_bytes());
    zl.extend_from_slice(&((10 + last) as u32).to_le_bytes());
    zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
    zl.extend(entries);
    zl.push(0xff);
    zl
}

pub fn listpack(items: &[E]) -> Vec<u8> {
    let mut entries = Vec::new();
    for item in items {
        let start = entries.len();
        match *item {
            E::S(b) => {
                if b.len() < 64 {
                    entries.push(0x80 | b.len() as u8);
                } else if b.len() < 4096 {
                    entries.push(0xe0 | (b.len() >> 8) as u8);
                    entries.push(b.len() as u8);
                } else {
                    entries.push(0xf0);
                    entries.extend_from_slice(&(b.len() as u32).to_le_bytes());
                }
                entries.extend_from_slice(b);
            }
            E::I(v) => {
                if (0..=127).contains(&v) {
                    entries.push(v as u8);
                } else if (-4096..4096).contains(&v) {
                    let u = (v as u16) & 0x1fff;
                    entries.push(0xc0 | (u >> 8) as u8);
                    entries.push(u as u8);
                } else if let Ok(x) = i16::try_from(v) {
                    entries.push(0xf1);
                    entries.extend_from_slice(&x.to_le_bytes());
                } else if (-(1 << 23)..(1 << 23)).contains(&v) {
                    entries.push(0xf2);
                    entries.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                } else if let Ok(x) = i32::try_from(v) {
                    entries.push(0xf3);
                    entries.extend_from_slice(&x.to_le_bytes());
                } else {
                    entries.push(0xf4);
                    entries.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        let l = entries.len() - start;
        // Back-length: most significant 7-bit group first; every byte after the first
        // has its top bit set, so it can be read from the end.
        let mut groups = vec![(l & 127) as u8];
        let mut rest = l >> 7;
        while rest > 0 {
            groups.push((rest & 127) as u8);
            rest >>= 7;
        }
        groups.reverse();
        for (i, g) in groups.iter().enumerate() {
            entries.push(if i == 0 { *g } else { g | 128 });
        }
    }
    let mut lp = Vec::new();
    lp.extend_from_slice(&((6 + entries.len() + 1) as u32).to_le_bytes());
    lp.extend_from_slice(&(items.len() as u16).to_le_bytes());
    lp.extend(entries);
    lp.push(0xff);
    lp
}

pub fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let len = |n: usize, out: &mut Vec<u8>| {
        if n < 254 {
            out.push(n as u8);
        } else {
            out.push(254);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
    };
    let mut zm = vec![pairs.len() as u8];
    for (f, v) in pairs {
        len(f.len(), &mut zm);
        zm.extend_from_slice(f);
        len(v.len(), &mut zm);
        zm.push(0);
        zm.extend_from_slice(v);
    }
    zm.push(0xff);
    zm
}

pub fn intset(width: usize, values: &[i64]) -> Vec<u8> {
    let mut is = Vec::new();
    is.extend_from_slice(&(width as u32).to_le_bytes());
    is.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        is.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    is
}

/// A whole file: magic, records, EOF, and the CRC from version 5 on.
pub fn file(magic: &str, body: &[u8]) -> Vec<u8> {
    let mut f = magic.as_bytes().to_vec();
    f.extend_from_slice(body);
    f.push(RDB_OPCODE_EOF);
    let version: u32 = magic
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap();
    if version >= 5 {
        let crc = crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
    }
    f
}

/// A key record: type, key, value bytes.
pub fn rec(t: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut r = vec![t];
    r.extend(s(key));
    r.extend_from_slice(value);
    r
}
