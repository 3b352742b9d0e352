//! Listpack: the compact encoding of Redis 7.0+ and Valkey (RDB types 16, 17, 20 and the
//! packed nodes of 18).
//!
//! Layout (spec: antirez/listpack `listpack.md`; all little-endian):
//!
//! ```text
//! <total bytes u32> <count u16, 65535 = unknown> <entry> ... <entry> <0xFF>
//! entry = <encoding + data> <backlen>
//! ```
//!
//! Encodings (first byte): `0xxxxxxx` 7-bit unsigned integer; `10xxxxxx` string up to 63
//! bytes; `110xxxxx yyyyyyyy` 13-bit signed integer; `1110xxxx yyyyyyyy` string with a
//! 12-bit length; `0xF0` + u32 length string; `0xF1`/`F2`/`F3`/`F4` 16/24/32/64-bit
//! signed integers. `backlen` is the size of encoding + data, written so it can be read
//! from its last byte backwards: 7 bits per byte, every byte but the first in memory
//! having its top bit set, at most 5 bytes.

use super::{le_u16, le_u32, EncodingError, Item};

const HEADER: usize = 6;
const EOF: u8 = 0xFF;

/// Walks a listpack, calling `f` for every entry in order, and returns the entry count.
///
/// Checks what Valkey's `lpValidateIntegrity` (deep) checks: total size, end byte, every
/// entry and its back-length inside the blob, each back-length equal to its entry's size,
/// the walk ending exactly at the end byte, and the header count.
pub fn for_each<'a, E: From<EncodingError>>(
    lp: &'a [u8],
    mut f: impl FnMut(Item<'a>) -> Result<(), E>,
) -> Result<usize, E> {
    let err = |what, at| E::from(EncodingError::new(what, at));
    if lp.len() < HEADER + 1 {
        return Err(err("listpack shorter than its header", 0));
    }
    let total = le_u32(lp, 0).ok_or_else(|| err("listpack header", 0))? as usize;
    if total != lp.len() {
        return Err(err("listpack size field does not match the blob size", 0));
    }
    let last = lp.len() - 1;
    if lp.get(last) != Some(&EOF) {
        return Err(err("listpack does not end with 0xFF", last));
    }
    let header_count = le_u16(lp, 4).ok_or_else(|| err("listpack header", 4))?;

    let mut p = HEADER;
    let mut count = 0usize;
    while let Some(&b) = lp.get(p) {
        if b == EOF {
            break;
        }
        let (item, size) = entry(lp, p, last).map_err(|what| err(what, p))?;
        let backlen_size = backlen_bytes(size);
        let next = (p + size)
            .checked_add(backlen_size)
            .filter(|&n| n <= last)
            .ok_or_else(|| err("listpack entry runs past the end", p))?;
        if decode_backlen(lp, next - 1, p) != Some(size) {
            return Err(err(
                "listpack back-length does not match the entry",
                next - 1,
            ));
        }
        f(item)?;
        count += 1;
        p = next;
    }
    if p != last {
        return Err(err("listpack entries do not end at the end byte", p));
    }
    if header_count != u16::MAX && usize::from(header_count) != count {
        return Err(err("listpack entry count does not match its header", 4));
    }
    Ok(count)
}

/// Decodes the entry at `p` (not the end byte): its value and the size of encoding + data.
/// Everything read must lie before `last` (the end byte).
fn entry(lp: &[u8], p: usize, last: usize) -> Result<(Item<'_>, usize), &'static str> {
    let byte = |i: usize| {
        lp.get(p + i)
            .copied()
            .filter(|_| p + i < last)
            .ok_or("listpack entry header runs past the end")
    };
    let b = byte(0)?;
    let int = |n: usize| -> Result<i64, &'static str> {
        let mut v: u64 = 0;
        for i in 0..n {
            v |= u64::from(byte(1 + i)?) << (8 * i);
        }
        let shift = 64 - 8 * n as u32;
        Ok(((v << shift) as i64) >> shift)
    };
    let string = |hdr: usize, len: usize| -> Result<(Item<'_>, usize), &'static str> {
        let end = (p + hdr)
            .checked_add(len)
            .filter(|&e| e <= last)
            .ok_or("listpack string runs past the end")?;
        let s = lp
            .get(p + hdr..end)
            .ok_or("listpack string runs past the end")?;
        Ok((Item::Str(s), hdr + len))
    };
    match b {
        0x00..=0x7F => Ok((Item::Int(i64::from(b)), 1)),
        0x80..=0xBF => string(1, usize::from(b & 0x3f)),
        0xC0..=0xDF => {
            let u = (u16::from(b & 0x1f) << 8) | u16::from(byte(1)?);
            // 13-bit two's complement.
            let v = if u >= 1 << 12 {
                i64::from(u) - (1 << 13)
            } else {
                i64::from(u)
            };
            Ok((Item::Int(v), 2))
        }
        0xE0..=0xEF => string(2, (usize::from(b & 0x0f) << 8) | usize::from(byte(1)?)),
        0xF0 => {
            let len = u32::from_le_bytes([byte(1)?, byte(2)?, byte(3)?, byte(4)?]);
            string(5, len as usize)
        }
        0xF1 => Ok((Item::Int(int(2)?), 3)),
        0xF2 => Ok((Item::Int(int(3)?), 4)),
        0xF3 => Ok((Item::Int(int(4)?), 5)),
        0xF4 => Ok((Item::Int(int(8)?), 9)),
        _ => Err("listpack entry has an invalid encoding"),
    }
}

/// Bytes needed for the back-length of an entry of `size` bytes.
fn backlen_bytes(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Reads a back-length whose last byte is at `at`, never reading before `floor`.
fn decode_backlen(lp: &[u8], at: usize, floor: usize) -> Option<usize> {
    let mut v: u64 = 0;
    let mut shift = 0;
    let mut i = at;
    loop {
        let b = *lp.get(i)?;
        v |= u64::from(b & 127) << shift;
        if b & 128 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 || i <= floor {
            return None;
        }
        i -= 1;
    }
    usize::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(lp: &[u8]) -> Result<Vec<Vec<u8>>, EncodingError> {
        let mut out = Vec::new();
        for_each(lp, |item: Item<'_>| {
            out.push(item.with_bytes(|b| b.to_vec()));
            Ok::<(), EncodingError>(())
        })?;
        Ok(out)
    }

    #[test]
    fn bytes_written_by_redis_7() {
        // A hash {f: v} as redis-server 7.0 saved it: entries "f" and "v".
        let lp = [0x0d, 0, 0, 0, 2, 0, 0x81, b'f', 2, 0x81, b'v', 2, 0xff];
        assert_eq!(
            collect(&lp).expect("valid"),
            vec![b"f".to_vec(), b"v".to_vec()]
        );
        // A zset listpack: "m" 1.5 "n" 2 (the score 2 as a 7-bit integer).
        let lp = [
            0x14, 0, 0, 0, 4, 0, 0x81, b'm', 2, 0x83, b'1', b'.', b'5', 4, 0x81, b'n', 2, 2, 1,
            0xff,
        ];
        assert_eq!(
            collect(&lp).expect("valid"),
            [&b"m"[..], b"1.5", b"n", b"2"].map(|s| s.to_vec()).to_vec()
        );
    }

    #[test]
    fn integer_encodings() {
        // 13-bit -1 is 0x1fff: bytes DF FF; 16-bit -2: F1 FE FF.
        let lp = [14, 0, 0, 0, 2, 0, 0xdf, 0xff, 2, 0xf1, 0xfe, 0xff, 3, 0xff];
        assert_eq!(
            collect(&lp).expect("valid"),
            vec![b"-1".to_vec(), b"-2".to_vec()]
        );
    }

    #[test]
    fn back_length_sizes() {
        assert_eq!(backlen_bytes(127), 1);
        assert_eq!(backlen_bytes(128), 2);
        assert_eq!(backlen_bytes(16383), 3);
        // A 200-byte entry's back-length is [200 >> 7, (200 & 127) | 128].
        let buf = [0u8, 1, 200 & 127 | 128];
        assert_eq!(decode_backlen(&buf, 2, 0), Some(200));
    }

    #[test]
    fn rejects_corruption() {
        let good = [0x0d, 0, 0, 0, 2, 0, 0x81, b'f', 2, 0x81, b'v', 2, 0xff];
        for (i, v) in [(0, 0x0e), (4, 3), (8, 3), (6, 0x85), (12, 0), (6, 0xf5)] {
            let mut bad = good;
            bad[i] = v;
            assert!(collect(&bad).is_err(), "byte {i} = {v:#x}");
        }
        assert!(collect(&good[..12]).is_err());
        assert!(collect(&[7, 0, 0, 0, 0, 0, 0xff])
            .expect("empty is valid")
            .is_empty());
    }
}
