//! Values stored under a key, and their in-memory encodings.
//!
//! The public surface of each collection type (constructors, `len`, `iter`, `insert`-like
//! builders) is what the RDB and AOF crates use; the types and their compact encodings
//! live in `types/` and `zset.rs`. Encodings can change behind this surface without
//! touching the file formats.

use std::borrow::Cow;

pub use crate::types::hash::HashValue;
pub use crate::types::list::ListValue;
pub use crate::types::set::SetValue;
pub use crate::types::stream::StreamValue;
use crate::dict::EntryTail;
use crate::heap_bytes::HeapBytes;
use crate::zset::ZSetValue;

/// A value read from the keyspace: a reference to a stored value or a view of a string
/// packed in its entry; dereferences to [`Value`].
pub type ValueRef<'a> = crate::dict::VRef<'a, Value>;

/// Owned byte string used for keys, members and fields.
pub type Bytes = Box<[u8]>;

/// The value types of the keyspace.
pub enum Value {
    /// A string (Valkey: OBJ_STRING).
    Str(StrValue),
    /// A list (OBJ_LIST).
    List(Box<ListValue>),
    /// A hash (OBJ_HASH).
    Hash(Box<HashValue>),
    /// A set (OBJ_SET).
    Set(Box<SetValue>),
    /// A sorted set (OBJ_ZSET).
    ZSet(Box<ZSetValue>),
    /// A stream (OBJ_STREAM).
    Stream(Box<StreamValue>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name OBJECT ENCODING reports: what forkv really uses for this value.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding_name(),
            Value::List(l) => l.encoding_name(),
            Value::Hash(h) => h.encoding_name(),
            Value::Set(s) => s.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
            Value::Stream(_) => "stream",
        }
    }

    /// The listpack of a listpack-encoded list, hash, set or sorted set (DEBUG LISTPACK).
    pub fn listpack(&self) -> Option<&crate::types::listpack::Listpack> {
        match self {
            Value::List(l) => l.listpack(),
            Value::Hash(h) => h.listpack(),
            Value::Set(s) => s.listpack(),
            Value::ZSet(z) => z.listpack(),
            Value::Str(_) | Value::Stream(_) => None,
        }
    }

    /// A deep copy in the same encoding (COPY, and values handed to another database).
    pub fn duplicate(&self) -> Value {
        match self {
            Value::Str(s) => Value::Str(s.clone()),
            Value::List(l) => Value::List(Box::new(l.duplicate())),
            Value::Hash(h) => Value::Hash(Box::new(h.duplicate())),
            Value::Set(s) => Value::Set(Box::new(s.duplicate())),
            Value::ZSet(z) => Value::ZSet(Box::new(z.duplicate())),
            Value::Stream(s) => Value::Stream(Box::new(s.duplicate())),
        }
    }

    /// Shorthand for a string value from bytes.
    pub fn string(bytes: &[u8]) -> Value {
        Value::Str(StrValue::from_bytes(bytes))
    }
}

/// Longest string kept inline in the value, with no heap allocation (the value is 16
/// bytes: the tag, the length byte and these).
pub const EMBED_MAX: usize = 14;

/// Longest string Valkey stores as `embstr` (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`): a string
/// written whole with at most this many bytes reports that encoding.
pub const EMBSTR_SIZE_LIMIT: usize = 44;

/// Longest string [`StrValue::from_vec`] copies into an exact-size block; a longer buffer
/// is kept as it is (a copy would cost more than the buffer's spare capacity saves).
const COPY_MAX: usize = 64 * 1024;

/// Where the bytes of a packed string are: after the key in the keyspace entry that holds
/// them (see [`EntryTail`]). Only the table creates one (the field is private), in a
/// view it hands out while the entry is borrowed, never as a stored or owned value.
#[derive(Clone, Copy)]
pub struct TailPtr(std::ptr::NonNull<u8>);

// SAFETY: the bytes behind it are immutable while the view lives and belong to the
// entry, which is owned like the value (a `Send`/`Sync` table of entries).
unsafe impl Send for TailPtr {}
// SAFETY: as above: only read.
unsafe impl Sync for TailPtr {}

/// A string value. OBJECT ENCODING reports Valkey's names: `int` for a canonical
/// integer, `embstr` for a string of at most [`EMBSTR_SIZE_LIMIT`] bytes written whole,
/// `raw` for longer ones and for strings edited in place (APPEND, SETRANGE, the bit and
/// HyperLogLog commands), as Valkey's `tryObjectEncoding` and `dbUnshareStringValue` do.
///
/// The value is 16 bytes (tag included; checked below), so a keyspace entry stays small;
/// only the growable form needs a second allocation for its `Vec` header. A string written
/// whole (inline or heap form, up to 64 KB) is packed into its keyspace entry when it is
/// stored there: no allocation and no `StrValue` of its own, as Valkey's embstr; the table
/// hands it out as a `Tail` view.
pub enum StrValue {
    /// A canonical decimal integer that fits in i64 (no leading zeros, no `+`).
    Int(i64),
    /// Up to [`EMBED_MAX`] bytes stored inline.
    Embed { len: u8, buf: [u8; EMBED_MAX] },
    /// Bytes written whole, in one exact-size heap block.
    Heap(HeapBytes),
    /// A growable buffer: a string edited in place, or a large buffer taken as it was.
    Raw(Box<Vec<u8>>),
    /// A view of a string packed in its keyspace entry (owns nothing; see [`EntryTail`]).
    Tail { len: u32, at: TailPtr },
}

impl Clone for StrValue {
    /// A clone owns its bytes: a packed string's copy is an inline or heap string.
    fn clone(&self) -> Self {
        match self {
            StrValue::Int(n) => StrValue::Int(*n),
            StrValue::Embed { len, buf } => StrValue::Embed { len: *len, buf: *buf },
            StrValue::Heap(h) => StrValue::Heap(h.clone()),
            StrValue::Raw(v) => StrValue::Raw(v.clone()),
            StrValue::Tail { .. } => StrValue::owned_copy(self.tail_bytes()),
        }
    }
}

// SAFETY: `view` makes a `Tail`, which only reads the bytes it was given and frees nothing
// when dropped (its clone owns a copy); `unpack` gives an owned string of the same bytes.
unsafe impl EntryTail for StrValue {
    /// Strings written whole pack into their entry (inline and heap forms); integers and
    /// growable strings stay as they are.
    fn packable(&self) -> Option<&[u8]> {
        match self {
            StrValue::Embed { len, buf } => Some(&buf[..*len as usize]),
            StrValue::Heap(h) => Some(h.as_slice()),
            StrValue::Int(_) | StrValue::Raw(_) | StrValue::Tail { .. } => None,
        }
    }

    unsafe fn view(bytes: *const u8, len: usize) -> Self {
        // `len` is at most u16::MAX (a packed entry's); a dangling pointer for an empty
        // string is never read.
        let at = std::ptr::NonNull::new(bytes.cast_mut()).unwrap_or(std::ptr::NonNull::dangling());
        StrValue::Tail { len: len as u32, at: TailPtr(at) }
    }

    fn unpack(bytes: &[u8]) -> Self {
        StrValue::owned_copy(bytes)
    }
}

// SAFETY: delegates to the string; other values never pack.
unsafe impl EntryTail for Value {
    fn packable(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => s.packable(),
            _ => None,
        }
    }

    unsafe fn view(bytes: *const u8, len: usize) -> Self {
        // SAFETY: the caller's promise, passed on.
        Value::Str(unsafe { StrValue::view(bytes, len) })
    }

    fn unpack(bytes: &[u8]) -> Self {
        Value::Str(StrValue::unpack(bytes))
    }
}

// A value is one tag byte and fifteen bytes of payload: `Value`'s own tag lives in the
// niche of `StrValue`'s. Every keyspace entry holds one, so its size is a per-key cost.
const _: () = assert!(std::mem::size_of::<StrValue>() == 16);
const _: () = assert!(std::mem::size_of::<Value>() == 16);

impl StrValue {
    /// Stores bytes in the most compact encoding that represents them exactly.
    pub fn from_bytes(b: &[u8]) -> StrValue {
        if b.len() <= 20 {
            if let Some(n) = parse_canonical_i64(b) {
                return StrValue::Int(n);
            }
        }
        if b.len() <= EMBED_MAX {
            let mut buf = [0u8; EMBED_MAX];
            buf[..b.len()].copy_from_slice(b);
            return StrValue::Embed {
                len: b.len() as u8,
                buf,
            };
        }
        match HeapBytes::new(b) {
            Some(h) => StrValue::Heap(h),
            None => StrValue::Raw(Box::new(b.to_vec())),
        }
    }

    /// The bytes of a packed string's view (empty for the other forms).
    fn tail_bytes(&self) -> &[u8] {
        match self {
            // SAFETY: a view's pointer and length describe bytes of its entry, which stay
            // unchanged while the view lives (it borrows the table).
            StrValue::Tail { len, at } => unsafe { std::slice::from_raw_parts(at.0.as_ptr(), *len as usize) },
            _ => &[],
        }
    }

    /// An owned string of these bytes in the heap form (no integer or inline check: the
    /// bytes come from a string that already had its encoding chosen).
    fn owned_copy(b: &[u8]) -> StrValue {
        if b.len() <= EMBED_MAX {
            let mut buf = [0u8; EMBED_MAX];
            buf[..b.len()].copy_from_slice(b);
            return StrValue::Embed { len: b.len() as u8, buf };
        }
        match HeapBytes::new(b) {
            Some(h) => StrValue::Heap(h),
            None => StrValue::Raw(Box::new(b.to_vec())),
        }
    }

    /// Takes a buffer written whole: copied into the compact forms up to 64 KB, kept as
    /// it is (no copy) beyond.
    pub fn from_vec(v: Vec<u8>) -> StrValue {
        if v.len() <= COPY_MAX {
            StrValue::from_bytes(&v)
        } else {
            StrValue::Raw(Box::new(v))
        }
    }

    /// As [`StrValue::from_vec`] for a buffer the caller reuses: a string of up to 64 KB
    /// is copied out and the buffer keeps its capacity; a larger one takes the buffer
    /// (left empty).
    pub fn from_scratch(buf: &mut Vec<u8>) -> StrValue {
        if buf.len() <= COPY_MAX {
            StrValue::from_bytes(buf)
        } else {
            StrValue::Raw(Box::new(std::mem::take(buf)))
        }
    }

    /// A growable string that reports `raw` whatever its length (Valkey creates these
    /// for SETBIT, SETRANGE and PFADD on a new key, and for BITOP's result).
    pub fn raw(v: Vec<u8>) -> StrValue {
        StrValue::Raw(Box::new(v))
    }

    /// The bytes; borrowed except for integers, which are formatted.
    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            StrValue::Int(n) => Cow::Owned(n.to_string().into_bytes()),
            StrValue::Embed { len, buf } => Cow::Borrowed(&buf[..*len as usize]),
            StrValue::Heap(h) => Cow::Borrowed(h.as_slice()),
            StrValue::Raw(v) => Cow::Borrowed(v),
            StrValue::Tail { .. } => Cow::Borrowed(self.tail_bytes()),
        }
    }

    /// Length in bytes, without formatting integers into a buffer.
    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => decimal_len(*n),
            StrValue::Embed { len, .. } => *len as usize,
            StrValue::Heap(h) => h.len(),
            StrValue::Raw(v) => v.len(),
            StrValue::Tail { len, .. } => *len as usize,
        }
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING name (Valkey's, see the type's docs).
    pub fn encoding_name(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Embed { .. } => "embstr",
            StrValue::Heap(_) | StrValue::Tail { .. } if self.len() <= EMBSTR_SIZE_LIMIT => "embstr",
            StrValue::Tail { .. } => "raw",
            StrValue::Heap(_) | StrValue::Raw(_) => "raw",
        }
    }

    /// Converts to a growable heap buffer for in-place edits (APPEND, SETRANGE).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Raw(_)) {
            *self = StrValue::raw(self.as_bytes().into_owned());
        }
        match self {
            StrValue::Raw(v) => v,
            // Just converted above.
            _ => unreachable!("string converted to raw"),
        }
    }
}

/// Digits (and sign) needed to print `n` in decimal.
pub fn decimal_len(n: i64) -> usize {
    let mut len = if n < 0 { 2 } else { 1 };
    let mut u = n.unsigned_abs();
    while u >= 10 {
        u /= 10;
        len += 1;
    }
    len
}

/// Parses the exact decimal form Valkey's `string2ll` accepts: optional `-`, no leading
/// zeros (except "0"), no spaces, no `+`, within i64.
pub fn parse_canonical_i64(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || neg) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i128).wrapping_neg() as i64)
        }
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers_only() {
        assert_eq!(parse_canonical_i64(b"0"), Some(0));
        assert_eq!(parse_canonical_i64(b"-12"), Some(-12));
        assert_eq!(parse_canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"9223372036854775808"[..],
            b"007",
            b"-0",
            b"+1",
            b" 1",
            b"",
            b"-",
            b"1a",
        ] {
            assert_eq!(parse_canonical_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn strings_pick_the_compact_encoding() {
        assert_eq!(StrValue::from_bytes(b"12345").encoding_name(), "int");
        assert_eq!(StrValue::from_bytes(b"012").encoding_name(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'x'; 14]).encoding_name(), "embstr");
        // Past the inline bytes, Valkey's 44-byte embstr limit still decides the name.
        assert_eq!(StrValue::from_bytes(&[b'x'; 15]).encoding_name(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'x'; 44]).encoding_name(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'x'; 45]).encoding_name(), "raw");
        assert_eq!(StrValue::from_vec(vec![b'y'; 30]).encoding_name(), "embstr");
        assert_eq!(StrValue::from_vec(vec![b'y'; 70_000]).len(), 70_000);
        assert_eq!(StrValue::raw(b"ab".to_vec()).encoding_name(), "raw");
        for len in [0usize, 14, 15, 44, 45, 100] {
            let src = vec![b'z'; len];
            let v = StrValue::from_bytes(&src);
            assert_eq!((v.len(), v.as_bytes().as_ref()), (len, &src[..]));
            assert_eq!(v.clone().as_bytes().as_ref(), &src[..]);
        }
        assert_eq!(StrValue::from_bytes(b"-77").as_bytes().as_ref(), b"-77");
        assert_eq!(StrValue::from_bytes(b"-77").len(), 3);
        assert_eq!(decimal_len(i64::MIN), 20);
        let mut s = StrValue::from_bytes(b"10");
        s.make_raw().extend_from_slice(b"x");
        assert_eq!(s.as_bytes().as_ref(), b"10x");
        assert_eq!(s.encoding_name(), "raw", "an edited string is raw, as after Valkey's APPEND");
    }
}
