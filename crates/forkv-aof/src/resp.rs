//! RESP encoding of commands as they are stored in an AOF.
//!
//! The AOF is a sequence of RESP multibulk commands (`*<argc>\r\n` then `$<len>\r\n<bytes>\r\n`
//! per argument), exactly what Valkey's `catAppendOnlyGenericCommand` produces. Numbers are
//! formatted into stack buffers: the rewrite path runs in a fork child and should allocate as
//! little as possible.

use std::io::{self, Write};

/// Largest number of bytes [`format_i64`] writes (`-9223372036854775808`).
pub const I64_MAX_LEN: usize = 20;

/// Largest number of bytes [`format_double`] writes (`-2.2250738585072014e-308` is 24).
pub const DOUBLE_MAX_LEN: usize = 32;

/// Formats a signed integer in decimal into `buf`; returns the used prefix length.
pub fn format_i64(v: i64, buf: &mut [u8; I64_MAX_LEN]) -> usize {
    let mut tmp = [0u8; I64_MAX_LEN];
    let digits = forkv_keyspace::num::format_i64(v, &mut tmp);
    buf[..digits.len()].copy_from_slice(digits);
    digits.len()
}

/// A fixed-size `fmt::Write` sink, so float formatting needs no heap.
struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> std::fmt::Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let b = s.as_bytes();
        let end = self.len.checked_add(b.len()).ok_or(std::fmt::Error)?;
        if end > N {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(b);
        self.len = end;
        Ok(())
    }
}

/// Formats a double as C's `printf("%.17g", d)` does (glibc), which is what Valkey's
/// `rioWriteBulkDouble` writes for ZADD scores in a rewritten AOF.
///
/// 17 significant digits always round-trip through `strtod`/`str::parse::<f64>` exactly.
/// Infinities are `inf` / `-inf`, NaN is `nan` (never stored in a sorted set). Returns the
/// used prefix length of `buf`.
pub fn format_double(d: f64, buf: &mut [u8; DOUBLE_MAX_LEN]) -> usize {
    use std::fmt::Write as _;
    let put = |buf: &mut [u8; DOUBLE_MAX_LEN], s: &[u8]| {
        buf[..s.len()].copy_from_slice(s);
        s.len()
    };
    if d.is_nan() {
        return put(buf, b"nan");
    }
    if d.is_infinite() {
        return put(buf, if d > 0.0 { b"inf" } else { b"-inf" });
    }
    // Scientific form with 17 significant digits, correctly rounded: "-d.dddddddddddddddde-X".
    let mut sci = StackBuf::<40> {
        buf: [0; 40],
        len: 0,
    };
    if write!(sci, "{d:.16e}").is_err() {
        return put(buf, b"0");
    }
    let s = &sci.buf[..sci.len];
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let Some(epos) = s.iter().position(|&c| c == b'e') else {
        return put(buf, b"0");
    };
    let mut digits = [0u8; 17];
    let mut nd = 0;
    for &c in &s[..epos] {
        if c.is_ascii_digit() && nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let exp = parse_small_exp(&s[epos + 1..]);

    let mut out = 0usize;
    let mut push = |buf: &mut [u8; DOUBLE_MAX_LEN], c: u8| {
        if out < DOUBLE_MAX_LEN {
            buf[out] = c;
            out += 1;
        }
    };
    if neg {
        push(buf, b'-');
    }
    // %g: with precision P=17 and exponent X, use %f when -4 <= X < P, else %e; then strip
    // trailing zeros of the fraction (and the point when nothing is left).
    let mut sig = nd;
    while sig > 1 && digits[sig - 1] == b'0' {
        sig -= 1;
    }
    if (-4..17).contains(&exp) {
        if exp >= 0 {
            let int_digits = (exp as usize) + 1;
            for &c in &digits[..int_digits] {
                push(buf, c);
            }
            if sig > int_digits {
                push(buf, b'.');
                for &c in &digits[int_digits..sig] {
                    push(buf, c);
                }
            }
        } else {
            push(buf, b'0');
            push(buf, b'.');
            for _ in 0..(-exp - 1) {
                push(buf, b'0');
            }
            for &c in &digits[..sig] {
                push(buf, c);
            }
        }
    } else {
        push(buf, digits[0]);
        if sig > 1 {
            push(buf, b'.');
            for &c in &digits[1..sig] {
                push(buf, c);
            }
        }
        push(buf, b'e');
        push(buf, if exp < 0 { b'-' } else { b'+' });
        let mut eb = [0u8; I64_MAX_LEN];
        let el = format_i64(i64::from(exp.unsigned_abs()), &mut eb);
        if el < 2 {
            push(buf, b'0');
        }
        for &c in &eb[..el] {
            push(buf, c);
        }
    }
    out
}

fn parse_small_exp(s: &[u8]) -> i32 {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let mut v: i32 = 0;
    for &c in digits {
        if c.is_ascii_digit() {
            v = v.saturating_mul(10).saturating_add(i32::from(c - b'0'));
        }
    }
    if neg {
        -v
    } else {
        v
    }
}

/// Appends `<prefix><n>\r\n` (a multibulk or bulk header).
pub fn push_header(out: &mut Vec<u8>, prefix: u8, n: usize) {
    let mut b = [0u8; I64_MAX_LEN];
    let len = format_i64(n as i64, &mut b);
    out.push(prefix);
    out.extend_from_slice(&b[..len]);
    out.extend_from_slice(b"\r\n");
}

/// Appends one bulk string `$<len>\r\n<bytes>\r\n`.
pub fn push_bulk(out: &mut Vec<u8>, arg: &[u8]) {
    push_header(out, b'$', arg.len());
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

/// Appends one command as a RESP multibulk, exactly as Valkey's `catAppendOnlyGenericCommand`.
pub fn encode_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    push_header(out, b'*', argv.len());
    for a in argv {
        push_bulk(out, a);
    }
}

/// Appends `SELECT <db>` (what `feedAppendOnlyFile` emits when the target database changes).
pub fn encode_select(out: &mut Vec<u8>, db: usize) {
    let mut b = [0u8; I64_MAX_LEN];
    let len = format_i64(db as i64, &mut b);
    encode_command(out, &[b"SELECT", &b[..len]]);
}

/// Writes `<prefix><n>\r\n` to a writer.
pub fn write_header<W: Write + ?Sized>(w: &mut W, prefix: u8, n: usize) -> io::Result<()> {
    let mut b = [0u8; I64_MAX_LEN + 3];
    b[0] = prefix;
    let mut nb = [0u8; I64_MAX_LEN];
    let len = format_i64(n as i64, &mut nb);
    b[1..1 + len].copy_from_slice(&nb[..len]);
    b[1 + len] = b'\r';
    b[2 + len] = b'\n';
    w.write_all(&b[..3 + len])
}

/// Writes one bulk string to a writer.
pub fn write_bulk<W: Write + ?Sized>(w: &mut W, arg: &[u8]) -> io::Result<()> {
    write_header(w, b'$', arg.len())?;
    w.write_all(arg)?;
    w.write_all(b"\r\n")
}

/// Writes an integer as a bulk string (Valkey `rioWriteBulkLongLong`).
pub fn write_bulk_i64<W: Write + ?Sized>(w: &mut W, v: i64) -> io::Result<()> {
    let mut b = [0u8; I64_MAX_LEN];
    let len = format_i64(v, &mut b);
    write_bulk(w, &b[..len])
}

/// Writes a double as a bulk string in `%.17g` form (Valkey `rioWriteBulkDouble`).
pub fn write_bulk_f64<W: Write + ?Sized>(w: &mut W, v: f64) -> io::Result<()> {
    let mut b = [0u8; DOUBLE_MAX_LEN];
    let len = format_double(v, &mut b);
    write_bulk(w, &b[..len])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fmt(d: f64) -> String {
        let mut b = [0u8; DOUBLE_MAX_LEN];
        let n = format_double(d, &mut b);
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    fn c_fmt(d: f64) -> String {
        let mut b = [0u8; 64];
        // SAFETY: the buffer is 64 bytes, the format takes exactly one double argument.
        let n = unsafe { libc::snprintf(b.as_mut_ptr().cast(), b.len(), c"%.17g".as_ptr(), d) };
        String::from_utf8(b[..n as usize].to_vec()).unwrap()
    }

    #[test]
    fn encode_matches_valkey_layout() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        out.clear();
        encode_select(&mut out, 12);
        assert_eq!(out, b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n");
        let mut w = Vec::new();
        write_bulk_i64(&mut w, i64::MIN).unwrap();
        assert_eq!(w, b"$20\r\n-9223372036854775808\r\n");
    }

    #[test]
    fn doubles_like_printf_17g() {
        let cases = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1.5,
            0.1,
            1e16,
            1e17,
            123456789012345678.0,
            1e-4,
            1e-5,
            0.00012345,
            3.0000000000000004,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -2.2250738585072014e-308,
            1_200_000_000_000_001.0 / 8.0, // an exact tie at the 18th digit
            2.5,
            1e100,
            9.999999999999999e16,
            1234.5,
        ];
        for d in cases {
            assert_eq!(fmt(d), c_fmt(d), "value {d:e}");
        }
        assert_eq!(fmt(f64::INFINITY), "inf");
        assert_eq!(fmt(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt(1.5), "1.5");
        assert_eq!(fmt(0.1), "0.10000000000000001");
    }

    #[test]
    fn doubles_random_bits_match_printf_and_round_trip() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = if i % 2 == 0 {
                f64::from_bits(x)
            } else {
                // Values with few significant bits produce exact ties at digit 18.
                (x >> 20) as f64 / f64::from(1u32 << (i % 24))
            };
            if d.is_nan() {
                continue;
            }
            let s = fmt(d);
            assert_eq!(s, c_fmt(d), "bits {:#x}", d.to_bits());
            let back: f64 = s.parse().unwrap();
            assert_eq!(back.to_bits(), d.to_bits(), "{s}");
        }
    }
}
