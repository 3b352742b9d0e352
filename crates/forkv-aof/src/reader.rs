//! The command reader: RESP multibulk commands from one AOF byte stream, one at a time.
//!
//! Parses as Valkey's `loadSingleAppendOnlyFile` does (lines read `fgets`-style, at most
//! 1023 bytes; `#` lines are annotations such as `#TS:<unix>`), and classifies the end of
//! the stream:
//!
//! * clean EOF at a command boundary;
//! * **truncated**: the stream ends inside a command; `valid_up_to` is the end of the last
//!   complete command, where Valkey truncates the file when `aof-load-truncated yes` and the
//!   file is the last one;
//! * **corrupt**: bytes that cannot be a command (Valkey: "Bad file format ...").
//!
//! Two deliberate differences from Valkey's server loader, both stricter and both matching
//! `valkey-check-aof`: the two bytes after a bulk payload must be `\r\n`, and count lines
//! must be decimal digits (optionally `\r`) then `\n`. A declared bulk length is never
//! allocated up front: a huge length on a short file reads what exists and reports
//! truncation.

use std::io::{self, BufRead, Read};

/// Longest line `fgets` returns with Valkey's 1024-byte buffer (`AOF_ANNOTATION_LINE_MAX_LEN`).
pub const MAX_LINE: usize = 1023;

/// What the reader found next.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// One complete command (argv, at least one element).
    Command(Vec<Vec<u8>>),
    /// Clean end of stream at a command boundary.
    Eof,
    /// The stream ends inside a command; everything before `valid_up_to` is whole.
    Truncated {
        /// Offset just after the last complete command.
        valid_up_to: u64,
    },
    /// Bytes that are not a valid command.
    Corrupt {
        /// Offset of the offending line or token.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

/// Parses RESP multibulk commands from a byte stream, one at a time.
pub struct AofCommandReader<R: BufRead> {
    inner: R,
    pos: u64,
    valid_up_to: u64,
    line: Vec<u8>,
}

enum Line {
    /// A full line ending in `\n`.
    Full,
    /// End of stream before `\n` (possibly zero bytes).
    Eof,
    /// `MAX_LINE` bytes without `\n`.
    TooLong,
}

impl<R: BufRead> AofCommandReader<R> {
    /// A reader whose first byte is at offset 0.
    pub fn new(inner: R) -> Self {
        Self::with_offset(inner, 0)
    }

    /// A reader whose first byte is at `start` (after an RDB preamble, say); `start` also
    /// counts as the initial `valid_up_to`.
    pub fn with_offset(inner: R, start: u64) -> Self {
        AofCommandReader {
            inner,
            pos: start,
            valid_up_to: start,
            line: Vec::with_capacity(64),
        }
    }

    /// Offset just after the last complete command (or the start offset).
    pub fn valid_up_to(&self) -> u64 {
        self.valid_up_to
    }

    /// Bytes consumed so far (plus the start offset).
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// Gives the underlying reader back.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn read_line(&mut self) -> io::Result<Line> {
        self.line.clear();
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(Line::Eof);
            }
            let room = MAX_LINE - self.line.len();
            let take = buf.len().min(room);
            let (n, found) = match buf[..take].iter().position(|&c| c == b'\n') {
                Some(i) => (i + 1, true),
                None => (take, false),
            };
            self.line.extend_from_slice(&buf[..n]);
            self.inner.consume(n);
            self.pos += n as u64;
            if found {
                return Ok(Line::Full);
            }
            if self.line.len() >= MAX_LINE {
                return Ok(Line::TooLong);
            }
        }
    }

    fn corrupt(offset: u64, reason: impl Into<String>) -> ReadOutcome {
        ReadOutcome::Corrupt {
            offset,
            reason: reason.into(),
        }
    }

    fn truncated(&self) -> ReadOutcome {
        ReadOutcome::Truncated {
            valid_up_to: self.valid_up_to,
        }
    }

    /// Reads the next command. `Err` only for I/O errors other than end of stream.
    pub fn next_command(&mut self) -> io::Result<ReadOutcome> {
        let argc = loop {
            let start = self.pos;
            let kind = self.read_line()?;
            let Some(&first) = self.line.first() else {
                return Ok(ReadOutcome::Eof);
            };
            if first == b'#' {
                continue; // annotation, even an unterminated one (as Valkey)
            }
            if first != b'*' {
                return Ok(Self::corrupt(
                    start,
                    format!("expected '*', got byte 0x{first:02x}"),
                ));
            }
            match kind {
                Line::Full => {}
                Line::Eof => return Ok(self.truncated()),
                Line::TooLong => return Ok(Self::corrupt(start, "multibulk count line too long")),
            }
            match parse_count(&self.line[1..]) {
                Some(n) if (1..=i32::MAX as u64).contains(&n) => break n,
                _ => return Ok(Self::corrupt(start, "invalid multibulk count")),
            }
        };
        let mut argv: Vec<Vec<u8>> = Vec::with_capacity(argc.min(1024) as usize);
        for _ in 0..argc {
            let at = self.pos;
            let kind = self.read_line()?;
            match self.line.first() {
                None => return Ok(self.truncated()),
                Some(b'$') => {}
                Some(&c) => {
                    return Ok(Self::corrupt(
                        at,
                        format!("expected '$', got byte 0x{c:02x}"),
                    ))
                }
            }
            match kind {
                Line::Full => {}
                Line::Eof => return Ok(self.truncated()),
                Line::TooLong => return Ok(Self::corrupt(at, "bulk length line too long")),
            }
            let Some(len) = parse_count(&self.line[1..]) else {
                return Ok(Self::corrupt(at, "invalid bulk length"));
            };
            let mut arg = Vec::with_capacity(len.min(1 << 20) as usize);
            let got = (&mut self.inner).take(len).read_to_end(&mut arg)?;
            self.pos += got as u64;
            if (got as u64) < len {
                return Ok(self.truncated());
            }
            let crlf_at = self.pos;
            let mut crlf = [0u8; 2];
            let mut n = 0;
            while n < 2 {
                match self.inner.read(&mut crlf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.pos += n as u64;
            if n < 2 {
                return Ok(self.truncated());
            }
            if crlf != *b"\r\n" {
                return Ok(Self::corrupt(
                    crlf_at,
                    format!(
                        "expected \\r\\n after bulk payload, got {:02x}{:02x}",
                        crlf[0], crlf[1]
                    ),
                ));
            }
            argv.push(arg);
        }
        self.valid_up_to = self.pos;
        Ok(ReadOutcome::Command(argv))
    }
}

/// Decimal digits, then optional `\r`, then `\n`; `None` otherwise (or on overflow).
fn parse_count(s: &[u8]) -> Option<u64> {
    let s = s.strip_suffix(b"\n")?;
    let s = s.strip_suffix(b"\r").unwrap_or(s);
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |v, &c| {
        v.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::resp::encode_command;

    fn read_all(data: &[u8]) -> (Vec<Vec<Vec<u8>>>, ReadOutcome) {
        let mut r = AofCommandReader::new(data);
        let mut cmds = Vec::new();
        loop {
            match r.next_command().unwrap() {
                ReadOutcome::Command(c) => cmds.push(c),
                other => return (cmds, other),
            }
        }
    }

    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        encode_command(&mut out, &a);
        out
    }

    fn sample() -> (Vec<u8>, Vec<u64>) {
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for c in [
            cmd(&["SELECT", "0"]),
            cmd(&["SET", "k", "v\r\nwith crlf"]),
            cmd(&["RPUSH", "l", "", "b"]),
            cmd(&["DEL", "k"]),
        ] {
            data.extend_from_slice(&c);
            ends.push(data.len() as u64);
        }
        (data, ends)
    }

    #[test]
    fn clean_stream() {
        let (data, _) = sample();
        let (cmds, end) = read_all(&data);
        assert_eq!(end, ReadOutcome::Eof);
        assert_eq!(cmds.len(), 4);
        assert_eq!(cmds[1][2], b"v\r\nwith crlf");
        assert_eq!(cmds[2][2], b"");
    }

    #[test]
    fn truncated_at_every_offset() {
        let (data, ends) = sample();
        for cut in 0..data.len() {
            let (cmds, end) = read_all(&data[..cut]);
            let complete = ends.iter().filter(|&&e| e <= cut as u64).count();
            assert_eq!(cmds.len(), complete, "cut {cut}");
            let boundary = ends
                .iter()
                .rev()
                .find(|&&e| e <= cut as u64)
                .copied()
                .unwrap_or(0);
            if boundary == cut as u64 {
                assert_eq!(end, ReadOutcome::Eof, "cut {cut}");
            } else {
                assert_eq!(
                    end,
                    ReadOutcome::Truncated {
                        valid_up_to: boundary
                    },
                    "cut {cut}"
                );
            }
        }
    }

    #[test]
    fn annotations_and_corruption() {
        let mut data = b"#TS:1700000000\r\n".to_vec();
        data.extend_from_slice(&cmd(&["PING"]));
        data.extend_from_slice(b"#TS:17");
        let (cmds, end) = read_all(&data);
        assert_eq!((cmds.len(), end), (1, ReadOutcome::Eof));

        let cases: &[(&[u8], u64)] = &[
            (b"*1\r\n$4\r\nPING\r\nxyz", 14),
            (b"\n", 0),
            (b"*0\r\n", 0),
            (b"*-1\r\n", 0),
            (b"*x\r\n", 0),
            (b"*1\r\n:4\r\n", 4),
            (b"*1\r\n$-4\r\nPING\r\n", 4),
            (b"*1\r\n$4\r\nPINGxx", 12),
            (b"*1\r\n$4\r\nPING\r\n\0\0\0\0", 14),
        ];
        for (bytes, at) in cases {
            match read_all(bytes).1 {
                ReadOutcome::Corrupt { offset, .. } => assert_eq!(offset, *at, "{bytes:?}"),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
        let long = format!("*{}\r\n", "1".repeat(2000));
        assert!(matches!(
            read_all(long.as_bytes()).1,
            ReadOutcome::Corrupt { .. }
        ));
        // Huge declared length: reads what exists, then reports truncation, no huge alloc.
        let (_, end) = read_all(b"*1\r\n$999999999999\r\nabc");
        assert_eq!(end, ReadOutcome::Truncated { valid_up_to: 0 });
        // LF-only lines are accepted.
        let (cmds, end) = read_all(b"*1\n$4\nPING\r\n");
        assert_eq!((cmds.len(), end), (1, ReadOutcome::Eof));
    }
}
