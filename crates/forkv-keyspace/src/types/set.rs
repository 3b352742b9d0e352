//! `SetValue`: a set as an intset (all members canonical integers, up to
//! `set-max-intset-entries`), a listpack (up to `set-max-listpack-entries` members of
//! at most `set-max-listpack-value` bytes), or a [`Dict`] — Valkey 7.2+'s `t_set.c`
//! rules, including how a new set picks its first encoding from the first member and a
//! size hint (`setTypeCreate`), and when an intset becomes a listpack rather than a
//! table. Sets only convert upwards, except a SINTERSTORE result of integers, which is
//! re-packed as an intset ([`SetValue::compact_to_intset`]).

use super::intset::Intset;
use super::listpack::{self, Listpack};
use super::EncodingLimits;
use crate::dict::Dict;
use crate::value::parse_canonical_i64;

/// A set of byte strings.
pub struct SetValue {
    repr: Repr,
}

enum Repr {
    /// OBJ_ENCODING_INTSET.
    Ints(Intset),
    /// OBJ_ENCODING_LISTPACK (members in insertion order).
    Packed(Listpack),
    /// OBJ_ENCODING_HT. Boxed so that a small set's header stays small.
    Table(Box<Dict<()>>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue {
            repr: Repr::Ints(Intset::new()),
        }
    }
}

fn is_int(member: &[u8]) -> bool {
    member.len() <= 20 && parse_canonical_i64(member).is_some()
}

impl SetValue {
    /// An empty set (intset-encoded until a non-integer arrives).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set in the encoding Valkey picks for a set about to receive `size_hint`
    /// members, the first of which is `first` (`setTypeCreate`).
    pub fn create(first: &[u8], size_hint: usize, lim: &EncodingLimits) -> Self {
        let repr = if is_int(first) && size_hint <= lim.set_max_intset_entries {
            Repr::Ints(Intset::new())
        } else if size_hint <= lim.set_max_listpack_entries {
            Repr::Packed(Listpack::new())
        } else {
            Repr::Table(Box::default())
        };
        SetValue { repr }
    }

    /// Converts to a table ahead of adding `size_hint` members when they cannot fit the
    /// compact encoding anyway (`setTypeMaybeConvert`).
    pub fn reserve(&mut self, size_hint: usize, lim: &EncodingLimits) {
        let convert = match &self.repr {
            Repr::Packed(_) => size_hint > lim.set_max_listpack_entries,
            Repr::Ints(_) => size_hint > lim.set_max_intset_entries,
            Repr::Table(_) => false,
        };
        if convert {
            self.make_table();
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(s) => s.len(),
            Repr::Packed(lp) => lp.len(),
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
            Repr::Ints(_) => "intset",
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

    /// For the intset encoding, the bytes Valkey's intset of the same members takes
    /// (header plus int16/int32/int64 slots, see [`Intset::valkey_bytes`]).
    pub fn intset_valkey_bytes(&self) -> Option<usize> {
        match &self.repr {
            Repr::Ints(s) => Some(s.valkey_bytes()),
            _ => None,
        }
    }

    /// For the intset encoding, Valkey's integer width of it (2, 4 or 8 bytes).
    pub fn intset_width(&self) -> Option<u8> {
        match &self.repr {
            Repr::Ints(s) => Some(s.valkey_width()),
            _ => None,
        }
    }

    /// For the intset encoding, keeps at least `width` as its Valkey width (see
    /// [`Intset::widen_valkey_width`]); other encodings have none.
    pub fn keep_intset_width(&mut self, width: u8) {
        if let Repr::Ints(s) = &mut self.repr {
            s.widen_valkey_width(width);
        }
    }

    /// A deep copy with the same encoding (COPY).
    pub fn duplicate(&self) -> SetValue {
        let repr = match &self.repr {
            Repr::Ints(s) => Repr::Ints(s.clone()),
            Repr::Packed(lp) => Repr::Packed(lp.clone()),
            Repr::Table(d) => {
                let mut n = Dict::new();
                for (m, _) in d.iter() {
                    // Infallible: copied from a table or a listpack: within MAX_KEY_LEN, cannot be refused.
                    let _ = n.insert(m, ());
                }
                Repr::Table(Box::new(n))
            }
        };
        SetValue { repr }
    }

    fn make_table(&mut self) {
        if matches!(self.repr, Repr::Table(_)) {
            return;
        }
        let mut d = Dict::new();
        for m in self.iter() {
            // Infallible: copied from a table or a listpack: within MAX_KEY_LEN, cannot be refused.
            let _ = d.insert(m, ());
        }
        self.repr = Repr::Table(Box::new(d));
    }

    /// Adds a member with Valkey's default limits (used by loaders); true when new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        self.add(member, &EncodingLimits::default())
    }

    /// Adds a member; true when it is new (`setTypeAddAux`).
    pub fn add(&mut self, member: &[u8], lim: &EncodingLimits) -> bool {
        match &mut self.repr {
            Repr::Table(d) => {
                if d.contains_key(member) {
                    return false;
                }
                // False also for a member the table refuses (longer than MAX_KEY_LEN;
                // the command boundary and the loaders refuse those first).
                d.insert(member, ()).is_ok()
            }
            Repr::Packed(lp) => {
                if lp.find(member, 1).is_some() {
                    return false;
                }
                if lp.len() < lim.set_max_listpack_entries
                    && member.len() <= lim.set_max_listpack_value
                {
                    lp.push_back(member);
                } else {
                    self.make_table();
                    self.add(member, lim);
                }
                true
            }
            Repr::Ints(s) => {
                if is_int(member) {
                    let added = s.insert(member);
                    if added && s.len() > lim.set_max_intset_entries {
                        self.make_table();
                    }
                    return added;
                }
                // A non-integer: a listpack if everything fits one, else a table.
                let fits = s.len() < lim.set_max_listpack_entries
                    && member.len() <= lim.set_max_listpack_value
                    && s.max_text_len() <= lim.set_max_listpack_value;
                if fits {
                    let mut lp = Listpack::new();
                    for m in s.iter() {
                        lp.push_back(m);
                    }
                    lp.push_back(member);
                    self.repr = Repr::Packed(lp);
                } else {
                    self.make_table();
                    self.add(member, lim);
                }
                true
            }
        }
    }

    /// Membership test.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(s) => s.contains(member),
            Repr::Packed(lp) => lp.find(member, 1).is_some(),
            Repr::Table(d) => d.contains_key(member),
        }
    }

    /// Removes a member; true when it existed.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(s) => s.remove(member),
            Repr::Packed(lp) => match lp.find(member, 1) {
                Some(p) => {
                    lp.delete_at(p);
                    true
                }
                None => false,
            },
            Repr::Table(d) => d.remove(member).is_some(),
        }
    }

    /// Members: ascending for intsets, insertion order for listpacks, table order else.
    pub fn iter(&self) -> SetIter<'_> {
        match &self.repr {
            Repr::Ints(s) => SetIter::Ints(s, 0),
            Repr::Packed(lp) => SetIter::Packed(lp.iter()),
            Repr::Table(d) => SetIter::Table(d.iter()),
        }
    }

    /// True when SCAN must iterate with a cursor (a real table).
    pub fn is_table(&self) -> bool {
        matches!(self.repr, Repr::Table(_))
    }

    /// One SCAN step; compact encodings are returned whole with cursor 0.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8])) -> u64 {
        match &self.repr {
            Repr::Table(d) => d.scan(cursor, |m, _| visit(m)),
            _ => {
                self.iter().for_each(visit);
                0
            }
        }
    }

    /// A random member; `rand` supplies random numbers.
    pub fn random_member(&self, mut rand: impl FnMut() -> u64) -> Option<&[u8]> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        match &self.repr {
            Repr::Ints(s) => Some(s.get((rand() % n as u64) as usize)),
            Repr::Packed(lp) => lp.seek((rand() % n as u64) as i64).map(|p| lp.data(p)),
            Repr::Table(d) => d.fair_random_entry(rand).map(|(m, _)| m),
        }
    }

    /// Re-packs a set whose members are all integers as an intset when it fits
    /// (`maybeConvertToIntset`, used for SINTERSTORE results).
    pub fn compact_to_intset(&mut self, lim: &EncodingLimits) {
        if matches!(self.repr, Repr::Ints(_)) || self.len() > lim.set_max_intset_entries {
            return;
        }
        if !self.iter().all(is_int) {
            return;
        }
        let mut s = Intset::new();
        for m in self.iter() {
            s.insert(m);
        }
        self.repr = Repr::Ints(s);
    }

    /// Encoded size of a member in the packed encoding (for size estimates).
    pub fn packed_member_size(member: &[u8]) -> usize {
        listpack::entry_size(member.len())
    }
}

/// Iterator over a set's members.
pub enum SetIter<'a> {
    /// Over an intset, with the next index.
    Ints(&'a Intset, usize),
    /// Over a listpack.
    Packed(listpack::Iter<'a>),
    /// Over a table.
    Table(crate::dict::Iter<'a, ()>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            SetIter::Ints(s, i) => {
                if *i >= s.len() {
                    return None;
                }
                *i += 1;
                Some(s.get(*i - 1))
            }
            SetIter::Packed(it) => it.next(),
            SetIter::Table(it) => it.next().map(|(m, _)| m),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_valkey_rules() {
        let lim = EncodingLimits {
            set_max_intset_entries: 4,
            set_max_listpack_entries: 3,
            ..EncodingLimits::default()
        };
        let mut s = SetValue::create(b"1", 1, &lim);
        for m in [&b"1"[..], b"2", b"3"] {
            assert!(s.add(m, &lim));
        }
        assert!(!s.add(b"2", &lim));
        assert_eq!(s.encoding_name(), "intset");
        // 3 members < 3 is false: the non-integer cannot join a listpack -> table.
        assert!(s.add(b"x", &lim));
        assert_eq!(s.encoding_name(), "hashtable");

        let mut s = SetValue::create(b"1", 1, &lim);
        s.add(b"1", &lim);
        s.add(b"a", &lim);
        assert_eq!(s.encoding_name(), "listpack");
        s.add(b"b", &lim);
        s.add(b"c", &lim);
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(s.remove(b"a"));
        assert!(s.contains(b"1"));
        assert_eq!(s.len(), 3);

        let mut s = SetValue::create(b"7", 1, &lim);
        for i in 0..5 {
            s.add(i.to_string().as_bytes(), &lim);
        }
        assert_eq!(s.encoding_name(), "hashtable");
        s.remove(b"4");
        s.compact_to_intset(&lim);
        assert_eq!(s.encoding_name(), "intset");
        let members: Vec<&[u8]> = s.iter().collect();
        assert_eq!(members, vec![&b"0"[..], b"1", b"2", b"3"]);

        let long = [b'z'; 65];
        let mut s = SetValue::create(b"a", 1, &lim);
        s.add(&long, &lim);
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(
            SetValue::create(b"a", 200, &lim).encoding_name(),
            "hashtable"
        );
    }

    #[test]
    fn random_member_and_scan_cover_everything() {
        let lim = EncodingLimits::default();
        for n in [3usize, 100, 1000] {
            let mut s = SetValue::create(b"m0", n, &lim);
            for i in 0..n {
                s.add(format!("m{i}").as_bytes(), &lim);
            }
            let mut x = 1u64;
            let mut seen = std::collections::HashSet::new();
            for _ in 0..n * 30 {
                let m = s
                    .random_member(|| {
                        // SplitMix64: consecutive outputs must be independent, since a
                        // table draw uses one for the bucket and one inside the chain.
                        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                        let z = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                        z ^ (z >> 31)
                    })
                    .unwrap();
                seen.insert(m.to_vec());
            }
            assert!(seen.len() > n * 9 / 10, "{n}: {}", seen.len());
            let mut scanned = std::collections::HashSet::new();
            let mut c = 0;
            loop {
                c = s.scan(c, |m| {
                    scanned.insert(m.to_vec());
                });
                if c == 0 {
                    break;
                }
            }
            assert_eq!(scanned.len(), n);
        }
    }
}
