//! Ziplist: the compact list of Redis before 7.0 (RDB types 10, 12, 13 and the nodes of 14).
//!
//! Layout, all little-endian unless noted:
//!
//! ```text
//! <zlbytes u32> <zltail u32> <zllen u16> <entry> ... <entry> <0xFF>
//! entry = <prevlen: 1 byte if < 254, else 0xFE + u32> <encoding> <data>
//! ```
//!
//! `zltail` is the offset of the last entry; `zllen` the count, or 65535 for "count it".
//! Encodings (first byte): `00pppppp` string up to 63 bytes; `01pppppp qqqqqqqq` string
//! with a 14-bit big-endian length; `10______` + 4-byte big-endian length; `0xC0` int16,
//! `0xD0` int32, `0xE0` int64, `0xF0` int24, `0xFE` int8; `0xF1..=0xFD` the values 0 to 12
//! with no data bytes.

use super::{array, le_u16, le_u32, EncodingError, Item};

const HEADER: usize = 10;
const END: u8 = 0xFF;
const BIG_PREVLEN: u8 = 0xFE;

/// Walks a ziplist, calling `f` for every entry in order, and returns the entry count.
///
/// Checks what Valkey's `ziplistValidateIntegrity` (deep) checks: total size, end byte,
/// tail offset, every entry inside the blob, each `prevlen` equal to the size of the entry
/// before, the entries ending exactly at the end byte, the tail offset pointing at the
/// last entry, and the header count.
pub fn for_each<'a, E: From<EncodingError>>(
    zl: &'a [u8],
    mut f: impl FnMut(Item<'a>) -> Result<(), E>,
) -> Result<usize, E> {
    let err = |what, at| E::from(EncodingError::new(what, at));
    if zl.len() < HEADER + 1 {
        return Err(err("ziplist shorter than its header", 0));
    }
    let zlbytes = le_u32(zl, 0).ok_or_else(|| err("ziplist header", 0))? as usize;
    if zlbytes != zl.len() {
        return Err(err("ziplist size field does not match the blob size", 0));
    }
    let last = zl.len() - 1;
    if zl.get(last) != Some(&END) {
        return Err(err("ziplist does not end with 0xFF", last));
    }
    let tail = le_u32(zl, 4).ok_or_else(|| err("ziplist header", 4))? as usize;
    if tail > last {
        return Err(err("ziplist tail offset outside the blob", 4));
    }
    let header_count = le_u16(zl, 8).ok_or_else(|| err("ziplist header", 8))?;

    let mut p = HEADER;
    let mut count = 0usize;
    let mut prev_start = None;
    let mut prev_size = 0usize;
    while let Some(&b) = zl.get(p) {
        if b == END {
            break;
        }
        let (prevlen, prevlen_size) = if b < BIG_PREVLEN {
            (usize::from(b), 1)
        } else {
            let v = le_u32(zl, p + 1).ok_or_else(|| err("ziplist prevlen runs past the end", p))?;
            (v as usize, 5)
        };
        if prevlen != prev_size {
            return Err(err("ziplist prevlen does not match the previous entry", p));
        }
        let enc_at = p + prevlen_size;
        let enc = *zl
            .get(enc_at)
            .filter(|_| enc_at < last)
            .ok_or_else(|| err("ziplist entry header runs past the end", p))?;
        // (header size after prevlen, data length, value)
        let (header, data_len, int) = match enc >> 6 {
            0 => (1, usize::from(enc & 0x3f), None),
            1 => {
                let b2 = *zl
                    .get(enc_at + 1)
                    .ok_or_else(|| err("ziplist entry header runs past the end", p))?;
                (2, (usize::from(enc & 0x3f) << 8) | usize::from(b2), None)
            }
            2 => {
                let b = array::<4>(zl, enc_at + 1)
                    .ok_or_else(|| err("ziplist entry header runs past the end", p))?;
                (5, u32::from_be_bytes(b) as usize, None)
            }
            _ => match enc {
                0xC0 => (1, 2, Some(2)),
                0xD0 => (1, 4, Some(4)),
                0xE0 => (1, 8, Some(8)),
                0xF0 => (1, 3, Some(3)),
                0xFE => (1, 1, Some(1)),
                0xF1..=0xFD => (1, 0, Some(0)),
                _ => return Err(err("ziplist entry has an invalid encoding", enc_at)),
            },
        };
        let data_at = enc_at + header;
        let next = data_at
            .checked_add(data_len)
            .filter(|&n| n <= last)
            .ok_or_else(|| err("ziplist entry runs past the end", p))?;
        let data = zl
            .get(data_at..next)
            .ok_or_else(|| err("ziplist entry runs past the end", p))?;
        let item = match int {
            None => Item::Str(data),
            Some(0) => Item::Int(i64::from(enc & 0x0f) - 1),
            Some(_) => Item::Int(signed_le(data)),
        };
        f(item)?;
        count += 1;
        prev_size = next - p;
        prev_start = Some(p);
        p = next;
    }
    // An end byte before the last one ends the walk early: what follows it is junk.
    if p != last {
        return Err(err("ziplist entries do not end at the end byte", p));
    }
    match prev_start {
        Some(start) if start != tail => {
            return Err(err(
                "ziplist tail offset does not point at the last entry",
                4,
            ))
        }
        None if tail != HEADER => return Err(err("empty ziplist with a bad tail offset", 4)),
        _ => {}
    }
    if header_count != u16::MAX && usize::from(header_count) != count {
        return Err(err("ziplist entry count does not match its header", 8));
    }
    Ok(count)
}

/// Sign-extends a little-endian integer of 1 to 8 bytes.
fn signed_le(data: &[u8]) -> i64 {
    let mut v: u64 = 0;
    for (i, &b) in data.iter().enumerate() {
        v |= u64::from(b) << (8 * i);
    }
    let bits = 8 * data.len() as u32;
    if bits == 0 || bits >= 64 {
        return v as i64;
    }
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(zl: &[u8]) -> Result<Vec<Vec<u8>>, EncodingError> {
        let mut out = Vec::new();
        for_each(zl, |item: Item<'_>| {
            out.push(item.with_bytes(|b| b.to_vec()));
            Ok::<(), EncodingError>(())
        })?;
        Ok(out)
    }

    #[test]
    fn an_early_end_byte_is_refused() {
        // One entry (5), then 0xFF at offset 12 although zlbytes says the end is at 16
        // (Valkey's fuzzer finding "ziplist tail followed by extra data").
        let zl = [0x11, 0, 0, 0, 0x0a, 0, 0, 0, 0x01, 0, 0x00, 0xf6, 0xff, 0xb0, 0x6c, 0x9c, 0xff];
        assert!(collect(&zl).is_err());
    }

    #[test]
    fn example_from_the_ziplist_c_comment() {
        // "2" and "5": [0f 00 00 00] [0c 00 00 00] [02 00] [00 f3] [02 f6] [ff]
        let zl = [
            0x0f, 0, 0, 0, 0x0c, 0, 0, 0, 2, 0, 0x00, 0xf3, 0x02, 0xf6, 0xff,
        ];
        assert_eq!(
            collect(&zl).expect("valid"),
            vec![b"2".to_vec(), b"5".to_vec()]
        );
    }

    #[test]
    fn integer_widths() {
        assert_eq!(signed_le(&[0xff]), -1);
        assert_eq!(signed_le(&[0x00, 0x00, 0x80]), -8388608);
        assert_eq!(signed_le(&[0x39, 0x30]), 12345);
        assert_eq!(signed_le(&[0xff; 8]), -1);
    }

    #[test]
    fn rejects_broken_headers() {
        let good = [
            0x0f, 0, 0, 0, 0x0c, 0, 0, 0, 2, 0, 0x00, 0xf3, 0x02, 0xf6, 0xff,
        ];
        let mut bad = good;
        bad[0] = 0x10;
        assert!(collect(&bad).is_err());
        let mut bad = good;
        bad[4] = 0x0a;
        assert!(collect(&bad).is_err(), "tail not at last entry");
        let mut bad = good;
        bad[8] = 3;
        assert!(collect(&bad).is_err(), "count");
        let mut bad = good;
        bad[12] = 3;
        assert!(collect(&bad).is_err(), "prevlen");
        let mut bad = good;
        bad[11] = 0xc5;
        assert!(collect(&bad).is_err(), "encoding");
        assert!(collect(&good[..14]).is_err());
    }
}
