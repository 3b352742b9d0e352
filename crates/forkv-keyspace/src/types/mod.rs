//! The collection types and their memory-compact encodings.
//!
//! Each type has a small encoding for small values and a big one past a threshold, as
//! Valkey does (`OBJECT ENCODING` reports which one is in use):
//!
//! | type | small                          | big                                   |
//! |------|--------------------------------|---------------------------------------|
//! | list | `listpack` (one packed buffer) | `quicklist` (a deque of packed nodes) |
//! | hash | `listpack` (field, value, ...) | `hashtable` ([`Dict`](crate::Dict))   |
//! | set  | `intset` / `listpack`          | `hashtable`                           |
//! | zset | `listpack` (score+member)      | `skiplist` (dict + order-statistic tree) |
//!
//! The thresholds come from [`EncodingLimits`], which the [`Keyspace`](crate::Keyspace)
//! owns and the host keeps in sync with CONFIG. Conversions happen only on writes.

pub mod hash;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod ostree;
pub mod qlnode;
pub mod set;
pub mod stream;

/// Size thresholds for the compact encodings, with Valkey's defaults.
///
/// The host sets them from the `*-max-listpack-*` / `set-max-intset-entries` /
/// `list-max-listpack-size` configuration directives
/// ([`Keyspace::set_encoding_limits`](crate::Keyspace::set_encoding_limits)). They apply
/// to values as they are written; existing values are not re-encoded when they change
/// (Valkey behaves the same way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `list-max-listpack-size`: negative = bytes per node (-1 4 KB, -2 8 KB, -3 16 KB,
    /// -4 32 KB, -5 64 KB), positive = entries per node.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth`: quicklist nodes kept uncompressed at each end; the nodes
    /// between are LZF-compressed (0 = none). A list keeps the depth it was created with.
    pub list_compress_depth: usize,
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`: longest field or value kept packed.
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// `set-max-listpack-entries`.
    pub set_max_listpack_entries: usize,
    /// `set-max-listpack-value`.
    pub set_max_listpack_value: usize,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: usize,
    /// `stream-node-max-bytes` and `stream-node-max-entries`.
    pub stream: stream::StreamLimits,
    /// List elements at least this big get a quicklist node of their own (Valkey's
    /// "plain" nodes, `packed_threshold`; set by DEBUG QUICKLIST-PACKED-THRESHOLD).
    pub list_packed_threshold: usize,
}

impl Default for EncodingLimits {
    /// Valkey's compiled-in defaults (`config.c`; note `hash-max-listpack-entries` is
    /// 512 there, although the sample valkey.conf mentions 128).
    fn default() -> Self {
        EncodingLimits {
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream: stream::StreamLimits::default(),
            list_packed_threshold: DEFAULT_PACKED_THRESHOLD,
        }
    }
}

/// Valkey's default `packed_threshold`: 1 GB.
pub const DEFAULT_PACKED_THRESHOLD: usize = 1 << 30;

/// Node size limits of a list, derived from `list-max-listpack-size`
/// (Valkey's `quicklistNodeLimit`).
#[derive(Clone, Copy, Debug)]
pub struct ListNodeLimit {
    /// Largest node in bytes (`usize::MAX` when the limit is a count).
    pub bytes: usize,
    /// Most entries per node (`usize::MAX` when the limit is a size).
    pub count: usize,
}

/// Size classes for negative `list-max-listpack-size` values.
const LIST_NODE_BYTES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Even a count-limited node is split past this size (Valkey's `SIZE_SAFETY_LIMIT`).
const LIST_SAFETY_BYTES: usize = 8192;

impl EncodingLimits {
    /// True when a list element of `len` bytes is stored alone in its node.
    pub fn list_large(&self, len: usize) -> bool {
        len >= self.list_packed_threshold
    }

    /// The per-node limit for lists.
    pub fn list_node(&self) -> ListNodeLimit {
        let fill = self.list_max_listpack_size;
        if fill >= 0 {
            ListNodeLimit {
                bytes: usize::MAX,
                count: if fill == 0 { 1 } else { fill as usize },
            }
        } else {
            let i = ((-fill - 1) as usize).min(LIST_NODE_BYTES.len() - 1);
            ListNodeLimit {
                bytes: LIST_NODE_BYTES[i],
                count: usize::MAX,
            }
        }
    }
}

impl ListNodeLimit {
    /// True when a node of `bytes` bytes and `count` entries is over the limit
    /// (Valkey's `quicklistNodeExceedsLimit`).
    pub fn exceeded(&self, bytes: usize, count: usize) -> bool {
        if self.bytes != usize::MAX {
            bytes > self.bytes
        } else {
            bytes > LIST_SAFETY_BYTES || count > self.count
        }
    }
}

/// Resolves a possibly negative index against a length: `Some(0..len)` or None.
pub fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// Clamps a `start..=end` range with negative indexes (LRANGE/ZRANGE rules): None when
/// the range is empty.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut s = if start < 0 {
        llen.saturating_add(start)
    } else {
        start
    };
    let mut e = if end < 0 {
        llen.saturating_add(end)
    } else {
        end
    };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= llen {
        return None;
    }
    if e >= llen {
        e = llen - 1;
    }
    Some((s as usize, e as usize))
}
