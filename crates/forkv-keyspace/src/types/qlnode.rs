//! One quicklist node, raw or LZF-compressed (Valkey's `quicklistNode` with
//! `encoding` RAW or LZF), and the compression rule of `list-compress-depth`.
//!
//! A quicklist keeps its `depth` first and `depth` last nodes raw, so pushes and pops at
//! either end never touch compressed data; the nodes between are compressed with LZF
//! when that pays (Valkey's `__quicklistCompressNode`: nodes under 48 bytes are left
//! alone, and so is a node whose compressed form would not save at least 8 bytes). A
//! node that did not pay remembers it (`tried`) until it changes, so it is not
//! compressed again for nothing.
//!
//! Reading a compressed node decompresses into a temporary copy: the read path writes
//! nothing into the keyspace (copy-on-write, see DESIGN.md §3).

use std::borrow::Cow;
use std::cell::RefCell;

use super::listpack::Listpack;
use crate::lzf;

/// Nodes smaller than this are not worth compressing (`MIN_COMPRESS_BYTES`).
const MIN_COMPRESS_BYTES: usize = 48;
/// Compression must save at least this many bytes (`MIN_COMPRESS_IMPROVE`).
const MIN_COMPRESS_IMPROVE: usize = 8;
/// Largest compress depth (`COMPRESS_MAX`: a 16-bit field in Valkey).
pub const COMPRESS_MAX: usize = (1 << 16) - 1;

thread_local! {
    /// One compressor per thread: its hash table is too big to build per node.
    static COMPRESSOR: RefCell<lzf::Compressor> = RefCell::new(lzf::Compressor::new());
}

/// A quicklist node.
#[derive(Clone)]
pub enum Node {
    /// Uncompressed; `tried` = compression was attempted since the last change and
    /// did not pay.
    Raw { lp: Listpack, tried: bool },
    /// LZF-compressed listpack bytes.
    Lzf(Box<Compressed>),
}

/// A compressed node: the listpack's bytes through LZF, with what reading it needs.
#[derive(Clone)]
pub struct Compressed {
    data: Box<[u8]>,
    raw_bytes: usize,
    count: usize,
    /// The listpack's size in Valkey's encoding ([`Listpack::valkey_bytes`]).
    valkey_bytes: usize,
}

impl Node {
    /// A raw node holding `lp`.
    pub fn raw(lp: Listpack) -> Node {
        Node::Raw { lp, tried: false }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Node::Raw { lp, .. } => lp.len(),
            Node::Lzf(c) => c.count,
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of the listpack, uncompressed, as Valkey's listpack would be (`node->sz`):
    /// what the node limits compare.
    pub fn bytes(&self) -> usize {
        match self {
            Node::Raw { lp, .. } => lp.valkey_bytes(),
            Node::Lzf(c) => c.valkey_bytes,
        }
    }

    /// Bytes the node occupies as stored (the compressed size when compressed).
    pub fn stored_bytes(&self) -> usize {
        match self {
            Node::Raw { lp, .. } => lp.bytes(),
            Node::Lzf(c) => c.data.len(),
        }
    }

    /// True when compressed.
    pub fn is_compressed(&self) -> bool {
        matches!(self, Node::Lzf(_))
    }

    /// True when compression was attempted and did not pay (DEBUG QUICKLIST's
    /// `attempted_compress`).
    pub fn attempted(&self) -> bool {
        matches!(self, Node::Raw { tried: true, .. })
    }

    /// The elements for reading: borrowed when raw, a decompressed copy otherwise.
    pub fn read(&self) -> Cow<'_, Listpack> {
        match self {
            Node::Raw { lp, .. } => Cow::Borrowed(lp),
            Node::Lzf(c) => Cow::Owned(c.decompress()),
        }
    }

    /// The elements for changing: decompressed in place first; the node counts as
    /// changed (it will be compressed again by the next settle if it is interior).
    pub fn open(&mut self) -> &mut Listpack {
        if let Node::Lzf(c) = self {
            *self = Node::raw(c.decompress());
        }
        match self {
            Node::Raw { lp, tried } => {
                *tried = false;
                lp
            }
            Node::Lzf(_) => unreachable!("decompressed above"),
        }
    }

    /// The raw listpack, consuming the node.
    pub fn into_listpack(self) -> Listpack {
        match self {
            Node::Raw { lp, .. } => lp,
            Node::Lzf(c) => c.decompress(),
        }
    }

    /// Makes the node raw without marking it changed (it moved within `depth` of an end).
    pub fn decompress(&mut self) {
        if let Node::Lzf(c) = self {
            *self = Node::Raw { lp: c.decompress(), tried: false };
        }
    }

    /// Compresses a raw node when that pays and was not already found not to.
    pub fn compress(&mut self) {
        let Node::Raw { lp, tried } = self else { return };
        if *tried {
            return;
        }
        let raw = lp.as_bytes();
        if raw.len() < MIN_COMPRESS_BYTES {
            *tried = true;
            return;
        }
        let mut out = Vec::new();
        // Valkey gives lzf_compress the node's size as the output limit (a smaller one
        // can make liblzf give up earlier), then checks the gain.
        let ok = COMPRESSOR.with(|c| c.borrow_mut().compress(raw, &mut out, raw.len()));
        // Valkey keeps the node raw unless the result is smaller by more than 8 bytes.
        if !ok || out.len() + MIN_COMPRESS_IMPROVE >= raw.len() {
            *tried = true;
            return;
        }
        *self = Node::Lzf(Box::new(Compressed {
            data: out.into_boxed_slice(),
            raw_bytes: raw.len(),
            count: lp.len(),
            valkey_bytes: lp.valkey_bytes(),
        }));
    }
}

impl Compressed {
    fn decompress(&self) -> Listpack {
        let mut out = Vec::with_capacity(self.raw_bytes);
        // The data was produced by our own compressor from exactly `raw_bytes` bytes.
        if lzf::decompress(&self.data, &mut out, self.raw_bytes).is_err() {
            unreachable!("a quicklist node's own LZF data does not decompress");
        }
        Listpack::from_parts(out, self.count)
    }
}

/// Brings nodes to the compression state `depth` asks for: the `depth` nodes at each end
/// raw, the others compressed. `all` checks every node (after a change in the middle);
/// otherwise only the nodes near the ends, where pushes, pops and trims move the
/// boundary.
pub fn settle(nodes: &mut std::collections::VecDeque<Node>, depth: usize, all: bool) {
    let len = nodes.len();
    if depth == 0 {
        return;
    }
    if len <= depth * 2 {
        // Too short to have an interior: everything raw.
        nodes.iter_mut().for_each(Node::decompress);
        return;
    }
    let fix = |i: usize, nodes: &mut std::collections::VecDeque<Node>| {
        if i < depth || i >= len - depth {
            nodes[i].decompress();
        } else {
            nodes[i].compress();
        }
    };
    if all {
        for i in 0..len {
            fix(i, nodes);
        }
    } else {
        // The ends and the first interior node on each side (the one a push moved in).
        for i in (0..=depth).chain(len - depth - 1..len) {
            fix(i, nodes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn node_of(items: &[&str]) -> Node {
        let mut lp = Listpack::new();
        for i in items {
            lp.push_back(i.as_bytes());
        }
        Node::raw(lp)
    }

    #[test]
    fn compresses_when_it_pays_and_reads_back() {
        let long: Vec<String> = (0..50).map(|_| "aaaaaaaaaaaaaaaaaaaa".to_string()).collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        let mut n = node_of(&refs);
        let bytes = n.bytes();
        n.compress();
        assert!(n.is_compressed());
        assert!(n.stored_bytes() < bytes);
        assert_eq!(n.bytes(), bytes);
        assert_eq!(n.len(), 50);
        assert_eq!(n.read().iter().count(), 50);
        n.open().push_back(b"x");
        assert!(!n.is_compressed());
        assert_eq!(n.len(), 51);
    }

    #[test]
    fn small_or_incompressible_nodes_stay_raw() {
        let mut n = node_of(&["a", "b"]);
        n.compress();
        assert!(!n.is_compressed() && n.attempted());
    }

    #[test]
    fn settle_keeps_the_ends_raw() {
        let big: Vec<&str> = vec!["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"; 10];
        let mut nodes: VecDeque<Node> = (0..6).map(|_| node_of(&big)).collect();
        settle(&mut nodes, 2, true);
        let state: Vec<bool> = nodes.iter().map(Node::is_compressed).collect();
        assert_eq!(state, [false, false, true, true, false, false]);
        nodes.pop_front();
        settle(&mut nodes, 2, false);
        let state: Vec<bool> = nodes.iter().map(Node::is_compressed).collect();
        assert_eq!(state, [false, false, true, false, false]);
        nodes.truncate(4);
        settle(&mut nodes, 2, false);
        assert!(nodes.iter().all(|n| !n.is_compressed()));
    }
}
