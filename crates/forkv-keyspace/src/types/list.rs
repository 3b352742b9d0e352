//! `ListValue`: a list as one listpack while small, a quicklist (a deque of listpack
//! nodes) once a single node would exceed `list-max-listpack-size` (Valkey 7.2+'s
//! `t_list.c` rules).
//!
//! Both encodings are handled as "a sequence of packed nodes": the small one is simply
//! a single node, so iteration, indexing and deletion are written once.
//!
//! Conversions: a push that would make the single listpack exceed the node limit turns
//! it into a quicklist first (`listTypeTryConvertListpack`); a removal that leaves a
//! quicklist with one node under half the limit turns it back
//! (`listTypeTryConvertQuicklist` with `shrinking`), the hysteresis that stops a list
//! at the boundary from converting on every push and pop.
//!
//! A quicklist takes `list-compress-depth` when it is created and keeps it, as Valkey's
//! does: its interior nodes are LZF-compressed ([`qlnode`](super::qlnode)). Every change
//! opens (decompresses) the nodes it touches, and then settles the list: after a push,
//! pop or trim only the nodes near the ends are looked at, after a change in the middle
//! every node is.

use std::borrow::Cow;
use std::collections::VecDeque;

use super::listpack::Listpack;
use super::qlnode::{self, Node, COMPRESS_MAX};
use super::EncodingLimits;

/// What Valkey adds to an element's length to estimate its entry in a node
/// (`SIZE_ESTIMATE_OVERHEAD` of `_quicklistNodeAllowInsert`): pushes compare this
/// estimate, not the exact entry size, with the node limit.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;

/// A list of byte strings.
#[derive(Clone)]
pub struct ListValue {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// OBJ_ENCODING_LISTPACK.
    Packed(Listpack),
    /// OBJ_ENCODING_QUICKLIST: nodes head to tail, the total element count and the
    /// compress depth.
    Quick {
        nodes: VecDeque<Node>,
        count: usize,
        depth: usize,
    },
}

/// A quicklist node as DEBUG QUICKLIST shows it.
pub struct NodeInfo<'a> {
    /// The node's elements (decompressed when needed).
    pub lp: Cow<'a, Listpack>,
    /// Stored LZF-compressed.
    pub compressed: bool,
    /// Compression was attempted and did not pay.
    pub attempted: bool,
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue {
            repr: Repr::Packed(Listpack::new()),
        }
    }
}

impl ListValue {
    /// An empty list (listpack-encoded).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(lp) => lp.len(),
            Repr::Quick { count, .. } => *count,
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
            Repr::Quick { .. } => "quicklist",
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
    pub fn duplicate(&self) -> ListValue {
        self.clone()
    }

    /// Number of quicklist nodes (1 for a listpack-encoded list).
    pub fn node_count(&self) -> usize {
        match &self.repr {
            Repr::Packed(_) => 1,
            Repr::Quick { nodes, .. } => nodes.len(),
        }
    }

    /// Node `i` for reading (decompressed into a copy when compressed).
    fn node(&self, i: usize) -> Cow<'_, Listpack> {
        match &self.repr {
            Repr::Packed(lp) => Cow::Borrowed(lp),
            Repr::Quick { nodes, .. } => nodes[i].read(),
        }
    }

    /// Elements in node `i` (no decompression).
    fn node_len(&self, i: usize) -> usize {
        match &self.repr {
            Repr::Packed(lp) => lp.len(),
            Repr::Quick { nodes, .. } => nodes[i].len(),
        }
    }

    /// Quicklist layout for DEBUG OBJECT: (nodes, uncompressed bytes of all nodes,
    /// compress depth); `None` for the listpack encoding.
    pub fn quicklist_stats(&self) -> Option<(usize, usize, usize)> {
        match &self.repr {
            Repr::Packed(_) => None,
            Repr::Quick { nodes, depth, .. } => Some((nodes.len(), nodes.iter().map(Node::bytes).sum(), *depth)),
        }
    }

    /// The bytes each quicklist node holds as stored, head to tail, and whether it is
    /// LZF-compressed (then the compressed size); `None` for the listpack encoding
    /// (MEMORY USAGE, which sizes what a node occupies).
    pub fn quicklist_node_sizes(&self) -> Option<impl Iterator<Item = (usize, bool)> + '_> {
        match &self.repr {
            Repr::Packed(_) => None,
            Repr::Quick { nodes, .. } => Some(nodes.iter().map(|n| (n.stored_bytes(), n.is_compressed()))),
        }
    }

    /// The quicklist's nodes, head to tail; `None` for the listpack encoding (DEBUG
    /// QUICKLIST).
    pub fn quicklist_nodes(&self) -> Option<Vec<NodeInfo<'_>>> {
        match &self.repr {
            Repr::Packed(_) => None,
            Repr::Quick { nodes, .. } => Some(
                nodes
                    .iter()
                    .map(|n| NodeInfo { lp: n.read(), compressed: n.is_compressed(), attempted: n.attempted() })
                    .collect(),
            ),
        }
    }

    /// Appends at the tail with Valkey's default limits (used by loaders).
    pub fn push_back(&mut self, item: &[u8]) {
        self.push(item, false, &EncodingLimits::default());
    }

    /// Prepends at the head with Valkey's default limits (used by loaders).
    pub fn push_front(&mut self, item: &[u8]) {
        self.push(item, true, &EncodingLimits::default());
    }

    /// Converts to a quicklist when adding `add_count` elements of `add_bytes` total
    /// would make the single listpack exceed the node limit. Call before pushing a batch.
    pub fn prepare_growth(&mut self, add_bytes: usize, add_count: usize, lim: &EncodingLimits) {
        if let Repr::Packed(lp) = &mut self.repr {
            if lim
                .list_node()
                .exceeded(lp.valkey_bytes() + add_bytes, lp.len() + add_count)
            {
                let lp = std::mem::take(lp);
                let count = lp.len();
                let mut nodes = VecDeque::new();
                if !lp.is_empty() {
                    nodes.push_back(Node::raw(lp));
                }
                let depth = lim.list_compress_depth.min(COMPRESS_MAX);
                self.repr = Repr::Quick { nodes, count, depth };
            }
        }
    }

    /// Brings the quicklist's nodes to its compress depth; `all` after a change in the
    /// middle, otherwise only near the ends.
    fn settle(&mut self, all: bool) {
        if let Repr::Quick { nodes, depth, .. } = &mut self.repr {
            qlnode::settle(nodes, *depth, all);
        }
    }

    /// Pushes one element at the head (`front`) or tail.
    pub fn push(&mut self, item: &[u8], front: bool, lim: &EncodingLimits) {
        self.prepare_growth(item.len(), 1, lim);
        match &mut self.repr {
            Repr::Packed(lp) => {
                if front {
                    lp.push_front(item)
                } else {
                    lp.push_back(item)
                }
            }
            Repr::Quick { nodes, count, .. } => {
                let limit = lim.list_node();
                let end = if front {
                    nodes.front_mut()
                } else {
                    nodes.back_mut()
                };
                // A node takes the element only while it stays within the limit
                // (Valkey's `_quicklistNodeAllowInsert`); otherwise a new node starts.
                // A large element gets a node of its own, and no element joins it there
                // (Valkey's plain nodes).
                let fits = !lim.list_large(item.len())
                    && end.as_ref().is_some_and(|n| {
                        !n.is_compressed()
                            && !is_plain(&n.read(), lim)
                            && !limit.exceeded(n.bytes() + item.len() + SIZE_ESTIMATE_OVERHEAD, n.len() + 1)
                    });
                match end {
                    Some(node) if fits => {
                        let node = node.open();
                        if front {
                            node.push_front(item)
                        } else {
                            node.push_back(item)
                        }
                    }
                    _ => {
                        let mut node = Listpack::new();
                        node.push_back(item);
                        if front {
                            nodes.push_front(Node::raw(node))
                        } else {
                            nodes.push_back(Node::raw(node))
                        }
                    }
                }
                *count += 1;
            }
        }
        self.settle(false);
    }

    /// Removes and returns the head (`front`) or tail element.
    pub fn pop(&mut self, front: bool) -> Option<Vec<u8>> {
        let v = match &mut self.repr {
            Repr::Packed(lp) => {
                let p = if front { lp.first()? } else { lp.last()? };
                let v = lp.data(p).to_vec();
                lp.delete_at(p);
                return Some(v);
            }
            Repr::Quick { nodes, count, .. } => {
                let node = if front {
                    nodes.front_mut()?
                } else {
                    nodes.back_mut()?
                };
                let node_lp = node.open();
                let p = if front { node_lp.first()? } else { node_lp.last()? };
                let v = node_lp.data(p).to_vec();
                node_lp.delete_at(p);
                if node_lp.is_empty() {
                    if front {
                        nodes.pop_front();
                    } else {
                        nodes.pop_back();
                    }
                }
                *count -= 1;
                v
            }
        };
        self.settle(false);
        Some(v)
    }

    /// Deletes `n` elements from the head (`front`) or the tail.
    pub fn delete_end(&mut self, mut n: usize, front: bool) {
        match &mut self.repr {
            Repr::Packed(lp) => {
                let n = n.min(lp.len());
                if n == 0 {
                    return;
                }
                let start = if front {
                    lp.first()
                } else {
                    lp.seek(-(n as i64))
                };
                if let Some(p) = start {
                    lp.delete_run(p, n);
                }
                return;
            }
            Repr::Quick { nodes, count, .. } => {
                while n > 0 {
                    let node = if front {
                        nodes.front_mut()
                    } else {
                        nodes.back_mut()
                    };
                    let Some(node) = node else { break };
                    if node.len() <= n {
                        n -= node.len();
                        *count -= node.len();
                        if front {
                            nodes.pop_front();
                        } else {
                            nodes.pop_back();
                        }
                        continue;
                    }
                    let node = node.open();
                    let start = if front {
                        node.first()
                    } else {
                        node.seek(-(n as i64))
                    };
                    if let Some(p) = start {
                        node.delete_run(p, n);
                    }
                    *count -= n;
                    n = 0;
                }
            }
        }
        self.settle(false);
    }

    /// Converts a quicklist back to a listpack when it is down to one node under half
    /// the limit. Call after removals.
    pub fn shrunk(&mut self, lim: &EncodingLimits) {
        if let Repr::Quick { nodes, count, .. } = &mut self.repr {
            let limit = lim.list_node();
            let ok = match nodes.len() {
                0 => true,
                1 => nodes[0].bytes() <= limit.bytes / 2 && *count <= limit.count / 2,
                _ => false,
            };
            if ok {
                let lp = nodes.pop_front().map(Node::into_listpack).unwrap_or_default();
                self.repr = Repr::Packed(lp);
            }
        }
    }

    /// (node, index within the node: from its head when >= 0, from its tail when
    /// negative) of element `index` (0-based, in range), walking from the nearer end.
    /// Only element counts are read: no node is decompressed.
    fn locate_node(&self, index: usize) -> Option<(usize, i64)> {
        let count = self.len();
        if index >= count {
            return None;
        }
        let n = self.node_count();
        if index < count / 2 {
            let mut i = index;
            for ni in 0..n {
                let len = self.node_len(ni);
                if i < len {
                    return Some((ni, i as i64));
                }
                i -= len;
            }
            None
        } else {
            let mut from_end = count - index;
            for ni in (0..n).rev() {
                let len = self.node_len(ni);
                if from_end <= len {
                    return Some((ni, -(from_end as i64)));
                }
                from_end -= len;
            }
            None
        }
    }

    /// Element `index` (0-based, in range).
    pub fn get(&self, index: usize) -> Option<Cow<'_, [u8]>> {
        let (ni, i) = self.locate_node(index)?;
        match self.node(ni) {
            Cow::Borrowed(lp) => lp.seek(i).map(|p| Cow::Borrowed(lp.data(p))),
            Cow::Owned(lp) => lp.seek(i).map(|p| Cow::Owned(lp.data(p).to_vec())),
        }
    }

    /// Elements head to tail.
    pub fn iter(&self) -> ListIter<'_> {
        self.iter_from(0, false)
    }

    /// Elements tail to head.
    pub fn iter_rev(&self) -> ListIter<'_> {
        match self.len() {
            0 => self.iter_from(0, false),
            n => self.iter_from(n - 1, true),
        }
    }

    /// Elements from `index` towards the tail, or towards the head when `rev`.
    pub fn iter_from(&self, index: usize, rev: bool) -> ListIter<'_> {
        let found = self.locate_node(index).and_then(|(ni, i)| {
            let lp = self.node(ni);
            let p = lp.seek(i)?;
            // In reverse, `pos` is the end of the next entry to yield.
            let pos = if rev { lp.get(p).1 } else { p };
            Some((ni, lp, pos))
        });
        match found {
            Some((node, lp, pos)) => ListIter {
                list: self,
                node,
                lp,
                pos,
                rev,
                done: false,
            },
            None => ListIter {
                list: self,
                node: 0,
                lp: Cow::Owned(Listpack::new()),
                pos: 0,
                rev,
                done: true,
            },
        }
    }

    /// Node `ni` opened for a change, with the byte offset of its element `i` (see
    /// [`locate_node`](Self::locate_node)).
    fn open_at(&mut self, ni: usize, i: i64) -> Option<(&mut Listpack, usize)> {
        let lp = match &mut self.repr {
            Repr::Packed(lp) => lp,
            Repr::Quick { nodes, .. } => nodes.get_mut(ni)?.open(),
        };
        let p = lp.seek(i)?;
        Some((lp, p))
    }

    /// Splits node `ni` of a quicklist while it exceeds the node limit (after an insert
    /// or replace made it grow).
    fn split_if_needed(&mut self, ni: usize, lim: &EncodingLimits) {
        let limit = lim.list_node();
        if let Repr::Quick { nodes, .. } = &mut self.repr {
            let mut i = ni;
            while i < nodes.len() {
                let n = nodes[i].open();
                if n.len() < 2 || !limit.exceeded(n.valkey_bytes(), n.len()) {
                    break;
                }
                let Some(mid) = n.seek((n.len() / 2) as i64) else {
                    break;
                };
                let tail = n.split_off(mid);
                nodes.insert(i + 1, Node::raw(tail));
                // The first half may still be too big (huge elements): look again.
                if !limit.exceeded(nodes[i].bytes(), nodes[i].len()) {
                    i += 1;
                }
            }
        }
    }

    /// Replaces element `index`; false when out of range.
    pub fn set(&mut self, index: usize, value: &[u8], lim: &EncodingLimits) -> bool {
        if index >= self.len() {
            return false;
        }
        // Valkey counts the replacement as one added element here too.
        self.prepare_growth(value.len(), 1, lim);
        let Some((ni, i)) = self.locate_node(index) else {
            return false;
        };
        let Some((lp, p)) = self.open_at(ni, i) else {
            return false;
        };
        lp.replace_at(p, value);
        if let Repr::Quick { nodes, .. } = &mut self.repr {
            if lim.list_large(value.len()) && nodes[ni].len() > 1 {
                // Move the large element into a node of its own.
                let mut right = nodes[ni].open().split_off(p);
                let rest = right.seek(1).map(|q| right.split_off(q));
                nodes.insert(ni + 1, Node::raw(right));
                if let Some(rest) = rest.filter(|r| !r.is_empty()) {
                    nodes.insert(ni + 2, Node::raw(rest));
                }
                if nodes[ni].is_empty() {
                    nodes.remove(ni);
                }
                self.shrunk(lim);
                self.settle(true);
                return true;
            }
        }
        self.split_if_needed(ni, lim);
        self.shrunk(lim);
        self.settle(true);
        true
    }

    /// Inserts `value` before or after the first element equal to `pivot`; false when
    /// the pivot is not found.
    pub fn insert_at_pivot(
        &mut self,
        pivot: &[u8],
        value: &[u8],
        after: bool,
        lim: &EncodingLimits,
    ) -> bool {
        // Valkey converts before searching, assuming the insert will happen.
        self.prepare_growth(value.len(), 1, lim);
        let mut found = None;
        'nodes: for ni in 0..self.node_count() {
            let lp = self.node(ni);
            let mut p = 0;
            while p < lp.bytes() {
                let (d, next) = lp.get(p);
                if d == pivot {
                    found = Some((ni, if after { next } else { p }));
                    break 'nodes;
                }
                p = next;
            }
        }
        let Some((ni, at)) = found else { return false };
        match &mut self.repr {
            Repr::Packed(lp) => lp.insert_at(at, value),
            Repr::Quick { nodes, count, .. } => {
                *count += 1;
                let node = nodes[ni].open();
                if lim.list_large(value.len()) || is_plain(node, lim) {
                    // A large element, or a neighbour that is one: the new element gets
                    // a node of its own between the two halves of the pivot's node.
                    let tail = node.split_off(at);
                    let mut single = Listpack::new();
                    single.push_back(value);
                    nodes.insert(ni + 1, Node::raw(single));
                    if !tail.is_empty() {
                        nodes.insert(ni + 2, Node::raw(tail));
                    }
                    if nodes[ni].is_empty() {
                        nodes.remove(ni);
                    }
                    self.settle(true);
                    return true;
                }
                node.insert_at(at, value);
            }
        }
        self.split_if_needed(ni, lim);
        self.settle(true);
        true
    }

    /// Removes up to `limit` elements equal to `value` (0 = all), scanning from the head,
    /// or from the tail when `from_tail`. Returns how many were removed.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let nodes: Vec<&mut Listpack> = match &mut self.repr {
            Repr::Packed(lp) => vec![lp],
            // Only nodes holding `value` are opened (and so recompressed afterwards).
            Repr::Quick { nodes, .. } => nodes
                .iter_mut()
                .filter_map(|n| (n.read().find(value, 1).is_some()).then(|| n.open()))
                .collect(),
        };
        let order: Box<dyn Iterator<Item = &mut Listpack>> = if from_tail {
            Box::new(nodes.into_iter().rev())
        } else {
            Box::new(nodes.into_iter())
        };
        'outer: for lp in order {
            if from_tail {
                let mut end = lp.bytes();
                while let Some(p) = lp.prev(end) {
                    if lp.data(p) == value {
                        lp.delete_at(p);
                        removed += 1;
                        if limit != 0 && removed == limit {
                            break 'outer;
                        }
                    }
                    end = p;
                }
            } else {
                let mut p = 0;
                while p < lp.bytes() {
                    let (d, next) = lp.get(p);
                    if d == value {
                        p = lp.delete_at(p);
                        removed += 1;
                        if limit != 0 && removed == limit {
                            break 'outer;
                        }
                    } else {
                        p = next;
                    }
                }
            }
        }
        if let Repr::Quick { nodes, count, .. } = &mut self.repr {
            nodes.retain(|n| !n.is_empty());
            *count -= removed;
        }
        self.settle(true);
        removed
    }
}

/// True for a node holding one large element (Valkey's plain node): nothing joins it.
pub fn is_plain(node: &Listpack, lim: &EncodingLimits) -> bool {
    node.len() == 1 && node.first().is_some_and(|p| lim.list_large(node.data(p).len()))
}

/// Iterator over a list in either direction. Elements of raw nodes are borrowed; those
/// of compressed nodes are copied out of a decompressed copy of their node.
pub struct ListIter<'a> {
    list: &'a ListValue,
    node: usize,
    /// The current node's elements.
    lp: Cow<'a, Listpack>,
    /// Forward: offset of the next entry. Reverse: end offset of the next entry.
    pos: usize,
    rev: bool,
    done: bool,
}

impl<'a> Iterator for ListIter<'a> {
    type Item = Cow<'a, [u8]>;
    fn next(&mut self) -> Option<Cow<'a, [u8]>> {
        while !self.done {
            let at = if self.rev {
                self.lp.prev(self.pos).inspect(|&p| self.pos = p)
            } else if self.pos < self.lp.bytes() {
                let p = self.pos;
                self.pos = self.lp.get(p).1;
                Some(p)
            } else {
                None
            };
            if let Some(p) = at {
                return Some(match &self.lp {
                    Cow::Borrowed(lp) => Cow::Borrowed(lp.data(p)),
                    Cow::Owned(lp) => Cow::Owned(lp.data(p).to_vec()),
                });
            }
            let list: &'a ListValue = self.list;
            if self.rev {
                if self.node == 0 {
                    self.done = true;
                } else {
                    self.node -= 1;
                    self.lp = list.node(self.node);
                    self.pos = self.lp.bytes();
                }
            } else if self.node + 1 >= list.node_count() {
                self.done = true;
            } else {
                self.node += 1;
                self.lp = list.node(self.node);
                self.pos = 0;
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn small_nodes() -> EncodingLimits {
        EncodingLimits {
            list_max_listpack_size: 4,
            ..EncodingLimits::default()
        }
    }

    fn contents(l: &ListValue) -> Vec<String> {
        l.iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }

    #[test]
    fn large_elements_get_nodes_of_their_own() {
        let lim = EncodingLimits {
            list_max_listpack_size: 1,
            list_packed_threshold: 5,
            ..EncodingLimits::default()
        };
        let mut l = ListValue::new();
        for item in ["a", "bigbig", "b", "c"] {
            l.push(item.as_bytes(), false, &lim);
        }
        // Count limit 1: one node per element anyway; now allow 10 per node.
        let lim = EncodingLimits { list_max_listpack_size: 10, ..lim };
        let mut l2 = ListValue::new();
        l2.prepare_growth(0, 20, &EncodingLimits { list_max_listpack_size: 1, ..lim });
        for item in ["a", "b", "bigbig", "c", "d"] {
            l2.push(item.as_bytes(), false, &lim);
        }
        // [a b] [bigbig] [c d]
        assert_eq!(l2.quicklist_stats().map(|s| s.0), Some(3));
        assert!(l2.insert_at_pivot(b"bigbig", b"x", true, &lim));
        // The small element does not join the large one's node.
        assert_eq!(l2.quicklist_stats().map(|s| s.0), Some(4));
        assert!(l2.insert_at_pivot(b"a", b"hugehuge", true, &lim));
        // [a] [hugehuge] [b] [bigbig] [x] [c d]
        assert_eq!(l2.quicklist_stats().map(|s| s.0), Some(6));
        assert!(l2.set(5, b"largest", &lim));
        assert_eq!(contents(&l2), vec!["a", "hugehuge", "b", "bigbig", "x", "largest", "d"]);
        assert_eq!(l2.quicklist_stats().map(|s| s.0), Some(7));
        assert_eq!(contents(&l), vec!["a", "bigbig", "b", "c"]);
    }

    #[test]
    fn converts_both_ways_with_hysteresis() {
        let lim = small_nodes();
        let mut l = ListValue::new();
        for i in 0..4 {
            l.push(format!("{i}").as_bytes(), false, &lim);
        }
        assert_eq!(l.encoding_name(), "listpack");
        l.push(b"4", false, &lim);
        assert_eq!(l.encoding_name(), "quicklist");
        l.pop(true);
        l.shrunk(&lim);
        // 4 elements in one node: above half the limit, stays a quicklist.
        assert_eq!(l.encoding_name(), "quicklist");
        // Nodes [0 1 2 3] [4]: popping the head leaves two nodes, still a quicklist.
        l.pop(true);
        l.pop(true);
        l.shrunk(&lim);
        assert_eq!(l.encoding_name(), "quicklist");
        // One node of one element: at most half the limit, back to a listpack.
        l.pop(false);
        l.shrunk(&lim);
        assert_eq!(l.encoding_name(), "listpack");
        assert_eq!(contents(&l), vec!["3"]);
    }

    #[test]
    fn byte_limit_default_converts_past_8kb() {
        let lim = EncodingLimits::default();
        let mut l = ListValue::new();
        let item = [b'a'; 100];
        // As in valkey-server 8.0.1: 79 elements of 100 bytes (103-byte entries, 8144
        // bytes with the header) stay a listpack; the 80th would pass 8 KB.
        for _ in 0..79 {
            l.push(&item, false, &lim);
        }
        assert_eq!(l.encoding_name(), "listpack");
        l.push(&item, false, &lim);
        assert_eq!(l.encoding_name(), "quicklist");
    }

    /// A quicklist with many nodes behaves exactly like a VecDeque model.
    #[test]
    fn matches_a_deque_model_under_random_operations() {
        run_model(&small_nodes(), 0);
    }

    /// The same with compressible elements and compress depths 1 and 2: interior nodes
    /// get compressed and every operation still sees the same elements.
    #[test]
    fn compressed_quicklist_matches_the_model() {
        for depth in [1, 2] {
            let lim = EncodingLimits { list_compress_depth: depth, ..small_nodes() };
            run_model(&lim, 40);
        }
    }

    #[test]
    fn interior_nodes_are_compressed_beyond_the_depth() {
        let lim = EncodingLimits { list_compress_depth: 1, ..small_nodes() };
        let mut l = ListValue::new();
        for i in 0..40 {
            l.push(format!("{i:0>30}").as_bytes(), false, &lim);
        }
        let nodes = l.quicklist_nodes().unwrap();
        let state: Vec<bool> = nodes.iter().map(|n| n.compressed).collect();
        assert_eq!(state.len(), 10);
        assert!(!state[0] && !state[9] && state[1..9].iter().all(|c| *c));
        drop(nodes);
        assert_eq!(l.get(17).as_deref(), Some(format!("{:0>30}", 17).as_bytes()));
        // A list keeps the depth it was created with.
        assert_eq!(l.quicklist_stats().map(|s| s.2), Some(1));
    }

    fn run_model(lim: &EncodingLimits, pad: usize) {
        let lim = *lim;
        let pad = "x".repeat(pad);
        let mut l = ListValue::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut seed = 12345u64;
        let mut rnd = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for step in 0..30_000 {
            let v = format!("v{}{pad}", rnd(20)).into_bytes();
            match rnd(10) {
                0 | 1 => {
                    l.push(&v, true, &lim);
                    model.push_front(v);
                }
                2 | 3 => {
                    l.push(&v, false, &lim);
                    model.push_back(v);
                }
                4 => {
                    let front = rnd(2) == 0;
                    let want = if front {
                        model.pop_front()
                    } else {
                        model.pop_back()
                    };
                    assert_eq!(l.pop(front), want);
                }
                5 => {
                    let n = rnd(4) as usize;
                    let front = rnd(2) == 0;
                    l.delete_end(n, front);
                    for _ in 0..n {
                        if front {
                            model.pop_front();
                        } else {
                            model.pop_back();
                        }
                    }
                }
                6 if !model.is_empty() => {
                    let i = rnd(model.len() as u64) as usize;
                    assert!(l.set(i, &v, &lim));
                    model[i] = v;
                }
                7 => {
                    let pivot = format!("v{}{pad}", rnd(20)).into_bytes();
                    let after = rnd(2) == 0;
                    let at = model.iter().position(|x| *x == pivot);
                    assert_eq!(l.insert_at_pivot(&pivot, &v, after, &lim), at.is_some());
                    if let Some(i) = at {
                        model.insert(if after { i + 1 } else { i }, v);
                    }
                }
                8 => {
                    let limit = rnd(3) as usize;
                    let from_tail = rnd(2) == 0;
                    let mut removed = 0;
                    let mut keep: VecDeque<Vec<u8>> = VecDeque::new();
                    let src: Vec<Vec<u8>> = if from_tail {
                        model.iter().rev().cloned().collect()
                    } else {
                        model.iter().cloned().collect()
                    };
                    for x in src {
                        if x == v && (limit == 0 || removed < limit) {
                            removed += 1;
                        } else if from_tail {
                            keep.push_front(x);
                        } else {
                            keep.push_back(x);
                        }
                    }
                    model = keep;
                    assert_eq!(l.remove_matching(&v, limit, from_tail), removed);
                }
                _ => l.shrunk(&lim),
            }
            assert_eq!(l.len(), model.len());
            if step % 101 == 0 {
                let got: Vec<Vec<u8>> = l.iter().map(Cow::into_owned).collect();
                let want: Vec<Vec<u8>> = model.iter().cloned().collect();
                assert_eq!(got, want);
                let mut back: Vec<Vec<u8>> = l.iter_rev().map(Cow::into_owned).collect();
                back.reverse();
                assert_eq!(back, want);
                for (i, want) in model.iter().enumerate() {
                    assert_eq!(l.get(i).as_deref(), Some(&want[..]));
                }
                if !model.is_empty() {
                    let k = rnd(model.len() as u64) as usize;
                    assert_eq!(l.iter_from(k, false).count(), model.len() - k);
                    assert_eq!(l.iter_from(k, true).count(), k + 1);
                }
            }
        }
    }
}
