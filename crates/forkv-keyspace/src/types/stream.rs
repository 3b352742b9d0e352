//! The stream type (Valkey `t_stream.c`, `stream.h`).
//!
//! Shape, as in Valkey: an ordered map (Valkey: a radix tree keyed by the 128-bit
//! big-endian ID) from a node's *master ID* to a node. A node is what Valkey packs in one
//! listpack: a *master entry* (the field names of the first entry added to it, used to
//! compress later entries with the same fields) and the entries, each with a deleted flag.
//! A node is closed when it reaches `stream-node-max-entries` entries (live plus deleted)
//! or when its listpack size would reach `stream-node-max-bytes`, so approximate trimming
//! (`MAXLEN ~`, `MINID ~`), which only drops whole nodes, trims what Valkey would trim.
//! Entries are marked deleted rather than removed (XDEL, exact trimming) and a node goes
//! when its last live entry does, also as in Valkey; RDB files carry the nodes one to one.
//!
//! Consumer groups hold a pending entries list (PEL) of delivered, unacknowledged IDs,
//! each owned by one consumer; the consumer keeps the set of IDs it owns.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::value::Bytes;

/// A stream entry ID: milliseconds and sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// `18446744073709551615-18446744073709551615`.
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    /// A new ID.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, or `None` after the maximum (Valkey's `streamIncrID`).
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID, or `None` before `0-0` (Valkey's `streamDecrID`).
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// True for `0-0`.
    pub fn is_zero(self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The `<ms>-<seq>` form.
    pub fn to_bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Valkey's `SCG_INVALID_ENTRIES_READ`: the group's read counter is unknown.
pub const ENTRIES_READ_INVALID: i64 = -1;

/// Node size limits (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamLimits {
    /// Listpack bytes per node; 0 = no limit (capped at 1 GiB as in Valkey).
    pub node_max_bytes: usize,
    /// Entries (live and deleted) per node; 0 = no limit.
    pub node_max_entries: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits { node_max_bytes: 4096, node_max_entries: 100 }
    }
}

/// Valkey's `STREAM_LISTPACK_MAX_SIZE`.
pub const NODE_MAX_SIZE: usize = 1 << 30;

/// One entry of a node.
pub struct NodeEntry {
    pub id: StreamId,
    /// Marked deleted (XDEL or exact trimming); kept until the node goes.
    pub deleted: bool,
    /// The field names, or `None` when they are the master entry's (SAMEFIELDS).
    pub fields: Option<Vec<Bytes>>,
    pub values: Vec<Bytes>,
}

/// A node: what Valkey stores in one listpack.
pub struct Node {
    /// The field names of the master entry.
    pub master_fields: Vec<Bytes>,
    /// Entries in ID order, deleted ones included.
    pub entries: Vec<NodeEntry>,
    /// Live entries.
    pub live: usize,
    /// Size of the node's listpack in Valkey's encoding.
    bytes: usize,
}

impl Node {
    /// Field names of an entry of this node.
    pub fn fields_of<'a>(&'a self, e: &'a NodeEntry) -> &'a [Bytes] {
        e.fields.as_deref().unwrap_or(&self.master_fields)
    }

    /// Entries marked deleted.
    pub fn deleted(&self) -> usize {
        self.entries.len() - self.live
    }
}

/// A live entry as seen by readers.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    node: &'a Node,
    entry: &'a NodeEntry,
}

impl<'a> EntryRef<'a> {
    /// Number of field/value pairs.
    pub fn len(&self) -> usize {
        self.entry.values.len()
    }

    /// True for an entry without fields (never created by XADD).
    pub fn is_empty(&self) -> bool {
        self.entry.values.is_empty()
    }

    /// The field/value pairs in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let fields = self.node.fields_of(self.entry);
        fields.iter().zip(self.entry.values.iter()).map(|(f, v)| (&f[..], &v[..]))
    }
}

/// A pending entry: delivered to `consumer` and not acknowledged yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    /// Last delivery, ms since the epoch.
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Bytes,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consumer {
    /// Last time it tried anything (ms).
    pub seen_time: i64,
    /// Last successful interaction (ms), -1 when never.
    pub active_time: i64,
    /// IDs it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter, [`ENTRIES_READ_INVALID`] when unknown.
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    /// By name, in byte order (Valkey's rax order).
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    /// A group that last delivered `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }

    /// Creates a consumer; false when it exists.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(name.into(), Consumer { seen_time: now, active_time: -1, pel: BTreeSet::new() });
        true
    }

    /// Deletes a consumer and its pending entries; returns how many it had, or `None`.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Acknowledges one ID; true when it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Makes `consumer` (which must exist) the owner of pending `id`, creating the
    /// PEL entry with `time`/`count` when absent. Returns the entry.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: i64, count: u64) -> &mut Nack {
        if let Some(old) = self.pel.get(&id).map(|n| n.consumer.clone()) {
            if *old != *consumer {
                if let Some(c) = self.consumers.get_mut(&old) {
                    c.pel.remove(&id);
                }
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
        let nack = self.pel.entry(id).or_insert_with(|| Nack { delivery_time: time, delivery_count: count, consumer: consumer.into() });
        if *nack.consumer != *consumer {
            nack.consumer = consumer.into();
        }
        nack
    }
}

/// The `<ms>-<seq>` reasons an append fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The ID is not greater than the last one (or the sequence would overflow).
    IdTooSmall,
    /// Elements too large for a listpack.
    TooLarge,
}

/// How to trim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries with IDs below this one.
    MinId(StreamId),
}

/// A stream.
pub struct StreamValue {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    /// The last ID ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live ID (0-0 when empty).
    pub first_id: StreamId,
    /// The greatest ID ever deleted by XDEL (or set by XSETID).
    pub max_deleted_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Groups by name, in byte order.
    pub groups: BTreeMap<Bytes, Group>,
}

impl Default for StreamValue {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes of a listpack integer entry (encoding + backlen).
fn lp_int_size(v: i64) -> usize {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if i16::try_from(v).is_ok() {
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        4
    } else if i32::try_from(v).is_ok() {
        5
    } else {
        9
    };
    enc + backlen_size(enc)
}

fn backlen_size(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2_097_151 => 3,
        2_097_152..=268_435_455 => 4,
        _ => 5,
    }
}

/// Bytes of a listpack entry holding `b` (integers are stored as integers).
pub fn lp_entry_size(b: &[u8]) -> usize {
    if b.len() <= 20 {
        if let Some(v) = crate::value::parse_canonical_i64(b) {
            return lp_int_size(v);
        }
    }
    let enc = match b.len() {
        0..=63 => 1 + b.len(),
        64..=4095 => 2 + b.len(),
        n => 5 + n,
    };
    enc + backlen_size(enc)
}

/// Listpack header and end byte.
const LP_OVERHEAD: usize = 7;

impl StreamValue {
    /// An empty stream.
    pub fn new() -> StreamValue {
        StreamValue {
            nodes: BTreeMap::new(),
            length: 0,
            last_id: StreamId::MIN,
            first_id: StreamId::MIN,
            max_deleted_id: StreamId::MIN,
            entries_added: 0,
            groups: BTreeMap::new(),
        }
    }

    /// Live entries.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// True without live entries.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Number of nodes (Valkey's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes by master ID (for the RDB writer).
    pub fn nodes(&self) -> impl Iterator<Item = (&StreamId, &Node)> {
        self.nodes.iter()
    }

    /// The ID XADD generates for `*` (`ms` = None) or `<ms>-*` at time `now`.
    pub fn next_id(&self, ms: Option<u64>, now: u64) -> Result<StreamId, AppendError> {
        match ms {
            None => {
                if now > self.last_id.ms {
                    Ok(StreamId::new(now, 0))
                } else {
                    self.last_id.incr().ok_or(AppendError::IdTooSmall)
                }
            }
            Some(ms) => {
                if ms == self.last_id.ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AppendError::IdTooSmall);
                    }
                    Ok(StreamId::new(ms, self.last_id.seq + 1))
                } else {
                    Ok(StreamId::new(ms, 0))
                }
            }
        }
    }

    /// Appends an entry with ID `id` and `pairs` (field, value, field, value ...).
    pub fn append(&mut self, id: StreamId, pairs: &[&[u8]], limits: StreamLimits) -> Result<(), AppendError> {
        if id <= self.last_id {
            return Err(AppendError::IdTooSmall);
        }
        let total: usize = pairs.iter().map(|p| p.len()).sum();
        if total > NODE_MAX_SIZE {
            return Err(AppendError::TooLarge);
        }
        let fields: Vec<&[u8]> = pairs.iter().step_by(2).copied().collect();
        let max_bytes = match limits.node_max_bytes {
            0 => NODE_MAX_SIZE,
            n => n.min(NODE_MAX_SIZE),
        };
        let full = match self.nodes.last_key_value() {
            None => true,
            Some((_, node)) => {
                node.bytes + total >= max_bytes
                    || (limits.node_max_entries != 0 && node.entries.len() >= limits.node_max_entries)
            }
        };
        if full {
            let master_fields: Vec<Bytes> = fields.iter().map(|f| Bytes::from(*f)).collect();
            // count, deleted, num-fields, the fields, the zero terminator.
            let bytes = LP_OVERHEAD
                + lp_int_size(1)
                + lp_int_size(0)
                + lp_int_size(fields.len() as i64)
                + fields.iter().map(|f| lp_entry_size(f)).sum::<usize>()
                + lp_int_size(0);
            self.nodes.insert(id, Node { master_fields, entries: Vec::new(), live: 0, bytes });
        }
        let Some((master, node)) = self.nodes.iter_mut().next_back() else {
            return Err(AppendError::TooLarge);
        };
        let master = *master;
        let same = node.master_fields.len() == fields.len()
            && node.master_fields.iter().zip(&fields).all(|(a, b)| **a == **b);
        let values: Vec<Bytes> = pairs.iter().skip(1).step_by(2).map(|v| Bytes::from(*v)).collect();
        let mut size = lp_int_size(if same { 2 } else { 0 })
            + lp_int_size(id.ms.wrapping_sub(master.ms) as i64)
            + lp_int_size(id.seq.wrapping_sub(master.seq) as i64)
            + values.iter().map(|v| lp_entry_size(v)).sum::<usize>();
        let mut lp_count = fields.len() + 3;
        if !same {
            size += lp_int_size(fields.len() as i64) + fields.iter().map(|f| lp_entry_size(f)).sum::<usize>();
            lp_count += fields.len() + 1;
        }
        size += lp_int_size(lp_count as i64);
        node.bytes += size;
        node.entries.push(NodeEntry {
            id,
            deleted: false,
            fields: (!same).then(|| fields.iter().map(|f| Bytes::from(*f)).collect()),
            values,
        });
        node.live += 1;
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(())
    }

    /// Live entries with `start <= id <= end`, ascending or (rev) descending.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool) -> Box<dyn Iterator<Item = EntryRef<'_>> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        // The node holding `start` begins at or before it.
        let first_key = self.nodes.range(..=start).next_back().map_or(start, |(k, _)| *k);
        let nodes = self.nodes.range(first_key..=end);
        fn live(node: &Node, start: StreamId, end: StreamId) -> impl DoubleEndedIterator<Item = &NodeEntry> {
            node.entries.iter().filter(move |e| !e.deleted && e.id >= start && e.id <= end)
        }
        if rev {
            Box::new(nodes.rev().flat_map(move |(_, node)| {
                live(node, start, end).rev().map(move |entry| EntryRef { id: entry.id, node, entry })
            }))
        } else {
            Box::new(nodes.flat_map(move |(_, node)| live(node, start, end).map(move |entry| EntryRef { id: entry.id, node, entry })))
        }
    }

    /// The live entry with this ID.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        self.range(id, id, false).next()
    }

    /// The first live ID.
    pub fn first_live_id(&self) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, false).next().map(|e| e.id)
    }

    /// The last live ID (Valkey's `streamLastValidID`).
    pub fn last_live_id(&self) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, true).next().map(|e| e.id)
    }

    /// The first ID including deleted entries (`streamGetEdgeID(s,1,0)`): what `MINID ~`
    /// is rewritten to; 0-0... is `MAX` when there are no entries.
    pub fn first_id_with_tombstones(&self) -> StreamId {
        self.nodes.values().next().and_then(|n| n.entries.first()).map_or(StreamId::MAX, |e| e.id)
    }

    /// Marks one live entry deleted (removing its node when it was the last live one).
    /// Does not update `first_id`/`max_deleted_id` (see [`StreamValue::xdel`]).
    fn delete_one(&mut self, id: StreamId) -> bool {
        let Some((&key, _)) = self.nodes.range(..=id).next_back() else {
            return false;
        };
        let Some(node) = self.nodes.get_mut(&key) else {
            return false;
        };
        let Ok(i) = node.entries.binary_search_by(|e| e.id.cmp(&id)) else {
            return false;
        };
        let Some(e) = node.entries.get_mut(i) else {
            return false;
        };
        if e.deleted {
            return false;
        }
        if node.live == 1 {
            self.nodes.remove(&key);
        } else {
            e.deleted = true;
            node.live -= 1;
        }
        self.length -= 1;
        true
    }

    /// XDEL: deletes the given IDs; returns how many existed.
    pub fn xdel(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_gone = false;
        for &id in ids {
            if self.delete_one(id) {
                if id == self.first_id {
                    first_gone = true;
                }
                if id > self.max_deleted_id {
                    self.max_deleted_id = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first_gone {
                self.first_id = self.first_live_id().unwrap_or(StreamId::MAX);
            }
        }
        deleted
    }

    /// Trims from the head (Valkey's `streamTrim`); `limit` 0 = unlimited. Returns the
    /// number of entries removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        while let Some(mut entry) = self.nodes.first_entry() {
            if let Trim::MaxLen(max) = how {
                if self.length <= max {
                    break;
                }
            }
            let node = entry.get_mut();
            let entries = node.live as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => node.entries.last().is_some_and(|e| e.id < min),
            };
            if remove_node {
                entry.remove();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            for e in node.entries.iter_mut() {
                let stop = match how {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    e.deleted = true;
                    node.live -= 1;
                    self.length -= 1;
                    deleted += 1;
                }
            }
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.first_live_id().unwrap_or(StreamId::MAX);
        }
        deleted
    }

    /// True when `start..=end` may hold a tombstone (`streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// The logical read counter of `id` when it can be known
    /// (`streamEstimateDistanceFromFirstEverEntry`), else [`ENTRIES_READ_INVALID`].
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return added;
        }
        if id == self.last_id {
            return added;
        }
        if id > self.last_id {
            return ENTRIES_READ_INVALID;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return added - self.length as i64;
            }
            if id == self.first_id {
                return added - self.length as i64 + 1;
            }
        }
        ENTRIES_READ_INVALID
    }

    /// A group's lag (`streamReplyWithCGLag`), `None` when unknown.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_INVALID && !self.range_has_tombstones(g.last_id, StreamId::MAX) {
            return Some(added - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != ENTRIES_READ_INVALID).then_some(added - read)
    }

    /// Records that `group` delivered `id` (greater than its last ID): advances its
    /// last ID and read counter as Valkey 8.0's `streamReplyWithRange` does: the counter
    /// is incremented unless a tombstone may lie at or after `id` (later versions check
    /// from the group's last ID instead, and read another entries-read/lag for it).
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let valid_read = {
            let Some(g) = self.groups.get(name) else {
                return;
            };
            g.entries_read != ENTRIES_READ_INVALID && !self.range_has_tombstones(id, StreamId::MAX)
        };
        let estimate = if valid_read || self.entries_added == 0 { None } else { Some(self.estimate_distance(id)) };
        if let Some(g) = self.groups.get_mut(name) {
            if valid_read {
                g.entries_read += 1;
            } else if let Some(e) = estimate {
                g.entries_read = e;
            }
            g.last_id = id;
        }
    }

    /// Rebuilds a stream from its parts (RDB load): nodes in order, then metadata.
    pub fn push_loaded_entry(&mut self, master: StreamId, master_fields: &[Bytes], entry: NodeEntry) {
        let node = self.nodes.entry(master).or_insert_with(|| Node {
            master_fields: master_fields.to_vec(),
            entries: Vec::new(),
            live: 0,
            bytes: LP_OVERHEAD
                + lp_int_size(1)
                + lp_int_size(0)
                + lp_int_size(master_fields.len() as i64)
                + master_fields.iter().map(|f| lp_entry_size(f)).sum::<usize>()
                + lp_int_size(0),
        });
        let same = entry.fields.is_none();
        let nf = entry.values.len();
        let mut size = lp_int_size(if same { 2 } else { 0 })
            + lp_int_size(entry.id.ms.wrapping_sub(master.ms) as i64)
            + lp_int_size(entry.id.seq.wrapping_sub(master.seq) as i64)
            + entry.values.iter().map(|v| lp_entry_size(v)).sum::<usize>()
            + lp_int_size((nf + 3 + if same { 0 } else { nf + 1 }) as i64);
        if let Some(f) = &entry.fields {
            size += lp_int_size(f.len() as i64) + f.iter().map(|x| lp_entry_size(x)).sum::<usize>();
        }
        node.bytes += size;
        if !entry.deleted {
            node.live += 1;
            self.length += 1;
        }
        node.entries.push(entry);
    }

    /// Drops nodes without live entries (a loaded file may have them).
    pub fn finish_load(&mut self) {
        self.nodes.retain(|_, n| n.live > 0);
    }

    /// A deep copy (COPY).
    pub fn duplicate(&self) -> StreamValue {
        let nodes = self
            .nodes
            .iter()
            .map(|(k, n)| {
                let entries = n
                    .entries
                    .iter()
                    .map(|e| NodeEntry { id: e.id, deleted: e.deleted, fields: e.fields.clone(), values: e.values.clone() })
                    .collect();
                (*k, Node { master_fields: n.master_fields.clone(), entries, live: n.live, bytes: n.bytes })
            })
            .collect();
        StreamValue {
            nodes,
            length: self.length,
            last_id: self.last_id,
            first_id: self.first_id,
            max_deleted_id: self.max_deleted_id,
            entries_added: self.entries_added,
            groups: self.groups.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut StreamValue, ms: u64, seq: u64, pairs: &[&[u8]], lim: StreamLimits) {
        s.append(StreamId::new(ms, seq), pairs, lim).expect("append");
    }

    #[test]
    fn nodes_close_at_the_entry_limit_and_trim_drops_whole_nodes() {
        let lim = StreamLimits { node_max_bytes: 0, node_max_entries: 10 };
        let mut s = StreamValue::new();
        for i in 1..=100 {
            add(&mut s, i, 0, &[b"f", b"v"], lim);
        }
        assert_eq!(s.node_count(), 10);
        // ~ 55: only whole nodes of 10 go, keeping at least 55.
        assert_eq!(s.trim(Trim::MaxLen(55), true, 0), 40);
        assert_eq!(s.len(), 60);
        assert_eq!(s.first_id, StreamId::new(41, 0));
        // Exact trimming marks entries inside the head node.
        assert_eq!(s.trim(Trim::MaxLen(55), false, 0), 5);
        assert_eq!(s.first_id, StreamId::new(46, 0));
        assert_eq!(s.range(StreamId::MIN, StreamId::MAX, false).count(), 55);
        assert_eq!(s.trim(Trim::MinId(StreamId::new(60, 0)), false, 0), 14);
        assert_eq!(s.len(), 41);
    }

    #[test]
    fn nodes_close_at_the_byte_limit() {
        let lim = StreamLimits { node_max_bytes: 100, node_max_entries: 0 };
        let mut s = StreamValue::new();
        for i in 1..=10 {
            add(&mut s, i, 0, &[b"field", &[b'x'; 40]], lim);
        }
        assert!(s.node_count() >= 5, "{}", s.node_count());
    }

    #[test]
    fn xdel_tracks_first_and_max_deleted_and_ranges_skip_tombstones() {
        let lim = StreamLimits::default();
        let mut s = StreamValue::new();
        for i in 1..=5 {
            add(&mut s, i, 0, &[b"a", b"1", b"b", b"2"], lim);
        }
        add(&mut s, 6, 0, &[b"other", b"x"], lim);
        assert_eq!(s.xdel(&[StreamId::new(1, 0), StreamId::new(3, 0), StreamId::new(9, 0)]), 2);
        assert_eq!(s.first_id, StreamId::new(2, 0));
        assert_eq!(s.max_deleted_id, StreamId::new(3, 0));
        let ids: Vec<u64> = s.range(StreamId::MIN, StreamId::MAX, true).map(|e| e.id.ms).collect();
        assert_eq!(ids, vec![6, 5, 4, 2]);
        let last = s.get(StreamId::new(6, 0)).map(|e| e.pairs().map(|(f, v)| (f.to_vec(), v.to_vec())).collect::<Vec<_>>());
        assert_eq!(last, Some(vec![(b"other".to_vec(), b"x".to_vec())]));
        assert_eq!(s.xdel(&[StreamId::new(2, 0), StreamId::new(4, 0), StreamId::new(5, 0), StreamId::new(6, 0)]), 4);
        assert_eq!(s.node_count(), 0);
        assert_eq!(s.first_id, StreamId::MIN);
    }

    #[test]
    fn ids_are_generated_like_valkey() {
        let mut s = StreamValue::new();
        assert_eq!(s.next_id(None, 5), Ok(StreamId::new(5, 0)));
        add(&mut s, 5, 3, &[b"a", b"b"], StreamLimits::default());
        assert_eq!(s.next_id(None, 4), Ok(StreamId::new(5, 4)));
        assert_eq!(s.next_id(Some(5), 0), Ok(StreamId::new(5, 4)));
        assert_eq!(s.next_id(Some(7), 0), Ok(StreamId::new(7, 0)));
        assert_eq!(s.append(StreamId::new(5, 3), &[b"a", b"b"], StreamLimits::default()), Err(AppendError::IdTooSmall));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(1, 0).decr(), Some(StreamId::new(0, u64::MAX)));
    }

    #[test]
    fn listpack_sizes_follow_the_encoding() {
        assert_eq!(lp_entry_size(b"12"), 2);
        assert_eq!(lp_entry_size(b"abc"), 5);
        assert_eq!(lp_entry_size(&[b'x'; 100]), 103);
    }
}
