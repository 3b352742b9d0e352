//! Streams in RDB files (Valkey `rdb.c`, types 15, 19 and 21).
//!
//! ```text
//! <nodes: len> (<master ID: 16-byte big-endian string> <node listpack: string>)...
//! <length: len> <last ID: len ms, len seq>
//! [19+] <first ID: len, len> <max deleted ID: len, len> <entries added: len>
//! <groups: len> (<name: string> <last ID: len, len> [19+] <entries read: len (-1 as u64)>
//!     <PEL: len> (<ID: 16 raw bytes> <delivery time: ms LE> <delivery count: len>)...
//!     <consumers: len> (<name: string> <seen time: ms LE> [21] <active time: ms LE>
//!         <PEL: len> (<ID: 16 raw bytes>)...)...)...
//! ```
//!
//! A node listpack is Valkey's: the master entry `count deleted nfields field... 0`, then
//! per entry `flags ms-delta seq-delta [nfields field value ... | value ...] lp-count`
//! (flag 1 = deleted, 2 = same fields as the master entry).

use std::io::{self, Read, Write};

use forkv_keyspace::types::stream::{Consumer, Group, Nack, NodeEntry, ENTRIES_READ_INVALID};
use forkv_keyspace::{Bytes, StreamId, StreamValue, Value};

use crate::consts::*;
use crate::encodings::{listpack, EncodingError, Item};
use crate::error::RdbError;
use crate::len::parse_canonical_i64;
use crate::lpbuild::LpBuilder;
use crate::object::read_string;
use crate::source::Source;
use crate::writer::ValueWriter;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// The stream type written in a file of RDB `version`: 21 from version 11 (Redis 7.2,
/// Valkey), else 19 (Redis 7.0; files with streams are written as version 10 at least).
pub fn stream_type_for(version: u32) -> u8 {
    if version >= 11 {
        RDB_TYPE_STREAM_LISTPACKS_3
    } else {
        RDB_TYPE_STREAM_LISTPACKS_2
    }
}

fn id_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

fn key_id(k: &[u8; 16]) -> StreamId {
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&k[..8]);
    seq.copy_from_slice(&k[8..]);
    StreamId::new(u64::from_be_bytes(ms), u64::from_be_bytes(seq))
}

/// The body of a stream value of type `t` (19 or 21).
pub(crate) fn write_stream<W: Write>(w: &mut ValueWriter<W>, s: &StreamValue, t: u8) -> io::Result<()> {
    w.sink.len(s.node_count() as u64)?;
    for (master, node) in s.nodes() {
        w.raw_string(&id_key(*master))?;
        let mut lp = LpBuilder::new();
        lp.int(node.live as i64);
        lp.int(node.deleted() as i64);
        lp.int(node.master_fields.len() as i64);
        for f in &node.master_fields {
            lp.string(f);
        }
        lp.int(0);
        for e in &node.entries {
            let same = e.fields.is_none();
            let mut flags = if same { FLAG_SAMEFIELDS } else { 0 };
            if e.deleted {
                flags |= FLAG_DELETED;
            }
            lp.int(flags);
            lp.int(e.id.ms.wrapping_sub(master.ms) as i64);
            lp.int(e.id.seq.wrapping_sub(master.seq) as i64);
            let nf = e.values.len();
            match &e.fields {
                None => e.values.iter().for_each(|v| lp.string(v)),
                Some(fields) => {
                    lp.int(nf as i64);
                    for (f, v) in fields.iter().zip(&e.values) {
                        lp.string(f);
                        lp.string(v);
                    }
                }
            }
            lp.int((nf + 3 + if same { 0 } else { nf + 1 }) as i64);
        }
        w.raw_string(&lp.finish())?;
    }
    w.sink.len(s.len())?;
    w.sink.len(s.last_id.ms)?;
    w.sink.len(s.last_id.seq)?;
    w.sink.len(s.first_id.ms)?;
    w.sink.len(s.first_id.seq)?;
    w.sink.len(s.max_deleted_id.ms)?;
    w.sink.len(s.max_deleted_id.seq)?;
    w.sink.len(s.entries_added)?;
    w.sink.len(s.groups.len() as u64)?;
    for (name, g) in &s.groups {
        w.raw_string(name)?;
        w.sink.len(g.last_id.ms)?;
        w.sink.len(g.last_id.seq)?;
        w.sink.len(g.entries_read as u64)?;
        w.sink.len(g.pel.len() as u64)?;
        for (id, n) in &g.pel {
            w.sink.bytes(&id_key(*id))?;
            w.sink.bytes(&n.delivery_time.to_le_bytes())?;
            w.sink.len(n.delivery_count)?;
        }
        w.sink.len(g.consumers.len() as u64)?;
        for (cname, c) in &g.consumers {
            w.raw_string(cname)?;
            w.sink.bytes(&c.seen_time.to_le_bytes())?;
            if t == RDB_TYPE_STREAM_LISTPACKS_3 {
                w.sink.bytes(&c.active_time.to_le_bytes())?;
            }
            w.sink.len(c.pel.len() as u64)?;
            for id in &c.pel {
                w.sink.bytes(&id_key(*id))?;
            }
        }
    }
    Ok(())
}

/// An owned listpack item.
enum Elem {
    Int(i64),
    Str(Vec<u8>),
}

impl Elem {
    fn int(&self) -> Option<i64> {
        match self {
            Elem::Int(v) => Some(*v),
            Elem::Str(s) => parse_canonical_i64(s),
        }
    }

    fn bytes(&self) -> Bytes {
        match self {
            Elem::Int(v) => v.to_string().into_bytes().into(),
            Elem::Str(s) => s.clone().into(),
        }
    }
}

/// Decodes one node listpack into `s`.
fn load_node(s: &mut StreamValue, master: StreamId, lp: &[u8]) -> Result<(), &'static str> {
    let mut items = Vec::new();
    listpack::for_each(lp, |item: Item<'_>| -> Result<(), EncodingError> {
        items.push(match item {
            Item::Int(v) => Elem::Int(v),
            Item::Str(b) => Elem::Str(b.to_vec()),
        });
        Ok(())
    })
    .map_err(|_| "Stream listpack integrity check failed")?;
    if items.is_empty() {
        return Err("Empty listpack inside stream");
    }
    let bad = "Bad stream node listpack";
    let mut it = items.iter();
    let next_int = |it: &mut std::slice::Iter<'_, Elem>| it.next().and_then(Elem::int).ok_or(bad);
    let count = next_int(&mut it)?;
    let deleted = next_int(&mut it)?;
    let nmaster = next_int(&mut it)?;
    if count < 0 || deleted < 0 || nmaster < 0 {
        return Err(bad);
    }
    let mut master_fields = Vec::new();
    for _ in 0..nmaster {
        master_fields.push(it.next().ok_or(bad)?.bytes());
    }
    if next_int(&mut it)? != 0 {
        return Err(bad);
    }
    let total = count + deleted;
    for _ in 0..total {
        let flags = next_int(&mut it)?;
        let ms = master.ms.wrapping_add(next_int(&mut it)? as u64);
        let seq = master.seq.wrapping_add(next_int(&mut it)? as u64);
        let same = flags & FLAG_SAMEFIELDS != 0;
        let (fields, values) = if same {
            let mut values = Vec::with_capacity(master_fields.len());
            for _ in 0..master_fields.len() {
                values.push(it.next().ok_or(bad)?.bytes());
            }
            (None, values)
        } else {
            let nf = next_int(&mut it)?;
            if nf < 0 {
                return Err(bad);
            }
            let mut fields = Vec::new();
            let mut values = Vec::new();
            for _ in 0..nf {
                fields.push(it.next().ok_or(bad)?.bytes());
                values.push(it.next().ok_or(bad)?.bytes());
            }
            (Some(fields), values)
        };
        // lp-count: the items of this entry before it (Valkey's streamValidateListpackIntegrity):
        // flags, ms, seq and the values, plus the field count and names when they are its own.
        let items_before = if same { master_fields.len() + 3 } else { 2 * values.len() + 4 };
        if usize::try_from(next_int(&mut it)?).ok() != Some(items_before) {
            return Err("Stream listpack integrity check failed");
        }
        s.push_loaded_entry(master, &master_fields, NodeEntry { id: StreamId::new(ms, seq), deleted: flags & FLAG_DELETED != 0, fields, values });
    }
    if it.next().is_some() {
        return Err(bad);
    }
    Ok(())
}

fn read_id<R: Read>(src: &mut Source<R>) -> Result<StreamId, RdbError> {
    Ok(StreamId::new(src.plain_length()?, src.plain_length()?))
}

fn read_ms<R: Read>(src: &mut Source<R>) -> Result<i64, RdbError> {
    Ok(i64::from_le_bytes(src.array::<8>()?))
}

/// Reads a stream of type `t` (15, 19 or 21).
pub(crate) fn read_stream<R: Read>(t: u8, src: &mut Source<R>, scratch: &mut Vec<u8>) -> Result<Option<Value>, RdbError> {
    let mut s = StreamValue::new();
    let nodes = src.plain_length()?;
    let mut node_keys = std::collections::HashSet::new();
    for _ in 0..nodes {
        let key = read_string(src, scratch)?;
        let key: [u8; 16] = key.as_slice().try_into().map_err(|_| src.corrupt("Stream node key entry is not the size of a stream ID"))?;
        if !node_keys.insert(key) {
            return Err(src.corrupt("Listpack re-added with existing key"));
        }
        let at = src.offset();
        let lp = read_string(src, scratch)?;
        load_node(&mut s, key_id(&key), &lp).map_err(|m| RdbError::corrupt(at, m))?;
    }
    s.finish_load();
    let _length = src.plain_length()?;
    s.last_id = read_id(src)?;
    if t >= RDB_TYPE_STREAM_LISTPACKS_2 {
        s.first_id = read_id(src)?;
        s.max_deleted_id = read_id(src)?;
        s.entries_added = src.plain_length()?;
    } else {
        s.first_id = s.first_live_id().unwrap_or(StreamId::MIN);
        s.entries_added = s.len();
    }
    let ngroups = src.plain_length()?;
    for _ in 0..ngroups {
        let name = read_string(src, scratch)?;
        let last_id = read_id(src)?;
        let entries_read = if t >= RDB_TYPE_STREAM_LISTPACKS_2 { src.plain_length()? as i64 } else { s.estimate_distance(last_id) };
        let mut g = Group::new(last_id, if entries_read < 0 { ENTRIES_READ_INVALID } else { entries_read });
        let npel = src.plain_length()?;
        for _ in 0..npel {
            let id = key_id(&src.array::<16>()?);
            let delivery_time = read_ms(src)?;
            let delivery_count = src.plain_length()?;
            if g.pel.insert(id, Nack { delivery_time, delivery_count, consumer: Bytes::default() }).is_some() {
                return Err(src.corrupt("Duplicated global PEL entry loading stream consumer group"));
            }
        }
        let nconsumers = src.plain_length()?;
        for _ in 0..nconsumers {
            let cname: Bytes = read_string(src, scratch)?.into();
            let seen_time = read_ms(src)?;
            let active_time = if t >= RDB_TYPE_STREAM_LISTPACKS_3 { read_ms(src)? } else { seen_time };
            let mut c = Consumer { seen_time, active_time, pel: Default::default() };
            let n = src.plain_length()?;
            for _ in 0..n {
                let id = key_id(&src.array::<16>()?);
                let Some(nack) = g.pel.get_mut(&id) else {
                    return Err(src.corrupt("Consumer entry not found in group global PEL"));
                };
                nack.consumer = cname.clone();
                c.pel.insert(id);
            }
            if g.consumers.insert(cname, c).is_some() {
                return Err(src.corrupt("Duplicate stream consumer detected."));
            }
        }
        if g.consumers.values().map(|c| c.pel.len()).sum::<usize>() != g.pel.len() {
            return Err(src.corrupt("Stream PEL entry without a consumer"));
        }
        if s.groups.insert(name.into(), g).is_some() {
            return Err(src.corrupt("Duplicated consumer group name"));
        }
    }
    Ok(Some(Value::Stream(Box::new(s))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Entries, metadata and groups as text, for comparisons.
    fn text(v: &Value) -> String {
        let Value::Stream(s) = v else { return String::from("not a stream") };
        let mut out = String::new();
        for e in s.range(StreamId::MIN, StreamId::MAX, false) {
            out.push_str(&format!("{} {:?};", e.id, e.pairs().collect::<Vec<_>>()));
        }
        out.push_str(&format!("|{} {} {} {} {}", s.len(), s.last_id, s.first_id, s.max_deleted_id, s.entries_added));
        for (name, g) in &s.groups {
            out.push_str(&format!("|{name:?} {:?}", g));
        }
        out
    }

    #[test]
    fn streams_round_trip_through_dump_payloads_of_every_type() {
        use forkv_keyspace::types::stream::Trim;
        use forkv_keyspace::StreamLimits;
        let lim = StreamLimits { node_max_bytes: 4096, node_max_entries: 7 };
        let mut s = StreamValue::new();
        for i in 1..=40u64 {
            let v = format!("{}", i * 1000);
            let pairs: Vec<&[u8]> = if i % 5 == 0 { vec![b"other", v.as_bytes(), b"x", b"007"] } else { vec![b"a", v.as_bytes()] };
            s.append(StreamId::new(i, i % 2), &pairs, lim).unwrap();
        }
        s.xdel(&[StreamId::new(2, 0), StreamId::new(40, 0)]);
        s.trim(Trim::MaxLen(35), false, 0);
        let mut g = Group::new(StreamId::new(10, 0), 9);
        g.create_consumer(b"alice", 1000);
        g.create_consumer(b"idle", 2000);
        g.assign(StreamId::new(9, 1), b"alice", 1500, 3);
        g.assign(StreamId::new(10, 0), b"alice", 1600, 1);
        if let Some(c) = g.consumers.get_mut(&b"alice"[..]) {
            c.active_time = 1700;
        }
        s.groups.insert(b"g".to_vec().into(), g);
        let v = Value::Stream(Box::new(s));
        let want = text(&v);
        for version in [10u16, 11] {
            let payload = crate::dump_payload_with(&v, version, true);
            let back = crate::parse_dump_payload(&payload).unwrap();
            let got = text(&back);
            if version == 11 {
                assert_eq!(got, want);
            } else {
                // Type 19 has no active time: it loads as the seen time.
                let want10 = want
                    .replace("active_time: 1700", "active_time: 1000")
                    .replace("seen_time: 2000, active_time: -1", "seen_time: 2000, active_time: 2000");
                assert_eq!(got, want10);
            }
        }
    }

    #[test]
    fn listpack_builder_round_trips_through_the_reader() {
        let mut lp = LpBuilder::new();
        for v in [0i64, 127, 128, -1, 4095, -4096, 30000, -30000, 1 << 22, 1 << 30, 1 << 40, i64::MIN] {
            lp.int(v);
        }
        lp.string(b"hello");
        lp.string(&[b'x'; 100]);
        lp.string(&[b'y'; 5000]);
        lp.string(b"007");
        let bytes = lp.finish();
        let mut got = Vec::new();
        listpack::for_each(&bytes, |i: Item<'_>| -> Result<(), EncodingError> {
            got.push(i.with_bytes(|b| b.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 16);
        assert_eq!(got[3], b"-1");
        assert_eq!(got[11], i64::MIN.to_string().into_bytes());
        assert_eq!(got[14], vec![b'y'; 5000]);
        assert_eq!(got[15], b"007");
    }

    /// A node listpack of one entry `a`=`1` with master ID 1-0 and the given lp-count.
    fn one_entry_node(lp_count: i64) -> Vec<u8> {
        let mut lp = LpBuilder::new();
        for v in [1, 0, 1] {
            lp.int(v);
        }
        lp.string(b"a");
        lp.int(0);
        lp.int(FLAG_SAMEFIELDS);
        lp.int(0);
        lp.int(0);
        lp.string(b"1");
        lp.int(lp_count);
        lp.finish()
    }

    /// A type-15 stream body holding `nodes` (key 1-0 each, as RDB strings under 64 bytes).
    fn stream_body(nodes: &[Vec<u8>]) -> Vec<u8> {
        let mut body = vec![nodes.len() as u8];
        for lp in nodes {
            body.push(16);
            body.extend_from_slice(&id_key(StreamId::new(1, 0)));
            assert!(lp.len() < 64);
            body.push(lp.len() as u8);
            body.extend_from_slice(lp);
        }
        body.extend_from_slice(&[1, 1, 0, 0]); // length 1, last ID 1-0, no groups
        body
    }

    /// Loads a stream body: whether a value came out, or the error message.
    fn load(body: &[u8]) -> Result<bool, String> {
        read_stream(crate::consts::RDB_TYPE_STREAM_LISTPACKS, &mut Source::new(body), &mut Vec::new())
            .map(|v| v.is_some())
            .map_err(|e| e.message())
    }

    #[test]
    fn a_node_entry_with_a_wrong_lp_count_is_refused() {
        // Same fields as the master entry: flags, ms, seq and one value come before it.
        assert_eq!(load(&stream_body(&[one_entry_node(4)])), Ok(true));
        for wrong in [0, 3, 5, 600] {
            let e = load(&stream_body(&[one_entry_node(wrong)])).unwrap_err();
            assert_eq!(e, "Stream listpack integrity check failed");
        }
    }

    #[test]
    fn two_nodes_with_the_same_key_are_refused() {
        let e = load(&stream_body(&[one_entry_node(4), one_entry_node(4)])).unwrap_err();
        assert_eq!(e, "Listpack re-added with existing key");
    }
}
