//! The compact in-memory encodings that travel inside RDB strings.
//!
//! Small collections are saved by Redis and Valkey as the bytes of their compact
//! encoding: ziplist (Redis < 7.0), listpack (7.0+), intset (sets of integers) and zipmap
//! (hashes before 2.6). Each module here walks one encoding and hands every element to a
//! callback, checking the structure as Valkey's deep integrity checks do (header fields,
//! every entry inside the blob, back-pointers, end markers, counts), so a corrupt blob is
//! an error and never an out-of-bounds read.
//!
//! The walkers never allocate: elements are borrowed from the blob or are integers.

pub mod intset;
pub mod listpack;
pub mod ziplist;
pub mod zipmap;

use std::fmt;

use crate::len::format_i64;

/// One element of a compact encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A string element, borrowed from the blob.
    Str(&'a [u8]),
    /// An integer element (stored as a number, stands for its decimal form).
    Int(i64),
}

impl Item<'_> {
    /// Calls `f` with the element's bytes (integers formatted on the stack).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Item::Str(s) => f(s),
            Item::Int(v) => {
                let mut buf = [0u8; 20];
                f(format_i64(v, &mut buf))
            }
        }
    }
}

/// A structural problem in a compact blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingError {
    /// What is wrong.
    pub what: &'static str,
    /// Byte position inside the blob.
    pub at: usize,
}

impl EncodingError {
    pub(crate) fn new(what: &'static str, at: usize) -> Self {
        EncodingError { what, at }
    }
}

impl fmt::Display for EncodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {} of the blob)", self.what, self.at)
    }
}

/// Reads a little-endian u16 at `at`.
pub(crate) fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at.checked_add(2)?)? {
        &[x, y] => Some(u16::from_le_bytes([x, y])),
        _ => None,
    }
}

/// Reads a little-endian u32 at `at`.
pub(crate) fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at.checked_add(4)?)? {
        &[a, b2, c, d] => Some(u32::from_le_bytes([a, b2, c, d])),
        _ => None,
    }
}

/// Reads `N` bytes at `at`.
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    let s = b.get(at..at.checked_add(N)?)?;
    let mut out = [0u8; N];
    out.copy_from_slice(s);
    Some(out)
}
