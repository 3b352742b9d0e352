//! MEMORY USAGE, STATS, DOCTOR, PURGE, MALLOC-STATS and HELP (Valkey `object.c`
//! `memoryCommand`). STATS and DOCTOR report [`crate::memory_stats`].
//!
//! MEMORY USAGE estimates what a key costs the way Valkey's `objectComputeSize` does:
//! the object header, the allocation of each string rounded up to the allocator's size
//! class, and for big collections the table overhead plus the average size of up to
//! SAMPLES elements (default 5, 0 = all) times the element count, plus the key's table
//! entry (Valkey 8.0's entry with the key embedded in it). It is an estimate of the same
//! shape as Valkey's (`redis-cli --memkeys` ranks keys by it), with Valkey 8.0.1's figure
//! for the same key and value where both use the same encoding, not a measurement of
//! forkv's own layout.

use forkv_keyspace::Value;

use super::{is, CmdResult, Ctx};
use crate::errors;
use crate::table::flags::*;
use crate::memory_stats::MemoryOverhead;
use crate::reply::Reply;
use crate::table::{container, spec, CommandSpec, Exec};
use crate::{Engine, Outcome};

pub const COMMANDS: &[CommandSpec] = &[container("memory", -2, 0, "server", "4.0.0", "A container for memory diagnostics commands.", SUBCOMMANDS)];

const SUBCOMMANDS: &[CommandSpec] = &[
    spec("memory|usage", -3, READONLY, (2, 2, 1), "server", "4.0.0", "O(N) where N is the number of samples.", "Estimates the memory usage of a key.", Exec::Core(usage)),
    spec("memory|stats", 2, 0, (0, 0, 0), "server", "4.0.0", "O(1)", "Returns details about memory usage.", Exec::Engine(stats)),
    spec("memory|doctor", 2, 0, (0, 0, 0), "server", "4.0.0", "O(1)", "Outputs a memory problems report.", Exec::Engine(doctor)),
    spec("memory|purge", 2, 0, (0, 0, 0), "server", "4.0.0", "Depends on how much memory is allocated, could be slow", "Asks the allocator to release memory.", Exec::Core(purge)),
    spec("memory|malloc-stats", 2, 0, (0, 0, 0), "server", "4.0.0", "Depends on how much memory is allocated, could be slow", "Returns the allocator statistics.", Exec::Core(malloc_stats)),
    spec("memory|help", 2, LOADING | STALE, (0, 0, 0), "server", "4.0.0", "O(1)", "Returns helpful text about the different subcommands.", Exec::Core(help)),
];

/// Valkey's default number of sampled elements.
const DEFAULT_SAMPLES: usize = 5;
/// `sizeof(quicklist)` and `sizeof(quicklistNode)` on 64-bit builds.
const QUICKLIST: usize = 40;
const QL_NODE: usize = 40;
/// `robj`: type, encoding, LRU, refcount, pointer.
const ROBJ: usize = 16;
/// A hash table entry (key, value, next).
const DICT_ENTRY: usize = 24;
/// The fixed part of a keyspace entry with its key embedded (Valkey 8.0's embedded
/// `dictEntry`: value pointer, next pointer, and one byte giving the key's header size).
const EMBEDDED_ENTRY: usize = 8 + 8 + 1;

/// The size class of an allocation of `n` bytes in the jemalloc Valkey builds
/// (`--with-lg-quantum=3`: every multiple of 8 up to 64, then four classes per power of
/// two: 80, 96, 112, 128, 160, ...).
pub fn size_class(n: usize) -> usize {
    if n <= 64 {
        return n.max(1).div_ceil(8) * 8;
    }
    let pow = usize::BITS - (n - 1).leading_zeros(); // 2^pow >= n
    let step = 1usize << (pow - 3);
    n.div_ceil(step) * step
}

/// The header of an sds string of `len` bytes (sds8, sds16 or sds64).
fn sds_header(len: usize) -> usize {
    match len {
        0..=255 => 3,
        256..=65535 => 5,
        _ => 9,
    }
}

/// An sds string of `len` bytes: header, bytes, terminator.
fn sds(len: usize) -> usize {
    size_class(sds_header(len) + len + 1)
}

/// The keyspace entry of a key of `len` bytes, the key embedded in it as an sds string
/// (what Valkey 8.0.1's MEMORY USAGE adds for the key: `dictEntryMemUsage`).
fn key_entry(len: usize) -> usize {
    size_class(EMBEDDED_ENTRY + sds_header(len) + len + 1)
}

/// A listpack entry of `len` bytes (encoding byte(s), data, back-length).
fn lp_entry(len: usize) -> usize {
    let enc = if len < 64 { 1 } else if len < 4096 { 2 } else { 5 };
    let total = enc + len;
    let back = if total < 128 { 1 } else if total < 16384 { 2 } else { 3 };
    total + back
}

/// A hash table with `n` entries: the bucket array (a power of two) and the entries.
fn dict(n: usize) -> usize {
    let buckets = n.max(4).next_power_of_two();
    size_class(buckets * 8) + n * DICT_ENTRY
}

/// Average of `f` over the first `samples` items, times `total`.
fn extrapolate<I: Iterator>(items: I, total: usize, samples: usize, f: impl Fn(I::Item) -> usize) -> usize {
    let (mut sum, mut seen) = (0usize, 0usize);
    for it in items.take(samples) {
        sum += f(it);
        seen += 1;
    }
    sum.checked_div(seen).map_or(0, |avg| avg * total)
}

/// The estimated bytes of a value (`objectComputeSize`).
pub fn value_size(v: &Value, samples: usize) -> usize {
    match v {
        Value::Str(s) => match s.encoding_name() {
            "int" => ROBJ,
            "embstr" => size_class(ROBJ + 3 + s.len() + 1),
            _ => ROBJ + sds(s.len()),
        },
        Value::List(l) => {
            if let Some(nodes) = l.quicklist_node_sizes() {
                // Valkey's quicklist branch: the header, then the sampled nodes (node
                // struct plus its allocation: the listpack, or for a compressed node the
                // LZF block with its 4-byte length) averaged over the node count.
                let (mut sum, mut seen, mut count) = (0usize, 0usize, 0usize);
                for (bytes, compressed) in nodes {
                    if seen < samples {
                        sum += QL_NODE + size_class(if compressed { 4 + bytes } else { bytes });
                        seen += 1;
                    }
                    count += 1;
                }
                ROBJ + QUICKLIST + (sum as f64 / seen.max(1) as f64 * count as f64) as usize
            } else {
                ROBJ + size_class(7 + extrapolate(l.iter(), l.len(), samples, |e| lp_entry(e.len())))
            }
        }
        Value::Hash(h) => {
            let n = h.len();
            if h.encoding_name() == "listpack" {
                ROBJ + size_class(7 + extrapolate(h.iter(), n, samples, |(f, v)| lp_entry(f.len()) + lp_entry(v.len())))
            } else {
                ROBJ + dict(n) + extrapolate(h.iter(), n, samples, |(f, v)| sds(f.len()) + sds(v.len()))
            }
        }
        Value::Set(s) => {
            let n = s.len();
            if let Some(bytes) = s.intset_valkey_bytes() {
                // Valkey's intset: int16, int32 or int64 slots after an 8-byte header.
                return ROBJ + size_class(bytes);
            }
            match s.encoding_name() {
                "listpack" => ROBJ + size_class(7 + extrapolate(s.iter(), n, samples, |m| lp_entry(m.len()))),
                _ => ROBJ + dict(n) + extrapolate(s.iter(), n, samples, |m| sds(m.len())),
            }
        }
        Value::Stream(st) => {
            // A radix tree of listpack nodes: sampled node sizes (entry IDs as two
            // integers, values, own field names) times the node count, plus a rough
            // constant per consumer group.
            let node = |(_, n): (_, &forkv_keyspace::types::stream::Node)| {
                let master: usize = n.master_fields.iter().map(|f| lp_entry(f.len())).sum();
                let entries: usize = n
                    .entries
                    .iter()
                    .map(|e| {
                        let own: usize = e.fields.iter().flatten().map(|f| lp_entry(f.len())).sum();
                        4 + own + e.values.iter().map(|v| lp_entry(v.len())).sum::<usize>()
                    })
                    .sum();
                size_class(7 + master + entries) + 48
            };
            ROBJ + 64 + extrapolate(st.nodes(), st.node_count(), samples, node) + st.groups.len() * 128
        }
        Value::ZSet(z) => {
            let n = z.len();
            if z.encoding_name() == "listpack" {
                ROBJ + size_class(7 + extrapolate(z.iter(), n, samples, |(m, _)| lp_entry(m.len()) + 9))
            } else {
                // dict + skiplist header + one node per member (score, backward, level 1.33).
                ROBJ + dict(n) + 40 + extrapolate(z.iter(), n, samples, |(m, _)| sds(m.len()) + size_class(8 + 8 + 8 + 2 * 16))
            }
        }
    }
}

fn usage(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut samples = DEFAULT_SAMPLES;
    let mut j = 3;
    while j < argv.len() {
        if is(argv[j], "samples") && j + 1 < argv.len() {
            let n = super::parse_i64(argv[j + 1])?;
            if n < 0 {
                return Err(errors::SYNTAX.into());
            }
            samples = if n == 0 { usize::MAX } else { usize::try_from(n).unwrap_or(usize::MAX) };
            j += 2;
        } else {
            return Err(errors::SYNTAX.into());
        }
    }
    let db = ctx.db();
    let key = argv[2];
    // As Valkey's dbFind: no expiry, no hit or miss counted.
    let Some(v) = ctx.ks.peek(db, key) else {
        ctx.reply.null();
        return Ok(());
    };
    let v = &*v;
    let total = value_size(v, samples) + key_entry(key.len());
    ctx.reply.int(total as i64);
    Ok(())
}

fn purge(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    crate::allocator::purge();
    ctx.reply.ok();
    Ok(())
}

fn malloc_stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    match crate::allocator::stats() {
        Some(text) => ctx.reply.bulk(text.as_bytes()),
        // Valkey's reply when it is built on libc malloc.
        None => ctx.reply.bulk(b"Stats not supported for the current allocator"),
    }
    Ok(())
}

/// Replies through the calling client's protocol.
fn reply_to(e: &mut Engine, id: u64, f: impl FnOnce(&mut Reply<'_>)) -> Outcome {
    let proto = e.clients.get(&id).map_or(2, |c| c.proto);
    f(&mut Reply::new(&mut e.out, proto));
    Outcome::Done
}

/// MEMORY STATS: Valkey 8's fields in Valkey's order; ratios as doubles of Valkey's
/// single-precision values.
fn stats(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let m = MemoryOverhead::collect(e, e.server_memory());
    let int = |r: &mut Reply<'_>, name: &[u8], v: i64| {
        r.bulk(name);
        r.int(v);
    };
    let dbl = |r: &mut Reply<'_>, name: &[u8], v: f32| {
        r.bulk(name);
        r.double(f64::from(v));
    };
    let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    reply_to(e, id, |r| {
        r.map(31 + m.dbs.len());
        int(r, b"peak.allocated", n(m.peak_allocated));
        int(r, b"total.allocated", n(m.total_allocated));
        int(r, b"startup.allocated", n(m.startup_allocated));
        int(r, b"replication.backlog", n(m.repl_backlog));
        int(r, b"clients.slaves", n(m.clients_replicas));
        int(r, b"clients.normal", n(m.clients_normal));
        int(r, b"cluster.links", 0);
        int(r, b"aof.buffer", n(m.aof_buffer));
        int(r, b"lua.caches", n(m.lua_caches));
        int(r, b"functions.caches", 0);
        for d in &m.dbs {
            r.bulk(format!("db.{}", d.db).as_bytes());
            r.map(2);
            int(r, b"overhead.hashtable.main", n(d.main));
            int(r, b"overhead.hashtable.expires", n(d.expires));
        }
        int(r, b"overhead.db.hashtable.lut", n(m.lut));
        int(r, b"overhead.db.hashtable.rehashing", n(m.rehashing));
        int(r, b"overhead.total", n(m.overhead_total));
        int(r, b"db.dict.rehashing.count", n(m.rehashing_count));
        int(r, b"keys.count", n(m.keys));
        int(r, b"keys.bytes-per-key", n(m.bytes_per_key));
        int(r, b"dataset.bytes", n(m.dataset));
        dbl(r, b"dataset.percentage", m.dataset_perc);
        dbl(r, b"peak.percentage", m.peak_perc);
        int(r, b"allocator.allocated", n(m.allocator_allocated));
        int(r, b"allocator.active", n(m.allocator_active));
        int(r, b"allocator.resident", n(m.allocator_resident));
        int(r, b"allocator.muzzy", n(m.allocator_muzzy));
        dbl(r, b"allocator-fragmentation.ratio", m.allocator_frag());
        int(r, b"allocator-fragmentation.bytes", m.allocator_frag_bytes());
        dbl(r, b"allocator-rss.ratio", m.allocator_rss());
        int(r, b"allocator-rss.bytes", m.allocator_rss_bytes());
        dbl(r, b"rss-overhead.ratio", m.rss_extra());
        int(r, b"rss-overhead.bytes", m.rss_extra_bytes());
        dbl(r, b"fragmentation", m.total_frag());
        int(r, b"fragmentation.bytes", m.total_frag_bytes());
    })
}

/// MEMORY DOCTOR: Valkey's report, as verbatim text.
fn doctor(e: &mut Engine, id: u64, _argv: &[&[u8]]) -> Outcome {
    let report = MemoryOverhead::collect(e, e.server_memory()).doctor_report();
    reply_to(e, id, |r| r.verbatim(report.as_bytes(), "txt"))
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.reply.help(
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_follow_jemalloc() {
        assert_eq!(size_class(0), 8);
        assert_eq!(size_class(1), 8);
        assert_eq!(size_class(17), 24);
        assert_eq!(size_class(41), 48);
        assert_eq!(size_class(65), 80);
        assert_eq!(size_class(129), 160);
        assert_eq!(size_class(1025), 1280);
    }

    #[test]
    fn strings_cost_like_valkey() {
        assert_eq!(value_size(&Value::string(b"12345"), 5), ROBJ);
        assert_eq!(value_size(&Value::string(b"bar"), 5), 24);
        let big = vec![b'x'; 1000];
        assert_eq!(value_size(&Value::string(&big), 5), ROBJ + 1024);
    }

    #[test]
    fn key_entries_cost_like_valkey_8_0_1() {
        // valkey-server 8.0.1, `SET <n times k> 1` then MEMORY USAGE: the int value is
        // its 16-byte object, the rest is the entry with the key embedded.
        for (len, usage) in [(1, 40), (3, 40), (4, 48), (11, 48), (12, 56), (20, 64), (28, 72), (40, 80), (48, 96), (60, 112), (100, 144), (200, 240), (300, 400)] {
            assert_eq!(ROBJ + key_entry(len), usage, "key of {len} bytes");
        }
    }
}
