//! One table entry in one allocation: the chain link, the metadata, the key's length, then
//! the value and the key's bytes (Valkey 8.1 embeds the key in the object the table points
//! to the same way). A separate allocation per key costs its own allocator header and
//! size-class rounding, and one more cache miss on every lookup; here a lookup reads the
//! key from the cache line the entry starts on.
//!
//! Two layouts share the first 16 bytes (the [`Prefix`]: link, metadata, length word):
//!
//! ```text
//! full:    [next 8][meta][key_len u32][value V          ][key bytes]
//! packed:  [next 8][meta][key_len u16, value_len u16    ][key bytes][value bytes]
//! ```
//!
//! A *packed* entry keeps a short value's bytes right after the key and no `V` at all (see
//! [`EntryTail`]): a 100-byte string under a 10-byte key is then one 126-byte allocation
//! (jemalloc's 128 class) instead of a 48-byte entry plus a 112-byte string, as Valkey's
//! embstr shares one allocation with its object header. Which layout an entry has is bit
//! 0 of the pointer to it (entries are 8-aligned), so the prefix carries no flag.
//! A packed value is handed out as a [`VRef::View`]: a `V` built on the fly that refers to
//! the bytes in the entry and owns nothing. Before anyone may change it in place, the
//! entry is rebuilt in the full layout ([`EntryBox::value_mut`]).

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

use super::KeyTooLong;

/// A value that may be kept *packed*: its bytes in its entry, after the key, with no `V`
/// stored. Types that never pack take the default methods (and implement [`Plain`]).
///
/// # Safety
/// `view` must return a value that only refers to the `len` bytes it was given, never
/// frees or changes them when dropped, and clones into a value owning its bytes;
/// `unpack(b)` must equal (in content) the value `packable` gave `b` for.
pub unsafe trait EntryTail: Sized {
    /// The bytes this value would be packed as (at most `u16::MAX`), or `None`: it is
    /// stored as it is. A value that packs is dropped after its bytes were copied.
    fn packable(&self) -> Option<&[u8]> {
        None
    }

    /// A non-owning view of packed bytes.
    ///
    /// # Safety
    /// `bytes` points to `len` bytes that stay unchanged while the view lives; the view
    /// must not be dropped (it is wrapped in `ManuallyDrop`).
    unsafe fn view(_bytes: *const u8, _len: usize) -> Self {
        unreachable!("a value that never packs has no view")
    }

    /// A value owning a copy of packed bytes.
    fn unpack(_bytes: &[u8]) -> Self {
        unreachable!("a value that never packs is never unpacked")
    }
}

/// A value that never packs: tables of these hand out plain references.
///
/// # Safety
/// `packable` must always return `None` (the default).
pub unsafe trait Plain: EntryTail {}

macro_rules! plain {
    ($($t:ty),*) => {$(
        // SAFETY: the defaults: never packs.
        unsafe impl EntryTail for $t {}
        // SAFETY: as above.
        unsafe impl Plain for $t {}
    )*};
}
plain!((), u32, i64, f64, Box<[u8]>);
// SAFETY: the defaults: never packs.
unsafe impl<T> EntryTail for std::rc::Rc<T> {}
// SAFETY: as above.
unsafe impl<T> Plain for std::rc::Rc<T> {}

/// A value read from a table: a reference to a stored value, or a view of a packed one.
/// Dereferences to `V` either way.
pub enum VRef<'a, V> {
    /// The value stored in a full entry.
    Ref(&'a V),
    /// A view of a packed entry's bytes (owns nothing; valid while the entry is borrowed).
    View(ManuallyDrop<V>, PhantomData<&'a V>),
}

impl<V> std::ops::Deref for VRef<'_, V> {
    type Target = V;

    fn deref(&self) -> &V {
        match self {
            VRef::Ref(v) => v,
            VRef::View(v, _) => v,
        }
    }
}

/// The part both layouts start with.
#[repr(C)]
pub(crate) struct Prefix<V: EntryTail, M> {
    pub(crate) next: Link<V, M>,
    /// Per-entry metadata (the keyspace's access clock); `()` for every other table.
    pub(crate) meta: M,
    /// Full: the key's length. Packed: the key's length in the low 16 bits, the value's
    /// in the high 16.
    len_word: u32,
}

/// A full entry's fixed part; the key's bytes follow it.
#[repr(C)]
struct Full<V: EntryTail, M> {
    prefix: Prefix<V, M>,
    value: V,
}

/// A chain link: an owned entry or the end of the chain.
pub(crate) type Link<V, M> = Option<EntryBox<V, M>>;

/// Longest key and longest value a packed entry holds (16-bit lengths).
const PACK_MAX: usize = u16::MAX as usize;

/// Bit 0 of an entry pointer: the entry is packed.
const PACKED: usize = 1;

/// An owned, thin pointer to one entry allocation; bit 0 says which layout it has.
pub(crate) struct EntryBox<V: EntryTail, M> {
    tagged: NonNull<u8>,
    _owns: PhantomData<Full<V, M>>,
}

// SAFETY: an EntryBox owns its allocation exclusively, like a Box of the header and bytes.
unsafe impl<V: EntryTail + Send, M: Send> Send for EntryBox<V, M> {}
// SAFETY: shared access only hands out shared references (or views) of the owned data.
unsafe impl<V: EntryTail + Sync, M: Sync> Sync for EntryBox<V, M> {}

impl<V: EntryTail, M> EntryBox<V, M> {
    const PREFIX: usize = std::mem::size_of::<Prefix<V, M>>();
    const FULL: usize = std::mem::size_of::<Full<V, M>>();
    const ALIGN: usize = std::mem::align_of::<Full<V, M>>();

    fn layout(size: usize) -> Layout {
        // A size that overflows isize cannot be allocated by anything: treat it like an
        // allocation failure (keys come from clients through checked bulk lengths).
        Layout::from_size_align(size, Self::ALIGN)
            .unwrap_or_else(|_| alloc::handle_alloc_error(Layout::new::<Full<V, M>>()))
    }

    /// Bytes a full entry with a key of `key_len` bytes asks the allocator for (a packed
    /// entry's value bytes count as the value's, see [`EntryBox::packed_size`]).
    pub(crate) fn alloc_size(key_len: usize) -> usize {
        Self::FULL + key_len
    }

    /// Bytes a packed entry with a key of `key_len` bytes asks for, without its value's.
    pub(crate) fn packed_size(key_len: usize) -> usize {
        Self::PREFIX + key_len
    }

    /// A new entry holding a copy of `key`; a key longer than [`super::MAX_KEY_LEN`] is
    /// refused before anything is allocated (the value and chain are handed back with the
    /// error).
    pub(crate) fn try_new(
        key: &[u8],
        value: V,
        meta: M,
        next: Link<V, M>,
    ) -> Result<Self, (KeyTooLong, V, Link<V, M>)> {
        if u32::try_from(key.len()).is_err() {
            return Err((KeyTooLong, value, next));
        }
        Ok(Self::build(key, value, meta, next))
    }

    /// A fresh allocation: packed when the value and key allow it, else full. The key is
    /// at most `u32::MAX` bytes (checked by the callers).
    fn build(key: &[u8], value: V, meta: M, next: Link<V, M>) -> Self {
        match value.packable() {
            Some(bytes) if bytes.len() <= PACK_MAX && key.len() <= PACK_MAX => {
                let e = Self::build_packed(key, bytes, meta, next);
                drop(value);
                e
            }
            _ => Self::build_full(key, value, meta, next),
        }
    }

    fn alloc(size: usize) -> NonNull<u8> {
        let layout = Self::layout(size);
        // SAFETY: the size is non-zero (every layout holds a pointer).
        let raw = unsafe { alloc::alloc(layout) };
        NonNull::new(raw).unwrap_or_else(|| alloc::handle_alloc_error(layout))
    }

    fn build_full(key: &[u8], value: V, meta: M, next: Link<V, M>) -> Self {
        let raw = Self::alloc(Self::FULL + key.len());
        // SAFETY: a fresh allocation of the full header plus the key, aligned for it.
        unsafe {
            raw.as_ptr().cast::<Full<V, M>>().write(Full {
                prefix: Prefix { next, meta, len_word: key.len() as u32 },
                value,
            });
            ptr::copy_nonoverlapping(key.as_ptr(), raw.as_ptr().add(Self::FULL), key.len());
        }
        EntryBox { tagged: raw, _owns: PhantomData }
    }

    fn build_packed(key: &[u8], bytes: &[u8], meta: M, next: Link<V, M>) -> Self {
        let raw = Self::alloc(Self::PREFIX + key.len() + bytes.len());
        // SAFETY: a fresh allocation of the prefix, the key and the value bytes, aligned
        // for the prefix; both lengths fit 16 bits (checked by `build`). The tag goes in
        // bit 0, which the alignment leaves free.
        unsafe {
            let len_word = key.len() as u32 | (bytes.len() as u32) << 16;
            raw.as_ptr().cast::<Prefix<V, M>>().write(Prefix { next, meta, len_word });
            let key_at = raw.as_ptr().add(Self::PREFIX);
            ptr::copy_nonoverlapping(key.as_ptr(), key_at, key.len());
            ptr::copy_nonoverlapping(bytes.as_ptr(), key_at.add(key.len()), bytes.len());
            EntryBox { tagged: NonNull::new_unchecked(raw.as_ptr().map_addr(|a| a | PACKED)), _owns: PhantomData }
        }
    }

    /// True when the value's bytes are packed after the key.
    pub(crate) fn is_packed(&self) -> bool {
        self.tagged.as_ptr().addr() & PACKED != 0
    }

    /// The allocation's address (tag cleared).
    fn base(&self) -> *mut u8 {
        self.tagged.as_ptr().map_addr(|a| a & !PACKED)
    }

    fn len_word(&self) -> u32 {
        self.prefix().len_word
    }

    fn key_len(&self) -> usize {
        if self.is_packed() { (self.len_word() & 0xffff) as usize } else { self.len_word() as usize }
    }

    /// Length of a packed value (0 for a full entry).
    fn packed_len(&self) -> usize {
        if self.is_packed() { (self.len_word() >> 16) as usize } else { 0 }
    }

    /// Where the key's bytes start (a fixed offset per layout).
    fn key_ptr(&self) -> *mut u8 {
        let off = if self.is_packed() { Self::PREFIX } else { Self::FULL };
        self.base().wrapping_add(off)
    }

    /// The layout the entry was allocated with.
    fn current_layout(&self) -> Layout {
        if self.is_packed() {
            Self::layout(Self::PREFIX + self.key_len() + self.packed_len())
        } else {
            Self::layout(Self::FULL + self.key_len())
        }
    }

    /// The entry's address (for prefetch hints).
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.base()
    }

    /// The address of the key bytes (for prefetch hints).
    pub(crate) fn key_addr(&self) -> *const u8 {
        self.key_ptr()
    }

    pub(crate) fn prefix(&self) -> &Prefix<V, M> {
        // SAFETY: both layouts start with an initialized prefix we own.
        unsafe { &*self.base().cast::<Prefix<V, M>>() }
    }

    pub(crate) fn prefix_mut(&mut self) -> &mut Prefix<V, M> {
        // SAFETY: as above, and `&mut self` makes the access exclusive.
        unsafe { &mut *self.base().cast::<Prefix<V, M>>() }
    }

    /// The key's bytes.
    pub(crate) fn key(&self) -> &[u8] {
        // SAFETY: the builders wrote `key_len` bytes at this offset; they live as long as
        // `self`.
        unsafe { std::slice::from_raw_parts(self.key_ptr(), self.key_len()) }
    }

    /// The packed value's bytes (empty for a full entry).
    fn packed_bytes(&self) -> &[u8] {
        if !self.is_packed() {
            return &[];
        }
        // SAFETY: `build_packed` wrote `packed_len` bytes right after the key.
        unsafe { std::slice::from_raw_parts(self.key_ptr().add(self.key_len()), self.packed_len()) }
    }

    /// The value: a reference into a full entry, a view of a packed one.
    pub(crate) fn value(&self) -> VRef<'_, V> {
        if self.is_packed() {
            let b = self.packed_bytes();
            // SAFETY: the bytes stay unchanged while `self` is borrowed (the view's
            // lifetime), and the view is never dropped (ManuallyDrop).
            VRef::View(ManuallyDrop::new(unsafe { V::view(b.as_ptr(), b.len()) }), PhantomData)
        } else {
            VRef::Ref(self.full_value())
        }
    }

    /// The value of a full entry. Only called on entries of [`Plain`] values and on
    /// entries known to be full.
    pub(crate) fn full_value(&self) -> &V {
        debug_assert!(!self.is_packed());
        // SAFETY: a full entry holds an initialized `Full` at its base.
        unsafe { &(*self.base().cast::<Full<V, M>>()).value }
    }

    /// The value, mutably: a packed entry is rebuilt in the full layout first (its value
    /// owning its bytes), since a value changed in place may change size.
    pub(crate) fn value_mut(&mut self) -> &mut V {
        if self.is_packed() {
            let value = V::unpack(self.packed_bytes());
            let (key, old) = (self.key_ptr(), self.current_layout());
            let key_len = self.key_len();
            let base = self.base();
            // SAFETY: the prefix's link and metadata move to the new entry exactly once;
            // the old allocation (a prefix, the key and bytes, no `V`) is then freed
            // without dropping anything else.
            unsafe {
                let prefix = ptr::read(base.cast::<Prefix<V, M>>());
                let key = std::slice::from_raw_parts(key, key_len);
                let fresh = Self::build_full(key, value, prefix.meta, prefix.next);
                alloc::dealloc(base, old);
                ptr::write(self, fresh);
            }
        }
        // SAFETY: full now; `&mut self` makes the access exclusive.
        unsafe { &mut (*self.base().cast::<Full<V, M>>()).value }
    }

    /// Replaces the value; the old one comes back owning its bytes when `keep_old`, else
    /// it is dropped here. A full entry whose new value does not pack keeps its
    /// allocation; a packed entry whose new value packs to as many bytes is overwritten in
    /// place; otherwise the entry is rebuilt (key, metadata and link move over).
    pub(crate) fn set_value(&mut self, value: V, keep_old: bool) -> Option<V> {
        let new_pack = value.packable().filter(|b| b.len() <= PACK_MAX && self.key_len() <= PACK_MAX).map(<[u8]>::len);
        if !self.is_packed() && new_pack.is_none() {
            let old = std::mem::replace(self.full_value_mut(), value);
            return keep_old.then_some(old);
        }
        if self.is_packed() && new_pack == Some(self.packed_len()) {
            let old = keep_old.then(|| V::unpack(self.packed_bytes()));
            let at = self.key_ptr().wrapping_add(self.key_len());
            if let Some(bytes) = value.packable() {
                // SAFETY: the entry's value bytes have exactly this length and belong to it;
                // `&mut self` guarantees no view of them is alive.
                unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len()) };
            }
            return old;
        }
        let old_layout = self.current_layout();
        let base = self.base();
        let packed = self.is_packed();
        // SAFETY: we own the old allocation: its fields are moved out exactly once (next
        // and meta into the new entry, a full entry's value returned or dropped), then its
        // bytes are freed without running anything else.
        unsafe {
            let key = std::slice::from_raw_parts(self.key_ptr(), self.key_len());
            let old = if packed {
                keep_old.then(|| V::unpack(self.packed_bytes()))
            } else {
                let v = ptr::read(&(*base.cast::<Full<V, M>>()).value);
                if keep_old {
                    Some(v)
                } else {
                    drop(v);
                    None
                }
            };
            let prefix = ptr::read(base.cast::<Prefix<V, M>>());
            let fresh = Self::build(key, value, prefix.meta, prefix.next);
            alloc::dealloc(base, old_layout);
            ptr::write(self, fresh);
            old
        }
    }

    fn full_value_mut(&mut self) -> &mut V {
        debug_assert!(!self.is_packed());
        // SAFETY: a full entry; `&mut self` makes the access exclusive.
        unsafe { &mut (*self.base().cast::<Full<V, M>>()).value }
    }

    /// Frees the allocation and returns the value (owning its bytes) and the next link.
    pub(crate) fn into_parts(self) -> (V, Link<V, M>) {
        let this = ManuallyDrop::new(self);
        let base = this.base();
        let layout = this.current_layout();
        // SAFETY: we own the allocation (not dropped again: ManuallyDrop): move the fields
        // out (a packed value is copied out of the entry first), drop the metadata in
        // place, then free the bytes.
        unsafe {
            let value = if this.is_packed() {
                V::unpack(this.packed_bytes())
            } else {
                ptr::read(&(*base.cast::<Full<V, M>>()).value)
            };
            let prefix = ptr::read(base.cast::<Prefix<V, M>>());
            let next = prefix.next;
            drop(prefix.meta);
            alloc::dealloc(base, layout);
            (value, next)
        }
    }
}

impl<V: EntryTail, M> Drop for EntryBox<V, M> {
    fn drop(&mut self) {
        // Unlink the rest of the chain first and drop it in a loop, not by recursion.
        let mut next = self.prefix_mut().next.take();
        while let Some(mut e) = next {
            next = e.prefix_mut().next.take();
            drop(e);
        }
        let base = self.base();
        let layout = self.current_layout();
        // SAFETY: the entry is initialized and owned by us: drop what it holds in place (a
        // packed entry holds no `V`), then free it with the layout it was made with.
        unsafe {
            if self.is_packed() {
                ptr::drop_in_place(base.cast::<Prefix<V, M>>());
            } else {
                ptr::drop_in_place(base.cast::<Full<V, M>>());
            }
            alloc::dealloc(base, layout);
        }
    }
}
