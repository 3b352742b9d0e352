//! `OsTree`: an order-statistic tree of (score, member) pairs for big sorted sets.
//!
//! Valkey uses a skiplist whose links carry spans, so that ranks and rank lookups are
//! O(log n). forkv gets the same bounds from a treap (a binary search tree kept balanced
//! in expectation by random heap priorities) whose nodes also store their subtree size:
//! the rank of a node is the sizes of the left subtrees passed on the way down, and the
//! node at rank k is found by steering with those sizes. Treap insert and remove are
//! short split/merge recursions, which keeps the code small and obviously correct.
//!
//! Nodes live in a chunked arena addressed by `u32` indices: no per-node allocation, no
//! pointers to fix up, and growth allocates one new fixed-size chunk instead of
//! reallocating (and copying) the whole arena — a large sorted set must not stall the
//! server, or dirty every page a fork child shares, when it grows.
//!
//! Reads (`rank`, `select`, range iteration) take `&self` and write nothing.

use std::cmp::Ordering;

use crate::value::Bytes;

/// "No node".
const NIL: u32 = u32::MAX;
/// Nodes per arena chunk.
const CHUNK: usize = 1024;

/// Sorted-set order: by score, then by member bytes. Scores are never NaN here, and
/// `-0.0 == 0.0` ties are broken by member, as Valkey's `<`/`==` comparisons do.
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

struct Node {
    member: Bytes,
    score: f64,
    left: u32,
    right: u32,
    /// Nodes in this subtree, this one included.
    size: u32,
    prio: u32,
}

/// An order-statistic treap.
pub struct OsTree {
    chunks: Vec<Vec<Node>>,
    free: Vec<u32>,
    root: u32,
    rng: u64,
}

impl Default for OsTree {
    fn default() -> Self {
        OsTree {
            chunks: Vec::new(),
            free: Vec::new(),
            root: NIL,
            rng: 0x2545_F491_4F6C_DD1D,
        }
    }
}

impl OsTree {
    /// An empty tree.
    pub fn new() -> Self {
        OsTree::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    fn node(&self, i: u32) -> &Node {
        &self.chunks[i as usize / CHUNK][i as usize % CHUNK]
    }

    fn node_mut(&mut self, i: u32) -> &mut Node {
        &mut self.chunks[i as usize / CHUNK][i as usize % CHUNK]
    }

    fn size(&self, i: u32) -> u32 {
        if i == NIL {
            0
        } else {
            self.node(i).size
        }
    }

    fn update(&mut self, i: u32) {
        let n = self.node(i);
        let s = 1 + self.size(n.left) + self.size(n.right);
        self.node_mut(i).size = s;
    }

    fn next_prio(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 32) as u32
    }

    fn alloc(&mut self, member: &[u8], score: f64) -> u32 {
        let prio = self.next_prio();
        let node = Node {
            member: member.into(),
            score,
            left: NIL,
            right: NIL,
            size: 1,
            prio,
        };
        if let Some(i) = self.free.pop() {
            *self.node_mut(i) = node;
            return i;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let ci = self.chunks.len() - 1;
        let chunk = &mut self.chunks[ci];
        chunk.push(node);
        (ci * CHUNK + chunk.len() - 1) as u32
    }

    fn release(&mut self, i: u32) {
        let n = self.node_mut(i);
        n.member = Bytes::default();
        n.left = NIL;
        n.right = NIL;
        self.free.push(i);
    }

    fn less_than(&self, i: u32, score: f64, member: &[u8]) -> bool {
        let n = self.node(i);
        cmp_entry(n.score, &n.member, score, member) == Ordering::Less
    }

    /// Splits subtree `t` into (entries < key, entries >= key).
    fn split(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.less_than(t, score, member) {
            let r = self.node(t).right;
            let (a, b) = self.split(r, score, member);
            self.node_mut(t).right = a;
            self.update(t);
            (t, b)
        } else {
            let l = self.node(t).left;
            let (a, b) = self.split(l, score, member);
            self.node_mut(t).left = b;
            self.update(t);
            (a, t)
        }
    }

    /// Joins two subtrees where every key of `a` is below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.node(a).prio > self.node(b).prio {
            let r = self.node(a).right;
            let m = self.merge(r, b);
            self.node_mut(a).right = m;
            self.update(a);
            a
        } else {
            let l = self.node(b).left;
            let m = self.merge(a, l);
            self.node_mut(b).left = m;
            self.update(b);
            b
        }
    }

    fn insert_node(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        if self.node(n).prio > self.node(t).prio {
            let (score, member) = {
                let nn = self.node(n);
                (nn.score, nn.member.clone())
            };
            let (l, r) = self.split(t, score, &member);
            let nn = self.node_mut(n);
            nn.left = l;
            nn.right = r;
            self.update(n);
            return n;
        }
        let go_left = {
            let (nn, tn) = (self.node(n), self.node(t));
            cmp_entry(nn.score, &nn.member, tn.score, &tn.member) == Ordering::Less
        };
        if go_left {
            let l = self.node(t).left;
            let x = self.insert_node(l, n);
            self.node_mut(t).left = x;
        } else {
            let r = self.node(t).right;
            let x = self.insert_node(r, n);
            self.node_mut(t).right = x;
        }
        self.update(t);
        t
    }

    /// Inserts an entry (the caller guarantees the member is not present).
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let n = self.alloc(member, score);
        let root = self.root;
        self.root = self.insert_node(root, n);
    }

    fn remove_from(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, bool) {
        if t == NIL {
            return (NIL, false);
        }
        let ord = {
            let n = self.node(t);
            cmp_entry(score, member, n.score, &n.member)
        };
        match ord {
            Ordering::Equal => {
                let (l, r) = (self.node(t).left, self.node(t).right);
                let m = self.merge(l, r);
                self.release(t);
                (m, true)
            }
            Ordering::Less => {
                let l = self.node(t).left;
                let (x, found) = self.remove_from(l, score, member);
                self.node_mut(t).left = x;
                if found {
                    self.update(t);
                }
                (t, found)
            }
            Ordering::Greater => {
                let r = self.node(t).right;
                let (x, found) = self.remove_from(r, score, member);
                self.node_mut(t).right = x;
                if found {
                    self.update(t);
                }
                (t, found)
            }
        }
    }

    /// Removes an entry; true when it was present.
    pub fn remove(&mut self, member: &[u8], score: f64) -> bool {
        let root = self.root;
        let (r, found) = self.remove_from(root, score, member);
        self.root = r;
        if self.root == NIL {
            // Give the arena back when the tree empties.
            self.chunks.clear();
            self.free.clear();
        }
        found
    }

    /// 0-based rank of an entry known by (score, member), or None when absent.
    pub fn rank(&self, member: &[u8], score: f64) -> Option<usize> {
        let mut t = self.root;
        let mut before = 0usize;
        while t != NIL {
            let n = self.node(t);
            match cmp_entry(score, member, n.score, &n.member) {
                Ordering::Less => t = n.left,
                Ordering::Greater => {
                    before += self.size(n.left) as usize + 1;
                    t = n.right;
                }
                Ordering::Equal => return Some(before + self.size(n.left) as usize),
            }
        }
        None
    }

    /// The entry at 0-based rank `k`.
    pub fn select(&self, mut k: usize) -> Option<(&[u8], f64)> {
        let mut t = self.root;
        while t != NIL {
            let n = self.node(t);
            let ls = self.size(n.left) as usize;
            match k.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some((&n.member, n.score)),
                Ordering::Greater => {
                    k -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// Number of leading entries for which `before` holds; `before` must be true for a
    /// prefix of the order and false after it (a range bound). O(log n).
    pub fn count_while(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut t = self.root;
        let mut count = 0usize;
        while t != NIL {
            let n = self.node(t);
            if before(n.score, &n.member) {
                count += self.size(n.left) as usize + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// Entries from rank `start` upwards (`rev` = false) or downwards (`rev` = true);
    /// empty when `start` is past the end.
    /// Setup is O(log n), each step amortised O(1).
    pub fn iter_from(&self, start: usize, rev: bool) -> TreeIter<'_> {
        let mut it = TreeIter {
            tree: self,
            stack: Vec::new(),
            rev,
        };
        if start >= self.len() {
            return it;
        }
        let mut t = self.root;
        let mut k = start;
        // Descend to rank `start`, stacking the ancestors still to be visited after it.
        while t != NIL {
            let n = self.node(t);
            let ls = self.size(n.left) as usize;
            match k.cmp(&ls) {
                Ordering::Less => {
                    if !rev {
                        it.stack.push(t);
                    }
                    t = n.left;
                }
                Ordering::Equal => {
                    it.stack.push(t);
                    break;
                }
                Ordering::Greater => {
                    if rev {
                        it.stack.push(t);
                    }
                    k -= ls + 1;
                    t = n.right;
                }
            }
        }
        it
    }

    /// Entries in ascending order.
    pub fn iter(&self) -> TreeIter<'_> {
        self.iter_from(0, false)
    }
}

/// In-order iterator over an [`OsTree`] (either direction).
pub struct TreeIter<'a> {
    tree: &'a OsTree,
    stack: Vec<u32>,
    rev: bool,
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        let t = self.stack.pop()?;
        let tree = self.tree;
        let n = tree.node(t);
        // The successor is the extreme of the subtree on the far side, if any;
        // otherwise it is already on the stack.
        let mut c = if self.rev { n.left } else { n.right };
        while c != NIL {
            self.stack.push(c);
            let cn = tree.node(c);
            c = if self.rev { cn.right } else { cn.left };
        }
        Some((&n.member[..], n.score))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers for the model test.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn matches_a_sorted_vector_under_random_operations() {
        let mut tree = OsTree::new();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        let mut rng = Lcg(7);
        for step in 0..20_000u32 {
            let member = format!("m{}", rng.next() % 500).into_bytes();
            let score = (rng.next() % 50) as f64 - 25.0;
            let pos = model.iter().position(|(_, m)| *m == member);
            if rng.next().is_multiple_of(3) {
                if let Some(p) = pos {
                    let (s, m) = model.remove(p);
                    assert!(tree.remove(&m, s));
                } else {
                    assert!(!tree.remove(&member, score));
                }
            } else {
                if let Some(p) = pos {
                    let (s, m) = model.remove(p);
                    assert!(tree.remove(&m, s));
                }
                tree.insert(&member, score);
                model.push((score, member));
                model.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
            }
            assert_eq!(tree.len(), model.len());
            if step.is_multiple_of(97) && !model.is_empty() {
                for (i, (s, m)) in model.iter().enumerate() {
                    assert_eq!(tree.rank(m, *s), Some(i));
                    assert_eq!(tree.select(i), Some((&m[..], *s)));
                }
                let k = rng.next() as usize % model.len();
                let fwd: Vec<(Vec<u8>, f64)> = tree
                    .iter_from(k, false)
                    .map(|(m, s)| (m.to_vec(), s))
                    .collect();
                let want: Vec<(Vec<u8>, f64)> =
                    model[k..].iter().map(|(s, m)| (m.clone(), *s)).collect();
                assert_eq!(fwd, want);
                let back: Vec<(Vec<u8>, f64)> = tree
                    .iter_from(k, true)
                    .map(|(m, s)| (m.to_vec(), s))
                    .collect();
                let want: Vec<(Vec<u8>, f64)> = model[..=k]
                    .iter()
                    .rev()
                    .map(|(s, m)| (m.clone(), *s))
                    .collect();
                assert_eq!(back, want);
                let bound = (rng.next() % 50) as f64 - 25.0;
                assert_eq!(
                    tree.count_while(|s, _| s < bound),
                    model.iter().filter(|(s, _)| *s < bound).count()
                );
            }
        }
    }

    #[test]
    fn zero_and_negative_zero_tie_on_member() {
        let mut t = OsTree::new();
        t.insert(b"b", -0.0);
        t.insert(b"a", 0.0);
        let order: Vec<&[u8]> = t.iter().map(|(m, _)| m).collect();
        assert_eq!(order, vec![&b"a"[..], &b"b"[..]]);
        assert_eq!(t.select(5), None);
        assert!(t.iter_from(2, false).next().is_none());
    }
}
