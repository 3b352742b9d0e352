//! Valkey's compact blobs built from elements: listpacks (`listpack.c`) and intsets
//! (`intset.c`), as the RDB writer stores small collections, quicklist nodes and stream
//! nodes. forkv's in-memory listpack uses its own framing (see
//! `forkv_keyspace::types::listpack`), so the bytes Valkey would hold are rebuilt here.

use crate::len::parse_canonical_i64;

/// Builds a listpack in Valkey's encoding.
pub(crate) struct LpBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl LpBuilder {
    pub(crate) fn new() -> Self {
        LpBuilder { buf: vec![0; 6], count: 0 }
    }

    fn backlen(&mut self, l: usize) {
        let l = l as u64;
        let bytes: &[u64] = if l <= 127 {
            &[l]
        } else if l < 16383 {
            &[l >> 7, (l & 127) | 128]
        } else if l < 2_097_151 {
            &[l >> 14, ((l >> 7) & 127) | 128, (l & 127) | 128]
        } else if l < 268_435_455 {
            &[l >> 21, ((l >> 14) & 127) | 128, ((l >> 7) & 127) | 128, (l & 127) | 128]
        } else {
            &[l >> 28, ((l >> 21) & 127) | 128, ((l >> 14) & 127) | 128, ((l >> 7) & 127) | 128, (l & 127) | 128]
        };
        self.buf.extend(bytes.iter().map(|&b| b as u8));
    }

    pub(crate) fn int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = if v < 0 { ((1i64 << 13) + v) as u64 } else { v as u64 };
            self.buf.push(((u >> 8) as u8) | 0xC0);
            self.buf.push((u & 0xff) as u8);
        } else if let Ok(x) = i16::try_from(v) {
            self.buf.push(0xF1);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else if (-(1i64 << 23)..(1i64 << 23)).contains(&v) {
            self.buf.push(0xF2);
            self.buf.extend_from_slice(&v.to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            self.buf.push(0xF3);
            self.buf.extend_from_slice(&x.to_le_bytes());
        } else {
            self.buf.push(0xF4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        let l = self.buf.len() - start;
        self.backlen(l);
        self.count += 1;
    }

    /// A string; canonical integers are stored as integers, as `lpAppend` does.
    pub(crate) fn string(&mut self, s: &[u8]) {
        if s.len() <= 20 {
            if let Some(v) = parse_canonical_i64(s) {
                self.int(v);
                return;
            }
        }
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf.push(0xE0 | (n >> 8) as u8);
            self.buf.push((n & 0xff) as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let l = self.buf.len() - start;
        self.backlen(l);
        self.count += 1;
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Builds Valkey's intset blob from members given as canonical decimal integers in
/// ascending order: a little-endian header (`encoding`: bytes per slot 2, 4 or 8;
/// `length`), then the values little-endian.
///
/// The encoding is at least `min_width` (the set's own Valkey width: Valkey never narrows
/// an intset after a wide member is removed) and wide enough for every member.
pub(crate) fn intset_blob<'a>(members: impl Iterator<Item = &'a [u8]>, min_width: u8) -> Vec<u8> {
    let values: Vec<i64> = members.filter_map(parse_canonical_i64).collect();
    let needed: usize = if values.iter().all(|v| i16::try_from(*v).is_ok()) {
        2
    } else if values.iter().all(|v| i32::try_from(*v).is_ok()) {
        4
    } else {
        8
    };
    let width = needed.max(usize::from(min_width)).min(8);
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}
