//! Reply encoding for RESP2 and RESP3 into a connection's output buffer.
//!
//! Handlers describe replies by shape (map, set, double, null...) and this module picks
//! the wire form for the client's protocol version, as Valkey's `addReply*` family does.

/// Appends replies to `out` for a client speaking RESP `proto` (2 or 3).
pub struct Reply<'a> {
    pub out: &'a mut Vec<u8>,
    pub proto: u8,
    /// The client's output buffer hard limit (`client-output-buffer-limit`): a command
    /// whose reply could grow without bound (HRANDFIELD with a huge negative count)
    /// stops once `out` is past it; the client is then closed (Valkey's
    /// `CLIENT_CLOSE_ASAP` checks). `usize::MAX`: no limit.
    pub limit: usize,
}

pub use forkv_keyspace::num::format_i64 as fmt_i64;

impl<'a> Reply<'a> {
    /// A writer for `out` at protocol `proto`.
    pub fn new(out: &'a mut Vec<u8>, proto: u8) -> Self {
        Reply { out, proto, limit: usize::MAX }
    }

    /// True once the output is past the client's hard limit (see [`Reply::limit`]).
    pub fn over_limit(&self) -> bool {
        self.out.len() > self.limit
    }

    /// True when the client speaks RESP3.
    pub fn resp3(&self) -> bool {
        self.proto >= 3
    }

    fn header(&mut self, tag: u8, n: i64) {
        let mut b = [0u8; 20];
        self.out.push(tag);
        self.out.extend_from_slice(fmt_i64(n, &mut b));
        self.out.extend_from_slice(b"\r\n");
    }

    /// A HELP reply in Valkey's layout (`addReplyHelp`): the `<COMMAND> <subcommand> ...`
    /// header, the command's own `lines`, then the closing `HELP` entry every command shares.
    pub fn help(&mut self, command: &str, lines: &[&str]) {
        self.array(lines.len() + 3);
        self.simple(&format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
        for l in lines {
            self.simple(l);
        }
        self.simple("HELP");
        self.simple("    Print this help.");
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string (`+s`).
    pub fn simple(&mut self, s: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// An error; `msg` carries its code, e.g. `ERR syntax error` or `WRONGTYPE ...`.
    /// Newlines would break the protocol, so they are replaced with spaces as Valkey does.
    pub fn error(&mut self, msg: &str) {
        self.error_as(msg, crate::cmdstats::ErrorKind::Plain);
    }

    /// An error reply counted as `kind` says (see [`crate::cmdstats`]).
    pub fn error_as(&mut self, msg: &str, kind: crate::cmdstats::ErrorKind) {
        crate::cmdstats::record_error(msg, kind);
        self.out.push(b'-');
        self.out.extend(msg.bytes().map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }));
        self.out.extend_from_slice(b"\r\n");
    }

    /// An integer (`:n`).
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    /// A bulk string.
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.out.extend_from_slice(b);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding a decimal integer.
    pub fn bulk_i64(&mut self, n: i64) {
        let mut b = [0u8; 20];
        let digits = fmt_i64(n, &mut b);
        self.header(b'$', digits.len() as i64);
        self.out.extend_from_slice(digits);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Null bulk string (RESP2 `$-1`, RESP3 `_`).
    pub fn null(&mut self) {
        if self.resp3() {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"$-1\r\n");
        }
    }

    /// Null array (RESP2 `*-1`, RESP3 `_`).
    pub fn null_array(&mut self) {
        if self.resp3() {
            self.out.extend_from_slice(b"_\r\n");
        } else {
            self.out.extend_from_slice(b"*-1\r\n");
        }
    }

    /// Array header of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// Map header of `n` pairs (RESP2: flat array of 2n).
    pub fn map(&mut self, n: usize) {
        if self.resp3() {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// Set header (RESP2: array).
    pub fn set(&mut self, n: usize) {
        if self.resp3() {
            self.header(b'~', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    /// Push header (RESP3 `>`; RESP2 array, as pub/sub messages are).
    pub fn push(&mut self, n: usize) {
        if self.resp3() {
            self.header(b'>', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    /// A double: RESP3 `,` with Valkey's formatting, RESP2 a bulk string.
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        if self.resp3() {
            self.out.push(b',');
            self.out.extend_from_slice(s.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean: RESP3 `#t`/`#f`, RESP2 `:1`/`:0`.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3() {
            self.out.extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(b));
        }
    }

    /// Verbatim text (RESP3 `=` with a 3-letter format, RESP2 bulk).
    pub fn verbatim(&mut self, text: &[u8], format: &str) {
        if self.resp3() {
            self.header(b'=', (text.len() + 4) as i64);
            self.out.extend_from_slice(format.as_bytes());
            self.out.push(b':');
            self.out.extend_from_slice(text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Raw, already-encoded bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
}

/// Formats a double the way Valkey 8 replies with one (`d2string`: integers as integers,
/// anything else as `fpconv_dtoa`); the one implementation is `forkv_keyspace::num`.
pub fn format_double(d: f64) -> String {
    let mut b = [0u8; forkv_keyspace::num::DOUBLE_MAX_LEN];
    let n = forkv_keyspace::num::d2string(d, &mut b);
    String::from_utf8_lossy(&b[..n]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_format_like_valkey() {
        // Each checked against valkey-server 8.0.1 (ZADD, then ZSCORE).
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(-0.25), "-0.25");
        assert_eq!(format_double(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_double(1e21), "1e+21");
        assert_eq!(format_double(123456789012345680000.0), "123456789012345680000");
        assert_eq!(format_double(1e16), "10000000000000000");
        assert_eq!(format_double(1e17), "100000000000000000");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(1e-5), "0.00001");
        assert_eq!(format_double(1.5e-7), "1.5e-7");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn shapes_follow_protocol_version() {
        let mut out = Vec::new();
        let mut r = Reply::new(&mut out, 2);
        r.map(2);
        r.null();
        r.double(2.5);
        r.int(-7);
        assert_eq!(out, b"*4\r\n$-1\r\n$3\r\n2.5\r\n:-7\r\n");
        let mut out = Vec::new();
        let mut r = Reply::new(&mut out, 3);
        r.map(2);
        r.null();
        r.double(2.5);
        r.error("ERR a\nb");
        assert_eq!(out, b"%2\r\n_\r\n,2.5\r\n-ERR a b\r\n");
    }
}
