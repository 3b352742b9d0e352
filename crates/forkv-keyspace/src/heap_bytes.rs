//! `HeapBytes`: an immutable byte string behind one thin pointer, its length stored in
//! front of the bytes in the same allocation.
//!
//! Why not `Box<[u8]>` or `Vec<u8>`: those keep the length (and capacity) next to the
//! pointer, 16 or 24 bytes inline. A string value sits in every keyspace entry, so its
//! inline size is paid once per key: with one pointer the whole [`crate::Value`] is 16
//! bytes and a dict entry with a 16-byte key fits jemalloc's 48-byte class instead of the
//! 64-byte one. The allocation is exactly `4 + len` bytes (no spare capacity): the
//! strings stored here are written whole (SET and the like); strings edited in place
//! (APPEND, SETRANGE, SETBIT, PFADD) use a growable buffer instead.

use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};

/// Bytes of the length prefix.
const PREFIX: usize = std::mem::size_of::<u32>();

/// An owned, immutable byte string of at most `u32::MAX` bytes behind one pointer.
pub struct HeapBytes {
    /// The length prefix (native-endian u32), then the bytes.
    ptr: NonNull<u8>,
}

// SAFETY: a HeapBytes owns its allocation exclusively and never mutates it after `new`.
unsafe impl Send for HeapBytes {}
// SAFETY: shared access only reads.
unsafe impl Sync for HeapBytes {}

impl HeapBytes {
    fn layout(len: usize) -> Layout {
        // `len` is at most u32::MAX (checked in `new`), so this cannot overflow isize on
        // 64-bit targets; a failure is treated like an allocation failure anyway.
        Layout::from_size_align(PREFIX + len, std::mem::align_of::<u32>())
            .unwrap_or_else(|_| alloc::handle_alloc_error(Layout::new::<u32>()))
    }

    /// A copy of `bytes`; `None` when they are longer than `u32::MAX` bytes.
    pub fn new(bytes: &[u8]) -> Option<HeapBytes> {
        let len = u32::try_from(bytes.len()).ok()?;
        let layout = Self::layout(bytes.len());
        // SAFETY: the layout's size is at least PREFIX (non-zero).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `raw` is a fresh allocation of PREFIX + len bytes aligned for u32: the
        // prefix goes first, the bytes right after it.
        unsafe {
            raw.cast::<u32>().write(len);
            ptr::copy_nonoverlapping(bytes.as_ptr(), raw.add(PREFIX), bytes.len());
        }
        Some(HeapBytes { ptr })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        // SAFETY: `new` wrote the prefix; the allocation lives as long as `self`.
        unsafe { self.ptr.as_ptr().cast::<u32>().read() as usize }
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `new` wrote `len` bytes after the prefix; they live as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(PREFIX), self.len()) }
    }

    /// Bytes this string asks the allocator for (prefix included).
    pub fn alloc_size(&self) -> usize {
        PREFIX + self.len()
    }
}

impl Clone for HeapBytes {
    fn clone(&self) -> Self {
        match HeapBytes::new(self.as_slice()) {
            Some(h) => h,
            // The source was built by `new`, so its length fits.
            None => unreachable!("a HeapBytes longer than u32::MAX"),
        }
    }
}

impl Drop for HeapBytes {
    fn drop(&mut self) {
        let layout = Self::layout(self.len());
        // SAFETY: allocated by `new` with this same layout; dropped once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) }
    }
}

impl std::fmt::Debug for HeapBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HeapBytes").field(&self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_its_bytes_behind_one_pointer() {
        assert_eq!(std::mem::size_of::<HeapBytes>(), 8);
        assert_eq!(std::mem::size_of::<Option<HeapBytes>>(), 8);
        for len in [0usize, 1, 15, 44, 100, 4096] {
            let src: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let h = HeapBytes::new(&src).expect("short enough");
            assert_eq!(h.len(), len);
            assert_eq!(h.is_empty(), len == 0);
            assert_eq!(h.as_slice(), &src[..]);
            assert_eq!(h.alloc_size(), len + 4);
            let c = h.clone();
            drop(h);
            assert_eq!(c.as_slice(), &src[..], "a clone owns its own copy");
        }
    }
}
