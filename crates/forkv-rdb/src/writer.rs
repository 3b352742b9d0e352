//! Writing a [`Keyspace`] as an RDB file, and single values for DUMP.
//!
//! The file's RDB version picks the forms values are written in ([`value_type_for`]): at
//! 10 (the default) and 11 a value is written as Valkey 8 writes it (quicklist-2 lists
//! whose nodes are listpacks, listpack hashes and sorted sets, intsets; listpack sets
//! and type-21 streams only at 11), so DUMP payloads and DEBUG OBJECT `serializedlength`
//! are Valkey's bytes; at 9 only the plain types, which every loader since Redis 4
//! reads. The compact blobs are rebuilt in Valkey's encoding by [`crate::lpbuild`]
//! (forkv's in-memory listpack frames entries its own way). Strings get the same treatment Valkey's
//! `rdbSaveRawString` gives them: canonical integers that fit 32 bits become integer
//! encodings, strings over 20 bytes are LZF-compressed when that saves at least 4 bytes.
//!
//! The writer runs in a fork()ed child of a multi-threaded process: it takes no locks,
//! touches nothing but `&Keyspace` and its own buffers, never uses std's stdout/stderr,
//! and allocates its buffers once (output buffer, LZF hash table, one scratch vector
//! that grows to the largest compressed string) rather than per key or per byte.

use std::io::{self, Write};

use std::borrow::Cow;

use forkv_keyspace::num::{d2string, DOUBLE_MAX_LEN};
use forkv_keyspace::types::listpack::Listpack;
use forkv_keyspace::{Keyspace, ListValue, StrValue, Value};

use crate::consts::*;
use crate::len::{encode_int, parse_canonical_i64};
use crate::lpbuild::{intset_blob, LpBuilder};
use crate::lzf::Compressor;
use crate::sink::{Sink, FILE_BUF_SIZE};

/// How to write a file.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// RDB version in the header, which also picks the value forms (see
    /// [`value_type_for`]): 9 (only plain types, readable by Redis >= 5.0 and every
    /// Valkey), 10 (default: Redis 7.0's forms, readable by Redis >= 7.0 and every Valkey)
    /// or 11 (Valkey 8's forms, readable by Redis >= 7.2 and every Valkey).
    pub version: u32,
    /// LZF-compress strings longer than 20 bytes when it helps (`rdbcompression`).
    pub compression: bool,
    /// Write a CRC-64 trailer; when false the trailer is 8 zero bytes (`rdbchecksum`).
    pub checksum: bool,
    /// The `aof-base` AUX field: true when this file is the base of a multi-part AOF.
    pub aof_base: bool,
    /// Value of the `redis-ver` AUX field.
    ///
    /// Valkey 8 writes its own version under `valkey-ver` and reports `redis_version:7.2.4`
    /// in INFO for compatibility: 7.2.4 is the last open-source Redis whose format (RDB 11)
    /// Valkey shares. Loaders only log this field; tools such as redis-check-rdb and
    /// rdb parsers print it. We write `7.2.4` the same way, and our own version under
    /// `forkv-ver` (see [`WriteOptions::extra_aux`]).
    pub redis_ver: String,
    /// `ctime` AUX field (Unix seconds); `None` reads the clock.
    pub ctime: Option<i64>,
    /// `used-mem` AUX field (bytes).
    pub used_mem: u64,
    /// More AUX fields, written after the standard ones, in order.
    pub extra_aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// The code of each function library (`FUNCTION LOAD`), written before the keys as
    /// `RDB_OPCODE_FUNCTION2` records, as Valkey does; a file with libraries is at least
    /// version 10 (the first that has the opcode).
    pub functions: Vec<Vec<u8>>,
    /// Leave the keys out: the file holds the header, the AUX fields and the libraries
    /// (a replica's `REPLCONF rdb-filter-only`, as Valkey's `REPLICA_REQ_RDB_EXCLUDE_DATA`).
    pub exclude_data: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            version: RDB_VERSION_WRITE,
            compression: true,
            checksum: true,
            aof_base: false,
            redis_ver: "7.2.4".to_string(),
            ctime: None,
            used_mem: 0,
            extra_aux: vec![(
                b"forkv-ver".to_vec(),
                env!("CARGO_PKG_VERSION").as_bytes().to_vec(),
            )],
            functions: Vec::new(),
            exclude_data: false,
        }
    }
}

/// Progress reported to the hook after every key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveProgress {
    /// Keys written so far.
    pub keys_done: u64,
    /// Bytes produced so far (some may still be in the writer's buffer).
    pub bytes_written: u64,
}

/// What a successful write produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    /// Keys written.
    pub keys_written: u64,
    /// Total file size.
    pub bytes_written: u64,
    /// The CRC-64 trailer (0 when checksums are off).
    pub checksum: u64,
}

/// Writes `ks` as an RDB file to `out`.
///
/// `hook` runs after every key (the fork child reports progress through it and applies
/// `rdb-key-save-delay`); an error from it stops the write and is returned. The output
/// is flushed at the end; the caller fsyncs and renames.
pub fn write_rdb<W: Write>(
    out: W,
    ks: &Keyspace,
    opts: &WriteOptions,
    hook: &mut dyn FnMut(SaveProgress) -> io::Result<()>,
) -> io::Result<WriteStats> {
    if !(RDB_VERSION_DEFAULT..=RDB_VERSION_MAX_REDIS).contains(&opts.version) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "RDB version {} cannot be written (9, 10 or 11)",
                opts.version
            ),
        ));
    }
    let mut w = ValueWriter::new(
        Sink::new(out, opts.checksum, FILE_BUF_SIZE),
        opts.compression,
    );
    w.packed_threshold = ks.encoding_limits().list_packed_threshold;

    // Streams need version 10 (type 19): raise the header when the data holds one.
    let dbs = if opts.exclude_data { 0 } else { ks.db_count() };
    let has_streams = (0..dbs).any(|i| ks.db(i).keys.iter_ref().any(|(_, v)| matches!(*v, Value::Stream(_))));
    // So do function libraries (RDB_OPCODE_FUNCTION2).
    let version = if has_streams || !opts.functions.is_empty() { opts.version.max(10) } else { opts.version };
    let mut magic = *b"REDIS0000";
    let mut v = version;
    for slot in magic[5..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    w.sink.bytes(&magic)?;

    w.aux(b"redis-ver", opts.redis_ver.as_bytes())?;
    w.aux_int(b"redis-bits", i64::from(usize::BITS))?;
    w.aux_int(
        b"ctime",
        opts.ctime.unwrap_or_else(|| crate::reader::now_ms() / 1000),
    )?;
    w.aux_int(
        b"used-mem",
        i64::try_from(opts.used_mem).unwrap_or(i64::MAX),
    )?;
    w.aux_int(b"aof-base", i64::from(opts.aof_base))?;
    for (k, v) in &opts.extra_aux {
        w.aux(k, v)?;
    }
    for code in &opts.functions {
        w.sink.byte(RDB_OPCODE_FUNCTION2)?;
        w.raw_string(code)?;
    }

    let mut keys_done = 0u64;
    let policy = ks.eviction_policy();
    for index in 0..dbs {
        let db = ks.db(index);
        if db.keys.is_empty() {
            continue;
        }
        w.sink.byte(RDB_OPCODE_SELECTDB)?;
        w.sink.len(index as u64)?;
        w.sink.byte(RDB_OPCODE_RESIZEDB)?;
        w.sink.len(db.keys.len() as u64)?;
        w.sink.len(db.expires.len() as u64)?;
        let has_expires = !db.expires.is_empty();
        for (key, value) in db.keys.iter_ref() {
            if has_expires {
                if let Some(at) = db.expires.get(key) {
                    w.sink.byte(RDB_OPCODE_EXPIRETIME_MS)?;
                    w.sink.bytes(&at.to_le_bytes())?;
                }
            }
            // Eviction data, as Valkey writes it: idle seconds under an LRU policy, the
            // decayed access counter under an LFU one.
            if policy.is_lru() {
                if let Some(idle) = ks.idle_seconds(index, key) {
                    w.sink.byte(RDB_OPCODE_IDLE)?;
                    w.sink.len(idle)?;
                }
            } else if policy.is_lfu() {
                if let Some(freq) = ks.frequency(index, key) {
                    w.sink.byte(RDB_OPCODE_FREQ)?;
                    w.sink.byte(freq)?;
                }
            }
            let t = value_type_for(&value, version);
            w.sink.byte(t)?;
            w.raw_string(key)?;
            w.value(&value, t)?;
            keys_done += 1;
            hook(SaveProgress {
                keys_done,
                bytes_written: w.sink.position(),
            })?;
        }
    }
    w.sink.byte(RDB_OPCODE_EOF)?;
    let checksum = w.sink.crc()?;
    let bytes_written = w.sink.finish(&checksum.to_le_bytes())?;
    Ok(WriteStats {
        keys_written: keys_done,
        bytes_written,
        checksum,
    })
}

/// The RDB type byte this crate writes for `v` in a file (or DUMP payload) of RDB
/// `version`.
///
/// - 9: only the plain types (0 string, 1 list, 2 set, 4 hash, 5 zset), which every
///   loader since Redis 4 reads (streams need 10: the writer raises such files).
/// - 10: the forms Redis 7.0 writes: lists as quicklist-2 (18), small hashes and sorted
///   sets as listpacks (16, 17), integer sets as intsets (11), streams as 19.
/// - 11: Valkey 8's forms: also small sets as listpacks (20) and streams as 21.
///
/// At 10 and 11 a value is stored in the same form Valkey 8 stores it, so its bytes
/// (after the type byte) are Valkey's.
pub fn value_type_for(v: &Value, version: u32) -> u8 {
    let compact = version >= 10;
    match v {
        Value::Stream(_) => crate::stream::stream_type_for(version),
        Value::Str(_) => RDB_TYPE_STRING,
        Value::List(_) if compact => RDB_TYPE_LIST_QUICKLIST_2,
        Value::List(_) => RDB_TYPE_LIST,
        Value::Set(s) if compact && s.encoding_name() == "intset" => RDB_TYPE_SET_INTSET,
        Value::Set(s) if version >= 11 && s.listpack().is_some() => RDB_TYPE_SET_LISTPACK,
        Value::Set(_) => RDB_TYPE_SET,
        Value::Hash(h) if compact && h.listpack().is_some() => RDB_TYPE_HASH_LISTPACK,
        Value::Hash(_) => RDB_TYPE_HASH,
        Value::ZSet(z) if compact && z.listpack().is_some() => RDB_TYPE_ZSET_LISTPACK,
        Value::ZSet(_) => RDB_TYPE_ZSET_2,
    }
}

/// The lowest RDB version that can hold `v`: 10 for streams (type 19), else 9.
pub fn min_version_for(v: &Value) -> u32 {
    match v {
        Value::Stream(_) => 10,
        _ => RDB_VERSION_DEFAULT,
    }
}

/// The RDB type byte this crate writes for `v` by default (as in a version 10 file).
pub fn value_type(v: &Value) -> u8 {
    value_type_for(v, 10)
}

/// Writes the serialized body of `v` (no type byte, no key) to `out`, as it appears in an
/// RDB file of version 10 after the key and in a DUMP payload after the type byte.
pub fn write_value<W: Write>(out: W, v: &Value, compression: bool) -> io::Result<()> {
    let mut w = ValueWriter::new(Sink::new(out, false, 4096), compression);
    w.value(v, value_type(v))?;
    w.sink.finish(&[])?;
    Ok(())
}

/// Length of `v` as Valkey 8 serializes it (`rdbSavedObjectLen`: the body of an RDB 11
/// record, without type byte and key; DEBUG OBJECT `serializedlength`), LZF on as `compression` says.
/// `packed_threshold` tells which list elements sit in plain quicklist nodes.
pub fn serialized_length(v: &Value, packed_threshold: usize, compression: bool) -> usize {
    let mut out = Vec::new();
    let mut w = ValueWriter::new(Sink::new(&mut out, false, 1024), compression);
    w.packed_threshold = packed_threshold;
    // Writing into a Vec cannot fail.
    let _ = w.value(v, value_type_for(v, RDB_VERSION_MAX_REDIS)).and_then(|()| w.sink.finish(&[]));
    out.len()
}

/// Serializes values, owning the reusable LZF state.
pub(crate) struct ValueWriter<W: Write> {
    pub(crate) sink: Sink<W>,
    compression: bool,
    /// Created on the first string long enough to compress.
    lzf: Option<Compressor>,
    lzf_out: Vec<u8>,
    /// List elements at least this long sit alone in a plain quicklist node (Valkey's
    /// `packed_threshold`, DEBUG QUICKLIST-PACKED-THRESHOLD).
    pub(crate) packed_threshold: usize,
}

impl<W: Write> ValueWriter<W> {
    pub(crate) fn new(sink: Sink<W>, compression: bool) -> Self {
        ValueWriter {
            sink,
            compression,
            lzf: None,
            lzf_out: Vec::new(),
            packed_threshold: forkv_keyspace::types::DEFAULT_PACKED_THRESHOLD,
        }
    }

    fn aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.sink.byte(RDB_OPCODE_AUX)?;
        self.raw_string(key)?;
        self.raw_string(value)
    }

    fn aux_int(&mut self, key: &[u8], value: i64) -> io::Result<()> {
        self.sink.byte(RDB_OPCODE_AUX)?;
        self.raw_string(key)?;
        self.sink.int_string(value)
    }

    /// A string as Valkey's `rdbSaveRawString` stores it.
    pub(crate) fn raw_string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = parse_canonical_i64(s) {
                let mut b = [0u8; 5];
                if let Some(n) = encode_int(v, &mut b) {
                    return self.sink.bytes(&b[..n]);
                }
            }
        }
        if self.compression && s.len() >= LZF_MIN_INPUT {
            let lzf = self.lzf.get_or_insert_with(Compressor::new);
            // At least four bytes must be saved, as in `rdbSaveLzfStringObject`.
            if lzf.compress(s, &mut self.lzf_out, s.len() - 4) && !self.lzf_out.is_empty() {
                self.sink.byte((RDB_ENCVAL << 6) | RDB_ENC_LZF)?;
                self.sink.len(self.lzf_out.len() as u64)?;
                self.sink.len(s.len() as u64)?;
                self.sink.bytes(&self.lzf_out)?;
                if self.lzf_out.capacity() > 1 << 20 {
                    // Do not keep a huge buffer for the rest of the save.
                    self.lzf_out = Vec::new();
                }
                return Ok(());
            }
        }
        self.sink.len(s.len() as u64)?;
        self.sink.bytes(s)
    }

    fn str_value(&mut self, s: &StrValue) -> io::Result<()> {
        match s {
            StrValue::Int(v) => self.sink.int_string(*v),
            other => self.raw_string(&other.as_bytes()),
        }
    }

    /// The body of a value of RDB type `t` (from [`value_type_for`]).
    pub(crate) fn value(&mut self, v: &Value, t: u8) -> io::Result<()> {
        match v {
            Value::Stream(s) => crate::stream::write_stream(self, s, t),
            Value::Str(s) => self.str_value(s),
            Value::List(l) if t == RDB_TYPE_LIST_QUICKLIST_2 => self.quicklist(l),
            Value::List(l) => {
                self.sink.len(l.len() as u64)?;
                for item in l.iter() {
                    self.raw_string(&item)?;
                }
                Ok(())
            }
            Value::Set(set) if t == RDB_TYPE_SET_INTSET => {
                self.raw_string(&intset_blob(set.iter(), set.intset_width().unwrap_or(2)))
            }
            Value::Set(set) if t == RDB_TYPE_SET_LISTPACK => {
                let mut lp = LpBuilder::new();
                set.iter().for_each(|m| lp.string(m));
                self.raw_string(&lp.finish())
            }
            Value::Set(set) => {
                self.sink.len(set.len() as u64)?;
                for member in set.iter() {
                    self.raw_string(member)?;
                }
                Ok(())
            }
            Value::Hash(h) if t == RDB_TYPE_HASH_LISTPACK => {
                let mut lp = LpBuilder::new();
                for (field, value) in h.iter() {
                    lp.string(field);
                    lp.string(value);
                }
                self.raw_string(&lp.finish())
            }
            Value::Hash(h) => {
                self.sink.len(h.len() as u64)?;
                for (field, value) in h.iter() {
                    self.raw_string(field)?;
                    self.raw_string(value)?;
                }
                Ok(())
            }
            Value::ZSet(z) if t == RDB_TYPE_ZSET_LISTPACK => {
                // Member then score, ascending; the score as `zzlInsertAt` stores it
                // (`d2string` text, which the listpack keeps as an integer when it is one).
                let mut lp = LpBuilder::new();
                let mut buf = [0u8; DOUBLE_MAX_LEN];
                for (member, score) in z.iter() {
                    lp.string(member);
                    let n = d2string(score, &mut buf);
                    lp.string(&buf[..n]);
                }
                self.raw_string(&lp.finish())
            }
            Value::ZSet(z) => {
                // Descending, as Valkey writes a skiplist (tail to head, so that its own
                // loader inserts at the head in O(1)); loaders accept any order.
                self.sink.len(z.len() as u64)?;
                for (member, score) in z.iter_from(z.len().saturating_sub(1), true) {
                    self.raw_string(member)?;
                    self.sink.bytes(&score.to_le_bytes())?;
                }
                Ok(())
            }
        }
    }

    /// A list as RDB_TYPE_LIST_QUICKLIST_2, the way Valkey's `rdbSaveObject` writes it:
    /// the node count, then per node its container (PLAIN for a node holding one element
    /// of at least `packed_threshold` bytes, else PACKED) and its bytes (the element, or
    /// the node's listpack in Valkey's encoding). A listpack-encoded list is one node.
    ///
    /// Valkey writes a node that its compress depth keeps LZF-compressed as that LZF blob
    /// even with `rdbcompression no`; such a node is compressed here by Valkey's rule
    /// (`__quicklistCompressNode`). With compression on, the string writer produces the
    /// same bytes for it.
    fn quicklist(&mut self, l: &ListValue) -> io::Result<()> {
        let (nodes, depth): (Vec<Cow<'_, Listpack>>, usize) = match (l.quicklist_nodes(), l.quicklist_stats()) {
            (Some(nodes), Some((_, _, depth))) => (nodes.into_iter().map(|n| n.lp).collect(), depth),
            _ => (l.listpack().map(Cow::Borrowed).into_iter().collect(), 0),
        };
        self.sink.len(nodes.len() as u64)?;
        let count = nodes.len();
        for (i, node) in nodes.iter().enumerate() {
            let interior = depth > 0 && i >= depth && i + depth < count;
            let plain = match node.first() {
                Some(p) if node.len() == 1 && node.data(p).len() >= self.packed_threshold => Some(node.data(p)),
                _ => None,
            };
            let bytes: Cow<'_, [u8]> = match plain {
                Some(element) => {
                    self.sink.len(QUICKLIST_NODE_CONTAINER_PLAIN)?;
                    Cow::Borrowed(element)
                }
                None => {
                    self.sink.len(QUICKLIST_NODE_CONTAINER_PACKED)?;
                    let mut lp = LpBuilder::new();
                    node.iter().for_each(|e| lp.string(e));
                    Cow::Owned(lp.finish())
                }
            };
            if interior && !self.compression {
                self.node_blob(&bytes)?;
            } else {
                self.raw_string(&bytes)?;
            }
        }
        Ok(())
    }

    /// An interior quicklist node with `rdbcompression no`: LZF when Valkey's node
    /// compression would keep it compressed (at least 48 bytes, saving more than 8),
    /// else a plain string.
    fn node_blob(&mut self, raw: &[u8]) -> io::Result<()> {
        const MIN_COMPRESS_BYTES: usize = 48;
        const MIN_COMPRESS_IMPROVE: usize = 8;
        if raw.len() >= MIN_COMPRESS_BYTES {
            let lzf = self.lzf.get_or_insert_with(Compressor::new);
            if lzf.compress(raw, &mut self.lzf_out, raw.len()) && !self.lzf_out.is_empty() && self.lzf_out.len() + MIN_COMPRESS_IMPROVE < raw.len() {
                self.sink.byte((RDB_ENCVAL << 6) | RDB_ENC_LZF)?;
                self.sink.len(self.lzf_out.len() as u64)?;
                self.sink.len(raw.len() as u64)?;
                return self.sink.bytes(&self.lzf_out);
            }
        }
        self.sink.len(raw.len() as u64)?;
        self.sink.bytes(raw)
    }
}
