//! `Dict`: a chained hash table with incremental rehashing, after Valkey's `dict.c`.
//!
//! Why not `std::collections::HashMap`:
//! - it grows all at once: an O(n) stall on the event loop, and while a fork child is
//!   alive every entry it moves dirties a page that the kernel must then copy;
//! - SCAN needs a cursor that survives growth and shrinking between calls, which the
//!   reverse-binary cursor below gives (every element present for the whole scan is
//!   returned at least once).
//!
//! The table is two arrays of bucket chains. A resize allocates the second array and
//! moves one bucket per write operation (or a bounded batch from the cron), so no single
//! call pays for the whole table. Reads never move anything: the read path must not write
//! to memory a fork child shares with us.
//!
//! [`ResizePolicy`] mirrors Valkey's `dict_can_resize`: `Avoid` while a child exists (grow
//! only when chains get long), `Forbid` when growth must not happen at all.
//!
//! Keys are byte strings stored inside the entry (see [`entry`]): one allocation per key
//! holds its chain link, value, metadata and the key itself, and a bucket is one pointer.
//! A short string value may be packed into the entry too: tables of such values hand out
//! [`VRef`]s (`get_ref`, `iter_ref`, ...); tables of [`Plain`] values plain references.

mod entry;

use std::hash::BuildHasher;

use entry::EntryBox;
pub use entry::{EntryTail, Plain, VRef};

/// When the table may start a resize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizePolicy {
    /// Grow at load factor 1, shrink below 1/8.
    Enable,
    /// A fork child exists: grow only past load factor 4, shrink only below 1/32.
    Avoid,
    /// Never start a resize (a running one still progresses).
    Forbid,
}

/// Load factor at which growth is forced even under `ResizePolicy::Avoid` (Valkey: 4).
const FORCE_RESIZE_RATIO: usize = 4;
/// Smallest non-empty table.
const INITIAL_SIZE: usize = 4;
/// Empty buckets a single rehash step may visit before giving up (Valkey: 10 per bucket).
const EMPTY_VISITS_PER_STEP: usize = 10;

type Chain<V, M> = entry::Link<V, M>;

/// Longest key (or field, or member) a table holds: an entry stores its key's length in
/// 32 bits to keep the header small. Only reachable with `proto-max-bulk-len` set above
/// 4 GB (Valkey's default is 512 MB).
pub const MAX_KEY_LEN: usize = u32::MAX as usize;

/// A key longer than [`MAX_KEY_LEN`] was refused; nothing was allocated or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyTooLong;

impl KeyTooLong {
    /// Refuses `key` when it is longer than [`MAX_KEY_LEN`].
    pub fn check(key: &[u8]) -> Result<(), KeyTooLong> {
        if key.len() > MAX_KEY_LEN { Err(KeyTooLong) } else { Ok(()) }
    }
}

impl std::fmt::Display for KeyTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("key longer than 4 GB")
    }
}

impl std::error::Error for KeyTooLong {}

struct Table<V: EntryTail, M> {
    buckets: Vec<Chain<V, M>>,
    used: usize,
}

/// The entries of a chain, first to last.
fn chain_iter<V: EntryTail, M>(chain: &Chain<V, M>) -> impl Iterator<Item = &EntryBox<V, M>> {
    std::iter::successors(chain.as_ref(), |e| e.prefix().next.as_ref())
}

/// Chain lengths of a table as `DEBUG HTSTATS ... full` shows them (Valkey's
/// `dictGetStatsMsg`: lengths of 49 and more share the last slot).
fn chain_stats<V: EntryTail, M>(table: &Table<V, M>) -> String {
    const VECTLEN: usize = 50;
    let mut lengths = [0usize; VECTLEN];
    let (mut slots, mut max_chain, mut total_chain) = (0usize, 0usize, 0usize);
    for bucket in &table.buckets {
        let len = chain_iter(bucket).count();
        lengths[len.min(VECTLEN - 1)] += 1;
        if len > 0 {
            slots += 1;
            max_chain = max_chain.max(len);
            total_chain += len;
        }
    }
    let size = table.buckets.len().max(1) as f64;
    let per_slot = |n: usize| if slots == 0 { 0.0 } else { n as f64 / slots as f64 };
    let mut out = format!(
        " different slots: {slots}\n max chain length: {max_chain}\n avg chain length (counted): {:.2}\n avg chain length (computed): {:.2}\n Chain length distribution:\n",
        per_slot(total_chain),
        per_slot(table.used)
    );
    for (len, &n) in lengths.iter().enumerate().take(VECTLEN - 1) {
        if n > 0 {
            out.push_str(&format!("   {len}: {n} ({:.2}%)\n", n as f64 * 100.0 / size));
        }
    }
    out
}

impl<V: EntryTail, M> Table<V, M> {
    fn empty() -> Self {
        Table {
            buckets: Vec::new(),
            used: 0,
        }
    }

    fn with_size(size: usize) -> Self {
        let mut buckets = Vec::with_capacity(size);
        buckets.resize_with(size, || None);
        Table { buckets, used: 0 }
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }
}

/// A hash table keyed by byte strings with incremental rehashing and a resize-safe scan
/// cursor.
pub struct Dict<V: EntryTail, M = ()> {
    tables: [Table<V, M>; 2],
    /// Sum of the key lengths of all entries (the entries' allocation sizes follow from it).
    key_bytes: usize,
    /// Entries in the packed layout (their header is smaller; see [`entry`]).
    packed: usize,
    /// `Some(i)`: moving table 0 into table 1; buckets below `i` are already moved.
    rehash_idx: Option<usize>,
    hasher: foldhash::fast::FixedState,
    policy: ResizePolicy,
    /// Bytes a growth may allocate before the load factor passes 1.618 (Valkey's
    /// `dictExpandAllowed`: a resize must not itself push the server over `maxmemory`
    /// and cause evictions); `usize::MAX`: no limit.
    grow_budget: usize,
}

impl<V: EntryTail, M: Default> Default for Dict<V, M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: EntryTail, M: Default> Dict<V, M> {
    /// An empty dict; allocates nothing until the first insert.
    pub fn new() -> Self {
        Dict {
            tables: [Table::empty(), Table::empty()],
            key_bytes: 0,
            packed: 0,
            rehash_idx: None,
            hasher: foldhash::fast::FixedState::with_seed(seed()),
            policy: ResizePolicy::Enable,
            grow_budget: usize::MAX,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total buckets across both tables (for memory reporting and tests).
    pub fn bucket_count(&self) -> usize {
        self.tables[0].buckets.len() + self.tables[1].buckets.len()
    }

    /// Bytes of the bucket arrays of both tables (Valkey's `overhead.db.hashtable.lut`).
    pub fn lut_bytes(&self) -> usize {
        self.bucket_count() * std::mem::size_of::<Chain<V, M>>()
    }

    /// Bytes of the bucket array being emptied by a running rehash, 0 when none runs
    /// (Valkey's `overhead.db.hashtable.rehashing`).
    pub fn rehashing_bytes(&self) -> usize {
        if self.rehash_idx.is_some() {
            self.tables[0].buckets.len() * std::mem::size_of::<Chain<V, M>>()
        } else {
            0
        }
    }

    /// Bytes the table itself takes: its header, the bucket arrays and one entry
    /// allocation per key with the key inside it (not what values point to, nor the
    /// bytes of packed values: those count as the values').
    pub fn mem_usage(&self) -> usize {
        let full = self.len() - self.packed;
        std::mem::size_of::<Self>()
            + self.lut_bytes()
            + full * EntryBox::<V, M>::alloc_size(0)
            + self.packed * EntryBox::<V, M>::packed_size(0)
            + self.key_bytes
    }

    /// Bytes of the allocation holding one entry with a key of `key_len` bytes (its header:
    /// chain link, value, metadata and key length; then the key).
    pub fn entry_size(key_len: usize) -> usize {
        EntryBox::<V, M>::alloc_size(key_len)
    }

    /// True while an incremental rehash is in progress.
    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// Sets how many bytes a growth may allocate while the load factor is at most 1.618
    /// (see the `grow_budget` field).
    pub fn set_grow_budget(&mut self, bytes: usize) {
        self.grow_budget = bytes;
    }

    /// Sets when resizes may start (see [`ResizePolicy`]).
    pub fn set_resize_policy(&mut self, policy: ResizePolicy) {
        self.policy = policy;
    }

    fn hash(&self, key: &[u8]) -> usize {
        self.hasher.hash_one(key) as usize
    }

    fn live_tables(&self) -> usize {
        if self.rehash_idx.is_some() {
            2
        } else {
            1
        }
    }

    /// Looks a key up: the stored value, or a view of a packed one. Never moves entries:
    /// safe to call while a fork child shares pages.
    pub fn get_ref(&self, key: &[u8]) -> Option<VRef<'_, V>> {
        self.find(key).map(EntryBox::value)
    }

    /// The entry holding `key`.
    fn find(&self, key: &[u8]) -> Option<&EntryBox<V, M>> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        for t in &self.tables[..self.live_tables()] {
            if t.buckets.is_empty() {
                continue;
            }
            if let Some(e) = chain_iter(&t.buckets[h & t.mask()]).find(|e| e.key() == key) {
                return Some(e);
            }
        }
        None
    }

    /// The entry holding `key`, mutably: the walk [`Dict::get_mut`], [`Dict::meta_mut`]
    /// and [`Dict::insert`] share. It finds which table holds the key first, so that the
    /// mutable walk needs no conditional borrow. Callers hand out the value mutably only
    /// through [`EntryBox::value_mut`] (which unpacks a packed one).
    fn find_mut(&mut self, key: &[u8]) -> Option<&mut EntryBox<V, M>> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        let t = (0..self.live_tables()).find(|&t| {
            let tab = &self.tables[t];
            !tab.buckets.is_empty() && chain_position(&tab.buckets[h & tab.mask()], key).is_some()
        })?;
        let tab = &mut self.tables[t];
        let idx = h & tab.mask();
        let mut cur = tab.buckets[idx].as_mut();
        while let Some(e) = cur {
            if e.key() == key {
                return Some(e);
            }
            cur = e.prefix_mut().next.as_mut();
        }
        None
    }

    /// True when the key is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Mutable lookup. Counts as a write: advances a running rehash by one step.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let e = self.find_mut(key)?;
        // A packed value cannot change size in its entry: the entry is rebuilt with the
        // value owning its bytes before anyone may change it.
        let was_packed = e.is_packed();
        let v: *mut V = e.value_mut();
        if was_packed {
            self.packed -= 1;
        }
        // SAFETY: `v` points into the entry `find_mut` borrowed from `self`, which the
        // returned reference keeps borrowed; only the counter was touched in between.
        Some(unsafe { &mut *v })
    }

    /// The metadata of an entry, read-only.
    pub fn meta(&self, key: &[u8]) -> Option<&M> {
        self.find(key).map(|e| &e.prefix().meta)
    }

    /// A read that records an access: `touch` updates the entry's metadata, then the value
    /// comes back (one lookup where `meta_mut` then `get_ref` take two). Like
    /// [`Dict::meta_mut`], it never advances a rehash: it writes only the entry itself.
    pub fn get_touch(&mut self, key: &[u8], touch: impl FnOnce(&mut M)) -> Option<VRef<'_, V>> {
        let e = self.find_mut(key)?;
        touch(&mut e.prefix_mut().meta);
        Some(e.value())
    }

    /// Mutable access to an entry's metadata. Unlike [`Dict::get_mut`] it never advances a
    /// rehash: it writes only the entry itself.
    pub fn meta_mut(&mut self, key: &[u8]) -> Option<&mut M> {
        self.find_mut(key).map(|e| &mut e.prefix_mut().meta)
    }

    /// Inserts or replaces; returns the previous value when the key existed. A new key
    /// longer than [`MAX_KEY_LEN`] is refused and the table is left unchanged.
    pub fn insert(&mut self, key: &[u8], value: V) -> Result<Option<V>, KeyTooLong> {
        self.put(key, value, |_| true, |_| None).map(|(_, old)| old)
    }

    /// Inserts or replaces, dropping any previous value; true when the key existed.
    /// Unlike [`Dict::insert`], an old value kept in its entry is not copied out first.
    /// `meta` is told whether the key existed and gives the entry's new metadata (`None`:
    /// an existing entry keeps its own, a new one gets the default), so a caller that
    /// sets both needs one lookup, not two.
    pub fn set(&mut self, key: &[u8], value: V, meta: impl FnOnce(bool) -> Option<M>) -> Result<bool, KeyTooLong> {
        self.put(key, value, |_| false, meta).map(|(existed, _)| existed)
    }

    /// [`Dict::set`] that also hands back the old value when `keep_old` says so (given a
    /// look at it): the keyspace keeps a big one to free it on the background thread
    /// (see [`crate::lazyfree`]) and lets a small one be dropped in place.
    pub fn set_keeping(
        &mut self,
        key: &[u8],
        value: V,
        keep_old: impl FnOnce(&V) -> bool,
        meta: impl FnOnce(bool) -> Option<M>,
    ) -> Result<(bool, Option<V>), KeyTooLong> {
        // A packed value is a short string, never worth the background thread.
        self.put(key, value, |old| old.is_some_and(keep_old), meta)
    }

    /// [`Dict::insert`] and [`Dict::set`]: an existing entry gets the new value (which may
    /// be embedded there); the old value comes back when `keep_old` says so, given a look at
    /// it (`None` for a value packed in its entry, which exists only as bytes). The flag is
    /// true when the key existed.
    fn put(
        &mut self,
        key: &[u8],
        value: V,
        keep_old: impl FnOnce(Option<&V>) -> bool,
        meta: impl FnOnce(bool) -> Option<M>,
    ) -> Result<(bool, Option<V>), KeyTooLong> {
        if !self.is_empty() {
            // A write lookup: one step of a running rehash, as `get_mut`.
            self.rehash_step();
            if let Some(e) = self.find_mut(key) {
                let was_packed = e.is_packed();
                let keep = keep_old((!was_packed).then(|| e.full_value()));
                let old = e.set_value(value, keep);
                if let Some(m) = meta(true) {
                    e.prefix_mut().meta = m;
                }
                let now_packed = e.is_packed();
                self.packed = self.packed + usize::from(now_packed) - usize::from(was_packed);
                return Ok((true, old));
            }
        }
        // Checked before `meta` runs: a refused key changes nothing.
        KeyTooLong::check(key)?;
        self.insert_new(key, value, meta(false).unwrap_or_default())?;
        Ok((false, None))
    }

    /// Returns the value for `key`, inserting `make()` when absent.
    /// The flag is true when an insert happened. A new key longer than [`MAX_KEY_LEN`] is
    /// refused (before `make` runs) and the table is left unchanged.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> V,
    ) -> Result<(&mut V, bool), KeyTooLong> {
        let inserted = if self.contains_key(key) {
            false
        } else {
            KeyTooLong::check(key)?;
            self.insert_new(key, make(), M::default())?;
            true
        };
        match self.get_mut(key) {
            Some(v) => Ok((v, inserted)),
            // Unreachable: the key is present after the branch above.
            None => panic!("dict: key vanished after insert"),
        }
    }

    /// Inserts a key known to be absent.
    fn insert_new(&mut self, key: &[u8], value: V, meta: M) -> Result<(), KeyTooLong> {
        let h = self.hash(key);
        self.insert_new_hashed(key, h, value, meta)
    }

    /// Inserts `key` unless it is there: one hash and one walk of its chains, where a
    /// lookup followed by [`Dict::insert`] takes three hashes and two walks (a loader
    /// inserting a million keys that must not repeat). Returns false, dropping `value`
    /// and changing nothing, when the key exists. A key longer than [`MAX_KEY_LEN`] is
    /// refused and the table is left unchanged.
    pub fn insert_if_absent(&mut self, key: &[u8], value: V, meta: M) -> Result<bool, KeyTooLong> {
        let h = self.hash(key);
        let present = self.tables[..self.live_tables()]
            .iter()
            .any(|t| !t.buckets.is_empty() && chain_position(&t.buckets[h & t.mask()], key).is_some());
        if present {
            return Ok(false);
        }
        self.insert_new_hashed(key, h, value, meta)?;
        Ok(true)
    }

    /// [`Dict::insert_new`] with the key's hash already computed.
    fn insert_new_hashed(&mut self, key: &[u8], h: usize, value: V, meta: M) -> Result<(), KeyTooLong> {
        // Checked first: a refused key must not advance a rehash or grow the table.
        KeyTooLong::check(key)?;
        self.rehash_step();
        self.expand_if_needed();
        let t = if self.rehash_idx.is_some() { 1 } else { 0 };
        let tab = &mut self.tables[t];
        let idx = h & tab.mask();
        let next = tab.buckets[idx].take();
        match EntryBox::try_new(key, value, meta, next) {
            Ok(e) => {
                self.packed += usize::from(e.is_packed());
                tab.buckets[idx] = Some(e);
            }
            Err((err, _value, next)) => {
                tab.buckets[idx] = next;
                return Err(err);
            }
        }
        tab.used += 1;
        self.key_bytes += key.len();
        Ok(())
    }

    /// Removes a key; returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        for t in 0..self.live_tables() {
            let tab = &mut self.tables[t];
            if tab.buckets.is_empty() {
                continue;
            }
            let idx = h & tab.mask();
            let Some(pos) = chain_position(&tab.buckets[idx], key) else {
                continue;
            };
            let mut slot = &mut tab.buckets[idx];
            for _ in 0..pos {
                slot = &mut slot.as_mut()?.prefix_mut().next;
            }
            let e = slot.take()?;
            self.packed -= usize::from(e.is_packed());
            let (value, next) = e.into_parts();
            *slot = next;
            tab.used -= 1;
            self.key_bytes -= key.len();
            self.shrink_if_needed();
            return Some(value);
        }
        None
    }

    /// Drops every entry and frees both tables.
    pub fn clear(&mut self) {
        self.tables = [Table::empty(), Table::empty()];
        self.key_bytes = 0;
        self.packed = 0;
        self.rehash_idx = None;
    }

    fn expand_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        let size = self.tables[0].buckets.len();
        if size == 0 {
            self.tables[0] = Table::with_size(INITIAL_SIZE);
            return;
        }
        let used = self.tables[0].used;
        let grow = match self.policy {
            ResizePolicy::Enable => used >= size,
            ResizePolicy::Avoid => used >= size * FORCE_RESIZE_RATIO,
            ResizePolicy::Forbid => false,
        };
        if grow {
            let new_size = (used + 1).next_power_of_two();
            let bytes = new_size.saturating_mul(std::mem::size_of::<Chain<V, M>>());
            // Up to a load factor of 1.618 the table may wait for memory (1618/1000).
            if bytes > self.grow_budget && used * 1000 <= size * 1618 {
                return;
            }
            self.start_resize(new_size);
        }
    }

    /// Sizes an empty table for `n` entries in one allocation (a loader's size hint, as
    /// Valkey's `dictExpand` on RDB's RESIZEDB), so they go in without the incremental
    /// growths, each of which moves every entry once more. A table with entries, a
    /// running rehash, a resize policy other than `Enable` or a growth budget too small
    /// leave it as it is.
    pub fn reserve_empty(&mut self, n: usize) {
        if !self.is_empty() || self.rehash_idx.is_some() || self.policy != ResizePolicy::Enable {
            return;
        }
        let Some(size) = n.max(INITIAL_SIZE).checked_next_power_of_two() else {
            return;
        };
        let bytes = size.saturating_mul(std::mem::size_of::<Chain<V, M>>());
        if size <= self.tables[0].buckets.len() || bytes > self.grow_budget {
            return;
        }
        self.tables[0] = Table::with_size(size);
    }

    /// Starts the resize the load factor calls for, if any (Valkey's `kvstoreTryResizeDicts`
    /// from the cron: a table that grew while a fork child forbade it catches up here,
    /// without waiting for the next insert).
    pub fn resize_if_needed(&mut self) {
        if self.is_empty() {
            return;
        }
        self.expand_if_needed();
        self.shrink_if_needed();
    }

    /// The table part of `DEBUG HTSTATS` (Valkey's `dictGetStats`): per live table its
    /// size and element count, and with `full` its chain statistics. Empty: nothing.
    pub fn stats(&self, full: bool) -> String {
        let mut out = String::new();
        if self.is_empty() {
            return out;
        }
        for t in 0..self.live_tables() {
            let table = &self.tables[t];
            let name = if t == 0 { "main hash table" } else { "rehashing target" };
            out.push_str(&format!(
                "Hash table {t} stats ({name}):\n table size: {}\n number of elements: {}\n",
                table.buckets.len(),
                table.used
            ));
            if full {
                out.push_str(&chain_stats(table));
            }
        }
        out
    }

    /// Starts shrinking when the table has become sparse (called after removals and by cron).
    pub fn shrink_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        let size = self.tables[0].buckets.len();
        let used = self.tables[0].used;
        if size <= INITIAL_SIZE {
            return;
        }
        let shrink = match self.policy {
            ResizePolicy::Enable => used * 8 <= size,
            ResizePolicy::Avoid => used * 32 <= size,
            ResizePolicy::Forbid => false,
        };
        if shrink {
            self.start_resize(used.max(INITIAL_SIZE).next_power_of_two());
        }
    }

    fn start_resize(&mut self, size: usize) {
        if size == self.tables[0].buckets.len() {
            return;
        }
        if self.tables[0].used == 0 {
            self.tables[0] = Table::with_size(size);
            return;
        }
        self.tables[1] = Table::with_size(size);
        self.rehash_idx = Some(0);
    }

    /// Moves up to `n` buckets of a running rehash. Returns true while more work remains.
    pub fn rehash(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n * EMPTY_VISITS_PER_STEP;
        let mut moved = 0;
        while moved < n && self.tables[0].used > 0 {
            while self.tables[0].buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut chain = self.tables[0].buckets[idx].take();
            while let Some(mut e) = chain {
                chain = e.prefix_mut().next.take();
                let h = self.hasher.hash_one(e.key()) as usize;
                let dst = &mut self.tables[1];
                let di = h & dst.mask();
                e.prefix_mut().next = dst.buckets[di].take();
                dst.buckets[di] = Some(e);
                dst.used += 1;
                self.tables[0].used -= 1;
            }
            idx += 1;
            moved += 1;
        }
        if self.tables[0].used == 0 {
            self.tables[0] = std::mem::replace(&mut self.tables[1], Table::empty());
            self.rehash_idx = None;
            // Removals during the rehash may have left the new table sparse already.
            self.shrink_if_needed();
            return self.rehash_idx.is_some();
        }
        self.rehash_idx = Some(idx);
        true
    }

    /// One step of rehashing, done on every write while a resize runs (Valkey's
    /// `_dictRehashStep`). Moving entries dirties pages a fork child shares, so under
    /// `Avoid` it only continues when the old table is badly overloaded (as Valkey's
    /// `dictRehash` checks `dict_force_resize_ratio`), and never under `Forbid`.
    fn rehash_step(&mut self) {
        if self.rehash_idx.is_none() {
            return;
        }
        let go = match self.policy {
            ResizePolicy::Enable => true,
            ResizePolicy::Avoid => {
                let (small, large) = (
                    self.tables[0]
                        .buckets
                        .len()
                        .min(self.tables[1].buckets.len()),
                    self.tables[0]
                        .buckets
                        .len()
                        .max(self.tables[1].buckets.len()),
                );
                small > 0 && large / small > FORCE_RESIZE_RATIO
            }
            ResizePolicy::Forbid => false,
        };
        if go {
            self.rehash(1);
        }
    }

    /// Visits the entries of one cursor position and returns the next cursor (0 = done).
    ///
    /// Reverse-binary iteration (Valkey's `dictScan`): the cursor's high bits are
    /// incremented, so a table that doubled or halved between calls is still covered; an
    /// element present for the whole iteration is returned at least once.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor as usize;
        let visit_bucket = |t: &Table<V, M>, i: usize, visit: &mut dyn FnMut(&[u8], &V)| {
            for e in chain_iter(&t.buckets[i & t.mask()]) {
                visit(e.key(), &e.value());
            }
        };
        if self.rehash_idx.is_none() {
            let t0 = &self.tables[0];
            let m0 = t0.mask();
            visit_bucket(t0, v, &mut visit);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (small, large) = if self.tables[0].buckets.len() <= self.tables[1].buckets.len() {
                (&self.tables[0], &self.tables[1])
            } else {
                (&self.tables[1], &self.tables[0])
            };
            let m0 = small.mask();
            let m1 = large.mask();
            visit_bucket(small, v, &mut visit);
            loop {
                visit_bucket(large, v, &mut visit);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v as u64
    }

    /// A uniformly chosen bucket's random entry (Valkey's `dictGetRandomKey`; like it, not
    /// perfectly uniform across entries). `rand` supplies random numbers.
    pub fn random_entry_ref(&self, rand: impl FnMut() -> u64) -> Option<(&[u8], VRef<'_, V>)> {
        self.random_box(rand).map(|e| (e.key(), e.value()))
    }

    fn random_box(&self, mut rand: impl FnMut() -> u64) -> Option<&EntryBox<V, M>> {
        if self.is_empty() {
            return None;
        }
        let chain = loop {
            let c = match self.rehash_idx {
                Some(done) => {
                    // Buckets of table 0 below `done` are empty; pick among the rest of
                    // table 0 and all of table 1.
                    let s0 = self.tables[0].buckets.len();
                    let s1 = self.tables[1].buckets.len();
                    let span = (s0 - done) + s1;
                    let i = done + (rand() as usize % span);
                    if i >= s0 {
                        &self.tables[1].buckets[i - s0]
                    } else {
                        &self.tables[0].buckets[i]
                    }
                }
                None => {
                    let t = &self.tables[0];
                    &t.buckets[rand() as usize & t.mask()]
                }
            };
            if c.is_some() {
                break c;
            }
        };
        let len = chain_iter(chain).count();
        let pick = rand() as usize % len;
        chain_iter(chain).nth(pick)
    }

    /// A random entry drawn as Valkey's `dictGetFairRandomKey` does: sample up to 20
    /// entries from consecutive buckets at a random start (`dictGetSomeKeys`) and pick
    /// one of them, so an entry's chance does not depend on the length of its chain;
    /// falls back to [`Dict::random_entry`] when the sample is empty. Read-only (no
    /// rehash steps), so it is safe while a fork child exists.
    pub fn fair_random_entry_ref(&self, rand: impl FnMut() -> u64) -> Option<(&[u8], VRef<'_, V>)> {
        self.fair_random_box(rand).map(|e| (e.key(), e.value()))
    }

    fn fair_random_box(&self, mut rand: impl FnMut() -> u64) -> Option<&EntryBox<V, M>> {
        const FAIR_SAMPLE: usize = 20;
        let sample = self.sample_entries(FAIR_SAMPLE, &mut rand);
        if sample.is_empty() {
            return self.random_box(rand);
        }
        Some(sample[rand() as usize % sample.len()])
    }

    /// Up to `count` entries from consecutive buckets at a random start (Valkey's
    /// `dictGetSomeKeys`, which eviction samples with): not uniform, fast, and
    /// read-only (no rehash steps), so it is safe while a fork child exists. Each entry
    /// is given as (key, value, metadata).
    pub fn sample_ref(&self, count: usize, mut rand: impl FnMut() -> u64) -> Vec<(&[u8], VRef<'_, V>, &M)> {
        self.sample_entries(count, &mut rand)
            .into_iter()
            .map(|e| (e.key(), e.value(), &e.prefix().meta))
            .collect()
    }

    fn sample_entries(&self, count: usize, rand: &mut impl FnMut() -> u64) -> Vec<&EntryBox<V, M>> {
        let count = count.min(self.len());
        if count == 0 {
            return Vec::new();
        }
        let mut sample: Vec<&EntryBox<V, M>> = Vec::with_capacity(count);
        let tables = if self.rehash_idx.is_some() { 2 } else { 1 };
        let maxmask = (0..tables)
            .map(|t| self.tables[t].mask())
            .max()
            .unwrap_or(0);
        let mut i = rand() as usize & maxmask;
        let mut empty_run = 0usize;
        let mut steps = count * 10;
        'outer: while sample.len() < count && steps > 0 {
            steps -= 1;
            for j in 0..tables {
                if let (2, 0, Some(done)) = (tables, j, self.rehash_idx) {
                    // Buckets of table 0 below the rehash index are already moved.
                    if i < done {
                        if i >= self.tables[1].buckets.len() {
                            i = done;
                        } else {
                            continue;
                        }
                    }
                }
                let Some(chain) = self.tables[j].buckets.get(i) else {
                    continue;
                };
                match chain {
                    None => {
                        empty_run += 1;
                        if empty_run >= 5 && empty_run > count {
                            i = rand() as usize & maxmask;
                            empty_run = 0;
                        }
                    }
                    Some(_) => {
                        empty_run = 0;
                        for e in chain_iter(chain) {
                            sample.push(e);
                            if sample.len() == count {
                                break 'outer;
                            }
                        }
                    }
                }
            }
            i = (i + 1) & maxmask;
        }
        sample
    }

    /// Iterates every entry without modifying anything (used by the fork child); packed
    /// values come as views.
    pub fn iter_ref(&self) -> IterRef<'_, V, M> {
        IterRef(self.entries())
    }

    fn entries(&self) -> Entries<'_, V, M> {
        Entries {
            dict: self,
            table: 0,
            bucket: 0,
            cur: None,
        }
    }
}

/// Tables of values that never pack hand out plain references.
impl<V: Plain, M: Default> Dict<V, M> {
    /// Looks a key up. Never moves entries: safe to call while a fork child shares pages.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(EntryBox::full_value)
    }

    /// A uniformly chosen bucket's random entry (see [`Dict::random_entry_ref`]).
    pub fn random_entry(&self, rand: impl FnMut() -> u64) -> Option<(&[u8], &V)> {
        self.random_box(rand).map(|e| (e.key(), e.full_value()))
    }

    /// A random entry drawn fairly (see [`Dict::fair_random_entry_ref`]).
    pub fn fair_random_entry(&self, rand: impl FnMut() -> u64) -> Option<(&[u8], &V)> {
        self.fair_random_box(rand).map(|e| (e.key(), e.full_value()))
    }

    /// Up to `count` entries from consecutive buckets (see [`Dict::sample_ref`]).
    pub fn sample(&self, count: usize, mut rand: impl FnMut() -> u64) -> Vec<(&[u8], &V, &M)> {
        self.sample_entries(count, &mut rand)
            .into_iter()
            .map(|e| (e.key(), e.full_value(), &e.prefix().meta))
            .collect()
    }

    /// Iterates every entry without modifying anything (used by the fork child).
    pub fn iter(&self) -> Iter<'_, V, M> {
        Iter(self.entries())
    }
}

/// Starting the loads a lookup will need before it needs them. A lookup in a big table
/// waits on up to three cache misses in a row (the bucket slot, the entry, the key's
/// bytes), each address known only once the previous load arrived. For a pipelined batch
/// the engine calls these three stages over all the batch's keys in turn, so the misses of
/// different keys overlap instead of queueing (Valkey 8.1 prefetches batches the same
/// way). Each stage only hints the CPU: nothing is written, no result depends on it.
impl<V: EntryTail, M: Default> Dict<V, M> {
    /// Stage 1: the bucket slot of `key` in each live table. Returns the key's hash for
    /// the later stages; `None` when the table is empty.
    pub fn prefetch_slot(&self, key: &[u8]) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        for t in &self.tables[..self.live_tables()] {
            if let Some(slot) = t.buckets.get(h & t.mask()) {
                prefetch(slot);
            }
        }
        Some(h)
    }

    /// Stage 2: the first entry of each chain `hash` falls in.
    pub fn prefetch_entry(&self, hash: usize) {
        for t in &self.tables[..self.live_tables()] {
            if let Some(Some(e)) = t.buckets.get(hash & t.mask()) {
                prefetch(e.as_ptr());
            }
        }
    }

    /// Stage 3: the key bytes of those first entries. The key sits right after the
    /// entry's header (its address needs no load), often on the line stage 2 asked for.
    pub fn prefetch_key(&self, hash: usize) {
        for t in &self.tables[..self.live_tables()] {
            if let Some(Some(e)) = t.buckets.get(hash & t.mask()) {
                prefetch(e.key_addr());
            }
        }
    }
}

/// Asks the CPU to start loading the cache line at `p` into L1, without waiting for it.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and never reads into a register,
    // whatever the address (and every address passed here is a live reference anyway).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Position of `key` in a chain, if present.
fn chain_position<V: EntryTail, M>(chain: &Chain<V, M>, key: &[u8]) -> Option<usize> {
    chain_iter(chain).position(|e| e.key() == key)
}

/// A per-process hash seed, so bucket layout is not predictable from outside (HashDoS).
fn seed() -> u64 {
    use std::sync::OnceLock;
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let addr = &t as *const u64 as u64;
        t ^ addr.rotate_left(32) ^ u64::from(std::process::id())
    })
}

/// The entries of a [`Dict`], read-only.
struct Entries<'a, V: EntryTail, M> {
    dict: &'a Dict<V, M>,
    table: usize,
    bucket: usize,
    cur: Option<&'a EntryBox<V, M>>,
}

/// Read-only iterator over a [`Dict`] of [`Plain`] values.
pub struct Iter<'a, V: EntryTail, M = ()>(Entries<'a, V, M>);

/// Read-only iterator over a [`Dict`] whose values may be packed (views for those).
pub struct IterRef<'a, V: EntryTail, M = ()>(Entries<'a, V, M>);

impl<'a, V: Plain, M> Iterator for Iter<'a, V, M> {
    type Item = (&'a [u8], &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (e.key(), e.full_value()))
    }
}

impl<'a, V: EntryTail, M> Iterator for IterRef<'a, V, M> {
    type Item = (&'a [u8], VRef<'a, V>);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (e.key(), e.value()))
    }
}

impl<'a, V: EntryTail, M> Iterator for Entries<'a, V, M> {
    type Item = &'a EntryBox<V, M>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.cur {
                self.cur = e.prefix().next.as_ref();
                return Some(e);
            }
            let t = self.dict.tables.get(self.table)?;
            if self.bucket >= t.buckets.len() {
                self.table += 1;
                self.bucket = 0;
                continue;
            }
            self.cur = t.buckets[self.bucket].as_ref();
            self.bucket += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_longer_than_4_gb_is_refused_not_a_panic() {
        // Zeroed pages from calloc, never touched: 4 GiB + 1 of key costs no memory.
        let big = vec![0u8; MAX_KEY_LEN + 1];
        let mut d: Dict<u32> = Dict::new();
        d.insert(b"a", 1).expect("a short key is stored");
        assert_eq!(d.insert(&big, 2), Err(KeyTooLong));
        assert!(matches!(d.get_or_insert_with(&big, || 3), Err(KeyTooLong)));
        assert_eq!(d.len(), 1, "the table is unchanged");
        assert_eq!(d.get(b"a"), Some(&1));
        assert!(KeyTooLong::check(&big[..MAX_KEY_LEN]).is_ok(), "exactly 4 GiB - 1 fits");
    }

    use super::*;
    use std::collections::HashSet;

    fn key(i: u32) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    #[test]
    fn prefetch_stages_hash_as_lookups_do_and_cover_a_running_rehash() {
        let mut d: Dict<u32> = Dict::new();
        assert_eq!(d.prefetch_slot(b"missing"), None, "an empty table has nothing to load");
        for i in 0..1000 {
            d.insert(&key(i), i).expect("a short key is stored");
        }
        // The 1025th key starts a growth that takes many more writes to finish.
        for i in 1000..1025 {
            d.insert(&key(i), i).expect("a short key is stored");
        }
        assert!(d.rehash_idx.is_some(), "both tables are live");
        let h = d.prefetch_slot(&key(7)).expect("a non-empty table");
        assert_eq!(h, d.hash(key(7).as_slice()), "the stages must look where a lookup looks");
        d.prefetch_entry(h);
        d.prefetch_key(h);
        d.prefetch_entry(usize::MAX);
        d.prefetch_key(usize::MAX);
        assert_eq!(d.get(key(7).as_slice()), Some(&7), "hints change nothing");
    }

    #[test]
    fn a_growth_held_back_by_a_child_starts_from_the_cron_and_stats_show_it() {
        let mut d: Dict<u32> = Dict::new();
        assert_eq!(d.stats(false), "");
        for i in 0..4097 {
            if i == 4095 {
                // A fork child appears (DEBUG HTSTATS's test: 4095 keys, BGSAVE, then 2 more).
                d.set_resize_policy(ResizePolicy::Avoid);
            }
            d.insert(&key(i), i).expect("a short key is stored");
        }
        while d.rehash(100) {}
        // Load factor just over 1: no growth while a child shares the pages.
        assert_eq!(d.stats(false), "Hash table 0 stats (main hash table):\n table size: 4096\n number of elements: 4097\n");
        d.resize_if_needed();
        assert!(!d.is_rehashing());
        d.set_resize_policy(ResizePolicy::Enable);
        d.resize_if_needed();
        assert!(d.stats(false).contains("Hash table 1 stats (rehashing target):\n table size: 8192\n"), "{}", d.stats(false));
        while d.rehash(100) {}
        let full = d.stats(true);
        assert!(full.starts_with("Hash table 0 stats (main hash table):\n table size: 8192\n number of elements: 4097\n different slots: "), "{full}");
        assert!(full.contains(" avg chain length (counted): ") && full.contains(" Chain length distribution:\n   0: "), "{full}");
        // The distribution counts every bucket once.
        let buckets: usize = full
            .lines()
            .skip_while(|l| !l.starts_with(" Chain length distribution:"))
            .skip(1)
            .filter_map(|l| l.trim().split(':').nth(1)?.split_whitespace().next()?.parse::<usize>().ok())
            .sum();
        assert_eq!(buckets, 8192);
    }

    #[test]
    fn insert_if_absent_stores_new_keys_and_leaves_present_ones_alone() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..3000 {
            assert_eq!(d.insert_if_absent(&key(i), i, ()), Ok(true));
            // A repeat, also while a growth is rehashing (the key may sit in either table).
            assert_eq!(d.insert_if_absent(&key(i), 99, ()), Ok(false));
            assert_eq!(d.insert_if_absent(&key(i / 2), 99, ()), Ok(false));
        }
        assert_eq!(d.len(), 3000);
        assert!((0..3000).all(|i| d.get(key(i).as_slice()) == Some(&i)), "no value was replaced");
        let big = vec![0u8; MAX_KEY_LEN + 1];
        assert_eq!(d.insert_if_absent(&big, 1, ()), Err(KeyTooLong));
        assert_eq!(d.len(), 3000);
    }

    #[test]
    fn insert_get_remove_through_resizes() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..10_000 {
            assert_eq!(d.insert(&key(i), i), Ok(None));
        }
        assert_eq!(d.len(), 10_000);
        for i in 0..10_000 {
            assert_eq!(d.get(key(i).as_slice()), Some(&i));
        }
        assert_eq!(d.insert(&key(7), 70), Ok(Some(7)));
        for i in 0..9_990 {
            assert_eq!(
                d.remove(key(i).as_slice()),
                Some(if i == 7 { 70 } else { i })
            );
        }
        assert_eq!(d.len(), 10);
        while d.rehash(100) {}
        assert!(d.bucket_count() <= 64, "shrunk, got {}", d.bucket_count());
        assert_eq!(d.iter().count(), 10);
    }

    #[test]
    fn scan_covers_every_element_across_growth() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..500 {
            d.insert(&key(i), i).expect("a short key is stored");
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut next_key = 500;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            // Grow the table between calls: the original 500 must still all be seen.
            if next_key < 3000 {
                for _ in 0..20 {
                    d.insert(&key(next_key), next_key).expect("a short key is stored");
                    next_key += 1;
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(&key(i)), "missed key {i}");
        }
    }

    #[test]
    fn scan_covers_every_element_across_shrink() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..4000 {
            d.insert(&key(i), i).expect("a short key is stored");
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut victim = 100;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            for _ in 0..40 {
                if victim < 4000 {
                    d.remove(key(victim).as_slice());
                    victim += 1;
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100 {
            assert!(seen.contains(&key(i)), "missed key {i}");
        }
    }

    #[test]
    fn growth_waits_for_memory_until_the_load_factor_passes_1_618() {
        let mut d: Dict<()> = Dict::new();
        for i in 0..64u64 {
            d.insert(&i.to_le_bytes(), ()).expect("a short key is stored");
        }
        while d.rehash(100) {}
        let size = d.bucket_count();
        d.set_grow_budget(0);
        for i in 64..(size as u64 * 16 / 10) {
            d.insert(&i.to_le_bytes(), ()).expect("a short key is stored");
        }
        assert_eq!(d.bucket_count(), size, "no growth at load factor <= 1.618 without budget");
        for i in (size as u64 * 16 / 10)..(size as u64 * 17 / 10) {
            d.insert(&i.to_le_bytes(), ()).expect("a short key is stored");
        }
        assert!(d.is_rehashing() || d.bucket_count() > size, "past 1.618 it grows anyway");
    }

    #[test]
    fn forbid_policy_never_starts_a_resize() {
        let mut d: Dict<u32> = Dict::new();
        d.insert(&key(0), 0).expect("a short key is stored");
        let buckets = d.bucket_count();
        d.set_resize_policy(ResizePolicy::Forbid);
        for i in 1..1000 {
            d.insert(&key(i), i).expect("a short key is stored");
        }
        assert_eq!(d.bucket_count(), buckets);
        assert_eq!(d.len(), 1000);
        d.set_resize_policy(ResizePolicy::Enable);
        d.insert(&key(1000), 1000).expect("a short key is stored");
        while d.rehash(1000) {}
        assert!(d.bucket_count() >= 1024);
        assert_eq!(d.get(key(999).as_slice()), Some(&999));
    }

    #[test]
    fn fair_random_entry_is_uniform_on_a_small_table() {
        // Ten entries in a 16-bucket table: chains of different lengths must not skew the
        // draw (chi-square with df = 9 stays far below 40, as Valkey's SRANDMEMBER test asks).
        let mut d: Dict<()> = Dict::new();
        for k in 0..10u8 {
            d.insert(&[k], ()).expect("a short key is stored");
        }
        let mut x = 7u64;
        let mut rng = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let z = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut hist = [0u32; 10];
        let draws = 10_000;
        for _ in 0..draws {
            let (k, _) = d.fair_random_entry(&mut rng).expect("non-empty");
            hist[k[0] as usize] += 1;
        }
        let expected = f64::from(draws) / 10.0;
        let chi: f64 = hist
            .iter()
            .map(|&o| (f64::from(o) - expected).powi(2) / expected)
            .sum();
        assert!(chi < 40.0, "chi-square {chi}: {hist:?}");
        let empty: Dict<()> = Dict::new();
        assert!(empty.fair_random_entry(&mut rng).is_none());
    }

    #[test]
    fn random_entry_finds_entries_while_rehashing() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..100 {
            d.insert(&key(i), i).expect("a short key is stored");
        }
        let mut x = 88172645463325252u64;
        let mut rng = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let (k, _) = d.random_entry(&mut rng).expect("non-empty");
            seen.insert(k.to_vec());
        }
        assert!(seen.len() > 80);
    }

    #[test]
    fn entries_hold_their_key_and_drop_their_value_exactly_once() {
        use std::rc::Rc;
        let live = Rc::new(());
        let mut d: Dict<Rc<()>, u32> = Dict::new();
        let empty = d.mem_usage();
        let long = vec![b'k'; 1000];
        d.insert(&long, Rc::clone(&live)).expect("a short key is stored");
        d.insert(b"", Rc::clone(&live)).expect("a short key is stored");
        for i in 0..100 {
            d.insert(&key(i), Rc::clone(&live)).expect("a short key is stored");
        }
        assert_eq!(Rc::strong_count(&live), 103);
        assert!(d.get(&long).is_some() && d.get(b"").is_some() && d.get(b"k").is_none());
        *d.meta_mut(b"").expect("present") = 5;
        assert_eq!(d.meta(b""), Some(&5));
        // Replacing a value drops the old one and keeps the entry.
        d.insert(&key(3), Rc::clone(&live)).expect("a short key is stored");
        assert_eq!(Rc::strong_count(&live), 103);
        let keys: usize = 1000 + (0..100).map(|i| key(i).len()).sum::<usize>();
        assert_eq!(d.mem_usage(), empty + d.lut_bytes() + 102 * Dict::<Rc<()>, u32>::entry_size(0) + keys);
        let before = d.mem_usage();
        assert!(d.remove(&long).is_some());
        assert_eq!(before - d.mem_usage(), Dict::<Rc<()>, u32>::entry_size(1000));
        assert_eq!(Rc::strong_count(&live), 102);
        let mut seen: Vec<Vec<u8>> = d.iter().map(|(k, _)| k.to_vec()).collect();
        seen.sort();
        let mut want: Vec<Vec<u8>> = (0..100).map(key).chain([Vec::new()]).collect();
        want.sort();
        assert_eq!(seen, want, "every key reads back byte for byte");
        drop(d);
        assert_eq!(Rc::strong_count(&live), 1, "dropping the table drops every value once");
    }

    #[test]
    fn strings_written_whole_are_packed_in_their_entry_and_leave_it_owning_their_bytes() {
        use crate::value::{StrValue, Value};
        let packed = |d: &Dict<Value, u32>, k: &[u8]| matches!(d.get_ref(k), Some(VRef::View(..)));
        let text = |i: u32, len: usize| -> Vec<u8> { format!("{i:0>len$}x").into_bytes() };
        let len_of = |i: u32| [1usize, 13, 14, 30, 44, 45, 99, 100, 200][i as usize % 9];
        let mut d: Dict<Value, u32> = Dict::new();
        for i in 0..3000u32 {
            d.insert(&key(i), Value::string(&text(i, len_of(i)))).expect("a short key is stored");
        }
        while d.rehash(100) {}
        for i in 0..3000u32 {
            let want = text(i, len_of(i));
            let Some(Value::Str(s)) = d.get_ref(key(i).as_slice()).as_deref().cloned_str() else { panic!("key {i} lost") };
            assert_eq!(s.as_bytes().as_ref(), &want[..], "key {i} reads back through growth");
            assert!(packed(&d, &key(i)), "key {i}, {} bytes: packed", want.len());
            let v = d.get_ref(key(i).as_slice()).expect("present");
            assert_eq!(v.encoding_name(), if want.len() <= 44 { "embstr" } else { "raw" }, "{} bytes", want.len());
        }
        // Integers and strings too long for 16 bits keep a value of their own.
        d.insert(b"int", Value::string(b"12345")).expect("stored");
        assert!(!packed(&d, b"int"));
        assert_eq!(d.get_ref(b"int").expect("present").encoding_name(), "int");
        let huge = vec![b'h'; 70_000];
        d.insert(b"huge", Value::string(&huge)).expect("stored");
        assert!(!packed(&d, b"huge"));
        let long_key = vec![b'k'; 70_000];
        d.insert(&long_key, Value::string(b"a short value")).expect("stored");
        assert!(!packed(&d, &long_key), "a key past 16 bits keeps the full layout");
        assert!(matches!(d.get_ref(&long_key).as_deref(), Some(Value::Str(s)) if s.as_bytes().as_ref() == b"a short value"));
        // A clone of a view owns its bytes: it outlives the entry it was read from.
        let cloned = match d.get_ref(key(7).as_slice()).as_deref() {
            Some(Value::Str(s)) => s.clone(),
            _ => panic!("key 7 lost"),
        };
        assert!(matches!(cloned, StrValue::Heap(_)));
        // A write lookup unpacks: the value owns its bytes and may grow.
        *d.meta_mut(key(7).as_slice()).expect("present") = 41;
        let Some(Value::Str(s)) = d.get_mut(key(7).as_slice()) else { panic!("key 7 lost") };
        s.make_raw().extend_from_slice(b"-more");
        assert!(!packed(&d, &key(7)));
        assert_eq!(d.meta(key(7).as_slice()), Some(&41), "the metadata survives the unpacking");
        let Some(Value::Str(s)) = d.get_ref(key(7).as_slice()).as_deref().cloned_str() else { panic!("key 7 lost") };
        assert_eq!(s.as_bytes().as_ref(), [cloned.as_bytes().as_ref(), b"-more"].concat().as_slice());
        // Replacing keeps the metadata and returns the old value with its own bytes.
        *d.meta_mut(key(2).as_slice()).expect("present") = 77;
        let old = d.insert(&key(2), Value::string(&[b'n'; 100])).expect("stored").expect("existed");
        assert!(packed(&d, &key(2)));
        assert_eq!(d.meta(key(2).as_slice()), Some(&77));
        let Value::Str(old) = old else { panic!("a string") };
        assert_eq!(old.as_bytes().as_ref(), &text(2, len_of(2))[..]);
        assert_eq!(d.set(&key(2), Value::string(b"-5"), |_| None), Ok(true), "an integer replaces a packed string");
        assert!(!packed(&d, &key(2)));
        assert_eq!(d.set(&key(2), Value::string(&[b'o'; 20]), |existed| existed.then_some(78)), Ok(true), "and the other way round");
        assert!(packed(&d, &key(2)));
        assert_eq!(d.meta(key(2).as_slice()), Some(&78), "the metadata given for an existing key");
        // A value as long as the packed one is written over it in place.
        assert_eq!(d.set(&key(2), Value::string(&[b'p'; 20]), |_| None), Ok(true));
        let old = d.insert(&key(2), Value::string(&[b'q'; 20])).expect("stored").expect("existed");
        assert!(packed(&d, &key(2)));
        assert!(matches!(&old, Value::Str(StrValue::Heap(h)) if h.as_slice() == [b'p'; 20]), "the old value owns its bytes");
        assert!(matches!(d.get_ref(key(2).as_slice()).as_deref(), Some(Value::Str(s)) if s.as_bytes().as_ref() == [b'q'; 20]));
        assert_eq!(d.meta(key(2).as_slice()), Some(&78));
        assert_eq!(d.set(b"fresh", Value::string(&[b'f'; 100]), |existed| (!existed).then_some(5)), Ok(false));
        assert_eq!(d.meta(b"fresh"), Some(&5), "the metadata given for a new key");
        assert_eq!(d.set(b"fresh", Value::string(b"1"), |_| None), Ok(true));
        assert_eq!(d.meta(b"fresh"), Some(&5), "None keeps an existing entry's metadata");
        // The table's own bytes: a packed entry's header is the 16-byte prefix.
        let full = EntryBox::<Value, u32>::alloc_size(0);
        let prefix = EntryBox::<Value, u32>::packed_size(0);
        assert_eq!((full, prefix), (32, 16));
        let before = d.mem_usage();
        assert!(d.remove(b"fresh").is_some());
        assert_eq!(before - d.mem_usage(), full + 5, "an integer's entry is a full one");
        let before = d.mem_usage();
        assert!(d.remove(key(4).as_slice()).is_some());
        assert_eq!(before - d.mem_usage(), prefix + key(4).len(), "a packed entry");
        // Removed values own their bytes.
        let removed: Vec<(u32, Value)> = (10..1500u32).filter_map(|i| Some((i, d.remove(key(i).as_slice())?))).collect();
        assert_eq!(removed.len(), 1490);
        for (i, v) in &removed {
            let Value::Str(s) = v else { panic!("a string") };
            assert_eq!(s.as_bytes().as_ref(), &text(*i, len_of(*i))[..]);
        }
        let mut seen = 0;
        let mut cursor = 0;
        loop {
            cursor = d.scan(cursor, |_, v| {
                assert!(matches!(v, Value::Str(_)));
                seen += 1;
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, d.len());
        assert_eq!(d.iter_ref().count(), d.len());
        assert_eq!(d.iter_ref().filter(|(_, v)| matches!(v, VRef::View(..))).count(), d.len() - 4, "all but int, huge, the long key and key 7");
        drop(removed);
        d.clear();
        assert!(d.is_empty());
        assert_eq!(d.mem_usage(), std::mem::size_of::<Dict<Value, u32>>());
    }

    /// A copy of a string read from a table, so the test can drop the borrow.
    trait ClonedStr {
        fn cloned_str(self) -> Option<crate::value::Value>;
    }

    impl ClonedStr for Option<&crate::value::Value> {
        fn cloned_str(self) -> Option<crate::value::Value> {
            self.map(crate::value::Value::duplicate)
        }
    }

    #[test]
    fn a_size_hint_sizes_an_empty_table_once() {
        let mut d: Dict<u32> = Dict::new();
        d.reserve_empty(1000);
        assert_eq!(d.bucket_count(), 1024);
        for i in 0..1000 {
            d.insert(&key(i), i).expect("a short key is stored");
        }
        assert!(!d.is_rehashing(), "no growth while the hinted entries go in");
        assert_eq!(d.bucket_count(), 1024);
        d.reserve_empty(1 << 20);
        assert_eq!(d.bucket_count(), 1024, "a table with entries keeps its size");
        let mut held: Dict<u32> = Dict::new();
        held.set_resize_policy(ResizePolicy::Avoid);
        held.reserve_empty(1000);
        assert_eq!(held.bucket_count(), 0, "not while a fork child shares the pages");
        let mut poor: Dict<u32> = Dict::new();
        poor.set_grow_budget(64);
        poor.reserve_empty(1000);
        assert_eq!(poor.bucket_count(), 0, "not past the memory budget");
        poor.reserve_empty(usize::MAX);
        assert_eq!(poor.bucket_count(), 0);
    }

    #[test]
    fn a_long_chain_drops_without_recursion() {
        // Forbid growth so that every entry lands in the 4 initial buckets.
        let mut d: Dict<u32> = Dict::new();
        d.insert(&key(0), 0).expect("a short key is stored");
        d.set_resize_policy(ResizePolicy::Forbid);
        for i in 1..20_000 {
            d.insert(&key(i), i).expect("a short key is stored");
        }
        assert_eq!(d.bucket_count(), INITIAL_SIZE);
        drop(d);
    }
}
