//! Request parsing: RESP multibulk and inline commands, with Valkey's limits and its
//! protocol error wording (`processMultibulkBuffer` / `processInlineBuffer`).
//!
//! The parser is restartable: it never consumes a partial command, and reports how many
//! bytes it needs at least before another attempt is worthwhile, so a 512 MB bulk arriving
//! in 64 KB reads is parsed once, not once per read.

use std::ops::Range;

/// Largest inline request or multibulk header line (Valkey's PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Largest multibulk argument count Valkey accepts from a client.
pub const MULTIBULK_MAX: i64 = 1024 * 1024;

/// Where a parsed argument's bytes are.
#[derive(Debug)]
pub enum Args {
    /// Ranges into the input buffer (multibulk, zero-copy).
    Slices(Vec<Range<usize>>),
    /// Unquoted inline arguments.
    Owned(Vec<Vec<u8>>),
}

/// Outcome of one parse attempt at the front of a buffer.
#[derive(Debug)]
pub enum Parsed {
    /// A command and the number of bytes it occupied.
    Command { args: Args, len: usize },
    /// An empty line or `*0`: consume and ignore.
    Empty { len: usize },
    /// Not enough bytes yet; try again once the buffer holds at least `need` bytes.
    Incomplete { need: usize },
    /// Unrecoverable: reply `-ERR Protocol error: <msg>` and close the connection.
    Error(&'static str),
}

/// Parses one command at the start of `buf`. `max_bulk` is `proto-max-bulk-len`.
pub fn parse(buf: &[u8], max_bulk: usize, args_buf: &mut Vec<Range<usize>>) -> Parsed {
    parse_for(buf, max_bulk, false, args_buf)
}

/// [`parse`] for a client that may still have to authenticate: as in Valkey, it may
/// send at most 10 arguments of at most 16 KiB each (a stranger cannot make the server
/// buffer large requests).
pub fn parse_for(buf: &[u8], max_bulk: usize, unauthenticated: bool, args_buf: &mut Vec<Range<usize>>) -> Parsed {
    match buf.first() {
        None => Parsed::Incomplete { need: 1 },
        Some(b'*') => parse_multibulk(buf, max_bulk, unauthenticated, args_buf),
        Some(_) => parse_inline(buf),
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let hay = buf.get(from..)?;
    let mut i = 0;
    while let Some(p) = memchr(b'\r', &hay[i..]) {
        let at = i + p;
        if hay.get(at + 1) == Some(&b'\n') {
            return Some(from + at);
        }
        i = at + 1;
    }
    None
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Parses a signed decimal as Valkey's `string2ll` (strict), for lengths.
fn parse_len(digits: &[u8]) -> Option<i64> {
    forkv_keyspace::value::parse_canonical_i64(digits)
}

/// How much of an incomplete multibulk command at the start of `buf` Valkey would have
/// parsed already: `(bytes, argument bytes)`, the headers and complete arguments it takes
/// out of its query buffer (into argv) while it waits for the rest. CLIENT LIST shows the
/// rest as `qbuf` and the arguments as part of `argv-mem`. (0, 0) for inline input and
/// for a complete first command (held input); a malformed part ends the count there (the
/// parser judges it when the input is complete).
pub fn parsed_prefix(buf: &[u8]) -> (usize, usize) {
    if buf.first() != Some(&b'*') {
        return (0, 0);
    }
    let Some(eol) = find_crlf(buf, 1) else { return (0, 0) };
    let Some(count) = parse_len(&buf[1..eol]).filter(|&n| n > 0) else { return (0, 0) };
    let (mut pos, mut args) = (eol + 2, 0usize);
    for _ in 0..count {
        if buf.get(pos) != Some(&b'$') {
            return (pos, args);
        }
        let Some(eol) = find_crlf(buf, pos + 1) else { return (pos, args) };
        let Some(len) = parse_len(&buf[pos + 1..eol]).and_then(|n| usize::try_from(n).ok()) else { return (pos, args) };
        let end = (eol + 2).saturating_add(len).saturating_add(2);
        if buf.len() < end {
            // The bulk header is parsed; its argument is what the query buffer holds.
            return (eol + 2, args);
        }
        pos = end;
        args += len;
    }
    // A complete command is input held while the client waits (blocked, paused...):
    // Valkey has not parsed it either.
    (0, 0)
}

fn parse_multibulk(buf: &[u8], max_bulk: usize, unauthenticated: bool, args: &mut Vec<Range<usize>>) -> Parsed {
    let Some(eol) = find_crlf(buf, 1) else {
        if buf.len() > INLINE_MAX {
            return Parsed::Error("too big mbulk count string");
        }
        return Parsed::Incomplete { need: buf.len() + 1 };
    };
    let count = match parse_len(&buf[1..eol]) {
        Some(n) if n <= MULTIBULK_MAX => n,
        _ => return Parsed::Error("invalid multibulk length"),
    };
    if unauthenticated && count > 10 {
        return Parsed::Error("unauthenticated multibulk length");
    }
    let mut pos = eol + 2;
    if count <= 0 {
        return Parsed::Empty { len: pos };
    }
    args.clear();
    for _ in 0..count {
        let Some(&first) = buf.get(pos) else {
            return Parsed::Incomplete { need: pos + 1 };
        };
        if first != b'$' {
            return Parsed::Error(expected_dollar(first));
        }
        let Some(eol) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > INLINE_MAX {
                return Parsed::Error("too big bulk count string");
            }
            return Parsed::Incomplete { need: buf.len() + 1 };
        };
        let len = match parse_len(&buf[pos + 1..eol]) {
            Some(n) if n >= 0 && (n as u64) <= max_bulk as u64 => n as usize,
            _ => return Parsed::Error("invalid bulk length"),
        };
        if unauthenticated && len > 16384 {
            return Parsed::Error("unauthenticated bulk length");
        }
        let start = eol + 2;
        let end = start + len;
        if buf.len() < end + 2 {
            return Parsed::Incomplete { need: end + 2 };
        }
        // Valkey does not verify the trailing CRLF of a bulk; it skips two bytes.
        args.push(start..end);
        pos = end + 2;
    }
    Parsed::Command { args: Args::Slices(std::mem::take(args)), len: pos }
}

/// Valkey's message names the unexpected byte: "expected '$', got 'X'".
fn expected_dollar(got: u8) -> &'static str {
    // The message is static per byte value; build the 256 variants once.
    static TABLE: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0u8..=255)
            .map(|b| {
                let s: &'static str =
                    Box::leak(format!("expected '$', got '{}'", b as char).into_boxed_str());
                s
            })
            .collect()
    });
    table[got as usize]
}

fn parse_inline(buf: &[u8]) -> Parsed {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Parsed::Error("too big inline request");
        }
        return Parsed::Incomplete { need: buf.len() + 1 };
    };
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    match split_args(line) {
        None => Parsed::Error("unbalanced quotes in request"),
        Some(v) if v.is_empty() => Parsed::Empty { len: nl + 1 },
        Some(v) => Parsed::Command { args: Args::Owned(v), len: nl + 1 },
    }
}

/// Inline commands split like Valkey's `sdssplitargs`: the one implementation, shared
/// with the AOF manifest parser.
pub use forkv_keyspace::sds::split_args;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_prefix_is_what_valkey_moved_out_of_the_query_buffer() {
        // Headers and complete arguments are parsed; the partial argument is not.
        assert_eq!(parsed_prefix(b"*3\r\n$3\r\nset\r\n$2\r\na"), (17, 3));
        assert_eq!(parsed_prefix(b"*1\r\n$10\r\nvvv"), (9, 0));
        assert_eq!(parsed_prefix(b"*2\r\n$1"), (4, 0));
        assert_eq!(parsed_prefix(b"*2"), (0, 0));
        assert_eq!(parsed_prefix(b"GET k"), (0, 0));
        assert_eq!(parsed_prefix(b"*1\r\n$-5\r\n"), (4, 0));
        assert_eq!(parsed_prefix(b""), (0, 0));
        assert_eq!(parsed_prefix(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI"), (0, 0));
    }

    fn args_of(buf: &[u8]) -> Vec<Vec<u8>> {
        let mut scratch = Vec::new();
        match parse(buf, 512 << 20, &mut scratch) {
            Parsed::Command { args: Args::Slices(r), .. } => r.into_iter().map(|r| buf[r].to_vec()).collect(),
            Parsed::Command { args: Args::Owned(v), .. } => v,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn multibulk_and_partial_reads() {
        let full = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
        assert_eq!(args_of(full), vec![b"GET".to_vec(), b"key".to_vec()]);
        let mut scratch = Vec::new();
        for cut in 0..full.len() {
            assert!(matches!(parse(&full[..cut], 1 << 20, &mut scratch), Parsed::Incomplete { .. }), "cut {cut}");
        }
        // The `need` hint for a large bulk points past its whole body.
        match parse(b"*1\r\n$100000\r\nabc", 1 << 20, &mut scratch) {
            Parsed::Incomplete { need } => assert_eq!(need, 100_000 + 2 + 13),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn protocol_errors_use_valkey_wording() {
        let mut s = Vec::new();
        let err = |b: &[u8], s: &mut Vec<Range<usize>>| match parse(b, 1024, s) {
            Parsed::Error(m) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(b"*x\r\n", &mut s), "invalid multibulk length");
        assert_eq!(err(b"*2000000\r\n", &mut s), "invalid multibulk length");
        assert_eq!(err(b"*1\r\n+foo\r\n", &mut s), "expected '$', got '+'");
        assert_eq!(err(b"*1\r\n$2000\r\n", &mut s), "invalid bulk length");
        assert_eq!(err(b"*1\r\n$-1\r\n", &mut s), "invalid bulk length");
        let unauth = |b: &[u8], s: &mut Vec<Range<usize>>| match parse_for(b, 1 << 30, true, s) {
            Parsed::Error(m) => m,
            _ => "",
        };
        assert_eq!(unauth(b"*100\r\n", &mut s), "unauthenticated multibulk length");
        assert_eq!(unauth(b"*1\r\n$100000000\r\n", &mut s), "unauthenticated bulk length");
        assert_eq!(err(b"SET \"a b\r\n", &mut s), "unbalanced quotes in request");
        assert_eq!(err(&vec![b'a'; INLINE_MAX + 1], &mut s), "too big inline request");
    }

    #[test]
    fn inline_commands_unquote() {
        assert_eq!(args_of(b"set \"a\\x41\\n\" 'it\\'s'\r\n"), vec![b"set".to_vec(), b"aA\n".to_vec(), b"it's".to_vec()]);
        let mut s = Vec::new();
        assert!(matches!(parse(b"\r\n", 10, &mut s), Parsed::Empty { len: 2 }));
        assert!(matches!(parse(b"*0\r\n", 10, &mut s), Parsed::Empty { len: 4 }));
        assert!(split_args(b"\"a\"b").is_none());
        // A NUL ends the line (C-string semantics), and never stalls the splitter.
        assert_eq!(split_args(b"get a\0 b c").map(|v| v.len()), Some(2));
        assert_eq!(split_args(b"\0\0\0"), Some(vec![]));
        // Unquoted, only space, \t, \r and \n end a token; a vertical tab is part of it
        // (checked against valkey-server 8.0.1: `ECHO a\vb` answers the 3 bytes).
        assert_eq!(split_args(b"a\x0bb"), Some(vec![b"a\x0bb".to_vec()]));
    }
}
