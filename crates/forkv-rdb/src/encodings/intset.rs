//! Intset: a sorted array of integers, the compact form of a set of integers (RDB type 11).
//!
//! Layout (little-endian): `<encoding u32: 2, 4 or 8> <length u32> <length values>`,
//! each value a signed integer of `encoding` bytes, in strictly increasing order.

use super::{le_u32, EncodingError, Item};

const HEADER: usize = 8;

/// Walks an intset, calling `f` for every member in order, and returns the member count.
///
/// Checks what Valkey's `intsetValidateIntegrity` (deep) checks: a known width, a size
/// that matches the count exactly, a non-empty set, and strictly increasing members (so
/// no duplicates).
pub fn for_each<E: From<EncodingError>>(
    is: &[u8],
    mut f: impl FnMut(Item<'_>) -> Result<(), E>,
) -> Result<usize, E> {
    let err = |what, at| E::from(EncodingError::new(what, at));
    let width = le_u32(is, 0).ok_or_else(|| err("intset shorter than its header", 0))? as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(err("intset has an invalid encoding width", 0));
    }
    let count = le_u32(is, 4).ok_or_else(|| err("intset shorter than its header", 4))? as usize;
    let expected = count.checked_mul(width).and_then(|n| n.checked_add(HEADER));
    if expected != Some(is.len()) {
        return Err(err("intset size does not match its count", 4));
    }
    if count == 0 {
        return Err(err("intset is empty", 4));
    }
    let mut prev: Option<i64> = None;
    for (i, chunk) in is
        .get(HEADER..)
        .unwrap_or(&[])
        .chunks_exact(width)
        .enumerate()
    {
        let v = match *chunk {
            [a, b] => i64::from(i16::from_le_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
            [a, b, c, d, e, g, h, k] => i64::from_le_bytes([a, b, c, d, e, g, h, k]),
            _ => return Err(err("intset value", HEADER + i * width)),
        };
        if prev.is_some_and(|p| p >= v) {
            return Err(err(
                "intset members are not strictly increasing",
                HEADER + i * width,
            ));
        }
        prev = Some(v);
        f(Item::Int(v))?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(is: &[u8]) -> Result<Vec<i64>, EncodingError> {
        let mut out = Vec::new();
        for_each(is, |item: Item<'_>| {
            if let Item::Int(v) = item {
                out.push(v);
            }
            Ok::<(), EncodingError>(())
        })?;
        Ok(out)
    }

    #[test]
    fn reads_every_width() {
        assert_eq!(
            collect(&[2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]),
            Ok(vec![1, 2, 3])
        );
        let mut is = vec![4, 0, 0, 0, 2, 0, 0, 0];
        is.extend_from_slice(&(-70000i32).to_le_bytes());
        is.extend_from_slice(&70000i32.to_le_bytes());
        assert_eq!(collect(&is), Ok(vec![-70000, 70000]));
        let mut is = vec![8, 0, 0, 0, 1, 0, 0, 0];
        is.extend_from_slice(&i64::MIN.to_le_bytes());
        assert_eq!(collect(&is), Ok(vec![i64::MIN]));
    }

    #[test]
    fn rejects_corruption() {
        assert!(
            collect(&[3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0]).is_err(),
            "width"
        );
        assert!(collect(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0]).is_err(), "size");
        assert!(collect(&[2, 0, 0, 0, 0, 0, 0, 0]).is_err(), "empty");
        assert!(
            collect(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0]).is_err(),
            "order"
        );
        assert!(
            collect(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 2, 0]).is_err(),
            "duplicate"
        );
        assert!(collect(&[2, 0, 0]).is_err(), "header");
        assert!(
            collect(&[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err(),
            "huge count"
        );
    }
}
