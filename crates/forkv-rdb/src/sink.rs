//! The writer's output: one fixed buffer, a running CRC-64, a byte count.
//!
//! Allocated once when a save starts; after that, writing a key allocates nothing here.
//! The checksum is computed over each buffer as it is flushed (and over large strings
//! that bypass the buffer), so checksumming costs one pass over the bytes in big blocks.

use std::io::{self, Write};

use crate::crc64;
use crate::len::{encode_int, encode_len};

/// Buffer size for file output.
pub(crate) const FILE_BUF_SIZE: usize = 64 * 1024;

/// Buffered, checksumming output.
pub(crate) struct Sink<W: Write> {
    out: W,
    buf: Vec<u8>,
    cap: usize,
    crc: u64,
    checksum: bool,
    written: u64,
}

impl<W: Write> Sink<W> {
    /// A sink buffering up to `cap` bytes (larger writes go straight through).
    pub(crate) fn new(out: W, checksum: bool, cap: usize) -> Self {
        Sink {
            out,
            buf: Vec::with_capacity(cap),
            cap,
            crc: 0,
            checksum,
            written: 0,
        }
    }

    /// Bytes accepted so far (buffered or written).
    pub(crate) fn position(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64::update(self.crc, &self.buf);
        }
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() <= self.cap {
            self.buf.extend_from_slice(data);
            return Ok(());
        }
        self.flush_buf()?;
        if data.len() >= self.cap {
            if self.checksum {
                self.crc = crc64::update(self.crc, data);
            }
            self.out.write_all(data)?;
            self.written += data.len() as u64;
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(())
    }

    pub(crate) fn byte(&mut self, b: u8) -> io::Result<()> {
        self.bytes(&[b])
    }

    pub(crate) fn len(&mut self, len: u64) -> io::Result<()> {
        let mut b = [0u8; 9];
        let n = encode_len(len, &mut b);
        self.bytes(&b[..n])
    }

    /// An integer as an RDB string: integer-encoded when it fits 32 bits, else decimal.
    pub(crate) fn int_string(&mut self, v: i64) -> io::Result<()> {
        let mut b = [0u8; 5];
        if let Some(n) = encode_int(v, &mut b) {
            return self.bytes(&b[..n]);
        }
        let mut digits = [0u8; 20];
        let text = crate::len::format_i64(v, &mut digits);
        self.len(text.len() as u64)?;
        self.bytes(text)
    }

    /// Flushes the buffer and returns the CRC of everything so far (0 when disabled).
    pub(crate) fn crc(&mut self) -> io::Result<u64> {
        self.flush_buf()?;
        Ok(if self.checksum { self.crc } else { 0 })
    }

    /// Writes `trailer` after everything else, flushes, and returns the total size.
    pub(crate) fn finish(mut self, trailer: &[u8]) -> io::Result<u64> {
        self.flush_buf()?;
        self.out.write_all(trailer)?;
        self.written += trailer.len() as u64;
        self.out.flush()?;
        Ok(self.written)
    }
}
