//! RESP encoding of commands as they are stored in an AOF.
//!
//! The AOF is a sequence of RESP multibulk commands (`*<argc>\r\n` then `$<len>\r\n<bytes>\r\n`
//! per argument), exactly what Valkey's `catAppendOnlyGenericCommand` produces. Numbers are
//! formatted into stack buffers: the rewrite path runs in a fork child and should allocate as
//! little as possible.

use std::io::{self, Write};

/// Largest number of bytes [`format_i64`] writes (`-9223372036854775808`).
pub const I64_MAX_LEN: usize = 20;

/// Largest number of bytes [`format_double`] writes.
pub const DOUBLE_MAX_LEN: usize = forkv_keyspace::num::DOUBLE_MAX_LEN;

/// Formats a signed integer in decimal into `buf`; returns the used prefix length.
pub fn format_i64(v: i64, buf: &mut [u8; I64_MAX_LEN]) -> usize {
    let mut tmp = [0u8; I64_MAX_LEN];
    let digits = forkv_keyspace::num::format_i64(v, &mut tmp);
    buf[..digits.len()].copy_from_slice(digits);
    digits.len()
}

/// Formats a double as Valkey 8's `rioWriteBulkDouble` writes a score in a rewritten AOF
/// (`fpconv_dtoa`; the one implementation is `forkv_keyspace::num`). Returns the used
/// prefix length of `buf`.
pub fn format_double(d: f64, buf: &mut [u8; DOUBLE_MAX_LEN]) -> usize {
    forkv_keyspace::num::fpconv_dtoa(d, buf)
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
    fn doubles_as_valkey_8_rewrites_them() {
        // From a valkey-server 8.0.1 rewrite with aof-use-rdb-preamble no.
        for (d, want) in [(1.5e-7, "1.5e-7"), (0.1, "0.1"), (3.0, "3"), (1e20, "1e+20"), (1e-5, "0.00001")] {
            assert_eq!(fmt(d), want);
        }
        assert_eq!(fmt(f64::INFINITY), "inf");
        assert_eq!(fmt(f64::NEG_INFINITY), "-inf");
        let mut w = Vec::new();
        write_bulk_f64(&mut w, 2.5).unwrap();
        assert_eq!(w, b"$3\r\n2.5\r\n");
    }
}
