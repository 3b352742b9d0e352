//! Zipmap: the compact hash of Redis before 2.6 (RDB type 9).
//!
//! Layout: `<count u8, 254 = unknown> (<len> field <len> <free u8> value <free bytes>)* 0xFF`
//! where `<len>` is one byte below 254, or 254 followed by a little-endian u32. `free`
//! counts unused bytes left after a value by in-place updates.

use super::{le_u32, EncodingError};

const BIGLEN: u8 = 254;
const END: u8 = 255;

/// Walks a zipmap, calling `f(field, value)` for every pair in order; returns the count.
///
/// Checks what Valkey's `zipmapValidateIntegrity` (deep) checks: the end byte, every
/// length, field, value and free space inside the blob, a non-empty map, and the header
/// count unless it says "unknown".
pub fn for_each_pair<'a, E: From<EncodingError>>(
    zm: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), E>,
) -> Result<usize, E> {
    let err = |what, at| E::from(EncodingError::new(what, at));
    if zm.len() < 2 {
        return Err(err("zipmap shorter than its header", 0));
    }
    let last = zm.len() - 1;
    if zm.get(last) != Some(&END) {
        return Err(err("zipmap does not end with 0xFF", last));
    }
    // Reads a length at `p`; returns (length, bytes used), everything before the end byte.
    let length = |p: usize| -> Result<(usize, usize), E> {
        let first = *zm
            .get(p)
            .ok_or_else(|| err("zipmap length runs past the end", p))?;
        let size = if first < BIGLEN { 1 } else { 5 };
        if p + size > last {
            return Err(err("zipmap length runs past the end", p));
        }
        if size == 1 {
            Ok((usize::from(first), 1))
        } else {
            let v = le_u32(zm, p + 1).ok_or_else(|| err("zipmap length runs past the end", p))?;
            Ok((v as usize, 5))
        }
    };
    let mut p = 1;
    let mut count = 0usize;
    while let Some(&b) = zm.get(p) {
        if b == END {
            break;
        }
        let entry = p;
        let (flen, s) = length(p)?;
        let fstart = p + s;
        let fend = fstart
            .checked_add(flen)
            .filter(|&e| e <= last)
            .ok_or_else(|| err("zipmap field runs past the end", entry))?;
        let (vlen, s) = length(fend)?;
        let free_at = fend + s;
        let free = usize::from(
            *zm.get(free_at)
                .ok_or_else(|| err("zipmap value runs past the end", entry))?,
        );
        let vstart = free_at + 1;
        let vend = vstart
            .checked_add(vlen)
            .ok_or_else(|| err("zipmap value runs past the end", entry))?;
        let next = vend
            .checked_add(free)
            .filter(|&n| n <= last)
            .ok_or_else(|| err("zipmap value runs past the end", entry))?;
        let field = zm
            .get(fstart..fend)
            .ok_or_else(|| err("zipmap field runs past the end", entry))?;
        let value = zm
            .get(vstart..vend)
            .ok_or_else(|| err("zipmap value runs past the end", entry))?;
        f(field, value)?;
        count += 1;
        p = next;
    }
    if count == 0 {
        return Err(err("zipmap is empty", 0));
    }
    let header = zm.first().copied().unwrap_or(0);
    if header != BIGLEN && usize::from(header) != count {
        return Err(err("zipmap entry count does not match its header", 0));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    fn collect(zm: &[u8]) -> Result<Pairs, EncodingError> {
        let mut out = Vec::new();
        for_each_pair(zm, |f: &[u8], v: &[u8]| {
            out.push((f.to_vec(), v.to_vec()));
            Ok::<(), EncodingError>(())
        })?;
        Ok(out)
    }

    #[test]
    fn example_from_the_zipmap_c_comment() {
        let zm = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff";
        assert_eq!(
            collect(zm).expect("valid"),
            vec![
                (b"foo".to_vec(), b"bar".to_vec()),
                (b"hello".to_vec(), b"world".to_vec())
            ]
        );
    }

    #[test]
    fn free_space_and_big_lengths() {
        let mut zm = vec![1u8, 254];
        zm.extend_from_slice(&300u32.to_le_bytes());
        zm.extend_from_slice(&[b'k'; 300]);
        zm.extend_from_slice(&[1, 2, b'v', 0, 0, 0xff]);
        let got = collect(&zm).expect("valid");
        assert_eq!(got, vec![(vec![b'k'; 300], b"v".to_vec())]);
    }

    #[test]
    fn rejects_corruption() {
        let good = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff".to_vec();
        let mut bad = good.clone();
        bad[0] = 3;
        assert!(collect(&bad).is_err(), "count");
        let mut bad = good.clone();
        bad[1] = 40;
        assert!(collect(&bad).is_err(), "field length");
        let mut bad = good.clone();
        bad[6] = 9;
        assert!(collect(&bad).is_err(), "free");
        assert!(collect(&good[..good.len() - 1]).is_err(), "end");
        assert!(collect(b"\x00\xff").is_err(), "empty");
    }
}
