//! `ZSetValue`: members with double scores, ordered by (score, member) (Valkey's
//! `t_zset.c`).
//!
//! Two encodings, as in Valkey:
//! - `listpack`: one packed buffer of entries `[score: f64 LE][member bytes]` kept in
//!   order, while there are at most `zset-max-listpack-entries` members of at most
//!   `zset-max-listpack-value` bytes. Operations are linear, on at most a few hundred
//!   small entries.
//! - `skiplist`: a [`Dict`] member -> score for O(1) ZSCORE, plus an order-statistic
//!   tree ([`OsTree`]) for O(log n) rank, rank lookup and range starts. OBJECT ENCODING
//!   says "skiplist" because that is the name clients and tools know for this encoding.
//!
//! A sorted set converts to the big encoding when it outgrows the limits and does not
//! convert back, except STORE results ([`ZSetValue::compact_if_small`]), as in Valkey.

use std::cmp::Ordering;

use crate::dict::Dict;
use crate::types::listpack::{self, Listpack};
use crate::types::ostree::{cmp_entry, OsTree, TreeIter};
use crate::types::EncodingLimits;

/// A score ordered totally (scores are never NaN inside a sorted set).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted set.
pub struct ZSetValue {
    repr: Repr,
}

enum Repr {
    /// OBJ_ENCODING_LISTPACK: `[score][member]` entries in order.
    Packed(Listpack),
    /// OBJ_ENCODING_SKIPLIST. Boxed so that a small sorted set's header stays small.
    Tree(Box<Big>),
}

/// The big encoding: lookup table plus order-statistic tree.
#[derive(Default)]
struct Big {
    dict: Dict<f64>,
    tree: OsTree,
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue {
            repr: Repr::Packed(Listpack::new()),
        }
    }
}

/// Splits a packed entry into (member, score).
fn unpack(d: &[u8]) -> (&[u8], f64) {
    let mut s = [0u8; 8];
    s.copy_from_slice(&d[..8]);
    (&d[8..], f64::from_le_bytes(s))
}

fn pack(member: &[u8], score: f64) -> Vec<u8> {
    let mut e = Vec::with_capacity(8 + member.len());
    e.extend_from_slice(&score.to_le_bytes());
    e.extend_from_slice(member);
    e
}

impl ZSetValue {
    /// An empty sorted set (listpack-encoded).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty sorted set in the encoding Valkey picks for `size_hint` members whose
    /// longest is `max_len` bytes (`zsetTypeCreate`).
    pub fn create(size_hint: usize, max_len: usize, lim: &EncodingLimits) -> Self {
        if size_hint <= lim.zset_max_listpack_entries && max_len <= lim.zset_max_listpack_value {
            ZSetValue::new()
        } else {
            ZSetValue {
                repr: Repr::Tree(Box::default()),
            }
        }
    }

    /// Converts to the big encoding ahead of adding `size_hint` members when they cannot
    /// fit the listpack anyway (`zsetTypeMaybeConvert`).
    pub fn reserve(&mut self, size_hint: usize, max_len: usize, lim: &EncodingLimits) {
        if matches!(self.repr, Repr::Packed(_))
            && (size_hint > lim.zset_max_listpack_entries || max_len > lim.zset_max_listpack_value)
        {
            self.make_tree();
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(lp) => lp.len(),
            Repr::Tree(b) => b.dict.len(),
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
            Repr::Tree(_) => "skiplist",
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
    pub fn duplicate(&self) -> ZSetValue {
        match &self.repr {
            Repr::Packed(lp) => ZSetValue {
                repr: Repr::Packed(lp.clone()),
            },
            Repr::Tree(_) => {
                let mut big = Big::default();
                for (m, s) in self.iter() {
                    // Infallible: copied from a table or a listpack: within MAX_KEY_LEN, cannot be refused.
                    let _ = big.dict.insert(m, s);
                    big.tree.insert(m, s);
                }
                ZSetValue {
                    repr: Repr::Tree(Box::new(big)),
                }
            }
        }
    }

    fn make_tree(&mut self) {
        if let Repr::Packed(lp) = &self.repr {
            let mut big = Big::default();
            for d in lp.iter() {
                let (m, s) = unpack(d);
                // Infallible: copied from a table or a listpack: within MAX_KEY_LEN, cannot be refused.
                let _ = big.dict.insert(m, s);
                big.tree.insert(m, s);
            }
            self.repr = Repr::Tree(Box::new(big));
        }
    }

    /// Re-packs a big sorted set that fits the listpack limits (STORE results,
    /// `zsetConvertToListpackIfNeeded`).
    pub fn compact_if_small(&mut self, lim: &EncodingLimits) {
        if let Repr::Tree(b) = &self.repr {
            if b.dict.len() > lim.zset_max_listpack_entries {
                return;
            }
            if b.tree
                .iter()
                .any(|(m, _)| m.len() > lim.zset_max_listpack_value)
            {
                return;
            }
            let mut lp = Listpack::new();
            for (m, s) in b.tree.iter() {
                lp.push_back(&pack(m, s));
            }
            self.repr = Repr::Packed(lp);
        }
    }

    /// Sets a member's score with Valkey's default limits (used by loaders); true when
    /// the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        self.set_score(member, score, &EncodingLimits::default())
    }

    /// Sets a member's score; true when the member is new. `score` must not be NaN.
    pub fn set_score(&mut self, member: &[u8], score: f64, lim: &EncodingLimits) -> bool {
        if let Repr::Packed(lp) = &mut self.repr {
            if let Some((p, old)) = packed_find(lp, member) {
                // `-0 == 0`: Valkey keeps the old score then, and so do we.
                if old != score {
                    lp.delete_at(p);
                    packed_insert(lp, member, score);
                }
                return false;
            }
            if lp.len() < lim.zset_max_listpack_entries
                && member.len() <= lim.zset_max_listpack_value
            {
                packed_insert(lp, member, score);
                return true;
            }
            self.make_tree();
        }
        match &mut self.repr {
            Repr::Tree(b) => match b.dict.get_mut(member) {
                Some(old) => {
                    let prev = *old;
                    if prev != score {
                        *old = score;
                        b.tree.remove(member, prev);
                        b.tree.insert(member, score);
                    }
                    false
                }
                None => {
                    // A member the table refuses (longer than MAX_KEY_LEN; the command
                    // boundary and the loaders refuse those first) is not added.
                    if b.dict.insert(member, score).is_err() {
                        return false;
                    }
                    b.tree.insert(member, score);
                    true
                }
            },
            // Converted just above.
            Repr::Packed(_) => false,
        }
    }

    /// A member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Packed(lp) => packed_find(lp, member).map(|(_, s)| s),
            Repr::Tree(b) => b.dict.get(member).copied(),
        }
    }

    /// Removes a member; true when it existed.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(lp) => match packed_find(lp, member) {
                Some((p, _)) => {
                    lp.delete_at(p);
                    true
                }
                None => false,
            },
            Repr::Tree(b) => match b.dict.remove(member) {
                Some(s) => {
                    b.tree.remove(member, s);
                    true
                }
                None => false,
            },
        }
    }

    /// 0-based ascending rank and score of a member.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Packed(lp) => lp.iter().enumerate().find_map(|(i, d)| {
                let (m, s) = unpack(d);
                (m == member).then_some((i, s))
            }),
            Repr::Tree(b) => {
                let s = *b.dict.get(member)?;
                b.tree.rank(member, s).map(|r| (r, s))
            }
        }
    }

    /// The member at 0-based ascending rank `k`.
    pub fn by_rank(&self, k: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Packed(lp) => lp.seek(k as i64).map(|p| unpack(lp.data(p))),
            Repr::Tree(b) => b.tree.select(k),
        }
    }

    /// (member, score) in ascending order.
    pub fn iter(&self) -> ZIter<'_> {
        self.iter_from(0, false)
    }

    /// (member, score) from rank `start` upwards, or downwards when `rev` (ranks are
    /// ascending positions); empty when `start` is out of range.
    pub fn iter_from(&self, start: usize, rev: bool) -> ZIter<'_> {
        match &self.repr {
            Repr::Packed(lp) => match lp.seek(start as i64) {
                Some(p) if rev => ZIter::PackedRev(lp.iter_rev_from(p)),
                Some(p) => ZIter::Packed(lp.iter_from(p)),
                None => ZIter::Empty,
            },
            Repr::Tree(b) => ZIter::Tree(b.tree.iter_from(start, rev)),
        }
    }

    /// How many leading members (in ascending order) satisfy `before`, which must hold
    /// for a prefix of the order and fail after it (a range bound). O(log n) for the big
    /// encoding.
    pub fn count_while(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Packed(lp) => lp
                .iter()
                .take_while(|d| {
                    let (m, s) = unpack(d);
                    before(s, m)
                })
                .count(),
            Repr::Tree(b) => b.tree.count_while(before),
        }
    }

    /// Deletes the members at ascending ranks `start..=end` (in range); returns them.
    pub fn delete_rank_range(&mut self, start: usize, end: usize) -> Vec<(Vec<u8>, f64)> {
        let gone: Vec<(Vec<u8>, f64)> = self
            .iter_from(start, false)
            .take(end + 1 - start)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        match &mut self.repr {
            Repr::Packed(lp) => {
                if let Some(p) = lp.seek(start as i64) {
                    lp.delete_run(p, gone.len());
                }
            }
            Repr::Tree(b) => {
                for (m, s) in &gone {
                    b.dict.remove(&m[..]);
                    b.tree.remove(m, *s);
                }
            }
        }
        gone
    }

    /// One SCAN step: (member, score) pairs; compact encodings are returned whole with
    /// cursor 0.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Packed(_) => {
                self.iter().for_each(|(m, s)| visit(m, s));
                0
            }
            Repr::Tree(b) => b.dict.scan(cursor, |m, s| visit(m, *s)),
        }
    }

    /// True when SCAN must iterate with a cursor (the big encoding).
    pub fn is_table(&self) -> bool {
        matches!(self.repr, Repr::Tree(_))
    }

    /// A uniformly random member; `rand` supplies random numbers.
    pub fn random_entry(&self, mut rand: impl FnMut() -> u64) -> Option<(&[u8], f64)> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.by_rank((rand() % n as u64) as usize)
    }

    /// Encoded size of one member in the packed encoding (for size estimates).
    pub fn packed_member_size(member: &[u8]) -> usize {
        listpack::entry_size(member.len() + 8)
    }
}

/// Finds a member in a packed sorted set: (offset, score).
fn packed_find(lp: &Listpack, member: &[u8]) -> Option<(usize, f64)> {
    let mut p = 0;
    while p < lp.bytes() {
        let (d, next) = lp.get(p);
        let (m, s) = unpack(d);
        if m == member {
            return Some((p, s));
        }
        p = next;
    }
    None
}

/// Inserts a (new) member at its ordered position in a packed sorted set.
fn packed_insert(lp: &mut Listpack, member: &[u8], score: f64) {
    let mut p = 0;
    while p < lp.bytes() {
        let (d, next) = lp.get(p);
        let (m, s) = unpack(d);
        if cmp_entry(s, m, score, member) == Ordering::Greater {
            break;
        }
        p = next;
    }
    lp.insert_at(p, &pack(member, score));
}

/// Iterator over (member, score) pairs.
pub enum ZIter<'a> {
    /// Nothing to yield.
    Empty,
    /// Ascending over a listpack.
    Packed(listpack::Iter<'a>),
    /// Descending over a listpack.
    PackedRev(listpack::RevIter<'a>),
    /// Over the tree, either direction.
    Tree(TreeIter<'a>),
}

impl<'a> Iterator for ZIter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ZIter::Empty => None,
            ZIter::Packed(it) => it.next().map(unpack),
            ZIter::PackedRev(it) => it.next().map(unpack),
            ZIter::Tree(it) => it.next(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn members(z: &ZSetValue) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn converts_past_limits_and_keeps_order() {
        let lim = EncodingLimits {
            zset_max_listpack_entries: 3,
            ..EncodingLimits::default()
        };
        let mut z = ZSetValue::create(1, 1, &lim);
        assert!(z.set_score(b"c", 1.0, &lim));
        assert!(z.set_score(b"a", 2.0, &lim));
        assert!(z.set_score(b"b", 1.0, &lim));
        assert!(!z.set_score(b"a", 0.5, &lim));
        assert_eq!(z.encoding_name(), "listpack");
        let packed = members(&z);
        assert_eq!(
            packed,
            vec![
                (b"a".to_vec(), 0.5),
                (b"b".to_vec(), 1.0),
                (b"c".to_vec(), 1.0)
            ]
        );
        assert!(z.set_score(b"d", -1.0, &lim));
        assert_eq!(z.encoding_name(), "skiplist");
        assert_eq!(z.rank(b"d"), Some((0, -1.0)));
        assert_eq!(z.rank(b"c"), Some((3, 1.0)));
        assert!(z.remove(b"d"));
        assert_eq!(members(&z), packed);
        z.compact_if_small(&lim);
        assert_eq!(z.encoding_name(), "listpack");
        assert_eq!(members(&z), packed);
        let mut big = ZSetValue::new();
        big.set_score(&[b'x'; 65], 1.0, &lim);
        assert_eq!(big.encoding_name(), "skiplist");
    }

    /// Both encodings agree with a sorted-vector model on ranks, ranges and counts.
    #[test]
    fn both_encodings_match_a_model() {
        for entries in [10_000usize, 8] {
            let lim = EncodingLimits {
                zset_max_listpack_entries: entries,
                ..EncodingLimits::default()
            };
            let mut z = ZSetValue::new();
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            let mut x = 99u64;
            let mut rnd = |n: u64| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % n
            };
            for step in 0..6000 {
                let m = format!("m{}", rnd(60)).into_bytes();
                let s = rnd(20) as f64 - 10.0;
                if rnd(4) == 0 {
                    let had = model.iter().position(|(_, mm)| *mm == m);
                    if let Some(i) = had {
                        model.remove(i);
                    }
                    assert_eq!(z.remove(&m), had.is_some());
                } else {
                    let had = model.iter().position(|(_, mm)| *mm == m);
                    if let Some(i) = had {
                        model.remove(i);
                    }
                    assert_eq!(z.set_score(&m, s, &lim), had.is_none());
                    model.push((s, m));
                    model.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
                }
                if step % 50 == 0 {
                    let want: Vec<(Vec<u8>, f64)> =
                        model.iter().map(|(s, m)| (m.clone(), *s)).collect();
                    assert_eq!(members(&z), want);
                    for (i, (s, m)) in model.iter().enumerate() {
                        assert_eq!(z.rank(m), Some((i, *s)));
                        assert_eq!(z.by_rank(i), Some((&m[..], *s)));
                    }
                    let lo = rnd(20) as f64 - 10.0;
                    assert_eq!(
                        z.count_while(|s, _| s < lo),
                        model.iter().filter(|(s, _)| *s < lo).count()
                    );
                    if !model.is_empty() {
                        let k = rnd(model.len() as u64) as usize;
                        let rev: Vec<f64> = z.iter_from(k, true).map(|(_, s)| s).collect();
                        let want: Vec<f64> = model[..=k].iter().rev().map(|(s, _)| *s).collect();
                        assert_eq!(rev, want);
                    }
                }
            }
            let n = z.len();
            if n > 4 {
                let gone = z.delete_rank_range(1, 3);
                assert_eq!(gone.len(), 3);
                assert_eq!(z.len(), n - 3);
                assert!(gone.iter().all(|(m, _)| z.score(m).is_none()));
            }
        }
    }
}
