//! Length prefixes and the integer forms of strings.
//!
//! A length is stored in 1, 2, 5 or 9 bytes, chosen by the top two bits of the first
//! byte: `00` six bits, `01` fourteen bits (big-endian), `0x80` a 32-bit big-endian
//! number follows, `0x81` a 64-bit one; `11` means the "length" is really a special
//! string encoding in the low six bits (`RDB_ENC_*`).
//!
//! Strings that are the canonical decimal form of an integer fitting in 32 bits are stored
//! as the integer (1, 2 or 4 bytes, little-endian, signed) instead of as text.

use crate::consts::*;

/// A decoded length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// A plain length.
    Plain(u64),
    /// A special string encoding (`RDB_ENC_INT8` .. `RDB_ENC_LZF`, or an unknown value).
    Encoded(u8),
}

/// Encodes `len` into `buf`, returning how many bytes were used.
pub fn encode_len(len: u64, buf: &mut [u8; 9]) -> usize {
    if len < 1 << 6 {
        buf[0] = len as u8;
        1
    } else if len < 1 << 14 {
        buf[0] = ((len >> 8) as u8) | (RDB_14BITLEN << 6);
        buf[1] = len as u8;
        2
    } else if let Ok(l32) = u32::try_from(len) {
        buf[0] = RDB_32BITLEN;
        buf[1..5].copy_from_slice(&l32.to_be_bytes());
        5
    } else {
        buf[0] = RDB_64BITLEN;
        buf[1..9].copy_from_slice(&len.to_be_bytes());
        9
    }
}

/// Decodes a length whose first byte is `first`; `next` supplies the following bytes.
/// Returns `Err(first)` for a first byte with top bits `10` other than 0x80/0x81.
pub fn decode_len<E>(
    first: u8,
    mut next: impl FnMut(&mut [u8]) -> Result<(), E>,
    bad: impl FnOnce(u8) -> E,
) -> Result<Length, E> {
    match first >> 6 {
        3 => Ok(Length::Encoded(first & 0x3f)),
        0 => Ok(Length::Plain(u64::from(first & 0x3f))),
        1 => {
            let mut b = [0u8; 1];
            next(&mut b)?;
            Ok(Length::Plain(
                (u64::from(first & 0x3f) << 8) | u64::from(b[0]),
            ))
        }
        _ if first == RDB_32BITLEN => {
            let mut b = [0u8; 4];
            next(&mut b)?;
            Ok(Length::Plain(u64::from(u32::from_be_bytes(b))))
        }
        _ if first == RDB_64BITLEN => {
            let mut b = [0u8; 8];
            next(&mut b)?;
            Ok(Length::Plain(u64::from_be_bytes(b)))
        }
        _ => Err(bad(first)),
    }
}

/// Encodes `v` as an RDB integer string (`11` prefix + INT8/16/32) if it fits in 32 bits.
pub fn encode_int(v: i64, buf: &mut [u8; 5]) -> Option<usize> {
    if let Ok(b) = i8::try_from(v) {
        buf[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT8;
        buf[1] = b as u8;
        Some(2)
    } else if let Ok(h) = i16::try_from(v) {
        buf[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT16;
        buf[1..3].copy_from_slice(&h.to_le_bytes());
        Some(3)
    } else if let Ok(w) = i32::try_from(v) {
        buf[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT32;
        buf[1..5].copy_from_slice(&w.to_le_bytes());
        Some(5)
    } else {
        None
    }
}

/// Number of payload bytes after an INT8/16/32 encoding byte, or None for other encodings.
pub fn int_encoding_size(enc: u8) -> Option<usize> {
    match enc {
        RDB_ENC_INT8 => Some(1),
        RDB_ENC_INT16 => Some(2),
        RDB_ENC_INT32 => Some(4),
        _ => None,
    }
}

/// Decodes the little-endian signed payload of an integer string (1, 2 or 4 bytes).
pub fn decode_int(bytes: &[u8]) -> i64 {
    match *bytes {
        [a] => i64::from(a as i8),
        [a, b] => i64::from(i16::from_le_bytes([a, b])),
        [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
        _ => 0,
    }
}

/// The strict integer parser and the decimal formatter are the keyspace's (one
/// implementation for the whole server).
pub use forkv_keyspace::num::format_i64;
pub use forkv_keyspace::value::parse_canonical_i64;

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Length, u8> {
        let mut rest = bytes.get(1..).unwrap_or(&[]).iter();
        decode_len(
            bytes.first().copied().unwrap_or(0),
            |dst| {
                for d in dst.iter_mut() {
                    *d = *rest.next().ok_or(0xffu8)?;
                }
                Ok(())
            },
            |b| b,
        )
    }

    #[test]
    fn lengths_round_trip_at_every_boundary() {
        for len in [
            0u64,
            1,
            63,
            64,
            16383,
            16384,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            let mut buf = [0u8; 9];
            let n = encode_len(len, &mut buf);
            assert_eq!(decode(&buf[..n]), Ok(Length::Plain(len)), "{len}");
        }
        let mut buf = [0u8; 9];
        assert_eq!(encode_len(63, &mut buf), 1);
        assert_eq!(encode_len(64, &mut buf), 2);
        assert_eq!(buf[..2], [0x40, 64]);
        assert_eq!(encode_len(16384, &mut buf), 5);
        assert_eq!(decode(&[0xc3]), Ok(Length::Encoded(3)));
        assert_eq!(decode(&[0x82]), Err(0x82));
    }

    #[test]
    fn integers_use_the_smallest_width() {
        let mut buf = [0u8; 5];
        assert_eq!(encode_int(-128, &mut buf), Some(2));
        assert_eq!(buf[..2], [0xc0, 0x80]);
        assert_eq!(encode_int(12345, &mut buf), Some(3));
        assert_eq!(buf[..3], [0xc1, 0x39, 0x30]);
        assert_eq!(encode_int(-2147483648, &mut buf), Some(5));
        assert_eq!(decode_int(&buf[1..5]), -2147483648);
        assert_eq!(encode_int(2147483648, &mut buf), None);
    }

    #[test]
    fn canonical_integers_only() {
        assert_eq!(parse_canonical_i64(b"0"), Some(0));
        assert_eq!(parse_canonical_i64(b"-1"), Some(-1));
        assert_eq!(parse_canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(parse_canonical_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_like_ll2string() {
        let mut buf = [0u8; 20];
        for v in [0i64, 7, -7, 1234567890, i64::MIN, i64::MAX] {
            assert_eq!(format_i64(v, &mut buf), v.to_string().as_bytes());
        }
    }
}
