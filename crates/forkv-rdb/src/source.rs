//! The reader's input: buffered, offset-tracking, checksumming, bounded in what it
//! allocates.
//!
//! Every byte the loader consumes passes through here, so this is the one place that
//! knows the current file offset (for error messages) and the running CRC-64 (for the
//! trailing checksum). Declared lengths from the file never size an allocation directly:
//! [`Source::read_into`] grows its buffer only as bytes actually arrive, so a 4 GiB length
//! in a 100-byte file costs an EOF error, not 4 GiB of memory.

use std::io::{self, Read};

use crate::crc64;
use crate::error::{RdbError, RdbErrorKind};
use crate::len::{decode_len, Length};

/// Size of the read buffer.
const BUF_SIZE: usize = 64 * 1024;
/// Most memory reserved ahead of data for one declared length.
pub(crate) const PREALLOC_CAP: usize = 1 << 20;

/// Buffered input with offset and CRC tracking.
pub(crate) struct Source<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    /// CRC of every byte before `buf[crc_pos]`.
    crc: u64,
    crc_pos: usize,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Source {
            inner,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            end: 0,
            base: 0,
            crc: 0,
            crc_pos: 0,
        }
    }

    /// Offset of the next byte to be read.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// An error of `kind` at the current offset.
    pub(crate) fn error(&self, kind: RdbErrorKind) -> RdbError {
        RdbError::new(self.offset(), kind)
    }

    /// A corruption error at the current offset.
    pub(crate) fn corrupt(&self, msg: impl Into<String>) -> RdbError {
        RdbError::corrupt(self.offset(), msg)
    }

    /// CRC-64 of every byte consumed so far.
    pub(crate) fn crc(&mut self) -> u64 {
        self.fold_crc();
        self.crc
    }

    fn fold_crc(&mut self) {
        if let Some(done) = self.buf.get(self.crc_pos..self.pos) {
            self.crc = crc64::update(self.crc, done);
        }
        self.crc_pos = self.pos;
    }

    /// Refills an exhausted buffer. Returns false at end of input.
    fn fill(&mut self) -> Result<bool, RdbError> {
        self.fold_crc();
        self.base += self.pos as u64;
        self.pos = 0;
        self.end = 0;
        self.crc_pos = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.error(RdbErrorKind::Io(e))),
            }
        }
    }

    /// Fills `dst` completely or fails with an EOF error.
    pub(crate) fn read_exact(&mut self, dst: &mut [u8]) -> Result<(), RdbError> {
        let mut done = 0;
        while done < dst.len() {
            if self.pos == self.end && !self.fill()? {
                return Err(self.error(RdbErrorKind::UnexpectedEof));
            }
            let n = (self.end - self.pos).min(dst.len() - done);
            if let (Some(d), Some(s)) = (
                dst.get_mut(done..done + n),
                self.buf.get(self.pos..self.pos + n),
            ) {
                d.copy_from_slice(s);
            }
            self.pos += n;
            done += n;
        }
        Ok(())
    }

    pub(crate) fn byte(&mut self) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.read_exact(&mut b)?;
        Ok(b)
    }

    /// True when no byte is left (used after a DUMP payload's value).
    pub(crate) fn at_end(&mut self) -> Result<bool, RdbError> {
        Ok(self.pos == self.end && !self.fill()?)
    }

    /// Appends exactly `len` bytes to `out`, reserving at most [`PREALLOC_CAP`] ahead of
    /// the data actually read.
    pub(crate) fn read_into(&mut self, len: u64, out: &mut Vec<u8>) -> Result<(), RdbError> {
        let len = usize::try_from(len)
            .map_err(|_| self.corrupt(format!("length {len} does not fit in memory")))?;
        out.reserve(len.min(PREALLOC_CAP));
        let mut remaining = len;
        while remaining > 0 {
            if self.pos == self.end && !self.fill()? {
                return Err(self.error(RdbErrorKind::UnexpectedEof));
            }
            let n = (self.end - self.pos).min(remaining);
            if let Some(s) = self.buf.get(self.pos..self.pos + n) {
                out.extend_from_slice(s);
            }
            self.pos += n;
            remaining -= n;
        }
        Ok(())
    }

    /// Reads a length prefix (or a special string encoding marker).
    pub(crate) fn length(&mut self) -> Result<Length, RdbError> {
        let first = self.byte()?;
        let at = self.offset() - 1;
        decode_len(
            first,
            |dst| self.read_exact(dst),
            |b| {
                RdbError::corrupt(
                    at,
                    format!("Unknown length encoding {} in rdbLoadLen()", b >> 6),
                )
            },
        )
    }

    /// Reads a length that must be plain (not a string encoding marker).
    pub(crate) fn plain_length(&mut self) -> Result<u64, RdbError> {
        match self.length()? {
            Length::Plain(n) => Ok(n),
            Length::Encoded(e) => Err(self.corrupt(format!(
                "unexpected string encoding {e} where a length was expected"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per call, to exercise every refill path.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(d)) => {
                    *d = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn crc_and_offset_follow_consumption() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut s = Source::new(&data[..]);
        let mut got = Vec::new();
        s.read_into(100_000, &mut got).expect("read");
        assert_eq!(s.offset(), 100_000);
        assert_eq!(s.crc(), crc64::crc64(&data[..100_000]));
        s.read_into(100_000, &mut got).expect("read");
        assert_eq!(got, data);
        assert!(s.at_end().expect("eof"));
        assert!(s.byte().is_err());

        let mut t = Source::new(Trickle(b"hello"));
        assert_eq!(&t.array::<5>().expect("read"), b"hello");
        assert_eq!(t.crc(), crc64::crc64(b"hello"));
    }

    #[test]
    fn huge_declared_length_costs_an_eof_not_memory() {
        let mut s = Source::new(&b"abc"[..]);
        let mut out = Vec::new();
        let e = s
            .read_into(u64::from(u32::MAX) * 4, &mut out)
            .expect_err("eof");
        assert!(matches!(e.kind, RdbErrorKind::UnexpectedEof));
        assert!(out.capacity() <= PREALLOC_CAP);
    }
}
