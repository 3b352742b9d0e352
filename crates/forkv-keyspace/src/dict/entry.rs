//! One table entry in one allocation: the chain link, the value, the metadata and the key's
//! bytes after them (Valkey 8.1 embeds the key in the object the table points to the same
//! way). A separate allocation per key costs its own allocator header and size-class
//! rounding, and one more cache miss on every lookup; here a lookup reads the key from the
//! cache line the entry starts on.
//!
//! A value may also keep its bytes in the entry, after the key (see [`EntryTail`]): a short
//! string then costs no allocation of its own, as Valkey's `embstr` shares one with its
//! object header. The entry's size follows from the key length in the header and the
//! length the value reports, so nothing else records it.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::KeyTooLong;

/// A value that may keep its bytes in the tail of the entry holding it, right after the
/// key. Types that never do take the default methods.
///
/// # Safety
/// An implementation must keep these promises, on which the entry's allocation size (and
/// so its deallocation) rests: `embedded_len` is 0 for a value that was never embedded;
/// after `embed` it is the `tail_len` the value reported just before, until `detach`,
/// which makes the value own its bytes again and `embedded_len` 0. An embedded value's
/// drop must not free the tail. The table never moves an embedded value out of its entry
/// nor hands out `&mut` to one: it detaches it first.
pub unsafe trait EntryTail {
    /// Bytes this value would move into its entry's tail; 0: it stays as it is.
    fn tail_len(&self) -> usize {
        0
    }

    /// Copies the value's bytes to `tail` and makes it refer to them there.
    ///
    /// # Safety
    /// `tail` points to `tail_len()` writable bytes that stay where they are, unused by
    /// anything else, until the value is detached or dropped in place.
    unsafe fn embed(&mut self, _tail: *mut u8) {}

    /// Bytes of its entry's tail the value refers to now; 0 when it owns its bytes.
    fn embedded_len(&self) -> usize {
        0
    }

    /// Makes an embedded value own its bytes again (a copy); no-op otherwise.
    fn detach(&mut self) {}
}

// SAFETY: none of these ever embeds (the defaults).
unsafe impl EntryTail for () {}
// SAFETY: as above.
unsafe impl EntryTail for u32 {}
// SAFETY: as above.
unsafe impl EntryTail for i64 {}
// SAFETY: as above.
unsafe impl EntryTail for f64 {}
// SAFETY: as above.
unsafe impl EntryTail for Box<[u8]> {}
// SAFETY: as above.
unsafe impl<T> EntryTail for std::rc::Rc<T> {}

/// The fixed part of an entry; the key's bytes follow it in the same allocation.
pub(crate) struct Header<V: EntryTail, M> {
    pub(crate) next: Link<V, M>,
    pub(crate) value: V,
    /// Per-entry metadata (the keyspace's access clock); `()` for every other table.
    pub(crate) meta: M,
    key_len: u32,
}

/// A chain link: an owned entry or the end of the chain.
pub(crate) type Link<V, M> = Option<EntryBox<V, M>>;

/// An owned, thin pointer to one entry allocation (header followed by the key's bytes).
pub(crate) struct EntryBox<V: EntryTail, M> {
    ptr: NonNull<Header<V, M>>,
    _owns: PhantomData<Header<V, M>>,
}

// SAFETY: an EntryBox owns its allocation exclusively, like a Box of the header and bytes.
unsafe impl<V: EntryTail + Send, M: Send> Send for EntryBox<V, M> {}
// SAFETY: shared access only hands out shared references to the owned data.
unsafe impl<V: EntryTail + Sync, M: Sync> Sync for EntryBox<V, M> {}

impl<V: EntryTail, M> EntryBox<V, M> {
    fn layout(key_len: usize, tail_len: usize) -> Layout {
        let size = std::mem::size_of::<Header<V, M>>()
            .saturating_add(key_len)
            .saturating_add(tail_len);
        // A size that overflows isize cannot be allocated by anything: treat it like an
        // allocation failure (keys come from clients through checked bulk lengths).
        Layout::from_size_align(size, std::mem::align_of::<Header<V, M>>())
            .unwrap_or_else(|_| alloc::handle_alloc_error(Layout::new::<Header<V, M>>()))
    }

    /// Bytes one entry with a key of `key_len` bytes asks the allocator for (without a
    /// value's tail: that counts as the value's).
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
        Ok(EntryBox { ptr: Self::build(key, key_len, value, meta, next), _owns: PhantomData })
    }

    /// A fresh allocation holding the header, the key and, when the value asks for one,
    /// its tail (the value is embedded there).
    fn build(key: &[u8], key_len: u32, value: V, meta: M, next: Link<V, M>) -> NonNull<Header<V, M>> {
        let tail = value.tail_len();
        let layout = Self::layout(key.len(), tail);
        // SAFETY: the layout has a non-zero size (the header has a pointer in it).
        let raw = unsafe { alloc::alloc(layout) } as *mut Header<V, M>;
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `raw` is a fresh allocation of header + key bytes + tail, aligned for
        // the header; the key bytes go right after it and the tail after them, inside the
        // allocation. The tail stays put as long as the entry lives (entries never move:
        // the table moves pointers to them).
        unsafe {
            raw.write(Header { next, value, meta, key_len });
            let key_at = Self::key_ptr(raw);
            ptr::copy_nonoverlapping(key.as_ptr(), key_at, key.len());
            if tail > 0 {
                (*raw).value.embed(key_at.add(key.len()));
            }
        }
        ptr
    }

    /// The layout this entry was allocated with (key length from the header, tail length
    /// from the value).
    fn current_layout(&self) -> Layout {
        let h = self.header();
        Self::layout(h.key_len as usize, h.value.embedded_len())
    }

    /// Makes the value own its bytes again and shrinks the allocation to header + key,
    /// so the value may be handed out mutably (a tail has a fixed size).
    pub(crate) fn detach(&mut self) {
        if self.header().value.embedded_len() == 0 {
            return;
        }
        let old = self.current_layout();
        let raw = self.ptr.as_ptr();
        // SAFETY: the header is ours and initialized. After `detach` the value owns a
        // copy of its bytes, so the tail is dead; `realloc` keeps the header and key (the
        // new size covers exactly them) and may move them, which is fine: nothing points
        // into an entry but its own EntryBox, updated here.
        unsafe {
            (*raw).value.detach();
            let new = Self::layout((*raw).key_len as usize, 0);
            let moved = alloc::realloc(raw.cast::<u8>(), old, new.size()) as *mut Header<V, M>;
            match NonNull::new(moved) {
                Some(p) => self.ptr = p,
                None => alloc::handle_alloc_error(new),
            }
        }
    }

    /// Replaces the value; the old one comes back owning its bytes when `keep_old`, else
    /// it is dropped here (no copy of an embedded old value). A new value with a tail as
    /// long as the old one's takes its place; otherwise, when either value has a tail, the
    /// entry is rebuilt in a new allocation (key, metadata and link move over).
    pub(crate) fn set_value(&mut self, value: V, keep_old: bool) -> Option<V> {
        if self.header().value.embedded_len() == 0 && value.tail_len() == 0 {
            let old = std::mem::replace(&mut self.header_mut().value, value);
            return keep_old.then_some(old);
        }
        let tail = value.tail_len();
        if tail > 0 && tail == self.header().value.embedded_len() {
            // Same tail size (an overwrite with a value as long): reuse the allocation.
            let raw = self.ptr.as_ptr();
            // SAFETY: the old value is moved out and detached (or dropped in place) before
            // the new one is written over it and over the tail it used; the allocation
            // keeps its size, and the tail of `tail` bytes after the key stays where it is.
            unsafe {
                let old = Self::take_value(raw, keep_old);
                ptr::write(&mut (*raw).value, value);
                let at = Self::key_ptr(raw).add((*raw).key_len as usize);
                (*raw).value.embed(at);
                return old;
            }
        }
        let old_layout = self.current_layout();
        let raw = self.ptr.as_ptr();
        // SAFETY: we own the old allocation: its fields are moved out exactly once (next
        // and meta into the new entry, the value detached and returned or dropped in place
        // while its tail is still allocated), then its bytes are freed without running
        // the header's drop again.
        unsafe {
            let key_len = (*raw).key_len;
            let key = std::slice::from_raw_parts(Self::key_ptr(raw), key_len as usize);
            let next = ptr::read(&(*raw).next);
            let meta = ptr::read(&(*raw).meta);
            self.ptr = Self::build(key, key_len, value, meta, next);
            let old = Self::take_value(raw, keep_old);
            alloc::dealloc(raw.cast::<u8>(), old_layout);
            old
        }
    }

    /// Moves the value out of the entry at `raw`, detached from the entry's tail, when
    /// `keep_old`; else drops it in place (no copy of an embedded value).
    ///
    /// # Safety
    /// `raw` is an initialized entry whose tail is still allocated; afterwards its value
    /// field is dead and must be overwritten or the entry freed without dropping it again.
    unsafe fn take_value(raw: *mut Header<V, M>, keep_old: bool) -> Option<V> {
        // SAFETY: the caller's contract above.
        unsafe {
            if keep_old {
                let mut v = ptr::read(&(*raw).value);
                v.detach();
                Some(v)
            } else {
                ptr::drop_in_place(&mut (*raw).value);
                None
            }
        }
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
        let layout = self.current_layout();
        std::mem::forget(self);
        // SAFETY: we own the allocation (forgotten above, so no double drop): move the
        // fields out (the value copies its bytes out of the tail before it is freed),
        // drop the metadata in place, then free the bytes.
        unsafe {
            let mut value = ptr::read(&(*raw).value);
            value.detach();
            let next = ptr::read(&(*raw).next);
            ptr::drop_in_place(&mut (*raw).meta);
            alloc::dealloc(raw.cast::<u8>(), layout);
            (value, next)
        }
    }
}

impl<V: EntryTail, M> Drop for EntryBox<V, M> {
    fn drop(&mut self) {
        // Unlink the rest of the chain first and drop it in a loop, not by recursion.
        let mut next = self.header_mut().next.take();
        while let Some(mut e) = next {
            next = e.header_mut().next.take();
            drop(e);
        }
        let raw = self.ptr.as_ptr();
        let layout = self.current_layout();
        // SAFETY: the header is initialized and owned by us; after dropping it in place
        // (an embedded value's drop leaves its tail alone) the allocation is freed with
        // the layout it was made with, taken before the drop.
        unsafe {
            ptr::drop_in_place(raw);
            alloc::dealloc(raw.cast::<u8>(), layout);
        }
    }
}
