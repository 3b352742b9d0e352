//! Which keyspace event a write command raises (Valkey's `notifyKeyspaceEvent` calls in
//! the `t_*.c` files), for the commands whose event is fixed: one event, on the
//! command's first key, raised when the command changed the data. The engine raises it
//! after the handler ran (see `Engine::run`), ahead of the `del` a write that emptied a
//! collection raised. Commands with several keys or conditional events raise their own
//! from their handlers through [`crate::cmd::Ctx::notify`] and are absent here.

use forkv_keyspace::notify::{GENERIC, HASH, LIST, SET, STREAM, STRING, ZSET};

use crate::cmd::is;

/// The (class, event) a write command raises on its first key, or `None` for the
/// commands that raise their own (or none).
pub fn fixed_event(name: &str, argv: &[&[u8]]) -> Option<(u32, &'static str)> {
    Some(match name {
        "append" => (STRING, "append"),
        "incr" | "decr" | "incrby" | "decrby" => (STRING, "incrby"),
        "incrbyfloat" => (STRING, "incrbyfloat"),
        "setrange" => (STRING, "setrange"),
        "setbit" | "bitfield" => (STRING, "setbit"),
        "pfadd" | "pfmerge" => (STRING, "pfadd"),
        "persist" => (GENERIC, "persist"),
        "lpush" | "lpushx" => (LIST, "lpush"),
        "rpush" | "rpushx" => (LIST, "rpush"),
        "lset" => (LIST, "lset"),
        "linsert" => (LIST, "linsert"),
        "lrem" => (LIST, "lrem"),
        "ltrim" => (LIST, "ltrim"),
        "hset" | "hsetnx" | "hmset" => (HASH, "hset"),
        "hdel" => (HASH, "hdel"),
        "hincrby" => (HASH, "hincrby"),
        "hincrbyfloat" => (HASH, "hincrbyfloat"),
        "sadd" => (SET, "sadd"),
        "srem" => (SET, "srem"),
        "spop" => (SET, "spop"),
        "zadd" if argv.iter().skip(2).any(|a| is(a, "incr")) => (ZSET, "zincr"),
        "zadd" | "geoadd" => (ZSET, "zadd"),
        "zincrby" => (ZSET, "zincr"),
        "zrem" => (ZSET, "zrem"),
        "zremrangebyrank" => (ZSET, "zremrangebyrank"),
        "zremrangebyscore" => (ZSET, "zremrangebyscore"),
        "zremrangebylex" => (ZSET, "zremrangebylex"),
        "xtrim" => (STREAM, "xtrim"),
        "xdel" => (STREAM, "xdel"),
        "xsetid" => (STREAM, "xsetid"),
        "xgroup|create" => (STREAM, "xgroup-create"),
        "xgroup|setid" => (STREAM, "xgroup-setid"),
        "xgroup|destroy" => (STREAM, "xgroup-destroy"),
        "xgroup|createconsumer" => (STREAM, "xgroup-createconsumer"),
        "xgroup|delconsumer" => (STREAM, "xgroup-delconsumer"),
        _ => return None,
    })
}

/// Where the fixed event goes among those the command raised from `mark` on: after the
/// `new` and `expired` its lookups raised, before the `del` of an emptied collection.
pub fn fixed_event_position(events: &[forkv_keyspace::notify::KeyEvent], mark: usize) -> usize {
    let raised = events.get(mark..).unwrap_or_default();
    let trailing_dels = raised.iter().rev().take_while(|e| e.event == "del").count();
    mark + raised.len() - trailing_dels
}
