//! `HashValue`: field -> value, packed in one listpack (field, value, field, value...)
//! while small, a [`Dict`] past `hash-max-listpack-entries` fields or once a field or
//! value is longer than `hash-max-listpack-value` bytes (Valkey's `t_hash.c`). A hash
//! never converts back.
//!
//! This is what makes a million small hashes cheap: each costs one small buffer instead
//! of a hash table with a heap node per field.

use super::listpack::{self, Listpack};
use super::EncodingLimits;
use crate::dict::Dict;
use crate::value::Bytes;

/// A hash of field -> value.
pub struct HashValue {
    repr: Repr,
}

enum Repr {
    /// OBJ_ENCODING_LISTPACK: alternating field and value entries.
    Packed(Listpack),
    /// OBJ_ENCODING_HT. Boxed so that a small hash's header stays small.
    Table(Box<Dict<Bytes>>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue {
            repr: Repr::Packed(Listpack::new()),
        }
    }
}

impl HashValue {
    /// An empty hash (listpack-encoded).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(lp) => lp.len() / 2,
            Repr::Table(d) => d.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        match &self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// The listpack holding the elements while the listpack encoding is used (DEBUG
    /// LISTPACK).
    pub fn listpack(&self) -> Option<&Listpack> {
        match &self.repr {
            Repr::Packed(lp) => Some(lp),
            _ => None,
        }
    }

    /// A deep copy with the same encoding (COPY).
    pub fn duplicate(&self) -> HashValue {
        match &self.repr {
            Repr::Packed(lp) => HashValue {
                repr: Repr::Packed(lp.clone()),
            },
            Repr::Table(d) => {
                let mut n = Dict::new();
                for (f, v) in d.iter() {
                    // Infallible: copied from a table or a listpack: within MAX_KEY_LEN, cannot be refused.
                    let _ = n.insert(f, v.clone());
                }
                HashValue {
                    repr: Repr::Table(Box::new(n)),
                }
            }
        }
    }

    /// Sets a field with Valkey's default limits (used by loaders); true when new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        self.set(field, value, &EncodingLimits::default())
    }

    fn make_table(&mut self) {
        if let Repr::Packed(lp) = &self.repr {
            let mut d = Dict::new();
            let mut it = lp.iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                // Infallible: copied from a table or a listpack: within MAX_KEY_LEN, cannot be refused.
                let _ = d.insert(f, v.into());
            }
            self.repr = Repr::Table(Box::new(d));
        }
    }

    /// Sets a field; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: &EncodingLimits) -> bool {
        if matches!(self.repr, Repr::Packed(_))
            && (field.len() > lim.hash_max_listpack_value
                || value.len() > lim.hash_max_listpack_value)
        {
            self.make_table();
        }
        let added = match &mut self.repr {
            Repr::Packed(lp) => match lp.find(field, 2) {
                Some(p) => {
                    let (_, vpos) = lp.get(p);
                    lp.replace_at(vpos, value);
                    false
                }
                None => {
                    lp.push_back(field);
                    lp.push_back(value);
                    true
                }
            },
            Repr::Table(d) => matches!(d.insert(field, value.into()), Ok(None)),
        };
        if self.len() > lim.hash_max_listpack_entries {
            self.make_table();
        }
        added
    }

    /// Reads a field.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(lp) => lp.find(field, 2).map(|p| lp.data(lp.get(p).1)),
            Repr::Table(d) => d.get(field).map(|v| &v[..]),
        }
    }

    /// True when the field exists.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Removes a field; true when it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(lp) => match lp.find(field, 2) {
                Some(p) => {
                    lp.delete_run(p, 2);
                    true
                }
                None => false,
            },
            Repr::Table(d) => d.remove(field).is_some(),
        }
    }

    /// (field, value) pairs: insertion order for listpacks, table order otherwise.
    pub fn iter(&self) -> HashIter<'_> {
        match &self.repr {
            Repr::Packed(lp) => HashIter::Packed(lp.iter()),
            Repr::Table(d) => HashIter::Table(d.iter()),
        }
    }

    /// One SCAN step: visits the entries of one cursor position, returns the next
    /// cursor. A listpack is returned whole with cursor 0, as Valkey does.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Packed(_) => {
                self.iter().for_each(|(f, v)| visit(f, v));
                0
            }
            Repr::Table(d) => d.scan(cursor, |f, v| visit(f, v)),
        }
    }

    /// True when SCAN must iterate with a cursor (a real table).
    pub fn is_table(&self) -> bool {
        matches!(self.repr, Repr::Table(_))
    }

    /// A random (field, value); `rand` supplies random numbers.
    pub fn random_entry(&self, mut rand: impl FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Packed(lp) => {
                let n = lp.len() / 2;
                if n == 0 {
                    return None;
                }
                let i = (rand() % n as u64) as i64;
                let p = lp.seek(2 * i)?;
                let (f, vpos) = lp.get(p);
                Some((f, lp.data(vpos)))
            }
            Repr::Table(d) => d.fair_random_entry(rand).map(|(f, v)| (f, &v[..])),
        }
    }

    /// Bytes the packed encoding would need for one more pair (for size reporting).
    pub fn packed_pair_size(field: &[u8], value: &[u8]) -> usize {
        listpack::entry_size(field.len()) + listpack::entry_size(value.len())
    }
}

/// Iterator over a hash's (field, value) pairs.
pub enum HashIter<'a> {
    /// Over a listpack.
    Packed(listpack::Iter<'a>),
    /// Over a table.
    Table(crate::dict::Iter<'a, Bytes>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Packed(it) => Some((it.next()?, it.next()?)),
            HashIter::Table(it) => it.next().map(|(f, v)| (f, &v[..])),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn packed_until_a_limit_is_crossed() {
        let lim = EncodingLimits {
            hash_max_listpack_entries: 4,
            ..EncodingLimits::default()
        };
        let mut h = HashValue::new();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", &lim));
        }
        assert!(!h.set(b"f0", b"changed", &lim));
        assert_eq!(h.encoding_name(), "listpack");
        assert_eq!(h.get(b"f0"), Some(&b"changed"[..]));
        assert!(h.set(b"f4", b"v", &lim));
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.len(), 5);
        assert_eq!(h.get(b"f0"), Some(&b"changed"[..]));
        assert!(h.remove(b"f0"));
        assert!(!h.remove(b"f0"));
        assert_eq!(h.len(), 4);

        let mut h = HashValue::new();
        h.set(b"f", b"v", &lim);
        h.set(b"long", &[b'x'; 65], &lim);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.duplicate().get(b"long").map(<[u8]>::len), Some(65));
    }

    #[test]
    fn packed_matches_a_map_model() {
        let lim = EncodingLimits::default();
        let mut h = HashValue::new();
        let mut model = std::collections::HashMap::new();
        for i in 0..2000u32 {
            let f = format!("f{}", i.wrapping_mul(2654435761) % 37).into_bytes();
            if i % 3 == 0 {
                assert_eq!(h.remove(&f), model.remove(&f).is_some());
            } else {
                let v = format!("v{i}").into_bytes();
                assert_eq!(h.set(&f, &v, &lim), model.insert(f, v).is_none());
            }
            assert_eq!(h.len(), model.len());
        }
        let mut got: Vec<(Vec<u8>, Vec<u8>)> =
            h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        let mut want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        let mut n = 0;
        assert_eq!(h.scan(0, |_, _| n += 1), 0);
        assert_eq!(n, got.len());
    }
}
