//! `Intset`: a sorted array of integers in fixed-width slots, after Valkey's `intset.c`.
//!
//! Valkey stores each integer as 2, 4 or 8 binary bytes and widens every slot when a
//! larger value arrives. forkv keeps the same shape — sorted, fixed width, binary
//! searched, widened on demand and never narrowed — but a slot holds the integer's
//! canonical decimal text (`[len][digits][padding]`) instead of its binary form. The
//! reason is the public `SetValue::iter()` API, which lends `&[u8]` members to the RDB
//! and AOF writers: binary integers would have to be formatted into a buffer that
//! outlives the iterator, and the read path may not fill caches. Small integers (up to
//! 3 characters) take 4 bytes a slot, up to 7 characters 8 bytes, and so on.
//!
//! Canonical decimal text orders like the numbers it spells when compared by sign,
//! then length, then bytes — no parsing is needed to search.

use std::cmp::Ordering;

use crate::value::parse_canonical_i64;

/// Slot widths (including the length byte), smallest first.
const WIDTHS: [usize; 4] = [4, 8, 12, 21];

/// A sorted set of i64 values stored as canonical decimal text.
#[derive(Clone, Default)]
pub struct Intset {
    /// Bytes per slot (0 while empty).
    width: u8,
    /// The integer width Valkey's intset of the same inserts would use: 2, 4 or 8 bytes
    /// (int16/int32/int64), the narrowest every member so far needed, never narrowed
    /// again (0 while nothing was inserted). Only MEMORY USAGE reads it.
    valkey_width: u8,
    buf: Vec<u8>,
}

/// Numeric order of two canonical decimal integers.
pub fn cmp_decimal(a: &[u8], b: &[u8]) -> Ordering {
    let na = a.first() == Some(&b'-');
    let nb = b.first() == Some(&b'-');
    match (na, nb) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => {
            let ord = a.len().cmp(&b.len()).then_with(|| a.cmp(b));
            if na {
                ord.reverse()
            } else {
                ord
            }
        }
    }
}

/// The smallest slot width holding `len` characters.
fn width_for(len: usize) -> usize {
    WIDTHS.iter().copied().find(|w| *w > len).unwrap_or(21)
}

/// Bytes per integer of Valkey's narrowest intset encoding holding `text` (a canonical
/// integer): 2 for int16, 4 for int32, 8 for int64 (`_intsetValueEncoding`).
fn valkey_width_for(text: &[u8]) -> u8 {
    match parse_canonical_i64(text) {
        Some(v) if i16::try_from(v).is_ok() => 2,
        Some(v) if i32::try_from(v).is_ok() => 4,
        _ => 8,
    }
}

impl Intset {
    /// An empty intset.
    pub fn new() -> Self {
        Intset::default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        if self.width == 0 {
            0
        } else {
            self.buf.len() / self.width as usize
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Heap bytes allocated.
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes Valkey's intset of these members would take: its 8-byte header and one
    /// integer of its encoding width per member (what `zmalloc_size` is asked about).
    pub fn valkey_bytes(&self) -> usize {
        8 + self.len() * usize::from(self.valkey_width)
    }

    /// Valkey's encoding width for these members: 2, 4 or 8 bytes (0 while nothing was
    /// inserted). The RDB writer stores the intset at this width.
    pub fn valkey_width(&self) -> u8 {
        self.valkey_width
    }

    /// Keeps at least `width` (2, 4 or 8) as Valkey's encoding width: an intset loaded
    /// from a file keeps the width it was saved with, as Valkey's does.
    pub fn widen_valkey_width(&mut self, width: u8) {
        if matches!(width, 2 | 4 | 8) && width > self.valkey_width {
            self.valkey_width = width;
        }
    }

    /// Member `i` in ascending order.
    pub fn get(&self, i: usize) -> &[u8] {
        let w = self.width as usize;
        let slot = &self.buf[i * w..(i + 1) * w];
        &slot[1..1 + slot[0] as usize]
    }

    /// Binary search for a canonical decimal: Ok(index) when present, Err(insert point).
    fn search(&self, text: &[u8]) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match cmp_decimal(self.get(mid), text) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Membership test; members that are not canonical integers are never present.
    pub fn contains(&self, member: &[u8]) -> bool {
        parse_canonical_i64(member).is_some() && self.search(member).is_ok()
    }

    /// Adds a canonical integer (the caller checked it); true when it was new.
    pub fn insert(&mut self, text: &[u8]) -> bool {
        debug_assert!(parse_canonical_i64(text).is_some());
        let pos = match self.search(text) {
            Ok(_) => return false,
            Err(p) => p,
        };
        let valkey_width = valkey_width_for(text);
        if valkey_width > self.valkey_width {
            self.valkey_width = valkey_width;
        }
        let need = width_for(text.len());
        if need > self.width as usize {
            self.widen(need);
        }
        let w = self.width as usize;
        let mut slot = vec![0u8; w];
        slot[0] = text.len() as u8;
        slot[1..1 + text.len()].copy_from_slice(text);
        if self.buf.capacity() - self.buf.len() < w {
            self.buf.reserve_exact(w);
        }
        self.buf.splice(pos * w..pos * w, slot);
        true
    }

    /// Re-lays every slot at a larger width (Valkey's `intsetUpgradeAndAdd`).
    fn widen(&mut self, width: usize) {
        let old = std::mem::take(&mut self.buf);
        let ow = self.width as usize;
        let mut buf = Vec::with_capacity(old.len() / ow.max(1) * width + width);
        if ow > 0 {
            for slot in old.chunks_exact(ow) {
                let start = buf.len();
                buf.extend_from_slice(&slot[..1 + slot[0] as usize]);
                buf.resize(start + width, 0);
            }
        }
        self.buf = buf;
        self.width = width as u8;
    }

    /// Removes a member; true when it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        if parse_canonical_i64(member).is_none() {
            return false;
        }
        match self.search(member) {
            Ok(i) => {
                let w = self.width as usize;
                self.buf.drain(i * w..(i + 1) * w);
                if self.buf.capacity() > 64 && self.buf.len() * 2 < self.buf.capacity() {
                    self.buf.shrink_to_fit();
                }
                true
            }
            Err(_) => false,
        }
    }

    /// The largest text length a member has (for listpack conversion checks).
    pub fn max_text_len(&self) -> usize {
        match self.len() {
            0 => 0,
            n => self.get(0).len().max(self.get(n - 1).len()),
        }
    }

    /// Members in ascending numeric order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn valkey_bytes_follow_the_int16_int32_int64_width_and_never_narrow() {
        let mut s = Intset::new();
        for m in [&b"1"[..], b"2", b"-32768"] {
            s.insert(m);
        }
        assert_eq!(s.valkey_bytes(), 8 + 3 * 2);
        s.insert(b"32768");
        assert_eq!(s.valkey_bytes(), 8 + 4 * 4);
        s.insert(b"-2147483649");
        assert_eq!(s.valkey_bytes(), 8 + 5 * 8);
        // Valkey never narrows an intset: removing the wide member keeps int64 slots.
        assert!(s.remove(b"-2147483649"));
        assert_eq!(s.valkey_bytes(), 8 + 4 * 8);
    }

    #[test]
    fn decimal_order_matches_numeric_order() {
        let nums = [
            i64::MIN,
            -1000,
            -999,
            -12,
            -3,
            -1,
            0,
            1,
            2,
            9,
            10,
            99,
            100,
            12345,
            i64::MAX,
        ];
        for a in nums {
            for b in nums {
                assert_eq!(
                    cmp_decimal(a.to_string().as_bytes(), b.to_string().as_bytes()),
                    a.cmp(&b),
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn sorted_widening_and_removal() {
        let mut s = Intset::new();
        for n in [5i64, -3, 700, 5, 12] {
            s.insert(n.to_string().as_bytes());
        }
        assert_eq!(s.len(), 4);
        assert!(s.insert(b"-9223372036854775808"));
        assert!(s.insert(b"123456789"));
        let got: Vec<i64> = s.iter().map(|t| parse_canonical_i64(t).unwrap()).collect();
        assert_eq!(got, vec![i64::MIN, -3, 5, 12, 700, 123456789]);
        assert!(s.contains(b"700"));
        assert!(!s.contains(b"0700"));
        assert!(!s.contains(b"abc"));
        assert!(s.remove(b"700"));
        assert!(!s.remove(b"700"));
        assert_eq!(s.len(), 5);
        assert_eq!(s.max_text_len(), 20);
    }
}
