//! `Listpack`: a sequence of byte strings in one contiguous buffer, after Valkey's
//! `listpack.c`.
//!
//! Why: a small hash, set, sorted set or list as separate heap objects costs a table or a
//! node per element plus allocator overhead; packed into one buffer it costs a couple of
//! bytes of framing per element and a single allocation. Lookups are linear, which is
//! why the collection types switch to a real table past a size threshold.
//!
//! Entry layout (all entries back to back, no header — the count lives in the struct):
//!
//! ```text
//! [len: LEB128 varint][data: len bytes][back: size of len+data, varint read backwards]
//! ```
//!
//! The trailing `back` field lets iteration run from the tail as well (Valkey's
//! `lpPrev`), so a list can pop from both ends without scanning. Unlike Valkey, integers
//! are not re-encoded: every element is kept as the bytes it was given, so iteration can
//! lend `&[u8]` slices without formatting anything (the read path must not allocate
//! into shared state, and the public `iter()` API returns borrowed slices).
//!
//! Positions handed out by this module are byte offsets of an entry's first byte; they
//! stay valid until the next mutation.

/// A packed sequence of byte strings.
#[derive(Clone, Default)]
pub struct Listpack {
    buf: Vec<u8>,
    count: u32,
    /// Sum of the entries' sizes in Valkey's listpack encoding (integers as integers),
    /// kept up to date by every change: quicklist node limits compare Valkey's sizes, so
    /// that nodes split where Valkey's do (saturates at 4 GiB, far beyond any node).
    valkey_entries: u32,
}

/// Valkey's listpack header (total bytes, count) and end byte.
const VALKEY_LP_OVERHEAD: usize = 7;

/// `len` as the u32 the size counter holds.
fn size32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Bytes of an entry holding `data` in Valkey's listpack.
fn valkey_entry(data: &[u8]) -> u32 {
    size32(super::stream::lp_entry_size(data))
}

/// Bytes a LEB128 varint of `v` takes.
fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Appends `v` as LEB128 (low group first, high bit = more follows).
fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` so that it can be decoded reading backwards from the end: the last byte
/// holds the low 7 bits, and a set high bit means "another group precedes me".
fn put_backlen(out: &mut Vec<u8>, v: usize) {
    let n = varint_len(v);
    for i in (0..n).rev() {
        let group = ((v >> (7 * i)) & 0x7f) as u8;
        // Every group except the most significant (written first) is flagged.
        out.push(if i + 1 < n { group | 0x80 } else { group });
    }
}

/// The encoded size of one entry holding `len` data bytes.
pub fn entry_size(len: usize) -> usize {
    let inner = varint_len(len) + len;
    inner + varint_len(inner)
}

/// Decodes the framing of the entry at `pos` in `buf`: (data start, data length, end).
fn decode(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut len = 0usize;
    let mut shift = 0;
    let mut p = pos;
    loop {
        let b = buf[p];
        len |= usize::from(b & 0x7f) << shift;
        p += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let inner = p + len - pos;
    (p, len, p + len + varint_len(inner))
}

/// Encodes one entry into `out`.
fn encode_entry(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    put_varint(out, data.len());
    out.extend_from_slice(data);
    let inner = out.len() - start;
    put_backlen(out, inner);
}

impl Listpack {
    /// A description of the layout, entry by entry (DEBUG LISTPACK; the shape of
    /// Valkey's `lpRepr`, over forkv's own framing: a varint length header, the data, a
    /// backwards varint of the header and data size).
    pub fn repr(&self) -> String {
        use std::fmt::Write;
        let mut s = format!("{{total bytes {}}} {{num entries {}}}\n", self.buf.len(), self.count);
        let mut pos = self.first();
        let mut index = 0;
        while let Some(p) = pos {
            let (start, len, end) = decode(&self.buf, p);
            let (hdr, back) = (start - p, end - start - len);
            let _ = write!(
                s,
                "{{\n\taddr: {:p},\n\tindex: {index:2},\n\toffset: {p},\n\thdr+entrylen+backlen: {:2},\n\thdrlen: {hdr:3},\n\tbacklen: {back:2},\n\tpayload: {len}\n\tbytes: ",
                self.buf[p..].as_ptr(),
                end - p,
            );
            for b in &self.buf[p..end] {
                let _ = write!(s, "{b:02x}|");
            }
            let _ = writeln!(s, "\n\t[str]{}\n}}", String::from_utf8_lossy(&self.buf[start..start + len]));
            index += 1;
            pos = self.next(p);
        }
        s.push_str("{end}\n\n");
        s
    }

    /// An empty listpack (allocates nothing).
    pub fn new() -> Self {
        Listpack::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes used by the encoded entries (what the size limits compare against).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Bytes Valkey's listpack holding these entries would take (`lpBytes`: header,
    /// entries with integers encoded as integers, end byte): quicklist node limits and
    /// DEBUG OBJECT / DEBUG QUICKLIST sizes use it.
    pub fn valkey_bytes(&self) -> usize {
        VALKEY_LP_OVERHEAD + self.valkey_entries as usize
    }

    /// The encoded entries (what a compressed quicklist node stores).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// A listpack from entries this module encoded ([`as_bytes`](Self::as_bytes)) and
    /// their count.
    pub(crate) fn from_parts(buf: Vec<u8>, count: usize) -> Listpack {
        let mut lp = Listpack { buf, count: count as u32, valkey_entries: 0 };
        lp.valkey_entries = lp.iter().fold(0u32, |acc, d| acc.saturating_add(valkey_entry(d)));
        lp
    }

    /// Heap bytes allocated (for memory accounting).
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    /// Offset of the first entry, if any.
    pub fn first(&self) -> Option<usize> {
        (!self.buf.is_empty()).then_some(0)
    }

    /// Offset of the last entry, if any.
    pub fn last(&self) -> Option<usize> {
        self.prev(self.buf.len())
    }

    /// Decodes the entry at `pos`: its data and the offset just past it.
    pub fn get(&self, pos: usize) -> (&[u8], usize) {
        let (start, len, end) = decode(&self.buf, pos);
        (&self.buf[start..start + len], end)
    }

    /// The data of the entry at `pos`.
    pub fn data(&self, pos: usize) -> &[u8] {
        self.get(pos).0
    }

    /// Offset of the entry after the one at `pos`, if any.
    pub fn next(&self, pos: usize) -> Option<usize> {
        let (_, n) = self.get(pos);
        (n < self.buf.len()).then_some(n)
    }

    /// Offset of the entry that ends at `end` (an entry offset or the buffer length).
    pub fn prev(&self, end: usize) -> Option<usize> {
        if end == 0 {
            return None;
        }
        let mut p = end;
        let mut inner = 0usize;
        let mut shift = 0;
        loop {
            p -= 1;
            let b = self.buf[p];
            inner |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Some(p - inner)
    }

    /// Offset of entry `index` (negative counts from the tail, -1 = last), walking from
    /// the nearer end.
    pub fn seek(&self, index: i64) -> Option<usize> {
        let n = self.count as i64;
        let idx = if index < 0 { n + index } else { index };
        if idx < 0 || idx >= n {
            return None;
        }
        if idx < n / 2 {
            let mut p = 0;
            for _ in 0..idx {
                p = self.get(p).1;
            }
            Some(p)
        } else {
            let mut p = self.buf.len();
            for _ in idx..n {
                p = self.prev(p)?;
            }
            Some(p)
        }
    }

    /// Entries head to tail.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            lp: self,
            pos: 0,
            end: self.buf.len(),
        }
    }

    /// Entries tail to head.
    pub fn iter_rev(&self) -> RevIter<'_> {
        RevIter {
            lp: self,
            end: self.buf.len(),
        }
    }

    /// Entries from offset `pos` to the tail.
    pub fn iter_from(&self, pos: usize) -> Iter<'_> {
        Iter {
            lp: self,
            pos,
            end: self.buf.len(),
        }
    }

    /// Entries from the one at `pos` back to the head.
    pub fn iter_rev_from(&self, pos: usize) -> RevIter<'_> {
        let end = if pos >= self.buf.len() {
            pos
        } else {
            self.get(pos).1
        };
        RevIter { lp: self, end }
    }

    /// Offset of the first entry equal to `data`, checking every `step`-th entry
    /// starting at the first (step 2 finds hash fields, skipping values).
    pub fn find(&self, data: &[u8], step: usize) -> Option<usize> {
        let mut p = 0;
        let mut i = 0usize;
        while p < self.buf.len() {
            let (d, next) = self.get(p);
            if i.is_multiple_of(step) && d == data {
                return Some(p);
            }
            p = next;
            i += 1;
        }
        None
    }

    /// Reserves exactly what an insertion needs: listpacks are small and long-lived, so
    /// doubling growth would waste up to half of every buffer (Valkey reallocs too).
    fn reserve_for(&mut self, extra: usize) {
        if self.buf.capacity() - self.buf.len() < extra {
            self.buf.reserve_exact(extra);
        }
    }

    /// Appends at the tail.
    pub fn push_back(&mut self, data: &[u8]) {
        self.reserve_for(entry_size(data.len()));
        encode_entry(&mut self.buf, data);
        self.count += 1;
        self.valkey_entries = self.valkey_entries.saturating_add(valkey_entry(data));
    }

    /// Prepends at the head.
    pub fn push_front(&mut self, data: &[u8]) {
        self.insert_at(0, data);
    }

    /// Inserts an entry so that it starts at offset `pos` (an entry offset or the end).
    pub fn insert_at(&mut self, pos: usize, data: &[u8]) {
        let mut enc = Vec::with_capacity(entry_size(data.len()));
        encode_entry(&mut enc, data);
        self.reserve_for(enc.len());
        self.buf.splice(pos..pos, enc);
        self.count += 1;
        self.valkey_entries = self.valkey_entries.saturating_add(valkey_entry(data));
    }

    /// Deletes the entry at `pos`; returns the offset now holding the following entry
    /// (equal to `bytes()` when it was the last).
    pub fn delete_at(&mut self, pos: usize) -> usize {
        let (data, end) = self.get(pos);
        self.valkey_entries = self.valkey_entries.saturating_sub(valkey_entry(data));
        self.buf.drain(pos..end);
        self.count -= 1;
        self.shrink_if_sparse();
        pos
    }

    /// Deletes `n` consecutive entries starting at `pos`.
    pub fn delete_run(&mut self, pos: usize, n: usize) {
        let mut end = pos;
        let mut removed = 0;
        let mut gone = 0u32;
        while removed < n && end < self.buf.len() {
            let (data, next) = self.get(end);
            gone = gone.saturating_add(valkey_entry(data));
            end = next;
            removed += 1;
        }
        self.valkey_entries = self.valkey_entries.saturating_sub(gone);
        self.buf.drain(pos..end);
        self.count -= removed as u32;
        self.shrink_if_sparse();
    }

    /// Replaces the data of the entry at `pos`.
    pub fn replace_at(&mut self, pos: usize, data: &[u8]) {
        let (old, end) = self.get(pos);
        self.valkey_entries = self.valkey_entries.saturating_sub(valkey_entry(old)).saturating_add(valkey_entry(data));
        let mut enc = Vec::with_capacity(entry_size(data.len()));
        encode_entry(&mut enc, data);
        self.buf.splice(pos..end, enc);
        self.shrink_if_sparse();
    }

    /// Releases memory after deletions left much of the buffer unused.
    fn shrink_if_sparse(&mut self) {
        if self.buf.capacity() > 64 && self.buf.len() * 2 < self.buf.capacity() {
            self.buf.shrink_to_fit();
        }
    }

    /// Splits off the entries from offset `pos` on into a new listpack.
    pub fn split_off(&mut self, pos: usize) -> Listpack {
        let tail = self.buf.split_off(pos);
        let mut moved = 0u32;
        let mut moved_size = 0u32;
        let mut p = 0;
        while p < tail.len() {
            let (start, len, end) = decode(&tail, p);
            moved_size = moved_size.saturating_add(valkey_entry(&tail[start..start + len]));
            p = end;
            moved += 1;
        }
        self.count -= moved;
        self.valkey_entries = self.valkey_entries.saturating_sub(moved_size);
        self.buf.shrink_to_fit();
        Listpack {
            buf: tail,
            count: moved,
            valkey_entries: moved_size,
        }
    }

    /// Appends every entry of `other` (the two buffers are simply concatenated).
    pub fn append(&mut self, other: &Listpack) {
        self.reserve_for(other.buf.len());
        self.buf.extend_from_slice(&other.buf);
        self.count += other.count;
        self.valkey_entries = self.valkey_entries.saturating_add(other.valkey_entries);
    }
}

/// Forward iterator over a listpack's entries.
pub struct Iter<'a> {
    lp: &'a Listpack,
    pos: usize,
    end: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.end {
            return None;
        }
        let (d, n) = self.lp.get(self.pos);
        self.pos = n;
        Some(d)
    }
}

/// Backward iterator over a listpack's entries.
pub struct RevIter<'a> {
    lp: &'a Listpack,
    end: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let p = self.lp.prev(self.end)?;
        self.end = p;
        Some(self.lp.data(p))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn push_iterate_both_ways_and_seek() {
        let mut lp = Listpack::new();
        let big = vec![b'x'; 300];
        let items: Vec<&[u8]> = vec![b"a", b"", &big, b"hello", b"12345"];
        for i in &items {
            lp.push_back(i);
        }
        lp.push_front(b"first");
        assert_eq!(lp.len(), 6);
        let fwd: Vec<&[u8]> = lp.iter().collect();
        assert_eq!(fwd[0], b"first");
        assert_eq!(&fwd[1..], &items[..]);
        let mut rev: Vec<&[u8]> = lp.iter_rev().collect();
        rev.reverse();
        assert_eq!(rev, fwd);
        for (i, want) in fwd.iter().enumerate() {
            assert_eq!(lp.seek(i as i64).map(|p| lp.data(p)), Some(*want));
            assert_eq!(lp.seek(i as i64 - 6).map(|p| lp.data(p)), Some(*want));
        }
        assert_eq!(lp.seek(6), None);
        assert_eq!(lp.seek(-7), None);
    }

    #[test]
    fn insert_delete_replace_split() {
        let mut lp = Listpack::new();
        for i in 0..10 {
            lp.push_back(format!("v{i}").as_bytes());
        }
        let p = lp.find(b"v3", 1).unwrap();
        lp.replace_at(p, &[b'z'; 200]);
        let p = lp.find(b"v5", 1).unwrap();
        let p = lp.delete_at(p);
        assert_eq!(lp.data(p), b"v6");
        lp.insert_at(p, b"new");
        let got: Vec<Vec<u8>> = lp.iter().map(<[u8]>::to_vec).collect();
        assert_eq!(got[3], vec![b'z'; 200]);
        assert_eq!(got[5], b"new");
        assert_eq!(lp.len(), 10);
        let at = lp.seek(4).unwrap();
        let tail = lp.split_off(at);
        assert_eq!(lp.len(), 4);
        assert_eq!(tail.len(), 6);
        assert_eq!(tail.iter().next(), Some(&b"v4"[..]));
        lp.append(&tail);
        assert_eq!(lp.len(), 10);
        let first = lp.first().unwrap();
        lp.delete_run(first, 3);
        assert_eq!(lp.len(), 7);
        assert_eq!(lp.iter().next(), Some(&[b'z'; 200][..]));
        assert_eq!(lp.find(b"v8", 1).map(|p| lp.data(p)), Some(&b"v8"[..]));
        let last = lp.last().unwrap();
        assert_eq!(lp.data(last), b"v9");
        assert_eq!(lp.iter_rev_from(last).count(), 7);
    }
}
