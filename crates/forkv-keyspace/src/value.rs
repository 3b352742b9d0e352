//! Values stored under a key, and their in-memory encodings.
//!
//! The public surface of each collection type (constructors, `len`, `iter`, `insert`-like
//! builders) is what the RDB and AOF crates use; per-type command logic lives in
//! `types/*.rs`. Encodings can change behind this surface without touching the file formats.

use std::borrow::Cow;

use crate::dict::Dict;
use crate::zset::ZSetValue;

/// Owned byte string used for keys, members and fields.
pub type Bytes = Box<[u8]>;

/// The five value types of the keyspace.
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
        }
    }

    /// A deep copy (COPY, and values handed to another database).
    pub fn duplicate(&self) -> Value {
        match self {
            Value::Str(s) => Value::Str(s.clone()),
            Value::List(l) => {
                let mut n = ListValue::new();
                l.iter().for_each(|i| n.push_back(i));
                Value::List(Box::new(n))
            }
            Value::Hash(h) => {
                let mut n = HashValue::new();
                h.iter().for_each(|(f, v)| {
                    n.insert(f, v);
                });
                Value::Hash(Box::new(n))
            }
            Value::Set(s) => {
                let mut n = SetValue::new();
                s.iter().for_each(|m| {
                    n.insert(m);
                });
                Value::Set(Box::new(n))
            }
            Value::ZSet(z) => {
                let mut n = ZSetValue::new();
                z.iter().for_each(|(m, sc)| {
                    n.insert(m, sc);
                });
                Value::ZSet(Box::new(n))
            }
        }
    }

    /// Shorthand for a string value from bytes.
    pub fn string(bytes: &[u8]) -> Value {
        Value::Str(StrValue::from_bytes(bytes))
    }
}

/// Longest string kept inline in the value slot, with no heap allocation.
pub const EMBED_MAX: usize = 22;

/// A string value in one of three encodings, as Valkey's `int`/`embstr`/`raw`.
#[derive(Clone)]
pub enum StrValue {
    /// A canonical decimal integer that fits in i64 (no leading zeros, no `+`).
    Int(i64),
    /// Up to [`EMBED_MAX`] bytes stored inline.
    Embed { len: u8, buf: [u8; EMBED_MAX] },
    /// Heap bytes.
    Raw(Vec<u8>),
}

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
            return StrValue::Embed { len: b.len() as u8, buf };
        }
        StrValue::Raw(b.to_vec())
    }

    /// Takes ownership of a buffer (no copy for long strings).
    pub fn from_vec(v: Vec<u8>) -> StrValue {
        if v.len() <= EMBED_MAX {
            StrValue::from_bytes(&v)
        } else {
            StrValue::Raw(v)
        }
    }

    /// The bytes; borrowed except for integers, which are formatted.
    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            StrValue::Int(n) => Cow::Owned(n.to_string().into_bytes()),
            StrValue::Embed { len, buf } => Cow::Borrowed(&buf[..*len as usize]),
            StrValue::Raw(v) => Cow::Borrowed(v),
        }
    }

    /// Length in bytes, without formatting integers into a buffer.
    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => decimal_len(*n),
            StrValue::Embed { len, .. } => *len as usize,
            StrValue::Raw(v) => v.len(),
        }
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Embed { .. } => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }

    /// Converts to a growable heap buffer for in-place edits (APPEND, SETRANGE).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Raw(_)) {
            *self = StrValue::Raw(self.as_bytes().into_owned());
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

/// A list of byte strings.
#[derive(Default)]
pub struct ListValue {
    items: std::collections::VecDeque<Bytes>,
}

impl ListValue {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Appends at the tail.
    pub fn push_back(&mut self, item: &[u8]) {
        self.items.push_back(item.into());
    }
    /// Prepends at the head.
    pub fn push_front(&mut self, item: &[u8]) {
        self.items.push_front(item.into());
    }
    /// Elements head to tail.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.items.iter().map(|b| &b[..])
    }
    /// OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }
    /// Direct access for list commands.
    pub fn items_mut(&mut self) -> &mut std::collections::VecDeque<Bytes> {
        &mut self.items
    }
    /// Read access for list commands.
    pub fn items(&self) -> &std::collections::VecDeque<Bytes> {
        &self.items
    }
}

/// A hash of field -> value.
#[derive(Default)]
pub struct HashValue {
    map: Dict<Bytes, Bytes>,
}

impl HashValue {
    /// An empty hash.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Sets a field; true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.map.insert(field.into(), value.into()).is_none()
    }
    /// Reads a field.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.map.get(field).map(|v| &v[..])
    }
    /// Removes a field; true when it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.map.remove(field).is_some()
    }
    /// (field, value) pairs in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.map.iter().map(|(k, v)| (&k[..], &v[..]))
    }
    /// OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        "hashtable"
    }
    /// The underlying table, for SCAN-style cursors.
    pub fn dict(&self) -> &Dict<Bytes, Bytes> {
        &self.map
    }
}

/// A set of byte strings.
#[derive(Default)]
pub struct SetValue {
    map: Dict<Bytes, ()>,
}

impl SetValue {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of members.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Adds a member; true when it is new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if self.map.contains_key(member) {
            return false;
        }
        self.map.insert(member.into(), ());
        true
    }
    /// Membership test.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.map.contains_key(member)
    }
    /// Removes a member; true when it existed.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        self.map.remove(member).is_some()
    }
    /// Members in table order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.map.iter().map(|(k, _)| &k[..])
    }
    /// OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        "hashtable"
    }
    /// The underlying table, for SCAN-style cursors.
    pub fn dict(&self) -> &Dict<Bytes, ()> {
        &self.map
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
        for bad in [&b"9223372036854775808"[..], b"007", b"-0", b"+1", b" 1", b"", b"-", b"1a"] {
            assert_eq!(parse_canonical_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn strings_pick_the_compact_encoding() {
        assert_eq!(StrValue::from_bytes(b"12345").encoding_name(), "int");
        assert_eq!(StrValue::from_bytes(b"012").encoding_name(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'x'; 23]).encoding_name(), "raw");
        assert_eq!(StrValue::from_bytes(b"-77").as_bytes().as_ref(), b"-77");
        assert_eq!(StrValue::from_bytes(b"-77").len(), 3);
        assert_eq!(decimal_len(i64::MIN), 20);
        let mut s = StrValue::from_bytes(b"10");
        s.make_raw().extend_from_slice(b"x");
        assert_eq!(s.as_bytes().as_ref(), b"10x");
    }
}
