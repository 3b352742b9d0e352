//! One table entry in one allocation: the chain link, the value, the metadata and the key's
//! bytes after them (Valkey 8.1 embeds the key in the object the table points to the same
//! way). A separate allocation per key costs its own allocator header and size-class
//! rounding, and one more cache miss on every lookup; here a lookup reads the key from the
//! cache line the entry starts on.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::KeyTooLong;

/// The fixed part of an entry; the key's bytes follow it in the same allocation.
pub(crate) struct Header<V, M> {
    pub(crate) next: Link<V, M>,
    pub(crate) value: V,
    /// Per-entry metadata (the keyspace's access clock); `()` for every other table.
    pub(crate) meta: M,
    key_len: u32,
}

/// A chain link: an owned entry or the end of the chain.
pub(crate) type Link<V, M> = Option<EntryBox<V, M>>;

/// An owned, thin pointer to one entry allocation (header followed by the key's bytes).
pub(crate) struct EntryBox<V, M> {
    ptr: NonNull<Header<V, M>>,
    _owns: PhantomData<Header<V, M>>,
}

// SAFETY: an EntryBox owns its allocation exclusively, like a Box of the header and bytes.
unsafe impl<V: Send, M: Send> Send for EntryBox<V, M> {}
// SAFETY: shared access only hands out shared references to the owned data.
unsafe impl<V: Sync, M: Sync> Sync for EntryBox<V, M> {}

impl<V, M> EntryBox<V, M> {
    fn layout(key_len: usize) -> Layout {
        let size = std::mem::size_of::<Header<V, M>>() + key_len;
        // A size that overflows isize cannot be allocated by anything: treat it like an
        // allocation failure (keys come from clients through checked bulk lengths).
        Layout::from_size_align(size, std::mem::align_of::<Header<V, M>>())
            .unwrap_or_else(|_| alloc::handle_alloc_error(Layout::new::<Header<V, M>>()))
    }

    /// Bytes one entry with a key of `key_len` bytes asks the allocator for.
    pub(crate) fn alloc_size(key_len: usize) -> usize {
        std::mem::size_of::<Header<V, M>>() + key_len
    }

    /// A new entry holding a copy of `key`; a key longer than [`super::MAX_KEY_LEN`] is refused
    /// before anything is allocated (the value and chain are handed back with the error).
    pub(crate) fn try_new(
        key: &[u8],
        value: V,
        meta: M,
        next: Link<V, M>,
    ) -> Result<Self, (KeyTooLong, V, Link<V, M>)> {
        let Ok(key_len) = u32::try_from(key.len()) else {
            return Err((KeyTooLong, value, next));
        };
        let layout = Self::layout(key.len());
        // SAFETY: the layout has a non-zero size (the header has a pointer in it).
        let raw = unsafe { alloc::alloc(layout) } as *mut Header<V, M>;
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `raw` is a fresh allocation of header + key bytes, aligned for the
        // header; the key bytes go right after it, inside the allocation.
        unsafe {
            raw.write(Header { next, value, meta, key_len });
            ptr::copy_nonoverlapping(key.as_ptr(), Self::key_ptr(raw), key.len());
        }
        Ok(EntryBox { ptr, _owns: PhantomData })
    }

    /// Where the key bytes of the entry at `h` start (no load: a fixed offset).
    fn key_ptr(h: *mut Header<V, M>) -> *mut u8 {
        h.cast::<u8>().wrapping_add(std::mem::size_of::<Header<V, M>>())
    }

    /// The entry's address (for prefetch hints).
    pub(crate) fn as_ptr(&self) -> *const Header<V, M> {
        self.ptr.as_ptr()
    }

    /// The address of the key bytes (for prefetch hints).
    pub(crate) fn key_addr(&self) -> *const u8 {
        Self::key_ptr(self.ptr.as_ptr())
    }

    pub(crate) fn header(&self) -> &Header<V, M> {
        // SAFETY: the pointer is to a live, initialized header we own.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn header_mut(&mut self) -> &mut Header<V, M> {
        // SAFETY: as above, and `&mut self` makes the access exclusive.
        unsafe { self.ptr.as_mut() }
    }

    /// The key's bytes.
    pub(crate) fn key(&self) -> &[u8] {
        let len = self.header().key_len as usize;
        // SAFETY: `new` wrote `key_len` bytes at this offset; they live as long as `self`.
        unsafe { std::slice::from_raw_parts(Self::key_ptr(self.ptr.as_ptr()), len) }
    }

    /// Frees the allocation and returns the value and the next link.
    pub(crate) fn into_parts(self) -> (V, Link<V, M>) {
        let raw = self.ptr.as_ptr();
        let layout = Self::layout(self.header().key_len as usize);
        std::mem::forget(self);
        // SAFETY: we own the allocation (forgotten above, so no double drop): move the
        // fields out, drop the metadata in place, then free the bytes.
        unsafe {
            let value = ptr::read(&(*raw).value);
            let next = ptr::read(&(*raw).next);
            ptr::drop_in_place(&mut (*raw).meta);
            alloc::dealloc(raw.cast::<u8>(), layout);
            (value, next)
        }
    }
}

impl<V, M> Drop for EntryBox<V, M> {
    fn drop(&mut self) {
        // Unlink the rest of the chain first and drop it in a loop, not by recursion.
        let mut next = self.header_mut().next.take();
        while let Some(mut e) = next {
            next = e.header_mut().next.take();
            drop(e);
        }
        let raw = self.ptr.as_ptr();
        let layout = Self::layout(self.header().key_len as usize);
        // SAFETY: the header is initialized and owned by us; after dropping it in place
        // the allocation is freed with the layout it was made with.
        unsafe {
            ptr::drop_in_place(raw);
            alloc::dealloc(raw.cast::<u8>(), layout);
        }
    }
}
